/*
 * The metrics process's pure parts: the Prometheus page and the
 * health answers, from the status the parent sends it.
 */
#ifndef KN_METRICS_H
#define KN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define METRICS_PAGE_MAX	32768
/*
 * A client that trickles its request holds a connection slot: each
 * request gets METRICS_REQUEST_MS in all, and there are slots for more
 * tricklers than one address is allowed; when an address has used its
 * share, its oldest connection makes room for its newest, so a probe
 * that shares 127.0.0.1 with a trickler still gets answered.
 */
#define METRICS_CONNECTIONS	256	/* at once, every address */
#define METRICS_PER_ADDR	128	/* at once, one address */
#define METRICS_REQUEST_MS	2000	/* accept (or last answer) to answer */
#define METRICS_BACKLOG		256	/* connections the kernel holds */
#define METRICS_TIMEOUT_S	10	/* an idle connection is closed */
#define METRICS_CONN_MEMORY	16384	/* bytes: a request's headers */
#define METRICS_CUT_LOG_MS	10000	/* at most one line of cuts per */

size_t	 metrics_render(const struct kn_status *, char *buf, size_t size);
int	 metrics_health(const struct kn_status *, int64_t age_ms, int ready,
	    char *why, size_t len);

#endif
