/*
 * test_gemm_paths.c — the copies of the GEMM in a generic x86-64 build
 * (pcg_gemm.c): the generic one, the AVX2 + FMA one and the AVX-512 one,
 * which pcg_sgemm/pcg_dgemm take at run time on processors that have
 * them.  test_runtime.c checks the copy the processor runs; this file
 * checks the others too:
 *   - each copy's result depends on k alone (a row or a column computed
 *     on its own has the bits it has in the whole product);
 *   - the generic and the AVX2 copies compute the same product, to
 *     rounding: they differ only in fusing the multiply-adds;
 *   - the AVX-512 copy gives the AVX2 copy's bits on every path;
 *   - built with PCG_REPRODUCIBLE (test 'gemm paths repro'), all three
 *     give the same bits.
 *
 * The file includes pcg_gemm.c itself to reach every copy.  Where the
 * build has one copy only (a target with AVX2 already, -Dnative=true;
 * another architecture) or the processor lacks AVX2 and FMA, or AVX-512,
 * the tests are skipped.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pcg_gemm.c"
#include "../tests/test_rng.h"

#ifdef GEMM_DISPATCH_AVX2

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static double
urand(void)
{
	return test_urand(&rng);
}

typedef struct prod {
	int ta, tb, m, n, k, lda, ldb;
	float *as, *bs, *c0;
	double *ad, *bd, *d0, *bound; /* bound: sum |a||b| + |beta c| */
} prod;

static prod
prod_make(int ta, int tb, int m, int n, int k, double beta)
{
	prod p = {ta, tb, m, n, k, ta ? m : k, tb ? k : n, 0, 0, 0, 0, 0, 0,
		  0};
	size_t na = (size_t)m * k, nb = (size_t)k * n, nc = (size_t)m * n;
	p.as = malloc(na * sizeof *p.as);
	p.bs = malloc(nb * sizeof *p.bs);
	p.c0 = malloc(nc * sizeof *p.c0);
	p.ad = malloc(na * sizeof *p.ad);
	p.bd = malloc(nb * sizeof *p.bd);
	p.d0 = malloc(nc * sizeof *p.d0);
	p.bound = malloc(nc * sizeof *p.bound);
	for (size_t i = 0; i < na; i++)
		p.ad[i] = p.as[i] = (float)urand();
	for (size_t i = 0; i < nb; i++)
		p.bd[i] = p.bs[i] = (float)urand();
	for (size_t i = 0; i < nc; i++)
		p.d0[i] = p.c0[i] = (float)urand();
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++) {
			double s = 0;
			for (int q = 0; q < k; q++) {
				double a = ta ? p.ad[(size_t)q * p.lda + i]
					      : p.ad[(size_t)i * p.lda + q];
				double b = tb ? p.bd[(size_t)j * p.ldb + q]
					      : p.bd[(size_t)q * p.ldb + j];
				s += fabs(a * b);
			}
			p.bound[(size_t)i * n + j] =
				s + fabs(beta * p.d0[(size_t)i * n + j]);
		}
	return p;
}

static void
prod_free(prod *p)
{
	free(p->as);
	free(p->bs);
	free(p->c0);
	free(p->ad);
	free(p->bd);
	free(p->d0);
	free(p->bound);
}

/*
 * Elements where the two copies differ by more than rounding allows:
 * 2 (k + 2) eps (sum |a||b| + |beta c|), for float and double.  perturb:
 * move one element of the AVX2 result by 1e-3 of its bound first
 * (negative control).
 */
