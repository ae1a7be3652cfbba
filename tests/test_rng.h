/*
 * test_rng.h — the small deterministic generator of the C tests
 * (xorshift64): test_urand(&state) advances state and returns a double
 * in [-1, 1), a multiple of 2^-52.  Each test keeps its own state and
 * seed, so its data do not depend on the others.
 */
#ifndef TEST_RNG_H
#define TEST_RNG_H

#include <stdint.h>

static inline double
test_urand(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return (double)(*state >> 11) / 4503599627370496.0 - 1;
}

#endif
