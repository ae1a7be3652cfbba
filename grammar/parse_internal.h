/*
 * parse_internal.h — glue shared by the lexer (lexer.re) and the parser
 * (parser.y).  Nothing outside grammar/ includes it: the rest of pcc sees
 * pcc_parse() and lex_dump() from pcc.h.
 */
#ifndef PCC_PARSE_INTERNAL_H
#define PCC_PARSE_INTERNAL_H

#include "pcc.h"

/* Semantic value of a number token. */
typedef struct LexNum {
	double value;
	int is_int;
} LexNum;

/* Lists under construction: head and tail, so appending is O(1). */
typedef struct StmtList {
	Stmt *head, *tail;
} StmtList;

typedef struct ExprList {
	Expr *head, *tail;
	int n;
} ExprList;

typedef struct ArgList {
	Arg *head, *tail;
	int n;
} ArgList;

typedef struct SubList {
	Subscript *head, *tail;
	int n;
} SubList;

typedef struct IdentList {
	Ident *head, *tail;
	int n;
} IdentList;

/* A block-form def body: its statements and its one return. */
typedef struct DefBody {
	Stmt *head, *tail;
	Expr *ret;
	Span ret_span;
} DefBody;

/* An open bracket: '(', '[' or '{' and where it is. */
typedef struct Bracket {
	unsigned char ch;
	Span span;
} Bracket;

typedef struct Lexer {
	Arena *arena;
	Diag *d;
	const Source *src;
	const unsigned char *text, *cur, *end;
	/* position of the last token, for lex_dump */
	int line, tok_line, tok_col;
	const unsigned char *line_start;
	int ntokens; /* tokens returned so far, EOF excluded */
	int skipped; /* bad bytes were skipped before the last token */
	/* the stack of open brackets (heap, grows; freed by lex_fini) */
	Bracket *open;
	size_t nopen, capopen;
	size_t nopen_before; /* depth before the last token was read */
} Lexer;

void lex_init(Lexer *lx, Arena *a, Diag *d);
void lex_fini(Lexer *lx);
/* After error recovery at a statement boundary: forget the '(' and '['
 * opened since the innermost '{' (or all of them at top level). */
void lex_sync(Lexer *lx);
/* The innermost bracket open before the last token was read, or NULL. */
const Bracket *lex_open_bracket(const Lexer *lx);

/* int lex_next(Lexer *, YYSTYPE *, YYLTYPE *) is declared in parser.h. */

#endif
