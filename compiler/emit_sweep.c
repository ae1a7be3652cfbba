/*
 * emit_sweep.c — the forward pass, the losses, and the reverse sweep that
 * BP and the Z-IL schedule share.
 *
 * Takes the levelled graph and the buffers of emit_layout.c; writes the
 * body of forward() and of backward() / zil_schedule() / zil_train().
 * BP and Z-IL are one sweep over the levelled graph (by level from the
 * outputs; in a level, identities first, then reverse topological order)
 * with the same kernels: Z-IL seeds the outputs with -1/B instead of
 * +1/B, so every error is the exact negation of BP's delta, and its
 * gradient -(Hebbian sum) + 0 is BP's bit for bit.
 */
#include <stdlib.h>
#include <string.h>

#include "emit.h"

void
emit_fwd_node(Emit *E, const Node *n, const char *y, const char *const *xs)
{
	const OpDef *d = &op_defs[n->op];
	if (d->cls == OPC_LEAF && !d->fwd)
		return;
	if (!d->fwd)
		die("no forward code for %s", op_name[n->op]);
	d->fwd(E, n, y, xs);
}

void
emit_vjp(Emit *E, const Node *n, int k, const char *y, const char *const *xs,
	 const char *dy, const char *dx, int acc)
{
	const OpDef *d = &op_defs[n->op];
	if (!d->vjp || (d->nodiff >> k & 1))
		die("no VJP for input %d of %s", k, op_name[n->op]);
	d->vjp(E, n, k, y, xs, dy, dx, acc);
}

/* The input values of node n in the forward pass. */
const char **
emit_fwd_inputs(Emit *E, const Node *n)
{
	const char **xs = arena_alloc(E->a, sizeof(char *) * (size_t)(n->nin + 1));
	for (int k = 0; k < n->nin; k++)
		xs[k] = E->val[n->in[k]->id];
	return xs;
}

static void
loss_comment(Emit *E, const Loss *l)
{
	StrBuf sb = {0};
	diag_snippet(E->g->diag, l->span, &sb, 100);
	emit_line(E, "/* %s:%d: %s */", E->o->source_name, l->line,
		  sb.data ? sb.data : "loss");
	sb_free(&sb);
}

void
emit_losses_value(Emit *E, const char *sum, const char *shared)
{
	for (int i = 0; i < E->g->losses.len; i++) {
		const Loss *l = E->g->losses.items[i];
		const Node *r = l->root;
		if (r->batched)
			emit_line(E, "%s += %s(nb, %s);", sum, emit_rt(E, "sum"),
				  E->val[r->id]);
		else
			emit_line(E, "%s += %s[0];", shared, E->val[r->id]);
	}
}

static int
has_shared_loss(const Graph *g)
{
	for (int i = 0; i < g->losses.len; i++)
		if (!((Loss *)g->losses.items[i])->root->batched)
			return 1;
	return 0;
}

/* Whether forward() emits node n's code. */
static int
fwd_emitted(const Node *n)
{
	return n->live && !n->in_loss &&
	       (!op_is_leaf(n->op) || n->op == OP_CONST);
}

/* The index of the next node after i that forward() emits, or -1. */
static int
fwd_next(const Graph *g, int i)
{
	for (i++; i < g->nodes.len; i++)
		if (fwd_emitted(g->nodes.items[i]))
			return i;
	return -1;
}

/* forward(): every vertex in topological order, then the losses; the
 * chunked part first (the vertices), the rest by the caller */
void
emit_forward(Emit *E)
{
	const Graph *g = E->g;
	const Vertex *cur = NULL;
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.items[i];
		if (!fwd_emitted(n))
			continue;
		if (n->vertex && n->vertex != cur) {
			cur = n->vertex;
			emit_chunk_point(E);
			emit_comment(E, cur);
		}
		/* a product with its bias and activation: one call */
		int j = n->op == OP_MATMUL ? fwd_next(g, i) : -1;
		int k = j < 0 ? -1 : fwd_next(g, j);
		int fused = j < 0 ? 0
			: emit_fwd_fused(E, n, g->nodes.items[j],
					 k < 0 ? NULL : g->nodes.items[k]);
		if (fused) {
			i = fused == 3 ? k : j;
			continue;
		}
		emit_fwd_node(E, n, E->val[n->id], emit_fwd_inputs(E, n));
	}
}

