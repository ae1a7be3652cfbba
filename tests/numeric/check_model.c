/*
 * check_model.c — numeric checks of one generated model, compiled four
 * times by pcc (prefixes f1, f4, d1, d4: float/double, batch 1/4) and
 * linked together with the runtime.  Oracles, never observed outputs:
 *
 *   - BP gradient against central finite differences (double);
 *   - the batch gradient against the mean of single-sample gradients;
 *   - P_train_bp against P_grad_bp followed by P_sgd (bit for bit);
 *   - float results close to double;
 *   - the loss falling over 100 SGD steps on a fixed batch;
 *   - with --dump FILE: parameters, data and BP gradients for the
 *     independent PyTorch oracle (tests/oracle/torch_oracle.py).
 *
 * Built with -DPCC_DUMP_ONLY it holds only the d4 model and does only
 * --dump and --mask: the oracle's build of a model in another mode
 * (tests/meson.build, reproducible mode), which needs nothing else.
 *
 * Prints TAP.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PCC_DUMP_ONLY
#include H_F1
#include H_F4
#include H_D1
#endif
#include H_D4
#ifdef H_CG
#include H_CG
#include H_CL
#include H_CF
#endif
#ifdef H_CE
#include H_CE
#include H_CN
#endif
#ifdef H_D3
#include H_D3
#endif
/* PCC_DROPOUT: the model has dropout; PCC_COUPLED: batch statistics
 * couple its samples (set by tests/meson.build from the model's text) */
#ifdef PCC_DROPOUT
#include "fixed_masks.h"
#endif
/* The loss as training computes it (batch statistics, dropout), for
 * finite differences: the forward pass of pc_init (x = mu, so the
 * energy is the loss) where the modes differ, else P_forward. */
#if defined(PCC_DROPOUT) || defined(PCC_COUPLED)
#define TRAIN_LOSS(P) P##_pc_init
#else
#define TRAIN_LOSS(P) P##_forward
#endif

#ifndef PCC_DUMP_ONLY
#define NREAL(T) (sizeof(T) / sizeof(double))

static int test_no, failures;

static void
ok(int cond, const char *fmt, ...)
{
	va_list ap;
	test_no++;
	printf("%s %d - ", cond ? "ok" : "not ok", test_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		failures++;
}

/* ok(), or, for a known limitation (todo not NULL) that fails, a TAP
 * TODO naming it: reported, not counted as a failure */
static void
ok_todo(int cond, const char *todo, const char *what, double value)
{
	if (cond || !todo) {
		ok(cond, "%s: error %.3g relative", what, value);
		return;
	}
	printf("not ok %d - %s: error %.3g relative # TODO %s\n", ++test_no,
	       what, value, todo);
}

/* Fa-Z-IL's known limitation (docs/pc.md): a vertex whose error is
 * exactly zero at its step and whose feedback turns non-zero later,
 * while its prediction has not moved, opens its gate late.  The GRU at
 * the op granularity has one (r[0]: h[0] = 0 and the zero bias bhn make
 * the factor it multiplies exactly 0, until that factor's own vertex
 * moves), set by tests/meson.build. */
#ifdef PCC_FAZIL_LATE_FEEDBACK
#define FAZIL_TODO "a vertex with a zero error at its step gets feedback " \
		   "later (docs/pc.md, Fa-Z-IL's limitation)"
#else
#define FAZIL_TODO NULL
#endif
#endif /* !PCC_DUMP_ONLY */

/* a small deterministic generator, independent of the runtime's */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static double
urand(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}

static d4_params d4p, d4g;
static d4_state d4s;

/* Random inputs in [-1, 1) and ids in range; real targets random
 * distributions over their last axis (as cross-entropy expects; any
 * target is valid for mse). */
static void
fill_data(d4_state *s)
{
	for (int w = 0; w < 2; w++) {
		int n = w ? D4_NUM_TARGETS : D4_NUM_INPUTS;
		const pcg_param_info *info = w ? d4_target_info : d4_input_info;
		for (int k = 0; k < n; k++) {
			const pcg_param_info *m = &info[k];
			char *base = (char *)s + m->byte_offset;
			size_t len = D4_BATCH * m->count;
			if (m->bound) {
				for (size_t i = 0; i < len; i++)
					((int32_t *)base)[i] =
						(int32_t)(urand() * m->bound);
				continue;
			}
			double *t = (double *)base;
			if (!w) {
				for (size_t i = 0; i < len; i++)
					t[i] = 2 * urand() - 1;
				continue;
			}
			size_t last = m->rank ? (size_t)m->dims[m->rank - 1] : 1;
			for (size_t r = 0; r < len / last; r++) {
				double sum = 0;
				for (size_t i = 0; i < last; i++)
					sum += t[r * last + i] = urand() + 0.05;
				for (size_t i = 0; i < last; i++)
					t[r * last + i] /= sum;
			}
		}
	}
}

/* The data of a state written as numbers, member by member (ids too). */
static void
dump_data(FILE *f, const d4_state *s)
{
	for (int w = 0; w < 2; w++) {
		int n = w ? D4_NUM_TARGETS : D4_NUM_INPUTS;
		const pcg_param_info *info = w ? d4_target_info : d4_input_info;
		size_t total = 0;
		for (int k = 0; k < n; k++)
			total += D4_BATCH * info[k].count;
		fprintf(f, "%s %zu\n", w ? "target" : "in", total);
		for (int k = 0; k < n; k++) {
			const char *base = (const char *)s + info[k].byte_offset;
			for (size_t i = 0; i < D4_BATCH * info[k].count; i++)
				if (info[k].bound)
					fprintf(f, "%d\n", ((const int32_t *)base)[i]);
				else
					fprintf(f, "%.17g\n",
						((const double *)base)[i]);
		}
	}
}


#ifndef PCC_DUMP_ONLY
static d1_params d1p, d1g;
static d4_params d4q, d4g2, gmean, r, i1, i2, i3;
static f1_params f1p, f1g;
static f4_params f4p, f4q, f4g, fr;
static d1_state d1s;
static d4_state d4s2;
static f1_state f1s;
static f4_state f4s, f4s2;

/* The largest |x|; NaN if any element is NaN, so that a comparison with
 * a limit fails. */
static double
max_abs(const double *x, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		if (!(fabs(x[i]) <= m))
			m = fabs(x[i]);
	return m;
}

/* The cosine of the angle between a and b (NaN if either is 0 or NaN). */
static double
cos_sim(const double *a, const double *b, size_t n)
{
	double dot = 0, na = 0, nb = 0;
	for (size_t i = 0; i < n; i++) {
		dot += a[i] * b[i];
		na += a[i] * a[i];
		nb += b[i] * b[i];
	}
	return dot / sqrt(na * nb);
}

/* Whether two parameter structs hold the same bits in every trainable
 * parameter (buffers, the running statistics that only training steps
 * update, are left out). */
static int
same_trainable(const pcg_param_info *info, int n, const void *a,
	       const void *b, size_t real)
{
	for (int k = 0; k < n; k++)
		if (info[k].trainable &&
		    memcmp((const char *)a + info[k].byte_offset,
			   (const char *)b + info[k].byte_offset,
			   info[k].count * real) != 0)
			return 0;
	return 1;
}

/* The largest |a - b| over n doubles, NaN if any difference is NaN. */
static double
max_diff(const double *a, const double *b, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs(a[i] - b[i]);
		if (isnan(d))
			return d; /* a later difference must not hide it */
		if (d > m)
			m = d;
	}
	return m;
}

/*
 * The data members of a state, described by the model's input and target
 * info tables: byte_offset locates a member in the state, bound > 0 marks
 * integer ids (int32_t), else reals of the variant's type.  copy_data
 * copies n members from src to dst, converting reals between double and
 * float: sample b of src into a batch-1 dst (b >= 0), or whole batches of
 * `batch` samples (b < 0).
 */
