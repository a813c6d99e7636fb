/*
 * The gre mode's kernel objects, driven directly: the tunnel's name,
 * what an intent wants, the requests that make, change and remove a
 * tunnel and its route, and a tunnel the kernel reports read back as
 * the same object; for IPv4 (gre) and IPv6 (ip6gre).  Then which
 * routes of other protocols each mode adopts, and which never.  Last,
 * the table of objects growing from 16 buckets to its bound.  No
 * kernel: the host may have no GRE.
 */
#include <sys/socket.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/if_tunnel.h>
#include <linux/ip6_tunnel.h>
#include <linux/rtnetlink.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "../src/config.h"
#include "../src/kobj.h"
#include "../src/ktab.h"
#include "../src/nl.h"

static struct kn_prefix	 cluster[2];

static struct kobj_ctx	 ctx = {
	.mode = MODE_GRE,
	.cluster = cluster,
	.protocol = 107,
	.gre_local = { { 172, 20, 0, 10 },
	    { 0xfd, 0, 2, 0, [15] = 10 } },		/* fd00:200::a */
	.gre_mtu = { 1476, 1456 },
};

static struct msg_intent
intent(const char *prefix, uint8_t plen, const char *node)
{
	struct msg_intent	 in;

	memset(&in, 0, sizeof(in));
	in.family = strchr(prefix, ':') != NULL ? AF_INET6 : AF_INET;
	in.plen = plen;
	inet_pton(in.family, prefix, in.prefix);
	inet_pton(in.family, node, in.node);
	return in;
}

/* One request as the executor builds it, in buf. */
static struct nlmsghdr *
build(char *buf, enum kobj_op op, const struct kobj *o)
{
	struct nlmsghdr	*nlh;

	memset(buf, 0, NL_MSG_MAX);
	nlh = mnl_nlmsg_put_header(buf);
	kobj_request(nlh, &ctx, op, o);
	return nlh;
}

/* The IFLA_INFO_DATA attributes of a link request. */
static void
gre_data(const struct nlmsghdr *nlh, struct nl_attrs *data, const char **kind)
{
	struct nl_attrs	 tb = { { NULL } }, info = { { NULL } };

	memset(data, 0, sizeof(*data));
	*kind = NULL;
	if (mnl_attr_parse(nlh, sizeof(struct ifinfomsg), nl_attr_cb, &tb) < 0 ||
	    tb.a[IFLA_LINKINFO] == NULL ||
	    mnl_attr_parse_nested(tb.a[IFLA_LINKINFO], nl_attr_cb, &info) < 0)
		return;
	if (info.a[IFLA_INFO_KIND] != NULL)
		*kind = mnl_attr_get_str(info.a[IFLA_INFO_KIND]);
	if (info.a[IFLA_INFO_DATA] != NULL)
		mnl_attr_parse_nested(info.a[IFLA_INFO_DATA], nl_attr_cb, data);
}

/* A link the kernel reports: index 2, a name, a kind. */
static struct nlmsghdr *
report(char *buf, const char *name, const char *kind)
{
	struct nlmsghdr		*nlh;
	struct ifinfomsg	*ifi;
	struct nlattr		*li;

	memset(buf, 0, NL_MSG_MAX);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = 2;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
	mnl_attr_nest_end(nlh, li);
	return nlh;
}

