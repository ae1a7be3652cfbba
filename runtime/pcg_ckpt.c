/*
 * pcg_ckpt.c — checkpoints in files: pcg_ckpt_save(_ex),
 * pcg_ckpt_load(_ex); in memory: pcg_ckpt_bytes, pcg_ckpt_save_mem,
 * pcg_ckpt_load_mem; and pcg_ckpt_strerror.
 *
 * File format, version 2.  Integers are unsigned little-endian; reals are
 * IEEE 754 binary32 or binary64, little-endian.
 *
 *   size   field
 *   8      magic "PCGCKPT\0"
 *   4      format version: 2
 *   4      real size in bytes: 4 (float) or 8 (double)
 *   4      length L of the model name, then L bytes of name (no NUL)
 *   4      number of counters K, then K counters of 8 bytes (an
 *          optimizer's step count, say)
 *   4      number of parameters P, then P records:
 *            4     length N of the parameter name, then N bytes of name
 *            4     rank R, 0 <= R <= 8
 *            4*R   dims
 *            4     flags: bit 0 set for a trainable parameter, clear for
 *                  a buffer (pcg_param_info's trainable); the other bits
 *                  are 0
 *   the payload: each parameter's prod(dims) reals, row-major, in the
 *          order of the records
 *   8      FNV-1a 64-bit hash of every byte before it
 *   and nothing after.
 *
 * Version 1, which is still read, has no counters and no flags: it reads
 * as a version 2 file with K = 0 and every record's flags 1.  Saving
 * always writes version 2.
 *
 * Loading never allocates and writes nothing to the destination until the
 * whole file has been checked.  A first pass reads the file through,
 * checking, in this order: the magic and the version (EFORMAT), the
 * structure — lengths and ranks that fit, no unknown flag, the file ending
 * exactly after the hash (EFORMAT when truncated or followed by anything)
 * — and the hash (ECORRUPT); only then what it says: the model name
 * (EMODEL), the real size (EREAL), the parameter count and each name,
 * rank, dims and flags (ESHAPE), the number of counters (ECOUNTERS).  A
 * second pass seeks back to the counters and the payload and copies them.
 * The file stays open between the passes, so a concurrent atomic
 * replacement (as pcg_ckpt_save does) cannot mix two files.
 *
 * Files and buffers hold the same bytes: one writer and one reader
 * serve both, through a ckpt_writer or ckpt_reader that says where the
 * bytes go or come from.  In memory, the second pass reads the same
 * buffer again, and saving checks the capacity before writing anything.
 *
 * Saving writes a temporary file PATH.tmp.XXXXXX in the same folder,
 * flushes and fsyncs it, then renames it over PATH; on any failure the
 * temporary file is removed and an existing PATH is left as it was.  The
 * new file takes the mode of the one it replaces, or 0644.
 *
 * Compiled with PCG_NO_FILES defined, the file functions are left out,
 * and so is every stdio and POSIX call: only the memory functions remain.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <string.h>
#ifndef PCG_NO_FILES
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#endif

#include "pcg_runtime.h"

_Static_assert(sizeof(float) == 4 && sizeof(double) == 8,
	       "checkpoints store IEEE 754 binary32 and binary64");

/* Bytes of the I/O buffers on the stack (pcg_runtime.h, "Stack"). */
#ifndef PCG_CKPT_CHUNK
#define PCG_CKPT_CHUNK 1024
#endif
#if PCG_CKPT_CHUNK < 8 || PCG_CKPT_CHUNK % 8 != 0
#error "PCG_CKPT_CHUNK must be a multiple of 8"
#endif

enum {
	CKPT_VERSION = 2,
	CKPT_CHUNK = PCG_CKPT_CHUNK,
	CKPT_PATH_MAX = 4096, /* longest path pcg_ckpt_save accepts */
	CKPT_TRAINABLE = 1,   /* flag bit 0 of a record */
};

static const unsigned char ckpt_magic[8] = {'P', 'C', 'G', 'C',
					    'K', 'P', 'T', '\0'};

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)

static uint64_t
fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}

/* ------------------------------------------------ reals <-> bytes (LE) */

