/*
 * gemm_bench.c — GFLOP/s of the runtime's pcg_sgemm against OpenBLAS's
 * cblas_sgemm on one thread (when built with OpenBLAS), for square sizes
 * 64 to 1024 and the shapes the examples use, and the machine's peak for
 * reference.  The batch-1 products are also compared with the level-2
 * routine that does the same work: a row (M = 1) with cblas_sgemv, an
 * outer product (K = 1) with cblas_sger (which adds to C, so it reads C
 * where pcg_sgemm with beta 0 only writes it).
 *
 *   gemm_bench [--quick | --peak] [WORDS]
 *
 * --peak: the clock and the peak only; WORDS: only the products whose name
 * or shape (as printed, e.g. "b1 fwd" or "NT 1x10x") contains it.
 *
 * The peak is measured, not looked up: the clock with a chain of
 * dependent integer additions (one a cycle on every x86-64 core), the
 * flops a cycle with independent chains of the widest vector FMAs the
 * processor runs, and peak = flops a cycle x clock (x cores for the
 * machine).  Each figure is the median of repeated
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

#include "bench_time.h"
#include "pcg_runtime.h"

#ifdef HAVE_CBLAS
#include <cblas.h>
void openblas_set_num_threads(int);
#endif

static int samples = 15;
static double sample_seconds = 2e-2;
static const char *only; /* the products to run (NULL: all) */

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
		double t0 = bench_now();
		__asm__ __volatile__("1:\n\t"
				     "add $1, %0\n\tadd $1, %0\n\t"
				     "add $1, %0\n\tadd $1, %0\n\t"
				     "add $1, %0\n\tadd $1, %0\n\t"
				     "add $1, %0\n\tadd $1, %0\n\t"
				     "dec %1\n\tjnz 1b"
				     : "+r"(x), "+r"(n));
		t[r] = 8 * 20000000.0 / (bench_now() - t0) * 1e-9;
	}
	qsort(t, 9, sizeof *t, bench_cmp);
	return t[4];
#else
	return 0;
#endif
}

/*
 * Float flops a cycle of one core's vector FMA units, measured: twelve
 * independent chains of FMAs on the widest vectors the processor runs
 * (512 bits with AVX-512, else 256 with FMA), enough to fill every FMA
 * unit through its latency, timed against the clock above.  Sets *bits to
 * the vector width; 0 where it cannot be measured (no x86-64 assembler
 * or no FMA).
 */
#if defined(__x86_64__) && defined(__GNUC__)
#define FMA12(R)                                                              \
	"vfmadd231ps %%" R "12, %%" R "13, %%" R "0\n\t"                    \
	"vfmadd231ps %%" R "12, %%" R "13, %%" R "1\n\t"                    \
	"vfmadd231ps %%" R "12, %%" R "13, %%" R "2\n\t"                    \
	"vfmadd231ps %%" R "12, %%" R "13, %%" R "3\n\t"                    \
	"vfmadd231ps %%" R "12, %%" R "13, %%" R "4\n\t"                    \
	"vfmadd231ps %%" R "12, %%" R "13, %%" R "5\n\t"                    \
	"vfmadd231ps %%" R "12, %%" R "13, %%" R "6\n\t"                    \
	"vfmadd231ps %%" R "12, %%" R "13, %%" R "7\n\t"                    \
	"vfmadd231ps %%" R "12, %%" R "13, %%" R "8\n\t"                    \
	"vfmadd231ps %%" R "12, %%" R "13, %%" R "9\n\t"                    \
	"vfmadd231ps %%" R "12, %%" R "13, %%" R "10\n\t"                   \
	"vfmadd231ps %%" R "12, %%" R "13, %%" R "11\n\t"
#define FMA_CLOBBERS                                                          \
	"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",       \
		"xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13"
#endif

