/*
 * compile.c — the passes from a source to the levelled graph, as one flat
 * list that the driver (main.c) and the fuzz target both call.
 *
 * Takes a loaded source and the options; gives the levelled graph ready
 * for emit_model, or NULL after reporting errors through diag_*.
 */
#include <limits.h>

#include "pcc.h"

/* The generated code indexes a batch of any tensor with int. */
static int
check_batch(Diag *d, const Graph *g, int batch)
{
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.items[i];
		int64_t k = shape_numel(&n->shape);
		if (n->batched && k > INT_MAX / batch) {
			diag_error(d, n->span,
				   "with --batch %d this tensor of %lld elements "
				   "per sample holds more than %d values",
				   batch, (long long)k, INT_MAX);
			return 0;
		}
	}
	return 1;
}

Graph *
pcc_compile(Arena *a, Diag *d, const CompileOptions *o)
{
	Program *prog = pcc_parse(a, d);
	if (!prog)
		return NULL;
	Graph *g = sema_build_limit(a, d, prog, o->defines, o->ndefines,
				    o->max_nodes);
	if (!g)
		return NULL;
	level_build(a, g, o->granularity_op, o->level);
	if (!check_batch(d, g, o->batch))
		return NULL;
	return g;
}