static void
encode_reals(unsigned char *out, const unsigned char *src, size_t n,
	     int real_size)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v;

		if (real_size == 4) {
			uint32_t u;

			memcpy(&u, src + i * 4, 4);
			v = u;
		} else {
			memcpy(&v, src + i * 8, 8);
		}
		for (int b = 0; b < real_size; b++)
			out[i * real_size + b] = (unsigned char)(v >> (8 * b));
	}
}

static void
decode_reals(unsigned char *dst, const unsigned char *in, size_t n,
	     int real_size)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v = 0;

		for (int b = 0; b < real_size; b++)
			v |= (uint64_t)in[i * real_size + b] << (8 * b);
		if (real_size == 4) {
			uint32_t u = (uint32_t)v;

			memcpy(dst + i * 4, &u, 4);
		} else {
			memcpy(dst + i * 8, &v, 8);
		}
	}
}

/* ------------------------------------------------------- argument check */

/* Whether model, info, nparams, real_size and ncounters describe a
 * checkpoint. */
static int
valid_layout(const char *model, const pcg_param_info *info, int nparams,
	     int real_size, int ncounters)
{
	if (!model || strlen(model) > UINT32_MAX || nparams < 0 ||
	    (nparams > 0 && !info) || (real_size != 4 && real_size != 8) ||
	    ncounters < 0)
		return 0;
	for (int q = 0; q < nparams; q++) {
		const pcg_param_info *pi = &info[q];
		size_t count = 1;

		if (!pi->name || strlen(pi->name) > UINT32_MAX ||
		    pi->rank < 0 || pi->rank > PCG_MAX_RANK ||
		    (pi->trainable != 0 && pi->trainable != 1))
			return 0;
		for (int d = 0; d < pi->rank; d++) {
			if (pi->dims[d] < 0)
				return 0;
			count *= (size_t)pi->dims[d];
		}
		if (count != pi->count)
			return 0;
	}
	return 1;
}

static int
valid_args(const char *model, const pcg_param_info *info, int nparams,
	   int real_size, const void *data, const uint64_t *counters,
	   int ncounters)
{
	return valid_layout(model, info, nparams, real_size, ncounters) &&
	       (nparams == 0 || data) && (ncounters == 0 || counters);
}

/* *size += n, or 0 when the sum does not fit in a size_t. */
static int
add_size(size_t *size, uint64_t n)
{
	if (n > SIZE_MAX - *size)
		return 0;
	*size += (size_t)n;
	return 1;
}

size_t
pcg_ckpt_bytes(const char *model, const pcg_param_info *info, int nparams,
	       int real_size, int ncounters)
{
	size_t size = 0;
	int ok;

	if (!valid_layout(model, info, nparams, real_size, ncounters))
		return 0;
	/* magic, version, real size, name, counters, parameter count */
	ok = add_size(&size, sizeof ckpt_magic + 4 + 4 + 4 + strlen(model) +
				     4 + 8 * (uint64_t)ncounters + 4);
	for (int q = 0; ok && q < nparams; q++) {
		/* name, rank, dims, flags; then the payload */
		ok = add_size(&size, 4 + strlen(info[q].name) + 4 +
					     4 * (uint64_t)info[q].rank + 4) &&
		     info[q].count <= UINT64_MAX / (uint64_t)real_size &&
		     add_size(&size, (uint64_t)info[q].count *
					     (uint64_t)real_size);
	}
	return ok && add_size(&size, 8) ? size : 0; /* the hash */
}

/* ---------------------------------------------------------------- save */

/* Where a checkpoint is written: a file or a buffer in memory. */
typedef struct ckpt_writer {
	/* write n bytes, returning how many were written */
	size_t (*write)(void *to, const void *p, size_t n);
	void *to;
	uint64_t hash;
	int failed;
} ckpt_writer;

static void
put(ckpt_writer *w, const void *p, size_t n)
{
	if (w->failed || n == 0)
		return;
	w->hash = fnv1a(w->hash, p, n);
	if (w->write(w->to, p, n) != n)
		w->failed = 1;
}

static void
put_u32(ckpt_writer *w, uint32_t v)
{
	unsigned char b[4];

	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	put(w, b, 4);
}

static void
put_u64(ckpt_writer *w, uint64_t v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	put(w, b, 8);
}

static void
put_str(ckpt_writer *w, const char *s)
{
	size_t n = strlen(s);

	put_u32(w, (uint32_t)n);
	put(w, s, n);
}