static double
fma_flops_per_cycle(double ghz, int *bits)
{
	*bits = 0;
#if defined(__x86_64__) && defined(__GNUC__)
	__builtin_cpu_init();
	int wide = __builtin_cpu_supports("avx512f");
	if (ghz <= 0 || (!wide && !__builtin_cpu_supports("fma")))
		return 0;
	double t[9];
	for (int r = 0; r < 9; r++) {
		long n = 2000000;
		double t0 = bench_now();
		if (wide)
			__asm__ __volatile__(
				"vpxord %%zmm12, %%zmm12, %%zmm12\n\t"
				"vpxord %%zmm13, %%zmm13, %%zmm13\n\t"
				"1:\n\t" FMA12("zmm") "dec %0\n\tjnz 1b\n\t"
				"vzeroupper"
				: "+r"(n)
				:
				: FMA_CLOBBERS);
		else
			__asm__ __volatile__(
				"vxorps %%ymm12, %%ymm12, %%ymm12\n\t"
				"vxorps %%ymm13, %%ymm13, %%ymm13\n\t"
				"1:\n\t" FMA12("ymm") "dec %0\n\tjnz 1b\n\t"
				"vzeroupper"
				: "+r"(n)
				:
				: FMA_CLOBBERS);
		double lanes = wide ? 16 : 8;
		t[r] = 12 * lanes * 2 * 2000000.0 / (bench_now() - t0) /
		       (ghz * 1e9);
	}
	qsort(t, 9, sizeof *t, bench_cmp);
	*bits = wide ? 512 : 256;
	return t[4];
#else
	(void)ghz;
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

/*
 * The level-2 routine for the same product: y = x op(B) by cblas_sgemv
 * when M = 1 (op(B) = W^T, W row-major N x K, is sgemv without
 * transposition), C += a b^T by cblas_sger when K = 1.
 */
static void
run_blas2(int ta, int tb, int m, int n, int k, const float *a, int lda,
	  const float *b, int ldb, float *c, int ldc)
{
	if (m == 1) {
		int inc_a = ta ? lda : 1;
		if (tb)
			cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1, b,
				    ldb, a, inc_a, 0, c, 1);
		else
			cblas_sgemv(CblasRowMajor, CblasTrans, k, n, 1, b, ldb,
				    a, inc_a, 0, c, 1);
	} else {
		cblas_sger(CblasRowMajor, m, n, 1, a, ta ? 1 : lda, b,
			   tb ? ldb : 1, c, ldc);
	}
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
		double t0 = bench_now();
		for (int r = 0; r < reps; r++)
			fn(ta, tb, m, n, k, a, lda, b, ldb, c, n);
		double dt = bench_now() - t0;
		if (dt >= sample_seconds || reps >= 1 << 24)
			break;
		reps = dt <= 0 ? reps * 16
			       : (int)(reps * 1.5 * sample_seconds / dt) + 1;
	}
	for (int s = 0; s < samples; s++) {
		double t0 = bench_now();
		for (int r = 0; r < reps; r++)
			fn(ta, tb, m, n, k, a, lda, b, ldb, c, n);
		t[s] = flop * reps / (bench_now() - t0) * 1e-9;
	}
	qsort(t, (size_t)samples, sizeof *t, bench_cmp);
	return t[samples / 2];
}

typedef struct Shape {
	const char *what;
	int ta, tb, m, n, k;
} Shape;

