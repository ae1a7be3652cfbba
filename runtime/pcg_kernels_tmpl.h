/*
 * pcg_kernels_tmpl.h — the body of the operation kernels, written once for
 * a scalar type and included by pcg_kernels.c once for float and once for
 * double.  Not an installed header: pcg_runtime.h says what every kernel
 * computes.
 *
 * The includer defines:
 *   REAL        the scalar type
 *   SFX(name)   name with the type's suffix (pcg_fill -> pcg_fill_f)
 *   REAL_IS_FLOAT  1 for float, 0 for double
 *   EXP, LOG, LOG1P, SQRT, FABS   the <math.h> functions for REAL
 * and the index walks (walk_init, walk_axis, walk_start, walk_next,
 * walk_step) and stride helpers (row_major, kept_strides).
 *
 * Arithmetic.  Each expression is the one documented in pcg_runtime.h,
 * written in the same order (pcc's generated code used to paste most of
 * these kernels as text, and results must keep their bits): do not
 * reorder sums, hoist divisions or merge loops in a way that changes an
 * operation.  Constants are written (REAL)0, (REAL)0.5, ... so that
 * nothing is computed in double for float.
 */

/* ------------------------------------------------------ element-wise */

void
SFX(pcg_fill)(int n, REAL *restrict y, REAL v)
{
	for (int i = 0; i < n; i++)
		y[i] = v;
}

void
SFX(pcg_copy)(int n, REAL *restrict y, const REAL *restrict x)
{
	for (int i = 0; i < n; i++)
		y[i] = x[i];
}

void
SFX(pcg_copy_vjp)(int n, int acc, REAL *restrict dx, const REAL *restrict dy)
{
	for (int i = 0; i < n; i++)
		dx[i] = acc ? dx[i] + dy[i] : dy[i];
}

void
SFX(pcg_scale)(int n, REAL c, REAL *restrict g)
{
	for (int i = 0; i < n; i++)
		g[i] *= c;
}

void
SFX(pcg_error)(int n, REAL *restrict eps, const REAL *restrict x,
	       const REAL *restrict mu)
{
	/* x == mu gives 0 also where both are infinite (a causal mask's
	 * -inf), where x - mu would be NaN; elsewhere the same bits */
	for (int i = 0; i < n; i++)
		eps[i] = x[i] == mu[i] ? 0 : x[i] - mu[i];
}

int
SFX(pcg_nonzero)(int n, const REAL *restrict x)
{
	/* -0 counts as zero; NaN as non-zero */
	for (int i = 0; i < n; i++)
		if (x[i] != 0)
			return 1;
	return 0;
}

int
SFX(pcg_differ)(int n, const REAL *restrict a, const REAL *restrict b)
{
	/* the test of pcg_error: equal values (infinities included) are
	 * the same, NaN differs */
	for (int i = 0; i < n; i++)
		if (!(a[i] == b[i]))
			return 1;
	return 0;
}

void
SFX(pcg_infer)(int n, REAL gamma, REAL *restrict dev, REAL *restrict x,
	       const REAL *restrict mu0, const REAL *restrict eps,
	       const REAL *restrict fb)
{
	for (int i = 0; i < n; i++) {
		dev[i] += gamma * (fb[i] - eps[i]);
		x[i] = mu0[i] + dev[i];
	}
}

REAL
SFX(pcg_half_sq)(int n, const REAL *restrict eps)
{
	REAL s = 0;

	for (int i = 0; i < n; i++)
		s += eps[i] * eps[i];
	return (REAL)0.5 * s;
}

REAL
SFX(pcg_sum)(int n, const REAL *restrict x)
{
	REAL s = 0;

	for (int i = 0; i < n; i++)
		s += x[i];
	return s;
}

/*
 * The updates round lr * g on its own, a statement apart, so that no
 * compiler fuses it with the subtraction (clang does within an expression
 * for targets with FMA): the products' fused updates (pcg_sgemm_upd) give
 * these bits.
 */
void
SFX(pcg_sgd)(int n, REAL lr, REAL *restrict w, const REAL *restrict g)
{
	for (int i = 0; i < n; i++) {
		REAL d = lr * g[i];

		w[i] -= d;
	}
}

void
SFX(pcg_zil_sgd)(int n, REAL lr, REAL *restrict w, const REAL *restrict g)
{
	for (int i = 0; i < n; i++) {
		REAL d = lr * ((REAL)0 - g[i]);

		w[i] -= d;
	}
}

void
SFX(pcg_canon)(int n, REAL *restrict g)
{
	for (int i = 0; i < n; i++)
		g[i] = g[i] + (REAL)0;
}

void
SFX(pcg_zil_grad)(int n, REAL *restrict g)
{
	for (int i = 0; i < n; i++)
		g[i] = (REAL)0 - g[i];
}

void
SFX(pcg_canon_sgd)(int n, REAL lr, REAL *restrict w, REAL *restrict g)
{
	for (int i = 0; i < n; i++) {
		REAL gi = g[i] + (REAL)0;
		REAL d = lr * gi;

		g[i] = gi;
		w[i] -= d;
	}
}

/* ------------------------------------------------------ along an axis */

/* m = x[0], then m = x[k s] > m ? x[k s] : m, k = 1 .. n-1. */
static inline REAL
SFX(axis_max)(int n, ptrdiff_t s, const REAL *x)
{
	REAL m = x[0];

	for (int k = 1; k < n; k++)
		m = x[k * s] > m ? x[k * s] : m;
	return m;
}

/* The sum of exp(x[k s] - m) in order k. */
static inline REAL
SFX(axis_sum_exp)(int n, ptrdiff_t s, const REAL *x, REAL m)
{
	REAL sum = 0;

	for (int k = 0; k < n; k++)
		sum += EXP(x[k * s] - m);
	return sum;
}

/* The same sum, each exp(x[k s] - m) kept in e[k s] for a second pass
 * (where e is not x): exp once an element instead of twice, the same
 * bits. */
static inline REAL
SFX(axis_exp_sum)(int n, ptrdiff_t s, const REAL *restrict x, REAL m,
		  REAL *restrict e)
{
	REAL sum = 0;

	for (int k = 0; k < n; k++) {
		e[k * s] = EXP(x[k * s] - m);
		sum += e[k * s];
	}
	return sum;
}

/* The offset of element (o, 0, i) of an [outer][n][inner] view. */
static inline ptrdiff_t
SFX(axis_at)(int o, int n, int inner, int i)
{
	return (ptrdiff_t)o * n * inner + i;
}

void
SFX(pcg_softmax)(int outer, int n, int inner, REAL *restrict y,
		 const REAL *restrict x)
{
	ptrdiff_t s = inner;

	if (n <= 0)
		return;
	for (int o = 0; o < outer; o++)
		for (int i = 0; i < inner; i++) {
			const REAL *xr = x + SFX(axis_at)(o, n, inner, i);
			REAL *yr = y + SFX(axis_at)(o, n, inner, i);
			REAL m = SFX(axis_max)(n, s, xr);
			REAL sum = SFX(axis_exp_sum)(n, s, xr, m, yr);

			for (int k = 0; k < n; k++)
				yr[k * s] = yr[k * s] / sum;
		}
}

void
SFX(pcg_log_softmax)(int outer, int n, int inner, REAL *restrict y,
		     const REAL *restrict x)
{
	ptrdiff_t s = inner;

	if (n <= 0)
		return;
	for (int o = 0; o < outer; o++)
		for (int i = 0; i < inner; i++) {
			const REAL *xr = x + SFX(axis_at)(o, n, inner, i);
			REAL *yr = y + SFX(axis_at)(o, n, inner, i);
			REAL m = SFX(axis_max)(n, s, xr);
			REAL lse = m + LOG(SFX(axis_sum_exp)(n, s, xr, m));

			for (int k = 0; k < n; k++)
				yr[k * s] = xr[k * s] - lse;
		}
}

void
SFX(pcg_softmax_vjp)(int outer, int n, int inner, int acc,
		     REAL *restrict dx, const REAL *restrict dy,
		     const REAL *restrict y)
{
	ptrdiff_t s = inner;

	for (int o = 0; o < outer; o++)
		for (int i = 0; i < inner; i++) {
			ptrdiff_t at = SFX(axis_at)(o, n, inner, i);
			const REAL *yr = y + at, *gr = dy + at;
			REAL *dr = dx + at;
			REAL sg = 0;

			for (int k = 0; k < n; k++)
				sg += gr[k * s] * yr[k * s];
			for (int k = 0; k < n; k++) {
				REAL v = yr[k * s] * (gr[k * s] - sg);

				dr[k * s] = acc ? dr[k * s] + v : v;
			}
		}
}

