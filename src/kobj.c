/*
 * The kernel objects each mode but ipsec owns, as plain values: what a
 * route intent asks for, the rtnetlink requests that make, change or
 * remove them and the parsing of what the kernel reports.  Pure code:
 * no I/O.
 */
#include <sys/socket.h>
#include <net/if.h>	/* before the linux/ headers, which include linux/if.h */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_tunnel.h>
#include <linux/ip6_tunnel.h>
#include <linux/ipv6_route.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "envelope.h"
#include "kobj.h"
#include "ktab.h"
#include "kxfrm.h"
#include "link.h"
#include "nl.h"

static unsigned
alen(uint8_t family)
{
	return family == AF_INET6 ? 16 : 4;
}

/*
 * The 32 bits of a pod prefix that tell one node's from another's: for
 * IPv4 the whole network address, as the original agent takes it; for
 * IPv6 the 32 bits that end at the prefix length, where the node part
 * of a pod prefix lies.
 */
static uint32_t
node_bits(uint8_t family, uint8_t plen, const uint8_t *prefix)
{
	unsigned	 end = family == AF_INET6 ? plen : 32, bit, i;
	uint32_t	 w = 0;

	if (end < 32)
		end = 32;
	for (i = 0; i < 32; i++) {
		bit = end - 32 + i;
		w = w << 1 | ((prefix[bit / 8] >> (7 - bit % 8)) & 1);
	}
	return w;
}

/* The VXLAN MAC of the node that owns a pod prefix: 00:53 and its bits. */
void
kobj_vxlan_mac(uint8_t family, uint8_t plen, const uint8_t *prefix,
    uint8_t mac[6])
{
	uint32_t	 w = node_bits(family, plen, prefix);
	unsigned	 i;

	mac[0] = 0;
	mac[1] = 0x53;
	for (i = 0; i < 4; i++)
		mac[2 + i] = (uint8_t)(w >> (24 - 8 * i));
}

/*
 * The tunnel to the node that owns a pod prefix.  IPv4: named as the
 * original agent names it, k8s- and the network address's four bytes
 * in hex, dash-separated.  IPv6: k8s6- and the prefix's node bits in 8
 * hex digits, which no IPv4 name can be.  Both fit IFNAMSIZ.
 */
void
kobj_gre_name(uint8_t family, uint8_t plen, const uint8_t *prefix,
    char name[16])
{
	char		 buf[32] = "";	/* NUL-padded: the name is a key */
	uint32_t	 w = node_bits(family, plen, prefix);

	if (family == AF_INET6)
		snprintf(buf, sizeof(buf), KOBJ_GRE6_PREFIX "%08x", w);
	else
		snprintf(buf, sizeof(buf), KOBJ_GRE_PREFIX
		    "%02x-%02x-%02x-%02x", w >> 24, (w >> 16) & 0xff,
		    (w >> 8) & 0xff, w & 0xff);
	memset(name, 0, 16);
	memcpy(name, buf, 15);
}

/*
 * Does the name tell the prefix from every other of its length in the
 * cluster range?  Only when all the bits between the range's length
 * and the prefix's are among the 32 it takes.
 */
int
kobj_gre_unique(const struct kn_prefix cluster[2], uint8_t family,
    uint8_t plen)
{
	const struct kn_prefix	*c = cluster_of(cluster, family);

	return family != AF_INET6 || (c != NULL && plen <= c->len + 32);
}

/* The key of the tunnel a gre mode route goes through. */
void
kobj_tunnel_key(const struct kobj *route, struct kobj_key *k)
{
	memset(k, 0, sizeof(*k));
	k->type = KOBJ_TUNNEL;
	kobj_gre_name(route->k.family, route->k.plen, route->k.addr, k->name);
}

/* The objects a mode wants for one intent; how many. */
int
kobj_wanted(const struct kobj_ctx *c, const struct msg_intent *in,
    struct kobj out[KOBJ_PER_INTENT])
{
	uint32_t	 dev = c->vxlan[in->family == AF_INET6];
	uint8_t		 mac[6];
	int		 n = 0, f;

