/*
 * pcg_pool.c — the thread pool a caller may put in a generated model's
 * state (s->pool), and the work the generated code hands to it: the
 * products (pcg_sgemm_mt, pcg_dgemm_mt), the convolutions, pooling, SGD
 * and the other passes over whole arrays, and the generated element-wise
 * and broadcast kernels.
 *
 * A pool of n threads is the calling thread and n - 1 workers.  A run is
 * tasks 0 .. ntasks-1: task i < n is thread i's own (the caller is thread
 * 0), the others go to whichever thread asks first (see the ticket
 * below), and the run returns when all are done.  The work is divided so
 * that no result depends on which thread does which task, or on how many
 * there are: every task writes its own part of the output, computed by
 * exactly the operations the one-thread code performs for it (for the
 * products, pcg_gemm.c's contract: an element's result depends on k
 * only, not on the shape of the block it is computed in).  So every
 * thread count gives the same bits.  The convolutions and the pooling cut
 * their items into blocks with one function, deal (below).
 *
 * Waking.  A run is announced by a counter; a worker that has finished
 * its tasks watches it for PCG_POOL_SPIN_US microseconds (yielding the
 * processor between looks) before it sleeps on a condition variable, and
 * the caller watches the count of finished tasks the same way before it
 * sleeps.  The products of a training step follow each other within
 * microseconds, so during a step the workers never sleep and a run costs
 * well under a microsecond to start, where a condition variable's
 * wake-up costs tens.
 *
 * Memory.  The runtime allocates only here: the pool (pcg_pool_create)
 * and, on their first use, the workers' scratch (their im2col columns,
 * as large as the calling thread's, which the generated state holds).
 * Where the platform has no POSIX threads (bare-metal targets), or when
 * compiled with PCG_NO_THREADS, pcg_pool_create returns NULL and a NULL
 * pool runs everything on the calling thread, allocating nothing.
 */
#if defined(__unix__) || defined(__APPLE__)
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <unistd.h>
#endif

#include <stddef.h>
#include <stdint.h>

#include "pcg_dconv.h"
#include "pcg_runtime.h"

/* The most tasks of one run (a run's task count takes 16 bits). */
#define RUN_MAX_TASKS 0xffff

/* How long an idle thread watches for work before it sleeps. */
#ifndef PCG_POOL_SPIN_US
#define PCG_POOL_SPIN_US 200
#endif

/* A task that knows which of the pool's threads runs it (0 the caller). */
typedef void (*task_fn)(void *ctx, int task, int thread);

#if defined(_POSIX_THREADS) && _POSIX_THREADS > 0 && !defined(PCG_NO_THREADS) \
	&& !defined(__STDC_NO_ATOMICS__)
#define POOL_THREADS 1
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

/*
 * A run is published in one 64-bit word, the ticket: the run's number
 * (high 32 bits), its task count (16 bits) and the next task to take (low
 * 16 bits).  Task i < nthreads is thread i's home task: thread i takes it
 * first (home[i] = the run), so that every thread takes part.  The other
 * tasks go to whichever thread comes first: a thread takes one by raising
 * the ticket with a compare-and-swap while it still names the run and has
 * tasks left.  A home task that is still untaken PCG_POOL_STEAL_US after
 * the caller has run out of tasks is taken by the caller: a worker that
 * the system has not scheduled (the machine is shared) holds a run up
 * that long at most.  Every task is taken once.  The run's function and
 * context are written before its ticket and stay until its last task is
 * done, so a thread that holds a task reads them safely.
 */
#define TICKET(run, ntasks, next)                                             \
	((uint64_t)(run) << 32 | (uint64_t)(ntasks) << 16 | (uint64_t)(next))
#define TICKET_RUN(t) ((uint32_t)((t) >> 32))
#define TICKET_NTASKS(t) ((int)((t) >> 16 & 0xffff))
#define TICKET_NEXT(t) ((int)((t)&0xffff))

/* The words between two home blocks' spans (128 bytes). */
#define SPAN_STRIDE 16

struct pcg_pool {
	int nthreads; /* the caller and nthreads - 1 workers */
	pthread_t *workers;
	pthread_mutex_t mu;  /* guards the sleeping */
	pthread_cond_t go;   /* a new run, or quit */
	pthread_cond_t done; /* the run's last task finished */
	_Atomic uint64_t ticket;
	/* the current run: written before its ticket */
	task_fn fn;
	void *ctx;
	atomic_int finished;	   /* tasks of the current run done */
	atomic_int sleepers;	   /* workers asleep (or going to) on go */
	atomic_int caller_sleeps;  /* the caller is asleep on done */
	atomic_int started;	   /* workers that have started */
	atomic_int busy;	   /* a run is in progress (a second caller runs alone) */
	atomic_int quit;
	atomic_size_t worker_tasks; /* tasks the workers ran, for the tests */
	int counts_own; /* the run counts its workers' work (deal's blocks) */
	atomic_size_t stolen; /* items taken from others' home blocks */
	int64_t min_macs;	    /* smaller products run on the caller */
	int steal_us; /* how long a home task is left to its worker (< 0: for ever) */
	uint32_t runs;		    /* the caller's count of runs */
	_Atomic uint32_t home[PCG_POOL_MAX_THREADS]; /* runs whose home task i is taken */
	/* per-thread scratch (im2col columns) of threads 1 .. nthreads-1,
	 * and per-task scratch of the runs that keep partial results (dK's
	 * terms, the bias gradients' samples' sums; 0 too), used only by
	 * the caller that holds busy */
	void *scratch[PCG_POOL_MAX_THREADS];
	size_t scratch_bytes[PCG_POOL_MAX_THREADS];
	/* a dealt run's items of home block i not yet taken (pool_span_*):
	 * span[i * SPAN_STRIDE], [front, back), front in the low 32 bits;
	 * 128 bytes apart, so that two never share a cache line however
	 * the pool is aligned */
	_Atomic uint64_t span[PCG_POOL_MAX_THREADS * SPAN_STRIDE];
};

static double
now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

/* Whether a worker that last saw run `seen` has something new to look
 * at: another run, or quit. */
static int
news(pcg_pool *p, uint32_t seen)
{
	return TICKET_RUN(atomic_load(&p->ticket)) != seen ||
	       atomic_load(&p->quit);
}

/* Watches for news (worker) or for the run's ntasks to be finished
 * (caller, worker == 0) for `us` microseconds at most, giving the
 * processor away between looks; returns whether it came. */
static int
spin_until(pcg_pool *p, int worker, uint32_t seen, int ntasks, double us)
{
	double end = 0;
	for (unsigned i = 0;; i++) {
		if (worker ? news(p, seen)
			   : atomic_load(&p->finished) >= ntasks)
			return 1;
		if ((i & 15) == 15) {
			double t = now_us();
			if (end == 0)
				end = t + us;
			else if (t >= end)
				return 0;
			/* other processes may want this core more */
			sched_yield();
		}
	}
}

/* Runs task `task` of a run of ntasks that this thread has taken. */
static void
run_task(pcg_pool *p, int task, int ntasks, int thread)
{
	p->fn(p->ctx, task, thread);
	if (thread > 0 && !p->counts_own)
		atomic_fetch_add(&p->worker_tasks, 1);
	/* after this the run may end: touch nothing of it */
	if (atomic_fetch_add(&p->finished, 1) + 1 == ntasks && thread > 0 &&
	    atomic_load(&p->caller_sleeps)) {
		pthread_mutex_lock(&p->mu);
		pthread_cond_signal(&p->done);
		pthread_mutex_unlock(&p->mu);
	}
}

/* Takes home task i of run `run` (home[i] < run: nobody has), for thread
 * i or, stealing, the caller; whoever holds it knows the run goes on. */
static int
take_home(pcg_pool *p, uint32_t run, int i)
{
	uint32_t old = atomic_load(&p->home[i]);
	while ((int32_t)(run - old) > 0)
		if (atomic_compare_exchange_weak(&p->home[i], &old, run))
			return 1;
	return 0;
}

/* Takes and runs tasks of run `run`: the thread's home task, then tasks
 * from the ticket until none is left; `thread` is the thread's number
 * (0 the caller). */
static void
take_tasks(pcg_pool *p, uint32_t run, int thread)
{
	uint64_t t = atomic_load(&p->ticket);
	if (TICKET_RUN(t) != run)
		return;
	int ntasks = TICKET_NTASKS(t);
	int homes = ntasks < p->nthreads ? ntasks : p->nthreads;
	if (thread < homes && take_home(p, run, thread))
		run_task(p, thread, ntasks, thread);
	t = atomic_load(&p->ticket);
	for (;;) {
		if (TICKET_RUN(t) != run || TICKET_NEXT(t) >= TICKET_NTASKS(t))
			return;
		if (!atomic_compare_exchange_weak(&p->ticket, &t, t + 1))
			continue; /* t is the ticket now: look again */
		run_task(p, TICKET_NEXT(t), ntasks, thread);
		t = atomic_load(&p->ticket);
	}
}

typedef struct {
	pcg_pool *pool;
	int id;
} Worker;

static void *
worker_main(void *arg)
{
	Worker w = *(Worker *)arg;
	pcg_pool *p = w.pool;
	uint32_t seen = 0;
	pthread_mutex_lock(&p->mu);
	atomic_fetch_add(&p->started, 1);
	pthread_cond_signal(&p->done);
	pthread_mutex_unlock(&p->mu);
	for (;;) {
		if (!spin_until(p, 1, seen, 0, PCG_POOL_SPIN_US)) {
			/* sleepers is raised before the ticket is looked at,
			 * and the caller publishes the ticket before it looks
			 * at sleepers: one of the two sees the other */
			pthread_mutex_lock(&p->mu);
			atomic_fetch_add(&p->sleepers, 1);
			while (!news(p, seen))
				pthread_cond_wait(&p->go, &p->mu);
			atomic_fetch_sub(&p->sleepers, 1);
			pthread_mutex_unlock(&p->mu);
		}
		if (atomic_load(&p->quit))
			break;
		seen = TICKET_RUN(atomic_load(&p->ticket));
		take_tasks(p, seen, w.id);
	}
	return NULL;
}

static void
pool_free(pcg_pool *p)
{
	for (int i = 0; i < PCG_POOL_MAX_THREADS; i++)
		free(p->scratch[i]);
	free(p->workers);
	free(p);
}

pcg_pool *
pcg_pool_create(int nthreads)
{
	if (nthreads < 1 || nthreads > PCG_POOL_MAX_THREADS)
		return NULL;
	pcg_pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->workers = nthreads > 1
		? calloc((size_t)nthreads - 1, sizeof *p->workers) : NULL;
	if ((nthreads > 1 && !p->workers) ||
	    pthread_mutex_init(&p->mu, NULL) != 0) {
		pool_free(p);
		return NULL;
	}
	if (pthread_cond_init(&p->go, NULL) != 0) {
		pthread_mutex_destroy(&p->mu);
		pool_free(p);
		return NULL;
	}
	if (pthread_cond_init(&p->done, NULL) != 0) {
		pthread_cond_destroy(&p->go);
		pthread_mutex_destroy(&p->mu);
		pool_free(p);
		return NULL;
	}
	atomic_init(&p->ticket, 0);
	for (int i = 0; i < PCG_POOL_MAX_THREADS; i++) {
		atomic_init(&p->home[i], 0);
		atomic_init(&p->span[i * SPAN_STRIDE], 0);
	}
	atomic_init(&p->finished, 0);
	atomic_init(&p->sleepers, 0);
	atomic_init(&p->caller_sleeps, 0);
	atomic_init(&p->started, 0);
	atomic_init(&p->busy, 0);
	atomic_init(&p->quit, 0);
	atomic_init(&p->worker_tasks, 0);
	p->counts_own = 0;
	atomic_init(&p->stolen, 0);
	/* nthreads is fixed before any worker starts (the tasks are dealt
	 * by it); a worker copies its Worker before it says it started */
	p->nthreads = nthreads;
	p->min_macs = PCG_POOL_MIN_MACS;
	p->steal_us = PCG_POOL_STEAL_US;
	for (int i = 0; i < nthreads - 1; i++) {
		Worker w = {p, i + 1};
		int started = atomic_load(&p->started);
		if (pthread_create(&p->workers[i], NULL, worker_main, &w) != 0) {
			p->nthreads = i + 1; /* the workers that run */
			pcg_pool_destroy(p);
			return NULL;
		}
		pthread_mutex_lock(&p->mu);
		while (atomic_load(&p->started) == started)
			pthread_cond_wait(&p->done, &p->mu);
		pthread_mutex_unlock(&p->mu);
	}
	return p;
}

