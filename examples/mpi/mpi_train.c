/*
 * mpi_train.c — data-parallel training of examples/digits.pcg with MPI.
 *
 * Every rank holds the same parameters and takes a shard of every global
 * batch.  It computes the gradient of its shard with the generated code
 * (digits_grad_bp or digits_grad_zil, s->n = its shard's size), the ranks
 * sum the weighted gradients with one MPI_Allreduce, and every rank applies
 * the same update, so the parameters stay identical everywhere.
 *
 * The weighting: the generated gradient is a mean over the n_r samples in
 * use, g_r = (1/n_r) sum over the shard of grad l_i.  One process on the
 * whole batch of N = sum n_r samples computes g = (1/N) sum grad l_i =
 * sum_r (n_r/N) g_r.  So rank r multiplies g_r (and its mean loss) by
 * n_r/N before the sum; shards may be uneven, and a rank with no sample
 * contributes zeros.  See README.md.
 *
 * At the start the ranks check, with an allreduce of a hash, that they
 * were given the same settings and hold the same parameters bit for bit,
 * and at the end that they still do.
 */
#include <mpi.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "mpi_digits.h" /* pcc digits.pcg --batch 64 */

#ifndef MPI_DIGITS_CSV
#define MPI_DIGITS_CSV "examples/data/digits.csv.gz"
#endif

#define REAL_MPI _Generic((digits_real)0, float: MPI_FLOAT, double: MPI_DOUBLE)
#define MAX_RANKS 4096

/* test-only controls: deliberately wrong variants that the test must
 * catch (README.md, "Test controls") */
enum control {
	CONTROL_NONE,
	CONTROL_NO_ALLREDUCE, /* every rank steps on its own shard's gradient */
	CONTROL_UNWEIGHTED,   /* weights 1/P instead of n_r/N */
	CONTROL_UNSCALED,     /* weights 1: the sum of the shard means */
	CONTROL_DIVERGE       /* ranks > 0 start one ulp away */
};

enum optim { OPTIM_SGD, OPTIM_MOMENTUM, OPTIM_ADAM };

typedef struct settings {
	int zil;      /* 1: digits_grad_zil, 0: digits_grad_bp */
	long steps, batch, seed, every;
	double lr;
	enum optim optim;
	int reverse;  /* shards laid out in the batch from the last rank */
	int single;   /* one process: the generated training step itself */
	int nshards;  /* 0: split the batch evenly */
	long shards[MAX_RANKS];
	enum control control;
	const char *data, *load, *save, *dump;
} settings;

static int rank, nranks;
static char error_msg[1024];

static digits_params params, grad;
static digits_opt opt;
static digits_state state;

/* --- agreeing across ranks --- */

/* Every rank calls this with its own verdict; all return the lowest rank
 * that failed (which prints its message), or -1 when none did. */
static int
fail_together(int failed)
{
	int mine = failed ? rank : nranks, lowest;
	MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
	if (lowest == nranks)
		return -1;
	if (lowest == rank)
		fprintf(stderr, "mpi_train: rank %d: %s\n", rank, error_msg);
	return lowest;
}

