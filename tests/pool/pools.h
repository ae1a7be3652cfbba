/*
 * pools.h — the pools the tests of tests/pool compare (1, 2, 3 and 8
 * threads), each splitting every piece of work however small, and the
 * check at the end that their workers took part (else the comparisons
 * of bits prove nothing), with how many items the threads took from each
 * other's blocks (the balancing).  Needs tap_ok.h.
 */
#ifndef TEST_POOLS_H
#define TEST_POOLS_H

#include <stdio.h>
#include <string.h>

#include "pcg_runtime.h"

static const int pool_threads[] = {1, 2, 3, 8};
enum { NPOOLS = sizeof pool_threads / sizeof pool_threads[0] };

/* Creates the pools (stops at the first that cannot be); returns how
 * many there are, and checks that all are there. */
static int
pools_create(pcg_pool *pools[NPOOLS])
{
	int n = 0;
	while (n < NPOOLS && (pools[n] = pcg_pool_create(pool_threads[n]))) {
		pcg_pool_set_min_macs(pools[n], 0);
		n++;
	}
	ok(n == NPOOLS, "pools of 1, 2, 3 and 8 threads created", NULL);
	return n;
}

/*
 * Runs the statements (a piece of work on the pool, then the check of
 * its bits) and, if no worker of a pool with workers took part, once
 * more with the caller leaving the workers their own tasks however late
 * they come (pcg_pool_set_steal_us -1), so that a worker takes part in
 * every run the work is spread in.  On a loaded machine a worker may
 * not be scheduled before the caller has taken every task (it takes a
 * worker's own task PCG_POOL_STEAL_US after running out of the others:
 * two threads' pools in CI, next to other tests' pools of eight
 * spinning threads, ran 0 tasks on their workers in 1000 tries), and a
 * comparison no worker took part in says nothing about threads; every
 * run's bits are checked.
 */
#define POOLED(pool, ...)                                                     \
	do {                                                                  \
		pcg_pool *pooled_ = (pool);                                   \
		size_t pooled_w0_ = pcg_pool_worker_tasks(pooled_);           \
		__VA_ARGS__;                                                  \
		if (pcg_pool_threads(pooled_) > 1 &&                          \
		    pcg_pool_worker_tasks(pooled_) == pooled_w0_) {           \
			pcg_pool_set_steal_us(pooled_, -1);                   \
			__VA_ARGS__;                                          \
			pcg_pool_set_steal_us(pooled_, PCG_POOL_STEAL_US);    \
		}                                                             \
	} while (0)

/* A product case's sizes (its fields m, n, k, pad, ta, tb): the
 * operands' and C's lengths (one more real for A and B, so that K = 0
 * still allocates), C's row length ld with its padding. */
#define CASE_SIZES(cs)                                                        \
	int m = (cs)->m, n = (cs)->n, k = (cs)->k, ld = n + (cs)->pad;       \
	int lda = (cs)->ta ? m : k, ldb = (cs)->tb ? k : n;                  \
	size_t na = (size_t)m * k + 1, nb = (size_t)k * n + 1,               \
	       nc = (size_t)m * ld

/* How many of the n elements of `size` bytes at u and v differ in their
 * bits. */
static inline size_t
bits_differ(const void *u, const void *v, size_t n, size_t size)
{
	const unsigned char *p = u, *q = v;
	size_t bad = 0;

	for (size_t i = 0; i < n; i++)
		bad += memcmp(p + i * size, q + i * size, size) != 0;
	return bad;
}
#define DIFFER(u, v, n) bits_differ((u), (v), (n), sizeof *(u))

/*
 * Checks that the workers of every pool with threads ran tasks, and
 * destroys the pools.  products: the program gives the pools products
 * and convolutions alone, which a build with -Dcblas=true
 * (PCG_GEMM_CBLAS) hands to the BLAS whole, on the BLAS's threads: there
 * the check is skipped.
 */
static void
pools_finish(pcg_pool *pools[NPOOLS], int n, int products)
{
	for (int i = 0; i < n; i++) {
		if (pool_threads[i] > 1) {
			char what[80];
			size_t tasks = pcg_pool_worker_tasks(pools[i]);
			snprintf(what, sizeof what, "%d threads: the workers ran "
				 "%zu tasks", pool_threads[i], tasks);
#ifdef PCG_GEMM_CBLAS
			if (products && tasks == 0)
				skip(what, "-Dcblas=true: the products go to "
				     "the BLAS whole");
			else
#endif
				ok(tasks > 0, what, "no work was spread: the "
				   "comparisons prove nothing");
			/* the work dealt out in blocks (the products' columns,
			 * the convolutions' samples, the pooling's planes) is
			 * balanced as it runs: whether a thread takes another's
			 * items is the machine's to decide, so none is a skip */
			size_t items = pcg_pool_stolen_items(pools[i]);
			snprintf(what, sizeof what, "%d threads: %zu items "
				 "taken from another thread's block",
				 pool_threads[i], items);
			if (items == 0)
				skip(what, "the bits of balanced runs were not "
				     "compared");
			else
				printf("# %s\n", what);
		}
		pcg_pool_destroy(pools[i]);
	}
	(void)products;
}

/* main() of a test of products: each of the cases checked by check_f
 * (float) and check_d (double) on every pool, then pools_finish. */
#define POOLS_PRODUCTS_MAIN(cases, check_f, check_d)                          \
	int main(void)                                                        \
	{                                                                     \
		pcg_pool *pools[NPOOLS];                                      \
		int npools = pools_create(pools);                             \
		if (npools == NPOOLS)                                         \
			for (size_t c = 0; c < sizeof cases / sizeof cases[0]; \
			     c++) {                                           \
				check_f(&cases[c], pools, npools,             \
					pool_threads);                        \
				check_d(&cases[c], pools, npools,             \
					pool_threads);                        \
			}                                                     \
		pools_finish(pools, npools, 1);                               \
		printf("1..%d\n", count);                                     \
		return failed != 0;                                           \
	}

#endif
