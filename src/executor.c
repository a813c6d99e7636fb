/*
 * The executor: the only process that changes the kernel's network
 * state.  It keeps CAP_NET_ADMIN and nothing else, trusts nothing the
 * watcher says (every intent passes the safety envelope in intentrx),
 * and keeps the kernel objects it owns equal to what the accepted
 * intents ask for, with as little netlink traffic as it can:
 *
 *  - have: the owned objects the kernel holds, from dumps and from the
 *    monitor socket;
 *  - want: the objects the accepted intents ask for in this mode.
 *
 * A full reconcile writes the difference of the two; a single intent
 * or a monitor event touches only its own keys.  Until the first
 * snapshot is in, nothing is removed, so a restart causes no flap.
 * This file is the process, its generations and its reconciling; the
 * monitor is monitor.c's, what a request's answer means outcome.c's.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/xfrm.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "executor.h"
#include "ipseckey.h"
#include "link.h"
#include "log.h"

#define GRE_OVERHEAD4		24	/* outer IPv4, GRE without options */
#define GRE_OVERHEAD6		44	/* outer IPv6, GRE; encaplimit none */
#define DUMP_TRIES		5
#define FLUSH_ROUNDS		3
/*
 * ESP-in-UDP with AES-GCM at its largest: outer IP (20, or 40), UDP 8,
 * ESP header 8, IV 8, padding up to 3, trailer 2, ICV 16: 65 (85), and
 * 8 bytes to spare.
 */
#define IPSEC_OVERHEAD4		73
#define IPSEC_OVERHEAD6		93

static struct executor	 ex;

/*
 * ipsec: nothing of ours is extra until a key and this node say what
 * is wanted; before that a snapshot removes nothing.
 */
static int
ipsec_ready(const struct executor *e)
{
	return e->ctx.mode != MODE_IPSEC || (e->ctx.ipsec.out != NULL &&
	    e->ctx.ipsec.local != NULL);
}

/*
 * A snapshot was reconciled: what the kernel holds of ours and no
 * intent asks for is extra, and goes.  Until then nothing is removed,
 * so a restart causes no flap.
 */
int
executor_synced(const struct executor *e)
{
	return e->snapped && ipsec_ready(e);
}

/*
 * h: what the kernel holds for it, NULL if nothing.  Both are copied
 * before the batch takes the request: a full batch is sent first, and
 * its outcomes may free records of have, o or h among them (a removed
 * tunnel takes its routes with it).
 */
static void
request(struct executor *e, enum kobj_op op, const struct kobj *o,
    const struct kobj *h)
{
	struct pending	 p;
	struct nlmsghdr	*nlh;
	unsigned	 idx;

	p.op = op;
	p.o = *o;
	/* Another's route made ours in place (see kobj.c's adoptable). */
	p.adopt = op == KOBJ_REPLACE && h != NULL &&
	    h->k.type == KOBJ_ROUTE && h->v.proto != o->v.proto ?
	    h->v.proto : 0;
	if ((nlh = nl_batch_add(&e->batch, 0, 0, &idx)) == NULL) {
		log_warn("netlink send");
		e->resync = 1;
		return;
	}
	e->requests++;
	e->st.requests[p.o.k.type - KOBJ_ROUTE][op]++;
	e->pend[idx] = p;
	kobj_request(nlh, &e->ctx, op, &e->pend[idx].o);
}

/*
 * A gre mode route with the index of the tunnel it goes through; -1
 * while the kernel has not reported that tunnel, or it is down.
 */
static int
tunnel_route(struct executor *e, const struct kobj *w, struct kobj *out)
{
	struct kobj_key		 tk;
	const struct kobj	*t;

	kobj_tunnel_key(w, &tk);
	/* A route through a tunnel that is down is refused (ENETDOWN). */
	if ((t = ktab_get(&e->have, &tk)) == NULL || t->v.ifindex == 0 ||
	    !t->v.up)
		return -1;
	*out = *w;
	out->v.oif = t->v.ifindex;
	return 0;
}

/*
 * A state to create, with the sequence numbers of the one of the same
 * SPI and key that the kernel last reported removed.  Its peer's state
 * has seen those numbers: from 1 again, what it sends would be dropped
 * as replayed until the next key rotation.  The kernel sends nothing
 * on a state once it is being removed, so the number reported is the
 * last one used and no margin is needed.  Another key, or none known
 * (the state went while the daemon was stopped), starts from 1.
 */
