/*
 * host_shim.c — m4f.h for a program built for the host instead of the
 * an386 (startup.c): a clock, and no stack or heap measurement.
 */
#include <time.h>

#include "m4f.h"

size_t
m4f_stack_used(void)
{
	return 0;
}

size_t
m4f_stack_size(void)
{
	return 0;
}

size_t
m4f_heap_used(void)
{
	return 0;
}

uint64_t
m4f_ticks(void)
{
	return 0;
}

unsigned long
m4f_clock_ms(void)
{
	struct timespec t;
	if (!timespec_get(&t, TIME_UTC))
		return 0;
	return (unsigned long)t.tv_sec * 1000ul +
	       (unsigned long)(t.tv_nsec / 1000000);
}
