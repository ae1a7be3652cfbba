/*
 * test_dconv.c — the direct convolutions (pcg_dconv_tmpl.h) of every copy
 * of the GEMM (generic, AVX2, AVX-512), float and double, against the
 * runtime's definition of a convolution computed naively: im2col columns
 * built element by element from their definition, the same copy's GEMM
 * on them, and col2im adding each column back in order of (channel, a,
 * b, output position).  The direct passes must give the same bits:
 *   forward  y = K col
 *   dx       col = K^T dy, dx (+)= col2im(col)
 *   dK       dK (+)= dy col^T, sample after sample
 * on geometries that reach every tile edge, strides of rows and of
 * columns (dx: unit-stride rows only), dilations, padding wider than the
 * kernel, groups, and sums of more than one chunk of
 * GEMM_KC (over the kernel rows, the output channels or the positions).
 * Controls: col2im adding the kernel columns b in reverse order, and a
 * kernel changed in one element by one ulp, give other bits.
 *
 * The file includes pcg_gemm.c itself to reach every copy; copies the
 * processor lacks are skipped.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pcg_gemm.c"
#include "../tests/test_rng.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static double
urand(void)
{
	return test_urand(&rng);
}

/* c h w o kh kw sh ph pw dh dw groups sw */
static const int geos[][13] = {
	{8, 16, 16, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1},    /* resnet */
	{3, 16, 16, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1},    /* resnet stem */
	{16, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1},    /* resnet, 2nd stage */
	{1, 28, 28, 8, 5, 5, 1, 0, 0, 1, 1, 1, 1},    /* cnn */
	{8, 12, 12, 16, 5, 5, 1, 0, 0, 1, 1, 1, 1},   /* cnn */
	{8, 16, 16, 16, 3, 3, 2, 1, 1, 1, 1, 1, 2},   /* resnet, stride 2 */
	{8, 16, 16, 16, 1, 1, 2, 0, 0, 1, 1, 1, 2},   /* its projection */
	{8, 16, 16, 16, 3, 3, 2, 1, 1, 1, 1, 1, 1},   /* row stride 2 only */
	{5, 13, 29, 8, 3, 4, 1, 1, 2, 1, 2, 1, 3},    /* column stride 3 */
	{4, 9, 37, 12, 3, 2, 1, 2, 3, 2, 3, 1, 1},    /* dilated, wide pad */
	{6, 7, 5, 6, 1, 1, 1, 0, 0, 1, 1, 3, 1},      /* 1x1, groups */
	{6, 10, 11, 4, 3, 3, 3, 1, 0, 1, 1, 2, 1},    /* groups, stride 3 */
	{16, 5, 3, 20, 3, 3, 1, 2, 2, 1, 1, 1, 1},    /* tiny rows */
	{2, 6, 40, 140, 2, 3, 1, 0, 1, 1, 1, 1, 1},   /* 140 outputs: 2 chunks */
	{20, 6, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1},     /* ck 180: 2 chunks */
	{4, 20, 24, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1},    /* P 480: 4 chunks */
	{32, 4, 4, 32, 1, 1, 1, 0, 0, 1, 1, 32, 1},   /* depthwise */
	{32, 8, 8, 32, 3, 3, 2, 1, 1, 1, 1, 32, 2},   /* depthwise, stride 2 */
	{12, 9, 17, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1},   /* 17 wide */
	{8, 8, 8, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1},     /* rows of 8: 8 + 4 out */
	{5, 10, 8, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1},    /* ck 45, 8 + 8 + 4 out */
	{20, 5, 11, 4, 1, 2, 1, 0, 0, 1, 7, 1, 1},    /* columns 4-6 of dx: none */
};

typedef struct geo_case {
	pcg_conv_geo g;
	int ck, og, cg, p, batch;
	size_t nx, ny, nk, ncol;
} geo_case;

