/*
 * emit_pc.c — the PC network: value nodes, predictions, errors, error
 * feedback, inference and the Hebbian updates (docs/pc.md, "Predictive
 * coding" and "Z-IL").
 *
 * Takes the levelled graph and the buffers of emit_layout.c; writes the
 * bodies of pc_start(), pc_predict(), pc_backprop(), pc_infer() and the
 * energy.  The forward and VJP code is the op table's, evaluated at the
 * network's own buffers.  The loss expressions are the output energy:
 * evaluated at the outputs' current predictions, their VJP seeded with
 * -beta gives the output errors.
 */
#include <string.h>

#include "emit.h"

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

/* ------------------------------------------------- PC network dynamics */

/* C1: every value node starts at its forward prediction, x = mu(0). */
void
emit_pc_start(Emit *E)
{
	const Graph *g = E->g;
	for (int i = 0; i < g->pcv.len; i++) {
		PcVertex *v = g->pcv.items[i];
		if (v->is_output)
			continue;
		emit_chunk_point(E);
		const Node *r = pc_node_of(v);
		emit_line(E, "%s(%s, %s, %s); /* %s */", emit_rt(E, "copy"), emit_count(E, r),
		     pc_part(E, "x", v), pc_mu0(E, v), v->label);
		emit_line(E, "%s(%s, %s, %s);", emit_rt(E, "fill"), emit_count(E, r), pc_part(E, "dev", v),
		     emit_lit(E, 0));
	}
}

/* The inputs of a loss expression's node in PC: an output's current
 * prediction, another node of the expression, or data and parameters. */
static const char **
pc_loss_inputs(Emit *E, const Loss *l, const Node *n)
{
	const char **xs = emit_fwd_inputs(E, n);
	for (int k = 0; k < n->nin; k++)
		for (int j = 0; j < l->outs.len; j++)
			if (l->outs.items[j] == n->in[k])
				xs[k] = pc_out_mu(E, l->pc_outs.items[j]);
	return xs;
}

/* The loss expressions at the current predictions (their values stay in
 * s->v for the energy), and their VJP seeded with -beta (per sample) or
 * -beta B (a shared penalty) into the errors of the outputs.  Their VJP
 * into parameters is in pc_backprop, with the level-0 updates. */
static void
pc_losses(Emit *E)
{
	const Graph *g = E->g;
	char *seeded = arena_alloc(E->a, (size_t)g->pcv.len + 1);
	memset(E->has_adj, 0, (size_t)g->nodes.len + 1);
	for (int i = 0; i < g->losses.len; i++) {
		const Loss *l = g->losses.items[i];
		const Node *r = l->root;
		for (int k = 0; k < l->nodes.len; k++) {
			const Node *n = l->nodes.items[k];
			emit_fwd_node(E, n, E->val[n->id], pc_loss_inputs(E, l, n));
		}
		if (!r->needs_grad)
			continue;
		emit_line(E, "%s(%s, %s, %s);", emit_rt(E, "fill"),
			  emit_count(E, r), E->adj[r->id],
			  r->batched ? "-s->pc.beta" : "-s->pc.beta * nb");
		E->has_adj[r->id] = 1;
		for (int k = l->nodes.len - 1; k >= 0; k--) {
			const Node *n = l->nodes.items[k];
			if (!n->needs_grad)
				continue;
			const char **xs = pc_loss_inputs(E, l, n);
			for (int j = 0; j < n->nin; j++) {
				const Node *x = n->in[j];
				if (!x->needs_grad || x->op == OP_PARAM)
					continue;
				int out = -1;
				for (int q = 0; q < l->outs.len; q++)
					if (l->outs.items[q] == x)
						out = q;
				if (out >= 0) {
					PcVertex *o = l->pc_outs.items[out];
					emit_vjp(E, n, j, E->val[n->id], xs,
						 E->adj[n->id], pc_part(E, "e", o),
						 seeded[o->id]);
					seeded[o->id] = 1;
				} else {
					emit_vjp(E, n, j, E->val[n->id], xs,
						 E->adj[n->id], E->adj[x->id],
						 E->has_adj[x->id]);
					E->has_adj[x->id] = 1;
				}
			}
		}
	}
}

/* The level-0 Hebbian updates of parameters a loss expression reads
 * directly (a penalty): d loss / d theta from the seeded expression. */
