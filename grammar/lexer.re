/*
 * lexer.re — the tokeniser (re2c).
 *
 * Takes the NUL-terminated source text; gives tokens with byte spans to
 * the parser (lex_next) or as text to tests (lex_dump).  Lexical errors
 * go through diag_error and the lexer carries on after the bad bytes.
 * It also keeps the stack of open brackets that the parser names in
 * its error messages.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parse_internal.h"
#include "parser.h"

/* Integers beyond this are not exact in a double. */
#define LEX_MAX_EXACT_INT 9007199254740992.0
/* Longest identifier: names are copied into labels and C identifiers, so
 * their length multiplies the compiler's memory. */
#define LEX_MAX_IDENT 255

void
lex_init(Lexer *lx, Arena *a, Diag *d)
{
	const Source *src = d->src;
	memset(lx, 0, sizeof *lx);
	lx->arena = a;
	lx->d = d;
	lx->src = src;
	lx->text = (const unsigned char *)src->text;
	lx->cur = lx->text;
	lx->end = lx->text + src->len;
	lx->line = 1;
	lx->line_start = lx->text;
}

void
lex_fini(Lexer *lx)
{
	free(lx->open);
	lx->open = NULL;
	lx->nopen = lx->capopen = 0;
}

static Span
span_of(const Lexer *lx, const unsigned char *lo, const unsigned char *hi)
{
	Span sp = {(uint32_t)(lo - lx->text), (uint32_t)(hi - lx->text)};
	return sp;
}

static void
push_bracket(Lexer *lx, unsigned char ch, Span sp)
{
	if (lx->nopen == lx->capopen) {
		size_t cap = lx->capopen ? lx->capopen * 2 : 64;
		Bracket *b = realloc(lx->open, cap * sizeof *b);
		if (!b)
			die("out of memory (%zu brackets)", cap);
		lx->open = b;
		lx->capopen = cap;
	}
	lx->open[lx->nopen].ch = ch;
	lx->open[lx->nopen].span = sp;
	lx->nopen++;
}

/* A closing bracket closes the innermost matching opener, looking a few
 * levels down so that one missing ')' does not leave the whole stack
 * out of step; a closer with no opener nearby changes nothing. */
static void
pop_bracket(Lexer *lx, unsigned char opener)
{
	size_t lowest = lx->nopen > 16 ? lx->nopen - 16 : 0;
	for (size_t i = lx->nopen; i > lowest; i--) {
		if (lx->open[i - 1].ch == opener) {
			lx->nopen = i - 1;
			return;
		}
	}
}

void
lex_sync(Lexer *lx)
{
	while (lx->nopen > 0 && lx->open[lx->nopen - 1].ch != '{')
		lx->nopen--;
	lx->nopen_before = lx->nopen;
}

const Bracket *
lex_open_bracket(const Lexer *lx)
{
	return lx->nopen_before ? &lx->open[lx->nopen_before - 1] : NULL;
}

/* Convert a number token; report the ones a double cannot hold. */
static LexNum
number(Lexer *lx, const unsigned char *lo, const unsigned char *hi,
       int is_int)
{
	LexNum n = {0, is_int};
	char *text = arena_strndup(lx->arena, (const char *)lo,
				   (size_t)(hi - lo));
	errno = 0;
	n.value = strtod(text, NULL);
	if (errno == ERANGE && (n.value > 1.0 || n.value < -1.0))
		diag_error(lx->d, span_of(lx, lo, hi), "number '%s' is out of range",
			   text);
	else if (is_int && n.value > LEX_MAX_EXACT_INT)
		diag_error(lx->d, span_of(lx, lo, hi),
			   "integer '%s' is too large (at most 2^53)", text);
	return n;
}

/* A malformed number: report it and hand the parser a number anyway, so
 * that one typo gives one error. */