/* 1 when every rank passed the same h */
static int
all_same(uint64_t h)
{
	uint64_t v[2] = {h, ~h}, r[2];
	MPI_Allreduce(v, r, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
	return r[0] == ~r[1]; /* the largest h equals the smallest */
}

static uint64_t
fnv1a(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3u;
	return h;
}

#define FNV_START 0xcbf29ce484222325u

static uint64_t
hash_settings(const settings *c)
{
	/* the fields that decide the result, one by one (no padding) */
	uint64_t h = FNV_START;
	long v[] = {c->zil, c->steps, c->batch, c->seed, (long)c->optim,
		    c->reverse, c->single, c->nshards, (long)c->control};
	h = fnv1a(h, v, sizeof v);
	h = fnv1a(h, &c->lr, sizeof c->lr);
	h = fnv1a(h, c->shards, (size_t)c->nshards * sizeof c->shards[0]);
	return h;
}

/* --- options --- */

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: mpirun -np P mpi_train [options]\n"
		"  --method bp|zil     gradient by backpropagation or Z-IL "
		"(default zil)\n"
		"  --steps N           training steps (default 200)\n"
		"  --batch N           global batch, split over the ranks "
		"(default 64)\n"
		"  --shards A,B,...    samples per rank, one per rank, summing "
		"to the batch\n"
		"                      (default: as even as possible; each at "
		"most %d)\n"
		"  --reverse           lay the shards out in the batch from the "
		"last rank\n"
		"  --lr X              learning rate (default 0.1)\n"
		"  --optim sgd|momentum|adam  (default sgd; momentum 0.9; "
		"adam 0.9, 0.999, 1e-8)\n"
		"  --seed N            initialisation seed (default 1)\n"
		"  --data FILE         the digits CSV (default %s)\n"
		"  --load FILE         start from a checkpoint (every rank "
		"reads it)\n"
		"  --save FILE         rank 0 writes a checkpoint at the end\n"
		"  --dump FILE         rank 0 writes the final parameters as "
		"raw digits_real\n"
		"  --every N           print the loss every N steps (default "
		"50, 0: never)\n"
		"  --single            one process: the generated training "
		"step on the whole\n"
		"                      batch, no allreduce (the reference; "
		"needs -np 1)\n"
		"  --control KIND      test only: no-allreduce, unweighted, "
		"unscaled, diverge\n",
		DIGITS_BATCH, MPI_DIGITS_CSV);
}

static int
parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* 0, or -1 with error_msg set */
static int
parse_args(int argc, char **argv, settings *c)
{
	memset(c, 0, sizeof *c);
	c->zil = 1;
	c->steps = 200;
	c->batch = 64;
	c->seed = 1;
	c->every = 50;
	c->lr = 0.1;
	c->data = MPI_DIGITS_CSV;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			if (rank == 0)
				usage(stdout);
			MPI_Finalize();
			exit(0);
		}
		if (!strcmp(a, "--reverse")) {
			c->reverse = 1;
			continue;
		}
		if (!strcmp(a, "--single")) {
			c->single = 1;
			continue;
		}
		if (i + 1 >= argc) {
			snprintf(error_msg, sizeof error_msg,
				 "%s: unknown option or missing value; try "
				 "--help", a);
			return -1;
		}
		const char *v = argv[++i];
		if (!strcmp(a, "--method")) {
			if (strcmp(v, "bp") && strcmp(v, "zil"))
				goto bad;
			c->zil = !strcmp(v, "zil");
		} else if (!strcmp(a, "--steps")) {
			if (parse_long(v, 0, 100000000, &c->steps))
				goto bad;
		} else if (!strcmp(a, "--batch")) {
			if (parse_long(v, 1, (long)MAX_RANKS * DIGITS_BATCH,
				       &c->batch))
				goto bad;
		} else if (!strcmp(a, "--seed")) {
			if (parse_long(v, 0, 1L << 30, &c->seed))
				goto bad;
		} else if (!strcmp(a, "--every")) {
			if (parse_long(v, 0, 100000000, &c->every))
				goto bad;
		} else if (!strcmp(a, "--lr")) {
			char *end;
			c->lr = strtod(v, &end);
			if (end == v || *end || !(c->lr >= 0) || c->lr > 1e6)
				goto bad;
		} else if (!strcmp(a, "--optim")) {
			if (!strcmp(v, "sgd"))
				c->optim = OPTIM_SGD;
			else if (!strcmp(v, "momentum"))
				c->optim = OPTIM_MOMENTUM;
			else if (!strcmp(v, "adam"))
				c->optim = OPTIM_ADAM;
			else
				goto bad;
		} else if (!strcmp(a, "--shards")) {
			const char *p = v;
			c->nshards = 0;
			for (;;) {
				char *end;
				long n = strtol(p, &end, 10);
				if (end == p || n < 0 || n > DIGITS_BATCH ||
				    c->nshards == MAX_RANKS)
					goto bad;
				c->shards[c->nshards++] = n;
				if (*end == 0)
					break;
				if (*end != ',')
					goto bad;
				p = end + 1;
			}
		} else if (!strcmp(a, "--data")) {
			c->data = v;
		} else if (!strcmp(a, "--load")) {
			c->load = v;
		} else if (!strcmp(a, "--save")) {
			c->save = v;
		} else if (!strcmp(a, "--dump")) {
			c->dump = v;
		} else if (!strcmp(a, "--control")) {
			if (!strcmp(v, "no-allreduce"))
				c->control = CONTROL_NO_ALLREDUCE;
			else if (!strcmp(v, "unweighted"))
				c->control = CONTROL_UNWEIGHTED;
			else if (!strcmp(v, "unscaled"))
				c->control = CONTROL_UNSCALED;
			else if (!strcmp(v, "diverge"))
				c->control = CONTROL_DIVERGE;
			else
				goto bad;
		} else {
			snprintf(error_msg, sizeof error_msg,
				 "unknown option '%s'; try --help", a);
			return -1;
		}
		continue;
	bad:
		snprintf(error_msg, sizeof error_msg,
			 "%s: bad value '%s'; try --help", a, v);
		return -1;
	}
	return 0;
}