void
pcg_pool_destroy(pcg_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->quit, 1);
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads - 1; i++)
		pthread_join(p->workers[i], NULL);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->go);
	pthread_mutex_destroy(&p->mu);
	pool_free(p);
}

int
pcg_pool_threads(const pcg_pool *p)
{
	return p ? p->nthreads : 1;
}

void
pcg_pool_set_min_macs(pcg_pool *p, int64_t macs)
{
	if (p)
		p->min_macs = macs;
}

void
pcg_pool_set_steal_us(pcg_pool *p, int us)
{
	if (p)
		p->steal_us = us;
}

static int64_t
pool_min_macs(const pcg_pool *p)
{
	return p ? p->min_macs : PCG_POOL_MIN_MACS;
}

size_t
pcg_pool_worker_tasks(pcg_pool *p)
{
	return p ? atomic_load(&p->worker_tasks) : 0;
}

size_t
pcg_pool_stolen_items(pcg_pool *p)
{
	return p ? atomic_load(&p->stolen) : 0;
}

/* Takes the pool for one call's runs; 0 if it has no workers or another
 * call holds it (then the call runs alone, with the same bits). */
static int
pool_acquire(pcg_pool *p)
{
	return p && p->nthreads > 1 && !atomic_exchange(&p->busy, 1);
}

static void
pool_release(pcg_pool *p)
{
	atomic_store(&p->busy, 0);
}

/* One run of fn(ctx, task, thread) for task = 0 .. ntasks-1 (at most
 * RUN_MAX_TASKS) on an acquired pool. */
static void
pool_run_acquired(pcg_pool *p, int ntasks, task_fn fn, void *ctx)
{
	uint32_t run = ++p->runs;
	if (run == 0) /* the workers start having seen run 0 */
		run = ++p->runs;
	p->fn = fn;
	p->ctx = ctx;
	atomic_store(&p->finished, 0);
	int homes = ntasks < p->nthreads ? ntasks : p->nthreads;
	/* the home tasks are free (and home[] never lags 2^31 runs) */
	for (int i = 0; i < homes; i++)
		atomic_store(&p->home[i], run - 1);
	atomic_store(&p->ticket, TICKET(run, ntasks, homes));
	if (atomic_load(&p->sleepers) > 0) {
		pthread_mutex_lock(&p->mu);
		pthread_cond_broadcast(&p->go);
		pthread_mutex_unlock(&p->mu);
	}
	take_tasks(p, run, 0);
	if (p->steal_us >= 0 && !spin_until(p, 0, 0, ntasks, p->steal_us))
		for (int i = 1; i < homes; i++)
			if (take_home(p, run, i))
				run_task(p, i, ntasks, 0);
	if (!spin_until(p, 0, 0, ntasks, PCG_POOL_SPIN_US)) {
		pthread_mutex_lock(&p->mu);
		atomic_store(&p->caller_sleeps, 1);
		while (atomic_load(&p->finished) < ntasks)
			pthread_cond_wait(&p->done, &p->mu);
		atomic_store(&p->caller_sleeps, 0);
		pthread_mutex_unlock(&p->mu);
	}
}

/* pcg_pool_run's tasks, which do not ask which thread runs them. */
typedef struct {
	void (*fn)(void *ctx, int task);
	void *ctx;
	int first; /* task 0 of this run is the caller's task first */
} plain_run;

static void
plain_task(void *ctx, int task, int thread)
{
	const plain_run *r = ctx;
	(void)thread;
	r->fn(r->ctx, r->first + task);
}

void
pcg_pool_run(pcg_pool *p, int ntasks, void (*fn)(void *ctx, int task),
	     void *ctx)
{
	if (ntasks <= 0)
		return;
	if (ntasks > 1 && pool_acquire(p)) {
		for (int first = 0; first < ntasks; first += RUN_MAX_TASKS) {
			plain_run r = {fn, ctx, first};
			int n = ntasks - first < RUN_MAX_TASKS ? ntasks - first
							       : RUN_MAX_TASKS;
			pool_run_acquired(p, n, plain_task, &r);
		}
		pool_release(p);
		return;
	}
	for (int t = 0; t < ntasks; t++)
		fn(ctx, t);
}

/* The scratch of thread i (1 .. nthreads-1) of an acquired pool, at least
 * bytes long; NULL when it cannot be allocated. */
static void *
pool_scratch(pcg_pool *p, int i, size_t bytes)
{
	if (p->scratch_bytes[i] < bytes) {
		free(p->scratch[i]);
		p->scratch[i] = malloc(bytes);
		p->scratch_bytes[i] = p->scratch[i] ? bytes : 0;
	}
	return p->scratch[i];
}

/* Thread i's scratch as pool_scratch left it. */
static void *
pool_thread_scratch(const pcg_pool *p, int i)
{
	return p->scratch[i];
}

#define SPAN(front, back) ((uint64_t)(uint32_t)(back) << 32 | (uint32_t)(front))

/* Home block i of a dealt run: the items [lo, hi), none taken yet. */
static void
pool_span_set(pcg_pool *p, int i, int lo, int hi)
{
	atomic_store(&p->span[i * SPAN_STRIDE], SPAN(lo, hi));
}

/* The items of home block i not yet taken. */
static int
pool_span_left(pcg_pool *p, int i)
{
	uint64_t v = atomic_load(&p->span[i * SPAN_STRIDE]);
	int front = (int)(uint32_t)v, back = (int)(v >> 32);
	return back > front ? back - front : 0;
}

/* Takes the first half of home block i's items not yet taken (at least
 * one) into [*lo, *hi), or from its back (thief) `grain` items; 0 when
 * none is left.  Each item is taken once: both ends move by a
 * compare-and-swap of the one word. */
static int
pool_span_take(pcg_pool *p, int i, int thief, int grain, int *lo, int *hi)
{
	uint64_t v = atomic_load(&p->span[i * SPAN_STRIDE]);
	for (;;) {
		int front = (int)(uint32_t)v, back = (int)(v >> 32);
		if (front >= back)
			return 0;
		int n = thief ? grain : (back - front + 1) / 2;
		if (n > back - front)
			n = back - front;
		uint64_t to = thief ? SPAN(front, back - n)
				    : SPAN(front + n, back);
		if (atomic_compare_exchange_weak(&p->span[i * SPAN_STRIDE], &v, to)) {
			*lo = thief ? back - n : front;
			*hi = thief ? back : front + n;
			if (thief)
				atomic_fetch_add(&p->stolen, (size_t)n);
			return 1;
		}
	}
}

/* Whether a dealt run's threads may take the items of others' home
 * blocks: not when the caller leaves the workers their tasks however
 * late they come (pcg_pool_set_steal_us -1). */
static int
pool_span_steals(const pcg_pool *p)
{
	return p->steal_us >= 0;
}

/* A dealt run's worker did a block of items (pcg_pool_worker_tasks);
 * the run's tasks are not counted as such (pool_run_dealt). */
static void
pool_count_worker(pcg_pool *p, int thread)
{
	if (thread > 0)
		atomic_fetch_add(&p->worker_tasks, 1);
}

/* pool_run_acquired for deal: a worker's task counts only the blocks it
 * does, which may be none when the others took its items. */
static void
pool_run_dealt(pcg_pool *p, int ntasks, task_fn fn, void *ctx)
{
	p->counts_own = 1;
	pool_run_acquired(p, ntasks, fn, ctx);
	p->counts_own = 0;
}

#else /* no threads: every pool is NULL, and NULL runs on the caller */

pcg_pool *
pcg_pool_create(int nthreads)
{
	(void)nthreads;
	return NULL;
}

void
pcg_pool_destroy(pcg_pool *p)
{
	(void)p;
}

int
pcg_pool_threads(const pcg_pool *p)
{
	(void)p;
	return 1;
}

size_t
pcg_pool_worker_tasks(pcg_pool *p)
{
	(void)p;
	return 0;
}

size_t
pcg_pool_stolen_items(pcg_pool *p)
{
	(void)p;
	return 0;
}

void
pcg_pool_set_min_macs(pcg_pool *p, int64_t macs)
{
	(void)p;
	(void)macs;
}

void
pcg_pool_set_steal_us(pcg_pool *p, int us)
{
	(void)p;
	(void)us;
}

static int64_t
pool_min_macs(const pcg_pool *p)
{
	(void)p;
	return PCG_POOL_MIN_MACS;
}

void
pcg_pool_run(pcg_pool *p, int ntasks, void (*fn)(void *ctx, int task),
	     void *ctx)
{
	(void)p;
	for (int t = 0; t < ntasks; t++)
		fn(ctx, t);
}

static int
pool_acquire(pcg_pool *p)
{
	(void)p;
	return 0;
}

static void
pool_release(pcg_pool *p)
{
	(void)p;
}

static void
pool_run_acquired(pcg_pool *p, int ntasks, task_fn fn, void *ctx)
{
	(void)p;
	for (int t = 0; t < ntasks; t++)
		fn(ctx, t, 0);
}

static void *
pool_scratch(pcg_pool *p, int i, size_t bytes)
{
	(void)p;
	(void)i;
	(void)bytes;
	return NULL;
}

static void *
pool_thread_scratch(const pcg_pool *p, int i)
{
	(void)p;
	(void)i;
	return NULL;
}

static void
pool_span_set(pcg_pool *p, int i, int lo, int hi)
{
	(void)p;
	(void)i;
	(void)lo;
	(void)hi;
}

static int
pool_span_left(pcg_pool *p, int i)
{
	(void)p;
	(void)i;
	return 0;
}

static int
pool_span_take(pcg_pool *p, int i, int thief, int grain, int *lo, int *hi)
{
	(void)p;
	(void)i;
	(void)thief;
	(void)grain;
	(void)lo;
	(void)hi;
	return 0;
}

static int
pool_span_steals(const pcg_pool *p)
{
	(void)p;
	return 0;
}

static void
pool_count_worker(pcg_pool *p, int thread)
{
	(void)p;
	(void)thread;
}

static void
pool_run_dealt(pcg_pool *p, int ntasks, task_fn fn, void *ctx)
{
	pool_run_acquired(p, ntasks, fn, ctx);
}
#endif

/*
 * The work (in the GEMM's multiply-adds) from which a pass cut by samples
 * runs on the pool: a quarter of min_macs.  The convolutions' forward
 * pass and dx and the element-wise passes around them cut by samples, so
 * a thread finds its block in its own cache; on the caller alone, the
 * pass would fetch the other thread's half of its input and leave all of
 * its output for the next pass to fetch back (resnet's 1x1 convolution,
 * 131 072 multiply-adds, took 19-20 us a pass so on two threads, 12-13
 * alone, and 8-12 cut: bench/call_times.py; resnet b16 on two threads
 * 1.46 -> 1.51-1.54x, bench/pool_bench).
 */
static int64_t
pool_min_local(const pcg_pool *p)
{
	return pool_min_macs(p) / 4;
}

