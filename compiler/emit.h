/*
 * emit.h — what the parts of the code generator share: emit.c (helpers,
 * the generated kernels of elementwise ops, GEMM calls, the assembly of
 * the files), emit_layout.c (buffers of the state), emit_sweep.c (the
 * forward pass, losses, BP and the Z-IL schedule), emit_pc.c (the PC
 * network), emit_api.c (the header and the API functions) and ops.c (the
 * forward and VJP code of each op).  Not seen outside compiler/.
 */
#ifndef PCC_EMIT_H
#define PCC_EMIT_H

#include "pcc.h"

/* Brackets a hint to the memory plan in the generated body: "v.y v.x"
 * (the next statement may write y over x); emit_plan removes them. */
#define PLAN_MARK '\001'

enum { EMIT_LITS = 8 }; /* real literals emit_lit keeps */
enum { EMIT_RTS = 64 }; /* runtime kernels' names emit_rt keeps */

/* A member of the state's v or d struct, for the memory plan. */
typedef struct Plan Plan;

typedef struct PlanDecl {
	char part;        /* 'v' or 'd' */
	const char *name; /* the member */
	const char *line; /* its declaration */
	int64_t reals;    /* scalars */
	int order;        /* in declaration order */
	int pinned;       /* keeps its own storage whatever the code does */
} PlanDecl;

/* A pass of the generated source: [start, end) in the body, the chunk
 * functions first, then from wrapper on the function that calls them. */
typedef struct PlanRegion {
	size_t start, wrapper, end;
	int forward; /* the forward pass */
	int chunked; /* split into chunk functions */
} PlanRegion;

struct EmitKernel {
	uint64_t hash; /* util_hash of the name */
	const char *name;
};

struct Emit {
	Arena *a;           /* a pass's own while it is written (emit_pass) */
	Arena *keep;        /* the compilation's: what outlives a pass */
	Arena pass;         /* a pass's, reset at its end */
	const Graph *g;
	const EmitOptions *o;
	const char *P, *PU; /* prefix, upper-case prefix */
	int is_float;
	const char *real;   /* "P_real" spelled with the prefix */
	StrBuf kern;        /* kernels, emitted on demand */
	StrBuf *out;        /* where statements go */
	PtrVec kernels;     /* struct EmitKernel: the kernels emitted */
	const char **val;   /* node id -> value buffer (pointer expression) */
	const char **adj;   /* node id -> adjoint buffer (pointer expression) */
	const char **mem;   /* node id -> member path in v/d/pc ("h_add[3]") */
	const char **idmem; /* PC vertex id -> member path of an identity */
	int *idx;           /* scratch: index within an identity group */
	int64_t state_reals; /* scalars declared in P_state */
	int64_t reals_v, reals_d, reals_pc; /* of them in v, d and pc */
	int64_t reals_shared; /* in v and d's shared slots */
	int *puses;         /* param decl -> uses (param_uses) */
	struct Chunker *chunk; /* splits long bodies into functions, or NULL */
	StrBuf text;        /* the storage of the chunker's text between passes */
	char *has_adj;      /* node id -> adjoint has a contribution */
	const char *ind;    /* indentation of statements */
	int in_pc;          /* emitting the PC network (always training mode) */
	PtrVec decls;       /* PlanDecl: the members of v and d */
	PtrVec regions;     /* PlanRegion: the passes in the body */
	struct Plan *plan;  /* what emit_plan decided */
	int loops;          /* roll repeated code into C loops (--unroll) */
	struct Roll *roll;  /* emit_reroll's arrays, kept between passes */
	struct {            /* emit_lit's last literals */
		uint64_t bits;
		const char *s;
	} lit[EMIT_LITS];
	int nlit;
	struct {            /* emit_rt's names */
		const char *name, *s;
	} rt[EMIT_RTS];
	int nrt;
	Span snippet_span;  /* emit_comment's last statement */
	const char *snippet; /* and its source text */
	struct ZilText *zil; /* zil_train's text for zil_opt (emit_sweep.c) */
	/* A parameter's update for emit_gemm to fuse into the product that
	 * writes its whole gradient (pcg_sgemm_upd_mt): the update (how, and
	 * w, the parameter's pointer expression), set by the sweep around a
	 * VJP into a parameter used once; emit_gemm sets upd_w to NULL when
	 * it took it. */
	const char *upd_w, *upd_how;
	/* An epilogue for emit_gemm to pass to the product of a forward
	 * pass (pcg_sgemm_ep_mt): its last arguments, set by
	 * emit_fwd_fused; emit_gemm sets gemm_ep_taken when the product's
	 * form could take it (one call over the whole of C). */
	const char *gemm_ep;
	int gemm_ep_taken;
	char *fused;        /* param decl -> its update went with its product */
	struct BcastMemo *bmemo; /* broadcast kernels met so far (emit.c) */
	int nbmemo;
};

/* Whether the model has losses and pcc --methods generates method(s) m
 * (any of the METHOD_* bits). */
