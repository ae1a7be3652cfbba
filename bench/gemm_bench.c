/*
 * gemm_bench.c — GFLOP/s of the runtime's pcg_sgemm against OpenBLAS's
 * cblas_sgemm on one thread (when built with OpenBLAS), for square sizes
 * 64 to 1024 and the shapes the examples use, and the machine's peak for
 * reference.
 *
 *   gemm_bench [--quick]
 *
 * The peak is derived, not looked up: the clock is measured with a chain
 * of dependent integer additions (one a cycle on every x86-64 core), and
 * peak = cores x FMA units x float lanes x 2 flops x clock, the FMA units
 * and lanes stated in the output.  Each figure is the median of repeated
 * samples.  A benchmark: it prints figures and checks nothing beyond the
 * two libraries agreeing to float rounding.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pcg_runtime.h"

#ifdef HAVE_CBLAS
#include <cblas.h>
void openblas_set_num_threads(int);
#endif

static int samples = 15;
static double sample_seconds = 2e-2;

/*
 * The process's CPU time: on a shared machine the time the scheduler
 * gives to other processes does not count (the work here is one thread).
 */
static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/*
 * The clock in GHz: 8 dependent additions an iteration take 8 cycles.
 * The median of several runs; 0 where there is no x86-64 assembler.
 */
static double
clock_ghz(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	double t[9];
	for (int r = 0; r < 9; r++) {
		long n = 20000000, x = 0;
		double t0 = now();
		__asm__ __volatile__("1:\n\t"
				     "add $1, %0\n\tadd $1, %0\n\t"
				     "add $1, %0\n\tadd $1, %0\n\t"
				     "add $1, %0\n\tadd $1, %0\n\t"
				     "add $1, %0\n\tadd $1, %0\n\t"
				     "dec %1\n\tjnz 1b"
				     : "+r"(x), "+r"(n));
		t[r] = 8 * 20000000.0 / (now() - t0) * 1e-9;
	}
	qsort(t, 9, sizeof *t, cmp);
	return t[4];
#else
	return 0;
#endif
}

typedef void (*GemmFn)(int ta, int tb, int m, int n, int k, const float *a,
		       int lda, const float *b, int ldb, float *c, int ldc);

static void
run_pcg(int ta, int tb, int m, int n, int k, const float *a, int lda,
	const float *b, int ldb, float *c, int ldc)
{
	pcg_sgemm(ta, tb, m, n, k, 1, a, lda, b, ldb, 0, c, ldc);
}

#ifdef HAVE_CBLAS
static void
run_blas(int ta, int tb, int m, int n, int k, const float *a, int lda,
	 const float *b, int ldb, float *c, int ldc)
{
	cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
		    tb ? CblasTrans : CblasNoTrans, m, n, k, 1, a, lda, b, ldb,
		    0, c, ldc);
}
#endif

/* Median GFLOP/s of fn on this product. */
static double
gflops(GemmFn fn, int ta, int tb, int m, int n, int k, const float *a,
       const float *b, float *c)
{
	int lda = ta ? m : k, ldb = tb ? k : n;
	double flop = 2.0 * m * n * k, t[64];
	int reps = 1;
	for (;;) {
		double t0 = now();
		for (int r = 0; r < reps; r++)
			fn(ta, tb, m, n, k, a, lda, b, ldb, c, n);
		double dt = now() - t0;
		if (dt >= sample_seconds || reps >= 1 << 24)
			break;
		reps = dt <= 0 ? reps * 16
			       : (int)(reps * 1.5 * sample_seconds / dt) + 1;
	}
	for (int s = 0; s < samples; s++) {
		double t0 = now();
		for (int r = 0; r < reps; r++)
			fn(ta, tb, m, n, k, a, lda, b, ldb, c, n);
		t[s] = flop * reps / (now() - t0) * 1e-9;
	}
	qsort(t, (size_t)samples, sizeof *t, cmp);
	return t[samples / 2];
}

typedef struct Shape {
	const char *what;
	int ta, tb, m, n, k;
} Shape;

