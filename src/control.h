/*
 * The parent's control socket, for kopeio-networkctl: a root-only
 * unix socket speaking the daemon's own framing (src/msg.c).
 */
#ifndef KN_CONTROL_H
#define KN_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct pollfd;

/* What the parent does for the control socket. */
/* Each is called with the arg given to control_listen(). */
struct control_ops {
	void	(*status)(void *, struct kn_status *);
	/* reload; text says what happened; returns the tool's exit status */
	int	(*reload)(void *, char *text, size_t len);
	/* ask a child for its table under id; -1 when it is not running */
	int	(*dump)(void *, enum role, uint32_t type, uint32_t id);
	void	(*resync)(void *);
};

#define CONTROL_CLIENTS	8	/* at once; more wait in the backlog */

int	control_listen(const char *path, const struct control_ops *,
	    void *arg, char *err, size_t errlen);
void	control_cleanup(void);
int	control_pollfds(struct pollfd *, int max);
void	control_io(const struct pollfd *, int n);
void	control_forward(const struct msg *);

#endif
