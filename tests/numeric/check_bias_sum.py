#!/usr/bin/env python3
"""A bias's gradient: the generated sum over samples and positions.

  check_bias_sum.py PCC SRCDIR LIBPCG_RUNTIME CC [LINK FLAGS...]

For output maps of 5 x 5, 8 x 8 and 3 x 3 positions (a tail after
blocks of 16, blocks only, fewer than 16), PCC compiles the model
y = conv2d(x, K) + c (c one bias per channel) in float and in double,
and a driver includes the generated C and calls the bias's VJP kernel
(k_add_..._db) directly, on dy of three samples' random values.  Checks:

  - the sum to rounding: every element within 2 n eps sum |terms| of a
    long double sum of its terms (a wrong term or a lost one fails it);
  - the same bits whatever the cut: the 16 channels in one block and in
    blocks of one and of three (the pool's tasks; docs/api.md);
  - the order the docs give (docs/api.md): on 16 positions or
    more, for each sample in order, partial sums by position mod 16,
    added pairwise halving, added into the element; on fewer, the terms
    one at a time.  The controls, the samples taken in reverse order and
    (on 16 positions or more) 8 partial sums, must differ in some
    element of one of the ten draws of dy;
  - zeros: terms that are all -0 leave an element's bits as they are
    (-0 stays -0, +0 stays +0), as adding them one at a time does;
    without accumulating, the element is a sum from +0 (never -0).

Prints TAP.
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
from tap import done, ok  # noqa: E402

PCC, SRC, LIB, CC = sys.argv[1:5]
LINK = sys.argv[5:]

MODEL = """model bs {
    input  x[2, %d, %d];
    target t[16, %d, %d];
    param K[16, 2, 3, 3];
    param c[16, 1, 1];
    y = conv2d(x, K) + c;
    loss mse(y, t);
}
"""

DRIVER = r"""
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NB 3
#define C 16
#define S %(S)d
#define LANES 16
#define DRAWS 10

typedef %(R)s real;

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

static double
value(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng >> 11) / 9007199254740992.0 * 2 - 1;
}

/* The documented order: per sample, in order (or reversed: the
 * control), lanes by position mod 16, halved pairwise, into the
 * element; under 16 positions the terms one at a time. */
static void
documented(const real *dy, real *db, int reverse, int lanes)
{
	for (int c = 0; c < C; c++)
		db[c] = 0;
	for (int bi = 0; bi < NB; bi++) {
		int b = reverse ? NB - 1 - bi : bi;
		for (int c = 0; c < C; c++) {
			const real *p = dy + ((size_t)b * C + c) * S;
			if (S < lanes) {
				real s = db[c];
				for (int i = 0; i < S; i++)
					s += p[i];
				db[c] = s;
				continue;
			}
			real lane[LANES];
			for (int j = 0; j < lanes; j++)
				lane[j] = -(real)0;
			for (int i = 0; i < S; i++)
				lane[i %% lanes] += p[i];
			for (int h = lanes / 2; h > 1; h /= 2)
				for (int j = 0; j < h; j++)
					lane[j] += lane[j + h];
			db[c] += lane[0] + lane[1];
		}
	}
}

