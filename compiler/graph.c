/*
 * graph.c — the graph of primitive op nodes built by sema.c, and its
 * analysis.
 *
 * Takes the nodes (in topological order) and vertices; gives each node
 * `on_param`, `live`, `reaches_loss` and `needs_grad`, warns about
 * vertices that reach no loss or output (they are dropped from the
 * generated code), and gives each vertex its level (longest path to an
 * output) and the graph its DEPTH.
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
		n->on_param = n->op == OP_PARAM;
		for (int k = 0; k < n->nin; k++)
			n->on_param |= n->in[k]->on_param;
	}
	/* sinks: loss outputs and exposed outputs */
	for (int i = 0; i < g->losses.len; i++) {
		Loss *l = g->losses.items[i];
		l->out->live = l->out->reaches_loss = 1;
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
			diag_warning(v->span,
				     "'%s' reaches no loss or output; it is "
				     "dropped",
				     v->label);
	}
	/* levels: vertices in decreasing order of their root's id (a
	 * reverse topological order) */
	int nv = g->vertices.len;
	Vertex **order = arena_alloc(a, sizeof(Vertex *) * (size_t)(nv + 1));
	for (int i = 0; i < nv; i++)
		order[i] = g->vertices.items[i];
	/* insertion sort would be quadratic on huge graphs: bucket by id */
	Vertex **byroot = arena_alloc(a, sizeof(Vertex *) *
					     (size_t)(g->nodes.len + 1));
	for (int i = 0; i < nv; i++)
		byroot[order[i]->root->id] = order[i];
	int depth = 0;
	for (int id = g->nodes.len - 1; id >= 0; id--) {
		Vertex *v = byroot[id];
		if (!v || !v->root->live)
			continue;
		if (v->level + 1 > depth)
			depth = v->level + 1;
		for (int k = 0; k < v->nodes.len; k++) {
			Node *n = v->nodes.items[k];
			for (int j = 0; j < n->nin; j++) {
				Vertex *u = n->in[j]->vertex;
				if (u && u != v && u->level < v->level + 1)
					u->level = v->level + 1;
			}
		}
	}
	for (int i = 0; i < g->losses.len; i++) {
		Loss *l = g->losses.items[i];
		if (l->out->vertex)
			l->out->vertex->is_output = 1;
	}
	g->depth = depth;
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
		if (n->op == OP_CONST || n->op == OP_LEAKY_RELU)
			fprintf(out, " value=%.17g", n->attr.value);
		if (n->op == OP_SLICE)
			fprintf(out, " rows=%lld:%lld",
				(long long)n->attr.slice.lo,
				(long long)n->attr.slice.hi);
		if (n->label)
			fprintf(out, " \"%s\"", n->label);
		if (n->vertex)
			fprintf(out, " vertex=%s level=%d", n->vertex->label,
				n->vertex->level);
		fprintf(out, "%s%s%s\n", n->batched ? " batched" : "",
			n->needs_grad ? " grad" : "", n->live ? "" : " dead");
	}
	fprintf(out, "depth %d\n", g->depth);
	arena_free(&a);
}
