/*
 * test_parser.c — the grammar: precedence and associativity through
 * ast_dump_expr, every statement and def form through ast_dump, spans,
 * and the exact text of syntax errors and their recovery.
 */
#define _POSIX_C_SOURCE 200809L
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

TestSuite(parser, .init = setup, .fini = teardown);

/* Parse `len` bytes of text; the diagnostics come back malloc'd. */
static Program *
parse_n(const char *text, size_t len, char **diags)
{
	size_t n;
	FILE *err = open_memstream(diags, &n);
	cr_assert(err, "open_memstream failed");
	source.path = "t.pcg";
	source.text = text;
	source.len = len;
	diag_end(&diag);
	diag_begin(&diag, &source, err);
	Program *p = pcc_parse(&arena, &diag);
	fclose(err);
	return p;
}

static Program *
parse(const char *text, char **diags)
{
	return parse_n(text, strlen(text), diags);
}

/* A program that must parse without any diagnostic. */
static Program *
parse_ok(const char *text)
{
	char *diags;
	Program *p = parse(text, &diags);
	cr_assert_str_empty(diags, "expected no diagnostics for:\n%s\ngot:\n%s",
			    text, diags);
	cr_assert_not_null(p, "pcc_parse returned NULL for:\n%s", text);
	free(diags);
	return p;
}

static char *
dump(const Program *p)
{
	char *s;
	size_t n;
	FILE *out = open_memstream(&s, &n);
	ast_dump(out, p);
	fclose(out);
	return s;
}

static void
expect_dump(const char *text, const char *want)
{
	char *got = dump(parse_ok(text));
	cr_assert_str_eq(got, want, "AST of:\n%s\nexpected:\n%s\ngot:\n%s",
			 text, want, got);
	free(got);
}

/* The text of a span must be `want`. */
static void
expect_span(Span sp, const char *text, const char *want, const char *what)
{
	int n = (int)(sp.hi - sp.lo);
	cr_assert(sp.lo <= sp.hi && sp.hi <= strlen(text),
		  "%s: bad span [%u,%u)", what, sp.lo, sp.hi);
	cr_assert(strlen(want) == (size_t)n &&
			  strncmp(text + sp.lo, want, (size_t)n) == 0,
		  "%s: expected span \"%s\", got \"%.*s\"", what, want, n,
		  text + sp.lo);
}

/* A program that must fail: the diagnostics must be exactly `want`. */
static void
expect_errors_n(const char *text, size_t len, const char *want)
{
	char *diags;
	Program *p = parse_n(text, len, &diags);
	cr_assert_str_eq(diags, want, "diagnostics for:\n%s\nexpected:\n%s\ngot:\n%s",
			 text, want, diags);
	cr_assert_null(p, "pcc_parse should return NULL after errors");
	free(diags);
}

static void
expect_errors(const char *text, const char *want)
{
	expect_errors_n(text, strlen(text), want);
}

/* ---- expressions */

struct expr_case {
	char src[48];
	char want[128];
};

