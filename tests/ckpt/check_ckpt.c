/*
 * check_ckpt.c — P_save / P_load of generated models (API.md): a round trip
 * is bit-exact; a truncated file, a corrupted byte, a file of another model,
 * of another shape or of the other scalar type is rejected with the right
 * error and leaves the parameters untouched; saving over a checkpoint
 * replaces it whole and leaves no temporary file.  A file of format
 * version 1 (the same file without counters and flags, made here from
 * the documented format) still loads; a record flagged as a buffer is
 * rejected; counters saved with pcg_ckpt_save_ex come back with
 * pcg_ckpt_load_ex and make P_load refuse the file.  Prints TAP.
 *
 * Built with four generated models: a (digits, float), b (digits, double),
 * c (rnn, float: another model), m1 / m2 (mlp with H = 256 / 128, float:
 * the same model in another shape), and na / nb / nc (one model with its
 * batch norm's buffers at one vertex, at another, and without them).
 * Buffers round-trip with the parameters, a checkpoint with other
 * buffers is rejected, and the optimizer's state (P_save_opt /
 * P_load_opt) round-trips, resumes bit for bit, and is no parameter
 * file (nor the other way round).  In memory (P_save_mem / P_load_mem),
 * the bytes are the file's, of the size P_CKPT_BYTES and pcg_ckpt_bytes
 * give, and every truncation and flipped byte is rejected the same way.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_a.h"
#include "ckpt_b.h"
#include "ckpt_c.h"
#include "ckpt_m1.h"
#include "ckpt_m2.h"
#include "ckpt_na.h"
#include "ckpt_nb.h"
#include "ckpt_nc.h"

static int test_no, failures;

static void
ok(int cond, const char *what, long detail)
{
	test_no++;
	printf("%s %d - %s", cond ? "ok" : "not ok", test_no, what);
	if (detail >= 0)
		printf(" (%ld)", detail);
	printf("\n");
	if (!cond)
		failures++;
}

static a_params p, q, sentinel;
static b_params pb;
static c_params pc;
static m1_params pm1;
static m2_params pm2;

static long
file_size(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fclose(f);
	return n;
}

static unsigned char file[1 << 16];

static long
read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	long n = (long)fread(file, 1, sizeof file, f);
	fclose(f);
	return n;
}

static void
write_all(const char *path, const unsigned char *d, long n)
{
	FILE *f = fopen(path, "wb");
	if (!f) {
		perror(path);
		exit(2);
	}
	fwrite(d, 1, (size_t)n, f);
	fclose(f);
}

/* Load into q, which starts as a copy of sentinel; returns the error and
 * whether q was left untouched. */
static int
load_untouched(const char *path, int *untouched)
{
	memcpy(&q, &sentinel, sizeof q);
	int r = a_load(&q, path);
	*untouched = memcmp(&q, &sentinel, sizeof q) == 0;
	return r;
}

/* Little-endian u32 at b. */
static uint32_t
le32(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static void
put_le32(unsigned char *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

/* Replace the last 8 bytes of d[0..n) by the FNV-1a hash of the rest. */
static void
rehash(unsigned char *d, long n)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (long i = 0; i < n - 8; i++) {
		h ^= d[i];
		h *= UINT64_C(0x100000001b3);
	}
	for (int b = 0; b < 8; b++)
		d[n - 8 + b] = (unsigned char)(h >> (8 * b));
}

/*
 * The version 1 form of the version 2 file in[0..n): the same without the
 * counters and the records' flags (see pcg_ckpt.c).  Returns its length;
 * *flags_at gets the offset in `in` of the first record's flags.
 */
static long
to_version1(const unsigned char *in, long n, unsigned char *out,
	    long *flags_at)
{
	long i = 20 + le32(in + 16), o;           /* after the model name */
	memcpy(out, in, (size_t)i);
	put_le32(out + 8, 1);
	o = i;
	i += 4 + 8 * (long)le32(in + i);          /* skip the counters */
	uint32_t np = le32(in + i);
	memcpy(out + o, in + i, 4);
	i += 4;
	o += 4;
	for (uint32_t q = 0; q < np; q++) {
		long len = 4 + le32(in + i);      /* name */
		len += 4 + 4 * (long)le32(in + i + len); /* rank, dims */
		memcpy(out + o, in + i, (size_t)len);
		i += len;
		o += len;
		if (q == 0)
			*flags_at = i;
		i += 4;                           /* flags */
	}
	memcpy(out + o, in + i, (size_t)(n - i));
	o += n - i;
	rehash(out, o);
	return o;
}

static int
temp_files(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".tmp."))
			n++;
	closedir(d);
	return n;
}

