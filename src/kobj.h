/*
 * The kernel objects the executor owns, as plain values: what each
 * mode wants for a route intent, the netlink requests that make,
 * change or remove them and the parsing of what the kernel reports;
 * the ipsec mode's are kxfrm.h's.  Pure code: no I/O.
 */
#ifndef KN_KOBJ_H
#define KN_KOBJ_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "proto.h"

enum kobj_type {
	KOBJ_ROUTE = 1,		/* main table, our rtm_protocol */
	KOBJ_NEIGH,		/* permanent neighbour on our VXLAN device */
	KOBJ_FDB,		/* forwarding entry on our VXLAN device */
	KOBJ_TUNNEL,		/* gre mode: gre k8s-*, ip6gre k8s6-* */
	KOBJ_XSTATE,		/* ESP state (SA) of our reqid */
	KOBJ_XPOLICY,		/* IPsec policy whose template has our reqid */
};
/* The executor counts requests by type, the metrics name each. */
_Static_assert(KOBJ_XPOLICY - KOBJ_ROUTE + 1 == STATS_OBJ_TYPES,
    "STATS_OBJ_TYPES counts every enum kobj_type");

/* What the kernel identifies an object by. */
struct kobj_key {
	uint8_t		type;
	uint8_t		family;		/* of addr; 0 for FDB */
	uint8_t		plen;
	uint8_t		pad;
	uint32_t	ifindex;	/* neighbour, FDB: the device */
	uint8_t		addr[16];	/* route prefix, neighbour address */
	uint8_t		mac[6];		/* FDB */
	uint8_t		pad2[2];
	char		name[16];	/* tunnel: the device, NUL-padded */
	uint32_t	spi;		/* state (with addr: destination) */
	uint8_t		src[16];	/* policy: source selector */
	uint8_t		splen;		/* (addr/plen: destination) */
	uint8_t		dir;		/* policy: XFRM_POLICY_* */
	uint8_t		pad3[2];
};

/* What the kernel holds for it. */
struct kobj_val {
	uint32_t	oif;		/* route: 0 = the kernel picks */
	uint8_t		gwfamily;	/* route gateway, FDB remote */
	uint8_t		onlink;
	uint16_t	state;		/* neighbour: NUD_* */
	uint8_t		gw[16];
	uint8_t		mac[6];		/* neighbour */
	uint8_t		tunnel;		/* route: oif is its peer's tunnel */
	uint8_t		ttl;		/* tunnel */
	/* tunnel: this end (gw: the other); route: its preferred source */
	uint8_t		local[16];
	uint32_t	mtu;		/* tunnel */
	uint32_t	tflags;		/* ip6gre tunnel: IP6_TNL_F_* */
	uint8_t		up;		/* tunnel: IFF_UP */
	uint8_t		keyed;		/* tunnel: GRE key, csum or seq set */
	/*
	 * route: its rtm_protocol when it is not our own (one to adopt,
	 * or vxlan-legacy's connected route, the kernel's); 0: ours
	 */
	uint8_t		proto;
	uint8_t		pad;
	/* state: gw is the source; policy: gw, tsrc the tunnel ends */
	uint8_t		tsrc[16];
	uint32_t	reqid;
	uint32_t	prio;		/* policy */
	uint8_t		alg;		/* state: enum kxfrm_alg */
	uint8_t		encap;		/* state: ESP-in-UDP on 4500 */
	uint8_t		keylen;
	uint8_t		pad2;
	uint8_t		key[36];	/* state: AES-256 key and salt */
	uint32_t	ifindex;	/* tunnel: the kernel's, not compared */
	/*
	 * state: its sequence numbers (the kernel's xfrm_replay_state:
	 * the last sent, the highest received and the window's bitmap),
	 * as a deletion reports them and a creation starts from; not
	 * compared.
	 */
	uint32_t	oseq;
	uint32_t	rseq;
	uint32_t	rbitmap;
};

