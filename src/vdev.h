/*
 * The VXLAN device of one family (vdev.c): what the executor keeps of
 * it, and the calls that plan, make and check it.
 */
#ifndef KN_VDEV_H
#define KN_VDEV_H

#include <stdint.h>

#include "config.h"
#include "proto.h"

struct nl;
struct nlmsghdr;

/* The VXLAN device of one family, as it should be. */
struct vdev {
	const char	*name;
	uint8_t		 family;
	int		 wanted;	/* the local node has this family */
	uint32_t	 ifindex;	/* 0: not there (yet) */
	uint8_t		 local[16];	/* the node's own address */
	uint8_t		 mac[6];
	uint8_t		 addr[16];	/* the device's own address */
	uint8_t		 plen;
	uint32_t	 mtu;
	uint32_t	 underlay;	/* index of the underlay device */
};

void		 vdev_ensure(struct nl *, struct vdev *,
		    const struct kn_config *, const struct msg_local *);
int		 vdev_matches(const struct vdev *, const struct nlmsghdr *);
uint32_t	 vdev_underlay(struct nl *, uint8_t family,
		    const uint8_t *addr);
uint32_t	 vdev_mtu_of(struct nl *, uint32_t ifindex);

#endif
