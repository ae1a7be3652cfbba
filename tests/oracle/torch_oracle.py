#!/usr/bin/env python3
"""The independent oracle: BP gradients of pcc's generated code against
PyTorch autograd in float64.

  torch_oracle.py CHECK_EXE MODEL

MODEL is an example, a test graph of tests/models or a benchmark model of
bench/models that has a twin below (MODELS).  CHECK_EXE (tests/numeric/check_model.c built for MODEL) writes the
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

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
import tap  # noqa: E402

torch = tap.require("torch", "python3-torch")

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
        if words[0] in ("batch", "loss", "evalloss"):
            data[words[0]] = float(words[1])
        elif words[0] == "optim":
            data.setdefault("optims", []).append(
                ([int(words[1])] + [float(w) for w in words[2:8]], {}))
        elif words[0] == "oparam":
            name = words[1]
            n = params[name].numel()
            data["optims"][-1][1][name] = torch.tensor(
                [float(x) for x in lines[i:i + n]]).reshape(params[name].shape)
            i += n
        elif words[0] == "after":
            name = words[1]
            n = params[name].numel()
            t = torch.tensor([float(x) for x in lines[i:i + n]]
                             ).reshape(params[name].shape)
            data.setdefault("after", {})[name] = t
            i += n
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


# ---- batch statistics and dropout: torch.nn modules and pcc's masks

class Modes:
    """Batch norm as torch.nn.BatchNorm modules (affine=False; their
    running statistics start from the dump's buffers and are updated by
    the modules themselves in train()) and dropout with the masks pcc's
    runtime draws (CHECK_EXE --mask), replayed as x * mask.  `training`
    selects train() or eval() for every module; new() forgets the
    modules (fresh running statistics)."""

    def __init__(self, exe, params):
        self.exe, self.params = exe, params
        self.training = True
        self.mods, self.masks, self.ndrop = {}, {}, 0

    def new(self):
        self.mods = {}

    def bn(self, x, name, momentum=0.1, eps=1e-5):
        m = self.mods.get(name)
        if m is None:
            cls = torch.nn.BatchNorm2d if x.dim() == 4 else torch.nn.BatchNorm1d
            m = cls(x.shape[1], eps=eps, momentum=momentum, affine=False,
                    dtype=torch.float64)
            with torch.no_grad():
                m.running_mean.copy_(self.params[name + ".running_mean"])
                m.running_var.copy_(self.params[name + ".running_var"])
            self.mods[name] = m
        m.train(self.training)
        return m(x)

    def drop(self, x, p):
        k = self.ndrop
        self.ndrop += 1
        if not self.training:
            return x
        key = (k, x.numel(), p)
        if key not in self.masks:
            out = subprocess.run([self.exe, "--mask", str(k), str(x.numel()),
                                  repr(p)], check=True, capture_output=True,
                                 text=True).stdout.split()
            self.masks[key] = torch.tensor([float(v) for v in out])
        return x * self.masks[key].reshape(x.shape)


MODES = None


def resnet20(p, d, B):
    C, A = p["K0"].shape[1], p["K0"].shape[0]
    H = int(round(math.sqrt(d["in"].numel() / B / C)))
    (x,) = split(d["in"], B, [C, H, H])
    (y,) = split(d["target"], B, [p["W"].shape[0]])
    bn = MODES.bn

    def aff(t, name, g, b):
        return p[g] * bn(t, name) + p[b]

    def block(x, i, j, name, k):
        h = torch.relu(aff(F.conv2d(x, p["K%d" % i], padding=1),
                           "block.%d.h" % k, "g%d" % i, "h%d" % i))
        return torch.relu(x + aff(F.conv2d(h, p["K%d" % j], padding=1),
                                  name, "g%d" % j, "h%d" % j))

    def down(x, i, j, s, name, k):
        h = torch.relu(aff(F.conv2d(x, p["K%d" % i], stride=2, padding=1),
                           "down.%d.h" % k, "g%d" % i, "h%d" % i))
        return torch.relu(aff(F.conv2d(x, p["P%d" % s], stride=2), name,
                              "gp%d" % s, "hp%d" % s)
                          + aff(F.conv2d(h, p["K%d" % j], padding=1),
                                name + ".2", "g%d" % j, "h%d" % j))

    r = torch.relu(aff(F.conv2d(x, p["K0"], padding=1), "s0", "g0", "h0"))
    r = block(r, 11, 12, "r11", 1)
    r = block(r, 13, 14, "r12", 2)
    r = block(r, 15, 16, "r13", 3)
    r = down(r, 21, 22, 2, "r21", 1)
    r = block(r, 23, 24, "r22", 4)
    r = block(r, 25, 26, "r23", 5)
    r = down(r, 31, 32, 3, "r31", 2)
    r = block(r, 33, 34, "r32", 6)
    r = block(r, 35, 36, "r33", 7)
    g = F.avg_pool2d(r, H // 4).reshape(B, -1)
    o = lin(p["W"], g) + p["bw"]
    return xent(o, y).mean()


class ResNet20NoBN(torch.nn.Module):
    """bench/models/resnet20_nobn.pcg as a PyTorch user writes it (the
    module bench/mem_bench.py measures): every 3x3 conv with a bias per
    output channel, the strided 1x1 projections without, relus, a global
    average pool and a dense head."""

    class Block(torch.nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            nn = torch.nn
            self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
            self.proj = (nn.Conv2d(cin, cout, 1, stride=stride, bias=False)
                         if stride != 1 else None)

        def forward(self, x):
            h = torch.relu(self.conv1(x))
            short = x if self.proj is None else self.proj(x)
            return torch.relu(short + self.conv2(h))

    def __init__(self, C=3, widths=(16, 32, 64), classes=10):
        super().__init__()
        self.stem = torch.nn.Conv2d(C, widths[0], 3, padding=1)
        blocks, cin = [], widths[0]
        for i, w in enumerate(widths):
            for j in range(3):
                blocks.append(self.Block(cin, w, 2 if i > 0 and j == 0 else 1))
                cin = w
        self.blocks = torch.nn.Sequential(*blocks)
        self.head = torch.nn.Linear(widths[-1], classes)

    def forward(self, x):
        r = self.blocks(torch.relu(self.stem(x)))
        return self.head(F.avg_pool2d(r, r.shape[-1]).flatten(1))


def resnet20_nobn(p, d, B):
    """ResNet20NoBN run on the .pcg's parameters: stage s, block j uses
    K{s}{2j+1}, c{s}{2j+1} and K{s}{2j+2}, c{s}{2j+2}; P{s} projects."""
    C, widths = p["K0"].shape[1], [p[k].shape[0] for k in ("K0", "K21", "K31")]
    H = int(round(math.sqrt(d["in"].numel() / B / C)))
    (x,) = split(d["in"], B, [C, H, H])
    (y,) = split(d["target"], B, [p["W"].shape[0]])
    net = ResNet20NoBN(C, widths, p["W"].shape[0])
    names = {"stem.weight": p["K0"], "stem.bias": p["c0"].reshape(-1),
             "head.weight": p["W"], "head.bias": p["bw"]}
    for s in (1, 2, 3):
        for j in range(3):
            pre = "blocks.%d." % (3 * (s - 1) + j)
            for c, k in (("conv1", 2 * j + 1), ("conv2", 2 * j + 2)):
                names[pre + c + ".weight"] = p["K%d%d" % (s, k)]
                names[pre + c + ".bias"] = p["c%d%d" % (s, k)].reshape(-1)
            if s > 1 and j == 0:
                names[pre + "proj.weight"] = p["P%d" % s]
    assert set(names) == {k for k, _ in net.named_parameters()}
    o = torch.nn.utils.stateless.functional_call(net, names, (x,))
    return xent(o, y).mean()


def mlp_dropout(p, d, B):
    (x,) = split(d["in"], B, [p["W1"].shape[1]])
    (y,) = split(d["target"], B, [p["W3"].shape[0]])
    h1 = MODES.drop(torch.relu(lin(p["W1"], x) + p["b1"]), 0.2)
    h2 = MODES.drop(torch.relu(lin(p["W2"], h1) + p["b2"]), 0.2)
    o = lin(p["W3"], h2) + p["b3"]
    return xent(o, y).mean()


# ---- test graphs (tests/models/*.pcg) that have a twin

def batchstats(p, d, B):
    (x,) = split(d["in"], B, [2, 5, 5])
    (y,) = split(d["target"], B, [4])
    f = torch.relu(p["g"] * MODES.bn(F.conv2d(x, p["K"]), "f", momentum=0.2)
                   + p["b"])
    v = MODES.drop(f.reshape(B, -1), 0.3)
    h = torch.tanh(p["gv"] * MODES.bn(lin(p["W1"], v), "h", eps=1e-3))
    k = MODES.drop(torch.tanh(lin(p["W2"], h)), 0.5)
    o = lin(p["W3"], k + h) + p["b3"]
    return xent(o, y).mean()



def per_sample(t):
    """A [B, ...] tensor of per-element losses summed over each sample."""
    return t.reshape(t.shape[0], -1).sum(1)


def norm_along(t, dim):
    """Zero mean, unit (biased) variance along one dim, eps 1e-5."""
    moved = t.movedim(dim, -1)
    out = F.layer_norm(moved, (moved.shape[-1],), eps=1e-5)
    return out.movedim(-1, dim)


def elementwise(p, d, B):
    D = 5
    (x,) = split(d["in"], B, [D])
    y, yb, yl, yh = split(d["target"], B, [3], [4], [D], [2, D])
    h = lin(p["W1"], x) + p["b1"]                                 # [B, D]
    a1 = F.silu(h) + F.elu(lin(p["W2"], x), alpha=0.7)
    a2 = torch.erf(a1) * torch.sin(h) + torch.cos(lin(p["W3"], a1))
    a3 = (torch.log1p(a2 ** 2) + torch.pow(torch.sigmoid(h) + 0.5, 1.5)
          + torch.pow(a1, 3))
    a4 = torch.clamp(a3 + h, 0.85, 2.3) + F.softplus(a2) * torch.abs(h)
    P = p["P"]                                                    # [2, D]
    m = (torch.maximum(P, h[:, None, :])
         - torch.minimum(h, torch.tensor(0.1))[:, None, :]
         + torch.minimum(torch.tensor(0.3), a4[:, None, :] * P))  # [B, 2, D]
    r = (F.leaky_relu(m[:, 0] - m[:, 1], 0.1) + torch.exp(-a1 ** 2)
         + torch.log(F.softplus(a4) + 0.1) + torch.sqrt(a3 ** 2 + 0.5))
    o = lin(p["Wc"], r) + p["bc"]
    per = (0.5 * xent(o, y)
           + per_sample(F.binary_cross_entropy_with_logits(
               lin(p["Wb"], a4), yb, reduction="none"))
           + per_sample(F.l1_loss(lin(p["Wl"], r), yl, reduction="none"))
           + per_sample(F.huber_loss(m * a2[:, None, :], yh,
                                     reduction="none", delta=0.3)))
    return per.mean() + 1e-3 * (p["W1"] ** 2).sum()


def axes(p, d, B):
    N, M, K, C = 4, 3, 5, 4
    x, u, cls, tok = split(d["in"], B, [N, K], [2, M, K], [N], [2, M])
    y, tags = split(d["target"], B, [M], [M])
    # per-sample axis a is dim a + 1 below
    s = x @ p["A"]                                                # [B, N, M]
    p0 = torch.softmax(s, dim=1)
    ln0 = norm_along(s + F.one_hot(cls.long(), C).to(s.dtype) @ p["G"], 1)
    r3 = u * p["W3"] + p["c3"] + F.embedding(tok.long(), p["Emb"])  # [B,2,M,K]
    ls = torch.log_softmax(r3, dim=2)
    l3 = norm_along(r3, 2)
    tp = l3.permute(0, 3, 1, 2)                                   # [B,K,2,M]
    cc = torch.cat([p0, ln0], dim=2)                              # [B,N,2M]
    c3x = torch.cat([ls, l3, torch.triu(r3, diagonal=1)], dim=3)
    sq = s @ ln0.transpose(1, 2)                                  # [B, N, N]
    ones = torch.ones(N, N, dtype=torch.bool)
    up = (torch.softmax(sq.masked_fill(~torch.triu(ones, diagonal=-1),
                                       float("-inf")), dim=-1)
          + sq.masked_fill(~torch.triu(ones, diagonal=1), 0.25))
    f = (0.1 * c3x.sum(dim=(1, 3))
         + tp.mean(dim=1).max(dim=1).values
         + r3.amax(dim=(1, 3))
         + cc[:, 1:3, ::2].sum(dim=1)
         + s[:, -1]
         + torch.einsum("bn,bnm->bm", up[:, :, 1] * cc[:, :, 4], s)
         + r3[:, 1, :, 0]
         + cc[:, ::2].reshape(B, 2, 2, M).sum(dim=(1, 2))
         + ls.mean(dim=(3, 1)))
    logits = l3[:, 0] @ p["Wt"] + torch.tanh(lin(p["Wy"], y))[:, None, :]
    ce = F.cross_entropy(logits.reshape(B * M, C), tags.long().reshape(-1),
                         reduction="none").reshape(B, M).sum(1)
    onehot = F.one_hot(tags.long(), C).to(logits.dtype)
    return (mse(torch.tanh(f), 2 * y - 1) + ce
            + 0.5 * mse(torch.softmax(logits, dim=-1), onehot)).mean()


def convpool(p, d, B):
    x1, x2 = split(d["in"], B, [4, 11], [4, 7, 8])
    (y,) = split(d["target"], B, [5])
    h1 = torch.tanh(F.conv1d(x1, p["K1"], stride=2, padding=1, dilation=2,
                             groups=2) + p["c1"])
    p1 = F.max_pool1d(h1, 3, stride=2, padding=1)
    q1 = F.avg_pool1d(h1, 2, stride=1, padding=1, count_include_pad=True)
    h2 = torch.tanh(F.conv2d(x2, p["K2"], stride=(1, 2), padding=(2, 1),
                             dilation=(2, 1), groups=2) + p["c2"])
    p2 = F.max_pool2d(h2, (2, 3), padding=(1, 1))
    m2 = F.max_pool2d(h2, (3, 2), stride=(2, 1), padding=(1, 0))
    q2 = F.avg_pool2d(h2, 3, stride=2, padding=1, count_include_pad=True)
    feat = torch.cat([t.reshape(B, -1) for t in (p1, q1, p2, q2)], dim=1)
    o = lin(p["W"], feat) + p["b"] + lin(p["Wm"], m2.sum(dim=(1, 3)))
    return xent(o, y).mean()


MODELS = {"digits": digits, "mlp": mlp, "rnn": rnn, "multitask": multitask,
          "cnn": cnn, "resnet": resnet, "seq2seq": seq2seq, "lstm": lstm,
          "transformer": transformer, "gru": gru, "textcls": textcls,
          "gpt": gpt, "mobilenet": mobilenet, "autoencoder": autoencoder,
          "elementwise": elementwise, "axes": axes, "convpool": convpool,
          "resnet20": resnet20, "mlp_dropout": mlp_dropout,
          "resnet20_nobn": resnet20_nobn,
          "batchstats": batchstats}


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
    global MODES
    MODES = Modes(exe, params)
    leaves = {k: v.clone().requires_grad_(not is_buffer(k))
              for k, v in params.items()}
    MODES.ndrop = 0
    loss = MODELS[name](leaves, data, B)
    loss.backward()
    ref = {k: (v.grad.detach() if v.grad is not None else None)
           for k, v in leaves.items()}
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
    # three SGD steps (lr 0.05, the same batch and masks), the running
    # statistics the modules kept in train(), then the loss in eval()
    MODES.new()
    cur = {k: v.clone() for k, v in params.items()}
    for step in range(3):
        lv = {k: v.clone().requires_grad_(not is_buffer(k))
              for k, v in cur.items()}
        MODES.ndrop = 0
        MODELS[name](lv, data, B).backward()
        cur = {k: (v.detach() - 0.05 * v.grad if v.grad is not None
                   else v.detach()) for k, v in lv.items()}
    for k, m in MODES.mods.items():
        cur[k + ".running_mean"] = m.running_mean.detach().clone()
        cur[k + ".running_var"] = m.running_var.detach().clone()
    after = data["after"]
    pmax = max(float(v.abs().max()) for v in cur.values())
    prel = max(float((after[k] - v).abs().max()) for k, v in cur.items())
    prel /= pmax
    nbuf = sum(1 for k in cur if is_buffer(k))
    n += 1
    print("%s %d - %s: after 3 SGD steps the parameters%s equal torch's "
          "(%s): max error %.3g of the largest (limit %g)"
          % ("ok" if prel <= TOL else "not ok", n, name,
             " and %d running statistics" % nbuf if nbuf else "",
             "modules in train()" if nbuf else "autograd", prel, TOL))
    MODES.training = False
    MODES.ndrop = 0
    with torch.no_grad():
        eloss = float(MODELS[name](cur, data, B))
    erel = abs(eloss - data["evalloss"]) / max(abs(eloss), 1e-300)
    n += 1
    print("%s %d - %s: then the loss in evaluation mode %.17g equals torch "
          "in eval() %.17g (relative %.3g)"
          % ("ok" if erel <= TOL else "not ok", n, name, data["evalloss"],
             eloss, erel))
    # negative control: one entry of torch's state after the steps (a
    # running variance where there is one) off by 1e-8 must be detected
    key = next((k for k in cur if k.endswith(".running_var")), first)
    bad_cur = dict(cur)
    bad_cur[key] = cur[key].clone()
    bad_cur[key].view(-1)[0] += 1e-8 * pmax
    brel = max(float((after[k] - v).abs().max()) for k, v in bad_cur.items())
    brel /= pmax
    n += 1
    print("%s %d - %s: negative control: %s off by 1e-8 is detected "
          "(error %.3g)" % ("ok" if brel > TOL else "not ok", n, name, key,
                            brel))
    # five steps of each optimizer by P_step_bp against torch.optim
    orel = 0.0
    kinds = ["SGD", "momentum", "Nesterov", "Adam", "AdamW"]
    MODES.training = True
    for (kind, lr, mom, b1, b2, eps, wd), want in data.get("optims", []):
        MODES.new()
        lv = {k: v.clone().requires_grad_(not is_buffer(k))
              for k, v in params.items()}
        train = [lv[k] for k in lv if not is_buffer(k)]
        if kind <= 2:
            opt = torch.optim.SGD(train, lr=lr, momentum=mom,
                                  nesterov=kind == 2, weight_decay=wd)
        else:
            cls = torch.optim.Adam if kind == 3 else torch.optim.AdamW
            opt = cls(train, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
        for step in range(5):
            opt.zero_grad()
            MODES.ndrop = 0
            MODELS[name](lv, data, B).backward()
            for t in train:  # pcc updates from a zero gradient
                if t.grad is None:
                    t.grad = torch.zeros_like(t)
            opt.step()
        top = max(float(v.abs().max()) for v in want.values())
        err = max(float((lv[k].detach() - v).abs().max())
                  for k, v in want.items()) / top
        orel = max(orel, err)
        n += 1
        print("%s %d - %s: 5 steps of %s (weight decay %g) by P_step_bp "
              "equal torch.optim's: max error %.3g of the largest parameter "
              "(limit %g)" % ("ok" if err <= TOL else "not ok", n, name,
                              kinds[kind], wd, err, TOL))
    print("1..%d" % n)
    ok = (orel <= TOL and lrel <= TOL and rel <= TOL and zrel <= TOL and gmax > 0
          and rel_bad > TOL and prel <= TOL and erel <= TOL and brel > TOL)
    return 0 if ok else 1


def is_buffer(name):
    return name.endswith(".running_mean") or name.endswith(".running_var")


if __name__ == "__main__":
    sys.exit(main())
