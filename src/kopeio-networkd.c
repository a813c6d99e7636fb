/*
 * kopeio-networkd: the parent.  Reads the configuration, starts the
 * confined children (watcher, executor, and in vxlan-legacy mode the
 * ARP helper) by re-executing itself, wires their channels, restarts
 * a child that dies, and stops them all in order.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

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
#include "sandbox.h"
#include "spawn.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		10000
#define RESTART_WINDOW_MS	60000
#define RESTART_LIMIT		5
#define STOP_GRACE_MS		5000
#define SELFTEST_TIMEOUT_MS	15000
#define TOKEN_CHECK_MS		10000
#define STATUS_EVERY_MS		5000	/* to the metrics process, at least */
/*
 * Liveness: a PING to each child every 5 s; one that leaves a PING
 * unanswered for 60 s and 2 ms per --max-nodes (70 s by default)
 * is killed and restarted like a crashed child: it is stopped, or
 * stuck.  The bound is far above the longest turn of a child's loop.
 * Measured under ASan on 2 busy cores (load 15) with 65,000 nodes:
 * the watcher's longest turn while it lists them 0.3 s (it parses
 * what libcurl reads as it comes), the executor's 5.8 s, the first
 * full re-sync, installing 65,000 routes; that re-sync grows with
 * the nodes and the objects per node of the mode, hence the share per
 * node.  An answer later than 10 s is logged, so a loop that slows
 * towards the bound is seen before it is hit.
 */
#define LIVENESS_EVERY_MS	5000
#define LIVENESS_TIMEOUT_MS	60000
#define LIVENESS_PER_NODE_MS	2
#define LIVENESS_SLOW_MS	10000

struct proc {
	enum role	 role;
	pid_t		 pid;		/* 0: not running */
	struct msgchan	 ctl;
	int		 wanted;	/* this mode runs the role */
	int		 ready;
	struct msg_ready readyinfo;
	int64_t		 started;
	int64_t		 restart_at;	/* 0: none pending */
	int		 backoff;
	int64_t		 restarts[RESTART_LIMIT];
	int		 nrestarts;
	int		 violate;	/* self-test: expected to die of SIGSYS */
	int		 status;	/* last wait status */
	uint32_t	 restarts_total;
	int64_t		 started_wall;
	uint32_t	 ping_seq;	/* of the last PING sent */
	int64_t		 ping_sent;	/* 0: no PING unanswered */
	int64_t		 ping_next;	/* when the next PING is due */
	int64_t		 heard;		/* last PONG, or the start */
	int		 hung;		/* killed for its silence */
};

static struct proc		 procs[ROLE_NPROC];
static struct proc		 violator;
static struct kn_config		 conf;
static int			 exe_fd = -1;
static int			 saved_argc;
static char			**saved_argv;
static volatile sig_atomic_t	 sig_quit, sig_hup, sig_chld;
static int			 stopping;
static int			 exit_status;
static struct msg		 parent_msg;
static struct api_conf		 api;
static int			 have_api;
static int64_t			 token_check;
static int			 metrics_fd = -1;	/* listening, for the child */
static struct msg_exec_stats	 exec_stats;
static struct msg_watch_stats	 watch_stats;
static int64_t			 started_wall;
static int64_t			 status_next;	/* to the metrics process */
static int			 pid_written;
static int64_t			 liveness_ms;	/* the bound for an answer */
static struct stat		 pid_st;	/* the pid file written */
/* ipsec: the key the executor has, the ESP-in-UDP sockets kept open */
static struct ipsec_key		 ipsec_key;
static int			 have_ipsec_key;
static int			 encap_fd[2] = { -1, -1 };

static void	 proc_start(struct proc *);
static void	 status_changed(int);
static int	 selftest(void);

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

static struct proc *
proc_by_pid(pid_t pid)
{
	int	 r;

	for (r = ROLE_WATCHER; r < ROLE_NPROC; r++)
		if (procs[r].pid == pid)
			return &procs[r];
	if (violator.pid == pid)
		return &violator;
	return NULL;
}