/* The first of n items that block t of ntasks takes (t = ntasks: n). */
static int
block_start(int t, int n, int ntasks)
{
	return (int)((int64_t)t * n / ntasks);
}

/* ----------------------------------------------------------- dealing blocks */

/*
 * The column-cut products, the convolutions and the pooling cut their
 * work, a range of n items (tiles of columns, samples, columns of dK,
 * planes), into ntasks home blocks, block t the items
 * [t n / ntasks, (t + 1) n / ntasks), and fn(ctx, lo, hi, scratch) does
 * items [lo, hi).  Every item is computed by the same operations whatever
 * call holds it, so the bits do not depend on the cut, nor on which
 * thread does an item.  deal runs the blocks as tasks of a run on the pool
 * when there are two or more and the pool is free, each thread with its
 * own scratch (the caller's `scratch`; for a worker, the pool's
 * per-thread scratch of scratch_bytes, 0 for none), and returns 1; else
 * it returns 0 and the caller does the whole range as one block itself,
 * by a direct call, so that the call graph (tools/stack_usage.py) sees
 * the stack the calling thread takes.
 *
 * The blocks are balanced as they run: a task takes its block's items
 * from the front, half of what is left at a time, and then takes the
 * other blocks' items from their backs, one at a time, the block with
 * the most left first.  So a thread the machine runs slower (the two
 * cores of a shared host often run at different speeds: two threads
 * each timing the same product on its own operands here finished up to
 * 1.2-1.4 times apart) does fewer items instead of holding the run up,
 * and each thread still does the items of its home block but those of
 * the block's end, where the passes before and after find them.  With
 * pcg_pool_set_steal_us -1 (the caller leaves the workers their tasks
 * however late they come) no thread takes another's items.
 */
typedef void (*block_fn)(void *ctx, int lo, int hi, void *scratch);

typedef struct {
	block_fn fn;
	void *ctx, *scratch;
	int ntasks;
	pcg_pool *pool;
} deal_job;

static void
deal_task(void *ctx, int t, int thread)
{
	const deal_job *d = ctx;
	void *scratch = thread ? pool_thread_scratch(d->pool, thread)
			       : d->scratch;
	int lo, hi;
	while (pool_span_take(d->pool, t, 0, 1, &lo, &hi)) {
		d->fn(d->ctx, lo, hi, scratch);
		pool_count_worker(d->pool, thread);
	}
	while (pool_span_steals(d->pool)) {
		int from = -1, most = 0;
		for (int i = 0; i < d->ntasks; i++) {
			int left = pool_span_left(d->pool, i);
			if (left > most) {
				most = left;
				from = i;
			}
		}
		if (from < 0)
			return;
		if (pool_span_take(d->pool, from, 1, 1, &lo, &hi)) {
			d->fn(d->ctx, lo, hi, scratch);
			pool_count_worker(d->pool, thread);
		}
	}
}

static int
deal(pcg_pool *pool, int n, int ntasks, block_fn fn, void *ctx,
     void *scratch, size_t scratch_bytes)
{
	if (ntasks > n)
		ntasks = n;
	if (ntasks > pcg_pool_threads(pool))
		ntasks = pcg_pool_threads(pool);
	if (ntasks > 1 && pool_acquire(pool)) {
		int have = 1;
		for (int t = 1; scratch_bytes && t < pcg_pool_threads(pool); t++)
			have = have && pool_scratch(pool, t, scratch_bytes);
		if (have) {
			deal_job d = {fn, ctx, scratch, ntasks, pool};
			for (int t = 0; t < ntasks; t++)
				pool_span_set(pool, t, block_start(t, n, ntasks),
					      block_start(t + 1, n, ntasks));
			pool_run_dealt(pool, ntasks, deal_task, &d);
		}
		pool_release(pool);
		return have;
	}
	return 0;
}

/* ------------------------------------------------------------ products */

/*
 * C = alpha op(A) op(B) + beta C with the work spread over the pool: the
 * columns of C are dealt out in tiles of the GEMM's panel (deal: a block
 * a thread, balanced at its end), or its rows (GEMM_MT_ROWS) cut into one
 * block a thread, multiples of 6 rows, the GEMM's tiles; each call
 * computed by pcg_sgemm on its own.  Products
 * under the pool's min_macs multiply-adds (PCG_POOL_MIN_MACS unless
 * pcg_pool_set_min_macs says otherwise) run on the caller: waking a thread
 * costs more than they do.
 */
/* With -Dcblas=true the BLAS's results may change with the block's shape,
 * so the product goes to it whole (it has threads of its own). */
#ifdef PCG_GEMM_CBLAS
#define MT_SPLIT 0
#else
#define MT_SPLIT 1
#endif

/*
 * Rows when C has more rows than columns, and also when it is large with
 * rows enough for every thread: the element-wise passes that read C next
 * (the +0 canonicalisation and the SGD update of a gradient, the bias add
 * and ReLU of an activation) cut it into blocks of consecutive elements,
 * so of rows, and a thread then finds its block in its own cache.  mlp
 * b32's 256 x 784 and 256 x 256 weight gradients cut by columns moved
 * between the cores: its step on two threads was up to 3 % slower, 13 %
 * with the cores far apart (pool_bench's c2c).  Below 64 rows a thread
 * the blocks' rounding to 6 rows costs more (an activation, batch x
 * width).
 */
/* A row block's rows: a multiple of the GEMM's tile of 6 rows; the
 * columns dealt out in tiles of the GEMM's panel width, and of 16 at
 * least (pcg_gemm_panel_cols_f: a tile of 16 floats on AVX-512, half a
 * panel, ran the kernel half empty, and mlp b32's W1 @ x took 56 us on
 * two threads against 42 with tiles of 32). */
#define GEMM_MT_MR 6
#define GEMM_MT_NC 16

#define GEMM_MT_ROWS(m, n, threads)                                           \
	((m) > (n) || ((m) >= 64 * (threads) && (int64_t)(m) * (n) >= 1 << 15))

/*
 * Along k, in two at the GEMM's chunk, when op(B) is a large operand
 * (a weight, next to a batch's activations: k >= 4 m) that the column
 * cut would read across the way GEMM_MT_ROWS cuts a matrix of op(B)'s
 * stored shape: by rows for B (k x n) in C = A B, by columns for B
 * (n x k) in C = A B^T.  That is how a weight's update (a product of
 * the weight's shape) cuts it, so that each thread then reads the part
 * of the weight it wrote, where the column cut had every thread read
 * half of it from the other core's cache and the update invalidate it
 * back (mlp b32's dy W2 and W2's update: 16.3 and 16.5 us apart on two
 * threads, 22.3 and 38.7 one after the other).  Task 0 computes the
 * first chunk into C (c = alpha s_0 + beta c), task 1 the second
 * chunk's sums s_1 into scratch, then c = s_1 + c, row blocks on every
 * thread: the contract's operations when alpha is 1 (alpha s_1 is s_1),
 * so exactly two chunks, alpha 1 and no update.
 */
#define GEMM_MT_K(j, threads)                                                 \
	((j)->how < 0 && (j)->alpha == 1 && (j)->k > PCG_GEMM_KC &&          \
	 (j)->k <= 2 * PCG_GEMM_KC && (j)->k >= 4 * (int64_t)(j)->m &&        \
	 ((j)->tb ? !GEMM_MT_ROWS((j)->n, (j)->k, threads)                    \
		  : GEMM_MT_ROWS((j)->k, (j)->n, threads)))

/* A job with an update (pcg_sgemm_upd_mt) has how >= 0; w goes with c,
 * and a block's w with its block of c.  A job with an epilogue
 * (pcg_sgemm_ep_mt) has ek set: each block of C, once final, is passed
 * through it by the thread that computed the block (NAME##_epi). */
