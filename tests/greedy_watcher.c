/*
 * greedy_watcherd: the daemon, its parent and every other role the real
 * ones, with this program in the watcher's place, confined as the
 * watcher is: a watcher with a bug that eats memory.  It touches every
 * page it takes, so what it gets is what the node would lose, and says
 * how much it had when malloc failed.  Linked from src/kopeio-networkd.c
 * and the library, whose watcher.o this watcher_main() keeps out.
 */
#include <stdlib.h>
#include <string.h>

#include "../src/child.h"
#include "../src/log.h"

#define CHUNK	(1u << 20)

/* Every chunk stays reachable, so no compiler elides the allocations. */
static void *volatile	 eaten;

void
watcher_main(void)
{
	static struct child	 c;
	unsigned		 mib = 0;
	void			*p;

	child_init(&c, ROLE_WATCHER);
	child_peer(&c, ROLE_EXECUTOR, CHILD_FD_PEER);
	child_confine(&c);
	while ((p = malloc(CHUNK)) != NULL) {
		memset(p, 0xa5, CHUNK);
		*(void **)p = eaten;
		eaten = p;
		mib++;
	}
	fatalx("greedy watcher: malloc failed after %u MiB", mib);
}
