/*
 * The metrics process: serves /healthz, /readyz and /metrics over
 * HTTP with libmicrohttpd on the listening socket the parent opened.
 * It holds no capability and no other channel than the one to the
 * parent, which sends it the daemon's status; what a client sends it
 * can at worst make it answer wrongly.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "child.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "out.h"

/* The parent sends its status every few seconds; older means hung. */
#define STATUS_STALE_MS		30000

/* A connection MHD holds, and when its current request began. */
struct conn {
	int			 fd;		/* -1: a free slot */
	int			 cut;		/* shut down; MHD closes it */
	int64_t			 start;		/* accept, or the last answer */
	uint8_t			 family;
	uint8_t			 addr[16];	/* the client's */
};

struct metrics {
	struct child		*c;
	struct conn		 conns[METRICS_CONNECTIONS];
	uint64_t		 cut_slow, cut_room;	/* connections cut */
	uint64_t		 cut_logged;	/* cut_slow + cut_room, logged */
	int64_t			 cut_log_next;
	char			 cut_last[INET6_ADDRSTRLEN];
	struct MHD_Daemon	*httpd;
	int			 epfd;
	struct kn_status	 st;
	int64_t			 st_time;	/* 0: none yet */
	char			 page[METRICS_PAGE_MAX];
};

static struct metrics	 M;

/* --- the Prometheus text format --- */

static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	out(o, "# HELP kopeio_networking_%s %s\n", name, help);
	out(o, "# TYPE kopeio_networking_%s %s\n", name, type);
}

static void
sample(struct out *o, const char *name, const char *labels, uint64_t v)
{
	out(o, "kopeio_networking_%s%s%s%s %" PRIu64 "\n", name,
	    *labels ? "{" : "", labels, *labels ? "}" : "", v);
}

/* A metric of one sample, read from a field of 4 or 8 bytes. */
struct scalar {
	const char	*name;
	const char	*type;
	const char	*help;
	size_t		 off, size;
};

#define SCALAR(s, f, name, type, help) \
	{ name, type, help, offsetof(s, f), sizeof(((s *)0)->f) }

static void
scalars(struct out *o, const struct scalar *t, size_t n, const void *base)
{
	uint64_t	 v;
	uint32_t	 v32;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if (t[i].size == sizeof(v32)) {
			memcpy(&v32, (const char *)base + t[i].off, sizeof(v32));
			v = v32;
		} else
			memcpy(&v, (const char *)base + t[i].off, sizeof(v));
		family(o, t[i].name, t[i].type, t[i].help);
		sample(o, t[i].name, "", v);
	}
}

#define W(f, n, t, h)	SCALAR(struct msg_watch_stats, f, n, t, h)
static const struct scalar watch_scalars[] = {
	W(lists, "node_lists_total", "counter", "Complete lists of the Node "
	    "objects, the first one included."),
	W(patches, "status_patches_total", "counter", "NetworkUnavailable "
	    "condition patches the API server accepted."),
	W(skipped, "watch_strings_skipped_total", "counter", "Strings longer "
	    "than 2 MiB skipped in fields the agent does not read."),
	W(ignored, "nodes_ignored_total", "counter", "Node objects ignored: "
	    "the watcher already held --max-nodes of them."),
	W(nodes, "nodes", "gauge", "Node objects the watcher knows."),
	W(bound, "max_nodes", "gauge", "The --max-nodes bound the watcher "
	    "keeps to."),
	W(peers, "peers", "gauge", "Nodes with a route intent."),
};
#undef W

#define E(f, n, t, h)	SCALAR(struct msg_exec_stats, f, n, t, h)
static const struct scalar exec_scalars[] = {
	E(request_errors, "netlink_errors_total", "counter", "Netlink "
	    "requests the kernel refused."),
	E(repairs, "drift_repairs_total", "counter", "Owned kernel objects "
	    "put back after someone else changed or removed them."),
	E(resyncs, "resyncs_total", "counter", "Full re-reads of the kernel "
	    "state."),
	E(overruns, "monitor_overruns_total", "counter", "Times the netlink "
	    "monitor lost events."),
	E(adopted, "adopted_routes_total", "counter", "Routes of another "
	    "protocol (the original agent's) made the agent's own in place."),
	E(gen, "generation", "gauge", "The last generation the executor "
	    "reported."),
	E(failed, "generation_failed_objects", "gauge", "Kernel objects that "
	    "failed in the last generation."),
	E(intents, "intents", "gauge", "Route intents the executor accepted."),
	E(over, "intents_ignored_total", "counter", "Route intents refused: "
	    "the executor already held 2 x --max-nodes of them."),
	E(objects, "kernel_objects", "gauge", "Owned kernel objects."),
	E(masq_repairs, "masquerade_repairs_total", "counter", "Times table "
	    "inet kopeio was put back after someone else changed it."),
	E(masq_rules, "masquerade_rules", "gauge", "Rules in table inet "
	    "kopeio, as last read."),
};
#undef E

