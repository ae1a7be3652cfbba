/*
 * models.h — the generated models the trainer can train, behind one
 * table of function pointers.  Each entry is one model compiled by pcc at
 * one batch size (the batch is fixed when the C is generated), in float.
 * The trainer trains classifiers: an input `x`, a one-hot target `y` and
 * logits `o`, with a cross-entropy loss.  The state's sample count `n`
 * lets a call use fewer samples than the batch (the last, short batch of
 * an epoch); its `rng` is the dropout stream's counter.
 */
#ifndef TRAINER_MODELS_H
#define TRAINER_MODELS_H

#include <stddef.h>
#include <stdint.h>

#include "pcg_runtime.h"

typedef struct model {
	const char *name;  /* the model (digits, mlp, cnn, ...) */
	const char *data;  /* the data set it reads: "digits" or "fashion" */
	int batch;
	int depth;         /* PU_DEPTH: levels of the levelled graph */
	int features;      /* input size per sample */
	int classes;
	int num_reals;     /* scalars in the params struct */
	size_t params_size, state_size, opt_size;
	void (*init)(void *p, uint64_t seed);
	float (*predict)(const void *p, void *s); /* evaluation mode */
	/* plain SGD (P_train_*) */
	float (*train_bp)(void *p, void *s, float lr);
	float (*train_zil)(void *p, void *s, float lr);
	float (*train_pc)(void *p, void *s, float lr, int steps, float gamma);
	float (*train_fazil)(void *p, void *s, float lr);
	float (*train_ipc)(void *p, void *s, float lr, int steps, float gamma);
	/* an optimizer with its state o (P_step_*) */
	float (*step_bp)(void *p, void *o, void *s, const pcg_optim *c);
	float (*step_zil)(void *p, void *o, void *s, const pcg_optim *c);
	float (*step_pc)(void *p, void *o, void *s, const pcg_optim *c,
			 int steps, float gamma);
	float (*step_fazil)(void *p, void *o, void *s, const pcg_optim *c);
	float (*step_ipc)(void *p, void *o, void *s, const pcg_optim *c,
			  int steps, float gamma);
	/* gradients into g (num_reals floats): BP's, and standard PC's
	 * from the errors where inference stands (P_pc_grad) */
	float (*grad_bp)(const void *p, void *s, void *g);
	float (*pc_grad)(const void *p, void *s, void *g);
	/* the PC network one inference step at a time, and its energy
	 * level by level (depth values) */
	float (*pc_init)(const void *p, void *s);
	float (*pc_step)(const void *p, void *s, float gamma);
	float (*pc_energies)(const void *p, const void *s, float *e);
	int (*save)(const void *p, const char *path);
	int (*load)(void *p, const char *path);
	int (*save_opt)(const void *o, const char *path);
	int (*load_opt)(void *o, const char *path);
	float *(*input)(void *s);        /* batch * features */
	float *(*target)(void *s);       /* batch * classes  */
	const float *(*output)(const void *s); /* batch * classes */
	int *(*count)(void *s);          /* s->n: samples in use */
	uint64_t *(*rng)(void *s);       /* s->rng */
} model;

extern const model models[];
extern const int num_models;

#endif
