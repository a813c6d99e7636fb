#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

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

#ifndef __has_feature
#define __has_feature(x)	0
#endif

static volatile int	 sandbox_confined;

#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
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
 * The system calls each role may make, grouped by purpose.  Anything
 * else kills the whole process (or is logged with --seccomp=log).
 */
static const int sc_base[] = {
	/* channels to the parent and the peers */
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(close),
	SCMP_SYS(poll), SCMP_SYS(ppoll),
	/* time */
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
	/* memory (no PROT_EXEC: see sandbox_rules) */
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
	/* process, signals, libc and sanitizer runtime internals */
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(exit),
	SCMP_SYS(exit_group), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigaction), SCMP_SYS(sigaltstack), SCMP_SYS(restart_syscall),
	SCMP_SYS(futex), SCMP_SYS(sched_yield), SCMP_SYS(getrandom),
};

/*
 * The watcher's HTTPS client (libcurl, OpenSSL) on the connected
 * sockets the parent hands it: no socket, no connect, and sendto (what
 * send(2) is) only without an address, below.
 */
static const int sc_watcher[] = {
	SCMP_SYS(getsockopt), SCMP_SYS(setsockopt), SCMP_SYS(getsockname),
	SCMP_SYS(getpeername), SCMP_SYS(recvfrom), SCMP_SYS(shutdown),
	SCMP_SYS(fcntl),
};

/*
 * The metrics process's HTTP server (libmicrohttpd) on the listening
 * socket the parent opened: it accepts, it never opens a socket.
 */
static const int sc_metrics[] = {
	SCMP_SYS(accept4), SCMP_SYS(accept), SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(sendto),
	SCMP_SYS(recvfrom), SCMP_SYS(setsockopt), SCMP_SYS(getsockopt),
	SCMP_SYS(shutdown), SCMP_SYS(fcntl),
};

/* The executor's and the ARP helper's netlink sockets, opened before. */
static const int sc_netlink[] = {
	SCMP_SYS(sendto), SCMP_SYS(recvfrom),
};

static void
allow_list(scmp_filter_ctx ctx, const int *list, size_t n)
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
sandbox_rules(enum role role, uint32_t defact)
{
	scmp_filter_ctx	 ctx;
	int		 rc;

	if ((ctx = seccomp_init(defact)) == NULL)
		fatalx("seccomp_init failed");
	/* x86_64 only, no 32-bit or x32 calls on the side door. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) < 0)
		fatalx("seccomp bad-arch action: %s", strerror(-rc));
	allow_list(ctx, sc_base, sizeof(sc_base) / sizeof(sc_base[0]));
	if (role == ROLE_WATCHER) {
		allow_list(ctx, sc_watcher,
		    sizeof(sc_watcher) / sizeof(sc_watcher[0]));
		/*
		 * Where it sends is where the parent connected.  libcurl
		 * 7.88 (Debian 12) calls connect(2) on the socket it was
		 * told is connected (curl issue 10626, fixed in 8.0.0): it
		 * never reaches the kernel, and "in progress" has libcurl
		 * wait for the socket to be writable, which it is.
		 */
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendto),
		    1, SCMP_A4(SCMP_CMP_EQ, 0, 0))) < 0 ||
		    (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EINPROGRESS),
		    SCMP_SYS(connect), 0)) < 0)
			fatalx("seccomp sendto, connect rules: %s",
			    strerror(-rc));
	}
	if (role == ROLE_EXECUTOR || role == ROLE_ARP)
		allow_list(ctx, sc_netlink,
		    sizeof(sc_netlink) / sizeof(sc_netlink[0]));
	if (role == ROLE_METRICS)
		allow_list(ctx, sc_metrics,
		    sizeof(sc_metrics) / sizeof(sc_metrics[0]));
	/* Memory, never executable. */
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))) < 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))) < 0)
		fatalx("seccomp memory rules: %s", strerror(-rc));
	/* Signals only to itself: the children share one uid. */
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
	    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0))) < 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
	    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0))) < 0)
		fatalx("seccomp signal rules: %s", strerror(-rc));
	/*
	 * Libraries open files lazily (time zones, TLS configuration);
	 * in the empty chroot there is nothing to find, so say so rather
	 * than kill.
	 */
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOENT),
	    SCMP_SYS(openat), 0)) < 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOENT),
	    SCMP_SYS(open), 0)) < 0)
		fatalx("seccomp open rules: %s", strerror(-rc));
	/*
	 * Looking a path up finds nothing in the empty chroot either
	 * (OpenSSL does on its error paths); glibc's fstat is newfstatat
	 * with AT_EMPTY_PATH on a descriptor, which is allowed.
	 */
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 1,
	    SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH))) < 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOENT),
	    SCMP_SYS(newfstatat), 1,
	    SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0))) < 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(statx), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH))) < 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOENT),
	    SCMP_SYS(statx), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0))) < 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOENT),
	    SCMP_SYS(stat), 0)) < 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOENT),
	    SCMP_SYS(lstat), 0)) < 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOENT),
	    SCMP_SYS(access), 0)) < 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOENT),
	    SCMP_SYS(faccessat), 0)) < 0)
		fatalx("seccomp stat rules: %s", strerror(-rc));
	/* New libcs try clone3 first; ENOSYS makes them fall back. */
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
	    SCMP_SYS(clone3), 0)) < 0)
		fatalx("seccomp clone3 rule: %s", strerror(-rc));
	if ((rc = seccomp_load(ctx)) < 0)
		fatalx("seccomp_load: %s", strerror(-rc));
	seccomp_release(ctx);
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
