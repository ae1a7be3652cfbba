/*
 * plot.c — CSV of the curves, and two ways to draw them as SVG: gnuplot,
 * or a small writer of our own (two panels: training loss and test
 * accuracy against the epoch, one line per method).  Files are written to
 * a temporary name and renamed, so a reader never sees half a file.
 */
#define _POSIX_C_SOURCE 200809L /* popen */

#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const method_names[NUM_METHODS] = {"bp", "zil", "pc", "fazil",
						"ipc"};
static const char *const method_titles[NUM_METHODS] = {
	"BP", "Z-IL", "PC", "Fa-Z-IL", "iPC"};
static const char *const method_colours[NUM_METHODS] = {
	"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#d62728"};

FILE *
atomic_open(const char *path, char *tmp, size_t size)
{
	snprintf(tmp, size, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		fprintf(stderr, "%s: cannot write: %s\n", tmp, strerror(errno));
	return f;
}

/* the finished temporary file takes the final name */
static int
commit_tmp(const char *tmp, const char *path)
{
	if (rename(tmp, path)) {
		fprintf(stderr, "%s: cannot write: %s\n", path, strerror(errno));
		remove(tmp);
		return -1;
	}
	return 0;
}

int
atomic_close(FILE *f, const char *tmp, const char *path)
{
	int bad = ferror(f);
	if (fclose(f) || bad) {
		fprintf(stderr, "%s: cannot write: %s\n", tmp, strerror(errno));
		remove(tmp);
		return -1;
	}
	return commit_tmp(tmp, path);
}

int
plot_write_csv(const char *path, const record *r, int n)
{
	char tmp[4200];
	FILE *f = atomic_open(path, tmp, sizeof tmp);
	if (!f)
		return -1;
	fprintf(f, "epoch,method,train_loss,test_accuracy,seconds,"
		   "max_abs_diff_zil_bp\n");
	for (int i = 0; i < n; i++) {
		fprintf(f, "%d,%s,%.9g,%.6f,%.6f,", r[i].epoch,
			method_names[r[i].method], r[i].loss, r[i].accuracy,
			r[i].seconds);
		if (r[i].diff >= 0)
			fprintf(f, "%.9g", r[i].diff);
		fputc('\n', f);
	}
	return atomic_close(f, tmp, path);
}

int
plot_read_csv(const char *path, record *r, int max, int *n)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "%s: cannot open: %s\n", path, strerror(errno));
		return -1;
	}
	char line[512];
	int line_no = 0;
	*n = 0;
	while (fgets(line, sizeof line, f)) {
		if (++line_no == 1)
			continue; /* the header */
		record x;
		char name[16];
		int used = 0;
		if (sscanf(line, "%d,%15[a-z],%lf,%lf,%lf,%n", &x.epoch, name,
			   &x.loss, &x.accuracy, &x.seconds, &used) != 5 ||
		    !used) {
			fprintf(stderr, "%s:%d: not a row of curves\n", path,
				line_no);
			fclose(f);
			return -1;
		}
		x.diff = -1;
		if (line[used] != '\n' && line[used] != 0)
			x.diff = strtod(line + used, NULL);
		int m = 0;
		while (m < NUM_METHODS && strcmp(name, method_names[m]))
			m++;
		if (m == NUM_METHODS || *n == max) {
			fprintf(stderr, "%s:%d: unknown method or too many rows\n",
				path, line_no);
			fclose(f);
			return -1;
		}
		x.method = (enum method)m;
		r[(*n)++] = x;
	}
	fclose(f);
	return 0;
}

/* --- the SVG writer --- */

