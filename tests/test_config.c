/*
 * Unit tests of the configuration: defaults, every command line flag
 * in both GNU forms, the refusals and their messages, the duration and
 * prefix parsers, the YAML file with the original agent's ConfigMap
 * keys, the file against the command line, the unprivileged account.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/config.h"
#include "../src/ipseckey.h"
#include "tap.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define MAXARGS		8

static struct kn_config	 conf;
static struct kn_cmdline cl;
static char		 err[1024];

/* config_load() with argv[0] prepended; args ends at the first NULL. */
static int
load_list(const char *const *args, size_t n)
{
	char	*argv[MAXARGS + 2];
	int	 argc = 0;
	size_t	 i;

	argv[argc++] = (char *)"kopeio-networkd";
	for (i = 0; i < n && i < MAXARGS && args[i] != NULL; i++)
		argv[argc++] = (char *)args[i];
	argv[argc] = NULL;
	err[0] = '\0';
	return config_load(&conf, &cl, argc, argv, err, sizeof(err));
}

#define LOAD(...)							\
	load_list((const char *const []){ __VA_ARGS__ },		\
	    NELEM(((const char *const []){ __VA_ARGS__ })))

static int
load_none(void)
{
	return load_list(NULL, 0);
}

/* One field of conf or cl, as text, so the flag table can compare it. */
static const char *
field(const char *name, char *buf, size_t len)
{
	if (strcmp(name, "mode") == 0)
		snprintf(buf, len, "%s", mode_name(conf.mode));
	else if (strcmp(name, "cluster") == 0)
		cluster_format(conf.cluster, buf, len);
	else if (strcmp(name, "target") == 0)
		snprintf(buf, len, "%s", conf.target);
	else if (strcmp(name, "maxnodes") == 0)
		snprintf(buf, len, "%u", conf.max_nodes);
	else if (strcmp(name, "mtu") == 0)
		snprintf(buf, len, "%u", conf.mtu);
	else if (strcmp(name, "proto") == 0)
		snprintf(buf, len, "%u", conf.route_protocol);
	else if (strcmp(name, "adopt") == 0)
		snprintf(buf, len, "%s:%u", mode_name(conf.mode),
		    conf.adopt_protocol);
	else if (strcmp(name, "watch") == 0)
		snprintf(buf, len, "%u", conf.watch_timeout);
	else if (strcmp(name, "sync") == 0)
		snprintf(buf, len, "%u", conf.sync_period_ms);
	else if (strcmp(name, "node") == 0)
		snprintf(buf, len, "%s", conf.node_name);
	else if (strcmp(name, "machine") == 0)
		snprintf(buf, len, "%s", conf.machine_id);
	else if (strcmp(name, "uuid") == 0)
		snprintf(buf, len, "%s", conf.system_uuid);
	else if (strcmp(name, "boot") == 0)
		snprintf(buf, len, "%s", conf.boot_id);
	else if (strcmp(name, "cni") == 0)
		snprintf(buf, len, "%s", conf.cni_config);
	else if (strcmp(name, "enc") == 0)
		snprintf(buf, len, "%u", conf.ipsec_encryption);
	else if (strcmp(name, "auth") == 0)
		snprintf(buf, len, "%u", conf.ipsec_authentication);
	else if (strcmp(name, "encap") == 0)
		snprintf(buf, len, "%u", conf.ipsec_encapsulation);
	else if (strcmp(name, "user") == 0)
		snprintf(buf, len, "%s", conf.user);
	else if (strcmp(name, "uidbase") == 0)
		snprintf(buf, len, "%u", conf.uid_base);
	else if (strcmp(name, "chroot") == 0)
		snprintf(buf, len, "%s", conf.chroot);
	else if (strcmp(name, "seccomp") == 0)
		snprintf(buf, len, "%u", conf.seccomp);
	else if (strcmp(name, "verbose") == 0)
		snprintf(buf, len, "%d", conf.verbose);
	else if (strcmp(name, "masq") == 0)
		snprintf(buf, len, "%u", conf.masquerade);
	else if (strcmp(name, "role") == 0)
		snprintf(buf, len, "%d:%s", cl.action, cl.role);
	else
		bail_out("no field %s", name);
	return buf;
}

static void
test_defaults(void)
{
	char	 buf[64];

	unsetenv("KUBERNETES_SERVICE_HOST");
	is_int(load_none(), 0, "defaults: no arguments load");
	is_int(cl.action, ACTION_RUN, "defaults: action is run");
	is_int(conf.mode, MODE_VXLAN, "defaults: mode vxlan");
	is_str(mode_name(conf.mode), "vxlan", "defaults: mode named vxlan");
	cluster_format(conf.cluster, buf, sizeof(buf));
	is_str(buf, "100.96.0.0/12", "defaults: pod CIDR 100.96.0.0/12");
	ok(conf.masquerade == 1 && conf.nomasq_count[0] == 0 &&
	    conf.nomasq_count[1] == 0,
	    "defaults: masquerade on, no --no-masquerade prefixes");
	is_int(conf.sync_period_ms, 30000, "defaults: sync period 30000 ms");
	is_int(conf.watch_timeout, 300, "defaults: watch timeout 300 s");
	is_int(conf.compression, 1, "defaults: compression on");
	is_int(conf.route_protocol, 107, "defaults: route protocol 107");
	is_int(conf.mtu, 0, "defaults: MTU from the underlay");
	is_str(conf.socket, "/run/kopeio-networkd.sock",
	    "defaults: control socket");
	ok(conf.pid_file[0] == '\0' && conf.metrics_address[0] == '\0',
	    "defaults: no pid file, no metrics");
	is_str(conf.system_uuid, "/sys/class/dmi/id/product_uuid",
	    "defaults: system UUID path");
	ok(conf.machine_id[0] == '\0' && conf.boot_id[0] == '\0' &&
	    conf.node_name[0] == '\0' && conf.target[0] == '\0' &&
	    conf.cni_config[0] == '\0',
	    "defaults: no machine ID, boot ID, node name, target, CNI file");
	ok(conf.user[0] == '\0' && conf.uid_base == 0,
	    "defaults: no --user, no --uid-base: a uid per role from "
	    KN_STR(KN_DEFAULT_UID_BASE));
	is_str(conf.chroot, "/var/empty", "defaults: chroot /var/empty");
	is_int(conf.seccomp, SECCOMP_MODE_KILL, "defaults: seccomp kill");
	ok(conf.ipsec_encryption == IPSEC_ENC_AES &&
	    conf.ipsec_authentication == IPSEC_AUTH_SHA1 &&
	    conf.ipsec_encapsulation == IPSEC_ENCAP_UDP,
	    "defaults: ipsec aes, sha1, udp");
	is_int(conf.verbose, 0, "defaults: verbose 0");
	is_int(conf.log_stderr, 0, "defaults: syslog outside Kubernetes");
	ok(strcmp(conf.config_file, KN_DEFAULT_CONFIG) == 0 &&
	    !conf.config_file_given,
	    "defaults: config file " KN_DEFAULT_CONFIG ", not given");

	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	load_none();
	is_int(conf.log_stderr, 1, "defaults: standard error in a pod");
	unsetenv("KUBERNETES_SERVICE_HOST");
	LOAD("-d");
	is_int(conf.log_stderr, 1, "-d: standard error");
	LOAD("--debug");
	is_int(conf.log_stderr, 1, "--debug: standard error");
}