static void
naming(void)
{
	char			 name[16];
	const uint8_t		 a[4] = { 100, 96, 1, 0 },
				 b[4] = { 100, 111, 255, 128 };
	struct msg_intent	 in;
	uint8_t			 mac[6];

	kobj_gre_name(AF_INET, 24, a, name);
	is_str(name, "k8s-64-60-01-00", "100.96.1.0: named as the original "
	    "agent names it");
	kobj_gre_name(AF_INET, 25, b, name);
	is_str(name, "k8s-64-6f-ff-80", "100.111.255.128 too");
	ok(strlen(name) == IFNAMSIZ - 1, "the longest name fits IFNAMSIZ");

	in = intent("fd00:100:0:1::", 64, "fd00:200::b");
	kobj_gre_name(AF_INET6, 64, in.prefix, name);
	is_str(name, "k8s6-00000001", "fd00:100:0:1::/64: k8s6- and the 32 "
	    "bits that end at the prefix length");
	/* Right after a 15-character name: nothing of it may stay. */
	kobj_gre_name(AF_INET, 25, b, name);
	kobj_gre_name(AF_INET6, 64, in.prefix, name);
	ok(memcmp(name + 13, "\0\0\0", 3) == 0, "NUL-padded, as a key must "
	    "be");
	kobj_vxlan_mac(AF_INET6, 64, in.prefix, mac);
	ok(mac[2] == 0 && mac[3] == 0 && mac[4] == 0 && mac[5] == 1,
	    "the bits of the vxlan mode's IPv6 MAC");
	ok(strlen(name) < IFNAMSIZ, "fits IFNAMSIZ");
	in = intent("fd00:100:ffff:fff0::", 60, "fd00:200::b");
	kobj_gre_name(AF_INET6, 60, in.prefix, name);
	is_str(name, "k8s6-0fffffff", "fd00:100:ffff:fff0::/60: bits 28 to "
	    "59");
	in = intent("fd00:100:0:1:8000::", 65, "fd00:200::b");
	kobj_gre_name(AF_INET6, 65, in.prefix, name);
	is_str(name, "k8s6-00000003", "fd00:100:0:1:8000::/65: bits 33 to "
	    "64");
	in = intent("fd00::", 16, "fd00:200::b");
	kobj_gre_name(AF_INET6, 16, in.prefix, name);
	is_str(name, "k8s6-fd000000", "a prefix shorter than 32 bits: "
	    "its first 32");

	ok(kobj_gre_unique(cluster, AF_INET6, 64) &&
	    kobj_gre_unique(cluster, AF_INET6, 80),
	    "in a /48 a /64 or /80 is told apart by its name");
	ok(!kobj_gre_unique(cluster, AF_INET6, 81), "a /81 is not: 33 bits "
	    "between the range and the prefix");
	ok(kobj_gre_unique(cluster, AF_INET, 32), "an IPv4 name always is");
}

static void
wanted(void)
{
	struct msg_intent	 in = intent("100.96.1.0", 24, "172.20.0.11");
	struct kobj		 o[KOBJ_PER_INTENT];
	struct kobj_key		 tk;
	struct kobj_ctx		 c = ctx;
	char			 text[KOBJ_NAME_MAX];
	int			 n;

	n = kobj_wanted(&ctx, &in, o);
	is_int(n, 2, "an intent wants a tunnel and a route");
	is_int(o[0].k.type, KOBJ_TUNNEL, "first the tunnel");
	kobj_name(&o[0], text, sizeof(text));
	is_str(text, "tunnel k8s-64-60-01-00 remote 172.20.0.11 local "
	    "172.20.0.10 ttl 255 mtu 1476", "to the peer, from this node, "
	    "TTL 255, the MTU asked for");
	ok(o[0].v.up && !o[0].v.keyed, "up, without a key");
	is_int(o[1].k.type, KOBJ_ROUTE, "then the route");
	ok(o[1].v.tunnel && o[1].v.oif == 0 && o[1].v.gwfamily == 0,
	    "through the tunnel, whose index the executor fills in");
	kobj_tunnel_key(&o[1], &tk);
	ok(memcmp(&tk, &o[0].k, sizeof(tk)) == 0, "the route names its "
	    "tunnel's key");

	c.gre_mtu[0] = 0;
	is_int(kobj_wanted(&c, &in, o), 0, "nothing before this node's "
	    "address is known");

	in = intent("fd00:100:0:1::", 64, "fd00:200::b");
	n = kobj_wanted(&ctx, &in, o);
	is_int(n, 2, "an IPv6 intent wants a tunnel and a route");
	kobj_name(&o[0], text, sizeof(text));
	is_str(text, "tunnel k8s6-00000001 remote fd00:200::b local "
	    "fd00:200::a ttl 255 mtu 1456", "IPv6: to the peer's IPv6 "
	    "address, from this node's, hop limit 255, the IPv6 MTU");
	ok(o[0].v.gwfamily == AF_INET6 && o[0].v.up && !o[0].v.keyed &&
	    o[0].v.tflags == IP6_TNL_F_IGN_ENCAP_LIMIT,
	    "up, without a key, without the encapsulation limit option");
	kobj_tunnel_key(&o[1], &tk);
	ok(o[1].k.type == KOBJ_ROUTE && o[1].k.family == AF_INET6 &&
	    o[1].k.plen == 64 && o[1].v.tunnel &&
	    memcmp(&tk, &o[0].k, sizeof(tk)) == 0,
	    "the IPv6 route names its tunnel's key");
	is_int(kobj_wanted(&c, &in, o), 2, "IPv6 wants its tunnel while the "
	    "IPv4 MTU is not known");
	c.gre_mtu[1] = 0;
	is_int(kobj_wanted(&c, &in, o), 0, "nothing before this node's IPv6 "
	    "address is known");
	in = intent("fd00:100:0:1:8000::", 81, "fd00:200::b");
	is_int(kobj_wanted(&ctx, &in, o), 0, "nothing for a pod CIDR whose "
	    "name could be another's");
}

