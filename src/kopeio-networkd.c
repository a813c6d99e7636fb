/*
 * kopeio-networkd: the parent.  Reads the configuration, starts the
 * confined children (watcher, executor, metrics, and in vxlan-legacy
 * mode the ARP helper) by re-executing itself, wires their channels,
 * supervises them (restarts one that dies or hangs, re-reads the
 * token, key and configuration, answers the control socket), and
 * stops them all in order.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apiconf.h"
#include "apiconn.h"
#include "child.h"
#include "clock.h"
#include "cni.h"
#include "config.h"
#include "control.h"
#include "ipseckey.h"
#include "log.h"
#include "msg.h"
#include "parent.h"
#include "sandbox.h"
#include "selftest.h"
#include "spawn.h"
#include "status.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		10000
#define RESTART_WINDOW_MS	60000
#define STOP_GRACE_MS		5000
#define SELFTEST_TIMEOUT_MS	15000
#define TOKEN_CHECK_MS		10000

static volatile sig_atomic_t	 sig_quit, sig_hup, sig_chld;

static int	 run_role(const char *);
static void	 parent_signals(void);
static void	 start_all(struct parent *, int selftest);
static void	 proc_start(struct parent *, struct proc *);
static void	 parent_step(struct parent *, int64_t timeout_ms);
static int	 parent_selftest(struct parent *);
static void	 stop_children(struct parent *);
static void	 ctl_status(void *, struct kn_status *);
static int	 ctl_reload(void *, char *, size_t);
static int	 ctl_dump(void *, enum role, uint32_t, uint32_t);
static void	 ctl_resync(void *);

static const struct control_ops ctl_ops = {
	ctl_status, ctl_reload, ctl_dump, ctl_resync
};

int
main(int argc, char *argv[])
{
	static struct parent	 pa;	/* large: not on the stack */
	struct kn_cmdline	 cl;
	char			 err[512];
	int			 rv = 0;

	pa.exe_fd = pa.metrics_fd = -1;
	pa.ipsec.encap_fd[0] = pa.ipsec.encap_fd[1] = -1;
	if (config_load(&pa.conf, &cl, argc, argv, err, sizeof(err)) == -1) {
		fprintf(stderr, "kopeio-networkd: %s\n", err);
		return 1;
	}
	switch (cl.action) {
	case ACTION_HELP:
		config_usage(STDOUT_FILENO);
		return 0;
	case ACTION_VERSION:
		printf("kopeio-networkd %s\n", PACKAGE_VERSION);
		return 0;
	case ACTION_ROLE:
		return run_role(cl.role);
	case ACTION_CHECK:
		return check_config(&pa);
	case ACTION_RUN:
	case ACTION_SELFTEST:
		break;
	}
	if (cl.action == ACTION_SELFTEST)
		pa.conf.log_stderr = 1;
	/* Nothing we did not open ourselves reaches a child. */
	closefrom(STDERR_FILENO + 1);
	if (geteuid() != 0) {
		fprintf(stderr, "kopeio-networkd: must be started as root: it "
		    "confines each of its processes itself\n");
		return 1;
	}
	if (config_resolve_user(&pa.conf, err, sizeof(err)) == -1 ||
	    sandbox_check_root(pa.conf.chroot, 1, err, sizeof(err)) == -1) {
		fprintf(stderr, "kopeio-networkd: %s\n", err);
		return 1;
	}
	if ((rv = check_ids(&pa.conf)) != 0)
		return rv;
	/* The self-test needs no cluster: its watcher waits, confined. */
	if (cl.action == ACTION_RUN) {
		if (ipsec_key_check(&pa.conf, err, sizeof(err)) == -1 ||
		    apiconf_load(&pa.conf, &pa.api, err, sizeof(err)) == -1) {
			fprintf(stderr, "kopeio-networkd: %s\n", err);
			return 1;
		}
		pa.have_api = 1;
		pa.token_check = mono_ms() + TOKEN_CHECK_MS;
		apiconn_init((struct sockaddr *)&pa.api.addr, pa.api.addrlen);
	}
	pa.argc = argc;
	pa.argv = argv;
	log_init(pa.conf.log_stderr, role_name(ROLE_PARENT));
	log_setverbose(pa.conf.verbose);
	/* The self-test serves on a port of its own, and no socket. */
	if (parent_open(&pa, cl.action == ACTION_SELFTEST, &ctl_ops, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "kopeio-networkd: %s\n", err);
		return 1;
	}
	if (cl.action == ACTION_RUN &&
	    ipsec_start(&pa.ipsec, &pa.conf, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return 1;
	}
	pa.status.started_wall = wall_ms();
	pa.liveness_ms = liveness_bound(&pa.conf);
	pa.exe_fd = spawn_exe("/proc/self/exe");
	sandbox_parent();
	parent_signals();
	start_all(&pa, cl.action == ACTION_SELFTEST);

	if (cl.action == ACTION_SELFTEST)
		rv = parent_selftest(&pa);
	else
		while (!sig_quit)
			parent_step(&pa, -1);
	log_info("stopping");
	stop_children(&pa);
	parent_close(&pa);
	log_info("stopped");
	apiconf_free(&pa.api);
	return rv ? rv : pa.exit_status;
}

