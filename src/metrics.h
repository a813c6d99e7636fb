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
#define METRICS_CONNECTIONS	16	/* at once; more wait in the backlog */
#define METRICS_TIMEOUT_S	10	/* an idle connection is closed */

size_t	 metrics_render(const struct kn_status *, char *buf, size_t size);
int	 metrics_health(const struct kn_status *, int64_t age_ms, int ready,
	    char *why, size_t len);

#endif
