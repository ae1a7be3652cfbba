/*
 * emit.c — C code generation.
 *
 * Takes the analysed Graph and the options; gives the header and the
 * source of the generated model.
 *
 * Layout of the generated source:
 *   - kernels: one small static function per op kind (or per broadcast
 *     pattern), emitted once and shared by every node that needs it, so
 *     an unrolled 1000-step RNN is a list of calls, not 1000 copies of
 *     loops;
 *   - forward(): one block per vertex, in topological order;
 *   - backward(): the reverse sweep (BP), vertices by increasing level,
 *     each node's vector-Jacobian products (VJPs) from the one VJP table
 *     below (emit_vjp), contributions overwriting the first time and
 *     accumulating after;
 *   - the API functions of API.md.
 * Matrix products call the runtime's GEMM; batch dimensions are folded
 * into the GEMM's rows (or its inner dimension for parameter gradients)
 * wherever the memory layout allows, else a loop over samples.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pcc.h"

typedef struct Emit {
	Arena *a;
	const Graph *g;
	const EmitOptions *o;
	const char *P, *PU; /* prefix, upper-case prefix */
	int is_float;
	const char *real;   /* "P_real" spelled with the prefix */
	StrBuf kern;        /* kernels, emitted on demand */
	StrBuf *out;        /* where statements go */
	PtrVec kernels;     /* names already emitted */
	const char **val;   /* node id -> value buffer (pointer expression) */
	const char **adj;   /* node id -> adjoint buffer (pointer expression) */
	char *has_adj;      /* node id -> adjoint has a contribution */
	const char *ind;    /* indentation of statements */
} Emit;

/* ---------------------------------------------------------- helpers */

static const char *
lit(Emit *E, double x)
{
	char buf[64];
	if (isnan(x))
		return "NAN";
	if (isinf(x))
		return x > 0 ? "INFINITY" : "-INFINITY";
	snprintf(buf, sizeof buf, E->is_float ? "%.9g" : "%.17g", x);
	if (!strpbrk(buf, ".eE"))
		strcat(buf, ".0");
	if (E->is_float)
		strcat(buf, "f");
	return arena_strdup(E->a, buf);
}

/* A <math.h> function for the scalar type. */
static const char *
fn(Emit *E, const char *name)
{
	return E->is_float ? arena_printf(E->a, "%sf", name) : name;
}

static void
line(Emit *E, const char *fmt, ...) PCC_PRINTF(2, 3);

static void
line(Emit *E, const char *fmt, ...)
{
	va_list ap;
	sb_puts(E->out, E->ind);
	va_start(ap, fmt);
	sb_vprintf(E->out, fmt, ap);
	va_end(ap);
	sb_putc(E->out, '\n');
}

/* Start a kernel; returns 0 if it was already emitted. */
static int
kernel_begin(Emit *E, const char *name)
{
	for (int i = 0; i < E->kernels.len; i++)
		if (strcmp(E->kernels.items[i], name) == 0)
			return 0;
	vec_push(E->a, &E->kernels, (void *)arena_strdup(E->a, name));
	return 1;
}

static int64_t
numel(const Node *n)
{
	return shape_numel(&n->shape);
}

/* "PU_BATCH * 32" or "32": the element count of a node's buffer. */
static const char *
count(Emit *E, const Node *n)
{
	if (n->batched)
		return arena_printf(E->a, "%s_BATCH * %lld", E->PU,
				    (long long)numel(n));
	return arena_printf(E->a, "%lld", (long long)numel(n));
}

static const char *
batch(Emit *E, const Node *n)
{
	return n->batched ? arena_printf(E->a, "%s_BATCH", E->PU) : "1";
}

/* sample stride: numel if batched, else 0 */
static const char *
sstride(Emit *E, const Node *n)
{
	return n->batched ? arena_printf(E->a, "%lld", (long long)numel(n))
			  : "0";
}

static int
is_c_keyword(const char *s)
{
	static const char *const kw[] = {
		"auto", "break", "case", "char", "const", "continue",
		"default", "do", "double", "else", "enum", "extern", "float",
		"for", "goto", "if", "inline", "int", "long", "register",
		"restrict", "return", "short", "signed", "sizeof", "static",
		"struct", "switch", "typedef", "union", "unsigned", "void",
		"volatile", "while", "_Bool", "_Complex", "_Imaginary",
		"_Alignas", "_Alignof", "_Atomic", "_Generic", "_Noreturn",
		"_Static_assert", "_Thread_local", "bool", "true", "false",
		"NULL", "asm", "fortran", "main", "errno", "assert",
		"INFINITY", "NAN"};
	for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
		if (strcmp(kw[i], s) == 0)
			return 1;
	return 0;
}

static const char *
member_name(Emit *E, const char *s)
{
	return is_c_keyword(s) ? arena_printf(E->a, "%s_", s) : s;
}

/* Dimensions of a buffer declaration: "[PU_BATCH][32]" */
static const char *
decl_dims(Emit *E, const Shape *sh, int batched)
{
	StrBuf sb = {0};
	if (batched)
		sb_printf(&sb, "[%s_BATCH]", E->PU);
	for (int i = 0; i < sh->rank; i++)
		sb_printf(&sb, "[%lld]", (long long)sh->dim[i]);
	if (!batched && sh->rank == 0)
		sb_puts(&sb, "[1]");
	const char *r = arena_strdup(E->a, sb.data);
	sb_free(&sb);
	return r;
}

/* Internal buffers are flat: "[PU_BATCH * 32]" (a comment gives the shape). */
static const char *
flat_dims(Emit *E, const Shape *sh, int batched)
{
	int64_t n = shape_numel(sh);
	if (batched)
		return arena_printf(E->a, "[%s_BATCH * %lld]", E->PU, (long long)n);
	return arena_printf(E->a, "[%lld]", (long long)n);
}

/* A pointer to the whole of a declared array, as P_real *. */
static const char *
whole(Emit *E, const char *qual, const char *array, const Shape *sh,
      int batched)
{
	int dims = (batched ? 1 : 0) + sh->rank;
	if (dims <= 1)
		return array;
	return arena_printf(E->a, "(%s%s *)%s", qual, E->real, array);
}

/* ------------------------------------------------------ buffer layout */

typedef struct Group {
	const char *name; /* C member */
	const char *base;
	Shape shape;
	int batched;
	int count;
} Group;

/* Assign every live non-leaf node a member of the state's `v` struct (and
 * `d` for adjoints); write their declarations. */
