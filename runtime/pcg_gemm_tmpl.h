/*
 * pcg_gemm_tmpl.h — the body of pcg_sgemm and pcg_dgemm, written once for
 * a scalar type and a target and included once for each by pcg_gemm.c,
 * giving a file-local SFX(gemm).  Not an installed header.
 *
 * The includer defines:
 *   REAL          the scalar type
 *   SFX(name)     name with a type suffix (file-local helpers)
 *   GEMM_ATTR     attributes of every function (a target, or nothing)
 *   FMA(a, b, c)  a * b + c, fused where the target fuses it
 *   GEMM_MR, GEMM_NR   micro-tile rows and columns (NR a vector multiple)
 *   GEMM_NC       columns of the packed B panel (a multiple of GEMM_NR)
 *   GEMM_DJ       columns of C handled at once by the direct path
 *   GEMM_ROWT     (optional, float on x86 with AVX2) x W^T for one row
 *                 through AVX intrinsics, with ROWT_FMA
 * and the shared GEMM_KC, GEMM_DI, GEMM_DP, GEMM_NOINLINE and GEMM_INLINE.
 *
 * Every element of C comes out of the same arithmetic in every path (see
 * pcg_gemm.c), so the choice of path and the tile sizes never show in the
 * result: only GEMM_KC and the FMA choice do.
 */

/*
 * Loops of multiply-adds over vectors of intrinsics instead of arrays of
 * reals, where clang would keep the arrays on the stack (pcg_gemm.c,
 * GEMM_VK): the micro-kernel, a row's tiles (row_n_tile) and the direct
 * convolutions' tiles.  VK_FMA is the copy's FMA on vectors.
 */
#if defined(GEMM_VK)
#if defined(GEMM_VK_KERNEL)
#define VK_KERNEL 1
#endif
#if GEMM_VK_FUSED
#define VK_FMA(a, b, c) VK_OP(fmadd)(a, b, c)
#else
#define VK_FMA(a, b, c) VK_OP(add)(VK_OP(mul)(a, b), c)
#endif
#endif

/*
 * Merge the sum s of one chunk of k into *c: the first chunk gives
 * alpha * s + beta * c (beta == 0: *c is not read), later ones add
 * alpha * s.
 */
GEMM_ATTR static inline void
SFX(merge)(REAL *c, int first, REAL alpha, REAL s, REAL beta)
{
	if (!first)
		*c = FMA(alpha, s, *c);
	else if (beta == 0)
		*c = alpha * s;
	else
		*c = FMA(alpha, s, beta * *c);
}

/*
 * The update a product's result feeds (pcg_sgemm_upd, pcg_runtime.h):
 * how is PCG_UPD_BP or PCG_UPD_ZIL, with PCG_UPD_SCRATCH when C need not
 * be written; w[i * ldc + j] goes with C's element (i, j), and w is NULL
 * for PCG_UPD_BP without an update (gemm_upd_how: never with SCRATCH).
 */
typedef struct {
	int how;
	REAL lr;
	REAL *w;
	REAL walpha; /* the products' alpha for w: -alpha for Z-IL (below) */
} SFX(upd);

/*
 * The steps of the updates, each rounded on its own: a statement each, so
 * that no compiler contracts them into a fused multiply-add (clang does
 * within an expression in the copies for targets with FMA), which
 * pcg_canon, pcg_sgd and pcg_zil_sgd do not.
 */
GEMM_ATTR static inline REAL
SFX(plus0)(REAL x)
{
	REAL y = x + (REAL)0;

	return y;
}

/* w - lr * g: pcg_sgd */
GEMM_ATTR static inline REAL
SFX(descend)(REAL w, REAL lr, REAL g)
{
	REAL d = lr * g;

	return w - d;
}

/* w - lr * (0 - e): pcg_zil_sgd */
GEMM_ATTR static inline REAL
SFX(descend_zil)(REAL w, REAL lr, REAL e)
{
	REAL g = (REAL)0 - e;

	return SFX(descend)(w, lr, g);
}

/*
 * The update of the mr x nc block of C at c, its elements final, and of
 * the block of u->w at the same place, w: the arithmetic of pcg_canon
 * then pcg_sgd (PCG_UPD_BP), or of pcg_zil_sgd (PCG_UPD_ZIL), element by
 * element.
 */
GEMM_ATTR static void
SFX(upd_block)(const SFX(upd) *u, int mr, int nc, REAL *c, ptrdiff_t ldc,
	       REAL *w)
{
	REAL lr = u->lr;

	if ((u->how & ~PCG_UPD_SCRATCH) != PCG_UPD_BP) {
		for (int i = 0; i < mr; i++) {
			const REAL *restrict ci = c + i * ldc;
			REAL *restrict wi = w + i * ldc;

			for (int j = 0; j < nc; j++)
				wi[j] = SFX(descend_zil)(wi[j], lr, ci[j]);
		}
	} else if (!w) {
		for (int i = 0; i < mr; i++) {
			REAL *restrict ci = c + i * ldc;

			for (int j = 0; j < nc; j++)
				ci[j] = SFX(plus0)(ci[j]);
		}
	} else {
		for (int i = 0; i < mr; i++) {
			REAL *restrict ci = c + i * ldc;
			REAL *restrict wi = w + i * ldc;

			for (int j = 0; j < nc; j++) {
				REAL g = SFX(plus0)(ci[j]);

				ci[j] = g;
				wi[j] = SFX(descend)(wi[j], lr, g);
			}
		}
	}
}

/* ------------------------------------------------------------ direct path */

/*
 * t[i][j] += a(i, p) * b[p * rsb + j * csb] for p = 0 .. np-1 in order,
 * i < mi, j < nj.  Inlined with nj == GEMM_DJ for full tiles and csb == 1
 * for contiguous rows, so that the j loop has a fixed trip count and unit
 * stride and vectorises even at -O2.
 */
GEMM_ATTR static inline void
SFX(direct_acc)(int np, int mi, int nj, const REAL *restrict a, ptrdiff_t rsa,
		ptrdiff_t csa, const REAL *restrict b, ptrdiff_t rsb,
		ptrdiff_t csb, REAL (*restrict t)[GEMM_DJ])
{
	for (int p = 0; p < np; p++) {
		const REAL *restrict bp = b + p * rsb;

		for (int i = 0; i < mi; i++) {
			REAL av = a[i * rsa + p * csa];

			GEMM_KEEP_LOOP
			for (int j = 0; j < nj; j++)
				t[i][j] = FMA(av, bp[j * csb], t[i][j]);
		}
	}
}

/*
 * direct_acc for a tile nj wide: full tiles (GEMM_DJ) and half tiles get
 * their own copies with a constant width, the rest a variable one.
 */
GEMM_ATTR static inline void
SFX(direct_acc_w)(int np, int mi, int nj, const REAL *restrict a,
		  ptrdiff_t rsa, ptrdiff_t csa, const REAL *restrict b,
		  ptrdiff_t rsb, ptrdiff_t csb, REAL (*restrict t)[GEMM_DJ])
{
	if (nj == GEMM_DJ)
		SFX(direct_acc)(np, mi, GEMM_DJ, a, rsa, csa, b, rsb, csb, t);
	else if (nj == GEMM_DJ / 2)
		SFX(direct_acc)(np, mi, GEMM_DJ / 2, a, rsa, csa, b, rsb, csb,
				t);
	else
		SFX(direct_acc)(np, mi, nj, a, rsa, csa, b, rsb, csb, t);
}

