/*
 * test_kernels.c — unit tests of the operation kernels of pcg_kernels.c.
 *
 * Every forward kernel is checked against a plain reference written here
 * (closed forms, small cases computed by hand, numpy-like loops over
 * multi-indices, long double arithmetic); every VJP against central
 * differences of its forward kernel in double (a fourth-order stencil;
 * the largest difference relative to the largest gradient element must
 * stay below 1e-7), with acc = 0 writing every element and acc = 1
 * adding.  The float variants are run on the same (float-representable)
 * inputs and must agree with the double ones to float precision.  The
 * kernels that pcc used to paste into generated code must give the same
 * bits as those copies (test_kernels_legacy.h).  The optimizers' updates
 * are checked by hand for the SGD kinds (short binary fractions, so every
 * step is exact) and against the textbook form of Adam in long double.
 * The counter-based pcg_rng_at is checked against the formula its header
 * states and for rough uniformity.  Each kind of comparison has a
 * negative control showing that it rejects a wrong result.
 */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcg_runtime.h"

/* ------------------------------------------------------------- helpers */

/* The test's own generator (xorshift64*). */
static uint64_t
test_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

/* Uniform in [-1, 1), rounded to float so that both types see it exactly. */
static double
test_real(uint64_t *s)
{
	return (float)((double)(test_rand(s) >> 11) * 0x1.0p-52 - 1.0);
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	cr_assert(p != NULL, "expected calloc(%zu, %zu) to succeed", n, size);
	return p;
}

static double *
dvec(size_t n)
{
	return xcalloc(n, sizeof(double));
}

/* n random values in [-1, 1) (float-representable). */
static double *
rvec(size_t n, uint64_t *s)
{
	double *v = dvec(n);

	for (size_t i = 0; i < n; i++)
		v[i] = test_real(s);
	return v;
}

/*
 * n distinct values in (-1, 1), at least 1/n apart, in random order: the
 * max kernels' choices stay away from ties, also under the finite
 * differences' steps.
 */
static double *
distinct_vec(size_t n, uint64_t *s)
{
	double *v = dvec(n);

	for (size_t i = 0; i < n; i++)
		v[i] = (float)(-1 + (2 * (double)i + 1 + 0.4 * test_real(s)) / n);
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(test_rand(s) % i);
		double t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
	return v;
}

static size_t
prod(int rank, const int *dims)
{
	size_t n = 1;

	for (int i = 0; i < rank; i++)
		n *= (size_t)dims[i];
	return n;
}

/* The multi-index of element i of a row-major tensor. */
static void
unravel(size_t i, int rank, const int *dims, int *idx)
{
	for (int a = rank - 1; a >= 0; a--) {
		idx[a] = (int)(i % (size_t)dims[a]);
		i /= (size_t)dims[a];
	}
}

static size_t
ravel(int rank, const int *dims, const int *idx)
{
	size_t i = 0;

	for (int a = 0; a < rank; a++)
		i = i * (size_t)dims[a] + (size_t)idx[a];
	return i;
}

/* The first of n elements of size bytes whose bits differ, or n. */
static size_t
first_bit_diff(const void *got, const void *want, size_t n, size_t size)
{
	const unsigned char *g = got, *w = want;

	for (size_t i = 0; i < n; i++)
		if (memcmp(g + i * size, w + i * size, size) != 0)
			return i;
	return n;
}

/* Same bits, element by element (float or double); names the first
 * difference. */
static void
expect_bits(const void *got, const void *want, size_t n, size_t size,
	    const char *what)
{
	size_t i = first_bit_diff(got, want, n, size);
	double gv = 0, wv = 0;

	if (i == n)
		return;
	if (size == sizeof(float)) {
		gv = ((const float *)got)[i];
		wv = ((const float *)want)[i];
	} else {
		gv = ((const double *)got)[i];
		wv = ((const double *)want)[i];
	}
	cr_assert(0, "expected %s: the same bits at every element, [%zu] is "
		     "%a, expected %a", what, i, gv, wv);
}

/* How far got is from want: elements off by more than tol. */
typedef struct diff {
	long count;
	size_t at; /* the first such element */
	double got, want, tol;
} diff;

/*
 * Compare element by element with the tolerance rtol times the largest
 * |want|, or times floor if that is larger.  NaN matches NaN, an
 * infinity the same infinity.
 */
static diff
diff_scaled(const double *got, const double *want, size_t n, double rtol,
	    double floor)
{
	diff d = {0, 0, 0, 0, 0};
	double big = floor;

	for (size_t i = 0; i < n; i++)
		if (isfinite(want[i]) && fabs(want[i]) > big)
			big = fabs(want[i]);
	d.tol = rtol * (big > 0 ? big : 1);
	for (size_t i = 0; i < n; i++) {
		int ok;

		if (isnan(want[i]) || isinf(want[i]))
			ok = isnan(want[i]) ? isnan(got[i]) : got[i] == want[i];
		else
			ok = fabs(got[i] - want[i]) <= d.tol;
		if (!ok && d.count++ == 0) {
			d.at = i;
			d.got = got[i];
			d.want = want[i];
		}
	}
	return d;
}

/* Relative to the largest |want| (1 if all are 0). */
static diff
diff_rel(const double *got, const double *want, size_t n, double rtol)
{
	return diff_scaled(got, want, n, rtol, 0);
}

static void
expect_diff(diff d, size_t n, const char *what)
{
	cr_assert(d.count == 0, "expected %s within %.3g: %ld of %zu elements "
				"differ, first [%zu] = %.17g, expected %.17g",
		  what, d.tol, d.count, n, d.at, d.got, d.want);
}

static void
expect_near(const double *got, const double *want, size_t n, double rtol,
	    const char *what)
{
	expect_diff(diff_rel(got, want, n, rtol), n, what);
}

/*
 * Float against double: within F_TOL of the larger of 1 and the largest
 * double element (the inputs are of order 1, so a sum that cancels down
 * to a small value keeps the rounding errors of its terms).
 */
#define F_TOL (64 * FLT_EPSILON)

static void
expect_float(const double *got, const double *want, size_t n,
	     const char *what)
{
	expect_diff(diff_scaled(got, want, n, F_TOL, 1), n, what);
}

/* Data movement: exactly the reference's values. */
static void
expect_same(const double *got, const double *want, size_t n, const char *what)
{
	expect_bits(got, want, n, sizeof(double), what);
}


/* ---------------------------------------- the kernels as pcc emitted them
 * (libm through pcg_runtime.h's PCG_EXP etc., as the generated code) */

#define R float
#define LEG(name) name##_f
#define PCG(name) name##_f
#define TNAME "float"
#define EXPR PCG_EXPF
#define LOGR PCG_LOGF
#define SQRTR sqrtf
#define L0 0.0f
#define L05 0.5f
#define L1 1.0f
#define L1E5 9.99999975e-06f
#include "test_kernels_legacy.h"
#undef R
#undef LEG
#undef PCG
#undef TNAME
#undef EXPR
#undef LOGR
#undef SQRTR
#undef L0
#undef L05
#undef L1
#undef L1E5

#define R double
#define LEG(name) name##_d
#define PCG(name) name##_d
#define TNAME "double"
#define EXPR PCG_EXP
#define LOGR PCG_LOG
#define SQRTR sqrt
#define L0 0.0
#define L05 0.5
#define L1 1.0
#define L1E5 1.0000000000000001e-05
#include "test_kernels_legacy.h"
#undef R
#undef LEG
#undef PCG
#undef TNAME
#undef EXPR
#undef LOGR
#undef SQRTR
#undef L0
#undef L05
#undef L1
#undef L1E5

Test(bits, vector)
{
	bits_vector_f();
	bits_vector_d();
}

Test(bits, softmax)
{
	bits_softmax_f();
	bits_softmax_d();
}

Test(bits, layernorm)
{
	bits_layernorm_f();
	bits_layernorm_d();
}

Test(bits, targets_near)
{
	bits_near_f();
	bits_near_d();
}

Test(bits, sum)
{
	bits_reduce_f();
	bits_reduce_d();
}

Test(bits, transpose_slice_concat)
{
	bits_movement_f();
	bits_movement_d();
}

Test(bits, pool)
{
	bits_pool_f();
	bits_pool_d();
}

Test(bits, losses)
{
	bits_losses_f();
	bits_losses_d();
}

Test(bits, im2col_col2im)
{
	bits_conv_f();
	bits_conv_d();
}

/* Negative control: the bit comparison sees one ulp, and -0 against +0. */
Test(bits, checker_catches_one_ulp)
{
	double a[3] = {1, 2, 3}, b[3] = {1, 2, 3}, z[2] = {0.0, -0.0};
	float fa[2] = {1, 2}, fb[2] = {1, 2};

	b[2] = nextafter(b[2], 4);
	fb[1] = nextafterf(fb[1], 0);
	cr_assert(first_bit_diff(a, a, 3, sizeof a[0]) == 3,
		  "expected no difference between an array and itself");
	cr_assert(first_bit_diff(a, b, 3, sizeof a[0]) == 2,
		  "expected the bit comparison to flag [2], one ulp off");
	cr_assert(first_bit_diff(fa, fb, 2, sizeof fa[0]) == 1,
		  "expected the bit comparison of floats to flag [1]");
	cr_assert(z[0] == z[1] && first_bit_diff(z, z + 1, 1, sizeof z[0]) == 0,
		  "expected +0 and -0 to compare equal and differ in bits");
}

/* ------------------------------------- both types through one interface */

/*
 * The tests call every kernel through a wrapper taking doubles and a flag
 * fl: 0 runs the double kernel on them, 1 the float kernel on float copies
 * (outputs copied back when the wrapper returns).
 */
#define SHADOW_MAX 8

typedef struct shadow {
	int n;
	float *f[SHADOW_MAX];
	double *back[SHADOW_MAX];
	size_t len[SHADOW_MAX];
} shadow;

/* A float copy of x[0..n). */
static float *
sh_in(shadow *s, const double *x, size_t n)
{
	float *f = xcalloc(n, sizeof *f);

	cr_assert(s->n < SHADOW_MAX, "expected at most %d arrays a call",
		  SHADOW_MAX);
	for (size_t i = 0; i < n; i++)
		f[i] = (float)x[i];
	s->f[s->n] = f;
	s->back[s->n] = NULL;
	s->len[s->n++] = n;
	return f;
}

/* A float copy of x that goes back into x at sh_done. */
static float *
sh_io(shadow *s, double *x, size_t n)
{
	float *f = sh_in(s, x, n);

	s->back[s->n - 1] = x;
	return f;
}

static void
sh_done(shadow *s)
{
	for (int k = 0; k < s->n; k++) {
		if (s->back[k])
			for (size_t i = 0; i < s->len[k]; i++)
				s->back[k][i] = s->f[k][i];
		free(s->f[k]);
	}
	s->n = 0;
}

/* Call name##_f with fargs (using F_IN, F_IO) or name##_d with dargs. */
#define BOTH(fl, name, fargs, dargs)                                          \
	do {                                                                  \
		shadow sh_ = {0};                                             \
		if (fl)                                                       \
			name##_f fargs;                                       \
		else                                                          \
			name##_d dargs;                                       \
		sh_done(&sh_);                                                \
	} while (0)
#define F_IN(x, n) sh_in(&sh_, x, n)
#define F_IO(x, n) sh_io(&sh_, x, n)

static void
run_softmax(int fl, int log, int outer, int n, int inner, double *y,
	    const double *x)
{
	size_t c = (size_t)outer * n * inner;

	if (log)
		BOTH(fl, pcg_log_softmax,
		     (outer, n, inner, F_IO(y, c), F_IN(x, c)),
		     (outer, n, inner, y, x));
	else
		BOTH(fl, pcg_softmax, (outer, n, inner, F_IO(y, c), F_IN(x, c)),
		     (outer, n, inner, y, x));
}

static void
run_softmax_vjp(int fl, int log, int outer, int n, int inner, int acc,
		double *dx, const double *dy, const double *y)
{
	size_t c = (size_t)outer * n * inner;

	if (log)
		BOTH(fl, pcg_log_softmax_vjp,
		     (outer, n, inner, acc, F_IO(dx, c), F_IN(dy, c), F_IN(y, c)),
		     (outer, n, inner, acc, dx, dy, y));
	else
		BOTH(fl, pcg_softmax_vjp,
		     (outer, n, inner, acc, F_IO(dx, c), F_IN(dy, c), F_IN(y, c)),
		     (outer, n, inner, acc, dx, dy, y));
}

static void
run_layernorm(int fl, int outer, int n, int inner, double eps, double *y,
	      const double *x)
{
	size_t c = (size_t)outer * n * inner;

	BOTH(fl, pcg_layernorm,
	     (outer, n, inner, (float)eps, F_IO(y, c), F_IN(x, c)),
	     (outer, n, inner, eps, y, x));
}

static void
run_layernorm_vjp(int fl, int outer, int n, int inner, double eps, int acc,
		  double *dx, const double *dy, const double *x,
		  const double *y)
{
	size_t c = (size_t)outer * n * inner;

	BOTH(fl, pcg_layernorm_vjp,
	     (outer, n, inner, (float)eps, acc, F_IO(dx, c), F_IN(dy, c),
	      F_IN(x, c), F_IN(y, c)),
	     (outer, n, inner, eps, acc, dx, dy, x, y));
}

/* The number of elements of a reduction's output. */
static size_t
reduced_count(int rank, const int *dims, const int *red)
{
	size_t n = 1;

	for (int i = 0; i < rank; i++)
		if (!red[i])
			n *= (size_t)dims[i];
	return n;
}

static void
run_reduce(int fl, int op, int rank, const int *dims, const int *red,
	   double scale, double *y, const double *x)
{
	size_t nx = prod(rank, dims), ny = reduced_count(rank, dims, red);

	BOTH(fl, pcg_reduce,
	     (op, rank, dims, red, (float)scale, F_IO(y, ny), F_IN(x, nx)),
	     (op, rank, dims, red, scale, y, x));
}

static void
run_reduce_vjp(int fl, int op, int rank, const int *dims, const int *red,
	       int acc, double scale, double *dx, const double *dy,
	       const double *x, const double *y)
{
	size_t nx = prod(rank, dims), ny = reduced_count(rank, dims, red);

	BOTH(fl, pcg_reduce_vjp,
	     (op, rank, dims, red, acc, (float)scale, F_IO(dx, nx),
	      F_IN(dy, ny), F_IN(x, nx), F_IN(y, ny)),
	     (op, rank, dims, red, acc, scale, dx, dy, x, y));
}

static void
run_permute(int fl, int rank, const int *dims, const int *perm, double *y,
	    const double *x)
{
	size_t n = prod(rank, dims);

	BOTH(fl, pcg_permute, (rank, dims, perm, F_IO(y, n), F_IN(x, n)),
	     (rank, dims, perm, y, x));
}

static void
run_permute_vjp(int fl, int rank, const int *dims, const int *perm, int acc,
		double *dx, const double *dy)
{
	size_t n = prod(rank, dims);

	BOTH(fl, pcg_permute_vjp,
	     (rank, dims, perm, acc, F_IO(dx, n), F_IN(dy, n)),
	     (rank, dims, perm, acc, dx, dy));
}

static void
run_slice(int fl, int rank, const int *dims, const int *lo, const int *step,
	  const int *ydims, double *y, const double *x)
{
	size_t nx = prod(rank, dims), ny = prod(rank, ydims);

	BOTH(fl, pcg_slice,
	     (rank, dims, lo, step, ydims, F_IO(y, ny), F_IN(x, nx)),
	     (rank, dims, lo, step, ydims, y, x));
}

static void
run_slice_vjp(int fl, int rank, const int *dims, const int *lo,
	      const int *step, const int *ydims, int acc, double *dx,
	      const double *dy)
{
	size_t nx = prod(rank, dims), ny = prod(rank, ydims);

	BOTH(fl, pcg_slice_vjp,
	     (rank, dims, lo, step, ydims, acc, F_IO(dx, nx), F_IN(dy, ny)),
	     (rank, dims, lo, step, ydims, acc, dx, dy));
}

/* The length of a (batch x) outer x len tensor with sample stride bs. */
static size_t
strided_len(int batch, int bs, size_t sample)
{
	return bs ? (size_t)batch * (size_t)bs : sample;
}

static void
run_place(int fl, int batch, int outer, int ylen, int off, int xlen, int xbs,
	  double *y, const double *x)
{
	size_t ny = (size_t)batch * outer * ylen;
	size_t nx = strided_len(batch, xbs, (size_t)outer * xlen);

	BOTH(fl, pcg_place,
	     (batch, outer, ylen, off, xlen, xbs, F_IO(y, ny), F_IN(x, nx)),
	     (batch, outer, ylen, off, xlen, xbs, y, x));
}

static void
run_gather(int fl, int batch, int outer, int ylen, int off, int xlen,
	   int dxbs, int acc, double *dx, const double *dy)
{
	size_t ny = (size_t)batch * outer * ylen;
	size_t nx = strided_len(batch, dxbs, (size_t)outer * xlen);

	BOTH(fl, pcg_gather,
	     (batch, outer, ylen, off, xlen, dxbs, acc, F_IO(dx, nx),
	      F_IN(dy, ny)),
	     (batch, outer, ylen, off, xlen, dxbs, acc, dx, dy));
}

static void
run_tri(int fl, int lower, int count, int m, int n, int k, double fill,
	double *y, const double *x)
{
	size_t c = (size_t)count * m * n;

	BOTH(fl, pcg_tri,
	     (lower, count, m, n, k, (float)fill, F_IO(y, c), F_IN(x, c)),
	     (lower, count, m, n, k, fill, y, x));
}

static void
run_tri_vjp(int fl, int lower, int count, int m, int n, int k, int acc,
	    double *dx, const double *dy)
{
	size_t c = (size_t)count * m * n;

	BOTH(fl, pcg_tri_vjp,
	     (lower, count, m, n, k, acc, F_IO(dx, c), F_IN(dy, c)),
	     (lower, count, m, n, k, acc, dx, dy));
}

/* Convolution geometry: c h w kh kw sh sw ph pw dh dw oh ow. */
enum { G_C, G_H, G_W, G_KH, G_KW, G_SH, G_SW, G_PH, G_PW, G_DH, G_DW, G_OH,
       G_OW, G_N };

/* Fill in oh and ow from the rest (PyTorch's output size). */
static void
conv_out(int *g)
{
	g[G_OH] = (g[G_H] + 2 * g[G_PH] - g[G_DH] * (g[G_KH] - 1) - 1) / g[G_SH] + 1;
	g[G_OW] = (g[G_W] + 2 * g[G_PW] - g[G_DW] * (g[G_KW] - 1) - 1) / g[G_SW] + 1;
}

static size_t
col_len(const int *g)
{
	return (size_t)g[G_C] * g[G_KH] * g[G_KW] * g[G_OH] * g[G_OW];
}

static void
run_im2col_ex(int fl, const int *g, const double *x, double *col)
{
	size_t nx = (size_t)g[G_C] * g[G_H] * g[G_W], nc = col_len(g);

	BOTH(fl, pcg_im2col_ex,
	     (g[G_C], g[G_H], g[G_W], g[G_KH], g[G_KW], g[G_SH], g[G_SW],
	      g[G_PH], g[G_PW], g[G_DH], g[G_DW], g[G_OH], g[G_OW], F_IN(x, nx),
	      F_IO(col, nc)),
	     (g[G_C], g[G_H], g[G_W], g[G_KH], g[G_KW], g[G_SH], g[G_SW],
	      g[G_PH], g[G_PW], g[G_DH], g[G_DW], g[G_OH], g[G_OW], x, col));
}

