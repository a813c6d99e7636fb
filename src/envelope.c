/*
 * The executor's safety envelope and its table of accepted intents:
 * see envelope.h.
 */
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

/* NULL when a pod prefix of family lies inside the cluster range. */
static const char *
prefix_refusal(const struct kn_prefix clusters[2], uint8_t family,
    uint8_t plen, const uint8_t *prefix)
{
	const struct kn_prefix	*cluster;
	unsigned		 max;

	if (family == AF_INET)
		max = 32;
	else if (family == AF_INET6)
		max = 128;
	else
		return "unknown address family";
	if ((cluster = cluster_of(clusters, family)) == NULL)
		return "pod prefix outside the cluster range";
	if (plen < cluster->len || plen > max)
		return "pod prefix length outside the cluster range";
	if (!bits_equal(prefix, cluster->addr, cluster->len))
		return "pod prefix outside the cluster range";
	if (!host_bits_zero(prefix, plen, max))
		return "pod prefix has host bits set";
	if (max == 32 && !host_bits_zero(prefix, 32, 128))
		return "IPv4 pod prefix with trailing bytes";
	return NULL;
}

/* NULL when a node address of family may carry pod traffic. */
const char *
node_refusal(const struct kn_prefix clusters[2], uint8_t family,
    const uint8_t node[16])
{
	const struct kn_prefix	*cluster = cluster_of(clusters, family);

	if (family == AF_INET && !host_bits_zero(node, 32, 128))
		return "IPv4 node address with trailing bytes";
	if (cluster != NULL && bits_equal(node, cluster->addr, cluster->len))
		return "node address inside the cluster range";
	return family == AF_INET ? v4_refusal(node) : v6_refusal(node);
}

/* NULL when the intent is inside the envelope, else why not. */
const char *
intent_refusal(const struct kn_prefix clusters[2], const struct msg_intent *in)
{
	const char	*why;

	if (in->flags != 0 || in->pad != 0)
		return "unknown flags";
	if ((why = prefix_refusal(clusters, in->family, in->plen,
	    in->prefix)) != NULL)
		return why;
	return node_refusal(clusters, in->family, in->node);
}

/* Do two prefixes of one family share an address? */
static int
prefixes_overlap(const uint8_t *a, unsigned alen, const uint8_t *b,
    unsigned blen)
{
	return bits_equal(a, b, alen < blen ? alen : blen);
}

/*
 * NULL unless the intent's prefix shares an address with this node's
 * own pod CIDR: its pods are behind a local bridge, and a more specific
 * route would take their traffic elsewhere.
 */
static const char *
local_refusal(const struct msg_local *l, uint8_t family, uint8_t plen,
    const uint8_t *prefix)
{
	int	 i;

	for (i = 0; i < 2; i++)
		if (l->family[i] == family && prefixes_overlap(l->cidr[i],
		    l->plen[i], prefix, plen))
			return "pod prefix overlaps this node's pod CIDR";
	return NULL;
}

const char *
intent_local_refusal(const struct msg_local *l, const struct msg_intent *in)
{
	return local_refusal(l, in->family, in->plen, in->prefix);
}

/*
 * May a route the kernel holds for this prefix, of another protocol,
 * be taken over?  Within the bounds of an intent's prefix, with this
 * node known and its own pod CIDR clear of it.
 */
int
prefix_adoptable(const struct kn_prefix clusters[2], const struct msg_local *l,
    uint8_t family, uint8_t plen, const uint8_t *prefix)
{
	return l != NULL && prefix_refusal(clusters, family, plen, prefix) ==
	    NULL && local_refusal(l, family, plen, prefix) == NULL;
}

/*
 * NULL when the form of a message about this node is sound: flags 0
 * or 1, padding zero, no address bytes without their flag, known
 * families, at most one pod CIDR of each.  What its CIDRs and
 * addresses say is checked as intents are.
 */
const char *
local_form_refusal(const struct msg_local *l)
{
	static const uint8_t	 zero[16];
	int			 i;

	if (l->has4 > 1 || l->has6 > 1 || l->pad[0] != 0 || l->pad[1] != 0)
		return "unknown flags";
	if ((!l->has4 && memcmp(l->addr4, zero, sizeof(l->addr4)) != 0) ||
	    (!l->has6 && memcmp(l->addr6, zero, sizeof(l->addr6)) != 0))
		return "node address without its flag";
	for (i = 0; i < 2; i++) {
		if (l->family[i] == 0 && (l->plen[i] != 0 ||
		    memcmp(l->cidr[i], zero, sizeof(l->cidr[i])) != 0))
			return "pod CIDR without a family";
		if (l->family[i] != 0 && l->family[i] != AF_INET &&
		    l->family[i] != AF_INET6)
			return "unknown address family";
	}
	if (l->family[0] != 0 && l->family[0] == l->family[1])
		return "two pod CIDRs of one family";
	return NULL;
}

