/*
 * check_conv.c — the runtime's convolutions (pcg_conv, pcg_conv_dk,
 * pcg_conv_dx, float and double) give, for every pool (none, 1, 2, 3 and
 * 8 threads), the bits of their definition in pcg_runtime.h: per sample
 * and group, im2col + one pcg_sgemm / pcg_dgemm with the header's shapes,
 * dK summed over the batch in order in blocks of PCG_CONV_DK_BLOCK
 * samples, dx through col2im.  The reference
 * below is that definition written out, whatever the runtime does to be
 * faster (transposed products, blocks of columns), and a direct
 * convolution in long double checks that the reference is a convolution
 * (to rounding).  Shapes: the examples' (cnn, resnet), groups, depthwise,
 * stride, padding, dilation, a 1-D convolution, many output channels,
 * acc 0 and 1, x shared by every sample (x_step 0), and batches of more
 * than one block.  Negative controls: dK summed over the batch in
 * reverse order (3 samples or more: a sum of two commutes), and past one
 * block in one chain, are seen to differ from the runtime's bits.
 * Under -Dcblas=true, see CBLAS_ORDER.  Prints TAP.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcg_runtime.h"
#include "../tap_ok.h"
#include "../test_rng.h"
#include "pools.h"


/*
 * Under -Dcblas=true the BLAS's summation order may change with a
 * product's shape (docs/performance.md), and the runtime's products are
 * not the header's: there the runtime agrees with the header to rounding,
 * and every pool gives the bits of no pool (and the convolutions are not
 * cut: pools_finish's products).
 */
#ifdef PCG_GEMM_CBLAS
#define CBLAS_ORDER 1
#else
#define CBLAS_ORDER 0
#endif

typedef struct {
	const char *name;
	pcg_conv_geo g;
	int batch;
} Case;

/* c h w kh kw sh sw ph pw dh dw oh ow o groups (oh, ow filled in) */
static Case cases[] = {
	{"cnn conv1", {1, 28, 28, 5, 5, 1, 1, 0, 0, 1, 1, 0, 0, 8, 1}, 5},
	{"cnn conv2", {8, 12, 12, 5, 5, 1, 1, 0, 0, 1, 1, 0, 0, 16, 1}, 3},
	{"resnet 3x3 p1", {8, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 8, 1}, 3},
	{"resnet 3x3 s2 p1", {8, 16, 16, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 16, 1},
	 4},
	{"resnet 1x1 s2", {8, 16, 16, 1, 1, 2, 2, 0, 0, 1, 1, 0, 0, 16, 1}, 3},
	{"resnet 16x8x8", {16, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 16, 1}, 3},
	{"groups 4", {8, 9, 7, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 8, 4}, 3},
	{"depthwise s2", {6, 10, 10, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 6, 6}, 3},
	{"dilation", {3, 11, 13, 3, 2, 1, 2, 2, 1, 2, 1, 0, 0, 5, 1}, 3},
	{"conv1d", {4, 1, 50, 1, 5, 1, 1, 0, 2, 1, 1, 0, 0, 12, 1}, 3},
	{"40 channels", {4, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 40, 1}, 3},
	{"70 channels, 2 groups", {6, 5, 9, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 70, 2},
	 3},
	{"long rows", {2, 3, 200, 1, 3, 1, 1, 0, 1, 1, 1, 0, 0, 6, 1}, 3},
	{"16 channels, 400 positions", {4, 20, 20, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0,
					16, 1}, 3},
	{"2 groups of 16", {8, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 32, 2}, 3},
	/* more samples than PCG_CONV_DK_BLOCK: dK in blocks, dealt out by
	 * blocks (the direct dK, and im2col with the GEMM) or, where a
	 * block's sum is larger than its data, cut by columns */
	{"cnn conv2, 19 samples", {8, 12, 12, 5, 5, 1, 1, 0, 0, 1, 1, 0, 0, 16, 1},
	 19},
	{"resnet 1x1 s2, 17 samples", {8, 16, 16, 1, 1, 2, 2, 0, 0, 1, 1, 0, 0,
				       16, 1}, 17},
	{"groups 4, 26 samples", {8, 9, 7, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 8, 4},
	 26},
	{"wide dK, 2 groups, 12 samples", {64, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0,
					   32, 2},
	 12},
};

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static double
drand(void)
{
	return test_urand(&rng);
}

