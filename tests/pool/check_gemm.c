/*
 * check_gemm.c — the products spread over a pool (pcg_sgemm_mt,
 * pcg_dgemm_mt) give the bits of pcg_sgemm / pcg_dgemm on the whole
 * product, for every pool (none, 1, 2, 3 and 8 threads, each splitting
 * every product however small): however the result is cut, by columns
 * or by rows (more rows than columns, or a large result with 64 rows a
 * thread), into blocks rounded to the GEMM's tiles, or along k in two
 * at the GEMM's chunk (pcg_pool.c, GEMM_MT_K).  Shapes: the
 * examples' (mlp b32's layers and weight gradients), odd sizes around
 * the tiles, fewer rows or columns than threads, every transpose, alpha
 * and beta other than 0 and 1.  The whole product is checked to be the
 * product (against a long double sum, to rounding), so that equal bits
 * mean a right result.  Negative control: the product with its k terms
 * summed in reverse order (A's columns and B's rows reversed: the same
 * product in exact arithmetic) is seen to differ in its bits.
 * Prints TAP.
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
	int ta, tb, m, n, k;
	double alpha, beta;
} Case;

static const Case cases[] = {
	{"mlp b32 x W1^T", 0, 1, 32, 256, 784, 1, 0},
	{"mlp b32 dW1 = dy^T x", 1, 0, 256, 784, 32, 1, 0},
	{"mlp b32 dW2 = dy^T h", 1, 0, 256, 256, 32, 1, 0},
	{"mlp b32 dh = dy W2", 0, 0, 32, 256, 256, 1, 0},
	{"cnn b16 x W1^T", 0, 1, 16, 64, 256, 1, 0},
	{"two chunks of k, beta 0.5", 0, 0, 20, 200, 200, 1, 0.5},
	{"two chunks of k, A^T", 1, 0, 24, 256, 240, 1, 0.25},
	{"two chunks of k, both transposed", 1, 1, 16, 64, 200, 1, 1},
	{"more rows than columns", 0, 0, 300, 40, 17, 1, 0},
	{"rows around the tiles", 0, 0, 257, 129, 9, 0.5, 1},
	{"odd and small", 0, 0, 7, 5, 3, 1, 0},
	{"fewer columns than threads", 1, 1, 13, 3, 20, -1.5, 0.25},
	{"one row", 0, 1, 1, 200, 31, 1, 0},
	{"both transposed", 1, 1, 130, 70, 45, 2, 1},
};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

/* Where element (i, p) of op(A) and (p, j) of op(B) are for the case's
 * layout: A is m x k (k x m when transposed), B k x n (n x k),
 * row-major. */
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

