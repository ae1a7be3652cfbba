#!/usr/bin/env python3
"""The runtime's optimizers against torch.optim.

  torch_optim.py CHECK_OPTIM_EXE

CHECK_OPTIM_EXE (tests/optim/check_optim.c) runs pcg_opt_update_f/_d for
every optimizer kind, weight decay 0 and 0.01, float and double: 5 steps on
two tensors with the gradient of a fixed quadratic, and prints the start,
the parameters after every step and the moment buffers at the end, as hex
floats.  This script repeats every run with torch.optim (SGD, Adam, AdamW,
foreach=False) on float64 and float32 tensors and compares:

  - with torch's default CPU kernels (ATEN_CPU_CAPABILITY=default), every
    value within 1e-10 (double) or 1e-5 (float) of the largest of its
    tensor, and, on x86-64, every value the same bits (double and float;
    not in a -Dreproducible=true build, PCG_TEST_REPRODUCIBLE=1, where
    Adam's bias corrections use the runtime's own pow);
  - with torch's own choice of kernels (AVX2 and up fuse some
    multiply-adds), within the same tolerances;
  - negative controls: SGD with dampening 0.1 against the runtime's
    momentum, Adam without bias correction against its Adam, and AdamW
    against its Adam with weight decay must all fail the comparison.

Each torch run is a child process, since the kernels are chosen once per
process.  Prints TAP; skips where torch is missing.
"""
import os
import platform
import subprocess
import sys

TOL = {"double": 1e-10, "float": 1e-5}
KINDS = ["sgd", "momentum", "nesterov", "adam", "adamw"]


# ------------------------------------------------------------- the dump

def parse(text):
    """The runtime's runs: (start, cases).  start maps a, c, p to lists
    of tensors; each case has its hyper-parameters, steps[t][k] and
    the buffers m[k], v[k]."""
    start = {"a": {}, "c": {}, "p": {}}
    cases = []
    case = None
    for line in text.splitlines():
        w = line.split()
        if not w or w[0] in ("tensors", "end"):
            continue
        vals = [float.fromhex(x) for x in w[2:]] if w[0] != "case" else []
        if w[0] in ("a", "c", "p") and case is None:
            start[w[0]][int(w[1])] = vals
        elif w[0] == "case":
            h = [float.fromhex(x) for x in w[4:10]]
            case = {"name": w[1], "kind": KINDS[int(w[2])], "real": w[3],
                    "lr": h[0], "momentum": h[1], "beta1": h[2],
                    "beta2": h[3], "eps": h[4], "wd": h[5],
                    "steps": {}, "m": {}, "v": {}}
            cases.append(case)
        elif w[0] == "step":
            t, k = int(w[1]), int(w[2])
            case["steps"].setdefault(t, {})[k] = [float.fromhex(x)
                                                  for x in w[3:]]
        elif w[0] in ("m", "v"):
            case[w[0]][int(w[1])] = vals
        else:
            raise ValueError("unexpected line: " + line)
    nt = len(start["p"])
    start = {key: [start[key][k] for k in range(nt)] for key in start}
    return start, cases


# ------------------------------------------------------ the torch side

def torch_run(start, case, variant=None):
    """The same run with torch.optim: steps[t][k], m[k], v[k].  variant
    makes a wrong optimizer for the negative controls."""
    import torch
    dt = torch.float64 if case["real"] == "double" else torch.float32
    a = [torch.tensor(x, dtype=dt) for x in start["a"]]
    c = [torch.tensor(x, dtype=dt) for x in start["c"]]
    ps = [torch.tensor(x, dtype=dt) for x in start["p"]]
    kind, lr, wd = case["kind"], case["lr"], case["wd"]
    betas = (case["beta1"], case["beta2"])
    if variant == "adam_no_bias_correction":
        opt = None
    elif kind in ("sgd", "momentum", "nesterov"):
        opt = torch.optim.SGD(
            ps, lr=lr, momentum=case["momentum"],
            dampening=0.1 if variant == "dampening" else 0,
            nesterov=kind == "nesterov", weight_decay=wd, foreach=False)
    elif kind == "adam" and variant != "adamw":
        opt = torch.optim.Adam(ps, lr=lr, betas=betas, eps=case["eps"],
                               weight_decay=wd, foreach=False)
    else:
        opt = torch.optim.AdamW(ps, lr=lr, betas=betas, eps=case["eps"],
                                weight_decay=wd, foreach=False)
    moments = [[torch.zeros_like(p), torch.zeros_like(p)] for p in ps]
    steps = {}
    for t in range(1, len(case["steps"]) + 1):
        with torch.no_grad():
            for k, p in enumerate(ps):
                p.grad = a[k] * (p - c[k])
            if opt is not None:
                opt.step()
            else:  # Adam with the bias correction left out
                for k, p in enumerate(ps):
                    m, v = moments[k]
                    g = p.grad.add(p, alpha=wd) if wd else p.grad
                    m.mul_(betas[0]).add_(g, alpha=1 - betas[0])
                    v.mul_(betas[1]).addcmul_(g, g, value=1 - betas[1])
                    p.addcdiv_(m, v.sqrt().add_(case["eps"]), value=-lr)
        steps[t] = {k: p.tolist() for k, p in enumerate(ps)}
    m, v = {}, {}
    for k, p in enumerate(ps):
        st = opt.state[p] if opt is not None else {
            "exp_avg": moments[k][0], "exp_avg_sq": moments[k][1]}
        for key, out in (("momentum_buffer", m), ("exp_avg", m),
                         ("exp_avg_sq", v)):
            if st.get(key) is not None:
                out[k] = st[key].tolist()
    return {"steps": steps, "m": m, "v": v}


