/*
 * pcg_bits.h — a double's bits and back, for the runtime's own sources
 * (not installed).  memcpy is the defined way to read an object's
 * representation as another type; compilers turn it into one move.
 */
#ifndef PCG_BITS_H
#define PCG_BITS_H

#include <stdint.h>
#include <string.h>

static inline uint64_t
pcg_dbl_bits(double x)
{
	uint64_t u;

	memcpy(&u, &x, sizeof u);
	return u;
}

static inline double
pcg_dbl_from_bits(uint64_t u)
{
	double x;

	memcpy(&x, &u, sizeof x);
	return x;
}

#endif
