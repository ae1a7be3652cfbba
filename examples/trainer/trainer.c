/*
 * trainer.c — train one generated model with backpropagation, Z-IL and
 * standard predictive coding side by side, from the same initial
 * parameters and on the same batches, and show what each does.
 *
 * Per epoch and method: mean training loss, test accuracy, training time;
 * after every epoch the largest |theta_zil - theta_bp| (0: Z-IL computes
 * BP's updates exactly).  Plain SGD (P_train_*) by default, or an
 * optimizer (P_step_*, one optimizer state per method).  Every sample is
 * used: the last batch of an epoch may be short (the state's n).  Writes
 * curves.csv, plot.svg and checkpoints into the output folder after every
 * epoch, and can resume from it.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "data.h"
#include "models.h"
#include "plot.h"

#ifndef TRAINER_DIGITS_CSV
#define TRAINER_DIGITS_CSV "examples/data/digits.csv.gz"
#endif
#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define MAX_EPOCHS 10000

enum { EXIT_DATA = 1, EXIT_USAGE = 2, EXIT_FILE = 3 };

/* --- options: one table; the training settings are saved for --resume --- */

typedef struct options {
	char data[16], model[16], methods[32], out[1024], data_path[1024];
	char plot[16], progress[16], optim[16], trace[1024];
	long epochs, batch, seed, pc_steps, train_size, test_size;
	double lr, pc_gamma, momentum, beta1, beta2, eps, weight_decay;
	int resume;
} options;

/* KIND_REAL: a positive number; KIND_NUM: any number (an optimizer's,
 * checked by pcg_optim_check) */
enum kind { KIND_STR, KIND_INT, KIND_REAL, KIND_NUM };

typedef struct option_def {
	const char *name, *arg;
	enum kind kind;
	size_t offset, size;
	int saved;          /* a training setting: fixed once a run starts */
	long min, max;      /* for integers */
	const char *help;
} option_def;

#define STR(f) KIND_STR, offsetof(options, f), sizeof(((options *)0)->f)
#define INT(f) KIND_INT, offsetof(options, f), 0
#define REAL(f) KIND_REAL, offsetof(options, f), 0
#define NUM(f) KIND_NUM, offsetof(options, f), 0

static const option_def option_defs[] = {
	{"data", "SET", STR(data), 1, 0, 0,
	 "digits (default; the UCI digits of examples/data) or fashion\n"
	 "\t\t\t(Fashion-MNIST from " FASHION_DIR ")"},
	{"data-path", "PATH", STR(data_path), 0, 0, 0,
	 "the digits CSV file, or the Fashion-MNIST folder"},
	{"model", "NAME", STR(model), 1, 0, 0,
	 "digits for --data digits; for fashion mlp (default), cnn,\n"
	 "\t\t\tmlp_dropout or resnet20 (images padded to 32x32)"},
	{"methods", "LIST", STR(methods), 1, 0, 0,
	 "comma-separated subset of bp,zil,pc,fazil,ipc (default\n"
	 "\t\t\tbp,zil,pc)"},
	{"epochs", "N", INT(epochs), 0, 1, MAX_EPOCHS,
	 "train until epoch N (default 20 digits, 3 fashion)"},
	{"batch", "N", INT(batch), 1, 1, 1 << 20,
	 "samples per step: one the model was generated for\n"
	 "\t\t\t(default 16 digits, 32 fashion)"},
	{"lr", "RATE", REAL(lr), 1, 0, 0, "learning rate (default 0.1)"},
	{"optim", "NAME", STR(optim), 1, 0, 0,
	 "sgd (default; P_train_*), momentum, nesterov, adam or\n"
	 "\t\t\tadamw (P_step_*, an optimizer state per method)"},
	{"momentum", "M", NUM(momentum), 1, 0, 0,
	 "momentum of momentum and nesterov (default 0.9)"},
	{"beta1", "B", NUM(beta1), 1, 0, 0, "Adam's beta1 (default 0.9)"},
	{"beta2", "B", NUM(beta2), 1, 0, 0, "Adam's beta2 (default 0.999)"},
	{"eps", "E", NUM(eps), 1, 0, 0, "Adam's epsilon (default 1e-8)"},
	{"weight-decay", "W", NUM(weight_decay), 1, 0, 0,
	 "weight decay (default 0; decoupled for adamw)"},
	{"seed", "N", INT(seed), 1, 0, 0x7fffffff,
	 "initial parameters and batch order (default 1)"},
	{"pc-steps", "T", INT(pc_steps), 1, 1, 100000,
	 "inference steps of standard PC, and incremental PC's\n"
	 "\t\t\tsteps per batch (default 20)"},
	{"pc-gamma", "RATE", REAL(pc_gamma), 1, 0, 0,
	 "inference rate of standard and incremental PC\n"
	 "\t\t\t(default 0.1)"},
	{"train-size", "N", INT(train_size), 1, 0, 1 << 30,
	 "train on the first N training samples only (0: all)"},
	{"test-size", "N", INT(test_size), 1, 0, 1 << 30,
	 "test on the first N test samples only (0: all)"},
	{"out", "DIR", STR(out), 0, 0, 0,
	 "output folder: curves.csv, plot.svg, checkpoints\n"
	 "\t\t\t(default trainer-out)"},
	{"plot", "HOW", STR(plot), 0, 0, 0,
	 "auto (gnuplot if installed, else built-in), gnuplot, svg, none"},
	{"progress", "HOW", STR(progress), 0, 0, 0,
	 "auto (a bar on a terminal), bar, or lines"},
	{"trace", "FILE", STR(trace), 0, 0, 0,
	 "after each epoch, PC inference (--pc-steps at --pc-gamma)\n"
	 "\t\t\ton the first training batch with each method's\n"
	 "\t\t\tparameters: a CSV row per step, the energy, each\n"
	 "\t\t\tlevel's (P_pc_energies) and the cosine of PC's gradient\n"
	 "\t\t\twith BP's (P_pc_grad); and DIR/trace.svg, their plot"},
};
#define NUM_OPTIONS (int)(sizeof option_defs / sizeof option_defs[0])

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: trainer [options]\n"
		"Train a model generated by pcc with backpropagation (bp), Z-IL "
		"(zil)\nand standard predictive coding (pc) from the same "
		"start, side by side.\n\noptions:\n");
	for (int i = 0; i < NUM_OPTIONS; i++) {
		char head[64];
		snprintf(head, sizeof head, "--%s %s", option_defs[i].name,
			 option_defs[i].arg);
		fprintf(f, "  %-21s %s\n", head, option_defs[i].help);
	}
	fprintf(f, "  %-21s %s\n", "--resume",
		"continue the run saved in --out up to --epochs");
	fprintf(f, "  %-21s %s\n", "-h, --help", "show this help");
	fprintf(f, "\nexit status: 0 done, 1 bad data, 2 bad command line, "
		   "3 cannot read or write the output folder\n");
}