static void
layout(Emit *E, StrBuf *vdecl, StrBuf *ddecl)
{
	const Graph *g = E->g;
	PtrVec groups = {0};
	int nn = g->nodes.len;
	Group **gof = arena_alloc(E->a, sizeof(Group *) * (size_t)(nn + 1));
	int *gidx = arena_alloc(E->a, sizeof(int) * (size_t)(nn + 1));
	char *is_out = arena_alloc(E->a, (size_t)nn + 1);
	for (int i = 0; i < g->outputs.len; i++) {
		OutputDecl *o = g->outputs.items[i];
		is_out[o->node->id] = 1;
		E->val[o->node->id] = whole(
			E, "", arena_printf(E->a, "s->out.%s",
					    member_name(E, o->name)),
			&o->node->shape, 1);
	}
	for (int i = 0; i < nn; i++) {
		Node *n = g->nodes.items[i];
		if (n->op == OP_INPUT || n->op == OP_TARGET || n->op == OP_PARAM)
			continue;
		if (!n->live)
			continue;
		const char *base = n->member ? n->member : "c";
		if (n->op == OP_CONST)
			base = n->attr.value == 0 ? "zeros"
			       : n->attr.value == 1 ? "ones" : "konst";
		else if (n->vertex && n->vertex->root != n)
			base = arena_printf(E->a, "%s_%s", base, op_name[n->op]);
		Group *grp = NULL;
		for (int k = 0; k < groups.len; k++) {
			Group *x = groups.items[k];
			if (strcmp(x->base, base) == 0 &&
			    shape_equal(&x->shape, &n->shape) &&
			    x->batched == n->batched) {
				grp = x;
				break;
			}
		}
		if (!grp) {
			grp = arena_alloc(E->a, sizeof *grp);
			grp->base = base;
			grp->shape = n->shape;
			grp->batched = n->batched;
			int same = 0;
			for (int k = 0; k < groups.len; k++) {
				Group *x = groups.items[k];
				if (strcmp(x->base, base) == 0)
					same++;
			}
			const char *nm = same ? arena_printf(E->a, "%s_%d",
							     base, same + 1)
					      : base;
			grp->name = member_name(E, nm);
			vec_push(E->a, &groups, grp);
		}
		gof[i] = grp;
		gidx[i] = grp->count++;
	}
	for (int k = 0; k < groups.len; k++) {
		Group *x = groups.items[k];
		const char *arr = x->count > 1
			? arena_printf(E->a, "[%d]", x->count) : "";
		sb_printf(vdecl, "\t\t%s %s%s%s; /* %s */\n", E->real, x->name,
			  arr, flat_dims(E, &x->shape, x->batched),
			  shape_str(E->a, &x->shape));
	}
	/* adjoints: only for nodes that need them */
	char *gneeds = arena_alloc(E->a, (size_t)groups.len + 1);
	for (int i = 0; i < nn; i++) {
		Node *n = g->nodes.items[i];
		if (gof[i] && n->needs_grad) {
			for (int k = 0; k < groups.len; k++)
				if (groups.items[k] == gof[i])
					gneeds[k] = 1;
		}
	}
	for (int k = 0; k < groups.len; k++) {
		Group *x = groups.items[k];
		if (!gneeds[k])
			continue;
		const char *arr = x->count > 1
			? arena_printf(E->a, "[%d]", x->count) : "";
		sb_printf(ddecl, "\t\t%s %s%s%s; /* %s */\n", E->real, x->name,
			  arr, flat_dims(E, &x->shape, x->batched),
			  shape_str(E->a, &x->shape));
	}
	for (int i = 0; i < g->outputs.len; i++) {
		OutputDecl *o = g->outputs.items[i];
		if (o->node->needs_grad)
			sb_printf(ddecl, "\t\t%s out_%s%s; /* %s */\n", E->real,
				  o->name, flat_dims(E, &o->node->shape, 1),
				  shape_str(E->a, &o->node->shape));
	}
	for (int i = 0; i < nn; i++) {
		Node *n = g->nodes.items[i];
		switch (n->op) {
		case OP_INPUT: {
			DataDecl *d = g->inputs.items[n->decl];
			E->val[i] = whole(E, "", arena_printf(E->a, "s->in.%s",
						member_name(E, d->name)),
					  &n->shape, 1);
			continue;
		}
		case OP_TARGET: {
			DataDecl *d = g->targets.items[n->decl];
			E->val[i] = whole(E, "",
					  arena_printf(E->a, "s->target.%s",
						       member_name(E, d->name)),
					  &n->shape, 1);
			continue;
		}
		case OP_PARAM: {
			ParamDecl *d = g->params.items[n->decl];
			const char *m = member_name(E, d->name);
			E->val[i] = whole(E, "const ",
					  arena_printf(E->a, "p->%s", m),
					  &n->shape, 0);
			E->adj[i] = whole(E, "", arena_printf(E->a, "g->%s", m),
					  &n->shape, 0);
			continue;
		}
		default:
			break;
		}
		if (!gof[i])
			continue;
		Group *x = gof[i];
		const char *idx = x->count > 1
			? arena_printf(E->a, "[%d]", gidx[i]) : "";
		const char *suf = "";
		if (!is_out[i])
			E->val[i] = arena_printf(E->a, "s->v.%s%s%s", x->name,
						 idx, suf);
		if (n->needs_grad) {
			if (is_out[i]) {
				for (int k = 0; k < g->outputs.len; k++) {
					OutputDecl *o = g->outputs.items[k];
					if (o->node == n)
						E->adj[i] = arena_printf(
							E->a, "s->d.out_%s%s",
							o->name, suf);
				}
			} else {
				E->adj[i] = arena_printf(E->a, "s->d.%s%s%s",
							 x->name, idx, suf);
			}
		}
	}
}

/* -------------------------------------------------------------- GEMM */

/*
 * c = op(x) * op(y) (+ c if acc), per sample; x is stored xr x xc
 * (op(x) = x^T if tx), y likewise.  Batched operands have one matrix per
 * sample, contiguous; unbatched ones are shared.  When c is unbatched and
 * x, y are batched, the products are summed over the batch.
 */
static void
emit_gemm(Emit *E, const char *c, int cb, const char *x, int xb, int64_t xr,
	  int64_t xc, int tx, const char *y, int yb, int64_t yr, int64_t yc,
	  int ty, int acc)
{
	const char *gemm = E->is_float ? "pcg_sgemm" : "pcg_dgemm";
	int64_t M = tx ? xc : xr, K = tx ? xr : xc, N = ty ? yr : yc;
	const char *one = lit(E, 1), *zero = lit(E, 0);
	const char *beta = acc ? one : zero;
	const char *B = arena_printf(E->a, "%s_BATCH", E->PU);
	if (!cb && !xb && !yb) {
		line(E, "%s(%d, %d, %lld, %lld, %lld, %s, %s, %lld, %s, %lld, "
			"%s, %s, %lld);",
		     gemm, tx, ty, (long long)M, (long long)N, (long long)K,
		     one, x, (long long)xc, y, (long long)yc, beta, c,
		     (long long)N);
		return;
	}
	if (cb && xb && !yb && !tx) { /* stack the samples' rows */
		line(E, "%s(0, %d, %s * %lld, %lld, %lld, %s, %s, %lld, %s, "
			"%lld, %s, %s, %lld);",
		     gemm, ty, B, (long long)M, (long long)N, (long long)K, one,
		     x, (long long)xc, y, (long long)yc, beta, c, (long long)N);
		return;
	}
	if (cb && !xb && yb && N == 1) { /* c^T = y^T op(x)^T, one row each */
		line(E, "%s(0, %d, %s, %lld, %lld, %s, %s, %lld, %s, %lld, %s, "
			"%s, %lld);",
		     gemm, !tx, B, (long long)M, (long long)K, one, y,
		     (long long)K, x, (long long)xc, beta, c, (long long)M);
		return;
	}
	if (!cb && xb && yb && (tx || K == 1) && (!ty || K == 1)) {
		/* sum over samples: stack them along the inner dimension */
		line(E, "%s(1, 0, %lld, %lld, %s * %lld, %s, %s, %lld, %s, "
			"%lld, %s, %s, %lld);",
		     gemm, (long long)M, (long long)N, B, (long long)K, one, x,
		     (long long)M, y, (long long)N, beta, c, (long long)N);
		return;
	}
	/* general: one product per sample */
	const char *bb = acc || cb ? beta
		: arena_printf(E->a, "b ? %s : %s", one, zero);
	line(E, "for (int b = 0; b < %s; b++)", B);
	line(E, "\t%s(%d, %d, %lld, %lld, %lld, %s, %s + %s, %lld, %s + %s, "
		"%lld, %s, %s + %s, %lld);",
	     gemm, tx, ty, (long long)M, (long long)N, (long long)K, one, x,
	     xb ? arena_printf(E->a, "b * %lld", (long long)(xr * xc)) : "0",
	     (long long)xc, y,
	     yb ? arena_printf(E->a, "b * %lld", (long long)(yr * yc)) : "0",
	     (long long)yc, bb, c,
	     cb ? arena_printf(E->a, "b * %lld", (long long)(M * N)) : "0",
	     (long long)N);
}

/* matmul operands as matrices: [m,k] -> m x k, [k] left -> 1 x k,
 * [k] right -> k x 1 */
static void
mat_dims(const Node *n, int right, int64_t *r, int64_t *c)
{
	if (n->shape.rank == 2) {
		*r = n->shape.dim[0];
		*c = n->shape.dim[1];
	} else if (right) {
		*r = n->shape.dim[0];
		*c = 1;
	} else {
		*r = 1;
		*c = n->shape.dim[0];
	}
}

/* ------------------------------------------------- elementwise kernels */

typedef struct Unary {
	OpKind op;
	const char *fwd; /* expression of x (and a for leaky_relu) */
	const char *vjp; /* expression of dy, x, y */
} Unary;

/* The one table of elementwise derivatives.  Uses x (input), y (output),
 * dy (output adjoint), a (attribute). */
static const Unary unary_table[] = {
	{OP_NEG, "-x", "-dy"},
	{OP_IDENTITY, "x", "dy"},
	{OP_TANH, "TANH(x)", "dy * (ONE - y * y)"},
	{OP_SIGMOID, "ONE / (ONE + EXP(-x))", "dy * y * (ONE - y)"},
	{OP_RELU, "x > ZERO ? x : ZERO", "x > ZERO ? dy : ZERO"},
	{OP_EXP, "EXP(x)", "dy * y"},
	{OP_LOG, "LOG(x)", "dy / x"},
	{OP_SQRT, "SQRT(x)", "dy * HALF / y"},
	{OP_SQUARE, "x * x", "dy * TWO * x"},
	{OP_SOFTPLUS, "(x > ZERO ? x : ZERO) + LOG1P(EXP(-FABS(x)))",
	 "dy / (ONE + EXP(-x))"},
	{OP_ABS, "FABS(x)", "x > ZERO ? dy : x < ZERO ? -dy : ZERO"},
	{OP_LEAKY_RELU, "x > ZERO ? x : a * x", "x > ZERO ? dy : a * dy"},
};

static const Unary *
unary_of(OpKind op)
{
	for (size_t i = 0; i < sizeof unary_table / sizeof unary_table[0]; i++)
		if (unary_table[i].op == op)
			return &unary_table[i];
	unreachable();
}

