/*
 * Unit tests of the confinement helpers: the /proc/PID/status reader
 * and the checks on the chroot directory, in this process; and each
 * role's seccomp filter, in children of this process confined as that
 * role (kill mode).  Run as root: the chroot checks need root-owned
 * directories and chown(2), the children chroot and change uid.
 */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/sandbox.h"
#include "tap.h"

/* A real /proc/self/status of a root shell, as Linux 6.x writes it. */
static const char status_root[] =
    "Name:\tcat\n"
    "Umask:\t0022\n"
    "State:\tR (running)\n"
    "Tgid:\t8381\n"
    "Ngid:\t0\n"
    "Pid:\t8381\n"
    "PPid:\t8378\n"
    "TracerPid:\t0\n"
    "Uid:\t0\t0\t0\t0\n"
    "Gid:\t0\t0\t0\t0\n"
    "FDSize:\t256\n"
    "Groups:\t \n"
    "NStgid:\t8381\n"
    "NSpid:\t8381\n"
    "NSpgid:\t8378\n"
    "NSsid:\t7327\n"
    "Kthread:\t0\n"
    "VmPeak:\t    3060 kB\n"
    "VmSize:\t    3060 kB\n"
    "VmLck:\t       0 kB\n"
    "VmPin:\t       0 kB\n"
    "VmHWM:\t    1720 kB\n"
    "VmRSS:\t    1720 kB\n"
    "RssAnon:\t     112 kB\n"
    "RssFile:\t    1608 kB\n"
    "RssShmem:\t       0 kB\n"
    "VmData:\t     360 kB\n"
    "VmStk:\t     132 kB\n"
    "VmExe:\t      20 kB\n"
    "VmLib:\t    1528 kB\n"
    "VmPTE:\t      44 kB\n"
    "VmSwap:\t       0 kB\n"
    "HugetlbPages:\t       0 kB\n"
    "CoreDumping:\t0\n"
    "THP_enabled:\t1\n"
    "untag_mask:\t0xffffffffffffffff\n"
    "Threads:\t1\n"
    "SigQ:\t0/96365\n"
    "SigPnd:\t0000000000000000\n"
    "ShdPnd:\t0000000000000000\n"
    "SigBlk:\t0000000000000000\n"
    "SigIgn:\t0000000000000000\n"
    "SigCgt:\t0000000000000000\n"
    "CapInh:\t0000000000000000\n"
    "CapPrm:\t000001fffeffffff\n"
    "CapEff:\t000001fffeffffff\n"
    "CapBnd:\t000001fffeffffff\n"
    "CapAmb:\t0000000000000000\n"
    "NoNewPrivs:\t0\n"
    "Seccomp:\t0\n"
    "Seccomp_filters:\t0\n"
    "Speculation_Store_Bypass:\tvulnerable\n"
    "SpeculationIndirectBranch:\talways enabled\n"
    "Cpus_allowed:\t3\n"
    "Cpus_allowed_list:\t0-1\n"
    "Mems_allowed:\t00000000,00000001\n"
    "Mems_allowed_list:\t0\n"
    "voluntary_ctxt_switches:\t0\n"
    "nonvoluntary_ctxt_switches:\t0\n";

/* The same layout as a confined executor would show it. */
static const char status_child[] =
    "Name:\tkopeio-networkd\n"
    "Umask:\t0022\n"
    "State:\tS (sleeping)\n"
    "Tgid:\t9120\n"
    "Pid:\t9120\n"
    "PPid:\t9100\n"
    "TracerPid:\t0\n"
    "Uid:\t65534\t65534\t65534\t65534\n"
    "Gid:\t65533\t65533\t65533\t65533\n"
    "FDSize:\t64\n"
    "Groups:\t65533 \n"
    "Threads:\t1\n"
    "CapInh:\t0000000000000000\n"
    "CapPrm:\t0000000000001000\n"
    "CapEff:\t0000000000001000\n"
    "CapBnd:\t0000000000001000\n"
    "CapAmb:\t0000000000000000\n"
    "NoNewPrivs:\t1\n"
    "Seccomp:\t2\n"
    "Seccomp_filters:\t1\n"
    "Speculation_Store_Bypass:\tthread force mitigated\n"
    "voluntary_ctxt_switches:\t3\n"
    "nonvoluntary_ctxt_switches:\t0\n";

