/*
 * The receiving end of the watcher's intent stream, shared by the
 * executor and the ARP helper: snapshots staged and swapped in whole,
 * single adds and removes, every intent through the safety envelope.
 */
#ifndef KN_INTENTRX_H
#define KN_INTENTRX_H

#include "config.h"
#include "envelope.h"
#include "msg.h"

/*
 * One single addition or removal the envelope let through, and what
 * the active table held for its prefix right after it.
 */
struct intentrx_change {
	struct msg_intent	 in;
	struct msg_intent	 now;
	int			 has_now;	/* 0: nothing for it */
};

struct intent_rx {
	const struct kn_config	*conf;
	/*
	 * What the last message changed in the active table, in order:
	 * never a refused intent, so the caller touches only the keys of
	 * what was accepted.
	 */
	struct intentrx_change	*changes;
	size_t			 nchanges;
	size_t			 maxchanges;
	struct itab		*active;	/* the accepted intents */
	struct itab		*staging;	/* a snapshot being received */
	uint64_t		 staging_gen;
	uint32_t		 staging_sent;
	uint32_t		 staging_refused;
	uint64_t		 over;		/* refused: past the bound */
	struct msg_local	 local;
	int			 have_local;
};

/* What a message did; all but INTENTRX_NONE and _LOCAL fill a result. */
enum intentrx_rv {
	INTENTRX_NONE,		/* nothing to act on */
	INTENTRX_LOCAL,		/* this node's pod CIDR and address accepted;
				   the intents it withdrew in changes */
	INTENTRX_BATCH,		/* additions or removals, in changes */
	INTENTRX_SNAPSHOT,	/* a snapshot replaced the table */
	INTENTRX_REFUSED,	/* a snapshot was refused; the table stays */
};

int	intentrx_init(struct intent_rx *, const struct kn_config *);
void	intentrx_free(struct intent_rx *);
enum intentrx_rv intentrx_msg(struct intent_rx *, const struct msg *,
	    struct msg_gen_result *);

#endif
