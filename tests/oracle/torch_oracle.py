#!/usr/bin/env python3
"""The independent oracle: BP gradients of pcc's generated code against
PyTorch autograd in float64.

  torch_oracle.py CHECK_EXE EXAMPLE

CHECK_EXE (tests/numeric/check_model.c built for EXAMPLE) writes the
parameters, a batch of inputs and targets, the loss and its gradients by BP
and by Z-IL (double, batch 4).  This script rebuilds the same model by hand in PyTorch
(the models below are written independently of pcc, from the .pcg files'
meaning), differentiates it with autograd, and requires every gradient to
match within 1e-10 relative to the largest.  A negative control perturbs one
gradient entry by 1e-8 of the largest and requires the comparison to fail.
Prints TAP; skips where torch is missing.
"""
import math
import os
import subprocess
import sys
import tempfile

try:
    import torch
except ImportError:
    print("1..0 # SKIP python3-torch is not installed")
    sys.exit(0)

torch.set_default_dtype(torch.float64)
TOL = 1e-10


def read_dump(path):
    params, grads, zgrads, data = {}, {}, {}, {}
    with open(path) as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        words = lines[i].split()
        i += 1
        if not words or words[0] == "end":
            continue
        if words[0] in ("batch", "loss"):
            data[words[0]] = float(words[1])
        elif words[0] == "param":
            name, rank = words[1], int(words[2])
            dims = [int(w) for w in words[3:3 + rank]]
            n = 1
            for d in dims:
                n *= d
            vals = [float(x) for x in lines[i:i + n]]
            i += n
            params[name] = torch.tensor(vals).reshape(dims)
        elif words[0] in ("grad", "zgrad"):
            name = words[1]
            n = params[name].numel()
            t = torch.tensor([float(x) for x in lines[i:i + n]]
                             ).reshape(params[name].shape)
            (grads if words[0] == "grad" else zgrads)[name] = t
            i += n
        elif words[0] in ("in", "target"):
            n = int(words[1])
            data[words[0]] = torch.tensor([float(x) for x in lines[i:i + n]])
            i += n
    return params, grads, zgrads, data


def xent(o, y):
    """-sum y log softmax(o) over the last axis, summed per sample."""
    return -(y * torch.log_softmax(o, dim=-1)).reshape(o.shape[0], -1).sum(1)


def mse(o, y):
    return 0.5 * ((o - y) ** 2).reshape(o.shape[0], -1).sum(1)


def split(flat, B, *shapes):
    """Cut a flat in/target struct into [B, *shape] tensors, in order."""
    out, off = [], 0
    for s in shapes:
        n = B
        for d in s:
            n *= d
        out.append(flat[off:off + n].reshape([B] + list(s)))
        off += n
    assert off == flat.numel(), (off, flat.numel())
    return out


def lin(W, x):
    """W @ x for a batch of vectors x[B, k]."""
    return x @ W.T


def digits(p, d, B):
    (x,) = split(d["in"], B, [64])
    (y,) = split(d["target"], B, [10])
    h = torch.tanh(lin(p["W1"], x) + p["b1"])
    o = lin(p["W2"], h) + p["b2"]
    return xent(o, y).mean()


def mlp(p, d, B):
    (x,) = split(d["in"], B, [784])
    (y,) = split(d["target"], B, [10])
    h1 = torch.relu(lin(p["W1"], x) + p["b1"])
    h2 = torch.relu(lin(p["W2"], h1) + p["b2"])
    o = lin(p["W3"], h2) + p["b3"]
    return xent(o, y).mean()


def rnn(p, d, B):
    T, H = 12, 32
    (xs,) = split(d["in"], B, [T, 8])
    (y,) = split(d["target"], B, [4])
    h = torch.zeros(B, H)
    for t in range(T):
        h = torch.tanh(lin(p["Wx"], xs[:, t]) + lin(p["Wh"], h) + p["b"])
    o = lin(p["Wo"], h) + p["bo"]
    return mse(o, y).mean()


def multitask(p, d, B):
    x, ctx = split(d["in"], B, [16], [4])
    label, value = split(d["target"], B, [3], [2])

    def block(x, W1, b1, W2, b2):
        h = torch.tanh(lin(W1, x) + b1)
        return x + (lin(W2, h) + b2)

    z1 = block(x, p["Wa"], p["ba"], p["Wb"], p["bb"])
    z2 = block(z1, p["Wc"], p["bc"], p["Wd"], p["bd"])
    g = torch.sigmoid(z2) * p["scale"] + 0.5 * z1 ** 2
    m = g.reshape(B, 2, 8)
    rows = m - m.reshape(B, -1).mean(1).reshape(B, 1, 1)
    feat = torch.cat([g, ctx], dim=1)
    cls = lin(p["Wk"], feat) + p["bk"]
    reg = lin(p["Wr"], torch.nn.functional.softplus(rows[:, 1])) + p["br"]
    return (xent(cls, label) + mse(reg, value)).mean()


F = torch.nn.functional