static void
row(const Shape *s)
{
	char shape[64];
	snprintf(shape, sizeof shape, "%c%c %dx%dx%d", s->ta ? 'T' : 'N',
		 s->tb ? 'T' : 'N', s->m, s->n, s->k);
	if (only && !strstr(s->what, only) && !strstr(shape, only))
		return;
	size_t na = (size_t)s->m * s->k, nb = (size_t)s->k * s->n;
	size_t nc = (size_t)s->m * s->n;
	float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
	float *c = malloc(nc * sizeof *c), *c2 = malloc(nc * sizeof *c2);
	for (size_t i = 0; i < na; i++)
		a[i] = (float)((i * 7919) % 101) / 50.0f - 1;
	for (size_t i = 0; i < nb; i++)
		b[i] = (float)((i * 104729) % 97) / 48.0f - 1;
	double g = gflops(run_pcg, s->ta, s->tb, s->m, s->n, s->k, a, b, c);
	printf("%-30s %-18s %9.1f", s->what, shape, g);
#ifdef HAVE_CBLAS
	double gb = gflops(run_blas, s->ta, s->tb, s->m, s->n, s->k, a, b, c2);
	double err = 0, big = 0;
	for (size_t i = 0; i < nc; i++) {
		err = fmax(err, fabs(c[i] - c2[i]));
		big = fmax(big, fabs(c2[i]));
	}
	printf(" %9.1f %7.0f%%", gb, 100 * g / gb);
	if (s->m == 1 || s->k == 1) {
		double g2 = gflops(run_blas2, s->ta, s->tb, s->m, s->n, s->k,
				   a, b, c2);
		printf(" %9.1f %7.0f%% %s", g2, 100 * g / g2,
		       s->m == 1 ? "sgemv" : "sger ");
	} else {
		printf(" %9s %8s %5s", "", "", "");
	}
	printf("   (max diff %.1e of %.1e)", err, big);
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
	int peak_only = 0, arg = 1;
	if (argc > arg && !strcmp(argv[arg], "--quick")) {
		samples = 5;
		sample_seconds = 5e-3;
		arg++;
	} else if (argc > arg && !strcmp(argv[arg], "--peak")) {
		peak_only = 1;
		arg++;
	}
	only = argc > arg ? argv[arg] : NULL;
#ifdef HAVE_CBLAS
	openblas_set_num_threads(1);
#endif
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	double ghz = clock_ghz();
	int bits;
	double fpc = fma_flops_per_cycle(ghz, &bits);
	double core_peak = fpc * ghz;
	printf("GEMM, float, one thread: GFLOP/s, median of %d samples\n",
	       samples);
	if (ghz > 0) {
		printf("clock %.2f GHz (measured: dependent integer adds, one "
		       "a cycle)\n", ghz);
		if (fpc > 0)
			printf("FMA: %.1f float flops a cycle (measured: 12 "
			       "independent chains of %d-bit FMAs)\n", fpc,
			       bits);
	}
	if (core_peak > 0)
		printf("peak one core: %.1f flops a cycle x %.2f GHz = %.1f "
		       "GFLOP/s; all %ld cores: %.1f GFLOP/s\n", fpc, ghz,
		       core_peak, cores, core_peak * cores);
	if (peak_only)
		return 0;
	printf("\n%-30s %-18s %9s", "product", "op(A)op(B) MxNxK",
	       "pcg_sgemm");
#ifdef HAVE_CBLAS
	printf(" %9s %8s %9s %8s", "OpenBLAS", "pcg/BLAS", "BLAS-2",
	       "pcg/BLAS-2");
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
		{"mlp b1 fwd W2 (a row)", 0, 1, 1, 256, 256},
		{"mlp b1 fwd W3 (a row)", 0, 1, 1, 10, 256},
		{"mlp b1 bwd dh2 (a row)", 0, 0, 1, 256, 10},
		{"mlp b1 bwd dh1 (a row)", 0, 0, 1, 256, 256},
		{"mlp b1 bwd dx (a row)", 0, 0, 1, 784, 256},
		{"mlp b1 grad W1 (outer)", 1, 0, 256, 784, 1},
		{"mlp b1 grad W2 (outer)", 1, 0, 256, 256, 1},
		{"mlp b1 grad W3 (outer)", 1, 0, 10, 256, 1},
		{"cnn conv1 fwd (a sample)", 0, 0, 8, 576, 25},
		{"cnn conv1 dK (a sample)", 0, 1, 8, 25, 576},
		{"cnn conv2 fwd (a sample)", 0, 0, 16, 64, 200},
		{"cnn conv2 dK (a sample)", 0, 1, 16, 200, 64},
		{"cnn conv2 dcol (a sample)", 1, 0, 200, 64, 16},
		{"cnn b16 fwd W1", 0, 1, 16, 64, 256},
		{"digits b1 fwd W1", 0, 1, 1, 32, 64},
		{"digits b1 fwd W2", 0, 1, 1, 10, 32},
		{"digits b1 bwd dh1", 0, 0, 1, 32, 10},
		{"digits b1 bwd dx", 0, 0, 1, 64, 32},
		{"digits b1 grad W1 (outer)", 1, 0, 32, 64, 1},
		{"digits b1 grad W2 (outer)", 1, 0, 10, 32, 1},
		/* resnet's convolutions, a sample: O x (OH OW) x (C 9) */
		{"resnet 8->8 16x16 fwd", 0, 0, 8, 256, 72},
		{"resnet 8->8 16x16 dK", 0, 1, 8, 72, 256},
		{"resnet 8->8 16x16 dcol", 1, 0, 72, 256, 8},
		{"resnet 8->16 /2 fwd", 0, 0, 16, 64, 72},
		{"resnet 8->16 /2 dK", 0, 1, 16, 72, 64},
		{"resnet 8->16 /2 dcol", 1, 0, 72, 64, 16},
		{"resnet 16->16 8x8 fwd", 0, 0, 16, 64, 144},
		{"resnet 16->16 8x8 dK", 0, 1, 16, 144, 64},
		{"resnet 16->16 8x8 dcol", 1, 0, 144, 64, 16},
	};
	for (size_t i = 0; i < sizeof square / sizeof *square; i++)
		row(&square[i]);
	for (size_t i = 0; i < sizeof ex / sizeof *ex; i++)
		row(&ex[i]);
	return 0;
}
