/*
 * Text built into a fixed buffer, never allocating: see out.h.
 */
#include <stdarg.h>
#include <stdio.h>

#include "out.h"

void
out(struct out *o, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len)
		o->full = 1;
	else
		o->len += n;
}
