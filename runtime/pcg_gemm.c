/*
 * pcg_gemm.c — single-threaded GEMM for the generated code: pcg_sgemm and
 * pcg_dgemm (C = alpha * op(A) * op(B) + beta * C, row-major).
 *
 * Arithmetic.  k is cut into chunks of GEMM_KC.  For each element of C and
 * each chunk q, s_q is the sum of a(i,p) * b(p,j) over the chunk's p in
 * increasing order, starting from 0, each step one multiply-add (fused
 * when the target has a fast fma or the processor runs the AVX2 copy
 * below, else a multiply then an add; never fused under PCG_REPRODUCIBLE).
 * Then
 *     c = alpha * s_0 + beta * c       (beta == 0: c = alpha * s_0)
 *     c = alpha * s_q + c              for q = 1, 2, ...
 * Every path below performs exactly these operations, so the result
 * depends only on k (and the build, and FMA), not on m, n, the transpose
 * flags, the path taken, alignment or the data.  In particular a row computed
 * with m = 1 has the same bits as in a larger batch.
 *
 * Two main paths.  Small products (up to GEMM_DI rows or columns, or few
 * flops) go through a direct loop nest over tiles of C,
 * with the long side of C along the vectors and op(B) read in place
 * (strided, or copied a block at a time when transposed and the tile has
 * several rows).  The rest is blocked: op(B) is packed
 * in panels of GEMM_KC x GEMM_NC into a fixed local buffer (micro-panels of
 * GEMM_NR columns, zero-padded), and a GEMM_MR x GEMM_NR micro-kernel
 * reads A in place (an edge strip is copied, zero-padded) and keeps its
 * accumulator tile in registers.  Batch-1 products have paths of their
 * own: K = 1 (an outer product) a loop over the rows of C; M = 1 with
 * op(B) along its rows (dy W) register tiles of up to four vectors of
 * outputs over a whole chunk of k; M = 1 with W^T (x W^T) blocks of W
 * transposed in registers (below, "One row times W^T").  The loops are
 * written with fixed trip counts and restrict pointers so that gcc and
 * clang vectorise them; the only intrinsics are those of the transposes,
 * in the x86 copies for AVX2 and AVX-512.  Nothing is allocated; the
 * buffers are sized by the tile macros below (by default the panels take
 * under 32 KiB of stack, and a product on the direct path under 3 KiB).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pcg_dconv.h"
#include "pcg_runtime.h"

#if defined(PCG_GEMM_CBLAS) && defined(PCG_REPRODUCIBLE)
#error "PCG_REPRODUCIBLE needs the runtime's own GEMM, not CBLAS"
#endif

/*
 * The direct convolutions' entry points (pcg_dconv.h): each returns 0,
 * computing nothing, where dconv_takes says the geometry or the scratch
 * is not for it, and the caller goes the im2col way.
 */
#define DCONV_ENTRY(T, REAL, S)                                               \
	int pcg_dconv_fwd_##T(const pcg_conv_geo *g, int batch,               \
			      const REAL *x, ptrdiff_t x_step, const REAL *k, \
			      REAL *y, ptrdiff_t y_step, REAL *scratch,       \
			      size_t scratch_reals)                           \
	{                                                                     \
		if (!dconv_takes(g, 0, 0, 0, scratch_reals))                  \
			return 0;                                             \
		if (batch > 0)                                                \
			(void)DCONV_DISPATCH(dconv_fwd_##S,                   \
					     (g, batch, x, x_step, k, y,      \
					      y_step, scratch));              \
		return 1;                                                     \
	}                                                                     \
                                                                              \
	int pcg_dconv_dx_##T(const pcg_conv_geo *g, int batch, int acc,       \
			     const REAL *k, const REAL *dy, ptrdiff_t y_step, \
			     REAL *dx, ptrdiff_t x_step, REAL *scratch,       \
			     size_t scratch_reals)                            \
	{                                                                     \
		if (!dconv_takes(g, 1, 0, 0, scratch_reals))                  \
			return 0;                                             \
		return DCONV_DISPATCH(dconv_dx_##S,                           \
				      (g, batch, acc, k, dy, y_step, dx,      \
				       x_step, scratch));                     \
	}                                                                     \
                                                                              \
	int pcg_dconv_dk_##T(const pcg_conv_geo *g, int batch, int acc,       \
			     const REAL *x, ptrdiff_t x_step, const REAL *dy, \
			     ptrdiff_t y_step, REAL *dk, int lo, int hi,      \
			     REAL *scratch, size_t scratch_reals)             \
	{                                                                     \
		if (!dconv_takes(g, 2, lo, hi, scratch_reals))                \
			return 0;                                             \
		if (batch > 0 && hi > lo)                                     \
			(void)DCONV_DISPATCH(dconv_dk_##S,                    \
					     (g, batch, acc, x, x_step, dy,   \
					      y_step, dk, lo, hi, scratch));  \
		return 1;                                                     \
	}

