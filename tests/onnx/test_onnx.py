"""pcc-onnx against PyTorch: models written here in torch, exported with
torch.onnx.export, converted by pcc-onnx, compiled by pcc in double and
driven through the pcg package.

    test_onnx.py PCC_ONNX

For each model (an MLP, a CNN with batch norm and pooling, a ResNet
block, a text classifier with an embedding and a 1-D convolution, a
transformer encoder layer at opsets 13 and 17, and a model of the
remaining operators):

- the forward pass (evaluation mode: running statistics, no dropout)
  equals torch's in float64, within 1e-10 of the largest output;
- BP's gradient of the loss --loss adds equals torch autograd's of the
  same loss written in torch (docs/conventions.md §2: pcc's mean over the
  batch of per-sample sums), within 1e-10 of the parameter's largest
  gradient (or of 1e-3 times the model's largest, for a gradient that is
  zero by structure: a bias before batch norm, a key's bias before
  softmax), in training mode (batch statistics);
- one SGD step of train_bp equals torch.optim.SGD's step, within 1e-10;
- fine-tuning from the converted checkpoint, three train_zil steps equal
  three train_bp steps bit for bit (parameters and running statistics),
  with dropout active in the models that have it.

Also: the converted models compile without a warning; the exporter's
defaults (evaluation mode, constant folding, no --loss) give inference
models whose float forward pass is torch's within 1e-5.

Negative controls: a perturbed weight and a transposed weight change the
forward pass beyond the tolerance; torch's default mean reduction gives
other gradients; Z-IL with another learning rate ends on other bits.
Rejections: an unsupported operator, a dynamic (non-batch) dimension, a
reshape that merges the batch into another axis and a graph of two
models each name the node and leave no file behind.

Skips cleanly (TAP # SKIP) without numpy, torch or onnx, and in a
sanitized build (the runtime cannot be loaded into Python).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from tap import ok, skip, done  # noqa: E402

TOL = 1e-10

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import onnx
    import onnx.numpy_helper  # noqa: F401
    import pcg
except ImportError as e:
    skip("pcc-onnx against PyTorch", "missing %s" % e.name)
    sys.exit(done())
if os.environ.get("PCG_TEST_SANITIZE", "none") != "none":
    skip("pcc-onnx against PyTorch", "sanitized build: the runtime cannot "
         "be loaded into Python")
    sys.exit(done())

PCC_ONNX = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="pcc-onnx-test.")
torch.set_default_dtype(torch.float64)


def sane(name):
    """The parameter name the contract promises: the initializer's name
    with every character outside [A-Za-z0-9_] made '_'."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def convert(onnx_path, stem, loss=None, extra=()):
    pcg_path = os.path.join(TMP, stem + ".pcg")
    ckpt = os.path.join(TMP, stem + ".ckpt")
    cmd = [sys.executable, PCC_ONNX, onnx_path, "-o", pcg_path,
           "--checkpoint", ckpt, "--real", "double"] + list(extra)
    if loss:
        cmd += ["--loss", loss]
    r = subprocess.run(cmd, capture_output=True, text=True)
    return r, pcg_path, ckpt


def export(model, args, stem, opset=13, dynamic_batch=False, names=None):
    path = os.path.join(TMP, stem + ".onnx")
    names = names or ["x"]
    dyn = {n: {0: "batch"} for n in names} if dynamic_batch else None
    model.train()
    with torch.no_grad():
        torch.onnx.export(model, args, path, opset_version=opset,
                          input_names=names, output_names=["out"],
                          dynamic_axes=dyn,
                          training=torch.onnx.TrainingMode.TRAINING,
                          do_constant_folding=False)
    return path


def sync(model, onnx_path):
    """Give the torch model the exported values (the trace ran it once in
    training mode, moving its running statistics); returns the entries of
    its state dict that are not initializers."""
    inits = {i.name: onnx.numpy_helper.to_array(i)
             for i in onnx.load(onnx_path).graph.initializer}
    sd = model.state_dict()
    with torch.no_grad():
        for k in sd:
            if k in inits:
                sd[k].copy_(torch.from_numpy(inits[k].copy()))
    return [k for k in sd if k not in inits and
            not k.endswith("num_batches_tracked")]


def pcc_name(k):
    """A torch state-dict key as the converted model names it: parameters
    after their initializer, a batch norm's running statistics after the
    statement of its node (pcc's '<vertex>.running_mean')."""
    for stat in ("running_mean", "running_var"):
        if k.endswith("." + stat):
            mod = k[:-len(stat) - 1]
            return "%s_BatchNormalization.%s" % (sane(mod), stat)
    return sane(k)


