/*
 * libFuzzer target for the intent receiver and its envelope, as the
 * executor runs them: messages as a watcher would send them go into
 * intentrx, and a fake kernel table follows what the executor would
 * program (each applied() change, and the whole table after a
 * snapshot).  After every message: nothing accepted lies outside the
 * cluster range, overlaps this node's pod CIDR or another accepted
 * prefix, the table stays within its bound, the kernel holds exactly
 * what was accepted, and the local node kept is one the envelope
 * passes.
 *
 * Input:
 *   byte 0   bits 0-1: the cluster range (see clusters[]), bits 2-4:
 *            --max-nodes - 1
 *   then     messages, each a type byte (modulo 5: LOCAL, SNAP_BEGIN,
 *            INTENT_ADD, INTENT_DEL, SNAP_END) and its body:
 *     LOCAL       a form byte; bit 0 set: a raw struct msg_local
 *                 follows, else bits 1-2 say which of the IPv4 and
 *                 IPv6 parts come, each a pod CIDR (length byte, two
 *                 offset bytes) and an address (an index byte into
 *                 nodes[])
 *     BEGIN, END  a generation byte and, for END, a count byte
 *     ADD, DEL    a count byte (1-4), then each intent: a form byte;
 *                 bit 0 set: a raw struct msg_intent, else bit 1 the
 *                 family, bit 2 host bits kept, and a length byte, two
 *                 offset bytes and an index byte into nodes[]
 *   A body cut short is filled with zeroes.
 */
#include <sys/socket.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/config.h"
#include "../../src/envelope.h"
#include "../../src/intentrx.h"
#include "../../src/log.h"
#include "fuzz.h"

#define MAX_NODES	8
#define KERNEL_MAX	(4 * MAX_NODES)	/* room to see the bound broken */

static const char *const clusters[] = {
	"100.96.0.0/12",
	"10.96.0.0/24",			/* short: overlaps come quickly */
	"fd00:100::/120",
	"10.96.0.0/24,fd00:100::/120",
};

/* Node addresses, good and bad, both families. */
static const char *const nodes[] = {
	"172.20.0.11", "172.20.0.12", "10.96.0.7", "100.96.0.9",
	"127.0.0.1", "224.0.0.1", "fd00:200::11", "fd00:100::9", "fe80::1",
	"::1", "::ffff:10.0.0.1", "0.0.0.0",
};

struct input {
	const uint8_t	*p;
	size_t		 left;
};

/* What the executor would have programmed: one entry per prefix. */
static struct msg_intent	 kernel[KERNEL_MAX];
static unsigned			 nkernel;
static struct intent_rx		 rx;
static struct kn_config		 conf;

static void
log_discard(int pri, const char *line)
{
	(void)pri;
	(void)line;
}

