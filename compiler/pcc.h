/*
 * pcc.h — the compiler's one internal header.
 *
 * pcc reads a .pcg model and writes C.  The pipeline (see main.c):
 *
 *   read source -> parse (grammar/: re2c lexer + Bison parser) -> AST
 *   -> sema (consts, loops, defs, shapes)  -> graph of primitive op nodes
 *   -> graph analysis (gradient flow, vertices, levels)
 *   -> emit (C header + source)
 *
 * One section per file below.  Every external function carries its
 * module's prefix.
 */
#ifndef PCC_H
#define PCC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PCC_VERSION "0.2"
/* The runtime version the generated code needs (PCG_RUNTIME_VERSION). */
#define PCG_RUNTIME_VERSION_NEEDED 9

#if defined(__GNUC__) || defined(__clang__)
#define PCC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define PCC_NORETURN __attribute__((noreturn))
#else
#define PCC_PRINTF(f, a)
#define PCC_NORETURN
#endif

/* ---------------------------------------------------------------- util.c */

/* A growable string (heap; call sb_free). */
typedef struct StrBuf {
	char *data;
	size_t len, cap;
} StrBuf;

/* An arena: one per compilation; nothing in it is freed one by one. */
typedef struct ArenaBlock ArenaBlock;
typedef struct Arena {
	ArenaBlock *head;
	ArenaBlock *spare; /* arena_reset's blocks, used again */
	size_t used; /* total bytes handed out, for --info and limits */
	StrBuf fmt;  /* where arena_printf formats */
} Arena;

void arena_init(Arena *a);
void arena_free(Arena *a);
/* Everything handed out is dead: the memory is handed out again (a long
 * model's passes each make as many strings, in the same pages). */
void arena_reset(Arena *a);
/* What an arena has handed out so far (arena_mark); arena_release(a, m)
 * makes everything handed out after m dead, its memory handed out again
 * (poisoned in builds with AddressSanitizer until then). */
typedef struct ArenaMark {
	ArenaBlock *head;
	size_t head_used, used;
} ArenaMark;
ArenaMark arena_mark(const Arena *a);
void arena_release(Arena *a, ArenaMark m);
void *arena_alloc(Arena *a, size_t size); /* zeroed, aligned for any type */
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...) PCC_PRINTF(2, 3);

/* A growable array of pointers, storage in an arena. */
typedef struct PtrVec {
	void **items;
	int len, cap;
} PtrVec;
void vec_push(Arena *a, PtrVec *v, void *item);

void sb_grow(StrBuf *sb, size_t extra);
/* room for extra more characters and the NUL */
static inline void
sb_reserve(StrBuf *sb, size_t extra)
{
	if (sb->len + extra + 1 > sb->cap)
		sb_grow(sb, extra);
}
/* Inline: the generated code is written a few characters at a time
 * (millions of calls on a long model). */
static inline void
sb_putc(StrBuf *sb, char c)
{
	sb_reserve(sb, 1);
	sb->data[sb->len++] = c;
	sb->data[sb->len] = 0;
}
/* s[0, n) */
static inline void
sb_putn(StrBuf *sb, const char *s, size_t n)
{
	sb_reserve(sb, n);
	memcpy(sb->data + sb->len, s, n);
	sb->len += n;
	sb->data[sb->len] = 0;
}
static inline void
sb_puts(StrBuf *sb, const char *s)
{
	sb_putn(sb, s, strlen(s));
}
void sb_printf(StrBuf *sb, const char *fmt, ...) PCC_PRINTF(2, 3);
void sb_vprintf(StrBuf *sb, const char *fmt, va_list ap);
void sb_free(StrBuf *sb);

/* Broken invariants (not user errors): print file:line and abort. */
PCC_NORETURN void pcc_die(const char *file, int line, const char *fmt, ...)
	PCC_PRINTF(3, 4);
#define die(...) pcc_die(__FILE__, __LINE__, __VA_ARGS__)
#define unreachable() pcc_die(__FILE__, __LINE__, "unreachable")

/* v in decimal, written to end at end (20 characters at most): where
 * it starts. */
char *util_decimal(char *end, long long v);

/* 64-bit FNV-1a, for model fingerprints. */
uint64_t util_hash(const void *data, size_t n, uint64_t h);
/* Another hash, eight bytes a step: for long keys (emit_reroll's blocks). */
uint64_t util_hash_long(const void *data, size_t n, uint64_t h);

