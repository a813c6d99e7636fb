/*
 * The executor: the only process that changes the kernel's network
 * state.  It keeps CAP_NET_ADMIN and nothing else and listens to the
 * watcher over its intent channel.
 */
#include "child.h"

void
executor_main(void)
{
	struct child	 c;

	child_init(&c, ROLE_EXECUTOR);
	child_peer(&c, ROLE_WATCHER, CHILD_FD_PEER);
	child_confine(&c);
	child_loop(&c);
}
