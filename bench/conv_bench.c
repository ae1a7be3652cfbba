/*
 * conv_bench.c — the runtime's convolutions over a batch (pcg_conv_f,
 * pcg_conv_dk_f, pcg_conv_dx_f, no pool: one thread) on the shapes of
 * examples/cnn.pcg and examples/resnet.pcg, against the same
 * computation with OpenBLAS's cblas_sgemm (one thread) when built with
 * it:
 *
 *   per sample  im2col + one GEMM per sample, the runtime's definition
 *               (pcg_runtime.h) with pcg_sgemm, and with OpenBLAS;
 *   batch       OpenBLAS with the columns of the whole batch side by side,
 *               (C kh kw) x (B OH OW), one product a pass: forward
 *               O x (B P) x CK then y scattered to y[b][o][p]; dK
 *               O x CK x (B P) from dy gathered to O x (B P); dx
 *               CK x (B P) x O then col2im per sample.
 *
 *   conv_bench [--quick] [BATCH]      (default batch 16, train_bench's)
 *
 * Then, with OpenBLAS, the products themselves (GFLOP/s of pcg_sgemm and
 * cblas_sgemm, one thread): a sample's, as the header defines them, the
 * transposed ones the runtime computes for 12 to 64 channels (tiles of
 * y^T of 1024 reals, when k >= 32; dK^T), and the whole batch's.
 *
 * Each figure is the median over the rounds of the time of one call over
 * the batch (CPU time, microseconds); the methods are interleaved within a
 * round so that a change of load shows in all of them.  pcg/BLAS is the
 * best OpenBLAS time over the runtime's (above 100 %: the runtime is
 * faster).  A benchmark: it prints figures, and checks only that every
 * method gives the runtime's numbers to float rounding.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_time.h"
#include "pcg_runtime.h"

#ifdef HAVE_CBLAS
#include <cblas.h>
void openblas_set_num_threads(int);
#endif

enum { M_PCG, M_SAMPLE, M_BLAS_SAMPLE, M_BLAS_BATCH, NMETHOD };

static const char *method_names[NMETHOD] = {
	"pcg_conv", "per sample", "BLAS/sample", "BLAS batch"};

typedef struct {
	const pcg_conv_geo *g;
	int nb, pass;
	const float *x, *k, *dy;
	float *out, *col, *wide, *dyw;
} Job;

static void
im2col(const pcg_conv_geo *g, const float *x, float *col)
{
	pcg_im2col_ex_f(g->c, g->h, g->w, g->kh, g->kw, g->sh, g->sw, g->ph,
			g->pw, g->dh, g->dw, g->oh, g->ow, x, col);
}

static void
col2im(const pcg_conv_geo *g, const float *col, float *dx)
{
	pcg_col2im_ex_f(g->c, g->h, g->w, g->kh, g->kw, g->sh, g->sw, g->ph,
			g->pw, g->dh, g->dw, g->oh, g->ow, 0, col, dx);
}

/* C = op(A) op(B) (+ C when acc) with pcg_sgemm or OpenBLAS. */
static void
gemm(int blas, int ta, int tb, int m, int n, int k, const float *a, int lda,
     const float *b, int ldb, int acc, float *c, int ldc)
{
#ifdef HAVE_CBLAS
	if (blas) {
		cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
			    tb ? CblasTrans : CblasNoTrans, m, n, k, 1, a, lda,
			    b, ldb, acc ? 1 : 0, c, ldc);
		return;
	}
#endif
	(void)blas;
	pcg_sgemm(ta, tb, m, n, k, 1, a, lda, b, ldb, acc ? 1 : 0, c, ldc);
}

