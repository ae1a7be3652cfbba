/*
 * check_pmodel.c — a generated model built as a shared library and driven
 * through its descriptor alone: dlopen, dlsym of P_model, and nothing of
 * the model's header.  The same model, generated with another prefix, is
 * linked into this program and driven through its header; the two must
 * agree to the bit.
 *
 *   check_pmodel LIB SYMBOL [ZIL_LIB ZIL_SYMBOL]
 *
 * LIB is the shared library and SYMBOL its P_model.  The static copy is
 * STATIC_H with prefix SP (SPU upper case), given by the build.  Checked:
 *   - the descriptor's version, sizes, counts and offsets against sizeof,
 *     offsetof and the macros of the static copy; its info tables against
 *     the static copy's; every function of a model with all methods there;
 *   - the inputs and targets written through input_info / target_info
 *     (byte offsets, counts, the batch), the static copy's written as the
 *     dense arrays s.in and s.target, so a wrong offset shows;
 *   - init, train_bp, train_zil, the six grad functions, step_bp,
 *     step_zil, step_pc, step_fazil and step_ipc (Adam), train_pc, train_fazil,
 *     train_ipc, pc_init, pc_step, energy, pc_energies, sgd,
 *     forward, predict (outputs read through output_info against the
 *     dense s.out), check_data, targets_near, with s->n and s->rng set
 *     through the descriptor: the same loss, parameter, gradient,
 *     optimizer and state bits;
 *   - checkpoints across the two copies (file and memory, parameters and
 *     optimizer);
 *   - negative controls: one input bit flipped in the shared copy, and
 *     outputs read one element off, are seen as differences;
 *   - ZIL_LIB (the model built with --methods zil): methods, NULL for the
 *     functions of BP and PC, the Z-IL functions there and giving the
 *     static copy's bits.
 * Prints TAP.
 */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include STATIC_H

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define S(name) CAT(SP, name)   /* the static copy's names */
#define SU(name) CAT(SPU, name) /* and its macros */

typedef S(real) real;
typedef S(params) params;
typedef S(state) state;
typedef S(opt) opt;

/* the descriptor's functions for this scalar type (PM_DOUBLE: the
 * build's word on what STATIC_H's real is) */
#if PM_DOUBLE
typedef pcg_model_fns_d fns;
#define FNS(m) ((m)->d)
#else
typedef pcg_model_fns_f fns;
#define FNS(m) ((m)->f)
#endif
_Static_assert(sizeof(real) == (PM_DOUBLE ? 8 : 4), "PM_DOUBLE is wrong");

static int test_no, failures;

static void
ok(int cond, const char *fmt, const char *what)
{
	test_no++;
	printf("%s %d - ", cond ? "ok" : "not ok", test_no);
	printf(fmt, what);
	printf("\n");
	fflush(stdout);
	if (!cond)
		failures++;
}

static const pcg_model *
load_model(const char *lib, const char *sym)
{
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		printf("# dlopen: %s\n", dlerror());
		return NULL;
	}
	void *addr = dlsym(h, sym);
	if (!addr) {
		printf("# dlsym: %s\n", dlerror());
		return NULL;
	}
	const pcg_model *(*get)(void);
	memcpy(&get, &addr, sizeof get); /* POSIX: the symbol is a function */
	return get();
}

/* the static copy */
static params sp, sg, sp2;
static state ss;
static opt so, so2;

/* the shared copy: memory of the descriptor's sizes */
static unsigned char *P, *G, *Sb, *O, *P2, *O2;

static void *
zalloc(size_t n)
{
	void *p = calloc(n ? n : 1, 1);
	if (!p) {
		printf("Bail out! out of memory\n");
		exit(1);
	}
	return p;
}

/* The data: value k of the inputs (w = 0) or targets (w = 1), counted
 * as the dense arrays s.in and s.target count them. */
static real
datum(int w, size_t k)
{
	return (real)(w ? (double)((k * 7 + 3) % 10) / 10.0
			: sin(0.37 * (double)k + 0.1));
}

static int
same(const void *a, const void *b, size_t n)
{
	return memcmp(a, b, n) == 0;
}

