/*
 * pcg_dconv_tmpl.h — direct convolutions: the forward pass and dx of a
 * convolution of one sample computed without its im2col columns, with
 * the arithmetic of the GEMM on those columns.  Included at the end of
 * pcg_gemm_tmpl.h, so once for each scalar type and each copy of the
 * GEMM (generic, AVX2, AVX-512), with its REAL, SFX, GEMM_ATTR, FMA,
 * GEMM_KC and merge; pcg_gemm.c's pcg_dconv_f/d take the copy pcg_sgemm
 * takes.  Not an installed header.
 *
 * The runtime's definition of a convolution (pcg_runtime.h) is im2col
 * then a product: y = K col, and col = K^T dy then dx (+)= col2im(col).
 * The columns repeat every input element kh kw times, and building them
 * (and adding them back for dx) cost as much as the products on the
 * examples' small channel counts.  Here:
 *
 *   forward  each element of y is the sum over r = (c, a, b) of
 *            K[o][r] x[c][oy sh + a dh - ph][ox + b dw - pw], read from
 *            the input itself (or from a copy with a zero border when the
 *            convolution pads), r in chunks of GEMM_KC, each a sequential
 *            multiply-add from 0, merged as the GEMM merges them: the
 *            operations of y = K col, element by element, in their order
 *            (col's element is the same value, a padded one the same 0);
 *   dx       one output row oy at a time, the columns of that row
 *            (CK x ow, a small product with the GEMM itself, so the same
 *            bits) are added into dx at once, the rows oy taken from the
 *            last to the first.  col2im adds an element's contributions
 *            in order of (a, b); two contributions with a1 < a2 come from
 *            rows oy1 > oy2 (oy sh + a dh is the same input row), and
 *            those of one row in order of b: the same order.
 *
 * So the bits are those of the im2col path, in every copy (runtime/
 * test_dconv.c checks it against columns built naively).  The vectors
 * run along a row of the output, so along a row of the input: with a
 * column stride sw the input is read through a copy whose rows are split
 * by column modulo sw (dconv_view), which makes each kernel row's
 * columns contiguous again.  dx, which adds along rows of the input,
 * takes unit-stride rows only.
 */

/* Columns of the output a tile (one 64-byte vector of floats), and output
 * channels a tile: enough accumulators (8 vectors of 64 bytes in the
 * AVX-512 copy, 8 of 32 in the AVX2 copy) to hide the latency of the
 * multiply-adds, each multiply-add reading one vector of input. */
#ifndef DCONV_J
#define DCONV_J (64 / (int)sizeof(REAL))
#define DCONV_OB                                                              \
	(GEMM_NR * (int)sizeof(REAL) / 16 > 2 ? GEMM_NR * (int)sizeof(REAL) / 16 \
					      : 2)
/*
 * Rows of a tile half as wide (DCONV_J / 2 columns: an output row of 8
 * floats, or 8 output channels of dK): twice DCONV_OB, so that it keeps
 * as many accumulators (with DCONV_OB rows, half of them, each chain
 * waiting on the multiply-adds' latency).  A tile of nj columns is held
 * DCONV_TJ(nj) reals a row in a buffer of DCONV_OB x DCONV_J.
 */
#define DCONV_OH (2 * DCONV_OB)
#define DCONV_TJ(nj) ((nj) <= DCONV_J / 2 ? DCONV_J / 2 : DCONV_J)
/* Whether one vector holds a whole tile (the AVX-512 copies; GEMM_NR is
 * two vectors): then half a tile takes as many instructions as a whole. */
#define DCONV_VEC_TILE (GEMM_NR * (int)sizeof(REAL) / 2 >= 64)
/* The specialisations with constant shapes hold only when inlined. */
#if defined(__GNUC__) || defined(__clang__)
#define DCONV_INLINE inline __attribute__((always_inline))
#else
#define DCONV_INLINE inline
#endif
#endif

/*
 * T(i, j) = sum of k[i * rsk + r * csk] * ROW(r)[j] over r = r0 .. r1-1
 * (r1 > r0) in order, each a multiply-add, from 0, for i < mi and j < nj
 * (inlined with constant mi and nj for full tiles, so that the
 * accumulators stay in registers).  The first term is the multiply-add
 * onto 0 written out, so that t needs no zeroing (which compilers turn
 * into a memset of the whole tile).  The body of dconv_acc (rows at
 * offsets, t a tile's buffer, DCONV_TF) and dconv_dx_sum (rows a stride
 * apart, t rows of DCONV_J, DCONV_T2): the names it uses are their
 * parameters.
 */
#ifndef DCONV_ACC_BODY
#define DCONV_ACC_BODY(ROW, T)                                                \
	do {                                                                  \
		const REAL *restrict x0 = ROW(r0);                            \
                                                                              \
		for (int i = 0; i < mi; i++) {                                \
			REAL kv = k[i * rsk + r0 * csk];                      \
                                                                              \
			GEMM_KEEP_LOOP                                        \
			for (int j = 0; j < nj; j++)                          \
				T(i, j) = FMA(kv, x0[j], (REAL)0);            \
		}                                                             \
		for (int r = r0 + 1; r < r1; r++) {                           \
			const REAL *restrict xr = ROW(r);                     \
                                                                              \
			for (int i = 0; i < mi; i++) {                        \
				REAL kv = k[i * rsk + r * csk];               \
                                                                              \
				GEMM_KEEP_LOOP                                \
				for (int j = 0; j < nj; j++)                  \
					T(i, j) = FMA(kv, xr[j], T(i, j));    \
			}                                                     \
		}                                                             \
	} while (0)
/*
 * The same sums in vectors of intrinsics, for tiles whose width nj is a
 * whole number of vectors (mi <= DCONV_OH), where the micro-kernel has
 * them (VK_KERNEL, pcg_gemm_tmpl.h: clang in the copies that run on
 * AVX2, which otherwise kept these tiles on the stack too): each
 * element's multiply-adds in the same order, from 0, so the same bits.
 */
