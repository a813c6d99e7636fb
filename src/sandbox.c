/*
 * Confinement: the parent's reduced capabilities, each child's drop
 * sequence and seccomp filter, the chroot checks; see sandbox.h.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <grp.h>
#include <limits.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sys/capability.h>

#include "log.h"
#include "sandbox.h"

static volatile int	 sandbox_confined;

#if SANDBOX_SANITIZED
/*
 * LeakSanitizer's exit-time check stops the world with clone and
 * ptrace, which no confined child may call; the parent, unconfined,
 * still checks for leaks.
 */
int	__lsan_is_turned_off(void);

int
__lsan_is_turned_off(void)
{
	return sandbox_confined;
}
#endif

/*
 * Like OpenSSH's ChrootDirectory: a directory the daemon trusts, and
 * every directory above it, are owned by root and writable by nobody
 * else, so nobody but root can swap what lies below.  what names the
 * option in errors.
 */
static int
root_component(const char *what, const char *path, const char *comp,
    char *err, size_t errlen)
{
	struct stat	 st;

	if (lstat(comp, &st) == -1)
		return errset(err, errlen, "%s %s: %s: %s", what, path, comp,
		    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return errset(err, errlen, "%s %s: %s is not a directory",
		    what, path, comp);
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return errset(err, errlen, "%s %s: bad ownership or modes "
		    "for %s (must be owned by root and not writable by group "
		    "or others)", what, path, comp);
	return 0;
}

int
sandbox_check_dirs(const char *what, const char *path, char *err,
    size_t errlen)
{
	char		 comp[PATH_MAX];
	const char	*p;
	size_t		 n;

	if (*path != '/')
		return errset(err, errlen, "%s %s: not an absolute path",
		    what, path);
	if (root_component(what, path, "/", err, errlen) == -1)
		return -1;
	for (p = strchr(path + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
		n = p - path;
		if (n >= sizeof(comp))
			return errset(err, errlen, "%s %s: path too long",
			    what, path);
		memcpy(comp, path, n);
		comp[n] = '\0';
		if (root_component(what, path, comp, err, errlen) == -1)
			return -1;
	}
	return 0;
}

/* The chroot: its directories, and it is an empty one of root's. */
int
sandbox_check_root(const char *path, int create, char *err, size_t errlen)
{
	struct stat	 st;
	DIR		*d;
	struct dirent	*de;

	/* Every directory above it first: nothing is created under a bad one. */
	if (sandbox_check_dirs("chroot", path, err, errlen) == -1)
		return -1;
	if (lstat(path, &st) == -1) {
		if (errno != ENOENT)
			return errset(err, errlen, "chroot %s: %s", path,
			    strerror(errno));
		if (!create)
			return errset(err, errlen, "chroot %s: does not exist "
			    "(the daemon creates it when it starts)", path);
		if (mkdir(path, 0755) == -1)
			return errset(err, errlen, "chroot %s: mkdir: %s",
			    path, strerror(errno));
	}
	if (root_component("chroot", path, path, err, errlen) == -1)
		return -1;
	if ((d = opendir(path)) == NULL)
		return errset(err, errlen, "chroot %s: %s", path,
		    strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		errset(err, errlen, "chroot %s: not empty (holds \"%s\")",
		    path, de->d_name);
		closedir(d);
		return -1;
	}
	closedir(d);
	return 0;
}

/* What each child keeps, in its bounding, permitted and effective sets. */
static const cap_value_t caps_executor[] = { CAP_NET_ADMIN };

/*
 * The parent starts every child as root, so it keeps what a child
 * needs to confine itself (chroot, ids, bounding set), what the
 * executor and arp-helper keep, and the right to signal children that
 * run under another uid.
 */
static const cap_value_t caps_parent[] = {
	CAP_SYS_CHROOT, CAP_SETUID, CAP_SETGID, CAP_SETPCAP, CAP_NET_ADMIN,
	CAP_KILL,
};

static int
caps_has(const cap_value_t *keep, int nkeep, cap_value_t c)
{
	int	 i;

	for (i = 0; i < nkeep; i++)
		if (keep[i] == c)
			return 1;
	return 0;
}

/* Needs CAP_SETPCAP in the effective set, so it runs while still root. */
static void
caps_bound(const cap_value_t *keep, int nkeep)
{
	cap_value_t	 c;

	for (c = 0; c < (cap_value_t)cap_max_bits(); c++)
		if (!caps_has(keep, nkeep, c) && cap_drop_bound(c) == -1 &&
		    errno != EINVAL)
			fatal("cannot drop capability %s from the bounding set",
			    cap_to_name(c));
}

static void
caps_set(const cap_value_t *keep, int nkeep)
{
	cap_t		 caps;

	if ((caps = cap_init()) == NULL)
		fatal("cap_init");
	if (nkeep > 0 &&
	    (cap_set_flag(caps, CAP_PERMITTED, nkeep, keep, CAP_SET) == -1 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, nkeep, keep, CAP_SET) == -1))
		fatal("cap_set_flag");
	if (cap_set_proc(caps) == -1)
		fatal("cannot set capabilities");
	cap_free(caps);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		fatal("cannot clear ambient capabilities");
}

void
sandbox_parent(void)
{
	int	 n = sizeof(caps_parent) / sizeof(caps_parent[0]);

	caps_bound(caps_parent, n);
	caps_set(caps_parent, n);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_NO_NEW_PRIVS");
}

/*
 * What each role may call, as tables after chrony's sys_linux.c: per
 * role, a list of system calls allowed whatever their arguments, and a
 * list of calls allowed (or answered with an errno) only when their
 * arguments match.  Anything else kills the whole process (or is
 * logged with --seccomp=log).  A call is in the first kind of list
 * only when no argument can make it reach past the process and the
 * descriptors it holds.
 */
struct sc_rule {
	int			 nr;		/* the system call */
	uint32_t		 act;		/* allow, or fail with an errno */
	unsigned		 ncmp;
	struct scmp_arg_cmp	 cmp[3];	/* all must match */
};

/* Stands for the child's own pid, which is known only at load time. */
#define SC_SELF			0xffffffffu

#define ARG_EQ(n, v)		{ (n), SCMP_CMP_EQ, (uint32_t)(v), 0 }
#define ARG_CLEAR(n, bits)	{ (n), SCMP_CMP_MASKED_EQ, (uint32_t)(bits), 0 }
#define ARG_SET(n, bits) \
	{ (n), SCMP_CMP_MASKED_EQ, (uint32_t)(bits), (uint32_t)(bits) }
#define ALLOW(call, n, ...) \
	{ SCMP_SYS(call), SCMP_ACT_ALLOW, (n), { __VA_ARGS__ } }
#define FAIL(call, e, n, ...) \
	{ SCMP_SYS(call), SCMP_ACT_ERRNO(e), (n), { __VA_ARGS__ } }
/* One option of setsockopt(2), with a value no larger than an int. */
#define SOCKOPT(level, name) \
	ALLOW(setsockopt, 3, ARG_EQ(1, level), ARG_EQ(2, name), \
	    { 4, SCMP_CMP_LE, sizeof(int), 0 })
#define NELEM(a)		(sizeof(a) / sizeof((a)[0]))

/* Every role. */
static const int sc_base[] = {
	/* channels to the parent and the peers */
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(close),
	SCMP_SYS(poll), SCMP_SYS(ppoll),
	/* time */
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
	/* memory (mmap and mprotect are in sr_base) */
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
	/* process, signals, libc and sanitizer runtime internals */
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(exit),
	SCMP_SYS(exit_group), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigaction), SCMP_SYS(sigaltstack), SCMP_SYS(restart_syscall),
	SCMP_SYS(futex), SCMP_SYS(sched_yield), SCMP_SYS(getrandom),
};

