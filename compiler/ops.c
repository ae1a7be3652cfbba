/*
 * ops.c — the op table: every primitive operation defined in one place.
 *
 * Takes nothing; gives op_defs[], one OpDef per OpKind: how a model calls
 * the op (positional arguments and keywords), its shape rule (which also
 * reports the op's argument errors), constant folding, and its forward and
 * vector-Jacobian-product (VJP) code.  Elementwise ops are C expressions
 * that emit.c turns into generated kernels; every other op calls a kernel
 * of the runtime (runtime/pcg_kernels_tmpl.h) or the GEMM.  BP, the Z-IL
 * schedule, the PC network dynamics and standard PC all use these two
 * functions per op, with their own buffers, so no derivative is written
 * twice.  Adding an op: docs/design.md, "Adding an op".
 */
#include <math.h>
#include <string.h>

#include "emit.h"

const char *const op_name[OP_COUNT] = {
#define X(e, n) n,
	PCC_OPS(X)
#undef X
};

int
op_is_leaf(OpKind op)
{
	return op_defs[op].cls == OPC_LEAF;
}

int
op_lookup(const char *name)
{
	for (int i = 0; i < OP_COUNT; i++)
		if (op_defs[i].call && strcmp(op_defs[i].call, name) == 0)
			return i;
	return -1;
}

/* ------------------------------------------------------ rule helpers */

#define MAX_NUMEL 2147483647LL

static const char *
shp(OpCall *c, const Shape *s)
{
	return shape_str(c->a, s);
}

static const char *
fname(OpCall *c)
{
	return op_defs[c->op].call ? op_defs[c->op].call : op_name[c->op];
}

static Shape
scalar(void)
{
	Shape s;
	memset(&s, 0, sizeof s);
	return s;
}

/* The index of keyword `name` in the op's keyword list (the order of
 * OpCall.kw). */
static const OpArg *
kw(OpCall *c, const char *name)
{
	const char *p = op_defs[c->op].keywords;
	size_t n = strlen(name);
	for (int i = 0; p && *p; i++) {
		const char *colon = strchr(p, ':');
		if ((size_t)(colon - p) == n && strncmp(p, name, n) == 0)
			return c->kw[i].given ? &c->kw[i] : NULL;
		p = strchr(p, ' ');
		if (!p)
			break;
		p++;
	}
	return NULL;
}

/* A normalised axis (negative counts from the end); 0 after an error. */
static int
axis_in(OpCall *c, int64_t ax, int rank, Span sp, int *out)
{
	int64_t a = ax < 0 ? ax + rank : ax;
	if (a < 0 || a >= rank) {
		diag_error(c->d, sp, "axis %lld is out of range for %s, a tensor of "
			   "rank %d (axes %d to %d)",
			   (long long)ax, fname(c), rank, -rank, rank - 1);
		return 0;
	}
	*out = (int)a;
	return 1;
}

/* An int or [h, w] window-like keyword: fills v[0..nd-1]. */
static int
pair(OpCall *c, const char *name, int nd, int dflt, int *v)
{
	const OpArg *k = kw(c, name);
	for (int i = 0; i < nd; i++)
		v[i] = dflt;
	if (!k)
		return 1;
	if (k->n != 1 && k->n != nd) {
		diag_error(c->d, k->span, "%s of %s takes %s, got %d values", name,
			   fname(c), nd == 1 ? "one number" : "a number or [h, w]",
			   k->n);
		return 0;
	}
	for (int i = 0; i < nd; i++)
		v[i] = (int)k->v[k->n == 1 ? 0 : i];
	return 1;
}

/* ------------------------------------------------------- shape rules */

static int
rule_same(OpCall *c)
{
	c->out = c->in[0]->shape;
	for (int i = 1; i < c->nargs && i <= 3; i++)
		c->at->num[i - 1] = c->arg[i].num;
	if (c->op == OP_CLIP && c->at->num[0] > c->at->num[1]) {
		diag_error(c->d, c->span, "clip's bounds are reversed: lo %g > hi %g",
			   c->at->num[0], c->at->num[1]);
		return 0;
	}
	return 1;
}

static int
broadcast(const Shape *a, const Shape *b, Shape *out)
{
	int r = a->rank > b->rank ? a->rank : b->rank;
	memset(out, 0, sizeof *out);
	out->rank = r;
	for (int i = 0; i < r; i++) {
		int64_t da = i < r - a->rank ? 1 : a->dim[i - (r - a->rank)];
		int64_t db = i < r - b->rank ? 1 : b->dim[i - (r - b->rank)];
		if (da != db && da != 1 && db != 1)
			return 0;
		out->dim[i] = da > db ? da : db;
	}
	return 1;
}

static int
rule_broadcast(OpCall *c)
{
	static const char *const verb[] = {
		[OP_ADD] = "add", [OP_SUB] = "subtract", [OP_MUL] = "multiply",
		[OP_DIV] = "divide"};
	static const char *const sym[] = {
		[OP_ADD] = "+", [OP_SUB] = "-", [OP_MUL] = "*", [OP_DIV] = "/"};
	const Shape *a = &c->in[0]->shape, *b = &c->in[1]->shape;
	if (broadcast(a, b, &c->out))
		return 1;
	if (c->op <= OP_DIV)
		diag_error(c->d, c->id_span, "cannot %s %s %s %s: shapes do not "
			   "broadcast", verb[c->op], shp(c, a), sym[c->op],
			   shp(c, b));
	else
		diag_error(c->d, c->id_span, "cannot take the %s of %s and %s: shapes "
			   "do not broadcast", fname(c), shp(c, a), shp(c, b));
	return 0;
}

/* numpy matmul: [k] operands become a row / a column, then drop out;
 * leading axes (rank >= 3) broadcast. */
static int
rule_matmul(OpCall *c)
{
	const Shape *x = &c->in[0]->shape, *y = &c->in[1]->shape;
	int ok = x->rank >= 1 && y->rank >= 1;
	Shape out = scalar();
	if (ok) {
		int64_t kx = x->dim[x->rank - 1];
		int64_t ky = y->rank == 1 ? y->dim[0] : y->dim[y->rank - 2];
		Shape la = scalar(), lb = scalar(), lead;
		la.rank = x->rank > 2 ? x->rank - 2 : 0;
		lb.rank = y->rank > 2 ? y->rank - 2 : 0;
		memcpy(la.dim, x->dim, sizeof(int64_t) * (size_t)la.rank);
		memcpy(lb.dim, y->dim, sizeof(int64_t) * (size_t)lb.rank);
		ok = kx == ky && broadcast(&la, &lb, &lead);
		if (ok) {
			out = lead;
			if (x->rank >= 2)
				out.dim[out.rank++] = x->dim[x->rank - 2];
			if (y->rank >= 2)
				out.dim[out.rank++] = y->dim[y->rank - 1];
		}
	}
	if (!ok) {
		diag_error(c->d, c->id_span, "cannot multiply %s @ %s", shp(c, x),
			   shp(c, y));
		return 0;
	}
	c->out = out;
	return 1;
}

/* softmax, log_softmax, layernorm: over one axis, -1 by default */
static int
rule_axis(OpCall *c)
{
	const Shape *x = &c->in[0]->shape;
	const OpArg *ax = kw(c, "axis");
	if (x->rank < 1) {
		diag_error(c->d, c->in_span[0], "%s works over %s; a scalar has none",
			   fname(c), ax ? "an axis" : "the last axis");
		return 0;
	}
	int a = x->rank - 1;
	if (ax && (ax->n != 1 || !axis_in(c, ax->v[0], x->rank, ax->span, &a))) {
		if (ax->n != 1)
			diag_error(c->d, ax->span, "%s takes one axis", fname(c));
		return 0;
	}
	c->at->naxes = 1;
	c->at->axes[0] = a;
	c->out = *x;
	return 1;
}

/* sum, mean, max: over every element, or the given axes (removed) */
static int
rule_reduce(OpCall *c)
{
	const Shape *x = &c->in[0]->shape;
	const OpArg *ax = kw(c, "axis");
	OpAttr *at = c->at;
	int red[PCC_MAX_RANK] = {0};
	if (!ax) {
		for (int i = 0; i < x->rank; i++)
			red[i] = 1;
	} else {
		if (x->rank < 1) {
			diag_error(c->d, ax->span, "%s of a scalar has no axis",
				   fname(c));
			return 0;
		}
		for (int i = 0; i < ax->n; i++) {
			int a;
			if (!axis_in(c, ax->v[i], x->rank, ax->span, &a))
				return 0;
			if (red[a]) {
				diag_error(c->d, ax->span, "axis %d is given twice",
					   a);
				return 0;
			}
			red[a] = 1;
		}
	}
	Shape out = scalar();
	for (int i = 0; i < x->rank; i++) {
		if (red[i])
			at->axes[at->naxes++] = i;
		else
			out.dim[out.rank++] = x->dim[i];
	}
	c->out = out;
	return 1;
}

static int
rule_transpose(OpCall *c)
{
	const Shape *x = &c->in[0]->shape;
	const OpArg *p = kw(c, "perm");
	if (x->rank < 2) {
		diag_error(c->d, c->in_span[0], "transpose takes a tensor of rank 2 "
			   "or more, got %s", shp(c, x));
		return 0;
	}
	int perm[PCC_MAX_RANK], seen[PCC_MAX_RANK] = {0};
	for (int i = 0; i < x->rank; i++)
		perm[i] = i;
	if (!p) {
		perm[x->rank - 2] = x->rank - 1;
		perm[x->rank - 1] = x->rank - 2;
	} else {
		if (p->n != x->rank) {
			diag_error(c->d, p->span, "perm has %d axes but %s has %d",
				   p->n, shp(c, x), x->rank);
			return 0;
		}
		for (int i = 0; i < p->n; i++) {
			if (!axis_in(c, p->v[i], x->rank, p->span, &perm[i]))
				return 0;
			if (seen[perm[i]]++) {
				diag_error(c->d, p->span, "perm is not a permutation: "
					   "axis %d appears twice", perm[i]);
				return 0;
			}
		}
	}
	c->out = *x;
	c->at->naxes = x->rank;
	for (int i = 0; i < x->rank; i++) {
		c->at->axes[i] = perm[i];
		c->out.dim[i] = x->dim[perm[i]];
	}
	return 1;
}