static void
row(const Shape *s)
{
	size_t na = (size_t)s->m * s->k, nb = (size_t)s->k * s->n;
	size_t nc = (size_t)s->m * s->n;
	float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
	float *c = malloc(nc * sizeof *c), *c2 = malloc(nc * sizeof *c2);
	for (size_t i = 0; i < na; i++)
		a[i] = (float)((i * 7919) % 101) / 50.0f - 1;
	for (size_t i = 0; i < nb; i++)
		b[i] = (float)((i * 104729) % 97) / 48.0f - 1;
	double g = gflops(run_pcg, s->ta, s->tb, s->m, s->n, s->k, a, b, c);
	char shape[64];
	snprintf(shape, sizeof shape, "%c%c %dx%dx%d", s->ta ? 'T' : 'N',
		 s->tb ? 'T' : 'N', s->m, s->n, s->k);
	printf("%-30s %-18s %9.1f", s->what, shape, g);
#ifdef HAVE_CBLAS
	double gb = gflops(run_blas, s->ta, s->tb, s->m, s->n, s->k, a, b, c2);
	double err = 0, big = 0;
	for (size_t i = 0; i < nc; i++) {
		err = fmax(err, fabs(c[i] - c2[i]));
		big = fmax(big, fabs(c2[i]));
	}
	printf(" %9.1f %7.0f%%   (max diff %.1e of %.1e)", gb, 100 * g / gb,
	       err, big);
#endif
	printf("\n");
	fflush(stdout);
	free(a);
	free(b);
	free(c);
	free(c2);
}

int
main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--quick")) {
		samples = 5;
		sample_seconds = 5e-3;
	}
#ifdef HAVE_CBLAS
	openblas_set_num_threads(1);
#endif
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	double ghz = clock_ghz();
	/*
	 * Two 256-bit FMA units a core: AMD Zen 2/3/4 and Intel Haswell to
	 * Ice Lake client (Zen 4 runs 512-bit operations as two halves, so
	 * AVX-512 does not raise its peak).  8 float lanes, 2 flops an FMA.
	 */
	int units = 2, lanes = 8;
	double core_peak = units * lanes * 2 * ghz;
	printf("GEMM, float, one thread: GFLOP/s, median of %d samples\n",
	       samples);
	if (ghz > 0) {
		printf("clock %.2f GHz (measured: dependent integer adds, one "
		       "a cycle)\n", ghz);
		printf("peak one core: %d FMA units x %d float lanes x 2 flops x "
		       "%.2f GHz = %.1f GFLOP/s; all %ld cores: %.1f GFLOP/s\n",
		       units, lanes, ghz, core_peak, cores, core_peak * cores);
	}
	printf("\n%-30s %-18s %9s", "product", "op(A)op(B) MxNxK",
	       "pcg_sgemm");
#ifdef HAVE_CBLAS
	printf(" %9s %8s", "OpenBLAS", "pcg/BLAS");
#else
	printf("   (built without OpenBLAS: no cblas_sgemm column)");
#endif
	printf("\n");
	static const Shape square[] = {
		{"square", 0, 0, 64, 64, 64},	 {"square", 0, 0, 128, 128, 128},
		{"square", 0, 0, 256, 256, 256}, {"square", 0, 0, 384, 384, 384},
		{"square", 0, 0, 512, 512, 512}, {"square", 0, 0, 768, 768, 768},
		{"square", 0, 0, 1024, 1024, 1024},
	};
	/* The calls the generated code makes (see the golden files). */
	static const Shape ex[] = {
		{"mlp b32 fwd W1", 0, 1, 32, 256, 784},
		{"mlp b32 fwd W2", 0, 1, 32, 256, 256},
		{"mlp b32 bwd dh1", 0, 0, 32, 256, 256},
		{"mlp b32 grad W1", 1, 0, 256, 784, 32},
		{"mlp b32 grad W2", 1, 0, 256, 256, 32},
		{"mlp b1 fwd W1 (a row)", 0, 1, 1, 256, 784},
		{"mlp b1 grad W1 (outer)", 1, 0, 256, 784, 1},
		{"cnn conv1 fwd (a sample)", 0, 0, 8, 576, 25},
		{"cnn conv1 dK (a sample)", 0, 1, 8, 25, 576},
		{"cnn conv2 fwd (a sample)", 0, 0, 16, 64, 200},
		{"cnn conv2 dK (a sample)", 0, 1, 16, 200, 64},
		{"cnn conv2 dcol (a sample)", 1, 0, 200, 64, 16},
		{"cnn b16 fwd W1", 0, 1, 16, 64, 256},
		{"digits b1 fwd W1", 0, 1, 1, 32, 64},
	};
	for (size_t i = 0; i < sizeof square / sizeof *square; i++)
		row(&square[i]);
	for (size_t i = 0; i < sizeof ex / sizeof *ex; i++)
		row(&ex[i]);
	return 0;
}
