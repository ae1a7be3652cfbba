#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
/*
 * pcg_math.c — the runtime's own elementary functions, written for pcc
 * for reproducible mode: only IEEE-754 +, -, *, / and sqrt on double,
 * floor, and integer operations on the bits, so every result is fixed by
 * IEEE-754 and is the same on every conforming target.  No long double,
 * no libm elementary function.
 *
 * The algorithms and code are pcc's own, built from textbook methods
 * (the constants below are printed by tools/gen_pcg_math_consts.py with
 * exact or 2000-bit arithmetic: ln 2, pi/2 and 2/pi in parts, 1/n!,
 * 2/(2j+1), the Taylor coefficients of erf):
 *   exp    k = round(x / ln 2), r = x - k ln2_hi - k ln2_lo (Cody-Waite,
 *          ln2_hi has trailing zero bits so k ln2_hi is exact), Taylor
 *          series of degree 13 on |r| <= ln2 / 2, scaling by 2^k through
 *          the exponent bits (two steps near overflow and into subnormals).
 *   log    x = 2^k m, m in [sqrt(1/2), sqrt(2)), s = (m - 1) / (m + 1) in
 *          double-double, log m = 2 atanh s = 2 s + 2 s^3 / 3 + ... with the
 *          first two terms in double-double, plus k ln 2 in two parts; the
 *          result is a double-double (used by pow and log1p).
 *   log1p  u + e = 1 + x exactly (two-sum), log1p x = log u + e / u.
 *   tanh   |x| <= 1: e = expm1(2|x|) by its Taylor series, e / (e + 2)
 *          in double-double; above: 1 - 2 / (exp(2|x|) + 1); +-1 beyond 22.
 *   erf    |x| < 0.75: x + x W(x^2) from the Maclaurin series of erf;
 *          0.75 <= |x| < 6.25: Taylor series of degree <= 20 around the
 *          nearest of the centres 1, 1.5, ..., 6 (erf(c) in two parts; the
 *          coefficients from the Hermite recurrence); +-1 beyond.
 *   sin, cos  reduction by pi/2: Cody-Waite with pi/2 in three parts for
 *          |x| < 2^19, above it an exact multi-word product of the
 *          significand with the bits of 2/pi (Payne-Hanek style), giving
 *          the reduced argument as a double-double; Taylor kernels on
 *          [-pi/4, pi/4] (degree 17 / 18).
 *   pow    C99 Annex F special cases; integer |y| <= 64 by binary powering
 *          in double-double; otherwise exp(y log x) with log x and the
 *          product y log x in double-double.
 *   float  the double function on the float argument, rounded once.
 * Double-double steps use Knuth's two-sum, Dekker's exact product with
 * Veltkamp's split (no FMA).  Accuracy: within 1 ulp of the exact value
 * on the samples checked against 160-bit mpmath (docs/performance.md);
 * tests/repro/test_math.c checks against glibc.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "pcg_bits.h"
#include "pcg_runtime.h"

/* ---- constants ---- */

#define LN2_HI 0x1.62e42fefa3800p-1
#define LN2_LO 0x1.ef35793c76730p-45
#define INV_LN2 0x1.71547652b82fep+0
#define PIO2_A 0x1.921fb54400000p+0
#define PIO2_B 0x1.0b4611a600000p-34
#define PIO2_C 0x1.3198a2e037073p-69
#define PIO2_HI 0x1.921fb54442d18p+0
#define PIO2_LO 0x1.1a62633145c07p-54
#define TWO_OVER_PI 0x1.45f306dc9c883p-1
#define TWO_THIRDS_HI 0x1.5555555555555p-1
#define TWO_THIRDS_LO 0x1.5555555555555p-55
static const uint32_t two_over_pi_words[44] = {
	0xa2f9836eu,
	0x4e441529u,
	0xfc2757d1u,
	0xf534ddc0u,
	0xdb629599u,
	0x3c439041u,
	0xfe5163abu,
	0xdebbc561u,
	0xb7246e3au,
	0x424dd2e0u,
	0x06492eeau,
	0x09d1921cu,
	0xfe1deb1cu,
	0xb129a73eu,
	0xe88235f5u,
	0x2ebb4484u,
	0xe99c7026u,
	0xb45f7e41u,
	0x3991d639u,
	0x835339f4u,
	0x9c845f8bu,
	0xbdf9283bu,
	0x1ff897ffu,
	0xde05980fu,
	0xef2f118bu,
	0x5a0a6d1fu,
	0x6d367ecfu,
	0x27cb09b7u,
	0x4f463f66u,
	0x9e5fea2du,
	0x7527bac7u,
	0xebe5f17bu,
	0x3d0739f7u,
	0x8a5292eau,
	0x6bfb5fb1u,
	0x1f8d5d08u,
	0x56033046u,
	0xfc7b6babu,
	0xf0cfbc20u,
	0x9af4361du,
	0xa9e39161u,
	0x5ee61b08u,
	0x6599855fu,
	0x14a06840u};
