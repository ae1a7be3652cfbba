#!/usr/bin/env python3
"""Incremental PC (P_train_ipc, P_step_ipc) against an independent
implementation in PyTorch, float64.

  torch_ipc.py CHECK_EXE MODEL

CHECK_EXE (tests/numeric/check_model.c built for MODEL, statement
granularity) writes the parameters and a batch (double, batch 4), then the
parameters after 20 steps of P_train_ipc (SGD) and of P_step_ipc with Adam
from them.  This script builds MODEL's PC network by hand: one value node
per statement (the levelled graph's identity vertices included, written
out from the .pcg file's skips), the energy

    F = sum over samples of ( sum_i 1/2 |x_i - mu_i|^2 + loss(mu_out, y) ),

and takes every derivative from autograd: each step moves the value nodes
by x <- x - gamma dF/dx and the parameters by the optimizer on
(1/B) dF/dtheta, both from the same F (the errors of step t).  The
parameters after 20 steps must match within 1e-10 of the largest change.
Negative controls: the parameters updated from the errors after the value
nodes' step (a sequential schedule), and a perturbation of 1e-8, must fail
the comparison.  Prints TAP; skips where torch is missing.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from tap import ok, skip, done  # noqa: E402

try:
    import torch
except ImportError:
    print("1..0 # SKIP python3-torch is not installed")
    sys.exit(0)

torch.set_default_dtype(torch.float64)
F_ = torch.nn.functional
TOL = 1e-10


def read(path):
    """The dump's sections this script uses."""
    params, after, adam, data = {}, {}, {}, {}
    lines = open(path).read().split("\n")
    i = 0
    while i < len(lines):
        w = lines[i].split()
        i += 1
        if not w:
            continue
        if w[0] == "param":
            rank = int(w[2])
            dims = [int(d) for d in w[3:3 + rank]]
            n = 1
            for d in dims:
                n *= d
            params[w[1]] = torch.tensor(
                [float(x) for x in lines[i:i + n]]).reshape(dims)
            i += n
        elif w[0] in ("iafter", "aafter"):
            n = params[w[1]].numel()
            t = torch.tensor([float(x) for x in lines[i:i + n]]
                             ).reshape(params[w[1]].shape)
            (after if w[0] == "iafter" else adam)[w[1]] = t
            i += n
        elif w[0] in ("in", "target"):
            n = int(w[1])
            data[w[0]] = torch.tensor([float(x) for x in lines[i:i + n]])
            i += n
        elif w[0] == "ipc":
            data["ipc"] = (int(w[1]), float(w[2]), float(w[3]))
        elif w[0] == "ipcadam":
            data["adam"] = (int(w[1]), float(w[2]), float(w[3]),
                            float(w[4]), float(w[5]), float(w[6]),
                            int(w[7]))
    return params, after, adam, data


def lin(W, x):
    return x @ W.T


def xent(o, y):
    return -(y * torch.log_softmax(o, dim=-1)).sum()


def mse(o, y):
    return 0.5 * ((o - y) ** 2).sum()


# Each network: (vertices, loss).  A vertex is (name, predict) where
# predict(x, p, d) gives mu from the value nodes x of earlier vertices,
# the parameters p and the data d; the last vertex is the output, which
# has no value node (its error is the loss's).  Identity vertices of the
# levelled graph are vertices of their own: name@k is the k-th of the
# chain above name (@0 reads name itself).

def mlp(B, d):
    xin = d["in"].reshape(B, 784)
    y = d["target"].reshape(B, 10)
    net = [
        ("h1", lambda x, p: torch.relu(lin(p["W1"], xin) + p["b1"])),
        ("h2", lambda x, p: torch.relu(lin(p["W2"], x["h1"]) + p["b2"])),
        ("o", lambda x, p: lin(p["W3"], x["h2"]) + p["b3"]),
    ]
    return net, lambda o: xent(o, y)


def cnn(B, d):
    xin = d["in"].reshape(B, 1, 28, 28)
    y = d["target"].reshape(B, 10)
    net = [
        ("a1", lambda x, p: F_.max_pool2d(
            torch.relu(F_.conv2d(xin, p["K1"]) + p["c1"]), 2)),
        ("a2", lambda x, p: F_.max_pool2d(
            torch.relu(F_.conv2d(x["a1"], p["K2"]) + p["c2"]), 2)),
        ("h", lambda x, p: torch.relu(
            lin(p["W1"], x["a2"].reshape(B, -1)) + p["b1"])),
        ("o", lambda x, p: lin(p["W2"], x["h"]) + p["b2"]),
    ]
    return net, lambda o: xent(o, y)


