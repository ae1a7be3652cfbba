/*
 * test_runtime.c — unit tests of the runtime library: GEMM against a naive
 * triple loop, the random number generator against the published
 * algorithms and statistical bounds, the initialisers, and checkpoint I/O
 * against an independent encoder of the documented format and every kind
 * of damaged file, and the pool's stealing switched off.
 *
 * Results are checked in plain C and reported by one assertion naming the
 * first mismatch, so a failure says what was expected; each family of
 * checks has a negative control showing that the check can fail.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pcg_runtime.h"

/* ------------------------------------------------------------- helpers */

/* The test's own generator (xorshift64*), independent of pcg_rng. */
static uint64_t
test_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

/* Uniform in [-1, 1). */
static double
test_real(uint64_t *s)
{
	return (double)(test_rand(s) >> 11) * 0x1.0p-52 - 1.0;
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	cr_assert(p != NULL, "expected calloc(%zu, %zu) to succeed", n, size);
	return p;
}

/* ---------------------------------------------------------------- GEMM */

/*
 * One GEMM call to check: op(A) m x k, op(B) k x n, leading dimensions
 * larger than the widths by `pad`, and C optionally filled with NaN.
 */
typedef struct gemm_case {
	int ta, tb, m, n, k, pad;
	double alpha, beta;
	int nan_c;
} gemm_case;

/* Operands and result of a case, stored in double whatever the type. */
typedef struct gemm_data {
	int ar, ac, br, bc, lda, ldb, ldc;
	double *a, *b, *c0, *c;
} gemm_data;

static gemm_data
gemm_make(const gemm_case *g, uint64_t seed)
{
	gemm_data d;
	uint64_t s = seed * 2 + 1;

	d.ar = g->ta ? g->k : g->m;
	d.ac = g->ta ? g->m : g->k;
	d.br = g->tb ? g->n : g->k;
	d.bc = g->tb ? g->k : g->n;
	d.lda = d.ac + g->pad;
	d.ldb = d.bc + g->pad;
	d.ldc = g->n + g->pad;
	d.a = xcalloc((size_t)d.ar * d.lda, sizeof(double));
	d.b = xcalloc((size_t)d.br * d.ldb, sizeof(double));
	d.c0 = xcalloc((size_t)g->m * d.ldc, sizeof(double));
	d.c = xcalloc((size_t)g->m * d.ldc, sizeof(double));
	/* Padding of A and B is NaN: reading it would poison the result. */
	for (int i = 0; i < d.ar; i++)
		for (int j = 0; j < d.lda; j++)
			d.a[i * d.lda + j] = j < d.ac ? test_real(&s) : NAN;
	for (int i = 0; i < d.br; i++)
		for (int j = 0; j < d.ldb; j++)
			d.b[i * d.ldb + j] = j < d.bc ? test_real(&s) : NAN;
	for (int i = 0; i < g->m * d.ldc; i++)
		d.c0[i] = g->nan_c ? NAN : test_real(&s);
	return d;
}

static void
gemm_free(gemm_data *d)
{
	free(d->a);
	free(d->b);
	free(d->c0);
	free(d->c);
}

static double
op_a(const gemm_case *g, const gemm_data *d, int i, int p)
{
	return g->ta ? d->a[p * d->lda + i] : d->a[i * d->lda + p];
}

static double
op_b(const gemm_case *g, const gemm_data *d, int p, int j)
{
	return g->tb ? d->b[j * d->ldb + p] : d->b[p * d->ldb + j];
}

typedef struct mismatch {
	long count;
	int i, j;
	double got, want, tol;
} mismatch;

/*
 * Compare d->c with a naive triple loop in long double.  An element may be
 * off by 2 (k + 2) eps times the sum of the magnitudes of its terms; the
 * padding columns of C must hold their old bits.
 */
static mismatch
gemm_compare(const gemm_case *g, const gemm_data *d, double eps)
{
	mismatch mm = {0, -1, -1, 0, 0, 0};

	for (int i = 0; i < g->m; i++) {
		for (int j = 0; j < d->ldc; j++) {
			double got = d->c[i * d->ldc + j], c0 = d->c0[i * d->ldc + j];
			double want, tol;
			int bad;

			if (j >= g->n) {
				bad = memcmp(&got, &c0, sizeof got) != 0;
				want = c0;
				tol = 0;
			} else {
				long double s = 0, mag = 0;

				for (int p = 0; p < g->k; p++) {
					long double t = (long double)op_a(g, d, i, p) *
							op_b(g, d, p, j);
					s += t;
					mag += fabsl(t);
				}
				s *= g->alpha;
				mag *= fabs(g->alpha);
				if (g->beta != 0) {
					s += (long double)g->beta * c0;
					mag += fabsl((long double)g->beta * c0);
				}
				want = (double)s;
				tol = 2.0 * (g->k + 2) * eps * (double)mag;
				bad = !(fabs(got - want) <= tol);
			}
			if (bad && mm.count++ == 0) {
				mm.i = i;
				mm.j = j;
				mm.got = got;
				mm.want = want;
				mm.tol = tol;
			}
		}
	}
	return mm;
}

static mismatch
run_dgemm(const gemm_case *g, gemm_data *d)
{
	memcpy(d->c, d->c0, sizeof(double) * g->m * d->ldc);
	pcg_dgemm(g->ta, g->tb, g->m, g->n, g->k, g->alpha, d->a, d->lda, d->b,
		  d->ldb, g->beta, d->c, d->ldc);
	return gemm_compare(g, d, DBL_EPSILON);
}

/* Float: the operands are rounded to float first, then compared. */
static mismatch
run_sgemm(const gemm_case *g, gemm_data *d)
{
	size_t na = (size_t)d->ar * d->lda, nb = (size_t)d->br * d->ldb;
	size_t nc = (size_t)g->m * d->ldc;
	float *a = xcalloc(na, sizeof *a), *b = xcalloc(nb, sizeof *b);
	float *c = xcalloc(nc, sizeof *c);

	for (size_t i = 0; i < na; i++)
		d->a[i] = a[i] = (float)d->a[i];
	for (size_t i = 0; i < nb; i++)
		d->b[i] = b[i] = (float)d->b[i];
	for (size_t i = 0; i < nc; i++)
		d->c0[i] = c[i] = (float)d->c0[i];
	pcg_sgemm(g->ta, g->tb, g->m, g->n, g->k, (float)g->alpha, a, d->lda,
		  b, d->ldb, (float)g->beta, c, d->ldc);
	for (size_t i = 0; i < nc; i++)
		d->c[i] = c[i];
	free(a);
	free(b);
	free(c);
	return gemm_compare(g, d, FLT_EPSILON);
}

#define GEMM_FMT                                                              \
	"%s(ta=%d, tb=%d, m=%d, n=%d, k=%d, pad=%d, alpha=%g, beta=%g%s): "   \
	"%ld wrong elements; first C[%d][%d] = %.17g, expected %.17g "        \
	"within %.3g"
#define GEMM_ARGS(name, g, mm)                                                \
	name, (g)->ta, (g)->tb, (g)->m, (g)->n, (g)->k, (g)->pad, (g)->alpha, \
		(g)->beta, (g)->nan_c ? ", C NaN" : "", (mm).count, (mm).i,   \
		(mm).j, (mm).got, (mm).want, (mm).tol

/* Check one case in both types. */
static void
check_gemm(const gemm_case *g)
{
	gemm_data d = gemm_make(g, (uint64_t)(g->m * 1000003 + g->n * 1009 + g->k));
	mismatch mm = run_dgemm(g, &d);

	cr_assert(mm.count == 0, GEMM_FMT, GEMM_ARGS("pcg_dgemm", g, mm));
	mm = run_sgemm(g, &d);
	cr_assert(mm.count == 0, GEMM_FMT, GEMM_ARGS("pcg_sgemm", g, mm));
	gemm_free(&d);
}

typedef struct trans_param {
	int ta, tb;
} trans_param;

static trans_param trans_params[] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};

ParameterizedTestParameters(gemm, sizes_1_to_70)
{
	return cr_make_param_array(trans_param, trans_params, 4);
}

/* Every size from 1 to 70 as m, n and k, in square and thin shapes. */
ParameterizedTest(trans_param *t, gemm, sizes_1_to_70)
{
	for (int s = 1; s <= 70; s++) {
		double beta = s % 2 ? -0.5 : 0;
		gemm_case cases[] = {
			{t->ta, t->tb, s, s, s, s % 4, 1.5, beta, 0},
			{t->ta, t->tb, s, 71 - s, s % 7 + 1, (s + 1) % 3, 1, beta, 0},
			{t->ta, t->tb, 1, s, s, s % 3, 1, beta, 0},
			{t->ta, t->tb, s, 1, s, s % 2, -1, beta, 0},
			{t->ta, t->tb, s, s, 1, 0, 2, beta, 0},
			{t->ta, t->tb, 71 - s, s, 70, 1, 1, 1, 0},
		};

		for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
			check_gemm(&cases[c]);
	}
}

ParameterizedTestParameters(gemm, block_boundaries)
{
	return cr_make_param_array(trans_param, trans_params, 4);
}

/* Sizes around the cache blocks (k chunks of 128, panels, micro-tiles). */
ParameterizedTest(trans_param *t, gemm, block_boundaries)
{
	gemm_case cases[] = {
		{t->ta, t->tb, 127, 129, 257, 3, 1, 0, 0},
		{t->ta, t->tb, 257, 127, 129, 0, -0.5, 1, 0},
		{t->ta, t->tb, 129, 257, 127, 1, 2, -1.5, 0},
		{t->ta, t->tb, 128, 128, 128, 0, 1, 0.25, 0},
		{t->ta, t->tb, 257, 257, 257, 5, 1, 0, 0},
		{t->ta, t->tb, 3, 300, 300, 2, 1, 1, 0},
		{t->ta, t->tb, 300, 2, 385, 1, 1, 0, 0},
		{t->ta, t->tb, 7, 33, 1000, 0, 0.5, -1, 0},
	};

	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
		check_gemm(&cases[c]);
}

ParameterizedTestParameters(gemm, alpha_beta)
{
	return cr_make_param_array(trans_param, trans_params, 4);
}

/* alpha and beta, including alpha == 0 and k == 0 (C = beta C). */
ParameterizedTest(trans_param *t, gemm, alpha_beta)
{
	static const double alphas[] = {1, -0.5, 3, 0};
	static const double betas[] = {0, 1, -1.5, 0.25};
	static const int shapes[][3] = {{33, 47, 65}, {1, 5, 3}, {9, 9, 9},
					{20, 30, 0}, {2, 100, 7}};

	for (int s = 0; s < 5; s++)
		for (int ia = 0; ia < 4; ia++)
			for (int ib = 0; ib < 4; ib++) {
				gemm_case g = {t->ta, t->tb, shapes[s][0],
					       shapes[s][1], shapes[s][2], 2,
					       alphas[ia], betas[ib], 0};

				check_gemm(&g);
			}
}

ParameterizedTestParameters(gemm, beta_zero_ignores_nan)
{
	return cr_make_param_array(trans_param, trans_params, 4);
}

/* beta == 0 overwrites C: NaN there must not reach the result. */
ParameterizedTest(trans_param *t, gemm, beta_zero_ignores_nan)
{
	static const int shapes[][3] = {{1, 1, 1}, {1, 64, 64}, {64, 1, 64},
					{4, 4, 4}, {16, 16, 16}, {70, 65, 129},
					{20, 30, 0}};

	for (int s = 0; s < 7; s++) {
		gemm_case g = {t->ta, t->tb, shapes[s][0], shapes[s][1],
			       shapes[s][2], 1, 1.25, 0, 1};
		gemm_case z = g;

		check_gemm(&g);
		z.alpha = 0;
		check_gemm(&z);
	}
}

