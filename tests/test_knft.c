/*
 * Unit tests of the masquerade table's rules (src/knft.c) without a
 * kernel: the rules the flags make, each through the netlink message
 * the executor sends and back through the parser that reads a dump,
 * and the comparison that decides between adopting and replacing.
 */
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <string.h>

#include "../src/knft.h"
#include "tap.h"

static struct kn_config	 conf;
static char		 err[256];

static void
setup(const char *cluster)
{
	memset(&conf, 0, sizeof(conf));
	conf.masquerade = 1;
	if (cluster_parse(cluster, conf.cluster, err, sizeof(err)) == -1)
		bail_out("%s: %s", cluster, err);
}

static void
nomasq(const char *cidr)
{
	struct kn_prefix	 p;
	int			 f;

	if (prefix_parse(cidr, &p, err, sizeof(err)) == -1)
		bail_out("%s: %s", cidr, err);
	f = p.family == AF_INET6;
	conf.nomasq[f][conf.nomasq_count[f]++] = p;
}

/* A rule as the kernel would report it: sent, then parsed back. */
static struct nftnl_rule *
round_trip(struct nftnl_rule *r)
{
	char			 buf[4096] __attribute__((aligned(8)));
	struct nlmsghdr		*nlh;
	struct nftnl_rule	*back = nftnl_rule_alloc();

	nlh = nftnl_rule_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET,
	    0, 1);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	if (back == NULL || nftnl_rule_nlmsg_parse(nlh, back) != 0)
		bail_out("parsing a rule back");
	return back;
}

/* The n-th expression of a rule. */
static struct nftnl_expr *
expr_at(struct nftnl_rule *r, int n)
{
	struct nftnl_expr_iter	*it = nftnl_expr_iter_create(r);
	struct nftnl_expr	*e;

	while ((e = nftnl_expr_iter_next(it)) != NULL && n-- > 0)
		;
	nftnl_expr_iter_destroy(it);
	return e;
}

static const char *
text(struct nftnl_rule *r)
{
	static char	 buf[4096];

	nftnl_rule_snprintf(buf, sizeof(buf), r, NFTNL_OUTPUT_DEFAULT, 0);
	return buf;
}

static void
test_rules(void)
{
	struct nftnl_rule	*r[KNFT_RULES_MAX], *b;
	unsigned		 n, i;
	char			 name[64];
	int			 all = 1;

	setup("100.96.0.0/12");
	n = knft_rules(&conf, r, KNFT_RULES_MAX);
	is_int(n, 1, "one family, no prefixes: one rule");
	like(text(r[0]), "[ meta load nfproto => reg 1 ]",
	    "the rule matches the family first");
	like(text(r[0]), "[ payload load 4b @ network header + 12 => reg 1 ]",
	    "a /12 source: the whole address, masked");
	like(text(r[0]), "[ cmp neq reg 1 0x00006064 ]",
	    "the destination outside the cluster range");
	like(text(r[0]), "[ masq flags 0x10 ]", "masquerade, fully random");
	knft_rules_free(r, n);

	setup("100.96.0.0/12,fd00:100::/48");
	nomasq("10.0.0.0/8");
	nomasq("fd00:99::/64");
	nomasq("192.168.0.0/16");
	n = knft_rules(&conf, r, KNFT_RULES_MAX);
	is_int(n, 5, "two families, three prefixes: five rules");
	like(text(r[0]), "[ payload load 1b @ network header + 16 => reg 1 ]",
	    "a /8 destination: one byte, no mask");
	like(text(r[0]), "[ immediate reg 0 return ]",
	    "a --no-masquerade prefix returns");
	like(text(r[2]), "[ masq flags 0x10 ]", "IPv4's masquerade is third");
	like(text(r[3]), "[ payload load 6b @ network header + 8 => reg 1 ]",
	    "an IPv6 /48 source: six bytes");
	like(text(r[3]), "[ payload load 8b @ network header + 24 => reg 1 ]",
	    "an IPv6 /64 destination: eight bytes");
	like(text(r[4]), "[ cmp eq reg 1 0x0000000a ]",
	    "the IPv6 masquerade matches IPv6");

	/* As the kernel reports them, each is the same; no other is. */
	for (i = 0; i < n; i++) {
		b = round_trip(r[i]);
		if (!knft_rule_same(r[i], b)) {
			diag("rule %u differs after a round trip: %s", i,
			    text(b));
			all = 0;
		}
		if (i > 0 && knft_rule_same(r[i - 1], b)) {
			diag("rule %u is the same as rule %u", i, i - 1);
			all = 0;
		}
		nftnl_rule_free(b);
	}
	ok(all, "every rule is the same after a round trip, and differs from "
	    "the one before");

	/* What the kernel adds on a dump does not count. */
	b = round_trip(r[2]);
	nftnl_expr_set_u32(expr_at(b, 3), NFTNL_EXPR_BITWISE_OP,
	    NFT_BITWISE_BOOL);
	ok(knft_rule_same(r[2], b), "an attribute the kernel adds (bitwise "
	    "op) is no difference");
	nftnl_rule_free(b);

	/* An attribute we set, changed, is a difference. */
	b = round_trip(r[2]);
	nftnl_expr_set_u32(expr_at(b, 8), NFTNL_EXPR_MASQ_FLAGS, 0);
	ok(!knft_rule_same(r[2], b), "masquerade without fully-random "
	    "differs");
	nftnl_rule_free(b);
	b = round_trip(r[2]);
	nftnl_expr_set_u32(expr_at(b, 7), NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	ok(!knft_rule_same(r[2], b), "== where != was wanted differs");
	nftnl_rule_free(b);
	b = round_trip(r[0]);
	nftnl_expr_set(expr_at(b, 6), NFTNL_EXPR_CMP_DATA, "\013", 1);
	ok(!knft_rule_same(r[0], b), "another --no-masquerade prefix differs");
	nftnl_rule_free(b);

	/* One expression more or fewer. */
	b = round_trip(r[2]);
	nftnl_rule_add_expr(b, nftnl_expr_alloc("counter"));
	ok(!knft_rule_same(r[2], b), "an expression added differs");
	ok(!knft_rule_same(b, r[2]), "an expression missing differs");
	nftnl_rule_free(b);
	knft_rules_free(r, n);

	/* The bound: 32 prefixes of each family. */
	setup("100.96.0.0/12,fd00:100::/48");
	for (i = 0; i < KN_NOMASQ_MAX; i++) {
		snprintf(name, sizeof(name), "10.%u.0.0/16", i);
		nomasq(name);
		snprintf(name, sizeof(name), "fd00:%x::/32", i + 1);
		nomasq(name);
	}
	n = knft_rules(&conf, r, KNFT_RULES_MAX);
	is_int(n, KNFT_RULES_MAX, "32 prefixes of each family: %d rules",
	    KNFT_RULES_MAX);
	knft_rules_free(r, n);
}

int
main(void)
{
	test_rules();
	return done_testing();
}
