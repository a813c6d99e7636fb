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
#define MSG_VERSION	1
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

struct msg_rule {
	uint32_t	type;
	const char	*name;
	uint32_t	minlen;		/* payload bytes */
	uint32_t	maxlen;
	uint32_t	senders;	/* ROLE_BIT() of who may send it */
	uint32_t	receivers;	/* ROLE_BIT() of who may receive it */
	int		fd;		/* 1: carries exactly one fd */
};

const struct msg_rule	*msg_rule_find(uint32_t type);

#endif