static void
requests(void)
{
	char			 buf[NL_MSG_MAX] __attribute__((aligned(8)));
	struct msg_intent	 in = intent("100.96.1.0", 24, "172.20.0.11");
	struct kobj		 o[KOBJ_PER_INTENT], back;
	struct nlmsghdr		*nlh;
	struct ifinfomsg	*ifi;
	struct rtmsg		*rtm;
	struct nl_attrs		 d, tb = { { NULL } };
	const char		*kind;
	uint8_t			 want4[4] = { 172, 20, 0, 11 };
	int			 deleted;

	kobj_wanted(&ctx, &in, o);
	nlh = build(buf, KOBJ_CREATE, &o[0]);
	ifi = mnl_nlmsg_get_payload(nlh);
	gre_data(nlh, &d, &kind);
	ok(nlh->nlmsg_type == RTM_NEWLINK && (nlh->nlmsg_flags &
	    (NLM_F_CREATE | NLM_F_EXCL)) == (NLM_F_CREATE | NLM_F_EXCL) &&
	    ifi->ifi_index == 0 && (ifi->ifi_flags & IFF_UP),
	    "create: a new link, exclusively, up");
	ok(kind != NULL && strcmp(kind, "gre") == 0 &&
	    d.a[IFLA_GRE_REMOTE] != NULL &&
	    memcmp(mnl_attr_get_payload(d.a[IFLA_GRE_REMOTE]), want4, 4) == 0 &&
	    d.a[IFLA_GRE_TTL] != NULL &&
	    mnl_attr_get_u8(d.a[IFLA_GRE_TTL]) == 255 &&
	    d.a[IFLA_GRE_IKEY] == NULL, "of kind gre, to the peer, TTL 255, "
	    "no key");

	/* The kernel reports it: the same object, with an index. */
	nlh->nlmsg_type = RTM_NEWLINK;
	ifi->ifi_index = 7;
	ok(kobj_parse(nlh, &ctx, &back, &deleted) == 1 && !deleted &&
	    back.k.type == KOBJ_TUNNEL && back.v.ifindex == 7 &&
	    memcmp(&back.k, &o[0].k, sizeof(back.k)) == 0,
	    "a k8s-* GRE link reads back under the same key, with its index");
	ok(kobj_same(&o[0], &back), "and as the same tunnel");
	back.v.gw[3] = 50;
	ok(!kobj_same(&o[0], &back), "another remote is not the same");

	/* gre0, someone's GRE device, a k8s-* of another kind: not ours. */
	ok(kobj_parse(report(buf, "gre0", "gre"), &ctx, &back, &deleted) == 0,
	    "gre0 is not ours");
	ok(kobj_parse(report(buf, "mytun", "gre"), &ctx, &back, &deleted) ==
	    0, "nor a GRE device of another name");
	ok(kobj_parse(report(buf, "k8s-64-60-01-00", "ipip"), &ctx, &back,
	    &deleted) == 0, "nor a k8s-* device of another kind");
	nlh = report(buf, "k8s-extra", "gre");
	nlh->nlmsg_type = RTM_DELLINK;
	ok(kobj_parse(nlh, &ctx, &back, &deleted) == 1 && deleted &&
	    strcmp(back.k.name, "k8s-extra") == 0, "any k8s-* GRE device is, "
	    "and its removal is seen");

	/* A change: in place, on the index, keys cleared, no REPLACE. */
	o[0].v.ifindex = 7;
	nlh = build(buf, KOBJ_REPLACE, &o[0]);
	ifi = mnl_nlmsg_get_payload(nlh);
	gre_data(nlh, &d, &kind);
	ok(nlh->nlmsg_type == RTM_NEWLINK && ifi->ifi_index == 7 &&
	    !(nlh->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL | NLM_F_REPLACE))
	    && d.a[IFLA_GRE_IKEY] != NULL && d.a[IFLA_GRE_OFLAGS] != NULL,
	    "replace: the link changed on its index, any key cleared");
	nlh = build(buf, KOBJ_DELETE, &o[0]);
	ifi = mnl_nlmsg_get_payload(nlh);
	ok(nlh->nlmsg_type == RTM_DELLINK && ifi->ifi_index == 7,
	    "delete: the link on its index");

	/* The route: no gateway, scope link, our protocol, the tunnel. */
	o[1].v.oif = 7;
	nlh = build(buf, KOBJ_CREATE, &o[1]);
	rtm = mnl_nlmsg_get_payload(nlh);
	mnl_attr_parse(nlh, sizeof(*rtm), nl_attr_cb, &tb);
	ok(nlh->nlmsg_type == RTM_NEWROUTE && rtm->rtm_protocol == 107 &&
	    rtm->rtm_scope == RT_SCOPE_LINK && rtm->rtm_dst_len == 24 &&
	    tb.a[RTA_GATEWAY] == NULL && tb.a[RTA_OIF] != NULL &&
	    mnl_attr_get_u32(tb.a[RTA_OIF]) == 7,
	    "the route: protocol 107, scope link, no gateway, through index 7");
}

