/*
 * emit.c — C code generation: the shared helpers and the assembly.
 *
 * Takes the levelled Graph and the options; gives the header and the
 * source of the generated model.  The parts (see emit.h):
 *   - kernels: elementwise ops become small static functions generated
 *     from the op table's C expressions, once per op (or per broadcast
 *     pattern), shared by every node that needs them; every other op calls
 *     the runtime's kernels or its GEMM (ops.c);
 *   - forward(), backward() (BP), zil_schedule() and zil_train() (Z-IL),
 *     pc_*() (the PC network): long bodies split into chunk functions;
 *   - the API functions of API.md (emit_api.c).
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"

/* ---------------------------------------------------------- helpers */

const char *
emit_lit(Emit *E, double x)
{
	char buf[64];
	if (isnan(x))
		return "NAN";
	if (isinf(x))
		return x > 0 ? "INFINITY" : "-INFINITY";
	/* the same few constants (0, 1, -1) in every step of a long model:
	 * the last ones are kept, compared by their bits (0.0 is not -0.0) */
	uint64_t bits;
	memcpy(&bits, &x, sizeof bits);
	int n = E->nlit < EMIT_LITS ? E->nlit : EMIT_LITS;
	for (int i = 0; i < n; i++)
		if (E->lit[i].bits == bits)
			return E->lit[i].s;
	snprintf(buf, sizeof buf, E->is_float ? "%.9g" : "%.17g", x);
	if (!strpbrk(buf, ".eE"))
		strcat(buf, ".0");
	if (E->is_float)
		strcat(buf, "f");
	int k = E->nlit % EMIT_LITS;
	E->lit[k].bits = bits;
	E->lit[k].s = arena_strdup(E->keep, buf);
	E->nlit = k + 1 + (E->nlit >= EMIT_LITS ? EMIT_LITS : 0);
	return E->lit[k].s;
}

/* A libm function (sqrtf / sqrt) or a pcg_runtime.h macro (PCG_EXPF /
 * PCG_EXP: libm's, or the runtime's own under PCG_REPRODUCIBLE). */
const char *
emit_fn(Emit *E, const char *name)
{
	if (!E->is_float)
		return name;
	return arena_printf(E->a, strncmp(name, "PCG_", 4) ? "%sf" : "%sF",
			    name);
}

const char *
emit_rt(Emit *E, const char *name)
{
	/* a few dozen names, each written at every step of a long model:
	 * made once */
	for (int i = 0; i < E->nrt; i++)
		if (E->rt[i].name[0] == name[0] && !strcmp(E->rt[i].name, name))
			return E->rt[i].s;
	const char *s = arena_printf(E->keep, "pcg_%s_%c", name,
				     E->is_float ? 'f' : 'd');
	if (E->nrt < EMIT_RTS) {
		E->rt[E->nrt].name = arena_strdup(E->keep, name);
		E->rt[E->nrt++].s = s;
	}
	return s;
}

void
emit_line(Emit *E, const char *fmt, ...)
{
	va_list ap;
	sb_puts(E->out, E->ind);
	va_start(ap, fmt);
	sb_vprintf(E->out, fmt, ap);
	va_end(ap);
	sb_putc(E->out, '\n');
}

void
emit_kern(Emit *E, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sb_vprintf(&E->kern, fmt, ap);
	va_end(ap);
}

int
emit_kernel_begin(Emit *E, const char *name)
{
	/* asked at every use of a kernel: names compared by hash first */
	uint64_t h = util_hash(name, strlen(name), 0);
	for (int i = 0; i < E->kernels.len; i++) {
		const struct EmitKernel *k = E->kernels.items[i];
		if (k->hash == h && strcmp(k->name, name) == 0)
			return 0;
	}
	struct EmitKernel *k = arena_alloc(E->keep, sizeof *k);
	k->hash = h;
	k->name = arena_strdup(E->keep, name);
	vec_push(E->keep, &E->kernels, k);
	return 1;
}

const char *
emit_count(Emit *E, const Node *n)
{
	if (n->batched)
		return arena_printf(E->a, "nb * %lld", (long long)emit_numel(n));
	return arena_printf(E->a, "%lld", (long long)emit_numel(n));
}

const char *
emit_batch(Emit *E, const Node *n)
{
	(void)E;
	return n->batched ? "nb" : "1";
}

const char *
emit_ints(Emit *E, int n, const int64_t *v)
{
	/* written at every step of a long model: formatted here, in one
	 * allocation (20 characters and ", " at most per integer) */
	static const char open[] = "(const int[]){";
	size_t cap = sizeof open + 22 * (size_t)(n > 0 ? n : 0) + 2;
	char *r = arena_alloc(E->a, cap);
	char *w = r + sizeof open - 1;
	memcpy(r, open, sizeof open - 1);
	for (int i = 0; i < n; i++) {
		char d[24], *p = util_decimal(d + sizeof d, v[i]);
		if (i) {
			*w++ = ',';
			*w++ = ' ';
		}
		memcpy(w, p, (size_t)(d + sizeof d - p));
		w += d + sizeof d - p;
	}
	*w++ = '}';
	*w = 0;
	return r;
}

const char *
emit_scratch(Emit *E, const Node *n, const char *what)
{
	if (!strcmp(what, "col"))
		return "s->v.im2col_";
	return arena_printf(E->a, "s->v.%s_%s", emit_c_member(E, E->mem[n->id]),
			    what);
}

void
emit_comment(Emit *E, const Vertex *v)
{
	/* the vertices of an unrolled loop are one statement: its source
	 * text is made once */
	if (!E->snippet || E->snippet_span.lo != v->span.lo ||
	    E->snippet_span.hi != v->span.hi) {
		StrBuf sb = {0};
		diag_snippet(E->g->diag, v->span, &sb, 100);
		E->snippet = arena_strdup(E->keep, sb.data ? sb.data : "");
		E->snippet_span = v->span;
		sb_free(&sb);
	}
	int show = strchr(v->label, '@') || strchr(v->label, '[') ||
		   strchr(v->label, '.');
	emit_line(E, "/* %s:%d: %s%s%s */", E->o->source_name, v->line,
		  E->snippet, show ? "  => " : "", show ? v->label : "");
}

static int
is_c_keyword(const char *s)
{
	static const char *const kw[] = {
		"auto", "break", "case", "char", "const", "continue",
		"default", "do", "double", "else", "enum", "extern", "float",
		"for", "goto", "if", "inline", "int", "long", "register",
		"restrict", "return", "short", "signed", "sizeof", "static",
		"struct", "switch", "typedef", "union", "unsigned", "void",
		"volatile", "while", "_Bool", "_Complex", "_Imaginary",
		"_Alignas", "_Alignof", "_Atomic", "_Generic", "_Noreturn",
		"_Static_assert", "_Thread_local", "bool", "true", "false",
		"NULL", "asm", "fortran", "main", "errno", "assert",
		"INFINITY", "NAN"};
	for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
		if (kw[i][0] == s[0] && strcmp(kw[i], s) == 0)
			return 1;
	return 0;
}

const char *
emit_member(Emit *E, const char *s)
{
	if (s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		       "0123456789_")]) {
		/* a buffer's "h[2].running_mean": h_2_running_mean */
		char *r = arena_strdup(E->a, s);
		size_t k = 0;
		for (const char *p = s; *p; p++)
			if (isalnum((unsigned char)*p) || *p == '_')
				r[k++] = *p;
			else if (k && r[k - 1] != '_')
				r[k++] = '_';
		r[k] = 0;
		return r;
	}
	return is_c_keyword(s) ? arena_printf(E->a, "%s_", s) : s;
}

/* Dimensions of a buffer declaration: "[PU_BATCH][32]" */
const char *
emit_decl_dims(Emit *E, const Shape *sh, int batched)
{
	StrBuf sb = {0};
	if (batched)
		sb_printf(&sb, "[%s_BATCH]", E->PU);
	for (int i = 0; i < sh->rank; i++)
		sb_printf(&sb, "[%lld]", (long long)sh->dim[i]);
	if (!batched && sh->rank == 0)
		sb_puts(&sb, "[1]");
	const char *r = arena_strdup(E->a, sb.data);
	sb_free(&sb);
	return r;
}

/* Internal buffers are flat: "[PU_BATCH * 32]" (a comment gives the shape). */
const char *
emit_flat_dims(Emit *E, const Shape *sh, int batched)
{
	int64_t n = shape_numel(sh);
	if (batched)
		return arena_printf(E->a, "[%s_BATCH * %lld]", E->PU, (long long)n);
	return arena_printf(E->a, "[%lld]", (long long)n);
}

/* A pointer to the whole of a declared array, as P_real *. */
const char *
emit_whole(Emit *E, const char *qual, const char *array, const Shape *sh,
      int batched)
{
	int dims = (batched ? 1 : 0) + sh->rank;
	if (dims <= 1)
		return array;
	return arena_printf(E->a, "(%s%s *)%s", qual, E->real, array);
}

/* "h_conv2d[3]" -> "h_conv2d_3": a member name from a member path */
const char *
emit_c_member(Emit *E, const char *path)
{
	char *r = arena_strdup(E->a, path);
	size_t n = strlen(r);
	for (size_t i = 0; i < n; i++)
		if (r[i] == '[')
			r[i] = '_';
	if (n && r[n - 1] == ']')
		r[n - 1] = 0;
	return r;
}


/* -------------------------------------------------------------- GEMM */

/*
 * c = op(x) * op(y) (+ c if acc), per sample; x is stored xr x xc
 * (op(x) = x^T if tx), y likewise.  Batched operands have one matrix per
 * sample, contiguous; unbatched ones are shared.  When c is unbatched and
 * x, y are batched, the products are summed over the batch.
 */
