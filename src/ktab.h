/*
 * A table of kernel objects keyed the way the kernel keys them: the
 * executor's have, want and bookkeeping tables and the ARP helper's
 * neighbours.  It grows as it fills, up to the bound given at
 * creation; its internals are ktab.c's alone.
 */
#ifndef KN_KTAB_H
#define KN_KTAB_H

#include "htab.h"
#include "kobj.h"

struct ktab {
	struct htab	t;	/* ktab.c's: the accessors below */
};

int		 ktab_init(struct ktab *, unsigned max);
void		 ktab_free(struct ktab *);
unsigned	 ktab_count(const struct ktab *);
struct kobj	*ktab_get(const struct ktab *, const struct kobj_key *);
int		 ktab_put(struct ktab *, const struct kobj *);
int		 ktab_del(struct ktab *, const struct kobj_key *);
struct kobj	*ktab_next(const struct ktab *, unsigned *, const struct kobj *);

#endif
