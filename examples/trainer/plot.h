/*
 * plot.h — the trainer's curves: one record per epoch and method, written
 * as CSV and drawn as an SVG plot (by gnuplot where it is installed, or by
 * the small SVG writer in plot.c).
 */
#ifndef TRAINER_PLOT_H
#define TRAINER_PLOT_H

#include <stddef.h>
#include <stdio.h>

enum method {
	METHOD_BP,
	METHOD_ZIL,
	METHOD_PC,
	METHOD_FAZIL, /* Fa-Z-IL (P_train_fazil, P_step_fazil) */
	METHOD_IPC,   /* incremental PC (P_train_ipc, P_step_ipc) */
	NUM_METHODS
};
extern const char *const method_names[NUM_METHODS];

typedef struct record {
	int epoch;
	enum method method;
	double loss;     /* mean training loss over the epoch */
	double accuracy; /* test accuracy, 0..1 */
	double seconds;  /* training time of the epoch */
	double diff;     /* max |theta_zil - theta_bp| (Z-IL rows; else -1) */
} record;

/* Each returns 0, or -1 after printing why. */
int plot_write_csv(const char *path, const record *r, int n);
int plot_read_csv(const char *path, record *r, int max, int *n);
int plot_svg(const char *path, const char *title, const record *r, int n);
int plot_gnuplot(const char *path, const char *title, const record *r, int n);

/* --trace: PC inference from x = mu, one row per step and traced method.
 * Row (k, t) of v holds, at v + (k * (steps + 1) + t) * (depth + 2): the
 * energy, the cosine of P_grad_pc (after t steps) with P_grad_bp, and
 * the energy of each level 0..depth-1. */
typedef struct trace {
	int steps, depth, count;
	enum method method[NUM_METHODS]; /* the traced methods, count of them */
	long epoch;
	double *v;
} trace_table;

/* Two panels: the energy of each level against the inference step (log
 * scale; PC's parameters when PC is traced, else the first method's) and
 * the cosine with BP against the step, one line per method. */
int plot_trace_svg(const char *path, const char *title,
		   const trace_table *tr);

/* Writing a file atomically: write to `tmp` (path + ".tmp"), then
 * atomic_close renames it over `path`; on failure, after printing why,
 * NULL / -1 and no temporary file is left. */
FILE *atomic_open(const char *path, char *tmp, size_t size);
int atomic_close(FILE *f, const char *tmp, const char *path);

#endif