static void
requests6(void)
{
	char			 buf[NL_MSG_MAX] __attribute__((aligned(8)));
	struct msg_intent	 in = intent("fd00:100:0:1::", 64,
				    "fd00:200::b");
	struct kobj		 o[KOBJ_PER_INTENT], back;
	struct kobj_ctx		 c4 = ctx;
	struct kn_prefix	 only4[2];
	struct nlmsghdr		*nlh;
	struct ifinfomsg	*ifi;
	struct rtmsg		*rtm;
	struct nl_attrs		 d, tb = { { NULL } };
	const char		*kind;
	char			 err[128];
	uint32_t		 flags;
	int			 deleted;

	kobj_wanted(&ctx, &in, o);
	nlh = build(buf, KOBJ_CREATE, &o[0]);
	ifi = mnl_nlmsg_get_payload(nlh);
	gre_data(nlh, &d, &kind);
	ok(kind != NULL && strcmp(kind, "ip6gre") == 0 &&
	    d.a[IFLA_GRE_REMOTE] != NULL && d.a[IFLA_GRE_LOCAL] != NULL &&
	    mnl_attr_get_payload_len(d.a[IFLA_GRE_REMOTE]) == 16 &&
	    memcmp(mnl_attr_get_payload(d.a[IFLA_GRE_REMOTE]), in.node, 16) ==
	    0 && memcmp(mnl_attr_get_payload(d.a[IFLA_GRE_LOCAL]),
	    ctx.gre_local[1], 16) == 0,
	    "IPv6 create: of kind ip6gre, between the IPv6 node addresses");
	ok(d.a[IFLA_GRE_TTL] != NULL && mnl_attr_get_u8(d.a[IFLA_GRE_TTL]) ==
	    255 && d.a[IFLA_GRE_FLAGS] != NULL &&
	    mnl_attr_get_u32(d.a[IFLA_GRE_FLAGS]) == IP6_TNL_F_IGN_ENCAP_LIMIT
	    && d.a[IFLA_GRE_PMTUDISC] == NULL && d.a[IFLA_GRE_IKEY] == NULL,
	    "hop limit 255, encapsulation limit none, no key, no IPv4 "
	    "PMTU switch");

	/* The kernel adds its capability bits (IP6_TNL_F_CAP_XMIT, _RCV). */
	nlh->nlmsg_type = RTM_NEWLINK;
	ifi->ifi_index = 9;
	flags = 0x30000 | IP6_TNL_F_IGN_ENCAP_LIMIT;
	if (d.a[IFLA_GRE_FLAGS] != NULL)
		memcpy(mnl_attr_get_payload(d.a[IFLA_GRE_FLAGS]), &flags,
		    sizeof(flags));
	ok(kobj_parse(nlh, &ctx, &back, &deleted) == 1 &&
	    back.v.ifindex == 9 && memcmp(&back.k, &o[0].k,
	    sizeof(back.k)) == 0 && kobj_same(&o[0], &back),
	    "a k8s6-* ip6gre link reads back as the same tunnel, whatever "
	    "capability bits the kernel reports");
	back.v.tflags = 0;
	ok(!kobj_same(&o[0], &back), "one with the encapsulation limit "
	    "option is not the same");
	ok(kobj_parse(nlh, &c4, &back, &deleted) == 1, "(with a dual-stack "
	    "range)");
	if (cluster_parse("100.96.0.0/12", only4, err, sizeof(err)) == -1)
		diag("%s", err);
	c4.cluster = only4;
	ok(kobj_parse(nlh, &c4, &back, &deleted) == 0, "with an IPv4 range "
	    "alone, ip6gre devices are not ours");

	ok(kobj_parse(report(buf, "ip6gre0", "ip6gre"), &ctx, &back,
	    &deleted) == 0, "ip6gre0 is not ours");
	ok(kobj_parse(report(buf, "ip6tnl0", "ip6tnl"), &ctx, &back,
	    &deleted) == 0, "nor ip6tnl0");
	ok(kobj_parse(report(buf, "k8s-64-60-01-00", "ip6gre"), &ctx, &back,
	    &deleted) == 0, "nor an ip6gre device named k8s-*");
	ok(kobj_parse(report(buf, "k8s6-00000001", "gre"), &ctx, &back,
	    &deleted) == 0, "nor a gre device named k8s6-*");
	ok(kobj_parse(report(buf, "k8s6-00000001", "ip6tnl"), &ctx, &back,
	    &deleted) == 0, "nor a k8s6-* device of another kind");

	o[0].v.ifindex = 9;
	nlh = build(buf, KOBJ_REPLACE, &o[0]);
	ifi = mnl_nlmsg_get_payload(nlh);
	gre_data(nlh, &d, &kind);
	ok(ifi->ifi_index == 9 && kind != NULL &&
	    strcmp(kind, "ip6gre") == 0 && d.a[IFLA_GRE_IKEY] != NULL &&
	    d.a[IFLA_GRE_FLAGS] != NULL, "IPv6 replace: in place, flags and "
	    "keys set again");

	o[1].v.oif = 9;
	nlh = build(buf, KOBJ_CREATE, &o[1]);
	rtm = mnl_nlmsg_get_payload(nlh);
	mnl_attr_parse(nlh, sizeof(*rtm), nl_attr_cb, &tb);
	ok(nlh->nlmsg_type == RTM_NEWROUTE && rtm->rtm_family == AF_INET6 &&
	    rtm->rtm_protocol == 107 && rtm->rtm_dst_len == 64 &&
	    tb.a[RTA_DST] != NULL &&
	    mnl_attr_get_payload_len(tb.a[RTA_DST]) == 16 &&
	    tb.a[RTA_GATEWAY] == NULL && tb.a[RTA_OIF] != NULL &&
	    mnl_attr_get_u32(tb.a[RTA_OIF]) == 9,
	    "the IPv6 route: protocol 107, no gateway, through index 9");

	nlh = kobj_dump_request(buf, NL_MSG_MAX, RTM_GETLINK, AF_INET6, 0,
	    0);
	gre_data(nlh, &d, &kind);
	ok(kind != NULL && strcmp(kind, "ip6gre") == 0, "the IPv6 tunnel "
	    "dump asks for kind ip6gre");
}