struct kobj {
	struct kobj_key	k;
	struct kobj_val	v;
};

struct ktab;

/* The devices and numbers a mode's objects refer to. */
struct kobj_ctx {
	uint32_t	mode;		/* enum kn_mode */
	const struct kn_prefix *cluster;	/* [2]: --pod-cidr */
	uint8_t		protocol;	/* rtm_protocol of our routes */
	uint32_t	target;		/* layer2: --target's index, or 0 */
	uint32_t	vxlan[2];	/* VXLAN device per family, 0 = none */
	uint8_t		neigh;		/* the neighbours on them are ours */
	uint8_t		adopt;		/* layer2: --adopt-protocol; 0: off */
	/* this node; NULL while not known: nothing is adopted before */
	const struct msg_local *local;
	/* gre: the tunnels the kernel holds, to adopt the routes in them */
	const struct ktab *have;
	/* vxlan-legacy, by family: the device's address; zero: not known */
	uint8_t		vaddr[2][16];
	/* gre, by family (0 IPv4, 1 IPv6): this node's address, */
	uint8_t		gre_local[2][16];
	uint32_t	gre_mtu[2];	/* the tunnels' MTU; 0: not known yet */
	struct kobj_ipsec {
		const struct msg_local	*local;	/* NULL: not known yet */
		uint8_t			 aes;	/* else the null cipher */
		uint8_t			 udp;	/* ESP-in-UDP */
		/* keys with inbound states; NULL: none */
		const struct ipsec_key	*in[2];
		const struct ipsec_key	*out;	/* NULL: nothing yet */
	}		ipsec;
};

/* ipsec: 3 selector pairs x out, in, fwd; 2 inbound states, 1 outbound. */
#define KOBJ_PER_INTENT	12
#define KOBJ_NAME_MAX	160

/* gre mode: as the original agent, so an upgrade adopts its tunnels */
#define KOBJ_GRE_PREFIX	"k8s-"
#define KOBJ_GRE6_PREFIX "k8s6-"	/* ip6gre: 8 hex digits follow */
#define KOBJ_GRE_TTL	255	/* fixed, so path MTU discovery works */

int	kobj_wanted(const struct kobj_ctx *, const struct msg_intent *,
	    struct kobj out[KOBJ_PER_INTENT]);
int	kobj_connected(const struct kobj_ctx *, int f, struct kobj *);
int	kobj_is_connected(const struct kobj_ctx *, const struct kobj *);
void	kobj_vxlan_mac(uint8_t family, uint8_t plen, const uint8_t *prefix,
	    uint8_t mac[6]);
void	kobj_gre_name(uint8_t family, uint8_t plen, const uint8_t *prefix,
	    char name[16]);
int	kobj_gre_unique(const struct kn_prefix cluster[2], uint8_t family,
	    uint8_t plen);
void	kobj_tunnel_key(const struct kobj *route, struct kobj_key *);
int	kobj_same(const struct kobj *want, const struct kobj *have);
void	kobj_name(const struct kobj *, char *, size_t);

struct nlmsghdr;
enum kobj_op { KOBJ_CREATE, KOBJ_REPLACE, KOBJ_DELETE };
void	kobj_request(struct nlmsghdr *, const struct kobj_ctx *, enum kobj_op,
	    const struct kobj *);
int	kobj_parse(const struct nlmsghdr *, const struct kobj_ctx *,
	    struct kobj *, int *deleted);

/* Where a dump's owned objects go: nl_query(..., kobj_collect, &kc). */
struct kobj_collect {
	const struct kobj_ctx	*ctx;
	struct ktab		*tab;
};

struct nlmsghdr	*kobj_dump_request(char *buf, size_t len, uint16_t type,
		    uint8_t family, uint32_t ifindex, uint8_t proto);
int		 kobj_collect(const struct nlmsghdr *, void *);

#endif