static void
resume_state(struct executor *e, const struct kobj *w, struct kobj *out)
{
	const struct kobj	*g = ktab_get(&e->gone, &w->k);
	char			 name[KOBJ_NAME_MAX];

	*out = *w;
	if (g == NULL)
		return;
	if (kobj_same(w, g)) {
		out->v.oseq = g->v.oseq;
		out->v.rseq = g->v.rseq;
		out->v.rbitmap = g->v.rbitmap;
		kobj_name(w, name, sizeof(name));
		log_debug("%s: going on from sequence number %u sent, %u "
		    "received", name, g->v.oseq, g->v.rseq);
	}
	ktab_del(&e->gone, &w->k);
}

/* Bring one key of the kernel in line; queued in the batch. */
void
executor_reconcile_key(struct executor *e, const struct kobj_key *k)
{
	const struct kobj	*w = ktab_get(&e->want, k);
	const struct kobj	*h = ktab_get(&e->have, k);
	struct kobj		 r;

	if (w != NULL && w->v.tunnel) {
		if (tunnel_route(e, w, &r) == -1) {
			if (ktab_put(&e->deferred, w) == -1)
				e->resync = 1;
			return;
		}
		w = &r;
	} else if (w != NULL && w->k.type == KOBJ_TUNNEL && h != NULL) {
		/* Changed in place: on the index the kernel gave it. */
		r = *w;
		r.v.ifindex = h->v.ifindex;
		w = &r;
	}
	if (w != NULL && h != NULL && kobj_same(w, h))
		return;
	if (w != NULL && h == NULL && w->k.type == KOBJ_XSTATE) {
		resume_state(e, w, &r);
		w = &r;
	}
	/* The kernel cannot change a state's key: it goes and comes back. */
	if (w != NULL && h != NULL && w->k.type == KOBJ_XSTATE) {
		request(e, KOBJ_DELETE, h, NULL);
		request(e, KOBJ_CREATE, w, NULL);
		return;
	}
	/*
	 * vxlan-legacy's connected route is the kernel's as much as ours:
	 * replaced, so the kernel's own is no conflict, never removed.
	 */
	if (w != NULL)
		request(e, h == NULL && ((w->k.type == KOBJ_ROUTE &&
		    w->v.proto == 0) || w->k.type == KOBJ_TUNNEL ||
		    w->k.type == KOBJ_XSTATE || w->k.type == KOBJ_XPOLICY) ?
		    KOBJ_CREATE : KOBJ_REPLACE, w, h);
	else if (h != NULL && executor_synced(e) &&
	    !kobj_is_connected(&e->ctx, h))
		request(e, KOBJ_DELETE, h, NULL);
}

/* The routes that waited for their tunnels, tried again. */
void
executor_deferred_retry(struct executor *e)
{
	struct ktab		 t = e->deferred;
	const struct kobj	*o = NULL;
	unsigned		 b = 0;

	e->newtun = 0;
	if (ktab_init(&e->deferred, e->max) == -1)
		fatal("table of routes waiting for tunnels");
	while ((o = ktab_next(&t, &b, o)) != NULL)
		executor_reconcile_key(e, &o->k);
	ktab_free(&t);
}

/*
 * Sends what is queued.  A route through a tunnel made just now needs
 * the tunnel's index, which the ack does not carry; the kernel told
 * the monitor socket before it acked, so the monitor is read and the
 * waiting routes go in a second batch, as do those of a tunnel that
 * was down and is up again.
 */
static void
flush(struct executor *e)
{
	int	 round;

	for (round = 0; round < FLUSH_ROUNDS; round++) {
		if (nl_batch_flush(&e->batch) == -1) {
			log_warn("netlink batch");
			e->resync = 1;
			break;
		}
		outcome_gre_batch(e);
		if (!e->tunchanged || ktab_count(&e->deferred) == 0)
			break;
		e->tunchanged = 0;
		monitor_take(e, &e->mon, monitor_cb);
		executor_deferred_retry(e);
	}
	outcome_adopted(e);
}

/* What the accepted intents ask for, from scratch. */
static void
want_add(const struct msg_intent *in, void *arg)
{
	struct executor	*e = arg;
	struct kobj	 o[KOBJ_PER_INTENT];
	int		 i, n = kobj_wanted(&e->ctx, in, o);
	uint32_t	 spi;
	char		 name[INET6_ADDRSTRLEN];

	if (n == 0 && e->ctx.mode == MODE_IPSEC && ipsec_spi(e->c->conf.cluster,
	    in->family, in->plen, in->prefix, 1, &spi) == -1) {
		inet_ntop(in->family, in->prefix, name, sizeof(name));
		log_warnx("ipsec: pod CIDR %s/%u: its index within --pod-cidr "
		    "needs more than %d bits, the room an SPI has; peer "
		    "skipped", name, in->plen, IPSEC_SPI_BITS);
	}
	if (e->ctx.mode == MODE_GRE &&
	    !kobj_gre_unique(e->ctx.cluster, in->family, in->plen)) {
		inet_ntop(in->family, in->prefix, name, sizeof(name));
		log_warnx("gre mode: pod CIDR %s/%u: its index within "
		    "--pod-cidr needs more than the 32 bits a tunnel name "
		    "holds; peer skipped", name, in->plen);
	}
	for (i = 0; i < n; i++)
		if (ktab_put(&e->want, &o[i]) == -1)
			fatalx("the table of wanted objects is full");
}

