/*
 * test_gemm_paths.c — the two copies of the GEMM in one build give the
 * same bits: the generic one and the AVX2 one that pcg_sgemm/pcg_dgemm
 * take at run time on processors with AVX2 (pcg_gemm.c).  So a program
 * computes the same numbers on any x86-64, whichever copy runs.
 *
 * The file includes pcg_gemm.c itself to reach both copies.  Where the
 * build has one copy only (a target with AVX2 already, -Dnative=true;
 * another architecture; -Dcblas=true) or the processor lacks AVX2, the
 * tests are skipped.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pcg_gemm.c"

#ifdef GEMM_DISPATCH_AVX2

/* a small deterministic generator, values in [-1, 1) */
static uint64_t rng = 0x2545f4914f6cdd1dULL;

static double
urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 4503599627370496.0 - 1;
}

/* elements whose bits differ */
static size_t
bits_differ(const void *x, const void *y, size_t n, size_t size)
{
	size_t d = 0;
	for (size_t i = 0; i < n; i++)
		d += memcmp((const char *)x + i * size,
			    (const char *)y + i * size, size) != 0;
	return d;
}

/*
 * One product by both copies, float and double, with beta 0 and beta
 * nonzero; the number of elements whose bits differ (0 expected).
 * perturb: change the last bit of one element of the AVX2 result first,
 * so that the comparison itself is seen to fail (negative control).
 */
static size_t
differ(int ta, int tb, int m, int n, int k, int perturb)
{
	size_t na = (size_t)m * k, nb = (size_t)k * n, nc = (size_t)m * n;
	float *as = malloc(na * sizeof *as), *bs = malloc(nb * sizeof *bs);
	float *c1 = malloc(nc * sizeof *c1), *c2 = malloc(nc * sizeof *c2);
	double *ad = malloc(na * sizeof *ad), *bd = malloc(nb * sizeof *bd);
	double *d1 = malloc(nc * sizeof *d1), *d2 = malloc(nc * sizeof *d2);
	for (size_t i = 0; i < na; i++)
		ad[i] = as[i] = (float)urand();
	for (size_t i = 0; i < nb; i++)
		bd[i] = bs[i] = (float)urand();
	int lda = ta ? m : k, ldb = tb ? k : n;
	size_t bad = 0;
	for (int beta = 0; beta < 2; beta++) {
		for (size_t i = 0; i < nc; i++)
			d1[i] = d2[i] = c1[i] = c2[i] = (float)urand();
		gemm_s(ta, tb, m, n, k, 0.75f, as, lda, bs, ldb, 0.5f * beta, c1,
		       n);
		gemm_s_avx2(ta, tb, m, n, k, 0.75f, as, lda, bs, ldb,
			    0.5f * beta, c2, n);
		gemm_d(ta, tb, m, n, k, 0.75, ad, lda, bd, ldb, 0.5 * beta, d1,
		       n);
		gemm_d_avx2(ta, tb, m, n, k, 0.75, ad, lda, bd, ldb,
			    0.5 * beta, d2, n);
		if (perturb) {
			uint32_t u;
			memcpy(&u, &c2[nc / 2], sizeof u);
			u ^= 1;
			memcpy(&c2[nc / 2], &u, sizeof u);
		}
		bad += bits_differ(c1, c2, nc, sizeof *c1);
		bad += bits_differ(d1, d2, nc, sizeof *d1);
	}
	free(as);
	free(bs);
	free(c1);
	free(c2);
	free(ad);
	free(bd);
	free(d1);
	free(d2);
	return bad;
}

static int
have_avx2(void)
{
	return __builtin_cpu_supports("avx2");
}

typedef struct trans_param {
	int ta, tb;
} trans_param;

ParameterizedTestParameters(gemm_paths, same_bits)
{
	static trans_param t[] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
	return cr_make_param_array(trans_param, t, sizeof t / sizeof t[0]);
}

/* Direct and blocked paths, edges of every tile, k across chunks. */
ParameterizedTest(trans_param *t, gemm_paths, same_bits)
{
	if (!have_avx2())
		cr_skip_test("the processor has no AVX2");
	static const int shapes[][3] = {
		{1, 1, 1},	{1, 256, 784}, {256, 784, 1}, {3, 17, 5},
		{4, 33, 129},	{5, 5, 5},     {6, 16, 128},  {7, 17, 129},
		{13, 9, 300},	{32, 256, 70}, {37, 70, 300}, {64, 64, 64},
		{100, 130, 257}, {200, 64, 16}, {16, 200, 64}, {8, 576, 25},
	};
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		int m = shapes[i][0], n = shapes[i][1], k = shapes[i][2];
		size_t bad = differ(t->ta, t->tb, m, n, k, 0);
		cr_assert(bad == 0,
			  "expected the generic and the AVX2 GEMM to give the "
			  "same bits (trans %d%d, %dx%dx%d): %zu elements differ",
			  t->ta, t->tb, m, n, k, bad);
	}
}

Test(gemm_paths, negative_control)
{
	if (!have_avx2())
		cr_skip_test("the processor has no AVX2");
	size_t bad = differ(0, 0, 37, 70, 300, 1);
	cr_assert(bad == 2, "expected the comparison to catch a one-bit change "
			    "of one element with beta 0 and with beta 0.5 (%zu "
			    "differences seen)", bad);
}

#else

Test(gemm_paths, same_bits)
{
	cr_skip_test("this build has one GEMM only (no run-time choice)");
}

#endif
