/*
 * The watcher: the only process that reads bytes from the network.
 * No capabilities, an unprivileged uid, an empty chroot.  It lists
 * and watches the Node objects over HTTPS (libcurl's multi interface
 * in the shared event loop), streams the JSON through k8s_parse,
 * keeps the node map, sends route intents to the executor (and in
 * vxlan-legacy mode the ARP helper), and marks its own Node
 * NetworkUnavailable=False once the executor has the routes.
 */
#include <sys/socket.h>

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "child.h"
#include "clock.h"
#include "k8s_parse.h"
#include "log.h"
#include "nodemap.h"
#include "watchconn.h"
#include "watchreq.h"

#define LIST_LIMIT		500
#define BACKOFF_FIRST_MS	500
#define LIST_FLUSH_MS		10
#define BACKOFF_MAX_MS		30000

static const char *const req_resource[] = { "nodes", "nodes", "nodes/status" };

struct watcher {
	struct child		*c;
	struct api_access	 api;
	int			 ready;		/* credentials complete */
	CURLM			*multi;
	struct req		*list, *watch, *patch;
	int64_t			 next_try;	/* list or watch, after backoff */
	int			 backoff;
	int			 need_list;
	char			 rv[K8S_RV_MAX];	/* last seen */
	char			 list_rv[K8S_RV_MAX];
	char			*cont;		/* continue token of the list */
	int			 rv_unavailable; /* list from etcd: rv "" */
	int			 paginated;	/* rv "0" came in pages */
	int			 unpaged;	/* a continue token expired */
	int			 listing_rv0;	/* this list asked rv "0" */
	struct nodemap		*map;		/* what the watch keeps current */
	struct nodemap		*building;	/* a list in progress */
	uint64_t		 gen;
	uint64_t		 snap_gen;	/* the snapshot the peers have */
	int			 snap_sent;
	int			 ever_snap;	/* the peers have had one */
	int			 streaming;	/* adds go out as listed */
	int			 stream_local;	/* and this node went first */
	int64_t			 list_flushed;	/* when adds last went out */
	struct msg_local	 local_sent;
	int			 waiting_logged;
	struct msg_intent	 adds[MSG_INTENTS_MAX];
	struct msg_intent	 dels[MSG_INTENTS_MAX];
	unsigned		 nadds, ndels;
	int			 committed;
	int			 condition_set;
	int64_t			 patch_next;
	int			 patch_backoff;
	struct msg_watch_stats	 st;
	struct wconn		 conn;		/* sockets the parent opened */
};

static void	 watcher_schedule(struct watcher *, int ok, long retry_after);
static void	 count_error(struct watcher *, uint32_t code);

/* Backoff with jitter: somewhere in the upper half of the step. */
static int
backoff_next(int *step)
{
	int	 d;

	if (*step == 0)
		*step = BACKOFF_FIRST_MS;
	d = *step / 2 + (int)arc4random_uniform(*step / 2 + 1);
	if ((*step *= 2) > BACKOFF_MAX_MS)
		*step = BACKOFF_MAX_MS;
	return d;
}

/* --- intents to the executor and the ARP helper --- */

static void
peers_send(struct watcher *w, uint32_t type, uint32_t id, const void *data,
    size_t len)
{
	struct child	*c = w->c;
	enum role	 r;

	for (r = ROLE_EXECUTOR; r <= ROLE_ARP; r++)
		if (msgchan_up(&c->peer[r]) && msgchan_compose(&c->peer[r],
		    type, id, -1, data, len) == -1)
			log_warn("%s channel: send", role_name(r));
}

static void
flush_intents(struct watcher *w)
{
	if (w->ndels > 0)
		peers_send(w, MSG_INTENT_DEL, (uint32_t)++w->gen, w->dels,
		    w->ndels * sizeof(w->dels[0]));
	if (w->nadds > 0)
		peers_send(w, MSG_INTENT_ADD, (uint32_t)++w->gen, w->adds,
		    w->nadds * sizeof(w->adds[0]));
	w->nadds = w->ndels = 0;
}

/* Into the batch that goes out when this piece of the watch is read. */
static void
queue_intents(struct watcher *w, struct msg_intent *q, unsigned *nq,
    const struct msg_intent *in, int n)
{
	int	 i;

	for (i = 0; i < n; i++) {
		if (*nq == MSG_INTENTS_MAX)
			flush_intents(w);
		q[(*nq)++] = in[i];
	}
}

static void
snap_intent(struct watcher *w, const struct msg_intent *in)
{
	if (w->nadds == MSG_INTENTS_MAX) {
		peers_send(w, MSG_INTENT_ADD, (uint32_t)w->gen, w->adds,
		    sizeof(w->adds));
		w->nadds = 0;
	}
	w->adds[w->nadds++] = *in;
}

