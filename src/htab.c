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

int
htab_init(struct htab *t, unsigned max)
{
	unsigned	 n = 16;

	while (n < max && n < (1u << 21))
		n <<= 1;
	if ((t->bucket = calloc(n, sizeof(*t->bucket))) == NULL)
		return -1;
	t->mask = n - 1;
	t->count = 0;
	t->max = max;
	return 0;
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

/* -1 when the table already holds its maximum. */
int
htab_link(struct htab *t, struct hnode **slot, struct hnode *e, uint32_t hash)
{
	if (t->count >= t->max)
		return -1;
	e->hash = hash;
	e->next = NULL;
	*slot = e;
	t->count++;
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