/*
 * What pcg_sgemm_upd's how asks for once w is known: without a parameter
 * nothing is updated, so C is the result (no PCG_UPD_SCRATCH), and a Z-IL
 * error sum is the plain product (-1).
 */
static inline int
gemm_upd_how(int how, const void *w)
{
	if (w)
		return how;
	how &= ~PCG_UPD_SCRATCH;
	return how == PCG_UPD_BP ? how : -1;
}

/*
 * pcg_Sgemm and pcg_Sgemm_upd for the reals REAL (S s or d; T f or d, the
 * element-wise functions' suffix): their bodies are GEMM_BODY(S, T, REAL)
 * and UPD_BODY(S, T, REAL), defined by the build below.
 */
#define GEMM_ENTRY(S, T, REAL)                                                \
	void pcg_##S##gemm(int trans_a, int trans_b, int m, int n, int k,     \
			   REAL alpha, const REAL *a, int lda, const REAL *b, \
			   int ldb, REAL beta, REAL *c, int ldc)              \
	{                                                                     \
		GEMM_BODY(S, T, REAL)                                         \
	}                                                                     \
                                                                              \
	void pcg_##S##gemm_upd(int trans_a, int trans_b, int m, int n, int k, \
			       REAL alpha, const REAL *a, int lda,            \
			       const REAL *b, int ldb, REAL *c, int ldc,      \
			       int how, REAL lr, REAL *w)                     \
	{                                                                     \
		UPD_BODY(S, T, REAL)                                          \
	}

#ifdef PCG_GEMM_CBLAS
/*
 * -Dcblas=true: every product goes to CBLAS.  The semantics of the
 * arguments are the same (row-major, row strides); the empty cases keep
 * the contract above (beta == 0 never reads C).  The summation order is
 * then the BLAS's: it may change with m and n, so a row computed alone
 * need not have the bits it has in a batch.
 */
#include <cblas.h>

#define CBLAS_OR_EMPTY(REAL_, gemm_)                                          \
	if (m <= 0 || n <= 0)                                                 \
		return;                                                       \
	if (k <= 0 || alpha == 0) {                                           \
		for (int i = 0; i < m; i++) {                                 \
			REAL_ *ci = c + (ptrdiff_t)i * ldc;                   \
			for (int j = 0; j < n; j++)                           \
				ci[j] = beta == 0 ? 0 : beta * ci[j];         \
		}                                                             \
		return;                                                       \
	}                                                                     \
	gemm_(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,             \
	      trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, \
	      ldb, beta, c, ldc)

/* The update after the BLAS's product, a row at a time, by the
 * element-wise functions whose arithmetic it is. */
#define GEMM_BODY(S, T, REAL) CBLAS_OR_EMPTY(REAL, cblas_##S##gemm);
#define UPD_BODY(S, T, REAL)                                                  \
	how = gemm_upd_how(how, w);                                           \
	pcg_##S##gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, 0, c, \
		      ldc);                                                   \
	for (int i = 0; how >= 0 && i < m; i++) {                             \
		ptrdiff_t at = (ptrdiff_t)i * ldc;                            \
		if ((how & ~PCG_UPD_SCRATCH) != PCG_UPD_BP) {                 \
			pcg_zil_sgd_##T(n, lr, w + at, c + at);               \
		} else {                                                      \
			pcg_canon_##T(n, c + at);                             \
			if (w)                                                \
				pcg_sgd_##T(n, lr, w + at, c + at);           \
		}                                                             \
	}

