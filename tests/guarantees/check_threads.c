/*
 * check_threads.c — two threads training two states of the same model
 * give the same results as training them one after the other.
 *
 * For each model (digits: GEMM; cnn: convolution; rnn: recurrence), two
 * parameter sets with their own states and data are trained for STEPS
 * steps by BP, Z-IL and PC (in turn), first one after the other, then in
 * two threads at once.  The parameters and losses must match bit for bit.
 * Controls: the two runs differ from each other (so the comparison is not
 * of one thing with itself), and a run with one changed input differs
 * from the sequential result.  Prints TAP.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th_cnn.h"
#include "th_digits.h"
#include "th_rnn.h"

enum { STEPS = 30 };

static int count, failed;

static void
ok(int cond, const char *what)
{
	count++;
	failed += !cond;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", count, what);
	fflush(stdout);
}

static void
fill(float *x, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		x[i] = (float)((seed >> 8) % 1000) / 1000.0f;
	}
}

/* One model's job: its own params and state; train() runs the steps. */
#define MODEL(P)                                                          \
	typedef struct P##_job {                                          \
		P##_params p;                                             \
		P##_state s;                                              \
		float loss[STEPS];                                        \
		unsigned seed;                                            \
	} P##_job;                                                        \
                                                                          \
	static void P##_setup(P##_job *j, unsigned seed)                  \
	{                                                                 \
		memset(j, 0, sizeof *j);                                  \
		P##_init(&j->p, seed);                                    \
		fill((float *)&j->s.in, sizeof j->s.in / sizeof(float),   \
		     seed * 7u + 1u);                                     \
		fill((float *)&j->s.target,                               \
		     sizeof j->s.target / sizeof(float), seed * 13u + 5u); \
	}                                                                 \
                                                                          \
	static void *P##_train(void *arg)                                 \
	{                                                                 \
		P##_job *j = arg;                                         \
		for (int t = 0; t < STEPS; t++)                           \
			j->loss[t] = t % 3 == 0                           \
				? P##_train_bp(&j->p, &j->s, 0.05f)       \
			     : t % 3 == 1                                 \
				? P##_train_zil(&j->p, &j->s, 0.05f)      \
				: P##_train_pc(&j->p, &j->s, 0.05f, 5,    \
					       0.1f);                     \
		return NULL;                                              \
	}                                                                 \
                                                                          \
	static int P##_same(const P##_job *a, const P##_job *b)           \
	{                                                                 \
		return memcmp(&a->p, &b->p, sizeof a->p) == 0 &&          \
		       memcmp(a->loss, b->loss, sizeof a->loss) == 0;     \
	}                                                                 \
                                                                          \
	static void P##_check(const char *name)                           \
	{                                                                 \
		P##_job *seq = calloc(4, sizeof *seq), *par = seq + 2;    \
		P##_job *ctl = calloc(1, sizeof *ctl);                    \
		pthread_t th[2];                                          \
		char what[160];                                           \
		if (!seq || !ctl) {                                       \
			ok(0, "out of memory");                           \
			return;                                           \
		}                                                         \
		for (int k = 0; k < 2; k++) {                             \
			P##_setup(&seq[k], 11u + (unsigned)k);            \
			P##_train(&seq[k]);                               \
		}                                                         \
		for (int k = 0; k < 2; k++)                               \
			P##_setup(&par[k], 11u + (unsigned)k);            \
		int started = 0;                                          \
		for (int k = 0; k < 2; k++)                               \
			started += pthread_create(&th[k], NULL, P##_train, \
						  &par[k]) == 0;          \
		for (int k = 0; k < started; k++)                         \
			pthread_join(th[k], NULL);                        \
		snprintf(what, sizeof what, "%s: both threads started",   \
			 name);                                           \
		ok(started == 2, what);                                   \
		for (int k = 0; k < 2; k++) {                             \
			snprintf(what, sizeof what,                       \
				 "%s: state %d trained in a thread equals " \
				 "the sequential run (params and losses)", \
				 name, k);                                \
			ok(P##_same(&seq[k], &par[k]), what);             \
		}                                                         \
		snprintf(what, sizeof what,                               \
			 "%s: control: the two states differ", name);     \
		ok(!P##_same(&seq[0], &seq[1]), what);                    \
		P##_setup(ctl, 11u);                                      \
		((float *)&ctl->s.in)[0] += 0.5f;                         \
		P##_train(ctl);                                           \
		snprintf(what, sizeof what,                               \
			 "%s: control: one changed input changes the "    \
			 "result", name);                                 \
		ok(!P##_same(&seq[0], ctl), what);                        \
		free(seq);                                                \
		free(ctl);                                                \
	}

MODEL(th_digits)
MODEL(th_cnn)
MODEL(th_rnn)

int
main(void)
{
	th_digits_check("digits");
	th_cnn_check("cnn");
	th_rnn_check("rnn");
	printf("1..%d\n", count);
	return failed != 0;
}
