#!/usr/bin/env python3
"""Memory of one training step: pcc's generated state against PyTorch.

  mem_bench.py --pcc PCC [--cc "CC ARGS"] [--work DIR] [--root SRC]

or, from a build directory, `ninja -C BUILD mem_bench` (bench/meson.build;
PyTorch from /usr/bin/python3, PCC_BENCH_PYTHON overrides), or
`bench/run.sh`, which runs it after the timings.  Nothing here is timed
and no test runs it: it prints figures, and it exits 0 whatever they are
(1 only when it cannot run pcc or the C compiler at all).

Models: bench/models/resnet20_nobn.pcg at batch 32 (ResNet-20 without
batch norm, CIFAR shape), examples/cnn.pcg at batch 32 and
examples/digits.pcg at batch 1.

pcc side.  For each model, pcc generates C with `--methods bp`, `--methods
zil`, `--methods pc` and without --methods (all methods; when pcc rejects
--methods only that default is reported, and the script says so).  A tiny
C program that includes the generated header prints the real
`sizeof(P_state)` and `sizeof(P_params)`; `pcc --info` is shown beside it.
P_state holds everything a training step needs besides the parameters: the
batch of inputs and targets, forward values, deltas, the PC network, Z-IL's
scratch and BP's gradient.

PyTorch side, in the same run (skipped with a message when torch cannot be
imported): a hand-written float32 twin of each model from
tests/oracle/torch_oracle.py (digits and cnn its functions of the
parameters, resnet20_nobn its nn.Module ResNet20NoBN, with nn.Conv2d and
nn.Linear; the meson tests "torch MODEL" check each twin's loss and
gradients against pcc's generated code in float64), one thread, one
training step at the same batch:
zero_grad(set_to_none=True), forward, backward, torch.optim.SGD.step().
  saved   bytes of the tensors autograd saves for backward, counted through
          torch.autograd.graph.saved_tensors_hooks as distinct storages
          (keyed by storage().data_ptr(), each storage's full size once).
          Storages of parameters are counted apart (`saved params`) and
          left out of `saved`: pcc keeps parameters in P_params, not in
          P_state, so neither side counts them.  The input batch is in
          both (P_state.in / the input tensor saved by the first layer).
  grads   bytes of the parameters' .grad after backward.
  peak    the largest total of bytes allocated through PyTorch's CPU
          allocator during the step and still live, over what was live
          before it (torch.profiler, profile_memory=True: the allocator's
          running total at every allocation and free).  It misses memory
          that oneDNN, OpenMP or the BLAS allocate outside that allocator.
The compared figure is saved + grads (what the step has to keep between
forward and backward, plus the gradient): ratio = sizeof(P_state) /
(saved + grads).

Targets (PASS/FAIL printed): `--methods bp` and `--methods zil` of
resnet20_nobn and cnn at batch 32 need sizeof(P_state) <= 1.5x PyTorch's
saved + grads; `--methods zil` of digits at batch 1 needs sizeof(P_state)
<= half the default's (all methods).  When pcc has no --methods the
targets are judged on the default state, and the table says so.

Sanity check of the twins: each twin's parameter count against the count
`pcc --info` reports, and the ResNet twin's output shape against the
generated header's output member.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    ".."))

# name, .pcg relative to the source root, batch
MODELS = [("resnet20_nobn", "bench/models/resnet20_nobn.pcg", 32),
          ("cnn", "examples/cnn.pcg", 32),
          ("digits", "examples/digits.pcg", 1)]
METHODS = ["all", "bp", "zil", "pc"]   # "all": no --methods option

# (model, method, kind, bound): kind "torch" compares with PyTorch's
# saved + grads, kind "half" with the same model's default state.
TARGETS = [("resnet20_nobn", "bp", "torch", 1.5),
           ("resnet20_nobn", "zil", "torch", 1.5),
           ("cnn", "bp", "torch", 1.5),
           ("cnn", "zil", "torch", 1.5),
           ("digits", "zil", "half", 0.5)]


def mb(n):
    return "%.3f MB" % (n / 1e6) if n >= 1e5 else "%d B" % n


# ---------------------------------------------------------------- pcc side

class PccResult:
    def __init__(self):
        self.state = None      # sizeof(P_state)
        self.params = None     # sizeof(P_params)
        self.info = []         # pcc --info lines
        self.info_state = None
        self.scalars = None    # parameter scalars, from --info
        self.outputs = []      # (name, dims per sample) of s->out
        self.error = None


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, **kw)


def pcc_methods_supported(pcc, pcg):
    r = run([pcc, pcg, "--check", "--methods", "bp"])
    if r.returncode == 0:
        return True, ""
    lines = r.stderr.strip().splitlines()
    return False, lines[0] if lines else "exit %d" % r.returncode


def pcc_measure(pcc, cc, work, name, pcg, batch, method):
    res = PccResult()
    tag = "mb_%s_%s" % (name, method)
    opts = ["--batch", str(batch), "--real", "float"]
    if method != "all":
        opts += ["--methods", method]
    r = run([pcc, pcg, "--info"] + opts)
    if r.returncode != 0:
        res.error = "pcc --info: " + r.stderr.strip()
        return res
    res.info = r.stdout.strip().splitlines()
    for line in res.info:
        m = re.match(r"state bytes (\d+)", line)
        if m:
            res.info_state = int(m.group(1))
        m = re.match(r"parameters \d+ \((\d+) scalars\)", line)
        if m:
            res.scalars = int(m.group(1))
    src = os.path.join(work, tag + ".c")
    r = run([pcc, pcg, "-o", src, "--prefix", tag] + opts)
    if r.returncode != 0:
        res.error = "pcc: " + r.stderr.strip()
        return res
    hdr = os.path.join(work, tag + ".h")
    with open(hdr) as f:
        text = f.read()
    m = re.search(r"struct \{([^{}]*)\} out;", text)
    if m:
        for decl in re.finditer(r"(\w+) (\w+)\[%s_BATCH\]((?:\[\d+\])*);"
                                % tag.upper(), m.group(1)):
            dims = [int(d) for d in re.findall(r"\[(\d+)\]", decl.group(3))]
            res.outputs.append((decl.group(2), dims))
    prog = os.path.join(work, tag + "_sizes.c")
    with open(prog, "w") as f:
        f.write('#include <stdio.h>\n#include "%s.h"\n'
                "int main(void)\n{\n"
                '\tprintf("%%zu %%zu\\n",\n'
                "\t       sizeof(%s_state), sizeof(%s_params));\n"
                "\treturn 0;\n}\n" % (tag, tag, tag))
    exe = os.path.join(work, tag + "_sizes")
    r = run(shlex.split(cc) + ["-std=c11", "-I", os.path.join(ROOT, "runtime"),
                               "-I", work, prog, "-o", exe])
    if r.returncode != 0:
        res.error = "%s: exit %d %s" % (cc, r.returncode, r.stderr.strip())
        return res
    r = run([exe])
    if r.returncode != 0:
        res.error = "%s: exit %d" % (exe, r.returncode)
        return res
    res.state, res.params = (int(w) for w in r.stdout.split())
    return res


# ------------------------------------------------------------ PyTorch side

def torch_twins(torch):
    """name -> (build(B) -> (params list, step closure returning output))."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))
    import torch_oracle  # noqa: E402  (sets float64 as default; undone here)
    torch.set_default_dtype(torch.float32)

    def onehot(B, n):
        y = torch.zeros(B, n)
        y[torch.arange(B), torch.randint(0, n, (B,))] = 1
        return y

    def oracle_twin(fn, shapes, n_in, n_out):
        """A twin of torch_oracle: fn(params, data, B) -> mean loss."""
        def build(B):
            params = {k: (0.1 * torch.randn(s)).requires_grad_(True)
                      for k, s in shapes.items()}
            data = {"in": torch.randn(B * n_in),
                    "target": onehot(B, n_out).reshape(-1)}
            return list(params.values()), lambda: (fn(params, data, B), None)
        return build

    # examples/digits.pcg and examples/cnn.pcg, the shapes of their params
    digits = oracle_twin(torch_oracle.digits,
                         {"W1": [32, 64], "b1": [32], "W2": [10, 32],
                          "b2": [10]}, 64, 10)
    cnn = oracle_twin(torch_oracle.cnn,
                      {"K1": [8, 1, 5, 5], "c1": [8, 1, 1],
                       "K2": [16, 8, 5, 5], "c2": [16, 1, 1],
                       "W1": [64, 256], "b1": [64], "W2": [10, 64],
                       "b2": [10]}, 784, 10)

    # bench/models/resnet20_nobn.pcg: the nn.Module of torch_oracle, which
    # the oracle test ("torch resnet20_nobn") checks against pcc's
    # gradients; here with its own parameters, as a PyTorch user runs it.
    def resnet(B):
        net = torch_oracle.ResNet20NoBN(3, (16, 32, 64), 10)
        x = torch.randn(B, 3, 32, 32)
        y = onehot(B, 10)

        def step():
            o = net(x)
            return torch_oracle.xent(o, y).mean(), o
        return list(net.parameters()), step

    return {"digits": digits, "cnn": cnn, "resnet20_nobn": resnet}


