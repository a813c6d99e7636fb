/*
 * One chained hash table for every keyed table in the daemon.  The
 * caller embeds a struct hnode first in its own records, hashes its
 * own key and says how two keys compare; the table only links,
 * unlinks, counts and walks.  A table starts small and grows with
 * what it holds; its bound, given at creation, counts records.
 */
#ifndef KN_HTAB_H
#define KN_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct hnode {
	struct hnode	*next;
	uint32_t	 hash;
};

struct htab {
	struct hnode	**bucket;
	unsigned	 mask;		/* buckets - 1 */
	unsigned	 count;
	unsigned	 max;
};

/* Is the record in the table the one the key names? */
typedef int	(*hkey_eq)(const struct hnode *, const void *key);

uint32_t	 hash_bytes(uint32_t seed, const void *, size_t);
int		 htab_init(struct htab *, unsigned max);
void		 htab_free(struct htab *, void (*)(struct hnode *));
struct hnode	**htab_slot(const struct htab *, uint32_t hash, hkey_eq,
		    const void *key);
int		 htab_link(struct htab *, struct hnode **slot, struct hnode *,
		    uint32_t hash);
struct hnode	*htab_unlink(struct htab *, struct hnode **slot);
struct hnode	*htab_next(const struct htab *, unsigned *bucket,
		    const struct hnode *prev);

#endif