void
emit_gemm(Emit *E, const char *c, int cb, const char *x, int xb, int64_t xr,
	  int64_t xc, int tx, const char *y, int yb, int64_t yr, int64_t yc,
	  int ty, int acc)
{
	const char *gemm = E->is_float ? "pcg_sgemm_mt" : "pcg_dgemm_mt";
	int64_t M = tx ? xc : xr, K = tx ? xr : xc, N = ty ? yr : yc;
	const char *one = emit_lit(E, 1), *zero = emit_lit(E, 0);
	const char *beta = acc ? one : zero;
	const char *B = "nb";
	/* the whole of c in one product, its first contribution: the
	 * pending update (E->upd_w) goes with it */
	int upd = E->upd_w && !acc && !cb;
	/* the two forms that can take it: the call (fused or plain) and its
	 * last arguments */
	const char *fn = !upd ? gemm
		: E->is_float ? "pcg_sgemm_upd_mt" : "pcg_dgemm_upd_mt";
	const char *tail = upd
		? arena_printf(E->a, "%s, %lld, %s, lr, %s", c, (long long)N,
			       E->upd_how, E->upd_w)
		: arena_printf(E->a, "%s, %s, %lld", beta, c, (long long)N);
	if (!cb && !xb && !yb) {
		emit_line(E, "%s(s->pool, %d, %d, %lld, %lld, %lld, %s, %s, "
			"%lld, %s, %lld, %s);",
		     fn, tx, ty, (long long)M, (long long)N, (long long)K,
		     one, x, (long long)xc, y, (long long)yc, tail);
		if (upd)
			E->upd_w = NULL;
		return;
	}
	/* the two forms that write the whole of c in one call, with rows of
	 * its last dimension: they may take a forward epilogue */
	const char *ep = E->gemm_ep && !acc ? E->gemm_ep : NULL;
	const char *gemm_ep = !ep ? gemm
		: E->is_float ? "pcg_sgemm_ep_mt" : "pcg_dgemm_ep_mt";
	const char *ep_args = ep ? arena_printf(E->a, ", %s", ep) : "";
	if (cb && xb && !yb && !tx) { /* stack the samples' rows */
		emit_line(E, "%s(s->pool, 0, %d, %s * %lld, %lld, %lld, %s, "
			"%s, %lld, %s, %lld, %s, %s, %lld%s);",
		     gemm_ep, ty, B, (long long)M, (long long)N, (long long)K,
		     one, x, (long long)xc, y, (long long)yc, beta, c,
		     (long long)N, ep_args);
		E->gemm_ep_taken = ep != NULL;
		return;
	}
	if (cb && !xb && yb && N == 1) { /* c^T = y^T op(x)^T, one row each */
		emit_line(E, "%s(s->pool, 0, %d, %s, %lld, %lld, %s, %s, "
			"%lld, %s, %lld, %s, %s, %lld%s);",
		     gemm_ep, !tx, B, (long long)M, (long long)K, one, y,
		     (long long)K, x, (long long)xc, beta, c, (long long)M,
		     ep_args);
		E->gemm_ep_taken = ep != NULL;
		return;
	}
	if (!cb && xb && yb && (tx || K == 1) && (!ty || K == 1)) {
		/* sum over samples: stack them along the inner dimension */
		emit_line(E, "%s(s->pool, 1, 0, %lld, %lld, %s * %lld, %s, "
			"%s, %lld, %s, %lld, %s);",
		     fn, (long long)M, (long long)N, B, (long long)K, one, x,
		     (long long)M, y, (long long)N, tail);
		if (upd)
			E->upd_w = NULL;
		return;
	}
	/* general: one product per sample */
	const char *bb = acc || cb ? beta
		: arena_printf(E->a, "b ? %s : %s", one, zero);
	emit_line(E, "for (int b = 0; b < %s; b++)", B);
	emit_line(E, "\t%s(s->pool, %d, %d, %lld, %lld, %lld, %s, %s + %s, "
		"%lld, %s + %s, %lld, %s, %s + %s, %lld);",
	     gemm, tx, ty, (long long)M, (long long)N, (long long)K, one, x,
	     xb ? arena_printf(E->a, "b * %lld", (long long)(xr * xc)) : "0",
	     (long long)xc, y,
	     yb ? arena_printf(E->a, "b * %lld", (long long)(yr * yc)) : "0",
	     (long long)yc, bb, c,
	     cb ? arena_printf(E->a, "b * %lld", (long long)(M * N)) : "0",
	     (long long)N);
}

/* ---------------------------------------------------------- chunking */

/*
 * Long straight-line bodies (an unrolled RNN of 1000 steps) are split into
 * static functions of at most CHUNK_LINES lines, called in order, so that
 * no C function is so long that compilers slow down on it.  Splits happen
 * only between vertices (chunk_point).
 */
enum { CHUNK_LINES = 400 };

struct Chunker {
	const char *name;   /* chunk functions are name_1, name_2, ... */
	const char *params; /* their parameter list */
	const char *args;   /* the call's arguments */
	const char *voids;  /* "(void)p; ..." so no parameter goes unused */
	StrBuf *fns;        /* where finished chunk functions go */
	StrBuf calls;       /* the calls, for the parent function's body */
	StrBuf cur;
	size_t scanned, lines; /* newlines in cur[0, scanned) */
	int n;
	size_t start; /* E->loops: where the block being written starts in
			 cur (its blocks are rolled, then split) */
	/* the pass's strings at the last chunk point: those of a vertex are
	 * dead once its code is written (a long model's passes would hold
	 * a dozen for every step until their end) */
	ArenaMark mark;
	int marked;
};

/* A chunk point at the end of cur with loops: the block since the last
 * one to the roller, and out of cur when the roller keeps what it needs
 * of it. */
static void
chunk_block(Emit *E, Chunker *c)
{
	if (emit_reroll_block(E, c->cur.data, c->start, c->cur.len, 1)) {
		c->cur.len = c->start;
		c->cur.data[c->start] = 0;
	}
	c->start = c->cur.len;
}

static void
chunk_flush(Emit *E, Chunker *c)
{
	if (!c->cur.len)
		return;
	c->n++;
	sb_printf(c->fns, "\nstatic void\n%s_%d(%s)\n{\n%s%s}\n", c->name, c->n,
		  c->params, c->voids, c->cur.data);
	sb_printf(&c->calls, "\t%s_%d(%s);\n", c->name, c->n, c->args);
	c->cur.len = 0;
	c->cur.data[0] = 0;
	c->scanned = c->lines = 0;
	(void)E;
}

static void
chunk_begin(Emit *E, Chunker *c, StrBuf *fns, const char *name,
	    const char *params, const char *args, const char *voids)
{
	memset(c, 0, sizeof *c);
	c->name = name;
	c->params = params;
	c->args = args;
	c->voids = voids;
	c->fns = fns;
	sb_puts(&c->calls, "");
	c->cur = E->text; /* a long pass's pages reused by the next */
	E->text = (StrBuf){0};
	sb_puts(&c->cur, "");
	if (E->loops)
		emit_reroll_begin(E);
	E->chunk = c;
	E->out = &c->cur;
}

/* Split when the body reached CHUNK_LINES lines. */
static void
chunk_split(Emit *E, Chunker *c)
{
	for (; c->scanned < c->cur.len; c->scanned++)
		c->lines += c->cur.data[c->scanned] == '\n';
	if (c->lines >= CHUNK_LINES)
		chunk_flush(E, c);
}

/* A place between vertices where the body may be split; with loops
 * (--unroll) only noted: the body is rolled first (chunk_end). */
void
emit_chunk_point(Emit *E)
{
	Chunker *c = E->chunk;
	if (!c)
		return;
	if (c->marked)
		arena_release(E->a, c->mark);
	c->mark = arena_mark(E->a);
	c->marked = 1;
	if (E->loops)
		chunk_block(E, c);
	else
		chunk_split(E, c);
}

void
emit_chunk_pos(const Emit *E, int *block, size_t *off)
{
	const Chunker *c = E->chunk;
	if (!c || !E->loops)
		die("emit_chunk_pos outside a pass with loops");
	*block = emit_reroll_count(E);
	*off = E->out->len - c->start;
}

/* Roll the body (emit_reroll), then split it at the chunk points. */
static void
chunk_reroll(Emit *E, Chunker *c)
{
	chunk_block(E, c);
	StrBuf rolled = {0};
	sb_puts(&rolled, "");
	size_t *at = NULL;
	int n = 0;
	emit_reroll_end(E, c->cur.data, &rolled, &at, &n);
	c->start = 0;
	if (emit_sweep_keep(E, &c->cur))
		c->cur = (StrBuf){0}; /* zil_opt's now */
	c->cur.len = 0;
	sb_puts(&c->cur, "");
	c->scanned = c->lines = 0;
	for (int k = 0; k + 1 < n; k++) {
		sb_putn(&c->cur, rolled.data + at[k], at[k + 1] - at[k]);
		chunk_split(E, c);
	}
	sb_free(&rolled);
}

/* Finish: the chunk functions are in fns; returns the calls. */
static const char *
chunk_end(Emit *E, Chunker *c, StrBuf *out)
{
	if (E->loops)
		chunk_reroll(E, c);
	chunk_flush(E, c);
	E->chunk = NULL;
	E->out = out;
	const char *calls = arena_strdup(E->a, c->calls.data);
	sb_free(&c->calls);
	E->text = c->cur;
	E->text.len = 0;
	return calls;
}

/* ----------------------------------------------- broadcast binary ops */

typedef struct Bcast {
	int n;              /* collapsed axes */
	int64_t ext[PCC_MAX_RANK + 1];
	int af[PCC_MAX_RANK + 1], bf[PCC_MAX_RANK + 1]; /* operand full? */
} Bcast;

static void
bcast_plan(Emit *E, const Node *y, const Node *a, const Node *b, Bcast *bc)
{
	(void)E;
	int r = y->shape.rank + 1;
	memset(bc, 0, sizeof *bc);
	for (int i = 0; i < r; i++) {
		int64_t e, ea, eb;
		if (i == 0) {
			e = y->batched ? 2 : 1; /* only "more than 1" matters */
			ea = a->batched ? e : 1;
			eb = b->batched ? e : 1;
		} else {
			int k = i - 1;
			e = y->shape.dim[k];
			int oa = k - (y->shape.rank - a->shape.rank);
			int ob = k - (y->shape.rank - b->shape.rank);
			ea = oa >= 0 ? a->shape.dim[oa] : 1;
			eb = ob >= 0 ? b->shape.dim[ob] : 1;
		}
		if (e == 1)
			continue;
		int af = ea != 1, bf = eb != 1;
		if (bc->n > 0 && bc->af[bc->n - 1] == af &&
		    bc->bf[bc->n - 1] == bf && i > 0 && bc->ext[bc->n - 1] > 0) {
			bc->ext[bc->n - 1] *= e;
			continue;
		}
		bc->ext[bc->n] = i == 0 ? -1 : e; /* -1: the batch */
		bc->af[bc->n] = af;
		bc->bf[bc->n] = bf;
		bc->n++;
	}
}

static const char *
bcast_sig(Emit *E, const Bcast *bc)
{
	StrBuf sb = {0};
	sb_puts(&sb, "");
	for (int i = 0; i < bc->n; i++) {
		if (bc->ext[i] < 0)
			sb_puts(&sb, "B");
		else
			sb_printf(&sb, "%lld", (long long)bc->ext[i]);
		sb_putc(&sb, bc->af[i] && bc->bf[i] ? 'f' : bc->af[i] ? 'l'
								    : 'r');
	}
	if (bc->n == 0)
		sb_puts(&sb, "1");
	const char *r = arena_strdup(E->a, sb.data);
	sb_free(&sb);
	return r;
}

/* index expression of operand (which: 0 y, 1 a, 2 b) */
static const char *
bcast_index(Emit *E, const Bcast *bc, int which)
{
	StrBuf sb = {0};
	sb_puts(&sb, "");
	int first = 1;
	for (int i = 0; i < bc->n; i++) {
		int full = which == 0 || (which == 1 ? bc->af[i] : bc->bf[i]);
		if (!full)
			continue;
		/* stride: product of later full extents */
		StrBuf st = {0};
		sb_puts(&st, "");
		for (int j = i + 1; j < bc->n; j++) {
			int fj = which == 0 ||
				 (which == 1 ? bc->af[j] : bc->bf[j]);
			if (!fj)
				continue;
			if (bc->ext[j] < 0)
				sb_puts(&st, " * nb");
			else
				sb_printf(&st, " * %lld", (long long)bc->ext[j]);
		}
		sb_printf(&sb, "%si%d%s", first ? "" : " + ", i, st.data);
		sb_free(&st);
		first = 0;
	}
	if (first)
		sb_puts(&sb, "0");
	const char *r = arena_strdup(E->a, sb.data);
	sb_free(&sb);
	return r;
}

