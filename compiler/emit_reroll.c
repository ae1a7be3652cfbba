/*
 * emit_reroll.c — long unrolled bodies rolled back into C loops
 * (pcc --unroll loops).
 *
 * Takes the text of a pass, cut into blocks at its chunk points (between
 * vertices); gives the same text with every run of blocks that repeats
 * written as one C loop.  sema unrolls a `for` loop of the model into one
 * vertex per iteration, and the emitters write one block per vertex: the
 * blocks of consecutive iterations are the same code but for the integer
 * literals that index buffers and slices, which advance by a constant
 * stride (emit_layout gives the operations of a family's vertices an
 * array per name, so that they are indexed, not named).
 *
 * Blocks are compared as C tokens, comments left out.  A run is K >= 3
 * consecutive groups of p blocks (p <= MAX_PERIOD) whose tokens are equal
 * to the first group's but for integer literals, and whose every integer
 * literal is v + k * d in group k (v its value in the first group, d in
 * the second minus v).  The loop is the first group's code with each
 * literal whose d is not 0 replaced by (v + d * pcg_it): iteration k is
 * then token for token group k's code, so the loop runs the same
 * statements in the same order as the unrolled code and gives the same
 * bits.  Blocks with a preprocessor line, a memory-plan hint or the name
 * pcg_it are never rolled; nor are literals that are not plain decimal
 * integers below 10^9 (those must be equal in every group).
 *
 * A block is read as tokens once its text differs from the block a period
 * back (the last one with the same tokens) in more than its integer
 * literals and comments; the blocks of an unrolled loop's steps are
 * compared with the step before as bytes instead (same_text).
 *
 * Runs are found greedily from the front: at each block the period with
 * the longest run wins (a multiple of a period already found is not
 * tried; a group of comments alone is no run); a block in no run is
 * copied as it is.
 *
 * A chunked pass gives its blocks one at a time as they are written
 * (emit_reroll_begin, _block, _end), and a block whose text is an
 * earlier block's but for its holes (same_text) need not stay in the
 * pass's text: its integer literals and comments are kept, and its text
 * is written again from the earlier block's when it is needed
 * (block_text).  The pass's text then holds only the blocks that are not
 * such repeats: an unrolled loop's first step, not its 10^5 (0.18 GB of
 * text for a long RNN's pass, written and read back once).
 */
#include <stdlib.h>
#include <string.h>

#include "emit.h"

enum {
	MAX_PERIOD = 64, /* blocks in one iteration of a rolled loop */
	MIN_ITERS = 3,   /* iterations of a rolled loop */
	MAX_DIGITS = 9   /* integer literals rolled: below 10^9 */
};

static const char LOOP_VAR[] = "pcg_it";

typedef enum { TK_END, TK_COMMENT, TK_INT, TK_OTHER, TK_BAD } TokKind;

typedef struct Tok {
	TokKind kind;
	const char *s;
	size_t len;
	long long value; /* TK_INT */
} Tok;

static int
is_alpha(char c)
{
	return (unsigned)((c | 0x20) - 'a') < 26 || c == '_';
}

static int
is_digit(char c)
{
	return (unsigned)(c - '0') < 10;
}

