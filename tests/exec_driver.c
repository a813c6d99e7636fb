/*
 * exec_driver: one real executor, with this program in the parent's
 * and the watcher's place, so a test can send it anything a
 * compromised watcher could.
 *
 *	exec_driver DAEMON [daemon options]
 *
 * The options are the daemon's own (--provider, --pod-cidr,
 * --max-nodes, --chroot, -u, -v...), read with the daemon's
 * config_load().  The executor is started from DAEMON the way the
 * parent starts it, and the driver waits for its READY.  Then it reads
 * a script on standard input, one command a line:
 *
 *	local CIDR ADDR		MSG_LOCAL: this node's pod CIDR and address
 *	begin GEN		MSG_SNAP_BEGIN
 *	add P/LEN NODE ...	one MSG_INTENT_ADD of every pair on the line
 *	del P/LEN NODE ...	one MSG_INTENT_DEL
 *	end GEN COUNT		MSG_SNAP_END
 *	raw TYPE [HEX]		a message of any type (number or MSG_ name)
 *	record [HEX]		a record as given, header and all
 *	wait			until MSG_GEN_DONE or the channel closes
 *	reconnect		a new watcher channel, passed as the parent
 *				does when it has restarted the watcher
 *
 * Prefixes and addresses are taken as written: host bits, any length
 * up to 255.  Everything goes to standard output, in order: the
 * executor's log lines as "executor: ...", and the driver's own lines
 * "ready", "done gen=N applied=N refused=N failed=N", "channel closed",
 * "node-net CIDRS mtu N" (the executor's report to the parent),
 * "timeout", "error: ..." and at the end of the script "executor
 * exited with status N" or "executor killed by signal N".
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/clock.h"
#include "../src/cni.h"
#include "../src/config.h"
#include "../src/log.h"
#include "../src/msg.h"
#include "../src/sandbox.h"
#include "../src/spawn.h"

#define WAIT_MS		10000

static struct kn_config	 conf;
static struct msgchan	 ctl, peer;
static pid_t		 pid;
static uint32_t		 gen;		/* hdr.id of the next message */
static int		 ready;		/* READY since the last channel */
static struct msg	 m;

/* What pump() waits for. */
enum until {
	UNTIL_READY,		/* the executor's READY on the control channel */
	UNTIL_DONE,		/* MSG_GEN_DONE on the watcher channel */
};

static void
node_net_print(const struct msg *nm)
{
	struct msg_node_net	 nn;
	char			 cidrs[128];

	memcpy(&nn, nm->data, sizeof(nn));
	cni_cidrs(&nn, cidrs, sizeof(cidrs));
	printf("node-net %s mtu %u\n", cidrs, nn.mtu);
}

/* The executor's log lines, until none is waiting; 0 once it is gone. */
static int
drain_control(void)
{
	for (;;) {
		switch (msgchan_recv(&ctl, &m)) {
		case MSGCHAN_CLOSED:
			return 0;
		case MSGCHAN_NONE:
			return 1;
		case MSGCHAN_SKIP:
			continue;
		case MSGCHAN_MSG:
			break;
		}
		if (m.hdr.type == MSG_LOG)
			spawn_log(&m, ROLE_EXECUTOR);
		else if (m.hdr.type == MSG_READY) {
			printf("ready\n");
			ready = 1;
		} else if (m.hdr.type == MSG_NODE_NET)
			node_net_print(&m);
		fflush(stdout);
	}
}

/*
 * Runs both channels until what is awaited has come, the watcher
 * channel closes or the time is up.  The executor logs before it
 * answers, so its lines are read first.
 */
