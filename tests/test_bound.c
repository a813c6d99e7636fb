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

int
main(void)
{
	struct kn_status	 st;
	char			 why[256], *t;

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

	/* The watcher full and a ninth node ignored, as status.c sees it. */
	st.watch.nodes = 8;
	st.watch.ignored = 3;
	ok(WATCH_OVER(&st.watch), "watcher: full and ignoring: over");
	st.ready = 0;
	ok(metrics_health(&st, 0, 1, why, sizeof(why)) == 0,
	    "watcher over: /readyz not ready");
	is_str(why, "more than 8 nodes (--max-nodes): 3 ignored\n",
	    "watcher over: /readyz says why");
	ok(metrics_health(&st, 0, 0, why, sizeof(why)) == 1,
	    "watcher over: /healthz still ok");
	t = status_text(&st);
	like(t, "\nready: no\n", "watcher over: show status: not ready");
	like(t, "\nNODES IGNORED: more than 8 nodes (--max-nodes), 3 ignored: "
	    "their pods get no routes\n", "watcher over: show status says so");
	free(t);
	t = page(&st);
	like(t, "\nkopeio_networking_ready 0\n", "watcher over: ready 0");
	like(t, "\nkopeio_networking_nodes_ignored_total 3\n",
	    "watcher over: nodes_ignored_total");
	free(t);

	/* Nodes went: the ignored ones find room at their next event. */
	st.watch.nodes = 7;
	ok(!WATCH_OVER(&st.watch), "watcher: room again: no longer over");

	/* The executor refusing intents past 2 x --max-nodes. */
	synced(&st);
	st.exec.intents = 16;
	st.exec.over = 2;
	ok(EXEC_OVER(&st.exec), "executor: full and refusing: over");
	st.ready = 0;
	ok(metrics_health(&st, 0, 1, why, sizeof(why)) == 0,
	    "executor over: /readyz not ready");
	is_str(why, "more than 16 intents (--max-nodes): 2 refused\n",
	    "executor over: /readyz says why");
	ok(metrics_health(&st, 0, 0, why, sizeof(why)) == 1,
	    "executor over: /healthz still ok");
	t = status_text(&st);
	like(t, "\nINTENTS REFUSED: more than 16 intents (--max-nodes), 2 "
	    "refused\n", "executor over: show status says so");
	ok(strstr(t, "NODES IGNORED") == NULL, "executor over: and not the "
	    "watcher's line");
	free(t);
	t = page(&st);
	like(t, "\nkopeio_networking_intents_ignored_total 2\n",
	    "executor over: intents_ignored_total");
	free(t);
	st.exec.intents = 15;
	ok(!EXEC_OVER(&st.exec), "executor: room again: no longer over");

	/* Before the first generation, that comes first. */
	synced(&st);
	st.ready = 0;
	st.exec.gen_time = 0;
	st.watch.nodes = 8;
	st.watch.ignored = 1;
	ok(metrics_health(&st, 0, 1, why, sizeof(why)) == 0 &&
	    strcmp(why, "no generation in the kernel yet\n") == 0,
	    "no generation yet: said first");
	return done_testing();
}
