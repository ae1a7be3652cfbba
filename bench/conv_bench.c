/*
 * conv_bench.c — convolution as im2col + GEMM (the runtime's way) against
 * a direct loop nest, for the shapes of examples/cnn.pcg and
 * examples/resnet.pcg, forward pass, float, one sample.  Prints the median
 * time of each and their ratio; checks that both give the same numbers
 * (within float rounding).  A benchmark: it prints figures.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pcg_runtime.h"

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void
direct(int c, int h, int w, int o, int kh, int kw, int st, int pad, int oh,
       int ow, const float *x, const float *k, float *y)
{
	for (int f = 0; f < o; f++)
		for (int i = 0; i < oh; i++)
			for (int j = 0; j < ow; j++) {
				float s = 0;
				for (int ch = 0; ch < c; ch++)
					for (int a = 0; a < kh; a++) {
						int r = i * st + a - pad;
						if (r < 0 || r >= h)
							continue;
						for (int b = 0; b < kw; b++) {
							int q = j * st + b - pad;
							if (q >= 0 && q < w)
								s += k[((f * c + ch) * kh + a) * kw + b] *
								     x[(ch * h + r) * w + q];
						}
					}
				y[(f * oh + i) * ow + j] = s;
			}
}

int
main(void)
{
	static const struct {
		const char *name;
		int c, h, w, o, k, st, pad;
	} cases[] = {
		{"cnn conv1  1x28x28 -> 8, 5x5", 1, 28, 28, 8, 5, 1, 0},
		{"cnn conv2  8x12x12 -> 16, 5x5", 8, 12, 12, 16, 5, 1, 0},
		{"resnet 8x16x16 -> 8, 3x3 pad 1", 8, 16, 16, 8, 3, 1, 1},
		{"resnet 16x8x8 -> 16, 3x3 pad 1", 16, 8, 8, 16, 3, 1, 1},
		{"resnet 8x16x16 -> 16, 3x3 s2 p1", 8, 16, 16, 16, 3, 2, 1},
	};
	printf("%-34s %12s %12s %8s\n", "convolution (float, 1 sample)",
	       "im2col+GEMM", "direct", "ratio");
	for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
		int c = cases[t].c, h = cases[t].h, w = cases[t].w;
		int o = cases[t].o, k = cases[t].k, st = cases[t].st;
		int pad = cases[t].pad;
		int oh = (h + 2 * pad - k) / st + 1, ow = (w + 2 * pad - k) / st + 1;
		int ck = c * k * k, p = oh * ow;
		float *x = malloc(sizeof(float) * c * h * w);
		float *K = malloc(sizeof(float) * o * ck);
		float *col = malloc(sizeof(float) * ck * p);
		float *y1 = malloc(sizeof(float) * o * p);
		float *y2 = malloc(sizeof(float) * o * p);
		for (int i = 0; i < c * h * w; i++)
			x[i] = (float)((i * 7919) % 101) / 50.0f - 1;
		for (int i = 0; i < o * ck; i++)
			K[i] = (float)((i * 104729) % 97) / 48.0f - 1;
		double ta[21], tb[21];
		int reps = 200;
		for (int r = 0; r < 21; r++) {
			double t0 = now();
			for (int n = 0; n < reps; n++) {
				pcg_im2col_f(c, h, w, k, k, st, pad, oh, ow, x, col);
				pcg_sgemm(0, 0, o, p, ck, 1, K, ck, col, p, 0, y1, p);
			}
			double t1 = now();
			for (int n = 0; n < reps; n++)
				direct(c, h, w, o, k, k, st, pad, oh, ow, x, K, y2);
			double t2 = now();
			ta[r] = (t1 - t0) / reps;
			tb[r] = (t2 - t1) / reps;
		}
		qsort(ta, 21, sizeof *ta, cmp);
		qsort(tb, 21, sizeof *tb, cmp);
		double err = 0;
		for (int i = 0; i < o * p; i++)
			err = fmax(err, fabs(y1[i] - y2[i]));
		printf("%-34s %9.2f us %9.2f us %7.2fx   (max diff %.2g)\n",
		       cases[t].name, ta[10] * 1e6, tb[10] * 1e6, tb[10] / ta[10],
		       err);
		free(x);
		free(K);
		free(col);
		free(y1);
		free(y2);
	}
	return 0;
}
