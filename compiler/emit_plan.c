/*
 * emit_plan.c — memory planning: which buffers of the state share storage.
 *
 * Takes the generated source (the passes and the API, before the header
 * is written) and the members emit_layout gave the state's `v` (forward
 * values and scratch) and `d` (BP deltas, Z-IL errors); gives their
 * declarations, laid out so that members whose lifetimes never overlap
 * share storage, and the bytes each API function can touch (pcc --info).
 *
 * Lifetimes come from the code itself.  Every reference `s->v.NAME` or
 * `s->d.NAME` is found with the top-level statement of the function it is
 * in (a loop is one statement, so every iteration's accesses fall inside
 * it).  Within a pass (forward, backward, zil_*, pc_*), a member's
 * lifetime is the span from its first statement to its last; in a pass
 * split into chunk functions the wrapper that calls them counts as the
 * whole pass.  A forward value referenced anywhere but the forward pass is
 * read later (by a VJP, the PC network, the API) and keeps its own
 * storage; so does a delta referenced outside the passes.  The others are
 * pass-local: each pass writes them before it reads them.  Two of them
 * may share storage when no pass holds both at once; a member no function
 * references is left out of the state.
 *
 * Shared storage is an anonymous union (C11), so the code keeps naming
 * every member as before: the plan changes declarations only.  Members
 * are put in slots greedily, largest first, each into the slot it grows
 * least.
 */
#include <stdlib.h>
#include <string.h>

#include "emit.h"

/* A reference's place: the pass (region) and the statement span. */
typedef struct Use {
	int region;
	size_t lo, hi;
	struct Use *next;
} Use;

typedef struct Slot {
	int64_t reals;
	PtrVec members;
	int id; /* a storage unit for the peaks */
} Slot;

/* A statement that may write dst over src (an elementwise kernel). */
typedef struct Hint {
	struct Member *dst, *src;
	int region;
	size_t lo, hi;
	struct Hint *next; /* the next of src's */
} Hint;

typedef struct Member {
	const PlanDecl *decl;
	Use *uses;
	int kept;  /* referenced outside its pass(es): own storage */
	Slot *slot; /* pass-local: its slot */
	int used;  /* referenced at all */
	Hint *hints; /* statements that may write another member over it */
} Member;


static int
ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

/* Where the comment whose text starts at p closes (its star and slash),
 * or NULL.  A bounded search: strstr on a generated file of 100 MB, once a
 * comment, costs a strlen of the rest each time under AddressSanitizer. */
static const char *
comment_end(const char *p, const char *end)
{
	for (; p + 1 < end; p++)
		if (p[0] == '*' && p[1] == '/')
			return p;
	return NULL;
}

/* The region (pass) holding offset at, or -1 for the API; *whole when at
 * is in a chunked pass's wrapper. */
static int
region_of(const Emit *E, size_t at, int *whole)
{
	for (int i = 0; i < E->regions.len; i++) {
		const PlanRegion *r = E->regions.items[i];
		if (at >= r->start && at < r->end) {
			*whole = at >= r->wrapper && r->chunked;
			return i;
		}
	}
	*whole = 0;
	return -1;
}

/* A hash index from names to items 0..n-1: chains through next. */
typedef struct Index {
	int *head, *next;
	uint32_t mask;
} Index;

static uint32_t
index_slot(const Index *ix, char part, const char *name, size_t len)
{
	return (uint32_t)util_hash(name, len, (uint64_t)(unsigned char)part) &
	       ix->mask;
}

static void
index_build(Emit *E, Index *ix, int n, const char *(*name)(const void *,
							 int, char *),
	    const void *items)
{
	uint32_t nb = 64;
	while (nb < 2u * (uint32_t)n)
		nb *= 2;
	ix->mask = nb - 1;
	ix->head = arena_alloc(E->a, sizeof(int) * nb);
	ix->next = arena_alloc(E->a, sizeof(int) * (size_t)(n + 1));
	for (uint32_t b = 0; b < nb; b++)
		ix->head[b] = -1;
	for (int i = 0; i < n; i++) {
		char part;
		const char *nm = name(items, i, &part);
		uint32_t h = index_slot(ix, part, nm, strlen(nm));
		ix->next[i] = ix->head[h];
		ix->head[h] = i;
	}
}

static const char *
member_name(const void *items, int i, char *part)
{
	const Member *m = items;
	*part = m[i].decl->part;
	return m[i].decl->name;
}

/* The members' index (emit_plan builds it before it scans). */
static Index members_ix;

