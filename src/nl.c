/*
 * Netlink transport for the executor and the ARP helper (libmnl):
 * batches, acknowledgements matched by sequence, dumps; see nl.h.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "nl.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK		11
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK	12
#endif

/*
 * One receive buffer for every call: none of them is re-entered.  A
 * dump datagram is at most 32 KiB (the kernel's own limit per skb).
 */
static char	 rbuf[32768] __attribute__((aligned(8)));

/* Enough for a burst of acks and for a monitor that falls behind. */
#define NL_RCVBUF	(8 * 1024 * 1024)

static int
setopt(struct nl *nl, int opt, int val)
{
	return mnl_socket_setsockopt(nl->sk, opt, &val, sizeof(val));
}

/*
 * A socket of the netlink bus (NETLINK_ROUTE or NETLINK_XFRM).
 * groups == 0: a command socket (extended acks, strict dump checks,
 * capped acks).  Otherwise a non-blocking monitor of those RTMGRP_*
 * or XFRMGRP_* groups.  Both before the drop: the filter allows no
 * socket(2).
 */
int
nl_open(struct nl *nl, int bus, unsigned groups, char *err, size_t errlen)
{
	int	 fd, sz = NL_RCVBUF;

	memset(nl, 0, sizeof(*nl));
	if ((nl->sk = mnl_socket_open2(bus, SOCK_CLOEXEC)) == NULL)
		return errset(err, errlen, "netlink socket%s: %s",
		    bus == NETLINK_XFRM ? " (xfrm)" : "", strerror(errno));
	fd = mnl_socket_get_fd(nl->sk);
	/* FORCE needs CAP_NET_ADMIN, which this process holds. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (groups == 0 && (setopt(nl, NETLINK_EXT_ACK, 1) == -1 ||
	    setopt(nl, NETLINK_GET_STRICT_CHK, 1) == -1 ||
	    setopt(nl, NETLINK_CAP_ACK, 1) == -1)) {
		nl_close(nl);
		return errset(err, errlen, "netlink socket options: %s",
		    strerror(errno));
	}
	if (groups != 0 && fcntl(fd, F_SETFL, O_NONBLOCK) == -1) {
		nl_close(nl);
		return errset(err, errlen, "netlink O_NONBLOCK: %s",
		    strerror(errno));
	}
	if (mnl_socket_bind(nl->sk, groups, MNL_SOCKET_AUTOPID) == -1) {
		nl_close(nl);
		return errset(err, errlen, "netlink bind: %s", strerror(errno));
	}
	nl->portid = mnl_socket_get_portid(nl->sk);
	/* Sequence numbers start somewhere a stale reply cannot match. */
	nl->seq = (uint32_t)getpid() << 12;
	return 0;
}

void
nl_close(struct nl *nl)
{
	if (nl->sk != NULL)
		mnl_socket_close(nl->sk);
	nl->sk = NULL;
}

int
nl_fd(const struct nl *nl)
{
	return mnl_socket_get_fd(nl->sk);
}

/*
 * One datagram from the kernel into buf.  Anything a process sent us
 * (nl_pid != 0) is dropped; a truncated datagram is an error.
 */
static ssize_t
nl_recv(struct nl *nl, void *buf, size_t len, int flags)
{
	struct sockaddr_nl	 sa;
	struct iovec		 iov = { buf, len };
	struct msghdr		 mh;
	ssize_t			 n;

	for (;;) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_name = &sa;
		mh.msg_namelen = sizeof(sa);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if ((n = recvmsg(nl_fd(nl), &mh, flags)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (mh.msg_flags & MSG_TRUNC) {
			errno = EMSGSIZE;
			return -1;
		}
		if (mh.msg_namelen != sizeof(sa) || sa.nl_family !=
		    AF_NETLINK || sa.nl_pid != 0)
			continue;
		return n;
	}
}

/* The kernel's explanation in an extended ack, or "". */
static const char *
extack_text(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr	*e = mnl_nlmsg_get_payload(nlh);
	const struct nlattr	*a;
	size_t			 off;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return "";
	/* With capped acks only the request's header is echoed back. */
	off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && e->error != 0)
		off += e->msg.nlmsg_len - sizeof(e->msg);
	if (mnl_nlmsg_get_payload_len(nlh) < off)
		return "";
	mnl_attr_for_each(a, nlh, off)
		if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			return mnl_attr_get_str(a);
	return "";
}