/*
 * The whole map, once this node's pod CIDR is known: after a list,
 * and whenever a peer process starts again.
 */
static void
send_snapshot(struct watcher *w)
{
	const struct nm_node	*local, *n = NULL;
	struct msg_intent	 in[2];
	struct msg_gen		 g;
	unsigned		 b = 0;
	int			 j, k;

	if (w->map == NULL || (local = nodemap_local(w->map)) == NULL ||
	    local->ncidr == 0) {
		if (w->map != NULL && !w->waiting_logged) {
			log_info("waiting for node %s to get a pod CIDR",
			    *w->api.srv.node_name ? w->api.srv.node_name :
			    w->api.srv.node_id);
			w->waiting_logged = 1;
		}
		w->snap_sent = 0;
		return;
	}
	nodemap_local_msg(local, &w->local_sent);
	memset(&g, 0, sizeof(g));
	g.gen = ++w->gen;
	w->nadds = w->ndels = 0;
	peers_send(w, MSG_LOCAL, (uint32_t)g.gen, &w->local_sent,
	    sizeof(w->local_sent));
	peers_send(w, MSG_SNAP_BEGIN, (uint32_t)g.gen, &g, sizeof(g));
	while ((n = nodemap_next(w->map, &b, n)) != NULL) {
		k = node_intents(n, in);
		for (j = 0; j < k; j++)
			snap_intent(w, &in[j]);
		g.count += k;
	}
	if (w->nadds > 0)
		peers_send(w, MSG_INTENT_ADD, (uint32_t)g.gen, w->adds,
		    w->nadds * sizeof(w->adds[0]));
	w->nadds = 0;
	peers_send(w, MSG_SNAP_END, (uint32_t)g.gen, &g, sizeof(g));
	w->snap_gen = g.gen;
	w->snap_sent = w->ever_snap = 1;
	w->committed = 0;
	log_info("snapshot %llu: %u nodes, %u intents",
	    (unsigned long long)g.gen, nodemap_count(w->map), g.count);
}

/* After a watch event: this node may have changed, or appeared. */
static void
check_local(struct watcher *w)
{
	const struct nm_node	*local = nodemap_local(w->map);
	struct msg_local	 l;

	if (!w->snap_sent) {
		send_snapshot(w);
		return;
	}
	if (local == NULL)
		return;
	nodemap_local_msg(local, &l);
	if (memcmp(&l, &w->local_sent, sizeof(l)) != 0) {
		w->local_sent = l;
		peers_send(w, MSG_LOCAL, (uint32_t)++w->gen, &l, sizeof(l));
	}
}

/* --- parser callbacks --- */

/* The parser skipped what it would not buffer; the node is used. */
static void
log_oversized(struct watcher *w, const struct k8s_node *n)
{
	if (n->oversized == 0)
		return;
	log_warnx("node %s: %u string%s longer than %u bytes skipped",
	    *n->name != '\0' ? n->name : "(bookmark)", n->oversized,
	    n->oversized > 1 ? "s" : "", K8S_TOKEN_MAX);
	w->st.skipped += n->oversized;
	child_stats_changed(w->c, 0);
}

/* A node past --max-nodes: said and counted, never dropped silently. */
static void
node_ignored(struct watcher *w, const struct k8s_node *n)
{
	log_warnx("node %s ignored: more than %u nodes (--max-nodes)",
	    n->name, w->api.srv.max_nodes);
	w->st.ignored++;
	child_stats_changed(w->c, 0);
}

/*
 * During the first list, adds go out as the nodes are read, so routes
 * are in while the rest still streams: an add is safe on its own, and
 * the executor removes nothing before the first snapshot, which the
 * end of the list sends as before (routes already in cost no netlink
 * then).  They wait for this node's own entry, which the executor
 * needs first (it bounds every intent); what was read before it goes
 * out when it comes.  Removals wait for the whole list.
 */
static void
stream_list_node(struct watcher *w, const struct nm_change *ch)
{
	const struct nm_node	*local, *n = NULL;
	struct msg_intent	 in[2];
	unsigned		 b = 0;

	if (w->stream_local) {
		queue_intents(w, w->adds, &w->nadds, ch->add, ch->nadd);
		return;
	}
	if ((local = nodemap_local(w->building)) == NULL || local->ncidr == 0)
		return;
	nodemap_local_msg(local, &w->local_sent);
	peers_send(w, MSG_LOCAL, (uint32_t)++w->gen, &w->local_sent,
	    sizeof(w->local_sent));
	w->stream_local = 1;
	while ((n = nodemap_next(w->building, &b, n)) != NULL)
		queue_intents(w, w->adds, &w->nadds, in, node_intents(n, in));
}

