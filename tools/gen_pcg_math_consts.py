#!/usr/bin/env python3
"""Prints the constants of runtime/pcg_math.c (ln 2, pi/2 and 2/pi in parts,
1/n!, 2/(2j+1), the series coefficients of erf), computed with mpmath at
2000 bits and rounded to nearest double; the output is pasted into
pcg_math.c between "constants" and the helpers."""
from mpmath import mp, mpf, pi, log, erf, exp, sqrt, floor, factorial
from fractions import Fraction
mp.prec = 2000
def h(v): return float(v).hex()
def trunc_bits(v, bits):
    # v > 0: keep the leading `bits` bits
    e = int(floor(mp.log(v, 2)))
    s = mpf(2) ** (bits - 1 - e)
    return floor(v * s) / s
out = []
ln2 = log(2)
L1 = trunc_bits(ln2, 42); L2 = ln2 - L1
out.append("#define LN2_HI %s\n#define LN2_LO %s\n#define INV_LN2 %s" % (h(L1), h(L2), h(1/ln2)))
p2 = pi/2
P1 = trunc_bits(p2, 33); P2 = trunc_bits(p2 - P1, 33); P3 = p2 - P1 - P2
out.append("#define PIO2_A %s\n#define PIO2_B %s\n#define PIO2_C %s" % (h(P1), h(P2), h(P3)))
q1 = mpf(float(p2)); out.append("#define PIO2_HI %s\n#define PIO2_LO %s\n#define TWO_OVER_PI %s" % (h(q1), h(p2 - q1), h(2/pi)))
t = mpf(2)/3; t1 = mpf(float(t)); out.append("#define TWO_THIRDS_HI %s\n#define TWO_THIRDS_LO %s" % (h(t1), h(t - t1)))
# 2/pi as 32-bit words
v = 2/pi; words = []
for i in range(44):
    v *= 2**32; w = int(floor(v)); words.append(w); v -= w
out.append("static const uint32_t two_over_pi_words[%d] = {\n%s};" % (len(words), ",\n".join("\t0x%08xu" % w for w in words)))
# reciprocal factorials 1/n!
out.append("static const double inv_fact[26] = {\n%s};" % ",\n".join("\t%s" % h(Fraction(1, int(factorial(n)))) for n in range(26)))
# log series 2/(2j+1), j = 2..10
out.append("static const double atanh_coef[9] = {\n%s};" % ",\n".join("\t%s" % h(Fraction(2, 2*j+1)) for j in range(2, 11)))
# erf near 0: b0 = c - 1, b_n = c (-1)^n / (n! (2n+1))
c = 2/sqrt(pi)
bs = [c - 1] + [c * (-1)**n / (factorial(n) * (2*n+1)) for n in range(1, 18)]
out.append("#define ERF_NEAR0_TERMS %d\nstatic const double erf_near0[%d] = {\n%s};" % (len(bs), len(bs), ",\n".join("\t%s" % h(b) for b in bs)))
# erf Taylor around centers 1.0, 1.5, ..., 6.0
rows = []; maxn = 0
cents = [1 + mpf(i)/2 for i in range(11)]
allc = []
for cc in cents:
    a = [erf(cc)]
    H = [mpf(1), 2*cc]
    for n in range(60): H.append(2*cc*H[-1] - 2*(len(H)-1)*H[-2])
    for n in range(0, 59):
        a.append(c * (-1)**n * H[n] * exp(-cc*cc) / factorial(n+1))
    # trim
    N = len(a)
    while N > 2 and abs(a[N-1]) * mpf(0.25)**(N-1) < mpf(2)**-64 * a[0]: N -= 1
    a = a[:N]; maxn = max(maxn, N); allc.append(a)
ERN = maxn + 1
lines = []
for a in allc:
    hi = mpf(float(a[0])); lo = a[0] - hi
    coefs = [hi, lo] + a[1:] + [0] * (ERN - len(a) - 1 + 0)
    coefs = coefs[:ERN + 1]
    while len(coefs) < ERN + 1: coefs.append(0)
    lines.append("\t{" + ", ".join(h(x) for x in coefs) + "}")
out.append("#define ERF_CENTERS 11\n#define ERF_TERMS %d /* erf(c) high, low, then the Taylor coefficients of order 1 .. */\nstatic const double erf_taylor[ERF_CENTERS][ERF_TERMS] = {\n%s};" % (ERN + 1, ",\n".join(lines)))
print("\n".join(out))
