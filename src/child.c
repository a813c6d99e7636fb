/*
 * The part every child shares: the start-up handshake with the
 * parent, the confinement, the channels to its peers and the event
 * loop that reads them and calls the role's hooks (child.h).
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "log.h"
#include "sandbox.h"

#if SANDBOX_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif

static struct child		*child_self;
static volatile sig_atomic_t	 child_quit;
static struct msg		 child_msg;	/* 16 KiB: not on the stack */

static void
child_signal(int sig)
{
	if (sig == SIGTERM)
		child_quit = 1;
}

/* The log sink of a child: each line becomes a MSG_LOG to the parent. */
static void
child_log_sink(int pri, const char *line)
{
	unsigned char	 buf[sizeof(struct msg_log) + LOG_LINE_MAX];
	struct msg_log	 hdr = { (uint32_t)pri };
	size_t		 len = strnlen(line, LOG_LINE_MAX - 1);

	memcpy(buf, &hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), line, len);
	if (len == 0)
		buf[sizeof(hdr) + len++] = ' ';
	if (msgchan_compose(&child_self->ctl, MSG_LOG, 0, -1, buf,
	    sizeof(hdr) + len) == -1)
		log_emit(pri, role_name(child_self->role), line);
}

static void
child_log_flush(void)
{
	msgchan_flush_wait(&child_self->ctl, 1000);
}

/*
 * First steps of every child, still privileged: find the control
 * socket on its fixed descriptor, shake hands, receive the
 * configuration, and from then on log through the parent.
 */
