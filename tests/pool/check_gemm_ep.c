/*
 * check_gemm_ep.c — a product with its epilogue (pcg_sgemm_ep_mt,
 * pcg_dgemm_ep_mt: an epilogue kernel, here the bias add and the
 * activation as pcc writes them, run by the thread that computed each
 * block of C on the block) gives, in C, in the sum and in the
 * activation, the bits of the calls it replaces: the product
 * (pcg_sgemm), then the bias added along C's rows, then the element-wise
 * kernel over the whole of it.  So every element of C goes through the
 * epilogue once, after its last chunk of k, at its own place.  With no pool and pools of 1, 2, 3 and 8
 * threads, on every way the pool cuts a product: columns dealt out
 * (mlp b32's forward products), rows (more rows than columns), along k
 * (two chunks, then a merge by rows), and the direct tiles; with the
 * bias first or second in the sum, with no kernel, with the sum in C's
 * storage and the activation in the sum's (as the memory plan may lay
 * them out), with beta 1 (C read), and with C's rows padded (ldc > n,
 * the padding checked untouched).
 *
 * The data hold -0 in the bias and in a row of A, a NaN in the bias, and
 * negative and positive sums, so that the add's operand order and the
 * ReLU's choice of +0 matter.  Negative controls: the reference with the
 * bias one ulp off in one column, and with the activation left out,
 * differ from the fused result.  Prints TAP.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcg_runtime.h"
#include "../tap_ok.h"
#include "../test_rng.h"
#include "pools.h"

/* The in-place layouts: the sum in C's storage, the activation in the
 * sum's. */
enum { SEPARATE, SUM_IN_C, ALL_IN_C };

typedef struct {
	const char *name;
	int ta, tb, m, n, k, pad, bias_first, kernel, beta, layout;
} Case;

static const Case cases[] = {
	{"mlp b32 h1 = relu(x W1^T + b1)", 0, 1, 32, 256, 784, 0, 0, 1, 0,
	 SEPARATE},
	{"mlp b32 h2, in place", 0, 1, 32, 256, 256, 0, 0, 1, 0, ALL_IN_C},
	{"mlp b32 o = h W3^T + b3, no kernel", 0, 1, 32, 10, 256, 0, 0, 0, 0,
	 SEPARATE},
	{"cut by rows, bias first", 0, 0, 200, 40, 70, 0, 1, 1, 0, SUM_IN_C},
	{"cut along k (two chunks), merged by rows", 0, 0, 32, 256, 256, 0, 0,
	 1, 0, SEPARATE},
	{"direct tiles, beta 1, padded rows", 0, 1, 9, 12, 5, 3, 0, 1, 1,
	 SEPARATE},
	{"blocked, both transposed, padded rows, in place", 1, 1, 31, 50, 17,
	 2, 1, 1, 0, ALL_IN_C},
};

static uint64_t rng = 0x452821e638d01377ULL;

/* The test's own activation: ReLU as the compiler writes it (x > 0 ? x
 * : 0), so -0 and NaN give +0. */
#define RELU(T, REAL)                                                         \
	static void relu_##T(int n, REAL a, REAL b, REAL *y, const REAL *x)   \
	{                                                                     \
		(void)a;                                                      \
		(void)b;                                                      \
		for (int i = 0; i < n; i++)                                   \
			y[i] = x[i] > 0 ? x[i] : 0;                           \
	}
RELU(f, float)
RELU(d, double)

/* The test's epilogue kernels, as pcc writes them (k_ep_add_cb_relu):
 * the sum with the bias second (cb) or first (bc), then ReLU or
 * nothing, element by element, each element read before its results
 * are written. */
