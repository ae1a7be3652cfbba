/*
 * main.c — the pcc driver: the command line, then the pipeline
 *
 *   read -> parse -> sema (consts, loops, defs, shapes -> graph)
 *        -> graph analysis -> emit -> atomic write
 *
 * Exit status: 0 success, 1 errors in the model, 2 bad command line,
 * 3 cannot read or write a file, 70 internal error.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcc.h"

enum {
	EXIT_MODEL = 1,
	EXIT_USAGE = 2,
	EXIT_IO = 3
};

#define MAX_DEFINES 64
#define PCC_MAX_INPUT (64L * 1024 * 1024)

typedef struct Options {
	const char *input;
	const char *output;
	const char *header;
	const char *prefix;
	const char *real;
	int batch;
	int check, info;
	int granularity_op;
	const char *dot;
	int zil_control; /* tests only */
	unsigned methods; /* METHOD_* bits */
	int plan_control; /* tests only */
	int unroll;       /* UNROLL_* */
	int no_levelling;
	Define defines[MAX_DEFINES];
	int ndefines;
} Options;

static const char usage_text[] =
	"usage: pcc [options] model.pcg [-o out.c]\n"
	"\n"
	"Compile a .pcg model into C: the forward pass and backpropagation\n"
	"with predictive coding (PC) and Z-IL, which gives exactly BP's\n"
	"parameter updates; no dynamic allocation.\n"
	"\n"
	"options:\n"
	"  -o, --output FILE.c    write the source here and the header next to\n"
	"                         it as FILE.h (default: the input's base name\n"
	"                         with .c, in the current folder)\n"
	"      --header FILE.h    write the header here instead\n"
	"      --prefix NAME      symbol prefix (default: the model name)\n"
	"      --real float|double  scalar type (default float)\n"
	"      --batch N          samples per call (default 1)\n"
	"      --granularity stmt|op  PC vertices: one per named statement\n"
	"                         (default) or one per primitive operation\n"
	"      --dot FILE         also write the levelled graph as Graphviz DOT\n"
	"      --check            check the model; print nothing on success,\n"
	"                         write nothing\n"
	"      --info             print a summary of the model; write nothing\n"
	"      --methods LIST     generate only these training methods and\n"
	"                         their state: a comma list of bp, zil, pc\n"
	"                         (default bp,zil,pc)\n"
	"      --unroll full|loops|auto  a `for` loop's iterations: full writes\n"
	"                         the code of each; loops writes runs of\n"
	"                         iterations that are the same code as one C\n"
	"                         loop (same results, bit for bit); auto\n"
	"                         (default) is loops for models of at least\n"
	"                         4096 operations after unrolling, else full\n"
	"  -D NAME=VALUE          override a const of the model\n"
	"  -h, --help             show this help\n"
	"      --version          show the version\n"
	"\n"
	"exit status: 0 success, 1 errors in the model, 2 bad command line,\n"
	"3 cannot read or write a file, 70 internal error\n";

static int
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "pcc: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'pcc --help'.\n");
	return EXIT_USAGE;
}

static int
is_ident(const char *s)
{
	if (!*s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		     *s == '_'))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

static int
parse_define(Options *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq)
		return usage_error("-D expects NAME=VALUE, got '%s'", arg);
	if (o->ndefines == MAX_DEFINES)
		return usage_error("too many -D options (at most 64): '%s'",
				   arg);
	Define *d = &o->defines[o->ndefines];
	size_t n = (size_t)(eq - arg);
	char *name = malloc(n + 1);
	if (!name)
		die("out of memory");
	memcpy(name, arg, n);
	name[n] = 0;
	if (!is_ident(name)) {
		free(name);
		return usage_error("-D: '%s' is not a valid name", arg);
	}
	char *end;
	errno = 0;
	double v = strtod(eq + 1, &end);
	if (eq[1] == 0 || *end || errno || v != v) {
		free(name);
		return usage_error("-D: '%s' is not NAME=NUMBER", arg);
	}
	d->name = name;
	d->value = v;
	/* like a literal: an integer is written without '.' or exponent */
	d->is_int = !strpbrk(eq + 1, ".eE") && fabs(v) < 9.0e15;
	o->ndefines++;
	return 0;
}

