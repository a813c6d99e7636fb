/*
 * The node map: each Node the watcher keeps, which one is this node,
 * and what an event changes in the route intents the map implies.
 */
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "nodemap.h"

struct nodemap {
	struct htab	 t;		/* of struct nm_node, by name */
	enum node_id_kind idkind;
	char		 id[K8S_ID_MAX];
	struct nm_node	*local;
	unsigned	 refused;	/* nodes refused since it had room */
};

static uint32_t
name_hash(const char *s)
{
	return hash_bytes(0, s, strlen(s));
}

static int
name_eq(const struct hnode *h, const void *name)
{
	return strcmp(((const struct nm_node *)h)->name, name) == 0;
}

struct nodemap *
nodemap_new(unsigned max_nodes, enum node_id_kind kind, const char *id)
{
	struct nodemap	*m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	if (htab_init(&m->t, max_nodes) == -1) {
		free(m);
		return NULL;
	}
	m->idkind = kind;
	snprintf(m->id, sizeof(m->id), "%s", id);
	return m;
}

static void
node_free(struct hnode *h)
{
	free(h);
}

void
nodemap_free(struct nodemap *m)
{
	if (m == NULL)
		return;
	htab_free(&m->t, node_free);
	free(m);
}

static struct hnode **
lookup(const struct nodemap *m, const char *name, uint32_t h)
{
	return htab_slot(&m->t, h, name_eq, name);
}

const struct nm_node *
nodemap_get(const struct nodemap *m, const char *name)
{
	return (const struct nm_node *)*lookup(m, name, name_hash(name));
}

const struct nm_node *
nodemap_local(const struct nodemap *m)
{
	return m->local;
}

unsigned
nodemap_count(const struct nodemap *m)
{
	return m->t.count;
}

/* Is this node the one the agent runs on? */
static int
is_local(const struct nodemap *m, const struct k8s_node *k)
{
	switch (m->idkind) {
	case NODE_BY_NAME:
		return strcmp(k->name, m->id) == 0;
	case NODE_BY_MACHINE_ID:
		return strcmp(k->machine_id, m->id) == 0;
	case NODE_BY_SYSTEM_UUID:
		/* The kubelet may report it in either case. */
		return strcasecmp(k->system_uuid, m->id) == 0;
	case NODE_BY_BOOT_ID:
		return strcmp(k->boot_id, m->id) == 0;
	}
	return 0;
}

/* Route intents of a peer: one per pod CIDR with an address of its family. */
int
node_intents(const struct nm_node *n, struct msg_intent out[2])
{
	int	 i, k = 0;

	if (n->local)
		return 0;
	for (i = 0; i < n->ncidr; i++) {
		const struct kn_prefix	*p = &n->cidr[i];

		if ((p->family == AF_INET && !n->has4) ||
		    (p->family == AF_INET6 && !n->has6))
			continue;
		memset(&out[k], 0, sizeof(out[k]));
		out[k].family = p->family;
		out[k].plen = p->len;
		memcpy(out[k].prefix, p->addr, sizeof(p->addr));
		if (p->family == AF_INET)
			memcpy(out[k].node, n->addr4, 4);
		else
			memcpy(out[k].node, n->addr6, 16);
		memcpy(out[k].boot, n->boot, 16);
		k++;
	}
	return k;
}

static int
same_prefix(const struct msg_intent *a, const struct msg_intent *b)
{
	return a->family == b->family && a->plen == b->plen &&
	    memcmp(a->prefix, b->prefix, sizeof(a->prefix)) == 0;
}

/*
 * What changed for one node: an intent whose prefix is new, whose node
 * address moved or whose node booted again is an add (the executor
 * replaces in place); a prefix that went away is a delete.  Nothing
 * else costs a message: a status heartbeat changes none of these.
 */
static void
delta(const struct msg_intent *old, int nold, const struct msg_intent *new,
    int nnew, struct nm_change *ch)
{
	int	 i, j;

	for (i = 0; i < nnew; i++) {
		for (j = 0; j < nold; j++)
			if (same_prefix(&new[i], &old[j]))
				break;
		if (j == nold || memcmp(new[i].node, old[j].node, 16) != 0 ||
		    memcmp(new[i].boot, old[j].boot, 16) != 0)
			ch->add[ch->nadd++] = new[i];
	}
	for (j = 0; j < nold; j++) {
		for (i = 0; i < nnew; i++)
			if (same_prefix(&new[i], &old[j]))
				break;
		if (i == nnew)
			ch->del[ch->ndel++] = old[j];
	}
}

