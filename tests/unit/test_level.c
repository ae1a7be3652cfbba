/*
 * test_level.c — the levelled PC graph (level.c; docs/pc.md, "The levelled graph"):
 * small in-memory models through pcc_parse + sema_build + level_build,
 * checked on g->depth, g->nidentity, each PcVertex's level and kind, the
 * identity chains, Node.src, and the exact level_dump text.
 *
 * Every expected value is derived by hand from the definitions, in the
 * comment of its test:
 *   level(o) = 0 for a loss output; level(i) = 1 + max over children;
 *   an edge i -> c with level(i) - level(c) = s > 1 needs identities;
 *   the project shares ONE chain per vertex u among all its children
 *   (level.c header): u gets level(u) - min_c level(c) - 1 identities,
 *   at levels level(u)-1 down to min_c level(c)+1, and a child at level l
 *   reads from the chain's vertex at level l+1;
 *   DEPTH = max level + 1.
 * Leaves (inputs, targets, params, consts) and statements that depend on
 * no parameter are not PC vertices.
 *
 * Besides the per-test values, check_graph() checks the invariants of
 * every levelled graph: every PC edge spans exactly one level, outputs are
 * childless at level 0, identities copy a vertex one level up, Node.src
 * agrees with the children lists, and DEPTH = max level + 1.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "pcc.h"

/* the diagnostics of the compilation under test */
static Diag diag;

/* the output vertex of a loss that reads one vertex */
#define PC_OUT(l) ((PcVertex *)((l)->pc_outs.len ? (l)->pc_outs.items[0] : NULL))

static Arena arena;
static Source source;

static void
setup(void)
{
	arena_init(&arena);
}

static void
teardown(void)
{
	arena_free(&arena);
}

TestSuite(level, .init = setup, .fini = teardown);

/* ------------------------------------------------------------ helpers */

/* Parse, check and level `text`; the diagnostics come back in *diags
 * (arena string). */
static Graph *
build_diags(const char *text, int granularity_op, LevelMode mode,
	    const char **diags)
{
	char *s = NULL;
	size_t n = 0;
	FILE *err = open_memstream(&s, &n);
	cr_assert(err, "open_memstream failed");
	source.path = "t.pcg";
	source.text = text;
	source.len = strlen(text);
	diag_end(&diag);
	diag_begin(&diag, &source, err);
	Program *p = pcc_parse(&arena, &diag);
	Graph *g = p ? sema_build(&arena, &diag, p, NULL, 0) : NULL;
	fclose(err);
	*diags = arena_strdup(&arena, s);
	free(s);
	cr_assert_not_null(p, "the test model does not parse:\n%s\n%s", text,
			   *diags);
	cr_assert_not_null(g, "sema_build failed on the test model:\n%s\n%s",
			   text, *diags);
	level_build(&arena, g, granularity_op, mode);
	return g;
}

/* The dump of the levelled graph (arena string). */
static const char *
dump(const Graph *g)
{
	char *s = NULL;
	size_t n = 0;
	FILE *out = open_memstream(&s, &n);
	cr_assert(out, "open_memstream failed");
	level_dump(out, g);
	fclose(out);
	const char *r = arena_strdup(&arena, s);
	free(s);
	return r;
}

static int
is_child(const PcVertex *parent, const PcVertex *c)
{
	for (int i = 0; i < parent->children.len; i++)
		if (parent->children.items[i] == c)
			return 1;
	return 0;
}

/* The invariants of a levelled (or, with levelled = 0, unlevelled) PC
 * graph. */
static void
check_graph(const Graph *g, int levelled)
{
	const char *d = dump(g);
	int maxl = -1, nid = 0;
	for (int i = 0; i < g->pcv.len; i++) {
		const PcVertex *v = g->pcv.items[i];
		cr_assert_eq(v->id, i, "pcv[%d] has id %d\n%s", i, v->id, d);
		cr_assert_eq(v->nchildren, v->children.len,
			     "%s: nchildren %d but %d children\n%s", v->label,
			     v->nchildren, v->children.len, d);
		if (v->level > maxl)
			maxl = v->level;
		/* a level-0 vertex is exactly a loss output (or its copy) */
		cr_assert_eq(v->level == 0, v->is_output != 0,
			     "%s: level %d but is_output %d\n%s", v->label,
			     v->level, v->is_output, d);
		if (v->is_output)
			cr_assert_eq(v->nchildren, 0,
				     "output %s has %d children\n%s", v->label,
				     v->nchildren, d);
		for (int k = 0; k < v->children.len; k++) {
			const PcVertex *c = v->children.items[k];
			if (levelled)
				cr_assert_eq(c->level, v->level - 1,
					     "edge %s (L%d) -> %s (L%d) does not "
					     "span exactly one level\n%s",
					     v->label, v->level, c->label,
					     c->level, d);
			else
				cr_assert_lt(c->level, v->level,
					     "edge %s (L%d) -> %s (L%d) does not "
					     "go down\n%s",
					     v->label, v->level, c->label,
					     c->level, d);
		}
		if (!v->root) {
			nid++;
			cr_assert_not_null(v->parent, "identity %s has no "
					   "parent\n%s", v->label, d);
			cr_assert_not_null(v->top, "identity %s has no top\n%s",
					   v->label, d);
			cr_assert_not_null(v->top->root, "identity %s: its top "
					   "%s is not real\n%s", v->label,
					   v->top->label, d);
			cr_assert(is_child(v->parent, v),
				  "identity %s is not a child of its parent "
				  "%s\n%s", v->label, v->parent->label, d);
			if (levelled)
				cr_assert_eq(v->parent->level, v->level + 1,
					     "identity %s (L%d) copies %s (L%d)"
					     "\n%s", v->label, v->level,
					     v->parent->label, v->parent->level,
					     d);
			continue;
		}
		cr_assert_gt(v->nodes.len, 0, "%s has no nodes\n%s", v->label, d);
		cr_assert_eq(v->nodes.items[v->nodes.len - 1], v->root,
			     "%s: its root is not its last node\n%s", v->label,
			     d);
		for (int k = 0; k < v->nodes.len; k++) {
			const Node *n = v->nodes.items[k];
			cr_assert_eq(n->pcv, v, "%s: node %%%d has pcv %s\n%s",
				     v->label, n->id,
				     n->pcv ? n->pcv->label : "(null)", d);
			cr_assert(!op_is_leaf(n->op), "%s: leaf %%%d inside\n%s",
				  v->label, n->id, d);
			for (int q = 0; n->src && q < n->nin; q++) {
				const PcVertex *s = n->src[q];
				if (!s)
					continue;
				const PcVertex *real = n->in[q]->pcv;
				cr_assert(s == real || (!s->root && s->top == real),
					  "%s reads %%%d from %s, which is not "
					  "%s or one of its identities\n%s",
					  v->label, n->in[q]->id, s->label,
					  real ? real->label : "(null)", d);
				cr_assert(is_child(s, v), "%s reads from %s but "
					  "is not its child\n%s", v->label,
					  s->label, d);
				if (levelled)
					cr_assert_eq(s->level, v->level + 1,
						     "%s (L%d) reads from %s "
						     "(L%d)\n%s", v->label,
						     v->level, s->label, s->level,
						     d);
			}
		}
	}
	cr_assert_eq(g->depth, maxl + 1, "depth %d but largest level %d\n%s",
		     g->depth, maxl, d);
	cr_assert_eq(g->nidentity, nid, "nidentity %d but %d vertices without "
		     "a root\n%s", g->nidentity, nid, d);
	for (int i = 0; i < g->losses.len; i++) {
		const Loss *l = g->losses.items[i];
		cr_assert_not_null(PC_OUT(l), "loss %d has no pc_out\n%s", i, d);
		cr_assert(PC_OUT(l)->is_output && PC_OUT(l)->level == 0,
			  "loss %d: pc_out %s is not a level-0 output\n%s", i,
			  PC_OUT(l)->label, d);
	}
	/* leaves are never PC vertices */
	for (int i = 0; i < g->nodes.len; i++) {
		const Node *n = g->nodes.items[i];
		if (op_is_leaf(n->op))
			cr_assert_null(n->pcv, "leaf %%%d (%s) is in PC vertex "
				       "%s\n%s", n->id, n->label ? n->label : "",
				       n->pcv ? n->pcv->label : "", d);
	}
}

