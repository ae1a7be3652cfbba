#!/usr/bin/env python3
"""pcc --methods: only the listed methods, and the same bits.

  run_methods.py PCC SRCDIR

For several examples (dense, convolutional, recurrent with tied weights,
residual, dropout, batch norm) at batch 2 and for every non-empty subset
of bp, zil and pc:
  - the generated code compiles warning-free with gcc and clang
    (-std=c11 -Wall -Wextra -Wpedantic -Werror) and defines exactly the
    API functions of the listed methods (nm);
  - tests/methods/methods_drive.c trains with each listed method from the
    same start: every method's parameter bits equal those of the build
    with all methods (--methods and the memory plan change storage, never
    results); BP == Z-IL to the bit in every build with both, for SGD and
    Adam; the negative control (Z-IL at a learning rate one part in 10^6
    away) differs, so the comparison can fail; and a build whose memory
    plan ignores lifetimes (--plan-control overlap, the plan's negative
    control) does not reproduce the all-methods bits;
  - sizeof(P_state) of a subset is at most that of all methods.
And bad --methods lists are refused with exit status 2.
Prints TAP.
"""
import glob
import itertools
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
from tap import done, ok  # noqa: E402

PCC, SRC = sys.argv[1:3]
RUNTIME = os.path.join(SRC, "runtime")
DRIVE = os.path.join(SRC, "tests", "methods", "methods_drive.c")
WFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]
MODELS = [("digits", []), ("cnn", []), ("rnn", []), ("resnet", []),
          ("mlp_dropout", []),
          ("resnet20", ["-D", "H=8", "-D", "A=4", "-D", "B=6", "-D", "D=8"])]
COMMON = {"init", "forward", "predict", "sgd", "save", "load", "save_mem",
          "load_mem", "check_data", "save_opt", "load_opt", "model"}
OWN = {"bp": {"grad_bp", "train_bp", "step_bp"},
       "zil": {"grad_zil", "train_zil", "step_zil"},
       "pc": {"grad_pc", "grad_pc_weighted", "train_pc", "step_pc", "energy",
              "pc_init", "pc_step", "targets_near", "pc_energies", "pc_grad",
              "train_ipc", "step_ipc"}}


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True,
                          errors="replace", **kw)


def expected(methods):
    fns = set(COMMON)
    for m in methods:
        fns |= OWN[m]
    if "zil" in methods and "pc" in methods:
        fns |= {"grad_zil_dynamics", "grad_fazil", "train_fazil",
                "step_fazil"}
    return fns


def defined(obj, prefix):
    r = run(["nm", "--defined-only", obj])
    out = set()
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "T" and \
                parts[2].startswith(prefix + "_"):
            out.add(parts[2][len(prefix) + 1:])
    return out


