/*
 * libFuzzer target for the control socket (src/control.c): requests
 * from a client on a real socket, and the records of a table a child
 * relays through the parent to it, node names above all.
 *
 * Input: records, each [kind byte][2-byte little-endian length][bytes];
 * a length past the end takes what is left.  Kinds, modulo 3:
 *   0  the bytes go to the socket as one record, header and all
 *   1  a message with a right header: 1 byte picks the type (show,
 *      reload, resync, hello), then the payload
 *   2  a record of a table relayed to the client (control_forward):
 *      1 byte picks the type (node, route, end, other), then payload,
 *      under the id of the client's pending table
 * Each input is a new client, which says HELLO first; the parent side
 * runs after each record and the client reads what it is sent.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "../../src/control.h"
#include "../../src/log.h"
#include "../../src/msg.h"
#include "fuzz.h"

static char		 dir[] = "/run/kn-fuzz-ctl-XXXXXX";
static char		 path[sizeof(dir) + 8];
static uint32_t		 dump_id;	/* of the table last asked for */
static int		 dumps;

static void
ops_status(void *arg, struct kn_status *st)
{
	(void)arg;
	memset(st, 0, sizeof(*st));
}

static int
ops_reload(void *arg, char *text, size_t len)
{
	(void)arg;
	snprintf(text, len, "configuration reloaded");
	return 0;
}

/* Every other table is asked of a child that is not running. */
static int
ops_dump(void *arg, enum role r, uint32_t type, uint32_t id)
{
	(void)arg;
	(void)r;
	(void)type;
	if (dumps++ % 2)
		return -1;
	dump_id = id;
	return 0;
}

static void
ops_resync(void *arg)
{
	(void)arg;
}

static const struct control_ops ops = {
	ops_status, ops_reload, ops_dump, ops_resync
};

/* The parent's side: whatever is ready, without waiting. */
static void
parent_turn(void)
{
	struct pollfd	 pfd[1 + CONTROL_CLIENTS];
	int		 n;

	n = control_pollfds(pfd, 1 + CONTROL_CLIENTS);
	/* libFuzzer's timer signal interrupts a poll now and then. */
	while (poll(pfd, n, 0) == -1)
		if (errno != EINTR) {
			perror("fuzz_control: poll");
			abort();
		}
	control_io(pfd, n);
}

/* The client reads and drops what it was sent. */
static void
client_drain(int fd)
{
	static unsigned char	 buf[MSG_MAXLEN];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static void
client_send(int fd, const void *buf, size_t len)
{
	/* A full socket is the parent's to notice, not ours. */
	if (send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) == -1 &&
	    errno != EAGAIN && errno != EPIPE && errno != ECONNRESET &&
	    errno != EMSGSIZE) {
		perror("fuzz_control: send");
		abort();
	}
}

static void
client_msg(int fd, uint32_t type, const void *data, size_t len)
{
	static unsigned char	 buf[MSG_MAXLEN];
	struct msg_hdr		 hdr;

	if (len > sizeof(buf) - sizeof(hdr))
		len = sizeof(buf) - sizeof(hdr);
	hdr.type = type;
	hdr.len = (uint32_t)(sizeof(hdr) + len);
	hdr.id = 0;
	hdr.pid = (uint32_t)getpid();
	memcpy(buf, &hdr, sizeof(hdr));
	if (len > 0)
		memcpy(buf + sizeof(hdr), data, len);
	client_send(fd, buf, sizeof(hdr) + len);
}

/* What the parent logs of a hostile client or child: printable. */
static void
log_check(int pri, const char *line)
{
	(void)pri;
	for (; *line != '\0'; line++)
		CHECK(*line >= 0x20 && *line < 0x7f);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 err[512];

	(void)argc;
	(void)argv;
	log_init(1, "fuzz");
	log_setsink(log_check);
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/ctl", dir);
	if (control_listen(path, &ops, NULL, err, sizeof(err)) == -1) {
		fprintf(stderr, "fuzz_control: %s\n", err);
		abort();
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct msg	 m;
	struct msg_hello	 hello = { MSG_VERSION, ROLE_PARENT };
	struct sockaddr_un	 sun;
	size_t			 len;
	int			 fd, kind, i;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1) {
		perror("fuzz_control: socket");
		abort();
	}
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		if (errno != EINTR) {
			perror("fuzz_control: connect");
			abort();
		}
	parent_turn();
	hello.role = ROLE_CTL;
	client_msg(fd, MSG_HELLO, &hello, sizeof(hello));
	dump_id = 0;
	while (size >= 3) {
		kind = data[0] % 3;
		len = (size_t)data[1] | (size_t)data[2] << 8;
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (kind == 0)
			client_send(fd, data, len);
		else if (kind == 1 && len >= 1) {
			static const uint32_t types[] = { MSG_CTL_SHOW,
			    MSG_CTL_RELOAD, MSG_CTL_RESYNC, MSG_HELLO };

			client_msg(fd, types[data[0] % 4], data + 1, len - 1);
		} else if (kind == 2 && len >= 1 &&
		    len - 1 <= sizeof(m.buf) - sizeof(m.hdr)) {
			static const uint32_t types[] = { MSG_NODE_INFO,
			    MSG_ROUTE_INFO, MSG_DUMP_END, MSG_STATUS };

			/* As the parent has it after msg_check(): whole. */
			memset(&m.hdr, 0, sizeof(m.hdr));
			m.hdr.type = types[data[0] % 4];
			m.hdr.id = dump_id;
			m.len = len - 1;
			memcpy(m.buf, data + 1, m.len);
			m.data = m.buf;
			m.fd = -1;
			if ((m.hdr.type == MSG_NODE_INFO &&
			    m.len % sizeof(struct msg_node_info) == 0) ||
			    (m.hdr.type == MSG_ROUTE_INFO &&
			    m.len % sizeof(struct msg_route_info) == 0) ||
			    (m.hdr.type != MSG_NODE_INFO &&
			    m.hdr.type != MSG_ROUTE_INFO && m.len == 0))
				control_forward(&m);
		}
		data += len;
		size -= len;
		parent_turn();
		client_drain(fd);
	}
	close(fd);
	/* The parent sees the client go and frees its slot. */
	for (i = 0; i < 4; i++)
		parent_turn();
	return 0;
}
