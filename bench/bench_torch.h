/*
 * bench_torch.h — the PyTorch side of the benchmarks that compare a
 * generated model's step with PyTorch's (train_bench, pool_bench):
 * which BLAS PyTorch runs, and the time of its step for the same shapes
 * (bench/torch_step.py).  Needs BENCH_DIR (the bench/ directory, set by
 * meson), _POSIX_C_SOURCE >= 200809L before the first include (fork,
 * pipes), and pcg_runtime.h's pcg_param_info.  A program that uses
 * bench_torch_open ignores SIGPIPE first (signal(SIGPIPE, SIG_IGN)), so
 * that asking a PyTorch process that has died for a sample fails instead
 * of killing the benchmark.
 */
#ifndef BENCH_TORCH_H
#define BENCH_TORCH_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pcg_runtime.h"

/* A generated model's tables, as torch_step.py needs them. */
typedef struct {
	const char *name; /* the example, as torch_step.py knows it */
	int batch;
	const pcg_param_info *params, *inputs, *targets;
	int nparams, ninputs, ntargets;
} bench_shapes;

/*
 * torch_step.py's command line for a model's shapes (the parameters',
 * inputs' and targets'); 0 when it does not fit in cmd.
 */
static int
bench_torch_cmd(char *cmd, size_t size, const bench_shapes *m,
		const char *python, double sample_seconds, int threads)
{
	int len = snprintf(cmd, size,
			   "exec %s '%s/torch_step.py' --model %s --batch %d "
			   "--sample-seconds %g --threads %d --serve",
			   python, BENCH_DIR, m->name, m->batch,
			   sample_seconds, threads);
	for (int i = 0; i < m->nparams && len < (int)size; i++) {
		const pcg_param_info *pi = &m->params[i];
		len += snprintf(cmd + len, size - (size_t)len, " --param %s=",
				pi->name);
		for (int d = 0; d < pi->rank && len < (int)size; d++)
			len += snprintf(cmd + len, size - (size_t)len, "%s%d",
					d ? "," : "", pi->dims[d]);
		if (pi->rank == 0 && len < (int)size)
			len += snprintf(cmd + len, size - (size_t)len, "1");
	}
	size_t nin = 0, ntg = 0;
	for (int i = 0; i < m->ninputs; i++)
		nin += m->inputs[i].count;
	for (int i = 0; i < m->ntargets; i++)
		ntg += m->targets[i].count;
	if (len < (int)size)
		len += snprintf(cmd + len, size - (size_t)len,
				" --inputs %zu --targets %zu 2>/dev/null", nin,
				ntg);
	return len < (int)size;
}

/*
 * PyTorch's step of the same model on `threads` threads, sample by sample
 * (torch_step.py --serve), so that a benchmark can take a sample of it in
 * each of its rounds, right after its own, and pair the two: a change of
 * the machine's speed between rounds then shows in both alike.  A sample
 * is the seconds per step (CPU time on one thread, wall time on more) of
 * enough steps to last sample_seconds.
 */
typedef struct {
	pid_t pid;
	FILE *to, *from;
} bench_torch;

static void
bench_torch_close(bench_torch *t)
{
	if (t->to) {
		fputs("q\n", t->to);
		fclose(t->to);
	}
	if (t->from)
		fclose(t->from);
	if (t->pid > 0)
		waitpid(t->pid, NULL, 0);
	t->pid = 0;
	t->to = t->from = NULL;
}

/* Starts torch_step.py and waits for its warm-up; 0 when it cannot run
 * (torch missing, the reference BLAS: torch_step.py exits at once). */