int
main(void)
{
	static real dy[NB * C * S];
	real got[C], cut[C], want[C];
	int t = 0, same = 1, order = 1, reversed = 0, halved = 0;
	double worst = 0;
	/* DRAWS draws of dy: every check holds in each, and each control
	 * differs in some draw (one draw's 16 sums can agree by chance) */
	for (int draw = 0; draw < DRAWS; draw++) {
		for (int i = 0; i < NB * C * S; i++) { /* 2^-2 .. 2^1 */
			double v = value();
			dy[i] = (real)ldexp(v, (int)(rng >> 62) - 2);
		}
		%(K)s(NB, 0, C, 0, got, dy, NULL, NULL, NULL);
		for (int c = 0; c < C; c++) {
			long double s = 0, mag = 0;
			for (int b = 0; b < NB; b++)
				for (int i = 0; i < S; i++) {
					real d = dy[((size_t)b * C + c) * S + i];
					s += d;
					mag += fabsl(d);
				}
			double e = (double)(fabsl(got[c] - s) / mag);
			if (e > worst)
				worst = e;
		}
		for (int step = 1; step <= 3; step += 2) {
			for (int lo = 0; lo < C; lo += step)
				%(K)s(NB, lo, lo + step < C ? lo + step : C, 0,
				      cut, dy, NULL, NULL, NULL);
			same = same && !memcmp(cut, got, sizeof got);
		}
		documented(dy, want, 0, LANES);
		order = order && !memcmp(want, got, sizeof got);
		documented(dy, want, 1, LANES);
		reversed = reversed || memcmp(want, got, sizeof got);
		documented(dy, want, 0, LANES / 2);
		halved = halved || memcmp(want, got, sizeof got);
	}
	printf("%%s %%d - sum to rounding # max error %%g of sum |terms|\n",
	       worst <= 2.0 * NB * S * %(EPS)s ? "ok" : "not ok", ++t, worst);
	printf("%%s %%d - the same bits cut in blocks of 1 and 3\n",
	       same ? "ok" : "not ok", ++t);
	printf("%%s %%d - the documented order's bits\n",
	       order ? "ok" : "not ok", ++t);
	printf("%%s %%d - control: the samples reversed differ\n",
	       reversed ? "ok" : "not ok", ++t);
	if (S >= LANES)
		printf("%%s %%d - control: 8 lanes differ\n",
		       halved ? "ok" : "not ok", ++t);
	for (int i = 0; i < NB * C * S; i++)
		dy[i] = -(real)0;
	for (int sign = 0; sign < 2; sign++) {
		for (int c = 0; c < C; c++)
			got[c] = sign ? -(real)0 : (real)0;
		%(K)s(NB, 0, C, 1, got, dy, NULL, NULL, NULL);
		int kept = 1;
		for (int c = 0; c < C; c++)
			kept = kept && got[c] == 0 && !signbit(got[c]) == !sign;
		printf("%%s %%d - -0 terms keep %%s0\n", kept ? "ok" : "not ok",
		       ++t, sign ? "-" : "+");
	}
	%(K)s(NB, 0, C, 0, got, dy, NULL, NULL, NULL);
	int plus = 1;
	for (int c = 0; c < C; c++)
		plus = plus && got[c] == 0 && !signbit(got[c]);
	printf("%%s %%d - -0 terms without acc: +0\n", plus ? "ok" : "not ok",
	       ++t);
	return 0;
}
"""


def main():
    side = {25: 7, 64: 10, 9: 5}
    with tempfile.TemporaryDirectory() as work:
        for S, h in side.items():
            o = h - 2
            pcg = os.path.join(work, "bs%d.pcg" % S)
            with open(pcg, "w") as f:
                f.write(MODEL % (h, h, o, o))
            for real, eps in (("float", "0x1p-24"), ("double", "0x1p-53")):
                gen = os.path.join(work, "bs%d_%s.c" % (S, real))
                r = subprocess.run([PCC, pcg, "-o", gen, "--real", real,
                                    "--batch", "3"], capture_output=True,
                                   text=True)
                what = "%d positions, %s" % (S, real)
                if not ok(r.returncode == 0, what + ": pcc", r.stderr):
                    continue
                with open(gen) as f:
                    kernels = set(re.findall(r"\b(k_add_\w+_db)\(", f.read()))
                if not ok(len(kernels) == 1, what + ": one bias kernel",
                          " ".join(sorted(kernels))):
                    continue
                drv = os.path.join(work, "drv%d_%s.c" % (S, real))
                with open(drv, "w") as f:
                    f.write('#include "%s"\n' % gen)
                    f.write(DRIVER % {"S": S, "R": real, "EPS": eps,
                                      "K": kernels.pop()})
                exe = os.path.join(work, "drv%d_%s" % (S, real))
                r = subprocess.run([CC, "-std=c11", "-O2", "-I",
                                    os.path.join(SRC, "runtime"), drv, LIB,
                                    "-o", exe, *LINK, "-lm", "-lpthread"],
                                   capture_output=True,
                                   text=True)
                if not ok(r.returncode == 0, what + ": driver compiles",
                          r.stderr[-2000:]):
                    continue
                out = subprocess.run([exe], capture_output=True, text=True,
                                     check=True).stdout
                for line in out.strip().split("\n"):
                    m = re.match(r"(ok|not ok) \d+ - (.*?)(?: # (.*))?$",
                                 line)
                    ok(m is not None and m.group(1) == "ok",
                       "%s: %s" % (what, m.group(2) if m else line),
                       m.group(3) if m and m.group(3) else "")
    done()


if __name__ == "__main__":
    main()
