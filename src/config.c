/*
 * The daemon's settings: the defaults, the command line (with the
 * original Go agent's flag names) and the checks of each value, which
 * the configuration file's keys share, and the settings as -n prints
 * them.
 */
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_opt.h"
#include "log.h"

static const char *const mode_names[] = {
	[MODE_LAYER2] = "layer2",
	[MODE_VXLAN] = "vxlan",
	[MODE_VXLAN_LEGACY] = "vxlan-legacy",
	[MODE_IPSEC] = "ipsec",
	[MODE_GRE] = "gre",
};
static const char *const seccomp_names[] = { "kill", "log" };
static const char *const encryption_names[] = { "aes", "none" };
static const char *const authentication_names[] = { "sha1", "none" };
static const char *const encapsulation_names[] = { "udp", "esp" };
static const char *const address_type_names[] = { "InternalIP", "ExternalIP" };

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const struct option long_options[] = {
	{ "check",		no_argument,		NULL, 'n' },
	{ "config",		required_argument,	NULL, 'f' },
	{ "debug",		no_argument,		NULL, 'd' },
	{ "help",		no_argument,		NULL, 'h' },
	{ "user",		required_argument,	NULL, 'u' },
	{ "uid-base",		required_argument,	NULL, OPT_UID_BASE },
	{ "verbose",		no_argument,		NULL, 'v' },
	{ "version",		no_argument,		NULL, 'V' },
	{ "chroot",		required_argument,	NULL, OPT_CHROOT },
	{ "seccomp",		required_argument,	NULL, OPT_SECCOMP },
	{ "self-test",		no_argument,		NULL, OPT_SELFTEST },
	{ "role",		required_argument,	NULL, OPT_ROLE },
	{ "kubeconfig",		required_argument,	NULL, OPT_KUBECONFIG },
	{ "apiserver",		required_argument,	NULL, OPT_APISERVER },
	{ "token-file",		required_argument,	NULL, OPT_TOKEN_FILE },
	{ "ca-file",		required_argument,	NULL, OPT_CA_FILE },
	{ "node-address-type",	required_argument,	NULL, OPT_ADDRESS_TYPE },
	{ "max-nodes",		required_argument,	NULL, OPT_MAX_NODES },
	{ "mtu",		required_argument,	NULL, OPT_MTU },
	{ "watch-timeout",	required_argument,	NULL, OPT_WATCH_TIMEOUT },
	{ "compression",	optional_argument,	NULL, OPT_COMPRESSION },
	{ "route-protocol",	required_argument,	NULL, OPT_ROUTE_PROTOCOL },
	{ "masquerade",		optional_argument,	NULL, OPT_MASQUERADE },
	{ "no-masquerade",	required_argument,	NULL, OPT_NO_MASQUERADE },
	{ "adopt-protocol",	required_argument,	NULL, OPT_ADOPT_PROTOCOL },
	{ "metrics-address",	required_argument,	NULL, OPT_METRICS_ADDRESS },
	{ "pid-file",		required_argument,	NULL, OPT_PID_FILE },
	{ "ipsec-key-file",	required_argument,	NULL, OPT_IPSEC_KEY_FILE },
	{ "ipsec-rotation-delay", required_argument,	NULL, OPT_IPSEC_ROTATION_DELAY },
	{ "socket",		required_argument,	NULL, 's' },
	{ "provider",		required_argument,	NULL, OPT_PROVIDER },
	{ "target",		required_argument,	NULL, OPT_TARGET },
	{ "pod-cidr",		required_argument,	NULL, OPT_POD_CIDR },
	{ "node-name",		required_argument,	NULL, OPT_NODE_NAME },
	{ "machine-id",		required_argument,	NULL, OPT_MACHINE_ID },
	{ "system-uuid",	required_argument,	NULL, OPT_SYSTEM_UUID },
	{ "boot-id",		required_argument,	NULL, OPT_BOOT_ID },
	{ "ipsec-encryption",	required_argument,	NULL, OPT_IPSEC_ENCRYPTION },
	{ "ipsec-authentication", required_argument,	NULL, OPT_IPSEC_AUTHENTICATION },
	{ "ipsec-encapsulation", required_argument,	NULL, OPT_IPSEC_ENCAPSULATION },
	{ "cni-config",		required_argument,	NULL, OPT_CNI_CONFIG },
	{ "sync-period",	required_argument,	NULL, OPT_SYNC_PERIOD },
	{ "v",			required_argument,	NULL, OPT_GLOG_V },
	{ NULL,			0,			NULL, 0 },
};

