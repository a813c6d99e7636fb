#include <sys/socket.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <getopt.h>
#include <grp.h>
#include <netdb.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "config.h"
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

enum {
	OPT_PROVIDER = 256,
	OPT_TARGET,
	OPT_POD_CIDR,
	OPT_NODE_NAME,
	OPT_MACHINE_ID,
	OPT_SYSTEM_UUID,
	OPT_BOOT_ID,
	OPT_IPSEC_ENCRYPTION,
	OPT_IPSEC_AUTHENTICATION,
	OPT_IPSEC_ENCAPSULATION,
	OPT_CNI_CONFIG,
	OPT_SYNC_PERIOD,
	OPT_GLOG_V,
	OPT_CHROOT,
	OPT_SECCOMP,
	OPT_SELFTEST,
	OPT_ROLE,
	OPT_KUBECONFIG,
	OPT_APISERVER,
	OPT_TOKEN_FILE,
	OPT_CA_FILE,
	OPT_ADDRESS_TYPE,
	OPT_MAX_NODES,
	OPT_MTU,
	OPT_WATCH_TIMEOUT,
	OPT_ROUTE_PROTOCOL,
	OPT_METRICS_ADDRESS,
	OPT_PID_FILE,
	OPT_IPSEC_KEY_FILE,
	OPT_IPSEC_ROTATION_DELAY,
	OPT_UID_BASE,
};

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
	{ "route-protocol",	required_argument,	NULL, OPT_ROUTE_PROTOCOL },
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
"       [--watch-timeout seconds]\n"
"       [--provider mode] [--target ifname] [--mtu bytes]\n"
"       [--route-protocol n]\n"
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
"      --max-nodes n          most nodes the agent keeps (default 5000)\n"
"      --watch-timeout seconds\n"
"                             a watch lasts 1 to 2 times this (default "
KN_STR(KN_DEFAULT_WATCH_TIMEOUT) ")\n"
"      --provider mode        layer2, vxlan, vxlan-legacy, ipsec or gre\n"
"                             (default vxlan)\n"
"      --target ifname        underlay interface (default: found by route)\n"
"      --mtu bytes            tunnel device MTU (default: underlay MTU less\n"
"                             the encapsulation)\n"
"      --route-protocol n     rtm_protocol that marks our routes (default "
KN_STR(KN_DEFAULT_ROUTE_PROTOCOL) ")\n"
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
	c->watch_timeout = KN_DEFAULT_WATCH_TIMEOUT;
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

/* Apply one option; shared by the command line pass. */
static int
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
		return set_number(what, arg, 1, 100000, &c->max_nodes,
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
	return 0;
}