/* A copy of text without the line that starts with prefix. */
static char *
without_line(const char *text, const char *prefix)
{
	char	*s, *l, *e;

	if ((s = strdup(text)) == NULL)
		bail_out("strdup: %s", strerror(errno));
	for (l = s; *l != '\0'; l = e + 1) {
		if ((e = strchr(l, '\n')) == NULL)
			break;
		if (strncmp(l, prefix, strlen(prefix)) == 0) {
			memmove(l, e + 1, strlen(e + 1) + 1);
			return s;
		}
	}
	free(s);
	bail_out("no line %s", prefix);
}

/* A copy of text with the value after prefix replaced. */
static char *
with_line(const char *text, const char *prefix, const char *line)
{
	char	*s, *t;
	size_t	 n;

	s = without_line(text, prefix);
	n = strlen(s) + strlen(line) + 2;
	if ((t = malloc(n)) == NULL)
		bail_out("malloc: %s", strerror(errno));
	snprintf(t, n, "%s%s\n", s, line);
	free(s);
	return t;
}

static void
test_status_parse(void)
{
	static const char *const fields[] = {
		"Uid:", "Gid:", "CapInh:", "CapPrm:", "CapEff:", "CapBnd:",
		"CapAmb:", "NoNewPrivs:", "Seccomp:",
	};
	struct proc_status	 ps;
	char			*s;
	size_t			 i;

	is_int(proc_status_parse(status_root, &ps), 0,
	    "status: a root shell's status parses");
	ok(ps.uid[0] == 0 && ps.uid[1] == 0 && ps.uid[2] == 0 &&
	    ps.uid[3] == 0 && ps.gid[0] == 0 && ps.gid[3] == 0,
	    "status: root's uids and gids");
	ok(ps.cap_prm == 0x1fffeffffffULL && ps.cap_eff == 0x1fffeffffffULL &&
	    ps.cap_bnd == 0x1fffeffffffULL && ps.cap_inh == 0 &&
	    ps.cap_amb == 0, "status: root's capability sets");
	ok(ps.no_new_privs == 0 && ps.seccomp == 0,
	    "status: root has no NoNewPrivs, no seccomp");

	is_int(proc_status_parse(status_child, &ps), 0,
	    "status: a confined child's status parses");
	ok(ps.uid[0] == 65534 && ps.uid[1] == 65534 && ps.uid[2] == 65534 &&
	    ps.uid[3] == 65534, "status: child uids, all four");
	ok(ps.gid[0] == 65533 && ps.gid[1] == 65533 && ps.gid[2] == 65533 &&
	    ps.gid[3] == 65533, "status: child gids, all four");
	ok(ps.cap_prm == 1ULL << 12 && ps.cap_eff == 1ULL << 12 &&
	    ps.cap_bnd == 1ULL << 12 && ps.cap_inh == 0 && ps.cap_amb == 0,
	    "status: child keeps only CAP_NET_ADMIN");
	ok(ps.no_new_privs == 1 && ps.seccomp == 2,
	    "status: child NoNewPrivs 1, Seccomp 2 (filter)");

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		s = without_line(status_child, fields[i]);
		is_int(proc_status_parse(s, &ps), -1,
		    "status: without its %s line, refused", fields[i]);
		free(s);
	}
	/* Seccomp_filters must not stand in for the missing Seccomp. */
	s = without_line(status_root, "Seccomp:");
	ok(strstr(s, "Seccomp_filters:") != NULL &&
	    proc_status_parse(s, &ps) == -1,
	    "status: Seccomp_filters is not taken for Seccomp");
	free(s);
	s = with_line(status_child, "Uid:", "Uid:\t65534\t65534");
	is_int(proc_status_parse(s, &ps), -1,
	    "status: a Uid line with two ids refused");
	free(s);
	s = with_line(status_child, "CapEff:", "CapEff:\tnone");
	is_int(proc_status_parse(s, &ps), -1,
	    "status: a CapEff that is not hex refused");
	free(s);
	s = with_line(status_child, "Seccomp:", "Seccomp:\t2");
	ok(proc_status_parse(s, &ps) == 0 && ps.seccomp == 2,
	    "status: field order does not matter");
	free(s);
	is_int(proc_status_parse("", &ps), -1, "status: empty text refused");
	is_int(proc_status_parse("Uid:\t0\t0\t0\t0", &ps), -1,
	    "status: one field only refused");
}

