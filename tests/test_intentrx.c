/*
 * The intent receiver and its envelope, driven directly: nothing that
 * overlaps this node's pod CIDR or another accepted prefix gets in,
 * whatever order the watcher sends it in, and a message about this
 * node is checked field by field whether or not it has a pod CIDR.
 */
#include <sys/socket.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intent.h"
#include "tap.h"
#include "../src/config.h"
#include "../src/envelope.h"
#include "../src/intentrx.h"
#include "../src/log.h"

static struct msg_local
local(const char *cidr, const char *addr)
{
	struct msg_local	 l;
	struct msg_intent	 in;

	memset(&l, 0, sizeof(l));
	if (cidr != NULL) {
		in = test_intent(cidr, "0.0.0.0");
		l.family[0] = in.family;
		l.plen[0] = in.plen;
		memcpy(l.cidr[0], in.prefix, sizeof(l.cidr[0]));
	}
	if (inet_pton(AF_INET, addr, l.addr4) == 1)
		l.has4 = 1;
	else if (inet_pton(AF_INET6, addr, l.addr6) == 1)
		l.has6 = 1;
	return l;
}

/* A receiver of at most 4 intents in both families' cluster ranges. */
static void
rx_start(struct intent_rx *rx, struct kn_config *conf)
{
	char	 err[128];

	memset(conf, 0, sizeof(*conf));
	conf->max_nodes = 4;
	if (cluster_parse("100.96.0.0/12,fd00:100::/48", conf->cluster, err,
	    sizeof(err)) == -1)
		bail_out("cluster_parse: %s", err);
	if (intentrx_init(rx, conf) == -1)
		bail_out("intentrx_init");
}

/* What applied() saw: the prefixes it was called for, in order. */
static struct msg_intent	 seen[16];
static int			 nseen;

static void
applied(const struct msg_intent *in, void *arg)
{
	(void)arg;
	if (nseen < 16)
		seen[nseen++] = *in;
}

static enum intentrx_rv
deliver(struct intent_rx *rx, uint32_t type, const void *data, size_t len,
    struct msg_gen_result *res)
{
	static struct msg	 m;
	enum intentrx_rv	 rv;
	size_t			 i;

	memset(&m, 0, sizeof(m));
	m.hdr.type = type;
	m.hdr.id = 9;
	memcpy(m.buf, data, len);
	m.data = m.buf;
	m.len = len;
	memset(res, 0, sizeof(*res));
	nseen = 0;
	rv = intentrx_msg(rx, &m, res);
	for (i = 0; i < rx->nchanges; i++)
		applied(&rx->changes[i].in, NULL);
	return rv;
}

static void
test_itab_overlap(void)
{
	struct itab		*t = itab_new(8);
	struct msg_intent	 a = test_intent("100.96.1.0/24", "10.0.0.1");
	struct msg_intent	 b = test_intent("100.96.2.0/24", "10.0.0.2");
	struct msg_intent	 in;
	const struct msg_intent	*o;

	is_int(itab_put(t, &a), 0, "overlap: a /24");
	is_int(itab_put(t, &b), 0, "overlap: its neighbour /24");
	in = test_intent("100.96.1.128/25", "10.0.0.3");
	is_int(itab_put(t, &in), -2, "overlap: a /25 inside it is refused");
	o = itab_overlap(t, in.family, in.plen, in.prefix);
	ok(o != NULL && memcmp(o->node, a.node, 16) == 0,
	    "overlap: and the /24 is named");
	in = test_intent("100.96.0.0/22", "10.0.0.3");
	is_int(itab_put(t, &in), -2, "overlap: a /22 around both is refused");
	in = test_intent("100.96.2.255/32", "10.0.0.3");
	is_int(itab_put(t, &in), -2, "overlap: a /32 at the end is refused");
	in = test_intent("100.96.3.0/24", "10.0.0.3");
	is_int(itab_put(t, &in), 0, "overlap: the next /24 is not");
	in = test_intent("fd00:100:0:1::/64", "fd00::1");
	is_int(itab_put(t, &in), 0, "overlap: nor the other family's");
	ok(itab_overlap(t, a.family, a.plen, a.prefix) != NULL,
	    "overlap: the same prefix counts for the local CIDR check");
	is_int(itab_put(t, &a), 2, "overlap: the same intent is unchanged");
	is_int(itab_del(t, &a), 0, "overlap: the /24 removed");
	in = test_intent("100.96.1.128/25", "10.0.0.3");
	is_int(itab_put(t, &in), 0, "overlap: then the /25 is accepted");
	itab_free(t);
}

static uint32_t
v4(const struct msg_intent *in)
{
	return (uint32_t)in->prefix[0] << 24 | (uint32_t)in->prefix[1] << 16 |
	    (uint32_t)in->prefix[2] << 8 | in->prefix[3];
}