/* The losses of forward(): their nodes, then their values. */
static void
emit_losses_fwd(Emit *E)
{
	const Graph *g = E->g;
	for (int i = 0; i < g->losses.len; i++) {
		const Loss *l = g->losses.items[i];
		loss_comment(E, l);
		for (int k = 0; k < l->nodes.len; k++) {
			const Node *n = l->nodes.items[k];
			emit_fwd_node(E, n, E->val[n->id], emit_fwd_inputs(E, n));
		}
	}
	emit_losses_value(E, "loss", "shared");
}

void
emit_forward_tail(Emit *E)
{
	const Graph *g = E->g;
	for (int i = 0; i < g->outputs.len; i++) {
		OutputDecl *od = g->outputs.items[i];
		if (od->node->batched)
			continue;
		emit_line(E, "%s(nb, 1, %lld, 0, %lld, 0, %s, %s); /* output "
			  "%s, the same for every sample */",
			  emit_rt(E, "place"), (long long)emit_numel(od->node),
			  (long long)emit_numel(od->node),
			  emit_whole(E, "", arena_printf(E->a, "s->out.%s",
							 emit_member(E, od->name)),
				     &od->node->shape, 1),
			  E->val[od->node->id], od->name);
	}
	for (int i = 0; i < g->nodes.len; i++)
		if (((Node *)g->nodes.items[i])->op == OP_DROPOUT) {
			emit_line(E, "if (s->mode == PCG_MODE_TRAIN)\n\t\ts->rng++; "
				     "/* the next call draws new masks */");
			break;
		}
	if (g->losses.len)
		emit_line(E, "if (s->mode == PCG_MODE_PREDICT)\n\t\treturn %s; "
			     "/* no target read */", emit_lit(E, 0));
	if (has_shared_loss(g))
		emit_line(E, "%s shared = %s;", E->real, emit_lit(E, 0));
	emit_losses_fwd(E);
	if (emit_has(E, METHOD_PC))
		emit_line(E, "s->pc.valid = 0;");
	if (has_shared_loss(g))
		emit_line(E, "return loss / nb + shared;");
	else
		emit_line(E, "return loss / nb;");
}

/* ------------------------------------------ BP and the Z-IL schedule */

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
PcVertex **
emit_sweep_order(Emit *E, int *nout)
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
int *
emit_param_uses(Arena *a, const Graph *g)
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

const char *
emit_param_ptr(Emit *E, const char *st, const ParamDecl *p)
{
	return emit_whole(E, "", arena_printf(E->a, "%s->%s", st,
					      emit_member(E, p->name)),
			  &p->shape, 0);
}

static void update_now(Emit *E, const ParamDecl *pd, Mode mode,
		       const char *eps);

/*
 * zil_train and zil_opt walk the graph the same way and write the same
 * text but for the updates of the parameters used once (update_now) and
 * the tied parameters at the end.  With loops (--unroll), where the body
 * is rolled as it is written (emit_reroll_block), zil_train's blocks are
 * kept with where its chunk points and updates are, and zil_opt copies
 * its sweep from them, writing its own updates in their places, instead
 * of walking the graph again (8 % of pcc's instructions on a long RNN).
 * The blocks are the roller's own, handed over once zil_train's text is
 * rolled (emit_sweep_keep): the text of those that repeat an earlier
 * one's is not kept but written again (emit_reroll_text), 0.15 GB less
 * for the RNN of 10^5 steps.
 */
typedef struct ZilPos {
	int block;  /* among the pass's blocks (emit_chunk_pos) */
	size_t off; /* in its text */
} ZilPos;

