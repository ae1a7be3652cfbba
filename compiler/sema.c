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
	MAX_NODES = 200000,      /* graph nodes (generated code grows with them);
				  * the caller may set another limit */
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
	Diag *d;
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
	int max_nodes;  /* MAX_NODES unless the caller set one */
	int64_t work; /* loop iterations and def calls so far */
	/* `for` iteration context, for labels: "a@t=3" */
	const char *iter_suffix;
	int in_shape;   /* evaluating shape dimensions */
	PtrVec buffers; /* ParamDecls of buffers, appended to the params last */
	int in_loss;    /* evaluating a loss statement */
	/* by node id: the def parameter an inner node was first bound to
	 * (ArgName *), its name if it must become a vertex (split_vertices) */
	PtrVec arg_names;
} Sema;

typedef struct ArgName {
	const char *label; /* "f.1.x" */
	const char *base;  /* buffer base name: "f_x" */
} ArgName;

/* The attributes of ops that take none. */
static const OpAttr no_attr;

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
val_num(double x, Span sp)
{
	Value v = val_error();
	v.kind = VAL_NUM;
	v.num = x;
	/* integer-valued numbers are integers, however they were written
	 * (4.0, sqrt(16)): LANGUAGE.md lets them size shapes */
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

/* Whether a shape's dimensions are positive and its element count at
 * most MAX_NUMEL: what check_numel reports, tested before its message
 * is made (once for each operation of a long model). */
static int
numel_ok(const Shape *s)
{
	int64_t n = 1;
	for (int i = 0; i < s->rank; i++) {
		if (s->dim[i] <= 0 || n > MAX_NUMEL / s->dim[i])
			return 0;
		n *= s->dim[i];
	}
	return 1;
}

/* Check an element count; report and return 0 when too large.  `what`
 * names the operation whose result it is ("the result of [2] @ [2,3]"),
 * or is NULL for a shape written in the source. */
static int
check_numel(Sema *S, const Shape *s, Span sp, const char *what)
{
	if (numel_ok(s))
		return 1;
	int64_t n = 1;
	for (int i = 0; i < s->rank; i++) {
		if (s->dim[i] <= 0) {
			diag_error(S->d, sp, "shape %s has a non-positive dimension",
				   S_shape(S, s));
			return 0;
		}
		if (n > MAX_NUMEL / s->dim[i]) {
			if (what)
				diag_error(S->d, sp,
					   "%s would be %s, which has too many "
					   "elements (at most %lld allowed)",
					   what, S_shape(S, s),
					   (long long)MAX_NUMEL);
			else
				diag_error(S->d, sp,
					   "shape %s has too many elements (at "
					   "most %lld allowed)",
					   S_shape(S, s), (long long)MAX_NUMEL);
			return 0;
		}
		n *= s->dim[i];
	}
	return 1;
}

/* Integer ids are read only by embedding, one_hot and losses. */
static int
ids_ok(Sema *S, OpKind op, int k, const Node *x, Span sp)
{
	if (!x->is_int || (op == OP_EMBEDDING && k == 1) ||
	    (op == OP_ONE_HOT && k == 0) || (op_defs[op].cls == OPC_LOSS && k == 1))
		return 1;
	diag_error(S->d, sp, "'%s' holds integer ids; they can only be used through "
		   "embedding, one_hot or as a loss target", x->label);
	return 0;
}

static Node *
new_node(Sema *S, OpKind op, const Shape *shape, int nin, Node **in, Span sp)
{
	if (S->g->nodes.len >= S->max_nodes) {
		if (!S->too_big)
			diag_error(S->d, sp,
				   "model too large: more than %d operations "
				   "after unrolling loops and inlining defs",
				   S->max_nodes);
		S->too_big = 1;
		return NULL;
	}
	for (int k = 0; k < nin; k++)
		if (!ids_ok(S, op, k, in[k], sp))
			return NULL;
	Node *n = graph_node(S->a, S->g, op, shape, nin, in, sp);
	n->line = S->line;
	n->at = &no_attr;
	n->in_loss = S->in_loss && !S->vertex && !op_is_leaf(op);
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
		diag_error(S->d, sp, "'%s' is already defined (as %s)", name,
			   sym_kind_name(old));
		if (old->span.hi > 0)
			diag_note(S->d, old->span, "'%s' was defined here", name);
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
			diag_note(S->d, s->span, "'%s' is %s, from -D %s on the "
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
		diag_error(S->d, e->span, "%s must be a compile-time number", what);
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
		diag_error(S->d, e->span, "%s must be an integer, but %s here is "
			   REAL_WHY, what, num_text(x));
		note_define(S, e);
		return 0;
	}
	if (!is_int) {
		diag_error(S->d, e->span, "%s must be an integer, got %s", what,
			   num_text(x));
		note_define(S, e);
		return 0;
	}
	*out = (int64_t)x;
	return 1;
}


/* A shape: EXPR_LIST of positive integers. */
static int
eval_shape(Sema *S, const Expr *list, Shape *out)
{
	memset(out, 0, sizeof *out);
	if (list->kind != EXPR_LIST) {
		diag_error(S->d, list->span, "expected a shape like [2, 3]");
		return 0;
	}
	if (list->u.list.n > PCC_MAX_RANK) {
		diag_error(S->d, list->span, "shape has rank %d; at most %d allowed",
			   list->u.list.n, PCC_MAX_RANK);
		return 0;
	}
	int ok = 1;
	int saved = S->in_shape;
	S->in_shape = 1;
	for (const Expr *d = list->u.list.items; d; d = d->next) {
		double x;
		int is_int;
		if (!eval_number(S, d, "a shape dimension", &x, &is_int)) {
			ok = 0;
			continue;
		}
		if (x == floor(x) && x > (double)MAX_NUMEL) {
			diag_error(S->d, d->span,
				   "shape dimension %s is too large (at most "
				   "%lld)",
				   num_text(x), (long long)MAX_NUMEL);
			note_define(S, d);
			ok = 0;
			continue;
		}
		if (!is_int && x == floor(x) && x > 0) {
			diag_error(S->d, d->span,
				   "shape dimension must be a positive integer, "
				   "but %s here is " REAL_WHY,
				   num_text(x));
			note_define(S, d);
			ok = 0;
			continue;
		}
		if (!is_int || x <= 0) {
			diag_error(S->d, d->span,
				   "shape dimension must be a positive integer, "
				   "got %s",
				   num_text(x));
			note_define(S, d);
			ok = 0;
			continue;
		}
		out->dim[out->rank++] = (int64_t)x;
	}
	S->in_shape = saved;
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
		n->value = value;
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

static const char *const bin_sym[] = {"+", "-", "*", "/", "@"};

static Value
fold_binary(Sema *S, BinOp op, double x, double y, int xi, int yi, Span sp,
	    Span op_span)
{
	int both = xi && yi;
	double r = op == BIN_ADD ? x + y
		   : op == BIN_SUB ? x - y
		   : op == BIN_MUL ? x * y
		   : op == BIN_DIV && y != 0 ? x / y : 0;
	if (!isfinite(r)) {
		diag_error(S->d, op_span, "%s %s %s is not a finite number",
			   num_text(x), bin_sym[op], num_text(y));
		return val_error();
	}
	switch (op) {
	case BIN_ADD:
	case BIN_SUB:
	case BIN_MUL:
		return val_num(r, sp);
	case BIN_DIV:
		if (y == 0) {
			diag_error(S->d, op_span, "division by zero");
			return val_error();
		}
		if (both && S->in_shape && fmod(x, y) != 0) {
			diag_error(S->d, sp,
				   "'/' leaves a remainder in a shape: %s / %s",
				   num_text(x), num_text(y));
			return val_error();
		}
		return val_num(x / y, sp);
	case BIN_MATMUL:
		diag_error(S->d, op_span, "'@' needs tensor operands, not numbers");
		return val_error();
	}
	unreachable();
}

static Value make_node(Sema *S, OpCall *c, Node **in, int nin, Span sp,
		       const char *what);

/* A node of a two-input op from the table (operators, matmul). */
static Value
op2(Sema *S, OpKind op, Node *a, Node *b, Span sp, Span op_span,
    const char *sym)
{
	OpCall c;
	memset(&c, 0, sizeof c);
	c.a = S->a;
	c.d = S->d;
	c.span = sp;
	c.id_span = op_span;
	OpAttr scratch;
	memset(&scratch, 0, sizeof scratch);
	c.op = op;
	c.at = &scratch; /* operators have no attributes */
	c.nin = 2;
	c.in[0] = a;
	c.in[1] = b;
	if (!ids_ok(S, op, 0, a, op_span) || !ids_ok(S, op, 1, b, op_span))
		return val_error();
	if (!op_defs[op].shape(&c))
		return val_error();
	Node *in[2] = {a, b};
	Value v = make_node(S, &c, in, 2, sp, numel_ok(&c.out) ? NULL
			    : arena_printf(S->a, "the result of %s %s %s",
					   S_shape(S, &a->shape), sym,
					   S_shape(S, &b->shape)));
	if (v.kind == VAL_NODE)
		v.node->at = &no_attr;
	return v;
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
		diag_error(S->d, e->u.bin.op_span,
			   "a shape list [..] is only allowed as an argument "
			   "of reshape, zeros or ones");
		return val_error();
	}
	if (l.kind == VAL_NUM && r.kind == VAL_NUM)
		return fold_binary(S, op, l.num, r.num, l.is_int, r.is_int,
				   e->span, e->u.bin.op_span);
	if (op == BIN_MATMUL && (l.kind == VAL_NUM || r.kind == VAL_NUM)) {
		diag_error(S->d, e->u.bin.op_span,
			   "cannot multiply a number with '@'; use '*'");
		return val_error();
	}
	Node *a = as_node(S, l), *b = as_node(S, r);
	if (!a || !b)
		return val_error();
	static const OpKind kind[] = {OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MATMUL};
	return op2(S, kind[op], a, b, e->span, e->u.bin.op_span, bin_sym[op]);
}

/* -------------------------------------------------------------- calls */

static Node *vertex_value(Sema *S, const Expr *rhs, const char *label,
			  const char *base, Span sp);

static Value call_def(Sema *S, const Expr *e, const Def *d);

/* The kind of keyword `kw` in an op's keyword list ("stride:P pad:P"),
 * its index in *at; 0 if the op takes no such keyword. */
static char
keyword_kind(const char *list, const char *kw, int *at)
{
	size_t n = strlen(kw);
	const char *p = list;
	for (int i = 0; p && *p; i++) {
		const char *colon = strchr(p, ':');
		if ((size_t)(colon - p) == n && strncmp(p, kw, n) == 0) {
			*at = i;
			return colon[1];
		}
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return 0;
}

/* The names of an op's keywords, for messages: "stride pad". */
static const char *
keyword_names(Sema *S, const char *list)
{
	StrBuf sb = {0};
	sb_puts(&sb, "");
	for (const char *p = list; *p; p++) {
		if (*p == ':') {
			while (p[1] && p[1] != ' ')
				p++;
			continue;
		}
		sb_putc(&sb, *p);
	}
	const char *r = arena_strdup(S->a, sb.data);
	sb_free(&sb);
	return r;
}

/* An integer or a list of integers: into a->n, a->v. */
static int
eval_ints(Sema *S, const Expr *e, const char *what, OpArg *a)
{
	a->span = e->span;
	a->given = 1;
	if (e->kind != EXPR_LIST) {
		a->n = 1;
		return eval_int(S, e, what, &a->v[0]);
	}
	if (e->u.list.n < 1 || e->u.list.n > PCC_MAX_RANK) {
		diag_error(S->d, e->span, "%s takes 1 to %d integers", what,
			   PCC_MAX_RANK);
		return 0;
	}
	for (const Expr *d = e->u.list.items; d; d = d->next)
		if (!eval_int(S, d, what, &a->v[a->n++]))
			return 0;
	return 1;
}

/* A keyword argument by its kind: I integer, N number, P non-negative
 * integer(s) (stride and dilation positive), A axis or axes, L list. */
static int
eval_keyword(Sema *S, const Arg *a, char kind, OpArg *out)
{
	out->span = a->value->span;
	out->given = 1;
	if (kind == 'N') {
		Value v = eval(S, a->value);
		if (v.kind == VAL_ERROR)
			return 0;
		if (v.kind != VAL_NUM) {
			diag_error(S->d, a->value->span, "%s must be a compile-time "
				   "number", a->kw);
			return 0;
		}
		out->num = v.num;
		out->is_int = v.is_int;
		return 1;
	}
	if (kind == 'L' && a->value->kind != EXPR_LIST) {
		diag_error(S->d, a->value->span, "%s takes a list like [0, 2, 1]",
			   a->kw);
		return 0;
	}
	if (!eval_ints(S, a->value, a->kw, out))
		return 0;
	if (kind != 'P')
		return 1;
	int positive = strcmp(a->kw, "pad") != 0;
	for (int i = 0; i < out->n; i++) {
		int64_t v = out->v[i];
		if (positive && v <= 0) {
			diag_error(S->d, a->value->span, "%s must be positive, got %lld",
				   a->kw, (long long)v);
			return 0;
		}
		if (!positive && v < 0) {
			diag_error(S->d, a->value->span, "%s must not be negative, got "
				   "%lld", a->kw, (long long)v);
			return 0;
		}
		/* node attributes are ints; larger values make no sense for
		 * any tensor pcc accepts */
		if (v > MAX_NUMEL) {
			diag_error(S->d, a->value->span, "%s %lld is too large (at most "
				   "%lld)", a->kw, (long long)v,
				   (long long)MAX_NUMEL);
			return 0;
		}
	}
	return 1;
}

static Value
make_node(Sema *S, OpCall *c, Node **in, int nin, Span sp, const char *what)
{
	if (!numel_ok(&c->out) &&
	    !check_numel(S, &c->out, c->id_span,
			 what ? what : arena_printf(S->a, "the result of %s",
						    op_defs[c->op].call)))
		return val_error();
	if (c->op == OP_CONST) {
		Node *n = const_node(S, c->value, &c->out, sp);
		return n ? val_node(n, sp) : val_error();
	}
	Node *n = new_node(S, c->op, &c->out, nin, in, sp);
	if (!n)
		return val_error();
	/* the shape rule filled the call's attributes (on the stack): a
	 * copy is kept only when there are some (a long model has as many
	 * calls as steps, most without any) */
	if (memcmp(c->at, &no_attr, sizeof no_attr) != 0) {
		OpAttr *at = arena_alloc(S->a, sizeof *at);
		*at = *c->at;
		n->at = at;
	}
	return val_node(n, sp);
}

/*
 * batchnorm's running mean and variance: two buffers of the channel
 * count, named after the vertex ("h.running_mean"; a second batchnorm
 * of the vertex "h.2.running_mean"), appended to the call's inputs.
 * They join the parameters after the last one (sema_build).
 */
static int
add_running_stats(Sema *S, Node **in, int *nin, Span sp)
{
	const char *base = S->vertex ? S->vertex->label : "loss";
	int k = 1;
	const char *name;
	for (;;) {
		name = k == 1 ? arena_printf(S->a, "%s.running_mean", base)
			      : arena_printf(S->a, "%s.%d.running_mean", base, k);
		int taken = 0;
		for (int i = 0; i < S->buffers.len; i++)
			taken |= !strcmp(((ParamDecl *)S->buffers.items[i])->name,
					 name);
		if (!taken)
			break;
		k++;
	}
	Shape sh = {.rank = 1, .dim = {in[0]->shape.dim[0]}};
	for (int w = 0; w < 2; w++) {
		Node *n = new_node(S, OP_PARAM, &sh, 0, NULL, sp);
		if (!n)
			return 0;
		ParamDecl *p = arena_alloc(S->a, sizeof *p);
		size_t len = strlen(name) - strlen("mean");
		p->name = w ? arena_printf(S->a, "%.*svar", (int)len, name) : name;
		p->shape = sh;
		p->span = sp;
		p->node = n;
		p->init = w ? INIT_ONES : INIT_ZEROS;
		p->buffer = 1;
		n->label = p->name;
		n->batched = 0;
		n->is_buffer = 1;
		vec_push(S->a, &S->buffers, p);
		in[(*nin)++] = n;
	}
	return 1;
}

static Value
call_builtin(Sema *S, const Expr *e, OpKind op)
{
	const OpDef *d = &op_defs[op];
	const char *fn = d->call;
	OpCall c;
	memset(&c, 0, sizeof c);
	c.a = S->a;
	c.d = S->d;
	c.span = e->span;
	c.id_span = e->u.call.id_span;
	c.op = op;
	OpAttr attr;
	memset(&attr, 0, sizeof attr);
	c.at = &attr;
	int ok = 1;
	/* keywords */
	const char *kws = d->keywords ? d->keywords : "";
	const Arg *pos[OP_MAX_ARGS];
	int npos = 0;
	for (const Arg *a = e->u.call.args; a; a = a->next) {
		if (!a->kw) {
			if (npos < OP_MAX_ARGS)
				pos[npos] = a;
			npos++;
			continue;
		}
		const Arg *prev = e->u.call.args;
		while (prev != a && !(prev->kw && strcmp(prev->kw, a->kw) == 0))
			prev = prev->next;
		if (prev != a) {
			diag_error(S->d, a->kw_span, "keyword argument '%s' is given "
				   "twice", a->kw);
			diag_note(S->d, prev->kw_span, "the first '%s' is here", a->kw);
			ok = 0;
			continue;
		}
		int at;
		char kind = keyword_kind(kws, a->kw, &at);
		if (!kind) {
			if (kws[0])
				diag_error(S->d, a->kw_span, "unknown keyword argument "
					   "'%s' for %s (expected: %s)", a->kw, fn,
					   keyword_names(S, kws));
			else
				diag_error(S->d, a->kw_span, "%s takes no keyword "
					   "arguments", fn);
			ok = 0;
			continue;
		}
		if (!eval_keyword(S, a, kind, &c.kw[at]))
			ok = 0;
	}
	/* arity */
	const char *args = d->args;
	size_t nspec = strlen(args);
	int variadic = nspec && args[nspec - 1] == '*';
	int min = (int)nspec - variadic;
	if ((!variadic && npos != min) || npos < min ||
	    (variadic && npos > 100000)) {
		if (!variadic)
			diag_error(S->d, c.id_span, "%s takes %d argument%s, got %d", fn,
				   min, min == 1 ? "" : "s", npos);
		else
			diag_error(S->d, c.id_span, "%s takes at least %d argument%s, got "
				   "%d", fn, min, min == 1 ? "" : "s", npos);
		return val_error();
	}
	if (!ok)
		return val_error();
	c.nargs = npos; /* the shape rule reads the number arguments */
	if (variadic) { /* concat: any number of tensors */
		Node **many = arena_alloc(S->a, sizeof(Node *) * (size_t)npos);
		int k = 0, good = 1;
		for (const Arg *a = e->u.call.args; a; a = a->next) {
			if (a->kw)
				continue;
			Value v = eval(S, a->value);
			if (k < OP_MAX_ARGS)
				c.in_span[k] = a->value->span;
			if (v.kind == VAL_ERROR) {
				good = 0;
			} else if (v.kind != VAL_NODE) {
				diag_error(S->d, a->value->span, "%s takes tensors, not "
					   "numbers or shapes", fn);
				good = 0;
			} else {
				many[k] = v.node;
			}
			k++;
		}
		if (!good)
			return val_error();
		c.many = many;
		c.nin = npos;
		if (!d->shape(&c))
			return val_error();
		return make_node(S, &c, many, npos, e->span, NULL);
	}
	if (d->cls == OPC_LOSS && !S->in_loss) {
		diag_error(S->d, c.id_span, "%s is a loss: write 'loss %s(output, "
			   "target);'", fn, fn);
		return val_error();
	}
	/* positional arguments by their letters */
	Value v[OP_MAX_ARGS];
	memset(v, 0, sizeof v);
	for (int i = 0; i < npos; i++) {
		OpArg *oa = &c.arg[i];
		const Expr *x = pos[i]->value;
		oa->span = x->span;
		oa->given = 1;
		char kind = args[i];
		if (kind == 'W' && x->kind == EXPR_LIST) {
			if (!eval_ints(S, x, arena_printf(S->a, "%s window", fn),
				       oa))
				ok = 0;
			continue;
		}
		if (d->cls == OPC_LOSS && i == 0 && x->kind != EXPR_NAME) {
			/* the output of a loss: a vertex of its own */
			S->loss_count++;
			const char *label = arena_printf(S->a, "loss%d",
							 S->loss_count);
			Node *o = vertex_value(S, x, label, label, x->span);
			v[i] = o ? val_node(o, x->span) : val_error();
		} else {
			v[i] = eval(S, x);
		}
		if (v[i].kind == VAL_ERROR) {
			ok = 0;
			continue;
		}
		if (kind == 'S') {
			if (v[i].kind == VAL_SHAPE) {
				oa->n = v[i].shape.rank;
				memcpy(oa->v, v[i].shape.dim, sizeof oa->v);
			} else {
				oa->node = v[i].node;
			}
			continue;
		}
		if (v[i].kind == VAL_SHAPE) {
			if (i == 0)
				diag_error(S->d, x->span, "%s takes a tensor, not a "
					   "shape list", fn);
			else
				diag_error(S->d, x->span, "argument %d of %s must be a "
					   "compile-time number", i + 1, fn);
			ok = 0;
			continue;
		}
		if (kind == 'N' || kind == 'W') {
			if (v[i].kind != VAL_NUM) {
				diag_error(S->d, x->span, "argument %d of %s must be a "
					   "compile-time number", i + 1, fn);
				ok = 0;
				continue;
			}
			oa->num = v[i].num;
			oa->is_int = v[i].is_int;
			if (kind == 'W') {
				double w = v[i].num;
				if (!v[i].is_int || w <= 0) {
					if (w == floor(w) && w > 0)
						diag_error(S->d, x->span, "%s window must "
							   "be a positive integer, "
							   "but %s here is " REAL_WHY,
							   fn, num_text(w));
					else
						diag_error(S->d, x->span, "%s window must "
							   "be a positive integer, "
							   "got %s", fn, num_text(w));
					ok = 0;
					continue;
				}
				oa->n = 1;
				oa->v[0] = (int64_t)w;
			}
			continue;
		}
		/* T or I: a tensor (a number is a scalar constant) */
		if (v[i].kind == VAL_NODE)
			oa->node = v[i].node;
	}
	if (!ok)
		return val_error();
	/* elementwise functions of numbers fold */
	if ((d->cls == OPC_UNARY || d->cls == OPC_BINARY) && d->fold &&
	    v[0].kind == VAL_NUM && (d->cls == OPC_UNARY || v[1].kind == VAL_NUM)) {
		double a[3] = {0, 0, 0};
		for (int i = 1; i < npos && i <= 3; i++)
			a[i - 1] = v[i].num;
		double r = d->fold(v[0].num, a);
		if (isnan(r) || isinf(r)) {
			diag_error(S->d, e->span, "%s(%s) is not a finite number", fn,
				   num_text(v[0].num));
			return val_error();
		}
		return val_num(r, e->span);
	}
	Node *in[OP_MAX_ARGS];
	int nin = 0;
	for (int i = 0; i < npos; i++) {
		char kind = args[i];
		if (kind != 'T' && kind != 'I')
			continue;
		Node *n = c.arg[i].node;
		if (!n)
			n = as_node(S, v[i]);
		if (!n)
			return val_error();
		if (kind == 'I' && !n->is_int) {
			diag_error(S->d, c.arg[i].span, "argument %d of %s must be "
				   "integer ids (an 'int' input or target)", i + 1,
				   fn);
			return val_error();
		}
		if (!ids_ok(S, op, nin, n, c.arg[i].span))
			return val_error();
		c.arg[i].node = n;
		c.in_span[nin] = c.arg[i].span;
		c.in[nin] = in[nin] = n;
		nin++;
	}
	c.nin = nin;
	if (!d->shape(&c))
		return val_error();
	if (op == OP_BATCHNORM && !add_running_stats(S, in, &nin, e->span))
		return val_error();
	return make_node(S, &c, in, nin, e->span, NULL);
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
		diag_error(S->d, e->u.call.id_span, "'%s' is %s, not a function",
			   fn, sym_kind_name(s));
		return val_error();
	}
	int op = op_lookup(fn);
	if (op >= 0)
		return call_builtin(S, e, (OpKind)op);
	if (S->in_loss)
		diag_error(S->d, e->u.call.id_span, "unknown function '%s' (the losses "
			   "are mse, cross_entropy, bce, l1 and huber)", fn);
	else
		diag_error(S->d, e->u.call.id_span, "unknown function '%s'", fn);
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
	diag_line_col(S->d, sp, &v->line, &col);
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
		diag_error(S->d, rhs->span,
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
			diag_error(S->d, st->name_span,
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
		diag_error(S->d, st->index->span,
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
			diag_error(S->d, st->name_span,
				   "%s[%lld] is already defined, by an earlier "
				   "iteration of this loop (now %s)",
				   name, (long long)idx, it.data);
			sb_free(&it);
			return;
		}
		diag_error(S->d, st->name_span,
			   "%s[%lld] is already defined", name,
			   (long long)idx);
		diag_note(S->d, f->where[idx], "%s[%lld] was defined here", name,
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
		diag_error(S->d, st->name_span, "-D %s sets '%s' to %s, which is not "
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
		diag_error(S->d, kw,
			   "%s cannot be declared inside a for loop; declare "
			   "'%s' before the loop, where every iteration can "
			   "use it",
			   what, st->name);
		ok = 0;
	} else if (st->shape->kind == EXPR_LIST && st->shape->u.list.n == 0) {
		memset(&sh, 0, sizeof sh); /* int label < C: one per sample */
	} else if (!eval_shape(S, st->shape, &sh)) {
		ok = 0;
	}
	int64_t bound = 0;
	if (ok && st->is_int) {
		if (!eval_int(S, st->bound, "the bound of integer ids", &bound))
			ok = 0;
		else if (bound < 1 || bound > 2147483647LL) {
			diag_error(S->d, st->bound->span, "the bound of integer ids must "
				   "be from 1 to 2147483647, got %lld",
				   (long long)bound);
			note_define(S, st->bound);
			ok = 0;
		}
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
	n->is_int = st->is_int;
	n->bound = bound;
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
				diag_error(S->d, ie->kind == EXPR_CALL
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
					diag_error(S->d, ie->span,
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
							diag_error(S->d, a->kw_span,
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
						diag_error(S->d, ie->span,
							   "normal(std) needs "
							   "std >= 0, got %s",
							   num_text(v[0]));
					if (good && p->init == INIT_UNIFORM &&
					    !(v[0] < v[1]))
						diag_error(S->d, ie->span,
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
	d->is_int = st->is_int;
	d->bound = bound;
	d->span = st->name_span;
	d->node = n;
	n->batched = 1;
	s->data = d;
	PtrVec *list = op == OP_INPUT ? &S->g->inputs : &S->g->targets;
	n->decl = list->len;
	vec_push(S->a, list, d);
	return d;
}

/*
 * loss EXPR;  The expression's nodes form the loss (no vertex): its value
 * is a scalar per sample, or a shared scalar (a penalty on parameters).
 * The first argument of a named loss (mse, cross_entropy...) that is not
 * a name becomes a vertex of its own ("lossN"), as an output.
 */
static void
stmt_loss(Sema *S, const Stmt *st)
{
	const Expr *e = st->value;
	int first = S->g->nodes.len;
	S->in_loss = 1;
	Value v = eval(S, e);
	S->in_loss = 0;
	if (v.kind == VAL_ERROR)
		return;
	if (v.kind != VAL_NODE) {
		diag_error(S->d, e->span, "a loss must be computed from the model; "
			   "this is a %s", v.kind == VAL_NUM ? "number"
							      : "shape list");
		return;
	}
	Node *r = v.node;
	if (r->shape.rank != 0) {
		diag_error(S->d, e->span, "a loss must be a scalar per sample, but "
			   "this expression has shape %s (sum or mean it)",
			   S_shape(S, &r->shape));
		return;
	}
	if (!r->in_loss) { /* `loss h;` with h a scalar vertex */
		S->in_loss = 1;
		Value w = unary_node(S, OP_IDENTITY, r, e->span);
		S->in_loss = 0;
		if (w.kind != VAL_NODE)
			return;
		r = w.node;
	}
	Loss *l = arena_alloc(S->a, sizeof *l);
	l->root = r;
	l->span = st->span;
	int col;
	diag_line_col(S->d, st->span, &l->line, &col);
	for (int i = first; i < S->g->nodes.len; i++) {
		Node *n = S->g->nodes.items[i];
		if (!n->in_loss)
			continue;
		vec_push(S->a, &l->nodes, n);
		for (int k = 0; k < n->nin; k++) {
			Node *x = n->in[k];
			int seen = x->in_loss || op_is_leaf(x->op);
			for (int q = 0; !seen && q < l->outs.len; q++)
				seen = l->outs.items[q] == x;
			if (!seen)
				vec_push(S->a, &l->outs, x);
		}
	}
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
			diag_error(S->d, id->span, "undefined name '%s'", id->id);
			continue;
		}
		if (s->failed)
			continue;
		if (s->kind != SYM_VERTEX || !s->node) {
			diag_error(S->d, id->span,
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
		diag_error(S->d, sp,
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
		diag_error(S->d, range, "empty loop range %lld..%lld: the range is "
			   "half-open, so %lld..%lld runs no iteration",
			   (long long)lo, (long long)hi, (long long)lo,
			   (long long)hi);
		note_define(S, st->lo);
		note_define(S, st->hi);
		fail_families(S, st->body);
		return;
	}
	if (hi < lo) {
		diag_error(S->d, range,
			   "reversed loop range %lld..%lld (the range is "
			   "half-open: lo..hi with lo < hi)",
			   (long long)lo, (long long)hi);
		note_define(S, st->lo);
		note_define(S, st->hi);
		fail_families(S, st->body);
		return;
	}
	if (hi - lo > MAX_WORK) {
		diag_error(S->d, range,
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
		int before = diag_error_count(S->d);
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
		if (diag_error_count(S->d) > before || S->too_big ||
		    diag_too_many(S->d)) {
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
	for (; st && !diag_too_many(S->d) && !S->too_big; st = st->next) {
		int col;
		diag_line_col(S->d, st->span, &S->line, &col);
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

/* Remember the parameter an inner node of the vertex under construction is
 * bound to (the outermost call's, if it is passed on), for split_vertices.
 * Leaves and vertices are read as they are. */
static void
name_arg(Sema *S, Node *n, const Def *d, int ncall, const char *param)
{
	if (!n->vertex || n->vertex->root == n)
		return;
	while (S->arg_names.len <= n->id)
		vec_push(S->a, &S->arg_names, NULL);
	if (S->arg_names.items[n->id])
		return;
	ArgName *an = arena_alloc(S->a, sizeof *an);
	an->label = arena_printf(S->a, "%s.%d.%s", d->name, ncall, param);
	an->base = c_ident(S->a, arena_printf(S->a, "%s_%s", d->name, param));
	S->arg_names.items[n->id] = an;
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
			diag_error(S->d, e->u.call.id_span,
				   "recursive call of def '%s'", d->name);
			diag_note(S->d, d->name_span, "'%s' is defined here",
				  d->name);
			return val_error();
		}
	if (S->nactive >= MAX_DEPTH) {
		diag_error(S->d, e->span, "def calls nested too deeply (more than "
			   "%d)", MAX_DEPTH);
		return val_error();
	}
	if (e->u.call.nargs != d->nparams) {
		diag_error(S->d, e->u.call.id_span, "%s takes %d argument%s, got %d",
			   d->name, d->nparams, d->nparams == 1 ? "" : "s",
			   e->u.call.nargs);
		diag_note(S->d, d->name_span, "'%s' is defined here", d->name);
		return val_error();
	}
	/* evaluate the arguments in the caller's scope */
	Value *args = arena_alloc(S->a, sizeof(Value) * (size_t)(d->nparams + 1));
	int ok = 1, k = 0;
	for (const Arg *a = e->u.call.args; a; a = a->next, k++) {
		if (a->kw) {
			diag_error(S->d, a->kw_span,
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
	int errors_before = diag_error_count(S->d);
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
			name_arg(S, s->node, d, ncall, p->id);
		} else {
			diag_error(S->d, e->span, "argument %d of '%s' is a shape "
				   "list, which defs cannot take", k + 1, d->name);
			s->num = NAN;
			s->failed = 1;
		}
	}
	/* statements inside the def: vertices named "<def>.<n>.<name>" */
	VCtx caller = {S->vertex, S->base, S->line};
	S->base = arena_printf(S->a, "%s.%d", d->name, ncall);
	for (const Stmt *st = d->body; st && !diag_too_many(S->d); st = st->next) {
		int col;
		diag_line_col(S->d, st->span, &S->line, &col);
		if (st->kind == STMT_CONST) {
			stmt_const(S, st);
		} else if (st->kind == STMT_ASSIGN && !st->index) {
			stmt_assign(S, st);
		} else if (st->kind == STMT_ASSIGN) {
			diag_error(S->d, st->name_span,
				   "a def body cannot define a family member "
				   "%s[...]; use a plain name",
				   st->name);
			Sym *s = lookup(S, st->name) ? NULL
				 : define(S, st->name, st->name_span,
					  SYM_VERTEX);
			if (s)
				s->failed = 1; /* no follow-up errors */
		} else {
			diag_error(S->d, st->span,
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
	if (diag_error_count(S->d) > errors_before &&
	    S->nactive <= MAX_CALL_NOTES)
		diag_note(S->d, e->u.call.id_span, "in this call of '%s'", d->name);
	S->nactive--;
	S->scope = saved_scope;
	S->def_scope_base = saved_base;
	S->in_def = saved_in_def;
	S->iter_suffix = saved_suffix;
	return r;
}

/*
 * A vertex is read from its root only: a PC edge leaves a vertex from its
 * root (level.c).  Def arguments are evaluated in the caller's vertex, and
 * the def's named statements, vertices of their own, read them: in
 * `o = f(x * 2, W)`, x * 2 is an inner node of o that the statement h of
 * f reads.  Every inner node read by a live node of another vertex becomes
 * the root of a vertex of its own, named after the def parameter it was
 * bound to ("f.1.x", like the def's statements "f.1.h"), with the inner
 * nodes of its old vertex that only it uses; an inner node that ends up
 * used by two vertices becomes a vertex too ("o/mul4").  A graph where no
 * vertex reads an inner node of another is left as it is.
 */
static void
split_vertices(Sema *S)
{
	Arena *a = S->a;
	Graph *g = S->g;
	int nn = g->nodes.len, nv = g->vertices.len;
	/* live: reaches a loss or an output (as graph_analyse will say); a
	 * dead reader is not computed, so it needs nothing */
	char *live = arena_alloc(a, (size_t)nn + 1);
	for (int i = 0; i < g->losses.len; i++)
		live[((Loss *)g->losses.items[i])->root->id] = 1;
	for (int i = 0; i < g->outputs.len; i++)
		live[((OutputDecl *)g->outputs.items[i])->node->id] = 1;
	for (int i = nn - 1; i >= 0; i--) {
		Node *n = g->nodes.items[i];
		for (int k = 0; live[i] && k < n->nin; k++)
			live[n->in[k]->id] = 1;
	}
	/* the inner nodes read from another vertex */
	char *cut = arena_alloc(a, (size_t)nn + 1);
	int any = 0;
	for (int i = 0; i < nn; i++) {
		Node *n = g->nodes.items[i];
		for (int k = 0; live[i] && k < n->nin; k++) {
			Node *m = n->in[k];
			if (m->vertex && m->vertex != n->vertex &&
			    m->vertex->root != m)
				cut[m->id] = any = 1;
		}
	}
	if (!any)
		return;
	/* owner: the root a node goes with, consumers before producers.  A
	 * node goes with the root its live uses in its vertex lead to; uses
	 * that lead to two roots make it a root. */
	Node **owner = arena_alloc(a, sizeof(Node *) * (size_t)(nn + 1));
	Node **use = arena_alloc(a, sizeof(Node *) * (size_t)(nn + 1));
	char *shared = arena_alloc(a, (size_t)nn + 1);
	for (int i = nn - 1; i >= 0; i--) {
		Node *n = g->nodes.items[i];
		if (!n->vertex)
			continue;
		if (n == n->vertex->root || cut[i] || shared[i])
			owner[i] = n;
		else if (use[i])
			owner[i] = use[i];
		else /* dead: stays where it is */
			owner[i] = n->vertex->root;
		for (int k = 0; live[i] && k < n->nin; k++) {
			Node *m = n->in[k];
			if (m->vertex != n->vertex)
				continue;
			if (!use[m->id])
				use[m->id] = owner[i];
			else if (use[m->id] != owner[i])
				shared[m->id] = 1;
		}
	}
	/* the new vertices, in topological order of their roots */
	Vertex **vof = arena_alloc(a, sizeof(Vertex *) * (size_t)(nn + 1));
	char *lost = arena_alloc(a, (size_t)nv + 1);
	for (int i = 0; i < nn; i++) {
		Node *n = g->nodes.items[i];
		if (!n->vertex || owner[i] != n)
			continue;
		if (n == n->vertex->root) {
			vof[i] = n->vertex;
			continue;
		}
		const ArgName *an = i < S->arg_names.len
			? S->arg_names.items[i] : NULL;
		Vertex *w = arena_alloc(a, sizeof *w);
		w->id = g->vertices.len;
		w->label = an ? an->label
			      : arena_printf(a, "%s/%s%d", n->vertex->label,
					     op_name[n->op], n->id);
		w->span = n->span;
		int col;
		diag_line_col(S->d, n->span, &w->line, &col);
		w->root = n;
		vec_push(a, &g->vertices, w);
		lost[n->vertex->id] = 1;
		n->label = w->label;
		/* without a parameter's name, the buffer keeps the name it
		 * had as an inner node: "o_mul" */
		n->member = an ? an->base
			       : arena_printf(a, "%s_%s", n->member,
					      op_name[n->op]);
		vof[i] = w;
	}
	for (int i = 0; i < nn; i++) {
		Node *n = g->nodes.items[i];
		if (!n->vertex || vof[owner[i]->id] == n->vertex)
			continue;
		Vertex *w = vof[owner[i]->id];
		n->vertex = w;
		n->member = w->root->member;
		vec_push(a, &w->nodes, n);
	}
	for (int j = 0; j < nv; j++) {
		Vertex *v = g->vertices.items[j];
		if (!lost[v->id])
			continue;
		int k = 0;
		for (int q = 0; q < v->nodes.len; q++) {
			Node *n = v->nodes.items[q];
			if (n->vertex == v)
				v->nodes.items[k++] = n;
		}
		v->nodes.len = k;
	}
}

/* --------------------------------------------------------- expressions */

static Value
eval_name(Sema *S, const Expr *e)
{
	Sym *s = lookup(S, e->u.name.id);
	if (!s) {
		diag_error(S->d, e->span, "undefined name '%s'", e->u.name.id);
		return val_error();
	}
	if (s->failed) /* already reported */
		return val_error();
	switch (s->kind) {
	case SYM_CONST:
		if (isnan(s->num))
			return val_error();
		return val_num(s->num, e->span);
	case SYM_LEAF:
	case SYM_VERTEX:
		if (!s->node && s->kind == SYM_VERTEX && !S->too_big) {
			/* defined, but its value is still being evaluated */
			diag_error(S->d, e->span,
				   "'%s' is used in its own definition; for a "
				   "recurrence use a vertex family, as "
				   "%s[t+1] = f(%s[t])",
				   s->name, s->name, s->name);
			return val_error();
		}
		if (!s->node)
			return val_error();
		return val_node(s->node, e->span);
	case SYM_FAMILY:
		diag_error(S->d, e->span,
			   "'%s' is a vertex family; index it, as %s[i]",
			   s->name, s->name);
		return val_error();
	case SYM_DEF:
		diag_error(S->d, e->span, "'%s' is a def; call it, as %s(...)",
			   s->name, s->name);
		return val_error();
	}
	unreachable();
}

static Value
eval_index(Sema *S, const Expr *e)
{
	const Expr *base = e->u.index.base;
	const Subscript *sub = e->u.index.subs;
	/* a family member h[i] */
	if (base->kind == EXPR_NAME) {
		Sym *s = lookup(S, base->u.name.id);
		if (s && s->kind == SYM_FAMILY) {
			if (e->u.index.nsubs != 1) {
				diag_error(S->d, e->span, "a vertex family takes one "
					   "index, as %s[i]", s->name);
				return val_error();
			}
			if (sub->is_slice) {
				diag_error(S->d, e->span,
					   "cannot slice the vertex family "
					   "'%s'; index one member, as %s[i]",
					   s->name, s->name);
				return val_error();
			}
			int64_t i;
			if (!eval_int(S, sub->lo, "a family index", &i))
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
				diag_error(S->d, e->span,
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
		diag_error(S->d, base->span, "cannot index the number %s; only "
			   "tensors can be indexed", num_text(b.num));
		return val_error();
	}
	if (b.kind != VAL_NODE) {
		diag_error(S->d, base->span, "cannot index a shape list; only "
			   "tensors can be indexed");
		return val_error();
	}
	Node *x = b.node;
	if (x->shape.rank < 1) {
		diag_error(S->d, e->span, "cannot index a scalar %s",
			   S_shape(S, &x->shape));
		return val_error();
	}
	if (e->u.index.nsubs > x->shape.rank) {
		diag_error(S->d, e->span, "too many indices for %s: %d given, but it "
			   "has %d axes", S_shape(S, &x->shape),
			   e->u.index.nsubs, x->shape.rank);
		return val_error();
	}
	/* numpy basic indexing: an index removes its axis, a slice keeps
	 * lo, lo + step, ... below hi; axes not given are kept whole */
	OpAttr *at = arena_alloc(S->a, sizeof *at);
	Shape out;
	memset(&out, 0, sizeof out);
	int ax = 0;
	for (const Subscript *sb = e->u.index.subs; sb; sb = sb->next, ax++) {
		int64_t n = x->shape.dim[ax];
		const char *where = ax ? arena_printf(S->a, " on axis %d", ax)
				       : "";
		if (!sb->is_slice) {
			int64_t i;
			if (!eval_int(S, sb->lo, "an index", &i))
				return val_error();
			int64_t k = i < 0 ? i + n : i;
			if (k < 0 || k >= n) {
				diag_error(S->d, e->u.index.nsubs == 1 ? e->span : sb->span,
					   "index %lld is out of range%s "
					   "for %s (need %lld <= i < %lld)",
					   (long long)i, where,
					   S_shape(S, &x->shape), (long long)-n,
					   (long long)n);
				note_define(S, sb->lo);
				return val_error();
			}
			at->lo[ax] = k;
			at->step[ax] = 1;
			at->drop[ax] = 1;
			continue;
		}
		int64_t lo = 0, hi = n, step = 1;
		if (sb->step) {
			if (!eval_int(S, sb->step, "a slice step", &step))
				return val_error();
			if (step <= 0) {
				diag_error(S->d, sb->step->span, "a slice step must be "
					   "positive, got %lld", (long long)step);
				return val_error();
			}
		}
		if (sb->lo && !eval_int(S, sb->lo, "an index", &lo))
			return val_error();
		if (sb->hi && !eval_int(S, sb->hi, "an index", &hi))
			return val_error();
		int64_t l = lo < 0 ? lo + n : lo, h = hi < 0 ? hi + n : hi;
		if (l < 0 || h > n || l >= h) {
			diag_error(S->d, e->u.index.nsubs == 1 ? e->span : sb->span,
				   "slice %lld:%lld is out of range%s for "
				   "%s (need 0 <= lo < hi <= %lld)",
				   (long long)lo, (long long)hi, where,
				   S_shape(S, &x->shape), (long long)n);
			if (sb->lo)
				note_define(S, sb->lo);
			if (sb->hi)
				note_define(S, sb->hi);
			return val_error();
		}
		at->lo[ax] = l;
		at->step[ax] = step;
		out.dim[out.rank++] = (h - l + step - 1) / step;
	}
	for (; ax < x->shape.rank; ax++) {
		at->step[ax] = 1;
		out.dim[out.rank++] = x->shape.dim[ax];
	}
	Node *in[1] = {x};
	Node *n = new_node(S, OP_SLICE, &out, 1, in, e->span);
	if (!n)
		return val_error();
	n->at = at;
	return val_node(n, e->span);
}

static Value
eval(Sema *S, const Expr *e)
{
	if (S->depth >= MAX_DEPTH) {
		diag_error(S->d, e->span, "expression nested too deeply (more than "
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
		v = val_num(e->u.num.value, e->span);
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
			v = val_num(-x.num, e->span);
		else if (x.kind == VAL_NODE)
			v = unary_node(S, OP_NEG, x.node, e->span);
		else if (x.kind == VAL_SHAPE)
			diag_error(S->d, e->span, "cannot negate a shape list");
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
sema_build(Arena *a, Diag *d, const Program *p, Define *defines,
	   int ndefines)
{
	return sema_build_limit(a, d, p, defines, ndefines, 0);
}

Graph *
sema_build_limit(Arena *a, Diag *d, const Program *p, Define *defines,
		 int ndefines, int max_nodes)
{
	Sema S;
	memset(&S, 0, sizeof S);
	S.max_nodes = max_nodes > 0 ? max_nodes : MAX_NODES;
	S.a = a;
	S.d = d;
	S.prog = p;
	S.defines = defines;
	S.ndefines = ndefines;
	S.g = arena_alloc(a, sizeof *S.g);
	S.g->diag = d;
	S.g->name = p->model->name;
	for (const Def *d = p->defs; d; d = d->next)
		S.ndefs++;
	S.call_count = arena_alloc(a, sizeof(int) * (size_t)(S.ndefs + 1));
	/* defs: duplicates and clashes with builtins */
	for (const Def *d = p->defs; d; d = d->next) {
		for (const Def *e = p->defs; e != d; e = e->next)
			if (strcmp(e->name, d->name) == 0) {
				diag_error(S.d, d->name_span,
					   "def '%s' is already defined",
					   d->name);
				diag_note(S.d, e->name_span,
					  "'%s' was defined here", e->name);
			}
		const Ident *dup = def_dup_param(d);
		if (dup) {
			diag_error(S.d, dup->span,
				   "def '%s' has two parameters named '%s'",
				   d->name, dup->id);
			for (const Ident *q = d->params; q != dup; q = q->next)
				if (strcmp(q->id, dup->id) == 0) {
					diag_note(S.d, q->span, "the first '%s' is "
						  "here", q->id);
					break;
				}
		}
		if (op_lookup(d->name) >= 0)
			diag_error(S.d, d->name_span, "def '%s' would hide the "
				   "built-in function of that name", d->name);
	}
	stmts(&S, p->model->body);
	for (int i = 0; i < S.buffers.len; i++) {
		ParamDecl *b = S.buffers.items[i];
		b->node->decl = S.g->params.len;
		b->offset = S.g->param_count;
		S.g->param_count += shape_numel(&b->shape);
		vec_push(a, &S.g->params, b);
	}
	for (int i = 0; i < ndefines; i++)
		if (!defines[i].used)
			diag_error_noloc(S.d, "-D %s: the model has no const named "
					 "'%s'",
					 defines[i].name, defines[i].name);
	if (diag_error_count(S.d))
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
		for (int k = 0; k < l->outs.len; k++) {
			Node *o = l->outs.items[k];
			if (o->batched)
				add_output(&S, c_ident(a, o->label), o);
		}
	}
	split_vertices(&S);
	if (graph_analyse(a, S.g) != 0)
		return NULL;
	/* a loss must depend on some parameter */
	for (int i = 0; i < S.g->losses.len; i++) {
		Loss *l = S.g->losses.items[i];
		if (!l->root->on_param)
			diag_error(S.d, l->span,
				   "this loss depends on no parameter, so "
				   "nothing can learn from it");
	}
	if (diag_error_count(S.d))
		return NULL;
	return S.g;
}