/* a "nice" tick step (1, 2 or 5 times a power of ten) for the span */
static double
tick_step(double span, int want)
{
	double raw = span / want, p = pow(10, floor(log10(raw)));
	double m = raw / p;
	return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

typedef struct panel {
	double x0, y0, w, h;       /* plot area, pixels */
	double xmin, xmax, ymin, ymax;
} panel;

static double
px(const panel *p, double x)
{
	return p->x0 + (x - p->xmin) / (p->xmax - p->xmin) * p->w;
}

static double
py(const panel *p, double y)
{
	return p->y0 + p->h - (y - p->ymin) / (p->ymax - p->ymin) * p->h;
}

/* The frame of a panel: its box, title, ticks and axis labels.  With
 * logy the y values are log10 of the data and the ticks powers of ten. */
static void
draw_frame(FILE *f, const panel *p, const char *title, const char *xlabel,
	   const char *ylabel, double yscale, int logy)
{
	fprintf(f, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' "
		   "fill='none' stroke='#444'/>\n",
		p->x0, p->y0, p->w, p->h);
	fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='middle' "
		   "font-weight='bold'>%s</text>\n",
		p->x0 + p->w / 2, p->y0 - 10, title);
	double ys = logy ? ceil((p->ymax - p->ymin) / 6)
			 : tick_step(p->ymax - p->ymin, 5);
	for (double t = ceil(p->ymin / ys) * ys; t <= p->ymax + ys * 1e-9;
	     t += ys) {
		fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' "
			   "stroke='#ddd'/>\n",
			p->x0, py(p, t), p->x0 + p->w, py(p, t));
		fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='end'>%g</text>\n",
			p->x0 - 6, py(p, t) + 4,
			logy ? pow(10, t) : t * yscale);
	}
	double xs = tick_step(p->xmax - p->xmin, 6);
	if (xs < 1)
		xs = 1;
	for (double t = ceil(p->xmin / xs) * xs; t <= p->xmax + 1e-9; t += xs)
		fprintf(f, "<text x='%.1f' y='%.1f' "
			   "text-anchor='middle'>%g</text>\n",
			px(p, t), p->y0 + p->h + 16, t);
	fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='middle'>%s</text>\n",
		p->x0 + p->w / 2, p->y0 + p->h + 34, xlabel);
	fprintf(f, "<text transform='translate(%.1f,%.1f) rotate(-90)' "
		   "text-anchor='middle'>%s</text>\n",
		p->x0 - (logy ? 64 : 50), p->y0 + p->h / 2, ylabel);
}

static void
draw_panel(FILE *f, const panel *p, const char *title, const char *ylabel,
	   double yscale, const record *r, int n, int field)
{
	draw_frame(f, p, title, "epoch", ylabel, yscale, 0);
	for (int m = 0; m < NUM_METHODS; m++) {
		int any = 0;
		for (int i = 0; i < n; i++) {
			if (r[i].method != (enum method)m)
				continue;
			double v = field ? r[i].accuracy : r[i].loss;
			if (!isfinite(v))
				continue; /* a diverged run: no point to draw */
			fprintf(f, "%s%.1f,%.1f", any ? " " : "<polyline points='",
				px(p, r[i].epoch), py(p, v));
			any = 1;
		}
		if (!any)
			continue;
		/* Z-IL lies exactly on BP: dashed on top, so both show */
		fprintf(f, "' fill='none' stroke='%s' stroke-width='%s'%s/>\n",
			method_colours[m], m == METHOD_ZIL ? "2" : "2.5",
			m == METHOD_ZIL ? " stroke-dasharray='6,4'" : "");
	}
}

static FILE *
svg_open(const char *path, char *tmp, size_t size, double width,
	 double height, const char *title)
{
	FILE *f = atomic_open(path, tmp, size);
	if (f)
		fprintf(f, "<?xml version='1.0' encoding='UTF-8'?>\n"
			   "<svg xmlns='http://www.w3.org/2000/svg' "
			   "width='%g' height='%g' viewBox='0 0 %g %g' "
			   "font-family='sans-serif' font-size='12'>\n"
			   "<rect width='100%%' height='100%%' fill='white'/>\n"
			   "<text x='%g' y='24' text-anchor='middle' "
			   "font-size='15'>%s</text>\n",
			width, height, width, height, width / 2, title);
	return f;
}