static void
want_rebuild(struct executor *e)
{
	struct kobj	 o;
	int		 f;

	ktab_free(&e->want);
	if (ktab_init(&e->want, e->max) == -1)
		fatal("table of wanted objects");
	itab_walk(e->rx.active, want_add, e);
	for (f = 0; f < 2; f++)
		if (kobj_connected(&e->ctx, f, &o) && ktab_put(&e->want,
		    &o) == -1)
			fatalx("the table of wanted objects is full");
}

/* The keys the wanted states use now; the table follows. */
static void
ipsec_keys_apply(struct executor *e)
{
	kxfrm_keys_use(&e->keys, &e->ctx.ipsec);
	want_rebuild(e);
	e->resync = 1;
}

/* The removed states no longer wanted: their numbers are of no use. */
static void
gone_prune(struct executor *e)
{
	struct ktab		 t = e->gone;
	const struct kobj	*o = NULL;
	unsigned		 b = 0;

	if (ktab_count(&t) == 0)
		return;
	if (ktab_init(&e->gone, e->max) == -1)
		fatal("table of removed states");
	while ((o = ktab_next(&t, &b, o)) != NULL)
		if (ktab_get(&e->want, &o->k) != NULL)
			(void)ktab_put(&e->gone, o);
	ktab_free(&t);
}

/*
 * What the kernel holds of ours and no intent asks for goes.  Each
 * request may send a full batch, whose outcomes link and unlink
 * records of have (a removed tunnel takes its routes with it) and may
 * grow it: the keys are taken first, and each is looked up afresh.
 */
static void
remove_extra(struct executor *e)
{
	const struct kobj	*o = NULL;
	struct kobj_key		*k;
	unsigned		 b = 0, i, n = 0;

	if ((k = calloc(ktab_count(&e->have) + 1, sizeof(*k))) == NULL) {
		log_warn("removing what no intent asks for");
		e->resync = 1;
		return;
	}
	while ((o = ktab_next(&e->have, &b, o)) != NULL)
		if (ktab_get(&e->want, &o->k) == NULL)
			k[n++] = o->k;
	for (i = 0; i < n; i++)
		executor_reconcile_key(e, &k[i]);
	free(k);
}

/*
 * The whole difference: what is missing or wrong, then what is extra.
 * The walk of want may send batches: their outcomes change have,
 * deferred, gone and dirty, never want.
 */
static void
reconcile_all(struct executor *e)
{
	const struct kobj	*o = NULL;
	unsigned		 b = 0;

	while ((o = ktab_next(&e->want, &b, o)) != NULL)
		executor_reconcile_key(e, &o->k);
	if (executor_synced(e)) {
		remove_extra(e);
		gone_prune(e);
	}
	flush(e);
}

/*
 * One dump into the have table (proto: of routes, see
 * kobj_dump_request); redone while the kernel interrupts.
 */
static int
dump(struct executor *e, uint16_t type, uint8_t family, uint32_t ifindex,
    uint8_t proto)
{
	char			 buf[256] __attribute__((aligned(8)));
	struct kobj_collect	 kc = { &e->ctx, &e->have };
	int			 try, rv;

	for (try = 0; try < DUMP_TRIES; try++) {
		if (e->ctx.mode == MODE_IPSEC)
			rv = nl_query(&e->xcmd, kxfrm_dump_request(buf,
			    sizeof(buf), type), kxfrm_collect, &kc);
		else
			rv = nl_query(&e->cmd, kobj_dump_request(buf,
			    sizeof(buf), type, family, ifindex, proto),
			    kobj_collect, &kc);
		if (rv != NL_INTR)
			return rv;
		log_debug("dump interrupted by a change; again");
	}
	errno = EINTR;
	return -1;
}

/*
 * The routes of a family: ours on any device, and those of other
 * protocols that may be adopted (see kobj.c), with as little as the
 * kernel can filter: every one on our VXLAN devices, those of
 * --adopt-protocol, or in gre mode all of them (a tunnel per peer).
 */
