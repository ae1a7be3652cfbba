/*
 * model_record.h — what the tests that drive a generated model through
 * its P_model descriptor alone share (tests/pool, tests/unroll): the
 * model being run, a record of everything a run produces as bytes, a
 * zeroed allocation with the model's alignment and the deterministic
 * data.  A header of static functions, included once by each program.
 */
#ifndef MODEL_RECORD_H
#define MODEL_RECORD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcg_runtime.h"

static const pcg_model *m; /* the model being run */

/* Everything one run produces, appended as bytes. */
typedef struct {
	unsigned char *bytes;
	size_t len, cap;
} Record;

static void
keep(Record *r, const void *p, size_t n)
{
	if (r->len + n > r->cap) {
		r->cap = 2 * (r->len + n);
		r->bytes = realloc(r->bytes, r->cap);
		if (!r->bytes) {
			fprintf(stderr, "out of memory\n");
			exit(1);
		}
	}
	memcpy(r->bytes + r->len, p, n);
	r->len += n;
}

/* n bytes (at least one alignment unit), zeroed, aligned for m. */
static void *
zalloc(size_t n)
{
	size_t a = m->align, size = (n + a - 1) / a * a;
	void *p = aligned_alloc(a, size ? size : a);
	if (!p) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	memset(p, 0, size ? size : a);
	return p;
}

/* deterministic data: inputs in [-1, 1), targets in [0, 1), ids below
 * their bound */
static void
fill(char *s, const pcg_param_info *info, int n, uint64_t *x, int target)
{
	for (int k = 0; k < n; k++)
		for (size_t i = 0; i < (size_t)m->batch * info[k].count; i++) {
			*x = *x * 6364136223846793005u + 1442695040888963407u;
			double u = (double)(*x >> 11) / 9007199254740992.0;
			char *at = s + info[k].byte_offset;
			if (info[k].bound > 0)
				((int32_t *)at)[i] =
					(int32_t)(u * info[k].bound);
			else if (m->real_size == 4)
				((float *)at)[i] = (float)(target ? u
								  : 2 * u - 1);
			else
				((double *)at)[i] = target ? u : 2 * u - 1;
		}
}

#endif