/* The next token of [*p, end): whitespace skipped, *p moved past it. */
static Tok
next_tok(const char **pp, const char *end)
{
	const char *p = *pp;
	Tok t = {TK_END, NULL, 0, 0};
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n'))
		p++;
	t.s = p;
	if (p >= end) {
		*pp = p;
		return t;
	}
	const char *q = p + 1;
	if (p[0] == '/' && q < end && *q == '*') {
		t.kind = TK_COMMENT;
		for (q = p + 2; q + 1 < end; q++) {
			q = memchr(q, '*', (size_t)(end - q - 1));
			if (!q || q[1] == '/')
				break;
		}
		q = q && q + 1 < end ? q + 2 : end;
	} else if (*p == '"' || *p == '\'') {
		t.kind = TK_OTHER;
		while (q < end && *q != *p) {
			if (*q == '\\' && q + 1 < end)
				q++;
			q++;
		}
		if (q < end)
			q++;
	} else if (is_digit(*p) || (*p == '.' && q < end && is_digit(*q))) {
		/* a preprocessing number: 12, 1.5f, 1e-5, 0x1p+3 */
		int digits = is_digit(*p);
		while (q < end && (is_alpha(*q) || is_digit(*q) || *q == '.' ||
				   ((*q == '+' || *q == '-') &&
				    (q[-1] == 'e' || q[-1] == 'E' ||
				     q[-1] == 'p' || q[-1] == 'P')))) {
			digits &= is_digit(*q);
			q++;
		}
		size_t n = (size_t)(q - p);
		t.kind = digits && n <= MAX_DIGITS && (n == 1 || *p != '0')
			? TK_INT : TK_OTHER;
		if (t.kind == TK_INT)
			for (const char *r = p; r < q; r++)
				t.value = t.value * 10 + (*r - '0');
	} else if (is_alpha(*p)) {
		t.kind = TK_OTHER;
		while (q < end && (is_alpha(*q) || is_digit(*q)))
			q++;
		if ((size_t)(q - p) == sizeof LOOP_VAR - 1 &&
		    memcmp(p, LOOP_VAR, sizeof LOOP_VAR - 1) == 0)
			t.kind = TK_BAD;
	} else {
		t.kind = *p == '#' || *p == PLAN_MARK ? TK_BAD : TK_OTHER;
	}
	t.len = (size_t)(q - p);
	*pp = q;
	return t;
}

typedef struct Block {
	size_t at, len; /* its text, when kept (root < 0) */
	int root;      /* -1, or the kept block whose text it is but for its
			  holes (its text not kept) */
	size_t com;    /* not kept: its comments in Roll.com from here */
	int skel;      /* its tokens, integer literals as one: Roll.skel */
	int ints;      /* first of its integer literals in Roll.val */
	int nint;
	int holes;     /* first of its literals and comments in Roll.hole */
	int nhole;
	int bad;       /* never rolled */
	int code;      /* has code (not only comments) */
} Block;

/*
 * The distinct token sequences of the blocks, integer literals left out
 * (a block's skeleton), each kept once: two blocks are the same code but
 * for integer literals when they have the same skeleton, so that a block
 * is tokenized once and compared as an int.  A skeleton is written as its
 * tokens, each followed by a NUL (which C text does not hold), and an
 * integer literal as a NUL alone; skeletons are found by hash in an open
 * addressing table of nslot (a power of 2) slots holding skeleton + 1.
 */
typedef struct Skel {
	uint64_t hash;
	size_t at, len; /* in Skels.text */
	int last;       /* the last block with it so far */
} Skel;

typedef struct Skels {
	StrBuf text; /* every skeleton, one after the other */
	Skel *s;
	int n, cap;
	int *slot;
	int nslot;
} Skels;

/* Classes of characters for scan_block: a byte of the text indexes a
 * table of them instead of a chain of tests. */
enum {
	CL_SPACE = 1,
	CL_ALPHA = 2, /* letters and _ */
	CL_DIGIT = 4,
	CL_SLOW = 8   /* starts a token scan_block leaves to next_tok */
};

/* The state of emit_reroll, kept from one pass to the next (E->roll) so
 * that its large arrays are allocated and touched once. */
struct Roll {
	const char *text; /* where the kept blocks are (it moves as it grows) */
	int period; /* the scan's distance to the last block of the same
		       skeleton (0: none) */
	StrBuf com; /* the comments of the blocks not kept, one after another */
	StrBuf mat; /* a block's text written again (block_text) */
	Block *b;
	int nb, capb;
	int *val; /* every block's integer literals (below 10^9), in order */
	int nval, capval;
	/* every block's holes, in order: where its integer literals and
	 * comments start in its text, the parts that may change from one
	 * iteration of a loop to the next (same_text) */
	int *hole;
	int nhole, caphole;
	Skels skel;
	StrBuf scratch; /* the skeleton of the block being scanned */
	unsigned char cls[256]; /* CL_* of each character, for scan_block */
};
typedef struct Roll Roll;

/* p (of *cap items of size bytes) with room for twice as many */
static void *
grow(void *p, int *cap, size_t size)
{
	*cap = *cap ? 2 * *cap : 1024;
	p = realloc(p, size * (size_t)*cap);
	if (!p)
		die("out of memory");
	return p;
}

