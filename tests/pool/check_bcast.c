/*
 * check_bcast.c — pcg_bcast_mt and pcg_bcast_vjp_mt (float and double)
 * give, for every pool (none, 1, 2, 3 and 8 threads, every kernel split),
 * the bits of the plain loops over the whole batch: a bias add y[b][c][p]
 * = x[b][c][p] + bias[c] and the bias's gradient db[c] (+)= the sum of
 * dy[b][c][p] over b = 0, 1, ... and p in order, with the kernels written
 * as emit.c writes them (the add cut along the samples; the gradient cut
 * along the bias, its sum along the innermost loop in a local, or along
 * the bias's own innermost axis when p is absent).  A sum in long double
 * checks that the reference is the sum (to rounding).  Negative control:
 * the gradient with the samples cut in two, each half summed on its own
 * and the halves added (what cutting the sum by samples would give), is
 * seen to differ from the reference's bits.
 *
 * pcg_bcast_vjp_sum_mt, with a kernel that sums each sample on its own
 * (from -0) and adds the sample's sum into the element in turn (as
 * emit.c's partial sums do), gives for every pool the bits of that
 * kernel run on one thread over the whole batch, acc 0 and 1, and keeps
 * an element that receives only -0 terms at -0.  Negative control: the
 * samples' sums added in reverse order differ.  Prints TAP.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcg_runtime.h"
#include "../tap_ok.h"
#include "../test_rng.h"
#include "pools.h"

enum { NB = 7, C = 5, P = 37, F = 100 };

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static double
drand(void)
{
	return test_urand(&rng);
}

#define CHECK(T, REAL)                                                        \
	/* y = x + bias over [nb][C][P], the samples over [lo, hi) */         \
	static void add_##T(int nb, int lo, int hi, REAL *y, const REAL *x,   \
			    const REAL *bias)                                 \
	{                                                                     \
		(void)nb;                                                     \
		for (int i0 = lo; i0 < hi; i0++)                              \
			for (int i1 = 0; i1 < C; i1++)                        \
				for (int i2 = 0; i2 < P; i2++)                \
					y[(i0 * C + i1) * P + i2] =           \
						x[(i0 * C + i1) * P + i2] +   \
						bias[i1];                     \
	}                                                                     \
                                                                              \
	/* db (+)= dy summed over the samples and P, the bias over [lo, hi) \
	 */                                                                   \
	static void db_##T(int nb, int lo, int hi, int acc, REAL *db,         \
			   const REAL *dy, const REAL *a, const REAL *b,      \
			   const REAL *y)                                     \
	{                                                                     \
		(void)a;                                                      \
		(void)b;                                                      \
		(void)y;                                                      \
		if (!acc)                                                     \
			for (int i = lo; i < hi; i++)                         \
				db[i] = 0;                                    \
		for (int i0 = 0; i0 < nb; i0++)                               \
			for (int i1 = lo; i1 < hi; i1++) {                    \
				REAL sum = db[i1];                            \
				for (int i2 = 0; i2 < P; i2++)                \
					sum += dy[(i0 * C + i1) * P + i2];    \
				db[i1] = sum;                                 \
			}                                                     \
	}                                                                     \
                                                                              \
	/* db (+)= dy over [nb][F] summed over the samples, the bias over     \
	 * [lo, hi) */                                                        \
	static void dbf_##T(int nb, int lo, int hi, int acc, REAL *db,        \
			    const REAL *dy, const REAL *a, const REAL *b,     \
			    const REAL *y)                                    \
	{                                                                     \
		(void)a;                                                      \
		(void)b;                                                      \
		(void)y;                                                      \
		if (!acc)                                                     \
			for (int i = lo; i < hi; i++)                         \
				db[i] = 0;                                    \
		for (int i0 = 0; i0 < nb; i0++)                               \
			for (int i1 = lo; i1 < hi; i1++)                      \
				db[i1] += dy[i0 * F + i1];                    \
	}                                                                     \
                                                                              \
	/* db (+)= dy over [nb][C][P], each sample's sum from -0 added into  \
	 * the element in turn (pcg_bcast_vjp_sum_mt's kernels) */            \
	static void dbs_##T(int nb, int lo, int hi, int acc, REAL *db,        \
			    const REAL *dy, const REAL *a, const REAL *b,     \
			    const REAL *y)                                    \
	{                                                                     \
		(void)a;                                                      \
		(void)b;                                                      \
		(void)y;                                                      \
		if (!acc)                                                     \
			for (int i = lo; i < hi; i++)                         \
				db[i] = 0;                                    \
		for (int i0 = 0; i0 < nb; i0++)                               \
			for (int i1 = lo; i1 < hi; i1++) {                    \
				REAL s = -(REAL)0;                            \
				for (int i2 = 0; i2 < P; i2++)                \
					s += dy[(i0 * C + i1) * P + i2];      \
				db[i1] += s;                                  \
			}                                                     \
	}                                                                     \
                                                                              \
	/* pcg_bcast_vjp_sum_mt against dbs_ on one thread, every pool */     \
	static void check_sum_##T(pcg_pool **pools, const int *threads,       \
				  int npools, const REAL *dy,                 \
				  const REAL *init)                           \
	{                                                                     \
		REAL want[C], got[C], rev[C], s[NB][C];                       \
		char what[160], detail[80];                                   \
		for (int acc = 0; acc < 2; acc++) {                           \
			int bad = -1;                                         \
			memcpy(want, init, sizeof want);                      \
			dbs_##T(NB, 0, C, acc, want, dy, NULL, NULL, NULL);   \
			for (int p = 0; p <= npools; p++)                     \
				POOLED(p ? pools[p - 1] : NULL,               \
				memcpy(got, init, sizeof got);                \
				pcg_bcast_vjp_sum_mt_##T(                     \
					p ? pools[p - 1] : NULL, dbs_##T, NB, \
					C, (int64_t)NB * P, C * P, C, acc,    \
					got, dy);                             \
				if (memcmp(got, want, sizeof got) && bad < 0) \
					bad = p ? threads[p - 1] : 0);        \
			snprintf(what, sizeof what, "%s bias gradient by "    \
				 "samples' sums, acc %d: one thread's bits, " \
				 "every pool", #REAL, acc);                   \
			snprintf(detail, sizeof detail, "first differs with " \
				 "%d threads (0: no pool)", bad);             \
			ok(bad < 0, what, detail);                            \
		}                                                             \
		/* -0 terms only, into -0 with acc: the element stays -0 */   \
		REAL *z = malloc(sizeof(REAL) * NB * C * P);                  \
		for (int i = 0; i < NB * C * P; i++)                          \
			z[i] = -(REAL)0;                                      \
		int kept = 1;                                                 \
		for (int p = 0; p <= npools; p++)                             \
			POOLED(p ? pools[p - 1] : NULL,                       \
			for (int c = 0; c < C; c++) got[c] = -(REAL)0;        \
			pcg_bcast_vjp_sum_mt_##T(p ? pools[p - 1] : NULL,     \
						 dbs_##T, NB, C,              \
						 (int64_t)NB * P, C * P, C,   \
						 1, got, z);                  \
			for (int c = 0; c < C; c++)                           \
				kept = kept && got[c] == 0 && signbit(got[c])); \
		snprintf(what, sizeof what, "%s bias gradient by samples' "   \
			 "sums: -0 terms keep a -0 element, every pool",      \
			 #REAL);                                              \
		ok(kept, what, NULL);                                         \
		free(z);                                                      \
		/* negative control: the samples' sums added in reverse */    \
		for (int b = 0; b < NB; b++) {                                \
			for (int c = 0; c < C; c++)                           \
				s[b][c] = -(REAL)0;                           \
			dbs_##T(1, 0, C, 1, s[b], dy + (size_t)b * C * P,     \
				NULL, NULL, NULL);                            \
		}                                                             \
		memcpy(rev, init, sizeof rev);                                \
		for (int b = NB - 1; b >= 0; b--)                             \
			for (int c = 0; c < C; c++)                           \
				rev[c] += s[b][c];                            \
		memcpy(want, init, sizeof want);                              \
		dbs_##T(NB, 0, C, 1, want, dy, NULL, NULL, NULL);             \
		snprintf(what, sizeof what, "%s control: the samples' sums "  \
			 "added in reverse differ", #REAL);                   \
		ok(memcmp(rev, want, sizeof rev) != 0, what, NULL);           \
	}                                                                     \
                                                                              \
	/* the reference: the bias's gradient over samples [b0, b1), with P  \
	 * (p 1) or over [nb][F] (p 0), acc 1 */                              \
	static void ref_db_##T(int p, int b0, int b1, REAL *db,               \
			       const REAL *dy)                                \
	{                                                                     \
		int n = p ? C : F, m = p ? P : 1;                             \
		for (int b = b0; b < b1; b++)                                 \
			for (int c = 0; c < n; c++)                           \
				for (int i = 0; i < m; i++)                   \
					db[c] += dy[((size_t)b * n + c) * m + \
						    i];                       \
	}                                                                     \
                                                                              \
	static void check_##T(pcg_pool **pools, const int *threads,           \
			      int npools)                                     \
	{                                                                     \
		enum { X = NB * C * P };                                      \
		REAL *x = malloc(sizeof(REAL) * X);                           \
		REAL *dy = malloc(sizeof(REAL) * X);                          \
		REAL *want = malloc(sizeof(REAL) * X);                        \
		REAL *got = malloc(sizeof(REAL) * X);                         \
		REAL bias[C], init[F], wdb[F], gdb[F];                        \
		for (int i = 0; i < X; i++) {                                 \
			x[i] = (REAL)drand();                                 \
			dy[i] = (REAL)drand();                                \
		}                                                             \
		for (int i = 0; i < C; i++)                                   \
			bias[i] = (REAL)drand();                              \
		for (int i = 0; i < F; i++)                                   \
			init[i] = (REAL)drand();                              \
		for (int b = 0; b < NB; b++)                                  \
			for (int c = 0; c < C; c++)                           \
				for (int p = 0; p < P; p++)                   \
					want[(b * C + c) * P + p] =           \
						x[(b * C + c) * P + p] +      \
						bias[c];                      \
		char what[160], detail[80];                                   \
		int same = 1, bad = -1;                                       \
		for (int p = 0; p <= npools; p++)                             \
			POOLED(p ? pools[p - 1] : NULL,                       \
			       memset(got, 0xff, sizeof(REAL) * X);           \
			       pcg_bcast_mt_##T(p ? pools[p - 1] : NULL,      \
						add_##T, NB, NB, C * P, got,  \
						x, bias);                     \
			       if (memcmp(got, want, sizeof(REAL) * X) &&     \
				   bad < 0) bad = p ? threads[p - 1] : 0);    \
		same = bad < 0;                                               \
		snprintf(what, sizeof what, "%s bias add cut by samples: the "\
			 "loop's bits, no pool and 1, 2, 3, 8 threads", #REAL); \
		snprintf(detail, sizeof detail, "first differs with %d "      \
			 "threads (0: no pool)", bad);                        \
		ok(same, what, detail);                                       \
		for (int shape = 0; shape < 2; shape++)                       \
			for (int acc = 0; acc < 2; acc++) {                   \
				int n = shape ? C : F;                        \
				memcpy(wdb, init, sizeof(REAL) * n);          \
				if (!acc)                                     \
					memset(wdb, 0, sizeof(REAL) * n);     \
				ref_db_##T(shape, 0, NB, wdb, dy);            \
				bad = -1;                                     \
				for (int p = 0; p <= npools; p++)             \
					POOLED(p ? pools[p - 1] : NULL,       \
					memcpy(gdb, init, sizeof(REAL) * n);  \
					pcg_bcast_vjp_mt_##T(                 \
						p ? pools[p - 1] : NULL,      \
						shape ? db_##T : dbf_##T, NB, \
						n, (int64_t)NB * (shape ? P : 1), \
						acc, gdb, dy, NULL, NULL,     \
						NULL);                        \
					if (memcmp(gdb, wdb,                  \
						   sizeof(REAL) * n) &&       \
					    bad < 0)                          \
						bad = p ? threads[p - 1] : 0);\
				snprintf(what, sizeof what, "%s bias "        \
					 "gradient over [%d][%d]%s, acc %d, " \
					 "cut along the bias: the loop's "    \
					 "bits, every pool", #REAL, NB, n,    \
					 shape ? "[37]" : "", acc);           \
				snprintf(detail, sizeof detail, "first "      \
					 "differs with %d threads (0: no "    \
					 "pool)", bad);                       \
				ok(bad < 0, what, detail);                    \
			}                                                     \
		/* the reference is the sum, to rounding */                   \
		double err = 0;                                               \
		memset(wdb, 0, sizeof wdb);                                   \
		ref_db_##T(1, 0, NB, wdb, dy);                                \
		for (int c = 0; c < C; c++) {                                 \
			long double s = 0;                                    \
			for (int b = 0; b < NB; b++)                          \
				for (int p = 0; p < P; p++)                   \
					s += dy[(b * C + c) * P + p];         \
			if (fabs((double)(wdb[c] - s)) > err)                 \
				err = fabs((double)(wdb[c] - s));             \
		}                                                             \
		snprintf(what, sizeof what, "%s bias gradient: the sum to "   \
			 "rounding", #REAL);                                  \
		snprintf(detail, sizeof detail, "max diff %g", err);          \
		ok(err < (sizeof(REAL) == 4 ? 1e-4 : 1e-12), what, detail);   \
		/* negative control: the samples cut in two, halves added */  \
		memset(gdb, 0, sizeof gdb);                                   \
		ref_db_##T(1, 0, NB / 2, gdb, dy);                            \
		REAL half[C];                                                 \
		memset(half, 0, sizeof half);                                 \
		ref_db_##T(1, NB / 2, NB, half, dy);                          \
		for (int c = 0; c < C; c++)                                   \
			gdb[c] += half[c];                                    \
		snprintf(what, sizeof what, "%s control: the gradient cut "   \
			 "by samples differs", #REAL);                        \
		ok(memcmp(gdb, wdb, sizeof(REAL) * C) != 0, what, NULL);      \
		check_sum_##T(pools, threads, npools, dy, init);              \
		free(x);                                                      \
		free(dy);                                                     \
		free(want);                                                   \
		free(got);                                                    \
	}

CHECK(f, float)
CHECK(d, double)

int
main(void)
{
	pcg_pool *pools[NPOOLS];
	int npools = pools_create(pools);
	check_f(pools, pool_threads, npools);
	check_d(pools, pool_threads, npools);
	pools_finish(pools, npools, 0);
	printf("1..%d\n", count);
	return failed != 0;
}