void
child_init(struct child *c, enum role role)
{
	struct sigaction	 sa;
	sigset_t		 block;
	struct pollfd		 pfd;
	socklen_t		 sl;
	enum msgchan_rv		 rv;
	int			 type, n;

	memset(c, 0, sizeof(*c));
	c->role = role;
	c->reported = ~0u;	/* a role without peers reports once too */
	child_self = c;
	log_init(1, role_name(role));
	for (n = 0; n < ROLE_COUNT; n++)
		msgchan_init(&c->peer[n], -1, role, n);

	sl = sizeof(type);
	if (getsockopt(CHILD_FD_CONTROL, SOL_SOCKET, SO_TYPE, &type, &sl) == -1
	    || type != SOCK_SEQPACKET)
		fatalx("--role is only for the daemon's own children: "
		    "descriptor %d is not a control channel", CHILD_FD_CONTROL);
	msgchan_init(&c->ctl, CHILD_FD_CONTROL, role, ROLE_PARENT);
#if SANDBOX_SANITIZED
	/* Not to our standard error, which is /dev/null: see spawn_exec(). */
	__sanitizer_set_report_fd((void *)(intptr_t)CHILD_FD_SANITIZER);
#endif

	/* The parent stops the daemon; a terminal's ^C reaches us too. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = child_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) == -1)
		fatal("sigaction");
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &block, NULL) == -1)
		fatal("sigprocmask");

	if (msgchan_hello(&c->ctl) == -1)
		fatal("control channel: sending HELLO");
	for (;;) {
		pfd.fd = c->ctl.fd;
		pfd.events = POLLIN;
		if ((n = poll(&pfd, 1, 10000)) == -1 && errno != EINTR)
			fatal("poll");
		if (n == 0)
			fatalx("no configuration from the parent in 10 s");
		if ((rv = msgchan_next(&c->ctl, &child_msg)) == MSGCHAN_CLOSED)
			fatalx("the parent closed the control channel");
		if (rv == MSGCHAN_NONE)
			continue;
		if (child_msg.hdr.type == MSG_CONFIG)
			break;
		log_warnx("unexpected %u message before the configuration",
		    child_msg.hdr.type);
	}
	memcpy(&c->conf, child_msg.data, sizeof(c->conf));
	log_setverbose(c->conf.verbose);
	log_setsink(child_log_sink);
	log_setexit(child_log_flush);
}

/* A channel to a peer on the descriptor the parent placed it on. */
void
child_peer(struct child *c, enum role peer, int fd)
{
	if (fcntl(fd, F_GETFD) == -1)
		fatalx("no %s channel on descriptor %d", role_name(peer), fd);
	c->want |= ROLE_BIT(peer);
	msgchan_init(&c->peer[peer], fd, c->role, peer);
}

void
child_confine(struct child *c)
{
	uint64_t	 as = sandbox_memory_limit(c->role, &c->conf);

	sandbox_child(c->role, &c->conf, &c->root);
	log_debug("confined: uid %u, chroot %s, seccomp %s", c->conf.uid,
	    c->conf.chroot, c->conf.seccomp == SECCOMP_MODE_LOG ? "log" :
	    "kill");
	if (as != 0)
		log_debug("memory limit %llu MiB",
		    (unsigned long long)(as >> 20));
	else
		log_debug("no memory limit in a build with sanitizers");
	if (c->conf.violate)
		sandbox_violate();
}

static void
child_new_channel(struct child *c, struct msg *m)
{
	struct msg_channel	 mc;

	memcpy(&mc, m->data, sizeof(mc));
	if (mc.peer >= ROLE_COUNT || (c->want & ROLE_BIT(mc.peer)) == 0) {
		log_warnx("refusing a channel to %s: not a peer of the %s",
		    role_name(mc.peer), role_name(c->role));
		close(m->fd);
		return;
	}
	msgchan_close(&c->peer[mc.peer]);
	msgchan_init(&c->peer[mc.peer], m->fd, c->role, mc.peer);
	if (msgchan_hello(&c->peer[mc.peer]) == -1) {
		log_warn("%s channel: sending HELLO", role_name(mc.peer));
		msgchan_close(&c->peer[mc.peer]);
	}
	log_info("new %s channel from the parent", role_name(mc.peer));
}

static void
child_reconfigure(struct child *c, struct msg *m)
{
	struct kn_config	 conf;

	memcpy(&conf, m->data, sizeof(conf));
	if (conf.verbose != c->conf.verbose)
		log_info("log verbosity %d", conf.verbose);
	/* The parent refuses changes that need a restart. */
	c->conf.verbose = conf.verbose;
	c->conf.sync_period_ms = conf.sync_period_ms;
	c->conf.watch_timeout = conf.watch_timeout;
	c->conf.compression = conf.compression;
	log_setverbose(conf.verbose);
}

static void
child_control(struct child *c)
{
	enum msgchan_rv	 rv;

	while ((rv = msgchan_next(&c->ctl, &child_msg)) == MSGCHAN_MSG)
		switch (child_msg.hdr.type) {
		case MSG_CONFIG:
			child_reconfigure(c, &child_msg);
			break;
		case MSG_CHANNEL:
			child_new_channel(c, &child_msg);
			break;
		case MSG_PING:
			/* The parent restarts a child that stops answering. */
			if (msgchan_compose(&c->ctl, MSG_PONG, 0, -1,
			    child_msg.data, sizeof(struct msg_ping)) == -1)
				log_warn("control channel: answering a "
				    "liveness check");
			break;
		default:
			if (c->ops != NULL && c->ops->control != NULL)
				c->ops->control(c, &child_msg);
			else
				log_warnx("unexpected message %u from the "
				    "parent", child_msg.hdr.type);
			break;
		}
	if (rv == MSGCHAN_CLOSED) {
		log_setsink(NULL);
		log_setexit(NULL);
		log_warnx("the parent went away; exiting");
		exit(1);
	}
}

static void
child_peer_input(struct child *c, enum role peer)
{
	struct msgchan	*ch = &c->peer[peer];
	int		 was_up = msgchan_up(ch);
	enum msgchan_rv	 rv;

	for (;;) {
		rv = msgchan_next(ch, &child_msg);
		/* Its HELLO came: the role greets it before its messages. */
		if (!was_up && msgchan_up(ch)) {
			was_up = 1;
			if (c->ops != NULL && c->ops->peer_up != NULL)
				c->ops->peer_up(c, peer);
		}
		if (rv != MSGCHAN_MSG)
			break;
		if (c->ops != NULL && c->ops->peer != NULL)
			c->ops->peer(c, peer, &child_msg);
		else
			log_warnx("unexpected message %u from the %s",
			    child_msg.hdr.type, role_name(peer));
	}
	if (rv == MSGCHAN_CLOSED)
		log_debug("%s channel closed; waiting for a new one",
		    role_name(peer));
}

/* Tell the parent once every channel of this role has shaken hands. */
static void
child_report(struct child *c)
{
	struct msg_ready	 r;
	uint32_t		 up = 0;
	int			 p;

	for (p = 0; p < ROLE_COUNT; p++)
		if ((c->want & ROLE_BIT(p)) && msgchan_up(&c->peer[p]))
			up |= ROLE_BIT(p);
	if (up == c->want && c->reported != up && msgchan_up(&c->ctl)) {
		memset(&r, 0, sizeof(r));
		r.channels = up;
		r.root_dev = c->root.st_dev;
		r.root_ino = c->root.st_ino;
		if (msgchan_compose(&c->ctl, MSG_READY, 0, -1, &r,
		    sizeof(r)) == -1)
			log_warn("control channel: sending READY");
	}
	c->reported = up;
}

/* The role's counters live at data; the loop sends them when changed. */
void
child_stats(struct child *c, uint32_t type, const void *data, size_t len)
{
	c->stats_type = type;
	c->stats = data;
	c->stats_len = len;
}

/* At most one update a second, unless now: the parent is waiting. */
void
child_stats_changed(struct child *c, int now)
{
	c->stats_dirty = 1;
	if (now)
		c->stats_next = 0;
}

static void
child_stats_send(struct child *c, int64_t *timeout)
{
	int64_t	 now = mono_ms(), left;

	if (!c->stats_dirty || c->stats == NULL)
		return;
	if (now < c->stats_next) {
		left = c->stats_next - now;
		if (*timeout < 0 || left < *timeout)
			*timeout = left;
		return;
	}
	if (c->ops != NULL && c->ops->stats != NULL)
		c->ops->stats(c);
	if (msgchan_compose(&c->ctl, c->stats_type, 0, -1, c->stats,
	    c->stats_len) == -1)
		log_warn("control channel: sending counters");
	c->stats_dirty = 0;
	c->stats_next = now + 1000;
}

/*
 * A table for kopeio-networkctl, to the parent: as many records as fit
 * in each message, then the end, all under the asking client's id.
 */
void
child_send_table(struct child *c, uint32_t type, uint32_t id,
    const void *records, size_t n, size_t size)
{
	size_t	 per = (MSG_MAXLEN - sizeof(struct msg_hdr)) / size, k;

	for (; n > 0; n -= k, records = (const char *)records + k * size) {
		k = n < per ? n : per;
		if (msgchan_compose(&c->ctl, type, id, -1, records,
		    k * size) == -1) {
			log_warn("control channel: sending a table");
			return;
		}
	}
	if (msgchan_compose(&c->ctl, MSG_DUMP_END, id, -1, NULL, 0) == -1)
		log_warn("control channel: sending a table");
}

void
child_loop(struct child *c)
{
	struct pollfd	 pfd[1 + ROLE_COUNT + CHILD_POLL_MAX];
	enum role	 who[1 + ROLE_COUNT];
	struct timespec	 ts;
	sigset_t	 empty;
	int64_t		 timeout;
	int		 p, n, i, nrole;

	sigemptyset(&empty);
	for (p = 0; p < ROLE_COUNT; p++)
		if (msgchan_open(&c->peer[p]) &&
		    msgchan_hello(&c->peer[p]) == -1) {
			log_warn("%s channel: sending HELLO", role_name(p));
			msgchan_close(&c->peer[p]);
		}
	while (!child_quit) {
		child_report(c);
		n = 0;
		pfd[n].fd = c->ctl.fd;
		pfd[n].events = POLLIN | (c->ctl.queued ? POLLOUT : 0);
		who[n++] = ROLE_PARENT;
		for (p = 0; p < ROLE_COUNT; p++) {
			if (!msgchan_open(&c->peer[p]))
				continue;
			pfd[n].fd = c->peer[p].fd;
			pfd[n].events = POLLIN |
			    (c->peer[p].queued ? POLLOUT : 0);
			who[n++] = p;
		}
		timeout = -1;
		nrole = 0;
		if (c->ops != NULL && c->ops->poll != NULL)
			nrole = c->ops->poll(c, pfd + n, CHILD_POLL_MAX,
			    &timeout);
		child_stats_send(c, &timeout);
		if (c->ctl.queued)
			pfd[0].events |= POLLOUT;
		if (timeout >= 0) {
			ts.tv_sec = timeout / 1000;
			ts.tv_nsec = (timeout % 1000) * 1000000;
		}
		if (ppoll(pfd, n + nrole, timeout >= 0 ? &ts : NULL,
		    &empty) == -1) {
			if (errno == EINTR)
				continue;
			fatal("ppoll");
		}
		for (i = 0; i < n; i++) {
			struct msgchan	*ch = who[i] == ROLE_PARENT ?
			    &c->ctl : &c->peer[who[i]];

			if ((pfd[i].revents & POLLOUT) &&
			    msgchan_flush(ch) == -1) {
				log_warn("%s channel: send",
				    role_name(who[i]));
				msgchan_close(ch);
			}
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (who[i] == ROLE_PARENT)
				child_control(c);
			else
				child_peer_input(c, who[i]);
		}
		if (c->ops != NULL && c->ops->io != NULL)
			c->ops->io(c, pfd + n, nrole);
	}
	log_debug("stopping");
	child_log_flush();
	exit(0);
}