static void
run_col2im_ex(int fl, const int *g, int acc, const double *col, double *dx)
{
	size_t nx = (size_t)g[G_C] * g[G_H] * g[G_W], nc = col_len(g);

	BOTH(fl, pcg_col2im_ex,
	     (g[G_C], g[G_H], g[G_W], g[G_KH], g[G_KW], g[G_SH], g[G_SW],
	      g[G_PH], g[G_PW], g[G_DH], g[G_DW], g[G_OH], g[G_OW], acc,
	      F_IN(col, nc), F_IO(dx, nx)),
	     (g[G_C], g[G_H], g[G_W], g[G_KH], g[G_KW], g[G_SH], g[G_SW],
	      g[G_PH], g[G_PW], g[G_DH], g[G_DW], g[G_OH], g[G_OW], acc, col,
	      dx));
}

/* Pooling geometry: max planes h w kh kw sh sw ph pw oh ow. */
enum { P_MAX, P_PL, P_H, P_W, P_KH, P_KW, P_SH, P_SW, P_PH, P_PW, P_OH, P_OW,
       P_N };

static void
pool_out(int *g)
{
	g[P_OH] = (g[P_H] + 2 * g[P_PH] - g[P_KH]) / g[P_SH] + 1;
	g[P_OW] = (g[P_W] + 2 * g[P_PW] - g[P_KW]) / g[P_SW] + 1;
}

static void
run_pool(int fl, const int *g, double *y, const double *x)
{
	size_t nx = (size_t)g[P_PL] * g[P_H] * g[P_W];
	size_t ny = (size_t)g[P_PL] * g[P_OH] * g[P_OW];

	BOTH(fl, pcg_pool2d,
	     (g[P_MAX], g[P_PL], g[P_H], g[P_W], g[P_KH], g[P_KW], g[P_SH],
	      g[P_SW], g[P_PH], g[P_PW], g[P_OH], g[P_OW], F_IO(y, ny),
	      F_IN(x, nx)),
	     (g[P_MAX], g[P_PL], g[P_H], g[P_W], g[P_KH], g[P_KW], g[P_SH],
	      g[P_SW], g[P_PH], g[P_PW], g[P_OH], g[P_OW], y, x));
}

static void
run_pool_vjp(int fl, const int *g, int acc, double *dx, const double *dy,
	     const double *x)
{
	size_t nx = (size_t)g[P_PL] * g[P_H] * g[P_W];
	size_t ny = (size_t)g[P_PL] * g[P_OH] * g[P_OW];

	BOTH(fl, pcg_pool2d_vjp,
	     (g[P_MAX], g[P_PL], g[P_H], g[P_W], g[P_KH], g[P_KW], g[P_SH],
	      g[P_SW], g[P_PH], g[P_PW], g[P_OH], g[P_OW], acc, F_IO(dx, nx),
	      F_IN(dy, ny), F_IN(x, nx)),
	     (g[P_MAX], g[P_PL], g[P_H], g[P_W], g[P_KH], g[P_KW], g[P_SH],
	      g[P_SW], g[P_PH], g[P_PW], g[P_OH], g[P_OW], acc, dx, dy, x));
}

static void
run_embed(int fl, int n, int d, int v, double *y, const double *e,
	  const int32_t *ids)
{
	BOTH(fl, pcg_embed,
	     (n, d, F_IO(y, (size_t)n * d), F_IN(e, (size_t)v * d), ids),
	     (n, d, y, e, ids));
}

static void
run_embed_vjp(int fl, int n, int d, int v, int acc, double *de,
	      const double *dy, const int32_t *ids)
{
	BOTH(fl, pcg_embed_vjp,
	     (n, d, v, acc, F_IO(de, (size_t)v * d), F_IN(dy, (size_t)n * d),
	      ids),
	     (n, d, v, acc, de, dy, ids));
}

/* The losses, one shape for all: o and t batch x rows x n. */
enum { L_MSE, L_XENT, L_XENT_INDEX, L_BCE, L_L1, L_HUBER, L_KINDS };

static const char *const loss_name[] = {"mse", "xent", "xent_index", "bce",
					"l1", "huber"};

typedef struct loss_case {
	int kind, batch, rows, n, os, ts;
	double delta;		/* huber */
	const int32_t *labels; /* xent_index */
} loss_case;

static size_t
loss_len(const loss_case *L, int stride)
{
	return strided_len(L->batch, stride, (size_t)L->rows * L->n);
}

static void
run_loss(int fl, const loss_case *L, double *y, const double *o,
	 const double *t)
{
	int b = L->batch, r = L->rows, n = L->n, os = L->os, ts = L->ts;
	size_t no = loss_len(L, os), nt = loss_len(L, ts), nb = (size_t)b;

	switch (L->kind) {
	case L_MSE:
		BOTH(fl, pcg_mse, (b, n, os, ts, F_IO(y, nb), F_IN(o, no),
				   F_IN(t, nt)),
		     (b, n, os, ts, y, o, t));
		break;
	case L_XENT:
		BOTH(fl, pcg_xent, (b, r, n, os, ts, F_IO(y, nb), F_IN(o, no),
				    F_IN(t, nt)),
		     (b, r, n, os, ts, y, o, t));
		break;
	case L_XENT_INDEX:
		BOTH(fl, pcg_xent_index,
		     (b, r, n, os, F_IO(y, nb), F_IN(o, no), L->labels),
		     (b, r, n, os, y, o, L->labels));
		break;
	case L_BCE:
		BOTH(fl, pcg_bce, (b, n, os, ts, F_IO(y, nb), F_IN(o, no),
				   F_IN(t, nt)),
		     (b, n, os, ts, y, o, t));
		break;
	case L_L1:
		BOTH(fl, pcg_l1, (b, n, os, ts, F_IO(y, nb), F_IN(o, no),
				  F_IN(t, nt)),
		     (b, n, os, ts, y, o, t));
		break;
	default:
		BOTH(fl, pcg_huber, (b, n, os, ts, (float)L->delta, F_IO(y, nb),
				     F_IN(o, no), F_IN(t, nt)),
		     (b, n, os, ts, L->delta, y, o, t));
		break;
	}
}

static void
run_loss_vjp(int fl, const loss_case *L, int wrt, int acc, double *dx,
	     const double *dy, const double *o, const double *t)
{
	int b = L->batch, r = L->rows, n = L->n, os = L->os, ts = L->ts;
	int dxs = wrt ? ts : os;
	size_t no = loss_len(L, os), nt = loss_len(L, ts), nb = (size_t)b;
	size_t nd = wrt ? nt : no;

	switch (L->kind) {
	case L_MSE:
		BOTH(fl, pcg_mse_vjp,
		     (wrt, b, n, os, ts, dxs, acc, F_IO(dx, nd), F_IN(dy, nb),
		      F_IN(o, no), F_IN(t, nt)),
		     (wrt, b, n, os, ts, dxs, acc, dx, dy, o, t));
		break;
	case L_XENT:
		BOTH(fl, pcg_xent_vjp,
		     (wrt, b, r, n, os, ts, dxs, acc, F_IO(dx, nd), F_IN(dy, nb),
		      F_IN(o, no), F_IN(t, nt)),
		     (wrt, b, r, n, os, ts, dxs, acc, dx, dy, o, t));
		break;
	case L_XENT_INDEX:
		BOTH(fl, pcg_xent_index_vjp,
		     (b, r, n, os, dxs, acc, F_IO(dx, nd), F_IN(dy, nb),
		      F_IN(o, no), L->labels),
		     (b, r, n, os, dxs, acc, dx, dy, o, L->labels));
		break;
	case L_BCE:
		BOTH(fl, pcg_bce_vjp,
		     (wrt, b, n, os, ts, dxs, acc, F_IO(dx, nd), F_IN(dy, nb),
		      F_IN(o, no), F_IN(t, nt)),
		     (wrt, b, n, os, ts, dxs, acc, dx, dy, o, t));
		break;
	case L_L1:
		BOTH(fl, pcg_l1_vjp,
		     (wrt, b, n, os, ts, dxs, acc, F_IO(dx, nd), F_IN(dy, nb),
		      F_IN(o, no), F_IN(t, nt)),
		     (wrt, b, n, os, ts, dxs, acc, dx, dy, o, t));
		break;
	default:
		BOTH(fl, pcg_huber_vjp,
		     (wrt, b, n, os, ts, (float)L->delta, dxs, acc, F_IO(dx, nd),
		      F_IN(dy, nb), F_IN(o, no), F_IN(t, nt)),
		     (wrt, b, n, os, ts, L->delta, dxs, acc, dx, dy, o, t));
		break;
	}
}

/* ------------------------------------------------ finite differences */

#define FD_TOL 1e-7
#define FD_H 1e-4

/*
 * A kernel and its VJP as a differentiable function of up to two real
 * inputs (in[0], in[1]) into ylen outputs; the other arguments live in
 * ip, rp and the case pointers.
 */
typedef struct fd_prob fd_prob;
struct fd_prob {
	double *in[2];
	size_t len[2];
	size_t ylen;
	int ip[24];
	double rp;
	const int32_t *ids;
	const loss_case *loss;
	/* y = f(in) (y is zeroed first) */
	void (*fwd)(const fd_prob *p, int fl, double *y);
	/* dx (+)= the VJP into in[wrt]; y = f(in) in the same type */
	void (*vjp)(const fd_prob *p, int fl, int wrt, int acc, double *dx,
		    const double *dy, const double *y);
};

static void
fd_forward(const fd_prob *p, int fl, double *y)
{
	for (size_t k = 0; k < p->ylen; k++)
		y[k] = 0;
	p->fwd(p, fl, y);
}

/* L = dy . f(in) */
static double
fd_loss(const fd_prob *p, const double *dy, double *y)
{
	long double s = 0;

	fd_forward(p, 0, y);
	for (size_t k = 0; k < p->ylen; k++)
		s += (long double)dy[k] * y[k];
	return (double)s;
}

typedef struct fd_result {
	double err; /* max |fd - dx| / max |dx| */
	size_t at;
	double fd, an;
} fd_result;

/* dx against the differences (8 (L(+h) - L(-h)) - (L(+2h) - L(-2h))) / 12h. */
static fd_result
fd_compare(const fd_prob *p, int wrt, const double *dy, const double *dx)
{
	double *x = p->in[wrt], *y = dvec(p->ylen), big = 0;
	fd_result r = {0, 0, 0, 0};

	for (size_t k = 0; k < p->len[wrt]; k++)
		big = fmax(big, fabs(dx[k]));
	for (size_t k = 0; k < p->len[wrt]; k++) {
		double x0 = x[k], l[4];
		static const double at[4] = {1, -1, 2, -2};

		for (int i = 0; i < 4; i++) {
			x[k] = x0 + at[i] * FD_H;
			l[i] = fd_loss(p, dy, y);
		}
		x[k] = x0;
		double fd = (8 * (l[0] - l[1]) - (l[2] - l[3])) / (12 * FD_H);
		double e = fabs(fd - dx[k]) / (big > 0 ? big : 1);

		if (!(e <= r.err)) {
			r.err = e;
			r.at = k;
			r.fd = fd;
			r.an = dx[k];
		}
	}
	free(y);
	return r;
}

/*
 * The whole check of one VJP: acc = 0 writes every element of dx (it was
 * NaN); dx matches the differences; acc = 1 adds to what dx held; the
 * float forward and VJP agree with the double ones.
 */
static void
fd_check(const fd_prob *p, int wrt, uint64_t seed, const char *what)
{
	uint64_t s = seed;
	size_t n = p->len[wrt];
	double *y = dvec(p->ylen), *yf = dvec(p->ylen);
	double *dy = rvec(p->ylen, &s), *dx = dvec(n), *dxf = dvec(n);
	double *dx0 = rvec(n, &s), *dxa = dvec(n), *want = dvec(n);
	char msg[256];

	fd_forward(p, 0, y);
	for (size_t k = 0; k < n; k++)
		dx[k] = NAN;
	p->vjp(p, 0, wrt, 0, dx, dy, y);
	for (size_t k = 0; k < n; k++)
		cr_assert(!isnan(dx[k]), "expected %s's VJP into input %d with "
					 "acc = 0 to write every element, [%zu] "
					 "kept its NaN", what, wrt, k);

	fd_result r = fd_compare(p, wrt, dy, dx);
	cr_assert(r.err <= FD_TOL, "expected %s's VJP into input %d to match "
				   "central differences within %g (relative), "
				   "got %.3g at [%zu]: VJP %.17g, differences "
				   "%.17g", what, wrt, FD_TOL, r.err, r.at, r.an,
		  r.fd);

	memcpy(dxa, dx0, n * sizeof *dxa);
	p->vjp(p, 0, wrt, 1, dxa, dy, y);
	for (size_t k = 0; k < n; k++)
		want[k] = dx0[k] + dx[k];
	snprintf(msg, sizeof msg, "%s's VJP into input %d with acc = 1 to be "
				  "the earlier dx plus the acc = 0 result", what,
		 wrt);
	expect_near(dxa, want, n, 1e-13, msg);

	fd_forward(p, 1, yf);
	snprintf(msg, sizeof msg, "the float %s to agree with the double one",
		 what);
	expect_float(yf, y, p->ylen, msg);
	for (size_t k = 0; k < n; k++)
		dxf[k] = NAN;
	p->vjp(p, 1, wrt, 0, dxf, dy, yf);
	snprintf(msg, sizeof msg, "the float VJP of %s into input %d to agree "
				  "with the double one", what, wrt);
	expect_float(dxf, dx, n, msg);
	free(y);
	free(yf);
	free(dy);
	free(dx);
	free(dxf);
	free(dx0);
	free(dxa);
	free(want);
}

/* ---------------------------------------------------------- vector */

/* The element-wise and vector kernels against their closed forms. */
Test(vector, closed_forms)
{
	enum { N = 50 };
	uint64_t s = 101;
	double *x = rvec(N, &s), *mu = rvec(N, &s), *g = rvec(N, &s);
	double *fb = rvec(N, &s), *dev = rvec(N, &s), *xx = dvec(N);
	double *y = dvec(N), *want = dvec(N), *dev0 = dvec(N);
	double c = 0.375, lr = 0.0625;
	long double sq = 0, sum = 0, mag = 0;

	g[3] = 0.0;
	g[4] = -0.0;
	pcg_fill_d(N, y, c);
	for (int i = 0; i < N; i++)
		want[i] = c;
	expect_same(y, want, N, "pcg_fill: y = v everywhere");
	pcg_copy_d(N, y, x);
	expect_same(y, x, N, "pcg_copy: y = x");
	pcg_copy_vjp_d(N, 0, y, g);
	expect_same(y, g, N, "pcg_copy_vjp (acc = 0): dx = dy");
	pcg_copy_vjp_d(N, 1, y, x);
	for (int i = 0; i < N; i++)
		want[i] = g[i] + x[i];
	expect_same(y, want, N, "pcg_copy_vjp (acc = 1): dx = dx + dy");
	memcpy(y, x, N * sizeof *y);
	pcg_scale_d(N, c, y);
	for (int i = 0; i < N; i++)
		want[i] = x[i] * c;
	expect_same(y, want, N, "pcg_scale: g = g c");
	pcg_error_d(N, y, x, mu);
	for (int i = 0; i < N; i++)
		want[i] = x[i] - mu[i];
	expect_same(y, want, N, "pcg_error: eps = x - mu");

	memcpy(dev0, dev, N * sizeof *dev);
	pcg_infer_d(N, c, dev, xx, mu, x, fb);
	for (int i = 0; i < N; i++)
		want[i] = dev0[i] + c * (fb[i] - x[i]);
	expect_same(dev, want, N, "pcg_infer: dev = dev + gamma (fb - eps)");
	for (int i = 0; i < N; i++)
		want[i] = mu[i] + dev[i];
	expect_same(xx, want, N, "pcg_infer: x = mu0 + dev");

	for (int i = 0; i < N; i++) {
		sq += (long double)x[i] * x[i];
		sum += x[i];
		mag += fabs(x[i]);
	}
	double h = pcg_half_sq_d(N, x), t = pcg_sum_d(N, x);
	cr_assert(fabs(h - (double)(sq / 2)) <= 1e-15 * (double)sq,
		  "expected pcg_half_sq = %.17g, got %.17g", (double)(sq / 2), h);
	cr_assert(fabs(t - (double)sum) <= N * DBL_EPSILON * (double)mag,
		  "expected pcg_sum = %.17g, got %.17g", (double)sum, t);
	cr_assert(pcg_sum_d(0, x) == 0 && !signbit(pcg_sum_d(0, x)),
		  "expected the empty sum to be +0");
	double mz = -0.0;
	cr_assert(!signbit(pcg_sum_d(1, &mz)) && !signbit(pcg_half_sq_d(1, &mz)),
		  "expected sums from +0: -0 gives +0");

	memcpy(y, x, N * sizeof *y);
	pcg_sgd_d(N, lr, y, g);
	for (int i = 0; i < N; i++)
		want[i] = x[i] - lr * g[i];
	expect_same(y, want, N, "pcg_sgd: w = w - lr g");
	memcpy(y, x, N * sizeof *y);
	pcg_zil_sgd_d(N, lr, y, g);
	for (int i = 0; i < N; i++)
		want[i] = x[i] + lr * g[i];
	expect_same(y, want, N, "pcg_zil_sgd: w = w - lr (-g) = w + lr g");
	memcpy(y, g, N * sizeof *y);
	pcg_canon_d(N, y);
	for (int i = 0; i < N; i++)
		want[i] = g[i] == 0 ? 0.0 : g[i];
	expect_same(y, want, N, "pcg_canon: g unchanged, every zero +0");
	memcpy(y, g, N * sizeof *y);
	pcg_zil_grad_d(N, y);
	for (int i = 0; i < N; i++)
		want[i] = g[i] == 0 ? 0.0 : -g[i];
	expect_same(y, want, N, "pcg_zil_grad: -g, every zero +0");
	free(x);
	free(mu);
	free(g);
	free(fb);
	free(dev);
	free(xx);
	free(y);
	free(want);
	free(dev0);
}

/* The float element-wise kernels agree with the double ones. */
Test(vector, float_matches_double)
{
	enum { N = 64 };
	uint64_t s = 102;
	double *x = rvec(N, &s), *mu = rvec(N, &s), *fb = rvec(N, &s);
	double *dev[2], *xx[2], *w[2];
	double c = 0.375;

	for (int fl = 0; fl < 2; fl++) {
		uint64_t s2 = 7;

		dev[fl] = rvec(N, &s2);
		xx[fl] = dvec(N);
		w[fl] = rvec(N, &s2);
		BOTH(fl, pcg_infer,
		     (N, (float)c, F_IO(dev[fl], N), F_IO(xx[fl], N), F_IN(mu, N),
		      F_IN(x, N), F_IN(fb, N)),
		     (N, c, dev[fl], xx[fl], mu, x, fb));
		BOTH(fl, pcg_sgd, (N, (float)c, F_IO(w[fl], N), F_IN(x, N)),
		     (N, c, w[fl], x));
		BOTH(fl, pcg_zil_sgd, (N, (float)c, F_IO(w[fl], N), F_IN(x, N)),
		     (N, c, w[fl], x));
		BOTH(fl, pcg_scale, (N, (float)c, F_IO(w[fl], N)), (N, c, w[fl]));
	}
	expect_float(dev[1], dev[0], N, "float pcg_infer's dev = double's");
	expect_float(xx[1], xx[0], N, "float pcg_infer's x = double's");
	expect_float(w[1], w[0], N,
		    "float pcg_sgd, pcg_zil_sgd, pcg_scale = double's");

	float xf[N];
	for (int i = 0; i < N; i++)
		xf[i] = (float)x[i];
	double hd = pcg_half_sq_d(N, x), hf = pcg_half_sq_f(N, xf);
	double sd = pcg_sum_d(N, x), sf = pcg_sum_f(N, xf);
	cr_assert(fabs(hf - hd) <= F_TOL * hd, "expected float pcg_half_sq "
					       "%.9g = double %.17g", hf, hd);
	cr_assert(fabs(sf - sd) <= F_TOL * N, "expected float pcg_sum %.9g = "
					      "double %.17g", sf, sd);
	for (int fl = 0; fl < 2; fl++) {
		free(dev[fl]);
		free(xx[fl]);
		free(w[fl]);
	}
	free(x);
	free(mu);
	free(fb);
}

