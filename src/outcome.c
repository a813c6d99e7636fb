/*
 * The outcome of each batched request of the executor: a table of
 * (object type, operation, errno) -> what to do and what to say, and
 * the gre mode's back-off when the kernel has no GRE.
 */
#include <sys/socket.h>
#include <errno.h>
#include <string.h>

#include "child.h"
#include "clock.h"
#include "executor.h"
#include "log.h"

#define GRE_RETRY_MS		1000	/* first retry without GRE, doubling */

/* What a failed request's error means, by its object, operation and errno. */
enum done_act {
	DONE_GONE,	/* a removal someone did first: what we wanted */
	DONE_NOGRE,	/* no GRE: said once per family, tried again later */
	DONE_FAILED,	/* counted, and said the first time only */
};

enum done_say {
	SAY_NOTHING,
	SAY_NOGRE,		/* once per family */
	SAY_NOESP,		/* once */
	SAY_POLICY_TAKEN,	/* someone else's, left alone */
	SAY_ROUTE_TAKEN,
	SAY_TUNNEL_TAKEN,
	SAY_UNREACHABLE,	/* the peer's address is not on a link */
	SAY_FAILED,
};

#define OPS_ALL		0x7
#define OPS_MAKE	(1 << KOBJ_CREATE | 1 << KOBJ_REPLACE)
#define OPS_DEL		(1 << KOBJ_DELETE)

/* The first that matches; none: DONE_FAILED, SAY_FAILED. */
static const struct done_rule {
	uint8_t		 type;		/* enum kobj_type; 0: any */
	uint8_t		 ops;		/* 1 << enum kobj_op, or'ed */
	uint8_t		 offlink;	/* a route without onlink only */
	int		 error;
	enum done_act	 act;
	enum done_say	 say;
} done_rules[] = {
	{ 0, OPS_DEL, 0, ESRCH, DONE_GONE, SAY_NOTHING },
	{ 0, OPS_DEL, 0, ENOENT, DONE_GONE, SAY_NOTHING },
	{ 0, OPS_DEL, 0, ENODEV, DONE_GONE, SAY_NOTHING },
	{ KOBJ_TUNNEL, OPS_ALL, 0, EOPNOTSUPP, DONE_NOGRE, SAY_NOGRE },
	{ KOBJ_XSTATE, OPS_MAKE, 0, EPROTONOSUPPORT, DONE_FAILED, SAY_NOESP },
	{ KOBJ_XSTATE, OPS_MAKE, 0, ENOSYS, DONE_FAILED, SAY_NOESP },
	{ KOBJ_XSTATE, OPS_MAKE, 0, ENOPROTOOPT, DONE_FAILED, SAY_NOESP },
	{ KOBJ_XSTATE, OPS_MAKE, 0, EOPNOTSUPP, DONE_FAILED, SAY_NOESP },
	{ KOBJ_XPOLICY, OPS_ALL, 0, EEXIST, DONE_FAILED, SAY_POLICY_TAKEN },
	{ KOBJ_ROUTE, OPS_ALL, 0, EEXIST, DONE_FAILED, SAY_ROUTE_TAKEN },
	{ KOBJ_TUNNEL, OPS_ALL, 0, EEXIST, DONE_FAILED, SAY_TUNNEL_TAKEN },
	{ KOBJ_ROUTE, OPS_ALL, 1, ENETUNREACH, DONE_FAILED, SAY_UNREACHABLE },
	{ KOBJ_ROUTE, OPS_ALL, 1, EHOSTUNREACH, DONE_FAILED, SAY_UNREACHABLE },
	{ KOBJ_ROUTE, OPS_ALL, 1, EINVAL, DONE_FAILED, SAY_UNREACHABLE },
};

static const struct done_rule	 done_default = { 0, OPS_ALL, 0, 0,
				    DONE_FAILED, SAY_FAILED };

static const struct done_rule *
done_rule(const struct pending *p, int error)
{
	const struct done_rule	*r;
	size_t			 i;

	for (i = 0; i < sizeof(done_rules) / sizeof(done_rules[0]); i++) {
		r = &done_rules[i];
		if (r->error == error && (r->type == 0 ||
		    r->type == p->o.k.type) && (r->ops & 1 << p->op) &&
		    (!r->offlink || !p->o.v.onlink))
			return r;
	}
	return &done_default;
}

