/*
 * A child's liveness, seen from the parent: a PING every 5 s, the
 * PONG matched to it, and a child that stays silent past the bound
 * killed so that it is restarted like a crashed one.
 */
#include <signal.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "parent.h"

/*
 * Liveness: a PING to each child every 5 s; one that leaves a PING
 * unanswered for 60 s and 2 ms per --max-nodes (191 s by default)
 * is killed and restarted like a crashed child: it is stopped, or
 * stuck.  The bound is far above the longest turn of a child's loop.
 * Measured under ASan on 2 busy cores (load 15) with 65,000 nodes:
 * the watcher's longest turn while it lists them 0.3 s (it parses
 * what libcurl reads as it comes), the executor's 5.8 s, the first
 * full re-sync, installing 65,000 routes; that re-sync grows with
 * the nodes and the objects per node of the mode, hence the share per
 * node.  With 65,536 nodes by default that is over 30 times the
 * turn measured: a mode with a dozen objects per node (ipsec) must
 * not be killed in its first re-sync, which would repeat forever,
 * while a stopped child still goes within about 3 minutes.  An answer
 * later than 10 s is logged, so a loop that slows towards the bound
 * is seen before it is hit.
 */
#define LIVENESS_EVERY_MS	5000
#define LIVENESS_TIMEOUT_MS	60000
#define LIVENESS_PER_NODE_MS	2
#define LIVENESS_SLOW_MS	10000

/* The bound for an answer, by the size of the cluster. */
int64_t
liveness_bound(const struct kn_config *conf)
{
	return LIVENESS_TIMEOUT_MS +
	    (int64_t)LIVENESS_PER_NODE_MS * conf->max_nodes;
}

/* A child just started: heard now, its first PING due in 5 s. */
void
liveness_start(struct proc *p, int64_t now)
{
	p->heard = now;
	p->ping_sent = 0;
	p->ping_next = now + LIVENESS_EVERY_MS;
	p->hung = 0;
}

/* A PONG: the child's loop is turning. */
void
liveness_pong(struct proc *p, const struct msg *m)
{
	struct msg_ping	 ping;
	int64_t		 now = mono_ms();

	memcpy(&ping, m->data, sizeof(ping));
	if (p->ping_sent == 0 || ping.seq != p->ping_seq) {
		log_warnx("the %s answered liveness check %u, not %u; ignored",
		    role_name(p->role), ping.seq, p->ping_seq);
		return;
	}
	if (now - p->ping_sent > LIVENESS_SLOW_MS)
		log_warnx("the %s (pid %d) answered a liveness check after "
		    "%lld ms", role_name(p->role), p->pid,
		    (long long)(now - p->ping_sent));
	p->ping_sent = 0;
	p->heard = now;
	p->ping_next = now + LIVENESS_EVERY_MS;
}

/*
 * Send the next PING when due; a child that left one unanswered for
 * bound ms is killed, and reaped and restarted as any dead child is.
 * Returns when to come back, -1: not for this child.
 */
int64_t
liveness_check(struct proc *p, int64_t now, int64_t bound)
{
	struct msg_ping	 ping;

	if (p->pid == 0 || p->hung || !msgchan_open(&p->ctl))
		return -1;
	if (p->ping_sent != 0) {
		if (now - p->ping_sent < bound)
			return p->ping_sent + bound;
		log_warnx("the %s (pid %d) was silent for %lld ms: no answer "
		    "to a liveness check in %lld s; killing it",
		    role_name(p->role), p->pid, (long long)(now - p->heard),
		    (long long)bound / 1000);
		p->hung = 1;
		if (kill(p->pid, SIGKILL) == -1)
			log_warn("kill %d", p->pid);
		return -1;
	}
	if (now < p->ping_next)
		return p->ping_next;
	ping.seq = ++p->ping_seq;
	if (msgchan_compose(&p->ctl, MSG_PING, 0, -1, &ping, sizeof(ping)) ==
	    -1)
		log_warn("%s control channel: liveness check",
		    role_name(p->role));
	p->ping_sent = now;
	return now + bound;
}
