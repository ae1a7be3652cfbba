/*
 * tiles_drive.c — products through every path of pcg_sgemm and
 * pcg_dgemm (direct with and without the copy of op(B), blocked with full
 * and edge strips, all four transpose cases), printing one hash of every
 * result's bits.  check_stack.py builds it with several tile
 * configurations: the hash must not change, except with another
 * PCG_GEMM_KC (the control).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcg_runtime.h"

static uint64_t hash = UINT64_C(0xcbf29ce484222325);

static void
mix(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		hash = (hash ^ b[i]) * UINT64_C(0x100000001b3);
}

static uint64_t state = 0x9e3779b97f4a7c15u;

static double
value(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return (double)(state >> 11) * 0x1.0p-52 - 1;
}

int
main(void)
{
	static const int shapes[][3] = {
		{1, 32, 64},  {32, 1, 64},  {4, 100, 300}, {100, 4, 300},
		{3, 5, 7},    {16, 16, 16}, {13, 70, 300}, {37, 29, 261},
		{64, 64, 64}, {7, 200, 33}, {200, 9, 129}};
	const int ns = (int)(sizeof shapes / sizeof shapes[0]);

	for (int s = 0; s < ns; s++) {
		int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
		float *af = malloc(sizeof(float) * m * k);
		float *bf = malloc(sizeof(float) * k * n);
		float *cf = malloc(sizeof(float) * m * n);
		double *ad = malloc(sizeof(double) * m * k);
		double *bd = malloc(sizeof(double) * k * n);
		double *cd = malloc(sizeof(double) * m * n);

		if (!af || !bf || !cf || !ad || !bd || !cd)
			return 2;
		for (int i = 0; i < m * k; i++)
			af[i] = (float)(ad[i] = value());
		for (int i = 0; i < k * n; i++)
			bf[i] = (float)(bd[i] = value());
		for (int t = 0; t < 4; t++) {
			int ta = t & 1, tb = t >> 1;

			for (int i = 0; i < m * n; i++)
				cf[i] = (float)(cd[i] = value());
			pcg_sgemm(ta, tb, m, n, k, 0.5f, af, ta ? m : k, bf,
				  tb ? k : n, 0.25f, cf, n);
			pcg_dgemm(ta, tb, m, n, k, 0.5, ad, ta ? m : k, bd,
				  tb ? k : n, 0.25, cd, n);
			mix(cf, sizeof(float) * m * n);
			mix(cd, sizeof(double) * m * n);
		}
		free(af);
		free(bf);
		free(cf);
		free(ad);
		free(bd);
		free(cd);
	}
	printf("%016llx\n", (unsigned long long)hash);
	return 0;
}