/* Negative control: with beta != 0 a NaN in C must come through. */
Test(gemm, beta_nonzero_reads_c)
{
	double a[4] = {1, 2, 3, 4}, b[4] = {1, 0, 0, 1}, c[4];

	for (int i = 0; i < 4; i++)
		c[i] = NAN;
	pcg_dgemm(0, 0, 2, 2, 2, 1, a, 2, b, 2, 1, c, 2);
	for (int i = 0; i < 4; i++)
		cr_assert(isnan(c[i]), "expected C[%d] = NaN with beta = 1 and "
				       "C NaN, got %g", i, c[i]);
}

/* Negative control: the comparison flags a result off by a little. */
Test(gemm, checker_catches_errors)
{
	gemm_case g = {0, 1, 17, 19, 23, 1, 1, 0.5, 0};
	gemm_data d = gemm_make(&g, 7);
	mismatch mm = run_dgemm(&g, &d);

	cr_assert(mm.count == 0, "expected a correct result to pass, got %ld "
				 "mismatches", mm.count);
	d.c[5 * d.ldc + 7] *= 1 + 1e-12;
	mm = gemm_compare(&g, &d, DBL_EPSILON);
	cr_assert(mm.count == 1 && mm.i == 5 && mm.j == 7,
		  "expected the checker to flag C[5][7] only, got %ld at "
		  "[%d][%d]", mm.count, mm.i, mm.j);
	memcpy(d.c, d.c0, sizeof(double) * g.m * d.ldc);
	run_dgemm(&g, &d);
	d.c[3 * d.ldc + g.n] += 1; /* padding column */
	mm = gemm_compare(&g, &d, DBL_EPSILON);
	cr_assert(mm.count == 1 && mm.i == 3 && mm.j == g.n,
		  "expected the checker to flag a changed padding column, got "
		  "%ld at [%d][%d]", mm.count, mm.i, mm.j);
	gemm_free(&d);
}

/*
 * The arithmetic of an element depends only on k (pcg_gemm.c): the same
 * bits come from the whole product, one row or one column at a time, the
 * other storage of A or B, and misaligned copies.
 */
static void
check_same_bits_d(int ta, int tb, int m, int n, int k)
{
	gemm_case g = {ta, tb, m, n, k, 1, 0.75, -0.5, 0};
	gemm_data d = gemm_make(&g, 99);
	size_t nc = (size_t)m * d.ldc;
	double *full = xcalloc(nc, sizeof *full), *part = xcalloc(nc, sizeof *part);
	double *at = xcalloc((size_t)d.ar * d.ac + 1, sizeof *at);
	double *bt = xcalloc((size_t)d.br * d.bc + 1, sizeof *bt);

	memcpy(full, d.c0, nc * sizeof *full);
	pcg_dgemm(ta, tb, m, n, k, g.alpha, d.a, d.lda, d.b, d.ldb, g.beta,
		  full, d.ldc);

	memcpy(part, d.c0, nc * sizeof *part);
	for (int i = 0; i < m; i++)
		pcg_dgemm(ta, tb, 1, n, k, g.alpha,
			  ta ? d.a + i : d.a + (size_t)i * d.lda, d.lda, d.b,
			  d.ldb, g.beta, part + (size_t)i * d.ldc, d.ldc);
	cr_assert(memcmp(full, part, nc * sizeof *full) == 0,
		  "expected row-at-a-time dgemm (ta=%d tb=%d %dx%dx%d) to give "
		  "the same bits as the whole product", ta, tb, m, n, k);

	memcpy(part, d.c0, nc * sizeof *part);
	for (int j = 0; j < n; j++)
		pcg_dgemm(ta, tb, m, 1, k, g.alpha, d.a, d.lda,
			  tb ? d.b + (size_t)j * d.ldb : d.b + j, d.ldb, g.beta,
			  part + j, d.ldc);
	cr_assert(memcmp(full, part, nc * sizeof *full) == 0,
		  "expected column-at-a-time dgemm (ta=%d tb=%d %dx%dx%d) to "
		  "give the same bits as the whole product", ta, tb, m, n, k);

	/* The other storage, one element off alignment, tight strides. */
	for (int i = 0; i < d.ar; i++)
		for (int j = 0; j < d.ac; j++)
			at[1 + (size_t)j * d.ar + i] = d.a[i * d.lda + j];
	for (int i = 0; i < d.br; i++)
		for (int j = 0; j < d.bc; j++)
			bt[1 + (size_t)j * d.br + i] = d.b[i * d.ldb + j];
	memcpy(part, d.c0, nc * sizeof *part);
	pcg_dgemm(!ta, !tb, m, n, k, g.alpha, at + 1, d.ar, bt + 1, d.br,
		  g.beta, part, d.ldc);
	cr_assert(memcmp(full, part, nc * sizeof *full) == 0,
		  "expected dgemm on transposed, misaligned copies (ta=%d tb=%d "
		  "%dx%dx%d) to give the same bits", ta, tb, m, n, k);

	/* Negative control: another k changes the bits. */
	memcpy(part, d.c0, nc * sizeof *part);
	pcg_dgemm(ta, tb, m, n, k - 1, g.alpha, d.a, d.lda, d.b, d.ldb, g.beta,
		  part, d.ldc);
	cr_assert(memcmp(full, part, nc * sizeof *full) != 0,
		  "expected dgemm with k - 1 to differ from k");

	free(full);
	free(part);
	free(at);
	free(bt);
	gemm_free(&d);
}

static void
check_same_bits_s(int ta, int tb, int m, int n, int k)
{
	uint64_t s = 5;
	int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
	float *a = xcalloc((size_t)ar * ac, sizeof *a);
	float *b = xcalloc((size_t)br * bc, sizeof *b);
	float *full = xcalloc((size_t)m * n, sizeof *full);
	float *part = xcalloc((size_t)m * n, sizeof *part);

	for (int i = 0; i < ar * ac; i++)
		a[i] = (float)test_real(&s);
	for (int i = 0; i < br * bc; i++)
		b[i] = (float)test_real(&s);
	pcg_sgemm(ta, tb, m, n, k, 1.5f, a, ac, b, bc, 0, full, n);
	for (int i = 0; i < m; i++)
		pcg_sgemm(ta, tb, 1, n, k, 1.5f, ta ? a + i : a + (size_t)i * ac,
			  ac, b, bc, 0, part + (size_t)i * n, n);
	cr_assert(memcmp(full, part, sizeof(float) * m * n) == 0,
		  "expected row-at-a-time sgemm (ta=%d tb=%d %dx%dx%d) to give "
		  "the same bits as the whole product", ta, tb, m, n, k);
	free(a);
	free(b);
	free(full);
	free(part);
}

ParameterizedTestParameters(gemm, same_bits_any_path)
{
	return cr_make_param_array(trans_param, trans_params, 4);
}

ParameterizedTest(trans_param *t, gemm, same_bits_any_path)
{
#ifdef PCG_GEMM_CBLAS
	cr_skip_test("-Dcblas=true: the order of the sums is the BLAS's");
#endif
	check_same_bits_d(t->ta, t->tb, 37, 70, 300);
	check_same_bits_d(t->ta, t->tb, 13, 9, 129);
	check_same_bits_d(t->ta, t->tb, 64, 64, 64);
	check_same_bits_s(t->ta, t->tb, 37, 70, 300);
	check_same_bits_s(t->ta, t->tb, 100, 130, 64);
}

/* The same call twice gives the same bits. */
Test(gemm, repeatable)
{
	gemm_case g = {1, 0, 200, 150, 333, 0, 1, 0, 0};
	gemm_data d = gemm_make(&g, 3);
	size_t nc = (size_t)g.m * d.ldc;
	double *c2 = xcalloc(nc, sizeof *c2);

	pcg_dgemm(1, 0, g.m, g.n, g.k, 1, d.a, d.lda, d.b, d.ldb, 0, d.c, d.ldc);
	pcg_dgemm(1, 0, g.m, g.n, g.k, 1, d.a, d.lda, d.b, d.ldb, 0, c2, d.ldc);
	cr_assert(memcmp(d.c, c2, nc * sizeof *c2) == 0,
		  "expected two identical dgemm calls to give the same bits");
	free(c2);
	gemm_free(&d);
}

/* m or n zero: nothing is touched. */
Test(gemm, empty)
{
	double c[4] = {1, 2, 3, 4};

	pcg_dgemm(0, 0, 0, 2, 2, 1, NULL, 2, NULL, 2, 0, c, 2);
	pcg_dgemm(0, 0, 2, 0, 2, 1, NULL, 2, NULL, 2, 0, c, 2);
	for (int i = 0; i < 4; i++)
		cr_assert(c[i] == i + 1, "expected C[%d] untouched (%d) when m or "
					 "n is 0, got %g", i, i + 1, c[i]);
}

/* ------------------------------------------------------- fast tanh */

#if !defined(PCG_REPRODUCIBLE) && !defined(PCG_NO_DOUBLE)
static float
float_of_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* How far (in floats) got is from want: 0 for the same bits (any NaN
 * for a NaN), 1 for neighbours, a large number across signs or NaNs. */
static int64_t
float_distance(float got, float want)
{
	if (got != got || want != want)
		return (got != got) == (want != want) ? 0 : INT64_MAX;
	int32_t a, b;
	memcpy(&a, &got, sizeof a);
	memcpy(&b, &want, sizeof b);
	if ((a < 0) != (b < 0))
		return got == want ? 0 : INT64_MAX; /* only +0 against -0 */
	int64_t d = (int64_t)a - b;
	return d < 0 ? -d : d;
}

typedef float (*tanh_fn)(float);

static float
fast_tanh(float x)
{
	return pcg_tanhf_fast(x);
}

/* pcg_tanhf_fast one float off at every 1000th point that is not a NaN
 * (the control); off_tanh_changed counts the points it changed. */
static long off_tanh_calls, off_tanh_changed;

static float
off_tanh(float x)
{
	float t = pcg_tanhf_fast(x);
	if (t != t || ++off_tanh_calls % 1000)
		return t;
	off_tanh_changed++;
	return nextafterf(t, 2.0f);
}

/*
 * Compares f against libm's tanh in double rounded to float over the
 * non-negative floats of bits 0, step, 2 step, ... (every magnitude,
 * subnormals, the infinities and NaNs) and their negatives; returns the
 * points that differ at all, and the largest distance in *worst.
 */
static long
tanh_mismatches(tanh_fn f, uint32_t step, int64_t *worst)
{
	long differ = 0;
	*worst = 0;
	for (uint64_t u = 0; u <= 0x7fffffffu; u += step)
		for (int neg = 0; neg < 2; neg++) {
			float x = float_of_bits((uint32_t)u | (uint32_t)neg << 31);
			int64_t d = float_distance(f(x), (float)tanh((double)x));
			differ += d != 0;
			if (d > *worst)
				*worst = d;
		}
	return differ;
}

/*
 * The default build's float tanh (pcg_runtime.h, a form compilers
 * vectorise) against libm's double tanh rounded to float: on glibc it is
 * the same bits over every float (checked exhaustively when it was
 * written); here a sample of 2^31 / 257 magnitudes of both signs must
 * differ by one float at most, and in at most one point in 10^5.  The
 * control shows the check sees one float's difference.
 */
Test(math, tanhf_fast_against_libm)
{
	int64_t worst;
	long differ = tanh_mismatches(fast_tanh, 257, &worst);
	long differ_fine = differ, points = 2 * (0x7fffffffL / 257 + 1);
	cr_assert(worst <= 1 && differ <= points / 100000,
		  "expected pcg_tanhf_fast within 1 float of libm's tanh "
		  "rounded, and equal but at %ld points; %ld of %ld differ, "
		  "by up to %lld floats",
		  points / 100000, differ, points, (long long)worst);
	differ = tanh_mismatches(off_tanh, 257, &worst) - differ_fine;
	cr_assert(off_tanh_changed > 1000 && differ == off_tanh_changed &&
			  worst == 1,
		  "control: a tanh one float off at %ld points should differ "
		  "there by 1 float, got %ld points by %lld",
		  off_tanh_changed, differ, (long long)worst);
}