#define GEMM_MT(NAME, NAME_UPD, NAME_EP, SERIAL, SERIAL_UPD, REAL, KERNEL,   \
		PANEL)                                                        \
	typedef struct {                                                      \
		int ta, tb, m, n, k, lda, ldb, ldc, by_rows, ntasks;          \
		int nc; /* the columns of a dealt tile */                     \
		REAL alpha, beta;                                             \
		const REAL *a, *b;                                            \
		REAL *c;                                                      \
		int how;                                                      \
		REAL lr;                                                      \
		REAL *w;                                                      \
		REAL *part; /* cut along k: the second chunk's sums */        \
		/* the epilogue: ek on each final block of C */               \
		KERNEL ek;                                                    \
		const REAL *bias;                                             \
		REAL *mv, *ey;                                                \
		REAL ea, eb;                                                  \
	} NAME##_job;                                                         \
                                                                              \
	/* The columns of a dealt tile: the GEMM's panel, 16 at least. */    \
	static int NAME##_panel(void)                                         \
	{                                                                     \
		return PANEL() > GEMM_MT_NC ? PANEL() : GEMM_MT_NC;           \
	}                                                                     \
                                                                              \
	/* Rows [r0, r1) of columns [c0, c1) of C through the epilogue. */  \
	static void NAME##_epi(const NAME##_job *j, int r0, int r1, int c0,   \
			       int c1)                                        \
	{                                                                     \
		ptrdiff_t at = (ptrdiff_t)r0 * j->ldc + c0;                   \
		if (r1 > r0 && c1 > c0)                                       \
			j->ek(r1 - r0, c1 - c0, j->ldc, j->ea, j->eb,         \
			      j->c + at, j->bias + c0, j->mv + at,            \
			      j->ey ? j->ey + at : NULL);                     \
	}                                                                     \
                                                                              \
	/* Where row block t starts.  With two panels of columns a thread  \
	 * or more: where deal cuts as many columns (home blocks of whole    \
	 * panels, NAME##_run), so that a weight's update cuts its rows      \
	 * where its forward product, which deals them out as columns of C, \
	 * cut them, and the element-wise passes over it their blocks of     \
	 * elements (mlp b32's W1 update cut at row 126 instead of 128 took  \
	 * 56 us after the forward on two threads, 46 when cut at 128: the   \
	 * two rows' lines, and those the forward's reads had fetched beyond \
	 * them, moved between the cores).  Else t / ntasks of the rows, to \
	 * the nearest multiple of GEMM_MT_MR, so that the blocks differ by  \
	 * a tile at most. */                                                \
	static int NAME##_bound(const NAME##_job *j, int t)                   \
	{                                                                     \
		if (t >= j->ntasks)                                           \
			return j->m;                                          \
		int nc = NAME##_panel();                                      \
		int panels = (j->m + nc - 1) / nc;                            \
		int64_t b = panels >= 2 * j->ntasks                           \
				    ? (int64_t)block_start(t, panels,         \
							   j->ntasks) * nc    \
				    : ((int64_t)t * j->m / j->ntasks +        \
				       GEMM_MT_MR / 2) / GEMM_MT_MR *         \
					      GEMM_MT_MR;                     \
		return b < j->m ? (int)b : j->m;                              \
	}                                                                     \
                                                                              \
	/* The block of rows (columns) [lo, lo + len). */                     \
	static void NAME##_block(const NAME##_job *j, int lo, int len)        \
	{                                                                     \
		int m = j->by_rows ? len : j->m, n = j->by_rows ? j->n : len; \
		const REAL *a = j->a, *b = j->b;                              \
		ptrdiff_t at = lo;                                            \
		if (j->by_rows) {                                             \
			a += j->ta ? lo : (ptrdiff_t)lo * j->lda;             \
			at = (ptrdiff_t)lo * j->ldc;                          \
		} else {                                                      \
			b += j->tb ? (ptrdiff_t)lo * j->ldb : lo;             \
		}                                                             \
		if (j->how < 0)                                               \
			SERIAL(j->ta, j->tb, m, n, j->k, j->alpha, a, j->lda, \
			       b, j->ldb, j->beta, j->c + at, j->ldc);        \
		else                                                          \
			SERIAL_UPD(j->ta, j->tb, m, n, j->k, j->alpha, a,     \
				   j->lda, b, j->ldb, j->c + at, j->ldc,      \
				   j->how, j->lr, j->w ? j->w + at : NULL);   \
		if (j->ek)                                                    \
			NAME##_epi(j, j->by_rows ? lo : 0,                    \
				   j->by_rows ? lo + len : j->m,              \
				   j->by_rows ? 0 : lo,                       \
				   j->by_rows ? j->n : lo + len);             \
	}                                                                     \
                                                                              \
	/* Tiles [lo, hi) of j->nc columns (deal). */                        \
	static void NAME##_cols(void *ctx, int lo, int hi, void *scratch)     \
	{                                                                     \
		const NAME##_job *j = ctx;                                    \
		int end = hi * j->nc < j->n ? hi * j->nc : j->n;              \
		(void)scratch;                                                \
		NAME##_block(j, lo * j->nc, end - lo * j->nc);                \
	}                                                                     \
                                                                              \
	/* Row block t (the cut by rows). */                                 \
	static void NAME##_task(void *ctx, int t)                             \
	{                                                                     \
		const NAME##_job *j = ctx;                                    \
		int lo = NAME##_bound(j, t);                                  \
		int len = NAME##_bound(j, t + 1) - lo;                        \
		if (len > 0)                                                  \
			NAME##_block(j, lo, len);                             \
	}                                                                     \
                                                                              \
	/* Cut along k (GEMM_MT_K): task 0 the first chunk into C, task 1   \
	 * the second's sums into part. */                                  \
	static void NAME##_ktask(void *ctx, int t, int thread)                \
	{                                                                     \
		const NAME##_job *j = ctx;                                    \
		int kc = PCG_GEMM_KC;                                         \
		(void)thread;                                                 \
		if (t == 0)                                                   \
			SERIAL(j->ta, j->tb, j->m, j->n, kc, j->alpha, j->a,  \
			       j->lda, j->b, j->ldb, j->beta, j->c, j->ldc);  \
		else if (t == 1)                                              \
			SERIAL(j->ta, j->tb, j->m, j->n, j->k - kc, j->alpha, \
			       j->a + (j->ta ? (ptrdiff_t)kc * j->lda : kc),  \
			       j->lda,                                        \
			       j->b + (j->tb ? kc : (ptrdiff_t)kc * j->ldb),  \
			       j->ldb, 0, j->part, j->n);                     \
	}                                                                     \
                                                                              \
	/* Then C = part + C, a block of rows a task: the contract's        \
	 * c = alpha s_1 + c with alpha 1 (one rounding, fused or not). */   \
	static void NAME##_kmerge(void *ctx, int t, int thread)               \
	{                                                                     \
		const NAME##_job *j = ctx;                                    \
		(void)thread;                                                 \
		for (int i = block_start(t, j->m, j->ntasks);                 \
		     i < block_start(t + 1, j->m, j->ntasks); i++) {          \
			REAL *restrict c = j->c + (ptrdiff_t)i * j->ldc;      \
			const REAL *restrict q = j->part + (ptrdiff_t)i * j->n; \
			for (int x = 0; x < j->n; x++)                        \
				c[x] = q[x] + c[x];                           \
		}                                                             \
		if (j->ek)                                                    \
			NAME##_epi(j, block_start(t, j->m, j->ntasks),        \
				   block_start(t + 1, j->m, j->ntasks), 0,    \
				   j->n);                                     \
	}                                                                     \
                                                                              \
	/* The product cut along k when GEMM_MT_K says so and the pool and  \
	 * a thread's scratch can be had; else 0, nothing done. */           \
	static int NAME##_ksplit(pcg_pool *pool, NAME##_job *j, int threads)  \
	{                                                                     \
		if (!GEMM_MT_K(j, threads) || !pool_acquire(pool))            \
			return 0;                                             \
		j->part = pool_scratch(pool, 1,                               \
				       sizeof(REAL) * (size_t)j->m * j->n);   \
		if (j->part) {                                                \
			pool_run_acquired(pool, 2, NAME##_ktask, j);          \
			j->ntasks = threads < j->m ? threads : j->m;          \
			pool_run_acquired(pool, j->ntasks, NAME##_kmerge, j); \
		}                                                             \
		pool_release(pool);                                           \
		return j->part != NULL;                                       \
	}                                                                     \
                                                                              \
	static void NAME##_run(pcg_pool *pool, NAME##_job *j)                 \
	{                                                                     \
		int threads = pcg_pool_threads(pool);                         \
		if (!MT_SPLIT || threads < 2 || j->m <= 0 || j->n <= 0 ||     \
		    (int64_t)j->m * j->n * (j->k > 0 ? j->k : 1) <            \
			    pool_min_macs(pool)) {                            \
			j->by_rows = 1;                                       \
			NAME##_block(j, 0, j->m);                             \
			return;                                               \
		}                                                             \
		if (NAME##_ksplit(pool, j, threads))                          \
			return;                                               \
		j->by_rows = GEMM_MT_ROWS(j->m, j->n, threads);               \
		if (!j->by_rows) {                                            \
			/* tiles of columns dealt out, balanced (deal); a cut \
			 * by rows packs all of op(B) for each call, so the   \
			 * rows stay in one block a thread */                 \
			j->nc = NAME##_panel();                               \
			int tiles = (j->n + j->nc - 1) / j->nc;               \
			if (!deal(pool, tiles, threads, NAME##_cols, j, NULL, \
				  0))                                         \
				NAME##_block(j, 0, j->n);                     \
			return;                                               \
		}                                                             \
		j->ntasks = (j->m + GEMM_MT_MR - 1) / GEMM_MT_MR;             \
		if (j->ntasks > threads)                                      \
			j->ntasks = threads;                                  \
		pcg_pool_run(pool, j->ntasks, NAME##_task, j);                \
	}                                                                     \
                                                                              \
	void NAME(pcg_pool *pool, int trans_a, int trans_b, int m, int n,     \
		  int k, REAL alpha, const REAL *a, int lda, const REAL *b,   \
		  int ldb, REAL beta, REAL *c, int ldc)                       \
	{                                                                     \
		NAME##_job j = {.ta = trans_a, .tb = trans_b, .m = m, .n = n, \
				.k = k, .lda = lda, .ldb = ldb, .ldc = ldc,   \
				.alpha = alpha, .beta = beta, .a = a, .b = b, \
				.c = c, .how = -1};                           \
		NAME##_run(pool, &j);                                         \
	}                                                                     \
                                                                              \
	void NAME_UPD(pcg_pool *pool, int trans_a, int trans_b, int m,        \
			int n, int k, REAL alpha, const REAL *a, int lda,     \
			const REAL *b, int ldb, REAL *c, int ldc, int how,    \
			REAL lr, REAL *w)                                     \
	{                                                                     \
		NAME##_job j = {.ta = trans_a, .tb = trans_b, .m = m, .n = n, \
				.k = k, .lda = lda, .ldb = ldb, .ldc = ldc,   \
				.alpha = alpha, .a = a, .b = b, .c = c,       \
				.how = how, .lr = lr, .w = w};                \
		NAME##_run(pool, &j);                                         \
	}                                                                     \
                                                                              \
	void NAME_EP(pcg_pool *pool, int trans_a, int trans_b, int m, int n,  \
		     int k, REAL alpha, const REAL *a, int lda,               \
		     const REAL *b, int ldb, REAL beta, REAL *c, int ldc,     \
		     KERNEL ek, REAL ea, REAL eb, const REAL *bias, REAL *mv, \
		     REAL *y)                                                 \
	{                                                                     \
		NAME##_job j = {.ta = trans_a, .tb = trans_b, .m = m, .n = n, \
				.k = k, .lda = lda, .ldb = ldb, .ldc = ldc,   \
				.alpha = alpha, .beta = beta, .a = a, .b = b, \
				.c = c, .how = -1, .ek = ek,                  \
				.ea = ea, .eb = eb, .bias = bias, .mv = mv,   \
				.ey = y};                                     \
		NAME##_run(pool, &j);                                         \
	}

GEMM_MT(pcg_sgemm_mt, pcg_sgemm_upd_mt, pcg_sgemm_ep_mt, pcg_sgemm,
	pcg_sgemm_upd, float, pcg_ep_kernel_f, pcg_gemm_panel_cols_f)
GEMM_MT(pcg_dgemm_mt, pcg_dgemm_upd_mt, pcg_dgemm_ep_mt, pcg_dgemm,
	pcg_dgemm_upd, double, pcg_ep_kernel_d, pcg_gemm_panel_cols_d)

/* -------------------------------------------------------- convolutions */

/*
 * A convolution over a batch as im2col + GEMM (the generated code's
 * loops, moved here so that they can use the pool): for sample b and
 * group gi, with col the sample's columns ((C kh kw) x (OH OW)) and K
 * viewed as O x (C/G kh kw),
 *   forward  y[b][gi]  = K[gi] col[gi]
 *   dK       dK[gi]   (+)= dy[b][gi] col[gi]^T, b = 0, 1, ... in order
 *   dx       col[gi]   = K[gi]^T dy[b][gi], then dx[b] (+)= col2im(col)
 * With a pool, the forward pass and dx deal out samples (a block of
 * consecutive samples a thread, balanced at the blocks' ends by deal,
 * as the element-wise passes before and after cut the batch, so that a
 * thread finds its samples in its own cache; each thread with its own
 * columns: the caller's col, the others the pool's scratch); dK either deals out blocks of samples whose terms
 * are then merged in order (dk_split_job, where the direct convolution
 * takes it and that moves less between the cores) or blocks of dK's
 * columns (over all groups), for which a thread builds only the matching
 * rows of col, sample after sample, so that every element of dK is still
 * summed over the batch in order.  Every element is computed by the
 * operations of the loop on one
 * thread, so the bits are the same.  x_step and y_step are the distances
 * between samples (0: the same tensor for every sample; dx then runs on
 * one thread, as its samples add into one dx).  A batch of one sample
 * (and dx of one x) spreads each product over the pool instead.
 *
 * Where pcg_gemm.c's direct convolutions take the geometry (unit-stride
 * rows; pcg_dconv.h), a sample's forward pass, its dx and a block of
 * dK's columns are computed without the columns, with the same bits
 * (the same operations in the same order: pcg_dconv_tmpl.h); the rest
 * of the time below goes to the im2col path.
 */
typedef struct {
	const pcg_conv_geo *g;
	int batch, acc;
	ptrdiff_t xs, ys;
	const void *x, *k, *dy;
	void *out;
	void *tmp; /* dK: a block's sum, dK's size (conv_dk_chain) */
} conv_job;

/* The reals of one sample's im2col columns (all groups): the scratch a
 * thread needs, which the direct convolutions may use instead. */
static size_t
conv_col_reals(const pcg_conv_geo *g)
{
	return (size_t)g->c * g->kh * g->kw * g->oh * g->ow;
}

/*
 * The products of the forward pass and of dK, transposed.  A convolution
 * has few output channels (8 or 16 in the examples), and a product with
 * so few rows, y = K col (Og x P x CKg) or dK = dy col^T (Og x CKg x P),
 * spends its time packing col for a handful of rows.  Its transpose,
 * y^T = col^T K^T (P x Og x CKg) or dK^T = col dy^T (CKg x Og x P),
 * packs the small operand instead: with 16 channels, 1.5-2.0x the speed
 * of pcg_sgemm on the examples' shapes (bench/conv_bench: 1.04-1.28x the
 * whole convolution, im2col included).  With fewer than CONV_TILE_MIN_O
 * channels the transposed product's columns fill too little of the
 * GEMM's micro-tile (16 floats wide with AVX2) to gain: 8 channels were
 * measured no faster either way.  The result is computed in a tile on the
 * stack, PCG_CONV_TILE_BYTES (a few rows of y^T, or of dK^T over the
 * whole batch), and copied transposed into y or dK; up to
 * CONV_TILE_MAX_O channels a group, so that a tile has at least 16 rows
 * (-DPCG_CONV_TILE_BYTES=0, for a small stack, turns the tiles off).
 * The forward pass copies every element of y once more, which a product
 * with k < CONV_TILE_MIN_K does not repay (resnet's 1x1 convolution, k =
 * 8, was 1.3-1.5x slower tiled); dK copies its tile once a batch.
 * The bits are the same: an element's sum is over the same k in the same
 * order (pcg_gemm.c's contract: it depends on k only, not on the
 * transposes or the shape); dK's tile starts from dK itself when acc,
 * and beta is 1 after the first sample, as in the product on dK.
 */
#ifndef PCG_CONV_TILE_BYTES
#define PCG_CONV_TILE_BYTES 4096
#endif
#define CONV_TILE_MIN_O 12
#define CONV_TILE_MIN_K 32
/* Reals of a tile (at least one, so that the array is valid C when the
 * tiles are off), and the channels a group for which it has 16 rows. */
#define CONV_TILE_REALS(REAL)                                                 \
	((int)(PCG_CONV_TILE_BYTES >= sizeof(REAL)                            \
		       ? PCG_CONV_TILE_BYTES / sizeof(REAL)                   \
		       : 1))
#define CONV_TILE_MAX_O(REAL) ((int)(PCG_CONV_TILE_BYTES / sizeof(REAL) / 16))
#define CONV_TILED(REAL, Og)                                                  \
	((Og) >= CONV_TILE_MIN_O && (Og) <= CONV_TILE_MAX_O(REAL))
/* The tiles live in functions of their own, never inlined, entered only
 * for the products they serve: other convolutions do not reserve their
 * stack (as pcg_gemm.c's panels). */
#if defined(__GNUC__) || defined(__clang__)
#define CONV_NOINLINE __attribute__((noinline))
#else
#define CONV_NOINLINE
#endif

/*
 * dK sums the batch in blocks of PCG_CONV_DK_BLOCK samples (pcg_runtime.h):
 * the first block onto dK (acc) or from its first term, each later block
 * summed from its first term on its own and then added to dK, in order.
 * On the pool the blocks are dealt out in runs of consecutive blocks, a
 * run a task, in two runs of the pool: first task 0 sums its blocks into
 * dK as one thread does, and every other task sums each of its blocks on
 * its own, from x and dy where the passes before it (cut by samples) left
 * them; then each task adds, to its part of dK's elements, the other
 * tasks' block sums in order.  The operations of one thread, so the same
 * bits.  What crosses between the cores is a block's sum, the size of
 * dK, instead of the block's x and dy (cut by columns, every thread read
 * all of the batch's dy, half of it from the other core; cut by samples
 * with a sample's terms kept apart, every term crossed: resnet b16's
 * eight dK passes took 292 us a step on two threads that way, and its
 * step on two threads was 1.61-1.63x one thread's, 1.68-1.70x with block
 * sums: bench/pool_bench).  Only where a block's sum is smaller than what
 * the column cut moves for it (its x and twice its dy).
 */
typedef struct {
	const conv_job *j;
	void *buf[PCG_POOL_MAX_THREADS]; /* task t's block sums, then its
					  * working scratch */
	int ntasks, nblk; /* nblk blocks of samples */
	int direct;       /* the direct dK over every column, or conv_dk_block */
	size_t dkn;       /* reals of dK */
	size_t work;      /* reals of a task's working scratch */
} dk_split_job;

#define CONV_MT(T, REAL, GEMM, GEMM_MT)                                       \
	/* dk = q + dk over n elements: a later block's sum added to dK. */   \
	static void dk_add_##T(REAL *restrict dk, const REAL *restrict q,     \
			       size_t n)                                      \
	{                                                                     \
		for (size_t i = 0; i < n; i++)                                \
			dk[i] = q[i] + dk[i];                                 \
	}                                                                     \
                                                                              \
	/* y (Og x P) = k (Og x CKg) col (CKg x P), by tiles of y^T. */     \
	static CONV_NOINLINE void conv_fwd_tiled_##T(int Og, int P, int CKg,  \
						     const REAL *k,           \
						     const REAL *col, REAL *y) \
	{                                                                     \
		REAL tile[CONV_TILE_REALS(REAL)];                             \
		int tp = CONV_TILE_REALS(REAL) / Og;                          \
		for (int p0 = 0; p0 < P; p0 += tp) {                          \
			int np = P - p0 < tp ? P - p0 : tp;                   \
			GEMM(1, 1, np, Og, CKg, 1, col + p0, P, k, CKg, 0,    \
			     tile, Og);                                       \
			for (int o = 0; o < Og; o++)                          \
				for (int i = 0; i < np; i++)                  \
					y[(ptrdiff_t)o * P + p0 + i] =        \
						tile[i * Og + o];             \
		}                                                             \
	}                                                                     \
                                                                              \
	static void conv_fwd_product_##T(int Og, int P, int CKg,              \
					 const REAL *k, const REAL *col,      \
					 REAL *y)                             \
	{                                                                     \
		if (CONV_TILED(REAL, Og) && CKg >= CONV_TILE_MIN_K)           \
			conv_fwd_tiled_##T(Og, P, CKg, k, col, y);            \
		else                                                          \
			GEMM(0, 0, Og, P, CKg, 1, k, CKg, col, P, 0, y, P);   \
	}                                                                     \
                                                                              \
	/* Columns c0 .. c1-1 of group gi's dK, summed over the batch: on dK  \
	 * itself, or when tile is not NULL by tiles of dK^T. */              \
	static void conv_dk_cols_##T(const conv_job *j, int gi, int c0,       \
				     int c1, REAL *col, REAL *tile)           \
	{                                                                     \
		const pcg_conv_geo *g = j->g;                                 \
		int P = g->oh * g->ow, CKg = g->c / g->groups * g->kh * g->kw; \
		int Og = g->o / g->groups;                                    \
		const REAL *dy = (const REAL *)j->dy + (ptrdiff_t)gi * Og * P; \
		REAL *dk = (REAL *)j->out + (ptrdiff_t)gi * Og * CKg;         \
		int tc = tile ? CONV_TILE_REALS(REAL) / Og : c1 - c0;         \
		for (int t0 = c0; t0 < c1; t0 += tc) {                        \
			int nc = c1 - t0 < tc ? c1 - t0 : tc;                 \
			if (tile && j->acc)                                   \
				for (int c = 0; c < nc; c++)                  \
					for (int o = 0; o < Og; o++)          \
						tile[c * Og + o] =            \
							dk[(ptrdiff_t)o * CKg \
							   + t0 + c];         \
			for (int b = 0; b < j->batch; b++) {                  \
				pcg_im2col_rows_##T(                          \
					g->c, g->h, g->w, g->kh, g->kw,       \
					g->sh, g->sw, g->ph, g->pw, g->dh,    \
					g->dw, g->oh, g->ow, gi * CKg + t0,   \
					gi * CKg + t0 + nc,                   \
					(const REAL *)j->x + b * j->xs, col); \
				if (tile)                                     \
					GEMM(0, 1, nc, Og, P, 1, col, P,      \
					     dy + b * j->ys, P,               \
					     j->acc || b ? 1 : 0, tile, Og);  \
				else                                          \
					GEMM(0, 1, Og, nc, P, 1,              \
					     dy + b * j->ys, P, col, P,       \
					     j->acc || b ? 1 : 0, dk + t0,    \
					     CKg);                            \
			}                                                     \
			if (tile)                                             \
				for (int o = 0; o < Og; o++)                  \
					for (int c = 0; c < nc; c++)          \
						dk[(ptrdiff_t)o * CKg + t0 +  \
						   c] = tile[c * Og + o];     \
		}                                                             \
	}                                                                     \
                                                                              \
	static CONV_NOINLINE void conv_dk_tiled_##T(const conv_job *j,        \
						    int gi, int c0, int c1,   \
						    REAL *col)                \
	{                                                                     \
		REAL tile[CONV_TILE_REALS(REAL)];                             \
		conv_dk_cols_##T(j, gi, c0, c1, col, tile);                   \
	}                                                                     \
                                                                              \
	/* Samples lo .. hi-1 of the forward pass. */                         \
	static void conv_fwd_block_##T(void *ctx, int lo, int hi, void *s)    \
	{                                                                     \
		const conv_job *j = ctx;                                      \
		const pcg_conv_geo *g = j->g;                                 \
		int P = g->oh * g->ow, CKg = g->c / g->groups * g->kh * g->kw; \
		int Og = g->o / g->groups;                                    \
		REAL *col = s;                                                \
		size_t ncol = conv_col_reals(g);                               \
		if (pcg_dconv_fwd_##T(g, hi - lo,                             \
				      (const REAL *)j->x + lo * j->xs, j->xs, \
				      j->k, (REAL *)j->out + lo * j->ys,      \
				      j->ys, col, ncol))                      \
			return;                                               \
		for (int b = lo; b < hi; b++) {                               \
			pcg_im2col_rows_##T(g->c, g->h, g->w, g->kh, g->kw,   \
					    g->sh, g->sw, g->ph, g->pw,       \
					    g->dh, g->dw, g->oh, g->ow, 0,     \
					    g->c * g->kh * g->kw,             \
					    (const REAL *)j->x + b * j->xs,    \
					    col);                             \
			for (int gi = 0; gi < g->groups; gi++)                \
				conv_fwd_product_##T(                         \
					Og, P, CKg,                           \
					(const REAL *)j->k +                  \
						(ptrdiff_t)gi * Og * CKg,     \
					col + (ptrdiff_t)gi * CKg * P,        \
					(REAL *)j->out + b * j->ys +          \
						(ptrdiff_t)gi * Og * P);      \
		}                                                             \
	}                                                                     \
                                                                              \
	/* Samples lo .. hi-1 of dx. */                                       \
	static void conv_dx_block_##T(void *ctx, int lo, int hi, void *s)     \
	{                                                                     \
		const conv_job *j = ctx;                                      \
		const pcg_conv_geo *g = j->g;                                 \
		int P = g->oh * g->ow, CKg = g->c / g->groups * g->kh * g->kw; \
		int Og = g->o / g->groups;                                    \
		REAL *col = s;                                                \
		size_t ncol = conv_col_reals(g);                               \
		if (pcg_dconv_dx_##T(g, hi - lo, j->acc, j->k,                \
				     (const REAL *)j->dy + lo * j->ys, j->ys,  \
				     (REAL *)j->out + lo * j->xs, j->xs, col,  \
				     ncol))                                   \
			return;                                               \
		for (int b = lo; b < hi; b++) {                               \
			for (int gi = 0; gi < g->groups; gi++)                \
				GEMM(1, 0, CKg, P, Og, 1,                     \
				     (const REAL *)j->k +                     \
					     (ptrdiff_t)gi * Og * CKg,        \
				     CKg,                                     \
				     (const REAL *)j->dy + b * j->ys +        \
					     (ptrdiff_t)gi * Og * P,          \
				     P, 0, col + (ptrdiff_t)gi * CKg * P, P); \
			pcg_col2im_ex_##T(g->c, g->h, g->w, g->kh, g->kw,     \
					  g->sh, g->sw, g->ph, g->pw, g->dh,  \
					  g->dw, g->oh, g->ow, j->acc, col,   \
					  (REAL *)j->out + b * j->xs);        \
		}                                                             \
	}                                                                     \
                                                                              \
	/* Columns lo .. hi-1 of dK, counted over the groups (group gi's      \
	 * column c is gi CKg + c), summed over the whole batch. */           \
	static void conv_dk_block_##T(void *ctx, int lo, int hi, void *s)     \
	{                                                                     \
		const conv_job *j = ctx;                                      \
		const pcg_conv_geo *g = j->g;                                 \
		int CKg = g->c / g->groups * g->kh * g->kw;                   \
		int Og = g->o / g->groups;                                    \
		if (pcg_dconv_dk_##T(g, j->batch, j->acc, j->x, j->xs, j->dy, \
				     j->ys, j->out, lo, hi, s,                \
				     conv_col_reals(g)))                      \
			return;                                               \
		/* a block whose dK^T the scratch cannot hold: the direct dK  \
		 * by narrower blocks, each column computed as in a wide one  \
		 * (resnet's strided 3x3 dK, 8 -> 16 channels: 103 us a pass  \
		 * through the columns on one thread, 35 us on two) */        \
		for (int w = hi - lo; w > 1;) {                               \
			w = (w + 1) / 2;                                      \
			if (!pcg_dconv_dk_##T(g, j->batch, j->acc, j->x,      \
					      j->xs, j->dy, j->ys, j->out,    \
					      lo, lo + w, s,                  \
					      conv_col_reals(g)))             \
				continue;                                     \
			for (int c = lo + w; c < hi; c += w)                  \
				(void)pcg_dconv_dk_##T(                       \
					g, j->batch, j->acc, j->x, j->xs,     \
					j->dy, j->ys, j->out, c,              \
					hi - c < w ? hi : c + w, s,           \
					conv_col_reals(g));                   \
			return;                                               \
		}                                                             \
		for (int gi = lo / CKg; gi * CKg < hi; gi++) {                \
			int c0 = lo > gi * CKg ? lo - gi * CKg : 0;           \
			int c1 = hi < (gi + 1) * CKg ? hi - gi * CKg : CKg;   \
			if (CONV_TILED(REAL, Og))                             \
				conv_dk_tiled_##T(j, gi, c0, c1, s);          \
			else                                                  \
				conv_dk_cols_##T(j, gi, c0, c1, s, NULL);     \
		}                                                             \
	}                                                                     \
                                                                              \
	/* The generated code's loop, each product on the pool. */            \
	static void conv_loop_##T(pcg_pool *pool, int pass, conv_job *j,      \
				  REAL *col)                                  \
	{                                                                     \
		const pcg_conv_geo *g = j->g;                                 \
		int P = g->oh * g->ow, CKg = g->c / g->groups * g->kh * g->kw; \
		int Og = g->o / g->groups, CK = g->c * g->kh * g->kw;         \
		for (int b = 0; b < j->batch; b++) {                          \
			const REAL *dyb = pass ? (const REAL *)j->dy +        \
							 b * j->ys            \
					       : NULL;                        \
			if (pass <= 1)                                        \
				pcg_im2col_rows_##T(                          \
					g->c, g->h, g->w, g->kh, g->kw,       \
					g->sh, g->sw, g->ph, g->pw, g->dh,    \
					g->dw, g->oh, g->ow, 0, CK,           \
					(const REAL *)j->x + b * j->xs, col); \
			for (int gi = 0; gi < g->groups; gi++) {              \
				ptrdiff_t gk = (ptrdiff_t)gi * Og * CKg;      \
				ptrdiff_t gc = (ptrdiff_t)gi * CKg * P;       \
				ptrdiff_t gy = (ptrdiff_t)gi * Og * P;        \
				if (pass == 0)                                \
					GEMM_MT(pool, 0, 0, Og, P, CKg, 1,    \
						(const REAL *)j->k + gk, CKg, \
						col + gc, P, 0,               \
						(REAL *)j->out + b * j->ys +  \
							gy,                   \
						P);                           \
				else if (pass == 1)                           \
					GEMM_MT(pool, 0, 1, Og, CKg, P, 1,    \
						dyb + gy, P, col + gc, P,     \
						j->acc || b ? 1 : 0,          \
						(REAL *)j->out + gk, CKg);    \
				else                                          \
					GEMM_MT(pool, 1, 0, CKg, P, Og, 1,    \
						(const REAL *)j->k + gk, CKg, \
						dyb + gy, P, 0, col + gc, P); \
			}                                                     \
			if (pass == 2)                                        \
				pcg_col2im_ex_##T(                            \
					g->c, g->h, g->w, g->kh, g->kw,       \
					g->sh, g->sw, g->ph, g->pw, g->dh,    \
					g->dw, g->oh, g->ow, j->acc, col,     \
					(REAL *)j->out + b * j->xs);          \
		}                                                             \
	}                                                                     \
                                                                              \
	/* Samples b0 .. b1-1 summed onto out (acc) or from their first      \
	 * term, in columns lo .. hi-1 (as conv_dk_block): over every column   \
	 * by the direct dK when work (its reals of scratch s) is not 0,     \
	 * else by conv_dk_block. */                                          \
	static void conv_dk_sum_##T(const conv_job *j, int b0, int b1,        \
				    int acc, REAL *out, int lo, int hi,       \
				    REAL *s, size_t work)                     \
	{                                                                     \
		conv_job jb = *j;                                             \
		jb.batch = b1 - b0;                                           \
		jb.acc = acc;                                                 \
		jb.x = (const REAL *)j->x + b0 * j->xs;                       \
		jb.dy = (const REAL *)j->dy + b0 * j->ys;                     \
		jb.out = out;                                                 \
		if (!work || !pcg_dconv_dk_##T(j->g, jb.batch, acc, jb.x,     \
					       j->xs, jb.dy, j->ys, out, lo,  \
					       hi, s, work))                  \
			conv_dk_block_##T(&jb, lo, hi, s);                    \
	}                                                                     \
                                                                              \
	/* Columns lo .. hi-1 of dK over the batch's samples (j->batch), a   \
	 * block of PCG_CONV_DK_BLOCK samples at a time: the first onto dK,  \
	 * each later one summed into j->tmp and then added (dk_add, along   \
	 * each group's rows). */                                             \
	static void conv_dk_chain_##T(const conv_job *j, int lo, int hi,      \
				      REAL *s, size_t work)                   \
	{                                                                     \
		const pcg_conv_geo *g = j->g;                                 \
		int ck = g->c / g->groups * g->kh * g->kw;                    \
		int og = g->o / g->groups, B = PCG_CONV_DK_BLOCK;             \
		REAL *dk = j->out, *tmp = j->tmp;                             \
		conv_dk_sum_##T(j, 0, j->batch < B ? j->batch : B, j->acc,    \
				dk, lo, hi, s, work);                         \
		for (int b0 = B; b0 < j->batch; b0 += B) {                    \
			conv_dk_sum_##T(j, b0,                                \
					j->batch - b0 < B ? j->batch : b0 + B, \
					0, tmp, lo, hi, s, work);             \
			for (int gi = lo / ck; gi * ck < hi; gi++) {          \
				int c0 = lo > gi * ck ? lo - gi * ck : 0;     \
				int c1 = hi < (gi + 1) * ck ? hi - gi * ck    \
							    : ck;             \
				for (int o = 0; o < og; o++) {                \
					ptrdiff_t at =                        \
						((ptrdiff_t)gi * og + o) * ck; \
					dk_add_##T(dk + at + c0,              \
						   tmp + at + c0, c1 - c0);   \
				}                                             \
			}                                                     \
		}                                                             \
	}                                                                     \
                                                                              \
	/* The deal's block: columns lo .. hi-1, by conv_dk_block. */         \
	static void conv_dk_blocked_##T(void *ctx, int lo, int hi, void *s)   \
	{                                                                     \
		conv_dk_chain_##T(ctx, lo, hi, s, 0);                         \
	}                                                                     \
                                                                              \
	/* dk_split_job's first run: task t's blocks, task 0's onto dK (the   \
	 * sum on one thread, up to its last block, every column at once),   \
	 * every other task's each on its own in its scratch. */              \
	static void conv_dk_part_##T(void *ctx, int t, int thread)            \
	{                                                                     \
		const dk_split_job *d = ctx;                                  \
		const conv_job *j = d->j;                                     \
		int k0 = block_start(t, d->nblk, d->ntasks);                  \
		int k1 = block_start(t + 1, d->nblk, d->ntasks);              \
		int B = PCG_CONV_DK_BLOCK;                                    \
		int cols = j->g->c * j->g->kh * j->g->kw;                     \
		size_t work = d->direct ? d->work : 0;                        \
		REAL *sums = d->buf[t], *s = sums + (k1 - k0) * d->dkn;       \
		(void)thread;                                                 \
		if (t == 0) {                                                 \
			conv_job j0 = *j;                                     \
			j0.batch = k1 * B < j->batch ? k1 * B : j->batch;     \
			j0.tmp = sums;                                        \
			conv_dk_chain_##T(&j0, 0, cols, s, work);             \
			return;                                               \
		}                                                             \
		for (int k = k0; k < k1; k++)                                 \
			conv_dk_sum_##T(j, k * B,                             \
					(k + 1) * B < j->batch ? (k + 1) * B  \
							       : j->batch,    \
					0, sums + (k - k0) * d->dkn, 0, cols, \
					s, work);                             \
	}                                                                     \
                                                                              \
	/* Its second: task t's block of dK's elements plus the other tasks' \
	 * block sums, in order. */                                           \
	static void conv_dk_merge_##T(void *ctx, int t, int thread)           \
	{                                                                     \
		const dk_split_job *d = ctx;                                  \
		REAL *dk = d->j->out;                                         \
		size_t lo = d->dkn * t / d->ntasks / 16 * 16;                 \
		size_t hi = t + 1 == d->ntasks                                \
				    ? d->dkn                                  \
				    : d->dkn * (t + 1) / d->ntasks / 16 * 16; \
		(void)thread;                                                 \
		for (int u = 1; u < d->ntasks; u++) {                         \
			int nk = block_start(u + 1, d->nblk, d->ntasks) -     \
				 block_start(u, d->nblk, d->ntasks);          \
			for (int k = 0; k < nk; k++) {                        \
				const REAL *q =                               \
					(const REAL *)d->buf[u] + k * d->dkn; \
				dk_add_##T(dk + lo, q + lo, hi - lo);         \
			}                                                     \
		}                                                             \
	}                                                                     \
                                                                              \
	/* dK in two runs (dk_split_job) on up to ntasks tasks; 0 when the    \
	 * batch is one block, a block's sum would not pay or the scratch     \
	 * cannot be had.  A block is done as on one thread: by the direct    \
	 * convolution where it takes some of dK's columns in the column      \
	 * scratch (then over every column at once), else by im2col and the  \
	 * GEMM (resnet's 1x1 projection, whose direct dK copies the strided  \
	 * input: 23 us for 16 samples, 11 that way). */                      \
	static int conv_dk_split_##T(pcg_pool *pool, const conv_job *j,       \
				     int ntasks)                              \
	{                                                                     \
		const pcg_conv_geo *g = j->g;                                 \
		int P = g->oh * g->ow, og = g->o / g->groups;                 \
		int cols = g->c * g->kh * g->kw, B = PCG_CONV_DK_BLOCK;       \
		int nblk = (j->batch + B - 1) / B;                            \
		size_t dkn = (size_t)cols * og;                               \
		size_t direct = pcg_dconv_dk_reals(g);                        \
		int64_t moved = (j->xs ? (int64_t)g->c * g->h * g->w : 0) +   \
				2 * (int64_t)g->o * P;                        \
		if (direct > 0 && !pcg_dconv_dk_##T(g, 0, 0, NULL, 0, NULL,   \
						    0, NULL, 0, 1, NULL,      \
						    conv_col_reals(g)))       \
			direct = 0;                                           \
		if (ntasks > nblk)                                            \
			ntasks = nblk;                                        \
		if (ntasks < 2 || (int64_t)dkn >= B * moved)                  \
			return 0;                                             \
		if (!pool_acquire(pool))                                      \
			return 0;                                             \
		dk_split_job d = {j, {NULL}, ntasks, nblk, direct > 0, dkn,   \
				  direct > conv_col_reals(g)                  \
					  ? direct                            \
					  : conv_col_reals(g)};               \
		int have = 1;                                                 \
		for (int t = 0; have && t < ntasks; t++) {                    \
			int nk = block_start(t + 1, nblk, ntasks) -           \
				 block_start(t, nblk, ntasks);                \
			d.buf[t] = pool_scratch(pool, t,                      \
						(nk * dkn + d.work) *         \
							sizeof(REAL));        \
			have = d.buf[t] != NULL;                              \
		}                                                             \
		if (have) {                                                   \
			pool_run_acquired(pool, ntasks, conv_dk_part_##T, &d); \
			pool_run_acquired(pool, ntasks, conv_dk_merge_##T, &d); \
		}                                                             \
		pool_release(pool);                                           \
		return have;                                                  \
	}                                                                     \
                                                                              \
	/* pass 0: forward, 1: dK, 2: dx. */                                  \
	static void conv_##T(pcg_pool *pool, int pass, conv_job *j, REAL *col) \
	{                                                                     \
		const pcg_conv_geo *g = j->g;                                 \
		int threads = pcg_pool_threads(pool);                         \
		int P = g->oh * g->ow, CK = g->c * g->kh * g->kw;             \
		int64_t macs = (int64_t)j->batch * g->o * (CK / g->groups) * P; \
		/* forward and dx: a block of samples a thread, balanced at   \
		 * its end (deal; dealt one by one as they came, samples      \
		 * moved between the cores' caches: resnet b16 on two threads \
		 * was 2 % slower, 5 % when the machine gave them less); dK:  \
		 * a block of its columns a thread.  Forward and dx are cut   \
		 * from pool_min_local: their samples are where the passes    \
		 * before and after have them */                              \
		int n = pass == 1 ? g->groups * (CK / g->groups) : j->batch;  \
		int ntasks = threads;                                         \
		if (!MT_SPLIT || threads < 2 || macs < pool_min_local(pool)) { \
			ntasks = 1;                                           \
		} else if (pass == 1 && conv_dk_split_##T(pool, j, threads)) { \
			return;                                               \
		} else if (pass == 1 && macs < pool_min_macs(pool)) {         \
			ntasks = 1;                                           \
		} else if ((pass != 1 && j->batch < 2) ||                     \
			   (pass == 2 && j->xs == 0)) {                       \
			conv_loop_##T(pool, pass, j, col);                    \
			return;                                               \
		}                                                             \
		if (n <= 0 || deal(pool, n, ntasks,                           \
				   pass == 0   ? conv_fwd_block_##T           \
				   : pass == 1 ? conv_dk_blocked_##T          \
					       : conv_dx_block_##T,           \
				   j, col, conv_col_reals(g) * sizeof(REAL))) \
			return;                                               \
		if (pass == 0)                                                \
			conv_fwd_block_##T(j, 0, n, col);                     \
		else if (pass == 1)                                           \
			conv_dk_blocked_##T(j, 0, n, col);                    \
		else                                                          \
			conv_dx_block_##T(j, 0, n, col);                      \
	}                                                                     \
                                                                              \
	void pcg_conv_##T(pcg_pool *pool, const pcg_conv_geo *g, int batch,   \
			  const REAL *x, ptrdiff_t x_step, const REAL *k,     \
			  REAL *y, ptrdiff_t y_step, REAL *col)               \
	{                                                                     \
		conv_job j = {g, batch, 0, x_step, y_step, x, k, NULL, y, NULL}; \
		conv_##T(pool, 0, &j, col);                                   \
	}                                                                     \
                                                                              \
	void pcg_conv_dk_##T(pcg_pool *pool, const pcg_conv_geo *g,           \
			     int batch, int acc, const REAL *x,               \
			     ptrdiff_t x_step, const REAL *dy,                \
			     ptrdiff_t y_step, REAL *dk, REAL *col)           \
	{                                                                     \
		conv_job j = {g,  batch, acc, x_step,                         \
			      y_step, x, NULL, dy,                            \
			      dk, col + conv_col_reals(g)};                   \
		conv_##T(pool, 1, &j, col);                                   \
	}                                                                     \
                                                                              \
	void pcg_conv_dx_##T(pcg_pool *pool, const pcg_conv_geo *g,           \
			     int batch, int acc, const REAL *k,               \
			     const REAL *dy, ptrdiff_t y_step, REAL *dx,      \
			     ptrdiff_t x_step, REAL *col)                     \
	{                                                                     \
		conv_job j = {g,  batch, acc, x_step, y_step,                 \
			      NULL, k, dy,  dx,     NULL};                   \
		conv_##T(pool, 2, &j, col);                                   \
	}