/* Buffers (batch norm's running statistics) and optimizer state. */
static void
buffers_and_optimizer(const char *dir)
{
	static na_params p1, p2, p3;
	static na_state s1;
	static na_opt o1, o2;
	static nb_params b, bkeep;
	static nc_params c, ckeep;
	char path[256], opath[256];
	snprintf(path, sizeof path, "%s/bn.ckpt", dir);
	snprintf(opath, sizeof opath, "%s/bn.opt", dir);
	na_init(&p1, 3);
	for (size_t i = 0; i < sizeof s1.in.x / sizeof(double); i++)
		((double *)s1.in.x)[i] = (double)(i % 7) - 2.5;
	for (int k = 0; k < NA_BATCH; k++)
		s1.target.y[k][k % 3] = 1;
	const pcg_optim adam = {PCG_ADAM, 0.01, 0, 0.9, 0.999, 1e-8, 0.01};
	for (int step = 0; step < 2; step++)
		na_step_bp(&p1, &o1, &s1, &adam);
	int moved = p1.h_running_mean[0] != 0 && p1.h_running_var[0] != 1;
	ok(moved && na_save(&p1, path) == 0 && na_load(&p2, path) == 0 &&
		   memcmp(&p1, &p2, sizeof p1) == 0,
	   "a model with batch norm: parameters and running statistics "
	   "round-trip bit for bit", -1);
	memset(&b, 0x5a, sizeof b);
	memcpy(&bkeep, &b, sizeof b);
	int r = nb_load(&b, path);
	ok(r == PCG_CKPT_ESHAPE && memcmp(&b, &bkeep, sizeof b) == 0,
	   "its buffers at another vertex: ESHAPE, untouched", r);
	memset(&c, 0x5a, sizeof c);
	memcpy(&ckeep, &c, sizeof c);
	r = nc_load(&c, path);
	ok(r == PCG_CKPT_ESHAPE && memcmp(&c, &ckeep, sizeof c) == 0,
	   "the model without its buffers: ESHAPE, untouched", r);

	/* the optimizer: round trip, then a resumed step equals the
	 * uninterrupted one */
	ok(na_save_opt(&o1, opath) == 0 && na_load_opt(&o2, opath) == 0 &&
		   memcmp(&o1, &o2, sizeof o1) == 0 && o2.step == 2,
	   "P_save_opt / P_load_opt: moments and step count round-trip", -1);
	memcpy(&p3, &p2, sizeof p3);
	static na_state s2;
	memcpy(&s2, &s1, sizeof s2);
	na_step_bp(&p1, &o1, &s1, &adam);
	na_step_bp(&p3, &o2, &s2, &adam);
	ok(memcmp(&p1, &p3, sizeof p1) == 0 && memcmp(&o1, &o2, sizeof o1) == 0,
	   "a step after loading both checkpoints equals the uninterrupted "
	   "step bit for bit", -1);
	memcpy(&p3, &p1, sizeof p3);
	r = na_load(&p3, opath);
	ok(r == PCG_CKPT_EMODEL && memcmp(&p3, &p1, sizeof p3) == 0,
	   "an optimizer file is no parameter file: EMODEL, untouched", r);
	memcpy(&o2, &o1, sizeof o2);
	r = na_load_opt(&o2, path);
	ok(r == PCG_CKPT_EMODEL && memcmp(&o2, &o1, sizeof o2) == 0,
	   "a parameter file is no optimizer file: EMODEL, untouched", r);
}

/* Load buf[0..len) into q, which starts as a copy of sentinel; returns
 * the error and whether q was left untouched. */