/* The edges by name: signed zeros, the infinities, NaN, the smallest
 * subnormal, the clamp at 9.5 and the last floats below 1. */
Test(math, tanhf_fast_special_values)
{
	const float x[] = {0.0f,	  -0.0f,	 INFINITY, -INFINITY,
			   0x1p-149f,	  -0x1p-149f,	 0x1p-60f, 9.0f,
			   9.02f,	  9.5f,		 0x1.300002p+3f,
			   0x1.2fffffp+3f, 1e30f,	 0.5f,     -3.0f};
	for (size_t i = 0; i < sizeof x / sizeof *x; i++) {
		float got = pcg_tanhf_fast(x[i]);
		float want = (float)tanh((double)x[i]);
		cr_assert(float_distance(got, want) == 0 &&
				  signbit(got) == signbit(want),
			  "expected tanh(%a) = %a, got %a", (double)x[i],
			  (double)want, (double)got);
	}
	cr_assert(isnan(pcg_tanhf_fast(NAN)), "expected tanh(NaN) NaN");
}
#endif

/* ----------------------------------------------------------------- RNG */

/*
 * Known answers, worked out from the published algorithms: the splitmix64
 * stream of seed 0 (the seeded state) and xoshiro256** from state
 * {1, 2, 3, 4} (the first three by hand: 11520, 0, 1509978240).
 */
Test(rng, known_answers)
{
	static const uint64_t seeded[4] = {
		UINT64_C(0xe220a8397b1dcdaf), UINT64_C(0x6e789e6aa1b965f4),
		UINT64_C(0x06c45d188009454f), UINT64_C(0xf88bb8a8724c81ec)};
	static const uint64_t want[8] = {
		UINT64_C(0x2d00), UINT64_C(0), UINT64_C(0x5a007080),
		UINT64_C(0x10e0000000009d80), UINT64_C(0x10e0b61ce1009d80),
		UINT64_C(0x0870021ce143ad00), UINT64_C(0xe071c3c2e143f089),
		UINT64_C(0x75a1690ef7a20380)};
	pcg_rng r;

	pcg_rng_seed(&r, 0);
	for (int i = 0; i < 4; i++)
		cr_assert(r.s[i] == seeded[i],
			  "expected state word %d of seed 0 to be splitmix64 "
			  "output 0x%016llx, got 0x%016llx", i,
			  (unsigned long long)seeded[i],
			  (unsigned long long)r.s[i]);
	r.s[0] = 1;
	r.s[1] = 2;
	r.s[2] = 3;
	r.s[3] = 4;
	for (int i = 0; i < 8; i++) {
		uint64_t got = pcg_rng_next(&r);

		cr_assert(got == want[i], "expected xoshiro256** output %d from "
					  "{1,2,3,4} to be 0x%016llx, got "
					  "0x%016llx", i,
			  (unsigned long long)want[i], (unsigned long long)got);
	}
}

Test(rng, same_seed_same_sequence)
{
	pcg_rng a, b;

	pcg_rng_seed(&a, 12345);
	pcg_rng_seed(&b, 12345);
	for (int i = 0; i < 10000; i++) {
		uint64_t x = pcg_rng_next(&a), y = pcg_rng_next(&b);

		cr_assert(x == y, "expected draw %d of two generators seeded 12345 "
				  "to agree, got %llu and %llu", i,
			  (unsigned long long)x, (unsigned long long)y);
	}
}

Test(rng, different_seeds_differ)
{
	enum { N = 200 };
	uint64_t first[N];

	for (int i = 0; i < N; i++) {
		pcg_rng r;

		pcg_rng_seed(&r, (uint64_t)i);
		first[i] = pcg_rng_next(&r);
		for (int j = 0; j < i; j++)
			cr_assert(first[i] != first[j],
				  "expected seeds %d and %d to start differently, "
				  "both gave %llu", j, i,
				  (unsigned long long)first[i]);
	}
}

/* Sample mean and variance of n draws. */
static void
moments(pcg_rng *r, double (*draw)(pcg_rng *), long n, double *mean,
	double *var)
{
	double s = 0, s2 = 0;

	for (long i = 0; i < n; i++) {
		double x = draw(r);

		s += x;
		s2 += x * x;
	}
	*mean = s / n;
	*var = s2 / n - *mean * *mean;
}

/* Uniform: in [0, 1), 53-bit multiples of 2^-53, moments within 5 sigma. */
Test(rng, uniform_statistics)
{
	pcg_rng r;
	const long n = 1000000;
	double mean, var;
	int low_bits = 0;

	pcg_rng_seed(&r, 42);
	for (long i = 0; i < n; i++) {
		double u = pcg_rng_uniform(&r);
		double scaled = u * 0x1.0p53;

		cr_assert(u >= 0 && u < 1, "expected uniform in [0, 1), got %.17g", u);
		cr_assert(scaled == floor(scaled),
			  "expected a multiple of 2^-53, got %.17g", u);
		low_bits |= fmod(scaled, 0x1.0p21) != 0;
	}
	cr_assert(low_bits, "expected some uniforms to use bits below 2^-32");

	pcg_rng_seed(&r, 42);
	moments(&r, pcg_rng_uniform, n, &mean, &var);
	/* sd of the mean: sqrt(1/12 / n); of the variance: sqrt(1/180 / n). */
	cr_assert(fabs(mean - 0.5) < 5 * sqrt(1.0 / 12 / n),
		  "expected uniform mean 0.5 +- %.2g, got %.6f",
		  5 * sqrt(1.0 / 12 / n), mean);
	cr_assert(fabs(var - 1.0 / 12) < 5 * sqrt(1.0 / 180 / n),
		  "expected uniform variance 1/12 +- %.2g, got %.6f",
		  5 * sqrt(1.0 / 180 / n), var);
}

Test(rng, normal_statistics)
{
	pcg_rng r;
	const long n = 1000000;
	double mean, var;

	pcg_rng_seed(&r, 7);
	moments(&r, pcg_rng_normal, n, &mean, &var);
	/* sd of the mean: 1/sqrt(n); of the variance: sqrt(2/n). */
	cr_assert(fabs(mean) < 5 / sqrt(n),
		  "expected normal mean 0 +- %.2g, got %.6f", 5 / sqrt(n), mean);
	cr_assert(fabs(var - 1) < 5 * sqrt(2.0 / n),
		  "expected normal variance 1 +- %.2g, got %.6f",
		  5 * sqrt(2.0 / n), var);

	/* Tails: P(|z| > 3) = 0.0027, binomial sd about 5.2e-5. */
	long tail = 0;

	for (long i = 0; i < n; i++)
		tail += fabs(pcg_rng_normal(&r)) > 3;
	cr_assert(fabs((double)tail / n - 0.0026998) < 5 * 5.2e-5,
		  "expected P(|z| > 3) = 0.0027 +- 2.6e-4, got %.6f",
		  (double)tail / n);
}

/* No cached state: a normal is a function of the two uniforms it takes. */
Test(rng, normal_is_pure)
{
	pcg_rng r, copy;

	pcg_rng_seed(&r, 99);
	for (int i = 0; i < 1000; i++) {
		copy = r;
		double z = pcg_rng_normal(&r);
		double u1 = 1 - pcg_rng_uniform(&copy), u2 = pcg_rng_uniform(&copy);
		double want = sqrt(-2 * log(u1)) * cos(2 * 3.14159265358979323846 * u2);

		cr_assert(memcmp(&r, &copy, sizeof r) == 0,
			  "expected a normal to take exactly two uniforms");
		cr_assert(fabs(z - want) <= 1e-12 * (1 + fabs(want)),
			  "expected Box-Muller of the next two uniforms, %.17g, "
			  "got %.17g", want, z);
	}
}

/* -------------------------------------------------------- initialisers */

static pcg_param_info
param(const char *name, int rank, const int *dims, int init, double a,
      double b)
{
	pcg_param_info p = {name, rank, {0}, 0, 1, init, a, b, 0, 0, 1};

	for (int i = 0; i < rank; i++) {
		p.dims[i] = dims[i];
		p.count *= (size_t)dims[i];
	}
	return p;
}

Test(init, fans)
{
	static const struct {
		int rank, dims[4];
		double fin, fout;
	} cases[] = {
		{0, {0}, 1, 1},
		{1, {7}, 7, 7},
		{2, {3, 5}, 5, 3},
		{3, {4, 2, 3}, 6, 12},
		{4, {8, 3, 5, 5}, 75, 200},
	};

	for (int c = 0; c < 5; c++) {
		pcg_param_info p = param("p", cases[c].rank, cases[c].dims,
					 PCG_INIT_XAVIER, 0, 0);
		double fin = -1, fout = -1;

		pcg_fans(&p, &fin, &fout);
		cr_assert(fin == cases[c].fin && fout == cases[c].fout,
			  "expected fans (%g, %g) for rank %d, got (%g, %g)",
			  cases[c].fin, cases[c].fout, cases[c].rank, fin, fout);
	}
}

Test(init, zeros_and_ones_exact)
{
	int dims[2] = {10, 13};
	pcg_param_info z = param("z", 2, dims, PCG_INIT_ZEROS, 0, 0);
	pcg_param_info o = param("o", 2, dims, PCG_INIT_ONES, 0, 0);
	float f[130];
	double d[130];

	memset(f, 0x7f, sizeof f);
	memset(d, 0x7f, sizeof d);
	pcg_init_param_f(f, &z, 1, 0);
	pcg_init_param_d(d, &z, 1, 0);
	for (int i = 0; i < 130; i++)
		cr_assert(f[i] == 0 && !signbit(f[i]) && d[i] == 0 && !signbit(d[i]),
			  "expected +0 at %d, got %g and %g", i, f[i], d[i]);
	pcg_init_param_f(f, &o, 1, 0);
	pcg_init_param_d(d, &o, 1, 0);
	for (int i = 0; i < 130; i++)
		cr_assert(f[i] == 1 && d[i] == 1,
			  "expected 1 at %d, got %g and %g", i, f[i], d[i]);
}

enum { NINIT = 200000 };

/* Mean and variance of a double initialisation; also min and max. */
static void
init_moments(const pcg_param_info *p, uint64_t seed, double *mean,
	     double *var, double *lo, double *hi)
{
	double *v = xcalloc(p->count, sizeof *v);
	double s = 0, s2 = 0;

	pcg_init_param_d(v, p, seed, 3);
	*lo = INFINITY;
	*hi = -INFINITY;
	for (size_t i = 0; i < p->count; i++) {
		s += v[i];
		s2 += v[i] * v[i];
		*lo = fmin(*lo, v[i]);
		*hi = fmax(*hi, v[i]);
	}
	*mean = s / p->count;
	*var = s2 / p->count - *mean * *mean;
	free(v);
}

Test(init, xavier_uniform)
{
	int dims[2] = {400, 500}; /* fan_in 500, fan_out 400 */
	pcg_param_info p = param("W", 2, dims, PCG_INIT_XAVIER, 0, 0);
	double l = sqrt(6.0 / 900), mean, var, lo, hi;
	double sd_var = l * l * sqrt(4.0 / 45 / p.count); /* var of U^2 */

	init_moments(&p, 11, &mean, &var, &lo, &hi);
	cr_assert(lo >= -l && hi < l,
		  "expected xavier values in [-%g, %g), got [%g, %g]", l, l, lo, hi);
	cr_assert(lo < -0.99 * l && hi > 0.99 * l,
		  "expected xavier values to fill [-%g, %g), got [%g, %g]", l, l,
		  lo, hi);
	cr_assert(fabs(mean) < 5 * l / sqrt(3.0 * p.count),
		  "expected xavier mean 0, got %g", mean);
	cr_assert(fabs(var - l * l / 3) < 5 * sd_var,
		  "expected xavier variance l^2/3 = %g +- %.2g, got %g",
		  l * l / 3, 5 * sd_var, var);
}