/* A model that must build with no diagnostic; its graph checked. */
static Graph *
build(const char *text, int granularity_op, LevelMode mode)
{
	const char *diags;
	Graph *g = build_diags(text, granularity_op, mode, &diags);
	cr_assert_str_empty(diags, "expected no diagnostics for:\n%s\ngot:\n%s",
			    text, diags);
	check_graph(g, mode == LEVEL_ON);
	return g;
}

static PcVertex *
find(const Graph *g, const char *label)
{
	for (int i = 0; i < g->pcv.len; i++) {
		PcVertex *v = g->pcv.items[i];
		if (strcmp(v->label, label) == 0)
			return v;
	}
	return NULL;
}

static PcVertex *
must_find(const Graph *g, const char *label)
{
	PcVertex *v = find(g, label);
	cr_assert_not_null(v, "no PC vertex labelled '%s' in:\n%s", label,
			   dump(g));
	return v;
}

static void
expect_level(const Graph *g, const char *label, int want)
{
	PcVertex *v = must_find(g, label);
	cr_assert_eq(v->level, want, "%s: expected level %d, got %d\n%s",
		     label, want, v->level, dump(g));
}

/* DEPTH, the number of identity vertices, the number of real vertices. */
static void
expect_counts(const Graph *g, int depth, int nidentity, int nreal)
{
	const char *d = dump(g);
	cr_assert_eq(g->depth, depth, "expected depth %d, got %d\n%s", depth,
		     g->depth, d);
	cr_assert_eq(g->nidentity, nidentity,
		     "expected %d identity vertices, got %d\n%s", nidentity,
		     g->nidentity, d);
	int real = 0;
	for (int i = 0; i < g->pcv.len; i++)
		real += ((PcVertex *)g->pcv.items[i])->root != NULL;
	cr_assert_eq(real, nreal, "expected %d real PC vertices, got %d\n%s",
		     nreal, real, d);
}

/* The number of vertices at each level 0..n-1. */
static void
expect_per_level(const Graph *g, const int *want, int n)
{
	const char *d = dump(g);
	cr_assert_eq(g->depth, n, "expected depth %d, got %d\n%s", n, g->depth,
		     d);
	for (int l = 0; l < n; l++) {
		int k = 0;
		for (int i = 0; i < g->pcv.len; i++)
			k += ((PcVertex *)g->pcv.items[i])->level == l;
		cr_assert_eq(k, want[l], "level %d: expected %d vertices, got "
			     "%d\n%s", l, want[l], k, d);
	}
}

static void
expect_dump(const Graph *g, const char *want)
{
	const char *got = dump(g);
	cr_assert_str_eq(got, want, "level_dump:\nexpected:\n%s\ngot:\n%s",
			 want, got);
}

/* The PC vertex a vertex (by label) reads `from` (by label) through:
 * `from` itself or one of its identities. */
static const PcVertex *
reads_from(const Graph *g, const char *label, const char *from)
{
	const PcVertex *v = must_find(g, label);
	const PcVertex *u = must_find(g, from);
	const PcVertex *got = NULL;
	for (int k = 0; k < v->nodes.len; k++) {
		const Node *n = v->nodes.items[k];
		for (int q = 0; n->src && q < n->nin; q++)
			if (n->in[q]->pcv == u && n->src[q])
				got = n->src[q];
	}
	cr_assert_not_null(got, "%s does not read from %s\n%s", label, from,
			   dump(g));
	return got;
}

static void
expect_reads(const Graph *g, const char *label, const char *from,
	     const char *via)
{
	const PcVertex *s = reads_from(g, label, from);
	cr_assert_str_eq(s->label, via, "%s should read %s via %s, reads via "
			 "%s\n%s", label, from, via, s->label, dump(g));
}

/* ------------------------------------------------------------- chains */

/* h1 -> h2 -> o, one edge each.  o = 0, h2 = 1, h1 = 2; DEPTH 3; no edge
 * skips a level, so no identity. */
#define MLP                                                              \
	"model mlp {\n"                                                  \
	"  input x[4]; target y[2];\n"                                   \
	"  param W1[8, 4]; param b1[8]; param W2[8, 8]; param b2[8];\n"  \
	"  param W3[2, 8]; param b3[2];\n"                               \
	"  h1 = tanh(W1 @ x + b1);\n"                                    \
	"  h2 = tanh(W2 @ h1 + b2);\n"                                   \
	"  o = W3 @ h2 + b3;\n"                                          \
	"  loss mse(o, y);\n"                                            \
	"}\n"

Test(level, mlp_chain)
{
	Graph *g = build(MLP, 0, LEVEL_ON);
	expect_counts(g, 3, 0, 3);
	expect_level(g, "o", 0);
	expect_level(g, "h2", 1);
	expect_level(g, "h1", 2);
	cr_assert(must_find(g, "o")->is_output, "o should be an output");
	cr_assert(!must_find(g, "h1")->is_output, "h1 is not an output");
	expect_dump(g, "depth 3 identities 0\n"
		       "L2 vertex h1 <-\n"
		       "L1 vertex h2 <- h1\n"
		       "L0 output o <- h2\n");
}

/* The same MLP with one vertex per operation: h1 = matmul, add, tanh;
 * h2 = matmul, add, tanh; o = matmul, add: 8 vertices in one chain, so
 * levels 7..0 (o's add 0, o's matmul 1, h2's tanh 2, ..., h1's matmul 7),
 * DEPTH 8, one vertex per level, no identity. */
Test(level, mlp_granularity_op)
{
	Graph *g = build(MLP, 1, LEVEL_ON);
	expect_counts(g, 8, 0, 8);
	const int per[] = {1, 1, 1, 1, 1, 1, 1, 1};
	expect_per_level(g, per, 8);
	/* the statement roots keep the statement's name */
	expect_level(g, "o", 0);
	expect_level(g, "h2", 2);
	expect_level(g, "h1", 5);
	/* the lowest-numbered op vertex is h1's matmul, at the top */
	PcVertex *first = g->pcv.items[0];
	cr_assert_eq(first->root->op, OP_MATMUL, "pcv[0] is %s, not matmul",
		     op_name[first->root->op]);
	cr_assert_eq(first->level, 7, "h1's matmul: expected level 7, got %d"
		     "\n%s", first->level, dump(g));
}

/* ----------------------------------------------------------- residuals */

/* a residual block x + f(x) whose skip spans `len` levels: a, then
 * b1 .. b(len-1) in a chain, then o = a + b(len-1). */
static const char *
residual_model(int len)
{
	char *s = arena_printf(&arena,
			       "model res {\n  input x[4]; target y[4];\n"
			       "  param W0[4, 4];\n  a = tanh(W0 @ x);\n");
	for (int k = 1; k < len; k++)
		s = arena_printf(&arena, "%s  param W%d[4, 4];\n"
				 "  b%d = tanh(W%d @ %s);\n",
				 s, k, k, k,
				 k == 1 ? "a" : arena_printf(&arena, "b%d",
							     k - 1));
	return arena_printf(&arena, "%s  o = a + b%d;\n  loss mse(o, y);\n}\n",
			    s, len - 1);
}

