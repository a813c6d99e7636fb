/*
 * Unit tests of the message layer: msg_check() as a pure decoder, then
 * struct msgchan over real SOCK_SEQPACKET socketpairs with raw records
 * written by hand, so every refusal is exercised the way a misbehaving
 * peer would cause it.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/config.h"
#include "../src/log.h"
#include "../src/msg.h"
#include "../src/proto.h"
#include "tap.h"

#define HDRLEN		sizeof(struct msg_hdr)
#define PEER_PID	4242u
#define LOG_MIN		(sizeof(struct msg_log) + 1)
#define LOG_MAX		(sizeof(struct msg_log) + LOG_LINE_MAX - 1)

/* Large enough for the oversized records, which go one byte past the limit. */
static unsigned char	 rbuf[MSG_MAXLEN + 64];
static struct msg	 m;

/* Builds one record; a NULL payload is filled with a pattern. */
static size_t
rec(unsigned char *buf, uint32_t type, uint32_t id, uint32_t pid,
    const void *payload, size_t plen)
{
	struct msg_hdr	 h;
	size_t		 i;

	h.type = type;
	h.len = (uint32_t)(HDRLEN + plen);
	h.id = id;
	h.pid = pid;
	memcpy(buf, &h, HDRLEN);
	if (payload != NULL)
		memcpy(buf + HDRLEN, payload, plen);
	else
		for (i = 0; i < plen; i++)
			buf[HDRLEN + i] = (unsigned char)(i * 7 + id);
	return HDRLEN + plen;
}

static void
set_hdr_len(unsigned char *buf, uint32_t len)
{
	memcpy(buf + offsetof(struct msg_hdr, len), &len, sizeof(len));
}

static size_t
rec_hello(unsigned char *buf, uint32_t version, uint32_t role, uint32_t pid)
{
	struct msg_hello	 h = { version, role };

	return rec(buf, MSG_HELLO, 0, pid, &h, sizeof(h));
}

/* A LOG record with plen payload bytes: the priority, then text. */
static size_t
rec_log(unsigned char *buf, uint32_t id, uint32_t pid, size_t plen)
{
	size_t	 n, i;

	n = rec(buf, MSG_LOG, id, pid, NULL, plen);
	if (plen >= sizeof(struct msg_log)) {
		memset(buf + HDRLEN, 0, sizeof(struct msg_log));
		buf[HDRLEN] = 6;
		for (i = sizeof(struct msg_log); i < plen; i++)
			buf[HDRLEN + i] = 'a' + (i + id) % 26;
	}
	return n;
}

static enum msg_err
check(enum role self, struct msg_peer *p, size_t len, int trunc, int nfds)
{
	struct msg_hdr	 h;

	return msg_check(self, p, rbuf, len, trunc, nfds, &h);
}

static void
peer_init(struct msg_peer *p, enum role role)
{
	memset(p, 0, sizeof(*p));
	p->role = role;
}

/* A peer that has completed its handshake with PEER_PID. */
static void
peer_up(struct msg_peer *p, enum role self, enum role role)
{
	size_t	 n;

	peer_init(p, role);
	n = rec_hello(rbuf, MSG_VERSION, role, PEER_PID);
	if (check(self, p, n, 0, 0) != MSG_OK || !p->hello)
		bail_out("handshake as %s failed", role_name(role));
}

static void
test_check_handshake(void)
{
	struct msg_peer	 p;
	struct msg_hdr	 h;
	size_t		 n;

	peer_init(&p, ROLE_PARENT);
	n = rec(rbuf, MSG_CONFIG, 1, PEER_PID, NULL, sizeof(struct kn_config));
	is_int(check(ROLE_EXECUTOR, &p, n, 0, 0), MSG_EHELLO,
	    "check: CONFIG before HELLO is MSG_EHELLO");
	n = rec(rbuf, 99, 1, PEER_PID, NULL, 8);
	is_int(check(ROLE_EXECUTOR, &p, n, 0, 0), MSG_EHELLO,
	    "check: unknown type before HELLO is MSG_EHELLO");
	n = rec_hello(rbuf, MSG_VERSION + 1, ROLE_PARENT, PEER_PID);
	is_int(check(ROLE_EXECUTOR, &p, n, 0, 0), MSG_EVERSION,
	    "check: HELLO with another version is MSG_EVERSION");
	n = rec_hello(rbuf, MSG_VERSION, ROLE_WATCHER, PEER_PID);
	is_int(check(ROLE_EXECUTOR, &p, n, 0, 0), MSG_EROLE,
	    "check: HELLO claiming another role is MSG_EROLE");
	n = rec_hello(rbuf, MSG_VERSION, ROLE_PARENT, PEER_PID);
	is_int(check(ROLE_EXECUTOR, &p, n, 0, 1), MSG_EFD,
	    "check: HELLO with a descriptor is MSG_EFD");
	n = rec(rbuf, MSG_HELLO, 0, PEER_PID, NULL,
	    sizeof(struct msg_hello) - 1);
	is_int(check(ROLE_EXECUTOR, &p, n, 0, 0), MSG_ESIZE,
	    "check: HELLO one byte short is MSG_ESIZE");
	n = rec(rbuf, MSG_HELLO, 0, PEER_PID, NULL,
	    sizeof(struct msg_hello) + 1);
	is_int(check(ROLE_EXECUTOR, &p, n, 0, 0), MSG_ESIZE,
	    "check: HELLO one byte long is MSG_ESIZE");
	ok(p.hello == 0 && p.pid == 0,
	    "check: refused HELLOs leave the peer without a handshake");

	n = rec_hello(rbuf, MSG_VERSION, ROLE_PARENT, PEER_PID);
	memset(&h, 0, sizeof(h));
	is_int(msg_check(ROLE_EXECUTOR, &p, rbuf, n, 0, 0, &h), MSG_OK,
	    "check: valid HELLO accepted");
	ok(p.hello == 1 && p.pid == PEER_PID,
	    "check: HELLO records the handshake and the pid");
	ok(h.type == MSG_HELLO && h.len == n && h.pid == PEER_PID,
	    "check: HELLO header returned");
	is_int(check(ROLE_EXECUTOR, &p, n, 0, 0), MSG_EHELLO,
	    "check: a second HELLO is MSG_EHELLO");
	n = rec_hello(rbuf, MSG_VERSION, ROLE_PARENT, PEER_PID + 1);
	is_int(check(ROLE_EXECUTOR, &p, n, 0, 0), MSG_EPID,
	    "check: a second HELLO from another pid is MSG_EPID");
	ok(p.hello == 1 && p.pid == PEER_PID,
	    "check: the refused second HELLO changes nothing");
}