void
SFX(pcg_log_softmax_vjp)(int outer, int n, int inner, int acc,
			 REAL *restrict dx, const REAL *restrict dy,
			 const REAL *restrict y)
{
	ptrdiff_t s = inner;

	for (int o = 0; o < outer; o++)
		for (int i = 0; i < inner; i++) {
			ptrdiff_t at = SFX(axis_at)(o, n, inner, i);
			const REAL *yr = y + at, *gr = dy + at;
			REAL *dr = dx + at;
			REAL sg = 0;

			for (int k = 0; k < n; k++)
				sg += gr[k * s];
			for (int k = 0; k < n; k++) {
				REAL v = gr[k * s] - EXP(yr[k * s]) * sg;

				dr[k * s] = acc ? dr[k * s] + v : v;
			}
		}
}

void
SFX(pcg_layernorm)(int outer, int n, int inner, REAL eps, REAL *restrict y,
		   const REAL *restrict x)
{
	ptrdiff_t s = inner;

	for (int o = 0; o < outer; o++)
		for (int i = 0; i < inner; i++) {
			const REAL *xr = x + SFX(axis_at)(o, n, inner, i);
			REAL *yr = y + SFX(axis_at)(o, n, inner, i);
			REAL m = 0, v = 0;

			for (int k = 0; k < n; k++)
				m += xr[k * s];
			m /= n;
			for (int k = 0; k < n; k++)
				v += (xr[k * s] - m) * (xr[k * s] - m);
			REAL inv = (REAL)1 / SQRT(v / n + eps);
			for (int k = 0; k < n; k++)
				yr[k * s] = (xr[k * s] - m) * inv;
		}
}

void
SFX(pcg_layernorm_vjp)(int outer, int n, int inner, REAL eps, int acc,
		       REAL *restrict dx, const REAL *restrict dy,
		       const REAL *restrict x, const REAL *restrict y)
{
	ptrdiff_t s = inner;

	for (int o = 0; o < outer; o++)
		for (int i = 0; i < inner; i++) {
			ptrdiff_t at = SFX(axis_at)(o, n, inner, i);
			const REAL *xr = x + at, *yr = y + at, *gr = dy + at;
			REAL *dr = dx + at;
			REAL m = 0, v = 0, mg = 0, mgy = 0;

			for (int k = 0; k < n; k++)
				m += xr[k * s];
			m /= n;
			for (int k = 0; k < n; k++) {
				v += (xr[k * s] - m) * (xr[k * s] - m);
				mg += gr[k * s];
				mgy += gr[k * s] * yr[k * s];
			}
			mg /= n;
			mgy /= n;
			REAL inv = (REAL)1 / SQRT(v / n + eps);
			for (int k = 0; k < n; k++) {
				REAL g = (gr[k * s] - mg - yr[k * s] * mgy) * inv;

				dr[k * s] = acc ? dr[k * s] + g : g;
			}
		}
}

/* --------------------------------------------------- targets_near */

void
SFX(pcg_near_mse)(int batch, int n, int ts, REAL c, REAL *restrict t,
		  const REAL *restrict o)
{
	for (int b = 0; b < batch; b++) {
		const REAL *ob = o + (ptrdiff_t)b * n;
		REAL *tb = t + (ptrdiff_t)b * ts;

		for (int i = 0; i < n; i++)
			tb[i] = ob[i] + c * (tb[i] - ob[i]);
	}
}

void
SFX(pcg_near_xent)(int batch, int rows, int n, int ts, REAL c,
		   REAL *restrict t, const REAL *restrict o)
{
	if (n <= 0)
		return;
	for (int b = 0; b < batch; b++)
		for (int r = 0; r < rows; r++) {
			const REAL *orow = o + ((ptrdiff_t)b * rows + r) * n;
			REAL *trow = t + (ptrdiff_t)b * ts + (ptrdiff_t)r * n;
			REAL m = SFX(axis_max)(n, 1, orow);
			REAL sum = SFX(axis_sum_exp)(n, 1, orow, m);

			for (int i = 0; i < n; i++) {
				REAL p = EXP(orow[i] - m) / sum;

				trow[i] = p + c * (trow[i] - p);
			}
		}
}

/* ---------------------------------------------------- reductions */

void
SFX(pcg_reduce)(int op, int rank, const int *dims, const int *red,
		REAL scale, REAL *restrict y, const REAL *restrict x)
{
	ptrdiff_t xs[PCG_MAX_RANK], ys[PCG_MAX_RANK];
	ptrdiff_t ny = kept_strides(rank, dims, red, ys);
	walk w;

	row_major(rank, dims, xs);
	for (ptrdiff_t i = 0; i < ny; i++)
		y[i] = op == PCG_REDUCE_MAX ? -INFINITY : 0;
	/*
	 * Visit x in row-major order and fold each element into its y:
	 * every y then sees its own elements in row-major order, which is
	 * the order of the definition.
	 */
	walk_init(&w);
	for (int a = 0; a < rank; a++)
		walk_axis(&w, dims[a], xs[a], ys[a]);
	if (walk_start(&w, 0, 0)) {
		int last = w.rank - 1;
		ptrdiff_t n = w.dim[last], s0 = w.st[0][last];
		ptrdiff_t s1 = w.st[1][last];

		do {
			const REAL *xp = x + w.off[0];
			REAL *yp = y + w.off[1];

			for (ptrdiff_t j = 0; j < n; j++) {
				REAL e = xp[j * s0], v = yp[j * s1];

				if (op != PCG_REDUCE_MAX)
					v += e;
				else if (e > v || (isnan(e) && !isnan(v)))
					v = e;
				yp[j * s1] = v;
			}
		} while (walk_next(&w));
	}
	if (op != PCG_REDUCE_MAX)
		for (ptrdiff_t i = 0; i < ny; i++)
			y[i] = y[i] * scale;
}

void
SFX(pcg_reduce_vjp)(int op, int rank, const int *dims, const int *red,
		    int acc, REAL scale, REAL *restrict dx,
		    const REAL *restrict dy, const REAL *restrict x,
		    const REAL *restrict y)
{
	ptrdiff_t xs[PCG_MAX_RANK], ys[PCG_MAX_RANK];
	ptrdiff_t nx = row_major(rank, dims, xs);
	walk w, rw;

	kept_strides(rank, dims, red, ys);
	if (op != PCG_REDUCE_MAX) {
		walk_init(&w);
		for (int a = 0; a < rank; a++)
			walk_axis(&w, dims[a], xs[a], ys[a]);
		if (!walk_start(&w, 0, 0))
			return;
		int last = w.rank - 1;
		ptrdiff_t n = w.dim[last], s0 = w.st[0][last];
		ptrdiff_t s1 = w.st[1][last];

		do {
			REAL *dp = dx + w.off[0];
			const REAL *gp = dy + w.off[1];

			for (ptrdiff_t j = 0; j < n; j++) {
				REAL v = gp[j * s1] * scale;

				dp[j * s0] = acc ? dp[j * s0] + v : v;
			}
		} while (walk_next(&w));
		return;
	}
	if (!acc)
		for (ptrdiff_t i = 0; i < nx; i++)
			dx[i] = 0;
	/* For every y (w, over the kept axes), the first match among its
	 * elements (rw, over the reduced axes, in row-major order). */
	walk_init(&w);
	walk_init(&rw);
	for (int a = 0; a < rank; a++) {
		if (red[a])
			walk_axis(&rw, dims[a], xs[a], 0);
		else
			walk_axis(&w, dims[a], xs[a], ys[a]);
	}
	if (!walk_start(&w, 0, 0))
		return;
	do {
		REAL yv = y[w.off[1]], g = dy[w.off[1]];

		if (!walk_start(&rw, w.off[0], 0))
			continue;
		do {
			REAL e = x[rw.off[0]];

			if (e == yv || (isnan(e) && isnan(yv))) {
				dx[rw.off[0]] = acc ? dx[rw.off[0]] + g : g;
				break;
			}
		} while (walk_step(&rw));
	} while (walk_step(&w));
}

/* ------------------------------------------- permutations, slices */