/* Skip of length 2: a -> b -> o and a -> o.  o = 0, b = 1,
 * a = 1 + max(b 1, o 0) = 2.  a -> o spans 2: one identity a/id1 at
 * level 1, o reads a through it.  DEPTH 3. */
Test(level, residual_skip2)
{
	Graph *g = build(residual_model(2), 0, LEVEL_ON);
	expect_counts(g, 3, 1, 3);
	expect_level(g, "o", 0);
	expect_level(g, "b1", 1);
	expect_level(g, "a", 2);
	expect_level(g, "a/id1", 1);
	expect_reads(g, "o", "a", "a/id1");
	expect_reads(g, "o", "b1", "b1");
	expect_reads(g, "b1", "a", "a");
	expect_dump(g, "depth 3 identities 1\n"
		       "L2 vertex a <-\n"
		       "L1 vertex b1 <- a\n"
		       "L1 identity a/id1 <- a\n"
		       "L0 output o <- a/id1 b1\n");
}

/* Skip of length 3: a -> b1 -> b2 -> o and a -> o.  o 0, b2 1, b1 2,
 * a 3; a -> o spans 3: identities a/id2, a/id1 (2 = 3 - 0 - 1); DEPTH 4. */
Test(level, residual_skip3)
{
	Graph *g = build(residual_model(3), 0, LEVEL_ON);
	expect_counts(g, 4, 2, 4);
	expect_level(g, "a", 3);
	expect_level(g, "b1", 2);
	expect_level(g, "b2", 1);
	expect_level(g, "o", 0);
	expect_level(g, "a/id2", 2);
	expect_level(g, "a/id1", 1);
	cr_assert_eq(must_find(g, "a/id1")->parent, must_find(g, "a/id2"),
		     "a/id1 should copy a/id2\n%s", dump(g));
	cr_assert_eq(must_find(g, "a/id2")->parent, must_find(g, "a"),
		     "a/id2 should copy a\n%s", dump(g));
	expect_reads(g, "o", "a", "a/id1");
	const int per[] = {1, 2, 2, 1}; /* o | b2 a/id1 | b1 a/id2 | a */
	expect_per_level(g, per, 4);
}

/* Skip of length 5: a, b1..b4, o = a + b4.  o 0, b4 1, b3 2, b2 3, b1 4,
 * a 5; a -> o spans 5: 4 identities a/id4..a/id1; DEPTH 6. */
Test(level, residual_skip5)
{
	Graph *g = build(residual_model(5), 0, LEVEL_ON);
	expect_counts(g, 6, 4, 6);
	expect_level(g, "a", 5);
	expect_level(g, "b1", 4);
	expect_level(g, "b2", 3);
	expect_level(g, "b3", 2);
	expect_level(g, "b4", 1);
	expect_level(g, "o", 0);
	for (int l = 1; l <= 4; l++) {
		const char *lab = arena_printf(&arena, "a/id%d", l);
		expect_level(g, lab, l);
		PcVertex *id = must_find(g, lab);
		cr_assert_eq(id->top, must_find(g, "a"), "%s: top should be a",
			     lab);
		cr_assert_eq(id->nchildren, 1, "%s: expected 1 child, got %d\n%s",
			     lab, id->nchildren, dump(g));
	}
	expect_reads(g, "o", "a", "a/id1");
	const int per[] = {1, 2, 2, 2, 2, 1};
	expect_per_level(g, per, 6);
}

/* Granularity op on the length-2 residual: a = matmul(am), tanh(a);
 * b1 = matmul(bm), tanh(b1); o = add.  Edges am->a, a->bm, bm->b1,
 * a->o, b1->o.  o 0, b1 1, bm 2, a = 1 + max(bm 2, o 0) = 3, am 4;
 * DEPTH 5 (stmt: 3).  a -> o spans 3: identities at levels 2 and 1
 * (stmt: 1 identity).  5 real vertices (stmt: 3). */
Test(level, granularity_op_vs_stmt)
{
	const char *m = residual_model(2);
	Graph *gs = build(m, 0, LEVEL_ON);
	expect_counts(gs, 3, 1, 3);
	Graph *go = build(m, 1, LEVEL_ON);
	expect_counts(go, 5, 2, 5);
	expect_level(go, "o", 0);
	expect_level(go, "b1", 1);
	expect_level(go, "a", 3);
	expect_level(go, "a/id2", 2);
	expect_level(go, "a/id1", 1);
	expect_reads(go, "o", "a", "a/id1");
	const int per[] = {1, 2, 2, 1, 1}; /* o | b1 id1 | bm id2 | a | am */
	expect_per_level(go, per, 5);
	cr_assert_eq(go->granularity_op, 1, "granularity_op not recorded");
}

/* ----------------------------------------------------------- attention */

#define ATTN_DECLS                                                       \
	"  const N = 3; const D = 4;\n"                                  \
	"  input x[N, D]; target y[N, D];\n"                             \
	"  param Wq[D, D]; param Wk[D, D]; param Wv[D, D];\n"

/* q, k, v straight from the input x (data, not a vertex).
 * stmt: edges q->a, k->a, a->z, v->z.  z 0; a 1; v 1 (only child z);
 * q 2, k 2.  Every edge spans one level: no identity; DEPTH 3. */
#define ATTN                                                             \
	"model attn {\n" ATTN_DECLS                                      \
	"  q = x @ Wq; k = x @ Wk; v = x @ Wv;\n"                        \
	"  a = softmax(q @ transpose(k));\n"                             \
	"  z = a @ v;\n"                                                 \
	"  loss mse(z, y);\n"                                            \
	"}\n"

Test(level, attention_stmt)
{
	Graph *g = build(ATTN, 0, LEVEL_ON);
	expect_counts(g, 3, 0, 5);
	expect_level(g, "z", 0);
	expect_level(g, "a", 1);
	expect_level(g, "v", 1);
	expect_level(g, "q", 2);
	expect_level(g, "k", 2);
	expect_reads(g, "z", "v", "v");
	expect_reads(g, "a", "k", "k");
}

/* Granularity op: q, k, v (matmuls), kT = transpose(k), s = q @ kT,
 * a = softmax(s), z = a @ v: 7 vertices.  z 0; a 1; v 1; s 2; q 3;
 * kT 3; k 4.  Still no edge skips a level (v -> z spans 1, q -> s spans
 * 1): no identity; DEPTH 5. */
Test(level, attention_op)
{
	Graph *g = build(ATTN, 1, LEVEL_ON);
	expect_counts(g, 5, 0, 7);
	expect_level(g, "z", 0);
	expect_level(g, "a", 1);
	expect_level(g, "v", 1);
	expect_level(g, "q", 3);
	expect_level(g, "k", 4);
	const int per[] = {1, 2, 1, 2, 1}; /* z | a v | s | q kT | k */
	expect_per_level(g, per, 5);
	for (int i = 0; i < g->pcv.len; i++) {
		PcVertex *v = g->pcv.items[i];
		if (v->root->op == OP_TRANSPOSE)
			cr_assert_eq(v->level, 3, "transpose(k): expected level "
				     "3, got %d\n%s", v->level, dump(g));
	}
}

