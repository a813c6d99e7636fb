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

struct intent_rx {
	const struct kn_config	*conf;
	/*
	 * Called for each single addition or removal the envelope let
	 * through, once the table holds it; never for a refused one, so
	 * the caller touches only the keys of what was accepted.
	 */
	void			(*applied)(const struct msg_intent *, void *);
	void			*arg;
	struct itab		*active;	/* the accepted intents */
	struct itab		*staging;	/* a snapshot being received */
	uint64_t		 staging_gen;
	uint32_t		 staging_sent;
	uint32_t		 staging_refused;
	struct msg_local	 local;
	int			 have_local;
};

/* What a message did; all but INTENTRX_NONE and _LOCAL fill a result. */
enum intentrx_rv {
	INTENTRX_NONE,		/* nothing to act on */
	INTENTRX_LOCAL,		/* this node's pod CIDR and address accepted */
	INTENTRX_BATCH,		/* additions or removals, each via applied */
	INTENTRX_SNAPSHOT,	/* a snapshot replaced the table */
	INTENTRX_REFUSED,	/* a snapshot was refused; the table stays */
};

int	intentrx_init(struct intent_rx *, const struct kn_config *);
enum intentrx_rv intentrx_msg(struct intent_rx *, const struct msg *,
	    struct msg_gen_result *);

#endif