static const char *
tabs(int n)
{
	static const char t[] = "\t\t\t\t\t\t\t\t\t\t\t\t";
	return t + (sizeof t - 1 - (size_t)(n < 12 ? n : 12));
}

/*
 * The loops over the collapsed axes 0 .. upto-1, axis cut (if >= 0)
 * over [lo, hi) only: one task's part of the nest when the pool spreads
 * it (pcg_bcast_mt).  Loop i is indented base + i tabs and the innermost
 * opens a block (bcast_close ends it); returns the indentation of the
 * loops' body.  ivdep:
 * the innermost of them is elementwise in what it writes (no sum into
 * one element), so that PCC_IVDEP may tell gcc that its iterations are
 * independent: the result may share an operand's storage (the memory
 * plan), and without the hint gcc's -O2 would not vectorise a loop that
 * needs an overlap check.
 */
static int
bcast_loops(Emit *E, const Bcast *bc, int upto, int cut, int ivdep, int base)
{
	for (int i = 0; i < upto; i++) {
		const char *t = tabs(base + i), *open = i == upto - 1 ? " {" : "";
		if (ivdep && i == upto - 1)
			emit_kern(E, "%sPCC_IVDEP\n", t);
		if (i == cut)
			emit_kern(E, "%sfor (int i%d = lo; i%d < hi; i%d++)%s\n",
				  t, i, i, i, open);
		else if (bc->ext[i] < 0)
			emit_kern(E, "%sfor (int i%d = 0; i%d < nb; i%d++)%s\n",
				  t, i, i, i, open);
		else
			emit_kern(E, "%sfor (int i%d = 0; i%d < %lld; i%d++)%s\n",
				  t, i, i, (long long)bc->ext[i], i, open);
	}
	return base + upto;
}

/* The end of bcast_loops's block. */
static void
bcast_close(Emit *E, int upto, int base)
{
	if (upto > 0)
		emit_kern(E, "%s}\n", tabs(base + upto - 1));
}

static int expr_reads(const char *t, char v);

/* "\t(void)x;\n" for each parameter of a broadcast kernel it does not
 * read: nb unless an axis but the cut one is the batch, lo and hi when
 * nothing is cut, the operands' values the expression leaves out (vc
 * NULL: the forward kernel, which reads a and b). */
static void
bcast_voids(Emit *E, const Bcast *bc, int cut, const char *vc)
{
	int nb = 0;
	for (int i = 0; i < bc->n; i++)
		nb |= i != cut && bc->ext[i] < 0;
	const struct {
		const char *name;
		int used;
	} p[] = {
		{"nb", nb}, {"lo", cut >= 0}, {"hi", cut >= 0},
		{"pa", !vc || expr_reads(vc, 'a')},
		{"pb", !vc || expr_reads(vc, 'b')},
		{"py", !vc || expr_reads(vc, 'y')},
	};
	for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
		if (!p[i].used)
			emit_kern(E, "\t(void)%s;\n", p[i].name);
}

/*
 * The axis a broadcast kernel is cut along to spread it over the pool,
 * -1 for none.  A nest that writes each element of y (which 0) or of an
 * operand's gradient (1 a, 2 b) once is cut along its outer loop (a bias
 * add: by samples).  A VJP that sums over the axes its operand is
 * broadcast along is cut along the outermost axis the operand is full
 * along (a bias's gradient: along the bias, not the samples), so that
 * each element is summed by one task, over the same terms in the same
 * order as on one thread.
 */
static int
bcast_cut(const Bcast *bc, int which)
{
	for (int i = 0; i < bc->n; i++)
		if (which == 0 || (which == 1 ? bc->af[i] : bc->bf[i]))
			return i;
	return -1;
}

/*
 * What an element of a broadcast kernel counts as in the pool's
 * multiply-adds (pcg_bcast_mt's cost): a vectorised loop's element about
 * what the element-wise passes' does (pcg_pool.c: 8); a sum along the
 * innermost loop, one chain of dependent adds, four times that.
 */
enum { BCAST_COST = 8, BCAST_COST_CHAIN = 32 };

/* pcg_bcast_mt's n and cost for a nest cut along cut: the cut axis's
 * extent and the work of one of its indices. */
static const char *
bcast_split(Emit *E, const Bcast *bc, int cut, int per)
{
	int64_t c = per;
	int batch = 0;
	for (int i = 0; i < bc->n; i++) {
		if (i == cut)
			continue;
		if (bc->ext[i] < 0)
			batch = 1;
		else
			c *= bc->ext[i];
	}
	const char *n = cut < 0 ? "1" : bc->ext[cut] < 0 ? "nb"
		: arena_printf(E->a, "%lld", (long long)bc->ext[cut]);
	return arena_printf(E->a, "%s, %s%lld%s", n, batch ? "nb * " : "",
			    (long long)c, batch ? "LL" : "");
}

/* ------------------------------------------------- elementwise kernels */

/* Expand the placeholders of an op's C expression for the scalar type. */
const char *
emit_expand(Emit *E, const char *t)
{
	static const struct {
		const char *key;
		const char *fn;
		double num;
	} subs[] = {
		{"TANH", "PCG_TANH", 0}, {"EXP", "PCG_EXP", 0},
		{"LOG1P", "PCG_LOG1P", 0}, {"LOG", "PCG_LOG", 0},
		{"SQRT1_2", NULL, 0.70710678118654752440},
		{"SQRT", "sqrt", 0},   {"FABS", "fabs", 0},
		{"ERF", "PCG_ERF", 0}, {"SIN", "PCG_SIN", 0},
		{"COS", "PCG_COS", 0}, {"POW", "PCG_POW", 0},
		{"RSQRT2PI", NULL, 0.39894228040143267794},
		{"TWO_SQRTPI", NULL, 1.12837916709551257390},
		{"ONE", NULL, 1},      {"ZERO", NULL, 0},   {"HALF", NULL, 0.5},
		{"TWO", NULL, 2},
	};
	StrBuf sb = {0};
	sb_puts(&sb, "");
	const char *p = t;
	while (*p) {
		int done = 0;
		for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
			size_t n = strlen(subs[i].key);
			if (strncmp(p, subs[i].key, n) == 0) {
				sb_puts(&sb, subs[i].fn ? emit_fn(E, subs[i].fn)
							: emit_lit(E, subs[i].num));
				p += n;
				done = 1;
				break;
			}
		}
		if (!done)
			sb_putc(&sb, *p++);
	}
	const char *r = arena_strdup(E->a, sb.data);
	sb_free(&sb);
	return r;
}

static int
ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

/* Whether the C expression t reads the one-letter variable v. */
static int
expr_reads(const char *t, char v)
{
	for (const char *p = t; *p; p++)
		if (*p == v && (p == t || !ident_char(p[-1])) &&
		    !ident_char(p[1]))
			return 1;
	return 0;
}

/*
 * y = op(x) elementwise; a, b are the op's number arguments.
 *
 * The loop runs over blocks of UNARY_BLOCK elements through a local copy
 * t, then over the rest one at a time.  yv may be xv (the memory plan
 * gives a result its argument's storage), so a plain loop would need a
 * run-time overlap check that gcc's -O2 does not make: it stays scalar,
 * and the selects of relu and its kind become branches that mispredict on
 * signs at random.  Through t the three loops of a block have fixed trip
 * counts and no pointers that may overlap, and vectorise at -O2; each
 * element is still computed by the same expression, so the bits are
 * those of the plain loop.
 */
#define UNARY_BLOCK 16

/* The first call in an expression, its placeholders expanded or not (a
 * name and '('), skipping fabs (FABS) when cheap is set: a sign bit
 * cleared, not a call in the code compilers make; NULL for none. */
static const char *
first_call(const char *expr, int cheap)
{
	for (const char *p = strchr(expr, '('); p; p = strchr(p + 1, '(')) {
		const char *q = p;
		while (q > expr && (isalnum((unsigned char)q[-1]) || q[-1] == '_'))
			q--;
		if (q < p && !(cheap && (strncmp(q, "fabs", 4) == 0 ||
					 strncmp(q, "FABS", 4) == 0)))
			return q;
	}
	return NULL;
}

/*
 * The pragma (indented depth tabs, 2 or 3) that unrolls a block's loops
 * whole (PCC_UNROLL), for an expression that calls no function
 * (parentheses alone are fine): gcc -O2 then keeps t in registers
 * instead of storing and reloading every element between the loops
 * (resnet b16's ReLU, 32 768 floats: 8.2 us a call at -O2 with t in
 * memory, 3.3 unrolled).  An expression that calls a function stays a
 * loop (16 copies of the call would not be faster).
 * The VJPs are unrolled too, with one block loop for acc and one
 * without: with the test of acc inside the block, gcc -O2 took the
 * unrolled block apart into scalars (ReLU's VJP 4.5 -> 8.0 us a call).
 */
static const char *
unroll(const char *expr, int depth)
{
	if (first_call(expr, 0))
		return "";
	return depth == 2 ? "\t\tPCC_UNROLL\n" : "\t\t\tPCC_UNROLL\n";
}

/*
 * What an element of a unary kernel counts as in the pool's
 * multiply-adds (pcg_unary_mt's cost): arithmetic and selects what a
 * broadcast kernel's vectorised element does, BCAST_COST (ReLU and its
 * VJP, squares, divisions:
 * 0.09-0.22 ns an element on one core, the GEMM doing a multiply-add in
 * about 0.015), a call of a math function at least 2 ns (exp 1.9, the
 * sigmoid 2.4, tanh 3.1, log1p 10, erf 12: a loop over 8192 floats at
 * -O2, the Intel AVX-512 machine of docs/performance.md's seventh round).
 * mlp b32's ReLUs (8192 floats) counted as 32 each went on the pool and
 * fetched half their input from the other core: its step on two threads
 * was 1.38x one thread's, 1.48x with them on the caller
 * (bench/pool_bench).
 */
enum { UNARY_COST = BCAST_COST, UNARY_COST_CALL = 128 };

static int
unary_cost(const char *expr)
{
	return first_call(expr, 1) ? UNARY_COST_CALL : UNARY_COST;
}

