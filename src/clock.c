/*
 * The clocks, read in the units the daemon counts in: milliseconds
 * (microseconds for timing the executor's work), as 64-bit integers.
 */
#include <time.h>

#include "clock.h"

/* clk in units of 1/per_s of a second. */
static int64_t
clock_read(clockid_t clk, int64_t per_s)
{
	struct timespec	 ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * per_s + ts.tv_nsec / (1000000000 / per_s);
}

/* Milliseconds of the monotonic clock: every timer of the daemon. */
int64_t
mono_ms(void)
{
	return clock_read(CLOCK_MONOTONIC, 1000);
}

int64_t
mono_us(void)
{
	return clock_read(CLOCK_MONOTONIC, 1000000);
}

/* Milliseconds since the epoch: only for showing when something was. */
int64_t
wall_ms(void)
{
	return clock_read(CLOCK_REALTIME, 1000);
}
