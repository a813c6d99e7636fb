/*
 * The one logging API of every process: see log.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static int	 log_stderr = 1;
static int	 log_verbose;
static const char *log_proc = "kopeio-networkd";
static void	(*log_sink)(int, const char *);
static void	(*log_atexit)(void);

void
log_init(int to_stderr, const char *procname)
{
	log_stderr = to_stderr;
	log_proc = procname;
	if (!to_stderr)
		openlog("kopeio-networkd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_procname(const char *procname)
{
	log_proc = procname;
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return log_verbose;
}

void
log_setsink(void (*sink)(int, const char *))
{
	log_sink = sink;
}

void
log_setexit(void (*fn)(void))
{
	log_atexit = fn;
}

/*
 * A child's log line is untrusted text: make every control character
 * and every byte outside printable ASCII visible as '?', so a
 * compromised child cannot forge lines or terminal escapes.
 */
void
log_sanitize(char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len && s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			s[i] = '?';
}

int
errset(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

void
log_emit(int pri, const char *procname, const char *line)
{
	char	 buf[LOG_LINE_MAX + 64];
	int	 n;

	if (log_stderr) {
		n = snprintf(buf, sizeof(buf), "%s: %s\n", procname, line);
		if (n < 0)
			return;
		if ((size_t)n >= sizeof(buf)) {
			n = sizeof(buf) - 1;
			buf[n - 1] = '\n';
		}
		/* Nothing useful can be done when stderr is gone. */
		if (write(STDERR_FILENO, buf, n) == -1)
			return;
	} else
		syslog(pri, "%s: %s", procname, line);
}

static void
vlog(int pri, const char *fmt, va_list ap, int with_errno)
{
	char	 line[LOG_LINE_MAX];
	int	 saved = errno;
	int	 n;

	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if (with_errno && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - n, ": %s", strerror(saved));
	if (log_sink != NULL)
		log_sink(pri, line);
	else
		log_emit(pri, log_proc, line);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap, 1);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap, 0);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, 0);
	va_end(ap);
}

static void __attribute__((__noreturn__))
vfatal(const char *fmt, va_list ap, int with_errno)
{
	vlog(LOG_CRIT, fmt, ap, with_errno);
	if (log_atexit != NULL)
		log_atexit();
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vfatal(fmt, ap, 1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vfatal(fmt, ap, 0);
}