static void
test_flags(void)
{
	static const struct {
		const char	*flag, *value, *field, *want;
	} t[] = {
		{ "--provider", "layer2", "mode", "layer2" },
		{ "--provider", "vxlan", "mode", "vxlan" },
		{ "--provider", "vxlan-legacy", "mode", "vxlan-legacy" },
		{ "--provider", "ipsec", "mode", "ipsec" },
		{ "--provider", "gre", "mode", "gre" },
		{ "--target", "eth1", "target", "eth1" },
		{ "--max-nodes", "1", "maxnodes", "1" },
		{ "--max-nodes", "100000", "maxnodes", "100000" },
		{ "--mtu", "1280", "mtu", "1280" },
		{ "--mtu", "9001", "mtu", "9001" },
		{ "--route-protocol", "5", "proto", "5" },
		{ "--route-protocol", "254", "proto", "254" },
		{ "--watch-timeout", "1", "watch", "1" },
		{ "--watch-timeout", "3600", "watch", "3600" },
		{ "--target", "enp0s31f6.100", "target", "enp0s31f6.100" },
		{ "--pod-cidr", "10.244.0.0/16", "cluster", "10.244.0.0/16" },
		{ "--pod-cidr", "fd00:10::/48", "cluster", "fd00:10::/48" },
		{ "--pod-cidr", "10.244.0.0/16,fd00:10::/48", "cluster",
		    "10.244.0.0/16,fd00:10::/48" },
		{ "--pod-cidr", "fd00:10::/48,10.244.0.0/16", "cluster",
		    "10.244.0.0/16,fd00:10::/48" },
		{ "--node-name", "ip-10-0-0-1.ec2.internal", "node",
		    "ip-10-0-0-1.ec2.internal" },
		{ "--machine-id", "/etc/machine-id", "machine",
		    "/etc/machine-id" },
		{ "--system-uuid", "/host/sys/product_uuid", "uuid",
		    "/host/sys/product_uuid" },
		{ "--boot-id", "/proc/sys/kernel/random/boot_id", "boot",
		    "/proc/sys/kernel/random/boot_id" },
		{ "--cni-config", "/etc/cni/net.d/10-kopeio.conf", "cni",
		    "/etc/cni/net.d/10-kopeio.conf" },
		{ "--sync-period", "1m30s", "sync", "90000" },
		{ "--sync-period", "500ms", "sync", "500" },
		{ "--ipsec-encryption", "none", "enc", "1" },
		{ "--ipsec-encryption", "aes", "enc", "0" },
		{ "--ipsec-authentication", "none", "auth", "1" },
		{ "--ipsec-authentication", "sha1", "auth", "0" },
		{ "--ipsec-encapsulation", "esp", "encap", "1" },
		{ "--ipsec-encapsulation", "udp", "encap", "0" },
		{ "--v", "3", "verbose", "2" },
		{ "--chroot", "/run/kn-empty", "chroot", "/run/kn-empty" },
		{ "--seccomp", "log", "seccomp", "1" },
		{ "--seccomp", "kill", "seccomp", "0" },
		{ "--user", "daemon", "user", "daemon" },
		{ "--uid-base", "3000000", "uidbase", "3000000" },
		{ "--uid-base", "65536", "uidbase", "65536" },
		{ "--uid-base", "61180", "uidbase", "61180" },
		{ "--uid-base", "2147483644", "uidbase", "2147483644" },
		{ "--role", "executor", "role", "5:executor" },
		{ "--role", "watcher", "role", "5:watcher" },
	};
	char	 joined[512], buf[512];
	size_t	 i;
	int	 rv;

	for (i = 0; i < NELEM(t); i++) {
		rv = LOAD(t[i].flag, t[i].value);
		if (rv != 0)
			diag("%s %s: %s", t[i].flag, t[i].value, err);
		is_str(rv == 0 ? field(t[i].field, buf, sizeof(buf)) : err,
		    t[i].want, "flag: %s %s", t[i].flag, t[i].value);
		snprintf(joined, sizeof(joined), "%s=%s", t[i].flag,
		    t[i].value);
		rv = LOAD(joined);
		if (rv != 0)
			diag("%s: %s", joined, err);
		is_str(rv == 0 ? field(t[i].field, buf, sizeof(buf)) : err,
		    t[i].want, "flag: %s", joined);
	}
	rv = LOAD("--provider=layer2", "--adopt-protocol", "3");
	is_str(rv == 0 ? field("adopt", buf, sizeof(buf)) : err, "layer2:3",
	    "flag: --adopt-protocol 3 (layer2)");
	rv = LOAD("--provider=layer2", "--adopt-protocol=255",
	    "--route-protocol=5");
	is_str(rv == 0 ? field("adopt", buf, sizeof(buf)) : err, "layer2:255",
	    "flag: --adopt-protocol=255 (layer2)");
	rv = LOAD("--provider=layer2");
	is_str(rv == 0 ? field("adopt", buf, sizeof(buf)) : err, "layer2:0",
	    "flag: no --adopt-protocol: off");
	rv = LOAD("-u", "daemon");
	ok(rv == 0 && strcmp(conf.user, "daemon") == 0, "flag: -u daemon");
	rv = LOAD("-udaemon");
	ok(rv == 0 && strcmp(conf.user, "daemon") == 0, "flag: -udaemon");
	rv = LOAD("--provider", "gre", "--target=eth2", "--sync-period",
	    "2s", "-d", "--node-name=n1");
	ok(rv == 0 && conf.mode == MODE_GRE && strcmp(conf.target,
	    "eth2") == 0 && conf.sync_period_ms == 2000 && conf.log_stderr &&
	    strcmp(conf.node_name, "n1") == 0,
	    "flag: several flags together all apply");
	rv = LOAD("--provider=gre", "--pod-cidr=100.96.0.0/12,fd00:100::/48");
	ok(rv == 0 && conf.mode == MODE_GRE &&
	    cluster_of(conf.cluster, AF_INET6) != NULL &&
	    cluster_of(conf.cluster, AF_INET6)->len == 48,
	    "flag: gre takes a dual-stack --pod-cidr");
	rv = LOAD("--provider=gre", "--pod-cidr=fd00:100::/48");
	ok(rv == 0 && cluster_of(conf.cluster, AF_INET) == NULL,
	    "flag: and an IPv6 one alone");
	rv = LOAD("--provider=ipsec", "--provider=layer2");
	ok(rv == 0 && conf.mode == MODE_LAYER2, "flag: the last one wins");
}

static void
test_verbose(void)
{
	LOAD("--v=4");
	is_int(conf.verbose, 3, "verbose: --v=4 gives 3");
	LOAD("--v=1");
	is_int(conf.verbose, 0, "verbose: --v=1 gives 0");
	LOAD("--v=0");
	is_int(conf.verbose, 0, "verbose: --v=0 gives 0");
	LOAD("--v", "2");
	is_int(conf.verbose, 1, "verbose: --v 2 gives 1");
	LOAD("--v=10");
	is_int(conf.verbose, 9, "verbose: --v=10 gives 9");
	LOAD("-v", "-v");
	is_int(conf.verbose, 2, "verbose: -v -v gives 2");
	LOAD("-vv");
	is_int(conf.verbose, 2, "verbose: -vv gives 2");
	LOAD("--verbose");
	is_int(conf.verbose, 1, "verbose: --verbose gives 1");
	ok(LOAD("--v=11") == -1 && strstr(err, "0 to 10") != NULL,
	    "verbose: --v=11 refused");
	ok(LOAD("--v=-1") == -1, "verbose: --v=-1 refused");
	ok(LOAD("--v=two") == -1 && strstr(err, "not a number") != NULL,
	    "verbose: --v=two refused");
	ok(LOAD("--v=") == -1, "verbose: --v= refused");
}

static void
test_actions(void)
{
	ok(LOAD("-n") == 0 && cl.action == ACTION_CHECK, "action: -n checks");
	ok(LOAD("--check") == 0 && cl.action == ACTION_CHECK,
	    "action: --check checks");
	ok(LOAD("-h") == 0 && cl.action == ACTION_HELP, "action: -h helps");
	ok(LOAD("--help") == 0 && cl.action == ACTION_HELP,
	    "action: --help helps");
	ok(LOAD("-V") == 0 && cl.action == ACTION_VERSION,
	    "action: -V shows the version");
	ok(LOAD("--version") == 0 && cl.action == ACTION_VERSION,
	    "action: --version shows the version");
	ok(LOAD("--self-test") == 0 && cl.action == ACTION_SELFTEST,
	    "action: --self-test");
	ok(LOAD("--role", "executor") == 0 && cl.action == ACTION_ROLE &&
	    strcmp(cl.role, "executor") == 0, "action: --role executor");
	ok(LOAD("--role=arp-helper") == 0 && cl.action == ACTION_ROLE &&
	    strcmp(cl.role, "arp-helper") == 0, "action: --role=arp-helper");
	/* A child's configuration comes from the parent, not a file. */
	ok(LOAD("--role", "watcher", "-f", "/nonexistent/kn.yaml") == 0 &&
	    cl.action == ACTION_ROLE, "action: --role does not read -f");
	ok(LOAD("--role", "executor-but-longer-than-the-buffer") == -1,
	    "action: an over-long --role refused");
}