static const char *const event_names[STATS_EVENTS] = {
	"ADDED", "MODIFIED", "DELETED", "BOOKMARK"
};
static const char *const object_names[STATS_OBJ_TYPES] = {
	"route", "neighbour", "fdb", "tunnel", "xfrm_state", "xfrm_policy"
};
static const char *const op_names[STATS_OPS] = {
	"create", "replace", "delete"
};

static void
render_watch(struct out *o, const struct msg_watch_stats *w)
{
	char	 l[64];
	int	 i;

	family(o, "watch_events_total", "counter",
	    "Node watch events received, by type.");
	for (i = 0; i < STATS_EVENTS; i++) {
		snprintf(l, sizeof(l), "type=\"%s\"", event_names[i]);
		sample(o, "watch_events_total", l, w->events[i]);
	}
	family(o, "api_errors_total", "counter", "Failed API requests, by "
	    "HTTP status code; \"none\" when no response came.");
	for (i = 0; i < STATS_CODES && w->errors[i].count > 0; i++) {
		if (w->errors[i].code == 0)
			snprintf(l, sizeof(l), "code=\"none\"");
		else
			snprintf(l, sizeof(l), "code=\"%u\"",
			    w->errors[i].code);
		sample(o, "api_errors_total", l, w->errors[i].count);
	}
	if (w->errors_other > 0)
		sample(o, "api_errors_total", "code=\"other\"",
		    w->errors_other);
	scalars(o, watch_scalars, sizeof(watch_scalars) /
	    sizeof(watch_scalars[0]), w);
}

static void
render_exec(struct out *o, const struct msg_exec_stats *e)
{
	char		 l[64];
	uint64_t	 cum = 0;
	int		 i, j;

	family(o, "netlink_requests_total", "counter",
	    "Netlink requests the executor sent, by object and operation.");
	for (i = 0; i < STATS_OBJ_TYPES; i++)
		for (j = 0; j < STATS_OPS; j++) {
			snprintf(l, sizeof(l), "object=\"%s\",op=\"%s\"",
			    object_names[i], op_names[j]);
			sample(o, "netlink_requests_total", l,
			    e->requests[i][j]);
		}
	family(o, "reconcile_duration_seconds", "histogram",
	    "Time to bring the kernel in line after a change.");
	for (i = 0; i < STATS_BUCKETS; i++) {
		cum += e->reconcile[i];
		if (i < STATS_BUCKETS - 1)
			snprintf(l, sizeof(l), "le=\"%g\"",
			    stats_bounds_us[i] / 1e6);
		else
			snprintf(l, sizeof(l), "le=\"+Inf\"");
		sample(o, "reconcile_duration_seconds_bucket", l, cum);
	}
	out(o, "kopeio_networking_reconcile_duration_seconds_sum %.6f\n",
	    e->reconcile_us / 1e6);
	sample(o, "reconcile_duration_seconds_count", "", cum);
	scalars(o, exec_scalars, sizeof(exec_scalars) /
	    sizeof(exec_scalars[0]), e);
	family(o, "last_sync_timestamp_seconds", "gauge",
	    "When the last generation was reported (Unix time).");
	out(o, "kopeio_networking_last_sync_timestamp_seconds %.3f\n",
	    e->gen_time / 1e3);
}

#define S(f, n, t, h)	SCALAR(struct kn_status, f, n, t, h)
static const struct scalar status_scalars[] = {
	S(ready, "ready", "gauge", "1 once the first generation is in the "
	    "kernel and the CNI configuration is written."),
	S(cni_written, "cni_config_written", "gauge", "1 when the CNI "
	    "configuration file is written for the current pod CIDRs."),
};
#undef S