/* parse `value` into the option; 0, or -1 after printing why */
static int
set_option(options *o, const option_def *d, const char *value,
	   const char *where)
{
	char *p = (char *)o + d->offset, *end;
	errno = 0;
	if (d->kind == KIND_STR) {
		if (strlen(value) >= d->size) {
			fprintf(stderr, "%s--%s: too long (at most %zu "
					"characters)\n",
				where, d->name, d->size - 1);
			return -1;
		}
		strcpy(p, value);
		return 0;
	}
	if (d->kind == KIND_INT) {
		long v = strtol(value, &end, 10);
		if (end == value || *end || errno || v < d->min || v > d->max) {
			fprintf(stderr,
				"%s--%s: '%s' is not an integer in %ld..%ld\n",
				where, d->name, value, d->min, d->max);
			return -1;
		}
		memcpy(p, &v, sizeof v);
		return 0;
	}
	double v = strtod(value, &end);
	if (d->kind == KIND_NUM && end != value && !*end) {
		memcpy(p, &v, sizeof v); /* the optimizer's check judges it */
		return 0;
	}
	if (end == value || *end || errno || !(v > 0) || !isfinite(v)) {
		fprintf(stderr, "%s--%s: '%s' is not a %snumber\n", where,
			d->name, value, d->kind == KIND_REAL ? "positive " : "");
		return -1;
	}
	memcpy(p, &v, sizeof v);
	return 0;
}

static void
format_option(const options *o, const option_def *d, char *buf, size_t size)
{
	const char *p = (const char *)o + d->offset;
	if (d->kind == KIND_STR)
		snprintf(buf, size, "%s", p);
	else if (d->kind == KIND_INT)
		snprintf(buf, size, "%ld", *(const long *)(const void *)p);
	else
		snprintf(buf, size, "%.17g", *(const double *)(const void *)p);
}

static const option_def *
find_option(const char *name)
{
	for (int i = 0; i < NUM_OPTIONS; i++)
		if (!strcmp(option_defs[i].name, name))
			return &option_defs[i];
	return NULL;
}

/* --- the run's state file: the training settings, the epochs done and
 * each method's dropout counter (s->rng) after them --- */

#define STATE_MAGIC "pcc-trainer-state 2"

static int
write_text_atomic(const char *path, const char *text)
{
	char tmp[1200];
	FILE *f = atomic_open(path, tmp, sizeof tmp);
	if (!f)
		return -1;
	fputs(text, f);
	return atomic_close(f, tmp, path);
}

static int
save_state(const options *o, long epochs_done, const int *use,
	   const uint64_t *rng)
{
	char path[1100], text[4096], value[1100];
	size_t n = (size_t)snprintf(text, sizeof text, "%s\n", STATE_MAGIC);
	for (int i = 0; i < NUM_OPTIONS; i++) {
		if (!option_defs[i].saved)
			continue;
		format_option(o, &option_defs[i], value, sizeof value);
		n += (size_t)snprintf(text + n, sizeof text - n, "%s %s\n",
				      option_defs[i].name, value);
	}
	n += (size_t)snprintf(text + n, sizeof text - n, "epochs-done %ld\n",
			      epochs_done);
	for (int k = 0; k < NUM_METHODS; k++)
		if (use[k])
			n += (size_t)snprintf(text + n, sizeof text - n,
					      "rng-%s %llu\n", method_names[k],
					      (unsigned long long)rng[k]);
	snprintf(path, sizeof path, "%s/trainer.state", o->out);
	return write_text_atomic(path, text);
}

/* Take the saved settings into o and the methods' counters into rng; a
 * setting also given on the command line must agree.  Returns the epochs
 * done, or -1. */