static void
say(struct executor *e, const struct pending *p, enum done_say what,
    const char *name, int error, const char *why)
{
	int	 v6 = p->o.v.gwfamily == AF_INET6;	/* tunnels */

	switch (what) {
	case SAY_NOTHING:
		break;
	case SAY_NOGRE:
		/*
		 * One line per family, not one per peer and re-sync.  The
		 * module may also be loading for another namespace right
		 * now (the kernel's modprobe returns before ip_gre is
		 * ready): a full re-sync tries again soon, then less and
		 * less often (see outcome_gre_batch).
		 */
		if (e->gre[v6] == GRE_PRESENT)
			log_warnx("gre mode: the kernel has no GRE support "
			    "(%s): no tunnel can be made (%s%s%s)",
			    v6 ? "ip6_gre" : "ip_gre",
			    strerror(error), *why ? ": " : "", why);
		break;
	case SAY_NOESP:
		/* One line, not one per peer. */
		if (!e->xfrm_unsupported++)
			log_warnx("ipsec: the kernel cannot make ESP states "
			    "(%s%s%s): it lacks ESP (esp4, esp6), the %s "
			    "algorithm or ESP-in-UDP; no pod traffic is "
			    "carried", strerror(error), *why ? ": " : "", why,
			    e->ctx.ipsec.aes ? "rfc4106(gcm(aes))" :
			    "ecb(cipher_null)");
		break;
	case SAY_POLICY_TAKEN:
		log_warnx("installing %s: the kernel has a policy with this "
		    "selector that is not ours (not reqid 0x%08x); left alone",
		    name, KXFRM_REQID);
		break;
	case SAY_ROUTE_TAKEN:
		log_warnx("installing %s: the kernel has a route for it that "
		    "is not ours (not protocol %u); left alone", name,
		    e->ctx.protocol);
		break;
	case SAY_TUNNEL_TAKEN:
		log_warnx("installing %s: a device of that name that is not "
		    "a GRE tunnel, or a GRE tunnel between the same addresses "
		    "under another name, is not ours; left alone", name);
		break;
	case SAY_UNREACHABLE:
		log_warnx("installing %s: the node address is not on a "
		    "directly connected network; peer skipped (%s%s%s)", name,
		    strerror(error), *why ? ": " : "", why);
		break;
	case SAY_FAILED:
		log_warnx("%s %s: %s%s%s", p->op == KOBJ_DELETE ? "removing" :
		    "installing", name, strerror(error), *why ? ": " : "", why);
		break;
	}
}

/* Outcome of one batched request. */
void
outcome_done(void *arg, unsigned idx, int error, const char *why)
{
	struct executor		*e = arg;
	struct pending		*p = &e->pend[idx];
	const struct done_rule	*r;
	char			 name[KOBJ_NAME_MAX];
	int			 v6 = p->o.v.gwfamily == AF_INET6; /* tunnels */

	if (error == 0) {
		if (p->adopt != 0) {
			e->adopted[p->adopt]++;
			e->st.adopted++;
		}
		if (p->op == KOBJ_DELETE) {
			ktab_del(&e->have, &p->o.k);
			if (p->o.k.type == KOBJ_TUNNEL)
				monitor_tunnel_gone(e, p->o.v.ifindex);
		} else if (ktab_put(&e->have, &p->o) == -1)
			e->resync = 1;
		if (p->o.k.type == KOBJ_TUNNEL) {
			e->tunchanged = 1;
			e->gre_made[v6] = 1;
		}
		ktab_del(&e->reported, &p->o.k);
		return;
	}
	r = done_rule(p, error);
	if (r->act == DONE_GONE) {
		ktab_del(&e->have, &p->o.k);
		return;
	}
	e->failed++;
	e->st.request_errors++;
	kobj_name(&p->o, name, sizeof(name));
	if (r->act == DONE_NOGRE) {
		say(e, p, r->say, name, error, why);
		e->gre[v6] = GRE_REFUSED;
		return;
	}
	/* A peer that stays unreachable is reported once, not each sync. */
	if (ktab_get(&e->reported, &p->o.k) != NULL) {
		log_debug("%s %s: %s%s%s", p->op == KOBJ_DELETE ? "removing" :
		    "installing", name, strerror(error), *why ? ": " : "", why);
		return;
	}
	(void)ktab_put(&e->reported, &p->o);
	say(e, p, r->say, name, error, why);
}

/*
 * After each batch.  A family has GRE again once a batch made a tunnel
 * of it and was refused none.  A batch refused one for want of GRE
 * asks for a full re-sync: GRE_RETRY_MS later, then twice as long
 * after each try that is refused again, up to --sync-period; a refusal
 * between two tries (a new peer's tunnel) waits for the next one and
 * neither brings it nearer nor pushes it back.  A batch that was both
 * refused and made a tunnel of one family saw the module arrive
 * halfway: that family still misses tunnels, so the back-off starts
 * again from its first step rather than forgetting them.
 */
void
outcome_gre_batch(struct executor *e)
{
	int64_t	 now;
	int	 f, refused = 0;

	for (f = 0; f < 2; f++) {
		if (e->gre[f] == GRE_REFUSED) {
			refused = 1;
			e->gre[f] = GRE_ABSENT;
			if (e->gre_made[f])
				e->gre_retry = e->gre_due = 0;
		} else if (e->gre_made[f])
			e->gre[f] = GRE_PRESENT;
		e->gre_made[f] = 0;
	}
	if (e->gre[0] == GRE_PRESENT && e->gre[1] == GRE_PRESENT)
		e->gre_retry = e->gre_due = 0;
	if (!refused)
		return;
	now = mono_ms();
	if (e->gre_due <= now) {
		e->gre_retry = e->gre_retry == 0 ? GRE_RETRY_MS :
		    2 * e->gre_retry;
		if (e->gre_retry > e->c->conf.sync_period_ms)
			e->gre_retry = e->c->conf.sync_period_ms;
		e->gre_due = now + e->gre_retry;
		log_debug("gre mode: trying the tunnels again in %lld ms",
		    (long long)e->gre_retry);
	}
	if (e->next_sync > e->gre_due)
		e->next_sync = e->gre_due;
}

/*
 * After each flush: the routes of other protocols made ours, one line
 * per protocol, so an operator sees an upgrade take over.
 */
void
outcome_adopted(struct executor *e)
{
	unsigned	 p;

	for (p = 0; p < 256; p++)
		if (e->adopted[p] != 0) {
			log_info("adopted %u routes of protocol %u", e->adopted[p],
			    p);
			e->adopted[p] = 0;
		}
}
