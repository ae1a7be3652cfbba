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
#include <string.h>

#include "pcg_bits.h"
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

/*
 * The checks and the float rounding below read a double's bits with
 * integer operations only, so that a float model's optimizer needs no
 * double arithmetic (see PCG_NO_DOUBLE).
 */

/* A key that orders finite doubles as their values (-0 and +0 both 0). */
static int64_t
dbl_key(uint64_t b)
{
	int64_t mag = (int64_t)(b & ~(UINT64_C(1) << 63));

	return b >> 63 ? -mag : mag;
}

#define KEY_ZERO INT64_C(0)
#define KEY_ONE INT64_C(0x3ff0000000000000)        /* 1.0 */
#define KEY_INF INT64_C(0x7ff0000000000000)        /* +infinity */
#define DBL_FINITE(b) (((b) >> 52 & 0x7ff) != 0x7ff)

/* Whether x is finite and lo <= x (< hi when open, else <= hi). */
static int
in_range(double x, int64_t lo, int64_t hi, int open)
{
	uint64_t b = pcg_dbl_bits(x);
	int64_t k = dbl_key(b);

	return DBL_FINITE(b) && k >= lo && (open ? k < hi : k <= hi);
}

/* x != 0 (true for NaN), without a double comparison. */
static int
dbl_nonzero(double x)
{
	return (pcg_dbl_bits(x) << 1) != 0;
}