	memset(out, 0, KOBJ_PER_INTENT * sizeof(*out));
	switch (c->mode) {
	case MODE_LAYER2:
		out[0].k.type = KOBJ_ROUTE;
		out[0].k.family = in->family;
		out[0].k.plen = in->plen;
		memcpy(out[0].k.addr, in->prefix, 16);
		out[0].v.oif = c->target;
		out[0].v.gwfamily = in->family;
		memcpy(out[0].v.gw, in->node, 16);
		return 1;
	case MODE_VXLAN:
	case MODE_VXLAN_LEGACY:
		if (dev == 0)
			return 0;
		kobj_vxlan_mac(in->family, in->plen, in->prefix, mac);
		out[n].k.type = KOBJ_FDB;
		out[n].k.ifindex = dev;
		memcpy(out[n].k.mac, mac, 6);
		out[n].v.gwfamily = in->family;
		memcpy(out[n].v.gw, in->node, 16);
		n++;
		if (c->mode == MODE_VXLAN_LEGACY)
			return n;
		out[n].k.type = KOBJ_NEIGH;
		out[n].k.family = in->family;
		out[n].k.ifindex = dev;
		memcpy(out[n].k.addr, in->prefix, 16);
		out[n].v.state = NUD_PERMANENT;
		memcpy(out[n].v.mac, mac, 6);
		n++;
		out[n].k.type = KOBJ_ROUTE;
		out[n].k.family = in->family;
		out[n].k.plen = in->plen;
		memcpy(out[n].k.addr, in->prefix, 16);
		out[n].v.oif = dev;
		out[n].v.gwfamily = in->family;
		out[n].v.onlink = 1;
		memcpy(out[n].v.gw, in->prefix, 16);
		n++;
		return n;
	case MODE_GRE:
		/* Nothing until this node's own address is known. */
		f = in->family == AF_INET6;
		if (c->gre_mtu[f] == 0 ||
		    !kobj_gre_unique(c->cluster, in->family, in->plen))
			return 0;
		out[1].k.type = KOBJ_ROUTE;
		out[1].k.family = in->family;
		out[1].k.plen = in->plen;
		memcpy(out[1].k.addr, in->prefix, 16);
		out[1].v.tunnel = 1;	/* its index: see kobj_tunnel_key */
		kobj_tunnel_key(&out[1], &out[0].k);
		out[0].v.gwfamily = in->family;
		memcpy(out[0].v.gw, in->node, 16);
		memcpy(out[0].v.local, c->gre_local[f], 16);
		out[0].v.ttl = KOBJ_GRE_TTL;
		out[0].v.mtu = c->gre_mtu[f];
		/* No 8-byte option that a peer's GRE stack must parse. */
		if (f)
			out[0].v.tflags = IP6_TNL_F_IGN_ENCAP_LIMIT;
		out[0].v.up = 1;
		return 2;
	case MODE_IPSEC:
		return kxfrm_wanted(c, in, out);
	}
	return 0;
}

/* Does the kernel's object already say what we want? */
int
kobj_same(const struct kobj *want, const struct kobj *have)
{
	struct kobj_val	 v = have->v;

	/* What the kernel gave, or the executor looks up, not what it asks. */
	v.ifindex = want->v.ifindex;
	v.tunnel = want->v.tunnel;
	/* A state's counters move with every packet. */
	v.oseq = want->v.oseq;
	v.rseq = want->v.rseq;
	v.rbitmap = want->v.rbitmap;
	/* A route whose device the kernel chose matches on any device. */
	if (want->k.type == KOBJ_ROUTE && want->v.oif == 0)
		v.oif = 0;
	return memcmp(&want->v, &v, sizeof(v)) == 0;
}

static void
mac_name(const uint8_t *m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
	    m[3], m[4], m[5]);
}