/* --methods LIST: a comma list of bp, zil and pc, each at most once. */
static int
parse_methods(Options *o, const char *val)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {{"bp", METHOD_BP}, {"zil", METHOD_ZIL}, {"pc", METHOD_PC}};
	unsigned m = 0;
	const char *p = val;
	for (;;) {
		size_t n = strcspn(p, ",");
		unsigned bit = 0;
		for (size_t k = 0; k < sizeof names / sizeof *names; k++)
			if (n == strlen(names[k].name) &&
			    strncmp(p, names[k].name, n) == 0)
				bit = names[k].bit;
		if (!bit)
			return usage_error("--methods: expected a comma list "
					   "of bp, zil and pc, got '%s'", val);
		if (m & bit)
			return usage_error("--methods: a method is listed "
					   "twice in '%s'", val);
		m |= bit;
		if (!p[n])
			break;
		p += n + 1;
	}
	o->methods = m;
	return 0;
}

/* Parse argv into o; returns -1 to go on, else an exit status. */
static int
parse_args(Options *o, int argc, char **argv)
{
	o->real = "float";
	o->batch = 1;
	o->methods = METHOD_ALL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		/* options that take a value: --opt VALUE or --opt=VALUE */
		static const char *const with_value[] = {
			"-o", "--output", "--header", "--prefix", "--real",
			"--batch", "-D", "--dot", "--granularity",
			"--zil-control", "--methods", "--plan-control", "--unroll"};
		const char *opt = NULL;
		for (size_t k = 0; k < sizeof with_value / sizeof *with_value;
		     k++) {
			const char *w = with_value[k];
			size_t n = strlen(w);
			if (strcmp(a, w) == 0) {
				if (i + 1 >= argc)
					return usage_error("option %s needs a "
							   "value",
							   w);
				opt = w;
				val = argv[++i];
				break;
			}
			if (strncmp(a, w, n) == 0 &&
			    ((w[1] == '-' && a[n] == '=') ||
			     (w[1] != '-' && a[n] != 0))) {
				opt = w;
				val = a + n + (w[1] == '-' ? 1 : 0);
				break;
			}
		}
		if (opt) {
			if (!strcmp(opt, "-o") || !strcmp(opt, "--output")) {
				o->output = val;
			} else if (!strcmp(opt, "--header")) {
				o->header = val;
			} else if (!strcmp(opt, "--prefix")) {
				if (!is_ident(val))
					return usage_error("--prefix: '%s' is "
							   "not a C identifier",
							   val);
				o->prefix = val;
			} else if (!strcmp(opt, "--real")) {
				if (strcmp(val, "float") && strcmp(val, "double"))
					return usage_error("--real: expected "
							   "float or double, "
							   "got '%s'",
							   val);
				o->real = val;
			} else if (!strcmp(opt, "--batch")) {
				char *end;
				errno = 0;
				long b = strtol(val, &end, 10);
				if (!*val || *end || errno || b < 1 ||
				    b > 1000000)
					return usage_error("--batch: expected a "
							   "whole number from 1 "
							   "to 1000000, got '%s'",
							   val);
				o->batch = (int)b;
			} else if (!strcmp(opt, "-D")) {
				int r = parse_define(o, val);
				if (r)
					return r;
			} else if (!strcmp(opt, "--granularity")) {
				if (!strcmp(val, "stmt"))
					o->granularity_op = 0;
				else if (!strcmp(val, "op"))
					o->granularity_op = 1;
				else
					return usage_error("--granularity: "
							   "expected stmt or "
							   "op, got '%s'",
							   val);
			} else if (!strcmp(opt, "--methods")) {
				int r = parse_methods(o, val);
				if (r)
					return r;
			} else if (!strcmp(opt, "--unroll")) {
				if (!strcmp(val, "auto"))
					o->unroll = UNROLL_AUTO;
				else if (!strcmp(val, "full"))
					o->unroll = UNROLL_FULL;
				else if (!strcmp(val, "loops"))
					o->unroll = UNROLL_LOOPS;
				else if (!strcmp(val, "control-backwards"))
					/* tests only: a negative control */
					o->unroll = UNROLL_CONTROL;
				else
					return usage_error("--unroll: expected "
							   "full, loops or auto, "
							   "got '%s'",
							   val);
			} else if (!strcmp(opt, "--plan-control")) {
				/* tests only: a memory plan that ignores
				 * lifetimes, which must break the results */
				if (strcmp(val, "overlap"))
					return usage_error("--plan-control: "
							   "expected overlap, got "
							   "'%s'", val);
				o->plan_control = 1;
			} else if (!strcmp(opt, "--dot")) {
				o->dot = val;
			} else {
				/* --zil-control: negative controls for the
				 * tests, not for users */
				if (!strcmp(val, "gamma"))
					o->zil_control = 1;
				else if (!strcmp(val, "late"))
					o->zil_control = 2;
				else if (!strcmp(val, "flat"))
					o->no_levelling = 1;
				else if (!strcmp(val, "every"))
					o->zil_control = 3;
				else if (!strcmp(val, "first"))
					o->zil_control = 4;
				else
					return usage_error("--zil-control: "
							   "expected gamma, late, "
							   "flat, every or first, "
							   "got '%s'",
							   val);
			}
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage_text, stdout);
			return 0;
		}
		if (!strcmp(a, "--version")) {
			printf("pcc %s\n", PCC_VERSION);
			return 0;
		}
		if (!strcmp(a, "--check")) {
			o->check = 1;
			continue;
		}
		if (!strcmp(a, "--info")) {
			o->info = 1;
			continue;
		}
		if (a[0] == '-' && a[1] != 0)
			return usage_error("unknown option '%s'", a);
		if (o->input)
			return usage_error("more than one input file ('%s')", a);
		o->input = a;
	}
	if (!o->input)
		return usage_error("%s", "no input file");
	if (o->zil_control &&
	    (o->methods & (METHOD_ZIL | METHOD_PC)) != (METHOD_ZIL | METHOD_PC))
		return usage_error("%s", "--zil-control gamma, late, every and first need "
				   "--methods with zil and pc");
	return -1;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "pcc: error: cannot read '%s': %s\n", path,
			strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fprintf(stderr, "pcc: error: cannot read '%s': is a directory\n",
			path);
		fclose(f);
		return NULL;
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		die("out of memory");
	for (;;) {
		if (n + 1 >= cap) {
			if (cap >= (size_t)PCC_MAX_INPUT) {
				fprintf(stderr,
					"pcc: error: '%s' is too large (more "
					"than %ld bytes)\n",
					path, PCC_MAX_INPUT);
				free(buf);
				fclose(f);
				return NULL;
			}
			cap *= 2;
			char *nb = realloc(buf, cap);
			if (!nb)
				die("out of memory");
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "pcc: error: cannot read '%s': %s\n", path,
			strerror(errno));
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

/* Write data to a temporary file next to path; returns its name. */
static char *
write_temp(const char *path, const char *data, size_t len)
{
	size_t n = strlen(path);
	char *tmp = malloc(n + 16);
	if (!tmp)
		die("out of memory");
	snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "pcc: error: cannot write '%s': %s\n", path,
			strerror(errno));
		free(tmp);
		return NULL;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "pcc: error: cannot write '%s': %s\n",
				path, strerror(errno));
			close(fd);
			unlink(tmp);
			free(tmp);
			return NULL;
		}
		off += (size_t)w;
	}
	fchmod(fd, 0644);
	if (close(fd) != 0) {
		fprintf(stderr, "pcc: error: cannot write '%s': %s\n", path,
			strerror(errno));
		unlink(tmp);
		free(tmp);
		return NULL;
	}
	return tmp;
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* "dir/x.pcg" -> "x" + ext, in the current folder */
static char *
default_output(const char *input, const char *ext)
{
	const char *b = base_name(input);
	size_t n = strlen(b);
	const char *dot = strrchr(b, '.');
	if (dot && dot != b)
		n = (size_t)(dot - b);
	char *r = malloc(n + strlen(ext) + 1);
	if (!r)
		die("out of memory");
	memcpy(r, b, n);
	strcpy(r + n, ext);
	return r;
}