float
pcg_round_to_float(double x)
{
	uint64_t b = pcg_dbl_bits(x);
	uint32_t sign = (uint32_t)(b >> 32) & UINT32_C(0x80000000);
	int e = (int)(b >> 52 & 0x7ff);
	uint64_t m = b & ((UINT64_C(1) << 52) - 1);
	uint32_t r;
	float f;

	if (e == 0x7ff) {
		/* inf, or a quiet NaN with the payload's top bits */
		r = UINT32_C(0x7f800000) |
		    (m ? UINT32_C(0x400000) | (uint32_t)(m >> 29) : 0);
	} else {
		/* |x| = sig * 2^(e - 1075); a normal float holds 24 bits */
		uint64_t sig = e ? m | UINT64_C(1) << 52 : m;
		int fe = e - 1023 + 127; /* the float's biased exponent */
		int shift = 29;

		if (fe >= 0xff) {
			r = UINT32_C(0x7f800000);
		} else {
			if (fe <= 0) /* below the normal floats */
				shift += 1 - fe;
			if (shift > 63)
				shift = 63;
			uint64_t q = sig >> shift;
			uint64_t rem = sig & ((UINT64_C(1) << shift) - 1);
			uint64_t half = UINT64_C(1) << (shift - 1);

			if (rem > half || (rem == half && (q & 1)))
				q++;
			/* q holds the implicit bit, which adds 1 to fe - 1; a
			 * carry out of the rounding moves to the exponent
			 * (up to infinity) */
			r = fe <= 0 ? (uint32_t)q
				    : ((uint32_t)(fe - 1) << 23) + (uint32_t)q;
		}
	}
	r |= sign;
	memcpy(&f, &r, sizeof f);
	return f;
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
	if (!in_range(c->lr, KEY_ZERO, KEY_INF, 1))
		return PCG_OPTIM_ELR;
	if (c->kind == PCG_MOMENTUM &&
	    !in_range(c->momentum, KEY_ZERO, KEY_INF, 1))
		return PCG_OPTIM_EMOMENTUM;
	/* torch: "Nesterov momentum requires a momentum" */
	if (c->kind == PCG_NESTEROV &&
	    !(in_range(c->momentum, KEY_ZERO, KEY_INF, 1) &&
	      dbl_nonzero(c->momentum)))
		return PCG_OPTIM_EMOMENTUM;
	if (adam && !in_range(c->beta1, KEY_ZERO, KEY_ONE, 1))
		return PCG_OPTIM_EBETA1;
	if (adam && !in_range(c->beta2, KEY_ZERO, KEY_ONE, 1))
		return PCG_OPTIM_EBETA2;
	if (adam && !in_range(c->eps, KEY_ZERO, KEY_INF, 1))
		return PCG_OPTIM_EEPS;
	if (!in_range(c->weight_decay, KEY_ZERO, KEY_INF, 1))
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

/*
 * Dropout's scalars without double arithmetic (pcg_dropout_mask_f under
 * PCG_NO_DOUBLE), for 0 <= p < 1 given by its bits b: p = sig * 2^(e -
 * 1075), e the biased exponent (sig * 2^-1074 when e is 0).
 */
#ifdef PCG_NO_DOUBLE

/* n * 2^-63 (plus less than 2^-63 when sticky) rounded to nearest-even
 * at `bits` significant bits, in units of 2^-63; n <= 2^63. */
static uint64_t
round_fixed(uint64_t n, int sticky, int bits)
{
	int top = 63;

	while (top >= 0 && !(n >> top & 1))
		top--;
	int drop = top + 1 - bits;

	if (top < 0 || drop <= 0)
		return n;
	uint64_t q = n >> drop, rem = n & ((UINT64_C(1) << drop) - 1);
	uint64_t half = UINT64_C(1) << (drop - 1);

	if (rem > half || (rem == half && (sticky || (q & 1))))
		q++;
	return q << drop;
}

/* The significand and biased exponent of a double's bits. */
static uint64_t
dbl_sig(uint64_t b, int *e)
{
	uint64_t m = b & ((UINT64_C(1) << 52) - 1);

	*e = (int)(b >> 52 & 0x7ff);
	return *e ? m | UINT64_C(1) << 52 : m;
}

/* (float)(1.0 - p), the subtraction rounded to double first. */
static float
dropout_keep_f(double p)
{
	int e;
	uint64_t b = pcg_dbl_bits(p), sig = dbl_sig(b, &e), fix;
	int shift = 1012 - (e ? e : 1), sticky; /* p * 2^63 = sig * 2^-shift */

	if (b >> 63 || e >= 1023) /* outside [0, 1): no exact path needed */
		return 1 - pcg_round_to_float(p);
	if (shift <= 0) {
		fix = sig << -shift;
		sticky = 0;
	} else if (shift >= 64) {
		fix = 0;
		sticky = sig != 0;
	} else {
		fix = sig >> shift;
		sticky = (sig & ((UINT64_C(1) << shift) - 1)) != 0;
	}
	/* 1 - p = (2^63 - fix) * 2^-63 less the fraction below 2^-63 */
	fix = (UINT64_C(1) << 63) - fix - (uint64_t)sticky;
	fix = round_fixed(round_fixed(fix, sticky, 53), 0, 24);
	return (float)fix * 0x1.0p-63f;
}

/* ceil(p * 2^53): pcg_rng_at(.) >= p exactly when its bits are >= it. */
static uint64_t
dropout_threshold(double p)
{
	int e;
	uint64_t b = pcg_dbl_bits(p), sig = dbl_sig(b, &e);
	int shift = 1022 - (e ? e : 1); /* p * 2^53 = sig * 2^-shift */

	if (b >> 63 || sig == 0)
		return 0; /* p <= 0 (or -NaN): every u >= p */
	if (e >= 1023)
		return UINT64_MAX; /* p >= 1 or NaN: no u */
	if (shift >= 64)
		return 1;
	return (sig >> shift) + ((sig & ((UINT64_C(1) << shift) - 1)) != 0);
}
#endif

/* ------------------------------------------------------ float, double */

#define REAL float
#define REAL_IS_FLOAT 1
#define SFX(name) name##_f
#define EXP PCG_EXPF
#define LOG PCG_LOGF
#define LOG1P PCG_LOG1PF
#define SQRT sqrtf
#define FABS fabsf
#include "pcg_kernels_tmpl.h"
#undef REAL
#undef REAL_IS_FLOAT
#undef SFX
#undef EXP
#undef LOG
#undef LOG1P
#undef SQRT
#undef FABS

#define REAL double
#define REAL_IS_FLOAT 0
#define SFX(name) name##_d
#define EXP PCG_EXP
#define LOG PCG_LOG
#define LOG1P PCG_LOG1P
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
