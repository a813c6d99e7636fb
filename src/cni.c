/*
 * The CNI configuration file.  The executor, the only process that has
 * checked this node's pod CIDRs and knows the mode's MTU, reports them;
 * the parent, which reads nothing from the network, turns them into a
 * conflist and writes it: atomically, only when the content changes,
 * and only into a directory that root alone may write.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "cni.h"
#include "log.h"
#include "msg.h"
#include "out.h"
#include "sandbox.h"

/* Is the report something a pod network can be made of? */
static int
node_net_check(const struct msg_node_net *nn, char *err, size_t errlen)
{
	static const uint8_t	 want[2] = { AF_INET, AF_INET6 };
	unsigned		 i, b, max, n = 0;

	for (i = 0; i < 2; i++) {
		if (nn->family[i] == 0)
			continue;
		if (nn->family[i] != want[i])
			return errset(err, errlen, "pod CIDR %u: address "
			    "family %u", i, nn->family[i]);
		max = i == 0 ? 32 : 128;
		if (nn->plen[i] == 0 || nn->plen[i] > max - 2)
			return errset(err, errlen, "pod CIDR %u: prefix "
			    "length %u", i, nn->plen[i]);
		for (b = nn->plen[i]; b < 128; b++)
			if (nn->cidr[i][b / 8] & (0x80 >> (b % 8)))
				return errset(err, errlen, "pod CIDR %u: host "
				    "bits set", i);
		n++;
	}
	if (n == 0)
		return errset(err, errlen, "no pod CIDR");
	if (nn->mtu < (nn->family[1] ? 1280u : 68u) || nn->mtu > 65535)
		return errset(err, errlen, "MTU %u out of range", nn->mtu);
	return 0;
}

static void
cidr_format(const struct msg_node_net *nn, int i, char *buf, size_t len)
{
	char	 a[INET6_ADDRSTRLEN];

	if (inet_ntop(nn->family[i], nn->cidr[i], a, sizeof(a)) == NULL)
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, "%s/%u", a, nn->plen[i]);
}

/* "100.96.0.0/24", or both families separated by a comma. */
void
cni_cidrs(const struct msg_node_net *nn, char *buf, size_t len)
{
	char	 c[2][INET6_ADDRSTRLEN + 5] = { "", "" };
	int	 i;

	for (i = 0; i < 2; i++)
		if (nn->family[i] != 0)
			cidr_format(nn, i, c[i], sizeof(c[i]));
	snprintf(buf, len, "%s%s%s", c[0], *c[0] && *c[1] ? "," : "", c[1]);
}

/*
 * The conflist: the bridge plugin with host-local addresses from the
 * pod CIDRs and a default route per family through the bridge, then
 * portmap.  Masquerading is the cluster's business, not the node's.
 * Its length, or -1 with err set; buf is always NUL-terminated.
 */
int
cni_render(const struct msg_node_net *nn, char *buf, size_t len, char *err,
    size_t errlen)
{
	static const char *const defroute[2] = { "0.0.0.0/0", "::/0" };
	struct out	 o = { buf, 0, len, 0 };
	char		 cidr[INET6_ADDRSTRLEN + 5];
	const char	*sep;
	int		 i;

	if (len > 0)
		buf[0] = '\0';
	if (node_net_check(nn, err, errlen) == -1)
		return -1;
	out(&o, "{\n"
	    "  \"cniVersion\": \"" CNI_VERSION "\",\n"
	    "  \"name\": \"" CNI_NETWORK "\",\n"
	    "  \"plugins\": [\n"
	    "    {\n"
	    "      \"type\": \"bridge\",\n"
	    "      \"bridge\": \"" CNI_BRIDGE "\",\n"
	    "      \"isGateway\": true,\n"
	    "      \"isDefaultGateway\": false,\n"
	    "      \"ipMasq\": false,\n"
	    "      \"hairpinMode\": true,\n"
	    "      \"mtu\": %u,\n"
	    "      \"ipam\": {\n"
	    "        \"type\": \"host-local\",\n"
	    "        \"ranges\": [", nn->mtu);
	for (i = 0, sep = "\n"; i < 2; i++) {
		if (nn->family[i] == 0)
			continue;
		cidr_format(nn, i, cidr, sizeof(cidr));
		out(&o, "%s          [ { \"subnet\": \"%s\" } ]", sep, cidr);
		sep = ",\n";
	}
	out(&o, "\n        ],\n        \"routes\": [");
	for (i = 0, sep = "\n"; i < 2; i++) {
		if (nn->family[i] == 0)
			continue;
		out(&o, "%s          { \"dst\": \"%s\" }", sep, defroute[i]);
		sep = ",\n";
	}
	out(&o, "\n        ]\n"
	    "      }\n"
	    "    },\n"
	    "    {\n"
	    "      \"type\": \"portmap\",\n"
	    "      \"capabilities\": { \"portMappings\": true }\n"
	    "    }\n"
	    "  ]\n"
	    "}\n");
	if (o.full) {
		if (len > 0)
			buf[0] = '\0';
		return errset(err, errlen, "the configuration does not fit in "
		    "%zu bytes", len);
	}
	return (int)o.len;
}