#define CHECK(T, REAL, GEMM, GEMM_MT, EPS)                                    \
	static void check_##T(const Case *cs, pcg_pool **pools, int npools,   \
			      const int *threads)                             \
	{                                                                     \
		int m = cs->m, n = cs->n, k = cs->k;                          \
		int lda = cs->ta ? m : k, ldb = cs->tb ? k : n;               \
		size_t na = (size_t)m * k, nb = (size_t)k * n,                \
		       nc = (size_t)m * n;                                    \
		REAL *a = malloc(sizeof(REAL) * na);                          \
		REAL *b = malloc(sizeof(REAL) * nb);                          \
		REAL *ar = malloc(sizeof(REAL) * na);                         \
		REAL *br = malloc(sizeof(REAL) * nb);                         \
		REAL *c0 = malloc(sizeof(REAL) * nc);                         \
		REAL *want = malloc(sizeof(REAL) * nc);                       \
		REAL *got = malloc(sizeof(REAL) * nc);                        \
		char what[160], detail[160];                                  \
		REAL alpha = (REAL)cs->alpha, beta = (REAL)cs->beta;          \
		for (size_t i = 0; i < na; i++)                               \
			a[i] = (REAL)test_urand(&rng);                        \
		for (size_t i = 0; i < nb; i++)                               \
			b[i] = (REAL)test_urand(&rng);                        \
		for (size_t i = 0; i < nc; i++)                               \
			c0[i] = (REAL)test_urand(&rng);                       \
		memcpy(want, c0, sizeof(REAL) * nc);                          \
		GEMM(cs->ta, cs->tb, m, n, k, alpha, a, lda, b, ldb, beta,    \
		     want, n);                                                \
		/* the whole product is the product, to rounding */           \
		double err = 0;                                               \
		for (int i = 0; i < m; i++)                                   \
			for (int j = 0; j < n; j++) {                         \
				long double s = 0;                            \
				for (int p = 0; p < k; p++)                   \
					s += (long double)a[a_at(cs, i, p)] * \
					     b[b_at(cs, p, j)];               \
				size_t ij = (size_t)i * n + j;                \
				s = alpha * s + (long double)beta * c0[ij];   \
				double d = fabs((double)(s - want[ij]));      \
				err = d > err ? d : err;                      \
			}                                                     \
		snprintf(what, sizeof what, "%s %s: " #GEMM " is the "        \
			 "product to rounding", #REAL, cs->name);             \
		snprintf(detail, sizeof detail, "max diff %g", err);          \
		ok(err < EPS * (k + 1), what, detail);                        \
		/* no pool, then each pool */                                 \
		for (int pi = -1; pi < npools; pi++) {                        \
			size_t bad = 0;                                       \
			POOLED(pi < 0 ? NULL : pools[pi],                     \
			       memcpy(got, c0, sizeof(REAL) * nc);            \
			       GEMM_MT(pi < 0 ? NULL : pools[pi], cs->ta,     \
				       cs->tb, m, n, k, alpha, a, lda, b, ldb,\
				       beta, got, n);                         \
			       size_t d_ = DIFFER(got, want, nc);             \
			       bad = d_ > bad ? d_ : bad);                    \
			snprintf(what, sizeof what, "%s %s, %d thread(s): "   \
				 "the bits of the whole product", #REAL,      \
				 cs->name, pi < 0 ? 1 : threads[pi]);         \
			snprintf(detail, sizeof detail,                       \
				 "%zu of %zu elements differ (the worst run)",\
				 bad, nc);                                    \
			ok(bad == 0, what, detail);                           \
		}                                                             \
		/* control: the k terms in reverse order */                   \
		for (int p = 0; p < k; p++) {                                 \
			int q = k - 1 - p;                                    \
			for (int i = 0; i < m; i++)                           \
				ar[a_at(cs, i, q)] = a[a_at(cs, i, p)];       \
			for (int j = 0; j < n; j++)                           \
				br[b_at(cs, q, j)] = b[b_at(cs, p, j)];       \
		}                                                             \
		if (k >= 3) {                                                 \
			memcpy(got, c0, sizeof(REAL) * nc);                   \
			GEMM_MT(pools[npools - 1], cs->ta, cs->tb, m, n, k,   \
				alpha, ar, lda, br, ldb, beta, got, n);       \
			size_t bad = DIFFER(got, want, nc);                   \
			snprintf(what, sizeof what, "%s %s: control, the k "  \
				 "terms reversed differ in %zu elements",     \
				 #REAL, cs->name, bad);                       \
			ok(bad > 0, what,                                     \
			   "the comparison sees no difference");              \
		}                                                             \
		free(a);                                                      \
		free(b);                                                      \
		free(ar);                                                     \
		free(br);                                                     \
		free(c0);                                                     \
		free(want);                                                   \
		free(got);                                                    \
	}

CHECK(f, float, pcg_sgemm, pcg_sgemm_mt, 1e-6)
CHECK(d, double, pcg_dgemm, pcg_dgemm_mt, 1e-15)

POOLS_PRODUCTS_MAIN(cases, check_f, check_d)