/* ---------------------------------------------------------------- diag.c */

/* A loaded source file.  text is NUL-terminated (len excludes the NUL). */
typedef struct Source {
	const char *path;
	const char *text;
	size_t len;
} Source;

/* A byte span [lo, hi) into the source; turned into line:col on printing. */
typedef struct Span {
	uint32_t lo, hi;
} Span;

#define DIAG_MAX_ERRORS 20

/* The diagnostics of one compilation: its source, where messages go, and
 * the error count (phases stop after DIAG_MAX_ERRORS).  No global state:
 * every phase gets its Diag. */
typedef struct Diag {
	const Source *src;
	FILE *out;
	int errors, stopped;
	size_t *line_start; /* made on the first diag_line_col */
	size_t nlines;
} Diag;

/* Messages go to `out` (stderr if NULL); diag_end frees the line table. */
void diag_begin(Diag *d, const Source *src, FILE *out);
void diag_end(Diag *d);
void diag_error(Diag *d, Span sp, const char *fmt, ...) PCC_PRINTF(3, 4);
void diag_warning(Diag *d, Span sp, const char *fmt, ...) PCC_PRINTF(3, 4);
void diag_note(Diag *d, Span sp, const char *fmt, ...) PCC_PRINTF(3, 4);
/* An error with no source location (e.g. a bad -D option). */
void diag_error_noloc(Diag *d, const char *fmt, ...) PCC_PRINTF(2, 3);
int diag_error_count(const Diag *d);
/* True once DIAG_MAX_ERRORS errors have been reported: phases stop. */
int diag_too_many(const Diag *d);
void diag_line_col(Diag *d, Span sp, int *line, int *col);
/* The source text of a span on one line, comments dropped, at most max
 * characters, safe inside a C comment. */
void diag_snippet(Diag *d, Span sp, StrBuf *out, size_t max);
Span span_join(Span a, Span b);

/* ----------------------------------------------------------------- ast.c */

typedef enum ExprKind {
	EXPR_NUM,   /* number literal: num, is_int */
	EXPR_NAME,  /* name */
	EXPR_CALL,  /* name(args) */
	EXPR_INDEX, /* base[subscript, ...] */
	EXPR_BINARY,
	EXPR_NEG,
	EXPR_LIST /* [e, e, ...]: a shape, only as a call argument */
} ExprKind;

typedef enum BinOp { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_MATMUL } BinOp;

typedef struct Expr Expr;
typedef struct Arg Arg;

/* One subscript of an EXPR_INDEX: an index i (is_slice 0, lo = i) or a
 * slice lo:hi or lo:hi:step (is_slice 1; a part left out is NULL). */
typedef struct Subscript {
	Span span;
	int is_slice;
	Expr *lo, *hi, *step;
	struct Subscript *next;
} Subscript;

struct Arg {
	Span span;
	const char *kw; /* keyword (stride=...), NULL for positional */
	Span kw_span;
	Expr *value;
	Arg *next;
};

struct Expr {
	ExprKind kind;
	Span span;
	Expr *next; /* next item of an EXPR_LIST or shape */
	union {
		struct {
			double value;
			int is_int;
		} num;
		struct {
			const char *id;
		} name;
		struct {
			const char *id;
			Span id_span;
			Arg *args;
			int nargs;
		} call;
		struct {
			Expr *base;
			Subscript *subs; /* at least one, linked by next */
			int nsubs;
		} index;
		struct {
			BinOp op;
			Span op_span;
			Expr *lhs, *rhs;
		} bin;
		struct {
			Expr *operand;
		} neg;
		struct {
			Expr *items; /* linked by next */
			int n;
		} list;
	} u;
};

typedef struct Ident {
	const char *id;
	Span span;
	struct Ident *next;
} Ident;

typedef enum StmtKind {
	STMT_CONST,  /* name = value */
	STMT_INPUT,  /* name shape, or int name shape < bound */
	STMT_TARGET, /* name shape, or int name shape < bound */
	STMT_PARAM,  /* name shape [= init] */
	STMT_ASSIGN, /* name [index] = value */
	STMT_LOSS,   /* loss value */
	STMT_OUTPUT, /* names */
	STMT_FOR     /* for name in lo .. hi { body } */
} StmtKind;

