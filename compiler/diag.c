/*
 * diag.c — diagnostics in GNU format.
 *
 * Takes byte spans into the loaded source; prints
 *   file:line:col: error: message
 *    source line
 *    ^~~~
 * and counts errors so that phases can stop after DIAG_MAX_ERRORS.
 */
#include <stdlib.h>
#include <string.h>

#include "pcc.h"

static const Source *diag_src;
static FILE *diag_out;
static int diag_errors, diag_stopped;
/* where each line of diag_src starts, made on the first diag_line_col */
static size_t *line_start;
static size_t nlines;

void
diag_begin(const Source *src, FILE *out)
{
	free(line_start);
	line_start = NULL;
	nlines = 0;
	diag_src = src;
	diag_out = out ? out : stderr;
	diag_errors = 0;
	diag_stopped = 0;
}

int
diag_error_count(void)
{
	return diag_errors;
}

int
diag_too_many(void)
{
	return diag_errors >= DIAG_MAX_ERRORS;
}

Span
span_join(Span a, Span b)
{
	Span s = a;
	if (b.lo < s.lo)
		s.lo = b.lo;
	if (b.hi > s.hi)
		s.hi = b.hi;
	return s;
}

static void
make_line_table(void)
{
	size_t n = 1;
	for (size_t i = 0; i < diag_src->len; i++)
		n += diag_src->text[i] == '\n';
	line_start = malloc(n * sizeof *line_start);
	if (!line_start)
		die("out of memory (%zu lines)", n);
	line_start[0] = 0;
	nlines = 1;
	for (size_t i = 0; i < diag_src->len; i++)
		if (diag_src->text[i] == '\n')
			line_start[nlines++] = i + 1;
}

/* Line and column (from 1, in bytes) of sp.lo, by a binary search of the
 * line starts: sema asks for the line of every statement it builds. */
void
diag_line_col(Span sp, int *line, int *col)
{
	*line = *col = 1;
	if (!diag_src)
		return;
	if (!line_start)
		make_line_table();
	size_t pos = sp.lo > diag_src->len ? diag_src->len : sp.lo;
	size_t lo = 0, hi = nlines; /* line_start[lo] <= pos < line_start[hi] */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (line_start[mid] <= pos)
			lo = mid;
		else
			hi = mid;
	}
	*line = (int)(lo + 1);
	*col = (int)(pos - line_start[lo] + 1);
}

static void
show_source(Span sp)
{
	if (!diag_src)
		return;
	size_t lo = sp.lo > diag_src->len ? diag_src->len : sp.lo;
	size_t start = lo, end = lo;
	while (start > 0 && diag_src->text[start - 1] != '\n')
		start--;
	while (end < diag_src->len && diag_src->text[end] != '\n')
		end++;
	if (start == end && lo == diag_src->len && lo > 0)
		return; /* at end of file on an empty last line: nothing to show */
	size_t width = end - start;
	if (width > 400) /* very long lines: show a window */
		width = 400;
	fputc(' ', diag_out);
	for (size_t i = 0; i < width; i++) {
		unsigned char ch = (unsigned char)diag_src->text[start + i];
		/* tabs and control bytes (a stray NUL) show as spaces */
		fputc(ch < 0x20 || ch == 0x7f ? ' ' : ch, diag_out);
	}
	fputc('\n', diag_out);
	fputc(' ', diag_out);
	for (size_t i = start; i < lo && i - start < width; i++)
		fputc(' ', diag_out);
	fputc('^', diag_out);
	size_t hi = sp.hi > end ? end : sp.hi;
	for (size_t i = lo + 1; i < hi && i - start < width; i++)
		fputc('~', diag_out);
	fputc('\n', diag_out);
}

static void
report(const char *kind, Span sp, const char *fmt, va_list ap)
{
	int line, col;
	diag_line_col(sp, &line, &col);
	fprintf(diag_out, "%s:%d:%d: %s: ", diag_src ? diag_src->path : "pcc",
		line, col, kind);
	vfprintf(diag_out, fmt, ap);
	fputc('\n', diag_out);
	show_source(sp);
}

void
diag_error(Span sp, const char *fmt, ...)
{
	if (diag_stopped)
		return;
	va_list ap;
	va_start(ap, fmt);
	report("error", sp, fmt, ap);
	va_end(ap);
	if (++diag_errors >= DIAG_MAX_ERRORS) {
		fprintf(diag_out, "%s: too many errors, stopping\n",
			diag_src ? diag_src->path : "pcc");
		diag_stopped = 1;
	}
}

void
diag_warning(Span sp, const char *fmt, ...)
{
	if (diag_stopped)
		return;
	va_list ap;
	va_start(ap, fmt);
	report("warning", sp, fmt, ap);
	va_end(ap);
}

void
diag_note(Span sp, const char *fmt, ...)
{
	if (diag_stopped)
		return;
	va_list ap;
	va_start(ap, fmt);
	report("note", sp, fmt, ap);
	va_end(ap);
}

void
diag_error_noloc(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(diag_out ? diag_out : stderr, "pcc: error: ");
	vfprintf(diag_out ? diag_out : stderr, fmt, ap);
	fputc('\n', diag_out ? diag_out : stderr);
	va_end(ap);
	diag_errors++;
}

void
diag_snippet(Span sp, StrBuf *out, size_t max)
{
	if (!diag_src)
		return;
	size_t lo = sp.lo, hi = sp.hi;
	if (hi > diag_src->len)
		hi = diag_src->len;
	int space = 0;
	size_t n = 0;
	for (size_t i = lo; i < hi && n < max; i++) {
		unsigned char c = (unsigned char)diag_src->text[i];
		if (c == '#') { /* drop comments */
			while (i < hi && diag_src->text[i] != '\n')
				i++;
			space = 1;
			continue;
		}
		if (c == '\n' || c == '\t' || c == ' ' || c == '\r') {
			space = 1;
			continue;
		}
		if (space && n) {
			sb_putc(out, ' ');
			n++;
		}
		space = 0;
		/* never let "*" followed by "/" close the C comment */
		if ((c == '/' || c == '*') && out->len &&
		    (out->data[out->len - 1] == '*' ||
		     out->data[out->len - 1] == '/'))
			sb_putc(out, ' ');
		if (c < 32 || c >= 127)
			c = '?';
		sb_putc(out, (char)c);
		n++;
	}
	if (n >= max)
		sb_puts(out, " ...");
}