/*
 * direct_acc_w with the np x nj block of op(B) at b (strided by csb)
 * first copied into a local buffer, so that the j loop runs over
 * contiguous data.  A function of its own, so that only the products that
 * copy have the buffer on their stack.
 */
GEMM_ATTR static GEMM_NOINLINE void
SFX(direct_acc_copied)(int np, int mi, int nj, const REAL *restrict a,
		       ptrdiff_t rsa, ptrdiff_t csa, const REAL *restrict b,
		       ptrdiff_t rsb, ptrdiff_t csb, REAL (*restrict t)[GEMM_DJ])
{
	REAL bt[GEMM_DP][GEMM_DJ];

	for (int j = 0; j < nj; j++)
		for (int p = 0; p < np; p++)
			bt[p][j] = b[p * rsb + j * csb];
	SFX(direct_acc_w)(np, mi, nj, a, rsa, csa, &bt[0][0], GEMM_DJ, 1, t);
}

/*
 * A tile of at most GEMM_DI x GEMM_DJ of C, element (i, j) at
 * c[i * rsc + j * csc], every element a sequential sum over each chunk of
 * k.  op(B) element (p, j) is at b[p * rsb + j * csb]; when csb != 1 and
 * the tile has all its rows, blocks of GEMM_DP rows of op(B) are copied
 * (direct_acc_copied).
 */
GEMM_ATTR static void
SFX(direct_tile)(int mi, int nj, int k, REAL alpha, const REAL *restrict a,
		 ptrdiff_t rsa, ptrdiff_t csa, const REAL *restrict b,
		 ptrdiff_t rsb, ptrdiff_t csb, REAL beta, REAL *restrict c,
		 ptrdiff_t rsc, ptrdiff_t csc)
{
	REAL t[GEMM_DI][GEMM_DJ];

	for (int pc = 0; pc < k; pc += GEMM_KC) {
		int kc = k - pc < GEMM_KC ? k - pc : GEMM_KC;

		for (int i = 0; i < mi; i++)
			for (int j = 0; j < nj; j++)
				t[i][j] = 0;
		for (int p0 = pc; p0 < pc + kc; p0 += GEMM_DP) {
			int np = pc + kc - p0 < GEMM_DP ? pc + kc - p0 : GEMM_DP;
			const REAL *ap = a + p0 * csa;
			const REAL *bp = b + p0 * rsb;

			if (csb == 1) {
				SFX(direct_acc_w)(np, mi, nj, ap, rsa, csa, bp,
						  rsb, 1, t);
			} else if (mi < GEMM_DI) {
				/* Few rows: strided loads beat a copy. */
				SFX(direct_acc_w)(np, mi, nj, ap, rsa, csa, bp,
						  rsb, csb, t);
			} else {
				SFX(direct_acc_copied)(np, mi, nj, ap, rsa, csa,
						       bp, rsb, csb, t);
			}
		}
		for (int i = 0; i < mi; i++)
			for (int j = 0; j < nj; j++)
				SFX(merge)(c + i * rsc + j * csc, pc == 0, alpha,
					   t[i][j], beta);
	}
}

/*
 * C (m x n, element (i, j) at c[i * rsc + j * csc]) for op(A) element
 * (i, p) at a[i * rsa + p * csa] and op(B) element (p, j) at
 * b[p * rsb + j * csb].
 */
GEMM_ATTR static void
SFX(direct)(int m, int n, int k, REAL alpha, const REAL *a, ptrdiff_t rsa,
	    ptrdiff_t csa, const REAL *b, ptrdiff_t rsb, ptrdiff_t csb,
	    REAL beta, REAL *c, ptrdiff_t rsc, ptrdiff_t csc)
{
	for (int i0 = 0; i0 < m; i0 += GEMM_DI) {
		int mi = m - i0 < GEMM_DI ? m - i0 : GEMM_DI;
		const REAL *ai = a + i0 * rsa;

		for (int j0 = 0, nj; j0 < n; j0 += nj) {
			const REAL *bj = b + j0 * csb;
			REAL *cij = c + i0 * rsc + j0 * csc;

			/* Full tiles, then a half tile, then the rest. */
			nj = n - j0 >= GEMM_DJ	   ? GEMM_DJ
			     : n - j0 >= GEMM_DJ / 2 ? GEMM_DJ / 2
						     : n - j0;

			SFX(direct_tile)(mi, nj, k, alpha, ai, rsa, csa, bj,
					 rsb, csb, beta, cij, rsc, csc);
		}
	}
}

/* ------------------------------------------------------ one row, K = 1 */

/*
 * A row of C (M = 1) when op(B) is read along its rows (csb == 1: the
 * backward of a layer, dy W): nv * GEMM_NR columns from c, their sums in
 * nv (4, 2 or 1, a constant at each call) rows of GEMM_NR accumulators
 * kept in registers over a whole chunk of k (the direct path's tile is
 * one or two vectors wide for one row, and waits on each multiply-add's
 * latency).  Each element is still a sequential sum over the chunk.
 */
GEMM_ATTR static GEMM_INLINE void
SFX(row_n_tile)(int k, REAL alpha, const REAL *restrict a, ptrdiff_t csa,
		const REAL *restrict b, ptrdiff_t ldb, REAL beta,
		REAL *restrict c, int nv)
{
	for (int pc = 0; pc < k; pc += GEMM_KC) {
		int kc = k - pc < GEMM_KC ? k - pc : GEMM_KC;
		REAL t[4][GEMM_NR];
#ifdef VK_KERNEL
		/* the loop below on vectors (clang kept t0 .. t3 on the
		 * stack, a store of each at every p) */
		enum { N = GEMM_VK_N };
		GEMM_VK_T s00 = VK_OP(setzero)(), s01 = s00, s10 = s00;
		GEMM_VK_T s11 = s00, s20 = s00, s21 = s00, s30 = s00;
		GEMM_VK_T s31 = s00;

#if GEMM_NR != 2 * GEMM_VK_N
#error "a row's tile holds two vectors a row"
#endif
		for (int p = pc; p < pc + kc; p++) {
			const REAL *restrict bp = b + p * ldb;
			GEMM_VK_T v = VK_OP(set1)(a[p * csa]);

			s00 = VK_FMA(v, VK_OP(loadu)(bp), s00);
			s01 = VK_FMA(v, VK_OP(loadu)(bp + N), s01);
			if (nv > 1) {
				s10 = VK_FMA(v, VK_OP(loadu)(bp + 2 * N), s10);
				s11 = VK_FMA(v, VK_OP(loadu)(bp + 3 * N), s11);
			}
			if (nv > 2) {
				s20 = VK_FMA(v, VK_OP(loadu)(bp + 4 * N), s20);
				s21 = VK_FMA(v, VK_OP(loadu)(bp + 5 * N), s21);
				s30 = VK_FMA(v, VK_OP(loadu)(bp + 6 * N), s30);
				s31 = VK_FMA(v, VK_OP(loadu)(bp + 7 * N), s31);
			}
		}
		VK_OP(storeu)(t[0], s00);
		VK_OP(storeu)(t[0] + N, s01);
		VK_OP(storeu)(t[1], s10);
		VK_OP(storeu)(t[1] + N, s11);
		VK_OP(storeu)(t[2], s20);
		VK_OP(storeu)(t[2] + N, s21);
		VK_OP(storeu)(t[3], s30);
		VK_OP(storeu)(t[3] + N, s31);
#else
		REAL t0[GEMM_NR], t1[GEMM_NR], t2[GEMM_NR], t3[GEMM_NR];

		for (int j = 0; j < GEMM_NR; j++) {
			t0[j] = 0;
			t1[j] = 0;
			t2[j] = 0;
			t3[j] = 0;
		}
		for (int p = pc; p < pc + kc; p++) {
			const REAL *restrict bp = b + p * ldb;
			REAL v = a[p * csa];

			GEMM_KEEP_LOOP
			for (int j = 0; j < GEMM_NR; j++)
				t0[j] = FMA(v, bp[j], t0[j]);
			if (nv > 1) {
				GEMM_KEEP_LOOP
				for (int j = 0; j < GEMM_NR; j++)
					t1[j] = FMA(v, bp[GEMM_NR + j], t1[j]);
			}
			if (nv > 2) {
				GEMM_KEEP_LOOP
				for (int j = 0; j < GEMM_NR; j++)
					t2[j] = FMA(v, bp[2 * GEMM_NR + j],
						    t2[j]);
				GEMM_KEEP_LOOP
				for (int j = 0; j < GEMM_NR; j++)
					t3[j] = FMA(v, bp[3 * GEMM_NR + j],
						    t3[j]);
			}
		}
		for (int j = 0; j < GEMM_NR; j++) {
			t[0][j] = t0[j];
			t[1][j] = t1[j];
			t[2][j] = t2[j];
			t[3][j] = t3[j];
		}
#endif
		for (int v = 0; v < nv; v++)
			for (int j = 0; j < GEMM_NR; j++)
				SFX(merge)(c + v * GEMM_NR + j, pc == 0, alpha,
					   t[v][j], beta);
	}
}

