/*
 * The message protocol spoken between the daemon's processes: the
 * roles, the message types, their payloads and the table each
 * receiver checks every message against.
 */
#ifndef KN_PROTO_H
#define KN_PROTO_H

#include <stdint.h>

enum role {
	ROLE_PARENT = 0,
	ROLE_WATCHER,
	ROLE_EXECUTOR,
	ROLE_ARP,
	ROLE_METRICS,
	ROLE_NPROC,		/* the daemon's own processes end here */
	ROLE_CTL = ROLE_NPROC,	/* kopeio-networkctl on the control socket */
	ROLE_COUNT
};

#define ROLE_BIT(r)	(1u << (r))
#define ROLES_CHILDREN	(ROLE_BIT(ROLE_WATCHER) | ROLE_BIT(ROLE_EXECUTOR) | \
			    ROLE_BIT(ROLE_ARP) | ROLE_BIT(ROLE_METRICS))
#define ROLES_ALL	(ROLE_BIT(ROLE_PARENT) | ROLES_CHILDREN | \
			    ROLE_BIT(ROLE_CTL))

const char	*role_name(enum role);
int		 role_from_name(const char *, enum role *);

/* Bumped whenever a payload layout or the rule table changes. */
#define MSG_VERSION	13
/* Hard limit for one message, header included. */
#define MSG_MAXLEN	16384

struct msg_hdr {
	uint32_t	type;
	uint32_t	len;	/* header included */
	uint32_t	id;
	uint32_t	pid;	/* sender */
};

enum msg_type {
	MSG_HELLO = 1,		/* first message in each direction */
	MSG_LOG,		/* child -> parent: one log line */
	MSG_CONFIG,		/* parent -> child: struct kn_config */
	MSG_CHANNEL,		/* parent -> child: a new peer channel (fd) */
	MSG_READY,		/* child -> parent: every channel is up */
	/* parent -> watcher: how to reach the API server */
	MSG_API_SERVER,		/* struct msg_api_server */
	MSG_API_CA,		/* PEM bundle */
	MSG_API_CERT,		/* client certificate, PEM */
	MSG_API_KEY,		/* client key, PEM */
	MSG_API_TOKEN,		/* bearer token; sent again when it rotates */
	MSG_API_DONE,		/* the set above is complete */
	MSG_TOKEN_REFRESH,	/* watcher -> parent: got 401, re-read it */
	/* watcher -> executor, arp-helper; hdr.id carries the generation */
	MSG_LOCAL,		/* struct msg_local: this node */
	MSG_SNAP_BEGIN,		/* struct msg_gen: a full snapshot follows */
	MSG_INTENT_ADD,		/* struct msg_intent[]: add or replace */
	MSG_INTENT_DEL,		/* struct msg_intent[]: remove */
	MSG_SNAP_END,		/* struct msg_gen: count of intents sent */
	MSG_GEN_DONE,		/* executor -> watcher: struct msg_gen_result */
	/* counters, sent to the parent when they change (at most 1/s) */
	MSG_EXEC_STATS,		/* executor -> parent: struct msg_exec_stats */
	MSG_WATCH_STATS,	/* watcher -> parent: struct msg_watch_stats */
	MSG_STATUS,		/* parent -> metrics, ctl: struct kn_status */
	/* kopeio-networkctl; hdr.id of a dump names the asking client */
	MSG_CTL_SHOW,		/* ctl -> parent: uint32_t enum ctl_show */
	MSG_CTL_RELOAD,		/* ctl -> parent: read the configuration */
	MSG_CTL_RESYNC,		/* ctl -> parent: relist, re-read the kernel */
	MSG_CTL_RESULT,		/* parent -> ctl: struct msg_ctl_result */
	MSG_DUMP,		/* parent -> watcher, executor: send a table */
	MSG_RESYNC,		/* parent -> watcher, executor */
	MSG_NODE_INFO,		/* watcher -> parent -> ctl: struct msg_node_info[] */
	MSG_ROUTE_INFO,		/* executor -> parent -> ctl: struct msg_route_info[] */
	MSG_DUMP_END,		/* the table is complete */
	MSG_NODE_NET,		/* executor -> parent: struct msg_node_net */
	MSG_IPSEC_KEY,		/* parent -> executor: struct ipsec_key */
	MSG_IPSEC_SOCKET,	/* parent -> executor: uint32_t family + the
				   ESP-in-UDP socket of that family (fd) */
	MSG_PING,		/* parent -> child: struct msg_ping */
	MSG_PONG,		/* child -> parent: the same msg_ping back */
	/*
	 * The watcher opens no socket: it asks, and the parent connects
	 * to the API server's address and port, its own choice.
	 */
	MSG_API_CONNECT,	/* watcher -> parent: no payload */
	MSG_API_SOCKET,		/* parent -> watcher: a connected TCP socket
				   (fd), no payload */
	MSG_API_CONNECT_FAILED,	/* parent -> watcher: uint32_t errno */
	MSG_MASQ_DUMP,		/* parent -> executor: send the table's text */
	MSG_MASQ_TEXT,		/* executor -> parent -> ctl: text, in parts */
	MSG_TYPE_MAX
};