/* One pass over the batch by one method (groups: 1). */
static void
run(const Job *j, int method)
{
	const pcg_conv_geo *g = j->g;
	int P = g->oh * g->ow, CK = g->c * g->kh * g->kw, O = g->o;
	int nb = j->nb, BP = nb * P;
	size_t X = (size_t)g->c * g->h * g->w, Y = (size_t)O * P;
	if (method == M_PCG) {
		if (j->pass == 0)
			pcg_conv_f(NULL, g, nb, j->x, X, j->k, j->out, Y, j->col);
		else if (j->pass == 1)
			pcg_conv_dk_f(NULL, g, nb, 0, j->x, X, j->dy, Y, j->out,
				      j->col);
		else
			pcg_conv_dx_f(NULL, g, nb, 0, j->k, j->dy, Y, j->out, X,
				      j->col);
		return;
	}
	if (method != M_BLAS_BATCH) {
		int blas = method == M_BLAS_SAMPLE;
		for (int b = 0; b < nb; b++) {
			if (j->pass < 2)
				im2col(g, j->x + b * X, j->col);
			if (j->pass == 0)
				gemm(blas, 0, 0, O, P, CK, j->k, CK, j->col, P, 0,
				     j->out + b * Y, P);
			else if (j->pass == 1)
				gemm(blas, 0, 1, O, CK, P, j->dy + b * Y, P,
				     j->col, P, b > 0, j->out, CK);
			else {
				gemm(blas, 1, 0, CK, P, O, j->k, CK,
				     j->dy + b * Y, P, 0, j->col, P);
				col2im(g, j->col, j->out + b * X);
			}
		}
		return;
	}
	/* the batch's columns side by side: sample b's at column b P */
	if (j->pass < 2)
		for (int b = 0; b < nb; b++) {
			im2col(g, j->x + b * X, j->col);
			for (int r = 0; r < CK; r++)
				memcpy(j->wide + (size_t)r * BP + (size_t)b * P,
				       j->col + (size_t)r * P, sizeof(float) * P);
		}
	if (j->pass > 0) /* dy gathered to O x (B P) */
		for (int b = 0; b < nb; b++)
			for (int o = 0; o < O; o++)
				memcpy(j->dyw + (size_t)o * BP + (size_t)b * P,
				       j->dy + b * Y + (size_t)o * P,
				       sizeof(float) * P);
	if (j->pass == 0) {
		gemm(1, 0, 0, O, BP, CK, j->k, CK, j->wide, BP, 0, j->dyw, BP);
		for (int b = 0; b < nb; b++)
			for (int o = 0; o < O; o++)
				memcpy(j->out + b * Y + (size_t)o * P,
				       j->dyw + (size_t)o * BP + (size_t)b * P,
				       sizeof(float) * P);
	} else if (j->pass == 1) {
		gemm(1, 0, 1, O, CK, BP, j->dyw, BP, j->wide, BP, 0, j->out,
		     CK);
	} else {
		gemm(1, 1, 0, CK, BP, O, j->k, CK, j->dyw, BP, 0, j->wide, BP);
		for (int b = 0; b < nb; b++) {
			for (int r = 0; r < CK; r++)
				memcpy(j->col + (size_t)r * P,
				       j->wide + (size_t)r * BP + (size_t)b * P,
				       sizeof(float) * P);
			col2im(g, j->col, j->out + b * X);
		}
	}
}

#ifdef HAVE_CBLAS
/* GFLOP/s of one product by pcg_sgemm (blas 0) or OpenBLAS, the median
 * of rounds samples, each of calls repeated for sample_seconds. */
static double
gflops(int blas, int ta, int tb, int m, int n, int k, const float *a,
       const float *b, float *c, int rounds, double sample_seconds)
{
	int lda = ta ? m : k, ldb = tb ? k : n, reps = 1;
	double t[64];
	for (;;) {
		double t0 = bench_now();
		for (int r = 0; r < reps; r++)
			gemm(blas, ta, tb, m, n, k, a, lda, b, ldb, 0, c, n);
		if (bench_now() - t0 >= sample_seconds || reps > 1 << 20)
			break;
		reps *= 2;
	}
	for (int s = 0; s < rounds; s++) {
		double t0 = bench_now();
		for (int r = 0; r < reps; r++)
			gemm(blas, ta, tb, m, n, k, a, lda, b, ldb, 0, c, n);
		t[s] = 2.0 * m * n * k * reps / (bench_now() - t0) * 1e-9;
	}
	return bench_median(t, rounds);
}