static int
run_role(const char *name)
{
	enum role	 r;

	if (role_from_name(name, &r) == -1) {
		fprintf(stderr, "kopeio-networkd: --role: unknown role "
		    "\"%s\"\n", name);
		return 1;
	}
	switch (r) {
	case ROLE_WATCHER:
		watcher_main();
	case ROLE_EXECUTOR:
		executor_main();
	case ROLE_ARP:
		arp_main();
	case ROLE_METRICS:
		metrics_main();
	default:
		return 1;
	}
}

/* --- start ---------------------------------------------------------- */

static void
parent_signal(int sig)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		sig_quit = 1;
		break;
	case SIGHUP:
		sig_hup = 1;
		break;
	case SIGCHLD:
		sig_chld = 1;
		break;
	}
}

static void
parent_signals(void)
{
	struct sigaction	 sa;
	sigset_t		 block;
	const int		 sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	size_t			 i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = parent_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (sigaction(sigs[i], &sa, NULL) == -1)
			fatal("sigaction");
		sigaddset(&block, sigs[i]);
	}
	signal(SIGPIPE, SIG_IGN);
	/* Delivered only inside ppoll(), so the flags are never missed. */
	if (sigprocmask(SIG_BLOCK, &block, NULL) == -1)
		fatal("sigprocmask");
}

static void
send_blob(struct msgchan *ch, uint32_t type, const struct api_blob *b)
{
	size_t	 off, n;

	for (off = 0; off < b->len; off += n) {
		n = b->len - off > API_BLOB_MAX ? API_BLOB_MAX : b->len - off;
		if (msgchan_compose(ch, type, 0, -1, b->data + off, n) == -1)
			log_warn("watcher control channel");
	}
}

static void
send_token(struct parent *pa)
{
	struct proc	*p = &pa->procs[ROLE_WATCHER];

	if (p->pid != 0 && msgchan_compose(&p->ctl, MSG_API_TOKEN, 0, -1,
	    pa->api.token.data, pa->api.token.len) == -1)
		log_warn("watcher control channel");
}

/* The watcher gets the contents of the credentials, never their paths. */
static void
send_api(struct parent *pa, struct proc *p)
{
	if (!pa->have_api)
		return;
	if (msgchan_compose(&p->ctl, MSG_API_SERVER, 0, -1, &pa->api.srv,
	    sizeof(pa->api.srv)) == -1)
		log_warn("watcher control channel");
	send_blob(&p->ctl, MSG_API_CA, &pa->api.ca);
	send_blob(&p->ctl, MSG_API_CERT, &pa->api.cert);
	send_blob(&p->ctl, MSG_API_KEY, &pa->api.key);
	send_token(pa);
	if (msgchan_compose(&p->ctl, MSG_API_DONE, 0, -1, NULL, 0) == -1)
		log_warn("watcher control channel");
}

/*
 * Start one child with the given peer channel ends, which the parent
 * then closes; its HELLO and configuration are queued.
 */
static void
proc_spawn(struct parent *pa, struct proc *p, int peer, int peer2)
{
	struct kn_config	 pc;

	pc = pa->conf;
	pc.violate = p->violate;
	p->pid = spawn_child(pa->exe_fd, p->role, &pc, peer, peer2, &p->ctl);
	p->ready = 0;
	p->restart_at = 0;
	p->started = mono_ms();
	p->started_wall = wall_ms();
	liveness_start(p, p->started);
	pa->status.next = 0;
	if (p->role == ROLE_WATCHER)
		send_api(pa, p);
	if (p->role == ROLE_EXECUTOR && pa->conf.mode == MODE_IPSEC)
		ipsec_send(&pa->ipsec, &p->ctl);
	log_debug("started the %s (pid %d)", role_name(p->role), p->pid);
}