typedef struct Stmt Stmt;
struct Stmt {
	StmtKind kind;
	Span span; /* the whole statement */
	Stmt *next;
	const char *name; /* const/input/target/param/assign target, loop var */
	Span name_span;
	Expr *index; /* assign: family index, or NULL */
	Expr *value; /* const value, assign rhs, loss expression */
	Expr *shape; /* input/target/param: EXPR_LIST of dims (n = 0 for an
			int declaration without a shape: a scalar) */
	Expr *init;  /* param initialiser (EXPR_NAME or EXPR_CALL) or NULL */
	/* input/target of integers: int name shape < bound */
	int is_int;
	Expr *bound; /* NULL unless is_int */
	Span int_span; /* the word 'int' */
	/* output */
	Ident *names;
	/* for */
	Expr *lo, *hi;
	Stmt *body;
};

typedef struct Def Def;
struct Def {
	const char *name;
	Span span; /* the whole definition */
	Span name_span;
	Ident *params;
	int nparams;
	Stmt *body; /* assign and const statements (block form), else NULL */
	Expr *ret;  /* the return expression (or the "= expr" form) */
	Def *next;
};

typedef struct Model {
	const char *name;
	Span span;
	Span name_span;
	Stmt *body;
} Model;

typedef struct Program {
	Def *defs; /* all defs, before and after the model, in source order */
	Model *model;
} Program;

Expr *ast_expr(Arena *a, ExprKind kind, Span span);
Stmt *ast_stmt(Arena *a, StmtKind kind, Span span);
/* Print the AST as an indented tree (tests compare it). */
void ast_dump(FILE *out, const Program *p);
void ast_dump_expr(FILE *out, const Expr *e);

/* ------------------------------------------------ grammar/ (parse.c API) */

/* Parse a whole file, d's source.  Reports lexical and syntax errors
 * through d; returns NULL if there was any. */
Program *pcc_parse(Arena *a, Diag *d);

/* Token names for the lexer's tests (lex_dump prints one token a line:
 * "line:col KIND text"). */
void lex_dump(FILE *out, Diag *d);

/* ---------------------------------------------------------------- shapes */

#define PCC_MAX_RANK 8

/* A per-sample shape; the batch dimension is implicit. */
typedef struct Shape {
	int rank;
	int64_t dim[PCC_MAX_RANK];
} Shape;

int64_t shape_numel(const Shape *s);
int shape_equal(const Shape *a, const Shape *b);
/* "[32,64]" (arena string) */
const char *shape_str(Arena *a, const Shape *s);

/* ----------------------------------------------------------------- ops.c */

/*
 * The op table.  PCC_OPS lists every primitive operation once (its enum and
 * its name in graph dumps and kernel names); ops.c defines each one in one
 * place, an OpDef: how it is called (arguments and keywords), its shape
 * rule, constant folding, and its forward and vector-Jacobian-product
 * code.  tests/unit/test_ops.c walks the table and fails when a piece is
 * missing.  docs/design.md, "Adding an op", shows the steps.
 */