/* The products of one convolution (O, P, CK) at batch nb. */
static void
products(const char *name, int O, int P, int CK, int nb, int rounds,
	 double sample_seconds)
{
	static float a[1 << 20], b[1 << 20], c[1 << 20];
	int tp = 1024 / O < P ? 1024 / O : P;
	const struct {
		const char *what;
		int ta, tb, m, n, k, tiled;
	} prods[] = {
		{"fwd, a sample", 0, 0, O, P, CK, 0},
		{"fwd, y^T tile", 1, 1, tp, O, CK, 2},
		{"fwd, the batch", 0, 0, O, nb * P, CK, 0},
		{"dK, a sample", 0, 1, O, CK, P, 0},
		{"dK^T, a sample", 0, 1, CK, O, P, 1},
		{"dK, the batch", 0, 1, O, CK, nb * P, 0},
		{"dx, a sample", 1, 0, CK, P, O, 0},
	};
	for (size_t i = 0; i < (size_t)1 << 20; i++) {
		a[i] = (float)((i * 7919) % 101) / 50.0f - 1;
		b[i] = (float)((i * 104729) % 97) / 48.0f - 1;
	}
	for (size_t i = 0; i < sizeof prods / sizeof prods[0]; i++) {
		int m = prods[i].m, n = prods[i].n, k = prods[i].k;
		/* the runtime transposes 12 to 64 channels, y only for
		 * k >= 32 (pcg_pool.c) */
		if (prods[i].tiled &&
		    (O < 12 || O > 64 || (prods[i].tiled == 2 && CK < 32)))
			continue;
		if ((size_t)m * k > sizeof a / sizeof a[0] ||
		    (size_t)k * n > sizeof b / sizeof b[0] ||
		    (size_t)m * n > sizeof c / sizeof c[0])
			continue;
		double gp = gflops(0, prods[i].ta, prods[i].tb, m, n, k, a, b,
				   c, rounds, sample_seconds);
		double gb = gflops(1, prods[i].ta, prods[i].tb, m, n, k, a, b,
				   c, rounds, sample_seconds);
		char shape[48];
		snprintf(shape, sizeof shape, "%c%c %dx%dx%d",
			 prods[i].ta ? 'T' : 'N', prods[i].tb ? 'T' : 'N', m,
			 n, k);
		printf("%-34s %-15s %-18s %9.1f %9.1f %7.0f%%\n",
		       i ? "" : name, prods[i].what, shape, gp, gb,
		       100 * gp / gb);
		fflush(stdout);
	}
}
#endif

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int c, h, w, o, k, st, pad;
	} cases[] = {
		{"cnn conv1  1x28x28 -> 8, 5x5", 1, 28, 28, 8, 5, 1, 0},
		{"cnn conv2  8x12x12 -> 16, 5x5", 8, 12, 12, 16, 5, 1, 0},
		{"resnet 3x16x16 -> 8, 3x3 p1", 3, 16, 16, 8, 3, 1, 1},
		{"resnet 8x16x16 -> 8, 3x3 p1", 8, 16, 16, 8, 3, 1, 1},
		{"resnet 8x16x16 -> 16, 3x3 s2 p1", 8, 16, 16, 16, 3, 2, 1},
		{"resnet 8x16x16 -> 16, 1x1 s2", 8, 16, 16, 16, 1, 2, 0},
		{"resnet 16x8x8 -> 16, 3x3 p1", 16, 8, 8, 16, 3, 1, 1},
	};
	static const char *pass_names[] = {"fwd", "dK", "dx"};
	int rounds = 21, nb = 16;
	double sample_seconds = 4e-3;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			rounds = 7;
			sample_seconds = 1e-3;
		} else {
			nb = atoi(argv[i]);
			if (nb < 1) {
				fprintf(stderr, "usage: conv_bench [--quick] "
					"[BATCH]\n");
				return 2;
			}
		}
	}
#ifdef HAVE_CBLAS
	openblas_set_num_threads(1);
	int nmethod = NMETHOD;
#else
	int nmethod = M_SAMPLE + 1;
	printf("(built without OpenBLAS: its columns are left out)\n");