/*
 * A boot ID as the kubelet reports it, the kernel's random UUID
 * (8-4-4-4-12 hex digits) into its 16 bytes; -1 and all zero for
 * anything else, an empty one included.
 */
int
boot_id_parse(const char *s, uint8_t out[16])
{
	int	 i, n = 0, hi, lo;

	memset(out, 0, 16);
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				break;
			continue;
		}
		if ((hi = hexval((unsigned char)s[i])) == -1 ||
		    (lo = hexval((unsigned char)s[++i])) == -1)
			break;
		out[n++] = (uint8_t)(hi << 4 | lo);
	}
	if (i == 36 && s[36] == '\0')
		return 0;
	memset(out, 0, 16);
	return -1;
}

static void
node_fill(struct nm_node *n, const struct k8s_node *k)
{
	int	 i;

	n->ncidr = 0;
	if (k->npod_cidrs > 0)
		for (i = 0; i < k->npod_cidrs && i < 2; i++)
			n->cidr[n->ncidr++] = k->pod_cidrs[i];
	else if (k->pod_cidr.family != 0)
		n->cidr[n->ncidr++] = k->pod_cidr;
	n->has4 = k->naddr4 > 0;
	n->has6 = k->naddr6 > 0;
	memcpy(n->addr4, k->addr4, sizeof(n->addr4));
	memcpy(n->addr6, k->addr6, sizeof(n->addr6));
	n->net_unavailable = k->net_unavailable;
	(void)boot_id_parse(k->boot_id, n->boot);
	if (!n->warned && (k->naddr4 > 1 || k->naddr6 > 1)) {
		n->warned = 1;
		log_info("node %s lists several addresses of one family; "
		    "using the lowest of each", k->name);
	}
}

/*
 * Apply one event and say in *ch what it changed.  Returns -1 when a
 * new node does not fit under the --max-nodes bound (the node is
 * ignored, nothing changed).
 */
int
nodemap_apply(struct nodemap *m, enum k8s_event ev, const struct k8s_node *k,
    struct nm_change *ch)
{
	struct msg_intent	 old[2], new[2];
	struct hnode		**pp;
	struct nm_node		*n;
	uint32_t		 h;
	size_t			 len;
	int			 nold, nnew;

	ch->nadd = ch->ndel = 0;
	if (ev == K8S_BOOKMARK)
		return 0;
	h = name_hash(k->name);
	pp = lookup(m, k->name, h);
	n = (struct nm_node *)*pp;
	if (ev == K8S_DELETED) {
		if (n == NULL)
			return 0;
		nold = node_intents(n, old);
		delta(old, nold, NULL, 0, ch);
		htab_unlink(&m->t, pp);
		/* Room: a refused node's next event finds it. */
		m->refused = 0;
		if (m->local == n)
			m->local = NULL;
		free(n);
		return 0;
	}
	if (n == NULL) {
		if (m->t.count >= m->t.max) {
			m->refused++;
			return -1;
		}
		/* Names average a few dozen bytes: keep only those. */
		len = strnlen(k->name, sizeof(k->name) - 1);
		if ((n = calloc(1, sizeof(*n) + len + 1)) == NULL)
			return -1;
		memcpy(n->name, k->name, len);
		htab_link(&m->t, pp, &n->h, h);
		nold = 0;
	} else
		nold = node_intents(n, old);
	if (is_local(m, k)) {
		n->local = 1;
		m->local = n;
	}
	node_fill(n, k);
	nnew = node_intents(n, new);
	delta(old, nold, new, nnew, ch);
	return 0;
}

/*
 * Events of nodes refused for want of room since the map last had
 * some: while not 0, nodes exist that it does not hold.
 */
unsigned
nodemap_refused(const struct nodemap *m)
{
	return m->refused;
}

/* Every node in turn: start with *bucket 0 and prev NULL. */
const struct nm_node *
nodemap_next(const struct nodemap *m, unsigned *bucket,
    const struct nm_node *prev)
{
	return (const struct nm_node *)htab_next(&m->t, bucket,
	    prev != NULL ? &prev->h : NULL);
}

void
nodemap_local_msg(const struct nm_node *n, struct msg_local *l)
{
	int	 i;

	memset(l, 0, sizeof(*l));
	for (i = 0; i < n->ncidr; i++) {
		l->family[i] = n->cidr[i].family;
		l->plen[i] = n->cidr[i].len;
		memcpy(l->cidr[i], n->cidr[i].addr, 16);
	}
	l->has4 = n->has4;
	l->has6 = n->has6;
	memcpy(l->addr4, n->addr4, 4);
	memcpy(l->addr6, n->addr6, 16);
	memcpy(l->boot, n->boot, 16);
}