#define PCC_OPS(X)                                                      \
	X(INPUT, "input")                                               \
	X(TARGET, "target")                                             \
	X(PARAM, "param")                                               \
	X(CONST, "const")                                               \
	X(ADD, "add")                                                   \
	X(SUB, "sub")                                                   \
	X(MUL, "mul")                                                   \
	X(DIV, "div")                                                   \
	X(MAXIMUM, "maximum")                                           \
	X(MINIMUM, "minimum")                                           \
	X(NEG, "neg")                                                   \
	X(IDENTITY, "identity")                                         \
	X(TANH, "tanh")                                                 \
	X(SIGMOID, "sigmoid")                                           \
	X(RELU, "relu")                                                 \
	X(EXP, "exp")                                                   \
	X(LOG, "log")                                                   \
	X(SQRT, "sqrt")                                                 \
	X(SQUARE, "square")                                             \
	X(SOFTPLUS, "softplus")                                         \
	X(ABS, "abs")                                                   \
	X(LEAKY_RELU, "leaky_relu")                                     \
	X(GELU, "gelu")                                                 \
	X(SILU, "silu")                                                 \
	X(ELU, "elu")                                                   \
	X(ERF, "erf")                                                   \
	X(SIN, "sin")                                                   \
	X(COS, "cos")                                                   \
	X(LOG1P, "log1p")                                               \
	X(POW, "pow")                                                   \
	X(CLIP, "clip")                                                 \
	X(MATMUL, "matmul")                                             \
	X(SOFTMAX, "softmax")                                           \
	X(LOG_SOFTMAX, "log_softmax")                                   \
	X(LAYERNORM, "layernorm")                                       \
	X(SUM, "sum")                                                   \
	X(MEAN, "mean")                                                 \
	X(MAX, "max")                                                   \
	X(TRANSPOSE, "transpose")                                       \
	X(RESHAPE, "reshape")                                           \
	X(FLATTEN, "flatten")                                           \
	X(CONCAT, "concat")                                             \
	X(SLICE, "slice")                                               \
	X(TRIL, "tril")                                                 \
	X(TRIU, "triu")                                                 \
	X(CONV1D, "conv1d")                                             \
	X(CONV2D, "conv2d")                                             \
	X(MAXPOOL1D, "maxpool1d")                                       \
	X(AVGPOOL1D, "avgpool1d")                                       \
	X(MAXPOOL2D, "maxpool2d")                                       \
	X(AVGPOOL2D, "avgpool2d")                                       \
	X(EMBEDDING, "embedding")                                       \
	X(ONE_HOT, "one_hot")                                           \
	X(BATCHNORM, "batchnorm")                                       \
	X(DROPOUT, "dropout")                                           \
	X(ZEROS, "zeros")                                               \
	X(ONES, "ones")                                                 \
	X(MSE, "mse")                                                   \
	X(CROSS_ENTROPY, "cross_entropy")                               \
	X(BCE, "bce")                                                   \
	X(L1, "l1")                                                     \
	X(HUBER, "huber")

typedef enum OpKind {
#define X(e, n) OP_##e,
	PCC_OPS(X)
#undef X
	OP_COUNT
} OpKind;

extern const char *const op_name[OP_COUNT];

typedef enum OpClass {
	OPC_LEAF,   /* input, target, param, const: no code */
	OPC_UNARY,  /* elementwise on one tensor: fwd_c, vjp_c[0], fold */
	OPC_BINARY, /* elementwise on two tensors that broadcast */
	OPC_LOSS,   /* a per-sample loss: only inside a loss statement */
	OPC_OTHER   /* fwd and vjp functions */
} OpClass;

/* Attributes of an op instance, from its number and keyword arguments.
 * Each op documents which fields it uses. */
typedef struct OpAttr {
	double num[3];          /* numbers: slope, exponent, bounds, fill... */
	int k[2], stride[2], pad[2], dil[2]; /* windows: [h, w] (1-D: w) */
	int groups;
	int naxes;              /* reduction axes, perm, softmax axis... */
	int axes[PCC_MAX_RANK];
	int64_t lo[PCC_MAX_RANK], step[PCC_MAX_RANK]; /* basic indexing */
	int drop[PCC_MAX_RANK]; /* indexing: the axis is removed */
} OpAttr;

typedef struct Node Node;

/* One argument of a call as the shape rule sees it. */
typedef struct OpArg {
	Span span;
	int given;
	Node *node;      /* a tensor argument */
	double num;      /* a number */
	int is_int;
	int n;           /* a list [a, b, ...] (n items) or a single int (1) */
	int64_t v[PCC_MAX_RANK];
} OpArg;

#define OP_MAX_ARGS 8

/* A call of a built-in op, for its shape rule: the rule checks the
 * arguments, reports errors through diag_error and returns 0, or sets
 * out (and at) and returns 1. */
typedef struct OpCall {
	Arena *a;
	Diag *d;
	Span span, id_span;  /* the call and the function's name */
	int nin;             /* tensor inputs of the node, in order */
	Node *in[OP_MAX_ARGS];
	Span in_span[OP_MAX_ARGS];
	Node **many;         /* concat: all its inputs (nin of them) */
	OpArg arg[OP_MAX_ARGS]; /* positional arguments */
	int nargs;
	OpArg kw[OP_MAX_ARGS];  /* keywords, in the order of OpDef.keywords */
	OpKind op;           /* the node's op (an alias may change it) */
	Shape out;
	OpAttr *at;
	double value;        /* OP_CONST: the fill value */
} OpCall;