static const double inv_fact[26] = {
	0x1.0000000000000p+0,
	0x1.0000000000000p+0,
	0x1.0000000000000p-1,
	0x1.5555555555555p-3,
	0x1.5555555555555p-5,
	0x1.1111111111111p-7,
	0x1.6c16c16c16c17p-10,
	0x1.a01a01a01a01ap-13,
	0x1.a01a01a01a01ap-16,
	0x1.71de3a556c734p-19,
	0x1.27e4fb7789f5cp-22,
	0x1.ae64567f544e4p-26,
	0x1.1eed8eff8d898p-29,
	0x1.6124613a86d09p-33,
	0x1.93974a8c07c9dp-37,
	0x1.ae7f3e733b81fp-41,
	0x1.ae7f3e733b81fp-45,
	0x1.952c77030ad4ap-49,
	0x1.6827863b97d97p-53,
	0x1.2f49b46814157p-57,
	0x1.e542ba4020225p-62,
	0x1.71b8ef6dcf572p-66,
	0x1.0ce396db7f853p-70,
	0x1.761b41316381ap-75,
	0x1.f2cf01972f578p-80,
	0x1.3f3ccdd165fa9p-84};
static const double atanh_coef[9] = {
	0x1.999999999999ap-2,
	0x1.2492492492492p-2,
	0x1.c71c71c71c71cp-3,
	0x1.745d1745d1746p-3,
	0x1.3b13b13b13b14p-3,
	0x1.1111111111111p-3,
	0x1.e1e1e1e1e1e1ep-4,
	0x1.af286bca1af28p-4,
	0x1.8618618618618p-4};
#define ERF_NEAR0_TERMS 18
static const double erf_near0[18] = {
	0x1.06eba8214db69p-3,
	-0x1.812746b0379e7p-2,
	0x1.ce2f21a042be2p-4,
	-0x1.b82ce31288b51p-6,
	0x1.565bcd0e6a53fp-8,
	-0x1.c02db40040b86p-11,
	0x1.f9a326f9b89b7p-14,
	-0x1.f4d25c3e0c2ebp-17,
	0x1.b9e6c9dc651a3p-20,
	-0x1.5f742ec43e71ap-23,
	0x1.fcc5720624c1cp-27,
	-0x1.51d7181c5d36dp-30,
	0x1.9e6ad5e55a730p-34,
	-0x1.d8453cb0c46eap-38,
	0x1.f683ae4a97007p-42,
	-0x1.f56f071a885cfp-46,
	0x1.d70b3537f4765p-50,
	-0x1.a2007af3447f6p-54};
