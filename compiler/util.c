/*
 * util.c — generic utilities: arena, growable arrays, string builder,
 * hashing, die().  Knows nothing of the compiler.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "pcc.h"

struct ArenaBlock {
	ArenaBlock *next;
	size_t size, used;
	max_align_t data[];
};

enum { ARENA_BLOCK = 64 * 1024 };

/* Released memory is poisoned under AddressSanitizer, so that a string
 * used after the release of its arena's mark is reported. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#if !defined(ARENA_ASAN) && defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define ARENA_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define ARENA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define ARENA_POISON(p, n) ((void)(p), (void)(n))
#define ARENA_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

void
arena_init(Arena *a)
{
	memset(a, 0, sizeof *a);
}

static void
free_blocks(ArenaBlock *b)
{
	while (b) {
		ArenaBlock *next = b->next;
		free(b);
		b = next;
	}
}

void
arena_free(Arena *a)
{
	free_blocks(a->head);
	free_blocks(a->spare);
	sb_free(&a->fmt);
	arena_init(a);
}

/* size bytes, not zeroed */
static void *
arena_raw(Arena *a, size_t size)
{
	size_t align = sizeof(max_align_t);
	size = (size + align - 1) / align * align;
	if (size == 0)
		size = align;
	ArenaBlock *b = a->head;
	if (!b || b->size - b->used < size) {
		if (a->spare && a->spare->size >= size) {
			b = a->spare;
			a->spare = b->next;
		} else {
			size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
			b = malloc(sizeof(ArenaBlock) + cap);
			if (!b)
				die("out of memory (%zu bytes)", cap);
			b->size = cap;
		}
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	void *p = (char *)b->data + b->used;
	b->used += size;
	a->used += size;
	ARENA_UNPOISON(p, size);
	return p;
}

ArenaMark
arena_mark(const Arena *a)
{
	return (ArenaMark){a->head, a->head ? a->head->used : 0, a->used};
}

void
arena_release(Arena *a, ArenaMark m)
{
	while (a->head != m.head) {
		ArenaBlock *b = a->head;
		if (!b)
			die("arena_release: a mark of another arena");
		ARENA_POISON(b->data, b->size);
		a->head = b->next;
		b->next = a->spare;
		a->spare = b;
	}
	if (a->head) {
		ARENA_POISON((char *)a->head->data + m.head_used,
			     a->head->used - m.head_used);
		a->head->used = m.head_used;
	}
	a->used = m.used;
}

void
arena_reset(Arena *a)
{
	arena_release(a, (ArenaMark){NULL, 0, 0});
}

void *
arena_alloc(Arena *a, size_t size)
{
	return memset(arena_raw(a, size), 0, size);
}

char *
arena_strndup(Arena *a, const char *s, size_t n)
{
	char *p = arena_raw(a, n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

char *
arena_strdup(Arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_printf(Arena *a, const char *fmt, ...)
{
	va_list ap;
	a->fmt.len = 0;
	va_start(ap, fmt);
	sb_vprintf(&a->fmt, fmt, ap);
	va_end(ap);
	return arena_strndup(a, a->fmt.data, a->fmt.len);
}

void
vec_push(Arena *a, PtrVec *v, void *item)
{
	if (v->len == v->cap) {
		int cap = v->cap ? v->cap * 2 : 8;
		void **items = arena_alloc(a, sizeof(void *) * (size_t)cap);
		if (v->len)
			memcpy(items, v->items, sizeof(void *) * (size_t)v->len);
		v->items = items;
		v->cap = cap;
	}
	v->items[v->len++] = item;
}

void
sb_grow(StrBuf *sb, size_t extra)
{
	size_t cap = sb->cap ? sb->cap : 256;
	while (cap < sb->len + extra + 1)
		cap *= 2;
	char *d = realloc(sb->data, cap);
	if (!d)
		die("out of memory (%zu bytes)", cap);
	sb->data = d;
	sb->cap = cap;
}

char *
util_decimal(char *end, long long v)
{
	char *p = end;
	unsigned long long u = v < 0 ? 0 - (unsigned long long)v
				     : (unsigned long long)v;
	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	return p;
}

static void
sb_int(StrBuf *sb, long long v)
{
	char buf[24], *p = util_decimal(buf + sizeof buf, v);
	sb_putn(sb, p, (size_t)(buf + sizeof buf - p));
}

/* The conversions that make nearly all of the generated code, %s, %d,
 * %lld, %zu, %c and %%, done here (the C library's printf is a third of
 * pcc's time on a long model); 0, with sb unchanged, on any other. */
static int
sb_fmt(StrBuf *sb, const char *fmt, va_list ap)
{
	size_t len = sb->len;
	for (const char *f = fmt;; f++) {
		const char *pct = f;
		while (*pct && *pct != '%')
			pct++;
		sb_putn(sb, f, (size_t)(pct - f));
		if (!*pct)
			return 1;
		f = pct + 1;
		if (*f == 's') {
			const char *a = va_arg(ap, const char *);
			sb_puts(sb, a ? a : "(null)"); /* as glibc's */
		} else if (*f == 'd') {
			sb_int(sb, va_arg(ap, int));
		} else if (f[0] == 'l' && f[1] == 'l' && f[2] == 'd') {
			sb_int(sb, va_arg(ap, long long));
			f += 2;
		} else if (f[0] == 'z' && f[1] == 'u') {
			size_t z = va_arg(ap, size_t);
			if (z > (unsigned long long)LLONG_MAX)
				break;
			sb_int(sb, (long long)z);
			f++;
		} else if (*f == 'c') {
			sb_putc(sb, (char)va_arg(ap, int));
		} else if (*f == '%') {
			sb_putc(sb, '%');
		} else {
			break;
		}
	}
	sb->len = len;
	sb->data[len] = 0;
	return 0;
}

void
sb_vprintf(StrBuf *sb, const char *fmt, va_list ap)
{
	va_list ap2;
	if (!fmt) /* never; tells instrumented builds fmt is set */
		die("sb_vprintf without a format");
	sb_reserve(sb, 0);
	va_copy(ap2, ap);
	int done = sb_fmt(sb, fmt, ap2);
	va_end(ap2);
	if (done)
		return;
	/* formatted straight into the free space when it is enough, so that
	 * the format is run twice only when the buffer grows */
	sb_reserve(sb, 128);
	size_t room = sb->cap - sb->len;
	va_copy(ap2, ap);
	int n = vsnprintf(sb->data + sb->len, room, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		die("sb_vprintf: bad format");
	if ((size_t)n >= room) {
		sb_reserve(sb, (size_t)n);
		vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
	}
	sb->len += (size_t)n;
}

void
sb_printf(StrBuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sb_vprintf(sb, fmt, ap);
	va_end(ap);
}

void
sb_free(StrBuf *sb)
{
	free(sb->data);
	sb->data = NULL;
	sb->len = sb->cap = 0;
}

void
pcc_die(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "pcc: internal error at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	exit(70); /* the documented exit status of an internal error */
}

uint64_t
util_hash(const void *data, size_t n, uint64_t h)
{
	const unsigned char *p = data;
	if (h == 0)
		h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* The same use as util_hash, other values: eight bytes a step, for long
 * keys (a multiply-xorshift mix of each word, as in splitmix64). */
uint64_t
util_hash_long(const void *data, size_t n, uint64_t h)
{
	const unsigned char *p = data;
	h ^= 0x9e3779b97f4a7c15ULL * (n + 1);
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
	}
	uint64_t w = 0;
	memcpy(&w, p, n);
	h = (h ^ w) * 0x94d049bb133111ebULL;
	return h ^ h >> 29;
}