typedef struct ZilMark {
	ZilPos at, end;        /* a chunk point: at == end */
	const ParamDecl *pd;   /* update_now of pd, or NULL: a chunk point */
} ZilMark;

struct ZilText {
	StrBuf text;  /* zil_train's body: its kept blocks */
	struct Roll *roll; /* its blocks (emit_reroll_take) */
	ZilPos from, to; /* its sweep */
	ZilMark *m;
	int n, cap;
	enum {
		ZIL_NOTING = 1, /* zil_train's sweep is being noted */
		ZIL_NOTED,      /* it was, its text not yet handed over */
		ZIL_KEPT        /* text and m are zil_train's, for zil_opt */
	} state;
};

/* The errors of a parameter used once, summed just before its update. */
static const char ZIL_SCRATCH[] = "s->zil.scratch";

static ZilPos
zil_pos(const Emit *E)
{
	ZilPos p;
	emit_chunk_pos(E, &p.block, &p.off);
	return p;
}

static void
zil_mark(Emit *E, ZilPos at, const ParamDecl *pd)
{
	struct ZilText *z = E->zil;
	if (z->n == z->cap) {
		z->cap = z->cap ? 2 * z->cap : 256;
		z->m = realloc(z->m, sizeof *z->m * (size_t)z->cap);
		if (!z->m)
			die("out of memory");
	}
	z->m[z->n++] = (ZilMark){at, zil_pos(E), pd};
}

/* A chunk point, noted when zil_train's sweep is kept. */
static void
sweep_chunk_point(Emit *E)
{
	emit_chunk_point(E);
	if (E->zil && E->zil->state == ZIL_NOTING)
		zil_mark(E, zil_pos(E), NULL);
}

/* zil_train's text from a to b (a before b) onto E->out. */
static void
zil_copy(Emit *E, ZilPos a, ZilPos b)
{
	struct ZilText *z = E->zil;
	for (; a.block < b.block || (a.block == b.block && a.off < b.off);
	     a.block++, a.off = 0) {
		size_t len;
		const char *t = emit_reroll_text(z->roll, z->text.data, a.block,
						 &len);
		if (a.block == b.block)
			len = b.off;
		if (a.off > len)
			die("zil_opt's copy of zil_train's text out of order");
		sb_putn(E->out, t + a.off, len - a.off);
	}
}

/* zil_opt's sweep up to the tied parameters from zil_train's blocks. */
static void
zil_replay(Emit *E)
{
	struct ZilText *z = E->zil;
	ZilPos at = z->from;
	for (int i = 0; i < z->n; i++) {
		const ZilMark *m = &z->m[i];
		zil_copy(E, at, m->at);
		if (m->pd)
			update_now(E, m->pd, MODE_ZIL_OPT, ZIL_SCRATCH);
		else
			emit_chunk_point(E);
		at = m->end;
	}
	zil_copy(E, at, z->to);
	emit_sweep_free(E);
}

int
emit_sweep_keep(Emit *E, StrBuf *text)
{
	struct ZilText *z = E->zil;
	if (!z || z->state != ZIL_NOTED)
		return 0;
	z->text = *text;
	z->roll = emit_reroll_take(E);
	z->state = ZIL_KEPT;
	return 1;
}

void
emit_sweep_free(Emit *E)
{
	if (!E->zil)
		return;
	sb_free(&E->zil->text);
	emit_reroll_drop(E->zil->roll);
	free(E->zil->m);
	free(E->zil);
	E->zil = NULL;
}

/* Z-IL's in-place update of a parameter from its summed errors eps at
 * `eps`: SGD (zil_sgd: p -= lr * -eps), or the optimizer on the gradient
 * 0 - eps, the bits BP's canonical gradient has. */
