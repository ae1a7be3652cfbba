/*
 * test_lexer.c — the tokeniser, through lex_dump ("line:col KIND text",
 * numbers followed by "int|real VALUE") and the diagnostics it reports.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "pcc.h"

/* the diagnostics of the compilation under test */
static Diag diag;

/* Lex `len` bytes of `text` (which must have a NUL at text[len]); the
 * token dump and the diagnostics come back as malloc'd strings. */
static void
lex_n(const char *text, size_t len, char **toks, char **diags)
{
	Source src = {"t.pcg", text, len};
	size_t n1, n2;
	FILE *out = open_memstream(toks, &n1);
	FILE *err = open_memstream(diags, &n2);
	cr_assert(out && err, "open_memstream failed");
	diag_end(&diag);
	diag_begin(&diag, &src, err);
	lex_dump(out, &diag);
	fclose(out);
	fclose(err);
}

static void
lex(const char *text, char **toks, char **diags)
{
	lex_n(text, strlen(text), toks, diags);
}

/* Lex text that must be free of errors; return the dump. */
static char *
lex_ok(const char *text)
{
	char *toks, *diags;
	lex(text, &toks, &diags);
	cr_assert_str_empty(diags, "expected no diagnostics for \"%s\", got:\n%s",
			    text, diags);
	free(diags);
	return toks;
}

static void
expect_tokens(const char *text, const char *want)
{
	char *got = lex_ok(text);
	cr_assert_str_eq(got, want, "tokens of \"%s\":\nexpected:\n%s\ngot:\n%s",
			 text, want, got);
	free(got);
}

/* Lex text with errors: the diagnostics must be exactly `want`. */
static char *
expect_diags(const char *text, size_t len, const char *want)
{
	char *toks, *diags;
	lex_n(text, len, &toks, &diags);
	cr_assert_str_eq(diags, want, "diagnostics:\nexpected:\n%s\ngot:\n%s",
			 want, diags);
	free(diags);
	return toks;
}

Test(lexer, empty_input_is_just_eof)
{
	expect_tokens("", "1:1 EOF\n");
}

Test(lexer, keywords)
{
	expect_tokens("model def return const input target param loss output "
		      "for in",
		      "1:1 MODEL model\n"
		      "1:7 DEF def\n"
		      "1:11 RETURN return\n"
		      "1:18 CONST const\n"
		      "1:24 INPUT input\n"
		      "1:30 TARGET target\n"
		      "1:37 PARAM param\n"
		      "1:43 LOSS loss\n"
		      "1:48 OUTPUT output\n"
		      "1:55 FOR for\n"
		      "1:59 IN in\n"
		      "1:61 EOF\n");
}

Test(lexer, identifiers_that_contain_keywords)
{
	expect_tokens("_x1 models in2 Model int forward z",
		      "1:1 IDENT _x1\n"
		      "1:5 IDENT models\n"
		      "1:12 IDENT in2\n"
		      "1:16 IDENT Model\n"
		      "1:22 IDENT int\n"
		      "1:26 IDENT forward\n"
		      "1:34 IDENT z\n"
		      "1:35 EOF\n");
}

Test(lexer, numbers_record_int_or_real)
{
	expect_tokens("32 0.5 1e-3 2.5E+2 007 1E2 0",
		      "1:1 NUMBER 32 int 32\n"
		      "1:4 NUMBER 0.5 real 0.5\n"
		      "1:8 NUMBER 1e-3 real 0.001\n"
		      "1:13 NUMBER 2.5E+2 real 250\n"
		      "1:20 NUMBER 007 int 7\n"
		      "1:24 NUMBER 1E2 real 100\n"
		      "1:28 NUMBER 0 int 0\n"
		      "1:29 EOF\n");
}

Test(lexer, punctuation)
{
	expect_tokens("{}()[],;=+-*/@:..<",
		      "1:1 LBRACE {\n"
		      "1:2 RBRACE }\n"
		      "1:3 LPAREN (\n"
		      "1:4 RPAREN )\n"
		      "1:5 LBRACKET [\n"
		      "1:6 RBRACKET ]\n"
		      "1:7 COMMA ,\n"
		      "1:8 SEMI ;\n"
		      "1:9 ASSIGN =\n"
		      "1:10 PLUS +\n"
		      "1:11 MINUS -\n"
		      "1:12 STAR *\n"
		      "1:13 SLASH /\n"
		      "1:14 AT @\n"
		      "1:15 COLON :\n"
		      "1:16 DOTDOT ..\n"
		      "1:18 LT <\n"
		      "1:19 EOF\n");
}

Test(lexer, bound_of_an_int_declaration)
{
	expect_tokens("int tok[N]<V;a<=b",
		      "1:1 IDENT int\n"
		      "1:5 IDENT tok\n"
		      "1:8 LBRACKET [\n"
		      "1:9 IDENT N\n"
		      "1:10 RBRACKET ]\n"
		      "1:11 LT <\n"
		      "1:12 IDENT V\n"
		      "1:13 SEMI ;\n"
		      "1:14 IDENT a\n"
		      "1:15 LT <\n"
		      "1:16 ASSIGN =\n"
		      "1:17 IDENT b\n"
		      "1:18 EOF\n");
}