/* A route as the kernel reports it; metric 0: none given. */
static struct nlmsghdr *
route_msg(char *buf, const char *dst, uint8_t plen, uint8_t proto,
    uint32_t oif, uint32_t metric, const char *src)
{
	struct nlmsghdr	*nlh;
	struct rtmsg	*rtm;
	uint8_t		 a[16];

	memset(buf, 0, NL_MSG_MAX);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWROUTE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = strchr(dst, ':') != NULL ? AF_INET6 : AF_INET;
	rtm->rtm_dst_len = plen;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = proto;
	rtm->rtm_type = RTN_UNICAST;
	inet_pton(rtm->rtm_family, dst, a);
	mnl_attr_put(nlh, RTA_DST, rtm->rtm_family == AF_INET6 ? 16 : 4, a);
	mnl_attr_put_u32(nlh, RTA_OIF, oif);
	if (metric != 0)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, metric);
	if (src != NULL && inet_pton(AF_INET, src, a) == 1)
		mnl_attr_put(nlh, RTA_PREFSRC, 4, a);
	return nlh;
}

/* Is a route reported so adopted (1, with its protocol) or not (0)? */
static int
adopts(const struct kobj_ctx *c, const char *dst, uint8_t plen,
    uint8_t proto, uint32_t oif, uint32_t metric)
{
	char		 buf[NL_MSG_MAX] __attribute__((aligned(8)));
	struct kobj	 o;
	int		 deleted;

	if (kobj_parse(route_msg(buf, dst, plen, proto, oif, metric, NULL), c,
	    &o, &deleted) != 1)
		return 0;
	return o.v.proto == (proto == c->protocol ? 0 : proto);
}