static void
test_status_read(void)
{
	struct proc_status	 ps;
	uid_t			 r, e, s;
	gid_t			 gr, ge, gs;
	uint64_t		 bnd = 0;
	int			 c, rv;

	rv = proc_status_read(getpid(), &ps);
	is_int(rv, 0, "status: proc_status_read of this process");
	if (getresuid(&r, &e, &s) == -1 || getresgid(&gr, &ge, &gs) == -1)
		bail_out("getresuid: %s", strerror(errno));
	ok(rv == 0 && ps.uid[0] == r && ps.uid[1] == e && ps.uid[2] == s &&
	    ps.gid[0] == gr && ps.gid[1] == ge && ps.gid[2] == gs,
	    "status: this process's ids match getresuid and getresgid");
	for (c = 0; c < 64; c++)
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
			bnd |= 1ULL << c;
	ok(rv == 0 && ps.cap_bnd == bnd,
	    "status: bounding set matches PR_CAPBSET_READ (%#llx)",
	    (unsigned long long)bnd);
	ok(rv == 0 && ps.no_new_privs == prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0,
	    0), "status: NoNewPrivs matches PR_GET_NO_NEW_PRIVS");
	ok(rv == 0 && ps.seccomp == prctl(PR_GET_SECCOMP, 0, 0, 0, 0),
	    "status: Seccomp matches PR_GET_SECCOMP");
	is_int(proc_status_read(0x3fffffff, &ps), -1,
	    "status: a pid that does not exist is -1");
}

static char	 base[] = "/run/kn-test-XXXXXX";
static char	 err[1024];

static const char *
at(const char *name)
{
	static char	 path[4][512];
	static int	 n;

	n = (n + 1) % 4;
	snprintf(path[n], sizeof(path[n]), "%s/%s", base, name);
	return path[n];
}

static void
make_dir(const char *name, mode_t mode)
{
	if (mkdir(at(name), mode) == -1 || chmod(at(name), mode) == -1)
		bail_out("mkdir %s: %s", at(name), strerror(errno));
}

static void
make_file(const char *name)
{
	int	 fd;

	if ((fd = open(at(name), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0644)) == -1)
		bail_out("create %s: %s", at(name), strerror(errno));
	close(fd);
}

static int
check(const char *name, int create)
{
	err[0] = '\0';
	return sandbox_check_root(at(name), create, err, sizeof(err));
}

