/*
 * test_kernels_legacy.h — the kernels that pcc pasted into generated code
 * before they moved to the runtime (compiler/emit.c, emit_fixed_kernels,
 * at commit 3df392a), and the old im2col/col2im of runtime/pcg_conv.c:
 * the C text as generated, for one scalar type, with the type name,
 * literals and <math.h> functions that emit.c prints (lit(), fn())
 * turned into the includer's macros.  test_kernels.c includes it once per
 * type and checks that the runtime kernels give the same bits.
 *
 * The includer defines:
 *   R        the scalar type
 *   LEG(n)   n with the type's suffix (k_fill -> k_fill_f)
 *   EXPR, LOGR, SQRTR      expf/exp, logf/log, sqrtf/sqrt
 *   L0, L05, L1, L1E5      the literals 0, 0.5, 1 and 1e-5 as lit() prints
 *                          them (0.0f, 0.5f, 1.0f, 9.99999975e-06f for
 *                          float; 0.0, 0.5, 1.0, 1.0000000000000001e-05)
 */

static void
LEG(k_fill)(int n, R *restrict y, R v)
{
	for (int i = 0; i < n; i++)
		y[i] = v;
}

static void
LEG(k_copy)(int n, R *restrict y, const R *restrict x)
{
	for (int i = 0; i < n; i++)
		y[i] = x[i];
}

static void
LEG(k_copy_vjp)(int n, int acc, R *restrict dx, const R *restrict dy)
{
	for (int i = 0; i < n; i++)
		dx[i] = acc ? dx[i] + dy[i] : dy[i];
}

static void
LEG(k_softmax)(int rows, int n, R *restrict y, const R *restrict x)
{
	for (int r = 0; r < rows; r++) {
		const R *xr = x + r * n;
		R *yr = y + r * n;
		R m = xr[0];
		for (int i = 1; i < n; i++)
			m = xr[i] > m ? xr[i] : m;
		R sum = L0;
		for (int i = 0; i < n; i++)
			sum += EXPR(xr[i] - m);
		for (int i = 0; i < n; i++)
			yr[i] = EXPR(xr[i] - m) / sum;
	}
}

static void
LEG(k_log_softmax)(int rows, int n, R *restrict y, const R *restrict x)
{
	for (int r = 0; r < rows; r++) {
		const R *xr = x + r * n;
		R *yr = y + r * n;
		R m = xr[0];
		for (int i = 1; i < n; i++)
			m = xr[i] > m ? xr[i] : m;
		R sum = L0;
		for (int i = 0; i < n; i++)
			sum += EXPR(xr[i] - m);
		R lse = m + LOGR(sum);
		for (int i = 0; i < n; i++)
			yr[i] = xr[i] - lse;
	}
}

static void
LEG(k_softmax_vjp)(int rows, int n, int acc, R *restrict dx,
		   const R *restrict dy, const R *restrict y)
{
	for (int r = 0; r < rows; r++) {
		R s = L0;
		for (int i = 0; i < n; i++)
			s += dy[r * n + i] * y[r * n + i];
		for (int i = 0; i < n; i++) {
			R v = y[r * n + i] * (dy[r * n + i] - s);
			dx[r * n + i] = acc ? dx[r * n + i] + v : v;
		}
	}
}

static void
LEG(k_log_softmax_vjp)(int rows, int n, int acc, R *restrict dx,
		       const R *restrict dy, const R *restrict y)
{
	for (int r = 0; r < rows; r++) {
		R s = L0;
		for (int i = 0; i < n; i++)
			s += dy[r * n + i];
		for (int i = 0; i < n; i++) {
			R v = dy[r * n + i] - EXPR(y[r * n + i]) * s;
			dx[r * n + i] = acc ? dx[r * n + i] + v : v;
		}
	}
}

static void
LEG(k_sum)(int batch, int n, R scale, R *restrict y, const R *restrict x)
{
	for (int b = 0; b < batch; b++) {
		R s = L0;
		for (int i = 0; i < n; i++)
			s += x[b * n + i];
		y[b] = s * scale;
	}
}

static void
LEG(k_sum_vjp)(int batch, int n, int acc, R scale, R *restrict dx,
	       const R *restrict dy)
{
	for (int b = 0; b < batch; b++)
		for (int i = 0; i < n; i++) {
			R v = dy[b] * scale;
			dx[b * n + i] = acc ? dx[b * n + i] + v : v;
		}
}

