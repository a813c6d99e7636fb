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
#include <unistd.h>

#include "child.h"
#include "k8s_parse.h"
#include "log.h"
#include "nodemap.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

#define LIST_LIMIT		500
#define BACKOFF_FIRST_MS	500
#define BACKOFF_MAX_MS		30000
#define CA_MAX			(1u << 20)
#define CONN_POOL_MAX		2	/* connected sockets kept ready */
#define CONN_FRESH_MS		30000	/* a ready socket unused this long is
					   closed: the server may have */
#define CONN_ASK_MS		20000	/* the parent answers within 10 s */

enum req_kind { REQ_LIST, REQ_WATCH, REQ_PATCH };

static const char *const req_verb[] = { "list", "watch", "patch" };
static const char *const req_resource[] = { "nodes", "nodes", "nodes/status" };

struct req {
	enum req_kind		 kind;
	CURL			*easy;
	struct curl_slist	*hdrs;
	struct curl_slist	*resolve;
	struct k8s_parser	*parser;	/* the 200 body */
	struct k8s_parser	*errparser;	/* any other body: a Status */
	struct k8s_status	 status;	/* from errparser or an ERROR */
	int			 have_status;
	long			 code;
	long			 retry_after;	/* seconds, from the header */
	int			 bad_body;	/* parse error: already logged */
	char			*body;		/* PATCH */
	char			 errbuf[CURL_ERROR_SIZE];
};

struct buf {
	char			*data;
	size_t			 len;
};

struct watcher {
	struct child		*c;
	struct msg_api_server	 srv;
	struct buf		 ca, cert, key, token;
	int			 ready;		/* credentials complete */
	CURLM			*multi;
	struct pollfd		 socks[CHILD_POLL_MAX];
	int			 nsocks;
	int64_t			 curl_due;	/* -1: no curl timer */
	struct req		*list, *watch, *patch;
	int64_t			 next_try;	/* list or watch, after backoff */
	int			 backoff;
	int			 need_list;
	char			 rv[K8S_RV_MAX];	/* last seen */
	char			 list_rv[K8S_RV_MAX];
	char			*cont;		/* continue token of the list */
	struct nodemap		*map;		/* what the watch keeps current */
	struct nodemap		*building;	/* a list in progress */
	uint64_t		 gen;
	uint64_t		 snap_gen;	/* the snapshot the peers have */
	int			 snap_sent;
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
	/* connections the parent opened for us: see conn_at_hand() */
	int			 pool[CONN_POOL_MAX];
	int64_t			 pool_got[CONN_POOL_MAX];
	int			 npool;
	int			 asked;		/* a request is with the parent */
	int64_t			 asked_due;
	int			 curl_socks;	/* sockets libcurl holds now */
};

static struct watcher	 W;

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
			    *w->srv.node_name ? w->srv.node_name :
			    w->srv.node_id);
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
	w->snap_sent = 1;
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
log_oversized(const struct k8s_node *n)
{
	if (n->oversized > 0)
		log_warnx("node %s: %u string%s longer than %u bytes skipped",
		    *n->name != '\0' ? n->name : "(bookmark)", n->oversized,
		    n->oversized > 1 ? "s" : "", K8S_TOKEN_MAX);
}

/* A list builds a map of its own: intents go out as one snapshot. */
static void
on_list_node(void *arg, enum k8s_event ev, const struct k8s_node *n)
{
	struct watcher	*w = arg;
	struct nm_change ch;

	log_oversized(n);
	if (nodemap_apply(w->building, ev, n, &ch) == -1)
		log_warnx("node %s ignored: more than %u nodes (--max-nodes)",
		    n->name, w->srv.max_nodes);
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

	log_oversized(n);
	if (*n->rv != '\0')
		snprintf(w->rv, sizeof(w->rv), "%s", n->rv);
	if (ev >= K8S_ADDED && ev <= K8S_BOOKMARK) {
		w->st.events[ev - K8S_ADDED]++;
		child_stats_changed(w->c, 0);
	}
	if (ev == K8S_BOOKMARK)
		return;
	if (nodemap_apply(w->map, ev, n, &ch) == -1)
		log_warnx("node %s ignored: more than %u nodes (--max-nodes)",
		    n->name, w->srv.max_nodes);
	/* Until the snapshot is sent, it will carry the change. */
	if (w->snap_sent) {
		queue_intents(w, w->adds, &w->nadds, ch.add, ch.nadd);
		queue_intents(w, w->dels, &w->ndels, ch.del, ch.ndel);
	}
	check_local(w);
}