/* For log lines: "route 100.96.1.0/24 via 10.0.0.2 dev 2" and so on. */
void
kobj_name(const struct kobj *o, char *buf, size_t len)
{
	char	 a[INET6_ADDRSTRLEN] = "?", g[INET6_ADDRSTRLEN] = "?", m[18];

	if (o->k.type == KOBJ_XSTATE || o->k.type == KOBJ_XPOLICY) {
		kxfrm_name(o, buf, len);
		return;
	}
	if (o->k.family != 0)
		inet_ntop(o->k.family, o->k.addr, a, sizeof(a));
	if (o->v.gwfamily != 0)
		inet_ntop(o->v.gwfamily, o->v.gw, g, sizeof(g));
	switch (o->k.type) {
	case KOBJ_ROUTE:
		if (o->v.gwfamily == 0)
			snprintf(buf, len, "route %s/%u dev %u", a, o->k.plen,
			    o->v.oif);
		else
			snprintf(buf, len, "route %s/%u via %s%s dev %u", a,
			    o->k.plen, g, o->v.onlink ? " onlink" : "",
			    o->v.oif);
		break;
	case KOBJ_TUNNEL:
		inet_ntop(o->v.gwfamily == AF_INET6 ? AF_INET6 : AF_INET,
		    o->v.local, a, sizeof(a));
		snprintf(buf, len, "tunnel %.16s remote %s local %s ttl %u "
		    "mtu %u", o->k.name, g, a, o->v.ttl, o->v.mtu);
		break;
	case KOBJ_NEIGH:
		mac_name(o->v.mac, m, sizeof(m));
		snprintf(buf, len, "neighbour %s lladdr %s dev %u", a, m,
		    o->k.ifindex);
		break;
	case KOBJ_FDB:
		mac_name(o->k.mac, m, sizeof(m));
		snprintf(buf, len, "fdb %s dst %s dev %u", m, g, o->k.ifindex);
		break;
	default:
		snprintf(buf, len, "object of type %u", o->k.type);
	}
}

/*
 * A GRE tunnel, gre or ip6gre by the family of its ends: made up with
 * everything set; changed in place on its index (the kernel moves a
 * tunnel to new addresses live, and an existing link takes no
 * NLM_F_REPLACE); removed by index.  A change clears any key, checksum
 * or sequence someone added.
 */
static void
tunnel_request(struct nlmsghdr *nlh, enum kobj_op op, const struct kobj *o)
{
	struct ifinfomsg	*ifi;
	struct nlattr		*li, *data;
	int			 v6 = o->v.gwfamily == AF_INET6;

	nlh->nlmsg_type = op == KOBJ_DELETE ? RTM_DELLINK : RTM_NEWLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	if (op != KOBJ_CREATE)
		ifi->ifi_index = (int)o->v.ifindex;
	if (op == KOBJ_DELETE)
		return;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	if (op == KOBJ_CREATE) {
		nlh->nlmsg_flags |= NLM_F_CREATE | NLM_F_EXCL;
		mnl_attr_put_strz(nlh, IFLA_IFNAME, o->k.name);
	}
	mnl_attr_put_u32(nlh, IFLA_MTU, o->v.mtu);
	li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, v6 ? "ip6gre" : "gre");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put(nlh, IFLA_GRE_LOCAL, alen(o->v.gwfamily), o->v.local);
	mnl_attr_put(nlh, IFLA_GRE_REMOTE, alen(o->v.gwfamily), o->v.gw);
	mnl_attr_put_u8(nlh, IFLA_GRE_TTL, o->v.ttl);
	/* ip6gre always discovers the path MTU; its flags are its own. */
	if (v6)
		mnl_attr_put_u32(nlh, IFLA_GRE_FLAGS, o->v.tflags);
	else
		mnl_attr_put_u8(nlh, IFLA_GRE_PMTUDISC, 1);
	if (op == KOBJ_REPLACE) {
		mnl_attr_put_u16(nlh, IFLA_GRE_IFLAGS, 0);
		mnl_attr_put_u16(nlh, IFLA_GRE_OFLAGS, 0);
		mnl_attr_put_u32(nlh, IFLA_GRE_IKEY, 0);
		mnl_attr_put_u32(nlh, IFLA_GRE_OKEY, 0);
	}
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, li);
}

static const uint16_t	 op_flags[] = {
	[KOBJ_CREATE] = NLM_F_CREATE | NLM_F_EXCL,
	[KOBJ_REPLACE] = NLM_F_CREATE | NLM_F_REPLACE,
	[KOBJ_DELETE] = 0,
};

/*
 * Fills in a request made by nl_batch_add (header type and flags are
 * set here).  Neighbours and FDB entries live on our own device, so
 * they are always replaced; a route is created exclusively unless it
 * is known to be ours.  A delete names our protocol, so the kernel
 * itself refuses to remove a route that is not ours.
 */