static void
LEG(k_transpose)(int batch, int m, int n, R *restrict y, const R *restrict x)
{
	for (int b = 0; b < batch; b++)
		for (int i = 0; i < m; i++)
			for (int j = 0; j < n; j++)
				y[b * m * n + j * m + i] = x[b * m * n + i * n + j];
}

static void
LEG(k_transpose_vjp)(int batch, int m, int n, int acc, R *restrict dx,
		     const R *restrict dy)
{
	for (int b = 0; b < batch; b++)
		for (int i = 0; i < m; i++)
			for (int j = 0; j < n; j++) {
				R v = dy[b * m * n + j * m + i];
				R *d = &dx[b * m * n + i * n + j];
				*d = acc ? *d + v : v;
			}
}

static void
LEG(k_gather)(int batch, int ss, int sd, int off, int len, int acc,
	      R *restrict dst, const R *restrict src)
{
	for (int b = 0; b < batch; b++)
		for (int i = 0; i < len; i++) {
			R v = src[b * ss + off + i];
			R *d = &dst[b * sd + i];
			*d = acc || (sd == 0 && b > 0) ? *d + v : v;
		}
}

static void
LEG(k_scatter)(int batch, int sd, int off, int len, int acc, R *restrict dst,
	       const R *restrict src)
{
	if (!acc)
		for (int i = 0; i < batch * sd; i++)
			dst[i] = L0;
	for (int b = 0; b < batch; b++)
		for (int i = 0; i < len; i++)
			dst[b * sd + off + i] += src[b * len + i];
}

static void
LEG(k_place)(int batch, int sd, int ss, int off, int len, R *restrict dst,
	     const R *restrict src)
{
	for (int b = 0; b < batch; b++)
		for (int i = 0; i < len; i++)
			dst[b * sd + off + i] = src[b * ss + i];
}

static R
LEG(k_mse)(int batch, int n, int ys, const R *restrict o, const R *restrict y)
{
	R loss = L0;
	for (int b = 0; b < batch; b++) {
		R s = L0;
		for (int i = 0; i < n; i++) {
			R e = o[b * n + i] - y[b * ys + i];
			s += e * e;
		}
		loss += L05 * s;
	}
	return loss;
}

static void
LEG(k_mse_seed)(int batch, int n, int ys, int acc, R scale, R *restrict d,
		const R *restrict o, const R *restrict y)
{
	for (int b = 0; b < batch; b++)
		for (int i = 0; i < n; i++) {
			R v = scale * (o[b * n + i] - y[b * ys + i]);
			d[b * n + i] = acc ? d[b * n + i] + v : v;
		}
}

static R
LEG(k_xent)(int batch, int rows, int n, int ys, const R *restrict o,
	    const R *restrict y)
{
	R loss = L0;
	for (int b = 0; b < batch; b++)
		for (int r = 0; r < rows; r++) {
			const R *orow = o + (b * rows + r) * n;
			const R *yrow = y + b * ys + r * n;
			R m = orow[0];
			for (int i = 1; i < n; i++)
				m = orow[i] > m ? orow[i] : m;
			R sum = L0;
			for (int i = 0; i < n; i++)
				sum += EXPR(orow[i] - m);
			R lse = m + LOGR(sum);
			for (int i = 0; i < n; i++)
				loss -= yrow[i] * (orow[i] - lse);
		}
	return loss;
}

static void
LEG(k_xent_seed)(int batch, int rows, int n, int ys, int acc, R scale,
		 R *restrict d, const R *restrict o, const R *restrict y)
{
	for (int b = 0; b < batch; b++)
		for (int r = 0; r < rows; r++) {
			const R *orow = o + (b * rows + r) * n;
			const R *yrow = y + b * ys + r * n;
			R *drow = d + (b * rows + r) * n;
			R m = orow[0];
			for (int i = 1; i < n; i++)
				m = orow[i] > m ? orow[i] : m;
			R sum = L0, ysum = L0;
			for (int i = 0; i < n; i++) {
				sum += EXPR(orow[i] - m);
				ysum += yrow[i];
			}
			for (int i = 0; i < n; i++) {
				R v = scale * (EXPR(orow[i] - m) / sum * ysum - yrow[i]);
				drow[i] = acc ? drow[i] + v : v;
			}
		}
}