def rel(a, b, floor=1e-300):
    """max |a - b| relative to max |b| (or to floor, when that is larger:
    a gradient that is zero by structure, as a bias before batch norm,
    is compared relative to the model's gradients)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), floor))


def torch_loss(kind, out, y, reduction="sum"):
    """pcc's loss (per-sample sum, batch mean) written in torch."""
    B = out.shape[0]
    if reduction != "sum":
        return torch_loss(kind, out, y) * B
    if kind == "mse":
        if reduction == "mean":
            return F.mse_loss(out, y)
        return 0.5 * ((out - y) ** 2).sum() / B
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(out, y,
                                                  reduction=reduction) / \
            (B if reduction == "sum" else 1)
    C = out.shape[-1]
    return F.cross_entropy(out.reshape(-1, C), y.reshape(-1),
                           reduction=reduction) / \
        (B if reduction == "sum" else 1)


def state_bits(m):
    return {k: v.copy().view(np.uint64) for k, v in m.state_dict().items()}


def check_model(label, model, make_x, make_y, loss, opset=13,
                dynamic_batch=False, B=4, int_input=False, controls=False):
    """The checks of the module docstring for one torch model."""
    torch.manual_seed(1)
    x0 = make_x(3)
    path = export(model, (x0,), label, opset, dynamic_batch)
    r, pcg_path, ckpt = convert(path, label, loss)
    if not ok(r.returncode == 0, "%s: pcc-onnx converts it" % label,
              r.stderr):
        return None
    missing = sync(model, path)
    ok(not missing, "%s: every torch parameter and buffer is an "
       "initializer" % label, "missing: %s" % missing)
    sd = model.state_dict()
    sd0 = {k: v.clone() for k, v in sd.items()}
    m = pcg.compile(pcg_path, batch=B, real="double")
    ok(not getattr(m, "warnings", []), "%s: pcc compiles the converted "
       "model without a warning" % label,
       "\n".join(str(w) for w in getattr(m, "warnings", [])))
    m.load(ckpt)
    names = [p.name for p in m.param_info]
    want = [sane(k) for k in sd if not k.endswith("num_batches_tracked")
            and not k.endswith("running_mean") and
            not k.endswith("running_var")]
    ok(all(w in names for w in want),
       "%s: the parameters are named after the initializers" % label,
       "pcc: %s\nwanted: %s" % (names, want))

    torch.manual_seed(2)
    x, y = make_x(B), make_y(B)
    xn = x.numpy().astype(np.int32) if int_input else x.numpy()
    yn = y.numpy().astype(np.int32) if loss == "cross_entropy" else \
        y.numpy()

    # forward, evaluation mode
    model.eval()
    with torch.no_grad():
        ref = model(x).numpy()
    out = m.predict(x=xn)["out"]
    e = rel(out, ref)
    ok(e <= TOL, "%s: the forward pass equals torch's (eval mode; "
       "relative error %.1e)" % (label, e))

    if controls:
        # negative controls: a weight perturbed by 1e-6, a layout transposed
        name = controls
        keep = m.params[name].copy()
        m.params[name].flat[0] += 1e-6
        e = rel(m.predict(x=xn)["out"], ref)
        ok(e > TOL, "%s: control: a weight perturbed by 1e-6 is detected "
           "(relative error %.1e)" % (label, e))
        m.params[name][...] = keep.T
        e = rel(m.predict(x=xn)["out"], ref)
        ok(e > TOL, "%s: control: the weight transposed is detected "
           "(relative error %.1e)" % (label, e))
        m.params[name][...] = keep

    # gradients, training mode
    model.train()
    model.zero_grad()
    L = torch_loss(loss, model(x), y)
    L.backward()
    g = m.grad_bp(x=xn, y=yn)
    ok(abs(m.last_loss - L.item()) <= TOL * abs(L.item()),
       "%s: the loss equals torch's (%.12g, %.12g)" % (label, m.last_loss,
                                                       L.item()))
    worst, bad = 0.0, []
    scale = max(float(p.grad.abs().max()) for p in model.parameters())
    for k, p in model.named_parameters():
        e = rel(g[sane(k)], p.grad.numpy(), 1e-3 * scale)
        worst = max(worst, e)
        if e > TOL:
            bad.append("%s %.1e" % (k, e))
    ok(not bad, "%s: BP's gradient equals torch autograd's (worst "
       "relative error %.1e)" % (label, worst), "\n".join(bad))
    if controls:
        model.zero_grad()
        torch_loss(loss, model(x), y, "sum over the batch").backward()
        worst = max(rel(g[sane(k)], p.grad.numpy())
                    for k, p in model.named_parameters())
        ok(worst > TOL, "%s: control: the loss summed over the batch (no "
           "batch mean) gives other gradients (relative difference %.1e)"
           % (label, worst))

    # one SGD step against torch.optim.SGD, from the converted state (the
    # gradient's forward pass above moved torch's running statistics)
    lr = 0.05
    start = {k: v.copy() for k, v in m.state_dict().items()}
    model.load_state_dict(sd0)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    opt.zero_grad()
    torch_loss(loss, model(x), y).backward()
    opt.step()
    m.train_bp(lr, x=xn, y=yn)
    worst = 0.0
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        worst = max(worst, rel(m.params[pcc_name(k)], v.numpy()))
    ok(worst <= TOL, "%s: a train_bp step equals torch.optim.SGD's, "
       "running statistics included (worst relative error %.1e)"
       % (label, worst))
    model.load_state_dict(sd0)
    return m, start, (xn, yn), pcg_path


