/*
 * The gre mode's kernel objects, driven directly: the tunnel's name,
 * what an intent wants, the requests that make, change and remove a
 * tunnel and its route, and a tunnel the kernel reports read back as
 * the same object.  No kernel: the host may have no GRE.
 */
#include <sys/socket.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/if_tunnel.h>
#include <linux/rtnetlink.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "../src/config.h"
#include "../src/kobj.h"
#include "../src/nl.h"

static struct kobj_ctx	 ctx = {
	.mode = MODE_GRE,
	.protocol = 107,
	.gre_local = { 172, 20, 0, 10 },
	.gre_mtu = 1476,
};

static struct msg_intent
intent(const char *prefix, uint8_t plen, const char *node)
{
	struct msg_intent	 in;

	memset(&in, 0, sizeof(in));
	in.family = AF_INET;
	in.plen = plen;
	inet_pton(AF_INET, prefix, in.prefix);
	inet_pton(AF_INET, node, in.node);
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
	char		 name[16];
	const uint8_t	 a[4] = { 100, 96, 1, 0 }, b[4] = { 100, 111, 255, 128 };

	kobj_gre_name(a, name);
	is_str(name, "k8s-64-60-01-00", "100.96.1.0: named as the original "
	    "agent names it");
	kobj_gre_name(b, name);
	is_str(name, "k8s-64-6f-ff-80", "100.111.255.128 too");
	ok(strlen(name) == IFNAMSIZ - 1, "the longest name fits IFNAMSIZ");
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

	c.gre_mtu = 0;
	is_int(kobj_wanted(&c, &in, o), 0, "nothing before this node's "
	    "address is known");
	in.family = AF_INET6;
	is_int(kobj_wanted(&ctx, &in, o), 0, "nothing for an IPv6 prefix");
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

int
main(void)
{
	naming();
	wanted();
	requests();
	return done_testing();
}