#define DCONV_ACC_VK(ROW, T)                                                  \
	do {                                                                  \
		enum { NV = DCONV_J / GEMM_VK_N };                            \
		GEMM_VK_T acc[DCONV_OH][NV], xv[NV];                          \
		const int nv = nj / GEMM_VK_N;                                \
                                                                              \
		for (int i = 0; i < mi; i++)                                  \
			for (int v = 0; v < nv; v++)                          \
				acc[i][v] = VK_OP(setzero)();                 \
		for (int r = r0; r < r1; r++) {                               \
			const REAL *restrict xr = ROW(r);                     \
                                                                              \
			for (int v = 0; v < nv; v++)                          \
				xv[v] = VK_OP(loadu)(xr + v * GEMM_VK_N);     \
			for (int i = 0; i < mi; i++) {                        \
				GEMM_VK_T kv =                                \
					VK_OP(set1)(k[i * rsk + r * csk]);    \
                                                                              \
				for (int v = 0; v < nv; v++)                  \
					acc[i][v] =                           \
						VK_FMA(kv, xv[v], acc[i][v]); \
			}                                                     \
		}                                                             \
		for (int i = 0; i < mi; i++)                                  \
			for (int v = 0; v < nv; v++)                          \
				VK_OP(storeu)(&T(i, v * GEMM_VK_N),           \
					      acc[i][v]);                     \
	} while (0)
#define DCONV_ROW_AT(r) (x + off[r])
#define DCONV_ROW_STRIDE(r) (x + (r)*xs)
#define DCONV_T2(i, j) t[i][j]
#define DCONV_TF(i, j) t[(i)*tj + (j)]
#endif

/* Rows of x at the offsets off[r]: a tile of the forward pass, in t
 * (rows tj reals apart). */
GEMM_ATTR static DCONV_INLINE void
SFX(dconv_acc)(int r0, int r1, int mi, int nj, const REAL *restrict k,
	       ptrdiff_t rsk, ptrdiff_t csk, const REAL *restrict x,
	       const int *restrict off, REAL *restrict t, int tj)
{
#ifdef VK_KERNEL
	if (nj % GEMM_VK_N == 0 && mi <= DCONV_OH) {
		DCONV_ACC_VK(DCONV_ROW_AT, DCONV_TF);
		return;
	}
#endif
	DCONV_ACC_BODY(DCONV_ROW_AT, DCONV_TF);
}

/*
 * An mi x nj tile at y (rows ldy apart) of the product of k (element (i,
 * r) at k[i * rsk + r * csk]) and the ck rows at x + off[r]: a tile of a
 * row of the output (k the kernel, x the input), or of one output row's
 * columns (k the kernel transposed, x the rows of dy).  Inlined with
 * constant mi and nj (dconv_tile), so that the accumulators stay in
 * registers and are stored as vectors.
 */
GEMM_ATTR static DCONV_INLINE void
SFX(dconv_tile_n)(int ck, int mi, int nj, const REAL *restrict k,
		  ptrdiff_t rsk, ptrdiff_t csk, const REAL *restrict x,
		  const int *restrict off, REAL *restrict y, ptrdiff_t ldy)
{
	REAL t[DCONV_OB * DCONV_J];
	const int tj = DCONV_TJ(nj);

	for (int r0 = 0; r0 < ck; r0 += GEMM_KC) {
		int r1 = ck - r0 < GEMM_KC ? ck : r0 + GEMM_KC;

		SFX(dconv_acc)(r0, r1, mi, nj, k, rsk, csk, x, off, t, tj);
		/* merge (alpha 1, beta 0): the first chunk's 1 s is s */
		for (int i = 0; i < mi; i++) {
			REAL *restrict yi = y + i * ldy;

			if (r0 == 0) {
				GEMM_KEEP_LOOP
				for (int j = 0; j < nj; j++)
					yi[j] = t[i * tj + j];
			} else {
				GEMM_KEEP_LOOP
				for (int j = 0; j < nj; j++)
					yi[j] = FMA(1, t[i * tj + j], yi[j]);
			}
		}
	}
}

GEMM_ATTR static void
SFX(dconv_tile)(int ck, int mi, int nj, const REAL *restrict k,
		ptrdiff_t rsk, ptrdiff_t csk, const REAL *restrict x,
		const int *restrict off, REAL *restrict y, ptrdiff_t ldy)
{
	if (mi == DCONV_OB && nj == DCONV_J)
		SFX(dconv_tile_n)(ck, DCONV_OB, DCONV_J, k, rsk, csk, x, off,
				  y, ldy);
	else if (mi == DCONV_OH && nj == DCONV_J / 2)
		SFX(dconv_tile_n)(ck, DCONV_OH, DCONV_J / 2, k, rsk, csk, x,
				  off, y, ldy);
	else if (mi == DCONV_OB && nj == DCONV_J / 2)
		SFX(dconv_tile_n)(ck, DCONV_OB, DCONV_J / 2, k, rsk, csk, x,
				  off, y, ldy);
	else
		SFX(dconv_tile_n)(ck, mi, nj, k, rsk, csk, x, off, y, ldy);
}

/*
 * The offset in the input's copy (dconv_view: rows rs apart, channels
 * ps, runs of wq columns) of each kernel row r = (c, a, b) of a group:
 * column b dw is in run (b dw) mod sw at (b dw) / sw, counted without a
 * division (this runs for every sample).
 */
GEMM_ATTR static void
SFX(dconv_offsets)(const pcg_conv_geo *g, ptrdiff_t rs, ptrdiff_t ps, int wq,
		   int *off)
{
	int cg = g->c / g->groups;

	for (int c = 0, r = 0; c < cg; c++)
		for (int a = 0; a < g->kh; a++) {
			ptrdiff_t row = c * ps + a * g->dh * rs;

			for (int b = 0, f = 0, q = 0; b < g->kw; b++) {
				off[r++] = (int)(row + f * (ptrdiff_t)wq + q);
				for (f += g->dw; f >= g->sw; f -= g->sw)
					q++;
			}
		}
}