static void
skel_rehash(Skels *S)
{
	S->nslot = S->nslot ? 2 * S->nslot : 1024;
	free(S->slot);
	S->slot = calloc((size_t)S->nslot, sizeof *S->slot);
	if (!S->slot)
		die("out of memory");
	size_t mask = (size_t)S->nslot - 1;
	for (int k = 0; k < S->n; k++) {
		size_t i = S->s[k].hash & mask;
		while (S->slot[i])
			i = (i + 1) & mask;
		S->slot[i] = k + 1;
	}
}

/* The skeleton s[0, n), added if new. */
static int
skel_of(Skels *S, const char *s, size_t n)
{
	uint64_t h = util_hash_long(s, n, 0);
	if (2 * (S->n + 1) > S->nslot)
		skel_rehash(S);
	size_t mask = (size_t)S->nslot - 1, i = h & mask;
	for (; S->slot[i]; i = (i + 1) & mask) {
		const Skel *x = &S->s[S->slot[i] - 1];
		if (x->hash == h && x->len == n &&
		    memcmp(S->text.data + x->at, s, n) == 0)
			return S->slot[i] - 1;
	}
	if (S->n == S->cap)
		S->s = grow(S->s, &S->cap, sizeof *S->s);
	S->s[S->n] = (Skel){h, S->text.len, n, -1};
	sb_putn(&S->text, s, n);
	S->slot[i] = S->n + 1;
	return S->n++;
}

static inline void
push_val(Roll *R, int v)
{
	if (R->nval == R->capval)
		R->val = grow(R->val, &R->capval, sizeof *R->val);
	R->val[R->nval++] = v;
}

/* A hole of b, whose text starts at base, at s. */
static inline void
push_hole(Roll *R, Block *b, const char *base, const char *s)
{
	if (R->nhole == R->caphole)
		R->hole = grow(R->hole, &R->caphole, sizeof *R->hole);
	R->hole[R->nhole++] = (int)(s - base);
	b->nhole++;
}

/*
 * The integer literal rolled at p, if p starts one: a plain decimal of at
 * most MAX_DIGITS digits, no leading zero, not followed by what continues
 * a preprocessing number (1.5f, 1e-5).  Its end, and its value in *v;
 * NULL if p starts no such literal.  scan_block and same_text read
 * literals with it alone, so that they agree.
 */
static inline const char *
decimal_at(const unsigned char *cls, const char *p, const char *end, int *v)
{
	const char *q = p;
	int x = 0;
	while (q < end && cls[(unsigned char)*q] == CL_DIGIT) {
		if (q - p == MAX_DIGITS)
			return NULL;
		x = x * 10 + (*q++ - '0');
	}
	if (q == p || (q - p > 1 && *p == '0') ||
	    (q < end && ((cls[(unsigned char)*q] & CL_ALPHA) || *q == '.')))
		return NULL;
	*v = x;
	return q;
}

/* The digits of v (0 <= v < 10^MAX_DIGITS). */
static inline int
ndigits(int v)
{
	int n = 1;
	for (int t = 10; n < MAX_DIGITS && v >= t; t *= 10)
		n++;
	return n;
}

static void
scan_block(Roll *R, int k)
{
	const char *p = R->text + R->b[k].at, *end = p + R->b[k].len;
	const char *base = p;
	Block *b = &R->b[k];
	StrBuf *sk = &R->scratch;
	/* a token of n >= 1 characters takes n + 1 <= 2n with its NUL */
	sk->len = 0;
	sb_reserve(sk, 2 * (size_t)(end - p) + 1);
	char *w = sk->data;
	b->ints = R->nval;
	b->holes = R->nhole;
	const unsigned char *cls = R->cls;
	for (;;) {
		/* names, integers and one-character operators, most of the
		 * tokens, are read here as next_tok would read them; the rest
		 * by next_tok */
		while (p < end && cls[(unsigned char)*p] == CL_SPACE)
			p++;
		if (p == end)
			break;
		int c = cls[(unsigned char)*p];
		const char *q = p + 1;
		if (c == CL_ALPHA) {
			*w++ = *p;
			while (q < end && cls[(unsigned char)*q] & (CL_ALPHA |
								    CL_DIGIT))
				*w++ = *q++;
			if ((size_t)(q - p) == sizeof LOOP_VAR - 1 &&
			    memcmp(p, LOOP_VAR, sizeof LOOP_VAR - 1) == 0)
				b->bad = 1;
			*w++ = 0;
			b->code = 1;
			p = q;
			continue;
		}
		if (c == 0) {
			*w++ = *p;
			*w++ = 0;
			b->code = 1;
			p = q;
			continue;
		}
		int v;
		if (c == CL_DIGIT && (q = decimal_at(cls, p, end, &v))) {
			push_val(R, v);
			push_hole(R, b, base, p);
			b->nint++;
			*w++ = 0;
			b->code = 1;
			p = q;
			continue;
		}
		Tok t = next_tok(&p, end);
		if (t.kind == TK_COMMENT) {
			push_hole(R, b, base, t.s);
			continue;
		}
		b->code = 1;
		if (t.kind == TK_BAD)
			b->bad = 1;
		if (t.kind == TK_INT) {
			push_val(R, (int)t.value);
			push_hole(R, b, base, t.s);
			b->nint++;
		} else {
			memcpy(w, t.s, t.len);
			w += t.len;
		}
		*w++ = 0;
	}
	b->skel = skel_of(&R->skel, sk->data, (size_t)(w - sk->data));
}

