/*
 * What kopeio-networkctl prints of what it reads back from the
 * control socket, apart from its main() so that a fuzzer can feed it
 * anything.  It trusts nothing it is given: lengths are checked, text
 * is escaped before it reaches a terminal.
 */
#ifndef KN_CTLSHOW_H
#define KN_CTLSHOW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CTL_RECORDS_MAX	(1u << 20)	/* records of one table */

/* A reply being read: a status, a table of records, or a result. */
struct ctl_reply {
	uint32_t	 what;		/* enum ctl_show; ignored unless show */
	int		 show;		/* the request was MSG_CTL_SHOW */
	unsigned char	*recs;
	size_t		 n;		/* records in recs */
	int		 status;	/* the tool's exit status, once done */
};

size_t	ctl_escape(char *dst, size_t dstlen, const char *src, size_t srclen);
void	ctl_reply_init(struct ctl_reply *, int show, uint32_t what);
int	ctl_reply_msg(struct ctl_reply *, FILE *out, FILE *err, uint32_t type,
	    const void *data, size_t len);
void	ctl_reply_free(struct ctl_reply *);

#endif