static int
rule_reshape(OpCall *c)
{
	const Shape *x = &c->in[0]->shape;
	if (c->op == OP_FLATTEN) { /* a reshape to one axis */
		c->out = scalar();
		c->out.rank = 1;
		c->out.dim[0] = shape_numel(x);
		c->op = OP_RESHAPE;
		return 1;
	}
	if (c->arg[1].node || c->arg[1].n == 0) {
		diag_error(c->d, c->arg[1].span, "reshape takes a shape like [2, 3] "
			   "as its second argument");
		return 0;
	}
	Shape out = scalar();
	out.rank = c->arg[1].n;
	memcpy(out.dim, c->arg[1].v, sizeof(int64_t) * (size_t)out.rank);
	if (shape_numel(&out) != shape_numel(x)) {
		diag_error(c->d, c->span, "cannot reshape %s (%lld elements) to %s "
			   "(%lld elements)", shp(c, x),
			   (long long)shape_numel(x), shp(c, &out),
			   (long long)shape_numel(&out));
		return 0;
	}
	c->out = out;
	return 1;
}

static int
rule_concat(OpCall *c)
{
	const OpArg *ax = kw(c, "axis");
	const Node *first = c->many[0];
	Shape out = first->shape;
	int a = 0;
	for (int k = 0; k < c->nin; k++)
		if (c->many[k]->shape.rank < 1) {
			diag_error(c->d, c->in_span[k < OP_MAX_ARGS ? k : 0],
				   "cannot concat a scalar: concat joins along "
				   "%s", ax ? "an axis" : "the first axis");
			return 0;
		}
	if (ax && (ax->n != 1 || !axis_in(c, ax->v[0], out.rank, ax->span, &a)))
		return 0;
	for (int k = 1; k < c->nin; k++) {
		const Shape *x = &c->many[k]->shape;
		int same = x->rank == out.rank;
		for (int i = 0; same && i < x->rank; i++)
			same = i == a || x->dim[i] == out.dim[i];
		if (!same) {
			Span sp = c->in_span[k < OP_MAX_ARGS ? k : 0];
			if (a == 0)
				diag_error(c->d, sp, "cannot concat %s with %s: "
					   "dimensions after the first must "
					   "match", shp(c, &first->shape),
					   shp(c, x));
			else
				diag_error(c->d, sp, "cannot concat %s with %s along "
					   "axis %d: the other dimensions must "
					   "match", shp(c, &first->shape),
					   shp(c, x), a);
			return 0;
		}
		out.dim[a] += x->dim[a];
	}
	c->at->naxes = 1;
	c->at->axes[0] = a;
	c->out = out;
	return 1;
}

static int
rule_tri(OpCall *c)
{
	const Shape *x = &c->in[0]->shape;
	if (x->rank < 2) {
		diag_error(c->d, c->in_span[0], "%s works on the last two axes; %s "
			   "has rank %d", fname(c), shp(c, x), x->rank);
		return 0;
	}
	const OpArg *k = kw(c, "k"), *fill = kw(c, "fill");
	c->at->k[0] = k ? (int)k->v[0] : 0;
	c->at->num[0] = fill ? fill->num : 0;
	if (fill && isnan(fill->num)) {
		diag_error(c->d, fill->span, "fill must be a number or -inf, not NaN");
		return 0;
	}
	c->out = *x;
	return 1;
}

/* conv1d x[C, L] K[O, C/g, k]; conv2d x[C, H, W] K[O, C/g, kh, kw] */
static int
rule_conv(OpCall *c)
{
	int d2 = c->op == OP_CONV2D;
	int nd = d2 ? 2 : 1;
	const Node *xn = c->in[0], *kn = c->in[1];
	const Shape *x = &xn->shape, *k = &kn->shape;
	OpAttr *at = c->at;
	if (kn->batched) {
		diag_error(c->d, c->in_span[1], "%s's kernel depends on the data; it "
			   "must be a parameter or computed from parameters",
			   fname(c));
		return 0;
	}
	int g = 1;
	const OpArg *gk = kw(c, "groups");
	if (gk) {
		if (gk->v[0] < 1) {
			diag_error(c->d, gk->span, "groups must be positive, got %lld",
				   (long long)gk->v[0]);
			return 0;
		}
		g = (int)gk->v[0];
	}
	if (x->rank != nd + 1 || k->rank != nd + 2) {
		diag_error(c->d, c->id_span, "cannot convolve %s with kernel %s: %s "
			   "takes x[C,%s] and K[O,C%s,%s]", shp(c, x), shp(c, k),
			   fname(c), d2 ? "H,W" : "L", g == 1 ? "" : "/groups",
			   d2 ? "kh,kw" : "k");
		return 0;
	}
	if (x->dim[0] % g || k->dim[0] % g) {
		diag_error(c->d, gk->span, "groups %d does not divide the channels: "
			   "input %lld, output %lld", g, (long long)x->dim[0],
			   (long long)k->dim[0]);
		return 0;
	}
	if (k->dim[1] * g != x->dim[0]) {
		if (g == 1)
			diag_error(c->d, c->id_span, "cannot convolve %s with kernel "
				   "%s: %s takes x[C,%s] and K[O,C,%s]", shp(c, x),
				   shp(c, k), fname(c), d2 ? "H,W" : "L",
				   d2 ? "kh,kw" : "k");
		else
			diag_error(c->d, c->id_span, "cannot convolve %s with kernel "
				   "%s in %d groups: K needs C/groups = %lld "
				   "input channels", shp(c, x), shp(c, k), g,
				   (long long)(x->dim[0] / g));
		return 0;
	}
	int st[2], pd[2], dl[2];
	if (!pair(c, "stride", nd, 1, st) || !pair(c, "pad", nd, 0, pd) ||
	    !pair(c, "dilation", nd, 1, dl))
		return 0;
	Shape out = scalar();
	out.rank = nd + 1;
	out.dim[0] = k->dim[0];
	at->groups = g;
	at->k[0] = at->stride[0] = at->dil[0] = 1;
	for (int i = 0; i < nd; i++) {
		int j = d2 ? i : 1; /* 1-D: the w slot */
		int64_t in = x->dim[1 + i], kk = k->dim[2 + i];
		int64_t span = (int64_t)dl[i] * (kk - 1) + 1;
		int64_t room = in + 2 * (int64_t)pd[i] - span;
		if (room < 0) {
			diag_error(c->d, c->id_span, "%s kernel %s is larger than the "
				   "padded input %s", fname(c), shp(c, k),
				   shp(c, x));
			return 0;
		}
		out.dim[1 + i] = room / st[i] + 1;
		at->k[j] = (int)kk;
		at->stride[j] = st[i];
		at->pad[j] = pd[i];
		at->dil[j] = dl[i];
	}
	if (!d2)
		at->pad[0] = 0;
	c->out = out;
	return 1;
}

static int
rule_pool(OpCall *c)
{
	int d2 = c->op == OP_MAXPOOL2D || c->op == OP_AVGPOOL2D;
	int nd = d2 ? 2 : 1;
	const Shape *x = &c->in[0]->shape;
	const OpArg *w = &c->arg[1];
	OpAttr *at = c->at;
	int k[2];
	if (w->n != 1 && w->n != nd) {
		diag_error(c->d, w->span, "%s window takes %s", fname(c),
			   d2 ? "a number or [h, w]" : "one number");
		return 0;
	}
	for (int i = 0; i < nd; i++) {
		int64_t v = w->v[w->n == 1 ? 0 : i];
		if (v <= 0) {
			diag_error(c->d, w->span, "%s window must be a positive "
				   "integer, got %lld", fname(c), (long long)v);
			return 0;
		}
		k[i] = (int)v;
	}
	if (x->rank != nd + 1) {
		diag_error(c->d, c->in_span[0], "%s takes x[C,%s], got %s", fname(c),
			   d2 ? "H,W" : "L", shp(c, x));
		return 0;
	}
	int st[2], pd[2];
	if (!pair(c, "stride", nd, 0, st) || !pair(c, "pad", nd, 0, pd))
		return 0;
	Shape out = *x;
	at->k[0] = at->stride[0] = 1;
	for (int i = 0; i < nd; i++) {
		int j = d2 ? i : 1;
		if (!st[i])
			st[i] = k[i];
		if (2 * pd[i] > k[i]) {
			diag_error(c->d, kw(c, "pad")->span, "%s pad %d is more than "
				   "half the window %d", fname(c), pd[i], k[i]);
			return 0;
		}
		int64_t room = x->dim[1 + i] + 2 * (int64_t)pd[i] - k[i];
		if (room < 0) {
			if (w->n == 1 && !pd[i])
				diag_error(c->d, c->id_span, "%s window %d is larger "
					   "than the input %s", fname(c), k[i],
					   shp(c, x));
			else
				diag_error(c->d, c->id_span, "%s window %s is larger "
					   "than the padded input %s", fname(c),
					   shp(c, &(Shape){nd, {k[0], k[1]}}),
					   shp(c, x));
			return 0;
		}
		out.dim[1 + i] = room / st[i] + 1;
		at->k[j] = k[i];
		at->stride[j] = st[i];
		at->pad[j] = pd[i];
	}
	c->out = out;
	return 1;
}

