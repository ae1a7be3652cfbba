#!/usr/bin/env python3
"""pc_methods.py -- BP, Z-IL, standard PC, Fa-Z-IL and incremental PC
trained by the trainer (examples/trainer) from the same initial parameters
on the same batches, each method in a run of its own (so each has its own
learning rate and step count), and their test accuracy against the epoch
and against the training time, as Markdown tables.

    bench/pc_methods.py BUILD [--quick] [--fashion-size N] [--epochs-fashion E]

BUILD is a configured build folder with examples/trainer built.  The
digits run always happens; the Fashion-MNIST one when Debian's
dataset-fashion-mnist is installed (else it says so).  A benchmark: it
prints figures and checks nothing.  The times are the trainer's (the wall
time of each epoch's training steps, evaluation excluded), one thread:
run it on a quiet machine.
"""
import csv
import os
import subprocess
import sys
import tempfile

FASHION = "/usr/share/datasets/fashion-mnist"

# (label, method, lr, pc-steps): a method may appear with several settings
DIGITS = [("BP", "bp", 0.1, 20), ("Z-IL", "zil", 0.1, 20),
          ("Fa-Z-IL", "fazil", 0.1, 20), ("PC, T = 20", "pc", 0.1, 20),
          ("iPC, T = 20", "ipc", 0.1, 20), ("iPC, T = 5", "ipc", 0.1, 5)]
FASHION_RUNS = [("BP", "bp", 0.1, 20), ("Z-IL", "zil", 0.1, 20),
                ("Fa-Z-IL", "fazil", 0.1, 20), ("PC, T = 20", "pc", 0.1, 20),
                ("iPC, T = 20", "ipc", 0.02, 20),
                ("iPC, T = 5", "ipc", 0.02, 5)]


def run(trainer, tmp, data, args, label, method, lr, steps):
    out = os.path.join(tmp, "%s-%s-%d-%g" % (data, method, steps, lr))
    cmd = [trainer, "--data", data, "--methods", method, "--lr", str(lr),
           "--pc-steps", str(steps), "--progress", "lines", "--plot",
           "none", "--out", out] + args
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("%s failed:\n%s" % (" ".join(cmd), r.stderr))
    with open(os.path.join(out, "curves.csv")) as f:
        rows = list(csv.DictReader(f))
    t, curve = 0.0, []
    for row in rows:
        t += float(row["seconds"])
        curve.append((int(row["epoch"]), float(row["test_accuracy"]), t,
                      float(row["train_loss"])))
    return label, lr, steps, curve


def table(title, results, show):
    print("\n%s\n" % title)
    epochs = [e for e, _, _, _ in results[0][3]]
    pick = [e for e in epochs if e in show or e == epochs[-1]]
    print("| method | lr | " + " | ".join("epoch %d: accuracy, time" % e
                                          for e in pick) + " |")
    print("|---|---|" + "---|" * len(pick))
    for label, lr, steps, curve in results:
        cells = ["%.2f %%, %.3g s" % (100 * a, t)
                 for e, a, t, _ in curve if e in pick]
        print("| %s | %g | %s |" % (label, lr, " | ".join(cells)))
    # the time each method needed to first reach a test accuracy
    best = min(max(a for _, a, _, _ in c) for _, _, _, c in results)
    goal = int(best * 100) / 100.0
    print("\nTraining time to a test accuracy of %.0f %% (the best the "
          "slowest-learning method reached), and the epoch:\n" % (100 * goal))
    print("| method | time | epoch |")
    print("|---|---|---|")
    for label, lr, steps, curve in results:
        hit = [(t, e) for e, a, t, _ in curve if a >= goal]
        print("| %s | %s | %s |" % (label, "%.3g s" % hit[0][0] if hit
                                    else "-", hit[0][1] if hit else "-"))


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    build, quick = args[0], "--quick" in args
    size, ef = (2000, 2) if quick else (60000, 5)
    for i, a in enumerate(args):
        if a == "--fashion-size":
            size = int(args[i + 1])
        if a == "--epochs-fashion":
            ef = int(args[i + 1])
    trainer = os.path.join(build, "examples", "trainer")
    if not os.access(trainer, os.X_OK):
        sys.exit("%s: not built (ninja -C %s examples/trainer)"
                 % (trainer, build))
    with tempfile.TemporaryDirectory() as tmp:
        de = 3 if quick else 10
        res = [run(trainer, tmp, "digits", ["--epochs", str(de)], *r)
               for r in DIGITS]
        table("Digits (the `digits` model, 64-32-10, batch 16, SGD, seed 1, "
              "%d epochs; gamma 0.1; time = cumulative training time)" % de,
              res, {1, 2, 5})
        if not os.path.isdir(FASHION):
            print("\nFashion-MNIST: not installed (apt-get install "
                  "dataset-fashion-mnist); skipped")
            return
        res = [run(trainer, tmp, "fashion",
                   ["--model", "mlp", "--epochs", str(ef), "--train-size",
                    str(size), "--test-size", "10000"], *r)
               for r in FASHION_RUNS]
        table("Fashion-MNIST (the `mlp` model, 784-256-256-10, batch 32, "
              "SGD, seed 1, the first %d training images, the 10000 test "
              "images; gamma 0.1; time = cumulative training time)" % size,
              res, {1, 2})


if __name__ == "__main__":
    main()
