/*
 * sema.c — semantic analysis: from the AST to the graph.
 *
 * Takes the parsed Program and the -D overrides.  Evaluates consts,
 * unrolls `for` loops, inlines `def` calls, resolves names, checks every
 * shape rule, folds compile-time numbers, and builds the graph of primitive
 * op nodes (Graph), each node tagged with the vertex (named statement) it
 * belongs to.  Gives NULL after reporting errors.
 *
 * Scoping: model-level names are global to the model; names assigned or
 * declared inside a `for` body are local to that iteration; family members
 * `h[i]` are global.  A def body sees its parameters, its own locals and
 * the other defs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pcc.h"

/* Limits that keep pcc's time and memory bounded on any input. */
enum {
	MAX_NODES = 200000,      /* graph nodes (generated code grows with them) */
	MAX_WORK = 1000000,      /* loop iterations plus def calls */
	MAX_CALL_NOTES = 4,      /* "in this call of" notes per error */
	MAX_DEPTH = 2000,        /* expression / def-call nesting */
	MAX_FAMILY = 4000000     /* family index (a member table is dense) */
};
#define MAX_NUMEL 2147483647LL /* elements of one tensor */

typedef enum ValKind { VAL_ERROR, VAL_NUM, VAL_NODE, VAL_SHAPE } ValKind;

typedef struct Value {
	ValKind kind;
	double num;
	int is_int;
	Node *node;
	Shape shape; /* VAL_SHAPE */
	Span span;
} Value;

typedef enum SymKind {
	SYM_CONST,
	SYM_LEAF, /* input, target, param */
	SYM_VERTEX,
	SYM_FAMILY,
	SYM_DEF
} SymKind;

typedef struct Family {
	Node **member;
	Span *where;
	int64_t cap;
	int failed; /* a member's definition had an error (or its loop was
		     * cut short): missing members are not reported again */
} Family;

typedef struct Sym Sym;
struct Sym {
	const char *name;
	SymKind kind;
	Span span;
	double num;
	int is_int;
	Node *node;
	Family *fam;
	const Def *def;
	const char *what; /* "input", "target", "param" for leaves */
	DataDecl *data;   /* for inputs and targets */
	int failed;       /* its definition had an error: uses are silent
			   * errors, so one mistake gives one message */
	int from_define;  /* a const whose value comes from -D */
	Sym *next;
	/* the name index (see lookup) */
	int depth;   /* position in the scope list, 0 at the bottom */
	int indexed; /* on a chain of the index */
	Sym *same;   /* next on its index chain */
};

typedef struct Sema {
	Arena *a;
	Graph *g;
	const Program *prog;
	Define *defines;
	int ndefines;
	Sym *scope;        /* innermost first */
	/* an index of the scope list, so that lookups do not walk it: at[d]
	 * is the symbol at depth d, bucket[] hash chains of the symbols
	 * pushed (popped ones are dropped from them as lookups meet them) */
	PtrVec at;
	Sym **bucket;
	int nbucket, nindexed;
	Sym *def_scope_base; /* lookups stop here inside a def (NULL: none) */
	int in_def;
	/* the vertex under construction */
	Vertex *vertex;
	const char *base;  /* buffer base name for nodes of this vertex */
	int line;
	int depth;
	const Def *active[MAX_DEPTH];
	int nactive;
	int *call_count;   /* per def, parallel to def list */
	int ndefs;
	int loss_count;
	int too_big;
	int64_t work; /* loop iterations and def calls so far */
	/* `for` iteration context, for labels: "a@t=3" */
	const char *iter_suffix;
} Sema;

static Value eval(Sema *S, const Expr *e);

/* ------------------------------------------------------------ helpers */

static Value
val_error(void)
{
	Value v;
	memset(&v, 0, sizeof v);
	v.kind = VAL_ERROR;
	return v;
}

static Value
val_num(double x, int is_int, Span sp)
{
	Value v = val_error();
	v.kind = VAL_NUM;
	v.num = x;
	/* integer-valued numbers are integers, however they were written
	 * (4.0, sqrt(16)): LANGUAGE.md lets them size shapes */
	(void)is_int;
	v.is_int = x == floor(x) && fabs(x) < 9.0e15;
	v.span = sp;
	return v;
}

static Value
val_node(Node *n, Span sp)
{
	Value v = val_error();
	v.kind = VAL_NODE;
	v.node = n;
	v.span = sp;
	return v;
}

int64_t
shape_numel(const Shape *s)
{
	int64_t n = 1;
	for (int i = 0; i < s->rank; i++)
		n *= s->dim[i];
	return n;
}

int
shape_equal(const Shape *a, const Shape *b)
{
	if (a->rank != b->rank)
		return 0;
	for (int i = 0; i < a->rank; i++)
		if (a->dim[i] != b->dim[i])
			return 0;
	return 1;
}

const char *
shape_str(Arena *a, const Shape *s)
{
	StrBuf sb = {0};
	sb_putc(&sb, '[');
	for (int i = 0; i < s->rank; i++)
		sb_printf(&sb, i ? ",%lld" : "%lld", (long long)s->dim[i]);
	sb_putc(&sb, ']');
	char *r = arena_strdup(a, sb.data);
	sb_free(&sb);
	return r;
}

static const char *
S_shape(Sema *S, const Shape *s)
{
	return shape_str(S->a, s);
}

static Shape
shape_scalar(void)
{
	Shape s;
	memset(&s, 0, sizeof s);
	return s;
}

/* A number as diagnostics print it: the shortest text that reads back
 * as the same double ("0.1", not "0.10000000000000001").  The result
 * lives until four more calls. */
static const char *
num_text(double x)
{
	static char buf[4][32];
	static int next;
	char *b = buf[next++ & 3];
	if (x == floor(x) && fabs(x) < 1e15) { /* "10", not "1e+01" */
		snprintf(b, sizeof buf[0], "%.0f", x);
		return b;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(b, sizeof buf[0], "%.*g", prec, x);
		if (strtod(b, NULL) == x || isnan(x))
			break;
	}
	return b;
}

/* Why a whole number is not an integer to pcc, for messages. */
#define REAL_WHY                                                        \
	"a real number (reals come from literals such as 2.0 or 1e3, "  \
	"from '/' with a remainder, and from functions such as sqrt)"

/* Check an element count; report and return 0 when too large.  `what`
 * names the operation whose result it is ("the result of [2] @ [2,3]"),
 * or is NULL for a shape written in the source. */
static int
check_numel(Sema *S, const Shape *s, Span sp, const char *what)
{
	int64_t n = 1;
	for (int i = 0; i < s->rank; i++) {
		if (s->dim[i] <= 0) {
			diag_error(sp, "shape %s has a non-positive dimension",
				   S_shape(S, s));
			return 0;
		}
		if (n > MAX_NUMEL / s->dim[i]) {
			if (what)
				diag_error(sp,
					   "%s would be %s, which has too many "
					   "elements (at most %lld allowed)",
					   what, S_shape(S, s),
					   (long long)MAX_NUMEL);
			else
				diag_error(sp,
					   "shape %s has too many elements (at "
					   "most %lld allowed)",
					   S_shape(S, s), (long long)MAX_NUMEL);
			return 0;
		}
		n *= s->dim[i];
	}
	return 1;
}

static Node *
new_node(Sema *S, OpKind op, const Shape *shape, int nin, Node **in, Span sp)
{
	if (S->g->nodes.len >= MAX_NODES) {
		if (!S->too_big)
			diag_error(sp,
				   "model too large: more than %d operations "
				   "after unrolling loops and inlining defs",
				   MAX_NODES);
		S->too_big = 1;
		return NULL;
	}
	Node *n = graph_node(S->a, S->g, op, shape, nin, in, sp);
	n->line = S->line;
	if (!op_is_leaf(op) && S->vertex) {
		n->vertex = S->vertex;
		vec_push(S->a, &S->vertex->nodes, n);
		n->member = S->base;
	}
	return n;
}

/* ------------------------------------------------------------ symbols */

static Sym *
def_sym(Sema *S, const char *name)
{
	for (const Def *d = S->prog->defs; d; d = d->next)
		if (strcmp(d->name, name) == 0) {
			Sym *s = arena_alloc(S->a, sizeof *s);
			s->name = d->name;
			s->kind = SYM_DEF;
			s->def = d;
			s->span = d->name_span;
			return s;
		}
	return NULL;
}

static uint32_t
name_hash(const char *name)
{
	return (uint32_t)util_hash(name, strlen(name), 0);
}

/* Is s in the current scope list? */
static int
in_scope(const Sema *S, const Sym *s)
{
	int top = S->scope ? S->scope->depth : -1;
	return s->depth <= top && S->at.items[s->depth] == s;
}

static void
index_add(Sema *S, Sym *s)
{
	if (S->nindexed >= S->nbucket) { /* grow, dropping popped symbols */
		int n = S->nbucket ? S->nbucket * 2 : 256;
		Sym **b = arena_alloc(S->a, sizeof *b * (size_t)n);
		S->nindexed = 0;
		for (int i = 0; i < S->nbucket; i++)
			for (Sym *x = S->bucket[i], *next; x; x = next) {
				next = x->same;
				x->indexed = in_scope(S, x);
				if (!x->indexed)
					continue;
				uint32_t h = name_hash(x->name) & (uint32_t)(n - 1);
				x->same = b[h];
				b[h] = x;
				S->nindexed++;
			}
		S->bucket = b;
		S->nbucket = n;
	}
	uint32_t h = name_hash(s->name) & (uint32_t)(S->nbucket - 1);
	s->same = S->bucket[h];
	S->bucket[h] = s;
	s->indexed = 1;
	S->nindexed++;
}