static int
rule_embedding(OpCall *c)
{
	const Node *e = c->in[0], *ids = c->in[1];
	if (e->shape.rank != 2 || e->batched) {
		diag_error(c->d, c->in_span[0], "embedding takes a table E[V, D] of "
			   "parameters (or computed from them), got %s%s",
			   shp(c, &e->shape), e->batched ? " that depends on the "
			   "data" : "");
		return 0;
	}
	if (ids->op != OP_INPUT && ids->op != OP_TARGET) {
		diag_error(c->d, c->in_span[1], "embedding's ids must be an integer "
			   "input");
		return 0;
	}
	Shape out = ids->shape;
	if (out.rank == PCC_MAX_RANK) {
		diag_error(c->d, c->span, "embedding of %s would have more than %d "
			   "axes", shp(c, &ids->shape), PCC_MAX_RANK);
		return 0;
	}
	if (ids->bound > e->shape.dim[0]) {
		diag_error(c->d, c->in_span[1], "the ids of '%s' go up to %lld but the "
			   "table %s has %lld rows", ids->label,
			   (long long)ids->bound - 1, shp(c, &e->shape),
			   (long long)e->shape.dim[0]);
		return 0;
	}
	out.dim[out.rank++] = e->shape.dim[1];
	c->out = out;
	return 1;
}

static int
rule_one_hot(OpCall *c)
{
	const OpArg *n = &c->arg[1];
	if (!n->is_int || n->num < 1) {
		diag_error(c->d, n->span, "one_hot's class count must be a positive "
			   "integer");
		return 0;
	}
	Shape out = c->in[0]->shape;
	if (out.rank == PCC_MAX_RANK) {
		diag_error(c->d, c->span, "one_hot would have more than %d axes",
			   PCC_MAX_RANK);
		return 0;
	}
	if (c->in[0]->bound > (int64_t)n->num) {
		diag_error(c->d, n->span, "the ids of '%s' go up to %lld but one_hot "
			   "has %lld classes", c->in[0]->label,
			   (long long)c->in[0]->bound - 1, (long long)n->num);
		return 0;
	}
	out.dim[out.rank++] = (int64_t)n->num;
	c->out = out;
	return 1;
}

/* batchnorm(x, momentum=0.1, eps=1e-5): channels on the first axis */
static int
rule_batchnorm(OpCall *c)
{
	const Shape *x = &c->in[0]->shape;
	if (x->rank < 1) {
		diag_error(c->d, c->in_span[0], "batchnorm normalises each channel "
			   "(the first axis); a scalar has none");
		return 0;
	}
	const OpArg *m = kw(c, "momentum"), *e = kw(c, "eps");
	double mv = m ? m->num : 0.1, ev = e ? e->num : 1e-5;
	if (!(mv >= 0 && mv <= 1)) {
		diag_error(c->d, m->span, "batchnorm's momentum must be in [0, 1]");
		return 0;
	}
	if (!(ev > 0) || isinf(ev)) {
		diag_error(c->d, e->span, "batchnorm's eps must be a positive "
			   "number");
		return 0;
	}
	c->at->num[0] = mv;
	c->at->num[1] = ev;
	c->out = *x;
	return 1;
}

/* dropout(x, p): a compile-time rate 0 <= p < 1 */
static int
rule_dropout(OpCall *c)
{
	const OpArg *p = &c->arg[1];
	if (!(p->num >= 0 && p->num < 1)) {
		diag_error(c->d, p->span, "dropout's rate must be in [0, 1) (got "
			   "%g)", p->num);
		return 0;
	}
	c->at->num[0] = p->num;
	c->out = c->in[0]->shape;
	return 1;
}

static int
rule_fill(OpCall *c)
{
	if (c->arg[0].node || c->arg[0].n == 0 || c->arg[0].is_int < 0) {
		diag_error(c->d, c->arg[0].span, "%s takes a shape like [2, 3]",
			   fname(c));
		return 0;
	}
	c->out = scalar();
	c->out.rank = c->arg[0].n;
	memcpy(c->out.dim, c->arg[0].v, sizeof(int64_t) * (size_t)c->out.rank);
	c->value = c->op == OP_ONES;
	c->op = OP_CONST;
	return 1;
}

/* Losses: output o and target t of the same shape (cross_entropy also
 * takes integer class ids, one per row of o); a scalar per sample. */
static int
rule_loss(OpCall *c)
{
	const Node *o = c->in[0], *t = c->in[1];
	if (o->is_int) {
		diag_error(c->d, c->in_span[0], "the first argument of %s is an "
			   "output, not integer ids", fname(c));
		return 0;
	}
	if (t->is_int) {
		if (c->op != OP_CROSS_ENTROPY) {
			diag_error(c->d, c->in_span[1], "%s needs a real target; "
				   "integer class ids go with cross_entropy",
				   fname(c));
			return 0;
		}
		Shape rows = o->shape;
		rows.rank = o->shape.rank ? o->shape.rank - 1 : 0;
		rows.dim[rows.rank] = 0;
		if (o->shape.rank < 1 || !shape_equal(&rows, &t->shape)) {
			diag_error(c->d, c->span, "cross_entropy with class ids: the "
				   "output %s needs ids of shape %s (one per "
				   "row), got %s", shp(c, &o->shape),
				   shp(c, &rows), shp(c, &t->shape));
			return 0;
		}
		int64_t classes = o->shape.dim[o->shape.rank - 1];
		if (t->bound > classes) {
			diag_error(c->d, c->in_span[1], "the ids of '%s' go up to %lld "
				   "but the output has %lld classes", t->label,
				   (long long)t->bound - 1, (long long)classes);
			return 0;
		}
	} else if (!shape_equal(&o->shape, &t->shape)) {
		diag_error(c->d, c->span, "loss shapes differ: output %s, target %s",
			   shp(c, &o->shape), shp(c, &t->shape));
		return 0;
	}
	if (c->op == OP_CROSS_ENTROPY && o->shape.rank < 1) {
		diag_error(c->d, c->in_span[0], "cross_entropy needs at least one axis "
			   "(softmax over the last axis)");
		return 0;
	}
	const OpArg *d = kw(c, "delta");
	c->at->num[0] = d ? d->num : 1.0;
	if (c->op == OP_HUBER && !(c->at->num[0] > 0)) {
		diag_error(c->d, d->span, "huber's delta must be positive");
		return 0;
	}
	c->out = scalar();
	return 1;
}

/* ------------------------------------------------------- constant folds */

static double f_neg(double x, const double *a) { (void)a; return -x; }
static double f_tanh(double x, const double *a) { (void)a; return tanh(x); }
static double f_sigmoid(double x, const double *a)
{
	(void)a;
	return 1 / (1 + exp(-x));
}
static double f_relu(double x, const double *a) { (void)a; return x > 0 ? x : 0; }
static double f_exp(double x, const double *a) { (void)a; return exp(x); }
static double f_log(double x, const double *a) { (void)a; return log(x); }
static double f_sqrt(double x, const double *a) { (void)a; return sqrt(x); }
static double f_square(double x, const double *a) { (void)a; return x * x; }
static double f_softplus(double x, const double *a)
{
	(void)a;
	return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}
static double f_abs(double x, const double *a) { (void)a; return fabs(x); }
static double f_leaky(double x, const double *a) { return x > 0 ? x : a[0] * x; }
static double f_gelu(double x, const double *a)
{
	(void)a;
	return 0.5 * x * (1 + erf(x / sqrt(2.0)));
}
static double f_silu(double x, const double *a) { (void)a; return x / (1 + exp(-x)); }
static double f_elu(double x, const double *a)
{
	return x > 0 ? x : a[0] * (exp(x) - 1);
}
static double f_erf(double x, const double *a) { (void)a; return erf(x); }
static double f_sin(double x, const double *a) { (void)a; return sin(x); }
static double f_cos(double x, const double *a) { (void)a; return cos(x); }
static double f_log1p(double x, const double *a) { (void)a; return log1p(x); }
static double f_pow(double x, const double *a) { return pow(x, a[0]); }
static double f_clip(double x, const double *a)
{
	return x < a[0] ? a[0] : x > a[1] ? a[1] : x;
}
static double f_maximum(double x, const double *a) { return x >= a[0] ? x : a[0]; }
static double f_minimum(double x, const double *a) { return x <= a[0] ? x : a[0]; }

/* ------------------------------------------------- forward and VJP code */

#define RT(name) emit_rt(E, name)
#define LIT(x) emit_lit(E, x)
#define I(x) ((long long)(x))

static int64_t
prod(const Shape *s, int lo, int hi)
{
	int64_t p = 1;
	for (int i = lo; i < hi; i++)
		p *= s->dim[i];
	return p;
}

/* "(const int[]){3, 4}" with the samples in use (or 1) put first. */
static const char *
batch_first(Emit *E, int batched, const char *ints)
{
	const char *open = "(const int[]){";
	size_t k = strlen(open);
	return arena_printf(E->a, "%s%s%s%s", open, batched ? "nb" : "1",
			    ints[k] == '}' ? "" : ", ", ints + k);
}

/* The dims of a node with the batch axis first (1 if shared). */
static const char *
dims_b(Emit *E, const Node *n, const Shape *s)
{
	return batch_first(E, n->batched, emit_ints(E, s->rank, s->dim));
}

static void
fwd_const(Emit *E, const Node *n, const char *y, const char *const *xs)
{
	(void)xs;
	emit_line(E, "%s(%s, %s, %s);", RT("fill"), emit_count(E, n), y,
		  LIT(n->value));
}

/* matmul: operands of rank <= 2 fold the batch into the GEMM (emit_gemm);
 * batched products loop over the leading axes, one GEMM each. */