static Member *
find_member(Member *m, int n, char part, const char *name, size_t len)
{
	(void)n;
	for (int i = members_ix.head[index_slot(&members_ix, part, name, len)];
	     i >= 0; i = members_ix.next[i])
		if (m[i].decl->part == part && strlen(m[i].decl->name) == len &&
		    strncmp(m[i].decl->name, name, len) == 0)
			return &m[i];
	return NULL;
}

/* Every reference to s->v.NAME and s->d.NAME in src, with its statement. */
static void
scan(Emit *E, const char *src, Member *m, int n)
{
	size_t len = strlen(src);
	int depth = 0, paren = 0;
	size_t stmt = 0; /* where the current top-level statement began */
	PtrVec open = {0}; /* uses in the current statement */
	PtrVec hints = {0}; /* hints in the current statement */
	for (size_t i = 0; i < len; i++) {
		char c = src[i];
		if (c == '/' && src[i + 1] == '*') { /* comments */
			const char *e = comment_end(src + i + 2, src + len);
			i = e ? (size_t)(e - src) + 1 : len;
			continue;
		}
		if (c == '"' || c == '\'') { /* literals */
			for (i++; i < len && src[i] != c; i++)
				if (src[i] == '\\')
					i++;
			continue;
		}
		if (c == PLAN_MARK) { /* a hint: "p.dst p.src" */
			const char *e = memchr(src + i + 1, PLAN_MARK,
					       len - i - 1);
			const char *sp = e ? memchr(src + i + 1, ' ',
						    (size_t)(e - src - i - 1))
					   : NULL;
			if (!sp)
				break;
			const char *d = src + i + 1;
			Member *dst = find_member(m, n, d[0], d + 2,
						  (size_t)(sp - d - 2));
			Member *from = find_member(m, n, sp[1], sp + 3,
						   (size_t)(e - sp - 3));
			if (dst && from) {
				Hint *h = arena_alloc(E->a, sizeof *h);
				h->dst = dst;
				h->src = from;
				h->lo = stmt;
				h->next = from->hints;
				from->hints = h;
				vec_push(E->a, &hints, h);
			}
			i = (size_t)(e - src);
			continue;
		}
		int end_stmt = 0;
		if (c == '{') {
			if (++depth == 1)
				stmt = i + 1; /* a function's body */
		} else if (c == '}') {
			depth--;
			end_stmt = depth <= 1; /* a block statement ends */
		} else if (c == '(') {
			paren++;
		} else if (c == ')') {
			paren--;
		} else if (c == ';' && depth == 1 && paren == 0) {
			end_stmt = 1;
		} else if (c == 's' && (i == 0 || !ident_char(src[i - 1])) &&
			   strncmp(src + i, "s->", 3) == 0 &&
			   (src[i + 3] == 'v' || src[i + 3] == 'd') &&
			   src[i + 4] == '.') {
			const char *nm = src + i + 5;
			size_t k = 0;
			while (ident_char(nm[k]))
				k++;
			Member *mb = find_member(m, n, src[i + 3], nm, k);
			if (mb) {
				Use *u = arena_alloc(E->a, sizeof *u);
				u->lo = stmt;
				u->next = mb->uses;
				mb->uses = u;
				mb->used = 1;
				vec_push(E->a, &open, u);
			}
			i += 4 + k;
			continue;
		}
		if (end_stmt) {
			for (int k = 0; k < open.len; k++) {
				Use *u = open.items[k];
				u->hi = i;
				int whole;
				u->region = region_of(E, u->lo, &whole);
				if (whole) {
					const PlanRegion *r =
						E->regions.items[u->region];
					u->lo = r->start;
					u->hi = r->end;
				}
			}
			open.len = 0;
			for (int k = 0; k < hints.len; k++) {
				Hint *h = hints.items[k];
				int whole;
				h->hi = i;
				h->region = region_of(E, h->lo, &whole);
				if (whole)
					h->region = -2; /* no use: never matches */
			}
			hints.len = 0;
			stmt = i + 1;
		}
	}
}

/* Whether a statement of region r spanning [lo, hi] may write dst over
 * src, src dying there (its span ends at hi) and dst born there. */
static int
in_place(const Member *dst, const Use *d, const Member *src, const Use *u)
{
	for (const Hint *h = src->hints; h; h = h->next)
		if (h->dst == dst && h->region == u->region &&
		    h->lo == d->lo && h->hi == u->hi && u->lo <= h->lo &&
		    d->hi >= h->hi)
			return 1;
	return 0;
}

/* Whether a and b are both live at once in some pass (a statement that
 * writes one over the other, the other dying there, does not count). */