static void
on_status(void *arg, const struct k8s_status *st)
{
	struct req	*r = arg;

	r->status = *st;
	r->have_status = 1;
}

/* A watch ERROR event, or a Status where a list should be. */
static void
on_list_status(void *arg, const struct k8s_status *st)
{
	struct watcher	*w = arg;

	on_status(w->list, st);
}

static void
on_watch_status(void *arg, const struct k8s_status *st)
{
	struct watcher	*w = arg;

	on_status(w->watch, st);
}

static const struct k8s_parse_cb list_cb = { on_list_node, on_list_meta,
    on_list_status };
static const struct k8s_parse_cb watch_cb = { on_watch_node, NULL,
    on_watch_status };
static const struct k8s_parse_cb status_cb = { NULL, NULL, on_status };

/* --- connections: the parent opens them, we never do --- */

static int
transfers_active(const struct watcher *w)
{
	return (w->list != NULL) + (w->watch != NULL) + (w->patch != NULL);
}

/* Ready sockets the server has closed, or that waited too long, go. */
static void
conn_prune(struct watcher *w)
{
	struct pollfd	 pfd;
	int64_t		 now = mono_ms();
	int		 i;

	for (i = 0; i < w->npool; i++) {
		pfd.fd = w->pool[i];
		pfd.events = POLLIN | POLLRDHUP;
		pfd.revents = 0;
		if (now - w->pool_got[i] < CONN_FRESH_MS &&
		    poll(&pfd, 1, 0) == 0)
			continue;
		log_debug("closing an unused connection to the API server");
		close(w->pool[i]);
		w->npool--;
		w->pool[i] = w->pool[w->npool];
		w->pool_got[i] = w->pool_got[w->npool];
		i--;
	}
}

static void
conn_ask(struct watcher *w)
{
	if (w->asked)
		return;
	if (msgchan_compose(&w->c->ctl, MSG_API_CONNECT, 0, -1, NULL,
	    0) == -1) {
		log_warn("control channel: asking for a connection");
		return;
	}
	w->asked = 1;
	w->asked_due = mono_ms() + CONN_ASK_MS;
}

/*
 * May a transfer start now?  Yes if a ready socket waits or libcurl
 * holds a connection no transfer uses, which it will reuse; else ask
 * the parent for one and start when it comes, the loop running on.
 */
static int
conn_at_hand(struct watcher *w)
{
	conn_prune(w);
	if (w->npool + w->curl_socks > transfers_active(w))
		return 1;
	conn_ask(w);
	return 0;
}

/* No connection came: say why, and try again after the usual backoff. */
static void
conn_failed(struct watcher *w, int err)
{
	w->asked = 0;
	log_warnx("no connection to the API server %s: %s", w->srv.url,
	    strerror(err));
	count_error(w, 0);
	if (w->list == NULL && w->watch == NULL)
		watcher_schedule(w, 0, 0);
	if (w->committed && !w->condition_set && w->patch == NULL)
		w->patch_next = mono_ms() + backoff_next(&w->patch_backoff);
}

static void
conn_arrived(struct watcher *w, int fd)
{
	w->asked = 0;
	if (w->npool == CONN_POOL_MAX) {
		close(fd);
		return;
	}
	w->pool[w->npool] = fd;
	w->pool_got[w->npool++] = mono_ms();
}

