#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "htab.h"

/* Do the first len bits of a and b agree? */
static int
bits_equal(const uint8_t *a, const uint8_t *b, unsigned len)
{
	unsigned	 full = len / 8, rest = len % 8;

	if (memcmp(a, b, full) != 0)
		return 0;
	return rest == 0 ||
	    ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static int
host_bits_zero(const uint8_t *a, unsigned len, unsigned max)
{
	unsigned	 i;

	for (i = len; i < max; i++)
		if (a[i / 8] & (0x80 >> (i % 8)))
			return 0;
	return 1;
}

static const char *
v4_refusal(const uint8_t *a)
{
	if (a[0] == 0)
		return "node address in 0.0.0.0/8";
	if (a[0] == 127)
		return "node address is loopback";
	if (a[0] == 169 && a[1] == 254)
		return "node address is link-local";
	if (a[0] >= 224 && a[0] <= 239)
		return "node address is multicast";
	if (a[0] >= 240)
		return "node address is reserved or broadcast";
	return NULL;
}

static const char *
v6_refusal(const uint8_t *a)
{
	static const uint8_t	 zero[16], mapped[12] = { [10] = 0xff,
				    [11] = 0xff };

	if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1))
		return "node address is unspecified or loopback";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return "node address is link-local";
	if (a[0] == 0xff)
		return "node address is multicast";
	if (memcmp(a, mapped, sizeof(mapped)) == 0)
		return "node address is IPv4-mapped";
	return NULL;
}

/* NULL when the intent is inside the envelope, else why not. */
const char *
intent_refusal(const struct kn_prefix clusters[2], const struct msg_intent *in)
{
	const struct kn_prefix	*cluster;
	unsigned		 max;

	if (in->flags != 0 || in->pad != 0)
		return "unknown flags";
	if (in->family == AF_INET)
		max = 32;
	else if (in->family == AF_INET6)
		max = 128;
	else
		return "unknown address family";
	if ((cluster = cluster_of(clusters, in->family)) == NULL)
		return "pod prefix outside the cluster range";
	if (in->plen < cluster->len || in->plen > max)
		return "pod prefix length outside the cluster range";
	if (!bits_equal(in->prefix, cluster->addr, cluster->len))
		return "pod prefix outside the cluster range";
	if (!host_bits_zero(in->prefix, in->plen, max))
		return "pod prefix has host bits set";
	if (max == 32 && !host_bits_zero(in->prefix, 32, 128))
		return "IPv4 pod prefix with trailing bytes";
	if (max == 32 && !host_bits_zero(in->node, 32, 128))
		return "IPv4 node address with trailing bytes";
	if (bits_equal(in->node, cluster->addr, cluster->len))
		return "node address inside the cluster range";
	return max == 32 ? v4_refusal(in->node) : v6_refusal(in->node);
}

struct ientry {
	struct hnode		 h;	/* first: the table's link */
	struct msg_intent	 in;
};

struct itab {
	struct htab		 t;
};

static uint32_t
prefix_hash(const struct msg_intent *in)
{
	uint8_t	 k[2] = { in->family, in->plen };

	return hash_bytes(hash_bytes(0, k, sizeof(k)), in->prefix,
	    sizeof(in->prefix));
}

static int
same_key(const struct hnode *h, const void *key)
{
	const struct msg_intent	*a = &((const struct ientry *)h)->in, *b = key;

	return a->family == b->family && a->plen == b->plen &&
	    memcmp(a->prefix, b->prefix, sizeof(a->prefix)) == 0;
}

struct itab *
itab_new(unsigned max)
{
	struct itab	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if (htab_init(&t->t, max) == -1) {
		free(t);
		return NULL;
	}
	return t;
}

static void
ientry_free(struct hnode *h)
{
	free(h);
}

void
itab_free(struct itab *t)
{
	if (t == NULL)
		return;
	htab_free(&t->t, ientry_free);
	free(t);
}

const struct msg_intent *
itab_get(const struct itab *t, const struct msg_intent *in)
{
	struct hnode	*e = *htab_slot(&t->t, prefix_hash(in), same_key, in);

	return e != NULL ? &((struct ientry *)e)->in : NULL;
}

/*
 * 0 added, 1 replaced (another node address or boot ID), 2 unchanged,
 * -1 full.
 */
int
itab_put(struct itab *t, const struct msg_intent *in)
{
	uint32_t	 h = prefix_hash(in);
	struct hnode	**pp = htab_slot(&t->t, h, same_key, in);
	struct ientry	*e;

	if ((e = (struct ientry *)*pp) != NULL) {
		if (memcmp(e->in.node, in->node, sizeof(in->node)) == 0 &&
		    memcmp(e->in.boot, in->boot, sizeof(in->boot)) == 0)
			return 2;
		e->in = *in;
		return 1;
	}
	if (t->t.count >= t->t.max || (e = calloc(1, sizeof(*e))) == NULL)
		return -1;
	e->in = *in;
	htab_link(&t->t, pp, &e->h, h);
	return 0;
}

/* 0 removed, -1 not there. */
int
itab_del(struct itab *t, const struct msg_intent *in)
{
	struct hnode	**pp = htab_slot(&t->t, prefix_hash(in), same_key, in);

	if (*pp == NULL)
		return -1;
	free(htab_unlink(&t->t, pp));
	return 0;
}

unsigned
itab_count(const struct itab *t)
{
	return t->t.count;
}

/* Calls fn for every intent; fn must not change the table. */
void
itab_walk(const struct itab *t, void (*fn)(const struct msg_intent *, void *),
    void *arg)
{
	const struct hnode	*e = NULL;
	unsigned		 b = 0;

	while ((e = htab_next(&t->t, &b, e)) != NULL)
		fn(&((const struct ientry *)e)->in, arg);
}