static void
put_reals(ckpt_writer *w, const unsigned char *src, size_t count,
	  int real_size)
{
	unsigned char buf[CKPT_CHUNK];
	size_t per = CKPT_CHUNK / (size_t)real_size;

	for (size_t i = 0; i < count; i += per) {
		size_t n = count - i < per ? count - i : per;

		encode_reals(buf, src + i * (size_t)real_size, n, real_size);
		put(w, buf, n * (size_t)real_size);
	}
}

static void
write_checkpoint(ckpt_writer *w, const char *model,
		 const pcg_param_info *info, int nparams, int real_size,
		 const void *data, const uint64_t *counters, int ncounters)
{
	const unsigned char *bytes = data;

	put(w, ckpt_magic, sizeof ckpt_magic);
	put_u32(w, CKPT_VERSION);
	put_u32(w, (uint32_t)real_size);
	put_str(w, model);
	put_u32(w, (uint32_t)ncounters);
	for (int k = 0; k < ncounters; k++)
		put_u64(w, counters[k]);
	put_u32(w, (uint32_t)nparams);
	for (int q = 0; q < nparams; q++) {
		put_str(w, info[q].name);
		put_u32(w, (uint32_t)info[q].rank);
		for (int d = 0; d < info[q].rank; d++)
			put_u32(w, (uint32_t)info[q].dims[d]);
		put_u32(w, info[q].trainable ? CKPT_TRAINABLE : 0);
	}
	for (int q = 0; q < nparams; q++)
		put_reals(w, bytes + info[q].offset * (size_t)real_size,
			  info[q].count, real_size);
	put_u64(w, w->hash);
}

/* A buffer in memory being written or read. */
typedef struct ckpt_mem {
	unsigned char *out; /* NULL when reading */
	const unsigned char *in;
	size_t len, pos;
} ckpt_mem;

static size_t
mem_write(void *to, const void *p, size_t n)
{
	ckpt_mem *m = to;

	if (n > m->len - m->pos)
		return 0;
	memcpy(m->out + m->pos, p, n);
	m->pos += n;
	return n;
}

size_t
pcg_ckpt_save_mem(void *buf, size_t cap, const char *model,
		  const pcg_param_info *info, int nparams, int real_size,
		  const void *data, const uint64_t *counters, int ncounters)
{
	size_t size;
	ckpt_mem m = {buf, NULL, cap, 0};
	ckpt_writer w = {mem_write, &m, FNV_OFFSET, 0};

	if (!buf || !valid_args(model, info, nparams, real_size, data,
				counters, ncounters))
		return 0;
	size = pcg_ckpt_bytes(model, info, nparams, real_size, ncounters);
	if (size == 0 || size > cap)
		return 0;
	write_checkpoint(&w, model, info, nparams, real_size, data, counters,
			 ncounters);
	return w.failed || m.pos != size ? 0 : size;
}

#ifndef PCG_NO_FILES
static size_t
file_write(void *to, const void *p, size_t n)
{
	return fwrite(p, 1, n, to);
}

/*
 * fsync the folder holding path, so that the rename is durable.  path is
 * a buffer the caller no longer needs: it is cut to the folder's name.
 */
static void
sync_dir(char *path)
{
	char *slash = strrchr(path, '/');
	const char *dir = path;
	int fd;

	if (!slash)
		dir = ".";
	else if (slash == path)
		dir = "/";
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		fsync(fd); /* best effort: the file itself is already synced */
		close(fd);
	}
}

int
pcg_ckpt_save_ex(const char *path, const char *model,
		 const pcg_param_info *info, int nparams, int real_size,
		 const void *data, const uint64_t *counters, int ncounters)
{
	static const char suffix[] = ".tmp.XXXXXX";
	char tmp[CKPT_PATH_MAX];
	struct stat st;
	FILE *f;
	ckpt_writer w = {file_write, NULL, FNV_OFFSET, 0};
	int fd;

	if (!path || !valid_args(model, info, nparams, real_size, data,
				 counters, ncounters))
		return PCG_CKPT_EARG;
	if (strlen(path) + sizeof suffix > sizeof tmp)
		return PCG_CKPT_EIO;
	strcpy(tmp, path);
	strcat(tmp, suffix);

	fd = mkstemp(tmp);
	if (fd < 0)
		return PCG_CKPT_EIO;
	if (fchmod(fd, stat(path, &st) == 0 ? st.st_mode & 07777 : 0644) != 0 ||
	    !(f = fdopen(fd, "wb"))) {
		close(fd);
		unlink(tmp);
		return PCG_CKPT_EIO;
	}
	w.to = f;
	write_checkpoint(&w, model, info, nparams, real_size, data, counters,
			 ncounters);
	if (w.failed || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		unlink(tmp);
		return PCG_CKPT_EIO;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return PCG_CKPT_EIO;
	}
	sync_dir(tmp); /* the same folder as path */
	return PCG_CKPT_OK;
}