/* Along a started walk: y[off 1] = x[off 0], the last axis innermost. */
static void
SFX(walk_copy)(walk *w, REAL *restrict y, const REAL *restrict x)
{
	int last = w->rank - 1;
	ptrdiff_t n = w->dim[last], s0 = w->st[0][last], s1 = w->st[1][last];

	do {
		const REAL *xp = x + w->off[0];
		REAL *yp = y + w->off[1];

		for (ptrdiff_t j = 0; j < n; j++)
			yp[j * s1] = xp[j * s0];
	} while (walk_next(w));
}

/* Along a started walk: dx[off 0] (+)= dy[off 1]. */
static void
SFX(walk_back)(walk *w, int acc, REAL *restrict dx, const REAL *restrict dy)
{
	int last = w->rank - 1;
	ptrdiff_t n = w->dim[last], s0 = w->st[0][last], s1 = w->st[1][last];

	do {
		REAL *dp = dx + w->off[0];
		const REAL *gp = dy + w->off[1];

		for (ptrdiff_t j = 0; j < n; j++)
			dp[j * s0] = acc ? dp[j * s0] + gp[j * s1] : gp[j * s1];
	} while (walk_next(w));
}

/* The walk of a permutation: x's offsets (axis perm[a] for y's axis a)
 * and y's. */
static int
SFX(permute_walk)(walk *w, int rank, const int *dims, const int *perm)
{
	ptrdiff_t xs[PCG_MAX_RANK], ys[PCG_MAX_RANK];
	int ydims[PCG_MAX_RANK];

	row_major(rank, dims, xs);
	for (int a = 0; a < rank; a++)
		ydims[a] = dims[perm[a]];
	row_major(rank, ydims, ys);
	walk_init(w);
	for (int a = 0; a < rank; a++)
		walk_axis(w, ydims[a], xs[perm[a]], ys[a]);
	return walk_start(w, 0, 0);
}

void
SFX(pcg_permute)(int rank, const int *dims, const int *perm,
		 REAL *restrict y, const REAL *restrict x)
{
	walk w;

	if (SFX(permute_walk)(&w, rank, dims, perm))
		SFX(walk_copy)(&w, y, x);
}

void
SFX(pcg_permute_vjp)(int rank, const int *dims, const int *perm, int acc,
		     REAL *restrict dx, const REAL *restrict dy)
{
	walk w;

	if (SFX(permute_walk)(&w, rank, dims, perm))
		SFX(walk_back)(&w, acc, dx, dy);
}

/* The walk of a slice: x's offsets (from lo, stepping) and y's. */
static int
SFX(slice_walk)(walk *w, int rank, const int *dims, const int *lo,
		const int *step, const int *ydims)
{
	ptrdiff_t xs[PCG_MAX_RANK], ys[PCG_MAX_RANK], base = 0;

	row_major(rank, dims, xs);
	row_major(rank, ydims, ys);
	walk_init(w);
	for (int a = 0; a < rank; a++) {
		base += (ptrdiff_t)lo[a] * xs[a];
		walk_axis(w, ydims[a], xs[a] * step[a], ys[a]);
	}
	return walk_start(w, base, 0);
}

void
SFX(pcg_slice)(int rank, const int *dims, const int *lo, const int *step,
	       const int *ydims, REAL *restrict y, const REAL *restrict x)
{
	walk w;

	if (SFX(slice_walk)(&w, rank, dims, lo, step, ydims))
		SFX(walk_copy)(&w, y, x);
}

void
SFX(pcg_slice_vjp)(int rank, const int *dims, const int *lo,
		   const int *step, const int *ydims, int acc,
		   REAL *restrict dx, const REAL *restrict dy)
{
	ptrdiff_t xs[PCG_MAX_RANK];
	ptrdiff_t nx = row_major(rank, dims, xs);
	walk w;

	/* the slice's elements are distinct: zeroing first, then adding,
	 * maps a -0 in dy to +0, as a scatter into zeros does */
	if (!acc)
		for (ptrdiff_t i = 0; i < nx; i++)
			dx[i] = 0;
	if (SFX(slice_walk)(&w, rank, dims, lo, step, ydims))
		SFX(walk_back)(&w, 1, dx, dy);
}

/* ------------------------------------------------- concatenation */

void
SFX(pcg_place)(int batch, int outer, int ylen, int off, int xlen, int xbs,
	       REAL *restrict y, const REAL *restrict x)
{
	for (int b = 0; b < batch; b++)
		for (int o = 0; o < outer; o++) {
			REAL *yp = y + ((ptrdiff_t)b * outer + o) * ylen + off;
			const REAL *xp = x + (ptrdiff_t)b * xbs +
					 (ptrdiff_t)o * xlen;

			for (int i = 0; i < xlen; i++)
				yp[i] = xp[i];
		}
}

void
SFX(pcg_gather)(int batch, int outer, int ylen, int off, int xlen, int dxbs,
		int acc, REAL *restrict dx, const REAL *restrict dy)
{
	for (int b = 0; b < batch; b++) {
		int add = acc || (dxbs == 0 && b > 0);

		for (int o = 0; o < outer; o++) {
			const REAL *gp = dy + ((ptrdiff_t)b * outer + o) * ylen +
					 off;
			REAL *dp = dx + (ptrdiff_t)b * dxbs +
				   (ptrdiff_t)o * xlen;

			for (int i = 0; i < xlen; i++)
				dp[i] = add ? dp[i] + gp[i] : gp[i];
		}
	}
}

/* ------------------------------------------------ triangular masks */

void
SFX(pcg_tri)(int lower, int count, int m, int n, int k, REAL fill,
	     REAL *restrict y, const REAL *restrict x)
{
	for (int c = 0; c < count; c++)
		for (int i = 0; i < m; i++) {
			ptrdiff_t at = ((ptrdiff_t)c * m + i) * n;

			for (int j = 0; j < n; j++) {
				int keep = lower ? j - i <= k : j - i >= k;

				y[at + j] = keep ? x[at + j] : fill;
			}
		}
}

void
SFX(pcg_tri_vjp)(int lower, int count, int m, int n, int k, int acc,
		 REAL *restrict dx, const REAL *restrict dy)
{
	for (int c = 0; c < count; c++)
		for (int i = 0; i < m; i++) {
			ptrdiff_t at = ((ptrdiff_t)c * m + i) * n;

			for (int j = 0; j < n; j++) {
				int keep = lower ? j - i <= k : j - i >= k;

				if (keep)
					dx[at + j] = acc ? dx[at + j] + dy[at + j]
							 : dy[at + j];
				else if (!acc)
					dx[at + j] = 0;
			}
		}
}

/* ------------------------------------------ convolution, pooling */

/*
 * The outputs j = 0 .. ow-1 of a row of a convolution whose input column
 * j * s + off falls inside 0 .. w-1: j in [*lo, *hi).  In closed form, so
 * that im2col and col2im loop over the inside without a test per element
 * (and, with stride 1, as contiguous copies that vectorise).
 */
static inline void
SFX(conv_inside)(int w, int s, int off, int ow, int *lo, int *hi)
{
	int first = off < 0 ? (-off + s - 1) / s : 0;
	int end = w - off > 0 ? (w - off + s - 1) / s : 0;

	if (end > ow)
		end = ow;
	if (first > end)
		first = end;
	*lo = first;
	*hi = end;
}

/*
 * One row of im2col (one (channel, a, b)) when both strides are 1 and
 * the output is as wide as the input (a "same" convolution): the output
 * rows whose input row is inside the image are then one contiguous run
 * of the input plane xc, shifted by dy rows and off columns, so they are
 * copied in one piece; the elements that wrapped around from the
 * neighbouring rows (columns outside [lo, hi)) are zeroed afterwards, as
 * are the rows outside the image.  The run skips the first row's first
 * lo and the last row's last w - hi elements, the only ones that can lie
 * outside the plane.  A copy: the same values as the general loop.
 */
static void
SFX(im2col_plane)(int h, int w, int oh, int dy, int off, int lo, int hi,
		  const REAL *restrict xc, REAL *restrict plane)
{
	int i0 = dy < 0 ? -dy : 0, i1 = h - dy < oh ? h - dy : oh;

	if (i1 < i0)
		i1 = i0;
	for (ptrdiff_t t = 0; t < (ptrdiff_t)i0 * w; t++)
		plane[t] = 0;
	if (i1 > i0 && hi > lo) {
		ptrdiff_t n = (ptrdiff_t)(i1 - i0) * w - lo - (w - hi);
		const REAL *restrict src =
			xc + (ptrdiff_t)(i0 + dy) * w + off + lo;
		REAL *restrict dst = plane + (ptrdiff_t)i0 * w + lo;

		for (ptrdiff_t t = 0; t < n; t++)
			dst[t] = src[t];
	}
	for (int i = i0; i < i1; i++) {
		REAL *restrict rr = plane + (ptrdiff_t)i * w;

		for (int j = 0; j < lo; j++)
			rr[j] = 0;
		for (int j = hi > lo ? hi : lo; j < w; j++)
			rr[j] = 0;
	}
	for (ptrdiff_t t = (ptrdiff_t)i1 * w; t < (ptrdiff_t)oh * w; t++)
		plane[t] = 0;
}

