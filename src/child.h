/*
 * What the four children (watcher, executor, ARP helper, metrics)
 * share: the start-up handshake with the parent, the confinement, the
 * channels to their peers, the event loop.  Each role's file supplies
 * its peers and its message handler.
 */
#ifndef KN_CHILD_H
#define KN_CHILD_H

#include <sys/stat.h>

#include "config.h"
#include "msg.h"

#include <stdint.h>

/* Descriptors a child finds open when the parent executes it. */
#define CHILD_FD_CONTROL	3
#define CHILD_FD_PEER		4	/* executor or arp-helper: the watcher;
					   watcher: the executor */
#define CHILD_FD_PEER2		5	/* watcher: the arp-helper */
#define CHILD_FD_SANITIZER	6	/* sanitizer builds: their reports */
#define CHILD_POLL_MAX		8	/* descriptors a role may add */

struct child;
struct pollfd;

/* What a role adds to the shared loop; any hook may be NULL. */
struct child_ops {
	/* a checked message from the parent of a type the loop does not own */
	void	(*control)(struct child *, struct msg *);
	/* a checked message from a peer */
	void	(*peer)(struct child *, enum role, struct msg *);
	/* a peer channel finished its handshake */
	void	(*peer_up)(struct child *, enum role);
	/* more descriptors to poll; returns how many, may lower *timeout */
	int	(*poll)(struct child *, struct pollfd *, int max,
		    int64_t *timeout_ms);
	/* after the poll: the role's descriptors with their revents */
	void	(*io)(struct child *, struct pollfd *, int n);
	/* the counters are about to be sent: bring them up to date */
	void	(*stats)(struct child *);
};

struct child {
	enum role		 role;
	struct kn_config	 conf;
	struct msgchan		 ctl;
	struct msgchan		 peer[ROLE_COUNT];	/* by peer role */
	uint32_t		 want;		/* ROLE_BIT() of expected peers */
	uint32_t		 reported;	/* channels last sent in READY */
	struct stat		 root;
	const struct child_ops	*ops;
	void			*state;		/* the role's own */
	/* the role's counters, sent to the parent when they change */
	uint32_t		 stats_type;
	const void		*stats;
	size_t			 stats_len;
	int			 stats_dirty;
	int64_t			 stats_next;
};

void	child_init(struct child *, enum role);
void	child_peer(struct child *, enum role peer, int fd);
void	child_confine(struct child *);
void	child_loop(struct child *) __attribute__((__noreturn__));
void	child_stats(struct child *, uint32_t type, const void *, size_t);
void	child_stats_changed(struct child *, int now);
void	child_send_table(struct child *, uint32_t type, uint32_t id,
	    const void *records, size_t n, size_t size);

void	watcher_main(void) __attribute__((__noreturn__));
void	metrics_main(void) __attribute__((__noreturn__));
void	executor_main(void) __attribute__((__noreturn__));
void	arp_main(void) __attribute__((__noreturn__));

#endif