static void
LEG(k_layernorm)(int rows, int n, R *restrict y, const R *restrict x)
{
	for (int r = 0; r < rows; r++) {
		const R *xr = x + r * n;
		R *yr = y + r * n;
		R m = L0, v = L0;
		for (int i = 0; i < n; i++)
			m += xr[i];
		m /= n;
		for (int i = 0; i < n; i++)
			v += (xr[i] - m) * (xr[i] - m);
		R inv = L1 / SQRTR(v / n + L1E5);
		for (int i = 0; i < n; i++)
			yr[i] = (xr[i] - m) * inv;
	}
}

static void
LEG(k_layernorm_vjp)(int rows, int n, int acc, R *restrict dx,
		     const R *restrict dy, const R *restrict x,
		     const R *restrict y)
{
	for (int r = 0; r < rows; r++) {
		const R *xr = x + r * n, *yr = y + r * n, *gr = dy + r * n;
		R m = L0, v = L0, mg = L0, mgy = L0;
		for (int i = 0; i < n; i++)
			m += xr[i];
		m /= n;
		for (int i = 0; i < n; i++) {
			v += (xr[i] - m) * (xr[i] - m);
			mg += gr[i];
			mgy += gr[i] * yr[i];
		}
		mg /= n;
		mgy /= n;
		R inv = L1 / SQRTR(v / n + L1E5);
		for (int i = 0; i < n; i++) {
			R g = (gr[i] - mg - yr[i] * mgy) * inv;
			dx[r * n + i] = acc ? dx[r * n + i] + g : g;
		}
	}
}

static void
LEG(k_pool)(int max, int planes, int h, int w, int k, int st, int oh, int ow,
	    R *restrict y, const R *restrict x)
{
	for (int c = 0; c < planes; c++)
		for (int i = 0; i < oh; i++)
			for (int j = 0; j < ow; j++) {
				const R *xp = x + (c * h + i * st) * w + j * st;
				R v = max ? xp[0] : L0;
				for (int a = 0; a < k; a++)
					for (int b = 0; b < k; b++) {
						R e = xp[a * w + b];
						v = max ? (e > v ? e : v) : v + e;
					}
				y[(c * oh + i) * ow + j] = max ? v : v / (k * k);
			}
}

static void
LEG(k_pool_vjp)(int max, int planes, int h, int w, int k, int st, int oh,
		int ow, int acc, R *restrict dx, const R *restrict dy,
		const R *restrict x)
{
	if (!acc)
		for (int i = 0; i < planes * h * w; i++)
			dx[i] = L0;
	for (int c = 0; c < planes; c++)
		for (int i = 0; i < oh; i++)
			for (int j = 0; j < ow; j++) {
				int at = (c * h + i * st) * w + j * st;
				R g = dy[(c * oh + i) * ow + j];
				if (max) {
					int best = at;
					for (int a = 0; a < k; a++)
						for (int b = 0; b < k; b++)
							if (x[at + a * w + b] > x[best])
								best = at + a * w + b;
					dx[best] += g;
				} else {
					for (int a = 0; a < k; a++)
						for (int b = 0; b < k; b++)
							dx[at + a * w + b] += g / (k * k);
				}
			}
}

static void
LEG(k_canon)(int n, R *restrict g)
{
	for (int i = 0; i < n; i++)
		g[i] = g[i] + L0;
}

static void
LEG(k_zil_grad)(int n, R *restrict g)
{
	for (int i = 0; i < n; i++)
		g[i] = -g[i] + L0;
}

static void
LEG(k_zil_sgd)(int n, R lr, R *restrict w, const R *restrict g)
{
	for (int i = 0; i < n; i++)
		w[i] -= lr * (-g[i] + L0);
}

static void
LEG(k_sgd)(int n, R lr, R *restrict w, const R *restrict g)
{
	for (int i = 0; i < n; i++)
		w[i] -= lr * g[i];
}

static void
LEG(k_scale)(int n, R c, R *restrict g)
{
	for (int i = 0; i < n; i++)
		g[i] *= c;
}

static void
LEG(k_error)(int n, R *restrict eps, const R *restrict x, const R *restrict mu)
{
	for (int i = 0; i < n; i++)
		eps[i] = x[i] - mu[i];
}

static void
LEG(k_infer)(int n, R gamma, R *restrict dev, R *restrict x,
	     const R *restrict mu0, const R *restrict eps, const R *restrict fb)
{
	for (int i = 0; i < n; i++) {
		dev[i] += gamma * (fb[i] - eps[i]);
		x[i] = mu0[i] + dev[i];
	}
}

static R
LEG(k_half_sq)(int n, const R *restrict eps)
{
	R s = L0;
	for (int i = 0; i < n; i++)
		s += eps[i] * eps[i];
	return L05 * s;
}

