/*
 * test_ops.c — the op table is complete.
 *
 * Walks op_defs[] and fails when an op lacks a piece that its class needs
 * (a shape rule, a forward, a VJP, elementwise expressions, a fold), when
 * its argument or keyword spelling is malformed, or when two ops share a
 * name.  Then every op a model can call is compiled in a small model of
 * its own, at both granularities, through pcc_compile and emit_model: a
 * forgotten piece fails here, when pcc is built, not in a user's hands.
 * An op without a model in the list below fails too.  Last, the cost of
 * an element that the elementwise ops' calls pass to the pool follows
 * the rule of docs/api.md.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "pcc.h"

/* the diagnostics of the compilation under test */
static Diag diag;

/* ops that sema makes itself (operators, indexing, identity copies) and
 * that need no shape rule of their own */
static int
made_by_sema(OpKind op)
{
	return op == OP_NEG || op == OP_IDENTITY || op == OP_SLICE;
}

Test(ops, every_op_has_its_pieces)
{
	for (int i = 0; i < OP_COUNT; i++) {
		const OpDef *d = &op_defs[i];
		const char *nm = op_name[i];
		cr_expect(nm && *nm, "op %d has no name", i);
		if (d->call)
			cr_expect(d->args && d->shape,
				  "%s is callable but has no argument list or "
				  "shape rule", nm);
		switch (d->cls) {
		case OPC_LEAF:
			cr_expect(!d->vjp, "leaf %s has a VJP", nm);
			break;
		case OPC_UNARY:
			cr_expect(d->fwd_c && d->vjp_c[0],
				  "elementwise %s lacks its C expressions", nm);
			cr_expect(d->fwd == emit_unary_fwd &&
					  d->vjp == emit_unary_vjp,
				  "elementwise %s does not use the elementwise "
				  "code", nm);
			cr_expect(!d->call || d->fold,
				  "callable elementwise %s cannot fold numbers",
				  nm);
			cr_expect(d->shape, "%s has no shape rule", nm);
			break;
		case OPC_BINARY:
			cr_expect(d->fwd_c && d->vjp_c[0] && d->vjp_c[1],
				  "binary %s lacks its C expressions", nm);
			cr_expect(d->fwd == emit_binary_fwd &&
					  d->vjp == emit_binary_vjp,
				  "binary %s does not use the broadcasting code",
				  nm);
			cr_expect(d->shape, "%s has no shape rule", nm);
			break;
		case OPC_LOSS:
		case OPC_OTHER: {
			cr_expect(d->fwd, "%s has no forward code", nm);
			size_t nargs = d->args ? strlen(d->args) : 0;
			int tensors = 0, diff = 0;
			for (size_t k = 0; k < nargs; k++)
				if (d->args[k] == 'T' || d->args[k] == 'I' ||
				    d->args[k] == '*') {
					if (!(d->nodiff >> tensors & 1))
						diff = 1;
					tensors++;
				}
			cr_expect(!diff || d->vjp, "%s has a differentiable "
				  "input but no VJP", nm);
			cr_expect(made_by_sema((OpKind)i) || d->shape,
				  "%s has no shape rule", nm);
			break;
		}
		}
		/* argument letters and keyword kinds */
		for (const char *p = d->args; p && *p; p++)
			cr_expect(strchr("TINWS", *p) || (*p == '*' && !p[1]),
				  "%s: bad argument letter '%c'", nm, *p);
		for (const char *p = d->keywords; p && *p;) {
			const char *colon = strchr(p, ':');
			cr_assert(colon, "%s: keyword without a kind in '%s'", nm,
				  d->keywords);
			cr_expect(strchr("INPAL", colon[1]) &&
					  (colon[2] == ' ' || !colon[2]),
				  "%s: bad keyword kind in '%s'", nm, d->keywords);
			p = strchr(colon, ' ');
			p = p ? p + 1 : "";
		}
		for (int j = 0; j < i; j++) {
			cr_expect(strcmp(op_name[i], op_name[j]) != 0,
				  "two ops are named %s", nm);
			if (d->call && op_defs[j].call)
				cr_expect(strcmp(d->call, op_defs[j].call) != 0,
					  "two ops are called %s", d->call);
		}
	}
}

/* One small model per callable op: "OP: body" with x[4,6] an input,
 * W[5,4] and K... parameters; the body defines `o` and a loss. */