static long
load_state(options *o, const int *given, uint64_t *rng)
{
	char path[1100], line[1200];
	snprintf(path, sizeof path, "%s/trainer.state", o->out);
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "%s: cannot resume: %s\n", path, strerror(errno));
		return -1;
	}
	long done = -1;
	int line_no = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		char where[1200];
		snprintf(where, sizeof where, "%s:%d: ", path, ++line_no);
		if (line_no == 1) {
			if (!strcmp(line, "pcc-trainer-state 1")) {
				fprintf(stderr, "%s: written by an older trainer "
						"(format 1); start a new run\n",
					path);
				goto fail;
			}
			if (strcmp(line, STATE_MAGIC))
				goto bad;
			continue;
		}
		char *value = strchr(line, ' ');
		if (!value)
			goto bad;
		*value++ = 0;
		if (!strcmp(line, "epochs-done")) {
			char *end;
			done = strtol(value, &end, 10);
			if (*end || done < 0 || done > MAX_EPOCHS)
				goto bad;
			continue;
		}
		if (!strncmp(line, "rng-", 4)) {
			int k = 0;
			while (k < NUM_METHODS && strcmp(line + 4, method_names[k]))
				k++;
			char *end;
			errno = 0;
			unsigned long long v = strtoull(value, &end, 10);
			if (k == NUM_METHODS || end == value || *end || errno)
				goto bad;
			rng[k] = (uint64_t)v;
			continue;
		}
		const option_def *d = find_option(line);
		if (!d || !d->saved)
			goto bad;
		char mine[1100], theirs[1100];
		options saved = *o;
		if (set_option(&saved, d, value, where))
			goto fail;
		format_option(&saved, d, theirs, sizeof theirs);
		format_option(o, d, mine, sizeof mine);
		if (given[d - option_defs] && strcmp(mine, theirs)) {
			fprintf(stderr,
				"%s: the run was started with --%s %s; cannot "
				"resume it with --%s %s\n",
				path, d->name, theirs, d->name, mine);
			goto fail;
		}
		*o = saved;
	}
	fclose(f);
	if (done < 0) {
		fprintf(stderr, "%s: no 'epochs-done' line\n", path);
		return -1;
	}
	return done;
bad:
	fprintf(stderr, "%s:%d: not a trainer state file line\n", path,
		line_no);
fail:
	fclose(f);
	return -1;
}

/* --- timing and progress --- */

static double
now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct progress {
	int bar;             /* draw a bar (a terminal), else plain lines */
	double last_draw;
	double sec_per_sample[NUM_METHODS]; /* measured; 0 while unknown */
} progress;

static void
format_duration(char *buf, size_t size, double s)
{
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60,
			 t % 60);
	else
		snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

/* the bar for method m at sample `done` of `total` in this epoch;
 * `later` is the work after this pass, in samples per method */