/* Does a held IPv4 prefix share an address with a/plen? */
static int
v4_overlap(struct msg_intent held, uint32_t a, unsigned plen)
{
	unsigned	 both = plen < held.plen ? plen : held.plen;
	uint32_t	 mask = both == 0 ? 0 : 0xffffffffu << (32 - both);

	return ((v4(&held) ^ a) & mask) == 0;
}

/* A /12 cut at random into pieces, against a plain comparison of all. */
static void
test_itab_random(void)
{
	enum { N = 3000 };
	static struct msg_intent	 held[N];
	struct itab			*t = itab_new(N);
	struct msg_intent		 in;
	unsigned			 i, j, n = 0, bad = 0, plen;
	uint32_t			 a;
	int				 want, rv;

	srandom(11);
	for (i = 0; i < 20 * N; i++) {
		plen = 12 + (unsigned)random() % 21;
		a = (0x64600000u | ((uint32_t)random() & 0x000fffffu)) &
		    (plen == 32 ? 0xffffffffu : ~(0xffffffffu >> plen));
		memset(&in, 0, sizeof(in));
		in.family = AF_INET;
		in.plen = (uint8_t)plen;
		in.prefix[0] = a >> 24;
		in.prefix[1] = a >> 16;
		in.prefix[2] = a >> 8;
		in.prefix[3] = a;
		want = 0;
		for (j = 0; j < n; j++)
			if (held[j].plen == plen &&
			    memcmp(held[j].prefix, in.prefix, 16) == 0)
				want = 2;
			else if (v4_overlap(held[j], a, plen))
				want = -2;
		if (want == 0 && n == N)
			want = -1;
		rv = itab_put(t, &in);
		if (rv != want)
			bad++;
		if (rv == 0)
			held[n++] = in;
		/* Now and then one goes, so the tree shrinks too. */
		if (n > 0 && random() % 4 == 0) {
			j = (unsigned)random() % n;
			if (itab_del(t, &held[j]) != 0)
				bad++;
			held[j] = held[--n];
		}
	}
	ok(bad == 0 && itab_count(t) == n, "overlap: %u random prefixes "
	    "against a comparison with every held one: %u disagree, %u held",
	    20 * N, bad, n);
	itab_free(t);
}

static void
test_own_pods(void)
{
	struct kn_config	 conf;
	struct intent_rx	 rx;
	struct msg_gen_result	 res;
	struct msg_local	 l = local("100.96.0.0/24", "172.20.0.10");
	struct msg_gen		 g = { 5, 0, 0 };
	struct msg_intent	 in[4];

	rx_start(&rx, &conf);

	/* Before this node is known, a peer in what will be its CIDR. */
	in[0] = test_intent("100.96.0.0/25", "172.20.0.66");
	in[1] = test_intent("100.96.1.0/24", "172.20.0.11");
	ok(deliver(&rx, MSG_INTENT_ADD, in, 2 * sizeof(in[0]), &res) ==
	    INTENTRX_BATCH && res.applied == 2 && nseen == 2,
	    "own pods: before the local node, both accepted");
	is_int(deliver(&rx, MSG_LOCAL, &l, sizeof(l), &res), INTENTRX_LOCAL,
	    "own pods: the local node is accepted");
	ok(nseen == 1 && seen[0].plen == 25 && itab_count(rx.active) == 1 &&
	    itab_get(rx.active, &in[0]) == NULL, "own pods: and withdraws the "
	    "/25 inside its CIDR, through applied");

	in[0] = test_intent("100.96.0.5/32", "172.20.0.66");
	in[1] = test_intent("100.96.0.0/24", "172.20.0.66");
	in[2] = test_intent("100.96.0.0/16", "172.20.0.66");
	in[3] = test_intent("100.96.1.128/25", "172.20.0.66");
	ok(deliver(&rx, MSG_INTENT_ADD, in, 4 * sizeof(in[0]), &res) ==
	    INTENTRX_BATCH && res.applied == 0 && res.refused == 4 &&
	    nseen == 0 && itab_count(rx.active) == 1, "own pods: inside, equal "
	    "to, around this node's CIDR or inside a peer's: all refused");
	ok(deliver(&rx, MSG_INTENT_DEL, in, 2 * sizeof(in[0]), &res) ==
	    INTENTRX_BATCH && res.refused == 2 && nseen == 0,
	    "own pods: their removals are refused too");
	ok(deliver(&rx, MSG_INTENT_DEL, &in[3], sizeof(in[0]), &res) ==
	    INTENTRX_BATCH && res.refused == 0 && nseen == 0 &&
	    itab_count(rx.active) == 1, "own pods: removing a /25 never "
	    "accepted leaves the /24 it is in, and its objects, alone");

	/* In a snapshot: the first of two overlapping ones stays. */
	deliver(&rx, MSG_SNAP_BEGIN, &g, sizeof(g), &res);
	in[0] = test_intent("100.96.2.0/24", "172.20.0.12");
	in[1] = test_intent("100.96.2.0/23", "172.20.0.13");
	in[2] = test_intent("100.96.0.5/32", "172.20.0.66");
	deliver(&rx, MSG_INTENT_ADD, in, 3 * sizeof(in[0]), &res);
	/* This node moves onto the /24 in the middle of the snapshot. */
	l = local("100.96.2.0/24", "172.20.0.10");
	deliver(&rx, MSG_LOCAL, &l, sizeof(l), &res);
	g.count = 3;
	ok(deliver(&rx, MSG_SNAP_END, &g, sizeof(g), &res) == INTENTRX_SNAPSHOT &&
	    res.applied == 0 && res.refused == 3 && itab_count(rx.active) == 0,
	    "own pods: a snapshot: the /23 refused for the /24, the /32 for "
	    "this node, the /24 withdrawn when this node took it");

	/* The IPv6 family the same way. */
	l = local("fd00:100::/64", "fd00:200::10");
	deliver(&rx, MSG_LOCAL, &l, sizeof(l), &res);
	in[0] = test_intent("fd00:100::5/128", "fd00:200::66");
	in[1] = test_intent("fd00:100::/56", "fd00:200::66");
	in[2] = test_intent("fd00:100:0:1::/64", "fd00:200::11");
	ok(deliver(&rx, MSG_INTENT_ADD, in, 3 * sizeof(in[0]), &res) ==
	    INTENTRX_BATCH && res.applied == 1 && res.refused == 2,
	    "own pods: IPv6: inside or around this node's CIDR refused");
	intentrx_free(&rx);
}