static void
mat_dims(const Node *n, int right, int64_t *r, int64_t *c)
{
	const Shape *s = &n->shape;
	if (s->rank >= 2) {
		*r = s->dim[s->rank - 2];
		*c = s->dim[s->rank - 1];
	} else if (right) {
		*r = s->dim[0];
		*c = 1;
	} else {
		*r = 1;
		*c = s->dim[0];
	}
}

/* Whether n's forward product is one call that writes the whole of its
 * value as rows of its last dimension (emit_gemm's forms for a batched
 * value: the samples' rows stacked, or a vector a sample), the forms that
 * take a forward epilogue (emit_fwd_fused). */
int
matmul_fwd_rows(const Node *n)
{
	if (n->op != OP_MATMUL || n->nin != 2 || n->in[0]->shape.rank > 2 ||
	    n->in[1]->shape.rank > 2 || !n->batched)
		return 0;
	int64_t br, bc;
	mat_dims(n->in[1], 1, &br, &bc);
	int xb = n->in[0]->batched, yb = n->in[1]->batched;
	return (xb && !yb) || (!xb && yb && bc == 1 && n->shape.rank == 1);
}

/* The leading (batched-matmul) axes of the output and each operand's
 * element stride along them (0 where it broadcasts). */
typedef struct Lead {
	int n;
	int64_t ext[PCC_MAX_RANK], sa[PCC_MAX_RANK], sb[PCC_MAX_RANK];
} Lead;

static void
lead_of(const Node *y, Lead *L)
{
	const Node *a = y->in[0], *b = y->in[1];
	int ra = a->shape.rank, rb = b->shape.rank;
	int la = ra > 2 ? ra - 2 : 0, lb = rb > 2 ? rb - 2 : 0;
	L->n = la > lb ? la : lb;
	int64_t ma = ra >= 2 ? prod(&a->shape, ra - 2, ra) : 0;
	int64_t mb = rb >= 2 ? prod(&b->shape, rb - 2, rb) : 0;
	int64_t ta = ma, tb = mb;
	for (int i = L->n - 1; i >= 0; i--) {
		int ia = i - (L->n - la), ib = i - (L->n - lb);
		int64_t ea = ia >= 0 ? a->shape.dim[ia] : 1;
		int64_t eb = ib >= 0 ? b->shape.dim[ib] : 1;
		L->ext[i] = ea > eb ? ea : eb;
		L->sa[i] = ea == 1 ? 0 : ta;
		L->sb[i] = eb == 1 ? 0 : tb;
		ta *= ea;
		tb *= eb;
	}
}

static const char *
lead_off(Emit *E, const Lead *L, const int64_t *st)
{
	StrBuf sb = {0};
	sb_puts(&sb, "");
	for (int i = 0; i < L->n; i++)
		if (st[i])
			sb_printf(&sb, " + l%d * %lld", i, I(st[i]));
	const char *r = arena_strdup(E->a, sb.data);
	sb_free(&sb);
	return r;
}

/* k < 0: y = a @ b; k = 0: da (+)= dy b^T; k = 1: db (+)= a^T dy */
static void
batched_matmul(Emit *E, const Node *n, int k, const char *y,
	       const char *const *xs, const char *dy, const char *dx, int acc)
{
	const Node *a = n->in[0], *b = n->in[1];
	Lead L;
	lead_of(n, &L);
	int64_t ar, ac, br, bc;
	mat_dims(a, 0, &ar, &ac);
	mat_dims(b, 1, &br, &bc);
	int64_t M = ar, N = bc, K = ac, mn = M * N;
	const char *gemm = E->is_float ? "pcg_sgemm_mt" : "pcg_dgemm_mt";
	const char *B = emit_batch(E, n);
	/* offsets: per sample, then per leading index */
	const char *oa = arena_printf(E->a, "%s%s", a->batched ? arena_printf(
		E->a, "b * %lld", I(emit_numel(a))) : "0", lead_off(E, &L, L.sa));
	const char *ob = arena_printf(E->a, "%s%s", b->batched ? arena_printf(
		E->a, "b * %lld", I(emit_numel(b))) : "0", lead_off(E, &L, L.sb));
	int64_t sy[PCC_MAX_RANK];
	int64_t t = mn;
	for (int i = L.n - 1; i >= 0; i--) {
		sy[i] = t;
		t *= L.ext[i];
	}
	const char *oy = arena_printf(E->a, "%s%s", n->batched ? arena_printf(
		E->a, "b * %lld", I(emit_numel(n))) : "0", lead_off(E, &L, sy));
	/* an operand summed over (broadcast along some axis, or shared by a
	 * batched product) is zeroed first and accumulated */
	int sum = 0;
	if (k >= 0) {
		const Node *x = n->in[k];
		const int64_t *st = k ? L.sb : L.sa;
		sum = n->batched && !x->batched;
		for (int i = 0; i < L.n; i++)
			sum |= st[i] == 0 && L.ext[i] > 1;
		if (sum && !acc)
			emit_line(E, "%s(%s, %s, %s);", RT("fill"),
				  emit_count(E, x), dx, LIT(0));
	}
	const char *beta = k < 0 ? LIT(0) : sum || acc ? LIT(1) : LIT(0);
	emit_line(E, "for (int b = 0; b < %s; b++)", B);
	for (int i = 0; i < L.n; i++)
		emit_line(E, "%*sfor (int l%d = 0; l%d < %lld; l%d++)", i + 1,
			  "\t", i, i, I(L.ext[i]), i);
	const char *ind = arena_printf(E->a, "%*s", L.n + 1, "\t");
	for (char *p = (char *)ind; *p; p++)
		*p = '\t';
	if (k < 0)
		emit_line(E, "%s%s(s->pool, 0, 0, %lld, %lld, %lld, %s, %s + %s, "
			  "%lld, %s + %s, %lld, %s, %s + %s, %lld);", ind, gemm, I(M),
			  I(N), I(K), LIT(1), xs[0], oa, I(ac), xs[1], ob, I(bc),
			  beta, y, oy, I(N));
	else if (k == 0) /* da[M x K] = dy[M x N] b^T */
		emit_line(E, "%s%s(s->pool, 0, 1, %lld, %lld, %lld, %s, %s + %s, "
			  "%lld, %s + %s, %lld, %s, %s + %s, %lld);", ind, gemm, I(M),
			  I(K), I(N), LIT(1), dy, oy, I(N), xs[1], ob, I(bc),
			  beta, dx, oa, I(ac));
	else /* db[K x N] = a^T dy */
		emit_line(E, "%s%s(s->pool, 1, 0, %lld, %lld, %lld, %s, %s + %s, "
			  "%lld, %s + %s, %lld, %s, %s + %s, %lld);", ind, gemm, I(K),
			  I(N), I(M), LIT(1), xs[0], oa, I(ac), dy, oy, I(N),
			  beta, dx, ob, I(bc));
}

static int
is_batched_matmul(const Node *n)
{
	return n->in[0]->shape.rank > 2 || n->in[1]->shape.rank > 2;
}

static void
fwd_matmul(Emit *E, const Node *n, const char *y, const char *const *xs)
{
	if (is_batched_matmul(n)) {
		batched_matmul(E, n, -1, y, xs, NULL, NULL, 0);
		return;
	}
	int64_t ar, ac, br, bc;
	mat_dims(n->in[0], 0, &ar, &ac);
	mat_dims(n->in[1], 1, &br, &bc);
	emit_gemm(E, y, n->batched, xs[0], n->in[0]->batched, ar, ac, 0, xs[1],
		  n->in[1]->batched, br, bc, 0, 0);
}

static void
vjp_matmul(Emit *E, const Node *n, int k, const char *y, const char *const *xs,
	   const char *dy, const char *dx, int acc)
{
	(void)y;
	if (is_batched_matmul(n)) {
		batched_matmul(E, n, k, y, xs, dy, dx, acc);
		return;
	}
	const Node *a = n->in[0], *b = n->in[1];
	int64_t ar, ac, br, bc;
	mat_dims(a, 0, &ar, &ac);
	mat_dims(b, 1, &br, &bc);
	if (k == 0) /* da = dc b^T */
		emit_gemm(E, dx, a->batched, dy, n->batched, ar, bc, 0, xs[1],
			  b->batched, br, bc, 1, acc);
	else /* db = a^T dc */
		emit_gemm(E, dx, b->batched, xs[0], a->batched, ar, ac, 1, dy,
			  n->batched, ar, bc, 0, acc);
}

/* [outer][n][inner] around the op's axis, the batch in outer */
static void
around_axis(Emit *E, const Node *n, const Shape *s, int ax, const char **outer,
	    int64_t *len, int64_t *inner)
{
	*outer = arena_printf(E->a, "%s * %lld", emit_batch(E, n),
			      I(prod(s, 0, ax)));
	*len = s->dim[ax];
	*inner = prod(s, ax + 1, s->rank);
}

static const char *
axis_kernel(OpKind op)
{
	return op == OP_SOFTMAX ? "softmax"
	       : op == OP_LOG_SOFTMAX ? "log_softmax" : "layernorm";
}

static void
fwd_axis(Emit *E, const Node *n, const char *y, const char *const *xs)
{
	const char *outer;
	int64_t len, inner;
	around_axis(E, n, &n->shape, n->at->axes[0], &outer, &len, &inner);
	if (n->op == OP_LAYERNORM)
		emit_line(E, "%s(%s, %lld, %lld, %s, %s, %s);", RT("layernorm"),
			  outer, I(len), I(inner), LIT(1e-5), y, xs[0]);
	else
		emit_line(E, "%s(%s, %lld, %lld, %s, %s);", RT(axis_kernel(n->op)),
			  outer, I(len), I(inner), y, xs[0]);
}