GEMM_ENTRY(s, f, float)
GEMM_ENTRY(d, d, double)

/* The products are not cut (pcg_pool.c, MT_SPLIT); a width for the
 * declaration's sake. */
int
pcg_gemm_panel_cols_f(void)
{
	return 16;
}

int
pcg_gemm_panel_cols_d(void)
{
	return 16;
}

/* With CBLAS the products are the BLAS's: no direct convolutions (their
 * bits are those of the runtime's own GEMM): every entry point returns 0. */
static int
dconv_none(const pcg_conv_geo *g, ...)
{
	(void)g;
	return 0;
}
#define dconv_takes(g, ...) dconv_none(g, __VA_ARGS__)
#define DCONV_DISPATCH(fn, args) dconv_none args

DCONV_ENTRY(f, float, s)
DCONV_ENTRY(d, double, d)

size_t
pcg_dconv_dk_reals(const pcg_conv_geo *g)
{
	(void)g;
	return 0;
}
#else

/*
 * Tile sizes, set at compile time (pcg_runtime.h, "Stack"): each sizes a
 * buffer on the stack.
 *   PCG_GEMM_KC           chunk of k: the only blocking that shows in the
 *                         result (another value gives other bits)
 *   PCG_GEMM_PANEL_BYTES  the packed B panel of the blocked path
 *   PCG_GEMM_DP           rows of op(B) copied at a time by the direct path
 *   PCG_GEMM_DJ_BYTES     bytes of a row of a direct tile of C (32 floats,
 *                         16 doubles)
 */
/* PCG_GEMM_KC's default is in pcg_dconv.h, which pcg_pool.c shares. */
#ifndef PCG_GEMM_PANEL_BYTES
#define PCG_GEMM_PANEL_BYTES (24 * 1024)
#endif
#ifndef PCG_GEMM_DP
#define PCG_GEMM_DP 16
#endif
#ifndef PCG_GEMM_DJ_BYTES
#define PCG_GEMM_DJ_BYTES 128
#endif
#if PCG_GEMM_KC < 1 || PCG_GEMM_DP < 1 || PCG_GEMM_DJ_BYTES < 16 ||         \
	PCG_GEMM_DJ_BYTES % 16 != 0 || PCG_GEMM_PANEL_BYTES < 0
#error "PCG_GEMM_KC, PCG_GEMM_DP >= 1; PCG_GEMM_DJ_BYTES a multiple of 16"
#endif

#define GEMM_KC PCG_GEMM_KC
#define GEMM_DP PCG_GEMM_DP
#define PANEL_BYTES PCG_GEMM_PANEL_BYTES
/* Rows of the micro-kernel: it is written out for six rows. */
#define GEMM_MR 6
/* Rows of C per direct tile. */
#define GEMM_DI 4
/* Columns of the B panel for micro-panels of NR reals of SIZE bytes: as
 * many as PANEL_BYTES holds, at least one micro-panel. */
#define GEMM_NC_OF(NR, SIZE)                                                  \
	(PANEL_BYTES / (GEMM_KC * (SIZE)) / (NR) * (NR) > 0                   \
		 ? PANEL_BYTES / (GEMM_KC * (SIZE)) / (NR) * (NR)             \
		 : (NR))

/*
 * The blocked path and the copy of op(B) in the direct path keep their
 * buffers in functions of their own, never inlined into the entry point
 * (clang would, and every call, even a batch-1 product, would then reserve
 * the panels' stack).  GEMM_INLINE: a function whose loops are written for
 * constant arguments at each call, inlined whatever the compiler's budget
 * (gcc otherwise clones it for the constants only while the file is
 * small).
 */
#if defined(__GNUC__) || defined(__clang__)
#define GEMM_NOINLINE __attribute__((noinline))
#define GEMM_INLINE inline __attribute__((always_inline))
#else
#define GEMM_NOINLINE
#define GEMM_INLINE inline
#endif

/* Which products go the direct way (see above): in integers, without
 * overflow (m * n <= 4096 first), and without double arithmetic. */
