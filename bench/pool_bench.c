/*
 * pool_bench.c — the speed-up of a thread pool on a training step:
 * P_train_bp of examples/mlp.pcg at batch 32, cnn and resnet at batch 16
 * (float), with no pool against pools of 2 (and more) threads.
 *
 *   pool_bench [--no-torch] [--python PYTHON] [--min-macs N] [THREADS...]
 *                                                (default: 2)
 *   pool_bench --steps MODEL N [THREADS]         (for a profiler)
 *
 * --steps runs N steps of one model ("mlp", "cnn" or "resnet") on a pool
 * of THREADS (default 1: no pool) and prints nothing: under
 * `perf record` it shows where a step's time goes.
 * --min-macs sets the pools' split threshold (pcg_pool_set_min_macs;
 * default PCG_POOL_MIN_MACS).
 *
 * Wall time (CLOCK_MONOTONIC: with threads, CPU time would add theirs).
 * Every figure is the median over 21 rounds; a round times each
 * configuration in turn, each the mean of enough back-to-back steps to
 * last about 20 ms, after one untimed step, and the speed-up is the
 * median of the rounds' ratios, so that a change of machine load shows
 * in both sides alike.  The parameters are reset to their start before
 * every sample.  Before and after, it measures how much of a second core
 * the machine gives (the "parallel factor": the time of one copy of a
 * fixed piece of work times the number of copies over the time of that
 * many copies at once, on threads; 2.00 for two copies on an idle 2-core
 * machine): on a shared machine no speed-up can exceed it.  Two pieces of
 * work: a chain of scalar additions, which a core shared with another
 * guest's thread (a virtual machine's cores may be hyperthreads of the
 * host) still runs at full speed, and the runtime's own product on
 * operands in a core's L2, which keeps the vector units busy as a
 * training step does, and which such sharing slows down.  The product's
 * factor is also measured around every round ("machine x2": the median
 * over the rounds of the lower of the two), and the speed-up over the
 * rounds where it was at least 0.9 per thread is printed with their count
 * ("free").  Around every round too, the time a cache line takes from
 * one core to the other and back ("c2c ns", median over the rounds of
 * the higher of the two; round_trip_ns), and the speed-up over the
 * rounds where it was under NEAR_NS ("near").  Last, the share of the
 * CPU time that the hypervisor gave to other guests during the run
 * (steal, /proc/stat).  A benchmark: it
 * prints figures and checks nothing (tests/pool checks the bits).
 *
 * Then PyTorch's step of the same model on as many threads as the last
 * configuration (bench/torch_step.py --threads, wall time, a sample of
 * 20 ms at the end of every round, bench_torch.h; median of the 21), and
 * the median over the rounds of its sample over pcc's on that many
 * threads in the same round; the column is blank where torch is missing
 * or runs the reference BLAS.  After PyTorch's sample the round waits
 * until PyTorch's idle threads stop spinning (OpenBLAS's for up to 2^28
 * cycles, about 0.1 s; bench_torch_settle), so that the next round's
 * timings do not meet them.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_time.h"
#include "bench_torch.h"
#include "cnn_b16.h"
#include "mlp_b32.h"
#include "resnet_b16.h"

#define ROUNDS 21
#define MAX_CONF 8
#define LR 1e-4f

static double
wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}


/* A fixed amount of scalar arithmetic (one chain of dependent additions),
 * for the parallel factor. */
static void *
spin(void *arg)
{
	volatile double s = 0;
	for (long i = 0; i < 20000000; i++)
		s = s + (double)i * 1e-9;
	return arg;
}

/* A fixed amount of the runtime's product, each thread on its own
 * operands (GEMM_M x GEMM_K times GEMM_K x GEMM_N, 384 KiB, in a core's
 * L2): how much of a second core the machine gives to the vector units
 * that the training steps keep busy. */
#define GEMM_M 64
#define GEMM_N 256
#define GEMM_K 256
static float gemm_a[MAX_CONF][GEMM_M * GEMM_K], gemm_b[MAX_CONF][GEMM_K * GEMM_N],
	gemm_c[MAX_CONF][GEMM_M * GEMM_N];

static int gemm_reps = 1500;

static void *
spin_gemm(void *arg)
{
	int t = (int)(intptr_t)arg;
	for (int r = 0; r < gemm_reps; r++)
		pcg_sgemm(0, 0, GEMM_M, GEMM_N, GEMM_K, 1.0f, gemm_a[t], GEMM_K,
			  gemm_b[t], GEMM_N, 0.0f, gemm_c[t], GEMM_N);
	return NULL;
}