static const struct sc_rule sr_base[] = {
	/* memory, never executable */
	ALLOW(mmap, 1, ARG_CLEAR(2, PROT_EXEC)),
	ALLOW(mprotect, 1, ARG_CLEAR(2, PROT_EXEC)),
	/* signals to itself only (abort, the sanitizers) */
	ALLOW(kill, 1, ARG_EQ(0, SC_SELF)),
	ALLOW(tgkill, 1, ARG_EQ(0, SC_SELF)),
	/*
	 * Libraries open files lazily (time zones, TLS configuration);
	 * in the empty chroot there is nothing to find, so say so rather
	 * than kill.  Looking a path up finds nothing either (OpenSSL
	 * does on its error paths); glibc's fstat is newfstatat with
	 * AT_EMPTY_PATH on a descriptor, which is allowed.
	 */
	FAIL(open, ENOENT, 0), FAIL(openat, ENOENT, 0),
	FAIL(stat, ENOENT, 0), FAIL(lstat, ENOENT, 0),
	FAIL(access, ENOENT, 0), FAIL(faccessat, ENOENT, 0),
	ALLOW(newfstatat, 1, ARG_SET(3, AT_EMPTY_PATH)),
	FAIL(newfstatat, ENOENT, 1, ARG_CLEAR(3, AT_EMPTY_PATH)),
	ALLOW(statx, 1, ARG_SET(2, AT_EMPTY_PATH)),
	FAIL(statx, ENOENT, 1, ARG_CLEAR(2, AT_EMPTY_PATH)),
	/* new libcs try clone3 first; ENOSYS makes them fall back */
	FAIL(clone3, ENOSYS, 0),
	/*
	 * isatty(3), as the sanitizers ask before a report: no terminal.
	 * Every other ioctl(2) kills (FIOASYNC and FIOSETOWN signal).
	 */
	FAIL(ioctl, ENOTTY, 1, ARG_EQ(1, TCGETS)),
};