void
kobj_request(struct nlmsghdr *nlh, const struct kobj_ctx *c, enum kobj_op op,
    const struct kobj *o)
{
	static const uint8_t	 zero[16];
	struct rtmsg		*rtm;
	struct ndmsg		*ndm;
	int			 del = op == KOBJ_DELETE;

	if (o->k.type == KOBJ_TUNNEL) {
		tunnel_request(nlh, op, o);
		return;
	}
	nlh->nlmsg_flags |= op_flags[op];
	if (o->k.type == KOBJ_XSTATE || o->k.type == KOBJ_XPOLICY) {
		kxfrm_request(nlh, op, o);
		return;
	}
	if (o->k.type == KOBJ_ROUTE) {
		nlh->nlmsg_type = del ? RTM_DELROUTE : RTM_NEWROUTE;
		rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
		rtm->rtm_family = o->k.family;
		rtm->rtm_dst_len = o->k.plen;
		rtm->rtm_table = RT_TABLE_MAIN;
		rtm->rtm_protocol = o->v.proto != 0 ? o->v.proto : c->protocol;
		rtm->rtm_scope = del ? RT_SCOPE_NOWHERE : RT_SCOPE_UNIVERSE;
		rtm->rtm_type = RTN_UNICAST;
		mnl_attr_put(nlh, RTA_DST, alen(o->k.family), o->k.addr);
		/* Another's, removed: that one alone, on our device. */
		if (del && o->v.proto != 0 && o->v.oif != 0)
			mnl_attr_put_u32(nlh, RTA_OIF, o->v.oif);
		if (del)
			return;
		if (memcmp(o->v.local, zero, sizeof(o->v.local)) != 0)
			mnl_attr_put(nlh, RTA_PREFSRC, alen(o->k.family),
			    o->v.local);
		if (o->v.onlink)
			rtm->rtm_flags |= RTNH_F_ONLINK;
		/* No gateway: straight into the device, as "ip route" does. */
		if (o->v.gwfamily != 0)
			mnl_attr_put(nlh, RTA_GATEWAY, alen(o->v.gwfamily),
			    o->v.gw);
		else
			rtm->rtm_scope = RT_SCOPE_LINK;
		if (o->v.oif != 0)
			mnl_attr_put_u32(nlh, RTA_OIF, o->v.oif);
		return;
	}
	nlh->nlmsg_type = del ? RTM_DELNEIGH : RTM_NEWNEIGH;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_ifindex = (int)o->k.ifindex;
	if (o->k.type == KOBJ_NEIGH) {
		ndm->ndm_family = o->k.family;
		ndm->ndm_state = o->v.state;
		mnl_attr_put(nlh, NDA_DST, alen(o->k.family), o->k.addr);
		if (!del)
			mnl_attr_put(nlh, NDA_LLADDR, 6, o->v.mac);
		return;
	}
	ndm->ndm_family = AF_BRIDGE;
	ndm->ndm_flags = NTF_SELF;
	ndm->ndm_state = NUD_PERMANENT | NUD_NOARP;
	mnl_attr_put(nlh, NDA_LLADDR, 6, o->k.mac);
	if (!del)
		mnl_attr_put(nlh, NDA_DST, alen(o->v.gwfamily), o->v.gw);
}

/* Copies an address attribute of exactly the family's length. */
static int
attr_addr(const struct nlattr *a, uint8_t family, uint8_t *out)
{
	if (a == NULL || mnl_attr_get_payload_len(a) != alen(family))
		return -1;
	memcpy(out, mnl_attr_get_payload(a), alen(family));
	return 0;
}

static int
our_device(const struct kobj_ctx *c, uint32_t ifindex)
{
	return ifindex != 0 && (ifindex == c->vxlan[0] ||
	    ifindex == c->vxlan[1]);
}