static const char *const models[][2] = {
	{"maximum", "o = maximum(W @ x, 0.5); loss mse(o, y);"},
	{"minimum", "o = minimum(W @ x, 0.5); loss mse(o, y);"},
	{"tanh", "o = tanh(W @ x); loss mse(o, y);"},
	{"sigmoid", "o = sigmoid(W @ x); loss mse(o, y);"},
	{"relu", "o = relu(W @ x); loss mse(o, y);"},
	{"exp", "o = exp(W @ x); loss mse(o, y);"},
	{"log", "o = log(square(W @ x) + 1); loss mse(o, y);"},
	{"sqrt", "o = sqrt(square(W @ x) + 1); loss mse(o, y);"},
	{"square", "o = square(W @ x); loss mse(o, y);"},
	{"softplus", "o = softplus(W @ x); loss mse(o, y);"},
	{"abs", "o = abs(W @ x); loss mse(o, y);"},
	{"leaky_relu", "o = leaky_relu(W @ x, 0.1); loss mse(o, y);"},
	{"gelu", "o = gelu(W @ x); loss mse(o, y);"},
	{"silu", "o = silu(W @ x); loss mse(o, y);"},
	{"elu", "o = elu(W @ x, 1.0); loss mse(o, y);"},
	{"erf", "o = erf(W @ x); loss mse(o, y);"},
	{"sin", "o = sin(W @ x); loss mse(o, y);"},
	{"cos", "o = cos(W @ x); loss mse(o, y);"},
	{"log1p", "o = log1p(square(W @ x)); loss mse(o, y);"},
	{"pow", "o = pow(square(W @ x) + 1, 1.5); loss mse(o, y);"},
	{"clip", "o = clip(W @ x, -1, 1); loss mse(o, y);"},
	{"softmax", "o = softmax(W @ x, axis=0); loss mse(o, y);"},
	{"log_softmax", "o = log_softmax(W @ x, axis=-1); loss mse(o, y);"},
	{"layernorm", "o = layernorm(W @ x, axis=0); loss mse(o, y);"},
	{"sum", "o = sum(W @ x, axis=1); loss mse(o, sum(y, axis=1));"},
	{"mean", "o = mean(W @ x, axis=[0]); loss mse(o, mean(y, axis=0));"},
	{"max", "o = max(W @ x, axis=-1); loss mse(o, sum(y, axis=1));"},
	{"transpose", "o = transpose(W @ x); loss mse(o, transpose(y));"},
	{"reshape", "o = reshape(W @ x, [6, 5]); loss mse(o, reshape(y, [6, 5]));"},
	{"flatten", "o = flatten(W @ x); loss mse(o, flatten(y));"},
	{"concat", "o = concat(W @ x, W @ x, axis=1); loss mse(o, concat(y, y, axis=1));"},
	{"tril", "o = tril(W @ x, k=1); loss mse(o, y);"},
	{"triu", "o = triu(W @ x, k=-1, fill=0.5); loss mse(o, y);"},
	{"conv1d", "o = conv1d(x, K1, pad=1); loss mse(o, zeros([3, 6]));"},
	{"conv2d", "o = conv2d(reshape(x, [1, 4, 6]), K2, pad=[1, 0], groups=1); "
		   "loss mse(sum(o), sum(y));"},
	{"maxpool1d", "o = maxpool1d(W @ x, 2); loss mse(o, zeros([5, 3]));"},
	{"avgpool1d", "o = avgpool1d(W @ x, 3, stride=1, pad=1); loss mse(o, y);"},
	{"maxpool2d", "o = maxpool2d(reshape(W @ x, [1, 5, 6]), [1, 2]); "
		      "loss mse(sum(o), 0);"},
	{"avgpool2d", "o = avgpool2d(reshape(W @ x, [1, 5, 6]), 2, pad=1); "
		      "loss mse(sum(o), 0);"},
	{"embedding", "o = embedding(E, tok); loss mse(o, zeros([3, 2]));"},
	{"one_hot", "o = W @ x + sum(one_hot(tok, 7)); loss mse(o, y);"},
	{"batchnorm", "o = batchnorm(W @ x, momentum=0.2, eps=1e-3); "
		      "loss mse(o, y);"},
	{"dropout", "o = dropout(W @ x, 0.25); loss mse(o, y);"},
	{"zeros", "o = W @ x + zeros([5, 6]); loss mse(o, y);"},
	{"ones", "o = W @ x * ones([6]); loss mse(o, y);"},
	{"mse", "o = W @ x; loss mse(o, y);"},
	{"cross_entropy", "o = W @ x; loss cross_entropy(o, softmax(y));"},
	{"bce", "o = W @ x; loss bce(o, sigmoid(y));"},
	{"l1", "o = W @ x; loss l1(o, y);"},
	{"huber", "o = W @ x; loss huber(o, y, delta=0.5);"},
};

static const char prelude[] =
	"model m {\n"
	"  input x[4, 6];\n"
	"  input int tok[3] < 7;\n"
	"  target y[5, 6];\n"
	"  param W[5, 4];\n"
	"  param E[7, 2];\n"
	"  param K1[3, 4, 3];\n"
	"  param K2[2, 1, 3, 3];\n"
	"  ";

/* Compiles a model of prelude and body, emitting the methods (METHOD_*
 * bits) besides the forward pass; when c_out is not NULL the generated
 * C (malloc'd) goes there, else it is dropped. */
