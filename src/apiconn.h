/*
 * The watcher's connections to the API server, opened by the parent.
 * The watcher may not open a socket: it asks (MSG_API_CONNECT), the
 * parent connects to the API server's address and port, never one the
 * watcher names, without blocking its loop, and hands over the
 * connected socket (MSG_API_SOCKET) or the reason it has none
 * (MSG_API_CONNECT_FAILED).  The watcher is assumed compromised, so
 * the requests it may make are bounded in number and in rate.
 */
#ifndef KN_APICONN_H
#define KN_APICONN_H

#include <sys/socket.h>
#include <sys/types.h>

#include <stdint.h>

#include "msg.h"

#define APICONN_PENDING_MAX	2	/* connects in flight */
#define APICONN_TIMEOUT_MS	10000	/* for one connect */
#define APICONN_BURST		10	/* requests at once, then */
#define APICONN_EVERY_MS	1000	/* one more each second */

struct pollfd;

void	apiconn_init(const struct sockaddr *, socklen_t);
void	apiconn_request(pid_t watcher, struct msgchan *);
int	apiconn_pollfds(struct pollfd *, int max, int64_t *timeout_ms);
void	apiconn_io(const struct pollfd *, int n, pid_t watcher,
	    struct msgchan *);

#endif