static const char usage_text[] =
"usage: kopeio-networkd [-dhnVv] [-f file] [-s socket] [-u user]\n"
"       [--uid-base n] [--chroot dir] [--pid-file file]\n"
"       [--metrics-address addr:port]\n"
"       [--seccomp kill|log] [--self-test] [--kubeconfig file]\n"
"       [--apiserver url] [--token-file file] [--ca-file file]\n"
"       [--node-address-type InternalIP|ExternalIP] [--max-nodes n]\n"
"       [--watch-timeout seconds] [--compression[=true|false]]\n"
"       [--provider mode] [--target ifname] [--mtu bytes]\n"
"       [--route-protocol n] [--adopt-protocol n]\n"
"       [--masquerade[=true|false]] [--no-masquerade cidr[,cidr...]]\n"
"       [--pod-cidr cidr] [--node-name name] [--machine-id file]\n"
"       [--system-uuid file] [--boot-id file] [--cni-config file]\n"
"       [--sync-period duration] [--ipsec-encryption aes|none]\n"
"       [--ipsec-authentication sha1|none] [--ipsec-encapsulation udp|esp]\n"
"       [--ipsec-key-file file] [--ipsec-rotation-delay duration]\n"
"       [--v level]\n"
"\n"
"  -d, --debug                log to standard error instead of syslog\n"
"  -f, --config file          configuration file (default " KN_DEFAULT_CONFIG
" if present)\n"
"  -h, --help                 show this help and exit\n"
"  -n, --check                check the configuration and exit\n"
"  -s, --socket file          control socket for kopeio-networkctl\n"
"                             (default " KN_DEFAULT_SOCKET ")\n"
"  -u, --user user            run every child as this one account (shared:\n"
"                             its other processes can signal them)\n"
"      --uid-base n           each child a uid and gid of its own, n to n+3\n"
"                             (default " KN_STR(KN_DEFAULT_UID_BASE) "; none may be in use)\n"
"  -V, --version              show the version and exit\n"
"  -v, --verbose              log debug messages too\n"
"      --chroot dir           empty root-owned directory for the children\n"
"                             (default " KN_DEFAULT_CHROOT ")\n"
"      --seccomp kill|log     what a disallowed system call does (default kill)\n"
"      --pid-file file        write the parent's process ID here\n"
"      --metrics-address addr:port\n"
"                             serve /healthz, /readyz and /metrics over HTTP\n"
"                             (an IPv4 or [IPv6] address; default off)\n"
"      --self-test            start the children, verify their confinement,\n"
"                             report and exit\n"
"      --role role            internal: run as one of the daemon's children\n"
"      --kubeconfig file      API server, CA and credentials from a kubeconfig\n"
"      --apiserver url        API server URL (with --token-file, --ca-file)\n"
"      --token-file file      bearer token, re-read when it changes\n"
"      --ca-file file         CA bundle that signs the API server's certificate\n"
"      --node-address-type InternalIP|ExternalIP\n"
"                             which node address carries pod traffic\n"
"                             (default InternalIP)\n"
"      --max-nodes n          most nodes the agent keeps, a safety bound\n"
"                             (default " KN_STR(KN_DEFAULT_MAX_NODES) ", at most "
KN_STR(KN_MAX_MAX_NODES) ")\n"
"      --watch-timeout seconds\n"
"                             a watch lasts 1 to 2 times this (default "
KN_STR(KN_DEFAULT_WATCH_TIMEOUT) ")\n"
"      --compression[=true|false]\n"
"                             lists and watches ask the API server for gzip\n"
"                             (default true)\n"
"      --provider mode        layer2, vxlan, vxlan-legacy, ipsec or gre\n"
"                             (default vxlan)\n"
"      --target ifname        underlay interface (default: found by route)\n"
"      --mtu bytes            tunnel device MTU (default: underlay MTU less\n"
"                             the encapsulation)\n"
"      --route-protocol n     rtm_protocol that marks our routes (default "
KN_STR(KN_DEFAULT_ROUTE_PROTOCOL) ")\n"
"      --masquerade[=true|false]\n"
"                             translate pod traffic leaving the cluster\n"
"                             range to the node's address (default true)\n"
"      --no-masquerade cidr[,cidr...]\n"
"                             destinations reached untranslated; repeatable,\n"
"                             at most " KN_STR(KN_NOMASQ_MAX) " prefixes per family\n"
"      --adopt-protocol n     layer2: adopt the routes of protocol n in the\n"
"                             pod range (3: the original agent's; default\n"
"                             off)\n"
"      --pod-cidr cidr[,cidr] cluster pod range, one per family\n"
"                             (default 100.96.0.0/12)\n"
"      --node-name name       this node's Kubernetes name\n"
"      --machine-id file      find this node by its machine ID\n"
"      --system-uuid file     find this node by its system UUID\n"
"                             (default /sys/class/dmi/id/product_uuid)\n"
"      --boot-id file         find this node by its boot ID\n"
"      --cni-config file      write a CNI configuration here\n"
"      --sync-period duration full re-sync interval (default 30s)\n"
"      --ipsec-encryption aes|none     ipsec mode cipher (default aes)\n"
"      --ipsec-authentication sha1|none ipsec compatibility (default sha1)\n"
"      --ipsec-encapsulation udp|esp   ipsec mode transport (default udp)\n"
"      --ipsec-key-file file  the ipsec mode's key: a key id and a secret\n"
"                             of at least 256 bits in hex\n"
"      --ipsec-rotation-delay duration  each step of a key rotation\n"
"                             (default 30s)\n"
"      --v level              original agent's log level 0-10: sets the\n"
"                             verbosity to level - 1 (--v=2 is -v)\n";