/* Push s on the scope list (every push goes through here). */
static void
scope_push(Sema *S, Sym *s)
{
	s->next = S->scope;
	s->depth = S->scope ? S->scope->depth + 1 : 0;
	while (S->at.len <= s->depth)
		vec_push(S->a, &S->at, NULL);
	S->at.items[s->depth] = s;
	S->scope = s;
	if (!s->indexed)
		index_add(S, s);
}

/* Innermost binding of a name; defs are visible everywhere.  Inside a def
 * body the caller's names are hidden.  The same answer as walking the
 * scope list from the innermost symbol, through the index: a symbol
 * popped from the list is unlinked from its chain when met. */
static Sym *
lookup(Sema *S, const char *name)
{
	int floor = S->in_def && S->def_scope_base ? S->def_scope_base->depth
						   : -1;
	Sym *best = NULL;
	if (S->nbucket) {
		Sym **link = &S->bucket[name_hash(name) &
					(uint32_t)(S->nbucket - 1)];
		while (*link) {
			Sym *x = *link;
			if (!in_scope(S, x)) {
				*link = x->same;
				x->indexed = 0;
				S->nindexed--;
				continue;
			}
			if (x->depth > floor && (!best || x->depth > best->depth) &&
			    strcmp(x->name, name) == 0)
				best = x;
			link = &x->same;
		}
	}
	if (best)
		return best;
	/* defs are visible everywhere */
	return def_sym(S, name);
}


/* What a name is, with its article: "an input", "a vertex family". */
static const char *
sym_kind_name(const Sym *s)
{
	switch (s->kind) {
	case SYM_CONST:
		return "a const";
	case SYM_LEAF:
		return strcmp(s->what, "input") == 0 ? "an input"
		       : strcmp(s->what, "target") == 0 ? "a target"
							: "a param";
	case SYM_VERTEX:
		return "a vertex";
	case SYM_FAMILY:
		return "a vertex family";
	case SYM_DEF:
		return "a def";
	}
	return "a name";
}

static Sym *
define(Sema *S, const char *name, Span sp, SymKind kind)
{
	Sym *old = lookup(S, name);
	if (old) {
		diag_error(sp, "'%s' is already defined (as %s)", name,
			   sym_kind_name(old));
		if (old->span.hi > 0)
			diag_note(old->span, "'%s' was defined here", name);
		return NULL;
	}
	Sym *s = arena_alloc(S->a, sizeof *s);
	s->name = name;
	s->kind = kind;
	s->span = sp;
	scope_push(S, s);
	return s;
}

/* ----------------------------------------------------- compile-time ints */

/* After an error about the value of `e`: a const in it that -D set has a
 * value the source does not show, so say where it comes from. */
static void
note_define(Sema *S, const Expr *e)
{
	if (!e)
		return;
	switch (e->kind) {
	case EXPR_NAME: {
		Sym *s = lookup(S, e->u.name.id);
		if (s && s->kind == SYM_CONST && s->from_define)
			diag_note(s->span, "'%s' is %s, from -D %s on the "
				  "command line", s->name, num_text(s->num),
				  s->name);
		break;
	}
	case EXPR_BINARY:
		note_define(S, e->u.bin.lhs);
		note_define(S, e->u.bin.rhs);
		break;
	case EXPR_NEG:
		note_define(S, e->u.neg.operand);
		break;
	default:
		break;
	}
}

/* Evaluate an expression that must be a compile-time number. */
static int
eval_number(Sema *S, const Expr *e, const char *what, double *out,
	    int *is_int)
{
	Value v = eval(S, e);
	if (v.kind == VAL_ERROR)
		return 0;
	if (v.kind != VAL_NUM) {
		diag_error(e->span, "%s must be a compile-time number", what);
		return 0;
	}
	*out = v.num;
	if (is_int)
		*is_int = v.is_int;
	return 1;
}

static int
eval_int(Sema *S, const Expr *e, const char *what, int64_t *out)
{
	double x;
	int is_int;
	if (!eval_number(S, e, what, &x, &is_int))
		return 0;
	if (!is_int && x == floor(x)) {
		diag_error(e->span, "%s must be an integer, but %s here is "
			   REAL_WHY, what, num_text(x));
		note_define(S, e);
		return 0;
	}
	if (!is_int) {
		diag_error(e->span, "%s must be an integer, got %s", what,
			   num_text(x));
		note_define(S, e);
		return 0;
	}
	*out = (int64_t)x;
	return 1;
}

static int S_in_shape; /* set while evaluating shape dimensions */

/* A shape: EXPR_LIST of positive integers. */
static int
eval_shape(Sema *S, const Expr *list, Shape *out)
{
	memset(out, 0, sizeof *out);
	if (list->kind != EXPR_LIST) {
		diag_error(list->span, "expected a shape like [2, 3]");
		return 0;
	}
	if (list->u.list.n > PCC_MAX_RANK) {
		diag_error(list->span, "shape has rank %d; at most %d allowed",
			   list->u.list.n, PCC_MAX_RANK);
		return 0;
	}
	int ok = 1;
	int saved = S_in_shape;
	S_in_shape = 1;
	for (const Expr *d = list->u.list.items; d; d = d->next) {
		double x;
		int is_int;
		if (!eval_number(S, d, "a shape dimension", &x, &is_int)) {
			ok = 0;
			continue;
		}
		if (x == floor(x) && x > (double)MAX_NUMEL) {
			diag_error(d->span,
				   "shape dimension %s is too large (at most "
				   "%lld)",
				   num_text(x), (long long)MAX_NUMEL);
			note_define(S, d);
			ok = 0;
			continue;
		}
		if (!is_int && x == floor(x) && x > 0) {
			diag_error(d->span,
				   "shape dimension must be a positive integer, "
				   "but %s here is " REAL_WHY,
				   num_text(x));
			note_define(S, d);
			ok = 0;
			continue;
		}
		if (!is_int || x <= 0) {
			diag_error(d->span,
				   "shape dimension must be a positive integer, "
				   "got %s",
				   num_text(x));
			note_define(S, d);
			ok = 0;
			continue;
		}
		out->dim[out->rank++] = (int64_t)x;
	}
	S_in_shape = saved;
	if (ok && !check_numel(S, out, list->span, NULL))
		ok = 0;
	return ok;
}

/* ----------------------------------------------------------- node ops */

static Node *
const_node(Sema *S, double value, const Shape *shape, Span sp)
{
	Node *n = new_node(S, OP_CONST, shape, 0, NULL, sp);
	if (n)
		n->attr.value = value;
	return n;
}

static Node *
as_node(Sema *S, Value v)
{
	if (v.kind == VAL_NODE)
		return v.node;
	if (v.kind == VAL_NUM) {
		Shape sc = shape_scalar();
		return const_node(S, v.num, &sc, v.span);
	}
	return NULL;
}