static void
test_root_good(void)
{
	struct stat	 st;
	char		 path[600];
	int		 rv;

	make_dir("good", 0755);
	rv = check("good", 0);
	is_int(rv, 0, "root: an empty root-owned 0755 dir%s%s",
	    *err ? ": " : "", err);
	make_dir("strict", 0700);
	is_int(check("strict", 0), 0, "root: 0700 is fine as well");
	snprintf(path, sizeof(path), "%s/", at("good"));
	is_int(sandbox_check_root(path, 0, err, sizeof(err)), 0,
	    "root: a trailing slash is fine");
	make_dir("othergroup", 0755);
	if (chown(at("othergroup"), 0, 65534) == -1)
		bail_out("chown: %s", strerror(errno));
	is_int(check("othergroup", 0), 0,
	    "root: another group without write permission is fine");

	is_int(check("missing", 0), -1, "root: missing, create=0, refused");
	like(err, "does not exist", "root: the message says it does not exist");
	ok(lstat(at("missing"), &st) == -1 && errno == ENOENT,
	    "root: and nothing was created");

	rv = check("created", 1);
	is_int(rv, 0, "root: missing, create=1, accepted%s%s",
	    *err ? ": " : "", err);
	memset(&st, 0, sizeof(st));
	rv = lstat(at("created"), &st);
	ok(rv == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 07777) == 0755 && st.st_uid == 0,
	    "root: created as a root-owned 0755 directory (mode %04o)",
	    (unsigned)(st.st_mode & 07777));
	is_int(check("created", 1), 0, "root: create=1 on an existing one");
}

static void
test_root_bad(void)
{
	make_dir("full", 0755);
	make_file("full/stray-file");
	is_int(check("full", 0), -1, "root: a non-empty dir refused");
	like(err, "stray-file", "root: the message names the entry");
	make_dir("hidden", 0755);
	make_file("hidden/.dot");
	is_int(check("hidden", 0), -1, "root: a dot file counts as content");

	make_dir("gw", 0775);
	is_int(check("gw", 0), -1, "root: a group-writable dir refused");
	like(err, "bad ownership or modes", "root: message for group-writable");
	make_dir("ow", 0757);
	is_int(check("ow", 0), -1, "root: an other-writable dir refused");
	like(err, "bad ownership or modes", "root: message for other-writable");
	make_dir("sticky", 01777);
	is_int(check("sticky", 0), -1, "root: a /tmp-like 1777 dir refused");

	make_dir("nobody", 0755);
	if (chown(at("nobody"), 65534, 65534) == -1)
		bail_out("chown: %s", strerror(errno));
	is_int(check("nobody", 0), -1,
	    "root: a dir owned by uid 65534 refused");
	like(err, "bad ownership or modes", "root: message for the owner");

	make_dir("target", 0755);
	if (symlink(at("target"), at("link")) == -1)
		bail_out("symlink: %s", strerror(errno));
	is_int(check("link", 0), -1, "root: a symlink to a good dir refused");
	is_int(check("link", 1), -1, "root: even with create=1");

	make_file("file");
	is_int(check("file", 0), -1, "root: a regular file refused");
	is_int(check("file", 1), -1, "root: even with create=1");

	is_int(sandbox_check_root("run/kn-test", 1, err, sizeof(err)), -1,
	    "root: a relative path refused");
	like(err, "not an absolute path", "root: message for a relative path");
	is_int(sandbox_check_root("", 1, err, sizeof(err)), -1,
	    "root: an empty path refused");

	is_int(check("absent/child", 1), -1,
	    "root: create=1 under a missing parent refused");
}