static size_t
copies_differ(int ta, int tb, int m, int n, int k, double beta, int perturb)
{
	prod p = prod_make(ta, tb, m, n, k, beta);
	size_t nc = (size_t)m * n, bad = 0;
	float *c1 = malloc(nc * sizeof *c1), *c2 = malloc(nc * sizeof *c2);
	double *d1 = malloc(nc * sizeof *d1), *d2 = malloc(nc * sizeof *d2);
	memcpy(c1, p.c0, nc * sizeof *c1);
	memcpy(c2, p.c0, nc * sizeof *c2);
	memcpy(d1, p.d0, nc * sizeof *d1);
	memcpy(d2, p.d0, nc * sizeof *d2);
	gemm_s(ta, tb, m, n, k, 1, p.as, p.lda, p.bs, p.ldb, (float)beta, c1,
	       n);
	gemm_s_avx2(ta, tb, m, n, k, 1, p.as, p.lda, p.bs, p.ldb, (float)beta,
		    c2, n);
	gemm_d(ta, tb, m, n, k, 1, p.ad, p.lda, p.bd, p.ldb, beta, d1, n);
	gemm_d_avx2(ta, tb, m, n, k, 1, p.ad, p.lda, p.bd, p.ldb, beta, d2, n);
	if (perturb) {
		c2[nc / 2] += (float)(1e-3 * p.bound[nc / 2]);
		d2[nc / 2] += 1e-3 * p.bound[nc / 2];
	}
	for (size_t i = 0; i < nc; i++) {
		double tf = 2.0 * (k + 2) * FLT_EPSILON * p.bound[i];
		double td = 2.0 * (k + 2) * DBL_EPSILON * p.bound[i];
		bad += fabs((double)c1[i] - c2[i]) > tf;
		bad += fabs(d1[i] - d2[i]) > td;
	}
	free(c1);
	free(c2);
	free(d1);
	free(d2);
	prod_free(&p);
	return bad;
}

typedef void (*gemm_fn)(int trans_a, int trans_b, int m, int n, int k,
			float alpha, const float *a, int lda, const float *b,
			int ldb, float beta, float *c, int ldc);
typedef void (*dgemm_fn)(int trans_a, int trans_b, int m, int n, int k,
			 double alpha, const double *a, int lda,
			 const double *b, int ldb, double beta, double *c,
			 int ldc);

/*
 * Elements of one copy's float product whose bits change when each row,
 * then each column, is computed on its own.
 */
static size_t
alone_differs(gemm_fn gemm, int ta, int tb, int m, int n, int k)
{
	prod p = prod_make(ta, tb, m, n, k, 0);
	size_t nc = (size_t)m * n, bad = 0;
	float *whole = malloc(nc * sizeof *whole);
	float *part = malloc(nc * sizeof *part);
	gemm(ta, tb, m, n, k, 1, p.as, p.lda, p.bs, p.ldb, 0, whole, n);
	for (int i = 0; i < m; i++) /* row i of op(A) */
		gemm(ta, tb, 1, n, k, 1, p.as + (ta ? (size_t)i : (size_t)i * p.lda),
		     p.lda, p.bs, p.ldb, 0, part + (size_t)i * n, n);
	for (size_t i = 0; i < nc; i++)
		bad += memcmp(&whole[i], &part[i], sizeof *whole) != 0;
	for (int j = 0; j < n; j++) /* column j of op(B) */
		gemm(ta, tb, m, 1, k, 1, p.as, p.lda,
		     p.bs + (tb ? (size_t)j * p.ldb : (size_t)j), p.ldb, 0,
		     part + j, n);
	for (size_t i = 0; i < nc; i++)
		bad += memcmp(&whole[i], &part[i], sizeof *whole) != 0;
	free(whole);
	free(part);
	prod_free(&p);
	return bad;
}

/*
 * Elements (float and double) where two copies give different bits,
 * beta and alpha as given, C with a row stride larger than n.  perturb:
 * flip the last bit of one element of the second result first (negative
 * control).
 */