static void
copy_data(void *dst, const pcg_param_info *di, size_t dreal, const void *src,
	  const pcg_param_info *si, size_t sreal, int n, int batch, int b)
{
	for (int k = 0; k < n; k++) {
		size_t cnt = si[k].count;
		char *d = (char *)dst + di[k].byte_offset;
		const char *sp = (const char *)src + si[k].byte_offset;
		size_t from = b >= 0 ? (size_t)b * cnt : 0;
		size_t len = b >= 0 ? cnt : cnt * (size_t)batch;
		for (size_t i = 0; i < len; i++) {
			if (si[k].bound) {
				((int32_t *)d)[i] = ((const int32_t *)sp)[from + i];
				continue;
			}
			double v = sreal == sizeof(double)
					   ? ((const double *)sp)[from + i]
					   : ((const float *)sp)[from + i];
			if (dreal == sizeof(double))
				((double *)d)[i] = v;
			else
				((float *)d)[i] = (float)v;
		}
	}
}

#define COPY_STATE(D, DP, S, SP, b)                                          \
	do {                                                                 \
		copy_data(D, DP##_input_info, sizeof(DP##_real), S,          \
			  SP##_input_info, sizeof(SP##_real),                \
			  D4_NUM_INPUTS, D4_BATCH, b);                       \
		copy_data(D, DP##_target_info, sizeof(DP##_real), S,         \
			  SP##_target_info, sizeof(SP##_real),               \
			  D4_NUM_TARGETS, D4_BATCH, b);                      \
	} while (0)

/* sample b of a batch-4 state into a batch-1 state */
static void
take_sample(d1_state *one, const d4_state *four, int b)
{
	COPY_STATE(one, d1, four, d4, b);
}

/* Indices of the parameters checked by finite differences: all of them
 * for models up to 5000 scalars, else min(count, 120) distinct entries
 * of each parameter tensor, evenly spread (first and last included):
 * with m <= count the step (count - 1) / (m - 1) is at least 1, so the
 * floors k * step are strictly increasing. */
static int
fd_pick(size_t count, size_t k, size_t *idx)
{
	size_t m = D1_NUM_REALS <= 5000 || count < 120 ? count : 120;
	if (k >= m)
		return 0;
	*idx = m == count ? k : k * (count - 1) / (m - 1);
	return 1;
}

/*
 * BP against finite differences: the central 5-point stencil
 *   f'(x) ~ (8 (f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))) / 12h
 * (truncation O(h^4)), at h = 1e-3, 1e-4, 1e-5, 1e-6 in turn until two
 * successive estimates agree within 1e-7 of the component's scale: where
 * the loss is not smooth within the stencil (a ReLU kink, a max-pool
 * switching elements) they disagree and h shrinks; a component with no
 * agreement, or with a kink on the point itself (the difference of the
 * one-sided slopes does not shrink with h), is counted as skipped; at most
 * 5 % may be (ReLU networks at batch 4 have many kinks).  Relative error of a component:
 * |fd - g| / max(|fd|, |g|, 1e-3 max|g|).  The largest gradient entry is
 * always checked (counted once if it is also picked); with `control`, it
 * is first made wrong by 1e-5, and the differences of the check before
 * it (same parameters and data) are reused: they depend on neither g nor
 * the control.
 */
static size_t fd_checked, fd_skipped;