void
SFX(pcg_im2col_rows)(int c, int h, int w, int kh, int kw, int sh, int sw,
		     int ph, int pw, int dh, int dw, int oh, int ow, int r0,
		     int r1, const REAL *restrict x, REAL *restrict col)
{
	ptrdiff_t plane = (ptrdiff_t)oh * ow;

	(void)c;
	for (int r = r0; r < r1; r++) {
		int ch = r / (kh * kw), a = r / kw % kh, b = r % kw;
		int off = b * dw - pw, lo, hi;
		REAL *row = col + (ptrdiff_t)(r - r0) * plane;

		SFX(conv_inside)(w, sw, off, ow, &lo, &hi);
		if (sh == 1 && sw == 1 && ow == w && oh > 0) {
			SFX(im2col_plane)(h, w, oh, a * dh - ph, off, lo, hi,
					  x + (ptrdiff_t)ch * h * w, row);
			continue;
		}
		for (int i = 0; i < oh; i++) {
			int yy = i * sh + a * dh - ph;
			REAL *restrict rr = row + (ptrdiff_t)i * ow;

			if (yy < 0 || yy >= h) {
				for (int j = 0; j < ow; j++)
					rr[j] = 0;
				continue;
			}
			const REAL *restrict xr = x + ((ptrdiff_t)ch * h + yy) * w;
			for (int j = 0; j < lo; j++)
				rr[j] = 0;
			if (sw == 1) {
				const REAL *restrict src = xr + lo + off;
				REAL *restrict dst = rr + lo;

				for (int j = 0; j < hi - lo; j++)
					dst[j] = src[j];
			} else {
				for (int j = lo; j < hi; j++)
					rr[j] = xr[(ptrdiff_t)j * sw + off];
			}
			for (int j = hi; j < ow; j++)
				rr[j] = 0;
		}
	}
}

void
SFX(pcg_im2col_ex)(int c, int h, int w, int kh, int kw, int sh, int sw,
		   int ph, int pw, int dh, int dw, int oh, int ow,
		   const REAL *restrict x, REAL *restrict col)
{
	SFX(pcg_im2col_rows)(c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow,
			     0, c * kh * kw, x, col);
}

void
SFX(pcg_col2im_ex)(int c, int h, int w, int kh, int kw, int sh, int sw,
		   int ph, int pw, int dh, int dw, int oh, int ow, int acc,
		   const REAL *restrict col, REAL *restrict dx)
{
	ptrdiff_t plane = (ptrdiff_t)oh * ow;

	if (!acc)
		for (ptrdiff_t i = 0; i < (ptrdiff_t)c * h * w; i++)
			dx[i] = 0;
	for (int ch = 0; ch < c; ch++)
		for (int a = 0; a < kh; a++)
			for (int b = 0; b < kw; b++) {
				const REAL *row = col + (((ptrdiff_t)ch * kh + a) * kw +
							 b) * plane;
				int off = b * dw - pw, lo, hi;

				SFX(conv_inside)(w, sw, off, ow, &lo, &hi);
				for (int i = 0; i < oh; i++) {
					int yy = i * sh + a * dh - ph;

					if (yy < 0 || yy >= h)
						continue;
					const REAL *restrict r = row + (ptrdiff_t)i * ow;
					REAL *restrict dr = dx + ((ptrdiff_t)ch * h + yy) * w;
					if (sw == 1) {
						const REAL *restrict src = r + lo;
						REAL *restrict dst = dr + lo + off;

						for (int j = 0; j < hi - lo; j++)
							dst[j] += src[j];
					} else {
						for (int j = lo; j < hi; j++)
							dr[(ptrdiff_t)j * sw + off] += r[j];
					}
				}
			}
}

/*
 * The in-image part of a pooling window at (y0, x0), kh x kw, of an
 * h x w plane: rows a0 .. a1-1 and columns b0 .. b1-1 of the window.
 * Returns 0 if it is empty.
 */
static inline int
SFX(pool_clip)(int h, int w, int kh, int kw, int y0, int x0, int *a0,
	       int *a1, int *b0, int *b1)
{
	*a0 = y0 < 0 ? -y0 : 0;
	*a1 = h - y0 < kh ? h - y0 : kh;
	*b0 = x0 < 0 ? -x0 : 0;
	*b1 = w - x0 < kw ? w - x0 : kw;
	return *a0 < *a1 && *b0 < *b1;
}

/*
 * Output columns j whose windows lie inside the plane's columns (x0 = j sw
 * - pw >= 0 and x0 + kw <= w): [*jlo, *jhi), maybe empty.  The windows of
 * one output row have the same rows, so for these columns pcg_pool2d
 * computes a row of outputs at once (pool_row), POOL_J columns at a time,
 * each output by the operations of the one-output loop (pool_one) in its
 * order: the same bits, 1.4x faster on cnn's first pooling (51 -> 36 us
 * for 16 samples).  Max pooling's VJP likewise (pool_vjp_row).
 */
#ifndef POOL_J
#define POOL_J 16
#if defined(__GNUC__) || defined(__clang__)
#define POOL_INLINE inline __attribute__((always_inline))
#else
#define POOL_INLINE inline
#endif
#endif

static inline void
SFX(pool_inner)(int w, int kw, int sw, int pw, int ow, int *jlo, int *jhi)
{
	int lo = (pw + sw - 1) / sw;
	int hi = w - kw + pw < 0 ? 0 : (w - kw + pw) / sw + 1;

	*jlo = lo < ow ? lo : ow;
	*jhi = hi < ow ? hi : ow;
	if (*jhi < *jlo)
		*jhi = *jlo;
}

/* Output (i, j) of pcg_pool2d: its window's in-image part from its first
 * element, e > v ? e : v (max) or v + e from 0 (average, then / area). */
static REAL
SFX(pool_one)(int max, const REAL *restrict xp, int h, int w, int kh,
	      int kw, int y0, int x0, REAL area)
{
	int a0, a1, b0, b1;
	REAL v;

	if (!SFX(pool_clip)(h, w, kh, kw, y0, x0, &a0, &a1, &b0, &b1))
		return max ? -INFINITY : 0;
	v = max ? xp[(ptrdiff_t)(y0 + a0) * w + x0 + b0] : 0;
	for (int a = a0; a < a1; a++)
		for (int b = b0; b < b1; b++) {
			REAL e = xp[(ptrdiff_t)(y0 + a) * w + x0 + b];

			v = max ? (e > v ? e : v) : v + e;
		}
	return max ? v : v / area;
}

/* pool_one for nj <= POOL_J outputs of a row whose windows are inside
 * the columns: rows a0 .. a1-1 from y0, the first window at column x0,
 * the others sw apart (inlined with constant sw). */
static POOL_INLINE void
SFX(pool_row_n)(int max, const REAL *restrict xp, int w, int kw, int sw,
		int y0, int a0, int a1, int x0, int nj, REAL area,
		REAL *restrict y)
{
	REAL t[POOL_J];
	const REAL *r = xp + (ptrdiff_t)(y0 + a0) * w + x0;

	for (int jj = 0; jj < nj; jj++)
		t[jj] = max ? r[jj * sw] : 0;
	for (int a = a0; a < a1; a++) {
		r = xp + (ptrdiff_t)(y0 + a) * w + x0;
		for (int b = 0; b < kw; b++)
			if (max) {
				for (int jj = 0; jj < nj; jj++) {
					REAL e = r[jj * sw + b];

					t[jj] = e > t[jj] ? e : t[jj];
				}
			} else {
				for (int jj = 0; jj < nj; jj++)
					t[jj] = t[jj] + r[jj * sw + b];
			}
	}
	for (int jj = 0; jj < nj; jj++)
		y[jj] = max ? t[jj] : t[jj] / area;
}

/* The maximum of a 2 x 2 window as pool_row_n finds it: e > m ? e : m
 * over its elements in order from the first. */
static POOL_INLINE REAL
SFX(pool_max4)(REAL e0, REAL e1, REAL e2, REAL e3)
{
	REAL m = e1 > e0 ? e1 : e0;

	m = e2 > m ? e2 : m;
	return e3 > m ? e3 : m;
}