/*
 * Routes of other protocols: a mode adopts those on its own device in
 * the cluster range, clear of this node's pod CIDR, at the default
 * metric, never the kernel's; layer2 those of --adopt-protocol.
 */
static void
adoption(void)
{
	char			 buf[NL_MSG_MAX] __attribute__((aligned(8)));
	struct msg_local	 l;
	struct kobj_ctx		 c;
	struct kobj		 o, w;
	struct ktab		 have;
	struct nlmsghdr		*nlh;
	struct rtmsg		*rtm;
	struct nl_attrs		 tb = { { NULL } };
	int			 deleted;

	memset(&l, 0, sizeof(l));
	l.family[0] = AF_INET;
	l.plen[0] = 24;		/* this node: 100.96.0.0/24 */
	l.cidr[0][0] = 100;
	l.cidr[0][1] = 96;
	memset(&c, 0, sizeof(c));
	c.mode = MODE_VXLAN;
	c.cluster = cluster;
	c.protocol = 107;
	c.vxlan[0] = 5;
	c.vxlan[1] = 6;
	ok(!adopts(&c, "100.96.1.0", 24, 3, 5, 0), "vxlan: nothing is adopted "
	    "before this node is known");
	c.local = &l;
	ok(adopts(&c, "100.96.1.0", 24, 3, 5, 0), "vxlan: a route of protocol "
	    "boot on vxlan1 in the range is adopted");
	ok(adopts(&c, "fd00:100:0:1::", 64, 42, 6, 1024), "and one of any "
	    "protocol on vxlan1v6 at IPv6's default metric");
	ok(!adopts(&c, "100.96.1.0", 24, 3, 2, 0), "not one on another device "
	    "(an intent for it may come: it stays another's)");
	ok(!adopts(&c, "10.77.0.0", 24, 3, 5, 0), "not one out of the range");
	ok(!adopts(&c, "100.96.0.0", 24, 3, 5, 0), "not one that is this "
	    "node's pod CIDR");
	ok(!adopts(&c, "100.96.0.0", 12, 3, 5, 0), "nor one that holds it");
	ok(!adopts(&c, "100.96.0.128", 25, 3, 5, 0), "nor one inside it");
	ok(!adopts(&c, "100.96.1.0", 24, RTPROT_KERNEL, 5, 0), "not the "
	    "kernel's own");
	ok(!adopts(&c, "100.96.1.0", 24, 3, 5, 100), "not one at another "
	    "metric (a replace would not take its place)");
	ok(adopts(&c, "100.96.1.0", 24, 107, 2, 0), "ours stay ours on any "
	    "device");

	/* Adopted: replaced with ours; extra: removed as itself, alone. */
	kobj_parse(route_msg(buf, "100.96.1.0", 24, 3, 5, 0, NULL), &c, &o,
	    &deleted);
	w = o;
	w.v.proto = 0;
	ok(!kobj_same(&w, &o), "an adopted route differs from ours");
	memset(buf, 0, NL_MSG_MAX);
	nlh = mnl_nlmsg_put_header(buf);
	kobj_request(nlh, &c, KOBJ_REPLACE, &w);
	rtm = mnl_nlmsg_get_payload(nlh);
	ok((nlh->nlmsg_flags & NLM_F_REPLACE) && !(nlh->nlmsg_flags &
	    NLM_F_EXCL) && rtm->rtm_protocol == 107 && rtm->rtm_table ==
	    RT_TABLE_MAIN, "it is replaced in place with our protocol");
	memset(buf, 0, NL_MSG_MAX);
	nlh = mnl_nlmsg_put_header(buf);
	kobj_request(nlh, &c, KOBJ_DELETE, &o);
	rtm = mnl_nlmsg_get_payload(nlh);
	mnl_attr_parse(nlh, sizeof(*rtm), nl_attr_cb, &tb);
	ok(nlh->nlmsg_type == RTM_DELROUTE && rtm->rtm_protocol == 3 &&
	    tb.a[RTA_OIF] != NULL && mnl_attr_get_u32(tb.a[RTA_OIF]) == 5,
	    "removed, it names its own protocol and our device");

	c.mode = MODE_LAYER2;
	c.vxlan[0] = c.vxlan[1] = 0;
	ok(!adopts(&c, "100.96.1.0", 24, 3, 2, 0), "layer2: nothing without "
	    "--adopt-protocol");
	c.adopt = 3;
	ok(adopts(&c, "100.96.1.0", 24, 3, 2, 0), "layer2: a route of "
	    "--adopt-protocol in the range is adopted");
	ok(!adopts(&c, "100.96.1.0", 24, 4, 2, 0) &&
	    !adopts(&c, "10.77.0.0", 24, 3, 2, 0), "not one of another "
	    "protocol, nor one out of the range");
	c.target = 9;
	ok(!adopts(&c, "100.96.1.0", 24, 3, 2, 0) &&
	    adopts(&c, "100.96.1.0", 24, 3, 9, 0), "with --target, only one "
	    "on it");

	/* vxlan-legacy: the route for the range is the kernel's again. */
	memset(&c.vaddr, 0, sizeof(c.vaddr));
	c.mode = MODE_VXLAN_LEGACY;
	c.adopt = 0;
	c.target = 0;
	c.vxlan[0] = 5;
	c.vaddr[0][0] = 100;
	c.vaddr[0][1] = 96;
	ok(kobj_connected(&c, 0, &w) == 1 && w.v.proto == RTPROT_KERNEL &&
	    w.k.plen == 12 && w.v.oif == 5 && kobj_connected(&c, 1, &o) == 0,
	    "vxlan-legacy: the connected route for the range is wanted "
	    "(IPv4 only)");
	ok(kobj_parse(route_msg(buf, "100.96.0.0", 12, 3, 5, 0, NULL), &c, &o,
	    &deleted) == 1 && kobj_is_connected(&c, &o) &&
	    !kobj_same(&w, &o), "the original's (protocol boot) is ours, "
	    "and not it");
	ok(kobj_parse(route_msg(buf, "100.96.0.0", 12, RTPROT_KERNEL, 5, 0,
	    "100.96.0.0"), &c, &o, &deleted) == 1 && kobj_same(&w, &o),
	    "the kernel's own is the one wanted");
	ok(!adopts(&c, "100.96.0.0", 12, 3, 2, 0), "not one on another "
	    "device");

	/* gre: a route through the tunnel named for its prefix. */
	c.mode = MODE_GRE;
	c.vxlan[0] = 0;
	if (!ok(ktab_init(&have, 16) == 0, "a table of tunnels"))
		return;
	memset(&o, 0, sizeof(o));
	o.k.type = KOBJ_ROUTE;
	o.k.family = AF_INET;
	o.k.plen = 24;
	o.k.addr[0] = 100;
	o.k.addr[1] = 96;
	o.k.addr[2] = 1;
	kobj_tunnel_key(&o, &w.k);
	memset(&w.v, 0, sizeof(w.v));
	w.v.ifindex = 7;
	ktab_put(&have, &w);
	c.have = &have;
	ok(adopts(&c, "100.96.1.0", 24, 3, 7, 0), "gre: a route of protocol "
	    "boot through k8s-64-60-01-00 is adopted");
	ok(!adopts(&c, "100.96.1.0", 24, 3, 8, 0) &&
	    !adopts(&c, "100.96.2.0", 24, 3, 7, 0), "not one through another "
	    "device, nor one through the tunnel of another prefix");
	ktab_free(&have);
}