/*
 * Taking over another agent's routes, so that an upgrade from the
 * original Go agent (kopeio/networking) needs no hand work.  What it
 * leaves, per mode (its pkg/routing; vishvananda/netlink's RouteAdd with
 * the protocol set to RTPROT_BOOT, 3, no metric: 0, or IPv6's 1024,
 * table main, unicast; IPv4 only):
 *  - layer2: podCIDR via nodeIP dev <target>;
 *  - vxlan (its vxlan2): on vxlan1, VNI 1, port 4789, learning off,
 *    MAC 00:53 and the pod network address, the address
 *    podCIDR.network/32: podCIDR via podCIDR.network dev vxlan1
 *    onlink, scope global; a permanent neighbour podCIDR.network
 *    lladdr MAC and a permanent FDB entry (self) MAC dst nodeIP per
 *    peer, as ours;
 *  - vxlan-legacy (its vxlan): the same device addressed
 *    podCIDR.network/<cluster length>, and the kernel's connected
 *    route for the range replaced by its own (range dev vxlan1 proto
 *    boot scope global, no source); FDB per peer;
 *  - gre: a gre tunnel k8s-a-b-c-d (the pod network address's bytes in
 *    hex: our names) local nodeIP remote peerIP ttl 255, up, MTU left
 *    to the kernel; podCIDR dev k8s-a-b-c-d, scope global.
 * Its neighbours, FDB entries, devices and tunnels are ours already by
 * where they are; its routes are not, by their protocol.  So a route
 * of another protocol is adopted when, at the default metric in the
 * main table, its prefix lies in the cluster range clear of this
 * node's pod CIDR (the envelope's bounds) and it goes through our own
 * device (vxlan, vxlan-legacy: vxlan1 or vxlan1v6; gre: the tunnel
 * named for its prefix) or, in layer2, it has --adopt-protocol's
 * number (on --target when that is given).  The kernel's own routes
 * (RTPROT_KERNEL) follow addresses and are never taken, but for
 * vxlan-legacy's connected route (kobj_is_connected).  Adopted, a
 * route is changed in place to ours (NLM_F_REPLACE, same table,
 * prefix and metric) or removed, naming its protocol and device.
 */
int
kobj_is_connected(const struct kobj_ctx *c, const struct kobj *o)
{
	const struct kn_prefix	*cl = cluster_of(c->cluster, o->k.family);

	return c->mode == MODE_VXLAN_LEGACY && o->k.type == KOBJ_ROUTE &&
	    o->k.family == AF_INET && cl != NULL && o->k.plen == cl->len &&
	    memcmp(o->k.addr, cl->addr, 16) == 0 && our_device(c, o->v.oif);
}

/*
 * vxlan-legacy, IPv4 (the family the original agent had): the route
 * the kernel makes for the device's address, the whole range, as it
 * makes it.  0 while the device or its address is not known.
 */
int
kobj_connected(const struct kobj_ctx *c, int f, struct kobj *o)
{
	static const uint8_t	 zero[16];
	const struct kn_prefix	*cl = cluster_of(c->cluster, AF_INET);

	memset(o, 0, sizeof(*o));
	if (c->mode != MODE_VXLAN_LEGACY || f != 0 || cl == NULL ||
	    c->vxlan[f] == 0 || memcmp(c->vaddr[f], zero, 16) == 0)
		return 0;
	o->k.type = KOBJ_ROUTE;
	o->k.family = AF_INET;
	o->k.plen = cl->len;
	memcpy(o->k.addr, cl->addr, 16);
	o->v.oif = c->vxlan[f];
	o->v.proto = RTPROT_KERNEL;
	memcpy(o->v.local, c->vaddr[f], 16);
	return 1;
}

static int
adoptable(const struct kobj_ctx *c, uint8_t proto, uint32_t metric,
    const struct kobj *o)
{
	struct kobj_key		 tk;
	const struct kobj	*t;

	if (c->local == NULL)
		return 0;
	if (kobj_is_connected(c, o))
		return 1;
	if (proto == RTPROT_KERNEL || metric != (o->k.family == AF_INET6 ?
	    IP6_RT_PRIO_USER : 0) || !prefix_adoptable(c->cluster, c->local,
	    o->k.family, o->k.plen, o->k.addr))
		return 0;
	switch (c->mode) {
	case MODE_LAYER2:
		return c->adopt != 0 && proto == c->adopt &&
		    (c->target == 0 || o->v.oif == c->target);
	case MODE_VXLAN:
	case MODE_VXLAN_LEGACY:
		return our_device(c, o->v.oif);
	case MODE_GRE:
		if (c->have == NULL || !kobj_gre_unique(c->cluster,
		    o->k.family, o->k.plen))
			return 0;
		kobj_tunnel_key(o, &tk);
		t = ktab_get(c->have, &tk);
		return t != NULL && t->v.ifindex != 0 &&
		    t->v.ifindex == o->v.oif;
	}
	return 0;
}

/* May a route of another protocol be adopted in this mode at all? */
static int
adopting(const struct kobj_ctx *c)
{
	return c->mode != MODE_LAYER2 || c->adopt != 0;
}