static int
pump(enum until until)
{
	struct pollfd		 pfd[2];
	struct msg_gen_result	 r;
	int64_t			 end = mono_ms() + WAIT_MS, left;
	int			 n;

	if (until == UNTIL_DONE && !msgchan_open(&peer)) {
		printf("channel closed\n");
		return -1;
	}
	for (;;) {
		if (until == UNTIL_READY && ready)
			return 0;
		pfd[0].fd = ctl.fd;
		pfd[0].events = POLLIN | (ctl.queued ? POLLOUT : 0);
		pfd[1].fd = peer.fd;
		pfd[1].events = POLLIN | (peer.queued ? POLLOUT : 0);
		left = end - mono_ms();
		if ((n = poll(pfd, 2, left > 0 ? (int)left : 0)) == -1 &&
		    errno != EINTR)
			fatal("poll");
		if (n == 0) {
			printf("timeout waiting for %s\n", until ==
			    UNTIL_READY ? "READY" : "MSG_GEN_DONE");
			return -1;
		}
		if (pfd[0].revents & POLLOUT)
			msgchan_flush(&ctl);
		if (!drain_control()) {
			printf("error: the executor closed its control "
			    "channel\n");
			return -1;
		}
		if (pfd[1].revents & POLLOUT)
			msgchan_flush(&peer);
		switch (msgchan_recv(&peer, &m)) {
		case MSGCHAN_CLOSED:
			drain_control();
			printf("channel closed\n");
			return -1;
		case MSGCHAN_MSG:
			if (until != UNTIL_DONE || m.hdr.type != MSG_GEN_DONE)
				break;
			/* Before the log lines reuse the message buffer. */
			memcpy(&r, m.data, sizeof(r));
			drain_control();
			printf("done gen=%llu applied=%u refused=%u failed=%u\n",
			    (unsigned long long)r.gen, r.applied, r.refused,
			    r.failed);
			return 0;
		default:
			break;
		}
	}
}

/* "a.b.c.d" or an IPv6 address; its family, 0 if neither. */
static uint8_t
addr_parse(const char *s, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, out) == 1)
		return AF_INET6;
	return 0;
}

/* "ADDR/LEN" as written, unlike prefix_parse(): host bits, any length. */
static uint8_t
cidr_parse(const char *s, uint8_t out[16], uint8_t *len)
{
	char		 buf[INET6_ADDRSTRLEN + 5], *slash, *end;
	unsigned long	 l;

	if (strlen(s) >= sizeof(buf))
		return 0;
	strcpy(buf, s);
	if ((slash = strchr(buf, '/')) == NULL)
		return 0;
	*slash++ = '\0';
	l = strtoul(slash, &end, 10);
	if (*slash == '\0' || *end != '\0' || l > 255)
		return 0;
	*len = (uint8_t)l;
	return addr_parse(buf, out);
}

static size_t
hex_parse(const char *s, unsigned char *out, size_t max)
{
	size_t		 n = 0;
	unsigned	 b;

	while (s != NULL && s[0] != '\0' && s[1] != '\0' && n < max &&
	    sscanf(s, "%2x", &b) == 1) {
		out[n++] = (unsigned char)b;
		s += 2;
	}
	return n;
}

static uint32_t
type_parse(const char *s)
{
	const struct msg_rule	*r;
	uint32_t		 t;

	for (t = 1; t < MSG_TYPE_MAX; t++)
		if ((r = msg_rule_find(t)) != NULL && strcmp(r->name, s) == 0)
			return t;
	return (uint32_t)strtoul(s, NULL, 0);
}

static void
send_msg(uint32_t type, const void *data, size_t len)
{
	if (msgchan_compose(&peer, type, gen, -1, data, len) == -1)
		printf("error: sending: %s\n", strerror(errno));
}

/* A new channel for the watcher's side, as proc_start() passes it. */
static void
reconnect(void)
{
	struct msg_channel	 mc = { ROLE_WATCHER };
	int			 sv[2];

	msgchan_close(&peer);
	spawn_pair(sv);
	msgchan_init(&peer, sv[0], ROLE_WATCHER, ROLE_EXECUTOR);
	ready = 0;
	if (msgchan_compose(&ctl, MSG_CHANNEL, 0, sv[1], &mc,
	    sizeof(mc)) == -1 || msgchan_hello(&peer) == -1)
		printf("error: passing the channel: %s\n", strerror(errno));
	pump(UNTIL_READY);
}

