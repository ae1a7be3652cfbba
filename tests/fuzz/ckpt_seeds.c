/*
 * ckpt_seeds.c — writes the seed checkpoints of the fuzz_ckpt corpus into
 * a folder: a float and a double checkpoint of the fuzzed model, the
 * float one in format version 1 (no counters, no flags, made from the
 * version 2 file as pcg_ckpt.c describes the formats), and a float one
 * with two counters (as an optimizer's checkpoint would hold).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ckd.h"
#include "ckf.h"

static unsigned char buf[1 << 16], v1[1 << 16];

static long
read_all(const char *path, unsigned char *d)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	long n = (long)fread(d, 1, sizeof buf, f);
	fclose(f);
	return n;
}

static int
write_all(const char *path, const unsigned char *d, long n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t w = fwrite(d, 1, (size_t)n, f);
	return fclose(f) != 0 || w != (size_t)n ? -1 : 0;
}

static uint32_t
le32(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

/* The version 1 form of the version 2 file in[0..n) (no counters, no
 * flags, version 1, hashed again); returns its length. */
static long
to_version1(const unsigned char *in, long n, unsigned char *out)
{
	long i = 20 + le32(in + 16), o = i;
	memcpy(out, in, (size_t)i);
	out[8] = 1;
	i += 4 + 8 * (long)le32(in + i);
	uint32_t np = le32(in + i);
	memcpy(out + o, in + i, 4);
	i += 4;
	o += 4;
	for (uint32_t q = 0; q < np; q++) {
		long len = 4 + le32(in + i);
		len += 4 + 4 * (long)le32(in + i + len);
		memcpy(out + o, in + i, (size_t)len);
		i += len + 4;
		o += len;
	}
	memcpy(out + o, in + i, (size_t)(n - i));
	o += n - i;
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (long k = 0; k < o - 8; k++) {
		h ^= out[k];
		h *= UINT64_C(0x100000001b3);
	}
	for (int b = 0; b < 8; b++)
		out[o - 8 + b] = (unsigned char)(h >> (8 * b));
	return o;
}

int
main(int argc, char **argv)
{
	ckf_params pf;
	ckd_params pd;
	char path[4096], v1path[4096];
	uint64_t counters[2] = {7, UINT64_C(0x8000000000000001)};
	if (argc != 2) {
		fprintf(stderr, "usage: ckpt_seeds DIR\n");
		return 2;
	}
	ckf_init(&pf, 1);
	ckd_init(&pd, 2);
	snprintf(path, sizeof path, "%s/float.ckpt", argv[1]);
	if (ckf_save(&pf, path) != 0)
		return 1;
	long n = read_all(path, buf);
	snprintf(v1path, sizeof v1path, "%s/float-v1.ckpt", argv[1]);
	if (n < 0 || write_all(v1path, v1, to_version1(buf, n, v1)) != 0)
		return 1;
	snprintf(path, sizeof path, "%s/counters.ckpt", argv[1]);
	if (pcg_ckpt_save_ex(path, "ck", ckf_param_info, CKF_NUM_PARAMS,
			     (int)sizeof(float), &pf, counters, 2) != 0)
		return 1;
	snprintf(path, sizeof path, "%s/double.ckpt", argv[1]);
	return ckd_save(&pd, path) != 0;
}