Test(lexer, inf_is_a_number)
{
	expect_tokens("inf -inf info inference inf2 _inf Inf INF inf_",
		      "1:1 NUMBER inf real inf\n"
		      "1:5 MINUS -\n"
		      "1:6 NUMBER inf real inf\n"
		      "1:10 IDENT info\n"
		      "1:15 IDENT inference\n"
		      "1:25 IDENT inf2\n"
		      "1:30 IDENT _inf\n"
		      "1:35 IDENT Inf\n"
		      "1:39 IDENT INF\n"
		      "1:43 IDENT inf_\n"
		      "1:47 EOF\n");
}

Test(lexer, inf_next_to_punctuation)
{
	expect_tokens("[inf,-inf](inf)",
		      "1:1 LBRACKET [\n"
		      "1:2 NUMBER inf real inf\n"
		      "1:5 COMMA ,\n"
		      "1:6 MINUS -\n"
		      "1:7 NUMBER inf real inf\n"
		      "1:10 RBRACKET ]\n"
		      "1:11 LPAREN (\n"
		      "1:12 NUMBER inf real inf\n"
		      "1:15 RPAREN )\n"
		      "1:16 EOF\n");
}

Test(lexer, range_is_not_a_real)
{
	expect_tokens("0..T 1 .. 2",
		      "1:1 NUMBER 0 int 0\n"
		      "1:2 DOTDOT ..\n"
		      "1:4 IDENT T\n"
		      "1:6 NUMBER 1 int 1\n"
		      "1:8 DOTDOT ..\n"
		      "1:11 NUMBER 2 int 2\n"
		      "1:12 EOF\n");
}

Test(lexer, positions_across_lines_tabs_and_crlf)
{
	expect_tokens("model m {\n\tinput x[2];\r\n\n  }",
		      "1:1 MODEL model\n"
		      "1:7 IDENT m\n"
		      "1:9 LBRACE {\n"
		      "2:2 INPUT input\n"
		      "2:8 IDENT x\n"
		      "2:9 LBRACKET [\n"
		      "2:10 NUMBER 2 int 2\n"
		      "2:11 RBRACKET ]\n"
		      "2:12 SEMI ;\n"
		      "4:3 RBRACE }\n"
		      "4:4 EOF\n");
}

Test(lexer, comments_run_to_end_of_line_and_may_hold_utf8)
{
	expect_tokens("# héllo – ∑ model\nx # y z\n#last line without newline",
		      "2:1 IDENT x\n"
		      "3:27 EOF\n");
}

Test(lexer, comment_marker_inside_a_line)
{
	expect_tokens("a#b\nc", "1:1 IDENT a\n2:1 IDENT c\n2:2 EOF\n");
}

Test(lexer, bad_character_is_reported_and_skipped)
{
	char *toks = expect_diags("a $ b", 5,
				  "t.pcg:1:3: error: unexpected character '$'\n"
				  " a $ b\n"
				  "   ^\n");
	cr_assert_str_eq(toks, "1:1 IDENT a\n1:5 IDENT b\n1:6 EOF\n",
			 "the lexer should skip '$' and go on, got:\n%s", toks);
	free(toks);
}

Test(lexer, control_character_is_reported_in_hex)
{
	char *toks = expect_diags("a\x01", 2,
				  "t.pcg:1:2: error: unexpected control "
				  "character 0x01\n"
				  " a \n"
				  "  ^\n");
	free(toks);
}

Test(lexer, single_dot_is_a_bad_character)
{
	char *toks = expect_diags("a.b", 3,
				  "t.pcg:1:2: error: unexpected character '.'\n"
				  " a.b\n"
				  "  ^\n");
	cr_assert_str_eq(toks, "1:1 IDENT a\n1:3 IDENT b\n1:4 EOF\n",
			 "got:\n%s", toks);
	free(toks);
}

Test(lexer, non_ascii_outside_comment_is_one_error_per_run)
{
	char *toks = expect_diags("x = é;", strlen("x = é;"),
				  "t.pcg:1:5: error: non-ASCII character "
				  "outside a comment\n"
				  " x = é;\n"
				  "     ^~\n");
	cr_assert_str_eq(toks,
			 "1:1 IDENT x\n1:3 ASSIGN =\n1:7 SEMI ;\n1:8 EOF\n",
			 "got:\n%s", toks);
	free(toks);
}