/*
 * The input of one sample as the forward pass and dK read it, and the
 * offset of each kernel row r = (c, a, b) of a group in it: x itself when
 * the convolution neither pads nor strides its rows, else a copy in buf
 * of rows -ph .. and columns -pw .. of x (as many as the output reaches,
 * zero outside x) with the columns of each row split by their remainder
 * modulo sw (dconv_phase: sw runs of wq columns).  Output column ox of
 * kernel row r then reads v[off[r] + oy sh rs + ox], a contiguous run of
 * ox for any stride.  Only channels c0 .. c1-1 of the copy are written
 * (a block of dK's columns reads no others).  Unless fresh, buf holds the
 * copy of another sample with the same c0 and c1, and only the elements
 * read from x are written (the zeros are there: for resnet's copies they
 * were a third of the time).  Returns v; *rs is a row's length, *ps a
 * channel's.
 */
GEMM_ATTR GEMM_ROW_LOOPS static const REAL *
SFX(dconv_view)(const pcg_conv_geo *g, const REAL *restrict x, int c0,
		int c1, REAL *restrict buf, ptrdiff_t *rs, ptrdiff_t *ps,
		int *off, int fresh)
{
	int hp = dconv_rows(g), wq = dconv_phase(g);
	int sw = g->sw, wp = sw * wq;
	const REAL *v = buf;

	if (g->ph == 0 && g->pw == 0 && sw == 1) {
		*rs = g->w;
		*ps = (ptrdiff_t)g->h * g->w;
		wq = 0; /* unused: one run */
		v = x;
	} else {
		*rs = wp;
		*ps = (ptrdiff_t)hp * wp;
		for (int f = 0; f < sw; f++) {
			/* run f of row yy: column t sw + f - pw at t, inside
			 * x for t in [lo, hi) (the same for every channel:
			 * the divisions once a run, not once a channel) */
			int o = f - g->pw;
			int lo = o < 0 ? (-o + sw - 1) / sw : 0;
			int hi = (g->w - o + sw - 1) / sw;

			hi = hi < wq ? hi : wq;
			lo = lo < hi ? lo : hi;
			for (int c = c0; c < c1; c++)
				for (int yy = 0; yy < hp; yy++) {
					REAL *restrict run =
						buf + (c * (ptrdiff_t)hp + yy) * wp +
						f * wq;
					int iy = yy - g->ph;

					if (iy < 0 || iy >= g->h) {
						for (int t = 0; fresh && t < wq;
						     t++)
							run[t] = 0;
						continue;
					}
					const REAL *restrict src =
						x + ((ptrdiff_t)c * g->h + iy) *
							    g->w;

					for (int t = 0; fresh && t < lo; t++)
						run[t] = 0;
					if (sw == 1) {
						const REAL *restrict s1 =
							src + lo + o;

						for (int t = 0; t < hi - lo; t++)
							run[lo + t] = s1[t];
					} else {
						for (int t = lo; t < hi; t++)
							run[t] = src[t * sw + o];
					}
					for (int t = hi; fresh && t < wq; t++)
						run[t] = 0;
				}
			}
	}
	if (off)
		SFX(dconv_offsets)(g, *rs, *ps, wq, off);
	return v;
}

/* The forward pass of one sample: y = K col, v the input's view. */
GEMM_ATTR static void
SFX(dconv_fwd_one)(const pcg_conv_geo *g, const REAL *v, ptrdiff_t rs,
		   ptrdiff_t ps, const int *off, const REAL *k, REAL *y)
{
	int cg = g->c / g->groups, og = g->o / g->groups;
	int ck = cg * g->kh * g->kw;
	ptrdiff_t p = (ptrdiff_t)g->oh * g->ow;
	/* output rows of at most half a tile: tiles of DCONV_OH channels */
	int ob = g->ow <= DCONV_J / 2 ? DCONV_OH : DCONV_OB;

	for (int gi = 0; gi < g->groups; gi++) {
		const REAL *vg = v + gi * cg * ps;
		const REAL *kg = k + (ptrdiff_t)gi * og * ck;
		REAL *yg = y + gi * og * p;

		for (int oy = 0; oy < g->oh; oy++) {
			const REAL *vr = vg + oy * g->sh * rs;

			for (int o0 = 0, mi; o0 < og; o0 += mi) {
				mi = og - o0 < ob ? og - o0 : ob;
				for (int j0 = 0, nj; j0 < g->ow; j0 += nj) {
					nj = g->ow - j0 >= DCONV_J ? DCONV_J
					     : g->ow - j0 >= DCONV_J / 2
						     ? DCONV_J / 2
						     : g->ow - j0;
					SFX(dconv_tile)(
						ck, mi, nj, kg + o0 * ck, ck, 1,
						vr + j0, off,
						yg + o0 * p + oy * g->ow + j0,
						p);
				}
			}
		}
	}
}

/* The forward pass of batch samples (x and y steps xs and ys apart): y =
 * K col (pcg_dconv_fwd_f), one view of the input in the scratch. */
GEMM_ATTR static void
SFX(dconv_fwd)(const pcg_conv_geo *g, int batch, const REAL *x,
	       ptrdiff_t xs, const REAL *k, REAL *y, ptrdiff_t ys,
	       REAL *scratch)
{
	int *off = (int *)(void *)scratch;

	for (int b = 0; b < batch; b++) {
		ptrdiff_t rs, ps;
		const REAL *v = SFX(dconv_view)(g, x + b * xs, 0, g->c,
						 scratch + dconv_table(g), &rs,
						 &ps, b == 0 ? off : NULL,
						 b == 0);

		SFX(dconv_fwd_one)(g, v, rs, ps, off, k, y + b * ys);
	}
}

