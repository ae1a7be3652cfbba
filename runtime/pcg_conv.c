/*
 * pcg_conv.c — the data movement of convolution as im2col + GEMM, with one
 * stride and one padding for both axes and no dilation.
 *
 * im2col lays out, for one sample x[C][H][W], the patch under every output
 * position as a column: col[(c kh + a) kw + b][i OW + j] =
 * x[c][i s + a - p][j s + b - p] (0 outside the image).  The convolution is
 * then one GEMM, y = K col with K viewed as O x (C kh kw).  col2im is its
 * transpose: it adds every column back onto the image positions it came
 * from (the VJP of im2col).  Both are the general pcg_im2col_ex and
 * pcg_col2im_ex of pcg_kernels.c with stride (s, s), padding (p, p) and
 * dilation (1, 1): the same loops, so the same bits.
 */
#include "pcg_runtime.h"

void
pcg_im2col_f(int c, int h, int w, int kh, int kw, int st, int pad, int oh,
	     int ow, const float *x, float *col)
{
	pcg_im2col_ex_f(c, h, w, kh, kw, st, st, pad, pad, 1, 1, oh, ow, x,
			col);
}

void
pcg_im2col_d(int c, int h, int w, int kh, int kw, int st, int pad, int oh,
	     int ow, const double *x, double *col)
{
	pcg_im2col_ex_d(c, h, w, kh, kw, st, st, pad, pad, 1, 1, oh, ow, x,
			col);
}

void
pcg_col2im_f(int c, int h, int w, int kh, int kw, int st, int pad, int oh,
	     int ow, int acc, const float *col, float *dx)
{
	pcg_col2im_ex_f(c, h, w, kh, kw, st, st, pad, pad, 1, 1, oh, ow, acc,
			col, dx);
}

void
pcg_col2im_d(int c, int h, int w, int kh, int kw, int st, int pad, int oh,
	     int ow, int acc, const double *col, double *dx)
{
	pcg_col2im_ex_d(c, h, w, kh, kw, st, st, pad, pad, 1, 1, oh, ow, acc,
			col, dx);
}