CONV_MT(f, float, pcg_sgemm, pcg_sgemm_mt)
CONV_MT(d, double, pcg_dgemm, pcg_dgemm_mt)

/* --------------------------------------------------------------- pooling */

/*
 * pcg_pool2d and its VJP with the planes dealt out in one block a thread:
 * every plane (of x, dx, y and dy) is computed by the same loop whatever
 * block it is in, so the bits are the same.  Below the pool's min_macs /
 * 32 elements of x, on the caller.
 */
typedef struct {
	int max, planes, h, w, kh, kw, sh, sw, ph, pw, oh, ow, acc;
	void *out;
	const void *in, *x;
} pool2d_job;

#define POOL2D_MT(T, REAL)                                                    \
	static void pool2d_block_##T(void *ctx, int lo, int hi, void *s)      \
	{                                                                     \
		const pool2d_job *j = ctx;                                    \
		ptrdiff_t xo = (ptrdiff_t)lo * j->h * j->w;                   \
		ptrdiff_t yo = (ptrdiff_t)lo * j->oh * j->ow;                 \
		(void)s;                                                      \
		if (j->x)                                                     \
			pcg_pool2d_vjp_##T(j->max, hi - lo, j->h, j->w,       \
					   j->kh, j->kw, j->sh, j->sw, j->ph, \
					   j->pw, j->oh, j->ow, j->acc,       \
					   (REAL *)j->out + xo,               \
					   (const REAL *)j->in + yo,          \
					   (const REAL *)j->x + xo);          \
		else                                                          \
			pcg_pool2d_##T(j->max, hi - lo, j->h, j->w, j->kh,    \
				       j->kw, j->sh, j->sw, j->ph, j->pw,     \
				       j->oh, j->ow, (REAL *)j->out + yo,     \
				       (const REAL *)j->in + xo);             \
	}                                                                     \
                                                                              \
	static void pool2d_split_##T(pcg_pool *pool, pool2d_job *j)           \
	{                                                                     \
		/* an element of x counts as 32 multiply-adds (it costs    \
		 * more: 2 ns in cnn's max-pooling, 140 multiply-adds of    \
		 * the GEMM at 70 per ns) */                                \
		int64_t work = (int64_t)j->planes * j->h * j->w * 32;         \
		if (j->planes > 0 &&                                          \
		    !deal(pool, j->planes,                                    \
			  work < pool_min_macs(pool) ? 1                      \
						     : pcg_pool_threads(pool), \
			  pool2d_block_##T, j, NULL, 0))                      \
			pool2d_block_##T(j, 0, j->planes, NULL);              \
	}                                                                     \
                                                                              \
	void pcg_pool2d_mt_##T(pcg_pool *pool, int max, int planes, int h,    \
			       int w, int kh, int kw, int sh, int sw, int ph, \
			       int pw, int oh, int ow, REAL *y, const REAL *x) \
	{                                                                     \
		pool2d_job j = {max, planes, h, w, kh, kw, sh, sw, ph,        \
				pw,  oh,     ow, 0, y, x,  NULL};             \
		pool2d_split_##T(pool, &j);                                   \
	}                                                                     \
                                                                              \
	void pcg_pool2d_vjp_mt_##T(pcg_pool *pool, int max, int planes,       \
				   int h, int w, int kh, int kw, int sh,      \
				   int sw, int ph, int pw, int oh, int ow,    \
				   int acc, REAL *dx, const REAL *dy,         \
				   const REAL *x)                             \
	{                                                                     \
		pool2d_job j = {max, planes, h, w,   kh, kw, sh, sw, ph,      \
				pw,  oh,     ow, acc, dx, dy, x};             \
		pool2d_split_##T(pool, &j);                                   \
	}