/* Does the open file hold exactly text? */
static int
same_content(int fd, const char *text, size_t len)
{
	char	 buf[CNI_TEXT_MAX];
	size_t	 off = 0;
	ssize_t	 n;

	while (off < len) {
		n = read(fd, buf, sizeof(buf) < len - off ? sizeof(buf) :
		    len - off);
		if (n <= 0)
			return 0;
		if (memcmp(buf, text + off, n) != 0)
			return 0;
		off += n;
	}
	return read(fd, buf, 1) == 0;
}

/*
 * What is at path now: -1 (err set) when it may not be replaced, 1
 * when it holds text already, else 0.
 */
static int
target_check(int dfd, const char *path, const char *base, const char *text,
    size_t len, char *err, size_t errlen)
{
	struct stat	 st;
	int		 fd, same;

	fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return 0;
	if (fd == -1 && errno == ELOOP)
		return errset(err, errlen, "%s is a symbolic link; not "
		    "followed", path);
	if (fd == -1)
		return errset(err, errlen, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return errset(err, errlen, "%s is not a regular file", path);
	}
	same = (size_t)st.st_size == len && same_content(fd, text, len);
	close(fd);
	return same;
}

/* The whole of text into a new file in dfd, on disk. */
static int
tmp_write(int dfd, const char *tmp, const char *dir, const char *text,
    size_t len, char *err, size_t errlen)
{
	size_t	 off;
	ssize_t	 n;
	int	 fd;

	if (unlinkat(dfd, tmp, 0) == -1 && errno != ENOENT)
		return errset(err, errlen, "%s/%s: %s", dir, tmp,
		    strerror(errno));
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (fd == -1)
		return errset(err, errlen, "%s/%s: %s", dir, tmp,
		    strerror(errno));
	/* Whatever the umask: the runtime reads it as another user. */
	if (fchmod(fd, 0644) == -1)
		goto fail;
	for (off = 0; off < len; off += n)
		if ((n = write(fd, text + off, len - off)) <= 0) {
			if (n == 0)
				errno = EIO;
			goto fail;
		}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	errset(err, errlen, "%s/%s: %s", dir, tmp, strerror(errno));
	if (fd != -1)
		close(fd);
	unlinkat(dfd, tmp, 0);
	return -1;
}

/*
 * Opens the directory of path, an absolute path, and checks that it and
 * every directory above it are root's and writable by no one else; dir gets its name and *base
 * points at the file's name in path.  The descriptor, -1 with err set
 * (and *missing set when the directory does not exist).
 */
static int
dir_open(const char *path, char dir[PATH_MAX], const char **base,
    int *missing, char *err, size_t errlen)
{
	const char	*slash;
	struct stat	 st;
	int		 dfd;

	*missing = 0;
	if (path[0] != '/')
		return errset(err, errlen, "%s: not an absolute path", path);
	slash = strrchr(path, '/');
	*base = slash + 1;
	if (**base == '\0' || strcmp(*base, ".") == 0 ||
	    strcmp(*base, "..") == 0)
		return errset(err, errlen, "%s: not a file name", path);
	if ((size_t)(slash - path) >= PATH_MAX || strlen(*base) + 6 >
	    NAME_MAX)
		return errset(err, errlen, "%s: name too long", path);
	if (slash == path)
		snprintf(dir, PATH_MAX, "/");
	else {
		memcpy(dir, path, slash - path);
		dir[slash - path] = '\0';
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT) {
			*missing = 1;
			return errset(err, errlen, "directory %s does not "
			    "exist", dir);
		}
		return errset(err, errlen, "directory %s: %s", dir,
		    strerror(errno));
	}
	/* The directories above it too, as --chroot's: root's alone. */
	if (sandbox_check_dirs("directory", dir, err, errlen) == -1)
		;
	else if (fstat(dfd, &st) == -1)
		errset(err, errlen, "directory %s: %s", dir, strerror(errno));
	else if (st.st_uid != 0)
		errset(err, errlen, "directory %s is owned by uid %u, not root",
		    dir, (unsigned)st.st_uid);
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		errset(err, errlen, "directory %s is writable by group or "
		    "others (mode %04o)", dir, (unsigned)(st.st_mode & 07777));
	else
		return dfd;
	close(dfd);
	return -1;
}

/*
 * Puts text at path, an absolute path in an existing directory that
 * is root's and writable by no one else, through a temporary file and
 * a rename, so a reader sees the old file or the new one, whole.  A
 * symbolic link or anything but a regular file at path is refused.
 * 1: written, 0: the file held text already, -1: err says why.
 */