/* A list builds a map of its own: intents go out as one snapshot. */
static void
on_list_node(void *arg, enum k8s_event ev, const struct k8s_node *n)
{
	struct watcher	*w = arg;
	struct nm_change ch;

	log_oversized(w, n);
	if (nodemap_apply(w->building, ev, n, &ch) == -1)
		node_ignored(w, n);
	else if (w->streaming)
		stream_list_node(w, &ch);
}

static void
on_list_meta(void *arg, const char *rv, const char *cont)
{
	struct watcher	*w = arg;

	snprintf(w->list_rv, sizeof(w->list_rv), "%s", rv);
	free(w->cont);
	w->cont = *cont != '\0' ? strdup(cont) : NULL;
}

static void
on_watch_node(void *arg, enum k8s_event ev, const struct k8s_node *n)
{
	struct watcher	*w = arg;
	struct nm_change ch;

	log_oversized(w, n);
	if (*n->rv != '\0')
		snprintf(w->rv, sizeof(w->rv), "%s", n->rv);
	if (ev >= K8S_ADDED && ev <= K8S_BOOKMARK) {
		w->st.events[ev - K8S_ADDED]++;
		child_stats_changed(w->c, 0);
	}
	if (ev == K8S_BOOKMARK)
		return;
	if (nodemap_apply(w->map, ev, n, &ch) == -1)
		node_ignored(w, n);
	/* Until the snapshot is sent, it will carry the change. */
	if (w->snap_sent) {
		queue_intents(w, w->adds, &w->nadds, ch.add, ch.nadd);
		queue_intents(w, w->dels, &w->ndels, ch.del, ch.ndel);
	}
	check_local(w);
}

/* A watch ERROR event, or a Status where a list should be. */
static void
on_list_status(void *arg, const struct k8s_status *st)
{
	struct watcher	*w = arg;

	req_on_status(w->list, st);
}

static void
on_watch_status(void *arg, const struct k8s_status *st)
{
	struct watcher	*w = arg;

	req_on_status(w->watch, st);
}

static const struct k8s_parse_cb list_cb = { on_list_node, on_list_meta,
    on_list_status };
static const struct k8s_parse_cb watch_cb = { on_watch_node, NULL,
    on_watch_status };

/* --- requests --- */

/* Transfers running; each holds a connection. */
static int
transfers_active(const struct watcher *w)
{
	return (w->list != NULL) + (w->watch != NULL) + (w->patch != NULL);
}

/* No connection came: say why, and try again after the usual backoff. */
static void
conn_failed(struct watcher *w, int err)
{
	w->conn.asked = 0;
	log_warnx("no connection to the API server %s: %s", w->api.srv.url,
	    strerror(err));
	count_error(w, 0);
	if (w->list == NULL && w->watch == NULL)
		watcher_schedule(w, 0, 0);
	if (w->committed && !w->condition_set && w->patch == NULL)
		w->patch_next = mono_ms() + backoff_next(&w->patch_backoff);
}

/*
 * A list or a watch: its body streams through the parser, and one that
 * sends nothing for silent seconds is dead.
 */
static struct req *
stream_new(struct watcher *w, enum req_kind kind, const char *url,
    const struct k8s_parse_cb *cb, long silent)
{
	struct req	*r;

	if ((r = req_new(w->multi, &w->api, &w->conn, kind, url)) == NULL)
		return NULL;
	r->parser = k8s_parser_new(kind == REQ_LIST ? K8S_DOC_LIST :
	    K8S_DOC_WATCH, w->api.srv.addr_type, cb, w);
	if (w->c->conf.compression)
		req_accept_gzip(r);
	curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_TIME, silent);
	return r;
}

/* After each piece of the watch: what it changed goes out together. */
static void
watch_fed(void *arg)
{
	flush_intents(arg);
}

/*
 * After a piece of the first list: its adds go out at once the first
 * time, then at most every LIST_FLUSH_MS, so that 5,000 nodes of 12 KB
 * (about one a piece) are not 5,000 generations for the executor.
 */
static void
list_fed(void *arg)
{
	struct watcher	*w = arg;
	int64_t		 now = mono_ms();

	if (w->nadds > 0 && now - w->list_flushed >= LIST_FLUSH_MS) {
		flush_intents(w);
		w->list_flushed = now;
	}
}

