/*
 * The rule table every received message is checked against, and
 * the role and type names: see proto.h.
 */
#include <string.h>

#include "config.h"
#include "log.h"
#include "proto.h"

static const char *const role_names[ROLE_COUNT] = {
	[ROLE_PARENT] = "parent",
	[ROLE_WATCHER] = "watcher",
	[ROLE_EXECUTOR] = "executor",
	[ROLE_ARP] = "arp-helper",
	[ROLE_METRICS] = "metrics",
	[ROLE_CTL] = "ctl",
};

/* Upper bounds of the reconcile duration buckets, in microseconds. */
const uint32_t stats_bounds_us[STATS_BUCKETS - 1] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	1000000,
};

#define PARENT		ROLE_BIT(ROLE_PARENT)
#define WATCHER		ROLE_BIT(ROLE_WATCHER)
#define EXECUTOR	ROLE_BIT(ROLE_EXECUTOR)
#define METRICS		ROLE_BIT(ROLE_METRICS)
#define CTL		ROLE_BIT(ROLE_CTL)
#define INTENT_PEERS	(ROLE_BIT(ROLE_EXECUTOR) | ROLE_BIT(ROLE_ARP))
#define DUMPERS		(WATCHER | EXECUTOR)
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
	FIXED(MSG_EXEC_STATS, struct msg_exec_stats, EXECUTOR, PARENT),
	FIXED(MSG_WATCH_STATS, struct msg_watch_stats, WATCHER, PARENT),
	FIXED(MSG_STATUS, struct kn_status, PARENT, METRICS | CTL),
	FIXED(MSG_CTL_SHOW, uint32_t, CTL, PARENT),
	RULE(MSG_CTL_RELOAD, 0, 0, CTL, PARENT, 0, 0),
	RULE(MSG_CTL_RESYNC, 0, 0, CTL, PARENT, 0, 0),
	RULE(MSG_CTL_RESULT, sizeof(struct msg_ctl_result),
	    sizeof(struct msg_ctl_result) + 1024, PARENT, CTL, 0, 0),
	RULE(MSG_DUMP, 0, 0, PARENT, DUMPERS, 0, 0),
	RULE(MSG_RESYNC, 0, 0, PARENT, DUMPERS, 0, 0),
	RULE(MSG_NODE_INFO, sizeof(struct msg_node_info),
	    (PAYLOAD_MAX / sizeof(struct msg_node_info)) *
	    sizeof(struct msg_node_info), WATCHER | PARENT, PARENT | CTL, 0,
	    sizeof(struct msg_node_info)),
	RULE(MSG_ROUTE_INFO, sizeof(struct msg_route_info),
	    (PAYLOAD_MAX / sizeof(struct msg_route_info)) *
	    sizeof(struct msg_route_info), EXECUTOR | PARENT, PARENT | CTL, 0,
	    sizeof(struct msg_route_info)),
	RULE(MSG_DUMP_END, 0, 0, DUMPERS | PARENT, PARENT | CTL, 0, 0),
	FIXED(MSG_NODE_NET, struct msg_node_net, EXECUTOR, PARENT),
	FIXED(MSG_IPSEC_KEY, struct ipsec_key, PARENT, EXECUTOR),
	RULE(MSG_IPSEC_SOCKET, sizeof(uint32_t), sizeof(uint32_t), PARENT,
	    EXECUTOR, 1, 0),
	FIXED(MSG_PING, struct msg_ping, PARENT, ROLES_CHILDREN),
	FIXED(MSG_PONG, struct msg_ping, ROLES_CHILDREN, PARENT),
	RULE(MSG_API_CONNECT, 0, 0, WATCHER, PARENT, 0, 0),
	RULE(MSG_API_SOCKET, 0, 0, PARENT, WATCHER, 1, 0),
	FIXED(MSG_API_CONNECT_FAILED, uint32_t, PARENT, WATCHER),
	RULE(MSG_MASQ_DUMP, 0, 0, PARENT, EXECUTOR, 0, 0),
	RULE(MSG_MASQ_TEXT, 1, PAYLOAD_MAX, EXECUTOR | PARENT, PARENT | CTL, 0,
	    0),
};

/* The histogram bucket of a duration. */
unsigned
stats_bucket(uint64_t us)
{
	unsigned	 i;

	for (i = 0; i < STATS_BUCKETS - 1; i++)
		if (us <= stats_bounds_us[i])
			break;
	return i;
}

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

	for (i = ROLE_WATCHER; i < ROLE_NPROC; i++)
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