static void
test_errors(void)
{
	static const struct {
		const char	*args[3];
		const char	*want;
	} t[] = {
		{ { "--bogus" }, "unknown option \"--bogus\"" },
		{ { "--bogus=1" }, "unknown option" },
		{ { "-x" }, "unknown option \"-x\"" },
		{ { "--check=yes" }, "option \"--check\" takes no value" },
		{ { "extra" }, "unexpected argument \"extra\"" },
		{ { "--provider" }, "option \"--provider\" needs a value" },
		{ { "-u" }, "option \"-u\" needs a value" },
		{ { "-u", "" }, "--user: empty name" },
		{ { "--uid-base" }, "option \"--uid-base\" needs a value" },
		{ { "--uid-base=0" }, "--uid-base: \"0\" is not a number from "
		    "1 to 2147483644" },
		{ { "--uid-base=2147483645" }, "not a number from 1 to "
		    "2147483644" },
		{ { "--uid-base=-5" }, "not a number" },
		{ { "--uid-base=1e6" }, "not a number" },
		{ { "--uid-base=61181" }, "--uid-base: 61181 to 61184 overlaps "
		    "61184 to 65535 (systemd's dynamic users, nobody, 16-bit -1)"
		    },
		{ { "--uid-base=65534" }, "overlaps 61184 to 65535" },
		{ { "--uid-base=65535" }, "overlaps 61184 to 65535" },
		{ { "-udaemon", "--uid-base=3000000" }, "--user and --uid-base: "
		    "give one" },
		{ { "--uid-base=3000000", "--user=daemon" }, "give one" },
		{ { "--adopt-protocol=3" }, "--adopt-protocol: for --provider "
		    "layer2 only" },
		{ { "--provider=ipsec", "--adopt-protocol=3" }, "ipsec makes no "
		    "routes" },
		{ { "--provider=layer2", "--adopt-protocol=256" },
		    "--adopt-protocol: \"256\" is not a number from 0 to 255" },
		{ { "--provider=layer2", "--adopt-protocol=boot" },
		    "from 0 to 255" },
		{ { "--provider=layer2", "--adopt-protocol=0" }, "0 is the "
		    "kernel's own protocol" },
		{ { "--provider=layer2", "--adopt-protocol=2" }, "2 is the "
		    "kernel's own protocol" },
		{ { "--provider=layer2", "--adopt-protocol=4" }, "4 is the "
		    "administrator's own protocol" },
		{ { "--provider=layer2", "--adopt-protocol=107" }, "is "
		    "--route-protocol: the routes of that protocol are ours" },
		{ { "-f" }, "needs a value" },
		{ { "--provider", "vxlan2" },
		    "layer2, vxlan, vxlan-legacy, ipsec, gre" },
		{ { "--provider=" }, "--provider: unknown value" },
		{ { "--seccomp=strict" }, "one of: kill, log" },
		{ { "--ipsec-encryption=des" }, "one of: aes, none" },
		{ { "--ipsec-authentication=md5" }, "one of: sha1, none" },
		{ { "--ipsec-encapsulation=tcp" }, "one of: udp, esp" },
		{ { "--pod-cidr=10.0.0.1/8" }, "host bits" },
		{ { "--pod-cidr=100.96.0.0/10" }, "host bits" },
		{ { "--pod-cidr=fd00::1/64" }, "host bits" },
		{ { "--pod-cidr=10.0.0.0/33" }, "bad prefix length" },
		{ { "--pod-cidr=fd00::/129" }, "bad prefix length" },
		{ { "--pod-cidr=10.0.0.0/" }, "bad prefix length" },
		{ { "--pod-cidr=10.0.0.0/+8" }, "bad prefix length" },
		{ { "--pod-cidr=10.0.0.0/8x" }, "bad prefix length" },
		{ { "--pod-cidr=10.0.0.0/-0" }, "bad prefix length" },
		{ { "--pod-cidr=cluster/8" }, "is not an address" },
		{ { "--pod-cidr=10.0.0/8" }, "is not an address" },
		{ { "--pod-cidr=10.0.0.0" }, "no /prefix length" },
		{ { "--pod-cidr=" }, "--pod-cidr" },
		{ { "--max-nodes=0" }, "--max-nodes: \"0\" is not a number from 1 "
		    "to 100000" },
		{ { "--max-nodes=100001" }, "from 1 to 100000" },
		{ { "--mtu=1279" }, "--mtu: \"1279\" is not a number from 1280 "
		    "to 65535" },
		{ { "--mtu=1500x" }, "from 1280 to 65535" },
		{ { "--route-protocol=4" }, "from 5 to 254" },
		{ { "--route-protocol=255" }, "from 5 to 254" },
		{ { "--watch-timeout=0" }, "--watch-timeout: \"0\" is not a number "
		    "from 1 to 3600" },
		{ { "--watch-timeout=-5" }, "from 1 to 3600" },
		{ { "--watch-timeout=3601" }, "from 1 to 3600" },
		{ { "--watch-timeout=five" }, "from 1 to 3600" },
		{ { "--watch-timeout=" }, "from 1 to 3600" },
		{ { "--pod-cidr=10.0.0.0/8,10.1.0.0/16" }, "two prefixes of one "
		    "family" },
		{ { "--pod-cidr=10.0.0.0/8," }, "is not a CIDR" },
		{ { "--pod-cidr=10.0.0.0/8,fd00::/8,fd01::/16" }, "at most two "
		    "prefixes" },
		{ { "--machine-id=etc/machine-id" }, "not an absolute path" },
		{ { "--system-uuid", "product_uuid" }, "not an absolute path" },
		{ { "--boot-id=./boot_id" }, "not an absolute path" },
		{ { "--cni-config=net.d/10.conf" }, "not an absolute path" },
		{ { "--chroot=var/empty" }, "not an absolute path" },
		{ { "--chroot=" }, "--chroot" },
		{ { "-f", "config.yaml" }, "not an absolute path" },
		{ { "--target=eth/0" }, "not an interface name" },
		{ { "--target=eth 0" }, "not an interface name" },
		{ { "--target=eth0:1" }, "not an interface name" },
		{ { "--target=.." }, "not an interface name" },
		{ { "--target=eth\t0" }, "not an interface name" },
		{ { "--target=abcdefghijklmnop" }, "longer than 15" },
		{ { "--node-name=Node1" }, "not a Kubernetes node name" },
		{ { "--node-name=node_1" }, "not a Kubernetes node name" },
		{ { "--node-name=node 1" }, "not a Kubernetes node name" },
		{ { "--node-name=node/1" }, "not a Kubernetes node name" },
		{ { "--sync-period=0s" }, "not a duration" },
		{ { "--sync-period=" }, "not a duration" },
		{ { "--sync-period=5x" }, "not a duration" },
		{ { "--sync-period=25h" }, "not a duration" },
		{ { "--sync-period=1m30" }, "not a duration" },
		{ { "--sync-period=30" }, "not a duration" },
		{ { "--sync-period=-1s" }, "not a duration" },
		{ { "--user=" KN_DEFAULT_USER, "--seccomp" }, "needs a value" },
		{ { "--metrics-address=9922" }, "is not address:port" },
		{ { "--metrics-address=127.0.0.1:" }, "is not address:port" },
		{ { "--metrics-address=127.0.0.1:0" }, "from 1 to 65535" },
		{ { "--metrics-address=127.0.0.1:65536" }, "from 1 to 65535" },
		{ { "--metrics-address=127.0.0.1:99x" }, "from 1 to 65535" },
		{ { "--metrics-address=localhost:9922" }, "is not an IPv4" },
		{ { "--metrics-address=::1:9922" }, "goes in brackets" },
		{ { "--metrics-address=[::1:9922" }, "goes in brackets" },
		{ { "--metrics-address=[127.0.0.1]:9922" }, "is not an IPv6" },
		{ { "-s", "run/kn.sock" }, "not an absolute path" },
		{ { "--socket=/run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    ".sock" }, "longer than 107" },
		{ { "--pid-file=kn.pid" }, "not an absolute path" },
	};
	char	 longname[300];
	size_t	 i, n;
	int	 rv;

	for (i = 0; i < NELEM(t); i++) {
		for (n = 0; n < NELEM(t[i].args) && t[i].args[n] != NULL; n++)
			;
		rv = load_list(t[i].args, n);
		ok(rv == -1 && strstr(err, t[i].want) != NULL,
		    "error: %s%s%s: \"%s\"", t[i].args[0], n > 1 ? " " : "",
		    n > 1 ? t[i].args[1] : "", rv == -1 ? err : "accepted");
		if (rv != -1 || strstr(err, t[i].want) == NULL)
			diag("expected a message containing \"%s\"",
			    t[i].want);
	}
	/*
	 * getopt leaves optind on the cluster while letters remain, so
	 * argv[optind - 1] is the argument before it.
	 */
	rv = LOAD("-xd");
	ok(rv == -1, "error: -xd refused");
	ok(rv == -1 && strstr(err, "-x") != NULL,
	    "error: -xd names the bad option: \"%s\"", err);
	/*
	 * A node name is an RFC 1123 subdomain: labels of [a-z0-9-] that
	 * start and end alphanumeric.  ".." would also change the meaning
	 * of an API path built from it.
	 */
	ok(LOAD("--node-name=..") == -1, "error: node name \"..\" refused");
	ok(LOAD("--node-name=-node") == -1,
	    "error: node name \"-node\" refused");
	ok(LOAD("--node-name=node.") == -1,
	    "error: node name \"node.\" refused");
	memset(longname, 'a', sizeof(longname));
	memcpy(longname, "--node-name=", 12);
	longname[12 + KN_NAME_MAX] = '\0';
	rv = LOAD(longname);
	ok(rv == -1 && strstr(err, "longer than 253") != NULL,
	    "error: a node name of 254 bytes: \"%s\"", err);
	longname[12 + KN_NAME_MAX - 1] = '\0';
	ok(LOAD(longname) == 0 && strlen(conf.node_name) == 253,
	    "a node name of 253 bytes is accepted");
	longname[0] = '/';
	memset(longname + 1, 'p', sizeof(longname) - 1);
	longname[KN_PATH_MAX] = '\0';
	rv = LOAD("--machine-id", longname);
	ok(rv == -1 && strstr(err, "longer than 255") != NULL,
	    "error: a path of 256 bytes: \"%s\"", err);
}

static void
test_duration(void)
{
	static const struct {
		const char	*s;
		uint32_t	 ms;
	} good[] = {
		{ "30s", 30000 }, { "1m30s", 90000 }, { "500ms", 500 },
		{ "1h", 3600000 }, { "24h", 86400000 }, { "1ms", 1 },
		{ "1h1m1s1ms", 3661001 }, { "90m", 5400000 },
		{ "0h5s", 5000 }, { "86400000ms", 86400000 },
		{ "1s500ms", 1500 },
	};
	static const char *const bad[] = {
		"", "0s", "0ms", "5x", "25h", "1m30", "24h1ms", "30", "s",
		"1.5s", "-1s", "+1s", " 1s", "1s ", "1 s", "1S", "1sec",
		"1mss", "1us", "1ns", "1d", "86400001ms", "99999999999999s",
		"1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h",
	};
	uint32_t	 ms;
	size_t		 i;

	for (i = 0; i < NELEM(good); i++) {
		ms = 0;
		ok(duration_parse(good[i].s, &ms) == 0 && ms == good[i].ms,
		    "duration: \"%s\" is %u ms (got %u)", good[i].s,
		    good[i].ms, ms);
	}
	for (i = 0; i < NELEM(bad); i++) {
		ms = 12345;
		ok(duration_parse(bad[i], &ms) == -1 && ms == 12345,
		    "duration: \"%s\" refused, result untouched", bad[i]);
	}
}

static void
test_prefix(void)
{
	static const struct {
		const char	*in, *out;
		int		 family, len;
	} t[] = {
		{ "10.0.0.0/8", "10.0.0.0/8", 4, 8 },
		{ "100.96.0.0/12", "100.96.0.0/12", 4, 12 },
		{ "0.0.0.0/0", "0.0.0.0/0", 4, 0 },
		{ "192.168.1.1/32", "192.168.1.1/32", 4, 32 },
		{ "fd00::/8", "fd00::/8", 6, 8 },
		{ "2001:db8::/32", "2001:db8::/32", 6, 32 },
		{ "2001:0DB8:0000::/48", "2001:db8::/48", 6, 48 },
		{ "::/0", "::/0", 6, 0 },
		{ "2001:db8::1/128", "2001:db8::1/128", 6, 128 },
		{ "fd00:10:20::/64", "fd00:10:20::/64", 6, 64 },
	};
	struct kn_prefix	 p, q;
	char			 buf[64], e[256];
	size_t			 i;

	for (i = 0; i < NELEM(t); i++) {
		e[0] = '\0';
		buf[0] = '\0';
		if (prefix_parse(t[i].in, &p, e, sizeof(e)) == 0)
			prefix_format(&p, buf, sizeof(buf));
		ok(strcmp(buf, t[i].out) == 0 && p.len == t[i].len &&
		    p.family == (t[i].family == 4 ? AF_INET : AF_INET6),
		    "prefix: %s formats as %s (got \"%s\"%s%s)", t[i].in,
		    t[i].out, buf, *e ? ", " : "", e);
		ok(prefix_parse(buf, &q, e, sizeof(e)) == 0 &&
		    memcmp(&p, &q, sizeof(p)) == 0,
		    "prefix: %s parses back to the same prefix", buf);
	}
	ok(prefix_parse("10.0.0.1/8", &p, e, sizeof(e)) == -1 &&
	    strstr(e, "host bits set past /8") != NULL,
	    "prefix: host bits named: \"%s\"", e);
	ok(prefix_parse("10.0.0.0/8/8", &p, e, sizeof(e)) == -1,
	    "prefix: two slashes refused");
	ok(prefix_parse("1111:2222:3333:4444:5555:6666:7777:8888:9999/64", &p,
	    e, sizeof(e)) == -1, "prefix: an over-long address refused");
}

static int
yaml(const char *text)
{
	char	 *argv[] = { (char *)"kopeio-networkd", NULL };

	/* Start from the defaults, as config_load() does. */
	if (config_load(&conf, &cl, 1, argv, err, sizeof(err)) == -1)
		bail_out("defaults: %s", err);
	err[0] = '\0';
	return config_parse_yaml(&conf, text, strlen(text), "test.yaml", err,
	    sizeof(err));
}

static void
test_yaml(void)
{
	static const char full[] =
	    "# The original agent's ConfigMap, every key.\n"
	    "provider: ipsec\n"
	    "targetLinkName: eth1\n"
	    "resyncPeriod: 30000000000\n"
	    "nodeName: node-1.example.com\n"
	    "machineIDPath: /etc/machine-id\n"
	    "systemUUIDPath: /host/product_uuid\n"
	    "bootIDPath: /proc/sys/kernel/random/boot_id\n"
	    "ipsec:\n"
	    "  authentication: none\n"
	    "  encryption: none\n"
	    "  encapsulation: esp\n"
	    "logLevel: 4\n"
	    "podCIDR: 10.200.0.0/16\n"
	    "cniConfigPath: /etc/cni/net.d/10-kopeio.conf\n";
	char	 buf[64];
	int	 rv;

	rv = yaml(full);
	is_int(rv, 0, "yaml: every ConfigMap key accepted%s%s", *err ? ": " :
	    "", err);
	is_int(conf.mode, MODE_IPSEC, "yaml: provider");
	is_str(conf.target, "eth1", "yaml: targetLinkName");
	is_int(conf.sync_period_ms, 30000,
	    "yaml: resyncPeriod as integer nanoseconds");
	is_str(conf.node_name, "node-1.example.com", "yaml: nodeName");
	is_str(conf.machine_id, "/etc/machine-id", "yaml: machineIDPath");
	is_str(conf.system_uuid, "/host/product_uuid", "yaml: systemUUIDPath");
	is_str(conf.boot_id, "/proc/sys/kernel/random/boot_id",
	    "yaml: bootIDPath");
	is_int(conf.ipsec_authentication, IPSEC_AUTH_NONE,
	    "yaml: ipsec.authentication");
	is_int(conf.ipsec_encryption, IPSEC_ENC_NONE, "yaml: ipsec.encryption");
	is_int(conf.ipsec_encapsulation, IPSEC_ENCAP_ESP,
	    "yaml: ipsec.encapsulation");
	is_int(conf.verbose, 3, "yaml: logLevel 4 gives verbose 3");
	cluster_format(conf.cluster, buf, sizeof(buf));
	is_str(buf, "10.200.0.0/16", "yaml: podCIDR");
	is_str(conf.cni_config, "/etc/cni/net.d/10-kopeio.conf",
	    "yaml: cniConfigPath");

	ok(yaml("resyncPeriod: 45s\n") == 0 && conf.sync_period_ms == 45000,
	    "yaml: resyncPeriod \"45s\" as a duration string");
	ok(yaml("resyncPeriod: \"1m30s\"\n") == 0 &&
	    conf.sync_period_ms == 90000,
	    "yaml: resyncPeriod quoted duration string");
	ok(yaml("resyncPeriod: 86400000000000\n") == 0 &&
	    conf.sync_period_ms == 86400000,
	    "yaml: resyncPeriod of 24h in nanoseconds");
	ok(yaml("resyncPeriod: 999999\n") == -1 &&
	    strstr(err, "test.yaml:1:") != NULL,
	    "yaml: resyncPeriod under 1ms refused: \"%s\"", err);
	ok(yaml("resyncPeriod: 86400000000001\n") == -1,
	    "yaml: resyncPeriod over 24h refused");
	ok(yaml("resyncPeriod: 0\n") == -1, "yaml: resyncPeriod 0 refused");
	ok(yaml("ipsec: {encryption: none, encapsulation: esp}\n") == 0 &&
	    conf.ipsec_encryption == IPSEC_ENC_NONE &&
	    conf.ipsec_encapsulation == IPSEC_ENCAP_ESP &&
	    conf.ipsec_authentication == IPSEC_AUTH_SHA1,
	    "yaml: ipsec as a flow mapping, the unset key keeps its default");
	ok(yaml("{provider: gre, logLevel: 1}\n") == 0 &&
	    conf.mode == MODE_GRE && conf.verbose == 0,
	    "yaml: a flow mapping at the top");
	ok(yaml("provider: \"layer2\"\nnodeName: 'n-2'\n") == 0 &&
	    conf.mode == MODE_LAYER2 && strcmp(conf.node_name, "n-2") == 0,
	    "yaml: quoted strings");
	ok(yaml("---\nprovider: gre\n...\n") == 0 && conf.mode == MODE_GRE,
	    "yaml: explicit document markers");
	ok(yaml("machineIDPath: \"\"\n") == 0 && conf.machine_id[0] == '\0',
	    "yaml: an empty path clears the setting");
	ok(yaml("podCIDR: fd00:10::/48\n") == 0 &&
	    conf.cluster[1].family == AF_INET6 && conf.cluster[1].len == 48 &&
	    conf.cluster[0].family == 0,
	    "yaml: an IPv6 podCIDR");

	/* A YAML escape can put a NUL inside a scalar. */
	ok(yaml("provider: \"gre\\0junk\"\n") == -1,
	    "yaml: a value with an escaped NUL refused");
	ok(yaml("nodeName: \"node\\0/../x\"\n") == -1,
	    "yaml: a nodeName with an escaped NUL refused");
	ok(yaml("\"provider\\0x\": gre\n") == -1,
	    "yaml: a key with an escaped NUL refused");

	ok(yaml("") == 0 && conf.mode == MODE_VXLAN,
	    "yaml: an empty document is an empty configuration");
	ok(yaml("---\n") == 0, "yaml: a document with only a marker is OK");
	ok(yaml("# nothing but a comment\n\n") == 0,
	    "yaml: a document with only a comment is OK");
}

/* Keys of our own: the same checks as their flags, named by key. */
static void
test_yaml_own(void)
{
	static const char *const command_line_only[] = {
		"kubeconfig: /k", "apiServer: https://k:6443", "tokenFile: /t",
		"caFile: /ca", "controlSocket: /run/x.sock", "pidFile: /x.pid",
		"user: daemon", "chroot: /var/lib/empty", "seccomp: log",
		"ipsec: {keyFile: /k}",
	};
	size_t	 i;

	ok(yaml("nodeAddressType: ExternalIP\nmaxNodes: 100\n"
	    "watchTimeout: 60\nmtu: 1400\nrouteProtocol: 99\n"
	    "metricsAddress: \"[::1]:9922\"\nprovider: layer2\n"
	    "adoptProtocol: 3\n") == 0 &&
	    conf.address_type == 1 && conf.max_nodes == 100 &&
	    conf.watch_timeout == 60 && conf.mtu == 1400 &&
	    conf.route_protocol == 99 && conf.adopt_protocol == 3 &&
	    strcmp(conf.metrics_address, "[::1]:9922") == 0,
	    "yaml: every key of our own accepted%s%s", *err ? ": " : "", err);
	/* Trust and confinement stay on the command line. */
	for (i = 0; i < NELEM(command_line_only); i++)
		ok(yaml(command_line_only[i]) == -1 &&
		    strstr(err, "unknown key") != NULL,
		    "yaml: \"%s\" has no key: \"%s\"", command_line_only[i],
		    err);
	ok(yaml("provider: gre\nmaxNodes: \"100\"\n") == -1 &&
	    strstr(err, "test.yaml:2: maxNodes: expected a number") != NULL,
	    "yaml: a quoted number is a string: \"%s\"", err);
	ok(yaml("mtu: 9\n") == -1 &&
	    strstr(err, "test.yaml:1: mtu: \"9\" is not a number from 1280")
	    != NULL, "yaml: a key's error names the key: \"%s\"", err);
	ok(yaml("\n\nmetricsAddress: 127.0.0.1\n") == -1 &&
	    strstr(err, "test.yaml:3: metricsAddress:") != NULL,
	    "yaml: metricsAddress checked: \"%s\"", err);
	ok(yaml("metricsAddress: [a]\n") == -1 &&
	    strstr(err, "expected a single value") != NULL,
	    "yaml: a list for metricsAddress: \"%s\"", err);
	ok(yaml("adoptProtocol: 1\n") == -1 &&
	    strstr(err, "test.yaml:1: adoptProtocol: 1 is the kernel's")
	    != NULL, "yaml: adoptProtocol checked: \"%s\"", err);
	ok(yaml("nodeAddressType: Internal\n") == -1 &&
	    strstr(err, "test.yaml:1: nodeAddressType:") != NULL,
	    "yaml: nodeAddressType checked: \"%s\"", err);
}

/* The --no-masquerade prefixes, IPv4 first, comma-separated. */
static const char *
nomasq(char *buf, size_t len)
{
	char		 p[64];
	unsigned	 f, i;

	*buf = '\0';
	for (f = 0; f < 2; f++)
		for (i = 0; i < conf.nomasq_count[f]; i++) {
			prefix_format(&conf.nomasq[f][i], p, sizeof(p));
			snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
			    *buf ? "," : "", p);
		}
	return buf;
}

static void
test_masquerade(void)
{
	static const struct {
		const char	*args[3], *want;
	} bad[] = {
		{ { "--masquerade=yes" }, "--masquerade: \"yes\" is not true "
		    "or false" },
		{ { "--masquerade=" }, "is not true or false" },
		{ { "--masquerade", "false" }, "unexpected argument \"false\"" },
		{ { "--no-masquerade" }, "needs a value" },
		{ { "--no-masquerade=" }, "--no-masquerade: \"\" is not a CIDR "
		    "(no /prefix length)" },
		{ { "--no-masquerade=10.0.0.1/8" }, "--no-masquerade: "
		    "\"10.0.0.1/8\": host bits set past /8" },
		{ { "--no-masquerade=fd00::1/64" }, "host bits set" },
		{ { "--no-masquerade=10.0.0.0/33" }, "bad prefix length" },
		{ { "--no-masquerade=10.0.0.0" }, "no /prefix length" },
		{ { "--no-masquerade=example.com/8" }, "is not an address" },
		{ { "--no-masquerade=10.0.0.0/8," }, "\"\" is not a CIDR" },
		{ { "--no-masquerade=,10.0.0.0/8" }, "\"\" is not a CIDR" },
		{ { "--no-masquerade=10.0.0.0/8,,11.0.0.0/8" }, "not a CIDR" },
		{ { "--no-masquerade=0.0.0.0/0" }, "--no-masquerade: "
		    "\"0.0.0.0/0\": a /0 prefix turns masquerade off: say "
		    "--masquerade=false" },
		{ { "--no-masquerade=::/0" }, "a /0 prefix" },
		{ { "--no-masquerade=10.0.0.0/8 " }, "bad prefix length" },
	};
	char	 buf[4096], arg[64];
	size_t	 i;
	int	 rv;

	ok(LOAD("--masquerade") == 0 && conf.masquerade == 1,
	    "masquerade: --masquerade alone is true");
	ok(LOAD("--masquerade=false") == 0 && conf.masquerade == 0,
	    "masquerade: --masquerade=false");
	ok(LOAD("--masquerade=false", "--masquerade=true") == 0 &&
	    conf.masquerade == 1, "masquerade: --masquerade=true after false");
	ok(LOAD("--masquerade=false", "--masquerade") == 0 &&
	    conf.masquerade == 1, "masquerade: the last one wins");
	rv = LOAD("--no-masquerade", "10.0.0.0/8,fd00:1::/48",
	    "--no-masquerade=192.168.0.0/16");
	is_str(rv == 0 ? nomasq(buf, sizeof(buf)) : err,
	    "10.0.0.0/8,192.168.0.0/16,fd00:1::/48",
	    "masquerade: --no-masquerade repeated and comma-separated");
	rv = LOAD("--no-masquerade=10.0.0.0/8,10.0.0.0/8",
	    "--no-masquerade=10.0.0.0/8");
	is_str(rv == 0 ? nomasq(buf, sizeof(buf)) : err, "10.0.0.0/8",
	    "masquerade: a prefix given twice counts once");
	for (i = 0; i < NELEM(bad); i++) {
		rv = load_list(bad[i].args, 3);
		ok(rv == -1 && strstr(err, bad[i].want) != NULL,
		    "masquerade: %s %s refused: \"%s\"", bad[i].args[0],
		    bad[i].args[1] ? bad[i].args[1] : "", rv ? err : "accepted");
	}
	/* 32 of a family, and one more is an error naming the bound. */
	*buf = '\0';
	for (i = 0; i < KN_NOMASQ_MAX; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s10.%zu"
		    ".0.0/16", i ? "," : "", i);
	snprintf(arg, sizeof(arg), "fd00:%zx::/32", i);
	ok(LOAD("--no-masquerade", buf, "--no-masquerade", arg) == 0 &&
	    conf.nomasq_count[0] == KN_NOMASQ_MAX && conf.nomasq_count[1] == 1,
	    "masquerade: %d IPv4 prefixes and an IPv6 one%s%s", KN_NOMASQ_MAX,
	    *err ? ": " : "", err);
	ok(LOAD("--no-masquerade", buf, "--no-masquerade=10.99.0.0/16") == -1 &&
	    strstr(err, "--no-masquerade: more than 32 IPv4 prefixes") != NULL,
	    "masquerade: a 33rd IPv4 prefix refused: \"%s\"", err);

	/* The file's keys. */
	ok(yaml("masquerade: false\n") == 0 && conf.masquerade == 0,
	    "masquerade: yaml masquerade: false");
	ok(yaml("masquerade: true\n") == 0 && conf.masquerade == 1,
	    "masquerade: yaml masquerade: true");
	ok(yaml("\nmasquerade: off\n") == -1 &&
	    strstr(err, "test.yaml:2: masquerade: \"off\" is not true or "
	    "false") != NULL, "masquerade: yaml masquerade checked: \"%s\"",
	    err);
	rv = yaml("nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - fd00::/8\n"
	    "  - 172.16.0.0/12\n");
	is_str(rv == 0 ? nomasq(buf, sizeof(buf)) : err,
	    "10.0.0.0/8,172.16.0.0/12,fd00::/8",
	    "masquerade: yaml nonMasqueradeCIDRs as a block list");
	rv = yaml("nonMasqueradeCIDRs: [10.0.0.0/8, 192.168.0.0/16]\n");
	is_str(rv == 0 ? nomasq(buf, sizeof(buf)) : err,
	    "10.0.0.0/8,192.168.0.0/16",
	    "masquerade: yaml nonMasqueradeCIDRs as a flow list");
	rv = yaml("nonMasqueradeCIDRs: 10.0.0.0/8\n");
	is_str(rv == 0 ? nomasq(buf, sizeof(buf)) : err, "10.0.0.0/8",
	    "masquerade: yaml nonMasqueradeCIDRs as one value");
	ok(yaml("nonMasqueradeCIDRs: []\n") == 0 && conf.nomasq_count[0] == 0,
	    "masquerade: yaml an empty nonMasqueradeCIDRs");
	ok(yaml("provider: gre\nnonMasqueradeCIDRs:\n  - 10.0.0.0/8\n"
	    "  - 10.0.0.1/8\n") == -1 && strstr(err, "test.yaml:4: "
	    "nonMasqueradeCIDRs: \"10.0.0.1/8\": host bits set") != NULL,
	    "masquerade: yaml a bad item names its line: \"%s\"", err);
	ok(yaml("nonMasqueradeCIDRs:\n  - [10.0.0.0/8]\n") == -1 &&
	    strstr(err, "test.yaml:2: nonMasqueradeCIDRs: expected a list "
	    "of prefixes") != NULL,
	    "masquerade: yaml a nested list refused: \"%s\"", err);
	ok(yaml("nonMasqueradeCIDRs:\n  a: 10.0.0.0/8\n") == -1 &&
	    strstr(err, "expected a single value") != NULL,
	    "masquerade: yaml a mapping refused: \"%s\"", err);
	ok(yaml("podCIDR: [10.0.0.0/8]\n") == -1 &&
	    strstr(err, "expected a single value") != NULL,
	    "masquerade: yaml a list for another key refused: \"%s\"", err);
}

static void
test_ipsec_key(void)
{
	static const char hex64[] =
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	struct ipsec_key	 k;
	char			 text[512], path[64];
	int			 fd;
	static const struct {
		const char	*text, *want;
	} bad[] = {
		{ "", "one line: a key id from 1 to 255" },
		{ "0 " , "key id from 1 to 255" },
		{ "256 00", "key id from 1 to 255" },
		{ "x 00", "key id from 1 to 255" },
		{ "1\t00", "key id from 1 to 255" },
		{ "1 0011223344556677", "the secret has 64 bits; at least 256" },
		{ "1 zz", "not hex (character 3" },
		{ "1 001", "odd number" },
		{ "1 00\n2 00", "more than one line" },
	};
	size_t	 i;

	snprintf(text, sizeof(text), "7 %s\n", hex64);
	ok(ipsec_key_parse(text, strlen(text), &k, err, sizeof(err)) == 0 &&
	    k.id == 7 && k.len == 32 && k.secret[0] == 0x00 &&
	    k.secret[1] == 0x11 && k.secret[31] == 0xff,
	    "ipsec key: id 7 and 256 bits%s%s", *err ? ": " : "", err);
	snprintf(text, sizeof(text), "255 %s%s", hex64, hex64);
	ok(ipsec_key_parse(text, strlen(text), &k, err, sizeof(err)) == 0 &&
	    k.id == 255 && k.len == 64, "ipsec key: id 255, 512 bits, no "
	    "newline");
	for (i = 0; i < NELEM(bad); i++) {
		int rv = ipsec_key_parse(bad[i].text, strlen(bad[i].text), &k,
		    err, sizeof(err));

		ok(rv == -1 && strstr(err, bad[i].want) != NULL,
		    "ipsec key: bad key %zu refused: \"%s\"", i,
		    rv == -1 ? err : "accepted");
	}
	snprintf(text, sizeof(text), "1 %s", hex64);
	text[strlen(text) - 1] = 'q';
	ok(ipsec_key_parse(text, strlen(text), &k, err, sizeof(err)) == -1 &&
	    strstr(err, "eeff") == NULL && strstr(err, "0011") == NULL,
	    "ipsec key: an error never shows the secret: \"%s\"", err);

	/* The check at start, with the file. */
	ok(LOAD("--provider", "ipsec") == 0 &&
	    ipsec_key_check(&conf, err, sizeof(err)) == -1 &&
	    strstr(err, "needs --ipsec-key-file") != NULL,
	    "ipsec key: the ipsec mode with aes needs a key file: \"%s\"",
	    err);
	ok(LOAD("--provider", "ipsec", "--ipsec-encryption", "none") == 0 &&
	    ipsec_key_check(&conf, err, sizeof(err)) == 0,
	    "ipsec key: plaintext ESP needs none");
	snprintf(path, sizeof(path), "/tmp/kn-test-key.%d", (int)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	snprintf(text, sizeof(text), "3 %s\n", hex64);
	ok(fd != -1 && write(fd, text, strlen(text)) == (ssize_t)strlen(text),
	    "ipsec key: a key file written");
	close(fd);
	ok(LOAD("--provider", "ipsec", "--ipsec-key-file", path) == 0 &&
	    ipsec_key_check(&conf, err, sizeof(err)) == 0,
	    "ipsec key: the ipsec mode with a good key file%s%s",
	    *err ? ": " : "", err);
	fd = open(path, O_WRONLY | O_TRUNC);
	ok(fd != -1 && write(fd, "3 00\n", 5) == 5, "ipsec key: shortened");
	close(fd);
	ok(ipsec_key_check(&conf, err, sizeof(err)) == -1 &&
	    strstr(err, path) != NULL && strstr(err, "at least 256") != NULL,
	    "ipsec key: a short key file is an error naming it: \"%s\"", err);
	unlink(path);
	ok(ipsec_key_check(&conf, err, sizeof(err)) == -1 &&
	    strstr(err, "No such file") != NULL,
	    "ipsec key: a missing key file: \"%s\"", err);
}

static void
test_yaml_errors(void)
{
	static const struct {
		const char	*name, *text, *line, *want;
	} t[] = {
		{ "unknown key on line 3",
		    "provider: gre\nnodeName: node-a\nbogus: 1\n",
		    "test.yaml:3:", "unknown key \"bogus\"" },
		{ "a list where a scalar is expected",
		    "provider: [vxlan, gre]\n", "test.yaml:1:",
		    "expected a single value" },
		{ "a block list where a scalar is expected",
		    "provider: gre\ntargetLinkName:\n  - eth0\n",
		    "test.yaml:3:", "targetLinkName" },
		{ "a mapping under an ipsec key",
		    "provider: gre\nipsec:\n  encryption:\n    aes: 1\n",
		    "test.yaml:4:", "encryption" },
		{ "bad podCIDR value",
		    "provider: gre\n\npodCIDR: 10.0.0.1/8\n", "test.yaml:3:",
		    "host bits" },
		{ "unknown provider",
		    "provider: vxlan3\n", "test.yaml:1:",
		    "layer2, vxlan, vxlan-legacy, ipsec, gre" },
		{ "bad resyncPeriod string",
		    "logLevel: 4\nresyncPeriod: 5x\n", "test.yaml:2:",
		    "5x" },
		{ "logLevel not a number",
		    "logLevel: four\n", "test.yaml:1:", "not an integer" },
		{ "logLevel quoted",
		    "logLevel: \"4\"\n", "test.yaml:1:", "not an integer" },
		{ "logLevel out of range",
		    "logLevel: 11\n", "test.yaml:1:", "0 to 10" },
		{ "bad nodeName",
		    "nodeName: Node_1\n", "test.yaml:1:", "node name" },
		{ "bad targetLinkName",
		    "targetLinkName: eth/0\n", "test.yaml:1:", "interface" },
		{ "relative bootIDPath",
		    "bootIDPath: boot_id\n", "test.yaml:1:",
		    "not an absolute path" },
		{ "syntax error: tab indentation",
		    "provider: gre\n\tnodeName: a\n", "test.yaml:2:", "tab" },
		{ "syntax error: mapping in a plain value",
		    "provider: gre\nnodeName: node-a\n"
		    "targetLinkName: eth0: x\n",
		    "test.yaml:3:", "mapping values are not allowed" },
		{ "syntax error: unterminated quote",
		    "provider: gre\nnodeName: \"node-a\n", "test.yaml:", "" },
		{ "unknown ipsec sub-key",
		    "provider: ipsec\nipsec:\n  encryption: aes\n  cipher: x\n",
		    "test.yaml:4:", "unknown key \"ipsec.cipher\"" },
		{ "bad ipsec value",
		    "ipsec:\n  encryption: des\n", "test.yaml:2:",
		    "one of: aes, none" },
		{ "ipsec as a scalar",
		    "ipsec: aes\n", "test.yaml:1:", "expected a mapping" },
		{ "ipsec nested in ipsec",
		    "ipsec:\n  ipsec:\n    encryption: aes\n", "test.yaml:3:",
		    "ipsec" },
		{ "a top-level list",
		    "- provider: gre\n- nodeName: a\n", "test.yaml:1:",
		    "expected a mapping" },
		{ "a top-level scalar",
		    "vxlan\n", "test.yaml:1:", "expected a mapping" },
		{ "an alias for a value",
		    "provider: &p gre\nnodeName: *p\n", "test.yaml:2:",
		    "nodeName" },
		{ "a complex key",
		    "? [a, b]\n: c\n", "test.yaml:1:", "expected a key" },
	};
	size_t	 i;
	int	 rv;

	for (i = 0; i < NELEM(t); i++) {
		rv = yaml(t[i].text);
		ok(rv == -1 && strncmp(err, t[i].line, strlen(t[i].line)) == 0
		    && strstr(err, t[i].want) != NULL,
		    "yaml error, %s: \"%s\"", t[i].name, rv == -1 ? err :
		    "accepted");
		if (rv != -1 || strncmp(err, t[i].line, strlen(t[i].line)) ||
		    strstr(err, t[i].want) == NULL)
			diag("expected \"%s ... %s\"", t[i].line, t[i].want);
	}
}

static char	 tmpfile_path[] = "/tmp/kn-test-config-XXXXXX";

static void
write_config(const char *text)
{
	int	 fd;
	size_t	 len = strlen(text);

	if ((fd = open(tmpfile_path, O_WRONLY | O_TRUNC | O_CLOEXEC)) == -1)
		bail_out("%s: %s", tmpfile_path, strerror(errno));
	if (write(fd, text, len) != (ssize_t)len)
		bail_out("%s: write: %s", tmpfile_path, strerror(errno));
	close(fd);
}

static void
test_file(void)
{
	char	 want[512], arg[512];
	int	 fd, rv;

	if ((fd = mkstemp(tmpfile_path)) == -1)
		bail_out("mkstemp: %s", strerror(errno));
	close(fd);
	write_config("provider: ipsec\n"
	    "nodeName: from-file\n"
	    "resyncPeriod: 45s\n"
	    "ipsec:\n"
	    "  encryption: none\n");

	rv = LOAD("-f", tmpfile_path);
	ok(rv == 0 && conf.mode == MODE_IPSEC &&
	    strcmp(conf.node_name, "from-file") == 0 &&
	    conf.sync_period_ms == 45000 &&
	    conf.ipsec_encryption == IPSEC_ENC_NONE,
	    "file: -f applies every key%s%s", rv ? ": " : "", rv ? err : "");
	ok(conf.config_file_given && strcmp(conf.config_file,
	    tmpfile_path) == 0, "file: -f recorded");
	rv = LOAD("-f", tmpfile_path, "--provider", "gre");
	ok(rv == 0 && conf.mode == MODE_GRE, "file: a flag after -f wins");
	ok(rv == 0 && strcmp(conf.node_name, "from-file") == 0 &&
	    conf.sync_period_ms == 45000 &&
	    conf.ipsec_encryption == IPSEC_ENC_NONE,
	    "file: the other keys of the file still apply");
	rv = LOAD("--sync-period=2s", "--ipsec-encryption", "aes",
	    "--node-name=from-flag", "-f", tmpfile_path);
	ok(rv == 0 && conf.sync_period_ms == 2000 &&
	    conf.ipsec_encryption == IPSEC_ENC_AES &&
	    strcmp(conf.node_name, "from-flag") == 0 &&
	    conf.mode == MODE_IPSEC,
	    "file: flags before -f win too, unflagged keys from the file");
	rv = LOAD("--config", tmpfile_path);
	ok(rv == 0 && conf.mode == MODE_IPSEC && conf.config_file_given,
	    "file: --config FILE");
	snprintf(arg, sizeof(arg), "--config=%s", tmpfile_path);
	rv = LOAD(arg, "--v=3");
	ok(rv == 0 && conf.mode == MODE_IPSEC && conf.verbose == 2,
	    "file: --config=FILE");

	write_config("provider: gre\nnodeName: bad_name\n");
	rv = LOAD("-f", tmpfile_path);
	snprintf(want, sizeof(want), "%s:2:", tmpfile_path);
	ok(rv == -1 && strncmp(err, want, strlen(want)) == 0,
	    "file: an error names the file and line: \"%s\"", err);
	rv = LOAD("-f", tmpfile_path, "--node-name", "good-name");
	ok(rv == -1, "file: a bad file is an error even if a flag overrides "
	    "the key");

	write_config("nonMasqueradeCIDRs: [10.0.0.0/8, 11.0.0.0/8]\n");
	rv = LOAD("-f", tmpfile_path);
	is_str(rv == 0 ? nomasq(want, sizeof(want)) : err,
	    "10.0.0.0/8,11.0.0.0/8", "file: nonMasqueradeCIDRs");
	rv = LOAD("-f", tmpfile_path, "--no-masquerade=12.0.0.0/8",
	    "--no-masquerade=13.0.0.0/8");
	is_str(rv == 0 ? nomasq(want, sizeof(want)) : err,
	    "12.0.0.0/8,13.0.0.0/8", "file: the command line's "
	    "--no-masquerade list replaces the file's");

	write_config("");
	ok(LOAD("-f", tmpfile_path) == 0 && conf.mode == MODE_VXLAN,
	    "file: an empty file is an empty configuration");

	rv = LOAD("-f", "/nonexistent/kn.yaml");
	ok(rv == -1 && strstr(err, "/nonexistent/kn.yaml") != NULL &&
	    strstr(err, strerror(ENOENT)) != NULL,
	    "file: -f /nonexistent is an error: \"%s\"", err);
	rv = LOAD("-f", "/");
	ok(rv == -1 && strstr(err, strerror(EISDIR)) != NULL,
	    "file: -f on a directory is an error: \"%s\"", err);
	ok(load_none() == 0 && !conf.config_file_given,
	    "file: the default " KN_DEFAULT_CONFIG " missing is fine");
	unlink(tmpfile_path);
}

static void
test_user(void)
{
	struct passwd	*pw;
	uint32_t	 nobody = KN_NOBODY_ID, nobody_gid = KN_NOBODY_ID;
	char		 e[256];
	int		 rv;

	if ((pw = getpwnam("nobody")) != NULL) {
		nobody = pw->pw_uid;
		nobody_gid = pw->pw_gid;
	}
	load_none();
	rv = config_resolve_user(&conf, e, sizeof(e));
	ok(rv == 0 && conf.uid == KN_DEFAULT_UID_BASE &&
	    conf.gid == KN_DEFAULT_UID_BASE,
	    "user: by default the ids start at " KN_STR(KN_DEFAULT_UID_BASE));
	LOAD("-u", "nobody");
	rv = config_resolve_user(&conf, e, sizeof(e));
	ok(rv == 0 && conf.uid == nobody && conf.gid == nobody_gid,
	    "user: nobody is uid %u gid %u", nobody, nobody_gid);
	strcpy(conf.user, "1234");
	rv = config_resolve_user(&conf, e, sizeof(e));
	ok(rv == 0 && conf.uid == 1234 && conf.gid == 1234,
	    "user: a numeric uid is taken as uid and gid");
	strcpy(conf.user, "root");
	rv = config_resolve_user(&conf, e, sizeof(e));
	ok(rv == -1 && strstr(e, "root") != NULL,
	    "user: root refused: \"%s\"", e);
	strcpy(conf.user, "0");
	ok(config_resolve_user(&conf, e, sizeof(e)) == -1,
	    "user: uid 0 refused");
	strcpy(conf.user, "kn-no-such-user");
	rv = config_resolve_user(&conf, e, sizeof(e));
	ok(rv == -1 && strstr(e, "kn-no-such-user") != NULL,
	    "user: an unknown name refused: \"%s\"", e);
	strcpy(conf.user, "12ab");
	ok(config_resolve_user(&conf, e, sizeof(e)) == -1,
	    "user: a number with trailing junk refused");
	strcpy(conf.user, "4294967295");
	ok(config_resolve_user(&conf, e, sizeof(e)) == -1,
	    "user: uid 4294967295 (-1) refused");
	ok(LOAD("--user=") == -1 && strstr(err, "empty name") != NULL,
	    "user: an empty name refused: \"%s\"", err);
}

/* A file of text at dir/name. */
static void
put_file(const char *dir, const char *name, const char *text)
{
	char	 path[512];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) == EOF)
		bail_out("%s: %s", path, strerror(errno));
}

