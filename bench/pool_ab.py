#!/usr/bin/env python3
"""Two builds' speed-up on a pool, side by side, in the same minutes.

    bench/pool_ab.py BUILD_A BUILD_B [--rounds R] [MODEL[=STEPS] ...]

For each model (mlp, cnn, resnet; default all three, with 2000, 600 and
300 steps) and each of R rounds (default 12), runs
BUILD/bench/pool_bench --steps MODEL STEPS on one thread and then on a
pool of two, for build A and build B in turn (A first in even rounds, B
first in odd ones), and times each process (wall time, the setup
included).  A build's speed-up in a round is its one-thread time over its
two-thread time.  It prints, per model, each build's median speed-up with
its range, the median over the rounds of A's speed-up over B's in the
same round, and the median of A's two-thread time over B's.

The host's speed moves from minute to minute (docs/performance.md), so
two builds compared in separate pool_bench runs differ by more than most
changes do; here both run within seconds of each other in every round,
and the ratios are paired.  A benchmark: it prints figures and checks
nothing.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

STEPS = {"mlp": 2000, "cnn": 600, "resnet": 300}


def timed(build, model, steps, threads):
    exe = os.path.join(build, "bench", "pool_bench")
    start = time.perf_counter()
    subprocess.run([exe, "--steps", model, str(steps), str(threads)],
                   check=True)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_a")
    ap.add_argument("build_b")
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("models", nargs="*")
    a = ap.parse_args()
    for build in (a.build_a, a.build_b):
        if not os.access(os.path.join(build, "bench", "pool_bench"), os.X_OK):
            sys.exit("pool_ab.py: %s/bench/pool_bench is missing "
                     "(ninja -C %s bench/pool_bench)" % (build, build))
    models = []
    for m in a.models or list(STEPS):
        name, _, steps = m.partition("=")
        if name not in STEPS:
            sys.exit("pool_ab.py: unknown model '%s' (mlp, cnn, resnet)"
                     % name)
        models.append((name, int(steps) if steps else STEPS[name]))
    print("A: %s\nB: %s\n%d rounds; speed-up = one thread / two threads, "
          "wall time of pool_bench --steps" % (a.build_a, a.build_b,
                                                a.rounds))
    print("%-8s %22s %22s %9s %13s" % ("model", "A x2 (min-max)",
                                       "B x2 (min-max)", "A/B x2",
                                       "A/B 2-thr s"))
    for model, steps in models:
        x2 = {0: [], 1: []}
        two = {0: [], 1: []}
        for r in range(a.rounds):
            for b in ((0, 1) if r % 2 == 0 else (1, 0)):
                build = (a.build_a, a.build_b)[b]
                one = timed(build, model, steps, 1)
                t2 = timed(build, model, steps, 2)
                x2[b].append(one / t2)
                two[b].append(t2)
        med = statistics.median
        print("%-8s %8.3f (%4.2f-%4.2f) %8.3f (%4.2f-%4.2f) %9.3f %13.3f" % (
            model, med(x2[0]), min(x2[0]), max(x2[0]), med(x2[1]),
            min(x2[1]), max(x2[1]),
            med([p / q for p, q in zip(x2[0], x2[1])]),
            med([p / q for p, q in zip(two[0], two[1])])))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