void
config_usage(int fd)
{
	/* Nothing useful can be done when the write fails. */
	if (write(fd, usage_text, sizeof(usage_text) - 1) == -1)
		return;
}

const char *
mode_name(uint32_t m)
{
	return m < NELEM(mode_names) ? mode_names[m] : "unknown";
}

static int
lookup(const char *const *names, size_t n, const char *s, uint32_t *out)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0) {
			*out = i;
			return 0;
		}
	return -1;
}

static int
set_choice(const char *what, const char *const *names, size_t n,
    const char *s, uint32_t *out, char *err, size_t errlen)
{
	char	 list[128] = "";
	size_t	 i;

	if (lookup(names, n, s, out) == 0)
		return 0;
	for (i = 0; i < n; i++) {
		strncat(list, names[i], sizeof(list) - strlen(list) - 1);
		if (i + 1 < n)
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
	}
	return errset(err, errlen, "%s: unknown value \"%s\" (one of: %s)",
	    what, s, list);
}

/*
 * A Go time.Duration string ("30s", "1m30s", "500ms", "1h"), as the
 * original agent's --sync-period took.  Whole milliseconds, at most a
 * day, more than zero.
 */
int
duration_parse(const char *s, uint32_t *ms)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};
	uint64_t	 total = 0, v;
	const char	*p = s;
	size_t		 i, ulen;

	if (*p == '\0')
		return -1;
	while (*p != '\0') {
		if (!isdigit((unsigned char)*p))
			return -1;
		for (v = 0; isdigit((unsigned char)*p); p++) {
			v = v * 10 + (*p - '0');
			if (v > 86400000)
				return -1;
		}
		ulen = 0;
		for (i = 0; i < NELEM(units); i++) {
			ulen = strlen(units[i].unit);
			if (strncmp(p, units[i].unit, ulen) == 0 &&
			    !isalpha((unsigned char)p[ulen]))
				break;
		}
		if (i == NELEM(units))
			return -1;
		total += v * units[i].ms;
		if (total > 86400000)
			return -1;
		p += ulen;
	}
	if (total == 0)
		return -1;
	*ms = (uint32_t)total;
	return 0;
}

static int
set_string(char *dst, size_t dstlen, const char *what, const char *s,
    char *err, size_t errlen)
{
	if (strlen(s) >= dstlen)
		return errset(err, errlen, "%s: longer than %zu bytes", what,
		    dstlen - 1);
	strcpy(dst, s);
	return 0;
}

static int
set_path(char *dst, const char *what, const char *s, char *err, size_t errlen)
{
	if (*s != '\0' && *s != '/')
		return errset(err, errlen, "%s: \"%s\" is not an absolute path",
		    what, s);
	return set_string(dst, KN_PATH_MAX, what, s, err, errlen);
}

static int
set_ifname(char *dst, const char *what, const char *s, char *err,
    size_t errlen)
{
	const char	*p;

	if (set_string(dst, IF_NAMESIZE, what, s, err, errlen) == -1)
		return -1;
	for (p = s; *p != '\0'; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p) ||
		    !isprint((unsigned char)*p))
			break;
	if (*p != '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
		*dst = '\0';
		return errset(err, errlen, "%s: \"%s\" is not an interface "
		    "name", what, s);
	}
	return 0;
}