#define ERF_CENTERS 11
#define ERF_TERMS 22 /* erf(c) high, low, then the Taylor coefficients of order 1 .. */
static const double erf_taylor[ERF_CENTERS][ERF_TERMS] = {
	{0x1.af767a741088bp-1, -0x1.c97f778122797p-56, 0x1.a911f096fbc26p-2, -0x1.a911f096fbc26p-2, 0x1.1b614b0f52819p-3, 0x1.1b614b0f52819p-4, -0x1.1b614b0f52819p-4, 0x1.2e45a565ad570p-8, 0x1.f096fd702f0efp-7, -0x1.391146bb981a2p-8, -0x1.ee30d995fae39p-10, 0x1.4176c4374eb1ep-10, 0x1.66b6afbde3cc2p-14, -0x1.a38bca0efc115p-13, 0x1.3a035a7960672p-16, 0x1.8dbd3052dd336p-16, -0x1.6fa38387ffecfp-18, -0x1.17503b2712bd4p-19, 0x1.c7d4267b540c0p-21, 0x1.08c1e370a1521p-23, -0x1.a244d23aeb8b2p-24, 0x0.0p+0},
	{0x1.eea5557137ae0p-1, -0x1.385e445f2c96dp-55, 0x1.e723726b824a9p-4, -0x1.6d5a95d0a1b7fp-3, 0x1.1c2a02beb6ab8p-3, -0x1.6d5a95d0a1b7fp-5, -0x1.e723726b824a9p-7, 0x1.3ca3d72c47e3bp-6, -0x1.36d73a61dbabfp-8, -0x1.35ae4e395fa0cp-9, 0x1.c0380c3978d47p-10, -0x1.85b5f522cea21p-14, -0x1.0acef87389254p-12, 0x1.45db0652058b6p-14, 0x1.2d3d58b8fbd36p-16, -0x1.d8dcc76abaeadp-17, 0x1.3fad4f62b4b13p-21, 0x1.9b5e588bf60cbp-20, -0x1.68e51003dd11fp-22, -0x1.bfb4d6727bc30p-24, 0x1.ac688c5721c22p-25, 0x0.0p+0},
	{0x1.fd9ae142795e3p-1, 0x1.972801904b9a3p-56, 0x1.529b9e8cf9a1ep-6, -0x1.529b9e8cf9a1ep-5, 0x1.8b0ae3a478923p-5, -0x1.1a2c59757ab19p-5, 0x1.ace7404c2b226p-7, 0x1.e1935ea65d580p-12, -0x1.bae0ab9d91458p-9, 0x1.a11434425e8e8p-10, -0x1.a46c56b1bf347p-15, -0x1.13917bd98236ap-12, 0x1.b3399158e1fdap-14, 0x1.5efa63f686f78p-18, -0x1.1082811096fe0p-16, 0x1.09282c4c7901bp-18, 0x1.00feae4932917p-20, -0x1.77fa2b27b4e3ep-21, 0x1.fc672c47d867ap-25, 0x1.020dc680f96e9p-24, -0x1.3e64fad1b9b51p-26, 0x0.0p+0},
	{0x1.ffcaa8f4c9beap-1, 0x1.b0cee160116f9p-55, 0x1.1d83170fbf6fbp-9, -0x1.64e3dcd3af4bap-8, 0x1.119da0c46ccb1p-7, -0x1.1a89b97ceac69p-7, 0x1.90e81283faacep-8, -0x1.6ecdbf67c97f8p-9, 0x1.1c610bcb9f2f4p-11, 0x1.11551df364bafp-12, -0x1.067178c82ec16p-12, 0x1.4a84485ac08c0p-14, 0x1.58bd113f5a0acp-18, -0x1.d87265f65a35ap-17, 0x1.3acdbedf3bf9dp-18, 0x1.857cc63e5cc55p-23, -0x1.584349ead6a3ep-21, 0x1.80e36bab128b3p-23, 0x1.356cf87d24464p-26, -0x1.97f31e43731b3p-26, 0x0.0p+0, 0x0.0p+0},
	{0x1.fffd1ac4135f9p-1, 0x1.eeafa1ecd6cefp-55, 0x1.2408e9ba3327fp-13, -0x1.b60d5e974cbbep-12, 0x1.9db74b1d1dcdep-11, -0x1.11c85b1e8ff57p-10, 0x1.0a7b5546b5147p-10, -0x1.82f235b05094ep-11, 0x1.998b47c657967p-12, -0x1.1aa5e236f52b3p-13, 0x1.d2a33c9487ebdp-17, 0x1.05ff38163998dp-16, -0x1.6a2c7a4c7a4fap-17, 0x1.96c6821168fd5p-19, 0x1.08f85acf3b805p-23, -0x1.e5e7b05db7fdfp-22, 0x1.63eb0f4262611p-23, -0x1.4176b80e4a09cp-27, -0x1.01510b19ef62fp-26, 0x1.9a52b11d33e56p-28, 0x0.0p+0, 0x0.0p+0},
	{0x1.ffffe710d565ep-1, 0x1.c9ea52d76dc04p-55, 0x1.6a597219a93dap-18, -0x1.3d0e43d67415ep-16, 0x1.62ccea63cb0c5p-15, -0x1.1c07721ac7fe5p-14, 0x1.586bafc9b9889p-14, -0x1.46153fb989863p-14, 0x1.e827fafaa2516p-15, -0x1.1f6304de1316ep-15, 0x1.013525f7fb03fp-16, -0x1.377413bec5d3bp-18, 0x1.dd7f3b681270fp-22, 0x1.dc7faa4de456ap-22, -0x1.43ea60cc4f9a7p-22, 0x1.8c7db95907d1cp-24, -0x1.89d268eba17d8p-28, -0x1.1be8ea4e7bf8ep-27, 0x1.153e8c87cc9cbp-28, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0},
	{0x1.ffffff7b91176p-1, 0x1.0b2865615db40p-56, 0x1.10b1488aeb235p-23, -0x1.10b1488aeb235p-21, 0x1.603a5308c50dap-20, -0x1.4980e25286cabp-19, 0x1.da5f10dc53b57p-19, -0x1.10505376d0801p-18, 0x1.fd7c656d671e1p-19, -0x1.88c7af5f0dc2ap-19, 0x1.f42465a91b073p-20, -0x1.0475684ebb659p-20, 0x1.ae54ff8450a05p-22, -0x1.021190700479cp-23, 0x1.2b7c6c451e776p-26, 0x1.94740d2f7339fp-28, -0x1.6c067c0ac6727p-28, 0x1.0da723a1d63a4p-29, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0},
	{0x1.fffffffe4fa30p-1, 0x1.d166bcb681c7bp-57, 0x1.f1e3523b41d7dp-30, -0x1.180fde4155096p-27, 0x1.99b8665618d99p-26, -0x1.b598cb4614debp-25, 0x1.6b1baf456a84ep-24, -0x1.e650e3452e100p-24, 0x1.0d678f85bb98fp-23, -0x1.f5f31b5e1314cp-24, 0x1.8d2e638d9f75bp-24, -0x1.0c3a43aa7835ep-24, 0x1.34ee6a127de73p-25, -0x1.2cd5b428c9554p-26, 0x1.e48b0513e1226p-28, -0x1.319ea81e5b210p-29, 0x1.fb1e3c9b17225p-32, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0},
	{0x1.fffffffffc9e8p-1, -0x1.a759f7738935fp-56, 0x1.13af4f04f9998p-36, -0x1.589b22c637ffep-34, 0x1.196da0aa69776p-32, -0x1.516d3cb76c2a8p-31, 0x1.3c51d0aaa4419p-30, -0x1.e23586e1d0236p-30, 0x1.32c72906e2a3cp-29, -0x1.4bcea4d4fbdb3p-29, 0x1.3505fd6432e1ep-29, -0x1.f41226936ced5p-30, 0x1.617998494db7cp-30, -0x1.b5969cc99e94fp-31, 0x1.d9d11175dbd2ep-32, -0x1.be10acec703b8p-33, 0x1.6819f8bc9dce8p-34, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0},
	{0x1.fffffffffffbep-1, -0x1.182b326b228dcp-55, 0x1.7258610b3b233p-44, -0x1.fd39856f71506p-42, 0x1.cb12e2f5ebf8fp-40, -0x1.31011e96bfdedp-38, 0x1.3e4a1f8967022p-37, -0x1.0f6e89cd80910p-36, 0x1.84a4e0fbb7accp-36, -0x1.dc38bc64eeb79p-36, 0x1.fa7a9e1187297p-36, -0x1.d8771a9aefedbp-36, 0x1.85963d3fa1f4ep-36, -0x1.1d8920b8301b7p-36, 0x1.7554a960d4f69p-37, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0},
	{0x1.0000000000000p+0, -0x1.8cf81557d20b6p-56, 0x1.2dc119095729fp-52, -0x1.c4a1a58e02beep-50, 0x1.be584a5dd0ee0p-48, -0x1.45542efe11f93p-46, 0x1.75a81c0090eefp-45, -0x1.5ff7d49a4b77ep-44, 0x1.177209e5be27dp-43, -0x1.7d75137ef0936p-43, 0x1.c645ed673f594p-43, -0x1.dd502a7c15df2p-43, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0, 0x0.0p+0}};