int
config_parse_file(struct kn_config *c, const char *path, char *err,
    size_t errlen)
{
	char	*text = NULL;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;
	int	 fd, rv;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT && !c->config_file_given)
			return 0;
		return errset(err, errlen, "%s: %s", path, strerror(errno));
	}
	for (;;) {
		if (len == cap) {
			if (cap >= (1u << 20)) {
				free(text);
				close(fd);
				return errset(err, errlen, "%s: larger than "
				    "1 MiB", path);
			}
			cap = cap ? cap * 2 : 4096;
			if ((text = realloc(text, cap)) == NULL) {
				close(fd);
				return errset(err, errlen, "%s: out of memory",
				    path);
			}
		}
		if ((n = read(fd, text + len, cap - len)) == -1) {
			free(text);
			close(fd);
			return errset(err, errlen, "%s: %s", path,
			    strerror(errno));
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	rv = config_parse_yaml(c, text, len, path, err, errlen);
	free(text);
	return rv;
}

/*
 * The original agent's ConfigMap keys.  Its resyncPeriod was a Go
 * time.Duration decoded from JSON, so an integer of nanoseconds; a
 * duration string is accepted too.
 */
/*
 * Keys of our own, for what the original agent did not have: each is
 * its command-line option, spelt in the ConfigMap's camelCase.  Only
 * operational settings: what decides whom the daemon trusts (the API
 * server and credentials, the IPsec key) and how it is confined (user,
 * chroot, seccomp, the files it writes as root) stays on the command
 * line, which more people cannot change than can edit a ConfigMap.
 */
struct own_key {
	const char	*key;
	int		 opt;
	int		 number;	/* a plain YAML scalar */
};

static const struct own_key own_keys[] = {
	{ "nodeAddressType", OPT_ADDRESS_TYPE, 0 },
	{ "maxNodes", OPT_MAX_NODES, 1 },
	{ "watchTimeout", OPT_WATCH_TIMEOUT, 1 },
	{ "mtu", OPT_MTU, 1 },
	{ "routeProtocol", OPT_ROUTE_PROTOCOL, 1 },
	{ "metricsAddress", OPT_METRICS_ADDRESS, 0 },
};

static const struct own_key *
own_key(const char *key)
{
	size_t	 i;

	for (i = 0; i < NELEM(own_keys); i++)
		if (strcmp(own_keys[i].key, key) == 0)
			return &own_keys[i];
	return NULL;
}

struct yaml_ctx {
	yaml_parser_t	 parser;
	const char	*name;
	char		*err;
	size_t		 errlen;
};

static int
yaml_fail(struct yaml_ctx *y, const yaml_event_t *ev, const char *fmt,
    const char *arg)
{
	char	 msg[320];

	snprintf(msg, sizeof(msg), fmt, arg);
	return errset(y->err, y->errlen, "%s:%zu: %s", y->name,
	    ev->start_mark.line + 1, msg);
}

static int
yaml_next(struct yaml_ctx *y, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&y->parser, ev))
		return errset(y->err, y->errlen, "%s:%zu: %s", y->name,
		    y->parser.problem_mark.line + 1,
		    y->parser.problem ? y->parser.problem : "YAML error");
	return 0;
}

/* C strings from here on: a scalar with "\0" in it would be cut short. */
static int
scalar_has_nul(const yaml_event_t *ev)
{
	return strlen((const char *)ev->data.scalar.value) !=
	    ev->data.scalar.length;
}

