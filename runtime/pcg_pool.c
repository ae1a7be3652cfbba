/*
 * pcg_pool.c — the thread pool a caller may put in a generated model's
 * state (s->pool), and the products that spread their work over it.
 *
 * A pool of n threads is the calling thread and n - 1 workers.
 * pcg_pool_run deals tasks 0 .. ntasks-1 out in turn, task t to thread
 * t mod n (the caller is thread 0), and returns when all are done.  The work is
 * divided so that no result depends on which thread does which task, or
 * on how many there are: every task writes its own part of the output,
 * computed by exactly the operations the one-thread code performs for it
 * (for the products, pcg_gemm.c's contract: an element's result depends
 * on k only, not on the shape of the block it is computed in).  So every
 * thread count gives the same bits.
 *
 * The pool is the one thing the runtime allocates (pcg_pool_create).
 * Where the platform has no POSIX threads (bare-metal targets), or when
 * compiled with PCG_NO_THREADS, pcg_pool_create returns NULL and a NULL
 * pool runs everything on the calling thread.
 */
#include <stddef.h>
#include <stdint.h>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#include "pcg_runtime.h"

#if defined(_POSIX_THREADS) && _POSIX_THREADS > 0 && !defined(PCG_NO_THREADS)
#define POOL_THREADS 1
#include <pthread.h>
#include <stdlib.h>

struct pcg_pool {
	int nthreads; /* the caller and nthreads - 1 workers */
	pthread_t *workers;
	pthread_mutex_t mu;
	pthread_cond_t go;   /* a new run, or quit */
	pthread_cond_t done; /* the run's last task finished */
	unsigned long run;   /* counts the runs; a worker waits for a new one */
	void (*fn)(void *ctx, int task);
	void *ctx;
	int ntasks, finished;
	int started; /* workers that have started */
	int busy; /* a run is in progress (a second caller runs alone) */
	int quit;
	size_t worker_tasks; /* tasks the workers ran, for the tests */
	int64_t min_macs;    /* smaller products run on the caller */
};

/* Runs thread `id`'s tasks of the current run: id, id + nthreads, ...
 * (the caller is thread 0), so that every thread of the pool takes part
 * in a run of nthreads tasks or more; called with mu held, returns with
 * it held. */
