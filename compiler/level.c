/*
 * level.c — the levelled PC graph (docs/pc.md, "The levelled graph").
 *
 * Takes the analysed graph (nodes with needs_grad); gives the PC vertices:
 *   - one per named statement (granularity stmt) or per operation
 *     (granularity op), over the nodes that need a gradient; vertices that
 *     depend on no parameter are data to PC (clamped, like inputs);
 *   - an identity copy for every loss output that also feeds another
 *     vertex, so that outputs are childless;
 *   - levels: 0 for outputs, else 1 + the largest level of the children
 *     (the longest path to an output);
 *   - identity vertices on every edge that skips levels, so that every
 *     edge spans exactly one level.  The identities of one vertex form one
 *     chain, shared by all its children: a child at level l reads from the
 *     chain's vertex at level l + 1;
 *   - DEPTH = largest level + 1.
 * Node.pcv and Node.src say, for code generation, which PC vertex a node
 * belongs to and which PC vertex each of its inputs is read from.
 */
#include <stdlib.h>
#include <string.h>

#include "pcc.h"

static PcVertex *
new_vertex(Arena *a, Graph *g)
{
	PcVertex *v = arena_alloc(a, sizeof *v);
	v->id = g->pcv.len;
	vec_push(a, &g->pcv, v);
	return v;
}

static void
add_child(Arena *a, PcVertex *parent, PcVertex *child)
{
	for (int i = 0; i < parent->children.len; i++)
		if (parent->children.items[i] == child)
			return;
	vec_push(a, &parent->children, child);
	parent->nchildren++;
}

static PcVertex *
new_identity(Arena *a, Graph *g, PcVertex *parent, PcVertex *top, int level)
{
	PcVertex *id = new_vertex(a, g);
	id->parent = parent;
	id->top = top;
	id->level = level;
	id->stmt = top->stmt;
	id->label = arena_printf(a, "%s/id%d", top->label, level);
	g->nidentity++;
	return id;
}