/* row_n_tile over the row; returns the columns done (the direct path
 * takes the rest, fewer than GEMM_NR). */
GEMM_ATTR static int
SFX(row_n)(int n, int k, REAL alpha, const REAL *a, ptrdiff_t csa,
	   const REAL *b, ptrdiff_t ldb, REAL beta, REAL *c)
{
	int j0 = 0;

	for (; n - j0 >= 4 * GEMM_NR; j0 += 4 * GEMM_NR)
		SFX(row_n_tile)(k, alpha, a, csa, b + j0, ldb, beta, c + j0, 4);
	if (n - j0 >= 2 * GEMM_NR) {
		SFX(row_n_tile)(k, alpha, a, csa, b + j0, ldb, beta, c + j0, 2);
		j0 += 2 * GEMM_NR;
	}
	if (n - j0 >= GEMM_NR) {
		SFX(row_n_tile)(k, alpha, a, csa, b + j0, ldb, beta, c + j0, 1);
		j0 += GEMM_NR;
	}
	return j0;
}

#ifdef GEMM_ROWT
/*
 * A row of C when op(B) is read across its rows (csb != 1: a layer's
 * forward x W^T, W row-major), for float copies on AVX2 (pcg_gemm.c,
 * "One row times W^T"), down to row_t.
 *
 * r[i] holds k p..p+3 of row i of the block in its low half and of row
 * i + 4 in its high half (i < 4), r[4 + i] k p+4..p+7 of the same rows:
 * two 4 x 4 transposes within the halves then give r[q] = column p+q of
 * the 8 rows, with no shuffle across the halves.
 */
GEMM_ATTR static ROWT_INLINE void
SFX(rowt_transpose4)(__m256 *r)
{
	__m256 t0 = _mm256_unpacklo_ps(r[0], r[1]);
	__m256 t1 = _mm256_unpackhi_ps(r[0], r[1]);
	__m256 t2 = _mm256_unpacklo_ps(r[2], r[3]);
	__m256 t3 = _mm256_unpackhi_ps(r[2], r[3]);

	r[0] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
	r[1] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
	r[2] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
	r[3] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
}

/* Four floats at lo in the low half and four at hi in the high half. */
GEMM_ATTR static ROWT_INLINE __m256
SFX(rowt_pair)(const float *lo, const float *hi)
{
	return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(lo)),
				    _mm_loadu_ps(hi), 1);
}

/*
 * The 8 x 8 block of columns p .. p+7 of the rows w + i ldw (i < 8), or
 * rows[i] when rows is not NULL, transposed: r[q][i] = row i's p + q.
 */
GEMM_ATTR static ROWT_INLINE void
SFX(rowt_block)(__m256 *r, const float *w, ptrdiff_t ldw,
		const float *const *rows, int p)
{
	for (int i = 0; i < 4; i++) {
		const float *lo = rows ? rows[i] + p : w + i * ldw + p;
		const float *hi = rows ? rows[i + 4] + p : w + (i + 4) * ldw + p;

		r[i] = SFX(rowt_pair)(lo, hi);
		r[4 + i] = SFX(rowt_pair)(lo + 4, hi + 4);
	}
	SFX(rowt_transpose4)(r);
	SFX(rowt_transpose4)(r + 4);
}

/*
 * Four columns of a group of 8 rows, row i (< 4) at lo + i ldw and row
 * i + 4 at hi + i ldw, transposed: r[q][i] = row i's column q.  Reading
 * from two bases and the stride (the callers move the bases along k)
 * keeps the addresses in a few registers: the 8 rows' own addresses,
 * one per group and row, did not fit and were reloaded at every block.
 */
GEMM_ATTR static ROWT_INLINE void
SFX(rowt_quad)(__m256 *r, const float *lo, const float *hi, ptrdiff_t ldw)
{
	ptrdiff_t ldw3 = 3 * ldw;

	r[0] = SFX(rowt_pair)(lo, hi);
	r[1] = SFX(rowt_pair)(lo + ldw, hi + ldw);
	r[2] = SFX(rowt_pair)(lo + 2 * ldw, hi + 2 * ldw);
	r[3] = SFX(rowt_pair)(lo + ldw3, hi + ldw3);
	SFX(rowt_transpose4)(r);
}

/* x's values x[q incx], q < 4, each broadcast to a vector. */
GEMM_ATTR static ROWT_INLINE void
SFX(rowt_bcast4)(__m256 *xv, const float *x, ptrdiff_t incx)
{
	ROWT_UNROLL
	for (int q = 0; q < 4; q++)
		xv[q] = _mm256_broadcast_ss(x + q * incx);
}

/*
 * Four steps of k for the groups of one chunk: xv (rowt_bcast4) times
 * each group's quad at its bases + o (o: the chunk's offset), 4
 * multiply-adds in order of k into the group's accumulator.
 */
GEMM_ATTR static ROWT_INLINE void
SFX(rowt_step4)(__m256 *acc, const __m256 *xv, const float *const *lo,
		const float *const *hi, int o, ptrdiff_t ldw, int groups)
{
	ROWT_UNROLL
	for (int g = 0; g < groups; g++) {
		__m256 r[4];

		SFX(rowt_quad)(r, lo[g] + o, hi[g] + o, ldw);
		ROWT_UNROLL
		for (int q = 0; q < 4; q++)
			acc[g] = ROWT_FMA(xv[q], r[q], acc[g]);
	}
}

/*
 * The rest of a chunk from p to kc (o: its offset; the bases at column
 * p of the first chunk): steps of 4, then one column at a time.  The rows
 * left over after the groups (rem: 0 to 3, at wr) take the same
 * multiply-adds one at a time into s[i]: such rows padded to a group of 8
 * would cost its transposes whole, where their chains cost no shuffles
 * and run alongside.
 */
