/*
 * Starting a child: the parent's half of the start-up handshake;
 * see spawn.h.
 */
#include <sys/socket.h>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "sandbox.h"
#include "spawn.h"

/*
 * The program image children are executed from, on a descriptor above
 * those their channels are moved to, so no dup2() can replace it.
 */
int
spawn_exe(const char *path)
{
	int	 fd, exe;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (exe = fcntl(fd, F_DUPFD_CLOEXEC, CHILD_FD_CONTROL + 7)) == -1)
		fatal("open %s", path);
	close(fd);
	return exe;
}

/* A channel: one end per process, neither inherited by accident. */
void
spawn_pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		fatal("socketpair");
}

/*
 * The environment of a child: TZ, and nothing from ours but the
 * sanitizer settings, so tests can tune them.
 */
static char **
spawn_env(void)
{
	static char	*env[8];
	extern char	**environ;
	char		**e;
	int		 n = 0;

	/* UTC without a zone file: the chroot has none. */
	env[n++] = "TZ=UTC0";
	for (e = environ; *e != NULL && n < 7; e++)
		if (strncmp(*e, "ASAN_OPTIONS=", 13) == 0 ||
		    strncmp(*e, "UBSAN_OPTIONS=", 14) == 0 ||
		    strncmp(*e, "LSAN_OPTIONS=", 13) == 0)
			env[n++] = *e;
	env[n] = NULL;
	return env;
}

/*
 * In the forked child: put the channels on their fixed descriptors.
 * Everything else must be close-on-exec already: the caller ran
 * closefrom() at start and opens all its descriptors with CLOEXEC.
 */
static void __attribute__((__noreturn__))
spawn_exec(int exe_fd, enum role role, int fds[3])
{
	char		*argv[] = { "kopeio-networkd", "--role",
			    (char *)role_name(role), NULL };
	sigset_t	 empty;
	int		 tmp[3], i, nul;

	/* Out of the way first: a channel may sit on 3, 4 or 5 already. */
	for (i = 0; i < 3; i++) {
		tmp[i] = -1;
		if (fds[i] != -1 &&
		    (tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10)) == -1)
			_exit(127);
	}
	for (i = 0; i < 3; i++)
		if (tmp[i] != -1 && dup2(tmp[i], CHILD_FD_CONTROL + i) == -1)
			_exit(127);
	/*
	 * A sanitizer build's reports go where ours would have gone, so
	 * the test suite still sees them: child_init() points the runtime
	 * at this descriptor.  Only in such builds may a child write to
	 * the daemon's standard error.
	 */
	if (SANDBOX_SANITIZED && dup2(STDERR_FILENO, CHILD_FD_SANITIZER) == -1)
		_exit(127);
	/*
	 * Nothing a child writes to 0-2 reaches the daemon's output: its
	 * log lines go through its control channel, where the parent
	 * cleans them (spawn_log).  Opened here, before any chroot.
	 */
	if ((nul = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1 ||
	    (nul = fcntl(nul, F_DUPFD_CLOEXEC, 10)) == -1)
		_exit(127);
	for (i = 0; i < 3; i++)
		if (dup2(nul, i) == -1)
			_exit(127);
	sigemptyset(&empty);
	sigprocmask(SIG_SETMASK, &empty, NULL);
	signal(SIGPIPE, SIG_DFL);
	fexecve(exe_fd, argv, spawn_env());
	_exit(127);
}

/*
 * Fork and execute one child of role from exe_fd with a new control
 * channel and the given peer channel ends (peer2 may be -1), which
 * are closed here; queue the HELLO and the configuration on *ctl.
 */
pid_t
spawn_child(int exe_fd, enum role role, const struct kn_config *conf,
    int peer, int peer2, struct msgchan *ctl)
{
	struct kn_config	 cc = *conf;
	int			 sv[2], fds[3];
	pid_t			 pid;

	/* Each role its own ids, so no child can signal another. */
	config_child_ids(conf, role - ROLE_WATCHER, &cc.uid, &cc.gid);
	spawn_pair(sv);
	fds[0] = sv[1];
	fds[1] = peer;
	fds[2] = peer2;
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0)
		spawn_exec(exe_fd, role, fds);
	close(sv[1]);
	close(peer);
	if (peer2 != -1)
		close(peer2);
	msgchan_init(ctl, sv[0], ROLE_PARENT, role);
	if (msgchan_hello(ctl) == -1 ||
	    msgchan_compose(ctl, MSG_CONFIG, 0, -1, &cc, sizeof(cc)) == -1)
		log_warn("%s control channel", role_name(role));
	return pid;
}

/*
 * A child's MSG_LOG, logged as the parent's own line with the child's
 * role: the text is untrusted, so it is made printable, and a child
 * may not claim a priority above LOG_CRIT.
 */
void
spawn_log(const struct msg *m, enum role role)
{
	struct msg_log	 ml;
	char		 text[LOG_LINE_MAX];
	size_t		 len;
	int		 pri;

	memcpy(&ml, m->data, sizeof(ml));
	len = m->len - sizeof(ml);
	memcpy(text, (const char *)m->data + sizeof(ml), len);
	text[len] = '\0';
	log_sanitize(text, len);
	pri = ml.pri <= LOG_DEBUG ? (int)ml.pri : LOG_ERR;
	if (pri < LOG_CRIT)
		pri = LOG_CRIT;
	log_emit(pri, role_name(role), text);
}
