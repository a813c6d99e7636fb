/*
 * The control socket.  Only root may connect: the socket is created
 * mode 0600 and each client's credentials are checked on accept.  A
 * client sends one request; status is answered by the parent, a
 * table is asked of the child that keeps it and relayed record by
 * record under the client's id, so a child that is slow or gone
 * costs the client, never the parent.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "k8s_parse.h"
#include "log.h"
#include "sandbox.h"

struct client {
	struct msgchan	 ch;
	uint32_t	 id;		/* of its pending table; 0: none */
};

static int			 ctl_fd = -1;
static char			 ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static struct stat		 ctl_st;	/* to remove only our own */
static struct client		 clients[CONTROL_CLIENTS];
static uint32_t			 ctl_seq;
static const struct control_ops	*ctl_ops;
static void			*ctl_arg;
static struct msg		 ctl_msg;

int
control_listen(const char *path, const struct control_ops *ops, void *arg,
    char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	mode_t			 old;
	int			 fd, i;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path) >=
	    (int)sizeof(sun.sun_path))
		return errset(err, errlen, "control socket %s: path too long",
		    path);
	/* Nobody but root may swap the socket, or what its path leads to. */
	if (sandbox_check_dirs("control socket", path, err, errlen) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		return errset(err, errlen, "control socket: %s",
		    strerror(errno));
	/* A socket nobody answers on is left from a daemon that died. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		close(fd);
		return errset(err, errlen, "control socket %s: another daemon "
		    "is running (use -s for a second one)", path);
	}
	close(fd);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return errset(err, errlen, "control socket %s: exists "
			    "and is not a socket", path);
		if (unlink(path) == -1)
			return errset(err, errlen, "control socket %s: %s",
			    path, strerror(errno));
	}
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1)
		return errset(err, errlen, "control socket: %s",
		    strerror(errno));
	/* Made mode 0600 by bind itself: a chmod by path could follow a link. */
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		close(fd);
		return errset(err, errlen, "control socket %s: %s", path,
		    strerror(errno));
	}
	umask(old);
	if (lstat(path, &ctl_st) == -1 || listen(fd, CONTROL_CLIENTS) == -1) {
		errset(err, errlen, "control socket %s: %s", path,
		    strerror(errno));
		unlink(path);
		close(fd);
		return -1;
	}
	snprintf(ctl_path, sizeof(ctl_path), "%s", path);
	ctl_fd = fd;
	ctl_ops = ops;
	ctl_arg = arg;
	for (i = 0; i < CONTROL_CLIENTS; i++)
		msgchan_init(&clients[i].ch, -1, ROLE_PARENT, ROLE_CTL);
	return 0;
}

/* On the way out: the socket goes, unless another daemon's replaced it. */
void
control_cleanup(void)
{
	struct stat	 st;
	int		 i;

	if (ctl_fd == -1)
		return;
	for (i = 0; i < CONTROL_CLIENTS; i++)
		msgchan_close(&clients[i].ch);
	close(ctl_fd);
	ctl_fd = -1;
	if (lstat(ctl_path, &st) == 0 && st.st_ino == ctl_st.st_ino &&
	    st.st_dev == ctl_st.st_dev)
		unlink(ctl_path);
}