/* the shards: sizes per rank, and where each starts in the batch */
static int
plan_shards(settings *c, long *start)
{
	if (c->single && nranks != 1) {
		snprintf(error_msg, sizeof error_msg,
			 "--single trains as one process: run it with -np 1, "
			 "not %d", nranks);
		return -1;
	}
	if (c->nshards == 0) {
		for (int r = 0; r < nranks; r++)
			c->shards[r] = c->batch / nranks + (r < c->batch % nranks);
		c->nshards = nranks;
	}
	if (c->nshards != nranks) {
		snprintf(error_msg, sizeof error_msg,
			 "--shards lists %d sizes for %d ranks", c->nshards,
			 nranks);
		return -1;
	}
	long sum = 0;
	for (int r = 0; r < nranks; r++) {
		if (c->shards[r] > DIGITS_BATCH) {
			snprintf(error_msg, sizeof error_msg,
				 "rank %d's shard has %ld samples; the model "
				 "was generated for at most %d (pcc --batch); "
				 "use more ranks or a smaller --batch",
				 r, c->shards[r], DIGITS_BATCH);
			return -1;
		}
		sum += c->shards[r];
	}
	if (sum != c->batch) {
		snprintf(error_msg, sizeof error_msg,
			 "--shards sum to %ld samples; expected the batch, %ld",
			 sum, c->batch);
		return -1;
	}
	long at = 0;
	for (int k = 0; k < nranks; k++) {
		int r = c->reverse ? nranks - 1 - k : k;
		start[r] = at;
		at += c->shards[r];
	}
	return 0;
}

/* --- training --- */

/* samples [first, first + n) of the batch starting at sample b0 of the
 * training set (wrapping around) into the state */
static void
fill_state(const dataset *d, long b0, long first, long n)
{
	state.n = (int)n;
	for (long b = 0; b < n; b++) {
		long i = (b0 + first + b) % d->n;
		for (int j = 0; j < 64; j++)
			state.in.x[b][j] = (digits_real)d->x[i * 64 + j];
		for (int k = 0; k < 10; k++)
			state.target.y[b][k] = (digits_real)(d->label[i] == k);
	}
}

static pcg_optim
optimizer(const settings *c)
{
	pcg_optim o = {PCG_SGD, c->lr, 0, 0.9, 0.999, 1e-8, 0};
	if (c->optim == OPTIM_MOMENTUM) {
		o.kind = PCG_MOMENTUM;
		o.momentum = 0.9;
	} else if (c->optim == OPTIM_ADAM) {
		o.kind = PCG_ADAM;
	}
	return o;
}

/* The same update on every rank, from the reduced gradient in `grad`:
 * plain SGD, or the optimizer on each trainable tensor (its moments are
 * packed in digits_opt in the order of the trainable parameters). */
static void
apply_update(const settings *c, const pcg_optim *o)
{
	if (c->optim == OPTIM_SGD) {
		digits_sgd(&params, &grad, (digits_real)c->lr);
		return;
	}
	digits_real *p = (digits_real *)&params, *g = (digits_real *)&grad;
	digits_real *m = (digits_real *)&opt.m, *v = (digits_real *)&opt.v;
	size_t packed = 0;
	opt.step++;
	for (int k = 0; k < DIGITS_NUM_PARAMS; k++) {
		const pcg_param_info *pi = &digits_param_info[k];
		if (!pi->trainable)
			continue;
		size_t off = (size_t)pi->offset, n = (size_t)pi->count;
		_Generic((digits_real)0, float: pcg_opt_update_f,
			 double: pcg_opt_update_d)(o, opt.step, n, p + off,
						    g + off, m + packed,
						    v + packed);
		packed += n;
	}
}