static void
test_check_valid(void)
{
	struct msg_peer	 p;
	struct msg_hdr	 h;
	size_t		 n;

	peer_up(&p, ROLE_EXECUTOR, ROLE_PARENT);
	n = rec(rbuf, MSG_CONFIG, 7, PEER_PID, NULL, sizeof(struct kn_config));
	memset(&h, 0, sizeof(h));
	is_int(msg_check(ROLE_EXECUTOR, &p, rbuf, n, 0, 0, &h), MSG_OK,
	    "check: CONFIG from the parent accepted by the executor");
	ok(h.type == MSG_CONFIG && h.len == n && h.id == 7 &&
	    h.pid == PEER_PID, "check: CONFIG header returned intact");
	n = rec(rbuf, MSG_CHANNEL, 8, PEER_PID, NULL,
	    sizeof(struct msg_channel));
	is_int(check(ROLE_EXECUTOR, &p, n, 0, 1), MSG_OK,
	    "check: CHANNEL with one descriptor accepted");

	peer_up(&p, ROLE_PARENT, ROLE_EXECUTOR);
	n = rec_log(rbuf, 1, PEER_PID, LOG_MIN);
	is_int(check(ROLE_PARENT, &p, n, 0, 0), MSG_OK,
	    "check: LOG with one byte of text accepted");
	n = rec_log(rbuf, 2, PEER_PID, LOG_MAX);
	is_int(check(ROLE_PARENT, &p, n, 0, 0), MSG_OK,
	    "check: LOG of the longest line accepted");
	n = rec(rbuf, MSG_READY, 3, PEER_PID, NULL, sizeof(struct msg_ready));
	is_int(check(ROLE_PARENT, &p, n, 0, 0), MSG_OK,
	    "check: READY from the executor accepted by the parent");

	peer_up(&p, ROLE_PARENT, ROLE_WATCHER);
	n = rec_log(rbuf, 4, PEER_PID, 20);
	is_int(check(ROLE_PARENT, &p, n, 0, 0), MSG_OK,
	    "check: LOG from the watcher accepted by the parent");
}

static void
test_check_framing(void)
{
	struct msg_peer	 p;
	size_t		 n;

	peer_up(&p, ROLE_PARENT, ROLE_EXECUTOR);
	is_int(check(ROLE_PARENT, &p, 0, 0, 0), MSG_ESHORT,
	    "check: empty record is MSG_ESHORT");
	rec_log(rbuf, 1, PEER_PID, 20);
	is_int(check(ROLE_PARENT, &p, HDRLEN - 1, 0, 0), MSG_ESHORT,
	    "check: record one byte shorter than the header is MSG_ESHORT");
	n = rec_log(rbuf, 1, PEER_PID, 20);
	is_int(check(ROLE_PARENT, &p, n, 1, 0), MSG_EBIG,
	    "check: truncated record is MSG_EBIG");
	n = rec(rbuf, MSG_LOG, 1, PEER_PID, NULL, MSG_MAXLEN + 1 - HDRLEN);
	is_int(check(ROLE_PARENT, &p, n, 0, 0), MSG_EBIG,
	    "check: record of MSG_MAXLEN + 1 bytes is MSG_EBIG");
	n = rec_log(rbuf, 1, PEER_PID, 20);
	set_hdr_len(rbuf, (uint32_t)n + 1);
	is_int(check(ROLE_PARENT, &p, n, 0, 0), MSG_ELEN,
	    "check: header length above the record is MSG_ELEN");
	set_hdr_len(rbuf, (uint32_t)n - 1);
	is_int(check(ROLE_PARENT, &p, n, 0, 0), MSG_ELEN,
	    "check: header length below the record is MSG_ELEN");
	n = rec(rbuf, 0, 1, PEER_PID, NULL, 8);
	is_int(check(ROLE_PARENT, &p, n, 0, 0), MSG_ETYPE,
	    "check: type 0 is MSG_ETYPE");
	n = rec(rbuf, MSG_TYPE_MAX, 1, PEER_PID, NULL, 8);
	is_int(check(ROLE_PARENT, &p, n, 0, 0), MSG_ETYPE,
	    "check: type MSG_TYPE_MAX is MSG_ETYPE");
	n = rec(rbuf, UINT32_MAX, 1, PEER_PID, NULL, 0);
	is_int(check(ROLE_PARENT, &p, n, 0, 0), MSG_ETYPE,
	    "check: type 0xffffffff is MSG_ETYPE");
	ok(p.hello == 1 && p.pid == PEER_PID,
	    "check: framing refusals leave the peer state unchanged");
}