/*
 * A Kubernetes node name is a DNS-1123 subdomain as the API server
 * validates it: dot-separated labels of lower-case letters, digits and
 * '-', each starting and ending with a letter or digit, 253 bytes in
 * all.  It ends up in API paths, so nothing else passes.
 */
static int
set_node_name(char *dst, const char *what, const char *s, char *err,
    size_t errlen)
{
	const char	*p, *label = s;

	if (set_string(dst, KN_NAME_MAX, what, s, err, errlen) == -1)
		return -1;
	for (p = s;; p++) {
		if (*p == '.' || *p == '\0') {
			if (p == label || label[0] == '-' || p[-1] == '-')
				break;
			if (*p == '\0')
				return 0;
			label = p + 1;
		} else if (!islower((unsigned char)*p) &&
		    !isdigit((unsigned char)*p) && *p != '-')
			break;
	}
	*dst = '\0';
	return errset(err, errlen, "%s: \"%s\" is not a Kubernetes node "
	    "name (lower-case DNS labels separated by dots)", what, s);
}

/* glog's --v=N: 1 is the original's default, 2 and above add debug. */
static int
set_glog_level(struct kn_config *c, const char *what, long v, char *err,
    size_t errlen)
{
	if (v < 0 || v > 10)
		return errset(err, errlen, "%s: %ld is not a level from 0 "
		    "to 10", what, v);
	c->verbose = v >= 2 ? (int32_t)v - 1 : 0;
	return 0;
}

static int
set_sync_period(struct kn_config *c, const char *what, const char *s,
    char *err, size_t errlen)
{
	if (duration_parse(s, &c->sync_period_ms) == -1)
		return errset(err, errlen, "%s: \"%s\" is not a duration "
		    "from 1ms to 24h (like 30s or 1m30s)", what, s);
	return 0;
}

static void
config_defaults(struct kn_config *c)
{
	char	 err[64];

	memset(c, 0, sizeof(*c));
	c->mode = MODE_VXLAN;
	cluster_parse("100.96.0.0/12", c->cluster, err, sizeof(err));
	c->sync_period_ms = 30000;
	strcpy(c->system_uuid, KN_DEFAULT_SYSTEM_UUID);
	c->max_nodes = KN_DEFAULT_MAX_NODES;
	c->route_protocol = KN_DEFAULT_ROUTE_PROTOCOL;
	c->masquerade = 1;
	c->watch_timeout = KN_DEFAULT_WATCH_TIMEOUT;
	/*
	 * As client-go: a quarter of the bytes with the test server's
	 * nodes, a fortieth with a real cluster's, for level-1 gzip's CPU
	 * on the server (bench/bench_agents.py).
	 */
	c->compression = 1;
	c->ipsec_encryption = IPSEC_ENC_AES;
	c->ipsec_authentication = IPSEC_AUTH_SHA1;
	c->ipsec_encapsulation = IPSEC_ENCAP_UDP;
	c->ipsec_rotation_ms = 30000;
	strcpy(c->chroot, KN_DEFAULT_CHROOT);
	c->seccomp = SECCOMP_MODE_KILL;
	/* In a pod, the container runtime collects standard error. */
	c->log_stderr = getenv("KUBERNETES_SERVICE_HOST") != NULL;
	strcpy(c->config_file, KN_DEFAULT_CONFIG);
	strcpy(c->socket, KN_DEFAULT_SOCKET);
}

/* A decimal number from min to max. */
static int
set_number(const char *what, const char *arg, long min, long max,
    uint32_t *out, char *err, size_t errlen)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		return errset(err, errlen, "%s: \"%s\" is not a number from "
		    "%ld to %ld", what, arg, min, max);
	*out = (uint32_t)v;
	return 0;
}

/*
 * --adopt-protocol: the protocol of another agent's routes that layer2
 * takes over.  Never the kernel's own (0 unspec, 1 redirect, 2 kernel:
 * its connected routes lie in the pod range, the local pod bridge's
 * among them) nor 4 (static: what an administrator or the host's
 * network manager, systemd-networkd for one, installs); 3 (boot, what
 * "ip route add" and the original agent use) is the upgrade's.
 */