/* "out.c" -> "out.h"; other names get ".h" appended */
static char *
header_for(const char *out)
{
	size_t n = strlen(out);
	char *r = malloc(n + 3);
	if (!r)
		die("out of memory");
	strcpy(r, out);
	if (n >= 2 && strcmp(out + n - 2, ".c") == 0)
		r[n - 1] = 'h';
	else
		strcat(r, ".h");
	return r;
}

static void
print_info(const Graph *g, const Options *o, int64_t state_reals,
	   const EmitSizes *z)
{
	int nreal = 0;
	for (int i = 0; i < g->pcv.len; i++) {
		PcVertex *v = g->pcv.items[i];
		if (v->root)
			nreal++;
	}
	size_t rs = strcmp(o->real, "float") == 0 ? 4 : 8;
	printf("model %s\n", g->name);
	printf("granularity %s\n", g->granularity_op ? "op" : "stmt");
	printf("vertices %d\n", nreal);
	printf("identity vertices %d\n", g->nidentity);
	printf("depth %d\n", g->depth);
	for (int l = 0; l < g->depth; l++) {
		int n = 0, ids = 0;
		for (int i = 0; i < g->pcv.len; i++) {
			PcVertex *x = g->pcv.items[i];
			if (x->level == l) {
				n++;
				ids += !x->root;
			}
		}
		printf("level %d: %d vertices (%d identity)\n", l, n, ids);
	}
	printf("operations %d\n", g->nodes.len);
	printf("parameters %d (%lld scalars)\n", g->params.len,
	       (long long)g->param_count);
	printf("losses %d\n", g->losses.len);
	printf("batch %d\n", o->batch);
	long long b = (long long)rs;
	printf("params bytes %lld\n", (long long)g->param_count * b);
	printf("state bytes %lld (data %lld, values %lld, deltas %lld, shared "
	       "%lld, pc %lld, zil %lld, gradient %lld)\n",
	       (long long)state_reals * b, (long long)z->data * b,
	       (long long)z->values * b, (long long)z->deltas * b,
	       (long long)z->shared * b, (long long)z->pc * b,
	       (long long)z->zil * b, (long long)z->grad * b);
	printf("workspace bytes %lld\n",
	       (long long)(state_reals - z->data) * b);
	/* what each training function needs: the parameters and the
	 * parts of the state it touches */
	for (int i = 0; i < z->nfn; i++) {
		int step = !strncmp(z->fn[i].name, "step_", 5);
		int grad = !strncmp(z->fn[i].name, "grad_", 5);
		printf("%s peak bytes %lld (params%s and the state it "
		       "touches)\n", z->fn[i].name,
		       (long long)(g->param_count + z->fn[i].reals +
				   (step ? 2 * g->param_count : 0)) * b,
		       step ? ", optimizer moments" : grad ? ", gradient" : "");
	}
}