/* the trainable scalars, in P_params order: what the allreduce moves */
static size_t
trainable_count(void)
{
	size_t n = 0;
	for (int k = 0; k < DIGITS_NUM_PARAMS; k++)
		if (digits_param_info[k].trainable)
			n += (size_t)digits_param_info[k].count;
	return n;
}

/* buf[0 .. T) = w * trainable gradient, buf[T] = w * loss, and back */
static void
pack(digits_real *buf, digits_real w, digits_real loss)
{
	const digits_real *g = (const digits_real *)&grad;
	size_t t = 0;
	for (int k = 0; k < DIGITS_NUM_PARAMS; k++) {
		const pcg_param_info *pi = &digits_param_info[k];
		if (!pi->trainable)
			continue;
		for (size_t i = 0; i < (size_t)pi->count; i++)
			buf[t++] = w * g[pi->offset + i];
	}
	buf[t] = w * loss;
}

static digits_real
unpack(const digits_real *buf)
{
	digits_real *g = (digits_real *)&grad;
	size_t t = 0;
	memset(&grad, 0, sizeof grad); /* buffers: no gradient */
	for (int k = 0; k < DIGITS_NUM_PARAMS; k++) {
		const pcg_param_info *pi = &digits_param_info[k];
		if (!pi->trainable)
			continue;
		for (size_t i = 0; i < (size_t)pi->count; i++)
			g[pi->offset + i] = buf[t++];
	}
	return buf[t];
}

/* test-set accuracy (rank 0) */
static double
accuracy(const dataset *d)
{
	long right = 0;
	for (long b0 = 0; b0 < d->n; b0 += DIGITS_BATCH) {
		long n = d->n - b0 < DIGITS_BATCH ? d->n - b0 : DIGITS_BATCH;
		fill_state(d, b0, 0, n);
		digits_forward(&params, &state);
		for (long b = 0; b < n; b++) {
			int best = 0;
			for (int k = 1; k < 10; k++)
				if (state.out.o[b][k] > state.out.o[b][best])
					best = k;
			right += best == d->label[b0 + b];
		}
	}
	return d->n ? (double)right / (double)d->n : 0;
}

static int
write_raw(const char *path)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t put = fwrite(&params, sizeof params, 1, f);
	return (fclose(f) == 0 && put == 1) ? 0 : -1;
}

