/*
 * A table of kernel objects keyed the way the kernel keys them, on the
 * daemon's one hash table.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ktab.h"

struct kent {
	struct hnode	h;	/* first: the table's link */
	struct kobj	o;
};

static uint32_t
key_hash(const struct kobj_key *k)
{
	return hash_bytes(0, k, sizeof(*k));
}

static int
key_eq(const struct hnode *h, const void *key)
{
	return memcmp(&((const struct kent *)h)->o.k, key,
	    sizeof(struct kobj_key)) == 0;
}

int
ktab_init(struct ktab *t, unsigned max)
{
	return htab_init(&t->t, max);
}

static void
kent_free(struct hnode *h)
{
	free(h);
}

void
ktab_free(struct ktab *t)
{
	htab_free(&t->t, kent_free);
}

unsigned
ktab_count(const struct ktab *t)
{
	return t->t.count;
}

struct kobj *
ktab_get(const struct ktab *t, const struct kobj_key *k)
{
	struct hnode	*e = *htab_slot(&t->t, key_hash(k), key_eq, k);

	return e != NULL ? &((struct kent *)e)->o : NULL;
}

/* Adds or overwrites; -1 when full or out of memory. */
int
ktab_put(struct ktab *t, const struct kobj *o)
{
	uint32_t	 h = key_hash(&o->k);
	struct hnode	**pp = htab_slot(&t->t, h, key_eq, &o->k);
	struct kent	*e;

	if (*pp != NULL) {
		((struct kent *)*pp)->o = *o;
		return 0;
	}
	if (t->t.count >= t->t.max || (e = malloc(sizeof(*e))) == NULL)
		return -1;
	e->o = *o;
	return htab_link(&t->t, pp, &e->h, h);
}

int
ktab_del(struct ktab *t, const struct kobj_key *k)
{
	struct hnode	**pp = htab_slot(&t->t, key_hash(k), key_eq, k);

	if (*pp == NULL)
		return -1;
	free(htab_unlink(&t->t, pp));
	return 0;
}

/* Walks the table (see htab_next); prev NULL and *b = 0 to start. */
struct kobj *
ktab_next(const struct ktab *t, unsigned *b, const struct kobj *prev)
{
	const struct hnode	*h = prev == NULL ? NULL :
				    (const struct hnode *)((const char *)prev -
				    offsetof(struct kent, o));
	struct hnode		*e = htab_next(&t->t, b, h);

	return e != NULL ? &((struct kent *)e)->o : NULL;
}