static const char *
unary_kernel(Emit *E, OpKind op, int vjp)
{
	const OpDef *d = &op_defs[op];
	const char *name = arena_printf(E->a, "k_%s%s", op_name[op],
					vjp ? "_vjp" : "");
	if (!emit_kernel_begin(E, name))
		return name;
	const char *R = E->real;
	/* (void) for the parameters the expression does not read */
	const char *ex = vjp ? d->vjp_c[0] : d->fwd_c;
	int rx = expr_reads(ex, 'x'), ry = vjp && expr_reads(ex, 'y');
	const char *voids = arena_printf(E->a, "%s%s%s%s",
		expr_reads(ex, 'a') ? "" : "\t(void)a;\n",
		expr_reads(ex, 'b') ? "" : "\t(void)b;\n",
		!vjp || rx ? "" : "\t(void)xv;\n", !vjp || ry ? "" : "\t(void)yv;\n");
	if (!vjp) {
		const char *y = emit_expand(E, d->fwd_c);

		const char *u = unroll(y, 2);

		emit_kern(E, "\n/* y = %s(x), elementwise */\nstatic void\n%s(int n, "
			     "%s a, %s b, %s *yv, const %s *xv)\n"
			     "{\n"
			     "\tint i = 0;\n\n"
			     "%s"
			     "\tfor (; i + %d <= n; i += %d) {\n"
			     "\t\t%s t[%d];\n\n"
			     "%s\t\tfor (int j = 0; j < %d; j++)\n"
			     "\t\t\tt[j] = xv[i + j];\n"
			     "%s\t\tfor (int j = 0; j < %d; j++) {\n"
			     "\t\t\t%s x = t[j];\n"
			     "\t\t\tt[j] = %s;\n\t\t}\n"
			     "%s\t\tfor (int j = 0; j < %d; j++)\n"
			     "\t\t\tyv[i + j] = t[j];\n\t}\n"
			     "\tfor (; i < n; i++) {\n"
			     "\t\t%s x = xv[i];\n"
			     "\t\tyv[i] = %s;\n\t}\n}\n",
			  op_name[op], name, R, R, R, R, voids, UNARY_BLOCK,
			  UNARY_BLOCK, R, UNARY_BLOCK, u, UNARY_BLOCK, u,
			  UNARY_BLOCK, R, y, u, UNARY_BLOCK, R, y);
		return name;
	}
	const char *v = emit_expand(E, d->vjp_c[0]);
	/* the reads of an element: in a block, in the tail loop */
	const char *rd[2];
	for (int b = 0; b < 2; b++) {
		const char *at = b ? "i" : "i + j", *ind = b ? "\t\t" : "\t\t\t\t";
		rd[b] = arena_printf(E->a, "%s%s dy = dyv[%s];\n%s%s", ind, R,
				     at,
				     rx ? arena_printf(E->a, "%s%s x = xv[%s];\n",
						       ind, R, at) : "",
				     ry ? arena_printf(E->a, "%s%s y = yv[%s];\n",
						       ind, R, at) : "");
	}
	/* one block loop for acc and one without, so that a block's
	 * loops can be unrolled whole (with acc tested inside, gcc -O2
	 * took the unrolled block apart into scalars) */
	const char *u = unroll(v, 3), *blk[2];
	for (int acc = 0; acc < 2; acc++)
		blk[acc] = arena_printf(
			E->a,
			"\t\tfor (; i + %d <= n; i += %d) {\n"
			"\t\t\t%s t[%d];\n\n"
			"%s\t\t\tfor (int j = 0; j < %d; j++) {\n%s"
			"\t\t\t\tt[j] = %s;\n\t\t\t}\n"
			"%s\t\t\tfor (int j = 0; j < %d; j++)\n"
			"\t\t\t\tdxv[i + j] = %st[j];\n\t\t}\n",
			UNARY_BLOCK, UNARY_BLOCK, R, UNARY_BLOCK, u,
			UNARY_BLOCK, rd[0], v, u, UNARY_BLOCK,
			acc ? "dxv[i + j] + " : "");
	emit_kern(E, "\n/* dx (+)= dy * d%s(x)/dx, elementwise */\nstatic void\n"
		     "%s(int n, int acc, %s a, %s b, %s *dxv, const %s "
		     "*dyv, const %s *restrict xv, const %s *restrict "
		     "yv)\n{\n"
		     "\tint i = 0;\n\n"
		     "%s"
		     "\tif (acc)\n%s\telse\n%s"
		     "\tfor (; i < n; i++) {\n%s"
		     "\t\t%s v = %s;\n"
		     "\t\tdxv[i] = acc ? dxv[i] + v : v;\n\t}\n}\n",
		  op_name[op], name, R, R, R, R, R, R, voids, blk[1], blk[0],
		  rd[1], R, v);
	return name;
}

/* The elementwise kernels read each element before they write the same
 * element of their result: dst may be src (no restrict on those two).
 * Tell the memory plan, which may then give the two one storage when src
 * dies where dst is born (emit_plan.c).  Only plain members of v and d
 * are told (a family's member holds several nodes). */
static void
inplace_hint(Emit *E, const char *dst, const char *src)
{
	if (!dst || !src || strchr(dst, '[') || strchr(src, '[') ||
	    strchr(dst, ' ') || strchr(src, ' '))
		return;
	if ((strncmp(dst, "s->v.", 5) && strncmp(dst, "s->d.", 5)) ||
	    (strncmp(src, "s->v.", 5) && strncmp(src, "s->d.", 5)))
		return;
	emit_line(E, "%c%s %s%c", PLAN_MARK, dst + 3, src + 3, PLAN_MARK);
}

/*
 * The epilogue kernel of a product followed by m = n (op) bias along the
 * rows (bias_first: bias (op) n) and u = f(m) (uop, or OP_COUNT for
 * none), for pcg_sgemm_ep_mt (pcg_runtime.h, pcg_ep_kernel_f): on a block
 * of rows x cols elements ld apart, each element of m from the element
 * of the product and the bias's of its column, by m's expression in the
 * op table, stored; then u's own kernel (unary_kernel) on m, over the
 * whole block at once when its rows are whole (cols == ld), else row by
 * row.  The same expression on the same operands in the same order as
 * m's kernel, then u's kernel: the same bits.  The add runs in blocks of
 * UNARY_BLOCK through t, as unary_kernel's loops, which gcc -O2
 * vectorises; an element is read before it is written, so m may be the
 * product's storage and y m's.  ua and ub are u's numbers.
 */
static const char *
ep_kernel(Emit *E, OpKind bop, int bias_first, OpKind uop)
{
	const char *uk = uop == OP_COUNT ? NULL : unary_kernel(E, uop, 0);
	const char *name = arena_printf(
		E->a, "k_ep_%s_%s%s%s", op_name[bop], bias_first ? "bc" : "cb",
		uk ? "_" : "", uk ? op_name[uop] : "");
	if (!emit_kernel_begin(E, name))
		return name;
	const char *R = E->real;
	const char *me = emit_expand(E, op_defs[bop].fwd_c);
	const char *ab[2];
	for (int blk = 0; blk < 2; blk++) {
		const char *at = blk ? "j" : "j + k";
		ab[blk] = arena_printf(E->a, "%s a = %s[%s], b = %s[%s];", R,
				       bias_first ? "bv" : "ci", at,
				       bias_first ? "ci" : "bv", at);
	}
	const char *um = unroll(me, 3);
	emit_kern(E,
		  "\n/* m = %s with %s the product's element and %s the bias's, "
		  "%s%s:\n * a product's epilogue, on rows x cols elements ld "
		  "apart */\nstatic void\n%s(int rows, int cols, int ld, %s ua, "
		  "%s ub, const %s *cv, const %s *bv, %s *mv, %s *yv)\n{\n"
		  "%s"
		  "\tfor (int i = 0; i < rows; i++) {\n"
		  "\t\tconst %s *ci = cv + (ptrdiff_t)i * ld;\n"
		  "\t\t%s *mi = mv + (ptrdiff_t)i * ld;\n"
		  "\t\tint j = 0;\n\n"
		  "\t\tfor (; j + %d <= cols; j += %d) {\n"
		  "\t\t\t%s t[%d];\n\n"
		  "%s\t\t\tfor (int k = 0; k < %d; k++) {\n"
		  "\t\t\t\t%s\n\n\t\t\t\tt[k] = %s;\n\t\t\t}\n"
		  "%s\t\t\tfor (int k = 0; k < %d; k++)\n"
		  "\t\t\t\tmi[j + k] = t[k];\n"
		  "\t\t}\n\t\tfor (; j < cols; j++) {\n"
		  "\t\t\t%s\n\n\t\t\tmi[j] = %s;\n\t\t}\n",
		  op_defs[bop].fwd_c, bias_first ? "b" : "a",
		  bias_first ? "a" : "b", uk ? "then y = " : "no activation",
		  uk ? arena_printf(E->a, "%s(m)", op_name[uop]) : "", name, R,
		  R, R, R, R, R,
		  uk ? "" : "\t(void)ua;\n\t(void)ub;\n\t(void)yv;\n", R, R,
		  UNARY_BLOCK, UNARY_BLOCK, R, UNARY_BLOCK, um, UNARY_BLOCK,
		  ab[0], me, um, UNARY_BLOCK, ab[1], me);
	if (uk)
		emit_kern(E,
			  "\t\tif (cols != ld)\n"
			  "\t\t\t%s(cols, ua, ub, yv + (ptrdiff_t)i * ld, mi);\n"
			  "\t}\n\tif (cols == ld)\n"
			  "\t\t%s(rows * cols, ua, ub, yv, mv);\n}\n",
			  uk, uk);
	else
		emit_kern(E, "\t}\n}\n");
	return name;
}

/*
 * n = a product, m = n + b (or b + n) with b a vector along n's last
 * dimension, the same for every sample (a bias), and u = f(m) an
 * element-wise activation (or NULL), emitted one after the other in one
 * vertex: one call, pcg_sgemm_ep_mt, in which the thread that computes
 * a block of the product runs the epilogue kernel (ep_kernel) on it
 * while the block is in its cache, instead of the caller's passes over
 * the whole value after the product (whose halves the pool's threads
 * wrote).  Every buffer is written as by the three calls, with the same
 * operations (m's and u's expressions, on the same operands in the same
 * order), so the bits are the same; the memory plan is told the same
 * in-place pairs.
 */
int
emit_fwd_fused(Emit *E, const Node *n, const Node *m, const Node *u)
{
	if (!m || m->op != OP_ADD || m->nin != 2 || m->vertex != n->vertex ||
	    !matmul_fwd_rows(n) || !m->batched ||
	    !shape_equal(&m->shape, &n->shape))
		return 0;
	int k = m->in[0] == n ? 1 : m->in[1] == n ? 0 : -1;
	const Node *b = k < 0 ? NULL : m->in[k];
	if (!b || b == n || b->batched || b->shape.rank != 1 ||
	    b->shape.dim[0] != n->shape.dim[n->shape.rank - 1])
		return 0;
	if (u && (op_defs[u->op].fwd != emit_unary_fwd || u->nin != 1 ||
		  u->in[0] != m || u->vertex != m->vertex ||
		  !emit_same_layout(m, u)))
		u = NULL;
	const char **xm = emit_fwd_inputs(E, m);
	const char *ym = E->val[m->id];
	for (int i = 0; i < 2; i++)
		if (emit_same_layout(m->in[i], m))
			inplace_hint(E, ym, xm[i]);
	if (u)
		inplace_hint(E, E->val[u->id], ym);
	E->gemm_ep = arena_printf(
		E->a, "%s, %s, %s, %s, %s, %s",
		ep_kernel(E, m->op, k == 0, u ? u->op : OP_COUNT),
		u ? emit_lit(E, u->at->num[0]) : emit_lit(E, 0),
		u ? emit_lit(E, u->at->num[1]) : emit_lit(E, 0), xm[k], ym,
		u ? E->val[u->id] : "NULL");
	E->gemm_ep_taken = 0;
	emit_fwd_node(E, n, E->val[n->id], emit_fwd_inputs(E, n));
	E->gemm_ep = NULL;
	if (!E->gemm_ep_taken)
		die("internal error: the product of %s took no epilogue",
		    op_name[n->op]);
	return u ? 3 : 2;
}

int
emit_same_layout(const Node *x, const Node *n)
{
	return !op_is_leaf(x->op) && x->batched == n->batched &&
	       shape_equal(&x->shape, &n->shape);
}

