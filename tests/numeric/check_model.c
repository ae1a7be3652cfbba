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
 * Prints TAP.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include H_F1
#include H_F4
#include H_D1
#include H_D4

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

/* Number of doubles in the in/target structs (0 for the placeholder). */
#define DATA_COUNT(s, m) (sizeof((s)->m) / sizeof(double))

static d1_params d1p, d1g;
static d4_params d4p, d4g, d4q, d4g2, gmean, r, i1, i2, i3;
static f1_params f1p, f1g;
static f4_params f4p, f4q, f4g, fr;
static d1_state d1s;
static d4_state d4s, d4s2;
static f1_state f1s;
static f4_state f4s, f4s2;

static double
max_abs(const double *x, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		if (fabs(x[i]) > m)
			m = fabs(x[i]);
	return m;
}

/* Random inputs in [-1, 1) and targets in [0, 1) (any targets are valid
 * for the oracles; cross-entropy's gradient is exact for any y). */
static void
fill_data(d4_state *s)
{
	double *in = (double *)&s->in, *tg = (double *)&s->target;
	for (size_t i = 0; i < DATA_COUNT(s, in); i++)
		in[i] = 2 * urand() - 1;
	for (size_t i = 0; i < DATA_COUNT(s, target); i++)
		tg[i] = urand();
}

/* sample b of a batch-4 state into a batch-1 state: member by member
 * (each member holds all samples of one input or target) */
static void
take_sample(d1_state *one, const d4_state *four, int b)
{
	for (int k = 0; k < D4_NUM_INPUTS; k++) {
		const pcg_param_info *m = &d4_input_info[k];
		memcpy((double *)&one->in + m->offset,
		       (const double *)&four->in + D4_BATCH * m->offset +
			       (size_t)b * m->count,
		       m->count * sizeof(double));
	}
	for (int k = 0; k < D4_NUM_TARGETS; k++) {
		const pcg_param_info *m = &d4_target_info[k];
		memcpy((double *)&one->target + m->offset,
		       (const double *)&four->target + D4_BATCH * m->offset +
			       (size_t)b * m->count,
		       m->count * sizeof(double));
	}
}

/* Indices of the parameters checked by finite differences: all of them
 * for models up to 20000 scalars, else up to 400 per parameter tensor,
 * evenly spread (first and last included). */
static int
fd_pick(size_t count, size_t k, size_t *idx)
{
	if (D1_NUM_REALS <= 20000) {
		*idx = k;
		return k < count;
	}
	size_t m = 400;
	if (k >= m)
		return 0;
	*idx = k * (count - 1) / (m - 1);
	return 1;
}

/*
 * BP against finite differences: the central 5-point stencil
 *   f'(x) ~ (8 (f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))) / 12h
 * (truncation O(h^4)).  h = 1e-3 first; where the 3-point and 5-point
 * estimates disagree by more than 1e-4 the loss is not smooth within the
 * stencil (a ReLU kink), so h shrinks to 1e-4, then 1e-5; a component
 * still not smooth is counted as skipped.  Relative error of a component:
 * |fd - g| / max(|fd|, |g|, 1e-3 max|g|).  The largest gradient entry is
 * always checked; with `control`, it is first made wrong by 1e-5.
 */
static size_t fd_checked, fd_skipped;

#define FD_CHECK(P, PU)                                                     \
	static double fd_one_##P(size_t i, double *fd)                      \
	{                                                                   \
		double *p = (double *)&P##p, save = p[i];                   \
		static const double step[4] = {1, -1, 2, -2};               \
		for (double h = 1e-3; h > 1e-6; h /= 10) {                  \
			double f[4];                                        \
			for (int j = 0; j < 4; j++) {                       \
				p[i] = save + step[j] * h;                  \
				f[j] = P##_forward(&P##p, &P##s);           \
			}                                                   \
			p[i] = save;                                        \
			double d5 = (8 * (f[0] - f[1]) - (f[2] - f[3])) / (12 * h); \
			double d3 = (f[0] - f[1]) / (2 * h);                \
			if (fabs(d5 - d3) <= 1e-4 * fabs(d5) + 1e-9) {      \
				*fd = d5;                                   \
				return 1;                                   \
			}                                                   \
		}                                                           \
		return 0;                                                   \
	}                                                                   \
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
				double fd;                                  \
				fd_checked++;                               \
				if (!fd_one_##P(i, &fd)) {                  \
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
				if (e > worst)                              \
					worst = e;                          \
				if (fabs(fd - g[i]) > *worst_abs)           \
					*worst_abs = fabs(fd - g[i]);       \
			}                                                   \
		}                                                           \
		return worst;                                               \
	}

