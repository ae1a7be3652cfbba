/*
 * stack_drive.c — the stack the digits model's calls take: P_init,
 * P_forward, P_predict, P_train_bp, P_train_zil, P_train_pc, P_step_bp,
 * P_step_zil and P_step_pc with Adam, P_save_mem and P_load_mem, run on a
 * thread whose stack is a static buffer painted with a pattern.  The
 * high-water mark is the distance from the thread function's frame
 * address down to the lowest byte no longer holding the pattern
 * (so the thread's own descriptor and TLS, which glibc puts at the top of
 * the buffer, do not count).  Prints "stack N" and exits 0; check_stack.py
 * compares N with the bound.  Link with -Wl,-z,now so that no lazy symbol
 * resolution runs on the measured stack.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "digits.h"

#define STACK_BYTES (1024 * 1024)
#define PAINT 0xa5

static unsigned char stack[STACK_BYTES] __attribute__((aligned(4096)));
static digits_params p, back;
static digits_state s;
static digits_opt o;
static unsigned char buf[DIGITS_CKPT_BYTES];
static uintptr_t entry_sp;
static int bad;

static void *
run(void *arg)
{
	pcg_optim adam = {PCG_ADAM, 1e-3, 0, 0.9, 0.999, 1e-8, 0};

	(void)arg;
	entry_sp = (uintptr_t)__builtin_frame_address(0);
	digits_init(&p, 1);
	for (int b = 0; b < DIGITS_BATCH; b++) {
		for (int i = 0; i < 64; i++)
			s.in.x[b][i] = (digits_real)((i + b) % 9 - 4) / 4;
		s.target.y[b][(b + 3) % 10] = 1;
	}
	digits_forward(&p, &s);
	digits_predict(&p, &s);
	digits_train_bp(&p, &s, (digits_real)0.1);
	digits_train_zil(&p, &s, (digits_real)0.1);
	digits_train_pc(&p, &s, (digits_real)0.1, 8, (digits_real)0.1);
	digits_step_bp(&p, &o, &s, &adam);
	digits_step_zil(&p, &o, &s, &adam);
	digits_step_pc(&p, &o, &s, &adam, 8, (digits_real)0.1);

	size_t n = digits_save_mem(&p, buf, sizeof buf);

	bad = n == 0 || digits_load_mem(&back, buf, n) != PCG_CKPT_OK ||
	      memcmp(&p, &back, sizeof p) != 0;
	return NULL;
}

int
main(void)
{
	pthread_attr_t attr;
	pthread_t t;
	size_t low = 0;

	memset(stack, PAINT, sizeof stack);
	if (pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setstack(&attr, stack, sizeof stack) != 0 ||
	    pthread_create(&t, &attr, run, NULL) != 0 ||
	    pthread_join(t, NULL) != 0) {
		fprintf(stderr, "stack_drive: cannot run the thread\n");
		return 2;
	}
	while (low < sizeof stack && stack[low] == PAINT)
		low++;
	if (bad) {
		fprintf(stderr, "stack_drive: the checkpoint round trip failed\n");
		return 1;
	}
	printf("stack %ld\n", (long)(entry_sp - (uintptr_t)&stack[low]));
	return 0;
}