#define GEMM_DIRECT(m, n, k)                                                  \
	((m) <= GEMM_DI || (n) <= GEMM_DI ||                                  \
	 ((int64_t)(m) * (n) <= 16 * 16 * 16 &&                               \
	  (int64_t)(m) * (n) * (k) <= 16 * 16 * 16))

/*
 * Use fmaf/fma only where the target has them in hardware (else they are
 * slow library calls).  gcc announces it with FP_FAST_FMA[F]; clang does
 * not, so also look at the target's FMA feature macros.  On ARM,
 * __ARM_FEATURE_FMA says the FPU fuses, but a single-precision FPU
 * (Cortex-M4F: __ARM_FP without bit 3) fuses floats only: there fma is
 * software.
 */
#if defined(FP_FAST_FMAF) || defined(__FMA__) || defined(__ARM_FEATURE_FMA)
#define FMA_F(a, b, c) fmaf(a, b, c)
#define FUSED_F 1
#else
#define FMA_F(a, b, c) ((a) * (b) + (c))
#define FUSED_F 0
#endif
#if defined(FP_FAST_FMA) || defined(__FMA__) ||                              \
	(defined(__ARM_FEATURE_FMA) && defined(__ARM_FP) && (__ARM_FP & 8))
#define FMA_D(a, b, c) fma(a, b, c)
#define FUSED_D 1
#else
#define FMA_D(a, b, c) ((a) * (b) + (c))
#define FUSED_D 0
#endif
/* PCG_REPRODUCIBLE: never fused, on any target (pcg_runtime.h). */
#ifdef PCG_REPRODUCIBLE
#undef FMA_F
#undef FMA_D
#undef FUSED_F
#undef FUSED_D
#define FMA_F(a, b, c) ((a) * (b) + (c))
#define FMA_D(a, b, c) ((a) * (b) + (c))
#define FUSED_F 0
#define FUSED_D 0
#endif

/*
 * Micro-tile shapes by vector width.  They do not change the arithmetic,
 * only how the work is tiled.  The micro-kernel keeps GEMM_MR rows of
 * GEMM_NR accumulators: two vectors a row, except with 16-byte vectors and
 * no FMA under clang, where the products need temporaries and two vectors
 * a row spill.  The B panel (GEMM_KC x GEMM_NC) takes at most
 * PCG_GEMM_PANEL_BYTES (or one micro-panel if that is larger).
 */
#if defined(__AVX512F__)
#define VEC_BYTES 64
#define VEC_BITS 512
#elif defined(__AVX__)
#define VEC_BYTES 32
#define VEC_BITS 256
#else
#define VEC_BYTES 16
#define VEC_BITS 128
#endif
#if VEC_BYTES == 16 && defined(__clang__)
#define VEC_PER_ROW 1
#else
#define VEC_PER_ROW 2
#endif

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

/*
 * Copies of short rows (the direct convolutions' copy of their input,
 * 8 to 34 reals a row) as the loops they are: gcc otherwise turns each
 * row's loops into calls of memcpy and memset, whose calls cost more
 * than the copies (and make it keep the loops' state on the stack).
 */
#if defined(__GNUC__) && !defined(__clang__)
#define GEMM_ROW_LOOPS                                                        \
	__attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define GEMM_ROW_LOOPS
#endif

/*
 * A second copy for AVX2 and FMA, chosen at run time.  A build for a
 * generic x86-64 (no -march) only has 16-byte SSE2 vectors and no fused
 * multiply-add; gcc and clang compile the same C for AVX2 and FMA through
 * the target attribute, and the entry points take that copy when the
 * processor has both (x86-64 processors since 2013).  Its multiply-adds
 * are fused, so its bits can differ from the generic copy's in the last
 * place: a result depends on k, the build and whether the processor has
 * FMA, never on the data, m, n or the path (the same is true of the
 * system's libm, which also picks FMA code at run time).  Builds for a
 * target with AVX2 already (-march=native on such a machine) need no
 * second copy.
 *
 * Reproducible mode (PCG_REPRODUCIBLE) keeps the AVX2 copy but without
 * FMA: the same multiplies and adds, one rounding each, in the same
 * order, only in wider vectors, so it gives the generic copy's bits and
 * the choice changes nothing but the speed (tests/repro checks it on
 * targets that take either copy).
 */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) &&      \
	!defined(__AVX2__) && !defined(PCG_GEMM_NO_DISPATCH)