/*
 * dx: t[i][j] = sum over o = r0 .. r1-1 (r1 > r0) of k[o * ck + i * kk] *
 * dy[o * ps + j], each a multiply-add from 0: one chunk of the sum over
 * the output channels of col = K^T dy, input channel i.  dconv_acc's
 * loop with k's strides rsk = kk and csk = ck, and the rows of dy (x) xs
 * = ps apart.
 */
GEMM_ATTR static DCONV_INLINE void
SFX(dconv_dx_sum)(int r0, int r1, int csk, int rsk, int mi,
		  int nj, const REAL *restrict k, const REAL *restrict x,
		  ptrdiff_t xs, REAL (*restrict t)[DCONV_J])
{
#ifdef VK_KERNEL
	if (nj % GEMM_VK_N == 0 && mi <= DCONV_OB) {
		DCONV_ACC_VK(DCONV_ROW_STRIDE, DCONV_T2);
		return;
	}
#endif
	DCONV_ACC_BODY(DCONV_ROW_STRIDE, DCONV_T2);
}

/* The chunks of the sum after the first (more than GEMM_KC output
 * channels), merged into u as the GEMM merges them. */
GEMM_ATTR static GEMM_NOINLINE void
SFX(dconv_dx_more)(int og, int ck, int kk, int mi, int nj,
		   const REAL *restrict k, const REAL *restrict dy,
		   ptrdiff_t ps, REAL (*restrict u)[DCONV_J])
{
	for (int o0 = GEMM_KC; o0 < og; o0 += GEMM_KC) {
		REAL v[DCONV_OB][DCONV_J];

		SFX(dconv_dx_sum)(o0, og - o0 < GEMM_KC ? og : o0 + GEMM_KC, ck,
				  kk, mi, nj, k, dy, ps, v);
		for (int i = 0; i < mi; i++)
			for (int j = 0; j < nj; j++)
				u[i][j] = FMA(1, v[i][j], u[i][j]);
	}
}

/*
 * u[i][j] = col's element for input channel i (dconv_dx_sum, all chunks)
 * for j < nj: the chunks after the first merged in as the GEMM merges
 * them.
 */
GEMM_ATTR static DCONV_INLINE void
SFX(dconv_dx_col)(int og, int ck, int kk, int mi, int nj,
		  const REAL *restrict k, const REAL *restrict dy, ptrdiff_t ps,
		  REAL (*restrict u)[DCONV_J])
{
	SFX(dconv_dx_sum)(0, og < GEMM_KC ? og : GEMM_KC, ck, kk, mi, nj, k,
			  dy, ps, u);
	if (og > GEMM_KC)
		SFX(dconv_dx_more)(og, ck, kk, mi, nj, k, dy, ps, u);
}

/*
 * Two of dconv_dx_sum's sums over all og output channels at once (og <=
 * GEMM_KC: one chunk), half a tile wide: u1 from kernel column k1 and
 * dy's rows at x1, u2 from k2 and x2.  Each keeps its own order; side by
 * side they are twice the independent chains, where half a tile of
 * DCONV_OB channels alone would wait on the multiply-adds' latency.
 */
GEMM_ATTR static DCONV_INLINE void
SFX(dconv_dx_sum2)(int og, int ck, int kk, int mi, const REAL *restrict k1,
		   const REAL *restrict k2, const REAL *restrict x1,
		   const REAL *restrict x2, ptrdiff_t xs,
		   REAL (*restrict u1)[DCONV_J], REAL (*restrict u2)[DCONV_J])
{
	for (int i = 0; i < mi; i++) {
		REAL a = k1[i * kk], b = k2[i * kk];

		GEMM_KEEP_LOOP
		for (int j = 0; j < DCONV_J / 2; j++) {
			u1[i][j] = FMA(a, x1[j], (REAL)0);
			u2[i][j] = FMA(b, x2[j], (REAL)0);
		}
	}
	for (int o = 1; o < og; o++) {
		const REAL *restrict r1 = x1 + o * xs, *restrict r2 = x2 + o * xs;

		for (int i = 0; i < mi; i++) {
			REAL a = k1[i * kk + o * ck], b = k2[i * kk + o * ck];

			GEMM_KEEP_LOOP
			for (int j = 0; j < DCONV_J / 2; j++) {
				u1[i][j] = FMA(a, r1[j], u1[i][j]);
				u2[i][j] = FMA(b, r2[j], u2[i][j]);
			}
		}
	}
}

/* The lanes [*j0, *j1) of a tile nj wide that kernel column b adds (its
 * output columns inside the image), and the first s of half a tile that
 * holds them; returns whether they fit half a tile (and are not none),
 * and half a tile saves instructions: not when one vector is the whole
 * tile, where the whole tile's lanes, from 0, are added as one aligned
 * vector instead of half a vector at lane s (an unaligned load of t,
 * stored the kernel column before: 18 % of cnn's second dx). */
static inline int
SFX(dconv_dx_half)(int lo, int hi, int nj, int *j0, int *j1, int *s)
{
	*j0 = lo > 0 ? lo : 0;
	*j1 = hi < nj ? hi : nj;
	*s = nj == DCONV_J && *j0 > DCONV_J / 2 ? DCONV_J / 2
	     : nj == DCONV_J ? *j0 : 0;
	return *j1 > *j0 && *j1 - *j0 <= DCONV_J / 2 &&
	       !(DCONV_VEC_TILE && nj == DCONV_J);
}

/*
 * t[i][j] += u[i][j - s] for j in [j0, j1), i < mi: the lanes of a column
 * of contributions inside the image.  Unless lanes (dconv_dx's), every
 * lane from s on, nu of them, with a fixed trip count that is
 * vectorised (lanes one by one were a third of the time of dx): a lane
 * outside the image holds +0 (K finite times dy's border of zeros), and
 * t + +0 is t when t is not -0, which it never is then.
 */