static int
yaml_scalar_value(struct yaml_ctx *y, struct kn_config *c, const char *sect,
    const char *key, const yaml_event_t *ev)
{
	const char	*v = (const char *)ev->data.scalar.value;
	const struct own_key *ok;
	char		 what[160], msg[256], *end;
	long		 n;
	int		 plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	int		 rv = -1;

	snprintf(what, sizeof(what), "%s%s%s", sect, *sect ? "." : "", key);
	if (scalar_has_nul(ev))
		return yaml_fail(y, ev, "%s: the value holds a NUL byte", what);
	if (strcmp(sect, "ipsec") == 0) {
		if (strcmp(key, "encryption") == 0)
			rv = set_choice(what, encryption_names,
			    NELEM(encryption_names), v, &c->ipsec_encryption,
			    msg, sizeof(msg));
		else if (strcmp(key, "authentication") == 0)
			rv = set_choice(what, authentication_names,
			    NELEM(authentication_names), v,
			    &c->ipsec_authentication, msg, sizeof(msg));
		else if (strcmp(key, "encapsulation") == 0)
			rv = set_choice(what, encapsulation_names,
			    NELEM(encapsulation_names), v,
			    &c->ipsec_encapsulation, msg, sizeof(msg));
		else
			return yaml_fail(y, ev, "unknown key \"ipsec.%s\"", key);
	} else if (strcmp(key, "provider") == 0)
		rv = set_choice(what, mode_names, NELEM(mode_names), v,
		    &c->mode, msg, sizeof(msg));
	else if (strcmp(key, "targetLinkName") == 0)
		rv = set_ifname(c->target, what, v, msg, sizeof(msg));
	else if (strcmp(key, "podCIDR") == 0) {
		if (cluster_parse(v, c->cluster, msg, sizeof(msg)) == -1)
			return yaml_fail(y, ev, "podCIDR: %s", msg);
		return 0;
	} else if (strcmp(key, "nodeName") == 0)
		rv = set_node_name(c->node_name, what, v, msg, sizeof(msg));
	else if (strcmp(key, "machineIDPath") == 0)
		rv = set_path(c->machine_id, what, v, msg, sizeof(msg));
	else if (strcmp(key, "systemUUIDPath") == 0)
		rv = set_path(c->system_uuid, what, v, msg, sizeof(msg));
	else if (strcmp(key, "bootIDPath") == 0)
		rv = set_path(c->boot_id, what, v, msg, sizeof(msg));
	else if (strcmp(key, "cniConfigPath") == 0)
		rv = set_path(c->cni_config, what, v, msg, sizeof(msg));
	else if (strcmp(key, "logLevel") == 0) {
		errno = 0;
		n = strtol(v, &end, 10);
		if (!plain || *v == '\0' || *end != '\0' || errno != 0)
			return yaml_fail(y, ev, "logLevel: \"%s\" is not an "
			    "integer", v);
		rv = set_glog_level(c, "logLevel", n, msg, sizeof(msg));
	} else if (strcmp(key, "resyncPeriod") == 0) {
		errno = 0;
		n = strtol(v, &end, 10);
		if (plain && *v != '\0' && *end == '\0' && errno == 0) {
			if (n < 1000000 || n > 86400000000000L)
				return yaml_fail(y, ev, "resyncPeriod: %s "
				    "nanoseconds is not from 1ms to 24h", v);
			c->sync_period_ms = n / 1000000;
			return 0;
		}
		rv = set_sync_period(c, what, v, msg, sizeof(msg));
	} else if (strcmp(key, "ipsec") == 0)
		return yaml_fail(y, ev, "ipsec: expected a mapping, got \"%s\"",
		    v);
	else if ((ok = own_key(key)) != NULL) {
		if (ok->number && !plain)
			return yaml_fail(y, ev, "%s: expected a number, not a "
			    "string", key);
		rv = config_option(c, NULL, ok->opt, key, v, msg, sizeof(msg));
	} else
		return yaml_fail(y, ev, "unknown key \"%s\"", key);
	if (rv == -1)
		return yaml_fail(y, ev, "%s", msg);
	return 0;
}

/* A block mapping of scalars; "ipsec" nests one level. */
static int
yaml_mapping(struct yaml_ctx *y, struct kn_config *c, const char *sect)
{
	yaml_event_t	 kev, vev;
	char		 key[64];
	int		 rv;

	for (;;) {
		if (yaml_next(y, &kev) == -1)
			return -1;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			return 0;
		}
		if (kev.type != YAML_SCALAR_EVENT) {
			rv = yaml_fail(y, &kev, "expected a key%s", "");
			yaml_event_delete(&kev);
			return rv;
		}
		if (scalar_has_nul(&kev)) {
			rv = yaml_fail(y, &kev, "a key holds a NUL byte%s", "");
			yaml_event_delete(&kev);
			return rv;
		}
		if (kev.data.scalar.length >= sizeof(key)) {
			rv = yaml_fail(y, &kev, "unknown key \"%.40s...\"",
			    (const char *)kev.data.scalar.value);
			yaml_event_delete(&kev);
			return rv;
		}
		memcpy(key, kev.data.scalar.value, kev.data.scalar.length + 1);
		if (yaml_next(y, &vev) == -1) {
			yaml_event_delete(&kev);
			return -1;
		}
		if (vev.type == YAML_SCALAR_EVENT)
			rv = yaml_scalar_value(y, c, sect, key, &vev);
		else if (vev.type == YAML_MAPPING_START_EVENT && *sect == '\0'
		    && strcmp(key, "ipsec") == 0)
			rv = yaml_mapping(y, c, "ipsec");
		else
			rv = yaml_fail(y, &vev, "%s: expected a single value",
			    key);
		yaml_event_delete(&kev);
		yaml_event_delete(&vev);
		if (rv == -1)
			return -1;
	}
}

