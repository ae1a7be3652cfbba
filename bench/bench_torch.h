/*
 * bench_torch.h — the PyTorch side of the benchmarks that compare a
 * generated model's step with PyTorch's (train_bench, pool_bench):
 * which BLAS PyTorch runs, and the time of its step for the same shapes
 * (bench/torch_step.py).  Needs BENCH_DIR (the bench/ directory, set by
 * meson), <stdio.h> and <sys/wait.h>, and pcg_runtime.h's
 * pcg_param_info.
 */
#ifndef BENCH_TORCH_H
#define BENCH_TORCH_H

#include <stdio.h>
#include <sys/wait.h>

#include "pcg_runtime.h"

/* A generated model's tables, as torch_step.py needs them. */
typedef struct {
	const char *name; /* the example, as torch_step.py knows it */
	int batch;
	const pcg_param_info *params, *inputs, *targets;
	int nparams, ninputs, ntargets;
} bench_shapes;

/*
 * The PyTorch step of the same model on `threads` threads: torch_step.py
 * gets the shapes of the parameters, inputs and targets and prints the
 * median seconds of a step (CPU time on one thread, wall time on more),
 * or nothing when torch is missing.  Returns 0 then.
 */
static double
bench_torch_time(const bench_shapes *m, const char *python, int samples,
		 double sample_seconds, int threads)
{
	char cmd[4096];
	int len = snprintf(cmd, sizeof cmd,
			   "%s '%s/torch_step.py' --model %s --batch %d "
			   "--samples %d --sample-seconds %g --threads %d",
			   python, BENCH_DIR, m->name, m->batch, samples,
			   sample_seconds, threads);
	for (int i = 0; i < m->nparams; i++) {
		const pcg_param_info *pi = &m->params[i];
		len += snprintf(cmd + len, sizeof cmd - (size_t)len,
				" --param %s=", pi->name);
		for (int d = 0; d < pi->rank; d++)
			len += snprintf(cmd + len, sizeof cmd - (size_t)len,
					"%s%d", d ? "," : "", pi->dims[d]);
		if (pi->rank == 0)
			len += snprintf(cmd + len, sizeof cmd - (size_t)len,
					"1");
	}
	size_t nin = 0, ntg = 0;
	for (int i = 0; i < m->ninputs; i++)
		nin += m->inputs[i].count;
	for (int i = 0; i < m->ntargets; i++)
		ntg += m->targets[i].count;
	len += snprintf(cmd + len, sizeof cmd - (size_t)len,
			" --inputs %zu --targets %zu 2>/dev/null", nin, ntg);
	if (len >= (int)sizeof cmd)
		return 0;
	FILE *p = popen(cmd, "r");
	if (!p)
		return 0;
	double t = 0;
	if (fscanf(p, "%lf", &t) != 1)
		t = 0;
	pclose(p);
	return t;
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
