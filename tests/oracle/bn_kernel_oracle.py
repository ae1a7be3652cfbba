#!/usr/bin/env python3
"""The runtime's batch-normalisation and dropout kernels against PyTorch.

  bn_kernel_oracle.py DUMP_EXE

DUMP_EXE (tests/oracle/bn_kernels_dump.c) writes, exactly, the inputs and
outputs of pcg_bn_train_d, pcg_bn_update_d, pcg_bn_vjp_d, pcg_bn_eval_d and
pcg_bn_eval_vjp_d for [n][C][S] = [4][3][5] and [3][2][1], draws of
pcg_rng_at and dropout masks.  This script checks:

  - pcg_rng_at is the algorithm pcg_runtime.h states (reimplemented here;
    the same with stream and counter swapped must not match), and each
    mask is 0 where the draw is < p and 1 / (1 - p) elsewhere;
  - with torch (float64): y, the batch statistics, the running statistics
    of F.batch_norm(training=True, momentum=0.1, eps=1e-5) and the
    gradient of sum(dy * y) by autograd, and the same in evaluation mode,
    within 1e-12 of the largest element; a negative control updates the
    running variance with the biased variance and requires the check to
    fail;
  - with torch: the kept value of F.dropout in float32 and float64 is the
    mask's, and x * mask in torch gives the kernel's output bit for bit.

Prints TAP; the torch checks skip where torch is missing.
"""
import subprocess
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None

TOL = 1e-12
MASK64 = (1 << 64) - 1

tests = []


def check(cond, what):
    tests.append(("ok" if cond else "not ok", what))


def skip(what):
    tests.append(("ok", what + " # SKIP python3-torch is not installed"))


def read_dump(exe):
    out = subprocess.run([exe], check=True, capture_output=True,
                         text=True).stdout.split("\n")
    cases, rngs, drops = [], [], []
    cur = None
    i = 0
    while i < len(out):
        words = out[i].split()
        i += 1
        if not words or words[0] == "end":
            continue
        if words[0] == "case":
            cur = {"shape": tuple(int(w) for w in words[1:4])}
            cases.append(cur)
        elif words[0] == "rng":
            cur = {"key": int(words[1]), "stream": int(words[2])}
            rngs.append(cur)
        elif words[0] == "dropout":
            cur = {"p": float.fromhex(words[1]), "key": int(words[2]),
                   "stream": int(words[3])}
            drops.append(cur)
        else:
            n = int(words[1])
            cur[words[0]] = [float.fromhex(v) for v in out[i:i + n]]
            i += n
    return cases, rngs, drops


def sm(z):
    """splitmix64's output from state z, as pcg_runtime.h states it."""
    z = (z + 0x9e3779b97f4a7c15) & MASK64
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & MASK64
    return z ^ (z >> 31)


def rng_at(key, stream, i):
    return (sm(sm(sm(key) ^ stream) ^ i) >> 11) * 2.0 ** -53


def rel_err(got, want):
    """max |got - want| over max |want| (or 1)."""
    got = torch.as_tensor(got, dtype=torch.float64).flatten()
    want = want.detach().flatten()
    big = want.abs().max().item()
    return (got - want).abs().max().item() / (big if big > 0 else 1)


