/*
 * The ARP helper of the vxlan-legacy mode: answers the kernel's
 * neighbour misses on the VXLAN device from the peer table the
 * watcher sends.  Keeps CAP_NET_ADMIN and nothing else.
 */
#include "child.h"
#include "intentrx.h"
#include "log.h"

static void
arp_peer(struct child *c, enum role from, struct msg *m)
{
	struct msg_gen_result	 res;

	/* Only the executor reports generations to the watcher. */
	(void)from;
	intentrx_msg(c->state, m, &res);
}

static const struct child_ops arp_ops = {
	.peer = arp_peer,
};

void
arp_main(void)
{
	static struct intent_rx	 rx;
	struct child		 c;

	child_init(&c, ROLE_ARP);
	child_peer(&c, ROLE_WATCHER, CHILD_FD_PEER);
	if (intentrx_init(&rx, &c.conf) == -1)
		fatal("peer table");
	c.ops = &arp_ops;
	c.state = &rx;
	child_confine(&c);
	child_loop(&c);
}