/*
 * Block k scanned from block j's scan when its text is block j's but for
 * the holes: each of j's integer literals an integer literal in k (a run
 * of digits scan_block reads as one, of any value), each comment a
 * comment, and the text between them the same bytes.  k then has j's
 * tokens but for the literals' values: j's skeleton.  The consecutive
 * iterations of an unrolled loop are such blocks, and comparing bytes is
 * much cheaper than reading tokens; 0 if k is not (scan_block reads it).
 * j's text is kept; a block that is not is compared through the block
 * whose text it is (Block.root), which has the same bytes but for the
 * holes and the same kinds of holes, so with the same result.  With
 * drop, k's holes are not noted (its text will not be kept: they are
 * j's) but its comments are copied to R->com (block_text).
 */
static int
same_text(Roll *R, int j, int k, int drop)
{
	const Block *a = &R->b[j];
	Block *b = &R->b[k];
	const char *x = R->text + a->at, *y = R->text + b->at;
	const char *xend = x + a->len;
	const char *yend = y + b->len;
	size_t xn = (size_t)(xend - x);
	int nval = R->nval, nhole = R->nhole;
	size_t ncom = R->com.len;
	const unsigned char *cls = R->cls;
	size_t xi = 0;
	const char *p = y;
	b->ints = nval;
	b->holes = nhole;
	int m = 0; /* j's integer literals so far */
	for (int h = 0; h < a->nhole; h++) {
		size_t at = (size_t)R->hole[a->holes + h], n = at - xi;
		if ((size_t)(yend - p) < n || memcmp(x + xi, p, n) != 0)
			goto differ;
		p += n;
		/* j's hole: a literal (its value tells its digits) or a
		 * comment */
		const char *q = x + at;
		int is_int = cls[(unsigned char)*q] == CL_DIGIT;
		if (is_int)
			q += ndigits(R->val[a->ints + m++]);
		else
			next_tok(&q, xend);
		xi = (size_t)(q - x);
		q = p;
		if (is_int) {
			int v;
			if (!(q = decimal_at(cls, p, yend, &v)))
				goto differ;
			push_val(R, v);
		} else {
			if (yend - p < 2 || p[0] != '/' || p[1] != '*')
				goto differ;
			next_tok(&q, yend);
			if (drop) /* kept for block_text */
				sb_putn(&R->com, p, (size_t)(q - p));
		}
		if (!drop) /* else its holes are its root's */
			push_hole(R, b, y, p);
		p = q;
	}
	if ((size_t)(yend - p) != xn - xi || memcmp(x + xi, p, xn - xi) != 0)
		goto differ;
	b->skel = a->skel;
	b->nint = a->nint;
	b->bad = a->bad;
	b->code = a->code;
	return 1;
differ:
	R->nval = nval;
	R->nhole = nhole;
	R->com.len = ncom;
	b->nhole = 0;
	return 0;
}

/*
 * Block k, text[at, at + len), scanned (after the blocks before it).
 * With drop, when its text is a kept block's but for the holes, its
 * comments are copied to R->com and 1 is returned: the caller may take
 * the block out of text (block_text writes it again).
 */