static void
vjp_axis(Emit *E, const Node *n, int k, const char *y, const char *const *xs,
	 const char *dy, const char *dx, int acc)
{
	(void)k;
	const char *outer;
	int64_t len, inner;
	around_axis(E, n, &n->shape, n->at->axes[0], &outer, &len, &inner);
	const char *kn = arena_printf(E->a, "%s_vjp", axis_kernel(n->op));
	if (n->op == OP_LAYERNORM)
		emit_line(E, "%s(%s, %lld, %lld, %s, %d, %s, %s, %s, %s);", RT(kn),
			  outer, I(len), I(inner), LIT(1e-5), acc, dx, dy, xs[0],
			  y);
	else
		emit_line(E, "%s(%s, %lld, %lld, %d, %s, %s, %s);", RT(kn), outer,
			  I(len), I(inner), acc, dx, dy, y);
}

/* reductions: the input's dims (batch first) and the reduced axes */
static const char *
red_mask(Emit *E, const Node *n)
{
	int64_t v[PCC_MAX_RANK + 1] = {0};
	for (int i = 0; i < n->at->naxes; i++)
		v[n->at->axes[i] + 1] = 1;
	return emit_ints(E, n->in[0]->shape.rank + 1, v);
}

static double
red_scale(const Node *n)
{
	if (n->op != OP_MEAN)
		return 1.0;
	int64_t cnt = 1;
	for (int i = 0; i < n->at->naxes; i++)
		cnt *= n->in[0]->shape.dim[n->at->axes[i]];
	return 1.0 / (double)cnt;
}

static void
fwd_reduce(Emit *E, const Node *n, const char *y, const char *const *xs)
{
	const Node *x = n->in[0];
	emit_line(E, "%s(%s, %d, %s, %s, %s, %s, %s);", RT("reduce"),
		  n->op == OP_MAX ? "PCG_REDUCE_MAX" : "PCG_REDUCE_SUM",
		  x->shape.rank + 1, dims_b(E, x, &x->shape), red_mask(E, n),
		  LIT(red_scale(n)), y, xs[0]);
}

static void
vjp_reduce(Emit *E, const Node *n, int k, const char *y, const char *const *xs,
	   const char *dy, const char *dx, int acc)
{
	(void)k;
	const Node *x = n->in[0];
	emit_line(E, "%s(%s, %d, %s, %s, %d, %s, %s, %s, %s, %s);",
		  RT("reduce_vjp"),
		  n->op == OP_MAX ? "PCG_REDUCE_MAX" : "PCG_REDUCE_SUM",
		  x->shape.rank + 1, dims_b(E, x, &x->shape), red_mask(E, n), acc,
		  LIT(red_scale(n)), dx, dy, xs[0], y);
}

static const char *
perm_b(Emit *E, const Node *n)
{
	int64_t v[PCC_MAX_RANK + 1];
	v[0] = 0;
	for (int i = 0; i < n->at->naxes; i++)
		v[i + 1] = n->at->axes[i] + 1;
	return emit_ints(E, n->at->naxes + 1, v);
}

static void
fwd_transpose(Emit *E, const Node *n, const char *y, const char *const *xs)
{
	const Node *x = n->in[0];
	emit_line(E, "%s(%d, %s, %s, %s, %s);", RT("permute"), x->shape.rank + 1,
		  dims_b(E, x, &x->shape), perm_b(E, n), y, xs[0]);
}

static void
vjp_transpose(Emit *E, const Node *n, int k, const char *y,
	      const char *const *xs, const char *dy, const char *dx, int acc)
{
	(void)k;
	(void)y;
	(void)xs;
	const Node *x = n->in[0];
	emit_line(E, "%s(%d, %s, %s, %d, %s, %s);", RT("permute_vjp"),
		  x->shape.rank + 1, dims_b(E, x, &x->shape), perm_b(E, n), acc,
		  dx, dy);
}

static void
fwd_copy(Emit *E, const Node *n, const char *y, const char *const *xs)
{
	emit_line(E, "%s(%s, %s, %s);", RT("copy"), emit_count(E, n), y, xs[0]);
}

static void
vjp_copy(Emit *E, const Node *n, int k, const char *y, const char *const *xs,
	 const char *dy, const char *dx, int acc)
{
	(void)k;
	(void)y;
	(void)xs;
	emit_line(E, "%s(%s, %d, %s, %s);", RT("copy_vjp"), emit_count(E, n), acc,
		  dx, dy);
}

/* concat: [outer][len x inner] blocks, the batch in a loop of its own */
static void
concat_geo(const Node *n, int k, int64_t *outer, int64_t *ylen, int64_t *xlen,
	   int64_t *off)
{
	int a = n->at->axes[0];
	int64_t inner = prod(&n->shape, a + 1, n->shape.rank);
	*outer = prod(&n->shape, 0, a);
	*ylen = n->shape.dim[a] * inner;
	*off = 0;
	for (int j = 0; j < k; j++)
		*off += n->in[j]->shape.dim[a] * inner;
	*xlen = n->in[k]->shape.dim[a] * inner;
}

static void
fwd_concat(Emit *E, const Node *n, const char *y, const char *const *xs)
{
	for (int k = 0; k < n->nin; k++) {
		int64_t outer, ylen, xlen, off;
		concat_geo(n, k, &outer, &ylen, &xlen, &off);
		const Node *x = n->in[k];
		emit_line(E, "%s(%s, %lld, %lld, %lld, %lld, %lld, %s, %s);",
			  RT("place"), emit_batch(E, n), I(outer), I(ylen), I(off),
			  I(xlen), I(x->batched ? emit_numel(x) : 0), y, xs[k]);
	}
}

static void
vjp_concat(Emit *E, const Node *n, int k, const char *y, const char *const *xs,
	   const char *dy, const char *dx, int acc)
{
	(void)y;
	(void)xs;
	int64_t outer, ylen, xlen, off;
	concat_geo(n, k, &outer, &ylen, &xlen, &off);
	const Node *x = n->in[k];
	emit_line(E, "%s(%s, %lld, %lld, %lld, %lld, %lld, %d, %s, %s);",
		  RT("gather"), emit_batch(E, n), I(outer), I(ylen), I(off), I(xlen),
		  I(x->batched ? emit_numel(x) : 0), acc, dx, dy);
}

/* basic indexing: lo and step per axis of the input (batch first), and
 * the output's extents with removed axes kept as 1 */
static void
slice_args(Emit *E, const Node *n, const char **dims, const char **lo,
	   const char **step, const char **ydims)
{
	const Node *x = n->in[0];
	int r = x->shape.rank;
	int64_t l[PCC_MAX_RANK + 1], s[PCC_MAX_RANK + 1], yd[PCC_MAX_RANK + 1];
	l[0] = 0;
	s[0] = 1;
	int j = 0;
	for (int i = 0; i < r; i++) {
		l[i + 1] = n->at->lo[i];
		s[i + 1] = n->at->step[i];
		yd[i] = n->at->drop[i] ? 1 : n->shape.dim[j++];
	}
	*dims = dims_b(E, x, &x->shape);
	*lo = emit_ints(E, r + 1, l);
	*step = emit_ints(E, r + 1, s);
	*ydims = batch_first(E, x->batched, emit_ints(E, r, yd));
}

static void
fwd_slice(Emit *E, const Node *n, const char *y, const char *const *xs)
{
	const char *d, *l, *s, *yd;
	slice_args(E, n, &d, &l, &s, &yd);
	emit_line(E, "%s(%d, %s, %s, %s, %s, %s, %s);", RT("slice"),
		  n->in[0]->shape.rank + 1, d, l, s, yd, y, xs[0]);
}

static void
vjp_slice(Emit *E, const Node *n, int k, const char *y, const char *const *xs,
	  const char *dy, const char *dx, int acc)
{
	(void)k;
	(void)y;
	(void)xs;
	const char *d, *l, *s, *yd;
	slice_args(E, n, &d, &l, &s, &yd);
	emit_line(E, "%s(%d, %s, %s, %s, %s, %d, %s, %s);", RT("slice_vjp"),
		  n->in[0]->shape.rank + 1, d, l, s, yd, acc, dx, dy);
}

static void
tri_geo(Emit *E, const Node *n, const char **count, int64_t *m, int64_t *c)
{
	const Shape *s = &n->shape;
	*count = arena_printf(E->a, "%s * %lld", emit_batch(E, n),
			      I(prod(s, 0, s->rank - 2)));
	*m = s->dim[s->rank - 2];
	*c = s->dim[s->rank - 1];
}

static void
fwd_tri(Emit *E, const Node *n, const char *y, const char *const *xs)
{
	const char *cnt;
	int64_t m, c;
	tri_geo(E, n, &cnt, &m, &c);
	emit_line(E, "%s(%d, %s, %lld, %lld, %d, %s, %s, %s);", RT("tri"),
		  n->op == OP_TRIL, cnt, I(m), I(c), n->at->k[0],
		  LIT(n->at->num[0]), y, xs[0]);
}

static void
vjp_tri(Emit *E, const Node *n, int k, const char *y, const char *const *xs,
	const char *dy, const char *dx, int acc)
{
	(void)k;
	(void)y;
	(void)xs;
	const char *cnt;
	int64_t m, c;
	tri_geo(E, n, &cnt, &m, &c);
	emit_line(E, "%s(%d, %s, %lld, %lld, %d, %d, %s, %s);", RT("tri_vjp"),
		  n->op == OP_TRIL, cnt, I(m), I(c), n->at->k[0], acc, dx, dy);
}

