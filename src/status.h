/*
 * The daemon's status as the parent reports it: to kopeio-networkctl
 * on request, to the metrics process when it changes and every 5 s.
 */
#ifndef KN_STATUS_H
#define KN_STATUS_H

#include <stdint.h>

#include "proto.h"

struct parent;

/* What the children last said, and when the metrics process hears. */
struct status {
	struct msg_exec_stats	 exec;
	struct msg_watch_stats	 watch;
	int64_t			 started_wall;
	int64_t			 next;		/* to the metrics process */
};

void	status_build(const struct parent *, struct kn_status *);
void	status_changed(struct status *, int now);
void	status_send(struct parent *);

#endif
