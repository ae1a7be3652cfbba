/*
 * check_gemm_upd.c — a product with its update fused in (pcg_sgemm_upd_mt,
 * pcg_dgemm_upd_mt and the serial pcg_sgemm_upd, pcg_dgemm_upd) gives,
 * in C and in w, the bits of the calls it replaces: the product with
 * beta = 0 (pcg_sgemm), then pcg_canon and pcg_sgd (PCG_UPD_BP), pcg_canon
 * alone (PCG_UPD_BP, w NULL), or pcg_zil_sgd (PCG_UPD_ZIL); with
 * PCG_UPD_SCRATCH, in w (C is then scratch).  Without w, SCRATCH is
 * ignored and PCG_UPD_ZIL is the plain product.  With no pool
 * and pools of 1, 2, 3 and 8 threads, on every path of the GEMM: batch 1
 * (one row, both layouts of B), K = 1 (a row at a time, each with its
 * update; also with A transposed and padded rows), K = 0, the direct
 * tiles, the blocked path with its edge strips and several chunks of k,
 * mlp b32's weight gradients; C's rows padded (ldc > n) in three cases,
 * the padding checked untouched.
 *
 * The data make every case of the update matter: a row of A and a column
 * of B of zeros (some -0), so that whole sums are 0, and alpha = -1 makes
 * them -0 before the +0; w holds -0, an infinity and a NaN; C starts as
 * NaN (beta = 0 must not read it).  Negative controls: the reference
 * without pcg_canon differs from the fused result in C (so the -0 case
 * is exercised; not with -Dcblas=true, whose products need not give
 * -0), and Z-IL's reference with pcg_sgd in place of pcg_zil_sgd differs
 * in w.  Prints TAP.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcg_runtime.h"
#include "../tap_ok.h"
#include "../test_rng.h"
#include "pools.h"

typedef struct {
	const char *name;
	int ta, tb, m, n, k, pad;
	double alpha;
} Case;

static const Case cases[] = {
	{"mlp b32 dW1 = dy^T x", 1, 0, 256, 784, 32, 0, 1},
	{"mlp b32 dW2 = dy^T h", 1, 0, 256, 256, 32, 0, 1},
	{"mlp b32 dW3 = dy^T h", 1, 0, 10, 256, 32, 0, 1},
	{"blocked, edge strips, two chunks of k", 0, 0, 43, 70, 200, 0, -1},
	{"blocked, both transposed, padded rows", 1, 1, 31, 50, 17, 3, -1},
	{"direct tiles", 0, 1, 9, 12, 5, 0, -1},
	{"direct, more rows than columns", 1, 0, 40, 3, 9, 2, 0.5},
	{"one row, B along its rows", 0, 0, 1, 70, 33, 0, -1},
	{"one row, B transposed", 0, 1, 1, 70, 33, 0, -1},
	{"K = 1", 0, 0, 20, 30, 1, 0, -1},
	{"K = 1, A transposed, padded rows", 1, 0, 12, 40, 1, 3, 1},
	{"K = 0", 0, 0, 6, 18, 0, 0, -1},
};

static uint64_t rng = 0x243f6a8885a308d3ULL;

static size_t
a_at(const Case *cs, int i, int p)
{
	return cs->ta ? (size_t)p * cs->m + i : (size_t)i * cs->k + p;
}

static size_t
b_at(const Case *cs, int p, int j)
{
	return cs->tb ? (size_t)j * cs->k + p : (size_t)p * cs->n + j;
}

/* The runtime's own product of a row of zeros times -1 is -0 before
 * its +0 (every sum starts from +0); a BLAS's need not be. */
#ifdef PCG_GEMM_CBLAS
#define GIVES_NEGATIVE_ZERO 0
#else
#define GIVES_NEGATIVE_ZERO 1
#endif

/* The last two without w: the update is then left out (the first gives
 * BP_NO_W's C, the second the plain product) and C is written. */
enum {
	BP, BP_NO_W, ZIL, BP_SCRATCH, ZIL_SCRATCH, BP_SCRATCH_NO_W, ZIL_NO_W,
	HOWS
};
static const char *const how_name[HOWS] = {
	"PCG_UPD_BP", "PCG_UPD_BP without w", "PCG_UPD_ZIL",
	"PCG_UPD_BP | PCG_UPD_SCRATCH", "PCG_UPD_ZIL | PCG_UPD_SCRATCH",
	"PCG_UPD_BP | PCG_UPD_SCRATCH without w", "PCG_UPD_ZIL without w"};