int
plot_svg(const char *path, const char *title, const record *r, int n)
{
	const double width = 900, height = 400;
	panel loss = {70, 60, 330, 270, 0, 1, 0, 1};
	panel acc = {520, 60, 330, 270, 0, 1, 0, 1};
	int last = 1;
	double lmax = 0, amin = 1;
	for (int i = 0; i < n; i++) {
		if (r[i].epoch > last)
			last = r[i].epoch;
		if (isfinite(r[i].loss) && r[i].loss > lmax)
			lmax = r[i].loss;
		if (r[i].accuracy < amin)
			amin = r[i].accuracy;
	}
	loss.xmin = acc.xmin = 1;
	loss.xmax = acc.xmax = last > 1 ? last : 2;
	double ls = tick_step(lmax > 0 ? lmax : 1, 5);
	loss.ymax = ceil((lmax > 0 ? lmax : 1) / ls) * ls;
	double as = tick_step(1 - amin > 0.01 ? 1 - amin : 0.01, 5);
	acc.ymin = floor(amin / as) * as;
	acc.ymax = 1;
	if (acc.ymin >= acc.ymax)
		acc.ymin = acc.ymax - as;

	char tmp[4200];
	FILE *f = svg_open(path, tmp, sizeof tmp, width, height, title);
	if (!f)
		return -1;
	draw_panel(f, &loss, "training loss", "mean cross-entropy", 1, r, n, 0);
	draw_panel(f, &acc, "test accuracy", "accuracy (%)", 100, r, n, 1);
	double lx = 120;
	for (int m = 0; m < NUM_METHODS; m++) {
		int present = 0;
		for (int i = 0; i < n; i++)
			present |= r[i].method == (enum method)m;
		if (!present)
			continue;
		fprintf(f, "<line x1='%g' y1='385' x2='%g' y2='385' stroke='%s' "
			   "stroke-width='2.5'%s/>\n"
			   "<text x='%g' y='389'>%s</text>\n",
			lx, lx + 30, method_colours[m],
			m == METHOD_ZIL ? " stroke-dasharray='6,4'" : "", lx + 36,
			method_titles[m]);
		lx += 110;
	}
	fprintf(f, "</svg>\n");
	return atomic_close(f, tmp, path);
}

/* --- the trace: energy per level and the cosine with BP, per step --- */

/* level l of n: from dark blue (the loss's level) to orange */
static void
level_colour(char *buf, size_t size, int l, int n)
{
	double u = n > 1 ? (double)l / (n - 1) : 0;
	int r = (int)(31 + u * (255 - 31)), g = (int)(60 + u * (127 - 60)),
	    b = (int)(160 + u * (14 - 160));
	snprintf(buf, size, "#%02x%02x%02x", r, g, b);
}

int
plot_trace_svg(const char *path, const char *title, const trace_table *tr)
{
	const double width = 900, height = 430;
	const int cols = tr->depth + 2, rows = tr->steps + 1;
	int shown = 0; /* the method whose levels are drawn */
	for (int k = 0; k < tr->count; k++)
		if (tr->method[k] == METHOD_PC)
			shown = k;
	const double *v = tr->v + (size_t)shown * rows * cols;
	double emax = 0, emin = INFINITY;
	for (int t = 0; t < rows; t++)
		for (int l = 0; l < tr->depth; l++) {
			double e = v[t * cols + 2 + l];
			if (e > 0 && isfinite(e)) {
				emax = fmax(emax, e);
				emin = fmin(emin, e);
			}
		}
	if (!(emax > 0)) {
		emax = 1;
		emin = 0.1;
	}
	/* at most 12 decades below the largest, so one tiny level does not
	 * flatten the rest */
	emin = fmax(emin, emax * 1e-12);
	panel en = {80, 60, 330, 270, 0, rows > 1 ? rows - 1 : 1,
		    floor(log10(emin)), ceil(log10(emax))};
	if (en.ymax <= en.ymin)
		en.ymax = en.ymin + 1;
	/* the cosine from a tenth below its smallest value to 1 */
	double cmin = 1;
	for (int k = 0; k < tr->count; k++)
		for (int t = 0; t < rows; t++) {
			double c = tr->v[((size_t)k * rows + t) * cols + 1];
			if (isfinite(c))
				cmin = fmin(cmin, c);
		}
	panel co = {540, 60, 330, 270, 0, en.xmax,
		    fmax(-1, fmin(0.9, floor(cmin * 10) / 10)), 1};

	char tmp[4200], buf[64];
	FILE *f = svg_open(path, tmp, sizeof tmp, width, height, title);
	if (!f)
		return -1;
	snprintf(buf, sizeof buf, "energy per level (%s's parameters)",
		 method_names[tr->method[shown]]);
	draw_frame(f, &en, buf, "inference step", "energy (log scale)", 1, 1);
	for (int l = 0; l < tr->depth; l++) {
		int any = 0;
		char colour[16];
		level_colour(colour, sizeof colour, l, tr->depth);
		for (int t = 0; t < rows; t++) {
			double e = v[t * cols + 2 + l];
			if (!(e >= emin) || !isfinite(e)) {
				if (any)
					fprintf(f, "' fill='none' stroke='%s' "
						   "stroke-width='1.8'/>\n",
						colour);
				any = 0; /* below the axis: a gap */
				continue;
			}
			fprintf(f, "%s%.1f,%.1f", any ? " " : "<polyline points='",
				px(&en, t), py(&en, log10(e)));
			any = 1;
		}
		if (any)
			fprintf(f, "' fill='none' stroke='%s' stroke-width='1.8'/>\n",
				colour);
	}
	draw_frame(f, &co, "cosine of PC's gradient with BP's",
		   "inference step", "cosine", 1, 0);
	for (int k = 0; k < tr->count; k++) {
		const double *w = tr->v + (size_t)k * rows * cols;
		int any = 0, m = (int)tr->method[k];
		for (int t = 0; t < rows; t++) {
			double c = w[t * cols + 1];
			if (!isfinite(c))
				continue;
			fprintf(f, "%s%.1f,%.1f", any ? " " : "<polyline points='",
				px(&co, t), py(&co, c));
			any = 1;
		}
		if (any)
			fprintf(f, "' fill='none' stroke='%s' stroke-width='2'/>\n",
				method_colours[m]);
	}
	/* legends: a few levels' colours, then the methods' */
	int every = (tr->depth + 7) / 8;
	double lx = 80;
	for (int l = 0; l < tr->depth; l += every) {
		char colour[16];
		level_colour(colour, sizeof colour, l, tr->depth);
		fprintf(f, "<line x1='%g' y1='390' x2='%g' y2='390' stroke='%s' "
			   "stroke-width='2.5'/>\n<text x='%g' y='394'>"
			   "level %d</text>\n",
			lx, lx + 16, colour, lx + 20, l);
		lx += 68;
	}
	lx = 540;
	for (int k = 0; k < tr->count; k++) {
		int m = (int)tr->method[k];
		fprintf(f, "<line x1='%g' y1='414' x2='%g' y2='414' stroke='%s' "
			   "stroke-width='2.5'/>\n<text x='%g' y='418'>"
			   "%s</text>\n",
			lx, lx + 24, method_colours[m], lx + 28,
			method_titles[m]);
		lx += 84;
	}
	fprintf(f, "</svg>\n");
	return atomic_close(f, tmp, path);
}