static int
overlap(const Member *a, const Member *b)
{
	for (const Use *u = a->uses; u; u = u->next)
		for (const Use *v = b->uses; v; v = v->next)
			if (u->region == v->region && u->lo <= v->hi &&
			    v->lo <= u->hi && !in_place(a, u, b, v) &&
			    !in_place(b, v, a, u))
				return 1;
	return 0;
}

/* Merge each member's uses into one span per region. */
static void
spans(Emit *E, Member *mb)
{
	Use *out = NULL;
	for (Use *u = mb->uses; u; u = u->next) {
		Use *o = out;
		while (o && o->region != u->region)
			o = o->next;
		if (!o) {
			o = arena_alloc(E->a, sizeof *o);
			*o = *u;
			o->next = out;
			out = o;
			continue;
		}
		if (u->lo < o->lo)
			o->lo = u->lo;
		if (u->hi > o->hi)
			o->hi = u->hi;
	}
	mb->uses = out;
}

static int
by_size(const void *a, const void *b)
{
	const Member *x = *(Member *const *)a, *y = *(Member *const *)b;
	if (x->decl->reals != y->decl->reals)
		return x->decl->reals < y->decl->reals ? 1 : -1;
	return x->decl->order - y->decl->order;
}

/* Above this many pass-local members, each keeps its own storage. */
#define PLAN_SEARCH_MAX 4096

/* Whether slot sl has a member of part. */
static int
slot_has(const Slot *sl, char part)
{
	for (int k = 0; k < sl->members.len; k++)
		if (((Member *)sl->members.items[k])->decl->part == part)
			return 1;
	return 0;
}

/* Part's members in the shared slots: a union per slot, its size kept by
 * a member plan<k>_ of the slot's size so that both views agree. */
static void
decl_slots(Emit *E, const PtrVec *slots, char part, StrBuf *sb)
{
	for (int s = 0; s < slots->len; s++) {
		const Slot *sl = slots->items[s];
		if (!slot_has(sl, part)) {
			sb_printf(sb, "\t\t%s plan%d_[%lld]; /* the other "
				  "view's */\n", E->real, s, (long long)sl->reals);
			continue;
		}
		sb_printf(sb, "\t\tunion {\n");
		for (int k = 0; k < sl->members.len; k++) {
			const Member *x = sl->members.items[k];
			if (x->decl->part == part)
				sb_printf(sb, "\t\t\t%s\n", x->decl->line);
		}
		sb_printf(sb, "\t\t\t%s plan%d_[%lld];\n\t\t};\n", E->real, s,
			  (long long)sl->reals);
	}
}

/* Lay out v and d: each one's kept members, and the pass-local members of
 * both in shared slots at the same place of the two views (the state puts
 * v and d in a union; d starts with padding as long as v's kept members).
 * Fills vdecl, ddecl and the sizes. */
static void
plan_layout(Emit *E, Member *m, int n, StrBuf *vdecl, StrBuf *ddecl,
	    PtrVec *slots)
{
	PtrVec local = {0};
	int64_t kept[2] = {0, 0};
	for (int i = 0; i < n; i++) {
		if (!m[i].used)
			continue;
		if (m[i].kept) {
			int w = m[i].decl->part == 'd';
			sb_printf(w ? ddecl : vdecl, "\t\t%s\n", m[i].decl->line);
			kept[w] += m[i].decl->reals;
		} else {
			vec_push(E->a, &local, &m[i]);
		}
	}
	/* d's kept members go after the slots: start its view afresh */
	StrBuf dkept = *ddecl;
	memset(ddecl, 0, sizeof *ddecl);
	sb_puts(ddecl, "");
	if (local.len)
		qsort(local.items, (size_t)local.len, sizeof *local.items,
		      by_size);
	for (int i = 0; i < local.len; i++) {
		Member *x = local.items[i];
		Slot *best = NULL;
		int64_t grow = 0;
		/* the search is quadratic: a very long model keeps the
		 * storage of its pass-local members apart */
		int search = local.len <= PLAN_SEARCH_MAX ? slots->len : 0;
		for (int s = 0; s < search; s++) {
			Slot *sl = slots->items[s];
			int ok = 1;
			for (int k = 0; ok && k < sl->members.len; k++)
				ok = !overlap(x, sl->members.items[k]) ||
				     E->o->plan_control; /* a negative control */
			if (!ok)
				continue;
			int64_t g = x->decl->reals > sl->reals
					    ? x->decl->reals - sl->reals : 0;
			if (!best || g < grow) {
				best = sl;
				grow = g;
			}
		}
		if (!best) {
			best = arena_alloc(E->a, sizeof *best);
			best->id = slots->len;
			vec_push(E->a, slots, best);
		}
		if (x->decl->reals > best->reals)
			best->reals = x->decl->reals;
		vec_push(E->a, &best->members, x);
		x->slot = best;
	}
	int64_t shared = 0;
	for (int s = 0; s < slots->len; s++)
		shared += ((Slot *)slots->items[s])->reals;
	decl_slots(E, slots, 'v', vdecl);
	if (kept[0] && (slots->len || kept[1]) && E->g->losses.len)
		sb_printf(ddecl, "\t\t%s values_[%lld]; /* v's own members */\n",
			  E->real, (long long)kept[0]);
	if (E->g->losses.len)
		decl_slots(E, slots, 'd', ddecl);
	if (dkept.data)
		sb_puts(ddecl, dkept.data);
	sb_free(&dkept);
	if (!kept[0] && !slots->len)
		sb_puts(vdecl, "\t\tchar none_;\n");
	if (!ddecl->len || !ddecl->data[0])
		sb_puts(ddecl, "\t\tchar none_;\n");
	E->reals_v = kept[0];
	E->reals_d = kept[1];
	E->reals_shared = shared;
}

