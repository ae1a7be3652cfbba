/*
 * pcg_kernels.c — the kernels of pcc's operations (element-wise updates,
 * softmax and layer normalisation along an axis, reductions, permutations,
 * slices, concatenation, triangular masks, im2col with dilation, pooling,
 * embeddings, the losses, batch normalisation and dropout masks) and
 * the optimizers' update for float and double, and the check of an
 * optimizer's hyper-parameters.  What each computes is documented in
 * pcg_runtime.h.
 *
 * The kernels are written once, for a scalar type, in pcg_kernels_tmpl.h,
 * which this file includes once for float (pcg_NAME_f) and once for
 * double (pcg_NAME_d).  The index helpers below are shared by both.
 * No allocation, no global state.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "pcg_runtime.h"

/* ------------------------------------------------------ index walks */

/*
 * A walk over the elements of a tensor in row-major order that keeps
 * their offsets in two arrays (a source and a destination, say), each
 * with its own stride per axis.  Axes of extent 1 are dropped, and an axis
 * that continues the one before it in both arrays (the outer stride is the
 * inner one times the inner extent) is merged into it, so a contiguous
 * copy is one long axis.  The caller loops over the last axis itself
 * (walk_next moves to the next row) or steps element by element
 * (walk_step).
 */
typedef struct walk {
	int rank;  /* axes after merging */
	int empty; /* an extent is 0: nothing to walk */
	ptrdiff_t dim[PCG_MAX_RANK];
	ptrdiff_t st[2][PCG_MAX_RANK];
	ptrdiff_t idx[PCG_MAX_RANK];
	ptrdiff_t off[2]; /* the offsets of the current element */
} walk;

static void
walk_init(walk *w)
{
	w->rank = 0;
	w->empty = 0;
}

/* Append an axis of extent n that moves s0 and s1 elements in the arrays. */
static void
walk_axis(walk *w, ptrdiff_t n, ptrdiff_t s0, ptrdiff_t s1)
{
	int r = w->rank;

	if (n <= 0) {
		w->empty = 1;
		return;
	}
	if (n == 1)
		return;
	if (r > 0 && w->st[0][r - 1] == n * s0 && w->st[1][r - 1] == n * s1) {
		w->dim[r - 1] *= n;
		w->st[0][r - 1] = s0;
		w->st[1][r - 1] = s1;
		return;
	}
	w->dim[r] = n;
	w->st[0][r] = s0;
	w->st[1][r] = s1;
	w->rank = r + 1;
}

/*
 * Go to the first element, at offsets b0 and b1; 0 if there is none.  A
 * walk with no axis left (a scalar, or only extents 1) has one element.
 * After it the last axis is w->dim[w->rank - 1], strides w->st[.][rank-1].
 */
static int
walk_start(walk *w, ptrdiff_t b0, ptrdiff_t b1)
{
	if (w->empty)
		return 0;
	if (w->rank == 0) {
		w->dim[0] = 1;
		w->st[0][0] = w->st[1][0] = 0;
		w->rank = 1;
	}
	for (int i = 0; i < w->rank; i++)
		w->idx[i] = 0;
	w->off[0] = b0;
	w->off[1] = b1;
	return 1;
}

/* Advance axes `from` .. 0 like an odometer; 0 when the walk is over. */
static int
walk_advance(walk *w, int from)
{
	for (int i = from; i >= 0; i--) {
		w->off[0] += w->st[0][i];
		w->off[1] += w->st[1][i];
		if (++w->idx[i] < w->dim[i])
			return 1;
		w->off[0] -= w->st[0][i] * w->dim[i];
		w->off[1] -= w->st[1][i] * w->dim[i];
		w->idx[i] = 0;
	}
	return 0;
}

/* The next row (all axes but the last). */
static int
walk_next(walk *w)
{
	return walk_advance(w, w->rank - 2);
}

/* The next element. */
static int
walk_step(walk *w)
{
	return walk_advance(w, w->rank - 1);
}