static void
LEG(k_near_mse)(int batch, int n, int ys, R c, R *restrict y,
		const R *restrict o)
{
	for (int b = 0; b < batch; b++)
		for (int i = 0; i < n; i++)
			y[b * ys + i] = o[b * n + i] + c * (y[b * ys + i] - o[b * n + i]);
}

static void
LEG(k_near_xent)(int batch, int rows, int n, int ys, R c, R *restrict y,
		 const R *restrict o)
{
	for (int b = 0; b < batch; b++)
		for (int r = 0; r < rows; r++) {
			const R *orow = o + (b * rows + r) * n;
			R *yrow = y + b * ys + r * n;
			R m = orow[0], sum = L0;
			for (int i = 1; i < n; i++)
				m = orow[i] > m ? orow[i] : m;
			for (int i = 0; i < n; i++)
				sum += EXPR(orow[i] - m);
			for (int i = 0; i < n; i++) {
				R pr = EXPR(orow[i] - m) / sum;
				yrow[i] = pr + c * (yrow[i] - pr);
			}
		}
}

/* runtime/pcg_conv.c at 3df392a (DEFINE_CONV), unrolled for one type. */
static void
LEG(old_im2col)(int c, int h, int w, int kh, int kw, int st, int pad, int oh,
		int ow, const R *x, R *col)
{
	for (int ch = 0; ch < c; ch++)
		for (int a = 0; a < kh; a++)
			for (int b = 0; b < kw; b++) {
				R *row = col + ((size_t)(ch * kh + a) * kw + b) *
						       (size_t)(oh * ow);
				for (int i = 0; i < oh; i++) {
					int y = i * st + a - pad;
					for (int j = 0; j < ow; j++) {
						int xx = j * st + b - pad;
						row[i * ow + j] =
							y >= 0 && y < h && xx >= 0 && xx < w
								? x[((size_t)ch * h + y) * w + xx]
								: 0;
					}
				}
			}
}

static void
LEG(old_col2im)(int c, int h, int w, int kh, int kw, int st, int pad, int oh,
		int ow, int acc, const R *col, R *dx)
{
	if (!acc)
		for (size_t i = 0; i < (size_t)c * h * w; i++)
			dx[i] = 0;
	for (int ch = 0; ch < c; ch++)
		for (int a = 0; a < kh; a++)
			for (int b = 0; b < kw; b++) {
				const R *row = col + ((size_t)(ch * kh + a) * kw + b) *
							     (size_t)(oh * ow);
				for (int i = 0; i < oh; i++) {
					int y = i * st + a - pad;
					if (y < 0 || y >= h)
						continue;
					for (int j = 0; j < ow; j++) {
						int xx = j * st + b - pad;
						if (xx >= 0 && xx < w)
							dx[((size_t)ch * h + y) * w + xx] +=
								row[i * ow + j];
					}
				}
			}
}

/* ------------------------------------------------------ the comparisons */

/*
 * The checks below also need from the includer:
 *   PCG(n)   the runtime kernel n for this type (pcg_fill -> pcg_fill_f)
 *   TNAME    "float" or "double"
 * and test_kernels.c's test_real, xcalloc and expect_bits.
 */

/* n random values in [-1, 1), every fifth one a zero (+0 or -0). */
static R *
LEG(rvec)(size_t n, uint64_t *s)
{
	R *v = xcalloc(n, sizeof *v);

	for (size_t i = 0; i < n; i++)
		v[i] = i % 5 == 3 ? (i % 2 ? (R)-0.0 : (R)0) : (R)test_real(s);
	return v;
}

static R *
LEG(dup)(const R *x, size_t n)
{
	R *v = xcalloc(n, sizeof *v);

	memcpy(v, x, n * sizeof *v);
	return v;
}

#define LEG_BITS(a, b, n, what)                                               \
	expect_bits(a, b, n, sizeof(R), TNAME " " what)

