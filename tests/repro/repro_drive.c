/*
 * repro_drive.c — trains generated models a few steps on deterministic
 * data and prints an FNV-1a hash of their parameter bytes, one line per
 * model.  run_repro.py builds it for many targets with -DPCG_REPRODUCIBLE
 * -DPCG_NO_FILES -std=c11 and compares the lines: in reproducible mode
 * they must be the same everywhere.
 *
 * Portable C11: printf is the only library function it calls (the data
 * come from an integer generator, no libm).  The models (run_repro.py
 * generates them, batch 2): digits in float; cnn and the elementwise test
 * graph (exp, log, log1p, erf, sin, cos, pow, tanh, sigmoid, softplus)
 * in float and double.  Each one: three Z-IL steps, three BP steps and
 * three Adam steps (its bias corrections use pow) from the same
 * initialisation, each step on new data.
 */
#include <stdio.h>

#include "rp_digits_f.h"
#include "rp_cnn_f.h"
#include "rp_cnn_d.h"
#include "rp_elem_f.h"
#include "rp_elem_d.h"

/* xorshift64: the data */
static unsigned long long gen_state;

static unsigned
gen(void)
{
	gen_state ^= gen_state << 13;
	gen_state ^= gen_state >> 7;
	gen_state ^= gen_state << 17;
	return (unsigned)(gen_state >> 32);
}

/* FNV-1a, 64 bits */
static unsigned long long
fnv1a(unsigned long long h, const void *data, unsigned long n)
{
	const unsigned char *p = data;
	for (unsigned long i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/*
 * Inputs in [-1, 1], targets in (0, 1) (probabilities for the losses
 * that want them; any real for the others), integer ids in their range:
 * the members of s->in and s->target as P_input_info and P_target_info
 * describe them.
 */
static void
fill(void *state, const pcg_param_info *info, int n, int batch, int dbl,
     int target)
{
	for (int k = 0; k < n; k++) {
		char *at = (char *)state + info[k].byte_offset;
		unsigned long m = (unsigned long)batch * info[k].count;
		for (unsigned long i = 0; i < m; i++) {
			unsigned r = gen();
			int v = target ? 50 + (int)(r % 900) : (int)(r % 2001) - 1000;
			if (info[k].bound > 0)
				((int32_t *)(void *)at)[i] =
					(int32_t)(r % (unsigned)info[k].bound);
			else if (dbl)
				((double *)(void *)at)[i] = (double)v / 1000;
			else
				((float *)(void *)at)[i] = (float)v / 1000;
		}
	}
}

static const pcg_optim adam = {PCG_ADAM, 0.01, 0, 0.9, 0.999, 1e-8, 1e-4};

/*
 * The models run one after the other, so their parameters, states and
 * optimizer states share one union (a Cortex-M4F board has 4 MiB of RAM),
 * zeroed before each model.
 */
#define MODEL_MEM(P)                                                          \
	typedef struct {                                                      \
		P##_params zil, bp, adam;                                     \
		P##_state s;                                                  \
		P##_opt o;                                                    \
	} P##_mem;
MODEL_MEM(rp_digits_f)
MODEL_MEM(rp_cnn_f)
MODEL_MEM(rp_cnn_d)
MODEL_MEM(rp_elem_f)
MODEL_MEM(rp_elem_d)
static union {
	rp_digits_f_mem rp_digits_f;
	rp_cnn_f_mem rp_cnn_f;
	rp_cnn_d_mem rp_cnn_d;
	rp_elem_f_mem rp_elem_f;
	rp_elem_d_mem rp_elem_d;
} mem;

static void
zero(void *p, unsigned long n)
{
	unsigned char *b = p;
	for (unsigned long i = 0; i < n; i++)
		b[i] = 0;
}

#define MODEL_RUN(P, PU)                                                      \
	static void P##_data(int step)                                        \
	{                                                                     \
		gen_state = 0x2545f4914f6cdd1dull + (unsigned long long)step; \
		fill(&mem.P.s, P##_input_info, PU##_NUM_INPUTS, PU##_BATCH,   \
		     sizeof(P##_real) == 8, 0);                               \
		fill(&mem.P.s, P##_target_info, PU##_NUM_TARGETS, PU##_BATCH, \
		     sizeof(P##_real) == 8, 1);                               \
	}                                                                     \
	static void P##_run(void)                                             \
	{                                                                     \
		P##_mem *m = &mem.P;                                          \
		P##_real lr = (P##_real)0.05;                                 \
		unsigned long long h = 0xcbf29ce484222325ull;                 \
		zero(m, sizeof *m);                                           \
		P##_init(&m->zil, 2024);                                      \
		m->bp = m->zil;                                               \
		m->adam = m->zil;                                             \
		h = fnv1a(h, &m->zil, sizeof m->zil);                         \
		for (int step = 0; step < 3; step++) {                        \
			P##_data(step);                                       \
			P##_train_zil(&m->zil, &m->s, lr);                    \
			P##_data(step);                                       \
			P##_train_bp(&m->bp, &m->s, lr);                      \
			P##_data(step);                                       \
			P##_step_bp(&m->adam, &m->o, &m->s, &adam);           \
		}                                                             \
		h = fnv1a(h, &m->zil, sizeof m->zil);                         \
		h = fnv1a(h, &m->bp, sizeof m->bp);                           \
		h = fnv1a(h, &m->adam, sizeof m->adam);                       \
		printf("%-11s %016llx\n", #P, h);                             \
	}

MODEL_RUN(rp_digits_f, RP_DIGITS_F)
MODEL_RUN(rp_cnn_f, RP_CNN_F)
MODEL_RUN(rp_cnn_d, RP_CNN_D)
MODEL_RUN(rp_elem_f, RP_ELEM_F)
MODEL_RUN(rp_elem_d, RP_ELEM_D)

int
main(void)
{
	rp_digits_f_run();
	rp_cnn_f_run();
	rp_cnn_d_run();
	rp_elem_f_run();
	rp_elem_d_run();
	return 0;
}
