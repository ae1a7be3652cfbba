/*
 * step_timer.c — the training step of any generated model, timed through
 * its P_model descriptor alone (docs/api.md, "The model descriptor"):
 *
 *   step_timer LIB.so SYMBOL [SAMPLES] [SAMPLE_SECONDS]
 *
 * loads the shared library of a float model, fills a full batch with
 * random inputs and one-hot targets (or random reals for targets of
 * another size), and prints one line: the median seconds per call of
 * train_bp and of train_zil (0 where the model lacks one), each sample
 * the mean of enough calls to last SAMPLE_SECONDS of the process's CPU
 * time after one untimed call, the samples of the two interleaved.
 * bench/scaling.py builds the libraries and runs it.
 *
 *   step_timer LIB.so SYMBOL --calls bp|zil N
 *
 * makes N calls of train_bp or train_zil on the same data, untimed, and
 * prints nothing: bench/instructions.sh counts the instructions of a step
 * as the difference of two such runs under valgrind's callgrind.
 *
 *   step_timer LIB.so SYMBOL --per-call bp|zil N THREADS
 *
 * for a library whose generated code bench/call_times.py instrumented
 * (it times each runtime call of a step): N steps with no pool, then N
 * on a pool of THREADS, after three untimed steps each, and one line a
 * call: its index, microseconds a step (wall time) alone and on the
 * pool.  A benchmark: it prints figures and checks nothing.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_time.h"
#include "pcg_runtime.h"

#define SAMPLES_MAX 101

/* Fills member k of a table of count reals (or ids below bound) per
 * sample: uniform in [-1, 1), or one-hot when one_hot. */
static void
fill(char *s, const pcg_param_info *info, int batch, int one_hot)
{
	for (int b = 0; b < batch; b++) {
		size_t hot = (size_t)rand() % info->count;
		for (size_t i = 0; i < info->count; i++) {
			size_t at = (size_t)b * info->count + i;
			if (info->bound > 0)
				((int32_t *)(s + info->byte_offset))[at] =
					rand() % info->bound;
			else
				((float *)(s + info->byte_offset))[at] =
					one_hot ? (float)(i == hot)
						: 2.0f * (float)rand() /
							  (float)RAND_MAX -
						  1.0f;
		}
	}
}

/*
 * --per-call: the instrumented library's per-call sums (call_times_us,
 * call_times_n: bench/call_times.py), N steps alone and N on a pool of
 * threads; frees p and s and closes lib.
 */
