/*
 * The daemon's configuration: defaults, the command line (including
 * the original Go agent's flag names), the YAML configuration file
 * with the original agent's ConfigMap keys.  Fixed-size so the parent
 * can hand it to each child in one MSG_CONFIG.
 */
#ifndef KN_CONFIG_H
#define KN_CONFIG_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define KN_PATH_MAX	256
#define KN_NAME_MAX	254	/* a Kubernetes object name, 253 bytes + NUL */
#define KN_DEFAULT_CONFIG	"/config/config.yaml"
#define KN_DEFAULT_CHROOT	"/var/empty"
#define KN_DEFAULT_SOCKET	"/run/kopeio-networkd.sock"
#define KN_SOCKET_MAX		108	/* sun_path */
#define KN_DEFAULT_USER		"nobody"
#define KN_NOBODY_ID		65534
/*
 * Each child runs as a uid and gid of its own, --uid-base + 0 to 3
 * (watcher, executor, arp-helper, metrics).  The default lies in the
 * block systemd's UIDS-GIDS.md leaves unused above its container
 * ranges (1879048192-2147483647) and Debian's policy keeps out of
 * adduser's reach (65536 and up): no distribution, systemd, subuid
 * or Kubernetes user namespace allocates there.
 */
#define KN_DEFAULT_UID_BASE	2000000000
#define KN_ID_SLOTS		4
#define KN_EXIT_IDS_IN_USE	2	/* a child's uid or gid is in use */
#define KN_DEFAULT_SYSTEM_UUID	"/sys/class/dmi/id/product_uuid"
/*
 * --max-nodes: a safety bound, not the cluster's size (tables grow with
 * what they hold).  65,536 is the design's target; 100,000, the most
 * it accepts, is above the largest clusters run today and keeps the
 * figures that follow the bound finite (RLIMIT_AS of the executor
 * 0.9 GiB, the liveness bound 260 s).
 */
#define KN_DEFAULT_MAX_NODES	65536
#define KN_MAX_MAX_NODES	100000
#define KN_DEFAULT_WATCH_TIMEOUT	300	/* seconds; a watch lasts 1-2x */
/* rtm_protocol of our routes; contrib/kopeio.conf names it for ip(8). */
#define KN_DEFAULT_ROUTE_PROTOCOL	107
/* --no-masquerade: prefixes of each family left untranslated. */
#define KN_NOMASQ_MAX	32
#define KN_STR(x)	KN_STR1(x)
#define KN_STR1(x)	#x

enum kn_mode {
	MODE_LAYER2,
	MODE_VXLAN,
	MODE_VXLAN_LEGACY,
	MODE_IPSEC,
	MODE_GRE,
};

enum kn_seccomp {
	SECCOMP_MODE_KILL,
	SECCOMP_MODE_LOG,
};

enum kn_ipsec_encryption { IPSEC_ENC_AES, IPSEC_ENC_NONE };
enum kn_ipsec_authentication { IPSEC_AUTH_SHA1, IPSEC_AUTH_NONE };
enum kn_ipsec_encapsulation { IPSEC_ENCAP_UDP, IPSEC_ENCAP_ESP };

struct kn_config {
	uint32_t	mode;
	/* --pod-cidr: [0] IPv4, [1] IPv6; family 0 when not given */
	struct kn_prefix cluster[2];
	char		target[IF_NAMESIZE];
	uint32_t	sync_period_ms;
	char		node_name[KN_NAME_MAX];
	char		machine_id[KN_PATH_MAX];
	char		system_uuid[KN_PATH_MAX];
	char		boot_id[KN_PATH_MAX];
	char		cni_config[KN_PATH_MAX];
	uint32_t	ipsec_encryption;
	uint32_t	ipsec_authentication;
	uint32_t	ipsec_encapsulation;
	char		ipsec_key_file[KN_PATH_MAX];
	uint32_t	ipsec_rotation_ms;	/* each step of a rotation */
	char		user[KN_NAME_MAX];	/* "": a uid per role */
	uint32_t	uid_base;		/* --uid-base; 0: the default */
	uint32_t	uid;	/* the child's own; in the parent, slot 0's */
	uint32_t	gid;
	char		chroot[KN_PATH_MAX];
	uint32_t	seccomp;
	int32_t		verbose;
	uint32_t	log_stderr;
	char		config_file[KN_PATH_MAX];
	uint32_t	config_file_given;	/* -f: a missing file is an error */
	char		kubeconfig[KN_PATH_MAX];
	char		apiserver[KN_PATH_MAX];
	char		token_file[KN_PATH_MAX];
	char		ca_file[KN_PATH_MAX];
	uint32_t	address_type;		/* enum k8s_addr_type */
	uint32_t	max_nodes;
	uint32_t	watch_timeout;		/* seconds, at least */
	uint32_t	compression;		/* lists and watches ask for gzip */
	uint32_t	mtu;			/* 0: underlay less encapsulation */
	uint32_t	route_protocol;
	uint32_t	masquerade;		/* egress masquerade on */
	uint32_t	nomasq_count[2];	/* by family: 0 IPv4, 1 IPv6 */
	struct kn_prefix nomasq[2][KN_NOMASQ_MAX];
	uint32_t	adopt_protocol;		/* layer2; 0: off */
	char		socket[KN_SOCKET_MAX];	/* control socket */
	char		pid_file[KN_PATH_MAX];
	char		metrics_address[64];	/* "": off */
	/* Self-test only: the child makes a call its filter forbids. */
	uint32_t	violate;
};

/* What the command line asks the program to do. */
enum kn_action {
	ACTION_RUN,
	ACTION_CHECK,		/* -n */
	ACTION_SELFTEST,	/* --self-test */
	ACTION_HELP,
	ACTION_VERSION,
	ACTION_ROLE,		/* --role: a child started by the parent */
};

struct kn_cmdline {
	enum kn_action	action;
	char		role[16];
	int		nomasq_given;	/* the command line's list replaces
					   the file's */
};

int	 config_load(struct kn_config *, struct kn_cmdline *, int argc,
	    char **argv, char *err, size_t errlen);
int	 config_parse_file(struct kn_config *, const char *path, char *err,
	    size_t errlen);
int	 config_parse_yaml(struct kn_config *, const char *text, size_t len,
	    const char *name, char *err, size_t errlen);
int	 config_resolve_user(struct kn_config *, char *err, size_t errlen);
void	 config_child_ids(const struct kn_config *, unsigned slot,
	    uint32_t *uid, uint32_t *gid);
int	 config_check_ids(const struct kn_config *, const char *proc,
	    const char *passwd, const char *group, char *err, size_t errlen);
void	 config_print(const struct kn_config *, int fd);
void	 config_usage(int fd);
const char *mode_name(uint32_t);
int	 duration_parse(const char *, uint32_t *ms);

#endif