static int
routes_load(struct executor *e, uint8_t family)
{
	int	 i;

	if (dump(e, RTM_GETROUTE, family, 0, e->ctx.protocol) == -1)
		return -1;
	for (i = 0; i < 2; i++)
		if (e->dev[i].ifindex != 0 && dump(e, RTM_GETROUTE, family,
		    e->dev[i].ifindex, 0) == -1)
			return -1;
	if (e->ctx.adopt != 0)
		return dump(e, RTM_GETROUTE, family, 0, e->ctx.adopt);
	if (e->ctx.mode == MODE_GRE)
		return dump(e, RTM_GETROUTE, family, 0, 0);
	return 0;
}

/* Reads every owned object the kernel holds into the have table. */
static int
have_load(struct executor *e)
{
	int	 i;

	ktab_free(&e->have);
	if (ktab_init(&e->have, e->max) == -1)
		fatal("table of kernel objects");
	if (e->ctx.mode == MODE_IPSEC)
		return dump(e, XFRM_MSG_GETSA, 0, 0, 0) == -1 ||
		    dump(e, XFRM_MSG_GETPOLICY, 0, 0, 0) == -1 ? -1 : 0;
	/* gre mode: the tunnels of each family the cluster range has. */
	for (i = 0; i < 2 && e->ctx.mode == MODE_GRE; i++)
		if (cluster_of(e->ctx.cluster, i ? AF_INET6 : AF_INET) != NULL &&
		    dump(e, RTM_GETLINK, i ? AF_INET6 : AF_INET, 0, 0) == -1)
			return -1;
	if (routes_load(e, AF_INET) == -1 || routes_load(e, AF_INET6) == -1)
		return -1;
	for (i = 0; i < 2; i++) {
		if (e->dev[i].ifindex == 0)
			continue;
		if (dump(e, RTM_GETNEIGH, AF_BRIDGE, e->dev[i].ifindex, 0) ==
		    -1)
			return -1;
		if (e->ctx.neigh && dump(e, RTM_GETNEIGH,
		    e->dev[i].family, e->dev[i].ifindex, 0) == -1)
			return -1;
	}
	return 0;
}

/*
 * This node's pod network, for the parent's CNI configuration, once
 * every device it needs is set up: the pod CIDRs the envelope accepted
 * and the MTU pods get, the smallest of the devices their traffic
 * leaves by (the VXLAN devices or GRE tunnels, or in layer2 the
 * underlay).  Sent whenever it changes.
 */
static void
node_net_report(struct executor *e)
{
	const struct msg_local	*l = &e->rx.local;
	struct msg_node_net	 nn;
	uint32_t		 mtu;
	int			 i, f;

	if (!e->rx.have_local || (e->ctx.mode != MODE_LAYER2 &&
	    e->ctx.mode != MODE_GRE && e->ctx.mode != MODE_IPSEC &&
	    e->dev[0].name == NULL))
		return;
	memset(&nn, 0, sizeof(nn));
	for (i = 0; i < 2; i++) {
		if (l->family[i] != AF_INET && l->family[i] != AF_INET6)
			continue;
		f = l->family[i] == AF_INET6;
		/* Not yet, rather than a file without this family. */
		if (e->dev[f].name != NULL && e->dev[f].ifindex == 0)
			return;
		if (e->dev[f].name != NULL)
			mtu = e->dev[f].mtu;
		else if (e->ctx.mode == MODE_GRE)
			mtu = e->ctx.gre_mtu[f];
		else
			mtu = vdev_mtu_of(&e->cmd, e->ctx.target != 0 ?
			    e->ctx.target : vdev_underlay(&e->cmd,
			    l->family[i], f ? l->addr6 : l->addr4));
		/* ipsec: outer header, UDP, ESP, IV, padding, ICV. */
		if (e->ctx.mode == MODE_IPSEC)
			mtu -= f ? IPSEC_OVERHEAD6 : IPSEC_OVERHEAD4;
		nn.family[f] = l->family[i];
		nn.plen[f] = l->plen[i];
		memcpy(nn.cidr[f], l->cidr[i], sizeof(nn.cidr[f]));
		/* gre: no tunnels of a family this node has no address of. */
		if (mtu != 0 && (nn.mtu == 0 || mtu < nn.mtu))
			nn.mtu = mtu;
	}
	if (nn.mtu == 0 || memcmp(&nn, &e->node_net, sizeof(nn)) == 0)
		return;
	e->node_net = nn;
	if (msgchan_compose(&e->c->ctl, MSG_NODE_NET, 0, -1, &nn,
	    sizeof(nn)) == -1)
		log_warn("control channel: sending this node's pod network");
}

/* --- generations and the loop --------------------------------------- */

/*
 * gre mode: the local end and the MTU of every tunnel of each family,
 * from the local node and its underlay.  A change makes every tunnel
 * wanted anew.
 */