static inline int
emit_has(const Emit *E, unsigned m)
{
	return E->g->losses.len > 0 && (E->o->methods & m) != 0;
}

/* ------------------------------------------------------- emit_plan.c */

/* After the body is generated: the declarations of v and d, members
 * with disjoint lifetimes sharing storage; sets reals_v and reals_d, and
 * removes the hints (PLAN_MARK) from the body. */
void emit_plan(Emit *E, StrBuf *body, StrBuf *vdecl, StrBuf *ddecl);
/* Then, with the other parts' sizes in z: z->fn, the scalars of the
 * state each training function touches. */
void emit_plan_peaks(Emit *E, const char *src, EmitSizes *z);

/* ------------------------------------------------------------ emit.c */

/* A real literal that round-trips ("0.5f", "NAN", "-INFINITY"). */
const char *emit_lit(Emit *E, double x);
/* A <math.h> function for the scalar type ("expf" or "exp"). */
const char *emit_fn(Emit *E, const char *name);
/* A runtime kernel for the scalar type ("pcg_softmax_f"). */
const char *emit_rt(Emit *E, const char *name);
/* One statement line at the current indentation. */
void emit_line(Emit *E, const char *fmt, ...) PCC_PRINTF(2, 3);
/* Append to the kernel section. */
void emit_kern(Emit *E, const char *fmt, ...) PCC_PRINTF(2, 3);
/* Start a generated kernel; 0 if it was emitted already. */
int emit_kernel_begin(Emit *E, const char *name);
/* Expand the placeholders of an elementwise expression (TANH, ONE...). */
const char *emit_expand(Emit *E, const char *t);
/* "PU_BATCH" for a batched node, else "1". */
const char *emit_batch(Emit *E, const Node *n);
/* "PU_BATCH * 32" or "32": the element count of a node's buffer. */
const char *emit_count(Emit *E, const Node *n);
/* "(const int[]){2, 3, 4}" */
const char *emit_ints(Emit *E, int n, const int64_t *v);
/* The state's scratch of a node ("s->v.h_dropout_mask"); "col" is the
 * shared one-sample scratch s->v.im2col_. */
const char *emit_scratch(Emit *E, const Node *n, const char *what);
/* Whether node x (not a leaf) holds exactly n's elements in n's order. */
int emit_same_layout(const Node *x, const Node *n);
/* c = op(x) op(y) (+ c if acc) with batch folding; see emit.c. */
void emit_gemm(Emit *E, const char *c, int cb, const char *x, int xb,
	       int64_t xr, int64_t xc, int tx, const char *y, int yb,
	       int64_t yr, int64_t yc, int ty, int acc);
/* "[PU_BATCH][32]" / "[PU_BATCH * 32]" and names that are not C keywords */
const char *emit_decl_dims(Emit *E, const Shape *sh, int batched);
const char *emit_flat_dims(Emit *E, const Shape *sh, int batched);
const char *emit_member(Emit *E, const char *s);
const char *emit_whole(Emit *E, const char *qual, const char *array,
		       const Shape *sh, int batched);
const char *emit_c_member(Emit *E, const char *path);
void emit_comment(Emit *E, const Vertex *v);

/* Long bodies split into functions between vertices. */
typedef struct Chunker Chunker;
void emit_chunk_point(Emit *E);
/* Where a chunked pass with loops is: the block being written (its index
 * among the pass's blocks, emit_reroll_block's order) and the offset in
 * its text. */
void emit_chunk_pos(const Emit *E, int *block, size_t *off);

/* ---------------------------------------------------- emit_reroll.c */

/* The blocks text[cut[k], cut[k + 1]) for k < ncut - 1 (statements
 * between chunk points), appended to out with runs of blocks that are the
 * same code but for integer literals advancing by constant strides
 * written as one C loop each; out_cut[0..*nout) receives the offsets in
 * out where a split into chunk functions may go (arena memory). */
void emit_reroll(Emit *E, const char *text, const size_t *cut, int ncut,
		 StrBuf *out, size_t **out_cut, int *nout);
/* The same, the blocks given one at a time as they are written: begin,
 * then each block text[at, end) (after the one before it), then end with
 * the text where the blocks are (it may have moved).  With drop, a
 * block's text need not stay in text when emit_reroll_block returns 1
 * (it is an earlier block's but for its integer literals and comments,
 * which are kept): the caller may cut it out of text, and the next block
 * starts where it started. */
void emit_reroll_begin(Emit *E);
int emit_reroll_block(Emit *E, const char *text, size_t at, size_t end,
		      int drop);
void emit_reroll_end(Emit *E, const char *text, StrBuf *out,
		     size_t **out_cut, int *nout);
/* The blocks given so far in this pass. */
int emit_reroll_count(const Emit *E);
/* The roller's blocks of the pass just rolled, taken from E (which gets
 * new ones at its next pass); block k's text, given the text the pass
 * was rolled from (its buffer's memory: *len bytes, valid until the next
 * call); free them. */
