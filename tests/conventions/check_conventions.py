#!/usr/bin/env python3
"""The conversions of docs/conventions.md, checked against PyTorch.

  check_conventions.py PCC CC RUNTIME_DIR LIBPCG_RUNTIME [LINK_ARGS...]

For each small model below, pcc generates double-precision code for a
batch of 3; a driver sets the parameters and the data, runs P_grad_bp and
prints the loss, the gradient and the outputs.  The same model, written
with torch.nn modules and losses at their defaults, is evaluated in
float64 and mapped through the conversion the document states:

  - every named loss against torch.nn's loss with reduction='mean'
    (the loss value and every gradient, within 1e-10 relative);
  - torch.nn.Linear's weight [out, in] used as pcc's W in W @ x;
  - torch.nn.Conv2d's weight used as pcc's kernel, its bias [O] as a
    pcc parameter [O, 1, 1];
  - predictive coding as the PC libraries run it (an energy summed over
    the batch, T iterations of torch.optim.SGD on the value nodes, the
    parameters' gradient at the last one): B times P_grad_pc with
    steps = T - 1, and with MSELoss() as the loss, P_grad_pc_weighted
    with beta = 2 / (B K); with the batch mean of the energies and the
    value nodes at rate lr, P_grad_pc with gamma = lr / B.

Each conversion has a negative control: the value without the
conversion (or with the other layout) must differ by more than 1e-6.
Prints TAP; skips where torch is missing.
"""
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
B = 3

PCC, CC, RUNTIME, LIBRT = sys.argv[1:5]
LINK_EXTRA = sys.argv[5:]

DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "m.h"
static m_params p, g;
static m_state s;
static int
get(double *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (scanf("%lf", &a[i]) != 1)
			return 0;
	return 1;
}
int
main(int argc, char **argv)
{
	if (!get((double *)&p, sizeof p / sizeof(double)) ||
	    !get((double *)&s.in, sizeof s.in / sizeof(double)) ||
	    !get((double *)&s.target, sizeof s.target / sizeof(double)))
		return 1;
	double loss;
#ifdef WITH_PC
	if (argc == 4)
		loss = m_grad_pc_weighted(&p, &s, &g, atoi(argv[1]),
					  atof(argv[2]), atof(argv[3]));
	else
#endif
		loss = m_grad_bp(&p, &s, &g);
	(void)argc;
	(void)argv;
	printf("%.17g\n", loss);
	for (size_t i = 0; i < sizeof g / sizeof(double); i++)
		printf("%.17g\n", ((double *)&g)[i]);
	for (size_t i = 0; i < sizeof s.out / sizeof(double); i++)
		printf("%.17g\n", ((double *)&s.out)[i]);
	return 0;
}
"""

def ok(cond, what, diag=None):
    """A check, then diag's lines as comments whatever the result (the
    figures compared)."""
    tap.ok(cond, what)
    if diag:
        for line in str(diag).splitlines():
            print("# " + line)
        sys.stdout.flush()


def rel(a, b):
    """largest difference of two tensors, relative to the largest of b"""
    a = torch.as_tensor(a).reshape(-1)
    b = torch.as_tensor(b).reshape(-1)
    scale = max(float(b.abs().max()), 1e-300)
    return float((a - b).abs().max()) / scale


def run_pcc(tmp, name, source, params, inputs, targets, pc=None):
    """generate, build and run one model; params, inputs and targets are
    lists of tensors in declaration order (inputs and targets with the
    batch axis in front).  With pc = (steps, gamma, beta) the driver runs
    P_grad_pc_weighted instead of P_grad_bp.  Returns (loss, flat
    gradient, flat outputs)."""
    d = os.path.join(tmp, name)
    os.mkdir(d)
    pcg = os.path.join(d, "m.pcg")
    with open(pcg, "w") as f:
        f.write(source)
    r = subprocess.run([PCC, pcg, "-o", os.path.join(d, "m.c"), "--prefix",
                        "m", "--real", "double", "--batch", str(B),
                        "--methods", "bp,pc" if pc else "bp"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("pcc: " + r.stderr)
    with open(os.path.join(d, "driver.c"), "w") as f:
        f.write(DRIVER)
    exe = os.path.join(d, "run")
    r = subprocess.run([CC, "-std=c11", "-O1", "-I" + RUNTIME, "-I" + d]
                       + (["-DWITH_PC"] if pc else []) + [
                        os.path.join(d, "m.c"), os.path.join(d, "driver.c"),
                        LIBRT, "-lm", "-o", exe] + LINK_EXTRA,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("cc: " + r.stderr)
    flat = []
    for group in (params, inputs, targets):
        for t in group:
            flat += ["%.17g" % v for v in t.reshape(-1).tolist()]
    args = [exe] + (["%d" % pc[0], "%.17g" % pc[1], "%.17g" % pc[2]]
                    if pc else [])
    r = subprocess.run(args, input="\n".join(flat) + "\n",
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("driver failed: " + r.stderr)
    vals = [float(v) for v in r.stdout.split()]
    npar = sum(t.numel() for t in params)
    return (vals[0], torch.tensor(vals[1:1 + npar]),
            torch.tensor(vals[1 + npar:]))


def flat_grads(tensors):
    return torch.cat([t.grad.reshape(-1) for t in tensors])


def check_loss(tmp, name, pcg_loss, torch_loss, factor, factor_text,
               out_shape=(3,), make_target=None):
    """o = W @ x + b (a torch.nn.Linear) with pcc's loss pcg_loss against
    torch_loss (reduction='mean') times factor."""
    torch.manual_seed(sum(map(ord, name)))
    lin = torch.nn.Linear(4, out_shape[-1])
    rows = out_shape[0] if len(out_shape) == 2 else None
    x = torch.randn((B, rows, 4) if rows else (B, 4))
    y = make_target(B) if make_target else torch.randn((B,) + out_shape)
    if rows:
        src = """model %s {
    input  x[%d, 4];
    target y[%d, %d];
    param  W[%d, 4];
    param  b[%d];
    o = x @ transpose(W) + b;
    loss %s;
}
""" % (name, rows, rows, out_shape[1], out_shape[1], out_shape[1], pcg_loss)
    else:
        src = """model %s {
    input  x[4];
    target y[%d];
    param  W[%d, 4];
    param  b[%d];
    o = W @ x + b;
    loss %s;
}
""" % (name, out_shape[0], out_shape[0], out_shape[0], pcg_loss)
    W = lin.weight.detach().clone()
    b = lin.bias.detach().clone()
    loss, grad, out = run_pcc(tmp, name, src, [W, b], [x], [y])

    o = lin(x)
    if rows and torch_loss is torch.nn.CrossEntropyLoss:
        # torch takes the classes on axis 1
        tl = torch_loss()(o.reshape(-1, out_shape[1]),
                          y.reshape(-1, out_shape[1]))
    else:
        tl = torch_loss()(o, y)
    tl.backward()
    tgrad = torch.cat([lin.weight.grad.reshape(-1), lin.bias.grad])
    ok(rel(out, o.detach()) <= TOL,
       "%s: torch.nn.Linear's weight [out, in] is pcc's W in W @ x"
       % name, "outputs differ by %.3g" % rel(out, o.detach()))
    e_loss = abs(loss - factor * float(tl)) / abs(factor * float(tl))
    ok(e_loss <= TOL, "%s: loss = %s" % (name, factor_text),
       "pcc %.17g, torch converted %.17g" % (loss, factor * float(tl)))
    e_grad = rel(grad, factor * tgrad)
    ok(e_grad <= TOL, "%s: gradient = %s" % (name, factor_text),
       "largest relative difference %.3g" % e_grad)
    # negative controls: without the factor the values differ (where the
    # factor is 1, torch's reduction='sum', which the PC libraries use)
    ctl, what = (1.0, "unconverted") if factor != 1 else (B, "summed")
    ok(abs(loss - ctl * float(tl)) / abs(ctl * float(tl)) > 1e-6 and
       rel(grad, ctl * tgrad) > 1e-6,
       "%s: control: torch's %s loss and gradient differ" % (name, what))
    return W, out


def probs(shape):
    def make(batch):
        return torch.softmax(torch.randn((batch,) + shape), dim=-1)
    return make


def check_linear_layout(tmp):
    """the [in, out] layout (W transposed) does not give torch's output"""
    torch.manual_seed(7)
    lin = torch.nn.Linear(4, 3)
    x = torch.randn(B, 4)
    y = torch.randn(B, 3)
    src = """model lt {
    input  x[4];
    target y[3];
    param  W[3, 4];
    param  b[3];
    o = W @ x + b;
    loss mse(o, y);
}
"""
    wrong = lin.weight.detach().t().contiguous()   # [in, out] memory order
    _, _, out = run_pcc(tmp, "lt", src, [wrong, lin.bias.detach()], [x], [y])
    ok(rel(out, lin(x).detach()) > 1e-6,
       "control: the weight in [in, out] order gives another output")