static void
test_check_sizes(void)
{
	static const struct {
		uint32_t	 type;
		const char	*name;
		size_t		 size;
		enum role	 self, peer;
		int		 nfds;
	} exact[] = {
		{ MSG_CONFIG, "CONFIG", sizeof(struct kn_config),
		    ROLE_EXECUTOR, ROLE_PARENT, 0 },
		{ MSG_CHANNEL, "CHANNEL", sizeof(struct msg_channel),
		    ROLE_EXECUTOR, ROLE_PARENT, 1 },
		{ MSG_READY, "READY", sizeof(struct msg_ready),
		    ROLE_PARENT, ROLE_EXECUTOR, 0 },
	};
	struct msg_peer	 p;
	size_t		 i, n;

	for (i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
		peer_up(&p, exact[i].self, exact[i].peer);
		n = rec(rbuf, exact[i].type, 1, PEER_PID, NULL,
		    exact[i].size - 1);
		is_int(check(exact[i].self, &p, n, 0, exact[i].nfds),
		    MSG_ESIZE, "check: %s of %zu bytes (one short) is "
		    "MSG_ESIZE", exact[i].name, exact[i].size - 1);
		n = rec(rbuf, exact[i].type, 1, PEER_PID, NULL,
		    exact[i].size + 1);
		is_int(check(exact[i].self, &p, n, 0, exact[i].nfds),
		    MSG_ESIZE, "check: %s of %zu bytes (one long) is "
		    "MSG_ESIZE", exact[i].name, exact[i].size + 1);
		n = rec(rbuf, exact[i].type, 1, PEER_PID, NULL, 0);
		is_int(check(exact[i].self, &p, n, 0, exact[i].nfds),
		    MSG_ESIZE, "check: %s without payload is MSG_ESIZE",
		    exact[i].name);
	}

	peer_up(&p, ROLE_PARENT, ROLE_EXECUTOR);
	n = rec_log(rbuf, 1, PEER_PID, 0);
	is_int(check(ROLE_PARENT, &p, n, 0, 0), MSG_ESIZE,
	    "check: LOG without payload is MSG_ESIZE");
	n = rec_log(rbuf, 1, PEER_PID, sizeof(struct msg_log));
	is_int(check(ROLE_PARENT, &p, n, 0, 0), MSG_ESIZE,
	    "check: LOG with a priority but no text is MSG_ESIZE");
	n = rec_log(rbuf, 1, PEER_PID, LOG_MAX + 1);
	is_int(check(ROLE_PARENT, &p, n, 0, 0), MSG_ESIZE,
	    "check: LOG one byte over the longest line is MSG_ESIZE");
	n = rec_log(rbuf, 1, PEER_PID, MSG_MAXLEN - HDRLEN);
	is_int(check(ROLE_PARENT, &p, n, 0, 0), MSG_ESIZE,
	    "check: LOG filling MSG_MAXLEN is MSG_ESIZE");
	ok(p.hello == 1 && p.pid == PEER_PID,
	    "check: size refusals leave the peer state unchanged");
}

static void
test_check_senders(void)
{
	struct msg_peer	 p;
	size_t		 n;

	peer_up(&p, ROLE_PARENT, ROLE_WATCHER);
	n = rec(rbuf, MSG_CONFIG, 1, PEER_PID, NULL, sizeof(struct kn_config));
	is_int(check(ROLE_PARENT, &p, n, 0, 0), MSG_ESENDER,
	    "check: CONFIG from the watcher is MSG_ESENDER");
	n = rec(rbuf, MSG_CHANNEL, 1, PEER_PID, NULL,
	    sizeof(struct msg_channel));
	is_int(check(ROLE_PARENT, &p, n, 0, 1), MSG_ESENDER,
	    "check: CHANNEL from the watcher is MSG_ESENDER");

	peer_up(&p, ROLE_EXECUTOR, ROLE_PARENT);
	n = rec_log(rbuf, 1, PEER_PID, 20);
	is_int(check(ROLE_EXECUTOR, &p, n, 0, 0), MSG_ESENDER,
	    "check: LOG from the parent is MSG_ESENDER");
	n = rec(rbuf, MSG_READY, 1, PEER_PID, NULL, sizeof(struct msg_ready));
	is_int(check(ROLE_EXECUTOR, &p, n, 0, 0), MSG_ESENDER,
	    "check: READY from the parent is MSG_ESENDER");

	/* The watcher may send READY and LOG, but only to the parent. */
	peer_up(&p, ROLE_EXECUTOR, ROLE_WATCHER);
	n = rec(rbuf, MSG_READY, 1, PEER_PID, NULL, sizeof(struct msg_ready));
	is_int(check(ROLE_EXECUTOR, &p, n, 0, 0), MSG_ESENDER,
	    "check: READY received by the executor is MSG_ESENDER");
	n = rec_log(rbuf, 1, PEER_PID, 20);
	is_int(check(ROLE_EXECUTOR, &p, n, 0, 0), MSG_ESENDER,
	    "check: LOG received by the executor is MSG_ESENDER");
	ok(p.hello == 1 && p.pid == PEER_PID,
	    "check: sender refusals leave the peer state unchanged");
}