GEMM_ATTR static DCONV_INLINE void
SFX(dconv_dx_lanes)(int lanes, int mi, int nu, int s, int j0, int j1,
		    REAL (*restrict t)[DCONV_J], REAL (*restrict u)[DCONV_J])
{
	if (!lanes && s == 0) {
		for (int i = 0; i < mi; i++) {
			GEMM_KEEP_LOOP
			for (int j = 0; j < nu; j++)
				t[i][j] += u[i][j];
		}
		return;
	}
	for (int i = 0; i < mi; i++)
		for (int j = j0; j < j1; j++)
			t[i][j] += u[i][j - s];
}

/*
 * dx: t[i][j] += col's element for input channel i where j is inside
 * [lo, hi); the lanes whose output column is outside the image add
 * nothing, as col2im skips them (dconv_dx_lanes).  Only the lanes that
 * are added are computed when they fit half a tile (an image at most
 * DCONV_J / 2 columns wide: half the multiply-adds of a whole tile), and
 * none when there are none; a lane's sum is the same whichever lanes are
 * computed beside it.
 */
GEMM_ATTR static DCONV_INLINE void
SFX(dconv_dx_add)(int lanes, int og, int ck, int kk, int mi, int nj, int lo,
		  int hi, const REAL *restrict k, const REAL *restrict dy,
		  ptrdiff_t ps, REAL (*restrict t)[DCONV_J])
{
	REAL u[DCONV_OB][DCONV_J];
	int j0, j1, s;

	if (SFX(dconv_dx_half)(lo, hi, nj, &j0, &j1, &s)) {
		/* lanes s .. s + DCONV_J/2 - 1 hold [j0, j1) */
		SFX(dconv_dx_col)(og, ck, kk, mi, DCONV_J / 2, k, dy + s, ps,
				  u);
		SFX(dconv_dx_lanes)(lanes, mi, DCONV_J / 2, s, j0, j1, t, u);
		return;
	}
	if (j1 <= j0)
		return;
	SFX(dconv_dx_col)(og, ck, kk, mi, nj, k, dy, ps, u);
	SFX(dconv_dx_lanes)(lanes, mi, nj, 0, j0, j1, t, u);
}

/*
 * A tile of dx: mi input channels (kk = kh kw apart in k) of row iy,
 * columns x0 .. x0+nj-1, every contribution of col2im added in its order
 * of (a, b) (one output row for each a, the rows of dy padded by ml
 * columns on each side in dyp, ld reals a row, ps a channel).
 */
GEMM_ATTR static DCONV_INLINE void
SFX(dconv_dx_tile_n)(const pcg_conv_geo *g, int acc, int lanes, int iy,
		     int x0, int mi, int nj, int nd, const REAL *restrict k,
		     const REAL *restrict dyp, int ml, ptrdiff_t ld,
		     ptrdiff_t ps, REAL *restrict dx)
{
	int og = g->o / g->groups, kk = g->kh * g->kw;
	int ck = g->c / g->groups * kk;
	ptrdiff_t plane = (ptrdiff_t)g->h * g->w;
	REAL t[DCONV_OB][DCONV_J];

	for (int i = 0; i < mi; i++) {
		const REAL *restrict d = dx + i * plane;

		GEMM_KEEP_LOOP
		for (int j = 0; j < nj; j++)
			t[i][j] = acc && j < nd ? d[j] : 0;
	}
	for (int a = 0; a < g->kh; a++) {
		int n = iy + g->ph - a * g->dh, oy = n / g->sh;

		if (n < 0 || n % g->sh || oy >= g->oh)
			continue;
		const REAL *dyr = dyp + oy * ld + ml + x0;

		for (int b = 0; b < g->kw; b++) {
			int off = b * g->dw - g->pw, off2 = off + g->dw;
			int j0, j1, s, j2, j3, s2;

			/* two kernel columns whose lanes fit half a tile,
			 * side by side, added in their order */
			if (og <= GEMM_KC && b + 1 < g->kw &&
			    SFX(dconv_dx_half)(off - x0, g->ow + off - x0, nj,
					       &j0, &j1, &s) &&
			    SFX(dconv_dx_half)(off2 - x0, g->ow + off2 - x0,
					       nj, &j2, &j3, &s2)) {
				REAL u1[DCONV_OB][DCONV_J], u2[DCONV_OB][DCONV_J];

				SFX(dconv_dx_sum2)(og, ck, kk, mi,
						   k + a * g->kw + b,
						   k + a * g->kw + b + 1,
						   dyr - off + s, dyr - off2 + s2,
						   ps, u1, u2);
				SFX(dconv_dx_lanes)(lanes, mi, DCONV_J / 2, s,
						    j0, j1, t, u1);
				SFX(dconv_dx_lanes)(lanes, mi, DCONV_J / 2, s2,
						    j2, j3, t, u2);
				b++;
				continue;
			}
			SFX(dconv_dx_add)(lanes, og, ck, kk, mi, nj, off - x0,
					  g->ow + off - x0, k + a * g->kw + b,
					  dyr - off, ps, t);
		}
	}
	for (int i = 0; i < mi; i++) {
		REAL *restrict d = dx + i * plane;

		if (nd == nj) {
			GEMM_KEEP_LOOP
			for (int j = 0; j < nj; j++)
				d[j] = t[i][j];
		} else {
			for (int j = 0; j < nd; j++)
				d[j] = t[i][j];
		}
	}
}

/*
 * dconv_dx_tile_n with constant shapes: mi is DCONV_OB or DCONV_OB / 2,
 * the tile DCONV_J or DCONV_J / 2 wide, of which the first nd columns are
 * dx's (the rest, past the end of the row, computed and dropped).
 */
