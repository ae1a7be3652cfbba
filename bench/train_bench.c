/*
 * train_bench.c — one training step of each example, timed: P_train_bp,
 * P_train_zil, P_grad_zil_dynamics, P_train_pc (T = 20 steps),
 * P_train_fazil and P_train_ipc (T = 20 steps), against
 * the same model's training step in PyTorch (bench/torch_step.py, one
 * thread, float32, the same shapes), all in one run, as a table.
 *
 *   train_bench [--quick] [--no-torch] [--python PYTHON] [MODEL...]
 *
 * Every figure is the median over 41 samples, each sample the mean of
 * enough back-to-back calls to last about 2 ms of CPU time, after one
 * untimed call (the steady state of a training loop, whose buffers are in
 * cache).  The samples of the six pcc functions and PyTorch's are
 * interleaved (BP, Z-IL, dynamics, PC, Fa-Z-IL, iPC, torch, BP, ...: a
 * PyTorch process started for the model answers for a sample at a time,
 * bench_torch.h) so that a change of machine load shows in all of them
 * alike, and each ratio to BP, PyTorch's included, is the median over the
 * rounds of the ratio within a round.
 * It first prints which BLAS PyTorch runs (bench/torch_blas.py); the
 * PyTorch columns are left blank, with a message, where torch cannot be
 * imported or runs the reference BLAS.  A benchmark: it prints figures
 * and checks nothing.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "bench_time.h"
#include "bench_torch.h"
#include "cnn_b16.h"
#include "digits_b1.h"
#include "lstm_b16.h"
#include "mlp_b1.h"
#include "mlp_b32.h"
#include "multitask_b16.h"
#include "resnet_b16.h"
#include "rnn_b16.h"
#include "seq2seq_b16.h"
#include "transformer_b16.h"

#ifndef BENCH_DIR
#define BENCH_DIR "bench"
#endif

#define SAMPLES_MAX 41
#define PC_STEPS 20
#define LR 1e-4f

/* The functions timed, in the order of the table. */
enum { F_BP, F_ZIL, F_DYN, F_PC, F_FAZIL, F_IPC, NFUN };

static int samples = SAMPLES_MAX;
static double sample_seconds = 2e-3;


/* What the bench needs to know of one generated model. */
typedef struct Model {
	bench_shapes shapes; /* name, batch and tables, for torch_step.py */
	void (*setup)(void);
	void (*run)(int f, int n); /* n calls of function f */
	void (*reset)(void);       /* parameters back to their start */
} Model;

/*
 * One model's globals and entry points.  The parameters are reset to
 * their initial values before every sample, so that the many steps a run
 * takes never drift them far.
 */
