/*
 * The executor's envelope and intent table, driven directly: what the
 * executor refuses whatever the watcher says, and what it keeps.
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
#include "../src/log.h"

static void
test_envelope(void)
{
	static const struct {
		const char	*prefix, *node, *why;
	} t[] = {
		{ "100.96.1.0/24", "10.0.0.1", NULL },
		{ "0.0.0.0/0", "10.0.0.1", "outside the cluster range" },
		{ "10.1.0.0/24", "10.0.0.1", "outside the cluster range" },
		{ "100.64.0.0/10", "10.0.0.1", "length outside" },
		{ "100.96.1.1/24", "10.0.0.1", "host bits" },
		{ "100.96.1.0/24", "127.0.0.1", "loopback" },
		{ "100.96.1.0/24", "224.0.0.5", "multicast" },
		{ "100.96.1.0/24", "169.254.1.1", "link-local" },
		{ "100.96.1.0/24", "255.255.255.255", "broadcast" },
		{ "100.96.1.0/24", "0.0.0.0", "0.0.0.0/8" },
		{ "100.96.1.0/24", "100.96.9.9", "inside the cluster range" },
		{ "fd00::/64", "fd00::1", "outside the cluster range" },
	};
	struct kn_prefix	 cluster[2];
	struct msg_intent	 in;
	const char		*why;
	char			 err[128];
	size_t			 i;

	cluster_parse("100.96.0.0/12", cluster, err, sizeof(err));
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		in = test_intent(t[i].prefix, t[i].node);
		why = intent_refusal(cluster, &in);
		if (t[i].why == NULL)
			ok(why == NULL, "envelope: %s via %s accepted (%s)",
			    t[i].prefix, t[i].node, why ? why : "");
		else
			ok(why != NULL && strstr(why, t[i].why) != NULL,
			    "envelope: %s via %s refused: %s", t[i].prefix,
			    t[i].node, why ? why : "(accepted)");
	}
	in = test_intent("100.96.1.0/24", "10.0.0.1");
	in.flags = 1;
	ok(intent_refusal(cluster, &in) != NULL, "envelope: flags refused");
	in = test_intent("100.96.1.0/24", "10.0.0.1");
	in.family = 99;
	ok(intent_refusal(cluster, &in) != NULL, "envelope: bad family");

	cluster_parse("fd00:100::/48", cluster, err, sizeof(err));
	in = test_intent("fd00:100:0:1::/64", "fd00::1");
	ok(intent_refusal(cluster, &in) == NULL, "envelope: IPv6 accepted");
	in = test_intent("100.96.1.0/24", "10.0.0.1");
	ok(intent_refusal(cluster, &in) != NULL,
	    "envelope: IPv4 refused when the range is IPv6 only");
	cluster_parse("100.96.0.0/12,fd00:100::/48", cluster, err, sizeof(err));
	ok(intent_refusal(cluster, &in) == NULL,
	    "envelope: dual-stack range: IPv4 accepted");
	in = test_intent("fd00:100:0:1::/64", "fd00::1");
	ok(intent_refusal(cluster, &in) == NULL,
	    "envelope: dual-stack range: IPv6 accepted");
	in = test_intent("fd00:100:0:1::/64", "fd00:100::1");
	ok(intent_refusal(cluster, &in) != NULL,
	    "envelope: dual-stack range: IPv6 node inside the range refused");
	in = test_intent("fd00:100:0:1::/64", "fe80::1");
	ok(intent_refusal(cluster, &in) != NULL, "envelope: IPv6 link-local");
	in = test_intent("fd00:100:0:1::/64", "::ffff:10.0.0.1");
	ok(intent_refusal(cluster, &in) != NULL, "envelope: IPv4-mapped");
	in = test_intent("fd00:100:0:1::/64", "ff02::1");
	ok(intent_refusal(cluster, &in) != NULL, "envelope: IPv6 multicast");
}

static void
test_itab(void)
{
	struct itab		*t = itab_new(2);
	struct msg_intent	 a = test_intent("100.96.1.0/24", "10.0.0.1");
	struct msg_intent	 b = test_intent("100.96.1.0/24", "10.0.0.2");
	struct msg_intent	 c = test_intent("100.96.2.0/24", "10.0.0.3");
	struct msg_intent	 d = test_intent("100.96.3.0/24", "10.0.0.4");

	is_int(itab_put(t, &a), 0, "itab: added");
	is_int(itab_put(t, &a), 2, "itab: the same again is unchanged");
	is_int(itab_put(t, &b), 1, "itab: another address replaces");
	ok(memcmp(itab_get(t, &a)->node, b.node, 16) == 0,
	    "itab: the replacement is what is kept");
	b.boot[3] = 7;
	is_int(itab_put(t, &b), 1, "itab: another boot ID replaces");
	ok(itab_get(t, &a)->boot[3] == 7, "itab: with the new boot ID kept");
	is_int(itab_put(t, &c), 0, "itab: a second prefix");
	is_int(itab_put(t, &d), -1, "itab: the bound holds");
	is_int(itab_del(t, &a), 0, "itab: removed by prefix");
	is_int(itab_del(t, &a), -1, "itab: removing again fails");
	is_int(itab_count(t), 1, "itab: one left");
	itab_free(t);
}

/* Counts what a walk sees; a prefix seen twice shows as a bad count. */
static void
seen(const struct msg_intent *in, void *arg)
{
	unsigned char	*once = arg;
	unsigned	 i = (unsigned)in->prefix[1] << 8 | in->prefix[2];

	once[i]++;
}