/*
 * The ipsec mode's key: a key id from 1 to 255 and the secret it names
 * (--ipsec-key-file).  The secret is never logged.
 */
#define IPSEC_KEY_MIN	32	/* bytes: 256 bits */
#define IPSEC_KEY_MAX	128

struct ipsec_key {
	uint8_t		 id;
	uint8_t		 len;
	uint8_t		 secret[IPSEC_KEY_MAX];
};

struct msg_hello {
	uint32_t	version;
	uint32_t	role;
};

struct msg_log {
	uint32_t	pri;
	char		text[];	/* not NUL-terminated on the wire */
};

struct msg_channel {
	uint32_t	peer;	/* enum role of the process at the other end */
};

/* Liveness: the child's loop answers each PING with its sequence. */
struct msg_ping {
	uint32_t	seq;
};

struct msg_ready {
	uint32_t	channels;	/* ROLE_BIT() of each peer handshaken */
	uint32_t	pad;
	uint64_t	root_dev;	/* st_dev, st_ino of "/" after chroot */
	uint64_t	root_ino;
};

#define API_URL_MAX	512
#define API_RESOLVE_MAX	320

struct msg_api_server {
	char		url[API_URL_MAX];	/* https://host:port */
	char		resolve[API_RESOLVE_MAX]; /* host:port:addr, or "" */
	uint32_t	insecure;	/* the kubeconfig said so */
	uint32_t	addr_type;	/* enum k8s_addr_type */
	char		node_name[254];	/* "" when found by an ID file */
	char		node_id[64];	/* machine ID, system UUID or boot ID */
	uint32_t	node_id_kind;	/* enum node_id_kind */
	uint32_t	max_nodes;
};

enum node_id_kind {
	NODE_BY_NAME,
	NODE_BY_MACHINE_ID,
	NODE_BY_SYSTEM_UUID,
	NODE_BY_BOOT_ID,
};

/*
 * A route intent: pod prefix -> node address.  boot is the node's boot
 * ID (the kubelet's status.nodeInfo.bootID, a UUID), all zero when the
 * Node has none or it does not parse: the ipsec mode binds the keys of
 * what that node sends to it, so a reboot brings new keys.
 */
struct msg_intent {
	uint8_t		family;		/* AF_INET or AF_INET6 */
	uint8_t		plen;
	uint8_t		flags;
	uint8_t		pad;
	uint8_t		prefix[16];
	uint8_t		node[16];
	uint8_t		boot[16];
};

#define MSG_INTENTS_MAX	((MSG_MAXLEN - sizeof(struct msg_hdr)) / \
			    sizeof(struct msg_intent))

struct msg_local {
	uint8_t		family[2];	/* of each pod CIDR, 0 if none */
	uint8_t		plen[2];
	uint8_t		cidr[2][16];
	uint8_t		has4, has6, pad[2];
	uint8_t		addr4[4];
	uint8_t		addr6[16];
	uint8_t		boot[16];	/* as in struct msg_intent */
};

struct msg_gen {
	uint64_t	gen;
	uint32_t	count;
	uint32_t	pad;
};

struct msg_gen_result {
	uint64_t	gen;
	uint32_t	applied;	/* intents accepted */
	uint32_t	refused;	/* intents outside the envelope */
	uint32_t	failed;		/* kernel objects the kernel refused */
	uint32_t	pad;
};

/*
 * This node's pod network as the executor accepted and set it up, for
 * the parent's CNI configuration: sent when it first knows it and
 * whenever it changes.
 */
struct msg_node_net {
	uint8_t		family[2];	/* [0] AF_INET, [1] AF_INET6; 0: none */
	uint8_t		plen[2];
	uint8_t		cidr[2][16];	/* the pod CIDRs, host bits zero */
	uint32_t	mtu;		/* of the pods' interfaces */
};

/*
 * Counters and state for kopeio-networkctl and /metrics.  A counter
 * starts again from 0 when its process is restarted, which Prometheus
 * reads as a counter reset.
 */
#define STATS_OBJ_TYPES	6	/* route, neighbour, FDB, tunnel, xfrm state,
				   policy (enum kobj_type) */
#define STATS_OPS	3	/* create, replace, delete (enum kobj_op) */
#define STATS_BUCKETS	12	/* reconcile durations, see stats_bounds_us */
#define STATS_CODES	12	/* distinct API error codes kept */
#define STATS_EVENTS	4	/* ADDED, MODIFIED, DELETED, BOOKMARK */

