/*
 * data.c — reading the trainer's data sets.
 *
 * A file is read whole through zlib (gzread reads plain files as they are),
 * then parsed from memory, so every check sees the exact bytes and every
 * error names the file and what is wrong with it.
 */
#include "data.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MAX_FILE_BYTES ((size_t)512 << 20) /* larger than any data set here */

/* the whole (decompressed) file; NULL after printing why */
static unsigned char *
read_all(const char *path, size_t *len)
{
	FILE *probe = fopen(path, "rb"); /* zlib's errors do not say why */
	if (!probe) {
		fprintf(stderr, "%s: cannot open: %s\n", path, strerror(errno));
		return NULL;
	}
	fclose(probe);
	gzFile f = gzopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: cannot open\n", path);
		return NULL;
	}
	size_t cap = 1 << 20, n = 0;
	unsigned char *buf = malloc(cap + 1);
	for (;;) {
		if (!buf) {
			fprintf(stderr, "%s: out of memory\n", path);
			gzclose(f);
			return NULL;
		}
		if (n == cap) {
			if (cap >= MAX_FILE_BYTES) {
				fprintf(stderr, "%s: larger than %zu MB\n", path,
					MAX_FILE_BYTES >> 20);
				free(buf);
				gzclose(f);
				return NULL;
			}
			cap *= 2;
			unsigned char *grown = realloc(buf, cap + 1);
			if (!grown)
				free(buf);
			buf = grown;
			continue;
		}
		size_t want = cap - n > (1u << 30) ? (1u << 30) : cap - n;
		int got = gzread(f, buf + n, (unsigned)want);
		if (got < 0) {
			int errnum;
			const char *msg = gzerror(f, &errnum);
			fprintf(stderr, "%s: corrupt compressed data (%s)\n", path,
				msg);
			free(buf);
			gzclose(f);
			return NULL;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	/* a gzip stream cut short reads as a short file without an error */
	int errnum;
	const char *msg = gzerror(f, &errnum);
	if (errnum != Z_OK && errnum != Z_BUF_ERROR) {
		fprintf(stderr, "%s: corrupt compressed data (%s)\n", path, msg);
		free(buf);
		gzclose(f);
		return NULL;
	}
	if (gzclose(f) == Z_BUF_ERROR) {
		fprintf(stderr, "%s: compressed data ends early\n", path);
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

static int
alloc_set(dataset *d, int n, int features, int classes)
{
	d->n = n;
	d->features = features;
	d->classes = classes;
	d->x = malloc((size_t)n * (size_t)features * sizeof *d->x + 1);
	d->label = malloc((size_t)n + 1);
	return d->x && d->label ? 0 : -1;
}

void
data_free(dataset *d)
{
	free(d->x);
	free(d->label);
	memset(d, 0, sizeof *d);
}

void
data_truncate(dataset *d, int n)
{
	if (n >= 0 && n < d->n)
		d->n = n;
}

/* --- the UCI digits: 64 pixel counts 0..16 and a label per line --- */

#define DIGITS_FIELDS 65

int
data_load_digits(const char *path, dataset *train, dataset *test)
{
	size_t len;
	unsigned char *buf = read_all(path, &len);
	if (!buf)
		return -1;
	int rows = 0;
	for (size_t i = 0; i < len; i++)
		rows += buf[i] == '\n' || (i + 1 == len && buf[i] != '\n');
	int ntest = rows / 5, ntrain = rows - ntest;
	if (alloc_set(train, ntrain, 64, 10) || alloc_set(test, ntest, 64, 10)) {
		fprintf(stderr, "%s: out of memory\n", path);
		free(buf);
		return -1;
	}
	const char *p = (const char *)buf, *end = p + len;
	int row = 0, itrain = 0, itest = 0;
	while (p < end) {
		int line = row + 1;
		long v[DIGITS_FIELDS];
		int k = 0;
		for (;;) {
			char *after;
			if (!(*p >= '0' && *p <= '9') && *p != '-' && *p != '+') {
				fprintf(stderr,
					"%s:%d: field %d: expected an integer\n",
					path, line, k + 1);
				goto fail;
			}
			errno = 0;
			long x = strtol(p, &after, 10);
			if (after == p || errno) {
				fprintf(stderr,
					"%s:%d: field %d: expected an integer\n",
					path, line, k + 1);
				goto fail;
			}
			if (k < DIGITS_FIELDS)
				v[k] = x;
			k++;
			p = after;
			if (*p == ',') {
				p++;
				continue;
			}
			if (*p == '\r')
				p++;
			if (p < end && *p != '\n') {
				fprintf(stderr,
					"%s:%d: unexpected character '%c' after "
					"field %d\n",
					path, line, *p, k);
				goto fail;
			}
			p++;
			break;
		}
		if (k != DIGITS_FIELDS) {
			fprintf(stderr,
				"%s:%d: %d fields; expected %d (64 pixels and a "
				"label)\n",
				path, line, k, DIGITS_FIELDS);
			goto fail;
		}
		for (int j = 0; j < 64; j++)
			if (v[j] < 0 || v[j] > 16) {
				fprintf(stderr,
					"%s:%d: pixel %d is %ld; expected 0..16\n",
					path, line, j + 1, v[j]);
				goto fail;
			}
		if (v[64] < 0 || v[64] > 9) {
			fprintf(stderr, "%s:%d: label %ld; expected 0..9\n", path,
				line, v[64]);
			goto fail;
		}
		dataset *d = row % 5 == 4 && itest < ntest ? test : train;
		int i = d == test ? itest++ : itrain++;
		for (int j = 0; j < 64; j++)
			d->x[(size_t)i * 64 + (size_t)j] = (float)v[j] / 16.0f;
		d->label[i] = (unsigned char)v[64];
		row++;
	}
	free(buf);
	if (rows < 5) {
		fprintf(stderr, "%s: %d rows; a data set needs at least 5\n",
			path, rows);
		data_free(train);
		data_free(test);
		return -1;
	}
	return 0;
fail:
	free(buf);
	data_free(train);
	data_free(test);
	return -1;
}

/* --- IDX files (Fashion-MNIST): magic 0 0 0x08 ndim, big-endian dims --- */

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* check the header of an unsigned-byte IDX file of rank ndim; dims out */
static int
idx_header(const char *path, const unsigned char *buf, size_t len, int ndim,
	   uint32_t *dims, const unsigned char **data)
{
	if (len < 4 || buf[0] != 0 || buf[1] != 0) {
		fprintf(stderr, "%s: not an IDX file (bad magic number)\n", path);
		return -1;
	}
	if (buf[2] != 0x08) {
		fprintf(stderr,
			"%s: IDX element type 0x%02x; expected 0x08 (unsigned "
			"byte)\n",
			path, buf[2]);
		return -1;
	}
	if (buf[3] != ndim) {
		fprintf(stderr, "%s: IDX file of rank %d; expected %s (rank %d)\n",
			path, buf[3], ndim == 3 ? "images" : "labels", ndim);
		return -1;
	}
	size_t head = 4 + 4 * (size_t)ndim;
	if (len < head) {
		fprintf(stderr, "%s: truncated IDX header (%zu bytes)\n", path,
			len);
		return -1;
	}
	uint64_t count = 1;
	for (int i = 0; i < ndim; i++) {
		dims[i] = be32(buf + 4 + 4 * i);
		count *= dims[i];
	}
	if (count != len - head) {
		fprintf(stderr,
			"%s: the header promises %llu bytes of data, the file "
			"holds %zu\n",
			path, (unsigned long long)count, len - head);
		return -1;
	}
	*data = buf + head;
	return 0;
}

static int
load_idx_pair(const char *dir, const char *stem, int side, dataset *d)
{
	char ipath[4096], lpath[4096];
	snprintf(ipath, sizeof ipath, "%s/%s-images-idx3-ubyte.gz", dir, stem);
	snprintf(lpath, sizeof lpath, "%s/%s-labels-idx1-ubyte.gz", dir, stem);
	size_t ilen, llen;
	unsigned char *ibuf = read_all(ipath, &ilen), *lbuf = NULL;
	if (!ibuf)
		return -1;
	lbuf = read_all(lpath, &llen);
	if (!lbuf) {
		free(ibuf);
		return -1;
	}
	uint32_t idim[3], ldim[1];
	const unsigned char *pix, *lab;
	int rc = -1;
	if (idx_header(ipath, ibuf, ilen, 3, idim, &pix) ||
	    idx_header(lpath, lbuf, llen, 1, ldim, &lab))
		goto out;
	if (idim[1] != 28 || idim[2] != 28) {
		fprintf(stderr, "%s: images of %ux%u; expected 28x28\n", ipath,
			idim[1], idim[2]);
		goto out;
	}
	if (idim[0] != ldim[0]) {
		fprintf(stderr, "%s: %u labels for %u images in %s\n", lpath,
			ldim[0], idim[0], ipath);
		goto out;
	}
	if (idim[0] == 0 || idim[0] > (1u << 24)) {
		fprintf(stderr, "%s: %u images; expected 1 to %u\n", ipath,
			idim[0], 1u << 24);
		goto out;
	}
	for (uint32_t i = 0; i < ldim[0]; i++)
		if (lab[i] > 9) {
			fprintf(stderr, "%s: label %u of sample %u; expected 0..9\n",
				lpath, lab[i], i + 1);
			goto out;
		}
	if (alloc_set(d, (int)idim[0], side * side, 10)) {
		fprintf(stderr, "%s: out of memory\n", ipath);
		goto out;
	}
	size_t border = (size_t)(side - 28) / 2;
	for (size_t i = 0; i < idim[0]; i++) {
		float *x = d->x + i * (size_t)side * (size_t)side;
		memset(x, 0, (size_t)side * (size_t)side * sizeof *x);
		for (size_t r = 0; r < 28; r++)
			for (size_t c = 0; c < 28; c++)
				x[(border + r) * (size_t)side + border + c] =
					(float)pix[i * 784 + r * 28 + c] / 255.0f;
	}
	memcpy(d->label, lab, idim[0]);
	rc = 0;
out:
	free(ibuf);
	free(lbuf);
	return rc;
}

int
data_load_fashion(const char *dir, int side, dataset *train, dataset *test)
{
	if (side < 28)
		side = 28;
	if (load_idx_pair(dir, "train", side, train))
		return -1;
	if (load_idx_pair(dir, "t10k", side, test)) {
		data_free(train);
		return -1;
	}
	return 0;
}
