#include <sys/socket.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "intentrx.h"
#include "log.h"

int
intentrx_init(struct intent_rx *rx, const struct kn_config *conf)
{
	memset(rx, 0, sizeof(*rx));
	rx->conf = conf;
	return (rx->active = itab_new(2 * conf->max_nodes)) == NULL ? -1 : 0;
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

/* One intent through the envelope into a table; 1 if refused. */
static int
accept_one(struct intent_rx *rx, struct itab *t, const struct msg_intent *in,
    int add)
{
	const char	*why;
	char		 name[2 * INET6_ADDRSTRLEN + 16];

	if ((why = intent_refusal(rx->conf->cluster, in)) != NULL) {
		intent_name(in, name, sizeof(name));
		log_warnx("refused intent %s: %s", name, why);
		return 1;
	}
	if (!add) {
		itab_del(t, in);
		return 0;
	}
	if (itab_put(t, in) == -1) {
		intent_name(in, name, sizeof(name));
		log_warnx("refused intent %s: more than %u intents "
		    "(--max-nodes)", name, 2 * rx->conf->max_nodes);
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

	for (i = 0; i < n; i++) {
		/* The payload need not be aligned for the struct. */
		memcpy(&tmp, &in[i], sizeof(tmp));
		if (accept_one(rx, rx->staging != NULL ? rx->staging :
		    rx->active, &tmp, add))
			refused++;
		else if (rx->staging == NULL && rx->applied != NULL)
			rx->applied(&tmp, rx->arg);
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
 * This node's pod CIDR and address: the VXLAN modes put an address
 * from the one and the MAC derived from it on their device and use
 * the other as its local end, so they pass the envelope like the
 * intent they amount to, lest a watcher put an address of its choice
 * on a device.  Only the families the cluster range covers are used; a
 * refusal keeps the last accepted local node.
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
	rx->local = l;
	rx->have_local = 1;
	return INTENTRX_LOCAL;
}

/* What the message did; *res says how a generation went. */
enum intentrx_rv
intentrx_msg(struct intent_rx *rx, const struct msg *m,
    struct msg_gen_result *res)
{
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