static int
compiles_to(const char *body, int granularity_op, unsigned methods,
	    char **diags, char **c_out)
{
	size_t len = strlen(prelude) + strlen(body) + 8;
	char *text = malloc(len);
	cr_assert(text);
	snprintf(text, len, "%s%s\n}\n", prelude, body);
	size_t n;
	FILE *err = open_memstream(diags, &n);
	cr_assert(err);
	Source src = {"op.pcg", text, strlen(text)};
	diag_end(&diag);
	diag_begin(&diag, &src, err);
	Arena a;
	arena_init(&a);
	CompileOptions co = {.granularity_op = granularity_op,
			     .level = LEVEL_ON, .batch = 2};
	Graph *g = pcc_compile(&a, &diag, &co);
	if (g) {
		EmitOptions eo = {.prefix = "m", .real = "double", .batch = 2,
				  .source_name = "op.pcg", .header_name = "op.h",
				  .methods = methods};
		StrBuf h = {0}, c = {0};
		emit_model(&a, g, &eo, &h, &c);
		if (c_out)
			*c_out = strdup(c.data ? c.data : "");
		sb_free(&h);
		sb_free(&c);
	}
	fclose(err);
	arena_free(&a);
	free(text);
	return g != NULL;
}

static int
compiles(const char *body, int granularity_op, char **diags)
{
	return compiles_to(body, granularity_op, 0, diags, NULL);
}

Test(ops, every_callable_op_compiles)
{
	for (int i = 0; i < OP_COUNT; i++) {
		const char *call = op_defs[i].call;
		if (!call)
			continue;
		const char *body = NULL;
		for (size_t k = 0; k < sizeof models / sizeof models[0]; k++)
			if (strcmp(models[k][0], call) == 0)
				body = models[k][1];
		cr_expect(body, "%s has no model in test_ops.c", call);
		if (!body)
			continue;
		/* the pieces are checked above; without them a compile would
		 * crash instead of failing */
		const OpDef *d = &op_defs[i];
		if (!d->shape || (d->cls == OPC_UNARY && !d->vjp_c[0]) ||
		    (d->cls == OPC_BINARY && (!d->vjp_c[0] || !d->vjp_c[1])))
			continue;
		for (int gran = 0; gran < 2; gran++) {
			char *diags = NULL;
			int ok = compiles(body, gran, &diags);
			cr_expect(ok, "%s (granularity %s) does not compile:\n%s\n%s",
				  call, gran ? "op" : "stmt", body, diags);
			free(diags);
		}
	}
}

/*
 * The cost of an element that pcc passes to pcg_unary_mt and
 * pcg_unary_vjp_mt (docs/api.md, the pool's threshold): 8 multiply-adds
 * for a kernel of arithmetic and selects, 128 for one that calls a math
 * function, fabs aside.  Each row is the rule applied by hand to the
 * op's expressions in ops.c: forward, then VJP.
 */
Test(ops, unary_cost_follows_the_kernel_code)
{
	static const struct {
		const char *op;
		int fwd, vjp;
	} want[] = {
		{"relu", 8, 8},       /* selects */
		{"square", 8, 8},     /* products */
		{"abs", 8, 8},        /* fabs; selects */
		{"tanh", 128, 8},     /* TANH(x); dy * (1 - y * y) */
		{"exp", 128, 8},      /* EXP(x); dy * y */
		{"sqrt", 128, 8},     /* SQRT(x); dy * 0.5 / y */
		{"softplus", 128, 128}, /* LOG1P(EXP(..)); dy / (1 + EXP(-x)) */
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const char *body = NULL;
		for (size_t k = 0; k < sizeof models / sizeof models[0]; k++)
			if (strcmp(models[k][0], want[i].op) == 0)
				body = models[k][1];
		cr_assert(body, "no model for %s", want[i].op);
		char *diags = NULL, *c = NULL;
		cr_assert(compiles_to(body, 0, METHOD_BP, &diags, &c), "%s: %s",
			  want[i].op, diags);
		for (int vjp = 0; vjp < 2; vjp++) {
			char call[96], *at;
			int cost = -1;
			snprintf(call, sizeof call, "pcg_unary%s_mt_d(s->pool, "
				 "k_%s%s, ", vjp ? "_vjp" : "", want[i].op,
				 vjp ? "_vjp" : "");
			at = strstr(c, call);
			cr_assert(at, "%s: no call %s in the generated code",
				  want[i].op, call);
			/* the element count, then the cost */
			at = strchr(at + strlen(call), ',');
			cr_assert(at && sscanf(at + 1, "%d", &cost) == 1);
			cr_expect_eq(cost, vjp ? want[i].vjp : want[i].fwd,
				     "%s%s: cost %d", want[i].op,
				     vjp ? "'s VJP" : "", cost);
		}
		free(c);
		free(diags);
	}
}