typedef struct Emit Emit;

typedef void (*OpFwd)(Emit *E, const Node *n, const char *y,
		      const char *const *xs);
typedef void (*OpVjp)(Emit *E, const Node *n, int k, const char *y,
		      const char *const *xs, const char *dy, const char *dx,
		      int acc);

typedef struct OpDef {
	const char *call;     /* how a .pcg file calls it (NULL: it does not) */
	OpClass cls;
	/* positional arguments, one letter each: T tensor, I integer tensor
	 * (ids), N number, W window (integer or [h, w]), S shape list; a
	 * final '*' repeats the last letter */
	const char *args;
	/* keyword arguments "name:kind ...": I integer, N number, P integer
	 * or list, A axis or list of axes, L list of integers */
	const char *keywords;
	int (*shape)(OpCall *c);              /* the shape rule */
	double (*fold)(double x, const double *a); /* numbers fold (unary) */
	const char *fwd_c;    /* elementwise: y from x (a, b: attributes) */
	const char *vjp_c[2]; /* elementwise: dx from dy, x, y (per input) */
	OpFwd fwd;            /* forward code (elementwise: generic) */
	OpVjp vjp;            /* VJP code into input k */
	/* scalars of the one-sample scratch its code uses (im2col columns):
	 * every such op shares one buffer of the state, s->v.im2col_ */
	int64_t (*scratch)(const Node *n);
	unsigned nodiff;      /* bit k: input k takes no derivative */
	const char *doc;      /* one line for docs and dumps */
} OpDef;

extern const OpDef op_defs[OP_COUNT];

int op_is_leaf(OpKind op);
/* The op a .pcg file calls `name`, or -1. */
int op_lookup(const char *name);

/* The elementwise and generic code used by the table's entries (emit.c). */
void emit_unary_fwd(Emit *E, const Node *n, const char *y,
		    const char *const *xs);
void emit_unary_vjp(Emit *E, const Node *n, int k, const char *y,
		    const char *const *xs, const char *dy, const char *dx,
		    int acc);
void emit_binary_fwd(Emit *E, const Node *n, const char *y,
		     const char *const *xs);
void emit_binary_vjp(Emit *E, const Node *n, int k, const char *y,
		     const char *const *xs, const char *dy, const char *dx,
		     int acc);

typedef enum InitKind {
	INIT_ZEROS,
	INIT_ONES,
	INIT_NORMAL,
	INIT_UNIFORM,
	INIT_XAVIER,
	INIT_HE
} InitKind;

/* --------------------------------------------------------------- graph.c */

typedef struct Node Node;
typedef struct Vertex Vertex;
typedef struct PcVertex PcVertex;

struct Node {
	int id; /* index into Graph.nodes: a topological order */
	OpKind op;
	Shape shape;  /* per sample */
	int batched;  /* 1: one value per sample; 0: shared (params, consts) */
	int nin;
	Node **in;
	Span span;    /* source of the expression that made it */
	int line;     /* its statement's line, for comments in emitted code */
	double value; /* CONST: the fill value */
	const OpAttr *at; /* number and keyword arguments (never NULL) */
	int is_int;   /* an integer input or target (ids) */
	int64_t bound; /* its ids are in 0 .. bound-1 */
	int in_loss;  /* part of a loss expression (Loss.nodes), no vertex */
	int is_buffer; /* PARAM: a buffer (running statistics), not trained */
	/* leaves */
	int decl;           /* index into Graph.params/inputs/targets */
	/* naming of the value buffer in the generated state */
	const char *member; /* C identifier of the buffer (family) */
	int index;          /* index within a family member, -1 if none */
	const char *label;  /* human name: "h[3]", "cell.2.a", "h[3]/matmul" */
	Vertex *vertex;     /* the vertex this node belongs to (NULL: leaf) */
	/* analysis */
	int on_param;      /* depends on a parameter (or is one) */
	int live;          /* reaches a loss or an exposed output */
	int reaches_loss;
	int needs_grad;    /* on_param and reaches_loss: BP computes its adjoint */
	int nuses;         /* number of consuming edges */
	/* the levelled PC graph (level.c) */
	PcVertex *pcv;     /* the PC vertex this node belongs to, or NULL */
	PcVertex **src;    /* per input: the PC vertex it reads from across a
			      PC edge (after identity insertion), or NULL */
};