GEMM_ATTR static void
SFX(dconv_dx_tile)(const pcg_conv_geo *g, int acc, int lanes, int iy, int x0,
		   int mi, int nd, const REAL *restrict k,
		   const REAL *restrict dyp, int ml, ptrdiff_t ld, ptrdiff_t ps,
		   REAL *restrict dx)
{
#define DCONV_DX_TILE(MI, NJ)                                                 \
	SFX(dconv_dx_tile_n)(g, acc, lanes, iy, x0, MI, NJ, nd, k, dyp, ml,   \
			     ld, ps, dx)
	if (mi == DCONV_OB) {
		if (nd > DCONV_J / 2)
			DCONV_DX_TILE(DCONV_OB, DCONV_J);
		else
			DCONV_DX_TILE(DCONV_OB, DCONV_J / 2);
	} else {
		if (nd > DCONV_J / 2)
			DCONV_DX_TILE(DCONV_OB / 2, DCONV_J);
		else
			DCONV_DX_TILE(DCONV_OB / 2, DCONV_J / 2);
	}
#undef DCONV_DX_TILE
}

/* Whether some element of x (n of them) is not finite. */
GEMM_ATTR static int
SFX(dconv_nonfinite)(const REAL *restrict x, ptrdiff_t n)
{
	int bad = 0;

	for (ptrdiff_t i = 0; i < n; i++)
		bad |= !(x[i] - x[i] == 0);
	return bad;
}

/*
 * Whether some element of x (n of them) is -0.  Without an early exit, so
 * that gcc and clang vectorise it: dx looks at every element of a sample
 * it adds into, and as a loop that stopped at the first -0 (scalar) this
 * took 8 % of resnet b16's step on an AVX-512 machine.
 */
GEMM_ATTR static int
SFX(dconv_negzero)(const REAL *restrict x, ptrdiff_t n)
{
	int neg = 0;

	for (ptrdiff_t i = 0; i < n; i++)
		neg |= (x[i] == 0) & (signbit(x[i]) != 0);
	return neg;
}

/*
 * dx of batch samples (dy and dx dy_step and dx_step reals apart): col =
 * K^T dy, dx (+)= col2im(col) (pcg_dconv_dx_f), element by element of
 * dx: the columns of its contributions computed in registers for a tile
 * of input channels, added in col2im's order.  dy is copied with a border
 * of ml columns on each side (rows of ld), so that every tile reads whole
 * vectors; the border's zeros are written for the first sample only.
 * The lanes outside the image are added as +0 (dconv_dx_lanes) unless K
 * has an element that is not finite (then they would not be 0) or dx,
 * accumulated into, a -0 (which +0 would turn into +0).
 */
GEMM_ATTR static int
SFX(dconv_dx)(const pcg_conv_geo *g, int batch, int acc, const REAL *k,
	      const REAL *dy, ptrdiff_t dy_step, REAL *dx, ptrdiff_t dx_step,
	      REAL *scratch)
{
	int cg = g->c / g->groups, og = g->o / g->groups;
	int ck = cg * g->kh * g->kw, ow = g->ow, w = g->w;
	ptrdiff_t p = (ptrdiff_t)g->oh * ow;
	int ml = dconv_dx_left(g), ld = dconv_dx_ld(g);
	ptrdiff_t ps = (ptrdiff_t)g->oh * ld;

	/* tiles of DCONV_OB or DCONV_OB / 2 input channels (a tile's
	 * channels are its independent chains of multiply-adds: fewer wait
	 * on their latency; the im2col path is faster then) */
	if (cg % (DCONV_OB / 2) != 0)
		return 0;
	int kbad = SFX(dconv_nonfinite)(k, (ptrdiff_t)g->o * ck);

	for (int b = 0; b < batch; b++) {
		REAL *dxb = dx + b * dx_step;
		int lanes = kbad ||
			    (acc && SFX(dconv_negzero)(
					    dxb, (ptrdiff_t)g->c * g->h * w));

		for (int gi = 0; gi < g->groups; gi++) {
			const REAL *kg = k + (ptrdiff_t)gi * og * ck;
			const REAL *dyg = dy + b * dy_step + gi * og * p;
			REAL *dxg = dxb + (ptrdiff_t)gi * cg * g->h * w;

			for (int o = 0; o < og; o++)
				for (int oy = 0; oy < g->oh; oy++) {
					REAL *restrict row =
						scratch + o * ps + oy * ld;
					const REAL *restrict src =
						dyg + o * p + oy * ow;

					for (int j = 0; b == 0 && j < ml; j++)
						row[j] = 0;
					for (int j = 0; j < ow; j++)
						row[ml + j] = src[j];
					for (int j = ml + ow; b == 0 && j < ld;
					     j++)
						row[j] = 0;
				}
			for (int c0 = 0, mi; c0 < cg; c0 += mi) {
				mi = cg - c0 >= DCONV_OB ? DCONV_OB
							 : DCONV_OB / 2;
				for (int iy = 0; iy < g->h; iy++)
					for (int x0 = 0, nj; x0 < w; x0 += nj) {
						nj = w - x0 < DCONV_J ? w - x0
								      : DCONV_J;
						SFX(dconv_dx_tile)(
							g, acc, lanes, iy, x0,
							mi, nj,
							kg + c0 * g->kh * g->kw,
							scratch, ml, ld, ps,
							dxg + ((ptrdiff_t)c0 *
								       g->h +
							       iy) * w + x0);
					}
			}
		}
	}
	return 1;
}

/*
 * dK: t[i tj + j] = sum over p = p0 .. p1-1 (p1 > p0) in order of
 * x[xo[i] + pos(p)] dyt[p ldt + j], each a multiply-add from 0, where
 * pos(p) = (p / ow) srow + p % ow is output position p's place in the
 * (padded) input row of every kernel row.  i < mi rows of dK^T (kernel
 * rows), j < nj output channels along the vectors.
 */