static void
gre_plan(struct executor *e)
{
	const struct msg_local	*l = &e->rx.local;
	uint8_t			 local[2][16], family;
	uint32_t		 mtu[2] = { 0, 0 };
	int			 f;

	memset(local, 0, sizeof(local));
	for (f = 0; f < 2; f++) {
		family = f ? AF_INET6 : AF_INET;
		if (!e->rx.have_local || !(f ? l->has6 : l->has4) ||
		    cluster_of(e->ctx.cluster, family) == NULL)
			continue;
		memcpy(local[f], f ? l->addr6 : l->addr4, f ? 16 : 4);
		mtu[f] = e->c->conf.mtu;
		if (mtu[f] == 0)
			mtu[f] = vdev_mtu_of(&e->cmd, vdev_underlay(&e->cmd,
			    family, local[f])) - (f ? GRE_OVERHEAD6 :
			    GRE_OVERHEAD4);
	}
	if (memcmp(mtu, e->ctx.gre_mtu, sizeof(mtu)) == 0 &&
	    memcmp(local, e->ctx.gre_local, sizeof(local)) == 0)
		return;
	memcpy(e->ctx.gre_mtu, mtu, sizeof(mtu));
	memcpy(e->ctx.gre_local, local, sizeof(local));
	want_rebuild(e);
	e->resync = 1;
}

/*
 * Every device as planned.  A device with a new index has new keys for
 * the objects on it: the wanted table is made again and a full re-sync
 * asked for.
 */
static void
devices_ensure(struct executor *e)
{
	uint32_t	 before[2] = { e->ctx.vxlan[0], e->ctx.vxlan[1] };
	uint8_t		 vaddr[2][16];
	int		 i;

	e->devcheck = 0;
	memcpy(vaddr, e->ctx.vaddr, sizeof(vaddr));
	for (i = 0; i < 2; i++)
		if (e->dev[i].name != NULL) {
			vdev_ensure(&e->cmd, &e->dev[i], &e->c->conf,
			    e->rx.have_local ? &e->rx.local : NULL);
			e->ctx.vxlan[i] = e->dev[i].ifindex;
			memset(e->ctx.vaddr[i], 0, 16);
			if (e->dev[i].wanted && e->dev[i].ifindex != 0)
				memcpy(e->ctx.vaddr[i], e->dev[i].addr, 16);
		}
	if (e->ctx.mode == MODE_GRE)
		gre_plan(e);
	node_net_report(e);
	if (before[0] != e->ctx.vxlan[0] || before[1] != e->ctx.vxlan[1] ||
	    memcmp(vaddr, e->ctx.vaddr, sizeof(vaddr)) != 0) {
		want_rebuild(e);
		e->resync = 1;
	}
}

/* Dumps the kernel again and reconciles all; a failure retries later. */
static void
executor_sync_all(struct executor *e)
{
	devices_ensure(e);
	e->resync = 0;
	e->st.resyncs++;
	ktab_free(&e->deferred);
	if (ktab_init(&e->deferred, e->max) == -1)
		fatal("table of routes waiting for tunnels");
	if (have_load(e) == -1) {
		log_warn("reading the kernel's state");
		e->resync = 1;
		return;
	}
	reconcile_all(e);
}

/*
 * One addition or removal the envelope let through: only the keys of
 * its own objects, which follow the prefix.  A refused intent never
 * gets here, so it cannot touch keys it shares with an accepted one.
 */
static void
executor_applied(struct executor *e, const struct intentrx_change *ch)
{
	struct kobj	 o[KOBJ_PER_INTENT];
	int		 j, k = kobj_wanted(&e->ctx, &ch->in, o);

	for (j = 0; j < k; j++)
		ktab_del(&e->want, &o[j].k);
	if (ch->has_now)
		want_add(&ch->now, e);
	for (j = 0; j < k; j++)
		executor_reconcile_key(e, &o[j].k);
}

/* What kopeio-networkctl and /metrics see; after every change. */
static void
executor_count(struct executor *e, const struct msg_gen_result *res,
    int64_t us)
{
	if (res != NULL) {
		e->st.gen = res->gen;
		e->st.gen_time = wall_ms();
		e->st.applied = res->applied;
		e->st.refused = res->refused;
		e->st.failed = res->failed;
	}
	if (us >= 0) {
		e->st.reconcile[stats_bucket(us)]++;
		e->st.reconcile_us += us;
	}
	e->st.intents = itab_count(e->rx.active);
	e->st.over = e->rx.over;
	e->st.bound = 2 * e->c->conf.max_nodes;
	/* Refusals stand until the table has room again. */
	if (e->st.intents < e->st.bound)
		e->over_room = e->rx.over;
	e->st.full = (uint32_t)(e->rx.over - e->over_room);
	e->st.objects = ktab_count(&e->have);
	e->st.synced = executor_synced(e);
	e->st.masq_repairs = e->nft.repairs;
	e->st.masq_rules = e->nft.rules;
	child_stats_changed(e->c, res != NULL);
}