/* Expand the placeholders of the table for the scalar type. */
static const char *
expand(Emit *E, const char *t)
{
	static const struct {
		const char *key;
		const char *fn;
		double num;
	} subs[] = {
		{"TANH", "tanh", 0}, {"EXP", "exp", 0},   {"LOG1P", "log1p", 0},
		{"LOG", "log", 0},   {"SQRT", "sqrt", 0}, {"FABS", "fabs", 0},
		{"ONE", NULL, 1},    {"ZERO", NULL, 0},   {"HALF", NULL, 0.5},
		{"TWO", NULL, 2},
	};
	StrBuf sb = {0};
	sb_puts(&sb, "");
	const char *p = t;
	while (*p) {
		int done = 0;
		for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
			size_t n = strlen(subs[i].key);
			if (strncmp(p, subs[i].key, n) == 0) {
				sb_puts(&sb, subs[i].fn ? fn(E, subs[i].fn)
							: lit(E, subs[i].num));
				p += n;
				done = 1;
				break;
			}
		}
		if (!done)
			sb_putc(&sb, *p++);
	}
	const char *r = arena_strdup(E->a, sb.data);
	sb_free(&sb);
	return r;
}

static void
kern(Emit *E, const char *fmt, ...) PCC_PRINTF(2, 3);

static void
kern(Emit *E, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sb_vprintf(&E->kern, fmt, ap);
	va_end(ap);
}

static const char *
unary_kernel(Emit *E, OpKind op, int vjp)
{
	const Unary *u = unary_of(op);
	const char *name = arena_printf(E->a, "k_%s%s", op_name[op],
					vjp ? "_vjp" : "");
	if (!kernel_begin(E, name))
		return name;
	const char *R = E->real;
	if (!vjp) {
		kern(E, "\n/* y = %s(x), elementwise */\nstatic void\n%s(int n, "
			"%s a, %s *restrict yv, const %s *restrict xv)\n{\n"
			"\t(void)a;\n"
			"\tfor (int i = 0; i < n; i++) {\n"
			"\t\t%s x = xv[i];\n"
			"\t\tyv[i] = %s;\n\t}\n}\n",
		     op_name[op], name, R, R, R, R, expand(E, u->fwd));
		return name;
	}
	kern(E, "\n/* dx (+)= dy * d%s(x)/dx, elementwise */\nstatic void\n"
		"%s(int n, int acc, %s a, %s *restrict dxv, const %s *restrict "
		"dyv, const %s *restrict xv, const %s *restrict yv)\n{\n"
		"\t(void)a;\n"
		"\tfor (int i = 0; i < n; i++) {\n"
		"\t\t%s x = xv[i], y = yv[i], dy = dyv[i];\n"
		"\t\t%s v = %s;\n"
		"\t\t(void)x;\n\t\t(void)y;\n"
		"\t\tdxv[i] = acc ? dxv[i] + v : v;\n\t}\n}\n",
	     op_name[op], name, R, R, R, R, R, R, R, expand(E, u->vjp));
	return name;
}

/* ----------------------------------------------- broadcast binary ops */

typedef struct Bcast {
	int n;              /* collapsed axes */
	int64_t ext[PCC_MAX_RANK + 1];
	int af[PCC_MAX_RANK + 1], bf[PCC_MAX_RANK + 1]; /* operand full? */
} Bcast;

static void
bcast_plan(Emit *E, const Node *y, const Node *a, const Node *b, Bcast *bc)
{
	(void)E;
	int r = y->shape.rank + 1;
	memset(bc, 0, sizeof *bc);
	for (int i = 0; i < r; i++) {
		int64_t e, ea, eb;
		if (i == 0) {
			e = y->batched ? 2 : 1; /* only "more than 1" matters */
			ea = a->batched ? e : 1;
			eb = b->batched ? e : 1;
		} else {
			int k = i - 1;
			e = y->shape.dim[k];
			int oa = k - (y->shape.rank - a->shape.rank);
			int ob = k - (y->shape.rank - b->shape.rank);
			ea = oa >= 0 ? a->shape.dim[oa] : 1;
			eb = ob >= 0 ? b->shape.dim[ob] : 1;
		}
		if (e == 1)
			continue;
		int af = ea != 1, bf = eb != 1;
		if (bc->n > 0 && bc->af[bc->n - 1] == af &&
		    bc->bf[bc->n - 1] == bf && i > 0 && bc->ext[bc->n - 1] > 0) {
			bc->ext[bc->n - 1] *= e;
			continue;
		}
		bc->ext[bc->n] = i == 0 ? -1 : e; /* -1: the batch */
		bc->af[bc->n] = af;
		bc->bf[bc->n] = bf;
		bc->n++;
	}
}

static const char *
bcast_sig(Emit *E, const Bcast *bc)
{
	StrBuf sb = {0};
	sb_puts(&sb, "");
	for (int i = 0; i < bc->n; i++) {
		if (bc->ext[i] < 0)
			sb_puts(&sb, "B");
		else
			sb_printf(&sb, "%lld", (long long)bc->ext[i]);
		sb_putc(&sb, bc->af[i] && bc->bf[i] ? 'f' : bc->af[i] ? 'l'
								    : 'r');
	}
	if (bc->n == 0)
		sb_puts(&sb, "1");
	const char *r = arena_strdup(E->a, sb.data);
	sb_free(&sb);
	return r;
}

/* index expression of operand (which: 0 y, 1 a, 2 b) */
static const char *
bcast_index(Emit *E, const Bcast *bc, int which)
{
	StrBuf sb = {0};
	sb_puts(&sb, "");
	int first = 1;
	for (int i = 0; i < bc->n; i++) {
		int full = which == 0 || (which == 1 ? bc->af[i] : bc->bf[i]);
		if (!full)
			continue;
		/* stride: product of later full extents */
		StrBuf st = {0};
		sb_puts(&st, "");
		for (int j = i + 1; j < bc->n; j++) {
			int fj = which == 0 ||
				 (which == 1 ? bc->af[j] : bc->bf[j]);
			if (!fj)
				continue;
			if (bc->ext[j] < 0)
				sb_printf(&st, " * %s_BATCH", E->PU);
			else
				sb_printf(&st, " * %lld", (long long)bc->ext[j]);
		}
		sb_printf(&sb, "%si%d%s", first ? "" : " + ", i, st.data);
		sb_free(&st);
		first = 0;
	}
	if (first)
		sb_puts(&sb, "0");
	const char *r = arena_strdup(E->a, sb.data);
	sb_free(&sb);
	return r;
}

static void
bcast_loops(Emit *E, const Bcast *bc)
{
	for (int i = 0; i < bc->n; i++) {
		for (int t = 0; t <= i; t++)
			kern(E, "\t");
		if (bc->ext[i] < 0)
			kern(E, "for (int i%d = 0; i%d < %s_BATCH; i%d++)\n", i, i,
			     E->PU, i);
		else
			kern(E, "for (int i%d = 0; i%d < %lld; i%d++)\n", i, i,
			     (long long)bc->ext[i], i);
	}
	for (int t = 0; t <= bc->n; t++)
		kern(E, "\t");
}

static const char *const bin_c[] = {[OP_ADD] = "+", [OP_SUB] = "-",
				    [OP_MUL] = "*", [OP_DIV] = "/"};

static const char *
binary_kernel(Emit *E, const Node *y)
{
	const Node *a = y->in[0], *b = y->in[1];
	Bcast bc;
	bcast_plan(E, y, a, b, &bc);
	const char *name = arena_printf(E->a, "k_%s_%s", op_name[y->op],
					bcast_sig(E, &bc));
	if (!kernel_begin(E, name))
		return name;
	const char *R = E->real;
	kern(E, "\n/* y = a %s b, broadcasting (%s) */\nstatic void\n%s(%s "
		"*restrict y, const %s *restrict a, const %s *restrict b)\n{\n",
	     bin_c[y->op], bcast_sig(E, &bc), name, R, R, R);
	bcast_loops(E, &bc);
	kern(E, "y[%s] = a[%s] %s b[%s];\n}\n", bcast_index(E, &bc, 0),
	     bcast_index(E, &bc, 1), bin_c[y->op], bcast_index(E, &bc, 2));
	return name;
}