#define FD_CHECK(P, PU)                                                     \
	static int fd_one_##P(size_t i, double f0, double scale, double *fd) \
	{                                                                   \
		double *p = (double *)&P##p, save = p[i], prev = 0;         \
		double kink_prev = 0;                                       \
		static const double step[4] = {1, -1, 2, -2};               \
		int have = 0;                                               \
		for (double h = 1e-3; h > 5e-7; h /= 10) {                  \
			double f[4];                                        \
			for (int j = 0; j < 4; j++) {                       \
				p[i] = save + step[j] * h;                  \
				f[j] = TRAIN_LOSS(P)(&P##p, &P##s);         \
			}                                                   \
			p[i] = save;                                        \
			double d5 = (8 * (f[0] - f[1]) - (f[2] - f[3])) / (12 * h); \
			/* forward minus backward difference: h f'' where   \
			 * smooth, the jump of f' at a kink on x */         \
			double kink = ((f[0] - f0) - (f0 - f[1])) / h;      \
			double sc = fabs(d5) > scale ? fabs(d5) : scale;    \
			if (have && fabs(d5 - prev) <= 1e-7 * sc) {         \
				/* a kink on x itself: the jump does not    \
				 * shrink with h */                         \
				if (fabs(kink) > 1e-6 * sc &&               \
				    fabs(kink) > 0.5 * fabs(kink_prev))     \
					return 0;                           \
				*fd = d5;                                   \
				return 1;                                   \
			}                                                   \
			prev = d5;                                          \
			kink_prev = kink;                                   \
			have = 1;                                           \
		}                                                           \
		return 0;                                                   \
	}                                                                   \
	/* each entry's difference (fd_got: 0 not yet, 1 done, -1 not      \
	 * smooth) and whether this check has counted it */                 \
	static double fd_val_##P[PU##_NUM_REALS];                           \
	static signed char fd_got_##P[PU##_NUM_REALS];                      \
	static unsigned char fd_seen_##P[PU##_NUM_REALS];                   \
	static double fd_check_##P(double *worst_abs, int control)          \
	{                                                                   \
		double *g = (double *)&P##g;                                \
		P##_grad_bp(&P##p, &P##s, &P##g);                           \
		double gmax = max_abs(g, PU##_NUM_REALS);                   \
		size_t top = 0;                                             \
		for (size_t i = 0; i < PU##_NUM_REALS; i++)                 \
			if (fabs(g[i]) == gmax) {                           \
				top = i;                                    \
				break;                                      \
			}                                                   \
		if (control)                                                \
			g[top] *= 1 + 1e-5; /* a wrong gradient */          \
		else                                                        \
			memset(fd_got_##P, 0, sizeof fd_got_##P);           \
		memset(fd_seen_##P, 0, sizeof fd_seen_##P);                 \
		double f0 = TRAIN_LOSS(P)(&P##p, &P##s);                    \
		double worst = 0;                                           \
		*worst_abs = 0;                                             \
		fd_checked = fd_skipped = 0;                                \
		for (int t = 0; t <= PU##_NUM_PARAMS; t++) {                \
			const pcg_param_info *pi = &P##_param_info[t];      \
			size_t idx;                                         \
			for (size_t k = 0;                                  \
			     t < PU##_NUM_PARAMS ? fd_pick(pi->count, k, &idx) \
						 : k == 0;                  \
			     k++) {                                         \
				size_t i = t < PU##_NUM_PARAMS ? pi->offset + idx \
							       : top;       \
				if (fd_seen_##P[i])                         \
					continue;                           \
				fd_seen_##P[i] = 1;                         \
				if (!fd_got_##P[i])                         \
					fd_got_##P[i] =                     \
						fd_one_##P(i, f0, 1e-3 * gmax, \
							   &fd_val_##P[i]) \
							? 1                 \
							: -1;               \
				double fd = fd_val_##P[i];                  \
				fd_checked++;                               \
				if (fd_got_##P[i] < 0) {                    \
					fd_skipped++;                       \
					continue;                           \
				}                                           \
				double den = fabs(fd) > fabs(g[i]) ? fabs(fd) \
								   : fabs(g[i]); \
				if (den < 1e-3 * gmax)                      \
					den = 1e-3 * gmax;                  \
				if (den == 0)                               \
					den = 1;                            \
				double e = fabs(fd - g[i]) / den;           \
				if (!(e <= worst))                          \
					worst = e;                          \
				if (!(fabs(fd - g[i]) <= *worst_abs))       \
					*worst_abs = fabs(fd - g[i]);       \
			}                                                   \
		}                                                           \
		return worst;                                               \
	}

FD_CHECK(d1, D1)
FD_CHECK(d4, D4)
#endif /* !PCC_DUMP_ONLY */

static void
dump(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(3);
	}
	static d4_params zg;
	d4_grad_zil(&d4p, &d4s, &zg);
	double loss = d4_grad_bp(&d4p, &d4s, &d4g);
	fprintf(f, "batch %d\n", D4_BATCH);
	fprintf(f, "loss %.17g\n", loss);
	for (int t = 0; t < D4_NUM_PARAMS; t++) {
		const pcg_param_info *pi = &d4_param_info[t];
		fprintf(f, "param %s %d", pi->name, pi->rank);
		for (int k = 0; k < pi->rank; k++)
			fprintf(f, " %d", pi->dims[k]);
		fprintf(f, "\n");
		for (size_t i = 0; i < pi->count; i++)
			fprintf(f, "%.17g\n", ((double *)&d4p)[pi->offset + i]);
		fprintf(f, "grad %s\n", pi->name);
		for (size_t i = 0; i < pi->count; i++)
			fprintf(f, "%.17g\n", ((double *)&d4g)[pi->offset + i]);
		fprintf(f, "zgrad %s\n", pi->name);
		for (size_t i = 0; i < pi->count; i++)
			fprintf(f, "%.17g\n", ((double *)&zg)[pi->offset + i]);
	}
	dump_data(f, &d4s);
	/* three SGD steps by BP (lr 0.05, on this batch), then the loss in
	 * evaluation mode: parameters and running statistics after them */
	static d4_params p3;
	static d4_state s3;
	memcpy(&p3, &d4p, sizeof p3);
	memcpy(&s3, &d4s, sizeof s3);
	for (int step = 0; step < 3; step++)
		d4_train_bp(&p3, &s3, 0.05);
	fprintf(f, "evalloss %.17g\n", d4_forward(&p3, &s3));
	for (int t = 0; t < D4_NUM_PARAMS; t++) {
		const pcg_param_info *pi = &d4_param_info[t];
		fprintf(f, "after %s\n", pi->name);
		for (size_t i = 0; i < pi->count; i++)
			fprintf(f, "%.17g\n", ((double *)&p3)[pi->offset + i]);
	}
	/* five steps of each optimizer kind by P_step_bp (weight decay on
	 * for most), for the comparison with torch.optim */
	static const pcg_optim kinds[] = {
		{PCG_SGD, 0.05, 0, 0, 0, 0, 0.01},
		{PCG_MOMENTUM, 0.05, 0.9, 0, 0, 0, 0},
		{PCG_NESTEROV, 0.05, 0.9, 0, 0, 0, 0.01},
		{PCG_ADAM, 0.01, 0, 0.9, 0.999, 1e-8, 0.01},
		{PCG_ADAMW, 0.01, 0, 0.8, 0.99, 1e-6, 0.1},
	};
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		const pcg_optim *c = &kinds[k];
		static d4_opt o;
		memcpy(&p3, &d4p, sizeof p3);
		memcpy(&s3, &d4s, sizeof s3);
		memset(&o, 0, sizeof o);
		for (int step = 0; step < 5; step++)
			d4_step_bp(&p3, &o, &s3, c);
		fprintf(f, "optim %d %.17g %.17g %.17g %.17g %.17g %.17g\n",
			(int)c->kind, c->lr, c->momentum, c->beta1, c->beta2,
			c->eps, c->weight_decay);
		for (int t = 0; t < D4_NUM_PARAMS; t++) {
			const pcg_param_info *pi = &d4_param_info[t];
			if (!pi->trainable)
				continue;
			fprintf(f, "oparam %s\n", pi->name);
			for (size_t i = 0; i < pi->count; i++)
				fprintf(f, "%.17g\n",
					((double *)&p3)[pi->offset + i]);
		}
	}
	/* incremental PC for tests/oracle/torch_ipc.py: 20 steps of
	 * P_train_ipc (SGD) and of P_step_ipc with Adam, on this batch; lr
	 * 0.002, since the CNN's large gradients on these random data make
	 * 20 SGD steps of 0.003 diverge (in PyTorch too) */
	fprintf(f, "ipc 20 0.002 0.1\n");
	memcpy(&p3, &d4p, sizeof p3);
	memcpy(&s3, &d4s, sizeof s3);
	d4_train_ipc(&p3, &s3, 0.002, 20, 0.1);
	for (int t = 0; t < D4_NUM_PARAMS; t++) {
		const pcg_param_info *pi = &d4_param_info[t];
		fprintf(f, "iafter %s\n", pi->name);
		for (size_t i = 0; i < pi->count; i++)
			fprintf(f, "%.17g\n", ((double *)&p3)[pi->offset + i]);
	}
	{
		static const pcg_optim adam = {PCG_ADAM, 0.01, 0, 0.9, 0.999,
					       1e-8, 0};
		static d4_opt o;
		memcpy(&p3, &d4p, sizeof p3);
		memcpy(&s3, &d4s, sizeof s3);
		memset(&o, 0, sizeof o);
		d4_step_ipc(&p3, &o, &s3, &adam, 20, 0.1);
		fprintf(f, "ipcadam 20 0.01 0.9 0.999 1e-8 0.1 %lld\n",
			(long long)o.step);
		for (int t = 0; t < D4_NUM_PARAMS; t++) {
			const pcg_param_info *pi = &d4_param_info[t];
			fprintf(f, "aafter %s\n", pi->name);
			for (size_t i = 0; i < pi->count; i++)
				fprintf(f, "%.17g\n",
					((double *)&p3)[pi->offset + i]);
		}
	}
	fprintf(f, "end\n");
	fclose(f);
}

int
main(int argc, char **argv)
{
	d4_init(&d4p, 42);
	fill_data(&d4s);
	if (argc == 3 && strcmp(argv[1], "--dump") == 0) {
		dump(argv[2]);
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "--mask") == 0) {
		/* the runtime's dropout mask of stream k (the k-th dropout of
		 * the model) for count elements at rate p, from s->rng = 0 as
		 * the dump's calls draw it, for the PyTorch oracle to replay */
		size_t count = (size_t)atol(argv[3]);
		double *m = malloc(count * sizeof *m);
		if (!m)
			return 3;
		pcg_dropout_mask_d(0, (uint64_t)atol(argv[2]), count,
				   atof(argv[4]), m);
		for (size_t i = 0; i < count; i++)
			printf("%.17g\n", m[i]);
		free(m);
		return 0;
	}
#ifdef PCC_DUMP_ONLY
	fprintf(stderr, "usage: %s --dump FILE | --mask K COUNT P\n", argv[0]);
	return 2;
#else
	printf("TAP version 13\n");
	/* batch-1 double model sees sample 0, with the same parameters */
	memcpy(&d1p, &d4p, sizeof d1p);
	take_sample(&d1s, &d4s, 0);

	/* 1. BP against central finite differences, double */
	double worst_abs;
	double rel = fd_check_d1(&worst_abs, 0);
	ok(rel <= 1e-6 && fd_skipped * 20 <= fd_checked,
	   "batch 1: BP gradient equals central finite differences (double): "
	   "max relative error %.3g (abs %.3g), limit 1e-6; %zu entries "
	   "checked, %zu skipped as not smooth",
	   rel, worst_abs, fd_checked, fd_skipped);
	rel = fd_check_d4(&worst_abs, 0);
	ok(rel <= 1e-6 && fd_skipped * 20 <= fd_checked,
	   "batch 4: BP gradient equals central finite differences (double): "
	   "max relative error %.3g (abs %.3g), limit 1e-6; %zu entries "
	   "checked, %zu skipped as not smooth",
	   rel, worst_abs, fd_checked, fd_skipped);
	/* negative control: the same check fails for a gradient whose
	 * largest entry is off by 1e-5 relative */
	rel = fd_check_d1(&worst_abs, 1);
	ok(rel > 1e-6,
	   "negative control: a gradient off by 1e-5 fails the check "
	   "(relative error %.3g)",
	   rel);

	/* 2. the batch gradient is the mean of single-sample gradients
	 * (not with batch statistics or dropout: a sample's value there
	 * depends on the batch, or on its place in it) */
	double L4 = d4_grad_bp(&d4p, &d4s, &d4g);
#if !defined(PCC_DROPOUT) && !defined(PCC_COUPLED)
	double *gm = (double *)&gmean;
	memset(&gmean, 0, sizeof gmean);
	double Lm = 0;
	for (int b = 0; b < D4_BATCH; b++) {
		take_sample(&d1s, &d4s, b);
		Lm += d1_grad_bp(&d1p, &d1s, &d1g) / D4_BATCH;
		for (size_t i = 0; i < D1_NUM_REALS; i++)
			gm[i] += ((double *)&d1g)[i] / D4_BATCH;
	}
	double gmax = max_abs((double *)&d4g, D4_NUM_REALS);
	double diff = max_diff((double *)&d4g, gm, D4_NUM_REALS);
	ok(diff <= 1e-12 * (gmax > 0 ? gmax : 1) &&
		   fabs(L4 - Lm) <= 1e-12 * fabs(Lm) + 1e-300,
	   "batch-4 gradient equals the mean of 4 single-sample gradients: "
	   "max diff %.3g (max |g| %.3g), loss %.17g vs %.17g",
	   diff, gmax, L4, Lm);
#else
	(void)L4;
	(void)gmean;
	double gmax = max_abs((double *)&d4g, D4_NUM_REALS);
#endif
	ok(gmax > 0, "the gradient is not identically zero (max |g| %.3g)",
	   gmax);

	/* 3. train_bp == grad_bp + sgd, bit for bit (double and float) */
	memcpy(&d4q, &d4p, sizeof d4q);
	memcpy(&d4s2, &d4s, sizeof d4s2);
	double la = d4_train_bp(&d4q, &d4s2, 0.05);
	memcpy(&r, &d4p, sizeof r);
	double lb = d4_grad_bp(&r, &d4s, &d4g2);
	d4_sgd(&r, &d4g2, 0.05);
	ok(same_trainable(d4_param_info, D4_NUM_PARAMS, &r, &d4q,
			  sizeof(double)) && la == lb,
	   "double: train_bp equals grad_bp + sgd bit for bit");
	ok(memcmp(&r, &d4p, sizeof r) != 0,
	   "double: an SGD step changes the parameters");

	for (size_t i = 0; i < F4_NUM_REALS; i++)
		((float *)&f4p)[i] = (float)((double *)&d4p)[i];
	COPY_STATE(&f4s, f4, &d4s, d4, -1);
	memcpy(&f4q, &f4p, sizeof f4q);
	memcpy(&f4s2, &f4s, sizeof f4s2);
	float fa = f4_train_bp(&f4q, &f4s2, 0.05f);
	memcpy(&fr, &f4p, sizeof fr);
	float fb = f4_grad_bp(&fr, &f4s, &f4g);
	f4_sgd(&fr, &f4g, 0.05f);
	ok(same_trainable(f4_param_info, F4_NUM_PARAMS, &fr, &f4q,
			  sizeof(float)) && fa == fb,
	   "float: train_bp equals grad_bp + sgd bit for bit");

	/* 4. float close to double (batch 4 and batch 1) */
	float lf = f4_grad_bp(&f4p, &f4s, &f4g);
	double ld = d4_grad_bp(&d4p, &d4s, &d4g);
	double fdiff = 0;
	for (size_t i = 0; i < D4_NUM_REALS; i++) {
		double e = fabs((double)((float *)&f4g)[i] -
				((double *)&d4g)[i]);
		if (!(e <= fdiff))
			fdiff = e;
	}
	ok(fdiff <= 1e-3 * gmax && fabs(lf - ld) <= 1e-4 * (fabs(ld) + 1),
	   "float batch-4 gradient close to double: max diff %.3g (limit "
	   "%.3g), loss %.9g vs %.17g",
	   fdiff, 1e-3 * gmax, (double)lf, ld);
	for (size_t i = 0; i < F1_NUM_REALS; i++)
		((float *)&f1p)[i] = (float)((double *)&d1p)[i];
	take_sample(&d1s, &d4s, 0);
	COPY_STATE(&f1s, f1, &d1s, d1, 0);
	f1_grad_bp(&f1p, &f1s, &f1g);
	d1_grad_bp(&d1p, &d1s, &d1g);
	double g1max = max_abs((double *)&d1g, D1_NUM_REALS);
	fdiff = 0;
	for (size_t i = 0; i < D1_NUM_REALS; i++) {
		double e = fabs((double)((float *)&f1g)[i] -
				((double *)&d1g)[i]);
		if (!(e <= fdiff))
			fdiff = e;
	}
	ok(fdiff <= 1e-3 * g1max,
	   "float batch-1 gradient close to double: max diff %.3g (limit "
	   "%.3g)",
	   fdiff, 1e-3 * g1max);

	/* 5. the loss falls over 100 SGD steps on a fixed batch */
	memcpy(&d4q, &d4p, sizeof d4q);
	double first = TRAIN_LOSS(d4)(&d4q, &d4s), last = first;
	for (int step = 0; step < 100; step++)
		last = d4_train_bp(&d4q, &d4s, 0.02);
	last = TRAIN_LOSS(d4)(&d4q, &d4s);
	ok(last < 0.99 * first && isfinite(last),
	   "double: loss falls over 100 SGD steps: %.6g -> %.6g", first,
	   last);
	memcpy(&f4q, &f4p, sizeof f4q);
	float ffirst = TRAIN_LOSS(f4)(&f4q, &f4s), flast;
	for (int step = 0; step < 100; step++)
		f4_train_bp(&f4q, &f4s, 0.02f);
	flast = TRAIN_LOSS(f4)(&f4q, &f4s);
	ok(flast < 0.99f * ffirst && isfinite(flast),
	   "float: loss falls over 100 SGD steps: %.6g -> %.6g",
	   (double)ffirst, (double)flast);

	/* 6. Z-IL, the level schedule, equals BP bit for bit */
#define ZIL_EXACT(P, PU, T)                                                 \
	do {                                                                \
		static P##_params gb, gz;                                   \
		T lb = P##_grad_bp(&P##p, &P##s, &gb);                      \
		T lz = P##_grad_zil(&P##p, &P##s, &gz);                     \
		ok(memcmp(&gb, &gz, sizeof gb) == 0 && lb == lz,            \
		   #P ": grad_zil equals grad_bp bit for bit");             \
	} while (0)
	memcpy(&d1p, &d4p, sizeof d1p);
	take_sample(&d1s, &d4s, 0);
	ZIL_EXACT(d1, D1, double);
	ZIL_EXACT(d4, D4, double);
	ZIL_EXACT(f1, F1, float);
	ZIL_EXACT(f4, F4, float);

	/* 7. Z-IL by the PC network dynamics: within 1e-10 of the largest
	 * gradient in double; float measured and bounded */
	{
		static d4_params gb, gz;
		d4_grad_bp(&d4p, &d4s, &gb);
		d4_grad_zil_dynamics(&d4p, &d4s, &gz);
		double m = max_abs((double *)&gb, D4_NUM_REALS);
		double e = max_diff((double *)&gb, (double *)&gz, D4_NUM_REALS);
		ok(e <= 1e-10 * m,
		   "double: grad_zil_dynamics equals BP within 1e-10 of the "
		   "largest gradient: error %.3g relative (DEPTH %d, %d "
		   "identity vertices)",
		   e / m, D4_DEPTH, D4_IDENTITIES);
		static f4_params fb, fz;
		f4_grad_bp(&f4p, &f4s, &fb);
		f4_grad_zil_dynamics(&f4p, &f4s, &fz);
		double fm = 0, fe = 0;
		for (size_t i = 0; i < F4_NUM_REALS; i++) {
			double a = ((float *)&fb)[i], b = ((float *)&fz)[i];
			if (!(fabs(a) <= fm))
				fm = fabs(a);
			if (!(fabs(a - b) <= fe))
				fe = fabs(a - b);
		}
		ok(fe <= 1e-4 * fm,
		   "float: grad_zil_dynamics within 1e-4 of the largest BP "
		   "gradient: error %.3g relative",
		   fe / fm);
	}

	/* 7b. Fa-Z-IL: the network's dynamics with per-vertex plasticity
	 * gates and no level anywhere: within 1e-10 of BP's gradient in
	 * double (batch 1 and 4), float measured and bounded; a parameter
	 * whose BP gradient is exactly zero (a layer of dead ReLUs above it)
	 * gets an update of exactly zero; one P_train_fazil step gives one
	 * P_train_bp step's parameters within 1e-10 */
	{
		static d4_params gb, gz;
		static d1_params hb, hz;
		d4_grad_bp(&d4p, &d4s, &gb);
		d4_grad_fazil(&d4p, &d4s, &gz);
		double m = max_abs((double *)&gb, D4_NUM_REALS);
		double e = max_diff((double *)&gb, (double *)&gz, D4_NUM_REALS);
		ok_todo(e <= 1e-10 * m, FAZIL_TODO,
			"double, batch 4: grad_fazil equals BP within 1e-10 of "
			"the largest gradient", e / m);
		int zeros = 0, kept = 1;
		for (size_t i = 0; i < D4_NUM_REALS; i++)
			if (((double *)&gb)[i] == 0) {
				zeros++;
				kept &= ((double *)&gz)[i] == 0;
			}
		ok(kept, "grad_fazil is exactly 0 wherever BP's gradient is "
			 "(%d entries)", zeros);
		memcpy(&d1p, &d4p, sizeof d1p);
		take_sample(&d1s, &d4s, 0);
		d1_grad_bp(&d1p, &d1s, &hb);
		d1_grad_fazil(&d1p, &d1s, &hz);
		m = max_abs((double *)&hb, D1_NUM_REALS);
		e = max_diff((double *)&hb, (double *)&hz, D1_NUM_REALS);
		ok_todo(e <= 1e-10 * m, FAZIL_TODO,
			"double, batch 1: grad_fazil equals BP within 1e-10 of "
			"the largest gradient", e / m);
		static f4_params fb, fz;
		f4_grad_bp(&f4p, &f4s, &fb);
		f4_grad_fazil(&f4p, &f4s, &fz);
		double fm = 0, fe = 0;
		for (size_t i = 0; i < F4_NUM_REALS; i++) {
			double a = ((float *)&fb)[i], b = ((float *)&fz)[i];
			if (!(fabs(a) <= fm))
				fm = fabs(a);
			if (!(fabs(a - b) <= fe))
				fe = fabs(a - b);
		}
		ok_todo(fe <= 1e-4 * fm, FAZIL_TODO,
			"float: grad_fazil within 1e-4 of the largest BP "
			"gradient", fe / fm);
		static d4_params pb, pz;
		static d4_state sb, sz;
		memcpy(&pb, &d4p, sizeof pb);
		memcpy(&pz, &d4p, sizeof pz);
		memcpy(&sb, &d4s, sizeof sb);
		memcpy(&sz, &d4s, sizeof sz);
		d4_train_bp(&pb, &sb, 0.05);
		d4_train_fazil(&pz, &sz, 0.05);
		/* relative to the largest change of a parameter */
		double pm = max_diff((double *)&pb, (double *)&d4p, D4_NUM_REALS);
		double pe = max_diff((double *)&pb, (double *)&pz, D4_NUM_REALS);
		ok_todo(pe <= 1e-10 * pm && memcmp(&pz, &d4p, sizeof pz) != 0,
			FAZIL_TODO, "double: a train_fazil step gives "
			"train_bp's parameters within 1e-10 of the largest "
			"change", pe / pm);
		/* with an optimizer (momentum, weight decay), two steps */
		static const pcg_optim mom = {PCG_MOMENTUM, 0.05, 0.9, 0, 0, 0,
					      0.01};
		static d4_opt ob, oz;
		memcpy(&pb, &d4p, sizeof pb);
		memcpy(&pz, &d4p, sizeof pz);
		memset(&ob, 0, sizeof ob);
		memset(&oz, 0, sizeof oz);
		for (int k = 0; k < 2; k++) {
			memcpy(&sb, &d4s, sizeof sb);
			memcpy(&sz, &d4s, sizeof sz);
			d4_step_bp(&pb, &ob, &sb, &mom);
			d4_step_fazil(&pz, &oz, &sz, &mom);
		}
		pm = max_diff((double *)&pb, (double *)&d4p, D4_NUM_REALS);
		pe = max_diff((double *)&pb, (double *)&pz, D4_NUM_REALS);
		ok_todo(pe <= 1e-10 * pm && oz.step == 2, FAZIL_TODO,
			"double: two step_fazil steps (momentum) give "
			"step_bp's parameters within 1e-10 of the largest "
			"change", pe / pm);
	}

	/* 8. training: Z-IL in place gives BP's parameters, 50 steps on
	 * different batches */
	{
		static d4_params pb, pz;
		static d4_state sb, sz;
		static f4_params qb, qz;
		static f4_state tb, tz;
		memcpy(&pb, &d4p, sizeof pb);
		memcpy(&pz, &d4p, sizeof pz);
		memcpy(&qb, &f4p, sizeof qb);
		memcpy(&qz, &f4p, sizeof qz);
		int same = 1, fsame = 1, moved = 0;
		for (int step = 0; step < 50; step++) {
			fill_data(&sb);
			memcpy(&sz.in, &sb.in, sizeof sz.in);
			memcpy(&sz.target, &sb.target, sizeof sz.target);
			COPY_STATE(&tb, f4, &sb, d4, -1);
			memcpy(&tz.in, &tb.in, sizeof tz.in);
			memcpy(&tz.target, &tb.target, sizeof tz.target);
			double a = d4_train_bp(&pb, &sb, 0.05);
			double b = d4_train_zil(&pz, &sz, 0.05);
			float fa = f4_train_bp(&qb, &tb, 0.05f);
			float fb2 = f4_train_zil(&qz, &tz, 0.05f);
			same &= memcmp(&pb, &pz, sizeof pb) == 0 && a == b;
			fsame &= memcmp(&qb, &qz, sizeof qb) == 0 && fa == fb2;
		}
		moved = memcmp(&pb, &d4p, sizeof pb) != 0;
		ok(same && moved,
		   "double: 50 steps of train_zil give train_bp's parameters "
		   "bit for bit");
		ok(fsame, "float: 50 steps of train_zil give train_bp's "
			  "parameters bit for bit");
	}

	/* 8b. the model trains with Z-IL: 200 steps on a fixed sample (batch
	 * 1, double) lower the loss, and give 200 BP steps' parameters bit for
	 * bit */
	{
		static d1_params pb, pz;
		static d1_state sb, sz;
		memcpy(&pb, &d4p, sizeof pb);
		memcpy(&pz, &d4p, sizeof pz);
		take_sample(&sb, &d4s, 0);
		take_sample(&sz, &d4s, 0);
		double first = TRAIN_LOSS(d1)(&pz, &sz);
		for (int step = 0; step < 200; step++) {
			d1_train_bp(&pb, &sb, 0.02);
			d1_train_zil(&pz, &sz, 0.02);
		}
		double last = TRAIN_LOSS(d1)(&pz, &sz);
		ok(last < first && isfinite(last),
		   "double: 200 train_zil steps lower the loss: %.6g -> %.6g",
		   first, last);
		ok(memcmp(&pb, &pz, sizeof pb) == 0,
		   "double: after 200 steps train_zil's parameters are "
		   "train_bp's bit for bit");
	}

	/* 9. standard PC: the energy starts at the loss and never rises over
	 * 100 inference steps at a small rate: gamma = 0.1, halved (0.05,
	 * 0.025, ...) while it does rise -- a gradient step on F decreases F
	 * once gamma is below 2 / (F's curvature) -- and the rate it took is
	 * reported.  Rises within rounding (1e-12 of F) do not count. */
	double gamma_ok = 0;
	{
		double l0 = TRAIN_LOSS(d4)(&d4p, &d4s);
		double e0 = d4_energy(&d4p, &d4s);
		int rises = 0;
		double gamma = 0.1, worst = 0, first = 0, prev = 0;
		for (int attempt = 0; attempt < 6; attempt++, gamma /= 2) {
			first = prev = d4_pc_init(&d4p, &d4s);
			rises = 0;
			worst = 0;
			for (int t = 0; t < 100; t++) {
				double en = d4_pc_step(&d4p, &d4s, gamma);
				if (!(en <= prev + 1e-12 * fabs(prev))) {
					rises++;
					if (!(en - prev <= worst))
						worst = en - prev;
				}
				prev = en;
			}
			if (rises == 0)
				break;
			printf("# gamma %g: the energy rose %d times (largest "
			       "%.3g)\n", gamma, rises, worst);
		}
		gamma_ok = rises == 0 ? gamma : 0;
		ok(rises == 0 && fabs(e0 - l0) <= 1e-12 * fabs(l0) &&
			   fabs(first - l0) <= 1e-12 * fabs(l0),
		   "PC energy at x = mu is the loss (%.17g) and never rises over "
		   "100 steps at gamma %g: %.9g -> %.9g",
		   l0, gamma, first, prev);
	}

	/* 9b. the energy level by level: at x = mu every error but the
	 * outputs' is 0, so level 0 holds the whole energy (the loss) and
	 * every other level exactly 0; after inference steps the levels
	 * sum to P_energy; under the Z-IL dynamics (gamma = 1) the error
	 * reaches level l at step l, so after t steps the levels above t
	 * are still exactly 0 */
	{
		static double e[D4_DEPTH];
		double f = d4_pc_init(&d4p, &d4s);
		double sum = d4_pc_energies(&d4p, &d4s, e);
		int zero = 1;
		for (int l = 1; l < D4_DEPTH; l++)
			zero &= e[l] == 0;
		ok(zero && fabs(e[0] - f) <= 1e-12 * fabs(f) && sum == e[0],
		   "pc_energies at x = mu: level 0 is the energy (%.9g), the "
		   "other %d levels 0", f, D4_DEPTH - 1);
		for (int t = 0; t < 5; t++)
			f = d4_pc_step(&d4p, &d4s, 0.1);
		sum = d4_pc_energies(&d4p, &d4s, e);
		double parts = 0;
		for (int l = 0; l < D4_DEPTH; l++)
			parts += e[l];
		ok(fabs(sum - f) <= 1e-12 * fabs(f) && sum == parts,
		   "pc_energies after 5 steps: the levels sum to the energy "
		   "(%.9g, %.9g)", sum, f);
		int wave = 1;
		d4_pc_init(&d4p, &d4s);
		for (int t = 0; t + 1 < D4_DEPTH; t++) {
			d4_pc_step(&d4p, &d4s, 1.0);
			d4_pc_energies(&d4p, &d4s, e);
			for (int l = t + 2; l < D4_DEPTH; l++)
				wave &= e[l] == 0;
		}
		ok(wave, "pc_energies under gamma = 1: after t steps the "
			 "levels above t are exactly 0");
	}

	/* 9c. P_pc_grad, the gradient PC takes where inference stands: after
	 * pc_init and t pc_step calls it has P_grad_pc's bits with t steps
	 * (another path through the generated code), and calling it between
	 * the steps moves nothing (the energies keep their bits).  From it,
	 * the cosine with BP at every step, printed */
	{
		static d4_params gb, gp, gq;
		int same = 1, still = 1;
		/* each forward pass draws dropout masks from s->rng: every
		 * pass below starts from the same counter, so sees the same */
		const uint64_t r0 = d4s.rng;
		for (int t = 0; t <= 6; t += 3) {
			d4s.rng = r0;
			d4_grad_pc(&d4p, &d4s, &gq, t, 0.1);
			d4s.rng = r0;
			d4_pc_init(&d4p, &d4s);
			for (int k = 0; k < t; k++)
				d4_pc_step(&d4p, &d4s, 0.1);
			d4_pc_grad(&d4p, &d4s, &gp);
			same &= memcmp(&gp, &gq, sizeof gp) == 0;
		}
		/* the control: one step more is another gradient */
		d4s.rng = r0;
		d4_grad_pc(&d4p, &d4s, &gq, 7, 0.1);
		int differs = memcmp(&gp, &gq, sizeof gp) != 0;
		double with[8], without[8];
		d4s.rng = r0;
		d4_pc_init(&d4p, &d4s);
		for (int k = 0; k < 8; k++) {
			d4_pc_step(&d4p, &d4s, 0.1);
			with[k] = d4_pc_grad(&d4p, &d4s, &gp);
		}
		d4s.rng = r0;
		d4_pc_init(&d4p, &d4s);
		for (int k = 0; k < 8; k++)
			without[k] = d4_pc_step(&d4p, &d4s, 0.1);
		still = memcmp(with, without, sizeof with) == 0;
		ok(same && still && differs, "pc_grad after pc_init and t steps "
		   "(t = 0, 3, 6) is grad_pc(t)'s bits (not grad_pc(7)'s after 6),"
		   " and leaves the inference as it is");
		d4s.rng = r0;
		d4_grad_bp(&d4p, &d4s, &gb);
		d4s.rng = r0;
		d4_pc_init(&d4p, &d4s);
		const double *b = (const double *)&gb, *q = (const double *)&gp;
		printf("# measured: cosine with BP after t steps at gamma 0.1:");
		for (int t = 0; t <= 20; t++) {
			if (t > 0)
				d4_pc_step(&d4p, &d4s, 0.1);
			d4_pc_grad(&d4p, &d4s, &gp);
			if (t % 5 == 0)
				printf(" t=%d %.4f", t,
				       cos_sim(b, q, D4_NUM_REALS));
		}
		printf("\n");
	}

	/* 10. standard PC approaches BP as the output error shrinks: the
	 * losses weighted by 1e-4 in the energy scale every output error by
	 * 1e-4; gamma = 0.1 (or the rate the energy test needed) and T = 200
	 * inference steps, more for deep graphs (errors settle over about
	 * DEPTH^2 / gamma steps): T = max(200, 40 DEPTH^2) * 0.1 / gamma, at
	 * most 10000 */
	{
		static d4_params gb, gp;
		int T = 40 * D4_DEPTH * D4_DEPTH > 200 ? 40 * D4_DEPTH * D4_DEPTH
						       : 200;
		double G = gamma_ok > 0 ? gamma_ok : 0.1;
		T = (int)(T * (0.1 / G));
		/* a step budget for the test suite's time: where it binds, a
		 * shortfall is reported as a TODO, not a pass */
		int capped = T > 10000;
		if (capped)
			T = 10000;
		d4_grad_bp(&d4p, &d4s, &gb);
		d4_grad_pc_weighted(&d4p, &d4s, &gp, T, G, 1e-4);
		double cosine = cos_sim((double *)&gb, (double *)&gp,
					D4_NUM_REALS);
		if (capped && !(cosine >= 0.99))
			printf("not ok %d - PC gradient (T = %d, gamma = %g) with "
			       "every output error scaled by 1e-4: cosine %.6f # "
			       "TODO the step budget (10000) is below the %d steps "
			       "this DEPTH needs to settle\n",
			       ++test_no, T, G, cosine,
			       (int)(40.0 * D4_DEPTH * D4_DEPTH * 0.1 / G));
		else
			ok(cosine >= 0.99,
			   "PC gradient (T = %d, gamma = %g) with every output "
			   "error scaled by 1e-4 points along BP's: cosine %.6f",
			   T, G, cosine);
		/* for the docs: targets moved close instead (the energy's
		 * feedback keeps its relative size, so this stays apart) */
		static d4_state sn;
		memcpy(&sn, &d4s, sizeof sn);
		d4_forward(&d4p, &sn);
		d4_targets_near(&sn, 1e-4);
		d4_grad_bp(&d4p, &sn, &gb);
		d4_grad_pc(&d4p, &sn, &gp, 200, 0.1);
		printf("# measured: targets moved to 1e-4 of the outputs "
		       "instead: cosine %.6f\n",
		       cos_sim((double *)&gb, (double *)&gp, D4_NUM_REALS));
		/* plain PC is not BP: a control that the cosine can fail */
		d4_grad_bp(&d4p, &d4s, &gb);
		d4_grad_pc(&d4p, &d4s, &gp, 200, 0.1);
		printf("# measured: plain PC, full output error: cosine %.6f\n",
		       cos_sim((double *)&gb, (double *)&gp, D4_NUM_REALS));
	}

#ifdef H_CG
	/* 11b. the same for P_step_zil: with every level learning one step
	 * late it no longer gives P_step_bp's parameters */
	{
		static const pcg_optim mom = {PCG_MOMENTUM, 0.05, 0.9, 0, 0,
					       0, 0};
		static d4_params gb;
		d4_grad_bp(&d4p, &d4s, &gb);
		static cl_params a, b;
		static cl_opt oa, ob;
		static cl_state sa2, sb2;
		memcpy(&a, &d4p, sizeof a);
		memcpy(&b, &d4p, sizeof b);
		memcpy(&sa2.in, &d4s.in, sizeof sa2.in);
		memcpy(&sa2.target, &d4s.target, sizeof sa2.target);
		memcpy(&sb2, &sa2, sizeof sb2);
		cl_step_bp(&a, &oa, &sa2, &mom);
		cl_step_zil(&b, &ob, &sb2, &mom);
		/* a step moves a parameter by lr * its gradient */
		double m = 0.05 * max_abs((double *)&gb, D4_NUM_REALS);
		double e = max_diff((double *)&a, (double *)&b, D4_NUM_REALS);
		if (isnan(e))
			e = INFINITY;
		if (D4_IDENTITIES > 0)
			ok(e > 1e-3 * m, "negative control: P_step_zil with every "
					 "level learning one step late differs "
					 "from P_step_bp: %.3g relative", e / m);
		else
			printf("# measured without skip connections: P_step_zil "
			       "learning one step late differs from P_step_bp by "
			       "%.3g relative\n", e / m);
	}

	/* 11. negative controls: break one Z-IL condition and the dynamics
	 * must differ from BP (more than 1e-3 of the largest gradient) */
	{
		static d4_params gb;
		static cg_params gg;
		static cl_params gl;
		static cf_params gf;
		d4_grad_bp(&d4p, &d4s, &gb);
		double m = max_abs((double *)&gb, D4_NUM_REALS);
		double eg, el, ef;
		static cg_params cgp;
		static cl_params clp;
		static cf_params cfp;
		static cg_state cgs;
		static cl_state cls;
		static cf_state cfs;
#define CONTROL_COPY(P)                                                     \
	do {                                                                \
		memcpy(&P##p, &d4p, sizeof P##p);                           \
		memcpy(&P##s.in, &d4s.in, sizeof P##s.in);                  \
		memcpy(&P##s.target, &d4s.target, sizeof P##s.target);      \
	} while (0)
		CONTROL_COPY(cg);
		CONTROL_COPY(cl);
		CONTROL_COPY(cf);
		cg_grad_zil_dynamics(&cgp, &cgs, &gg);
		cl_grad_zil_dynamics(&clp, &cls, &gl);
		cf_grad_zil_dynamics(&cfp, &cfs, &gf);
		/* NaN (a diverged network) counts as different */
		eg = max_diff((double *)&gb, (double *)&gg, D4_NUM_REALS);
		el = max_diff((double *)&gb, (double *)&gl, D4_NUM_REALS);
		ef = max_diff((double *)&gb, (double *)&gf, D4_NUM_REALS);
		if (isnan(eg))
			eg = INFINITY;
		if (isnan(el))
			el = INFINITY;
		if (isnan(ef))
			ef = INFINITY;
		/* the controls are required on graphs with skip connections
		 * (identity vertices); elsewhere they are measured */
		if (D4_IDENTITIES > 0) {
			ok(eg > 1e-3 * m, "negative control: gamma = 0.9 breaks "
					  "Z-IL: difference %.3g relative",
			   eg / m);
			ok(el > 1e-3 * m, "negative control: every level "
					  "learning one step late breaks Z-IL: "
					  "difference %.3g relative",
			   el / m);
			ok(ef > 1e-3 * m, "negative control: no levelling "
					  "breaks Z-IL: difference %.3g relative",
			   ef / m);
		} else {
			printf("# measured without skip connections: gamma 0.9 "
			       "%.3g, learning one step late %.3g, no levelling %.3g "
			       "(relative)\n",
			       eg / m, el / m, ef / m);
		}
	}
#endif

#ifdef H_CE
	/* 11b. negative controls of Fa-Z-IL: gates that open at every
	 * non-zero error (no latch), gates that ignore the prediction (a
	 * vertex whose error is zero at its step opens later), and no
	 * levelling must each differ from BP */
	{
		static d4_params gb;
		static ce_params cep, ge;
		static cn_params cnp, gn;
		static cf_params cfp, gf;
		static ce_state ces;
		static cn_state cns;
		static cf_state cfs;
		d4_grad_bp(&d4p, &d4s, &gb);
		double m = max_abs((double *)&gb, D4_NUM_REALS);
		CONTROL_COPY(ce);
		CONTROL_COPY(cn);
		CONTROL_COPY(cf);
		ce_grad_fazil(&cep, &ces, &ge);
		cn_grad_fazil(&cnp, &cns, &gn);
		cf_grad_fazil(&cfp, &cfs, &gf);
		double ee = max_diff((double *)&gb, (double *)&ge, D4_NUM_REALS);
		double en = max_diff((double *)&gb, (double *)&gn, D4_NUM_REALS);
		double ef = max_diff((double *)&gb, (double *)&gf, D4_NUM_REALS);
		if (isnan(ee))
			ee = INFINITY;
		if (isnan(en))
			en = INFINITY;
		if (isnan(ef))
			ef = INFINITY;
		if (D4_DEPTH > 1)
			ok(ee > 1e-3 * m, "negative control: Fa-Z-IL gates that "
					  "open at every non-zero error break the "
					  "equality: difference %.3g relative",
			   ee / m);
#ifdef PCC_DEAD_LAYER
		/* its only skip goes around the dead layer, whose path adds
		 * nothing: the flat graph gives BP's gradient too */
		if (0)
#else
		if (D4_IDENTITIES > 0)
#endif
			ok(ef > 1e-3 * m, "negative control: Fa-Z-IL without "
					  "levelling breaks the equality: "
					  "difference %.3g relative", ef / m);
		else
			printf("# Fa-Z-IL without levelling (no skip connections, "
			       "or only around the dead layer): %.3g relative\n",
			       ef / m);
#ifdef PCC_DEAD_LAYER
		ok(en > 1e-3 * m, "negative control: gates that ignore the "
				  "prediction open late under the dead layer: "
				  "difference %.3g relative", en / m);
#else
		printf("# Fa-Z-IL gates ignoring the prediction: %.3g relative\n",
		       en / m);
#endif
	}
#endif

	/* 13. the samples in use: s->n = 3 on the batch-4 build is the
	 * batch-3 build (losses, gradients, a training step with its running
	 * statistics); n = 0 is all PU_BATCH samples, bit for bit; n outside
	 * 0..PU_BATCH is refused with NaN and nothing changed */
	{
		static d4_params ga, gb, pa;
		static d4_state sa;
		memcpy(&sa, &d4s, sizeof sa);
		sa.n = 0;
		double la = d4_grad_bp(&d4p, &sa, &ga);
		sa.n = D4_BATCH;
		double lb = d4_grad_bp(&d4p, &sa, &gb);
		ok(la == lb && memcmp(&ga, &gb, sizeof ga) == 0,
		   "n = 0 and n = PU_BATCH give the same loss and gradient bit "
		   "for bit");
		memcpy(&pa, &d4p, sizeof pa);
		int refused = 1;
		for (int bad = -1; bad <= D4_BATCH + 1; bad += D4_BATCH + 2) {
			sa.n = bad;
			refused &= isnan(d4_train_bp(&pa, &sa, 0.05)) &&
				   isnan(d4_forward(&pa, &sa)) &&
				   isnan(d4_grad_zil(&pa, &sa, &ga));
		}
		ok(refused && memcmp(&pa, &d4p, sizeof pa) == 0,
		   "n = -1 and n = PU_BATCH + 1: NaN, parameters untouched");
#ifdef H_D3
		static d3_params p3, g3;
		static d3_state s3;
		memcpy(&p3, &d4p, sizeof p3);
		copy_data(&s3, d3_input_info, sizeof(double), &d4s, d4_input_info,
			  sizeof(double), D4_NUM_INPUTS, 3, -1);
		copy_data(&s3, d3_target_info, sizeof(double), &d4s,
			  d4_target_info, sizeof(double), D4_NUM_TARGETS, 3, -1);
		sa.n = 3;
		la = d4_grad_bp(&d4p, &sa, &ga);
		lb = d3_grad_bp(&p3, &s3, &g3);
		double m = max_abs((double *)&g3, D3_NUM_REALS);
		double e = max_diff((double *)&ga, (double *)&g3, D3_NUM_REALS);
		ok(e <= 1e-12 * m && fabs(la - lb) <= 1e-12 * fabs(lb),
		   "n = 3 on the batch-4 build equals the batch-3 build: "
		   "gradient %.3g relative, loss %.17g vs %.17g",
		   e / m, la, lb);
		static d4_params pb;
		memcpy(&pb, &d4p, sizeof pb);
		for (int step = 0; step < 3; step++) {
			la = d4_train_bp(&pb, &sa, 0.05);
			lb = d3_train_bp(&p3, &s3, 0.05);
		}
		m = max_abs((double *)&p3, D3_NUM_REALS);
		e = max_diff((double *)&pb, (double *)&p3, D3_NUM_REALS);
		ok(e <= 1e-12 * m && fabs(la - lb) <= 1e-12 * fabs(lb),
		   "3 training steps with n = 3 equal the batch-3 build's "
		   "(parameters and running statistics): %.3g relative", e / m);
#endif
		/* P_predict reads no target (unless a vertex does: teacher
		 * forcing) and gives P_forward's outputs */
		static d4_state sp;
		memcpy(&sa, &d4s, sizeof sa);
		memcpy(&sp, &d4s, sizeof sp);
		if (!D4_PREDICT_READS_TARGETS)
			memset(&sp.target, 0xff, sizeof sp.target); /* NaN, bad ids */
		double lf = d4_forward(&d4p, &sa);
		double lp = d4_predict(&d4p, &sp);
		ok(lp == 0 && isfinite(lf) &&
			   memcmp(&sa.out, &sp.out, sizeof sa.out) == 0,
		   "predict: P_forward's outputs%s",
		   D4_PREDICT_READS_TARGETS ? " (a vertex reads a target)"
					    : " without reading the targets");
	}

	/* 14. optimizers: P_step_zil gives P_step_bp's parameters and
	 * moments bit for bit, for every kind, weight decay on and off,
	 * float and double; an invalid optimizer changes nothing */
	{
		static const pcg_optim kinds[] = {
			{PCG_SGD, 0.05, 0, 0, 0, 0, 0},
			{PCG_SGD, 0.05, 0, 0, 0, 0, 0.01},
			{PCG_MOMENTUM, 0.05, 0.9, 0, 0, 0, 0},
			{PCG_MOMENTUM, 0.05, 0.9, 0, 0, 0, 0.01},
			{PCG_NESTEROV, 0.05, 0.9, 0, 0, 0, 0},
			{PCG_NESTEROV, 0.05, 0.9, 0, 0, 0, 0.01},
			{PCG_ADAM, 0.01, 0, 0.9, 0.999, 1e-8, 0},
			{PCG_ADAM, 0.01, 0, 0.9, 0.999, 1e-8, 0.01},
			{PCG_ADAMW, 0.01, 0, 0.9, 0.999, 1e-8, 0},
			{PCG_ADAMW, 0.01, 0, 0.9, 0.999, 1e-8, 0.01},
		};
		static const char *const names[] = {"sgd", "momentum", "nesterov",
						    "adam", "adamw"};
#define STEPS_EQUAL(P, T)                                                   	do {                                                                		static P##_params a, b;                                     		static P##_opt oa, ob;                                      		static P##_state sa2, sb2;                                  		memcpy(&a, &P##p, sizeof a);                                		memcpy(&b, &P##p, sizeof b);                                		memset(&oa, 0, sizeof oa);                                  		memset(&ob, 0, sizeof ob);                                  		memcpy(&sa2, &P##s, sizeof sa2);                            		memcpy(&sb2, &P##s, sizeof sb2);                            		int same = 1;                                               		for (int step = 0; step < 3; step++) {                      			T x = P##_step_bp(&a, &oa, &sa2, c);                			T y = P##_step_zil(&b, &ob, &sb2, c);               			same &= x == y;                                     		}                                                           		same &= memcmp(&a, &b, sizeof a) == 0 &&                    			memcmp(&oa, &ob, sizeof oa) == 0 && oa.step == 3;   		ok(same && memcmp(&a, &P##p, sizeof a) != 0,                		   #P ": 3 steps of %s (weight decay %g): step_zil equals " 		   "step_bp bit for bit",                                   		   names[c->kind], c->weight_decay);                        	} while (0)
		for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
			const pcg_optim *c = &kinds[k];
			STEPS_EQUAL(d4, double);
			STEPS_EQUAL(f4, float);
			STEPS_EQUAL(d1, double);
		}
		static d4_params pa;
		static d4_opt oa;
		memcpy(&pa, &d4p, sizeof pa);
		memset(&oa, 0, sizeof oa);
		pcg_optim bad[3] = {kinds[6], kinds[6], kinds[2]};
		bad[0].lr = -0.01;
		bad[1].beta2 = 1;
		bad[2].momentum = -0.5;
		int refused = 1;
		for (int k = 0; k < 3; k++)
			refused &= isnan(d4_step_bp(&pa, &oa, &d4s, &bad[k])) &&
				   isnan(d4_step_zil(&pa, &oa, &d4s, &bad[k]));
		ok(refused && memcmp(&pa, &d4p, sizeof pa) == 0 && oa.step == 0,
		   "a negative learning rate, beta2 = 1 or a negative momentum: "
		   "NaN, parameters and optimizer untouched");
	}

	/* 12. init is deterministic and seed-dependent */
	d4_init(&i1, 7);
	d4_init(&i2, 7);
	d4_init(&i3, 8);
	ok(memcmp(&i1, &i2, sizeof i1) == 0 && memcmp(&i1, &i3, sizeof i1),
	   "init: same seed same parameters, another seed others");

	printf("1..%d\n", test_no);
	return failures ? 1 : 0;
#endif
}