static void
draw_bar(progress *pg, long epoch, long epochs, enum method m, long done,
	 long total, double started, const double *later)
{
	double t = now();
	if (!pg->bar || (t - pg->last_draw < 0.1 && done < total))
		return;
	pg->last_draw = t;
	double rate = done > 0 ? (t - started) / (double)done : 0;
	double eta = rate * (double)(total - done);
	for (int k = 0; k < NUM_METHODS; k++) {
		/* a method not yet timed: guess it runs at this one's rate */
		double r = pg->sec_per_sample[k] > 0 ? pg->sec_per_sample[k]
		                                     : rate;
		eta += r * later[k];
	}
	char bar[41], left[32];
	int fill = (int)(40 * done / (total > 0 ? total : 1));
	for (int i = 0; i < 40; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[40] = 0;
	format_duration(left, sizeof left, eta);
	printf("\repoch %ld/%ld %-3s [%s] %3d%%  %7.0f samples/s  ETA %s\033[K",
	       epoch, epochs, method_names[m], bar,
	       (int)(100 * done / (total > 0 ? total : 1)),
	       rate > 0 ? 1 / rate : 0.0, left);
	fflush(stdout);
}

static void
clear_bar(const progress *pg)
{
	if (pg->bar)
		printf("\r\033[K");
}

/* --- training --- */

/* a permutation of 0..n-1 from (seed, epoch): every method, and a resumed
 * run, sees the same batches */
static void
shuffle(int *order, int n, long seed, long epoch)
{
	uint64_t s = (uint64_t)seed * 0x9E3779B97F4A7C15u + (uint64_t)epoch;
	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int i = n - 1; i > 0; i--) {
		/* splitmix64 */
		uint64_t z = (s += 0x9E3779B97F4A7C15u);
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
		z ^= z >> 31;
		int j = (int)(z % (uint64_t)(i + 1));
		int t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
}

/* load samples idx[0..count) into the state's input and one-hot target;
 * the call after uses count samples (count <= batch) */
static void
fill_batch(const model *m, void *s, const dataset *d, const int *idx,
	   int count)
{
	float *x = m->input(s), *y = m->target(s);
	*m->count(s) = count;
	for (int b = 0; b < count; b++) {
		int i = idx[b];
		memcpy(x + (size_t)b * (size_t)m->features,
		       d->x + (size_t)i * (size_t)d->features,
		       (size_t)m->features * sizeof *x);
		for (int k = 0; k < m->classes; k++)
			y[b * m->classes + k] = k == d->label[i] ? 1.0f : 0.0f;
	}
}

/* in evaluation mode (P_predict: batch norm's running statistics, no
 * dropout), every test sample, the last batch short */
static double
accuracy(const model *m, const void *p, void *s, const dataset *test)
{
	int right = 0, *idx = malloc((size_t)m->batch * sizeof *idx);
	if (!idx)
		return 0;
	for (int at = 0; at < test->n; at += m->batch) {
		int count = test->n - at < m->batch ? test->n - at : m->batch;
		for (int b = 0; b < count; b++)
			idx[b] = at + b;
		fill_batch(m, s, test, idx, count);
		m->predict(p, s);
		const float *o = m->output(s);
		for (int b = 0; b < count; b++) {
			int best = 0;
			for (int k = 1; k < m->classes; k++)
				if (o[b * m->classes + k] > o[b * m->classes + best])
					best = k;
			right += best == test->label[at + b];
		}
	}
	free(idx);
	return (double)right / test->n;
}

/* The cosine of the angle between a and b, n floats (NaN if either is 0). */
static double
cosine(const float *a, const float *b, int n)
{
	double ab = 0, aa = 0, bb = 0;
	for (int i = 0; i < n; i++) {
		ab += (double)a[i] * b[i];
		aa += (double)a[i] * a[i];
		bb += (double)b[i] * b[i];
	}
	return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : NAN;
}

/* --trace: PC inference from x = mu on the first training batch with
 * parameters p, in a scratch state s (the method's own state, and its
 * dropout counter, stay as training left them): one row per step, step 0
 * the forward pass: the energy, level by level, and the cosine of the
 * gradient standard PC would take there (P_pc_grad, the bits of
 * P_grad_pc with t steps) with P_grad_bp's on the same batch.  The rows
 * go to f and to tr's slot j; g holds 2 * m->num_reals floats. */
static int
write_trace(FILE *f, const model *m, const options *o, int k, const void *p,
	    void *s, const dataset *train, int *idx, float *e, float *g,
	    trace_table *tr, int j)
{
	int count = train->n < m->batch ? train->n : m->batch;
	for (int i = 0; i < count; i++)
		idx[i] = i;
	fill_batch(m, s, train, idx, count);
	float *gbp = g, *gpc = g + m->num_reals;
	*m->rng(s) = 0;
	m->grad_bp(p, s, gbp);
	*m->rng(s) = 0; /* the same dropout masks as BP's pass */
	m->pc_init(p, s);
	tr->method[j] = (enum method)k;
	for (int t = 0; t <= o->pc_steps; t++) {
		if (t > 0)
			m->pc_step(p, s, (float)o->pc_gamma);
		m->pc_grad(p, s, gpc);
		float en = m->pc_energies(p, s, e);
		double c = cosine(gpc, gbp, m->num_reals);
		double *row = tr->v + ((size_t)j * (tr->steps + 1) + t) *
				      (tr->depth + 2);
		row[0] = en;
		row[1] = c;
		fprintf(f, "%ld,%s,%d,%.9g", tr->epoch, method_names[k], t,
			(double)en);
		for (int l = 0; l < m->depth; l++) {
			row[2 + l] = e[l];
			fprintf(f, ",%.9g", (double)e[l]);
		}
		fprintf(f, ",%.9g\n", c);
	}
	return ferror(f) ? -1 : 0;
}

/* one training step of method k on the batch in s: its mean loss */
static double
train_step(const model *m, int k, void *p, void *opt, void *s,
	   const options *o, const pcg_optim *c)
{
	int steps = (int)o->pc_steps;
	float lr = (float)o->lr, gamma = (float)o->pc_gamma;
	if (!opt)
		switch ((enum method)k) {
		case METHOD_BP:
			return m->train_bp(p, s, lr);
		case METHOD_ZIL:
			return m->train_zil(p, s, lr);
		case METHOD_FAZIL:
			return m->train_fazil(p, s, lr);
		case METHOD_IPC:
			return m->train_ipc(p, s, lr, steps, gamma);
		default:
			return m->train_pc(p, s, lr, steps, gamma);
		}
	switch ((enum method)k) {
	case METHOD_BP:
		return m->step_bp(p, opt, s, c);
	case METHOD_ZIL:
		return m->step_zil(p, opt, s, c);
	case METHOD_FAZIL:
		return m->step_fazil(p, opt, s, c);
	case METHOD_IPC:
		return m->step_ipc(p, opt, s, c, steps, gamma);
	default:
		return m->step_pc(p, opt, s, c, steps, gamma);
	}
}

static double
max_abs_diff(const float *a, const float *b, int n)
{
	double d = 0;
	for (int i = 0; i < n; i++)
		d = fmax(d, fabs((double)a[i] - (double)b[i]));
	return d;
}

/* method m's parameters (ext "ckpt") or optimizer state ("opt") */
static void
checkpoint_path(char *buf, size_t size, const options *o, int m, long epoch,
		const char *ext)
{
	snprintf(buf, size, "%s/%s-%04ld.%s", o->out, method_names[m], epoch,
		 ext);
}

static const char *const optim_names[] = {"sgd", "momentum", "nesterov",
					  "adam", "adamw"};
static const pcg_optim_kind optim_kinds[] = {PCG_SGD, PCG_MOMENTUM,
					     PCG_NESTEROV, PCG_ADAM, PCG_ADAMW};

/* the optimizer of the options into c; 0, or -1 after printing why */
static int
parse_optim(const options *o, pcg_optim *c)
{
	int i = 0, n = (int)(sizeof optim_names / sizeof optim_names[0]);
	while (i < n && strcmp(o->optim, optim_names[i]))
		i++;
	if (i == n) {
		fprintf(stderr, "trainer: --optim: unknown optimizer '%s' "
				"(expected sgd, momentum, nesterov, adam or "
				"adamw)\n",
			o->optim);
		return -1;
	}
	*c = (pcg_optim){optim_kinds[i], o->lr, o->momentum, o->beta1,
			 o->beta2, o->eps, o->weight_decay};
	int err = pcg_optim_check(c);
	if (err == PCG_OPTIM_OK)
		return 0;
	/* name the option at fault, with the value given */
	const char *opt = err == PCG_OPTIM_EMOMENTUM ? "momentum"
	                  : err == PCG_OPTIM_EBETA1  ? "beta1"
	                  : err == PCG_OPTIM_EBETA2  ? "beta2"
	                  : err == PCG_OPTIM_EEPS    ? "eps"
	                  : err == PCG_OPTIM_EDECAY  ? "weight-decay"
	                                             : "lr";
	char value[64];
	format_option(o, find_option(opt), value, sizeof value);
	fprintf(stderr, "trainer: --optim %s --%s %s: %s\n", o->optim, opt,
		value, pcg_optim_strerror(err));
	return -1;
}

static int
parse_methods(const char *list, int *use)
{
	char copy[32];
	snprintf(copy, sizeof copy, "%s", list);
	memset(use, 0, NUM_METHODS * sizeof *use);
	int any = 0;
	for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
		int m = 0;
		while (m < NUM_METHODS && strcmp(tok, method_names[m]))
			m++;
		if (m == NUM_METHODS) {
			fprintf(stderr,
				"trainer: --methods: unknown method '%s' "
				"(expected bp, zil, pc, fazil, ipc)\n",
				tok);
			return -1;
		}
		use[m] = any = 1;
	}
	if (!any)
		fprintf(stderr, "trainer: --methods: no method given\n");
	return any ? 0 : -1;
}