/* pool_row for max pooling's 2 x 2 windows, stride 2, both rows in the
 * image: the four elements of a window read as two pairs of
 * neighbours, so that gcc vectorises the loop (with the window's loops
 * it stayed scalar), the same comparisons in the same order. */
static POOL_INLINE void
SFX(pool_max_row22)(const REAL *restrict r0, const REAL *restrict r1,
		    int nj, REAL *restrict y)
{
	for (int jj = 0; jj < nj; jj++)
		y[jj] = SFX(pool_max4)(r0[2 * jj], r0[2 * jj + 1], r1[2 * jj],
				       r1[2 * jj + 1]);
}

static void
SFX(pool_row)(int max, const REAL *restrict xp, int w, int kw, int sw,
	      int y0, int a0, int a1, int x0, int nj, REAL area,
	      REAL *restrict y)
{
	if (max && kw == 2 && sw == 2 && a1 - a0 == 2) {
		const REAL *r0 = xp + (ptrdiff_t)(y0 + a0) * w + x0;

		SFX(pool_max_row22)(r0, r0 + w, nj, y);
		return;
	}
	if (sw == 1)
		SFX(pool_row_n)(max, xp, w, kw, 1, y0, a0, a1, x0, nj, area, y);
	else if (sw == 2)
		SFX(pool_row_n)(max, xp, w, kw, 2, y0, a0, a1, x0, nj, area, y);
	else
		SFX(pool_row_n)(max, xp, w, kw, sw, y0, a0, a1, x0, nj, area,
				y);
}

void
SFX(pcg_pool2d)(int max, int planes, int h, int w, int kh, int kw, int sh,
		int sw, int ph, int pw, int oh, int ow, REAL *restrict y,
		const REAL *restrict x)
{
	REAL area = (REAL)(kh * kw);
	int jlo, jhi, a0, a1, b0, b1, p = 0;

	/* Global pooling (one output a plane) whose window spans whole
	 * columns: the planes are a row of outputs h w reals apart, POOL_J
	 * at a time (pool_row: each output's chain of operations in its
	 * order, side by side).  A plane at a time, each addition of
	 * resnet's 8 x 8 average pool waited on the one before: 38 us for
	 * 256 planes, a tenth of that this way. */
	if (oh == 1 && ow == 1 && pw == 0 && kw <= w &&
	    SFX(pool_clip)(h, w, kh, kw, -ph, 0, &a0, &a1, &b0, &b1))
		for (; p < planes; p += POOL_J)
			SFX(pool_row)(max, x + (ptrdiff_t)p * h * w, w, kw,
				      h * w, -ph, a0, a1, 0,
				      planes - p < POOL_J ? planes - p : POOL_J,
				      area, y + p);
	SFX(pool_inner)(w, kw, sw, pw, ow, &jlo, &jhi);
	for (; p < planes; p++) {
		const REAL *xp = x + (ptrdiff_t)p * h * w;
		REAL *yp = y + (ptrdiff_t)p * oh * ow;

		for (int i = 0; i < oh; i++) {
			int y0 = i * sh - ph;
			int a0 = y0 < 0 ? -y0 : 0;
			int a1 = h - y0 < kh ? h - y0 : kh;
			/* the rows of outputs [jv, je): none if no window
			 * row is in the image */
			int jv = a0 < a1 ? jlo : ow, je = a0 < a1 ? jhi : ow;
			REAL *yr = yp + (ptrdiff_t)i * ow;
			int j = 0;

			for (; j < jv; j++)
				yr[j] = SFX(pool_one)(max, xp, h, w, kh, kw,
						      y0, j * sw - pw, area);
			for (; j < je; j += POOL_J)
				SFX(pool_row)(max, xp, w, kw, sw, y0, a0, a1,
					      j * sw - pw,
					      je - j < POOL_J ? je - j : POOL_J,
					      area, yr + j);
			for (j = je; j < ow; j++)
				yr[j] = SFX(pool_one)(max, xp, h, w, kh, kw,
						      y0, j * sw - pw, area);
		}
	}
}

/* Output (i, j)'s part of pcg_pool2d_vjp: g into dx at its window's first
 * maximum (max), or g / area into every in-image element (average). */
static void
SFX(pool_vjp_one)(int max, const REAL *restrict xp, REAL *restrict dp,
		  int h, int w, int kh, int kw, int y0, int x0, REAL g,
		  REAL area)
{
	int a0, a1, b0, b1;

	if (!SFX(pool_clip)(h, w, kh, kw, y0, x0, &a0, &a1, &b0, &b1))
		return;
	if (max) {
		ptrdiff_t best = (ptrdiff_t)(y0 + a0) * w + x0 + b0;

		for (int a = a0; a < a1; a++)
			for (int b = b0; b < b1; b++) {
				ptrdiff_t at = (ptrdiff_t)(y0 + a) * w + x0 + b;

				if (xp[at] > xp[best])
					best = at;
			}
		dp[best] += g;
	} else {
		for (int a = a0; a < a1; a++)
			for (int b = b0; b < b1; b++)
				dp[(ptrdiff_t)(y0 + a) * w + x0 + b] += g / area;
	}
}

/*
 * pool_vjp_row (after the 2 x 2 case, pool_vjp_row22, below): max
 * pooling's VJP for the outputs whose windows are inside the columns
 * (pool_inner), a row of them at a time: each window's maximum m as
 * pcg_pool2d finds it (pool_row), then its first element equal to m
 * (the first, if m is a NaN: the first element was one), which is the
 * element the one-output search ends at (it replaces the best only by a
 * greater element, so nothing before where m was first reached equals
 * it), found from the last element back without branches; the adds into
 * dx in the order of the outputs.  The search of the one-output loop
 * mispredicts a branch at every other element: 184 -> 89 us on cnn's
 * first pooling (16 samples).
 */
/*
 * pool_vjp_row for 2 x 2 windows, stride 2, both rows in the image (the
 * usual max pooling): the same maximum (pool_max4, as pool_max_row22 computes it), g
 * added to the same element (the first equal to m), -0 to the other
 * three, which keeps them as they are (+0 would turn a -0 into +0).
 * Windows that do not overlap, so the order of the adds is moot;
 * selects of reals only, which gcc vectorises (an index of the element,
 * or flags as integers, kept it a scalar loop with branches: cnn's
 * poolings' VJP was 17 % of its step).
 */
static POOL_INLINE void
SFX(pool_vjp_row22)(const REAL *restrict r0, const REAL *restrict r1,
		    REAL *restrict d0, REAL *restrict d1, int nj,
		    const REAL *restrict g)
{
	for (int jj = 0; jj < nj; jj++) {
		REAL e0 = r0[2 * jj], e1 = r0[2 * jj + 1];
		REAL e2 = r1[2 * jj], e3 = r1[2 * jj + 1];
		REAL m = SFX(pool_max4)(e0, e1, e2, e3);
		/* g into the first of the four equal to m, -0 into the
		 * others (x + -0 is x, a -0 too); m >= e0 unless m is a NaN,
		 * which only e0 can make it, and then g goes to e0 as well:
		 * so e0 takes it unless e0 < m.  r: g while not yet taken. */
		REAL gj = g[jj], z = -(REAL)0;
		REAL g0 = e0 < m ? z : gj, r = e0 < m ? gj : z;
		REAL g1 = e1 == m ? r : z;

		r = e1 == m ? z : r;
		REAL g2 = e2 == m ? r : z;

		r = e2 == m ? z : r;
		REAL g3 = e3 == m ? r : z;

		d0[2 * jj] += g0;
		d0[2 * jj + 1] += g1;
		d1[2 * jj] += g2;
		d1[2 * jj + 1] += g3;
	}
}

static void
SFX(pool_vjp_row)(const REAL *restrict xp, REAL *restrict dp, int w,
		  int kw, int sw, int y0, int a0, int a1, int x0, int nj,
		  const REAL *restrict g)
{
	REAL m[POOL_J];

	if (kw == 2 && sw == 2 && a1 - a0 == 2) {
		ptrdiff_t o = (ptrdiff_t)(y0 + a0) * w + x0;

		SFX(pool_vjp_row22)(xp + o, xp + o + w, dp + o, dp + o + w, nj,
				    g);
		return;
	}

	SFX(pool_row)(1, xp, w, kw, sw, y0, a0, a1, x0, nj, 1, m);
	for (int jj = 0; jj < nj; jj++) {
		ptrdiff_t o = (ptrdiff_t)(y0 + a0) * w + x0 + jj * sw;
		ptrdiff_t best = o;

		if (m[jj] == m[jj])
			for (int a = a1 - 1; a >= a0; a--)
				for (int b = kw - 1; b >= 0; b--) {
					ptrdiff_t at = (ptrdiff_t)(y0 + a) * w +
						       x0 + jj * sw + b;

					best = xp[at] == m[jj] ? at : best;
				}
		dp[best] += g[jj];
	}
}

