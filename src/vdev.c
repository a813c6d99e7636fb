/*
 * The VXLAN device of one family: planned from the local node, made,
 * set back or made again over the netlink command socket, given its
 * own address; and the underlay and MTU lookups that plan it and the
 * gre mode's tunnels.
 */
#include <sys/socket.h>
#include <net/if.h>	/* before the linux/ headers, which include linux/if.h */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include <string.h>

#include "kobj.h"
#include "link.h"
#include "log.h"
#include "nl.h"
#include "vdev.h"

#define VXLAN_VNI		1
#define VXLAN_PORT		4789
#define VXLAN_OVERHEAD4		50	/* outer IPv4, UDP, VXLAN, Ethernet */
#define VXLAN_OVERHEAD6		70
#define VXLAN_APP_PROBES	3	/* as the original agent */

#define STALE_MAX	8

/* What an address dump of one family finds. */
struct addrscan {
	uint8_t		 family;
	const uint8_t	*addr;		/* the node's own: on which device? */
	uint32_t	 ifindex;
	uint32_t	 dev;		/* our device: its other addresses */
	uint8_t		 plen;		/* and the one it keeps */
	int		 nstale;
	uint8_t		 stale[STALE_MAX][16];
	uint8_t		 stale_plen[STALE_MAX];
};

static int
addr_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct addrscan		*f = arg;
	const struct ifaddrmsg	*ifa = mnl_nlmsg_get_payload(nlh);
	struct nl_attrs		 tb = { { NULL } };
	const struct nlattr	*a;
	const uint8_t		*p;
	unsigned		 len = f->family == AF_INET6 ? 16 : 4;

	if (nlh->nlmsg_type != RTM_NEWADDR ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa) ||
	    ifa->ifa_family != f->family ||
	    mnl_attr_parse(nlh, sizeof(*ifa), nl_attr_cb, &tb) < 0)
		return 0;
	a = tb.a[IFA_LOCAL] != NULL ? tb.a[IFA_LOCAL] : tb.a[IFA_ADDRESS];
	if (a == NULL || mnl_attr_get_payload_len(a) != len)
		return 0;
	p = mnl_attr_get_payload(a);
	if (memcmp(p, f->addr, len) == 0 && (f->dev == 0 ||
	    (ifa->ifa_index == f->dev && ifa->ifa_prefixlen == f->plen)))
		f->ifindex = ifa->ifa_index;
	else if (f->dev != 0 && ifa->ifa_index == f->dev &&
	    f->nstale < STALE_MAX &&
	    !(len == 16 && p[0] == 0xfe && (p[1] & 0xc0) == 0x80)) {
		/* Not the link-local address the kernel gives IPv6. */
		memcpy(f->stale[f->nstale], p, len);
		f->stale_plen[f->nstale++] = ifa->ifa_prefixlen;
	}
	return 0;
}

/* One address request for a device, in buf. */
static struct nlmsghdr *
addr_msg(char *buf, size_t size, uint16_t type, uint16_t flags,
    uint8_t family, uint8_t plen, uint32_t ifindex, const uint8_t *addr)
{
	struct nlmsghdr		*nlh;
	struct ifaddrmsg	*ifa;
	unsigned		 len = family == AF_INET6 ? 16 : 4;

	memset(buf, 0, size);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = family;
	ifa->ifa_prefixlen = plen;
	ifa->ifa_index = ifindex;
	if (addr != NULL) {
		mnl_attr_put(nlh, IFA_LOCAL, len, addr);
		mnl_attr_put(nlh, IFA_ADDRESS, len, addr);
	}
	if (family == AF_INET6)
		ifa->ifa_flags = IFA_F_NODAD;
	return nlh;
}

static void
addr_scan(struct nl *nl, struct addrscan *f)
{
	char	 buf[64] __attribute__((aligned(8)));

	if (nl_query(nl, addr_msg(buf, sizeof(buf), RTM_GETADDR,
	    NLM_F_DUMP, f->family, 0, 0, NULL), addr_cb, f) == -1)
		log_warn("reading the addresses");
}

/* The device that carries the node's own address. */
uint32_t
vdev_underlay(struct nl *nl, uint8_t family, const uint8_t *addr)
{
	struct addrscan	 f;

	memset(&f, 0, sizeof(f));
	f.family = family;
	f.addr = addr;
	addr_scan(nl, &f);
	return f.ifindex;
}

/* The MTU of a device, 1500 when it cannot be had. */
uint32_t
vdev_mtu_of(struct nl *nl, uint32_t ifindex)
{
	struct linkinfo	 li;

	if (ifindex != 0 && link_get(nl, NULL, ifindex, &li) == 0 &&
	    li.found && li.mtu > 0)
		return li.mtu;
	return 1500;
}