static void
update_now(Emit *E, const ParamDecl *pd, Mode mode, const char *eps)
{
	int64_t cnt = shape_numel(&pd->shape);
	int noting = E->zil && E->zil->state == ZIL_NOTING;
	ZilPos at = noting ? zil_pos(E) : (ZilPos){0, 0};
	if (mode == MODE_ZIL_TRAIN) {
		emit_line(E, "%s(%lld, lr, %s, %s); /* in place, now */",
			  emit_rt(E, "zil_sgd"), (long long)cnt,
			  emit_param_ptr(E, "p", pd), eps);
	} else {
		emit_line(E, "%s(%lld, %s); /* the gradient, -eps */",
			  emit_rt(E, "zil_grad"), (long long)cnt, eps);
		emit_opt_update(E, pd, eps);
	}
	/* zil_opt writes its own update at [at, end) of zil_train's text */
	if (noting)
		zil_mark(E, at, pd);
}

/*
 * The VJP of n into input j, a parameter used once, into dx, with the
 * update `how` of the parameter at `w` fused into the product that
 * writes its gradient where the VJP is one (emit_gemm); returns whether
 * it was.
 */
static int
vjp_fused(Emit *E, const Node *n, int j, const char *const *xs,
	  const char *dy, const char *dx, const char *how, const char *w)
{
	E->upd_how = how;
	E->upd_w = w;
	emit_vjp(E, n, j, E->val[n->id], xs, dy, dx, 0);
	int taken = E->upd_w == NULL;
	E->upd_w = NULL;
	return taken;
}

/* The VJPs of one node into every input that needs a gradient: inputs
 * that are not parameters first (their VJP may need a parameter's value
 * before it changes), then parameters. */
static void
sweep_node(Emit *E, const Node *n, Mode mode)
{
	const Graph *g = E->g;
	if (!E->has_adj[n->id])
		die("adjoint of %%%d used before it was set", n->id);
	const char **xs = emit_fwd_inputs(E, n);
	const char *dy = E->adj[n->id];
	for (int pass = 0; pass < 2; pass++) {
		for (int j = 0; j < n->nin; j++) {
			Node *x = n->in[j];
			if (!x->needs_grad || (x->op == OP_PARAM) != pass)
				continue;
			int inplace = mode == MODE_ZIL_TRAIN ||
				      mode == MODE_ZIL_OPT;
			if (inplace && x->op == OP_PARAM &&
			    E->puses[x->decl] == 1) {
				ParamDecl *pd = g->params.items[x->decl];
				/* zil_train's update fused into the product,
				 * unless zil_opt is to copy this text and put
				 * its own update in update_now's place */
				int fused = 0;
				if (mode == MODE_ZIL_TRAIN &&
				    !(E->zil && E->zil->state == ZIL_NOTING))
					fused = vjp_fused(E, n, j, xs, dy,
						ZIL_SCRATCH,
						"PCG_UPD_ZIL | PCG_UPD_SCRATCH",
						emit_param_ptr(E, "p", pd));
				else
					emit_vjp(E, n, j, E->val[n->id], xs, dy,
						 ZIL_SCRATCH, 0);
				if (!fused)
					update_now(E, pd, mode, ZIL_SCRATCH);
				continue;
			}
			const char *dx = E->adj[x->id];
			if (mode == MODE_BP && x->op == OP_PARAM &&
			    E->puses[x->decl] == 1 &&
			    !((ParamDecl *)g->params.items[x->decl])->buffer) {
				/* the gradient's +0 or, when training (u),
				 * the update alone, with the product */
				ParamDecl *pd = g->params.items[x->decl];
				E->fused[x->decl] = (char)vjp_fused(E, n, j, xs,
					dy, dx, "u ? PCG_UPD_BP | PCG_UPD_SCRATCH "
						": PCG_UPD_BP",
					arena_printf(E->a, "u ? %s : NULL",
						     emit_param_ptr(E, "u", pd)));
				E->has_adj[x->id] = 1;
				continue;
			}
			if (inplace && x->op == OP_PARAM) {
				ParamDecl *pd = g->params.items[x->decl];
				dx = emit_whole(E, "", arena_printf(E->a, "s->zil.%s",
						emit_member(E, pd->name)),
						&pd->shape, 0);
			}
			emit_vjp(E, n, j, E->val[n->id], xs, dy, dx,
				 E->has_adj[x->id]);
			/* dx = dy now (an identity VJP, x's first contribution):
			 * the node's other VJPs read dx, so that dy dies here and
			 * dx may take its storage (emit_plan.c) */
			const char *vc = j < 2 ? op_defs[n->op].vjp_c[j] : NULL;
			if (!E->has_adj[x->id] && vc && !strcmp(vc, "dy") &&
			    x->op != OP_PARAM && emit_same_layout(x, n))
				dy = dx;
			E->has_adj[x->id] = 1;
		}
	}
}