static void
command(char *line)
{
	static unsigned char	 buf[MSG_MAXLEN];
	static struct msg_intent in[MSG_INTENTS_MAX];
	struct msg_local	 l;
	struct msg_gen		 g;
	char			*argv[2 * MSG_INTENTS_MAX + 2], *w;
	int			 argc = 0, i, n = 0;
	size_t			 len;

	while ((w = strsep(&line, " \t\n")) != NULL)
		if (*w != '\0' && argc < (int)(sizeof(argv) / sizeof(*argv)))
			argv[argc++] = w;
	if (argc == 0 || argv[0][0] == '#')
		return;
	if (strcmp(argv[0], "local") == 0 && argc == 3) {
		memset(&l, 0, sizeof(l));
		l.family[0] = cidr_parse(argv[1], l.cidr[0], &l.plen[0]);
		if (addr_parse(argv[2], buf) == AF_INET) {
			l.has4 = 1;
			memcpy(l.addr4, buf, 4);
		} else {
			l.has6 = 1;
			memcpy(l.addr6, buf, 16);
		}
		send_msg(MSG_LOCAL, &l, sizeof(l));
	} else if ((strcmp(argv[0], "begin") == 0 && argc == 2) ||
	    (strcmp(argv[0], "end") == 0 && argc == 3)) {
		memset(&g, 0, sizeof(g));
		g.gen = strtoull(argv[1], NULL, 10);
		if (argc == 3)
			g.count = (uint32_t)strtoul(argv[2], NULL, 10);
		gen = (uint32_t)g.gen;
		send_msg(argc == 2 ? MSG_SNAP_BEGIN : MSG_SNAP_END, &g,
		    sizeof(g));
	} else if ((strcmp(argv[0], "add") == 0 ||
	    strcmp(argv[0], "del") == 0) && argc % 2 == 1) {
		memset(in, 0, sizeof(in));
		for (i = 1; i < argc; i += 2, n++) {
			in[n].family = cidr_parse(argv[i], in[n].prefix,
			    &in[n].plen);
			if (addr_parse(argv[i + 1], in[n].node) == 0)
				printf("error: %s: not an address\n",
				    argv[i + 1]);
		}
		gen++;
		send_msg(argv[0][0] == 'a' ? MSG_INTENT_ADD : MSG_INTENT_DEL,
		    in, n * sizeof(in[0]));
	} else if (strcmp(argv[0], "raw") == 0 && argc <= 3) {
		len = hex_parse(argc == 3 ? argv[2] : NULL, buf, sizeof(buf));
		send_msg(type_parse(argv[1]), buf, len);
	} else if (strcmp(argv[0], "record") == 0 && argc <= 2) {
		len = hex_parse(argc == 2 ? argv[1] : NULL, buf, sizeof(buf));
		if (send(peer.fd, buf, len, MSG_NOSIGNAL) == -1)
			printf("error: sending: %s\n", strerror(errno));
	} else if (strcmp(argv[0], "wait") == 0 && argc == 1)
		pump(UNTIL_DONE);
	else if (strcmp(argv[0], "reconnect") == 0 && argc == 1)
		reconnect();
	else
		printf("error: unknown command %s\n", argv[0]);
	fflush(stdout);
}

/* SIGTERM, as the parent stops it; its last words; how it ended. */
static int
stop(void)
{
	int	 status = 0, i;

	kill(pid, SIGTERM);
	for (i = 0; i < 500 && waitpid(pid, &status, WNOHANG) == 0; i++)
		usleep(10000);
	if (i == 500) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	drain_control();
	msgchan_close(&ctl);
	msgchan_close(&peer);
	if (WIFSIGNALED(status)) {
		printf("executor killed by signal %d\n", WTERMSIG(status));
		return 1;
	}
	printf("executor exited with status %d\n", WEXITSTATUS(status));
	return WEXITSTATUS(status) != 0;
}

int
main(int argc, char *argv[])
{
	struct kn_cmdline	 cl;
	char			 err[512], *line = NULL;
	size_t			 cap = 0;
	int			 exe, sv[2];

	if (argc < 2) {
		fprintf(stderr, "usage: exec_driver DAEMON [options]\n");
		return 2;
	}
	/* One ordered stream for the test: log lines and our own. */
	if (dup2(STDOUT_FILENO, STDERR_FILENO) == -1)
		return 2;
	closefrom(STDERR_FILENO + 1);
	log_init(1, "exec-driver");
	signal(SIGPIPE, SIG_IGN);
	/* argv[1] stands where the daemon's own name would. */
	if (config_load(&conf, &cl, argc - 1, argv + 1, err,
	    sizeof(err)) == -1 ||
	    config_resolve_user(&conf, err, sizeof(err)) == -1 ||
	    sandbox_check_root(conf.chroot, 1, err, sizeof(err)) == -1)
		fatalx("%s", err);
	exe = spawn_exe(argv[1]);
	spawn_pair(sv);
	pid = spawn_child(exe, ROLE_EXECUTOR, &conf, sv[1], -1, &ctl);
	close(exe);
	msgchan_init(&peer, sv[0], ROLE_WATCHER, ROLE_EXECUTOR);
	if (msgchan_hello(&peer) == -1)
		fatal("watcher channel: HELLO");
	/* READY follows the handshake of the watcher channel. */
	if (pump(UNTIL_READY) == -1) {
		stop();
		return 1;
	}
	fflush(stdout);

	while (getline(&line, &cap, stdin) != -1)
		command(line);
	free(line);
	return stop();
}