static int
time_calls(void *lib, const pcg_model *m, void *p, void *s,
	   float (*step)(void *, void *, float), float lr, long n, int threads)
{
	void *us_sym = dlsym(lib, "call_times_us");
	void *n_sym = dlsym(lib, "call_times_n");
	/* the pool from the library's runtime, the one its code runs */
	void *create_sym = dlsym(lib, "pcg_pool_create");
	void *destroy_sym = dlsym(lib, "pcg_pool_destroy");
	pcg_pool *(*create)(int) = NULL;
	void (*destroy)(pcg_pool *) = NULL;
	int rc = 0;
	if (!us_sym || !n_sym || !create_sym || !destroy_sym ||
	    m->version < 2) {
		fprintf(stderr, "step_timer: %s is not instrumented by "
				"bench/call_times.py\n", m->name);
		rc = 1;
	} else {
		memcpy(&create, &create_sym, sizeof create);
		memcpy(&destroy, &destroy_sym, sizeof destroy);
	}
	pcg_pool *pool = rc ? NULL : create(threads);
	if (!rc && !pool) {
		fprintf(stderr, "step_timer: no pool of %d threads\n", threads);
		rc = 1;
	}
	if (!rc) {
		double *us = us_sym;
		int calls = *(const int *)n_sym;
		double *alone = calloc((size_t)calls + 1, sizeof *alone);
		if (!alone) {
			fprintf(stderr, "step_timer: out of memory\n");
			rc = 1;
		}
		for (int run = 0; !rc && run < 2; run++) {
			pcg_pool *use = run ? pool : NULL;
			memcpy((char *)s + m->state_pool, &use, sizeof use);
			for (int i = 0; i < 3; i++)
				step(p, s, lr);
			memset(us, 0, sizeof *us * (size_t)calls);
			for (long i = 0; i < n; i++)
				step(p, s, lr);
			for (int c = 0; c < calls; c++)
				if (run)
					printf("%d %.4f %.4f\n", c, alone[c],
					       us[c] / (double)n);
				else
					alone[c] = us[c] / (double)n;
		}
		pcg_pool *none = NULL;
		memcpy((char *)s + m->state_pool, &none, sizeof none);
		free(alone);
	}
	if (pool)
		destroy(pool);
	free(p);
	free(s);
	dlclose(lib);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: step_timer LIB.so SYMBOL [SAMPLES] "
				"[SAMPLE_SECONDS]\n"
				"       step_timer LIB.so SYMBOL --calls bp|zil N\n"
				"       step_timer LIB.so SYMBOL --per-call bp|zil "
				"N THREADS\n");
		return 2;
	}
	/* --calls: which function (0 BP, 1 Z-IL) and how many calls */
	int calls_of = -1;
	long calls = 0;
	if (argc > 3 && strcmp(argv[3], "--calls") == 0) {
		if (argc > 4 && strcmp(argv[4], "bp") == 0)
			calls_of = 0;
		else if (argc > 4 && strcmp(argv[4], "zil") == 0)
			calls_of = 1;
		calls = argc > 5 ? atol(argv[5]) : 0;
		if (calls_of < 0 || calls < 1) {
			fprintf(stderr, "step_timer: --calls takes bp or zil "
					"and a positive count\n");
			return 2;
		}
	}
	/* --per-call: which function and how many steps, on how many
	 * threads */
	int per_call = 0, threads = 0;
	if (argc > 3 && strcmp(argv[3], "--per-call") == 0) {
		per_call = 1;
		calls_of = argc > 4 && strcmp(argv[4], "bp") == 0    ? 0
			   : argc > 4 && strcmp(argv[4], "zil") == 0 ? 1
								     : -1;
		calls = argc > 5 ? atol(argv[5]) : 0;
		threads = argc > 6 ? atoi(argv[6]) : 0;
		if (calls_of < 0 || calls < 1 || threads < 2 ||
		    threads > PCG_POOL_MAX_THREADS) {
			fprintf(stderr, "step_timer: --per-call takes bp or "
					"zil, a positive count and 2..%d "
					"threads\n", PCG_POOL_MAX_THREADS);
			return 2;
		}
	}
	int samples = argc > 3 && calls_of < 0 ? atoi(argv[3]) : 21;
	double sample_seconds = argc > 4 && calls_of < 0 ? atof(argv[4]) : 2e-3;
	if (samples < 1 || samples > SAMPLES_MAX || sample_seconds <= 0) {
		fprintf(stderr, "step_timer: SAMPLES is 1..%d, SAMPLE_SECONDS "
				"positive\n", SAMPLES_MAX);
		return 2;
	}
	void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "step_timer: %s\n", dlerror());
		return 1;
	}
	const pcg_model *(*get)(void);
	void *sym = dlsym(lib, argv[2]);
	if (!sym) {
		fprintf(stderr, "step_timer: %s\n", dlerror());
		return 1;
	}
	memcpy(&get, &sym, sizeof get);
	const pcg_model *m = get();
	if (m->version < 1 || m->real_size != sizeof(float) || !m->f) {
		fprintf(stderr, "step_timer: %s is not a float model\n",
			m->name);
		return 1;
	}
	void *p = aligned_alloc(m->align, (m->params_size + m->align - 1) /
						  m->align * m->align);
	void *s = aligned_alloc(m->align, (m->state_size + m->align - 1) /
						  m->align * m->align);
	if (!p || !s) {
		fprintf(stderr, "step_timer: out of memory\n");
		return 1;
	}
	memset(s, 0, m->state_size);
	m->f->init(p, 1);
	srand(1);
	for (int k = 0; k < m->num_inputs; k++)
		fill(s, &m->input_info[k], m->batch, 0);
	for (int k = 0; k < m->num_targets; k++)
		fill(s, &m->target_info[k], m->batch, 1);
	*(int *)((char *)s + m->state_n) = m->batch;

	float (*fn[2])(void *, void *, float) = {m->f->train_bp,
						  m->f->train_zil};
	double t[2][SAMPLES_MAX];
	long reps[2] = {1, 1};
	const float lr = 1e-4f; /* small: the parameters hardly move */
	if (calls_of >= 0) {
		if (!fn[calls_of]) {
			fprintf(stderr, "step_timer: %s has no train_%s\n",
				m->name, argv[4]);
			return 1;
		}
		if (per_call)
			return time_calls(lib, m, p, s, fn[calls_of], lr, calls,
					  threads);
		for (long i = 0; i < calls; i++)
			fn[calls_of](p, s, lr);
		free(p);
		free(s);
		dlclose(lib);
		return 0;
	}
	for (int f = 0; f < 2; f++) {
		if (!fn[f])
			continue;
		fn[f](p, s, lr);
		double t0 = bench_now();
		while (bench_now() - t0 < sample_seconds) {
			fn[f](p, s, lr);
			reps[f]++;
		}
	}
	for (int r = 0; r < samples; r++)
		for (int f = 0; f < 2; f++) {
			if (!fn[f]) {
				t[f][r] = 0;
				continue;
			}
			double t0 = bench_now();
			for (long i = 0; i < reps[f]; i++)
				fn[f](p, s, lr);
			t[f][r] = (bench_now() - t0) / (double)reps[f];
		}
	printf("%.9g %.9g\n", bench_median(t[0], samples), bench_median(t[1], samples));
	free(p);
	free(s);
	dlclose(lib);
	return 0;
}