static int
set_adopt(struct kn_config *c, const char *what, const char *arg,
    char *err, size_t errlen)
{
	uint32_t	 n;

	if (set_number(what, arg, 0, 255, &n, err, errlen) == -1)
		return -1;
	if (n <= 2 || n == 4)
		return errset(err, errlen, "%s: %u is %s's own protocol; "
		    "its routes are never adopted (3, boot, is the original "
		    "agent's)", what, n, n == 4 ? "the administrator" :
		    "the kernel");
	c->adopt_protocol = n;
	return 0;
}

/*
 * --uid-base: four ids from n, none of them root, nobody, 16-bit -1 or
 * one of systemd's dynamic users (61184-65519, handed out while we
 * run), and below 2^31, where some programs take ids for negative.
 */
static int
set_uid_base(struct kn_config *c, const char *what, const char *arg,
    char *err, size_t errlen)
{
	uint32_t	 n;

	if (set_number(what, arg, 1, INT32_MAX - (KN_ID_SLOTS - 1), &n, err,
	    errlen) == -1)
		return -1;
	if (n + KN_ID_SLOTS - 1 >= 61184 && n <= 65535)
		return errset(err, errlen, "%s: %u to %u overlaps 61184 to "
		    "65535 (systemd's dynamic users, nobody, 16-bit -1)", what,
		    n, n + KN_ID_SLOTS - 1);
	c->uid_base = n;
	return 0;
}

/* --masquerade, --compression: no value is true. */
static int
set_bool(const char *what, const char *arg, uint32_t *out, char *err,
    size_t errlen)
{
	if (arg == NULL || strcmp(arg, "true") == 0)
		*out = 1;
	else if (strcmp(arg, "false") == 0)
		*out = 0;
	else
		return errset(err, errlen, "%s: \"%s\" is not true or false",
		    what, arg);
	return 0;
}

/*
 * --no-masquerade: prefixes separated by commas, added to those of
 * each family given before; one given twice counts once.  /0 would
 * turn the feature off by another name.
 */
static int
set_nomasq(struct kn_config *c, const char *what, const char *arg, char *err,
    size_t errlen)
{
	char			 buf[INET6_ADDRSTRLEN + 8], msg[160];
	struct kn_prefix	 p;
	const char		*s = arg;
	size_t			 n;
	uint32_t		 i, *count;

	do {
		n = strcspn(s, ",");
		if (n >= sizeof(buf))
			return errset(err, errlen, "%s: \"%.*s\" is not a "
			    "CIDR", what, (int)n, s);
		memcpy(buf, s, n);
		buf[n] = '\0';
		if (prefix_parse(buf, &p, msg, sizeof(msg)) == -1)
			return errset(err, errlen, "%s: %s", what, msg);
		if (p.len == 0)
			return errset(err, errlen, "%s: \"%s\": a /0 prefix "
			    "turns masquerade off: say --masquerade=false",
			    what, buf);
		count = &c->nomasq_count[p.family == AF_INET6];
		for (i = 0; i < *count; i++)
			if (memcmp(&c->nomasq[p.family == AF_INET6][i], &p,
			    sizeof(p)) == 0)
				break;
		if (i == *count && *count == KN_NOMASQ_MAX)
			return errset(err, errlen, "%s: more than %d %s "
			    "prefixes", what, KN_NOMASQ_MAX,
			    p.family == AF_INET6 ? "IPv6" : "IPv4");
		if (i == *count)
			c->nomasq[p.family == AF_INET6][(*count)++] = p;
		s += n;
	} while (*s++ == ',');
	return 0;
}