def zil_equals_bp(label, m, start, data_fn, steps=3, lr=0.05,
                  control=False):
    """Fine-tuning from the checkpoint: train_zil == train_bp, bit for
    bit, over a few steps with fresh data each."""
    def run(kind, lr):
        m.load_state_dict(start)
        m.reset_state()
        f = m.train_zil if kind == "zil" else m.train_bp
        for s in range(steps):
            xn, yn = data_fn(s)
            f(lr, x=xn, y=yn)
        return state_bits(m)
    bp = run("bp", lr)
    zil = run("zil", lr)
    same = all(np.array_equal(bp[k], zil[k]) for k in bp)
    moved = any(not np.array_equal(bp[k], start[k].view(np.uint64))
                for k in bp)
    ok(same and moved, "%s: %d train_zil steps from the converted "
       "checkpoint equal %d train_bp steps bit for bit" % (label, steps,
                                                          steps))
    if control:
        other = run("zil", lr * 1.0000001)
        ok(any(not np.array_equal(bp[k], other[k]) for k in bp),
           "%s: control: Z-IL with another learning rate ends on other "
           "bits" % label)


def data_maker(make_x, make_y, int_input, loss):
    def fn(s):
        torch.manual_seed(100 + s)
        x, y = make_x(4), make_y(4)
        return (x.numpy().astype(np.int32) if int_input else x.numpy(),
                y.numpy().astype(np.int32) if loss == "cross_entropy"
                else y.numpy())
    return fn


# -- the models ---------------------------------------------------------

class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.fc2 = nn.Linear(8, 8)
        self.fc3 = nn.Linear(8, 5)

    def forward(self, x):
        h = torch.tanh(self.fc1((x - 0.5) / 2))
        h = F.leaky_relu(self.fc2(h), 0.1) * torch.sigmoid(h)
        return self.fc3(h)


class CNN(nn.Module):
    def __init__(self, p=0.0):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
        self.bn2 = nn.BatchNorm2d(6, momentum=0.2)
        self.avg = nn.AvgPool2d(2, stride=1)
        self.drop = nn.Dropout(p)
        self.fc = nn.Linear(6, 5)

    def forward(self, x):
        h = self.pool(F.relu(self.bn1(self.conv1(x))))
        h = self.avg(F.relu(self.bn2(self.conv2(h))))
        h = h.view(h.size(0), -1)
        return self.fc(self.drop(h))


class ResBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=2, dilation=2, bias=False)
        self.bn2 = nn.BatchNorm2d(4)
        self.head = nn.Linear(4, 3)
        self.gap = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)) + x)
        return self.head(torch.flatten(self.gap(h), 1))


class TextCls(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 6)
        self.conv = nn.Conv1d(6, 5, 3, padding=2, dilation=2)
        self.out = nn.Linear(10, 3)

    def forward(self, tok):
        e = self.emb(tok).transpose(1, 2)           # [B, 6, T]
        h = F.relu(self.conv(e))                    # [B, 5, T]
        feat = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        return self.out(feat)


