#!/usr/bin/env python3
"""How a training step scales with the batch size and the model's width:
pcc's BP and Z-IL steps against PyTorch's, as a table and an SVG plot.

  scaling.py --build BUILD [--cflags FLAGS] [--svg FILE] [--quick]

The model is the perceptron 784-W-W-10 (ReLU, cross-entropy) of
examples/mlp.pcg, written here with W as a constant: the batch B runs over
1, 2, 4, ..., 256 at W = 256, the width over 32, 64, ..., 1024 at B = 32.
For each point pcc (BUILD/compiler/pcc) compiles the model at that batch
(float), the C compiler builds it into a shared library with the runtime
(BUILD/runtime/libpcg_runtime.a) and FLAGS (default -O2; bench/run.sh
passes the native build's -O3 -march=native -mtune=generic), and
BUILD/bench/step_timer times P_train_bp and P_train_zil through the
model's P_model descriptor.
PyTorch's step (zero_grad, forward, cross_entropy, backward, SGD step,
float32, one thread) is timed in this process when torch imports and does
not run the reference BLAS (bench/torch_blas.py says which it runs).

Every time is a median of CPU time of the process over samples.  Besides
the table it writes FILE (default scaling.svg): time per sample against
the batch, and GFLOP/s against the width with the core's peak
(BUILD/bench/gemm_bench --peak) drawn for reference, a step counting the
flops of its products (flops() below).
A benchmark: it prints figures and checks nothing.
"""
import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import torch_blas  # noqa: E402

MODEL = """model scale {{
    const D = 784;
    const H = {w};
    const C = 10;
    input  x[D];
    target y[C];
    param W1[H, D] = he;
    param b1[H];
    param W2[H, H] = he;
    param b2[H];
    param W3[C, H];
    param b3[C];
    h1 = relu(W1 @ x + b1);
    h2 = relu(W2 @ h1 + b2);
    o  = W3 @ h2 + b3;
    loss cross_entropy(o, y);
}}
"""


def flops(w, batch):
    """The multiply-add flops of one BP step: the forward products (2 a
    weight), the weights' gradients (2 a weight) and the inputs' gradients
    of the two upper layers (2 a weight; the input's is not computed)."""
    first, upper = 784 * w, w * w + 10 * w
    return batch * (6 * upper + 4 * first)


def pcc_step(build, cflags, w, batch, work, samples, seconds):
    """(BP, Z-IL) seconds per step of pcc's generated code."""
    base = os.path.join(work, "scale_w%d_b%d" % (w, batch))
    with open(base + ".pcg", "w") as f:
        f.write(MODEL.format(w=w))
    subprocess.run([os.path.join(build, "compiler", "pcc"), base + ".pcg",
                    "-o", base + ".c", "--batch", str(batch),
                    "--real", "float", "--methods", "bp,zil"], check=True)
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-std=c11", *cflags.split(), "-shared", "-fPIC",
                    "-I", os.path.join(ROOT, "runtime"), base + ".c",
                    os.path.join(build, "runtime", "libpcg_runtime.a"),
                    "-o", base + ".so", "-lm"], check=True)
    out = subprocess.run([os.path.join(build, "bench", "step_timer"),
                          base + ".so", "scale_model", str(samples),
                          str(seconds)], check=True, capture_output=True,
                         text=True).stdout.split()
    return float(out[0]), float(out[1])


def torch_step(torch, w, batch, samples, seconds):
    """Seconds per step of the same model in PyTorch."""
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(784, w), torch.nn.ReLU(),
                              torch.nn.Linear(w, w), torch.nn.ReLU(),
                              torch.nn.Linear(w, 10))
    opt = torch.optim.SGD(net.parameters(), lr=1e-4)
    x = torch.rand(batch, 784) * 2 - 1
    y = torch.randint(0, 10, (batch,))

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()

    step()
    reps, t0 = 1, time.process_time()
    while time.process_time() - t0 < seconds:
        step()
        reps += 1
    t = []
    for _ in range(samples):
        t0 = time.process_time()
        for _ in range(reps):
            step()
        t.append((time.process_time() - t0) / reps)
    return statistics.median(t)