static const int how_flags[HOWS] = {
	PCG_UPD_BP, PCG_UPD_BP, PCG_UPD_ZIL, PCG_UPD_BP | PCG_UPD_SCRATCH,
	PCG_UPD_ZIL | PCG_UPD_SCRATCH, PCG_UPD_BP | PCG_UPD_SCRATCH,
	PCG_UPD_ZIL};

#define CHECK(T, REAL, GEMM, UPD, UPD_MT)                                     \
	/* C and w by the separate calls (how BP, BP_NO_W, ZIL, or ZIL_NO_W: \
	 * the product alone); canon 0 leaves out pcg_canon, sign -1 puts   \
	 * pcg_sgd for pcg_zil_sgd (the controls) */                         \
	static void reference_##T(const Case *cs, int how, const REAL *a,     \
				  const REAL *b, REAL lr, REAL *c, REAL *w,   \
				  int canon, int sign)                        \
	{                                                                     \
		int ld = cs->n + cs->pad;                                     \
		GEMM(cs->ta, cs->tb, cs->m, cs->n, cs->k, (REAL)cs->alpha, a, \
		     cs->ta ? cs->m : cs->k, b, cs->tb ? cs->k : cs->n, 0, c, \
		     ld);                                                     \
		for (int i = 0; i < cs->m; i++) {                             \
			REAL *ci = c + (size_t)i * ld, *wi = w + (size_t)i * ld; \
			if (how == ZIL && sign > 0)                           \
				pcg_zil_sgd_##T(cs->n, lr, wi, ci);           \
			else if (how == ZIL)                                  \
				pcg_sgd_##T(cs->n, lr, wi, ci);               \
			if (how != ZIL && how != ZIL_NO_W && canon)           \
				pcg_canon_##T(cs->n, ci);                     \
			if (how == BP)                                        \
				pcg_sgd_##T(cs->n, lr, wi, ci);               \
		}                                                             \
	}                                                                     \
                                                                              \
	static void check_##T(const Case *cs, pcg_pool **pools, int npools,   \
			      const int *threads)                             \
	{                                                                     \
		CASE_SIZES(cs);                                               \
		REAL *a = malloc(sizeof(REAL) * na);                          \
		REAL *b = malloc(sizeof(REAL) * nb);                          \
		REAL *w0 = malloc(sizeof(REAL) * nc);                         \
		REAL *cw = malloc(sizeof(REAL) * nc);                         \
		REAL *ww = malloc(sizeof(REAL) * nc);                         \
		REAL *cg = malloc(sizeof(REAL) * nc);                         \
		REAL *wg = malloc(sizeof(REAL) * nc);                         \
		char what[200], detail[160];                                  \
		REAL lr = (REAL)0.37;                                         \
		for (int i = 0; i < m; i++)                                   \
			for (int p = 0; p < k; p++)                           \
				a[a_at(cs, i, p)] =                           \
					m > 1 && i == m / 2                   \
						? (p & 1 ? (REAL)-0.0 : 0)    \
						   : (REAL)test_urand(&rng);  \
		for (int p = 0; p < k; p++)                                   \
			for (int j = 0; j < n; j++)                           \
				b[b_at(cs, p, j)] =                           \
					j == n / 3 ? (REAL)-0.0               \
						   : (REAL)test_urand(&rng);  \
		for (size_t i = 0; i < nc; i++)                               \
			w0[i] = i % 7 == 3 ? (REAL)-0.0                       \
						 : (REAL)test_urand(&rng);    \
		w0[nc / 2] = (REAL)INFINITY;                                  \
		w0[nc / 3] = (REAL)NAN;                                       \
		for (int how = 0; how < HOWS; how++) {                        \
			int h = how_flags[how];                               \
			int zil = (h & PCG_UPD_ZIL) != 0;                     \
			int no_w = how == BP_NO_W || how == ZIL_NO_W ||       \
				   how == BP_SCRATCH_NO_W;                    \
			int scratch = (h & PCG_UPD_SCRATCH) != 0 && !no_w;    \
			for (size_t i = 0; i < nc; i++)                       \
				cw[i] = (REAL)NAN;                            \
			memcpy(ww, w0, sizeof(REAL) * nc);                    \
			reference_##T(cs, how == ZIL_NO_W ? ZIL_NO_W          \
					  : no_w	  ? BP_NO_W           \
					  : zil		  ? ZIL               \
							  : BP,               \
				      a, b, lr, cw, ww, 1, 1);                \
			/* serial, then no pool, then each pool */            \
			for (int pi = -2; pi < npools; pi++) {                \
				pcg_pool *pool = pi < 0 ? NULL : pools[pi];   \
				size_t bad = 0;                               \
				POOLED(pool,                                  \
				       for (size_t i = 0; i < nc; i++)        \
					       cg[i] = (REAL)NAN;             \
				       memcpy(wg, w0, sizeof(REAL) * nc);     \
				       REAL *w = no_w ? NULL : wg;            \
				       if (pi == -2)                          \
					       UPD(cs->ta, cs->tb, m, n, k,   \
						   (REAL)cs->alpha, a, lda,   \
						   b, ldb, cg, ld, h, lr, w); \
				       else                                   \
					       UPD_MT(pool, cs->ta, cs->tb,   \
						      m, n, k,                \
						      (REAL)cs->alpha, a,     \
						      lda, b, ldb, cg, ld, h, \
						      lr, w);                 \
				       size_t d_ = DIFFER(wg, ww, nc) +       \
						   (scratch ? 0               \
						    : DIFFER(cg, cw, nc));    \
				       bad = d_ > bad ? d_ : bad);            \
				snprintf(what, sizeof what,                   \
					 "%s %s, %s, %s: the bits of the "    \
					 "separate calls in %s", #REAL,       \
					 cs->name, how_name[how],             \
					 pi == -2   ? "serial"                \
					 : pi == -1 ? "no pool"               \
						    : threads[pi] == 1        \
							      ? "1 thread"    \
						    : threads[pi] == 2        \
							      ? "2 threads"   \
						    : threads[pi] == 3        \
							      ? "3 threads"   \
							      : "8 threads",  \
					 scratch ? "w" : "C and w");          \
				snprintf(detail, sizeof detail,               \
					 "%zu of %zu elements differ (the "   \
					 "worst run)", bad, 2 * nc);          \
				ok(bad == 0, what, detail);                   \
			}                                                     \
			/* controls: the separate calls changed otherwise */  \
			if (k > 0 && (how == ZIL ||                           \
				      (how == BP && cs->alpha < 0 &&          \
				       GIVES_NEGATIVE_ZERO))) {               \
				for (size_t i = 0; i < nc; i++)               \
					cg[i] = (REAL)NAN;                    \
				memcpy(wg, w0, sizeof(REAL) * nc);            \
				reference_##T(cs, how, a, b, lr, cg, wg,      \
					      how == ZIL,                     \
					      how == ZIL ? -1 : 1);           \
				memcpy(ww, w0, sizeof(REAL) * nc);            \
				UPD(cs->ta, cs->tb, m, n, k, (REAL)cs->alpha, \
				    a, lda, b, ldb, cw, ld, h, lr, ww);       \
				size_t bad = how == ZIL                       \
						     ? DIFFER(wg, ww, nc)     \
						     : DIFFER(cg, cw, nc);    \
				snprintf(what, sizeof what,                   \
					 "%s %s, %s: control, %s differs in " \
					 "%zu elements", #REAL, cs->name,     \
					 how_name[how],                       \
					 how == ZIL ? "pcg_sgd for "          \
						      "pcg_zil_sgd"           \
						    : "no pcg_canon",         \
					 bad);                                \
				ok(bad > 0, what,                             \
				   "the comparison sees no difference");      \
			}                                                     \
		}                                                             \
		free(a);                                                      \
		free(b);                                                      \
		free(w0);                                                     \
		free(cw);                                                     \
		free(ww);                                                     \
		free(cg);                                                     \
		free(wg);                                                     \
	}

CHECK(f, float, pcg_sgemm, pcg_sgemm_upd, pcg_sgemm_upd_mt)
CHECK(d, double, pcg_dgemm, pcg_dgemm_upd, pcg_dgemm_upd_mt)

POOLS_PRODUCTS_MAIN(cases, check_f, check_d)
