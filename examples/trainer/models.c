/*
 * models.c — the table of models.  The list of variants here and the one
 * in examples/meson.build (which runs pcc for each) are the same list.
 */
#include "models.h"

#include "digits_b1.h"
#include "digits_b8.h"
#include "digits_b16.h"
#include "digits_b32.h"
#include "mlp_b1.h"
#include "mlp_b16.h"
#include "mlp_b32.h"
#include "mlp_b64.h"
#include "cnn_b1.h"
#include "cnn_b16.h"
#include "cnn_b32.h"
#include "cnn_b64.h"
#include "resnet20_b1.h"
#include "resnet20_b16.h"
#include "resnet20_b32.h"
#include "mlp_dropout_b1.h"
#include "mlp_dropout_b16.h"
#include "mlp_dropout_b32.h"
#include "mlp_dropout_b64.h"

/* Thin wrappers from the table's void pointers to one generated model. */
#define ADAPT(P, PU)                                                          \
	static void P##_t_init(void *p, uint64_t seed) { P##_init(p, seed); } \
	static float P##_t_predict(const void *p, void *s)                    \
	{                                                                     \
		return P##_predict(p, s);                                     \
	}                                                                     \
	static float P##_t_bp(void *p, void *s, float lr)                     \
	{                                                                     \
		return P##_train_bp(p, s, lr);                                \
	}                                                                     \
	static float P##_t_zil(void *p, void *s, float lr)                    \
	{                                                                     \
		return P##_train_zil(p, s, lr);                               \
	}                                                                     \
	static float P##_t_pc(void *p, void *s, float lr, int steps, float g) \
	{                                                                     \
		return P##_train_pc(p, s, lr, steps, g);                      \
	}                                                                     \
	static float P##_t_fazil(void *p, void *s, float lr)                  \
	{                                                                     \
		return P##_train_fazil(p, s, lr);                             \
	}                                                                     \
	static float P##_t_ipc(void *p, void *s, float lr, int steps, float g)\
	{                                                                     \
		return P##_train_ipc(p, s, lr, steps, g);                     \
	}                                                                     \
	static float P##_t_step_fazil(void *p, void *o, void *s,              \
				      const pcg_optim *c)                     \
	{                                                                     \
		return P##_step_fazil(p, o, s, c);                            \
	}                                                                     \
	static float P##_t_step_ipc(void *p, void *o, void *s,                \
				    const pcg_optim *c, int steps, float g)   \
	{                                                                     \
		return P##_step_ipc(p, o, s, c, steps, g);                    \
	}                                                                     \
	static float P##_t_step_bp(void *p, void *o, void *s,                 \
				   const pcg_optim *c)                        \
	{                                                                     \
		return P##_step_bp(p, o, s, c);                               \
	}                                                                     \
	static float P##_t_step_zil(void *p, void *o, void *s,                \
				    const pcg_optim *c)                       \
	{                                                                     \
		return P##_step_zil(p, o, s, c);                              \
	}                                                                     \
	static float P##_t_step_pc(void *p, void *o, void *s,                 \
				   const pcg_optim *c, int steps, float g)    \
	{                                                                     \
		return P##_step_pc(p, o, s, c, steps, g);                     \
	}                                                                     \
	static float P##_t_grad_bp(const void *p, void *s, void *g)           \
	{                                                                     \
		return P##_grad_bp(p, s, g);                                  \
	}                                                                     \
	static float P##_t_pc_grad(const void *p, void *s, void *g)           \
	{                                                                     \
		return P##_pc_grad(p, s, g);                                  \
	}                                                                     \
	static float P##_t_pc_init(const void *p, void *s)                    \
	{                                                                     \
		return P##_pc_init(p, s);                                     \
	}                                                                     \
	static float P##_t_pc_step(const void *p, void *s, float g)           \
	{                                                                     \
		return P##_pc_step(p, s, g);                                  \
	}                                                                     \
	static float P##_t_pc_energies(const void *p, const void *s, float *e)\
	{                                                                     \
		return P##_pc_energies(p, s, e);                              \
	}                                                                     \
	static int P##_t_save(const void *p, const char *path)                \
	{                                                                     \
		return P##_save(p, path);                                     \
	}                                                                     \
	static int P##_t_load(void *p, const char *path)                      \
	{                                                                     \
		return P##_load(p, path);                                     \
	}                                                                     \
	static int P##_t_save_opt(const void *o, const char *path)            \
	{                                                                     \
		return P##_save_opt(o, path);                                 \
	}                                                                     \
	static int P##_t_load_opt(void *o, const char *path)                  \
	{                                                                     \
		return P##_load_opt(o, path);                                 \
	}                                                                     \
	static float *P##_t_input(void *s)                                    \
	{                                                                     \
		return (float *)((P##_state *)s)->in.x;                       \
	}                                                                     \
	static float *P##_t_target(void *s)                                   \
	{                                                                     \
		return (float *)((P##_state *)s)->target.y;                   \
	}                                                                     \
	static const float *P##_t_output(const void *s)                       \
	{                                                                     \
		return (const float *)((const P##_state *)s)->out.o;          \
	}                                                                     \
	static int *P##_t_count(void *s) { return &((P##_state *)s)->n; }     \
	static uint64_t *P##_t_rng(void *s) { return &((P##_state *)s)->rng; }

#define ENTRY(P, PU, NAME, DATA)                                              \
	{ NAME, DATA, PU##_BATCH, PU##_DEPTH,                                 \
	  (int)(sizeof(((P##_state *)0)->in.x) / sizeof(float) / PU##_BATCH), \
	  (int)(sizeof(((P##_state *)0)->target.y) / sizeof(float) /          \
		PU##_BATCH),                                                  \
	  PU##_NUM_REALS, sizeof(P##_params), sizeof(P##_state),              \
	  sizeof(P##_opt), P##_t_init, P##_t_predict, P##_t_bp, P##_t_zil,    \
	  P##_t_pc, P##_t_fazil, P##_t_ipc, P##_t_step_bp, P##_t_step_zil,    \
	  P##_t_step_pc, P##_t_step_fazil, P##_t_step_ipc, P##_t_grad_bp,     \
	  P##_t_pc_grad, P##_t_pc_init, P##_t_pc_step, P##_t_pc_energies,     \
	  P##_t_save, P##_t_load, P##_t_save_opt, P##_t_load_opt,             \
	  P##_t_input, P##_t_target, P##_t_output, P##_t_count, P##_t_rng }

ADAPT(digits_b1, DIGITS_B1)
ADAPT(digits_b8, DIGITS_B8)
ADAPT(digits_b16, DIGITS_B16)
ADAPT(digits_b32, DIGITS_B32)
ADAPT(mlp_b1, MLP_B1)
ADAPT(mlp_b16, MLP_B16)
ADAPT(mlp_b32, MLP_B32)
ADAPT(mlp_b64, MLP_B64)
ADAPT(cnn_b1, CNN_B1)
ADAPT(cnn_b16, CNN_B16)
ADAPT(cnn_b32, CNN_B32)
ADAPT(cnn_b64, CNN_B64)
ADAPT(resnet20_b1, RESNET20_B1)
ADAPT(resnet20_b16, RESNET20_B16)
ADAPT(resnet20_b32, RESNET20_B32)
ADAPT(mlp_dropout_b1, MLP_DROPOUT_B1)
ADAPT(mlp_dropout_b16, MLP_DROPOUT_B16)
ADAPT(mlp_dropout_b32, MLP_DROPOUT_B32)
ADAPT(mlp_dropout_b64, MLP_DROPOUT_B64)

const model models[] = {
	ENTRY(digits_b1, DIGITS_B1, "digits", "digits"),
	ENTRY(digits_b8, DIGITS_B8, "digits", "digits"),
	ENTRY(digits_b16, DIGITS_B16, "digits", "digits"),
	ENTRY(digits_b32, DIGITS_B32, "digits", "digits"),
	ENTRY(mlp_b1, MLP_B1, "mlp", "fashion"),
	ENTRY(mlp_b16, MLP_B16, "mlp", "fashion"),
	ENTRY(mlp_b32, MLP_B32, "mlp", "fashion"),
	ENTRY(mlp_b64, MLP_B64, "mlp", "fashion"),
	ENTRY(cnn_b1, CNN_B1, "cnn", "fashion"),
	ENTRY(cnn_b16, CNN_B16, "cnn", "fashion"),
	ENTRY(cnn_b32, CNN_B32, "cnn", "fashion"),
	ENTRY(cnn_b64, CNN_B64, "cnn", "fashion"),
	ENTRY(resnet20_b1, RESNET20_B1, "resnet20", "fashion"),
	ENTRY(resnet20_b16, RESNET20_B16, "resnet20", "fashion"),
	ENTRY(resnet20_b32, RESNET20_B32, "resnet20", "fashion"),
	ENTRY(mlp_dropout_b1, MLP_DROPOUT_B1, "mlp_dropout", "fashion"),
	ENTRY(mlp_dropout_b16, MLP_DROPOUT_B16, "mlp_dropout", "fashion"),
	ENTRY(mlp_dropout_b32, MLP_DROPOUT_B32, "mlp_dropout", "fashion"),
	ENTRY(mlp_dropout_b64, MLP_DROPOUT_B64, "mlp_dropout", "fashion"),
};
const int num_models = (int)(sizeof models / sizeof models[0]);
