/* What every libFuzzer target here shares. */
#ifndef KN_FUZZ_H
#define KN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * abort() rather than assert(): the check must hold in every build,
 * and libFuzzer turns the signal into a saved crash input.
 */
#define CHECK(e)	do {						\
	if (!(e))							\
		check_failed(__FILE__, __LINE__, #e);			\
} while (0)

static inline void __attribute__((__noreturn__))
check_failed(const char *file, int line, const char *expr)
{
	fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, expr);
	abort();
}

/*
 * A parser's verdict: 0, or -1 with a message that says why, in an
 * err buffer of errlen bytes that was cleared before the call.
 */
static inline int
check_verdict(int rv, const char *err, size_t errlen)
{
	CHECK(rv == 0 || rv == -1);
	CHECK(memchr(err, '\0', errlen) != NULL);
	if (rv == -1)
		CHECK(err[0] != '\0');
	return rv;
}

#endif