POOL2D_MT(f, float)
POOL2D_MT(d, double)

/* ---------------------------------------------------- element-wise work */

/*
 * The element-wise passes below cut a range of n items (elements, or the
 * indices of a generated kernel's outer loop) into one block a thread,
 * fn(ctx, lo, hi) doing the items [lo, hi); every item gets the same
 * operations whatever block it is in.  Blocks are multiples of 16 items
 * (a cache line of floats) when there are 16 a thread or more, so that
 * two threads do not write one line.  Work under the pool's min_macs
 * (`work`, in the GEMM's multiply-adds) runs on the caller, as one block;
 * `local` work, cut by samples, under pool_min_local.
 */
typedef void (*range_fn)(void *ctx, int lo, int hi);

typedef struct {
	range_fn fn;
	void *ctx;
	int n, step;
} range_job;

static void
range_task(void *ctx, int t)
{
	const range_job *r = ctx;
	int lo = t * r->step;
	r->fn(r->ctx, lo, r->n - lo < r->step ? r->n : lo + r->step);
}

static void
spread(pcg_pool *pool, int n, int64_t work, int local, range_fn fn, void *ctx)
{
	int threads = pcg_pool_threads(pool);
	if (n <= 0)
		return;
	if (threads < 2 || n < 2 ||
	    work < (local ? pool_min_local(pool) : pool_min_macs(pool))) {
		fn(ctx, 0, n);
		return;
	}
	int step = (n + threads - 1) / threads;
	if (n >= 16 * threads)
		step = (step + 15) / 16 * 16;
	range_job r = {fn, ctx, n, step};
	pcg_pool_run(pool, (n + step - 1) / step, range_task, &r);
}