/* The element-wise and vector kernels, acc 0 and 1. */
static void
LEG(bits_vector)(void)
{
	enum { N = 203 };
	uint64_t s = 11;
	R *x = LEG(rvec)(N, &s), *mu = LEG(rvec)(N, &s), *fb = LEG(rvec)(N, &s);
	R *a = LEG(rvec)(N, &s), *b = LEG(dup)(a, N);
	R *a2 = LEG(rvec)(N, &s), *b2 = LEG(dup)(a2, N);
	R c = (R)test_real(&s);

	LEG(k_fill)(N, a, c);
	PCG(pcg_fill)(N, b, c);
	LEG_BITS(a, b, N, "pcg_fill as k_fill");
	LEG(k_copy)(N, a, x);
	PCG(pcg_copy)(N, b, x);
	LEG_BITS(a, b, N, "pcg_copy as k_copy");
	for (int acc = 0; acc < 2; acc++) {
		LEG(k_copy_vjp)(N, acc, a, x);
		PCG(pcg_copy_vjp)(N, acc, b, x);
		LEG_BITS(a, b, N, "pcg_copy_vjp as k_copy_vjp");
	}
	LEG(k_scale)(N, c, a);
	PCG(pcg_scale)(N, c, b);
	LEG_BITS(a, b, N, "pcg_scale as k_scale");
	LEG(k_error)(N, a, x, mu);
	PCG(pcg_error)(N, b, x, mu);
	LEG_BITS(a, b, N, "pcg_error as k_error");
	LEG(k_infer)(N, c, a, a2, mu, x, fb);
	PCG(pcg_infer)(N, c, b, b2, mu, x, fb);
	LEG_BITS(a, b, N, "pcg_infer's dev as k_infer's");
	LEG_BITS(a2, b2, N, "pcg_infer's x as k_infer's");
	R h1 = LEG(k_half_sq)(N, x), h2 = PCG(pcg_half_sq)(N, x);
	LEG_BITS(&h1, &h2, 1, "pcg_half_sq as k_half_sq");
	LEG(k_sum)(1, N, L1, &h1, x);
	h2 = PCG(pcg_sum)(N, x);
	LEG_BITS(&h1, &h2, 1, "pcg_sum as k_sum with scale 1");
	LEG(k_sgd)(N, c, a, x);
	PCG(pcg_sgd)(N, c, b, x);
	LEG_BITS(a, b, N, "pcg_sgd as k_sgd");
	LEG(k_zil_sgd)(N, c, a, x);
	PCG(pcg_zil_sgd)(N, c, b, x);
	LEG_BITS(a, b, N, "pcg_zil_sgd as k_zil_sgd");
	memcpy(a, x, N * sizeof *a);
	memcpy(b, x, N * sizeof *b);
	LEG(k_canon)(N, a);
	PCG(pcg_canon)(N, b);
	LEG_BITS(a, b, N, "pcg_canon as k_canon");
	memcpy(a, x, N * sizeof *a);
	memcpy(b, x, N * sizeof *b);
	LEG(k_zil_grad)(N, a);
	PCG(pcg_zil_grad)(N, b);
	LEG_BITS(a, b, N, "pcg_zil_grad as k_zil_grad");
	free(x);
	free(mu);
	free(fb);
	free(a);
	free(b);
	free(a2);
	free(b2);
}

/* Softmax and log-softmax over rows (inner = 1), and their VJPs. */
static void
LEG(bits_softmax)(void)
{
	enum { ROWS = 7, N = 13, C = ROWS * N };
	uint64_t s = 12;
	R *x = LEG(rvec)(C, &s), *dy = LEG(rvec)(C, &s);
	R *ya = LEG(rvec)(C, &s), *yb = LEG(rvec)(C, &s);
	R *a = LEG(rvec)(C, &s), *b = LEG(dup)(a, C);

	for (int i = 0; i < C; i++)
		x[i] *= 8; /* a wider range than [-1, 1) */
	LEG(k_softmax)(ROWS, N, ya, x);
	PCG(pcg_softmax)(ROWS, 1 * N, 1, yb, x);
	LEG_BITS(ya, yb, C, "pcg_softmax as k_softmax");
	for (int acc = 0; acc < 2; acc++) {
		LEG(k_softmax_vjp)(ROWS, N, acc, a, dy, ya);
		PCG(pcg_softmax_vjp)(ROWS, N, 1, acc, b, dy, ya);
		LEG_BITS(a, b, C, "pcg_softmax_vjp as k_softmax_vjp");
	}
	LEG(k_log_softmax)(ROWS, N, ya, x);
	PCG(pcg_log_softmax)(ROWS, N, 1, yb, x);
	LEG_BITS(ya, yb, C, "pcg_log_softmax as k_log_softmax");
	for (int acc = 0; acc < 2; acc++) {
		LEG(k_log_softmax_vjp)(ROWS, N, acc, a, dy, ya);
		PCG(pcg_log_softmax_vjp)(ROWS, N, 1, acc, b, dy, ya);
		LEG_BITS(a, b, C, "pcg_log_softmax_vjp as k_log_softmax_vjp");
	}
	free(x);
	free(dy);
	free(ya);
	free(yb);
	free(a);
	free(b);
}