static int
run(settings *c)
{
	static long start[MAX_RANKS];
	static dataset train, test;

	if (fail_together(plan_shards(c, start) != 0) >= 0)
		return 1;
	if (!all_same(hash_settings(c))) {
		if (rank == 0)
			fprintf(stderr, "mpi_train: the ranks were given "
					"different settings\n");
		return 1;
	}
	int failed = data_load_digits(c->data, &train, &test) != 0;
	if (failed)
		snprintf(error_msg, sizeof error_msg,
			 "cannot read the data (above)");
	if (fail_together(failed) >= 0)
		return 1;

	digits_init(&params, (uint64_t)c->seed);
	if (c->load) {
		int e = digits_load(&params, c->load);
		if (e)
			snprintf(error_msg, sizeof error_msg, "%s: %s",
				 c->load, pcg_ckpt_strerror(e));
		if (fail_together(e != 0) >= 0)
			return 1;
	}
	if (c->control == CONTROL_DIVERGE && rank > 0)
		params.W1[0][0] = _Generic((digits_real)0, float: nextafterf,
					   double: nextafter)(params.W1[0][0], 1);
	if (!all_same(fnv1a(FNV_START, &params, sizeof params))) {
		if (rank == 0)
			fprintf(stderr, "mpi_train: the ranks start from "
					"different parameters (a checkpoint "
					"that differs between machines?)\n");
		return 1;
	}

	size_t t = trainable_count();
	int count = (int)t + 1;
	digits_real *buf = malloc((size_t)count * sizeof *buf);
	if (!buf) {
		snprintf(error_msg, sizeof error_msg, "out of memory");
		fail_together(1);
		return 1;
	}
	pcg_optim o = optimizer(c);
	long n_r = c->shards[rank], N = c->batch;
	/* rank r's weight: n_r / N (see the top of this file) */
	digits_real w = (digits_real)((double)n_r / (double)N);
	if (c->control == CONTROL_UNWEIGHTED)
		w = (digits_real)(1.0 / nranks);
	else if (c->control == CONTROL_UNSCALED)
		w = 1;

	if (rank == 0) {
		printf("mpi_train: %d rank%s, %s, global batch %ld, shards",
		       nranks, nranks > 1 ? "s" : "", c->zil ? "zil" : "bp",
		       c->batch);
		for (int r = 0; r < nranks; r++)
			printf("%c%ld", r ? ',' : ' ', c->shards[r]);
		printf("%s\n", c->reverse ? " (reversed)" : "");
		printf("allreduce: %d scalars (%zu trainable + the loss) = "
		       "%zu bytes per rank per step\n",
		       count, t, (size_t)count * sizeof(digits_real));
		fflush(stdout);
	}

	double t_reduce = 0, t0 = MPI_Wtime();
	for (long step = 0; step < c->steps; step++) {
		long b0 = (step * c->batch) % train.n;
		digits_real loss;
		if (c->single) {
			fill_state(&train, b0, 0, c->batch);
			if (c->optim == OPTIM_SGD)
				loss = c->zil ? digits_train_zil(&params, &state,
								 (digits_real)c->lr)
					      : digits_train_bp(&params, &state,
								(digits_real)c->lr);
			else
				loss = c->zil ? digits_step_zil(&params, &opt,
								&state, &o)
					      : digits_step_bp(&params, &opt,
							       &state, &o);
		} else {
			digits_real mine = 0;
			if (n_r > 0) {
				fill_state(&train, b0, start[rank], n_r);
				mine = c->zil ? digits_grad_zil(&params, &state, &grad)
					      : digits_grad_bp(&params, &state, &grad);
			} else {
				memset(&grad, 0, sizeof grad);
			}
			pack(buf, w, mine);
			double r0 = MPI_Wtime();
			if (c->control != CONTROL_NO_ALLREDUCE)
				MPI_Allreduce(MPI_IN_PLACE, buf, count,
					      REAL_MPI, MPI_SUM,
					      MPI_COMM_WORLD);
			t_reduce += MPI_Wtime() - r0;
			loss = unpack(buf);
			apply_update(c, &o);
		}
		if (rank == 0 && c->every && (step + 1) % c->every == 0) {
			printf("step %6ld  loss %.6f\n", step + 1, (double)loss);
			fflush(stdout);
		}
	}
	double elapsed = MPI_Wtime() - t0;
	free(buf);

	int bad = 0;
	if (rank == 0) {
		printf("test accuracy %.4f (%d samples)\n", accuracy(&test),
		       test.n);
		if (c->steps > 0)
			printf("time %.3f s, %.1f us per step, allreduce %.1f "
			       "us per step\n",
			       elapsed, 1e6 * elapsed / (double)c->steps,
			       1e6 * t_reduce / (double)c->steps);
		fflush(stdout);
		if (c->dump && write_raw(c->dump)) {
			fprintf(stderr, "mpi_train: cannot write '%s'\n",
				c->dump);
			bad = 1;
		}
		int e = c->save ? digits_save(&params, c->save) : 0;
		if (e) {
			fprintf(stderr, "mpi_train: %s: %s\n", c->save,
				pcg_ckpt_strerror(e));
			bad = 1;
		}
	}
	if (!all_same(fnv1a(FNV_START, &params, sizeof params))) {
		if (rank == 0)
			fprintf(stderr, "mpi_train: the ranks end with "
					"different parameters\n");
		bad = 1;
	}
	data_free(&train);
	data_free(&test);
	MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	return bad;
}

int
main(int argc, char **argv)
{
	static settings c;
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &nranks);
	int status;
	if (nranks > MAX_RANKS) {
		snprintf(error_msg, sizeof error_msg,
			 "%d ranks; at most %d", nranks, MAX_RANKS);
		status = fail_together(1) >= 0;
	} else if (fail_together(parse_args(argc, argv, &c) != 0) >= 0) {
		status = 1;
	} else {
		status = run(&c);
	}
	MPI_Finalize();
	return status;
}