/*
 * Descriptor flags and status flags, but never what makes the kernel
 * signal a process the caller names: F_SETOWN, F_SETOWN_EX, F_SETSIG
 * and O_ASYNC would let SIGKILL reach any process of the same uid;
 * leases and F_NOTIFY signal too.  No prctl(2) at all.
 */
#define SR_FCNTL \
	ALLOW(fcntl, 1, ARG_EQ(1, F_GETFD)), \
	ALLOW(fcntl, 1, ARG_EQ(1, F_SETFD)), \
	ALLOW(fcntl, 1, ARG_EQ(1, F_GETFL)), \
	ALLOW(fcntl, 2, ARG_EQ(1, F_SETFL), ARG_CLEAR(2, O_ASYNC))

/*
 * The watcher's HTTPS client (libcurl, OpenSSL) on the connected
 * sockets the parent hands it: no socket, no connect, and sendto (what
 * send(2) is) only without an address, in sr_watcher.
 */
static const int sc_watcher[] = {
	SCMP_SYS(recvfrom), SCMP_SYS(getsockopt), SCMP_SYS(getsockname),
	SCMP_SYS(getpeername), SCMP_SYS(shutdown),
};

static const struct sc_rule sr_watcher[] = {
	SR_FCNTL,
	SOCKOPT(IPPROTO_TCP, TCP_NODELAY),
	SOCKOPT(SOL_SOCKET, SO_KEEPALIVE),
	SOCKOPT(IPPROTO_TCP, TCP_KEEPIDLE),
	SOCKOPT(IPPROTO_TCP, TCP_KEEPINTVL),
	/* Where it sends is where the parent connected. */
	ALLOW(sendto, 1, ARG_EQ(4, 0)),
	/*
	 * libcurl 7.88 (Debian 12) calls connect(2) on the socket it was
	 * told is connected (curl issue 10626, fixed in 8.0.0): it never
	 * reaches the kernel, and "in progress" has libcurl wait for the
	 * socket to be writable, which it is.
	 */
	FAIL(connect, EINPROGRESS, 0),
};

/*
 * The metrics process's HTTP server (libmicrohttpd) on the listening
 * socket the parent opened: it accepts, it never opens a socket.
 */
static const int sc_metrics[] = {
	SCMP_SYS(accept4), SCMP_SYS(accept), SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(sendto),
	SCMP_SYS(recvfrom), SCMP_SYS(getsockopt), SCMP_SYS(shutdown),
};

static const struct sc_rule sr_metrics[] = {
	SR_FCNTL,
	SOCKOPT(IPPROTO_TCP, TCP_NODELAY),
	SOCKOPT(IPPROTO_TCP, TCP_CORK),
};

/*
 * The executor's and the ARP helper's netlink sockets, opened and
 * set up before the drop.
 */
static const int sc_netlink[] = {
	SCMP_SYS(sendto), SCMP_SYS(recvfrom),
};

static const struct sc_role {
	const int		*calls;
	size_t			 ncalls;
	const struct sc_rule	*rules;
	size_t			 nrules;
} sc_roles[ROLE_NPROC] = {
	[ROLE_WATCHER] = { sc_watcher, NELEM(sc_watcher),
	    sr_watcher, NELEM(sr_watcher) },
	[ROLE_EXECUTOR] = { sc_netlink, NELEM(sc_netlink), NULL, 0 },
	[ROLE_ARP] = { sc_netlink, NELEM(sc_netlink), NULL, 0 },
	[ROLE_METRICS] = { sc_metrics, NELEM(sc_metrics),
	    sr_metrics, NELEM(sr_metrics) },
};

static void
add_calls(scmp_filter_ctx ctx, const int *list, size_t n)
{
	size_t	 i;
	int	 rc;

	for (i = 0; i < n; i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, list[i], 0)) <
		    0)
			fatalx("seccomp rule %s: %s",
			    seccomp_syscall_resolve_num_arch(
			    SCMP_ARCH_NATIVE, list[i]), strerror(-rc));
}