Test(lexer, embedded_nul_is_an_error_not_eof)
{
	static const char text[] = "a\0b";
	char *toks = expect_diags(text, 3,
				  "t.pcg:1:2: error: unexpected NUL byte in "
				  "file\n"
				  " a b\n"
				  "  ^\n");
	cr_assert_str_eq(toks, "1:1 IDENT a\n1:3 IDENT b\n1:4 EOF\n",
			 "tokens after the NUL must still be read, got:\n%s",
			 toks);
	free(toks);
}

Test(lexer, nul_inside_a_comment_is_an_error)
{
	static const char text[] = "# a\0b\nc";
	char *toks, *diags;
	lex_n(text, sizeof text - 1, &toks, &diags);
	cr_assert(strstr(diags, "t.pcg:1:4: error: unexpected NUL byte in "
				"file\n") == diags,
		  "expected the NUL error at 1:4, got:\n%s", diags);
	cr_assert_str_eq(toks, "2:1 IDENT c\n2:2 EOF\n",
			 "the rest of the comment is still a comment, got:\n%s",
			 toks);
	free(toks);
	free(diags);
}

struct bad_number {
	char text[24];
	char message[96];
	char tokens[96];
};

ParameterizedTestParameters(lexer, bad_numbers)
{
	static struct bad_number cases[] = {
		{"1e", "malformed number '1e': the exponent has no digits",
		 "1:1 NUMBER 1e real 0\n1:3 EOF\n"},
		{"2.5e+;", "malformed number '2.5e+': the exponent has no digits",
		 "1:1 NUMBER 2.5e+ real 0\n1:6 SEMI ;\n1:7 EOF\n"},
		{"1.", "malformed number '1.': expected a digit after '.'",
		 "1:1 NUMBER 1. real 0\n1:3 EOF\n"},
		{"1.;", "malformed number '1.': expected a digit after '.'",
		 "1:1 NUMBER 1. real 0\n1:3 SEMI ;\n1:4 EOF\n"},
		{".5", "malformed number '.5': expected a digit before '.'",
		 "1:1 NUMBER .5 real 0\n1:3 EOF\n"},
		{"2x", "malformed number '2x'", "1:1 NUMBER 2x real 0\n1:3 EOF\n"},
		{"1e5q", "malformed number '1e5q'",
		 "1:1 NUMBER 1e5q real 0\n1:5 EOF\n"},
		{"1e999", "number '1e999' is out of range",
		 "1:1 NUMBER 1e999 real inf\n1:6 EOF\n"},
		{"99999999999999999999",
		 "integer '99999999999999999999' is too large (at most 2^53)",
		 "1:1 NUMBER 99999999999999999999 int 1e+20\n1:21 EOF\n"},
	};
	return cr_make_param_array(struct bad_number, cases,
				   sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct bad_number *c, lexer, bad_numbers)
{
	char *toks, *diags;
	lex(c->text, &toks, &diags);
	char want[160];
	snprintf(want, sizeof want, "t.pcg:1:1: error: %s\n", c->message);
	cr_assert(strncmp(diags, want, strlen(want)) == 0,
		  "lexing \"%s\": expected\n%sgot:\n%s", c->text, want, diags);
	cr_assert_str_eq(toks, c->tokens,
			 "lexing \"%s\": expected tokens\n%sgot:\n%s", c->text,
			 c->tokens, toks);
	free(toks);
	free(diags);
}

Test(lexer, errors_stop_after_the_limit)
{
	char text[64];
	memset(text, '$', 40);
	text[40] = 0;
	char *toks, *diags;
	lex(text, &toks, &diags);
	int errors = 0;
	for (const char *s = diags; (s = strstr(s, ": error: ")); s++)
		errors++;
	cr_assert_eq(errors, DIAG_MAX_ERRORS,
		     "expected %d errors for 40 bad characters, got %d",
		     DIAG_MAX_ERRORS, errors);
	cr_assert(strstr(diags, "t.pcg: too many errors, stopping\n"),
		  "expected the stop message, got:\n%s", diags);
	cr_assert_str_eq(toks, "1:41 EOF\n", "got:\n%s", toks);
	free(toks);
	free(diags);
}

Test(lexer, hundred_thousand_nested_brackets)
{
	enum { N = 100000 };
	char *text = malloc(2 * N + 2);
	cr_assert(text, "malloc");
	memset(text, '(', N);
	text[N] = 'x';
	memset(text + N + 1, ')', N);
	text[2 * N + 1] = 0;
	char *toks, *diags;
	lex(text, &toks, &diags);
	cr_assert_str_empty(diags, "no diagnostics expected, got:\n%.200s",
			    diags);
	char want[64];
	snprintf(want, sizeof want, "1:%d EOF\n", 2 * N + 2);
	size_t len = strlen(toks);
	cr_assert(len > strlen(want) &&
			  strcmp(toks + len - strlen(want), want) == 0,
		  "expected the dump to end with %s", want);
	cr_assert(strncmp(toks, "1:1 LPAREN (\n", 13) == 0,
		  "expected the dump to start with a '(', got:\n%.40s", toks);
	free(text);
	free(toks);
	free(diags);
}
