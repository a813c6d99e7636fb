/*
 * The watcher's sockets to the API server: connections asked of the
 * parent, kept ready in a small pool, lent to libcurl and pruned when
 * stale, and libcurl's sockets and timer in the shared poll loop.
 */
#include <sys/socket.h>

#include <poll.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "watchconn.h"

#define CONN_FRESH_MS		30000	/* a ready socket unused this long is
					   closed: the server may have */
#define CONN_ASK_MS		20000	/* the parent answers within 10 s */

/* Ready sockets the server has closed, or that waited too long, go. */
void
wconn_prune(struct wconn *cn)
{
	struct pollfd	 pfd;
	int64_t		 now = mono_ms();
	int		 i;

	for (i = 0; i < cn->npool; i++) {
		pfd.fd = cn->pool[i];
		pfd.events = POLLIN | POLLRDHUP;
		pfd.revents = 0;
		if (now - cn->pool_got[i] < CONN_FRESH_MS &&
		    poll(&pfd, 1, 0) == 0)
			continue;
		log_debug("closing an unused connection to the API server");
		close(cn->pool[i]);
		cn->npool--;
		cn->pool[i] = cn->pool[cn->npool];
		cn->pool_got[i] = cn->pool_got[cn->npool];
		i--;
	}
}

static void
conn_ask(struct wconn *cn)
{
	if (cn->asked)
		return;
	if (msgchan_compose(cn->ctl, MSG_API_CONNECT, 0, -1, NULL, 0) == -1) {
		log_warn("control channel: asking for a connection");
		return;
	}
	cn->asked = 1;
	cn->asked_due = mono_ms() + CONN_ASK_MS;
}

/*
 * May a transfer start now?  Yes if a ready socket waits or libcurl
 * holds a connection no transfer uses, which it will reuse; else ask
 * the parent for one and start when it comes, the loop running on.
 */
int
wconn_at_hand(struct wconn *cn, int transfers)
{
	wconn_prune(cn);
	if (cn->npool + cn->curl_socks > transfers)
		return 1;
	conn_ask(cn);
	return 0;
}

void
wconn_arrived(struct wconn *cn, int fd)
{
	cn->asked = 0;
	if (cn->npool == CONN_POOL_MAX) {
		close(fd);
		return;
	}
	cn->pool[cn->npool] = fd;
	cn->pool_got[cn->npool++] = mono_ms();
}

/* libcurl wants a socket: one the parent connected, or none. */
static curl_socket_t
on_opensocket(void *arg, curlsocktype purpose, struct curl_sockaddr *sa)
{
	struct wconn	*cn = arg;

	(void)sa;
	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	wconn_prune(cn);
	if (cn->npool == 0) {
		log_warnx("no connection to the API server at hand: asking "
		    "the parent for one; this request fails and is retried");
		conn_ask(cn);
		return CURL_SOCKET_BAD;
	}
	cn->curl_socks++;
	return cn->pool[--cn->npool];
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
	struct wconn	*cn = arg;

	cn->curl_socks--;
	return close(s);
}

/*
 * When to look again: a ready socket grows stale, libcurl's timer, the
 * parent's answer overdue; -1: none of these.
 */
int64_t
wconn_due(const struct wconn *cn)
{
	int64_t	 due = -1;
	int	 n;

	for (n = 0; n < cn->npool; n++)
		if (due < 0 || cn->pool_got[n] + CONN_FRESH_MS < due)
			due = cn->pool_got[n] + CONN_FRESH_MS;
	if (cn->curl_due >= 0 && (due < 0 || cn->curl_due < due))
		due = cn->curl_due;
	if (cn->asked && (due < 0 || cn->asked_due < due))
		due = cn->asked_due;
	return due;
}

/* The parent connects; libcurl only does TLS and HTTP on it. */
void
wconn_lend(struct wconn *cn, CURL *e)
{
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, cn);
	curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_closesocket);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, cn);
}

/* libcurl's sockets and timer, polled in the shared loop. */
static int
on_socket(CURL *e, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct wconn	*cn = arg;
	int		 i;

	(void)e;
	(void)sockp;
	for (i = 0; i < cn->nsocks; i++)
		if (cn->socks[i].fd == s)
			break;
	if (what == CURL_POLL_REMOVE) {
		if (i < cn->nsocks)
			cn->socks[i] = cn->socks[--cn->nsocks];
		return 0;
	}
	if (i == cn->nsocks) {
		if (cn->nsocks == CHILD_POLL_MAX) {
			log_warnx("too many connections");
			return -1;
		}
		cn->nsocks++;
	}
	cn->socks[i].fd = s;
	cn->socks[i].events = (what & CURL_POLL_IN ? POLLIN : 0) |
	    (what & CURL_POLL_OUT ? POLLOUT : 0);
	return 0;
}

static int
on_timer(CURLM *multi, long timeout_ms, void *arg)
{
	struct wconn	*cn = arg;

	(void)multi;
	cn->curl_due = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
	return 0;
}

void
wconn_init(struct wconn *cn, struct msgchan *ctl, CURLM *multi)
{
	cn->ctl = ctl;
	cn->curl_due = -1;
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, cn);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(multi, CURLMOPT_TIMERDATA, cn);
}

/* libcurl's sockets for poll(2); returns how many. */
int
wconn_pollfds(const struct wconn *cn, struct pollfd *pfd, int max)
{
	int	 i;

	for (i = 0; i < cn->nsocks && i < max; i++) {
		pfd[i] = cn->socks[i];
		pfd[i].revents = 0;
	}
	return i;
}

/* What poll(2) saw on libcurl's sockets, and its timer, to libcurl. */
void
wconn_io(struct wconn *cn, CURLM *multi, const struct pollfd *pfd, int n)
{
	int	 i, ev, running;

	for (i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		ev = (pfd[i].revents & (POLLIN | POLLHUP) ? CURL_CSELECT_IN :
		    0) | (pfd[i].revents & POLLOUT ? CURL_CSELECT_OUT : 0) |
		    (pfd[i].revents & POLLERR ? CURL_CSELECT_ERR : 0);
		curl_multi_socket_action(multi, pfd[i].fd, ev, &running);
	}
	if (cn->curl_due >= 0 && mono_ms() >= cn->curl_due) {
		cn->curl_due = -1;
		curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0,
		    &running);
	}
}