GEMM_ATTR static ROWT_INLINE void
SFX(rowt_rest)(__m256 *acc, float *s, int p, int kc, int o, const float *x,
	       ptrdiff_t incx, const float **lo, const float **hi,
	       const float *wr, ptrdiff_t ldw, int groups, int rem)
{
	/* (a count down and x's address moved along: fewer registers) */
	for (int n = (kc - p) / 4; n > 0; n--, p += 4) {
		const float *xp = x + (o + p) * incx;
		__m256 xv[4];

		SFX(rowt_bcast4)(xv, xp, incx);
		SFX(rowt_step4)(acc, xv, lo, hi, o, ldw, groups);
		for (int i = 0; i < rem; i++)
			for (int q = 0; q < 4; q++)
				s[i] = FMA(xp[q * incx],
					   wr[i * ldw + o + p + q], s[i]);
		ROWT_UNROLL
		for (int g = 0; g < groups; g++) {
			lo[g] += 4;
			hi[g] += 4;
			ROWT_OPAQUE(lo[g]);
			ROWT_OPAQUE(hi[g]);
		}
	}
	for (; p < kc; p++) {
		float xp = x[(o + p) * incx];
		__m256 xv = _mm256_set1_ps(xp);

		for (int g = 0; g < groups; g++) {
			float col[8];

			for (int i = 0; i < 4; i++) {
				col[i] = lo[g][i * ldw + o];
				col[i + 4] = hi[g][i * ldw + o];
			}
			acc[g] = ROWT_FMA(xv, _mm256_loadu_ps(col), acc[g]);
			lo[g]++;
			hi[g]++;
		}
		for (int i = 0; i < rem; i++)
			s[i] = FMA(xp, wr[i * ldw + o + p], s[i]);
	}
}

/* A chunk's sums into t: each group's halves at their rows, then rem. */
GEMM_ATTR static ROWT_INLINE void
SFX(rowt_store)(float *t, const __m256 *acc, const float *s, const int *lr,
		const int *hr, int nr, int groups, int rem)
{
	ROWT_UNROLL
	for (int g = 0; g < groups; g++) {
		_mm_storeu_ps(t + lr[g], _mm256_castps256_ps128(acc[g]));
		_mm_storeu_ps(t + hr[g], _mm256_extractf128_ps(acc[g], 1));
	}
	for (int i = 0; i < rem; i++)
		t[nr - rem + i] = s[i];
}

/*
 * t[32 c + j] = sum over p < kc[c], in order, of x[(o + p) incx]
 * w[j ldw + o + p] with o = c GEMM_KC: chunk c of chunks (1 or 2)
 * consecutive chunks of k, kc[1] <= kc[0], for j < nr: groups (0 to 4) of
 * 8 rows, then rem rows (0 to 3; rem is nr % 8 when groups are whole).
 * Each group and chunk has an accumulator of its own: independent chains
 * that hide the latency of the multiply-adds (a few outputs over a long k
 * are one chain a chunk, run side by side rather than one after the
 * other).  A last group past nr takes the last 8 rows instead (the 4 rows
 * from 0 and the last 4 when nr < 8), so that it reads only rows of W and
 * the rows left over run alongside the others rather than after them:
 * rows it shares with another group get the same sum twice, the same
 * bits.  chunks, groups and, where they are known, incx and rem are
 * constants at each call.
 */
GEMM_ATTR static ROWT_INLINE void
SFX(rowt_groups)(const int *kc, int chunks, const float *x, ptrdiff_t incx,
		 const float *w, ptrdiff_t ldw, int nr, int groups, int rem,
		 float *t)
{
	const float *lo[4], *hi[4], *wr = w + (nr - rem) * ldw;
	int lr[4], hr[4]; /* the rows of each group's low and high halves */
	__m256 acc0[4], acc1[4];
	float s0[3] = {0, 0, 0}, s1[3] = {0, 0, 0};
	int p = 0;

	ROWT_UNROLL
	for (int g = 0; g < groups; g++) {
		int whole = 8 * g + 8 <= nr;

		lr[g] = whole ? 8 * g : nr >= 8 ? nr - 8 : 0;
		hr[g] = whole ? 8 * g + 4 : nr - 4;
		lo[g] = w + lr[g] * ldw;
		hi[g] = w + hr[g] * ldw;
		acc0[g] = _mm256_setzero_ps();
		acc1[g] = _mm256_setzero_ps();
	}
	/*
	 * The chunks side by side while the second (the shorter) lasts.  The
	 * rows left over run there in one group of both chunks, the rows of
	 * the first in its low half and of the second in its high half
	 * (rowt_block's halves), and x's values blended to match: half the
	 * transposes of a padded group in each chunk, and fewer operations
	 * than scalar chains.  Their sums then go on as scalar chains.
	 */
	if (chunks > 1) {
		/* (rows past rem repeat the first; none left: row 0, unused) */
		const float *mix[8];
		__m256 accm = _mm256_setzero_ps();
		float m[8];

		for (int i = 0; i < 4; i++) {
			mix[i] = (rem ? wr : w) + (i < rem ? i : 0) * ldw;
			mix[i + 4] = mix[i] + GEMM_KC;
		}
		for (; p + 4 <= kc[1]; p += 4) {
			__m256 xa[4], xb[4];

			SFX(rowt_bcast4)(xa, x + p * incx, incx);
			SFX(rowt_bcast4)(xb, x + (GEMM_KC + p) * incx, incx);
			SFX(rowt_step4)(acc0, xa, lo, hi, 0, ldw, groups);
			SFX(rowt_step4)(acc1, xb, lo, hi, GEMM_KC, ldw, groups);
			if (rem > 0) {
				__m256 r[4];

				for (int i = 0; i < 4; i++)
					r[i] = SFX(rowt_pair)(mix[i] + p,
							      mix[i + 4] + p);
				SFX(rowt_transpose4)(r);
				for (int q = 0; q < 4; q++)
					accm = ROWT_FMA(_mm256_blend_ps(xa[q],
							xb[q], 0xf0), r[q], accm);
			}
			ROWT_UNROLL
			for (int g = 0; g < groups; g++) {
				lo[g] += 4;
				hi[g] += 4;
				ROWT_OPAQUE(lo[g]);
				ROWT_OPAQUE(hi[g]);
			}
		}
		_mm256_storeu_ps(m, accm);
		for (int i = 0; i < 3; i++) {
			s0[i] = m[i];
			s1[i] = m[4 + i];
		}
	}
	/* ... then each to its end, the second from the bases' column p. */
	{
		const float *lo1[4], *hi1[4];

		ROWT_UNROLL
		for (int g = 0; g < groups; g++) {
			lo1[g] = lo[g];
			hi1[g] = hi[g];
		}
		SFX(rowt_rest)(acc0, s0, p, kc[0], 0, x, incx, lo, hi, wr, ldw,
			       groups, rem);
		if (chunks > 1)
			SFX(rowt_rest)(acc1, s1, p, kc[1], GEMM_KC, x, incx,
				       lo1, hi1, wr, ldw, groups, rem);
	}
	SFX(rowt_store)(t, acc0, s0, lr, hr, nr, groups, rem);
	if (chunks > 1)
		SFX(rowt_store)(t + 32, acc1, s1, lr, hr, nr, groups, rem);
}