size_t
metrics_render(const struct kn_status *st, char *buf, size_t size)
{
	struct out	 o = { buf, 0, size, 0 };
	char		 l[64];
	int		 r;

	family(&o, "info", "gauge", "The daemon's version and mode.");
	out(&o, "kopeio_networking_info{version=\"%.*s\",provider=\"%s\"} 1\n",
	    (int)strnlen(st->version, sizeof(st->version)), st->version,
	    mode_name(st->mode));
	scalars(&o, status_scalars, sizeof(status_scalars) /
	    sizeof(status_scalars[0]), st);
	family(&o, "start_time_seconds", "gauge",
	    "When the daemon started (Unix time).");
	out(&o, "kopeio_networking_start_time_seconds %.3f\n",
	    st->started / 1e3);
	family(&o, "process_up", "gauge",
	    "1 when the process of this role is running.");
	for (r = ROLE_WATCHER; r < ROLE_NPROC; r++)
		if (st->proc[r].wanted) {
			snprintf(l, sizeof(l), "process=\"%s\"", role_name(r));
			sample(&o, "process_up", l, st->proc[r].running);
		}
	family(&o, "child_restarts_total", "counter",
	    "Times the parent restarted a process of this role.");
	for (r = ROLE_WATCHER; r < ROLE_NPROC; r++)
		if (st->proc[r].wanted) {
			snprintf(l, sizeof(l), "process=\"%s\"", role_name(r));
			sample(&o, "child_restarts_total", l,
			    st->proc[r].restarts);
		}
	render_watch(&o, &st->watch);
	render_exec(&o, &st->exec);
	return o.full ? 0 : o.len;
}

/*
 * healthz: the parent is alive (its status is fresh) and every process
 * the mode needs runs.  readyz: the parent says so.
 */
int
metrics_health(const struct kn_status *st, int64_t age_ms, int ready,
    char *why, size_t len)
{
	int	 r;

	if (age_ms < 0) {
		snprintf(why, len, "no status from the parent yet\n");
		return 0;
	}
	if (age_ms > STATUS_STALE_MS) {
		snprintf(why, len, "no status from the parent for %lld s\n",
		    (long long)age_ms / 1000);
		return 0;
	}
	for (r = ROLE_WATCHER; r < ROLE_NPROC && !ready; r++)
		if (st->proc[r].wanted && !st->proc[r].running) {
			snprintf(why, len, "the %s is not running\n",
			    role_name(r));
			return 0;
		}
	/*
	 * Past --max-nodes some nodes have no routes: not ready, so that
	 * a rollout stops on it and the pod shows it; still healthy, as a
	 * restart would change nothing.
	 */
	if (ready && !st->ready) {
		if (st->exec.gen_time == 0)
			snprintf(why, len, "no generation in the kernel yet\n");
		else if (WATCH_OVER(&st->watch))
			snprintf(why, len, "more than %u nodes (--max-nodes): %"
			    PRIu64 " ignored\n", st->watch.bound,
			    st->watch.ignored);
		else if (EXEC_OVER(&st->exec))
			snprintf(why, len, "more than %u intents (--max-nodes): "
			    "%" PRIu64 " refused\n", st->exec.bound,
			    st->exec.over);
		else
			snprintf(why, len, "the CNI configuration is not "
			    "written\n");
		return 0;
	}
	snprintf(why, len, "ok\n");
	return 1;
}

/* --- HTTP --- */

static void
render_http(struct out *o, const struct metrics *m)
{
	family(o, "http_connections_cut_total", "counter", "Metrics "
	    "connections closed by force: reason=\"slow\" had not finished "
	    "a request in time, reason=\"room\" made room for a newer one.");
	sample(o, "http_connections_cut_total", "reason=\"slow\"",
	    m->cut_slow);
	sample(o, "http_connections_cut_total", "reason=\"room\"",
	    m->cut_room);
}

/* The connection slot of an MHD connection, or NULL. */
static struct conn *
conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo	*ci;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci == NULL ? NULL : ci->socket_context;
}

/*
 * Shut a connection down under MHD: its next read sees the end and it
 * closes the connection and tells us.  Counted, and logged at most
 * once in METRICS_CUT_LOG_MS, so a flood cannot flood the log.
 */
static void
conn_cut(struct metrics *m, struct conn *k, int slow)
{
	k->cut = 1;
	shutdown(k->fd, SHUT_RDWR);
	if (slow)
		m->cut_slow++;
	else
		m->cut_room++;
	inet_ntop(k->family, k->addr, m->cut_last, sizeof(m->cut_last));
}