int
pcg_ckpt_save(const char *path, const char *model,
	      const pcg_param_info *info, int nparams, int real_size,
	      const void *data)
{
	return pcg_ckpt_save_ex(path, model, info, nparams, real_size, data,
				NULL, 0);
}
#endif /* PCG_NO_FILES */

/* ---------------------------------------------------------------- load */

/* Where a checkpoint is read from: a file or a buffer in memory. */
typedef struct ckpt_reader {
	/* read up to n bytes, fewer at the end or on an error */
	size_t (*read)(void *from, void *p, size_t n);
	int (*seek)(void *from, uint64_t pos); /* 0 on success */
	int (*failed)(void *from);             /* a read error, not the end */
	void *from;
	uint64_t hash;
	uint64_t pos; /* bytes read so far */
} ckpt_reader;

/* A short read: the input ended (EFORMAT) or could not be read (EIO). */
static int
short_read(ckpt_reader *r)
{
	return r->failed(r->from) ? PCG_CKPT_EIO : PCG_CKPT_EFORMAT;
}

/* Read n bytes into p, hashing them. */
static int
get(ckpt_reader *r, void *p, size_t n)
{
	if (r->read(r->from, p, n) != n)
		return short_read(r);
	r->hash = fnv1a(r->hash, p, n);
	r->pos += n;
	return PCG_CKPT_OK;
}
static int
get_u32(ckpt_reader *r, uint32_t *v)
{
	unsigned char b[4];
	int err = get(r, b, 4);

	*v = 0;
	for (int i = 0; i < 4; i++)
		*v |= (uint32_t)b[i] << (8 * i);
	return err;
}

/*
 * Read a length-prefixed string of the file, hashing it; *same tells
 * whether it equals s (compared a chunk at a time, never stored).
 */
static int
get_str_cmp(ckpt_reader *r, const char *s, int *same)
{
	unsigned char buf[256];
	size_t slen = s ? strlen(s) : 0;
	uint32_t n;
	int err = get_u32(r, &n);

	if (err)
		return err;
	*same = s && n == slen;
	for (size_t i = 0; i < n;) {
		size_t m = n - i < sizeof buf ? n - i : sizeof buf;

		if ((err = get(r, buf, m)))
			return err;
		if (*same && memcmp(buf, s + i, m) != 0)
			*same = 0;
		i += m;
	}
	return PCG_CKPT_OK;
}

/* Read and hash n bytes without keeping them. */
static int
skip(ckpt_reader *r, uint64_t n)
{
	unsigned char buf[CKPT_CHUNK];

	while (n > 0) {
		size_t m = n < sizeof buf ? (size_t)n : sizeof buf;
		int err = get(r, buf, m);

		if (err)
			return err;
		n -= m;
	}
	return PCG_CKPT_OK;
}

/* Where the second pass finds what it copies. */
typedef struct ckpt_layout {
	uint64_t counters_at; /* offset of the first counter */
	uint64_t payload_at;  /* offset of the payload */
} ckpt_layout;

/*
 * The first pass: check the whole file (see the top of the file) and
 * report where its counters and payload start.
 */