/*
 * The reference, the header's definition for one type: per sample b and
 * group, col = im2col(x_b) and one GEMM; dK in blocks of blk samples
 * (PCG_CONV_DK_BLOCK), each after the first summed into tmp and then
 * added.  rev sums dK over the batch in reverse order, and blk = batch
 * in one chain (the negative controls).
 */
#define REFERENCE(T, REAL, GEMM)                                              \
	static void ref_##T(int pass, const pcg_conv_geo *g, int batch,       \
			    int acc, int rev, int blk, const REAL *x,         \
			    ptrdiff_t xs, const REAL *k, const REAL *dy,      \
			    ptrdiff_t ys, REAL *out, REAL *col, REAL *tmp)    \
	{                                                                     \
		int P = g->oh * g->ow, CKg = g->c / g->groups * g->kh * g->kw; \
		int Og = g->o / g->groups;                                    \
		for (int i = 0; i < batch; i++) {                             \
			int b = rev ? batch - 1 - i : i;                      \
			/* dK: the first block onto out, the others in tmp */ \
			REAL *dk = i < blk ? out : tmp;                       \
			int beta = i < blk ? acc || i : i % blk != 0;         \
			if (pass < 2)                                         \
				pcg_im2col_ex_##T(g->c, g->h, g->w, g->kh,    \
						  g->kw, g->sh, g->sw, g->ph, \
						  g->pw, g->dh, g->dw, g->oh, \
						  g->ow, x + b * xs, col);    \
			for (int gi = 0; gi < g->groups; gi++) {              \
				const REAL *kg = k ? k + (ptrdiff_t)gi * Og * CKg \
						   : NULL;                    \
				REAL *cg = col + (ptrdiff_t)gi * CKg * P;     \
				if (pass == 0)                                \
					GEMM(0, 0, Og, P, CKg, 1, kg, CKg,    \
					     cg, P, 0,                        \
					     out + b * ys +                   \
						     (ptrdiff_t)gi * Og * P,  \
					     P);                              \
				else if (pass == 1)                           \
					GEMM(0, 1, Og, CKg, P, 1,             \
					     dy + b * ys +                    \
						     (ptrdiff_t)gi * Og * P,  \
					     P, cg, P, beta ? 1 : 0,          \
					     dk + (ptrdiff_t)gi * Og * CKg,   \
					     CKg);                            \
				else                                          \
					GEMM(1, 0, CKg, P, Og, 1, kg, CKg,    \
					     dy + b * ys +                    \
						     (ptrdiff_t)gi * Og * P,  \
					     P, 0, cg, P);                    \
			}                                                     \
			if (pass == 1 && i >= blk &&                          \
			    (i % blk == blk - 1 || i == batch - 1))           \
				for (int e = 0; e < g->o * CKg; e++)          \
					out[e] = tmp[e] + out[e];             \
			if (pass == 2)                                        \
				pcg_col2im_ex_##T(g->c, g->h, g->w, g->kh,    \
						  g->kw, g->sh, g->sw, g->ph, \
						  g->pw, g->dh, g->dw, g->oh, \
						  g->ow, acc, col,            \
						  out + b * xs);              \
		}                                                             \
	}

REFERENCE(f, float, pcg_sgemm)
REFERENCE(d, double, pcg_dgemm)

/* The direct forward convolution in long double, element (b, o, p). */
static long double
direct(const pcg_conv_geo *g, const double *x, const double *k, int b,
       int o, int p)
{
	int cg = g->c / g->groups, og = g->o / g->groups, gi = o / og;
	int i = p / g->ow, j = p % g->ow;
	long double s = 0;
	for (int ch = 0; ch < cg; ch++)
		for (int a = 0; a < g->kh; a++)
			for (int e = 0; e < g->kw; e++) {
				int yy = i * g->sh + a * g->dh - g->ph;
				int xx = j * g->sw + e * g->dw - g->pw;
				if (yy < 0 || yy >= g->h || xx < 0 || xx >= g->w)
					continue;
				s += (long double)k[((o * cg + ch) * g->kh + a) *
							    g->kw + e] *
				     x[(((ptrdiff_t)b * g->c + gi * cg + ch) *
					g->h + yy) * g->w + xx];
			}
	return s;
}

/*
 * One case in one type: the runtime with each pool against the reference,
 * bit for bit, for the three passes (acc 0 and 1 for dK and dx, and x
 * shared by the samples).
 */
