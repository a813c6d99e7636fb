/*
 * Starting a child: the parent's half of the start-up handshake whose
 * other half is child_init().  Shared by the parent and by the test
 * driver that plays the parent for one real executor.
 */
#ifndef KN_SPAWN_H
#define KN_SPAWN_H

#include <sys/types.h>

#include "config.h"
#include "msg.h"

int	spawn_exe(const char *path);
void	spawn_pair(int sv[2]);
pid_t	spawn_child(int exe_fd, enum role, const struct kn_config *,
	    int peer, int peer2, struct msgchan *ctl);
void	spawn_log(const struct msg *, enum role);

#endif
