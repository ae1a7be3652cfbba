/*
 * bn_kernels_dump.c — writes the inputs and outputs of the runtime's batch
 * normalisation and dropout kernels for bn_kernel_oracle.py to check
 * against PyTorch.  Every number is printed as a hex float (exact).
 *
 * For each case [n][C][S]: x, dy and the running statistics before the
 * step (pseudo-random, channel c scaled and shifted differently), then
 * pcg_bn_train_d's y, mean and var, pcg_bn_update_d's running statistics
 * (momentum 0.1), pcg_bn_vjp_d's dx, and pcg_bn_eval_d's y and
 * pcg_bn_eval_vjp_d's dx with the updated running statistics (eps 1e-5).
 * Then draws of pcg_rng_at and dropout masks (float and double) with
 * x * mask.  Each array is a line `name count` and count lines of values.
 */
#include <stdio.h>
#include <stdlib.h>

#include "pcg_runtime.h"

#define EPS 1e-5
#define MOMENTUM 0.1

static void
put(const char *name, size_t n, const double *v)
{
	printf("%s %zu\n", name, n);
	for (size_t i = 0; i < n; i++)
		printf("%a\n", v[i]);
}

static void
putf(const char *name, size_t n, const float *v)
{
	printf("%s %zu\n", name, n);
	for (size_t i = 0; i < n; i++)
		printf("%a\n", (double)v[i]);
}

static double *
alloc(size_t n)
{
	double *p = calloc(n, sizeof *p);

	if (!p) {
		fprintf(stderr, "bn_kernels_dump: out of memory\n");
		exit(1);
	}
	return p;
}

static void
bn_case(int n, int C, int S, pcg_rng *r)
{
	size_t len = (size_t)n * C * S;
	double *x = alloc(len), *dy = alloc(len), *y = alloc(len);
	double *dx = alloc(len), *ye = alloc(len), *dxe = alloc(len);
	double *mean = alloc((size_t)C), *var = alloc((size_t)C);
	double *rmean = alloc((size_t)C), *rvar = alloc((size_t)C);

	for (size_t i = 0; i < len; i++) {
		int c = (int)(i / (size_t)S % (size_t)C);

		x[i] = (c + 1) * pcg_rng_normal(r) + 2.0 * c - 1;
		dy[i] = pcg_rng_normal(r);
	}
	for (int c = 0; c < C; c++) {
		rmean[c] = pcg_rng_normal(r);
		rvar[c] = 0.5 + pcg_rng_uniform(r);
	}
	printf("case %d %d %d\n", n, C, S);
	put("x", len, x);
	put("dy", len, dy);
	put("rmean0", (size_t)C, rmean);
	put("rvar0", (size_t)C, rvar);
	pcg_bn_train_d(n, C, S, EPS, y, mean, var, x);
	pcg_bn_update_d(n, C, S, MOMENTUM, rmean, rvar, mean, var);
	pcg_bn_vjp_d(n, C, S, EPS, 0, dx, dy, y, var);
	pcg_bn_eval_d(n, C, S, EPS, ye, rmean, rvar, x);
	pcg_bn_eval_vjp_d(n, C, S, EPS, 0, dxe, dy, rvar);
	put("y", len, y);
	put("mean", (size_t)C, mean);
	put("var", (size_t)C, var);
	put("rmean", (size_t)C, rmean);
	put("rvar", (size_t)C, rvar);
	put("dx", len, dx);
	put("y_eval", len, ye);
	put("dx_eval", len, dxe);
	free(x);
	free(dy);
	free(y);
	free(dx);
	free(ye);
	free(dxe);
	free(mean);
	free(var);
	free(rmean);
	free(rvar);
}

int
main(void)
{
	enum { N = 1000 };
	static const double ps[] = {0.1, 0.5, 0.9};
	static const uint64_t keys[][2] = {{0, 0}, {1, 0}, {0, 1},
					   {UINT64_C(0x123456789abcdef0), 77}};
	pcg_rng r;
	double *u = alloc(N), *xd = alloc(N), *md = alloc(N), *yd = alloc(N);
	float xf[N], mf[N], yf[N];

	pcg_rng_seed(&r, 2024);
	bn_case(4, 3, 5, &r);
	bn_case(3, 2, 1, &r);

	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		for (int i = 0; i < N; i++)
			u[i] = pcg_rng_at(keys[k][0], keys[k][1], (uint64_t)i);
		printf("rng %llu %llu\n", (unsigned long long)keys[k][0],
		       (unsigned long long)keys[k][1]);
		put("u", N, u);
	}
	for (int i = 0; i < N; i++) {
		xd[i] = pcg_rng_normal(&r);
		xf[i] = (float)pcg_rng_normal(&r);
	}
	for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
		pcg_dropout_mask_d(5, k, N, ps[k], md);
		pcg_mul_mask_d(N, yd, xd, md);
		pcg_dropout_mask_f(5, k, N, ps[k], mf);
		pcg_mul_mask_f(N, yf, xf, mf);
		printf("dropout %a 5 %zu\n", ps[k], k);
		put("x_d", N, xd);
		put("mask_d", N, md);
		put("y_d", N, yd);
		putf("x_f", N, xf);
		putf("mask_f", N, mf);
		putf("y_f", N, yf);
	}
	printf("end\n");
	free(u);
	free(xd);
	free(md);
	free(yd);
	return 0;
}