static uint8_t
byte(struct input *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

static void
bytes(struct input *in, void *out, size_t len)
{
	size_t	 n = len < in->left ? len : in->left;

	memset(out, 0, len);
	memcpy(out, in->p, n);
	in->p += n;
	in->left -= n;
}

static int
same_prefix(const struct msg_intent *a, const struct msg_intent *b)
{
	return a->family == b->family && a->plen == b->plen &&
	    memcmp(a->prefix, b->prefix, sizeof(a->prefix)) == 0;
}

/* Do the two share an address?  Bit by bit, unlike envelope.c. */
static int
overlap(uint8_t fa, const uint8_t *a, unsigned alen, uint8_t fb,
    const uint8_t *b, unsigned blen)
{
	unsigned	 i, n = alen < blen ? alen : blen;

	if (fa != fb)
		return 0;
	for (i = 0; i < n; i++)
		if (((a[i / 8] ^ b[i / 8]) & (0x80 >> (i % 8))) != 0)
			return 0;
	return 1;
}

static void
kernel_del(const struct msg_intent *in)
{
	unsigned	 i;

	for (i = 0; i < nkernel; i++)
		if (same_prefix(&kernel[i], in)) {
			kernel[i] = kernel[--nkernel];
			return;
		}
}

static void
kernel_put(const struct msg_intent *in)
{
	CHECK(nkernel < KERNEL_MAX);
	kernel[nkernel++] = *in;
}

/* The executor's executor_applied(), on the fake table. */
static void
applied(const struct intentrx_change *ch)
{
	kernel_del(&ch->in);
	if (ch->has_now)
		kernel_put(&ch->now);
}

/* The executor's want_rebuild() after a snapshot. */
static void
kernel_add(const struct msg_intent *in, void *arg)
{
	(void)arg;
	kernel_put(in);
}

/* A pod prefix from a length and an offset inside the cluster range. */
static void
compact_prefix(struct input *in, uint8_t family, int keep_host,
    uint8_t *plen, uint8_t prefix[16])
{
	const struct kn_prefix	*c = cluster_of(conf.cluster, family);
	unsigned		 max = family == AF_INET6 ? 128 : 32, i, off;

	*plen = byte(in) % (max + 1);
	off = (unsigned)byte(in) << 8;
	off |= byte(in);
	memset(prefix, 0, 16);
	if (c != NULL)
		memcpy(prefix, c->addr, 16);
	/* The offset goes into the last 16 bits of the address. */
	prefix[max / 8 - 2] |= off >> 8;
	prefix[max / 8 - 1] |= off & 0xff;
	if (!keep_host)
		for (i = *plen; i < max; i++)
			prefix[i / 8] &= ~(0x80 >> (i % 8));
}

static void
node_addr(struct input *in, uint8_t out[16])
{
	const char	*s = nodes[byte(in) % (sizeof(nodes) / sizeof(*nodes))];

	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out) != 1)
		inet_pton(AF_INET6, s, out);
}

static void
read_intent(struct input *in, struct msg_intent *out)
{
	uint8_t	 form = byte(in);

	if (form & 1) {
		bytes(in, out, sizeof(*out));
		return;
	}
	memset(out, 0, sizeof(*out));
	out->family = form & 2 ? AF_INET6 : AF_INET;
	compact_prefix(in, out->family, form & 4, &out->plen, out->prefix);
	node_addr(in, out->node);
	if (out->family == AF_INET)
		memset(out->node + 4, 0, 12);
	out->boot[0] = form >> 3;
}

static void
read_local(struct input *in, struct msg_local *l)
{
	uint8_t	 form = byte(in), a[16];
	int	 i, n = 0;

	if (form & 1) {
		bytes(in, l, sizeof(*l));
		return;
	}
	memset(l, 0, sizeof(*l));
	for (i = 0; i < 2; i++) {
		if (!(form & (2 << i)))
			continue;
		l->family[n] = i ? AF_INET6 : AF_INET;
		compact_prefix(in, l->family[n], 0, &l->plen[n], l->cidr[n]);
		n++;
		node_addr(in, a);
		if (i) {
			l->has6 = 1;
			memcpy(l->addr6, a, 16);
		} else {
			l->has4 = 1;
			memcpy(l->addr4, a, 4);
		}
	}
}

static void
check_intent(const struct msg_intent *in, void *arg)
{
	(void)arg;
	CHECK(intent_refusal(conf.cluster, in) == NULL);
	CHECK(!rx.have_local || intent_local_refusal(&rx.local, in) == NULL);
}