void
emit_unary_fwd(Emit *E, const Node *n, const char *y, const char *const *xs)
{
	if (emit_same_layout(n->in[0], n))
		inplace_hint(E, y, xs[0]);
	emit_line(E, "%s(s->pool, %s, %s, %d, %s, %s, %s, %s);",
		  emit_rt(E, "unary_mt"), unary_kernel(E, n->op, 0),
		  emit_count(E, n),
		  unary_cost(op_defs[n->op].fwd_c),
		  emit_lit(E, n->at->num[0]), emit_lit(E, n->at->num[1]), y,
		  xs[0]);
}

void
emit_unary_vjp(Emit *E, const Node *n, int k, const char *y,
	       const char *const *xs, const char *dy, const char *dx, int acc)
{
	/* only what the VJP reads is passed: what it does not read need not
	 * be kept for it (emit_plan.c) */
	const char *vc = op_defs[n->op].vjp_c[0];
	(void)k;
	if (!acc && emit_same_layout(n->in[0], n))
		inplace_hint(E, dx, dy);
	emit_line(E, "%s(s->pool, %s, %s, %d, %d, %s, %s, %s, %s, %s, %s);",
		  emit_rt(E, "unary_vjp_mt"), unary_kernel(E, n->op, 1),
		  emit_count(E, n), unary_cost(vc), acc,
		  emit_lit(E, n->at->num[0]), emit_lit(E, n->at->num[1]), dx, dy,
		  expr_reads(vc, 'x') ? xs[0] : "NULL",
		  expr_reads(vc, 'y') ? y : "NULL");
}

/*
 * The body of a broadcast kernel's nest at indentation t: y = f(a, b)
 * (vc NULL), else v, the VJP's term vc, stored into (op "=") or added to
 * (op "+=") element id of the operand's gradient dd.
 */
static void
bcast_body(Emit *E, const Bcast *bc, const OpDef *d, const char *vc,
	   const char *dd, const char *id, const char *op, const char *t)
{
	const char *R = E->real;
	if (!vc) {
		emit_kern(E, "%s%s a = pa[%s], b = pb[%s];\n", t, R,
			  bcast_index(E, bc, 1), bcast_index(E, bc, 2));
		emit_kern(E, "%s%s[%s] %s %s;\n", t, dd, id, op,
			  emit_expand(E, d->fwd_c));
		return;
	}
	emit_kern(E, "%s%s dy = pdy[%s];\n", t, R, bcast_index(E, bc, 0));
	if (expr_reads(vc, 'a'))
		emit_kern(E, "%s%s a = pa[%s];\n", t, R, bcast_index(E, bc, 1));
	if (expr_reads(vc, 'b'))
		emit_kern(E, "%s%s b = pb[%s];\n", t, R, bcast_index(E, bc, 2));
	if (expr_reads(vc, 'y'))
		emit_kern(E, "%s%s y = py[%s];\n", t, R, bcast_index(E, bc, 0));
	emit_kern(E, "%s%s v = %s;\n", t, R, emit_expand(E, vc));
	if (*op)
		emit_kern(E, "%s%s[%s] %s v;\n", t, dd, id, op);
}

/* gcc -O2 vectorises a loop whose trip count it knows only: a cut loop
 * that is innermost runs in blocks of this many, then the rest. */
#define BCAST_BLOCK 16

/*
 * A broadcast kernel's nest whose innermost loop writes each element once
 * (PCC_IVDEP), with its body (bcast_body), axis cut over [lo, hi), its
 * outer loop indented base tabs.
 */
static void
bcast_nest(Emit *E, const Bcast *bc, int cut, const OpDef *d,
	   const char *vc, const char *dd, const char *id, const char *op,
	   int base)
{
	int n = bc->n;
	if (n == 0 || cut != n - 1) {
		int t = bcast_loops(E, bc, n, cut, 1, base);
		bcast_body(E, bc, d, vc, dd, id, op, tabs(t));
		bcast_close(E, n, base);
		return;
	}
	int t = bcast_loops(E, bc, n - 1, cut, 0, base);
	const char *t0 = tabs(t), *t1 = tabs(t + 1);
	emit_kern(E, "%sint i%db = lo;\n\n%sfor (; i%db + %d <= hi; i%db += "
		     "%d)\n%sPCC_IVDEP\n%sfor (int j = 0; j < %d; j++) {\n"
		     "%sconst int i%d = i%db + j;\n\n",
		  t0, cut, t0, cut, BCAST_BLOCK, cut, BCAST_BLOCK, t1, t1,
		  BCAST_BLOCK, tabs(t + 2), cut, cut);
	bcast_body(E, bc, d, vc, dd, id, op, tabs(t + 2));
	emit_kern(E, "%s}\n%sfor (int i%d = i%db; i%d < hi; i%d++) {\n", t1,
		  t0, cut, cut, cut, cut);
	bcast_body(E, bc, d, vc, dd, id, op, t1);
	emit_kern(E, "%s}\n", t0);
	bcast_close(E, n - 1, base);
}

/* y = a (op) b with broadcasting; the outer loop over [lo, hi) */
static const char *
binary_kernel(Emit *E, const Node *y, Bcast bc)
{
	const OpDef *d = &op_defs[y->op];
	const char *name = arena_printf(E->keep, "k_%s_%s", op_name[y->op],
					bcast_sig(E, &bc));
	if (!emit_kernel_begin(E, name))
		return name;
	const char *R = E->real;
	int cut = bcast_cut(&bc, 0);
	emit_kern(E, "\n/* y = %s, broadcasting (%s) */\nstatic void\n%s(int "
		     "nb, int lo, int hi, %s *y, const %s *pa, const %s *pb)\n"
		     "{\n", d->fwd_c, bcast_sig(E, &bc), name, R, R, R);
	bcast_voids(E, &bc, cut, NULL);
	bcast_nest(E, &bc, cut, d, NULL, "y", bcast_index(E, &bc, 0), "=", 1);
	emit_kern(E, "}\n");
	return name;
}

/* Whether operand which (1 a, 2 b) is broadcast along some axis: its
 * VJP sums over those. */
static int
bcast_reduces(const Bcast *bc, int which)
{
	for (int i = 0; i < bc->n; i++)
		if (!(which == 1 ? bc->af[i] : bc->bf[i]))
			return 1;
	return 0;
}

/* Elements summed side by side by a VJP's sum along its innermost loop. */
enum { SUM_SIDE = 4 };

/* The loop of a VJP's sum, over its innermost axis, opened. */
static void
sum_loop(Emit *E, const Bcast *bc, int last)
{
	if (bc->ext[last] < 0)
		emit_kern(E, "for (int i%d = 0; i%d < nb; i%d++) {\n", last, last,
			  last);
	else
		emit_kern(E, "for (int i%d = 0; i%d < %lld; i%d++) {\n", last, last,
			  (long long)bc->ext[last], last);
}

/* Index expression id of element u of a block of SUM_SIDE along axis L
 * (outside the summed one): i<L> read as (i<L>b + u). */
static const char *
sum_lane(Emit *E, const char *id, int L, int u)
{
	char var[24];
	snprintf(var, sizeof var, "i%d", L);
	StrBuf sb = {0};
	sb_puts(&sb, "");
	size_t n = strlen(var);
	for (const char *p = id; *p;) {
		if (!strncmp(p, var, n) && !isalnum((unsigned char)p[n]) &&
		    (p == id || !isalnum((unsigned char)p[-1]))) {
			if (!u)
				sb_printf(&sb, "i%db", L);
			else
				sb_printf(&sb, strcmp(id, var) ? "(i%db + %d)"
							       : "i%db + %d",
					  L, u);
			p += n;
		} else {
			sb_printf(&sb, "%c", *p++);
		}
	}
	const char *r = arena_strdup(E->a, sb.data);
	sb_free(&sb);
	return r;
}

/* Partial sums of a VJP's sum along an innermost loop of at least this
 * many elements (a power of two). */
enum { SUM_LANES = 16 };

/*
 * A VJP's sum along its innermost loop (a channel's positions, for a
 * bias's gradient) of a fixed extent >= SUM_LANES, the loops outside it
 * over axes 0 .. last-1 in order, axis cut over [lo, hi).  For each
 * iteration of those loops, position i adds into partial sum i mod
 * SUM_LANES; the partial sums are then added pairwise, halving (lane j
 * += lane j + h for h = SUM_LANES/2, ..., 1), and lane 0 is added to the
 * element.  The order depends on the shapes only (never on the cut), so
 * the bits are the same for every thread count; the lanes are
 * independent, so the compiler keeps them in vector registers (gcc -O2
 * when the loops over them are unrolled whole: PCC_UNROLL) instead of
 * waiting on one chain's latency.  The partial sums start from -0, the
 * identity of the sum: an element that receives only -0 terms keeps its
 * bits, as it does when the terms are added to it one at a time.
 */
static void
sum_lanes(Emit *E, const Bcast *bc, const OpDef *d, const char *vc,
	  const char *dd, const char *id, int cut)
{
	const char *R = E->real;
	int last = bc->n - 1;
	long long ext = (long long)bc->ext[last];
	int tl = bcast_loops(E, bc, last, cut, 0, 1);
	const char *t = tabs(tl), *t1 = tabs(tl + 1), *t2 = tabs(tl + 2);
	emit_kern(E, "%s%s lane[%d];\n%sint i%db = 0;\n\n", t, R, SUM_LANES,
		  t, last);
	emit_kern(E, "%sPCC_UNROLL\n%sfor (int j = 0; j < %d; j++)\n%slane[j] "
		     "= -%s;\n", t, t, SUM_LANES, t1, emit_lit(E, 0));
	for (int tail = 0; tail < 1 + (ext % SUM_LANES != 0); tail++) {
		if (!tail)
			emit_kern(E, "%sfor (; i%db + %d <= %lld; i%db += %d)\n%s"
				     "PCC_UNROLL\n%sfor (int j = 0; j < %d; j++) "
				     "{\n", t, last, SUM_LANES, ext, last,
				  SUM_LANES, t1, t1, SUM_LANES);
		else
			emit_kern(E, "%sfor (int j = 0; i%db + j < %lld; j++) "
				     "{\n", t, last, ext);
		const char *tb = tail ? t1 : t2;
		emit_kern(E, "%sconst int i%d = i%db + j;\n\n", tb, last, last);
		bcast_body(E, bc, d, vc, dd, id, "", tb);
		emit_kern(E, "%slane[j] += v;\n%s}\n", tb, tail ? t : t1);
	}
	for (int h = SUM_LANES / 2; h > 1; h /= 2)
		emit_kern(E, "%sPCC_UNROLL\n%sfor (int j = 0; j < %d; j++)\n%s"
			     "lane[j] += lane[j + %d];\n", t, t, h, t1, h);
	emit_kern(E, "%s%s[%s] += lane[0] + lane[1];\n", t, dd, id);
	bcast_close(E, last, 1);
	emit_kern(E, "}\n");
}

/*
 * The VJP of a broadcast binary op into operand k (0: a, 1: b), its cut
 * axis (bcast_cut) over [lo, hi).  A sum over broadcast axes zeroes the
 * task's part of the operand first (unless acc), then adds the terms in
 * the order of the nest: an element's sum runs over the samples b = 0,
 * 1, ... in order whatever the cut.
 */