class TorchResult:
    saved = saved_params = grads = peak = None
    count = 0
    out_shape = None
    peak_note = ""


def torch_measure(torch, build, B):
    torch.manual_seed(1)
    params, step = build(B)
    opt = torch.optim.SGD(params, lr=1e-4)
    param_ptrs = {p.storage().data_ptr() for p in params}
    res = TorchResult()
    res.count = sum(p.numel() for p in params)

    # saved tensors: one step under the hooks
    saved = {}

    def pack(t):
        st = t.storage()
        saved.setdefault(st.data_ptr(), st.nbytes())
        return t

    opt.zero_grad(set_to_none=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss, out = step()
    loss.backward()
    opt.step()
    res.saved = sum(n for p, n in saved.items() if p not in param_ptrs)
    res.saved_params = sum(n for p, n in saved.items() if p in param_ptrs)
    res.grads = sum(p.grad.numel() * p.grad.element_size() for p in params)
    if out is not None:
        res.out_shape = list(out.shape)
    out = None if out is None else out.detach()

    # peak: a steady-state step under the profiler, after two more steps
    # (the first steps allocate things once, e.g. 1.2 MB for digits)
    del loss, out
    for _ in range(2):
        opt.zero_grad(set_to_none=True)
        loss, out = step()
        loss.backward()
        opt.step()
        del loss, out
    try:
        from torch.profiler import profile, ProfilerActivity
        opt.zero_grad(set_to_none=True)
        with profile(activities=[ProfilerActivity.CPU],
                     profile_memory=True) as prof:
            loss, out = step()
            loss.backward()
            opt.step()
        del loss, out
        events = []

        def walk(node):
            ef = node.extra_fields
            if hasattr(ef, "alloc_size"):
                events.append((node.start_time_ns, ef.ptr, ef.alloc_size))
            for c in node.children:
                walk(c)
        for root in prof.profiler.kineto_results.experimental_event_tree():
            walk(root)
        # The allocator's own running total (total_allocated) keeps blocks
        # of earlier profiling sessions freed outside them, so it depends on
        # what ran before: sum the step's own allocations instead, and the
        # frees of those blocks only.
        live, total, peak = {}, 0, 0
        for _, ptr, size in sorted(events, key=lambda e: e[0]):
            if size > 0:
                live[ptr] = size
                total += size
            elif ptr in live:
                total -= live.pop(ptr)
            peak = max(peak, total)
        if events:
            res.peak = peak
        else:
            res.peak_note = "the profiler reported no allocation"
    except Exception as e:  # an older or newer profiler without these fields
        res.peak_note = "not measurable (%s: %s)" % (type(e).__name__, e)
    return res


def blas_of_torch(torch):
    cfg = torch.__config__.show()
    info = [w for w in re.findall(r"(BLAS_INFO=[^,\s]+|LAPACK_INFO=[^,\s]+)",
                                  cfg)]
    dnn = re.search(r"MKL-DNN v[\d.]+", cfg)
    if dnn:
        info.append("oneDNN (" + dnn.group(0) + ")")
    # the BLAS library the process actually mapped, after one matmul
    torch.ones(64, 64) @ torch.ones(64, 64)
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.split()[-1]
                if re.search(r"(blas|mkl|lapack)[^/]*\.so", p):
                    libs.add(os.path.realpath(p))
    except OSError:
        pass
    return info, sorted(libs)


# -------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pcc", required=True, help="the pcc executable")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"),
                    help="C compiler command (default $CC or cc)")
    ap.add_argument("--work", help="directory for the generated files "
                    "(default: a temporary one, removed afterwards)")
    ap.add_argument("--no-torch", action="store_true")
    a = ap.parse_args()

    if not (os.path.isfile(a.pcc) and os.access(a.pcc, os.X_OK)):
        print("mem_bench.py: no pcc executable at %s" % a.pcc,
              file=sys.stderr)
        return 1
    if a.work:
        os.makedirs(a.work, exist_ok=True)
        work, tmp = a.work, None
    else:
        tmp = tempfile.TemporaryDirectory(prefix="pcc-membench-")
        work = tmp.name

    print("Memory of one training step, float32: pcc's P_state against "
          "PyTorch")
    have_methods, why = pcc_methods_supported(
        a.pcc, os.path.join(ROOT, MODELS[0][1]))
    methods = METHODS if have_methods else ["all"]
    if not have_methods:
        print("pcc rejects --methods (%s): only the default (all methods) "
              "is measured; the targets are judged on it" % why)

    pcc_res = {}
    for name, rel, B in MODELS:
        for meth in methods:
            r = pcc_measure(a.pcc, a.cc, work, name, os.path.join(ROOT, rel),
                            B, meth)
            if r.error:
                print("error: %s %s: %s" % (name, meth, r.error))
                if meth == "all":
                    return 1
            pcc_res[name, meth] = r

    torch = None
    if not a.no_torch:
        try:
            import torch
        except ImportError as e:
            print("PyTorch part skipped: torch cannot be imported by %s (%s)"
                  % (sys.executable, e))
    torch_res = {}
    if torch is not None:
        torch.set_num_threads(1)
        info, libs = blas_of_torch(torch)
        print("torch %s (%s): %s; BLAS library mapped: %s"
              % (torch.__version__, sys.executable, ", ".join(info),
                 ", ".join(libs) or "none found in /proc/self/maps"))
        twins = torch_twins(torch)
        for name, rel, B in MODELS:
            torch_res[name] = torch_measure(torch, twins[name], B)
    print()

    # the twins against the .pcg files
    print("== sanity: PyTorch twins against pcc")
    for name, rel, B in MODELS:
        p = pcc_res[name, "all"]
        t = torch_res.get(name)
        if t is None:
            print("%-14s pcc: %s parameters, output %s (no torch)"
                  % (name, p.scalars, p.outputs))
            continue
        ok = t.count == p.scalars
        line = ("%-14s parameters: pcc --info %d, twin %d %s"
                % (name, p.scalars, t.count, "same" if ok else "DIFFERENT"))
        if t.out_shape is not None:
            pshape = [[B] + dims for _, dims in p.outputs]
            same = pshape == [t.out_shape]
            line += ("; output: pcc %s, twin %s %s"
                     % (", ".join("%s%s" % (n, [B] + d) for n, d in p.outputs),
                        t.out_shape, "same" if same else "DIFFERENT"))
        print(line)
    print()

    print("== pcc --info (memory lines; --real float)")
    for name, rel, B in MODELS:
        for meth in methods:
            r = pcc_res[name, meth]
            if r.error:
                continue
            flag = "" if meth == "all" else " --methods " + meth
            print("$ pcc %s --batch %d --info%s" % (rel, B, flag))
            # from the batch line on (the levels above do not depend on
            # the method); every line naming bytes if there is none
            start = [i for i, line in enumerate(r.info)
                     if line.startswith("batch ")]
            for line in (r.info[start[0]:] if start else
                         [x for x in r.info if "bytes" in x]):
                print("  " + line)
    print()

    if torch_res:
        print("== PyTorch, one step (bytes)")
        print("%-14s %5s %12s %13s %12s %12s %12s %s"
              % ("model", "batch", "saved", "saved params", "grads",
                 "saved+grads", "peak alloc", ""))
        for name, rel, B in MODELS:
            t = torch_res[name]
            print("%-14s %5d %12d %13d %12d %12d %12s %s"
                  % (name, B, t.saved, t.saved_params, t.grads,
                     t.saved + t.grads,
                     "-" if t.peak is None else str(t.peak), t.peak_note))
        print()

    print("== sizeof(P_state) against PyTorch's saved + grads (bytes)")
    print("%-14s %5s %-7s %12s %12s %12s %12s %8s"
          % ("model", "batch", "method", "P_state", "P_params",
             "--info state", "torch s+g", "ratio"))
    for name, rel, B in MODELS:
        t = torch_res.get(name)
        for meth in methods:
            r = pcc_res[name, meth]
            if r.error:
                print("%-14s %5d %-7s %s" % (name, B, meth, r.error))
                continue
            tg = t.saved + t.grads if t else None
            print("%-14s %5d %-7s %12d %12d %12s %12s %8s"
                  % (name, B, meth, r.state, r.params, r.info_state,
                     "-" if tg is None else tg,
                     "-" if tg is None else "%.2fx" % (r.state / tg)))
    print()

    print("== targets")
    for name, meth, kind, bound in TARGETS:
        B = [m[2] for m in MODELS if m[0] == name][0]
        used = meth if (name, meth) in pcc_res else "all"
        r = pcc_res[name, used]
        label = "%s batch %d --methods %s" % (name, B, meth)
        note = ("" if used == meth else
                "  [default state: pcc has no --methods]")
        if r.error:
            print("%-40s n/a   (%s)" % (label, r.error))
            continue
        if kind == "torch":
            t = torch_res.get(name)
            if t is None:
                print("%-40s n/a   (no torch)" % label)
                continue
            ref, what = t.saved + t.grads, "PyTorch saved+grads"
        else:
            ref, what = pcc_res[name, "all"].state, "default P_state"
        ratio = r.state / ref
        print("%-40s %s  P_state %d = %.3fx %s %d (target <= %.1fx)%s"
              % (label, "PASS" if ratio <= bound else "FAIL", r.state, ratio,
                 what, ref, bound, note))
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
