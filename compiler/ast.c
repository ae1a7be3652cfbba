/*
 * ast.c — AST constructors and the AST dump.
 *
 * The parser builds the tree of pcc.h through ast_expr/ast_stmt (nodes
 * live in the compilation's arena).  ast_dump prints it as an indented
 * S-expression that shows every field but spans, for tests and
 * `pcc --dump-ast`:
 *
 *   (program
 *     (def cell (x W)
 *       (assign a (@ W x))
 *       (return (call tanh a)))
 *     (model m
 *       (const T (num 12 int))
 *       (input xs (list T (num 8 int)))
 *       (input tok int (list T) (bound V))
 *       (param W (list (num 8 int) (num 8 int)) (init (call normal (num 0.5 real))))
 *       (assign h (at (num 0 int)) (call zeros (list (num 8 int))))
 *       (for t (num 0 int) T
 *         (assign h (at (+ t (num 1 int))) (call cell (index xs t) W)))
 *       (loss (call mse (index o (slice (num 0 int) (num 2 int))) y))
 *       (output h)))
 *
 * Expressions: (num V int|real) with V printed by %.17g (inf for inf); a
 * name is itself; (+ a b) (- a b) (* a b) (/ a b) (@ a b); (neg a);
 * (index a s...) whose subscripts s are an expression or (slice lo hi)
 * or (slice lo hi step), a part left out printed as _;
 * (call f arg... (kw name value)...); (list a ...).
 */
#include "pcc.h"

Expr *
ast_expr(Arena *a, ExprKind kind, Span span)
{
	Expr *e = arena_alloc(a, sizeof *e);
	e->kind = kind;
	e->span = span;
	return e;
}

Stmt *
ast_stmt(Arena *a, StmtKind kind, Span span)
{
	Stmt *s = arena_alloc(a, sizeof *s);
	s->kind = kind;
	s->span = span;
	return s;
}

static const char *
str(const char *s)
{
	return s ? s : "?";
}

static const char *
binop_name(BinOp op)
{
	switch (op) {
	case BIN_ADD: return "+";
	case BIN_SUB: return "-";
	case BIN_MUL: return "*";
	case BIN_DIV: return "/";
	case BIN_MATMUL: return "@";
	}
	unreachable();
}

/* A part of a slice: _ when left out. */
static void
dump_part(FILE *out, const Expr *e)
{
	if (e)
		ast_dump_expr(out, e);
	else
		fputc('_', out);
}

void
ast_dump_expr(FILE *out, const Expr *e)
{
	if (!e) {
		fputs("?", out);
		return;
	}
	switch (e->kind) {
	case EXPR_NUM:
		fprintf(out, "(num %.17g %s)", e->u.num.value,
			e->u.num.is_int ? "int" : "real");
		break;
	case EXPR_NAME:
		fputs(str(e->u.name.id), out);
		break;
	case EXPR_CALL:
		fprintf(out, "(call %s", str(e->u.call.id));
		for (const Arg *a = e->u.call.args; a; a = a->next) {
			fputc(' ', out);
			if (a->kw)
				fprintf(out, "(kw %s ", a->kw);
			ast_dump_expr(out, a->value);
			if (a->kw)
				fputc(')', out);
		}
		fputc(')', out);
		break;
	case EXPR_INDEX:
		fputs("(index ", out);
		ast_dump_expr(out, e->u.index.base);
		for (const Subscript *s = e->u.index.subs; s; s = s->next) {
			fputc(' ', out);
			if (!s->is_slice) {
				ast_dump_expr(out, s->lo);
				continue;
			}
			fputs("(slice ", out);
			dump_part(out, s->lo);
			fputc(' ', out);
			dump_part(out, s->hi);
			if (s->step) {
				fputc(' ', out);
				ast_dump_expr(out, s->step);
			}
			fputc(')', out);
		}
		fputc(')', out);
		break;
	case EXPR_BINARY:
		fprintf(out, "(%s ", binop_name(e->u.bin.op));
		ast_dump_expr(out, e->u.bin.lhs);
		fputc(' ', out);
		ast_dump_expr(out, e->u.bin.rhs);
		fputc(')', out);
		break;
	case EXPR_NEG:
		fputs("(neg ", out);
		ast_dump_expr(out, e->u.neg.operand);
		fputc(')', out);
		break;
	case EXPR_LIST:
		fputs("(list", out);
		for (const Expr *i = e->u.list.items; i; i = i->next) {
			fputc(' ', out);
			ast_dump_expr(out, i);
		}
		fputc(')', out);
		break;
	}
}

static void
indent(FILE *out, int depth)
{
	fputc('\n', out);
	for (int i = 0; i < depth; i++)
		fputs("  ", out);
}

static void
dump_stmts(FILE *out, const Stmt *s, int depth)
{
	for (; s; s = s->next) {
		indent(out, depth);
		switch (s->kind) {
		case STMT_CONST:
			fprintf(out, "(const %s ", str(s->name));
			ast_dump_expr(out, s->value);
			break;
		case STMT_INPUT:
		case STMT_TARGET:
		case STMT_PARAM:
			fprintf(out, "(%s %s ",
				s->kind == STMT_INPUT	 ? "input"
				: s->kind == STMT_TARGET ? "target"
							 : "param",
				str(s->name));
			if (s->is_int)
				fputs("int ", out);
			ast_dump_expr(out, s->shape);
			if (s->is_int) {
				fputs(" (bound ", out);
				ast_dump_expr(out, s->bound);
				fputc(')', out);
			}
			if (s->init) {
				fputs(" (init ", out);
				ast_dump_expr(out, s->init);
				fputc(')', out);
			}
			break;
		case STMT_ASSIGN:
			fprintf(out, "(assign %s ", str(s->name));
			if (s->index) {
				fputs("(at ", out);
				ast_dump_expr(out, s->index);
				fputs(") ", out);
			}
			ast_dump_expr(out, s->value);
			break;
		case STMT_LOSS:
			fputs("(loss ", out);
			ast_dump_expr(out, s->value);
			break;
		case STMT_OUTPUT:
			fputs("(output", out);
			for (const Ident *i = s->names; i; i = i->next)
				fprintf(out, " %s", str(i->id));
			break;
		case STMT_FOR:
			fprintf(out, "(for %s ", str(s->name));
			ast_dump_expr(out, s->lo);
			fputc(' ', out);
			ast_dump_expr(out, s->hi);
			dump_stmts(out, s->body, depth + 1);
			break;
		}
		fputc(')', out);
	}
}

static void
dump_def(FILE *out, const Def *d)
{
	indent(out, 1);
	fprintf(out, "(def %s (", str(d->name));
	for (const Ident *i = d->params; i; i = i->next)
		fprintf(out, "%s%s", i == d->params ? "" : " ", str(i->id));
	fputc(')', out);
	dump_stmts(out, d->body, 2);
	indent(out, 2);
	fputs("(return ", out);
	ast_dump_expr(out, d->ret);
	fputs("))", out);
}

void
ast_dump(FILE *out, const Program *p)
{
	const Model *m = p->model;
	const Def *d = p->defs;

	fputs("(program", out);
	/* defs and the model in source order */
	for (; d && (!m || d->span.lo < m->span.lo); d = d->next)
		dump_def(out, d);
	if (m) {
		indent(out, 1);
		fprintf(out, "(model %s", str(m->name));
		dump_stmts(out, m->body, 2);
		fputc(')', out);
	}
	for (; d; d = d->next)
		dump_def(out, d);
	fputs(")\n", out);
}