static void
executor_peer(struct child *c, enum role from, struct msg *m)
{
	struct executor		*e = c->state;
	struct msg_gen_result	 res;
	enum intentrx_rv	 rv;
	int64_t			 t0 = mono_us();
	size_t			 i;

	(void)from;
	memset(&res, 0, sizeof(res));
	e->failed = e->requests = 0;
	rv = intentrx_msg(&e->rx, m, &res);
	for (i = 0; i < e->rx.nchanges; i++)
		executor_applied(e, &e->rx.changes[i]);
	switch (rv) {
	case INTENTRX_NONE:
		return;
	case INTENTRX_LOCAL:
		/* The removals of the intents it withdrew, first. */
		flush(e);
		/* Routes clear of its pod CIDR may be adopted now. */
		e->ctx.local = &e->rx.local;
		if (e->ctx.mode == MODE_IPSEC) {
			/* Every policy and state names this node. */
			e->ctx.ipsec.local = &e->rx.local;
			want_rebuild(e);
			executor_sync_all(e);
			node_net_report(e);
		} else if (e->dev[0].name != NULL || e->ctx.mode == MODE_GRE ||
		    e->ctx.adopt != 0)
			executor_sync_all(e);
		else
			node_net_report(e);
		executor_count(e, NULL, mono_us() - t0);
		return;
	case INTENTRX_SNAPSHOT:
		want_rebuild(e);
		e->snapped = 1;
		executor_sync_all(e);
		break;
	case INTENTRX_BATCH:
		flush(e);
		break;
	case INTENTRX_REFUSED:
		/* The kernel stays as it is: not a first snapshot either. */
		break;
	}
	res.failed = e->failed;
	if (res.failed > 0)
		log_warnx("generation %llu: %u kernel objects failed",
		    (unsigned long long)res.gen, res.failed);
	(m->hdr.type == MSG_SNAP_END ? log_info : log_debug)("generation %llu: "
	    "kernel reconciled with %u requests in %lld ms",
	    (unsigned long long)res.gen, e->requests,
	    (long long)(mono_us() - t0) / 1000);
	executor_count(e, &res, mono_us() - t0);
	if (msgchan_compose(&c->peer[ROLE_WATCHER], MSG_GEN_DONE, 0, -1, &res,
	    sizeof(res)) == -1)
		log_warn("watcher channel: sending the result of generation "
		    "%llu", (unsigned long long)res.gen);
}

static int
executor_poll(struct child *c, struct pollfd *pfd, int max,
    int64_t *timeout)
{
	struct executor	*e = c->state;
	int64_t		 left, nft;

	if (max < 3)
		return 0;
	pfd[0].fd = nl_fd(&e->mon);
	pfd[0].events = POLLIN;
	pfd[1].fd = e->ctx.mode == MODE_IPSEC ? nl_fd(&e->xmon) : -1;
	pfd[1].events = POLLIN;
	pfd[2].fd = knft_fd(&e->nft);
	pfd[2].events = POLLIN;
	left = e->resync ? 1000 : e->next_sync - mono_ms();
	if ((nft = knft_timeout(&e->nft, mono_ms())) >= 0 && nft < left)
		left = nft;
	if (e->keys.rot != KXFRM_ROT_NONE && e->keys.rot_next - mono_ms() <
	    left)
		left = e->keys.rot_next - mono_ms();
	*timeout = left < 0 ? 0 : left;
	return 3;
}

static void
executor_io(struct child *c, struct pollfd *pfd, int n)
{
	struct executor	*e = c->state;

	int64_t		 t0 = mono_us();
	uint64_t	 before = e->st.repairs + e->st.resyncs;
	uint32_t	 rules = e->nft.rules;

	if (n > 0 && (pfd[0].revents & (POLLIN | POLLERR))) {
		monitor_take(e, &e->mon, monitor_cb);
		flush(e);
	}
	if (n > 1 && (pfd[1].revents & (POLLIN | POLLERR))) {
		monitor_take(e, &e->xmon, monitor_xfrm_cb);
		flush(e);
	}
	if (n > 2 && (pfd[2].revents & (POLLIN | POLLERR)))
		knft_event(&e->nft);
	if (e->keys.rot != KXFRM_ROT_NONE && mono_ms() >= e->keys.rot_next) {
		kxfrm_rotation_step(&e->keys, c->conf.ipsec_rotation_ms);
		ipsec_keys_apply(e);
	}
	if (e->devcheck)
		devices_ensure(e);
	if (e->resync || mono_ms() >= e->next_sync) {
		if (executor_synced(e) || e->resync)
			log_debug("full re-sync");
		e->failed = 0;
		/* Before: the sync may want the next one sooner. */
		e->next_sync = mono_ms() + c->conf.sync_period_ms;
		executor_sync_all(e);
		e->nft.dirty = 1;
	}
	/* Once a round, however many nftables events came. */
	if (knft_run(&e->nft, mono_ms()) || e->nft.rules != rules ||
	    e->st.repairs + e->st.resyncs != before)
		executor_count(e, NULL, mono_us() - t0);
}