/* ------------------------------------------------------ along an axis */

static void
ref_softmax(int log, int outer, int n, int inner, double *y, const double *x)
{
	for (int o = 0; o < outer; o++)
		for (int i = 0; i < inner; i++) {
			size_t at = (size_t)o * n * inner + i;
			long double m = -INFINITY, sum = 0;

			for (int k = 0; k < n; k++)
				m = fmaxl(m, x[at + (size_t)k * inner]);
			for (int k = 0; k < n; k++)
				sum += expl(x[at + (size_t)k * inner] - m);
			for (int k = 0; k < n; k++) {
				long double v = x[at + (size_t)k * inner] - m;

				y[at + (size_t)k * inner] =
					(double)(log ? v - logl(sum) : expl(v) / sum);
			}
		}
}

static const int axis_shapes[][3] = {{3, 6, 4}, {1, 5, 1}, {4, 7, 1},
				     {1, 3, 9}, {2, 1, 3}, {2, 2, 2}};

/* Softmax and log-softmax along the middle axis, against long double. */
Test(axis, softmax_middle_axis)
{
	uint64_t s = 201;

	for (size_t c = 0; c < sizeof axis_shapes / sizeof axis_shapes[0]; c++) {
		int outer = axis_shapes[c][0], n = axis_shapes[c][1];
		int inner = axis_shapes[c][2];
		size_t len = (size_t)outer * n * inner;
		double *x = rvec(len, &s), *y = dvec(len), *yf = dvec(len);
		double *want = dvec(len);
		char msg[160];

		for (size_t i = 0; i < len; i++)
			x[i] *= 10;
		for (int log = 0; log < 2; log++) {
			run_softmax(0, log, outer, n, inner, y, x);
			ref_softmax(log, outer, n, inner, want, x);
			snprintf(msg, sizeof msg, "pcg_%ssoftmax over [%d][%d][%d]",
				 log ? "log_" : "", outer, n, inner);
			expect_near(y, want, len, 1e-14, msg);
			run_softmax(1, log, outer, n, inner, yf, x);
			snprintf(msg, sizeof msg, "float pcg_%ssoftmax over "
				 "[%d][%d][%d] = double's", log ? "log_" : "",
				 outer, n, inner);
			expect_float(yf, y, len, msg);
		}
		free(x);
		free(y);
		free(yf);
		free(want);
	}
}

/*
 * Along a middle axis is the same arithmetic as along rows after moving
 * that axis last: the same bits.
 */
Test(axis, middle_axis_is_rows_of_the_permuted_tensor)
{
	enum { O = 3, N = 6, I = 4, C = O * N * I };
	int dims[] = {O, N, I}, perm[] = {0, 2, 1};
	uint64_t s = 202;
	double *x = rvec(C, &s), *xt = dvec(C), *yt = dvec(C), *want = dvec(C);
	double *y = dvec(C);
	static const char *const what[] = {
		"softmax along axis 1 = rows of the transposed tensor",
		"log_softmax along axis 1 = rows of the transposed tensor",
		"layernorm along axis 1 = rows of the transposed tensor"};

	for (int k = 0; k < 3; k++) {
		pcg_permute_d(3, dims, perm, xt, x);
		if (k == 0) {
			pcg_softmax_d(O * I, N, 1, yt, xt);
			pcg_softmax_d(O, N, I, y, x);
		} else if (k == 1) {
			pcg_log_softmax_d(O * I, N, 1, yt, xt);
			pcg_log_softmax_d(O, N, I, y, x);
		} else {
			pcg_layernorm_d(O * I, N, 1, 1e-5, yt, xt);
			pcg_layernorm_d(O, N, I, 1e-5, y, x);
		}
		int tdims[] = {O, I, N};
		pcg_permute_d(3, tdims, perm, want, yt);
		expect_same(y, want, C, what[k]);
	}
	free(x);
	free(xt);
	free(yt);
	free(want);
	free(y);
}

static void
fwd_softmax(const fd_prob *p, int fl, double *y)
{
	run_softmax(fl, p->ip[0], p->ip[1], p->ip[2], p->ip[3], y, p->in[0]);
}

static void
vjp_softmax(const fd_prob *p, int fl, int wrt, int acc, double *dx,
	    const double *dy, const double *y)
{
	(void)wrt;
	run_softmax_vjp(fl, p->ip[0], p->ip[1], p->ip[2], p->ip[3], acc, dx,
			dy, y);
}

static fd_prob
softmax_prob(int log, int outer, int n, int inner, uint64_t *s)
{
	fd_prob p = {0};
	size_t len = (size_t)outer * n * inner;

	p.in[0] = rvec(len, s);
	for (size_t i = 0; i < len; i++)
		p.in[0][i] *= 3;
	p.len[0] = p.ylen = len;
	p.ip[0] = log;
	p.ip[1] = outer;
	p.ip[2] = n;
	p.ip[3] = inner;
	p.fwd = fwd_softmax;
	p.vjp = vjp_softmax;
	return p;
}

Test(axis, softmax_vjps_against_differences)
{
	uint64_t s = 203;
	char what[96];

	for (size_t c = 0; c < sizeof axis_shapes / sizeof axis_shapes[0]; c++)
		for (int log = 0; log < 2; log++) {
			fd_prob p = softmax_prob(log, axis_shapes[c][0],
						 axis_shapes[c][1],
						 axis_shapes[c][2], &s);

			snprintf(what, sizeof what, "pcg_%ssoftmax [%d][%d][%d]",
				 log ? "log_" : "", p.ip[1], p.ip[2], p.ip[3]);
			fd_check(&p, 0, 10 + c, what);
			free(p.in[0]);
		}
}

static void
ref_layernorm(int outer, int n, int inner, double eps, double *y,
	      const double *x)
{
	for (int o = 0; o < outer; o++)
		for (int i = 0; i < inner; i++) {
			size_t at = (size_t)o * n * inner + i;
			long double m = 0, v = 0;

			for (int k = 0; k < n; k++)
				m += x[at + (size_t)k * inner];
			m /= n;
			for (int k = 0; k < n; k++) {
				long double d = x[at + (size_t)k * inner] - m;

				v += d * d;
			}
			v /= n;
			for (int k = 0; k < n; k++)
				y[at + (size_t)k * inner] = (double)(
					(x[at + (size_t)k * inner] - m) /
					sqrtl(v + eps));
		}
}

Test(axis, layernorm_middle_axis)
{
	static const int shapes[][3] = {{3, 8, 5}, {2, 16, 1}, {1, 2, 3}};
	uint64_t s = 204;

	for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
		int outer = shapes[c][0], n = shapes[c][1], inner = shapes[c][2];
		size_t len = (size_t)outer * n * inner;
		double *x = rvec(len, &s), *y = dvec(len), *yf = dvec(len);
		double *want = dvec(len);
		char msg[128];

		for (double eps = 1e-5; eps < 1; eps += 0.5) {
			run_layernorm(0, outer, n, inner, eps, y, x);
			ref_layernorm(outer, n, inner, eps, want, x);
			snprintf(msg, sizeof msg, "pcg_layernorm over [%d][%d][%d], "
				 "eps %g", outer, n, inner, eps);
			expect_near(y, want, len, 1e-13, msg);
			run_layernorm(1, outer, n, inner, eps, yf, x);
			snprintf(msg, sizeof msg, "float pcg_layernorm over "
				 "[%d][%d][%d] = double's", outer, n, inner);
			expect_float(yf, y, len, msg);
		}
		free(x);
		free(y);
		free(yf);
		free(want);
	}
}

static void
fwd_layernorm(const fd_prob *p, int fl, double *y)
{
	run_layernorm(fl, p->ip[0], p->ip[1], p->ip[2], p->rp, y, p->in[0]);
}

static void
vjp_layernorm(const fd_prob *p, int fl, int wrt, int acc, double *dx,
	      const double *dy, const double *y)
{
	(void)wrt;
	run_layernorm_vjp(fl, p->ip[0], p->ip[1], p->ip[2], p->rp, acc, dx, dy,
			  p->in[0], y);
}

Test(axis, layernorm_vjp_against_differences)
{
	static const int shapes[][3] = {{3, 8, 5}, {2, 16, 1}, {1, 2, 3}};
	uint64_t s = 205;
	char what[96];

	for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
		fd_prob p = {0};
		size_t len = (size_t)shapes[c][0] * shapes[c][1] * shapes[c][2];

		p.in[0] = rvec(len, &s);
		p.len[0] = p.ylen = len;
		memcpy(p.ip, shapes[c], sizeof shapes[c]);
		p.rp = 0.01;
		p.fwd = fwd_layernorm;
		p.vjp = vjp_layernorm;
		snprintf(what, sizeof what, "pcg_layernorm [%d][%d][%d]",
			 shapes[c][0], shapes[c][1], shapes[c][2]);
		fd_check(&p, 0, 20 + c, what);
		free(p.in[0]);
	}
}

/* targets_near against the formulas (softmax in long double). */
Test(axis, targets_near)
{
	enum { B = 3, ROWS = 2, N = 5, SN = ROWS * N, C = B * SN };
	uint64_t s = 206;
	double *o = rvec(C, &s), *t0 = rvec(C, &s), *t = dvec(C);
	double *want = dvec(C), *p = dvec(C), c = 0.25;

	memcpy(t, t0, C * sizeof *t);
	pcg_near_mse_d(B, SN, SN, c, t, o);
	for (int i = 0; i < C; i++)
		want[i] = o[i] + c * (t0[i] - o[i]);
	expect_near(t, want, C, 1e-15, "pcg_near_mse: t = o + c (t - o)");

	memcpy(t, t0, C * sizeof *t);
	pcg_near_xent_d(B, ROWS, N, SN, c, t, o);
	ref_softmax(0, B * ROWS, N, 1, p, o);
	for (int i = 0; i < C; i++)
		want[i] = p[i] + c * (t0[i] - p[i]);
	expect_near(t, want, C, 1e-15, "pcg_near_xent: t = p + c (t - p), p "
				       "the softmax of each row of o");

	/* a shared target: every sample moves it in turn */
	memcpy(t, t0, SN * sizeof *t);
	memcpy(want, t0, SN * sizeof *want);
	pcg_near_mse_d(B, SN, 0, c, t, o);
	for (int b = 0; b < B; b++)
		for (int i = 0; i < SN; i++)
			want[i] = o[b * SN + i] + c * (want[i] - o[b * SN + i]);
	expect_near(t, want, SN, 1e-15, "pcg_near_mse with a shared target: "
					"moved by each sample in order");
	free(o);
	free(t0);
	free(t);
	free(want);
	free(p);
}

/* -------------------------------------------------------- reductions */

/* The reduction by its definition: y[kept index] over x in row-major order. */
static void
ref_reduce(int op, int rank, const int *dims, const int *red, double scale,
	   double *y, const double *x)
{
	size_t nx = prod(rank, dims), ny = reduced_count(rank, dims, red);
	long double *acc = xcalloc(ny, sizeof *acc);
	int idx[PCG_MAX_RANK], kd[PCG_MAX_RANK], ki[PCG_MAX_RANK], kr = 0;

	for (int a = 0; a < rank; a++)
		if (!red[a])
			kd[kr++] = dims[a];
	for (size_t j = 0; j < ny; j++)
		acc[j] = op == PCG_REDUCE_MAX ? -INFINITY : 0;
	for (size_t i = 0; i < nx; i++) {
		unravel(i, rank, dims, idx);
		for (int a = 0, k = 0; a < rank; a++)
			if (!red[a])
				ki[k++] = idx[a];
		size_t j = ravel(kr, kd, ki);
		if (op == PCG_REDUCE_SUM)
			acc[j] += x[i];
		else if (!isnan(acc[j]) && (isnan(x[i]) || x[i] > acc[j]))
			acc[j] = x[i];
	}
	for (size_t j = 0; j < ny; j++)
		y[j] = (double)(op == PCG_REDUCE_SUM ? acc[j] * scale : acc[j]);
	free(acc);
}

/* The max's VJP by its definition (acc = 0). */
static void
ref_reduce_max_vjp(int rank, const int *dims, const int *red, double *dx,
		   const double *dy, const double *x, const double *y)
{
	size_t nx = prod(rank, dims), ny = reduced_count(rank, dims, red);
	char *done = xcalloc(ny, 1);
	int idx[PCG_MAX_RANK], kd[PCG_MAX_RANK], ki[PCG_MAX_RANK], kr = 0;

	for (int a = 0; a < rank; a++)
		if (!red[a])
			kd[kr++] = dims[a];
	for (size_t i = 0; i < nx; i++) {
		unravel(i, rank, dims, idx);
		for (int a = 0, k = 0; a < rank; a++)
			if (!red[a])
				ki[k++] = idx[a];
		size_t j = ravel(kr, kd, ki);
		int hit = !done[j] && (x[i] == y[j] || (isnan(x[i]) && isnan(y[j])));

		dx[i] = hit ? dy[j] : 0;
		done[j] |= hit;
	}
	free(done);
}

static void
mask_axes(int mask, int rank, int *red)
{
	for (int a = 0; a < rank; a++)
		red[a] = mask >> a & 1;
}

/* Every set of axes of a rank-4 tensor, contiguous or not. */
Test(reduce, every_axis_set)
{
	int dims[] = {3, 4, 2, 5}, red[4];
	size_t nx = prod(4, dims);
	uint64_t s = 301;
	double *x = rvec(nx, &s), *y = dvec(nx), *yf = dvec(nx), *want = dvec(nx);
	char msg[128];

	for (int mask = 0; mask < 16; mask++) {
		mask_axes(mask, 4, red);
		size_t ny = reduced_count(4, dims, red);

		for (int op = 0; op < 2; op++) {
			double scale = op ? 1 : 0.75;

			run_reduce(0, op, 4, dims, red, scale, y, x);
			ref_reduce(op, 4, dims, red, scale, want, x);
			snprintf(msg, sizeof msg, "pcg_reduce (%s) of [3][4][2][5] "
				 "over axes {%d %d %d %d}", op ? "max" : "sum",
				 red[0], red[1], red[2], red[3]);
			expect_near(y, want, ny, op ? 0 : 1e-15, msg);
			run_reduce(1, op, 4, dims, red, scale, yf, x);
			snprintf(msg, sizeof msg, "float pcg_reduce (%s) over axes "
				 "{%d %d %d %d} = double's", op ? "max" : "sum",
				 red[0], red[1], red[2], red[3]);
			expect_float(yf, y, ny, msg);
		}
	}
	free(x);
	free(y);
	free(yf);
	free(want);
}

/* Negative control: the comparison rejects the other axes' reduction. */
Test(reduce, comparison_rejects_wrong_axes)
{
	int dims[] = {3, 4, 3, 4}, red[] = {1, 0, 0, 1}, other[] = {0, 1, 1, 0};
	size_t nx = prod(4, dims);
	uint64_t s = 302;
	double *x = rvec(nx, &s), y[12], want[12];

	pcg_reduce_d(PCG_REDUCE_SUM, 4, dims, red, 1, y, x);
	ref_reduce(PCG_REDUCE_SUM, 4, dims, red, 1, want, x);
	cr_assert(diff_rel(y, want, 12, 1e-15).count == 0,
		  "expected the right axes to pass");
	ref_reduce(PCG_REDUCE_SUM, 4, dims, other, 1, want, x);
	cr_assert(diff_rel(y, want, 12, 1e-15).count > 0,
		  "expected the comparison to reject the sum over the other "
		  "axes (same output size)");
	ref_reduce(PCG_REDUCE_SUM, 4, dims, red, 1 + 1e-13, want, x);
	cr_assert(diff_rel(y, want, 12, 1e-15).count > 0,
		  "expected the comparison to reject a scale off by 1e-13");
	free(x);
}

/* Ties, NaN and signed zeros in the max and its VJP. */
Test(reduce, max_ties_nan_and_zeros)
{
	int dims[] = {2, 4}, red[] = {0, 1};
	double x[] = {1, 3, 3, 2, 1, NAN, 5, NAN}, y[2], dy[] = {10, 20};
	double dx[8], want[8];

	pcg_reduce_d(PCG_REDUCE_MAX, 2, dims, red, 1, y, x);
	cr_assert(y[0] == 3 && isnan(y[1]), "expected max rows 3 and NaN, got "
					    "%g and %g", y[0], y[1]);
	pcg_reduce_vjp_d(PCG_REDUCE_MAX, 2, dims, red, 0, 1, dx, dy, x, y);
	double w0[] = {0, 10, 0, 0, 0, 20, 0, 0};
	expect_same(dx, w0, 8, "max VJP: dy to the first maximum (of a tie) "
			       "and to the first NaN, 0 elsewhere");
	for (int i = 0; i < 8; i++)
		dx[i] = want[i] = 100 + i;
	want[1] += 10;
	want[5] += 20;
	pcg_reduce_vjp_d(PCG_REDUCE_MAX, 2, dims, red, 1, 1, dx, dy, x, y);
	expect_same(dx, want, 8, "max VJP with acc: added at the chosen "
				 "elements, the others left as they were");

	double z[] = {-0.0, 0.0, 0.0, -0.0};
	int zd[] = {2, 2}, zr[] = {0, 1};
	pcg_reduce_d(PCG_REDUCE_MAX, 2, zd, zr, 1, y, z);
	cr_assert(signbit(y[0]) && !signbit(y[1]), "expected the first maximal "
						   "element: -0 then +0");
	double nf[] = {-INFINITY, -INFINITY};
	int nd[] = {2}, nr[] = {1};
	pcg_reduce_d(PCG_REDUCE_MAX, 1, nd, nr, 1, y, nf);
	cr_assert(y[0] == -INFINITY, "expected max(-inf, -inf) = -inf");
}

/* Scalars, extents of 1, nothing reduced, everything reduced, empty. */
Test(reduce, degenerate_shapes)
{
	double x[24], y[24], want[24];
	uint64_t s = 303;

	for (int i = 0; i < 24; i++)
		x[i] = test_real(&s);
	pcg_reduce_d(PCG_REDUCE_SUM, 0, NULL, NULL, 0.5, y, x);
	cr_assert(y[0] == x[0] * 0.5, "expected a rank-0 sum to be x * scale");
	pcg_reduce_d(PCG_REDUCE_MAX, 0, NULL, NULL, 1, y, x);
	cr_assert(y[0] == x[0], "expected a rank-0 max to be x");

	int d1[] = {1, 4, 1, 6}, none[] = {0, 0, 0, 0}, all[] = {1, 1, 1, 1};
	int ones[] = {1, 0, 1, 0};
	pcg_reduce_d(PCG_REDUCE_SUM, 4, d1, none, 2, y, x);
	for (int i = 0; i < 24; i++)
		want[i] = x[i] * 2;
	expect_same(y, want, 24, "a sum over no axis: y = x * scale");
	pcg_reduce_d(PCG_REDUCE_SUM, 4, d1, ones, 2, y, x);
	expect_same(y, want, 24, "a sum over extent-1 axes: y = x * scale");
	pcg_reduce_d(PCG_REDUCE_SUM, 4, d1, all, 1, y, x);
	ref_reduce(PCG_REDUCE_SUM, 4, d1, all, 1, want, x);
	expect_near(y, want, 1, 1e-15, "a sum over every axis");

	int d0[] = {3, 0}, r0[] = {0, 1};
	pcg_reduce_d(PCG_REDUCE_SUM, 2, d0, r0, 1, y, x);
	cr_assert(y[0] == 0 && y[1] == 0 && y[2] == 0,
		  "expected a sum over an empty axis to be 0");
	pcg_reduce_d(PCG_REDUCE_MAX, 2, d0, r0, 1, y, x);
	cr_assert(y[0] == -INFINITY && y[2] == -INFINITY,
		  "expected a max over an empty axis to be -inf");
}

static void
fwd_reduce(const fd_prob *p, int fl, double *y)
{
	run_reduce(fl, p->ip[0], p->ip[1], p->ip + 2, p->ip + 6, p->rp, y,
		   p->in[0]);
}