static void
test_check_pid_fd(void)
{
	struct msg_peer	 p;
	size_t		 n;

	peer_up(&p, ROLE_EXECUTOR, ROLE_PARENT);
	n = rec(rbuf, MSG_CONFIG, 1, PEER_PID + 1, NULL,
	    sizeof(struct kn_config));
	is_int(check(ROLE_EXECUTOR, &p, n, 0, 0), MSG_EPID,
	    "check: CONFIG from another pid is MSG_EPID");
	n = rec(rbuf, MSG_CONFIG, 1, 0, NULL, sizeof(struct kn_config));
	is_int(check(ROLE_EXECUTOR, &p, n, 0, 0), MSG_EPID,
	    "check: CONFIG from pid 0 is MSG_EPID");
	ok(p.hello == 1 && p.pid == PEER_PID,
	    "check: a refused pid does not replace the handshake's");
	n = rec(rbuf, MSG_CHANNEL, 1, PEER_PID, NULL,
	    sizeof(struct msg_channel));
	is_int(check(ROLE_EXECUTOR, &p, n, 0, 0), MSG_EFD,
	    "check: CHANNEL without a descriptor is MSG_EFD");
	is_int(check(ROLE_EXECUTOR, &p, n, 0, 2), MSG_EFD,
	    "check: CHANNEL with two descriptors is MSG_EFD");
	n = rec(rbuf, MSG_CONFIG, 1, PEER_PID, NULL, sizeof(struct kn_config));
	is_int(check(ROLE_EXECUTOR, &p, n, 0, 1), MSG_EFD,
	    "check: CONFIG with a descriptor is MSG_EFD");
	is_int(check(ROLE_EXECUTOR, &p, n, 0, 0), MSG_OK,
	    "check: the same CONFIG without the descriptor is accepted");
}

static void
test_strerror(void)
{
	int	 e, distinct = 1, named = 1;

	for (e = MSG_OK; e <= MSG_EFD; e++) {
		if (*msg_strerror(e) == '\0' ||
		    strcmp(msg_strerror(e), "unknown error") == 0)
			named = 0;
		if (e > MSG_OK && strcmp(msg_strerror(e),
		    msg_strerror(e - 1)) == 0)
			distinct = 0;
	}
	ok(named && distinct, "msg_strerror names every error");
	is_str(msg_strerror(MSG_EFD + 1), "unknown error",
	    "msg_strerror past the last error");
}

/* Channels over socketpairs. */

static void
pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		bail_out("socketpair: %s", strerror(errno));
}

static void
send_fds(int fd, const void *buf, size_t len, const int *fds, int nfds)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(8 * sizeof(int))];
	}		 cb;
	struct cmsghdr	*cm;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = (void *)buf;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) != (ssize_t)len)
		bail_out("sendmsg of %zu bytes: %s", len, strerror(errno));
}

static void
send_rec(int fd, size_t len)
{
	send_fds(fd, rbuf, len, NULL, 0);
}