def cnn(p, d, B):
    (x,) = split(d["in"], B, [1, 28, 28])
    (y,) = split(d["target"], B, [10])
    a1 = F.max_pool2d(torch.relu(F.conv2d(x, p["K1"]) + p["c1"]), 2)
    a2 = F.max_pool2d(torch.relu(F.conv2d(a1, p["K2"]) + p["c2"]), 2)
    h = torch.relu(lin(p["W1"], a2.reshape(B, -1)) + p["b1"])
    o = lin(p["W2"], h) + p["b2"]
    return xent(o, y).mean()


def resnet(p, d, B):
    (x,) = split(d["in"], B, [3, 16, 16])
    (y,) = split(d["target"], B, [10])

    def block(x, K1, c1, K2, c2):
        h = torch.relu(F.conv2d(x, K1, padding=1) + c1)
        return torch.relu(x + F.conv2d(h, K2, padding=1) + c2)

    def down(x, K1, c1, K2, c2, P):
        h = torch.relu(F.conv2d(x, K1, stride=2, padding=1) + c1)
        return torch.relu(F.conv2d(x, P, stride=2)
                          + F.conv2d(h, K2, padding=1) + c2)

    s0 = torch.relu(F.conv2d(x, p["K0"], padding=1) + p["c0"])
    r1 = block(s0, p["A1"], p["a1"], p["A2"], p["a2"])
    r2 = down(r1, p["B1"], p["b1"], p["B2"], p["b2"], p["P"])
    r3 = block(r2, p["C1"], p["d1"], p["C2"], p["d2"])
    g = F.avg_pool2d(r3, 8).reshape(B, -1)
    o = lin(p["W"], g) + p["bw"]
    return xent(o, y).mean()


def seq2seq(p, d, B):
    T, H = 10, 16
    (xs,) = split(d["in"], B, [T, 4])
    (ys,) = split(d["target"], B, [T, 3])
    h = torch.zeros(B, H)
    total = 0
    for t in range(T):
        h = torch.tanh(lin(p["Wx"], xs[:, t]) + lin(p["Wh"], h) + p["b"])
        total = total + mse(lin(p["Wo"], h) + p["bo"], ys[:, t])
    return total.mean()


def lstm(p, d, B):
    T, D, H = 16, 4, 12
    (xs,) = split(d["in"], B, [T, D])
    (y,) = split(d["target"], B, [2])

    def gate(g, x, h):
        return lin(p["W" + g], x) + lin(p["U" + g], h) + p["b" + g]

    h = torch.zeros(B, H)
    c = torch.zeros(B, H)
    for t in range(T):
        x = xs[:, t]
        c = (torch.sigmoid(gate("f", x, h)) * c
             + torch.sigmoid(gate("i", x, h)) * torch.tanh(gate("g", x, h)))
        h = torch.sigmoid(gate("o", x, h)) * torch.tanh(c)
    o = lin(p["Wy"], h) + p["by"]
    return mse(o, y).mean()