static void
vjp_reduce(const fd_prob *p, int fl, int wrt, int acc, double *dx,
	   const double *dy, const double *y)
{
	(void)wrt;
	run_reduce_vjp(fl, p->ip[0], p->ip[1], p->ip + 2, p->ip + 6, acc, p->rp,
		       dx, dy, p->in[0], y);
}

Test(reduce, vjp_against_differences)
{
	static const int masks[] = {0, 1, 5, 6, 9, 10, 15};
	int dims[] = {3, 4, 2, 5};
	uint64_t s = 304;
	char what[96];

	for (size_t m = 0; m < sizeof masks / sizeof masks[0]; m++)
		for (int op = 0; op < 2; op++) {
			fd_prob p = {0};

			p.ip[0] = op;
			p.ip[1] = 4;
			memcpy(p.ip + 2, dims, sizeof dims);
			mask_axes(masks[m], 4, p.ip + 6);
			p.len[0] = prod(4, dims);
			p.ylen = reduced_count(4, dims, p.ip + 6);
			p.in[0] = distinct_vec(p.len[0], &s);
			p.rp = 0.3;
			p.fwd = fwd_reduce;
			p.vjp = vjp_reduce;
			snprintf(what, sizeof what, "pcg_reduce (%s) over axes "
				 "{%d %d %d %d}", op ? "max" : "sum", p.ip[6],
				 p.ip[7], p.ip[8], p.ip[9]);
			fd_check(&p, 0, 30 + m, what);
			free(p.in[0]);
		}
}

/* The max's VJP routes each dy as the definition says, with many ties. */
Test(reduce, max_vjp_with_ties)
{
	int dims[] = {3, 4, 2, 5}, red[4];
	size_t nx = prod(4, dims);
	uint64_t s = 305;
	double *x = dvec(nx), *y = dvec(nx), *dy = rvec(nx, &s);
	double *dx = dvec(nx), *want = dvec(nx);
	char msg[96];

	for (size_t i = 0; i < nx; i++)
		x[i] = (double)(test_rand(&s) % 3); /* values 0, 1, 2 */
	for (int mask = 0; mask < 16; mask++) {
		mask_axes(mask, 4, red);
		pcg_reduce_d(PCG_REDUCE_MAX, 4, dims, red, 1, y, x);
		pcg_reduce_vjp_d(PCG_REDUCE_MAX, 4, dims, red, 0, 1, dx, dy, x, y);
		ref_reduce_max_vjp(4, dims, red, want, dy, x, y);
		snprintf(msg, sizeof msg, "the max VJP over axes {%d %d %d %d}: "
			 "dy at the first maximum", red[0], red[1], red[2], red[3]);
		expect_same(dx, want, nx, msg);
	}
	free(x);
	free(y);
	free(dy);
	free(dx);
	free(want);
}

/* ------------------------------------------------------ permutations */

/* y's axis a is x's axis perm[a]: by multi-indices. */
static void
ref_permute(int rank, const int *dims, const int *perm, double *y,
	    const double *x)
{
	int idx[PCG_MAX_RANK], yi[PCG_MAX_RANK], yd[PCG_MAX_RANK];

	for (int a = 0; a < rank; a++)
		yd[a] = dims[perm[a]];
	for (size_t i = 0; i < prod(rank, dims); i++) {
		unravel(i, rank, dims, idx);
		for (int a = 0; a < rank; a++)
			yi[a] = idx[perm[a]];
		y[ravel(rank, yd, yi)] = x[i];
	}
}

/* All 24 permutations of a rank-4 tensor, and back through the VJP. */
Test(permute, rank4_every_permutation)
{
	int dims[] = {2, 3, 4, 5};
	size_t n = prod(4, dims);
	uint64_t s = 401;
	double *x = rvec(n, &s), *y = dvec(n), *yf = dvec(n), *want = dvec(n);
	double *back = dvec(n);
	char msg[96];
	int count = 0;

	for (int p0 = 0; p0 < 4; p0++)
		for (int p1 = 0; p1 < 4; p1++)
			for (int p2 = 0; p2 < 4; p2++) {
				int p3 = 6 - p0 - p1 - p2;
				int perm[] = {p0, p1, p2, p3};

				if (p0 == p1 || p0 == p2 || p1 == p2 || p3 < 0 ||
				    p3 > 3 || p3 == p0 || p3 == p1 || p3 == p2)
					continue;
				count++;
				run_permute(0, 4, dims, perm, y, x);
				ref_permute(4, dims, perm, want, x);
				snprintf(msg, sizeof msg, "pcg_permute (%d %d %d %d) "
					 "of [2][3][4][5]", p0, p1, p2, p3);
				expect_same(y, want, n, msg);
				run_permute(1, 4, dims, perm, yf, x);
				expect_same(yf, y, n, msg);
				run_permute_vjp(0, 4, dims, perm, 0, back, y);
				snprintf(msg, sizeof msg, "pcg_permute_vjp (%d %d %d "
					 "%d) to undo the permutation", p0, p1, p2,
					 p3);
				expect_same(back, x, n, msg);
			}
	cr_assert(count == 24, "expected 24 permutations, made %d", count);
	free(x);
	free(y);
	free(yf);
	free(want);
	free(back);
}

static void
fwd_permute(const fd_prob *p, int fl, double *y)
{
	run_permute(fl, p->ip[0], p->ip + 1, p->ip + 9, y, p->in[0]);
}

static void
vjp_permute(const fd_prob *p, int fl, int wrt, int acc, double *dx,
	    const double *dy, const double *y)
{
	(void)wrt;
	(void)y;
	run_permute_vjp(fl, p->ip[0], p->ip + 1, p->ip + 9, acc, dx, dy);
}

Test(permute, vjp_against_differences_and_small_ranks)
{
	static const int cases[][9] = {/* rank, dims[4], perm[4] */
				       {4, 2, 3, 4, 5, 3, 1, 0, 2},
				       {4, 2, 3, 4, 5, 0, 2, 1, 3},
				       {3, 1, 4, 1, 0, 2, 0, 1, 0},
				       {1, 7, 0, 0, 0, 0, 0, 0, 0},
				       {0, 0, 0, 0, 0, 0, 0, 0, 0}};
	uint64_t s = 402;
	char what[64];

	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		fd_prob p = {0};
		int rank = cases[c][0];

		p.ip[0] = rank;
		memcpy(p.ip + 1, cases[c] + 1, 4 * sizeof(int));
		memcpy(p.ip + 9, cases[c] + 5, 4 * sizeof(int));
		p.len[0] = p.ylen = prod(rank, p.ip + 1);
		p.in[0] = rvec(p.len[0], &s);
		p.fwd = fwd_permute;
		p.vjp = vjp_permute;
		snprintf(what, sizeof what, "pcg_permute case %zu (rank %d)", c,
			 rank);
		fd_check(&p, 0, 40 + c, what);

		double *y = dvec(p.ylen), *want = dvec(p.ylen);
		run_permute(0, rank, p.ip + 1, p.ip + 9, y, p.in[0]);
		ref_permute(rank, p.ip + 1, p.ip + 9, want, p.in[0]);
		expect_same(y, want, p.ylen, what);
		free(y);
		free(want);
		free(p.in[0]);
	}
}

/* ------------------------------------------------------------ slices */

/* y[j] = x[lo + j step] by multi-indices. */
static void
ref_slice(int rank, const int *dims, const int *lo, const int *step,
	  const int *ydims, double *y, const double *x)
{
	int j[PCG_MAX_RANK], i[PCG_MAX_RANK];

	for (size_t k = 0; k < prod(rank, ydims); k++) {
		unravel(k, rank, ydims, j);
		for (int a = 0; a < rank; a++)
			i[a] = lo[a] + j[a] * step[a];
		y[k] = x[ravel(rank, dims, i)];
	}
}

/* The extent of x[lo:hi:step] along an axis. */
static int
slice_len(int lo, int hi, int step)
{
	return hi > lo ? (hi - lo + step - 1) / step : 0;
}

/* Steps and bounds on each axis alone and on all axes at once. */
Test(slice, steps_on_every_axis)
{
	int dims[] = {7, 6, 9};
	size_t nx = prod(3, dims);
	uint64_t s = 501;
	double *x = rvec(nx, &s), *y = dvec(nx), *want = dvec(nx);
	double *dx = dvec(nx), *dwant = dvec(nx);
	char msg[128];
	int cases = 0;

	for (int ax = -1; ax < 3; ax++)
		for (int lo = 0; lo < 3; lo++)
			for (int step = 1; step <= 3; step++)
				for (int cut = 0; cut < 2; cut++) {
					int l[3], st[3], yd[3];

					for (int a = 0; a < 3; a++) {
						int on = ax < 0 || a == ax;

						l[a] = on ? lo + (ax < 0 ? a : 0) : 0;
						st[a] = on ? step + (ax < 0 ? a : 0) : 1;
						yd[a] = slice_len(l[a], dims[a] - (on ? cut : 0),
								  st[a]);
					}
					size_t ny = prod(3, yd);
					cases++;
					run_slice(0, 3, dims, l, st, yd, y, x);
					ref_slice(3, dims, l, st, yd, want, x);
					snprintf(msg, sizeof msg, "pcg_slice lo {%d %d %d} "
						 "step {%d %d %d} -> [%d][%d][%d]", l[0],
						 l[1], l[2], st[0], st[1], st[2], yd[0],
						 yd[1], yd[2]);
					expect_same(y, want, ny, msg);

					/* the VJP puts dy = y back where it came from */
					for (size_t i = 0; i < nx; i++)
						dx[i] = NAN;
					run_slice_vjp(0, 3, dims, l, st, yd, 0, dx, y);
					memset(dwant, 0, nx * sizeof *dwant);
					int j[3], i3[3];
					for (size_t k = 0; k < ny; k++) {
						unravel(k, 3, yd, j);
						for (int a = 0; a < 3; a++)
							i3[a] = l[a] + j[a] * st[a];
						dwant[ravel(3, dims, i3)] = y[k];
					}
					snprintf(msg, sizeof msg, "pcg_slice_vjp lo {%d %d "
						 "%d} step {%d %d %d}: dy at the sliced "
						 "elements, 0 elsewhere", l[0], l[1], l[2],
						 st[0], st[1], st[2]);
					expect_same(dx, dwant, nx, msg);
				}
	cr_assert(cases == 72, "expected 72 slices, made %d", cases);
	free(x);
	free(y);
	free(want);
	free(dx);
	free(dwant);
}

static void
fwd_slice(const fd_prob *p, int fl, double *y)
{
	run_slice(fl, p->ip[0], p->ip + 1, p->ip + 5, p->ip + 9, p->ip + 13, y,
		  p->in[0]);
}

static void
vjp_slice(const fd_prob *p, int fl, int wrt, int acc, double *dx,
	  const double *dy, const double *y)
{
	(void)wrt;
	(void)y;
	run_slice_vjp(fl, p->ip[0], p->ip + 1, p->ip + 5, p->ip + 9, p->ip + 13,
		      acc, dx, dy);
}

Test(slice, vjp_against_differences)
{
	static const int cases[][3][3] = {/* dims, lo, step */
					  {{7, 6, 9}, {1, 0, 2}, {2, 3, 4}},
					  {{5, 4, 3}, {0, 1, 0}, {1, 1, 1}},
					  {{4, 8, 2}, {3, 0, 1}, {1, 5, 1}}};
	uint64_t s = 502;

	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		fd_prob p = {0};
		char what[64];

		p.ip[0] = 3;
		for (int a = 0; a < 3; a++) {
			p.ip[1 + a] = cases[c][0][a];
			p.ip[5 + a] = cases[c][1][a];
			p.ip[9 + a] = cases[c][2][a];
			p.ip[13 + a] = slice_len(cases[c][1][a], cases[c][0][a],
						 cases[c][2][a]);
		}
		p.len[0] = prod(3, p.ip + 1);
		p.ylen = prod(3, p.ip + 13);
		p.in[0] = rvec(p.len[0], &s);
		p.fwd = fwd_slice;
		p.vjp = vjp_slice;
		snprintf(what, sizeof what, "pcg_slice case %zu", c);
		fd_check(&p, 0, 50 + c, what);
		free(p.in[0]);
	}
}

/* ----------------------------------------------------- concatenation */

/*
 * Three inputs concatenated along the middle axis of batch x outer x 7
 * (2, 4 and 1 wide, the last shared by all samples); the VJPs give back
 * the inputs, the shared one summed over the samples.
 */
Test(concat, place_gather_round_trip)
{
	enum { B = 3, O = 2, Y = 7 };
	static const int xlen[] = {2, 4, 1}, shared[] = {0, 0, 1};
	uint64_t s = 601;
	double *x[3], *y = dvec(B * O * Y), *want = dvec(B * O * Y);
	int off = 0;

	for (int k = 0; k < 3; k++) {
		int xbs = shared[k] ? 0 : O * xlen[k];
		size_t nx = strided_len(B, xbs, (size_t)O * xlen[k]);

		x[k] = rvec(nx, &s);
		run_place(0, B, O, Y, off, xlen[k], xbs, y, x[k]);
		for (int b = 0; b < B; b++)
			for (int o = 0; o < O; o++)
				for (int i = 0; i < xlen[k]; i++)
					want[(b * O + o) * Y + off + i] =
						x[k][(size_t)b * xbs + o * xlen[k] + i];
		off += xlen[k];
	}
	cr_assert(off == Y, "expected the inputs to fill the axis");
	expect_same(y, want, B * O * Y, "pcg_place: the concatenation along "
					"axis 1 of each sample");

	off = 0;
	for (int k = 0; k < 3; k++) {
		int xbs = shared[k] ? 0 : O * xlen[k];
		size_t nx = strided_len(B, xbs, (size_t)O * xlen[k]);
		double *dx = dvec(nx), *dw = dvec(nx);

		for (size_t i = 0; i < nx; i++)
			dx[i] = NAN;
		run_gather(0, B, O, Y, off, xlen[k], xbs, 0, dx, y);
		for (size_t i = 0; i < nx; i++)
			dw[i] = shared[k] ? x[k][i] + x[k][i] + x[k][i] : x[k][i];
		expect_same(dx, dw, nx, shared[k]
				? "pcg_gather into a shared input: the sum over "
				  "the samples of its part of y"
				: "pcg_gather: each input's part of y back");
		run_gather(0, B, O, Y, off, xlen[k], xbs, 1, dx, y);
		for (size_t i = 0; i < nx; i++)
			dw[i] += shared[k] ? x[k][i] + x[k][i] + x[k][i] : x[k][i];
		expect_same(dx, dw, nx, "pcg_gather with acc: added");
		off += xlen[k];
		free(dx);
		free(dw);
		free(x[k]);
	}
	free(y);
	free(want);
}

static void
fwd_place(const fd_prob *p, int fl, double *y)
{
	run_place(fl, p->ip[0], p->ip[1], p->ip[2], p->ip[3], p->ip[4],
		  p->ip[5], y, p->in[0]);
}

static void
vjp_place(const fd_prob *p, int fl, int wrt, int acc, double *dx,
	  const double *dy, const double *y)
{
	(void)wrt;
	(void)y;
	run_gather(fl, p->ip[0], p->ip[1], p->ip[2], p->ip[3], p->ip[4],
		   p->ip[5], acc, dx, dy);
}

Test(concat, vjp_against_differences)
{
	uint64_t s = 602;

	for (int shared = 0; shared < 2; shared++) {
		fd_prob p = {0};
		int b = 3, o = 2, ylen = 9, off = 3, xlen = 4;

		p.ip[0] = b;
		p.ip[1] = o;
		p.ip[2] = ylen;
		p.ip[3] = off;
		p.ip[4] = xlen;
		p.ip[5] = shared ? 0 : o * xlen;
		p.len[0] = strided_len(b, p.ip[5], (size_t)o * xlen);
		p.ylen = (size_t)b * o * ylen;
		p.in[0] = rvec(p.len[0], &s);
		p.fwd = fwd_place;
		p.vjp = vjp_place;
		fd_check(&p, 0, 60 + shared, shared ? "pcg_place (shared input)"
						    : "pcg_place");
		free(p.in[0]);
	}
}

/* -------------------------------------------------- triangular masks */

/* numpy's tril(x, k) / triu(x, k), filling with fill instead of 0. */
static void
ref_tri(int lower, int count, int m, int n, int k, double fill, double *y,
	const double *x)
{
	for (int c = 0; c < count; c++)
		for (int i = 0; i < m; i++)
			for (int j = 0; j < n; j++) {
				size_t at = ((size_t)c * m + i) * n + j;
				int keep = lower ? j <= i + k : j >= i + k;

				y[at] = keep ? x[at] : fill;
			}
}

Test(tri, tril_triu_every_diagonal)
{
	enum { CNT = 2, M = 4, N = 5, C = CNT * M * N };
	uint64_t s = 701;
	double *x = rvec(C, &s), *y = dvec(C), *want = dvec(C), *dx = dvec(C);
	double *dw = dvec(C);
	char msg[96];

	for (int lower = 0; lower < 2; lower++)
		for (int k = -4; k <= 5; k++) {
			run_tri(0, lower, CNT, M, N, k, -INFINITY, y, x);
			ref_tri(lower, CNT, M, N, k, -INFINITY, want, x);
			snprintf(msg, sizeof msg, "pcg_tri as numpy's %s(x, %d) "
				 "with -inf", lower ? "tril" : "triu", k);
			expect_same(y, want, C, msg);
			run_tri_vjp(0, lower, CNT, M, N, k, 0, dx, x);
			ref_tri(lower, CNT, M, N, k, 0, dw, x);
			snprintf(msg, sizeof msg, "pcg_tri_vjp (%s, %d): dy where "
				 "kept, 0 elsewhere", lower ? "lower" : "upper", k);
			expect_same(dx, dw, C, msg);
			run_tri_vjp(0, lower, CNT, M, N, k, 1, dx, x);
			for (int i = 0; i < C; i++)
				dw[i] += want[i] == -INFINITY ? 0 : x[i];
			snprintf(msg, sizeof msg, "pcg_tri_vjp (%s, %d) with acc: "
				 "dy added where kept", lower ? "lower" : "upper",
				 k);
			expect_same(dx, dw, C, msg);
		}
	free(x);
	free(y);
	free(want);
	free(dx);
	free(dw);
}

static void
fwd_tri(const fd_prob *p, int fl, double *y)
{
	run_tri(fl, p->ip[0], p->ip[1], p->ip[2], p->ip[3], p->ip[4], p->rp, y,
		p->in[0]);
}

static void
vjp_tri(const fd_prob *p, int fl, int wrt, int acc, double *dx,
	const double *dy, const double *y)
{
	(void)wrt;
	(void)y;
	run_tri_vjp(fl, p->ip[0], p->ip[1], p->ip[2], p->ip[3], p->ip[4], acc,
		    dx, dy);
}

Test(tri, vjp_against_differences)
{
	uint64_t s = 702;

	for (int lower = 0; lower < 2; lower++) {
		fd_prob p = {0};

		p.ip[0] = lower;
		p.ip[1] = 2;
		p.ip[2] = 4;
		p.ip[3] = 5;
		p.ip[4] = lower ? 0 : 1;
		p.len[0] = p.ylen = 40;
		p.in[0] = rvec(40, &s);
		p.rp = 0.5;
		p.fwd = fwd_tri;
		p.vjp = vjp_tri;
		fd_check(&p, 0, 70 + lower, lower ? "pcg_tri (lower)"
						  : "pcg_tri (upper)");
		free(p.in[0]);
	}
}

/* ------------------------------------------------------- convolution */