static Value
unary_node(Sema *S, OpKind op, Node *x, Span sp)
{
	Node *in[1] = {x};
	Node *n = new_node(S, op, &x->shape, 1, in, sp);
	return n ? val_node(n, sp) : val_error();
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

static const char *const bin_verb[] = {"add", "subtract", "multiply",
				       "divide", "multiply"};
static const char *const bin_sym[] = {"+", "-", "*", "/", "@"};

static Value
fold_binary(BinOp op, double x, double y, int xi, int yi, Span sp,
	    Span op_span)
{
	int both = xi && yi;
	double r = op == BIN_ADD ? x + y
		   : op == BIN_SUB ? x - y
		   : op == BIN_MUL ? x * y
		   : op == BIN_DIV && y != 0 ? x / y : 0;
	if (!isfinite(r)) {
		diag_error(op_span, "%s %s %s is not a finite number",
			   num_text(x), bin_sym[op], num_text(y));
		return val_error();
	}
	switch (op) {
	case BIN_ADD:
	case BIN_SUB:
	case BIN_MUL:
		return val_num(r, both, sp);
	case BIN_DIV:
		if (y == 0) {
			diag_error(op_span, "division by zero");
			return val_error();
		}
		if (both && S_in_shape && fmod(x, y) != 0) {
			diag_error(sp,
				   "'/' leaves a remainder in a shape: %s / %s",
				   num_text(x), num_text(y));
			return val_error();
		}
		return val_num(x / y, both && fmod(x, y) == 0, sp);
	case BIN_MATMUL:
		diag_error(op_span, "'@' needs tensor operands, not numbers");
		return val_error();
	}
	unreachable();
}

static Value
matmul(Sema *S, Node *a, Node *b, Span sp, Span op_span)
{
	const Shape *x = &a->shape, *y = &b->shape;
	Shape out = shape_scalar();
	int ok = x->rank >= 1 && x->rank <= 2 && y->rank >= 1 && y->rank <= 2;
	if (ok) {
		int64_t kx = x->dim[x->rank - 1];
		int64_t ky = y->dim[0];
		ok = kx == ky;
		if (x->rank == 2)
			out.dim[out.rank++] = x->dim[0];
		if (y->rank == 2)
			out.dim[out.rank++] = y->dim[1];
	}
	if (!ok) {
		diag_error(op_span, "cannot multiply %s @ %s", S_shape(S, x),
			   S_shape(S, y));
		return val_error();
	}
	if (!check_numel(S, &out, op_span,
			 arena_printf(S->a, "the result of %s @ %s",
				      S_shape(S, x), S_shape(S, y))))
		return val_error();
	Node *in[2] = {a, b};
	Node *n = new_node(S, OP_MATMUL, &out, 2, in, sp);
	return n ? val_node(n, sp) : val_error();
}

static Value
binary(Sema *S, const Expr *e)
{
	Value l = eval(S, e->u.bin.lhs);
	Value r = eval(S, e->u.bin.rhs);
	if (l.kind == VAL_ERROR || r.kind == VAL_ERROR)
		return val_error();
	BinOp op = e->u.bin.op;
	if (l.kind == VAL_SHAPE || r.kind == VAL_SHAPE) {
		diag_error(e->u.bin.op_span,
			   "a shape list [..] is only allowed as an argument "
			   "of reshape, zeros or ones");
		return val_error();
	}
	if (l.kind == VAL_NUM && r.kind == VAL_NUM)
		return fold_binary(op, l.num, r.num, l.is_int, r.is_int,
				   e->span, e->u.bin.op_span);
	if (op == BIN_MATMUL) {
		if (l.kind == VAL_NUM || r.kind == VAL_NUM) {
			diag_error(e->u.bin.op_span,
				   "cannot multiply a number with '@'; use '*'");
			return val_error();
		}
		return matmul(S, l.node, r.node, e->span, e->u.bin.op_span);
	}
	Node *a = as_node(S, l), *b = as_node(S, r);
	if (!a || !b)
		return val_error();
	Shape out;
	if (!broadcast(&a->shape, &b->shape, &out)) {
		diag_error(e->u.bin.op_span,
			   "cannot %s %s %s %s: shapes do not broadcast",
			   bin_verb[op], S_shape(S, &a->shape), bin_sym[op],
			   S_shape(S, &b->shape));
		return val_error();
	}
	if (!check_numel(S, &out, e->u.bin.op_span,
			 arena_printf(S->a, "the result of %s %s %s",
				      S_shape(S, &a->shape), bin_sym[op],
				      S_shape(S, &b->shape))))
		return val_error();
	static const OpKind kind[] = {OP_ADD, OP_SUB, OP_MUL, OP_DIV};
	Node *in[2] = {a, b};
	Node *n = new_node(S, kind[op], &out, 2, in, e->span);
	return n ? val_node(n, e->span) : val_error();
}

/* -------------------------------------------------------------- calls */

typedef struct Builtin {
	const char *name;
	OpKind op;
	int min_args, max_args;
	const char *keywords; /* allowed keyword args, space separated */
} Builtin;

static const Builtin builtins[] = {
	{"tanh", OP_TANH, 1, 1, ""},
	{"sigmoid", OP_SIGMOID, 1, 1, ""},
	{"relu", OP_RELU, 1, 1, ""},
	{"exp", OP_EXP, 1, 1, ""},
	{"log", OP_LOG, 1, 1, ""},
	{"sqrt", OP_SQRT, 1, 1, ""},
	{"square", OP_SQUARE, 1, 1, ""},
	{"softplus", OP_SOFTPLUS, 1, 1, ""},
	{"abs", OP_ABS, 1, 1, ""},
	{"leaky_relu", OP_LEAKY_RELU, 2, 2, ""},
	{"softmax", OP_SOFTMAX, 1, 1, ""},
	{"log_softmax", OP_LOG_SOFTMAX, 1, 1, ""},
	{"layernorm", OP_LAYERNORM, 1, 1, ""},
	{"sum", OP_SUM, 1, 1, ""},
	{"mean", OP_MEAN, 1, 1, ""},
	{"transpose", OP_TRANSPOSE, 1, 1, ""},
	{"reshape", OP_RESHAPE, 2, 2, ""},
	{"flatten", OP_RESHAPE, 1, 1, ""},
	{"concat", OP_CONCAT, 1, 1000000, ""},
	{"conv2d", OP_CONV2D, 2, 2, "stride pad"},
	{"maxpool2d", OP_MAXPOOL2D, 2, 2, "stride"},
	{"avgpool2d", OP_AVGPOOL2D, 2, 2, "stride"},
	{"zeros", OP_CONST, 1, 1, ""},
	{"ones", OP_CONST, 1, 1, ""},
};

static double
fold_unary(OpKind op, double x, double a)
{
	switch (op) {
	case OP_TANH:
		return tanh(x);
	case OP_SIGMOID:
		return 1 / (1 + exp(-x));
	case OP_RELU:
		return x > 0 ? x : 0;
	case OP_EXP:
		return exp(x);
	case OP_LOG:
		return log(x);
	case OP_SQRT:
		return sqrt(x);
	case OP_SQUARE:
		return x * x;
	case OP_SOFTPLUS:
		return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
	case OP_ABS:
		return fabs(x);
	case OP_LEAKY_RELU:
		return x > 0 ? x : a * x;
	default:
		return NAN;
	}
}

static int
keyword_allowed(const char *list, const char *kw)
{
	size_t n = strlen(kw);
	const char *p = list;
	while (*p) {
		const char *q = strchr(p, ' ');
		size_t len = q ? (size_t)(q - p) : strlen(p);
		if (len == n && strncmp(p, kw, n) == 0)
			return 1;
		if (!q)
			break;
		p = q + 1;
	}
	return 0;
}

static Value call_def(Sema *S, const Expr *e, const Def *d);

static Value
call_builtin(Sema *S, const Expr *e, const Builtin *b)
{
	const char *fn = b->name;
	int nargs = e->u.call.nargs;
	Value args[8];
	const Arg *pos[8];
	int npos = 0;
	int64_t stride = -1, pad = 0;
	int ok = 1;
	for (const Arg *a = e->u.call.args; a; a = a->next) {
		if (a->kw) {
			const Arg *prev = e->u.call.args;
			while (prev != a && !(prev->kw &&
					      strcmp(prev->kw, a->kw) == 0))
				prev = prev->next;
			if (prev != a) {
				diag_error(a->kw_span,
					   "keyword argument '%s' is given "
					   "twice",
					   a->kw);
				diag_note(prev->kw_span, "the first '%s' is "
					  "here", a->kw);
				ok = 0;
				continue;
			}
			if (!keyword_allowed(b->keywords, a->kw)) {
				if (b->keywords[0])
					diag_error(a->kw_span,
						   "unknown keyword argument "
						   "'%s' for %s (expected: %s)",
						   a->kw, fn, b->keywords);
				else
					diag_error(a->kw_span,
						   "%s takes no keyword "
						   "arguments",
						   fn);
				ok = 0;
				continue;
			}
			int64_t v;
			if (!eval_int(S, a->value, a->kw, &v)) {
				ok = 0;
				continue;
			}
			if (strcmp(a->kw, "stride") == 0) {
				if (v <= 0) {
					diag_error(a->value->span,
						   "stride must be positive, "
						   "got %lld",
						   (long long)v);
					ok = 0;
				}
				stride = v;
			} else {
				if (v < 0) {
					diag_error(a->value->span,
						   "pad must not be negative, "
						   "got %lld",
						   (long long)v);
					ok = 0;
				}
				pad = v;
			}
			/* node attributes are ints; larger values make no
			 * sense for any tensor pcc accepts */
			if (ok && v > MAX_NUMEL) {
				diag_error(a->value->span,
					   "%s %lld is too large (at most %lld)",
					   a->kw, (long long)v,
					   (long long)MAX_NUMEL);
				ok = 0;
			}
			continue;
		}
		if (npos < 8)
			pos[npos] = a;
		npos++;
	}
	(void)nargs;
	if (npos < b->min_args || npos > b->max_args) {
		if (b->min_args == b->max_args)
			diag_error(e->u.call.id_span,
				   "%s takes %d argument%s, got %d", fn,
				   b->min_args, b->min_args == 1 ? "" : "s",
				   npos);
		else
			diag_error(e->u.call.id_span,
				   "%s takes at least %d argument%s, got %d",
				   fn, b->min_args, b->min_args == 1 ? "" : "s",
				   npos);
		return val_error();
	}
	if (!ok)
		return val_error();

	/* concat: any number of tensors */
	if (b->op == OP_CONCAT) {
		PtrVec ins = {0};
		Shape out = shape_scalar();
		int good = 1;
		const Node *first = NULL;
		for (const Arg *a = e->u.call.args; a; a = a->next) {
			Value v = eval(S, a->value);
			if (v.kind == VAL_ERROR) {
				good = 0;
				continue;
			}
			if (v.kind != VAL_NODE) {
				diag_error(a->value->span,
					   "concat takes tensors, not numbers "
					   "or shapes");
				good = 0;
				continue;
			}
			Node *n = v.node;
			if (n->shape.rank < 1) {
				diag_error(a->value->span,
					   "cannot concat a scalar: concat "
					   "joins along the first axis");
				good = 0;
				continue;
			}
			if (!first) {
				first = n;
				out = n->shape;
			} else {
				Shape x = n->shape;
				int same = x.rank == out.rank;
				for (int i = 1; same && i < x.rank; i++)
					same = x.dim[i] == out.dim[i];
				if (!same) {
					diag_error(a->value->span,
						   "cannot concat %s with %s: "
						   "dimensions after the first "
						   "must match",
						   S_shape(S, &first->shape),
						   S_shape(S, &x));
					good = 0;
					continue;
				}
				out.dim[0] += x.dim[0];
			}
			vec_push(S->a, &ins, n);
		}
		if (!good)
			return val_error();
		if (!check_numel(S, &out, e->u.call.id_span,
				 "the result of concat"))
			return val_error();
		Node *n = new_node(S, OP_CONCAT, &out, ins.len,
				   (Node **)ins.items, e->span);
		return n ? val_node(n, e->span) : val_error();
	}

	for (int i = 0; i < npos && i < 8; i++) {
		args[i] = eval(S, pos[i]->value);
		if (args[i].kind == VAL_ERROR)
			ok = 0;
	}
	if (!ok)
		return val_error();

	/* zeros([..]) / ones([..]) */
	if (b->op == OP_CONST) {
		if (args[0].kind != VAL_SHAPE) {
			diag_error(pos[0]->value->span,
				   "%s takes a shape like [2, 3]", fn);
			return val_error();
		}
		Node *n = const_node(S, strcmp(fn, "ones") == 0 ? 1.0 : 0.0,
				     &args[0].shape, e->span);
		return n ? val_node(n, e->span) : val_error();
	}

	/* the first argument is the tensor */
	Value x = args[0];
	if (x.kind == VAL_SHAPE) {
		diag_error(pos[0]->value->span,
			   "%s takes a tensor, not a shape list", fn);
		return val_error();
	}
	for (int i = 1; i < npos; i++) {
		if (b->op == OP_RESHAPE || b->op == OP_CONV2D)
			break; /* a shape list, a kernel tensor: checked below */
		if (args[i].kind != VAL_NUM) {
			diag_error(pos[i]->value->span,
				   "argument %d of %s must be a compile-time "
				   "number",
				   i + 1, fn);
			return val_error();
		}
	}

	/* elementwise functions of numbers fold */
	if (x.kind == VAL_NUM && (op_is_elementwise_unary(b->op))) {
		double r = fold_unary(b->op, x.num,
				      npos > 1 ? args[1].num : 0);
		if (isnan(r) || isinf(r)) {
			diag_error(e->span, "%s(%s) is not a finite number",
				   fn, num_text(x.num));
			return val_error();
		}
		return val_num(r, 0, e->span);
	}
	Node *n = as_node(S, x);
	if (!n)
		return val_error();
	const Shape *xs = &n->shape;
	Shape out = *xs;

	switch (b->op) {
	case OP_LEAKY_RELU: {
		Value r = unary_node(S, OP_LEAKY_RELU, n, e->span);
		if (r.kind == VAL_NODE)
			r.node->attr.value = args[1].num;
		return r;
	}
	case OP_SOFTMAX:
	case OP_LOG_SOFTMAX:
	case OP_LAYERNORM:
		if (xs->rank < 1) {
			diag_error(pos[0]->value->span,
				   "%s works over the last axis; a scalar has "
				   "none",
				   fn);
			return val_error();
		}
		return unary_node(S, b->op, n, e->span);
	case OP_SUM:
	case OP_MEAN: {
		Shape sc = shape_scalar();
		Node *in[1] = {n};
		Node *r = new_node(S, b->op, &sc, 1, in, e->span);
		return r ? val_node(r, e->span) : val_error();
	}
	case OP_TRANSPOSE: {
		if (xs->rank != 2) {
			diag_error(pos[0]->value->span,
				   "transpose takes a matrix [m,n], got %s",
				   S_shape(S, xs));
			return val_error();
		}
		out.dim[0] = xs->dim[1];
		out.dim[1] = xs->dim[0];
		Node *in[1] = {n};
		Node *r = new_node(S, OP_TRANSPOSE, &out, 1, in, e->span);
		return r ? val_node(r, e->span) : val_error();
	}
	case OP_RESHAPE: {
		if (npos == 1) { /* flatten */
			out = shape_scalar();
			out.rank = 1;
			out.dim[0] = shape_numel(xs);
		} else {
			if (args[1].kind != VAL_SHAPE) {
				diag_error(pos[1]->value->span,
					   "reshape takes a shape like [2, 3] "
					   "as its second argument");
				return val_error();
			}
			out = args[1].shape;
			if (shape_numel(&out) != shape_numel(xs)) {
				diag_error(e->span,
					   "cannot reshape %s (%lld elements) "
					   "to %s (%lld elements)",
					   S_shape(S, xs),
					   (long long)shape_numel(xs),
					   S_shape(S, &out),
					   (long long)shape_numel(&out));
				return val_error();
			}
		}
		Node *in[1] = {n};
		Node *r = new_node(S, OP_RESHAPE, &out, 1, in, e->span);
		return r ? val_node(r, e->span) : val_error();
	}
	case OP_CONV2D: {
		Value kv = args[1];
		if (kv.kind != VAL_NODE) {
			diag_error(pos[1]->value->span,
				   "conv2d takes a kernel tensor [O,C,kh,kw]");
			return val_error();
		}
		const Shape *ks = &kv.node->shape;
		if (kv.node->batched) {
			diag_error(pos[1]->value->span,
				   "conv2d's kernel depends on the data; it must "
				   "be a parameter or computed from parameters");
			return val_error();
		}
		if (stride < 0)
			stride = 1;
		if (xs->rank != 3 || ks->rank != 4 ||
		    ks->dim[1] != xs->dim[0]) {
			diag_error(e->u.call.id_span,
				   "cannot convolve %s with kernel %s: conv2d "
				   "takes x[C,H,W] and K[O,C,kh,kw]",
				   S_shape(S, xs), S_shape(S, ks));
			return val_error();
		}
		int64_t oh = xs->dim[1] + 2 * pad - ks->dim[2];
		int64_t ow = xs->dim[2] + 2 * pad - ks->dim[3];
		if (oh < 0 || ow < 0) {
			diag_error(e->u.call.id_span,
				   "conv2d kernel %s is larger than the padded "
				   "input %s",
				   S_shape(S, ks), S_shape(S, xs));
			return val_error();
		}
		out = shape_scalar();
		out.rank = 3;
		out.dim[0] = ks->dim[0];
		out.dim[1] = oh / stride + 1;
		out.dim[2] = ow / stride + 1;
		if (!check_numel(S, &out, e->u.call.id_span,
				 "the result of conv2d"))
			return val_error();
		Node *in[2] = {n, kv.node};
		Node *r = new_node(S, OP_CONV2D, &out, 2, in, e->span);
		if (r) {
			r->attr.conv.stride = (int)stride;
			r->attr.conv.pad = (int)pad;
		}
		return r ? val_node(r, e->span) : val_error();
	}
	case OP_MAXPOOL2D:
	case OP_AVGPOOL2D: {
		if (!args[1].is_int || args[1].num <= 0) {
			double w = args[1].num;
			if (w == floor(w) && w > 0)
				diag_error(pos[1]->value->span,
					   "%s window must be a positive "
					   "integer, but %s here is " REAL_WHY,
					   fn, num_text(w));
			else
				diag_error(pos[1]->value->span,
					   "%s window must be a positive "
					   "integer, got %s",
					   fn, num_text(w));
			return val_error();
		}
		int64_t k = (int64_t)args[1].num;
		if (stride < 0)
			stride = k;
		if (xs->rank != 3) {
			diag_error(pos[0]->value->span,
				   "%s takes x[C,H,W], got %s", fn,
				   S_shape(S, xs));
			return val_error();
		}
		if (xs->dim[1] < k || xs->dim[2] < k) {
			diag_error(e->u.call.id_span,
				   "%s window %lld is larger than the input %s",
				   fn, (long long)k, S_shape(S, xs));
			return val_error();
		}
		out.dim[1] = (xs->dim[1] - k) / stride + 1;
		out.dim[2] = (xs->dim[2] - k) / stride + 1;
		Node *in[1] = {n};
		Node *r = new_node(S, b->op, &out, 1, in, e->span);
		if (r) {
			r->attr.conv.k = (int)k;
			r->attr.conv.stride = (int)stride;
		}
		return r ? val_node(r, e->span) : val_error();
	}
	default:
		return unary_node(S, b->op, n, e->span);
	}
}

static Value
call(Sema *S, const Expr *e)
{
	const char *fn = e->u.call.id;
	Sym *s = lookup(S, fn);
	if (s && s->kind == SYM_DEF)
		return call_def(S, e, s->def);
	if (s && s->failed)
		return val_error();
	if (s) {
		diag_error(e->u.call.id_span, "'%s' is %s, not a function",
			   fn, sym_kind_name(s));
		return val_error();
	}
	for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
		if (strcmp(builtins[i].name, fn) == 0)
			return call_builtin(S, e, &builtins[i]);
	if (strcmp(fn, "mse") == 0 || strcmp(fn, "cross_entropy") == 0)
		diag_error(e->u.call.id_span,
			   "%s is a loss: write 'loss %s(output, target);'",
			   fn, fn);
	else
		diag_error(e->u.call.id_span, "unknown function '%s'", fn);
	return val_error();
}

/* --------------------------------------------------------- statements */

static void stmts(Sema *S, const Stmt *st);

static const char *
c_ident(Arena *a, const char *label)
{
	StrBuf sb = {0};
	for (const char *p = label; *p; p++) {
		char c = *p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_')
			sb_putc(&sb, c);
		else if (sb.len && sb.data[sb.len - 1] != '_')
			sb_putc(&sb, '_');
	}
	while (sb.len && sb.data[sb.len - 1] == '_')
		sb.data[--sb.len] = 0;
	const char *r = arena_strdup(a, sb.len ? sb.data : "v");
	sb_free(&sb);
	return r;
}

/* Start a vertex; returns the previous context to restore. */
typedef struct VCtx {
	Vertex *vertex;
	const char *base;
	int line;
} VCtx;

static VCtx
begin_vertex(Sema *S, const char *label, const char *base, Span sp)
{
	VCtx old = {S->vertex, S->base, S->line};
	Vertex *v = arena_alloc(S->a, sizeof *v);
	v->id = S->g->vertices.len;
	v->label = label;
	v->span = sp;
	int col;
	diag_line_col(sp, &v->line, &col);
	vec_push(S->a, &S->g->vertices, v);
	S->vertex = v;
	S->base = base;
	S->line = v->line;
	return old;
}

static void
end_vertex(Sema *S, VCtx old)
{
	S->vertex = old.vertex;
	S->base = old.base;
	S->line = old.line;
}

/* Make sure a vertex's value is a node of its own (not a leaf or another
 * vertex's node): wrap it in an identity. */
static Node *
own_root(Sema *S, Node *n, Span sp)
{
	if (n->vertex == S->vertex)
		return n;
	Node *in[1] = {n};
	return new_node(S, OP_IDENTITY, &n->shape, 1, in, sp);
}

static void
finish_vertex(Sema *S, Node *root)
{
	Vertex *v = S->vertex;
	v->root = root;
	root->label = v->label;
}

/* Evaluate the right-hand side of a vertex definition. */
static Node *
vertex_value(Sema *S, const Expr *rhs, const char *label, const char *base,
	     Span sp)
{
	VCtx old = begin_vertex(S, label, base, sp);
	Value v = eval(S, rhs);
	Node *root = NULL;
	if (v.kind == VAL_SHAPE) {
		diag_error(rhs->span,
			   "a shape list [..] is only allowed as an argument "
			   "of reshape, zeros or ones");
	} else if (v.kind != VAL_ERROR) {
		Node *n = as_node(S, v);
		if (n)
			root = own_root(S, n, rhs->span);
	}
	if (root)
		finish_vertex(S, root);
	else
		S->g->vertices.len--; /* drop the failed vertex */
	end_vertex(S, old);
	return root;
}

static void
stmt_assign(Sema *S, const Stmt *st)
{
	const char *name = st->name;
	if (!st->index) {
		if (!define(S, name, st->name_span, SYM_VERTEX)) {
			(void)eval(S, st->value); /* still check it */
			return;
		}
		Sym *sym = S->scope;
		const char *label = name;
		if (S->iter_suffix)
			label = arena_printf(S->a, "%s%s", name,
					     S->iter_suffix);
		if (S->in_def)
			label = arena_printf(S->a, "%s.%s",
					     S->base ? S->base : "def", name);
		const char *base = c_ident(S->a, S->in_def ? label : name);
		if (S->in_def) /* strip the call number: "cell_a" */
			base = c_ident(S->a,
				       arena_printf(S->a, "%s_%s",
						    S->active[S->nactive - 1]
							    ->name,
						    name));
		Node *root = vertex_value(S, st->value, label, base, st->span);
		if (!root) {
			sym->failed = 1; /* later uses are silent errors */
			return;
		}
		sym->node = root;
		return;
	}
	/* family member h[i] = ... */
	Sym *sym = lookup(S, name);
	if (sym && sym->kind != SYM_FAMILY) {
		if (!sym->failed)
			diag_error(st->name_span,
				   "'%s' is %s, not a vertex family; it cannot "
				   "be indexed",
				   name, sym_kind_name(sym));
		return;
	}
	if (!sym) {
		/* a family is global to the model, even when its first member
		 * is defined inside a loop body (stmt_for keeps it) */
		sym = define(S, name, st->name_span, SYM_FAMILY);
		if (!sym)
			return;
		sym->fam = arena_alloc(S->a, sizeof *sym->fam);
	}
	Family *f = sym->fam;
	int64_t idx;
	if (!eval_int(S, st->index, "a family index", &idx)) {
		f->failed = 1;
		return;
	}
	if (idx < 0 || idx >= MAX_FAMILY) {
		diag_error(st->index->span,
			   "family index %lld is out of range [0, %d)",
			   (long long)idx, MAX_FAMILY);
		f->failed = 1;
		return;
	}
	if (idx >= f->cap) {
		int64_t cap = f->cap ? f->cap : 8;
		while (cap <= idx)
			cap *= 2;
		Node **m = arena_alloc(S->a, sizeof(Node *) * (size_t)cap);
		Span *w = arena_alloc(S->a, sizeof(Span) * (size_t)cap);
		if (f->cap) {
			memcpy(m, f->member, sizeof(Node *) * (size_t)f->cap);
			memcpy(w, f->where, sizeof(Span) * (size_t)f->cap);
		}
		f->member = m;
		f->where = w;
		f->cap = cap;
	}
	if (f->member[idx]) {
		if (f->where[idx].lo == st->name_span.lo && S->iter_suffix) {
			/* this very statement, in an earlier iteration */
			StrBuf it = {0};
			for (const char *c = S->iter_suffix + 1; *c; c++)
				if (*c == '@')
					sb_puts(&it, ", ");
				else
					sb_putc(&it, *c);
			diag_error(st->name_span,
				   "%s[%lld] is already defined, by an earlier "
				   "iteration of this loop (now %s)",
				   name, (long long)idx, it.data);
			sb_free(&it);
			return;
		}
		diag_error(st->name_span,
			   "%s[%lld] is already defined", name,
			   (long long)idx);
		diag_note(f->where[idx], "%s[%lld] was defined here", name,
			  (long long)idx);
		return;
	}
	const char *label = arena_printf(S->a, "%s[%lld]", name,
					 (long long)idx);
	Node *root = vertex_value(S, st->value, label, c_ident(S->a, name),
				  st->span);
	if (!root) {
		f->failed = 1; /* uses of the missing member are not reported */
		return;
	}
	root->index = (int)idx;
	f->member[idx] = root;
	f->where[idx] = st->name_span;
}

static void
stmt_const(Sema *S, const Stmt *st)
{
	double x;
	int is_int = 0;
	int overridden = 0;
	if (!S->in_def && !S->iter_suffix) {
		for (int i = 0; i < S->ndefines; i++)
			if (strcmp(S->defines[i].name, st->name) == 0) {
				x = S->defines[i].value;
				is_int = S->defines[i].is_int;
				S->defines[i].used = 1;
				overridden = 1;
			}
	}
	if (overridden && !isfinite(x)) {
		diag_error(st->name_span, "-D %s sets '%s' to %s, which is not "
			   "a finite number", st->name, st->name, num_text(x));
		x = NAN, is_int = 0;
	}
	if (!overridden && !eval_number(S, st->value, "a const value", &x,
					&is_int))
		x = NAN, is_int = 0;
	Sym *s = define(S, st->name, st->name_span, SYM_CONST);
	if (s) {
		s->num = x;
		s->is_int = is_int;
		s->failed = isnan(x);
		s->from_define = overridden;
	}
}

static DataDecl *
stmt_data(Sema *S, const Stmt *st, const char *what, OpKind op)
{
	Shape sh;
	int ok = 1;
	if (S->iter_suffix) {
		/* one declaration per iteration would give several params (or
		 * inputs) of one name */
		Span kw = {st->span.lo, st->span.lo + (uint32_t)strlen(what)};
		diag_error(kw,
			   "%s cannot be declared inside a for loop; declare "
			   "'%s' before the loop, where every iteration can "
			   "use it",
			   what, st->name);
		ok = 0;
	} else if (st->is_int) {
		diag_error(st->int_span,
			   "integer inputs and targets are not supported yet");
		ok = 0;
	} else if (!eval_shape(S, st->shape, &sh)) {
		ok = 0;
	}
	Sym *s = define(S, st->name, st->name_span, SYM_LEAF);
	if (!s)
		return NULL;
	s->what = what;
	if (!ok) {
		s->failed = 1; /* uses of it are not reported again */
		return NULL;
	}
	Node *n = new_node(S, op, &sh, 0, NULL, st->name_span);
	if (!n)
		return NULL;
	n->label = st->name;
	s->node = n;
	if (op == OP_PARAM) {
		ParamDecl *p = arena_alloc(S->a, sizeof *p);
		p->name = st->name;
		p->shape = sh;
		p->span = st->name_span;
		p->node = n;
		p->init = sh.rank >= 2 ? INIT_XAVIER : INIT_ZEROS;
		n->decl = S->g->params.len;
		n->batched = 0;
		if (st->init) {
			const Expr *ie = st->init;
			const char *iname = ie->kind == EXPR_NAME ? ie->u.name.id
				: ie->kind == EXPR_CALL ? ie->u.call.id : NULL;
			static const struct {
				const char *name;
				InitKind kind;
				int nargs;
			} inits[] = {{"zeros", INIT_ZEROS, 0},
				     {"ones", INIT_ONES, 0},
				     {"normal", INIT_NORMAL, 1},
				     {"uniform", INIT_UNIFORM, 2},
				     {"xavier", INIT_XAVIER, 0},
				     {"he", INIT_HE, 0}};
			int found = -1;
			for (int i = 0; iname && i < 6; i++)
				if (strcmp(inits[i].name, iname) == 0)
					found = i;
			if (found < 0) {
				diag_error(ie->kind == EXPR_CALL
						   ? ie->u.call.id_span
						   : ie->span,
					   "unknown initialiser '%s' (expected "
					   "zeros, ones, normal(std), "
					   "uniform(lo, hi), xavier or he)",
					   iname);
			} else {
				int nargs = ie->kind == EXPR_CALL
					? ie->u.call.nargs : 0;
				p->init = inits[found].kind;
				if (nargs != inits[found].nargs) {
					diag_error(ie->span,
						   "initialiser %s takes %d "
						   "argument%s, got %d",
						   iname, inits[found].nargs,
						   inits[found].nargs == 1
							   ? "" : "s",
						   nargs);
				} else if (nargs) {
					double v[2] = {0, 0};
					int k = 0, good = 1;
					for (const Arg *a = ie->u.call.args; a;
					     a = a->next, k++) {
						if (a->kw) {
							diag_error(a->kw_span,
								   "initialisers "
								   "take no keyword "
								   "arguments");
							good = 0;
							continue;
						}
						if (!eval_number(S, a->value,
								 "an initialiser "
								 "argument",
								 &v[k], NULL))
							good = 0;
					}
					p->a = v[0];
					p->b = v[1];
					/* (bad arguments were reported above) */
					if (good && p->init == INIT_NORMAL &&
					    v[0] < 0)
						diag_error(ie->span,
							   "normal(std) needs "
							   "std >= 0, got %s",
							   num_text(v[0]));
					if (good && p->init == INIT_UNIFORM &&
					    !(v[0] < v[1]))
						diag_error(ie->span,
							   "uniform(lo, hi) "
							   "needs lo < hi, got "
							   "lo = %s, hi = %s",
							   num_text(v[0]),
							   num_text(v[1]));
				}
			}
		}
		p->offset = S->g->param_count;
		S->g->param_count += shape_numel(&sh);
		vec_push(S->a, &S->g->params, p);
		return NULL;
	}
	DataDecl *d = arena_alloc(S->a, sizeof *d);
	d->name = st->name;
	d->shape = sh;
	d->span = st->name_span;
	d->node = n;
	n->batched = 1;
	s->data = d;
	PtrVec *list = op == OP_INPUT ? &S->g->inputs : &S->g->targets;
	n->decl = list->len;
	vec_push(S->a, list, d);
	return d;
}

/* The form of loss that release 1 has: f(output, target) or
 * f(output, target[i]), f a name, both arguments positional.  Gives the
 * output, the target (an EXPR_NAME) and the index, or NULL. */
static int
loss_form(const Expr *e, const Expr **out, const Expr **target,
	  const Expr **index)
{
	if (e->kind != EXPR_CALL || e->u.call.nargs != 2)
		return 0;
	const Arg *a = e->u.call.args, *b = a->next;
	if (a->kw || b->kw)
		return 0;
	const Expr *t = b->value, *i = NULL;
	if (t->kind == EXPR_INDEX && t->u.index.nsubs == 1 &&
	    !t->u.index.subs->is_slice) {
		i = t->u.index.subs->lo;
		t = t->u.index.base;
	}
	if (t->kind != EXPR_NAME)
		return 0;
	*out = a->value;
	*target = t;
	*index = i;
	return 1;
}

static void
stmt_loss(Sema *S, const Stmt *st)
{
	const Expr *oe, *te, *index;
	if (!loss_form(st->value, &oe, &te, &index)) {
		diag_error(st->value->span,
			   "this form of loss is not supported yet");
		return;
	}
	const char *fn = st->value->u.call.id;
	const char *tname = te->u.name.id;
	LossKind kind;
	if (strcmp(fn, "mse") == 0) {
		kind = LOSS_MSE;
	} else if (strcmp(fn, "cross_entropy") == 0) {
		kind = LOSS_CROSS_ENTROPY;
	} else {
		diag_error(st->value->u.call.id_span,
			   "unknown loss '%s' (expected mse or cross_entropy)",
			   fn);
		return;
	}
	/* the target */
	Sym *t = lookup(S, tname);
	DataDecl *target = NULL;
	if (!t) {
		diag_error(te->span, "undefined name '%s'", tname);
	} else if (t->failed) {
		/* already reported */
	} else if (t->kind != SYM_LEAF || strcmp(t->what, "target") != 0) {
		diag_error(te->span,
			   "the second argument of a loss must be a target; "
			   "'%s' is %s",
			   tname, sym_kind_name(t));
	} else {
		target = t->data;
	}
	/* a row of the target: loss f(o, ys[t]) */
	Shape tshape;
	int64_t toff = 0;
	if (target) {
		tshape = target->shape;
		if (index) {
			int64_t i;
			if (!eval_int(S, index, "a target index", &i))
				return;
			if (tshape.rank < 1 || i < 0 || i >= tshape.dim[0]) {
				diag_error(index->span,
					   "index %lld is out of range for "
					   "target '%s' %s",
					   (long long)i, target->name,
					   S_shape(S, &target->shape));
				return;
			}
			toff = i * (shape_numel(&tshape) / tshape.dim[0]);
			for (int k = 1; k < tshape.rank; k++)
				tshape.dim[k - 1] = tshape.dim[k];
			tshape.rank--;
			tshape.dim[tshape.rank] = 0;
		}
	}
	/* the output: a vertex name, or an expression that becomes one */
	Node *out = NULL;
	Sym *os = oe->kind == EXPR_NAME ? lookup(S, oe->u.name.id) : NULL;
	if (os && os->kind == SYM_VERTEX && os->node) {
		out = os->node;
	} else {
		S->loss_count++;
		const char *label = arena_printf(S->a, "loss%d", S->loss_count);
		out = vertex_value(S, oe, label, label, oe->span);
	}
	if (!out || !target)
		return;
	if (!shape_equal(&out->shape, &tshape)) {
		diag_error(oe->span,
			   "loss shapes differ: output %s, target '%s%s' %s",
			   S_shape(S, &out->shape), target->name,
			   index ? "[..]" : "", S_shape(S, &tshape));
		return;
	}
	if (!out->batched) {
		diag_error(oe->span,
			   "this loss's output depends on no input, so it is the "
			   "same for every sample; a loss needs an output computed "
			   "from the data");
		return;
	}
	if (kind == LOSS_CROSS_ENTROPY && out->shape.rank < 1) {
		diag_error(oe->span,
			   "cross_entropy needs at least one axis (softmax "
			   "over the last axis)");
		return;
	}
	Loss *l = arena_alloc(S->a, sizeof *l);
	l->kind = kind;
	l->out = out;
	l->target = target;
	l->target_off = toff;
	l->span = st->span;
	int col;
	diag_line_col(st->span, &l->line, &col);
	vec_push(S->a, &S->g->losses, l);
}

static void
add_output(Sema *S, const char *name, Node *n)
{
	for (int i = 0; i < S->g->outputs.len; i++) {
		OutputDecl *o = S->g->outputs.items[i];
		if (o->node == n)
			return;
	}
	/* member names in s->out must differ: "h[3]" and "h_3" both give
	 * h_3 */
	const char *unique = name;
	for (int k = 2;; k++) {
		int clash = 0;
		for (int i = 0; i < S->g->outputs.len; i++) {
			OutputDecl *o = S->g->outputs.items[i];
			if (strcmp(o->name, unique) == 0)
				clash = 1;
		}
		if (!clash)
			break;
		unique = arena_printf(S->a, "%s_%d", name, k);
	}
	OutputDecl *o = arena_alloc(S->a, sizeof *o);
	o->name = unique;
	o->node = n;
	vec_push(S->a, &S->g->outputs, o);
}

static void
stmt_output(Sema *S, const Stmt *st)
{
	for (const Ident *id = st->names; id; id = id->next) {
		Sym *s = lookup(S, id->id);
		if (!s) {
			diag_error(id->span, "undefined name '%s'", id->id);
			continue;
		}
		if (s->failed)
			continue;
		if (s->kind != SYM_VERTEX || !s->node) {
			diag_error(id->span,
				   "'%s' is %s; output takes vertices "
				   "(names defined by '=')",
				   id->id, sym_kind_name(s));
			continue;
		}

		add_output(S, c_ident(S->a, s->node->label), s->node);
	}
}

/* A loop body was not run to the end because of an error: the family
 * members it would have defined are missing, and uses of them must not
 * be reported once more. */
static void
fail_families(Sema *S, const Stmt *body)
{
	for (const Stmt *st = body; st; st = st->next) {
		if (st->kind == STMT_FOR) {
			fail_families(S, st->body);
			continue;
		}
		if (st->kind != STMT_ASSIGN || !st->index)
			continue;
		Sym *s = lookup(S, st->name);
		if (!s) { /* its first member was never reached */
			s = arena_alloc(S->a, sizeof *s);
			s->name = st->name;
			s->kind = SYM_FAMILY;
			s->span = st->name_span;
			s->fam = arena_alloc(S->a, sizeof *s->fam);
			scope_push(S, s);
		}
		if (s->kind == SYM_FAMILY)
			s->fam->failed = 1;
	}
}

/* Count one loop iteration or def call; report when there are too many
 * (nested loops and def calls that create no nodes could otherwise run
 * for ever). */
static int
count_work(Sema *S, Span sp)
{
	if (++S->work <= MAX_WORK)
		return 1;
	if (!S->too_big)
		diag_error(sp,
			   "model too large: more than %d loop iterations and "
			   "def calls in all",
			   MAX_WORK);
	S->too_big = 1;
	return 0;
}

static void
stmt_for(Sema *S, const Stmt *st)
{
	int64_t lo, hi;
	Span range = span_join(st->lo->span, st->hi->span);
	int ok = eval_int(S, st->lo, "a loop bound", &lo);
	ok &= eval_int(S, st->hi, "a loop bound", &hi);
	if (!ok) {
		fail_families(S, st->body);
		return;
	}
	if (hi == lo) {
		diag_error(range, "empty loop range %lld..%lld: the range is "
			   "half-open, so %lld..%lld runs no iteration",
			   (long long)lo, (long long)hi, (long long)lo,
			   (long long)hi);
		note_define(S, st->lo);
		note_define(S, st->hi);
		fail_families(S, st->body);
		return;
	}
	if (hi < lo) {
		diag_error(range,
			   "reversed loop range %lld..%lld (the range is "
			   "half-open: lo..hi with lo < hi)",
			   (long long)lo, (long long)hi);
		note_define(S, st->lo);
		note_define(S, st->hi);
		fail_families(S, st->body);
		return;
	}
	if (hi - lo > MAX_WORK) {
		diag_error(range,
			   "loop of %lld iterations is too long to unroll "
			   "(at most %d)",
			   (long long)(hi - lo), MAX_WORK);
		note_define(S, st->lo);
		note_define(S, st->hi);
		fail_families(S, st->body);
		return;
	}
	if (lookup(S, st->name)) {
		(void)define(S, st->name, st->name_span, SYM_CONST);
		fail_families(S, st->body);
		return;
	}
	const char *saved_suffix = S->iter_suffix;
	for (int64_t i = lo; i < hi; i++) {
		if (!count_work(S, range))
			break;
		Sym *mark = S->scope;
		Sym *v = define(S, st->name, st->name_span, SYM_CONST);
		v->num = (double)i;
		v->is_int = 1;
		S->iter_suffix = arena_printf(S->a, "%s@%s=%lld",
					      saved_suffix ? saved_suffix : "",
					      st->name, (long long)i);
		int before = diag_error_count();
		stmts(S, st->body);
		/* pop the iteration's locals, keeping families it created */
		Sym *fams = NULL;
		for (Sym *s = S->scope; s != mark;) {
			Sym *next = s->next;
			if (s->kind == SYM_FAMILY) {
				s->next = fams;
				fams = s;
			}
			s = next;
		}
		S->scope = mark;
		while (fams) {
			Sym *next = fams->next;
			scope_push(S, fams);
			fams = next;
		}
		/* the same error in every iteration helps nobody */
		if (diag_error_count() > before || S->too_big ||
		    diag_too_many()) {
			if (i + 1 < hi)
				fail_families(S, st->body);
			break;
		}
	}
	S->iter_suffix = saved_suffix;
}

static void
stmts(Sema *S, const Stmt *st)
{
	for (; st && !diag_too_many() && !S->too_big; st = st->next) {
		int col;
		diag_line_col(st->span, &S->line, &col);
		switch (st->kind) {
		case STMT_CONST:
			stmt_const(S, st);
			break;
		case STMT_INPUT:
			stmt_data(S, st, "input", OP_INPUT);
			break;
		case STMT_TARGET:
			stmt_data(S, st, "target", OP_TARGET);
			break;
		case STMT_PARAM:
			stmt_data(S, st, "param", OP_PARAM);
			break;
		case STMT_ASSIGN:
			stmt_assign(S, st);
			break;
		case STMT_LOSS:
			stmt_loss(S, st);
			break;
		case STMT_OUTPUT:
			stmt_output(S, st);
			break;
		case STMT_FOR:
			stmt_for(S, st);
			break;
		}
	}
}

/* --------------------------------------------------------------- defs */

static int
def_index(Sema *S, const Def *d)
{
	int i = 0;
	for (const Def *x = S->prog->defs; x; x = x->next, i++)
		if (x == d)
			return i;
	unreachable();
}

/* The first parameter of a def that repeats an earlier one, or NULL. */
static const Ident *
def_dup_param(const Def *d)
{
	for (const Ident *p = d->params; p; p = p->next)
		for (const Ident *q = d->params; q != p; q = q->next)
			if (strcmp(p->id, q->id) == 0)
				return p;
	return NULL;
}

static Value
call_def(Sema *S, const Expr *e, const Def *d)
{
	if (def_dup_param(d) || !d->ret) /* reported by sema_build, parser */
		return val_error();
	if (!count_work(S, e->u.call.id_span))
		return val_error();
	for (int i = 0; i < S->nactive; i++)
		if (S->active[i] == d) {
			diag_error(e->u.call.id_span,
				   "recursive call of def '%s'", d->name);
			diag_note(d->name_span, "'%s' is defined here",
				  d->name);
			return val_error();
		}
	if (S->nactive >= MAX_DEPTH) {
		diag_error(e->span, "def calls nested too deeply (more than "
			   "%d)", MAX_DEPTH);
		return val_error();
	}
	if (e->u.call.nargs != d->nparams) {
		diag_error(e->u.call.id_span, "%s takes %d argument%s, got %d",
			   d->name, d->nparams, d->nparams == 1 ? "" : "s",
			   e->u.call.nargs);
		diag_note(d->name_span, "'%s' is defined here", d->name);
		return val_error();
	}
	/* evaluate the arguments in the caller's scope */
	Value *args = arena_alloc(S->a, sizeof(Value) * (size_t)(d->nparams + 1));
	int ok = 1, k = 0;
	for (const Arg *a = e->u.call.args; a; a = a->next, k++) {
		if (a->kw) {
			diag_error(a->kw_span,
				   "def '%s' takes no keyword arguments",
				   d->name);
			ok = 0;
			continue;
		}
		args[k] = eval(S, a->value);
		if (args[k].kind == VAL_ERROR)
			ok = 0;
	}
	if (!ok)
		return val_error();
	/* enter the def's scope */
	int di = def_index(S, d);
	int ncall = ++S->call_count[di];
	Sym *saved_scope = S->scope, *saved_base = S->def_scope_base;
	int saved_in_def = S->in_def;
	const char *saved_suffix = S->iter_suffix;
	const char *saved_vbase = S->base;
	S->def_scope_base = S->scope;
	S->in_def = 1;
	S->iter_suffix = NULL;
	S->active[S->nactive++] = d;
	int errors_before = diag_error_count();
	k = 0;
	for (const Ident *p = d->params; p; p = p->next, k++) {
		Sym *s = define(S, p->id, p->span, SYM_CONST);
		if (!s)
			continue;
		if (args[k].kind == VAL_NUM) {
			s->num = args[k].num;
			s->is_int = args[k].is_int;
		} else if (args[k].kind == VAL_NODE) {
			s->kind = SYM_VERTEX;
			s->node = args[k].node;
		} else {
			diag_error(e->span, "argument %d of '%s' is a shape "
				   "list, which defs cannot take", k + 1, d->name);
			s->num = NAN;
			s->failed = 1;
		}
	}
	/* statements inside the def: vertices named "<def>.<n>.<name>" */
	VCtx caller = {S->vertex, S->base, S->line};
	S->base = arena_printf(S->a, "%s.%d", d->name, ncall);
	for (const Stmt *st = d->body; st && !diag_too_many(); st = st->next) {
		int col;
		diag_line_col(st->span, &S->line, &col);
		if (st->kind == STMT_CONST) {
			stmt_const(S, st);
		} else if (st->kind == STMT_ASSIGN && !st->index) {
			stmt_assign(S, st);
		} else if (st->kind == STMT_ASSIGN) {
			diag_error(st->name_span,
				   "a def body cannot define a family member "
				   "%s[...]; use a plain name",
				   st->name);
			Sym *s = lookup(S, st->name) ? NULL
				 : define(S, st->name, st->name_span,
					  SYM_VERTEX);
			if (s)
				s->failed = 1; /* no follow-up errors */
		} else {
			diag_error(st->span,
				   "only assignments and consts are allowed "
				   "in a def body");
		}
	}
	/* the return expression is fused into the caller's vertex */
	S->vertex = caller.vertex;
	S->base = saved_vbase;
	S->line = caller.line;
	Value r = eval(S, d->ret);
	/* errors inside the body: say which call they come from (the
	 * outermost calls only, when defs call defs call defs) */
	if (diag_error_count() > errors_before &&
	    S->nactive <= MAX_CALL_NOTES)
		diag_note(e->u.call.id_span, "in this call of '%s'", d->name);
	S->nactive--;
	S->scope = saved_scope;
	S->def_scope_base = saved_base;
	S->in_def = saved_in_def;
	S->iter_suffix = saved_suffix;
	return r;
}

/* --------------------------------------------------------- expressions */

static Value
eval_name(Sema *S, const Expr *e)
{
	Sym *s = lookup(S, e->u.name.id);
	if (!s) {
		diag_error(e->span, "undefined name '%s'", e->u.name.id);
		return val_error();
	}
	if (s->failed) /* already reported */
		return val_error();
	switch (s->kind) {
	case SYM_CONST:
		if (isnan(s->num))
			return val_error();
		return val_num(s->num, s->is_int, e->span);
	case SYM_LEAF:
	case SYM_VERTEX:
		if (!s->node && s->kind == SYM_VERTEX && !S->too_big) {
			/* defined, but its value is still being evaluated */
			diag_error(e->span,
				   "'%s' is used in its own definition; for a "
				   "recurrence use a vertex family, as "
				   "%s[t+1] = f(%s[t])",
				   s->name, s->name, s->name);
			return val_error();
		}
		if (!s->node)
			return val_error();
		if (s->node->op == OP_TARGET) {
			diag_error(e->span,
				   "target '%s' can only be used as the second "
				   "argument of a loss",
				   s->name);
			return val_error();
		}
		return val_node(s->node, e->span);
	case SYM_FAMILY:
		diag_error(e->span,
			   "'%s' is a vertex family; index it, as %s[i]",
			   s->name, s->name);
		return val_error();
	case SYM_DEF:
		diag_error(e->span, "'%s' is a def; call it, as %s(...)",
			   s->name, s->name);
		return val_error();
	}
	unreachable();
}

static Value
eval_index(Sema *S, const Expr *e)
{
	const Expr *base = e->u.index.base;
	/* the forms there are so far: x[i] and x[lo:hi] */
	const Subscript *sub = e->u.index.subs;
	const Expr *elo = sub->lo, *ehi = sub->is_slice ? sub->hi : NULL;
	int known = e->u.index.nsubs == 1 &&
		    (!sub->is_slice || (sub->lo && sub->hi && !sub->step));
	/* a family member h[i] */
	if (base->kind == EXPR_NAME) {
		Sym *s = lookup(S, base->u.name.id);
		if (s && s->kind == SYM_FAMILY) {
			if (e->u.index.nsubs != 1) {
				diag_error(e->span, "this form of indexing is "
					   "not supported yet");
				return val_error();
			}
			if (sub->is_slice) {
				diag_error(e->span,
					   "cannot slice the vertex family "
					   "'%s'; index one member, as %s[i]",
					   s->name, s->name);
				return val_error();
			}
			int64_t i;
			if (!eval_int(S, elo, "a family index", &i))
				return val_error();
			if (i < 0 || i >= s->fam->cap || !s->fam->member[i]) {
				if (s->fam->failed) /* already reported */
					return val_error();
				/* which members there are, for off-by-one
				 * mistakes such as h[T] for h[T-1] */
				const Family *f = s->fam;
				int64_t lo = -1, hi = -1, n = 0;
				for (int64_t k = 0; k < f->cap; k++)
					if (f->member[k]) {
						if (lo < 0)
							lo = k;
						hi = k;
						n++;
					}
				const char *have =
					n == 1 ? arena_printf(S->a,
						"only %s[%lld] is", s->name,
						(long long)lo)
					: n == hi - lo + 1 ? arena_printf(S->a,
						"%s[%lld] to %s[%lld] are",
						s->name, (long long)lo,
						s->name, (long long)hi)
					: arena_printf(S->a,
						"%lld members up to %s[%lld] "
						"are", (long long)n, s->name,
						(long long)hi);
				diag_error(e->span,
					   "%s[%lld] is used before it is "
					   "defined (%s defined so far)",
					   s->name, (long long)i, have);
				return val_error();
			}
			return val_node(s->fam->member[i], e->span);
		}
	}
	Value b = eval(S, base);
	if (b.kind == VAL_ERROR)
		return val_error();
	if (b.kind == VAL_NUM) {
		diag_error(base->span, "cannot index the number %s; only "
			   "tensors can be indexed", num_text(b.num));
		return val_error();
	}
	if (b.kind != VAL_NODE) {
		diag_error(base->span, "cannot index a shape list; only "
			   "tensors can be indexed");
		return val_error();
	}
	if (!known) {
		diag_error(e->span,
			   "this form of indexing is not supported yet");
		return val_error();
	}
	Node *x = b.node;
	if (x->shape.rank < 1) {
		diag_error(e->span, "cannot index a scalar %s",
			   S_shape(S, &x->shape));
		return val_error();
	}
	int64_t n0 = x->shape.dim[0];
	int64_t lo, hi;
	if (!eval_int(S, elo, "an index", &lo))
		return val_error();
	Shape out = x->shape;
	if (ehi) {
		if (!eval_int(S, ehi, "an index", &hi))
			return val_error();
		if (lo < 0 || hi > n0 || lo >= hi) {
			diag_error(e->span,
				   "slice %lld:%lld is out of range for %s "
				   "(need 0 <= lo < hi <= %lld)",
				   (long long)lo, (long long)hi,
				   S_shape(S, &x->shape), (long long)n0);
			note_define(S, elo);
			note_define(S, ehi);
			return val_error();
		}
		out.dim[0] = hi - lo;
	} else {
		if (lo < 0 || lo >= n0) {
			diag_error(e->span,
				   "index %lld is out of range for %s (need 0 "
				   "<= i < %lld)",
				   (long long)lo, S_shape(S, &x->shape),
				   (long long)n0);
			note_define(S, elo);
			return val_error();
		}
		hi = lo + 1;
		for (int i = 1; i < out.rank; i++)
			out.dim[i - 1] = out.dim[i];
		out.rank--;
		out.dim[out.rank] = 0;
	}
	Node *in[1] = {x};
	Node *n = new_node(S, OP_SLICE, &out, 1, in, e->span);
	if (!n)
		return val_error();
	n->attr.slice.lo = lo;
	n->attr.slice.hi = hi;
	return val_node(n, e->span);
}

static Value
eval(Sema *S, const Expr *e)
{
	if (S->depth >= MAX_DEPTH) {
		diag_error(e->span, "expression nested too deeply (more than "
			   "%d levels%s)", MAX_DEPTH,
			   S->nactive ? ", counting the bodies of the def calls "
					"it is in" : "");
		return val_error();
	}
	if (S->too_big)
		return val_error();
	S->depth++;
	Value v = val_error();
	switch (e->kind) {
	case EXPR_NUM:
		v = val_num(e->u.num.value, e->u.num.is_int, e->span);
		break;
	case EXPR_NAME:
		v = eval_name(S, e);
		break;
	case EXPR_CALL:
		v = call(S, e);
		break;
	case EXPR_INDEX:
		v = eval_index(S, e);
		break;
	case EXPR_BINARY:
		v = binary(S, e);
		break;
	case EXPR_NEG: {
		Value x = eval(S, e->u.neg.operand);
		if (x.kind == VAL_NUM)
			v = val_num(-x.num, x.is_int, e->span);
		else if (x.kind == VAL_NODE)
			v = unary_node(S, OP_NEG, x.node, e->span);
		else if (x.kind == VAL_SHAPE)
			diag_error(e->span, "cannot negate a shape list");
		break;
	}
	case EXPR_LIST: {
		Shape sh;
		if (eval_shape(S, e, &sh)) {
			v = val_error();
			v.kind = VAL_SHAPE;
			v.shape = sh;
			v.span = e->span;
		}
		break;
	}
	}
	S->depth--;
	if (v.kind != VAL_ERROR)
		v.span = e->span;
	return v;
}

/* ------------------------------------------------------------- driver */

Graph *
sema_build(Arena *a, const Program *p, Define *defines, int ndefines)
{
	Sema S;
	memset(&S, 0, sizeof S);
	S.a = a;
	S.prog = p;
	S.defines = defines;
	S.ndefines = ndefines;
	S.g = arena_alloc(a, sizeof *S.g);
	S.g->name = p->model->name;
	for (const Def *d = p->defs; d; d = d->next)
		S.ndefs++;
	S.call_count = arena_alloc(a, sizeof(int) * (size_t)(S.ndefs + 1));
	/* defs: duplicates and clashes with builtins */
	for (const Def *d = p->defs; d; d = d->next) {
		for (const Def *e = p->defs; e != d; e = e->next)
			if (strcmp(e->name, d->name) == 0) {
				diag_error(d->name_span,
					   "def '%s' is already defined",
					   d->name);
				diag_note(e->name_span,
					  "'%s' was defined here", e->name);
			}
		const Ident *dup = def_dup_param(d);
		if (dup) {
			diag_error(dup->span,
				   "def '%s' has two parameters named '%s'",
				   d->name, dup->id);
			for (const Ident *q = d->params; q != dup; q = q->next)
				if (strcmp(q->id, dup->id) == 0) {
					diag_note(q->span, "the first '%s' is "
						  "here", q->id);
					break;
				}
		}
		for (size_t i = 0; i < sizeof builtins / sizeof builtins[0];
		     i++)
			if (strcmp(builtins[i].name, d->name) == 0)
				diag_error(d->name_span,
					   "def '%s' would hide the built-in "
					   "function of that name",
					   d->name);
	}
	stmts(&S, p->model->body);
	for (int i = 0; i < ndefines; i++)
		if (!defines[i].used)
			diag_error_noloc("-D %s: the model has no const named "
					 "'%s'",
					 defines[i].name, defines[i].name);
	if (diag_error_count())
		return NULL;
	/* inference only with no `output`: expose every vertex computed from
	 * the data that nothing else uses */
	if (S.g->losses.len == 0 && S.g->outputs.len == 0) {
		for (int i = 0; i < S.g->vertices.len; i++) {
			Vertex *v = S.g->vertices.items[i];
			if (v->root->nuses == 0 && v->root->batched)
				add_output(&S, c_ident(a, v->label), v->root);
		}
	}
	/* expose loss outputs */
	for (int i = 0; i < S.g->losses.len; i++) {
		Loss *l = S.g->losses.items[i];
		add_output(&S, c_ident(a, l->out->label), l->out);
	}
	if (graph_analyse(a, S.g) != 0)
		return NULL;
	/* a loss must depend on some parameter */
	for (int i = 0; i < S.g->losses.len; i++) {
		Loss *l = S.g->losses.items[i];
		if (!l->out->on_param)
			diag_error(l->span,
				   "this loss depends on no parameter, so "
				   "nothing can learn from it");
	}
	/* ops without code generation yet */
	for (int i = 0; i < S.g->nodes.len; i++) {
		Node *n = S.g->nodes.items[i];
		if (!op_supported(n->op))
			diag_error(n->span, "%s is not supported yet by code "
				   "generation", op_name[n->op]);
		if (diag_too_many())
			break;
	}
	if (diag_error_count())
		return NULL;
	return S.g;
}