extern const uint32_t	stats_bounds_us[STATS_BUCKETS - 1];	/* +Inf last */
unsigned		stats_bucket(uint64_t us);

struct msg_exec_stats {
	uint64_t	gen;		/* last generation reported */
	int64_t		gen_time;	/* wall clock, ms; 0: none yet */
	uint32_t	applied;	/* of that generation */
	uint32_t	refused;
	uint32_t	failed;
	uint32_t	intents;	/* accepted now */
	uint32_t	objects;	/* owned kernel objects now */
	uint32_t	synced;		/* a snapshot is in the kernel */
	uint32_t	pad;
	uint64_t	requests[STATS_OBJ_TYPES][STATS_OPS];
	uint64_t	request_errors;
	uint64_t	repairs;	/* objects put back after someone else */
	uint64_t	resyncs;	/* full re-reads of the kernel */
	uint64_t	overruns;	/* monitor events lost */
	uint64_t	adopted;	/* routes of other protocols made ours */
	uint64_t	reconcile[STATS_BUCKETS];	/* not cumulative */
	uint64_t	reconcile_us;	/* sum */
	uint64_t	masq_repairs;	/* table inet kopeio put back */
	uint32_t	masq_rules;	/* in its chain, as last read */
	uint32_t	pad2;
	uint64_t	over;		/* intents refused: past the bound */
	uint32_t	bound;		/* 2 x --max-nodes intents */
	uint32_t	full;		/* refused since the table had room */
};

struct stats_code {
	uint32_t	code;		/* HTTP status; 0: no response */
	uint32_t	pad;
	uint64_t	count;
};

struct msg_watch_stats {
	uint64_t	events[STATS_EVENTS];
	uint64_t	lists;		/* complete lists, the first included */
	uint64_t	patches;	/* status patches accepted */
	struct stats_code errors[STATS_CODES];
	uint64_t	errors_other;	/* codes beyond the table */
	int64_t		list_time;	/* wall clock, ms, of the last list */
	uint64_t	skipped;	/* strings over the token bound skipped */
	uint64_t	ignored;	/* nodes ignored: --max-nodes */
	uint32_t	nodes;		/* Node objects known */
	uint32_t	peers;		/* nodes with a route intent */
	uint32_t	bound;		/* --max-nodes */
	uint32_t	full;		/* ignored since the map had room */
};

/*
 * Past the bound now: something was ignored or refused since the
 * table last had room.  Once nodes go, an ignored node's next event
 * finds it.
 */
#define WATCH_OVER(w)	((w)->full > 0)
#define EXEC_OVER(e)	((e)->full > 0)

struct status_proc {
	int32_t		pid;		/* 0: not running */
	uint32_t	running;	/* wanted and up */
	uint32_t	wanted;
	uint32_t	restarts;
	int64_t		started;	/* wall clock, ms */
};

struct kn_status {
	uint32_t		mode;
	uint32_t		ready;		/* what /readyz answers */
	int64_t			started;	/* wall clock, ms */
	int64_t			now;
	struct status_proc	proc[ROLE_NPROC];
	struct msg_exec_stats	exec;
	struct msg_watch_stats	watch;
	uint32_t		cni_written;	/* for the current pod CIDRs */
	uint32_t		pad;
	char			cni_config[256];
	char			version[32];
};

enum ctl_show { CTL_SHOW_STATUS, CTL_SHOW_NODES, CTL_SHOW_ROUTES,
	CTL_SHOW_MASQ };

struct msg_ctl_result {
	int32_t		status;		/* 0 ok, else the tool's exit status */
	char		text[];		/* not NUL-terminated on the wire */
};

struct msg_node_info {
	char		name[254];
	uint8_t		local;
	uint8_t		ncidr;
	uint8_t		has4, has6;
	uint8_t		addr4[4];
	uint8_t		addr6[16];
	uint8_t		family[2];
	uint8_t		plen[2];
	uint8_t		cidr[2][16];
};

struct msg_route_info {
	struct msg_intent in;
	uint32_t	wanted;		/* kernel objects the mode needs */
	uint32_t	present;	/* of those, in the kernel as wanted */
};

struct msg_rule {
	uint32_t	type;
	const char	*name;
	uint32_t	minlen;		/* payload bytes */
	uint32_t	maxlen;
	uint32_t	senders;	/* ROLE_BIT() of who may send it */
	uint32_t	receivers;	/* ROLE_BIT() of who may receive it */
	int		fd;		/* 1: carries exactly one fd */
	uint32_t	unit;		/* payload is a multiple of this */
};

const struct msg_rule	*msg_rule_find(uint32_t type);

#endif