def main():
    print("TAP version 13")
    with tempfile.TemporaryDirectory(prefix="pcc-methods-") as tmp:
        # the runtime, compiled here (not the build's library: a sanitized
        # build instruments it)
        objs = []
        for src in sorted(glob.glob(os.path.join(RUNTIME, "pcg_*.c"))):
            obj = os.path.join(tmp, os.path.basename(src) + ".o")
            r = run(["gcc"] + WFLAGS + ["-O2", "-I" + RUNTIME, "-c", src,
                                        "-o", obj])
            if r.returncode:
                ok(False, "runtime %s compiles" % src, r.stderr)
                return
            objs.append(obj)
        for bad in ["foo", "bp,bp", "", "bp,", "zil;pc"]:
            r = run([PCC, "--methods", bad, "--check",
                     os.path.join(SRC, "examples", "digits.pcg")])
            ok(r.returncode == 2 and "--methods" in r.stderr,
               "--methods '%s' is refused with exit status 2" % bad,
               r.stderr)
        subsets = [c for n in (3, 1, 2) for c in
                   itertools.combinations(("bp", "zil", "pc"), n)]
        for name, defs in MODELS:
            pcg = os.path.join(SRC, "examples", name + ".pcg")
            ref = None
            for methods in subsets:
                tag = "%s --methods %s" % (name, ",".join(methods))
                stem = "%s_%s" % (name, "_".join(methods))
                gen = os.path.join(tmp, stem + ".c")
                r = run([PCC, pcg, "--batch", "2", "--prefix", name,
                         "--methods", ",".join(methods), "-o", gen] + defs)
                if r.returncode:
                    ok(False, tag + ": pcc", r.stderr)
                    continue
                good = True
                for cc in ("gcc", "clang"):
                    obj = os.path.join(tmp, "%s.%s.o" % (stem, cc))
                    r = run([cc] + WFLAGS + ["-O1", "-I" + RUNTIME, "-c",
                                             gen, "-o", obj])
                    if r.returncode:
                        good = False
                        ok(False, tag + ": compiles with " + cc, r.stderr)
                if not good:
                    continue
                obj = os.path.join(tmp, "%s.gcc.o" % stem)
                got = defined(obj, name)
                want = expected(methods)
                ok(got == want, tag + ": defines exactly its methods' "
                   "functions", "missing %s, extra %s"
                   % (sorted(want - got), sorted(got - want)))
                exe = os.path.join(tmp, stem)
                r = run(["gcc"] + WFLAGS + ["-O1", "-I" + RUNTIME,
                                            "-I" + tmp,
                                            "-DMODEL=" + name,
                                            "-DMODELU=" + name.upper(),
                                            "-DMODEL_H=\"%s.h\"" % stem,
                                            DRIVE, obj] + objs +
                        ["-lm", "-o", exe])
                if r.returncode:
                    ok(False, tag + ": the driver builds", r.stderr)
                    continue
                r = run([exe], timeout=600)
                if r.returncode:
                    ok(False, tag + ": the driver runs", r.stderr)
                    continue
                res = dict(line.split() for line in r.stdout.splitlines())
                if ref is None:  # all three methods come first
                    ref = res
                    ok(set(res) >= {"bp", "zil", "pc", "stepbp", "stepzil",
                                    "steppc", "zilctl"},
                       tag + ": every method ran", r.stdout)
                same = [k for k in res if k != "state" and
                        res[k] == ref.get(k)]
                ok(len(same) == len(res) - 1,
                   tag + ": every method's parameter bits equal the "
                   "all-methods build's",
                   "\n".join("%s %s vs %s" % (k, res[k], ref.get(k))
                             for k in res if k != "state"))
                if "bp" in methods and "zil" in methods:
                    ok(res["bp"] == res["zil"] and
                       res["stepbp"] == res["stepzil"],
                       tag + ": Z-IL == BP to the bit (SGD and Adam)",
                       r.stdout)
                    ok(res["zilctl"] != res["bp"],
                       tag + ": negative control: Z-IL at another "
                       "learning rate differs from BP", r.stdout)
                ok(int(res["state"]) <= int(ref["state"]),
                   tag + ": sizeof(P_state) %s <= all methods' %s"
                   % (res["state"], ref["state"]))
            # the plan's negative control: every pass-local member in one
            # slot, lifetimes ignored
            if ref is None or name not in ("digits", "cnn", "resnet"):
                continue
            tag = "%s --plan-control overlap" % name
            gen = os.path.join(tmp, name + "_ctl.c")
            r = run([PCC, pcg, "--batch", "2", "--prefix", name,
                     "--plan-control", "overlap", "-o", gen] + defs)
            exe = os.path.join(tmp, name + "_ctl")
            if r.returncode == 0:
                r = run(["gcc"] + WFLAGS + ["-O1", "-I" + RUNTIME,
                                            "-I" + tmp, "-DMODEL=" + name,
                                            "-DMODELU=" + name.upper(),
                                            "-DMODEL_H=\"%s_ctl.h\"" % name,
                                            DRIVE, gen] + objs +
                        ["-lm", "-o", exe])
            if r.returncode:
                ok(False, tag + ": builds", r.stderr)
                continue
            r = run([exe], timeout=600)
            res = dict(line.split() for line in r.stdout.splitlines()
                       if len(line.split()) == 2)
            ok("bp" in res and "zil" in res and res["bp"] != ref["bp"] and
               res["zil"] != ref["zil"],
               tag + ": negative control: a plan that ignores lifetimes "
               "changes the results", r.stdout)
    return done()


if __name__ == "__main__":
    sys.exit(main())