/* A function of the generated source: its name and body. */
typedef struct Fn {
	const char *name;
	size_t lo, hi;
	int seen; /* visited by the current walk */
} Fn;

/* The functions defined in src (a body at file scope after a ')'). */
static PtrVec
functions(Emit *E, const char *src)
{
	PtrVec fns = {0};
	int depth = 0;
	Fn *cur = NULL;
	size_t len = strlen(src);
	for (size_t i = 0; src[i]; i++) {
		char c = src[i];
		if (c == '/' && src[i + 1] == '*') {
			const char *e = comment_end(src + i + 2, src + len);
			if (!e)
				break;
			i = (size_t)(e - src) + 1;
		} else if (c == '"' || c == '\'') {
			for (i++; src[i] && src[i] != c; i++)
				if (src[i] == '\\' && src[i + 1])
					i++;
			if (!src[i])
				break;
		} else if (c == '{' && depth++ == 0) {
			size_t k = i;
			while (k > 0 && (src[k - 1] == ' ' || src[k - 1] == '\n'))
				k--;
			if (k == 0 || src[k - 1] != ')')
				continue;
			int par = 0;
			while (k > 0) { /* back to the matching '(' */
				k--;
				if (src[k] == ')')
					par++;
				else if (src[k] == '(' && --par == 0)
					break;
			}
			size_t e = k;
			while (k > 0 && ident_char(src[k - 1]))
				k--;
			cur = arena_alloc(E->a, sizeof *cur);
			cur->name = arena_printf(E->a, "%.*s", (int)(e - k), src + k);
			cur->lo = i;
			vec_push(E->a, &fns, cur);
		} else if (c == '}' && --depth == 0 && cur) {
			cur->hi = i;
			cur = NULL;
		}
	}
	return fns;
}

static const char *
fn_name(const void *items, int i, char *part)
{
	const PtrVec *fns = items;
	*part = 'f';
	return ((const Fn *)fns->items[i])->name;
}
/* Whether s begins with p.  (Not strncmp: gcc 12 with the sanitizers
 * wrongly warns that the bound exceeds the source.) */
static int
has_prefix(const char *s, const char *p)
{
	while (*p)
		if (*s++ != *p++)
			return 0;
	return 1;
}


/* The functions' index (peaks builds it). */
static Index fns_ix;

/* Mark the storage units fn (and what it calls) touches; unit ids: each
 * member and slot, then pc, zil, grad. */
static void
touch(Emit *E, const char *src, PtrVec *fns, Fn *fn, Member *m, int n,
      char *unit)
{
	fn->seen = 1;
	for (size_t i = fn->lo; i < fn->hi; i++) {
		if (!ident_char(src[i]) || ident_char(src[i - 1]))
			continue;
		size_t k = i;
		while (ident_char(src[k]))
			k++;
		if (src[k] == '(') { /* a call */
			for (int j = fns_ix.head[index_slot(&fns_ix, 'f', src + i,
							    k - i)];
			     j >= 0; j = fns_ix.next[j]) {
				Fn *f = fns->items[j];
				if (!f->seen && strlen(f->name) == k - i &&
				    !strncmp(f->name, src + i, k - i))
					touch(E, src, fns, f, m, n, unit);
			}
		} else if (k == i + 1 && src[i] == 's' &&
			   !strncmp(src + k, "->", 2)) {
			const char *f = src + k + 2;
			if ((f[0] == 'v' || f[0] == 'd') && f[1] == '.') {
				size_t l = 0;
				while (ident_char(f[2 + l]))
					l++;
				Member *x = find_member(m, n, f[0], f + 2, l);
				if (x)
					unit[x->kept ? (int)(x - m)
						     : n + x->slot->id] = 1;
			} else if (has_prefix(f, "pc.") &&
				   !has_prefix(f + 3, "valid")) {
				unit[2 * n] = 1;
			} else if (!strncmp(f, "zil.", 4)) {
				unit[2 * n + 1] = 1;
			} else if (!strncmp(f, "grad", 4) && !ident_char(f[4])) {
				unit[2 * n + 2] = 1;
			}
		}
		i = k - 1;
	}
}