ParameterizedTestParameters(parser, expressions)
{
	static struct expr_case cases[] = {
		{"a - b - c", "(- (- a b) c)"},
		{"a + b @ c * d", "(+ a (* (@ b c) d))"},
		{"a * b + c * d", "(+ (* a b) (* c d))"},
		{"a / b / c", "(/ (/ a b) c)"},
		{"a @ b @ c", "(@ (@ a b) c)"},
		{"a @ b / c * d", "(* (/ (@ a b) c) d)"},
		{"(a + b) * c", "(* (+ a b) c)"},
		{"a - (b - c)", "(- a (- b c))"},
		{"-x[1]", "(neg (index x (num 1 int)))"},
		{"-a * b", "(* (neg a) b)"},
		{"a - -b", "(- a (neg b))"},
		{"--a", "(neg (neg a))"},
		{"f(x)[0:2]", "(index (call f x) (slice (num 0 int) (num 2 int)))"},
		{"x[1][2]", "(index (index x (num 1 int)) (num 2 int))"},
		{"h[t-1]", "(index h (- t (num 1 int)))"},
		{"a[i:j+1]", "(index a (slice i (+ j (num 1 int))))"},
		/* numpy basic indexing */
		{"x[:, 2]", "(index x (slice _ _) (num 2 int))"},
		{"x[1:5, :, 0]",
		 "(index x (slice (num 1 int) (num 5 int)) (slice _ _) (num 0 int))"},
		{"x[::2]", "(index x (slice _ _ (num 2 int)))"},
		{"x[-1]", "(index x (neg (num 1 int)))"},
		{"x[:3]", "(index x (slice _ (num 3 int)))"},
		{"x[2:]", "(index x (slice (num 2 int) _))"},
		{"x[:]", "(index x (slice _ _))"},
		{"x[::]", "(index x (slice _ _))"},
		{"x[1:2:]", "(index x (slice (num 1 int) (num 2 int)))"},
		{"x[a:b:c, i]", "(index x (slice a b c) i)"},
		{"x[:-1:k+1]", "(index x (slice _ (neg (num 1 int)) (+ k (num 1 int))))"},
		{"x[i][:, j]", "(index (index x i) (slice _ _) j)"},
		{"[a, b][0]", "(index (list a b) (num 0 int))"},
		{"x[h[t]:h[t] + 1]",
		 "(index x (slice (index h t) (+ (index h t) (num 1 int))))"},
		/* inf is a number; names that start with inf are names */
		{"inf", "(num inf real)"},
		{"-inf * x", "(* (neg (num inf real)) x)"},
		{"info + inference", "(+ info inference)"},
		{"tril(a, fill=-inf)", "(call tril a (kw fill (neg (num inf real))))"},
		{"f()", "(call f)"},
		{"g(a, b + 1)", "(call g a (+ b (num 1 int)))"},
		{"conv2d(x, K, stride=2, pad=1)",
		 "(call conv2d x K (kw stride (num 2 int)) (kw pad (num 1 int)))"},
		{"f(k = a @ b)", "(call f (kw k (@ a b)))"},
		{"reshape(x, [2, n])", "(call reshape x (list (num 2 int) n))"},
		{"[1, n, 2 * n]", "(list (num 1 int) n (* (num 2 int) n))"},
		{"2.5E+2", "(num 250 real)"},
		{"0.1", "(num 0.10000000000000001 real)"},
		{"1e-3", "(num 0.001 real)"},
		{"32", "(num 32 int)"},
		{"2.0", "(num 2 real)"},
		{"tanh(W1 @ x + b1)", "(call tanh (+ (@ W1 x) b1))"},
	};
	return cr_make_param_array(struct expr_case, cases,
				   sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct expr_case *c, parser, expressions, .init = setup,
		  .fini = teardown)
{
	char text[128];
	snprintf(text, sizeof text, "model m { x = %s; }", c->src);
	Program *p = parse_ok(text);
	const Stmt *s = p->model->body;
	cr_assert(s && s->kind == STMT_ASSIGN, "expected an assignment");
	char *got;
	size_t n;
	FILE *out = open_memstream(&got, &n);
	ast_dump_expr(out, s->value);
	fclose(out);
	cr_assert_str_eq(got, c->want, "\"%s\" should parse as %s, got %s",
			 c->src, c->want, got);
	free(got);
}

/* ---- statements and defs */

Test(parser, every_statement_kind)
{
	expect_dump("model rnn {\n"
		    "  const T = 12;\n"
		    "  input xs[T, 8];\n"
		    "  target y[4];\n"
		    "  param W[4, 8];\n"
		    "  param b[4] = zeros;\n"
		    "  param V[4, 4] = normal(0.1);\n"
		    "  param U[4, 4] = uniform(-1, 1);\n"
		    "  h[0] = zeros([4]);\n"
		    "  for t in 0..T {\n"
		    "    h[t+1] = tanh(W @ xs[t] + V @ h[t] + b);\n"
		    "  }\n"
		    "  o = U @ h[T];\n"
		    "  loss mse(o, y);\n"
		    "  loss cross_entropy(U @ o, y);\n"
		    "  output o, h;\n"
		    "}\n",
		    "(program\n"
		    "  (model rnn\n"
		    "    (const T (num 12 int))\n"
		    "    (input xs (list T (num 8 int)))\n"
		    "    (target y (list (num 4 int)))\n"
		    "    (param W (list (num 4 int) (num 8 int)))\n"
		    "    (param b (list (num 4 int)) (init zeros))\n"
		    "    (param V (list (num 4 int) (num 4 int)) (init (call normal (num 0.10000000000000001 real))))\n"
		    "    (param U (list (num 4 int) (num 4 int)) (init (call uniform (neg (num 1 int)) (num 1 int))))\n"
		    "    (assign h (at (num 0 int)) (call zeros (list (num 4 int))))\n"
		    "    (for t (num 0 int) T\n"
		    "      (assign h (at (+ t (num 1 int))) (call tanh (+ (+ (@ W (index xs t)) (@ V (index h t))) b))))\n"
		    "    (assign o (@ U (index h T)))\n"
		    "    (loss (call mse o y))\n"
		    "    (loss (call cross_entropy (@ U o) y))\n"
		    "    (output o h)))\n");
}

Test(parser, integer_inputs_and_targets)
{
	const char *text = "model m {\n"
			   "  input int tok[N] < V;\n"
			   "  target int label < C;\n"
			   "  target int tags[T, 2] < C - 1;\n"
			   "  input int[3];\n"
			   "  target int int < 2;\n"
			   "  input x[4];\n"
			   "}\n";
	Program *p = parse_ok(text);
	char *got = dump(p);
	const char *want =
		"(program\n"
		"  (model m\n"
		"    (input tok int (list N) (bound V))\n"
		"    (target label int (list) (bound C))\n"
		"    (target tags int (list T (num 2 int)) (bound (- C (num 1 int))))\n"
		"    (input int (list (num 3 int)))\n"
		"    (target int int (list) (bound (num 2 int)))\n"
		"    (input x (list (num 4 int)))))\n";
	cr_assert_str_eq(got, want, "expected:\n%s\ngot:\n%s", want, got);
	free(got);

	const Stmt *s = p->model->body;
	cr_assert(s->kind == STMT_INPUT && s->is_int, "tok is an int input");
	cr_assert_str_eq(s->name, "tok", "tok's name");
	expect_span(s->span, text, "input int tok[N] < V;", "int input");
	expect_span(s->int_span, text, "int", "the word int");
	expect_span(s->name_span, text, "tok", "int input name");
	expect_span(s->shape->span, text, "[N]", "int input shape");
	expect_span(s->bound->span, text, "V", "int input bound");
	s = s->next;
	cr_assert(s->kind == STMT_TARGET && s->is_int, "label is an int target");
	cr_assert(s->shape && s->shape->kind == EXPR_LIST &&
			  s->shape->u.list.n == 0 && !s->shape->u.list.items,
		  "no shape is an empty list (a scalar per sample)");
	cr_assert_eq(s->shape->span.lo, s->shape->span.hi,
		     "the missing shape has an empty span");
	expect_span(s->bound->span, text, "C", "int target bound");
	s = s->next->next;
	cr_assert(s->kind == STMT_INPUT && !s->is_int && !s->bound,
		  "input int[3] is an input named int, as before");
	s = s->next->next;
	cr_assert(!s->is_int && !s->bound, "x is not an int input");
}

Test(parser, losses_are_expressions)
{
	expect_dump("model m {\n"
		    "  loss mse(o, y);\n"
		    "  loss 0.5 * cross_entropy(o, label);\n"
		    "  loss 1e-4 * (sum(square(W1)) + sum(square(W2)));\n"
		    "  loss mse(o, ys[t]);\n"
		    "  loss huber(o, y, delta=1.0);\n"
		    "  loss mse(o);\n"
		    "  loss x;\n"
		    "}\n",
		    "(program\n"
		    "  (model m\n"
		    "    (loss (call mse o y))\n"
		    "    (loss (* (num 0.5 real) (call cross_entropy o label)))\n"
		    "    (loss (* (num 0.0001 real) (+ (call sum (call square W1)) "
		    "(call sum (call square W2)))))\n"
		    "    (loss (call mse o (index ys t)))\n"
		    "    (loss (call huber o y (kw delta (num 1 real))))\n"
		    "    (loss (call mse o))\n"
		    "    (loss x)))\n");
}

Test(parser, subscript_spans)
{
	const char *text = "model m { y = x[1:5, :, ::2, -1, a : , ( i )]; }";
	Program *p = parse_ok(text);
	const Expr *e = p->model->body->value;
	cr_assert_eq(e->kind, EXPR_INDEX, "an index expression");
	cr_assert_eq(e->u.index.nsubs, 6, "6 subscripts, got %d",
		     e->u.index.nsubs);
	expect_span(e->span, text, "x[1:5, :, ::2, -1, a : , ( i )]", "index");
	const char *want[] = {"1:5", ":", "::2", "-1", "a :", "( i )"};
	const int slice[] = {1, 1, 1, 0, 1, 0};
	int k = 0;
	for (const Subscript *s = e->u.index.subs; s; s = s->next, k++) {
		expect_span(s->span, text, want[k], "subscript");
		cr_assert_eq(s->is_slice, slice[k], "subscript %d: is_slice %d",
			     k, s->is_slice);
		if (!s->is_slice)
			cr_assert(s->lo && !s->hi && !s->step,
				  "an index is held in lo");
	}
	cr_assert_eq(k, 6, "the list holds the 6 subscripts");
	const Subscript *s = e->u.index.subs->next->next;
	cr_assert(!s->lo && !s->hi && s->step, "::2 has only a step");
}

Test(parser, nested_for_loops)
{
	expect_dump("model m { for i in 0..2 { for j in i..2*i { a[j] = i; } "
		    "} }",
		    "(program\n"
		    "  (model m\n"
		    "    (for i (num 0 int) (num 2 int)\n"
		    "      (for j i (* (num 2 int) i)\n"
		    "        (assign a (at j) i)))))\n");
}

Test(parser, empty_model_and_empty_loop)
{
	expect_dump("model m { for i in 0..1 { } }",
		    "(program\n"
		    "  (model m\n"
		    "    (for i (num 0 int) (num 1 int))))\n");
}

Test(parser, def_forms_before_and_after_the_model)
{
	Program *p = parse_ok("def sq(x) = x * x;\n"
			      "def residual(x, W1, b1, W2, b2) {\n"
			      "  const k = 2;\n"
			      "  h = relu(W1 @ x + b1);\n"
			      "  return x + (W2 @ h + b2) * k;\n"
			      "}\n"
			      "model m { y = sq(z); }\n"
			      "def none() = 1;\n");
	char *got = dump(p);
	const char *want =
		"(program\n"
		"  (def sq (x)\n"
		"    (return (* x x)))\n"
		"  (def residual (x W1 b1 W2 b2)\n"
		"    (const k (num 2 int))\n"
		"    (assign h (call relu (+ (@ W1 x) b1)))\n"
		"    (return (+ x (* (+ (@ W2 h) b2) k))))\n"
		"  (model m\n"
		"    (assign y (call sq z)))\n"
		"  (def none ()\n"
		"    (return (num 1 int))))\n";
	cr_assert_str_eq(got, want, "expected:\n%s\ngot:\n%s", want, got);
	free(got);

	const Def *d = p->defs;
	cr_assert_str_eq(d->name, "sq", "first def");
	cr_assert_eq(d->nparams, 1, "sq has 1 parameter, got %d", d->nparams);
	cr_assert_null(d->body, "expression-form def has no body");
	d = d->next;
	cr_assert_str_eq(d->name, "residual", "second def");
	cr_assert_eq(d->nparams, 5, "residual has 5 parameters, got %d",
		     d->nparams);
	cr_assert(d->body && d->body->kind == STMT_CONST &&
			  d->body->next->kind == STMT_ASSIGN &&
			  !d->body->next->next,
		  "residual's body is const, assign");
	d = d->next;
	cr_assert_str_eq(d->name, "none", "third def, after the model");
	cr_assert_eq(d->nparams, 0, "none has no parameters");
	cr_assert_null(d->next, "three defs");
}

/* ---- spans */

Test(parser, spans)
{
	const char *text = "model net {\n"
			   "  h = W @ (x + b)[0:2];\n"
			   "  loss mse(f(h, k=3), y);\n"
			   "}";
	Program *p = parse_ok(text);
	const Model *m = p->model;
	expect_span(m->span, text, text, "model");
	expect_span(m->name_span, text, "net", "model name");
	const Stmt *s = m->body;
	expect_span(s->span, text, "h = W @ (x + b)[0:2];", "assignment");
	expect_span(s->name_span, text, "h", "assignment name");
	const Expr *e = s->value;
	cr_assert_eq(e->kind, EXPR_BINARY, "h's value is a binary");
	expect_span(e->span, text, "W @ (x + b)[0:2]", "matmul");
	expect_span(e->u.bin.op_span, text, "@", "matmul operator");
	expect_span(e->u.bin.rhs->span, text, "(x + b)[0:2]", "slice");
	expect_span(e->u.bin.rhs->u.index.base->span, text, "(x + b)",
		    "parenthesised sum");
	s = s->next;
	expect_span(s->span, text, "loss mse(f(h, k=3), y);", "loss");
	expect_span(s->value->span, text, "mse(f(h, k=3), y)", "loss value");
	expect_span(s->value->u.call.id_span, text, "mse", "loss function");
	expect_span(s->value->u.call.args->next->value->span, text, "y",
		    "loss target");
	e = s->value->u.call.args->value;
	expect_span(e->span, text, "f(h, k=3)", "call");
	expect_span(e->u.call.id_span, text, "f", "callee");
	const Arg *a = e->u.call.args->next;
	expect_span(a->span, text, "k=3", "keyword argument");
	expect_span(a->kw_span, text, "k", "keyword");
	expect_span(a->value->span, text, "3", "keyword value");
}

/* ---- errors */

Test(parser, two_syntax_errors_are_both_reported)
{
	expect_errors("model m {\n"
		      "  x = 1 +;\n"
		      "  y = (2;\n"
		      "  z = 3;\n"
		      "}\n",
		      "t.pcg:2:10: error: syntax error, unexpected ';', "
		      "expecting expression\n"
		      "   x = 1 +;\n"
		      "          ^\n"
		      "t.pcg:3:9: error: syntax error, unexpected ';', "
		      "expecting ')' (to close '(' at 3:7)\n"
		      "   y = (2;\n"
		      "         ^\n"
		      "t.pcg:3:7: note: '(' opened here\n"
		      "   y = (2;\n"
		      "       ^\n");
}

Test(parser, unclosed_brace_names_its_opener)
{
	expect_errors("# digits\n"
		      "model m {\n"
		      "  input x[3];\n"
		      "  for t in 0..3 {\n"
		      "    h[t] = x;\n"
		      "  }\n",
		      "t.pcg:7:1: error: syntax error, unexpected end of file, "
		      "expecting '}' (to close '{' at 2:9)\n"
		      "t.pcg:2:9: note: '{' opened here\n"
		      " model m {\n"
		      "         ^\n");
}

Test(parser, unclosed_paren_at_end_of_file)
{
	expect_errors("model m {\n  h = tanh(x",
		      "t.pcg:2:13: error: syntax error, unexpected end of file, "
		      "expecting ')' (to close '(' at 2:11)\n"
		      "   h = tanh(x\n"
		      "             ^\n"
		      "t.pcg:2:11: note: '(' opened here\n"
		      "   h = tanh(x\n"
		      "           ^\n");
}

Test(parser, mismatched_closer_names_the_opener)
{
	expect_errors("model m {\n  h = f(x[1]];\n}\n",
		      "t.pcg:2:13: error: syntax error, unexpected ']', "
		      "expecting ')' (to close '(' at 2:8)\n"
		      "   h = f(x[1]];\n"
		      "             ^\n"
		      "t.pcg:2:8: note: '(' opened here\n"
		      "   h = f(x[1]];\n"
		      "        ^\n");
}

Test(parser, closing_brace_inside_parens)
{
	expect_errors("model m {\n  for t in 0..2 {\n    h = f(x\n  }\n}\n",
		      "t.pcg:4:3: error: syntax error, unexpected '}', "
		      "expecting ')' (to close '(' at 3:10)\n"
		      "   }\n"
		      "   ^\n"
		      "t.pcg:3:10: note: '(' opened here\n"
		      "     h = f(x\n"
		      "          ^\n");
}

Test(parser, recovery_forgets_brackets_left_open_in_a_statement)
{
	expect_errors("model m {\n  y = (2;\n",
		      "t.pcg:2:9: error: syntax error, unexpected ';', "
		      "expecting ')' (to close '(' at 2:7)\n"
		      "   y = (2;\n"
		      "         ^\n"
		      "t.pcg:2:7: note: '(' opened here\n"
		      "   y = (2;\n"
		      "       ^\n"
		      "t.pcg:3:1: error: syntax error, unexpected end of file, "
		      "expecting '}' (to close '{' at 1:9)\n"
		      "t.pcg:1:9: note: '{' opened here\n"
		      " model m {\n"
		      "         ^\n");
}

Test(parser, empty_file)
{
	expect_errors("", "t.pcg:1:1: error: empty file: expected a model "
			  "block 'model NAME { ... }'\n"
			  " \n"
			  " ^\n");
}

Test(parser, file_with_only_comments_is_empty)
{
	expect_errors("# nothing here\n\n# at all\n",
		      "t.pcg:1:1: error: empty file: expected a model block "
		      "'model NAME { ... }'\n"
		      " # nothing here\n"
		      " ^\n");
}

Test(parser, defs_without_a_model)
{
	expect_errors("def f(x) = x;\n",
		      "t.pcg:2:1: error: no model block in file\n");
}

Test(parser, second_model_block)
{
	expect_errors("model a { }\n\nmodel b {\n}\n",
		      "t.pcg:3:1: error: a second model block\n"
		      " model b {\n"
		      " ^~~~~~~\n"
		      "t.pcg:1:1: note: the first model block is here\n"
		      " model a { }\n"
		      " ^~~~~~~\n");
}

Test(parser, missing_semicolon)
{
	expect_errors("model m {\n  x = 1\n  y = 2;\n}\n",
		      "t.pcg:3:3: error: syntax error, unexpected identifier, "
		      "expecting ';'\n"
		      "   y = 2;\n"
		      "   ^\n");
}

Test(parser, bad_statement_start)
{
	expect_errors("model m {\n  5 = x;\n}\n",
		      "t.pcg:2:3: error: syntax error, unexpected number, "
		      "expecting statement or '}'\n"
		      "   5 = x;\n"
		      "   ^\n");
}

Test(parser, eof_after_a_lexical_error_is_still_reported)
{
	expect_errors("model m { $",
		      "t.pcg:1:11: error: unexpected character '$'\n"
		      " model m { $\n"
		      "           ^\n"
		      "t.pcg:1:12: error: syntax error, unexpected end of file, "
		      "expecting '}' (to close '{' at 1:9)\n"
		      " model m { $\n"
		      "            ^\n"
		      "t.pcg:1:9: note: '{' opened here\n"
		      " model m { $\n"
		      "         ^\n");
}

Test(parser, unclosed_def_body_at_the_model)
{
	expect_errors("def f(x) {\n  return x;\nmodel m { }\n",
		      "t.pcg:3:1: error: syntax error, unexpected 'model', "
		      "expecting '}' (to close '{' at 1:10)\n"
		      " model m { }\n"
		      " ^~~~~\n"
		      "t.pcg:1:10: note: '{' opened here\n"
		      " def f(x) {\n"
		      "          ^\n");
}

Test(parser, missing_separators_are_named)
{
	expect_errors("model m {\n"
		      "  output a b;\n"
		      "  for t in 0..3 h = 1;\n"
		      "  x = f(a b);\n"
		      "}\n",
		      "t.pcg:2:12: error: syntax error, unexpected identifier, "
		      "expecting ';' or ','\n"
		      "   output a b;\n"
		      "            ^\n"
		      "t.pcg:3:17: error: syntax error, unexpected identifier, "
		      "expecting '{'\n"
		      "   for t in 0..3 h = 1;\n"
		      "                 ^\n"
		      "t.pcg:4:11: error: syntax error, unexpected identifier, "
		      "expecting ',' or ')'\n"
		      "   x = f(a b);\n"
		      "           ^\n");
}

Test(parser, statement_keyword_names_are_quoted)
{
	expect_errors("model m { for t 0..2 { } }",
		      "t.pcg:1:17: error: syntax error, unexpected number, "
		      "expecting 'in'\n"
		      " model m { for t 0..2 { } }\n"
		      "                 ^\n");
}

Test(parser, junk_before_the_model)
{
	expect_errors("x = 1;\nmodel m { y = ; }\n",
		      "t.pcg:1:1: error: syntax error, unexpected identifier, "
		      "expecting end of file or 'model' or 'def'\n"
		      " x = 1;\n"
		      " ^\n"
		      "t.pcg:2:15: error: syntax error, unexpected ';', "
		      "expecting expression\n"
		      " model m { y = ; }\n"
		      "               ^\n");
}

Test(parser, param_initialiser_must_be_a_name_or_call)
{
	expect_errors("model m { param W[2] = 0.5; }",
		      "t.pcg:1:24: error: syntax error, unexpected number, "
		      "expecting identifier\n"
		      " model m { param W[2] = 0.5; }\n"
		      "                        ^~~\n");
}

Test(parser, errors_in_def_bodies_recover)
{
	expect_errors("def f(x) {\n"
		      "  h = x +;\n"
		      "  return h\n"
		      "}\n"
		      "def g(a b) = a;\n"
		      "model m { y = ; }\n",
		      "t.pcg:2:10: error: syntax error, unexpected ';', "
		      "expecting expression\n"
		      "   h = x +;\n"
		      "          ^\n"
		      "t.pcg:4:1: error: syntax error, unexpected '}', "
		      "expecting ';'\n"
		      " }\n"
		      " ^\n"
		      "t.pcg:5:9: error: syntax error, unexpected identifier, "
		      "expecting ',' or ')'\n"
		      " def g(a b) = a;\n"
		      "         ^\n"
		      "t.pcg:6:15: error: syntax error, unexpected ';', "
		      "expecting expression\n"
		      " model m { y = ; }\n"
		      "               ^\n");
}

Test(parser, integer_input_needs_a_bound)
{
	expect_errors("model m {\n"
		      "  input int x[3];\n"
		      "  target int label;\n"
		      "  y = ;\n"
		      "}\n",
		      "t.pcg:2:17: error: expected '< BOUND' before ';' in "
		      "integer input 'x'\n"
		      "   input int x[3];\n"
		      "                 ^\n"
		      "t.pcg:3:19: error: expected '< BOUND' before ';' in "
		      "integer target 'label'\n"
		      "   target int label;\n"
		      "                   ^\n"
		      "t.pcg:4:7: error: syntax error, unexpected ';', "
		      "expecting expression\n"
		      "   y = ;\n"
		      "       ^\n");
}

Test(parser, bound_must_be_an_expression)
{
	expect_errors("model m { input int x[3] < ; }",
		      "t.pcg:1:28: error: syntax error, unexpected ';', "
		      "expecting expression\n"
		      " model m { input int x[3] < ; }\n"
		      "                            ^\n");
}

Test(parser, only_int_comes_before_the_name)
{
	expect_errors("model m {\n"
		      "  input float x[3] < 2;\n"
		      "  target long y;\n"
		      "}\n",
		      "t.pcg:2:9: error: unknown type 'float' for input 'x' "
		      "(expected 'int')\n"
		      "   input float x[3] < 2;\n"
		      "         ^~~~~\n"
		      "t.pcg:3:10: error: unknown type 'long' for target 'y' "
		      "(expected 'int')\n"
		      "   target long y;\n"
		      "          ^~~~\n");
}

Test(parser, bound_on_a_real_declaration)
{
	expect_errors("model m {\n  input x[3] < 2;\n  param W[3] < 2;\n}\n",
		      "t.pcg:2:14: error: syntax error, unexpected '<', "
		      "expecting ';'\n"
		      "   input x[3] < 2;\n"
		      "              ^\n"
		      "t.pcg:2:14: note: '<' gives the bound of an integer "
		      "input or target, as in 'input int tok[N] < V;'\n"
		      "   input x[3] < 2;\n"
		      "              ^\n"
		      "t.pcg:3:14: error: syntax error, unexpected '<', "
		      "expecting ';' or '='\n"
		      "   param W[3] < 2;\n"
		      "              ^\n"
		      "t.pcg:3:14: note: '<' gives the bound of an integer "
		      "input or target, as in 'input int tok[N] < V;'\n"
		      "   param W[3] < 2;\n"
		      "              ^\n");
}

Test(parser, slice_has_at_most_three_parts)
{
	expect_errors("model m { y = x[1:2:3:4]; }",
		      "t.pcg:1:22: error: syntax error, unexpected ':', "
		      "expecting ',' or ']'\n"
		      " model m { y = x[1:2:3:4]; }\n"
		      "                      ^\n");
}

Test(parser, subscripts_are_not_empty)
{
	expect_errors("model m {\n  y = x[];\n  z = x[1,];\n  w = x[,1];\n}\n",
		      "t.pcg:2:9: error: syntax error, unexpected ']', "
		      "expecting expression\n"
		      "   y = x[];\n"
		      "         ^\n"
		      "t.pcg:3:11: error: syntax error, unexpected ']', "
		      "expecting expression\n"
		      "   z = x[1,];\n"
		      "           ^\n"
		      "t.pcg:4:9: error: syntax error, unexpected ',', "
		      "expecting expression\n"
		      "   w = x[,1];\n"
		      "         ^\n");
}

Test(parser, loss_needs_an_expression)
{
	expect_errors("model m { loss; }",
		      "t.pcg:1:15: error: syntax error, unexpected ';', "
		      "expecting expression\n"
		      " model m { loss; }\n"
		      "               ^\n");
}

Test(parser, def_without_return)
{
	expect_errors("def f(x) { h = x; }\nmodel m { }\n",
		      "t.pcg:1:19: error: expected 'return EXPR;' before '}' "
		      "in def 'f'\n"
		      " def f(x) { h = x; }\n"
		      "                   ^\n");
}

Test(parser, statement_after_return)
{
	expect_errors("def f(x) { return x; h = x; }\nmodel m { }\n",
		      "t.pcg:1:22: error: statement after 'return' in a def "
		      "body\n"
		      " def f(x) { return x; h = x; }\n"
		      "                      ^~~~~~\n");
}

Test(parser, second_return)
{
	expect_errors("def f(x) { return x; return 2; }\nmodel m { }\n",
		      "t.pcg:1:22: error: a second 'return' in a def body\n"
		      " def f(x) { return x; return 2; }\n"
		      "                      ^~~~~~~~~\n"
		      "t.pcg:1:12: note: the first 'return' is here\n"
		      " def f(x) { return x; return 2; }\n"
		      "            ^~~~~~~~~\n");
}

Test(parser, lexical_error_does_not_cascade)
{
	expect_errors("model m { x = $ 1; }",
		      "t.pcg:1:15: error: unexpected character '$'\n"
		      " model m { x = $ 1; }\n"
		      "               ^\n");
}

Test(parser, lexical_error_alone_fails_the_parse)
{
	expect_errors("model m { x = 1e; }",
		      "t.pcg:1:15: error: malformed number '1e': the exponent "
		      "has no digits\n"
		      " model m { x = 1e; }\n"
		      "               ^~\n");
}

Test(parser, nul_byte_inside_the_model)
{
	static const char text[] = "model m {\0 }";
	expect_errors_n(text, sizeof text - 1,
			"t.pcg:1:10: error: unexpected NUL byte in file\n"
			" model m {  }\n"
			"          ^\n");
}

Test(parser, stops_after_too_many_errors)
{
	StrBuf sb = {0};
	sb_puts(&sb, "model m {\n");
	for (int i = 0; i < 50; i++)
		sb_puts(&sb, "  x = ;\n");
	sb_puts(&sb, "}\n");
	char *diags;
	Program *p = parse(sb.data, &diags);
	cr_assert_null(p, "50 bad statements must fail");
	int errors = 0;
	for (const char *s = diags; (s = strstr(s, ": error: ")); s++)
		errors++;
	cr_assert_eq(errors, DIAG_MAX_ERRORS, "expected %d errors, got %d",
		     DIAG_MAX_ERRORS, errors);
	cr_assert(strstr(diags, "t.pcg:21:7: error: syntax error, unexpected "
				"';', expecting expression\n"),
		  "the 20th error (line 21) should be reported, got:\n%s",
		  diags);
	cr_assert(strstr(diags, "t.pcg: too many errors, stopping\n"),
		  "expected the stop message");
	free(diags);
	sb_free(&sb);
}

static char *
nested(const char *open, const char *mid, const char *close, int n)
{
	size_t lo = strlen(open), lm = strlen(mid), lc = strlen(close);
	char *s = malloc(64 + (size_t)n * (lo + lc) + lm);
	cr_assert(s, "malloc");
	char *q = s + sprintf(s, "model m { x = ");
	for (int i = 0; i < n; i++, q += lo)
		memcpy(q, open, lo);
	memcpy(q, mid, lm);
	q += lm;
	for (int i = 0; i < n; i++, q += lc)
		memcpy(q, close, lc);
	strcpy(q, "; }\n");
	return s;
}

Test(parser, hundred_thousand_nested_parentheses_is_a_clean_error)
{
	char *text = nested("(", "1", ")", 100000);
	char *diags;
	Program *p = parse(text, &diags);
	cr_assert_null(p, "100000 nested parentheses should be refused");
	const char *want = "t.pcg:1:10006: error: nesting too deep (more than "
			   "10000 levels of brackets and blocks)\n";
	cr_assert(strncmp(diags, want, strlen(want)) == 0,
		  "expected\n%sgot:\n%.300s", want, diags);
	cr_assert_null(strstr(diags + 1, "t.pcg:"),
		       "expected a single diagnostic, got:\n%.600s", diags);
	free(text);
	free(diags);
}

Test(parser, thousands_of_nested_parentheses_parse)
{
	char *text = nested("(", "a", ")", 5000);
	char *got = dump(parse_ok(text));
	const char *want = "(program\n  (model m\n    (assign x a)))\n";
	cr_assert_str_eq(got, want, "expected:\n%s\ngot:\n%s", want, got);
	free(text);
	free(got);
}

Test(parser, very_deep_expression_is_a_clean_error)
{
	char *text = nested("f(", "a", ")", 2000);
	char *diags;
	Program *p = parse(text, &diags);
	cr_assert_null(p, "2000 nested calls are deeper than the limit");
	const char *want = "t.pcg:1:15: error: expression nested too deeply "
			   "(more than 1000 levels)\n";
	cr_assert(strncmp(diags, want, strlen(want)) == 0,
		  "expected\n%sgot:\n%.300s", want, diags);
	free(text);
	free(diags);
}

Test(parser, very_long_sum_is_a_clean_error)
{
	StrBuf sb = {0};
	sb_puts(&sb, "model m { x = a");
	for (int i = 0; i < 100000; i++)
		sb_puts(&sb, " + a");
	sb_puts(&sb, "; }");
	char *diags;
	Program *p = parse(sb.data, &diags);
	cr_assert_null(p, "a 100000-term sum is deeper than the limit");
	const char *want = "t.pcg:1:15: error: expression nested too deeply "
			   "(more than 1000 levels)\n";
	cr_assert(strncmp(diags, want, strlen(want)) == 0,
		  "expected\n%sgot:\n%.300s", want, diags);
	free(diags);
	sb_free(&sb);
}

Test(parser, long_but_shallow_sum_parses)
{
	StrBuf sb = {0};
	sb_puts(&sb, "model m { x = a");
	for (int i = 0; i < 999; i++)
		sb_puts(&sb, " + a");
	sb_puts(&sb, "; }");
	Program *p = parse_ok(sb.data);
	int terms = 1;
	const Expr *e = p->model->body->value;
	for (; e->kind == EXPR_BINARY; e = e->u.bin.lhs)
		terms++;
	cr_assert_eq(terms, 1000, "expected 1000 terms, got %d", terms);
	sb_free(&sb);
}