#define GROWN	50000

/* The i-th of many distinct routes: 10.0.0.0/8 split into /32s. */
static struct kobj
numbered(unsigned i)
{
	struct kobj	o;

	memset(&o, 0, sizeof(o));
	o.k.type = KOBJ_ROUTE;
	o.k.family = AF_INET;
	o.k.plen = 32;
	o.k.addr[0] = 10;
	o.k.addr[1] = (uint8_t)(i >> 16);
	o.k.addr[2] = (uint8_t)(i >> 8);
	o.k.addr[3] = (uint8_t)i;
	o.v.oif = i + 1;
	return o;
}

/* Is every record there that should be, once, with its value? */
static int
walk_once(const struct ktab *t, unsigned n, int (*want)(unsigned))
{
	const struct kobj	*o = NULL;
	unsigned char		*seen = calloc(n, 1);
	unsigned		 b = 0, i, walked = 0, bad = 0;

	if (seen == NULL)
		bail_out("out of memory");
	while ((o = ktab_next(t, &b, o)) != NULL) {
		i = o->v.oif - 1;
		walked++;
		if (i >= n || !want(i) || seen[i]++ != 0)
			bad++;
	}
	for (i = 0; i < n; i++)
		if (want(i) != (seen[i] == 1))
			bad++;
	free(seen);
	if (bad != 0 || walked != ktab_count(t))
		diag("walked %u of %u, %u wrong", walked, ktab_count(t), bad);
	return bad == 0 && walked == ktab_count(t);
}