/* The VJP of a broadcast binary op into operand k (0: a, 1: b). */
static const char *
binary_vjp_kernel(Emit *E, const Node *y, int k)
{
	const Node *a = y->in[0], *b = y->in[1];
	Bcast bc;
	bcast_plan(E, y, a, b, &bc);
	const char *name = arena_printf(E->a, "k_%s_%s_d%c", op_name[y->op],
					bcast_sig(E, &bc), k ? 'b' : 'a');
	if (!kernel_begin(E, name))
		return name;
	const char *R = E->real;
	const char *ia = bcast_index(E, &bc, 1), *ib = bcast_index(E, &bc, 2);
	const char *iy = bcast_index(E, &bc, 0);
	const char *dy = arena_printf(E->a, "dy[%s]", iy);
	const char *v = NULL;
	switch (y->op) {
	case OP_ADD:
		v = dy;
		break;
	case OP_SUB:
		v = k ? arena_printf(E->a, "-%s", dy) : dy;
		break;
	case OP_MUL:
		v = arena_printf(E->a, "%s * %s[%s]", dy, k ? "a" : "b",
				 k ? ia : ib);
		break;
	case OP_DIV:
		v = k ? arena_printf(E->a, "-%s * y[%s] / b[%s]", dy, iy, ib)
		      : arena_printf(E->a, "%s / b[%s]", dy, ib);
		break;
	default:
		unreachable();
	}
	const Node *x = k ? b : a;
	int reduces = 0; /* does the operand broadcast along some axis? */
	for (int i = 0; i < bc.n; i++)
		if (!(k ? bc.bf[i] : bc.af[i]))
			reduces = 1;
	(void)x;
	kern(E, "\n/* d%c (+)= dy * d(a %s b)/d%c%s */\nstatic void\n%s(int "
		"acc, %s *restrict d%c, const %s *restrict dy, const %s "
		"*restrict a, const %s *restrict b, const %s *restrict y)\n{\n",
	     k ? 'b' : 'a', bin_c[y->op], k ? 'b' : 'a',
	     reduces ? ", summed over broadcast axes" : "", name, R,
	     k ? 'b' : 'a', R, R, R, R);
	kern(E, "\t(void)a;\n\t(void)b;\n\t(void)y;\n");
	const char *d = k ? "db" : "da";
	const char *id = k ? ib : ia;
	if (reduces) {
		/* size of the operand */
		StrBuf sz = {0};
		sb_puts(&sz, "1");
		for (int i = 0; i < bc.n; i++)
			if (k ? bc.bf[i] : bc.af[i]) {
				if (bc.ext[i] < 0)
					sb_printf(&sz, " * %s_BATCH", E->PU);
				else
					sb_printf(&sz, " * %lld",
						  (long long)bc.ext[i]);
			}
		kern(E, "\tif (!acc)\n\t\tfor (int i = 0; i < %s; i++)\n"
			"\t\t\t%s[i] = %s;\n",
		     sz.data, d, lit(E, 0));
		sb_free(&sz);
		bcast_loops(E, &bc);
		kern(E, "%s[%s] += %s;\n}\n", d, id, v);
	} else {
		bcast_loops(E, &bc);
		kern(E, "%s[%s] = acc ? %s[%s] + %s : %s;\n}\n", d, id, d, id,
		     v, v);
	}
	return name;
}

/* --------------------------------------------------- other kernels */

