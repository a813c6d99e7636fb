/*
 * The receiving end of the watcher's intent stream, for the executor
 * and the ARP helper: every intent through the safety envelope into
 * the table, and what was accepted handed back to the caller.
 */
#include <sys/socket.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intentrx.h"
#include "log.h"

int
intentrx_init(struct intent_rx *rx, const struct kn_config *conf)
{
	memset(rx, 0, sizeof(*rx));
	rx->conf = conf;
	/* At most an IPv4 and an IPv6 pod CIDR a node; the table grows. */
	return (rx->active = itab_new(2 * conf->max_nodes)) == NULL ? -1 : 0;
}

void
intentrx_free(struct intent_rx *rx)
{
	itab_free(rx->active);
	itab_free(rx->staging);
	free(rx->changes);
	memset(rx, 0, sizeof(*rx));
}

/* Notes a change of the active table for the caller. */
static void
changed(struct intent_rx *rx, const struct msg_intent *in)
{
	struct intentrx_change	*c;
	const struct msg_intent	*now;
	size_t			 max;

	if (rx->nchanges == rx->maxchanges) {
		max = rx->maxchanges == 0 ? 64 : 2 * rx->maxchanges;
		if ((c = reallocarray(rx->changes, max, sizeof(*c))) == NULL)
			fatal("the intents accepted");
		rx->changes = c;
		rx->maxchanges = max;
	}
	c = &rx->changes[rx->nchanges++];
	memset(c, 0, sizeof(*c));
	c->in = *in;
	if ((now = itab_get(rx->active, in)) != NULL) {
		c->now = *now;
		c->has_now = 1;
	}
}

static void
intent_name(const struct msg_intent *in, char *buf, size_t len)
{
	char	 p[INET6_ADDRSTRLEN], n[INET6_ADDRSTRLEN];
	int	 af = in->family == AF_INET6 ? AF_INET6 : AF_INET;

	if (inet_ntop(af, in->prefix, p, sizeof(p)) == NULL ||
	    inet_ntop(af, in->node, n, sizeof(n)) == NULL)
		snprintf(buf, len, "(family %u)", in->family);
	else
		snprintf(buf, len, "%s/%u via %s", p, in->plen, n);
}

/*
 * One intent through the envelope into a table: 0 done, 1 refused, 2
 * a removal of a prefix the table does not hold, which touches
 * nothing (not the objects it would share with an overlapping one).
 */
static int
accept_one(struct intent_rx *rx, struct itab *t, const struct msg_intent *in,
    int add)
{
	const struct msg_intent	*o;
	const char		*why;
	char			 name[2 * INET6_ADDRSTRLEN + 16];
	char			 other[2 * INET6_ADDRSTRLEN + 16];

	if ((why = intent_refusal(rx->conf->cluster, in)) != NULL ||
	    (rx->have_local &&
	    (why = intent_local_refusal(&rx->local, in)) != NULL)) {
		intent_name(in, name, sizeof(name));
		log_warnx("refused intent %s: %s", name, why);
		return 1;
	}
	if (!add)
		return itab_del(t, in) == 0 ? 0 : 2;
	switch (itab_put(t, in)) {
	case -1:
		intent_name(in, name, sizeof(name));
		log_warnx("refused intent %s: more than %u intents "
		    "(--max-nodes)", name, 2 * rx->conf->max_nodes);
		rx->over++;
		return 1;
	case -2:
		o = itab_overlap(t, in->family, in->plen, in->prefix);
		intent_name(in, name, sizeof(name));
		intent_name(o, other, sizeof(other));
		log_warnx("refused intent %s: pod prefix overlaps the accepted "
		    "%s", name, other);
		return 1;
	}
	return 0;
}

static enum intentrx_rv
intents(struct intent_rx *rx, const struct msg *m, int add,
    struct msg_gen_result *res)
{
	const struct msg_intent	*in = m->data;
	size_t			 i, n = m->len / sizeof(*in);
	uint32_t		 refused = 0;
	struct msg_intent	 tmp;
	int			 rv;

	for (i = 0; i < n; i++) {
		/* The payload need not be aligned for the struct. */
		memcpy(&tmp, &in[i], sizeof(tmp));
		rv = accept_one(rx, rx->staging != NULL ? rx->staging :
		    rx->active, &tmp, add);
		if (rv == 1)
			refused++;
		else if (rv == 0 && rx->staging == NULL)
			changed(rx, &tmp);
	}
	if (rx->staging != NULL) {
		rx->staging_sent += n;
		rx->staging_refused += refused;
		return INTENTRX_NONE;
	}
	res->gen = m->hdr.id;
	res->applied = n - refused;
	res->refused = refused;
	log_debug("generation %llu: %u intents %s, %u refused",
	    (unsigned long long)res->gen, res->applied, add ? "added" :
	    "removed", refused);
	return INTENTRX_BATCH;
}

static enum intentrx_rv
snapshot(struct intent_rx *rx, const struct msg *m,
    struct msg_gen_result *res)
{
	struct msg_gen	 g;