void
level_build(Arena *a, Graph *g, int granularity_op, LevelMode mode)
{
	g->pcv.len = 0;
	g->nidentity = 0;
	g->granularity_op = granularity_op;
	int nn = g->nodes.len;

	/* 1. real vertices, in topological order of their roots */
	for (int i = 0; i < nn; i++) {
		Node *n = g->nodes.items[i];
		n->pcv = NULL;
		n->src = NULL;
		if (op_is_leaf(n->op) || !n->needs_grad || n->in_loss)
			continue;
		if (granularity_op) {
			PcVertex *v = new_vertex(a, g);
			v->root = n;
			v->stmt = n->vertex;
			vec_push(a, &v->nodes, n);
			v->label = n == n->vertex->root
				? n->vertex->label
				: arena_printf(a, "%s/%s%d", n->vertex->label,
					       op_name[n->op], n->id);
			n->pcv = v;
		} else if (n->vertex && n->vertex->root == n) {
			PcVertex *v = new_vertex(a, g);
			v->root = n;
			v->stmt = n->vertex;
			v->label = n->vertex->label;
			for (int k = 0; k < n->vertex->nodes.len; k++) {
				Node *m = n->vertex->nodes.items[k];
				if (!m->live)
					continue;
				vec_push(a, &v->nodes, m);
				m->pcv = v;
			}
		}
	}
	int nreal = g->pcv.len;

	/* 2. edges: a node reading the root of another PC vertex */
	for (int i = 0; i < nn; i++) {
		Node *n = g->nodes.items[i];
		if (!n->pcv)
			continue;
		n->src = arena_alloc(a, sizeof(PcVertex *) * (size_t)(n->nin + 1));
		for (int k = 0; k < n->nin; k++) {
			Node *m = n->in[k];
			if (!m->pcv || m->pcv == n->pcv)
				continue;
			if (m->pcv->root != m)
				die("PC edge from an inner node %%%d", m->id);
			n->src[k] = m->pcv;
			add_child(a, m->pcv, n->pcv);
		}
	}

	/* 3. outputs, the vertex roots the losses read: childless; an
	 * output that feeds other vertices gets an identity copy, one per
	 * output shared by its losses */
	for (int i = 0; i < g->losses.len; i++) {
		Loss *l = g->losses.items[i];
		l->pc_outs.len = 0;
		for (int k = 0; k < l->outs.len; k++) {
			Node *on = l->outs.items[k];
			PcVertex *o = on->pcv, *copy = NULL;
			if (o && o->root != on)
				die("loss reads an inner node %%%d", on->id);
			if (o && o->nchildren == 0) {
				o->is_output = 1;
				copy = o;
			} else if (o) {
				for (int j = 0; j < g->pcv.len && !copy; j++) {
					PcVertex *c = g->pcv.items[j];
					if (!c->root && c->is_output &&
					    c->parent == o)
						copy = c;
				}
				if (!copy) {
					copy = new_vertex(a, g);
					copy->parent = o;
					copy->top = o;
					copy->stmt = o->stmt;
					copy->label = arena_printf(a, "%s/out",
								   o->label);
					copy->is_output = 1;
					g->nidentity++;
					add_child(a, o, copy);
				}
			}
			vec_push(a, &l->pc_outs, copy);
		}
	}

	/* 4. levels, children before parents: copies first (level 0), then
	 * real vertices in reverse topological order */
	int depth = 0;
	for (int i = nreal - 1; i >= 0; i--) {
		PcVertex *v = g->pcv.items[i];
		int lv = 0;
		for (int k = 0; k < v->children.len; k++) {
			PcVertex *c = v->children.items[k];
			if (c->level + 1 > lv)
				lv = c->level + 1;
		}
		v->level = lv;
		if (lv + 1 > depth)
			depth = lv + 1;
	}
	g->depth = depth;
	if (mode == LEVEL_OFF)
		return;

	/* 5. identity chains on edges that skip levels */
	for (int i = 0; i < nreal; i++) {
		PcVertex *u = g->pcv.items[i];
		int lowest = u->level;
		for (int k = 0; k < u->children.len; k++) {
			PcVertex *c = u->children.items[k];
			if (c->level < lowest)
				lowest = c->level;
		}
		if (u->level - lowest <= 1)
			continue;
		/* chain[l] is the vertex at level l that children at level l-1
		 * read from; chain[u->level] is u itself */
		int len = u->level - lowest;
		PcVertex **chain = arena_alloc(a, sizeof(PcVertex *) *
							  (size_t)(len + 2));
		chain[len] = u;
		PcVertex *prev = u;
		int index = 0;
		for (int l = u->level - 1; l > lowest; l--) {
			PcVertex *id = new_identity(a, g, prev, u, l);
			id->chain_index = index++;
			chain[l - lowest] = id;
			prev = id;
		}
		/* the identities are used only if some child needs them: a
		 * chain ends where the lowest child taps it */
		PtrVec kids = u->children;
		u->children.len = 0;
		u->children.items = NULL;
		u->children.cap = 0;
		u->nchildren = 0;
		for (int l = u->level - 1; l > lowest; l--) {
			PcVertex *id = chain[l - lowest];
			add_child(a, id->parent, id);
		}
		for (int k = 0; k < kids.len; k++) {
			PcVertex *c = kids.items[k];
			PcVertex *from = chain[c->level + 1 - lowest];
			add_child(a, from, c);
			/* rewire the reading nodes of c */
			for (int j = 0; c->root && j < c->nodes.len; j++) {
				Node *n = c->nodes.items[j];
				for (int q = 0; q < n->nin; q++)
					if (n->src && n->src[q] == u)
						n->src[q] = from;
			}
			if (!c->root && c->parent == u) /* an output copy */
				c->parent = from;
		}
	}
}

static const char *
vertex_kind(const PcVertex *v)
{
	if (!v->root)
		return v->is_output ? "output-copy" : "identity";
	return v->is_output ? "output" : "vertex";
}