static void
add_rules(scmp_filter_ctx ctx, const struct sc_rule *list, size_t n)
{
	struct scmp_arg_cmp	 cmp[3];
	size_t			 i, k;
	int			 rc;

	for (i = 0; i < n; i++) {
		memcpy(cmp, list[i].cmp, sizeof(cmp));
		for (k = 0; k < list[i].ncmp; k++)
			if (cmp[k].datum_a == SC_SELF)
				cmp[k].datum_a = (scmp_datum_t)getpid();
		if ((rc = seccomp_rule_add_array(ctx, list[i].act, list[i].nr,
		    list[i].ncmp, cmp)) < 0)
			fatalx("seccomp rule %s: %s",
			    seccomp_syscall_resolve_num_arch(
			    SCMP_ARCH_NATIVE, list[i].nr), strerror(-rc));
	}
}

static void
sandbox_rules(enum role role, uint32_t defact)
{
	const struct sc_role	*r = &sc_roles[role];
	scmp_filter_ctx		 ctx;
	int			 rc;

	if ((ctx = seccomp_init(defact)) == NULL)
		fatalx("seccomp_init failed");
	/* x86_64 only, no 32-bit or x32 calls on the side door. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) < 0)
		fatalx("seccomp bad-arch action: %s", strerror(-rc));
	add_calls(ctx, sc_base, NELEM(sc_base));
	add_rules(ctx, sr_base, NELEM(sr_base));
	add_calls(ctx, r->calls, r->ncalls);
	add_rules(ctx, r->rules, r->nrules);
	if ((rc = seccomp_load(ctx)) < 0)
		fatalx("seccomp_load: %s", strerror(-rc));
	seccomp_release(ctx);
}

/*
 * Resource limits per role, so that a bug (a leak, a descriptor that
 * is never closed) ends in a failed call, an exit and a logged restart
 * rather than in pressure on the node.  Measured in the build without
 * sanitizers, address space (VmPeak) after the first snapshot of the
 * test API server's nodes (tests/apiserver/nodegen.py, vxlan mode):
 *
 *			 5,000 nodes	65,525 nodes
 *	watcher		 22 MB		 36 MB
 *	executor	 38 MB		174 MB (still reconciling)
 *	metrics		 21 MB		 21 MB
 *
 * So each role may use its image and libraries (the base) and a share
 * per node of --max-nodes, several times what it was seen to use
 * (0.2 KiB a node for the watcher, 2.2 for the executor).  At the
 * default 65,536 nodes: 256 MiB for the watcher and the arp-helper,
 * 640 MiB for the executor, address space only, most never touched;
 * the tables grow with the cluster, so a smaller one uses less.
 * No child starts a process or a thread (the filters allow no clone):
 * RLIMIT_NPROC 0.
 */
static const struct sandbox_limit {
	rlim_t		 nofile;	/* descriptors */
	rlim_t		 as_base;	/* address space, MiB */
	rlim_t		 as_node;	/* and KiB per node of --max-nodes */
} sandbox_limits[ROLE_NPROC] = {
	[ROLE_WATCHER] =	{ 32, 128, 2 },
	[ROLE_EXECUTOR] =	{ 32, 128, 8 },
	[ROLE_ARP] =		{ 32, 128, 2 },
	/* the parent's listening socket and up to 16 connections */
	[ROLE_METRICS] =	{ 64, 128, 0 },
};

/* The address space a child of role may use, in bytes; 0: no limit. */
uint64_t
sandbox_memory_limit(enum role role, const struct kn_config *conf)
{
	const struct sandbox_limit	*l = &sandbox_limits[role];

	/*
	 * AddressSanitizer reserves terabytes of address space for its
	 * shadow memory and allocator at start, which RLIMIT_AS (and
	 * RLIMIT_DATA, which counts private writable mappings) would
	 * refuse: a sanitizer build sets no memory limit.
	 */
	if (SANDBOX_SANITIZED)
		return 0;
	return ((uint64_t)l->as_base << 20) +
	    ((uint64_t)l->as_node << 10) * conf->max_nodes;
}

static void
limit_set(int resource, const char *name, rlim_t value)
{
	struct rlimit	 rl = { value, value };

	if (setrlimit(resource, &rl) == -1)
		fatal("setrlimit %s %llu", name, (unsigned long long)value);
}

static void
sandbox_rlimits(enum role role, const struct kn_config *conf)
{
	uint64_t	 as = sandbox_memory_limit(role, conf);

	limit_set(RLIMIT_NOFILE, "RLIMIT_NOFILE", sandbox_limits[role].nofile);
	limit_set(RLIMIT_NPROC, "RLIMIT_NPROC", 0);
	if (as != 0)
		limit_set(RLIMIT_AS, "RLIMIT_AS", as);
}

void
sandbox_child(enum role role, const struct kn_config *conf, struct stat *root)
{
	const cap_value_t	*keep = NULL;
	int			 nkeep = 0;
	gid_t			 gid = conf->gid;
	uid_t			 ruid, euid, suid;

	if (role == ROLE_EXECUTOR || role == ROLE_ARP) {
		keep = caps_executor;
		nkeep = sizeof(caps_executor) / sizeof(caps_executor[0]);
	}
	sandbox_rlimits(role, conf);
	if (chroot(conf->chroot) == -1)
		fatal("chroot %s", conf->chroot);
	if (chdir("/") == -1)
		fatal("chdir /");
	if (stat("/", root) == -1)
		fatal("stat /");
	caps_bound(keep, nkeep);
	if (nkeep > 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_KEEPCAPS");
	if (setgroups(1, &gid) == -1)
		fatal("setgroups %u", conf->gid);
	if (setresgid(conf->gid, conf->gid, conf->gid) == -1)
		fatal("setresgid %u", conf->gid);
	if (setresuid(conf->uid, conf->uid, conf->uid) == -1)
		fatal("setresuid %u", conf->uid);
	if (getresuid(&ruid, &euid, &suid) == -1 || ruid != conf->uid ||
	    euid != conf->uid || suid != conf->uid || setuid(0) != -1)
		fatalx("failed to drop to uid %u", conf->uid);
	caps_set(keep, nkeep);
	if (nkeep > 0 && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) == -1)
		fatal("PR_SET_KEEPCAPS");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_NO_NEW_PRIVS");
	sandbox_rules(role, conf->seccomp == SECCOMP_MODE_LOG ?
	    SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS);
	sandbox_confined = 1;
}

/* --self-test: ptrace(2) is in no role's filter. */
void
sandbox_violate(void)
{
	syscall(SYS_ptrace, 0, 0, 0, 0);
	fatalx("a forbidden system call returned: seccomp is not enforcing");
}

/* The capability mask of the executor and the arp-helper. */
uint64_t
sandbox_role_caps(void)
{
	uint64_t	 m = 0;
	size_t		 i;

	for (i = 0; i < sizeof(caps_executor) / sizeof(caps_executor[0]); i++)
		m |= 1ULL << caps_executor[i];
	return m;
}

int
proc_status_parse(const char *text, struct proc_status *ps)
{
	const char	*l;
	int		 seen = 0;

	memset(ps, 0, sizeof(*ps));
	ps->no_new_privs = ps->seccomp = -1;
	for (l = text; l != NULL && *l != '\0'; l = strchr(l, '\n'),
	    l = l ? l + 1 : NULL) {
		if (sscanf(l, "Uid: %u %u %u %u", &ps->uid[0], &ps->uid[1],
		    &ps->uid[2], &ps->uid[3]) == 4)
			seen |= 1;
		else if (sscanf(l, "Gid: %u %u %u %u", &ps->gid[0],
		    &ps->gid[1], &ps->gid[2], &ps->gid[3]) == 4)
			seen |= 2;
		else if (sscanf(l, "CapInh: %" SCNx64, &ps->cap_inh) == 1)
			seen |= 4;
		else if (sscanf(l, "CapPrm: %" SCNx64, &ps->cap_prm) == 1)
			seen |= 8;
		else if (sscanf(l, "CapEff: %" SCNx64, &ps->cap_eff) == 1)
			seen |= 16;
		else if (sscanf(l, "CapBnd: %" SCNx64, &ps->cap_bnd) == 1)
			seen |= 32;
		else if (sscanf(l, "CapAmb: %" SCNx64, &ps->cap_amb) == 1)
			seen |= 64;
		else if (sscanf(l, "NoNewPrivs: %d", &ps->no_new_privs) == 1)
			seen |= 128;
		else if (sscanf(l, "Seccomp: %d", &ps->seccomp) == 1)
			seen |= 256;
	}
	return seen == 511 ? 0 : -1;
}

int
proc_status_read(pid_t pid, struct proc_status *ps)
{
	char	 path[64], buf[8192];
	ssize_t	 n;
	int	 fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return proc_status_parse(buf, ps);
}
