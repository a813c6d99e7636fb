/*
 * The channels between the daemon's processes: checking a record
 * against the rule table (msg_check), queued nonblocking sends with
 * descriptor passing, and receiving.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdint.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "msg.h"

struct msgbuf {
	struct msgbuf	*next;
	size_t		 len;
	int		 fd;
	unsigned char	 data[];
};

static const char *const msg_errstr[] = {
	[MSG_OK] = "no error",
	[MSG_ESHORT] = "truncated message (shorter than the header)",
	[MSG_EBIG] = "oversized message",
	[MSG_ELEN] = "header length does not match the message",
	[MSG_ETYPE] = "unknown message type",
	[MSG_ESIZE] = "wrong payload length for the type",
	[MSG_ESENDER] = "message type not allowed from this sender",
	[MSG_EPID] = "sender pid does not match the handshake",
	[MSG_EHELLO] = "first message is not HELLO",
	[MSG_EVERSION] = "protocol version mismatch",
	[MSG_EROLE] = "HELLO from an unexpected role",
	[MSG_EFD] = "descriptor missing, extra or not allowed",
};

const char *
msg_strerror(enum msg_err e)
{
	if ((unsigned)e >= sizeof(msg_errstr) / sizeof(msg_errstr[0]))
		return "unknown error";
	return msg_errstr[e];
}

enum msg_err
msg_check(enum role self, struct msg_peer *peer, const void *buf, size_t len,
    int truncated, int nfds, struct msg_hdr *hdr)
{
	const struct msg_rule	*rule;
	struct msg_hello	 hello;
	size_t			 plen;

	if (truncated || len > MSG_MAXLEN)
		return MSG_EBIG;
	if (len < sizeof(*hdr))
		return MSG_ESHORT;
	memcpy(hdr, buf, sizeof(*hdr));
	if (hdr->len != len)
		return MSG_ELEN;
	plen = len - sizeof(*hdr);
	if ((rule = msg_rule_find(hdr->type)) == NULL)
		return peer->hello ? MSG_ETYPE : MSG_EHELLO;
	if (plen < rule->minlen || plen > rule->maxlen ||
	    (rule->unit != 0 && plen % rule->unit != 0))
		return MSG_ESIZE;
	if ((rule->senders & ROLE_BIT(peer->role)) == 0 ||
	    (rule->receivers & ROLE_BIT(self)) == 0)
		return MSG_ESENDER;
	if (nfds != rule->fd)
		return MSG_EFD;
	if (!peer->hello) {
		if (hdr->type != MSG_HELLO)
			return MSG_EHELLO;
		memcpy(&hello, (const unsigned char *)buf + sizeof(*hdr),
		    sizeof(hello));
		if (hello.version != MSG_VERSION)
			return MSG_EVERSION;
		if (hello.role != (uint32_t)peer->role)
			return MSG_EROLE;
		peer->hello = 1;
		peer->pid = hdr->pid;
		return MSG_OK;
	}
	if (hdr->pid != peer->pid)
		return MSG_EPID;
	/* A second HELLO on a live channel is as wrong as any other. */
	if (hdr->type == MSG_HELLO)
		return MSG_EHELLO;
	return MSG_OK;
}

void
msgchan_init(struct msgchan *c, int fd, enum role self, enum role peer)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->self = self;
	c->peer.role = peer;
	c->tail = &c->head;
}

static void
msgchan_drop_queue(struct msgchan *c)
{
	struct msgbuf	*b;

	while ((b = c->head) != NULL) {
		c->head = b->next;
		if (b->fd != -1)
			close(b->fd);
		free(b);
	}
	c->tail = &c->head;
	c->queued = 0;
}

void
msgchan_close(struct msgchan *c)
{
	msgchan_drop_queue(c);
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->peer.hello = 0;
}

int
msgchan_open(const struct msgchan *c)
{
	return c->fd != -1;
}

int
msgchan_up(const struct msgchan *c)
{
	return c->fd != -1 && c->peer.hello;
}

/*
 * Queue one message and try to send.  The queue takes ownership of
 * fd (closed once sent or dropped).  Returns -1 when the message
 * cannot be queued.
 */
