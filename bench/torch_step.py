#!/usr/bin/env python3
"""One training step of an example in PyTorch, timed: the reference column
of bench/train_bench.c.

  torch_step.py --model NAME --batch B --param NAME=D0,D1,... ...
                --inputs N --targets M [--samples S] [--sample-seconds T]
                [--threads N] [--serve]

The model is the hand-written PyTorch twin of examples/NAME.pcg from
tests/oracle/torch_oracle.py (written independently of pcc), run in
float32 on one thread (CPU time), or on N (wall time: bench/pool_bench).  A step is what a PyTorch user writes:
zero_grad, forward, loss.backward(), torch.optim.SGD.step().  Without
--serve (for timing by hand; the benchmarks use --serve) it prints the
median seconds per step over S samples, each sample the mean of enough
steps to last T seconds.  Prints nothing and exits 3 when torch cannot be
imported, 4 when it runs the reference BLAS (bench/torch_blas.py).

With --serve it takes its samples when asked, so that a benchmark can
interleave them with its own (bench_torch.h): after the warm-up it prints
"ready", then for each line "s" on its standard input it prints the seconds
per step of one sample, and it exits at "q" or at the end of its input.
"""
import argparse
import os
import statistics
import sys
import time

try:
    import torch
except ImportError:
    sys.exit(3)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "oracle"))
import torch_oracle  # noqa: E402  (sets float64 as default; undone below)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_blas  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--param", action="append", default=[])
    ap.add_argument("--inputs", type=int, required=True)
    ap.add_argument("--targets", type=int, required=True)
    ap.add_argument("--samples", type=int, default=31)
    ap.add_argument("--sample-seconds", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--serve", action="store_true")
    a = ap.parse_args()
    kind, path, _ = torch_blas.blas()
    if kind == "reference":
        sys.stderr.write("torch_step.py: PyTorch runs the reference BLAS "
                         "(%s); no time against it means anything: "
                         "install libopenblas0\n" % path)
        return 4

    torch.set_default_dtype(torch.float32)
    torch_blas.set_threads(torch, a.threads)
    # CPU time on one thread (what others take of the machine does not
    # count); wall time on several, whose CPU times would add up
    clock = time.process_time if a.threads == 1 else time.perf_counter
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(1)
    B = a.batch
    params = {}
    for spec in a.param:
        name, dims = spec.split("=")
        shape = [int(d) for d in dims.split(",")]
        params[name] = (0.1 * torch.randn(shape)).requires_grad_(True)
    data = {"in": torch.randn(B * a.inputs)}
    y = torch.zeros(B, a.targets)
    y[torch.arange(B), torch.randint(0, a.targets, (B,))] = 1
    data["target"] = y.reshape(-1)
    model = torch_oracle.MODELS[a.model]
    opt = torch.optim.SGD(list(params.values()), lr=1e-4)
    start = {k: v.detach().clone() for k, v in params.items()}

    def steps(n):
        for _ in range(n):
            opt.zero_grad(set_to_none=True)
            loss = model(params, data, B)
            loss.backward()
            opt.step()

    def reset():
        with torch.no_grad():
            for k, v in params.items():
                v.copy_(start[k])

    steps(3)  # warm up
    n = 1
    while True:
        reset()
        t0 = clock()
        steps(n)
        t = clock() - t0
        if t >= a.sample_seconds or n >= 1 << 20:
            break
        n = n * 16 if t <= 0 else int(n * 1.5 * a.sample_seconds / t) + 1

    def sample():
        reset()
        steps(1)
        t0 = clock()
        steps(n)
        return (clock() - t0) / n

    if a.serve:
        print("ready", flush=True)
        for line in sys.stdin:
            if line.strip() != "s":
                break
            print("%.9g" % sample(), flush=True)
        return 0
    times = [sample() for _ in range(a.samples)]
    print("%.9g" % statistics.median(times))
    return 0


if __name__ == "__main__":
    sys.exit(main())