#define GEMM_DISPATCH_AVX2 1
#ifdef PCG_REPRODUCIBLE
#define AVX2_ATTR __attribute__((target("avx2")))
#define AVX2_OK() __builtin_cpu_supports("avx2")
#define AVX2_FMA_F FMA_F
#define AVX2_FMA_D FMA_D
#define AVX2_FUSED 0
#else
#define AVX2_ATTR __attribute__((target("avx2,fma")))
#define AVX2_OK()                                                             \
	(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
#define AVX2_FMA_F fmaf
#define AVX2_FMA_D fma
#define AVX2_FUSED 1
#endif
#endif

/*
 * A third copy for AVX-512, chosen before the AVX2 one when the processor
 * has it: the same C again, its micro-panels twice as wide (32 floats, 16
 * doubles: two 512-bit vectors a row).  Its arithmetic is the AVX2 copy's
 * (the same fused multiply-adds, or in reproducible mode the same
 * multiplies and adds, in the same order), so it gives the AVX2 copy's
 * bits and only the speed changes (test_gemm_paths.c compares them).  The
 * subsets named are those of every AVX-512 processor (Skylake-X and later,
 * Zen 4 and later); gcc and clang then use the zmm registers.
 */
#if defined(GEMM_DISPATCH_AVX2) && !defined(__AVX512F__)
#define GEMM_DISPATCH_AVX512 1
#define AVX512_ISA "avx2,avx512f,avx512vl,avx512dq,avx512bw"
#ifdef PCG_REPRODUCIBLE
#define AVX512_ATTR __attribute__((target(AVX512_ISA)))
#else
#define AVX512_ATTR __attribute__((target(AVX512_ISA ",fma")))
#endif
#define AVX512_OK()                                                           \
	(AVX2_OK() && __builtin_cpu_supports("avx512f") &&                    \
	 __builtin_cpu_supports("avx512vl") &&                                \
	 __builtin_cpu_supports("avx512dq") &&                                \
	 __builtin_cpu_supports("avx512bw"))
#endif

#define GEMM_ATTR

/*
 * One row times W^T (x W^T, W row-major: a layer's forward at batch 1),
 * in float.  The vectors must run across outputs (rows of W), each a
 * sequential sum over k, but a row of W is contiguous along k: a plain
 * loop reads W with a stride and runs at a fifth of cblas_sgemv's speed.
 * The copies that run on AVX2 (the AVX2 and AVX-512 copies, or the
 * generic copy of a build for AVX2) define GEMM_ROWT and get
 * pcg_gemm_tmpl.h's row_t: blocks of 8 rows by 4 columns of W transposed
 * in registers with AVX intrinsics (so x86 only), then 4 multiply-adds in
 * order of p into one accumulator of 8 outputs.  ROWT_FMA is the copy's
 * multiply-add (fused, or not in reproducible mode), so a row keeps its
 * bits in a batch.
 */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) &&      \
	(defined(GEMM_DISPATCH_AVX2) || defined(__AVX2__))
#include <immintrin.h>

#define GEMM_HAVE_ROWT 1
/*
 * The blocks stay in registers only if these functions are inlined and
 * their short loops unrolled (gcc -O2 leaves some, with their arrays on
 * the stack; clang unrolls them unasked).
 */
#define ROWT_INLINE inline __attribute__((always_inline))
#if defined(__GNUC__) && !defined(__clang__)
#define ROWT_UNROLL _Pragma("GCC unroll 8")
#else
#define ROWT_UNROLL
#endif
/*
 * clang turns a group's 8 rows of W (its two bases moved along k, at 0 to
 * 3 strides from them) into 8 pointers of their own, 32 for four groups,
 * most of them kept on the stack and reloaded before each load of W
 * (40-63 % of cblas_sgemv's speed on mlp's 1 x 256 x 784 and 1 x 256 x
 * 256).  Hiding each base's value from it after each step (an empty asm
 * that may change it) leaves it the bases and the stride: 49-72 %, as
 * gcc's 52-65 %.  gcc does not need it (and runs as fast with it).
 */
