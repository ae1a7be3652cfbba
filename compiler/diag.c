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

void
diag_begin(Diag *d, const Source *src, FILE *out)
{
	memset(d, 0, sizeof *d);
	d->src = src;
	d->out = out ? out : stderr;
}

void
diag_end(Diag *d)
{
	free(d->line_start);
	d->line_start = NULL;
	d->nlines = 0;
}

int
diag_error_count(const Diag *d)
{
	return d->errors;
}

int
diag_too_many(const Diag *d)
{
	return d->errors >= DIAG_MAX_ERRORS;
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
make_line_table(Diag *d)
{
	size_t n = 1;
	for (size_t i = 0; i < d->src->len; i++)
		n += d->src->text[i] == '\n';
	d->line_start = malloc(n * sizeof *d->line_start);
	if (!d->line_start)
		die("out of memory (%zu lines)", n);
	d->line_start[0] = 0;
	d->nlines = 1;
	for (size_t i = 0; i < d->src->len; i++)
		if (d->src->text[i] == '\n')
			d->line_start[d->nlines++] = i + 1;
}

/* Line and column (from 1, in bytes) of sp.lo, by a binary search of the
 * line starts: sema asks for the line of every statement it builds. */
void
diag_line_col(Diag *d, Span sp, int *line, int *col)
{
	*line = *col = 1;
	if (!d->src)
		return;
	if (!d->line_start)
		make_line_table(d);
	size_t pos = sp.lo > d->src->len ? d->src->len : sp.lo;
	size_t lo = 0, hi = d->nlines; /* d->line_start[lo] <= pos < d->line_start[hi] */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (d->line_start[mid] <= pos)
			lo = mid;
		else
			hi = mid;
	}
	*line = (int)(lo + 1);
	*col = (int)(pos - d->line_start[lo] + 1);
}

static void
show_source(Diag *d, Span sp)
{
	if (!d->src)
		return;
	size_t lo = sp.lo > d->src->len ? d->src->len : sp.lo;
	size_t start = lo, end = lo;
	while (start > 0 && d->src->text[start - 1] != '\n')
		start--;
	while (end < d->src->len && d->src->text[end] != '\n')
		end++;
	if (start == end && lo == d->src->len && lo > 0)
		return; /* at end of file on an empty last line: nothing to show */
	size_t width = end - start;
	if (width > 400) /* very long lines: show a window */
		width = 400;
	fputc(' ', d->out);
	for (size_t i = 0; i < width; i++) {
		unsigned char ch = (unsigned char)d->src->text[start + i];
		/* tabs and control bytes (a stray NUL) show as spaces */
		fputc(ch < 0x20 || ch == 0x7f ? ' ' : ch, d->out);
	}
	fputc('\n', d->out);
	fputc(' ', d->out);
	for (size_t i = start; i < lo && i - start < width; i++)
		fputc(' ', d->out);
	fputc('^', d->out);
	size_t hi = sp.hi > end ? end : sp.hi;
	for (size_t i = lo + 1; i < hi && i - start < width; i++)
		fputc('~', d->out);
	fputc('\n', d->out);
}

static void
report(Diag *d, const char *kind, Span sp, const char *fmt, va_list ap)
{
	int line, col;
	diag_line_col(d, sp, &line, &col);
	fprintf(d->out, "%s:%d:%d: %s: ", d->src ? d->src->path : "pcc",
		line, col, kind);
	vfprintf(d->out, fmt, ap);
	fputc('\n', d->out);
	show_source(d, sp);
}

void
diag_error(Diag *d, Span sp, const char *fmt, ...)
{
	if (d->stopped)
		return;
	va_list ap;
	va_start(ap, fmt);
	report(d, "error", sp, fmt, ap);
	va_end(ap);
	if (++d->errors >= DIAG_MAX_ERRORS) {
		fprintf(d->out, "%s: too many errors, stopping\n",
			d->src ? d->src->path : "pcc");
		d->stopped = 1;
	}
}

void
diag_warning(Diag *d, Span sp, const char *fmt, ...)
{
	if (d->stopped)
		return;
	va_list ap;
	va_start(ap, fmt);
	report(d, "warning", sp, fmt, ap);
	va_end(ap);
}

void
diag_note(Diag *d, Span sp, const char *fmt, ...)
{
	if (d->stopped)
		return;
	va_list ap;
	va_start(ap, fmt);
	report(d, "note", sp, fmt, ap);
	va_end(ap);
}

void
diag_error_noloc(Diag *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(d->out ? d->out : stderr, "pcc: error: ");
	vfprintf(d->out ? d->out : stderr, fmt, ap);
	fputc('\n', d->out ? d->out : stderr);
	va_end(ap);
	d->errors++;
}

void
diag_snippet(Diag *d, Span sp, StrBuf *out, size_t max)
{
	if (!d->src)
		return;
	size_t lo = sp.lo, hi = sp.hi;
	if (hi > d->src->len)
		hi = d->src->len;
	int space = 0;
	size_t n = 0;
	for (size_t i = lo; i < hi && n < max; i++) {
		unsigned char c = (unsigned char)d->src->text[i];
		if (c == '#') { /* drop comments */
			while (i < hi && d->src->text[i] != '\n')
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