/* Layer normalisation over rows with eps = 1e-5 as lit() prints it. */
static void
LEG(bits_layernorm)(void)
{
	enum { ROWS = 5, N = 24, C = ROWS * N };
	uint64_t s = 13;
	R *x = LEG(rvec)(C, &s), *dy = LEG(rvec)(C, &s);
	R *ya = LEG(rvec)(C, &s), *yb = LEG(rvec)(C, &s);
	R *a = LEG(rvec)(C, &s), *b = LEG(dup)(a, C);

	for (int i = 0; i < N; i++)
		x[i] = (R)1 + x[i] * (R)1e-3; /* a row of small variance */
	LEG(k_layernorm)(ROWS, N, ya, x);
	PCG(pcg_layernorm)(ROWS, N, 1, L1E5, yb, x);
	LEG_BITS(ya, yb, C, "pcg_layernorm as k_layernorm");
	for (int acc = 0; acc < 2; acc++) {
		LEG(k_layernorm_vjp)(ROWS, N, acc, a, dy, x, ya);
		PCG(pcg_layernorm_vjp)(ROWS, N, 1, L1E5, acc, b, dy, x, ya);
		LEG_BITS(a, b, C, "pcg_layernorm_vjp as k_layernorm_vjp");
	}
	free(x);
	free(dy);
	free(ya);
	free(yb);
	free(a);
	free(b);
}

/* targets_near, with batched and shared targets. */
static void
LEG(bits_near)(void)
{
	enum { B = 3, ROWS = 2, N = 9, C = B * ROWS * N };
	uint64_t s = 14;
	R *o = LEG(rvec)(C, &s), *a = LEG(rvec)(C, &s), *b = LEG(dup)(a, C);
	R c = (R)0.25;

	for (int ts = 0; ts <= ROWS * N; ts += ROWS * N) {
		LEG(k_near_mse)(B, ROWS * N, ts, c, a, o);
		PCG(pcg_near_mse)(B, ROWS * N, ts, c, b, o);
		LEG_BITS(a, b, C, "pcg_near_mse as k_near_mse");
		LEG(k_near_xent)(B, ROWS, N, ts, c, a, o);
		PCG(pcg_near_xent)(B, ROWS, N, ts, c, b, o);
		LEG_BITS(a, b, C, "pcg_near_xent as k_near_xent");
	}
	free(o);
	free(a);
	free(b);
}

/* sum and mean of each sample (k_sum) as a reduction of the sample axes. */
static void
LEG(bits_reduce)(void)
{
	enum { B = 4, N = 37 };
	uint64_t s = 15;
	R *x = LEG(rvec)(B * N, &s), *dy = LEG(rvec)(B, &s);
	R ya[B], yb[B];
	R *a = LEG(rvec)(B * N, &s), *b = LEG(dup)(a, B * N);
	int dims[] = {B, N}, red[] = {0, 1};
	R scale = (R)(1.0 / N);

	LEG(k_sum)(B, N, scale, ya, x);
	PCG(pcg_reduce)(PCG_REDUCE_SUM, 2, dims, red, scale, yb, x);
	LEG_BITS(ya, yb, B, "pcg_reduce (sum) as k_sum");
	for (int acc = 0; acc < 2; acc++) {
		LEG(k_sum_vjp)(B, N, acc, scale, a, dy);
		PCG(pcg_reduce_vjp)(PCG_REDUCE_SUM, 2, dims, red, acc, scale, b,
				    dy, x, yb);
		LEG_BITS(a, b, B * N, "pcg_reduce_vjp (sum) as k_sum_vjp");
	}
	free(x);
	free(dy);
	free(a);
	free(b);
}