int
config_parse_yaml(struct kn_config *c, const char *text, size_t len,
    const char *name, char *err, size_t errlen)
{
	struct yaml_ctx	 y = { .name = name, .err = err, .errlen = errlen };
	yaml_event_t	 ev;
	int		 rv = 0, done = 0;

	if (!yaml_parser_initialize(&y.parser))
		return errset(err, errlen, "%s: out of memory", name);
	yaml_parser_set_input_string(&y.parser, (const unsigned char *)text,
	    len);
	while (!done && rv == 0) {
		if ((rv = yaml_next(&y, &ev)) == -1)
			break;
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_MAPPING_START_EVENT:
			rv = yaml_mapping(&y, c, "");
			break;
		case YAML_SCALAR_EVENT:
			/* An empty document is an empty configuration. */
			if (ev.data.scalar.length == 0)
				break;
			/* FALLTHROUGH */
		default:
			rv = yaml_fail(&y, &ev, "expected a mapping of "
			    "keys%s", "");
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&y.parser);
	return rv;
}

int
config_resolve_user(struct kn_config *c, char *err, size_t errlen)
{
	struct passwd	*pw;
	char		*end;
	unsigned long	 id;

	if (*c->user == '\0') {
		c->uid = c->gid = c->uid_base != 0 ? c->uid_base :
		    KN_DEFAULT_UID_BASE;
		return 0;
	}
	errno = 0;
	if ((pw = getpwnam(c->user)) != NULL) {
		c->uid = pw->pw_uid;
		c->gid = pw->pw_gid;
	} else if (strcmp(c->user, KN_DEFAULT_USER) == 0) {
		c->uid = c->gid = KN_NOBODY_ID;
	} else {
		id = strtoul(c->user, &end, 10);
		if (*c->user == '\0' || *end != '\0' || id >= UINT32_MAX)
			return errset(err, errlen, "--user: no account \"%s\"",
			    c->user);
		c->uid = c->gid = id;
	}
	if (c->uid == 0 || c->gid == 0)
		return errset(err, errlen, "--user: \"%s\" is root; the "
		    "children must run unprivileged", c->user);
	return 0;
}

/*
 * The ids the child in slot (watcher 0, executor 1, arp-helper 2,
 * metrics 3) runs as, after config_resolve_user().
 */
void
config_child_ids(const struct kn_config *c, unsigned slot, uint32_t *uid,
    uint32_t *gid)
{
	*uid = c->uid;
	*gid = c->gid;
	if (*c->user == '\0') {
		*uid += slot;
		*gid += slot;
	}
}

/* The slot whose uid or gid is id, or -1. */
static int
id_slot(const struct kn_config *c, uint32_t id)
{
	return id - c->uid < KN_ID_SLOTS ? (int)(id - c->uid) : -1;
}

static int
id_clash(const struct kn_config *c, uint32_t id, const char *who,
    char *err, size_t errlen)
{
	return errset(err, errlen, "--uid-base %u: id %u (base + %d) is in "
	    "use: %s; choose %d ids from a base that nothing on the host uses",
	    c->uid, id, id_slot(c, id), who, KN_ID_SLOTS);
}

/* A process whose real, effective, saved or fs uid or gid is ours. */
static int
proc_clash(const struct kn_config *c, const char *path, const char *pid,
    char *err, size_t errlen)
{
	char		 buf[4096], name[64] = "?", who[160];
	const char	*l;
	unsigned	 v[4];
	ssize_t		 n;
	int		 fd, i, gid;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;	/* gone meanwhile */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (l = buf; l != NULL; l = (l = strchr(l, '\n')) ? l + 1 : NULL)
		if (sscanf(l, "Name: %63s", name) == 1)
			break;
	for (l = buf; l != NULL; l = (l = strchr(l, '\n')) ? l + 1 : NULL) {
		if (sscanf(l, "Uid: %u %u %u %u", &v[0], &v[1], &v[2],
		    &v[3]) == 4)
			gid = 0;
		else if (sscanf(l, "Gid: %u %u %u %u", &v[0], &v[1], &v[2],
		    &v[3]) == 4)
			gid = 1;
		else
			continue;
		for (i = 0; i < 4; i++)
			if (id_slot(c, v[i]) != -1) {
				snprintf(who, sizeof(who), "process %s (%s) "
				    "runs as %s %u", pid, name, gid ? "gid" :
				    "uid", v[i]);
				return id_clash(c, v[i], who, err, errlen);
			}
	}
	return 0;
}

