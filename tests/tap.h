/*
 * A tiny Test Anything Protocol producer for the unit tests, header
 * only: each test program is one translation unit, so the counters
 * can live here.  Everything goes to standard output, which is what
 * automake's tap-driver.sh reads; the code under test logs to
 * standard error, which TAP ignores.
 */
#ifndef KN_TAP_H
#define KN_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	 tap_count;
static int	 tap_failed;
static int	 tap_planned = -1;
static const char *tap_todo;

#define TAP_PRINTF(f, a)	__attribute__((__format__(printf, f, a)))

/* Announce the number of tests up front; done_testing() then checks it. */
static inline void
plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

static inline void TAP_PRINTF(1, 2)
diag(const char *fmt, ...)
{
	va_list	 ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/*
 * The description is printf-formatted; a '#' in it would start a TAP
 * directive, so callers keep it out of descriptions.
 */
static inline int TAP_PRINTF(4, 5)
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list	 ap;

	tap_count++;
	printf("%sok %d - ", pass ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (tap_todo != NULL)
		printf(" # TODO %s", tap_todo);
	fputc('\n', stdout);
	if (!pass) {
		/* A known bug, recorded: TAP does not count it as failed. */
		if (tap_todo == NULL)
			tap_failed++;
		printf("#   Failed %stest at %s line %d.\n",
		    tap_todo != NULL ? "(TODO) " : "", file, line);
	}
	fflush(stdout);
	return pass;
}

static inline int TAP_PRINTF(6, 7)
tap_is_int(intmax_t got, intmax_t want, const char *file, int line,
    const char *gotexpr, const char *fmt, ...)
{
	va_list	 ap;
	char	 desc[512];

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	if (tap_ok(got == want, file, line, "%s", desc))
		return 1;
	printf("#   %s\n#          got: %jd\n#     expected: %jd\n", gotexpr,
	    got, want);
	fflush(stdout);
	return 0;
}

static inline int TAP_PRINTF(6, 7)
tap_is_str(const char *got, const char *want, const char *file, int line,
    const char *gotexpr, const char *fmt, ...)
{
	va_list	 ap;
	char	 desc[512];
	int	 pass;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	pass = got != NULL && want != NULL ? strcmp(got, want) == 0 :
	    got == want;
	if (tap_ok(pass, file, line, "%s", desc))
		return 1;
	printf("#   %s\n#          got: \"%s\"\n#     expected: \"%s\"\n",
	    gotexpr, got ? got : "(null)", want ? want : "(null)");
	fflush(stdout);
	return 0;
}

/* Passes when needle occurs in haystack; shows both when it does not. */
static inline int TAP_PRINTF(6, 7)
tap_like(const char *hay, const char *needle, const char *file, int line,
    const char *hayexpr, const char *fmt, ...)
{
	va_list	 ap;
	char	 desc[512];

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	if (tap_ok(hay != NULL && strstr(hay, needle) != NULL, file, line,
	    "%s", desc))
		return 1;
	printf("#   %s\n#          got: \"%s\"\n#     expected to contain: "
	    "\"%s\"\n", hayexpr, hay ? hay : "(null)", needle);
	fflush(stdout);
	return 0;
}

/*
 * Tests between todo() and todo_end() document a known bug: they are
 * reported, but a failure does not fail the program.
 */
static inline void
todo(const char *reason)
{
	tap_todo = reason;
}

static inline void
todo_end(void)
{
	tap_todo = NULL;
}

#define ok(cond, ...)	tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)						\
	tap_is_int((intmax_t)(got), (intmax_t)(want), __FILE__, __LINE__, \
	    #got, __VA_ARGS__)
#define is_str(got, want, ...)						\
	tap_is_str((got), (want), __FILE__, __LINE__, #got, __VA_ARGS__)
#define like(got, needle, ...)						\
	tap_like((got), (needle), __FILE__, __LINE__, #got, __VA_ARGS__)

/* Setup that failed leaves nothing meaningful to test. */
static inline void __attribute__((__noreturn__)) TAP_PRINTF(1, 2)
bail_out(const char *fmt, ...)
{
	va_list	 ap;

	fputs("Bail out! ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	exit(255);
}

/*
 * Prints the plan when none was given, and returns the exit status:
 * nonzero when a test failed or the count differs from the plan.
 */
static inline int
done_testing(void)
{
	if (tap_planned < 0)
		printf("1..%d\n", tap_count);
	else if (tap_planned != tap_count) {
		printf("# planned %d tests but ran %d\n", tap_planned,
		    tap_count);
		tap_failed++;
	}
	if (tap_failed > 0)
		printf("# failed %d of %d tests\n", tap_failed, tap_count);
	fflush(stdout);
	return tap_failed > 0 ? 1 : 0;
}

#endif
