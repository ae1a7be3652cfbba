/*
 * bench_time.h — the clock, the median and the data generator the
 * benchmarks share.
 *
 * Times are the process's CPU time: on a shared machine the time the
 * scheduler gives to other processes does not count (the work timed is
 * one thread).  Needs _POSIX_C_SOURCE >= 199309L before the first
 * include, for clock_gettime.
 */
#ifndef BENCH_TIME_H
#define BENCH_TIME_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static inline double
bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int
bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The median of t[0..n-1], n >= 1 (sorts t). */
static inline double
bench_median(double *t, int n)
{
	qsort(t, (size_t)n, sizeof *t, bench_cmp);
	return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/*
 * The median over the rounds of a[r] / b[r], r < n (1 <= n <= 256): a
 * paired ratio, both samples of a round taken within milliseconds of each
 * other, so that a change of the machine's speed between rounds cancels
 * out.  Take it before bench_median sorts a or b.
 */
static inline double
bench_paired_median(const double *a, const double *b, int n)
{
	double q[256];
	if (n > 256)
		n = 256;
	for (int r = 0; r < n; r++)
		q[r] = a[r] / b[r];
	return bench_median(q, n);
}

/* A small deterministic generator for the data (xorshift64): uniform
 * floats in [-1, 1), the same sequence in every run. */
static uint64_t bench_rng = 0x9e3779b97f4a7c15ULL;

static inline float
frand(void)
{
	bench_rng ^= bench_rng << 13;
	bench_rng ^= bench_rng >> 7;
	bench_rng ^= bench_rng << 17;
	return (float)((double)(bench_rng >> 11) / 9007199254740992.0) * 2 - 1;
}

#endif