/* First start: every channel end goes to its child on exec. */
static void
start_all(struct parent *pa, int selftest)
{
	struct proc	*procs = pa->procs;
	int		 we[2], wa[2] = { -1, -1 }, r;

	for (r = ROLE_WATCHER; r < ROLE_NPROC; r++) {
		procs[r].role = r;
		msgchan_init(&procs[r].ctl, -1, ROLE_PARENT, r);
		procs[r].wanted = selftest ||
		    (r != ROLE_ARP && r != ROLE_METRICS) ||
		    (r == ROLE_ARP && pa->conf.mode == MODE_VXLAN_LEGACY) ||
		    (r == ROLE_METRICS && pa->metrics_fd != -1);
	}
	msgchan_init(&pa->violator.ctl, -1, ROLE_PARENT, ROLE_EXECUTOR);
	cni_init(pa->conf.cni_config);
	log_info("starting, version %s, provider %s", PACKAGE_VERSION,
	    mode_name(pa->conf.mode));
	if (*pa->conf.user != '\0')
		log_warnx("--user %s: every child runs as uid %u, so any other "
		    "process of that uid can signal them; --uid-base gives "
		    "each its own", pa->conf.user, pa->conf.uid);

	spawn_pair(we);
	proc_spawn(pa, &procs[ROLE_EXECUTOR], we[1], -1);
	if (procs[ROLE_METRICS].wanted)
		proc_start(pa, &procs[ROLE_METRICS]);
	if (procs[ROLE_ARP].wanted) {
		spawn_pair(wa);
		proc_spawn(pa, &procs[ROLE_ARP], wa[1], -1);
	}
	proc_spawn(pa, &procs[ROLE_WATCHER], we[0], wa[0]);
}

/* Hand one end of a new channel to a running child. */
static void
proc_send_channel(struct parent *pa, enum role to, enum role peer, int fd)
{
	struct proc		*p = &pa->procs[to];
	struct msg_channel	 mc = { peer };

	if (p->pid == 0 || !msgchan_open(&p->ctl)) {
		/* It gets a fresh channel when it starts. */
		close(fd);
		return;
	}
	if (msgchan_compose(&p->ctl, MSG_CHANNEL, 0, fd, &mc, sizeof(mc)) ==
	    -1)
		log_warn("sending the new %s channel to the %s",
		    role_name(peer), role_name(to));
}

/*
 * Restart one child with fresh channels; the running peers get their
 * ends by descriptor passing and keep their state.
 */
static void
proc_start(struct parent *pa, struct proc *p)
{
	int	 we[2], wa[2] = { -1, -1 }, fd;

	if (p->role == ROLE_METRICS) {
		/* The parent keeps the listening socket across restarts. */
		if ((fd = fcntl(pa->metrics_fd, F_DUPFD_CLOEXEC, 0)) == -1)
			fatal("metrics socket");
		proc_spawn(pa, p, fd, -1);
		return;
	}
	spawn_pair(we);
	if (p->role != ROLE_WATCHER) {
		proc_spawn(pa, p, we[1], -1);
		if (p->violate)
			close(we[0]);
		else
			proc_send_channel(pa, ROLE_WATCHER, p->role, we[0]);
		return;
	}
	if (pa->procs[ROLE_ARP].wanted)
		spawn_pair(wa);
	proc_spawn(pa, p, we[0], wa[0]);
	proc_send_channel(pa, ROLE_EXECUTOR, ROLE_WATCHER, we[1]);
	if (wa[1] != -1)
		proc_send_channel(pa, ROLE_ARP, ROLE_WATCHER, wa[1]);
}

/* --- supervise ------------------------------------------------------ */

static void	 reap(struct parent *);
static void	 sighup_reload(struct parent *);
static void	 check_token(struct parent *, int force);
static void	 parent_poll(struct parent *, int64_t timeout_ms);
static void	 proc_input(struct parent *, struct proc *);

