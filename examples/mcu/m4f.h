/*
 * m4f.h — what the an386 startup (startup.c) offers a program besides
 * newlib's C library: the stack's high-water mark and a clock.  A program
 * built for a host links host_shim.c instead, which gives the same
 * functions (no stack or heap measurement there).
 */
#ifndef M4F_H
#define M4F_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of the stack ever used since reset (painted at reset, scanned now);
 * 0 where not measured (the host shim). */
size_t m4f_stack_used(void);
/* Bytes reserved for the stack (the linker script's M4F_STACK_SIZE). */
size_t m4f_stack_size(void);
/* Bytes of heap handed out so far (malloc through _sbrk: newlib's stdio
 * buffers); 0 in the host shim. */
size_t m4f_heap_used(void);
/* Milliseconds since some fixed point: the host's clock through
 * semihosting (SYS_CLOCK, 10 ms resolution) on the device. */
unsigned long m4f_clock_ms(void);

/* Ticks of SysTick on the core's clock since reset (25 MHz on the an386).
 * QEMU runs the clock in real time, unless the runner's --icount makes
 * it count instructions: then one tick is 40 instructions.  0 in the host
 * shim. */
uint64_t m4f_ticks(void);

#ifdef __cplusplus
}
#endif

#endif