/* Apply one option, from the command line or the configuration file. */
int
config_option(struct kn_config *c, struct kn_cmdline *cl, int ch,
    const char *what, const char *arg, char *err, size_t errlen)
{
	char	*end, msg[192];
	long	 v;

	switch (ch) {
	case 'd':
		c->log_stderr = 1;
		return 0;
	case 'f':
		c->config_file_given = 1;
		return set_path(c->config_file, what, arg, err, errlen);
	case 'h':
		cl->action = ACTION_HELP;
		return 0;
	case 'n':
		cl->action = ACTION_CHECK;
		return 0;
	case 'u':
		if (*arg == '\0')
			return errset(err, errlen, "%s: empty name", what);
		return set_string(c->user, sizeof(c->user), what, arg, err,
		    errlen);
	case OPT_UID_BASE:
		return set_uid_base(c, what, arg, err, errlen);
	case 'V':
		cl->action = ACTION_VERSION;
		return 0;
	case 'v':
		c->verbose++;
		return 0;
	case OPT_CHROOT:
		if (*arg == '\0')
			return errset(err, errlen, "%s: empty path", what);
		return set_path(c->chroot, what, arg, err, errlen);
	case OPT_SECCOMP:
		return set_choice(what, seccomp_names,
		    NELEM(seccomp_names), arg, &c->seccomp, err, errlen);
	case OPT_SELFTEST:
		cl->action = ACTION_SELFTEST;
		return 0;
	case OPT_ROLE:
		cl->action = ACTION_ROLE;
		return set_string(cl->role, sizeof(cl->role), what, arg,
		    err, errlen);
	case OPT_PROVIDER:
		return set_choice(what, mode_names, NELEM(mode_names),
		    arg, &c->mode, err, errlen);
	case OPT_TARGET:
		return set_ifname(c->target, what, arg, err, errlen);
	case OPT_POD_CIDR:
		if (cluster_parse(arg, c->cluster, msg, sizeof(msg)) == -1)
			return errset(err, errlen, "%s: %s", what, msg);
		return 0;
	case OPT_NODE_NAME:
		return set_node_name(c->node_name, what, arg, err,
		    errlen);
	case OPT_MACHINE_ID:
		return set_path(c->machine_id, what, arg, err,
		    errlen);
	case OPT_SYSTEM_UUID:
		return set_path(c->system_uuid, what, arg, err,
		    errlen);
	case OPT_BOOT_ID:
		return set_path(c->boot_id, what, arg, err, errlen);
	case OPT_CNI_CONFIG:
		return set_path(c->cni_config, what, arg, err,
		    errlen);
	case OPT_SYNC_PERIOD:
		return set_sync_period(c, what, arg, err, errlen);
	case OPT_IPSEC_ENCRYPTION:
		return set_choice(what, encryption_names,
		    NELEM(encryption_names), arg, &c->ipsec_encryption, err,
		    errlen);
	case OPT_IPSEC_AUTHENTICATION:
		return set_choice(what,
		    authentication_names, NELEM(authentication_names), arg,
		    &c->ipsec_authentication, err, errlen);
	case OPT_IPSEC_ENCAPSULATION:
		return set_choice(what, encapsulation_names,
		    NELEM(encapsulation_names), arg, &c->ipsec_encapsulation,
		    err, errlen);
	case OPT_KUBECONFIG:
		return set_path(c->kubeconfig, what, arg, err,
		    errlen);
	case OPT_APISERVER:
		if (strncmp(arg, "https://", 8) != 0)
			return errset(err, errlen, "%s: \"%s\" is not "
			    "an https:// URL", what, arg);
		return set_string(c->apiserver, sizeof(c->apiserver),
		    what, arg, err, errlen);
	case OPT_TOKEN_FILE:
		return set_path(c->token_file, what, arg, err,
		    errlen);
	case OPT_CA_FILE:
		return set_path(c->ca_file, what, arg, err, errlen);
	case OPT_ADDRESS_TYPE:
		return set_choice(what, address_type_names,
		    NELEM(address_type_names), arg, &c->address_type, err,
		    errlen);
	case OPT_MAX_NODES:
		return set_number(what, arg, 1, KN_MAX_MAX_NODES, &c->max_nodes,
		    err, errlen);
	case OPT_WATCH_TIMEOUT:
		return set_number(what, arg, 1, 3600,
		    &c->watch_timeout, err, errlen);
	case OPT_MTU:
		return set_number(what, arg, 1280, 65535, &c->mtu, err,
		    errlen);
	case OPT_ROUTE_PROTOCOL:
		/* 0 to 4 are the kernel's own; 255 is reserved. */
		return set_number(what, arg, 5, 254,
		    &c->route_protocol, err, errlen);
	case OPT_MASQUERADE:
		return set_bool(what, arg, &c->masquerade, err, errlen);
	case OPT_COMPRESSION:
		return set_bool(what, arg, &c->compression, err, errlen);
	case OPT_NO_MASQUERADE:
		/* The command line's list replaces the file's. */
		if (cl != NULL && !cl->nomasq_given) {
			cl->nomasq_given = 1;
			memset(c->nomasq_count, 0, sizeof(c->nomasq_count));
		}
		return set_nomasq(c, what, arg, err, errlen);
	case OPT_ADOPT_PROTOCOL:
		return set_adopt(c, what, arg, err, errlen);
	case OPT_METRICS_ADDRESS:
		if (metrics_addr_parse(arg, NULL, NULL, msg, sizeof(msg)) == -1)
			return errset(err, errlen, "%s: %s", what, msg);
		return set_string(c->metrics_address,
		    sizeof(c->metrics_address), what, arg, err, errlen);
	case OPT_PID_FILE:
		return set_path(c->pid_file, what, arg, err, errlen);
	case OPT_IPSEC_KEY_FILE:
		return set_path(c->ipsec_key_file, what, arg, err, errlen);
	case OPT_IPSEC_ROTATION_DELAY:
		if (duration_parse(arg, &c->ipsec_rotation_ms) == -1)
			return errset(err, errlen, "%s: \"%s\" is not a "
			    "duration from 1ms to 24h (like 30s or 1m30s)",
			    what, arg);
		return 0;
	case 's':
		if (*arg != '/')
			return errset(err, errlen, "%s: \"%s\" is not an "
			    "absolute path", what, arg);
		return set_string(c->socket, sizeof(c->socket), what, arg, err,
		    errlen);
	case OPT_GLOG_V:
		errno = 0;
		v = strtol(arg, &end, 10);
		if (*arg == '\0' || *end != '\0' || errno != 0)
			return errset(err, errlen, "%s: \"%s\" is not a "
			    "number", what, arg);
		return set_glog_level(c, what, v, err, errlen);
	default:
		return errset(err, errlen, "unknown option (see --help)");
	}
}

