/*
 * dropout_drive.c — pcg_dropout_mask_f for many probabilities (ties of
 * 1 - p, tiny p, p near 1), printing a hash of the masks' bits per p and
 * over a spread of p.  check_float.py builds it with and without
 * PCG_NO_DOUBLE: the output must be the same.  The last line hashes the
 * masks a float p would give (k = 1 / (1 - (float)p), the comparison in
 * float): the control, which must differ from the "spread" line.
 */
#include <stdio.h>
#include <string.h>
#include "pcg_runtime.h"
int main(void){
	static const double ps[] = {0, 0.1, 0.2, 0.25, 0.3, 1.0/3, 0.5, 0.9, 0.99, 0.999999, 1e-3, 1e-10, 1e-17, 0x1p-54, 0x1.0000000000001p-54, 0x1p-53, 0x1.8p-54, 4.9e-324, 0.75, 0.1234567890123, 0x1.fffffffffffffp-1, 0x1.ffffffp-2, 0x1.000001p-1, 0.0999999940395355224609375};
	static float m[4096];
	for (unsigned j = 0; j < sizeof ps/sizeof ps[0]; j++) {
		pcg_dropout_mask_f(7, j, 4096, ps[j], m);
		unsigned long long h = 1469598103934665603ull;
		for (int i = 0; i < 4096; i++) { unsigned u; memcpy(&u, &m[i], 4); h = (h ^ u) * 1099511628211ull; }
		printf("%a %016llx\n", ps[j], h);
	}
	/* p spread over [0, 1): keep values for many p */
	unsigned long long h = 1469598103934665603ull;
	for (int j = 0; j < 200000; j++) {
		double p = (double)((unsigned long long)j * 0x9e3779b97f4a7c15ull >> 11) * 0x1p-53;
		pcg_dropout_mask_f(1, j, 1, p, m);
		pcg_dropout_mask_f(3, 3, 1, p / 1e6, m + 1);
		unsigned u[2]; memcpy(u, m, 8); h = (h ^ u[0]) * 1099511628211ull; h = (h ^ u[1]) * 1099511628211ull;
	}
	printf("spread %016llx\n", h);
	h = 1469598103934665603ull;
	for (int j = 0; j < 200000; j++) {
		double p = (double)((unsigned long long)j * 0x9e3779b97f4a7c15ull >> 11) * 0x1p-53;
		float pf = (float)p, k = 1 / (1 - pf);
		float v[2] = {(float)pcg_rng_at(1, j, 0) >= pf ? k : 0,
			      (float)pcg_rng_at(3, 3, 0) >= (float)(p / 1e6)
				      ? 1 / (1 - (float)(p / 1e6)) : 0};
		unsigned u[2]; memcpy(u, v, 8); h = (h ^ u[0]) * 1099511628211ull; h = (h ^ u[1]) * 1099511628211ull;
	}
	printf("naive %016llx\n", h);
	return 0;
}
