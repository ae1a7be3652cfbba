/*
 * parser.y — the grammar of .pcg files (Bison).
 *
 * Takes tokens from the lexer (lexer.re); gives the AST of pcc.h, built
 * in the compilation's arena.  Syntax errors name what was expected and,
 * for a construct left open, the bracket that opened it.  The parser
 * recovers at statement boundaries, so that several errors in one file
 * are all reported, and stops after DIAG_MAX_ERRORS.
 *
 * Checks that are easier after parsing than in the grammar live here too:
 * exactly one model block, a def body ending in 'return', 'int' and a
 * bound in an integer input or target, and a bound on expression depth
 * (later phases recurse over expressions).
 */

%require "3.8"
%define api.pure full
%define api.token.prefix {TOK_}
%define api.value.type union
%define api.location.type {Span}
%define parse.error custom
%define parse.lac full
%locations
%param {Parser *p}
%expect 0

%code requires {
#include "parse_internal.h"

typedef struct Parser Parser;

/* Locations are byte spans: a rule spans its first symbol's start to its
 * last symbol's end; an empty rule is an empty span where it occurs. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                     \
	do {                                                            \
		if (N) {                                                \
			(Cur).lo = YYRHSLOC(Rhs, 1).lo;                 \
			(Cur).hi = YYRHSLOC(Rhs, N).hi;                 \
		} else {                                                \
			(Cur).lo = (Cur).hi = YYRHSLOC(Rhs, 0).hi;      \
		}                                                       \
	} while (0)
}

%code provides {
int lex_next(Lexer *lx, YYSTYPE *val, YYLTYPE *loc);
}

%code {
#include <stdlib.h>
#include <string.h>

/* Deeper expressions are refused: later phases recurse over them. */
#define PARSE_MAX_DEPTH 1000

typedef struct DepthItem {
	const Expr *e;
	int depth;
} DepthItem;

struct Parser {
	Lexer lex;
	Arena *arena;
	Diag *d;
	Program *prog;
	Def *defs_tail;
	int errors0; /* diag_error_count(p->d) when parsing began */
	/* scratch stack of check_depth (heap) */
	DepthItem *stack;
	size_t capstack;
};

static int yylex(YYSTYPE *val, YYLTYPE *loc, Parser *p);
static void yyerror(const YYLTYPE *loc, Parser *p, const char *msg);

static Span
span_to(Span a, Span b)
{
	Span s = {a.lo, b.hi};
	return s;
}

static Expr *
mk_num(Parser *p, LexNum n, Span sp)
{
	Expr *e = ast_expr(p->arena, EXPR_NUM, sp);
	e->u.num.value = n.value;
	e->u.num.is_int = n.is_int;
	return e;
}

static Expr *
mk_name(Parser *p, const char *id, Span sp)
{
	Expr *e = ast_expr(p->arena, EXPR_NAME, sp);
	e->u.name.id = id;
	return e;
}

static Expr *
mk_call(Parser *p, const char *id, Span id_sp, ArgList args, Span sp)
{
	Expr *e = ast_expr(p->arena, EXPR_CALL, sp);
	e->u.call.id = id;
	e->u.call.id_span = id_sp;
	e->u.call.args = args.head;
	e->u.call.nargs = args.n;
	return e;
}

static Expr *
mk_index(Parser *p, Expr *base, SubList subs, Span sp)
{
	Expr *e = ast_expr(p->arena, EXPR_INDEX, sp);
	e->u.index.base = base;
	e->u.index.subs = subs.head;
	e->u.index.nsubs = subs.n;
	return e;
}

static Subscript *
mk_subscript(Parser *p, Expr *i)
{
	Subscript *s = arena_alloc(p->arena, sizeof *s);
	s->span = i->span;
	s->lo = i;
	return s;
}

/* A slice lo:hi or lo:hi:step, any part left out; it spans from its
 * first part (or colon) to its last. */
static Subscript *
mk_slice(Parser *p, Expr *lo, Span colon, Expr *hi, Span colon2, Expr *step)
{
	Subscript *s = arena_alloc(p->arena, sizeof *s);
	s->is_slice = 1;
	s->lo = lo;
	s->hi = hi;
	s->step = step;
	s->span.lo = lo ? lo->span.lo : colon.lo;
	s->span.hi = step ? step->span.hi
		   : colon2.hi > colon.hi ? colon2.hi
		   : hi ? hi->span.hi
			: colon.hi;
	return s;
}

static Expr *
mk_binary(Parser *p, BinOp op, Span op_sp, Expr *l, Expr *r, Span sp)
{
	Expr *e = ast_expr(p->arena, EXPR_BINARY, sp);
	e->u.bin.op = op;
	e->u.bin.op_span = op_sp;
	e->u.bin.lhs = l;
	e->u.bin.rhs = r;
	return e;
}

static Expr *
mk_neg(Parser *p, Expr *operand, Span sp)
{
	Expr *e = ast_expr(p->arena, EXPR_NEG, sp);
	e->u.neg.operand = operand;
	return e;
}

static Expr *
mk_list(Parser *p, ExprList items, Span sp)
{
	Expr *e = ast_expr(p->arena, EXPR_LIST, sp);
	e->u.list.items = items.head;
	e->u.list.n = items.n;
	return e;
}

static ExprList
expr_append(ExprList l, Expr *e)
{
	if (l.tail)
		l.tail->next = e;
	else
		l.head = e;
	l.tail = e;
	l.n++;
	return l;
}

static SubList
sub_append(SubList l, Subscript *s)
{
	if (l.tail)
		l.tail->next = s;
	else
		l.head = s;
	l.tail = s;
	l.n++;
	return l;
}

static ArgList
arg_append(ArgList l, Arg *a)
{
	if (l.tail)
		l.tail->next = a;
	else
		l.head = a;
	l.tail = a;
	l.n++;
	return l;
}

static IdentList
ident_append(Parser *p, IdentList l, const char *id, Span sp)
{
	Ident *i = arena_alloc(p->arena, sizeof *i);
	i->id = id;
	i->span = sp;
	if (l.tail)
		l.tail->next = i;
	else
		l.head = i;
	l.tail = i;
	l.n++;
	return l;
}

static StmtList
stmt_append(StmtList l, Stmt *s)
{
	if (!s)
		return l;
	if (l.tail)
		l.tail->next = s;
	else
		l.head = s;
	l.tail = s;
	return l;
}

/* Refuse expressions nested deeper than PARSE_MAX_DEPTH, without
 * recursing ourselves. */
static int
check_depth(Parser *p, const Expr *root)
{
	size_t n = 0;
	if (!root)
		return 1;
#define PUSH(x, d)                                                      \
	do {                                                            \
		if (n == p->capstack) {                                 \
			size_t cap = p->capstack ? p->capstack * 2 : 256; \
			DepthItem *s = realloc(p->stack, cap * sizeof *s); \
			if (!s)                                         \
				die("out of memory");                   \
			p->stack = s;                                   \
			p->capstack = cap;                              \
		}                                                       \
		p->stack[n].e = (x);                                    \
		p->stack[n].depth = (d);                                \
		n++;                                                    \
	} while (0)
	PUSH(root, 1);
	while (n > 0) {
		DepthItem it = p->stack[--n];
		const Expr *e = it.e;
		int d = it.depth + 1;
		if (it.depth > PARSE_MAX_DEPTH) {
			diag_error(p->d, root->span, "expression nested too deeply "
				   "(more than %d levels)", PARSE_MAX_DEPTH);
			return 0;
		}
		switch (e->kind) {
		case EXPR_NUM:
		case EXPR_NAME:
			break;
		case EXPR_CALL:
			for (const Arg *a = e->u.call.args; a; a = a->next)
				PUSH(a->value, d);
			break;
		case EXPR_INDEX:
			PUSH(e->u.index.base, d);
			for (const Subscript *s = e->u.index.subs; s;
			     s = s->next) {
				if (s->lo)
					PUSH(s->lo, d);
				if (s->hi)
					PUSH(s->hi, d);
				if (s->step)
					PUSH(s->step, d);
			}
			break;
		case EXPR_BINARY:
			PUSH(e->u.bin.lhs, d);
			PUSH(e->u.bin.rhs, d);
			break;
		case EXPR_NEG:
			PUSH(e->u.neg.operand, d);
			break;
		case EXPR_LIST:
			for (const Expr *i = e->u.list.items; i; i = i->next)
				PUSH(i, d);
			break;
		}
	}
#undef PUSH
	return 1;
}

/* A statement is complete: bound the depth of its expressions (a for
 * loop's body was checked statement by statement). */
static Stmt *
stmt_done(Parser *p, Stmt *s)
{
	if (check_depth(p, s->index) && check_depth(p, s->value) &&
	    check_depth(p, s->shape) && check_depth(p, s->init) &&
	    check_depth(p, s->lo) && check_depth(p, s->hi))
		check_depth(p, s->bound);
	return s;
}

static Stmt *
mk_decl(Parser *p, StmtKind kind, const char *name, Span name_sp,
	Expr *shape, Expr *init, Span sp)
{
	Stmt *s = ast_stmt(p->arena, kind, sp);
	s->name = name;
	s->name_span = name_sp;
	s->shape = shape;
	s->init = init;
	return stmt_done(p, s);
}

/* input int NAME[shape] < BOUND; (and target): the word before the name
 * must be 'int', and the bound is required.  shape and bound may be NULL
 * (left out); no shape is a scalar per sample. */
static Stmt *
mk_int_decl(Parser *p, StmtKind kind, const char *type, Span type_sp,
	    const char *name, Span name_sp, Expr *shape, Span shape_sp,
	    Expr *bound, Span semi, Span sp)
{
	const char *what = kind == STMT_INPUT ? "input" : "target";
	if (strcmp(type, "int") != 0) {
		diag_error(p->d, type_sp, "unknown type '%s' for %s '%s' (expected "
			   "'int')", type, what, name);
		return NULL;
	}
	if (!bound) {
		diag_error(p->d, semi, "expected '< BOUND' before ';' in integer %s "
			   "'%s'", what, name);
		return NULL;
	}
	if (!shape)
		shape = mk_list(p, (ExprList){NULL, NULL, 0}, shape_sp);
	Stmt *s = ast_stmt(p->arena, kind, sp);
	s->name = name;
	s->name_span = name_sp;
	s->shape = shape;
	s->is_int = 1;
	s->bound = bound;
	s->int_span = type_sp;
	return stmt_done(p, s);
}

static Def *
mk_def(Parser *p, const char *name, Span name_sp, IdentList params)
{
	Def *d = arena_alloc(p->arena, sizeof *d);
	d->name = name;
	d->name_span = name_sp;
	d->params = params.head;
	d->nparams = params.n;
	return d;
}

static void
add_def(Parser *p, Def *d, Span sp)
{
	d->span = sp;
	check_depth(p, d->ret);
	if (p->defs_tail)
		p->defs_tail->next = d;
	else
		p->prog->defs = d;
	p->defs_tail = d;
}

/* A block-form def body: statements, then one return, last. */
static DefBody
def_item(Parser *p, DefBody b, Stmt *s)
{
	if (b.ret)
		diag_error(p->d, s->span, "statement after 'return' in a def body");
	if (b.tail)
		b.tail->next = s;
	else
		b.head = s;
	b.tail = s;
	return b;
}

static DefBody
def_return(Parser *p, DefBody b, Expr *ret, Span sp)
{
	if (b.ret) {
		diag_error(p->d, sp, "a second 'return' in a def body");
		diag_note(p->d, b.ret_span, "the first 'return' is here");
		return b;
	}
	b.ret = ret;
	b.ret_span = sp;
	return b;
}

static void
def_block(Parser *p, Def *d, DefBody b, Span close)
{
	d->body = b.head;
	d->ret = b.ret;
	if (!b.ret && d->name)
		diag_error(p->d, close, "expected 'return EXPR;' before '}' in def "
			   "'%s'", d->name);
}

static void
add_model(Parser *p, Model *m)
{
	if (p->prog->model) {
		const Model *first = p->prog->model;
		diag_error(p->d, span_to(m->span, m->name_span),
			   "a second model block");
		diag_note(p->d, span_to(first->span, first->name_span),
			  "the first model block is here");
		return;
	}
	p->prog->model = m;
}

static Model *
mk_model(Parser *p, const char *name, Span name_sp, StmtList body, Span sp)
{
	Model *m = arena_alloc(p->arena, sizeof *m);
	m->name = name;
	m->name_span = name_sp;
	m->body = body.head;
	m->span = sp;
	return m;
}

/* The whole file has been read. */
static void
finish(Parser *p)
{
	size_t len = p->lex.src->len;
	Span eof = {(uint32_t)len, (uint32_t)len};
	Span start = {0, 0};
	if (p->prog->model || diag_error_count(p->d) > p->errors0)
		return;
	if (p->lex.ntokens == 0)
		diag_error(p->d, start, "empty file: expected a model block "
			   "'model NAME { ... }'");
	else
		diag_error(p->d, eof, "no model block in file");
}

/* Error recovery at a statement boundary. */
static void
recovered(Parser *p, int top_level)
{
	if (top_level)
		p->lex.nopen = p->lex.nopen_before = 0;
	else
		lex_sync(&p->lex);
}
}