static int
count_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		bail_out("/proc/self/fd: %s", strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The number the kernel gives the next descriptor: the lowest free one. */
static int
next_fd(void)
{
	int	 fd;

	if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		bail_out("/dev/null: %s", strerror(errno));
	close(fd);
	return fd;
}

static int
fd_closed(int fd)
{
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

/* What the peer legitimately sends to us. */
static size_t
rec_valid(enum role peer, uint32_t id)
{
	if (peer == ROLE_PARENT)
		return rec(rbuf, MSG_CONFIG, id, PEER_PID, NULL,
		    sizeof(struct kn_config));
	return rec_log(rbuf, id, PEER_PID, 40 + id);
}

enum bad {
	BAD_SHORT,
	BAD_BIG,
	BAD_TYPE,
	BAD_LEN,
	BAD_SIZE,
	BAD_SENDER,
	BAD_PID,
	BAD_COUNT
};

static const char *const bad_names[BAD_COUNT] = {
	"truncated record", "oversized record", "unknown type",
	"header length mismatch", "wrong payload length", "wrong sender",
	"wrong pid",
};

static size_t
rec_bad(enum bad kind, enum role peer)
{
	size_t		 n;
	uint32_t	 pid;

	switch (kind) {
	case BAD_SHORT:
		rec_valid(peer, 1);
		return HDRLEN - 4;
	case BAD_BIG:
		return rec(rbuf, MSG_LOG, 1, PEER_PID, NULL,
		    MSG_MAXLEN + 1 - HDRLEN);
	case BAD_TYPE:
		return rec(rbuf, 99, 1, PEER_PID, NULL, 8);
	case BAD_LEN:
		n = rec_valid(peer, 1);
		set_hdr_len(rbuf, (uint32_t)n + 4);
		return n;
	case BAD_SIZE:
		if (peer == ROLE_PARENT)
			return rec(rbuf, MSG_CONFIG, 1, PEER_PID, NULL,
			    sizeof(struct kn_config) + 1);
		return rec_log(rbuf, 1, PEER_PID, LOG_MAX + 1);
	case BAD_SENDER:
		if (peer == ROLE_PARENT)
			return rec_log(rbuf, 1, PEER_PID, 20);
		return rec(rbuf, MSG_CONFIG, 1, PEER_PID, NULL,
		    sizeof(struct kn_config));
	case BAD_PID:
		n = rec_valid(peer, 1);
		pid = PEER_PID + 1;
		memcpy(rbuf + offsetof(struct msg_hdr, pid), &pid, sizeof(pid));
		return n;
	default:
		bail_out("bad kind %d", kind);
	}
}

static enum role
self_for(enum role peer)
{
	return peer == ROLE_PARENT ? ROLE_EXECUTOR : ROLE_PARENT;
}

/* A channel from us to peer, past the handshake; sv[1] is the peer's end. */
static void
chan_up(struct msgchan *c, int sv[2], enum role peer)
{
	size_t	 n;

	pair(sv);
	msgchan_init(c, sv[0], self_for(peer), peer);
	n = rec_hello(rbuf, MSG_VERSION, peer, PEER_PID);
	send_rec(sv[1], n);
	if (msgchan_recv(c, &m) != MSGCHAN_SKIP || !msgchan_up(c))
		bail_out("handshake from the %s failed", role_name(peer));
}

/* Parent and executor channels drop a bad record and carry on. */
static void
test_chan_skip(enum role peer)
{
	struct msgchan	 c;
	unsigned char	 want[MSG_MAXLEN];
	int		 sv[2], k, rv, intact = 1, kept = 1;
	size_t		 n;

	pair(sv);
	msgchan_init(&c, sv[0], self_for(peer), peer);
	ok(msgchan_open(&c) && !msgchan_up(&c),
	    "chan %s: open, not up before HELLO", role_name(peer));
	is_int(msgchan_recv(&c, &m), MSGCHAN_NONE,
	    "chan %s: nothing to read is MSGCHAN_NONE", role_name(peer));
	n = rec_hello(rbuf, MSG_VERSION, peer, PEER_PID);
	send_rec(sv[1], n);
	is_int(msgchan_recv(&c, &m), MSGCHAN_SKIP,
	    "chan %s: HELLO is consumed as MSGCHAN_SKIP", role_name(peer));
	ok(msgchan_up(&c) && c.peer.pid == PEER_PID,
	    "chan %s: up after HELLO", role_name(peer));

	n = rec_valid(peer, 5);
	memcpy(want, rbuf, n);
	send_rec(sv[1], n);
	is_int(msgchan_recv(&c, &m), MSGCHAN_MSG,
	    "chan %s: valid message is MSGCHAN_MSG", role_name(peer));
	ok(m.hdr.id == 5 && m.hdr.len == n && m.len == n - HDRLEN &&
	    m.fd == -1 && m.data == m.buf + HDRLEN &&
	    memcmp(m.data, want + HDRLEN, n - HDRLEN) == 0,
	    "chan %s: valid message arrives intact", role_name(peer));

	for (k = 0; k < BAD_COUNT; k++) {
		n = rec_bad(k, peer);
		send_rec(sv[1], n);
		n = rec_valid(peer, 100 + k);
		memcpy(want, rbuf, n);
		send_rec(sv[1], n);
		is_int(msgchan_recv(&c, &m), MSGCHAN_SKIP,
		    "chan %s: %s is refused with MSGCHAN_SKIP",
		    role_name(peer), bad_names[k]);
		is_int(c.errors, k + 1, "chan %s: %s counted as an error",
		    role_name(peer), bad_names[k]);
		rv = msgchan_recv(&c, &m);
		ok(rv == MSGCHAN_MSG && msgchan_open(&c) &&
		    m.hdr.id == 100u + k,
		    "chan %s: the message after the %s still arrives",
		    role_name(peer), bad_names[k]);
		if (rv != MSGCHAN_MSG || m.len != n - HDRLEN ||
		    memcmp(m.data, want + HDRLEN, m.len) != 0)
			intact = 0;
		if (c.peer.pid != PEER_PID || !c.peer.hello)
			kept = 0;
	}
	ok(intact, "chan %s: every message after a refusal is intact",
	    role_name(peer));
	ok(kept, "chan %s: refusals keep the handshake", role_name(peer));

	close(sv[1]);
	is_int(msgchan_recv(&c, &m), MSGCHAN_CLOSED,
	    "chan %s: EOF is MSGCHAN_CLOSED", role_name(peer));
	ok(c.fd == -1 && !msgchan_open(&c) && !msgchan_up(&c),
	    "chan %s: closed on EOF", role_name(peer));
	is_int(msgchan_recv(&c, &m), MSGCHAN_CLOSED,
	    "chan %s: receiving on a closed channel is MSGCHAN_CLOSED",
	    role_name(peer));
}

/*
 * An empty record reads as end of file, but it can still carry
 * descriptors: they must be closed with the channel, not leaked.
 */
static void
test_chan_empty_with_fd(void)
{
	struct msgchan	 c;
	int		 sv[2], fd, before;

	chan_up(&c, sv, ROLE_WATCHER);
	if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		bail_out("/dev/null: %s", strerror(errno));
	send_fds(sv[1], rbuf, 0, &fd, 1);
	close(fd);
	before = count_fds();
	is_int(msgchan_recv(&c, &m), MSGCHAN_CLOSED,
	    "empty record with an fd: the channel closes");
	/* The channel's own socket went, and no passed descriptor came in. */
	is_int(count_fds(), before - 1,
	    "empty record with an fd: the passed descriptor is closed");
	close(sv[1]);
}

/* The watcher is presumed hostile: one bad record closes its channel. */
static void
test_chan_watcher(void)
{
	struct msgchan	 c;
	int		 sv[2], k, before;
	size_t		 n;

	for (k = 0; k < BAD_COUNT; k++) {
		before = count_fds();
		chan_up(&c, sv, ROLE_WATCHER);
		n = rec_valid(ROLE_WATCHER, 1);
		send_rec(sv[1], n);
		if (msgchan_recv(&c, &m) != MSGCHAN_MSG)
			bail_out("valid LOG from the watcher refused");
		n = rec_bad(k, ROLE_WATCHER);
		send_rec(sv[1], n);
		n = rec_valid(ROLE_WATCHER, 2);
		send_rec(sv[1], n);
		is_int(msgchan_recv(&c, &m), MSGCHAN_CLOSED,
		    "chan watcher: %s closes the channel", bad_names[k]);
		ok(c.fd == -1 && !msgchan_up(&c) && fd_closed(sv[0]),
		    "chan watcher: %s leaves fd -1, socket closed",
		    bad_names[k]);
		is_int(msgchan_recv(&c, &m), MSGCHAN_CLOSED,
		    "chan watcher: nothing more is read after the %s",
		    bad_names[k]);
		close(sv[1]);
		is_int(count_fds(), before,
		    "chan watcher: no descriptor left after the %s",
		    bad_names[k]);
	}
}

/* A bad HELLO closes even a trusted peer's channel. */
static void
test_chan_bad_hello(void)
{
	struct msgchan	 c;
	int		 sv[2];
	size_t		 n;

	pair(sv);
	msgchan_init(&c, sv[0], ROLE_EXECUTOR, ROLE_PARENT);
	n = rec_hello(rbuf, MSG_VERSION + 1, ROLE_PARENT, PEER_PID);
	send_rec(sv[1], n);
	is_int(msgchan_recv(&c, &m), MSGCHAN_CLOSED,
	    "chan parent: HELLO with another version closes the channel");
	ok(c.fd == -1, "chan parent: fd -1 after a version mismatch");
	close(sv[1]);

	pair(sv);
	msgchan_init(&c, sv[0], ROLE_PARENT, ROLE_EXECUTOR);
	n = rec_hello(rbuf, MSG_VERSION, ROLE_WATCHER, PEER_PID);
	send_rec(sv[1], n);
	is_int(msgchan_recv(&c, &m), MSGCHAN_CLOSED,
	    "chan executor: HELLO claiming another role closes the channel");
	close(sv[1]);

	pair(sv);
	msgchan_init(&c, sv[0], ROLE_PARENT, ROLE_EXECUTOR);
	n = rec_log(rbuf, 1, PEER_PID, 20);
	send_rec(sv[1], n);
	is_int(msgchan_recv(&c, &m), MSGCHAN_SKIP,
	    "chan executor: LOG before HELLO is skipped");
	ok(!msgchan_up(&c), "chan executor: still not up after it");
	n = rec_hello(rbuf, MSG_VERSION, ROLE_EXECUTOR, PEER_PID);
	send_rec(sv[1], n);
	ok(msgchan_recv(&c, &m) == MSGCHAN_SKIP && msgchan_up(&c),
	    "chan executor: the HELLO after it still brings the channel up");
	msgchan_close(&c);
	close(sv[1]);
}

static void
make_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) == -1)
		bail_out("pipe2: %s", strerror(errno));
}

