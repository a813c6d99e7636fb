/*
 * libFuzzer target for the message decoder and the receive path.
 *
 * Input:
 *   byte 0   low nibble: the receiving role (self), high nibble: the
 *            sending role (peer), each modulo ROLE_COUNT
 *   byte 1   flags: FL_TRUNC, a descriptor count (FL_NFDS, 0-2) and
 *            FL_SOCKET, which selects the second mode
 *   then     records, each [2-byte little-endian length][bytes]
 *
 * The low 15 bits of a record's length are its length, which still
 * reaches past MSG_MAXLEN.  Bit 15 marks a record that comes with the
 * truncation flag and the descriptors of byte 1; unmarked records come
 * with neither.  The flags cannot simply apply to every record: HELLO
 * must carry no descriptor and MSG_CHANNEL exactly one, so no input
 * could otherwise reach a MSG_CHANNEL on a handshaken channel.  A
 * length longer than the rest of the input takes what is left.
 *
 * Without FL_SOCKET each record goes straight into msg_check(), with
 * one struct msg_peer for the whole input so the handshake state
 * evolves as it does on a channel.  With FL_SOCKET the records travel
 * through a real SOCK_SEQPACKET pair into msgchan_recv(), which must
 * agree with msg_check() run on a shadow peer and must not leak a
 * descriptor.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/config.h"
#include "../../src/log.h"
#include "../../src/msg.h"
#include "../../src/proto.h"
#include "fuzz.h"

#define FL_TRUNC	0x01
#define FL_NFDS_SHIFT	1
#define FL_NFDS_MASK	0x03
#define FL_SOCKET	0x08

#define REC_MARK	0x8000u
#define REC_LENMASK	0x7fffu

/* Most descriptors one record carries; msgchan_recv() has room for 4. */
#define MAX_NFDS	2


struct input {
	const uint8_t	*p;
	size_t		 left;
};

/* Kept across inputs: setting up a socket pair per input is slow. */
static int	 sv[2] = { -1, -1 };
static int	 devnull = -1;
static struct msg rmsg;

/* The daemon's log lines would bury libFuzzer's own output. */
static void
log_discard(int pri, const char *line)
{
	(void)pri;
	(void)line;
}

static int
flag_nfds(int flags)
{
	return ((flags >> FL_NFDS_SHIFT) & FL_NFDS_MASK) % (MAX_NFDS + 1);
}

/* Returns 0 when the input holds no further record. */
static int
next_record(struct input *in, const uint8_t **rec, size_t *len, int *marked)
{
	unsigned	 v;

	if (in->left < 2)
		return 0;
	v = in->p[0] | (unsigned)in->p[1] << 8;
	in->p += 2;
	in->left -= 2;
	*len = v & REC_LENMASK;
	if (*len > in->left)
		*len = in->left;
	*marked = (v & REC_MARK) != 0;
	*rec = in->p;
	in->p += *len;
	in->left -= *len;
	return 1;
}

/*
 * An exact-size heap copy, so that ASan sees any read past the end of
 * the record instead of silently reading the next one.
 */
static unsigned char *
record_copy(const uint8_t *rec, size_t len)
{
	unsigned char	*copy;

	if ((copy = malloc(len > 0 ? len : 1)) == NULL)
		abort();
	if (len > 0)
		memcpy(copy, rec, len);
	return copy;
}

/* What msg_check() promises about one decoded record. */
static void
check_decoded(enum role self, const struct msg_peer *before,
    const struct msg_peer *after, enum msg_err e, const unsigned char *rec,
    size_t len, int trunc, int nfds, const struct msg_hdr *hdr)
{
	const struct msg_rule	*rule;
	struct msg_hello	 hello;
	size_t			 plen;

	CHECK((unsigned)e <= MSG_EFD);
	CHECK(msg_strerror(e) != NULL);
	CHECK(after->role == before->role);
	/* Once handshaken, a peer stays so and keeps its pid. */
	if (before->hello) {
		CHECK(after->hello);
		CHECK(after->pid == before->pid);
	}
	if (e != MSG_OK) {
		CHECK(after->hello == before->hello);
		CHECK(after->pid == before->pid);
		return;
	}
	CHECK(!trunc);
	CHECK(len >= sizeof(*hdr) && len <= MSG_MAXLEN);
	CHECK(memcmp(hdr, rec, sizeof(*hdr)) == 0);
	CHECK(hdr->len == len);
	CHECK((rule = msg_rule_find(hdr->type)) != NULL);
	CHECK(rule->type == hdr->type);
	plen = len - sizeof(*hdr);
	CHECK(plen >= rule->minlen && plen <= rule->maxlen);
	CHECK((rule->senders & ROLE_BIT(before->role)) != 0);
	CHECK((rule->receivers & ROLE_BIT(self)) != 0);
	CHECK(nfds == rule->fd);
	CHECK(after->hello);
	if (!before->hello) {
		CHECK(hdr->type == MSG_HELLO);
		memcpy(&hello, rec + sizeof(*hdr), sizeof(hello));
		CHECK(hello.version == MSG_VERSION);
		CHECK(hello.role == (uint32_t)before->role);
		CHECK(after->pid == hdr->pid);
	} else {
		CHECK(hdr->type != MSG_HELLO);
		CHECK(hdr->pid == before->pid);
	}
}