static size_t
bits_differ(gemm_fn s1, gemm_fn s2, dgemm_fn d1, dgemm_fn d2, int ta, int tb,
	    int m, int n, int k, double alpha, double beta, int perturb)
{
	prod p = prod_make(ta, tb, m, n, k, beta);
	int ldc = n + 3;
	size_t nc = (size_t)m * ldc, bad = 0;
	float *c1 = malloc(nc * sizeof *c1), *c2 = malloc(nc * sizeof *c2);
	double *e1 = malloc(nc * sizeof *e1), *e2 = malloc(nc * sizeof *e2);
	for (int i = 0; i < m; i++)
		for (int j = 0; j < ldc; j++) {
			size_t o = (size_t)i * ldc + j;
			double v = j < n ? p.d0[(size_t)i * n + j] : 7;
			c1[o] = c2[o] = (float)v;
			e1[o] = e2[o] = v;
		}
	s1(ta, tb, m, n, k, (float)alpha, p.as, p.lda, p.bs, p.ldb,
	   (float)beta, c1, ldc);
	s2(ta, tb, m, n, k, (float)alpha, p.as, p.lda, p.bs, p.ldb,
	   (float)beta, c2, ldc);
	d1(ta, tb, m, n, k, alpha, p.ad, p.lda, p.bd, p.ldb, beta, e1, ldc);
	d2(ta, tb, m, n, k, alpha, p.ad, p.lda, p.bd, p.ldb, beta, e2, ldc);
	if (perturb) {
		uint32_t u;
		uint64_t v;
		memcpy(&u, &c2[nc / 2], sizeof u);
		u ^= 1;
		memcpy(&c2[nc / 2], &u, sizeof u);
		memcpy(&v, &e2[nc / 2], sizeof v);
		v ^= 1;
		memcpy(&e2[nc / 2], &v, sizeof v);
	}
	bad += (size_t)(memcmp(c1, c2, nc * sizeof *c1) != 0);
	bad += (size_t)(memcmp(e1, e2, nc * sizeof *e1) != 0);
	free(c1);
	free(c2);
	free(e1);
	free(e2);
	prod_free(&p);
	return bad;
}

static void
need_avx2_fma(void)
{
	if (!AVX2_OK())
		cr_skip_test("the processor lacks AVX2 or FMA");
}

static void
need_avx512(void)
{
	if (!AVX512_OK())
		cr_skip_test("the processor lacks AVX-512 (F, VL, DQ, BW)");
}

typedef struct trans_param {
	int ta, tb;
} trans_param;

ParameterizedTestParameters(gemm_paths, agree)
{
	static trans_param t[] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
	return cr_make_param_array(trans_param, t, sizeof t / sizeof t[0]);
}

static const int shapes[][3] = {
	{1, 1, 1},	{1, 256, 784}, {256, 784, 1}, {3, 17, 5},
	{4, 33, 129},	{5, 5, 5},     {6, 16, 128},  {7, 17, 129},
	{13, 9, 300},	{32, 256, 70}, {37, 70, 300}, {64, 64, 64},
	{100, 130, 257}, {200, 64, 16}, {16, 200, 64}, {8, 576, 25},
	{1, 784, 256},	{1, 10, 256},  {1, 37, 300},  {1, 200, 16},
	{2, 300, 129},	{10, 256, 1},  {70, 33, 1},   {72, 256, 8},
	{1, 10, 32},	{1, 2, 300},   {1, 17, 259},  {1, 9, 643},
};

/* Direct and blocked paths, edges of every tile, k across chunks. */
ParameterizedTest(trans_param *t, gemm_paths, agree)
{
	need_avx2_fma();
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		int m = shapes[i][0], n = shapes[i][1], k = shapes[i][2];
		for (int b = 0; b < 2; b++) {
			size_t bad = copies_differ(t->ta, t->tb, m, n, k,
						   0.5 * b, 0);
			cr_assert(bad == 0,
				  "expected the generic and the AVX2 GEMM to "
				  "agree to rounding (trans %d%d, %dx%dx%d, "
				  "beta %g): %zu elements differ more",
				  t->ta, t->tb, m, n, k, 0.5 * b, bad);
		}
	}
}

Test(gemm_paths, agree_negative_control)
{
	need_avx2_fma();
	size_t bad = copies_differ(0, 0, 37, 70, 300, 0.5, 1);
	cr_assert(bad == 2, "expected the comparison to catch one element "
			    "moved by 1e-3 of its size, in float and in double "
			    "(%zu differences seen)", bad);
}