/*
 * rowt_groups for nr rows (1 to 32) into t[64]: one to three rows left
 * over after the groups of 8 on their own (one to three rows in all, or
 * one or two after whole groups), else a last group past nr; two chunks
 * side by side when there are two and at most two groups (4
 * accumulators).  Returns the chunks done.
 */
GEMM_ATTR static int
SFX(rowt)(int k, const float *x, ptrdiff_t incx, const float *w,
	  ptrdiff_t ldw, int nr, float *t)
{
	int kc[2] = {k < GEMM_KC ? k : GEMM_KC,
		     k - GEMM_KC < GEMM_KC ? k - GEMM_KC : GEMM_KC};
	int rem = nr % 8 <= 2 || nr == 3 ? nr % 8 : 0;
	int groups = (nr - rem + 7) / 8;

	if (nr == 32) { /* whole groups (and x contiguous) known */
		if (incx == 1)
			SFX(rowt_groups)(kc, 1, x, 1, w, ldw, 32, 4, 0, t);
		else
			SFX(rowt_groups)(kc, 1, x, incx, w, ldw, 32, 4, 0, t);
		return 1;
	}
	if (groups <= 2 && k > GEMM_KC) {
		/* contiguous x known at compile time */
		if (groups == 2 && incx == 1)
			SFX(rowt_groups)(kc, 2, x, 1, w, ldw, nr, 2, rem, t);
		else if (groups == 2)
			SFX(rowt_groups)(kc, 2, x, incx, w, ldw, nr, 2, rem, t);
		else if (groups == 1 && incx == 1)
			SFX(rowt_groups)(kc, 2, x, 1, w, ldw, nr, 1, rem, t);
		else if (groups == 1)
			SFX(rowt_groups)(kc, 2, x, incx, w, ldw, nr, 1, rem, t);
		else
			SFX(rowt_groups)(kc, 2, x, incx, w, ldw, nr, 0, rem, t);
		return 2;
	}
	switch (groups) {
	case 4:
		SFX(rowt_groups)(kc, 1, x, incx, w, ldw, nr, 4, rem, t);
		break;
	case 3:
		SFX(rowt_groups)(kc, 1, x, incx, w, ldw, nr, 3, rem, t);
		break;
	case 2:
		SFX(rowt_groups)(kc, 1, x, incx, w, ldw, nr, 2, rem, t);
		break;
	case 1:
		SFX(rowt_groups)(kc, 1, x, incx, w, ldw, nr, 1, rem, t);
		break;
	default:
		SFX(rowt_groups)(kc, 1, x, incx, w, ldw, nr, 0, rem, t);
	}
	return 1;
}

/*
 * x W^T for one row.  Not inlined into the entry point: its code and stack
 * would weigh on every product (and gcc then stops specialising row_n_tile
 * for its constant nv).
 */
GEMM_ATTR static GEMM_NOINLINE void
SFX(row_t)(int n, int k, REAL alpha, const REAL *a, ptrdiff_t csa,
	   const REAL *b, ptrdiff_t ldb, REAL beta, REAL *c)
{
	for (int j0 = 0, nj; j0 < n; j0 += nj) {
		nj = n - j0 < 32 ? n - j0 : 32;
		for (int pc = 0, chunks; pc < k; pc += chunks * GEMM_KC) {
			REAL t[64];

			chunks = SFX(rowt)(k - pc, a + pc * csa, csa,
					   b + j0 * ldb + pc, ldb, nj, t);
			/* merged in order of the chunks */
			for (int q = 0; q < chunks; q++)
				for (int j = 0; j < nj; j++)
					SFX(merge)(c + j0 + j, pc + q == 0,
						   alpha, t[32 * q + j], beta);
		}
	}
}
#endif

/*
 * K = 1 (the weight gradient of a batch-1 layer, an outer product):
 * c(i, j) = alpha * (a(i) b(j) + 0) merged as in every path, a loop over
 * the contiguous row of C rather than tiles of the direct path.
 */
GEMM_ATTR static void
SFX(outer)(int m, int n, REAL alpha, const REAL *restrict a, ptrdiff_t rsa,
	   const REAL *restrict b, ptrdiff_t csb, REAL beta, REAL *restrict c,
	   ptrdiff_t ldc)
{
	for (int i = 0; i < m; i++) {
		REAL ai = a[i * rsa];
		REAL *restrict ci = c + i * ldc;

		if (beta == 0 && csb == 1)
			for (int j = 0; j < n; j++)
				ci[j] = alpha * FMA(ai, b[j], (REAL)0);
		else if (beta == 0)
			for (int j = 0; j < n; j++)
				ci[j] = alpha * FMA(ai, b[j * csb], (REAL)0);
		else
			for (int j = 0; j < n; j++)
				ci[j] = FMA(alpha, FMA(ai, b[j * csb], (REAL)0),
					    beta * ci[j]);
	}
}

/* ----------------------------------------------------------- blocked path */

/*
 * Pack op(B)[pc .. pc+kc) x [jc .. jc+nc) into micro-panels of GEMM_NR
 * columns, each stored p-major (bp[p * GEMM_NR + j]), the columns past nc
 * padded with zeros.
 */
GEMM_ATTR static void
SFX(pack_b)(int trans_b, int kc, int nc, const REAL *restrict b,
	    ptrdiff_t ldb, REAL *restrict bp)
{
	for (int jr = 0; jr < nc; jr += GEMM_NR) {
		int nr = nc - jr < GEMM_NR ? nc - jr : GEMM_NR;
		REAL *restrict dst = bp + (ptrdiff_t)jr * kc;

		if (!trans_b) {
			for (int p = 0; p < kc; p++) {
				const REAL *restrict src = b + p * ldb + jr;
				REAL *restrict d = dst + p * GEMM_NR;

				if (nr == GEMM_NR) {
					/* a copy of fixed size (gcc made the
					 * loop scalar loads and inserts) */
					memcpy(d, src, sizeof(REAL) * GEMM_NR);
				} else {
					for (int j = 0; j < nr; j++)
						d[j] = src[j];
					for (int j = nr; j < GEMM_NR; j++)
						d[j] = 0;
				}
			}
		} else if (nr == GEMM_NR) {
			/*
			 * Transposed, a whole micro-panel: a row of the panel
			 * at a time, so that the stores are contiguous and the
			 * loop over j vectorises (25 % faster on mlp's
			 * 32 x 256 x 784 than a column at a time).
			 */
			const REAL *restrict src = b + jr * ldb;
			int p = 0;

#ifdef GEMM_ROWT
			/* 8 x 8 blocks transposed in registers (rowt_block) */
			for (; p + 8 <= kc; p += 8)
				for (int j = 0; j < GEMM_NR; j += 8) {
					__m256 r[8];

					SFX(rowt_block)(r, src + j * ldb, ldb,
							NULL, p);
					for (int q = 0; q < 8; q++)
						_mm256_storeu_ps(dst + (p + q) *
							GEMM_NR + j, r[q]);
				}
#endif
			for (; p < kc; p++) {
				REAL *restrict d = dst + p * GEMM_NR;
				for (int j = 0; j < GEMM_NR; j++)
					d[j] = src[j * ldb + p];
			}
		} else {
			int j = 0;

#ifdef GEMM_ROWT
			/* Whole blocks of 8 columns as above. */
			for (; j + 8 <= nr; j += 8) {
				const REAL *restrict src = b + (jr + j) * ldb;
				int p = 0;

				for (; p + 8 <= kc; p += 8) {
					__m256 r[8];

					SFX(rowt_block)(r, src, ldb, NULL, p);
					for (int q = 0; q < 8; q++)
						_mm256_storeu_ps(dst + (p + q) *
							GEMM_NR + j, r[q]);
				}
				for (; p < kc; p++)
					for (int i = 0; i < 8; i++)
						dst[p * GEMM_NR + j + i] =
							src[i * ldb + p];
			}
#endif
			for (; j < nr; j++) {
				const REAL *restrict src = b + (jr + j) * ldb;

				for (int p = 0; p < kc; p++)
					dst[p * GEMM_NR + j] = src[p];
			}
			for (j = nr; j < GEMM_NR; j++)
				for (int p = 0; p < kc; p++)
					dst[p * GEMM_NR + j] = 0;
		}
	}
}