/*
 * The table grows from 16 buckets as intents come: 20,000 /24s, every
 * other one removed on the way, each one found and walked once, the
 * overlap index kept in step, the bound refused.
 */
#define MANY	20000

static void
test_itab_growth(void)
{
	struct itab		*t = itab_new(MANY);
	struct msg_intent	 in;
	unsigned char		*once = calloc(1u << 16, 1);
	unsigned		 i, bad = 0;

	if (t == NULL || once == NULL)
		bail_out("out of memory");
	memset(&in, 0, sizeof(in));
	in.family = AF_INET;
	in.plen = 24;
	in.prefix[0] = 100;
	in.node[0] = 10;
	in.node[3] = 1;
	for (i = 0; i < MANY; i++) {
		in.prefix[1] = (uint8_t)(i >> 8);
		in.prefix[2] = (uint8_t)i;
		if (itab_put(t, &in) != 0)
			bad++;
		if (i % 2 == 1) {
			in.prefix[2] = (uint8_t)(i - 1);
			if (itab_del(t, &in) != 0)
				bad++;
		}
	}
	ok(bad == 0 && itab_count(t) == MANY / 2, "itab growth: %u added, "
	    "every other one removed on the way", MANY);
	for (i = 0, bad = 0; i < MANY; i++) {
		in.prefix[1] = (uint8_t)(i >> 8);
		in.prefix[2] = (uint8_t)i;
		if ((itab_get(t, &in) != NULL) != (i % 2 == 1) ||
		    (itab_overlap(t, AF_INET, 24, in.prefix) != NULL) !=
		    (i % 2 == 1))
			bad++;
	}
	is_int(bad, 0, "itab growth: each found, and by overlap, or gone");
	itab_walk(t, seen, once);
	for (i = 0, bad = 0; i < MANY; i++)
		if (once[i] != (i % 2 == 1))
			bad++;
	is_int(bad, 0, "itab growth: a walk sees each once");
	for (i = 0, bad = 0; i < MANY; i += 2) {
		in.prefix[1] = (uint8_t)(i >> 8);
		in.prefix[2] = (uint8_t)i;
		if (itab_put(t, &in) != 0)
			bad++;
	}
	in.prefix[1] = (uint8_t)(MANY >> 8);
	in.prefix[2] = (uint8_t)MANY;
	ok(bad == 0 && itab_put(t, &in) == -1 && itab_count(t) == MANY,
	    "itab growth: filled to the bound, one more refused");
	free(once);
	itab_free(t);
}

int
main(void)
{
	log_init(1, "test");
	test_envelope();
	test_itab();
	test_itab_growth();
	return done_testing();
}