static int
bench_torch_open(bench_torch *t, const bench_shapes *m, const char *python,
		 double sample_seconds, int threads)
{
	char cmd[4096], line[64];
	int to[2], from[2];
	t->pid = 0;
	t->to = t->from = NULL;
	if (!bench_torch_cmd(cmd, sizeof cmd, m, python, sample_seconds,
			     threads) ||
	    pipe(to) != 0)
		return 0;
	if (pipe(from) != 0) {
		close(to[0]);
		close(to[1]);
		return 0;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		close(to[0]);
		close(to[1]);
		close(from[0]);
		close(from[1]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	t->pid = pid;
	t->to = pid > 0 ? fdopen(to[1], "w") : NULL;
	t->from = pid > 0 ? fdopen(from[0], "r") : NULL;
	if (!t->to || !t->from) {
		if (!t->to)
			close(to[1]);
		if (!t->from)
			close(from[0]);
		bench_torch_close(t);
		return 0;
	}
	if (!fgets(line, sizeof line, t->from) || strcmp(line, "ready\n")) {
		bench_torch_close(t);
		return 0;
	}
	return 1;
}

/* One sample: seconds per step, or 0 (and the process ended) when it
 * gives none. */
static double
bench_torch_sample(bench_torch *t)
{
	double s = 0;
	if (!t->pid)
		return 0;
	if (fputs("s\n", t->to) < 0 || fflush(t->to) != 0 ||
	    fscanf(t->from, "%lf", &s) != 1 || !(s > 0)) {
		bench_torch_close(t);
		return 0;
	}
	return s;
}

static inline void
bench_sleep(double seconds)
{
	struct timespec ts = {(time_t)seconds,
			      (long)((seconds - (double)(time_t)seconds) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * The CPU time, in clock ticks, that the threads of process pid have
 * taken so far (utime + stime of each /proc/PID/task/TID/stat); -1 where
 * /proc cannot tell.
 */
static inline long long
bench_proc_ticks(pid_t pid)
{
	char path[64], line[1024];
	long long sum = 0;
	int tasks = 0;
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/%d/task/%.20s/stat",
			 (int)pid, e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue; /* the thread has ended */
		char *end = fgets(line, sizeof line, f) ? strrchr(line, ')')
							 : NULL;
		fclose(f);
		unsigned long long ut, st;
		/* after the name: state and 10 fields, then utime and stime */
		if (end && sscanf(end + 1,
				  " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
				  "%*u %llu %llu",
				  &ut, &st) == 2) {
			sum += (long long)(ut + st);
			tasks++;
		}
	}
	closedir(d);
	return tasks ? sum : -1;
}

/*
 * After a sample, waits until the PyTorch process stops taking CPU time:
 * its BLAS's idle threads spin for a while after a product on two or
 * more threads (OpenBLAS's worker took 0.12 s of CPU time after each of
 * mlp's samples here, none after cnn's or on one thread), and a
 * benchmark's next timings must not meet them.  Settled when its threads
 * took at most one clock tick in 50 ms, checked from 50 ms on and for
 * max_seconds at most; where /proc cannot tell, it waits max_seconds.
 */
static inline void
bench_torch_settle(const bench_torch *t, double max_seconds)
{
	const double step = 0.05;
	if (!t->pid)
		return;
	long long was = bench_proc_ticks(t->pid);
	for (double waited = 0; waited < max_seconds; waited += step) {
		bench_sleep(step);
		long long now = bench_proc_ticks(t->pid);
		if (was >= 0 && now >= 0 && now - was <= 1)
			return;
		was = now;
	}
}

/*
 * Prints which BLAS PyTorch runs (bench/torch_blas.py) and returns 1 when
 * its ratios may be reported: not when it is the reference BLAS, against
 * which they mean nothing, nor when torch is missing.
 */
static int
bench_torch_blas_ok(const char *python)
{
	char cmd[4096], line[1024];
	if (snprintf(cmd, sizeof cmd, "%s '%s/torch_blas.py' 2>/dev/null",
		     python, BENCH_DIR) >= (int)sizeof cmd)
		return 0;
	FILE *p = popen(cmd, "r");
	if (!p)
		return 0;
	while (fgets(line, sizeof line, p))
		fputs(line, stdout);
	int status = pclose(p);
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (code == 4)
		printf("PyTorch runs the reference BLAS: its columns are left "
		       "blank (no ratio against it means anything).  Install "
		       "libopenblas0 and run again.\n");
	else if (code != 0)
		printf("PyTorch columns left blank: '%s' cannot import torch\n",
		       python);
	return code == 0;
}

#endif