#if defined(__clang__)
#define ROWT_OPAQUE(p) __asm__("" : "+r"(p))
#else
#define ROWT_OPAQUE(p) ((void)0)
#endif
#if defined(PCG_REPRODUCIBLE) ||                                              \
	(!defined(GEMM_DISPATCH_AVX2) && !defined(__FMA__))
#define ROWT_FMA(a, b, c) _mm256_add_ps(_mm256_mul_ps(a, b), c)
#else
#define ROWT_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#endif

/*
 * The micro-kernel's accumulators as vectors of intrinsics in the copies
 * that run on AVX2 (pcg_gemm_tmpl.h's kernel, with GEMM_VK): the same
 * multiply-adds in the same order of p, fused exactly where the copy's
 * FMA is, so the same bits.  Written as the plain loops, gcc keeps the
 * rows in registers but clang 14 does not: it keeps each accumulator's
 * value of the previous iteration on the stack and redoes the last
 * multiply-add after the loop, and ran the products at a third of gcc's
 * speed.  The same holds for a row's tiles at batch 1 (row_n_tile,
 * dy W: clang stored each of its 8 accumulators at every step: 39-65 %
 * of cblas_sgemv's speed on the examples' shapes, 79-219 % with vectors).
 * gcc keeps the loops: with the intrinsics (and the strip inlined) its
 * products were 0-15 % slower in two runs on an AVX2 machine.
 * The includer defines GEMM_VK_W (256 or 512), GEMM_VK_S (ps or pd)
 * and GEMM_VK_FUSED; the vector type (GEMM_VK_T) and its reals
 * (GEMM_VK_N) follow from the first two.
 */
#define VK_OP3(w, op, s) _mm##w##_##op##_##s
#define VK_OP2(w, op, s) VK_OP3(w, op, s)
#define VK_OP(op) VK_OP2(GEMM_VK_W, op, GEMM_VK_S)
#define VK_TYPE_ps(w) __m##w
#define VK_TYPE_pd(w) __m##w##d
#define VK_BITS_ps 32
#define VK_BITS_pd 64
#define VK_T2(w, s) VK_TYPE_##s(w)
#define VK_T1(w, s) VK_T2(w, s)
#define VK_B2(s) VK_BITS_##s
#define VK_B1(s) VK_B2(s)
#define GEMM_VK_T VK_T1(GEMM_VK_W, GEMM_VK_S)
#define GEMM_VK_N (GEMM_VK_W / VK_B1(GEMM_VK_S))
#if defined(__clang__)
#define GEMM_VK_KERNEL 1
#endif
#endif

/*
 * The direct convolutions (pcg_dconv_tmpl.h) read the input through a
 * copy when the convolution pads or strides its columns: rows and
 * columns from -ph and -pw, as many as the output reaches, zero outside
 * the input, each row split in sw runs by column modulo sw.  Its offset
 * table (an int for each of the ck rows of a group's columns) comes
 * first in the scratch, ck reals (an int is no larger than a float).
 */
