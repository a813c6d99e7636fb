/*
 * hostile_watcherd: the daemon, its parent and every other role the
 * real ones, with this program in the watcher's place, confined as the
 * watcher is: what a compromised watcher could send the parent for
 * `kopeio-networkctl show nodes`.  Linked from src/kopeio-networkd.c
 * and the library, whose watcher.o this watcher_main() keeps out.
 *
 * Its table: names that carry terminal escapes (one without a NUL), a
 * good name, "node-good", and last two records that are 'z' from
 * their first byte to their last, so that comparing their names, if
 * not bounded by the field, runs off the end of the table.
 */
#include <stdio.h>
#include <string.h>

#include "../src/child.h"

static void
hostile_control(struct child *c, struct msg *m)
{
	static const char	 esc[] = "evil\x1b]0;pwned\x07\x1b[2J";
	struct msg_node_info	 ni[5];

	if (m->hdr.type != MSG_DUMP)
		return;
	memset(ni, 0, sizeof(ni));
	memcpy(ni[0].name, esc, sizeof(esc));
	memset(ni[1].name, 'y', sizeof(ni[1].name));
	memcpy(ni[1].name + sizeof(ni[1].name) - 3, "\x1b[H", 3);
	snprintf(ni[2].name, sizeof(ni[2].name), "node-good");
	ni[2].local = 1;
	memset(&ni[3], 'z', 2 * sizeof(ni[3]));
	child_send_table(c, MSG_NODE_INFO, m->hdr.id, ni, 5, sizeof(ni[0]));
}

static const struct child_ops hostile_ops = {
	.control = hostile_control,
};

void
watcher_main(void)
{
	static struct child	 c;

	child_init(&c, ROLE_WATCHER);
	child_peer(&c, ROLE_EXECUTOR, CHILD_FD_PEER);
	c.ops = &hostile_ops;
	child_confine(&c);
	child_loop(&c);
}