int
msgchan_compose(struct msgchan *c, uint32_t type, uint32_t id, int fd,
    const void *data, size_t len)
{
	struct msg_hdr	 hdr;
	struct msgbuf	*b;

	if (c->fd == -1 || len > MSG_MAXLEN - sizeof(hdr) ||
	    c->queued + len > MSGCHAN_QUEUE_MAX) {
		if (fd != -1)
			close(fd);
		errno = c->fd == -1 ? EPIPE : ENOBUFS;
		return -1;
	}
	if ((b = malloc(sizeof(*b) + sizeof(hdr) + len)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	hdr.type = type;
	hdr.len = sizeof(hdr) + len;
	hdr.id = id;
	hdr.pid = getpid();
	memcpy(b->data, &hdr, sizeof(hdr));
	if (len > 0)
		memcpy(b->data + sizeof(hdr), data, len);
	b->len = hdr.len;
	b->fd = fd;
	b->next = NULL;
	*c->tail = b;
	c->tail = &b->next;
	c->queued += b->len;
	if (msgchan_flush(c) == -1)
		return -1;
	return 0;
}

int
msgchan_hello(struct msgchan *c)
{
	struct msg_hello	 h = { MSG_VERSION, c->self };

	return msgchan_compose(c, MSG_HELLO, 0, -1, &h, sizeof(h));
}

/* Returns -1 on a dead channel, else the bytes still queued. */
int
msgchan_flush(struct msgchan *c)
{
	struct msgbuf	*b;
	struct msghdr	 mh;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cmsgbuf;
	struct cmsghdr	*cm;

	while ((b = c->head) != NULL) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = b->data;
		iov.iov_len = b->len;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if (b->fd != -1) {
			memset(&cmsgbuf, 0, sizeof(cmsgbuf));
			mh.msg_control = cmsgbuf.buf;
			mh.msg_controllen = sizeof(cmsgbuf.buf);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			memcpy(CMSG_DATA(cm), &b->fd, sizeof(int));
		}
		if (sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == -1) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ENOBUFS)
				break;
			return -1;
		}
		c->head = b->next;
		if (c->head == NULL)
			c->tail = &c->head;
		c->queued -= b->len;
		if (b->fd != -1)
			close(b->fd);
		free(b);
	}
	return (int)(c->queued > (size_t)INT32_MAX ? INT32_MAX : c->queued);
}

/* Used on the way out: push what is queued, waiting at most timeout_ms. */
int
msgchan_flush_wait(struct msgchan *c, int timeout_ms)
{
	struct pollfd	 pfd;
	int64_t		 end = mono_ms() + timeout_ms, left;
	int		 n;

	while ((n = msgchan_flush(c)) > 0) {
		if ((left = end - mono_ms()) <= 0)
			return n;
		pfd.fd = c->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR)
			return -1;
	}
	return n;
}

static void
close_cmsg_fds(struct msghdr *mh, int *fd, int *nfds)
{
	struct cmsghdr	*cm;
	size_t		 i, n;
	int		 f;

	*fd = -1;
	*nfds = 0;
	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*nfds == 0)
				*fd = f;
			else
				close(f);
			(*nfds)++;
		}
	}
}

enum msgchan_rv
msgchan_recv(struct msgchan *c, struct msg *m)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(4 * sizeof(int))];
	}		 cmsgbuf;
	enum msg_err	 e;
	ssize_t		 n;
	int		 nfds, trunc;

	if (c->fd == -1)
		return MSGCHAN_CLOSED;
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = m->buf;
	iov.iov_len = sizeof(m->buf);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cmsgbuf.buf;
	mh.msg_controllen = sizeof(cmsgbuf.buf);
	n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return MSGCHAN_NONE;
		log_warn("%s channel: receive", role_name(c->peer.role));
		msgchan_close(c);
		return MSGCHAN_CLOSED;
	}
	close_cmsg_fds(&mh, &m->fd, &nfds);
	/* End of file, or an empty record, which no sender may send. */
	if (n == 0) {
		if (m->fd != -1)
			close(m->fd);
		msgchan_close(c);
		return MSGCHAN_CLOSED;
	}
	memset(&m->hdr, 0, sizeof(m->hdr));
	trunc = (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
	e = msg_check(c->self, &c->peer, m->buf, (size_t)n, trunc, nfds, &m->hdr);
	if (e != MSG_OK) {
		c->errors++;
		log_warnx("protocol error on the %s channel: %s (type %u, "
		    "%zd bytes); message dropped", role_name(c->peer.role),
		    msg_strerror(e), m->hdr.type, n);
		if (m->fd != -1)
			close(m->fd);
		m->fd = -1;
		/* The watcher is the process assumed compromised. */
		if (c->peer.role == ROLE_WATCHER || e == MSG_EVERSION ||
		    e == MSG_EROLE) {
			log_warnx("closing the %s channel",
			    role_name(c->peer.role));
			msgchan_close(c);
			return MSGCHAN_CLOSED;
		}
		return MSGCHAN_SKIP;
	}
	m->data = m->buf + sizeof(m->hdr);
	m->len = m->hdr.len - sizeof(m->hdr);
	if (m->hdr.type == MSG_HELLO) {
		log_debug("%s channel up (peer pid %u)",
		    role_name(c->peer.role), m->hdr.pid);
		return MSGCHAN_SKIP;
	}
	return MSGCHAN_MSG;
}

/*
 * The next checked message on c, the handshake and refused records
 * consumed on the way: MSGCHAN_MSG with *m, MSGCHAN_NONE when nothing
 * more waits, MSGCHAN_CLOSED when the channel is closed.  Each reader
 * of a channel drains it through here.
 */
enum msgchan_rv
msgchan_next(struct msgchan *c, struct msg *m)
{
	enum msgchan_rv	 rv;

	while ((rv = msgchan_recv(c, m)) == MSGCHAN_SKIP)
		;
	return rv;
}