%initial-action {
	@$.lo = @$.hi = 0;
}

%token <const char *> IDENT "identifier"
%token <LexNum> NUMBER "number"
%token MODEL "'model'"
%token DEF "'def'"
%token RETURN "'return'"
%token CONST "'const'"
%token INPUT "'input'"
%token TARGET "'target'"
%token PARAM "'param'"
%token LOSS "'loss'"
%token OUTPUT "'output'"
%token FOR "'for'"
%token IN "'in'"
%token DOTDOT "'..'"
/* Punctuation, declared so that its order (the order in which syntax
 * errors list expected tokens) does not depend on the order of the rules. */
%token '{' '}' ';' '=' '(' ',' ')' '[' ']' '+' '-' '*' '/' '@' ':' '<'

%nterm <Expr *> expr term unary postfix primary shape init optshape optexpr
%nterm <Expr *> bound
%nterm <SubList> subscripts
%nterm <Subscript *> subscript
%nterm <ExprList> exprs
%nterm <ArgList> args arglist
%nterm <Arg *> arg
%nterm <IdentList> names params
%nterm <Stmt *> stmt const assign
%nterm <StmtList> stmts block
%nterm <Model *> model
%nterm <Def *> def defhead
%nterm <DefBody> defitems

%%

file:
  items			{ finish(p); }