static geo_case
make(const int *v, int batch)
{
	geo_case t;
	pcg_conv_geo *g = &t.g;

	g->c = v[0], g->h = v[1], g->w = v[2], g->o = v[3];
	g->kh = v[4], g->kw = v[5], g->sh = v[6], g->sw = v[12];
	g->ph = v[7], g->pw = v[8], g->dh = v[9], g->dw = v[10];
	g->groups = v[11];
	g->oh = (g->h + 2 * g->ph - g->dh * (g->kh - 1) - 1) / g->sh + 1;
	g->ow = (g->w + 2 * g->pw - g->dw * (g->kw - 1) - 1) / g->sw + 1;
	t.cg = g->c / g->groups;
	t.og = g->o / g->groups;
	t.ck = t.cg * g->kh * g->kw;
	t.p = g->oh * g->ow;
	t.batch = batch;
	t.nx = (size_t)g->c * g->h * g->w;
	t.ny = (size_t)g->o * t.p;
	t.nk = (size_t)g->o * t.ck;
	t.ncol = (size_t)g->c * g->kh * g->kw * t.p;
	return t;
}

/* The copies, by the test's loop index: 0 generic, 1 AVX2, 2 AVX-512. */
static int
have_copy(int copy)
{
#ifdef GEMM_DISPATCH_AVX512
	if (copy == 2)
		return AVX512_OK();
#endif
#ifdef GEMM_DISPATCH_AVX2
	if (copy == 1)
		return AVX2_OK();
#endif
	return copy == 0;
}

/*
 * The element of the input that im2col's column element (row (c, a, b),
 * output position (i, j)) copies, from the definition: its index in x, or
 * -1 where it falls in the padding (the column holds 0 there).
 */
static ptrdiff_t
input_at(const pcg_conv_geo *g, int c, int a, int b, int i, int j)
{
	int yy = i * g->sh + a * g->dh - g->ph;
	int xx = j * g->sw + b * g->dw - g->pw;

	if (yy < 0 || yy >= g->h || xx < 0 || xx >= g->w)
		return -1;
	return ((ptrdiff_t)c * g->h + yy) * g->w + xx;
}

/*
 * The per-type body: the naive reference and the comparison.  rev
 * reverses the order of b in col2im (the control).
 */
