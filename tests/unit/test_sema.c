/*
 * test_sema.c — the shape checker and graph builder: small in-memory
 * models through pcc_parse + sema_build, checked on the Graph (shapes,
 * labels, vertices, flags) with graph_dump shown when a check fails.
 *
 * Covered: the result shape of every operator and built-in (broadcasting
 * with scalars and rank promotion, the four @ cases, indexing and slicing,
 * concat, reshape/flatten, sum/mean, transpose; conv2d, the pools and
 * layernorm both through the shape a reshape diagnostic prints and through
 * the graph), constant folding, -D
 * overrides, loop unrolling, def inlining, dead-vertex warnings, batched
 * flags and error counts.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "pcc.h"

/* the diagnostics of the compilation under test */
static Diag diag;

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

TestSuite(sema, .init = setup, .fini = teardown);

/* ------------------------------------------------------------ helpers */

/* Parse and check `text` with -D overrides; the diagnostics come back in
 * *diags (malloc'd), the graph (or NULL) as the result. */
static Graph *
build_d(const char *text, Define *defs, int ndefs, char **diags)
{
	size_t n;
	FILE *err = open_memstream(diags, &n);
	cr_assert(err, "open_memstream failed");
	source.path = "t.pcg";
	source.text = text;
	source.len = strlen(text);
	diag_end(&diag);
	diag_begin(&diag, &source, err);
	Program *p = pcc_parse(&arena, &diag);
	cr_assert_not_null(p, "the test model does not parse:\n%s", text);
	Graph *g = sema_build(&arena, &diag, p, defs, ndefs);
	fclose(err);
	return g;
}

static Graph *
build(const char *text, char **diags)
{
	return build_d(text, NULL, 0, diags);
}

/* The graph dump, for failure messages (arena string). */
static const char *
dump(const Graph *g)
{
	char *s;
	size_t n;
	FILE *out = open_memstream(&s, &n);
	graph_dump(out, g);
	fclose(out);
	const char *r = arena_strdup(&arena, s);
	free(s);
	return r;
}

/* A model that must check with no error (a vertex computed from no data
 * in an inference-only model may be dropped with a warning). */
static Graph *
build_ok(const char *text)
{
	char *diags;
	Graph *g = build(text, &diags);
	cr_assert(strstr(diags, "error:") == NULL,
		  "expected no errors for:\n%s\ngot:\n%s", text, diags);
	cr_assert_not_null(g, "sema_build returned NULL for:\n%s", text);
	free(diags);
	return g;
}

/* A model that must fail; returns its diagnostics (arena string). */
static const char *
build_fail(const char *text)
{
	char *diags;
	Graph *g = build(text, &diags);
	cr_assert_null(g, "sema_build should fail for:\n%s\nbut built:\n%s",
		       text, g ? dump(g) : "");
	cr_assert(diag_error_count(&diag) > 0,
		  "sema_build returned NULL without an error for:\n%s", text);
	const char *r = arena_strdup(&arena, diags);
	free(diags);
	return r;
}

static void
expect_contains(const char *diags, const char *want, const char *text)
{
	cr_assert(strstr(diags, want) != NULL,
		  "for:\n%s\nexpected a diagnostic containing\n  %s\ngot:\n%s",
		  text, want, diags);
}

/* The node named `label` (a vertex root, or a leaf), or NULL. */
static Node *
find(const Graph *g, const char *label)
{
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.items[i];
		if (n->label && strcmp(n->label, label) == 0)
			return n;
	}
	return NULL;
}

static Node *
must_find(const Graph *g, const char *label)
{
	Node *n = find(g, label);
	cr_assert_not_null(n, "no node labelled '%s' in:\n%s", label, dump(g));
	return n;
}

static Vertex *
find_vertex(const Graph *g, const char *label)
{
	for (int i = 0; i < g->vertices.len; i++) {
		Vertex *v = g->vertices.items[i];
		if (strcmp(v->label, label) == 0)
			return v;
	}
	return NULL;
}

static const char *
shape_of(const Node *n)
{
	return shape_str(&arena, &n->shape);
}

static int
count_op(const Graph *g, OpKind op)
{
	int k = 0;
	for (int i = 0; i < g->nodes.len; i++)
		k += ((Node *)g->nodes.items[i])->op == op;
	return k;
}

/* The one CONST node of a graph. */
static Node *
only_const(const Graph *g)
{
	Node *c = NULL;
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.items[i];
		if (n->op == OP_CONST) {
			cr_assert_null(c, "more than one const node in:\n%s",
				       dump(g));
			c = n;
		}
	}
	cr_assert_not_null(c, "no const node in:\n%s", dump(g));
	return c;
}

/* Inputs of many shapes, for the shape table.  y is the only vertex, so
 * an inference-only model exposes it and no warning is printed. */