;

items:
  %empty
| items def		{ add_def(p, $2, @2); }
| items model		{ add_model(p, $2); }
| items error def	{ add_def(p, $3, @3); }
| items error model	{ add_model(p, $3); }
;

/* ---- the model */

model:
  MODEL IDENT block	{ $$ = mk_model(p, $2, @2, $3, @$); }
| MODEL error block	{ $$ = mk_model(p, "", @1, $3, @$); }
;

block:
  '{' stmts '}'		{ $$ = $2; }
| '{' stmts error '}'	{
	$$ = $2;
	yyerrok;
	if (diag_too_many(p->d))
		YYABORT;
}
;

stmts:
  %empty		{ $$ = (StmtList){NULL, NULL}; }
| stmts stmt		{ $$ = stmt_append($1, $2); }
| stmts error ';'	{
	$$ = $1;
	yyerrok;
	recovered(p, 0);
	if (diag_too_many(p->d))
		YYABORT;
}
;

stmt:
  const
| assign
| INPUT IDENT shape ';'	{ $$ = mk_decl(p, STMT_INPUT, $2, @2, $3, NULL, @$); }
| TARGET IDENT shape ';' {
	$$ = mk_decl(p, STMT_TARGET, $2, @2, $3, NULL, @$);
}
| INPUT IDENT IDENT optshape bound ';' {
	$$ = mk_int_decl(p, STMT_INPUT, $2, @2, $3, @3, $4, @4, $5, @6, @$);
}
| TARGET IDENT IDENT optshape bound ';' {
	$$ = mk_int_decl(p, STMT_TARGET, $2, @2, $3, @3, $4, @4, $5, @6, @$);
}
| PARAM IDENT shape ';'	{ $$ = mk_decl(p, STMT_PARAM, $2, @2, $3, NULL, @$); }
| PARAM IDENT shape '=' init ';' {
	$$ = mk_decl(p, STMT_PARAM, $2, @2, $3, $5, @$);
}
| LOSS expr ';' {
	/* mse(o, y), 0.5 * cross_entropy(o, label), a penalty, ... */
	$$ = ast_stmt(p->arena, STMT_LOSS, @$);
	$$->value = $2;
	stmt_done(p, $$);
}
| OUTPUT names ';' {
	$$ = ast_stmt(p->arena, STMT_OUTPUT, @$);
	$$->names = $2.head;
}
| FOR IDENT IN expr DOTDOT expr block {
	$$ = ast_stmt(p->arena, STMT_FOR, @$);
	$$->name = $2;
	$$->name_span = @2;
	$$->lo = $4;
	$$->hi = $6;
	$$->body = $7.head;
	stmt_done(p, $$);
}
| FOR error block	{ $$ = NULL; }
| FOR error ';'		{
	$$ = NULL;
	yyerrok;
	recovered(p, 0);
	if (diag_too_many(p->d))
		YYABORT;
}
;

