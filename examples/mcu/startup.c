/*
 * startup.c — reset and C library glue for a Cortex-M4F on QEMU's
 * mps2-an386 (memory map in an386.ld).
 *
 * The vector table: the initial stack pointer, the reset handler and a
 * handler for every fault (which reports the fault and exits with status
 * 3).  Reset enables the FPU (CPACR: full access to CP10 and CP11) before
 * any C code can touch a floating-point register, copies .data from flash,
 * zeroes .bss, paints the stack with a pattern (m4f_stack_used measures
 * how much of it was ever overwritten), starts SysTick (m4f_ticks), runs
 * the static constructors, then main, and exits with main's status.
 *
 * newlib's system calls are implemented here with ARM semihosting (bkpt
 * 0xAB): write to the debugger's console (":tt"), the clock, and exit
 * through SYS_EXIT_EXTENDED, which carries the status to QEMU (QEMU exits
 * with it; plain SYS_EXIT could only tell success from failure).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "m4f.h"

int main(void);

/* from an386.ld */
extern uint32_t __data_start[], __data_end[], __data_load[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_top[], __stack_bottom[];
extern char __heap_start[], __heap_end[];
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);

#define STACK_PAINT 0xC5AC5AC5u

/* SysTick's registers */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)

static volatile uint32_t systick_wraps; /* SysTick periods completed */

void m4f_reset(void);
void m4f_start(void);
static void fault(void);
static void systick(void);

/* --- semihosting --- */

enum {
	SYS_OPEN = 0x01,
	SYS_WRITE = 0x05,
	SYS_CLOCK = 0x10,
	SYS_EXIT = 0x18,
	SYS_EXIT_EXTENDED = 0x20,
	ADP_STOPPED_APPLICATION_EXIT = 0x20026,
	ADP_STOPPED_RUNTIME_ERROR_UNKNOWN = 0x20023,
};

static int
semihost(int op, const void *arg)
{
	register int r0 __asm__("r0") = op;
	register const void *r1 __asm__("r1") = arg;
	__asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
	return r0;
}

static void __attribute__((noreturn))
semihost_exit(int status)
{
	uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
	semihost(SYS_EXIT_EXTENDED, block);
	/* a debugger without the extension: success or failure only */
	semihost(SYS_EXIT, (const void *)(uintptr_t)(
		status ? ADP_STOPPED_RUNTIME_ERROR_UNKNOWN
		       : ADP_STOPPED_APPLICATION_EXIT));
	for (;;)
		;
}

/* the console's handle, opened on first use; -1 if it cannot be */
static int
console(void)
{
	static int handle = -2;
	if (handle == -2) {
		uint32_t args[3] = {(uint32_t)(uintptr_t)":tt", 4 /* "w" */, 3};
		handle = semihost(SYS_OPEN, args);
	}
	return handle;
}

/* --- the vector table and reset --- */

/* what the core reads at 0: the initial stack pointer, then the handlers */
struct m4f_vectors {
	void *sp;
	void (*handler[15])(void);
};

__attribute__((section(".vectors"), used))
static const struct m4f_vectors vectors = {
	__stack_top, /* initial SP */
	{
		m4f_reset,          /* reset */
		fault,              /* NMI */
		fault,              /* HardFault */
		fault,              /* MemManage */
		fault,              /* BusFault */
		fault,              /* UsageFault */
		0, 0, 0, 0,         /* reserved */
		fault,              /* SVCall */
		fault,              /* DebugMonitor */
		0,                  /* reserved */
		fault,              /* PendSV */
		systick,            /* SysTick */
	},
};

/* Enable the FPU before the compiler may use it: CPACR (0xE000ED88) bits
 * 20..23 give full access to CP10 and CP11; then the barriers the
 * architecture asks for. */
__attribute__((naked)) void
m4f_reset(void)
{
	__asm__ volatile(
		"ldr r0, =0xE000ED88\n"
		"ldr r1, [r0]\n"
		"orr r1, r1, #(0xF << 20)\n"
		"str r1, [r0]\n"
		"dsb\n"
		"isb\n"
		"b m4f_start\n"
		".ltorg\n");
}

