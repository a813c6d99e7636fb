/*
 * The watcher: the only process that reads bytes from the network.
 * No capabilities, an unprivileged uid, an empty chroot.  It holds
 * the intent channels to the executor and, in vxlan-legacy mode, to
 * the ARP helper.
 */
#include <fcntl.h>

#include "child.h"

void
watcher_main(void)
{
	struct child	 c;

	child_init(&c, ROLE_WATCHER);
	child_peer(&c, ROLE_EXECUTOR, CHILD_FD_PEER);
	/* The parent starts an ARP helper only when the mode needs one. */
	if (fcntl(CHILD_FD_PEER2, F_GETFD) != -1)
		child_peer(&c, ROLE_ARP, CHILD_FD_PEER2);
	child_confine(&c);
	child_loop(&c);
}
