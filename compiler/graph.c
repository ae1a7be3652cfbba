/*
 * graph.c — the graph of primitive op nodes built by sema.c, and its
 * analysis.
 *
 * Takes the nodes (in topological order) and vertices; gives each node
 * `on_param`, `live`, `reaches_loss` and `needs_grad`, and warns about
 * vertices that reach no loss or output (they are dropped from the
 * generated code).  Levels and DEPTH are level.c's.
 */
#include <string.h>

#include "pcc.h"

Node *
graph_node(Arena *a, Graph *g, OpKind op, const Shape *shape, int nin,
	   Node **in, Span span)
{
	Node *n = arena_alloc(a, sizeof *n);
	n->id = g->nodes.len;
	n->op = op;
	n->shape = *shape;
	n->nin = nin;
	n->span = span;
	n->index = -1;
	n->batched = op == OP_INPUT || op == OP_TARGET;
	if (nin) {
		n->in = arena_alloc(a, sizeof(Node *) * (size_t)nin);
		for (int i = 0; i < nin; i++) {
			n->in[i] = in[i];
			n->batched |= in[i]->batched;
			in[i]->nuses++;
		}
	}
	vec_push(a, &g->nodes, n);
	return n;
}

static void
mark_back(Graph *g, int field_live)
{
	/* propagate from consumers to inputs, in reverse topological order */
	for (int i = g->nodes.len - 1; i >= 0; i--) {
		Node *n = g->nodes.items[i];
		int on = field_live ? n->live : n->reaches_loss;
		if (!on)
			continue;
		for (int k = 0; k < n->nin; k++) {
			if (field_live)
				n->in[k]->live = 1;
			else
				n->in[k]->reaches_loss = 1;
		}
	}
}

int
graph_analyse(Arena *a, Graph *g)
{
	(void)a;
	/* on_param: forward */
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.items[i];
		n->on_param = n->op == OP_PARAM && !n->is_buffer;
		for (int k = 0; k < n->nin; k++)
			n->on_param |= n->in[k]->on_param;
	}
	/* sinks: losses and exposed outputs */
	for (int i = 0; i < g->losses.len; i++) {
		Loss *l = g->losses.items[i];
		l->root->live = l->root->reaches_loss = 1;
	}
	for (int i = 0; i < g->outputs.len; i++) {
		OutputDecl *o = g->outputs.items[i];
		o->node->live = 1;
	}
	mark_back(g, 1);
	mark_back(g, 0);
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.items[i];
		n->needs_grad = n->on_param && n->reaches_loss;
	}
	/* dead vertices */
	for (int i = 0; i < g->vertices.len; i++) {
		Vertex *v = g->vertices.items[i];
		if (!v->root->live)
			diag_warning(g->diag, v->span,
				     "'%s' reaches no loss or output; it is "
				     "dropped",
				     v->label);
	}
	for (int i = 0; i < g->losses.len; i++) {
		Loss *l = g->losses.items[i];
		for (int k = 0; k < l->outs.len; k++) {
			Node *o = l->outs.items[k];
			if (o->vertex)
				o->vertex->is_output = 1;
		}
	}
	return 0;
}

void
graph_dump(FILE *out, const Graph *g)
{
	Arena a;
	arena_init(&a);
	for (int i = 0; i < g->nodes.len; i++) {
		const Node *n = g->nodes.items[i];
		fprintf(out, "%%%d = %s%s", n->id, op_name[n->op],
			shape_str(&a, &n->shape));
		for (int k = 0; k < n->nin; k++)
			fprintf(out, "%s%%%d", k ? ", " : " ", n->in[k]->id);
		if (n->op == OP_CONST)
			fprintf(out, " value=%.17g", n->value);
		if (n->op == OP_LEAKY_RELU)
			fprintf(out, " value=%.17g", n->at->num[0]);
		if (n->op == OP_SLICE)
			for (int k = 0; k < n->in[0]->shape.rank; k++)
				fprintf(out, "%s%lld%s", k ? "," : " at=",
					(long long)n->at->lo[k],
					n->at->drop[k] ? "" : ":");
		if (n->label)
			fprintf(out, " \"%s\"", n->label);
		if (n->vertex)
			fprintf(out, " vertex=%s", n->vertex->label);
		if (n->in_loss)
			fprintf(out, " loss");
		fprintf(out, "%s%s%s\n", n->batched ? " batched" : "",
			n->needs_grad ? " grad" : "", n->live ? "" : " dead");
	}
	fprintf(out, "depth %d\n", g->depth);
	arena_free(&a);
}