static void
emit_fixed_kernels(Emit *E, const char *name)
{
	const char *R = E->real;
	const char *zero = lit(E, 0);
	if (!kernel_begin(E, name))
		return;
	if (strcmp(name, "k_fill") == 0) {
		kern(E, "\n/* y = v */\nstatic void\nk_fill(int n, %s *restrict "
			"y, %s v)\n{\n\tfor (int i = 0; i < n; i++)\n\t\ty[i] = "
			"v;\n}\n",
		     R, R);
	} else if (strcmp(name, "k_copy") == 0) {
		kern(E, "\n/* y = x */\nstatic void\nk_copy(int n, %s *restrict "
			"y, const %s *restrict x)\n{\n\tfor (int i = 0; i < n; "
			"i++)\n\t\ty[i] = x[i];\n}\n",
		     R, R);
	} else if (strcmp(name, "k_copy_vjp") == 0) {
		kern(E, "\n/* dx (+)= dy */\nstatic void\nk_copy_vjp(int n, int "
			"acc, %s *restrict dx, const %s *restrict dy)\n{\n\tfor "
			"(int i = 0; i < n; i++)\n\t\tdx[i] = acc ? dx[i] + dy[i] "
			": dy[i];\n}\n",
		     R, R);
	} else if (strcmp(name, "k_softmax") == 0 ||
		   strcmp(name, "k_log_softmax") == 0) {
		int logsm = name[2] == 'l';
		kern(E, "\n/* y = %s(x) over the last axis (rows of n) */\n"
			"static void\n%s(int rows, int n, %s *restrict y, const "
			"%s *restrict x)\n{\n"
			"\tfor (int r = 0; r < rows; r++) {\n"
			"\t\tconst %s *xr = x + r * n;\n\t\t%s *yr = y + r * n;\n"
			"\t\t%s m = xr[0];\n"
			"\t\tfor (int i = 1; i < n; i++)\n"
			"\t\t\tm = xr[i] > m ? xr[i] : m;\n"
			"\t\t%s sum = %s;\n"
			"\t\tfor (int i = 0; i < n; i++)\n"
			"\t\t\tsum += %s(xr[i] - m);\n",
		     logsm ? "log_softmax" : "softmax", name, R, R, R, R, R, R,
		     zero, fn(E, "exp"));
		if (logsm)
			kern(E, "\t\t%s lse = m + %s(sum);\n"
				"\t\tfor (int i = 0; i < n; i++)\n"
				"\t\t\tyr[i] = xr[i] - lse;\n\t}\n}\n",
			     R, fn(E, "log"));
		else
			kern(E, "\t\tfor (int i = 0; i < n; i++)\n"
				"\t\t\tyr[i] = %s(xr[i] - m) / sum;\n\t}\n}\n",
			     fn(E, "exp"));
	} else if (strcmp(name, "k_softmax_vjp") == 0) {
		kern(E, "\n/* dx (+)= y * (dy - sum(dy * y)), softmax rows */\n"
			"static void\nk_softmax_vjp(int rows, int n, int acc, %s "
			"*restrict dx, const %s *restrict dy, const %s *restrict "
			"y)\n{\n"
			"\tfor (int r = 0; r < rows; r++) {\n"
			"\t\t%s s = %s;\n"
			"\t\tfor (int i = 0; i < n; i++)\n"
			"\t\t\ts += dy[r * n + i] * y[r * n + i];\n"
			"\t\tfor (int i = 0; i < n; i++) {\n"
			"\t\t\t%s v = y[r * n + i] * (dy[r * n + i] - s);\n"
			"\t\t\tdx[r * n + i] = acc ? dx[r * n + i] + v : v;\n"
			"\t\t}\n\t}\n}\n",
		     R, R, R, R, zero, R);
	} else if (strcmp(name, "k_log_softmax_vjp") == 0) {
		kern(E, "\n/* dx (+)= dy - softmax(x) * sum(dy), rows */\n"
			"static void\nk_log_softmax_vjp(int rows, int n, int acc, "
			"%s *restrict dx, const %s *restrict dy, const %s "
			"*restrict y)\n{\n"
			"\tfor (int r = 0; r < rows; r++) {\n"
			"\t\t%s s = %s;\n"
			"\t\tfor (int i = 0; i < n; i++)\n"
			"\t\t\ts += dy[r * n + i];\n"
			"\t\tfor (int i = 0; i < n; i++) {\n"
			"\t\t\t%s v = dy[r * n + i] - %s(y[r * n + i]) * s;\n"
			"\t\t\tdx[r * n + i] = acc ? dx[r * n + i] + v : v;\n"
			"\t\t}\n\t}\n}\n",
		     R, R, R, R, zero, R, fn(E, "exp"));
	} else if (strcmp(name, "k_sum") == 0) {
		kern(E, "\n/* y[b] = scale * sum_i x[b][i] */\nstatic void\n"
			"k_sum(int batch, int n, %s scale, %s *restrict y, const "
			"%s *restrict x)\n{\n"
			"\tfor (int b = 0; b < batch; b++) {\n"
			"\t\t%s s = %s;\n"
			"\t\tfor (int i = 0; i < n; i++)\n"
			"\t\t\ts += x[b * n + i];\n"
			"\t\ty[b] = s * scale;\n\t}\n}\n",
		     R, R, R, R, zero);
	} else if (strcmp(name, "k_sum_vjp") == 0) {
		kern(E, "\n/* dx[b][i] (+)= scale * dy[b] */\nstatic void\n"
			"k_sum_vjp(int batch, int n, int acc, %s scale, %s "
			"*restrict dx, const %s *restrict dy)\n{\n"
			"\tfor (int b = 0; b < batch; b++)\n"
			"\t\tfor (int i = 0; i < n; i++) {\n"
			"\t\t\t%s v = dy[b] * scale;\n"
			"\t\t\tdx[b * n + i] = acc ? dx[b * n + i] + v : v;\n"
			"\t\t}\n}\n",
		     R, R, R, R);
	} else if (strcmp(name, "k_transpose") == 0) {
		kern(E, "\n/* y[b] = x[b]^T, x[b] is m x n */\nstatic void\n"
			"k_transpose(int batch, int m, int n, %s *restrict y, "
			"const %s *restrict x)\n{\n"
			"\tfor (int b = 0; b < batch; b++)\n"
			"\t\tfor (int i = 0; i < m; i++)\n"
			"\t\t\tfor (int j = 0; j < n; j++)\n"
			"\t\t\t\ty[b * m * n + j * m + i] = x[b * m * n + i * n + "
			"j];\n}\n",
		     R, R);
	} else if (strcmp(name, "k_transpose_vjp") == 0) {
		kern(E, "\n/* dx[b] (+)= dy[b]^T, x[b] is m x n */\nstatic void\n"
			"k_transpose_vjp(int batch, int m, int n, int acc, %s "
			"*restrict dx, const %s *restrict dy)\n{\n"
			"\tfor (int b = 0; b < batch; b++)\n"
			"\t\tfor (int i = 0; i < m; i++)\n"
			"\t\t\tfor (int j = 0; j < n; j++) {\n"
			"\t\t\t\t%s v = dy[b * m * n + j * m + i];\n"
			"\t\t\t\t%s *d = &dx[b * m * n + i * n + j];\n"
			"\t\t\t\t*d = acc ? *d + v : v;\n"
			"\t\t\t}\n}\n",
		     R, R, R, R);
	} else if (strcmp(name, "k_gather") == 0) {
		kern(E, "\n/* dst[b][i] (+)= src[b][off + i], i < len; src has "
			"sample stride ss, dst sample stride sd (0: shared, summed "
			"over the batch) */\nstatic void\n"
			"k_gather(int batch, int ss, int sd, int off, int len, int "
			"acc, %s *restrict dst, const %s *restrict src)\n{\n"
			"\tfor (int b = 0; b < batch; b++)\n"
			"\t\tfor (int i = 0; i < len; i++) {\n"
			"\t\t\t%s v = src[b * ss + off + i];\n"
			"\t\t\t%s *d = &dst[b * sd + i];\n"
			"\t\t\t*d = acc || (sd == 0 && b > 0) ? *d + v : v;\n"
			"\t\t}\n}\n",
		     R, R, R, R);
	} else if (strcmp(name, "k_scatter") == 0) {
		kern(E, "\n/* dst[b][off + i] (+)= src[b][i], i < len; without acc "
			"the rest of dst is zeroed first */\nstatic void\n"
			"k_scatter(int batch, int sd, int off, int len, int acc, "
			"%s *restrict dst, const %s *restrict src)\n{\n"
			"\tif (!acc)\n"
			"\t\tfor (int i = 0; i < batch * sd; i++)\n"
			"\t\t\tdst[i] = %s;\n"
			"\tfor (int b = 0; b < batch; b++)\n"
			"\t\tfor (int i = 0; i < len; i++)\n"
			"\t\t\tdst[b * sd + off + i] += src[b * len + i];\n}\n",
		     R, R, zero);
	} else if (strcmp(name, "k_place") == 0) {
		kern(E, "\n/* dst[b][off + i] = src[b][i], i < len; src has "
			"sample stride ss (0: shared) */\nstatic void\n"
			"k_place(int batch, int sd, int ss, int off, int len, %s "
			"*restrict dst, const %s *restrict src)\n{\n"
			"\tfor (int b = 0; b < batch; b++)\n"
			"\t\tfor (int i = 0; i < len; i++)\n"
			"\t\t\tdst[b * sd + off + i] = src[b * ss + i];\n}\n",
		     R, R);
	} else if (strcmp(name, "k_mse") == 0) {
		kern(E, "\n/* sum over samples of 1/2 sum_i (o - y)^2 */\n"
			"static %s\nk_mse(int batch, int n, const %s *restrict o, "
			"const %s *restrict y)\n{\n"
			"\t%s loss = %s;\n"
			"\tfor (int b = 0; b < batch; b++) {\n"
			"\t\t%s s = %s;\n"
			"\t\tfor (int i = 0; i < n; i++) {\n"
			"\t\t\t%s e = o[b * n + i] - y[b * n + i];\n"
			"\t\t\ts += e * e;\n\t\t}\n"
			"\t\tloss += %s * s;\n\t}\n\treturn loss;\n}\n",
		     R, R, R, R, zero, R, zero, R, lit(E, 0.5));
	} else if (strcmp(name, "k_mse_seed") == 0) {
		kern(E, "\n/* do (+)= scale * (o - y): the output delta of mse */\n"
			"static void\nk_mse_seed(int n, int acc, %s scale, %s "
			"*restrict d, const %s *restrict o, const %s *restrict "
			"y)\n{\n"
			"\tfor (int i = 0; i < n; i++) {\n"
			"\t\t%s v = scale * (o[i] - y[i]);\n"
			"\t\td[i] = acc ? d[i] + v : v;\n\t}\n}\n",
		     R, R, R, R, R);
	} else if (strcmp(name, "k_xent") == 0) {
		kern(E, "\n/* sum over rows of -sum_i y log softmax(o) */\n"
			"static %s\nk_xent(int rows, int n, const %s *restrict o, "
			"const %s *restrict y)\n{\n"
			"\t%s loss = %s;\n"
			"\tfor (int r = 0; r < rows; r++) {\n"
			"\t\tconst %s *orow = o + r * n, *yrow = y + r * n;\n"
			"\t\t%s m = orow[0];\n"
			"\t\tfor (int i = 1; i < n; i++)\n"
			"\t\t\tm = orow[i] > m ? orow[i] : m;\n"
			"\t\t%s sum = %s;\n"
			"\t\tfor (int i = 0; i < n; i++)\n"
			"\t\t\tsum += %s(orow[i] - m);\n"
			"\t\t%s lse = m + %s(sum);\n"
			"\t\tfor (int i = 0; i < n; i++)\n"
			"\t\t\tloss -= yrow[i] * (orow[i] - lse);\n"
			"\t}\n\treturn loss;\n}\n",
		     R, R, R, R, zero, R, R, R, zero, fn(E, "exp"), R,
		     fn(E, "log"));
	} else if (strcmp(name, "k_xent_seed") == 0) {
		kern(E, "\n/* do (+)= scale * (softmax(o) * sum(y) - y): the output "
			"delta of cross_entropy (softmax(o) - y for one-hot y) */\n"
			"static void\nk_xent_seed(int rows, int n, int acc, %s "
			"scale, %s *restrict d, const %s *restrict o, const %s "
			"*restrict y)\n{\n"
			"\tfor (int r = 0; r < rows; r++) {\n"
			"\t\tconst %s *orow = o + r * n, *yrow = y + r * n;\n"
			"\t\t%s m = orow[0];\n"
			"\t\tfor (int i = 1; i < n; i++)\n"
			"\t\t\tm = orow[i] > m ? orow[i] : m;\n"
			"\t\t%s sum = %s, ysum = %s;\n"
			"\t\tfor (int i = 0; i < n; i++) {\n"
			"\t\t\tsum += %s(orow[i] - m);\n"
			"\t\t\tysum += yrow[i];\n\t\t}\n"
			"\t\tfor (int i = 0; i < n; i++) {\n"
			"\t\t\t%s v = scale * (%s(orow[i] - m) / sum * ysum - "
			"yrow[i]);\n"
			"\t\t\td[r * n + i] = acc ? d[r * n + i] + v : v;\n"
			"\t\t}\n\t}\n}\n",
		     R, R, R, R, R, R, R, zero, zero, fn(E, "exp"), R,
		     fn(E, "exp"));
	} else {
		die("unknown kernel %s", name);
	}
}

/* ----------------------------------------------------------- forward */

static void
emit_comment(Emit *E, const Vertex *v)
{
	StrBuf sb = {0};
	diag_snippet(v->span, &sb, 100);
	line(E, "/* %s:%d: %s%s%s */", E->o->source_name, v->line,
	     sb.data ? sb.data : "",
	     strchr(v->label, '@') || strchr(v->label, '[') ||
		     strchr(v->label, '.')
		     ? "  => "
		     : "",
	     strchr(v->label, '@') || strchr(v->label, '[') ||
		     strchr(v->label, '.')
		     ? v->label
		     : "");
	sb_free(&sb);
}

static int64_t
last_dim(const Node *n)
{
	return n->shape.rank ? n->shape.dim[n->shape.rank - 1] : 1;
}