/* Descriptors riding on refused messages must not pile up. */
static void
test_chan_fds(void)
{
	struct msgchan	 c;
	int		 sv[2], p[2], fds[5], before, expect, i;
	size_t		 n;

	chan_up(&c, sv, ROLE_PARENT);
	make_pipe(p);
	before = count_fds();

	expect = next_fd();
	n = rec(rbuf, MSG_CONFIG, 1, PEER_PID, NULL, sizeof(struct kn_config));
	send_fds(sv[1], rbuf, n, &p[1], 1);
	is_int(msgchan_recv(&c, &m), MSGCHAN_SKIP,
	    "fds: CONFIG carrying a descriptor is refused");
	ok(m.fd == -1 && fd_closed(expect),
	    "fds: the descriptor of the refused CONFIG (fd %d) is closed",
	    expect);
	is_int(count_fds(), before, "fds: no descriptor left after it");

	n = rec(rbuf, MSG_CHANNEL, 2, PEER_PID, NULL,
	    sizeof(struct msg_channel));
	fds[0] = p[0];
	fds[1] = p[1];
	send_fds(sv[1], rbuf, n, fds, 2);
	is_int(msgchan_recv(&c, &m), MSGCHAN_SKIP,
	    "fds: CHANNEL with two descriptors is refused");
	is_int(count_fds(), before,
	    "fds: both descriptors of the refused CHANNEL are closed");

	send_rec(sv[1], n);
	is_int(msgchan_recv(&c, &m), MSGCHAN_SKIP,
	    "fds: CHANNEL without a descriptor is refused");

	/* More than msgchan_recv makes room for: the control data is cut. */
	for (i = 0; i < 5; i++)
		fds[i] = p[1];
	send_fds(sv[1], rbuf, n, fds, 5);
	is_int(msgchan_recv(&c, &m), MSGCHAN_SKIP,
	    "fds: CHANNEL with five descriptors is refused");
	is_int(count_fds(), before,
	    "fds: none of the five descriptors is left open");

	rec(rbuf, MSG_CONFIG, 3, PEER_PID, NULL, sizeof(struct kn_config));
	send_fds(sv[1], rbuf, HDRLEN / 2, &p[1], 1);
	is_int(msgchan_recv(&c, &m), MSGCHAN_SKIP,
	    "fds: a record shorter than the header carrying a descriptor "
	    "is refused");
	is_int(count_fds(), before, "fds: its descriptor is closed");

	n = rec(rbuf, MSG_CHANNEL, 4, PEER_PID + 1, NULL,
	    sizeof(struct msg_channel));
	expect = next_fd();
	send_fds(sv[1], rbuf, n, &p[1], 1);
	is_int(msgchan_recv(&c, &m), MSGCHAN_SKIP,
	    "fds: CHANNEL from the wrong pid is refused");
	ok(fd_closed(expect) && count_fds() == before,
	    "fds: the descriptor it carried (fd %d) is closed", expect);

	msgchan_close(&c);
	close(sv[1]);

	/* The watcher's channel closes; its descriptor must go too. */
	chan_up(&c, sv, ROLE_WATCHER);
	before = count_fds();
	n = rec_log(rbuf, 1, PEER_PID, 20);
	send_fds(sv[1], rbuf, n, &p[1], 1);
	is_int(msgchan_recv(&c, &m), MSGCHAN_CLOSED,
	    "fds: LOG with a descriptor closes the watcher channel");
	is_int(count_fds(), before - 1,
	    "fds: channel socket and the passed descriptor are both closed");
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

/* A channel between two msgchans, both handshaken. */
static void
link_up(struct msgchan *tx, enum role txrole, struct msgchan *rx,
    enum role rxrole)
{
	int	 sv[2];

	pair(sv);
	msgchan_init(tx, sv[0], txrole, rxrole);
	msgchan_init(rx, sv[1], rxrole, txrole);
	if (msgchan_hello(tx) != 0 || msgchan_hello(rx) != 0 ||
	    msgchan_recv(rx, &m) != MSGCHAN_SKIP ||
	    msgchan_recv(tx, &m) != MSGCHAN_SKIP ||
	    !msgchan_up(tx) || !msgchan_up(rx))
		bail_out("handshake between %s and %s failed",
		    role_name(txrole), role_name(rxrole));
}

static void
test_chan_pass_fd(void)
{
	struct msgchan		 tx, rx;
	struct msg_channel	 mc = { ROLE_WATCHER };
	int			 p[2], dupfd, rv;
	char			 got[8] = "";

	link_up(&tx, ROLE_PARENT, &rx, ROLE_EXECUTOR);
	is_int(rx.peer.pid, getpid(), "pass: the handshake records our pid");
	make_pipe(p);
	if ((dupfd = dup(p[1])) == -1)
		bail_out("dup: %s", strerror(errno));
	rv = msgchan_compose(&tx, MSG_CHANNEL, 9, dupfd, &mc, sizeof(mc));
	is_int(rv, 0, "pass: CHANNEL with a descriptor composed");
	ok(tx.queued == 0 && fd_closed(dupfd),
	    "pass: sent at once, the sender's copy closed");
	rv = msgchan_recv(&rx, &m);
	is_int(rv, MSGCHAN_MSG, "pass: CHANNEL received");
	ok(rv == MSGCHAN_MSG && m.hdr.type == MSG_CHANNEL && m.hdr.id == 9 &&
	    m.len == sizeof(mc) && memcmp(m.data, &mc, sizeof(mc)) == 0,
	    "pass: CHANNEL payload intact");
	ok(m.fd >= 0 && (fcntl(m.fd, F_GETFD) & FD_CLOEXEC),
	    "pass: descriptor arrived, close-on-exec");
	ok(m.fd >= 0 && write(m.fd, "ping", 4) == 4 &&
	    read(p[0], got, sizeof(got) - 1) == 4 && strcmp(got, "ping") == 0,
	    "pass: the received descriptor is usable");
	if (m.fd >= 0)
		close(m.fd);
	close(p[0]);
	close(p[1]);

	msgchan_close(&rx);
	rv = msgchan_compose(&tx, MSG_CONFIG, 10, -1, "x", 1);
	ok(rv == -1 && errno == EPIPE,
	    "pass: composing to a peer that went away fails with EPIPE");
	msgchan_close(&tx);
}

static void
test_chan_queue(void)
{
	struct msgchan	 tx, rx;
	unsigned char	 payload[1000];
	int		 sndbuf = 4096, grew = 1, rv, i, got = 0, order = 1;
	int		 spins = 0;
	size_t		 last = 0, maxq = 0;
	const int	 total = 64;

	link_up(&tx, ROLE_EXECUTOR, &rx, ROLE_PARENT);
	if (setsockopt(tx.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf)) == -1)
		bail_out("SO_SNDBUF: %s", strerror(errno));
	for (i = 0; i < total; i++) {
		memset(payload, 0, sizeof(payload));
		payload[0] = 6;
		memset(payload + 4, 'a' + i % 26, sizeof(payload) - 4);
		if (msgchan_compose(&tx, MSG_LOG, i, -1, payload,
		    sizeof(payload)) == -1) {
			grew = 0;
			break;
		}
		if (last > 0 && tx.queued <= last)
			grew = 0;
		last = tx.queued;
	}
	maxq = tx.queued;
	ok(grew && maxq > 0, "queue: composes queue once the peer's buffer "
	    "is full (%zu bytes queued)", maxq);
	ok(maxq < total * (HDRLEN + sizeof(payload)),
	    "queue: some messages went out before the buffer filled");
	is_int(msgchan_flush(&tx), tx.queued,
	    "queue: flush with a full buffer returns the bytes queued");

	while (got < total && spins++ < 10000) {
		while ((rv = msgchan_recv(&rx, &m)) == MSGCHAN_MSG) {
			if (m.hdr.id != (uint32_t)got ||
			    m.len != sizeof(payload) ||
			    m.buf[HDRLEN + 4] != 'a' + got % 26)
				order = 0;
			got++;
		}
		if (rv != MSGCHAN_NONE)
			break;
		if (msgchan_flush(&tx) == -1)
			break;
	}
	is_int(got, total, "queue: every queued message arrives");
	ok(order, "queue: in order and intact");
	ok(tx.queued == 0 && tx.head == NULL, "queue: drained");
	is_int(msgchan_recv(&rx, &m), MSGCHAN_NONE,
	    "queue: nothing extra arrives");
	msgchan_close(&tx);
	msgchan_close(&rx);
}

