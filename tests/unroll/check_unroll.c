/*
 * check_unroll.c — a model compiled with `pcc --unroll loops` gives the
 * same bits as with `--unroll full`, in every generated function.
 *
 *   check_unroll FULL_LIB FULL_SYMBOL LOOPS_LIB LOOPS_SYMBOL LOOPS_SOURCE
 *
 * The two libraries are the same model compiled both ways, driven through
 * their P_model descriptors alone (their states are laid out differently;
 * the data go in and out through the descriptors' tables).  One run calls
 * every function of the descriptor that computes: forward, predict, the
 * BP, Z-IL, Z-IL dynamics, Fa-Z-IL, PC and weighted PC gradients, every
 * training and optimizer step (SGD and Adam) of BP, Z-IL, Fa-Z-IL, PC and
 * incremental PC, pc_init, pc_step, the energy and the energies by level,
 * keeping every returned loss and energy, gradient, parameter, optimizer
 * moment and output.  The rolled run must equal the unrolled one to the
 * bit, and LOOPS_SOURCE must hold rolled loops (else the comparison would
 * prove nothing).  Also: in the rolled model, Z-IL's gradient is BP's to
 * the bit.  Negative control: the rolled run from parameters one bit apart
 * in one element is seen to differ.  Prints TAP.
 */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcg_runtime.h"
#include "../model_record.h"
#include "../tap_ok.h"


/* fn(args) of the model's scalar type, its result kept as bytes */
#define KEEP(r, fn, ...)                                                      \
	do {                                                                  \
		if (m->f) {                                                   \
			float v_ = m->f->fn(__VA_ARGS__);                     \
			keep(r, &v_, sizeof v_);                              \
		} else {                                                      \
			double v_ = m->d->fn(__VA_ARGS__);                    \
			keep(r, &v_, sizeof v_);                              \
		}                                                             \
	} while (0)

/* The gradients of BP and Z-IL from the same state (Z-IL == BP). */
static Record zil_bp[2];

/* light: only forward, the BP and Z-IL gradients and steps (the PC
 * network's dynamics take a number of steps that grows with the depth:
 * quadratic in a long loop's length) */
static int light;

static void
run(Record *r, int perturb)
{
	void *p = zalloc(m->params_size), *s = zalloc(m->state_size);
	void *g = zalloc(m->grad_size), *o = zalloc(m->opt_size);
	size_t ne = (size_t)m->depth + 1;
	void *e = zalloc(ne * (size_t)m->real_size);
	uint64_t x = 12345;
	if (m->f)
		m->f->init(p, 7);
	else
		m->d->init(p, 7);
	if (perturb) /* one bit in the first parameter's first element */
		((unsigned char *)p + m->param_info[0].byte_offset)[0] ^= 1;
	fill(s, m->input_info, m->num_inputs, &x, 0);
	fill(s, m->target_info, m->num_targets, &x, 1);
	*(int *)((char *)s + m->state_n) = m->batch;
	pcg_optim sgd = {PCG_MOMENTUM, 0.05, 0.9, 0, 0, 0, 0};
	pcg_optim adam = {PCG_ADAM, 1e-3, 0, 0.9, 0.999, 1e-8, 0};
#define R_(v) (m->f ? (float)(v) : (v))
	KEEP(r, forward, p, s);
	KEEP(r, predict, p, s);
	keep(r, (char *)s + m->state_out, m->state_out_size);
	KEEP(r, grad_bp, p, s, g);
	keep(r, g, m->grad_size);
	zil_bp[0].len = 0;
	keep(&zil_bp[0], g, m->grad_size);
	KEEP(r, grad_zil, p, s, g);
	keep(r, g, m->grad_size);
	zil_bp[1].len = 0;
	keep(&zil_bp[1], g, m->grad_size);
	if (light) { /* BP and Z-IL alone: a step each */
		KEEP(r, train_bp, p, s, R_(0.05));
		KEEP(r, train_zil, p, s, R_(0.05));
		KEEP(r, step_zil, p, o, s, &adam);
		keep(r, p, m->params_size);
		goto done;
	}
	KEEP(r, grad_zil_dynamics, p, s, g);
	keep(r, g, m->grad_size);
	KEEP(r, grad_fazil, p, s, g);
	keep(r, g, m->grad_size);
	KEEP(r, grad_pc, p, s, g, 5, R_(0.1));
	keep(r, g, m->grad_size);
	KEEP(r, grad_pc_weighted, p, s, g, 5, R_(0.1), R_(0.5));
	keep(r, g, m->grad_size);
	KEEP(r, train_bp, p, s, R_(0.05));
	KEEP(r, train_zil, p, s, R_(0.05));
	KEEP(r, train_fazil, p, s, R_(0.05));
	KEEP(r, train_pc, p, s, R_(0.05), 5, R_(0.1));
	KEEP(r, train_ipc, p, s, R_(0.05), 5, R_(0.1));
	KEEP(r, step_bp, p, o, s, &sgd);
	KEEP(r, step_zil, p, o, s, &adam);
	KEEP(r, step_fazil, p, o, s, &adam);
	KEEP(r, step_pc, p, o, s, &adam, 5, R_(0.1));
	KEEP(r, step_ipc, p, o, s, &sgd, 5, R_(0.1));
	KEEP(r, pc_init, p, s);
	KEEP(r, pc_step, p, s, R_(0.1));
	KEEP(r, energy, p, s);
	KEEP(r, pc_energies, p, s, e);
	keep(r, e, (size_t)m->depth * (size_t)m->real_size);
	KEEP(r, predict, p, s);
	keep(r, (char *)s + m->state_out, m->state_out_size);
	keep(r, p, m->params_size);
	keep(r, o, m->opt_size);
done:
	free(p);
	free(s);
	free(g);
	free(o);
	free(e);
}

