/*
 * The watcher's sockets to the API server: it never opens one, it
 * asks the parent (apiconn.c) and keeps the few it gets ready for
 * libcurl, which only does TLS and HTTP on them.
 */
#ifndef KN_WATCHCONN_H
#define KN_WATCHCONN_H

#include <curl/curl.h>
#include <poll.h>
#include <stdint.h>

#include "child.h"
#include "msg.h"

#define CONN_POOL_MAX		2	/* connected sockets kept ready */

struct wconn {
	struct msgchan		*ctl;		/* to the parent */
	int			 pool[CONN_POOL_MAX];
	int64_t			 pool_got[CONN_POOL_MAX];
	int			 npool;
	int			 asked;		/* a request is with the parent */
	int64_t			 asked_due;
	int			 curl_socks;	/* sockets libcurl holds now */
	struct pollfd		 socks[CHILD_POLL_MAX];	/* libcurl's */
	int			 nsocks;
	int64_t			 curl_due;	/* -1: no curl timer */
};

void	 wconn_init(struct wconn *, struct msgchan *ctl, CURLM *);
int	 wconn_pollfds(const struct wconn *, struct pollfd *, int max);
void	 wconn_io(struct wconn *, CURLM *, const struct pollfd *, int n);
void	 wconn_prune(struct wconn *);
int	 wconn_at_hand(struct wconn *, int transfers);
void	 wconn_arrived(struct wconn *, int fd);
int64_t	 wconn_due(const struct wconn *);
void	 wconn_lend(struct wconn *, CURL *);

#endif
