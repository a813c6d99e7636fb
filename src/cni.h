/*
 * The CNI configuration of this node (--cni-config): the parent
 * renders it from what the executor reports (MSG_NODE_NET) and writes
 * it.  cni_render() and cni_write() are the pure part and the file
 * part, apart so the unit tests drive them directly; cni_check() is
 * the file part's checks alone, for -n.  The rest is the parent's
 * state: what it last heard, whether the file holds it, when to try
 * again.
 */
#ifndef KN_CNI_H
#define KN_CNI_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define CNI_NETWORK	"kopeio"
#define CNI_BRIDGE	"cni0"
#define CNI_VERSION	"1.0.0"
#define CNI_TEXT_MAX	4096	/* the rendered file is well under this */
#define CNI_CHECK_MS	10000	/* a failed write is tried again, the file
				   compared again, this often */

int	 cni_render(const struct msg_node_net *, char *buf, size_t len,
	    char *err, size_t errlen);
void	 cni_cidrs(const struct msg_node_net *, char *buf, size_t len);
int	 cni_write(const char *path, const char *text, size_t len, char *err,
	    size_t errlen);
int	 cni_check(const char *path, char *err, size_t errlen);

/* The parent's side. */
void	 cni_init(const char *path);
void	 cni_node_net(const void *msg_node_net);
void	 cni_tick(int64_t now_ms);
int64_t	 cni_next(void);
int	 cni_current(void);

#endif