/*
 * Convolution as im2col + GEMM, per sample and group: col = im2col(x) is
 * [C kh kw] x [OH OW]; y[g] = K[g] col[g] (K viewed as O x C/g kh kw).
 * VJPs: dK[g] += dy[g] col[g]^T summed over the batch; dx = col2im(K^T
 * dy).  col is one sample's columns in the state's shared scratch
 * (s->v.im2col_): dK recomputes them from x rather than keeping every
 * sample's columns of every convolution, and dx's columns use the same
 * buffer before col2im.  conv1d is the case H = kh = 1.
 */
static int64_t
conv_scratch(const Node *n)
{
	const Node *x = n->in[0];
	int64_t P = n->op == OP_CONV2D ? n->shape.dim[1] * n->shape.dim[2]
				       : n->shape.dim[1];
	/* and after them dK's block sum (pcg_runtime.h's
	 * PCG_CONV_SCRATCH_REALS) */
	return (x->shape.dim[0] * P +
		n->shape.dim[0] * (x->shape.dim[0] / n->at->groups)) *
	       n->at->k[0] * n->at->k[1];
}

static void
emit_conv(Emit *E, const Node *n, const char *y, const char *const *xs,
	  const char *dy, const char *dx, int k, int acc)
{
	const Node *x = n->in[0];
	const OpAttr *at = n->at;
	int d2 = n->op == OP_CONV2D;
	int64_t C = x->shape.dim[0], H = d2 ? x->shape.dim[1] : 1;
	int64_t W = x->shape.dim[d2 ? 2 : 1];
	int64_t O = n->shape.dim[0], OH = d2 ? n->shape.dim[1] : 1;
	int64_t OW = n->shape.dim[d2 ? 2 : 1];
	const char *col = emit_scratch(E, n, "col");
	int64_t xstep = x->batched ? emit_numel(x) : 0;
	int64_t ystep = n->batched ? emit_numel(n) : 0;
	/* the batch loop, per-sample im2col and products are the runtime's
	 * pcg_conv*, which spread them over s->pool */
	const char *geo = arena_printf(E->a, "&(const pcg_conv_geo){%lld, "
				       "%lld, %lld, %d, %d, %d, %d, %d, %d, "
				       "%d, %d, %lld, %lld, %lld, %d}",
				       I(C), I(H), I(W), at->k[0], at->k[1],
				       at->stride[0], at->stride[1], at->pad[0],
				       at->pad[1], at->dil[0], at->dil[1], I(OH),
				       I(OW), I(O), at->groups);
	const char *nb = emit_batch(E, n);
	if (k < 0)
		emit_line(E, "%s(s->pool, %s, %s, %s, %lld, %s, %s, %lld, %s);",
			  RT("conv"), geo, nb, xs[0], I(xstep), xs[1], y,
			  I(ystep), col);
	else if (k == 1)
		emit_line(E, "%s(s->pool, %s, %s, %d, %s, %lld, %s, %lld, %s, "
			  "%s);", RT("conv_dk"), geo, nb, acc, xs[0], I(xstep),
			  dy, I(ystep), dx, col);
	else
		emit_line(E, "%s(s->pool, %s, %s, %d, %s, %s, %lld, %s, %lld, "
			  "%s);", RT("conv_dx"), geo, nb, acc, xs[1], dy,
			  I(ystep), dx, I(xstep), col);
}

static void
fwd_conv(Emit *E, const Node *n, const char *y, const char *const *xs)
{
	emit_conv(E, n, y, xs, NULL, NULL, -1, 0);
}

static void
vjp_conv(Emit *E, const Node *n, int k, const char *y, const char *const *xs,
	 const char *dy, const char *dx, int acc)
{
	emit_conv(E, n, y, xs, dy, dx, k, acc);
}

static const char *
pool_geo(Emit *E, const Node *n)
{
	const Node *x = n->in[0];
	int d2 = n->op == OP_MAXPOOL2D || n->op == OP_AVGPOOL2D;
	const OpAttr *at = n->at;
	int64_t H = d2 ? x->shape.dim[1] : 1, W = x->shape.dim[d2 ? 2 : 1];
	int64_t OH = d2 ? n->shape.dim[1] : 1, OW = n->shape.dim[d2 ? 2 : 1];
	return arena_printf(E->a, "%d, %s * %lld, %lld, %lld, %d, %d, %d, %d, "
			    "%d, %d, %lld, %lld",
			    n->op == OP_MAXPOOL1D || n->op == OP_MAXPOOL2D,
			    emit_batch(E, n), I(x->shape.dim[0]), I(H), I(W),
			    at->k[0], at->k[1], at->stride[0], at->stride[1],
			    at->pad[0], at->pad[1], I(OH), I(OW));
}

static void
fwd_pool(Emit *E, const Node *n, const char *y, const char *const *xs)
{
	emit_line(E, "%s(s->pool, %s, %s, %s);", RT("pool2d_mt"), pool_geo(E, n),
		  y, xs[0]);
}

static void
vjp_pool(Emit *E, const Node *n, int k, const char *y, const char *const *xs,
	 const char *dy, const char *dx, int acc)
{
	(void)k;
	(void)y;
	emit_line(E, "%s(s->pool, %s, %d, %s, %s, %s);", RT("pool2d_vjp_mt"),
		  pool_geo(E, n), acc, dx, dy, xs[0]);
}

static void
fwd_embedding(Emit *E, const Node *n, const char *y, const char *const *xs)
{
	const Node *ids = n->in[1];
	emit_line(E, "%s(%s * %lld, %lld, %s, %s, %s);", RT("embed"),
		  emit_batch(E, ids), I(emit_numel(ids)),
		  I(n->in[0]->shape.dim[1]), y, xs[0], xs[1]);
}

static void
vjp_embedding(Emit *E, const Node *n, int k, const char *y,
	      const char *const *xs, const char *dy, const char *dx, int acc)
{
	(void)k;
	(void)y;
	const Node *ids = n->in[1];
	emit_line(E, "%s(%s * %lld, %lld, %lld, %d, %s, %s, %s);",
		  RT("embed_vjp"), emit_batch(E, ids), I(emit_numel(ids)),
		  I(n->in[0]->shape.dim[1]), I(n->in[0]->shape.dim[0]), acc, dx,
		  dy, xs[1]);
}

static void
fwd_one_hot(Emit *E, const Node *n, const char *y, const char *const *xs)
{
	const Node *ids = n->in[0];
	emit_line(E, "%s(%s * %lld, %lld, %s, %s);", RT("one_hot"),
		  emit_batch(E, ids), I(emit_numel(ids)),
		  I(n->shape.dim[n->shape.rank - 1]), y, xs[0]);
}

/*
 * batchnorm: x viewed as [n][C][S], statistics per channel over the n
 * samples in use and S.  Training mode keeps the batch's mean and
 * (biased) variance in the state for the VJP and the running statistics
 * (end_of_step); the PC network keeps its own, of the value nodes, so a
 * PC step leaves the forward pass's for the running statistics.  The
 * inputs 1 and 2 are the running mean and variance (buffers).
 */
static const char *
bn_stat(Emit *E, const Node *n, const char *what)
{
	return arena_printf(E->a, "s->%s.%s_%s", E->in_pc ? "pc" : "v",
			    emit_c_member(E, E->mem[n->id]), what);
}

static const char *
bn_dims(Emit *E, const Node *n)
{
	int64_t C = n->shape.dim[0];
	return arena_printf(E->a, "%s, %lld, %lld", emit_batch(E, n), I(C),
			    I(emit_numel(n) / C));
}

static void
fwd_batchnorm(Emit *E, const Node *n, const char *y, const char *const *xs)
{
	const char *train = arena_printf(E->a, "%s(%s, %s, %s, %s, %s, %s);",
		RT("bn_train"), bn_dims(E, n), LIT(n->at->num[1]), y,
		bn_stat(E, n, "mean"), bn_stat(E, n, "var"), xs[0]);
	if (E->in_pc) {
		emit_line(E, "%s", train);
		return;
	}
	emit_line(E, "if (s->mode == PCG_MODE_TRAIN)\n%s\t%s\n%selse\n%s\t"
		     "%s(%s, %s, %s, %s, %s, %s);",
		  E->ind, train, E->ind, E->ind, RT("bn_eval"), bn_dims(E, n),
		  LIT(n->at->num[1]), y, xs[1], xs[2], xs[0]);
}

static void
vjp_batchnorm(Emit *E, const Node *n, int k, const char *y,
	      const char *const *xs, const char *dy, const char *dx, int acc)
{
	(void)k;
	(void)xs;
	emit_line(E, "%s(%s, %s, %d, %s, %s, %s, %s);", RT("bn_vjp"),
		  bn_dims(E, n), LIT(n->at->num[1]), acc, dx, dy, y,
		  bn_stat(E, n, "var"));
}

/* The running statistics' update by a training step (end_of_step). */
void
emit_bn_update(Emit *E, const Node *n)
{
	emit_line(E, "%s(%s, %s, %s, %s, %s, %s);", RT("bn_update"),
		  bn_dims(E, n), LIT(n->at->num[0]),
		  emit_param_ptr(E, "p", E->g->params.items[n->in[1]->decl]),
		  emit_param_ptr(E, "p", E->g->params.items[n->in[2]->decl]),
		  bn_stat(E, n, "mean"), bn_stat(E, n, "var"));
}

/*
 * dropout: training mode draws the mask (0 or 1/(1-p) per element) from
 * the stream s->rng, stream number the dropout's ordinal, counter the
 * element's index in the batch; the PC network reuses the mask of the
 * forward pass, so all inference steps of a call see one mask.
 */
static int
dropout_ordinal(const Emit *E, const Node *n)
{
	int k = 0;
	for (int i = 0; i < n->id; i++)
		k += ((Node *)E->g->nodes.items[i])->op == OP_DROPOUT;
	return k;
}

