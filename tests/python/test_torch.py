#!/usr/bin/env python3
"""pcg's load_state_dict against PyTorch: a torch module's state_dict()
loaded into the pcc twin of the module (written here, parameters named
after torch's keys with '.' as '_'), then Model.grad_bp equals torch
autograd in float64 within 1e-10 (relative to the gradient's largest
element): an MLP with mse, a CNN whose conv has a bias ([O] in torch,
[O, 1, 1] in pcc) with cross-entropy on probabilities, and a CNN with
BatchNorm2d (running statistics in eval mode, batch statistics in the
gradient, the running update of a training step).  Losses follow
docs/conventions.md §2: pcc's mse is torch's summed squared error / 2B,
its cross_entropy torch's CrossEntropyLoss (mean).

Negative controls: one perturbed weight, and the CNN's bias declared
[O] (torch's shape, which pcc broadcasts along the width: here the width
equals O, so it compiles) give gradients far from torch's; batch norm
without its running statistics predicts far from torch's eval mode.  And the
mapping's errors: a missing key, an unexpected key, a transposed weight,
each a ValueError naming the key, with nothing written."""

from common import tap, np, pcg, need_numpy

need_numpy("torch state dicts")
try:
    import torch
except ImportError:
    tap.skip("torch state dicts", "torch is not installed")
    raise SystemExit(tap.done())

torch.manual_seed(0)
B = 5
TOL = 1e-10

MLP = """
model tmlp {
    input  x[6];
    target y[3];
    param fc1_weight[5, 6];
    param fc1_bias[5];
    param fc2_weight[3, 5];
    param fc2_bias[3];
    h = tanh(fc1_weight @ x + fc1_bias);
    o = fc2_weight @ h + fc2_bias;
    loss mse(o, y);
}
"""

CNN = """
model tcnn {
    input  x[2, 5, 5];
    target y[4];
    param conv_weight[3, 2, 3, 3];
    param conv_bias[BIAS];
    param fc_weight[4, 27];
    param fc_bias[4];
    h = relu(conv2d(x, conv_weight) + conv_bias);   # [3, 3, 3]
    o = fc_weight @ flatten(h) + fc_bias;
    loss cross_entropy(o, y);
}
"""


BN = """
model tbn {
    input  x[2, 5, 5];
    target y[4];
    param conv_weight[3, 2, 3, 3];
    param conv_bias[3, 1, 1];
    param bn_weight[3, 1, 1] = ones;
    param bn_bias[3, 1, 1];
    param fc_weight[4, 27];
    param fc_bias[4];
    bn = bn_weight * batchnorm(conv2d(x, conv_weight) + conv_bias) + bn_bias;
    o = fc_weight @ flatten(relu(bn)) + fc_bias;
    loss cross_entropy(o, y);
}
"""


class TBn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3, bias=True)
        self.bn = torch.nn.BatchNorm2d(3)
        self.fc = torch.nn.Linear(27, 4)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).flatten(1))


class TMlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(6, 5)
        self.fc2 = torch.nn.Linear(5, 3)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


class TCnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3, bias=True)
        self.fc = torch.nn.Linear(27, 4)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def torch_grads(net, x, y, loss):
    net.zero_grad()
    out = net(torch.from_numpy(x))
    t = torch.from_numpy(y)
    if loss == "mse":
        value = torch.nn.MSELoss(reduction="sum")(out, t) / (2 * len(x))
    else:
        value = torch.nn.CrossEntropyLoss()(out, t)
    value.backward()
    return float(value), {k.replace(".", "_"): p.grad.numpy().copy()
                          for k, p in net.named_parameters()}


def gap(g, tg):
    """The largest difference over all parameters, relative to the
    largest gradient element."""
    scale = max(1.0, max(float(np.abs(v).max()) for v in tg.values()))
    return max(float(np.abs(g[k].reshape(tg[k].shape) - tg[k]).max())
               for k in tg) / scale