/* A /proc of one process with the given Uid: and Gid: lines. */
static void
fake_proc(const char *dir, const char *uid, const char *gid)
{
	char	 path[512], text[512];

	snprintf(path, sizeof(path), "%s/4242", dir);
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		bail_out("%s: %s", path, strerror(errno));
	snprintf(text, sizeof(text), "Name:\tsquatter\nUmask:\t0022\n"
	    "Uid:\t%s\nGid:\t%s\nGroups:\t\n", uid, gid);
	put_file(path, "status", text);
}

static int
check_ids(const char *dir, char *e, size_t elen)
{
	char	 proc[512], pw[512], gr[512];

	snprintf(proc, sizeof(proc), "%s/proc", dir);
	snprintf(pw, sizeof(pw), "%s/passwd", dir);
	snprintf(gr, sizeof(gr), "%s/group", dir);
	return config_check_ids(&conf, proc, pw, gr, e, elen);
}

static void
test_ids(void)
{
	static const struct {
		const char	*uid, *gid, *passwd, *group, *want;
	} t[] = {
		{ "0 0 0 0", "0 0 0 0", "", "", NULL },
		{ "65534 65534 65534 65534", "65534 65534 65534 65534",
		    "nobody:x:65534:65534::/:/bin/false\n",
		    "nogroup:x:65534:\n", NULL },
		{ "2999999 3000004 1 1", "2999999 3000004 1 1", "", "", NULL },
		{ "3000000 3000000 3000000 3000000", "0 0 0 0", "", "",
		    "--uid-base 3000000: id 3000000 (base + 0) is in use: "
		    "process 4242 (squatter) runs as uid 3000000; choose 4 ids "
		    "from a base that nothing on the host uses" },
		{ "1 1 1 3000003", "0 0 0 0", "", "",
		    "id 3000003 (base + 3) is in use: process 4242 (squatter) "
		    "runs as uid 3000003" },
		{ "1 1 1 1", "0 0 3000002 0", "", "",
		    "id 3000002 (base + 2) is in use: process 4242 (squatter) "
		    "runs as gid 3000002" },
		{ "1 1 1 1", "1 1 1 1", "a:x:5:5::/:/bin/false\n"
		    "kn:x:3000001:100::/:/bin/false\n", "",
		    "id 3000001 (base + 1) is in use: %s/passwd has the "
		    "account kn" },
		{ "1 1 1 1", "1 1 1 1", "kn:x:100:3000002::/:/bin/false\n", "",
		    "id 3000002 (base + 2) is in use: %s/passwd has the "
		    "account kn" },
		{ "1 1 1 1", "1 1 1 1", "", "kn:x:3000003:\n",
		    "id 3000003 (base + 3) is in use: %s/group has the group "
		    "kn" },
	};
	char		 dir[] = "/tmp/kn-test-ids.XXXXXX", sub[512], want[512];
	char		 e[512];
	uint32_t	 uid, gid;
	size_t		 i;
	int		 rv;

	LOAD("--uid-base", "3000000");
	config_resolve_user(&conf, e, sizeof(e));
	for (i = 0; i < KN_ID_SLOTS; i++) {
		config_child_ids(&conf, i, &uid, &gid);
		ok(uid == 3000000 + i && gid == uid,
		    "ids: slot %zu runs as uid and gid %u", i, uid);
	}
	if (mkdtemp(dir) == NULL)
		bail_out("mkdtemp: %s", strerror(errno));
	snprintf(sub, sizeof(sub), "%s/proc", dir);
	if (mkdir(sub, 0755) == -1)
		bail_out("%s: %s", sub, strerror(errno));
	for (i = 0; i < NELEM(t); i++) {
		fake_proc(sub, t[i].uid, t[i].gid);
		put_file(dir, "passwd", t[i].passwd);
		put_file(dir, "group", t[i].group);
		rv = check_ids(dir, e, sizeof(e));
		if (t[i].want == NULL) {
			ok(rv == 0, "ids: Uid %s, Gid %s, no clash", t[i].uid,
			    t[i].gid);
			if (rv != 0)
				diag("%s", e);
			continue;
		}
		snprintf(want, sizeof(want), t[i].want, dir);
		ok(rv == -1 && strstr(e, want) != NULL,
		    "ids: refused: \"%s\"", e);
	}
	/* A --user account is the operator's choice: not checked. */
	LOAD("-u", "1234");
	config_resolve_user(&conf, e, sizeof(e));
	fake_proc(sub, "1234 1234 1234 1234", "1234 1234 1234 1234");
	ok(check_ids(dir, e, sizeof(e)) == 0, "ids: --user is not checked");
	for (i = 0; i < KN_ID_SLOTS; i++) {
		config_child_ids(&conf, i, &uid, &gid);
		if (uid != 1234 || gid != 1234)
			break;
	}
	ok(i == KN_ID_SLOTS, "ids: with --user every slot runs as it");
	/* The real host: this test runs as nothing of the default range. */
	load_none();
	config_resolve_user(&conf, e, sizeof(e));
	rv = config_check_ids(&conf, "/proc", "/etc/passwd", "/etc/group", e,
	    sizeof(e));
	ok(rv == 0, "ids: the default range is free on this host");
	if (rv != 0)
		diag("%s", e);
	ok(config_check_ids(&conf, "/nonexistent", "/etc/passwd", "/etc/group",
	    e, sizeof(e)) == -1 && strstr(e, "/nonexistent") != NULL,
	    "ids: no /proc is an error: \"%s\"", e);
	snprintf(sub, sizeof(sub), "rm -rf '%s'", dir);
	if (system(sub) != 0)
		diag("could not remove %s", dir);
}