def bn_checks(c):
    n, C, S = c["shape"]
    name = "[%d][%d][%d]" % (n, C, S)
    shape = (n, C, S) if S > 1 else (n, C)
    x = torch.tensor(c["x"], dtype=torch.float64).reshape(shape)
    dy = torch.tensor(c["dy"], dtype=torch.float64).reshape(shape)
    rm = torch.tensor(c["rmean0"], dtype=torch.float64)
    rv = torch.tensor(c["rvar0"], dtype=torch.float64)
    rv0 = rv.clone()

    xg = x.clone().requires_grad_(True)
    y = F.batch_norm(xg, rm, rv, training=True, momentum=0.1, eps=1e-5)
    (dy * y).sum().backward()
    dims = [0] + list(range(2, x.dim()))
    var, mean = torch.var_mean(x, dims, unbiased=False)

    for key, want, what in (("y", y, "y"),
                            ("mean", mean, "the batch means"),
                            ("var", var, "the biased batch variances"),
                            ("rmean", rm, "the running means"),
                            ("rvar", rv, "the running variances"),
                            ("dx", xg.grad, "dx = autograd of sum(dy y)")):
        e = rel_err(c[key], want)
        check(e <= TOL, "pcg_bn %s %s within %g of torch (error %.3g)"
              % (name, what, TOL, e))

    # negative control: the biased variance in the running variance
    wrong = 0.1 * torch.tensor(c["var"], dtype=torch.float64) + 0.9 * rv0
    e = rel_err(wrong, rv)
    check(e > TOL, "pcg_bn %s: the check rejects a running variance "
          "updated with the biased variance (error %.3g)" % (name, e))

    xe = x.clone().requires_grad_(True)
    ye = F.batch_norm(xe, rm, rv, training=False, eps=1e-5)
    (dy * ye).sum().backward()
    for key, want, what in (("y_eval", ye, "evaluation y"),
                            ("dx_eval", xe.grad, "evaluation dx")):
        e = rel_err(c[key], want)
        check(e <= TOL, "pcg_bn %s %s within %g of torch (error %.3g)"
              % (name, what, TOL, e))


def rng_checks(rngs, drops):
    for r in rngs:
        want = [rng_at(r["key"], r["stream"], i) for i in range(len(r["u"]))]
        check(r["u"] == want, "pcg_rng_at(%d, %d, i) is the documented "
              "algorithm" % (r["key"], r["stream"]))
    # negative control: stream and counter swapped is another stream
    r = rngs[-1]
    swapped = [rng_at(r["key"], i, r["stream"]) for i in range(len(r["u"]))]
    check(r["u"] != swapped, "the rng check rejects the stream and the "
          "counter swapped")
    for d in drops:
        p = d["p"]
        u = [rng_at(d["key"], d["stream"], i) for i in range(len(d["mask_d"]))]
        k = 1 / (1 - p)
        check(all(m == (k if ui >= p else 0.0)
                  for m, ui in zip(d["mask_d"], u)),
              "double dropout mask at p = %g: 0 where the draw is < p, "
              "else 1 / (1 - p)" % p)
        check(all((m == 0.0) == (ui < p) for m, ui in zip(d["mask_f"], u)),
              "float dropout mask at p = %g drops where the draw is < p" % p)


def dropout_checks(d):
    p = d["p"]
    for sfx, dt in (("d", torch.float64), ("f", torch.float32)):
        torch.manual_seed(0)
        kept = F.dropout(torch.ones(1000, dtype=dt), p, training=True)
        tk = kept[kept != 0].unique().tolist()
        mask = torch.tensor(d["mask_" + sfx], dtype=dt)
        mk = mask[mask != 0].unique().tolist()
        check(len(tk) == 1 and mk == tk,
              "dropout p = %g %s: the mask keeps torch's value %r (got %r)"
              % (p, dt, tk, mk))
        x = torch.tensor(d["x_" + sfx], dtype=dt)
        y = torch.tensor(d["y_" + sfx], dtype=dt)
        check(torch.equal(x * mask, y),
              "dropout p = %g %s: x * mask in torch is pcg_mul_mask's "
              "output, bit for bit" % (p, dt))


def main():
    cases, rngs, drops = read_dump(sys.argv[1])
    rng_checks(rngs, drops)
    if torch is None:
        for c in cases:
            skip("pcg_bn %s against torch" % (c["shape"],))
        for d in drops:
            skip("dropout p = %g against torch" % d["p"])
    else:
        torch.set_default_dtype(torch.float64)
        for c in cases:
            bn_checks(c)
        for d in drops:
            dropout_checks(d)
    print("1..%d" % len(tests))
    for i, (status, what) in enumerate(tests, 1):
        print("%s %d - %s" % (status, i, what))
    return 0 if all(s == "ok" for s, _ in tests) else 1


if __name__ == "__main__":
    sys.exit(main())
