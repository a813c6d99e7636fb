/*
 * The one chained hash table every keyed table of the daemon uses:
 * see htab.h.
 */
#include <stdlib.h>

#include "htab.h"

/* FNV-1a: short keys, no adversary controls the bucket count. */
uint32_t
hash_bytes(uint32_t h, const void *p, size_t len)
{
	const unsigned char	*s = p;

	if (h == 0)
		h = 2166136261u;
	while (len-- > 0)
		h = (h ^ *s++) * 16777619u;
	return h;
}

/*
 * A table starts with HTAB_MIN buckets and doubles them whenever it
 * holds more records than buckets, so it costs what the cluster holds
 * rather than what its bound allows (at 65,536 nodes the executor's
 * bounds alone would be six tables of 2^21 buckets, 96 MiB).  It
 * stops at the buckets max records need, and at HTAB_MAX_BUCKETS
 * (16 MiB of pointers): past that, chains grow longer instead.
 */
#define HTAB_MIN		16
#define HTAB_MAX_BUCKETS	(1u << 21)

int
htab_init(struct htab *t, unsigned max)
{
	if ((t->bucket = calloc(HTAB_MIN, sizeof(*t->bucket))) == NULL)
		return -1;
	t->mask = HTAB_MIN - 1;
	t->count = 0;
	t->max = max;
	return 0;
}

/* Twice the buckets: each chain splits in two by one more bit of hash. */
static void
htab_grow(struct htab *t)
{
	struct hnode	**b, *e, *next;
	unsigned	 n = (t->mask + 1) * 2, i;

	/* Out of memory: the old buckets still work, with longer chains. */
	if ((b = calloc(n, sizeof(*b))) == NULL)
		return;
	for (i = 0; i <= t->mask; i++)
		for (e = t->bucket[i]; e != NULL; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	free(t->bucket);
	t->bucket = b;
	t->mask = n - 1;
}

/* Frees every record with fn (may be NULL), then the buckets. */
void
htab_free(struct htab *t, void (*fn)(struct hnode *))
{
	struct hnode	*e, *next;
	unsigned	 i;

	if (t->bucket == NULL)
		return;
	for (i = 0; i <= t->mask; i++)
		for (e = t->bucket[i]; e != NULL; e = next) {
			next = e->next;
			if (fn != NULL)
				fn(e);
		}
	free(t->bucket);
	t->bucket = NULL;
	t->count = 0;
}

/* Where the key's record is, or where it would be linked: *slot NULL. */
struct hnode **
htab_slot(const struct htab *t, uint32_t hash, hkey_eq eq, const void *key)
{
	struct hnode	**pp;

	for (pp = &t->bucket[hash & t->mask]; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->hash == hash && eq(*pp, key))
			break;
	return pp;
}

/*
 * -1 when the table already holds its maximum.  The link may grow the
 * table, which moves records to new buckets: every slot from
 * htab_slot is stale after it, and a walk must not link into the
 * table it walks.
 */
int
htab_link(struct htab *t, struct hnode **slot, struct hnode *e, uint32_t hash)
{
	if (t->count >= t->max)
		return -1;
	e->hash = hash;
	e->next = NULL;
	*slot = e;
	t->count++;
	if (t->count > t->mask + 1 && t->mask + 1 < t->max &&
	    t->mask + 1 < HTAB_MAX_BUCKETS)
		htab_grow(t);
	return 0;
}

struct hnode *
htab_unlink(struct htab *t, struct hnode **slot)
{
	struct hnode	*e = *slot;

	*slot = e->next;
	t->count--;
	return e;
}

/*
 * Walks the table: start with *bucket = 0 and prev = NULL.  The record
 * returned may be unlinked before the next call only if the caller
 * passes its successor's position, so callers that delete collect first.
 */
struct hnode *
htab_next(const struct htab *t, unsigned *bucket, const struct hnode *prev)
{
	if (prev != NULL && prev->next != NULL)
		return prev->next;
	if (prev != NULL)
		(*bucket)++;
	for (; *bucket <= t->mask; (*bucket)++)
		if (t->bucket[*bucket] != NULL)
			return t->bucket[*bucket];
	return NULL;
}