/* The loss expressions: seeded with scale (per sample) or scale * B (a
 * shared penalty), then their VJPs into the outputs and parameters. */
static void
sweep_losses(Emit *E, Mode mode, const char *scale, const char *shared_scale)
{
	const Graph *g = E->g;
	for (int i = 0; i < g->losses.len; i++) {
		const Loss *l = g->losses.items[i];
		const Node *r = l->root;
		if (!r->needs_grad)
			continue;
		loss_comment(E, l);
		emit_line(E, "%s(%s, %s, %s);", emit_rt(E, "fill"),
			  emit_count(E, r), E->adj[r->id],
			  r->batched ? scale : shared_scale);
		E->has_adj[r->id] = 1;
		for (int k = l->nodes.len - 1; k >= 0; k--) {
			const Node *n = l->nodes.items[k];
			if (n->needs_grad)
				sweep_node(E, n, mode);
		}
	}
}

/* The losses and the vertices, level by level. */
static void
sweep_vertices(Emit *E, Mode mode)
{
	const Graph *g = E->g;
	int bp = mode == MODE_BP;
	memset(E->has_adj, 0, (size_t)g->nodes.len + 1);
	const char *scale = arena_printf(E->a, "%s / nb",
					 emit_lit(E, bp ? 1.0 : -1.0));
	if (bp)
		emit_line(E, "/* output deltas: d loss / d output, mean over the "
			     "batch */");
	else
		emit_line(E, "/* step 0: the output errors eps_o = -d loss / d "
			     "mu_o (mean over the batch).\n\t * C1: the value "
			     "nodes start at the forward pass, so every other "
			     "error is 0. */");
	sweep_losses(E, mode, scale, emit_lit(E, bp ? 1.0 : -1.0));
	int nv;
	PcVertex **order = emit_sweep_order(E, &nv);
	int last_level = -1;
	for (int i = 0; i < nv; i++) {
		PcVertex *v = order[i];
		sweep_chunk_point(E);
		if (v->level != last_level) {
			sb_putc(E->out, '\n');
			if (bp)
				emit_line(E, "/* ---- level %d ---- */", v->level);
			else if (v->level == 0)
				emit_line(E, "/* ---- step 0: level 0 (outputs) "
					     "---- */");
			else
				emit_line(E, "/* ---- step %d: level %d. Inference "
					     "with gamma = 1 (C3) from x = mu (C1) "
					     "makes\n\t * eps_i(%d) = sum_c J_c^T "
					     "eps_c(%d) for every vertex i of this "
					     "level ---- */",
					  v->level, v->level, v->level,
					  v->level - 1);
			last_level = v->level;
		}
		if (!v->root) {
			emit_line(E, "/* %s: identity vertex, its error passes up "
				     "unchanged (it shares its parent's buffer) */",
				  v->label);
			continue;
		}
		if (v->stmt)
			emit_comment(E, v->stmt);
		if (mode != MODE_BP && v->nodes.len)
			emit_line(E, "/* C2: the parameters of %s learn at step %d, "
				     "from eps(%d) */",
				  v->label, v->level, v->level);
		for (int k = v->nodes.len - 1; k >= 0; k--) {
			Node *n = v->nodes.items[k];
			if (n->needs_grad && n->live)
				sweep_node(E, n, mode);
		}
	}
}