/* With an embedding vertex e feeding q, k, v and a residual
 * z = e + (a @ v) @ Wo.  stmt: z 0; a 1; v 1; q 2; k 2;
 * e = 1 + max(q 2, k 2, v 1, z 0) = 3.  Skipping edges: e -> v (spans 2)
 * and e -> z (spans 3); one shared chain e/id2, e/id1 (3 - 0 - 1 = 2):
 * v reads e via e/id2, z via e/id1.  DEPTH 4. */
#define ATTN_RES                                                         \
	"model attn {\n" ATTN_DECLS                                      \
	"  param We[D, D]; param Wo[D, D];\n"                            \
	"  e = x @ We;\n"                                                \
	"  q = e @ Wq; k = e @ Wk; v = e @ Wv;\n"                        \
	"  a = softmax(q @ transpose(k));\n"                             \
	"  z = e + (a @ v) @ Wo;\n"                                      \
	"  loss mse(z, y);\n"                                            \
	"}\n"

Test(level, attention_residual_stmt)
{
	Graph *g = build(ATTN_RES, 0, LEVEL_ON);
	expect_counts(g, 4, 2, 6);
	expect_level(g, "e", 3);
	expect_level(g, "q", 2);
	expect_level(g, "k", 2);
	expect_level(g, "v", 1);
	expect_level(g, "a", 1);
	expect_level(g, "z", 0);
	expect_reads(g, "q", "e", "e");
	expect_reads(g, "k", "e", "e");
	expect_reads(g, "v", "e", "e/id2");
	expect_reads(g, "z", "e", "e/id1");
	expect_reads(g, "z", "v", "v");
	expect_reads(g, "z", "a", "a");
	/* pcv order: e q k v a z, then e/id2 e/id1.  Nodes in order of
	 * evaluation, arguments first: a = transpose(k) (reads k), q @ kT
	 * (reads q), softmax; z = a @ v (reads a, v), @ Wo, e + (reads
	 * e/id1) */
	expect_dump(g, "depth 4 identities 2\n"
		       "L3 vertex e <-\n"
		       "L2 vertex q <- e\n"
		       "L2 vertex k <- e\n"
		       "L2 identity e/id2 <- e\n"
		       "L1 vertex v <- e/id2\n"
		       "L1 vertex a <- k q\n"
		       "L1 identity e/id1 <- e/id2\n"
		       "L0 output z <- a v e/id1\n");
}

/* Granularity op: e, q, k, v, kT, s = q @ kT, a = softmax(s),
 * av = a @ v, avo = av @ Wo, z = e + avo: 10 vertices.  z 0; avo 1;
 * av 2; a 3; v 3; s 4; q 5; kT 5; k 6; e = 1 + max(q 5, k 6, v 3, z 0)
 * = 7.  e's children span 2 (q), 1 (k), 4 (v), 7 (z): one chain of
 * 7 - 0 - 1 = 6 identities.  DEPTH 8. */
Test(level, attention_residual_op)
{
	Graph *g = build(ATTN_RES, 1, LEVEL_ON);
	expect_counts(g, 8, 6, 10);
	expect_level(g, "e", 7);
	expect_level(g, "k", 6);
	expect_level(g, "q", 5);
	expect_level(g, "v", 3);
	expect_level(g, "a", 3);
	expect_level(g, "z", 0);
	expect_reads(g, "k", "e", "e");
	expect_reads(g, "q", "e", "e/id6");
	expect_reads(g, "v", "e", "e/id4");
	expect_reads(g, "z", "e", "e/id1");
	/* z | avo e/id1 | av e/id2 | a v e/id3 | s e/id4 | q kT e/id5 |
	 * k e/id6 | e */
	const int per[] = {1, 2, 2, 3, 2, 3, 2, 1};
	expect_per_level(g, per, 8);
}

/* ------------------------------------------------------------------ RNN */

/* Many-to-many: h[1..3] in a chain, a loss at every step through
 * o1, o2, o3 (three targets).  Edges h1->h2->h3, h_t -> o_t.
 * o1 = o2 = o3 = 0; h3 1; h2 = 1 + max(h3 1, o2 0) = 2;
 * h1 = 1 + max(h2 2, o1 0) = 3.  h1 -> o1 spans 3: h[1]/id2, h[1]/id1;
 * h2 -> o2 spans 2: h[2]/id1; 3 identities, DEPTH 4.  The tied Wx, Wh,
 * Wo create no edges. */
#define RNN                                                              \
	"model rnn {\n"                                                  \
	"  input xs[3, 2]; target y1[2]; target y2[2]; target y3[2];\n"  \
	"  param Wx[4, 2]; param Wh[4, 4]; param Wo[2, 4];\n"            \
	"  h[0] = zeros([4]);\n"                                         \
	"  for t in 0..3 { h[t+1] = tanh(Wx @ xs[t] + Wh @ h[t]); }\n"   \
	"  o1 = Wo @ h[1]; o2 = Wo @ h[2]; o3 = Wo @ h[3];\n"            \
	"  loss mse(o1, y1); loss mse(o2, y2); loss mse(o3, y3);\n"      \
	"}\n"

Test(level, rnn_many_to_many)
{
	Graph *g = build(RNN, 0, LEVEL_ON);
	expect_counts(g, 4, 3, 6);
	expect_level(g, "h[1]", 3);
	expect_level(g, "h[2]", 2);
	expect_level(g, "h[3]", 1);
	expect_level(g, "o1", 0);
	expect_level(g, "o2", 0);
	expect_level(g, "o3", 0);
	cr_assert_null(find(g, "h[0]"), "h[0] = zeros depends on no "
		       "parameter: not a PC vertex\n%s", dump(g));
	expect_reads(g, "o1", "h[1]", "h[1]/id1");
	expect_reads(g, "o2", "h[2]", "h[2]/id1");
	expect_reads(g, "o3", "h[3]", "h[3]");
	for (int i = 0; i < 3; i++) {
		Loss *l = g->losses.items[i];
		const char *want = arena_printf(&arena, "o%d", i + 1);
		cr_assert_str_eq(PC_OUT(l)->label, want, "loss %d: pc_out %s, "
				 "expected %s", i, PC_OUT(l)->label, want);
	}
	expect_dump(g, "depth 4 identities 3\n"
		       "L3 vertex h[1] <-\n"
		       "L2 vertex h[2] <- h[1]\n"
		       "L2 identity h[1]/id2 <- h[1]\n"
		       "L1 vertex h[3] <- h[2]\n"
		       "L1 identity h[1]/id1 <- h[1]/id2\n"
		       "L1 identity h[2]/id1 <- h[2]\n"
		       "L0 output o1 <- h[1]/id1\n"
		       "L0 output o2 <- h[2]/id1\n"
		       "L0 output o3 <- h[3]\n");
}

/* --------------------------------------------------------- shared chain */

/* u feeds p1 (level 4), p3 (2), p4 (1) and o (0):
 * o 0; p4 1; p3 2; p2 3; p1 4; u = 5.  One chain shared by u's children:
 * 5 - 0 - 1 = 4 identities u/id4..u/id1 (one chain per edge would need
 * 2 + 3 + 4 = 9).  p3 reads u via u/id3, p4 via u/id2, o via u/id1,
 * p1 directly.  DEPTH 6. */
#define SHARED                                                           \
	"model shared {\n"                                               \
	"  input x[4]; target y[4];\n"                                   \
	"  param W0[4, 4]; param W1[4, 4]; param W2[4, 4];\n"            \
	"  param W3[4, 4]; param W4[4, 4]; param W5[4, 4];\n"            \
	"  param W6[4, 4]; param W7[4, 4]; param W8[4, 4];\n"            \
	"  u = tanh(W0 @ x);\n"                                          \
	"  p1 = tanh(W1 @ u);\n"                                         \
	"  p2 = tanh(W2 @ p1);\n"                                        \
	"  p3 = tanh(W3 @ p2 + W4 @ u);\n"                               \
	"  p4 = tanh(W5 @ p3 + W6 @ u);\n"                               \
	"  o = W7 @ p4 + W8 @ u;\n"                                      \
	"  loss mse(o, y);\n"                                            \
	"}\n"