/* LANGUAGE.md: xavier takes its fans from the last two dims, so a stack of
 * matrices [5, 20, 30] gets the limit of one 20 x 30 matrix */
Test(init, xavier_last_two_dims)
{
	int dims[3] = {5, 20, 30};
	pcg_param_info p = param("S", 3, dims, PCG_INIT_XAVIER, 0, 0);
	double l = sqrt(6.0 / 50), mean, var, lo, hi;

	init_moments(&p, 13, &mean, &var, &lo, &hi);
	cr_assert(lo >= -l && hi < l && lo < -0.95 * l && hi > 0.95 * l,
		  "expected xavier values filling [-%g, %g) (fans 30 and 20), "
		  "got [%g, %g]",
		  l, l, lo, hi);
}

Test(init, he_normal)
{
	int dims[4] = {50, 16, 5, 5}; /* fan_in 16 * 25 = 400 */
	pcg_param_info p = param("K", 4, dims, PCG_INIT_HE, 0, 0);
	double want = 2.0 / 400, mean, var, lo, hi;

	init_moments(&p, 12, &mean, &var, &lo, &hi);
	cr_assert(fabs(mean) < 5 * sqrt(want / p.count),
		  "expected he mean 0, got %g", mean);
	cr_assert(fabs(var - want) < 5 * want * sqrt(2.0 / p.count),
		  "expected he variance 2/fan_in = %g, got %g", want, var);
}

Test(init, normal_and_uniform_arguments)
{
	int dims[1] = {NINIT};
	pcg_param_info n = param("n", 1, dims, PCG_INIT_NORMAL, 0.5, 0);
	pcg_param_info u = param("u", 1, dims, PCG_INIT_UNIFORM, -2, 3);
	double mean, var, lo, hi;

	init_moments(&n, 13, &mean, &var, &lo, &hi);
	cr_assert(fabs(mean) < 5 * 0.5 / sqrt(NINIT) &&
		  fabs(var - 0.25) < 5 * 0.25 * sqrt(2.0 / NINIT),
		  "expected normal(0.5): mean 0, variance 0.25, got %g, %g",
		  mean, var);
	init_moments(&u, 14, &mean, &var, &lo, &hi);
	cr_assert(lo >= -2 && hi < 3 && lo < -1.99 && hi > 2.99,
		  "expected uniform(-2, 3) to fill [-2, 3), got [%g, %g]", lo, hi);
	cr_assert(fabs(mean - 0.5) < 5 * sqrt(25.0 / 12 / NINIT) &&
		  fabs(var - 25.0 / 12) < 5 * (25.0 / 12) * sqrt(0.8 / NINIT),
		  "expected uniform(-2, 3): mean 0.5, variance 25/12, got %g, %g",
		  mean, var);
}

/* A range only a few floats wide: rounding must never reach the top. */
Test(init, uniform_stays_below_upper_end)
{
	int dims[1] = {4000};
	pcg_param_info u = param("u", 1, dims, PCG_INIT_UNIFORM, 1,
				 1 + 0x1.0p-20);
	float *f = xcalloc(4000, sizeof *f);
	int top = 0;

	pcg_init_param_f(f, &u, 5, 0);
	for (int i = 0; i < 4000; i++) {
		cr_assert(f[i] >= 1 && f[i] < 1 + 0x1.0p-20,
			  "expected float uniform in [1, 1 + 2^-20), got %.9g", f[i]);
		top |= f[i] == nextafterf(1 + 0x1.0p-20f, 0);
	}
	cr_assert(top, "expected the largest float below the upper end to occur");
	free(f);
}

/* Values depend on (seed, index) only; float ones are close to double ones. */
Test(init, streams)
{
	int d1[2] = {30, 40}, d2[1] = {17};
	pcg_param_info p = param("W", 2, d1, PCG_INIT_HE, 0, 0);
	pcg_param_info other = param("b", 1, d2, PCG_INIT_NORMAL, 1, 0);
	double *a = xcalloc(p.count, sizeof *a), *b = xcalloc(p.count, sizeof *b);
	double *o = xcalloc(other.count, sizeof *o);
	float *f = xcalloc(p.count, sizeof *f);
	size_t same;

	pcg_init_param_d(a, &p, 2024, 1);
	/* Initialise other parameters in between, as P_init would. */
	pcg_init_param_d(o, &other, 2024, 0);
	pcg_init_param_d(o, &other, 2024, 2);
	pcg_init_param_d(b, &p, 2024, 1);
	cr_assert(memcmp(a, b, p.count * sizeof *a) == 0,
		  "expected parameter 1 to get the same values whatever else "
		  "is initialised");

	/* Float: drawn in float from the same stream, so close to the double
	 * values (24-bit uniforms: a normal near 0 can differ by
	 * sqrt(2 * 2^-24) times the scale) and never further. */
	pcg_init_param_f(f, &p, 2024, 1);
	for (size_t i = 0; i < p.count; i++)
		cr_assert(fabs(f[i] - a[i]) <= 1e-5 * fabs(a[i]) + 1e-3 * sqrt(2.0 / 40),
			  "expected float value %zu near the double %.17g, "
			  "got %.9g", i, a[i], f[i]);

	/* Negative controls: another index or seed gives other values. */
	pcg_init_param_d(b, &p, 2024, 2);
	same = 0;
	for (size_t i = 0; i < p.count; i++)
		same += a[i] == b[i];
	cr_assert(same == 0, "expected index 2 to differ from index 1, %zu "
			     "values equal", same);
	pcg_init_param_d(b, &p, 2025, 1);
	same = 0;
	for (size_t i = 0; i < p.count; i++)
		same += a[i] == b[i];
	cr_assert(same == 0, "expected seed 2025 to differ from 2024, %zu "
			     "values equal", same);
	free(a);
	free(b);
	free(o);
	free(f);
}

/* The float draw as documented (pcg_init.c, pcg_runtime.h), written out:
 * the generator seeded with mix64(seed) ^ index * golden, then
 * lo + scale * draw in float. */
static uint64_t
test_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

Test(init, float_draws_in_float)
{
	int dw[2] = {30, 40}, du[1] = {1000};
	pcg_param_info he = param("W", 2, dw, PCG_INIT_HE, 0, 0);
	pcg_param_info xa = param("X", 2, dw, PCG_INIT_XAVIER, 0, 0);
	pcg_param_info un = param("u", 1, du, PCG_INIT_UNIFORM, -0.3, 0.7);
	float *f = xcalloc(he.count, sizeof *f);
	pcg_rng r;
	size_t off = 0;

	pcg_init_param_f(f, &he, 77, 4);
	pcg_rng_seed(&r, test_mix64(77) ^ 4 * UINT64_C(0x9e3779b97f4a7c15));
	for (size_t i = 0; i < he.count; i++) {
		float want = 0 + sqrtf(2.0f / 40) * pcg_rng_normal_f(&r);

		off += f[i] != want;
	}
	cr_assert(off == 0, "expected he values sqrtf(2/40) * normal_f, %zu "
			    "differ", off);

	pcg_init_param_f(f, &xa, 78, 0);
	pcg_rng_seed(&r, test_mix64(78));
	float l = sqrtf(6.0f / 70);
	for (size_t i = 0; i < xa.count; i++)
		off += f[i] != -l + 2 * l * pcg_rng_uniform_f(&r);
	cr_assert(off == 0, "expected xavier values -l + 2l * uniform_f, %zu "
			    "differ", off);

	pcg_init_param_f(f, &un, 79, 1);
	pcg_rng_seed(&r, test_mix64(79) ^ UINT64_C(0x9e3779b97f4a7c15));
	for (size_t i = 0; i < un.count; i++)
		off += f[i] != -0.3f + (0.7f - -0.3f) * pcg_rng_uniform_f(&r);
	cr_assert(off == 0, "expected uniform values lo + (hi - lo) * "
			    "uniform_f in float, %zu differ", off);

	/* Negative control: the double draw rounded is another value. */
	pcg_init_param_f(f, &he, 77, 4);
	double *d = xcalloc(he.count, sizeof *d);
	pcg_init_param_d(d, &he, 77, 4);
	for (size_t i = 0; i < he.count; i++)
		off += f[i] != (float)d[i];
	cr_assert(off > 0, "expected the float draw to differ from the double "
			   "one rounded somewhere");
	free(d);
	free(f);
}

Test(rng, float_draws)
{
	pcg_rng r, copy;
	const long n = 1000000;
	double s = 0, s2 = 0;

	pcg_rng_seed(&r, 5);
	copy = r;
	for (int i = 0; i < 1000; i++) {
		float u = pcg_rng_uniform_f(&r);
		uint64_t x = pcg_rng_next(&copy);

		cr_assert(u == (float)(x >> 40) * 0x1.0p-24f && u >= 0 && u < 1,
			  "expected uniform_f %d = (next >> 40) * 2^-24, got %.9g",
			  i, u);
	}
	for (long i = 0; i < n; i++) {
		double z = pcg_rng_normal_f(&r);

		s += z;
		s2 += z * z;
	}
	s /= n;
	cr_assert(fabs(s) < 5 / sqrt(n) && fabs(s2 / n - s * s - 1) < 5 * sqrt(2.0 / n),
		  "expected normal_f mean 0 and variance 1, got %g, %g", s,
		  s2 / n - s * s);
}

/* pcg_round_to_float against the hardware's conversion, on random bit
 * patterns and on the edges (ties, overflow, subnormals, NaN). */
Test(conv, round_to_float_is_the_cast)
{
	pcg_rng r;
	long chopped = 0, ties = 0;

	pcg_rng_seed(&r, 3);
	for (long i = 0; i < 3000000; i++) {
		uint64_t b = pcg_rng_next(&r);
		double x;

		switch (i % 6) {
		case 0: break; /* any bits */
		case 1: /* exponents near the float range */
			b = (b & ~(UINT64_C(0x7ff) << 52)) |
			    (uint64_t)(1023 - 160 + pcg_rng_next(&r) % 300) << 52;
			break;
		case 2: /* ties and near ties: low 29 bits 0x10000000 +- 1 */
			b = (b & ~UINT64_C(0x1fffffff)) |
			    (UINT64_C(0x10000000) + pcg_rng_next(&r) % 3 - 1);
			b = (b & ~(UINT64_C(0x7ff) << 52)) |
			    (uint64_t)(1023 - 150 + pcg_rng_next(&r) % 280) << 52;
			break;
		case 3: /* around the subnormal floats */
			b = (b & ~(UINT64_C(0x7ff) << 52)) |
			    (uint64_t)(1023 - 152 + pcg_rng_next(&r) % 30) << 52;
			break;
		case 4: /* around overflow */
			b = (b & ~(UINT64_C(0x7ff) << 52)) |
			    (uint64_t)(1023 + 126 + pcg_rng_next(&r) % 3) << 52;
			break;
		default: /* double subnormals, inf, NaN */
			b &= pcg_rng_next(&r) % 2 ? UINT64_C(0x800fffffffffffff)
						  : UINT64_C(0xffffffffffffffff);
			if (pcg_rng_next(&r) % 2)
				b |= UINT64_C(0x7ff) << 52;
		}
		memcpy(&x, &b, sizeof x);
		float want = (float)x, got = pcg_round_to_float(x);
		uint32_t wb, gb;

		memcpy(&wb, &want, sizeof wb);
		memcpy(&gb, &got, sizeof gb);
		if (isnan(want))
			cr_assert(isnan(got), "expected NaN for %a", x);
		else
			cr_assert(wb == gb, "expected (float)%a = %a, got %a", x,
				  (double)want, (double)got);
		/* how often chopping (toward zero) would have been wrong, and
		 * how many exact ties were seen */
		int e = (int)(b >> 52 & 0x7ff) - 1023 + 127;

		if (e > 0 && e < 255) { /* a normal float: chop the low bits */
			uint32_t cb = (uint32_t)(b >> 32 & UINT32_C(0x80000000)) |
				      (uint32_t)e << 23 |
				      (uint32_t)(b >> 29 & 0x7fffff);

			chopped += cb != wb;
		}
		ties += (b & UINT64_C(0x1fffffff)) == UINT64_C(0x10000000);
	}
	/* Negative controls: the inputs tell rounding from chopping, and
	 * contain exact ties. */
	cr_assert(chopped > 1000 && ties > 1000,
		  "expected inputs where chopping differs (%ld) and ties (%ld)",
		  chopped, ties);
}