/* transpose, slice and concatenation as pcc emitted them. */
static void
LEG(bits_movement)(void)
{
	enum { B = 3, M = 5, N = 7, C = B * M * N };
	uint64_t s = 16;
	R *x = LEG(rvec)(C, &s), *dy = LEG(rvec)(C, &s);
	R *a = LEG(rvec)(C, &s), *b = LEG(dup)(a, C);
	int dims[] = {B, M, N}, perm[] = {0, 2, 1};

	LEG(k_transpose)(B, M, N, a, x);
	PCG(pcg_permute)(3, dims, perm, b, x);
	LEG_BITS(a, b, C, "pcg_permute (0 2 1) as k_transpose");
	for (int acc = 0; acc < 2; acc++) {
		LEG(k_transpose_vjp)(B, M, N, acc, a, dy);
		PCG(pcg_permute_vjp)(3, dims, perm, acc, b, dy);
		LEG_BITS(a, b, C, "pcg_permute_vjp as k_transpose_vjp");
	}

	/* slice rows 1 .. 3 of each sample's M x N: off = N, len = 3 N */
	int xd[] = {B, M * N}, lo[] = {0, N}, st[] = {1, 1}, yd[] = {B, 3 * N};
	LEG(k_gather)(B, M * N, 3 * N, N, 3 * N, 0, a, x);
	PCG(pcg_slice)(2, xd, lo, st, yd, b, x);
	LEG_BITS(a, b, B * 3 * N, "pcg_slice as k_gather (slice)");
	PCG(pcg_gather)(B, 1, M * N, N, 3 * N, 3 * N, 0, b, x);
	LEG_BITS(a, b, B * 3 * N, "pcg_gather as k_gather (slice)");
	for (int acc = 0; acc < 2; acc++) {
		LEG(k_scatter)(B, M * N, N, 3 * N, acc, a, dy);
		PCG(pcg_slice_vjp)(2, xd, lo, st, yd, acc, b, dy);
		LEG_BITS(a, b, C, "pcg_slice_vjp as k_scatter");
	}

	/* concatenation: an input of 2 N at offset N of M N, batched or shared */
	for (int ss = 0; ss <= 2 * N; ss += 2 * N) {
		LEG(k_place)(B, M * N, ss, N, 2 * N, a, x);
		PCG(pcg_place)(B, 1, M * N, N, 2 * N, ss, b, x);
		LEG_BITS(a, b, C, "pcg_place as k_place");
		for (int acc = 0; acc < 2; acc++) {
			LEG(k_gather)(B, M * N, ss, N, 2 * N, acc, a, dy);
			PCG(pcg_gather)(B, 1, M * N, N, 2 * N, ss, acc, b, dy);
			LEG_BITS(a, b, C, "pcg_gather as k_gather (concat)");
		}
	}
	free(x);
	free(dy);
	free(a);
	free(b);
}

/* max and mean pooling without padding, square windows. */
static void
LEG(bits_pool)(void)
{
	static const int cfg[][4] = {/* h, w, k, stride */
				     {8, 8, 2, 2}, {7, 9, 3, 1}, {9, 7, 3, 2},
				     {5, 6, 1, 1}, {6, 6, 6, 1}};
	enum { P = 19 }; /* global pooling: a row of 16 planes, then 3 */
	uint64_t s = 17;

	for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
		int h = cfg[c][0], w = cfg[c][1], k = cfg[c][2], st = cfg[c][3];
		int oh = (h - k) / st + 1, ow = (w - k) / st + 1;
		size_t nx = (size_t)P * h * w, ny = (size_t)P * oh * ow;
		R *x = LEG(rvec)(nx, &s), *dy = LEG(rvec)(ny, &s);
		R *ya = LEG(rvec)(ny, &s), *yb = LEG(rvec)(ny, &s);
		R *a = LEG(rvec)(nx, &s), *b = LEG(dup)(a, nx);

		for (int max = 0; max < 2; max++) {
			LEG(k_pool)(max, P, h, w, k, st, oh, ow, ya, x);
			PCG(pcg_pool2d)(max, P, h, w, k, k, st, st, 0, 0, oh, ow,
					yb, x);
			LEG_BITS(ya, yb, ny, "pcg_pool2d as k_pool");
			for (int acc = 0; acc < 2; acc++) {
				LEG(k_pool_vjp)(max, P, h, w, k, st, oh, ow, acc, a,
						dy, x);
				PCG(pcg_pool2d_vjp)(max, P, h, w, k, k, st, st, 0, 0,
						    oh, ow, acc, b, dy, x);
				LEG_BITS(a, b, nx, "pcg_pool2d_vjp as k_pool_vjp");
			}
		}
		free(x);
		free(dy);
		free(ya);
		free(yb);
		free(a);
		free(b);
	}
}

/*
 * mse and cross-entropy.  The loss pcc emitted is the sum of the
 * per-sample losses for mse; k_xent ran one accumulator over the whole
 * batch, so only a batch of 1 has its bits.  The output deltas are the
 * VJPs with dy = scale for every sample.
 */