/*
 * The resourceVersion a list asks for, chosen as client-go's reflector
 * chooses it (relistResourceVersion, tools/cache/reflector.go):
 * - "0" for the first list: kube-apiserver answers it from its watch
 *   cache, whole (the cache ignores limit), without reading etcd;
 *   with --watch-cache=false it reads etcd and honours limit;
 * - afterwards (a watch's 410 Gone or "too old resource version", a
 *   re-sync asked for) the last version seen: a list "not older than"
 *   it, which the watch cache serves once it has caught up with it,
 *   so a cache lagging behind what we saw cannot take the map back
 *   in time.  The reflector does not give that version up after a
 *   watch's 410 either ("LIST call with ResourceVersion=RV already
 *   has a semantic that it returns data at least as fresh as provided
 *   RV");
 * - "" (a consistent read from etcd) once a list at that version was
 *   answered 410 Expired or 504 "Too large resource version" (a cache
 *   that did not catch up), until a list succeeds.
 */
static const char *
list_rv(const struct watcher *w)
{
	if (w->rv_unavailable)
		return "";
	return *w->rv == '\0' ? "0" : w->rv;
}

/*
 * A list in pages of LIST_LIMIT, a request each; or whole.  As the
 * reflector's pager does: rv "0" keeps the limit (the watch cache
 * ignores it, and a server without one then pages from etcd rather
 * than reading everything at once), so does rv ""; a list at a
 * version drops it, as the watch cache serves such a list only
 * without a limit ("to avoid thundering herd on etcd"), unless the
 * first list came in pages (no watch cache).  After a continue token
 * expired, the pager's fallback: the whole list at once.
 *
 * Streaming lists (a watch with sendInitialEvents=true, Kubernetes
 * 1.27+; refused with 422 where the WatchList feature is off, and
 * before 1.27 for resourceVersionMatch on a watch) are not used.
 * Against the test API server with 5,000 nodegen nodes (12 KB each),
 * with curl (bench/bench_list.py): a list at rv 0 was 60.75 MB, 0.17
 * to 0.26 s of the server's CPU; the watch-list 61.05 MB (each node
 * framed as an ADDED event, plus the bookmark), 0.22 to 0.28 s.  And kube-apiserver gzips a list
 * response larger than 128 KiB for a client that asks for it
 * (deferredResponseWriter, responsewriters/writers.go), but never a
 * watch stream (WatchServer writes its frames unbuffered): gzip -1
 * makes that list 15.2 MB here, and the real nodes 1.6 MB of
 * 63.6 MB.  So a watch-list costs the server as much CPU and 4 to 40
 * times the bytes, and gains us nothing: routes already go out while
 * the list streams.  The test API server still mimics both kinds of
 * server (POST /settings watch_list).
 */
static void
start_list(struct watcher *w)
{
	const struct msg_api_server *srv = &w->api.srv;
	const char	*rv = list_rv(w);
	struct req	*r;
	char		 url[API_URL_MAX + 2400], *esc = NULL;
	int		 n, paged;

	if (w->cont == NULL) {
		nodemap_free(w->building);
		w->building = nodemap_new(srv->max_nodes, srv->node_id_kind,
		    *srv->node_name ? srv->node_name : srv->node_id);
		if (w->building == NULL)
			fatal("node map");
		w->listing_rv0 = strcmp(rv, "0") == 0;
		/*
		 * A relist streams nothing: the routes in place stand,
		 * and only the snapshot's difference is news (a pod CIDR
		 * that moved from one node to another, streamed, would be
		 * refused as overlapping the old owner's).
		 */
		w->streaming = !w->ever_snap;
		w->stream_local = 0;
		w->list_flushed = 0;
		log_debug("listing nodes at resourceVersion \"%s\"", rv);
	}
	/* A continue page names no version: the token holds it. */
	if ((esc = curl_easy_escape(NULL, w->cont ? w->cont : rv, 0)) == NULL)
		fatalx("out of memory");
	paged = !w->unpaged && (w->paginated || *rv == '\0' ||
	    w->listing_rv0);
	n = snprintf(url, sizeof(url), "%s/api/v1/nodes", srv->url);
	if (w->cont != NULL)
		n += snprintf(url + n, sizeof(url) - n, "?continue=%s", esc);
	else if (*rv != '\0')
		n += snprintf(url + n, sizeof(url) - n, "?resourceVersion=%s",
		    esc);
	if (paged)
		snprintf(url + n, sizeof(url) - n, "%climit=%d",
		    strchr(url, '?') ? '&' : '?', LIST_LIMIT);
	curl_free(esc);
	if ((r = stream_new(w, REQ_LIST, url, &list_cb, 60L)) == NULL)
		return;
	if (w->streaming) {
		r->fed = list_fed;
		r->fed_arg = w;
	}
	/* A page that trickles is as stuck as one that stalls. */
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT,
	    (long)w->c->conf.watch_timeout);
	w->list = req_start(r);
}

