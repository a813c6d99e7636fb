/*
 * The executor's monitor sockets: every change of an object it owns,
 * by anyone, ourselves included, noted in the have table, and the keys
 * it touched brought back in line; a lost event or a flush asks for a
 * full re-sync.
 */
#include <sys/socket.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <linux/xfrm.h>

#include "child.h"
#include "executor.h"
#include "log.h"

/*
 * The kernel drops the IPv4 routes through a device that goes away
 * without a word: forget ours and look at their keys again.
 */
void
monitor_tunnel_gone(struct executor *e, uint32_t ifindex)
{
	struct kobj	*o;
	struct kobj_key	 k;
	unsigned	 b;

	for (;;) {
		b = 0;
		o = NULL;
		while ((o = ktab_next(&e->have, &b, o)) != NULL)
			if (o->k.type == KOBJ_ROUTE && o->v.oif == ifindex)
				break;
		if (o == NULL)
			return;
		if (ktab_put(&e->dirty, o) == -1)
			e->resync = 1;
		k = o->k;
		ktab_del(&e->have, &k);
	}
}

/* An owned object the kernel reports: known now, looked at after. */
static void
monitor_obj(struct executor *e, const struct kobj *o, int deleted)
{
	const struct kobj	*h = ktab_get(&e->have, &o->k), *w;
	int			 gone;

	if (o->k.type == KOBJ_TUNNEL && !deleted && o->v.up && (h == NULL ||
	    h->v.ifindex != o->v.ifindex || !h->v.up))
		e->newtun = 1;
	/* A tunnel going down loses its routes as silently as one removed. */
	gone = o->k.type == KOBJ_TUNNEL && (deleted || (h != NULL &&
	    h->v.ifindex == o->v.ifindex && h->v.up && !o->v.up));
	if (deleted)
		ktab_del(&e->have, &o->k);
	else if (ktab_put(&e->have, o) == -1)
		e->resync = 1;
	/* Full, it forgets: the state is then made from 1. */
	if (deleted && o->k.type == KOBJ_XSTATE && (o->v.oseq != 0 ||
	    o->v.rseq != 0))
		(void)ktab_put(&e->gone, o);
	if (gone)
		monitor_tunnel_gone(e, o->v.ifindex);
	/*
	 * The echo of a change of our own is what is wanted: looking at it
	 * again would do nothing (executor_reconcile_key returns on the
	 * same object), and holding every echo of a first install kept a
	 * third table of every object at the peak.  A later event on the
	 * key in the same read marks it again.
	 */
	w = deleted ? NULL : ktab_get(&e->want, &o->k);
	if (w != NULL && !w->v.tunnel && w->k.type != KOBJ_TUNNEL &&
	    kobj_same(w, o))
		return;
	if (ktab_put(&e->dirty, o) == -1)
		e->resync = 1;
}

int
monitor_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct executor			*e = arg;
	const struct ifinfomsg		*ifi;
	struct vdev			*d;
	struct kobj			 o;
	int				 deleted, i;

	if (nlh->nlmsg_type == RTM_NEWLINK || nlh->nlmsg_type == RTM_DELLINK) {
		ifi = mnl_nlmsg_get_payload(nlh);
		if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
			return 0;
		for (i = 0; i < 2; i++) {
			d = &e->dev[i];
			if (d->ifindex == 0 ||
			    (uint32_t)ifi->ifi_index != d->ifindex)
				continue;
			if (nlh->nlmsg_type == RTM_DELLINK) {
				log_warnx("%s was removed; creating it again",
				    d->name);
				d->ifindex = 0;
				e->ctx.vxlan[i] = 0;
				e->resync = 1;
			} else if (!vdev_matches(d, nlh))
				e->devcheck = 1;
		}
	}
	if (kobj_parse(nlh, &e->ctx, &o, &deleted) == 1)
		monitor_obj(e, &o, deleted);
	return 0;
}

/*
 * The xfrm monitor: states and policies added or removed by anyone,
 * ourselves included; a flush means the table must be read again.
 */
int
monitor_xfrm_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct executor	*e = arg;
	struct kobj	 o;
	int		 deleted;

	if (nlh->nlmsg_type == XFRM_MSG_FLUSHSA ||
	    nlh->nlmsg_type == XFRM_MSG_FLUSHPOLICY) {
		log_warnx("ipsec: someone flushed the xfrm %s; putting ours "
		    "back", nlh->nlmsg_type == XFRM_MSG_FLUSHSA ? "states" :
		    "policies");
		e->resync = 1;
		return 0;
	}
	if (kxfrm_parse(nlh, &o, &deleted) == 1)
		monitor_obj(e, &o, deleted);
	return 0;
}

/*
 * Reads what the monitor has and queues the repairs, and the routes
 * whose tunnels now have an index; the caller flushes.
 */
void
monitor_take(struct executor *e, struct nl *mon, nl_msg_cb cb)
{
	const struct kobj	*o = NULL;
	struct ktab		 t;
	unsigned		 b = 0, before = e->requests;

	if (nl_read(mon, cb, e) == -1) {
		if (errno == ENOBUFS) {
			log_warnx("netlink monitor overrun: events lost, "
			    "reading the whole state again");
			nl_drain(mon);
			e->st.overruns++;
		} else
			log_warn("netlink monitor");
		e->resync = 1;
	}
	/*
	 * Taken whole, and only when it holds anything: a repair may send
	 * a full batch, whose outcomes mark more keys (a removed tunnel's
	 * routes), for the next round.
	 */
	if (ktab_count(&e->dirty) > 0) {
		t = e->dirty;
		if (ktab_init(&e->dirty, e->max) == -1)
			fatal("table of changed objects");
		while (!e->resync && (o = ktab_next(&t, &b, o)) != NULL) {
			if (ktab_get(&e->want, &o->k) == NULL &&
			    !executor_synced(e))
				continue;
			executor_reconcile_key(e, &o->k);
		}
		/* Counted, not queued: a full batch went meanwhile. */
		if (e->requests > before) {
			log_info("repairing %u objects changed by someone else",
			    e->requests - before);
			e->st.repairs += e->requests - before;
		}
		ktab_free(&t);
	}
	if (!e->resync && e->newtun)
		executor_deferred_retry(e);
}