/* --- the parent's messages ----------------------------------- */

/*
 * The ESP-in-UDP socket of one family.  The executor holds it for as
 * long as it runs and never reads it: the kernel's ESP input takes the
 * packets before any queue, and keeping it here, beside the states
 * that need it, makes it show with the process that owns them.  The
 * parent keeps its own copy so the port stays bound across restarts.
 */
static void
ipsec_socket_msg(struct executor *e, const struct msg *m)
{
	uint32_t	 family;
	int		 i;

	memcpy(&family, m->data, sizeof(family));
	i = family == AF_INET6;
	if (family != AF_INET && family != AF_INET6) {
		log_warnx("ipsec: a socket of unknown family %u; closed",
		    family);
		close(m->fd);
		return;
	}
	if (e->encap_fd[i] != -1)
		close(e->encap_fd[i]);
	e->encap_fd[i] = m->fd;
	log_debug("ipsec: holding the %s ESP-in-UDP socket",
	    family == AF_INET6 ? "IPv6" : "IPv4");
}

/* Each intent, and how many of its kernel objects are in place. */
static void
route_info(const struct msg_intent *in, void *arg)
{
	struct executor		*e = arg;
	struct msg_route_info	*ri = &e->info[e->ninfo++];
	struct kobj		 o[KOBJ_PER_INTENT];
	const struct kobj	*h;
	int			 i, n = kobj_wanted(&e->ctx, in, o);

	memset(ri, 0, sizeof(*ri));
	ri->in = *in;
	ri->wanted = n;
	for (i = 0; i < n; i++)
		if ((h = ktab_get(&e->have, &o[i].k)) != NULL &&
		    (!o[i].v.tunnel || tunnel_route(e, &o[i], &o[i]) == 0) &&
		    kobj_same(&o[i], h))
			ri->present++;
}

static void
executor_control(struct child *c, struct msg *m)
{
	static char	 text[KNFT_SHOW_MAX];
	struct executor	*e = c->state;
	size_t		 n;

	switch (m->hdr.type) {
	case MSG_DUMP:
		e->ninfo = 0;
		if ((e->info = calloc(itab_count(e->rx.active) + 1,
		    sizeof(*e->info))) == NULL) {
			log_warn("show routes");
			child_send_table(c, MSG_ROUTE_INFO, m->hdr.id, NULL, 0,
			    sizeof(*e->info));
			return;
		}
		itab_walk(e->rx.active, route_info, e);
		child_send_table(c, MSG_ROUTE_INFO, m->hdr.id, e->info,
		    e->ninfo, sizeof(*e->info));
		free(e->info);
		e->info = NULL;
		break;
	case MSG_RESYNC:
		log_info("re-sync asked for: reading the kernel again");
		e->resync = 1;
		e->nft.dirty = 1;
		break;
	case MSG_MASQ_DUMP:
		n = knft_show(&e->nft, text, sizeof(text));
		child_send_table(c, MSG_MASQ_TEXT, m->hdr.id, text, n, 1);
		break;
	case MSG_IPSEC_KEY:
		if (kxfrm_key_msg(&e->keys, m, c->conf.ipsec_rotation_ms))
			ipsec_keys_apply(e);
		break;
	case MSG_IPSEC_SOCKET:
		ipsec_socket_msg(e, m);
		break;
	default:
		log_warnx("unexpected message %u from the parent",
		    m->hdr.type);
		break;
	}
}

static const struct child_ops executor_ops = {
	.control = executor_control,
	.peer = executor_peer,
	.poll = executor_poll,
	.io = executor_io,
};