#define SHAPE_MODEL                                                     \
	"model m {\n"                                                   \
	"  input v4[4]; input v3[3]; input r1[1];\n"                    \
	"  input m34[3, 4]; input m43[4, 3]; input m24[2, 4];\n"        \
	"  input m14[1, 4]; input m31[3, 1]; input t234[2, 3, 4];\n"    \
	"  input c[2, 8, 8]; param K[5, 2, 3, 3]; param P[3, 4];\n"     \
	"  y = %s;\n"                                                   \
	"}\n"

static const char *
shape_model(const char *expr)
{
	return arena_printf(&arena, SHAPE_MODEL, expr);
}

/* ------------------------------------------------- shapes of operators */

struct shape_case {
	char expr[64];
	char shape[24];
};

ParameterizedTestParameters(sema, shapes)
{
	static struct shape_case cases[] = {
		/* elementwise, broadcasting */
		{"v4 + v4", "[4]"},
		{"v4 + 1", "[4]"},
		{"2 * m34", "[3,4]"},
		{"m34 - 0.5", "[3,4]"},
		{"1 / v3", "[3]"},
		{"m34 + v4", "[3,4]"},       /* rank promotion */
		{"v4 * m34", "[3,4]"},
		{"m31 + v4", "[3,4]"},       /* [3,1] with [4] */
		{"m14 * m31", "[3,4]"},      /* both sides stretch */
		{"t234 - v4", "[2,3,4]"},
		{"t234 / m34", "[2,3,4]"},
		{"r1 + m34", "[3,4]"},       /* [1] broadcasts */
		{"sum(v4) + v3", "[3]"},     /* a [] tensor broadcasts */
		{"m34 * sum(v4)", "[3,4]"},
		{"P + m34", "[3,4]"},
		{"-m34", "[3,4]"},
		/* the four @ cases */
		{"m34 @ v4", "[3]"},
		{"v3 @ m34", "[4]"},
		{"m34 @ m43", "[3,3]"},
		{"v4 @ v4", "[]"},
		{"m43 @ m34", "[4,4]"},
		{"m34 @ transpose(P)", "[3,3]"},
		/* same-shape functions */
		{"tanh(m34)", "[3,4]"},
		{"sigmoid(m34)", "[3,4]"},
		{"relu(m34)", "[3,4]"},
		{"exp(v4)", "[4]"},
		{"log(v4)", "[4]"},
		{"sqrt(v4)", "[4]"},
		{"square(t234)", "[2,3,4]"},
		{"softplus(v4)", "[4]"},
		{"abs(v4)", "[4]"},
		{"leaky_relu(m34, 0.1)", "[3,4]"},
		{"softmax(m34)", "[3,4]"},
		{"log_softmax(v4)", "[4]"},
		/* reductions, transpose, reshape */
		{"sum(t234)", "[]"},
		{"mean(m34)", "[]"},
		{"transpose(m34)", "[4,3]"},
		{"reshape(m34, [2, 6])", "[2,6]"},
		{"reshape(t234, [24])", "[24]"},
		{"reshape(v4, [2, 1, 2])", "[2,1,2]"},
		{"flatten(t234)", "[24]"},
		{"flatten(v4)", "[4]"},
		/* concat along the first axis */
		{"concat(m34, m24)", "[5,4]"},
		{"concat(v4, v3)", "[7]"},
		{"concat(m34, m34, m24)", "[8,4]"},
		{"concat(v4)", "[4]"},
		/* indexing and slicing the first axis */
		{"m34[1]", "[4]"},
		{"m34[0:2]", "[2,4]"},
		{"m34[2:3]", "[1,4]"},
		{"t234[1]", "[3,4]"},
		{"t234[0:1]", "[1,3,4]"},
		{"t234[1][2]", "[4]"},
		{"v4[3]", "[]"},
		{"v4[1:4]", "[3]"},
		/* constant tensors */
		{"zeros([2, 3])", "[2,3]"},
		{"ones([5])", "[5]"},
		{"v4 + zeros([3, 1])", "[3,4]"},
	};
	return cr_make_param_array(struct shape_case, cases,
				   sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct shape_case *c, sema, shapes)
{
	const char *text = shape_model(c->expr);
	Graph *g = build_ok(text);
	Node *y = must_find(g, "y");
	cr_assert_str_eq(shape_of(y), c->shape,
			 "y = %s: expected shape %s, got %s\n%s", c->expr,
			 c->shape, shape_of(y), dump(g));
}

/* conv2d, the pools and layernorm: their shapes read from a reshape error
 * that prints them ("cannot reshape [5,6,6] (180 elements) to ..."),
 * and, below, from the graph. */
ParameterizedTestParameters(sema, unsupported_op_shapes)
{
	static struct shape_case cases[] = {
		/* (H + 2p - kh) / s + 1 */
		{"conv2d(c, K)", "[5,6,6]"},
		{"conv2d(c, K, pad=1)", "[5,8,8]"},
		{"conv2d(c, K, stride=2)", "[5,3,3]"},
		{"conv2d(c, K, stride=2, pad=1)", "[5,4,4]"},
		{"conv2d(c, K, stride=3)", "[5,2,2]"},
		/* (H - k) / s + 1, stride defaults to k */
		{"maxpool2d(c, 2)", "[2,4,4]"},
		{"maxpool2d(c, 3)", "[2,2,2]"},
		{"maxpool2d(c, 3, stride=1)", "[2,6,6]"},
		{"avgpool2d(c, 2)", "[2,4,4]"},
		{"avgpool2d(c, 2, stride=3)", "[2,3,3]"},
		{"avgpool2d(c, 8)", "[2,1,1]"},
		{"layernorm(m34)", "[3,4]"},
		{"layernorm(t234)", "[2,3,4]"},
	};
	return cr_make_param_array(struct shape_case, cases,
				   sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct shape_case *c, sema, unsupported_op_shapes)
{
	const char *expr = arena_printf(&arena, "reshape(%s, [999983])",
					c->expr);
	const char *text = shape_model(expr);
	const char *diags = build_fail(text);
	const char *want = arena_printf(&arena, "error: cannot reshape %s (",
					c->shape);
	expect_contains(diags, want, text);
	cr_assert_eq(diag_error_count(&diag), 1, "expected 1 error, got %d:\n%s",
		     diag_error_count(&diag), diags);
}

/* Without the probe they build, with the same shapes. */
ParameterizedTestParameters(sema, conv_pool_norm_build)
{
	static struct shape_case cases[] = {
		{"conv2d(c, K, stride=2, pad=1)", "[5,4,4]"},
		{"maxpool2d(c, 3, stride=1)", "[2,6,6]"},
		{"avgpool2d(c, 8)", "[2,1,1]"},
		{"layernorm(t234)", "[2,3,4]"},
	};
	return cr_make_param_array(struct shape_case, cases,
				   sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct shape_case *c, sema, conv_pool_norm_build)
{
	const char *text = shape_model(c->expr);
	Graph *g = build_ok(text);
	Node *y = must_find(g, "y");
	cr_assert_str_eq(shape_of(y), c->shape, "y = %s: expected %s, got %s",
			 c->expr, c->shape, shape_of(y));
}

/* Negative controls: the same harness reports shape errors, with both
 * shapes, so the table above can fail. */
struct error_case {
	char expr[48];
	char want[64];
};

ParameterizedTestParameters(sema, shape_errors)
{
	static struct error_case cases[] = {
		{"v4 + v3", "cannot add [4] + [3]"},
		{"m34 * m24", "cannot multiply [3,4] * [2,4]"},
		{"m34 @ v3", "cannot multiply [3,4] @ [3]"},
		{"v4 @ m34", "cannot multiply [4] @ [3,4]"},
		{"t234 @ v3", "cannot multiply [2,3,4] @ [3]"},
		{"transpose(v4)", "transpose takes a tensor of rank 2 or more, got [4]"},
		{"reshape(m34, [5])", "cannot reshape [3,4] (12 elements)"},
		{"concat(m34, m43)", "cannot concat [3,4] with [4,3]"},
		{"m34[3]", "index 3 is out of range for [3,4]"},
		{"m34[1:1]", "slice 1:1 is out of range for [3,4]"},
		{"v4[1][0]", "cannot index a scalar []"},
		{"softmax(sum(v4))", "softmax works over the last axis"},
		{"conv2d(m34, K)", "cannot convolve [3,4] with kernel [5,2,3,3]"},
		{"maxpool2d(c, 9)", "maxpool2d window 9 is larger than"},
	};
	return cr_make_param_array(struct error_case, cases,
				   sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct error_case *c, sema, shape_errors)
{
	const char *text = shape_model(c->expr);
	const char *diags = build_fail(text);
	expect_contains(diags, c->want, text);
	cr_assert_eq(diag_error_count(&diag), 1, "expected 1 error, got %d:\n%s",
		     diag_error_count(&diag), diags);
}

/* The nodes of an expression: one per operation, inputs in order. */
Test(sema, matmul_node_and_operands)
{
	Graph *g = build_ok("model m { input x[4]; param W[3, 4]; "
			    "y = W @ x; }");
	Node *y = must_find(g, "y");
	cr_assert_eq(y->op, OP_MATMUL, "y should be a matmul, got %s\n%s",
		     op_name[y->op], dump(g));
	cr_assert_eq(y->nin, 2, "matmul has 2 inputs, got %d", y->nin);
	cr_assert_str_eq(y->in[0]->label, "W", "left operand should be W");
	cr_assert_str_eq(y->in[1]->label, "x", "right operand should be x");
}

Test(sema, slice_attributes)
{
	Graph *g = build_ok("model m { input x[5, 2]; a = x[1:4]; b = x[2]; "
			    "output a, b; }");
	Node *a = must_find(g, "a"), *b = must_find(g, "b");
	cr_assert_eq(a->op, OP_SLICE, "a should be a slice\n%s", dump(g));
	cr_assert(a->at->lo[0] == 1 && a->at->step[0] == 1 && !a->at->drop[0],
		  "x[1:4] should keep rows from 1, got lo %lld step %lld",
		  (long long)a->at->lo[0], (long long)a->at->step[0]);
	cr_assert_str_eq(shape_of(a), "[3,2]", "x[1:4] keeps rows 1..3");
	cr_assert(b->at->lo[0] == 2 && b->at->drop[0],
		  "x[2] should take row 2 and drop the axis, got lo %lld",
		  (long long)b->at->lo[0]);
	cr_assert_str_eq(shape_of(b), "[2]", "x[2] drops the first axis");
}

/* The number arguments of elementwise ops reach the node (the kernels
 * read them from its attributes): the slope of leaky_relu and elu, the
 * exponent of pow, the bounds of clip. */
Test(sema, number_arguments_reach_the_node)
{
	Graph *g = build_ok("model m { input x[3]; a = leaky_relu(x, 0.1); "
			    "b = elu(x, 0.7); c = pow(x, 1.5); "
			    "d = clip(x, -0.4, 0.6); output a, b, c, d; }");
	static const struct {
		const char *label;
		double num0, num1;
	} want[] = {{"a", 0.1, 0}, {"b", 0.7, 0}, {"c", 1.5, 0},
		    {"d", -0.4, 0.6}};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		Node *n = must_find(g, want[i].label);
		cr_expect(n->at->num[0] == want[i].num0 &&
				  n->at->num[1] == want[i].num1,
			  "%s: number arguments %g, %g, expected %g, %g\n%s",
			  want[i].label, n->at->num[0], n->at->num[1],
			  want[i].num0, want[i].num1, dump(g));
	}
}

Test(sema, clip_bounds_reversed)
{
	const char *text = "model m { input x[3]; a = clip(x, 1, -1); "
			   "output a; }";
	expect_contains(build_fail(text), "clip's bounds are reversed", text);
}

Test(sema, reshape_and_flatten_are_one_op)
{
	Graph *g = build_ok("model m { input x[2, 3]; a = reshape(x, [3, 2]); "
			    "b = flatten(x); output a, b; }");
	cr_assert_eq(must_find(g, "a")->op, OP_RESHAPE, "reshape\n%s", dump(g));
	cr_assert_eq(must_find(g, "b")->op, OP_RESHAPE,
		     "flatten should be a reshape\n%s", dump(g));
	cr_assert_str_eq(shape_of(must_find(g, "b")), "[6]",
			 "flatten of [2,3]");
}

/* ------------------------------------------------------ constant folding */

struct fold_case {
	char expr[48];
	double value;
};

ParameterizedTestParameters(sema, folding)
{
	static struct fold_case cases[] = {
		{"2 + 3 * 4", 14},
		{"(2 + 3) * 4", 20},
		{"7 / 2", 3.5},
		{"10 - 2 - 3", 5},
		{"-(1.5)", -1.5},
		{"2 - -3", 5},
		{"N * N - 1", 8},
		{"N / 2", 1.5},
		{"tanh(0)", 0},
		{"relu(-2)", 0},
		{"relu(N)", 3},
		{"leaky_relu(-2, 0.5)", -1},
		{"sqrt(16)", 4},
		{"square(N)", 9},
		{"abs(-2.5)", 2.5},
		{"exp(0)", 1},
		{"log(1)", 0},
		{"sigmoid(0)", 0.5},
		{"softplus(0)", 0.69314718055994529},
	};
	return cr_make_param_array(struct fold_case, cases,
				   sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct fold_case *c, sema, folding)
{
	const char *text = arena_printf(&arena,
					"model m { const N = 3; const C = %s; "
					"input x[4]; y = x * C; }",
					c->expr);
	Graph *g = build_ok(text);
	Node *k = only_const(g);
	cr_assert_str_eq(shape_of(k), "[]", "a folded number is a scalar");
	cr_assert(fabs(k->value - c->value) <= 1e-15,
		  "C = %s: expected %.17g, got %.17g\n%s", c->expr, c->value,
		  k->value, dump(g));
}

Test(sema, literals_fold_inside_tensor_expressions)
{
	/* 2 * 3 folds before it meets the tensor: one const node, 6 */
	Graph *g = build_ok("model m { input x[4]; y = x * (2 * 3); }");
	cr_assert_eq(only_const(g)->value, 6,
		     "expected the const 6\n%s", dump(g));
	cr_assert_eq(count_op(g, OP_MUL), 1, "one mul node\n%s", dump(g));
}

Test(sema, consts_in_shapes_and_exact_division)
{
	Graph *g = build_ok("model m { const N = 3; const M = N * 4 / 6; "
			    "input x[N * N - 1, M]; y = tanh(x); }");
	cr_assert_str_eq(shape_of(must_find(g, "x")), "[8,2]",
			 "x[N * N - 1, M] with N = 3, M = 2");
}

Test(sema, remainder_in_a_shape_is_an_error)
{
	const char *text = "model m { const N = 10; input x[N / 4]; }";
	const char *d = build_fail(text);
	expect_contains(d, "t.pcg:1:33: error: '/' leaves a remainder in a "
			   "shape: 10 / 4", text);
}

/* LANGUAGE.md: integer-valued consts size shapes, however computed */
Test(sema, integer_valued_const_is_a_dimension)
{
	Graph *g = build_ok("model m { const N = 6 / 4 * 2; input x[N]; }");
	const DataDecl *x = g->inputs.items[0];
	cr_assert_eq(x->shape.dim[0], 3, "6 / 4 * 2 = 3 sizes x, got %lld",
		     (long long)x->shape.dim[0]);
	const char *d = build_fail("model m { const N = 6 / 4; input x[N]; }");
	expect_contains(d, "1.5", "model m { const N = 6 / 4; input x[N]; }");
}

/* --------------------------------------------------------- -D overrides */

Test(sema, define_overrides_a_const)
{
	Define defs[] = {{"N", 5, 1, 0}};
	char *diags;
	Graph *g = build_d("model m { const N = 3; input x[N, 2]; "
			   "y = tanh(x); }",
			   defs, 1, &diags);
	cr_assert_str_empty(diags, "unexpected diagnostics:\n%s", diags);
	cr_assert_not_null(g, "sema_build failed");
	cr_assert_str_eq(shape_of(must_find(g, "x")), "[5,2]",
			 "-D N=5 should make x [5,2]");
	cr_assert_eq(defs[0].used, 1, "the -D should be marked used");
	free(diags);
}

Test(sema, define_overrides_loop_length)
{
	Define defs[] = {{"T", 6, 1, 0}};
	char *diags;
	Graph *g = build_d("model m { const T = 2; input x[3]; h[0] = x; "
			   "for t in 0..T { h[t+1] = tanh(h[t]); } "
			   "o = h[T]; }",
			   defs, 1, &diags);
	cr_assert_str_empty(diags, "unexpected diagnostics:\n%s", diags);
	cr_assert_not_null(must_find(g, "h[6]"), "-D T=6 unrolls to h[6]");
	cr_assert_null(find(g, "h[7]"), "no h[7]\n%s", dump(g));
	free(diags);
}

Test(sema, define_real_value_in_expression)
{
	Define defs[] = {{"S", 0.25, 0, 0}};
	char *diags;
	Graph *g = build_d("model m { const S = 1; input x[3]; y = x * S; }",
			   defs, 1, &diags);
	cr_assert_str_empty(diags, "unexpected diagnostics:\n%s", diags);
	cr_assert_eq(only_const(g)->value, 0.25, "-D S=0.25\n%s",
		     dump(g));
	free(diags);
}

Test(sema, define_of_unknown_const)
{
	Define defs[] = {{"N", 4, 1, 0}, {"T", 0, 1, 0}};
	char *diags;
	Graph *g = build_d("model m { const N = 3; input x[N]; y = tanh(x); }",
			   defs, 2, &diags);
	cr_assert_null(g, "an unused -D is an error");
	cr_assert_str_eq(diags, "pcc: error: -D T: the model has no const "
				"named 'T'\n",
			 "got:\n%s", diags);
	cr_assert_eq(diag_error_count(&diag), 1, "one error, got %d",
		     diag_error_count(&diag));
	free(diags);
}

Test(sema, define_of_non_integer_dimension)
{
	Define defs[] = {{"N", 2.5, 0, 0}};
	char *diags;
	Graph *g = build_d("model m { const N = 3; input x[N]; }", defs, 1,
			   &diags);
	cr_assert_null(g, "x[2.5] is an error");
	cr_assert(strstr(diags, "shape dimension must be a positive integer, "
				"got 2.5"),
		  "got:\n%s", diags);
	free(diags);
}

/* -------------------------------------------------------- loop unrolling */

static const char rnn[] =
	"model m {\n"
	"  input xs[3, 2];\n"
	"  param W[4, 2];\n"
	"  param U[4, 4];\n"
	"  h[0] = zeros([4]);\n"
	"  for t in 0..3 {\n"
	"    a = W @ xs[t] + U @ h[t];\n"
	"    h[t+1] = tanh(a);\n"
	"  }\n"
	"  o = h[3];\n"
	"}\n";

Test(sema, loop_unrolls_family_members)
{
	Graph *g = build_ok(rnn);
	for (int i = 0; i <= 3; i++) {
		char label[16];
		snprintf(label, sizeof label, "h[%d]", i);
		Node *h = must_find(g, label);
		cr_assert_str_eq(shape_of(h), "[4]", "%s is [4]", label);
		cr_assert_eq(h->index, i, "%s has index %d, got %d", label, i,
			     h->index);
		cr_assert_not_null(find_vertex(g, label),
				   "%s should be a vertex\n%s", label, dump(g));
	}
	cr_assert_null(find(g, "h[4]"), "the range 0..3 is half-open\n%s",
		       dump(g));
	/* h[t+1] = tanh(a) uses this iteration's a */
	Node *h2 = must_find(g, "h[2]");
	cr_assert_eq(h2->op, OP_TANH, "h[2] is a tanh\n%s", dump(g));
	cr_assert_str_eq(h2->in[0]->label, "a@t=1",
			 "h[2] should read a of iteration t=1\n%s", dump(g));
}

Test(sema, loop_local_names_are_per_iteration)
{
	Graph *g = build_ok(rnn);
	/* h[0], a and h[t+1] three times, o */
	cr_assert_eq(g->vertices.len, 8, "expected 8 vertices, got %d\n%s",
		     g->vertices.len, dump(g));
	for (int t = 0; t < 3; t++) {
		char label[16];
		snprintf(label, sizeof label, "a@t=%d", t);
		Node *a = must_find(g, label);
		cr_assert_eq(a->op, OP_ADD, "%s is an add", label);
		/* the xs[t] slice of each iteration */
		Node *sl = a->in[0]->in[1];
		cr_assert_eq(sl->op, OP_SLICE, "W @ xs[t]: slice\n%s", dump(g));
		cr_assert_eq(sl->at->lo[0], t, "xs[%d] slices row %d, got "
			     "%lld", t, t, (long long)sl->at->lo[0]);
	}
	/* the shared params are the same node in every iteration */
	Node *a0 = must_find(g, "a@t=0"), *a2 = must_find(g, "a@t=2");
	cr_assert_eq(a0->in[0]->in[0], a2->in[0]->in[0],
		     "W must be tied across iterations");
	cr_assert_eq(g->params.len, 2, "two params, got %d", g->params.len);
}

Test(sema, loop_local_name_is_gone_after_the_loop)
{
	const char *text = "model m { input x[4]; for t in 0..2 { a = tanh(x); "
			   "output a; } y = a; }";
	const char *d = build_fail(text);
	expect_contains(d, "t.pcg:1:68: error: undefined name 'a'", text);
	cr_assert_eq(diag_error_count(&diag), 1, "one error:\n%s", d);
}

Test(sema, nested_loops)
{
	Graph *g = build_ok("model m { input x[2]; "
			    "for i in 0..2 { for j in 1..4 { "
			    "g[i * 3 + j] = x * j; } } "
			    "o = concat(g[1], g[2], g[3], g[4], g[5], g[6]); }");
	for (int k = 1; k <= 6; k++) {
		char label[16];
		snprintf(label, sizeof label, "g[%d]", k);
		must_find(g, label);
	}
	cr_assert_str_eq(shape_of(must_find(g, "o")), "[12]", "concat of 6 [2]");
	/* g[6] = x * 3 (i = 1, j = 3) */
	Node *g6 = must_find(g, "g[6]");
	cr_assert_eq(g6->in[1]->value, 3, "g[6] = x * 3\n%s", dump(g));
}

Test(sema, loop_bounds_from_consts)
{
	Graph *g = build_ok("model m { const T = 2; input x[2]; h[1] = x; "
			    "for t in T - 1..T * 2 { h[t+1] = h[t] * 2; } "
			    "o = h[4]; }");
	must_find(g, "h[4]");
	cr_assert_null(find(g, "h[5]"), "1..4 runs t = 1, 2, 3\n%s", dump(g));
}

/* ---------------------------------------------------------- def inlining */

static const char defs_model[] =
	"def block(x, W) {\n"
	"  h = tanh(W @ x);\n"
	"  return h + x;\n"
	"}\n"
	"def scale(x) {\n"
	"  const k = 2;\n"
	"  return x * k;\n"
	"}\n"
	"model m {\n"
	"  input x[4];\n"
	"  param W1[4, 4];\n"
	"  param W2[4, 4];\n"
	"  y1 = block(x, W1);\n"
	"  y2 = block(y1, W2);\n"
	"  z = scale(y2);\n"
	"}\n";

Test(sema, def_statements_become_vertices)
{
	Graph *g = build_ok(defs_model);
	Node *h1 = must_find(g, "block.1.h"), *h2 = must_find(g, "block.2.h");
	cr_assert_not_null(find_vertex(g, "block.1.h"), "vertex block.1.h");
	cr_assert_not_null(find_vertex(g, "block.2.h"), "vertex block.2.h");
	cr_assert_eq(h1->op, OP_TANH, "block.1.h is tanh\n%s", dump(g));
	/* the arguments are bound at each call */
	cr_assert_str_eq(h1->in[0]->in[0]->label, "W1", "first call uses W1");
	cr_assert_str_eq(h1->in[0]->in[1]->label, "x", "first call uses x");
	cr_assert_str_eq(h2->in[0]->in[0]->label, "W2", "second call uses W2");
	cr_assert_str_eq(h2->in[0]->in[1]->label, "y1", "second call uses y1");
}

Test(sema, def_return_is_fused_into_the_caller)
{
	Graph *g = build_ok(defs_model);
	Node *y1 = must_find(g, "y1");
	cr_assert_eq(y1->op, OP_ADD, "y1 is the returned h + x\n%s", dump(g));
	cr_assert_str_eq(y1->vertex->label, "y1",
			 "the return belongs to the caller's vertex");
	cr_assert_str_eq(y1->in[0]->label, "block.1.h", "h + x reads h");
	/* block.1.h, y1, block.2.h, y2, z: no vertex for the returns */
	cr_assert_eq(g->vertices.len, 5, "expected 5 vertices, got %d\n%s",
		     g->vertices.len, dump(g));
}

Test(sema, def_const_folds)
{
	Graph *g = build_ok(defs_model);
	Node *z = must_find(g, "z");
	cr_assert_eq(z->op, OP_MUL, "z = y2 * 2\n%s", dump(g));
	cr_assert_eq(z->in[1]->op, OP_CONST, "k folds to a const");
	cr_assert_eq(z->in[1]->value, 2, "k = 2");
}

Test(sema, def_expression_form_and_numbers)
{
	Graph *g = build_ok("def affine(x, W, b) = W @ x + b;\n"
			    "def twice(n) = 2 * n;\n"
			    "model m { input x[3]; param W[2, 3]; param b[2]; "
			    "const K = twice(4); y = affine(x, W, b) * K; }");
	Node *y = must_find(g, "y");
	cr_assert_str_eq(shape_of(y), "[2]", "affine gives [2]");
	cr_assert_eq(y->in[1]->value, 8, "twice(4) folds to 8\n%s",
		     dump(g));
	cr_assert_eq(g->vertices.len, 1, "a one-line def adds no vertex\n%s",
		     dump(g));
}

Test(sema, defs_hide_the_callers_names)
{
	const char *text = "def f(x) = x + b;\n"
			   "model m { input x[4]; param b[4]; y = f(x); }";
	const char *d = build_fail(text);
	expect_contains(d, "t.pcg:1:16: error: undefined name 'b'", text);
	expect_contains(d, "note: in this call of 'f'", text);
}

Test(sema, recursion_is_an_error)
{
	const char *text = "def f(x) = g(x);\ndef g(x) = f(x) * 2;\n"
			   "model m { input x[4]; y = f(x); }";
	const char *d = build_fail(text);
	expect_contains(d, "t.pcg:2:12: error: recursive call of def 'f'",
			text);
	cr_assert_eq(diag_error_count(&diag), 1, "one error:\n%s", d);
}

/* ---------------------------------------------------- dead vertices */

Test(sema, dead_vertex_warning)
{
	const char *text = "model m {\n"
			   "  input x[4]; target y[4]; param W[4, 4];\n"
			   "  o = W @ x;\n"
			   "  d = tanh(o);\n"
			   "  loss mse(o, y);\n"
			   "}\n";
	char *diags;
	Graph *g = build(text, &diags);
	cr_assert_not_null(g, "a warning is not an error:\n%s", diags);
	cr_assert_str_eq(diags,
			 "t.pcg:4:3: warning: 'd' reaches no loss or output; "
			 "it is dropped\n"
			 "   d = tanh(o);\n"
			 "   ^~~~~~~~~~~~\n",
			 "got:\n%s", diags);
	cr_assert(!must_find(g, "d")->live, "d is dead");
	cr_assert(must_find(g, "o")->live, "o is live");
	free(diags);
}

Test(sema, no_dead_warning_when_used)
{
	/* the negative control: d is exposed, so nothing is dropped */
	Graph *g = build_ok("model m { input x[4]; target y[4]; param W[4, 4]; "
			    "o = W @ x; d = tanh(o); loss mse(o, y); "
			    "output d; }");
	cr_assert(must_find(g, "d")->live, "d is an output");
}

Test(sema, inference_only_exposes_unused_vertices)
{
	Graph *g = build_ok("model m { input x[4]; a = tanh(x); b = a * 2; "
			    "c = relu(x); }");
	cr_assert_eq(g->outputs.len, 2, "b and c are outputs, got %d\n%s",
		     g->outputs.len, dump(g));
	cr_assert(must_find(g, "a")->live, "a feeds b");
}

/* ------------------------------------------------------- batched flags */

Test(sema, batched_flags)
{
	Graph *g = build_ok("model m {\n"
			    "  input x[4]; target y[2];\n"
			    "  param W[2, 4]; param b[2];\n"
			    "  w2 = W * 2;\n"
			    "  o = w2 @ x + b;\n"
			    "  z = zeros([2]);\n"
			    "  loss mse(o, y);\n"
			    "  output w2, z;\n"
			    "}\n");
	cr_assert(must_find(g, "x")->batched, "inputs are batched");
	cr_assert(must_find(g, "y")->batched, "targets are batched");
	cr_assert(!must_find(g, "W")->batched, "params are not batched");
	cr_assert(!must_find(g, "b")->batched, "params are not batched");
	cr_assert(!must_find(g, "w2")->batched,
		  "a function of params only is not batched");
	cr_assert(must_find(g, "o")->batched,
		  "anything that reads an input is batched");
	cr_assert(!must_find(g, "z")->batched, "zeros() is not batched");
	Node *c = NULL;
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.items[i];
		if (n->op == OP_CONST && n->shape.rank == 0)
			c = n;
	}
	cr_assert_not_null(c, "the const 2\n%s", dump(g));
	cr_assert(!c->batched, "number consts are not batched");
}

Test(sema, params_and_declarations)
{
	Graph *g = build_ok("model m { input x[4]; target y[3]; "
			    "param W[3, 4] = normal(0.5); param b[3]; "
			    "param V[3, 3] = uniform(-1, 2); "
			    "o = V @ (W @ x + b); loss cross_entropy(o, y); }");
	cr_assert_eq(g->params.len, 3, "3 params");
	ParamDecl *W = g->params.items[0], *b = g->params.items[1];
	ParamDecl *V = g->params.items[2];
	cr_assert_eq(W->init, INIT_NORMAL, "W = normal(0.5)");
	cr_assert_eq(W->a, 0.5, "std 0.5");
	cr_assert_eq(b->init, INIT_ZEROS, "rank 1 defaults to zeros");
	cr_assert_eq(V->init, INIT_UNIFORM, "V = uniform(-1, 2)");
	cr_assert(V->a == -1 && V->b == 2, "uniform(-1, 2)");
	cr_assert_eq(b->offset, 12, "b follows W's 12 scalars, got %lld",
		     (long long)b->offset);
	cr_assert_eq(g->param_count, 12 + 3 + 9, "param count");
	cr_assert_eq(g->losses.len, 1, "one loss");
	cr_assert_eq(((Loss *)g->losses.items[0])->root->op, OP_CROSS_ENTROPY,
		     "cross_entropy");
}

Test(sema, default_initialiser_by_rank)
{
	Graph *g = build_ok("model m { input x[4]; param W[4, 4]; param c[4]; "
			    "y = W @ x + c; }");
	cr_assert_eq(((ParamDecl *)g->params.items[0])->init, INIT_XAVIER,
		     "rank 2 defaults to xavier");
	cr_assert_eq(((ParamDecl *)g->params.items[1])->init, INIT_ZEROS,
		     "rank 1 defaults to zeros");
}

Test(sema, loss_expression_becomes_a_vertex)
{
	Graph *g = build_ok("model m { input x[4]; target y[4]; "
			    "param W[4, 4]; loss mse(tanh(W @ x), y); }");
	Node *l = must_find(g, "loss1");
	cr_assert_not_null(find_vertex(g, "loss1"), "loss1 vertex\n%s",
			   dump(g));
	cr_assert_eq(l->op, OP_TANH, "loss1 is the tanh\n%s", dump(g));
	const Loss *ls = g->losses.items[0];
	cr_assert(ls->outs.len == 1 && ls->outs.items[0] == l,
		  "the loss reads loss1");
}

/* ---------------------------------------------------------- error counts */

struct count_case {
	char text[200];
	int errors;
};

ParameterizedTestParameters(sema, error_counts)
{
	static struct count_case cases[] = {
		/* independent errors are all reported */
		{"model m { input x[4]; a = x + u; b = x @ x @ x; "
		 "c = swish(x); }", 3},
		{"model m { input x[0]; input x[4]; }", 2},
		{"model m { param W[2, 2] = glorot; param V[2] = normal(-1); "
		 "}", 2},
		/* one mistake, one message: no follow-up errors */
		{"model m { input x[0]; param W[4, 4]; h = W @ x; output h; }",
		 1},
		{"model m { input x[4]; h = x @ x @ x; o = h * 2; output o; }",
		 1},
		{"model m { const N = x; input x[N]; y = x * N; }", 1},
		{"model m { input x[4]; param W[3, 3]; h[0] = x; for t in 0..3 "
		 "{ h[t+1] = W @ h[t]; } o = h[3]; output o; }", 1},
		{"model m { input x[4]; h[0] = x; for t in 0..T { h[t+1] = "
		 "h[t]; } o = h[3]; }", 1},
		{"model m { input x[4]; h = tanh(h); output h; }", 1},
		{"def f(x, x) = x;\nmodel m { input x[4]; y = f(x, x); "
		 "z = f(x, x); }", 1},
		/* the same error in every iteration is reported once */
		{"model m { input x[4]; for t in 0..5 { a = x @ x @ x; } }", 1},
	};
	return cr_make_param_array(struct count_case, cases,
				   sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct count_case *c, sema, error_counts)
{
	const char *d = build_fail(c->text);
	cr_assert_eq(diag_error_count(&diag), c->errors,
		     "expected %d error(s) for:\n%s\ngot %d:\n%s", c->errors,
		     c->text, diag_error_count(&diag), d);
}

Test(sema, stops_after_too_many_errors)
{
	StrBuf sb = {0};
	sb_puts(&sb, "model m {\n");
	for (int i = 0; i < 40; i++)
		sb_printf(&sb, "  y%d = u;\n", i);
	sb_puts(&sb, "}\n");
	const char *text = arena_strdup(&arena, sb.data);
	sb_free(&sb);
	const char *d = build_fail(text);
	cr_assert_eq(diag_error_count(&diag), DIAG_MAX_ERRORS,
		     "expected %d errors, got %d", DIAG_MAX_ERRORS,
		     diag_error_count(&diag));
	expect_contains(d, "t.pcg: too many errors, stopping", text);
	cr_assert_null(strstr(d, "y20 = u"), "nothing after the 20th error");
}