#define DCONV_TEST(T, REAL, S)                                                \
	static void im2col_##T(const geo_case *t, const REAL *x, REAL *col)  \
	{                                                                     \
		const pcg_conv_geo *g = &t->g;                                \
		REAL *e = col;                                                \
		for (int c = 0; c < g->c; c++)                                \
			for (int a = 0; a < g->kh; a++)                       \
				for (int b = 0; b < g->kw; b++)               \
					for (int i = 0; i < g->oh; i++)       \
						for (int j = 0; j < g->ow;    \
						     j++) {                   \
							ptrdiff_t at =        \
								input_at(g, c, \
									 a, b, \
									 i, j); \
							*e++ = at < 0 ? 0     \
								      : x[at]; \
						}                             \
	}                                                                     \
                                                                              \
	static void col2im_##T(const geo_case *t, int acc, int rev,           \
			       const REAL *col, REAL *dx)                     \
	{                                                                     \
		const pcg_conv_geo *g = &t->g;                                \
		if (!acc)                                                     \
			for (size_t i = 0; i < t->nx; i++)                    \
				dx[i] = 0;                                    \
		for (int c = 0; c < g->c; c++)                                \
			for (int a = 0; a < g->kh; a++)                       \
				for (int bb = 0; bb < g->kw; bb++) {          \
					int b = rev ? g->kw - 1 - bb : bb;    \
					const REAL *e =                       \
						col + (((size_t)c * g->kh +   \
							a) * g->kw + b) *     \
							      t->p;           \
					for (int i = 0; i < g->oh; i++)       \
						for (int j = 0; j < g->ow;    \
						     j++, e++) {              \
							ptrdiff_t at =        \
								input_at(g, c, \
									 a, b, \
									 i, j); \
							if (at >= 0)          \
								dx[at] += *e; \
						}                             \
				}                                             \
	}                                                                     \
                                                                              \
	typedef void (*gemm_fn_##T)(int, int, int, int, int, REAL,            \
				    const REAL *, int, const REAL *, int,     \
				    REAL, REAL *, int);                       \
                                                                              \
	/* pass 0 forward, 1 dx, 2 dK; returns the elements that differ. */  \
	static size_t check_##T(int copy, const geo_case *t, int pass,        \
				int acc, int rev, int nudge, int kinf)        \
	{                                                                     \
		const pcg_conv_geo *g = &t->g;                                \
		int nb = t->batch, ck = t->ck, og = t->og, p = t->p;          \
		gemm_fn_##T gemm = gemm_##S;                                  \
		REAL *x = malloc(sizeof(REAL) * t->nx * nb);                  \
		REAL *dy = malloc(sizeof(REAL) * t->ny * nb);                 \
		REAL *k = malloc(sizeof(REAL) * t->nk);                       \
		REAL *col = malloc(sizeof(REAL) * t->ncol);                   \
		REAL *scr = malloc(sizeof(REAL) * t->ncol);                   \
		size_t nout = pass == 0 ? t->ny * nb : pass == 1 ? t->nx * nb \
								 : t->nk;      \
		REAL *want = malloc(sizeof(REAL) * nout);                     \
		REAL *got = malloc(sizeof(REAL) * nout);                      \
		REAL *init = malloc(sizeof(REAL) * nout);                     \
		size_t bad = 0;                                               \
		for (size_t i = 0; i < t->nx * nb; i++)                       \
			x[i] = (REAL)urand();                                 \
		for (size_t i = 0; i < t->ny * nb; i++)                       \
			dy[i] = (REAL)urand();                                \
		for (size_t i = 0; i < t->nk; i++)                            \
			k[i] = (REAL)urand();                                 \
		/* kinf: the first and last kernel elements infinite, so that \
		 * a column outside the image (dy padded with zeros) that was \
		 * added would make a NaN where col2im adds nothing */         \
		if (kinf)                                                     \
			k[0] = k[t->nk - 1] = (REAL)INFINITY;                 \
		/* what dx and dK are added into: a third -0, which a lane    \
		 * outside the image added as +0 would turn into +0 */        \
		for (size_t i = 0; i < nout; i++)                             \
			want[i] = got[i] = init[i] =                          \
				i % 3 ? (REAL)urand() : -(REAL)0;             \
		DCONV_COPY(copy, S);                                          \
		/* the reference, every sample */                             \
		for (int b = 0; b < nb; b++) {                                \
			if (pass != 1)                                        \
				im2col_##T(t, x + b * t->nx, col);            \
			for (int gi = 0; gi < g->groups; gi++) {              \
				const REAL *kg = k + (size_t)gi * og * ck;    \
				REAL *cg_ = col + (size_t)gi * ck * p;        \
				const REAL *dyg = dy + b * t->ny +            \
						  (size_t)gi * og * p;        \
				if (pass == 0)                                \
					gemm(0, 0, og, p, ck, 1, kg, ck, cg_, \
					     p, 0,                            \
					     want + b * t->ny +               \
						     (size_t)gi * og * p,     \
					     p);                              \
				else if (pass == 1)                           \
					gemm(1, 0, ck, p, og, 1, kg, ck, dyg, \
					     p, 0, cg_, p);                   \
				else                                          \
					gemm(0, 1, og, ck, p, 1, dyg, p, cg_, \
					     p, acc || b ? 1 : 0,             \
					     want + (size_t)gi * og * ck,     \
					     ck);                             \
			}                                                     \
			if (pass == 1)                                        \
				col2im_##T(t, acc, rev, col,                  \
					   want + b * t->nx);                 \
		}                                                             \
		if (nudge)                                                    \
			k[t->nk / 2] = nextafter##S##_(k[t->nk / 2]);         \
		/* a scratch of NaNs: the direct pass writes what it reads */ \
		for (size_t i = 0; i < t->ncol; i++)                          \
			scr[i] = (REAL)NAN;                                   \
		int took = dconv_takes(g, pass, 0, g->groups * ck, t->ncol);  \
		if (!took)                                                    \
			;                                                     \
		else if (pass == 0)                                           \
			took = (DCONV_CALL(dconv_fwd, S,                      \
					   (g, nb, x, (ptrdiff_t)t->nx, k,    \
					    got, (ptrdiff_t)t->ny, scr)),     \
				1);                                           \
		else if (pass == 1)                                           \
			took = DCONV_CALL(dconv_dx, S,                        \
					  (g, nb, acc, k, dy,                 \
					   (ptrdiff_t)t->ny, got,             \
					   (ptrdiff_t)t->nx, scr));           \
		else                                                          \
			took = (DCONV_CALL(dconv_dk, S,                       \
					   (g, nb, acc, x, (ptrdiff_t)t->nx,  \
					    dy, (ptrdiff_t)t->ny, got, 0,     \
					    g->groups * ck, scr)),            \
				1);                                           \
		if (took)                                                     \
			for (size_t i = 0; i < nout; i++)                     \
				bad += memcmp(&want[i], &got[i],              \
					      sizeof(REAL)) != 0;             \
		/* dK again in three blocks of columns, as the pool cuts it   \
		 * (not at channels nor tiles), each from a scratch of NaNs:  \
		 * a block reads nothing another left */                     \
		if (took && pass == 2) {                                      \
			int n = g->groups * ck, cut[4] = {0, n / 3,           \
							  n - n / 4, n};      \
			memcpy(got, init, sizeof(REAL) * nout);               \
			for (int blk = 0; blk < 3; blk++) {                   \
				if (cut[blk] >= cut[blk + 1])                 \
					continue;                             \
				for (size_t i = 0; i < t->ncol; i++)          \
					scr[i] = (REAL)NAN;                   \
				DCONV_CALL(dconv_dk, S,                       \
					   (g, nb, acc, x, (ptrdiff_t)t->nx,  \
					    dy, (ptrdiff_t)t->ny, got,        \
					    cut[blk], cut[blk + 1], scr));    \
			}                                                     \
			for (size_t i = 0; i < nout; i++)                     \
				bad += memcmp(&want[i], &got[i],              \
					      sizeof(REAL)) != 0;             \
		}                                                             \
		free(x);                                                      \
		free(dy);                                                     \
		free(k);                                                      \
		free(col);                                                    \
		free(scr);                                                    \
		free(want);                                                   \
		free(got);                                                    \
		free(init);                                                   \
		return took ? bad : (size_t)-1;                               \
	}