void
executor_main(void)
{
	static struct child	 c;
	struct executor		*e = &ex;
	struct linkinfo		 li;
	char			 err[256];
	int			 i;

	e->c = &c;
	child_init(e->c, ROLE_EXECUTOR);
	child_peer(e->c, ROLE_WATCHER, CHILD_FD_PEER);
	if (intentrx_init(&e->rx, &e->c->conf) == -1)
		fatal("intent table");
	/* Sockets before the drop: the filter allows no socket(2). */
	if (nl_open(&e->cmd, NETLINK_ROUTE, 0, err, sizeof(err)) == -1 ||
	    nl_open(&e->mon, NETLINK_ROUTE, RTMGRP_LINK | RTMGRP_NEIGH |
	    RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (knft_open(&e->nft, &e->c->conf, err, sizeof(err)) == -1)
		log_warnx("masquerade: %s: nftables cannot be read or "
		    "changed; pods' traffic leaving the cluster is not "
		    "masqueraded", err);
	e->ctx.mode = e->c->conf.mode;
	e->ctx.cluster = e->c->conf.cluster;
	e->encap_fd[0] = e->encap_fd[1] = -1;
	if (e->ctx.mode == MODE_IPSEC) {
		if (nl_open(&e->xcmd, NETLINK_XFRM, 0, err, sizeof(err)) ==
		    -1 || nl_open(&e->xmon, NETLINK_XFRM, XFRMGRP_SA |
		    XFRMGRP_POLICY, err, sizeof(err)) == -1)
			fatalx("ipsec: %s: the kernel lacks xfrm "
			    "(CONFIG_XFRM_USER)", err);
		/* Before the drop: it may read OpenSSL's configuration. */
		if (ipsec_crypto_init() == -1)
			fatalx("ipsec: OpenSSL has no HKDF");
		e->ctx.ipsec.aes = e->c->conf.ipsec_encryption ==
		    IPSEC_ENC_AES;
		e->ctx.ipsec.udp = e->c->conf.ipsec_encapsulation ==
		    IPSEC_ENCAP_UDP;
		/* The null cipher needs no secret; its SPIs carry key id 1. */
		if (!e->ctx.ipsec.aes) {
			e->keys.key.id = 1;
			e->ctx.ipsec.in[0] = e->ctx.ipsec.out = &e->keys.key;
		}
	}
	nl_batch_init(&e->batch, e->ctx.mode == MODE_IPSEC ? &e->xcmd :
	    &e->cmd, outcome_done, e);
	e->ctx.protocol = (uint8_t)e->c->conf.route_protocol;
	e->ctx.adopt = (uint8_t)e->c->conf.adopt_protocol;
	if (e->ctx.mode == MODE_GRE)
		e->ctx.have = &e->have;
	/* In vxlan-legacy the ARP helper owns the neighbours. */
	e->ctx.neigh = e->ctx.mode == MODE_VXLAN;
	/*
	 * A count, not a size: the tables grow with what they hold.  Two
	 * intents a node (IPv4 and IPv6), the most objects a mode makes
	 * of one, and the few of the node itself (its connected routes).
	 */
	e->max = 2 * KOBJ_PER_INTENT * e->c->conf.max_nodes + 64;
	if (ktab_init(&e->have, e->max) == -1 ||
	    ktab_init(&e->want, e->max) == -1 ||
	    ktab_init(&e->dirty, e->max) == -1 ||
	    ktab_init(&e->reported, e->max) == -1 ||
	    ktab_init(&e->deferred, e->max) == -1 ||
	    ktab_init(&e->gone, e->max) == -1)
		fatal("tables");
	if (e->ctx.mode == MODE_VXLAN || e->ctx.mode == MODE_VXLAN_LEGACY) {
		e->dev[0].name = "vxlan1";
		e->dev[0].family = AF_INET;
		e->dev[1].name = "vxlan1v6";
		e->dev[1].family = AF_INET6;
	}
	e->c->ops = &executor_ops;
	e->c->state = e;
	child_stats(e->c, MSG_EXEC_STATS, &e->st, sizeof(e->st));
	child_confine(e->c);
	if (e->ctx.mode == MODE_LAYER2 && e->c->conf.target[0] != '\0') {
		if (link_get(&e->cmd, e->c->conf.target, 0, &li) == -1 || !li.found)
			fatalx("--target %s: no such interface",
			    e->c->conf.target);
		e->ctx.target = li.ifindex;
	}
	/* Adopt what a previous run left: known, not yet changed. */
	for (i = 0; i < 2; i++)
		if (e->dev[i].name != NULL && link_get(&e->cmd, e->dev[i].name, 0,
		    &li) == 0 && li.found && li.vxlan) {
			e->dev[i].ifindex = li.ifindex;
			e->ctx.vxlan[i] = li.ifindex;
		}
	if (have_load(e) == -1)
		log_warn("reading the kernel's state");
	if (e->ctx.mode == MODE_IPSEC)
		log_info("adopted %u xfrm states and policies (reqid 0x%08x)",
		    ktab_count(&e->have), KXFRM_REQID);
	else
		log_info("adopted %u kernel objects (route protocol %u)",
		    ktab_count(&e->have), e->ctx.protocol);
	knft_start(&e->nft);
	executor_count(e, NULL, -1);
	e->next_sync = mono_ms() + e->c->conf.sync_period_ms;
	child_loop(e->c);
}