static void
run_decoder(enum role self, enum role peer, int flags, struct input *in)
{
	struct msg_peer	 p, before;
	struct msg_hdr	 hdr;
	const uint8_t	*rec;
	unsigned char	*copy;
	enum msg_err	 e;
	size_t		 len;
	int		 marked, trunc, nfds;

	memset(&p, 0, sizeof(p));
	p.role = peer;
	while (next_record(in, &rec, &len, &marked)) {
		trunc = marked && (flags & FL_TRUNC);
		nfds = marked ? flag_nfds(flags) : 0;
		copy = record_copy(rec, len);
		before = p;
		memset(&hdr, 0, sizeof(hdr));
		e = msg_check(self, &p, copy, len, trunc, nfds, &hdr);
		check_decoded(self, &before, &p, e, copy, len, trunc, nfds,
		    &hdr);
		free(copy);
	}
}

static int
count_fds(void)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL) {
		perror("fuzz_msg: /proc/self/fd");
		abort();
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
chan_open(struct msgchan *c, enum role self, enum role peer)
{
	if (sv[0] == -1 &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		perror("fuzz_msg: socketpair");
		abort();
	}
	msgchan_init(c, sv[0], self, peer);
}

/* msgchan_close() has closed our end already; drop the other one. */
static void
chan_reopen(struct msgchan *c, enum role self, enum role peer)
{
	CHECK(c->fd == -1);
	close(sv[1]);
	sv[0] = sv[1] = -1;
	chan_open(c, self, peer);
}

/* Sends one record with nfds copies of /dev/null attached. */
static int
send_record(const uint8_t *rec, size_t len, int nfds)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(MAX_NFDS * sizeof(int))];
	}		 cmsgbuf;
	struct cmsghdr	*cm;
	struct msghdr	 mh;
	struct iovec	 iov;
	int		 i;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = (void *)(uintptr_t)rec;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		mh.msg_control = cmsgbuf.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		for (i = 0; i < nfds; i++)
			memcpy(CMSG_DATA(cm) + i * sizeof(int), &devnull,
			    sizeof(int));
	}
	if (sendmsg(sv[1], &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == -1)
		return -1;
	return 0;
}

/*
 * What msgchan_recv() must return for a record, from msg_check() on a
 * shadow peer and the channel's closing policy: a zero-length record
 * reads as end of file, the watcher is assumed compromised, and a
 * version or role mismatch cannot be recovered from.
 */
static enum msgchan_rv
expect_recv(enum role self, struct msg_peer *shadow, const uint8_t *rec,
    size_t len, int nfds, uint32_t *type)
{
	struct msg_peer	 before = *shadow;
	struct msg_hdr	 hdr;
	unsigned char	*copy;
	enum msg_err	 e;
	size_t		 seen;
	int		 trunc;

	*type = 0;
	if (len == 0)
		return MSGCHAN_CLOSED;
	trunc = len > MSG_MAXLEN;
	seen = trunc ? MSG_MAXLEN : len;
	copy = record_copy(rec, seen);
	memset(&hdr, 0, sizeof(hdr));
	e = msg_check(self, shadow, copy, seen, trunc, nfds, &hdr);
	check_decoded(self, &before, shadow, e, copy, seen, trunc, nfds, &hdr);
	free(copy);
	if (e == MSG_OK) {
		*type = hdr.type;
		return hdr.type == MSG_HELLO ? MSGCHAN_SKIP : MSGCHAN_MSG;
	}
	if (shadow->role == ROLE_WATCHER || e == MSG_EVERSION ||
	    e == MSG_EROLE)
		return MSGCHAN_CLOSED;
	return MSGCHAN_SKIP;
}