int
cni_write(const char *path, const char *text, size_t len, char *err,
    size_t errlen)
{
	char		 dir[PATH_MAX], tmp[NAME_MAX + 1];
	const char	*base;
	int		 dfd, rv, missing;

	if ((dfd = dir_open(path, dir, &base, &missing, err, errlen)) == -1)
		return -1;
	/* Not a name a CNI runtime loads (.conf, .conflist, .json). */
	snprintf(tmp, sizeof(tmp), ".%s.tmp", base);
	if ((rv = target_check(dfd, path, base, text, len, err, errlen)) ==
	    -1)
		;
	else if (rv == 1)
		rv = 0;		/* it holds the text already */
	else if ((rv = tmp_write(dfd, tmp, dir, text, len, err, errlen)) ==
	    -1)
		;
	else if (renameat(dfd, tmp, dfd, base) == -1) {
		rv = errset(err, errlen, "renaming %s/%s to %s: %s", dir, tmp,
		    path, strerror(errno));
		unlinkat(dfd, tmp, 0);
	} else if (fsync(dfd) == -1)
		rv = errset(err, errlen, "directory %s: fsync: %s", dir,
		    strerror(errno));
	else
		rv = 1;
	close(dfd);
	return rv;
}

/*
 * What cni_write() would say of path before writing anything: 1 when
 * it could write there, 0 when the directory does not exist yet, -1
 * for any other reason; err says why when not 1.
 */
int
cni_check(const char *path, char *err, size_t errlen)
{
	char		 dir[PATH_MAX];
	const char	*base;
	int		 dfd, rv, missing;

	if ((dfd = dir_open(path, dir, &base, &missing, err, errlen)) == -1)
		return missing ? 0 : -1;
	rv = target_check(dfd, path, base, "", 0, err, errlen) == -1 ? -1 : 1;
	close(dfd);
	return rv;
}

/* --- the parent's side ------------------------------------------------ */

static struct {
	const char		*path;		/* "": nothing is written */
	struct msg_node_net	 nn;		/* as the executor last said */
	int			 have;
	int			 current;	/* the file holds nn's text */
	int64_t			 next;		/* when to look again; 0 never */
	char			 lasterr[256];	/* logged once while it lasts */
} cni;

void
cni_init(const char *path)
{
	memset(&cni, 0, sizeof(cni));
	cni.path = path;
}

/* Renders and writes; a failure is tried again after CNI_CHECK_MS. */
static void
cni_attempt(void)
{
	char	 text[CNI_TEXT_MAX], cidrs[2 * INET6_ADDRSTRLEN + 12];
	char	 err[sizeof(cni.lasterr)];
	int	 len, rv, was = cni.current;

	cni.next = 0;
	cni_cidrs(&cni.nn, cidrs, sizeof(cidrs));
	if ((len = cni_render(&cni.nn, text, sizeof(text), err,
	    sizeof(err))) == -1) {
		/* Not worth retrying: the executor sends another. */
		log_warnx("CNI configuration %s not written: %s", cni.path,
		    err);
		cni.current = 0;
		return;
	}
	cni.next = mono_ms() + CNI_CHECK_MS;
	if ((rv = cni_write(cni.path, text, len, err, sizeof(err))) == -1) {
		cni.current = 0;
		if (strcmp(err, cni.lasterr) != 0)
			log_warnx("CNI configuration %s not written: %s; "
			    "trying again every %d s", cni.path, err,
			    CNI_CHECK_MS / 1000);
		else
			log_debug("CNI configuration %s not written: %s",
			    cni.path, err);
		snprintf(cni.lasterr, sizeof(cni.lasterr), "%s", err);
		return;
	}
	cni.lasterr[0] = '\0';
	cni.current = 1;
	if (rv == 1)
		log_info("wrote CNI configuration %s for %s (mtu %u)",
		    cni.path, cidrs, cni.nn.mtu);
	else if (!was)
		log_info("CNI configuration %s is up to date for %s (mtu %u)",
		    cni.path, cidrs, cni.nn.mtu);
}

/* The executor's report: written at once when it changed. */
void
cni_node_net(const void *nn)
{
	if (cni.have && memcmp(nn, &cni.nn, sizeof(cni.nn)) == 0)
		return;
	/* A message payload: not necessarily aligned for the struct. */
	memcpy(&cni.nn, nn, sizeof(cni.nn));
	cni.have = 1;
	cni.current = 0;
	if (cni.path != NULL && cni.path[0] != '\0')
		cni_attempt();
}

/*
 * Every CNI_CHECK_MS: a failed write is tried again, and a file
 * someone removed or changed is written again.
 */
void
cni_tick(int64_t now)
{
	if (cni.next != 0 && now >= cni.next)
		cni_attempt();
}

/* When cni_tick() has work; 0: none pending. */
int64_t
cni_next(void)
{
	return cni.next;
}

/*
 * For readiness: 1 when no file is to be written, or the file holds
 * the configuration of this node's current pod CIDRs and MTU.
 */
int
cni_current(void)
{
	if (cni.path == NULL || cni.path[0] == '\0')
		return 1;
	return cni.current;
}