#define BENCH_MODEL(P, PU, NAME)                                              \
	static P##_params P##_p, P##_p0, P##_g;                               \
	static P##_state P##_s;                                               \
	static void P##_bench_setup(void)                                     \
	{                                                                     \
		P##_init(&P##_p0, 1);                                         \
		P##_p = P##_p0;                                               \
		float *in = (float *)&P##_s.in, *tg = (float *)&P##_s.target; \
		size_t nin = sizeof P##_s.in / sizeof(float);                 \
		size_t ntg = sizeof P##_s.target / sizeof(float);             \
		for (size_t i = 0; i < nin; i++)                              \
			in[i] = frand();                                      \
		/* one-hot targets, a row of each target per sample */       \
		memset(tg, 0, ntg * sizeof(float));                           \
		for (size_t i = 0; i < ntg; i += ntg / PU##_BATCH)            \
			tg[i + (size_t)(bench_rng % (ntg / PU##_BATCH))] = 1; \
	}                                                                     \
	static void P##_bench_run(int f, int n)                               \
	{                                                                     \
		for (int i = 0; i < n; i++)                                   \
			switch (f) {                                          \
			case F_BP:                                            \
				P##_train_bp(&P##_p, &P##_s, LR);             \
				break;                                        \
			case F_ZIL:                                           \
				P##_train_zil(&P##_p, &P##_s, LR);            \
				break;                                        \
			case F_DYN:                                           \
				P##_grad_zil_dynamics(&P##_p, &P##_s,         \
						      &P##_g);                \
				break;                                        \
			case F_PC:                                            \
				P##_train_pc(&P##_p, &P##_s, LR, PC_STEPS,    \
					     0.1f);                           \
				break;                                        \
			case F_FAZIL:                                         \
				P##_train_fazil(&P##_p, &P##_s, LR);          \
				break;                                        \
			default:                                              \
				P##_train_ipc(&P##_p, &P##_s, LR, PC_STEPS,   \
					      0.1f);                          \
			}                                                     \
	}                                                                     \
	static void P##_bench_reset(void)                                     \
	{                                                                     \
		P##_p = P##_p0;                                               \
	}                                                                     \
	static const Model P##_bench = {                                      \
		{NAME, PU##_BATCH, P##_param_info, P##_input_info,            \
		 P##_target_info, PU##_NUM_PARAMS, PU##_NUM_INPUTS,           \
		 PU##_NUM_TARGETS},                                           \
		P##_bench_setup, P##_bench_run, P##_bench_reset};

BENCH_MODEL(digits_b1, DIGITS_B1, "digits")
BENCH_MODEL(mlp_b1, MLP_B1, "mlp")
BENCH_MODEL(mlp_b32, MLP_B32, "mlp")
BENCH_MODEL(cnn_b16, CNN_B16, "cnn")
BENCH_MODEL(rnn_b16, RNN_B16, "rnn")
BENCH_MODEL(lstm_b16, LSTM_B16, "lstm")
BENCH_MODEL(transformer_b16, TRANSFORMER_B16, "transformer")
BENCH_MODEL(multitask_b16, MULTITASK_B16, "multitask")
BENCH_MODEL(resnet_b16, RESNET_B16, "resnet")
BENCH_MODEL(seq2seq_b16, SEQ2SEQ_B16, "seq2seq")

static const Model *const models[] = {
	&digits_b1_bench, &mlp_b1_bench,  &mlp_b32_bench,
	&cnn_b16_bench,	  &rnn_b16_bench, &lstm_b16_bench,
	&transformer_b16_bench, &multitask_b16_bench, &resnet_b16_bench,
	&seq2seq_b16_bench,
};

/* Calls of function f that take about sample_seconds together. */
static int
calibrate(const Model *m, int f)
{
	int n = 1;
	for (;;) {
		m->reset();
		double t0 = bench_now();
		m->run(f, n);
		double t = bench_now() - t0;
		if (t >= sample_seconds || n >= 1 << 20)
			return n;
		n = t <= 0 ? n * 16 : (int)(n * 1.5 * sample_seconds / t) + 1;
	}
}

/*
 * Median seconds per call of each function, samples interleaved, and the
 * median over the rounds of each function's time over BP's in the same
 * round (a paired ratio: both samples ran within milliseconds of each
 * other, so a change of load between rounds cancels out).  With tp, a
 * sample of PyTorch's step ends every round: *tmed is its median, *tratio
 * the median over the rounds of its sample over BP's (0 when it gave
 * none).
 */
static void
time_model(const Model *m, double med[NFUN], double ratio[NFUN],
	   bench_torch *tp, double *tmed, double *tratio)
{
	int reps[NFUN];
	double t[NFUN][SAMPLES_MAX], tt[SAMPLES_MAX];
	for (int f = 0; f < NFUN; f++)
		reps[f] = calibrate(m, f);
	for (int r = 0; r < samples; r++) {
		for (int f = 0; f < NFUN; f++) {
			m->reset();
			m->run(f, 1); /* the buffers f uses back in cache */
			double t0 = bench_now();
			m->run(f, reps[f]);
			t[f][r] = (bench_now() - t0) / reps[f];
		}
		tt[r] = tp ? bench_torch_sample(tp) : 0;
	}
	*tmed = *tratio = 0;
	if (tp && tp->pid) { /* every round has its sample */
		*tratio = bench_paired_median(tt, t[F_BP], samples);
		*tmed = bench_median(tt, samples);
	}
	for (int f = 0; f < NFUN; f++)
		ratio[f] = bench_paired_median(t[f], t[F_BP], samples);
	for (int f = 0; f < NFUN; f++)
		med[f] = bench_median(t[f], samples);
}

static void
fmt_us(char *buf, size_t n, double s)
{
	if (s <= 0)
		snprintf(buf, n, "%s", "-");
	else if (s < 1e-3)
		snprintf(buf, n, "%.2f", s * 1e6);
	else
		snprintf(buf, n, "%.1f", s * 1e6);
}

int
main(int argc, char **argv)
{
	const char *python = getenv("PCC_BENCH_PYTHON");
	int torch = 1, nonly = 0;
	char **only = NULL;
	if (!python)
		python = "/usr/bin/python3";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			samples = 7;
			sample_seconds = 2e-4;
		} else if (!strcmp(argv[i], "--no-torch")) {
			torch = 0;
		} else if (!strcmp(argv[i], "--python") && i + 1 < argc) {
			python = argv[++i];
		} else if (argv[i][0] != '-') {
			only = argv + i;
			nonly = argc - i;
			break;
		} else {
			fprintf(stderr, "usage: train_bench [--quick] "
					"[--no-torch] [--python PYTHON] "
					"[MODEL...]\n");
			return 2;
		}
	}
	/* a sample asked of a PyTorch process that has died fails instead of
	 * killing the benchmark (bench_torch.h) */
	signal(SIGPIPE, SIG_IGN);
	if (torch)
		torch = bench_torch_blas_ok(python);
	printf("One training step, float, one thread: median of %d samples "
	       "(microseconds per step)\n", samples);
	printf("PC and iPC: T = %d inference steps, gamma 0.1.  torch: %s, "
	       "torch.optim.SGD, float32, 1 thread\n", PC_STEPS,
	       torch ? python : "skipped");
	printf("X/BP: median over the rounds of X's sample over BP's "
	       "sample of the same round (torch's sample ends each round)"
	       "\n\n");
	printf("%-12s %5s %10s %10s %8s %10s %8s %10s %8s %10s %8s %10s "
	       "%8s %10s %9s\n",
	       "model", "batch", "BP", "Z-IL", "ZIL/BP", "Z-IL dyn",
	       "dyn/BP", "PC T=20", "PC/BP", "Fa-Z-IL", "FaZ/BP", "iPC T=20",
	       "iPC/BP", "torch", "torch/BP");
	int have_torch = 0;
	for (size_t k = 0; k < sizeof models / sizeof models[0]; k++) {
		const Model *m = models[k];
		double med[NFUN], ratio[NFUN];
		int take = nonly == 0;
		for (int i = 0; i < nonly; i++)
			take |= !strcmp(only[i], m->shapes.name);
		if (!take)
			continue;
		m->setup();
		bench_torch tp;
		int topen = torch && bench_torch_open(&tp, &m->shapes, python,
						       sample_seconds, 1);
		double tt, tq;
		time_model(m, med, ratio, topen ? &tp : NULL, &tt, &tq);
		if (topen)
			bench_torch_close(&tp);
		have_torch |= tt > 0;
		char b[NFUN][32], tb[32], tr[32];
		for (int f = 0; f < NFUN; f++)
			fmt_us(b[f], sizeof b[f], med[f]);
		fmt_us(tb, sizeof tb, tt);
		if (tt > 0)
			snprintf(tr, sizeof tr, "%.2fx", tq);
		else
			snprintf(tr, sizeof tr, "-");
		printf("%-12s %5d %10s %10s %8.3f %10s %8.2f %10s %8.2f "
		       "%10s %8.2f %10s %8.2f %10s %9s\n", m->shapes.name,
		       m->shapes.batch, b[F_BP], b[F_ZIL], ratio[F_ZIL], b[F_DYN], ratio[F_DYN],
		       b[F_PC], ratio[F_PC], b[F_FAZIL], ratio[F_FAZIL],
		       b[F_IPC], ratio[F_IPC], tb, tr);
		fflush(stdout);
	}
	if (torch && !have_torch)
		printf("\n(PyTorch columns blank: torch_step.py gave no time)\n");
	return 0;
}