const:
  CONST IDENT '=' expr ';' {
	$$ = ast_stmt(p->arena, STMT_CONST, @$);
	$$->name = $2;
	$$->name_span = @2;
	$$->value = $4;
	stmt_done(p, $$);
}
;

assign:
  IDENT '=' expr ';' {
	$$ = ast_stmt(p->arena, STMT_ASSIGN, @$);
	$$->name = $1;
	$$->name_span = @1;
	$$->value = $3;
	stmt_done(p, $$);
}
| IDENT '[' expr ']' '=' expr ';' {
	$$ = ast_stmt(p->arena, STMT_ASSIGN, @$);
	$$->name = $1;
	$$->name_span = @1;
	$$->index = $3;
	$$->value = $6;
	stmt_done(p, $$);
}
;

shape:
  '[' exprs ']'		{ $$ = mk_list(p, $2, @$); }
;

/* the shape of an int declaration: none is a scalar per sample */
optshape:
  %empty		{ $$ = NULL; }
| shape
;

bound:
  %empty		{ $$ = NULL; }
| '<' expr		{ $$ = $2; }
;

init:
  IDENT			{ $$ = mk_name(p, $1, @1); }
| IDENT '(' args ')'	{ $$ = mk_call(p, $1, @1, $3, @$); }
;

