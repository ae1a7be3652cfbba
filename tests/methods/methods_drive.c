/*
 * A model built with some pcc --methods: trains a copy of the same
 * initial parameters with each method its header says it has and prints
 * a hash of the parameter bits after each (run_methods.py compares them
 * between builds).  The model comes in as MODEL (its prefix), MODELU
 * (the prefix in capitals) and MODEL_H.
 *
 *   bp        3 steps of P_train_bp          stepbp   3 of P_step_bp, Adam
 *   zil       3 steps of P_train_zil         stepzil  3 of P_step_zil, Adam
 *   zilctl    P_train_zil at a learning rate one part in 10^6 away: the
 *             negative control, a hash that must differ from bp's
 *   pc        3 steps of P_train_pc          steppc   3 of P_step_pc, Adam
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include MODEL_H

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define F(name) CAT(MODEL, name)
#define T(name) CAT(MODEL, name)
#define U(name) CAT(MODELU, name)

static T(params) p0, p;
static T(state) s;
static T(opt) o;

static uint64_t
hash(const void *buf, size_t n)
{
	const unsigned char *b = buf;
	uint64_t h = 1469598103934665603u; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211u;
	return h;
}

/* Inputs and targets: a fixed pattern, integer ids in range. */
static void
fill(const pcg_param_info *info, int n, int salt)
{
	uint32_t r = 12345u + (uint32_t)salt;
	for (int k = 0; k < n; k++) {
		char *base = (char *)&s + info[k].byte_offset;
		size_t count = info[k].count * (size_t)U(BATCH);
		for (size_t i = 0; i < count; i++) {
			r = r * 1664525u + 1013904223u;
			if (info[k].bound > 0)
				((int32_t *)base)[i] = (int32_t)((r >> 8) %
						(uint32_t)info[k].bound);
			else
				((T(real) *)base)[i] =
					(T(real))((double)(r >> 8) / 16777216.0);
		}
	}
}

static void
reset(void)
{
	memcpy(&p, &p0, sizeof p);
	memset(&s, 0, sizeof s);
	memset(&o, 0, sizeof o);
	fill(F(input_info), U(NUM_INPUTS), 1);
	fill(F(target_info), U(NUM_TARGETS), 2);
}

static void
report(const char *what)
{
	printf("%s %016llx\n", what, (unsigned long long)hash(&p, sizeof p));
}

int
main(void)
{
	const pcg_optim adam = {PCG_ADAM, 1e-2, 0, 0.9, 0.999, 1e-8, 0};
	F(init)(&p0, 7);
	printf("state %zu\n", sizeof s);
#if U(METHOD_BP)
	reset();
	for (int i = 0; i < 3; i++)
		F(train_bp)(&p, &s, (T(real))0.05);
	report("bp");
	reset();
	for (int i = 0; i < 3; i++)
		F(step_bp)(&p, &o, &s, &adam);
	report("stepbp");
#endif
#if U(METHOD_ZIL)
	reset();
	for (int i = 0; i < 3; i++)
		F(train_zil)(&p, &s, (T(real))0.05);
	report("zil");
	reset();
	for (int i = 0; i < 3; i++)
		F(train_zil)(&p, &s, (T(real))(0.05 * (1 + 1e-6)));
	report("zilctl");
	reset();
	for (int i = 0; i < 3; i++)
		F(step_zil)(&p, &o, &s, &adam);
	report("stepzil");
#endif
#if U(METHOD_PC)
	reset();
	for (int i = 0; i < 3; i++)
		F(train_pc)(&p, &s, (T(real))0.05, 8, (T(real))0.1);
	report("pc");
	reset();
	for (int i = 0; i < 3; i++)
		F(step_pc)(&p, &o, &s, &adam, 8, (T(real))0.1);
	report("steppc");
#endif
	return 0;
}