/* libcurl wants a socket: one the parent connected, or none. */
static curl_socket_t
on_opensocket(void *arg, curlsocktype purpose, struct curl_sockaddr *sa)
{
	struct watcher	*w = arg;

	(void)sa;
	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	conn_prune(w);
	if (w->npool == 0) {
		log_warnx("no connection to the API server at hand: asking "
		    "the parent for one; this request fails and is retried");
		conn_ask(w);
		return CURL_SOCKET_BAD;
	}
	w->curl_socks++;
	return w->pool[--w->npool];
}

static int
on_sockopt(void *arg, curl_socket_t s, curlsocktype purpose)
{
	(void)arg;
	(void)s;
	(void)purpose;
	return CURL_SOCKOPT_ALREADY_CONNECTED;
}

static int
on_closesocket(void *arg, curl_socket_t s)
{
	struct watcher	*w = arg;

	w->curl_socks--;
	return close(s);
}

/* --- requests --- */

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct req	*r = arg;
	size_t		 len = size * n;

	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
		r->retry_after = strtol(p + 12, NULL, 10);
	return len;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct req	*r = arg;
	size_t		 len = size * n;

	if (r->code == 0)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->code);
	if (r->code != 200) {
		/* An error body only explains; a broken one changes nothing. */
		if (r->errparser != NULL &&
		    k8s_parser_feed(r->errparser, (unsigned char *)p, len) == -1) {
			k8s_parser_free(r->errparser);
			r->errparser = NULL;
		}
		return len;
	}
	if (r->parser == NULL)
		return len;
	if (k8s_parser_feed(r->parser, (unsigned char *)p, len) == -1) {
		log_warnx("%s: %s; dropping the connection", req_verb[r->kind],
		    k8s_parser_error(r->parser));
		r->bad_body = 1;
		return 0;	/* ends the transfer */
	}
	if (r->kind == REQ_WATCH)
		flush_intents(&W);
	return len;
}

static void
req_free(struct req *r)
{
	if (r == NULL)
		return;
	if (r->easy != NULL) {
		curl_multi_remove_handle(W.multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->hdrs);
	curl_slist_free_all(r->resolve);
	k8s_parser_free(r->parser);
	k8s_parser_free(r->errparser);
	free(r->body);
	free(r);
}

static struct req *
req_new(struct watcher *w, enum req_kind kind, const char *url)
{
	struct curl_blob	 blob;
	struct req		*r;
	char			*auth = NULL;
	CURL			*e;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->easy = e = curl_easy_init()) == NULL) {
		log_warnx("%s: out of memory", req_verb[kind]);
		free(r);
		return NULL;
	}
	r->kind = kind;
	r->errparser = k8s_parser_new(K8S_DOC_STATUS, w->srv.addr_type,
	    &status_cb, r);
	if (w->token.len > 0) {
		if (asprintf(&auth, "Authorization: Bearer %.*s",
		    (int)w->token.len, w->token.data) == -1)
			auth = NULL;
		r->hdrs = curl_slist_append(r->hdrs, auth);
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	r->hdrs = curl_slist_append(r->hdrs, "Accept: application/json");
	r->hdrs = curl_slist_append(r->hdrs, "User-Agent: kopeio-networkd/"
	    PACKAGE_VERSION);
	if (*w->srv.resolve != '\0')
		r->resolve = curl_slist_append(NULL, w->srv.resolve);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(e, CURLOPT_RESOLVE, r->resolve);
	/* The parent connects; libcurl only does TLS and HTTP on it. */
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, w);
	curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_closesocket);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, w);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 128L * 1024);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 15L);
	if (w->ca.len > 0) {
		blob.data = w->ca.data;
		blob.len = w->ca.len;
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (w->cert.len > 0) {
		blob.data = w->cert.data;
		blob.len = w->cert.len;
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &blob);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		blob.data = w->key.data;
		blob.len = w->key.len;
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &blob);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (w->srv.insecure) {
		log_warnx("TLS verification of %s is off "
		    "(insecure-skip-tls-verify in the kubeconfig)", w->srv.url);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return r;
}