Test(level, shared_identity_chain)
{
	Graph *g = build(SHARED, 0, LEVEL_ON);
	expect_counts(g, 6, 4, 6);
	expect_level(g, "u", 5);
	expect_level(g, "p1", 4);
	expect_level(g, "p2", 3);
	expect_level(g, "p3", 2);
	expect_level(g, "p4", 1);
	expect_level(g, "o", 0);
	expect_reads(g, "p1", "u", "u");
	expect_reads(g, "p3", "u", "u/id3");
	expect_reads(g, "p4", "u", "u/id2");
	expect_reads(g, "o", "u", "u/id1");
	/* one chain: u -> id4 -> id3 -> id2 -> id1, each with top u */
	const PcVertex *u = must_find(g, "u");
	const PcVertex *prev = u;
	for (int l = 4; l >= 1; l--) {
		const PcVertex *id = must_find(g, arena_printf(&arena,
							       "u/id%d", l));
		cr_assert_eq(id->parent, prev, "u/id%d should copy %s, copies "
			     "%s", l, prev->label, id->parent->label);
		cr_assert_eq(id->top, u, "u/id%d: top should be u", l);
		prev = id;
	}
	/* u's children: p1 and the head of the chain */
	cr_assert_eq(u->nchildren, 2, "u: expected 2 children (p1, u/id4), "
		     "got %d\n%s", u->nchildren, dump(g));
	/* children of the chain: id4 -> id3 only (no child of u at level
	 * 3 reads u); id3 -> id2, p3; id2 -> id1, p4; id1 -> o (its end) */
	const int nkids[5] = {0, 1, 2, 2, 1};
	for (int l = 1; l <= 4; l++) {
		const PcVertex *id = must_find(g, arena_printf(&arena,
							       "u/id%d", l));
		cr_assert_eq(id->nchildren, nkids[l], "u/id%d: expected %d "
			     "children, got %d\n%s", l, nkids[l],
			     id->nchildren, dump(g));
	}
	expect_dump(g, "depth 6 identities 4\n"
		       "L5 vertex u <-\n"
		       "L4 vertex p1 <- u\n"
		       "L4 identity u/id4 <- u\n"
		       "L3 vertex p2 <- p1\n"
		       "L3 identity u/id3 <- u/id4\n"
		       "L2 vertex p3 <- p2 u/id3\n"
		       "L2 identity u/id2 <- u/id3\n"
		       "L1 vertex p4 <- p3 u/id2\n"
		       "L1 identity u/id1 <- u/id2\n"
		       "L0 output o <- p4 u/id1\n");
}

/* ------------------------------------------------------ output copies */

/* o1 is a loss output and the parent of o2.  It gets a copy o1/out at
 * level 0 (is_output) for its loss; o1 itself becomes an ordinary vertex:
 * o2 0, o1/out 0, o1 = 1 + max(o2 0, copy 0) = 1, h 2.  No skip: the copy
 * is the only identity.  DEPTH 3. */
Test(level, output_feeding_another_vertex)
{
	Graph *g = build("model m {\n"
			 "  input x[4]; target y1[3]; target y2[2];\n"
			 "  param W1[4, 4]; param W2[3, 4]; param W3[2, 3];\n"
			 "  h = tanh(W1 @ x);\n"
			 "  o1 = W2 @ h;\n"
			 "  o2 = W3 @ o1;\n"
			 "  loss mse(o1, y1); loss mse(o2, y2);\n"
			 "}\n",
			 0, LEVEL_ON);
	expect_counts(g, 3, 1, 3);
	expect_level(g, "h", 2);
	expect_level(g, "o1", 1);
	expect_level(g, "o2", 0);
	expect_level(g, "o1/out", 0);
	PcVertex *o1 = must_find(g, "o1"), *copy = must_find(g, "o1/out");
	cr_assert(!o1->is_output, "o1 feeds o2: the real vertex must not be "
		  "an output");
	cr_assert(copy->is_output, "o1/out must be marked is_output");
	cr_assert_null(copy->root, "o1/out must be an identity (no root)");
	cr_assert_eq(copy->parent, o1, "o1/out copies o1");
	Loss *l0 = g->losses.items[0], *l1 = g->losses.items[1];
	cr_assert_eq(PC_OUT(l0), copy, "loss 0 should use the copy, uses %s",
		     PC_OUT(l0)->label);
	cr_assert_eq(PC_OUT(l1), must_find(g, "o2"), "loss 1 should use o2");
	expect_dump(g, "depth 3 identities 1\n"
		       "L2 vertex h <-\n"
		       "L1 vertex o1 <- h\n"
		       "L0 output o2 <- o1\n"
		       "L0 output-copy o1/out <- o1\n");
}

/* The output o1 feeds m, which feeds o2: o2 0, m 1, o1/out 0,
 * o1 = 1 + max(m 1, copy 0) = 2, h 3.  o1 -> o1/out spans 2, so the
 * copy hangs off an identity o1/id1 (level 1): 2 identity vertices in
 * all (the copy and o1/id1).  DEPTH 4. */
Test(level, output_copy_needs_identity)
{
	Graph *g = build("model m {\n"
			 "  input x[4]; target y1[3]; target y2[2];\n"
			 "  param W1[4, 4]; param W2[3, 4]; param W3[3, 3];\n"
			 "  param W4[2, 3];\n"
			 "  h = tanh(W1 @ x);\n"
			 "  o1 = W2 @ h;\n"
			 "  m = tanh(W3 @ o1);\n"
			 "  o2 = W4 @ m;\n"
			 "  loss mse(o1, y1); loss mse(o2, y2);\n"
			 "}\n",
			 0, LEVEL_ON);
	expect_counts(g, 4, 2, 4);
	expect_level(g, "h", 3);
	expect_level(g, "o1", 2);
	expect_level(g, "m", 1);
	expect_level(g, "o2", 0);
	expect_level(g, "o1/id1", 1);
	expect_level(g, "o1/out", 0);
	PcVertex *copy = must_find(g, "o1/out");
	cr_assert_eq(copy->parent, must_find(g, "o1/id1"),
		     "o1/out should copy o1/id1, copies %s\n%s",
		     copy->parent->label, dump(g));
	cr_assert_eq(copy->top, must_find(g, "o1"), "o1/out: top should be o1");
	cr_assert(copy->is_output, "o1/out must be marked is_output");
	expect_dump(g, "depth 4 identities 2\n"
		       "L3 vertex h <-\n"
		       "L2 vertex o1 <- h\n"
		       "L1 vertex m <- o1\n"
		       "L1 identity o1/id1 <- o1\n"
		       "L0 output o2 <- m\n"
		       "L0 output-copy o1/out <- o1/id1\n");
}

/* Two losses on the same output o1, which also feeds o2: one copy, shared
 * by both losses.  Levels as in output_feeding_another_vertex: h 2, o1 1,
 * o2 0, o1/out 0; 1 identity, DEPTH 3. */