/*
 * The micro-kernel: t = A-strip (rows x kc, element (i, p) at
 * a[i * rsa + p * csa]) times one packed micro-panel of B, every element a
 * sequential sum over p; then the valid mr x nr corner is merged into C.
 * rows is GEMM_MR (6) for full strips and 2 or 4 for the edge, always a
 * constant at the call, so that each use is compiled for its row count.
 * The six rows are written out so that the only loop inside p is the one
 * over j, with a fixed trip count: gcc (at -O3) vectorises it and keeps
 * the accumulator rows in registers.  clang does not, and in the copies
 * that run on AVX2 it gets the same loop over vectors of intrinsics
 * instead (VK_KERNEL; pcg_gemm.c, GEMM_VK).
 */
#ifdef VK_KERNEL
/* row r's two vectors: one multiply-add of step p, and their store */
#define VK_ROW(r)                                                             \
	do {                                                                  \
		v = VK_OP(set1)(a##r[p * csa]);                               \
		c##r##0 = VK_FMA(v, b0, c##r##0);                             \
		c##r##1 = VK_FMA(v, b1, c##r##1);                             \
	} while (0)
/* inlined whatever the budget, so that rows is a constant in the loop */
#define KERNEL_INLINE GEMM_INLINE
#else
#define KERNEL_INLINE inline
#endif
#ifdef GEMM_VK
#define VK_STORE_ROW(r)                                                       \
	do {                                                                  \
		VK_OP(storeu)(t[r], c##r##0);                                 \
		VK_OP(storeu)(t[r] + GEMM_VK_N, c##r##1);                     \
	} while (0)
/* F(r, x, h) on each accumulator x, row r's half h, of the rows in use */
#define VK_EACH(F)                                                            \
	do {                                                                  \
		F(0, c00, 0);                                                 \
		F(0, c01, 1);                                                 \
		F(1, c10, 0);                                                 \
		F(1, c11, 1);                                                 \
		if (rows > 2) {                                               \
			F(2, c20, 0);                                         \
			F(2, c21, 1);                                         \
			F(3, c30, 0);                                         \
			F(3, c31, 1);                                         \
		}                                                             \
		if (rows > 4) {                                               \
			F(4, c40, 0);                                         \
			F(4, c41, 1);                                         \
			F(5, c50, 0);                                         \
			F(5, c51, 1);                                         \
		}                                                             \
	} while (0)
/* where row r's half h goes in p (c or w) */
#define VK_AT(p, r, h) ((p) + (r)*ldc + (h)*GEMM_VK_N)
#define VK_LD(p, r, h) VK_OP(loadu)(VK_AT(p, r, h))
/* SFX(merge): the first chunk (beta 0, or not), a later one */
#define VK_SET(r, x, h) VK_OP(storeu)(VK_AT(c, r, h), VK_OP(mul)(va, x))
#define VK_BETA(r, x, h)                                                      \
	VK_OP(storeu)(VK_AT(c, r, h),                                         \
		      VK_FMA(va, x, VK_OP(mul)(vb, VK_LD(c, r, h))))
#define VK_ADD(r, x, h)                                                       \
	VK_OP(storeu)(VK_AT(c, r, h), VK_FMA(va, x, VK_LD(c, r, h)))
/* the updates with the tile in registers: c = plus0(alpha t); w =
 * descend(w, lr, plus0(walpha t)) */
#define VK_UPD_C(r, x, h)                                                     \
	VK_OP(storeu)(VK_AT(c, r, h), VK_OP(add)(VK_OP(mul)(va, x), vz))
#define VK_UPD_W(r, x, h)                                                     \
	VK_OP(storeu)(VK_AT(w, r, h),                                         \
		      VK_OP(sub)(VK_LD(w, r, h),                              \
				 VK_OP(mul)(vl, VK_OP(add)(VK_OP(mul)(vwa, x),  \
							   vz))))
#endif
GEMM_ATTR static KERNEL_INLINE void
SFX(kernel)(int kc, const REAL *restrict a, ptrdiff_t rsa, ptrdiff_t csa,
	    const REAL *restrict bp, int first, REAL alpha, REAL beta,
	    REAL *restrict c, ptrdiff_t ldc, int mr, int nr, int rows,
	    const SFX(upd) *u, REAL *restrict w)
{
	REAL t[GEMM_MR][GEMM_NR];
	const REAL *restrict a0 = a, *restrict a1 = a + rsa;
	const REAL *restrict a2 = a + 2 * rsa, *restrict a3 = a + 3 * rsa;
	const REAL *restrict a4 = a + 4 * rsa, *restrict a5 = a + 5 * rsa;
#ifdef VK_KERNEL
#if GEMM_NR != 2 * GEMM_VK_N || GEMM_MR != 6
#error "the vector micro-kernel holds 6 rows of two vectors"
#endif
	/* the loop below, a row's two vectors at a time (pcg_gemm.c) */
	GEMM_VK_T c00 = VK_OP(setzero)(), c01 = c00, c10 = c00, c11 = c00;
	GEMM_VK_T c20 = c00, c21 = c00, c30 = c00, c31 = c00;
	GEMM_VK_T c40 = c00, c41 = c00, c50 = c00, c51 = c00;

	for (int p = 0; p < kc; p++) {
		const REAL *restrict bv = bp + p * GEMM_NR;
		GEMM_VK_T b0 = VK_OP(loadu)(bv), b1 = VK_OP(loadu)(bv + GEMM_VK_N);
		GEMM_VK_T v;

		VK_ROW(0);
		VK_ROW(1);
		if (rows > 2) {
			VK_ROW(2);
			VK_ROW(3);
		}
		if (rows > 4) {
			VK_ROW(4);
			VK_ROW(5);
		}
	}
#else
	REAL t0[GEMM_NR], t1[GEMM_NR], t2[GEMM_NR];
	REAL t3[GEMM_NR], t4[GEMM_NR], t5[GEMM_NR];

	for (int j = 0; j < GEMM_NR; j++) {
		t0[j] = 0;
		t1[j] = 0;
		t2[j] = 0;
		t3[j] = 0;
		t4[j] = 0;
		t5[j] = 0;
	}
	for (int p = 0; p < kc; p++) {
		const REAL *restrict bv = bp + p * GEMM_NR;
		REAL v;

		v = a0[p * csa];
		GEMM_KEEP_LOOP
		for (int j = 0; j < GEMM_NR; j++)
			t0[j] = FMA(v, bv[j], t0[j]);
		v = a1[p * csa];
		GEMM_KEEP_LOOP
		for (int j = 0; j < GEMM_NR; j++)
			t1[j] = FMA(v, bv[j], t1[j]);
		if (rows > 2) {
			v = a2[p * csa];
			GEMM_KEEP_LOOP
			for (int j = 0; j < GEMM_NR; j++)
				t2[j] = FMA(v, bv[j], t2[j]);
			v = a3[p * csa];
			GEMM_KEEP_LOOP
			for (int j = 0; j < GEMM_NR; j++)
				t3[j] = FMA(v, bv[j], t3[j]);
		}
		if (rows > 4) {
			v = a4[p * csa];
			GEMM_KEEP_LOOP
			for (int j = 0; j < GEMM_NR; j++)
				t4[j] = FMA(v, bv[j], t4[j]);
			v = a5[p * csa];
			GEMM_KEEP_LOOP
			for (int j = 0; j < GEMM_NR; j++)
				t5[j] = FMA(v, bv[j], t5[j]);
		}
	}
#ifdef GEMM_VK
	/* the rows as vectors, for the merge below (gcc keeps them in the
	 * registers the loop left them in) */
	GEMM_VK_T c00 = VK_OP(loadu)(t0), c01 = VK_OP(loadu)(t0 + GEMM_VK_N);
	GEMM_VK_T c10 = VK_OP(loadu)(t1), c11 = VK_OP(loadu)(t1 + GEMM_VK_N);
	GEMM_VK_T c20 = VK_OP(loadu)(t2), c21 = VK_OP(loadu)(t2 + GEMM_VK_N);
	GEMM_VK_T c30 = VK_OP(loadu)(t3), c31 = VK_OP(loadu)(t3 + GEMM_VK_N);
	GEMM_VK_T c40 = VK_OP(loadu)(t4), c41 = VK_OP(loadu)(t4 + GEMM_VK_N);
	GEMM_VK_T c50 = VK_OP(loadu)(t5), c51 = VK_OP(loadu)(t5 + GEMM_VK_N);
#else
	for (int j = 0; j < GEMM_NR; j++) {
		t[0][j] = t0[j];
		t[1][j] = t1[j];
		t[2][j] = t2[j];
		t[3][j] = t3[j];
		t[4][j] = t4[j];
		t[5][j] = t5[j];
	}
#endif
#endif
#ifdef GEMM_VK
	if (nr == GEMM_NR && mr == rows) {
		/* whole rows: merged from the registers (VK_EACH), the same
		 * arithmetic as below element by element.  Through t, clang
		 * 14 reassembled the rows from the stack with shuffles and
		 * loads that waited on the stores (mlp b32's products 4-10 %
		 * slower than gcc's), and gcc merged each row of 16 as
		 * 8 + 4 + 2 + 1 + 1 elements (its weight gradients, k = 32,
		 * 12 % faster from the registers) */
		GEMM_VK_T va = VK_OP(set1)(alpha), vz = VK_OP(setzero)();

		if (u && first && beta == 0 &&
		    (!w || (u->how & PCG_UPD_SCRATCH))) {
			GEMM_VK_T vl = VK_OP(set1)(u->lr);
			GEMM_VK_T vwa = VK_OP(set1)(u->walpha);

			if (!w)
				VK_EACH(VK_UPD_C);
			else
				VK_EACH(VK_UPD_W);
			return;
		}
		if (!first) {
			VK_EACH(VK_ADD);
		} else if (beta == 0) {
			VK_EACH(VK_SET);
		} else {
			GEMM_VK_T vb = VK_OP(set1)(beta);

			VK_EACH(VK_BETA);
		}
		if (u)
			SFX(upd_block)(u, mr, nr, c, ldc, w);
		return;
	}
	VK_STORE_ROW(0);
	VK_STORE_ROW(1);
	VK_STORE_ROW(2);
	VK_STORE_ROW(3);
	VK_STORE_ROW(4);
	VK_STORE_ROW(5);
#endif

	if (u && mr == GEMM_MR && nr == GEMM_NR && first && beta == 0 &&
	    (!w || (u->how & PCG_UPD_SCRATCH))) {
		/* the updates the generated code asks for, with the tile in
		 * registers (upd_block's arithmetic), each a loop nest of its
		 * own so that each is vectorised (a branch inside one makes
		 * compilers spill the tile); the others (C and w both wanted)
		 * store the tile, then go through upd_block */
		REAL lr = u->lr, walpha = u->walpha;

		if (!w) { /* PCG_UPD_BP: C + 0 */
			for (int i = 0; i < GEMM_MR; i++)
				for (int j = 0; j < GEMM_NR; j++)
					c[i * ldc + j] =
						SFX(plus0)(alpha * t[i][j]);
		} else { /* C is scratch: only w is written */
			for (int i = 0; i < GEMM_MR; i++)
				for (int j = 0; j < GEMM_NR; j++) {
					REAL g = SFX(plus0)(walpha * t[i][j]);

					w[i * ldc + j] = SFX(descend)(
						w[i * ldc + j], lr, g);
				}
		}
		return;
	}
	if (mr == GEMM_MR && nr == GEMM_NR) {
		for (int i = 0; i < GEMM_MR; i++) {
			REAL *restrict ci = c + i * ldc;

			if (!first)
				for (int j = 0; j < GEMM_NR; j++)
					ci[j] = FMA(alpha, t[i][j], ci[j]);
			else if (beta == 0)
				for (int j = 0; j < GEMM_NR; j++)
					ci[j] = alpha * t[i][j];
			else
				for (int j = 0; j < GEMM_NR; j++)
					ci[j] = FMA(alpha, t[i][j],
						    beta * ci[j]);
		}
	} else {
		for (int i = 0; i < mr; i++)
			for (int j = 0; j < nr; j++)
				SFX(merge)(c + i * ldc + j, first, alpha,
					   t[i][j], beta);
	}
	if (u)
		SFX(upd_block)(u, mr, nr, c, ldc, w);
}

#undef VK_ROW
#undef VK_STORE_ROW
#undef VK_EACH
#undef VK_AT
#undef VK_LD
#undef VK_SET
#undef VK_BETA
#undef VK_ADD
#undef VK_UPD_C
#undef VK_UPD_W

/* One row strip of C against the packed panel, for one layout of A. */
GEMM_ATTR static KERNEL_INLINE void
SFX(strip)(int kc, int nc, const REAL *restrict a, ptrdiff_t rsa,
	   ptrdiff_t csa, const REAL *restrict bp, int first, REAL alpha,
	   REAL beta, REAL *restrict c, ptrdiff_t ldc, int mr, int rows,
	   const SFX(upd) *u, REAL *w)
{
	for (int jr = 0; jr < nc; jr += GEMM_NR) {
		int nr = nc - jr < GEMM_NR ? nc - jr : GEMM_NR;

		SFX(kernel)(kc, a, rsa, csa, bp + (ptrdiff_t)jr * kc, first,
			    alpha, beta, c + jr, ldc, mr, nr, rows, u,
			    w ? w + jr : NULL);
	}
}
#undef KERNEL_INLINE

/*
 * op(A) element (i, p) at a[i * rsa + p * csa].  The B panel and the edge
 * strip of A are the only buffers: GEMM_KC * (GEMM_NC + GEMM_MR) reals.
 */
GEMM_ATTR static GEMM_NOINLINE void
SFX(blocked)(int m, int n, int k, REAL alpha, const REAL *a, ptrdiff_t rsa,
	     ptrdiff_t csa, int trans_b, const REAL *b, ptrdiff_t ldb,
	     REAL beta, REAL *c, ptrdiff_t ldc, const SFX(upd) *u)
{
	REAL bp[GEMM_KC * GEMM_NC];
	REAL ap[GEMM_KC * GEMM_MR];

	for (int jc = 0; jc < n; jc += GEMM_NC) {
		int nc = n - jc < GEMM_NC ? n - jc : GEMM_NC;

		for (int pc = 0; pc < k; pc += GEMM_KC) {
			int kc = k - pc < GEMM_KC ? k - pc : GEMM_KC;
			const REAL *bsrc = trans_b ? b + jc * ldb + pc
						   : b + pc * ldb + jc;

			SFX(pack_b)(trans_b, kc, nc, bsrc, ldb, bp);
			for (int ic = 0, mr; ic < m; ic += mr) {
				/*
				 * The last 7 or 8 rows as strips of 4 and 3
				 * or 4 (8 accumulators each), not 6 and a
				 * strip of 2 (4 accumulators, each chain
				 * waiting on the multiply-adds' latency): a
				 * batch of 32 is 4 x 6 + 4 + 4.
				 */
				int r = m - ic;

				mr = r == 7 || r == 8 ? 4
				     : r < GEMM_MR   ? r
						     : GEMM_MR;
				const REAL *as = a + ic * rsa + pc * csa;
				REAL *cs = c + ic * ldc + jc;

				/* the update, with the strip's last chunk
				 * of k */
				const SFX(upd) *us = u && pc + kc == k ? u
								       : NULL;
				REAL *ws = us && u->w ? u->w + (cs - c) : NULL;

				if (mr == GEMM_MR && csa == 1) {
					SFX(strip)(kc, nc, as, rsa, 1, bp,
						   pc == 0, alpha, beta, cs,
						   ldc, mr, GEMM_MR, us, ws);
				} else if (mr == GEMM_MR) {
					SFX(strip)(kc, nc, as, rsa, csa, bp,
						   pc == 0, alpha, beta, cs,
						   ldc, mr, GEMM_MR, us, ws);
				} else if (mr == 4) {
					/* four whole rows: read in place */
					SFX(strip)(kc, nc, as, rsa, csa, bp,
						   pc == 0, alpha, beta, cs,
						   ldc, mr, 4, us, ws);
				} else {
					/*
					 * Edge strip: copied, zero rows below,
					 * to 2, 4 or 6 rows and a kernel for
					 * that many.
					 */
					int rows = mr <= 2 ? 2 : mr <= 4 ? 4 : 6;

					for (int p = 0; p < kc; p++)
						for (int i = 0; i < rows; i++)
							ap[p * rows + i] =
								i < mr ? as[i * rsa + p * csa]
								       : 0;
					if (rows == 2)
						SFX(strip)(kc, nc, ap, 1, 2, bp,
							   pc == 0, alpha, beta,
							   cs, ldc, mr, 2, us,
							   ws);
					else if (rows == 4)
						SFX(strip)(kc, nc, ap, 1, 4, bp,
							   pc == 0, alpha, beta,
							   cs, ldc, mr, 4, us,
							   ws);
					else
						SFX(strip)(kc, nc, ap, 1, 6, bp,
							   pc == 0, alpha, beta,
							   cs, ldc, mr, 6, us,
							   ws);
				}
			}
		}
	}
}

/* ------------------------------------------------------------------ entry */

/* The product without an update (u NULL), or with u applied as each
 * block of C comes out (the blocked path) or after it (the others). */
GEMM_ATTR static void
SFX(gemm_any)(int trans_a, int trans_b, int m, int n, int k, REAL alpha,
	      const REAL *a, int lda, const REAL *b, int ldb, REAL beta,
	      REAL *c, int ldc, const SFX(upd) *u)
{
	if (m <= 0 || n <= 0)
		return;
	ptrdiff_t rsa = trans_a ? 1 : lda, csa = trans_a ? lda : 1;
	ptrdiff_t rsb = trans_b ? 1 : ldb, csb = trans_b ? ldb : 1;

	if (k <= 0 || alpha == 0) {
		for (int i = 0; i < m; i++) {
			REAL *ci = c + (ptrdiff_t)i * ldc;

			for (int j = 0; j < n; j++)
				ci[j] = beta == 0 ? 0 : beta * ci[j];
		}
	} else if (k == 1) {
		/* a row at a time, the row's update (if any) while the row is
		 * still in the cache: the same arithmetic as the whole outer
		 * product then the whole update, without a second pass over C
		 * and w (mlp b1's 256 x 784 weight) */
		for (int i = 0; i < m; i++) {
			REAL *ci = c + (ptrdiff_t)i * ldc;

			SFX(outer)(1, n, alpha, a + i * rsa, rsa, b, csb, beta,
				   ci, ldc);
			if (u)
				SFX(upd_block)(u, 1, n, ci, ldc,
					       u->w ? u->w + (ptrdiff_t)i * ldc
						    : NULL);
		}
		return;
	} else if (m == 1) {
		int j0 = 0;

#ifdef GEMM_ROWT
		if (rsb == 1 && csb != 1)
			SFX(row_t)(n, k, alpha, a, csa, b, csb, beta, c);
		else
#endif
		{
			if (csb == 1)
				j0 = SFX(row_n)(n, k, alpha, a, csa, b, rsb,
						beta, c);
			if (j0 < n)
				SFX(direct)(1, n - j0, k, alpha, a, rsa, csa,
					    b + j0 * csb, rsb, csb, beta,
					    c + j0, ldc, 1);
		}
	} else if (!GEMM_DIRECT(m, n, k)) {
		SFX(blocked)(m, n, k, alpha, a, rsa, csa, trans_b, b, ldb, beta,
			     c, ldc, u);
		return;
	} else if (n >= m) {
		SFX(direct)(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c,
			    ldc, 1);
	} else { /* C^T = op(B)^T op(A)^T: the long side along the vectors */
		SFX(direct)(n, m, k, alpha, b, csb, rsb, a, csa, rsa, beta, c,
			    1, ldc);
	}
	if (u)
		SFX(upd_block)(u, m, n, c, ldc, u->w);
}

GEMM_ATTR static void
SFX(gemm)(int trans_a, int trans_b, int m, int n, int k, REAL alpha,
	  const REAL *a, int lda, const REAL *b, int ldb, REAL beta, REAL *c,
	  int ldc)
{
	SFX(gemm_any)(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta,
		      c, ldc, NULL);
}

GEMM_ATTR static void
SFX(gemm_upd)(int trans_a, int trans_b, int m, int n, int k, REAL alpha,
	      const REAL *a, int lda, const REAL *b, int ldb, REAL *c, int ldc,
	      int how, REAL lr, REAL *w)
{
	/* Z-IL's 0 - e, from the tile in registers, as 0 + (-alpha) t: the
	 * same bits (negation is exact, and x86 keeps a NaN's sign through
	 * both), and the same instructions as BP's t + 0 */
	SFX(upd) u = {gemm_upd_how(how, w), lr, w,
		      (how & ~PCG_UPD_SCRATCH) == PCG_UPD_BP ? alpha : -alpha};

	SFX(gemm_any)(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, 0, c,
		      ldc, u.how < 0 ? NULL : &u);
}

/* The columns of this copy's micro-panel: pcg_pool.c cuts a product's
 * columns in multiples of it (pcg_gemm_panel_cols_f). */
GEMM_ATTR static int
SFX(panel_cols)(void)
{
	return GEMM_NR;
}


#include "pcg_dconv_tmpl.h"
#undef VK_FMA
#undef VK_KERNEL
