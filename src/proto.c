#include <string.h>

#include "config.h"
#include "log.h"
#include "proto.h"

static const char *const role_names[ROLE_COUNT] = {
	[ROLE_PARENT] = "parent",
	[ROLE_WATCHER] = "watcher",
	[ROLE_EXECUTOR] = "executor",
	[ROLE_ARP] = "arp-helper",
};

#define PARENT		ROLE_BIT(ROLE_PARENT)
#define WATCHER		ROLE_BIT(ROLE_WATCHER)
#define EXECUTOR	ROLE_BIT(ROLE_EXECUTOR)
#define INTENT_PEERS	(ROLE_BIT(ROLE_EXECUTOR) | ROLE_BIT(ROLE_ARP))
#define PAYLOAD_MAX	(MSG_MAXLEN - sizeof(struct msg_hdr))

/*
 * Every message a process accepts is listed here, with the only
 * payload sizes and senders it may have.  The receiver consults this
 * table before it looks at a single payload byte.
 */
#define RULE(t, min, max, from, to, fd, unit) \
	{ t, #t, min, max, from, to, fd, unit }
#define FIXED(t, type, from, to) \
	RULE(t, sizeof(type), sizeof(type), from, to, 0, 0)

static const struct msg_rule msg_rules[] = {
	FIXED(MSG_HELLO, struct msg_hello, ROLES_ALL, ROLES_ALL),
	RULE(MSG_LOG, sizeof(struct msg_log) + 1,
	    sizeof(struct msg_log) + LOG_LINE_MAX - 1, ROLES_CHILDREN, PARENT,
	    0, 0),
	FIXED(MSG_CONFIG, struct kn_config, PARENT, ROLES_CHILDREN),
	RULE(MSG_CHANNEL, sizeof(struct msg_channel),
	    sizeof(struct msg_channel), PARENT, ROLES_CHILDREN, 1, 0),
	FIXED(MSG_READY, struct msg_ready, ROLES_CHILDREN, PARENT),
	FIXED(MSG_API_SERVER, struct msg_api_server, PARENT, WATCHER),
	RULE(MSG_API_CA, 1, PAYLOAD_MAX, PARENT, WATCHER, 0, 0),
	RULE(MSG_API_CERT, 1, PAYLOAD_MAX, PARENT, WATCHER, 0, 0),
	RULE(MSG_API_KEY, 1, PAYLOAD_MAX, PARENT, WATCHER, 0, 0),
	RULE(MSG_API_TOKEN, 0, PAYLOAD_MAX, PARENT, WATCHER, 0, 0),
	RULE(MSG_API_DONE, 0, 0, PARENT, WATCHER, 0, 0),
	RULE(MSG_TOKEN_REFRESH, 0, 0, WATCHER, PARENT, 0, 0),
	FIXED(MSG_LOCAL, struct msg_local, WATCHER, INTENT_PEERS),
	FIXED(MSG_SNAP_BEGIN, struct msg_gen, WATCHER, INTENT_PEERS),
	RULE(MSG_INTENT_ADD, sizeof(struct msg_intent),
	    MSG_INTENTS_MAX * sizeof(struct msg_intent), WATCHER,
	    INTENT_PEERS, 0, sizeof(struct msg_intent)),
	RULE(MSG_INTENT_DEL, sizeof(struct msg_intent),
	    MSG_INTENTS_MAX * sizeof(struct msg_intent), WATCHER,
	    INTENT_PEERS, 0, sizeof(struct msg_intent)),
	FIXED(MSG_SNAP_END, struct msg_gen, WATCHER, INTENT_PEERS),
	FIXED(MSG_GEN_DONE, struct msg_gen_result, EXECUTOR, WATCHER),
	FIXED(MSG_NODE_NET, struct msg_node_net, EXECUTOR, PARENT),
};

const char *
role_name(enum role r)
{
	if ((unsigned)r >= ROLE_COUNT)
		return "unknown";
	return role_names[r];
}

int
role_from_name(const char *s, enum role *r)
{
	int	 i;

	for (i = ROLE_WATCHER; i < ROLE_COUNT; i++)
		if (strcmp(s, role_names[i]) == 0) {
			*r = i;
			return 0;
		}
	return -1;
}

const struct msg_rule *
msg_rule_find(uint32_t type)
{
	size_t	 i;

	for (i = 0; i < sizeof(msg_rules) / sizeof(msg_rules[0]); i++)
		if (msg_rules[i].type == type)
			return &msg_rules[i];
	return NULL;
}