Test(level, output_copy_shared_by_two_losses)
{
	Graph *g = build("model m {\n"
			 "  input x[4]; target y1[3]; target y2[2];\n"
			 "  target y3[3];\n"
			 "  param W1[4, 4]; param W2[3, 4]; param W3[2, 3];\n"
			 "  h = tanh(W1 @ x);\n"
			 "  o1 = W2 @ h;\n"
			 "  o2 = W3 @ o1;\n"
			 "  loss mse(o1, y1); loss mse(o2, y2);\n"
			 "  loss cross_entropy(o1, y3);\n"
			 "}\n",
			 0, LEVEL_ON);
	expect_counts(g, 3, 1, 3);
	Loss *l0 = g->losses.items[0], *l2 = g->losses.items[2];
	PcVertex *copy = must_find(g, "o1/out");
	cr_assert_eq(PC_OUT(l0), copy, "loss 0 should use o1/out");
	cr_assert_eq(PC_OUT(l2), copy, "loss 2 should share o1/out, uses %s",
		     PC_OUT(l2)->label);
}

/* ------------------------------------------------------ tied parameter */

/* W is used at every level: h1 (3), h2 (2), h3 (1), o (0), with a skip
 * h1 -> o.  o 0, h3 1, h2 2, h1 3; h1 -> o spans 3: h1/id2, h1/id1.
 * DEPTH 4.  A parameter is a leaf, not a PC vertex: tying it adds no
 * edges, so the levelled graph is exactly that of the untied model. */
#define TIED(W1, W2, W3, W4)                                             \
	"model tied {\n"                                                 \
	"  input x[4]; target y[4];\n"                                   \
	"  param W[4, 4]; param V2[4, 4]; param V3[4, 4];\n"             \
	"  param V4[4, 4];\n"                                            \
	"  h1 = tanh(" W1 " @ x);\n"                                     \
	"  h2 = tanh(" W2 " @ h1);\n"                                    \
	"  h3 = tanh(" W3 " @ h2);\n"                                    \
	"  o = " W4 " @ h3 + h1;\n"                                      \
	"  loss mse(o, y);\n"                                            \
	"}\n"

Test(level, tied_parameter_leaves_levels_alone)
{
	Graph *g = build(TIED("W", "W", "W", "W"), 0, LEVEL_ON);
	expect_counts(g, 4, 2, 4);
	expect_level(g, "h1", 3);
	expect_level(g, "h2", 2);
	expect_level(g, "h3", 1);
	expect_level(g, "o", 0);
	expect_reads(g, "o", "h1", "h1/id1");
	ParamDecl *w = g->params.items[0];
	cr_assert_str_eq(w->name, "W", "params[0] should be W");
	cr_assert_eq(w->node->nuses, 4, "W should have 4 uses, has %d",
		     w->node->nuses);
	cr_assert_null(w->node->pcv, "the parameter W is not a PC vertex");
	const char *tied = dump(g);

	Graph *u = build(TIED("W", "V2", "V3", "V4"), 0, LEVEL_ON);
	const char *untied = dump(u);
	cr_assert_str_eq(tied, untied, "tying W changed the levelled graph:\n"
			 "tied:\n%s\nuntied:\n%s", tied, untied);
	expect_dump(g, "depth 4 identities 2\n"
		       "L3 vertex h1 <-\n"
		       "L2 vertex h2 <- h1\n"
		       "L2 identity h1/id2 <- h1\n"
		       "L1 vertex h3 <- h2\n"
		       "L1 identity h1/id1 <- h1/id2\n"
		       "L0 output o <- h3 h1/id1\n");
}

/* ---------------------------------------------------------- LEVEL_OFF */

/* The length-3 residual without levelling: same levels (a 3, b1 2, b2 1,
 * o 0) and DEPTH 4, but no identity, and o reads a directly across 3
 * levels. */
Test(level, level_off_has_no_identities)
{
	Graph *g = build(residual_model(3), 0, LEVEL_OFF);
	expect_counts(g, 4, 0, 4);
	expect_level(g, "a", 3);
	expect_level(g, "b1", 2);
	expect_level(g, "b2", 1);
	expect_level(g, "o", 0);
	cr_assert_null(find(g, "a/id1"), "LEVEL_OFF inserted a/id1\n%s",
		       dump(g));
	expect_reads(g, "o", "a", "a");
	PcVertex *a = must_find(g, "a");
	cr_assert_eq(a->nchildren, 2, "a: expected children b1 and o, got %d",
		     a->nchildren);
	expect_dump(g, "depth 4 identities 0\n"
		       "L3 vertex a <-\n"
		       "L2 vertex b1 <- a\n"
		       "L1 vertex b2 <- b1\n"
		       "L0 output o <- a b2\n");
}

/* LEVEL_OFF on the model of output_copy_needs_identity: the output copy
 * (what keeps outputs childless) stays, the levelling identity o1/id1
 * does not: 1 identity vertex (the copy, read from o1 across 2 levels)
 * instead of 2.  Levels and DEPTH 4 unchanged. */
Test(level, level_off_keeps_output_copy_only)
{
	Graph *g = build("model m {\n"
			 "  input x[4]; target y1[3]; target y2[2];\n"
			 "  param W1[4, 4]; param W2[3, 4]; param W3[3, 3];\n"
			 "  param W4[2, 3];\n"
			 "  h = tanh(W1 @ x);\n"
			 "  o1 = W2 @ h;\n"
			 "  m = tanh(W3 @ o1);\n"
			 "  o2 = W4 @ m;\n"
			 "  loss mse(o1, y1); loss mse(o2, y2);\n"
			 "}\n",
			 0, LEVEL_OFF);
	expect_counts(g, 4, 1, 4);
	cr_assert_null(find(g, "o1/id1"), "LEVEL_OFF inserted o1/id1\n%s",
		       dump(g));
	PcVertex *copy = must_find(g, "o1/out");
	cr_assert_eq(copy->parent, must_find(g, "o1"), "o1/out copies o1");
	cr_assert_eq(copy->level, 0, "o1/out: level 0");
	expect_level(g, "o1", 2);
}

/* ------------------------------------------------------ dead and data */

/* `dead` reads h but reaches no loss: warned about, not a PC vertex, and
 * no child of h.  o 0, h 1; DEPTH 2; 2 PC vertices. */
Test(level, dead_vertex_warns_and_is_dropped)
{
	const char *text = "model m {\n"
			   "  input x[4]; target y[2];\n"
			   "  param W1[4, 4]; param W2[4, 4]; param W3[2, 4];\n"
			   "  h = tanh(W1 @ x);\n"
			   "  dead = tanh(W2 @ h);\n"
			   "  o = W3 @ h;\n"
			   "  loss mse(o, y);\n"
			   "}\n";
	const char *diags;
	Graph *g = build_diags(text, 0, LEVEL_ON, &diags);
	check_graph(g, 1);
	cr_assert(strstr(diags, "t.pcg:5:3: warning: 'dead' reaches no loss") !=
			  NULL,
		  "expected a warning about 'dead' at 5:3, got:\n%s", diags);
	cr_assert_eq(diag_error_count(&diag), 0, "a warning is not an error");
	cr_assert_null(find(g, "dead"), "the dead vertex is a PC vertex\n%s",
		       dump(g));
	expect_counts(g, 2, 0, 2);
	expect_level(g, "h", 1);
	expect_level(g, "o", 0);
	cr_assert_eq(must_find(g, "h")->nchildren, 1, "h: only o is a child");
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.items[i];
		if (n->vertex && strcmp(n->vertex->label, "dead") == 0)
			cr_assert_null(n->pcv, "node %%%d of 'dead' is in PC "
				       "vertex %s", n->id,
				       n->pcv ? n->pcv->label : "");
	}
	/* the same with one vertex per operation */
	Graph *go = build_diags(text, 1, LEVEL_ON, &diags);
	check_graph(go, 1);
	/* h = matmul, tanh; o = matmul: a chain of 3, DEPTH 3 */
	expect_counts(go, 3, 0, 3);
	cr_assert_null(find(go, "dead"), "op granularity: 'dead' is a PC "
		       "vertex\n%s", dump(go));
}

