/*
 * kopeio-networkctl: shows what the daemon knows and asks it to
 * reload or re-sync, over its root-only control socket.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
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
	int		 n;

	for (;;) {
		switch (msgchan_recv(ch, &m)) {
		case MSGCHAN_MSG:
			return;
		case MSGCHAN_SKIP:
			continue;
		case MSGCHAN_CLOSED:
			die("the daemon closed the connection");
		case MSGCHAN_NONE:
			break;
		}
		if ((n = poll(&pfd, 1, REPLY_TIMEOUT_MS)) == -1 &&
		    errno != EINTR)
			die("poll: %s", strerror(errno));
		if (n == 0)
			die("no answer from the daemon in %d s",
			    REPLY_TIMEOUT_MS / 1000);
	}
}

static void
ago(char *buf, size_t len, int64_t ms)
{
	long long	 s = ms / 1000;

	if (s >= 86400)
		snprintf(buf, len, "%lldd%lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%lldh%lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%lldm%llds", s / 60, s % 60);
	else
		snprintf(buf, len, "%llds", s);
}

static void
show_status(const struct kn_status *st)
{
	const struct msg_exec_stats	*e = &st->exec;
	char				 t[32], when[64];
	time_t				 tt;
	int				 r;

	ago(t, sizeof(t), st->now - st->started);
	printf("kopeio-networkd %.*s, provider %s, up %s\n",
	    (int)strnlen(st->version, sizeof(st->version)), st->version,
	    mode_name(st->mode), t);
	printf("ready: %s\n", st->ready ? "yes" : "no");
	if (e->gen_time == 0)
		printf("last sync: none yet\n");
	else {
		tt = e->gen_time / 1000;
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC",
		    gmtime(&tt));
		ago(t, sizeof(t), st->now - e->gen_time);
		printf("last sync: generation %llu at %s (%s ago): %u "
		    "intents accepted, %u refused, %u kernel objects failed\n",
		    (unsigned long long)e->gen, when, t, e->applied,
		    e->refused, e->failed);
	}
	printf("peers: %u of %u nodes; %u intents, %u kernel objects\n",
	    st->watch.peers, st->watch.nodes, e->intents, e->objects);
	if (st->cni_config[0] == '\0')
		printf("cni config: none (--cni-config not set)\n");
	else
		printf("cni config: %.*s, %s\n",
		    (int)strnlen(st->cni_config, sizeof(st->cni_config)),
		    st->cni_config, st->cni_written ? "written" :
		    "not written yet");
	printf("%-11s %-8s %-8s %-9s %s\n", "PROCESS", "PID", "STATE",
	    "RESTARTS", "UP");
	for (r = ROLE_WATCHER; r < ROLE_NPROC; r++) {
		const struct status_proc *p = &st->proc[r];

		if (!p->wanted) {
			printf("%-11s %-8s %-8s\n", role_name(r), "-", "off");
			continue;
		}
		if (p->pid != 0)
			ago(t, sizeof(t), st->now - p->started);
		else
			snprintf(t, sizeof(t), "-");
		printf("%-11s %-8d %-8s %-9u %s\n", role_name(r), p->pid,
		    p->running ? "running" : p->pid ? "starting" : "down",
		    p->restarts, t);
	}
}

static void
prefix_str(uint8_t family, const uint8_t *addr, uint8_t plen, char *buf,
    size_t len)
{
	struct kn_prefix	 p = { family, plen, { 0 } };

	memcpy(p.addr, addr, family == AF_INET ? 4 : 16);
	prefix_format(&p, buf, len);
}

static int
node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct msg_node_info *)a)->name,
	    ((const struct msg_node_info *)b)->name);
}

static void
show_nodes(struct msg_node_info *ni, size_t n)
{
	char	 a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN], addr[80];
	char	 c[2][INET6_ADDRSTRLEN + 4], name[sizeof(ni->name) + 8];
	size_t	 i;
	int	 k;

	qsort(ni, n, sizeof(*ni), node_cmp);
	printf("%-30s %-32s %s\n", "NAME", "ADDRESS", "POD CIDRS");
	for (i = 0; i < n; i++) {
		ni[i].name[sizeof(ni[i].name) - 1] = '\0';
		log_sanitize(ni[i].name, strlen(ni[i].name));
		snprintf(name, sizeof(name), "%s%s", ni[i].name,
		    ni[i].local ? " (this)" : "");
		inet_ntop(AF_INET, ni[i].addr4, a4, sizeof(a4));
		inet_ntop(AF_INET6, ni[i].addr6, a6, sizeof(a6));
		snprintf(addr, sizeof(addr), "%s%s%s",
		    ni[i].has4 ? a4 : "", ni[i].has4 && ni[i].has6 ? "," : "",
		    ni[i].has6 ? a6 : "");
		for (k = 0; k < 2; k++) {
			c[k][0] = '\0';
			if (k < ni[i].ncidr)
				prefix_str(ni[i].family[k], ni[i].cidr[k],
				    ni[i].plen[k], c[k], sizeof(c[k]));
		}
		printf("%-30s %-32s %s%s%s\n", name, *addr ? addr : "-",
		    *c[0] ? c[0] : "-", *c[1] ? "," : "", c[1]);
	}
}

static int
route_cmp(const void *a, const void *b)
{
	const struct msg_intent	*x = &((const struct msg_route_info *)a)->in;
	const struct msg_intent	*y = &((const struct msg_route_info *)b)->in;

	if (x->family != y->family)
		return x->family - y->family;
	return memcmp(x->prefix, y->prefix, sizeof(x->prefix));
}

static void
show_routes(struct msg_route_info *ri, size_t n)
{
	char	 p[INET6_ADDRSTRLEN + 4], node[INET6_ADDRSTRLEN], k[32];
	size_t	 i;

	qsort(ri, n, sizeof(*ri), route_cmp);
	printf("%-44s %-40s %s\n", "POD CIDR", "NODE", "KERNEL");
	for (i = 0; i < n; i++) {
		prefix_str(ri[i].in.family, ri[i].in.prefix, ri[i].in.plen, p,
		    sizeof(p));
		inet_ntop(ri[i].in.family, ri[i].in.node, node, sizeof(node));
		snprintf(k, sizeof(k), "%s (%u/%u)", ri[i].present ==
		    ri[i].wanted ? "installed" : "missing", ri[i].present,
		    ri[i].wanted);
		printf("%-44s %-40s %s\n", p, node, k);
	}
}

/* A table: records until the end. */
static void
table(struct msgchan *ch, uint32_t type, size_t size, int routes)
{
	unsigned char	*recs = NULL;
	size_t		 n = 0;

	for (;;) {
		next(ch);
		if (m.hdr.type == MSG_DUMP_END)
			break;
		if (m.hdr.type == MSG_CTL_RESULT)
			return;
		if (m.hdr.type != type)
			die("unexpected message %u from the daemon",
			    m.hdr.type);
		if ((recs = realloc(recs, n * size + m.len)) == NULL)
			die("out of memory");
		memcpy(recs + n * size, m.data, m.len);
		n += m.len / size;
	}
	if (routes)
		show_routes((struct msg_route_info *)recs, n);
	else
		show_nodes((struct msg_node_info *)recs, n);
	free(recs);
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
	struct msg_ctl_result		 res;
	struct kn_status		 st;
	const char			*path = KN_DEFAULT_SOCKET;
	uint32_t			 type, what = 0;
	int				 c, status = 0;

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
	if (type == MSG_CTL_SHOW && what == CTL_SHOW_STATUS) {
		next(&ch);
		if (m.hdr.type == MSG_STATUS) {
			memcpy(&st, m.data, sizeof(st));
			show_status(&st);
		}
	} else if (type == MSG_CTL_SHOW)
		table(&ch, what == CTL_SHOW_NODES ? MSG_NODE_INFO :
		    MSG_ROUTE_INFO, what == CTL_SHOW_NODES ?
		    sizeof(struct msg_node_info) :
		    sizeof(struct msg_route_info), what == CTL_SHOW_ROUTES);
	else
		next(&ch);
	if (m.hdr.type == MSG_CTL_RESULT) {
		memcpy(&res, m.data, sizeof(res));
		fprintf(res.status ? stderr : stdout, "%s%.*s\n",
		    res.status ? "kopeio-networkctl: " : "",
		    (int)(m.len - sizeof(res)), (const char *)m.data +
		    sizeof(res));
		status = res.status;
	}
	msgchan_close(&ch);
	return status;
}