def check(what, src, net, x, y, loss):
    m = pcg.compile(src, batch=8, real="double", filename=what + ".pcg")
    net = net.double()
    missing, unexpected = m.load_state_dict(net.state_dict())
    tap.ok(not missing and not unexpected, "%s: every key maps" % what,
           "%s %s" % (missing, unexpected))
    g = m.grad_bp(x=x, y=y)
    tl, tg = torch_grads(net, x, y, loss)
    d = gap(g, tg)
    tap.ok(d <= TOL and abs(m.last_loss - tl) <= TOL * max(1, abs(tl)),
           "%s: grad_bp after load_state_dict equals torch autograd "
           "(float64, relative gap %.1e <= 1e-10; loss %.6g)"
           % (what, d, tl), "loss %r vs %r" % (m.last_loss, tl))
    # negative control: one weight perturbed by 1e-3
    k = next(iter(m.params))
    m.params[k].reshape(-1)[0] += 1e-3
    d2 = gap(m.grad_bp(x=x, y=y), tg)
    tap.ok(d2 > 1e-6, "%s: negative control: %s perturbed by 1e-3 "
           "moves the gradient by %.1e" % (what, k, d2))
    return m


def batchnorm(rng):
    """BatchNorm2d's weight, bias and running statistics: the buffers are
    pcc's <vertex>.running_mean and .running_var, so torch's bn.* keys
    reach a vertex named bn.  Evaluation (running statistics) and the
    training gradient (batch statistics) against torch, then one
    training step's update of the running statistics."""
    net = TBn().double()
    with torch.no_grad():
        net.bn.weight.uniform_(0.5, 1.5)
        net.bn.bias.uniform_(-0.5, 0.5)
        for _ in range(3):  # running statistics away from 0 and 1
            net(torch.from_numpy(rng.standard_normal((B, 2, 5, 5)) + 0.5))
    m = pcg.compile(BN, batch=8, real="double", filename="bn.pcg")
    missing, unexpected = m.load_state_dict(net.state_dict())
    tap.ok(not missing and not unexpected and np.array_equal(
        m.params["bn.running_var"], net.bn.running_var.numpy()),
        "batch norm: every key maps, running statistics included",
        "%s %s" % (missing, unexpected))
    x = rng.standard_normal((B, 2, 5, 5))
    y = np.eye(4)[rng.integers(0, 4, B)]
    net.eval()
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    got = m.predict(x=x)["o"]
    d = float(np.abs(got - want).max())
    tap.ok(d <= 1e-12, "batch norm: predict (running statistics) equals "
           "torch's eval mode (gap %.1e)" % d)
    net.train()
    _, tg = torch_grads(net, x, y, "ce")
    d = gap(m.grad_bp(x=x, y=y), tg)
    tap.ok(d <= TOL, "batch norm: grad_bp (batch statistics) equals torch "
           "autograd in train mode (relative gap %.1e)" % d)
    m.train_bp(0.0, x=x, y=y)  # torch_grads' forward updated torch's
    d = max(float(np.abs(m.params["bn." + k]
                         - getattr(net.bn, k).numpy()).max())
            for k in ("running_mean", "running_var"))
    tap.ok(d <= 1e-14, "batch norm: one training step updates the running "
           "statistics as torch's training forward does (gap %.1e)" % d)
    # negative control: without the running statistics (strict=False)
    fresh = pcg.compile(BN, batch=8, real="double", filename="bn.pcg")
    sd = {k: v for k, v in net.state_dict().items()
          if "running" not in k}
    missing, _ = fresh.load_state_dict(sd, strict=False)
    d = float(np.abs(fresh.predict(x=x)["o"] - want).max())
    tap.ok(sorted(missing) == ["bn.running_mean", "bn.running_var"]
           and d > 1e-6, "batch norm: negative control: without the "
           "running statistics predict is %.1e from torch's" % d)