def skips(B, d):
    xin = d["in"].reshape(B, 6)
    y = d["target"].reshape(B, 6)
    # levels: o 0, h6 1, h5 2, h4 3, h3 4, h2 5, h1 6; a child at level l
    # reads its parent's chain at level l + 1
    net = [
        ("h1", lambda x, p: torch.tanh(lin(p["W1"], xin) + p["b"])),
        ("h1@0", lambda x, p: x["h1"]),          # level 5
        ("h1@1", lambda x, p: x["h1@0"]),        # level 4
        ("h1@2", lambda x, p: x["h1@1"]),        # level 3
        ("h1@3", lambda x, p: x["h1@2"]),        # level 2
        ("h2", lambda x, p: torch.tanh(lin(p["W2"], x["h1"]))),
        ("h2@0", lambda x, p: x["h2"]),          # level 4
        ("h2@1", lambda x, p: x["h2@0"]),        # level 3
        ("h3", lambda x, p: torch.tanh(lin(p["W3"], x["h2"]))),
        ("h4", lambda x, p: torch.tanh(lin(p["W4"], x["h3"]))
         + 0.5 * x["h1@1"]),
        ("h4@0", lambda x, p: x["h4"]),          # level 2
        ("h5", lambda x, p: torch.tanh(lin(p["W5"], x["h4"])) + x["h2@1"]),
        ("h6", lambda x, p: torch.tanh(lin(p["W6"], x["h5"]))
         + x["h4@0"] * x["h1@3"]),
        ("o", lambda x, p: lin(p["Wo"], x["h6"])),
    ]
    return net, lambda o: mse(o, y)


MODELS = {"mlp": mlp, "cnn": cnn, "skips": skips}


def forward(net, p):
    """The forward pass: the value nodes at their predictions (x = mu)."""
    x = {}
    for name, f in net[:-1]:
        x[name] = f(x, p).detach().clone()
    return x


def energy(net, loss, x, p):
    f = 0
    for name, g in net[:-1]:
        f = f + 0.5 * ((x[name] - g(x, p)) ** 2).sum()
    return f + loss(net[-1][1](x, p))


def grads(net, loss, x, p):
    xs = {k: v.clone().requires_grad_(True) for k, v in x.items()}
    ps = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    f = energy(net, loss, xs, ps)
    gx = torch.autograd.grad(f, list(xs.values()) + list(ps.values()))
    n = len(xs)
    return (dict(zip(xs.keys(), gx[:n])), dict(zip(ps.keys(), gx[n:])))


def ipc(net, loss, p0, B, steps, gamma, update, sequential=False):
    """`steps` incremental-PC steps; update(p, g) applies the parameter
    step.  sequential: the control, parameters from the errors after the
    value nodes' step."""
    p = {k: v.clone() for k, v in p0.items()}
    x = forward(net, p)
    for _ in range(steps):
        gx, gp = grads(net, loss, x, p)
        x = {k: x[k] - gamma * gx[k] for k in x}
        if sequential:
            _, gp = grads(net, loss, x, p)
        update(p, {k: v / B for k, v in gp.items()})
    return p


def sgd(lr):
    def update(p, g):
        for k in p:
            p[k] = p[k] - lr * g[k]
    return update


def adam(p0, lr, b1, b2, eps):
    ts = {k: v.clone() for k, v in p0.items()}
    opt = torch.optim.Adam(list(ts.values()), lr=lr, betas=(b1, b2), eps=eps)

    def update(p, g):
        for k in p:
            ts[k].grad = g[k].clone()
        with torch.no_grad():
            opt.step()
        for k in p:
            p[k] = ts[k].detach().clone()
        for k in p:
            ts[k].grad = None
    return update


def rel_err(got, want, start):
    scale = max(float((want[k] - start[k]).abs().max()) for k in want)
    err = max(float((got[k] - want[k]).abs().max()) for k in want)
    return err / scale, scale


def main():
    exe, name = sys.argv[1], sys.argv[2]
    if name not in MODELS:
        skip(f"incremental PC of {name}", "no PC twin here")
        return done()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "dump.txt")
        subprocess.run([exe, "--dump", path], check=True)
        params, after, adamafter, data = read(path)
    B = 4
    net, loss = MODELS[name](B, data)
    steps, lr, gamma = data["ipc"]
    want = ipc(net, loss, params, B, steps, gamma, sgd(lr))
    e, scale = rel_err(after, want, params)
    ok(e <= TOL, f"{name}: {steps} steps of P_train_ipc (lr {lr}, gamma "
       f"{gamma}) equal the PyTorch network's within 1e-10 of the largest "
       f"change ({scale:.3g}): error {e:.3g} relative")
    seq = ipc(net, loss, params, B, steps, gamma, sgd(lr), sequential=True)
    es, _ = rel_err(after, seq, params)
    ok(es > 1e-6, f"negative control: parameters from the errors after the "
       f"value nodes' step differ: {es:.3g} relative")
    bumped = {k: v.clone() for k, v in after.items()}
    k0 = next(iter(bumped))
    bumped[k0].view(-1)[0] += 1e-8 * scale
    eb, _ = rel_err(bumped, want, params)
    ok(eb > TOL, f"negative control: a perturbation of 1e-8 of the largest "
       f"change fails the comparison ({eb:.3g})")
    steps, lr, b1, b2, eps, gamma, ostep = data["adam"]
    want = ipc(net, loss, params, B, steps, gamma,
               adam(params, lr, b1, b2, eps))
    e, scale = rel_err(adamafter, want, params)
    ok(e <= TOL and ostep == steps,
       f"{name}: {steps} steps of P_step_ipc with Adam equal the PyTorch "
       f"network's with torch.optim.Adam within 1e-10 of the largest change "
       f"({scale:.3g}): error {e:.3g} relative; o->step {ostep}")
    return done()


if __name__ == "__main__":
    sys.exit(main())