/* One request, its ack awaited; 0 or -1 with the error logged. */
static int
link_talk(struct nl *nl, struct nlmsghdr *nlh, const char *what)
{
	if (nl_query(nl, nlh, link_parse, &(struct linkinfo){ 0 }) == -1) {
		log_warn("%s", what);
		return -1;
	}
	return 0;
}

static int
vdev_create(struct nl *nl, struct vdev *d)
{
	char		 buf[512] __attribute__((aligned(8)));
	struct nlmsghdr	*nlh;
	struct nlattr	*li, *data;

	nlh = link_msg(buf, sizeof(buf), RTM_NEWLINK, NLM_F_CREATE |
	    NLM_F_EXCL, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, d->name);
	mnl_attr_put_u32(nlh, IFLA_MTU, d->mtu);
	mnl_attr_put(nlh, IFLA_ADDRESS, 6, d->mac);
	li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "vxlan");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u32(nlh, IFLA_VXLAN_ID, VXLAN_VNI);
	mnl_attr_put_u16(nlh, IFLA_VXLAN_PORT, htons(VXLAN_PORT));
	mnl_attr_put_u8(nlh, IFLA_VXLAN_LEARNING, 0);
	if (d->family == AF_INET)
		mnl_attr_put(nlh, IFLA_VXLAN_LOCAL, 4, d->local);
	else
		mnl_attr_put(nlh, IFLA_VXLAN_LOCAL6, 16, d->local);
	if (d->underlay != 0)
		mnl_attr_put_u32(nlh, IFLA_VXLAN_LINK, d->underlay);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, li);
	return link_talk(nl, nlh, d->name);
}

static int
vdev_delete(struct nl *nl, struct vdev *d, uint32_t ifindex)
{
	char	 buf[64] __attribute__((aligned(8)));

	return link_talk(nl, link_msg(buf, sizeof(buf), RTM_DELLINK, 0,
	    ifindex), d->name);
}

/*
 * MTU, MAC and up: what can change on a live device, each only when
 * it differs.  The kernel takes any MAC it is given as a new one and
 * flushes the device's neighbours: in vxlan-legacy that fails the
 * next packet to every pod until the ARP helper answers its miss
 * (an upgrade from the original agent, whose MTU differs, lost one
 * echo per peer that way).
 */
static int
vdev_set(struct nl *nl, struct vdev *d, const struct linkinfo *li)
{
	char		 buf[128] __attribute__((aligned(8)));
	struct nlmsghdr	*nlh;

	nlh = link_msg(buf, sizeof(buf), RTM_NEWLINK, 0, li->ifindex);
	if (li->mtu != d->mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, d->mtu);
	if (memcmp(li->mac, d->mac, 6) != 0)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, d->mac);
	return link_talk(nl, nlh, d->name);
}

/*
 * The device's own address, and no other: an address left from an
 * earlier pod CIDR of this node goes.
 */
static void
vdev_address(struct nl *nl, struct vdev *d)
{
	char		 buf[128] __attribute__((aligned(8)));
	struct addrscan	 f;
	int		 i;

	memset(&f, 0, sizeof(f));
	f.family = d->family;
	f.addr = d->addr;
	f.dev = d->ifindex;
	f.plen = d->plen;
	addr_scan(nl, &f);
	/*
	 * Stale ones first: removing a primary IPv4 address removes the
	 * secondaries of its subnet too, ours among them.
	 */
	for (i = 0; i < f.nstale; i++)
		(void)link_talk(nl, addr_msg(buf, sizeof(buf), RTM_DELADDR,
		    NLM_F_ACK, d->family, f.stale_plen[i], d->ifindex,
		    f.stale[i]), d->name);
	if (f.ifindex == 0 || f.nstale > 0)
		(void)link_talk(nl, addr_msg(buf, sizeof(buf), RTM_NEWADDR,
		    NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, d->family,
		    d->plen, d->ifindex, d->addr), d->name);
}

/*
 * vxlan-legacy: the kernel tells the neighbour group (the ARP helper)
 * about every address it cannot resolve on the device, instead of
 * asking the wire, which no one answers.  Set over netlink, so no
 * process writes to /proc.
 */
static int
vdev_solicit(struct nl *nl, struct vdev *d)
{
	char		 buf[128] __attribute__((aligned(8)));
	struct nlmsghdr	*nlh;
	struct ndtmsg	*ndtm;
	struct nlattr	*parms;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_SETNEIGHTBL;
	nlh->nlmsg_flags = NLM_F_ACK;
	ndtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndtm));
	ndtm->ndtm_family = d->family;
	mnl_attr_put_strz(nlh, NDTA_NAME, d->family == AF_INET6 ?
	    "ndisc_cache" : "arp_cache");
	parms = mnl_attr_nest_start(nlh, NDTA_PARMS);
	mnl_attr_put_u32(nlh, NDTPA_IFINDEX, d->ifindex);
	mnl_attr_put_u32(nlh, NDTPA_APP_PROBES, VXLAN_APP_PROBES);
	mnl_attr_nest_end(nlh, parms);
	return link_talk(nl, nlh, d->name);
}

