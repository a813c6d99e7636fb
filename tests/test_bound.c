/*
 * What an operator sees past --max-nodes, from made-up statuses:
 * /readyz's answer and reason, /healthz's, the metrics and the lines
 * of show status, for the watcher's bound and the executor's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "../src/ctlshow.h"
#include "../src/metrics.h"

/* A daemon with a generation in the kernel and nothing past a bound. */
static void
synced(struct kn_status *st)
{
	memset(st, 0, sizeof(*st));
	st->ready = 1;
	st->exec.gen = 1;
	st->exec.gen_time = 1700000000000;
	st->exec.synced = 1;
	st->exec.intents = 5;
	st->exec.bound = 16;
	st->watch.nodes = 6;
	st->watch.peers = 5;
	st->watch.bound = 8;
}

/* show status as kopeio-networkctl prints it; the caller frees. */
static char *
status_text(const struct kn_status *st)
{
	struct ctl_reply	 r;
	char			*buf = NULL;
	size_t			 len = 0;
	FILE			*out = open_memstream(&buf, &len);

	if (out == NULL)
		bail_out("open_memstream");
	ctl_reply_init(&r, 1, CTL_SHOW_STATUS);
	if (ctl_reply_msg(&r, out, stderr, MSG_STATUS, st, sizeof(*st)) != 0)
		bail_out("show status refused the status");
	ctl_reply_free(&r);
	fclose(out);
	return buf;
}

static char *
page(const struct kn_status *st)
{
	char	*buf = calloc(1, METRICS_PAGE_MAX);

	if (buf == NULL || metrics_render(st, buf, METRICS_PAGE_MAX) == 0)
		bail_out("metrics page");
	return buf;
}

/*
 * A status past a bound, not ready as status.c makes it: what /readyz,
 * /healthz, show status and the metrics say.  line: show status's,
 * other: the other bound's line, never shown with it.
 */
static void
over(struct kn_status *st, const char *who, const char *why_want,
    const char *line, const char *other, const char *sample)
{
	char	 why[256], *t;

	st->ready = 0;
	ok(metrics_health(st, 0, 1, why, sizeof(why)) == 0,
	    "%s over: /readyz not ready", who);
	is_str(why, why_want, "%s over: /readyz says why", who);
	ok(metrics_health(st, 0, 0, why, sizeof(why)) == 1,
	    "%s over: /healthz still ok", who);
	t = status_text(st);
	like(t, "\nready: no\n", "%s over: show status: not ready", who);
	like(t, line, "%s over: show status says so", who);
	ok(strstr(t, other) == NULL, "%s over: and not the other's line", who);
	free(t);
	t = page(st);
	like(t, "\nkopeio_networking_ready 0\n", "%s over: ready 0", who);
	like(t, sample, "%s over: counted", who);
	free(t);
}

/*
 * From synced(): the nodes and intents added, what was refused in all
 * and since the table last had room.
 */
static const struct {
	const char	*who;
	uint32_t	 nodes, intents;
	uint64_t	 ignored, over;
	uint32_t	 wfull, efull;
	const char	*why, *line, *other, *sample;
} cases[] = {
	{ "watcher", 2, 0, 3, 0, 1, 0,
	    "more than 8 nodes (--max-nodes): 3 ignored\n",
	    "\nNODES IGNORED: more than 8 nodes (--max-nodes), 3 ignored: "
	    "their pods get no routes\n", "INTENTS REFUSED",
	    "\nkopeio_networking_nodes_ignored_total 3\n" },
	{ "executor", 0, 11, 0, 2, 0, 2,
	    "more than 16 intents (--max-nodes): 2 refused\n",
	    "\nINTENTS REFUSED: more than 16 intents (--max-nodes), 2 "
	    "refused\n", "NODES IGNORED",
	    "\nkopeio_networking_intents_ignored_total 2\n" },
};

int
main(void)
{
	struct kn_status	 st;
	char			 why[256], *t;
	size_t			 i;

	synced(&st);
	ok(metrics_health(&st, 0, 1, why, sizeof(why)) == 1 &&
	    strcmp(why, "ok\n") == 0, "within the bounds: ready");
	ok(!WATCH_OVER(&st.watch) && !EXEC_OVER(&st.exec),
	    "within the bounds: over neither");
	t = status_text(&st);
	ok(strstr(t, "IGNORED") == NULL && strstr(t, "REFUSED") == NULL,
	    "within the bounds: show status says nothing of them");
	free(t);
	t = page(&st);
	like(t, "\nkopeio_networking_max_nodes 8\n", "metrics: the bound");
	like(t, "\nkopeio_networking_intents_ignored_total 0\n",
	    "metrics: no intent refused");
	free(t);

	/*
	 * Each bound full and something past it since it had room; then,
	 * one gone, room again (nodemap.c and the executor count so).
	 */
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		synced(&st);
		st.watch.nodes += cases[i].nodes;
		st.watch.ignored = cases[i].ignored;
		st.exec.intents += cases[i].intents;
		st.exec.over = cases[i].over;
		st.watch.full = cases[i].wfull;
		st.exec.full = cases[i].efull;
		ok(WATCH_OVER(&st.watch) || EXEC_OVER(&st.exec),
		    "%s: full and refusing: over", cases[i].who);
		over(&st, cases[i].who, cases[i].why, cases[i].line,
		    cases[i].other, cases[i].sample);
		st.watch.full = st.exec.full = 0;
		ok(!WATCH_OVER(&st.watch) && !EXEC_OVER(&st.exec),
		    "%s: room again: no longer over", cases[i].who);
	}

	/* Before the first generation, that comes first. */
	synced(&st);
	st.ready = 0;
	st.exec.gen_time = 0;
	st.watch.nodes = 8;
	st.watch.ignored = 1;
	st.watch.full = 1;
	ok(metrics_health(&st, 0, 1, why, sizeof(why)) == 0 &&
	    strcmp(why, "no generation in the kernel yet\n") == 0,
	    "no generation yet: said first");
	return done_testing();
}