def peak(build):
    """The peak GFLOP/s of one core gemm_bench derives, or None."""
    try:
        out = subprocess.run([os.path.join(build, "bench", "gemm_bench"),
                              "--peak"], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None, ""
    for line in out.splitlines():
        if line.startswith("peak one core"):
            return float(line.split("=")[1].split()[0]), line
    return None, ""


# ----------------------------------------------------------------- SVG

def svg_panel(x0, y0, wd, ht, title, xlabel, ylabel, series, xs, logy,
              hline=None):
    """One log-x (log-y when logy) panel at (x0, y0); series is a list of
    (label, colour, dash, [(x, y)...]).  Returns SVG elements."""
    pts = [p for _, _, _, s in series for p in s if p[1] > 0]
    ys = [p[1] for p in pts] + ([hline[1]] if hline else [])
    lx0, lx1 = math.log2(min(xs)), math.log2(max(xs))
    if logy:
        ly0 = math.floor(math.log10(min(ys)))
        ly1 = math.ceil(math.log10(max(ys)))
    else:
        # a step of 1, 2 or 5 times a power of ten, five or six ticks
        raw = max(ys) * 1.05 / 5
        mag = 10.0 ** math.floor(math.log10(raw))
        step = next(k * mag for k in (1, 2, 5, 10) if k * mag >= raw)
        ly0, ly1 = 0.0, step * math.ceil(max(ys) * 1.05 / step)

    def px(x):
        return x0 + (math.log2(x) - lx0) / (lx1 - lx0) * wd

    def py(y):
        v = math.log10(y) if logy else y
        return y0 + ht - (v - ly0) / (ly1 - ly0) * ht

    e = ['<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" '
         'stroke="#444"/>' % (x0, y0, wd, ht),
         '<text x="%.1f" y="%.1f" text-anchor="middle" font-weight="bold">'
         '%s</text>' % (x0 + wd / 2, y0 - 10, title),
         '<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>'
         % (x0 + wd / 2, y0 + ht + 36, xlabel),
         '<text transform="translate(%.1f,%.1f) rotate(-90)" '
         'text-anchor="middle">%s</text>' % (x0 - 52, y0 + ht / 2, ylabel)]
    for x in xs:
        e.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" '
                 'stroke="#ddd"/>' % (px(x), y0, px(x), y0 + ht))
        e.append('<text x="%.1f" y="%.1f" text-anchor="middle">%d</text>'
                 % (px(x), y0 + ht + 16, x))
    ticks = ([10.0 ** k for k in range(int(ly0), int(ly1) + 1)] if logy
             else [step * k for k in range(int(round(ly1 / step)) + 1)])
    for t in ticks:
        e.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" '
                 'stroke="#ddd"/>' % (x0, py(t), x0 + wd, py(t)))
        e.append('<text x="%.1f" y="%.1f" text-anchor="end">%s</text>'
                 % (x0 - 4, py(t) + 4, "%g" % t if logy else "%.0f" % t))
    if hline:
        e.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" '
                 'stroke="#888" stroke-dasharray="2,3"/>'
                 % (x0, py(hline[1]), x0 + wd, py(hline[1])))
        e.append('<text x="%.1f" y="%.1f" text-anchor="end" fill="#666">'
                 '%s</text>' % (x0 + wd - 4, py(hline[1]) - 4, hline[0]))
    for k, (label, colour, dash, s) in enumerate(series):
        s = [p for p in s if p[1] > 0]
        if not s:
            continue
        e.append('<polyline fill="none" stroke="%s" stroke-width="2" '
                 '%spoints="%s"/>' % (colour, 'stroke-dasharray="6,3" '
                                      if dash else "",
                                      " ".join("%.1f,%.1f" % (px(x), py(y))
                                               for x, y in s)))
        for x, y in s:
            e.append('<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>'
                     % (px(x), py(y), colour))
        e.append('<text x="%.1f" y="%.1f" fill="%s">%s</text>'
                 % (x0 + 8, y0 + 16 + 16 * k, colour, label))
    return e