static void
emit_fwd_node(Emit *E, const Node *n)
{
	const char *y = E->val[n->id];
	const Node *x = n->nin ? n->in[0] : NULL;
	const char *xv = x ? E->val[x->id] : NULL;
	switch (n->op) {
	case OP_INPUT:
	case OP_TARGET:
	case OP_PARAM:
		return;
	case OP_CONST:
		emit_fixed_kernels(E, "k_fill");
		line(E, "k_fill(%s, %s, %s);", count(E, n), y,
		     lit(E, n->attr.value));
		return;
	case OP_ADD:
	case OP_SUB:
	case OP_MUL:
	case OP_DIV:
		line(E, "%s(%s, %s, %s);", binary_kernel(E, n), y, xv,
		     E->val[n->in[1]->id]);
		return;
	case OP_MATMUL: {
		int64_t ar, ac, br, bc;
		mat_dims(n->in[0], 0, &ar, &ac);
		mat_dims(n->in[1], 1, &br, &bc);
		emit_gemm(E, y, n->batched, xv, n->in[0]->batched, ar, ac, 0,
			  E->val[n->in[1]->id], n->in[1]->batched, br, bc, 0, 0);
		return;
	}
	case OP_SOFTMAX:
	case OP_LOG_SOFTMAX: {
		const char *k = n->op == OP_SOFTMAX ? "k_softmax"
						     : "k_log_softmax";
		emit_fixed_kernels(E, k);
		line(E, "%s(%s * %lld, %lld, %s, %s);", k, batch(E, n),
		     (long long)(numel(n) / last_dim(n)), (long long)last_dim(n),
		     y, xv);
		return;
	}
	case OP_SUM:
	case OP_MEAN:
		emit_fixed_kernels(E, "k_sum");
		line(E, "k_sum(%s, %lld, %s, %s, %s);", batch(E, x),
		     (long long)numel(x),
		     lit(E, n->op == OP_MEAN ? 1.0 / (double)numel(x) : 1.0), y,
		     xv);
		return;
	case OP_TRANSPOSE:
		emit_fixed_kernels(E, "k_transpose");
		line(E, "k_transpose(%s, %lld, %lld, %s, %s);", batch(E, n),
		     (long long)x->shape.dim[0], (long long)x->shape.dim[1], y,
		     xv);
		return;
	case OP_RESHAPE:
		emit_fixed_kernels(E, "k_copy");
		line(E, "k_copy(%s, %s, %s);", count(E, n), y, xv);
		return;
	case OP_SLICE: {
		int64_t row = numel(x) / x->shape.dim[0];
		emit_fixed_kernels(E, "k_gather");
		line(E, "k_gather(%s, %lld, %lld, %lld, %lld, 0, %s, %s);",
		     batch(E, n), (long long)numel(x), (long long)numel(n),
		     (long long)(n->attr.slice.lo * row), (long long)numel(n), y,
		     xv);
		return;
	}
	case OP_CONCAT: {
		emit_fixed_kernels(E, "k_place");
		int64_t off = 0;
		for (int k = 0; k < n->nin; k++) {
			const Node *in = n->in[k];
			line(E, "k_place(%s, %lld, %s, %lld, %lld, %s, %s);",
			     batch(E, n), (long long)numel(n), sstride(E, in),
			     (long long)off, (long long)numel(in), y,
			     E->val[in->id]);
			off += numel(in);
		}
		return;
	}
	default:
		break;
	}
	if (op_is_elementwise_unary(n->op)) {
		line(E, "%s(%s, %s, %s, %s);", unary_kernel(E, n->op, 0),
		     count(E, n),
		     lit(E, n->op == OP_LEAKY_RELU ? n->attr.value : 0), y, xv);
		return;
	}
	die("no forward code for %s", op_name[n->op]);
}

/* ---------------------------------------------------------- backward */

/* Adjoint of input k of node n: the one VJP table (BP, and later PC and
 * Z-IL, all use it). dy is the adjoint buffer of n, dx of its input. */
static void
emit_vjp(Emit *E, const Node *n, int k, const char *dy, const char *dx,
	 int acc)
{
	const Node *x = n->in[k];
	const char *xv = E->val[x->id], *y = E->val[n->id];
	switch (n->op) {
	case OP_ADD:
	case OP_SUB:
	case OP_MUL:
	case OP_DIV:
		line(E, "%s(%d, %s, %s, %s, %s, %s);",
		     binary_vjp_kernel(E, n, k), acc, dx, dy,
		     E->val[n->in[0]->id], E->val[n->in[1]->id], y);
		return;
	case OP_MATMUL: {
		const Node *a = n->in[0], *b = n->in[1];
		int64_t ar, ac, br, bc;
		mat_dims(a, 0, &ar, &ac);
		mat_dims(b, 1, &br, &bc);
		int64_t cr = ar, cc = bc;
		if (k == 0) /* da = dc b^T */
			emit_gemm(E, dx, a->batched, dy, n->batched, cr, cc, 0,
				  E->val[b->id], b->batched, br, bc, 1, acc);
		else /* db = a^T dc */
			emit_gemm(E, dx, b->batched, E->val[a->id], a->batched,
				  ar, ac, 1, dy, n->batched, cr, cc, 0, acc);
		return;
	}
	case OP_SOFTMAX:
	case OP_LOG_SOFTMAX: {
		const char *kn = n->op == OP_SOFTMAX ? "k_softmax_vjp"
						      : "k_log_softmax_vjp";
		emit_fixed_kernels(E, kn);
		line(E, "%s(%s * %lld, %lld, %d, %s, %s, %s);", kn, batch(E, n),
		     (long long)(numel(n) / last_dim(n)), (long long)last_dim(n),
		     acc, dx, dy, y);
		return;
	}
	case OP_SUM:
	case OP_MEAN:
		emit_fixed_kernels(E, "k_sum_vjp");
		line(E, "k_sum_vjp(%s, %lld, %d, %s, %s, %s);", batch(E, x),
		     (long long)numel(x), acc,
		     lit(E, n->op == OP_MEAN ? 1.0 / (double)numel(x) : 1.0), dx,
		     dy);
		return;
	case OP_TRANSPOSE:
		emit_fixed_kernels(E, "k_transpose_vjp");
		line(E, "k_transpose_vjp(%s, %lld, %lld, %d, %s, %s);",
		     batch(E, n), (long long)x->shape.dim[0],
		     (long long)x->shape.dim[1], acc, dx, dy);
		return;
	case OP_RESHAPE:
	case OP_IDENTITY:
		emit_fixed_kernels(E, "k_copy_vjp");
		line(E, "k_copy_vjp(%s, %d, %s, %s);", count(E, n), acc, dx, dy);
		return;
	case OP_SLICE: {
		int64_t row = numel(x) / x->shape.dim[0];
		emit_fixed_kernels(E, "k_scatter");
		line(E, "k_scatter(%s, %lld, %lld, %lld, %d, %s, %s);",
		     batch(E, n), (long long)numel(x),
		     (long long)(n->attr.slice.lo * row), (long long)numel(n),
		     acc, dx, dy);
		return;
	}
	case OP_CONCAT: {
		int64_t off = 0;
		for (int j = 0; j < k; j++)
			off += numel(n->in[j]);
		emit_fixed_kernels(E, "k_gather");
		line(E, "k_gather(%s, %lld, %s, %lld, %lld, %d, %s, %s);",
		     batch(E, n), (long long)numel(n), sstride(E, x),
		     (long long)off, (long long)numel(x), acc, dx, dy);
		return;
	}
	default:
		break;
	}
	if (op_is_elementwise_unary(n->op)) {
		line(E, "%s(%s, %d, %s, %s, %s, %s, %s);",
		     unary_kernel(E, n->op, 1), count(E, n), acc,
		     lit(E, n->op == OP_LEAKY_RELU ? n->attr.value : 0), dx, dy,
		     xv, y);
		return;
	}
	die("no VJP for %s", op_name[n->op]);
}

/* The loss values and output deltas. */
static void
emit_losses_fwd(Emit *E)
{
	for (int i = 0; i < E->g->losses.len; i++) {
		const Loss *l = E->g->losses.items[i];
		const Node *o = l->out;
		const char *t = E->val[l->target->node->id];
		line(E, "/* %s:%d: loss %s */", E->o->source_name, l->line,
		     l->kind == LOSS_MSE ? "mse" : "cross_entropy");
		if (l->kind == LOSS_MSE) {
			emit_fixed_kernels(E, "k_mse");
			line(E, "loss += k_mse(%s_BATCH, %lld, %s, %s);", E->PU,
			     (long long)numel(o), E->val[o->id], t);
		} else {
			emit_fixed_kernels(E, "k_xent");
			line(E, "loss += k_xent(%s_BATCH * %lld, %lld, %s, %s);",
			     E->PU, (long long)(numel(o) / last_dim(o)),
			     (long long)last_dim(o), E->val[o->id], t);
		}
	}
}

static void
emit_loss_seeds(Emit *E)
{
	for (int i = 0; i < E->g->losses.len; i++) {
		const Loss *l = E->g->losses.items[i];
		const Node *o = l->out;
		if (!o->needs_grad)
			continue;
		const char *t = E->val[l->target->node->id];
		const char *scale = arena_printf(E->a, "%s / %s_BATCH",
						 lit(E, 1), E->PU);
		int acc = E->has_adj[o->id];
		if (l->kind == LOSS_MSE) {
			emit_fixed_kernels(E, "k_mse_seed");
			line(E, "k_mse_seed(%s, %d, %s, %s, %s, %s);", count(E, o),
			     acc, scale, E->adj[o->id], E->val[o->id], t);
		} else {
			emit_fixed_kernels(E, "k_xent_seed");
			line(E, "k_xent_seed(%s_BATCH * %lld, %lld, %d, %s, %s, "
				"%s, %s);",
			     E->PU, (long long)(numel(o) / last_dim(o)),
			     (long long)last_dim(o), acc, scale, E->adj[o->id],
			     E->val[o->id], t);
		}
		E->has_adj[o->id] = 1;
	}
}

static int
cmp_vertex_sweep(const void *pa, const void *pb)
{
	const Vertex *a = *(Vertex *const *)pa, *b = *(Vertex *const *)pb;
	if (a->level != b->level)
		return a->level < b->level ? -1 : 1;
	return a->root->id > b->root->id ? -1 : a->root->id < b->root->id;
}