void
SFX(pcg_pool2d_vjp)(int max, int planes, int h, int w, int kh, int kw,
		    int sh, int sw, int ph, int pw, int oh, int ow, int acc,
		    REAL *restrict dx, const REAL *restrict dy,
		    const REAL *restrict x)
{
	REAL area = (REAL)(kh * kw);
	int jlo, jhi;

	SFX(pool_inner)(w, kw, sw, pw, ow, &jlo, &jhi);
	if (!max)
		jlo = jhi = ow;
	if (!acc)
		for (ptrdiff_t i = 0; i < (ptrdiff_t)planes * h * w; i++)
			dx[i] = 0;
	for (int p = 0; p < planes; p++) {
		const REAL *xp = x + (ptrdiff_t)p * h * w;
		const REAL *gp = dy + (ptrdiff_t)p * oh * ow;
		REAL *dp = dx + (ptrdiff_t)p * h * w;

		for (int i = 0; i < oh; i++) {
			int y0 = i * sh - ph;
			int a0 = y0 < 0 ? -y0 : 0;
			int a1 = h - y0 < kh ? h - y0 : kh;
			int jv = a0 < a1 ? jlo : ow, je = a0 < a1 ? jhi : ow;
			const REAL *gr = gp + (ptrdiff_t)i * ow;
			int j = 0;

			for (; j < jv; j++)
				SFX(pool_vjp_one)(max, xp, dp, h, w, kh, kw, y0,
						  j * sw - pw, gr[j], area);
			for (; j < je; j += POOL_J)
				SFX(pool_vjp_row)(xp, dp, w, kw, sw, y0, a0, a1,
						  j * sw - pw,
						  je - j < POOL_J ? je - j
								  : POOL_J,
						  gr + j);
			for (j = je; j < ow; j++)
				SFX(pool_vjp_one)(max, xp, dp, h, w, kh, kw, y0,
						  j * sw - pw, gr[j], area);
		}
	}
}

/* ------------------------------------------------------ integer ids */

void
SFX(pcg_embed)(int n, int d, REAL *restrict y, const REAL *restrict e,
	       const int32_t *restrict ids)
{
	for (int i = 0; i < n; i++) {
		const REAL *er = e + (ptrdiff_t)ids[i] * d;
		REAL *yr = y + (ptrdiff_t)i * d;

		for (int j = 0; j < d; j++)
			yr[j] = er[j];
	}
}

void
SFX(pcg_embed_vjp)(int n, int d, int v, int acc, REAL *restrict de,
		   const REAL *restrict dy, const int32_t *restrict ids)
{
	if (!acc)
		for (ptrdiff_t i = 0; i < (ptrdiff_t)v * d; i++)
			de[i] = 0;
	for (int i = 0; i < n; i++) {
		REAL *dr = de + (ptrdiff_t)ids[i] * d;
		const REAL *gr = dy + (ptrdiff_t)i * d;

		for (int j = 0; j < d; j++)
			dr[j] += gr[j];
	}
}

void
SFX(pcg_one_hot)(int n, int c, REAL *restrict y, const int32_t *restrict ids)
{
	for (int i = 0; i < n; i++) {
		REAL *yr = y + (ptrdiff_t)i * c;

		for (int k = 0; k < c; k++)
			yr[k] = k == ids[i] ? 1 : 0;
	}
}

/* ------------------------------------------------------------ losses */

/*
 * Sample b's part of a dx with per-sample stride dxs: whether its values
 * are added (acc, or a shared dx after sample 0) or stored.
 */
static inline int
SFX(loss_adds)(int acc, int dxs, int b)
{
	return acc || (dxs == 0 && b > 0);
}

/* 1, -1, 0 for d > 0, < 0, == 0; NaN for NaN. */
static inline REAL
SFX(sign)(REAL d)
{
	return d > 0 ? (REAL)1 : d < 0 ? (REAL)-1 : d == 0 ? (REAL)0 : d;
}

void
SFX(pcg_mse)(int batch, int n, int os, int ts, REAL *restrict y,
	     const REAL *restrict o, const REAL *restrict t)
{
	for (int b = 0; b < batch; b++) {
		const REAL *ob = o + (ptrdiff_t)b * os;
		const REAL *tb = t + (ptrdiff_t)b * ts;
		REAL s = 0;

		for (int i = 0; i < n; i++) {
			REAL e = ob[i] - tb[i];

			s += e * e;
		}
		y[b] = (REAL)0.5 * s;
	}
}

void
SFX(pcg_mse_vjp)(int wrt, int batch, int n, int os, int ts, int dxs, int acc,
		 REAL *restrict dx, const REAL *restrict dy,
		 const REAL *restrict o, const REAL *restrict t)
{
	for (int b = 0; b < batch; b++) {
		const REAL *ob = o + (ptrdiff_t)b * os;
		const REAL *tb = t + (ptrdiff_t)b * ts;
		REAL *db = dx + (ptrdiff_t)b * dxs;
		int add = SFX(loss_adds)(acc, dxs, b);
		REAL g = dy[b];

		for (int i = 0; i < n; i++) {
			REAL v = g * (ob[i] - tb[i]);

			if (wrt)
				v = -v;
			db[i] = add ? db[i] + v : v;
		}
	}
}

void
SFX(pcg_xent)(int batch, int rows, int n, int os, int ts, REAL *restrict y,
	      const REAL *restrict o, const REAL *restrict t)
{
	for (int b = 0; b < batch; b++) {
		REAL loss = 0;

		for (int r = 0; r < rows && n > 0; r++) {
			const REAL *orow = o + (ptrdiff_t)b * os + (ptrdiff_t)r * n;
			const REAL *trow = t + (ptrdiff_t)b * ts + (ptrdiff_t)r * n;
			REAL m = SFX(axis_max)(n, 1, orow);
			REAL lse = m + LOG(SFX(axis_sum_exp)(n, 1, orow, m));

			for (int i = 0; i < n; i++)
				loss -= trow[i] * (orow[i] - lse);
		}
		y[b] = loss;
	}
}

void
SFX(pcg_xent_vjp)(int wrt, int batch, int rows, int n, int os, int ts,
		  int dxs, int acc, REAL *restrict dx,
		  const REAL *restrict dy, const REAL *restrict o,
		  const REAL *restrict t)
{
	if (n <= 0)
		return;
	for (int b = 0; b < batch; b++) {
		int add = SFX(loss_adds)(acc, dxs, b);
		REAL g = dy[b];

		for (int r = 0; r < rows; r++) {
			const REAL *orow = o + (ptrdiff_t)b * os + (ptrdiff_t)r * n;
			const REAL *trow = t + (ptrdiff_t)b * ts + (ptrdiff_t)r * n;
			REAL *drow = dx + (ptrdiff_t)b * dxs + (ptrdiff_t)r * n;
			REAL m = SFX(axis_max)(n, 1, orow);
			/* stored: the exps go through drow */
			REAL sum = wrt == 0 && !add
					   ? SFX(axis_exp_sum)(n, 1, orow, m, drow)
					   : SFX(axis_sum_exp)(n, 1, orow, m);

			if (wrt == 0) {
				REAL tsum = 0;

				for (int i = 0; i < n; i++)
					tsum += trow[i];
				for (int i = 0; i < n; i++) {
					REAL e = add ? EXP(orow[i] - m) : drow[i];
					REAL v = g * (e / sum * tsum - trow[i]);

					drow[i] = add ? drow[i] + v : v;
				}
			} else {
				REAL lse = m + LOG(sum);

				for (int i = 0; i < n; i++) {
					REAL v = -(g * (orow[i] - lse));

					drow[i] = add ? drow[i] + v : v;
				}
			}
		}
	}
}