static void
conn_cut_log(struct metrics *m, int64_t now)
{
	uint64_t	 n = m->cut_slow + m->cut_room;

	if (n == m->cut_logged || now < m->cut_log_next)
		return;
	log_warnx("HTTP server: cut %llu connections (%llu slow, %llu to "
	    "make room) since the last report; the last from %s",
	    (unsigned long long)(n - m->cut_logged),
	    (unsigned long long)m->cut_slow, (unsigned long long)m->cut_room,
	    m->cut_last);
	m->cut_logged = n;
	m->cut_log_next = now + METRICS_CUT_LOG_MS;
}

/* Requests past their time; returns ms until the next one is due. */
static int64_t
conn_expire(struct metrics *m, int64_t now)
{
	int64_t	 next = -1, left;
	int	 i;

	for (i = 0; i < METRICS_CONNECTIONS; i++) {
		struct conn	*k = &m->conns[i];

		if (k->fd == -1 || k->cut)
			continue;
		if ((left = k->start + METRICS_REQUEST_MS - now) <= 0)
			conn_cut(m, k, 1);
		else if (next < 0 || left < next)
			next = left;
	}
	conn_cut_log(m, now);
	return next;
}

/*
 * A new connection: it takes a slot; an address over its share, or a
 * full table, gives up its oldest live connection for it.  Newest
 * first is what keeps a probe answering beside a trickler: the probe
 * sends its request at once and is answered in this same turn.
 */
static void
conn_open(struct metrics *m, struct MHD_Connection *conn, void **ctx)
{
	const union MHD_ConnectionInfo	*fdi, *ai;
	const struct sockaddr		*sa;
	struct conn			*k = NULL, *old = NULL, *oldall = NULL;
	int				 i, same = 0, live = 0;

	fdi = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	ai = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	for (i = 0; i < METRICS_CONNECTIONS && k == NULL; i++)
		if (m->conns[i].fd == -1)
			k = &m->conns[i];
	if (fdi == NULL || ai == NULL || k == NULL)
		return;		/* MHD's own limit is the table's size */
	memset(k, 0, sizeof(*k));
	k->fd = fdi->connect_fd;
	k->start = mono_ms();
	sa = ai->client_addr;
	k->family = sa->sa_family;
	if (sa->sa_family == AF_INET)
		memcpy(k->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(k->addr, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		    16);
	*ctx = k;
	for (i = 0; i < METRICS_CONNECTIONS; i++) {
		struct conn	*o = &m->conns[i];

		if (o->fd == -1 || o->cut || o == k)
			continue;
		live++;
		if (oldall == NULL || o->start < oldall->start)
			oldall = o;
		if (o->family != k->family ||
		    memcmp(o->addr, k->addr, sizeof(o->addr)) != 0)
			continue;
		same++;
		if (old == NULL || o->start < old->start)
			old = o;
	}
	if (same >= METRICS_PER_ADDR)
		conn_cut(m, old, 0);
	else if (live >= METRICS_CONNECTIONS - 1)
		conn_cut(m, oldall, 0);
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **ctx,
    enum MHD_ConnectionNotificationCode toe)
{
	struct conn	*k = *ctx;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		conn_open(cls, conn, ctx);
	else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && k != NULL) {
		k->fd = -1;
		*ctx = NULL;
	}
}

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned code, const char *type,
    const char *body, size_t len)
{
	struct MHD_Response	*resp;
	enum MHD_Result		 rv;

	if ((resp = MHD_create_response_from_buffer(len, (void *)body,
	    MHD_RESPMEM_MUST_COPY)) == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	rv = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return rv;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **req)
{
	struct metrics	*m = cls;
	const char	*text = "text/plain; charset=utf-8";
	struct conn	*k = conn_of(conn);
	char		 why[128];
	int64_t		 age = m->st_time ? mono_ms() - m->st_time : -1;
	size_t		 n;
	int		 ok;

	(void)version;
	(void)upload;
	if (*req == NULL) {
		/* First call: headers only.  Answer on the second. */
		*req = m;
		return MHD_YES;
	}
	if (*upload_len != 0) {
		*upload_len = 0;
		return MHD_YES;
	}
	/* Answered: a kept-alive connection's next request starts now. */
	if (k != NULL)
		k->start = mono_ms();
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text,
		    "only GET and HEAD\n", 18);
	if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0) {
		ok = metrics_health(&m->st, age, url[1] == 'r', why,
		    sizeof(why));
		return reply(conn, ok ? MHD_HTTP_OK :
		    MHD_HTTP_SERVICE_UNAVAILABLE, text, why, strlen(why));
	}
	if (strcmp(url, "/metrics") == 0) {
		if (age < 0)
			return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text,
			    "no status from the parent yet\n", 30);
		if ((n = metrics_render(&m->st, m->page, sizeof(m->page))) != 0) {
			struct out	 o = { m->page, n, sizeof(m->page), 0 };

			render_http(&o, m);
			n = o.full ? 0 : o.len;
		}
		if (n == 0)
			return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, text,
			    "metrics page too large\n", 23);
		return reply(conn, MHD_HTTP_OK,
		    "text/plain; version=0.0.4; charset=utf-8", m->page, n);
	}
	return reply(conn, MHD_HTTP_NOT_FOUND, text,
	    "not found: /healthz, /readyz, /metrics\n", 39);
}