static void
test_local_fields(void)
{
	static const struct {
		const char	*cidr, *addr;
		int		 field;	/* which to spoil, below */
		int		 accepted;
	} t[] = {
		{ NULL, "127.0.0.1", 0, 0 },
		{ NULL, "100.96.5.5", 0, 0 },
		{ NULL, "224.0.0.1", 0, 0 },
		{ NULL, "fe80::1", 0, 0 },
		{ NULL, "fd00:100::9", 0, 0 },
		{ NULL, "172.20.0.10", 0, 1 },
		{ "100.96.0.0/24", "172.20.0.10", 1, 0 },
		{ "100.96.0.0/24", "172.20.0.10", 2, 0 },
		{ "100.96.0.0/24", "172.20.0.10", 3, 0 },
		{ "100.96.0.0/24", "172.20.0.10", 4, 0 },
		{ "100.96.0.0/24", "172.20.0.10", 5, 0 },
		{ "100.96.0.0/24", "172.20.0.10", 6, 0 },
		{ "100.96.0.0/24", "172.20.0.10", 0, 1 },
	};
	static const char *const what[] = { "as it is", "has4 2", "pad 1",
	    "IPv6 bytes without has6", "family 9", "two IPv4 CIDRs",
	    "CIDR bytes without a family" };
	struct kn_config	 conf;
	struct intent_rx	 rx;
	struct msg_gen_result	 res;
	struct msg_local	 l, before;
	size_t			 i;
	int			 rv;

	rx_start(&rx, &conf);
	l = local("100.96.9.0/24", "172.20.0.9");
	deliver(&rx, MSG_LOCAL, &l, sizeof(l), &res);
	before = rx.local;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		l = local(t[i].cidr, t[i].addr);
		switch (t[i].field) {
		case 1:
			l.has4 = 2;
			break;
		case 2:
			l.pad[1] = 1;
			break;
		case 3:
			l.addr6[15] = 1;
			break;
		case 4:
			l.family[0] = 9;
			break;
		case 5:
			l.family[1] = l.family[0];
			l.plen[1] = l.plen[0];
			break;
		case 6:
			l.cidr[1][0] = 100;
			break;
		}
		rv = deliver(&rx, MSG_LOCAL, &l, sizeof(l), &res);
		if (t[i].accepted)
			ok(rv == INTENTRX_LOCAL && memcmp(&rx.local, &l,
			    sizeof(l)) == 0, "local: %s via %s, %s: accepted",
			    t[i].cidr ? t[i].cidr : "no CIDR", t[i].addr,
			    what[t[i].field]);
		else
			ok(rv == INTENTRX_NONE && memcmp(&rx.local, &before,
			    sizeof(before)) == 0, "local: %s via %s, %s: "
			    "refused, the last one kept", t[i].cidr ? t[i].cidr :
			    "no CIDR", t[i].addr, what[t[i].field]);
		rx.local = before;
	}
	intentrx_free(&rx);
}

int
main(void)
{
	log_init(1, "test");
	test_itab_overlap();
	test_itab_random();
	test_own_pods();
	test_local_fields();
	return done_testing();
}