void
SFX(pcg_xent_index)(int batch, int rows, int n, int os, REAL *restrict y,
		    const REAL *restrict o, const int32_t *restrict labels)
{
	for (int b = 0; b < batch; b++) {
		REAL s = 0;

		for (int r = 0; r < rows && n > 0; r++) {
			const REAL *orow = o + (ptrdiff_t)b * os + (ptrdiff_t)r * n;
			int32_t l = labels[(ptrdiff_t)b * rows + r];
			REAL m = SFX(axis_max)(n, 1, orow);
			REAL lse = m + LOG(SFX(axis_sum_exp)(n, 1, orow, m));

			s += lse - orow[l];
		}
		y[b] = s;
	}
}

void
SFX(pcg_xent_index_vjp)(int batch, int rows, int n, int os, int dxs, int acc,
			REAL *restrict dx, const REAL *restrict dy,
			const REAL *restrict o, const int32_t *restrict labels)
{
	if (n <= 0)
		return;
	for (int b = 0; b < batch; b++) {
		int add = SFX(loss_adds)(acc, dxs, b);
		REAL g = dy[b];

		for (int r = 0; r < rows; r++) {
			const REAL *orow = o + (ptrdiff_t)b * os + (ptrdiff_t)r * n;
			REAL *drow = dx + (ptrdiff_t)b * dxs + (ptrdiff_t)r * n;
			int32_t l = labels[(ptrdiff_t)b * rows + r];
			REAL m = SFX(axis_max)(n, 1, orow);
			/* stored: the exps go through drow */
			REAL sum = add ? SFX(axis_sum_exp)(n, 1, orow, m)
				       : SFX(axis_exp_sum)(n, 1, orow, m, drow);

			for (int i = 0; i < n; i++) {
				REAL e = add ? EXP(orow[i] - m) : drow[i];
				REAL v = g * (e / sum - (i == l ? (REAL)1 : (REAL)0));

				drow[i] = add ? drow[i] + v : v;
			}
		}
	}
}

void
SFX(pcg_bce)(int batch, int n, int os, int ts, REAL *restrict y,
	     const REAL *restrict o, const REAL *restrict t)
{
	for (int b = 0; b < batch; b++) {
		const REAL *ob = o + (ptrdiff_t)b * os;
		const REAL *tb = t + (ptrdiff_t)b * ts;
		REAL s = 0;

		for (int i = 0; i < n; i++) {
			REAL z = ob[i];

			s += (z > 0 ? z : (REAL)0) - z * tb[i] +
			     LOG1P(EXP(-FABS(z)));
		}
		y[b] = s;
	}
}

void
SFX(pcg_bce_vjp)(int wrt, int batch, int n, int os, int ts, int dxs, int acc,
		 REAL *restrict dx, const REAL *restrict dy,
		 const REAL *restrict o, const REAL *restrict t)
{
	for (int b = 0; b < batch; b++) {
		const REAL *ob = o + (ptrdiff_t)b * os;
		const REAL *tb = t + (ptrdiff_t)b * ts;
		REAL *db = dx + (ptrdiff_t)b * dxs;
		int add = SFX(loss_adds)(acc, dxs, b);
		REAL g = dy[b];

		for (int i = 0; i < n; i++) {
			REAL z = ob[i], v;

			if (wrt == 0) {
				/* exp(z) once for z < 0 (a call the compiler
				 * does not merge: it may set errno) */
				REAL e = EXP(z >= 0 ? -z : z);
				REAL s = z >= 0 ? (REAL)1 / (1 + e)
						: e / (1 + e);

				v = g * (s - tb[i]);
			} else {
				v = -(g * z);
			}
			db[i] = add ? db[i] + v : v;
		}
	}
}

void
SFX(pcg_l1)(int batch, int n, int os, int ts, REAL *restrict y,
	    const REAL *restrict o, const REAL *restrict t)
{
	for (int b = 0; b < batch; b++) {
		const REAL *ob = o + (ptrdiff_t)b * os;
		const REAL *tb = t + (ptrdiff_t)b * ts;
		REAL s = 0;

		for (int i = 0; i < n; i++)
			s += FABS(ob[i] - tb[i]);
		y[b] = s;
	}
}

void
SFX(pcg_l1_vjp)(int wrt, int batch, int n, int os, int ts, int dxs, int acc,
		REAL *restrict dx, const REAL *restrict dy,
		const REAL *restrict o, const REAL *restrict t)
{
	for (int b = 0; b < batch; b++) {
		const REAL *ob = o + (ptrdiff_t)b * os;
		const REAL *tb = t + (ptrdiff_t)b * ts;
		REAL *db = dx + (ptrdiff_t)b * dxs;
		int add = SFX(loss_adds)(acc, dxs, b);
		REAL g = dy[b];

		for (int i = 0; i < n; i++) {
			REAL v = g * SFX(sign)(ob[i] - tb[i]);

			if (wrt)
				v = -v;
			db[i] = add ? db[i] + v : v;
		}
	}
}

void
SFX(pcg_huber)(int batch, int n, int os, int ts, REAL delta,
	       REAL *restrict y, const REAL *restrict o,
	       const REAL *restrict t)
{
	for (int b = 0; b < batch; b++) {
		const REAL *ob = o + (ptrdiff_t)b * os;
		const REAL *tb = t + (ptrdiff_t)b * ts;
		REAL s = 0;

		for (int i = 0; i < n; i++) {
			REAL d = ob[i] - tb[i], a = FABS(d);

			s += a < delta ? (REAL)0.5 * d * d
				       : delta * (a - (REAL)0.5 * delta);
		}
		y[b] = s;
	}
}

void
SFX(pcg_huber_vjp)(int wrt, int batch, int n, int os, int ts, REAL delta,
		   int dxs, int acc, REAL *restrict dx,
		   const REAL *restrict dy, const REAL *restrict o,
		   const REAL *restrict t)
{
	for (int b = 0; b < batch; b++) {
		const REAL *ob = o + (ptrdiff_t)b * os;
		const REAL *tb = t + (ptrdiff_t)b * ts;
		REAL *db = dx + (ptrdiff_t)b * dxs;
		int add = SFX(loss_adds)(acc, dxs, b);
		REAL g = dy[b];

		for (int i = 0; i < n; i++) {
			REAL d = ob[i] - tb[i];
			REAL v = FABS(d) < delta ? g * d
						 : g * delta * SFX(sign)(d);

			if (wrt)
				v = -v;
			db[i] = add ? db[i] + v : v;
		}
	}
}

/* ------------------------------------------------------- optimizers */

/*
 * The expressions are those of pcg_runtime.h, which follow torch's
 * single-tensor optimizers op by op: the scalars are Python's, computed
 * in double and rounded to REAL where torch's kernel converts them; each
 * tensor operation is one rounded REAL operation.  "t == 1" stands for
 * torch's fresh state: its buffers are not read.
 */

/*
 * (R)x for a hyper-parameter x: the double rounded to REAL.  Under
 * PCG_NO_DOUBLE the float copy rounds with integer operations and the
 * scalars of Adam are computed in float (see pcg_runtime.h).
 */
#if REAL_IS_FLOAT && defined(PCG_NO_DOUBLE)
#define OPT_R(x) pcg_round_to_float(x)
#else
#define OPT_R(x) ((REAL)(x))
#endif

/* SGD, with momentum or Nesterov momentum: m is the momentum buffer. */
static void
SFX(opt_sgd)(const pcg_optim *c, int64_t t, size_t n, REAL *restrict p,
	     const REAL *restrict g, REAL *restrict m)
{
	const int heavy = c->kind != PCG_SGD && dbl_nonzero(c->momentum);
	const int nesterov = c->kind == PCG_NESTEROV;
	const int decay = dbl_nonzero(c->weight_decay);
	const REAL wd = OPT_R(c->weight_decay), mu = OPT_R(c->momentum);
	const REAL neg_lr = -OPT_R(c->lr); /* = (R)(-lr): rounding is odd */

	for (size_t i = 0; i < n; i++) {
		REAL d = g[i];

		if (decay)
			d = d + wd * p[i];
		if (heavy) {
			/* torch: buf = clone(d), then buf.mul_(mu).add_(d) */
			m[i] = t == 1 ? d : m[i] * mu + d;
			d = nesterov ? d + mu * m[i] : m[i];
		}
		p[i] = p[i] + neg_lr * d;
	}
}