names:
  IDENT			{ $$ = ident_append(p, (IdentList){NULL, NULL, 0}, $1, @1); }
| names ',' IDENT	{ $$ = ident_append(p, $1, $3, @3); }
;

/* ---- functions */

def:
  defhead '=' expr ';'	{ $$ = $1; $$->ret = $3; }
| defhead '=' error ';'	{
	$$ = $1;
	yyerrok;
	recovered(p, 1);
	if (diag_too_many(p->d))
		YYABORT;
}
| defhead '{' defitems '}' {
	$$ = $1;
	def_block(p, $$, $3, @4);
}
| DEF error ';'		{
	$$ = mk_def(p, NULL, @1, (IdentList){NULL, NULL, 0});
	yyerrok;
	recovered(p, 1);
	if (diag_too_many(p->d))
		YYABORT;
}
| defhead '{' defitems error '}' {
	$$ = $1;
	$$->body = $3.head;
	$$->ret = $3.ret;
	yyerrok;
	if (diag_too_many(p->d))
		YYABORT;
}
;

defhead:
  DEF IDENT '(' params ')' { $$ = mk_def(p, $2, @2, $4); }
| DEF error		{ $$ = mk_def(p, NULL, @1, (IdentList){NULL, NULL, 0}); }
;

params:
  %empty		{ $$ = (IdentList){NULL, NULL, 0}; }
| names
;

defitems:
  %empty		{ $$ = (DefBody){NULL, NULL, NULL, @$}; }
| defitems const	{ $$ = def_item(p, $1, $2); }
| defitems assign	{ $$ = def_item(p, $1, $2); }
| defitems RETURN expr ';' { $$ = def_return(p, $1, $3, span_to(@2, @4)); }
| defitems error ';'	{
	$$ = $1;
	yyerrok;
	recovered(p, 0);
	if (diag_too_many(p->d))
		YYABORT;
}
;

