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
	struct itab		*active;	/* the accepted intents */
	struct itab		*staging;	/* a snapshot being received */
	uint64_t		 staging_gen;
	uint32_t		 staging_sent;
	uint32_t		 staging_refused;
	struct msg_local	 local;
	int			 have_local;
};

int	intentrx_init(struct intent_rx *, const struct kn_config *);
int	intentrx_msg(struct intent_rx *, const struct msg *,
	    struct msg_gen_result *);

#endif