static int
parse_route(const struct nlmsghdr *nlh, const struct kobj_ctx *c,
    struct kobj *o)
{
	const struct rtmsg	*rtm = mnl_nlmsg_get_payload(nlh);
	struct nl_attrs		 t = { { NULL } };
	uint32_t		 table, metric;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm) ||
	    rtm->rtm_type != RTN_UNICAST ||
	    (rtm->rtm_protocol != c->protocol && !adopting(c)) ||
	    (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6))
		return 0;
	if (mnl_attr_parse(nlh, sizeof(*rtm), nl_attr_cb, &t) < 0)
		return 0;
	table = t.a[RTA_TABLE] != NULL ? mnl_attr_get_u32(t.a[RTA_TABLE]) :
	    rtm->rtm_table;
	if (table != RT_TABLE_MAIN)
		return 0;
	o->k.type = KOBJ_ROUTE;
	o->k.family = rtm->rtm_family;
	o->k.plen = rtm->rtm_dst_len;
	if (rtm->rtm_dst_len > 0 &&
	    attr_addr(t.a[RTA_DST], rtm->rtm_family, o->k.addr) == -1)
		return 0;
	if (t.a[RTA_GATEWAY] != NULL) {
		if (attr_addr(t.a[RTA_GATEWAY], rtm->rtm_family, o->v.gw) == -1)
			return 0;
		o->v.gwfamily = rtm->rtm_family;
	}
	if (t.a[RTA_OIF] != NULL)
		o->v.oif = mnl_attr_get_u32(t.a[RTA_OIF]);
	if (t.a[RTA_PREFSRC] != NULL && attr_addr(t.a[RTA_PREFSRC],
	    rtm->rtm_family, o->v.local) == -1)
		return 0;
	o->v.onlink = (rtm->rtm_flags & RTNH_F_ONLINK) != 0;
	if (rtm->rtm_protocol == c->protocol)
		return 1;
	metric = t.a[RTA_PRIORITY] != NULL ?
	    mnl_attr_get_u32(t.a[RTA_PRIORITY]) : 0;
	if (!adoptable(c, rtm->rtm_protocol, metric, o))
		return 0;
	o->v.proto = rtm->rtm_protocol;
	return 1;
}

static int
parse_neigh(const struct nlmsghdr *nlh, const struct kobj_ctx *c,
    struct kobj *o)
{
	const struct ndmsg	*ndm = mnl_nlmsg_get_payload(nlh);
	struct nl_attrs		 t = { { NULL } };
	static const uint8_t	 zero[6];

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ndm) ||
	    ndm->ndm_ifindex <= 0 || !our_device(c, (uint32_t)ndm->ndm_ifindex))
		return 0;
	if (mnl_attr_parse(nlh, sizeof(*ndm), nl_attr_cb, &t) < 0)
		return 0;
	o->k.ifindex = (uint32_t)ndm->ndm_ifindex;
	if (ndm->ndm_family == AF_BRIDGE) {
		if (t.a[NDA_LLADDR] == NULL ||
		    mnl_attr_get_payload_len(t.a[NDA_LLADDR]) != 6)
			return 0;
		memcpy(o->k.mac, mnl_attr_get_payload(t.a[NDA_LLADDR]), 6);
		/* The all-zeros default destination is never ours. */
		if (memcmp(o->k.mac, zero, 6) == 0)
			return 0;
		o->k.type = KOBJ_FDB;
		if (t.a[NDA_DST] != NULL) {
			o->v.gwfamily = mnl_attr_get_payload_len(
			    t.a[NDA_DST]) == 16 ? AF_INET6 : AF_INET;
			if (attr_addr(t.a[NDA_DST], o->v.gwfamily, o->v.gw) ==
			    -1)
				return 0;
		}
		return 1;
	}
	if (!c->neigh ||
	    (ndm->ndm_family != AF_INET && ndm->ndm_family != AF_INET6))
		return 0;
	o->k.type = KOBJ_NEIGH;
	o->k.family = ndm->ndm_family;
	if (attr_addr(t.a[NDA_DST], ndm->ndm_family, o->k.addr) == -1)
		return 0;
	o->v.state = ndm->ndm_state;
	if (t.a[NDA_LLADDR] != NULL &&
	    mnl_attr_get_payload_len(t.a[NDA_LLADDR]) == 6)
		memcpy(o->v.mac, mnl_attr_get_payload(t.a[NDA_LLADDR]), 6);
	return 1;
}

