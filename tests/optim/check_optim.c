/*
 * check_optim.c — the optimizers of the runtime (pcg_opt_update_f/_d),
 * run for tests/optim/torch_optim.py, which repeats every run with
 * torch.optim and compares.
 *
 * The problem: two tensors p0[3] and p1[19], the gradient of the
 * quadratic 0.5 * sum a (p - c)^2, so g = a * (p - c) (computed in the
 * case's type, as the script computes it).  a, c and the starting p are
 * drawn from pcg_rng and rounded to float, so both types start from the
 * same values; one element starts at its minimum (a zero gradient).
 * Every case (each optimizer kind, weight decay 0 and 0.01, float and
 * double) runs 5 steps from the same start.
 *
 * Output, one record a line, every real as a C99 hex float (exact):
 *   tensors N SIZE...
 *   a K V...            (also c K V... and p K V...: the start)
 *   case NAME KIND REAL LR MOMENTUM BETA1 BETA2 EPS WD
 *   step T K V...       (p of tensor K after step T)
 *   m K V... / v K V... (the moment buffers after the last step, where
 *                        the kind has them)
 *   end
 */
#include <stdio.h>
#include <stdlib.h>

#include "pcg_runtime.h"

enum { NT = 2, STEPS = 5, MAXN = 19 };

static const int sizes[NT] = {3, 19};
static double a[NT][MAXN], c[NT][MAXN], p0[NT][MAXN];

static void
print_vals(const char *what, int k, const double *x, int n)
{
	printf("%s %d", what, k);
	for (int i = 0; i < n; i++)
		printf(" %a", x[i]);
	printf("\n");
}

/*
 * One update of tensor k in the case's type.  The state is kept in double,
 * which holds every float exactly, and converted for a float update.
 */
static void
update(const pcg_optim *o, int dbl, int t, int k, double *p, double *m,
       double *v)
{
	int n = sizes[k], err;

	if (dbl) {
		double g[MAXN];

		for (int i = 0; i < n; i++)
			g[i] = a[k][i] * (p[i] - c[k][i]);
		err = pcg_opt_update_d(o, t, (size_t)n, p, g, m, v);
	} else {
		float pf[MAXN], gf[MAXN], mf[MAXN], vf[MAXN];

		for (int i = 0; i < n; i++) {
			pf[i] = (float)p[i];
			mf[i] = (float)m[i];
			vf[i] = (float)v[i];
			gf[i] = (float)a[k][i] * (pf[i] - (float)c[k][i]);
		}
		err = pcg_opt_update_f(o, t, (size_t)n, pf, gf, mf, vf);
		for (int i = 0; i < n; i++) {
			p[i] = pf[i];
			m[i] = mf[i];
			v[i] = vf[i];
		}
	}
	if (err != 0) {
		fprintf(stderr, "check_optim: pcg_opt_update refused a case\n");
		exit(1);
	}
}

/* One case: STEPS steps from the start, printed. */
static void
run(const char *name, const pcg_optim *o, int dbl)
{
	static double p[NT][MAXN], m[NT][MAXN], v[NT][MAXN];
	int heavy = o->kind != PCG_SGD && o->momentum != 0;
	int adam = o->kind == PCG_ADAM || o->kind == PCG_ADAMW;
	char what[32];

	printf("case %s %d %s %a %a %a %a %a %a\n", name, (int)o->kind,
	       dbl ? "double" : "float", o->lr, o->momentum, o->beta1,
	       o->beta2, o->eps, o->weight_decay);
	for (int k = 0; k < NT; k++)
		for (int i = 0; i < sizes[k]; i++) {
			p[k][i] = p0[k][i];
			m[k][i] = v[k][i] = 1e30; /* t == 1 must not read them */
		}
	for (int t = 1; t <= STEPS; t++)
		for (int k = 0; k < NT; k++) {
			update(o, dbl, t, k, p[k], m[k], v[k]);
			snprintf(what, sizeof what, "step %d", t);
			print_vals(what, k, p[k], sizes[k]);
		}
	for (int k = 0; k < NT; k++) {
		if (heavy || adam)
			print_vals("m", k, m[k], sizes[k]);
		if (adam)
			print_vals("v", k, v[k], sizes[k]);
	}
}

int
main(void)
{
	static const char *names[] = {"sgd", "momentum", "nesterov", "adam",
				      "adamw"};
	pcg_rng r;

	pcg_rng_seed(&r, 2024);
	printf("tensors %d", NT);
	for (int k = 0; k < NT; k++)
		printf(" %d", sizes[k]);
	printf("\n");
	for (int k = 0; k < NT; k++)
		for (int i = 0; i < sizes[k]; i++) {
			a[k][i] = (float)(0.5 + 1.5 * pcg_rng_uniform(&r));
			c[k][i] = (float)(2 * pcg_rng_uniform(&r) - 1);
			p0[k][i] = (float)(2 * pcg_rng_uniform(&r) - 1);
		}
	p0[0][1] = c[0][1]; /* a zero gradient at the first step */
	for (int k = 0; k < NT; k++) {
		print_vals("a", k, a[k], sizes[k]);
		print_vals("c", k, c[k], sizes[k]);
		print_vals("p", k, p0[k], sizes[k]);
	}
	for (int kind = PCG_SGD; kind <= PCG_ADAMW; kind++)
		for (int w = 0; w < 2; w++)
			for (int dbl = 1; dbl >= 0; dbl--) {
				int adam = kind == PCG_ADAM || kind == PCG_ADAMW;
				pcg_optim o = {(pcg_optim_kind)kind,
					       adam ? 0.05 : 0.1,
					       kind == PCG_SGD ? 0 : 0.9,
					       0.9,
					       0.999,
					       1e-8,
					       w ? 0.01 : 0};
				char name[64];

				snprintf(name, sizeof name, "%s-wd%s-%s",
					 names[kind], w ? "0.01" : "0",
					 dbl ? "double" : "float");
				if (pcg_optim_check(&o) != PCG_OPTIM_OK) {
					fprintf(stderr, "%s: %s\n", name,
						pcg_optim_strerror(
							pcg_optim_check(&o)));
					return 1;
				}
				run(name, &o, dbl);
			}
	printf("end\n");
	return 0;
}