void
nl_batch_init(struct nl_batch *b, struct nl *nl,
    void (*done)(void *, unsigned, int, const char *), void *arg)
{
	b->nl = nl;
	b->done = done;
	b->arg = arg;
	b->n = 0;
	b->used = 0;
	b->open = 0;
}

/* The last request's builder is done with it: count its bytes. */
static void
batch_close_last(struct nl_batch *b)
{
	if (!b->open)
		return;
	b->used = b->last + MNL_ALIGN(((struct nlmsghdr *)
	    (b->buf + b->last))->nlmsg_len);
	b->open = 0;
}

/*
 * Room for one more request, with a sequence number of its own and an
 * ack asked for.  A full batch is sent first.  NULL when sending
 * failed.  *idx is the index the outcome callback gets.  The caller
 * builds the request in place, within NL_MSG_MAX bytes.
 */
struct nlmsghdr *
nl_batch_add(struct nl_batch *b, uint16_t type, uint16_t flags, unsigned *idx)
{
	struct nlmsghdr	*nlh;

	batch_close_last(b);
	if ((b->used + NL_MSG_MAX > sizeof(b->buf) || b->n == NL_BATCH_MAX) &&
	    nl_batch_flush(b) == -1)
		return NULL;
	if (b->n == 0)
		b->first_seq = b->nl->seq + 1;
	b->last = b->used;
	b->open = 1;
	memset(b->buf + b->used, 0, NL_MSG_MAX);
	nlh = mnl_nlmsg_put_header(b->buf + b->used);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = ++b->nl->seq;
	*idx = b->n++;
	return nlh;
}

/*
 * Sends every request in one sendmsg and reads one ack for each.
 * A request the kernel refuses is reported through the callback, not
 * here: -1 means the socket itself failed and the outcome of some
 * requests is unknown (they are reported with that errno).
 */
int
nl_batch_flush(struct nl_batch *b)
{
	unsigned	 n = b->n, left = b->n, i;
	unsigned char	 seen[NL_BATCH_MAX];
	size_t		 len;
	ssize_t		 r;
	const struct nlmsghdr *nlh;
	const struct nlmsgerr *e;

	if (n == 0)
		return 0;
	batch_close_last(b);
	len = b->used;
	b->n = 0;
	b->used = 0;
	memset(seen, 0, n);
	if (mnl_socket_sendto(b->nl->sk, b->buf, len) == -1)
		goto fail;
	while (left > 0) {
		if ((r = nl_recv(b->nl, rbuf, sizeof(rbuf), 0)) == -1)
			goto fail;
		for (nlh = (void *)rbuf; mnl_nlmsg_ok(nlh, (int)r);
		    nlh = mnl_nlmsg_next(nlh, (int *)&r)) {
			if (nlh->nlmsg_type != NLMSG_ERROR ||
			    nlh->nlmsg_pid != b->nl->portid ||
			    nlh->nlmsg_seq - b->first_seq >= n ||
			    mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
				continue;
			i = nlh->nlmsg_seq - b->first_seq;
			if (seen[i])
				continue;
			seen[i] = 1;
			left--;
			e = mnl_nlmsg_get_payload(nlh);
			b->done(b->arg, i, e->error < 0 ? -e->error : 0,
			    e->error < 0 ? extack_text(nlh) : "");
		}
	}
	return 0;
fail:
	r = errno;
	for (i = 0; i < n; i++)
		if (!seen[i])
			b->done(b->arg, i, (int)r, "no answer from the kernel");
	errno = (int)r;
	return -1;
}

/* Files an attribute in a struct nl_attrs; types past the end are skipped. */
int
nl_attr_cb(const struct nlattr *a, void *arg)
{
	struct nl_attrs	*t = arg;
	unsigned	 type = mnl_attr_get_type(a);

	if (type < NL_ATTR_MAX)
		t->a[type] = a;
	return MNL_CB_OK;
}

/*
 * Sends one request (a dump or a query with NLM_F_ACK) and hands each
 * reply to cb until the kernel says done.  Returns 0, NL_INTR when a
 * dump changed under it (the caller starts over), or -1 with errno.
 */
int
nl_query(struct nl *nl, struct nlmsghdr *req, nl_msg_cb cb, void *arg)
{
	const struct nlmsghdr	*nlh;
	const struct nlmsgerr	*e;
	ssize_t			 r;
	int			 intr = 0;

	req->nlmsg_flags |= NLM_F_REQUEST;
	req->nlmsg_seq = ++nl->seq;
	if (mnl_socket_sendto(nl->sk, req, req->nlmsg_len) == -1)
		return -1;
	for (;;) {
		if ((r = nl_recv(nl, rbuf, sizeof(rbuf), 0)) == -1)
			return -1;
		for (nlh = (void *)rbuf; mnl_nlmsg_ok(nlh, (int)r);
		    nlh = mnl_nlmsg_next(nlh, (int *)&r)) {
			if (nlh->nlmsg_seq != nl->seq ||
			    nlh->nlmsg_pid != nl->portid)
				continue;
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				intr = 1;
			if (nlh->nlmsg_type == NLMSG_DONE)
				return intr ? NL_INTR : 0;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				e = mnl_nlmsg_get_payload(nlh);
				if (mnl_nlmsg_get_payload_len(nlh) <
				    sizeof(*e)) {
					errno = EPROTO;
					return -1;
				}
				if (e->error == 0)
					return intr ? NL_INTR : 0;
				errno = -e->error;
				return -1;
			}
			if (cb(nlh, arg) == -1)
				return -1;
		}
	}
}