/*
 * The accepted prefixes of one family never overlap, so their network
 * addresses are distinct keys of a crit-bit tree (Bernstein's; see
 * Langley's paper on them): the leaf a lookup of any prefix reaches
 * shares the longest start with it, and only that leaf can overlap it
 * (another overlapping leaf would overlap that one too).  One lookup,
 * at most 128 steps, answers both "inside an accepted prefix" and
 * "holds an accepted prefix", at 65,536 nodes as at 5.
 */
struct cbnode {
	struct cbnode		*child[2];	/* by the bit */
	const struct msg_intent	*leaf;		/* NULL: an inner node */
	unsigned		 bit;		/* inner: first that differs */
};

struct ientry {
	struct hnode		 h;	/* first: the table's link */
	struct msg_intent	 in;
	struct cbnode		 cb;	/* as a leaf of its family's tree */
};

struct itab {
	struct htab		 t;
	struct cbnode		*root[2];	/* IPv4, IPv6 */
};

static unsigned
bit_at(const uint8_t *a, unsigned i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

static struct cbnode **
root_of(struct itab *t, uint8_t family)
{
	return &t->root[family == AF_INET6];
}

/* The leaf whose address shares the longest start with a; NULL if none. */
static const struct msg_intent *
cb_best(const struct cbnode *p, const uint8_t *a)
{
	if (p == NULL)
		return NULL;
	while (p->leaf == NULL)
		p = p->child[bit_at(a, p->bit)];
	return p->leaf;
}

/* Links leaf, whose address no leaf has, with inner, a new node. */
static void
cb_insert(struct cbnode **root, struct cbnode *leaf, struct cbnode *inner)
{
	const uint8_t	*a = leaf->leaf->prefix, *b;
	struct cbnode	**pp = root;
	unsigned	 crit = 0, d;

	if (*root == NULL) {
		*root = leaf;
		free(inner);
		return;
	}
	b = cb_best(*root, a)->prefix;
	while (bit_at(a, crit) == bit_at(b, crit))
		crit++;
	d = bit_at(a, crit);
	inner->bit = crit;
	inner->child[d] = leaf;
	while ((*pp)->leaf == NULL && (*pp)->bit < crit)
		pp = &(*pp)->child[bit_at(a, (*pp)->bit)];
	inner->child[!d] = *pp;
	*pp = inner;
}

/* Unlinks the leaf of a and frees the inner node above it. */
static void
cb_remove(struct cbnode **root, const uint8_t *a)
{
	struct cbnode	**pp = root, **up = NULL, *inner;
	unsigned	 d = 0;

	while ((*pp)->leaf == NULL) {
		up = pp;
		d = bit_at(a, (*pp)->bit);
		pp = &(*pp)->child[d];
	}
	if (up == NULL) {
		*root = NULL;
		return;
	}
	inner = *up;
	*up = inner->child[!d];
	free(inner);
}

static void
cb_free(struct cbnode *p)
{
	if (p == NULL || p->leaf != NULL)
		return;
	cb_free(p->child[0]);
	cb_free(p->child[1]);
	free(p);
}

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
	cb_free(t->root[0]);
	cb_free(t->root[1]);
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
 * An accepted intent whose prefix shares an address with the one
 * given, the same prefix included; NULL if none.
 */
const struct msg_intent *
itab_overlap(const struct itab *t, uint8_t family, uint8_t plen,
    const uint8_t *prefix)
{
	const struct msg_intent	*o;

	if (family != AF_INET && family != AF_INET6)
		return NULL;
	o = cb_best(t->root[family == AF_INET6], prefix);
	return o != NULL && prefixes_overlap(o->prefix, o->plen, prefix,
	    plen) ? o : NULL;
}

/*
 * 0 added, 1 replaced (another node address or boot ID), 2 unchanged,
 * -1 full, -2 another accepted prefix overlaps it (itab_overlap).
 */
int
itab_put(struct itab *t, const struct msg_intent *in)
{
	uint32_t	 h = prefix_hash(in);
	struct hnode	**pp = htab_slot(&t->t, h, same_key, in);
	struct ientry	*e;
	struct cbnode	*inner;

	if ((e = (struct ientry *)*pp) != NULL) {
		if (memcmp(e->in.node, in->node, sizeof(in->node)) == 0 &&
		    memcmp(e->in.boot, in->boot, sizeof(in->boot)) == 0)
			return 2;
		e->in = *in;
		return 1;
	}
	if (itab_overlap(t, in->family, in->plen, in->prefix) != NULL)
		return -2;
	if (t->t.count >= t->t.max || (e = calloc(1, sizeof(*e))) == NULL)
		return -1;
	if ((inner = calloc(1, sizeof(*inner))) == NULL) {
		free(e);
		return -1;
	}
	e->in = *in;
	e->cb.leaf = &e->in;
	htab_link(&t->t, pp, &e->h, h);
	cb_insert(root_of(t, in->family), &e->cb, inner);
	return 0;
}

/* 0 removed, -1 not there. */
int
itab_del(struct itab *t, const struct msg_intent *in)
{
	struct hnode	**pp = htab_slot(&t->t, prefix_hash(in), same_key, in);

	if (*pp == NULL)
		return -1;
	cb_remove(root_of(t, in->family), in->prefix);
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