/* col by its definition. */
static void
ref_im2col(const int *g, const double *x, double *col)
{
	for (int ch = 0; ch < g[G_C]; ch++)
		for (int a = 0; a < g[G_KH]; a++)
			for (int b = 0; b < g[G_KW]; b++)
				for (int i = 0; i < g[G_OH]; i++)
					for (int j = 0; j < g[G_OW]; j++) {
						int r = (ch * g[G_KH] + a) * g[G_KW] + b;
						int yy = i * g[G_SH] + a * g[G_DH] - g[G_PH];
						int xx = j * g[G_SW] + b * g[G_DW] - g[G_PW];
						int in = yy >= 0 && yy < g[G_H] && xx >= 0 &&
							 xx < g[G_W];

						col[(size_t)r * g[G_OH] * g[G_OW] +
						    (size_t)i * g[G_OW] + j] =
							in ? x[((size_t)ch * g[G_H] + yy) *
								       g[G_W] + xx]
							   : 0;
					}
}

/* Dilation 2 on a 4 x 4 image, worked out by hand. */
Test(conv, im2col_ex_dilation_by_hand)
{
	int g[G_N] = {1, 4, 4, 2, 2, 1, 1, 0, 0, 2, 2, 0, 0};
	double x[16], col[16];
	static const double want[16] = {0, 1, 4,  5,  2,  3,  6,  7,
					8, 9, 12, 13, 10, 11, 14, 15};

	conv_out(g);
	cr_assert(g[G_OH] == 2 && g[G_OW] == 2, "expected a 2 x 2 output");
	for (int i = 0; i < 16; i++)
		x[i] = i;
	pcg_im2col_ex_d(1, 4, 4, 2, 2, 1, 1, 0, 0, 2, 2, 2, 2, x, col);
	expect_same(col, want, 16, "im2col with dilation 2: the four "
				   "taps two apart");
}

static const int conv_cases[][11] = {
	/* c h w kh kw sh sw ph pw dh dw */
	{2, 7, 8, 3, 3, 1, 1, 1, 1, 1, 1}, {3, 9, 7, 3, 2, 2, 1, 1, 0, 2, 1},
	{1, 8, 8, 2, 3, 1, 2, 0, 2, 3, 2}, {2, 1, 12, 1, 3, 1, 2, 0, 1, 1, 2},
	{2, 1, 9, 1, 4, 3, 1, 0, 0, 1, 1}, {1, 5, 5, 5, 5, 1, 1, 2, 2, 1, 1},
	{2, 6, 5, 2, 2, 3, 2, 2, 1, 2, 3},
	/* stride 1 and as wide as the input: im2col's one-run copy, with
	 * dilation, a kernel wider than the image, uneven padding */
	{2, 6, 7, 3, 3, 1, 1, 2, 2, 2, 2}, {1, 3, 3, 5, 5, 1, 1, 2, 2, 1, 1},
	{2, 4, 4, 1, 3, 1, 1, 0, 1, 1, 1}, {1, 2, 9, 3, 7, 1, 1, 1, 3, 1, 1},
};

static void
conv_case(size_t c, int *g)
{
	memcpy(g, conv_cases[c], 11 * sizeof(int));
	conv_out(g);
}

/* Strides, padding and dilation per axis; conv1d as h = kh = 1. */
Test(conv, im2col_ex_reference)
{
	uint64_t s = 801;

	for (size_t c = 0; c < sizeof conv_cases / sizeof conv_cases[0]; c++) {
		int g[G_N];

		conv_case(c, g);
		size_t nx = (size_t)g[G_C] * g[G_H] * g[G_W], nc = col_len(g);
		double *x = rvec(nx, &s), *col = rvec(nc, &s);
		double *colf = rvec(nc, &s), *want = dvec(nc);
		char msg[160];

		run_im2col_ex(0, g, x, col);
		ref_im2col(g, x, want);
		snprintf(msg, sizeof msg, "pcg_im2col_ex c%d %dx%d k%dx%d "
			 "s%d,%d p%d,%d d%d,%d", g[G_C], g[G_H], g[G_W], g[G_KH],
			 g[G_KW], g[G_SH], g[G_SW], g[G_PH], g[G_PW], g[G_DH],
			 g[G_DW]);
		expect_same(col, want, nc, msg);
		run_im2col_ex(1, g, x, colf);
		expect_same(colf, col, nc, msg);
		free(x);
		free(col);
		free(colf);
		free(want);
	}
}

static void
fwd_im2col(const fd_prob *p, int fl, double *y)
{
	run_im2col_ex(fl, p->ip, p->in[0], y);
}

static void
vjp_im2col(const fd_prob *p, int fl, int wrt, int acc, double *dx,
	   const double *dy, const double *y)
{
	(void)wrt;
	(void)y;
	run_col2im_ex(fl, p->ip, acc, dy, dx);
}

Test(conv, col2im_ex_against_differences)
{
	uint64_t s = 802;

	for (size_t c = 0; c < sizeof conv_cases / sizeof conv_cases[0]; c++) {
		fd_prob p = {0};
		char what[64];

		conv_case(c, p.ip);
		p.len[0] = (size_t)p.ip[G_C] * p.ip[G_H] * p.ip[G_W];
		p.ylen = col_len(p.ip);
		p.in[0] = rvec(p.len[0], &s);
		p.fwd = fwd_im2col;
		p.vjp = vjp_im2col;
		snprintf(what, sizeof what, "pcg_im2col_ex case %zu", c);
		fd_check(&p, 0, 80 + c, what);
		free(p.in[0]);
	}
}

/* ----------------------------------------------------------- pooling */

/* PyTorch's max_pool2d (padding is -inf) and avg_pool2d
 * (count_include_pad = True). */
static void
ref_pool(const int *g, double *y, const double *x)
{
	for (int p = 0; p < g[P_PL]; p++)
		for (int i = 0; i < g[P_OH]; i++)
			for (int j = 0; j < g[P_OW]; j++) {
				long double v = g[P_MAX] ? -INFINITY : 0;

				for (int a = 0; a < g[P_KH]; a++)
					for (int b = 0; b < g[P_KW]; b++) {
						int yy = i * g[P_SH] - g[P_PH] + a;
						int xx = j * g[P_SW] - g[P_PW] + b;
						double e;

						if (yy < 0 || yy >= g[P_H] || xx < 0 ||
						    xx >= g[P_W])
							continue;
						e = x[((size_t)p * g[P_H] + yy) * g[P_W] + xx];
						v = g[P_MAX] ? fmaxl(v, e) : v + e;
					}
				y[((size_t)p * g[P_OH] + i) * g[P_OW] + j] =
					(double)(g[P_MAX] ? v
							  : v / (g[P_KH] * g[P_KW]));
			}
}

/* A 3 x 3 image, 2 x 2 windows, stride 1, padding 1, by hand. */
Test(pool, padding_by_hand)
{
	int g[P_N] = {1, 1, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0};
	double x[9], y[16];
	static const double wmax[16] = {1, 2, 3, 3, 4, 5, 6, 6,
					7, 8, 9, 9, 7, 8, 9, 9};
	static const double wsum[16] = {1, 3,  5,  3, 5,  12, 16, 9,
					11, 24, 28, 15, 7, 15, 17, 9};
	double wavg[16];

	pool_out(g);
	cr_assert(g[P_OH] == 4 && g[P_OW] == 4, "expected a 4 x 4 output");
	for (int i = 0; i < 9; i++)
		x[i] = i + 1;
	run_pool(0, g, y, x);
	expect_same(y, wmax, 16, "max pooling with padding: the max of the "
				 "in-image part of each window");
	g[P_MAX] = 0;
	run_pool(0, g, y, x);
	for (int i = 0; i < 16; i++)
		wavg[i] = wsum[i] / 4;
	expect_same(y, wavg, 16, "average pooling with padding: the sum of the "
				 "in-image part over the whole window (4)");
}

static const int pool_cases[][10] = {
	/* planes h w kh kw sh sw ph pw (max set by the test) */
	{2, 7, 8, 3, 2, 2, 1, 1, 0}, {3, 9, 6, 2, 3, 1, 2, 0, 1},
	{2, 5, 5, 3, 3, 2, 2, 1, 1}, {1, 6, 7, 1, 4, 1, 3, 0, 2},
	{2, 8, 8, 2, 2, 2, 2, 0, 0}, {1, 4, 4, 4, 4, 1, 1, 2, 2},
};

static void
pool_case(size_t c, int max, int *g)
{
	g[P_MAX] = max;
	memcpy(g + 1, pool_cases[c], 9 * sizeof(int));
	pool_out(g);
}

/* Padding, non-square windows, different strides per axis. */
Test(pool, reference)
{
	uint64_t s = 901;

	for (size_t c = 0; c < sizeof pool_cases / sizeof pool_cases[0]; c++)
		for (int max = 0; max < 2; max++) {
			int g[P_N];

			pool_case(c, max, g);
			size_t nx = (size_t)g[P_PL] * g[P_H] * g[P_W];
			size_t ny = (size_t)g[P_PL] * g[P_OH] * g[P_OW];
			double *x = rvec(nx, &s), *y = dvec(ny), *yf = dvec(ny);
			double *want = dvec(ny);
			char msg[160];

			run_pool(0, g, y, x);
			ref_pool(g, want, x);
			snprintf(msg, sizeof msg, "pcg_pool2d (%s) %d planes %dx%d "
				 "k%dx%d s%d,%d p%d,%d", max ? "max" : "avg",
				 g[P_PL], g[P_H], g[P_W], g[P_KH], g[P_KW],
				 g[P_SH], g[P_SW], g[P_PH], g[P_PW]);
			expect_near(y, want, ny, max ? 0 : 1e-15, msg);
			run_pool(1, g, yf, x);
			expect_float(yf, y, ny, msg);
			free(x);
			free(y);
			free(yf);
			free(want);
		}
}

static void
fwd_pool(const fd_prob *p, int fl, double *y)
{
	run_pool(fl, p->ip, y, p->in[0]);
}

static void
vjp_pool(const fd_prob *p, int fl, int wrt, int acc, double *dx,
	 const double *dy, const double *y)
{
	(void)wrt;
	(void)y;
	run_pool_vjp(fl, p->ip, acc, dx, dy, p->in[0]);
}

Test(pool, vjp_against_differences)
{
	uint64_t s = 902;

	for (size_t c = 0; c < sizeof pool_cases / sizeof pool_cases[0]; c++)
		for (int max = 0; max < 2; max++) {
			fd_prob p = {0};
			char what[64];

			pool_case(c, max, p.ip);
			p.len[0] = (size_t)p.ip[P_PL] * p.ip[P_H] * p.ip[P_W];
			p.ylen = (size_t)p.ip[P_PL] * p.ip[P_OH] * p.ip[P_OW];
			p.in[0] = distinct_vec(p.len[0], &s);
			p.fwd = fwd_pool;
			p.vjp = vjp_pool;
			snprintf(what, sizeof what, "pcg_pool2d (%s) case %zu",
				 max ? "max" : "avg", c);
			fd_check(&p, 0, 90 + c, what);
			free(p.in[0]);
		}
}

/* Max pooling's VJP sends dy to the first maximum of a tie. */
Test(pool, max_vjp_ties_go_to_the_first)
{
	int g[P_N] = {1, 1, 2, 3, 2, 2, 1, 1, 0, 0, 0, 0};
	double x[] = {5, 5, 1, 5, 5, 1}, dy[2] = {1, 10}, dx[6];
	static const double want[6] = {1, 10, 0, 0, 0, 0};

	pool_out(g);
	run_pool_vjp(0, g, 0, dx, dy, x);
	expect_same(dx, want, 6, "each window's dy at its first maximal "
				 "element");
}

/*
 * The loops of the pooling kernels' definition, one output at a time (as
 * the kernels were before they computed rows of outputs at once), forward
 * and VJP in one pass, for the bits: max from the window's first
 * in-image element, replaced by each later one that is greater (so a NaN
 * first stays, a NaN later is passed over, and of +0 and -0 the first
 * stays); the average's sum from 0 in order, over kh kw; the VJP's adds
 * into dx in order of the outputs.
 */
#define POOL_DEF(T, REAL)                                                     \
	static void pool_def_##T(const int *g, int ge, const REAL *x,         \
				 const REAL *dy, REAL *y, REAL *dx)           \
	{                                                                     \
		int h = g[P_H], w = g[P_W], oh = g[P_OH], ow = g[P_OW];       \
		REAL area = (REAL)(g[P_KH] * g[P_KW]);                        \
		for (int p = 0; p < g[P_PL]; p++)                             \
			for (int o = 0; o < oh * ow; o++) {                   \
				int y0 = o / ow * g[P_SH] - g[P_PH];          \
				int x0 = o % ow * g[P_SW] - g[P_PW];          \
				size_t yo = (size_t)p * oh * ow + o;          \
				long best = -1;                               \
				REAL v = 0;                                   \
				for (int a = 0; a < g[P_KH]; a++)             \
					for (int b = 0; b < g[P_KW]; b++) {   \
						int yy = y0 + a, xx = x0 + b; \
						if (yy < 0 || yy >= h ||      \
						    xx < 0 || xx >= w)        \
							continue;             \
						long at = ((long)p * h + yy) \
							  * w + xx;           \
						REAL e = x[at];               \
						if (!g[P_MAX]) {              \
							v = v + e;            \
							dx[at] +=             \
								dy[yo] / area; \
						} else if (best < 0 ||        \
							   e > v ||           \
							   (ge && e == v)) {  \
							v = e;                \
							best = at;            \
						}                             \
					}                                     \
				if (!g[P_MAX]) {                              \
					y[yo] = v / area;                     \
				} else if (best < 0) {                        \
					y[yo] = -INFINITY;                    \
				} else {                                      \
					y[yo] = v;                            \
					dx[best] += dy[yo];                   \
				}                                             \
			}                                                     \
	}

POOL_DEF(f, float)
POOL_DEF(d, double)

/* Values with ties, signed zeros, infinities and NaNs, and plain ones. */
static double
pool_value(uint64_t *s)
{
	static const double special[] = {0.0, -0.0, 1.0, 1.0, -INFINITY,
					 INFINITY, NAN, -2.5};
	uint64_t r;

	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	r = *s >> 33;
	return r % 3 == 0 ? special[(r >> 2) % 8]
			  : (double)(r % 1000) / 7 - 70;
}

/* The same bits, or both NaN (which NaN an operation on two NaNs gives,
 * and its sign, is the compiler's choice of operand order, here and in
 * the definition's loops alike). */
#define POOL_SAME(u, v)                                                       \
	((isnan(u) && isnan(v)) || memcmp(&(u), &(v), sizeof(u)) == 0)

#define POOL_BITS(T, REAL, FN)                                                \
	static size_t pool_bits_##T(const int *g, int acc, int ge,            \
				    uint64_t *s)                              \
	{                                                                     \
		size_t nx = (size_t)g[P_PL] * g[P_H] * g[P_W];                \
		size_t ny = (size_t)g[P_PL] * g[P_OH] * g[P_OW];              \
		REAL *x = malloc(sizeof(REAL) * nx);                          \
		REAL *dy = malloc(sizeof(REAL) * ny);                         \
		REAL *y = malloc(sizeof(REAL) * ny);                          \
		REAL *want = malloc(sizeof(REAL) * ny);                       \
		REAL *dx = malloc(sizeof(REAL) * nx);                         \
		REAL *dxw = malloc(sizeof(REAL) * nx);                        \
		size_t bad = 0;                                               \
		for (size_t i = 0; i < nx; i++)                               \
			x[i] = (REAL)pool_value(s);                           \
		for (size_t i = 0; i < ny; i++)                               \
			dy[i] = (REAL)pool_value(s);                          \
		for (size_t i = 0; i < nx; i++)                               \
			dx[i] = dxw[i] = acc ? (REAL)pool_value(s) : 0;       \
		FN(pcg_pool2d, (g[P_MAX], g[P_PL], g[P_H], g[P_W], g[P_KH],   \
				g[P_KW], g[P_SH], g[P_SW], g[P_PH], g[P_PW],  \
				g[P_OH], g[P_OW], y, x));                     \
		FN(pcg_pool2d_vjp, (g[P_MAX], g[P_PL], g[P_H], g[P_W],        \
				    g[P_KH], g[P_KW], g[P_SH], g[P_SW],       \
				    g[P_PH], g[P_PW], g[P_OH], g[P_OW], acc,  \
				    dx, dy, x));                              \
		pool_def_##T(g, ge, x, dy, want, dxw);                        \
		for (size_t i = 0; i < ny; i++)                               \
			bad += !POOL_SAME(y[i], want[i]);                     \
		for (size_t i = 0; i < nx; i++)                               \
			bad += !POOL_SAME(dx[i], dxw[i]);                     \
		free(x);                                                      \
		free(dy);                                                     \
		free(y);                                                      \
		free(want);                                                   \
		free(dx);                                                     \
		free(dxw);                                                    \
		return bad;                                                   \
	}

#define POOL_CALL_F(fn, args) fn##_f args
#define POOL_CALL_D(fn, args) fn##_d args
POOL_BITS(f, float, POOL_CALL_F)
POOL_BITS(d, double, POOL_CALL_D)

/* The bits of the definition's loops, forward and VJP, float and double,
 * on rows of outputs wider than a vector block (POOL_J = 16) with and
 * without padding, strides 1, 2, 3, overlapping windows, and values
 * that tell orders apart (NaN, signed zeros, ties).  Control: the
 * definition with max replaced whenever an element is >= the best (the
 * last of ties, and -0 after +0) is seen to differ. */
Test(pool, bits_of_the_definition)
{
	static const int cases[][9] = {
		/* planes h w kh kw sh sw ph pw */
		{3, 24, 24, 2, 2, 2, 2, 0, 0},   {2, 12, 70, 2, 2, 2, 2, 0, 0},
		{2, 9, 41, 3, 3, 1, 1, 1, 1},    {2, 10, 53, 3, 2, 2, 1, 1, 0},
		{1, 7, 64, 2, 3, 1, 3, 0, 1},    {2, 8, 37, 5, 5, 2, 2, 2, 2},
		{1, 5, 17, 4, 4, 1, 1, 3, 3},    {4, 6, 6, 3, 3, 3, 3, 0, 0},
		{1, 3, 100, 1, 7, 1, 2, 0, 3},   {2, 4, 4, 4, 4, 1, 1, 0, 0},
	};
	uint64_t s = 913;
	int checked = 0;
	size_t control = 0;

	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
		for (int max = 0; max < 2; max++)
			for (int acc = 0; acc < 2; acc++) {
				int g[P_N];

				g[P_MAX] = max;
				memcpy(g + 1, cases[c], 9 * sizeof(int));
				pool_out(g);
				uint64_t s0 = s;
				size_t bf = pool_bits_f(g, acc, 0, &s);
				size_t bd = pool_bits_d(g, acc, 0, &s);

				if (max) { /* the same data, >= for > */
					control += pool_bits_f(g, acc, 1, &s0);
					control += pool_bits_d(g, acc, 1, &s0);
				}

				cr_expect(bf == 0 && bd == 0,
					  "case %zu %s acc %d: %zu float and "
					  "%zu double elements differ from "
					  "the definition's loops", c,
					  max ? "max" : "avg", acc, bf, bd);
				checked++;
			}
	cr_expect_eq(checked, 40);
	cr_expect_gt(control, 0, "control: the last of ties taken for the "
				 "first is not seen");
	cr_log_info("pool bits: the control differs in %zu elements",
		    control);
}

/* ------------------------------------------------------- integer ids */

Test(ids, embed_and_one_hot)
{
	enum { V = 5, D = 3, N = 7 };
	static const int32_t ids[N] = {4, 0, 2, 2, 1, 4, 3};
	uint64_t s = 1001;
	double *e = rvec(V * D, &s), y[N * D], yf[N * D], want[N * D];
	double oh[N * V];

	run_embed(0, N, D, V, y, e, ids);
	for (int i = 0; i < N; i++)
		for (int j = 0; j < D; j++)
			want[i * D + j] = e[ids[i] * D + j];
	expect_same(y, want, N * D, "pcg_embed: row ids[i] of the table");
	run_embed(1, N, D, V, yf, e, ids);
	expect_same(yf, y, N * D, "float pcg_embed = double's");

	pcg_one_hot_d(N, V, oh, ids);
	for (int i = 0; i < N; i++)
		for (int k = 0; k < V; k++)
			cr_assert(oh[i * V + k] == (k == ids[i]),
				  "expected one_hot[%d][%d] = %d, got %g", i, k,
				  k == ids[i], oh[i * V + k]);
	float ohf[N * V];
	pcg_one_hot_f(N, V, ohf, ids);
	for (int i = 0; i < N * V; i++)
		cr_assert(ohf[i] == oh[i], "expected float one_hot = double's at "
					   "[%d]", i);
	free(e);
}