void
level_dump(FILE *out, const Graph *g)
{
	fprintf(out, "depth %d identities %d\n", g->depth, g->nidentity);
	for (int l = g->depth - 1; l >= 0; l--) {
		for (int i = 0; i < g->pcv.len; i++) {
			const PcVertex *v = g->pcv.items[i];
			if (v->level != l)
				continue;
			fprintf(out, "L%d %s %s <-", l, vertex_kind(v), v->label);
			if (v->parent)
				fprintf(out, " %s", v->parent->label);
			for (int k = 0; v->root && k < v->nodes.len; k++) {
				const Node *n = v->nodes.items[k];
				for (int q = 0; n->src && q < n->nin; q++)
					if (n->src[q])
						fprintf(out, " %s", n->src[q]->label);
			}
			fprintf(out, "\n");
		}
	}
}

/* A DOT string; labels use DOT's own "\\n" for line breaks, and names
 * are identifiers, so only quotes need escaping. */
static void
dot_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

void
level_dot(FILE *out, const Graph *g)
{
	Arena a;
	arena_init(&a);
	fprintf(out, "/* the levelled PC graph of model %s: DEPTH %d, %d identity "
		     "vertices */\n",
		g->name, g->depth, g->nidentity);
	fprintf(out, "digraph ");
	dot_string(out, g->name);
	fprintf(out, " {\n\trankdir=BT;\n\tnode [fontname=\"Helvetica\", "
		     "fontsize=10];\n\tedge [arrowsize=0.6];\n");
	/* one rank per level, the outputs at the top */
	for (int l = 0; l < g->depth; l++) {
		fprintf(out, "\tsubgraph level%d {\n\t\trank=same;\n", l);
		fprintf(out, "\t\tlevel%d [shape=plaintext, label=\"level %d\"];\n",
			l, l);
		for (int i = 0; i < g->pcv.len; i++) {
			const PcVertex *v = g->pcv.items[i];
			if (v->level != l)
				continue;
			const Node *r = v->root ? v->root : NULL;
			const PcVertex *t = v;
			while (!t->root)
				t = t->parent;
			const char *shape = shape_str(&a, &t->root->shape);
			fprintf(out, "\t\tv%d [label=", v->id);
			dot_string(out, arena_printf(&a, "%s\\n%s", v->label, shape));
			if (!r)
				fprintf(out, ", shape=box, style=\"dashed,rounded\", "
					     "color=gray40, fontcolor=gray40");
			else if (v->is_output)
				fprintf(out, ", shape=doubleoctagon");
			else
				fprintf(out, ", shape=ellipse");
			fprintf(out, "];\n");
		}
		fprintf(out, "\t}\n");
	}
	for (int l = 1; l < g->depth; l++)
		fprintf(out, "\tlevel%d -> level%d [style=invis];\n", l, l - 1);
	/* data and parameters */
	char *shown = arena_alloc(&a, (size_t)g->nodes.len + 1);
	for (int i = 0; i < g->pcv.len; i++) {
		const PcVertex *v = g->pcv.items[i];
		if (!v->root) {
			fprintf(out, "\tv%d -> v%d [style=dashed];\n",
				v->parent->id, v->id);
			continue;
		}
		for (int k = 0; k < v->nodes.len; k++) {
			const Node *n = v->nodes.items[k];
			for (int q = 0; q < n->nin; q++) {
				const Node *m = n->in[q];
				if (n->src && n->src[q]) {
					fprintf(out, "\tv%d -> v%d;\n",
						n->src[q]->id, v->id);
				} else if (m->op == OP_PARAM || m->op == OP_INPUT) {
					if (!shown[m->id]) {
						shown[m->id] = 1;
						fprintf(out, "\tn%d [label=", m->id);
						dot_string(out,
							   arena_printf(&a, "%s\\n%s",
									m->label,
									shape_str(&a, &m->shape)));
						fprintf(out, ", shape=%s];\n",
							m->op == OP_PARAM
								? "box, style=filled, fillcolor=lightyellow"
								: "box, style=filled, fillcolor=lightblue");
					}
					fprintf(out, "\tn%d -> v%d [color=%s];\n",
						m->id, v->id,
						m->op == OP_PARAM ? "goldenrod"
								  : "steelblue");
				}
			}
		}
	}
	fprintf(out, "}\n");
	arena_free(&a);
}