/*
 * What the device of one family should be, from the local node.  The
 * MAC follows the original agent: 00:53 and the pod network address.
 */
static void
vdev_plan(struct nl *nl, struct vdev *d, const struct kn_config *conf,
    const struct msg_local *l)
{
	unsigned	 i, len = d->family == AF_INET6 ? 16 : 4;

	d->wanted = 0;
	if (l == NULL)
		return;
	for (i = 0; i < 2; i++)
		if (l->family[i] == d->family)
			break;
	if (i == 2 || !(d->family == AF_INET ? l->has4 : l->has6))
		return;
	d->wanted = 1;
	memset(d->local, 0, sizeof(d->local));
	memcpy(d->local, d->family == AF_INET ? l->addr4 : l->addr6, len);
	memset(d->addr, 0, sizeof(d->addr));
	memcpy(d->addr, l->cidr[i], len);
	kobj_vxlan_mac(d->family, l->plen[i], l->cidr[i], d->mac);
	/* vxlan-legacy: one connected route for the whole cluster range. */
	d->plen = conf->mode == MODE_VXLAN_LEGACY &&
	    cluster_of(conf->cluster, d->family) != NULL ?
	    cluster_of(conf->cluster, d->family)->len : (uint8_t)(len * 8);
	d->underlay = vdev_underlay(nl, d->family, d->local);
	d->mtu = conf->mtu;
	if (d->mtu == 0)
		d->mtu = vdev_mtu_of(nl, d->underlay) -
		    (d->family == AF_INET6 ? VXLAN_OVERHEAD6 : VXLAN_OVERHEAD4);
}

/*
 * Makes the device what the plan says: created when missing, created
 * again when a setting that cannot change live is wrong, otherwise
 * MTU, MAC, up and address put back.  A device of that name that is
 * not VXLAN is not ours and is left alone.  l is the local node, NULL
 * while it is not known.
 */
void
vdev_ensure(struct nl *nl, struct vdev *d, const struct kn_config *conf,
    const struct msg_local *l)
{
	struct linkinfo	 li;
	unsigned	 len = d->family == AF_INET6 ? 16 : 4;

	vdev_plan(nl, d, conf, l);
	if (!d->wanted)
		return;
	if (link_get(nl, d->name, 0, &li) == -1) {
		log_warn("looking up %s", d->name);
		return;
	}
	if (li.found && !li.vxlan) {
		log_warnx("%s exists and is not a VXLAN device; not ours, "
		    "left alone", d->name);
		return;
	}
	if (li.found && (li.vni != VXLAN_VNI || li.port != VXLAN_PORT ||
	    li.learning != 0 || li.localfam != d->family ||
	    memcmp(li.local, d->local, len) != 0)) {
		log_info("%s: VNI, port, learning or local address changed; "
		    "creating it again", d->name);
		if (vdev_delete(nl, d, li.ifindex) == -1)
			return;
		li.found = 0;
	}
	if (!li.found) {
		if (vdev_create(nl, d) == -1 ||
		    link_get(nl, d->name, 0, &li) == -1 || !li.found)
			return;
		log_info("created %s: VNI %u, port %u, MTU %u", d->name,
		    VXLAN_VNI, VXLAN_PORT, d->mtu);
	} else if (li.mtu != d->mtu || memcmp(li.mac, d->mac, 6) != 0 ||
	    !(li.flags & IFF_UP)) {
		if (vdev_set(nl, d, &li) == -1)
			return;
		log_info("%s: MTU, MAC or state put back", d->name);
	}
	d->ifindex = li.ifindex;
	vdev_address(nl, d);
	if (conf->mode == MODE_VXLAN_LEGACY)
		(void)vdev_solicit(nl, d);
}

/*
 * Does a link event show the device as planned?  Our own changes come
 * back as events too; only a difference calls for vdev_ensure.
 */
int
vdev_matches(const struct vdev *d, const struct nlmsghdr *nlh)
{
	struct linkinfo	 li;
	unsigned	 len = d->family == AF_INET6 ? 16 : 4;

	memset(&li, 0, sizeof(li));
	link_parse(nlh, &li);
	return li.mtu == d->mtu && memcmp(li.mac, d->mac, 6) == 0 &&
	    (li.flags & IFF_UP) && li.vxlan && li.vni == VXLAN_VNI &&
	    li.port == VXLAN_PORT && li.learning == 0 &&
	    li.localfam == d->family && memcmp(li.local, d->local, len) == 0;
}