void
m4f_start(void)
{
	/* volatile: no loop may become a memcpy or memset call here */
	volatile uint32_t *to = __data_start;
	const volatile uint32_t *from = __data_load;
	while (to < __data_end)
		*to++ = *from++;
	for (volatile uint32_t *p = __bss_start; p < __bss_end; p++)
		*p = 0;
	/* paint the stack below this frame (with a margin for the calls) */
	uintptr_t sp;
	__asm__ volatile("mov %0, sp" : "=r"(sp));
	for (volatile uint32_t *p = __stack_bottom; (uintptr_t)p < sp - 64; p++)
		*p = STACK_PAINT;
	/* SysTick on the core's clock, interrupting every 2^24 ticks */
	SYST_RVR = 0xFFFFFF;
	SYST_CVR = 0;
	SYST_CSR = 7; /* enable, interrupt, processor clock */
	/* the counter loads RVR on its first tick: count from there */
	while (SYST_CVR == 0)
		;
	systick_wraps = 0;
	for (void (**f)(void) = __init_array_start; f < __init_array_end; f++)
		(*f)();
	exit(main());
}

static void
fault(void)
{
	static const char msg[] = "m4f: fault (exception taken)\n";
	uint32_t args[3] = {(uint32_t)console(), (uint32_t)(uintptr_t)msg,
			    sizeof msg - 1};
	semihost(SYS_WRITE, args);
	semihost_exit(3);
}

static void
systick(void)
{
	systick_wraps++;
}

uint64_t
m4f_ticks(void)
{
	uint32_t wraps, now;
	do {
		wraps = systick_wraps;
		now = SYST_CVR;
		/* read again if a wrap's interrupt ran in between */
	} while (wraps != systick_wraps);
	return ((uint64_t)wraps << 24) + (0xFFFFFFu - now);
}

size_t
m4f_stack_used(void)
{
	const uint32_t *p = __stack_bottom;
	while (p < __stack_top && *p == STACK_PAINT)
		p++;
	return (size_t)((const char *)__stack_top - (const char *)p);
}

size_t
m4f_stack_size(void)
{
	return (size_t)((const char *)__stack_top -
			(const char *)__stack_bottom);
}

unsigned long
m4f_clock_ms(void)
{
	return (unsigned long)semihost(SYS_CLOCK, NULL) * 10ul;
}

/* --- newlib's system calls --- */

/* crti.o's hooks, which newlib's __libc_init_array and __libc_fini_array
 * call; the constructors run from m4f_start */
void
_init(void)
{
}

void
_fini(void)
{
}

void __attribute__((noreturn))
_exit(int status)
{
	semihost_exit(status);
}

int
_write(int fd, const void *buf, size_t len)
{
	if (fd != 1 && fd != 2) {
		errno = EBADF;
		return -1;
	}
	uint32_t args[3] = {(uint32_t)console(), (uint32_t)(uintptr_t)buf,
			    (uint32_t)len};
	int left = semihost(SYS_WRITE, args); /* bytes not written */
	if (console() < 0 || left < 0 || (size_t)left > len) {
		errno = EIO;
		return -1;
	}
	return (int)(len - (size_t)left);
}

int
_read(int fd, void *buf, size_t len)
{
	(void)fd, (void)buf, (void)len;
	return 0; /* no input: end of file */
}

int
_close(int fd)
{
	(void)fd;
	return 0;
}

int
_fstat(int fd, struct stat *st)
{
	(void)fd;
	memset(st, 0, sizeof *st);
	st->st_mode = S_IFCHR; /* a terminal: stdout is line buffered */
	return 0;
}

int
_isatty(int fd)
{
	return fd >= 0 && fd <= 2;
}

long
_lseek(int fd, long off, int whence)
{
	(void)fd, (void)off, (void)whence;
	errno = ESPIPE;
	return -1;
}

static char *brk = __heap_start;

size_t
m4f_heap_used(void)
{
	return (size_t)(brk - __heap_start);
}

void *
_sbrk(ptrdiff_t incr)
{
	if (incr > __heap_end - brk || incr < __heap_start - brk) {
		errno = ENOMEM;
		return (void *)-1;
	}
	char *old = brk;
	brk += incr;
	return old;
}

int
_getpid(void)
{
	return 1;
}

int
_kill(int pid, int sig)
{
	(void)pid;
	semihost_exit(128 + sig); /* abort(): SIGABRT, status 134 */
}