static int
req_start(struct watcher *w, struct req *r)
{
	CURLMcode	 mc;

	if ((mc = curl_multi_add_handle(w->multi, r->easy)) != CURLM_OK) {
		log_warnx("%s: %s", req_verb[r->kind], curl_multi_strerror(mc));
		req_free(r);
		return -1;
	}
	return 0;
}

static void
start_list(struct watcher *w)
{
	char	 url[API_URL_MAX + 2200], *esc = NULL;

	if (w->cont == NULL) {
		nodemap_free(w->building);
		w->building = nodemap_new(w->srv.max_nodes, w->srv.node_id_kind,
		    *w->srv.node_name ? w->srv.node_name : w->srv.node_id);
		if (w->building == NULL)
			fatal("node map");
	} else if ((esc = curl_easy_escape(NULL, w->cont, 0)) == NULL)
		fatalx("out of memory");
	snprintf(url, sizeof(url), "%s/api/v1/nodes?limit=%d%s%s", w->srv.url,
	    LIST_LIMIT, esc ? "&continue=" : "", esc ? esc : "");
	curl_free(esc);
	if ((w->list = req_new(w, REQ_LIST, url)) == NULL)
		return;
	w->list->parser = k8s_parser_new(K8S_DOC_LIST, w->srv.addr_type,
	    &list_cb, w);
	curl_easy_setopt(w->list->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(w->list->easy, CURLOPT_LOW_SPEED_TIME, 60L);
	/* A page that trickles is as stuck as one that stalls. */
	curl_easy_setopt(w->list->easy, CURLOPT_TIMEOUT,
	    (long)w->c->conf.watch_timeout);
	if (req_start(w, w->list) == -1)
		w->list = NULL;
}

static void
start_watch(struct watcher *w)
{
	char	 url[API_URL_MAX + 3 * K8S_RV_MAX + 128], *rv;
	long	 base = w->c->conf.watch_timeout, timeout, margin;

	/* Spread out, so watches of 5,000 nodes do not end together. */
	timeout = base + (long)arc4random_uniform((uint32_t)base + 1);
	margin = base / 5 > 0 ? base / 5 : 1;
	/* The version is the server's opaque string: escape it. */
	if ((rv = curl_easy_escape(NULL, w->rv, 0)) == NULL)
		fatalx("out of memory");
	snprintf(url, sizeof(url), "%s/api/v1/nodes?watch=1&resourceVersion="
	    "%s&allowWatchBookmarks=true&timeoutSeconds=%ld", w->srv.url, rv,
	    timeout);
	curl_free(rv);
	if ((w->watch = req_new(w, REQ_WATCH, url)) == NULL)
		return;
	w->watch->parser = k8s_parser_new(K8S_DOC_WATCH, w->srv.addr_type,
	    &watch_cb, w);
	/* A watch that says nothing, not even a bookmark, is dead. */
	curl_easy_setopt(w->watch->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(w->watch->easy, CURLOPT_LOW_SPEED_TIME,
	    timeout + margin);
	log_debug("watching nodes from resourceVersion %s for %ld s", w->rv,
	    timeout);
	if (req_start(w, w->watch) == -1)
		w->watch = NULL;
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
	char			 url[API_URL_MAX + 300], now[32];

	rfc3339_now(now, sizeof(now));
	snprintf(url, sizeof(url), "%s/api/v1/nodes/%s/status", w->srv.url,
	    local->name);
	if ((w->patch = req_new(w, REQ_PATCH, url)) == NULL)
		return;
	if (asprintf(&w->patch->body, "{\"status\":{\"conditions\":[{"
	    "\"type\":\"NetworkUnavailable\",\"status\":\"False\","
	    "\"reason\":\"RouteCreated\",\"message\":\"kopeio-networkd "
	    "routes every node's pod CIDR\",\"lastTransitionTime\":\"%s\","
	    "\"lastHeartbeatTime\":\"%s\"}]}}", now, now) == -1)
		fatalx("out of memory");
	w->patch->hdrs = curl_slist_append(w->patch->hdrs,
	    "Content-Type: application/strategic-merge-patch+json");
	curl_easy_setopt(w->patch->easy, CURLOPT_HTTPHEADER, w->patch->hdrs);
	curl_easy_setopt(w->patch->easy, CURLOPT_CUSTOMREQUEST, "PATCH");
	curl_easy_setopt(w->patch->easy, CURLOPT_POSTFIELDS, w->patch->body);
	curl_easy_setopt(w->patch->easy, CURLOPT_TIMEOUT, 60L);
	if (req_start(w, w->patch) == -1)
		w->patch = NULL;
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
		log_warnx("%s %s: %s", req_verb[r->kind], w->srv.url,
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

static void
list_done(struct watcher *w, struct req *r, CURLcode cc)
{
	long	 ra;

	if (cc == CURLE_OK && r->code == 200 && !r->bad_body &&
	    k8s_parser_finish(r->parser) == 0) {
		if (w->cont != NULL) {
			start_list(w);
			return;
		}
		nodemap_free(w->map);
		w->map = w->building;
		w->building = NULL;
		snprintf(w->rv, sizeof(w->rv), "%s", w->list_rv);
		w->need_list = 0;
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
	} else if ((ra = req_failed(w, r, cc)) == -1)
		ra = 0;
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
	    conn_at_hand(w)) {
		if (w->map == NULL || w->need_list || w->cont != NULL)
			start_list(w);
		else
			start_watch(w);
	}
	if (w->committed && !w->condition_set && w->patch == NULL &&
	    now >= w->patch_next && (local = nodemap_local(w->map)) != NULL) {
		if (local->net_unavailable == 0)
			w->condition_set = 1;
		else if (conn_at_hand(w))
			start_patch(w);
	}
}

/* --- libcurl's sockets and timer in the shared loop --- */

static int
on_socket(CURL *e, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct watcher	*w = arg;
	int		 i;

	(void)e;
	(void)sockp;
	for (i = 0; i < w->nsocks; i++)
		if (w->socks[i].fd == s)
			break;
	if (what == CURL_POLL_REMOVE) {
		if (i < w->nsocks)
			w->socks[i] = w->socks[--w->nsocks];
		return 0;
	}
	if (i == w->nsocks) {
		if (w->nsocks == CHILD_POLL_MAX) {
			log_warnx("too many connections");
			return -1;
		}
		w->nsocks++;
	}
	w->socks[i].fd = s;
	w->socks[i].events = (what & CURL_POLL_IN ? POLLIN : 0) |
	    (what & CURL_POLL_OUT ? POLLOUT : 0);
	return 0;
}

static int
on_timer(CURLM *multi, long timeout_ms, void *arg)
{
	struct watcher	*w = arg;

	(void)multi;
	w->curl_due = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
	return 0;
}

static int
watcher_poll(struct child *c, struct pollfd *pfd, int max, int64_t *timeout)
{
	struct watcher	*w = c->state;
	int64_t		 now = mono_ms(), due = -1;
	int		 i, n;

	for (n = 0; n < w->npool; n++)
		if (due < 0 || w->pool_got[n] + CONN_FRESH_MS < due)
			due = w->pool_got[n] + CONN_FRESH_MS;
	for (i = 0; i < w->nsocks && i < max; i++) {
		pfd[i] = w->socks[i];
		pfd[i].revents = 0;
	}
	if (w->curl_due >= 0 && (due < 0 || w->curl_due < due))
		due = w->curl_due;
	/* While the parent connects, its answer wakes us, or the bound. */
	if (w->asked && (due < 0 || w->asked_due < due))
		due = w->asked_due;
	if (!w->asked && w->ready && w->list == NULL && w->watch == NULL &&
	    (due < 0 || w->next_try < due))
		due = w->next_try;
	if (!w->asked && w->committed && !w->condition_set &&
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
	int		 i, ev, running;

	for (i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		ev = (pfd[i].revents & (POLLIN | POLLHUP) ? CURL_CSELECT_IN :
		    0) | (pfd[i].revents & POLLOUT ? CURL_CSELECT_OUT : 0) |
		    (pfd[i].revents & POLLERR ? CURL_CSELECT_ERR : 0);
		curl_multi_socket_action(w->multi, pfd[i].fd, ev, &running);
	}
	if (w->curl_due >= 0 && mono_ms() >= w->curl_due) {
		w->curl_due = -1;
		curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0,
		    &running);
	}
	if (w->asked && mono_ms() >= w->asked_due)
		conn_failed(w, ETIMEDOUT);
	conn_prune(w);
	transfers_done(w);
	watcher_tick(w);
}

/* --- messages --- */

static void
buf_set(struct buf *b, const void *data, size_t len, int append)
{
	char	*p;

	if (!append) {
		if (b->data != NULL)
			explicit_bzero(b->data, b->len);
		free(b->data);
		b->data = NULL;
		b->len = 0;
	}
	if (b->len + len > CA_MAX) {
		log_warnx("credential larger than %u bytes ignored", CA_MAX);
		return;
	}
	if ((p = realloc(b->data, b->len + len + 1)) == NULL)
		fatal("credentials");
	if (len > 0)
		memcpy(p + b->len, data, len);
	b->data = p;
	b->len += len;
	b->data[b->len] = '\0';
}

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
		memcpy(&w->srv, m->data, sizeof(w->srv));
		w->srv.url[sizeof(w->srv.url) - 1] = '\0';
		w->srv.resolve[sizeof(w->srv.resolve) - 1] = '\0';
		w->srv.node_name[sizeof(w->srv.node_name) - 1] = '\0';
		w->srv.node_id[sizeof(w->srv.node_id) - 1] = '\0';
		buf_set(&w->ca, NULL, 0, 0);
		break;
	case MSG_API_CA:
		buf_set(&w->ca, m->data, m->len, 1);
		break;
	case MSG_API_CERT:
		buf_set(&w->cert, m->data, m->len, 0);
		break;
	case MSG_API_KEY:
		buf_set(&w->key, m->data, m->len, 0);
		break;
	case MSG_API_TOKEN:
		buf_set(&w->token, m->data, m->len, 0);
		if (w->ready)
			log_info("new API token");
		break;
	case MSG_API_SOCKET:
		conn_arrived(w, m->fd);
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
		/* The watch in flight ends here; a list in flight stands. */
		req_free(w->watch);
		w->watch = NULL;
		w->need_list = 1;
		w->next_try = mono_ms();
		watcher_tick(w);
		break;
	case MSG_API_DONE:
		if (!w->ready)
			log_info("API server %s; this node is %s", w->srv.url,
			    *w->srv.node_name ? w->srv.node_name :
			    w->srv.node_id);
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
	struct child	 c;

	child_init(&c, ROLE_WATCHER);
	child_peer(&c, ROLE_EXECUTOR, CHILD_FD_PEER);
	/* The parent starts an ARP helper only when the mode needs one. */
	if (fcntl(CHILD_FD_PEER2, F_GETFD) != -1)
		child_peer(&c, ROLE_ARP, CHILD_FD_PEER2);
	/* TLS libraries read their configuration here, before the chroot. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (W.multi = curl_multi_init()) == NULL)
		fatalx("libcurl initialisation failed");
	curl_multi_setopt(W.multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(W.multi, CURLMOPT_SOCKETDATA, &W);
	curl_multi_setopt(W.multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(W.multi, CURLMOPT_TIMERDATA, &W);
	W.c = &c;
	W.curl_due = -1;
	c.ops = &watcher_ops;
	c.state = &W;
	child_stats(&c, MSG_WATCH_STATS, &W.st, sizeof(W.st));
	child_confine(&c);
	child_loop(&c);
}