static const model *
find_model(const options *o)
{
	for (int i = 0; i < num_models; i++)
		if (!strcmp(models[i].name, o->model) &&
		    models[i].batch == o->batch)
			return &models[i];
	int known = 0;
	for (int i = 0; i < num_models; i++)
		known |= !strcmp(models[i].name, o->model);
	if (!known) {
		fprintf(stderr, "trainer: --model: no model '%s'; the trainer has",
			o->model);
		for (int i = 0; i < num_models; i++)
			if (i == 0 || strcmp(models[i].name, models[i - 1].name))
				fprintf(stderr, " %s", models[i].name);
		fprintf(stderr, "\n");
		return NULL;
	}
	fprintf(stderr,
		"trainer: --batch: model %s was generated for batch sizes",
		o->model);
	for (int i = 0; i < num_models; i++)
		if (!strcmp(models[i].name, o->model))
			fprintf(stderr, " %d", models[i].batch);
	fprintf(stderr, ", not %ld (pcc fixes the batch: --batch N)\n",
		o->batch);
	return NULL;
}

int
main(int argc, char **argv)
{
	options o = {.data = "digits", .methods = "bp,zil,pc",
		     .out = "trainer-out", .plot = "auto",
		     .progress = "auto", .optim = "sgd", .seed = 1,
		     .pc_steps = 20, .lr = 0.1, .pc_gamma = 0.1,
		     .momentum = 0.9, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
	int given[NUM_OPTIONS] = {0};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(a, "--resume")) {
			o.resume = 1;
			continue;
		}
		if (strncmp(a, "--", 2)) {
			fprintf(stderr, "trainer: unexpected argument '%s' "
					"(try --help)\n",
				a);
			return EXIT_USAGE;
		}
		char name[64];
		const char *eq = strchr(a, '='), *value;
		snprintf(name, sizeof name, "%.*s",
			 (int)(eq ? eq - a - 2 : (long)strlen(a + 2)), a + 2);
		const option_def *d = find_option(name);
		if (!d) {
			fprintf(stderr, "trainer: unknown option '%s' (try "
					"--help)\n",
				a);
			return EXIT_USAGE;
		}
		if (eq)
			value = eq + 1;
		else if (i + 1 < argc)
			value = argv[++i];
		else {
			fprintf(stderr, "trainer: --%s needs a value (%s)\n",
				d->name, d->arg);
			return EXIT_USAGE;
		}
		if (set_option(&o, d, value, "trainer: "))
			return EXIT_USAGE;
		given[d - option_defs] = 1;
	}

	if (mkdir(o.out, 0777) && errno != EEXIST) {
		fprintf(stderr, "%s: cannot create: %s\n", o.out, strerror(errno));
		return EXIT_FILE;
	}
	long done = 0;
	uint64_t rng[NUM_METHODS] = {0};
	if (o.resume && (done = load_state(&o, given, rng)) < 0)
		return EXIT_FILE;

	int fashion = !strcmp(o.data, "fashion");
	if (!fashion && strcmp(o.data, "digits")) {
		fprintf(stderr, "trainer: --data: unknown data set '%s' "
				"(expected digits or fashion)\n",
			o.data);
		return EXIT_USAGE;
	}
	if (!o.model[0])
		strcpy(o.model, fashion ? "mlp" : "digits");
	if (!o.batch)
		o.batch = fashion ? 32 : 16;
	if (!o.epochs)
		o.epochs = fashion ? 3 : 20;
	int use[NUM_METHODS];
	if (parse_methods(o.methods, use))
		return EXIT_USAGE;
	pcg_optim optim;
	if (parse_optim(&o, &optim))
		return EXIT_USAGE;
	/* plain SGD keeps P_train_*; anything else is P_step_* */
	int stepped = optim.kind != PCG_SGD || optim.weight_decay != 0;
	const model *m = find_model(&o);
	if (!m)
		return EXIT_USAGE;
	if (strcmp(m->data, o.data)) {
		fprintf(stderr, "trainer: model %s reads the %s data set, not "
				"%s (--data %s)\n",
			m->name, m->data, o.data, m->data);
		return EXIT_USAGE;
	}
	if (strcmp(o.plot, "auto") && strcmp(o.plot, "gnuplot") &&
	    strcmp(o.plot, "svg") && strcmp(o.plot, "none")) {
		fprintf(stderr, "trainer: --plot: '%s'; expected auto, gnuplot, "
				"svg or none\n",
			o.plot);
		return EXIT_USAGE;
	}
	if (strcmp(o.progress, "auto") && strcmp(o.progress, "bar") &&
	    strcmp(o.progress, "lines")) {
		fprintf(stderr, "trainer: --progress: '%s'; expected auto, bar or "
				"lines\n",
			o.progress);
		return EXIT_USAGE;
	}
	if (done > o.epochs) {
		fprintf(stderr, "trainer: %s holds %ld epochs; --epochs %ld asks "
				"for fewer\n",
			o.out, done, o.epochs);
		return EXIT_USAGE;
	}

	/* the data; from here on every exit frees what was allocated */
	int rc = 0;
	dataset train = {0}, test = {0};
	void *params[NUM_METHODS] = {0}, *state[NUM_METHODS] = {0};
	void *opt[NUM_METHODS] = {0};
	record *rec = NULL;
	int *order = NULL;
	FILE *trace = NULL;
	void *trace_state = NULL;
	float *trace_e = NULL, *trace_g = NULL;
	int *trace_idx = NULL;
	trace_table tr = {0};
	char trace_svg[4200];
	const char *path = o.data_path[0] ? o.data_path
	                   : fashion       ? FASHION_DIR
	                                   : TRAINER_DIGITS_CSV;
	/* a network for 32x32 images sees them with a border of zeros */
	int side = m->features == 32 * 32 ? 32 : 28;
	if (fashion ? data_load_fashion(path, side, &train, &test)
	            : data_load_digits(path, &train, &test)) {
		rc = EXIT_DATA;
		goto out;
	}
	if (o.train_size)
		data_truncate(&train, (int)o.train_size);
	if (o.test_size)
		data_truncate(&test, (int)o.test_size);
	if (train.features != m->features || train.classes != m->classes) {
		fprintf(stderr, "%s: %d features and %d classes; model %s wants "
				"%d and %d\n",
			path, train.features, train.classes, m->name, m->features,
			m->classes);
		rc = EXIT_DATA;
		goto out;
	}
	if (train.n < 1 || test.n < 1) {
		fprintf(stderr, "%s: %d training and %d test samples; the "
				"trainer needs at least one of each\n",
			path, train.n, test.n);
		rc = EXIT_DATA;
		goto out;
	}

	/* one parameter set and state per method, all from the same start */
	for (int k = 0; k < NUM_METHODS; k++) {
		if (!use[k])
			continue;
		params[k] = malloc(m->params_size);
		state[k] = calloc(1, m->state_size);
		opt[k] = stepped ? calloc(1, m->opt_size) : NULL; /* fresh */
		if (!params[k] || !state[k] || (stepped && !opt[k])) {
			fprintf(stderr, "trainer: out of memory\n");
			rc = EXIT_FILE;
			goto out;
		}
		m->init(params[k], (uint64_t)o.seed);
		*m->rng(state[k]) = rng[k];
	}
	int max_records = (int)(o.epochs * NUM_METHODS), nrec = 0;
	rec = calloc((size_t)max_records, sizeof *rec);
	if (!rec) {
		fprintf(stderr, "trainer: out of memory\n");
		rc = EXIT_FILE;
		goto out;
	}
	char csv[1100], svg[1100], ck[1100];
	snprintf(csv, sizeof csv, "%s/curves.csv", o.out);
	snprintf(svg, sizeof svg, "%s/plot.svg", o.out);
	if (done > 0) {
		for (int k = 0; k < NUM_METHODS; k++) {
			if (!use[k])
				continue;
			checkpoint_path(ck, sizeof ck, &o, k, done, "ckpt");
			if (m->load(params[k], ck)) {
				fprintf(stderr, "%s: cannot resume from this "
						"checkpoint (missing, damaged, "
						"or of another model)\n",
					ck);
				rc = EXIT_FILE;
				goto out;
			}
			checkpoint_path(ck, sizeof ck, &o, k, done, "opt");
			if (stepped && m->load_opt(opt[k], ck)) {
				fprintf(stderr, "%s: cannot resume from this "
						"optimizer state (missing, "
						"damaged, or of another "
						"model)\n",
					ck);
				rc = EXIT_FILE;
				goto out;
			}
		}
		record *all = calloc((size_t)(done * NUM_METHODS) + 1,
				     sizeof *all);
		int nall;
		if (plot_read_csv(csv, all, (int)(done * NUM_METHODS), &nall)) {
			free(all);
			rc = EXIT_FILE;
			goto out;
		}
		for (int i = 0; i < nall; i++)
			if (all[i].epoch <= done)
				rec[nrec++] = all[i];
		free(all);
	}

	progress pg = {0};
	pg.bar = !strcmp(o.progress, "bar") ||
	         (!strcmp(o.progress, "auto") && isatty(STDOUT_FILENO));
	int batches = (train.n + m->batch - 1) / m->batch;
	int last = train.n - (batches - 1) * m->batch;
	long samples = train.n;
	char title[256];
	snprintf(title, sizeof title,
		 "model %s on the %s data: batch %ld, %s lr %g, seed %ld, PC "
		 "T=%ld gamma=%g",
		 m->name, o.data, o.batch, o.optim, o.lr, o.seed, o.pc_steps,
		 o.pc_gamma);
	printf("model %s: %d parameters, depth %d; batch %d, lr %g, seed %ld\n"
	       "data %s: %d training samples in %d batches",
	       m->name, m->num_reals, m->depth, m->batch, o.lr, o.seed, path,
	       train.n, batches);
	if (last < m->batch)
		printf(" (the last of %d)", last);
	printf(", %d test samples%s\n", test.n,
	       side == 32 ? " (padded to 32x32)" : "");
	if (!stepped) {
		printf("optimizer sgd (P_train_*)\n");
	} else {
		printf("optimizer %s (P_step_*):", o.optim);
		if (optim.kind == PCG_MOMENTUM || optim.kind == PCG_NESTEROV)
			printf(" momentum %g,", o.momentum);
		if (optim.kind == PCG_ADAM || optim.kind == PCG_ADAMW)
			printf(" beta1 %g, beta2 %g, eps %g,", o.beta1,
			       o.beta2, o.eps);
		printf(" weight decay %g\n", o.weight_decay);
	}
	if (use[METHOD_PC])
		printf("standard PC: %ld inference steps at rate %g\n",
		       o.pc_steps, o.pc_gamma);
	if (use[METHOD_IPC])
		printf("incremental PC: %ld steps per batch at rate %g\n",
		       o.pc_steps, o.pc_gamma);
	if (done)
		printf("resuming %s after epoch %ld\n", o.out, done);
	printf("%5s  %-6s %10s %9s %9s  %s\n", "epoch", "method", "loss",
	       "test acc", "time", use[METHOD_ZIL] && use[METHOD_BP]
	                   ? "max|theta_zil - theta_bp|" : "");
	fflush(stdout);

	int gnuplot = !strcmp(o.plot, "gnuplot") ||
	              (!strcmp(o.plot, "auto") &&
	               !system("command -v gnuplot >/dev/null 2>&1"));
	order = malloc((size_t)train.n * sizeof *order);
	if (!order) {
		fprintf(stderr, "trainer: out of memory\n");
		rc = EXIT_FILE;
		goto out;
	}
	if (o.trace[0]) {
		trace = fopen(o.trace, done > 0 ? "a" : "w");
		trace_state = calloc(1, m->state_size);
		trace_e = calloc((size_t)m->depth, sizeof *trace_e);
		trace_idx = calloc((size_t)m->batch, sizeof *trace_idx);
		trace_g = calloc(2 * (size_t)m->num_reals, sizeof *trace_g);
		tr.steps = (int)o.pc_steps;
		tr.depth = m->depth;
		tr.v = calloc((size_t)NUM_METHODS * (size_t)(tr.steps + 1) *
				      (size_t)(tr.depth + 2),
			      sizeof *tr.v);
		snprintf(trace_svg, sizeof trace_svg, "%s/trace.svg", o.out);
		if (!trace || !trace_state || !trace_e || !trace_idx ||
		    !trace_g || !tr.v) {
			fprintf(stderr, "%s: cannot write the trace\n", o.trace);
			rc = EXIT_FILE;
			goto out;
		}
		if (done == 0) {
			fprintf(trace, "epoch,method,step,energy");
			for (int l = 0; l < m->depth; l++)
				fprintf(trace, ",level_%d", l);
			fprintf(trace, ",bp_cosine\n");
		}
	}
	for (long epoch = done + 1; epoch <= o.epochs; epoch++) {
		shuffle(order, train.n, o.seed, epoch);
		for (int k = 0; k < NUM_METHODS; k++) {
			if (!use[k])
				continue;
			double later[NUM_METHODS] = {0};
			for (int j = 0; j < NUM_METHODS; j++)
				later[j] = use[j] ? (double)samples *
				           (double)(o.epochs - epoch + (j > k))
				           : 0;
			double t0 = now(), loss = 0;
			pg.last_draw = 0;
			for (int b = 0; b < batches; b++) {
				int count = b + 1 < batches ? m->batch : last;
				fill_batch(m, state[k], &train,
					   order + (size_t)b * (size_t)m->batch,
					   count);
				/* the epoch's loss: the mean over its samples */
				loss += (double)count *
				        train_step(m, k, params[k], opt[k],
				                   state[k], &o, &optim);
				draw_bar(&pg, epoch, o.epochs, (enum method)k,
					 (long)b * m->batch + count, samples, t0,
					 later);
			}
			rng[k] = *m->rng(state[k]);
			double secs = now() - t0;
			pg.sec_per_sample[k] = secs / (double)samples;
			record *r = &rec[nrec++];
			r->epoch = (int)epoch;
			r->method = (enum method)k;
			r->loss = loss / (double)samples;
			r->seconds = secs;
			r->accuracy = accuracy(m, params[k], state[k], &test);
			r->diff = -1;
		}
		double diff = -1;
		if (use[METHOD_BP] && use[METHOD_ZIL]) {
			diff = max_abs_diff(params[METHOD_ZIL], params[METHOD_BP],
					    m->num_reals);
			for (int i = nrec - NUM_METHODS; i < nrec; i++)
				if (i >= 0 && rec[i].epoch == epoch &&
				    rec[i].method == METHOD_ZIL)
					rec[i].diff = diff;
		}
		clear_bar(&pg);
		for (int i = 0; i < nrec; i++) {
			const record *r = &rec[i];
			if (r->epoch != epoch)
				continue;
			printf("%5ld  %-6s %10.6f %8.2f%% %8.3fs", epoch,
			       method_names[r->method], r->loss,
			       100 * r->accuracy, r->seconds);
			if (r->diff >= 0)
				printf("  %g", r->diff);
			printf("\n");
		}
		fflush(stdout);

		tr.epoch = epoch;
		tr.count = 0;
		for (int k = 0; trace && k < NUM_METHODS; k++)
			if (use[k] && write_trace(trace, m, &o, k, params[k],
						  trace_state, &train, trace_idx,
						  trace_e, trace_g, &tr,
						  tr.count++)) {
				fprintf(stderr, "%s: cannot write the trace\n",
					o.trace);
				rc = EXIT_FILE;
				goto out;
			}
		if (trace) {
			char trace_title[256];
			snprintf(trace_title, sizeof trace_title,
				 "%s: PC inference after epoch %ld (gamma %g)",
				 m->name, epoch, o.pc_gamma);
			fflush(trace);
			if (strcmp(o.plot, "none") &&
			    plot_trace_svg(trace_svg, trace_title, &tr)) {
				rc = EXIT_FILE;
				goto out;
			}
		}

		/* checkpoints of this epoch, then the state file naming it:
		 * an interrupted run resumes from the last complete epoch */
		for (int k = 0; k < NUM_METHODS; k++) {
			if (!use[k])
				continue;
			checkpoint_path(ck, sizeof ck, &o, k, epoch, "ckpt");
			if (m->save(params[k], ck)) {
				fprintf(stderr, "%s: cannot write checkpoint\n",
					ck);
				rc = EXIT_FILE;
				goto out;
			}
			checkpoint_path(ck, sizeof ck, &o, k, epoch, "opt");
			if (stepped && m->save_opt(opt[k], ck)) {
				fprintf(stderr, "%s: cannot write the optimizer "
						"state\n",
					ck);
				rc = EXIT_FILE;
				goto out;
			}
		}
		if (plot_write_csv(csv, rec, nrec) ||
		    save_state(&o, epoch, use, rng)) {
			rc = EXIT_FILE;
			goto out;
		}
		for (int k = 0; k < NUM_METHODS; k++) {
			checkpoint_path(ck, sizeof ck, &o, k, epoch - 1, "ckpt");
			remove(ck);
			checkpoint_path(ck, sizeof ck, &o, k, epoch - 1, "opt");
			remove(ck);
		}
		if (gnuplot ? plot_gnuplot(svg, title, rec, nrec)
		    : strcmp(o.plot, "none") ? plot_svg(svg, title, rec, nrec)
		                             : 0) {
			rc = EXIT_FILE;
			goto out;
		}
	}
	/* the last epoch in one line per method, and the point of it all */
	for (int i = 0; i < nrec; i++)
		if (rec[i].epoch == o.epochs)
			printf("%-3s after %ld epochs: test accuracy %.2f%%\n",
			       method_names[rec[i].method], o.epochs,
			       100 * rec[i].accuracy);
	if (use[METHOD_BP] && use[METHOD_ZIL])
		printf("Z-IL and BP parameters after %ld epochs: %s (max |theta_zil "
		       "- theta_bp| = %g)\n",
		       o.epochs,
		       max_abs_diff(params[METHOD_ZIL], params[METHOD_BP],
				    m->num_reals) == 0 ? "identical" : "DIFFERENT",
		       max_abs_diff(params[METHOD_ZIL], params[METHOD_BP],
				    m->num_reals));
	printf("wrote %s, %s and the checkpoints of epoch %ld in %s/\n", csv,
	       strcmp(o.plot, "none") ? svg : "(no plot)", o.epochs, o.out);

out:
	if (trace && fclose(trace) && rc == 0) {
		fprintf(stderr, "%s: cannot write the trace\n", o.trace);
		rc = EXIT_FILE;
	}
	free(trace_state);
	free(trace_e);
	free(trace_g);
	free(tr.v);
	free(trace_idx);
	free(order);
	free(rec);
	for (int k = 0; k < NUM_METHODS; k++) {
		free(params[k]);
		free(state[k]);
		free(opt[k]);
	}
	data_free(&train);
	data_free(&test);
	return rc;
}