/* The larger of e and |a - b|. */
static double
worse(double e, double a, double b)
{
	return fabs(a - b) > e ? fabs(a - b) : e;
}

#define CHECK(T, REAL)                                                        \
	static void check_##T(const Case *cs, pcg_pool **pools, int npools,   \
			      const int *threads)                             \
	{                                                                     \
		const pcg_conv_geo *g = &cs->g;                               \
		int nb = cs->batch, P = g->oh * g->ow;                        \
		size_t X = (size_t)g->c * g->h * g->w, Y = (size_t)g->o * P;  \
		size_t KN = (size_t)g->o * (g->c / g->groups) * g->kh * g->kw; \
		size_t COL = PCG_CONV_SCRATCH_REALS(g);                       \
		REAL *x = malloc(sizeof(REAL) * X * nb);                      \
		REAL *k = malloc(sizeof(REAL) * KN);                          \
		REAL *dy = malloc(sizeof(REAL) * Y * nb);                     \
		REAL *want = malloc(sizeof(REAL) * (X + Y + KN) * nb);        \
		REAL *got = malloc(sizeof(REAL) * (X + Y + KN) * nb);         \
		REAL *init = malloc(sizeof(REAL) * (X + Y + KN) * nb);        \
		REAL *col = malloc(sizeof(REAL) * COL);                       \
		REAL *tmp = malloc(sizeof(REAL) * KN);                        \
		for (size_t i = 0; i < X * nb; i++)                           \
			x[i] = (REAL)drand();                                 \
		for (size_t i = 0; i < KN; i++)                               \
			k[i] = (REAL)drand();                                 \
		for (size_t i = 0; i < Y * nb; i++)                           \
			dy[i] = (REAL)drand();                                \
		for (size_t i = 0; i < (X + Y + KN) * nb; i++)                \
			init[i] = (REAL)drand();                              \
		/* pass, acc, x_step 0 */                                     \
		static const int runs[][3] = {{0, 0, 0}, {1, 0, 0}, {1, 1, 0}, \
					      {1, 0, 1}, {2, 0, 0}, {2, 1, 0}, \
					      {2, 1, 1}};                     \
		static const char *names[] = {"y", "dK", "dK acc", "dK x shared", \
					      "dx", "dx acc", "dx one x"};    \
		for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {   \
			int pass = runs[r][0], acc = runs[r][1];              \
			ptrdiff_t xs = runs[r][2] ? 0 : (ptrdiff_t)X;         \
			size_t n = pass == 0 ? Y * nb                         \
				   : pass == 1 ? KN                           \
				   : runs[r][2] ? X : X * nb;                 \
			memcpy(want, init, sizeof(REAL) * n);                 \
			ref_##T(pass, g, nb, acc, 0, PCG_CONV_DK_BLOCK, x, xs, \
				k, dy, (ptrdiff_t)Y, want, col, tmp);         \
			int same = 1, bad = -1;                               \
			char what[160], detail[80];                           \
			for (int p = 0; p <= npools; p++) {                   \
				pcg_pool *pool = p ? pools[p - 1] : NULL;     \
				POOLED(pool,                                  \
				memcpy(got, init, sizeof(REAL) * n);          \
				memset(col, 0xff, sizeof(REAL) * COL);        \
				if (pass == 0)                                \
					pcg_conv_##T(pool, g, nb, x, xs, k,   \
						     got, (ptrdiff_t)Y, col); \
				else if (pass == 1)                           \
					pcg_conv_dk_##T(pool, g, nb, acc, x,  \
							xs, dy, (ptrdiff_t)Y, \
							got, col);            \
				else                                          \
					pcg_conv_dx_##T(pool, g, nb, acc, k,  \
							dy, (ptrdiff_t)Y,     \
							got, xs, col);        \
				if (CBLAS_ORDER && p == 0) {                  \
					/* the no pool run's bits are the     \
					 * ones to keep; the header's to      \
					 * rounding */                        \
					double e = 0;                         \
					for (size_t i = 0; i < n; i++)        \
						e = worse(e, got[i], want[i]); \
					snprintf(what, sizeof what, "%s %s %s: " \
						 "the header's to rounding",  \
						 #REAL, cs->name, names[r]);  \
					snprintf(detail, sizeof detail,       \
						 "max diff %g", e);           \
					ok(e < (sizeof(REAL) == 4 ? 1e-4      \
						: 1e-12), what, detail);      \
					memcpy(want, got, sizeof(REAL) * n);  \
				}                                             \
				if (memcmp(got, want, sizeof(REAL) * n)) {    \
					same = 0;                             \
					if (bad < 0)                          \
						bad = p ? threads[p - 1] : 0; \
				});                                           \
			}                                                     \
			snprintf(what, sizeof what, "%s %s %s: %s bits, no " \
				 "pool and 1, 2, 3, 8 threads", #REAL,        \
				 cs->name, names[r], CBLAS_ORDER ? "the same" \
				 : "the header's");                           \
			snprintf(detail, sizeof detail, "first differs with " \
				 "%d threads (0: no pool)", bad);             \
			ok(same, what, detail);                               \
			if (pass == 1 && !acc && !runs[r][2] && nb > 2) {     \
				/* negative control: the batch reversed */    \
				REAL *rev = malloc(sizeof(REAL) * KN);        \
				ref_##T(1, g, nb, 0, 1, PCG_CONV_DK_BLOCK, x, \
					xs, k, dy, (ptrdiff_t)Y, rev, col,    \
					tmp);                                 \
				snprintf(what, sizeof what, "%s %s: dK "      \
					 "summed in reverse order differs",   \
					 #REAL, cs->name);                    \
				ok(memcmp(rev, want, sizeof(REAL) * KN) != 0, \
				   what, NULL);                               \
				if (PCG_CONV_DK_BLOCK > 1 &&                  \
				    nb >= PCG_CONV_DK_BLOCK + 2) {            \
					/* and in one chain, no blocks (where \
					 * a later block sums two samples) */ \
					ref_##T(1, g, nb, 0, 0, nb, x, xs, k, \
						dy, (ptrdiff_t)Y, rev, col,   \
						tmp);                         \
					snprintf(what, sizeof what,           \
						 "%s %s: dK summed in one "   \
						 "chain differs", #REAL,      \
						 cs->name);                   \
					ok(memcmp(rev, want,                  \
						  sizeof(REAL) * KN) != 0,    \
					   what, NULL);                       \
				}                                             \
				free(rev);                                    \
			}                                                     \
			if (pass == 0) { /* the reference is a convolution */ \
				double *xd = malloc(sizeof *xd * X * nb);     \
				double *kd = malloc(sizeof *kd * KN);         \
				for (size_t i = 0; i < X * nb; i++)           \
					xd[i] = x[i];                         \
				for (size_t i = 0; i < KN; i++)               \
					kd[i] = k[i];                         \
				double err = 0;                               \
				for (int b = 0; b < nb; b++)                  \
					for (int o = 0; o < g->o; o++)        \
						for (int p = 0; p < P; p++) { \
							long double d = direct( \
								g, xd, kd, b, \
								o, p);        \
							err = worse(err, want[((size_t)b * g->o + o) * P + p], (double)d); \
						}                             \
				snprintf(what, sizeof what, "%s %s y: the "   \
					 "direct convolution's to rounding",  \
					 #REAL, cs->name);                    \
				snprintf(detail, sizeof detail, "max diff %g", \
					 err);                                \
				ok(err < (sizeof(REAL) == 4 ? 1e-4 : 1e-12),  \
				   what, detail);                             \
				free(xd);                                     \
				free(kd);                                     \
			}                                                     \
		}                                                             \
		free(x);                                                      \
		free(k);                                                      \
		free(dy);                                                     \
		free(want);                                                   \
		free(got);                                                    \
		free(init);                                                   \
		free(col);                                                    \
		free(tmp);                                                    \
	}

CHECK(f, float)
CHECK(d, double)

int
main(void)
{
	pcg_pool *pools[NPOOLS];
	int npools = pools_create(pools);
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		pcg_conv_geo *g = &cases[c].g;
		g->oh = (g->h + 2 * g->ph - g->dh * (g->kh - 1) - 1) / g->sh + 1;
		g->ow = (g->w + 2 * g->pw - g->dw * (g->kw - 1) - 1) / g->sw + 1;
		check_f(&cases[c], pools, npools, pool_threads);
		check_d(&cases[c], pools, npools, pool_threads);
	}
	pools_finish(pools, npools, 1);
	printf("1..%d\n", count);
	return failed != 0;
}