/* Vertices in the order of the reverse sweep: by level from the outputs,
 * ties in reverse topological order. */
static Vertex **
sweep_order(Emit *E, int *nout)
{
	const Graph *g = E->g;
	Vertex **v = arena_alloc(E->a, sizeof(Vertex *) *
					       (size_t)(g->vertices.len + 1));
	int n = 0;
	for (int i = 0; i < g->vertices.len; i++) {
		Vertex *x = g->vertices.items[i];
		if (x->root->live && x->root->needs_grad)
			v[n++] = x;
	}
	qsort(v, (size_t)n, sizeof *v, cmp_vertex_sweep);
	*nout = n;
	return v;
}

static void
emit_backward(Emit *E)
{
	const Graph *g = E->g;
	memset(E->has_adj, 0, (size_t)g->nodes.len + 1);
	line(E, "/* output deltas: d loss / d output, mean over the batch */");
	emit_loss_seeds(E);
	int nv;
	Vertex **order = sweep_order(E, &nv);
	int last_level = -1;
	for (int i = 0; i < nv; i++) {
		Vertex *v = order[i];
		if (v->level != last_level) {
			sb_putc(E->out, '\n');
			line(E, "/* ---- level %d ---- */", v->level);
			last_level = v->level;
		}
		emit_comment(E, v);
		for (int k = v->nodes.len - 1; k >= 0; k--) {
			Node *n = v->nodes.items[k];
			if (!n->needs_grad || !n->live)
				continue;
			if (!E->has_adj[n->id])
				die("adjoint of %%%d used before it was set",
				    n->id);
			for (int j = 0; j < n->nin; j++) {
				Node *x = n->in[j];
				if (!x->needs_grad)
					continue;
				emit_vjp(E, n, j, E->adj[n->id], E->adj[x->id],
					 E->has_adj[x->id]);
				E->has_adj[x->id] = 1;
			}
		}
	}
	/* parameters that received nothing */
	int first = 1;
	for (int i = 0; i < g->params.len; i++) {
		ParamDecl *p = g->params.items[i];
		if (E->has_adj[p->node->id])
			continue;
		if (first)
			line(E, "/* parameters no loss depends on */");
		first = 0;
		emit_fixed_kernels(E, "k_fill");
		line(E, "k_fill(%lld, %s, %s);", (long long)shape_numel(&p->shape),
		     E->adj[p->node->id], lit(E, 0));
	}
}

/* ------------------------------------------------------------- model */

