/*
 * The clocks: the monotonic one for every timer of the daemon, the
 * wall clock only for showing when something happened.
 */
#ifndef KN_CLOCK_H
#define KN_CLOCK_H

#include <stdint.h>

int64_t	 mono_ms(void);
int64_t	 mono_us(void);
int64_t	 wall_ms(void);

#endif