/* What fn writes to a descriptor, read back through a pipe. */
static void
capture(void (*fn)(int), char *buf, size_t len)
{
	int	 p[2];
	ssize_t	 n;
	size_t	 got = 0;

	if (pipe2(p, O_CLOEXEC) == -1)
		bail_out("pipe2: %s", strerror(errno));
	fn(p[1]);
	close(p[1]);
	while (got + 1 < len && (n = read(p[0], buf + got,
	    len - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
	close(p[0]);
}

static void
print_conf(int fd)
{
	config_print(&conf, fd);
}

/* --compression and its key: a boolean as --masquerade is. */
static void
test_compression(void)
{
	char	 out[4096];

	ok(LOAD("--compression=false") == 0 && conf.compression == 0,
	    "compression: --compression=false");
	ok(LOAD("--compression=false", "--compression") == 0 &&
	    conf.compression == 1, "compression: --compression alone is true");
	ok(LOAD("--compression=no") == -1 && strstr(err, "--compression: "
	    "\"no\" is not true or false") != NULL,
	    "compression: --compression=no refused: \"%s\"", err);
	ok(yaml("compression: false\n") == 0 && conf.compression == 0,
	    "compression: yaml compression: false");
	ok(yaml("compression: gzip\n") == -1 && strstr(err, "test.yaml:1: "
	    "compression: \"gzip\" is not true or false") != NULL,
	    "compression: yaml compression checked: \"%s\"", err);
	LOAD("--compression=false");
	capture(print_conf, out, sizeof(out));
	like(out, "\nwatch-timeout 300s\ncompression false\n",
	    "compression: printed");
}

static void
test_output(void)
{
	static const char *const flags[] = {
		"--check", "--config", "--debug", "--help", "--user",
		"--verbose", "--version", "--chroot", "--seccomp",
		"--self-test", "--provider", "--target", "--pod-cidr",
		"--node-name", "--machine-id", "--system-uuid", "--boot-id",
		"--ipsec-encryption", "--ipsec-authentication",
		"--ipsec-encapsulation", "--cni-config", "--sync-period",
		"--v level", "--masquerade[=true|false]", "--no-masquerade",
		"--compression[=true|false]",
	};
	static char	 out[16384];
	size_t		 i;
	int		 all = 1;

	capture(config_usage, out, sizeof(out));
	like(out, "usage: kopeio-networkd", "usage: starts with the synopsis");
	for (i = 0; i < NELEM(flags); i++)
		if (strstr(out, flags[i]) == NULL) {
			diag("usage lacks %s", flags[i]);
			all = 0;
		}
	ok(all, "usage: documents every flag");

	LOAD("--uid-base=3000000");
	config_resolve_user(&conf, out, sizeof(out));
	capture(print_conf, out, sizeof(out));
	like(out, "\nuid-base 3000000 (uids and gids 3000000-3000003: watcher, "
	    "executor, arp-helper, metrics)\n", "print: the children's ids");
	LOAD("-u", "1234");
	config_resolve_user(&conf, out, sizeof(out));
	capture(print_conf, out, sizeof(out));
	like(out, "\nuser 1234 (uid 1234, gid 1234, every child)\n",
	    "print: --user's ids");
	LOAD("--provider=gre", "--pod-cidr=10.1.0.0/16", "--sync-period=1m");
	capture(print_conf, out, sizeof(out));
	like(out, "provider gre\n", "print: provider");
	like(out, "pod-cidr 10.1.0.0/16\n", "print: pod CIDR");
	like(out, "sync-period 60000ms\n", "print: sync period");
	like(out, "\nmasquerade true\nno-masquerade (none)\n",
	    "print: masquerade by default");
	LOAD("--masquerade=false", "--no-masquerade=fd00::/8,10.0.0.0/8");
	capture(print_conf, out, sizeof(out));
	like(out, "\nmasquerade false\nno-masquerade 10.0.0.0/8,fd00::/8\n",
	    "print: masquerade off, and the prefixes");
}

int
main(void)
{
	/* Every load would read it; the defaults could not be tested. */
	if (access(KN_DEFAULT_CONFIG, F_OK) == 0) {
		printf("1..0 # SKIP %s exists on this machine\n",
		    KN_DEFAULT_CONFIG);
		return 0;
	}
	test_defaults();
	test_flags();
	test_verbose();
	test_actions();
	test_errors();
	test_duration();
	test_prefix();
	test_yaml();
	test_yaml_own();
	test_masquerade();
	test_compression();
	test_ipsec_key();
	test_yaml_errors();
	test_file();
	test_user();
	test_ids();
	test_output();
	return done_testing();
}