/*
 * The option getopt_long() complained about: a long one is the word
 * itself, a short one is in optopt (the word may be a cluster like
 * "-xd").
 */
static void
option_name(int opt, const char *word, char *name, size_t len)
{
	if (strncmp(word, "--", 2) == 0)
		snprintf(name, len, "%.*s", (int)strcspn(word, "="), word);
	else
		snprintf(name, len, "-%c", opt);
}

/* How an error names an option: its long name. */
static void
option_what(int ch, char *name, size_t len)
{
	const struct option	*o;

	for (o = long_options; o->name != NULL; o++)
		if (o->val == ch) {
			snprintf(name, len, "--%s", o->name);
			return;
		}
	snprintf(name, len, "-%c", ch);
}

static int
parse_args(struct kn_config *c, struct kn_cmdline *cl, int argc, char **argv,
    int pass, char *err, size_t errlen)
{
	char	 name[64];
	int	 ch;

	optind = 0;	/* glibc: rescan from the start */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":df:hns:u:Vv", long_options,
	    NULL)) != -1) {
		if (ch == '?' || ch == ':') {
			option_name(optopt, argv[optind - 1], name,
			    sizeof(name));
			if (ch == ':')
				return errset(err, errlen, "option \"%s\" needs "
				    "a value", name);
			if (optopt != 0 && strchr(argv[optind - 1], '='))
				return errset(err, errlen, "option \"%s\" "
				    "takes no value", name);
			return errset(err, errlen, "unknown option \"%s\" "
			    "(see --help)", name);
		}
		/* The first pass only finds the file and the role. */
		if (pass == 0 && ch != 'f' && ch != OPT_ROLE)
			continue;
		option_what(ch, name, sizeof(name));
		if (config_option(c, cl, ch, name, optarg, err, errlen) == -1)
			return -1;
	}
	if (optind < argc)
		return errset(err, errlen, "unexpected argument \"%s\"",
		    argv[optind]);
	return 0;
}

/*
 * Defaults, then the configuration file, then the command line, which
 * wins.  Run again on reload with the same argv.
 */
int
config_load(struct kn_config *c, struct kn_cmdline *cl, int argc, char **argv,
    char *err, size_t errlen)
{
	memset(cl, 0, sizeof(*cl));
	config_defaults(c);
	if (parse_args(c, cl, argc, argv, 0, err, errlen) == -1)
		return -1;
	/* A child gets its configuration from the parent, not the file. */
	if (cl->action != ACTION_ROLE &&
	    config_parse_file(c, c->config_file, err, errlen) == -1)
		return -1;
	if (parse_args(c, cl, argc, argv, 1, err, errlen) == -1)
		return -1;
	if (*c->user != '\0' && c->uid_base != 0)
		return errset(err, errlen, "--user and --uid-base: give one "
		    "(--user runs every child as one account, --uid-base "
		    "each as its own)");
	if (c->adopt_protocol != 0 && c->mode != MODE_LAYER2)
		return errset(err, errlen, "--adopt-protocol: for --provider "
		    "layer2 only (vxlan, vxlan-legacy and gre adopt every "
		    "route on their own devices in the pod range whatever its "
		    "protocol; ipsec makes no routes)");
	if (c->adopt_protocol != 0 && c->adopt_protocol == c->route_protocol)
		return errset(err, errlen, "--adopt-protocol %u is "
		    "--route-protocol: the routes of that protocol are ours "
		    "already", c->adopt_protocol);
	return 0;
}

