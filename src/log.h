/*
 * One logging API for every process.  The parent writes lines to
 * standard error or syslog; a child hands each line to a sink that
 * forwards it to the parent over its control channel.
 */
#ifndef KN_LOG_H
#define KN_LOG_H

#include <stdarg.h>
#include <stddef.h>

#define LOG_LINE_MAX	1024

void	log_init(int to_stderr, const char *procname);
void	log_procname(const char *procname);
void	log_setverbose(int);
int	log_getverbose(void);
void	log_setsink(void (*)(int, const char *));
void	log_emit(int pri, const char *procname, const char *line);
void	log_warn(const char *, ...)
	    __attribute__((__format__(printf, 1, 2)));
void	log_warnx(const char *, ...)
	    __attribute__((__format__(printf, 1, 2)));
void	log_info(const char *, ...)
	    __attribute__((__format__(printf, 1, 2)));
void	log_debug(const char *, ...)
	    __attribute__((__format__(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((__format__(printf, 1, 2), __noreturn__));
void	fatalx(const char *, ...)
	    __attribute__((__format__(printf, 1, 2), __noreturn__));
void	log_sanitize(char *, size_t);
/* Format an error message for the caller to report; returns -1. */
int	errset(char *err, size_t errlen, const char *, ...)
	    __attribute__((__format__(printf, 3, 4)));

/* Called by fatal() before exit; a child flushes its queued log lines. */
void	log_setexit(void (*)(void));

#endif