#define EPK(T, REAL, NAME, BIAS_FIRST, ACT)                                   \
	static void NAME##_##T(int rows, int cols, int ld, REAL a, REAL b,    \
			       const REAL *c, const REAL *bias, REAL *m,      \
			       REAL *y)                                       \
	{                                                                     \
		(void)a;                                                      \
		(void)b;                                                      \
		for (int i = 0; i < rows; i++)                                \
			for (int j = 0; j < cols; j++) {                      \
				size_t at = (size_t)i * ld + j;               \
				REAL s = BIAS_FIRST ? bias[j] + c[at]         \
						    : c[at] + bias[j];        \
				m[at] = s;                                    \
				if (ACT)                                      \
					y[at] = s > 0 ? s : 0;                \
			}                                                     \
	}
#define EPKS(T, REAL)                                                         \
	EPK(T, REAL, ep_cb_relu, 0, 1)                                        \
	EPK(T, REAL, ep_bc_relu, 1, 1)                                        \
	EPK(T, REAL, ep_cb, 0, 0)                                             \
	EPK(T, REAL, ep_bc, 1, 0)
EPKS(f, float)
EPKS(d, double)

#define CHECK(T, REAL, GEMM, EP_MT)                                           \
	/* C, the sum and the activation by the separate calls, into c, s,  \
	 * y (the same storage as the layout says); act 0 leaves out the    \
	 * activation (a control) */                                         \
	static void reference_##T(const Case *cs, const REAL *a,              \
				  const REAL *b, const REAL *bias, REAL *c,   \
				  REAL *s, REAL *y, int act)                  \
	{                                                                     \
		int ld = cs->n + cs->pad;                                     \
		GEMM(cs->ta, cs->tb, cs->m, cs->n, cs->k, 1, a,               \
		     cs->ta ? cs->m : cs->k, b, cs->tb ? cs->k : cs->n,       \
		     (REAL)cs->beta, c, ld);                                  \
		for (int i = 0; i < cs->m; i++)                               \
			for (int j = 0; j < cs->n; j++) {                     \
				size_t at = (size_t)i * ld + j;               \
				s[at] = cs->bias_first ? bias[j] + c[at]      \
						       : c[at] + bias[j];     \
			}                                                     \
		if (cs->kernel && act)                                        \
			for (int i = 0; i < cs->m; i++)                       \
				relu_##T(cs->n, 0, 0, y + (size_t)i * ld,     \
					 s + (size_t)i * ld);                 \
	}                                                                     \
                                                                              \
	static void check_##T(const Case *cs, pcg_pool **pools, int npools,   \
			      const int *threads)                             \
	{                                                                     \
		CASE_SIZES(cs);                                               \
		REAL *a = malloc(sizeof(REAL) * na);                          \
		REAL *b = malloc(sizeof(REAL) * nb);                          \
		REAL *bias = malloc(sizeof(REAL) * (size_t)n);                \
		REAL *c0 = malloc(sizeof(REAL) * nc);                         \
		REAL *want = malloc(sizeof(REAL) * 3 * nc);                   \
		REAL *got = malloc(sizeof(REAL) * 3 * nc);                    \
		char what[200], detail[160];                                  \
		for (size_t i = 0; i < na; i++)                               \
			a[i] = (REAL)test_urand(&rng);                        \
		for (int p = 0; p < k && m > 2; p++) /* a row of -0 */        \
			a[cs->ta ? (size_t)p * m + 1 : (size_t)k + p] =       \
				(REAL)-0.0;                                   \
		for (size_t i = 0; i < nb; i++)                               \
			b[i] = (REAL)test_urand(&rng);                        \
		for (int j = 0; j < n; j++)                                   \
			bias[j] = j % 5 == 1 ? (REAL)-0.0                     \
					     : (REAL)(2 * test_urand(&rng)); \
		if (n > 3)                                                    \
			bias[3] = (REAL)NAN;                                  \
		for (size_t i = 0; i < nc; i++) /* C's start; its padding */ \
			c0[i] = (REAL)test_urand(&rng);                       \
		/* the three buffers, or fewer as the layout shares them */  \
		REAL *wc = want, *ws = cs->layout == SEPARATE ? want + nc     \
								 : wc;        \
		REAL *wy = cs->layout == ALL_IN_C ? ws : want + 2 * nc;       \
		for (size_t i = 0; i < 3 * nc; i++)                           \
			want[i] = (REAL)-7;                                   \
		memcpy(wc, c0, sizeof(REAL) * nc);                            \
		reference_##T(cs, a, b, bias, wc, ws, wy, 1);                 \
		REAL *gc = got, *gs = got + (ws - want), *gy = got + (wy - want); \
		/* no pool, then each pool */                                 \
		for (int pi = -1; pi < npools; pi++) {                        \
			pcg_pool *pool = pi < 0 ? NULL : pools[pi];           \
			size_t bad = 0;                                       \
			POOLED(pool,                                          \
			       for (size_t i = 0; i < 3 * nc; i++)            \
				       got[i] = (REAL)-7;                     \
			       memcpy(gc, c0, sizeof(REAL) * nc);             \
			       EP_MT(pool, cs->ta, cs->tb, m, n, k, 1, a,     \
				     lda, b, ldb, (REAL)cs->beta, gc, ld,     \
				     cs->kernel ? cs->bias_first              \
							  ? ep_bc_relu_##T    \
							  : ep_cb_relu_##T    \
				     : cs->bias_first ? ep_bc_##T : ep_cb_##T, \
				     0, 0, bias, gs, cs->kernel ? gy : NULL); \
			       size_t d_ = DIFFER(got, want, 3 * nc);         \
			       bad = d_ > bad ? d_ : bad);                    \
			snprintf(what, sizeof what,                           \
				 "%s %s, %s: the bits of the separate calls", \
				 #REAL, cs->name,                             \
				 pi == -1	    ? "no pool"               \
				 : threads[pi] == 1 ? "1 thread"              \
				 : threads[pi] == 2 ? "2 threads"             \
				 : threads[pi] == 3 ? "3 threads"             \
						    : "8 threads");           \
			snprintf(detail, sizeof detail,                       \
				 "%zu of %zu elements differ (the worst run)", \
				 bad, 3 * nc);                                \
			ok(bad == 0, what, detail);                           \
		}                                                             \
		/* controls: the reference changed, the fused result not */   \
		for (int ctl = 0; ctl < 1 + cs->kernel; ctl++) {              \
			REAL keep = bias[0];                                  \
			if (ctl == 0)                                         \
				bias[0] = nextafter##T##_(bias[0]);           \
			for (size_t i = 0; i < 3 * nc; i++)                   \
				got[i] = (REAL)-7;                            \
			memcpy(gc, c0, sizeof(REAL) * nc);                    \
			reference_##T(cs, a, b, bias, gc, gs, gy, ctl == 0);  \
			bias[0] = keep;                                       \
			size_t bad = DIFFER(got, want, 3 * nc);               \
			snprintf(what, sizeof what,                           \
				 "%s %s: control, %s differs in %zu elements", \
				 #REAL, cs->name,                             \
				 ctl == 0 ? "the bias one ulp off in a column" \
					  : "no activation",                  \
				 bad);                                        \
			ok(bad > 0, what, "the comparison sees no difference"); \
		}                                                             \
		free(a);                                                      \
		free(b);                                                      \
		free(bias);                                                   \
		free(c0);                                                     \
		free(want);                                                   \
		free(got);                                                    \
	}

static float
nextafterf_(float x)
{
	return nextafterf(x, INFINITY);
}

static double
nextafterd_(double x)
{
	return nextafter(x, INFINITY);
}

CHECK(f, float, pcg_sgemm, pcg_sgemm_ep_mt)
CHECK(d, double, pcg_dgemm, pcg_dgemm_ep_mt)

POOLS_PRODUCTS_MAIN(cases, check_f, check_d)