static void
start_watch(struct watcher *w)
{
	struct req	*r;
	char		 url[API_URL_MAX + 3 * K8S_RV_MAX + 128], *rv;
	long		 base = w->c->conf.watch_timeout, timeout, margin;

	/* Spread out, so watches of 5,000 nodes do not end together. */
	timeout = base + (long)arc4random_uniform((uint32_t)base + 1);
	margin = base / 5 > 0 ? base / 5 : 1;
	/* The version is the server's opaque string: escape it. */
	if ((rv = curl_easy_escape(NULL, w->rv, 0)) == NULL)
		fatalx("out of memory");
	snprintf(url, sizeof(url), "%s/api/v1/nodes?watch=1&resourceVersion="
	    "%s&allowWatchBookmarks=true&timeoutSeconds=%ld", w->api.srv.url,
	    rv, timeout);
	curl_free(rv);
	/* A watch that says nothing, not even a bookmark, is dead. */
	if ((r = stream_new(w, REQ_WATCH, url, &watch_cb,
	    timeout + margin)) == NULL)
		return;
	r->fed = watch_fed;
	r->fed_arg = w;
	log_debug("watching nodes from resourceVersion %s for %ld s", w->rv,
	    timeout);
	w->watch = req_start(r);
}

static void
rfc3339_now(char *buf, size_t len)
{
	struct timespec	 ts;
	struct tm	 tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* NetworkUnavailable=False on this node, as the original agent sets it. */
static void
start_patch(struct watcher *w)
{
	const struct nm_node	*local = nodemap_local(w->map);
	struct req		*r;
	char			 url[API_URL_MAX + 300], now[32];

	rfc3339_now(now, sizeof(now));
	snprintf(url, sizeof(url), "%s/api/v1/nodes/%s/status", w->api.srv.url,
	    local->name);
	if ((r = req_new(w->multi, &w->api, &w->conn, REQ_PATCH, url)) == NULL)
		return;
	if (asprintf(&r->body, "{\"status\":{\"conditions\":[{"
	    "\"type\":\"NetworkUnavailable\",\"status\":\"False\","
	    "\"reason\":\"RouteCreated\",\"message\":\"kopeio-networkd "
	    "routes every node's pod CIDR\",\"lastTransitionTime\":\"%s\","
	    "\"lastHeartbeatTime\":\"%s\"}]}}", now, now) == -1)
		fatalx("out of memory");
	r->hdrs = curl_slist_append(r->hdrs,
	    "Content-Type: application/strategic-merge-patch+json");
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, "PATCH");
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT, 60L);
	w->patch = req_start(r);
}

/*
 * A request that did not succeed: say why once, in words an operator
 * can act on, and decide how long to wait.
 */
/* One more API error of this code; 0: no HTTP response. */
static void
count_error(struct watcher *w, uint32_t code)
{
	int	 i;

	for (i = 0; i < STATS_CODES; i++)
		if (w->st.errors[i].count == 0 || w->st.errors[i].code == code)
			break;
	if (i == STATS_CODES)
		w->st.errors_other++;
	else {
		w->st.errors[i].code = code;
		w->st.errors[i].count++;
	}
	child_stats_changed(w->c, 0);
}

static long
req_failed(struct watcher *w, struct req *r, CURLcode cc)
{
	const char	*msg = r->have_status ? r->status.message : "";

	count_error(w, cc != CURLE_OK && (r->code == 0 || r->code == 200) ?
	    0 : (uint32_t)r->code);
	if (r->bad_body)
		return 0;
	if (cc != CURLE_OK && (r->code == 0 || r->code == 200)) {
		log_warnx("%s %s: %s", req_verb[r->kind], w->api.srv.url,
		    *r->errbuf ? r->errbuf : curl_easy_strerror(cc));
		return 0;
	}
	switch (r->code) {
	case 401:
		log_warnx("%s: 401 Unauthorized: asking for the token again",
		    req_verb[r->kind]);
		if (msgchan_compose(&w->c->ctl, MSG_TOKEN_REFRESH, 0, -1, NULL,
		    0) == -1)
			log_warn("control channel");
		break;
	case 403:
		log_warnx("%s: 403 Forbidden: the service account needs RBAC "
		    "verb \"%s\" on resource \"%s\" (%s)", req_verb[r->kind],
		    req_verb[r->kind], req_resource[r->kind], msg);
		break;
	case 410:
		log_info("%s: 410 Gone (%s): listing again", req_verb[r->kind],
		    msg);
		w->need_list = 1;
		free(w->cont);
		w->cont = NULL;
		return -1;
	default:
		log_warnx("%s: HTTP %ld%s%s", req_verb[r->kind], r->code,
		    *msg ? ": " : "", msg);
		break;
	}
	return r->code == 429 || r->code >= 500 ? r->retry_after : 0;
}