/* ---- bits and exact double-double helpers ---- */


/* 2^k for -1022 <= k <= 1023 */
static double
pow2i(int k)
{
	return pcg_dbl_from_bits((uint64_t)(k + 1023) << 52);
}

/* s + e = a + b exactly (any magnitudes) */
static void
two_sum(double a, double b, double *s, double *e)
{
	double t = a + b;
	double bb = t - a;
	*e = (a - (t - bb)) + (b - bb);
	*s = t;
}

/* s + e = a + b exactly, |a| >= |b| or a == 0 */
static void
quick_sum(double a, double b, double *s, double *e)
{
	double t = a + b;
	*e = b - (t - a);
	*s = t;
}

/* Veltkamp's split: a = hi + lo, each with at most 26 significant bits */
static void
split(double a, double *hi, double *lo)
{
	double c = 134217729.0 * a; /* 2^27 + 1 */
	double h = c - (c - a);
	*hi = h;
	*lo = a - h;
}

/* p + e = a * b exactly (Dekker), for |a|, |b| < 2^995 */
static void
two_prod(double a, double b, double *p, double *e)
{
	double ah, al, bh, bl;
	double t = a * b;
	split(a, &ah, &al);
	split(b, &bh, &bl);
	*e = ((ah * bh - t) + ah * bl + al * bh) + al * bl;
	*p = t;
}

