/*
 * pcg_conv.c — the data movement of convolution as im2col + GEMM.
 *
 * im2col lays out, for one sample x[C][H][W], the patch under every output
 * position as a column: col[(c kh + a) kw + b][i OW + j] =
 * x[c][i s + a - p][j s + b - p] (0 outside the image).  The convolution is
 * then one GEMM, y = K col with K viewed as O x (C kh kw).  col2im is its
 * transpose: it adds every column back onto the image positions it came
 * from (the VJP of im2col).  No allocation, no global state.
 */
#include "pcg_runtime.h"

#define DEFINE_CONV(SFX, REAL)                                               \
	void pcg_im2col_##SFX(int c, int h, int w, int kh, int kw, int st,   \
			      int pad, int oh, int ow, const REAL *x,        \
			      REAL *col)                                     \
	{                                                                    \
		for (int ch = 0; ch < c; ch++)                               \
			for (int a = 0; a < kh; a++)                         \
				for (int b = 0; b < kw; b++) {               \
					REAL *row = col + ((size_t)(ch * kh + a) * kw + b) * \
							  (size_t)(oh * ow); \
					for (int i = 0; i < oh; i++) {       \
						int y = i * st + a - pad;    \
						for (int j = 0; j < ow; j++) { \
							int xx = j * st + b - pad; \
							row[i * ow + j] =    \
								y >= 0 && y < h && xx >= 0 && xx < w \
									? x[((size_t)ch * h + y) * w + xx] \
									: 0;         \
						}                            \
					}                                    \
				}                                            \
	}                                                                    \
	void pcg_col2im_##SFX(int c, int h, int w, int kh, int kw, int st,   \
			      int pad, int oh, int ow, int acc,              \
			      const REAL *col, REAL *dx)                     \
	{                                                                    \
		if (!acc)                                                    \
			for (size_t i = 0; i < (size_t)c * h * w; i++)       \
				dx[i] = 0;                                   \
		for (int ch = 0; ch < c; ch++)                               \
			for (int a = 0; a < kh; a++)                         \
				for (int b = 0; b < kw; b++) {               \
					const REAL *row = col + ((size_t)(ch * kh + a) * kw + b) * \
								(size_t)(oh * ow); \
					for (int i = 0; i < oh; i++) {       \
						int y = i * st + a - pad;    \
						if (y < 0 || y >= h)         \
							continue;            \
						for (int j = 0; j < ow; j++) { \
							int xx = j * st + b - pad; \
							if (xx >= 0 && xx < w) \
								dx[((size_t)ch * h + y) * w + xx] += \
									row[i * ow + j]; \
						}                            \
					}                                    \
				}                                            \
	}

DEFINE_CONV(f, float)
DEFINE_CONV(d, double)
