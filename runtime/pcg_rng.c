/*
 * pcg_rng.c — the runtime's random numbers: xoshiro256** (Blackman and
 * Vigna) seeded through splitmix64, uniform doubles with 53 random bits and
 * standard normals by Box-Muller, and the same in float (24 random bits,
 * float arithmetic only, for float models on targets without double
 * hardware).  The whole state is the pcg_rng the
 * caller passes; nothing is cached between calls.  pcg_rng_at, for dropout
 * masks, is counter-based instead: splitmix64's mixing applied to a key, a
 * stream and a counter, with no state at all.
 */
#include <math.h>

#include "pcg_runtime.h"

#define GOLDEN UINT64_C(0x9e3779b97f4a7c15)

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* One step of splitmix64: advance *x and return the mixed value. */
static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += GOLDEN);

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

void
pcg_rng_seed(pcg_rng *r, uint64_t seed)
{
	uint64_t x = seed;

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
	/* The all-zero state is a fixed point; splitmix64 practically never
	 * gives it, but keep the generator out of it regardless. */
	if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
		r->s[0] = GOLDEN;
}

uint64_t
pcg_rng_next(pcg_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double
pcg_rng_uniform(pcg_rng *r)
{
	return (double)(pcg_rng_next(r) >> 11) * 0x1.0p-53;
}

double
pcg_rng_normal(pcg_rng *r)
{
	/* u1 in (0, 1] so that the logarithm is finite. */
	double u1 = 1.0 - pcg_rng_uniform(r);
	double u2 = pcg_rng_uniform(r);
	const double two_pi = 6.283185307179586476925286766559;

	return sqrt(-2.0 * PCG_LOG(u1)) * PCG_COS(two_pi * u2);
}

float
pcg_rng_uniform_f(pcg_rng *r)
{
	return (float)(uint32_t)(pcg_rng_next(r) >> 40) * 0x1.0p-24f;
}

float
pcg_rng_normal_f(pcg_rng *r)
{
	/* u1 in (0, 1] (exact: 24 bits) so that the logarithm is finite. */
	float u1 = 1.0f - pcg_rng_uniform_f(r);
	float u2 = pcg_rng_uniform_f(r);
	const float two_pi = 6.283185307179586476925286766559f;

	return sqrtf(-2.0f * PCG_LOGF(u1)) * PCG_COSF(two_pi * u2);
}

/* splitmix64's output from state x (x itself is not advanced). */
static uint64_t
splitmix64_at(uint64_t x)
{
	return splitmix64(&x);
}

uint64_t
pcg_rng_at_bits(uint64_t key, uint64_t stream, uint64_t i)
{
	uint64_t h = splitmix64_at(key);

	h = splitmix64_at(h ^ stream);
	h = splitmix64_at(h ^ i);

	return h >> 11;
}

double
pcg_rng_at(uint64_t key, uint64_t stream, uint64_t i)
{
	return (double)pcg_rng_at_bits(key, stream, i) * 0x1.0p-53;
}