def write_svg(path, by_batch, by_width, peak_gflops, note):
    colours = (("pcc BP", "#1f77b4", False, 0), ("pcc Z-IL", "#2ca02c", True,
                                                 1),
               ("PyTorch", "#d62728", False, 2))
    left = [(label, c, d, [(b, r[k] / b * 1e6) for b, r in by_batch])
            for label, c, d, k in colours]
    right = [(label, c, d, [(w, flops(w, 32) / r[k] / 1e9
                             if r[k] > 0 else 0) for w, r in by_width])
             for label, c, d, k in colours]
    e = ['<svg xmlns="http://www.w3.org/2000/svg" width="960" height="420" '
         'font-family="sans-serif" font-size="12">',
         '<rect width="960" height="420" fill="white"/>']
    e += svg_panel(80, 40, 360, 300, "time per sample, W = 256",
                   "batch size", "microseconds per sample", left,
                   [b for b, _ in by_batch], True)
    e += svg_panel(560, 40, 360, 300, "GFLOP/s, batch 32", "width W",
                   "GFLOP/s (the products' flops / step)", right,
                   [w for w, _ in by_width], False,
                   ("peak one core %.0f" % peak_gflops, peak_gflops)
                   if peak_gflops else None)
    e.append('<text x="480" y="410" text-anchor="middle" fill="#666">%s'
             '</text>' % note)
    e.append("</svg>")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(e) + "\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--cflags", default="-O2")
    ap.add_argument("--svg", default="scaling.svg")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    samples, seconds = (5, 2e-3) if a.quick else (15, 1e-2)
    batches = [1, 2, 4, 8, 16, 32, 64, 128, 256]
    widths = [32, 64, 128, 256, 512, 1024]

    kind, path, _ = torch_blas.blas()
    torch = None
    if kind is None:
        print("PyTorch: not installed; its column is left blank")
    elif kind == "reference":
        print("PyTorch runs the reference BLAS (%s): its column is left "
              "blank; install libopenblas0" % path)
    else:
        import torch
        torch_blas.set_threads(torch, 1)
        print("PyTorch %s, BLAS: %s (%s)" % (torch.__version__, kind, path))
    pk, pk_line = peak(a.build)
    if pk_line:
        print(pk_line)
    print("float, one thread, median CPU time of %d samples; C flags %s"
          % (samples, a.cflags))

    def row(w, b, work):
        bp, zil = pcc_step(a.build, a.cflags, w, b, work, samples, seconds)
        tt = torch_step(torch, w, b, samples, seconds) if torch else 0.0
        gf = flops(w, b) / 1e9
        print("%6d %6d %12.2f %12.2f %12s %8.2f %8s %9.1f %9s" % (
            w, b, bp * 1e6, zil * 1e6,
            "%.2f" % (tt * 1e6) if tt else "-", zil / bp,
            "%.2f" % (tt / bp) if tt else "-", gf / bp,
            "%.1f" % (gf / tt) if tt else "-"))
        sys.stdout.flush()
        return bp, zil, tt

    head = "%6s %6s %12s %12s %12s %8s %8s %9s %9s" % (
        "width", "batch", "BP us", "Z-IL us", "torch us", "ZIL/BP",
        "torch/BP", "BP GF/s", "torch GF/s")
    with tempfile.TemporaryDirectory() as work:
        print("\n== against the batch, W = 256")
        print(head)
        by_batch = [(b, row(256, b, work)) for b in batches]
        print("\n== against the width, B = 32")
        print(head)
        by_width = [(w, row(w, 32, work)) for w in widths]
    note = "784-W-W-10 MLP, float, one thread; PyTorch %s" % (
        "BLAS %s" % kind if torch else "not measured")
    write_svg(a.svg, by_batch, by_width, pk, note)
    print("\nplot: %s" % a.svg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