def transformer(p, d, B):
    N, D = 8, 16
    (x,) = split(d["in"], B, [N, D])
    (y,) = split(d["target"], B, [4])
    q, k, v = x @ p["Wq"], x @ p["Wk"], x @ p["Wv"]
    a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(D), dim=-1)

    def ln(t):
        return F.layer_norm(t, (D,), eps=1e-5)

    z = ln(x + (a @ v) @ p["Wo"])
    f = ln(z + torch.relu(z @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"])
    pooled = f.mean(dim=1)
    o = lin(p["Wc"], pooled) + p["bc"]
    return xent(o, y).mean()


def gru(p, d, B):
    T, D, H = 12, 6, 16
    (xs,) = split(d["in"], B, [T, D])
    (y,) = split(d["target"], B, [4])
    h = torch.zeros(B, H)
    for t in range(T):
        x = xs[:, t]
        z = torch.sigmoid(lin(p["Wz"], x) + lin(p["Uz"], h) + p["bz"])
        r = torch.sigmoid(lin(p["Wr"], x) + lin(p["Ur"], h) + p["br"])
        n = torch.tanh(lin(p["Wn"], x) + p["bn"]
                       + r * (lin(p["Un"], h) + p["bhn"]))
        h = (1 - z) * n + z * h
    return xent(lin(p["Wy"], h) + p["by"], y).mean()


def textcls(p, d, B):
    L = 16
    (tok,) = split(d["in"], B, [L])
    (label,) = split(d["target"], B, [])
    e = F.embedding(tok.long(), p["Emb"]).transpose(1, 2)    # [B, E, L]
    h = torch.relu(F.conv1d(e, p["K"], padding=1) + p["c"])
    m = h.max(dim=2).values
    o = lin(p["W"], m) + p["b"]
    return F.cross_entropy(o, label.long(), reduction="none").mean()


def gpt(p, d, B):
    T, V, D, NH, HD = 8, 32, 16, 4, 4
    (tok,) = split(d["in"], B, [T])
    (nxt,) = split(d["target"], B, [T])

    def ln(t):
        return F.layer_norm(t, (D,), eps=1e-5)

    def heads(t):
        return t.reshape(B, T, NH, HD).transpose(1, 2)       # [B, NH, T, HD]

    x = F.embedding(tok.long(), p["Emb"]) + p["Pos"]
    n1 = ln(x)
    q, k, v = heads(n1 @ p["Wq"]), heads(n1 @ p["Wk"]), heads(n1 @ p["Wv"])
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    s = (q @ k.transpose(-1, -2) / math.sqrt(HD)).masked_fill(
        ~causal, float("-inf"))
    a = torch.softmax(s, dim=-1) @ v
    h = x + a.transpose(1, 2).reshape(B, T, D) @ p["Wo"]
    f = h + F.gelu(ln(h) @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
    logits = ln(f) @ p["Wu"]
    per_token = F.cross_entropy(logits.reshape(B * T, V),
                                nxt.long().reshape(-1), reduction="none")
    return per_token.reshape(B, T).sum(1).mean()


def mobilenet(p, d, B):
    (x,) = split(d["in"], B, [3, 16, 16])
    (y,) = split(d["target"], B, [10])
    s0 = torch.relu(F.conv2d(x, p["K0"], stride=2, padding=1) + p["c0"])
    a1 = torch.relu(F.conv2d(s0, p["D1"], padding=1, groups=16) + p["d1"])
    b1 = torch.relu(F.conv2d(a1, p["P1"]) + p["p1"])
    a2 = torch.relu(F.conv2d(b1, p["D2"], stride=2, padding=1, groups=32)
                    + p["d2"])
    b2 = torch.relu(F.conv2d(a2, p["P2"]) + p["p2"])
    g = b2.mean(dim=(2, 3))
    return xent(lin(p["W"], g) + p["b"], y).mean()


def autoencoder(p, d, B):
    (x,) = split(d["in"], B, [64])
    (xt,) = split(d["target"], B, [64])
    z = torch.tanh(lin(p["We"], x) + p["be"])
    r = lin(p["Wd"], z) + p["bd"]
    penalty = (p["We"] ** 2).sum() + (p["Wd"] ** 2).sum()
    return mse(r, xt).mean() + 1e-3 * penalty


MODELS = {"digits": digits, "mlp": mlp, "rnn": rnn, "multitask": multitask,
          "cnn": cnn, "resnet": resnet, "seq2seq": seq2seq, "lstm": lstm,
          "transformer": transformer, "gru": gru, "textcls": textcls,
          "gpt": gpt, "mobilenet": mobilenet, "autoencoder": autoencoder}


def compare(grads, ref):
    gmax = max(float(g.abs().max()) for g in ref.values())
    worst = 0.0
    for name, g in ref.items():
        worst = max(worst, float((grads[name] - g).abs().max()))
    return worst / (gmax if gmax > 0 else 1.0), gmax


def main():
    exe, name = sys.argv[1], sys.argv[2]
    print("TAP version 13")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "dump.txt")
        subprocess.run([exe, "--dump", path], check=True)
        params, grads, zgrads, data = read_dump(path)
    B = int(data["batch"])
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    loss = MODELS[name](leaves, data, B)
    loss.backward()
    ref = {k: v.grad.detach() for k, v in leaves.items()}
    for k in ref:  # parameters no loss depends on get a zero gradient
        if ref[k] is None:
            ref[k] = torch.zeros_like(params[k])
    rel, gmax = compare(grads, ref)
    n = 0
    n += 1
    lrel = abs(float(loss) - data["loss"]) / max(abs(float(loss)), 1e-300)
    print("%s %d - %s: loss %.17g equals torch %.17g (relative %.3g, limit %g)"
          % ("ok" if lrel <= TOL else "not ok", n, name, data["loss"],
             float(loss), lrel, TOL))
    n += 1
    print("%s %d - %s: BP gradients equal torch autograd in float64: max "
          "relative error %.3g (limit %g, max |g| %.3g)"
          % ("ok" if rel <= TOL and gmax > 0 else "not ok", n, name, rel,
             TOL, gmax))
    zrel, _ = compare(zgrads, ref)
    n += 1
    print("%s %d - %s: Z-IL gradients (level schedule) equal torch autograd "
          "in float64: max relative error %.3g (limit %g)"
          % ("ok" if zrel <= TOL else "not ok", n, name, zrel, TOL))
    # negative control: a perturbation of 1e-8 must be caught
    bad = {k: v.clone() for k, v in grads.items()}
    first = next(iter(bad))
    bad[first].view(-1)[0] += 1e-8 * gmax
    rel_bad, _ = compare(bad, ref)
    n += 1
    print("%s %d - %s: negative control: a 1e-8 perturbation is detected "
          "(relative error %.3g)" % ("ok" if rel_bad > TOL else "not ok", n,
                                     name, rel_bad))
    print("1..%d" % n)
    ok = (lrel <= TOL and rel <= TOL and zrel <= TOL and gmax > 0
          and rel_bad > TOL)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