#endif
	printf("convolutions, float, batch %d, one thread: microseconds a "
	       "call over the batch,\nmedian of %d rounds\n\n", nb, rounds);
	printf("%-34s %-4s", "convolution", "pass");
	for (int m = 0; m < nmethod; m++)
		printf(" %11s", method_names[m]);
	if (nmethod == NMETHOD)
		printf(" %9s", "pcg/BLAS");
	printf("\n");
	for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
		pcg_conv_geo g = {cases[t].c, cases[t].h, cases[t].w,
				  cases[t].k, cases[t].k, cases[t].st,
				  cases[t].st, cases[t].pad, cases[t].pad,
				  1, 1, 0, 0, cases[t].o, 1};
		g.oh = (g.h + 2 * g.ph - g.kh) / g.sh + 1;
		g.ow = (g.w + 2 * g.pw - g.kw) / g.sw + 1;
		size_t X = (size_t)g.c * g.h * g.w, P = (size_t)g.oh * g.ow;
		size_t CK = (size_t)g.c * g.kh * g.kw, Y = (size_t)g.o * P;
		size_t outn = X * nb > Y * nb ? X * nb : Y * nb;
		if (outn < (size_t)g.o * CK)
			outn = (size_t)g.o * CK;
		float *x = malloc(sizeof(float) * X * nb);
		float *k = malloc(sizeof(float) * g.o * CK);
		float *dy = malloc(sizeof(float) * Y * nb);
		float *col = malloc(sizeof(float) * PCG_CONV_SCRATCH_REALS(&g));
		float *wide = malloc(sizeof(float) * CK * P * nb);
		float *dyw = malloc(sizeof(float) * Y * nb);
		float *out[NMETHOD];
		for (int m = 0; m < NMETHOD; m++)
			out[m] = malloc(sizeof(float) * outn);
		for (size_t i = 0; i < X * nb; i++)
			x[i] = (float)((i * 7919) % 101) / 50.0f - 1;
		for (size_t i = 0; i < g.o * CK; i++)
			k[i] = (float)((i * 104729) % 97) / 48.0f - 1;
		for (size_t i = 0; i < Y * nb; i++)
			dy[i] = (float)((i * 7727) % 89) / 44.0f - 1;
		for (int pass = 0; pass < 3; pass++) {
			Job j[NMETHOD];
			int reps[NMETHOD];
			double tm[NMETHOD][64];
			for (int m = 0; m < nmethod; m++) {
				j[m] = (Job){&g, nb, pass, x, k, dy, out[m], col,
					     wide, dyw};
				/* calls a sample takes */
				reps[m] = 1;
				for (;;) {
					double t0 = bench_now();
					for (int r = 0; r < reps[m]; r++)
						run(&j[m], m);
					double dt = bench_now() - t0;
					if (dt >= sample_seconds || reps[m] > 1 << 20)
						break;
					reps[m] *= 2;
				}
			}
			for (int r = 0; r < rounds; r++)
				for (int m = 0; m < nmethod; m++) {
					double t0 = bench_now();
					for (int i = 0; i < reps[m]; i++)
						run(&j[m], m);
					tm[m][r] = (bench_now() - t0) / reps[m];
				}
			size_t n = pass == 0 ? Y * nb : pass == 1 ? g.o * CK
								  : X * nb;
			double err = 0, big = 0;
			for (int m = 1; m < nmethod; m++)
				for (size_t i = 0; i < n; i++) {
					err = fmax(err, fabs(out[m][i] - out[0][i]));
					big = fmax(big, fabs(out[0][i]));
				}
			printf("%-34s %-4s", pass ? "" : cases[t].name,
			       pass_names[pass]);
			double med[NMETHOD];
			for (int m = 0; m < nmethod; m++) {
				med[m] = bench_median(tm[m], rounds);
				printf(" %11.1f", med[m] * 1e6);
			}
			if (nmethod == NMETHOD) {
				double blas = fmin(med[M_BLAS_SAMPLE],
						   med[M_BLAS_BATCH]);
				printf(" %8.0f%%", 100 * blas / med[M_PCG]);
			}
			printf("   (max diff %.1e of %.1e)\n", err, big);
			fflush(stdout);
		}
		free(x);
		free(k);
		free(dy);
		free(col);
		free(wide);
		free(dyw);
		for (int m = 0; m < NMETHOD; m++)
			free(out[m]);
	}
#ifdef HAVE_CBLAS
	printf("\nthe products, float, one thread: GFLOP/s, median of %d "
	       "rounds\n%-34s %-15s %-18s %9s %9s %8s\n", rounds,
	       "convolution", "product", "op(A)op(B) MxNxK", "pcg_sgemm",
	       "OpenBLAS", "pcg/BLAS");
	for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
		int k = cases[t].k, st = cases[t].st, pad = cases[t].pad;
		int oh = (cases[t].h + 2 * pad - k) / st + 1;
		int ow = (cases[t].w + 2 * pad - k) / st + 1;
		products(cases[t].name, cases[t].o, oh * ow,
			 cases[t].c * k * k, nb, rounds, sample_seconds);
	}
#endif
	return 0;
}
