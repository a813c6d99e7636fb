/*
 * Links over netlink, for the executor and the ARP helper: what a
 * link is (index, name, MTU, MAC, VXLAN or GRE settings) and the requests
 * that ask for, create, change and delete one.
 */
#ifndef KN_LINK_H
#define KN_LINK_H

#include <stddef.h>
#include <stdint.h>

struct nl;
struct nlmsghdr;

struct linkinfo {
	int		 found;
	char		 name[16];
	uint32_t	 ifindex;
	uint32_t	 mtu;
	unsigned	 flags;
	uint8_t		 mac[6];
	int		 vxlan;
	uint32_t	 vni;
	uint16_t	 port;
	uint8_t		 learning;
	uint8_t		 local[16];	/* VXLAN, GRE */
	uint8_t		 localfam;
	uint8_t		 gre;		/* AF_INET: kind gre, AF_INET6: ip6gre */
	uint8_t		 remote[16];
	uint8_t		 ttl;		/* ip6gre: the hop limit */
	uint32_t	 tflags;	/* ip6gre: IP6_TNL_F_* one may set */
	uint8_t		 keyed;		/* a key, checksum or sequence */
};

int		 link_parse(const struct nlmsghdr *, void *linkinfo);
struct nlmsghdr	*link_msg(char *buf, size_t len, uint16_t type, uint16_t flags,
		    uint32_t ifindex);
int		 link_get(struct nl *, const char *name, uint32_t ifindex,
		    struct linkinfo *);

#endif