/* ---------------------------------------------------------- checkpoints */

/*
 * The small model of the checkpoint tests: "mlp" with W[3][2], b[3] and a
 * scalar s, a dense array of 10 reals, all three trainable.
 */
static const pcg_param_info small_info[3] = {
	{"W", 2, {3, 2}, 0, 6, PCG_INIT_XAVIER, 0, 0, 0, 0, 1},
	{"b", 1, {3}, 6, 3, PCG_INIT_ZEROS, 0, 0, 0, 0, 1},
	{"s", 0, {0}, 9, 1, PCG_INIT_ONES, 0, 0, 0, 0, 1},
};

enum { SMALL_N = 10 };

static void
small_values_f(float *v)
{
	for (int i = 0; i < SMALL_N; i++)
		v[i] = (float)(i * 0.37 - 1.1);
	v[3] = -0.0f;
	v[7] = 1e-42f; /* subnormal */
	v[8] = INFINITY;
}

static void
small_values_d(double *v)
{
	for (int i = 0; i < SMALL_N; i++)
		v[i] = i * 0.37 - 1.1;
	v[3] = -0.0;
	v[7] = 4.9e-324;
	v[8] = -INFINITY;
}

/* A temporary folder per test; removed with its files at the end. */
typedef struct tmpdir {
	char path[64];
} tmpdir;

static tmpdir
tmpdir_make(void)
{
	tmpdir t;

	strcpy(t.path, "/tmp/pcg-runtime-test-XXXXXX");
	cr_assert(mkdtemp(t.path) != NULL, "expected mkdtemp to succeed: %s",
		  strerror(errno));
	return t;
}

static void
tmpdir_file(const tmpdir *t, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", t->path, name);
}

/* Number of entries in the folder; the first name not equal to `keep`. */
static int
tmpdir_entries(const tmpdir *t, const char *keep, char *other, size_t size)
{
	DIR *d = opendir(t->path);
	struct dirent *e;
	int n = 0;

	cr_assert(d != NULL, "expected to open %s", t->path);
	if (other)
		other[0] = '\0';
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n++;
		if (other && !other[0] && (!keep || strcmp(e->d_name, keep)))
			snprintf(other, size, "%s", e->d_name);
	}
	closedir(d);
	return n;
}

static void
tmpdir_remove(const tmpdir *t)
{
	DIR *d = opendir(t->path);
	struct dirent *e;
	char p[512];

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof p, "%s/%s", t->path, e->d_name);
		chmod(p, 0700);
		if (unlink(p) != 0)
			rmdir(p);
	}
	closedir(d);
	chmod(t->path, 0700);
	rmdir(t->path);
}

static size_t
read_file(const char *path, unsigned char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	cr_assert(f != NULL, "expected %s to exist", path);
	n = fread(buf, 1, cap, f);
	cr_assert(n < cap, "expected %s to be shorter than %zu bytes", path, cap);
	fclose(f);
	return n;
}

static void
write_file(const char *path, const void *buf, size_t n)
{
	FILE *f = fopen(path, "wb");

	cr_assert(f != NULL, "expected to create %s", path);
	cr_assert(fwrite(buf, 1, n, f) == n && fclose(f) == 0,
		  "expected to write %zu bytes to %s", n, path);
}

/*
 * The format, encoded independently of pcg_ckpt.c from the description at
 * its top.  Each byte is tagged with what it is, for the damage tests.
 */
enum byte_kind {
	KIND_MAGIC,  /* magic and version: damage reads as not a checkpoint */
	KIND_LAYOUT, /* real size, lengths, counts, ranks, dims, flags */
	KIND_DATA,   /* names, counters, payload, hash: damage only the hash
			can see */
};

typedef struct encoder {
	unsigned char b[1024];
	unsigned char kind[1024];
	size_t n;
} encoder;

static void
enc_bytes(encoder *e, const void *p, size_t n, int kind)
{
	cr_assert(e->n + n <= sizeof e->b, "expected the test file to fit");
	memcpy(e->b + e->n, p, n);
	memset(e->kind + e->n, kind, n);
	e->n += n;
}

static void
enc_le(encoder *e, uint64_t v, int size, int kind)
{
	unsigned char b[8];

	for (int i = 0; i < size; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	enc_bytes(e, b, (size_t)size, kind);
}

static void
enc_str(encoder *e, const char *s)
{
	enc_le(e, strlen(s), 4, KIND_LAYOUT);
	enc_bytes(e, s, strlen(s), KIND_DATA);
}

/* What encode_ckpt writes beyond the small model's parameters. */
typedef struct enc_opts {
	int version;             /* 1 or 2 */
	int ncounters;           /* version 2 */
	const uint64_t *counters;
	const uint32_t *flags;   /* version 2: per record; NULL: all 1 */
} enc_opts;

static void
encode_ckpt(encoder *e, const enc_opts *o, const char *model,
	    int real_size, const void *data)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	e->n = 0;
	enc_bytes(e, "PCGCKPT", 8, KIND_MAGIC);
	enc_le(e, (uint64_t)o->version, 4, KIND_MAGIC);
	enc_le(e, (uint64_t)real_size, 4, KIND_LAYOUT);
	enc_str(e, model);
	if (o->version >= 2) {
		enc_le(e, (uint64_t)o->ncounters, 4, KIND_LAYOUT);
		for (int k = 0; k < o->ncounters; k++)
			enc_le(e, o->counters[k], 8, KIND_DATA);
	}
	enc_le(e, 3, 4, KIND_LAYOUT);
	for (int q = 0; q < 3; q++) {
		enc_str(e, small_info[q].name);
		enc_le(e, (uint64_t)small_info[q].rank, 4, KIND_LAYOUT);
		for (int d = 0; d < small_info[q].rank; d++)
			enc_le(e, (uint64_t)small_info[q].dims[d], 4, KIND_LAYOUT);
		if (o->version >= 2)
			enc_le(e, o->flags ? o->flags[q] : 1, 4, KIND_LAYOUT);
	}
	for (int i = 0; i < SMALL_N; i++) {
		uint64_t bits = 0;

		if (real_size == 4) {
			uint32_t u;

			memcpy(&u, (const float *)data + i, 4);
			bits = u;
		} else {
			memcpy(&bits, (const double *)data + i, 8);
		}
		enc_le(e, bits, real_size, KIND_DATA);
	}
	for (size_t i = 0; i < e->n; i++) {
		h ^= e->b[i];
		h *= UINT64_C(0x100000001b3);
	}
	enc_le(e, h, 8, KIND_DATA);
}

/* The file pcg_ckpt_save writes: version 2, no counters, all trainable. */
static void
encode_small(encoder *e, const char *model, int real_size, const void *data)
{
	enc_opts o = {2, 0, NULL, NULL};

	encode_ckpt(e, &o, model, real_size, data);
}

/*
 * Load into a destination and ncounters counters filled with a pattern;
 * return the error and whether they kept every byte.
 */
static int
load_untouched_ex(const char *path, const char *model,
		  const pcg_param_info *info, int nparams, int real_size,
		  int ncounters, int *untouched)
{
	unsigned char dst[SMALL_N * 8 + 64], before[sizeof dst];
	uint64_t cnt[4], cnt0[4];
	int err;

	cr_assert(ncounters <= 4, "expected at most 4 counters");
	memset(dst, 0xa5, sizeof dst);
	memcpy(before, dst, sizeof dst);
	memset(cnt, 0x5a, sizeof cnt);
	memcpy(cnt0, cnt, sizeof cnt);
	err = pcg_ckpt_load_ex(path, model, info, nparams, real_size, dst, cnt,
			       ncounters);
	*untouched = memcmp(dst, before, sizeof dst) == 0 &&
		     memcmp(cnt, cnt0, sizeof cnt) == 0;
	return err;
}

static int
load_untouched(const char *path, const char *model,
	       const pcg_param_info *info, int nparams, int real_size,
	       int *untouched)
{
	return load_untouched_ex(path, model, info, nparams, real_size, 0,
				 untouched);
}

Test(ckpt, round_trip_float_bit_exact)
{
	tmpdir t = tmpdir_make();
	char path[128];
	float v[SMALL_N], w[SMALL_N];
	int err;

	small_values_f(v);
	memcpy(&v[5], &(uint32_t){0x7fc01234u}, 4); /* NaN with a payload */
	tmpdir_file(&t, "m.ckpt", path, sizeof path);
	err = pcg_ckpt_save(path, "mlp", small_info, 3, 4, v);
	cr_assert(err == PCG_CKPT_OK, "expected save to succeed, got %d (%s)",
		  err, pcg_ckpt_strerror(err));
	memset(w, 0, sizeof w);
	err = pcg_ckpt_load(path, "mlp", small_info, 3, 4, w);
	cr_assert(err == PCG_CKPT_OK, "expected load to succeed, got %d (%s)",
		  err, pcg_ckpt_strerror(err));
	cr_assert(memcmp(v, w, sizeof v) == 0,
		  "expected the loaded floats to have the saved bits");
	tmpdir_remove(&t);
}

Test(ckpt, round_trip_double_bit_exact)
{
	tmpdir t = tmpdir_make();
	char path[128];
	double v[SMALL_N], w[SMALL_N];
	int err;

	small_values_d(v);
	memcpy(&v[5], &(uint64_t){UINT64_C(0x7ff8000000abcdef)}, 8);
	tmpdir_file(&t, "m.ckpt", path, sizeof path);
	err = pcg_ckpt_save(path, "mlp", small_info, 3, 8, v);
	cr_assert(err == PCG_CKPT_OK, "expected save to succeed, got %d (%s)",
		  err, pcg_ckpt_strerror(err));
	memset(w, 0, sizeof w);
	err = pcg_ckpt_load(path, "mlp", small_info, 3, 8, w);
	cr_assert(err == PCG_CKPT_OK, "expected load to succeed, got %d (%s)",
		  err, pcg_ckpt_strerror(err));
	cr_assert(memcmp(v, w, sizeof v) == 0,
		  "expected the loaded doubles to have the saved bits");
	tmpdir_remove(&t);
}