typedef struct copy_param {
	int ta, tb;
	int copy; /* 0 generic, 1 AVX2, 2 AVX-512 */
} copy_param;

ParameterizedTestParameters(gemm_paths, rows_and_columns_alone)
{
	static copy_param t[12];
	for (int i = 0; i < 12; i++)
		t[i] = (copy_param){i & 1, i >> 1 & 1, i >> 2};
	return cr_make_param_array(copy_param, t, sizeof t / sizeof t[0]);
}

/*
 * Every copy, which test_runtime.c does not all reach on one processor;
 * the shapes take the direct path (rows, columns alone) and the blocked
 * one (the whole product), k across chunks.
 */
ParameterizedTest(copy_param *t, gemm_paths, rows_and_columns_alone)
{
	static const int sh[][3] = {{37, 70, 300}, {13, 9, 129}, {64, 64, 64},
				    {40, 200, 784}, {24, 70, 1},
				    {32, 256, 200}};
	gemm_fn fn = gemm_s;
	if (t->copy == 1) {
		need_avx2_fma();
		fn = gemm_s_avx2;
	} else if (t->copy == 2) {
		need_avx512();
		fn = gemm_s_avx512;
	}
	for (size_t i = 0; i < sizeof sh / sizeof sh[0]; i++) {
		size_t bad = alone_differs(fn, t->ta, t->tb, sh[i][0],
					   sh[i][1], sh[i][2]);
		cr_assert(bad == 0,
			  "expected rows and columns computed alone by GEMM "
			  "copy %d to have the bits of the whole product "
			  "(trans %d%d, %dx%dx%d): %zu elements differ",
			  t->copy, t->ta, t->tb, sh[i][0], sh[i][1], sh[i][2],
			  bad);
	}
}

/*
 * Negative control of the comparison: a product whose row is summed in
 * another order (here: k in one chunk, against two) is seen to differ.
 */
