/*
 * The executor's state, shared by its own files alone: executor.c (the
 * process: generations, reconciling, the loop), monitor.c (what the
 * kernel reports) and outcome.c (what each request's answer means).
 */
#ifndef KN_EXECUTOR_H
#define KN_EXECUTOR_H

#include <stdint.h>

#include "intentrx.h"
#include "knft.h"
#include "kobj.h"
#include "ktab.h"
#include "kxfrm.h"
#include "nl.h"
#include "proto.h"
#include "vdev.h"

struct child;

/*
 * gre mode: what a family's batches have shown of the kernel's GRE
 * support.  A refusal in the batch just sent is settled by
 * outcome_gre_batch.
 */
enum gre_support {
	GRE_PRESENT,	/* or not known to be missing */
	GRE_ABSENT,	/* refused for want of GRE, and none made since */
	GRE_REFUSED,	/* refused in the batch just sent */
};

/* What a batched request was for, by its index in the batch. */
struct pending {
	enum kobj_op	 op;
	struct kobj	 o;
	uint8_t		 adopt;		/* route: the protocol it takes
					   over; 0: none */
};

struct executor {
	struct child		*c;
	struct intent_rx	 rx;
	struct nl		 cmd;
	struct nl		 mon;
	struct nl		 xcmd;		/* ipsec: NETLINK_XFRM */
	struct nl		 xmon;
	struct kobj_ctx		 ctx;
	struct ktab		 have;
	struct ktab		 want;
	struct ktab		 dirty;		/* keys a monitor event touched */
	struct ktab		 reported;	/* failures logged once */
	struct ktab		 deferred;	/* routes waiting for a tunnel */
	struct ktab		 gone;		/* ipsec: states removed, with
						   their sequence numbers */
	struct vdev		 dev[2];	/* by family: 0 IPv4, 1 IPv6 */
	struct knft		 nft;		/* egress masquerade */
	int			 snapped;	/* a snapshot came */
	int			 resync;	/* dump everything again */
	int			 devcheck;	/* a device may have drifted */
	int			 tunchanged;	/* tunnels made or set up */
	int			 newtun;	/* a tunnel got an index or up */
	enum gre_support	 gre[2];	/* by family */
	int			 gre_made[2];	/* by family: a tunnel made in
						   this batch */
	int64_t			 gre_retry;	/* the back-off: ms from a try
						   to the next */
	int64_t			 gre_due;	/* the next try, monotonic ms */
	int64_t			 next_sync;
	uint32_t		 failed;	/* in the current generation */
	uint32_t		 requests;	/* sent for it */
	uint32_t		 adopted[256];	/* routes taken over, by their
						   protocol, not yet logged */
	unsigned		 max;
	struct pending		 pend[NL_BATCH_MAX];
	struct nl_batch		 batch;
	struct msg_node_net	 node_net;	/* last sent to the parent */
	struct msg_exec_stats	 st;
	uint64_t		 over_room;	/* rx.over when the active
						   table last had room */
	struct msg_route_info	*info;		/* show routes */
	unsigned		 ninfo;
	/* ipsec */
	struct kxfrm_keys	 keys;
	int			 xfrm_unsupported;	/* said once */
	int			 encap_fd[2];	/* held, never read */
};

/* executor.c */
int	executor_synced(const struct executor *);
void	executor_reconcile_key(struct executor *, const struct kobj_key *);
void	executor_deferred_retry(struct executor *);

/* monitor.c */
void	monitor_take(struct executor *, struct nl *, nl_msg_cb);
int	monitor_cb(const struct nlmsghdr *, void *);
int	monitor_xfrm_cb(const struct nlmsghdr *, void *);
void	monitor_tunnel_gone(struct executor *, uint32_t ifindex);

/* outcome.c */
void	outcome_done(void *, unsigned idx, int error, const char *why);
void	outcome_gre_batch(struct executor *);
void	outcome_adopted(struct executor *);

#endif