static void
fwd_dropout(Emit *E, const Node *n, const char *y, const char *const *xs)
{
	const char *mask = emit_scratch(E, n, "mask");
	const char *mul = arena_printf(E->a, "%s(%s, %s, %s, %s);",
				       RT("mul_mask"), emit_count(E, n), y,
				       xs[0], mask);
	if (E->in_pc) {
		emit_line(E, "%s", mul);
		return;
	}
	emit_line(E, "if (s->mode == PCG_MODE_TRAIN) {");
	emit_line(E, "\t%s(s->rng, %d, %s, %.17g, %s);", RT("dropout_mask"),
		  dropout_ordinal(E, n), emit_count(E, n), n->at->num[0], mask);
	emit_line(E, "\t%s", mul);
	emit_line(E, "} else {");
	emit_line(E, "\t%s(%s, %s, %s); /* evaluation: the identity */",
		  RT("copy"), emit_count(E, n), y, xs[0]);
	emit_line(E, "}");
}

static void
vjp_dropout(Emit *E, const Node *n, int k, const char *y,
	    const char *const *xs, const char *dy, const char *dx, int acc)
{
	(void)k;
	(void)y;
	(void)xs;
	emit_line(E, "%s(%s, %d, %s, %s, %s);", RT("mul_mask_vjp"),
		  emit_count(E, n), acc, dx, dy, emit_scratch(E, n, "mask"));
}

/* Losses: y[b] = the sample's loss; o and t as batch x rows x n. */
static int64_t
loss_rows(const Node *n)
{
	const Node *o = n->in[0];
	if (n->op != OP_CROSS_ENTROPY)
		return 1;
	return emit_numel(o) / o->shape.dim[o->shape.rank - 1];
}

static const char *
loss_geo(Emit *E, const Node *n)
{
	const Node *o = n->in[0], *t = n->in[1];
	int64_t rows = loss_rows(n);
	const char *g = arena_printf(E->a, "%s, ", emit_batch(E, n));
	if (n->op == OP_CROSS_ENTROPY)
		g = arena_printf(E->a, "%s%lld, ", g, I(rows));
	g = arena_printf(E->a, "%s%lld, %lld", g, I(emit_numel(o) / rows),
			 I(o->batched ? emit_numel(o) : 0));
	if (!t->is_int)
		g = arena_printf(E->a, "%s, %lld", g,
				 I(t->batched ? emit_numel(t) : 0));
	if (n->op == OP_HUBER)
		g = arena_printf(E->a, "%s, %s", g, LIT(n->at->num[0]));
	return g;
}

static const char *
loss_kernel(const Node *n)
{
	switch (n->op) {
	case OP_MSE:
		return "mse";
	case OP_CROSS_ENTROPY:
		return n->in[1]->is_int ? "xent_index" : "xent";
	case OP_BCE:
		return "bce";
	case OP_L1:
		return "l1";
	default:
		return "huber";
	}
}

static void
fwd_loss(Emit *E, const Node *n, const char *y, const char *const *xs)
{
	emit_line(E, "%s(%s, %s, %s, %s);", RT(loss_kernel(n)), loss_geo(E, n), y,
		  xs[0], xs[1]);
}

static void
vjp_loss(Emit *E, const Node *n, int k, const char *y, const char *const *xs,
	 const char *dy, const char *dx, int acc)
{
	(void)y;
	const Node *x = n->in[k];
	const char *kn = arena_printf(E->a, "%s_vjp", loss_kernel(n));
	const char *dxs = arena_printf(E->a, "%lld",
				       I(x->batched ? emit_numel(x) : 0));
	if (n->in[1]->is_int)
		emit_line(E, "%s(%s, %s, %d, %s, %s, %s, %s);", RT(kn),
			  loss_geo(E, n), dxs, acc, dx, dy, xs[0], xs[1]);
	else
		emit_line(E, "%s(%d, %s, %s, %d, %s, %s, %s, %s);", RT(kn), k,
			  loss_geo(E, n), dxs, acc, dx, dy, xs[0], xs[1]);
}

/* ------------------------------------------------------------ the table */

#define UNARY(name, fold_, fwd_, vjp_, doc_)                              \
	{.call = name, .cls = OPC_UNARY, .args = "T", .shape = rule_same,    \
	 .fold = fold_, .fwd_c = fwd_, .vjp_c = {vjp_, NULL},               \
	 .fwd = emit_unary_fwd, .vjp = emit_unary_vjp, .doc = doc_}
#define BINARY(name, fold_, fwd_, va, vb, doc_)                           \
	{.call = name, .cls = OPC_BINARY, .args = "TT",                     \
	 .shape = rule_broadcast, .fold = fold_, .fwd_c = fwd_,             \
	 .vjp_c = {va, vb}, .fwd = emit_binary_fwd, .vjp = emit_binary_vjp, \
	 .doc = doc_}
#define LOSS(name, kws, doc_)                                             \
	{.call = name, .cls = OPC_LOSS, .args = "TT", .keywords = kws,      \
	 .shape = rule_loss, .fwd = fwd_loss, .vjp = vjp_loss, .doc = doc_}