static void
take_tasks(pcg_pool *p, int id)
{
	void (*fn)(void *, int) = p->fn;
	void *ctx = p->ctx;
	int ntasks = p->ntasks;
	for (int task = id; task < ntasks; task += p->nthreads) {
		pthread_mutex_unlock(&p->mu);
		fn(ctx, task);
		pthread_mutex_lock(&p->mu);
		p->worker_tasks += id > 0;
		if (++p->finished == ntasks)
			pthread_cond_signal(&p->done);
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
	unsigned long seen = 0;
	pthread_mutex_lock(&p->mu);
	p->started++;
	pthread_cond_signal(&p->done);
	for (;;) {
		while (!p->quit && p->run == seen)
			pthread_cond_wait(&p->go, &p->mu);
		if (p->quit)
			break;
		seen = p->run;
		take_tasks(p, w.id);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
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
		free(p->workers);
		free(p);
		return NULL;
	}
	if (pthread_cond_init(&p->go, NULL) != 0) {
		pthread_mutex_destroy(&p->mu);
		free(p->workers);
		free(p);
		return NULL;
	}
	if (pthread_cond_init(&p->done, NULL) != 0) {
		pthread_cond_destroy(&p->go);
		pthread_mutex_destroy(&p->mu);
		free(p->workers);
		free(p);
		return NULL;
	}
	/* nthreads is fixed before any worker starts (the tasks are dealt
	 * by it); a worker copies its Worker before it says it started */
	p->nthreads = nthreads;
	p->min_macs = PCG_POOL_MIN_MACS;
	for (int i = 0; i < nthreads - 1; i++) {
		Worker w = {p, i + 1};
		pthread_mutex_lock(&p->mu);
		int started = p->started;
		pthread_mutex_unlock(&p->mu);
		if (pthread_create(&p->workers[i], NULL, worker_main, &w) != 0) {
			p->nthreads = i + 1; /* the workers that run */
			pcg_pool_destroy(p);
			return NULL;
		}
		pthread_mutex_lock(&p->mu);
		while (p->started == started)
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
	p->quit = 1;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads - 1; i++)
		pthread_join(p->workers[i], NULL);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->go);
	pthread_mutex_destroy(&p->mu);
	free(p->workers);
	free(p);
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

static int64_t
pool_min_macs(const pcg_pool *p)
{
	return p ? p->min_macs : PCG_POOL_MIN_MACS;
}

size_t
pcg_pool_worker_tasks(pcg_pool *p)
{
	if (!p)
		return 0;
	pthread_mutex_lock(&p->mu);
	size_t n = p->worker_tasks;
	pthread_mutex_unlock(&p->mu);
	return n;
}

void
pcg_pool_run(pcg_pool *p, int ntasks, void (*fn)(void *ctx, int task),
	     void *ctx)
{
	if (ntasks <= 0)
		return;
	if (p && p->nthreads > 1 && ntasks > 1) {
		pthread_mutex_lock(&p->mu);
		if (!p->busy) {
			p->busy = 1;
			p->fn = fn;
			p->ctx = ctx;
			p->ntasks = ntasks;
			p->finished = 0;
			p->run++;
			pthread_cond_broadcast(&p->go);
			take_tasks(p, 0);
			while (p->finished < p->ntasks)
				pthread_cond_wait(&p->done, &p->mu);
			p->busy = 0;
			pthread_mutex_unlock(&p->mu);
			return;
		}
		/* the pool is running another call's tasks (this call is one
		 * of them, or another thread's): run alone, same bits */
		pthread_mutex_unlock(&p->mu);
	}
	for (int t = 0; t < ntasks; t++)
		fn(ctx, t);
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

void
pcg_pool_set_min_macs(pcg_pool *p, int64_t macs)
{
	(void)p;
	(void)macs;
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
#endif

/* ------------------------------------------------------------ products */

/*
 * C = alpha op(A) op(B) + beta C with the work spread over the pool: the
 * columns of C (or its rows, when it has more rows than columns) are cut
 * into one block a thread, each block computed by pcg_sgemm on its own.
 * Blocks are multiples of 16 columns (6 rows), the GEMM's tiles.  Products
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

#define GEMM_MT(NAME, SERIAL, REAL)                                           \
	typedef struct {                                                      \
		int ta, tb, m, n, k, lda, ldb, ldc, by_rows, step;            \
		REAL alpha, beta;                                             \
		const REAL *a, *b;                                            \
		REAL *c;                                                      \
	} NAME##_job;                                                         \
                                                                              \
	static void NAME##_task(void *ctx, int t)                             \
	{                                                                     \
		const NAME##_job *j = ctx;                                    \
		int lo = t * j->step;                                         \
		int len = (j->by_rows ? j->m : j->n) - lo;                    \
		if (len > j->step)                                            \
			len = j->step;                                        \
		if (j->by_rows)                                               \
			SERIAL(j->ta, j->tb, len, j->n, j->k, j->alpha,       \
			       j->ta ? j->a + lo                              \
				     : j->a + (ptrdiff_t)lo * j->lda,         \
			       j->lda, j->b, j->ldb, j->beta,                 \
			       j->c + (ptrdiff_t)lo * j->ldc, j->ldc);        \
		else                                                          \
			SERIAL(j->ta, j->tb, j->m, len, j->k, j->alpha, j->a, \
			       j->lda,                                        \
			       j->tb ? j->b + (ptrdiff_t)lo * j->ldb          \
				     : j->b + lo,                             \
			       j->ldb, j->beta, j->c + lo, j->ldc);           \
	}                                                                     \
                                                                              \
	void NAME(pcg_pool *pool, int trans_a, int trans_b, int m, int n,     \
		  int k, REAL alpha, const REAL *a, int lda, const REAL *b,   \
		  int ldb, REAL beta, REAL *c, int ldc)                       \
	{                                                                     \
		int threads = pcg_pool_threads(pool);                         \
		if (!MT_SPLIT || threads < 2 || m <= 0 || n <= 0 ||           \
		    (int64_t)m * n * (k > 0 ? k : 1) < pool_min_macs(pool)) {  \
			SERIAL(trans_a, trans_b, m, n, k, alpha, a, lda, b,   \
			       ldb, beta, c, ldc);                            \
			return;                                               \
		}                                                             \
		NAME##_job j = {trans_a, trans_b, m,    n,     k,  lda,       \
				ldb,     ldc,     m > n, 0,     alpha, beta,      \
				a,       b,       c};                             \
		int len = j.by_rows ? m : n, unit = j.by_rows ? 6 : 16;       \
		int step = (len + threads - 1) / threads;                     \
		step = (step + unit - 1) / unit * unit;                       \
		j.step = step;                                                \
		pcg_pool_run(pool, (len + step - 1) / step, NAME##_task, &j); \
	}

GEMM_MT(pcg_sgemm_mt, pcg_sgemm, float)
GEMM_MT(pcg_dgemm_mt, pcg_dgemm, double)