/* Row-major strides st[] of extents dims[]; returns the element count. */
static ptrdiff_t
row_major(int rank, const int *dims, ptrdiff_t *st)
{
	ptrdiff_t n = 1;

	for (int i = rank - 1; i >= 0; i--) {
		st[i] = n;
		n *= dims[i];
	}
	return n;
}

/*
 * Strides of a reduction's output along x's axes: 0 for reduced axes,
 * else the row-major strides of the kept axes.  Returns y's count.
 */
static ptrdiff_t
kept_strides(int rank, const int *dims, const int *red, ptrdiff_t *st)
{
	ptrdiff_t n = 1;

	for (int i = rank - 1; i >= 0; i--) {
		st[i] = red[i] ? 0 : n;
		if (!red[i])
			n *= dims[i];
	}
	return n;
}

/* ------------------------------------------------------- optimizers */

/* Whether x is finite and lo <= x (< hi when open, else <= hi). */
static int
in_range(double x, double lo, double hi, int open)
{
	return isfinite(x) && x >= lo && (open ? x < hi : x <= hi);
}

int
pcg_optim_check(const pcg_optim *c)
{
	int adam;

	if (!c || (c->kind != PCG_SGD && c->kind != PCG_MOMENTUM &&
		   c->kind != PCG_NESTEROV && c->kind != PCG_ADAM &&
		   c->kind != PCG_ADAMW))
		return PCG_OPTIM_EKIND;
	adam = c->kind == PCG_ADAM || c->kind == PCG_ADAMW;
	if (!in_range(c->lr, 0, INFINITY, 1))
		return PCG_OPTIM_ELR;
	if (c->kind == PCG_MOMENTUM &&
	    !in_range(c->momentum, 0, INFINITY, 1))
		return PCG_OPTIM_EMOMENTUM;
	/* torch: "Nesterov momentum requires a momentum" */
	if (c->kind == PCG_NESTEROV &&
	    !(in_range(c->momentum, 0, INFINITY, 1) && c->momentum > 0))
		return PCG_OPTIM_EMOMENTUM;
	if (adam && !in_range(c->beta1, 0, 1, 1))
		return PCG_OPTIM_EBETA1;
	if (adam && !in_range(c->beta2, 0, 1, 1))
		return PCG_OPTIM_EBETA2;
	if (adam && !in_range(c->eps, 0, INFINITY, 1))
		return PCG_OPTIM_EEPS;
	if (!in_range(c->weight_decay, 0, INFINITY, 1))
		return PCG_OPTIM_EDECAY;
	return PCG_OPTIM_OK;
}

const char *
pcg_optim_strerror(int err)
{
	switch (err) {
	case PCG_OPTIM_OK:
		return "success";
	case PCG_OPTIM_EKIND:
		return "no optimizer, or an unknown kind";
	case PCG_OPTIM_ELR:
		return "learning rate negative or not finite";
	case PCG_OPTIM_EMOMENTUM:
		return "momentum negative or not finite (Nesterov needs one > 0)";
	case PCG_OPTIM_EBETA1:
		return "beta1 outside [0, 1)";
	case PCG_OPTIM_EBETA2:
		return "beta2 outside [0, 1)";
	case PCG_OPTIM_EEPS:
		return "eps negative or not finite";
	case PCG_OPTIM_EDECAY:
		return "weight decay negative or not finite";
	default:
		return "unknown optimizer error";
	}
}

/* ------------------------------------------------------ float, double */

#define REAL float
#define SFX(name) name##_f
#define EXP expf
#define LOG logf
#define LOG1P log1pf
#define SQRT sqrtf
#define FABS fabsf
#include "pcg_kernels_tmpl.h"
#undef REAL
#undef SFX
#undef EXP
#undef LOG
#undef LOG1P
#undef SQRT
#undef FABS

#define REAL double
#define SFX(name) name##_d
#define EXP exp
#define LOG log
#define LOG1P log1p
#define SQRT sqrt
#define FABS fabs
#include "pcg_kernels_tmpl.h"

/* ------------------------------------------------------------- ids */

long
pcg_check_ids(int n, int bound, const int32_t *ids)
{
	for (int i = 0; i < n; i++)
		if (ids[i] < 0 || ids[i] >= bound)
			return i;
	return -1;
}