/* ---- expressions, lowest precedence first */

expr:
  term
| expr '+' term		{ $$ = mk_binary(p, BIN_ADD, @2, $1, $3, @$); }
| expr '-' term		{ $$ = mk_binary(p, BIN_SUB, @2, $1, $3, @$); }
;

term:
  unary
| term '*' unary	{ $$ = mk_binary(p, BIN_MUL, @2, $1, $3, @$); }
| term '/' unary	{ $$ = mk_binary(p, BIN_DIV, @2, $1, $3, @$); }
| term '@' unary	{ $$ = mk_binary(p, BIN_MATMUL, @2, $1, $3, @$); }
;

unary:
  '-' unary		{ $$ = mk_neg(p, $2, @$); }
| postfix
;

postfix:
  primary
| postfix '[' subscripts ']' { $$ = mk_index(p, $1, $3, @$); }
;

/* numpy basic indexing: x[i], x[lo:hi], x[:, 2], x[::2], ... */
subscripts:
  subscript		{ $$ = sub_append((SubList){NULL, NULL, 0}, $1); }
| subscripts ',' subscript { $$ = sub_append($1, $3); }
;

subscript:
  expr			{ $$ = mk_subscript(p, $1); }
| optexpr ':' optexpr	{ $$ = mk_slice(p, $1, @2, $3, @2, NULL); }
| optexpr ':' optexpr ':' optexpr {
	$$ = mk_slice(p, $1, @2, $3, @4, $5);
}
;

optexpr:
  %empty		{ $$ = NULL; }
| expr
;

primary:
  NUMBER		{ $$ = mk_num(p, $1, @1); }
| IDENT			{ $$ = mk_name(p, $1, @1); }
| IDENT '(' args ')'	{ $$ = mk_call(p, $1, @1, $3, @$); }
| '(' expr ')'		{ $$ = $2; $$->span = @$; }
| '[' exprs ']'		{ $$ = mk_list(p, $2, @$); }
;

exprs:
  expr			{ $$ = expr_append((ExprList){NULL, NULL, 0}, $1); }
| exprs ',' expr	{ $$ = expr_append($1, $3); }
;

args:
  %empty		{ $$ = (ArgList){NULL, NULL, 0}; }
| arglist
;

arglist:
  arg			{ $$ = arg_append((ArgList){NULL, NULL, 0}, $1); }
| arglist ',' arg	{ $$ = arg_append($1, $3); }
;

arg:
  expr {
	$$ = arena_alloc(p->arena, sizeof *$$);
	$$->span = @$;
	$$->value = $1;
}
| IDENT '=' expr {
	$$ = arena_alloc(p->arena, sizeof *$$);
	$$->span = @$;
	$$->kw = $1;
	$$->kw_span = @1;
	$$->value = $3;
}
;

%%

static int
yylex(YYSTYPE *val, YYLTYPE *loc, Parser *p)
{
	if (diag_too_many(p->d)) { /* stop reading: the parse is abandoned */
		loc->lo = loc->hi = (uint32_t)p->lex.src->len;
		return TOK_YYEOF;
	}
	return lex_next(&p->lex, val, loc);
}

/* Bison calls yyerror only when its stack is full. */
static void
yyerror(const YYLTYPE *loc, Parser *p, const char *msg)
{
	(void)p;
	if (strcmp(msg, "memory exhausted") == 0)
		diag_error(p->d, *loc, "nesting too deep (more than %d levels of "
			   "brackets and blocks)", YYMAXDEPTH);
	else
		diag_error(p->d, *loc, "%s", msg);
}

static int
closer_of(unsigned char opener)
{
	switch (opener) {
	case '(': return ')';
	case '[': return ']';
	case '{': return '}';
	}
	unreachable();
}

static int
is_closer(yysymbol_kind_t k)
{
	return k == YYTRANSLATE(')') || k == YYTRANSLATE(']') ||
	       k == YYTRANSLATE('}');
}

/* Brackets and separators: named even in a long list of expected
 * tokens, since a missing one is the usual mistake. */