static void
gemm_s_reversed_chunks(int ta, int tb, int m, int n, int k, float alpha,
		       const float *a, int lda, const float *b, int ldb,
		       float beta, float *c, int ldc)
{
	if (m > 1) {
		gemm_s(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
		return;
	}
	/* the second half of k first, then the first half added */
	int h = k / 2;
	gemm_s(ta, tb, m, n, k - h, alpha, a + (ptrdiff_t)h * (ta ? lda : 1),
	       lda, b + (ptrdiff_t)h * (tb ? 1 : ldb), ldb, beta, c, ldc);
	gemm_s(ta, tb, m, n, h, alpha, a, lda, b, ldb, 1, c, ldc);
}

Test(gemm_paths, rows_alone_negative_control)
{
	size_t bad = alone_differs(gemm_s_reversed_chunks, 0, 1, 37, 70, 300);
	cr_assert(bad > 0, "expected rows summed in another order to be "
			   "caught as different bits");
}

/* The transposes and the betas (0, 1, another), alpha 1 and another. */
ParameterizedTestParameters(gemm_paths, avx512_bits)
{
	static copy_param t[] = {{0, 0, 0}, {0, 1, 0}, {1, 0, 0}, {1, 1, 0}};
	return cr_make_param_array(copy_param, t, sizeof t / sizeof t[0]);
}

/*
 * The AVX-512 copy gives the AVX2 copy's bits on every path: direct
 * (rows, columns, M = 1, K = 1), blocked with edge strips, k across
 * chunks.
 */
ParameterizedTest(copy_param *t, gemm_paths, avx512_bits)
{
	static const double ab[][2] = {{1, 0}, {1, 1}, {0.75, -0.5}};
	need_avx512();
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
		for (size_t b = 0; b < 3; b++) {
			int m = shapes[i][0], n = shapes[i][1], k = shapes[i][2];
			size_t bad = bits_differ(gemm_s_avx2, gemm_s_avx512,
						 gemm_d_avx2, gemm_d_avx512,
						 t->ta, t->tb, m, n, k,
						 ab[b][0], ab[b][1], 0);
			cr_assert(bad == 0,
				  "expected the AVX-512 GEMM to give the AVX2 "
				  "copy's bits (trans %d%d, %dx%dx%d, alpha %g "
				  "beta %g): %zu of float, double differ",
				  t->ta, t->tb, m, n, k, ab[b][0], ab[b][1],
				  bad);
		}
}

Test(gemm_paths, avx512_bits_negative_control)
{
	need_avx512();
	size_t bad = bits_differ(gemm_s_avx2, gemm_s_avx512, gemm_d_avx2,
				 gemm_d_avx512, 0, 1, 1, 256, 784, 1, 0, 1);
	cr_assert(bad == 2, "expected the comparison to catch the last bit "
			    "of one element flipped, in float and in double "
			    "(%zu differences seen)", bad);
}

/*
 * One row times W^T (M = 1, NT: row_t where the copy runs on AVX2) against
 * the contract of pcg_gemm.c computed plainly, an element at a time: for
 * each chunk of kc of k a sequential sum from 0, each step a multiply-add
 * (fused or not), then the chunks merged in order.  The GEMM uses kc =
 * GEMM_KC; the negative control another.
 */
static float
contract_s(int fused, int kc, int k, float alpha, const float *x,
	   ptrdiff_t incx, const float *w, float beta, float c)
{
	for (int pc = 0; pc < k; pc += kc) {
		float s = 0;
		for (int p = pc; p < pc + kc && p < k; p++) {
			if (fused) {
				s = fmaf(x[p * incx], w[p], s);
			} else {
				float t = x[p * incx] * w[p];
				s = t + s;
			}
		}
		if (pc > 0)
			c = fused ? fmaf(alpha, s, c) : alpha * s + c;
		else if (beta == 0)
			c = alpha * s;
		else if (fused)
			c = fmaf(alpha, s, beta * c);
		else
			c = alpha * s + beta * c;
	}
	return c;
}

/*
 * Outputs of x W^T (1 x n x k, x with a stride incx, W's rows ldw = k + 5
 * apart, C with beta) from copy fn whose bits are not the contract's with
 * chunks of kc, fused or not.
 */
static size_t
row_t_differs(gemm_fn fn, int fused, int kc, int n, int k, int incx,
	      float alpha, float beta)
{
	int ldw = k + 5;
	float *x = malloc((size_t)k * incx * sizeof *x);
	float *w = malloc((size_t)n * ldw * sizeof *w);
	float *c = malloc((size_t)n * sizeof *c);
	float *c0 = malloc((size_t)n * sizeof *c0);
	size_t bad = 0;
	for (int i = 0; i < k * incx; i++)
		x[i] = (float)urand();
	for (int i = 0; i < n * ldw; i++)
		w[i] = (float)urand();
	for (int j = 0; j < n; j++)
		c[j] = c0[j] = (float)urand();
	/* x as row 0 of A, transposed when strided (lda = incx) */
	fn(incx > 1, 1, 1, n, k, alpha, x, incx > 1 ? incx : k, w, ldw, beta,
	   c, n);
	for (int j = 0; j < n; j++) {
		float r = contract_s(fused, kc, k, alpha, x, incx,
				     w + (size_t)j * ldw, beta, c0[j]);
		bad += memcmp(&r, &c[j], sizeof r) != 0;
	}
	free(x);
	free(w);
	free(c);
	free(c0);
	return bad;
}

ParameterizedTestParameters(gemm_paths, row_t_contract)
{
	static copy_param t[] = {{0, 1, 0}, {0, 1, 1}, {0, 1, 2}};
	return cr_make_param_array(copy_param, t, sizeof t / sizeof t[0]);
}

/* The copy's multiply-adds are fused unless generic or reproducible. */
static int
copy_fuses(int copy)
{
#ifdef PCG_REPRODUCIBLE
	(void)copy;
	return 0;
#else
	return copy != 0;
#endif
}

/*
 * Every output count 1 to 40 (blocks of 8 and the rows left over) and
 * 256, k within a chunk, across two, three and five chunks and not a
 * multiple of 8, x contiguous or strided, with and without beta.
 */
ParameterizedTest(copy_param *t, gemm_paths, row_t_contract)
{
	static const int ks[] = {2, 5, 8, 13, 32, 127, 128, 129, 136, 200,
				 256, 259, 300, 387, 520, 643};
	static const float ab[][2] = {{1, 0}, {0.75f, -0.5f}};
	gemm_fn fn = gemm_s;
	if (t->copy == 1) {
		need_avx2_fma();
		fn = gemm_s_avx2;
	} else if (t->copy == 2) {
		need_avx512();
		fn = gemm_s_avx512;
	}
	for (int ni = 0; ni < 41; ni++) {
		int n = ni < 40 ? ni + 1 : 256;
		for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
			for (int v = 0; v < 4; v++) {
				int incx = v & 1 ? 3 : 1;
				size_t bad = row_t_differs(
					fn, copy_fuses(t->copy), GEMM_KC, n,
					ks[ki], incx, ab[v >> 1][0],
					ab[v >> 1][1]);
				cr_assert(bad == 0,
					  "expected GEMM copy %d's x W^T "
					  "(1x%dx%d, incx %d, alpha %g beta "
					  "%g) to have the contract's bits: "
					  "%zu outputs differ",
					  t->copy, n, ks[ki], incx,
					  ab[v >> 1][0], ab[v >> 1][1], bad);
			}
	}
}

/* Negative control: chunks of half the size are seen to differ, and so
 * is the other choice of fusing. */
Test(gemm_paths, row_t_contract_negative_control)
{
	gemm_fn fn = AVX2_OK() ? gemm_s_avx2 : gemm_s;
	int fused = AVX2_OK() && copy_fuses(1);
	size_t bad = row_t_differs(fn, fused, GEMM_KC / 2, 10, 256, 1, 1, 0);
	cr_assert(bad > 0, "expected x W^T summed in chunks of %d to differ "
			   "from chunks of %d", GEMM_KC / 2, GEMM_KC);
	bad = row_t_differs(gemm_s, 1, GEMM_KC, 10, 256, 1, 1, 0);
	cr_assert(bad > 0, "expected the generic copy's x W^T (never fused "
			   "here) to differ from fused multiply-adds");
	bad = row_t_differs(fn, fused, GEMM_KC, 10, 256, 1, 1, 0);
	cr_assert(bad == 0, "expected the same call to pass");
}

#ifdef PCG_REPRODUCIBLE
/*
 * Reproducible mode: no copy fuses, so all three give the same bits
 * (what tests/repro relies on across machines).
 */
ParameterizedTestParameters(gemm_paths, repro_bits)
{
	static copy_param t[] = {{0, 0, 0}, {0, 1, 0}, {1, 0, 0}, {1, 1, 0}};
	return cr_make_param_array(copy_param, t, sizeof t / sizeof t[0]);
}

ParameterizedTest(copy_param *t, gemm_paths, repro_bits)
{
	need_avx2_fma();
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		int m = shapes[i][0], n = shapes[i][1], k = shapes[i][2];
		size_t bad = bits_differ(gemm_s, gemm_s_avx2, gemm_d,
					 gemm_d_avx2, t->ta, t->tb, m, n, k,
					 0.75, 0.5, 0);
		cr_assert(bad == 0, "expected the generic and the AVX2 copy "
				    "to give the same bits in reproducible "
				    "mode (trans %d%d, %dx%dx%d)",
			  t->ta, t->tb, m, n, k);
		if (!AVX512_OK())
			continue;
		bad = bits_differ(gemm_s, gemm_s_avx512, gemm_d,
				  gemm_d_avx512, t->ta, t->tb, m, n, k, 0.75,
				  0.5, 0);
		cr_assert(bad == 0, "expected the generic and the AVX-512 copy "
				    "to give the same bits in reproducible "
				    "mode (trans %d%d, %dx%dx%d)",
			  t->ta, t->tb, m, n, k);
	}
}

#endif

#else

Test(gemm_paths, agree)
{
	cr_skip_test("this build has one GEMM only (no run-time choice)");
}

#endif