/* A statement that depends on no parameter is data to PC: xn feeds h but
 * is not a vertex, and an `output` that reaches no loss is live but not a
 * PC vertex either (and not warned about).  h 1, o 0; DEPTH 2. */
Test(level, data_statements_are_not_vertices)
{
	Graph *g = build("model m {\n"
			 "  input x[4]; target y[2];\n"
			 "  param W1[4, 4]; param W2[2, 4]; param W3[4, 4];\n"
			 "  xn = relu(x) * 2;\n"
			 "  h = tanh(W1 @ xn);\n"
			 "  o = W2 @ h;\n"
			 "  side = W3 @ h;\n"
			 "  output side;\n"
			 "  loss mse(o, y);\n"
			 "}\n",
			 0, LEVEL_ON);
	expect_counts(g, 2, 0, 2);
	cr_assert_null(find(g, "xn"), "xn depends on no parameter\n%s",
		       dump(g));
	cr_assert_null(find(g, "side"), "side reaches no loss\n%s", dump(g));
	expect_level(g, "h", 1);
	expect_level(g, "o", 0);
	expect_dump(g, "depth 2 identities 0\n"
		       "L1 vertex h <-\n"
		       "L0 output o <- h\n");
}

/* ------------------------------------------------------- def arguments */

/* A def's named statement is a vertex of its own, but the def's arguments
 * are evaluated in the caller's statement.  An argument that is an
 * expression, read by such a statement, becomes a vertex of its own named
 * after the parameter, "<def>.<n>.<param>" (like the statement,
 * "<def>.<n>.<name>"), so that every PC edge leaves a vertex from its
 * root; the caller keeps the rest of its expression. */
#define DEF_F "def f(x, W) {\n  h = tanh(W @ x);\n  return h;\n}\n"

/* The statement (sema vertex) labelled `label`. */
static Vertex *
must_find_stmt(const Graph *g, const char *label)
{
	for (int i = 0; i < g->vertices.len; i++) {
		Vertex *v = g->vertices.items[i];
		if (strcmp(v->label, label) == 0)
			return v;
	}
	cr_assert_fail("no statement labelled '%s' in:\n%s", label, dump(g));
	return NULL;
}

static int
has_stmt(const Graph *g, const char *label)
{
	for (int i = 0; i < g->vertices.len; i++)
		if (strcmp(((Vertex *)g->vertices.items[i])->label, label) == 0)
			return 1;
	return 0;
}

/* With granularity op: the PC vertex of statement `stmt` whose root is an
 * `op` (the statement's inner operations are labelled by node id). */
static PcVertex *
must_find_op(const Graph *g, const char *stmt, OpKind op)
{
	for (int i = 0; i < g->pcv.len; i++) {
		PcVertex *v = g->pcv.items[i];
		if (v->root && v->root->op == op &&
		    strcmp(v->root->vertex->label, stmt) == 0)
			return v;
	}
	cr_assert_fail("no %s vertex of %s in:\n%s", op_name[op], stmt,
		       dump(g));
	return NULL;
}

/* The reported case: o = f(x * 2, W).  x * 2 depends on no parameter, so
 * its vertex f.1.x is data to PC (clamped), not a PC vertex.  stmt:
 * f.1.h -> o; o 0, f.1.h 1; DEPTH 2.  op: f.1.h's matmul -> its tanh
 * (the root, f.1.h) -> o's identity; levels 2, 1, 0; DEPTH 3. */
Test(level, def_argument_expression_of_data)
{
	const char *text = DEF_F "model m {\n"
			   "  input x[4];\n  target y[3];\n  param W[3,4];\n"
			   "  o = f(x * 2, W);\n  loss mse(o, y);\n}\n";
	Graph *g = build(text, 0, LEVEL_ON);
	expect_counts(g, 2, 0, 2);
	expect_dump(g, "depth 2 identities 0\n"
		       "L1 vertex f.1.h <-\n"
		       "L0 output o <- f.1.h\n");
	/* the argument is a statement of its own, read by f.1.h's matmul */
	Vertex *arg = must_find_stmt(g, "f.1.x");
	cr_assert_eq(arg->root->op, OP_MUL, "f.1.x is x * 2, not %s",
		     op_name[arg->root->op]);
	cr_assert_eq(arg->nodes.len, 1, "f.1.x has %d nodes, expected 1",
		     arg->nodes.len);
	cr_assert_str_eq(arg->root->label, "f.1.x", "its root's label");
	cr_assert_str_eq(arg->root->member, "f_x", "its buffer's base name");
	cr_assert_null(arg->root->pcv, "f.1.x is data, not a PC vertex\n%s",
		       dump(g));
	const Node *mm = must_find(g, "f.1.h")->nodes.items[0];
	cr_assert_eq(mm->op, OP_MATMUL, "f.1.h starts with its matmul");
	cr_assert_eq(mm->in[1], arg->root, "f.1.h reads f.1.x's root");
	/* o keeps only the identity that copies h */
	const PcVertex *o = must_find(g, "o");
	cr_assert_eq(o->nodes.len, 1, "o has %d nodes, expected 1\n%s",
		     o->nodes.len, dump(g));
	cr_assert_eq(o->root->op, OP_IDENTITY, "o is the copy of f.1.h");

	Graph *go = build(text, 1, LEVEL_ON);
	expect_counts(go, 3, 0, 3);
	expect_level(go, "o", 0);
	expect_level(go, "f.1.h", 1);
	cr_assert_eq(must_find_op(go, "f.1.h", OP_MATMUL)->level, 2,
		     "f.1.h's matmul: level 2\n%s", dump(go));
	cr_assert_null(find(go, "f.1.x"), "f.1.x is data\n%s", dump(go));
}

/* o = f(W2 @ x, W): the argument depends on W2, so f.1.x is a PC vertex.
 * stmt: f.1.x -> f.1.h -> o; levels 2, 1, 0; DEPTH 3.  op: f.1.x (one
 * matmul) -> f.1.h's matmul -> f.1.h -> o; levels 3..0; DEPTH 4. */
Test(level, def_argument_expression_on_a_parameter)
{
	const char *text = DEF_F "model m {\n"
			   "  input x[4];\n  target y[3];\n"
			   "  param W[3,4];\n  param W2[4,4];\n"
			   "  o = f(W2 @ x, W);\n  loss mse(o, y);\n}\n";
	Graph *g = build(text, 0, LEVEL_ON);
	expect_counts(g, 3, 0, 3);
	expect_dump(g, "depth 3 identities 0\n"
		       "L2 vertex f.1.x <-\n"
		       "L1 vertex f.1.h <- f.1.x\n"
		       "L0 output o <- f.1.h\n");
	cr_assert_eq(must_find(g, "f.1.x")->root->op, OP_MATMUL,
		     "f.1.x is W2 @ x");
	cr_assert_eq(must_find(g, "o")->nodes.len, 1, "o: only the copy");

	Graph *go = build(text, 1, LEVEL_ON);
	expect_counts(go, 4, 0, 4);
	expect_level(go, "f.1.x", 3);
	expect_level(go, "f.1.h", 1);
	expect_level(go, "o", 0);
	PcVertex *mm = must_find_op(go, "f.1.h", OP_MATMUL);
	cr_assert_eq(mm->level, 2, "f.1.h's matmul: level 2\n%s", dump(go));
	expect_reads(go, mm->label, "f.1.x", "f.1.x");
}

