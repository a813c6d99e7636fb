/*
 * The parent's side of the watcher's connections (src/apiconn.c), used
 * as a compromised watcher would: floods of requests over a real
 * channel, answered with real connections to a listener on the
 * loopback.  The parent must answer every request, open no more than
 * its bounds allow, connect only to the API server's address, and give
 * an answer to no watcher but the one that asked.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../src/apiconn.h"
#include "../src/clock.h"
#include "../src/log.h"
#include "../src/msg.h"
#include "tap.h"

static struct msgchan	 parent, watcher;
static struct msg	 m;
static struct sockaddr_in api;
static int		 lfd;

struct answers {
	int	 sockets, eagain, ebusy, other, wrong_peer;
};

/* Until no connect is in flight: the parent's loop, for apiconn only. */
static void
drive(pid_t who)
{
	struct pollfd	 pfd[APICONN_PENDING_MAX];
	int64_t		 t, deadline = mono_ms() + 30000;
	int		 n;

	for (;;) {
		t = -1;
		n = apiconn_pollfds(pfd, APICONN_PENDING_MAX, &t);
		if (n == 0 || mono_ms() > deadline)
			break;
		poll(pfd, n, t < 0 || t > 100 ? 100 : (int)t);
		apiconn_io(pfd, n, who, &parent);
	}
	msgchan_flush(&parent);
}

static void
read_answers(struct answers *a)
{
	struct sockaddr_in	 peer;
	socklen_t		 sl;
	uint32_t		 err;

	memset(a, 0, sizeof(*a));
	for (;;) {
		switch (msgchan_recv(&watcher, &m)) {
		case MSGCHAN_MSG:
			break;
		case MSGCHAN_SKIP:
			continue;
		default:
			return;
		}
		if (m.hdr.type == MSG_API_SOCKET) {
			a->sockets++;
			sl = sizeof(peer);
			if (getpeername(m.fd, (struct sockaddr *)&peer,
			    &sl) == -1 || peer.sin_port != api.sin_port ||
			    peer.sin_addr.s_addr != api.sin_addr.s_addr)
				a->wrong_peer++;
			close(m.fd);
		} else if (m.hdr.type == MSG_API_CONNECT_FAILED) {
			memcpy(&err, m.data, sizeof(err));
			if (err == EAGAIN)
				a->eagain++;
			else if (err == EBUSY)
				a->ebusy++;
			else
				a->other++;
		}
	}
}

static int
accepted(void)
{
	int	 n = 0, fd;

	while ((fd = accept(lfd, NULL, NULL)) != -1) {
		close(fd);
		n++;
	}
	return n;
}

int
main(void)
{
	struct answers	 a;
	socklen_t	 sl = sizeof(api);
	int64_t		 start;
	int		 sv[2], i, total;

	log_init(1, "test_apiconn");
	memset(&api, 0, sizeof(api));
	api.sin_family = AF_INET;
	api.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&api, sizeof(api)) == -1 ||
	    listen(lfd, 128) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&api, &sl) == -1 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		bail_out("setup: %s", strerror(errno));
	msgchan_init(&parent, sv[0], ROLE_PARENT, ROLE_WATCHER);
	msgchan_init(&watcher, sv[1], ROLE_WATCHER, ROLE_PARENT);
	if (msgchan_hello(&parent) == -1 || msgchan_hello(&watcher) == -1 ||
	    msgchan_flush(&parent) == -1 || msgchan_flush(&watcher) == -1 ||
	    msgchan_recv(&parent, &m) != MSGCHAN_SKIP)
		bail_out("handshake");
	apiconn_init((struct sockaddr *)&api, sizeof(api));

	/* 30 requests at once: at most 2 in flight, every one answered. */
	for (i = 0; i < 30; i++)
		apiconn_request(getpid(), &parent);
	drive(getpid());
	read_answers(&a);
	total = a.sockets + a.eagain + a.ebusy;
	is_int(total, 30, "a flood of 30 requests: every one answered");
	ok(a.sockets >= 1 && a.sockets <= APICONN_PENDING_MAX,
	    "a flood: at most %d connections opened (%d)",
	    APICONN_PENDING_MAX, a.sockets);
	is_int(a.ebusy, 30 - a.sockets, "the rest refused: EBUSY");
	is_int(a.other, 0, "no other error");
	is_int(a.wrong_peer, 0, "every socket is connected to the API "
	    "server's address");
	is_int(accepted(), a.sockets, "the server saw only those");

	/*
	 * One at a time, each finished before the next: the rate bound.
	 * Whatever the machine's load, no more than the burst and one a
	 * second of the time it took.
	 */
	start = mono_ms();
	memset(&a, 0, sizeof(a));
	for (i = 0; i < 25; i++) {
		struct answers	 one;

		apiconn_request(getpid(), &parent);
		drive(getpid());
		read_answers(&one);
		a.sockets += one.sockets;
		a.eagain += one.eagain;
		a.other += one.other + one.ebusy;
	}
	is_int(a.sockets + a.eagain, 25, "25 requests in a row: every one "
	    "answered");
	ok(a.sockets <= APICONN_BURST - 1 + (mono_ms() - start) /
	    APICONN_EVERY_MS + 1, "at most the burst and one a second "
	    "opened (%d in %lld ms)", a.sockets,
	    (long long)(mono_ms() - start));
	ok(a.eagain > 0, "the rest refused: EAGAIN (%d)", a.eagain);
	is_int(a.other, 0, "no other error");
	is_int(accepted(), a.sockets, "the server saw only those");

	/* A connect finished after its watcher died goes to no one. */
	sleep(1 + APICONN_EVERY_MS / 1000);
	apiconn_request(getpid(), &parent);
	drive(getpid() + 1);
	read_answers(&a);
	is_int(a.sockets + a.eagain + a.ebusy + a.other, 0,
	    "an answer for a watcher that is gone is not sent to the next");
	return done_testing();
}