/* (rh, rl) = (ah, al) * (bh, bl) to about 2^-104 */
static void
dd_mul(double ah, double al, double bh, double bl, double *rh, double *rl)
{
	double p, e;
	two_prod(ah, bh, &p, &e);
	e += ah * bl + al * bh;
	quick_sum(p, e, rh, rl);
}

static double
round_half_up(double v)
{
	return floor(v + 0.5);
}

/* ---- exp ---- */

/* exp(xh + xl), |xl| <= ulp(xh), for -745.2 <= xh <= 709.8 */
static double
exp_core(double xh, double xl)
{
	double k = round_half_up(xh * INV_LN2);
	double hi = xh - k * LN2_HI;	/* exact */
	double lo = k * LN2_LO - xl;
	double r = hi - lo;
	double p = inv_fact[13];
	for (int n = 12; n >= 2; n--)
		p = inv_fact[n] + r * p;
	double t = r * r * p;
	double y = 1.0 + (hi - (lo - t));
	int ki = (int)k;
	if (ki > 1023)
		return y * pow2i(1023) * pow2i(ki - 1023);
	if (ki < -1021)
		return y * pow2i(ki + 600) * pow2i(-600);
	return y * pow2i(ki);
}

double
pcg_exp(double x)
{
	if (x != x)
		return x + x;
	if (x > 709.79)
		return INFINITY;
	if (x < -745.2)
		return 0.0;
	if (fabs(x) < 0x1p-54)
		return 1.0 + x;
	return exp_core(x, 0.0);
}

/* ---- log ---- */

/* log x = *lo + return value (double-double), x > 0 finite */
static double
log_core(double x, double *lo)
{
	int k = 0;
	uint64_t u = pcg_dbl_bits(x);
	if ((u >> 52) == 0) { /* subnormal */
		x *= 0x1p54;
		u = pcg_dbl_bits(x);
		k = -54;
	}
	k += (int)(u >> 52) - 1023;
	double m = pcg_dbl_from_bits((u & 0x000fffffffffffffu) | 0x3ff0000000000000u);
	if (m > 1.4142135623730951) {
		m *= 0.5;
		k++;
	}
	double f = m - 1.0; /* exact */
	double dh, dl;
	two_sum(m, 1.0, &dh, &dl);
	double sh = f / dh;
	double p, pe;
	two_prod(sh, dh, &p, &pe);
	double sl = (((f - p) - pe) - sh * dl) / dh;
	/* the terms from s^5 on, in double */
	double z = sh * sh;
	double q = atanh_coef[8];
	for (int j = 7; j >= 0; j--)
		q = atanh_coef[j] + z * q;
	double t5 = sh * z * (z * q);
	/* 2 s^3 / 3 in double-double */
	double zh, zl, ch, cl, th, tl;
	two_prod(sh, sh, &zh, &zl);
	zl += 2.0 * sh * sl;
	two_prod(sh, zh, &ch, &cl);
	cl += sh * zl + sl * zh;
	two_prod(ch, TWO_THIRDS_HI, &th, &tl);
	tl += ch * TWO_THIRDS_LO + cl * TWO_THIRDS_HI;
	double a, b;
	two_sum(2.0 * sh, th, &a, &b);
	b += 2.0 * sl + (tl + t5);
	double kd = (double)k, hh, e;
	two_sum(kd * LN2_HI, a, &hh, &e);
	e += b + kd * LN2_LO;
	double rh, rl;
	quick_sum(hh, e, &rh, &rl);
	*lo = rl;
	return rh;
}

