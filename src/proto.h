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
	ROLE_COUNT
};

#define ROLE_BIT(r)	(1u << (r))
#define ROLES_CHILDREN	(ROLE_BIT(ROLE_WATCHER) | ROLE_BIT(ROLE_EXECUTOR) | \
			    ROLE_BIT(ROLE_ARP))
#define ROLES_ALL	(ROLE_BIT(ROLE_PARENT) | ROLES_CHILDREN)

const char	*role_name(enum role);
int		 role_from_name(const char *, enum role *);

/* Bumped whenever a payload layout or the rule table changes. */
#define MSG_VERSION	3
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
	MSG_NODE_NET,		/* executor -> parent: struct msg_node_net */
	MSG_TYPE_MAX
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

/* A route intent: pod prefix -> node address. */
struct msg_intent {
	uint8_t		family;		/* AF_INET or AF_INET6 */
	uint8_t		plen;
	uint8_t		flags;
	uint8_t		pad;
	uint8_t		prefix[16];
	uint8_t		node[16];
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