/* 504 "Too large resource version": a cache behind the version asked. */
static int
list_too_new(const struct req *r)
{
	return r->code == 504 && r->have_status &&
	    strstr(r->status.message, "Too large resource version") != NULL;
}

static void
list_done(struct watcher *w, struct req *r, CURLcode cc)
{
	long	 ra;

	int	 was_cont = w->cont != NULL, again = 1;

	if (cc == CURLE_OK && r->code == 200 && !r->bad_body &&
	    k8s_parser_finish(r->parser) == 0) {
		if (w->cont != NULL) {
			/* Pages for rv "0": the server has no watch cache. */
			w->paginated |= w->listing_rv0;
			start_list(w);
			return;
		}
		nodemap_free(w->map);
		w->map = w->building;
		w->building = NULL;
		snprintf(w->rv, sizeof(w->rv), "%s", w->list_rv);
		w->need_list = 0;
		w->rv_unavailable = w->unpaged = 0;
		log_info("listed %u nodes at resourceVersion %s",
		    nodemap_count(w->map), w->rv);
		w->st.lists++;
		w->st.list_time = wall_ms();
		child_stats_changed(w->c, 0);
		send_snapshot(w);
		watcher_schedule(w, 1, 0);
		return;
	}
	if (cc == CURLE_OK && r->code == 200 && !r->bad_body) {
		log_warnx("list: %s", k8s_parser_error(r->parser));
		ra = 0;
	} else if (cc == CURLE_OPERATION_TIMEDOUT && r->code == 200) {
		count_error(w, 0);
		log_warnx("list: page abandoned: %s; listing again", r->errbuf);
		ra = 0;
	} else if ((ra = req_failed(w, r, cc)) == -1 || list_too_new(r)) {
		/*
		 * As the reflector: 410 on a continue page means the token
		 * expired, and its pager lists again whole, at once.  410
		 * or a version the watch cache does not reach, on a first
		 * page: the version is unavailable, and it lists the
		 * latest from etcd, at once.  At once only the first time:
		 * a server that answers so again waits the backoff.
		 */
		if (ra == -1 && was_cont && !w->unpaged)
			w->unpaged = 1;
		else if (!w->rv_unavailable) {
			log_info("list: resourceVersion %s unavailable: listing "
			    "the latest from etcd", list_rv(w));
			w->rv_unavailable = 1;
		} else
			again = 0;
		if (again) {
			free(w->cont);
			w->cont = NULL;
			watcher_schedule(w, 1, 0);
			return;
		}
		ra = ra < 0 ? 0 : ra;
	}
	/* A failed page restarts the list: nothing partial is used. */
	free(w->cont);
	w->cont = NULL;
	watcher_schedule(w, 0, ra);
}

static void
watch_done(struct watcher *w, struct req *r, CURLcode cc)
{
	long	 ra;

	if (r->have_status && r->code == 200) {
		/* An ERROR event: 410 means our version is too old. */
		if (r->status.code == 410) {
			log_info("watch: %s: listing again", r->status.message);
			w->need_list = 1;
			watcher_schedule(w, 1, 0);
		} else {
			log_warnx("watch: ERROR event %d %s: %s",
			    r->status.code, r->status.reason,
			    r->status.message);
			count_error(w, r->status.code);
			watcher_schedule(w, 0, 0);
		}
		return;
	}
	if (cc == CURLE_OK && r->code == 200 && !r->bad_body) {
		if (k8s_parser_finish(r->parser) == 0) {
			log_debug("watch ended at resourceVersion %s; "
			    "resuming", w->rv);
			watcher_schedule(w, 1, 0);
			return;
		}
		log_warnx("watch: %s", k8s_parser_error(r->parser));
		watcher_schedule(w, 0, 0);
		return;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT && r->code == 200) {
		log_warnx("watch: silent for too long; resuming");
		watcher_schedule(w, 0, 0);
		return;
	}
	if ((ra = req_failed(w, r, cc)) == -1) {
		watcher_schedule(w, 1, 0);
		return;
	}
	watcher_schedule(w, 0, ra);
}

static void
patch_done(struct watcher *w, struct req *r, CURLcode cc)
{
	if (cc == CURLE_OK && r->code == 200) {
		log_info("node %s: NetworkUnavailable=False (RouteCreated)",
		    nodemap_local(w->map)->name);
		w->condition_set = 1;
		w->patch_backoff = 0;
		w->st.patches++;
		child_stats_changed(w->c, 0);
		return;
	}
	req_failed(w, r, cc);
	w->patch_next = mono_ms() + backoff_next(&w->patch_backoff);
}