struct Roll *emit_reroll_take(Emit *E);
const char *emit_reroll_text(struct Roll *R, const char *text, int k,
			     size_t *len);
void emit_reroll_drop(struct Roll *R);
/* The same on E->out from offset from on, each line a block. */
void emit_reroll_lines(Emit *E, size_t from);
/* Free what emit_reroll keeps between passes. */
void emit_reroll_free(Emit *E);

static inline int64_t
emit_numel(const Node *n)
{
	return shape_numel(&n->shape);
}

/* ----------------------------------------------------- emit_layout.c */

/* Assign every node its buffers and write the declarations of v, d and
 * the PC network. */
void emit_layout(Emit *E, StrBuf *pcdecl);

/* ------------------------------------------------------ emit_sweep.c */

/* The forward code of one node, and the VJP into its input k: the op
 * table's entries, called by every method with its own buffers. */
void emit_fwd_node(Emit *E, const Node *n, const char *y,
		   const char *const *xs);
void emit_vjp(Emit *E, const Node *n, int k, const char *y,
	      const char *const *xs, const char *dy, const char *dx, int acc);
const char **emit_fwd_inputs(Emit *E, const Node *n);
/* A product followed by its bias add (and an element-wise activation of
 * the sum, u, or NULL) in one call, the add and the activation done on
 * each block of the product as it is computed (emit.c); 0, nothing
 * emitted, when the three are not of that form. */
int emit_fwd_fused(Emit *E, const Node *n, const Node *m, const Node *u);
/* Whether n's forward product can take such an epilogue (ops.c). */
int matmul_fwd_rows(const Node *n);

typedef enum Mode {
	MODE_BP,        /* deltas; dL/dtheta into g */
	MODE_ZIL_GRAD,  /* errors eps = -delta; level schedule; into g */
	MODE_ZIL_TRAIN, /* level schedule; parameters change in place (SGD) */
	MODE_ZIL_OPT    /* the same with an optimizer (P_step_zil) */
} Mode;

/* The forward pass: the vertices (chunked), then the tail: unbatched
 * outputs, the losses, the return of the batch-mean loss. */
void emit_forward(Emit *E);
void emit_forward_tail(Emit *E);
/* The loss expressions at the given buffers: adds their batch sum into
 * the variables `sum` (per sample) and `shared` (penalties). */
void emit_losses_value(Emit *E, const char *sum, const char *shared);
void emit_sweep(Emit *E, Mode mode);
/* The text of a chunked pass before it is rolled: 1 if emit_sweep takes
 * it (zil_train's, for zil_opt), the caller then writing in another
 * buffer. */
int emit_sweep_keep(Emit *E, StrBuf *text);
/* Free what emit_sweep keeps from zil_train for zil_opt. */
void emit_sweep_free(Emit *E);
PcVertex **emit_sweep_order(Emit *E, int *nout);
const char *emit_param_ptr(Emit *E, const char *st, const ParamDecl *p);
int *emit_param_uses(Arena *a, const Graph *g);

/* --------------------------------------------------------- emit_pc.c */

void emit_pc_start(Emit *E);
void emit_pc_predict(Emit *E);
void emit_pc_backprop(Emit *E);
void emit_pc_infer(Emit *E);
void emit_pc_energy(Emit *E);
void emit_pc_energy_levels(Emit *E); /* into e[level] */

/* -------------------------------------------------------- emit_api.c */

void emit_header(Emit *E, StrBuf *h, const char *vdecl, const char *ddecl,
		 const char *pcdecl, const char *zildecl);
void emit_api(Emit *E, StrBuf *body);
void emit_ipc_run(Emit *E, StrBuf *body); /* emit.c */
/* P_model() and its descriptor, after the rest of the body */
void emit_descriptor(Emit *E, StrBuf *body);
/* The pieces of an API function: "\nret\nP_name(params)\n{", "}",
 * a parameter list with %P (prefix) and %R (P_real) expanded, and the
 * checks that return `what` before anything changes (s->n, the ids of
 * the inputs, and of the targets if `targets`);
 * emit_guard_train also selects training mode. */
void emit_fn_begin(Emit *E, const char *comment, const char *ret,
		   const char *name, const char *params);
void emit_fn_end(Emit *E);
const char *emit_params(Emit *E, const char *fmt);
void emit_guard(Emit *E, const char *what, int targets);
void emit_guard_train(Emit *E);

/* ------------------------------------------------------------- ops.c */

/* batchnorm's running statistics take the forward pass's batch ones */
void emit_bn_update(Emit *E, const Node *n);

/* ------------------------------------------------------ emit_optim.c */

/* P_opt in the header, the step functions' prototypes, and their code. */
void emit_opt_header(Emit *E, StrBuf *h);
void emit_opt_prototypes(Emit *E, StrBuf *h);
void emit_opt_api(Emit *E);
/* pcg_opt_update of one parameter from the gradient at `grad` */
void emit_opt_update(Emit *E, const ParamDecl *pd, const char *grad);

#endif