/* One turn of the supervisor: signals, due restarts, channel input. */
static void
parent_step(struct parent *pa, int64_t timeout_ms)
{
	int64_t	 now;
	int	 r;

	if (sig_chld) {
		sig_chld = 0;
		reap(pa);
	}
	if (sig_hup) {
		sig_hup = 0;
		sighup_reload(pa);
	}
	now = mono_ms();
	if (pa->have_api && now >= pa->token_check) {
		ipsec_reread(&pa->ipsec, &pa->conf,
		    pa->procs[ROLE_EXECUTOR].pid != 0 ?
		    &pa->procs[ROLE_EXECUTOR].ctl : NULL);
		check_token(pa, 0);
	}
	cni_tick(now);
	if (now >= pa->status.next)
		status_send(pa);
	for (r = ROLE_WATCHER; r < ROLE_NPROC && !sig_quit; r++)
		if (pa->procs[r].restart_at != 0 &&
		    now >= pa->procs[r].restart_at)
			proc_start(pa, &pa->procs[r]);
	if (sig_quit)
		return;
	parent_poll(pa, timeout_ms);
}

/* Wait for the next due timer, signal, or input, and read it. */
static void
parent_poll(struct parent *pa, int64_t timeout_ms)
{
	struct pollfd	 pfd[ROLE_NPROC + 2 + APICONN_PENDING_MAX +
			    CONTROL_CLIENTS];
	struct proc	*who[ROLE_NPROC + 1], *procs = pa->procs;
	struct timespec	 ts, *tsp = NULL;
	sigset_t	 empty;
	int64_t		 now = mono_ms(), t;
	int		 r, n = 0, i, nctl, nconn;

	if (pa->have_api && (timeout_ms < 0 ||
	    pa->token_check - now < timeout_ms))
		timeout_ms = pa->token_check > now ? pa->token_check - now : 0;
	if ((t = cni_next()) != 0 && (timeout_ms < 0 || t - now < timeout_ms))
		timeout_ms = t > now ? t - now : 0;
	if (procs[ROLE_METRICS].pid != 0 &&
	    (timeout_ms < 0 || pa->status.next - now < timeout_ms))
		timeout_ms = pa->status.next > now ? pa->status.next - now : 0;
	for (r = ROLE_WATCHER; r < ROLE_NPROC; r++) {
		if (procs[r].restart_at != 0) {
			t = procs[r].restart_at - now;
			if (timeout_ms < 0 || t < timeout_ms)
				timeout_ms = t < 0 ? 0 : t;
		}
		/* Sends the PING that is due, kills the silent. */
		if ((t = liveness_check(&procs[r], now,
		    pa->liveness_ms)) != -1 &&
		    (timeout_ms < 0 || t - now < timeout_ms))
			timeout_ms = t > now ? t - now : 0;
		if (!msgchan_open(&procs[r].ctl))
			continue;
		pfd[n].fd = procs[r].ctl.fd;
		pfd[n].events = POLLIN | (procs[r].ctl.queued ? POLLOUT : 0);
		who[n++] = &procs[r];
	}
	if (msgchan_open(&pa->violator.ctl)) {
		pfd[n].fd = pa->violator.ctl.fd;
		pfd[n].events = POLLIN |
		    (pa->violator.ctl.queued ? POLLOUT : 0);
		who[n++] = &pa->violator;
	}
	nconn = apiconn_pollfds(pfd + n, APICONN_PENDING_MAX, &timeout_ms);
	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (timeout_ms % 1000) * 1000000;
		tsp = &ts;
	}
	nctl = control_pollfds(pfd + n + nconn, CONTROL_CLIENTS + 1);
	sigemptyset(&empty);
	if (ppoll(pfd, n + nconn + nctl, tsp, &empty) == -1) {
		if (errno == EINTR)
			return;
		fatal("ppoll");
	}
	apiconn_io(pfd + n, nconn, procs[ROLE_WATCHER].pid,
	    &procs[ROLE_WATCHER].ctl);
	control_io(pfd + n + nconn, nctl);
	for (i = 0; i < n; i++) {
		if ((pfd[i].revents & POLLOUT) &&
		    msgchan_flush(&who[i]->ctl) == -1) {
			log_warn("%s control channel: send",
			    role_name(who[i]->role));
			msgchan_close(&who[i]->ctl);
		}
		if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
			proc_input(pa, who[i]);
	}
}

/*
 * --self-test: the supervisor's loop until every child is ready, their
 * confinement judged, then a child that calls what its filter forbids.
 */