	memcpy(&g, m->data, sizeof(g));
	if (m->hdr.type == MSG_SNAP_BEGIN) {
		itab_free(rx->staging);
		if ((rx->staging = itab_new(2 * rx->conf->max_nodes)) == NULL)
			fatal("snapshot table");
		rx->staging_gen = g.gen;
		rx->staging_sent = rx->staging_refused = 0;
		return INTENTRX_NONE;
	}
	res->gen = g.gen;
	if (rx->staging == NULL || g.gen != rx->staging_gen ||
	    g.count != rx->staging_sent) {
		log_warnx("snapshot %llu refused: %u intents announced, %u "
		    "received", (unsigned long long)g.gen, g.count,
		    rx->staging_sent);
		itab_free(rx->staging);
		rx->staging = NULL;
		res->applied = 0;
		res->refused = g.count;
		return INTENTRX_REFUSED;
	}
	itab_free(rx->active);
	rx->active = rx->staging;
	rx->staging = NULL;
	res->applied = itab_count(rx->active);
	res->refused = rx->staging_refused;
	log_info("generation %llu: %u intents accepted, %u refused",
	    (unsigned long long)g.gen, res->applied, res->refused);
	return INTENTRX_SNAPSHOT;
}

/*
 * Takes out of a table every intent that overlaps this node's pod
 * CIDRs, with a line for each; how many.  Those of the active table go
 * from the kernel too: they are changes.
 */
static uint32_t
withdraw_local(struct intent_rx *rx, struct itab *t)
{
	const struct msg_local	*l = &rx->local;
	const struct msg_intent	*o;
	struct msg_intent	 in;
	char			 name[2 * INET6_ADDRSTRLEN + 16];
	uint32_t		 n = 0;
	int			 i;

	for (i = 0; i < 2; i++)
		while ((o = itab_overlap(t, l->family[i], l->plen[i],
		    l->cidr[i])) != NULL) {
			in = *o;
			itab_del(t, &in);
			intent_name(&in, name, sizeof(name));
			log_warnx("withdrew intent %s: %s", name,
			    intent_local_refusal(l, &in));
			if (t == rx->active)
				changed(rx, &in);
			n++;
		}
	return n;
}

/*
 * This node's pod CIDR and address, checked field by field whether or
 * not a CIDR comes with the address: the VXLAN modes put an address
 * from the one and the MAC derived from it on their device and use
 * the other as its local end, the gre mode makes the address every
 * tunnel's local end, so they pass the envelope like the intent they
 * amount to, lest a watcher put an address of its choice on a device.
 * Only the CIDRs of the families the cluster range covers and that
 * have an address are kept.  A refusal keeps the last accepted local
 * node; an accepted one withdraws every intent it overlaps.
 */
static enum intentrx_rv
local(struct intent_rx *rx, const struct msg *m)
{
	struct msg_local	 l;
	struct msg_intent	 in;
	const char		*why;
	char			 name[2 * INET6_ADDRSTRLEN + 16];
	int			 i, has;

	memcpy(&l, m->data, sizeof(l));
	if ((why = local_form_refusal(&l)) != NULL) {
		log_warnx("refused local node: %s", why);
		return INTENTRX_NONE;
	}
	for (i = 0; i < 2; i++) {
		memset(&in, 0, sizeof(in));
		in.family = l.family[i];
		in.plen = l.plen[i];
		memcpy(in.prefix, l.cidr[i], sizeof(in.prefix));
		if (in.family == AF_INET)
			memcpy(in.node, l.addr4, sizeof(l.addr4));
		else
			memcpy(in.node, l.addr6, sizeof(l.addr6));
		has = in.family == AF_INET ? l.has4 : l.has6;
		if (cluster_of(rx->conf->cluster, in.family) == NULL || !has) {
			l.family[i] = l.plen[i] = 0;
			memset(l.cidr[i], 0, sizeof(l.cidr[i]));
			continue;
		}
		if ((why = intent_refusal(rx->conf->cluster, &in)) != NULL) {
			intent_name(&in, name, sizeof(name));
			log_warnx("refused local pod CIDR %s: %s", name, why);
			return INTENTRX_NONE;
		}
	}
	for (i = 0; i < 2; i++) {
		memset(&in, 0, sizeof(in));
		in.family = i ? AF_INET6 : AF_INET;
		memcpy(in.node, i ? l.addr6 : l.addr4, i ? 16 : 4);
		if ((i ? l.has6 : l.has4) && (why = node_refusal(
		    rx->conf->cluster, in.family, in.node)) != NULL) {
			inet_ntop(in.family, in.node, name, sizeof(name));
			log_warnx("refused local node address %s: %s", name,
			    why);
			return INTENTRX_NONE;
		}
	}
	rx->local = l;
	rx->have_local = 1;
	withdraw_local(rx, rx->active);
	if (rx->staging != NULL)
		rx->staging_refused += withdraw_local(rx, rx->staging);
	return INTENTRX_LOCAL;
}

/*
 * What the message did; *res says how a generation went, rx->changes
 * what it changed in the active table.
 */
enum intentrx_rv
intentrx_msg(struct intent_rx *rx, const struct msg *m,
    struct msg_gen_result *res)
{
	rx->nchanges = 0;
	switch (m->hdr.type) {
	case MSG_LOCAL:
		return local(rx, m);
	case MSG_SNAP_BEGIN:
	case MSG_SNAP_END:
		return snapshot(rx, m, res);
	case MSG_INTENT_ADD:
	case MSG_INTENT_DEL:
		return intents(rx, m, m->hdr.type == MSG_INTENT_ADD, res);
	}
	return INTENTRX_NONE;
}