static const char *
binary_vjp_kernel(Emit *E, const Node *y, int k, Bcast bc)
{
	const OpDef *d = &op_defs[y->op];
	const char *name = arena_printf(E->keep, "k_%s_%s_d%c", op_name[y->op],
					bcast_sig(E, &bc), k ? 'b' : 'a');
	if (!emit_kernel_begin(E, name))
		return name;
	const char *R = E->real, *vc = d->vjp_c[k];
	const char *dd = k ? "db" : "da";
	const char *id = bcast_index(E, &bc, k + 1);
	int cut = bcast_cut(&bc, k + 1), reduces = bcast_reduces(&bc, k + 1);
	emit_kern(E, "\n/* d%c (+)= %s: the VJP of %s%s */\nstatic void\n%s(int "
		     "nb, int lo, int hi, int acc, %s *d%c, const %s *pdy, "
		     "const %s *restrict pa, const %s *restrict pb, const %s "
		     "*restrict py)\n{\n",
		  k ? 'b' : 'a', vc, d->fwd_c,
		  reduces ? ", summed over broadcast axes" : "", name, R,
		  k ? 'b' : 'a', R, R, R, R);
	bcast_voids(E, &bc, cut, vc);
	if (!reduces) {
		/* the operand's gradient may have dy's storage (the memory
		 * plan): then dy is its value already */
		if (!strcmp(vc, "dy"))
			emit_kern(E, "\tif (!acc && %s == pdy)\n\t\treturn;\n",
				  dd);
		/* one nest for acc and one without: a test of acc inside
		 * would keep gcc's -O2 from vectorising (dd + v either way,
		 * the same bits) */
		for (int pass = 0; pass < 2; pass++) {
			emit_kern(E, pass ? "\t} else {\n" : "\tif (acc) {\n");
			bcast_nest(E, &bc, cut, d, vc, dd, id, pass ? "=" : "+=",
				   2);
		}
		emit_kern(E, "\t}\n}\n");
		return name;
	}
	/* the task's part of the operand: the indices of its outermost full
	 * axis in [lo, hi), S elements each (none: the one element) */
	int64_t S = 1;
	for (int i = cut + 1; cut >= 0 && i < bc.n; i++)
		if (k ? bc.bf[i] : bc.af[i])
			S *= bc.ext[i];
	if (cut < 0)
		emit_kern(E, "\tif (!acc)\n\t\t%s[0] = %s;\n", dd,
			  emit_lit(E, 0));
	else if (S == 1)
		emit_kern(E, "\tif (!acc)\n\t\tfor (int i = lo; i < hi; i++)\n"
			     "\t\t\t%s[i] = %s;\n", dd, emit_lit(E, 0));
	else
		emit_kern(E, "\tif (!acc)\n\t\tfor (int i = lo * %lld; i < hi * "
			     "%lld; i++)\n\t\t\t%s[i] = %s;\n",
			  (long long)S, (long long)S, dd, emit_lit(E, 0));
	int last = bc.n - 1;
	if (last < 0 || (k ? bc.bf[last] : bc.af[last])) {
		/* the innermost loop adds into distinct elements, which never
		 * share dy's storage (no plan hint for a sum): vectorised,
		 * each element's order kept */
		bcast_nest(E, &bc, cut, d, vc, dd, id, "+=", 1);
		emit_kern(E, "}\n");
		return name;
	}
	if (bc.ext[last] >= SUM_LANES) {
		sum_lanes(E, &bc, d, vc, dd, id, cut);
		return name;
	}
	/* a sum along the innermost loop, kept in a local: the same adds in
	 * the same order, no store and reload of the element between them
	 * (nor a cache line written by two threads at the cut).  When the
	 * loop outside it runs over distinct elements (the channels of a
	 * bias), SUM_SIDE of them are summed side by side first, each in
	 * its own order: independent chains, where one waits on the
	 * latency of the adds (a tenth of resnet's step) */
	int L = last - 1, side = L >= 0 && (k ? bc.bf[L] : bc.af[L]);
	int tl = bcast_loops(E, &bc, side ? L : last, cut, 0, 1);
	const char *t = tabs(tl);
	if (side) {
		const char *lo = L == cut ? "lo" : "0";
		const char *hi = L == cut ? "hi"
			: bc.ext[L] < 0 ? "nb"
			: arena_printf(E->a, "%lld", (long long)bc.ext[L]);
		const char *t1 = tabs(tl + 1), *t2 = tabs(tl + 2);
		emit_kern(E, "%sint i%db = %s;\n\n%sfor (; i%db + %d <= %s; i%db "
			     "+= %d) {\n%s%s",
			  t, L, lo, t, L, SUM_SIDE, hi, L, SUM_SIDE, t1, R);
		for (int u = 0; u < SUM_SIDE; u++)
			emit_kern(E, "%s s%d = %s[%s]", u ? "," : "", u, dd,
				  sum_lane(E, id, L, u));
		emit_kern(E, ";\n\n%s", t1);
		sum_loop(E, &bc, last);
		for (int u = 0; u < SUM_SIDE; u++) {
			emit_kern(E, u ? "%s{\n%sconst int i%d = i%db + %d;\n\n"
				       : "%s{\n%sconst int i%d = i%db;\n\n",
				  t2, tabs(tl + 3), L, L, u);
			bcast_body(E, &bc, d, vc, dd, id, "", tabs(tl + 3));
			emit_kern(E, "%ss%d += v;\n%s}\n", tabs(tl + 3), u, t2);
		}
		emit_kern(E, "%s}\n", t1);
		for (int u = 0; u < SUM_SIDE; u++)
			emit_kern(E, "%s%s[%s] = s%d;\n", t1, dd,
				  sum_lane(E, id, L, u), u);
		emit_kern(E, "%s}\n%sfor (int i%d = i%db; i%d < %s; i%d++) {\n",
			  t, t, L, L, L, hi, L);
		t = tabs(++tl);
	}
	emit_kern(E, "%s%s sum = %s[%s];\n\n%s", t, R, dd, id, t);
	sum_loop(E, &bc, last);
	bcast_body(E, &bc, d, vc, dd, id, "", tabs(tl + 1));
	emit_kern(E, "%ssum += v;\n%s}\n%s%s[%s] = sum;\n", tabs(tl + 1), t, t,
		  dd, id);
	if (side)
		emit_kern(E, "%s}\n", tabs(tl - 1));
	bcast_close(E, side ? L : last, 1);
	emit_kern(E, "}\n");
	return name;
}

/*
 * A broadcast op's kernel and pcg_bcast_mt's split, for y (which 0) or
 * the VJP into operand which - 1.  A long model has the same few at
 * every step: they are kept, keyed by the op and the plan (bcast_plan
 * zeroes the whole Bcast, so it compares as bytes).
 */
enum { BCAST_MEMO = 32 };

struct BcastMemo {
	OpKind op;
	int which;
	Bcast bc;
	const char *kernel, *split;
	/* a VJP of dy alone summed over the batch by partial sums
	 * (sum_lanes) into an operand without the batch: dy's reals a
	 * sample and the operand's (pcg_bcast_vjp_sum_mt); else 0 */
	int64_t sum_step, sum_dn;
};

/*
 * Whether the VJP into operand which - 1 goes to pcg_bcast_vjp_sum_mt:
 * it reads dy alone, sums it with sum_lanes, and its outermost axis is
 * the batch, which the operand is broadcast along (a bias's gradient):
 * each sample's sum is added to the element in turn, from partial sums
 * of its own.  Sets dy's reals a sample and the operand's.
 */
static int
bcast_sums_samples(const Bcast *bc, int which, const char *vc,
		   int64_t *step, int64_t *dn)
{
	int last = bc->n - 1;
	const int *f = which == 2 ? bc->bf : bc->af;
	if (last < 1 || f[last] || f[0] || bc->ext[0] >= 0 ||
	    bc->ext[last] < SUM_LANES || expr_reads(vc, 'a') ||
	    expr_reads(vc, 'b') || expr_reads(vc, 'y'))
		return 0;
	*step = *dn = 1;
	for (int i = 1; i < bc->n; i++) {
		*step *= bc->ext[i];
		if (f[i])
			*dn *= bc->ext[i];
	}
	return 1;
}

static const struct BcastMemo *
bcast_memo(Emit *E, const Node *y, int which)
{
	struct BcastMemo m;
	memset(&m, 0, sizeof m);
	m.op = y->op;
	m.which = which;
	bcast_plan(E, y, y->in[0], y->in[1], &m.bc);
	for (int i = 0; i < E->nbmemo; i++)
		if (!memcmp(&E->bmemo[i], &m, offsetof(struct BcastMemo, kernel)))
			return &E->bmemo[i];
	int cut = bcast_cut(&m.bc, which), last = m.bc.n - 1;
	int chain = which && last >= 0 &&
		!(which == 2 ? m.bc.bf[last] : m.bc.af[last]);
	m.kernel = which ? binary_vjp_kernel(E, y, which - 1, m.bc)
			 : binary_kernel(E, y, m.bc);
	m.split = arena_strdup(E->keep, bcast_split(E, &m.bc, cut,
			chain ? BCAST_COST_CHAIN : BCAST_COST));
	if (!which || !bcast_sums_samples(&m.bc, which,
					  op_defs[y->op].vjp_c[which - 1],
					  &m.sum_step, &m.sum_dn))
		m.sum_step = m.sum_dn = 0;
	if (!E->bmemo)
		E->bmemo = arena_alloc(E->keep, sizeof *E->bmemo * BCAST_MEMO);
	if (E->nbmemo == BCAST_MEMO) /* a model with very many: the oldest go */
		memmove(E->bmemo, E->bmemo + 1, sizeof m * (BCAST_MEMO - 1));
	else
		E->nbmemo++;
	/* as bytes, padding included: the keys are compared with memcmp */
	memcpy(&E->bmemo[E->nbmemo - 1], &m, sizeof m);
	return &E->bmemo[E->nbmemo - 1];
}

/* The calls go through the pool (pcg_bcast_mt), which runs a kernel on
 * blocks of its cut axis when it is large enough. */
void
emit_binary_fwd(Emit *E, const Node *n, const char *y, const char *const *xs)
{
	const struct BcastMemo *m = bcast_memo(E, n, 0);
	for (int k = 0; k < 2; k++)
		if (emit_same_layout(n->in[k], n))
			inplace_hint(E, y, xs[k]);
	emit_line(E, "%s(s->pool, %s, nb, %s, %s, %s, %s);",
		  emit_rt(E, "bcast_mt"), m->kernel, m->split, y, xs[0], xs[1]);
}

void
emit_binary_vjp(Emit *E, const Node *n, int k, const char *y,
		const char *const *xs, const char *dy, const char *dx, int acc)
{
	/* only what the VJP reads is passed (emit_plan.c) */
	const char *vc = op_defs[n->op].vjp_c[k];
	const struct BcastMemo *m = bcast_memo(E, n, k + 1);
	int same = !acc && emit_same_layout(n->in[k], n);
	if (same)
		inplace_hint(E, dx, dy);
	/* a copy (a + b into a) that the memory plan may have made in
	 * place: then it is skipped here, without waking the pool (the
	 * kernel returns at once in that case too) */
	int copy = same && !strcmp(vc, "dy");
	if (copy)
		emit_line(E, "if (%s != %s)", dx, dy);
	if (m->sum_step) {
		emit_line(E, "%s(s->pool, %s, nb, %s, %lld, %lld, %d, %s, %s);",
			  emit_rt(E, "bcast_vjp_sum_mt"), m->kernel, m->split,
			  (long long)m->sum_step, (long long)m->sum_dn, acc, dx,
			  dy);
		return;
	}
	emit_line(E, "%s%s(s->pool, %s, nb, %s, %d, %s, %s, %s, %s, %s);",
		  copy ? "\t" : "",
		  emit_rt(E, "bcast_vjp_mt"), m->kernel, m->split, acc, dx, dy,
		  expr_reads(vc, 'a') ? xs[0] : "NULL",
		  expr_reads(vc, 'b') ? xs[1] : "NULL",
		  expr_reads(vc, 'y') ? y : "NULL");
}