static void
control_accept(void)
{
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	int		 fd, i;

	if ((fd = accept4(ctl_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("control socket: accept");
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    cred.uid != 0) {
		log_warnx("control socket: refused a client of uid %ld",
		    len == sizeof(cred) ? (long)cred.uid : -1L);
		close(fd);
		return;
	}
	for (i = 0; i < CONTROL_CLIENTS; i++)
		if (!msgchan_open(&clients[i].ch))
			break;
	if (i == CONTROL_CLIENTS) {
		log_warnx("control socket: %d clients already", i);
		close(fd);
		return;
	}
	msgchan_init(&clients[i].ch, fd, ROLE_PARENT, ROLE_CTL);
	clients[i].id = 0;
	if (msgchan_hello(&clients[i].ch) == -1)
		msgchan_close(&clients[i].ch);
}

static void
control_result(struct client *cl, int status, const char *text)
{
	unsigned char	 buf[sizeof(struct msg_ctl_result) + 1024];
	struct msg_ctl_result r = { status };
	size_t		 n = strnlen(text, 1024);

	memcpy(buf, &r, sizeof(r));
	memcpy(buf + sizeof(r), text, n);
	if (msgchan_compose(&cl->ch, MSG_CTL_RESULT, 0, -1, buf,
	    sizeof(r) + n) == -1)
		msgchan_close(&cl->ch);
}

static void
control_request(struct client *cl, int slot, const struct msg *m)
{
	struct kn_status	 st;
	char			 text[1024];
	uint32_t		 what;
	enum role		 r;
	int			 rv;

	switch (m->hdr.type) {
	case MSG_CTL_SHOW:
		memcpy(&what, m->data, sizeof(what));
		if (what == CTL_SHOW_STATUS) {
			ctl_ops->status(ctl_arg, &st);
			if (msgchan_compose(&cl->ch, MSG_STATUS, 0, -1, &st,
			    sizeof(st)) == -1)
				msgchan_close(&cl->ch);
			return;
		}
		if (what != CTL_SHOW_NODES && what != CTL_SHOW_ROUTES &&
		    what != CTL_SHOW_MASQ) {
			control_result(cl, 2, "unknown table");
			return;
		}
		r = what == CTL_SHOW_NODES ? ROLE_WATCHER : ROLE_EXECUTOR;
		cl->id = (++ctl_seq << 4) | (uint32_t)slot;
		if (ctl_ops->dump(ctl_arg, r, what == CTL_SHOW_MASQ ?
		    MSG_MASQ_DUMP : MSG_DUMP, cl->id) == -1) {
			cl->id = 0;
			snprintf(text, sizeof(text), "the %s is not running",
			    role_name(r));
			control_result(cl, 1, text);
		}
		return;
	case MSG_CTL_RELOAD:
		rv = ctl_ops->reload(ctl_arg, text, sizeof(text));
		control_result(cl, rv, text);
		return;
	case MSG_CTL_RESYNC:
		ctl_ops->resync(ctl_arg);
		control_result(cl, 0, "re-sync started: the watcher lists the "
		    "nodes again, the executor re-reads the kernel");
		return;
	}
	log_warnx("control socket: unexpected message %u", m->hdr.type);
	msgchan_close(&cl->ch);
}

/*
 * Node names come from the watcher, the process assumed compromised,
 * and go to root's terminal: each must be a Kubernetes name, ended
 * within its field.  One that is not is cut at its field's end and
 * made printable, and the parent says so once per message.
 */
static void
control_check_names(struct msg_node_info *ni, size_t n)
{
	char	 first[sizeof(ni->name)] = "";
	size_t	 i, len, bad = 0;

	for (i = 0; i < n; i++) {
		len = strnlen(ni[i].name, sizeof(ni[i].name));
		if (len < sizeof(ni[i].name) &&
		    k8s_name_ok((const unsigned char *)ni[i].name, len))
			continue;
		if (len == sizeof(ni[i].name))
			len--;
		ni[i].name[len] = '\0';
		log_sanitize(ni[i].name, len);
		if (bad++ == 0)
			memcpy(first, ni[i].name, len + 1);
	}
	if (bad > 0)
		log_warnx("control socket: the watcher sent %zu node names "
		    "that are not Kubernetes names; shown with '?' for what "
		    "is not printable, the first as \"%s\"", bad, first);
}

/* A record of a table a client asked for; dropped if it went away. */
void
control_forward(const struct msg *m)
{
	static struct msg_node_info	 ni[(MSG_MAXLEN -
					    sizeof(struct msg_hdr)) /
					    sizeof(struct msg_node_info)];
	struct client			*cl = &clients[m->hdr.id & 15];
	const void			*data = m->data;

	if (m->hdr.id == 0 || (m->hdr.id & 15) >= CONTROL_CLIENTS ||
	    cl->id != m->hdr.id || !msgchan_open(&cl->ch))
		return;
	/* The rule table bounds the length to whole records that fit. */
	if (m->hdr.type == MSG_NODE_INFO && m->len <= sizeof(ni)) {
		memcpy(ni, m->data, m->len);
		control_check_names(ni, m->len / sizeof(ni[0]));
		data = ni;
	}
	if (msgchan_compose(&cl->ch, m->hdr.type, 0, -1, data, m->len) ==
	    -1) {
		log_warnx("control socket: a client does not read; closing it");
		msgchan_close(&cl->ch);
		return;
	}
	if (m->hdr.type == MSG_DUMP_END)
		cl->id = 0;
}

int
control_pollfds(struct pollfd *pfd, int max)
{
	int	 i, n = 0;

	if (ctl_fd == -1 || max < 1 + CONTROL_CLIENTS)
		return 0;
	pfd[n].fd = ctl_fd;
	pfd[n++].events = POLLIN;
	for (i = 0; i < CONTROL_CLIENTS; i++) {
		pfd[n].fd = clients[i].ch.fd;	/* -1: ignored by poll */
		pfd[n++].events = POLLIN |
		    (clients[i].ch.queued ? POLLOUT : 0);
	}
	return n;
}

void
control_io(const struct pollfd *pfd, int n)
{
	struct client	*cl;
	int		 i;

	if (n == 0)
		return;
	for (i = 0; i < CONTROL_CLIENTS && i + 1 < n; i++) {
		cl = &clients[i];
		if (!msgchan_open(&cl->ch) || pfd[i + 1].fd != cl->ch.fd)
			continue;
		if ((pfd[i + 1].revents & POLLOUT) &&
		    msgchan_flush(&cl->ch) == -1) {
			msgchan_close(&cl->ch);
			continue;
		}
		if (!(pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		/* A request that closes the client ends this: CLOSED. */
		while (msgchan_next(&cl->ch, &ctl_msg) == MSGCHAN_MSG)
			control_request(cl, i, &ctl_msg);
	}
	if (pfd[0].revents & POLLIN)
		control_accept();
}