/* A vertex of the PC graph: a named statement (granularity stmt) — its
 * root node and the inner nodes of its expression. */
struct Vertex {
	int id;
	const char *label;
	Node *root;
	PtrVec nodes; /* inner nodes, topological order, root last */
	Span span;
	int line;
	int is_output;
};

typedef struct ParamDecl {
	const char *name;
	Shape shape;
	InitKind init;
	double a, b; /* initialiser arguments */
	Span span;
	Node *node;
	int64_t offset; /* element offset in the dense params array */
	int buffer;     /* a buffer (running statistics), not trained */
} ParamDecl;

typedef struct DataDecl { /* input or target */
	const char *name;
	Shape shape;
	int is_int;    /* int32_t ids, each in 0 .. bound-1 */
	int64_t bound;
	Span span;
	Node *node;
} DataDecl;

/*
 * A loss statement: an expression whose value is a scalar per sample (or
 * one shared scalar: a penalty on parameters).  Its nodes belong to no
 * vertex: they are the output energy of PC.  The vertex roots it reads
 * are the outputs of the PC graph.
 */
typedef struct Loss {
	Node *root;
	PtrVec nodes;   /* Node*: its nodes, topological order, root last */
	PtrVec outs;    /* Node*: the vertex roots it reads */
	PtrVec pc_outs; /* PcVertex*, parallel to outs: the output vertex
			   (an identity copy where the root feeds others) */
	Span span;
	int line;
} Loss;

/* A vertex exposed in P_state.out: loss outputs and `output` names. */
typedef struct OutputDecl {
	const char *name; /* C member name */
	Node *node;
} OutputDecl;

typedef struct Graph {
	const char *name; /* model name */
	PtrVec nodes;     /* Node*, topological order */
	PtrVec vertices;  /* Vertex* */
	PtrVec params;    /* ParamDecl* in declaration order */
	PtrVec inputs;    /* DataDecl* */
	PtrVec targets;   /* DataDecl* */
	PtrVec losses;    /* Loss* */
	PtrVec outputs;   /* OutputDecl* */
	int64_t param_count; /* total scalars */
	int depth;
	/* the levelled PC graph (level.c) */
	PtrVec pcv;          /* PcVertex*: real vertices, then identities */
	int nidentity;
	int granularity_op;
	Diag *diag;          /* the compilation's diagnostics and source */
} Graph;

Node *graph_node(Arena *a, Graph *g, OpKind op, const Shape *shape, int nin,
		 Node **in, Span span);
/* Gradient flow, vertex levels, dead-code warnings.  0 on success. */
int graph_analyse(Arena *a, Graph *g);
void graph_dump(FILE *out, const Graph *g);

/* --------------------------------------------------------------- level.c */

/* A vertex of the levelled PC graph: a real vertex (a named statement, or
 * with granularity op a single operation) or an inserted identity. */
struct PcVertex {
	int id;
	int level;          /* longest path to an output; outputs are 0 */
	Node *root;         /* real: its root node; NULL for an identity */
	PtrVec nodes;       /* real: its nodes in topological order, root last */
	PcVertex *parent;   /* identity: the vertex it copies */
	PcVertex *top;      /* identity: the real vertex its chain starts at */
	int chain_index;    /* identity: position in its group of identities */
	const Vertex *stmt; /* the statement it comes from (comments) */
	const char *label;
	int is_output;      /* the output of some loss: level 0, no children */
	int nchildren;
	PtrVec children;    /* PcVertex* */
};

typedef enum LevelMode {
	LEVEL_ON,  /* insert identity vertices (Z-IL needs it) */
	LEVEL_OFF  /* keep edges that skip levels (a negative control) */
} LevelMode;

/* Build the PC graph over the analysed graph: vertices (per statement, or
 * per operation), outputs with identity copies where an output feeds other
 * vertices, levels, identity chains on edges that skip levels, DEPTH. */
void level_build(Arena *a, Graph *g, int granularity_op, LevelMode mode);
/* Print the levelled graph (tests compare it). */
void level_dump(FILE *out, const Graph *g);
/* The levelled graph as Graphviz DOT. */
void level_dot(FILE *out, const Graph *g);