static void
metrics_control(struct child *c, struct msg *msg)
{
	struct metrics	*m = c->state;

	if (msg->hdr.type != MSG_STATUS) {
		log_warnx("unexpected message %u from the parent",
		    msg->hdr.type);
		return;
	}
	memcpy(&m->st, msg->data, sizeof(m->st));
	m->st_time = mono_ms();
}

static int
metrics_poll(struct child *c, struct pollfd *pfd, int max, int64_t *timeout)
{
	struct metrics		*m = c->state;
	MHD_UNSIGNED_LONG_LONG	 t;
	int64_t			 due;

	if (max < 1)
		return 0;
	pfd[0].fd = m->epfd;
	pfd[0].events = POLLIN;
	if (MHD_get_timeout(m->httpd, &t) == MHD_YES &&
	    (*timeout < 0 || (int64_t)t < *timeout))
		*timeout = (int64_t)t;
	if ((due = conn_expire(m, mono_ms())) >= 0 &&
	    (*timeout < 0 || due < *timeout))
		*timeout = due;
	/* A cut to log waits no longer than its turn. */
	if (m->cut_slow + m->cut_room != m->cut_logged &&
	    (*timeout < 0 || *timeout > METRICS_CUT_LOG_MS))
		*timeout = METRICS_CUT_LOG_MS;
	return 1;
}

static void
metrics_io(struct child *c, struct pollfd *pfd, int n)
{
	struct metrics	*m = c->state;

	(void)pfd;
	(void)n;
	if (MHD_run(m->httpd) != MHD_YES)
		log_warnx("HTTP server: a connection failed");
}

static const struct child_ops metrics_ops = {
	.control = metrics_control,
	.poll = metrics_poll,
	.io = metrics_io,
};

void
metrics_main(void)
{
	static struct child		 c;
	const union MHD_DaemonInfo	*di;
	int				 type, i;
	socklen_t			 sl = sizeof(type);

	M.c = &c;
	for (i = 0; i < METRICS_CONNECTIONS; i++)
		M.conns[i].fd = -1;
	child_init(&c, ROLE_METRICS);
	if (getsockopt(CHILD_FD_PEER, SOL_SOCKET, SO_TYPE, &type, &sl) == -1 ||
	    type != SOCK_STREAM)
		fatalx("no listening socket on descriptor %d", CHILD_FD_PEER);
	/* Room in the kernel for a probe behind a burst of connections. */
	if (listen(CHILD_FD_PEER, METRICS_BACKLOG) == -1)
		fatal("listen");
	/*
	 * Started before the drop: it sets the socket up.  MHD's timeout
	 * is for idle connections only; conn_expire() bounds a request's
	 * whole time, conn_open() the connections of one address (MHD's
	 * own per-address limit would refuse the newest: the probe).
	 */
	M.httpd = MHD_start_daemon(MHD_USE_EPOLL, 0, NULL, NULL, on_request,
	    &M, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)CHILD_FD_PEER,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_CONN_MEMORY,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, &M,
	    MHD_OPTION_END);
	if (M.httpd == NULL)
		fatalx("cannot start the HTTP server");
	if ((di = MHD_get_daemon_info(M.httpd, MHD_DAEMON_INFO_EPOLL_FD)) ==
	    NULL)
		fatalx("the HTTP server has no epoll descriptor");
	M.epfd = di->epoll_fd;
	c.ops = &metrics_ops;
	c.state = &M;
	child_confine(&c);
	child_loop(&c);
}