class Encoder(nn.Module):
    """nn.TransformerEncoderLayer's computation (post-norm, GELU), with
    the batch kept leading, and a token-classification head."""

    def __init__(self, D=8, H=2, FF=16, C=4, p=0.0):
        super().__init__()
        self.H, self.E = H, D // H
        self.q, self.k, self.v = nn.Linear(D, D), nn.Linear(D, D), \
            nn.Linear(D, D)
        self.o = nn.Linear(D, D)
        self.norm1, self.norm2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.ff1, self.ff2 = nn.Linear(D, FF), nn.Linear(FF, D)
        self.drop = nn.Dropout(p)
        self.head = nn.Linear(D, C)

    def forward(self, x):
        B, T, D = x.shape
        q = self.q(x).view(B, T, self.H, self.E).transpose(1, 2)
        k = self.k(x).view(B, T, self.H, self.E).transpose(1, 2)
        v = self.v(x).view(B, T, self.H, self.E).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-2, -1) / self.E ** 0.5, dim=-1)
        z = (self.drop(a) @ v).transpose(1, 2).reshape(B, T, D)
        h = self.norm1(x + self.drop(self.o(z)))
        f = self.ff2(self.drop(F.gelu(self.ff1(h))))
        return self.head(self.norm2(h + self.drop(f)))


class Ops(nn.Module):
    """The remaining operators: LayerNorm over two axes and with another
    eps (written out), softmax on a middle axis, LogSoftmax, ReduceSum,
    a constant index and a slice, Clip, Elu, Pow, Max, a 1-D max pool and
    an average pool whose padding the exporter writes as a Pad node."""

    def __init__(self):
        super().__init__()
        self.ln2 = nn.LayerNorm((5, 6))
        self.ln3 = nn.LayerNorm(6, eps=1e-3)
        self.fc = nn.Linear(6, 6)
        self.pool1 = nn.MaxPool1d(3, stride=2, padding=1)
        self.pool2 = nn.AvgPool2d(3, stride=1, padding=1)

    def forward(self, x):                       # [B, 5, 6]
        h = self.ln3(self.fc(self.ln2(x)))
        a = torch.softmax(h, dim=1) + F.log_softmax(h, dim=-1)
        b = torch.clamp(F.elu(h, 0.5), -0.8, 2.0).pow(3)
        c = torch.maximum(a, b) + h.sum(dim=2, keepdim=True)
        d = self.pool1(c[:, 1:4] * h[:, 0:1])            # [B, 3, 3]
        e = self.pool2(c.unsqueeze(1)).squeeze(1)        # [B, 5, 6]
        return torch.cat([d.flatten(1), e[:, 2]], dim=1)  # [B, 15]