/* An expression-form def passes an inner node on, as it is and inside
 * another expression, and reads it too: o = p(W2 @ x, W) with
 * p(x, W) = f(tanh(x), W) * x.  tanh(..) is read by f.1.h: vertex f.1.x.
 * W2 @ x is then read by f.1.x and by o: vertex p.1.x (the outermost
 * call's name).  stmt: edges p.1.x -> f.1.x -> f.1.h -> o and
 * p.1.x -> o; o 0, f.1.h 1, f.1.x 2, p.1.x 3; the skip p.1.x -> o needs
 * p.1.x/id2 and p.1.x/id1; DEPTH 4.  op: f.1.h is a matmul and a tanh, so
 * p.1.x is at 4 and its chain has identities at 3, 2, 1; DEPTH 5. */
Test(level, def_argument_passed_on_by_an_expression_def)
{
	const char *text = DEF_F
			   "def p(x, W) = f(tanh(x), W) * x;\n"
			   "model m {\n"
			   "  input x[4];\n  target y[4];\n"
			   "  param W[4,4];\n  param W2[4,4];\n"
			   "  o = p(W2 @ x, W);\n  loss mse(o, y);\n}\n";
	Graph *g = build(text, 0, LEVEL_ON);
	expect_counts(g, 4, 2, 4);
	expect_dump(g, "depth 4 identities 2\n"
		       "L3 vertex p.1.x <-\n"
		       "L2 vertex f.1.x <- p.1.x\n"
		       "L2 identity p.1.x/id2 <- p.1.x\n"
		       "L1 vertex f.1.h <- f.1.x\n"
		       "L1 identity p.1.x/id1 <- p.1.x/id2\n"
		       "L0 output o <- f.1.h p.1.x/id1\n");
	cr_assert_eq(must_find(g, "p.1.x")->root->op, OP_MATMUL, "W2 @ x");
	cr_assert_eq(must_find(g, "f.1.x")->root->op, OP_TANH, "tanh(x)");
	cr_assert_eq(must_find(g, "o")->root->op, OP_MUL, "o = h * x");

	Graph *go = build(text, 1, LEVEL_ON);
	expect_counts(go, 5, 3, 5);
	expect_level(go, "p.1.x", 4);
	expect_level(go, "f.1.x", 3);
	expect_level(go, "f.1.h", 1);
	expect_reads(go, "o", "p.1.x", "p.1.x/id1");
}

/* Nested: o = g(W2 @ x, W, V) with g(x, W, V) { a = f(x * 0.5, W);
 * return f(V @ a, W); }.  The statement g.1.a calls f with x * 0.5, an
 * inner node of g.1.a (vertex f.1.x), which reads g's x, an inner node of
 * o (vertex g.1.x); g's return calls f with V @ a, an inner node of o
 * (vertex f.2.x).  stmt: one chain g.1.x -> f.1.x -> f.1.h -> g.1.a ->
 * f.2.x -> f.2.h -> o, levels 6..0, DEPTH 7.  op: f.1.h and f.2.h are a
 * matmul and a tanh each: 9 vertices in one chain, DEPTH 9. */
Test(level, def_argument_expressions_in_nested_defs)
{
	const char *text = DEF_F
			   "def g(x, W, V) {\n"
			   "  a = f(x * 0.5, W);\n"
			   "  return f(V @ a, W);\n"
			   "}\n"
			   "model m {\n"
			   "  input x[4];\n  target y[4];\n"
			   "  param W[4,4];\n  param W2[4,4];\n  param V[4,4];\n"
			   "  o = g(W2 @ x, W, V);\n  loss mse(o, y);\n}\n";
	Graph *g = build(text, 0, LEVEL_ON);
	expect_counts(g, 7, 0, 7);
	expect_dump(g, "depth 7 identities 0\n"
		       "L6 vertex g.1.x <-\n"
		       "L5 vertex f.1.x <- g.1.x\n"
		       "L4 vertex f.1.h <- f.1.x\n"
		       "L3 vertex g.1.a <- f.1.h\n"
		       "L2 vertex f.2.x <- g.1.a\n"
		       "L1 vertex f.2.h <- f.2.x\n"
		       "L0 output o <- f.2.h\n");
	Graph *go = build(text, 1, LEVEL_ON);
	expect_counts(go, 9, 0, 9);
	expect_level(go, "g.1.x", 8);
	expect_level(go, "f.1.x", 7);
	expect_level(go, "g.1.a", 4);
	expect_level(go, "f.2.x", 3);
	expect_level(go, "o", 0);
}

/* No new vertex where none is needed: an expression-form def keeps its
 * argument in the caller (a = e(x * 2, W)); a vertex passed to a def is
 * read as it is (f(h0, W3), f(a, W)).  stmt: h0 -> f.1.h, a -> f.2.h,
 * both -> o; h0 2, a 2, f.1.h 1, f.2.h 1, o 0; DEPTH 3. */
Test(level, def_arguments_that_need_no_vertex)
{
	const char *text = DEF_F
			   "def e(x, W) = tanh(W @ x);\n"
			   "model m {\n"
			   "  input x[4];\n  target y[4];\n"
			   "  param W[4,4];\n  param W2[4,4];\n  param W3[4,4];\n"
			   "  h0 = W2 @ x;\n"
			   "  a = e(x * 2, W);\n"
			   "  o = f(h0, W3) + f(a, W);\n"
			   "  loss mse(o, y);\n}\n";
	Graph *g = build(text, 0, LEVEL_ON);
	cr_assert_eq(g->vertices.len, 5, "h0, a, f.1.h, f.2.h, o: got %d\n%s",
		     g->vertices.len, dump(g));
	cr_assert(!has_stmt(g, "e.1.x") && !has_stmt(g, "f.1.x") &&
			  !has_stmt(g, "f.2.x"),
		  "no argument vertex expected\n%s", dump(g));
	expect_counts(g, 3, 0, 5);
	/* a holds x * 2 with its own matmul and tanh */
	cr_assert_eq(must_find(g, "a")->nodes.len, 3, "a: mul, matmul, tanh");
	expect_level(g, "h0", 2);
	expect_level(g, "a", 2);
	expect_level(g, "f.1.h", 1);
	expect_level(g, "f.2.h", 1);
	Graph *go = build(text, 1, LEVEL_ON);
	cr_assert_eq(go->vertices.len, 5, "op: the same 5 statements");
}

/* An argument read only by a statement that reaches no loss stays in the
 * caller: the one warning is about that statement. */
Test(level, def_argument_read_by_a_dead_statement)
{
	const char *text = "def d(x, W) {\n  h = tanh(W @ x);\n  return x;\n}\n"
			   "model m {\n"
			   "  input x[4];\n  target y[4];\n"
			   "  param W[4,4];\n  param W2[4,4];\n"
			   "  o = d(W2 @ x, W);\n  loss mse(o, y);\n}\n";
	for (int op = 0; op <= 1; op++) {
		const char *diags;
		Graph *g = build_diags(text, op, LEVEL_ON, &diags);
		check_graph(g, 1);
		cr_assert(strstr(diags, "warning: 'd.1.h' reaches no loss") !=
				  NULL,
			  "expected a warning about d.1.h, got:\n%s", diags);
		cr_assert(strstr(diags, "d.1.x") == NULL,
			  "no warning about the argument expected:\n%s", diags);
		cr_assert(!has_stmt(g, "d.1.x"), "d.1.x is not needed\n%s",
			  dump(g));
		expect_counts(g, 1, 0, 1);
		cr_assert_eq(must_find(g, "o")->root->op, OP_MATMUL,
			     "o is W2 @ x");
	}
}