/* The scalars of the state each training function of the API touches. */
static void
peaks(Emit *E, const char *src, Member *m, int n, PtrVec *slots,
      EmitSizes *z)
{
	static const char *const train[] = {
		"train_bp", "train_zil", "train_pc", "step_bp", "step_zil",
		"step_pc", "grad_bp", "grad_zil", "grad_zil_dynamics", "grad_pc"
	};
	PtrVec fns = functions(E, src);
	index_build(E, &fns_ix, fns.len, fn_name, &fns);
	int64_t data = z->data;
	for (size_t t = 0; t < sizeof train / sizeof *train; t++) {
		const char *want = arena_printf(E->a, "%s_%s", E->P, train[t]);
		Fn *fn = NULL;
		for (int j = 0; j < fns.len; j++) {
			Fn *f = fns.items[j];
			f->seen = 0;
			if (!strcmp(f->name, want))
				fn = f;
		}
		if (!fn || z->nfn >= (int)(sizeof z->fn / sizeof z->fn[0]))
			continue;
		char *unit = arena_alloc(E->a, (size_t)(2 * n + 3));
		touch(E, src, &fns, fn, m, n, unit);
		int64_t r = data;
		for (int i = 0; i < n; i++)
			if (unit[i] && m[i].kept)
				r += m[i].decl->reals;
		for (int s = 0; s < slots->len; s++)
			if (unit[n + s])
				r += ((Slot *)slots->items[s])->reals;
		r += unit[2 * n] ? z->pc : 0;
		r += unit[2 * n + 1] ? z->zil : 0;
		r += unit[2 * n + 2] ? z->grad : 0;
		if (!strncmp(train[t], "grad_", 5))
			r += E->g->param_count; /* the gradient it writes */
		z->fn[z->nfn].name = train[t];
		z->fn[z->nfn].reals = r;
		z->nfn++;
	}
}

/* What the plan decided, for the peaks. */
struct Plan {
	Member *m;
	int n;
	PtrVec slots;
};

/* Remove the hint lines from the body. */
static void
strip_hints(StrBuf *body)
{
	size_t w = 0;
	for (size_t r = 0; r < body->len;) {
		const char *nl = memchr(body->data + r, '\n', body->len - r);
		size_t end = nl ? (size_t)(nl - body->data) + 1 : body->len;
		if (!memchr(body->data + r, PLAN_MARK, end - r)) {
			memmove(body->data + w, body->data + r, end - r);
			w += end - r;
		}
		r = end;
	}
	body->len = w;
	body->data[w] = 0;
}

void
emit_plan(Emit *E, StrBuf *body, StrBuf *vdecl, StrBuf *ddecl)
{
	const char *src = body->data;
	int n = E->decls.len;
	Plan *pl = arena_alloc(E->a, sizeof *pl);
	Member *m = arena_alloc(E->a, sizeof *m * (size_t)(n + 1));
	for (int i = 0; i < n; i++)
		m[i].decl = E->decls.items[i];
	index_build(E, &members_ix, n, member_name, m);
	scan(E, src, m, n);
	for (int i = 0; i < n; i++) {
		Member *x = &m[i];
		for (const Use *u = x->uses; u; u = u->next) {
			const PlanRegion *r = u->region >= 0
				? E->regions.items[u->region] : NULL;
			if (!r || (x->decl->part == 'v' && !r->forward))
				x->kept = 1;
		}
		if (x->decl->pinned)
			x->kept = 1;
		spans(E, x);
	}
	plan_layout(E, m, n, vdecl, ddecl, &pl->slots);
	strip_hints(body);
	pl->m = m;
	pl->n = n;
	E->plan = pl;
}

void
emit_plan_peaks(Emit *E, const char *src, EmitSizes *z)
{
	peaks(E, src, E->plan->m, E->plan->n, &E->plan->slots, z);
}