static LexNum
bad_number(Lexer *lx, const unsigned char *lo, const unsigned char *hi,
	   const char *why)
{
	LexNum n = {0, 0};
	diag_error(lx->d, span_of(lx, lo, hi), "malformed number '%.*s'%s",
		   (int)(hi - lo), (const char *)lo, why);
	return n;
}

static void
bad_char(Lexer *lx, const unsigned char *lo)
{
	Span sp = span_of(lx, lo, lo + 1);
	if (*lo > 0x20 && *lo < 0x7f)
		diag_error(lx->d, sp, "unexpected character '%c'", *lo);
	else
		diag_error(lx->d, sp, "unexpected control character 0x%02x", *lo);
}

int
lex_next(Lexer *lx, YYSTYPE *val, YYLTYPE *loc)
{
	const unsigned char *cur = lx->cur, *mar = cur, *ctx = cur;
	const unsigned char *tok;
	int t;

	lx->nopen_before = lx->nopen;
	lx->skipped = 0;
	for (;;) {
		tok = cur;
		/*!re2c
		re2c:define:YYCTYPE = "unsigned char";
		re2c:define:YYCURSOR = "cur";
		re2c:define:YYMARKER = "mar";
		re2c:define:YYCTXMARKER = "ctx";
		re2c:yyfill:enable = 0;

		dig = [0-9];
		int = dig+;
		frac = dig+ "." dig+;
		exp = [eE] [+-]? dig+;
		real = frac exp? | int exp;
		id = [A-Za-z_][A-Za-z0-9_]*;

		[ \t\r]+ { continue; }
		"\n" {
			lx->line++;
			lx->line_start = cur;
			continue;
		}
		"#" [^\n\x00]* {
			/* a NUL before the end of the file does not end the
			 * comment: report it and read on to the newline */
			while (cur < lx->end && *cur == 0) {
				diag_error(lx->d, span_of(lx, cur, cur + 1),
					   "unexpected NUL byte in file");
				lx->skipped = 1;
				for (cur++; *cur != '\n' && *cur != 0; cur++)
					;
			}
			continue;
		}
		"\x00" {
			if (tok == lx->end) {
				cur = tok; /* stay at the end */
				t = TOK_YYEOF;
				break;
			}
			diag_error(lx->d, span_of(lx, tok, cur), "unexpected NUL byte "
				   "in file");
			lx->skipped = 1;
			continue;
		}
		[\x80-\xff]+ {
			diag_error(lx->d, span_of(lx, tok, cur), "non-ASCII character "
				   "outside a comment");
			lx->skipped = 1;
			continue;
		}

		"model" { t = TOK_MODEL; break; }
		"def" { t = TOK_DEF; break; }
		"return" { t = TOK_RETURN; break; }
		"const" { t = TOK_CONST; break; }
		"input" { t = TOK_INPUT; break; }
		"target" { t = TOK_TARGET; break; }
		"param" { t = TOK_PARAM; break; }
		"loss" { t = TOK_LOSS; break; }
		"output" { t = TOK_OUTPUT; break; }
		"for" { t = TOK_FOR; break; }
		"in" { t = TOK_IN; break; }
		"inf" { /* a number, not a keyword: info is a name */
			val->TOK_NUMBER.value = INFINITY;
			val->TOK_NUMBER.is_int = 0;
			t = TOK_NUMBER;
			break;
		}
		id {
			size_t n = (size_t)(cur - tok);
			if (n > LEX_MAX_IDENT) { /* one error, then go on */
				diag_error(lx->d, span_of(lx, tok, cur),
					   "identifier is too long (%zu characters, "
					   "at most %d)", n, LEX_MAX_IDENT);
				n = LEX_MAX_IDENT;
			}
			val->TOK_IDENT = arena_strndup(lx->arena, (const char *)tok,
						   n);
			t = TOK_IDENT;
			break;
		}

		int {
			val->TOK_NUMBER = number(lx, tok, cur, 1);
			t = TOK_NUMBER;
			break;
		}
		real {
			val->TOK_NUMBER = number(lx, tok, cur, 0);
			t = TOK_NUMBER;
			break;
		}
		(frac | int) [eE] [+-]? {
			val->TOK_NUMBER = bad_number(lx, tok, cur,
						 ": the exponent has no digits");
			t = TOK_NUMBER;
			break;
		}
		int "." / [^.0-9] {
			val->TOK_NUMBER = bad_number(lx, tok, cur,
						 ": expected a digit after '.'");
			t = TOK_NUMBER;
			break;
		}
		"." int {
			val->TOK_NUMBER = bad_number(lx, tok, cur,
						 ": expected a digit before '.'");
			t = TOK_NUMBER;
			break;
		}
		(int | real) [A-Za-z_] [A-Za-z0-9_]* {
			val->TOK_NUMBER = bad_number(lx, tok, cur, "");
			t = TOK_NUMBER;
			break;
		}

		"(" | "[" | "{" {
			push_bracket(lx, *tok, span_of(lx, tok, cur));
			t = *tok;
			break;
		}
		")" { pop_bracket(lx, '('); t = ')'; break; }
		"]" { pop_bracket(lx, '['); t = ']'; break; }
		"}" { pop_bracket(lx, '{'); t = '}'; break; }
		".." { t = TOK_DOTDOT; break; }
		[,;=+\-*/@:<] { t = *tok; break; }

		* {
			bad_char(lx, tok);
			lx->skipped = 1;
			continue;
		}
		*/
	}
	(void)mar;
	(void)ctx;
	lx->cur = cur;
	*loc = span_of(lx, tok, cur);
	lx->tok_line = lx->line;
	lx->tok_col = (int)(tok - lx->line_start) + 1;
	if (t != TOK_YYEOF)
		lx->ntokens++;
	return t;
}

