/*
 * kopeio-networkctl: shows what the daemon knows and asks it to
 * reload or re-sync, over its root-only control socket.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ctlshow.h"
#include "log.h"
#include "msg.h"

#define REPLY_TIMEOUT_MS	10000

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

static const char usage_text[] =
"usage: kopeio-networkctl [-hV] [-s socket] command\n"
"\n"
"  show status    mode, generation, last sync, peers, the processes\n"
"  show nodes     the nodes the watcher knows\n"
"  show routes    each route intent and whether the kernel has it\n"
"  show masquerade  table inet kopeio as the kernel has it\n"
"  reload         read the configuration again (as SIGHUP does)\n"
"  resync         list the nodes again and re-read the kernel\n"
"\n"
"  -s, --socket file   the daemon's control socket (default "
KN_DEFAULT_SOCKET ")\n"
"  -h, --help          show this help and exit\n"
"  -V, --version       show the version and exit\n";

static struct msg	 m;

static void __attribute__((__noreturn__))
usage(void)
{
	fputs(usage_text, stderr);
	exit(2);
}

static void __attribute__((__noreturn__, __format__(__printf__, 1, 2)))
die(const char *fmt, ...)
{
	va_list	 ap;

	fputs("kopeio-networkctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int
ctl_connect(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path) >=
	    (int)sizeof(sun.sun_path))
		die("%s: path too long", path);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		die("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			die("cannot reach the daemon on %s: %s (is "
			    "kopeio-networkd running? -s names its socket)",
			    path, strerror(errno));
		if (errno == EACCES || errno == EPERM)
			die("%s: %s (the control socket is root's only)", path,
			    strerror(errno));
		die("%s: %s", path, strerror(errno));
	}
	return fd;
}

/* The next message from the daemon; the handshake is skipped. */
static void
next(struct msgchan *ch)
{
	struct pollfd	 pfd = { ch->fd, POLLIN, 0 };
	enum msgchan_rv	 rv;
	int		 n;

	while ((rv = msgchan_next(ch, &m)) != MSGCHAN_MSG) {
		if (rv == MSGCHAN_CLOSED)
			die("the daemon closed the connection");
		if ((n = poll(&pfd, 1, REPLY_TIMEOUT_MS)) == -1 &&
		    errno != EINTR)
			die("poll: %s", strerror(errno));
		if (n == 0)
			die("no answer from the daemon in %d s",
			    REPLY_TIMEOUT_MS / 1000);
	}
}

int
main(int argc, char *argv[])
{
	static const struct option	 opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct msgchan			 ch;
	struct ctl_reply		 reply;
	const char			*path = KN_DEFAULT_SOCKET;
	uint32_t			 type, what = 0;
	int				 c, rv;

	while ((c = getopt_long(argc, argv, "hs:V", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			path = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("kopeio-networkctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 2 && strcmp(argv[0], "show") == 0) {
		type = MSG_CTL_SHOW;
		if (strcmp(argv[1], "status") == 0)
			what = CTL_SHOW_STATUS;
		else if (strcmp(argv[1], "nodes") == 0)
			what = CTL_SHOW_NODES;
		else if (strcmp(argv[1], "routes") == 0)
			what = CTL_SHOW_ROUTES;
		else if (strcmp(argv[1], "masquerade") == 0)
			what = CTL_SHOW_MASQ;
		else
			usage();
	} else if (argc == 1 && strcmp(argv[0], "reload") == 0)
		type = MSG_CTL_RELOAD;
	else if (argc == 1 && strcmp(argv[0], "resync") == 0)
		type = MSG_CTL_RESYNC;
	else
		usage();

	msgchan_init(&ch, ctl_connect(path), ROLE_CTL, ROLE_PARENT);
	if (msgchan_hello(&ch) == -1 || msgchan_compose(&ch, type, 0, -1,
	    type == MSG_CTL_SHOW ? &what : NULL, type == MSG_CTL_SHOW ?
	    sizeof(what) : 0) == -1 || msgchan_flush_wait(&ch,
	    REPLY_TIMEOUT_MS) == -1)
		die("%s: sending the request: %s", path, strerror(errno));
	/* Whatever the daemon sends is checked and escaped: see ctlshow.c. */
	ctl_reply_init(&reply, type == MSG_CTL_SHOW, what);
	do {
		next(&ch);
		if ((rv = ctl_reply_msg(&reply, stdout, stderr, m.hdr.type,
		    m.data, m.len)) == -1)
			die("unexpected message %u (%zu bytes) from the daemon",
			    m.hdr.type, m.len);
	} while (rv == 1);
	ctl_reply_free(&reply);
	msgchan_close(&ch);
	return reply.status;
}