static int
same_real(real a, real b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

static int
same_info(const pcg_param_info *a, const pcg_param_info *b, int n)
{
	for (int k = 0; k < n; k++) {
		if (strcmp(a[k].name, b[k].name) || a[k].rank != b[k].rank ||
		    a[k].offset != b[k].offset || a[k].count != b[k].count ||
		    a[k].init != b[k].init || a[k].bound != b[k].bound ||
		    a[k].byte_offset != b[k].byte_offset ||
		    a[k].trainable != b[k].trainable ||
		    memcmp(a[k].dims, b[k].dims, sizeof a[k].dims) ||
		    memcmp(&a[k].init_a, &b[k].init_a, sizeof a[k].init_a) ||
		    memcmp(&a[k].init_b, &b[k].init_b, sizeof a[k].init_b))
			return 0;
	}
	return 1;
}

/* Inputs and targets of the shared copy through the descriptor, of the
 * static copy as dense arrays. */
static int
fill(const pcg_model *m)
{
	real *din = (real *)&ss.in, *dtg = (real *)&ss.target;
	for (size_t k = 0; k < sizeof ss.in / sizeof(real); k++)
		din[k] = datum(0, k);
	for (size_t k = 0; k < sizeof ss.target / sizeof(real); k++)
		dtg[k] = datum(1, k);
	for (int w = 0; w < 2; w++) {
		const pcg_param_info *t = w ? m->target_info : m->input_info;
		int n = w ? m->num_targets : m->num_inputs;
		for (int k = 0; k < n; k++) {
			if (t[k].bound)
				return 0; /* integer data: not in these models */
			real *base = (real *)(Sb + t[k].byte_offset);
			for (size_t b = 0; b < (size_t)m->batch; b++)
				for (size_t i = 0; i < t[k].count; i++)
					base[b * t[k].count + i] =
						datum(w, m->batch * t[k].offset +
							 b * t[k].count + i);
		}
	}
	return 1;
}

/* The outputs of the shared copy, read through output_info (element
 * `shift` further: the negative control), equal the static copy's s.out. */
static int
same_outputs(const pcg_model *m, size_t shift)
{
	const real *dout = (const real *)&ss.out;
	for (int k = 0; k < m->num_outputs; k++) {
		const pcg_param_info *t = &m->output_info[k];
		const real *base = (const real *)(Sb + t->byte_offset) + shift;
		for (size_t b = 0; b < (size_t)m->batch; b++)
			for (size_t i = 0; i < t->count; i++)
				if (!same_real(base[b * t->count + i],
					       dout[m->batch * t->offset +
						    b * t->count + i]))
					return 0;
	}
	return m->num_outputs > 0;
}

static void
set_n_rng(const pcg_model *m, int n, uint64_t rng)
{
	memcpy(Sb + m->state_n, &n, sizeof n);
	memcpy(Sb + m->state_rng, &rng, sizeof rng);
	ss.n = n;
	ss.rng = rng;
}

static int
same_params(const pcg_model *m)
{
	return same(P, &sp, m->params_size);
}

/* The functions of PCG_MODEL_FNS, for the checks of NULL and non-NULL. */
#define FN_LIST(X)                                                            \
	X(init) X(forward) X(predict) X(grad_bp) X(grad_zil)                    \
	X(grad_zil_dynamics) X(grad_pc) X(grad_pc_weighted) X(train_bp)        \
	X(train_zil) X(train_pc) X(step_bp) X(step_zil) X(step_pc) X(energy)    \
	X(pc_init) X(pc_step) X(targets_near) X(sgd) X(save) X(load)            \
	X(save_mem) X(load_mem) X(save_opt) X(load_opt) X(check_data)        \
	X(grad_fazil) X(train_fazil) X(step_fazil) X(train_ipc) X(step_ipc)   \
	X(pc_energies) X(pc_grad)

static void
check_descriptor(const pcg_model *m)
{
	char what[200];
	ok(m->version == PCG_MODEL_VERSION && m->size == sizeof(pcg_model),
	   "%s: version and size", m->name);
	ok(m->real_size == (int32_t)sizeof(real) &&
	   (sizeof(real) == 4 ? m->f && !m->d : m->d && !m->f),
	   "%s: the scalar size, and the function table of that type",
	   m->name);
	ok(m->batch == SU(BATCH) && m->depth == SU(DEPTH) &&
	   m->identities == SU(IDENTITIES) &&
	   m->predict_reads_targets == SU(PREDICT_READS_TARGETS) &&
	   m->num_params == SU(NUM_PARAMS) && m->num_inputs == SU(NUM_INPUTS) &&
	   m->num_targets == SU(NUM_TARGETS) &&
	   m->num_outputs == SU(NUM_OUTPUTS) &&
	   m->num_reals == SU(NUM_REALS) && m->ckpt_bytes == SU(CKPT_BYTES) &&
	   m->has_loss == 1,
	   "%s: batch, depth, counts, checkpoint size as the header's macros",
	   m->name);
	ok(m->methods == (PCG_METHOD_BP | PCG_METHOD_ZIL | PCG_METHOD_PC) &&
	   SU(METHOD_BP) && SU(METHOD_ZIL) && SU(METHOD_PC),
	   "%s: methods bp, zil and pc", m->name);
	ok(m->params_size == sizeof(params) && m->state_size == sizeof(state) &&
	   m->grad_size == sizeof(params) && m->opt_size == sizeof(opt) &&
	   m->align >= _Alignof(state) && m->align >= _Alignof(opt) &&
	   m->align <= _Alignof(max_align_t),
	   "%s: sizes of params, state, gradient, optimizer and the alignment "
	   "as sizeof and _Alignof", m->name);
	ok(m->state_in == offsetof(state, in) &&
	   m->state_in_size == sizeof ss.in &&
	   m->state_target == offsetof(state, target) &&
	   m->state_target_size == sizeof ss.target &&
	   m->state_out == offsetof(state, out) &&
	   m->state_out_size == sizeof ss.out &&
	   m->state_n == offsetof(state, n) &&
	   m->state_rng == offsetof(state, rng) &&
	   m->state_mode == offsetof(state, mode) &&
	   m->opt_step == offsetof(opt, step),
	   "%s: offsets of in, target, out, n, rng, mode and step as offsetof",
	   m->name);
	ok(same_info(m->param_info, S(param_info), SU(NUM_PARAMS)) &&
	   same_info(m->input_info, S(input_info), SU(NUM_INPUTS)) &&
	   same_info(m->target_info, S(target_info), SU(NUM_TARGETS)) &&
	   same_info(m->output_info, S(output_info), SU(NUM_OUTPUTS)),
	   "%s: the tables of params, inputs, targets and outputs are the "
	   "header's", m->name);
	size_t trainable = 0, reals = 0, outs = 0;
	for (int k = 0; k < m->num_params; k++) {
		trainable += m->param_info[k].trainable ? m->param_info[k].count : 0;
		reals += m->param_info[k].count;
	}
	for (int k = 0; k < m->num_outputs; k++)
		outs += m->output_info[k].count * (size_t)m->batch;
	int opt_ok = m->opt_info != NULL;
	size_t optn = 0;
	for (int k = 0; opt_ok && k < m->num_opt; k++) {
		const pcg_param_info *t = &m->opt_info[k];
		optn += t->count;
		opt_ok &= t->byte_offset + t->count * sizeof(real) <= m->opt_step;
	}
	ok(reals == m->num_reals && outs * sizeof(real) == sizeof ss.out &&
	   opt_ok && optn == 2 * trainable,
	   "%s: the tables cover the params, the outputs and the optimizer's "
	   "moments", m->name);
	int all = 1;
#define NONNULL(f)                                                            \
	if (!FNS(m)->f) {                                                     \
		all = 0;                                                      \
		printf("# %s is NULL\n", #f);                                 \
	}
	FN_LIST(NONNULL)
#undef NONNULL
	snprintf(what, sizeof what, "%s", m->name);
	ok(all, "%s: every function of a model with all methods is there",
	   what);
}

/* every call on both copies, compared after each */
static void
check_calls(const pcg_model *m)
{
	char what[200];
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char dir[512];
	snprintf(dir, sizeof dir, "%s/pmodel-XXXXXX", tmp);
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		exit(1);
	}
	P = zalloc(m->params_size);
	G = zalloc(m->grad_size);
	Sb = zalloc(m->state_size);
	O = zalloc(m->opt_size);
	P2 = zalloc(m->params_size);
	O2 = zalloc(m->opt_size);
	const fns *f = FNS(m);

	f->init(P, 11);
	S(init)(&sp, 11);
	ok(same_params(m), "%s: init gives the same parameters", m->name);
	ok(fill(m), "%s: inputs and targets written through the descriptor",
	   m->name);
	set_n_rng(m, 0, 5);
	ok(same(Sb + m->state_in, &ss.in, sizeof ss.in) &&
	   same(Sb + m->state_target, &ss.target, sizeof ss.target),
	   "%s: the data written through the tables equal the dense s.in and "
	   "s.target", m->name);

	const real lr = (real)0.05, gamma = (real)0.1;
	real a, b;
	a = f->train_bp(P, Sb, lr);
	b = S(train_bp)(&sp, &ss, lr);
	ok(same_real(a, b) && same_params(m) && isfinite((double)a),
	   "%s: train_bp: the same loss and parameter bits", m->name);
	a = f->train_zil(P, Sb, lr);
	b = S(train_zil)(&sp, &ss, lr);
	ok(same_real(a, b) && same_params(m),
	   "%s: train_zil: the same loss and parameter bits", m->name);

	static const char *const gname[] = {"grad_bp", "grad_zil",
					    "grad_zil_dynamics", "grad_pc",
					    "grad_pc_weighted", "grad_fazil"};
	for (int k = 0; k < 6; k++) {
		switch (k) {
		case 0:
			a = f->grad_bp(P, Sb, G);
			b = S(grad_bp)(&sp, &ss, &sg);
			break;
		case 1:
			a = f->grad_zil(P, Sb, G);
			b = S(grad_zil)(&sp, &ss, &sg);
			break;
		case 2:
			a = f->grad_zil_dynamics(P, Sb, G);
			b = S(grad_zil_dynamics)(&sp, &ss, &sg);
			break;
		case 3:
			a = f->grad_pc(P, Sb, G, 3, gamma);
			b = S(grad_pc)(&sp, &ss, &sg, 3, gamma);
			break;
		case 4:
			a = f->grad_pc_weighted(P, Sb, G, 3, gamma, (real)0.5);
			b = S(grad_pc_weighted)(&sp, &ss, &sg, 3, gamma,
						(real)0.5);
			break;
		default: /* version 2 */
			a = f->grad_fazil(P, Sb, G);
			b = S(grad_fazil)(&sp, &ss, &sg);
		}
		snprintf(what, sizeof what, "%s: %s", m->name, gname[k]);
		ok(same_real(a, b) && same(G, &sg, m->grad_size),
		   "%s: the same loss and gradient bits", what);
	}

	/* a short batch, through the descriptor's n */
	set_n_rng(m, m->batch > 1 ? m->batch - 1 : 1, 9);
	const pcg_optim adam = {PCG_ADAM, 1e-3, 0, 0.9, 0.999, 1e-8, 0};
	a = f->step_bp(P, O, Sb, &adam);
	b = S(step_bp)(&sp, &so, &ss, &adam);
	ok(same_real(a, b) && same_params(m) && same(O, &so, m->opt_size),
	   "%s: step_bp (Adam, n = batch - 1): the same parameter and "
	   "optimizer bits", m->name);
	a = f->step_zil(P, O, Sb, &adam);
	b = S(step_zil)(&sp, &so, &ss, &adam);
	ok(same_real(a, b) && same_params(m) && same(O, &so, m->opt_size),
	   "%s: step_zil (Adam): the same parameter and optimizer bits",
	   m->name);
	a = f->step_pc(P, O, Sb, &adam, 3, gamma);
	b = S(step_pc)(&sp, &so, &ss, &adam, 3, gamma);
	ok(same_real(a, b) && same_params(m) && same(O, &so, m->opt_size),
	   "%s: step_pc (Adam): the same parameter and optimizer bits",
	   m->name);
	a = f->step_fazil(P, O, Sb, &adam);
	b = S(step_fazil)(&sp, &so, &ss, &adam);
	ok(same_real(a, b) && same_params(m) && same(O, &so, m->opt_size),
	   "%s: step_fazil (Adam): the same parameter and optimizer bits",
	   m->name);
	a = f->step_ipc(P, O, Sb, &adam, 3, gamma);
	b = S(step_ipc)(&sp, &so, &ss, &adam, 3, gamma);
	ok(same_real(a, b) && same_params(m) && same(O, &so, m->opt_size),
	   "%s: step_ipc (Adam): the same parameter and optimizer bits",
	   m->name);
	set_n_rng(m, 0, 21);
	a = f->train_pc(P, Sb, lr, 3, gamma);
	b = S(train_pc)(&sp, &ss, lr, 3, gamma);
	ok(same_real(a, b) && same_params(m),
	   "%s: train_pc: the same loss and parameter bits", m->name);
	a = f->train_fazil(P, Sb, lr);
	b = S(train_fazil)(&sp, &ss, lr);
	ok(same_real(a, b) && same_params(m),
	   "%s: train_fazil: the same loss and parameter bits", m->name);
	a = f->train_ipc(P, Sb, lr, 3, gamma);
	b = S(train_ipc)(&sp, &ss, lr, 3, gamma);
	ok(same_real(a, b) && same_params(m),
	   "%s: train_ipc: the same loss and parameter bits", m->name);
	uint64_t rng;
	memcpy(&rng, Sb + m->state_rng, sizeof rng);
	ok(rng == ss.rng, "%s: the state's rng, read through the descriptor, "
	   "is the static copy's", m->name);

	real e1 = f->pc_init(P, Sb), e2 = S(pc_init)(&sp, &ss);
	real e3 = f->pc_step(P, Sb, gamma), e4 = S(pc_step)(&sp, &ss, gamma);
	real e5 = f->energy(P, Sb), e6 = S(energy)(&sp, &ss);
	ok(same_real(e1, e2) && same_real(e3, e4) && same_real(e5, e6),
	   "%s: pc_init, pc_step, energy: the same energies", m->name);
	{
		real la[SU(DEPTH)], lb[SU(DEPTH)];
		real ea = f->pc_energies(P, Sb, la);
		real eb = S(pc_energies)(&sp, &ss, lb);
		ok(same_real(ea, eb) && memcmp(la, lb, sizeof la) == 0,
		   "%s: pc_energies: the same energy and levels",
		   m->name);
		ea = f->pc_grad(P, Sb, G);
		eb = S(pc_grad)(&sp, &ss, &sg);
		ok(same_real(ea, eb) && same(G, &sg, m->grad_size),
		   "%s: pc_grad: the same energy and gradient bits", m->name);
	}

	f->sgd(P, G, lr);
	S(sgd)(&sp, &sg, lr);
	ok(same_params(m), "%s: sgd: the same parameter bits", m->name);

	a = f->forward(P, Sb);
	b = S(forward)(&sp, &ss);
	ok(same_real(a, b) && same_outputs(m, 0),
	   "%s: forward: the same loss, outputs read through output_info",
	   m->name);
	a = f->predict(P, Sb);
	b = S(predict)(&sp, &ss);
	ok(same_real(a, b) && same_outputs(m, 0),
	   "%s: predict: the outputs read through output_info equal s.out",
	   m->name);
	ok(!same_outputs(m, 1), "%s: negative control: outputs read one "
	   "element off differ", m->name);
	ok(f->check_data(Sb) == -1 && S(check_data)(&ss) == -1,
	   "%s: check_data", m->name);
	f->targets_near(Sb, (real)0.5);
	S(targets_near)(&ss, (real)0.5);
	ok(same(Sb + m->state_target, &ss.target, sizeof ss.target),
	   "%s: targets_near: the same targets", m->name);

	/* checkpoints across the copies */
	char p1[600], p2[600], p3[600];
	snprintf(p1, sizeof p1, "%s/shared.ckpt", dir);
	snprintf(p2, sizeof p2, "%s/static.ckpt", dir);
	snprintf(p3, sizeof p3, "%s/shared.opt", dir);
	int r1 = f->save(P, p1), r2 = S(load)(&sp2, p1);
	ok(r1 == 0 && r2 == 0 && same(&sp2, P, m->params_size),
	   "%s: save through the descriptor, load through the header: the "
	   "same bits", m->name);
	memset(&sp2, 0, sizeof sp2);
	r1 = S(save)(&sp, p2);
	r2 = f->load(P2, p2);
	ok(r1 == 0 && r2 == 0 && same(P2, &sp, m->params_size),
	   "%s: save through the header, load through the descriptor: the "
	   "same bits", m->name);
	unsigned char *buf = zalloc(m->ckpt_bytes);
	memset(P2, 0, m->params_size);
	size_t nb = f->save_mem(P, buf, m->ckpt_bytes);
	r2 = f->load_mem(P2, buf, nb);
	ok(nb == m->ckpt_bytes && r2 == 0 && same(P2, &sp, m->params_size) &&
	   S(load_mem)(&sp2, buf, nb) == 0 && same(&sp2, &sp, sizeof sp),
	   "%s: save_mem and load_mem: the same bits in both copies",
	   m->name);
	free(buf);
	r1 = f->save_opt(O, p3);
	r2 = S(load_opt)(&so2, p3);
	int r3 = f->load_opt(O2, p3);
	ok(r1 == 0 && r2 == 0 && r3 == 0 && same(&so2, &so, sizeof so) &&
	   same(O2, &so, m->opt_size),
	   "%s: save_opt and load_opt: the optimizer's bits, step included",
	   m->name);
	unlink(p1);
	unlink(p2);
	unlink(p3);
	rmdir(dir);

	/* negative control: one bit of the first input flipped in the
	 * shared copy (the middle element of sample 0: with this data, the
	 * cnn's first element did not reach its parameters), then one BP
	 * step from equal parameters */
	ok(same_params(m), "%s: equal parameters before the control", m->name);
	unsigned char *x = Sb + m->input_info[0].byte_offset +
			   m->input_info[0].count / 2 * sizeof(real);
	x[sizeof(real) == 4 ? 1 : 5] ^= 0x10; /* a middle mantissa bit */
	a = f->train_bp(P, Sb, lr);
	b = S(train_bp)(&sp, &ss, lr);
	ok(!same_params(m) || !same_real(a, b),
	   "%s: negative control: one input bit flipped is seen in the "
	   "parameters", m->name);
	free(P);
	free(G);
	free(Sb);
	free(O);
	free(P2);
	free(O2);
}

/* the model built with --methods zil */
static void
check_zil_only(const pcg_model *full, const pcg_model *z)
{
	const fns *f = FNS(z);
	ok(z->methods == PCG_METHOD_ZIL && f != NULL,
	   "%s --methods zil: methods is PCG_METHOD_ZIL", z->name);
	int nulls = !f->grad_bp && !f->train_bp && !f->step_bp &&
		    !f->grad_zil_dynamics && !f->grad_pc &&
		    !f->grad_pc_weighted && !f->train_pc && !f->step_pc &&
		    !f->energy && !f->pc_init && !f->pc_step && !f->targets_near &&
		    !f->grad_fazil && !f->train_fazil && !f->step_fazil &&
		    !f->train_ipc && !f->pc_energies && !f->pc_grad &&
		    !f->step_ipc;
	ok(nulls, "%s --methods zil: the functions of BP and PC are NULL",
	   z->name);
	int there = f->init && f->forward && f->predict && f->grad_zil &&
		    f->train_zil && f->step_zil && f->sgd && f->save &&
		    f->load && f->save_mem && f->load_mem && f->save_opt &&
		    f->load_opt && f->check_data;
	ok(there, "%s --methods zil: Z-IL's and the common functions are "
	   "there", z->name);
	ok(z->params_size == full->params_size &&
	   z->opt_size == full->opt_size &&
	   z->state_size < full->state_size &&
	   z->state_in == full->state_in && z->state_out == full->state_out,
	   "%s --methods zil: the same params and optimizer, a smaller state",
	   z->name);
	/* Z-IL training gives the static (all methods) copy's bits */
	unsigned char *p = zalloc(z->params_size), *s = zalloc(z->state_size);
	f->init(p, 3);
	S(init)(&sp, 3);
	memset(&ss, 0, sizeof ss);
	Sb = s;
	fill(z);
	real a = 0, b = 0;
	for (int i = 0; i < 3; i++) {
		a = f->train_zil(p, s, (real)0.05);
		b = S(train_zil)(&sp, &ss, (real)0.05);
	}
	ok(same(p, &sp, z->params_size) && same_real(a, b),
	   "%s --methods zil: train_zil gives the all-methods build's bits",
	   z->name);
	free(p);
	free(s);
}

int
main(int argc, char **argv)
{
	printf("TAP version 13\n");
	if (argc != 3 && argc != 5) {
		printf("Bail out! usage: check_pmodel LIB SYMBOL [ZIL_LIB "
		       "ZIL_SYMBOL]\n");
		return 1;
	}
	const pcg_model *m = load_model(argv[1], argv[2]);
	ok(m != NULL, "%s: dlopen and dlsym of P_model", argv[1]);
	if (!m) {
		printf("1..%d\n", test_no);
		return 1;
	}
	check_descriptor(m);
	check_calls(m);
	if (argc == 5) {
		const pcg_model *z = load_model(argv[3], argv[4]);
		ok(z != NULL, "%s: dlopen and dlsym of P_model", argv[3]);
		if (z)
			check_zil_only(m, z);
	}
	printf("1..%d\n", test_no);
	return failures != 0;
}