static const char *
upper(Arena *a, const char *s)
{
	char *r = arena_strdup(a, s);
	for (char *p = r; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return r;
}

static const char *const init_name[] = {
	"PCG_INIT_ZEROS",  "PCG_INIT_ONES",   "PCG_INIT_NORMAL",
	"PCG_INIT_UNIFORM", "PCG_INIT_XAVIER", "PCG_INIT_HE"};

static void
emit_header(Emit *E, StrBuf *h, const char *vdecl, const char *ddecl)
{
	const Graph *g = E->g;
	const char *P = E->P, *PU = E->PU, *R = E->real;
	sb_printf(h, "/* Generated by pcc %s from %s. DO NOT EDIT. */\n",
		  PCC_VERSION, E->o->source_name);
	sb_printf(h, "#ifndef PCC_%s_H\n#define PCC_%s_H\n\n", PU, PU);
	sb_printf(h, "#include <stdint.h>\n\n#include \"pcg_runtime.h\"\n\n");
	sb_printf(h, "#define %s_BATCH %d /* samples per call */\n", PU,
		  E->o->batch);
	sb_printf(h, "#define %s_DEPTH %d /* levels of the levelled graph */\n",
		  PU, g->depth);
	sb_printf(h, "#define %s_NUM_PARAMS %d /* param declarations */\n", PU,
		  g->params.len);
	sb_printf(h, "#define %s_NUM_REALS %lld /* scalars in %s_params */\n\n",
		  PU, (long long)g->param_count, P);
	sb_printf(h, "typedef %s %s;\n\n", E->o->real, R);
	sb_printf(h, "/* The parameters, in declaration order: a dense array of "
		     "%s.\n * The same type holds gradients. */\n",
		  R);
	sb_printf(h, "typedef struct %s_params {\n", P);
	for (int i = 0; i < g->params.len; i++) {
		ParamDecl *p = g->params.items[i];
		sb_printf(h, "\t%s %s%s;\n", R, member_name(E, p->name),
			  decl_dims(E, &p->shape, 0));
	}
	if (!g->params.len)
		sb_printf(h, "\t%s none_[1];\n", R);
	sb_printf(h, "} %s_params;\n\n", P);
	sb_printf(h, "typedef struct %s_state {\n", P);
	sb_printf(h, "\tstruct {\n");
	for (int i = 0; i < g->inputs.len; i++) {
		DataDecl *d = g->inputs.items[i];
		sb_printf(h, "\t\t%s %s%s;\n", R, member_name(E, d->name),
			  decl_dims(E, &d->shape, 1));
	}
	if (!g->inputs.len)
		sb_printf(h, "\t\tchar none_;\n");
	sb_printf(h, "\t} in;\n\tstruct {\n");
	for (int i = 0; i < g->targets.len; i++) {
		DataDecl *d = g->targets.items[i];
		sb_printf(h, "\t\t%s %s%s;\n", R, member_name(E, d->name),
			  decl_dims(E, &d->shape, 1));
	}
	if (!g->targets.len)
		sb_printf(h, "\t\tchar none_;\n");
	sb_printf(h, "\t} target;\n\tstruct { /* loss outputs and `output` "
		     "vertices */\n");
	for (int i = 0; i < g->outputs.len; i++) {
		OutputDecl *o = g->outputs.items[i];
		sb_printf(h, "\t\t%s %s%s;\n", R, member_name(E, o->name),
			  decl_dims(E, &o->node->shape, 1));
	}
	if (!g->outputs.len)
		sb_printf(h, "\t\tchar none_;\n");
	sb_printf(h, "\t} out;\n");
	sb_printf(h, "\t/* The rest is the implementation's. */\n");
	sb_printf(h, "\tstruct { /* values of the vertices and their inner "
		     "operations */\n%s\t} v;\n",
		  vdecl[0] ? vdecl : "\t\tchar none_;\n");
	if (g->losses.len) {
		sb_printf(h, "\tstruct { /* adjoints (BP deltas) */\n%s\t} d;\n",
			  ddecl[0] ? ddecl : "\t\tchar none_;\n");
		sb_printf(h, "\t%s_params grad; /* gradient for %s_train_bp */\n",
			  P, P);
	}
	sb_printf(h, "} %s_state;\n\n", P);
	sb_printf(h, "extern const pcg_param_info %s_param_info[%s_NUM_PARAMS "
		     "> 0 ? %s_NUM_PARAMS : 1];\n",
		  P, PU, PU);
	sb_printf(h, "/* The members of s->in and s->target: offset and count are "
		     "per sample;\n * member k holds %s_BATCH * count values "
		     "starting at %s_BATCH * offset. */\n",
		  PU, PU);
	sb_printf(h, "#define %s_NUM_INPUTS %d\n#define %s_NUM_TARGETS %d\n", PU,
		  g->inputs.len, PU, g->targets.len);
	sb_printf(h, "extern const pcg_param_info %s_input_info[%s_NUM_INPUTS > 0 "
		     "? %s_NUM_INPUTS : 1];\n",
		  P, PU, PU);
	sb_printf(h, "extern const pcg_param_info %s_target_info[%s_NUM_TARGETS "
		     "> 0 ? %s_NUM_TARGETS : 1];\n\n",
		  P, PU, PU);
	sb_printf(h, "void %s_init(%s_params *p, uint64_t seed);\n", P, P);
	sb_printf(h, "%s %s_forward(const %s_params *p, %s_state *s);\n", R, P,
		  P, P);
	if (g->losses.len) {
		sb_printf(h, "%s %s_grad_bp(const %s_params *p, %s_state *s, "
			     "%s_params *g);\n",
			  R, P, P, P, P);
		sb_printf(h, "%s %s_train_bp(%s_params *p, %s_state *s, %s lr);\n",
			  R, P, P, P, R);
	}
	sb_printf(h, "void %s_sgd(%s_params *p, const %s_params *g, %s lr);\n",
		  P, P, P, R);
	sb_printf(h, "int %s_save(const %s_params *p, const char *path);\n", P,
		  P);
	sb_printf(h, "int %s_load(%s_params *p, const char *path);\n", P, P);
	sb_printf(h, "\n#endif\n");
}

void
emit_model(Arena *a, const Graph *g, const EmitOptions *o, StrBuf *h,
	   StrBuf *c)
{
	Emit E;
	memset(&E, 0, sizeof E);
	E.a = a;
	E.g = g;
	E.o = o;
	E.P = o->prefix;
	E.PU = upper(a, o->prefix);
	E.is_float = strcmp(o->real, "float") == 0;
	E.real = arena_printf(a, "%s_real", E.P);
	int nn = g->nodes.len;
	E.val = arena_alloc(a, sizeof(char *) * (size_t)(nn + 1));
	E.adj = arena_alloc(a, sizeof(char *) * (size_t)(nn + 1));
	E.has_adj = arena_alloc(a, (size_t)nn + 1);
	const char *P = E.P, *PU = E.PU, *R = E.real;

	StrBuf vdecl = {0}, ddecl = {0};
	sb_puts(&vdecl, "");
	sb_puts(&ddecl, "");
	layout(&E, &vdecl, &ddecl);
	emit_header(&E, h, vdecl.data, ddecl.data);
	sb_free(&vdecl);
	sb_free(&ddecl);

	StrBuf body = {0};
	sb_puts(&body, "");
	sb_puts(&E.kern, "");
	E.out = &body;
	E.ind = "\t";

	/* forward */
	sb_printf(&body, "\n/* The forward pass: every vertex in topological "
			 "order; returns the\n * batch-mean loss. */\n"
			 "static %s\nforward(const %s_params *p, %s_state *s)\n{\n",
		  R, P, P);
	sb_printf(&body, "\t%s loss = %s;\n", R, lit(&E, 0));
	if (!g->params.len)
		sb_printf(&body, "\t(void)p;\n");
	const Vertex *cur = NULL;
	for (int i = 0; i < nn; i++) {
		Node *n = g->nodes.items[i];
		if (!n->live || n->op == OP_INPUT || n->op == OP_TARGET ||
		    n->op == OP_PARAM)
			continue;
		if (n->vertex && n->vertex != cur) {
			cur = n->vertex;
			emit_comment(&E, cur);
		}
		emit_fwd_node(&E, n);
	}
	emit_losses_fwd(&E);
	sb_printf(&body, "\treturn loss / %s_BATCH;\n}\n", PU);

	if (g->losses.len) {
		sb_printf(&body,
			  "\n/* The reverse sweep of backpropagation.  Needs the "
			  "values of a forward\n * pass in s; writes dL/dtheta, "
			  "L the batch-mean loss, into g (every\n * parameter, "
			  "overwritten).  Each delta is d L / d (vertex value).  "
			  "*/\nstatic void\nbackward(const %s_params *p, "
			  "%s_state *s, %s_params *g)\n{\n",
			  P, P, P);
		if (!g->params.len)
			sb_printf(&body, "\t(void)p;\n");
		emit_backward(&E);
		sb_printf(&body, "}\n");
	}

	/* API */
	sb_printf(&body, "\n/* ------------------------------------------------"
			 "------------- API */\n");
	sb_printf(&body, "\nconst pcg_param_info %s_param_info[%s_NUM_PARAMS > "
			 "0 ? %s_NUM_PARAMS : 1] = {\n",
		  P, PU, PU);
	for (int i = 0; i < g->params.len; i++) {
		ParamDecl *pd = g->params.items[i];
		sb_printf(&body, "\t{\"%s\", %d, {", pd->name, pd->shape.rank);
		for (int k = 0; k < pd->shape.rank; k++)
			sb_printf(&body, "%s%lld", k ? ", " : "",
				  (long long)pd->shape.dim[k]);
		sb_printf(&body, "}, %lld, %lld, %s, %.17g, %.17g},\n",
			  (long long)pd->offset,
			  (long long)shape_numel(&pd->shape),
			  init_name[pd->init], pd->a, pd->b);
	}
	if (!g->params.len)
		sb_printf(&body, "\t{\"\", 0, {0}, 0, 0, 0, 0, 0},\n");
	sb_printf(&body, "};\n");

	for (int w = 0; w < 2; w++) {
		const PtrVec *list = w ? &g->targets : &g->inputs;
		const char *what = w ? "target" : "input";
		const char *WHAT = w ? "TARGETS" : "INPUTS";
		sb_printf(&body, "\nconst pcg_param_info %s_%s_info[%s_NUM_%s > 0 ? "
				 "%s_NUM_%s : 1] = {\n",
			  P, what, PU, WHAT, PU, WHAT);
		int64_t off = 0;
		for (int i = 0; i < list->len; i++) {
			DataDecl *d = list->items[i];
			sb_printf(&body, "\t{\"%s\", %d, {", d->name, d->shape.rank);
			for (int k = 0; k < d->shape.rank; k++)
				sb_printf(&body, "%s%lld", k ? ", " : "",
					  (long long)d->shape.dim[k]);
			sb_printf(&body, "}, %lld, %lld, 0, 0, 0},\n",
				  (long long)off,
				  (long long)shape_numel(&d->shape));
			off += shape_numel(&d->shape);
		}
		if (!list->len)
			sb_printf(&body, "\t{\"\", 0, {0}, 0, 0, 0, 0, 0},\n");
		sb_printf(&body, "};\n");
	}

	const char *initfn = E.is_float ? "pcg_init_param_f" : "pcg_init_param_d";
	sb_printf(&body, "\nvoid\n%s_init(%s_params *p, uint64_t seed)\n{\n", P,
		  P);
	for (int i = 0; i < g->params.len; i++) {
		ParamDecl *pd = g->params.items[i];
		sb_printf(&body, "\t%s(%s, &%s_param_info[%d], seed, %d);\n",
			  initfn,
			  whole(&E, "", arena_printf(a, "p->%s",
						      member_name(&E, pd->name)),
				&pd->shape, 0),
			  P, i, i);
	}
	if (!g->params.len)
		sb_printf(&body, "\t(void)p;\n\t(void)seed;\n");
	sb_printf(&body, "}\n");

	sb_printf(&body, "\n%s\n%s_forward(const %s_params *p, %s_state *s)\n{\n"
			 "\treturn forward(p, s);\n}\n",
		  R, P, P, P);
	if (g->losses.len) {
		sb_printf(&body,
			  "\n/* dL/dtheta by backpropagation, L the batch-mean "
			  "loss: into g. */\n%s\n%s_grad_bp(const %s_params *p, "
			  "%s_state *s, %s_params *g)\n{\n"
			  "\t%s loss = forward(p, s);\n\tbackward(p, s, g);\n"
			  "\treturn loss;\n}\n",
			  R, P, P, P, P, R);
		sb_printf(&body,
			  "\n/* One SGD step by backpropagation (gradient kept in "
			  "s->grad). */\n%s\n%s_train_bp(%s_params *p, %s_state "
			  "*s, %s lr)\n{\n"
			  "\t%s loss = forward(p, s);\n"
			  "\tbackward(p, s, &s->grad);\n"
			  "\t%s_sgd(p, &s->grad, lr);\n\treturn loss;\n}\n",
			  R, P, P, P, R, R, P);
	}
	sb_printf(&body, "\n/* p -= lr * g */\nvoid\n%s_sgd(%s_params *p, const "
			 "%s_params *g, %s lr)\n{\n",
		  P, P, P, R);
	for (int i = 0; i < g->params.len; i++) {
		ParamDecl *pd = g->params.items[i];
		const char *m = member_name(&E, pd->name);
		const char *pw = whole(&E, "", arena_printf(a, "p->%s", m),
				       &pd->shape, 0);
		const char *gw = whole(&E, "const ",
				       arena_printf(a, "g->%s", m), &pd->shape, 0);
		sb_printf(&body, "\t{\n\t\t%s *w = %s;\n\t\tconst %s *d = "
				 "%s;\n\t\tfor (int i = 0; i < %lld; i++)\n"
				 "\t\t\tw[i] -= lr * d[i];\n\t}\n",
			  R, pw, R, gw,
			  (long long)shape_numel(&pd->shape));
	}
	if (!g->params.len)
		sb_printf(&body, "\t(void)p;\n\t(void)g;\n\t(void)lr;\n");
	sb_printf(&body, "}\n");
	sb_printf(&body, "\nint\n%s_save(const %s_params *p, const char *path)\n{\n"
			 "\treturn pcg_ckpt_save(path, \"%s\", %s_param_info, "
			 "%s_NUM_PARAMS, (int)sizeof(%s), p);\n}\n",
		  P, P, g->name, P, PU, R);
	sb_printf(&body, "\nint\n%s_load(%s_params *p, const char *path)\n{\n"
			 "\treturn pcg_ckpt_load(path, \"%s\", %s_param_info, "
			 "%s_NUM_PARAMS, (int)sizeof(%s), p);\n}\n",
		  P, P, g->name, P, PU, R);

	/* assemble */
	sb_printf(c, "/* Generated by pcc %s from %s. DO NOT EDIT. */\n",
		  PCC_VERSION, o->source_name);
	sb_printf(c, "#include <math.h>\n#include <stddef.h>\n\n#include "
		     "\"%s\"\n\n",
		  o->header_name);
	sb_printf(c, "#if PCG_RUNTIME_VERSION != %d\n#error \"%s was generated "
		     "for pcg_runtime version %d\"\n#endif\n",
		  1, o->header_name, 1);
	sb_printf(c, "\n/* ------------------------------------------------------"
		     "----- kernels */\n");
	sb_puts(c, E.kern.data);
	sb_puts(c, body.data);
	sb_free(&body);
	sb_free(&E.kern);
}