static int
parent_selftest(struct parent *pa)
{
	struct proc	*v = &pa->violator;
	int64_t		 deadline = mono_ms() + SELFTEST_TIMEOUT_MS;
	int		 fails;

	do
		parent_step(pa, 100);
	while (!selftest_ready(pa->procs) && !sig_quit &&
	    mono_ms() < deadline);
	if ((fails = selftest_children(&pa->conf, pa->procs)) == -1)
		return 1;
	v->role = ROLE_EXECUTOR;
	v->violate = 1;
	proc_start(pa, v);
	deadline = mono_ms() + SELFTEST_TIMEOUT_MS;
	while (v->pid != 0 && !sig_quit && mono_ms() < deadline)
		parent_step(pa, 100);
	fails += selftest_seccomp(&pa->conf, v);
	return selftest_verdict(fails);
}

/* --- dispatch ------------------------------------------------------- */

/* Read what a child sent on its control channel, its last words too. */
static void
proc_input(struct parent *pa, struct proc *p)
{
	struct msg	*m = &pa->msg;

	while (msgchan_next(&p->ctl, m) == MSGCHAN_MSG)
		switch (m->hdr.type) {
		case MSG_LOG:
			spawn_log(m, p->role);
			break;
		case MSG_TOKEN_REFRESH:
			check_token(pa, 1);
			break;
		case MSG_PONG:
			liveness_pong(p, m);
			break;
		case MSG_API_CONNECT:
			apiconn_request(p->pid, &p->ctl);
			break;
		case MSG_NODE_NET:
			cni_node_net(m->data);
			status_changed(&pa->status, 1);
			break;
		case MSG_READY:
			memcpy(&p->readyinfo, m->data, sizeof(p->readyinfo));
			p->ready = 1;
			pa->status.next = 0;
			log_info("%s ready (pid %d)", role_name(p->role),
			    p->pid);
			break;
		case MSG_EXEC_STATS:
			memcpy(&pa->status.exec, m->data,
			    sizeof(pa->status.exec));
			status_changed(&pa->status, pa->status.exec.synced);
			break;
		case MSG_WATCH_STATS:
			memcpy(&pa->status.watch, m->data,
			    sizeof(pa->status.watch));
			status_changed(&pa->status, 0);
			break;
		case MSG_NODE_INFO:
		case MSG_ROUTE_INFO:
		case MSG_MASQ_TEXT:
		case MSG_DUMP_END:
			control_forward(m);
			break;
		default:
			log_warnx("unexpected message %u from the %s",
			    m->hdr.type, role_name(p->role));
			break;
		}
}

/* A rotated token file, or a 401 the watcher saw: read it again. */
static void
check_token(struct parent *pa, int force)
{
	char	 err[512];
	int	 rv;

	pa->token_check = mono_ms() + TOKEN_CHECK_MS;
	if (!pa->have_api)
		return;
	if ((rv = apiconf_token_changed(&pa->api, err, sizeof(err))) == -1)
		log_warnx("keeping the current API token: %s", err);
	else if (rv == 1)
		log_info("API token changed; sending it to the watcher");
	if (rv == 1 || force)
		send_token(pa);
}

static const char *
signame(int sig)
{
	switch (sig) {
	case SIGSYS:
		return "SIGSYS (a system call its seccomp filter forbids)";
	case SIGKILL:
		return "SIGKILL";
	case SIGTERM:
		return "SIGTERM";
	case SIGSEGV:
		return "SIGSEGV";
	case SIGABRT:
		return "SIGABRT";
	default:
		return strsignal(sig);
	}
}

/*
 * A child died: say how, and start it again after a backoff that
 * doubles from 100 ms to 10 s.  Too many deaths in a minute mean a
 * problem a restart will not fix: the daemon ends with status 1 so
 * its own supervisor (the kubelet, systemd) sees it.
 */