/* When to list or watch next: at once after success, later after trouble. */
static void
watcher_schedule(struct watcher *w, int ok, long retry_after)
{
	int64_t	 now = mono_ms();

	if (ok) {
		w->backoff = 0;
		w->next_try = now;
		return;
	}
	w->next_try = now + backoff_next(&w->backoff);
	if (retry_after > 0 && retry_after <= 600 &&
	    w->next_try < now + retry_after * 1000)
		w->next_try = now + retry_after * 1000;
}

static void
transfers_done(struct watcher *w)
{
	CURLMsg		*m;
	struct req	*r;
	int		 left;

	while ((m = curl_multi_info_read(w->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &r);
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->code);
		if (r == w->list) {
			w->list = NULL;
			list_done(w, r, m->data.result);
		} else if (r == w->watch) {
			w->watch = NULL;
			watch_done(w, r, m->data.result);
		} else if (r == w->patch) {
			w->patch = NULL;
			patch_done(w, r, m->data.result);
		}
		req_free(r);
	}
}

/* What to start now that nothing is in flight. */
static void
watcher_tick(struct watcher *w)
{
	const struct nm_node	*local;
	int64_t			 now = mono_ms();

	if (!w->ready)
		return;
	if (w->list == NULL && w->watch == NULL && now >= w->next_try &&
	    wconn_at_hand(&w->conn, transfers_active(w))) {
		if (w->map == NULL || w->need_list || w->cont != NULL)
			start_list(w);
		else
			start_watch(w);
	}
	if (w->committed && !w->condition_set && w->patch == NULL &&
	    now >= w->patch_next && (local = nodemap_local(w->map)) != NULL) {
		if (local->net_unavailable == 0)
			w->condition_set = 1;
		else if (wconn_at_hand(&w->conn, transfers_active(w)))
			start_patch(w);
	}
}

static int
watcher_poll(struct child *c, struct pollfd *pfd, int max, int64_t *timeout)
{
	struct watcher	*w = c->state;
	int64_t		 now = mono_ms(), due = wconn_due(&w->conn);
	int		 i;

	i = wconn_pollfds(&w->conn, pfd, max);
	/* While the parent connects, its answer wakes us, or the bound. */
	if (!w->conn.asked && w->ready && w->list == NULL && w->watch == NULL &&
	    (due < 0 || w->next_try < due))
		due = w->next_try;
	if (!w->conn.asked && w->committed && !w->condition_set &&
	    w->patch == NULL && (due < 0 || w->patch_next < due))
		due = w->patch_next;
	if (due >= 0)
		*timeout = due > now ? due - now : 0;
	return i;
}

static void
watcher_io(struct child *c, struct pollfd *pfd, int n)
{
	struct watcher	*w = c->state;

	wconn_io(&w->conn, w->multi, pfd, n);
	if (w->conn.asked && mono_ms() >= w->conn.asked_due)
		conn_failed(w, ETIMEDOUT);
	wconn_prune(&w->conn);
	transfers_done(w);
	watcher_tick(w);
}

/* --- messages --- */

/* show nodes: the map as the watcher keeps it. */
static void
watcher_dump(struct watcher *w, uint32_t id)
{
	struct msg_node_info	*ni = NULL;
	const struct nm_node	*n = NULL;
	unsigned		 b = 0, k = 0, i;

	if (w->map != NULL &&
	    (ni = calloc(nodemap_count(w->map), sizeof(*ni))) == NULL)
		log_warn("show nodes");
	while (ni != NULL && (n = nodemap_next(w->map, &b, n)) != NULL) {
		snprintf(ni[k].name, sizeof(ni[k].name), "%s", n->name);
		ni[k].local = n->local != 0;
		ni[k].has4 = n->has4 != 0;
		ni[k].has6 = n->has6 != 0;
		memcpy(ni[k].addr4, n->addr4, 4);
		memcpy(ni[k].addr6, n->addr6, 16);
		ni[k].ncidr = n->ncidr;
		for (i = 0; i < (unsigned)n->ncidr && i < 2; i++) {
			ni[k].family[i] = n->cidr[i].family;
			ni[k].plen[i] = n->cidr[i].len;
			memcpy(ni[k].cidr[i], n->cidr[i].addr, 16);
		}
		k++;
	}
	child_send_table(w->c, MSG_NODE_INFO, id, ni, k, sizeof(*ni));
	free(ni);
}

static void
watcher_stats(struct child *c)
{
	struct watcher		*w = c->state;
	struct msg_intent	 in[2];
	const struct nm_node	*n = NULL;
	unsigned		 b = 0;

	w->st.nodes = w->st.peers = 0;
	w->st.bound = w->api.srv.max_nodes;
	w->st.full = w->map != NULL ? nodemap_refused(w->map) : 0;
	while (w->map != NULL && (n = nodemap_next(w->map, &b, n)) != NULL) {
		w->st.nodes++;
		if (node_intents(n, in) > 0)
			w->st.peers++;
	}
}