static void
check_state(void)
{
	const struct msg_local	*l = &rx.local;
	const struct msg_intent	*o;
	struct msg_intent	 c;
	uint8_t			 a[16];
	unsigned		 i, j;
	int			 k;

	CHECK(itab_count(rx.active) <= 2 * conf.max_nodes);
	CHECK(nkernel == itab_count(rx.active));
	itab_walk(rx.active, check_intent, NULL);
	for (i = 0; i < nkernel; i++) {
		/* The kernel holds what is accepted, node and boot too. */
		CHECK((o = itab_get(rx.active, &kernel[i])) != NULL &&
		    memcmp(o, &kernel[i], sizeof(kernel[i])) == 0);
		for (j = i + 1; j < nkernel; j++)
			CHECK(!overlap(kernel[i].family, kernel[i].prefix,
			    kernel[i].plen, kernel[j].family, kernel[j].prefix,
			    kernel[j].plen));
		for (k = 0; rx.have_local && k < 2; k++)
			CHECK(!overlap(kernel[i].family, kernel[i].prefix,
			    kernel[i].plen, l->family[k], l->cidr[k],
			    l->plen[k]));
	}
	if (!rx.have_local)
		return;
	CHECK(local_form_refusal(l) == NULL);
	memset(a, 0, sizeof(a));
	memcpy(a, l->addr4, 4);
	CHECK(!l->has4 || node_refusal(conf.cluster, AF_INET, a) == NULL);
	CHECK(!l->has6 || node_refusal(conf.cluster, AF_INET6,
	    l->addr6) == NULL);
	for (k = 0; k < 2; k++) {
		if (l->family[k] == 0)
			continue;
		memset(&c, 0, sizeof(c));
		c.family = l->family[k];
		c.plen = l->plen[k];
		memcpy(c.prefix, l->cidr[k], 16);
		if (c.family == AF_INET)
			memcpy(c.node, l->addr4, 4);
		else
			memcpy(c.node, l->addr6, 16);
		CHECK(intent_refusal(conf.cluster, &c) == NULL);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init(1, "fuzz");
	log_setsink(log_discard);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct msg	 m;
	static struct msg_intent batch[4];
	struct input		 in = { data, size };
	struct msg_gen_result	 res;
	struct msg_gen		 g;
	struct msg_local	 l;
	char			 err[128];
	uint8_t			 cfg = byte(&in), n, i, type;
	enum intentrx_rv	 rv;
	size_t			 k;

	memset(&conf, 0, sizeof(conf));
	conf.max_nodes = 1 + (cfg >> 2) % MAX_NODES;
	if (cluster_parse(clusters[cfg & 3], conf.cluster, err,
	    sizeof(err)) == -1)
		abort();
	if (intentrx_init(&rx, &conf) == -1)
		abort();
	nkernel = 0;
	while (in.left > 0) {
		memset(&m.hdr, 0, sizeof(m.hdr));
		m.hdr.id = byte(&in);
		m.data = m.buf;
		n = 0;
		switch (type = byte(&in) % 5) {
		case 0:
			m.hdr.type = MSG_LOCAL;
			read_local(&in, &l);
			memcpy(m.buf, &l, m.len = sizeof(l));
			break;
		case 1:
		case 4:
			m.hdr.type = type == 1 ? MSG_SNAP_BEGIN :
			    MSG_SNAP_END;
			memset(&g, 0, sizeof(g));
			g.gen = byte(&in) % 4;
			g.count = byte(&in) % 8;
			memcpy(m.buf, &g, m.len = sizeof(g));
			break;
		default:
			m.hdr.type = type == 2 ? MSG_INTENT_ADD :
			    MSG_INTENT_DEL;
			n = 1 + byte(&in) % 4;
			for (i = 0; i < n; i++)
				read_intent(&in, &batch[i]);
			memcpy(m.buf, batch, m.len = n * sizeof(batch[0]));
			break;
		}
		memset(&res, 0, sizeof(res));
		rv = intentrx_msg(&rx, &m, &res);
		for (k = 0; k < rx.nchanges; k++)
			applied(&rx.changes[k]);
		if (rv == INTENTRX_SNAPSHOT) {
			nkernel = 0;
			itab_walk(rx.active, kernel_add, NULL);
		}
		if (rv == INTENTRX_BATCH)
			CHECK(res.applied + res.refused == n);
		check_state();
	}
	intentrx_free(&rx);
	return 0;
}