/*
 * gre mode: for each family the cluster range has, every device of
 * kind gre whose name starts with k8s- (IPv4) or of kind ip6gre whose
 * name starts with k8s6- (IPv6) is ours (the fallback devices gre0 and
 * ip6gre0 and any other kind are not), whatever its settings, so a
 * wrong one is changed and an extra one removed.
 */
static int
parse_tunnel(const struct nlmsghdr *nlh, const struct kobj_ctx *c,
    struct kobj *o)
{
	struct linkinfo	 li;
	const char	*prefix;

	if (c->mode != MODE_GRE)
		return 0;
	memset(&li, 0, sizeof(li));
	link_parse(nlh, &li);
	prefix = li.gre == AF_INET6 ? KOBJ_GRE6_PREFIX : KOBJ_GRE_PREFIX;
	if (!li.found || li.gre == 0 || li.ifindex == 0 ||
	    cluster_of(c->cluster, li.gre) == NULL ||
	    strncmp(li.name, prefix, strlen(prefix)) != 0)
		return 0;
	o->k.type = KOBJ_TUNNEL;
	memcpy(o->k.name, li.name, sizeof(o->k.name));
	o->v.gwfamily = li.gre;
	memcpy(o->v.gw, li.remote, sizeof(li.remote));
	if (li.localfam == li.gre)
		memcpy(o->v.local, li.local, sizeof(li.local));
	o->v.ttl = li.ttl;
	o->v.mtu = li.mtu;
	o->v.tflags = li.tflags;
	o->v.up = (li.flags & IFF_UP) != 0;
	o->v.keyed = li.keyed;
	o->v.ifindex = li.ifindex;
	return 1;
}

/*
 * 1 and *o filled when the message reports an object we own (*deleted
 * says whether it went away) or, as RTM_GETNEIGH, asks for a neighbour
 * on our device; 0 for anything else.
 */
int
kobj_parse(const struct nlmsghdr *nlh, const struct kobj_ctx *c,
    struct kobj *o, int *deleted)
{
	memset(o, 0, sizeof(*o));
	*deleted = nlh->nlmsg_type == RTM_DELROUTE ||
	    nlh->nlmsg_type == RTM_DELNEIGH || nlh->nlmsg_type == RTM_DELLINK;
	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		return parse_tunnel(nlh, c, o);
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		return parse_route(nlh, c, o);
	case RTM_NEWNEIGH:
	case RTM_DELNEIGH:
	case RTM_GETNEIGH:	/* the kernel asks: a miss, no address yet */
		return parse_neigh(nlh, c, o);
	}
	return 0;
}

/*
 * A dump of what we may own, which the kernel filters (strict
 * checking): routes in the main table of protocol proto (0: any) on
 * device ifindex (0: any), the neighbours or FDB entries (AF_BRIDGE)
 * of device ifindex, or the GRE devices of a family (when the kind's
 * module is loaded).
 */
struct nlmsghdr *
kobj_dump_request(char *buf, size_t len, uint16_t type, uint8_t family,
    uint32_t ifindex, uint8_t proto)
{
	struct nlmsghdr	*nlh;
	struct rtmsg	*rtm;
	struct ndmsg	*ndm;
	struct nlattr	*li;

	memset(buf, 0, len);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_DUMP;
	if (type == RTM_GETLINK) {
		(void)mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
		li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
		mnl_attr_put_strz(nlh, IFLA_INFO_KIND, family == AF_INET6 ?
		    "ip6gre" : "gre");
		mnl_attr_nest_end(nlh, li);
	} else if (type == RTM_GETROUTE) {
		rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
		rtm->rtm_family = family;
		rtm->rtm_protocol = proto;
		rtm->rtm_table = RT_TABLE_MAIN;
		if (ifindex != 0)
			mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
	} else {
		ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
		ndm->ndm_family = family;
		mnl_attr_put_u32(nlh, NDA_IFINDEX, ifindex);
	}
	return nlh;
}

/* Files each owned object of a dump; -1 (ENOSPC) when the table is full. */
int
kobj_collect(const struct nlmsghdr *nlh, void *arg)
{
	struct kobj_collect	*kc = arg;
	struct kobj		 o;
	int			 deleted;

	if (kobj_parse(nlh, kc->ctx, &o, &deleted) == 1 &&
	    ktab_put(kc->tab, &o) == -1) {
		errno = ENOSPC;
		return -1;
	}
	return 0;
}