/* Every directory above the root is checked, not just the last one. */
static void
test_root_parents(void)
{
	struct stat	 st;
	char		 tmp[] = "/tmp/kn-test-XXXXXX";
	int		 rv;

	make_dir("gwparent", 0775);
	make_dir("gwparent/child", 0755);
	is_int(check("gwparent/child", 0), -1,
	    "parents: a group-writable parent refused");
	like(err, "gwparent", "parents: the message names the parent");

	make_dir("nrparent", 0755);
	make_dir("nrparent/child", 0755);
	if (chown(at("nrparent"), 65534, 0) == -1)
		bail_out("chown: %s", strerror(errno));
	is_int(check("nrparent/child", 0), -1,
	    "parents: a parent owned by uid 65534 refused");
	like(err, "nrparent", "parents: the message names it");

	make_dir("realparent", 0755);
	make_dir("realparent/child", 0755);
	if (symlink("realparent", at("linkparent")) == -1)
		bail_out("symlink: %s", strerror(errno));
	is_int(check("realparent/child", 0), 0,
	    "parents: the real path is accepted");
	is_int(check("linkparent/child", 0), -1,
	    "parents: the same dir through a symlinked parent refused");
	like(err, "not a directory", "parents: message for the symlink");

	rv = check("gwparent/new", 1);
	is_int(rv, -1, "parents: create=1 under a bad parent refused");
	ok(lstat(at("gwparent/new"), &st) == -1,
	    "parents: nothing created under the bad parent");

	/* /tmp is 1777: nothing under it can be a chroot. */
	if (mkdtemp(tmp) == NULL || chmod(tmp, 0755) == -1)
		bail_out("mkdtemp %s: %s", tmp, strerror(errno));
	is_int(sandbox_check_root(tmp, 0, err, sizeof(err)), -1,
	    "parents: a good dir under /tmp refused");
	like(err, "for /tmp ", "parents: the message blames /tmp");
	rmdir(tmp);
}

/*
 * The seccomp filters.  Each probe runs in a child confined as a role
 * with the real filter in kill mode; a probe returns 0 when every call
 * it made succeeded.  The child exits with that, or dies of SIGSYS.
 */
struct probe_fds {
	int	 pair[2];	/* a connected unix stream pair */
	int	 tcp;		/* a TCP socket, as accept(2) or curl makes */
	pid_t	 victim;	/* a process of the children's uid */
};

static int
p_fcntl_setown(const struct probe_fds *f)
{
	return fcntl(f->pair[0], F_SETOWN, f->victim) == -1;
}

static int
p_fcntl_setown_ex(const struct probe_fds *f)
{
	struct f_owner_ex	 o = { F_OWNER_PID, f->victim };

	return fcntl(f->pair[0], F_SETOWN_EX, &o) == -1;
}

static int
p_fcntl_setsig(const struct probe_fds *f)
{
	return fcntl(f->pair[0], F_SETSIG, SIGKILL) == -1;
}

static int
p_fcntl_async(const struct probe_fds *f)
{
	return fcntl(f->pair[0], F_SETFL, O_NONBLOCK | O_ASYNC) == -1;
}

static int
p_fcntl_lease(const struct probe_fds *f)
{
	(void)fcntl(f->pair[0], F_SETLEASE, F_RDLCK);
	return 0;
}

static int
p_fcntl_notify(const struct probe_fds *f)
{
	(void)fcntl(f->pair[0], F_NOTIFY, DN_MODIFY);
	return 0;
}

static int
p_ioctl_async(const struct probe_fds *f)
{
	int	 one = 1;

	return ioctl(f->pair[0], FIOASYNC, &one) == -1;
}

static int
p_ioctl_setown(const struct probe_fds *f)
{
	return ioctl(f->pair[0], FIOSETOWN, &f->victim) == -1;
}

static int
p_prctl(const struct probe_fds *f)
{
	(void)f;
	return prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1;
}

static int
p_sockopt_debug(const struct probe_fds *f)
{
	int	 one = 1;

	(void)setsockopt(f->tcp, SOL_SOCKET, SO_DEBUG, &one, sizeof(one));
	return 0;
}

static int
p_sockopt_bind(const struct probe_fds *f)
{
	(void)setsockopt(f->tcp, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3);
	return 0;
}

