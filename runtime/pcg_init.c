/*
 * pcg_init.c — parameter initialisers: fans of a parameter and the filling
 * of one parameter by its initialiser.
 *
 * Each parameter draws from its own generator, seeded with
 *     mix64(seed) ^ (index * 0x9e3779b97f4a7c15)
 * (mix64 the splitmix64 finaliser; pcg_rng_seed runs splitmix64 again), so
 * its values depend only on (seed, index).  A double parameter is drawn in
 * double (pcg_rng_uniform, pcg_rng_normal, sqrt); a float parameter is
 * drawn in float from the same stream (pcg_rng_uniform_f,
 * pcg_rng_normal_f, sqrtf, the initialiser's arguments rounded to float),
 * with no double operation at all, so that a float model needs no double
 * arithmetic on a target without it.  A uniform value that would round to
 * the upper end of its range is moved just below it.
 */
#include <math.h>

#include "pcg_runtime.h"

static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* The fans of pcg_fans as integers (products of dims, so exact). */
static void
fans_int(const pcg_param_info *info, int64_t *fan_in, int64_t *fan_out)
{
	const int *d = info->dims;

	if (info->rank <= 1) {
		*fan_in = *fan_out = (int64_t)info->count;
	} else if (info->rank == 2) {
		*fan_in = d[1];
		*fan_out = d[0];
	} else {
		int64_t field = 1;

		for (int i = 2; i < info->rank; i++)
			field *= d[i];
		*fan_in = d[1] * field;
		*fan_out = d[0] * field;
	}
}

void
pcg_fans(const pcg_param_info *info, double *fan_in, double *fan_out)
{
	int64_t fin, fout;

	fans_int(info, &fin, &fout);
	*fan_in = (double)fin;
	*fan_out = (double)fout;
}

/*
 * How a parameter's elements are drawn: value = lo + scale * draw, with
 * draw a standard normal or a uniform in [0, 1).  Uniform values are kept
 * below hi after rounding to the element type (see below).
 */
typedef struct init_plan {
	int constant; /* no random numbers: every element is lo */
	int normal;
	double lo, scale, hi;
} init_plan;

static init_plan
plan(const pcg_param_info *info)
{
	init_plan p = {1, 0, 0, 0, 0};
	double fin, fout;

	switch (info->init) {
	case PCG_INIT_ONES:
		p.lo = 1;
		break;
	case PCG_INIT_NORMAL:
		p = (init_plan){0, 1, 0, info->init_a, 0};
		break;
	case PCG_INIT_UNIFORM:
		p = (init_plan){0, 0, info->init_a,
				info->init_b - info->init_a, info->init_b};
		break;
	case PCG_INIT_XAVIER: {
		/* LANGUAGE.md: Glorot on the last two dims, [.., out, in] */
		pcg_fans(info, &fin, &fout);
		if (info->rank >= 2) {
			fin = info->dims[info->rank - 1];
			fout = info->dims[info->rank - 2];
		}
		double l = fin + fout > 0 ? sqrt(6.0 / (fin + fout)) : 0;

		p = (init_plan){0, 0, -l, 2 * l, l};
		break;
	}
	case PCG_INIT_HE:
		pcg_fans(info, &fin, &fout);
		p = (init_plan){0, 1, 0, fin > 0 ? sqrt(2.0 / fin) : 0, 0};
		break;
	default: /* PCG_INIT_ZEROS and anything unknown */
		break;
	}
	/* An empty or inverted range gives its lower end. */
	if (!p.constant && !p.normal && !(p.hi > p.lo))
		p.constant = 1;
	return p;
}

/* The same plan in float, for float parameters. */
typedef struct init_plan_f {
	int constant; /* no random numbers: every element is lo */
	int normal;
	float lo, scale, hi;
} init_plan_f;

static init_plan_f
plan_f(const pcg_param_info *info)
{
	init_plan_f p = {1, 0, 0, 0, 0};
	int64_t ifin, ifout;
	float fin, fout;

	switch (info->init) {
	case PCG_INIT_ONES:
		p.lo = 1;
		break;
	case PCG_INIT_NORMAL:
		p = (init_plan_f){0, 1, 0, pcg_round_to_float(info->init_a),
				  0};
		break;
	case PCG_INIT_UNIFORM: {
		float a = pcg_round_to_float(info->init_a);
		float b = pcg_round_to_float(info->init_b);

		p = (init_plan_f){0, 0, a, b - a, b};
		break;
	}
	case PCG_INIT_XAVIER: {
		/* LANGUAGE.md: Glorot on the last two dims, [.., out, in] */
		fans_int(info, &ifin, &ifout);
		fin = (float)ifin;
		fout = (float)ifout;
		if (info->rank >= 2) {
			fin = (float)info->dims[info->rank - 1];
			fout = (float)info->dims[info->rank - 2];
		}
		float l = fin + fout > 0 ? sqrtf(6.0f / (fin + fout)) : 0;

		p = (init_plan_f){0, 0, -l, 2 * l, l};
		break;
	}
	case PCG_INIT_HE:
		fans_int(info, &ifin, &ifout);
		fin = (float)ifin;
		fout = (float)ifout;
		p = (init_plan_f){0, 1, 0, fin > 0 ? sqrtf(2.0f / fin) : 0, 0};
		break;
	default: /* PCG_INIT_ZEROS and anything unknown */
		break;
	}
	/* An empty or inverted range gives its lower end. */
	if (!p.constant && !p.normal && !(p.hi > p.lo))
		p.constant = 1;
	return p;
}

static void
seed_param(pcg_rng *r, uint64_t seed, int index)
{
	uint64_t stream = (uint64_t)(unsigned)index * UINT64_C(0x9e3779b97f4a7c15);

	pcg_rng_seed(r, mix64(seed) ^ stream);
}

/* The next value of a non-constant plan, in double. */
static double
draw(const init_plan *p, pcg_rng *r)
{
	if (p->normal)
		return p->lo + p->scale * pcg_rng_normal(r);
	return p->lo + p->scale * pcg_rng_uniform(r);
}

void
pcg_init_param_f(float *dst, const pcg_param_info *info, uint64_t seed,
		 int index)
{
	init_plan_f p = plan_f(info);
	pcg_rng r;

	if (p.constant) {
		for (size_t i = 0; i < info->count; i++)
			dst[i] = p.lo;
		return;
	}
	seed_param(&r, seed, index);
	for (size_t i = 0; i < info->count; i++) {
		float v = p.lo + p.scale * (p.normal ? pcg_rng_normal_f(&r)
						     : pcg_rng_uniform_f(&r));

		/* Rounding can reach hi: keep [lo, hi). */
		if (!p.normal && v >= p.hi)
			v = nextafterf(p.hi, -INFINITY);
		dst[i] = v;
	}
}

void
pcg_init_param_d(double *dst, const pcg_param_info *info, uint64_t seed,
		 int index)
{
	init_plan p = plan(info);
	pcg_rng r;

	if (p.constant) {
		for (size_t i = 0; i < info->count; i++)
			dst[i] = p.lo;
		return;
	}
	seed_param(&r, seed, index);
	for (size_t i = 0; i < info->count; i++) {
		double v = draw(&p, &r);

		if (!p.normal && v >= p.hi)
			v = nextafter(p.hi, -INFINITY);
		dst[i] = v;
	}
}
