/*
 * pcg_dconv.h — the direct convolutions of pcg_gemm.c (pcg_dconv_tmpl.h),
 * and the width of its GEMM's panels, for pcg_pool.c's convolutions and
 * products.  The convolutions: one sample's forward pass and dx
 * computed without building its im2col columns, with the bits of the
 * im2col path.  Internal to the runtime; not installed.
 *
 * Each returns 1 when it computed the result, 0 when the convolution is
 * not one it takes (then it has written nothing and the caller takes the
 * im2col path): dx of strided rows (sw != 1), dK of fewer than 4 output
 * channels a group, or scratch too small.  scratch
 * holds scratch_reals reals (a sample's columns, c kh kw oh ow, are
 * always enough for the convolutions it takes).  x, k, y, dy and dx as in
 * pcg_conv_f and pcg_conv_dx_f for one sample; acc as there.
 */
#ifndef PCG_DCONV_H
#define PCG_DCONV_H

#include <stddef.h>

#include "pcg_runtime.h"

/* The GEMM's chunk of k (pcg_gemm.c, "Arithmetic"; pcg_runtime.h,
 * "Stack"), which pcg_pool.c also cuts products at. */
#ifndef PCG_GEMM_KC
#define PCG_GEMM_KC 128
#endif

/* The columns of the micro-panel of the GEMM copy this processor runs
 * (16 floats on AVX2, 32 on AVX-512; half as many doubles): pcg_pool.c
 * deals a product's columns out in multiples of it, so that no call gets
 * a part of a panel (a 16-column block on AVX-512 ran the 32-column
 * kernel half empty). */
int pcg_gemm_panel_cols_f(void);
int pcg_gemm_panel_cols_d(void);

/* The forward pass of batch samples, x and y x_step and y_step reals
 * apart. */
int pcg_dconv_fwd_f(const pcg_conv_geo *g, int batch, const float *x,
		    ptrdiff_t x_step, const float *k, float *y,
		    ptrdiff_t y_step, float *scratch, size_t scratch_reals);
int pcg_dconv_fwd_d(const pcg_conv_geo *g, int batch, const double *x,
		    ptrdiff_t x_step, const double *k, double *y,
		    ptrdiff_t y_step, double *scratch, size_t scratch_reals);
/* dx of batch samples, dy and dx y_step and x_step reals apart. */
int pcg_dconv_dx_f(const pcg_conv_geo *g, int batch, int acc, const float *k,
		   const float *dy, ptrdiff_t y_step, float *dx,
		   ptrdiff_t x_step, float *scratch, size_t scratch_reals);
int pcg_dconv_dx_d(const pcg_conv_geo *g, int batch, int acc,
		   const double *k, const double *dy, ptrdiff_t y_step,
		   double *dx, ptrdiff_t x_step, double *scratch,
		   size_t scratch_reals);

/* Columns lo .. hi-1 of dK, counted over the groups (group gi's column r
 * is gi c/groups kh kw + r), summed over the batch as pcg_conv_dk_f sums
 * them (its acc). */
int pcg_dconv_dk_f(const pcg_conv_geo *g, int batch, int acc, const float *x,
		   ptrdiff_t x_step, const float *dy, ptrdiff_t y_step,
		   float *dk, int lo, int hi, float *scratch,
		   size_t scratch_reals);
int pcg_dconv_dk_d(const pcg_conv_geo *g, int batch, int acc,
		   const double *x, ptrdiff_t x_step, const double *dy,
		   ptrdiff_t y_step, double *dk, int lo, int hi,
		   double *scratch, size_t scratch_reals);

/* The scratch the direct dK needs for every column at once (in reals of
 * either type); 0 where it does not take the convolution. */
size_t pcg_dconv_dk_reals(const pcg_conv_geo *g);

#endif