static int
p_udp(const struct probe_fds *f)
{
	int	 s;

	(void)f;
	if ((s = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		return 1;
	close(s);
	return 0;
}

/* What the sanitizers ask before a report: the answer is no. */
static int
p_isatty(const struct probe_fds *f)
{
	return isatty(f->pair[0]) || errno != ENOTTY;
}

/* What libcurl and libmicrohttpd do with their descriptors. */
static int
p_fcntl_needed(const struct probe_fds *f)
{
	int	 fl;

	return (fl = fcntl(f->tcp, F_GETFL)) == -1 ||
	    fcntl(f->tcp, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(f->tcp, F_GETFD) == -1 ||
	    fcntl(f->tcp, F_SETFD, FD_CLOEXEC) == -1;
}

static int
p_sockopt_needed(const struct probe_fds *f)
{
	int	 one = 1;

	return setsockopt(f->tcp, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) == -1;
}

static int
p_keepalive(const struct probe_fds *f)
{
	int	 one = 1, idle = 30;

	return setsockopt(f->tcp, SOL_SOCKET, SO_KEEPALIVE, &one,
	    sizeof(one)) == -1 ||
	    setsockopt(f->tcp, IPPROTO_TCP, TCP_KEEPIDLE, &idle,
	    sizeof(idle)) == -1 ||
	    setsockopt(f->tcp, IPPROTO_TCP, TCP_KEEPINTVL, &idle,
	    sizeof(idle)) == -1;
}

static int
p_tcp(const struct probe_fds *f)
{
	int	 s;

	(void)f;
	if ((s = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    IPPROTO_TCP)) == -1)
		return 1;
	close(s);
	return 0;
}

/*
 * The attack: a descriptor's owner gets the signal F_SETSIG names
 * when I/O is possible, so F_SETOWN(victim) + F_SETSIG(SIGKILL) +
 * O_ASYNC and one byte kill any process of the same uid.
 */
static int
p_sigio_kill(const struct probe_fds *f)
{
	if (fcntl(f->pair[0], F_SETOWN, f->victim) == -1 ||
	    fcntl(f->pair[0], F_SETSIG, SIGKILL) == -1 ||
	    fcntl(f->pair[0], F_SETFL, O_ASYNC) == -1 ||
	    write(f->pair[1], "x", 1) != 1)
		return 1;
	return 0;
}

#define R_W	ROLE_BIT(ROLE_WATCHER)
#define R_M	ROLE_BIT(ROLE_METRICS)
#define R_NL	(ROLE_BIT(ROLE_EXECUTOR) | ROLE_BIT(ROLE_ARP))
#define R_ALL	(R_W | R_M | R_NL)

static const struct probe {
	const char	*name;
	int		(*fn)(const struct probe_fds *);
	uint32_t	 killed;	/* ROLE_BIT()s it must die of SIGSYS in */
	uint32_t	 passes;	/* ROLE_BIT()s it must succeed in */
} probes[] = {
	{ "fcntl F_SETOWN", p_fcntl_setown, R_ALL, 0 },
	{ "fcntl F_SETOWN_EX", p_fcntl_setown_ex, R_ALL, 0 },
	{ "fcntl F_SETSIG", p_fcntl_setsig, R_ALL, 0 },
	{ "fcntl F_SETFL O_ASYNC", p_fcntl_async, R_ALL, 0 },
	{ "fcntl F_SETLEASE", p_fcntl_lease, R_ALL, 0 },
	{ "fcntl F_NOTIFY", p_fcntl_notify, R_ALL, 0 },
	{ "ioctl FIOASYNC", p_ioctl_async, R_ALL, 0 },
	{ "ioctl FIOSETOWN", p_ioctl_setown, R_ALL, 0 },
	{ "prctl PR_SET_PDEATHSIG", p_prctl, R_ALL, 0 },
	{ "setsockopt SO_DEBUG", p_sockopt_debug, R_ALL, 0 },
	{ "setsockopt SO_BINDTODEVICE", p_sockopt_bind, R_ALL, 0 },
	{ "a UDP socket", p_udp, R_ALL, 0 },
	{ "isatty", p_isatty, 0, R_ALL },
	{ "fcntl F_GETFL, F_SETFL O_NONBLOCK, F_GETFD, F_SETFD",
	    p_fcntl_needed, 0, R_W | R_M },
	{ "setsockopt TCP_NODELAY", p_sockopt_needed, 0, R_W | R_M },
	{ "TCP keep-alive options", p_keepalive, R_M | R_NL, R_W },
	{ "a TCP socket", p_tcp, R_ALL, 0 },
	{ "F_SETOWN + F_SETSIG(SIGKILL) + O_ASYNC", p_sigio_kill, R_ALL, 0 },
};

static char	 jail[600];

/* A process of the children's uid that waits to be signalled. */
static pid_t
victim_start(void)
{
	pid_t	 pid;

	fflush(stdout);
	if ((pid = fork()) == -1)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) == -1 ||
		    setresuid(65534, 65534, 65534) == -1)
			_exit(2);
		for (;;)
			pause();
	}
	return pid;
}