/* The name of a token kind, as lex_dump prints it. */
static const char *
token_kind(int t)
{
	switch (t) {
	case TOK_YYEOF: return "EOF";
	case TOK_IDENT: return "IDENT";
	case TOK_NUMBER: return "NUMBER";
	case TOK_MODEL: return "MODEL";
	case TOK_DEF: return "DEF";
	case TOK_RETURN: return "RETURN";
	case TOK_CONST: return "CONST";
	case TOK_INPUT: return "INPUT";
	case TOK_TARGET: return "TARGET";
	case TOK_PARAM: return "PARAM";
	case TOK_LOSS: return "LOSS";
	case TOK_OUTPUT: return "OUTPUT";
	case TOK_FOR: return "FOR";
	case TOK_IN: return "IN";
	case TOK_DOTDOT: return "DOTDOT";
	case '{': return "LBRACE";
	case '}': return "RBRACE";
	case '(': return "LPAREN";
	case ')': return "RPAREN";
	case '[': return "LBRACKET";
	case ']': return "RBRACKET";
	case ',': return "COMMA";
	case ';': return "SEMI";
	case '=': return "ASSIGN";
	case '+': return "PLUS";
	case '-': return "MINUS";
	case '*': return "STAR";
	case '/': return "SLASH";
	case '@': return "AT";
	case ':': return "COLON";
	case '<': return "LT";
	}
	unreachable();
}

void
lex_dump(FILE *out, Diag *d)
{
	const Source *src = d->src;
	Arena a;
	Lexer lx;
	YYSTYPE val;
	YYLTYPE loc;
	int t;

	arena_init(&a);
	lex_init(&lx, &a, d);
	do {
		t = lex_next(&lx, &val, &loc);
		fprintf(out, "%d:%d %s", lx.tok_line, lx.tok_col, token_kind(t));
		if (t != TOK_YYEOF)
			fprintf(out, " %.*s", (int)(loc.hi - loc.lo),
				src->text + loc.lo);
		if (t == TOK_NUMBER)
			fprintf(out, " %s %.17g", val.TOK_NUMBER.is_int ? "int" : "real",
				val.TOK_NUMBER.value);
		fputc('\n', out);
	} while (t != TOK_YYEOF);
	lex_fini(&lx);
	arena_free(&a);
}
