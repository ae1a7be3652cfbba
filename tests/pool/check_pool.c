/*
 * check_pool.c — a generated model gives the same bits whatever pool of
 * threads its state holds (s->pool: none, 1, 2, 3 or 8 threads).
 *
 *   check_pool LIB SYMBOL
 *
 * LIB is a shared library of the model and SYMBOL its P_model; the model
 * is driven through its descriptor alone.  One run: init, two BP and two
 * Z-IL training steps, the BP, Z-IL and PC gradients, an Adam step of
 * BP, a PC training step, the energy and a prediction, every loss,
 * gradient, parameter and output kept.  The run without a pool is the
 * reference; each pool's run must equal it to the bit, and the pools of
 * two threads or more must have run some of the work on their workers
 * (else the comparison would prove nothing).  Negative control: a run
 * from parameters one ulp apart in one element is seen to differ.
 * Prints TAP.
 */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcg_runtime.h"
#include "../tap_ok.h"
#include "../model_record.h"


/* A real argument of either type, and a loss or energy, kept as bytes. */
#define CALL_KEEP(r, expr_f, expr_d)                                          \
	do {                                                                  \
		if (m->f) {                                                   \
			float v_ = (expr_f);                                  \
			keep(r, &v_, sizeof v_);                              \
		} else {                                                      \
			double v_ = (expr_d);                                 \
			keep(r, &v_, sizeof v_);                              \
		}                                                             \
	} while (0)

static void
run(Record *r, pcg_pool *pool, int perturb)
{
	void *p = zalloc(m->params_size), *s = zalloc(m->state_size);
	void *g = zalloc(m->grad_size), *o = zalloc(m->opt_size);
	uint64_t x = 12345;
	if (m->f)
		m->f->init(p, 7);
	else
		m->d->init(p, 7);
	if (perturb) { /* one ulp in the first parameter's first element */
		unsigned char *b = (unsigned char *)p +
				   m->param_info[0].byte_offset;
		b[0] ^= 1;
	}
	fill(s, m->input_info, m->num_inputs, &x, 0);
	fill(s, m->target_info, m->num_targets, &x, 1);
	*(int *)((char *)s + m->state_n) = m->batch;
	memcpy((char *)s + m->state_pool, &pool, sizeof pool);
	pcg_optim adam = {PCG_ADAM, 1e-3, 0, 0.9, 0.999, 1e-8, 0};
	for (int i = 0; i < 2; i++)
		CALL_KEEP(r, m->f->train_bp(p, s, 0.05f),
			  m->d->train_bp(p, s, 0.05));
	for (int i = 0; i < 2; i++)
		CALL_KEEP(r, m->f->train_zil(p, s, 0.05f),
			  m->d->train_zil(p, s, 0.05));
	CALL_KEEP(r, m->f->grad_bp(p, s, g), m->d->grad_bp(p, s, g));
	keep(r, g, m->grad_size);
	CALL_KEEP(r, m->f->grad_zil(p, s, g), m->d->grad_zil(p, s, g));
	keep(r, g, m->grad_size);
	CALL_KEEP(r, m->f->grad_pc(p, s, g, 5, 0.1f),
		  m->d->grad_pc(p, s, g, 5, 0.1));
	keep(r, g, m->grad_size);
	CALL_KEEP(r, m->f->step_bp(p, o, s, &adam),
		  m->d->step_bp(p, o, s, &adam));
	CALL_KEEP(r, m->f->train_pc(p, s, 0.05f, 5, 0.1f),
		  m->d->train_pc(p, s, 0.05, 5, 0.1));
	CALL_KEEP(r, m->f->energy(p, s), m->d->energy(p, s));
	CALL_KEEP(r, m->f->predict(p, s), m->d->predict(p, s));
	keep(r, p, m->params_size);
	keep(r, o, m->opt_size);
	keep(r, (char *)s + m->state_out, m->state_out_size);
	free(p);
	free(s);
	free(g);
	free(o);
}

int
main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: check_pool LIB SYMBOL\n");
		return 2;
	}
	void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	void *sym = lib ? dlsym(lib, argv[2]) : NULL;
	if (!sym) {
		printf("Bail out! %s\n", dlerror());
		return 1;
	}
	const pcg_model *(*get)(void);
	memcpy(&get, &sym, sizeof get);
	m = get();
	ok(m->version >= 2 && m->methods == 7,
	   "the descriptor has state_pool (version 2) and every method", NULL);
	if (m->version < 2 || m->methods != 7)
		return 1;

	Record ref = {0};
	run(&ref, NULL, 0);
	char what[160];
	static const int threads[] = {1, 2, 3, 8};
	for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
		pcg_pool *pool = pcg_pool_create(threads[t]);
		snprintf(what, sizeof what, "%s: a pool of %d thread%s created",
			 m->name, threads[t], threads[t] > 1 ? "s" : "");
		ok(pool && pcg_pool_threads(pool) == threads[t], what, NULL);
		if (!pool)
			continue;
		/* every product split, however small: the bits of every
		 * block shape are checked */
		pcg_pool_set_min_macs(pool, 0);
		Record r = {0};
		run(&r, pool, 0);
		snprintf(what, sizeof what, "%s: %d thread%s give the bits of "
			 "none (%zu bytes)", m->name, threads[t],
			 threads[t] > 1 ? "s" : "", ref.len);
		ok(r.len == ref.len && !memcmp(r.bytes, ref.bytes, ref.len),
		   what, NULL);
		/* on a loaded machine the caller may have taken every task
		 * (tests/pool/pools.h): once more, leaving the workers theirs */
		if (threads[t] > 1 && pcg_pool_worker_tasks(pool) == 0) {
			pcg_pool_set_steal_us(pool, -1);
			free(r.bytes);
			r = (Record){0};
			run(&r, pool, 0);
			snprintf(what, sizeof what, "%s: %d threads, the workers "
				 "left their tasks: the bits of none",
				 m->name, threads[t]);
			ok(r.len == ref.len &&
				   !memcmp(r.bytes, ref.bytes, ref.len),
			   what, NULL);
		}
		if (threads[t] > 1) {
			size_t w = pcg_pool_worker_tasks(pool);
			snprintf(what, sizeof what, "%s: %d threads: the workers "
				 "ran %zu tasks", m->name, threads[t], w);
			ok(w > 0, what, "no work was spread: the comparison "
					"above proves nothing");
			/* the balancing of the dealt work (pcg_pool.c's deal) */
			printf("# %s: %d threads: %zu items taken from another "
			       "thread's block\n", m->name, threads[t],
			       pcg_pool_stolen_items(pool));
		}
		if (threads[t] == 2) { /* negative control */
			Record c = {0};
			run(&c, pool, 1);
			snprintf(what, sizeof what, "%s: control: parameters one "
				 "ulp apart are seen to differ", m->name);
			ok(c.len == ref.len && memcmp(c.bytes, ref.bytes,
						      ref.len) != 0,
			   what, NULL);
			free(c.bytes);
		}
		free(r.bytes);
		pcg_pool_destroy(pool);
	}
	free(ref.bytes);
	ok(pcg_pool_create(0) == NULL &&
		   pcg_pool_create(PCG_POOL_MAX_THREADS + 1) == NULL,
	   "pcg_pool_create refuses 0 and too many threads", NULL);
	dlclose(lib);
	printf("1..%d\n", count);
	return failed != 0;
}