/*
 * Element-wise updates of n reals, an element counted as 8
 * multiply-adds (an element of these loops costs 0.14-0.17 ns on one core
 * here, about what 10 multiply-adds of the GEMM do).
 */
enum { FLAT_SGD, FLAT_CANON, FLAT_ZIL_GRAD, FLAT_CANON_SGD };

typedef struct {
	int op;
	float lr_f; /* the learning rate, in the job's type */
	double lr_d;
	void *w;
	const void *g;
	void *g_rw; /* FLAT_CANON_SGD's gradient, which it writes */
} flat_job;

#define FLAT_MT(T, REAL)                                                      \
	static void flat_block_##T(void *ctx, int lo, int hi)                 \
	{                                                                     \
		const flat_job *j = ctx;                                      \
		REAL *w = (REAL *)j->w + lo;                                  \
		if (j->op == FLAT_SGD)                                        \
			pcg_sgd_##T(hi - lo, j->lr_##T, w,                    \
				    (const REAL *)j->g + lo);                 \
		else if (j->op == FLAT_CANON)                                 \
			pcg_canon_##T(hi - lo, w);                            \
		else if (j->op == FLAT_CANON_SGD)                             \
			pcg_canon_sgd_##T(hi - lo, j->lr_##T, w,              \
					  (REAL *)j->g_rw + lo);              \
		else                                                          \
			pcg_zil_grad_##T(hi - lo, w);                         \
	}                                                                     \
                                                                              \
	static void flat_##T(pcg_pool *pool, int n, flat_job *j)              \
	{                                                                     \
		spread(pool, n, (int64_t)n * 8, 0, flat_block_##T, j);        \
	}                                                                     \
                                                                              \
	void pcg_sgd_mt_##T(pcg_pool *pool, int n, REAL lr, REAL *w,          \
			    const REAL *g)                                    \
	{                                                                     \
		flat_job j = {FLAT_SGD, 0, 0, w, g, NULL};                    \
		j.lr_##T = lr;                                                \
		flat_##T(pool, n, &j);                                        \
	}                                                                     \
                                                                              \
	void pcg_canon_mt_##T(pcg_pool *pool, int n, REAL *g)                 \
	{                                                                     \
		flat_job j = {FLAT_CANON, 0, 0, g, NULL, NULL};               \
		flat_##T(pool, n, &j);                                        \
	}                                                                     \
                                                                              \
	void pcg_zil_grad_mt_##T(pcg_pool *pool, int n, REAL *g)              \
	{                                                                     \
		flat_job j = {FLAT_ZIL_GRAD, 0, 0, g, NULL, NULL};            \
		flat_##T(pool, n, &j);                                        \
	}                                                                     \
                                                                              \
	void pcg_canon_sgd_mt_##T(pcg_pool *pool, int n, REAL lr, REAL *w,    \
				  REAL *g)                                    \
	{                                                                     \
		flat_job j = {FLAT_CANON_SGD, 0, 0, w, NULL, g};              \
		j.lr_##T = lr;                                                \
		flat_##T(pool, n, &j);                                        \
	}

