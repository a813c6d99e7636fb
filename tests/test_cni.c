/*
 * Unit tests of the CNI configuration: the conflist rendered for IPv4,
 * IPv6 and dual-stack pod CIDRs, read back with yajl field by field;
 * the reports it refuses; the file written atomically, left alone when
 * unchanged, and refused in a directory others may write, through a
 * symbolic link or at a relative path; the parent's state that retries
 * and tells readiness.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "../src/clock.h"
#include "../src/cni.h"
#include "../src/log.h"
#include "../src/msg.h"
#include "tap.h"

static char	 text[CNI_TEXT_MAX];
static char	 err[512];

/* One family's slot from "ADDR/LEN". */
static void
slot(struct msg_node_net *nn, int i, const char *cidr)
{
	char	 buf[INET6_ADDRSTRLEN + 8], *slash;

	snprintf(buf, sizeof(buf), "%s", cidr);
	slash = strchr(buf, '/');
	*slash = '\0';
	nn->family[i] = i == 0 ? AF_INET : AF_INET6;
	nn->plen[i] = (uint8_t)atoi(slash + 1);
	if (inet_pton(nn->family[i], buf, nn->cidr[i]) != 1)
		bail_out("bad test address %s", cidr);
}

static struct msg_node_net
node_net(const char *v4, const char *v6, uint32_t mtu)
{
	struct msg_node_net	 nn;

	memset(&nn, 0, sizeof(nn));
	if (v4 != NULL)
		slot(&nn, 0, v4);
	if (v6 != NULL)
		slot(&nn, 1, v6);
	nn.mtu = mtu;
	return nn;
}

/* A value by its path of object keys, array indexes written as "0".. */
static yajl_val
get(yajl_val v, const char *path)
{
	char		 buf[256], *p, *key;
	char		*save = NULL;
	unsigned long	 i;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf; v != NULL && (key = strtok_r(p, ".", &save)) != NULL;
	    p = NULL) {
		if (YAJL_IS_ARRAY(v)) {
			i = strtoul(key, NULL, 10);
			v = i < v->u.array.len ? v->u.array.values[i] : NULL;
		} else if (YAJL_IS_OBJECT(v)) {
			const char	*k[] = { key, NULL };

			v = yajl_tree_get(v, k, yajl_t_any);
		} else
			v = NULL;
	}
	return v;
}