/* A larger model, with an empty parameter, through several I/O chunks. */
Test(ckpt, round_trip_large)
{
	tmpdir t = tmpdir_make();
	char path[128];
	pcg_param_info info[3] = {
		{"conv.w", 4, {16, 8, 3, 3}, 0, 1152, PCG_INIT_HE, 0, 0, 0, 0, 1},
		{"empty", 2, {0, 5}, 1152, 0, PCG_INIT_ZEROS, 0, 0, 0, 0, 1},
		{"fc", 2, {300, 7}, 1152, 2100, PCG_INIT_XAVIER, 0, 0, 0, 0, 0},
	};
	double *v = xcalloc(3252, sizeof *v), *w = xcalloc(3252, sizeof *w);
	uint64_t s = 1;
	int err;

	for (int i = 0; i < 3252; i++)
		v[i] = test_real(&s);
	tmpdir_file(&t, "big.ckpt", path, sizeof path);
	err = pcg_ckpt_save(path, "convnet", info, 3, 8, v);
	cr_assert(err == PCG_CKPT_OK, "expected save to succeed, got %s",
		  pcg_ckpt_strerror(err));
	err = pcg_ckpt_load(path, "convnet", info, 3, 8, w);
	cr_assert(err == PCG_CKPT_OK && memcmp(v, w, 3252 * sizeof *v) == 0,
		  "expected a bit-exact round trip, got %s",
		  pcg_ckpt_strerror(err));
	free(v);
	free(w);
	tmpdir_remove(&t);
}

/* The file is exactly the documented format. */
Test(ckpt, format_matches_description)
{
	tmpdir t = tmpdir_make();
	char path[128];
	float vf[SMALL_N];
	double vd[SMALL_N];
	unsigned char got[2048];
	encoder e;
	size_t n;

	small_values_f(vf);
	small_values_d(vd);
	tmpdir_file(&t, "m.ckpt", path, sizeof path);

	cr_assert(pcg_ckpt_save(path, "mlp", small_info, 3, 4, vf) == 0,
		  "expected save to succeed");
	n = read_file(path, got, sizeof got);
	encode_small(&e, "mlp", 4, vf);
	cr_assert(n == e.n && memcmp(got, e.b, n) == 0,
		  "expected the float file to be the %zu bytes of the documented "
		  "format, got %zu bytes%s", e.n, n,
		  n == e.n ? " that differ" : "");

	cr_assert(pcg_ckpt_save(path, "mlp", small_info, 3, 8, vd) == 0,
		  "expected save to succeed");
	n = read_file(path, got, sizeof got);
	encode_small(&e, "mlp", 8, vd);
	cr_assert(n == e.n && memcmp(got, e.b, n) == 0,
		  "expected the double file to be the %zu bytes of the "
		  "documented format, got %zu bytes", e.n, n);
	tmpdir_remove(&t);
}

/* The files the damage tests cut and flip: version 2 without and with
 * counters, and version 1. */
static const uint64_t two_counters[2] = {UINT64_C(12345),
					 UINT64_C(0xfedcba9876543210)};
static const enc_opts damage_files[3] = {
	{2, 0, NULL, NULL},
	{2, 2, two_counters, NULL},
	{1, 0, NULL, NULL},
};

/* Every truncation of a valid file is rejected, nothing written. */
Test(ckpt, every_truncation)
{
	tmpdir t = tmpdir_make();
	char path[128];
	float v[SMALL_N];
	encoder e;

	small_values_f(v);
	tmpdir_file(&t, "cut.ckpt", path, sizeof path);
	for (int f = 0; f < 3; f++) {
		const enc_opts *o = &damage_files[f];

		encode_ckpt(&e, o, "mlp", 4, v);
		for (size_t len = 0; len < e.n; len++) {
			int untouched, err;

			write_file(path, e.b, len);
			err = load_untouched_ex(path, "mlp", small_info, 3, 4,
						o->ncounters, &untouched);
			cr_assert(err == PCG_CKPT_EFORMAT,
				  "expected EFORMAT for the version %d file cut "
				  "to %zu of %zu bytes, got %d (%s)",
				  o->version, len, e.n, err,
				  pcg_ckpt_strerror(err));
			cr_assert(untouched, "expected the destination "
					     "untouched after loading a file cut "
					     "to %zu bytes", len);
		}
		/* Negative control: the whole file loads. */
		write_file(path, e.b, e.n);
		int untouched, err = load_untouched_ex(path, "mlp", small_info,
						       3, 4, o->ncounters,
						       &untouched);
		cr_assert(err == PCG_CKPT_OK && !untouched,
			  "expected the uncut version %d file to load and fill "
			  "the destination, got %s", o->version,
			  pcg_ckpt_strerror(err));
	}
	tmpdir_remove(&t);
}

/*
 * Damage one byte at every position, by two masks.  In the magic or the
 * version: EFORMAT.  In a name, a counter, the payload or the hash:
 * ECORRUPT.  In a length, count, rank, dim or flags the layout may no
 * longer fit the file (EFORMAT) or still fit it (ECORRUPT).  Never
 * success, nothing written.
 */
Test(ckpt, every_flipped_byte)
{
	static const unsigned char masks[2] = {0xff, 0x01};
	tmpdir t = tmpdir_make();
	char path[128];
	double v[SMALL_N];
	encoder e;
	int corrupt = 0;

	small_values_d(v);
	tmpdir_file(&t, "flip.ckpt", path, sizeof path);
	for (int f = 0; f < 3; f++) {
		const enc_opts *o = &damage_files[f];

		encode_ckpt(&e, o, "mlp", 8, v);
		for (int m = 0; m < 2; m++) {
			for (size_t pos = 0; pos < e.n; pos++) {
				unsigned char bad[sizeof e.b];
				int untouched, err, ok;

				memcpy(bad, e.b, e.n);
				bad[pos] ^= masks[m];
				write_file(path, bad, e.n);
				err = load_untouched_ex(path, "mlp", small_info,
							3, 8, o->ncounters,
							&untouched);
				if (e.kind[pos] == KIND_MAGIC)
					ok = err == PCG_CKPT_EFORMAT;
				else if (e.kind[pos] == KIND_DATA)
					ok = err == PCG_CKPT_ECORRUPT;
				else
					ok = err == PCG_CKPT_EFORMAT ||
					     err == PCG_CKPT_ECORRUPT;
				corrupt += err == PCG_CKPT_ECORRUPT;
				cr_assert(ok, "expected %s for byte %zu ^ 0x%02x "
					      "(kind %d) of the version %d file, "
					      "got %d (%s)",
					  e.kind[pos] == KIND_MAGIC ? "EFORMAT"
					  : e.kind[pos] == KIND_DATA
						  ? "ECORRUPT"
						  : "EFORMAT or ECORRUPT",
					  pos, masks[m], e.kind[pos], o->version,
					  err, pcg_ckpt_strerror(err));
				cr_assert(untouched, "expected the destination "
						     "untouched after damage at "
						     "byte %zu", pos);
			}
		}
	}
	cr_assert(corrupt > 0, "expected some damage to be caught by the hash");
	tmpdir_remove(&t);
}

/* A version 1 file (no counters, no flags) still loads, bit-exact. */
Test(ckpt, version1_loads)
{
	tmpdir t = tmpdir_make();
	char path[128];
	float v[SMALL_N], w[SMALL_N];
	uint64_t cnt = 99;
	enc_opts v1 = {1, 0, NULL, NULL};
	encoder e;
	int untouched, err;

	small_values_f(v);
	encode_ckpt(&e, &v1, "mlp", 4, v);
	tmpdir_file(&t, "v1.ckpt", path, sizeof path);
	write_file(path, e.b, e.n);
	memset(w, 0, sizeof w);
	err = pcg_ckpt_load(path, "mlp", small_info, 3, 4, w);
	cr_assert(err == PCG_CKPT_OK && memcmp(v, w, sizeof v) == 0,
		  "expected a version 1 file to load bit-exact, got %s",
		  pcg_ckpt_strerror(err));

	/* it holds no counters, and only trainable parameters */
	err = pcg_ckpt_load_ex(path, "mlp", small_info, 3, 4, w, &cnt, 1);
	cr_assert(err == PCG_CKPT_ECOUNTERS && cnt == 99,
		  "expected ECOUNTERS asking a version 1 file for a counter, "
		  "got %s", pcg_ckpt_strerror(err));
	pcg_param_info info[3];
	memcpy(info, small_info, sizeof info);
	info[1].trainable = 0;
	err = load_untouched(path, "mlp", info, 3, 4, &untouched);
	cr_assert(err == PCG_CKPT_ESHAPE && untouched,
		  "expected ESHAPE loading a version 1 file into a model with "
		  "a buffer, got %s", pcg_ckpt_strerror(err));

	/* saved again, it is the version 2 file */
	cr_assert(pcg_ckpt_save(path, "mlp", small_info, 3, 4, w) == 0,
		  "expected save to succeed");
	unsigned char got[2048];
	size_t n = read_file(path, got, sizeof got);
	encode_small(&e, "mlp", 4, v);
	cr_assert(n == e.n && memcmp(got, e.b, n) == 0,
		  "expected a loaded version 1 file to save as version 2");
	tmpdir_remove(&t);
}

/* Counters go through save and load exactly, and their number must agree. */
Test(ckpt, counters_round_trip)
{
	tmpdir t = tmpdir_make();
	char path[128];
	double v[SMALL_N], w[SMALL_N];
	uint64_t in[3] = {0, UINT64_MAX, UINT64_C(0x0123456789abcdef)};
	uint64_t out[3] = {1, 2, 3};
	unsigned char got[2048];
	enc_opts three = {2, 3, in, NULL};
	encoder e;
	size_t n;
	int untouched, err;

	small_values_d(v);
	tmpdir_file(&t, "c.ckpt", path, sizeof path);
	err = pcg_ckpt_save_ex(path, "mlp", small_info, 3, 8, v, in, 3);
	cr_assert(err == PCG_CKPT_OK, "expected save_ex to succeed, got %s",
		  pcg_ckpt_strerror(err));
	n = read_file(path, got, sizeof got);
	encode_ckpt(&e, &three, "mlp", 8, v);
	cr_assert(n == e.n && memcmp(got, e.b, n) == 0,
		  "expected the file with counters to be the documented format");
	err = pcg_ckpt_load_ex(path, "mlp", small_info, 3, 8, w, out, 3);
	cr_assert(err == PCG_CKPT_OK && memcmp(v, w, sizeof v) == 0 &&
			  memcmp(in, out, sizeof in) == 0,
		  "expected counters and values back exactly, got %s",
		  pcg_ckpt_strerror(err));

	for (int k = 0; k <= 4; k += 2) {
		err = load_untouched_ex(path, "mlp", small_info, 3, 8, k,
					&untouched);
		cr_assert(err == PCG_CKPT_ECOUNTERS && untouched,
			  "expected ECOUNTERS loading 3 counters as %d, got %s",
			  k, pcg_ckpt_strerror(err));
	}
	/* the file's other checks come first */
	err = load_untouched_ex(path, "mlp", small_info, 3, 4, 0, &untouched);
	cr_assert(err == PCG_CKPT_EREAL && untouched,
		  "expected EREAL before ECOUNTERS, got %s",
		  pcg_ckpt_strerror(err));
	err = pcg_ckpt_save_ex(path, "mlp", small_info, 3, 8, v, NULL, 1);
	cr_assert(err == PCG_CKPT_EARG, "expected EARG for a counter without "
					"an array, got %s", pcg_ckpt_strerror(err));
	err = pcg_ckpt_load_ex(path, "mlp", small_info, 3, 8, w, out, -1);
	cr_assert(err == PCG_CKPT_EARG, "expected EARG for -1 counters, got %s",
		  pcg_ckpt_strerror(err));
	tmpdir_remove(&t);
}

/*
 * A parameter saved as a buffer (trainable 0) does not load as a
 * trainable one, nor the other way round: a model with different buffers
 * is rejected.  Flags beyond bit 0 are not a checkpoint.
 */
