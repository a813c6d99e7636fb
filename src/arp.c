/*
 * The ARP helper of the vxlan-legacy mode: answers the kernel's
 * neighbour misses on the VXLAN device from the peer table the
 * watcher sends.  Keeps CAP_NET_ADMIN and nothing else.
 */
#include "child.h"

void
arp_main(void)
{
	struct child	 c;

	child_init(&c, ROLE_ARP);
	child_peer(&c, ROLE_WATCHER, CHILD_FD_PEER);
	child_confine(&c);
	child_loop(&c);
}