static int
check_file(ckpt_reader *r, const char *model, const pcg_param_info *info,
	   int nparams, int real_size, int ncounters, ckpt_layout *at)
{
	unsigned char magic[sizeof ckpt_magic], tail[8], extra;
	uint32_t version, real, nc = 0, np, rank, dim, flags;
	uint64_t payload = 0, stored = 0;
	int same, bad_model = 0, bad_shape = 0, err;

	if ((err = get(r, magic, sizeof magic)))
		return err;
	if (memcmp(magic, ckpt_magic, sizeof magic) != 0)
		return PCG_CKPT_EFORMAT;
	if ((err = get_u32(r, &version)))
		return err;
	if (version != 1 && version != CKPT_VERSION)
		return PCG_CKPT_EFORMAT;
	if ((err = get_u32(r, &real)))
		return err;
	if (real != 4 && real != 8)
		return PCG_CKPT_EFORMAT;
	if ((err = get_str_cmp(r, model, &same)))
		return err;
	bad_model = !same;
	if (version >= 2 && (err = get_u32(r, &nc)))
		return err;
	at->counters_at = r->pos;
	if ((err = skip(r, (uint64_t)nc * 8)))
		return err;
	if ((err = get_u32(r, &np)))
		return err;
	bad_shape = np != (uint32_t)nparams;

	for (uint32_t q = 0; q < np; q++) {
		const pcg_param_info *pi =
			q < (uint32_t)nparams ? &info[q] : NULL;
		uint64_t count = 1;

		if ((err = get_str_cmp(r, pi ? pi->name : NULL, &same)))
			return err;
		bad_shape |= !same;
		if ((err = get_u32(r, &rank)))
			return err;
		if (rank > PCG_MAX_RANK)
			return PCG_CKPT_EFORMAT;
		bad_shape |= !pi || rank != (uint32_t)pi->rank;
		for (uint32_t d = 0; d < rank; d++) {
			if ((err = get_u32(r, &dim)))
				return err;
			if (pi && rank == (uint32_t)pi->rank)
				bad_shape |= dim != (uint32_t)pi->dims[d];
			if (dim != 0 && count > UINT64_MAX / dim)
				return PCG_CKPT_EFORMAT;
			count *= dim;
		}
		flags = CKPT_TRAINABLE;
		if (version >= 2 && (err = get_u32(r, &flags)))
			return err;
		if (flags & ~(uint32_t)CKPT_TRAINABLE)
			return PCG_CKPT_EFORMAT;
		if (pi)
			bad_shape |= (flags & CKPT_TRAINABLE) !=
				     (pi->trainable ? CKPT_TRAINABLE : 0u);
		if (count > (UINT64_MAX - payload) / real)
			return PCG_CKPT_EFORMAT;
		payload += count * real;
	}

	at->payload_at = r->pos;
	if ((err = skip(r, payload)))
		return err;
	if (r->read(r->from, tail, sizeof tail) != sizeof tail)
		return short_read(r);
	if (r->read(r->from, &extra, 1) != 0)
		return PCG_CKPT_EFORMAT; /* bytes after the hash */
	if (r->failed(r->from))
		return PCG_CKPT_EIO;
	for (int i = 0; i < 8; i++)
		stored |= (uint64_t)tail[i] << (8 * i);
	if (stored != r->hash)
		return PCG_CKPT_ECORRUPT;
	if (bad_model)
		return PCG_CKPT_EMODEL;
	if (real != (uint32_t)real_size)
		return PCG_CKPT_EREAL;
	if (bad_shape)
		return PCG_CKPT_ESHAPE;
	if (nc != (uint32_t)ncounters)
		return PCG_CKPT_ECOUNTERS;
	return PCG_CKPT_OK;
}

/*
 * The second pass: copy the counters and the payload, checked by
 * check_file, into counters and data.
 */
static int
copy_checked(ckpt_reader *r, const ckpt_layout *at,
	     const pcg_param_info *info, int nparams, int real_size,
	     void *data, uint64_t *counters, int ncounters)
{
	unsigned char buf[CKPT_CHUNK];
	unsigned char *bytes = data;
	size_t per = CKPT_CHUNK / (size_t)real_size;

	if (ncounters > 0 && r->seek(r->from, at->counters_at))
		return PCG_CKPT_EIO;
	for (int k = 0; k < ncounters; k++) {
		if (r->read(r->from, buf, 8) != 8)
			return PCG_CKPT_EIO;
		counters[k] = 0;
		for (int i = 0; i < 8; i++)
			counters[k] |= (uint64_t)buf[i] << (8 * i);
	}
	if (r->seek(r->from, at->payload_at))
		return PCG_CKPT_EIO;
	for (int q = 0; q < nparams; q++) {
		unsigned char *dst = bytes + info[q].offset * (size_t)real_size;

		for (size_t i = 0; i < info[q].count; i += per) {
			size_t n = info[q].count - i < per ? info[q].count - i
							   : per;
			size_t m = n * (size_t)real_size;

			if (r->read(r->from, buf, m) != m)
				return PCG_CKPT_EIO;
			decode_reals(dst + i * (size_t)real_size, buf, n,
				     real_size);
		}
	}
	return PCG_CKPT_OK;
}