/* How the test confines its children: as the daemon's defaults. */
static void
test_conf(struct kn_config *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->uid = conf->gid = 65534;
	conf->seccomp = SECCOMP_MODE_KILL;
	conf->max_nodes = KN_DEFAULT_MAX_NODES;
	if ((size_t)snprintf(conf->chroot, sizeof(conf->chroot), "%s", jail) >=
	    sizeof(conf->chroot))
		bail_out("%s: too long for --chroot", jail);
}

/* The wait status of a child confined as role that returned fn(arg). */
static int
confined_run(enum role role, int (*fn)(void *), void *arg)
{
	struct kn_config	 conf;
	struct stat		 st;
	pid_t			 pid;
	int			 status;

	test_conf(&conf);
	fflush(stdout);
	if ((pid = fork()) == -1)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		sandbox_child(role, &conf, &st);
		_exit(fn(arg));
	}
	if (waitpid(pid, &status, 0) == -1)
		bail_out("waitpid: %s", strerror(errno));
	return status;
}

struct probe_arg {
	const struct probe	*pr;
	struct probe_fds	 f;
};

static int
probe_call(void *arg)
{
	struct probe_arg	*pa = arg;

	return pa->pr->fn(&pa->f) ? 1 : 0;
}

/* The wait status of a child confined as role that ran the probe. */
static int
probe_run(enum role role, const struct probe *pr, pid_t victim)
{
	struct probe_arg	 pa;
	int			 status;

	pa.pr = pr;
	pa.f.victim = victim;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    pa.f.pair) == -1 ||
	    (pa.f.tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		bail_out("socket: %s", strerror(errno));
	status = confined_run(role, probe_call, &pa);
	close(pa.f.pair[0]);
	close(pa.f.pair[1]);
	close(pa.f.tcp);
	return status;
}

static const char *
status_text(int status)
{
	static char	 buf[64];

	if (WIFSIGNALED(status))
		snprintf(buf, sizeof(buf), "killed by signal %d",
		    WTERMSIG(status));
	else
		snprintf(buf, sizeof(buf), "exit status %d",
		    WEXITSTATUS(status));
	return buf;
}

static void
test_filters(void)
{
	static const enum role	 roles[] = {
		ROLE_WATCHER, ROLE_METRICS, ROLE_EXECUTOR, ROLE_ARP,
	};
	const struct probe	*pr;
	size_t			 i, r;
	pid_t			 victim;
	int			 status, vstatus;

	make_dir("jail", 0755);
	snprintf(jail, sizeof(jail), "%s", at("jail"));
	for (r = 0; r < sizeof(roles) / sizeof(roles[0]); r++) {
		for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
			pr = &probes[i];
			if (!((pr->killed | pr->passes) & ROLE_BIT(roles[r])))
				continue;
			victim = victim_start();
			status = probe_run(roles[r], pr, victim);
			/* A SIGKILL the probe queued wins over this SIGTERM. */
			kill(victim, SIGTERM);
			if (waitpid(victim, &vstatus, 0) == -1)
				bail_out("waitpid: %s", strerror(errno));
			if (pr->killed & ROLE_BIT(roles[r]))
				ok(WIFSIGNALED(status) &&
				    WTERMSIG(status) == SIGSYS,
				    "seccomp: %s: %s dies of SIGSYS (%s)",
				    role_name(roles[r]), pr->name,
				    status_text(status));
			else
				ok(WIFEXITED(status) &&
				    WEXITSTATUS(status) == 0,
				    "seccomp: %s: %s allowed (%s)",
				    role_name(roles[r]), pr->name,
				    status_text(status));
			ok(WIFSIGNALED(vstatus) &&
			    WTERMSIG(vstatus) == SIGTERM,
			    "seccomp: %s: after %s, a uid 65534 process is "
			    "alive (%s)", role_name(roles[r]), pr->name,
			    status_text(vstatus));
		}
	}
}