static int
add_block(Roll *R, const char *text, size_t at, size_t len, int drop)
{
	if (R->nb == R->capb)
		R->b = grow(R->b, &R->capb, sizeof *R->b);
	int k = R->nb++;
	Block *b = &R->b[k];
	memset(b, 0, sizeof *b);
	b->at = at;
	b->len = len;
	b->root = -1;
	R->text = text;
	int j = R->period ? k - R->period : -1;
	if (j >= 0 && R->b[j].root >= 0)
		j = R->b[j].root;
	b->com = R->com.len;
	if (j < 0 || !same_text(R, j, k, drop)) {
		scan_block(R, k);
		int last = R->skel.s[b->skel].last;
		R->period = last >= 0 ? k - last : 0;
		R->skel.s[b->skel].last = k;
		return 0;
	}
	R->skel.s[b->skel].last = k;
	if (!drop)
		return 0;
	b->root = j;
	b->at = b->len = 0;
	return 1;
}

/* The text of block k: kept, or written again into R->mat from its
 * root's with its own integer literals and comments in the holes. */
static const char *
block_text(Roll *R, int k, size_t *len)
{
	const Block *b = &R->b[k];
	if (b->root < 0) {
		*len = b->len;
		return R->text + b->at;
	}
	const Block *r = &R->b[b->root];
	const char *x = R->text + r->at, *xend = x + r->len;
	const char *c = R->com.data + b->com, *cend = R->com.data + R->com.len;
	StrBuf *o = &R->mat;
	/* the root's text and MAX_DIGITS a literal; the comments reserved
	 * as they come */
	o->len = 0;
	sb_reserve(o, r->len + (size_t)r->nint * MAX_DIGITS);
	char *w = o->data;
	size_t xi = 0;
	int m = 0;
	for (int h = 0; h < r->nhole; h++) {
		size_t hole = (size_t)R->hole[r->holes + h];
		memcpy(w, x + xi, hole - xi);
		w += hole - xi;
		const char *q = x + hole;
		if (R->cls[(unsigned char)*q] == CL_DIGIT) {
			int v = R->val[b->ints + m];
			w += ndigits(v);
			util_decimal(w, v);
			q += ndigits(R->val[r->ints + m++]);
		} else {
			const char *e = c;
			next_tok(&e, cend);
			size_t n = (size_t)(e - c), have = (size_t)(w - o->data);
			o->len = have;
			sb_reserve(o, n + (r->len - hole) +
				      (size_t)(r->nint - m) * MAX_DIGITS);
			w = o->data + have;
			memcpy(w, c, n);
			w += n;
			c = e;
			next_tok(&q, xend);
		}
		xi = (size_t)(q - x);
	}
	memcpy(w, x + xi, r->len - xi);
	w += r->len - xi;
	o->len = (size_t)(w - o->data);
	*len = o->len;
	return o->data;
}

/* Blocks a and b are the same tokens but for integer literals. */
static int
same_code(const Roll *R, int a, int b)
{
	const Block *x = &R->b[a], *y = &R->b[b];
	return x->skel == y->skel && !x->bad && !y->bad;
}

/* How many groups of p blocks from block j repeat the first with every
 * integer literal advancing by a constant stride (1: no run). */
static int
run_length(const Roll *R, int j, int p)
{
	int k = 1;
	for (; j + (k + 1) * p <= R->nb; k++) {
		for (int r = 0; r < p; r++) {
			int a = j + r, b = j + k * p + r;
			if (!same_code(R, a, b))
				return k;
			const int *v0 = R->val + R->b[a].ints;
			const int *v1 = R->val + R->b[a + p].ints;
			const int *vk = R->val + R->b[b].ints;
			for (int m = 0; m < R->b[a].nint; m++)
				if (vk[m] != v0[m] + (long long)k * (v1[m] - v0[m]))
					return k;
		}
	}
	return k;
}

/* Append s[0, n) to out, each line indented by one more tab and lines
 * left empty by the comments dropped from them left out. */
