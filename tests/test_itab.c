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

int
main(void)
{
	log_init(1, "test");
	test_envelope();
	test_itab();
	return done_testing();
}