/* Output positions from .. p1-1 in order, row by row of the output: q
 * the column in row oy, xr and dr row oy's input and dy (no division a
 * position: it was a tenth of resnet's dK). */
#define DK_WALK(from, body)                                                   \
	for (int p = (from), oy = p / ow, q = p - oy * ow; p < p1;            \
	     oy++, q = 0) {                                                   \
		int qe = p1 - p < ow - q ? q + (p1 - p) : ow;                 \
		const REAL *restrict xr = x + oy * srow;                      \
		const REAL *restrict dr = dyt + (ptrdiff_t)oy * ow * ldt;     \
                                                                              \
		p += qe - q;                                                  \
		for (; q < qe; q++) {                                         \
			body                                                  \
		}                                                             \
	}

GEMM_ATTR static DCONV_INLINE void
SFX(dconv_dk_acc)(int p0, int p1, int ow, ptrdiff_t srow, int mi, int nj,
		  const REAL *restrict x, const int *restrict xo,
		  const REAL *restrict dyt, ptrdiff_t ldt, REAL *restrict t,
		  int tj)
{
#ifdef VK_KERNEL
	/* in vectors of intrinsics (DCONV_ACC_VK): from 0, position by
	 * position in the same order, so the same bits */
	if (nj % GEMM_VK_N == 0 && mi <= DCONV_OH) {
		enum { NV = DCONV_J / GEMM_VK_N };
		GEMM_VK_T acc[DCONV_OH][NV], dv[NV];
		const int nv = nj / GEMM_VK_N;

		for (int i = 0; i < mi; i++)
			for (int v = 0; v < nv; v++)
				acc[i][v] = VK_OP(setzero)();
		DK_WALK(p0,
			for (int v = 0; v < nv; v++)
				dv[v] = VK_OP(loadu)(dr + q * ldt +
						     v * GEMM_VK_N);
			for (int i = 0; i < mi; i++) {
				GEMM_VK_T xv = VK_OP(set1)(xr[xo[i] + q]);

				for (int v = 0; v < nv; v++)
					acc[i][v] = VK_FMA(xv, dv[v],
							   acc[i][v]);
			})
		for (int i = 0; i < mi; i++)
			for (int v = 0; v < nv; v++)
				VK_OP(storeu)(t + i * tj + v * GEMM_VK_N,
					      acc[i][v]);
		return;
	}
#endif
	/* the first term from 0 where it is stored (zeroing the tile
	 * first cost gcc's dK a fifth on the examples' shapes) */
	const REAL *restrict x0 = x + p0 / ow * srow + p0 % ow;
	const REAL *restrict d0 = dyt + p0 * ldt;

	for (int i = 0; i < mi; i++) {
		REAL xv = x0[xo[i]];

		GEMM_KEEP_LOOP
		for (int j = 0; j < nj; j++)
			t[i * tj + j] = FMA(xv, d0[j], (REAL)0);
	}
	DK_WALK(p0 + 1,
		const REAL *restrict dq = dr + q * ldt;

		for (int i = 0; i < mi; i++) {
			REAL xv = xr[xo[i] + q];

			GEMM_KEEP_LOOP
			for (int j = 0; j < nj; j++)
				t[i * tj + j] = FMA(xv, dq[j], t[i * tj + j]);
		})
}
#undef DK_WALK

/*
 * Rows of dK^T (mi kernel rows from xo, nj output channels) over output
 * positions pa .. pb-1 of one sample (pa a multiple of GEMM_KC), chunk by
 * chunk, merged into dkt (rows lddk apart) as the GEMM merges dK = dy
 * col^T with beta = 1 when sum, else 0: over one chunk with sum 0, that
 * chunk's sums.  Only the
 * first md rows are stored (a last tile of fewer rows is computed whole,
 * its extra rows repeating the last, so that the tile keeps constant
 * shapes and its accumulators stay in registers).
 */
GEMM_ATTR static DCONV_INLINE void
SFX(dconv_dk_tile_n)(int pa, int pb, int ow, ptrdiff_t srow, int mi, int nj,
		     int md, const REAL *restrict x, const int *restrict xo,
		     const REAL *restrict dyt, ptrdiff_t ldt, int sum,
		     REAL *restrict dkt, ptrdiff_t lddk)
{
	REAL t[DCONV_OB * DCONV_J];
	const int tj = DCONV_TJ(nj);

	for (int p0 = pa; p0 < pb; p0 += GEMM_KC) {
		int p1 = pb - p0 < GEMM_KC ? pb : p0 + GEMM_KC;

		SFX(dconv_dk_acc)(p0, p1, ow, srow, mi, nj, x, xo, dyt, ldt, t,
				  tj);
		for (int i = 0; i < mi; i++) {
			REAL *restrict di = dkt + i * lddk;

			if (i >= md)
				break;
			if (p0 == pa && !sum) {
				GEMM_KEEP_LOOP
				for (int j = 0; j < nj; j++)
					di[j] = t[i * tj + j];
			} else {
				GEMM_KEEP_LOOP
				for (int j = 0; j < nj; j++)
					di[j] = FMA(1, t[i * tj + j], di[j]);
			}
		}
	}
}

/* A tile of mt rows, of which md are dK's: DCONV_OB rows of DCONV_J
 * output channels, else DCONV_OH (dconv_dk's mt). */
GEMM_ATTR static void
SFX(dconv_dk_tile)(int pa, int pb, int ow, ptrdiff_t srow, int mt, int md,
		   int nj, const REAL *restrict x, const int *restrict off,
		   const REAL *restrict dyt, ptrdiff_t ldt, int sum,
		   REAL *restrict dkt, ptrdiff_t lddk)
{
	int xo[DCONV_OH];

	for (int i = 0; i < mt; i++)
		xo[i] = off[i < md ? i : md - 1];
	if (nj == DCONV_J)
		SFX(dconv_dk_tile_n)(pa, pb, ow, srow, DCONV_OB, DCONV_J, md,
				     x, xo, dyt, ldt, sum, dkt, lddk);
	else if (nj == DCONV_J / 2)
		SFX(dconv_dk_tile_n)(pa, pb, ow, srow, DCONV_OH, DCONV_J / 2,
				     md, x, xo, dyt, ldt, sum, dkt, lddk);
	else
		SFX(dconv_dk_tile_n)(pa, pb, ow, srow, DCONV_OH, nj, md, x, xo,
				     dyt, ldt, sum, dkt, lddk);
}