const OpDef op_defs[OP_COUNT] = {
	[OP_INPUT] = {.cls = OPC_LEAF, .doc = "a per-sample input"},
	[OP_TARGET] = {.cls = OPC_LEAF, .doc = "a per-sample target"},
	[OP_PARAM] = {.cls = OPC_LEAF, .doc = "a parameter"},
	[OP_CONST] = {.cls = OPC_LEAF, .fwd = fwd_const,
		      .doc = "a constant tensor filled with one value"},

	/* elementwise on two tensors that broadcast; in the expressions a, b
	 * are the operands, y the result, dy its adjoint */
	[OP_ADD] = BINARY(NULL, NULL, "a + b", "dy", "dy", "a + b"),
	[OP_SUB] = BINARY(NULL, NULL, "a - b", "dy", "-dy", "a - b"),
	[OP_MUL] = BINARY(NULL, NULL, "a * b", "dy * b", "dy * a", "a * b"),
	[OP_DIV] = BINARY(NULL, NULL, "a / b", "dy / b", "-dy * y / b", "a / b"),
	[OP_MAXIMUM] = BINARY("maximum", f_maximum, "a >= b ? a : b",
			      "a >= b ? dy : ZERO", "a >= b ? ZERO : dy",
			      "elementwise maximum; ties send dy to a"),
	[OP_MINIMUM] = BINARY("minimum", f_minimum, "a <= b ? a : b",
			      "a <= b ? dy : ZERO", "a <= b ? ZERO : dy",
			      "elementwise minimum; ties send dy to a"),

	/* elementwise on one tensor: y from x, dx from dy, x, y; a and b are
	 * the op's number arguments (at->num[0], at->num[1]) */
	[OP_NEG] = UNARY(NULL, f_neg, "-x", "-dy", "-x"),
	[OP_IDENTITY] = UNARY(NULL, NULL, "x", "dy", "x (PC identity vertices)"),
	[OP_TANH] = UNARY("tanh", f_tanh, "TANH(x)", "dy * (ONE - y * y)",
			  "hyperbolic tangent"),
	[OP_SIGMOID] = UNARY("sigmoid", f_sigmoid, "ONE / (ONE + EXP(-x))",
			     "dy * y * (ONE - y)", "logistic sigmoid"),
	[OP_RELU] = UNARY("relu", f_relu, "x > ZERO ? x : ZERO",
			  "y > ZERO ? dy : ZERO", "max(x, 0)"),
	[OP_EXP] = UNARY("exp", f_exp, "EXP(x)", "dy * y", "e^x"),
	[OP_LOG] = UNARY("log", f_log, "LOG(x)", "dy / x", "natural logarithm"),
	[OP_SQRT] = UNARY("sqrt", f_sqrt, "SQRT(x)", "dy * HALF / y",
			  "square root"),
	[OP_SQUARE] = UNARY("square", f_square, "x * x", "dy * TWO * x", "x^2"),
	[OP_SOFTPLUS] = UNARY("softplus", f_softplus,
			      "(x > ZERO ? x : ZERO) + LOG1P(EXP(-FABS(x)))",
			      "dy / (ONE + EXP(-x))", "log(1 + e^x)"),
	[OP_ABS] = UNARY("abs", f_abs, "FABS(x)",
			 "x > ZERO ? dy : x < ZERO ? -dy : ZERO", "|x|"),
	[OP_LEAKY_RELU] = {.call = "leaky_relu", .cls = OPC_UNARY, .args = "TN",
			   .shape = rule_same, .fold = f_leaky,
			   .fwd_c = "x > ZERO ? x : a * x",
			   .vjp_c = {"x > ZERO ? dy : a * dy", NULL},
			   .fwd = emit_unary_fwd, .vjp = emit_unary_vjp,
			   .doc = "x, or slope a times x below 0"},
	[OP_GELU] = UNARY("gelu", f_gelu, "HALF * x * (ONE + ERF(x * SQRT1_2))",
			  "dy * (HALF * (ONE + ERF(x * SQRT1_2)) + x * "
			  "RSQRT2PI * EXP(-HALF * x * x))",
			  "x Phi(x), the erf form"),
	[OP_SILU] = UNARY("silu", f_silu, "x / (ONE + EXP(-x))",
			  "dy * (ONE + x * (ONE - ONE / (ONE + EXP(-x)))) / "
			  "(ONE + EXP(-x))",
			  "x sigmoid(x)"),
	[OP_ELU] = {.call = "elu", .cls = OPC_UNARY, .args = "TN",
		    .shape = rule_same, .fold = f_elu,
		    .fwd_c = "x > ZERO ? x : a * (EXP(x) - ONE)",
		    .vjp_c = {"x > ZERO ? dy : dy * (y + a)", NULL},
		    .fwd = emit_unary_fwd, .vjp = emit_unary_vjp,
		    .doc = "x, or a (e^x - 1) below 0"},
	[OP_ERF] = UNARY("erf", f_erf, "ERF(x)", "dy * TWO_SQRTPI * EXP(-x * x)",
			 "the error function"),
	[OP_SIN] = UNARY("sin", f_sin, "SIN(x)", "dy * COS(x)", "sine"),
	[OP_COS] = UNARY("cos", f_cos, "COS(x)", "-dy * SIN(x)", "cosine"),
	[OP_LOG1P] = UNARY("log1p", f_log1p, "LOG1P(x)", "dy / (ONE + x)",
			   "log(1 + x)"),
	[OP_POW] = {.call = "pow", .cls = OPC_UNARY, .args = "TN",
		    .shape = rule_same, .fold = f_pow, .fwd_c = "POW(x, a)",
		    .vjp_c = {"a == ZERO ? ZERO : dy * a * POW(x, a - ONE)", NULL},
		    .fwd = emit_unary_fwd, .vjp = emit_unary_vjp,
		    .doc = "x^c for a number c"},
	[OP_CLIP] = {.call = "clip", .cls = OPC_UNARY, .args = "TNN",
		     .shape = rule_same, .fold = f_clip,
		     .fwd_c = "x < a ? a : x > b ? b : x",
		     .vjp_c = {"x > a && x < b ? dy : ZERO", NULL},
		     .fwd = emit_unary_fwd, .vjp = emit_unary_vjp,
		     .doc = "x clipped to [lo, hi]; derivative 1 strictly inside"},

	[OP_MATMUL] = {.cls = OPC_OTHER, .args = "TT", .shape = rule_matmul,
		       .fwd = fwd_matmul, .vjp = vjp_matmul,
		       .doc = "numpy matmul, batched over leading axes"},
	[OP_SOFTMAX] = {.call = "softmax", .cls = OPC_OTHER, .args = "T",
			.keywords = "axis:A", .shape = rule_axis,
			.fwd = fwd_axis, .vjp = vjp_axis,
			.doc = "softmax along an axis (default -1)"},
	[OP_LOG_SOFTMAX] = {.call = "log_softmax", .cls = OPC_OTHER, .args = "T",
			    .keywords = "axis:A", .shape = rule_axis,
			    .fwd = fwd_axis, .vjp = vjp_axis,
			    .doc = "log of softmax along an axis"},
	[OP_LAYERNORM] = {.call = "layernorm", .cls = OPC_OTHER, .args = "T",
			  .keywords = "axis:A", .shape = rule_axis,
			  .fwd = fwd_axis, .vjp = vjp_axis,
			  .doc = "(x - mean) / sqrt(var + 1e-5) along an axis"},
	[OP_SUM] = {.call = "sum", .cls = OPC_OTHER, .args = "T",
		    .keywords = "axis:A", .shape = rule_reduce,
		    .fwd = fwd_reduce, .vjp = vjp_reduce,
		    .doc = "sum of every element, or over axes"},
	[OP_MEAN] = {.call = "mean", .cls = OPC_OTHER, .args = "T",
		     .keywords = "axis:A", .shape = rule_reduce,
		     .fwd = fwd_reduce, .vjp = vjp_reduce,
		     .doc = "mean of every element, or over axes"},
	[OP_MAX] = {.call = "max", .cls = OPC_OTHER, .args = "T",
		    .keywords = "axis:A", .shape = rule_reduce,
		    .fwd = fwd_reduce, .vjp = vjp_reduce,
		    .doc = "maximum; dy goes to the first maximum"},
	[OP_TRANSPOSE] = {.call = "transpose", .cls = OPC_OTHER, .args = "T",
			  .keywords = "perm:L", .shape = rule_transpose,
			  .fwd = fwd_transpose, .vjp = vjp_transpose,
			  .doc = "permute axes (default: swap the last two)"},
	[OP_RESHAPE] = {.call = "reshape", .cls = OPC_OTHER, .args = "TS",
			.shape = rule_reshape, .fwd = fwd_copy, .vjp = vjp_copy,
			.doc = "the same elements in another shape"},
	[OP_FLATTEN] = {.call = "flatten", .cls = OPC_OTHER, .args = "T",
			.shape = rule_reshape, .fwd = fwd_copy, .vjp = vjp_copy,
			.doc = "the elements as one axis (makes a reshape)"},
	[OP_CONCAT] = {.call = "concat", .cls = OPC_OTHER, .args = "T*",
		       .keywords = "axis:A", .shape = rule_concat,
		       .fwd = fwd_concat, .vjp = vjp_concat,
		       .doc = "join along an axis (default 0)"},
	[OP_SLICE] = {.cls = OPC_OTHER, .args = "T", .fwd = fwd_slice,
		      .vjp = vjp_slice,
		      .doc = "numpy basic indexing x[...] (made by sema)"},
	[OP_TRIL] = {.call = "tril", .cls = OPC_OTHER, .args = "T",
		     .keywords = "k:I fill:N", .shape = rule_tri,
		     .fwd = fwd_tri, .vjp = vjp_tri,
		     .doc = "lower triangle of the last two axes, the rest fill"},
	[OP_TRIU] = {.call = "triu", .cls = OPC_OTHER, .args = "T",
		     .keywords = "k:I fill:N", .shape = rule_tri,
		     .fwd = fwd_tri, .vjp = vjp_tri,
		     .doc = "upper triangle of the last two axes, the rest fill"},
	[OP_CONV1D] = {.call = "conv1d", .cls = OPC_OTHER, .args = "TT",
		       .keywords = "stride:P pad:P dilation:P groups:I",
		       .shape = rule_conv, .fwd = fwd_conv, .vjp = vjp_conv,
		       .scratch = conv_scratch,
		       .doc = "1-D convolution x[C,L] K[O,C/g,k]"},
	[OP_CONV2D] = {.call = "conv2d", .cls = OPC_OTHER, .args = "TT",
		       .keywords = "stride:P pad:P dilation:P groups:I",
		       .shape = rule_conv, .fwd = fwd_conv, .vjp = vjp_conv,
		       .scratch = conv_scratch,
		       .doc = "2-D convolution x[C,H,W] K[O,C/g,kh,kw]"},
	[OP_MAXPOOL1D] = {.call = "maxpool1d", .cls = OPC_OTHER, .args = "TW",
			  .keywords = "stride:P pad:P", .shape = rule_pool,
			  .fwd = fwd_pool, .vjp = vjp_pool,
			  .doc = "max over windows of x[C,L]"},
	[OP_AVGPOOL1D] = {.call = "avgpool1d", .cls = OPC_OTHER, .args = "TW",
			  .keywords = "stride:P pad:P", .shape = rule_pool,
			  .fwd = fwd_pool, .vjp = vjp_pool,
			  .doc = "mean over windows of x[C,L]"},
	[OP_MAXPOOL2D] = {.call = "maxpool2d", .cls = OPC_OTHER, .args = "TW",
			  .keywords = "stride:P pad:P", .shape = rule_pool,
			  .fwd = fwd_pool, .vjp = vjp_pool,
			  .doc = "max over windows of x[C,H,W]"},
	[OP_AVGPOOL2D] = {.call = "avgpool2d", .cls = OPC_OTHER, .args = "TW",
			  .keywords = "stride:P pad:P", .shape = rule_pool,
			  .fwd = fwd_pool, .vjp = vjp_pool,
			  .doc = "mean over windows of x[C,H,W]"},
	[OP_EMBEDDING] = {.call = "embedding", .cls = OPC_OTHER, .args = "TI",
			  .shape = rule_embedding, .fwd = fwd_embedding,
			  .vjp = vjp_embedding, .nodiff = 2,
			  .doc = "rows of E[V,D] picked by integer ids"},
	[OP_ONE_HOT] = {.call = "one_hot", .cls = OPC_OTHER, .args = "IN",
			.shape = rule_one_hot, .fwd = fwd_one_hot, .nodiff = 1,
			.doc = "0/1 rows for integer ids"},
	[OP_BATCHNORM] = {.call = "batchnorm", .cls = OPC_OTHER, .args = "T",
			  .keywords = "momentum:N eps:N",
			  .shape = rule_batchnorm, .fwd = fwd_batchnorm,
			  .vjp = vjp_batchnorm, .nodiff = 6,
			  .doc = "normalise each channel (first axis) over the "
				 "batch; running statistics in evaluation mode"},
	[OP_DROPOUT] = {.call = "dropout", .cls = OPC_OTHER, .args = "TN",
			.shape = rule_dropout, .fwd = fwd_dropout,
			.vjp = vjp_dropout,
			.doc = "inverted dropout with rate p in training mode"},
	[OP_ZEROS] = {.call = "zeros", .cls = OPC_LEAF, .args = "S",
		      .shape = rule_fill, .doc = "a constant 0 (makes a const)"},
	[OP_ONES] = {.call = "ones", .cls = OPC_LEAF, .args = "S",
		     .shape = rule_fill, .doc = "a constant 1 (makes a const)"},

	/* losses: a scalar per sample, summed over the sample's elements */
	[OP_MSE] = LOSS("mse", NULL, "1/2 sum (o - t)^2"),
	[OP_CROSS_ENTROPY] = LOSS("cross_entropy", NULL,
				  "-sum t log softmax(o), or class ids"),
	[OP_BCE] = LOSS("bce", NULL, "binary cross-entropy on logits"),
	[OP_L1] = LOSS("l1", NULL, "sum |o - t|"),
	[OP_HUBER] = LOSS("huber", "delta:N", "Huber loss with threshold delta"),
};