/* ------------------------------------------------------------ assembly */

static const char *
upper(Arena *a, const char *s)
{
	char *r = arena_strdup(a, s);
	for (char *p = r; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return r;
}

static void
sweep_bp(Emit *E)
{
	emit_sweep(E, MODE_BP);
}

static void
sweep_zil(Emit *E)
{
	emit_sweep(E, MODE_ZIL_GRAD);
}

static void
sweep_zil_train(Emit *E)
{
	emit_sweep(E, MODE_ZIL_TRAIN);
}

static void
sweep_zil_opt(Emit *E)
{
	emit_sweep(E, MODE_ZIL_OPT);
}

/*
 * The static passes of the generated source, in order: each a function
 * whose long body is split into chunk functions.  Parameter lists: P
 * const params and state; G adds the gradient g; U adds to G the
 * parameters to update (or NULL) and lr; T params, state and lr;
 * O params, optimizer state, state and optimizer; S the state; B G and
 * learn; I the state and gamma.
 */
static const struct Pass {
	const char *name;
	char sig;
	unsigned methods;      /* generated for these methods (0: always) */
	void (*body)(Emit *E); /* chunked */
	void (*tail)(Emit *E); /* after the chunks */
	const char *comment;
} passes[] = {
	{"forward", 'P', 0, emit_forward, emit_forward_tail,
	 "/* The forward pass: every vertex in topological order; returns the\n"
	 " * batch-mean loss. */"},
	{"backward", 'U', METHOD_BP, sweep_bp, NULL,
	 "/* The reverse sweep of backpropagation.  Needs a forward pass in s;\n"
	 " * writes dL/dtheta (L the batch-mean loss) into g, every parameter\n"
	 " * overwritten.  Each delta is dL / d(value).  Unless u is NULL\n"
	 " * (training: u is p), u -= lr * dL/dtheta instead, g scratch: a\n"
	 " * parameter used once as soon as its last use has read it, with the\n"
	 " * product that gives its gradient where there is one (which then\n"
	 " * need not store it), the others at the end. */"},
	{"zil_schedule", 'G', METHOD_ZIL, sweep_zil, NULL,
	 "/* Z-IL, the level schedule (docs/pc.md): errors eps = x - mu of\n"
	 " * the PC network under C1-C3, computed level by level: at step t only\n"
	 " * the vertices of level t carry a nonzero error that matters.  Each\n"
	 " * vertex's parameters take their Hebbian update (d mu / d theta)^T eps\n"
	 " * at its own step (C2).  Writes the gradient those updates follow,\n"
	 " * dL/dtheta, into g: bit for bit BP's.  Needs a forward pass in s. */"},
	{"zil_train", 'T', METHOD_ZIL, sweep_zil_train, NULL,
	 "/* One Z-IL training step after a forward pass: the level schedule\n"
	 " * with every parameter changed in place at its vertex's step, tied\n"
	 " * ones at the end; no gradient buffer.  Gives P_train_bp's\n"
	 " * parameters. */"},
	{"zil_opt", 'O', METHOD_ZIL, sweep_zil_opt, NULL,
	 "/* The same with optimizer c: each parameter's update (step o->step)\n"
	 " * in place at its vertex's step, tied ones at the end, parameters\n"
	 " * no loss depends on with a zero gradient.  Gives P_step_bp's\n"
	 " * parameters and moments. */"},
	{"pc_start", 'S', METHOD_PC, emit_pc_start, NULL,
	 "/* PC, C1: the value nodes start at the forward predictions, x =\n"
	 " * mu(0). */"},
	{"pc_predict", 'P', METHOD_PC, emit_pc_predict, NULL,
	 "/* PC: the prediction mu_i = g_i(x of the parents) of every vertex\n"
	 " * from the current value nodes, and the error nodes eps_i = x_i -\n"
	 " * mu_i; an output's error is -beta d loss / d mu. */"},
	{"pc_backprop", 'B', METHOD_PC, emit_pc_backprop, NULL,
	 "/* PC: the error feedback fb_i = sum over children c of J_c^T eps_c\n"
	 " * (the Jacobian at the current value nodes) for every vertex, and\n"
	 " * the local, Hebbian parameter update (d mu_i / d theta)^T eps_i,\n"
	 " * summed into g, of the vertices of level `learn` (all if learn ==\n"
	 " * -1, none if -2). */"},
	{"pc_infer", 'I', METHOD_PC, emit_pc_infer, NULL,
	 "/* PC inference, every value node at once (Jacobi style):\n"
	 " * x_i += gamma * (-eps_i + fb_i). */"},
};

static void
emit_pass(Emit *E, StrBuf *body, const struct Pass *ps)
{
	const char *P = E->P, *R = E->real;
	const char *params, *args, *voids;
	/* The strings a pass makes (a dozen for each step of an unrolled
	 * model) are its own but for the kernels' names: dead at its end,
	 * not all held until the end of the compilation, their pages used
	 * again by the next pass. */
	E->a = &E->pass;
	switch (ps->sig) {
	case 'P':
		params = arena_printf(E->a, "const %s_params *p, %s_state *s", P, P);
		args = "p, s";
		voids = "\t(void)p;\n\t(void)s;\n";
		break;
	case 'G':
	case 'B':
		params = arena_printf(E->a, "const %s_params *p, %s_state *s, "
				      "%s_params *g%s", P, P, P,
				      ps->sig == 'B' ? ", int learn" : "");
		args = ps->sig == 'B' ? "p, s, g, learn" : "p, s, g";
		voids = ps->sig == 'B' ? "\t(void)p;\n\t(void)s;\n\t(void)g;\n"
					 "\t(void)learn;\n"
				       : "\t(void)p;\n\t(void)s;\n\t(void)g;\n";
		break;
	case 'U':
		params = arena_printf(E->a, "const %s_params *p, %s_state *s, "
				      "%s_params *g, %s_params *u, %s lr", P, P,
				      P, P, R);
		args = "p, s, g, u, lr";
		voids = "\t(void)p;\n\t(void)s;\n\t(void)g;\n\t(void)u;\n"
			"\t(void)lr;\n";
		break;
	case 'T':
		params = arena_printf(E->a, "%s_params *p, %s_state *s, %s lr", P,
				      P, R);
		args = "p, s, lr";
		voids = "\t(void)p;\n\t(void)s;\n\t(void)lr;\n";
		break;
	case 'O':
		params = arena_printf(E->a, "%s_params *p, %s_opt *o, %s_state *s, "
				      "const pcg_optim *c", P, P, P);
		args = "p, o, s, c";
		voids = "\t(void)p;\n\t(void)o;\n\t(void)s;\n\t(void)c;\n";
		break;
	case 'S':
		params = arena_printf(E->a, "%s_state *s", P);
		args = "s";
		voids = "\t(void)s;\n";
		break;
	default:
		params = arena_printf(E->a, "%s_state *s, %s gamma", P, R);
		args = "s, gamma";
		voids = "\t(void)s;\n\t(void)gamma;\n";
		break;
	}
	Chunker ck;
	PlanRegion *rg = arena_alloc(E->keep, sizeof *rg);
	rg->start = body->len;
	rg->forward = ps->tail != NULL;
	vec_push(E->keep, &E->regions, rg);
	voids = arena_printf(E->a, "\tconst int nb = batch_in_use(s);\n%s"
			     "\t(void)nb;\n", voids);
	chunk_begin(E, &ck, body, arena_printf(E->a, "%s_part", ps->name),
		    params, args, voids);
	E->ind = "\t";
	E->in_pc = strncmp(ps->name, "pc_", 3) == 0;
	ps->body(E);
	E->in_pc = 0;
	const char *calls = chunk_end(E, &ck, body);
	int is_fwd = ps->tail != NULL;
	rg->wrapper = body->len;
	rg->chunked = rg->wrapper > rg->start;
	sb_printf(body, "\n%s\n%s\n%s(%s)\n{\n", ps->comment,
		  is_fwd ? arena_printf(E->a, "static %s", R) : "static void",
		  ps->name, params);
	if (is_fwd) {
		emit_line(E, "%s loss = %s;", R, emit_lit(E, 0));
		emit_line(E, "const int nb = batch_in_use(s);");
		emit_line(E, "(void)p;");
		emit_line(E, "(void)nb;");
	} else {
		sb_puts(body, voids);
	}
	sb_puts(body, calls);
	if (ps->tail)
		ps->tail(E);
	sb_puts(body, "}\n");
	rg->end = body->len;
	E->a = E->keep;
	arena_reset(&E->pass);
}

/* pc_run: the Z-IL dynamics, Fa-Z-IL and standard PC */
static void
emit_pc_run(Emit *E, StrBuf *body)
{
	const char *P = E->P, *R = E->real, *PU = E->PU;
	sb_printf(body, "\n/* Run the PC network: forward pass, x = mu (C1), "
			"`steps` inference steps\n * at rate gamma.  zil 1 "
			"(Z-IL): the parameters of level-t vertices learn at\n"
			" * step t (C2); zil 2 (Fa-Z-IL): a vertex's learn when "
			"its plasticity gate\n * opens; zil 0: all learn from the "
			"errors where inference ended.\n * Writes dL/dtheta, the "
			"negated mean Hebbian update, into g. */\nstatic %s\n"
			"pc_run(const %s_params *p, %s_state *s, %s_params *g, "
			"int steps, %s gamma, %s beta, int zil)\n{\n",
		  R, P, P, P, R, R);
	emit_line(E, "%s loss = forward(p, s);", R);
	emit_line(E, "const int nb = batch_in_use(s);");
	emit_line(E, "s->pc.beta = beta;");
	emit_line(E, "pc_start(s);");
	emit_line(E, "%s(%s_NUM_REALS, (%s *)g, %s);", emit_rt(E, "fill"), PU, R,
		  emit_lit(E, 0));
	if (emit_has(E, METHOD_ZIL))
		emit_line(E, "for (size_t k = 0; k < sizeof s->pc.fired; k++)\n"
			     "\t\ts->pc.fired[k] = 0; /* every gate shut */");
	emit_line(E, "for (int t = 0; t < steps; t++) {");
	emit_line(E, "\tpc_predict(p, s);");
	if (E->o->zil_control == 2)
		emit_line(E, "\tpc_backprop(p, s, g, zil == 2 ? -3 : zil ? t - 1 "
			     ": -2); /* negative control: every level learns "
			     "one step late */");
	else if (emit_has(E, METHOD_ZIL))
		emit_line(E, "\tpc_backprop(p, s, g, zil == 2 ? -3 : zil ? t : "
			     "-2);");
	else
		emit_line(E, "\tpc_backprop(p, s, g, zil ? t : -2);");
	emit_line(E, "\tpc_infer(s, gamma);");
	emit_line(E, "}");
	emit_line(E, "pc_predict(p, s); /* errors at the final value nodes */");
	if (E->o->zil_control == 2)
		emit_line(E, "if (zil == 1)\n\t\tpc_backprop(p, s, g, steps - 1); "
			     "/* the last level, one step late */");
	emit_line(E, "if (zil == 0)");
	emit_line(E, "\tpc_backprop(p, s, g, -1);");
	emit_line(E, "%s(%s_NUM_REALS, %s / (beta * nb), (%s *)g);",
		  emit_rt(E, "scale"), PU, emit_lit(E, -1), R);
	emit_line(E, "s->pc.valid = 1;");
	emit_line(E, "return loss;");
	sb_puts(body, "}\n");
}

/* ipc_run: incremental PC, `steps` steps that each move the value nodes
 * and the parameters from the same errors (sgd if o is NULL, else
 * optimizer c).  Returns the loss of the forward pass before the first
 * step.  Emitted after opt_apply, by emit_api. */
void
emit_ipc_run(Emit *E, StrBuf *body)
{
	const char *P = E->P, *R = E->real, *PU = E->PU;
	sb_printf(body, "\n/* Incremental PC: forward pass, x = mu, then `steps` "
			"steps, each from the\n * errors eps(t) at the current "
			"value nodes and parameters: x(t+1) = x(t) +\n * gamma "
			"(-eps + fb) and theta(t+1) = theta(t) - lr * dF/dtheta, "
			"dF/dtheta = -mean\n * over the batch of (d mu / d "
			"theta)^T eps (sgd), or optimizer c's step from\n * that "
			"gradient (o not NULL).  No separate inference phase. */\n"
			"static %s\nipc_run(%s_params *p, %s_opt *o, %s_state *s, "
			"const pcg_optim *c, %s lr, int steps, %s gamma)\n{\n",
		  R, P, P, P, R, R);
	emit_line(E, "%s loss = forward(p, s);", R);
	emit_line(E, "const int nb = batch_in_use(s);");
	emit_line(E, "s->pc.beta = %s;", emit_lit(E, 1));
	emit_line(E, "pc_start(s);");
	emit_line(E, "for (int t = 0; t < steps; t++) {");
	emit_line(E, "\tpc_predict(p, s);");
	emit_line(E, "\t%s(%s_NUM_REALS, (%s *)&s->grad, %s);", emit_rt(E, "fill"),
		  PU, R, emit_lit(E, 0));
	emit_line(E, "\tpc_backprop(p, s, &s->grad, -1);");
	emit_line(E, "\tpc_infer(s, gamma);");
	emit_line(E, "\t%s(%s_NUM_REALS, %s / nb, (%s *)&s->grad);",
		  emit_rt(E, "scale"), PU, emit_lit(E, -1), R);
	emit_line(E, "\tif (o)\n\t\t\topt_apply(p, o, &s->grad, c);\n\t\telse\n"
		     "\t\t\t%s_sgd(p, &s->grad, lr);", P);
	emit_line(E, "}");
	emit_line(E, "pc_predict(p, s); /* the errors at the final value nodes "
		     "and parameters */");
	emit_line(E, "s->pc.valid = 1;");
	emit_line(E, "return loss;");
	sb_puts(body, "}\n");
}

/* The sizes of the state's parts for pcc --info; scratch and tied are
 * Z-IL's. */
static void
state_sizes(Emit *E, const char *src, int64_t scratch, int64_t tied)
{
	const Graph *g = E->g;
	EmitSizes z = {0};
	for (int w = 0; w < 2; w++) {
		const PtrVec *l = w ? &g->targets : &g->inputs;
		for (int i = 0; i < l->len; i++)
			z.data += shape_numel(&((DataDecl *)l->items[i])->shape);
	}
	for (int i = 0; i < g->outputs.len; i++)
		z.data += shape_numel(&((OutputDecl *)g->outputs.items[i])->node->shape);
	z.data *= E->o->batch;
	z.values = E->reals_v;
	z.deltas = E->reals_d;
	z.shared = E->reals_shared;
	z.pc = emit_has(E, METHOD_PC) ? E->reals_pc + 2 : 0; /* + beta, valid */
	z.zil = emit_has(E, METHOD_ZIL) ? scratch + tied : 0;
	z.grad = emit_has(E, METHOD_BP | METHOD_PC) ? g->param_count : 0;
	E->state_reals = z.data + z.values + z.deltas + z.shared + z.pc + z.zil +
			 z.grad;
	emit_plan_peaks(E, src, &z);
	if (E->o->sizes)
		*E->o->sizes = z;
}

int64_t
emit_model(Arena *a, const Graph *g, const EmitOptions *o, StrBuf *h,
	   StrBuf *c)
{
	Emit E;
	memset(&E, 0, sizeof E);
	E.a = E.keep = a;
	E.g = g;
	E.o = o;
	E.P = o->prefix;
	E.PU = upper(a, o->prefix);
	E.is_float = strcmp(o->real, "float") == 0;
	E.real = arena_printf(a, "%s_real", E.P);
	int nn = g->nodes.len;
	E.loops = o->unroll == UNROLL_LOOPS || o->unroll == UNROLL_CONTROL ||
		  (o->unroll == UNROLL_AUTO && nn >= UNROLL_AUTO_NODES);
	E.val = arena_alloc(a, sizeof(char *) * (size_t)(nn + 1));
	E.adj = arena_alloc(a, sizeof(char *) * (size_t)(nn + 1));
	E.mem = arena_alloc(a, sizeof(char *) * (size_t)(nn + 1));
	E.has_adj = arena_alloc(a, (size_t)nn + 1);
	E.idmem = arena_alloc(a, sizeof(char *) * (size_t)(g->pcv.len + 1));
	E.idx = arena_alloc(a, sizeof(int) * (size_t)(g->pcv.len + 1));

	/* the state's buffers, then Z-IL's scratch and tied sums */
	StrBuf vdecl = {0}, ddecl = {0}, pcdecl = {0}, zildecl = {0};
	sb_puts(&vdecl, "");
	sb_puts(&ddecl, "");
	sb_puts(&pcdecl, "");
	sb_puts(&zildecl, "");
	E.puses = emit_param_uses(a, g);
	E.fused = arena_alloc(a, (size_t)g->params.len + 1);
	emit_layout(&E, &pcdecl);
	int64_t scratch = 1, tied = 0;
	for (int i = 0; i < g->params.len; i++) {
		ParamDecl *pd = g->params.items[i];
		int uses = E.puses[i];
		if (uses <= 1 && shape_numel(&pd->shape) > scratch)
			scratch = shape_numel(&pd->shape);
		if (uses > 1) {
			sb_printf(&zildecl, "\t\t%s %s%s;\n", E.real,
				  emit_member(&E, pd->name),
				  emit_decl_dims(&E, &pd->shape, 0));
			tied += shape_numel(&pd->shape);
		}
	}
	sb_printf(&zildecl, "\t\t%s scratch[%lld];\n", E.real, (long long)scratch);

	/* the passes, pc_run, then the API */
	StrBuf body = {0};
	sb_puts(&body, "");
	sb_puts(&E.kern, "");
	sb_printf(&body, "\n/* The samples in use: s->n, 0 meaning all %s_BATCH "
			"(the API functions\n * refuse any other value "
			"outside 1..%s_BATCH). */\nstatic int\n"
			"batch_in_use(const %s_state *s)\n{\n\treturn s->n > 0 ? "
			"s->n : %s_BATCH;\n}\n",
		  E.PU, E.PU, E.P, E.PU);
	E.out = &body;
	E.ind = "\t";
	for (size_t i = 0; i < sizeof passes / sizeof passes[0]; i++)
		if (!passes[i].methods || emit_has(&E, passes[i].methods))
			emit_pass(&E, &body, &passes[i]);
	if (emit_has(&E, METHOD_PC))
		emit_pc_run(&E, &body);
	/* what only the passes use (the largest pass's text, strings and
	 * rolling arrays, hundreds of MB on a long model) given back before
	 * the API and the plan */
	sb_free(&E.text);
	arena_free(&E.pass);
	emit_reroll_free(&E);
	emit_sweep_free(&E);
	emit_api(&E, &body);

	/* the state, laid out by the memory plan, and the header */
	emit_plan(&E, &body, &vdecl, &ddecl);
	state_sizes(&E, body.data, scratch, tied);
	emit_descriptor(&E, &body);
	emit_header(&E, h, vdecl.data, ddecl.data, pcdecl.data, zildecl.data);
	sb_free(&vdecl);
	sb_free(&ddecl);
	sb_free(&pcdecl);
	sb_free(&zildecl);

	/* assemble */
	sb_printf(c, "/* Generated by pcc %s from %s. DO NOT EDIT. */\n",
		  PCC_VERSION, o->source_name);
	sb_printf(c, "#include <math.h>\n#include <stddef.h>\n\n#include "
		     "\"%s\"\n\n",
		  o->header_name);
	/* reproducible mode: clang contracts a * b + c unless told not to */
	sb_printf(c, "#if defined(PCG_REPRODUCIBLE) && defined(__clang__)\n"
		     "#pragma STDC FP_CONTRACT OFF\n#endif\n");
	sb_printf(c, "#if PCG_RUNTIME_VERSION != %d\n#error \"%s was generated "
		     "for pcg_runtime version %d\"\n#endif\n",
		  PCG_RUNTIME_VERSION_NEEDED, o->header_name,
		  PCG_RUNTIME_VERSION_NEEDED);
	sb_printf(c, "\n/* ------------------------------------------------------"
		     "----- kernels */\n");
	sb_printf(c, "\n/* Kernels are called from many places and stay calls: "
		     "inlining them\n * everywhere would make long models slow to "
		     "compile. */\n#if defined(__GNUC__)\n#define PCC_KERNEL static "
		     "__attribute__((noinline))\n#else\n#define PCC_KERNEL "
		     "static\n#endif\n");
	sb_printf(c, "/* The element-wise loops' iterations are independent "
		     "(gcc vectorises them\n * at -O2 without an overlap "
		     "check). */\n#if defined(__GNUC__) && "
		     "!defined(__clang__)\n#define PCC_IVDEP _Pragma(\"GCC "
		     "ivdep\")\n#else\n#define PCC_IVDEP\n#endif\n");
	sb_printf(c, "/* A short loop of fixed length (a bias gradient's partial "
		     "sums, a block of\n * an element-wise kernel) unrolled "
		     "whole: gcc -O2 then keeps it in\n * registers. */\n"
		     "#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ "
		     ">= 8\n#define PCC_UNROLL _Pragma(\"GCC unroll 16\")\n"
		     "#else\n#define PCC_UNROLL\n#endif\n");
	/* every definition in the kernel section is a kernel */
	for (const char *k = E.kern.data; *k;) {
		const char *hit = strstr(k, "\nstatic ");
		if (!hit) {
			sb_puts(c, k);
			break;
		}
		sb_printf(c, "%.*s\nPCC_KERNEL ", (int)(hit - k), k);
		k = hit + strlen("\nstatic ");
	}
	sb_puts(c, body.data);
	sb_free(&body);
	sb_free(&E.kern);
	emit_reroll_free(&E); /* the API's energies roll their lines too */
	return E.state_reals;
}