def child(variant_of):
    """Run every case given on stdin with torch; print the results."""
    import json
    req = json.load(sys.stdin)
    out = [torch_run(req["start"], case, variant_of.get(case["name"]))
           for case in req["cases"]]
    # hex floats survive JSON exactly
    def hexed(r):
        return {"steps": {t: {k: [x.hex() for x in v]
                              for k, v in s.items()}
                          for t, s in r["steps"].items()},
                "m": {k: [x.hex() for x in v] for k, v in r["m"].items()},
                "v": {k: [x.hex() for x in v] for k, v in r["v"].items()}}
    json.dump([hexed(r) for r in out], sys.stdout)


def torch_results(start, cases, capability):
    """Every case's torch run in a child process with the given kernels
    (None: torch's own choice)."""
    import json
    env = dict(os.environ)
    env.pop("ATEN_CPU_CAPABILITY", None)
    if capability:
        env["ATEN_CPU_CAPABILITY"] = capability
    req = {"start": start,
           "cases": [dict(c, steps={t: None for t in c["steps"]}, m={},
                          v={}) for c in cases]}
    variants = {c["name"]: c["variant"] for c in cases if "variant" in c}
    res = subprocess.run([sys.executable, __file__, "--child",
                          json.dumps(variants)],
                         input=json.dumps(req), capture_output=True,
                         text=True, env=env, check=True)
    out = []
    for r in json.loads(res.stdout):
        out.append({"steps": {int(t): {int(k): [float.fromhex(x)
                                                for x in v]
                                       for k, v in s.items()}
                              for t, s in r["steps"].items()},
                    "m": {int(k): [float.fromhex(x) for x in v]
                          for k, v in r["m"].items()},
                    "v": {int(k): [float.fromhex(x) for x in v]
                          for k, v in r["v"].items()}})
    return out


# --------------------------------------------------------- comparison

def compare(case, ref):
    """(worst error relative to the largest |value| of its tensor, whether
    every value has the same bits, what was compared)."""
    pairs = []
    for t, s in case["steps"].items():
        for k, v in s.items():
            pairs.append((v, ref["steps"][t][k]))
    for key in ("m", "v"):
        if set(case[key]) != set(ref[key]):
            return float("inf"), False
        for k, v in case[key].items():
            pairs.append((v, ref[key][k]))
    worst, same = 0.0, True
    for got, want in pairs:
        big = max(abs(x) for x in want) or 1.0
        for g, w in zip(got, want):
            same = same and g.hex() == w.hex()
            worst = max(worst, abs(g - w) / big)
    return worst, same


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        import json
        child(json.loads(sys.argv[2]))
        return 0
    try:
        import torch  # noqa: F401
    except ImportError:
        print("1..0 # SKIP python3-torch is not installed")
        return 0
    dump = subprocess.run([sys.argv[1]], capture_output=True, text=True,
                          check=True).stdout
    start, cases = parse(dump)

    def by_name(name):
        return next(c for c in cases if c["name"] == name)
    controls = [("SGD with dampening 0.1", by_name("momentum-wd0-double"),
                 "dampening"),
                ("Adam without bias correction",
                 by_name("adam-wd0-double"), "adam_no_bias_correction"),
                ("AdamW (decoupled decay)", by_name("adam-wd0.01-double"),
                 "adamw")]
    control_cases = [dict(c, name=c["name"] + "/" + v, variant=v)
                     for _, c, v in controls]

    n = 0
    failed = 0

    def ok(cond, what):
        nonlocal n, failed
        n += 1
        failed += not cond
        print(("ok" if cond else "not ok") + " %d - %s" % (n, what))

    print("TAP version 13")
    exact = {"double": True, "float": True}
    for capability in ("default", None):
        label = capability or "torch's own choice of"
        refs = torch_results(start, cases + control_cases, capability)
        for case, ref in zip(cases, refs):
            err, same = compare(case, ref)
            if capability:
                exact[case["real"]] = exact[case["real"]] and same
            ok(err <= TOL[case["real"]],
               "%s matches torch.optim (%s kernels): max relative "
               "difference %.3g (tolerance %g), %s"
               % (case["name"], label, err, TOL[case["real"]],
                  "bit-exact" if same else "not bit-exact"))
        if not capability:
            continue
        for (what, case, _), ref in zip(controls, refs[len(cases):]):
            err, _ = compare(case, ref)
            ok(err > TOL["double"],
               "negative control: %s is told apart from %s (difference "
               "%.3g)" % (what, case["name"], err))
    for real in ("double", "float"):
        if os.environ.get("PCG_TEST_REPRODUCIBLE") == "1":
            # -Dreproducible=true: Adam's bias corrections use the
            # runtime's own pow, which may differ from libm's (torch's)
            # in the last place; the tolerances above still hold
            n += 1
            print("ok %d - # SKIP bit-exactness: the runtime's own pow in "
                  "reproducible mode" % n)
        elif platform.machine() in ("x86_64", "AMD64"):
            ok(exact[real], "every %s result is bit-exact with torch's "
               "default kernels" % real)
        else:
            n += 1
            print("ok %d - # SKIP bit-exactness is checked on x86-64 only"
                  % n)
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