double
pcg_log(double x)
{
	if (x != x)
		return x + x;
	if (x < 0)
		return NAN;
	if (x == 0)
		return -INFINITY;
	if (x == INFINITY)
		return x;
	double lo;
	return log_core(x, &lo);
}

double
pcg_log1p(double x)
{
	if (x != x)
		return x + x;
	if (x < -1.0)
		return NAN;
	if (x == -1.0)
		return -INFINITY;
	if (x == INFINITY)
		return x;
	double u, e;
	two_sum(1.0, x, &u, &e);
	if (u == 1.0)
		return x;
	double lo;
	double hi = log_core(u, &lo);
	return hi + (lo + e / u);
}

/* ---- tanh ---- */

/* expm1(y) = *hi + *lo for 0 <= y <= 2, Taylor series of degree 25 */
static void
expm1_small(double y, double *hi, double *lo)
{
	double p = inv_fact[25];
	for (int n = 24; n >= 2; n--)
		p = inv_fact[n] + y * p;
	quick_sum(y, y * y * p, hi, lo);
}

double
pcg_tanh(double x)
{
	if (x != x)
		return x + x;
	double a = fabs(x), t;
	if (a < 0x1p-27)
		return x;
	if (a >= 22.0) {
		t = 1.0;
	} else if (a <= 1.0) {
		/* e / (e + 2) with e = expm1(2a), the division in double-double */
		double eh, el, dh, dl, p, pe;
		expm1_small(2.0 * a, &eh, &el);
		two_sum(eh, 2.0, &dh, &dl);
		dl += el;
		double q = eh / dh;
		two_prod(q, dh, &p, &pe);
		t = q + ((((eh - p) - pe) + el) - q * dl) / dh;
	} else {
		t = 1.0 - 2.0 / (exp_core(2.0 * a, 0.0) + 1.0);
	}
	return x < 0 ? -t : t;
}

/* ---- erf ---- */

double
pcg_erf(double x)
{
	if (x != x)
		return x + x;
	double a = fabs(x), r;
	if (a < 0.75) {
		double z = x * x;
		double w = erf_near0[ERF_NEAR0_TERMS - 1];
		for (int n = ERF_NEAR0_TERMS - 2; n >= 0; n--)
			w = erf_near0[n] + z * w;
		return x + x * w;
	}
	if (a >= 6.25) {
		r = 1.0;
	} else {
		int i = (int)floor((a - 0.75) * 2.0);
		if (i > ERF_CENTERS - 1)
			i = ERF_CENTERS - 1;
		const double *c = erf_taylor[i];
		double h = a - (1.0 + 0.5 * i); /* exact */
		double p = c[ERF_TERMS - 1];
		for (int n = ERF_TERMS - 2; n >= 2; n--)
			p = c[n] + h * p;
		r = c[0] + (c[1] + h * p);
	}
	return x < 0 ? -r : r;
}

/* ---- sin, cos ---- */

/* bits [p, p + 32) of the big number w[0..n-1] (w[0] most significant) */
static uint32_t
word_at(const uint64_t *w, int n, int p)
{
	int u = p / 32, off = p % 32;
	uint64_t lo = u < n ? w[n - 1 - u] : 0;
	uint64_t hi = u + 1 < n ? w[n - 2 - u] : 0;
	if (off == 0)
		return (uint32_t)lo;
	return (uint32_t)((lo >> off) | (hi << (32 - off)));
}

#define RED_WORDS 8