Test(ckpt, flags)
{
	tmpdir t = tmpdir_make();
	char path[128];
	float v[SMALL_N];
	pcg_param_info buf[3];
	static const uint32_t unknown[3] = {1, 3, 1};
	enc_opts o = {2, 0, NULL, unknown};
	encoder e;
	int untouched, err;

	small_values_f(v);
	memcpy(buf, small_info, sizeof buf);
	buf[2].trainable = 0; /* s is a buffer */
	tmpdir_file(&t, "f.ckpt", path, sizeof path);

	cr_assert(pcg_ckpt_save(path, "mlp", buf, 3, 4, v) == 0,
		  "expected save to succeed");
	err = load_untouched(path, "mlp", buf, 3, 4, &untouched);
	cr_assert(err == PCG_CKPT_OK && !untouched,
		  "expected the control load to succeed, got %s",
		  pcg_ckpt_strerror(err));
	err = load_untouched(path, "mlp", small_info, 3, 4, &untouched);
	cr_assert(err == PCG_CKPT_ESHAPE && untouched,
		  "expected ESHAPE loading a buffer as a parameter, got %s",
		  pcg_ckpt_strerror(err));

	cr_assert(pcg_ckpt_save(path, "mlp", small_info, 3, 4, v) == 0,
		  "expected save to succeed");
	err = load_untouched(path, "mlp", buf, 3, 4, &untouched);
	cr_assert(err == PCG_CKPT_ESHAPE && untouched,
		  "expected ESHAPE loading a parameter as a buffer, got %s",
		  pcg_ckpt_strerror(err));

	encode_ckpt(&e, &o, "mlp", 4, v);
	write_file(path, e.b, e.n);
	err = load_untouched(path, "mlp", small_info, 3, 4, &untouched);
	cr_assert(err == PCG_CKPT_EFORMAT && untouched,
		  "expected EFORMAT for an unknown flag, got %s",
		  pcg_ckpt_strerror(err));

	buf[0].trainable = 2;
	err = pcg_ckpt_save(path, "mlp", buf, 3, 4, v);
	cr_assert(err == PCG_CKPT_EARG, "expected EARG for trainable = 2, got %s",
		  pcg_ckpt_strerror(err));
	tmpdir_remove(&t);
}

/* A well-formed, correctly hashed file whose rank exceeds PCG_MAX_RANK. */
Test(ckpt, rank_over_max)
{
	tmpdir t = tmpdir_make();
	char path[128];
	encoder e = {.n = 0};
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	float one = 1;
	pcg_param_info info[1] = {
		{"x", 8, {1, 1, 1, 1, 1, 1, 1, 1}, 0, 1, 0, 0, 0, 0, 0, 1}};
	unsigned char dst[64], before[64];
	int err;

	enc_bytes(&e, "PCGCKPT", 8, KIND_MAGIC);
	enc_le(&e, 1, 4, KIND_MAGIC);
	enc_le(&e, 4, 4, KIND_LAYOUT);
	enc_str(&e, "mlp");
	enc_le(&e, 1, 4, KIND_LAYOUT);
	enc_str(&e, "x");
	enc_le(&e, PCG_MAX_RANK + 1, 4, KIND_LAYOUT);
	for (int d = 0; d <= PCG_MAX_RANK; d++)
		enc_le(&e, 1, 4, KIND_LAYOUT);
	enc_bytes(&e, &one, 4, KIND_DATA);
	for (size_t i = 0; i < e.n; i++) {
		h ^= e.b[i];
		h *= UINT64_C(0x100000001b3);
	}
	enc_le(&e, h, 8, KIND_DATA);
	tmpdir_file(&t, "r9.ckpt", path, sizeof path);
	write_file(path, e.b, e.n);
	memset(dst, 0x5a, sizeof dst);
	memcpy(before, dst, sizeof dst);
	err = pcg_ckpt_load(path, "mlp", info, 1, 4, dst);
	cr_assert(err == PCG_CKPT_EFORMAT && !memcmp(dst, before, sizeof dst),
		  "expected EFORMAT for rank %d, got %s", PCG_MAX_RANK + 1,
		  pcg_ckpt_strerror(err));
	tmpdir_remove(&t);
}

Test(ckpt, trailing_garbage)
{
	tmpdir t = tmpdir_make();
	char path[128];
	float v[SMALL_N];
	encoder e;
	int untouched, err;

	small_values_f(v);
	encode_small(&e, "mlp", 4, v);
	e.b[e.n] = 0;
	tmpdir_file(&t, "tail.ckpt", path, sizeof path);
	write_file(path, e.b, e.n + 1);
	err = load_untouched(path, "mlp", small_info, 3, 4, &untouched);
	cr_assert(err == PCG_CKPT_EFORMAT && untouched,
		  "expected EFORMAT and an untouched destination for a byte "
		  "after the hash, got %s", pcg_ckpt_strerror(err));
	tmpdir_remove(&t);
}

/* A valid file of another model, shape or type: the right code, no write. */
Test(ckpt, mismatches)
{
	tmpdir t = tmpdir_make();
	char path[128];
	double v[SMALL_N];
	pcg_param_info info[3];
	int untouched, err;

	small_values_d(v);
	tmpdir_file(&t, "m.ckpt", path, sizeof path);
	cr_assert(pcg_ckpt_save(path, "mlp", small_info, 3, 8, v) == 0,
		  "expected save to succeed");

	err = load_untouched(path, "mlp", small_info, 3, 8, &untouched);
	cr_assert(err == PCG_CKPT_OK, "expected the control load to succeed, "
				      "got %s", pcg_ckpt_strerror(err));

	err = load_untouched(path, "mlp2", small_info, 3, 8, &untouched);
	cr_assert(err == PCG_CKPT_EMODEL && untouched,
		  "expected EMODEL for model mlp2, got %s", pcg_ckpt_strerror(err));
	err = load_untouched(path, "ml", small_info, 3, 8, &untouched);
	cr_assert(err == PCG_CKPT_EMODEL && untouched,
		  "expected EMODEL for model ml, got %s", pcg_ckpt_strerror(err));

	err = load_untouched(path, "mlp", small_info, 3, 4, &untouched);
	cr_assert(err == PCG_CKPT_EREAL && untouched,
		  "expected EREAL loading doubles as floats, got %s",
		  pcg_ckpt_strerror(err));

	memcpy(info, small_info, sizeof info);
	info[0].dims[0] = 2;
	info[0].dims[1] = 3;
	err = load_untouched(path, "mlp", info, 3, 8, &untouched);
	cr_assert(err == PCG_CKPT_ESHAPE && untouched,
		  "expected ESHAPE for W[2][3] instead of W[3][2], got %s",
		  pcg_ckpt_strerror(err));

	memcpy(info, small_info, sizeof info);
	info[1].name = "c";
	err = load_untouched(path, "mlp", info, 3, 8, &untouched);
	cr_assert(err == PCG_CKPT_ESHAPE && untouched,
		  "expected ESHAPE for a parameter named c instead of b, got %s",
		  pcg_ckpt_strerror(err));

	memcpy(info, small_info, sizeof info);
	info[1].rank = 2;
	info[1].dims[1] = 1;
	err = load_untouched(path, "mlp", info, 3, 8, &untouched);
	cr_assert(err == PCG_CKPT_ESHAPE && untouched,
		  "expected ESHAPE for b[3][1] instead of b[3], got %s",
		  pcg_ckpt_strerror(err));

	err = load_untouched(path, "mlp", small_info, 2, 8, &untouched);
	cr_assert(err == PCG_CKPT_ESHAPE && untouched,
		  "expected ESHAPE for 2 parameters instead of 3, got %s",
		  pcg_ckpt_strerror(err));

	/* A file with the first two parameters only. */
	cr_assert(pcg_ckpt_save(path, "mlp", small_info, 2, 8, v) == 0,
		  "expected save to succeed");
	err = load_untouched(path, "mlp", small_info, 3, 8, &untouched);
	cr_assert(err == PCG_CKPT_ESHAPE && untouched,
		  "expected ESHAPE for 3 parameters instead of 2, got %s",
		  pcg_ckpt_strerror(err));
	tmpdir_remove(&t);
}

Test(ckpt, other_scalar_type_float_file)
{
	tmpdir t = tmpdir_make();
	char path[128];
	float v[SMALL_N];
	int untouched, err;

	small_values_f(v);
	tmpdir_file(&t, "f.ckpt", path, sizeof path);
	cr_assert(pcg_ckpt_save(path, "mlp", small_info, 3, 4, v) == 0,
		  "expected save to succeed");
	err = load_untouched(path, "mlp", small_info, 3, 8, &untouched);
	cr_assert(err == PCG_CKPT_EREAL && untouched,
		  "expected EREAL loading floats as doubles, got %s",
		  pcg_ckpt_strerror(err));
	tmpdir_remove(&t);
}

Test(ckpt, missing_and_foreign_files)
{
	tmpdir t = tmpdir_make();
	char path[128];
	int untouched, err;

	tmpdir_file(&t, "none.ckpt", path, sizeof path);
	err = load_untouched(path, "mlp", small_info, 3, 4, &untouched);
	cr_assert(err == PCG_CKPT_EIO && untouched,
		  "expected EIO for a missing file, got %s", pcg_ckpt_strerror(err));

	tmpdir_file(&t, "text.ckpt", path, sizeof path);
	write_file(path, "hello, world\n", 13);
	err = load_untouched(path, "mlp", small_info, 3, 4, &untouched);
	cr_assert(err == PCG_CKPT_EFORMAT && untouched,
		  "expected EFORMAT for a text file, got %s", pcg_ckpt_strerror(err));

	write_file(path, "", 0);
	err = load_untouched(path, "mlp", small_info, 3, 4, &untouched);
	cr_assert(err == PCG_CKPT_EFORMAT && untouched,
		  "expected EFORMAT for an empty file, got %s",
		  pcg_ckpt_strerror(err));

	err = load_untouched(t.path, "mlp", small_info, 3, 4, &untouched);
	cr_assert(err == PCG_CKPT_EIO && untouched,
		  "expected EIO for a folder, got %s", pcg_ckpt_strerror(err));
	tmpdir_remove(&t);
}

Test(ckpt, bad_arguments)
{
	float v[SMALL_N] = {0};
	pcg_param_info info[3];
	int err;

	memcpy(info, small_info, sizeof info);
	info[0].count = 5; /* not 3 * 2 */
	err = pcg_ckpt_save("/nonexistent/x", "mlp", info, 3, 4, v);
	cr_assert(err == PCG_CKPT_EARG, "expected EARG for a wrong count, got %s",
		  pcg_ckpt_strerror(err));
	err = pcg_ckpt_load("/nonexistent/x", "mlp", small_info, 3, 2, v);
	cr_assert(err == PCG_CKPT_EARG, "expected EARG for real size 2, got %s",
		  pcg_ckpt_strerror(err));
	err = pcg_ckpt_save("/nonexistent/x", NULL, small_info, 3, 4, v);
	cr_assert(err == PCG_CKPT_EARG, "expected EARG for no model name, "
					"got %s", pcg_ckpt_strerror(err));
}

Test(ckpt, strerror_messages)
{
	for (int e = PCG_CKPT_OK; e <= PCG_CKPT_ECOUNTERS; e++) {
		const char *m = pcg_ckpt_strerror(e);

		cr_assert(m && *m, "expected a message for error %d", e);
		for (int f = PCG_CKPT_OK; f < e; f++)
			cr_assert(strcmp(m, pcg_ckpt_strerror(f)) != 0,
				  "expected errors %d and %d to have different "
				  "messages", f, e);
	}
	cr_assert(pcg_ckpt_strerror(12345) != NULL,
		  "expected a message for an unknown error");
}