/* Adam (L2 decay in the gradient) and AdamW (decoupled decay). */
static void
SFX(opt_adam)(const pcg_optim *c, int64_t t, size_t n, REAL *restrict p,
	      const REAL *restrict g, REAL *restrict m, REAL *restrict v)
{
	const int adamw = c->kind == PCG_ADAMW;
	const int decay = dbl_nonzero(c->weight_decay);
#if REAL_IS_FLOAT && defined(PCG_NO_DOUBLE)
	const float lr = OPT_R(c->lr), b1 = OPT_R(c->beta1);
	const float b2 = OPT_R(c->beta2), wd = OPT_R(c->weight_decay);
	const float bc1 = 1 - PCG_POWF(b1, (float)t);
	const float bc2 = 1 - PCG_POWF(b2, (float)t);
	const float bc2s = sqrtf(bc2), neg_step = -(lr / bc1);
	const float a1 = 1 - b1, a2 = 1 - b2, eps = OPT_R(c->eps);
	const float shrink = 1 - lr * wd;
#else
	const double bc1 = 1 - PCG_POW(c->beta1, (double)t);
	const double bc2 = 1 - PCG_POW(c->beta2, (double)t);
	const double step = c->lr / bc1;
	const REAL bc2s = (REAL)sqrt(bc2), neg_step = (REAL)(-step);
	const REAL b1 = (REAL)c->beta1, b2 = (REAL)c->beta2;
	const REAL a1 = (REAL)(1 - c->beta1), a2 = (REAL)(1 - c->beta2);
	const REAL eps = (REAL)c->eps, wd = (REAL)c->weight_decay;
	const REAL shrink = (REAL)(1 - c->lr * c->weight_decay);
#endif

	for (size_t i = 0; i < n; i++) {
		REAL d = g[i], m0 = t == 1 ? 0 : m[i], v0 = t == 1 ? 0 : v[i];
		REAL denom;

		if (adamw)
			p[i] = p[i] * shrink;
		else if (decay)
			d = d + wd * p[i];
		m[i] = m0 * b1 + a1 * d;
		v[i] = v0 * b2 + a2 * d * d;
		denom = SQRT(v[i]) / bc2s + eps;
		p[i] = p[i] + neg_step * m[i] / denom;
	}
}

#undef OPT_R

int
SFX(pcg_opt_update)(const pcg_optim *c, int64_t t, size_t n, REAL *p,
		    const REAL *g, REAL *m, REAL *v)
{
	if (pcg_optim_check(c) != PCG_OPTIM_OK || t < 1)
		return -1;
	if (c->kind == PCG_ADAM || c->kind == PCG_ADAMW)
		SFX(opt_adam)(c, t, n, p, g, m, v);
	else
		SFX(opt_sgd)(c, t, n, p, g, m);
	return 0;
}

/* ------------------------------------------ batch statistics, dropout */

/* The offset of element (b, c, 0) of an [n][C][S] view. */
static inline ptrdiff_t
SFX(bn_at)(int b, int C, int S, int c)
{
	return ((ptrdiff_t)b * C + c) * S;
}

void
SFX(pcg_bn_train)(int n, int C, int S, REAL eps, REAL *restrict y,
		  REAL *restrict mean, REAL *restrict var,
		  const REAL *restrict x)
{
	REAL M = (REAL)((ptrdiff_t)n * S);

	for (int c = 0; c < C; c++) {
		REAL m = 0, v = 0;

		for (int b = 0; b < n; b++) {
			const REAL *xr = x + SFX(bn_at)(b, C, S, c);

			for (int s = 0; s < S; s++)
				m += xr[s];
		}
		m /= M;
		for (int b = 0; b < n; b++) {
			const REAL *xr = x + SFX(bn_at)(b, C, S, c);

			for (int s = 0; s < S; s++)
				v += (xr[s] - m) * (xr[s] - m);
		}
		v /= M;
		mean[c] = m;
		var[c] = v;
		REAL inv = (REAL)1 / SQRT(v + eps);
		for (int b = 0; b < n; b++) {
			const REAL *xr = x + SFX(bn_at)(b, C, S, c);
			REAL *yr = y + SFX(bn_at)(b, C, S, c);

			for (int s = 0; s < S; s++)
				yr[s] = (xr[s] - m) * inv;
		}
	}
}

void
SFX(pcg_bn_eval)(int n, int C, int S, REAL eps, REAL *restrict y,
		 const REAL *restrict rmean, const REAL *restrict rvar,
		 const REAL *restrict x)
{
	for (int c = 0; c < C; c++) {
		REAL m = rmean[c], inv = (REAL)1 / SQRT(rvar[c] + eps);

		for (int b = 0; b < n; b++) {
			const REAL *xr = x + SFX(bn_at)(b, C, S, c);
			REAL *yr = y + SFX(bn_at)(b, C, S, c);

			for (int s = 0; s < S; s++)
				yr[s] = (xr[s] - m) * inv;
		}
	}
}

void
SFX(pcg_bn_vjp)(int n, int C, int S, REAL eps, int acc, REAL *restrict dx,
		const REAL *restrict dy, const REAL *restrict y,
		const REAL *restrict var)
{
	REAL M = (REAL)((ptrdiff_t)n * S);

	for (int c = 0; c < C; c++) {
		REAL mg = 0, mgy = 0;

		for (int b = 0; b < n; b++) {
			ptrdiff_t at = SFX(bn_at)(b, C, S, c);
			const REAL *yr = y + at, *gr = dy + at;

			for (int s = 0; s < S; s++) {
				mg += gr[s];
				mgy += gr[s] * yr[s];
			}
		}
		mg /= M;
		mgy /= M;
		REAL inv = (REAL)1 / SQRT(var[c] + eps);
		for (int b = 0; b < n; b++) {
			ptrdiff_t at = SFX(bn_at)(b, C, S, c);
			const REAL *yr = y + at, *gr = dy + at;
			REAL *dr = dx + at;

			for (int s = 0; s < S; s++) {
				REAL g = (gr[s] - mg - yr[s] * mgy) * inv;

				dr[s] = acc ? dr[s] + g : g;
			}
		}
	}
}

void
SFX(pcg_bn_eval_vjp)(int n, int C, int S, REAL eps, int acc,
		     REAL *restrict dx, const REAL *restrict dy,
		     const REAL *restrict rvar)
{
	for (int c = 0; c < C; c++) {
		REAL inv = (REAL)1 / SQRT(rvar[c] + eps);

		for (int b = 0; b < n; b++) {
			ptrdiff_t at = SFX(bn_at)(b, C, S, c);
			const REAL *gr = dy + at;
			REAL *dr = dx + at;

			for (int s = 0; s < S; s++) {
				REAL g = gr[s] * inv;

				dr[s] = acc ? dr[s] + g : g;
			}
		}
	}
}

void
SFX(pcg_bn_update)(int n, int C, int S, REAL momentum, REAL *restrict rmean,
		   REAL *restrict rvar, const REAL *restrict mean,
		   const REAL *restrict var)
{
	REAL M = (REAL)((ptrdiff_t)n * S);

	for (int c = 0; c < C; c++) {
		rmean[c] = momentum * mean[c] + ((REAL)1 - momentum) * rmean[c];
		if (M < 2)
			continue; /* one value: no unbiased variance */
		REAL uv = var[c] * M / (M - (REAL)1);

		rvar[c] = momentum * uv + ((REAL)1 - momentum) * rvar[c];
	}
}

void
SFX(pcg_dropout_mask)(uint64_t key, uint64_t stream, size_t count, double p,
		      REAL *restrict mask)
{
#if REAL_IS_FLOAT && defined(PCG_NO_DOUBLE)
	/* the same bits with integer operations (pcg_runtime.h) */
	REAL k = (REAL)1 / dropout_keep_f(p);
	uint64_t thr = dropout_threshold(p);

	for (size_t i = 0; i < count; i++)
		mask[i] = pcg_rng_at_bits(key, stream, i) >= thr ? k : (REAL)0;
#else
	/* 1 - p in double, as PyTorch's noise.div_(1 - p) with p a double;
	 * then the division in REAL. */
	REAL k = (REAL)1 / (REAL)(1.0 - p);

	for (size_t i = 0; i < count; i++)
		mask[i] = pcg_rng_at(key, stream, i) >= p ? k : (REAL)0;
#endif
}

void
SFX(pcg_mul_mask)(size_t count, REAL *restrict y, const REAL *restrict x,
		  const REAL *restrict mask)
{
	for (size_t i = 0; i < count; i++)
		y[i] = x[i] * mask[i];
}

void
SFX(pcg_mul_mask_vjp)(size_t count, int acc, REAL *restrict dx,
		      const REAL *restrict dy, const REAL *restrict mask)
{
	for (size_t i = 0; i < count; i++) {
		REAL g = dy[i] * mask[i];

		dx[i] = acc ? dx[i] + g : g;
	}
}