def check_conv(tmp):
    """torch.nn.Conv2d(2, 3, 3, padding=1): weight as pcc's kernel, bias [3]
    as pcc's c[3, 1, 1]; the input is [2, 5, 3] so that a pcc bias of shape
    [3] also compiles, and broadcasts along the width instead."""
    torch.manual_seed(11)
    conv = torch.nn.Conv2d(2, 3, 3, padding=1)
    x = torch.randn(B, 2, 5, 3)
    y = torch.randn(B, 3, 5, 3)
    src = """model cv {
    input  x[2, 5, 3];
    target y[3, 5, 3];
    param  K[3, 2, 3, 3];
    param  c[%s];
    o = conv2d(x, K, pad=1) + c;
    loss mse(o, y);
}
"""
    K = conv.weight.detach().clone()
    c = conv.bias.detach().clone()
    loss, grad, out = run_pcc(tmp, "cv", src % "3, 1, 1",
                              [K, c.reshape(3, 1, 1)], [x], [y])
    o = conv(x)
    tl = torch.nn.MSELoss(reduction="sum")(o, y) / (2 * B)
    tl.backward()
    ok(rel(out, o.detach()) <= TOL,
       "conv2d: torch's Conv2d weight is pcc's kernel, its bias [O] is "
       "pcc's [O, 1, 1]", "outputs differ by %.3g" % rel(out, o.detach()))
    tgrad = torch.cat([conv.weight.grad.reshape(-1), conv.bias.grad])
    ok(abs(loss - float(tl)) / float(tl) <= TOL and rel(grad, tgrad) <= TOL,
       "conv2d: mse = MSELoss(reduction='sum') / (2 B); bias gradient "
       "[O, 1, 1] is torch's [O]",
       "loss %.17g vs %.17g, gradient %.3g" % (loss, float(tl),
                                                rel(grad, tgrad)))
    _, _, out2 = run_pcc(tmp, "cvbad", src % "3", [K, c], [x], [y])
    ok(rel(out2, o.detach()) > 1e-6,
       "control: a pcc bias of shape [O] broadcasts along the width and "
       "does not give torch's output")


PC_MODEL = """model pcmlp {
    input  x[4];
    target y[2];
    param  W1[5, 4];
    param  b1[5];
    param  W2[2, 5];
    param  b2[2];
    h = tanh(W1 @ x + b1);
    o = W2 @ h + b2;
    loss mse(o, y);
}
"""


def torch_pc(params, x, y, T, gamma, loss_fn, scale=1.0):
    """Predictive coding written with torch only, the way the PC libraries
    train (PCTrainer's defaults): one value node h started at the forward
    pass, an energy summed over the elements and the batch plus a loss,
    T iterations each taking one backward pass of that total and one
    torch.optim.SGD step of the value nodes, the parameters' gradient
    taken at the last iteration (before its value step).  scale = 1/B
    minimises the batch mean instead of the sum (pcx's examples)."""
    W1, b1, W2, b2 = [t.clone().requires_grad_() for t in params]
    xh = torch.tanh(x @ W1.t() + b1).detach().clone().requires_grad_()
    opt = torch.optim.SGD([xh], lr=gamma)
    grads = None
    for t in range(T):
        mu = torch.tanh(x @ W1.t() + b1)
        o = xh @ W2.t() + b2
        total = scale * (loss_fn(o, y) + 0.5 * ((mu - xh) ** 2).sum())
        opt.zero_grad()
        for w in (W1, b1, W2, b2):
            w.grad = None
        total.backward()
        if t == T - 1:
            grads = torch.cat([w.grad.reshape(-1)
                               for w in (W1, b1, W2, b2)])
        opt.step()
    return grads


