/*
 * The status report: what kopeio-networkctl shows and the metrics
 * process serves, built from the parent's view of its children and
 * the counters they send it.
 */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "cni.h"
#include "log.h"
#include "parent.h"
#include "status.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

#define STATUS_EVERY_MS		5000	/* to the metrics process, at least */

/* What kopeio-networkctl shows and the metrics process serves. */
void
status_build(const struct parent *pa, struct kn_status *st)
{
	const struct proc	*p;
	int			 r;

	memset(st, 0, sizeof(*st));
	st->mode = pa->conf.mode;
	st->started = pa->status.started_wall;
	st->now = wall_ms();
	for (r = ROLE_WATCHER; r < ROLE_NPROC; r++) {
		p = &pa->procs[r];
		st->proc[r].pid = p->pid;
		st->proc[r].wanted = p->wanted;
		st->proc[r].running = p->pid != 0 && p->ready;
		st->proc[r].restarts = p->restarts_total;
		st->proc[r].started = p->pid != 0 ? p->started_wall : 0;
	}
	st->exec = pa->status.exec;
	st->watch = pa->status.watch;
	st->cni_written = pa->conf.cni_config[0] != '\0' && cni_current();
	/*
	 * Nodes past --max-nodes have no routes: not ready, so that a
	 * rollout stops on it and the pod shows it.
	 */
	st->ready = pa->status.exec.synced && cni_current() &&
	    !WATCH_OVER(&st->watch) && !EXEC_OVER(&st->exec);
	snprintf(st->cni_config, sizeof(st->cni_config), "%s",
	    pa->conf.cni_config);
	snprintf(st->version, sizeof(st->version), "%s", PACKAGE_VERSION);
}

/* Counters changed: the metrics process hears within a second. */
void
status_changed(struct status *s, int now)
{
	int64_t	 soon = now ? 0 : mono_ms() + 1000;

	if (s->next > soon)
		s->next = soon;
}

void
status_send(struct parent *pa)
{
	struct proc		*p = &pa->procs[ROLE_METRICS];
	struct kn_status	 st;

	pa->status.next = mono_ms() + STATUS_EVERY_MS;
	if (p->pid == 0 || !msgchan_open(&p->ctl))
		return;
	status_build(pa, &st);
	if (msgchan_compose(&p->ctl, MSG_STATUS, 0, -1, &st, sizeof(st)) ==
	    -1)
		log_warn("metrics control channel");
}