/* Both passes over the checkpoint r reads. */
static int
load_checkpoint(ckpt_reader *r, const char *model,
		const pcg_param_info *info, int nparams, int real_size,
		void *data, uint64_t *counters, int ncounters)
{
	ckpt_layout at = {0, 0};
	int err = check_file(r, model, info, nparams, real_size, ncounters,
			     &at);

	if (!err)
		err = copy_checked(r, &at, info, nparams, real_size, data,
				   counters, ncounters);
	return err;
}

static size_t
mem_read(void *from, void *p, size_t n)
{
	ckpt_mem *m = from;

	if (n > m->len - m->pos)
		n = m->len - m->pos;
	if (n > 0)
		memcpy(p, m->in + m->pos, n);
	m->pos += n;
	return n;
}

static int
mem_seek(void *from, uint64_t pos)
{
	ckpt_mem *m = from;

	if (pos > m->len)
		return -1;
	m->pos = (size_t)pos;
	return 0;
}

static int
mem_failed(void *from)
{
	(void)from;
	return 0; /* memory ends, but never fails */
}

int
pcg_ckpt_load_mem(const void *buf, size_t len, const char *model,
		  const pcg_param_info *info, int nparams, int real_size,
		  void *data, uint64_t *counters, int ncounters)
{
	ckpt_mem m = {NULL, buf, len, 0};
	ckpt_reader r = {mem_read, mem_seek, mem_failed, &m, FNV_OFFSET, 0};

	if ((!buf && len > 0) || !valid_args(model, info, nparams, real_size,
					     data, counters, ncounters))
		return PCG_CKPT_EARG;
	return load_checkpoint(&r, model, info, nparams, real_size, data,
			       counters, ncounters);
}

#ifndef PCG_NO_FILES
static size_t
file_read(void *from, void *p, size_t n)
{
	return fread(p, 1, n, from);
}

/* Seek to a position the first pass reached. */
static int
file_seek(void *from, uint64_t pos)
{
	if (pos > INT64_MAX || fseeko(from, (off_t)pos, SEEK_SET))
		return -1;
	return 0;
}

static int
file_failed(void *from)
{
	return ferror((FILE *)from);
}

int
pcg_ckpt_load_ex(const char *path, const char *model,
		 const pcg_param_info *info, int nparams, int real_size,
		 void *data, uint64_t *counters, int ncounters)
{
	ckpt_reader r = {file_read, file_seek, file_failed, NULL, FNV_OFFSET,
			 0};
	int err;

	if (!path || !valid_args(model, info, nparams, real_size, data,
				 counters, ncounters))
		return PCG_CKPT_EARG;
	r.from = fopen(path, "rb");
	if (!r.from)
		return PCG_CKPT_EIO;
	err = load_checkpoint(&r, model, info, nparams, real_size, data,
			      counters, ncounters);
	fclose(r.from);
	return err;
}

int
pcg_ckpt_load(const char *path, const char *model,
	      const pcg_param_info *info, int nparams, int real_size,
	      void *data)
{
	return pcg_ckpt_load_ex(path, model, info, nparams, real_size, data,
				NULL, 0);
}
#endif /* PCG_NO_FILES */

const char *
pcg_ckpt_strerror(int err)
{
	switch (err) {
	case PCG_CKPT_OK:
		return "success";
	case PCG_CKPT_EIO:
		return "cannot open, read, write or rename the checkpoint file";
	case PCG_CKPT_EFORMAT:
		return "not a checkpoint file, or truncated";
	case PCG_CKPT_ECORRUPT:
		return "checkpoint checksum mismatch (corrupt file)";
	case PCG_CKPT_EMODEL:
		return "checkpoint written by another model";
	case PCG_CKPT_ESHAPE:
		return "checkpoint parameter names or shapes differ";
	case PCG_CKPT_EREAL:
		return "checkpoint written with the other scalar type";
	case PCG_CKPT_EARG:
		return "invalid checkpoint arguments";
	case PCG_CKPT_ECOUNTERS:
		return "checkpoint holds another number of counters";
	default:
		return "unknown checkpoint error";
	}
}