static int
load_mem_untouched(const unsigned char *buf, size_t len, int *untouched)
{
	memcpy(&q, &sentinel, sizeof q);
	int r = a_load_mem(&q, buf, len);
	*untouched = memcmp(&q, &sentinel, sizeof q) == 0;
	return r;
}

/* The checkpoint in memory: P_save_mem / P_load_mem. */
static void
memory_checkpoints(const char *dir)
{
	static unsigned char buf[A_CKPT_BYTES + 16];
	char path[256];
	snprintf(path, sizeof path, "%s/mem.ckpt", dir);
	a_init(&p, 11);
	size_t need = pcg_ckpt_bytes("digits", a_param_info, A_NUM_PARAMS,
				     (int)sizeof(a_real), 0);
	size_t n = a_save_mem(&p, buf, sizeof buf);
	ok(a_save(&p, path) == 0 && need == A_CKPT_BYTES && n == need &&
		   file_size(path) == (long)n,
	   "A_CKPT_BYTES == pcg_ckpt_bytes == P_save_mem's size == the "
	   "file's size", (long)n);
	ok(read_all(path) == (long)n && memcmp(file, buf, n) == 0,
	   "P_save_mem writes the bytes of the file P_save writes", -1);
	ok(a_load_mem(&q, buf, n) == 0 && memcmp(&p, &q, sizeof p) == 0,
	   "memory round trip is bit-exact", -1);
	{
		static b_params qb;
		static unsigned char bbuf[B_CKPT_BYTES];
		ok(b_save_mem(&pb, bbuf, sizeof bbuf) == sizeof bbuf &&
			   b_load_mem(&qb, bbuf, sizeof bbuf) == 0 &&
			   memcmp(&pb, &qb, sizeof pb) == 0,
		   "memory round trip is bit-exact (double)", -1);
	}

	/* too small: 0 and nothing written */
	memset(buf, 0xa5, sizeof buf);
	int zero = a_save_mem(&p, buf, n - 1) == 0 &&
		   a_save_mem(&p, buf, 0) == 0 && a_save_mem(&p, NULL, n) == 0;
	for (size_t i = 0; i < sizeof buf; i++)
		zero &= buf[i] == 0xa5;
	ok(zero,
	   "a buffer too small: P_save_mem returns 0 and writes nothing", -1);
	ok(a_save_mem(&p, buf, n) == n, "a buffer of exactly the size", -1);

	/* every truncation, a byte after the end, every flipped byte */
	int bad = 0, touched = 0;
	for (size_t len = 0; len < n; len++) {
		int u, r = load_mem_untouched(buf, len, &u);
		bad += r != PCG_CKPT_EFORMAT;
		touched += !u;
	}
	ok(bad == 0 && touched == 0,
	   "every truncated buffer: EFORMAT, p untouched", (long)n);
	{
		int u, r = load_mem_untouched(buf, n + 1, &u);
		ok(r == PCG_CKPT_EFORMAT && u,
		   "a byte after the hash: EFORMAT, p untouched", r);
	}
	bad = touched = 0;
	for (size_t at = 0; at < n; at++) {
		buf[at] ^= 0x5a;
		int u, r = load_mem_untouched(buf, n, &u);
		buf[at] ^= 0x5a;
		bad += r == 0;
		touched += !u;
	}
	ok(bad == 0 && touched == 0,
	   "a flipped byte anywhere in the buffer is rejected, p untouched",
	   -1);
	{
		int u, r = load_mem_untouched(NULL, n, &u);
		ok(r == PCG_CKPT_EARG && u, "no buffer: EARG", r);
	}

	/* the other model, from memory */
	{
		static unsigned char cbuf[C_CKPT_BYTES];
		int u;
		c_init(&pc, 5);
		ok(c_save_mem(&pc, cbuf, sizeof cbuf) == sizeof cbuf &&
			   load_mem_untouched(cbuf, sizeof cbuf, &u) ==
				   PCG_CKPT_EMODEL && u,
		   "a buffer of another model: EMODEL, p untouched", -1);
	}

	/* buffer -> file -> P_load, and file -> buffer -> P_load_mem */
	a_init(&p, 12);
	n = a_save_mem(&p, buf, sizeof buf);
	write_all(path, buf, (long)n);
	ok(a_load(&q, path) == 0 && memcmp(&p, &q, sizeof p) == 0,
	   "a buffer of P_save_mem written to a file loads with P_load", -1);
	a_init(&p, 13);
	long fn = (a_save(&p, path) == 0) ? read_all(path) : -1;
	ok(fn == (long)n && a_load_mem(&q, file, (size_t)fn) == 0 &&
		   memcmp(&p, &q, sizeof p) == 0,
	   "the bytes of a file of P_save load with P_load_mem", fn);

	/* counters through pcg_ckpt_save_mem / pcg_ckpt_load_mem */
	{
		uint64_t k[2] = {7, UINT64_C(1) << 40}, k2[2] = {0, 0};
		size_t m = pcg_ckpt_save_mem(buf, sizeof buf, "digits",
					     a_param_info, A_NUM_PARAMS,
					     (int)sizeof(a_real), &p, k, 2);
		ok(m == n + 16 &&
			   m == pcg_ckpt_bytes("digits", a_param_info,
					       A_NUM_PARAMS,
					       (int)sizeof(a_real), 2) &&
			   pcg_ckpt_load_mem(buf, m, "digits", a_param_info,
					     A_NUM_PARAMS, (int)sizeof(a_real),
					     &q, k2, 2) == 0 &&
			   k2[0] == k[0] && k2[1] == k[1] &&
			   a_load_mem(&q, buf, m) == PCG_CKPT_ECOUNTERS,
		   "counters round-trip in memory; P_load_mem refuses them", -1);
	}
}