def main():
    torch.manual_seed(0)

    # the remaining operators, and the written-out layer norms
    mk_x = lambda B: torch.randn(B, 5, 6)
    mk_y = lambda B: torch.randn(B, 15)
    res = check_model("ops", Ops(), mk_x, mk_y, "mse")
    if res:
        m, start, _, pcg_path = res
        zil_equals_bp("ops", m, start, data_maker(mk_x, mk_y, False, "mse"))

    # MLP: Gemm, Sub/Div by constants, Tanh, LeakyRelu, Sigmoid, Mul
    mk_x = lambda B: torch.randn(B, 6)
    mk_y = lambda B: torch.randint(0, 5, (B,))
    res = check_model("mlp", MLP(), mk_x, mk_y, "cross_entropy",
                      controls="fc2_weight")
    if res:
        m, start, _, _ = res
        zil_equals_bp("mlp", m, start, data_maker(mk_x, mk_y, False,
                                                  "cross_entropy"),
                      control=True)

    # CNN with batch norm and pooling, dynamic batch, view(size(0), -1)
    mk_x = lambda B: torch.randn(B, 3, 8, 8)
    net = CNN()
    with torch.no_grad():
        for bn in (net.bn1, net.bn2):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
    res = check_model("cnn", net, mk_x, mk_y, "cross_entropy",
                      dynamic_batch=True)
    if res:
        m, start, _, _ = res
        zil_equals_bp("cnn", m, start, data_maker(mk_x, mk_y, False,
                                                  "cross_entropy"))
    # the same CNN with dropout: forward in eval mode, Z-IL == BP with
    # dropout's masks drawn by pcc
    drop = CNN(p=0.25)
    drop.load_state_dict(net.state_dict())
    path = export(drop, (mk_x(2),), "cnn_drop", dynamic_batch=True)
    r, pcg_path, ckpt = convert(path, "cnn_drop", "cross_entropy")
    text = open(pcg_path).read() if r.returncode == 0 else ""
    ok("dropout(" in text and "0.25)" in text,
       "cnn with dropout: the Dropout node is pcc's dropout(x, 0.25)",
       r.stderr)
    if r.returncode == 0:
        m = pcg.compile(pcg_path, batch=4, real="double")
        m.load(ckpt)
        sync(drop, path)
        drop.eval()
        torch.manual_seed(5)
        x = mk_x(4)
        with torch.no_grad():
            ref = drop(x).numpy()
        e = rel(m.predict(x=x.numpy())["out"], ref)
        ok(e <= TOL, "cnn with dropout: the forward pass equals torch's "
           "(eval mode; relative error %.1e)" % e)
        zil_equals_bp("cnn with dropout", m, m.state_dict(),
                      data_maker(mk_x, mk_y, False, "cross_entropy"))

    # ResNet block: bias-free dilated convolutions, two batch norms, the
    # skip connection, GlobalAveragePool and Flatten; mse at opset 11
    mk_x = lambda B: torch.randn(B, 4, 6, 6)
    mk_yr = lambda B: torch.randn(B, 3)
    res = check_model("resnet", ResBlock(), mk_x, mk_yr, "mse", opset=11)
    if res:
        m, start, _, _ = res
        zil_equals_bp("resnet", m, start, data_maker(mk_x, mk_yr, False,
                                                     "mse"))

    # text classifier: Gather (embedding), Conv1d, ReduceMean, ReduceMax,
    # Concat; bce
    mk_t = lambda B: torch.randint(0, 20, (B, 7))
    mk_yb = lambda B: torch.rand(B, 3)
    res = check_model("textcls", TextCls(), mk_t, mk_yb, "bce",
                      int_input=True)
    if res:
        m, start, _, pcg_path = res
        ok("input int x[7] < 20;" in open(pcg_path).read(),
           "textcls: the token ids are an integer input bounded by the "
           "table's rows")
        zil_equals_bp("textcls", m, start, data_maker(mk_t, mk_yb, True,
                                                      "bce"))

    # transformer encoder layer, opset 13 (LayerNorm and GELU as the
    # exporter decomposes them) and 17 (LayerNormalization)
    mk_x = lambda B: torch.randn(B, 5, 8)
    mk_yt = lambda B: torch.randint(0, 4, (B, 5))
    for opset in (13, 17):
        label = "encoder opset %d" % opset
        enc = Encoder()
        res = check_model(label, enc, mk_x, mk_yt, "cross_entropy",
                          opset=opset)
        if res:
            m, start, _, pcg_path = res
            text = open(pcg_path).read()
            ok(text.count("layernorm(") == 2 and text.count("gelu(") == 1,
               "%s: LayerNorm and GELU become layernorm and gelu" % label,
               text)
            zil_equals_bp(label, m, start,
                          data_maker(mk_x, mk_yt, False, "cross_entropy"))
    # with dropout in training: Z-IL == BP to the bit
    enc = Encoder(p=0.1)
    path = export(enc, (mk_x(2),), "encoder_drop")
    r, pcg_path, ckpt = convert(path, "encoder_drop", "cross_entropy")
    ok(r.returncode == 0 and open(pcg_path).read().count("dropout(") == 4,
       "encoder with dropout: converted, four dropouts", r.stderr)
    if r.returncode == 0:
        m = pcg.compile(pcg_path, batch=4, real="double")
        m.load(ckpt)
        zil_equals_bp("encoder with dropout", m, m.state_dict(),
                      data_maker(mk_x, mk_yt, False, "cross_entropy"))

    inference_float()
    rejections()


def inference_float():
    """The exporter's defaults (evaluation mode, constant folding: batch
    norm folded into the convolution, pre-transposed weights named
    onnx::MatMul_N), no --loss, a float checkpoint: an inference model
    whose float forward pass is torch's within float's rounding."""
    torch.manual_seed(7)
    # a fresh BatchNorm1d's weight equals its running variance and its
    # bias its running mean: the exporter keeps one initializer of each
    # pair and makes the other an Identity node
    bnmlp = nn.Sequential(nn.Linear(6, 6), nn.BatchNorm1d(6), nn.Tanh(),
                          nn.Linear(6, 3))
    for label, net, x in (("cnn", CNN(), torch.randn(4, 3, 8, 8)),
                          ("encoder", Encoder(), torch.randn(4, 5, 8)),
                          ("mlp with a fresh batch norm", bnmlp,
                           torch.randn(4, 6))):
        label += " exported for inference, float"
        net = net.float().eval()
        x = x.float()
        path = os.path.join(TMP, "inf.onnx")
        with torch.no_grad():
            torch.onnx.export(net, (x[:2],), path, opset_version=13,
                              input_names=["x"], output_names=["out"])
            ref = net(x).double().numpy()
        pcg_path = os.path.join(TMP, "inf.pcg")
        ckpt = os.path.join(TMP, "inf.ckpt")
        r = subprocess.run([sys.executable, PCC_ONNX, path, "-o", pcg_path,
                            "--checkpoint", ckpt], capture_output=True,
                           text=True)
        if not ok(r.returncode == 0 and "output out;" in
                  open(pcg_path).read(), "%s: converted with an output "
                  "statement and no loss" % label, r.stderr):
            continue
        m = pcg.compile(pcg_path, batch=4, real="float")
        m.load(ckpt)
        e = rel(m.predict(x=x.numpy())["out"], ref)
        ok(e <= 1e-5, "%s: the forward pass equals torch's (relative "
           "error %.1e)" % (label, e))
    torch.set_default_dtype(torch.float64)