static const pcg_model *
load(const char *path, const char *symbol)
{
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	void *sym = lib ? dlsym(lib, symbol) : NULL;
	if (!sym) {
		printf("Bail out! %s\n", dlerror());
		exit(1);
	}
	const pcg_model *(*get)(void);
	memcpy(&get, &sym, sizeof get);
	return get();
}

/* The loops in the rolled source: "for (int pcg_it = " */
static int
rolled_loops(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int n = 0;
	char line[4096];
	while (fgets(line, sizeof line, f))
		n += strstr(line, "for (int pcg_it = ") != NULL;
	fclose(f);
	return n;
}

/* The count of rolled loops in the source of model l, checked > 0 (else
 * a comparison would prove nothing). */
static void
has_loops(const pcg_model *l, const char *source, const char *how)
{
	char what[200];
	int n = rolled_loops(source);
	snprintf(what, sizeof what, "%s: the %s source has %d rolled loops",
		 l->name, how, n);
	ok(n > 0, what, NULL);
}

/* Runs models x and y (from the same parameters) into a and b; whether
 * the two records hold the same bytes. */
static int
same_runs(const pcg_model *x, const pcg_model *y, Record *a, Record *b)
{
	m = x;
	run(a, 0);
	m = y;
	run(b, 0);
	return a->len == b->len && !memcmp(a->bytes, b->bytes, a->len);
}

static void
free_records(Record *a, Record *b, Record *c)
{
	free(a->bytes);
	free(b->bytes);
	free(c->bytes);
	free(zil_bp[0].bytes);
	free(zil_bp[1].bytes);
}

/* The negative control of the comparison: LOOPS_LIB built with
 * `--unroll=control-backwards`, whose rolled loops run their iterations
 * in reverse, must be seen to differ from the unrolled model. */
static int
control(char **argv)
{
	const pcg_model *full = load(argv[1], argv[2]);
	const pcg_model *back = load(argv[3], argv[4]);
	char what[200];
	Record a = {0}, b = {0}, c = {0};

	has_loops(back, argv[5], "backwards");
	int same = same_runs(full, back, &a, &b);
	snprintf(what, sizeof what, "%s: control: loops run backwards are "
		 "seen to differ from the unrolled code", back->name);
	ok(a.len == b.len && !same, what, NULL);
	free_records(&a, &b, &c);
	printf("1..%d\n", count);
	return failed != 0;
}

int
main(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[6], "control") == 0)
		return control(argv);
	if (argc != 6) {
		fprintf(stderr, "usage: check_unroll FULL_LIB FULL_SYMBOL "
				"LOOPS_LIB LOOPS_SYMBOL LOOPS_SOURCE\n"
				"(FULL_LIB -: the rolled model alone)\n");
		return 2;
	}
	int alone = strcmp(argv[1], "-") == 0;
	light = alone;
	const pcg_model *loops = load(argv[3], argv[4]);
	const pcg_model *full = alone ? loops : load(argv[1], argv[2]);
	char what[200];
	ok(full->version >= 2 && full->methods == 7 && loops->methods == 7,
	   "the descriptors have every method", NULL);
	if (full->version < 2 || full->methods != 7 || loops->methods != 7)
		return 1;
	has_loops(loops, argv[5], "--unroll loops");

	Record a = {0}, b = {0}, c = {0};
	if (alone) {
		m = loops;
		run(&b, 0);
	} else {
		int same = same_runs(full, loops, &a, &b);
		snprintf(what, sizeof what, "%s: rolled and unrolled give the "
			 "same bits in every function (%zu bytes)", full->name,
			 a.len);
		ok(same, what, NULL);
	}
	snprintf(what, sizeof what, "%s: rolled, Z-IL's gradient is BP's to "
		 "the bit (%zu bytes)", loops->name, zil_bp[0].len);
	ok(zil_bp[0].len == zil_bp[1].len &&
		   !memcmp(zil_bp[0].bytes, zil_bp[1].bytes, zil_bp[0].len),
	   what, NULL);
	m = loops;
	run(&c, 1);
	snprintf(what, sizeof what, "%s: control: parameters one bit apart "
		 "are seen to differ", loops->name);
	ok(c.len == b.len && memcmp(c.bytes, b.bytes, b.len) != 0, what, NULL);
	free_records(&a, &b, &c);
	printf("1..%d\n", count);
	return failed != 0;
}