static inline int
dconv_rows(const pcg_conv_geo *g)
{
	return (g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1;
}

static inline int
dconv_cols(const pcg_conv_geo *g)
{
	return (g->ow - 1) * g->sw + (g->kw - 1) * g->dw + 1;
}

/* Columns of each of the sw runs a row of the copy is split into. */
static inline int
dconv_phase(const pcg_conv_geo *g)
{
	return (dconv_cols(g) + g->sw - 1) / g->sw;
}

/* Reals of the copy of the input (0: read in place). */
static inline ptrdiff_t
dconv_copy(const pcg_conv_geo *g)
{
	if (g->ph == 0 && g->pw == 0 && g->sw == 1)
		return 0;
	return (ptrdiff_t)g->c * dconv_rows(g) * g->sw * dconv_phase(g);
}

/* dx reads dy through a copy with a border (pcg_dconv_tmpl.h): ml
 * columns on the left, rows of ld reals, enough on the right for the
 * last tile of a row of dx, a whole vector wide (64 bytes). */
static inline int
dconv_dx_left(const pcg_conv_geo *g)
{
	int left = (g->kw - 1) * g->dw - g->pw;

	return left > 0 ? left : 0;
}

static inline int
dconv_dx_ld(const pcg_conv_geo *g)
{
	int right = g->w + g->pw - g->ow;

	return dconv_dx_left(g) + g->ow + (right > 0 ? right : 0) + 64 / 4;
}

static inline ptrdiff_t
dconv_table(const pcg_conv_geo *g)
{
	return (ptrdiff_t)g->c / g->groups * g->kh * g->kw;
}

/* ---------------------------------------------------------------- float */

#define REAL float
#define SFX(name) name##_s
#define FMA FMA_F
#define GEMM_NR (VEC_PER_ROW * VEC_BYTES / 4)
#define GEMM_NC GEMM_NC_OF(GEMM_NR, 4)
#define GEMM_DJ (PCG_GEMM_DJ_BYTES / 4)
#if defined(GEMM_HAVE_ROWT) && !defined(GEMM_DISPATCH_AVX2)
#define GEMM_ROWT 1
#define GEMM_VK 1
#define GEMM_VK_S ps
#define GEMM_VK_FUSED FUSED_F
#define GEMM_VK_W VEC_BITS
#endif
#include "pcg_gemm_tmpl.h"
#undef SFX
#undef GEMM_NR
#undef GEMM_NC

#ifdef GEMM_DISPATCH_AVX2
#undef GEMM_ATTR
#define GEMM_ATTR AVX2_ATTR
#define SFX(name) name##_s_avx2
#define GEMM_ROWT 1
#undef FMA
#define FMA(a, b, c) AVX2_FMA_F(a, b, c)
#define GEMM_NR 16
#define GEMM_VK 1
#define GEMM_VK_S ps
#define GEMM_VK_FUSED AVX2_FUSED
#define GEMM_VK_W 256
#define GEMM_NC GEMM_NC_OF(GEMM_NR, 4)
#include "pcg_gemm_tmpl.h"
#undef SFX
#undef GEMM_NR
#undef GEMM_NC
#undef GEMM_VK_W
#undef GEMM_ATTR
#define GEMM_ATTR
#endif
#ifdef GEMM_DISPATCH_AVX512
#undef GEMM_ATTR
#define GEMM_ATTR AVX512_ATTR
#define SFX(name) name##_s_avx512
#define GEMM_NR 32
#define GEMM_NC GEMM_NC_OF(GEMM_NR, 4)
#define GEMM_VK_W 512
#include "pcg_gemm_tmpl.h"
#undef SFX
#undef GEMM_NR
#undef GEMM_NC
#undef GEMM_ATTR
#define GEMM_ATTR
#endif
#undef GEMM_ROWT
#undef GEMM_VK
#undef GEMM_VK_S
#undef GEMM_VK_FUSED
#undef GEMM_VK_W
#undef REAL
#undef FMA
#undef GEMM_DJ

/* --------------------------------------------------------------- double */

#define REAL double
#define SFX(name) name##_d
#define FMA FMA_D
#define GEMM_NR (VEC_PER_ROW * VEC_BYTES / 8)
#define GEMM_NC GEMM_NC_OF(GEMM_NR, 8)
#define GEMM_DJ (PCG_GEMM_DJ_BYTES / 8)
#if defined(GEMM_HAVE_ROWT) && !defined(GEMM_DISPATCH_AVX2)
#define GEMM_VK 1
#define GEMM_VK_S pd
#define GEMM_VK_FUSED FUSED_D
#define GEMM_VK_W VEC_BITS
#endif
#include "pcg_gemm_tmpl.h"
#undef SFX
#undef GEMM_NR
#undef GEMM_NC

#ifdef GEMM_DISPATCH_AVX2
#undef GEMM_ATTR
#define GEMM_ATTR AVX2_ATTR
#define SFX(name) name##_d_avx2
#undef FMA
#define FMA(a, b, c) AVX2_FMA_D(a, b, c)
#define GEMM_NR 8
#define GEMM_VK 1
#define GEMM_VK_S pd
#define GEMM_VK_FUSED AVX2_FUSED
#define GEMM_VK_W 256
#define GEMM_NC GEMM_NC_OF(GEMM_NR, 8)
#include "pcg_gemm_tmpl.h"
#undef SFX
#undef GEMM_NR
#undef GEMM_NC
#undef GEMM_VK_W
#undef GEMM_ATTR
#define GEMM_ATTR
#endif
#ifdef GEMM_DISPATCH_AVX512
#undef GEMM_ATTR
#define GEMM_ATTR AVX512_ATTR
#define SFX(name) name##_d_avx512
#define GEMM_NR 16
#define GEMM_NC GEMM_NC_OF(GEMM_NR, 8)
#define GEMM_VK_W 512
#include "pcg_gemm_tmpl.h"
#endif

/* ------------------------------------------------------------------ entry */

/* The copy for the processor: fn_avx512, fn_avx2 or fn (also the direct
 * convolutions' entry points, above). */
#if defined(GEMM_DISPATCH_AVX512)
#define COPY_DISPATCH(fn, args)                                               \
	(AVX512_OK() ? fn##_avx512 args : AVX2_OK() ? fn##_avx2 args : fn args)
#elif defined(GEMM_DISPATCH_AVX2)
#define COPY_DISPATCH(fn, args) (AVX2_OK() ? fn##_avx2 args : fn args)
#else
#define COPY_DISPATCH(fn, args) fn args
#endif

#define GEMM_BODY(S, T, REAL)                                                 \
	COPY_DISPATCH(gemm_##S, (trans_a, trans_b, m, n, k, alpha, a, lda, b, \
				 ldb, beta, c, ldc));
#define UPD_BODY(S, T, REAL)                                                  \
	COPY_DISPATCH(gemm_upd_##S, (trans_a, trans_b, m, n, k, alpha, a,     \
				     lda, b, ldb, c, ldc, how, lr, w));