/* --- gnuplot: the same two panels, the curves as data blocks --- */

int
plot_gnuplot(const char *path, const char *title, const record *r, int n)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *g = popen("gnuplot", "w");
	if (!g) {
		fprintf(stderr, "gnuplot: cannot run: %s\n", strerror(errno));
		return -1;
	}
	int present[NUM_METHODS] = {0}, last = 2;
	for (int i = 0; i < n; i++)
		last = r[i].epoch > last ? r[i].epoch : last;
	for (int m = 0; m < NUM_METHODS; m++) {
		for (int i = 0; i < n; i++)
			present[m] |= r[i].method == (enum method)m;
		if (!present[m])
			continue; /* gnuplot stops at a curve of no points */
		fprintf(g, "$%s << EOD\n", method_names[m]);
		for (int i = 0; i < n; i++)
			if (r[i].method == (enum method)m)
				fprintf(g, "%d %.9g %.9g\n", r[i].epoch, r[i].loss,
					100 * r[i].accuracy);
		fprintf(g, "EOD\n");
	}
	fprintf(g, "set terminal svg size 900,400 dynamic font 'sans,12'\n"
		   "set output '%s'\n"
		   "set multiplot layout 1,2 title '%s'\n"
		   "set xlabel 'epoch'\nset grid\nset xrange [1:%d]\n%s",
		tmp, title, last, last <= 10 ? "set xtics 1\n" : "");
	const char *what[2][4] = {
		{"training loss", "mean cross-entropy", "2", "top right"},
		{"test accuracy", "accuracy (%)", "3", "bottom right"}};
	for (int panel = 0; panel < 2; panel++) {
		fprintf(g, "set title '%s'\nset ylabel '%s'\nset key %s\nplot ",
			what[panel][0], what[panel][1], what[panel][3]);
		int first = 1;
		for (int m = 0; m < NUM_METHODS; m++) {
			if (!present[m])
				continue;
			fprintf(g,
				"%s$%s using 1:%s with lines lw %s dt %s "
				"lc rgb '%s' title '%s'",
				first ? "" : ", ", method_names[m], what[panel][2],
				m == METHOD_ZIL ? "2" : "2.5",
				m == METHOD_ZIL ? "2" : "1", method_colours[m],
				method_titles[m]);
			first = 0;
		}
		fprintf(g, "\n");
	}
	fprintf(g, "unset multiplot\nset output\n");
	if (pclose(g) != 0) {
		fprintf(stderr, "%s: gnuplot failed\n", path);
		remove(tmp);
		return -1;
	}
	return commit_tmp(tmp, path);
}