/* Removed as they came: the second of every three, but the last. */
static int
kept(unsigned i)
{
	return i % 3 != 1 || i + 1 == GROWN;
}

static int
any(unsigned i)
{
	(void)i;
	return 1;
}

static int
odd(unsigned i)
{
	return i % 2 == 1;
}

/*
 * A table starts small and doubles: through twelve doublings with
 * removals among the additions, every record found and walked once,
 * the buckets never beyond what the bound needs, the bound refused.
 */
static void
growth(void)
{
	struct ktab		 t;
	struct kobj		 o;
	const struct kobj	*g;
	unsigned		 i, bad = 0;

	if (!ok(ktab_init(&t, GROWN) == 0, "growth: a table for %u", GROWN))
		return;
	is_int(t.t.mask + 1, 16, "growth: it starts with 16 buckets");
	for (i = 0; i < GROWN; i++) {
		o = numbered(i);
		if (ktab_put(&t, &o) != 0)
			bad++;
		/* One in three removed while the table grows. */
		o = numbered(i - 1);
		if (i % 3 == 2 && ktab_del(&t, &o.k) != 0)
			bad++;
	}
	is_int(bad, 0, "growth: %u added, a third removed as they came",
	    GROWN);
	is_int(ktab_count(&t), GROWN - (GROWN - 1) / 3, "growth: counted");
	is_int(t.t.mask + 1, 65536, "growth: 65,536 buckets, the power of "
	    "two the bound needs");
	for (i = 0, bad = 0; i < GROWN; i++) {
		o = numbered(i);
		g = ktab_get(&t, &o.k);
		if (kept(i) ? g == NULL || g->v.oif != i + 1 : g != NULL)
			bad++;
	}
	is_int(bad, 0, "growth: each found with its value, none removed");
	ok(walk_once(&t, GROWN, kept), "growth: a walk sees each once");
	for (i = 1, bad = 0; i < GROWN; i += 3) {
		o = numbered(i);
		if (ktab_put(&t, &o) != 0)
			bad++;
	}
	ok(bad == 0 && ktab_count(&t) == GROWN, "growth: filled to the bound");
	o = numbered(GROWN);
	is_int(ktab_put(&t, &o), -1, "growth: one more is refused");
	ok(ktab_get(&t, &o.k) == NULL && ktab_count(&t) == GROWN,
	    "growth: and not kept");
	o = numbered(7);
	o.v.onlink = 1;
	ok(ktab_put(&t, &o) == 0 && (g = ktab_get(&t, &o.k)) != NULL &&
	    g->v.onlink == 1, "growth: at the bound, one held may still "
	    "change");
	ok(walk_once(&t, GROWN, any), "growth: a walk of the full table sees "
	    "each once");
	for (i = 0, bad = 0; i < GROWN; i += 2) {
		o = numbered(i);
		if (ktab_del(&t, &o.k) != 0)
			bad++;
	}
	ok(bad == 0 && ktab_count(&t) == GROWN / 2, "growth: half removed "
	    "after");
	ok(walk_once(&t, GROWN, odd), "growth: a walk sees the rest once");
	ktab_free(&t);

	/* A bound below the first 16 buckets. */
	if (!ok(ktab_init(&t, 3) == 0, "growth: a table for 3"))
		return;
	for (i = 0, bad = 0; i < 3; i++) {
		o = numbered(i);
		if (ktab_put(&t, &o) != 0)
			bad++;
	}
	o = numbered(3);
	ok(bad == 0 && ktab_put(&t, &o) == -1 &&
	    ktab_count(&t) == 3 && t.t.mask + 1 == 16,
	    "growth: 3 held, the fourth refused, 16 buckets");
	ktab_free(&t);
}

int
main(void)
{
	char	 err[128];

	if (!ok(cluster_parse("100.96.0.0/12,fd00:100::/48", cluster, err,
	    sizeof(err)) == 0, "the cluster range parses"))
		diag("%s", err);
	naming();
	wanted();
	requests();
	requests6();
	adoption();
	growth();
	return done_testing();
}
