/*
 * Text built into a fixed buffer with printf-style appends, for output
 * that must never allocate: the metrics page, the CNI file.  Running
 * out of room is remembered, not half-written over.
 */
#ifndef KN_OUT_H
#define KN_OUT_H

#include <stddef.h>

struct out {
	char	*buf;
	size_t	 len, size;	/* used, and the buffer's size */
	int	 full;		/* an append did not fit; len stops there */
};

void	out(struct out *, const char *, ...)
	    __attribute__((__format__(__printf__, 2, 3)));

#endif