static int
is_punct(yysymbol_kind_t k)
{
	return is_closer(k) || k == YYTRANSLATE('{') ||
	       k == YYTRANSLATE(';') || k == YYTRANSLATE(',');
}

/*
 * "syntax error, unexpected X, expecting A or B".
 *
 * At the end of the file, at a closing bracket, at 'model' or 'def',
 * or at a ';' inside '(' or '[', when the innermost open bracket's
 * closer would do, the message expects that closer alone, names the
 * opener ("(to close '{' at 3:11)") and a note points at it.  An
 * unexpected '<' gets a note on what it is for.
 * Otherwise up to four expected tokens are listed; beyond that the
 * message names what may come in words ("statement", "expression")
 * and the brackets and separators among them.
 */
static int
yyreport_syntax_error(const yypcontext_t *ctx, Parser *p)
{
	enum { MAX_LISTED = 4 };
	yysymbol_kind_t expected[YYNTOKENS], shown[YYNTOKENS];
	int n = yypcontext_expected_tokens(ctx, expected, YYNTOKENS);
	int nshown = 0, stmt = 0, expr = 0, closes = 0;
	yysymbol_kind_t la = yypcontext_token(ctx);
	const Bracket *open = lex_open_bracket(&p->lex);
	yysymbol_kind_t closer = YYSYMBOL_YYEMPTY;
	StrBuf sb = {0};

	if (n < 0)
		return n;
	/* the lexer has just reported bad bytes before this token */
	if (p->lex.skipped && la != YYSYMBOL_YYEOF)
		return 0;
	if (open && (la == YYSYMBOL_YYEOF || is_closer(la) ||
		     la == YYSYMBOL_MODEL || la == YYSYMBOL_DEF ||
		     (la == YYTRANSLATE(';') && open->ch != '{')))
		closer = YYTRANSLATE(closer_of(open->ch));
	for (int i = 0; i < n; i++)
		if (expected[i] == closer)
			closes = 1;
	if (closes) {
		shown[nshown++] = closer;
	} else {
		for (int i = 0; i < n; i++) {
			yysymbol_kind_t k = expected[i];
			if (n <= MAX_LISTED || is_punct(k))
				shown[nshown++] = k;
			else if (k == YYSYMBOL_INPUT)
				stmt = 1;
			else if (k == YYSYMBOL_NUMBER)
				expr = 1;
		}
	}

	sb_puts(&sb, "syntax error");
	if (la != YYSYMBOL_YYEMPTY)
		sb_printf(&sb, ", unexpected %s", yysymbol_name(la));
	const char *sep = ", expecting ";
	if (stmt) {
		sb_printf(&sb, "%sstatement", sep);
		sep = " or ";
	}
	if (expr) {
		sb_printf(&sb, "%sexpression", sep);
		sep = " or ";
	}
	for (int i = 0; i < nshown; i++) {
		sb_printf(&sb, "%s%s", sep, yysymbol_name(shown[i]));
		sep = " or ";
	}
	if (closes) {
		int line, col;
		diag_line_col(p->d, open->span, &line, &col);
		sb_printf(&sb, " (to close '%c' at %d:%d)", open->ch, line, col);
	}
	diag_error(p->d, *yypcontext_location(ctx), "%s", sb.data);
	if (closes)
		diag_note(p->d, open->span, "'%c' opened here", open->ch);
	else if (la == YYTRANSLATE('<'))
		diag_note(p->d, *yypcontext_location(ctx), "'<' gives the bound of an "
			  "integer input or target, as in 'input int tok[N] "
			  "< V;'");
	sb_free(&sb);
	return 0;
}

Program *
pcc_parse(Arena *a, Diag *d)
{
	Parser p;
	int rc;

	memset(&p, 0, sizeof p);
	p.arena = a;
	p.d = d;
	p.prog = arena_alloc(a, sizeof *p.prog);
	p.errors0 = diag_error_count(d);
	lex_init(&p.lex, a, d);
	rc = yyparse(&p);
	lex_fini(&p.lex);
	free(p.stack);
	if (rc != 0 || diag_error_count(d) > p.errors0)
		return NULL;
	return p.prog;
}