static const char *
str(yajl_val root, const char *path)
{
	yajl_val	 v = get(root, path);

	return YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

static int
boolean(yajl_val root, const char *path)
{
	yajl_val	 v = get(root, path);

	return YAJL_IS_TRUE(v) ? 1 : YAJL_IS_FALSE(v) ? 0 : -1;
}

static long long
integer(yajl_val root, const char *path)
{
	yajl_val	 v = get(root, path);

	return YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : -1;
}

static size_t
count(yajl_val root, const char *path)
{
	yajl_val	 v = get(root, path);

	return YAJL_IS_ARRAY(v) ? v->u.array.len : (size_t)-1;
}

/* Renders nn and parses the result; NULL on either failure. */
static yajl_val
render(const struct msg_node_net *nn, const char *what)
{
	yajl_val	 root;
	char		 perr[256];
	int		 len;

	len = cni_render(nn, text, sizeof(text), err, sizeof(err));
	if (!ok(len > 0 && (size_t)len == strlen(text) && text[len - 1] ==
	    '\n', "%s: rendered, one line feed at the end", what)) {
		diag("%s", err);
		return NULL;
	}
	root = yajl_tree_parse(text, perr, sizeof(perr));
	if (!ok(root != NULL, "%s: the text is JSON", what))
		diag("%s\n%s", perr, text);
	return root;
}

/* What every rendering has, whatever the families. */
static void
common(yajl_val r, const char *what, long long mtu)
{
	is_str(str(r, "cniVersion"), "1.0.0", "%s: cniVersion 1.0.0", what);
	is_str(str(r, "name"), "kopeio", "%s: network kopeio", what);
	is_int(count(r, "plugins"), 2, "%s: two plugins", what);
	is_str(str(r, "plugins.0.type"), "bridge", "%s: bridge first", what);
	is_str(str(r, "plugins.0.bridge"), "cni0", "%s: bridge cni0", what);
	ok(boolean(r, "plugins.0.isGateway") == 1 &&
	    boolean(r, "plugins.0.isDefaultGateway") == 0 &&
	    boolean(r, "plugins.0.ipMasq") == 0 &&
	    boolean(r, "plugins.0.hairpinMode") == 1,
	    "%s: isGateway, no isDefaultGateway, no ipMasq, hairpinMode", what);
	is_int(integer(r, "plugins.0.mtu"), mtu, "%s: mtu %lld", what, mtu);
	is_str(str(r, "plugins.0.ipam.type"), "host-local",
	    "%s: host-local IPAM", what);
	is_str(str(r, "plugins.1.type"), "portmap", "%s: portmap second",
	    what);
	is_int(boolean(r, "plugins.1.capabilities.portMappings"), 1,
	    "%s: portmap has the portMappings capability", what);
}

/* One family alone: one range, the pod CIDR, one default route. */
static void
single(const char *what, const char *v4, const char *v6, uint32_t mtu)
{
	struct msg_node_net	 nn = node_net(v4, v6, mtu);
	const char		*cidr = v4 != NULL ? v4 : v6;
	yajl_val		 r;
	char			 buf[128];

	if ((r = render(&nn, what)) != NULL) {
		common(r, what, mtu);
		is_int(count(r, "plugins.0.ipam.ranges"), 1, "%s: one range",
		    what);
		is_int(count(r, "plugins.0.ipam.ranges.0"), 1,
		    "%s: of one subnet", what);
		is_str(str(r, "plugins.0.ipam.ranges.0.0.subnet"), cidr,
		    "%s: the pod CIDR is the subnet", what);
		is_int(count(r, "plugins.0.ipam.routes"), 1, "%s: one route",
		    what);
		is_str(str(r, "plugins.0.ipam.routes.0.dst"), v4 != NULL ?
		    "0.0.0.0/0" : "::/0", "%s: the default route", what);
		yajl_tree_free(r);
	}
	cni_cidrs(&nn, buf, sizeof(buf));
	is_str(buf, cidr, "%s: the CIDRs as logged", what);
}

static void
test_render(void)
{
	struct msg_node_net	 nn;
	yajl_val		 r;
	char			 buf[128];

	single("IPv4", "100.96.3.0/24", NULL, 1450);
	single("IPv6", NULL, "fd00:100:0:3::/64", 1430);

	nn = node_net("100.96.128.0/25", "fd00:100:0:80::/64", 9000);
	if ((r = render(&nn, "dual-stack")) != NULL) {
		common(r, "dual-stack", 9000);
		is_int(count(r, "plugins.0.ipam.ranges"), 2,
		    "dual-stack: a range per family");
		is_str(str(r, "plugins.0.ipam.ranges.0.0.subnet"),
		    "100.96.128.0/25", "dual-stack: IPv4 range first");
		is_str(str(r, "plugins.0.ipam.ranges.1.0.subnet"),
		    "fd00:100:0:80::/64", "dual-stack: IPv6 range second");
		ok(count(r, "plugins.0.ipam.routes") == 2 &&
		    strcmp(str(r, "plugins.0.ipam.routes.0.dst"), "0.0.0.0/0")
		    == 0 && strcmp(str(r, "plugins.0.ipam.routes.1.dst"),
		    "::/0") == 0, "dual-stack: a default route per family");
		yajl_tree_free(r);
	}
	cni_cidrs(&nn, buf, sizeof(buf));
	is_str(buf, "100.96.128.0/25,fd00:100:0:80::/64",
	    "dual-stack: the CIDRs as logged");
	/* Byte for byte once, so a change of layout is a deliberate one. */
	like(text, "      \"mtu\": 9000,\n      \"ipam\": {\n"
	    "        \"type\": \"host-local\",\n        \"ranges\": [\n"
	    "          [ { \"subnet\": \"100.96.128.0/25\" } ],\n"
	    "          [ { \"subnet\": \"fd00:100:0:80::/64\" } ]\n"
	    "        ],\n", "dual-stack: the layout of the ranges");
}

static void
refused(struct msg_node_net nn, const char *why, const char *what)
{
	int	 rv;

	strcpy(text, "junk");
	err[0] = '\0';
	rv = cni_render(&nn, text, sizeof(text), err, sizeof(err));
	ok(rv == -1 && text[0] == '\0', "refused: %s", what);
	like(err, why, "refused: %s, saying why", what);
}

static void
test_refusals(void)
{
	struct msg_node_net	 nn;
	char			 small[64];

	refused(node_net(NULL, NULL, 1500), "no pod CIDR", "nothing");
	refused(node_net("100.96.3.1/24", NULL, 1500), "host bits set",
	    "host bits");
	refused(node_net(NULL, "fd00:100:0:3::1/64", 1500), "host bits set",
	    "IPv6 host bits");
	refused(node_net("100.96.3.0/31", NULL, 1500), "prefix length 31",
	    "no room for a gateway and a pod");
	refused(node_net("0.0.0.0/0", NULL, 1500), "prefix length 0",
	    "prefix length 0");
	refused(node_net("100.96.3.0/24", NULL, 0), "MTU 0", "MTU 0");
	refused(node_net("100.96.3.0/24", "fd00::/64", 1200), "MTU 1200",
	    "an MTU below IPv6's minimum with IPv6");
	refused(node_net("100.96.3.0/24", NULL, 70000), "MTU 70000",
	    "an MTU above 65535");
	nn = node_net("100.96.3.0/24", NULL, 1500);
	nn.family[0] = AF_INET6;
	refused(nn, "address family", "IPv6 in the IPv4 slot");
	nn = node_net("100.96.3.0/24", NULL, 1500);
	nn.family[1] = 99;
	refused(nn, "address family", "an unknown family");
	nn = node_net("100.96.3.0/24", NULL, 1500);
	ok(cni_render(&nn, small, sizeof(small), err, sizeof(err)) == -1 &&
	    small[0] == '\0', "a buffer too small is an error, not a partial "
	    "file");
	like(err, "does not fit", "and says so");
}

static char	 dir[PATH_MAX / 2], path[PATH_MAX];

static void
slurp(const char *p, char *buf, size_t len)
{
	FILE	*f = fopen(p, "r");
	size_t	 n = 0;

	if (f != NULL) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

static void
test_write(void)
{
	static char	 got[CNI_TEXT_MAX];
	const char	*a = "{ \"first\": 1 }\n", *b = "{ \"second\": 2 }\n";
	char		 p[PATH_MAX + 32];
	struct stat	 st, st2;

	umask(077);	/* the file is 0644 all the same */
	is_int(cni_write(path, a, strlen(a), err, sizeof(err)), 1,
	    "write: a new file is written");
	slurp(path, got, sizeof(got));
	is_str(got, a, "write: with the text");
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0644 &&
	    S_ISREG(st.st_mode), "write: a regular file, mode 0644");
	snprintf(p, sizeof(p), "%s/.10-kopeio.conflist.tmp", dir);
	ok(access(p, F_OK) == -1 && errno == ENOENT,
	    "write: no temporary file is left");

	sleep(1);	/* a rewrite would show in the modification time */
	is_int(cni_write(path, a, strlen(a), err, sizeof(err)), 0,
	    "write: the same text again: nothing to do");
	ok(stat(path, &st2) == 0 && st2.st_ino == st.st_ino &&
	    st2.st_mtim.tv_sec == st.st_mtim.tv_sec &&
	    st2.st_mtim.tv_nsec == st.st_mtim.tv_nsec,
	    "write: unchanged: same inode, same modification time");

	is_int(cni_write(path, b, strlen(b), err, sizeof(err)), 1,
	    "write: a changed text is written");
	slurp(path, got, sizeof(got));
	ok(strcmp(got, b) == 0 && stat(path, &st2) == 0 &&
	    st2.st_ino != st.st_ino, "write: replaced by a rename: a new "
	    "inode with the new text");
	is_int(cni_write(path, a, strlen(a) - 1, err, sizeof(err)), 1,
	    "write: a text that is a prefix of the file's is a change");

	/* A temporary file left by a crash does not get in the way. */
	close(open(p, O_WRONLY | O_CREAT, 0600));
	is_int(cni_write(path, b, strlen(b), err, sizeof(err)), 1,
	    "write: over a stale temporary file");
	ok(access(p, F_OK) == -1, "write: which is gone");

	/* A symbolic link is not followed, whatever it points at. */
	snprintf(p, sizeof(p), "%s/elsewhere", dir);
	close(open(p, O_WRONLY | O_CREAT, 0644));
	unlink(path);
	if (symlink(p, path) == -1)
		bail_out("symlink: %s", strerror(errno));
	is_int(cni_write(path, a, strlen(a), err, sizeof(err)), -1,
	    "write: a symbolic link at the path is refused");
	like(err, "is a symbolic link; not followed", "write: saying so");
	ok(stat(p, &st) == 0 && st.st_size == 0 && lstat(path, &st) == 0 &&
	    S_ISLNK(st.st_mode), "write: the link and its target untouched");
	unlink(path);
	unlink(p);

	if (mkdir(path, 0755) == -1)
		bail_out("mkdir: %s", strerror(errno));
	is_int(cni_write(path, a, strlen(a), err, sizeof(err)), -1,
	    "write: a directory at the path is refused");
	like(err, "is not a regular file", "write: saying so");
	rmdir(path);

	chmod(dir, 0775);
	is_int(cni_write(path, a, strlen(a), err, sizeof(err)), -1,
	    "write: a group-writable directory is refused");
	like(err, "is writable by group or others (mode 0775)",
	    "write: saying so");
	ok(access(path, F_OK) == -1, "write: and no file is made");
	chmod(dir, 0757);
	is_int(cni_write(path, a, strlen(a), err, sizeof(err)), -1,
	    "write: a world-writable directory is refused");
	chmod(dir, 0755);
	if (chown(dir, 65534, 65534) == -1)
		bail_out("chown: %s", strerror(errno));
	is_int(cni_write(path, a, strlen(a), err, sizeof(err)), -1,
	    "write: a directory not owned by root is refused");
	like(err, "is owned by uid 65534, not root", "write: saying so");
	if (chown(dir, 0, 0) == -1)
		bail_out("chown: %s", strerror(errno));

	is_int(cni_write("net.d/10-kopeio.conflist", a, strlen(a), err,
	    sizeof(err)), -1, "write: a relative path is refused");
	like(err, "not an absolute path", "write: saying so");
	snprintf(p, sizeof(p), "%s/missing/10-kopeio.conflist", dir);
	is_int(cni_write(p, a, strlen(a), err, sizeof(err)), -1,
	    "write: a missing directory is an error");
	like(err, "/missing does not exist", "write: saying so");
	snprintf(p, sizeof(p), "%s/", dir);
	is_int(cni_write(p, a, strlen(a), err, sizeof(err)), -1,
	    "write: a path that names no file is refused");
	is_int(cni_write(path, a, strlen(a), err, sizeof(err)), 1,
	    "write: the good directory again: written");
}

/* -n's look at the path: what cni_write() would refuse, nothing written. */
static void
test_check(void)
{
	char	 p[PATH_MAX + 32];

	unlink(path);
	is_int(cni_check(path, err, sizeof(err)), 1,
	    "check: a good directory, no file yet");
	ok(access(path, F_OK) == -1, "check: and nothing is written");
	close(open(path, O_WRONLY | O_CREAT, 0644));
	is_int(cni_check(path, err, sizeof(err)), 1,
	    "check: a regular file at the path");
	unlink(path);
	snprintf(p, sizeof(p), "%s/missing/10-kopeio.conflist", dir);
	is_int(cni_check(p, err, sizeof(err)), 0,
	    "check: a missing directory is not an error");
	like(err, "/missing does not exist", "check: saying so");
	chmod(dir, 0775);
	is_int(cni_check(path, err, sizeof(err)), -1,
	    "check: a group-writable directory is refused");
	like(err, "is writable by group or others (mode 0775)",
	    "check: saying so");
	chmod(dir, 0755);
	if (symlink("/etc/passwd", path) == -1)
		bail_out("symlink: %s", strerror(errno));
	is_int(cni_check(path, err, sizeof(err)), -1,
	    "check: a symbolic link at the path is refused");
	unlink(path);
	if (mkdir(path, 0755) == -1)
		bail_out("mkdir: %s", strerror(errno));
	is_int(cni_check(path, err, sizeof(err)), -1,
	    "check: a directory at the path is refused");
	rmdir(path);
	snprintf(p, sizeof(p), "%s/", dir);
	is_int(cni_check(p, err, sizeof(err)), -1,
	    "check: a path that names no file is refused");

	/* A good directory under one anybody may write: swappable. */
	snprintf(p, sizeof(p), "%s/open", dir);
	if (mkdir(p, 0777) == -1 || chmod(p, 01777) == -1)
		bail_out("mkdir: %s", strerror(errno));
	snprintf(p, sizeof(p), "%s/open/net.d", dir);
	if (mkdir(p, 0755) == -1)
		bail_out("mkdir: %s", strerror(errno));
	snprintf(p, sizeof(p), "%s/open/net.d/10-kopeio.conflist", dir);
	is_int(cni_check(p, err, sizeof(err)), -1,
	    "check: a directory under a world-writable one is refused");
	like(err, "/open/net.d: bad ownership or modes for ",
	    "check: saying which directory is bad");
	like(err, "/open (must be owned by root and not writable by group "
	    "or others)", "check: and why");
	is_int(cni_write(p, "{}\n", 3, err, sizeof(err)), -1,
	    "write: a directory under a world-writable one is refused");
	ok(access(p, F_OK) == -1, "write: and no file is made there");
}

/* The parent's side: written at once, retried, repaired, readiness. */
static void
test_parent(void)
{
	struct msg_node_net	 nn = node_net("100.96.3.0/24", NULL, 1450);
	static char		 got[CNI_TEXT_MAX];
	int64_t			 next;

	cni_init("");
	cni_node_net(&nn);
	ok(cni_current() && cni_next() == 0, "parent: no path: nothing to "
	    "write, nothing pending, counted as current");

	unlink(path);
	cni_init(path);
	ok(!cni_current(), "parent: not current before the executor reports");
	cni_node_net(&nn);
	cni_render(&nn, text, sizeof(text), err, sizeof(err));
	slurp(path, got, sizeof(got));
	ok(cni_current() && strcmp(got, text) == 0, "parent: the report is "
	    "written at once and current");
	next = cni_next();
	ok(next > mono_ms() + CNI_CHECK_MS - 2000 && next <= mono_ms() +
	    CNI_CHECK_MS, "parent: the file is looked at again in 10 s");
	unlink(path);
	cni_tick(next - 1);
	ok(access(path, F_OK) == -1, "parent: not before then");
	cni_tick(next);
	slurp(path, got, sizeof(got));
	ok(cni_current() && strcmp(got, text) == 0, "parent: a removed file "
	    "is written again at the check");

	chmod(dir, 0775);
	nn = node_net("100.96.9.0/24", NULL, 1450);
	cni_node_net(&nn);
	ok(!cni_current() && cni_next() != 0, "parent: a failed write is "
	    "not current and is retried");
	chmod(dir, 0755);
	cni_tick(cni_next());
	cni_render(&nn, text, sizeof(text), err, sizeof(err));
	slurp(path, got, sizeof(got));
	ok(cni_current() && strcmp(got, text) == 0, "parent: the retry "
	    "writes the new CIDR");
	nn.mtu = 0;
	cni_node_net(&nn);
	ok(!cni_current(), "parent: a report it cannot render is not "
	    "current");
	nn.mtu = 1450;
	cni_node_net(&nn);
	ok(cni_current(), "parent: the good one again is");
}

int
main(void)
{
	char	 cmd[PATH_MAX + 16];

	log_init(1, "test");
	test_render();
	test_refusals();
	if (geteuid() != 0) {
		diag("not root: the file tests need a root-owned directory");
		return done_testing();
	}
	/* Not under /tmp: every directory above the file must be root's. */
	snprintf(dir, sizeof(dir), "/run/kn-test-cni-XXXXXX");
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) == -1)
		bail_out("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/10-kopeio.conflist", dir);
	test_write();
	test_check();
	test_parent();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
