/*
 * ops.c — the op table: names and arities generated from PCC_OPS in pcc.h,
 * plus the classification predicates every pass shares.  Shape rules are
 * in sema.c, forward and VJP code in emit.c; all switch over OpKind.
 */
#include "pcc.h"

const char *const op_name[OP_COUNT] = {
#define X(e, n, a) n,
	PCC_OPS(X)
#undef X
};

const int op_arity[OP_COUNT] = {
#define X(e, n, a) a,
	PCC_OPS(X)
#undef X
};

int
op_is_leaf(OpKind op)
{
	return op == OP_INPUT || op == OP_TARGET || op == OP_PARAM ||
	       op == OP_CONST;
}

int
op_is_elementwise_unary(OpKind op)
{
	switch (op) {
	case OP_NEG:
	case OP_TANH:
	case OP_SIGMOID:
	case OP_RELU:
	case OP_EXP:
	case OP_LOG:
	case OP_SQRT:
	case OP_SQUARE:
	case OP_SOFTPLUS:
	case OP_ABS:
	case OP_LEAKY_RELU:
	case OP_IDENTITY:
		return 1;
	default:
		return 0;
	}
}

int
op_is_broadcast_binary(OpKind op)
{
	return op == OP_ADD || op == OP_SUB || op == OP_MUL || op == OP_DIV;
}

int
op_supported(OpKind op)
{
	(void)op; /* every op has forward and VJP code */
	return 1;
}