/* |x| >= 2^19 finite: x = q pi/2 + (*rh + *rl), |r| <= pi/4; returns q mod 4 */
static int
reduce_big(double x, double *rh, double *rl)
{
	uint64_t u = pcg_dbl_bits(x);
	int e = (int)((u >> 52) & 0x7ff) - 1075;
	uint64_t m = (u & 0x000fffffffffffffu) | 0x0010000000000000u;
	uint64_t mh = m >> 32, ml = m & 0xffffffffu;
	int j0 = e >= 2 ? (e - 2) / 32 : 0;
	int s = e - 32 * (j0 + 1);
	/* acc[t] has weight 2^(32 (2 - t)) * 2^s */
	enum { N = RED_WORDS + 2 };
	uint64_t acc[N] = {0};
	for (int i = 0; i < RED_WORDS; i++) {
		uint64_t w = two_over_pi_words[j0 + i];
		uint64_t a = mh * w, b = ml * w;
		acc[i] += a >> 32;
		acc[i + 1] += (a & 0xffffffffu) + (b >> 32);
		acc[i + 2] += b & 0xffffffffu;
	}
	for (int t = N - 1; t > 0; t--) {
		acc[t - 1] += acc[t] >> 32;
		acc[t] &= 0xffffffffu;
	}
	acc[0] &= 0xffffffffu;
	/* the binary point: bit P of the number (bit 0 the last of acc[N-1]) */
	int P = 32 * (N - 3) - s;
	int q = (int)(word_at(acc, N, P) & 3);
	uint32_t f[4];
	for (int i = 0; i < 4; i++)
		f[i] = word_at(acc, N, P - 32 * (i + 1));
	double sign = 1.0;
	if (f[0] & 0x80000000u) { /* fraction >= 1/2: take 1 - fraction */
		q = (q + 1) & 3;
		sign = -1.0;
		uint64_t c = 1;
		for (int i = 3; i >= 0; i--) {
			uint64_t v = (uint64_t)(uint32_t)~f[i] + c;
			f[i] = (uint32_t)v;
			c = v >> 32;
		}
	}
	double h, l, e2;
	two_sum((double)f[2] * 0x1p-96, (double)f[3] * 0x1p-128, &h, &l);
	two_sum((double)f[1] * 0x1p-64, h, &h, &e2);
	l += e2;
	two_sum((double)f[0] * 0x1p-32, h, &h, &e2);
	l += e2;
	quick_sum(h, l, &h, &l);
	double ph, pl;
	dd_mul(h, l, PIO2_HI, PIO2_LO, &ph, &pl);
	*rh = sign * ph;
	*rl = sign * pl;
	return q;
}

/* |x| finite: x = q pi/2 + (*rh + *rl); returns q mod 4 */
static int
reduce(double x, double *rh, double *rl)
{
	double a = fabs(x);
	int q;
	if (a <= 0.7853981633974483) {
		*rh = a;
		*rl = 0;
		q = 0;
	} else if (a < 0x1p19) {
		double k = round_half_up(a * TWO_OVER_PI);
		double b = a - k * PIO2_A;	/* exact */
		double s, e;
		two_sum(b, -(k * PIO2_B), &s, &e);
		quick_sum(s, e - k * PIO2_C, rh, rl);
		q = (int)((int64_t)k & 3);
	} else {
		q = reduce_big(a, rh, rl);
	}
	if (x < 0) {
		*rh = -*rh;
		*rl = -*rl;
		q = (4 - q) & 3;
	}
	return q;
}

/* sin(rh + rl), |rh| <= pi/4 + tiny */
static double
sin_kernel(double rh, double rl)
{
	double z = rh * rh;
	double p = inv_fact[17];
	for (int n = 15; n >= 3; n -= 2)
		p = ((n & 2) ? -inv_fact[n] : inv_fact[n]) + z * p;
	return rh + (rh * z * p + rl * (1.0 - 0.5 * z));
}

/* cos(rh + rl) */
static double
cos_kernel(double rh, double rl)
{
	double z = rh * rh;
	double p = -inv_fact[18];
	for (int n = 16; n >= 4; n -= 2)
		p = ((n & 2) ? -inv_fact[n] : inv_fact[n]) + z * p;
	double zh, zl;
	two_prod(rh, rh, &zh, &zl); /* r^2 exactly: 1 - r^2/2 cancels */
	double hz = 0.5 * zh;
	double w = 1.0 - hz;
	return w + ((((1.0 - w) - hz) - 0.5 * zl) + (z * z * p - rh * rl));
}

double
pcg_sin(double x)
{
	if (x != x || x == INFINITY || x == -INFINITY)
		return x - x;
	if (fabs(x) < 0x1p-26)
		return x;
	double rh, rl;
	switch (reduce(x, &rh, &rl)) {
	case 0: return sin_kernel(rh, rl);
	case 1: return cos_kernel(rh, rl);
	case 2: return -sin_kernel(rh, rl);
	default: return -cos_kernel(rh, rl);
	}
}