def check_pc(tmp):
    """pcc's steps, gamma, error sign and batch mean against a torch loop
    with a summed energy: its gradient after T iterations is B times pcc's
    P_grad_pc with steps = T - 1; with torch's MSELoss() (mean) as the loss
    it is B * beta times P_grad_pc_weighted with beta = 2 / (B K)."""
    torch.manual_seed(5)
    params = [torch.randn(5, 4) * 0.5, torch.randn(5) * 0.1,
              torch.randn(2, 5) * 0.5, torch.randn(2) * 0.1]
    x = torch.randn(B, 4)
    y = torch.randn(B, 2)
    T, gamma, K = 6, 0.2, 2

    def summed(o, t):
        return 0.5 * ((o - t) ** 2).sum()

    tg = torch_pc(params, x, y, T, gamma, summed)
    _, g, _ = run_pcc(tmp, "pc", PC_MODEL, params, [x], [y],
                      pc=(T - 1, gamma, 1.0))
    e = rel(B * g, tg)
    ok(e <= TOL, "PC: a summed energy's T iterations = B * P_grad_pc "
       "with steps = T - 1, gamma = the value nodes' SGD rate",
       "largest relative difference %.3g" % e)
    _, g2, _ = run_pcc(tmp, "pc2", PC_MODEL, params, [x], [y],
                       pc=(T, gamma, 1.0))
    ok(rel(B * g2, tg) > 1e-6,
       "control: steps = T gives another gradient (%.3g)"
       % rel(B * g2, tg))
    beta = 2.0 / (B * K)
    tgm = torch_pc(params, x, y, T, gamma, torch.nn.MSELoss())
    _, gw, _ = run_pcc(tmp, "pcw", PC_MODEL, params, [x], [y],
                       pc=(T - 1, gamma, beta))
    e = rel(B * beta * gw, tgm)
    ok(e <= TOL, "PC: with MSELoss() as the loss = B beta * "
       "P_grad_pc_weighted, beta = 2 / (B K)",
       "largest relative difference %.3g" % e)
    ok(rel(B * g, tgm) > 1e-6 and rel((2.0 / K) * g, tgm) > 1e-6,
       "control: MSELoss() in PC is not P_grad_pc rescaled")
    # the batch mean of the energies, value nodes at rate B * gamma
    tmean = torch_pc(params, x, y, T, B * gamma, summed, scale=1.0 / B)
    e = rel(g, tmean)
    ok(e <= TOL, "PC: the batch-mean energy with value-node rate lr = "
       "P_grad_pc with gamma = lr / B, no factor",
       "largest relative difference %.3g" % e)
    tmean2 = torch_pc(params, x, y, T, gamma, summed, scale=1.0 / B)
    ok(rel(g, tmean2) > 1e-6,
       "control: the batch-mean energy at rate gamma is not P_grad_pc")


def main():
    K = 3
    with tempfile.TemporaryDirectory(prefix="pcc-conv-") as tmp:
        check_loss(tmp, "mse", "mse(o, y)", torch.nn.MSELoss, K / 2,
                   "K/2 * MSELoss() (K = 3 elements per sample)")
        check_loss(tmp, "ce", "cross_entropy(o, y)",
                   torch.nn.CrossEntropyLoss, 1.0,
                   "CrossEntropyLoss() (probability targets)",
                   out_shape=(4,), make_target=probs((4,)))
        check_loss(tmp, "cerows", "cross_entropy(o, y)",
                   torch.nn.CrossEntropyLoss, 2.0,
                   "R * CrossEntropyLoss() over the R = 2 rows",
                   out_shape=(2, 4), make_target=probs((2, 4)))
        check_loss(tmp, "bce", "bce(o, y)", torch.nn.BCEWithLogitsLoss, K,
                   "K * BCEWithLogitsLoss()",
                   make_target=lambda n: torch.rand(n, 3))
        check_loss(tmp, "l1", "l1(o, y)", torch.nn.L1Loss, K,
                   "K * L1Loss()")
        check_loss(tmp, "huber", "huber(o, y, delta=0.5)",
                   lambda: torch.nn.HuberLoss(delta=0.5), K,
                   "K * HuberLoss(delta=0.5)")
        check_linear_layout(tmp)
        check_conv(tmp)
        check_pc(tmp)
    sys.exit(tap.done())


if __name__ == "__main__":
    main()