/*
 * 4 MiB blocks allocated and written before malloc failed; each block
 * links to the one before, and the count is read from the chain, so
 * the compiler cannot drop the allocations.
 */
static int
l_memory(void *arg)
{
	uint64_t	 limit = *(uint64_t *)arg;
	char		**p, **last = NULL;
	size_t		 mib;
	int		 n;

	/* Up to 64 MiB past the limit: without one, stop there. */
	for (mib = 0; mib < (limit >> 20) + 64; mib += 4) {
		if ((p = malloc(4 << 20)) == NULL)
			break;
		memset(p, 1, 4 << 20);
		*p = (char *)last;
		last = p;
	}
	if (mib < (limit >> 20) + 64)
		for (n = 0; last != NULL; n++)
			last = (char **)*last;
	else
		n = 255;
	return n;
}

/*
 * The memory limit holds in a confined child (descriptors and
 * processes: tests/test_confinement.py reads /proc/PID/limits).
 */
static void
test_limits(void)
{
	static const enum role	 roles[] = {
		ROLE_WATCHER, ROLE_METRICS, ROLE_EXECUTOR, ROLE_ARP,
	};
	struct kn_config	 conf;
	uint64_t		 limit;
	size_t			 r;
	int			 status, got;

	test_conf(&conf);
	for (r = 0; r < sizeof(roles) / sizeof(roles[0]); r++) {
		limit = sandbox_memory_limit(roles[r], &conf);
		if (SANDBOX_SANITIZED) {
			ok(limit == 0, "limits: %s: no memory limit under the "
			    "sanitizers", role_name(roles[r]));
			continue;
		}
		ok(limit >= 128 << 20 && limit <= 1024 << 20,
		    "limits: %s: a memory limit of %llu MiB at the default "
		    "--max-nodes",
		    role_name(roles[r]), (unsigned long long)(limit >> 20));
		status = confined_run(roles[r], l_memory, &limit);
		got = WIFEXITED(status) ? WEXITSTATUS(status) * 4 : -1;
		ok(got > 0 && (uint64_t)got < limit >> 20,
		    "limits: %s: malloc fails after %d MiB, under the limit",
		    role_name(roles[r]), got);
	}
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

int
main(void)
{
	struct stat	 st;
	int		 rv;

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (chown, root-owned dirs)\n");
		return 0;
	}
	test_status_parse();
	test_status_read();

	umask(022);
	if (mkdtemp(base) == NULL || chmod(base, 0755) == -1)
		bail_out("mkdtemp %s: %s", base, strerror(errno));
	err[0] = '\0';
	rv = sandbox_check_root(base, 0, err, sizeof(err));
	is_int(rv, 0, "root: the fresh base %s passes%s%s", base,
	    *err ? ": " : "", err);
	test_root_good();
	test_root_bad();
	test_root_parents();
	test_filters();
	test_limits();

	if (nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == -1)
		diag("cleaning %s: %s", base, strerror(errno));
	ok(lstat(base, &st) == -1 && errno == ENOENT,
	    "cleanup: %s removed", base);
	return done_testing();
}