int
main(void)
{
	char dir[] = "/tmp/pcc-ckpt-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	char path[256], other[256];
	snprintf(path, sizeof path, "%s/a.ckpt", dir);
	snprintf(other, sizeof other, "%s/other.ckpt", dir);
	printf("TAP version 13\n");

	a_init(&p, 1);
	a_init(&sentinel, 2);
	ok(a_save(&p, path) == 0, "save returns 0", -1);
	ok(a_load(&q, path) == 0 && memcmp(&p, &q, sizeof p) == 0,
	   "round trip is bit-exact (float)", -1);
	b_init(&pb, 3);
	{
		static b_params qb;
		ok(b_save(&pb, other) == 0 && b_load(&qb, other) == 0 &&
			   memcmp(&pb, &qb, sizeof pb) == 0,
		   "round trip is bit-exact (double)", -1);
	}

	/* control: a good file does change the parameters, so "untouched"
	 * below can fail */
	{
		int u0, r0 = load_untouched(path, &u0);
		ok(r0 == 0 && !u0, "control: loading a good file changes p", -1);
	}

	/* truncations: every length of the header and the start of the data,
	 * then every 97th */
	long n = read_all(path);
	int bad = 0, touched = 0;
	for (long len = 0; len < n; len += len < 1024 ? 1 : 97) {
		char t[256];
		snprintf(t, sizeof t, "%s/t.ckpt", dir);
		write_all(t, file, len);
		int u, r = load_untouched(t, &u);
		bad += r == 0;
		touched += !u;
	}
	ok(bad == 0 && touched == 0,
	   "every truncated file is rejected and leaves p untouched", n);

	/* one corrupted byte anywhere: every 13th position */
	bad = touched = 0;
	for (long at = 0; at < n; at += 13) {
		char t[256];
		snprintf(t, sizeof t, "%s/c.ckpt", dir);
		file[at] ^= 0x5a;
		write_all(t, file, n);
		file[at] ^= 0x5a;
		int u, r = load_untouched(t, &u);
		bad += r == 0;
		touched += !u;
	}
	ok(bad == 0 && touched == 0,
	   "a flipped byte anywhere is rejected and leaves p untouched", -1);

	/* format version 1 still loads, bit-exact */
	{
		static unsigned char v1[1 << 16];
		long flags_at = -1, n1 = to_version1(file, n, v1, &flags_at);
		char t[256];
		snprintf(t, sizeof t, "%s/v1.ckpt", dir);
		write_all(t, v1, n1);
		ok(n1 == n - 4 - 4 * A_NUM_PARAMS && a_load(&q, t) == 0 &&
			   memcmp(&p, &q, sizeof p) == 0,
		   "a file of format version 1 loads bit-exact", n1);

		/* the first record flagged as a buffer: ESHAPE */
		static unsigned char fl[1 << 16];
		memcpy(fl, file, (size_t)n);
		put_le32(fl + flags_at, 0);
		rehash(fl, n);
		write_all(t, fl, n);
		int u1, r1 = load_untouched(t, &u1);
		ok(r1 == PCG_CKPT_ESHAPE && u1,
		   "a record flagged as a buffer, not a parameter: ESHAPE", r1);
		/* control: the same edit back to 1 loads */
		put_le32(fl + flags_at, 1);
		rehash(fl, n);
		write_all(t, fl, n);
		ok(load_untouched(t, &u1) == 0 && !u1,
		   "control: the file with its flag restored loads", -1);
	}

	/* counters: an optimizer-style checkpoint of the same parameters */
	{
		char t[256], model[64];
		uint64_t in[2] = {41, UINT64_C(1) << 63}, out[2] = {0, 0};
		uint32_t len = le32(file + 16);
		snprintf(t, sizeof t, "%s/cnt.ckpt", dir);
		snprintf(model, sizeof model, "%.*s", (int)len,
			 (const char *)file + 20);
		int r1 = pcg_ckpt_save_ex(t, model, a_param_info, A_NUM_PARAMS,
					  (int)sizeof(float), &p, in, 2);
		static a_params r;
		int r2 = pcg_ckpt_load_ex(t, model, a_param_info, A_NUM_PARAMS,
					  (int)sizeof(float), &r, out, 2);
		ok(r1 == 0 && r2 == 0 && memcmp(&p, &r, sizeof p) == 0 &&
			   out[0] == in[0] && out[1] == in[1],
		   "counters and parameters round-trip (pcg_ckpt_save_ex)", r2);
		int u1, r3 = load_untouched(t, &u1);
		ok(r3 == PCG_CKPT_ECOUNTERS && u1,
		   "P_load refuses a file with counters: ECOUNTERS", r3);
	}

	int u;
	c_init(&pc, 4);
	c_save(&pc, other);
	int r = load_untouched(other, &u);
	ok(r == PCG_CKPT_EMODEL && u, "a file of another model: EMODEL", r);

	m2_init(&pm2, 5);
	m2_save(&pm2, other);
	m1_init(&pm1, 6);
	{
		static m1_params keep;
		memcpy(&keep, &pm1, sizeof keep);
		r = m1_load(&pm1, other);
		ok(r == PCG_CKPT_ESHAPE && memcmp(&keep, &pm1, sizeof keep) == 0,
		   "the same model in another shape: ESHAPE", r);
	}

	b_save(&pb, other);
	r = load_untouched(other, &u);
	ok(r == PCG_CKPT_EREAL && u, "the other scalar type: EREAL", r);

	snprintf(other, sizeof other, "%s/missing.ckpt", dir);
	r = load_untouched(other, &u);
	ok(r != 0 && u, "a missing file is an error", r);
	ok(strlen(pcg_ckpt_strerror(PCG_CKPT_ECORRUPT)) > 0 &&
		   strcmp(pcg_ckpt_strerror(PCG_CKPT_ECORRUPT),
			  pcg_ckpt_strerror(PCG_CKPT_ESHAPE)) != 0,
	   "every error has its own message", -1);

	/* saving over a checkpoint replaces it whole, no temp file left */
	long before = file_size(path);
	a_init(&p, 7);
	ok(a_save(&p, path) == 0 && a_load(&q, path) == 0 &&
		   memcmp(&p, &q, sizeof p) == 0 && file_size(path) == before &&
		   temp_files(dir) == 0,
	   "saving over a checkpoint replaces it, leaving no temp file", -1);
	snprintf(other, sizeof other, "%s/no/such/dir.ckpt", dir);
	ok(a_save(&p, other) != 0 && temp_files(dir) == 0,
	   "a save that cannot be written fails cleanly", -1);

	buffers_and_optimizer(dir);
	memory_checkpoints(dir);

	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	printf("1..%d\n", test_no);
	return failures ? 1 : 0;
}