/* Saving over a checkpoint replaces it and leaves no temporary file. */
Test(ckpt, save_replaces_cleanly)
{
	tmpdir t = tmpdir_make();
	char path[128], other[256];
	float v[SMALL_N], w[SMALL_N];
	struct stat st;
	int n;

	small_values_f(v);
	tmpdir_file(&t, "m.ckpt", path, sizeof path);
	cr_assert(pcg_ckpt_save(path, "mlp", small_info, 3, 4, v) == 0,
		  "expected the first save to succeed");
	cr_assert(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644,
		  "expected a new checkpoint to have mode 0644, got %o",
		  (unsigned)(st.st_mode & 0777));
	chmod(path, 0640);
	v[0] = 42;
	cr_assert(pcg_ckpt_save(path, "mlp", small_info, 3, 4, v) == 0,
		  "expected the second save to succeed");
	n = tmpdir_entries(&t, "m.ckpt", other, sizeof other);
	cr_assert(n == 1, "expected only m.ckpt in the folder, found %d entries "
			  "(%s)", n, other);
	cr_assert(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640,
		  "expected the replaced checkpoint to keep mode 0640, got %o",
		  (unsigned)(st.st_mode & 0777));
	cr_assert(pcg_ckpt_load(path, "mlp", small_info, 3, 4, w) == 0 &&
		  w[0] == 42, "expected to load the second save");
	tmpdir_remove(&t);
}

/* Save a small checkpoint to `path`, then fail to save a larger one. */
static void
check_failed_save(const tmpdir *t, const char *path)
{
	unsigned char before[2048], after[2048];
	float v[SMALL_N], big[3000] = {0};
	pcg_param_info info[1] = {{"big", 1, {3000}, 0, 3000, 0, 0, 0, 0, 0, 1}};
	char other[256];
	size_t n0, n1;
	int err, n;

	small_values_f(v);
	cr_assert(pcg_ckpt_save(path, "mlp", small_info, 3, 4, v) == 0,
		  "expected the first save to succeed");
	n0 = read_file(path, before, sizeof before);
	err = pcg_ckpt_save(path, "big", info, 1, 4, big);
	cr_assert(err == PCG_CKPT_EIO, "expected EIO from the failing save, got "
				       "%s", pcg_ckpt_strerror(err));
	n1 = read_file(path, after, sizeof after);
	cr_assert(n0 == n1 && memcmp(before, after, n0) == 0,
		  "expected the old checkpoint intact after a failed save");
	n = tmpdir_entries(t, strrchr(path, '/') + 1, other, sizeof other);
	cr_assert(n == 1, "expected no temporary file after a failed save, found "
			  "%d entries (%s)", n, other);
}

/* The file system refuses the bytes (file size limit): works as root too. */
Test(ckpt, failed_write_keeps_old_file)
{
	tmpdir t = tmpdir_make();
	char path[128];
	struct rlimit old, lim;

	tmpdir_file(&t, "m.ckpt", path, sizeof path);
	cr_assert(getrlimit(RLIMIT_FSIZE, &old) == 0, "expected getrlimit to work");
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = 1024; /* the small file fits, the big one (12 KiB) not */
	cr_assert(setrlimit(RLIMIT_FSIZE, &lim) == 0, "expected setrlimit to work");
	check_failed_save(&t, path);
	setrlimit(RLIMIT_FSIZE, &old);
	tmpdir_remove(&t);
}

/* A folder without write permission (meaningless as root: skipped). */
Test(ckpt, unwritable_folder_keeps_old_file)
{
	tmpdir t = tmpdir_make();
	char path[128];
	float v[SMALL_N];
	int err;

	if (geteuid() == 0) {
		tmpdir_remove(&t);
		cr_skip_test("running as root, who can write to any folder");
	}
	small_values_f(v);
	tmpdir_file(&t, "m.ckpt", path, sizeof path);
	cr_assert(pcg_ckpt_save(path, "mlp", small_info, 3, 4, v) == 0,
		  "expected the first save to succeed");
	chmod(t.path, 0555);
	v[0] = 7;
	err = pcg_ckpt_save(path, "mlp", small_info, 3, 4, v);
	chmod(t.path, 0700);
	cr_assert(err == PCG_CKPT_EIO, "expected EIO saving into a read-only "
				       "folder, got %s", pcg_ckpt_strerror(err));
	cr_assert(pcg_ckpt_load(path, "mlp", small_info, 3, 4, v) == 0 &&
		  v[0] != 7, "expected the old checkpoint intact");
	tmpdir_remove(&t);
}

/* Where no file can be made, or the name is a folder: EIO, nothing left. */
Test(ckpt, impossible_paths)
{
	tmpdir t = tmpdir_make();
	char path[128], other[256];
	float v[SMALL_N];
	int err, n;

	small_values_f(v);
	tmpdir_file(&t, "missing/m.ckpt", path, sizeof path);
	err = pcg_ckpt_save(path, "mlp", small_info, 3, 4, v);
	cr_assert(err == PCG_CKPT_EIO, "expected EIO for a missing folder, got %s",
		  pcg_ckpt_strerror(err));

	tmpdir_file(&t, "dir", path, sizeof path);
	cr_assert(mkdir(path, 0700) == 0, "expected mkdir to work");
	err = pcg_ckpt_save(path, "mlp", small_info, 3, 4, v);
	cr_assert(err == PCG_CKPT_EIO, "expected EIO saving over a folder, got %s",
		  pcg_ckpt_strerror(err));
	n = tmpdir_entries(&t, "dir", other, sizeof other);
	cr_assert(n == 1, "expected only the folder to remain, found %d entries "
			  "(%s)", n, other);
	tmpdir_remove(&t);
}

/* ---------------------------------------------------------------- pool */

static void
pool_noop(void *ctx, int task)
{
	(void)ctx;
	(void)task;
}

/* Threads that keep every core busy, so that a woken thread waits for
 * one (a shared machine). */
enum { HOGS = 4 };
static atomic_int hogs_stop;

static void *
hog(void *arg)
{
	volatile unsigned long n = 0;
	(void)arg;
	while (!atomic_load(&hogs_stop))
		n++;
	return NULL;
}

static void
hogs_start(pthread_t h[HOGS])
{
	atomic_store(&hogs_stop, 0);
	for (int i = 0; i < HOGS; i++)
		cr_assert(pthread_create(&h[i], NULL, hog, NULL) == 0);
}

static void
hogs_stop_all(pthread_t h[HOGS])
{
	atomic_store(&hogs_stop, 1);
	for (int i = 0; i < HOGS; i++)
		pthread_join(h[i], NULL);
}

/* Runs of two tasks on the pool of two threads among the hogs, each
 * after 1 ms asleep, longer than the worker watches for work before it
 * sleeps too; returns how many tasks the worker ran. */
static size_t
pool_late_runs(pcg_pool *p, int runs)
{
	pthread_t h[HOGS];
	hogs_start(h);
	size_t w0 = pcg_pool_worker_tasks(p);
	for (int i = 0; i < runs; i++) {
		nanosleep(&(struct timespec){0, 1000000}, NULL);
		pcg_pool_run(p, 2, pool_noop, NULL);
	}
	size_t w = pcg_pool_worker_tasks(p) - w0;
	hogs_stop_all(h);
	return w;
}

/* Products whose columns a pool deals out (pcg_pool.c's deal), each
 * after 1 ms asleep among the hogs, so that the worker comes late;
 * returns the items the threads took from each other's blocks, and
 * counts the runs whose C differs from pcg_sgemm's in *differ. */
enum { DEALT_M = 64, DEALT_N = 256, DEALT_K = 64 };
static float dealt_a[DEALT_M * DEALT_K], dealt_b[DEALT_K * DEALT_N];
static float dealt_ref[DEALT_M * DEALT_N], dealt_c[DEALT_M * DEALT_N];

static size_t
pool_late_products(pcg_pool *p, int runs, int *differ)
{
	pthread_t h[HOGS];
	hogs_start(h);
	size_t s0 = pcg_pool_stolen_items(p);
	for (int i = 0; i < runs; i++) {
		nanosleep(&(struct timespec){0, 1000000}, NULL);
		memset(dealt_c, 0, sizeof dealt_c);
		pcg_sgemm_mt(p, 0, 0, DEALT_M, DEALT_N, DEALT_K, 1, dealt_a,
			     DEALT_K, dealt_b, DEALT_N, 0, dealt_c, DEALT_N);
		*differ += memcmp(dealt_c, dealt_ref, sizeof dealt_c) != 0;
	}
	size_t s = pcg_pool_stolen_items(p) - s0;
	hogs_stop_all(h);
	return s;
}

/* The columns of a product dealt out on a pool of 2 are balanced: the
 * caller, done with its block while the worker is still waking, takes
 * the worker's tiles from the end of its block, and C has the bits of
 * one thread (pcg_sgemm) in every run.  Control: with
 * pcg_pool_set_steal_us(pool, -1) no thread takes another's items.
 * Whether the worker is late is the system's to decide, so the check
 * tries up to TRIES rounds of RUNS and needs one in which an item was
 * taken. */
Test(pool, dealt_columns_are_balanced)
{
	enum { RUNS = 50, TRIES = 5 };
	for (int i = 0; i < DEALT_M * DEALT_K; i++)
		dealt_a[i] = (float)(i % 17) / 16 - 0.5f;
	for (int i = 0; i < DEALT_K * DEALT_N; i++)
		dealt_b[i] = (float)(i % 13) / 12 - 0.5f;
	pcg_sgemm(0, 0, DEALT_M, DEALT_N, DEALT_K, 1, dealt_a, DEALT_K,
		  dealt_b, DEALT_N, 0, dealt_ref, DEALT_N);
	pcg_pool *p = pcg_pool_create(2);
	cr_assert(p != NULL, "a pool of 2 threads");
	pcg_pool_set_min_macs(p, 0);
	int differ = 0;
	size_t taken = 0;
	for (int t = 0; t < TRIES && taken == 0; t++)
		taken = pool_late_products(p, RUNS, &differ);
	pcg_pool_set_steal_us(p, -1);
	size_t off = pool_late_products(p, RUNS, &differ);
	pcg_pool_destroy(p);
	cr_expect_eq(differ, 0, "%d runs gave other bits than one thread",
		     differ);
	cr_expect_gt(taken, 0, "no thread took another's items in %d runs, "
		     "%d times", RUNS, TRIES);
	cr_expect_eq(off, 0, "control: stealing off, the threads still took "
		     "%zu of each other's items", off);
}

/* pcg_pool_set_steal_us(pool, -1): the caller leaves the worker its
 * task however late the worker comes, woken from its sleep each run on
 * a machine with every core busy.  Control: with
 * pcg_pool_set_steal_us(pool, 0) the caller runs the worker's task
 * itself as soon as it has run out of its own, and the count sees it.
 * Whether the worker is late is the system's to decide: in one CI run
 * (other tests' pools spinning on both cores) it took all 100 tasks in
 * time, so the control tries up to CONTROL_TRIES rounds of RUNS and
 * needs one in which the caller took a task. */
Test(pool, steal_off_leaves_the_workers_their_tasks)
{
	enum { RUNS = 100, CONTROL_TRIES = 5 };
	pcg_pool *p = pcg_pool_create(2);
	cr_assert(p != NULL, "a pool of 2 threads");
	pcg_pool_set_steal_us(p, -1);
	size_t late = pool_late_runs(p, RUNS);
	pcg_pool_set_steal_us(p, 0);
	size_t stolen = RUNS;
	for (int t = 0; t < CONTROL_TRIES && stolen == RUNS; t++)
		stolen = pool_late_runs(p, RUNS);
	pcg_pool_destroy(p);
	cr_expect_eq(late, RUNS, "stealing off: the worker ran %zu of %d "
		     "tasks", late, RUNS);
	cr_expect_lt(stolen, RUNS, "control: stealing at once, the worker "
		     "still ran all %d tasks, %d times", RUNS, CONTROL_TRIES);
}