static void
check_received(const struct msgchan *c, const struct msg *m,
    enum msgchan_rv rv, const uint8_t *rec, size_t len, uint32_t type)
{
	const struct msg_rule	*rule;

	switch (rv) {
	case MSGCHAN_MSG:
		CHECK(msgchan_up(c));
		CHECK(m->hdr.type == type && type != MSG_HELLO);
		CHECK(m->hdr.len == len);
		CHECK(m->data == m->buf + sizeof(m->hdr));
		CHECK(m->len == len - sizeof(m->hdr));
		CHECK(memcmp(m->buf, rec, len) == 0);
		CHECK((rule = msg_rule_find(m->hdr.type)) != NULL);
		if (rule->fd) {
			CHECK(m->fd >= 0);
			CHECK((fcntl(m->fd, F_GETFD) & FD_CLOEXEC) != 0);
		} else
			CHECK(m->fd == -1);
		break;
	case MSGCHAN_SKIP:
		CHECK(msgchan_open(c));
		CHECK(m->fd == -1);
		break;
	case MSGCHAN_CLOSED:
		CHECK(!msgchan_open(c));
		CHECK(!msgchan_up(c));
		break;
	default:
		CHECK(!"msgchan_recv() result out of range");
	}
}

static void
run_channel(enum role self, enum role peer, int flags, struct input *in)
{
	struct msgchan	 c;
	struct msg_peer	 shadow;
	enum msgchan_rv	 rv, want;
	const uint8_t	*rec;
	size_t		 len;
	uint32_t	 type;
	int		 fds, marked, nfds, got;

	chan_open(&c, self, peer);
	/*
	 * Counted around each input rather than once: libFuzzer opens
	 * files of its own between inputs.  A leak in any input still
	 * shows here.  After chan_open(), which makes the first pair.
	 */
	fds = count_fds();
	memset(&shadow, 0, sizeof(shadow));
	shadow.role = peer;
	while (next_record(in, &rec, &len, &marked)) {
		nfds = marked ? flag_nfds(flags) : 0;
		/* Refused by the socket (too big): nothing to receive. */
		if (send_record(rec, len, nfds) == -1)
			continue;
		want = expect_recv(self, &shadow, rec, len, nfds, &type);
		got = 0;
		while ((rv = msgchan_recv(&c, &rmsg)) != MSGCHAN_NONE) {
			got++;
			CHECK(got == 1);
			CHECK(rv == want);
			check_received(&c, &rmsg, rv, rec, len, type);
			if (rv == MSGCHAN_MSG && rmsg.fd != -1)
				close(rmsg.fd);
			if (rv == MSGCHAN_CLOSED) {
				chan_reopen(&c, self, peer);
				memset(&shadow, 0, sizeof(shadow));
				shadow.role = peer;
				break;
			}
			CHECK(c.peer.hello == shadow.hello);
			CHECK(!shadow.hello || c.peer.pid == shadow.pid);
		}
		/* Each record is consumed by exactly one call. */
		CHECK(got == 1);
	}
	CHECK(count_fds() == fds);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int	 e;

	(void)argc;
	(void)argv;
	/*
	 * run-fuzzers asks for the payload sizes its seeds need, which
	 * follow struct kn_config as it grows.
	 */
	if (getenv("KN_FUZZ_SIZES") != NULL) {
		printf("CONFIG_LEN=%zu READY_LEN=%zu VERSION=%u\n",
		    sizeof(struct kn_config), sizeof(struct msg_ready),
		    (unsigned)MSG_VERSION);
		exit(0);
	}
	/*
	 * A sink rather than stderr sent to /dev/null: libFuzzer's stats
	 * and the sanitizers' reports share stderr and must stay visible.
	 */
	log_init(1, "fuzz");
	log_setsink(log_discard);
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) {
		perror("fuzz_msg: /dev/null");
		abort();
	}
	for (e = -1; e <= MSG_EFD + 1; e++)
		CHECK(msg_strerror((enum msg_err)e) != NULL);
	for (e = -1; e <= ROLE_COUNT; e++)
		CHECK(role_name((enum role)e) != NULL);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input	 in;
	enum role	 self, peer;
	int		 flags;

	if (size < 2)
		return 0;
	self = (enum role)((data[0] & 0x0f) % ROLE_COUNT);
	peer = (enum role)((data[0] >> 4) % ROLE_COUNT);
	flags = data[1];
	in.p = data + 2;
	in.left = size - 2;
	if (flags & FL_SOCKET)
		run_channel(self, peer, flags, &in);
	else
		run_decoder(self, peer, flags, &in);
	return 0;
}