GEMM_ENTRY(s, f, float)
GEMM_ENTRY(d, d, double)

int
pcg_gemm_panel_cols_f(void)
{
	return COPY_DISPATCH(panel_cols_s, ());
}

int
pcg_gemm_panel_cols_d(void)
{
	return COPY_DISPATCH(panel_cols_d, ());
}

/*
 * The direct convolutions: dx only for unit-stride rows, dK for at least
 * 4 output channels a group (they run along the vectors), and only when
 * the scratch holds what they need (the offset table, the copy of the
 * input, dK^T and dy^T; for dx, dy with its border).  Dispatched as the
 * GEMM is, so that a result has the bits of the GEMM on the im2col
 * columns.
 */
static int
dconv_takes(const pcg_conv_geo *g, int pass, int lo, int hi,
	    size_t scratch_reals)
{
	ptrdiff_t ck = dconv_table(g), need;

	if (g->groups < 1 || g->oh < 1 || g->ow < 1 || g->sw < 1)
		return 0;
	if (pass == 2) /* dK, columns lo .. hi-1: the output channels
			* along the vectors, so only for enough of them */
		return g->o / g->groups >= 4 &&
		       (size_t)(ck + (ptrdiff_t)(hi - lo) * (g->o / g->groups) +
				(ptrdiff_t)g->oh * g->ow * (g->o / g->groups) +
				dconv_copy(g)) <= scratch_reals;
	if (pass == 0)
		need = ck + dconv_copy(g);
	else if (g->sw != 1) /* dx adds along unit-stride rows only */
		return 0;
	else
		need = (ptrdiff_t)g->o / g->groups * g->oh * dconv_dx_ld(g);
	return (size_t)need <= scratch_reals;
}

#define DCONV_DISPATCH COPY_DISPATCH

DCONV_ENTRY(f, float, s)
DCONV_ENTRY(d, double, d)

size_t
pcg_dconv_dk_reals(const pcg_conv_geo *g)
{
	int cols = g->c * g->kh * g->kw;
	size_t need = (size_t)(dconv_table(g) +
			       (ptrdiff_t)cols * (g->o / g->groups) +
			       (ptrdiff_t)g->oh * g->ow * (g->o / g->groups) +
			       dconv_copy(g));

	return dconv_takes(g, 2, 0, cols, need) ? need : 0;
}
#endif
