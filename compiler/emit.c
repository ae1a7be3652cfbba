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
	const char **mem;   /* node id -> member path in v/d/pc ("h_add[3]") */
	const char **idmem; /* PC vertex id -> member path of an identity */
	int *idx;           /* scratch: index within an identity group */
	int64_t state_reals; /* scalars declared in P_state */
	int64_t reals_v, reals_d; /* of them in v and in d */
	int *puses;         /* param decl -> uses (param_uses) */
	struct Chunker *chunk; /* splits long bodies into functions, or NULL */
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

/* "h_conv2d[3]" -> "h_conv2d_3": a member name from a member path */
static const char *
c_member(Emit *E, const char *path)
{
	char *r = arena_strdup(E->a, path);
	size_t n = strlen(r);
	for (size_t i = 0; i < n; i++)
		if (r[i] == '[')
			r[i] = '_';
	if (n && r[n - 1] == ']')
		r[n - 1] = 0;
	return r;
}

/* ------------------------------------------------------ buffer layout */

typedef struct Group Group;
struct Group {
	const char *name; /* C member */
	const char *base;
	Shape shape;
	int batched;
	int count;
	int outcopy; /* identity copies of outputs: only an error node */
	int index;   /* in its GroupSet */
	Group *same; /* next in its GroupSet's hash chain */
};

/* Groups in order, with a hash index by base name. */
typedef struct GroupSet {
	PtrVec v;
	Group **bucket;
	int nbucket;
} GroupSet;

static uint32_t
group_hash(const GroupSet *set, const char *base)
{
	return (uint32_t)util_hash(base, strlen(base), 0) &
	       (uint32_t)(set->nbucket - 1);
}

/* Assign every live non-leaf node a member of the state's `v` struct (its
 * forward value), `d` (BP adjoint) and, for PC, `pc.mu` / `pc.e` (current
 * prediction and error); PC vertices get `pc.x` / `pc.dev` / `pc.fb`
 * (value node, its deviation from the forward pass, error feedback), and
 * identity vertices their own groups.  Writes the declarations. */
static Group *
find_group(Emit *E, GroupSet *set, const char *base, const Shape *sh,
	   int batched)
{
	int same = 0;
	if (set->nbucket)
		for (Group *x = set->bucket[group_hash(set, base)]; x;
		     x = x->same) {
			if (strcmp(x->base, base) != 0)
				continue;
			if (shape_equal(&x->shape, sh) && x->batched == batched)
				return x;
			same++;
		}
	Group *grp = arena_alloc(E->a, sizeof *grp);
	grp->base = base;
	grp->shape = *sh;
	grp->batched = batched;
	const char *nm = same ? arena_printf(E->a, "%s_%d", base, same + 1)
			      : base;
	grp->name = member_name(E, nm);
	grp->index = set->v.len;
	vec_push(E->a, &set->v, grp);
	if (set->v.len > set->nbucket) { /* grow the index */
		set->nbucket = set->nbucket ? set->nbucket * 2 : 64;
		set->bucket = arena_alloc(E->a, sizeof *set->bucket *
						       (size_t)set->nbucket);
		for (int k = 0; k < set->v.len - 1; k++) {
			Group *x = set->v.items[k];
			uint32_t h = group_hash(set, x->base);
			x->same = set->bucket[h];
			set->bucket[h] = x;
		}
	}
	uint32_t h = group_hash(set, base);
	grp->same = set->bucket[h];
	set->bucket[h] = grp;
	return grp;
}

static int
decl_groups(Emit *E, StrBuf *sb, const PtrVec *groups, const char *mark,
	    const char *ind)
{
	int n = 0;
	for (int k = 0; k < groups->len; k++) {
		Group *x = groups->items[k];
		if (mark && !mark[k])
			continue;
		const char *arr = x->count > 1
			? arena_printf(E->a, "[%d]", x->count) : "";
		sb_printf(sb, "%s%s %s%s%s; /* %s */\n", ind, E->real, x->name,
			  arr, flat_dims(E, &x->shape, x->batched),
			  shape_str(E->a, &x->shape));
		E->state_reals += (int64_t)x->count * shape_numel(&x->shape) *
				  (x->batched ? E->o->batch : 1);
		n++;
	}
	return n;
}