/*
 * dy of one sample's group transposed for dK, dyt[q og + o] = dy[o p +
 * q]: the output channels along the vectors.  With GEMM_ROWT (float on
 * AVX2), blocks of 8 channels by 8 positions transposed in registers
 * (a strided load an element cost 3-4 times as much).
 */
GEMM_ATTR static void
SFX(dconv_dyt)(int og, ptrdiff_t p, const REAL *restrict dy,
	       REAL *restrict dyt)
{
	int o8 = 0; /* channels 0 .. o8-1 of positions 0 .. p8-1 in blocks */
	ptrdiff_t p8 = 0;

#ifdef GEMM_ROWT
	o8 = og / 8 * 8;
	p8 = p / 8 * 8;
	for (int o0 = 0; o0 < o8; o0 += 8)
		for (ptrdiff_t q = 0; q < p8; q += 8) {
			__m256 r[8];

			SFX(rowt_block)(r, dy + o0 * p, p, NULL, (int)q);
			for (int i = 0; i < 8; i++)
				_mm256_storeu_ps(dyt + (q + i) * og + o0, r[i]);
		}
#endif
	for (ptrdiff_t q = 0; q < p; q++)
		for (int o = q < p8 ? o8 : 0; o < og; o++)
			dyt[q * og + o] = dy[o * p + q];
}

/*
 * Rows c0 .. c1-1 of one group's dK^T (at dkg, rows og apart) over output
 * positions pa .. pb-1 of one sample, tile by tile (dconv_dk_tile): v and
 * off the sample's input (dconv_view), dyt its dy transposed.
 */
GEMM_ATTR static void
SFX(dconv_dk_tiles)(int og, int c0, int c1, int pa, int pb, int ow,
		    ptrdiff_t srow, const REAL *v, const int *off,
		    const REAL *dyt, int sum, REAL *dkg)
{
	for (int o0 = 0, nj; o0 < og; o0 += nj) {
		nj = og - o0 >= DCONV_J	      ? DCONV_J
		     : og - o0 >= DCONV_J / 2 ? DCONV_J / 2
					      : og - o0;
		int mt = nj == DCONV_J ? DCONV_OB : DCONV_OH;

		for (int r0 = c0, mi; r0 < c1; r0 += mi) {
			mi = c1 - r0 < mt ? c1 - r0 : mt;
			SFX(dconv_dk_tile)(pa, pb, ow, srow, mt, mi, nj, v,
					   off + r0, dyt + o0, og, sum,
					   dkg + (ptrdiff_t)(r0 - c0) * og + o0,
					   og);
		}
	}
}

/*
 * Columns lo .. hi-1 of dK (counted over the groups, as pcg_pool.c's
 * blocks: group gi's column r is gi ck + r) summed over the batch
 * (pcg_dconv_dk_f): dK^T built in scratch, sample after sample (its
 * input through dconv_view, its dy transposed so that the output
 * channels run along the vectors), then copied into dK.  Every element
 * is the GEMM's sum over p, in chunks, merged over the samples in order.
 */
GEMM_ATTR static void
SFX(dconv_dk)(const pcg_conv_geo *g, int batch, int acc, const REAL *x,
	      ptrdiff_t xs, const REAL *dy, ptrdiff_t ys, REAL *dk, int lo,
	      int hi, REAL *scratch)
{
	int cg = g->c / g->groups, og = g->o / g->groups;
	int kk = g->kh * g->kw, ck = cg * kk, ow = g->ow;
	ptrdiff_t p = (ptrdiff_t)g->oh * ow, rs, ps;
	int *off = (int *)(void *)scratch;
	REAL *dkt = scratch + ck, *dyt = dkt + (ptrdiff_t)(hi - lo) * og;
	REAL *buf = dyt + p * og;

	if (acc)
		for (int r = lo; r < hi; r++)
			for (int o = 0; o < og; o++)
				dkt[(ptrdiff_t)(r - lo) * og + o] =
					dk[((ptrdiff_t)(r / ck) * og + o) * ck +
					   r % ck];
	for (int b = 0; b < batch; b++) {
		/* column r (over the groups) reads input channel r / kk */
		const REAL *v = SFX(dconv_view)(g, x + b * xs, lo / kk,
						(hi - 1) / kk + 1, buf, &rs,
						&ps, b == 0 ? off : NULL,
						b == 0);

		for (int gi = lo / ck; gi * ck < hi; gi++) {
			int c0 = lo > gi * ck ? lo - gi * ck : 0;
			int c1 = hi < (gi + 1) * ck ? hi - gi * ck : ck;
			const REAL *dyg = dy + b * ys + (ptrdiff_t)gi * og * p;
			const REAL *vg = v + gi * cg * ps;
			REAL *dkg = dkt + (ptrdiff_t)(gi * ck + c0 - lo) * og;

			SFX(dconv_dyt)(og, p, dyg, dyt);
			SFX(dconv_dk_tiles)(og, c0, c1, 0, (int)p, ow,
					    g->sh * rs, vg, off, dyt, acc || b,
					    dkg);
		}
	}
	for (int r = lo; r < hi; r++)
		for (int o = 0; o < og; o++)
			dk[((ptrdiff_t)(r / ck) * og + o) * ck + r % ck] =
				dkt[(ptrdiff_t)(r - lo) * og + o];
}