FLAT_MT(f, float)
FLAT_MT(d, double)

/* -------------------------------------- the generated element-wise kernels */

/*
 * A generated unary kernel (y = f(x), or its VJP dx (+)= dy f'(x)) on
 * blocks of elements: element i is computed by the same kernel code
 * whatever block it is in (the kernels have no state and look at element
 * i alone), so the bits are the same.  An element counts as `cost`
 * multiply-adds, the compiler's estimate (emit.c: 8 for arithmetic, 128
 * for a kernel that calls a math function), and a kernel runs on the
 * pool from a quarter of min_macs.
 */
typedef struct {
	int acc;
	/* the kernel: forward when dy is NULL, else the VJP */
	pcg_unary_kernel_f k_f;
	pcg_unary_kernel_d k_d;
	pcg_unary_vjp_kernel_f kv_f;
	pcg_unary_vjp_kernel_d kv_d;
	float a_f, b_f;
	double a_d, b_d;
	void *y;
	const void *x, *dy, *yv;
} unary_job;

/* Offsets p by lo elements of size bytes; NULL stays NULL. */
static const void *
unary_at(const void *p, int lo, size_t size)
{
	return p ? (const char *)p + (size_t)lo * size : NULL;
}

#define UNARY_MT(T, REAL)                                                     \
	static void unary_block_##T(void *ctx, int lo, int hi)                \
	{                                                                     \
		const unary_job *j = ctx;                                     \
		REAL *y = (REAL *)j->y + lo;                                  \
		const REAL *x = unary_at(j->x, lo, sizeof(REAL));             \
		if (!j->dy) {                                                 \
			j->k_##T(hi - lo, j->a_##T, j->b_##T, y, x);          \
			return;                                               \
		}                                                             \
		j->kv_##T(                                                    \
			hi - lo, j->acc, j->a_##T, j->b_##T, y,               \
			(const REAL *)j->dy + lo, x,                          \
			unary_at(j->yv, lo, sizeof(REAL)));                   \
	}                                                                     \
                                                                              \
	void pcg_unary_mt_##T(pcg_pool *pool, pcg_unary_kernel_##T k, int n,  \
			      int cost, REAL a, REAL b, REAL *y,              \
			      const REAL *x)                                  \
	{                                                                     \
		unary_job j = {0,    NULL, NULL, NULL, NULL, 0, 0,            \
			       0,    0,    y,    x,    NULL, NULL};           \
		j.k_##T = k;                                                  \
		j.a_##T = a;                                                  \
		j.b_##T = b;                                                  \
		spread(pool, n, (int64_t)n * cost, 1, unary_block_##T, &j);   \
	}                                                                     \
                                                                              \
	void pcg_unary_vjp_mt_##T(pcg_pool *pool,                             \
				  pcg_unary_vjp_kernel_##T k, int n,          \
				  int cost, int acc, REAL a, REAL b,          \
				  REAL *dx, const REAL *dy, const REAL *x,    \
				  const REAL *y)                              \
	{                                                                     \
		unary_job j = {acc, NULL, NULL, NULL, NULL, 0, 0,             \
			       0,   0,    dx,   x,    dy,   y};               \
		j.kv_##T = k;                                                 \
		j.a_##T = a;                                                  \
		j.b_##T = b;                                                  \
		spread(pool, n, (int64_t)n * cost, 1, unary_block_##T, &j);   \
	}

UNARY_MT(f, float)
UNARY_MT(d, double)

/*
 * A generated broadcast kernel (y = a (op) b, or its VJP into one
 * operand) on blocks of the indices of its cut axis, the loop it runs
 * over [lo, hi) only (emit.c says which loop that is).  A kernel that
 * writes each element once is cut along its outer loop (a bias add: by
 * samples); a VJP that sums over broadcast axes is cut along an axis of
 * the operand it writes (a bias's gradient: along the bias), so that
 * each element is summed by one thread, over the same terms in the same
 * order as on one thread.  Either way the bits are the same for every
 * cut.  `cost` is the work of one index in multiply-adds (the
 * compiler's estimate, from the kernel's code).
 */
typedef struct {
	int nb, acc;
	/* the kernel: forward when dy is NULL, else the VJP */
	pcg_bcast_kernel_f k_f;
	pcg_bcast_kernel_d k_d;
	pcg_bcast_vjp_kernel_f kv_f;
	pcg_bcast_vjp_kernel_d kv_d;
	void *y;
	const void *a, *b, *dy, *yv;
} bcast_job;

#define BCAST_MT(T, REAL)                                                     \
	static void bcast_block_##T(void *ctx, int lo, int hi)                \
	{                                                                     \
		const bcast_job *j = ctx;                                     \
		if (!j->dy)                                                   \
			j->k_##T(j->nb, lo, hi, (REAL *)j->y,                 \
				 (const REAL *)j->a, (const REAL *)j->b);     \
		else                                                          \
			j->kv_##T(j->nb, lo, hi, j->acc, (REAL *)j->y,        \
				  (const REAL *)j->dy, (const REAL *)j->a,    \
				  (const REAL *)j->b, (const REAL *)j->yv);   \
	}                                                                     \
                                                                              \
	/* cut by samples (local) when the cut loop is the batch's (a        \
	 * bias's length equal to the batch passes for one: only the         \
	 * threshold differs) */                                             \
	void pcg_bcast_mt_##T(pcg_pool *pool, pcg_bcast_kernel_##T k, int nb, \
			      int n, int64_t cost, REAL *y, const REAL *a,    \
			      const REAL *b)                                  \
	{                                                                     \
		bcast_job j = {nb, 0, NULL, NULL, NULL, NULL,                 \
			       y,  a, b,    NULL, NULL};                      \
		j.k_##T = k;                                                  \
		spread(pool, n, n * cost, n == nb, bcast_block_##T, &j);      \
	}                                                                     \
                                                                              \
	void pcg_bcast_vjp_mt_##T(pcg_pool *pool,                             \
				  pcg_bcast_vjp_kernel_##T k, int nb, int n,  \
				  int64_t cost, int acc, REAL *d,             \
				  const REAL *dy, const REAL *a,              \
				  const REAL *b, const REAL *y)               \
	{                                                                     \
		bcast_job j = {nb, acc, NULL, NULL, NULL, NULL,               \
			       d,  a,   b,    dy,   y};                       \
		j.kv_##T = k;                                                 \
		spread(pool, n, n * cost, n == nb, bcast_block_##T, &j);      \
	}

BCAST_MT(f, float)
BCAST_MT(d, double)

/*
 * A VJP that sums dy over the batch into an operand the batch is
 * broadcast along (a bias's gradient), with a kernel that adds each
 * sample's sum into the element in turn (pcg_runtime.h).  Cut along the
 * operand, as pcg_bcast_vjp_mt cuts it, every thread read half of its
 * terms from the other core's cache (the passes before cut by samples):
 * resnet b16's bias gradients took 2.1 us a call alone, 5.3 on two
 * threads.  Here task 0 runs the kernel on its own block of samples into
 * the operand, every other task each of its samples into a sum of its
 * own (from -0, which the sample's sum leaves as it is), and the caller
 * then adds those into the operand in order of the samples: the
 * kernel's operations on one thread, so the same bits.
 */
typedef struct {
	int nb, n, ntasks, acc;
	ptrdiff_t step, dn; /* dy's reals a sample; the operand's reals */
	pcg_bcast_vjp_kernel_f kv_f;
	pcg_bcast_vjp_kernel_d kv_d;
	void *d, *parts;
	const void *dy;
} bsum_job;

#define BSUM_MT(T, REAL)                                                      \
	static void bsum_task_##T(void *ctx, int t, int thread)               \
	{                                                                     \
		const bsum_job *j = ctx;                                      \
		int lo = block_start(t, j->nb, j->ntasks);                    \
		int hi = block_start(t + 1, j->nb, j->ntasks);                \
		int first = block_start(1, j->nb, j->ntasks);                 \
		const REAL *dy = j->dy;                                       \
		(void)thread;                                                 \
		if (t == 0) {                                                 \
			j->kv_##T(hi, 0, j->n, j->acc, j->d, dy, NULL, NULL,  \
				  NULL);                                      \
			return;                                               \
		}                                                             \
		for (int b = lo; b < hi; b++) {                               \
			REAL *q = (REAL *)j->parts + (b - first) * j->dn;     \
			for (ptrdiff_t i = 0; i < j->dn; i++)                 \
				q[i] = -(REAL)0;                              \
			j->kv_##T(1, 0, j->n, 1, q, dy + b * j->step, NULL,   \
				  NULL, NULL);                                \
		}                                                             \
	}                                                                     \
                                                                              \
	void pcg_bcast_vjp_sum_mt_##T(pcg_pool *pool,                         \
				      pcg_bcast_vjp_kernel_##T k, int nb,     \
				      int n, int64_t cost, ptrdiff_t dy_step, \
				      ptrdiff_t dn, int acc, REAL *d,         \
				      const REAL *dy)                         \
	{                                                                     \
		int threads = pcg_pool_threads(pool);                         \
		int ntasks = threads < nb ? threads : nb;                     \
		if (ntasks >= 2 && n * cost >= pool_min_local(pool) &&       \
		    pool_acquire(pool)) {                                     \
			int first = block_start(1, nb, ntasks);               \
			REAL *parts = pool_scratch(                           \
				pool, 0,                                      \
				(size_t)(nb - first) * dn * sizeof(REAL));    \
			if (parts) {                                          \
				bsum_job j = {nb,      n,    ntasks, acc,     \
					      dy_step, dn,   NULL,   NULL,    \
					      d,       parts, dy};            \
				j.kv_##T = k;                                 \
				pool_run_acquired(pool, ntasks, bsum_task_##T, \
						  &j);                        \
				for (int b = first; b < nb; b++)              \
					for (ptrdiff_t i = 0; i < dn; i++)    \
						d[i] += parts[(b - first) *   \
							      dn + i];        \
			}                                                     \
			pool_release(pool);                                   \
			if (parts)                                            \
				return;                                       \
		}                                                             \
		pcg_bcast_vjp_mt_##T(pool, k, nb, n, cost, acc, d, dy, NULL,  \
				     NULL, NULL);                             \
	}

BSUM_MT(f, float)
BSUM_MT(d, double)