/* Hand one end of a new channel to a running child. */
static void
proc_send_channel(enum role to, enum role peer, int fd)
{
	struct proc		*p = &procs[to];
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
send_token(void)
{
	struct proc	*p = &procs[ROLE_WATCHER];

	if (p->pid != 0 && msgchan_compose(&p->ctl, MSG_API_TOKEN, 0, -1,
	    api.token.data, api.token.len) == -1)
		log_warn("watcher control channel");
}

/* The watcher gets the contents of the credentials, never their paths. */
static void
send_api(struct proc *p)
{
	if (!have_api)
		return;
	if (msgchan_compose(&p->ctl, MSG_API_SERVER, 0, -1, &api.srv,
	    sizeof(api.srv)) == -1)
		log_warn("watcher control channel");
	send_blob(&p->ctl, MSG_API_CA, &api.ca);
	send_blob(&p->ctl, MSG_API_CERT, &api.cert);
	send_blob(&p->ctl, MSG_API_KEY, &api.key);
	send_token();
	if (msgchan_compose(&p->ctl, MSG_API_DONE, 0, -1, NULL, 0) == -1)
		log_warn("watcher control channel");
}

/* A rotated token file, or a 401 the watcher saw: read it again. */
static void
check_token(int force)
{
	char	 err[512];
	int	 rv;

	token_check = mono_ms() + TOKEN_CHECK_MS;
	if (!have_api)
		return;
	if ((rv = apiconf_token_changed(&api, err, sizeof(err))) == -1)
		log_warnx("keeping the current API token: %s", err);
	else if (rv == 1)
		log_info("API token changed; sending it to the watcher");
	if (rv == 1 || force)
		send_token();
}

/* The key and the ESP-in-UDP sockets, to a newly started executor. */
static void
ipsec_send(struct proc *p)
{
	uint32_t	 family;
	int		 i, fd;

	for (i = 0; i < 2; i++) {
		if (encap_fd[i] == -1)
			continue;
		family = i ? AF_INET6 : AF_INET;
		/* Our copy stays: the port is bound across restarts. */
		if ((fd = fcntl(encap_fd[i], F_DUPFD_CLOEXEC, 0)) == -1 ||
		    msgchan_compose(&p->ctl, MSG_IPSEC_SOCKET, 0, fd, &family,
		    sizeof(family)) == -1)
			log_warn("ipsec: handing the ESP-in-UDP socket to the "
			    "executor");
	}
	if (have_ipsec_key && msgchan_compose(&p->ctl, MSG_IPSEC_KEY, 0, -1,
	    &ipsec_key, sizeof(ipsec_key)) == -1)
		log_warn("ipsec: sending the key to the executor");
}

/*
 * The key file again (every TOKEN_CHECK_MS and on reload): a new key
 * goes to the executor, which rotates to it; a file that does not
 * parse, or a new secret under the key id in use, is refused and the
 * running key kept.
 */
static void
ipsec_reread(void)
{
	struct ipsec_key	 k;
	char			 err[512];

	if (conf.mode != MODE_IPSEC || conf.ipsec_key_file[0] == '\0')
		return;
	if (ipsec_key_load(conf.ipsec_key_file, &k, err, sizeof(err)) == -1) {
		if (have_ipsec_key)
			log_warnx("ipsec: keeping key %u: %s", ipsec_key.id,
			    err);
		goto out;
	}
	if (have_ipsec_key && memcmp(&k, &ipsec_key, sizeof(k)) == 0)
		goto out;
	if (have_ipsec_key && k.id == ipsec_key.id) {
		log_warnx("ipsec: keeping key %u: --ipsec-key-file %s has a "
		    "new secret under the same key id; a new key needs a new "
		    "id", ipsec_key.id, conf.ipsec_key_file);
		goto out;
	}
	if (have_ipsec_key)
		log_info("ipsec: --ipsec-key-file %s has key %u now; rotating "
		    "to it", conf.ipsec_key_file, k.id);
	ipsec_key = k;
	have_ipsec_key = 1;
	if (procs[ROLE_EXECUTOR].pid != 0 &&
	    msgchan_compose(&procs[ROLE_EXECUTOR].ctl, MSG_IPSEC_KEY, 0, -1,
	    &ipsec_key, sizeof(ipsec_key)) == -1)
		log_warn("ipsec: sending the key to the executor");
out:
	explicit_bzero(&k, sizeof(k));
}

/*
 * At start, before any child: the key, and for ESP-in-UDP a socket on
 * port 4500 per family of --pod-cidr, which the receiving end of every
 * state needs.  -1 with err set.
 */
static int
ipsec_start(char *err, size_t errlen)
{
	int	 i;

	if (conf.mode != MODE_IPSEC)
		return 0;
	if (conf.ipsec_encryption == IPSEC_ENC_NONE)
		log_warnx("ipsec: --ipsec-encryption none: ESP without "
		    "encryption, pod traffic is readable on the wire");
	if (conf.ipsec_key_file[0] != '\0') {
		if (ipsec_key_load(conf.ipsec_key_file, &ipsec_key, err,
		    errlen) == -1)
			return -1;
		have_ipsec_key = 1;
	}
	if (conf.ipsec_encapsulation != IPSEC_ENCAP_UDP)
		return 0;
	for (i = 0; i < 2; i++)
		if (conf.cluster[i].family != 0 && (encap_fd[i] =
		    ipsec_encap_socket(conf.cluster[i].family, err,
		    errlen)) == -1)
			return -1;
	return 0;
}

/*
 * Start one child with the given peer channel ends, which the parent
 * then closes; its HELLO and configuration are queued.
 */
static void
proc_spawn(struct proc *p, int peer, int peer2)
{
	struct kn_config	 pc;

	pc = conf;
	pc.violate = p->violate;
	p->pid = spawn_child(exe_fd, p->role, &pc, peer, peer2, &p->ctl);
	p->ready = 0;
	p->restart_at = 0;
	p->started = p->heard = mono_ms();
	p->started_wall = wall_ms();
	p->ping_sent = 0;
	p->ping_next = p->started + LIVENESS_EVERY_MS;
	p->hung = 0;
	status_next = 0;
	if (p->role == ROLE_WATCHER)
		send_api(p);
	if (p->role == ROLE_EXECUTOR && conf.mode == MODE_IPSEC)
		ipsec_send(p);
	log_debug("started the %s (pid %d)", role_name(p->role), p->pid);
}

/* First start: every channel end goes to its child on exec. */
static void
start_all(void)
{
	int	 we[2], wa[2] = { -1, -1 };

	spawn_pair(we);
	proc_spawn(&procs[ROLE_EXECUTOR], we[1], -1);
	if (procs[ROLE_METRICS].wanted)
		proc_start(&procs[ROLE_METRICS]);
	if (procs[ROLE_ARP].wanted) {
		spawn_pair(wa);
		proc_spawn(&procs[ROLE_ARP], wa[1], -1);
	}
	proc_spawn(&procs[ROLE_WATCHER], we[0], wa[0]);
}

/*
 * Restart one child with fresh channels; the running peers get their
 * ends by descriptor passing and keep their state.
 */
static void
proc_start(struct proc *p)
{
	int	 we[2], wa[2] = { -1, -1 }, fd;

	if (p->role == ROLE_METRICS) {
		/* The parent keeps the listening socket across restarts. */
		if ((fd = fcntl(metrics_fd, F_DUPFD_CLOEXEC, 0)) == -1)
			fatal("metrics socket");
		proc_spawn(p, fd, -1);
		return;
	}
	spawn_pair(we);
	if (p->role != ROLE_WATCHER) {
		proc_spawn(p, we[1], -1);
		if (p->violate)
			close(we[0]);
		else
			proc_send_channel(ROLE_WATCHER, p->role, we[0]);
		return;
	}
	if (procs[ROLE_ARP].wanted)
		spawn_pair(wa);
	proc_spawn(p, we[0], wa[0]);
	proc_send_channel(ROLE_EXECUTOR, ROLE_WATCHER, we[1]);
	if (wa[1] != -1)
		proc_send_channel(ROLE_ARP, ROLE_WATCHER, wa[1]);
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

/* A PONG: the child's loop is turning. */
static void
proc_pong(struct proc *p, const struct msg *m)
{
	struct msg_ping	 ping;
	int64_t		 now = mono_ms();

	memcpy(&ping, m->data, sizeof(ping));
	if (p->ping_sent == 0 || ping.seq != p->ping_seq) {
		log_warnx("the %s answered liveness check %u, not %u; ignored",
		    role_name(p->role), ping.seq, p->ping_seq);
		return;
	}
	if (now - p->ping_sent > LIVENESS_SLOW_MS)
		log_warnx("the %s (pid %d) answered a liveness check after "
		    "%lld ms", role_name(p->role), p->pid,
		    (long long)(now - p->ping_sent));
	p->ping_sent = 0;
	p->heard = now;
	p->ping_next = now + LIVENESS_EVERY_MS;
}

/*
 * Send the next PING when due; a child that left one unanswered for
 * liveness_ms is killed, and reaped and restarted as any dead child
 * is.  Returns when to come back.
 */
static int64_t
proc_liveness(struct proc *p, int64_t now)
{
	struct msg_ping	 ping;

	if (p->pid == 0 || p->hung || !msgchan_open(&p->ctl))
		return -1;
	if (p->ping_sent != 0) {
		if (now - p->ping_sent < liveness_ms)
			return p->ping_sent + liveness_ms;
		log_warnx("the %s (pid %d) was silent for %lld ms: no answer "
		    "to a liveness check in %lld s; killing it",
		    role_name(p->role), p->pid, (long long)(now - p->heard),
		    (long long)liveness_ms / 1000);
		p->hung = 1;
		if (kill(p->pid, SIGKILL) == -1)
			log_warn("kill %d", p->pid);
		return -1;
	}
	if (now < p->ping_next)
		return p->ping_next;
	ping.seq = ++p->ping_seq;
	if (msgchan_compose(&p->ctl, MSG_PING, 0, -1, &ping, sizeof(ping)) ==
	    -1)
		log_warn("%s control channel: liveness check",
		    role_name(p->role));
	p->ping_sent = now;
	return now + liveness_ms;
}

/* Read what a child left on its control channel: its last words. */
static void
proc_input(struct proc *p)
{
	while (msgchan_next(&p->ctl, &parent_msg) == MSGCHAN_MSG)
		switch (parent_msg.hdr.type) {
		case MSG_LOG:
			spawn_log(&parent_msg, p->role);
			break;
		case MSG_TOKEN_REFRESH:
			check_token(1);
			break;
		case MSG_PONG:
			proc_pong(p, &parent_msg);
			break;
		case MSG_API_CONNECT:
			apiconn_request(p->pid, &p->ctl);
			break;
		case MSG_NODE_NET:
			cni_node_net(parent_msg.data);
			status_changed(1);
			break;
		case MSG_READY:
			memcpy(&p->readyinfo, parent_msg.data,
			    sizeof(p->readyinfo));
			p->ready = 1;
			status_next = 0;
			log_info("%s ready (pid %d)", role_name(p->role),
			    p->pid);
			break;
		case MSG_EXEC_STATS:
			memcpy(&exec_stats, parent_msg.data,
			    sizeof(exec_stats));
			status_changed(exec_stats.synced);
			break;
		case MSG_WATCH_STATS:
			memcpy(&watch_stats, parent_msg.data,
			    sizeof(watch_stats));
			status_changed(0);
			break;
		case MSG_NODE_INFO:
		case MSG_ROUTE_INFO:
		case MSG_DUMP_END:
			control_forward(&parent_msg);
			break;
		default:
			log_warnx("unexpected message %u from the %s",
			    parent_msg.hdr.type, role_name(p->role));
			break;
		}
}

/*
 * A child died: say how, and start it again after a backoff that
 * doubles from 100 ms to 10 s.  Too many deaths in a minute mean a
 * problem a restart will not fix: the daemon ends with status 1 so
 * its own supervisor (the kubelet, systemd) sees it.
 */
static void
proc_died(struct proc *p, int status)
{
	int64_t	 now = mono_ms();
	int	 i, n;

	proc_input(p);
	msgchan_close(&p->ctl);
	p->status = status;
	if (stopping && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_debug("%s (pid %d) stopped", role_name(p->role), p->pid);
	else if (WIFSIGNALED(status))
		log_warnx("%s (pid %d) killed by %s", role_name(p->role),
		    p->pid, signame(WTERMSIG(status)));
	else
		log_warnx("%s (pid %d) exited with status %d",
		    role_name(p->role), p->pid, WEXITSTATUS(status));
	p->pid = 0;
	p->ready = 0;
	status_next = 0;
	if (stopping || p->violate)
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
		exit_status = 1;
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

/* What kopeio-networkctl shows and the metrics process serves. */
static void
status_build(struct kn_status *st)
{
	struct proc	*p;
	int		 r;

	memset(st, 0, sizeof(*st));
	st->mode = conf.mode;
	st->started = started_wall;
	st->now = wall_ms();
	for (r = ROLE_WATCHER; r < ROLE_NPROC; r++) {
		p = &procs[r];
		st->proc[r].pid = p->pid;
		st->proc[r].wanted = p->wanted;
		st->proc[r].running = p->pid != 0 && p->ready;
		st->proc[r].restarts = p->restarts_total;
		st->proc[r].started = p->pid != 0 ? p->started_wall : 0;
	}
	st->exec = exec_stats;
	st->watch = watch_stats;
	st->cni_written = conf.cni_config[0] != '\0' && cni_current();
	st->ready = exec_stats.synced && cni_current();
	snprintf(st->cni_config, sizeof(st->cni_config), "%s",
	    conf.cni_config);
	snprintf(st->version, sizeof(st->version), "%s", PACKAGE_VERSION);
}

/* Counters changed: the metrics process hears within a second. */
static void
status_changed(int now)
{
	int64_t	 soon = now ? 0 : mono_ms() + 1000;

	if (status_next > soon)
		status_next = soon;
}

static void
status_send(void)
{
	struct proc		*p = &procs[ROLE_METRICS];
	struct kn_status	 st;

	status_next = mono_ms() + STATUS_EVERY_MS;
	if (p->pid == 0 || !msgchan_open(&p->ctl))
		return;
	status_build(&st);
	if (msgchan_compose(&p->ctl, MSG_STATUS, 0, -1, &st, sizeof(st)) ==
	    -1)
		log_warn("metrics control channel");
}

static void
reap(void)
{
	struct proc	*p;
	pid_t		 pid;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if ((p = proc_by_pid(pid)) != NULL)
			proc_died(p, status);
}

static void
proc_send_config(void)
{
	int	 r;

	for (r = ROLE_WATCHER; r < ROLE_NPROC; r++)
		if (procs[r].pid != 0 && msgchan_compose(&procs[r].ctl,
		    MSG_CONFIG, 0, -1, &conf, sizeof(conf)) == -1)
			log_warn("sending the configuration to the %s",
			    role_name(r));
}

/*
 * SIGHUP: read the configuration again.  Verbosity, the sync period and
 * the watch timeout change at once; anything else would need new processes or a new
 * kernel layout, so a change to it is refused and logged.
 */
static int
reload(char *text, size_t len)
{
	static const struct {
		const char	*name;
		size_t		 off, len;
	} fixed[] = {
#define F(n, f)	{ n, offsetof(struct kn_config, f), \
		    sizeof(((struct kn_config *)0)->f) }
		F("provider", mode), F("pod-cidr", cluster),
		F("target", target), F("node-name", node_name),
		F("machine-id", machine_id), F("system-uuid", system_uuid),
		F("boot-id", boot_id), F("cni-config", cni_config),
		F("ipsec-encryption", ipsec_encryption),
		F("ipsec-authentication", ipsec_authentication),
		F("ipsec-encapsulation", ipsec_encapsulation),
		F("ipsec-key-file", ipsec_key_file),
		F("user", user), F("chroot", chroot), F("seccomp", seccomp),
		F("kubeconfig", kubeconfig), F("apiserver", apiserver),
		F("token-file", token_file), F("ca-file", ca_file),
		F("node-address-type", address_type),
		F("max-nodes", max_nodes), F("mtu", mtu),
		F("route-protocol", route_protocol), F("socket", socket),
		F("pid-file", pid_file), F("metrics-address", metrics_address),
#undef F
	};
	struct kn_config	 nc;
	struct kn_cmdline	 cl;
	char			 err[512];
	size_t			 i, n;
	int			 refused;

	if (config_load(&nc, &cl, saved_argc, saved_argv, err,
	    sizeof(err)) == -1) {
		log_warnx("reload failed, keeping the running configuration: "
		    "%s", err);
		snprintf(text, len, "reload failed, keeping the running "
		    "configuration: %s", err);
		return 1;
	}
	n = (size_t)snprintf(text, len, "configuration reloaded");
	for (i = 0, refused = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (memcmp((char *)&nc + fixed[i].off,
		    (char *)&conf + fixed[i].off, fixed[i].len) != 0) {
			log_warnx("reload: %s cannot change while the daemon "
			    "runs; restart it to apply", fixed[i].name);
			if (n < len)
				n += snprintf(text + n, len - n, "%s %s",
				    refused++ ? "," : "; not applied until a "
				    "restart:", fixed[i].name);
		}
	conf.verbose = nc.verbose;
	conf.sync_period_ms = nc.sync_period_ms;
	conf.watch_timeout = nc.watch_timeout;
	conf.ipsec_rotation_ms = nc.ipsec_rotation_ms;
	log_setverbose(conf.verbose);
	ipsec_reread();
	proc_send_config();
	if (access(conf.config_file, F_OK) == 0)
		log_info("configuration reloaded from %s", conf.config_file);
	else
		log_info("configuration reloaded (no file %s; command line "
		    "only)", conf.config_file);
	return 0;
}

static int
sighup_reload(void)
{
	char	 text[1024];

	return reload(text, sizeof(text));
}

/* kopeio-networkctl show nodes, show routes: the child sends its table. */
static int
ctl_dump(enum role r, uint32_t id)
{
	struct proc	*p = &procs[r];

	if (p->pid == 0 || !p->ready || msgchan_compose(&p->ctl, MSG_DUMP, id,
	    -1, NULL, 0) == -1)
		return -1;
	return 0;
}

static void
ctl_resync(void)
{
	int	 r;

	log_info("re-sync asked for on the control socket");
	for (r = ROLE_WATCHER; r <= ROLE_EXECUTOR; r++)
		if (procs[r].pid != 0 && msgchan_compose(&procs[r].ctl,
		    MSG_RESYNC, 0, -1, NULL, 0) == -1)
			log_warn("%s control channel", role_name(r));
}

static const struct control_ops ctl_ops = {
	status_build, reload, ctl_dump, ctl_resync
};

/* SIGTERM to every child, SIGKILL to any still there after 5 s. */
static void
stop_children(void)
{
	int64_t		 deadline = mono_ms() + STOP_GRACE_MS;
	struct timespec	 ts = { 0, 50 * 1000 * 1000 };
	int		 r, left;

	stopping = 1;
	for (r = ROLE_WATCHER; r < ROLE_NPROC; r++)
		if (procs[r].pid != 0)
			kill(procs[r].pid, SIGTERM);
	for (;;) {
		reap();
		for (r = ROLE_WATCHER, left = 0; r < ROLE_NPROC; r++)
			if (procs[r].pid != 0) {
				proc_input(&procs[r]);
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

static int
parent_poll(int64_t timeout_ms)
{
	struct pollfd	 pfd[ROLE_NPROC + 2 + APICONN_PENDING_MAX +
			    CONTROL_CLIENTS];
	struct proc	*who[ROLE_NPROC + 1];
	struct timespec	 ts, *tsp = NULL;
	sigset_t	 empty;
	int64_t		 now = mono_ms(), t;
	int		 r, n = 0, i, nctl, nconn;

	if (have_api && (timeout_ms < 0 || token_check - now < timeout_ms))
		timeout_ms = token_check > now ? token_check - now : 0;
	if ((t = cni_next()) != 0 && (timeout_ms < 0 || t - now < timeout_ms))
		timeout_ms = t > now ? t - now : 0;
	if (procs[ROLE_METRICS].pid != 0 &&
	    (timeout_ms < 0 || status_next - now < timeout_ms))
		timeout_ms = status_next > now ? status_next - now : 0;
	for (r = ROLE_WATCHER; r < ROLE_NPROC; r++) {
		if (procs[r].restart_at != 0) {
			t = procs[r].restart_at - now;
			if (timeout_ms < 0 || t < timeout_ms)
				timeout_ms = t < 0 ? 0 : t;
		}
		/* Sends the PING that is due, kills the silent. */
		if ((t = proc_liveness(&procs[r], now)) != -1 &&
		    (timeout_ms < 0 || t - now < timeout_ms))
			timeout_ms = t > now ? t - now : 0;
		if (!msgchan_open(&procs[r].ctl))
			continue;
		pfd[n].fd = procs[r].ctl.fd;
		pfd[n].events = POLLIN | (procs[r].ctl.queued ? POLLOUT : 0);
		who[n++] = &procs[r];
	}
	if (msgchan_open(&violator.ctl)) {
		pfd[n].fd = violator.ctl.fd;
		pfd[n].events = POLLIN | (violator.ctl.queued ? POLLOUT : 0);
		who[n++] = &violator;
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
			return 0;
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
			proc_input(who[i]);
	}
	return 0;
}

/* One turn of the supervisor: signals, due restarts, channel input. */
static void
parent_step(int64_t timeout_ms)
{
	int64_t	 now;
	int	 r;

	if (sig_chld) {
		sig_chld = 0;
		reap();
	}
	if (sig_hup) {
		sig_hup = 0;
		sighup_reload();
	}
	now = mono_ms();
	if (have_api && now >= token_check) {
		ipsec_reread();
		check_token(0);
	}
	cni_tick(now);
	if (now >= status_next)
		status_send();
	for (r = ROLE_WATCHER; r < ROLE_NPROC && !sig_quit; r++)
		if (procs[r].restart_at != 0 && now >= procs[r].restart_at)
			proc_start(&procs[r]);
	if (!sig_quit)
		parent_poll(timeout_ms);
}

/* The children's ids are used by nothing else: 0, or the exit status. */
static int
ids_free(void)
{
	char	 err[512];

	if (config_check_ids(&conf, "/proc", "/etc/passwd", "/etc/group", err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "kopeio-networkd: %s\n", err);
		return KN_EXIT_IDS_IN_USE;
	}
	return 0;
}

static int
check_config(void)
{
	char		 err[512];
	struct stat	 st;
	int		 rv;

	if (config_resolve_user(&conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "kopeio-networkd: %s\n", err);
		return 1;
	}
	if ((rv = ids_free()) != 0)
		return rv;
	if (lstat(conf.chroot, &st) == -1 && errno == ENOENT)
		printf("chroot %s does not exist yet; the daemon creates it\n",
		    conf.chroot);
	else if (sandbox_check_root(conf.chroot, 0, err, sizeof(err)) == -1) {
		fprintf(stderr, "kopeio-networkd: %s\n", err);
		return 1;
	}
	if (*conf.cni_config)
		switch (cni_check(conf.cni_config, err, sizeof(err))) {
		case 0:
			printf("--cni-config: %s yet; the daemon writes the "
			    "file once it does\n", err);
			break;
		case -1:
			fprintf(stderr, "kopeio-networkd: --cni-config: %s\n",
			    err);
			return 1;
		}
	if (apiconf_load(&conf, &api, err, sizeof(err)) == -1 ||
	    ipsec_key_check(&conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "kopeio-networkd: %s\n", err);
		apiconf_free(&api);
		return 1;
	}
	if (conf.verbose > 0) {
		fflush(stdout);
		config_print(&conf, STDOUT_FILENO);
		printf("API server %s (%s)%s\nthis node: %s\n", api.srv.url,
		    api.source, api.srv.insecure ? ", TLS verification off" :
		    "", *api.srv.node_name ? api.srv.node_name :
		    api.srv.node_id);
	}
	apiconf_free(&api);
	printf("configuration OK\n");
	return 0;
}

/* The HTTP port the metrics process serves on, opened while root. */
static int
metrics_listen(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	socklen_t		 sslen = sizeof(*sin);
	int			 fd, on = 1;

	memset(&ss, 0, sizeof(ss));
	if (addr == NULL) {
		/* The self-test's: a free port on the loopback. */
		addr = "127.0.0.1:0";
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else if (metrics_addr_parse(addr, &ss, &sslen, err, errlen) == -1)
		return -1;
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1)
		return errset(err, errlen, "--metrics-address %s: %s", addr,
		    strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1) ||
	    bind(fd, (struct sockaddr *)&ss, sslen) == -1 ||
	    listen(fd, 16) == -1) {
		errset(err, errlen, "--metrics-address %s: %s", addr,
		    strerror(errno));
		close(fd);
		return -1;
	}
	metrics_fd = fd;
	return 0;
}

/*
 * The pid file, in directories root alone may write (checked as
 * --chroot's), replacing only a regular file of root's that nobody
 * else may write: written to a new file and renamed over it, so a
 * reader never sees half of it and no link is followed.
 */
static int
pidfile_write(const char *path, char *err, size_t errlen)
{
	char		 tmp[KN_PATH_MAX + 8], buf[32];
	struct stat	 st;
	int		 fd, n;

	if (sandbox_check_dirs("--pid-file", path, err, errlen) == -1)
		return -1;
	if (lstat(path, &st) == 0 && (!S_ISREG(st.st_mode) ||
	    st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))))
		return errset(err, errlen, "--pid-file %s: %s (uid %u, mode "
		    "%04o): not a pid file of root's to replace", path,
		    S_ISLNK(st.st_mode) ? "a symbolic link" :
		    !S_ISREG(st.st_mode) ? "not a regular file" :
		    st.st_uid != 0 ? "not owned by root" :
		    "writable by group or others", (unsigned)st.st_uid,
		    (unsigned)(st.st_mode & 07777));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	/* A temporary file left over is a dead daemon's: root's alone. */
	if ((unlink(tmp) == -1 && errno != ENOENT) ||
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) == -1)
		return errset(err, errlen, "--pid-file %s: %s", tmp,
		    strerror(errno));
	if (write(fd, buf, n) != n || fstat(fd, &pid_st) == -1 ||
	    close(fd) == -1 || rename(tmp, path) == -1) {
		errset(err, errlen, "--pid-file %s: %s", path,
		    strerror(errno));
		unlink(tmp);
		return -1;
	}
	pid_written = 1;
	return 0;
}

/* At exit: the pid file goes only if it is still the one we wrote. */
static void
pidfile_remove(const char *path)
{
	char		 buf[32], want[32];
	struct stat	 st;
	ssize_t		 n;
	int		 fd, len;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_warnx("--pid-file %s: %s; left in place", path,
			    strerror(errno));
		return;
	}
	len = snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	n = read(fd, buf, sizeof(buf));
	if (fstat(fd, &st) == 0 && st.st_dev == pid_st.st_dev &&
	    st.st_ino == pid_st.st_ino && n == len &&
	    memcmp(buf, want, len) == 0)
		unlink(path);
	else
		log_warnx("--pid-file %s: no longer the file this daemon "
		    "wrote; left in place", path);
	close(fd);
}

/*
 * What the parent opens before any child starts: the metrics port,
 * the control socket and the pid file.  The self-test serves metrics
 * on a port of its own choosing and opens neither of the others, so
 * it can run beside a running daemon.
 */
static int
parent_sockets(int selftest_only, char *err, size_t errlen)
{
	if (selftest_only)
		return metrics_listen(*conf.metrics_address ?
		    conf.metrics_address : NULL, err, errlen);
	if (*conf.metrics_address &&
	    metrics_listen(conf.metrics_address, err, errlen) == -1)
		return -1;
	if (control_listen(conf.socket, &ctl_ops, err, errlen) == -1)
		return -1;
	if (*conf.pid_file && pidfile_write(conf.pid_file, err, errlen) == -1) {
		control_cleanup();
		return -1;
	}
	return 0;
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

int
main(int argc, char *argv[])
{
	struct kn_cmdline	 cl;
	char			 err[512];
	int			 r, rv = 0;

	if (config_load(&conf, &cl, argc, argv, err, sizeof(err)) == -1) {
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
		return check_config();
	case ACTION_RUN:
	case ACTION_SELFTEST:
		break;
	}
	if (cl.action == ACTION_SELFTEST)
		conf.log_stderr = 1;
	/* Nothing we did not open ourselves reaches a child. */
	closefrom(STDERR_FILENO + 1);
	if (geteuid() != 0) {
		fprintf(stderr, "kopeio-networkd: must be started as root: it "
		    "confines each of its processes itself\n");
		return 1;
	}
	if (config_resolve_user(&conf, err, sizeof(err)) == -1 ||
	    sandbox_check_root(conf.chroot, 1, err, sizeof(err)) == -1) {
		fprintf(stderr, "kopeio-networkd: %s\n", err);
		return 1;
	}
	if ((rv = ids_free()) != 0)
		return rv;
	/* The self-test needs no cluster: its watcher waits, confined. */
	if (cl.action == ACTION_RUN) {
		if (ipsec_key_check(&conf, err, sizeof(err)) == -1 ||
		    apiconf_load(&conf, &api, err, sizeof(err)) == -1) {
			fprintf(stderr, "kopeio-networkd: %s\n", err);
			return 1;
		}
		have_api = 1;
		token_check = mono_ms() + TOKEN_CHECK_MS;
		apiconn_init((struct sockaddr *)&api.addr, api.addrlen);
	}
	saved_argc = argc;
	saved_argv = argv;
	log_init(conf.log_stderr, role_name(ROLE_PARENT));
	log_setverbose(conf.verbose);
	/* The self-test serves on a port of its own, and no socket. */
	if (parent_sockets(cl.action == ACTION_SELFTEST, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "kopeio-networkd: %s\n", err);
		return 1;
	}
	if (cl.action == ACTION_RUN && ipsec_start(err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return 1;
	}
	started_wall = wall_ms();
	liveness_ms = LIVENESS_TIMEOUT_MS +
	    (int64_t)LIVENESS_PER_NODE_MS * conf.max_nodes;
	exe_fd = spawn_exe("/proc/self/exe");
	sandbox_parent();
	parent_signals();

	for (r = ROLE_WATCHER; r < ROLE_NPROC; r++) {
		procs[r].role = r;
		msgchan_init(&procs[r].ctl, -1, ROLE_PARENT, r);
		procs[r].wanted = cl.action == ACTION_SELFTEST ||
		    (r != ROLE_ARP && r != ROLE_METRICS) ||
		    (r == ROLE_ARP && conf.mode == MODE_VXLAN_LEGACY) ||
		    (r == ROLE_METRICS && metrics_fd != -1);
	}
	msgchan_init(&violator.ctl, -1, ROLE_PARENT, ROLE_EXECUTOR);
	cni_init(conf.cni_config);
	log_info("starting, version %s, provider %s", PACKAGE_VERSION,
	    mode_name(conf.mode));
	if (*conf.user != '\0')
		log_warnx("--user %s: every child runs as uid %u, so any other "
		    "process of that uid can signal them; --uid-base gives "
		    "each its own", conf.user, conf.uid);
	start_all();

	if (cl.action == ACTION_SELFTEST)
		rv = selftest();
	else
		while (!sig_quit)
			parent_step(-1);
	log_info("stopping");
	stop_children();
	control_cleanup();
	if (pid_written)
		pidfile_remove(conf.pid_file);
	log_info("stopped");
	apiconf_free(&api);
	return rv ? rv : exit_status;
}

/*
 * --self-test: what the kernel says about each child, against what
 * its role should have, and proof that the seccomp filter kills.
 */
static int
selftest_proc(const struct proc *p, const struct stat *root)
{
	struct proc_status	 ps;
	uint64_t		 caps;
	uint32_t		 uid, gid;
	int			 fails = 0;

	caps = p->role == ROLE_EXECUTOR || p->role == ROLE_ARP ?
	    sandbox_role_caps() : 0;
	if (proc_status_read(p->pid, &ps) == -1) {
		printf("%-10s %-7d cannot read /proc/%d/status\n",
		    role_name(p->role), p->pid, p->pid);
		return 1;
	}
#define CHECK(cond)	do { if (!(cond)) fails++; } while (0)
	config_child_ids(&conf, p->role - ROLE_WATCHER, &uid, &gid);
	CHECK(ps.uid[0] == uid && ps.uid[1] == uid && ps.uid[2] == uid &&
	    ps.uid[3] == uid);
	CHECK(ps.gid[0] == gid && ps.gid[1] == gid && ps.gid[2] == gid &&
	    ps.gid[3] == gid);
	CHECK(ps.cap_eff == caps && ps.cap_prm == caps && ps.cap_bnd == caps &&
	    ps.cap_inh == 0 && ps.cap_amb == 0);
	CHECK(ps.no_new_privs == 1);
	CHECK(ps.seccomp == 2);
	CHECK(p->readyinfo.root_dev == (uint64_t)root->st_dev &&
	    p->readyinfo.root_ino == (uint64_t)root->st_ino);
#undef CHECK
	printf("%-10s %-7d %-10u %-10u %016llx %016llx %016llx %-3d %-3d %-4s "
	    "%s\n", role_name(p->role), p->pid, ps.uid[0], ps.gid[0],
	    (unsigned long long)ps.cap_eff, (unsigned long long)ps.cap_prm,
	    (unsigned long long)ps.cap_bnd, ps.no_new_privs, ps.seccomp,
	    p->readyinfo.root_ino == (uint64_t)root->st_ino ? conf.chroot :
	    "?", fails ? "FAILED" : "ok");
	return fails;
}

static int
selftest(void)
{
	struct stat	 root;
	int64_t		 deadline = mono_ms() + SELFTEST_TIMEOUT_MS;
	int		 r, ready, fails = 0;

	do {
		parent_step(100);
		for (r = ROLE_WATCHER, ready = 1; r < ROLE_NPROC; r++)
			if (procs[r].wanted && !procs[r].ready)
				ready = 0;
	} while (!ready && !sig_quit && mono_ms() < deadline);
	if (!ready) {
		printf("self-test: the children did not all become ready\n");
		return 1;
	}
	if (stat(conf.chroot, &root) == -1)
		fatal("stat %s", conf.chroot);
	printf("%-10s %-7s %-10s %-10s %-16s %-16s %-16s %-3s %-3s %-4s\n",
	    "role", "pid", "uid", "gid", "CapEff", "CapPrm", "CapBnd", "NNP",
	    "Sec", "root");
	for (r = ROLE_WATCHER; r < ROLE_NPROC; r++)
		fails += selftest_proc(&procs[r], &root);

	violator.role = ROLE_EXECUTOR;
	violator.violate = 1;
	proc_start(&violator);
	deadline = mono_ms() + SELFTEST_TIMEOUT_MS;
	while (violator.pid != 0 && !sig_quit && mono_ms() < deadline)
		parent_step(100);
	if (violator.pid == 0 && WIFSIGNALED(violator.status) &&
	    WTERMSIG(violator.status) == SIGSYS)
		printf("seccomp: a confined child calling ptrace(2) was killed "
		    "by SIGSYS: ok\n");
	else {
		printf("seccomp: a confined child calling ptrace(2) was not "
		    "killed: FAILED%s\n", conf.seccomp == SECCOMP_MODE_LOG ?
		    " (--seccomp=log only logs)" : "");
		fails++;
		if (violator.pid != 0)
			kill(violator.pid, SIGKILL);
	}
	if (fails)
		printf("self-test: FAILED (%d problems)\n", fails);
	else
		printf("self-test: confinement verified\n");
	fflush(stdout);
	return fails ? 1 : 0;
}