static void
test_chan_queue_max(void)
{
	static unsigned char	 payload[MSG_MAXLEN];
	struct msgchan		 tx, rx;
	size_t			 len = MSG_MAXLEN - HDRLEN;
	int			 p[2], rv, n, err;

	/* Nobody reads rx: the socket buffer fills, then the queue. */
	link_up(&tx, ROLE_EXECUTOR, &rx, ROLE_PARENT);

	rv = msgchan_compose(&tx, MSG_LOG, 0, -1, payload, len + 1);
	err = errno;
	ok(rv == -1 && err == ENOBUFS && tx.queued == 0,
	    "queue max: a message over MSG_MAXLEN is refused with ENOBUFS");

	for (n = 0; n < 2 * (int)(MSGCHAN_QUEUE_MAX / MSG_MAXLEN); n++)
		if ((rv = msgchan_compose(&tx, MSG_LOG, n, -1, payload,
		    len)) == -1)
			break;
	err = errno;
	ok(rv == -1 && err == ENOBUFS,
	    "queue max: composing fails with ENOBUFS after %d messages", n);
	ok(tx.queued <= MSGCHAN_QUEUE_MAX + HDRLEN &&
	    tx.queued + len > MSGCHAN_QUEUE_MAX,
	    "queue max: stopped at the limit (%zu bytes queued)", tx.queued);
	make_pipe(p);
	rv = msgchan_compose(&tx, MSG_CHANNEL, 0, p[1], payload, 4);
	ok(rv == -1 && fd_closed(p[1]),
	    "queue max: a refused compose closes the descriptor passed");
	close(p[0]);
	msgchan_close(&tx);
	ok(tx.queued == 0 && tx.head == NULL && tx.fd == -1,
	    "queue max: close drops the queue");
	msgchan_close(&rx);
}