FD_CHECK(d1, D1)
FD_CHECK(d4, D4)

static void
dump(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(3);
	}
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
	}
	fprintf(f, "in %zu\n", DATA_COUNT(&d4s, in));
	for (size_t i = 0; i < DATA_COUNT(&d4s, in); i++)
		fprintf(f, "%.17g\n", ((double *)&d4s.in)[i]);
	fprintf(f, "target %zu\n", DATA_COUNT(&d4s, target));
	for (size_t i = 0; i < DATA_COUNT(&d4s, target); i++)
		fprintf(f, "%.17g\n", ((double *)&d4s.target)[i]);
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
	printf("TAP version 13\n");
	/* batch-1 double model sees sample 0, with the same parameters */
	memcpy(&d1p, &d4p, sizeof d1p);
	take_sample(&d1s, &d4s, 0);

	/* 1. BP against central finite differences, double */
	double worst_abs;
	double rel = fd_check_d1(&worst_abs, 0);
	ok(rel <= 1e-6 && fd_skipped * 100 <= fd_checked,
	   "batch 1: BP gradient equals central finite differences (double): "
	   "max relative error %.3g (abs %.3g), limit 1e-6; %zu entries "
	   "checked, %zu skipped as not smooth",
	   rel, worst_abs, fd_checked, fd_skipped);
	rel = fd_check_d4(&worst_abs, 0);
	ok(rel <= 1e-6 && fd_skipped * 100 <= fd_checked,
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

	/* 2. the batch gradient is the mean of single-sample gradients */
	double L4 = d4_grad_bp(&d4p, &d4s, &d4g);
	double *gm = (double *)&gmean;
	memset(&gmean, 0, sizeof gmean);
	double Lm = 0;
	for (int b = 0; b < D4_BATCH; b++) {
		take_sample(&d1s, &d4s, b);
		Lm += d1_grad_bp(&d1p, &d1s, &d1g) / D4_BATCH;
		for (size_t i = 0; i < D1_NUM_REALS; i++)
			gm[i] += ((double *)&d1g)[i] / D4_BATCH;
	}
	double gmax = max_abs((double *)&d4g, D4_NUM_REALS), diff = 0;
	for (size_t i = 0; i < D4_NUM_REALS; i++) {
		double e = fabs(((double *)&d4g)[i] - gm[i]);
		if (e > diff)
			diff = e;
	}
	ok(diff <= 1e-12 * (gmax > 0 ? gmax : 1) &&
		   fabs(L4 - Lm) <= 1e-12 * fabs(Lm) + 1e-300,
	   "batch-4 gradient equals the mean of 4 single-sample gradients: "
	   "max diff %.3g (max |g| %.3g), loss %.17g vs %.17g",
	   diff, gmax, L4, Lm);
	ok(gmax > 0, "the gradient is not identically zero (max |g| %.3g)",
	   gmax);

	/* 3. train_bp == grad_bp + sgd, bit for bit (double and float) */
	memcpy(&d4q, &d4p, sizeof d4q);
	memcpy(&d4s2, &d4s, sizeof d4s2);
	double la = d4_train_bp(&d4q, &d4s2, 0.05);
	memcpy(&r, &d4p, sizeof r);
	double lb = d4_grad_bp(&r, &d4s, &d4g2);
	d4_sgd(&r, &d4g2, 0.05);
	ok(memcmp(&r, &d4q, sizeof r) == 0 && la == lb,
	   "double: train_bp equals grad_bp + sgd bit for bit");
	ok(memcmp(&r, &d4p, sizeof r) != 0,
	   "double: an SGD step changes the parameters");

	for (size_t i = 0; i < F4_NUM_REALS; i++)
		((float *)&f4p)[i] = (float)((double *)&d4p)[i];
	for (size_t i = 0; i < DATA_COUNT(&d4s, in); i++)
		((float *)&f4s.in)[i] = (float)((double *)&d4s.in)[i];
	for (size_t i = 0; i < DATA_COUNT(&d4s, target); i++)
		((float *)&f4s.target)[i] = (float)((double *)&d4s.target)[i];
	memcpy(&f4q, &f4p, sizeof f4q);
	memcpy(&f4s2, &f4s, sizeof f4s2);
	float fa = f4_train_bp(&f4q, &f4s2, 0.05f);
	memcpy(&fr, &f4p, sizeof fr);
	float fb = f4_grad_bp(&fr, &f4s, &f4g);
	f4_sgd(&fr, &f4g, 0.05f);
	ok(memcmp(&fr, &f4q, sizeof fr) == 0 && fa == fb,
	   "float: train_bp equals grad_bp + sgd bit for bit");

	/* 4. float close to double (batch 4 and batch 1) */
	float lf = f4_grad_bp(&f4p, &f4s, &f4g);
	double ld = d4_grad_bp(&d4p, &d4s, &d4g);
	double fdiff = 0;
	for (size_t i = 0; i < D4_NUM_REALS; i++) {
		double e = fabs((double)((float *)&f4g)[i] -
				((double *)&d4g)[i]);
		if (e > fdiff)
			fdiff = e;
	}
	ok(fdiff <= 1e-3 * gmax && fabs(lf - ld) <= 1e-4 * (fabs(ld) + 1),
	   "float batch-4 gradient close to double: max diff %.3g (limit "
	   "%.3g), loss %.9g vs %.17g",
	   fdiff, 1e-3 * gmax, (double)lf, ld);
	for (size_t i = 0; i < F1_NUM_REALS; i++)
		((float *)&f1p)[i] = (float)((double *)&d1p)[i];
	take_sample(&d1s, &d4s, 0);
	for (size_t i = 0; i < DATA_COUNT(&d1s, in); i++)
		((float *)&f1s.in)[i] = (float)((double *)&d1s.in)[i];
	for (size_t i = 0; i < DATA_COUNT(&d1s, target); i++)
		((float *)&f1s.target)[i] = (float)((double *)&d1s.target)[i];
	f1_grad_bp(&f1p, &f1s, &f1g);
	d1_grad_bp(&d1p, &d1s, &d1g);
	double g1max = max_abs((double *)&d1g, D1_NUM_REALS);
	fdiff = 0;
	for (size_t i = 0; i < D1_NUM_REALS; i++) {
		double e = fabs((double)((float *)&f1g)[i] -
				((double *)&d1g)[i]);
		if (e > fdiff)
			fdiff = e;
	}
	ok(fdiff <= 1e-3 * g1max,
	   "float batch-1 gradient close to double: max diff %.3g (limit "
	   "%.3g)",
	   fdiff, 1e-3 * g1max);

	/* 5. the loss falls over 100 SGD steps on a fixed batch */
	memcpy(&d4q, &d4p, sizeof d4q);
	double first = d4_forward(&d4q, &d4s), last = first;
	for (int step = 0; step < 100; step++)
		last = d4_train_bp(&d4q, &d4s, 0.02);
	last = d4_forward(&d4q, &d4s);
	ok(last < 0.99 * first && isfinite(last),
	   "double: loss falls over 100 SGD steps: %.6g -> %.6g", first,
	   last);
	memcpy(&f4q, &f4p, sizeof f4q);
	float ffirst = f4_forward(&f4q, &f4s), flast;
	for (int step = 0; step < 100; step++)
		f4_train_bp(&f4q, &f4s, 0.02f);
	flast = f4_forward(&f4q, &f4s);
	ok(flast < 0.99f * ffirst && isfinite(flast),
	   "float: loss falls over 100 SGD steps: %.6g -> %.6g",
	   (double)ffirst, (double)flast);

	/* 6. init is deterministic and seed-dependent */
	d4_init(&i1, 7);
	d4_init(&i2, 7);
	d4_init(&i3, 8);
	ok(memcmp(&i1, &i2, sizeof i1) == 0 && memcmp(&i1, &i3, sizeof i1),
	   "init: same seed same parameters, another seed others");

	printf("1..%d\n", test_no);
	return failures ? 1 : 0;
}