static void
put_lines(StrBuf *out, const char *s, size_t n)
{
	while (n) {
		const char *nl = memchr(s, '\n', n);
		size_t len = nl ? (size_t)(nl - s) + 1 : n;
		size_t k = 0;
		while (k < len && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n'))
			k++;
		if (k < len) {
			sb_putc(out, '\t');
			sb_putn(out, s, len);
			if (s[len - 1] != '\n')
				sb_putc(out, '\n');
		}
		s += len;
		n -= len;
	}
}

/* Blocks j .. j + k * p - 1 as one loop of k iterations of p blocks. */
static void
put_loop(Emit *E, Roll *R, int j, int p, int k, StrBuf *out)
{
	sb_printf(out, "%s/* %d iterations (%s = 0 .. %d) of the %d block%s "
		  "below, the first as written in the source: */\n", E->ind, k,
		  LOOP_VAR, k - 1, p, p > 1 ? "s" : "");
	for (int r = 0; r < p; r++) {
		size_t len;
		const char *q = block_text(R, j + r, &len), *end = q + len;
		for (Tok t; (t = next_tok(&q, end)).kind != TK_END;)
			if (t.kind == TK_COMMENT)
				sb_printf(out, "%s%.*s\n", E->ind, (int)t.len, t.s);
	}
	if (E->o->unroll == UNROLL_CONTROL) /* tests only: backwards */
		sb_printf(out, "%sfor (int %s = %d; %s >= 0; %s--) {\n",
			  E->ind, LOOP_VAR, k - 1, LOOP_VAR, LOOP_VAR);
	else
		sb_printf(out, "%sfor (int %s = 0; %s < %d; %s++) {\n", E->ind,
			  LOOP_VAR, LOOP_VAR, k, LOOP_VAR);
	StrBuf body = {0};
	sb_puts(&body, "");
	for (int r = 0; r < p; r++) {
		const Block *b = &R->b[j + r];
		const int *v0 = R->val + b->ints;
		const int *v1 = R->val + R->b[j + r + p].ints;
		size_t len;
		const char *q = block_text(R, j + r, &len), *end = q + len;
		const char *copied = q;
		int m = 0;
		for (Tok t; (t = next_tok(&q, end)).kind != TK_END;) {
			if (t.kind != TK_COMMENT && t.kind != TK_INT)
				continue;
			sb_putn(&body, copied, (size_t)(t.s - copied));
			copied = t.s + t.len;
			if (t.kind == TK_COMMENT)
				continue;
			long long d = (long long)v1[m] - v0[m];
			if (d == 0)
				sb_printf(&body, "%d", v0[m]);
			else if (d == 1)
				sb_printf(&body, "(%d + %s)", v0[m], LOOP_VAR);
			else if (d == -1)
				sb_printf(&body, "(%d - %s)", v0[m], LOOP_VAR);
			else
				sb_printf(&body, "(%d %c %lld * %s)", v0[m],
					  d < 0 ? '-' : '+', d < 0 ? -d : d,
					  LOOP_VAR);
			m++;
		}
		sb_putn(&body, copied, (size_t)(end - copied));
	}
	put_lines(out, body.data, body.len);
	sb_free(&body);
	sb_printf(out, "%s}\n", E->ind);
}

static void
push_cut(Emit *E, size_t **cut, int *n, int *cap, size_t at)
{
	if (*n == *cap) {
		int nc = *cap ? 2 * *cap : 64;
		size_t *c = arena_alloc(E->a, sizeof *c * (size_t)nc);
		if (*n)
			memcpy(c, *cut, sizeof *c * (size_t)*n);
		*cut = c;
		*cap = nc;
	}
	(*cut)[(*n)++] = at;
}

void
emit_reroll_begin(Emit *E)
{
	if (!E->roll) {
		E->roll = calloc(1, sizeof *E->roll);
		if (!E->roll)
			die("out of memory");
		for (int c = 0; c < 256; c++)
			E->roll->cls[c] =
				c == ' ' || c == '\t' || c == '\n' ? CL_SPACE
				: is_alpha((char)c) ? CL_ALPHA
				: is_digit((char)c) ? CL_DIGIT
				: c == '/' || c == '"' || c == '\'' || c == '.' ||
				  c == '#' || c == PLAN_MARK ? CL_SLOW : 0;
	}
	Roll *R = E->roll;
	R->nb = 0;
	R->period = 0;
	R->nval = 0;
	R->nhole = 0;
	R->com.len = 0;
	sb_reserve(&R->com, 0); /* allocated: block_text indexes it */
	R->skel.n = 0;
	R->skel.text.len = 0;
	if (R->skel.slot)
		memset(R->skel.slot, 0, sizeof *R->skel.slot *
					(size_t)R->skel.nslot);
}

int
emit_reroll_block(Emit *E, const char *text, size_t at, size_t end, int drop)
{
	return add_block(E->roll, text, at, end - at, drop);
}

void
emit_reroll_end(Emit *E, const char *text, StrBuf *out, size_t **out_cut,
		int *nout)
{
	Roll *R = E->roll;
	R->text = text;
	int cap = 0;
	*nout = 0;
	push_cut(E, out_cut, nout, &cap, out->len);
	for (int j = 0; j < R->nb;) {
		int best_p = 0, best_k = 0;
		char tried[MAX_PERIOD + 1] = {0};
		for (int p = 1; p <= MAX_PERIOD && j + MIN_ITERS * p <= R->nb;
		     p++) {
			if (tried[p] || R->b[j].bad ||
			    R->b[j].skel != R->b[j + p].skel)
				continue;
			int code = 0;
			for (int r = 0; r < p; r++)
				code |= R->b[j + r].code;
			if (!code) /* comments only: nothing to loop over */
				continue;
			int k = run_length(R, j, p);
			if (k < MIN_ITERS)
				continue;
			for (int q = 2 * p; q <= MAX_PERIOD; q += p)
				tried[q] = 1;
			if (k * p > best_k * best_p) {
				best_p = p;
				best_k = k;
			}
		}
		if (best_k) {
			put_loop(E, R, j, best_p, best_k, out);
			j += best_k * best_p;
		} else {
			size_t len;
			const char *t = block_text(R, j, &len);
			sb_putn(out, t, len);
			j++;
		}
		push_cut(E, out_cut, nout, &cap, out->len);
	}
}

void
emit_reroll(Emit *E, const char *text, const size_t *cut, int ncut,
	    StrBuf *out, size_t **out_cut, int *nout)
{
	emit_reroll_begin(E);
	for (int k = 0; k + 1 < ncut; k++)
		emit_reroll_block(E, text, cut[k], cut[k + 1], 0);
	emit_reroll_end(E, text, out, out_cut, nout);
}

int
emit_reroll_count(const Emit *E)
{
	return E->roll->nb;
}

struct Roll *
emit_reroll_take(Emit *E)
{
	Roll *R = E->roll;
	E->roll = NULL;
	return R;
}

const char *
emit_reroll_text(Roll *R, const char *text, int k, size_t *len)
{
	if (k < 0 || k >= R->nb)
		die("block %d of %d", k, R->nb);
	R->text = text;
	return block_text(R, k, len);
}

void
emit_reroll_free(Emit *E)
{
	emit_reroll_drop(E->roll);
	E->roll = NULL;
}

void
emit_reroll_drop(Roll *R)
{
	if (!R)
		return;
	free(R->b);
	free(R->val);
	free(R->hole);
	sb_free(&R->com);
	sb_free(&R->mat);
	sb_free(&R->scratch);
	sb_free(&R->skel.text);
	free(R->skel.s);
	free(R->skel.slot);
	free(R);
}

void
emit_reroll_lines(Emit *E, size_t from)
{
	if (E->chunk && E->loops) /* its roller holds the pass's blocks */
		die("emit_reroll_lines inside a chunked pass with loops");
	StrBuf *o = E->out;
	int n = 1, cap = 64;
	size_t *cut = arena_alloc(E->a, sizeof *cut * (size_t)cap);
	cut[0] = from;
	for (size_t i = from; i < o->len; i++)
		if (o->data[i] == '\n') {
			if (n == cap) {
				size_t *c = arena_alloc(E->a, sizeof *c *
							       (size_t)cap * 2);
				memcpy(c, cut, sizeof *c * (size_t)n);
				cut = c;
				cap *= 2;
			}
			cut[n++] = i + 1;
		}
	if (cut[n - 1] != o->len)
		return; /* not whole lines */
	StrBuf rolled = {0};
	sb_puts(&rolled, "");
	size_t *at = NULL;
	int nat = 0;
	emit_reroll(E, o->data, cut, n, &rolled, &at, &nat);
	o->len = from;
	o->data[from] = 0;
	sb_putn(o, rolled.data, rolled.len);
	sb_free(&rolled);
}