static void
test_chan_closed(void)
{
	struct msgchan	 c;
	int		 sv[2], p[2], rv, err;

	pair(sv);
	msgchan_init(&c, sv[0], ROLE_PARENT, ROLE_EXECUTOR);
	msgchan_close(&c);
	ok(c.fd == -1 && fd_closed(sv[0]), "closed: close closes the socket");
	make_pipe(p);
	rv = msgchan_compose(&c, MSG_CHANNEL, 0, p[1], "abcd", 4);
	err = errno;
	ok(rv == -1 && err == EPIPE,
	    "closed: compose on a closed channel fails with EPIPE");
	ok(fd_closed(p[1]), "closed: the descriptor passed is closed");
	rv = msgchan_hello(&c);
	ok(rv == -1 && errno == EPIPE, "closed: HELLO fails with EPIPE");
	is_int(c.queued, 0, "closed: nothing queued");
	msgchan_close(&c);
	ok(c.fd == -1, "closed: closing twice is harmless");
	close(p[0]);
	close(sv[1]);
}

int
main(void)
{
	int	 fds;

	fds = count_fds();
	test_check_handshake();
	test_check_valid();
	test_check_framing();
	test_check_sizes();
	test_check_senders();
	test_check_pid_fd();
	test_strerror();
	test_chan_skip(ROLE_PARENT);
	test_chan_skip(ROLE_EXECUTOR);
	test_chan_watcher();
	test_chan_empty_with_fd();
	test_chan_bad_hello();
	test_chan_fds();
	test_chan_pass_fd();
	test_chan_queue();
	test_chan_queue_max();
	test_chan_closed();
	is_int(count_fds(), fds, "no descriptor leaked by the whole run");
	return done_testing();
}