#define nextafters_(v) nextafterf(v, 2)
#define nextafterd_(v) nextafter(v, 2)

/* gemm and the direct passes of copy `copy` (set by DCONV_COPY) */
#if defined(GEMM_DISPATCH_AVX512)
#define DCONV_COPY(copy, S)                                                   \
	int sel_ = copy;                                                      \
	if (sel_ == 2)                                                        \
		gemm = gemm_##S##_avx512;                                     \
	else if (sel_ == 1)                                                   \
		gemm = gemm_##S##_avx2
#define DCONV_CALL(fn, S, args)                                               \
	(sel_ == 2 ? fn##_##S##_avx512 args                                   \
	 : sel_ == 1 ? fn##_##S##_avx2 args : fn##_##S args)
#else
#define DCONV_COPY(copy, S)                                                   \
	int sel_ = copy;                                                      \
	(void)sel_
#define DCONV_CALL(fn, S, args) fn##_##S args
#endif

DCONV_TEST(f, float, s)
DCONV_TEST(d, double, d)

static const char *pass_name[] = {"forward", "dx", "dK"};

static void
check_all(int dbl)
{
	int copies = 0, checked[3] = {0, 0, 0};

	for (int copy = 0; copy < 3; copy++) {
		if (!have_copy(copy))
			continue;
		copies++;
		for (size_t i = 0; i < sizeof geos / sizeof geos[0]; i++)
			for (int pass = 0; pass < 3; pass++)
				for (int m = 0; m < 4; m++) {
					int acc = m & 1, kinf = m >> 1;
					geo_case t = make(geos[i], 3);
					size_t bad =
						dbl ? check_d(copy, &t, pass,
							      acc, 0, 0, kinf)
						    : check_f(copy, &t, pass,
							      acc, 0, 0, kinf);

					if (bad == (size_t)-1)
						continue;
					checked[pass]++;
					cr_expect_eq(bad, 0,
						     "%s copy %d, %s, geometry "
						     "%zu, acc %d%s: %zu elements "
						     "differ from im2col + "
						     "GEMM",
						     dbl ? "double" : "float",
						     copy, pass_name[pass], i,
						     acc,
						     kinf ? ", infinite kernel "
							    "elements" : "",
						     bad);
				}
	}
	/* every pass was compared on most geometries, on every copy */
	for (int pass = 0; pass < 3; pass++)
		cr_expect_geq(checked[pass], copies * 2 * 8,
			      "%s compared on %d geometries only",
			      pass_name[pass], checked[pass] / 2);
	cr_log_info("%s: %d copies; forward, dx, dK compared %d, %d, %d times",
		    dbl ? "double" : "float", copies, checked[0], checked[1],
		    checked[2]);
	cr_assert_gt(copies, 0);
}

Test(dconv, float_bits) { check_all(0); }

Test(dconv, double_bits) { check_all(1); }

/* The resnet geometries take every pass directly on this processor's
 * copy (not a comparison that passes because nothing was computed). */
Test(dconv, taken)
{
	geo_case t = make(geos[0], 2);
	float *scr = calloc(t.ncol, sizeof *scr);
	float *x = calloc(t.nx * 2, sizeof *x), *y = calloc(t.ny * 2, sizeof *y);
	float *k = calloc(t.nk, sizeof *k);

	cr_expect(pcg_dconv_fwd_f(&t.g, 2, x, (ptrdiff_t)t.nx, k, y,
				  (ptrdiff_t)t.ny, scr, t.ncol));
	cr_expect(pcg_dconv_dx_f(&t.g, 2, 0, k, y, (ptrdiff_t)t.ny, x,
				 (ptrdiff_t)t.nx, scr, t.ncol));
	cr_expect(pcg_dconv_dk_f(&t.g, 2, 0, x, (ptrdiff_t)t.nx, y,
				 (ptrdiff_t)t.ny, k, 0, t.ck, scr, t.ncol));
	/* dx of strided rows, and a scratch too small, are not */
	t.g.sw = 2;
	t.g.ow = 8;
	cr_expect(pcg_dconv_fwd_f(&t.g, 2, x, (ptrdiff_t)t.nx, k, y,
				  (ptrdiff_t)t.ny, scr, t.ncol));
	cr_expect(!pcg_dconv_dx_f(&t.g, 2, 0, k, y, (ptrdiff_t)t.ny, x,
				 (ptrdiff_t)t.nx, scr, t.ncol));
	t.g.sw = 1;
	t.g.ow = 16;
	cr_expect(!pcg_dconv_dx_f(&t.g, 2, 0, k, y, (ptrdiff_t)t.ny, x,
				  (ptrdiff_t)t.nx, scr, 10));
	cr_expect(!pcg_dconv_fwd_f(&t.g, 2, x, (ptrdiff_t)t.nx, k, y,
				   (ptrdiff_t)t.ny, scr, 10));
	free(scr);
	free(x);
	free(y);
	free(k);
}

/* Controls: the comparison sees a change of order and of one ulp. */
Test(dconv, controls)
{
	size_t rev = 0, nudged = 0;

	for (size_t i = 0; i < sizeof geos / sizeof geos[0]; i++) {
		geo_case t = make(geos[i], 2);
		size_t b = check_f(0, &t, 1, 0, 1, 0, 0);

		rev += b == (size_t)-1 ? 0 : b;
		for (int pass = 0; pass < 3; pass++) {
			b = check_f(0, &t, pass, 0, 0, 1, 0);
			nudged += b == (size_t)-1 ? 0 : b;
		}
	}
	cr_expect_gt(rev, 0, "col2im in another order of b gave the same bits");
	cr_expect_gt(nudged, 0, "a kernel one ulp off gave the same bits");
}