def rejected(label, model, args, what, opset=13, dyn=None, names=None):
    """pcc-onnx refuses the export of model, naming what it must, and
    leaves no file (nor a temporary) behind."""
    d = tempfile.mkdtemp(dir=TMP)
    path = os.path.join(d, "m.onnx")
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, args, path, opset_version=opset,
                          input_names=names or ["x"], dynamic_axes=dyn)
    out = os.path.join(d, "m.pcg")
    ck = os.path.join(d, "m.ckpt")
    r = subprocess.run([sys.executable, PCC_ONNX, path, "-o", out,
                        "--checkpoint", ck], capture_output=True, text=True)
    left = sorted(set(os.listdir(d)) - {"m.onnx"})
    ok(r.returncode == 1 and all(w in r.stderr for w in what)
       and not left and "Traceback" not in r.stderr,
       "rejected: %s (%s)" % (label, r.stderr.strip().split("m.onnx: ")[-1]
                              [:160]),
       "status %d, files left %s\n%s" % (r.returncode, left, r.stderr))


class CumSum(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return torch.cumsum(self.fc(x), dim=1)


class Merge(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x.reshape(-1, 4))


class Two(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(4, 2), nn.Linear(4, 2)

    def forward(self, x, z):
        return self.a(x), self.b(z)


def rejections():
    x = torch.randn(2, 4)
    rejected("an unsupported operator", CumSum(), (x,),
             ["CumSum", "/CumSum", "not supported"])
    rejected("a dynamic dimension", MLPSeq(), (torch.randn(2, 5, 4),),
             ["'x'", "'T'", "axis 1", "dynamic", "MatMul"],
             dyn={"x": {0: "batch", 1: "T"}})
    rejected("a reshape that merges the batch", Merge(),
             (torch.randn(2, 3, 4),), ["Reshape", "across samples"])
    rejected("a graph of two models", Two(), (x, torch.randn(2, 4)),
             ["2 unconnected models"], names=["x", "z"])

    # the command line: pcc's exit statuses (docs/api.md §1)
    d = tempfile.mkdtemp(dir=TMP)
    path = os.path.join(d, "m.onnx")
    with torch.no_grad():
        torch.onnx.export(MLPSeq().eval(), (x,), path, opset_version=13,
                          input_names=["x"])
    junk = os.path.join(d, "junk.onnx")
    with open(junk, "wb") as f:
        f.write(b"not a model")
    for what, args, status in (
            ("a bad model name", [path, "-o", os.path.join(d, "a.pcg"),
                                  "--name", "3x"], 2),
            ("no -o", [path], 2),
            ("a file that is not ONNX", [junk, "-o",
                                         os.path.join(d, "a.pcg")], 3),
            ("an output folder that does not exist",
             [path, "-o", os.path.join(d, "no", "a.pcg")], 3),
            ("a checkpoint folder that does not exist",
             [path, "-o", os.path.join(d, "a.pcg"), "--checkpoint",
              os.path.join(d, "no", "a.ckpt")], 3)):
        r = subprocess.run([sys.executable, PCC_ONNX] + args,
                           capture_output=True, text=True)
        left = sorted(set(os.listdir(d)) - {"m.onnx", "junk.onnx"})
        ok(r.returncode == status and not left and
           "Traceback" not in r.stderr,
           "%s: status %d, no file written" % (what, status),
           "status %d, files %s\n%s" % (r.returncode, left, r.stderr))


class MLPSeq(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return torch.tanh(self.fc(x))


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(done())