/*
 * Sends an nfnetlink transaction (a batch from begin to end, sequence
 * numbers first to last) whose acks requests asked for an ack.  The
 * kernel runs the whole batch inside sendmsg, so every answer is
 * queued when it returns and is read without waiting: a kernel that
 * answers less (a batch refused before its first request) cannot hang
 * the caller.  0 when every ack is in and none is an error; else -1
 * with errno the kernel's first error and why its explanation.
 */
int
nl_transaction(struct nl *nl, const void *buf, size_t len, uint32_t first,
    uint32_t last, unsigned acks, char *why, size_t whylen)
{
	const struct nlmsghdr	*nlh;
	const struct nlmsgerr	*e;
	ssize_t			 r;
	int			 error = 0;

	*why = '\0';
	if (mnl_socket_sendto(nl->sk, buf, len) == -1)
		return -1;
	while ((r = nl_recv(nl, rbuf, sizeof(rbuf), MSG_DONTWAIT)) != -1)
		for (nlh = (void *)rbuf; mnl_nlmsg_ok(nlh, (int)r);
		    nlh = mnl_nlmsg_next(nlh, (int *)&r)) {
			if (nlh->nlmsg_type != NLMSG_ERROR ||
			    nlh->nlmsg_pid != nl->portid ||
			    nlh->nlmsg_seq - first > last - first ||
			    mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
				continue;
			e = mnl_nlmsg_get_payload(nlh);
			if (e->error == 0) {
				acks -= acks > 0;
				continue;
			}
			if (error == 0) {
				error = -e->error;
				snprintf(why, whylen, "%s", extack_text(nlh));
			}
		}
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		return -1;
	if (error == 0 && acks > 0)
		error = EPROTO;
	errno = error;
	return error == 0 ? 0 : -1;
}

/*
 * Drains a non-blocking monitor socket.  -1 with errno ENOBUFS means
 * events were lost: the caller must re-read the whole state.
 */
int
nl_read(struct nl *nl, nl_msg_cb cb, void *arg)
{
	const struct nlmsghdr	*nlh;
	ssize_t			 r;

	for (;;) {
		if ((r = nl_recv(nl, rbuf, sizeof(rbuf), 0)) == -1)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		for (nlh = (void *)rbuf; mnl_nlmsg_ok(nlh, (int)r);
		    nlh = mnl_nlmsg_next(nlh, (int *)&r))
			if (nlh->nlmsg_type >= NLMSG_MIN_TYPE &&
			    cb(nlh, arg) == -1)
				return -1;
	}
}

/*
 * After an overrun the queued events are older than the dump that
 * follows: throw them away unread rather than parse megabytes of them.
 */
void
nl_drain(struct nl *nl)
{
	char	 c;

	while (recv(nl_fd(nl), &c, sizeof(c), MSG_DONTWAIT | MSG_TRUNC) >= 0 ||
	    errno == ENOBUFS || errno == EINTR)
		;
}
