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

/*
 * Every message a process accepts is listed here, with the only
 * payload sizes and senders it may have.  The receiver consults this
 * table before it looks at a single payload byte.
 */
static const struct msg_rule msg_rules[] = {
	{ MSG_HELLO, "HELLO", sizeof(struct msg_hello),
	    sizeof(struct msg_hello), ROLES_ALL, ROLES_ALL, 0 },
	{ MSG_LOG, "LOG", sizeof(struct msg_log) + 1,
	    sizeof(struct msg_log) + LOG_LINE_MAX - 1, ROLES_CHILDREN,
	    ROLE_BIT(ROLE_PARENT), 0 },
	{ MSG_CONFIG, "CONFIG", sizeof(struct kn_config),
	    sizeof(struct kn_config), ROLE_BIT(ROLE_PARENT), ROLES_CHILDREN,
	    0 },
	{ MSG_CHANNEL, "CHANNEL", sizeof(struct msg_channel),
	    sizeof(struct msg_channel), ROLE_BIT(ROLE_PARENT), ROLES_CHILDREN,
	    1 },
	{ MSG_READY, "READY", sizeof(struct msg_ready),
	    sizeof(struct msg_ready), ROLES_CHILDREN, ROLE_BIT(ROLE_PARENT),
	    0 },
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