def main():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((B, 6))
    y = rng.standard_normal((B, 3))
    check("mlp", MLP, TMlp(), x, y, "mse")

    x = rng.standard_normal((B, 2, 5, 5))
    logits = rng.standard_normal((B, 4))
    y = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    cnn = TCnn()
    m = check("cnn", CNN.replace("BIAS", "3, 1, 1"), cnn, x, y, "ce")
    tap.ok(m.params["conv_bias"].shape == (3, 1, 1)
           and np.array_equal(m.params["conv_bias"].reshape(3),
                              cnn.state_dict()["conv.bias"].numpy()),
           "cnn: torch's conv bias [3] went into [3, 1, 1]")

    # negative control: the bias in torch's shape [O] is pcc's bias along
    # the width (docs/conventions.md §4): the mapping copies it as is,
    # and the gradient is not torch's.
    wrong = pcg.compile(CNN.replace("BIAS", "3"), batch=8, real="double",
                        filename="cnn_wrong.pcg")
    wrong.load_state_dict(cnn.state_dict())
    _, tg = torch_grads(cnn, x, y, "ce")
    d = gap(wrong.grad_bp(x=x, y=y), tg)
    tap.ok(d > 1e-6, "cnn: negative control: the bias declared [O] "
           "(along the width) gives a gradient %.1e from torch's" % d)

    batchnorm(rng)

    # the mapping's errors
    sd = {k: v.clone() for k, v in cnn.state_dict().items()}
    before = m.state_dict()

    def fails(what, d, key, **kw):
        try:
            m.load_state_dict(d, **kw)
        except ValueError as e:
            same = all(np.array_equal(before[k], m.params[k])
                       for k in before)
            return tap.ok(key in str(e) and same, "load_state_dict: %s: "
                          "ValueError naming %s, nothing written"
                          % (what, key), str(e))
        return tap.ok(False, "load_state_dict: %s raises" % what)

    d = dict(sd)
    del d["fc.bias"]
    fails("a missing key", d, "fc_bias")
    d = dict(sd)
    d["extra.weight"] = torch.zeros(2)
    fails("an unexpected key", d, "extra.weight")
    d = dict(sd)
    d["fc.weight"] = sd["fc.weight"].t().contiguous()
    fails("a transposed weight", d, "fc.weight")
    d = dict(sd)
    d["conv.bias"] = torch.zeros(4)
    fails("a bias of the wrong length", d, "conv.bias")
    d = dict(sd)
    del d["fc.bias"]
    d["extra"] = np.zeros(3)
    missing, unexpected = m.load_state_dict(d, strict=False)
    tap.ok(missing == ["fc_bias"] and unexpected == ["extra"]
           and np.array_equal(m.params["fc_weight"],
                              sd["fc.weight"].numpy()),
           "load_state_dict(strict=False): loads the rest and returns "
           "(missing, unexpected) as torch does", "%s %s"
           % (missing, unexpected))
    m.load_state_dict({"W": sd["fc.bias"]} | {
        k: v for k, v in sd.items() if k != "fc.bias"},
        names={"W": "fc_bias"})
    tap.ok(np.array_equal(m.params["fc_bias"], sd["fc.bias"].numpy()),
           "load_state_dict(names=...): an explicit key -> parameter map")
    # torch's batch-norm counter is skipped, numpy arrays accepted
    d = {k: v.numpy() for k, v in sd.items()}
    d["bn.num_batches_tracked"] = np.array(3)
    missing, unexpected = m.load_state_dict(d)
    tap.ok(not missing and not unexpected, "load_state_dict: numpy "
           "arrays, and num_batches_tracked skipped")
    sd2 = m.state_dict()
    tap.ok(set(sd2) == set(m.params) and all(
        sd2[k] is not m.params[k] for k in sd2),
        "state_dict: copies of every parameter")
    return tap.done()


if __name__ == "__main__":
    raise SystemExit(main())