/* How many of n copies of work run at once, in effect (median of
 * `tries`, at most 3): n times the time of one copy alone over the time of
 * n copies at once, each on its own thread. */
static double
parallel_factor_of(int n, void *(*work)(void *), int tries)
{
	double f[3];
	pthread_t th[MAX_CONF];
	if (n > MAX_CONF)
		n = MAX_CONF;
	for (int k = 0; k < tries; k++) {
		double t0 = wall();
		work(NULL);
		double t1 = wall();
		for (int i = 0; i < n; i++)
			if (pthread_create(&th[i], NULL, work,
					   (void *)(intptr_t)i) != 0)
				return 0;
		for (int i = 0; i < n; i++)
			pthread_join(th[i], NULL);
		f[k] = n * (t1 - t0) / (wall() - t1);
	}
	return bench_median(f, tries);
}

static double
parallel_factor(int n, void *(*work)(void *))
{
	return parallel_factor_of(n, work, 3);
}

/*
 * The time a cache line takes from one core to the other and back: two
 * threads pass a counter to each other PING_ROUNDS times (each waits for
 * the other's value, then writes its own), and the mean of a round trip
 * in ns.  A training step on a pool moves data between the threads all
 * the time (a thread reads what another wrote in the pass before), and
 * this machine's two cores are not always as near: on the virtual
 * machine measured here the round trip was 70-170 ns for a while, then
 * 350-510 ns (the host moved a core further away), and the steps on two
 * threads were 1.3-1.5x slower while the products on each thread's own
 * operands were not.  The rounds with the cores near (both probes under
 * NEAR_NS) are counted apart ("near").
 */
#define PING_ROUNDS 20000
#define NEAR_NS 250

/* The longest wait for PyTorch's threads to settle after its sample
 * (seconds). */
#define TORCH_SETTLE_MAX_S 1.0

static _Alignas(64) atomic_int ping;

static void *
pong(void *arg)
{
	for (int i = 0; i < PING_ROUNDS; i++) {
		while (atomic_load(&ping) != 2 * i + 1)
			;
		atomic_store(&ping, 2 * i + 2);
	}
	return arg;
}

static double
round_trip_ns(void)
{
	pthread_t th;
	atomic_store(&ping, 0);
	if (pthread_create(&th, NULL, pong, NULL) != 0)
		return 0;
	double t0 = wall();
	for (int i = 0; i < PING_ROUNDS; i++) {
		atomic_store(&ping, 2 * i + 1);
		while (atomic_load(&ping) != 2 * i + 2)
			;
	}
	double t = wall() - t0;
	pthread_join(th, NULL);
	return 1e9 * t / PING_ROUNDS;
}

/* The system's CPU time so far (/proc/stat, Linux; in clock ticks), all of
 * it and the part "stolen" by the hypervisor for other guests; 0 where
 * the file is missing. */
static void
cpu_ticks(double *total, double *steal)
{
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "r");
	*total = *steal = 0;
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (int i = 0; i < 8; i++)
			*total += (double)v[i];
		*steal = (double)v[7];
	}
	fclose(f);
}

/* The rounds in which the machine gave the threads their cores: the
 * parallel factor on products, measured right before and right after
 * the round, at least FREE_FACTOR per 2 threads (on a shared machine the
 * second core comes and goes).  The speed-up over those rounds alone is
 * printed beside the one over all rounds. */
#define FREE_FACTOR 0.9

typedef struct {
	const char *name; /* "mlp b32": the example and its batch */
	void (*setup)(void);
	void (*run)(pcg_pool *pool, int n); /* n steps */
	bench_shapes shapes;                /* for torch_step.py */
} Model;

