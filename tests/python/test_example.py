#!/usr/bin/env python3
"""examples/python/train_digits.py runs as documented (docs/python.md):
20 epochs of Z-IL on the digits from Python, the loss falling every
epoch after the first few, a test accuracy above 90% at the end (the C
trainer's runs reach about 95%), a checkpoint that read_checkpoint reads,
and the plot where matplotlib is installed."""
import os
import subprocess
import sys
import tempfile

from common import tap, np, pcg, need_numpy, SRC

need_numpy("examples/python/train_digits.py")


def main():
    script = os.path.join(SRC, "examples", "python", "train_digits.py")
    with tempfile.TemporaryDirectory() as tmp:
        png = os.path.join(tmp, "loss.png")
        r = subprocess.run([sys.executable, script, png], cwd=tmp,
                           capture_output=True, text=True)
        tap.ok(r.returncode == 0, "train_digits.py runs", r.stdout + r.stderr)
        rows = [line.split() for line in r.stdout.splitlines()
                if line.startswith("epoch")]
        loss = [float(w[3]) for w in rows]
        acc = [float(w[6]) for w in rows]
        tap.ok(len(loss) == 20 and loss[-1] < loss[0] / 5
               and all(b < a for a, b in zip(loss[3:], loss[4:])),
               "20 epochs, the loss falling (%s to %s)"
               % (loss[:1], loss[-1:]), r.stdout)
        tap.ok(acc and acc[-1] > 0.9, "test accuracy above 0.9 at the end "
               "(%s)" % acc[-1:])
        ck = pcg.read_checkpoint(os.path.join(tmp, "digits_py.ckpt"))
        tap.ok(ck.model == "digits" and list(ck) == ["W1", "b1", "W2", "b2"],
               "its checkpoint reads back")
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            tap.skip("the loss plot", "matplotlib is not installed")
        else:
            with open(png, "rb") as f:
                tap.ok(f.read(8) == b"\x89PNG\r\n\x1a\n", "the loss plot is "
                       "a PNG")
    return tap.done()


if __name__ == "__main__":
    raise SystemExit(main())