void
config_print(const struct kn_config *c, int fd)
{
	char	 cidr[2 * (INET6_ADDRSTRLEN + 5)], mtu[32], user[KN_NAME_MAX + 64];
	char	 nomasq[2 * KN_NOMASQ_MAX * (INET6_ADDRSTRLEN + 5)] = "", p[64];
	uint32_t i, f;

	for (f = 0; f < 2; f++)
		for (i = 0; i < c->nomasq_count[f]; i++) {
			prefix_format(&c->nomasq[f][i], p, sizeof(p));
			if (*nomasq != '\0')
				strcat(nomasq, ",");
			strcat(nomasq, p);
		}
	char	 adopt[16] = "(off)";

	cluster_format(c->cluster, cidr, sizeof(cidr));
	if (*c->user != '\0')
		snprintf(user, sizeof(user), "user %s (uid %u, gid %u, every "
		    "child)", c->user, c->uid, c->gid);
	else
		snprintf(user, sizeof(user), "uid-base %u (uids and gids %u-%u: "
		    "watcher, executor, arp-helper, metrics)", c->uid, c->uid,
		    c->uid + KN_ID_SLOTS - 1);
	if (c->adopt_protocol != 0)
		snprintf(adopt, sizeof(adopt), "%u", c->adopt_protocol);
	if (c->mtu != 0)
		snprintf(mtu, sizeof(mtu), "%u", c->mtu);
	else
		snprintf(mtu, sizeof(mtu), "(underlay less encapsulation)");
	dprintf(fd,
	    "provider %s\n"
	    "pod-cidr %s\n"
	    "target %s\n"
	    "mtu %s\n"
	    "route-protocol %u\n"
	    "masquerade %s\n"
	    "no-masquerade %s\n"
	    "adopt-protocol %s\n"
	    "node-name %s\n"
	    "machine-id %s\n"
	    "system-uuid %s\n"
	    "boot-id %s\n"
	    "cni-config %s\n"
	    "sync-period %ums\n"
	    "ipsec-encryption %s\n"
	    "ipsec-authentication %s\n"
	    "ipsec-encapsulation %s\n"
	    "ipsec-key-file %s\n"
	    "ipsec-rotation-delay %ums\n"
	    "%s\n"
	    "chroot %s\n"
	    "seccomp %s\n"
	    "kubeconfig %s\n"
	    "apiserver %s\n"
	    "token-file %s\n"
	    "ca-file %s\n"
	    "node-address-type %s\n"
	    "max-nodes %u\n"
	    "watch-timeout %us\n"
	    "compression %s\n"
	    "socket %s\n"
	    "pid-file %s\n"
	    "metrics-address %s\n"
	    "verbose %d\n",
	    mode_name(c->mode), cidr,
	    *c->target ? c->target : "(found by route)", mtu,
	    c->route_protocol, c->masquerade ? "true" : "false",
	    *nomasq ? nomasq : "(none)", adopt,
	    *c->node_name ? c->node_name : "(not set)",
	    *c->machine_id ? c->machine_id : "(not set)",
	    *c->system_uuid ? c->system_uuid : "(not set)",
	    *c->boot_id ? c->boot_id : "(not set)",
	    *c->cni_config ? c->cni_config : "(not written)",
	    c->sync_period_ms,
	    encryption_names[c->ipsec_encryption],
	    authentication_names[c->ipsec_authentication],
	    encapsulation_names[c->ipsec_encapsulation],
	    *c->ipsec_key_file ? c->ipsec_key_file : "(none)",
	    c->ipsec_rotation_ms,
	    user, c->chroot, seccomp_names[c->seccomp],
	    *c->kubeconfig ? c->kubeconfig : "(not set)",
	    *c->apiserver ? c->apiserver : "(not set)",
	    *c->token_file ? c->token_file : "(not set)",
	    *c->ca_file ? c->ca_file : "(not set)",
	    address_type_names[c->address_type], c->max_nodes,
	    c->watch_timeout, c->compression ? "true" : "false", c->socket,
	    *c->pid_file ? c->pid_file : "(none)",
	    *c->metrics_address ? c->metrics_address : "(off)", c->verbose);
}