static void
watcher_control(struct child *c, struct msg *m)
{
	struct watcher	*w = c->state;
	uint32_t	 err;

	switch (m->hdr.type) {
	case MSG_API_SERVER:
		memcpy(&w->api.srv, m->data, sizeof(w->api.srv));
		w->api.srv.url[sizeof(w->api.srv.url) - 1] = '\0';
		w->api.srv.resolve[sizeof(w->api.srv.resolve) - 1] = '\0';
		w->api.srv.node_name[sizeof(w->api.srv.node_name) - 1] = '\0';
		w->api.srv.node_id[sizeof(w->api.srv.node_id) - 1] = '\0';
		buf_set(&w->api.ca, NULL, 0, 0);
		break;
	case MSG_API_CA:
		buf_set(&w->api.ca, m->data, m->len, 1);
		break;
	case MSG_API_CERT:
		buf_set(&w->api.cert, m->data, m->len, 0);
		break;
	case MSG_API_KEY:
		buf_set(&w->api.key, m->data, m->len, 0);
		break;
	case MSG_API_TOKEN:
		buf_set(&w->api.token, m->data, m->len, 0);
		if (w->ready)
			log_info("new API token");
		break;
	case MSG_API_SOCKET:
		wconn_arrived(&w->conn, m->fd);
		watcher_tick(w);
		break;
	case MSG_API_CONNECT_FAILED:
		memcpy(&err, m->data, sizeof(err));
		conn_failed(w, (int)err);
		break;
	case MSG_DUMP:
		watcher_dump(w, m->hdr.id);
		break;
	case MSG_RESYNC:
		log_info("re-sync asked for: listing again");
		/*
		 * The watch in flight ends here; a list in flight stands.
		 * The list is at the last version seen (list_rv): fresh
		 * from the watch cache, never older than the map.
		 */
		req_free(w->watch);
		w->watch = NULL;
		w->need_list = 1;
		w->next_try = mono_ms();
		watcher_tick(w);
		break;
	case MSG_API_DONE:
		if (!w->ready)
			log_info("API server %s; this node is %s",
			    w->api.srv.url, *w->api.srv.node_name ?
			    w->api.srv.node_name : w->api.srv.node_id);
		w->ready = 1;
		watcher_tick(w);
		break;
	default:
		log_warnx("unexpected message %u from the parent",
		    m->hdr.type);
		break;
	}
}

static void
watcher_peer(struct child *c, enum role from, struct msg *m)
{
	struct watcher		*w = c->state;
	struct msg_gen_result	 r;

	(void)from;
	if (m->hdr.type != MSG_GEN_DONE)
		return;
	memcpy(&r, m->data, sizeof(r));
	if (r.refused > 0)
		log_warnx("the executor refused %u intents of generation %llu",
		    r.refused, (unsigned long long)r.gen);
	if (r.failed > 0)
		log_warnx("the kernel refused %u objects of generation %llu "
		    "(the executor logged each)", r.failed,
		    (unsigned long long)r.gen);
	if (w->snap_sent && r.gen >= w->snap_gen && !w->committed) {
		w->committed = 1;
		log_info("generation %llu committed: %u intents",
		    (unsigned long long)r.gen, r.applied);
		watcher_tick(w);
	}
}

/* A restarted peer knows nothing: give it the whole map again. */
static void
watcher_peer_up(struct child *c, enum role peer)
{
	struct watcher	*w = c->state;

	(void)peer;
	if (w->map != NULL)
		send_snapshot(w);
}

static const struct child_ops watcher_ops = {
	.control = watcher_control,
	.peer = watcher_peer,
	.peer_up = watcher_peer_up,
	.poll = watcher_poll,
	.io = watcher_io,
	.stats = watcher_stats,
};

void
watcher_main(void)
{
	static struct watcher	 w;
	struct child		 c;

	child_init(&c, ROLE_WATCHER);
	child_peer(&c, ROLE_EXECUTOR, CHILD_FD_PEER);
	/* The parent starts an ARP helper only when the mode needs one. */
	if (fcntl(CHILD_FD_PEER2, F_GETFD) != -1)
		child_peer(&c, ROLE_ARP, CHILD_FD_PEER2);
	/* TLS libraries read their configuration here, before the chroot. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (w.multi = curl_multi_init()) == NULL)
		fatalx("libcurl initialisation failed");
	wconn_init(&w.conn, &c.ctl, w.multi);
	w.c = &c;
	c.ops = &watcher_ops;
	c.state = &w;
	child_stats(&c, MSG_WATCH_STATS, &w.st, sizeof(w.st));
	child_confine(&c);
	child_loop(&c);
}