static void
fwd_embed(const fd_prob *p, int fl, double *y)
{
	run_embed(fl, p->ip[0], p->ip[1], p->ip[2], y, p->in[0], p->ids);
}

static void
vjp_embed(const fd_prob *p, int fl, int wrt, int acc, double *dx,
	  const double *dy, const double *y)
{
	(void)wrt;
	(void)y;
	run_embed_vjp(fl, p->ip[0], p->ip[1], p->ip[2], acc, dx, dy, p->ids);
}

/* Repeated ids sum their rows, in order of i; unused rows get 0. */
Test(ids, embed_vjp_repeated_ids)
{
	enum { V = 6, D = 4, N = 9 };
	static const int32_t ids[N] = {2, 5, 2, 0, 2, 5, 3, 0, 2};
	uint64_t s = 1002;
	double *dy = rvec(N * D, &s), de[V * D], want[V * D];
	fd_prob p = {0};

	for (int i = 0; i < V * D; i++) {
		de[i] = NAN;
		want[i] = 0;
	}
	run_embed_vjp(0, N, D, V, 0, de, dy, ids);
	for (int i = 0; i < N; i++)
		for (int j = 0; j < D; j++)
			want[ids[i] * D + j] += dy[i * D + j];
	expect_same(de, want, V * D, "pcg_embed_vjp: row v = the sum of dy's "
				     "rows with id v in order of i, 0 if unused");

	p.ip[0] = N;
	p.ip[1] = D;
	p.ip[2] = V;
	p.ids = ids;
	p.len[0] = V * D;
	p.ylen = N * D;
	p.in[0] = rvec(V * D, &s);
	p.fwd = fwd_embed;
	p.vjp = vjp_embed;
	fd_check(&p, 0, 100, "pcg_embed");
	free(p.in[0]);
	free(dy);
}

Test(ids, check_ids)
{
	static const int32_t good[] = {0, 3, 9, 1}, neg[] = {0, 2, -1, 3, -5};
	static const int32_t big[] = {4, 10, 0, 11};

	cr_assert(pcg_check_ids(4, 10, good) == -1,
		  "expected -1: every id in 0..9");
	cr_assert(pcg_check_ids(5, 10, neg) == 2,
		  "expected the first negative id, at 2");
	cr_assert(pcg_check_ids(4, 10, big) == 1,
		  "expected the first id >= bound, at 1");
	cr_assert(pcg_check_ids(4, 11, big) == 3,
		  "expected the first id >= 11, at 3");
	cr_assert(pcg_check_ids(0, 1, neg) == -1, "expected -1 for no ids");
	cr_assert(pcg_check_ids(4, 0, good) == 0,
		  "expected every id out of range of an empty table");
}

/* ------------------------------------------------------------ losses */

/* The losses by their formulas in long double. */
static void
ref_loss(const loss_case *L, double *y, const double *o, const double *t)
{
	for (int b = 0; b < L->batch; b++) {
		long double sum = 0;

		for (int r = 0; r < L->rows; r++) {
			const double *orow = o + (size_t)b * L->os + (size_t)r * L->n;
			const double *trow = t + (size_t)b * L->ts + (size_t)r * L->n;
			long double lse = 0;

			if (L->kind == L_XENT || L->kind == L_XENT_INDEX) {
				for (int i = 0; i < L->n; i++)
					lse += expl(orow[i]);
				lse = logl(lse);
			}
			for (int i = 0; i < L->n; i++) {
				long double ov = orow[i], tv = 0, d;

				if (L->kind != L_XENT_INDEX)
					tv = trow[i];
				d = ov - tv;
				switch (L->kind) {
				case L_MSE:
					sum += d * d / 2;
					break;
				case L_XENT:
					sum -= tv * (ov - lse);
					break;
				case L_XENT_INDEX:
					if (i == L->labels[b * L->rows + r])
						sum += lse - ov;
					break;
				case L_BCE: /* log(1 + e^z) - z t */
					sum += logl(1 + expl(ov)) - ov * tv;
					break;
				case L_L1:
					sum += fabsl(d);
					break;
				default:
					sum += fabsl(d) < L->delta
						       ? d * d / 2
						       : L->delta * (fabsl(d) - L->delta / 2);
					break;
				}
			}
		}
		y[b] = (double)sum;
	}
}

/* Inputs of a loss: o in [-3, 3), t in [0, 1) (probabilities for xent),
 * and o - t away from the kinks of l1 and huber. */
static void
loss_inputs(const loss_case *L, double *o, double *t, uint64_t *s)
{
	size_t no = loss_len(L, L->os), nt = loss_len(L, L->ts);

	for (size_t i = 0; i < no; i++)
		o[i] = 3 * test_real(s);
	for (size_t i = 0; i < nt; i++)
		t[i] = (float)(0.5 + 0.5 * test_real(s));
	if (L->kind != L_L1 && L->kind != L_HUBER)
		return;
	for (int b = 0; b < L->batch; b++)
		for (int i = 0; i < L->rows * L->n; i++) {
			double *op = o + (size_t)b * L->os + i;
			double tv = t[(size_t)b * L->ts + i];

			while (fabs(*op - tv) < 0.01 ||
			       fabs(fabs(*op - tv) - L->delta) < 0.01)
				*op = (float)(*op + 0.05);
		}
}

static const int32_t loss_labels[] = {3, 0, 4, 4, 1, 2, 0, 0};

/* Case k of a kind: 0 batched o and t, 1 shared t, 2 shared o. */
static loss_case
loss_make(int kind, int k)
{
	int xe = kind == L_XENT || kind == L_XENT_INDEX;
	loss_case L = {kind, 3, xe ? 2 : 1, 5, 0, 0, 0.7, loss_labels};

	L.os = k == 2 ? 0 : L.rows * L.n;
	L.ts = k == 1 ? 0 : L.rows * L.n;
	return L;
}

Test(loss, reference)
{
	uint64_t s = 1101;

	for (int kind = 0; kind < L_KINDS; kind++)
		for (int k = 0; k < 3; k++) {
			loss_case L = loss_make(kind, k);
			double *o = dvec(loss_len(&L, L.os));
			double *t = dvec(loss_len(&L, L.ts));
			double y[3], yf[3], want[3];
			char msg[96];

			loss_inputs(&L, o, t, &s);
			run_loss(0, &L, y, o, t);
			ref_loss(&L, want, o, t);
			snprintf(msg, sizeof msg, "pcg_%s per sample (os %d, ts %d)",
				 loss_name[kind], L.os, L.ts);
			expect_near(y, want, 3, 1e-14, msg);
			run_loss(1, &L, yf, o, t);
			expect_float(yf, y, 3, msg);
			free(o);
			free(t);
		}
}

static void
fwd_loss(const fd_prob *p, int fl, double *y)
{
	run_loss(fl, p->loss, y, p->in[0], p->in[1]);
}

static void
vjp_loss(const fd_prob *p, int fl, int wrt, int acc, double *dx,
	 const double *dy, const double *y)
{
	(void)y;
	run_loss_vjp(fl, p->loss, wrt, acc, dx, dy, p->in[0], p->in[1]);
}

/* Into o and t, batched and shared (a shared dx sums over samples). */
Test(loss, vjp_against_differences)
{
	uint64_t s = 1102;

	for (int kind = 0; kind < L_KINDS; kind++)
		for (int k = 0; k < 3; k++) {
			loss_case L = loss_make(kind, k);
			fd_prob p = {0};
			char what[96];

			p.loss = &L;
			p.len[0] = loss_len(&L, L.os);
			p.len[1] = loss_len(&L, L.ts);
			p.ylen = (size_t)L.batch;
			p.in[0] = dvec(p.len[0]);
			p.in[1] = dvec(p.len[1]);
			loss_inputs(&L, p.in[0], p.in[1], &s);
			p.fwd = fwd_loss;
			p.vjp = vjp_loss;
			for (int wrt = 0; wrt < (kind == L_XENT_INDEX ? 1 : 2); wrt++) {
				snprintf(what, sizeof what, "pcg_%s (os %d, ts %d)",
					 loss_name[kind], L.os, L.ts);
				fd_check(&p, wrt, 110 + 10 * kind + k, what);
			}
			free(p.in[0]);
			free(p.in[1]);
		}
}

/* Large logits give finite losses and gradients in both types. */
Test(loss, bce_large_logits)
{
	static const double z[] = {100, -100, 100, -100, 30, -30};
	static const double t[] = {0, 1, 1, 0, 0.5, 0.5};
	double y[6], dy[6] = {1, 1, 1, 1, 1, 1}, dz[6];
	float zf[6], tf[6], yf[6], dyf[6] = {1, 1, 1, 1, 1, 1}, dzf[6];

	pcg_bce_d(6, 1, 1, 1, y, z, t);
	pcg_bce_vjp_d(0, 6, 1, 1, 1, 1, 0, dz, dy, z, t);
	for (int i = 0; i < 6; i++) {
		zf[i] = (float)z[i];
		tf[i] = (float)t[i];
	}
	pcg_bce_f(6, 1, 1, 1, yf, zf, tf);
	pcg_bce_vjp_f(0, 6, 1, 1, 1, 1, 0, dzf, dyf, zf, tf);
	for (int i = 0; i < 6; i++) {
		/* softplus(z) - z t, with softplus(z) = max(z, 0) + log1p(e^-|z|) */
		double want = fmax(z[i], 0) - z[i] * t[i] + log1p(exp(-fabs(z[i])));
		double sig = z[i] > 0 ? 1 / (1 + exp(-z[i])) : exp(z[i]) / (1 + exp(z[i]));

		cr_assert(isfinite(y[i]) && isfinite(yf[i]) && isfinite(dz[i]) &&
				  isfinite(dzf[i]),
			  "expected finite bce and gradient at z = %g", z[i]);
		cr_assert(fabs(y[i] - want) <= 1e-15 * fmax(1, fabs(want)),
			  "expected bce(%g, %g) = %.17g, got %.17g", z[i], t[i],
			  want, y[i]);
		cr_assert(fabs(dz[i] - (sig - t[i])) <= 1e-15,
			  "expected d bce/dz at %g = %.17g, got %.17g", z[i],
			  sig - t[i], dz[i]);
		cr_assert(fabs(yf[i] - y[i]) <= F_TOL * fmax(1, fabs(y[i])) &&
				  fabs(dzf[i] - dz[i]) <= F_TOL,
			  "expected float bce at z = %g to agree with double", z[i]);
	}
	cr_assert(y[0] == 100 && y[1] == 100,
		  "expected bce(100, 0) = bce(-100, 1) = 100, got %.17g, %.17g",
		  y[0], y[1]);
}

/* l1 and huber at their kinks, and NaN. */
Test(loss, l1_and_huber_at_the_kinks)
{
	double o[] = {1, 2, NAN}, t[] = {1, 1.5, 0}, y[3], dy[] = {2, 2, 2};
	double d[3];

	pcg_l1_vjp_d(0, 3, 1, 1, 1, 1, 0, d, dy, o, t);
	cr_assert(d[0] == 0 && d[1] == 2 && isnan(d[2]),
		  "expected l1 gradients 0 (o == t), dy (o > t), NaN (NaN), "
		  "got %g %g %g", d[0], d[1], d[2]);
	pcg_l1_vjp_d(1, 3, 1, 1, 1, 1, 0, d, dy, o, t);
	cr_assert(d[0] == 0 && d[1] == -2, "expected l1 gradients into t 0 and "
					   "-dy, got %g %g", d[0], d[1]);
	/* |d| = delta = 0.5: the linear branch, equal to the quadratic one */
	pcg_huber_d(3, 1, 1, 1, 0.5, y, o, t);
	cr_assert(y[0] == 0 && y[1] == 0.125 && isnan(y[2]),
		  "expected huber 0, 0.125 (= 0.5 * 0.5^2 at |d| = delta), NaN, "
		  "got %g %g %g", y[0], y[1], y[2]);
	pcg_huber_vjp_d(0, 3, 1, 1, 1, 0.5, 1, 0, d, dy, o, t);
	cr_assert(d[0] == 0 && d[1] == 1 && isnan(d[2]),
		  "expected huber gradients 0, dy delta = 1, NaN, got %g %g %g",
		  d[0], d[1], d[2]);
}

/* Index targets are one-hot probability targets. */
Test(loss, xent_index_is_xent_with_one_hot_targets)
{
	loss_case L = loss_make(L_XENT_INDEX, 0), P = loss_make(L_XENT, 0);
	size_t n = loss_len(&L, L.os);
	uint64_t s = 1103;
	double *o = rvec(n, &s), *t = dvec(n), y[3], yp[3], dy[3] = {1, -2, 0.5};
	double *d = dvec(n), *dp = dvec(n);

	pcg_one_hot_d(L.batch * L.rows, L.n, t, loss_labels);
	run_loss(0, &L, y, o, t);
	run_loss(0, &P, yp, o, t);
	expect_near(y, yp, 3, 1e-15, "pcg_xent_index = pcg_xent with one-hot "
				     "targets");
	/* the gradients to the bit, in float and double, stored and added:
	 * with a one-hot row, tsum is 1 and t_i is 1 or 0, so pcg_xent_vjp's
	 * g (e / sum * tsum - t_i) is g (e / sum - [i == l]) exactly */
	for (int fl = 0; fl < 2; fl++)
		for (int acc = 0; acc < 2; acc++) {
			for (size_t i = 0; i < n; i++)
				d[i] = dp[i] = acc ? 0.25 * (double)i - 1 : 0;
			run_loss_vjp(fl, &L, 0, acc, d, dy, o, t);
			run_loss_vjp(fl, &P, 0, acc, dp, dy, o, t);
			expect_same(d, dp, n, fl ? "float pcg_xent_index_vjp = "
						   "pcg_xent_vjp, one-hot"
						 : "pcg_xent_index_vjp = "
						   "pcg_xent_vjp, one-hot");
		}
	free(o);
	free(t);
	free(d);
	free(dp);
}

/* -------------------------------------------------------- optimizers */

/* One update through the double or (fl) the float kernel; its result. */
static int
run_opt(int fl, const pcg_optim *c, int64_t t, size_t n, double *p,
	const double *g, double *m, double *v)
{
	shadow sh_ = {0};
	int r;

	if (fl)
		r = pcg_opt_update_f(c, t, n, F_IO(p, n), F_IN(g, n), F_IO(m, n),
				     F_IO(v, n));
	else
		r = pcg_opt_update_d(c, t, n, p, g, m, v);
	sh_done(&sh_);
	return r;
}

/*
 * SGD, momentum and Nesterov by hand: lr 0.5, momentum 0.5, weight decay
 * 0.25 and p = 1, then gradients 1 and 2: every value is a short binary
 * fraction, so each step is exact and any order of the operations gives
 * these values.
 */
Test(optim, sgd_kinds_by_hand)
{
	static const struct {
		pcg_optim_kind kind;
		double p[2], m[2]; /* after steps 1 and 2 */
	} cases[] = {
		/* d = 1 + 0.25 = 1.25, p = 1 - 0.625;
		 * d = 2 + 0.25 * 0.375 = 2.09375, p = 0.375 - 1.046875 */
		{PCG_SGD, {0.375, -0.671875}, {0, 0}},
		/* m = 1.25, p = 1 - 0.625;
		 * m = 0.625 + 2.09375 = 2.71875, p = 0.375 - 1.359375 */
		{PCG_MOMENTUM, {0.375, -0.984375}, {1.25, 2.71875}},
		/* m = 1.25, d = 1.25 + 0.625, p = 1 - 0.9375;
		 * d = 2 + 0.25 * 0.0625 = 2.015625, m = 0.625 + 2.015625,
		 * d = 2.015625 + 1.3203125, p = 0.0625 - 1.66796875 */
		{PCG_NESTEROV, {0.0625, -1.60546875}, {1.25, 2.640625}},
	};
	static const double grads[2] = {1, 2};

	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
		for (int fl = 0; fl < 2; fl++) {
			pcg_optim c = {cases[k].kind, 0.5, 0.5, 0, 0, 0, 0.25};
			double p = 1, m = NAN, v = NAN; /* t == 1 reads neither */

			for (int t = 1; t <= 2; t++) {
				int r = run_opt(fl, &c, t, 1, &p, &grads[t - 1],
						&m, &v);

				cr_assert(r == 0, "expected kind %d to accept "
						  "the step, got %d",
					  (int)c.kind, r);
				cr_assert(p == cases[k].p[t - 1],
					  "expected kind %d (%s) to give p = %.17g "
					  "at step %d, got %.17g",
					  (int)c.kind, fl ? "float" : "double",
					  cases[k].p[t - 1], t, p);
				if (c.kind != PCG_SGD)
					cr_assert(m == cases[k].m[t - 1],
						  "expected kind %d's buffer %.17g "
						  "at step %d, got %.17g",
						  (int)c.kind, cases[k].m[t - 1],
						  t, m);
			}
			if (c.kind == PCG_SGD)
				cr_assert(isnan(m) && isnan(v),
					  "expected SGD to leave m and v alone");
		}
}

/* Momentum 0 is plain SGD, as in torch, and leaves the buffer alone. */
Test(optim, zero_momentum_is_sgd)
{
	enum { N = 20 };
	uint64_t s = 1301;
	double *p0 = rvec(N, &s), *g = rvec(N, &s), *p = dvec(N);
	double *q = dvec(N), *m = dvec(N), *v = dvec(N);
	pcg_optim sgd = {PCG_SGD, 0.1, 0, 0, 0, 0, 0.01};
	pcg_optim mom = {PCG_MOMENTUM, 0.1, 0, 0, 0, 0, 0.01};

	for (int t = 1; t <= 3; t++) {
		memcpy(p, p0, N * sizeof *p);
		memcpy(q, p0, N * sizeof *q);
		for (int i = 0; i < N; i++)
			m[i] = 7;
		cr_assert(pcg_opt_update_d(&sgd, t, N, p, g, NULL, NULL) == 0 &&
				  pcg_opt_update_d(&mom, t, N, q, g, m, v) == 0,
			  "expected both updates to succeed");
		expect_same(q, p, N, "momentum 0: the same bits as SGD");
		for (int i = 0; i < N; i++)
			cr_assert(m[i] == 7, "expected momentum 0 not to touch "
					     "the buffer");
	}
	free(p0);
	free(g);
	free(p);
	free(q);
	free(m);
	free(v);
}

/*
 * Adam and AdamW against the textbook form in long double: m and v the
 * moving averages, mh = m / (1 - beta1^t), vh = v / (1 - beta2^t),
 * p -= lr mh / (sqrt(vh) + eps); AdamW first shrinks p by 1 - lr wd,
 * Adam adds wd p to the gradient.  At the first step this is
 * p - lr g / (|g| + eps): a move of about lr against the gradient's sign.
 * bc == 0 leaves the bias correction out (mh = m, vh = v): a wrong Adam
 * for the negative control.
 */
static void
adam_textbook(const pcg_optim *c, int bc, int steps, size_t n, double *p,
	      const double *g_at, const double *a)
{
	long double P[64], M[64] = {0}, V[64] = {0};

	cr_assert(n <= 64, "expected a small test");
	for (size_t i = 0; i < n; i++)
		P[i] = p[i];
	for (int t = 1; t <= steps; t++)
		for (size_t i = 0; i < n; i++) {
			/* the gradient of 0.5 a (p - g_at)^2 */
			long double g = a[i] * (P[i] - g_at[i]);
			long double mh, vh;

			if (c->kind == PCG_ADAMW)
				P[i] *= 1 - (long double)c->lr * c->weight_decay;
			else
				g += (long double)c->weight_decay * P[i];
			M[i] = c->beta1 * M[i] + (1 - (long double)c->beta1) * g;
			V[i] = c->beta2 * V[i] +
			       (1 - (long double)c->beta2) * g * g;
			mh = bc ? M[i] / (1 - powl(c->beta1, t)) : M[i];
			vh = bc ? V[i] / (1 - powl(c->beta2, t)) : V[i];
			P[i] -= c->lr * mh / (sqrtl(vh) + c->eps);
		}
	for (size_t i = 0; i < n; i++)
		p[i] = (double)P[i];
}