/* ---------------------------------------------------------------- sema.c */

typedef struct Define { /* -D NAME=VALUE */
	const char *name;
	double value;
	int is_int;
	int used;
} Define;

/* Resolve consts, unroll loops, inline defs, check shapes; build the
 * graph.  Returns NULL after reporting errors. */
Graph *sema_build_limit(Arena *a, Diag *d, const Program *p, Define *defs,
			int ndefs, int max_nodes);
Graph *sema_build(Arena *a, Diag *d, const Program *p, Define *defs,
		  int ndefs);

/* ------------------------------------------------------------- compile.c */

typedef struct CompileOptions {
	int granularity_op;
	LevelMode level;
	int batch;
	Define *defines;
	int ndefines;
	int max_nodes;          /* operations after unrolling; 0: sema's
				 * default (MAX_NODES) */
} CompileOptions;

/* parse -> sema (resolve, check shapes, build and analyse the graph) ->
 * level -> the batch check.  NULL after reporting errors. */
Graph *pcc_compile(Arena *a, Diag *d, const CompileOptions *o);

/* ---------------------------------------------------------------- emit.c */

typedef struct EmitOptions {
	const char *prefix;      /* symbol prefix */
	const char *real;        /* "float" or "double" */
	int batch;
	const char *source_name; /* the .pcg path, for the banner */
	const char *header_name; /* how the source includes the header */
	int zil_control;         /* tests only: 1 gamma 0.9, 2 learn late,
				  * Fa-Z-IL's gates: 3 open at every non-zero
				  * error, 4 ignore the prediction */
	unsigned methods;        /* METHOD_* bits generated (pcc --methods) */
	int plan_control;        /* tests only: the plan ignores lifetimes */
	int unroll;              /* UNROLL_*: pcc --unroll */
	struct EmitSizes *sizes; /* if not NULL, filled by emit_model */
} EmitOptions;

/* The training methods of pcc --methods: each one's functions and state
 * are generated only when its bit is set.  Z-IL's dynamics
 * (P_grad_zil_dynamics) run the PC network: they need zil and pc. */
enum {
	METHOD_BP = 1,
	METHOD_ZIL = 2,
	METHOD_PC = 4,
	METHOD_ALL = 7
};

/* pcc --unroll: how a `for` loop's iterations become code.  UNROLL_FULL
 * writes every iteration's code; UNROLL_LOOPS rolls runs of iterations
 * that are the same code with indices advancing by constant strides into
 * C loops (emit_reroll.c); UNROLL_AUTO is UNROLL_LOOPS for a graph of at
 * least UNROLL_AUTO_NODES operations, else UNROLL_FULL. */
enum { UNROLL_AUTO, UNROLL_FULL, UNROLL_LOOPS,
       UNROLL_CONTROL /* tests only: loops run backwards, which must
		       * break the results */ };
enum { UNROLL_AUTO_NODES = 4096 };
/* The operations sema accepts unless --unroll=full (its own limit,
 * MAX_NODES, holds then): a rolled model's code does not grow with them. */
enum { UNROLL_MAX_NODES = 1000000 };
/* Beyond MAX_NODES of sema (the same number), a model whose generated
 * source is longer than 1 KB an operation of it did not roll: refused. */
enum { UNROLL_FULL_NODES = 200000 };

/* Scalars of each part of P_state (pcc --info). */
typedef struct EmitSizes {
	int64_t data;   /* in, target, out */
	int64_t values; /* forward values and im2col columns (v) */
	int64_t deltas; /* BP deltas, also Z-IL's errors (d) */
	int64_t shared; /* values and deltas whose lifetimes never overlap */
	int64_t pc;     /* the PC network (pc) */
	int64_t zil;    /* Z-IL training: update scratch, tied sums (zil) */
	int64_t grad;   /* gradient buffer of P_train_bp and P_train_pc */
	/* each training function of the API: the scalars of the state it
	 * touches (its own code and the passes it calls), the data included */
	struct {
		const char *name;
		int64_t reals;
	} fn[16];
	int nfn;
} EmitSizes;

/* Write the header and the source into two strings; gives the number of
 * scalars in P_state. */
int64_t emit_model(Arena *a, const Graph *g, const EmitOptions *o, StrBuf *h,
		   StrBuf *c);

#endif
