/*
 * What the parent opens while root, before any child starts: the
 * metrics port, the control socket and the pid file; and at exit
 * what it removes of them.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "config.h"
#include "control.h"
#include "log.h"
#include "parent.h"
#include "sandbox.h"

static int	 pidfile_write(struct pidfile *, const char *, char *, size_t);
static void	 pidfile_remove(const struct pidfile *, const char *);

/* The HTTP port the metrics process serves on, opened while root. */
static int
metrics_listen(struct parent *pa, const char *addr, char *err, size_t errlen)
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
	pa->metrics_fd = fd;
	return 0;
}

/*
 * What the parent opens before any child starts: the metrics port,
 * the control socket and the pid file.  The self-test serves metrics
 * on a port of its own choosing and opens neither of the others, so
 * it can run beside a running daemon.
 */
int
parent_open(struct parent *pa, int selftest_only,
    const struct control_ops *ops, char *err, size_t errlen)
{
	const struct kn_config	*conf = &pa->conf;

	if (selftest_only)
		return metrics_listen(pa, *conf->metrics_address ?
		    conf->metrics_address : NULL, err, errlen);
	if (*conf->metrics_address &&
	    metrics_listen(pa, conf->metrics_address, err, errlen) == -1)
		return -1;
	if (control_listen(conf->socket, ops, pa, err, errlen) == -1)
		return -1;
	if (*conf->pid_file && pidfile_write(&pa->pidfile, conf->pid_file,
	    err, errlen) == -1) {
		control_cleanup();
		return -1;
	}
	return 0;
}

/* At exit: the control socket and the pid file, if still ours. */
void
parent_close(struct parent *pa)
{
	control_cleanup();
	pidfile_remove(&pa->pidfile, pa->conf.pid_file);
}

/*
 * The pid file, in directories root alone may write (checked as
 * --chroot's), replacing only a regular file of root's that nobody
 * else may write: written to a new file and renamed over it, so a
 * reader never sees half of it and no link is followed.
 */
static int
pidfile_write(struct pidfile *pf, const char *path, char *err,
    size_t errlen)
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
	if (write(fd, buf, n) != n || fstat(fd, &pf->st) == -1 ||
	    close(fd) == -1 || rename(tmp, path) == -1) {
		errset(err, errlen, "--pid-file %s: %s", path,
		    strerror(errno));
		unlink(tmp);
		return -1;
	}
	pf->written = 1;
	return 0;
}

/* At exit: the pid file goes only if it is still the one we wrote. */
static void
pidfile_remove(const struct pidfile *pf, const char *path)
{
	char		 buf[32], want[32];
	struct stat	 st;
	ssize_t		 n;
	int		 fd, len;

	if (!pf->written)
		return;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_warnx("--pid-file %s: %s; left in place", path,
			    strerror(errno));
		return;
	}
	len = snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	n = read(fd, buf, sizeof(buf));
	if (fstat(fd, &st) == 0 && st.st_dev == pf->st.st_dev &&
	    st.st_ino == pf->st.st_ino && n == len &&
	    memcmp(buf, want, len) == 0)
		unlink(path);
	else
		log_warnx("--pid-file %s: no longer the file this daemon "
		    "wrote; left in place", path);
	close(fd);
}