static void
pc_loss_params(Emit *E)
{
	const Graph *g = E->g;
	int gate = g->pcv.len; /* the losses' gate */
	if (emit_has(E, METHOD_ZIL)) {
		/* the seed of the output energy is never zero: it opens at
		 * the first step */
		emit_line(E, "if (learn == -3) {");
		if (E->o->zil_control == 3)
			emit_line(E, "\ts->pc.open[%d] = 1; /* negative control: "
				     "no latch */", gate);
		else
			emit_line(E, "\ts->pc.open[%d] = !s->pc.fired[%d];\n"
				     "\t\ts->pc.fired[%d] = 1;", gate, gate,
				  gate);
		emit_line(E, "}");
	}
	for (int i = 0; i < g->losses.len; i++) {
		const Loss *l = g->losses.items[i];
		for (int k = l->nodes.len - 1; k >= 0; k--) {
			const Node *n = l->nodes.items[k];
			if (!n->needs_grad)
				continue;
			for (int j = 0; j < n->nin; j++) {
				const Node *x = n->in[j];
				if (x->op != OP_PARAM || !x->needs_grad)
					continue;
				emit_line(E, "if (learn == 0 || learn == -1%s)",
					  emit_has(E, METHOD_ZIL)
					  ? arena_printf(E->a, " || (learn == -3 "
							 "&& s->pc.open[%d])",
							 gate) : "");
				const char *saved = E->ind;
				E->ind = "\t\t";
				emit_vjp(E, n, j, E->val[n->id],
					 pc_loss_inputs(E, l, n), E->adj[n->id],
					 E->adj[x->id], 1);
				E->ind = saved;
			}
		}
	}
}

/* mu of every vertex from the current value nodes, and the errors. */
void
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
			emit_chunk_point(E);
			emit_comment(E, cur);
		}
		emit_fwd_node(E, n, arena_printf(E->a, "s->pc.mu.%s", E->mem[n->id]),
			      pc_inputs(E, n));
	}
	emit_line(E, "/* the error nodes: eps = x - mu */");
	for (int i = 0; i < g->pcv.len; i++) {
		PcVertex *v = g->pcv.items[i];
		if (v->is_output)
			continue;
		emit_chunk_point(E);
		const Node *r = pc_node_of(v);
		const char *mu = v->root
			? arena_printf(E->a, "s->pc.mu.%s", E->mem[v->root->id])
			: pc_part(E, "x", v->parent);
		emit_line(E, "%s(%s, %s, %s, %s);", emit_rt(E, "error"), emit_count(E, r),
		     pc_part(E, "e", v), pc_part(E, "x", v), mu);
	}
	emit_line(E, "/* output errors: eps_o = -beta d loss / d mu_o, the VJP "
		     "of the loss\n\t * expressions at the current predictions */");
	pc_losses(E);
}

/* Whether a vertex has parameters to learn. */
static int
pc_learns(const PcVertex *v)
{
	for (int k = 0; v->root && k < v->nodes.len; k++) {
		const Node *n = v->nodes.items[k];
		for (int j = 0; n->needs_grad && j < n->nin; j++)
			if (n->in[j]->op == OP_PARAM && n->in[j]->needs_grad)
				return 1;
	}
	return 0;
}

/*
 * Fa-Z-IL's plasticity gate of vertex k (learn == -3): it reads only the
 * vertex's own error eps, its own prediction mu against its forward
 * value mu0, and its own latch fired.  It opens, once, at the first step
 * its error is non-zero while its prediction is still mu0; a prediction
 * that moves first (its parents have moved: its step has passed with a
 * zero error) closes it for good.  The negative controls: 3 opens at
 * every non-zero error, 4 ignores the prediction.
 */
static void
pc_gate(Emit *E, int k, const char *n, const char *eps, const char *mu,
	const char *mu0)
{
	emit_line(E, "if (learn == -3) {");
	if (E->o->zil_control == 3) {
		emit_line(E, "\ts->pc.open[%d] = %s(%s, %s); /* negative "
			     "control: no latch */", k, emit_rt(E, "nonzero"),
			  n, eps);
		emit_line(E, "}");
		return;
	}
	if (E->o->zil_control == 4)
		emit_line(E, "\tconst int moved = 0; /* negative control: the "
			     "prediction ignored */");
	else
		emit_line(E, "\tconst int moved = !s->pc.fired[%d] && %s(%s, %s, "
			     "%s);", k, emit_rt(E, "differ"), n, mu, mu0);
	emit_line(E, "\ts->pc.open[%d] = !s->pc.fired[%d] && !moved && "
		     "%s(%s, %s);", k, k, emit_rt(E, "nonzero"), n, eps);
	emit_line(E, "\tif (moved || s->pc.open[%d])\n\t\t\ts->pc.fired[%d] = 1;",
		  k, k);
	emit_line(E, "}");
}