#define POOL_MODEL(P, PU, NAME, B)                                            \
	static P##_params P##_p, P##_p0;                                      \
	static P##_state P##_s;                                               \
	static void P##_setup(void)                                           \
	{                                                                     \
		P##_init(&P##_p0, 1);                                         \
		float *in = (float *)&P##_s.in, *tg = (float *)&P##_s.target; \
		size_t nin = sizeof P##_s.in / sizeof(float);                 \
		size_t ntg = sizeof P##_s.target / sizeof(float);             \
		for (size_t i = 0; i < nin; i++)                              \
			in[i] = frand();                                      \
		memset(tg, 0, ntg * sizeof(float));                           \
		for (size_t i = 0; i < ntg; i += ntg / PU##_BATCH)            \
			tg[i + (size_t)(bench_rng % (ntg / PU##_BATCH))] = 1; \
	}                                                                     \
	static void P##_run(pcg_pool *pool, int n)                            \
	{                                                                     \
		P##_p = P##_p0;                                               \
		P##_s.pool = pool;                                            \
		for (int i = 0; i < n; i++)                                   \
			P##_train_bp(&P##_p, &P##_s, LR);                     \
	}                                                                     \
	static const Model P##_bench = {                                      \
		NAME " b" #B, P##_setup, P##_run,                             \
		{NAME, PU##_BATCH, P##_param_info, P##_input_info,            \
		 P##_target_info, PU##_NUM_PARAMS, PU##_NUM_INPUTS,           \
		 PU##_NUM_TARGETS}};

POOL_MODEL(mlp_b32, MLP_B32, "mlp", 32)
POOL_MODEL(cnn_b16, CNN_B16, "cnn", 16)
POOL_MODEL(resnet_b16, RESNET_B16, "resnet", 16)

static const Model *const models[] = {&mlp_b32_bench, &cnn_b16_bench,
				      &resnet_b16_bench};

/* The median speed-up over n of the rounds and n ("free", "near"). */
static void
print_some(double *r, int n)
{
	if (n > 0)
		printf("   %5.2f (%2d)       ", bench_median(r, n), n);
	else
		printf("       - ( 0)       ");
}

/* Seconds per step of n steps. */
static double
timed(const Model *m, pcg_pool *pool, int n)
{
	m->run(pool, 1);
	double t0 = wall();
	m->run(pool, n);
	return (wall() - t0) / n;
}

/* --steps MODEL N [THREADS] */
static int
steps(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: pool_bench --steps MODEL N [THREADS]\n");
		return 2;
	}
	int n = atoi(argv[3]), threads = argc > 4 ? atoi(argv[4]) : 1;
	for (size_t mi = 0; mi < sizeof models / sizeof *models; mi++) {
		const Model *m = models[mi];
		if (strncmp(m->name, argv[2], strlen(argv[2])) != 0 ||
		    m->name[strlen(argv[2])] != ' ')
			continue;
		pcg_pool *pool = threads > 1 ? pcg_pool_create(threads) : NULL;
		m->setup();
		m->run(pool, n);
		pcg_pool_destroy(pool);
		return 0;
	}
	fprintf(stderr, "pool_bench: no model '%s' (mlp, cnn, resnet)\n",
		argv[2]);
	return 2;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--steps"))
		return steps(argc, argv);
	int threads[MAX_CONF] = {1, 2}, nconf = 2, first = 1, torch = 1;
	long long min_macs = -1;
	const char *python = getenv("PCC_BENCH_PYTHON");
	if (!python)
		python = "/usr/bin/python3";
	for (;;) {
		if (argc > first && !strcmp(argv[first], "--no-torch")) {
			torch = 0;
			first++;
		} else if (argc > first + 1 && !strcmp(argv[first], "--python")) {
			python = argv[first + 1];
			first += 2;
		} else if (argc > first + 1 &&
			   !strcmp(argv[first], "--min-macs")) {
			min_macs = atoll(argv[first + 1]);
			first += 2;
		} else {
			break;
		}
	}
	if (argc > first) {
		nconf = 1;
		for (int i = first; i < argc && nconf < MAX_CONF; i++) {
			threads[nconf] = atoi(argv[i]);
			if (threads[nconf] < 1) {
				fprintf(stderr, "pool_bench: bad thread count "
						"'%s'\n", argv[i]);
				return 2;
			}
			nconf++;
		}
	}
	int last = threads[nconf - 1];
	/* a sample asked of a PyTorch process that has died fails instead of
	 * killing the benchmark (bench_torch.h) */
	signal(SIGPIPE, SIG_IGN);
	if (torch)
		torch = bench_torch_blas_ok(python);
	pcg_pool *pools[MAX_CONF] = {NULL};
	for (int c = 1; c < nconf; c++) {
		pools[c] = pcg_pool_create(threads[c]);
		if (min_macs >= 0)
			pcg_pool_set_min_macs(pools[c], min_macs);
	}
	for (int t = 0; t < MAX_CONF; t++) {
		for (int i = 0; i < GEMM_M * GEMM_K; i++)
			gemm_a[t][i] = frand();
		for (int i = 0; i < GEMM_K * GEMM_N; i++)
			gemm_b[t][i] = frand();
	}
	double ticks0, steal0;
	cpu_ticks(&ticks0, &steal0);
	double before = parallel_factor(last, spin);
	double gemm_before = parallel_factor(last, spin_gemm);
	printf("P_train_bp, float, wall time per step (median of %d rounds); "
	       "speed-up against no pool (median of the rounds' ratios, "
	       "min-max)\n", ROUNDS);
	printf("%-12s", "model");
	for (int c = 0; c < nconf; c++)
		printf("   %2d thr us", threads[c]);
	for (int c = 1; c < nconf; c++)
		printf("   x%-2d (min-max)  ", threads[c]);
	printf("  machine x%-2d  x%-2d free (rounds)", last, last);
	printf(" c2c ns  x%-2d near (rounds)", last);
	if (torch)
		printf(" torch %2d thr us  torch/pcc", last);
	printf("\n");
	for (size_t mi = 0; mi < sizeof models / sizeof *models; mi++) {
		const Model *m = models[mi];
		m->setup();
		int n = 1;
		while (timed(m, NULL, n) * n < 20e-3 && n < 1 << 20)
			n *= 2;
		double t[MAX_CONF][ROUNDS], r[MAX_CONF][ROUNDS], r_free[ROUNDS],
			pfs[ROUNDS], rtt[ROUNDS], r_near[ROUNDS], tt[ROUNDS];
		int nfree = 0, nnear = 0;
		bench_torch tp;
		int topen = torch && bench_torch_open(&tp, &m->shapes, python,
						       20e-3, last);
		for (int k = 0; k < ROUNDS; k++) {
			gemm_reps = 1000;
			double pf = parallel_factor_of(last, spin_gemm, 1);
			double rt = round_trip_ns();
			for (int c = 0; c < nconf; c++)
				t[c][k] = timed(m, pools[c], n);
			for (int c = 1; c < nconf; c++)
				r[c][k] = t[0][k] / t[c][k];
			double after = parallel_factor_of(last, spin_gemm, 1);
			double rt2 = round_trip_ns();
			pfs[k] = pf < after ? pf : after;
			rtt[k] = rt > rt2 ? rt : rt2;
			if (pfs[k] >= FREE_FACTOR * last)
				r_free[nfree++] = r[nconf - 1][k];
			if (rtt[k] < NEAR_NS)
				r_near[nnear++] = r[nconf - 1][k];
			if (topen && tp.pid) { /* until a sample fails */
				tt[k] = bench_torch_sample(&tp);
				bench_torch_settle(&tp, TORCH_SETTLE_MAX_S);
			}
		}
		/* the paired ratio before the medians below sort t and tt */
		double tratio = topen && tp.pid
			? bench_paired_median(tt, t[nconf - 1], ROUNDS) : 0;
		printf("%-12s", m->name);
		for (int c = 0; c < nconf; c++)
			printf(" %11.1f", 1e6 * bench_median(t[c], ROUNDS));
		for (int c = 1; c < nconf; c++) {
			double med = bench_median(r[c], ROUNDS);
			printf("   %5.2f (%4.2f-%4.2f)", med, r[c][0],
			       r[c][ROUNDS - 1]);
		}
		printf("   %10.2f", bench_median(pfs, ROUNDS));
		print_some(r_free, nfree);
		printf(" %6.0f", bench_median(rtt, ROUNDS));
		print_some(r_near, nnear);
		if (topen && tp.pid) /* every round has its sample */
			printf(" %15.1f %9.2fx", 1e6 * bench_median(tt, ROUNDS),
			       tratio);
		if (topen)
			bench_torch_close(&tp);
		printf("\n");
	}
	gemm_reps = 1500;
	printf("parallel factor of %d threads (machine): %.2f before, %.2f "
	       "after\n", last, before, parallel_factor(last, spin));
	printf("parallel factor of %d threads on products (pcg_sgemm "
	       "%dx%dx%d): %.2f before, %.2f after\n", last, GEMM_M, GEMM_N,
	       GEMM_K, gemm_before, parallel_factor(last, spin_gemm));
	double ticks1, steal1;
	cpu_ticks(&ticks1, &steal1);
	if (ticks1 > ticks0)
		printf("CPU time taken by the hypervisor for other guests "
		       "(steal) during the run: %.1f %%\n",
		       100 * (steal1 - steal0) / (ticks1 - ticks0));
	for (int c = 1; c < nconf; c++)
		pcg_pool_destroy(pools[c]);
	return 0;
}
