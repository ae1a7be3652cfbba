/*
 * pcg_gemm.c — single-threaded GEMM for the generated code: pcg_sgemm and
 * pcg_dgemm (C = alpha * op(A) * op(B) + beta * C, row-major).
 *
 * Arithmetic.  k is cut into chunks of GEMM_KC.  For each element of C and
 * each chunk q, s_q is the sum of a(i,p) * b(p,j) over the chunk's p in
 * increasing order, starting from 0, each step one multiply-add (fused
 * when the target has a fast fma, else a multiply then an add).  Then
 *     c = alpha * s_0 + beta * c       (beta == 0: c = alpha * s_0)
 *     c = alpha * s_q + c              for q = 1, 2, ...
 * Every path below performs exactly these operations, so the result
 * depends only on k (and the build), not on m, n, the transpose flags,
 * the path taken, alignment or the data.  In particular a row computed
 * with m = 1 has the same bits as in a larger batch.
 *
 * Two paths.  Small products (up to GEMM_DI rows or columns, as in batch-1
 * layers, or few flops) go through a direct loop nest over tiles of C,
 * with the long side of C along the vectors and op(B) read in place
 * (strided, or copied a block at a time when transposed and the tile has
 * several rows).  The rest is blocked: op(B) is packed
 * in panels of GEMM_KC x GEMM_NC into a fixed local buffer (micro-panels of
 * GEMM_NR columns, zero-padded), and a GEMM_MR x GEMM_NR micro-kernel
 * reads A in place (an edge strip is copied, zero-padded) and keeps its
 * accumulator tile in registers.  The loops are written with fixed trip
 * counts and restrict pointers so that gcc and clang vectorise them; no
 * intrinsics.  Nothing is allocated, and the panels take under 32 KiB of
 * stack.
 */
#include <math.h>
#include <stddef.h>

#include "pcg_runtime.h"

/* Chunk of k: the only blocking that shows in the result. */
#define GEMM_KC 128
/* Rows of the micro-kernel: it is written out for six rows. */
#define GEMM_MR 6
/* Rows of C per direct tile, and rows of op(B) copied at a time there. */
#define GEMM_DI 4
#define GEMM_DP 64

/* Which products go the direct way (see above). */
#define GEMM_DIRECT(m, n, k)                                                  \
	((m) <= GEMM_DI || (n) <= GEMM_DI ||                                  \
	 (double)(m) * (n) * (k) <= 16.0 * 16 * 16)

/*
 * Use fmaf/fma only where the target has them in hardware (else they are
 * slow library calls).  gcc announces it with FP_FAST_FMA[F]; clang does
 * not, so also look at the target's FMA feature macros.
 */
#if defined(FP_FAST_FMAF) || defined(__FMA__) || defined(__ARM_FEATURE_FMA)
#define FMA_F(a, b, c) fmaf(a, b, c)
#else
#define FMA_F(a, b, c) ((a) * (b) + (c))
#endif
#if defined(FP_FAST_FMA) || defined(__FMA__) || defined(__ARM_FEATURE_FMA)
#define FMA_D(a, b, c) fma(a, b, c)
#else
#define FMA_D(a, b, c) ((a) * (b) + (c))
#endif

/*
 * Micro-tile shapes by vector width.  They do not change the arithmetic,
 * only how the work is tiled.  The micro-kernel keeps GEMM_MR rows of
 * GEMM_NR accumulators: two vectors a row, except with 16-byte vectors and
 * no FMA under clang, where the products need temporaries and two vectors
 * a row spill.  The B panel (GEMM_KC x GEMM_NC) takes at most 24 KiB.
 */
#if defined(__AVX512F__)
#define VEC_BYTES 64
#elif defined(__AVX__)
#define VEC_BYTES 32
#else
#define VEC_BYTES 16
#endif
#if VEC_BYTES == 16 && defined(__clang__)
#define VEC_PER_ROW 1
#else
#define VEC_PER_ROW 2
#endif
#define PANEL_BYTES (24 * 1024)

/*
 * gcc -O3 unrolls the short j loops of the micro-kernel completely before
 * vectorising, and then vectorises the p loop as in-order reductions,
 * several times slower.  Keeping them loops lets the vectoriser take j
 * (and unroll the vector loop afterwards).  clang needs no such hint.
 */
#if defined(__GNUC__) && !defined(__clang__)
#define GEMM_KEEP_LOOP _Pragma("GCC unroll 1")
#else
#define GEMM_KEEP_LOOP
#endif

/* ---------------------------------------------------------------- float */

#define REAL float
#define SFX(name) name##_s
#define GEMM_NAME pcg_sgemm
#define FMA FMA_F
#define GEMM_NR (VEC_PER_ROW * VEC_BYTES / 4)
#define GEMM_NC (PANEL_BYTES / (GEMM_KC * 4) / GEMM_NR * GEMM_NR)
#define GEMM_DJ 32
#include "pcg_gemm_tmpl.h"
#undef REAL
#undef SFX
#undef GEMM_NAME
#undef FMA
#undef GEMM_NR
#undef GEMM_NC
#undef GEMM_DJ

/* --------------------------------------------------------------- double */

#define REAL double
#define SFX(name) name##_d
#define GEMM_NAME pcg_dgemm
#define FMA FMA_D
#define GEMM_NR (VEC_PER_ROW * VEC_BYTES / 8)
#define GEMM_NC (PANEL_BYTES / (GEMM_KC * 8) / GEMM_NR * GEMM_NR)
#define GEMM_DJ 16
#include "pcg_gemm_tmpl.h"
