/*
 * fuzz_ckpt.c — libFuzzer target: the checkpoint reader behind P_load
 * and P_load_mem.
 *
 * Writes the input to a file and loads it with the generated P_load of a
 * small model, as a float model (ckf) and as a double one (ckd).  Random
 * bytes seldom carry the right trailing FNV-1a hash, so each input is
 * loaded a second time with its last 8 bytes replaced by the hash of the
 * rest: that lets the fuzzer reach the checks after the hash (model
 * name, scalar type, shapes) and the payload.
 *
 * Beyond the sanitizers, the target checks the contract of P_load: on
 * failure the parameters are left untouched, and on success what was
 * loaded saves back to the very same bytes (a file of format version 1,
 * which P_save does not write, to a file that loads the same values),
 * and P_load_mem on the same bytes gives the same error and values.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckd.h"
#include "ckf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64], back[80];

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_ckpt: %s\n", what);
	abort();
}

static int
write_file(const char *p, const uint8_t *data, size_t size)
{
	FILE *f = fopen(p, "wb");
	if (!f)
		return -1;
	size_t n = size ? fwrite(data, 1, size, f) : 0;
	return fclose(f) != 0 || n != size ? -1 : 0;
}

static void
same_file(const char *p, const uint8_t *data, size_t size)
{
	FILE *f = fopen(p, "rb");
	if (!f)
		fail("cannot read back a saved checkpoint");
	for (size_t i = 0; i < size; i++)
		if (getc(f) != data[i])
			fail("a loaded checkpoint saves to other bytes");
	if (getc(f) != EOF)
		fail("a loaded checkpoint saves to a longer file");
	fclose(f);
}

/* Whether data is a file of format version 1 (P_save writes 2). */
static int
version1(const uint8_t *data, size_t size)
{
	return size >= 12 && data[8] == 1 && !data[9] && !data[10] &&
	       !data[11];
}

/* Load the file at path into both models; check the contract. */
static void
load_both(const uint8_t *data, size_t size)
{
	ckf_params pf, pf0, pf1;
	ckd_params pd, pd0, pd1;
	memset(&pf0, 0xa5, sizeof pf0);
	memset(&pd0, 0x5a, sizeof pd0);
	pf = pf0;
	pd = pd0;
	int rf = ckf_load(&pf, path);
	ckf_params pfm = pf0;
	if (ckf_load_mem(&pfm, data, size) != rf ||
	    memcmp(&pfm, &pf, sizeof pf) != 0)
		fail("ckf_load_mem and ckf_load differ");
	if (rf != 0) {
		if (memcmp(&pf, &pf0, sizeof pf) != 0)
			fail("a failed ckf_load changed the parameters");
	} else {
		if (ckf_save(&pf, back) != 0)
			fail("ckf_save failed");
		if (!version1(data, size))
			same_file(back, data, size);
		else if (ckf_load(&pf1, back) != 0 ||
			 memcmp(&pf, &pf1, sizeof pf) != 0)
			fail("a loaded version 1 file saves to other values");
	}
	int rd = ckd_load(&pd, path);
	ckd_params pdm = pd0;
	if (ckd_load_mem(&pdm, data, size) != rd ||
	    memcmp(&pdm, &pd, sizeof pd) != 0)
		fail("ckd_load_mem and ckd_load differ");
	if (rd != 0) {
		if (memcmp(&pd, &pd0, sizeof pd) != 0)
			fail("a failed ckd_load changed the parameters");
	} else {
		if (ckd_save(&pd, back) != 0)
			fail("ckd_save failed");
		if (!version1(data, size))
			same_file(back, data, size);
		else if (ckd_load(&pd1, back) != 0 ||
			 memcmp(&pd, &pd1, sizeof pd) != 0)
			fail("a loaded version 1 file saves to other values");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!path[0]) {
		const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm"
								 : "/tmp";
		snprintf(path, sizeof path, "%s/fuzz_ckpt.%ld", dir,
			 (long)getpid());
		snprintf(back, sizeof back, "%s.back", path);
	}
	if (write_file(path, data, size) == 0)
		load_both(data, size);
	if (size >= 8) {
		uint8_t *fixed = malloc(size);
		if (!fixed)
			return 0;
		memcpy(fixed, data, size);
		uint64_t h = UINT64_C(0xcbf29ce484222325);
		for (size_t i = 0; i < size - 8; i++) {
			h ^= fixed[i];
			h *= UINT64_C(0x100000001b3);
		}
		for (int b = 0; b < 8; b++)
			fixed[size - 8 + b] = (uint8_t)(h >> (8 * b));
		if (write_file(path, fixed, size) == 0)
			load_both(fixed, size);
		free(fixed);
	}
	unlink(path);
	unlink(back);
	return 0;
}
