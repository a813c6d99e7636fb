/*
 * The executor's safety envelope and its table of accepted intents.
 * Pure code: whatever the watcher sends, only intents for pod
 * prefixes inside the cluster range towards ordinary unicast node
 * addresses outside it get in, none overlapping this node's pod CIDR
 * or another accepted prefix, and never more than --max-nodes worth;
 * and the same bounds for a route of another protocol to adopt.
 */
#ifndef KN_ENVELOPE_H
#define KN_ENVELOPE_H

#include "config.h"
#include "proto.h"

const char	*intent_refusal(const struct kn_prefix cluster[2],
		    const struct msg_intent *);
const char	*node_refusal(const struct kn_prefix cluster[2], uint8_t family,
		    const uint8_t node[16]);
const char	*intent_local_refusal(const struct msg_local *,
		    const struct msg_intent *);
const char	*local_form_refusal(const struct msg_local *);
int		 prefix_adoptable(const struct kn_prefix cluster[2],
		    const struct msg_local *, uint8_t family, uint8_t plen,
		    const uint8_t *prefix);

struct itab;

struct itab	*itab_new(unsigned max);
void		 itab_free(struct itab *);
int		 itab_put(struct itab *, const struct msg_intent *);
int		 itab_del(struct itab *, const struct msg_intent *);
unsigned	 itab_count(const struct itab *);
const struct msg_intent *itab_get(const struct itab *,
		    const struct msg_intent *);
const struct msg_intent *itab_overlap(const struct itab *, uint8_t family,
		    uint8_t plen, const uint8_t *prefix);
void		 itab_walk(const struct itab *,
		    void (*)(const struct msg_intent *, void *), void *);

#endif