void
emit_sweep(Emit *E, Mode mode)
{
	const Graph *g = E->g;
	int bp = mode == MODE_BP;
	if (mode == MODE_ZIL_OPT && E->zil && E->zil->state == ZIL_KEPT) {
		/* has_adj as zil_train's sweep left it, which is this one's */
		zil_replay(E);
	} else if (mode == MODE_ZIL_TRAIN && E->loops) {
		emit_sweep_free(E);
		struct ZilText *z = E->zil = calloc(1, sizeof *E->zil);
		if (!z)
			die("out of memory");
		z->from = zil_pos(E);
		z->state = ZIL_NOTING;
		sweep_vertices(E, mode);
		z->to = zil_pos(E);
		z->state = ZIL_NOTED;
	} else {
		sweep_vertices(E, mode);
	}
	/* parameters */
	int first = 1;
	for (int i = 0; i < g->params.len; i++) {
		ParamDecl *p = g->params.items[i];
		int64_t cnt = shape_numel(&p->shape);
		emit_chunk_point(E);
		if (mode == MODE_ZIL_TRAIN || mode == MODE_ZIL_OPT) {
			if (p->buffer || (E->puses[i] == 1 &&
					  mode == MODE_ZIL_OPT))
				continue; /* updated in place already */
			if (!E->has_adj[p->node->id] && mode == MODE_ZIL_TRAIN)
				continue;
			if (first) {
				sb_putc(E->out, '\n');
				emit_line(E, "/* tied parameters (used at several "
					     "steps) learn now, at the end%s */",
					  mode == MODE_ZIL_OPT ? "; so do those "
					  "no loss depends on, from a zero "
					  "gradient" : "");
			}
			first = 0;
			const char *acc = emit_whole(E, "", arena_printf(E->a,
					"s->zil.%s", emit_member(E, p->name)),
				&p->shape, 0);
			if (!E->has_adj[p->node->id]) {
				emit_line(E, "%s(%lld, s->zil.scratch, %s);",
					  emit_rt(E, "fill"), (long long)cnt,
					  emit_lit(E, 0));
				emit_opt_update(E, p, "s->zil.scratch");
				continue;
			}
			update_now(E, p, mode, acc);
			continue;
		}
		if (first) {
			sb_putc(E->out, '\n');
			emit_line(E, bp ? "/* every gradient with +0 for zeros */"
					: "/* the gradient: dL/dtheta = -(sum of "
					  "eps-weighted inputs), +0 for zeros */");
		}
		first = 0;
		const char *gp = emit_param_ptr(E, "g", p);
		if (bp && E->fused[i]) {
			emit_line(E, "/* %s: +0, or the update, with its product */",
				  p->name);
		} else if (!E->has_adj[p->node->id]) {
			emit_line(E, "%s(%lld, %s, %s); /* no loss depends on %s */",
				  emit_rt(E, "fill"), (long long)cnt, gp,
				  emit_lit(E, 0), p->name);
			if (bp && !p->buffer)
				emit_line(E, "if (u)\n\t\t%s(s->pool, %lld, lr, %s, "
					     "%s);", emit_rt(E, "sgd_mt"),
					  (long long)cnt,
					  emit_param_ptr(E, "u", p), gp);
		} else if (bp && !p->buffer) {
			emit_line(E, "if (u)\n\t\t%s(s->pool, %lld, lr, %s, %s);\n"
				     "\telse\n\t\t%s(s->pool, %lld, %s);",
				  emit_rt(E, "canon_sgd_mt"), (long long)cnt,
				  emit_param_ptr(E, "u", p), gp,
				  emit_rt(E, "canon_mt"), (long long)cnt, gp);
		} else {
			emit_line(E, "%s(s->pool, %lld, %s);",
				  emit_rt(E, bp ? "canon_mt" : "zil_grad_mt"),
				  (long long)cnt, gp);
		}
	}
}