/* The kernel on the same problem: steps updates of p. */
static void
adam_kernel(int fl, const pcg_optim *c, int steps, size_t n, double *p,
	    const double *g_at, const double *a)
{
	double *g = dvec(n), *m = dvec(n), *v = dvec(n);

	for (int t = 1; t <= steps; t++) {
		for (size_t i = 0; i < n; i++)
			g[i] = fl ? (float)a[i] * ((float)p[i] - (float)g_at[i])
				  : a[i] * (p[i] - g_at[i]);
		cr_assert(run_opt(fl, c, t, n, p, g, m, v) == 0,
			  "expected the Adam step to succeed");
	}
	free(g);
	free(m);
	free(v);
}

Test(optim, adam_against_the_textbook)
{
	enum { N = 40 };
	uint64_t s = 1302;
	double *p0 = rvec(N, &s), *at = rvec(N, &s), *a = rvec(N, &s);
	double *got = dvec(N), *want = dvec(N);

	for (int i = 0; i < N; i++)
		a[i] = (float)(1.25 + a[i]); /* curvatures in [0.25, 2.25) */
	at[0] = p0[0];                       /* a zero gradient */
	for (int kind = PCG_ADAM; kind <= PCG_ADAMW; kind++)
		for (int w = 0; w < 2; w++)
			for (int steps = 1; steps <= 6; steps += 5) {
				pcg_optim c = {(pcg_optim_kind)kind, 0.01, 0, 0.9,
					       0.999, 1e-8, w ? 0.1 : 0};

				memcpy(want, p0, N * sizeof *want);
				adam_textbook(&c, 1, steps, N, want, at, a);
				for (int fl = 0; fl < 2; fl++) {
					memcpy(got, p0, N * sizeof *got);
					adam_kernel(fl, &c, steps, N, got, at, a);
					if (fl)
						expect_float(got, want, N,
							     "float Adam = the "
							     "textbook");
					else
						expect_near(got, want, N, 1e-14,
							    "Adam = the textbook");
				}
			}
	/* the first step is p - lr g / (|g| + eps), a zero gradient does not
	 * move p */
	pcg_optim c = {PCG_ADAM, 0.01, 0, 0.9, 0.999, 1e-8, 0};
	memcpy(got, p0, N * sizeof *got);
	adam_kernel(0, &c, 1, N, got, at, a);
	cr_assert(got[0] == p0[0], "expected a zero gradient not to move p");
	for (int i = 0; i < N; i++) {
		double g = a[i] * (p0[i] - at[i]);

		want[i] = p0[i] - 0.01 * g / (fabs(g) + 1e-8);
	}
	expect_near(got, want, N, 1e-15, "Adam's first step: "
					  "p - lr g / (|g| + eps)");

	/* Negative control: the textbook without the bias correction fails
	 * the comparison with the kernel. */
	memcpy(got, p0, N * sizeof *got);
	adam_kernel(0, &c, 6, N, got, at, a);
	memcpy(want, p0, N * sizeof *want);
	adam_textbook(&c, 0, 6, N, want, at, a);
	diff d = diff_rel(got, want, N, 1e-14);
	cr_assert(d.count > 0, "expected Adam without bias correction to fail "
			       "the comparison");
	free(p0);
	free(at);
	free(a);
	free(got);
	free(want);
}

/* At t == 1 the buffers are not read: NaN in them changes nothing. */
Test(optim, first_step_reads_no_buffer)
{
	enum { N = 16 };
	uint64_t s = 1303;
	double *p0 = rvec(N, &s), *g = rvec(N, &s);
	double *p[2], *m[2], *v[2];

	for (int kind = PCG_SGD; kind <= PCG_ADAMW; kind++) {
		pcg_optim c = {(pcg_optim_kind)kind, 0.1, 0.9, 0.9, 0.999, 1e-8,
			       0.01};

		for (int k = 0; k < 2; k++) {
			p[k] = dvec(N);
			m[k] = dvec(N);
			v[k] = dvec(N);
			memcpy(p[k], p0, N * sizeof *p0);
			for (int i = 0; i < N; i++)
				m[k][i] = v[k][i] = k ? NAN : 0;
			cr_assert(pcg_opt_update_d(&c, 1, N, p[k], g, m[k],
						   v[k]) == 0,
				  "expected kind %d to accept step 1", kind);
		}
		expect_same(p[1], p[0], N, "step 1: p as from zeroed buffers");
		if (kind != PCG_SGD)
			expect_same(m[1], m[0], N, "step 1: m as from zeros");
		if (kind >= PCG_ADAM)
			expect_same(v[1], v[0], N, "step 1: v as from zeros");
		for (int k = 0; k < 2; k++) {
			free(p[k]);
			free(m[k]);
			free(v[k]);
		}
	}
	free(p0);
	free(g);
}

/* pcg_optim_check's refusals, in its order; a refused update touches
 * nothing. */
Test(optim, check_refusals)
{
	static const struct {
		pcg_optim c;
		int want;
	} cases[] = {
		{{PCG_SGD, 0.1, 0, 0, 0, 0, 0}, PCG_OPTIM_OK},
		{{PCG_SGD, 0, 0, 0, 0, 0, 0}, PCG_OPTIM_OK},
		/* fields a kind does not read are not checked */
		{{PCG_SGD, 0.1, -1, 2, NAN, -1, 0}, PCG_OPTIM_OK},
		{{PCG_MOMENTUM, 0.1, 0, 0, 0, 0, 0}, PCG_OPTIM_OK},
		{{PCG_NESTEROV, 0.1, 0.9, 0, 0, 0, 0.1}, PCG_OPTIM_OK},
		{{PCG_ADAM, 1e-3, 0, 0.9, 0.999, 1e-8, 0}, PCG_OPTIM_OK},
		{{PCG_ADAMW, 1e-3, 0, 0, 0, 0, 0.01}, PCG_OPTIM_OK},
		{{(pcg_optim_kind)5, 0.1, 0, 0, 0, 0, 0}, PCG_OPTIM_EKIND},
		{{(pcg_optim_kind)-1, 0.1, 0, 0, 0, 0, 0}, PCG_OPTIM_EKIND},
		{{PCG_SGD, -0.1, 0, 0, 0, 0, 0}, PCG_OPTIM_ELR},
		{{PCG_SGD, NAN, 0, 0, 0, 0, 0}, PCG_OPTIM_ELR},
		{{PCG_ADAM, INFINITY, 0, 0.9, 0.999, 1e-8, 0}, PCG_OPTIM_ELR},
		{{PCG_MOMENTUM, 0.1, -0.5, 0, 0, 0, 0}, PCG_OPTIM_EMOMENTUM},
		{{PCG_MOMENTUM, 0.1, NAN, 0, 0, 0, 0}, PCG_OPTIM_EMOMENTUM},
		{{PCG_NESTEROV, 0.1, 0, 0, 0, 0, 0}, PCG_OPTIM_EMOMENTUM},
		{{PCG_ADAM, 0.1, 0, 1, 0.999, 1e-8, 0}, PCG_OPTIM_EBETA1},
		{{PCG_ADAM, 0.1, 0, -0.1, 0.999, 1e-8, 0}, PCG_OPTIM_EBETA1},
		{{PCG_ADAMW, 0.1, 0, 0.9, 1, 1e-8, 0}, PCG_OPTIM_EBETA2},
		{{PCG_ADAMW, 0.1, 0, 0.9, NAN, 1e-8, 0}, PCG_OPTIM_EBETA2},
		{{PCG_ADAM, 0.1, 0, 0.9, 0.999, -1e-8, 0}, PCG_OPTIM_EEPS},
		{{PCG_SGD, 0.1, 0, 0, 0, 0, -0.01}, PCG_OPTIM_EDECAY},
		{{PCG_ADAM, 0.1, 0, 0.9, 0.999, 1e-8, NAN}, PCG_OPTIM_EDECAY},
		/* the first wrong field is reported */
		{{PCG_ADAM, -1, 0, 2, 2, -1, -1}, PCG_OPTIM_ELR},
	};

	cr_assert(pcg_optim_check(NULL) == PCG_OPTIM_EKIND,
		  "expected EKIND for no optimizer");
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		const pcg_optim *c = &cases[k].c;
		int got = pcg_optim_check(c);
		float pf = 1, gf = 1, mf = 2, vf = 3;
		double pd = 1, gd = 1, md = 2, vd = 3;
		int rf = pcg_opt_update_f(c, 2, 1, &pf, &gf, &mf, &vf);
		int rd = pcg_opt_update_d(c, 2, 1, &pd, &gd, &md, &vd);

		cr_assert(got == cases[k].want, "expected case %zu to give %d "
						"(%s), got %d (%s)",
			  k, cases[k].want,
			  pcg_optim_strerror(cases[k].want), got,
			  pcg_optim_strerror(got));
		if (got == PCG_OPTIM_OK) {
			cr_assert(rf == 0 && rd == 0, "expected case %zu's "
						      "update to run", k);
		} else {
			cr_assert(rf == -1 && rd == -1,
				  "expected case %zu's update to return -1", k);
			cr_assert(pf == 1 && mf == 2 && vf == 3 && pd == 1 &&
					  md == 2 && vd == 3,
				  "expected a refused update (case %zu) to touch "
				  "nothing", k);
		}
	}

	/* a valid optimizer at step 0 is refused too */
	pcg_optim c = {PCG_ADAM, 0.1, 0, 0.9, 0.999, 1e-8, 0};
	double p = 1, g = 1, m = 2, v = 3;
	cr_assert(pcg_opt_update_d(&c, 0, 1, &p, &g, &m, &v) == -1 && p == 1 &&
			  m == 2 && v == 3,
		  "expected t = 0 to be refused, touching nothing");

	for (int e = PCG_OPTIM_EDECAY; e <= PCG_OPTIM_OK; e++)
		for (int f = PCG_OPTIM_EDECAY; f < e; f++)
			cr_assert(strcmp(pcg_optim_strerror(e),
					 pcg_optim_strerror(f)) != 0,
				  "expected errors %d and %d to have different "
				  "messages", e, f);
}

/* ------------------------------------------ batch statistics, dropout */

static void
run_bn_train(int fl, int n, int C, int S, double eps, double *y,
	     double *mean, double *var, const double *x)
{
	size_t c = (size_t)n * C * S;

	BOTH(fl, pcg_bn_train,
	     (n, C, S, (float)eps, F_IO(y, c), F_IO(mean, (size_t)C),
	      F_IO(var, (size_t)C), F_IN(x, c)),
	     (n, C, S, eps, y, mean, var, x));
}

static void
run_bn_eval(int fl, int n, int C, int S, double eps, double *y,
	    const double *rmean, const double *rvar, const double *x)
{
	size_t c = (size_t)n * C * S;

	BOTH(fl, pcg_bn_eval,
	     (n, C, S, (float)eps, F_IO(y, c), F_IN(rmean, (size_t)C),
	      F_IN(rvar, (size_t)C), F_IN(x, c)),
	     (n, C, S, eps, y, rmean, rvar, x));
}

static void
run_bn_vjp(int fl, int n, int C, int S, double eps, int acc, double *dx,
	   const double *dy, const double *y, const double *var)
{
	size_t c = (size_t)n * C * S;

	BOTH(fl, pcg_bn_vjp,
	     (n, C, S, (float)eps, acc, F_IO(dx, c), F_IN(dy, c), F_IN(y, c),
	      F_IN(var, (size_t)C)),
	     (n, C, S, eps, acc, dx, dy, y, var));
}

static void
run_bn_eval_vjp(int fl, int n, int C, int S, double eps, int acc,
		double *dx, const double *dy, const double *rvar)
{
	size_t c = (size_t)n * C * S;

	BOTH(fl, pcg_bn_eval_vjp,
	     (n, C, S, (float)eps, acc, F_IO(dx, c), F_IN(dy, c),
	      F_IN(rvar, (size_t)C)),
	     (n, C, S, eps, acc, dx, dy, rvar));
}

static void
run_bn_update(int fl, int n, int C, int S, double momentum, double *rmean,
	      double *rvar, const double *mean, const double *var)
{
	BOTH(fl, pcg_bn_update,
	     (n, C, S, (float)momentum, F_IO(rmean, (size_t)C),
	      F_IO(rvar, (size_t)C), F_IN(mean, (size_t)C),
	      F_IN(var, (size_t)C)),
	     (n, C, S, momentum, rmean, rvar, mean, var));
}

/*
 * Batch normalisation by its definition in long double: per channel the
 * mean, the biased and unbiased variances over the n S elements, and y.
 */
static void
ref_bn(int n, int C, int S, double eps, double *y, double *mean,
       double *var, double *uvar, const double *x)
{
	for (int c = 0; c < C; c++) {
		long double m = 0, v = 0, M = (long double)n * S;

		for (int b = 0; b < n; b++)
			for (int s = 0; s < S; s++)
				m += x[((size_t)b * C + c) * S + s];
		m /= M;
		for (int b = 0; b < n; b++)
			for (int s = 0; s < S; s++) {
				long double d = x[((size_t)b * C + c) * S + s] - m;

				v += d * d;
			}
		mean[c] = (double)m;
		var[c] = (double)(v / M);
		uvar[c] = (double)(v / (M - 1));
		for (int b = 0; b < n; b++)
			for (int s = 0; s < S; s++) {
				size_t i = ((size_t)b * C + c) * S + s;

				y[i] = (double)((x[i] - m) / sqrtl(v / M + eps));
			}
	}
}

/* [n][C][S]: a [C] vector per sample (S = 1), one sample, one channel,
 * an offset far from 0. */
static const int bn_shapes[][3] = {{4, 3, 5}, {3, 2, 1}, {1, 4, 6},
				   {16, 1, 1}, {2, 3, 12}};

/* Inputs for batch normalisation: channel c of order 1 scaled by c + 1
 * and shifted by 4 c, channel 0 shrunk to 0.1 so that eps counts. */
static double *
bn_inputs(int n, int C, int S, uint64_t *s)
{
	size_t len = (size_t)n * C * S;
	double *x = rvec(len, s);

	for (size_t i = 0; i < len; i++) {
		int c = (int)(i / (size_t)S % (size_t)C);

		x[i] = (float)(c == 0 ? 0.1 * x[i] : (c + 1) * x[i] + 4 * c);
	}
	return x;
}

Test(bn, train_against_definition)
{
	uint64_t s = 3001;

	for (size_t k = 0; k < sizeof bn_shapes / sizeof bn_shapes[0]; k++) {
		int n = bn_shapes[k][0], C = bn_shapes[k][1], S = bn_shapes[k][2];
		size_t len = (size_t)n * C * S;
		double *x = bn_inputs(n, C, S, &s), *y = dvec(len);
		double *yf = dvec(len), *want = dvec(len), mean[4], var[4];
		double meanf[4], varf[4], wmean[4], wvar[4], wuvar[4];
		char msg[160];

		for (double eps = 1e-5; eps < 1; eps += 0.5) {
			run_bn_train(0, n, C, S, eps, y, mean, var, x);
			ref_bn(n, C, S, eps, want, wmean, wvar, wuvar, x);
			snprintf(msg, sizeof msg, "pcg_bn_train over [%d][%d][%d], "
				 "eps %g: y", n, C, S, eps);
			expect_near(y, want, len, 1e-13, msg);
			snprintf(msg, sizeof msg, "pcg_bn_train over [%d][%d][%d]: "
				 "the channels' means", n, C, S);
			expect_diff(diff_scaled(mean, wmean, (size_t)C, 1e-15, 1),
				    (size_t)C, msg);
			snprintf(msg, sizeof msg, "pcg_bn_train over [%d][%d][%d]: "
				 "the channels' biased variances", n, C, S);
			expect_near(var, wvar, (size_t)C, 1e-14, msg);
			if (n * S > 1)
				cr_assert(diff_rel(var, wuvar, (size_t)C, 1e-14).count
					  > 0, "expected the comparison to tell the "
					       "biased variance from the unbiased one");

			run_bn_train(1, n, C, S, eps, yf, meanf, varf, x);
			snprintf(msg, sizeof msg, "float pcg_bn_train over "
				 "[%d][%d][%d] = double's", n, C, S);
			expect_float(yf, y, len, msg);
			expect_float(meanf, mean, (size_t)C, msg);
			expect_float(varf, var, (size_t)C, msg);
		}
		free(x);
		free(y);
		free(yf);
		free(want);
	}
}

/* Evaluation with the batch's own statistics is training's forward, to the
 * bit; with others, the definition. */
Test(bn, eval)
{
	enum { n = 3, C = 4, S = 5, LEN = n * C * S };
	uint64_t s = 3002;
	double *x = bn_inputs(n, C, S, &s), y[LEN], ye[LEN], want[LEN];
	double yf[LEN], mean[C], var[C], rmean[C], rvar[C];

	for (int fl = 0; fl < 2; fl++) {
		run_bn_train(fl, n, C, S, 1e-5, y, mean, var, x);
		run_bn_eval(fl, n, C, S, 1e-5, ye, mean, var, x);
		if (fl)
			for (int i = 0; i < LEN; i++)
				cr_assert((float)ye[i] == (float)y[i],
					  "expected float pcg_bn_eval with the "
					  "batch's statistics to give "
					  "pcg_bn_train's y, [%d] differs", i);
		else
			expect_same(ye, y, LEN, "pcg_bn_eval with the batch's "
						"statistics to give pcg_bn_train's y");
	}
	for (int c = 0; c < C; c++) {
		rmean[c] = (float)(0.5 * c - 0.25);
		rvar[c] = (float)(0.5 + c);
	}
	run_bn_eval(0, n, C, S, 1e-3, ye, rmean, rvar, x);
	for (int i = 0; i < LEN; i++) {
		int c = i / S % C;

		want[i] = (double)((x[i] - (long double)rmean[c]) /
				   sqrtl((long double)rvar[c] + 1e-3));
	}
	expect_near(ye, want, LEN, 1e-15, "pcg_bn_eval: (x - rmean) / "
					  "sqrt(rvar + eps)");
	run_bn_eval(1, n, C, S, 1e-3, yf, rmean, rvar, x);
	expect_float(yf, ye, LEN, "float pcg_bn_eval = double's");
	free(x);
}

static void
fwd_bn(const fd_prob *p, int fl, double *y)
{
	double mean[8], var[8];

	run_bn_train(fl, p->ip[0], p->ip[1], p->ip[2], p->rp, y, mean, var,
		     p->in[0]);
}

/* The VJP takes var from the forward in the same type. */
static void
vjp_bn(const fd_prob *p, int fl, int wrt, int acc, double *dx,
       const double *dy, const double *y)
{
	size_t len = p->len[0];
	double mean[8], var[8], *y2 = dvec(len);

	(void)wrt;
	run_bn_train(fl, p->ip[0], p->ip[1], p->ip[2], p->rp, y2, mean, var,
		     p->in[0]);
	run_bn_vjp(fl, p->ip[0], p->ip[1], p->ip[2], p->rp, acc, dx, dy, y,
		   var);
	free(y2);
}

static void
fwd_bn_eval(const fd_prob *p, int fl, double *y)
{
	run_bn_eval(fl, p->ip[0], p->ip[1], p->ip[2], p->rp, y, p->in[1] + 8,
		    p->in[1], p->in[0]);
}

static void
vjp_bn_eval(const fd_prob *p, int fl, int wrt, int acc, double *dx,
	    const double *dy, const double *y)
{
	(void)wrt;
	(void)y;
	run_bn_eval_vjp(fl, p->ip[0], p->ip[1], p->ip[2], p->rp, acc, dx, dy,
			p->in[1]);
}