static void
layout(Emit *E, StrBuf *vdecl, StrBuf *ddecl, StrBuf *pcdecl)
{
	const Graph *g = E->g;
	GroupSet groups = {0};
	int nn = g->nodes.len;
	Group **gof = arena_alloc(E->a, sizeof(Group *) * (size_t)(nn + 1));
	int *gidx = arena_alloc(E->a, sizeof(int) * (size_t)(nn + 1));
	char *is_out = arena_alloc(E->a, (size_t)nn + 1);
	for (int i = 0; i < g->outputs.len; i++) {
		OutputDecl *o = g->outputs.items[i];
		if (!o->node->batched)
			continue; /* lives in v, copied to every row of out */
		is_out[o->node->id] = 1;
		E->val[o->node->id] = whole(
			E, "", arena_printf(E->a, "s->out.%s",
					    member_name(E, o->name)),
			&o->node->shape, 1);
	}
	for (int i = 0; i < nn; i++) {
		Node *n = g->nodes.items[i];
		if (op_is_leaf(n->op) && n->op != OP_CONST)
			continue;
		if (!n->live)
			continue;
		const char *base = n->member ? n->member : "c";
		if (n->op == OP_CONST)
			base = n->attr.value == 0 ? "zeros"
			       : n->attr.value == 1 ? "ones" : "konst";
		else if (n->vertex && n->vertex->root != n)
			base = arena_printf(E->a, "%s_%s", base, op_name[n->op]);
		Group *grp = find_group(E, &groups, base, &n->shape, n->batched);
		gof[i] = grp;
		gidx[i] = grp->count++;
	}
	int ng = groups.v.len;
	char *need_d = arena_alloc(E->a, (size_t)ng + 1);
	char *need_pc = arena_alloc(E->a, (size_t)ng + 1);
	char *need_x = arena_alloc(E->a, (size_t)ng + 1);
	for (int i = 0; i < nn; i++) {
		Node *n = g->nodes.items[i];
		if (!gof[i])
			continue;
		int k = gof[i]->index;
		if (n->needs_grad)
			need_d[k] = 1;
		if (n->pcv)
			need_pc[k] = 1;
		if (n->pcv && n->pcv->root == n && !n->pcv->is_output)
			need_x[k] = 1;
		const char *idx = gof[i]->count > 1
			? arena_printf(E->a, "[%d]", gidx[i]) : "";
		E->mem[i] = arena_printf(E->a, "%s%s", gof[i]->name, idx);
		if (!is_out[i])
			E->val[i] = arena_printf(E->a, "s->v.%s", E->mem[i]);
		if (n->needs_grad)
			E->adj[i] = arena_printf(E->a, "s->d.%s", E->mem[i]);
	}
	for (int i = 0; i < nn; i++) {
		Node *n = g->nodes.items[i];
		if (n->op == OP_INPUT || n->op == OP_TARGET) {
			DataDecl *d = n->op == OP_INPUT ? g->inputs.items[n->decl]
						       : g->targets.items[n->decl];
			E->val[i] = whole(E, "", arena_printf(E->a, "s->%s.%s",
					n->op == OP_INPUT ? "in" : "target",
					member_name(E, d->name)),
					  &n->shape, 1);
		} else if (n->op == OP_PARAM) {
			ParamDecl *d = g->params.items[n->decl];
			const char *m = member_name(E, d->name);
			E->val[i] = whole(E, "const ",
					  arena_printf(E->a, "p->%s", m),
					  &n->shape, 0);
			E->adj[i] = whole(E, "", arena_printf(E->a, "g->%s", m),
					  &n->shape, 0);
		}
	}
	/* identity vertices: a group per chain top's group */
	GroupSet idgroups = {0};
	for (int i = 0; i < g->pcv.len; i++) {
		PcVertex *v = g->pcv.items[i];
		if (v->root)
			continue;
		Node *top = v->top->root;
		const char *base = arena_printf(E->a, "%s_%s", gof[top->id]->name,
						v->is_output ? "out" : "id");
		Group *grp = find_group(E, &idgroups, base, &top->shape,
					top->batched);
		grp->outcopy = v->is_output;
		E->idmem[v->id] = (void *)grp;
		E->idx[v->id] = grp->count++;
	}
	for (int i = 0; i < g->pcv.len; i++) {
		PcVertex *v = g->pcv.items[i];
		if (v->root)
			continue;
		Group *grp = (Group *)E->idmem[v->id];
		const char *idx = grp->count > 1
			? arena_printf(E->a, "[%d]", E->idx[v->id]) : "";
		E->idmem[v->id] = arena_printf(E->a, "%s%s", grp->name, idx);
	}
	if (!decl_groups(E, vdecl, &groups.v, NULL, "\t\t"))
		sb_puts(vdecl, "\t\tchar none_;\n");
	/* convolutions: im2col scratch */
	for (int i = 0; i < nn; i++) {
		Node *n = g->nodes.items[i];
		if (n->op != OP_CONV2D || !n->live)
			continue;
		const Node *x = n->in[0], *K = n->in[1];
		int64_t ck = x->shape.dim[0] * K->shape.dim[2] * K->shape.dim[3];
		int64_t p = n->shape.dim[1] * n->shape.dim[2];
		const char *m = c_member(E, E->mem[i]);
		sb_printf(vdecl, "\t\t%s %s_col[%s * %lld]; /* im2col */\n",
			  E->real, m, n->batched ? arena_printf(E->a, "%s_BATCH",
								E->PU)
						 : "1",
			  (long long)(ck * p));
		E->state_reals += (n->batched ? E->o->batch : 1) * ck * p;
		if (n->needs_grad) {
			sb_printf(vdecl, "\t\t%s %s_dcol[%lld];\n", E->real, m,
				  (long long)(ck * p));
			E->state_reals += ck * p;
		}
	}
	E->reals_v = E->state_reals;
	if (!g->losses.len)
		return;
	if (!decl_groups(E, ddecl, &groups.v, need_d, "\t\t"))
		sb_puts(ddecl, "\t\tchar none_;\n");
	E->reals_d = E->state_reals - E->reals_v;
	static const struct {
		const char *name, *what;
		int x;
	} parts[] = {
		{"x", "value nodes x_i of the PC vertices", 1},
		{"dev", "deviations x_i - mu_i(0) (value nodes as mu(0) + dev)", 1},
		{"fb", "error feedback: sum over children c of J_c^T eps_c", 1},
		{"mu", "predictions mu of every operation, from the value nodes", 0},
		{"e", "errors eps_i = x_i - mu_i at vertex roots, and their "
		      "VJP through each vertex's operations", 0},
	};
	for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
		StrBuf sb = {0};
		sb_puts(&sb, "");
		int n = decl_groups(E, &sb, &groups.v,
				    parts[k].x ? need_x : need_pc, "\t\t\t");
		/* identities: value node, deviation, feedback and error */
		if (strcmp(parts[k].name, "mu") != 0) {
			PtrVec only = {0};
			for (int j = 0; j < idgroups.v.len; j++) {
				Group *x = idgroups.v.items[j];
				if (!x->outcopy || strcmp(parts[k].name, "e") == 0)
					vec_push(E->a, &only, x);
			}
			n += decl_groups(E, &sb, &only, NULL, "\t\t\t");
		}
		if (!n)
			sb_puts(&sb, "\t\t\tchar none_;\n");
		sb_printf(pcdecl, "\t\tstruct { /* %s */\n%s\t\t} %s;\n",
			  parts[k].what, sb.data, parts[k].name);
		sb_free(&sb);
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

/* ---------------------------------------------------------- chunking */

/*
 * Long straight-line bodies (an unrolled RNN of 1000 steps) are split into
 * static functions of at most CHUNK_LINES lines, called in order, so that
 * no C function is so long that compilers slow down on it.  Splits happen
 * only between vertices (chunk_point).
 */
enum { CHUNK_LINES = 400 };

typedef struct Chunker {
	const char *name;   /* chunk functions are name_1, name_2, ... */
	const char *params; /* their parameter list */
	const char *args;   /* the call's arguments */
	const char *voids;  /* "(void)p; ..." so no parameter goes unused */
	StrBuf *fns;        /* where finished chunk functions go */
	StrBuf calls;       /* the calls, for the parent function's body */
	StrBuf cur;
	size_t scanned, lines; /* newlines in cur[0, scanned) */
	int n;
} Chunker;

static void
chunk_flush(Emit *E, Chunker *c)
{
	if (!c->cur.len)
		return;
	c->n++;
	sb_printf(c->fns, "\nstatic void\n%s_%d(%s)\n{\n%s%s}\n", c->name, c->n,
		  c->params, c->voids, c->cur.data);
	sb_printf(&c->calls, "\t%s_%d(%s);\n", c->name, c->n, c->args);
	c->cur.len = 0;
	c->cur.data[0] = 0;
	c->scanned = c->lines = 0;
	(void)E;
}

static void
chunk_begin(Emit *E, Chunker *c, StrBuf *fns, const char *name,
	    const char *params, const char *args, const char *voids)
{
	memset(c, 0, sizeof *c);
	c->name = name;
	c->params = params;
	c->args = args;
	c->voids = voids;
	c->fns = fns;
	sb_puts(&c->calls, "");
	sb_puts(&c->cur, "");
	E->chunk = c;
	E->out = &c->cur;
}

/* A place between vertices where the body may be split. */
static void
chunk_point(Emit *E)
{
	Chunker *c = E->chunk;
	if (!c)
		return;
	for (; c->scanned < c->cur.len; c->scanned++)
		c->lines += c->cur.data[c->scanned] == '\n';
	if (c->lines >= CHUNK_LINES)
		chunk_flush(E, c);
}

/* Finish: the chunk functions are in fns; returns the calls. */
static const char *
chunk_end(Emit *E, Chunker *c, StrBuf *out)
{
	chunk_flush(E, c);
	E->chunk = NULL;
	E->out = out;
	const char *calls = arena_strdup(E->a, c->calls.data);
	sb_free(&c->calls);
	sb_free(&c->cur);
	return calls;
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
		kern(E, "\n/* sum over samples of 1/2 sum_i (o - y)^2; y's samples are "
			"ys apart */\nstatic %s\nk_mse(int batch, int n, int ys, "
			"const %s *restrict o, const %s *restrict y)\n{\n"
			"\t%s loss = %s;\n"
			"\tfor (int b = 0; b < batch; b++) {\n"
			"\t\t%s s = %s;\n"
			"\t\tfor (int i = 0; i < n; i++) {\n"
			"\t\t\t%s e = o[b * n + i] - y[b * ys + i];\n"
			"\t\t\ts += e * e;\n\t\t}\n"
			"\t\tloss += %s * s;\n\t}\n\treturn loss;\n}\n",
		     R, R, R, R, zero, R, zero, R, lit(E, 0.5));
	} else if (strcmp(name, "k_mse_seed") == 0) {
		kern(E, "\n/* do (+)= scale * (o - y): the output delta of mse */\n"
			"static void\nk_mse_seed(int batch, int n, int ys, int acc, "
			"%s scale, %s *restrict d, const %s *restrict o, const %s "
			"*restrict y)\n{\n"
			"\tfor (int b = 0; b < batch; b++)\n"
			"\t\tfor (int i = 0; i < n; i++) {\n"
			"\t\t\t%s v = scale * (o[b * n + i] - y[b * ys + i]);\n"
			"\t\t\td[b * n + i] = acc ? d[b * n + i] + v : v;\n"
			"\t\t}\n}\n",
		     R, R, R, R, R);
	} else if (strcmp(name, "k_xent") == 0) {
		kern(E, "\n/* sum over samples and rows of -sum_i y log softmax(o); "
			"y's samples are ys apart */\n"
			"static %s\nk_xent(int batch, int rows, int n, int ys, const "
			"%s *restrict o, const %s *restrict y)\n{\n"
			"\t%s loss = %s;\n"
			"\tfor (int b = 0; b < batch; b++)\n"
			"\t\tfor (int r = 0; r < rows; r++) {\n"
			"\t\t\tconst %s *orow = o + (b * rows + r) * n;\n"
			"\t\t\tconst %s *yrow = y + b * ys + r * n;\n"
			"\t\t\t%s m = orow[0];\n"
			"\t\t\tfor (int i = 1; i < n; i++)\n"
			"\t\t\t\tm = orow[i] > m ? orow[i] : m;\n"
			"\t\t\t%s sum = %s;\n"
			"\t\t\tfor (int i = 0; i < n; i++)\n"
			"\t\t\t\tsum += %s(orow[i] - m);\n"
			"\t\t\t%s lse = m + %s(sum);\n"
			"\t\t\tfor (int i = 0; i < n; i++)\n"
			"\t\t\t\tloss -= yrow[i] * (orow[i] - lse);\n"
			"\t\t}\n\treturn loss;\n}\n",
		     R, R, R, R, zero, R, R, R, R, zero, fn(E, "exp"), R,
		     fn(E, "log"));
	} else if (strcmp(name, "k_xent_seed") == 0) {
		kern(E, "\n/* do (+)= scale * (softmax(o) * sum(y) - y): the output "
			"delta of cross_entropy (softmax(o) - y for one-hot y) */\n"
			"static void\nk_xent_seed(int batch, int rows, int n, int ys, "
			"int acc, %s scale, %s *restrict d, const %s *restrict o, "
			"const %s *restrict y)\n{\n"
			"\tfor (int b = 0; b < batch; b++)\n"
			"\t\tfor (int r = 0; r < rows; r++) {\n"
			"\t\t\tconst %s *orow = o + (b * rows + r) * n;\n"
			"\t\t\tconst %s *yrow = y + b * ys + r * n;\n"
			"\t\t\t%s *drow = d + (b * rows + r) * n;\n"
			"\t\t\t%s m = orow[0];\n"
			"\t\t\tfor (int i = 1; i < n; i++)\n"
			"\t\t\t\tm = orow[i] > m ? orow[i] : m;\n"
			"\t\t\t%s sum = %s, ysum = %s;\n"
			"\t\t\tfor (int i = 0; i < n; i++) {\n"
			"\t\t\t\tsum += %s(orow[i] - m);\n"
			"\t\t\t\tysum += yrow[i];\n\t\t\t}\n"
			"\t\t\tfor (int i = 0; i < n; i++) {\n"
			"\t\t\t\t%s v = scale * (%s(orow[i] - m) / sum * ysum - "
			"yrow[i]);\n"
			"\t\t\t\tdrow[i] = acc ? drow[i] + v : v;\n"
			"\t\t\t}\n\t\t}\n}\n",
		     R, R, R, R, R, R, R, R, R, zero, zero, fn(E, "exp"), R,
		     fn(E, "exp"));
	} else if (strcmp(name, "k_layernorm") == 0) {
		kern(E, "\n/* y = (x - mean) / sqrt(var + 1e-5) over rows of n */\n"
			"static void\nk_layernorm(int rows, int n, %s *restrict y, "
			"const %s *restrict x)\n{\n"
			"\tfor (int r = 0; r < rows; r++) {\n"
			"\t\tconst %s *xr = x + r * n;\n\t\t%s *yr = y + r * n;\n"
			"\t\t%s m = %s, v = %s;\n"
			"\t\tfor (int i = 0; i < n; i++)\n\t\t\tm += xr[i];\n"
			"\t\tm /= n;\n"
			"\t\tfor (int i = 0; i < n; i++)\n"
			"\t\t\tv += (xr[i] - m) * (xr[i] - m);\n"
			"\t\t%s inv = %s / %s(v / n + %s);\n"
			"\t\tfor (int i = 0; i < n; i++)\n"
			"\t\t\tyr[i] = (xr[i] - m) * inv;\n\t}\n}\n",
		     R, R, R, R, R, zero, zero, R, lit(E, 1), fn(E, "sqrt"),
		     lit(E, 1e-5));
	} else if (strcmp(name, "k_layernorm_vjp") == 0) {
		kern(E, "\n/* dx (+)= (dy - mean(dy) - y mean(dy y)) / sqrt(var + "
			"1e-5), rows */\nstatic void\nk_layernorm_vjp(int rows, int "
			"n, int acc, %s *restrict dx, const %s *restrict dy, const %s "
			"*restrict x, const %s *restrict y)\n{\n"
			"\tfor (int r = 0; r < rows; r++) {\n"
			"\t\tconst %s *xr = x + r * n, *yr = y + r * n, *gr = dy + r "
			"* n;\n"
			"\t\t%s m = %s, v = %s, mg = %s, mgy = %s;\n"
			"\t\tfor (int i = 0; i < n; i++)\n\t\t\tm += xr[i];\n"
			"\t\tm /= n;\n"
			"\t\tfor (int i = 0; i < n; i++) {\n"
			"\t\t\tv += (xr[i] - m) * (xr[i] - m);\n"
			"\t\t\tmg += gr[i];\n\t\t\tmgy += gr[i] * yr[i];\n\t\t}\n"
			"\t\tmg /= n;\n\t\tmgy /= n;\n"
			"\t\t%s inv = %s / %s(v / n + %s);\n"
			"\t\tfor (int i = 0; i < n; i++) {\n"
			"\t\t\t%s g = (gr[i] - mg - yr[i] * mgy) * inv;\n"
			"\t\t\tdx[r * n + i] = acc ? dx[r * n + i] + g : g;\n"
			"\t\t}\n\t}\n}\n",
		     R, R, R, R, R, R, zero, zero, zero, zero, R, lit(E, 1),
		     fn(E, "sqrt"), lit(E, 1e-5), R);
	} else if (strcmp(name, "k_pool") == 0) {
		kern(E, "\n/* y[c][i][j] = max (or mean) of x[c] over the k x k "
			"window at (i s, j s) */\nstatic void\nk_pool(int max, int "
			"planes, int h, int w, int k, int st, int oh, int ow, %s "
			"*restrict y, const %s *restrict x)\n{\n"
			"\tfor (int c = 0; c < planes; c++)\n"
			"\t\tfor (int i = 0; i < oh; i++)\n"
			"\t\t\tfor (int j = 0; j < ow; j++) {\n"
			"\t\t\t\tconst %s *xp = x + (c * h + i * st) * w + j * st;\n"
			"\t\t\t\t%s v = max ? xp[0] : %s;\n"
			"\t\t\t\tfor (int a = 0; a < k; a++)\n"
			"\t\t\t\t\tfor (int b = 0; b < k; b++) {\n"
			"\t\t\t\t\t\t%s e = xp[a * w + b];\n"
			"\t\t\t\t\t\tv = max ? (e > v ? e : v) : v + e;\n"
			"\t\t\t\t\t}\n"
			"\t\t\t\ty[(c * oh + i) * ow + j] = max ? v : v / (k * k);\n"
			"\t\t\t}\n}\n",
		     R, R, R, R, zero, R);
	} else if (strcmp(name, "k_pool_vjp") == 0) {
		kern(E, "\n/* dx (+)= the pooling's VJP: max sends dy to the first "
			"maximal element\n * of the window, mean spreads dy / k^2 "
			"*/\nstatic void\nk_pool_vjp(int max, int planes, int h, int "
			"w, int k, int st, int oh, int ow, int acc, %s *restrict dx, "
			"const %s *restrict dy, const %s *restrict x)\n{\n"
			"\tif (!acc)\n\t\tfor (int i = 0; i < planes * h * w; i++)\n"
			"\t\t\tdx[i] = %s;\n"
			"\tfor (int c = 0; c < planes; c++)\n"
			"\t\tfor (int i = 0; i < oh; i++)\n"
			"\t\t\tfor (int j = 0; j < ow; j++) {\n"
			"\t\t\t\tint at = (c * h + i * st) * w + j * st;\n"
			"\t\t\t\t%s g = dy[(c * oh + i) * ow + j];\n"
			"\t\t\t\tif (max) {\n"
			"\t\t\t\t\tint best = at;\n"
			"\t\t\t\t\tfor (int a = 0; a < k; a++)\n"
			"\t\t\t\t\t\tfor (int b = 0; b < k; b++)\n"
			"\t\t\t\t\t\t\tif (x[at + a * w + b] > x[best])\n"
			"\t\t\t\t\t\t\t\tbest = at + a * w + b;\n"
			"\t\t\t\t\tdx[best] += g;\n"
			"\t\t\t\t} else {\n"
			"\t\t\t\t\tfor (int a = 0; a < k; a++)\n"
			"\t\t\t\t\t\tfor (int b = 0; b < k; b++)\n"
			"\t\t\t\t\t\t\tdx[at + a * w + b] += g / (k * k);\n"
			"\t\t\t\t}\n\t\t\t}\n}\n",
		     R, R, R, zero, R);
	} else if (strcmp(name, "k_canon") == 0) {
		kern(E, "\n/* g = g + 0: the same value, with +0 for every zero */\n"
			"static void\nk_canon(int n, %s *restrict g)\n{\n"
			"\tfor (int i = 0; i < n; i++)\n\t\tg[i] = g[i] + %s;\n}\n",
		     R, zero);
	} else if (strcmp(name, "k_zil_grad") == 0) {
		kern(E, "\n/* g = -g + 0: a gradient from the Hebbian sum of "
			"eps-weighted inputs\n * (the update direction), with +0 "
			"for every zero */\nstatic void\nk_zil_grad(int n, %s "
			"*restrict g)\n{\n\tfor (int i = 0; i < n; i++)\n"
			"\t\tg[i] = -g[i] + %s;\n}\n",
		     R, zero);
	} else if (strcmp(name, "k_zil_sgd") == 0) {
		kern(E, "\n/* w -= lr * (-g + 0): k_zil_grad and k_sgd in one pass "
			"over g */\nstatic void\nk_zil_sgd(int n, %s lr, %s "
			"*restrict w, const %s *restrict g)\n{\n"
			"\tfor (int i = 0; i < n; i++)\n"
			"\t\tw[i] -= lr * (-g[i] + %s);\n}\n",
		     R, R, R, zero);
	} else if (strcmp(name, "k_sgd") == 0) {
		kern(E, "\n/* w -= lr * g */\nstatic void\nk_sgd(int n, %s lr, %s "
			"*restrict w, const %s *restrict g)\n{\n"
			"\tfor (int i = 0; i < n; i++)\n\t\tw[i] -= lr * g[i];\n}\n",
		     R, R, R);
	} else if (strcmp(name, "k_scale") == 0) {
		kern(E, "\n/* g *= c */\nstatic void\nk_scale(int n, %s c, %s "
			"*restrict g)\n{\n\tfor (int i = 0; i < n; i++)\n"
			"\t\tg[i] *= c;\n}\n",
		     R, R);
	} else if (strcmp(name, "k_error") == 0) {
		kern(E, "\n/* the error node: eps = x - mu */\nstatic void\n"
			"k_error(int n, %s *restrict eps, const %s *restrict x, "
			"const %s *restrict mu)\n{\n"
			"\tfor (int i = 0; i < n; i++)\n\t\teps[i] = x[i] - mu[i];\n}\n",
		     R, R, R);
	} else if (strcmp(name, "k_infer") == 0) {
		kern(E, "\n/* The PC inference rule, a gradient step on the energy "
			"F:\n *   x += gamma * (-eps + sum_c J_c^T eps_c)\n * kept as "
			"x = mu(0) + dev (see ALGORITHMS.md, floating point) */\n"
			"static void\nk_infer(int n, %s gamma, %s *restrict dev, %s "
			"*restrict x, const %s *restrict mu0, const %s *restrict "
			"eps, const %s *restrict fb)\n{\n"
			"\tfor (int i = 0; i < n; i++) {\n"
			"\t\tdev[i] += gamma * (fb[i] - eps[i]);\n"
			"\t\tx[i] = mu0[i] + dev[i];\n\t}\n}\n",
		     R, R, R, R, R, R);
	} else if (strcmp(name, "k_half_sq") == 0) {
		kern(E, "\n/* 1/2 sum eps^2 */\nstatic %s\nk_half_sq(int n, const %s "
			"*restrict eps)\n{\n\t%s s = %s;\n"
			"\tfor (int i = 0; i < n; i++)\n\t\ts += eps[i] * eps[i];\n"
			"\treturn %s * s;\n}\n",
		     R, R, R, zero, lit(E, 0.5));
	} else if (strcmp(name, "k_near_mse") == 0) {
		kern(E, "\n/* y = o + c * (y - o): the target moved close to the "
			"output */\nstatic void\nk_near_mse(int batch, int n, int ys, "
			"%s c, %s *restrict y, const %s *restrict o)\n{\n"
			"\tfor (int b = 0; b < batch; b++)\n"
			"\t\tfor (int i = 0; i < n; i++)\n"
			"\t\t\ty[b * ys + i] = o[b * n + i] + c * (y[b * ys + i] - "
			"o[b * n + i]);\n}\n",
		     R, R, R);
	} else if (strcmp(name, "k_near_xent") == 0) {
		kern(E, "\n/* y = p + c * (y - p), p = softmax(o) rows: the target "
			"moved close to\n * the output distribution */\nstatic void\n"
			"k_near_xent(int batch, int rows, int n, int ys, %s c, %s "
			"*restrict y, const %s *restrict o)\n{\n"
			"\tfor (int b = 0; b < batch; b++)\n"
			"\t\tfor (int r = 0; r < rows; r++) {\n"
			"\t\t\tconst %s *orow = o + (b * rows + r) * n;\n"
			"\t\t\t%s *yrow = y + b * ys + r * n;\n"
			"\t\t\t%s m = orow[0], sum = %s;\n"
			"\t\t\tfor (int i = 1; i < n; i++)\n"
			"\t\t\t\tm = orow[i] > m ? orow[i] : m;\n"
			"\t\t\tfor (int i = 0; i < n; i++)\n"
			"\t\t\t\tsum += %s(orow[i] - m);\n"
			"\t\t\tfor (int i = 0; i < n; i++) {\n"
			"\t\t\t\t%s pr = %s(orow[i] - m) / sum;\n"
			"\t\t\t\tyrow[i] = pr + c * (yrow[i] - pr);\n\t\t\t}\n"
			"\t\t}\n}\n",
		     R, R, R, R, R, R, zero, fn(E, "exp"), R, fn(E, "exp"));
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
	int show = strchr(v->label, '@') || strchr(v->label, '[') ||
		   strchr(v->label, '.');
	line(E, "/* %s:%d: %s%s%s */", E->o->source_name, v->line,
	     sb.data ? sb.data : "", show ? "  => " : "", show ? v->label : "");
	sb_free(&sb);
}

static int64_t
last_dim(const Node *n)
{
	return n->shape.rank ? n->shape.dim[n->shape.rank - 1] : 1;
}

/* ------------------------------------------------------ PC buffers */

static const char *
pc_part(Emit *E, const char *part, const PcVertex *v)
{
	if (v->root)
		return arena_printf(E->a, "s->pc.%s.%s", part, E->mem[v->root->id]);
	return arena_printf(E->a, "s->pc.%s.%s", part, E->idmem[v->id]);
}

/* the forward value mu_i(0) of a PC vertex */
static const char *
pc_mu0(Emit *E, const PcVertex *v)
{
	while (!v->root)
		v = v->parent;
	return E->val[v->root->id];
}

/* the current prediction of an output vertex */
static const char *
pc_out_mu(Emit *E, const PcVertex *v)
{
	if (v->root)
		return arena_printf(E->a, "s->pc.mu.%s", E->mem[v->root->id]);
	return pc_part(E, "x", v->parent);
}

static const Node *
pc_node_of(const PcVertex *v)
{
	while (!v->root)
		v = v->parent;
	return v->root;
}

/* ------------------------------------------------------- convolution */

/*
 * conv2d as im2col + GEMM, per sample: col = im2col(x) is [C kh kw] x
 * [OH OW]; y = K col (K viewed as O x C kh kw).  VJPs: dK += dy col^T
 * summed over the batch; dx = col2im(K^T dy).  k < 0: the forward pass;
 * k = 0: the VJP into x; k = 1: into K.  The col buffer is the node's own
 * scratch in the state (s->v.NAME_col), filled by the last forward pass or
 * PC prediction of the node, which is the one the VJP belongs to.
 */
static void
emit_conv(Emit *E, const Node *n, const char *y, const char *const *xs,
	  const char *dy, const char *dx, int k, int acc)
{
	const Node *x = n->in[0], *K = n->in[1];
	int64_t C = x->shape.dim[0], H = x->shape.dim[1], W = x->shape.dim[2];
	int64_t O = K->shape.dim[0], kh = K->shape.dim[2], kw = K->shape.dim[3];
	int64_t OH = n->shape.dim[1], OW = n->shape.dim[2];
	int64_t CK = C * kh * kw, P = OH * OW;
	const char *sfx = E->is_float ? "f" : "d";
	const char *gemm = E->is_float ? "pcg_sgemm" : "pcg_dgemm";
	const char *col = arena_printf(E->a, "s->v.%s_col",
				       c_member(E, E->mem[n->id]));
	const char *xb = x->batched ? arena_printf(E->a, " + b * %lld",
						   (long long)numel(x)) : "";
	const char *yb = n->batched ? arena_printf(E->a, " + b * %lld",
						   (long long)numel(n)) : "";
	const char *cb = n->batched ? arena_printf(E->a, " + b * %lld",
						   (long long)(CK * P)) : "";
	const char *geo = arena_printf(E->a, "%lld, %lld, %lld, %lld, %lld, %d, "
				       "%d, %lld, %lld",
				       (long long)C, (long long)H, (long long)W,
				       (long long)kh, (long long)kw,
				       n->attr.conv.stride, n->attr.conv.pad,
				       (long long)OH, (long long)OW);
	line(E, "for (int b = 0; b < %s; b++) {", batch(E, n));
	if (k < 0) {
		line(E, "\tpcg_im2col_%s(%s, %s%s, %s%s);", sfx, geo, xs[0], xb,
		     col, cb);
		line(E, "\t%s(0, 0, %lld, %lld, %lld, %s, %s, %lld, %s%s, %lld, "
			"%s, %s%s, %lld);",
		     gemm, (long long)O, (long long)P, (long long)CK, lit(E, 1),
		     xs[1], (long long)CK, col, cb, (long long)P, lit(E, 0), y, yb,
		     (long long)P);
	} else if (k == 1) {
		line(E, "\t%s(0, 1, %lld, %lld, %lld, %s, %s%s, %lld, %s%s, %lld, "
			"%s, %s, %lld);",
		     gemm, (long long)O, (long long)CK, (long long)P, lit(E, 1), dy,
		     yb, (long long)P, col, cb, (long long)P,
		     acc ? lit(E, 1)
			 : arena_printf(E->a, "b ? %s : %s", lit(E, 1), lit(E, 0)),
		     dx, (long long)CK);
	} else {
		const char *dcol = arena_printf(E->a, "s->v.%s_dcol",
						c_member(E, E->mem[n->id]));
		line(E, "\t%s(1, 0, %lld, %lld, %lld, %s, %s, %lld, %s%s, %lld, "
			"%s, %s, %lld);",
		     gemm, (long long)CK, (long long)P, (long long)O, lit(E, 1),
		     xs[1], (long long)CK, dy, yb, (long long)P, lit(E, 0), dcol,
		     (long long)P);
		line(E, "\tpcg_col2im_%s(%s, %d, %s, %s%s);", sfx, geo, acc,
		     dcol, dx, xb);
	}
	line(E, "}");
}

/* ------------------------------------------------------------ forward */

/* Forward code of one node: y = op(x...).  The one table of forward
 * rules: the forward pass and PC's predictions both use it. */
static void
emit_fwd_node(Emit *E, const Node *n, const char *y, const char *const *xs)
{
	const Node *x = n->nin ? n->in[0] : NULL;
	const char *xv = x ? xs[0] : NULL;
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
		line(E, "%s(%s, %s, %s);", binary_kernel(E, n), y, xv, xs[1]);
		return;
	case OP_MATMUL: {
		int64_t ar, ac, br, bc;
		mat_dims(n->in[0], 0, &ar, &ac);
		mat_dims(n->in[1], 1, &br, &bc);
		emit_gemm(E, y, n->batched, xv, n->in[0]->batched, ar, ac, 0,
			  xs[1], n->in[1]->batched, br, bc, 0, 0);
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
	case OP_LAYERNORM:
		emit_fixed_kernels(E, "k_layernorm");
		line(E, "k_layernorm(%s * %lld, %lld, %s, %s);", batch(E, n),
		     (long long)(numel(n) / last_dim(n)), (long long)last_dim(n),
		     y, xv);
		return;
	case OP_MAXPOOL2D:
	case OP_AVGPOOL2D:
		emit_fixed_kernels(E, "k_pool");
		line(E, "k_pool(%d, %s * %lld, %lld, %lld, %d, %d, %lld, %lld, %s, "
			"%s);",
		     n->op == OP_MAXPOOL2D, batch(E, n), (long long)x->shape.dim[0],
		     (long long)x->shape.dim[1], (long long)x->shape.dim[2],
		     n->attr.conv.k, n->attr.conv.stride,
		     (long long)n->shape.dim[1], (long long)n->shape.dim[2], y, xv);
		return;
	case OP_CONV2D:
		emit_conv(E, n, y, xs, NULL, NULL, -1, 0);
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
			     (long long)off, (long long)numel(in), y, xs[k]);
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

/* ---------------------------------------------------------- VJP */

/* dx (+)= (d y / d x_k)^T dy for input k of node n: the one table of
 * vector-Jacobian products.  BP, the Z-IL schedule, the PC dynamics and
 * standard PC all use it, with their own buffers: y and xs are the values
 * the Jacobian is evaluated at. */
static void
emit_vjp(Emit *E, const Node *n, int k, const char *y,
	 const char *const *xs, const char *dy, const char *dx, int acc)
{
	const Node *x = n->in[k];
	const char *xv = xs[k];
	switch (n->op) {
	case OP_ADD:
	case OP_SUB:
	case OP_MUL:
	case OP_DIV:
		line(E, "%s(%d, %s, %s, %s, %s, %s);",
		     binary_vjp_kernel(E, n, k), acc, dx, dy, xs[0], xs[1], y);
		return;
	case OP_MATMUL: {
		const Node *a = n->in[0], *b = n->in[1];
		int64_t ar, ac, br, bc;
		mat_dims(a, 0, &ar, &ac);
		mat_dims(b, 1, &br, &bc);
		int64_t cr = ar, cc = bc;
		if (k == 0) /* da = dc b^T */
			emit_gemm(E, dx, a->batched, dy, n->batched, cr, cc, 0,
				  xs[1], b->batched, br, bc, 1, acc);
		else /* db = a^T dc */
			emit_gemm(E, dx, b->batched, xs[0], a->batched, ar, ac, 1,
				  dy, n->batched, cr, cc, 0, acc);
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
	case OP_LAYERNORM:
		emit_fixed_kernels(E, "k_layernorm_vjp");
		line(E, "k_layernorm_vjp(%s * %lld, %lld, %d, %s, %s, %s, %s);",
		     batch(E, n), (long long)(numel(n) / last_dim(n)),
		     (long long)last_dim(n), acc, dx, dy, xv, y);
		return;
	case OP_MAXPOOL2D:
	case OP_AVGPOOL2D:
		emit_fixed_kernels(E, "k_pool_vjp");
		line(E, "k_pool_vjp(%d, %s * %lld, %lld, %lld, %d, %d, %lld, %lld, "
			"%d, %s, %s, %s);",
		     n->op == OP_MAXPOOL2D, batch(E, n), (long long)x->shape.dim[0],
		     (long long)x->shape.dim[1], (long long)x->shape.dim[2],
		     n->attr.conv.k, n->attr.conv.stride,
		     (long long)n->shape.dim[1], (long long)n->shape.dim[2], acc,
		     dx, dy, xv);
		return;
	case OP_CONV2D:
		emit_conv(E, n, y, xs, dy, dx, k, acc);
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

/* The input values of node n in the forward pass. */
static const char **
fwd_inputs(Emit *E, const Node *n)
{
	const char **xs = arena_alloc(E->a, sizeof(char *) * (size_t)(n->nin + 1));
	for (int k = 0; k < n->nin; k++)
		xs[k] = E->val[n->in[k]->id];
	return xs;
}

/* The input values of node n in PC: a PC parent's value node, an inner
 * node's current prediction, or data (leaves and clamped vertices). */
static const char **
pc_inputs(Emit *E, const Node *n)
{
	const char **xs = arena_alloc(E->a, sizeof(char *) * (size_t)(n->nin + 1));
	for (int k = 0; k < n->nin; k++) {
		const Node *m = n->in[k];
		if (n->src && n->src[k])
			xs[k] = pc_part(E, "x", n->src[k]);
		else if (m->pcv && m->pcv == n->pcv)
			xs[k] = arena_printf(E->a, "s->pc.mu.%s", E->mem[m->id]);
		else
			xs[k] = E->val[m->id];
	}
	return xs;
}

/* ------------------------------------------------------------ losses */

/* The target of a loss: its buffer at the row the loss reads, and the
 * distance between samples. */
static const char *
loss_target(Emit *E, const Loss *l, const char **ys)
{
	*ys = arena_printf(E->a, "%lld",
			   (long long)shape_numel(&l->target->shape));
	const char *t = E->val[l->target->node->id];
	if (l->target_off)
		t = arena_printf(E->a, "%s + %lld", t, (long long)l->target_off);
	return t;
}

static void
emit_loss_value(Emit *E, const Loss *l, const char *o, const char *sum)
{
	const Node *out = l->out;
	const char *ys, *t = loss_target(E, l, &ys);
	if (l->kind == LOSS_MSE) {
		emit_fixed_kernels(E, "k_mse");
		line(E, "%s += k_mse(%s_BATCH, %lld, %s, %s, %s);", sum, E->PU,
		     (long long)numel(out), ys, o, t);
	} else {
		emit_fixed_kernels(E, "k_xent");
		line(E, "%s += k_xent(%s_BATCH, %lld, %lld, %s, %s, %s);", sum,
		     E->PU, (long long)(numel(out) / last_dim(out)),
		     (long long)last_dim(out), ys, o, t);
	}
}

static void
emit_losses_fwd(Emit *E)
{
	for (int i = 0; i < E->g->losses.len; i++) {
		const Loss *l = E->g->losses.items[i];
		line(E, "/* %s:%d: loss %s */", E->o->source_name, l->line,
		     l->kind == LOSS_MSE ? "mse" : "cross_entropy");
		emit_loss_value(E, l, E->val[l->out->id], "loss");
	}
}

/* d (+)= scale * d loss / d o: the output delta (BP: scale 1/B) or the
 * output error (PC: eps = -d loss / d mu, scale -1 or -1/B). */
static void
emit_seed(Emit *E, const Loss *l, const char *scale, const char *d,
	  const char *o, int acc)
{
	const Node *out = l->out;
	const char *ys, *t = loss_target(E, l, &ys);
	if (l->kind == LOSS_MSE) {
		emit_fixed_kernels(E, "k_mse_seed");
		line(E, "k_mse_seed(%s_BATCH, %lld, %s, %d, %s, %s, %s, %s);",
		     E->PU, (long long)numel(out), ys, acc, scale, d, o, t);
	} else {
		emit_fixed_kernels(E, "k_xent_seed");
		line(E, "k_xent_seed(%s_BATCH, %lld, %lld, %s, %d, %s, %s, %s, "
			"%s);",
		     E->PU, (long long)(numel(out) / last_dim(out)),
		     (long long)last_dim(out), ys, acc, scale, d, o, t);
	}
}

/* ------------------------------------------ BP and the Z-IL schedule */

typedef enum Mode {
	MODE_BP,        /* deltas; dL/dtheta into g */
	MODE_ZIL_GRAD,  /* errors eps = -delta; level schedule; into g */
	MODE_ZIL_TRAIN  /* level schedule; parameters change in place */
} Mode;

static int
cmp_sweep(const void *pa, const void *pb)
{
	const PcVertex *a = *(PcVertex *const *)pa, *b = *(PcVertex *const *)pb;
	if (a->level != b->level)
		return a->level < b->level ? -1 : 1;
	if (!a->root || !b->root) /* identities first */
		return a->root ? 1 : b->root ? -1 : (a->id > b->id) - (a->id < b->id);
	return a->root->id > b->root->id ? -1 : a->root->id < b->root->id;
}

/* PC vertices in the order of the reverse sweep: by level from the
 * outputs; in a level, identities first, then reverse topological order.
 * BP and Z-IL use this one order, so they add in the same order. */
static PcVertex **
sweep_order(Emit *E, int *nout)
{
	const Graph *g = E->g;
	PcVertex **v = arena_alloc(E->a, sizeof(PcVertex *) *
						 (size_t)(g->pcv.len + 1));
	for (int i = 0; i < g->pcv.len; i++)
		v[i] = g->pcv.items[i];
	qsort(v, (size_t)g->pcv.len, sizeof *v, cmp_sweep);
	*nout = g->pcv.len;
	return v;
}

/* uses of each parameter (by declaration) by nodes that propagate a
 * gradient, counted once: a lookup per use would make long unrolled
 * models quadratic */
static int *
param_uses(Arena *a, const Graph *g)
{
	int *uses = arena_alloc(a, sizeof(int) * (size_t)(g->params.len + 1));
	for (int i = 0; i < g->nodes.len; i++) {
		const Node *n = g->nodes.items[i];
		if (!n->needs_grad || !n->live)
			continue;
		for (int k = 0; k < n->nin; k++)
			if (n->in[k]->op == OP_PARAM)
				uses[n->in[k]->decl]++;
	}
	return uses;
}

static const char *
param_ptr(Emit *E, const char *st, const ParamDecl *p)
{
	return whole(E, "", arena_printf(E->a, "%s->%s", st,
					 member_name(E, p->name)),
		     &p->shape, 0);
}

static void
emit_sweep(Emit *E, Mode mode)
{
	const Graph *g = E->g;
	const char *R = E->real;
	int bp = mode == MODE_BP;
	memset(E->has_adj, 0, (size_t)g->nodes.len + 1);
	const char *scale = arena_printf(E->a, "%s / %s_BATCH",
					 lit(E, bp ? 1.0 : -1.0), E->PU);
	if (bp)
		line(E, "/* output deltas: d loss / d output, mean over the "
			"batch */");
	else
		line(E, "/* step 0: the output errors eps_o = -d loss / d mu_o "
			"(mean over the batch).\n\t * C1: the value nodes start at "
			"the forward pass, so every other error is 0. */");
	for (int i = 0; i < g->losses.len; i++) {
		const Loss *l = g->losses.items[i];
		const Node *o = l->out;
		emit_seed(E, l, scale, E->adj[o->id], E->val[o->id],
			  E->has_adj[o->id]);
		E->has_adj[o->id] = 1;
	}
	int nv;
	PcVertex **order = sweep_order(E, &nv);
	int last_level = -1;
	for (int i = 0; i < nv; i++) {
		PcVertex *v = order[i];
		chunk_point(E);
		if (v->level != last_level) {
			sb_putc(E->out, '\n');
			if (bp)
				line(E, "/* ---- level %d ---- */", v->level);
			else if (v->level == 0)
				line(E, "/* ---- step 0: level 0 (outputs) ---- */");
			else
				line(E, "/* ---- step %d: level %d. Inference with "
					"gamma = 1 (C3) from x = mu (C1) makes\n\t * "
					"eps_i(%d) = sum_c J_c^T eps_c(%d) for every "
					"vertex i of this level ---- */",
				     v->level, v->level, v->level, v->level - 1);
			last_level = v->level;
		}
		if (!v->root) {
			line(E, "/* %s: identity vertex, its error passes up "
				"unchanged (it shares its parent's buffer) */",
			     v->label);
			continue;
		}
		if (v->stmt)
			emit_comment(E, v->stmt);
		if (mode != MODE_BP && v->nodes.len)
			line(E, "/* C2: the parameters of %s learn at step %d, "
				"from eps(%d) */",
			     v->label, v->level, v->level);
		for (int k = v->nodes.len - 1; k >= 0; k--) {
			Node *n = v->nodes.items[k];
			if (!n->needs_grad || !n->live)
				continue;
			if (!E->has_adj[n->id])
				die("adjoint of %%%d used before it was set",
				    n->id);
			const char **xs = fwd_inputs(E, n);
			/* inputs that are not parameters first: their VJP may
			 * need a parameter's value before it changes */
			for (int pass = 0; pass < 2; pass++) {
				for (int j = 0; j < n->nin; j++) {
					Node *x = n->in[j];
					if (!x->needs_grad ||
					    (x->op == OP_PARAM) != pass)
						continue;
					if (mode == MODE_ZIL_TRAIN &&
					    x->op == OP_PARAM &&
					    E->puses[x->decl] == 1) {
						ParamDecl *pd = g->params.items[x->decl];
						int64_t cnt = shape_numel(&pd->shape);
						emit_vjp(E, n, j, E->val[n->id], xs,
							 E->adj[n->id],
							 "s->zil.scratch", 0);
						emit_fixed_kernels(E, "k_zil_sgd");
						line(E, "k_zil_sgd(%lld, lr, %s, "
							"s->zil.scratch); /* in place, now */",
						     (long long)cnt, param_ptr(E, "p", pd));
						continue;
					}
					const char *dx = E->adj[x->id];
					if (mode == MODE_ZIL_TRAIN &&
					    x->op == OP_PARAM) {
						ParamDecl *pd = g->params.items[x->decl];
						dx = whole(E, "", arena_printf(E->a,
								"s->zil.%s",
								member_name(E, pd->name)),
							   &pd->shape, 0);
					}
					emit_vjp(E, n, j, E->val[n->id], xs,
						 E->adj[n->id], dx, E->has_adj[x->id]);
					E->has_adj[x->id] = 1;
				}
			}
		}
	}
	/* parameters */
	int first = 1;
	for (int i = 0; i < g->params.len; i++) {
		ParamDecl *p = g->params.items[i];
		int64_t cnt = shape_numel(&p->shape);
		chunk_point(E);
		if (mode == MODE_ZIL_TRAIN) {
			if (!E->has_adj[p->node->id])
				continue;
			if (first)
				line(E, "\n\t/* tied parameters (used at several "
					"steps) learn now, at the end */");
			first = 0;
			const char *acc = whole(E, "", arena_printf(E->a,
					"s->zil.%s", member_name(E, p->name)),
				&p->shape, 0);
			emit_fixed_kernels(E, "k_zil_sgd");
			line(E, "k_zil_sgd(%lld, lr, %s, %s);", (long long)cnt,
			     param_ptr(E, "p", p), acc);
			continue;
		}
		if (first)
			line(E, bp ? "\n\t/* every gradient with +0 for zeros */"
				   : "\n\t/* the gradient: dL/dtheta = -(sum of "
				     "eps-weighted inputs), +0 for zeros */");
		first = 0;
		emit_fixed_kernels(E, "k_fill");
		emit_fixed_kernels(E, bp ? "k_canon" : "k_zil_grad");
		if (!E->has_adj[p->node->id])
			line(E, "k_fill(%lld, %s, %s); /* no loss depends on %s */",
			     (long long)cnt, param_ptr(E, "g", p), lit(E, 0),
			     p->name);
		else
			line(E, "%s(%lld, %s);", bp ? "k_canon" : "k_zil_grad",
			     (long long)cnt, param_ptr(E, "g", p));
	}
	(void)R;
}

/* ------------------------------------------------- PC network dynamics */

/* C1: every value node starts at its forward prediction, x = mu(0). */
static void
emit_pc_start(Emit *E)
{
	const Graph *g = E->g;
	for (int i = 0; i < g->pcv.len; i++) {
		PcVertex *v = g->pcv.items[i];
		if (v->is_output)
			continue;
		chunk_point(E);
		emit_fixed_kernels(E, "k_fill");
		emit_fixed_kernels(E, "k_copy");
		const Node *r = pc_node_of(v);
		line(E, "k_copy(%s, %s, %s); /* %s */", count(E, r),
		     pc_part(E, "x", v), pc_mu0(E, v), v->label);
		line(E, "k_fill(%s, %s, %s);", count(E, r), pc_part(E, "dev", v),
		     lit(E, 0));
	}
}

/* mu of every vertex from the current value nodes, and the errors. */
static void
emit_pc_predict(Emit *E)
{
	const Graph *g = E->g;
	const Vertex *cur = NULL;
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.items[i];
		if (!n->pcv)
			continue;
		if (n->vertex && n->vertex != cur) {
			cur = n->vertex;
			chunk_point(E);
			emit_comment(E, cur);
		}
		emit_fwd_node(E, n, arena_printf(E->a, "s->pc.mu.%s", E->mem[n->id]),
			      pc_inputs(E, n));
	}
	line(E, "/* the error nodes: eps = x - mu */");
	for (int i = 0; i < g->pcv.len; i++) {
		PcVertex *v = g->pcv.items[i];
		if (v->is_output)
			continue;
		chunk_point(E);
		emit_fixed_kernels(E, "k_error");
		const Node *r = pc_node_of(v);
		const char *mu = v->root
			? arena_printf(E->a, "s->pc.mu.%s", E->mem[v->root->id])
			: pc_part(E, "x", v->parent);
		line(E, "k_error(%s, %s, %s, %s);", count(E, r),
		     pc_part(E, "e", v), pc_part(E, "x", v), mu);
	}
	line(E, "/* output errors: eps_o = -d loss / d mu_o */");
	char *seeded = arena_alloc(E->a, (size_t)g->pcv.len + 1);
	for (int i = 0; i < g->losses.len; i++) {
		const Loss *l = g->losses.items[i];
		PcVertex *o = l->pc_out;
		emit_seed(E, l, "-s->pc.beta", pc_part(E, "e", o),
			  pc_out_mu(E, o), seeded[o->id]);
		seeded[o->id] = 1;
	}
}

/* Error feedback fb_i = sum_c J_c^T eps_c for every vertex, and the
 * Hebbian parameter updates of the vertices that learn at this call:
 * those at level `learn`, or all of them if learn == -1. */
static void
emit_pc_backprop(Emit *E)
{
	const Graph *g = E->g;
	int nv;
	PcVertex **order = sweep_order(E, &nv);
	/* has_adj: per node for inner errors; fbset: per PC vertex */
	memset(E->has_adj, 0, (size_t)g->nodes.len + 1);
	char *fbset = arena_alloc(E->a, (size_t)g->pcv.len + 1);
	for (int i = 0; i < nv; i++) {
		PcVertex *v = order[i];
		chunk_point(E);
		if (!v->root) {
			PcVertex *p = v->parent;
			emit_fixed_kernels(E, "k_copy_vjp");
			line(E, "k_copy_vjp(%s, %d, %s, %s); /* %s: identity */",
			     count(E, pc_node_of(v)), fbset[p->id],
			     pc_part(E, "fb", p), pc_part(E, "e", v), v->label);
			fbset[p->id] = 1;
			continue;
		}
		if (v->stmt)
			emit_comment(E, v->stmt);
		E->has_adj[v->root->id] = 1; /* its error node */
		for (int k = v->nodes.len - 1; k >= 0; k--) {
			Node *n = v->nodes.items[k];
			if (!n->needs_grad)
				continue;
			const char **xs = pc_inputs(E, n);
			const char *y = arena_printf(E->a, "s->pc.mu.%s",
						     E->mem[n->id]);
			const char *dy = arena_printf(E->a, "s->pc.e.%s",
						      E->mem[n->id]);
			for (int j = 0; j < n->nin; j++) {
				Node *x = n->in[j];
				if (!x->needs_grad)
					continue;
				if (x->op == OP_PARAM) {
					line(E, "if (learn == %d || learn == -1)",
					     v->level);
					const char *saved = E->ind;
					E->ind = "\t\t";
					emit_vjp(E, n, j, y, xs, dy, E->adj[x->id], 1);
					E->ind = saved;
					continue;
				}
				if (n->src && n->src[j]) {
					PcVertex *p = n->src[j];
					emit_vjp(E, n, j, y, xs, dy,
						 pc_part(E, "fb", p), fbset[p->id]);
					fbset[p->id] = 1;
				} else {
					emit_vjp(E, n, j, y, xs, dy,
						 arena_printf(E->a, "s->pc.e.%s",
							      E->mem[x->id]),
						 E->has_adj[x->id]);
					E->has_adj[x->id] = 1;
				}
			}
		}
	}
	for (int i = 0; i < g->pcv.len; i++) {
		PcVertex *v = g->pcv.items[i];
		if (!v->is_output && !fbset[v->id])
			die("PC vertex %s gets no error feedback", v->label);
	}
}

/* The inference step for every value node. */
static void
emit_pc_infer(Emit *E)
{
	const Graph *g = E->g;
	for (int i = 0; i < g->pcv.len; i++) {
		PcVertex *v = g->pcv.items[i];
		if (v->is_output)
			continue;
		chunk_point(E);
		emit_fixed_kernels(E, "k_infer");
		line(E, "k_infer(%s, gamma, %s, %s, %s, %s, %s); /* %s */",
		     count(E, pc_node_of(v)), pc_part(E, "dev", v),
		     pc_part(E, "x", v), pc_mu0(E, v), pc_part(E, "e", v),
		     pc_part(E, "fb", v), v->label);
	}
}

static void
emit_pc_energy(Emit *E)
{
	const Graph *g = E->g;
	for (int i = 0; i < g->pcv.len; i++) {
		PcVertex *v = g->pcv.items[i];
		if (v->is_output)
			continue;
		emit_fixed_kernels(E, "k_half_sq");
		line(E, "f += k_half_sq(%s, %s);", count(E, pc_node_of(v)),
		     pc_part(E, "e", v));
	}
	line(E, "%s fl = %s;", E->real, lit(E, 0));
	for (int i = 0; i < g->losses.len; i++) {
		const Loss *l = g->losses.items[i];
		emit_loss_value(E, l, pc_out_mu(E, l->pc_out), "fl");
	}
	line(E, "f += s->pc.beta * fl;");
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

/* The prototypes of the API (header) */
static void
emit_prototypes(Emit *E, StrBuf *h)
{
	const Graph *g = E->g;
	const char *P = E->P, *R = E->real;
	sb_printf(h, "void %s_init(%s_params *p, uint64_t seed);\n", P, P);
	sb_printf(h, "%s %s_forward(const %s_params *p, %s_state *s);\n", R, P,
		  P, P);
	if (g->losses.len) {
		static const char *const grads[] = {"grad_bp", "grad_zil",
						    "grad_zil_dynamics"};
		for (int i = 0; i < 3; i++)
			sb_printf(h, "%s %s_%s(const %s_params *p, %s_state *s, "
				     "%s_params *g);\n",
				  R, P, grads[i], P, P, P);
		sb_printf(h, "%s %s_grad_pc(const %s_params *p, %s_state *s, "
			     "%s_params *g, int steps, %s gamma);\n",
			  R, P, P, P, P, R);
		sb_printf(h, "%s %s_grad_pc_weighted(const %s_params *p, %s_state "
			     "*s, %s_params *g, int steps, %s gamma, %s beta);\n",
			  R, P, P, P, P, R, R);
		sb_printf(h, "%s %s_train_bp(%s_params *p, %s_state *s, %s lr);\n",
			  R, P, P, P, R);
		sb_printf(h, "%s %s_train_zil(%s_params *p, %s_state *s, %s lr);\n",
			  R, P, P, P, R);
		sb_printf(h, "%s %s_train_pc(%s_params *p, %s_state *s, %s lr, "
			     "int steps, %s gamma);\n",
			  R, P, P, P, R, R);
		sb_printf(h, "%s %s_energy(const %s_params *p, const %s_state *s);\n",
			  R, P, P, P);
		sb_printf(h, "/* additions: PC inference one step at a time, and "
			     "targets moved near the outputs */\n");
		sb_printf(h, "%s %s_pc_init(const %s_params *p, %s_state *s);\n", R,
			  P, P, P);
		sb_printf(h, "%s %s_pc_step(const %s_params *p, %s_state *s, %s "
			     "gamma);\n",
			  R, P, P, P, R);
		sb_printf(h, "void %s_targets_near(%s_state *s, %s c);\n", P, P, R);
	}
	sb_printf(h, "void %s_sgd(%s_params *p, const %s_params *g, %s lr);\n",
		  P, P, P, R);
	sb_printf(h, "int %s_save(const %s_params *p, const char *path);\n", P,
		  P);
	sb_printf(h, "int %s_load(%s_params *p, const char *path);\n", P, P);
}

static void
emit_header(Emit *E, StrBuf *h, const char *vdecl, const char *ddecl,
	    const char *pcdecl, const char *zildecl)
{
	const Graph *g = E->g;
	const char *P = E->P, *PU = E->PU, *R = E->real;
	sb_printf(h, "/* Generated by pcc %s from %s. DO NOT EDIT. */\n",
		  PCC_VERSION, E->o->source_name);
	sb_printf(h, "#ifndef PCC_%s_H\n#define PCC_%s_H\n\n", PU, PU);
	sb_printf(h, "#include <stdint.h>\n\n#include \"pcg_runtime.h\"\n\n");
	sb_printf(h, "#define %s_BATCH %d /* samples per call */\n", PU,
		  E->o->batch);
	sb_printf(h, "#define %s_DEPTH %d /* levels of the levelled graph: Z-IL "
		     "needs %d steps */\n",
		  PU, g->depth, g->depth);
	sb_printf(h, "#define %s_IDENTITIES %d /* identity vertices the levelling "
		     "inserted */\n",
		  PU, g->nidentity);
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
	sb_printf(h, "\tstruct { /* forward values of the vertices and their "
		     "operations */\n%s\t} v;\n",
		  vdecl);
	if (g->losses.len) {
		sb_printf(h, "\tstruct { /* BP deltas d L / d value; the Z-IL "
			     "schedule keeps its errors\n\t\t * eps = -delta "
			     "here too */\n%s\t} d;\n",
			  ddecl);
		sb_printf(h, "\tstruct { /* the PC network */\n%s\t\t%s beta; /* "
			     "the losses' weight in the energy */\n\t\tint valid; "
			     "/* the errors match the value nodes */\n\t} pc;\n",
			  pcdecl, R);
		sb_printf(h, "\tstruct { /* Z-IL training: a scratch for one "
			     "parameter's update, and sums for\n\t\t * parameters "
			     "used at several steps (tied) */\n%s\t} zil;\n",
			  zildecl);
		sb_printf(h, "\t%s_params grad; /* gradient for %s_train_bp and "
			     "%s_train_pc */\n",
			  P, P, P);
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
	emit_prototypes(E, h);
	sb_printf(h, "\n#endif\n");
}

static void
emit_data_info(Emit *E, StrBuf *body)
{
	const Graph *g = E->g;
	const char *P = E->P, *PU = E->PU;
	sb_printf(body, "\nconst pcg_param_info %s_param_info[%s_NUM_PARAMS > "
			"0 ? %s_NUM_PARAMS : 1] = {\n",
		  P, PU, PU);
	for (int i = 0; i < g->params.len; i++) {
		ParamDecl *pd = g->params.items[i];
		sb_printf(body, "\t{\"%s\", %d, {", pd->name, pd->shape.rank);
		for (int k = 0; k < pd->shape.rank; k++)
			sb_printf(body, "%s%lld", k ? ", " : "",
				  (long long)pd->shape.dim[k]);
		sb_printf(body, "}, %lld, %lld, %s, %.17g, %.17g},\n",
			  (long long)pd->offset,
			  (long long)shape_numel(&pd->shape),
			  init_name[pd->init], pd->a, pd->b);
	}
	if (!g->params.len)
		sb_printf(body, "\t{\"\", 0, {0}, 0, 0, 0, 0, 0},\n");
	sb_printf(body, "};\n");
	for (int w = 0; w < 2; w++) {
		const PtrVec *list = w ? &g->targets : &g->inputs;
		const char *what = w ? "target" : "input";
		const char *WHAT = w ? "TARGETS" : "INPUTS";
		sb_printf(body, "\nconst pcg_param_info %s_%s_info[%s_NUM_%s > 0 ? "
				"%s_NUM_%s : 1] = {\n",
			  P, what, PU, WHAT, PU, WHAT);
		int64_t off = 0;
		for (int i = 0; i < list->len; i++) {
			DataDecl *d = list->items[i];
			sb_printf(body, "\t{\"%s\", %d, {", d->name, d->shape.rank);
			for (int k = 0; k < d->shape.rank; k++)
				sb_printf(body, "%s%lld", k ? ", " : "",
					  (long long)d->shape.dim[k]);
			sb_printf(body, "}, %lld, %lld, 0, 0, 0},\n", (long long)off,
				  (long long)shape_numel(&d->shape));
			off += shape_numel(&d->shape);
		}
		if (!list->len)
			sb_printf(body, "\t{\"\", 0, {0}, 0, 0, 0, 0, 0},\n");
		sb_printf(body, "};\n");
	}
}

/* start a static or API function: comment, signature, body follows */
static void
fn_begin(Emit *E, const char *comment, const char *ret, const char *name,
	 const char *params)
{
	sb_printf(E->out, "\n%s%s\n%s\n%s(%s)\n{\n", comment ? comment : "",
		  comment ? "\n" : "", ret, name, params);
}

int64_t
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
	E.mem = arena_alloc(a, sizeof(char *) * (size_t)(nn + 1));
	E.has_adj = arena_alloc(a, (size_t)nn + 1);
	E.idmem = arena_alloc(a, sizeof(char *) * (size_t)(g->pcv.len + 1));
	E.idx = arena_alloc(a, sizeof(int) * (size_t)(g->pcv.len + 1));
	const char *P = E.P, *PU = E.PU, *R = E.real;
	Emit *e = &E;

	StrBuf vdecl = {0}, ddecl = {0}, pcdecl = {0}, zildecl = {0};
	sb_puts(&vdecl, "");
	sb_puts(&ddecl, "");
	sb_puts(&pcdecl, "");
	sb_puts(&zildecl, "");
	E.puses = param_uses(a, g);
	layout(&E, &vdecl, &ddecl, &pcdecl);
	int64_t reals_layout = E.state_reals;
	int64_t scratch = 1;
	for (int i = 0; i < g->params.len; i++) {
		ParamDecl *pd = g->params.items[i];
		int uses = E.puses[i];
		if (uses == 1 && shape_numel(&pd->shape) > scratch)
			scratch = shape_numel(&pd->shape);
		if (uses > 1) {
			sb_printf(&zildecl, "\t\t%s %s%s;\n", R,
				  member_name(&E, pd->name),
				  decl_dims(&E, &pd->shape, 0));
			E.state_reals += shape_numel(&pd->shape);
		}
	}
	sb_printf(&zildecl, "\t\t%s scratch[%lld];\n", R, (long long)scratch);
	/* data, outputs, scratch and the gradient */
	for (int i = 0; i < g->inputs.len; i++)
		E.state_reals += shape_numel(&((DataDecl *)g->inputs.items[i])->shape) *
				 o->batch;
	for (int i = 0; i < g->targets.len; i++)
		E.state_reals += shape_numel(&((DataDecl *)g->targets.items[i])->shape) *
				 o->batch;
	for (int i = 0; i < g->outputs.len; i++)
		E.state_reals += shape_numel(&((OutputDecl *)g->outputs.items[i])->node->shape) *
				 o->batch;
	if (g->losses.len)
		E.state_reals += scratch + g->param_count + 2; /* + beta, valid */
	if (o->sizes) {
		EmitSizes *z = o->sizes;
		int64_t tied = E.state_reals - reals_layout;
		z->values = E.reals_v;
		z->deltas = E.reals_d;
		z->pc = reals_layout - E.reals_v - E.reals_d;
		z->grad = 0;
		z->zil = 0;
		if (g->losses.len) {
			z->pc += 2;
			z->grad = g->param_count;
		}
		/* what is left after the layout: tied sums, data, scratch, grad */
		z->data = 0;
		for (int i = 0; i < g->inputs.len; i++)
			z->data += shape_numel(&((DataDecl *)g->inputs.items[i])->shape);
		for (int i = 0; i < g->targets.len; i++)
			z->data += shape_numel(&((DataDecl *)g->targets.items[i])->shape);
		for (int i = 0; i < g->outputs.len; i++)
			z->data += shape_numel(&((OutputDecl *)g->outputs.items[i])->node->shape);
		z->data *= o->batch;
		z->zil = tied - z->data - z->grad - (g->losses.len ? 2 : 0);
	}
	emit_header(&E, h, vdecl.data, ddecl.data, pcdecl.data, zildecl.data);
	sb_free(&vdecl);
	sb_free(&ddecl);
	sb_free(&pcdecl);
	sb_free(&zildecl);

	StrBuf body = {0};
	sb_puts(&body, "");
	sb_puts(&E.kern, "");
	E.out = &body;
	E.ind = "\t";
	const char *cps = arena_printf(a, "const %s_params *p, %s_state *s", P, P);
	const char *cpsg = arena_printf(a, "const %s_params *p, %s_state *s, "
					   "%s_params *g", P, P, P);

	/* forward: the vertices in chunks, then the losses */
	Chunker ck;
	chunk_begin(e, &ck, &body, "forward_part", cps, "p, s",
		    "\t(void)p;\n\t(void)s;\n");
	const Vertex *cur = NULL;
	for (int i = 0; i < nn; i++) {
		Node *n = g->nodes.items[i];
		if (!n->live || n->op == OP_INPUT || n->op == OP_TARGET ||
		    n->op == OP_PARAM)
			continue;
		if (n->vertex && n->vertex != cur) {
			cur = n->vertex;
			chunk_point(e);
			emit_comment(e, cur);
		}
		emit_fwd_node(e, n, E.val[n->id], fwd_inputs(e, n));
	}
	const char *calls = chunk_end(e, &ck, &body);
	fn_begin(e, "/* The forward pass: every vertex in topological order; "
		    "returns the\n * batch-mean loss. */",
		 arena_printf(a, "static %s", R), "forward", cps);
	line(e, "%s loss = %s;", R, lit(e, 0));
	line(e, "(void)p;");
	sb_puts(&body, calls);
	for (int i = 0; i < g->outputs.len; i++) {
		OutputDecl *od = g->outputs.items[i];
		if (od->node->batched)
			continue;
		emit_fixed_kernels(e, "k_place");
		line(e, "k_place(%s_BATCH, %lld, 0, 0, %lld, %s, %s); /* output "
			"%s, the same for every sample */",
		     PU, (long long)numel(od->node), (long long)numel(od->node),
		     whole(e, "", arena_printf(a, "s->out.%s",
					       member_name(e, od->name)),
			   &od->node->shape, 1),
		     E.val[od->node->id], od->name);
	}
	emit_losses_fwd(e);
	if (g->losses.len)
		line(e, "s->pc.valid = 0;");
	line(e, "return loss / %s_BATCH;", PU);
	sb_puts(&body, "}\n");

	if (g->losses.len) {
		const char *pvoid = "\t(void)p;\n\t(void)s;\n\t(void)g;\n";
		/* BP */
		chunk_begin(e, &ck, &body, "backward_part", cpsg, "p, s, g", pvoid);
		emit_sweep(e, MODE_BP);
		calls = chunk_end(e, &ck, &body);
		fn_begin(e, "/* The reverse sweep of backpropagation.  Needs a "
			    "forward pass in s;\n * writes dL/dtheta (L the "
			    "batch-mean loss) into g, every parameter\n * "
			    "overwritten.  Each delta is dL / d(value). */",
			 "static void", "backward", cpsg);
		sb_puts(&body, calls);
		sb_puts(&body, "}\n");

		/* Z-IL schedule */
		chunk_begin(e, &ck, &body, "zil_schedule_part", cpsg, "p, s, g",
			    pvoid);
		emit_sweep(e, MODE_ZIL_GRAD);
		calls = chunk_end(e, &ck, &body);
		fn_begin(e, "/* Z-IL, the level schedule (ALGORITHMS.md section 4): "
			    "errors eps = x - mu of\n * the PC network under C1-C3, "
			    "computed level by level: at step t only the\n * "
			    "vertices of level t carry a nonzero error that "
			    "matters.  Each vertex's\n * parameters take their "
			    "Hebbian update (d mu / d theta)^T eps at its own\n * "
			    "step (C2).  Writes the gradient those updates "
			    "follow, dL/dtheta, into g:\n * bit for bit BP's.  "
			    "Needs a forward pass in s. */",
			 "static void", "zil_schedule", cpsg);
		sb_puts(&body, calls);
		sb_puts(&body, "}\n");

		const char *tps = arena_printf(a, "%s_params *p, %s_state *s, %s lr",
					       P, P, R);
		chunk_begin(e, &ck, &body, "zil_train_part", tps, "p, s, lr",
			    "\t(void)p;\n\t(void)s;\n\t(void)lr;\n");
		emit_sweep(e, MODE_ZIL_TRAIN);
		calls = chunk_end(e, &ck, &body);
		fn_begin(e, "/* One Z-IL training step after a forward pass: the "
			    "level schedule with\n * every parameter changed in "
			    "place at its vertex's step, tied ones at the\n * end; "
			    "no gradient buffer.  Gives P_train_bp's parameters. */",
			 "static void", "zil_train", tps);
		sb_puts(&body, calls);
		sb_puts(&body, "}\n");

		/* the PC network */
		const char *sps = arena_printf(a, "%s_state *s", P);
		chunk_begin(e, &ck, &body, "pc_start_part", sps, "s",
			    "\t(void)s;\n");
		emit_pc_start(e);
		calls = chunk_end(e, &ck, &body);
		fn_begin(e, "/* PC, C1: the value nodes start at the forward "
			    "predictions, x = mu(0). */",
			 "static void", "pc_start", sps);
		line(e, "(void)s;");
		sb_puts(&body, calls);
		sb_puts(&body, "}\n");

		chunk_begin(e, &ck, &body, "pc_predict_part", cps, "p, s",
			    "\t(void)p;\n\t(void)s;\n");
		emit_pc_predict(e);
		calls = chunk_end(e, &ck, &body);
		fn_begin(e, "/* PC: the prediction mu_i = g_i(x of the parents) of "
			    "every vertex from\n * the current value nodes, and the "
			    "error nodes eps_i = x_i - mu_i; an\n * output's error "
			    "is -d loss / d mu. */",
			 "static void", "pc_predict", cps);
		sb_puts(&body, calls);
		sb_puts(&body, "}\n");

		const char *bps = arena_printf(a, "%s, int learn", cpsg);
		chunk_begin(e, &ck, &body, "pc_backprop_part", bps,
			    "p, s, g, learn",
			    "\t(void)p;\n\t(void)s;\n\t(void)g;\n\t(void)learn;\n");
		emit_pc_backprop(e);
		calls = chunk_end(e, &ck, &body);
		fn_begin(e, "/* PC: the error feedback fb_i = sum over children c "
			    "of J_c^T eps_c (the\n * Jacobian at the current value "
			    "nodes) for every vertex, and the local,\n * Hebbian "
			    "parameter update (d mu_i / d theta)^T eps_i, summed "
			    "into g, of\n * the vertices of level `learn` (all if "
			    "learn == -1, none if -2). */",
			 "static void", "pc_backprop", bps);
		sb_puts(&body, calls);
		sb_puts(&body, "}\n");

		const char *ips = arena_printf(a, "%s_state *s, %s gamma", P, R);
		chunk_begin(e, &ck, &body, "pc_infer_part", ips, "s, gamma",
			    "\t(void)s;\n\t(void)gamma;\n");
		emit_pc_infer(e);
		calls = chunk_end(e, &ck, &body);
		fn_begin(e, "/* PC inference, every value node at once (Jacobi "
			    "style):\n * x_i += gamma * (-eps_i + fb_i). */",
			 "static void", "pc_infer", ips);
		line(e, "(void)s;");
		line(e, "(void)gamma;");
		sb_puts(&body, calls);
		sb_puts(&body, "}\n");

		/* the run: Z-IL dynamics and standard PC */
		fn_begin(e, "/* Run the PC network: forward pass, x = mu (C1), "
			    "`steps` inference steps\n * at rate gamma.  zil: the "
			    "parameters of level-t vertices learn at step t\n * "
			    "(C2); else all learn from the errors where inference "
			    "ended.  Writes\n * dL/dtheta, the negated mean Hebbian "
			    "update, into g. */",
			 arena_printf(a, "static %s", R), "pc_run",
			 arena_printf(a, "%s, int steps, %s gamma, %s beta, int zil",
				      cpsg, R, R));
		line(e, "%s loss = forward(p, s);", R);
		line(e, "s->pc.beta = beta;");
		line(e, "pc_start(s);");
		emit_fixed_kernels(e, "k_fill");
		line(e, "k_fill(%s_NUM_REALS, (%s *)g, %s);", PU, R, lit(e, 0));
		line(e, "for (int t = 0; t < steps; t++) {");
		line(e, "\tpc_predict(p, s);");
		if (o->zil_control == 2)
			line(e, "\tpc_backprop(p, s, g, zil ? (t == steps - 1 ? -1 "
				": -2) : -2); /* negative control: every "
				"parameter learns at the last step */");
		else
			line(e, "\tpc_backprop(p, s, g, zil ? t : -2);");
		line(e, "\tpc_infer(s, gamma);");
		line(e, "}");
		line(e, "pc_predict(p, s); /* errors at the final value nodes */");
		line(e, "if (!zil)");
		line(e, "\tpc_backprop(p, s, g, -1);");
		emit_fixed_kernels(e, "k_scale");
		line(e, "k_scale(%s_NUM_REALS, %s / (beta * %s_BATCH), (%s *)g);",
		     PU, lit(e, -1), PU, R);
		line(e, "s->pc.valid = 1;");
		line(e, "return loss;");
		sb_puts(&body, "}\n");
	}

	/* API */
	sb_printf(&body, "\n/* ------------------------------------------------"
			 "------------- API */\n");
	emit_data_info(e, &body);
	const char *initfn = E.is_float ? "pcg_init_param_f" : "pcg_init_param_d";
	fn_begin(e, NULL, "void", arena_printf(a, "%s_init", P),
		 arena_printf(a, "%s_params *p, uint64_t seed", P));
	for (int i = 0; i < g->params.len; i++) {
		ParamDecl *pd = g->params.items[i];
		line(e, "%s(%s, &%s_param_info[%d], seed, %d);", initfn,
		     param_ptr(e, "p", pd), P, i, i);
	}
	if (!g->params.len)
		line(e, "(void)p;\n\t(void)seed;");
	sb_puts(&body, "}\n");

	fn_begin(e, NULL, R, arena_printf(a, "%s_forward", P), cps);
	line(e, "return forward(p, s);");
	sb_puts(&body, "}\n");

	if (g->losses.len) {
		fn_begin(e, "/* dL/dtheta by backpropagation, L the batch-mean "
			    "loss: into g. */",
			 R, arena_printf(a, "%s_grad_bp", P), cpsg);
		line(e, "%s loss = forward(p, s);", R);
		line(e, "backward(p, s, g);");
		line(e, "return loss;");
		sb_puts(&body, "}\n");

		fn_begin(e, "/* dL/dtheta by Z-IL, the level schedule: into g. */",
			 R, arena_printf(a, "%s_grad_zil", P), cpsg);
		line(e, "%s loss = forward(p, s);", R);
		line(e, "zil_schedule(p, s, g);");
		line(e, "return loss;");
		sb_puts(&body, "}\n");

		const char *dyn_gamma = o->zil_control == 1
			? arena_printf(a, "%s /* negative control */", lit(e, 0.9))
			: lit(e, 1);
		fn_begin(e, "/* dL/dtheta by Z-IL, running the whole PC network "
			    "for DEPTH steps with\n * gamma = 1 (C3), each "
			    "vertex's parameters learning at its level's step "
			    "(C2). */",
			 R, arena_printf(a, "%s_grad_zil_dynamics", P), cpsg);
		line(e, "return pc_run(p, s, g, %s_DEPTH, %s, %s, 1);", PU,
		     dyn_gamma, lit(e, 1));
		sb_puts(&body, "}\n");

		fn_begin(e, "/* Standard PC (inference learning): `steps` "
			    "inference steps at rate gamma\n * from x = mu, then "
			    "the gradient from the final errors, into g. */",
			 R, arena_printf(a, "%s_grad_pc", P),
			 arena_printf(a, "%s, int steps, %s gamma", cpsg, R));
		line(e, "return pc_run(p, s, g, steps, gamma, %s, 0);", lit(e, 1));
		sb_puts(&body, "}\n");

		fn_begin(e, "/* Standard PC with the losses weighted by beta in the "
			    "energy (the output\n * precision): F = sum 1/2 |eps|^2 "
			    "+ beta * loss, so every output error is\n * scaled by "
			    "beta.  Returns the gradient divided by beta, an "
			    "estimate of\n * dL/dtheta that approaches BP's as beta "
			    "goes to 0. */",
			 R, arena_printf(a, "%s_grad_pc_weighted", P),
			 arena_printf(a, "%s, int steps, %s gamma, %s beta", cpsg, R,
				      R));
		line(e, "return pc_run(p, s, g, steps, gamma, beta, 0);");
		sb_puts(&body, "}\n");

		fn_begin(e, "/* One SGD step by backpropagation (gradient kept in "
			    "s->grad). */",
			 R, arena_printf(a, "%s_train_bp", P),
			 arena_printf(a, "%s_params *p, %s_state *s, %s lr", P, P, R));
		line(e, "%s loss = forward(p, s);", R);
		line(e, "backward(p, s, &s->grad);");
		line(e, "%s_sgd(p, &s->grad, lr);", P);
		line(e, "return loss;");
		sb_puts(&body, "}\n");

		fn_begin(e, "/* One Z-IL training step, parameters updated in place "
			    "at their level's step. */",
			 R, arena_printf(a, "%s_train_zil", P),
			 arena_printf(a, "%s_params *p, %s_state *s, %s lr", P, P, R));
		line(e, "%s loss = forward(p, s);", R);
		line(e, "zil_train(p, s, lr);");
		line(e, "return loss;");
		sb_puts(&body, "}\n");

		fn_begin(e, "/* One standard-PC training step (gradient kept in "
			    "s->grad). */",
			 R, arena_printf(a, "%s_train_pc", P),
			 arena_printf(a, "%s_params *p, %s_state *s, %s lr, int "
					 "steps, %s gamma", P, P, R, R));
		line(e, "%s loss = pc_run(p, s, &s->grad, steps, gamma, %s, 0);", R,
		     lit(e, 1));
		line(e, "%s_sgd(p, &s->grad, lr);", P);
		line(e, "return loss;");
		sb_puts(&body, "}\n");

		fn_begin(e, "/* The PC energy F = sum over vertices of 1/2 |eps|^2 "
			    "+ the losses at the\n * current predictions, mean over "
			    "the batch.  After a forward pass (x = mu)\n * it is "
			    "the loss. */",
			 R, arena_printf(a, "%s_energy", P),
			 arena_printf(a, "const %s_params *p, const %s_state *s", P,
				      P));
		line(e, "%s f = %s;", R, lit(e, 0));
		line(e, "(void)p;");
		line(e, "if (!s->pc.valid) {");
		E.ind = "\t\t";
		for (int i = 0; i < g->losses.len; i++)
			emit_loss_value(e, g->losses.items[i],
					E.val[((Loss *)g->losses.items[i])->out->id],
					"f");
		line(e, "return f / %s_BATCH;", PU);
		E.ind = "\t";
		line(e, "}");
		emit_pc_energy(e);
		line(e, "return f / %s_BATCH;", PU);
		sb_puts(&body, "}\n");

		fn_begin(e, "/* Forward pass and the PC network at x = mu (C1), "
			    "ready for pc_step; returns\n * the energy (the loss). "
			    "*/",
			 R, arena_printf(a, "%s_pc_init", P), cps);
		line(e, "forward(p, s);");
		line(e, "s->pc.beta = %s;", lit(e, 1));
		line(e, "pc_start(s);");
		line(e, "pc_predict(p, s);");
		line(e, "s->pc.valid = 1;");
		line(e, "return %s_energy(p, s);", P);
		sb_puts(&body, "}\n");

		fn_begin(e, "/* One PC inference step at rate gamma after "
			    "pc_init; returns the energy. */",
			 R, arena_printf(a, "%s_pc_step", P),
			 arena_printf(a, "%s, %s gamma", cps, R));
		line(e, "pc_backprop(p, s, &s->grad, -2);");
		line(e, "pc_infer(s, gamma);");
		line(e, "pc_predict(p, s);");
		line(e, "return %s_energy(p, s);", P);
		sb_puts(&body, "}\n");

		fn_begin(e, "/* After a forward pass: move every target to within a "
			    "factor c of the\n * loss's optimum for the current "
			    "outputs (the output itself for mse,\n * its softmax "
			    "for cross_entropy): y = y* + c (y - y*). */",
			 "void", arena_printf(a, "%s_targets_near", P),
			 arena_printf(a, "%s_state *s, %s c", P, R));
		for (int i = 0; i < g->losses.len; i++) {
			const Loss *l = g->losses.items[i];
			const Node *out = l->out;
			const char *ys, *t = loss_target(e, l, &ys);
			if (l->kind == LOSS_MSE) {
				emit_fixed_kernels(e, "k_near_mse");
				line(e, "k_near_mse(%s_BATCH, %lld, %s, c, %s, %s);", PU,
				     (long long)numel(out), ys, t, E.val[out->id]);
			} else {
				emit_fixed_kernels(e, "k_near_xent");
				line(e, "k_near_xent(%s_BATCH, %lld, %lld, %s, c, %s, "
					"%s);",
				     PU, (long long)(numel(out) / last_dim(out)),
				     (long long)last_dim(out), ys, t, E.val[out->id]);
			}
		}
		sb_puts(&body, "}\n");
	}

	fn_begin(e, "/* p -= lr * g */", "void", arena_printf(a, "%s_sgd", P),
		 arena_printf(a, "%s_params *p, const %s_params *g, %s lr", P, P,
			      R));
	for (int i = 0; i < g->params.len; i++) {
		emit_fixed_kernels(e, "k_sgd");
		ParamDecl *pd = g->params.items[i];
		line(e, "k_sgd(%lld, lr, %s, %s);", (long long)shape_numel(&pd->shape),
		     param_ptr(e, "p", pd),
		     whole(e, "const ", arena_printf(a, "g->%s",
						     member_name(e, pd->name)),
			   &pd->shape, 0));
	}
	if (!g->params.len)
		line(e, "(void)p;\n\t(void)g;\n\t(void)lr;");
	sb_puts(&body, "}\n");

	fn_begin(e, NULL, "int", arena_printf(a, "%s_save", P),
		 arena_printf(a, "const %s_params *p, const char *path", P));
	line(e, "return pcg_ckpt_save(path, \"%s\", %s_param_info, %s_NUM_PARAMS, "
		"(int)sizeof(%s), p);",
	     g->name, P, PU, R);
	sb_puts(&body, "}\n");
	fn_begin(e, NULL, "int", arena_printf(a, "%s_load", P),
		 arena_printf(a, "%s_params *p, const char *path", P));
	line(e, "return pcg_ckpt_load(path, \"%s\", %s_param_info, %s_NUM_PARAMS, "
		"(int)sizeof(%s), p);",
	     g->name, P, PU, R);
	sb_puts(&body, "}\n");

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
	sb_printf(c, "\n/* Kernels are called from many places and stay calls: "
		     "inlining them\n * everywhere would make long models slow to "
		     "compile. */\n#if defined(__GNUC__)\n#define PCC_KERNEL static "
		     "__attribute__((noinline))\n#else\n#define PCC_KERNEL "
		     "static\n#endif\n");
	/* every definition in the kernel section is a kernel */
	for (const char *k = E.kern.data; *k;) {
		const char *hit = strstr(k, "\nstatic ");
		if (!hit) {
			sb_puts(c, k);
			break;
		}
		sb_printf(c, "%.*s\nPCC_KERNEL ", (int)(hit - k), k);
		k = hit + strlen("\nstatic ");
	}
	sb_puts(c, body.data);
	sb_free(&body);
	sb_free(&E.kern);
	return E.state_reals;
}
