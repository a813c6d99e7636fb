/*
 * Links over netlink, for the executor and the ARP helper: the
 * requests that ask for, create, change and delete one; see link.h.
 */
#include <sys/socket.h>
#include <net/if.h>	/* before the linux/ headers, which include linux/if.h */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/if_tunnel.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>

#include "link.h"
#include "nl.h"

static void
parse_vxlan(const struct nlattr *data, struct linkinfo *li)
{
	struct nl_attrs		 tb = { { NULL } };

	if (mnl_attr_parse_nested(data, nl_attr_cb, &tb) < 0)
		return;
	if (tb.a[IFLA_VXLAN_ID] != NULL)
		li->vni = mnl_attr_get_u32(tb.a[IFLA_VXLAN_ID]);
	if (tb.a[IFLA_VXLAN_PORT] != NULL)
		li->port = ntohs(mnl_attr_get_u16(tb.a[IFLA_VXLAN_PORT]));
	if (tb.a[IFLA_VXLAN_LEARNING] != NULL)
		li->learning = mnl_attr_get_u8(tb.a[IFLA_VXLAN_LEARNING]);
	if (tb.a[IFLA_VXLAN_LOCAL] != NULL &&
	    mnl_attr_get_payload_len(tb.a[IFLA_VXLAN_LOCAL]) == 4) {
		li->localfam = AF_INET;
		memcpy(li->local, mnl_attr_get_payload(tb.a[IFLA_VXLAN_LOCAL]),
		    4);
	}
	if (tb.a[IFLA_VXLAN_LOCAL6] != NULL &&
	    mnl_attr_get_payload_len(tb.a[IFLA_VXLAN_LOCAL6]) == 16) {
		li->localfam = AF_INET6;
		memcpy(li->local, mnl_attr_get_payload(tb.a[IFLA_VXLAN_LOCAL6]),
		    16);
	}
}

/* gre and ip6gre share their attributes; ip6gre's addresses are IPv6. */
static void
parse_gre(const struct nlattr *data, struct linkinfo *li)
{
	struct nl_attrs		 tb = { { NULL } };
	static const int	 keys[] = { IFLA_GRE_IFLAGS, IFLA_GRE_OFLAGS,
				    IFLA_GRE_IKEY, IFLA_GRE_OKEY };
	const struct nlattr	*a;
	unsigned		 i, j, len = li->gre == AF_INET6 ? 16 : 4;

	if (mnl_attr_parse_nested(data, nl_attr_cb, &tb) < 0)
		return;
	if ((a = tb.a[IFLA_GRE_LOCAL]) != NULL &&
	    mnl_attr_get_payload_len(a) == len) {
		li->localfam = li->gre;
		memcpy(li->local, mnl_attr_get_payload(a), len);
	}
	if ((a = tb.a[IFLA_GRE_REMOTE]) != NULL &&
	    mnl_attr_get_payload_len(a) == len)
		memcpy(li->remote, mnl_attr_get_payload(a), len);
	if ((a = tb.a[IFLA_GRE_TTL]) != NULL && mnl_attr_get_payload_len(a) == 1)
		li->ttl = mnl_attr_get_u8(a);
	/* Above 0xffff the kernel reports its own capability bits. */
	if ((a = tb.a[IFLA_GRE_FLAGS]) != NULL &&
	    mnl_attr_get_payload_len(a) == 4)
		li->tflags = mnl_attr_get_u32(a) & 0xffff;
	/* Any key, checksum or sequence changes the wire format. */
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if ((a = tb.a[keys[i]]) == NULL)
			continue;
		for (j = 0; j < mnl_attr_get_payload_len(a); j++)
			if (((const uint8_t *)mnl_attr_get_payload(a))[j] != 0)
				li->keyed = 1;
	}
}

int
link_parse(const struct nlmsghdr *nlh, void *arg)
{
	struct linkinfo		*li = arg;
	const struct ifinfomsg	*ifi = mnl_nlmsg_get_payload(nlh);
	struct nl_attrs		 tb = { { NULL } };
	struct nl_attrs		 info = { { NULL } };
	const char		*kind;

	if ((nlh->nlmsg_type != RTM_NEWLINK &&
	    nlh->nlmsg_type != RTM_DELLINK) ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi) ||
	    mnl_attr_parse(nlh, sizeof(*ifi), nl_attr_cb, &tb) < 0)
		return 0;
	li->found = 1;
	if (tb.a[IFLA_IFNAME] != NULL &&
	    mnl_attr_validate(tb.a[IFLA_IFNAME], MNL_TYPE_NUL_STRING) == 0)
		snprintf(li->name, sizeof(li->name), "%s",
		    mnl_attr_get_str(tb.a[IFLA_IFNAME]));
	li->ifindex = (uint32_t)ifi->ifi_index;
	li->flags = ifi->ifi_flags;
	if (tb.a[IFLA_MTU] != NULL)
		li->mtu = mnl_attr_get_u32(tb.a[IFLA_MTU]);
	if (tb.a[IFLA_ADDRESS] != NULL &&
	    mnl_attr_get_payload_len(tb.a[IFLA_ADDRESS]) == 6)
		memcpy(li->mac, mnl_attr_get_payload(tb.a[IFLA_ADDRESS]), 6);
	if (tb.a[IFLA_LINKINFO] == NULL ||
	    mnl_attr_parse_nested(tb.a[IFLA_LINKINFO], nl_attr_cb, &info) < 0)
		return 0;
	if (info.a[IFLA_INFO_KIND] == NULL ||
	    mnl_attr_validate(info.a[IFLA_INFO_KIND], MNL_TYPE_NUL_STRING) != 0)
		return 0;
	kind = mnl_attr_get_str(info.a[IFLA_INFO_KIND]);
	li->vxlan = strcmp(kind, "vxlan") == 0;
	if (strcmp(kind, "gre") == 0)
		li->gre = AF_INET;
	else if (strcmp(kind, "ip6gre") == 0)
		li->gre = AF_INET6;
	if (info.a[IFLA_INFO_DATA] != NULL && li->vxlan)
		parse_vxlan(info.a[IFLA_INFO_DATA], li);
	if (info.a[IFLA_INFO_DATA] != NULL && li->gre)
		parse_gre(info.a[IFLA_INFO_DATA], li);
	return 0;
}

/*
 * A link request in buf (zeroed here): for ifindex, or by a name the
 * caller adds when ifindex is 0; the ack is always asked for.
 */
struct nlmsghdr *
link_msg(char *buf, size_t len, uint16_t type, uint16_t flags,
    uint32_t ifindex)
{
	struct nlmsghdr		*nlh;
	struct ifinfomsg	*ifi;

	memset(buf, 0, len);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_ACK | flags;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = (int)ifindex;
	if (type == RTM_NEWLINK) {
		ifi->ifi_flags = IFF_UP;
		ifi->ifi_change = IFF_UP;
	}
	return nlh;
}

/* A link by name (ifindex 0) or by index; -1 with errno, li->found. */
int
link_get(struct nl *nl, const char *name, uint32_t ifindex,
    struct linkinfo *li)
{
	char			 buf[256] __attribute__((aligned(8)));
	struct nlmsghdr		*nlh;

	memset(li, 0, sizeof(*li));
	nlh = link_msg(buf, sizeof(buf), RTM_GETLINK, 0, ifindex);
	if (name != NULL)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (nl_query(nl, nlh, link_parse, li) == -1)
		return errno == ENODEV ? 0 : -1;
	return 0;
}