Test(bn, vjps_against_differences)
{
	uint64_t s = 3003;
	char what[96];

	for (size_t k = 0; k < sizeof bn_shapes / sizeof bn_shapes[0]; k++) {
		int n = bn_shapes[k][0], C = bn_shapes[k][1], S = bn_shapes[k][2];
		fd_prob p = {0};
		size_t len = (size_t)n * C * S;

		if (n * S == 1)
			continue;
		p.in[0] = bn_inputs(n, C, S, &s);
		p.len[0] = p.ylen = len;
		memcpy(p.ip, bn_shapes[k], sizeof bn_shapes[k]);
		p.rp = 1e-3;
		p.fwd = fwd_bn;
		p.vjp = vjp_bn;
		snprintf(what, sizeof what, "pcg_bn_train [%d][%d][%d]", n, C, S);
		fd_check(&p, 0, 30 + k, what);

		/* in[1]: rvar[8] then rmean[8], not differentiated */
		p.in[1] = dvec(16);
		for (int c = 0; c < 8; c++) {
			p.in[1][c] = (float)(0.25 + 0.5 * c);
			p.in[1][8 + c] = (float)(c - 1.5);
		}
		p.fwd = fwd_bn_eval;
		p.vjp = vjp_bn_eval;
		snprintf(what, sizeof what, "pcg_bn_eval [%d][%d][%d]", n, C, S);
		fd_check(&p, 0, 40 + k, what);
		free(p.in[0]);
		free(p.in[1]);
	}
}

/* A VJP that ignores that the statistics depend on x (dx = dy inv, the
 * evaluation-mode VJP with the batch's var): the check must reject it. */
static void
vjp_bn_frozen(const fd_prob *p, int fl, int wrt, int acc, double *dx,
	      const double *dy, const double *y)
{
	double mean[8], var[8], *y2 = dvec(p->len[0]);

	(void)wrt;
	(void)y;
	run_bn_train(fl, p->ip[0], p->ip[1], p->ip[2], p->rp, y2, mean, var,
		     p->in[0]);
	run_bn_eval_vjp(fl, p->ip[0], p->ip[1], p->ip[2], p->rp, acc, dx, dy,
			var);
	free(y2);
}

Test(bn, differences_reject_frozen_statistics)
{
	uint64_t s = 3004, s2 = 7;
	fd_prob p = {0};
	int shape[3] = {4, 3, 5};
	size_t len = 60;
	double *y = dvec(len), *dy = rvec(len, &s2), *dx = dvec(len);

	p.in[0] = bn_inputs(4, 3, 5, &s);
	p.len[0] = p.ylen = len;
	memcpy(p.ip, shape, sizeof shape);
	p.rp = 1e-3;
	p.fwd = fwd_bn;
	p.vjp = vjp_bn_frozen;
	fd_forward(&p, 0, y);
	p.vjp(&p, 0, 0, 0, dx, dy, y);
	fd_result r = fd_compare(&p, 0, dy, dx);
	cr_assert(r.err > 1e-3, "expected the check to reject a VJP that "
				"ignores the batch statistics, got error %.3g",
		  r.err);
	free(p.in[0]);
	free(y);
	free(dy);
	free(dx);
}

/* The running statistics against the closed form, from the statistics of
 * a batch; M = 1 leaves the running variance as it was. */
Test(bn, update_closed_form)
{
	enum { n = 4, C = 3, S = 5, LEN = n * C * S };
	uint64_t s = 3005;
	double *x = bn_inputs(n, C, S, &s), y[LEN], want[LEN], mean[C], var[C];
	double wmean[C], wvar[C], wuvar[C], rm[C], rv[C], rm0[C], rv0[C];
	double wrm[C], wrv[C], rmf[C], rvf[C], mom = 0.1;

	for (int c = 0; c < C; c++) {
		rm0[c] = (float)(0.125 * c - 0.5);
		rv0[c] = (float)(1.5 + c);
	}
	run_bn_train(0, n, C, S, 1e-5, y, mean, var, x);
	ref_bn(n, C, S, 1e-5, want, wmean, wvar, wuvar, x);
	memcpy(rm, rm0, sizeof rm);
	memcpy(rv, rv0, sizeof rv);
	run_bn_update(0, n, C, S, mom, rm, rv, mean, var);
	for (int c = 0; c < C; c++) {
		wrm[c] = (double)(mom * (long double)wmean[c] +
				  (1 - (long double)mom) * rm0[c]);
		wrv[c] = (double)(mom * (long double)wuvar[c] +
				  (1 - (long double)mom) * rv0[c]);
	}
	expect_near(rm, wrm, C, 1e-15, "pcg_bn_update: rmean = momentum mean + "
				       "(1 - momentum) rmean");
	expect_near(rv, wrv, C, 1e-14, "pcg_bn_update: rvar = momentum "
				       "unbiased var + (1 - momentum) rvar");
	for (int c = 0; c < C; c++)
		wrv[c] = mom * wvar[c] + (1 - mom) * rv0[c];
	cr_assert(diff_rel(rv, wrv, C, 1e-14).count == C,
		  "expected the comparison to reject the biased variance in "
		  "the running variance");
	for (int c = 0; c < C; c++)
		cr_assert(rm[c] == mom * mean[c] + (1 - mom) * rm0[c] &&
			  rv[c] == mom * (var[c] * (n * S) / (n * S - 1)) +
					   (1 - mom) * rv0[c],
			  "expected pcg_bn_update's documented order of "
			  "operations, channel %d differs", c);

	memcpy(rmf, rm0, sizeof rm);
	memcpy(rvf, rv0, sizeof rv);
	run_bn_update(1, n, C, S, mom, rmf, rvf, mean, var);
	expect_float(rmf, rm, C, "float pcg_bn_update = double's (rmean)");
	expect_float(rvf, rv, C, "float pcg_bn_update = double's (rvar)");

	/* momentum 0 keeps, 1 replaces */
	memcpy(rm, rm0, sizeof rm);
	memcpy(rv, rv0, sizeof rv);
	run_bn_update(0, n, C, S, 0, rm, rv, mean, var);
	expect_same(rm, rm0, C, "momentum 0 to keep rmean");
	expect_same(rv, rv0, C, "momentum 0 to keep rvar");
	run_bn_update(0, n, C, S, 1, rm, rv, mean, var);
	expect_same(rm, mean, C, "momentum 1 to give the batch's mean");
	expect_near(rv, wuvar, C, 1e-14, "momentum 1 to give the batch's "
					 "unbiased variance");

	/* one value per channel */
	double x1[C] = {0.5, -2, 3}, y1[C], m1[C], v1[C];
	for (int fl = 0; fl < 2; fl++) {
		memcpy(rm, rm0, sizeof rm);
		memcpy(rv, rv0, sizeof rv);
		run_bn_train(fl, 1, C, 1, 1e-5, y1, m1, v1, x1);
		run_bn_update(fl, 1, C, 1, mom, rm, rv, m1, v1);
		for (int c = 0; c < C; c++) {
			cr_assert(y1[c] == 0 && v1[c] == 0 && m1[c] == x1[c],
				  "expected one value per channel to have mean x, "
				  "var 0 and y 0");
			double want = mom * x1[c] + (1 - mom) * rm0[c];
			cr_assert(rv[c] == rv0[c] &&
					  fabs(rm[c] - want) <= 1e-6 * (fabs(want) + 1),
				  "expected M = 1 to leave rvar unchanged (no "
				  "unbiased variance) and update rmean");
		}
	}
	free(x);
}

/* --------------------------------------------------- counter-based RNG */

/* pcg_rng_at as its header states it. */
static uint64_t
doc_sm(uint64_t z)
{
	z += UINT64_C(0x9e3779b97f4a7c15);
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static double
doc_rng_at(uint64_t key, uint64_t stream, uint64_t i)
{
	return (double)(doc_sm(doc_sm(doc_sm(key) ^ stream) ^ i) >> 11) *
	       0x1.0p-53;
}

Test(rng, at_is_the_documented_pure_function)
{
	enum { N = 100000 };
	static const uint64_t keys[] = {0, 1, 42, UINT64_MAX};
	long bins[10] = {0};
	double sum = 0;

	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
		for (uint64_t st = 0; st < 3; st++)
			for (uint64_t i = 0; i < 1000; i += 7) {
				double u = pcg_rng_at(keys[k], st, i);

				cr_assert(u == doc_rng_at(keys[k], st, i),
					  "expected pcg_rng_at(%llu, %llu, %llu) "
					  "to be the documented sm(sm(sm(key) ^ "
					  "stream) ^ i) >> 11",
					  (unsigned long long)keys[k],
					  (unsigned long long)st,
					  (unsigned long long)i);
			}
	for (uint64_t i = N; i-- > 0;) {
		double u = pcg_rng_at(7, 3, i);

		cr_assert(u >= 0 && u < 1, "expected a draw in [0, 1), got %.17g",
			  u);
		sum += u;
		bins[(int)(u * 10)]++;
	}
	/* drawn backwards above, forwards here: the same values */
	for (uint64_t i = 0; i < 1000; i++)
		cr_assert(pcg_rng_at(7, 3, i) == doc_rng_at(7, 3, i),
			  "expected the same draw whatever the order");
	cr_assert(sum / N >= 0.48 && sum / N <= 0.52,
		  "expected the mean of %d draws near 0.5, got %.5f", N, sum / N);
	for (int b = 0; b < 10; b++)
		cr_assert(bins[b] > N / 10 * 0.95 && bins[b] < N / 10 * 1.05,
			  "expected about %d draws in [%.1f, %.1f), got %ld",
			  N / 10, b / 10.0, (b + 1) / 10.0, bins[b]);
}

/* Count the equal draws of two (key, stream) pairs over n counters. */
static int
rng_same(uint64_t k1, uint64_t s1, uint64_t k2, uint64_t s2, int n)
{
	int same = 0;

	for (int i = 0; i < n; i++)
		same += pcg_rng_at(k1, s1, (uint64_t)i) ==
			pcg_rng_at(k2, s2, (uint64_t)i);
	return same;
}

Test(rng, keys_and_streams_differ)
{
	cr_assert(rng_same(5, 0, 5, 0, 1000) == 1000,
		  "expected one key and stream to give the same draws");
	cr_assert(rng_same(5, 0, 5, 1, 1000) == 0,
		  "expected streams 0 and 1 to share no draw");
	cr_assert(rng_same(5, 0, 6, 0, 1000) == 0,
		  "expected keys 5 and 6 to share no draw");
	cr_assert(rng_same(0, 1, 1, 0, 1000) == 0,
		  "expected (key 0, stream 1) and (key 1, stream 0) to differ");
	/* neighbouring counters of one stream are not a shifted copy of
	 * another stream's */
	int shifted = 0;
	for (uint64_t i = 0; i < 1000; i++)
		shifted += pcg_rng_at(5, 0, i + 1) == pcg_rng_at(5, 1, i);
	cr_assert(shifted == 0, "expected stream 1 not to be stream 0 shifted");
}

/* ------------------------------------------------------------- dropout */

Test(dropout, mask_values_and_fraction)
{
	enum { N = 100000 };
	static const double ps[] = {0, 0.1, 0.25, 0.5, 0.9};
	double *m = dvec(N);
	float *mf = xcalloc(N, sizeof *mf);

	for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
		double p = ps[k], kd = 1 / (1 - p);
		float kf = 1.0f / (float)(1.0 - p);
		long kept = 0;

		pcg_dropout_mask_d(11, 2, N, p, m);
		pcg_dropout_mask_f(11, 2, N, p, mf);
		for (size_t i = 0; i < N; i++) {
			int keep = pcg_rng_at(11, 2, i) >= p;

			cr_assert(m[i] == (keep ? kd : 0) && !signbit(m[i]),
				  "expected mask[%zu] (p = %g) to be %s, got %.17g",
				  i, p, keep ? "1 / (1 - p)" : "+0", m[i]);
			cr_assert(mf[i] == (keep ? kf : 0.0f) && !signbit(mf[i]),
				  "expected the float mask[%zu] (p = %g) to be "
				  "%s", i, p,
				  keep ? "1.0f / (float)(1 - p)" : "+0");
			kept += keep;
		}
		cr_assert(fabs((double)kept / N - (1 - p)) < 0.01,
			  "expected about %.2f of the mask kept at p = %g, got %.4f",
			  1 - p, p, (double)kept / N);
		if (p == 0)
			for (size_t i = 0; i < N; i++)
				cr_assert(m[i] == 1 && mf[i] == 1,
					  "expected p = 0 to keep everything with "
					  "mask 1");
	}
	free(m);
	free(mf);
}

/*
 * The kept value against PyTorch 1.13's (F.dropout(torch.ones(.), p),
 * its nonzero value, printed with repr): float32 and float64.
 */
Test(dropout, kept_value_is_torchs)
{
	static const struct {
		double p, f32, f64;
	} torch_k[] = {
		{0.1, 1.1111111640930176, 1.1111111111111112},
		{0.3, 1.4285714626312256, 1.4285714285714286},
		{0.7, 3.3333332538604736, 3.333333333333333},
		{0.9, 10.0, 10.000000000000002},
		{0.123456789, 1.1408450603485107, 1.1408450689603253},
	};
	double m[64];
	float mf[64];

	for (size_t k = 0; k < sizeof torch_k / sizeof torch_k[0]; k++) {
		double kd = 0, p = torch_k[k].p;
		float kf = 0;

		pcg_dropout_mask_d(3, 0, 64, p, m);
		pcg_dropout_mask_f(3, 0, 64, p, mf);
		for (int i = 0; i < 64; i++) {
			kd = fmax(kd, m[i]);
			kf = fmaxf(kf, mf[i]);
		}
		cr_assert(kd == torch_k[k].f64, "expected the double mask's kept "
						"value at p = %.17g to be torch's "
						"%.17g, got %.17g",
			  p, torch_k[k].f64, kd);
		cr_assert((double)kf == torch_k[k].f32,
			  "expected the float mask's kept value at p = %.17g to be "
			  "torch's %.17g, got %.17g", p, torch_k[k].f32,
			  (double)kf);
	}
	/* negative control: p rounded to float first (0.9f) keeps 9.999998f,
	 * which the comparison tells from torch's 10.0f */
	pcg_dropout_mask_f(3, 0, 64, (float)0.9, mf);
	float kf = 0;
	for (int i = 0; i < 64; i++)
		kf = fmaxf(kf, mf[i]);
	cr_assert(kf > 0 && (double)kf != torch_k[3].f32,
		  "expected p = 0.9f to keep another value than torch's p = 0.9, "
		  "got %.17g", (double)kf);
}

Test(dropout, mul_mask_and_vjp)
{
	enum { N = 200 };
	uint64_t s = 3006;
	double *x = rvec(N, &s), *g = rvec(N, &s), *d0 = rvec(N, &s);
	double *m = dvec(N), *y = dvec(N), *want = dvec(N), *dx = dvec(N);

	pcg_dropout_mask_d(9, 4, N, 0.5, m);
	pcg_mul_mask_d(N, y, x, m);
	for (int i = 0; i < N; i++)
		want[i] = x[i] * m[i];
	expect_same(y, want, N, "pcg_mul_mask: y = x mask");
	for (int i = 0; i < N; i++)
		dx[i] = NAN;
	pcg_mul_mask_vjp_d(N, 0, dx, g, m);
	for (int i = 0; i < N; i++)
		want[i] = g[i] * m[i];
	expect_same(dx, want, N, "pcg_mul_mask_vjp (acc = 0): dx = dy mask");
	memcpy(dx, d0, N * sizeof *dx);
	pcg_mul_mask_vjp_d(N, 1, dx, g, m);
	for (int i = 0; i < N; i++)
		want[i] = d0[i] + g[i] * m[i];
	expect_same(dx, want, N, "pcg_mul_mask_vjp (acc = 1): dx = dx + dy "
				 "mask");

	float xf[N], mf[N], yf[N], gf[N], dxf[N];
	for (int i = 0; i < N; i++) {
		xf[i] = (float)x[i];
		gf[i] = (float)g[i];
		dxf[i] = (float)d0[i];
	}
	pcg_dropout_mask_f(9, 4, N, 0.5, mf);
	pcg_mul_mask_f(N, yf, xf, mf);
	pcg_mul_mask_vjp_f(N, 1, dxf, gf, mf);
	for (int i = 0; i < N; i++) {
		cr_assert(mf[i] == (float)m[i], "expected the float and double "
						"masks to agree at p = 0.5");
		cr_assert(yf[i] == xf[i] * mf[i] &&
				  dxf[i] == (float)d0[i] + gf[i] * mf[i],
			  "expected float pcg_mul_mask and its VJP to be x mask "
			  "and dx + dy mask, [%d] differs", i);
	}
	free(x);
	free(g);
	free(d0);
	free(m);
	free(y);
	free(want);
	free(dx);
}

/* ------------------------------------ finite differences: negative controls */

/* softmax's VJP, then one element 1e-6 (relative) off. */
static void
vjp_softmax_off(const fd_prob *p, int fl, int wrt, int acc, double *dx,
		const double *dy, const double *y)
{
	double big = 0;

	vjp_softmax(p, fl, wrt, acc, dx, dy, y);
	for (size_t k = 0; k < p->len[0]; k++)
		big = fmax(big, fabs(dx[k]));
	dx[3] += 1e-6 * big;
}

Test(fd, rejects_a_slightly_wrong_vjp)
{
	uint64_t s = 1201, s2 = 5;
	fd_prob p = softmax_prob(0, 3, 5, 4, &s);
	double *y = dvec(p.ylen), *dy = rvec(p.ylen, &s2), *dx = dvec(p.len[0]);

	fd_forward(&p, 0, y);
	p.vjp(&p, 0, 0, 0, dx, dy, y);
	fd_result r = fd_compare(&p, 0, dy, dx);
	cr_assert(r.err <= FD_TOL, "expected the right VJP to pass, got %.3g",
		  r.err);
	cr_assert(r.err < 1e-9, "expected the differences to be far more "
				"accurate than the tolerance, got %.3g", r.err);

	p.vjp = vjp_softmax_off;
	p.vjp(&p, 0, 0, 0, dx, dy, y);
	r = fd_compare(&p, 0, dy, dx);
	cr_assert(r.err > FD_TOL && r.at == 3,
		  "expected the check to reject a VJP 1e-6 off at [3], got error "
		  "%.3g at [%zu]", r.err, r.at);
	free(p.in[0]);
	free(y);
	free(dy);
	free(dx);
}

/* mse's VJP into t given the sign of the VJP into o. */
static void
vjp_mse_wrong_sign(const fd_prob *p, int fl, int wrt, int acc, double *dx,
		   const double *dy, const double *y)
{
	(void)wrt;
	vjp_loss(p, fl, 0, acc, dx, dy, y);
}

Test(fd, rejects_a_wrong_sign)
{
	loss_case L = loss_make(L_MSE, 0);
	uint64_t s = 1202, s2 = 6;
	fd_prob p = {0};

	p.loss = &L;
	p.len[0] = p.len[1] = loss_len(&L, L.os);
	p.ylen = 3;
	p.in[0] = dvec(p.len[0]);
	p.in[1] = dvec(p.len[1]);
	loss_inputs(&L, p.in[0], p.in[1], &s);
	p.fwd = fwd_loss;
	p.vjp = vjp_mse_wrong_sign;

	double *y = dvec(3), *dy = rvec(3, &s2), *dx = dvec(p.len[1]);
	fd_forward(&p, 0, y);
	p.vjp(&p, 0, 1, 0, dx, dy, y);
	fd_result r = fd_compare(&p, 1, dy, dx);
	cr_assert(r.err > 1, "expected the check to reject the VJP into t "
			     "with the wrong sign, got error %.3g", r.err);
	free(p.in[0]);
	free(p.in[1]);
	free(y);
	free(dy);
	free(dx);
}