static void
proc_died(struct parent *pa, struct proc *p, int status)
{
	int64_t	 now = mono_ms();
	int	 i, n;

	proc_input(pa, p);
	msgchan_close(&p->ctl);
	p->status = status;
	if (pa->stopping && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_debug("%s (pid %d) stopped", role_name(p->role), p->pid);
	else if (WIFSIGNALED(status))
		log_warnx("%s (pid %d) killed by %s", role_name(p->role),
		    p->pid, signame(WTERMSIG(status)));
	else
		log_warnx("%s (pid %d) exited with status %d",
		    role_name(p->role), p->pid, WEXITSTATUS(status));
	p->pid = 0;
	p->ready = 0;
	pa->status.next = 0;
	if (pa->stopping || p->violate)
		return;
	p->restarts_total++;

	for (i = 0, n = 0; i < p->nrestarts; i++)
		if (now - p->restarts[i] < RESTART_WINDOW_MS)
			p->restarts[n++] = p->restarts[i];
	p->nrestarts = n;
	if (n >= RESTART_LIMIT) {
		log_warnx("the %s was restarted %d times in %d s and died "
		    "again; giving up", role_name(p->role), RESTART_LIMIT,
		    RESTART_WINDOW_MS / 1000);
		pa->exit_status = 1;
		sig_quit = 1;
		return;
	}
	p->restarts[p->nrestarts++] = now;
	if (now - p->started >= RESTART_WINDOW_MS || p->backoff == 0)
		p->backoff = BACKOFF_MIN_MS;
	else if ((p->backoff *= 2) > BACKOFF_MAX_MS)
		p->backoff = BACKOFF_MAX_MS;
	p->restart_at = now + p->backoff;
	log_info("restarting the %s in %d ms", role_name(p->role), p->backoff);
}

static struct proc *
proc_by_pid(struct parent *pa, pid_t pid)
{
	int	 r;

	for (r = ROLE_WATCHER; r < ROLE_NPROC; r++)
		if (pa->procs[r].pid == pid)
			return &pa->procs[r];
	if (pa->violator.pid == pid)
		return &pa->violator;
	return NULL;
}

static void
reap(struct parent *pa)
{
	struct proc	*p;
	pid_t		 pid;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if ((p = proc_by_pid(pa, pid)) != NULL)
			proc_died(pa, p, status);
}

static void
sighup_reload(struct parent *pa)
{
	char	 text[1024];

	parent_reload(pa, text, sizeof(text));
}

/* kopeio-networkctl show status; the metrics process gets the same. */
static void
ctl_status(void *arg, struct kn_status *st)
{
	status_build(arg, st);
}

static int
ctl_reload(void *arg, char *text, size_t len)
{
	return parent_reload(arg, text, len);
}

/*
 * kopeio-networkctl show nodes, show routes, show masquerade: the
 * child sends its table.
 */
static int
ctl_dump(void *arg, enum role r, uint32_t type, uint32_t id)
{
	struct parent	*pa = arg;
	struct proc	*p = &pa->procs[r];

	if (p->pid == 0 || !p->ready || msgchan_compose(&p->ctl, type, id,
	    -1, NULL, 0) == -1)
		return -1;
	return 0;
}

static void
ctl_resync(void *arg)
{
	struct parent	*pa = arg;
	struct proc	*procs = pa->procs;
	int		 r;

	log_info("re-sync asked for on the control socket");
	for (r = ROLE_WATCHER; r <= ROLE_EXECUTOR; r++)
		if (procs[r].pid != 0 && msgchan_compose(&procs[r].ctl,
		    MSG_RESYNC, 0, -1, NULL, 0) == -1)
			log_warn("%s control channel", role_name(r));
}

/* --- stop ----------------------------------------------------------- */

/* SIGTERM to every child, SIGKILL to any still there after 5 s. */
static void
stop_children(struct parent *pa)
{
	struct proc	*procs = pa->procs;
	int64_t		 deadline = mono_ms() + STOP_GRACE_MS;
	struct timespec	 ts = { 0, 50 * 1000 * 1000 };
	int		 r, left;

	pa->stopping = 1;
	for (r = ROLE_WATCHER; r < ROLE_NPROC; r++)
		if (procs[r].pid != 0)
			kill(procs[r].pid, SIGTERM);
	for (;;) {
		reap(pa);
		for (r = ROLE_WATCHER, left = 0; r < ROLE_NPROC; r++)
			if (procs[r].pid != 0) {
				proc_input(pa, &procs[r]);
				left++;
			}
		if (left == 0)
			return;
		if (mono_ms() >= deadline)
			break;
		nanosleep(&ts, NULL);
	}
	for (r = ROLE_WATCHER; r < ROLE_NPROC; r++)
		if (procs[r].pid != 0) {
			log_warnx("the %s (pid %d) did not stop; killing it",
			    role_name(r), procs[r].pid);
			kill(procs[r].pid, SIGKILL);
			waitpid(procs[r].pid, NULL, 0);
			procs[r].pid = 0;
		}
}