static void
LEG(bits_losses)(void)
{
	enum { B = 4, ROWS = 3, N = 6, C = B * ROWS * N, SN = ROWS * N };
	uint64_t s = 18;
	R *o = LEG(rvec)(C, &s), *t = LEG(rvec)(C, &s), y[B], dy[B];
	R *a = LEG(rvec)(C, &s), *b = LEG(dup)(a, C);
	R scale = (R)(1.0 / B);

	for (int i = 0; i < C; i++)
		t[i] = t[i] * t[i]; /* non-negative, like probabilities */
	for (int i = 0; i < B; i++)
		dy[i] = scale;
	for (int ts = 0; ts <= SN; ts += SN) {
		R la = LEG(k_mse)(B, SN, ts, o, t), lb;
		PCG(pcg_mse)(B, SN, SN, ts, y, o, t);
		lb = PCG(pcg_sum)(B, y);
		LEG_BITS(&la, &lb, 1, "the sum of pcg_mse as k_mse");
		for (int acc = 0; acc < 2; acc++) {
			LEG(k_mse_seed)(B, SN, ts, acc, scale, a, o, t);
			PCG(pcg_mse_vjp)(0, B, SN, SN, ts, SN, acc, b, dy, o, t);
			LEG_BITS(a, b, C, "pcg_mse_vjp as k_mse_seed");
		}
		la = LEG(k_xent)(1, ROWS, N, ts, o, t);
		PCG(pcg_xent)(1, ROWS, N, SN, ts, y, o, t);
		LEG_BITS(&la, y, 1, "pcg_xent (batch 1) as k_xent");
		for (int acc = 0; acc < 2; acc++) {
			LEG(k_xent_seed)(B, ROWS, N, ts, acc, scale, a, o, t);
			PCG(pcg_xent_vjp)(0, B, ROWS, N, SN, ts, SN, acc, b, dy,
					  o, t);
			LEG_BITS(a, b, C, "pcg_xent_vjp as k_xent_seed");
		}
	}
	free(o);
	free(t);
	free(a);
	free(b);
}

/* The old im2col and col2im against the wrappers and the _ex kernels. */
static void
LEG(bits_conv)(void)
{
	static const int cfg[][7] = {/* c, h, w, kh, kw, stride, pad */
				     {2, 7, 6, 3, 3, 1, 1}, {3, 8, 8, 2, 3, 2, 0},
				     {1, 9, 5, 5, 1, 3, 2}, {2, 4, 4, 4, 4, 1, 3}};
	uint64_t s = 19;

	for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; k++) {
		int c = cfg[k][0], h = cfg[k][1], w = cfg[k][2];
		int kh = cfg[k][3], kw = cfg[k][4], st = cfg[k][5], pd = cfg[k][6];
		int oh = (h + 2 * pd - kh) / st + 1, ow = (w + 2 * pd - kw) / st + 1;
		size_t nx = (size_t)c * h * w;
		size_t ncol = (size_t)c * kh * kw * oh * ow;
		R *x = LEG(rvec)(nx, &s), *col = LEG(rvec)(ncol, &s);
		R *ca = LEG(rvec)(ncol, &s), *cb = LEG(rvec)(ncol, &s);
		R *a = LEG(rvec)(nx, &s), *b = LEG(dup)(a, nx);

		LEG(old_im2col)(c, h, w, kh, kw, st, pd, oh, ow, x, ca);
		PCG(pcg_im2col)(c, h, w, kh, kw, st, pd, oh, ow, x, cb);
		LEG_BITS(ca, cb, ncol, "pcg_im2col as the old im2col");
		PCG(pcg_im2col_ex)(c, h, w, kh, kw, st, st, pd, pd, 1, 1, oh, ow,
				   x, cb);
		LEG_BITS(ca, cb, ncol, "pcg_im2col_ex as the old im2col");
		for (int acc = 0; acc < 2; acc++) {
			LEG(old_col2im)(c, h, w, kh, kw, st, pd, oh, ow, acc, col, a);
			PCG(pcg_col2im)(c, h, w, kh, kw, st, pd, oh, ow, acc, col, b);
			LEG_BITS(a, b, nx, "pcg_col2im as the old col2im");
			LEG(old_col2im)(c, h, w, kh, kw, st, pd, oh, ow, acc, col, a);
			PCG(pcg_col2im_ex)(c, h, w, kh, kw, st, st, pd, pd, 1, 1, oh,
					   ow, acc, col, b);
			LEG_BITS(a, b, nx, "pcg_col2im_ex as the old col2im");
		}
		free(x);
		free(col);
		free(ca);
		free(cb);
		free(a);
		free(b);
	}
}

#undef LEG_BITS