/* Write a whole file atomically; 0 on success. */
static int
write_atomic(const char *path, const char *data, size_t len)
{
	char *t = write_temp(path, data, len);
	if (!t)
		return -1;
	if (rename(t, path) != 0) {
		fprintf(stderr, "pcc: error: cannot write '%s': %s\n", path,
			strerror(errno));
		unlink(t);
		free(t);
		return -1;
	}
	free(t);
	return 0;
}

int
main(int argc, char **argv)
{
	Options o;
	memset(&o, 0, sizeof o);
	int r = parse_args(&o, argc, argv);
	if (r >= 0)
		return r;

	Source src;
	src.path = o.input;
	src.text = read_file(o.input, &src.len);
	if (!src.text)
		return EXIT_IO;
	Diag diag;
	diag_begin(&diag, &src, stderr);

	Arena arena;
	arena_init(&arena);
	int status = EXIT_MODEL;
	CompileOptions co = {
		.granularity_op = o.granularity_op,
		.level = o.no_levelling ? LEVEL_OFF : LEVEL_ON,
		.batch = o.batch,
		.defines = o.defines,
		.ndefines = o.ndefines,
		/* rolled loops keep the generated code small: a longer
		 * model is accepted when it may be rolled */
		.max_nodes = o.unroll == UNROLL_FULL ? 0 : UNROLL_MAX_NODES,
	};
	Graph *g = pcc_compile(&arena, &diag, &co);
	if (!g)
		goto done;
	status = EXIT_SUCCESS;
	if (o.check)
		goto done;
	if (o.dot) {
		char *buf = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&buf, &len);
		if (!m)
			die("open_memstream failed");
		level_dot(m, g);
		fclose(m);
		int r = write_atomic(o.dot, buf, len);
		free(buf);
		if (r) {
			status = EXIT_IO;
			goto done;
		}
	}
	EmitSizes sizes;
	char *out = o.output ? strdup(o.output) : default_output(o.input, ".c");
	char *hdr = o.header ? strdup(o.header) : header_for(out);
	EmitOptions eo = {
		.prefix = o.prefix ? o.prefix : g->name,
		.real = o.real,
		.batch = o.batch,
		.source_name = base_name(o.input),
		.header_name = base_name(hdr),
		.zil_control = o.zil_control,
		.methods = o.methods,
		.plan_control = o.plan_control,
		.unroll = o.unroll,
		.sizes = &sizes,
	};
	StrBuf h = {0}, c = {0};
	int64_t state_reals = emit_model(&arena, g, &eo, &h, &c);
	/* beyond the operations --unroll=full accepts, only rolled code:
	 * a long model whose code did not roll would be as large as its
	 * graph (about 1 KB an operation) */
	if (g->nodes.len > UNROLL_FULL_NODES &&
	    c.len > (size_t)UNROLL_FULL_NODES * 1024) {
		fprintf(stderr, "pcc: error: model too large: %d operations "
			"after unrolling loops and inlining defs, and its code "
			"did not roll into loops (%zu MB of C); at most %d "
			"operations are written in full\n", g->nodes.len,
			c.len >> 20, UNROLL_FULL_NODES);
		sb_free(&h);
		sb_free(&c);
		free(out);
		free(hdr);
		status = EXIT_MODEL;
		goto done;
	}
	if (o.info) {
		print_info(g, &o, state_reals, &sizes);
		sb_free(&h);
		sb_free(&c);
		free(out);
		free(hdr);
		goto done;
	}
	char *th = write_temp(hdr, h.data, h.len);
	char *tc = th ? write_temp(out, c.data, c.len) : NULL;
	status = EXIT_IO;
	if (th && tc) {
		if (rename(th, hdr) != 0) {
			fprintf(stderr, "pcc: error: cannot write '%s': %s\n",
				hdr, strerror(errno));
		} else if (rename(tc, out) != 0) {
			fprintf(stderr, "pcc: error: cannot write '%s': %s\n",
				out, strerror(errno));
		} else {
			status = EXIT_SUCCESS;
		}
	}
	if (th)
		unlink(th);
	if (tc)
		unlink(tc);
	free(th);
	free(tc);
	sb_free(&h);
	sb_free(&c);
	free(out);
	free(hdr);
done:
	diag_end(&diag);
	arena_free(&arena);
	free((char *)src.text);
	for (int i = 0; i < o.ndefines; i++)
		free((char *)o.defines[i].name);
	return status;
}
