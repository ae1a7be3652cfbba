/*
 * opt_drive.c — 30 steps of each optimizer on 256 float parameters with
 * fixed gradients, through pcg_opt_update_f, printing every parameter as
 * a hex float.  check_float.py builds it on the host with and without
 * PCG_NO_DOUBLE (float scalars) and compares the two.  LR_SCALE (default
 * 1) scales the learning rate: the control of that comparison.
 */
#include <stdio.h>

#include "pcg_runtime.h"

#ifndef LR_SCALE
#define LR_SCALE 1
#endif

enum { N = 256, STEPS = 30 };

int
main(void)
{
	static const pcg_optim opts[] = {
		{PCG_SGD, 0.05 * LR_SCALE, 0, 0, 0, 0, 0.01},
		{PCG_MOMENTUM, 0.05 * LR_SCALE, 0.9, 0, 0, 0, 0},
		{PCG_NESTEROV, 0.05 * LR_SCALE, 0.8, 0, 0, 0, 0.001},
		{PCG_ADAM, 1e-3 * LR_SCALE, 0, 0.9, 0.999, 1e-8, 0.01},
		{PCG_ADAMW, 3e-3 * LR_SCALE, 0, 0.85, 0.995, 1e-6, 0.05}};
	static float p[N], g[N], m[N], v[N];

	for (unsigned o = 0; o < sizeof opts / sizeof opts[0]; o++) {
		for (int i = 0; i < N; i++)
			p[i] = (float)(i % 17 - 8) / 8;
		for (int t = 1; t <= STEPS; t++) {
			for (int i = 0; i < N; i++)
				g[i] = p[i] * 0.5f + (float)((i * t) % 13 - 6) / 16;
			if (pcg_opt_update_f(&opts[o], t, N, p, g, m, v) != 0)
				return 1;
		}
		for (int i = 0; i < N; i++)
			printf("%a\n", (double)p[i]);
	}
	return 0;
}