double
pcg_cos(double x)
{
	if (x != x || x == INFINITY || x == -INFINITY)
		return x - x;
	if (fabs(x) < 0x1p-27)
		return 1.0;
	double rh, rl;
	switch (reduce(x, &rh, &rl)) {
	case 0: return cos_kernel(rh, rl);
	case 1: return -sin_kernel(rh, rl);
	case 2: return -cos_kernel(rh, rl);
	default: return sin_kernel(rh, rl);
	}
}

/* ---- pow ---- */

/* 0: not an integer, 1: odd integer, 2: even integer */
static int
int_kind(double y)
{
	if (floor(y) != y)
		return 0;
	if (fabs(y) >= 0x1p53)
		return 2;
	return floor(y * 0.5) * 2.0 == y ? 2 : 1;
}

double
pcg_pow(double x, double y)
{
	if (y == 0)
		return 1.0;
	if (x == 1.0)
		return 1.0;
	if (x != x || y != y)
		return x + y;
	int yk = int_kind(y);
	double ax = fabs(x);
	if (y == INFINITY || y == -INFINITY) {
		if (ax == 1.0)
			return 1.0;
		return (ax > 1.0) == (y > 0) ? INFINITY : 0.0;
	}
	if (x == 0) {
		double neg = (yk == 1 && pcg_dbl_bits(x) >> 63) ? -1.0 : 1.0;
		return y < 0 ? neg * INFINITY : neg * 0.0;
	}
	if (ax == INFINITY) {
		double neg = (yk == 1 && x < 0) ? -1.0 : 1.0;
		return y < 0 ? neg * 0.0 : neg * INFINITY;
	}
	double sign = 1.0;
	if (x < 0) {
		if (yk == 0)
			return NAN;
		if (yk == 1)
			sign = -1.0;
	}
	if (y == 0.5)
		return sqrt(x);
	if (y == 1.0)
		return x;
	if (y == -1.0)
		return 1.0 / x;
	if (y == 2.0)
		return x * x;
	int ex = (int)((pcg_dbl_bits(ax) >> 52) & 0x7ff) - 1023;
	if (yk != 0 && fabs(y) <= 64 && ex > -900 && (ex < 0 ? -ex : ex) * 64 < 900) {
		/* binary powering in double-double: exact powers stay exact */
		int n = (int)fabs(y);
		double rh = 1.0, rl = 0.0, bh = ax, bl = 0.0;
		while (n) {
			if (n & 1)
				dd_mul(rh, rl, bh, bl, &rh, &rl);
			n >>= 1;
			if (n)
				dd_mul(bh, bl, bh, bl, &bh, &bl);
		}
		if (y < 0) {
			double qh = 1.0 / rh, p, pe;
			two_prod(qh, rh, &p, &pe);
			double d = ((1.0 - p) - pe) - qh * rl;
			return sign * (qh + qh * d);
		}
		return sign * (rh + rl);
	}
	double ll;
	double lh = log_core(ax, &ll);
	double ph = y * lh;
	if (ph > 709.8)
		return sign * INFINITY;
	if (ph < -745.2)
		return sign * 0.0;
	double pe;
	two_prod(y, lh, &ph, &pe);
	pe += y * ll;
	double zh, zl;
	quick_sum(ph, pe, &zh, &zl);
	if (zh > 709.79)
		return sign * INFINITY;
	if (zh < -745.2)
		return sign * 0.0;
	return sign * exp_core(zh, zl);
}

/* ---- float versions: the double function, rounded once ---- */

float pcg_expf(float x) { return (float)pcg_exp((double)x); }
float pcg_logf(float x) { return (float)pcg_log((double)x); }
float pcg_log1pf(float x) { return (float)pcg_log1p((double)x); }
float pcg_tanhf(float x) { return (float)pcg_tanh((double)x); }
float pcg_erff(float x) { return (float)pcg_erf((double)x); }
float pcg_sinf(float x) { return (float)pcg_sin((double)x); }
float pcg_cosf(float x) { return (float)pcg_cos((double)x); }
float pcg_powf(float x, float y) { return (float)pcg_pow((double)x, (double)y); }