/* An account's uid or gid, or a group's gid, that is ours. */
static int
entry_clash(const struct kn_config *c, uint32_t id, uint32_t id2,
    const char *file, const char *kind, const char *name, char *err,
    size_t errlen)
{
	char	 who[KN_PATH_MAX + KN_NAME_MAX + 32];

	if (id_slot(c, id) == -1)
		id = id2;
	if (id_slot(c, id) == -1)
		return 0;
	snprintf(who, sizeof(who), "%s has the %s %s", file, kind, name);
	return id_clash(c, id, who, err, errlen);
}

/*
 * At start, with a uid per role: no process of the host (in proc) and
 * no account or group (in the passwd and group files) may have one of
 * our ids, or it could signal our children, or own what they create.
 * The chroot holds no file of theirs: it must be empty and root's.
 * -1 with err naming the first clash.  A --user account is the
 * operator's choice and not checked.
 */
int
config_check_ids(const struct kn_config *c, const char *proc,
    const char *passwd, const char *group, char *err, size_t errlen)
{
	char		 path[KN_PATH_MAX + 32];
	struct dirent	*de;
	struct passwd	*pw;
	struct group	*gr;
	DIR		*d;
	FILE		*f;
	int		 rv = 0;

	if (*c->user != '\0')
		return 0;
	if ((d = opendir(proc)) == NULL)
		return errset(err, errlen, "%s: %s", proc, strerror(errno));
	while (rv == 0 && (de = readdir(d)) != NULL) {
		if (strspn(de->d_name, "0123456789") != strlen(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s/status", proc, de->d_name);
		rv = proc_clash(c, path, de->d_name, err, errlen);
	}
	closedir(d);
	if (rv == 0 && (f = fopen(passwd, "re")) != NULL) {
		while (rv == 0 && (pw = fgetpwent(f)) != NULL)
			rv = entry_clash(c, pw->pw_uid, pw->pw_gid, passwd,
			    "account", pw->pw_name, err, errlen);
		fclose(f);
	}
	if (rv == 0 && (f = fopen(group, "re")) != NULL) {
		while (rv == 0 && (gr = fgetgrent(f)) != NULL)
			rv = entry_clash(c, gr->gr_gid, gr->gr_gid, group,
			    "group", gr->gr_name, err, errlen);
		fclose(f);
	}
	return rv;
}

void
config_print(const struct kn_config *c, int fd)
{
	char	 cidr[2 * (INET6_ADDRSTRLEN + 5)], mtu[32], user[KN_NAME_MAX + 64];

	cluster_format(c->cluster, cidr, sizeof(cidr));
	if (*c->user != '\0')
		snprintf(user, sizeof(user), "user %s (uid %u, gid %u, every "
		    "child)", c->user, c->uid, c->gid);
	else
		snprintf(user, sizeof(user), "uid-base %u (uids and gids %u-%u: "
		    "watcher, executor, arp-helper, metrics)", c->uid, c->uid,
		    c->uid + KN_ID_SLOTS - 1);
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
	    "socket %s\n"
	    "pid-file %s\n"
	    "metrics-address %s\n"
	    "verbose %d\n",
	    mode_name(c->mode), cidr,
	    *c->target ? c->target : "(found by route)", mtu,
	    c->route_protocol,
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
	    c->watch_timeout, c->socket,
	    *c->pid_file ? c->pid_file : "(none)",
	    *c->metrics_address ? c->metrics_address : "(off)", c->verbose);
}