/* Error feedback fb_i = sum_c J_c^T eps_c for every vertex, and the
 * Hebbian parameter updates of the vertices that learn at this call:
 * those at level `learn`, all of them if learn == -1, those whose
 * plasticity gate opens now if learn == -3 (Fa-Z-IL). */
void
emit_pc_backprop(Emit *E)
{
	const Graph *g = E->g;
	int nv;
	PcVertex **order = emit_sweep_order(E, &nv);
	/* has_adj: per node for inner errors; fbset: per PC vertex */
	memset(E->has_adj, 0, (size_t)g->nodes.len + 1);
	char *fbset = arena_alloc(E->a, (size_t)g->pcv.len + 1);
	pc_loss_params(E);
	for (int i = 0; i < nv; i++) {
		PcVertex *v = order[i];
		emit_chunk_point(E);
		if (!v->root) {
			PcVertex *p = v->parent;
			emit_line(E, "%s(%s, %d, %s, %s); /* %s: identity */",
				  emit_rt(E, "copy_vjp"),
			     emit_count(E, pc_node_of(v)), fbset[p->id],
			     pc_part(E, "fb", p), pc_part(E, "e", v), v->label);
			fbset[p->id] = 1;
			continue;
		}
		if (v->stmt)
			emit_comment(E, v->stmt);
		int gated = emit_has(E, METHOD_ZIL) && pc_learns(v);
		if (gated)
			pc_gate(E, v->id, emit_count(E, v->root),
				pc_part(E, "e", v),
				arena_printf(E->a, "s->pc.mu.%s",
					     E->mem[v->root->id]),
				E->val[v->root->id]);
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
					emit_line(E, "if (learn == %d || learn == -1%s)",
					     v->level, gated ? arena_printf(
						E->a, " || (learn == -3 && "
						"s->pc.open[%d])", v->id) : "");
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
void
emit_pc_infer(Emit *E)
{
	const Graph *g = E->g;
	for (int i = 0; i < g->pcv.len; i++) {
		PcVertex *v = g->pcv.items[i];
		if (v->is_output)
			continue;
		emit_chunk_point(E);
		emit_line(E, "%s(%s, gamma, %s, %s, %s, %s, %s); /* %s */",
			  emit_rt(E, "infer"),
		     emit_count(E, pc_node_of(v)), pc_part(E, "dev", v),
		     pc_part(E, "x", v), pc_mu0(E, v), pc_part(E, "e", v),
		     pc_part(E, "fb", v), v->label);
	}
}

/* The energy into f (levels: into e[level], the losses into e[0]). */
static void
pc_energy(Emit *E, int levels)
{
	const Graph *g = E->g;
	size_t from = E->out->len;
	for (int i = 0; i < g->pcv.len; i++) {
		PcVertex *v = g->pcv.items[i];
		if (v->is_output)
			continue;
		emit_line(E, "%s += %s(%s, %s);",
			  levels ? arena_printf(E->a, "e[%d]", v->level) : "f",
			  emit_rt(E, "half_sq"), emit_count(E, pc_node_of(v)),
			  pc_part(E, "e", v));
	}
	if (E->loops) /* a line a vertex: the same sums in a loop */
		emit_reroll_lines(E, from);
	emit_line(E, "%s fl = %s;", E->real, emit_lit(E, 0));
	for (int i = 0; i < g->losses.len; i++) {
		const Loss *l = g->losses.items[i];
		const Node *r = l->root;
		if (r->batched)
			emit_line(E, "fl += %s(nb, %s);", emit_rt(E, "sum"),
				  E->val[r->id]);
		else
			emit_line(E, "fl += nb * %s[0];", E->val[r->id]);
	}
	emit_line(E, "%s += s->pc.beta * fl;", levels ? "e[0]" : "f");
}

void
emit_pc_energy(Emit *E)
{
	pc_energy(E, 0);
}

void
emit_pc_energy_levels(Emit *E)
{
	pc_energy(E, 1);
}

