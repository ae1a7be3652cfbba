#!/usr/bin/env python3
# %% [markdown]
# # Training examples/digits.pcg from Python
#
# The two-layer perceptron of `examples/digits.pcg` trained by Z-IL on the
# UCI digits the C trainer uses (`examples/data/digits.csv.gz`, every
# fifth row held out for testing, pixels scaled to 0..1), from Python
# through the `pcg` package.  Run from the source tree with the build's
# package on the path:
#
#     PYTHONPATH=build/python python3 examples/python/train_digits.py
#
# or with the package installed.  With matplotlib the loss curve goes to
# `digits_loss.png` (or the file given as the first argument); without
# it, the numbers are printed only.

# %%
import gzip
import os
import sys

import numpy as np

import pcg

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EPOCHS, BATCH, LR, SEED = 20, 32, 0.1, 1

# %% [markdown]
# ## The data: as examples/trainer reads it

# %%
with gzip.open(os.path.join(ROOT, "examples", "data", "digits.csv.gz"),
               "rt") as f:
    rows = np.loadtxt(f, delimiter=",", dtype=np.int64)
test_rows = np.arange(len(rows)) % 5 == 4
x_all = (rows[:, :64] / 16.0).astype(np.float32)
y_all = np.eye(10, dtype=np.float32)[rows[:, 64]]
x_train, y_train = x_all[~test_rows], y_all[~test_rows]
x_test, labels_test = x_all[test_rows], rows[test_rows, 64]
print("train %d, test %d samples" % (len(x_train), len(x_test)))

# %% [markdown]
# ## The model: compiled once, then served from the cache

# %%
m = pcg.compile(os.path.join(ROOT, "examples", "digits.pcg"),
                batch=BATCH, real="float")
m.init(seed=SEED)
print(m)
print({k: v.shape for k, v in m.params.items()})


def accuracy():
    right = 0
    for at in range(0, len(x_test), BATCH):
        out = m.predict(x=x_test[at:at + BATCH])["o"]
        right += int((out.argmax(1) == labels_test[at:at + BATCH]).sum())
    return right / len(x_test)


# %% [markdown]
# ## Training: Z-IL, plain SGD; the last batch of an epoch is short

# %%
rng = np.random.default_rng(SEED)
curve, accs = [], []
for epoch in range(1, EPOCHS + 1):
    order = rng.permutation(len(x_train))
    total = 0.0
    for at in range(0, len(order), BATCH):
        idx = order[at:at + BATCH]
        total += m.train_zil(x=x_train[idx], y=y_train[idx], lr=LR) \
            * len(idx)
    curve.append(total / len(order))
    accs.append(accuracy())
    print("epoch %2d  loss %.4f  test accuracy %.3f"
          % (epoch, curve[-1], accs[-1]))

# %% [markdown]
# ## The loss curve, and the weights saved as a pcc checkpoint

# %%
m.save("digits_py.ckpt")
print("saved digits_py.ckpt:", list(pcg.read_checkpoint("digits_py.ckpt")))
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed: no plot")
else:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(1, EPOCHS + 1), curve, marker="o", label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean cross-entropy")
    ax2 = ax.twinx()
    ax2.plot(range(1, EPOCHS + 1), accs, color="tab:green",
             label="test accuracy")
    ax2.set_ylabel("test accuracy")
    ax.set_title("digits.pcg trained by Z-IL from Python")
    fig.legend(loc="center right", bbox_to_anchor=(0.85, 0.5))
    fig.tight_layout()
    out = sys.argv[1] if len(sys.argv) > 1 else "digits_loss.png"
    fig.savefig(out, dpi=100)
    print("wrote", out)
