/*
 * The self-test's verdicts (--self-test): each child's ids,
 * capabilities, no_new_privs, seccomp mode and root as the kernel
 * reports them against its role's, and a child that calls what its
 * filter forbids killed by SIGSYS.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>

#include "log.h"
#include "parent.h"
#include "sandbox.h"
#include "selftest.h"

/* Every child the mode runs has said READY. */
int
selftest_ready(const struct proc *procs)
{
	int	 r;

	for (r = ROLE_WATCHER; r < ROLE_NPROC; r++)
		if (procs[r].wanted && !procs[r].ready)
			return 0;
	return 1;
}

/* One row of the table: the problems found. */
static int
selftest_proc(const struct kn_config *conf, const struct proc *p,
    const struct stat *root)
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
	config_child_ids(conf, p->role - ROLE_WATCHER, &uid, &gid);
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
	    p->readyinfo.root_ino == (uint64_t)root->st_ino ? conf->chroot :
	    "?", fails ? "FAILED" : "ok");
	return fails;
}

/* The table of the children: the problems found, -1 if not all ready. */
int
selftest_children(const struct kn_config *conf, const struct proc *procs)
{
	struct stat	 root;
	int		 r, fails = 0;

	if (!selftest_ready(procs)) {
		printf("self-test: the children did not all become ready\n");
		return -1;
	}
	if (stat(conf->chroot, &root) == -1)
		fatal("stat %s", conf->chroot);
	printf("%-10s %-7s %-10s %-10s %-16s %-16s %-16s %-3s %-3s %-4s\n",
	    "role", "pid", "uid", "gid", "CapEff", "CapPrm", "CapBnd", "NNP",
	    "Sec", "root");
	for (r = ROLE_WATCHER; r < ROLE_NPROC; r++)
		fails += selftest_proc(conf, &procs[r], &root);
	return fails;
}

/* The child that called ptrace(2): 0 if the kernel killed it. */
int
selftest_seccomp(const struct kn_config *conf, const struct proc *v)
{
	if (v->pid == 0 && WIFSIGNALED(v->status) &&
	    WTERMSIG(v->status) == SIGSYS) {
		printf("seccomp: a confined child calling ptrace(2) was killed "
		    "by SIGSYS: ok\n");
		return 0;
	}
	printf("seccomp: a confined child calling ptrace(2) was not "
	    "killed: FAILED%s\n", conf->seccomp == SECCOMP_MODE_LOG ?
	    " (--seccomp=log only logs)" : "");
	if (v->pid != 0)
		kill(v->pid, SIGKILL);
	return 1;
}

/* The last line, and the exit status. */
int
selftest_verdict(int fails)
{
	if (fails)
		printf("self-test: FAILED (%d problems)\n", fails);
	else
		printf("self-test: confinement verified\n");
	fflush(stdout);
	return fails ? 1 : 0;
}
