#!/usr/bin/env python3
"""Reproducible mode: the same parameter bits on every target.

  run_repro.py PCC SRCDIR

Generates the models of tests/repro/repro_drive.c with PCC (digits in
float, cnn and tests/models/elementwise.pcg in float and double, batch
2), builds the driver with the generated code and every runtime source
with -DPCG_REPRODUCIBLE -DPCG_NO_FILES -std=c11 for each target below,
runs it (aarch64 under qemu-aarch64, the Cortex-M4F under QEMU's
mps2-an386 through examples/mcu/m4f.py) and checks that every target
prints the same hash of the parameters as x86-64 gcc -O2, model by model.
PCG_NO_DOUBLE (float models without double arithmetic; not defined by
itself in this mode) gives other bits, the same on x86-64 and the M4F.
The x86 targets built by gcc and clang take the
runtime's AVX2 copy of the GEMM (without FMA in this mode) on a processor
with AVX2, tcc, aarch64 and the M4F the generic one: equal hashes also
show that the copy chosen changes nothing.
A target whose compiler or emulator is missing (a trivial program does
not build or run) is skipped; one that builds the probe but not the
driver fails.

Negative control: the same driver built without PCG_REPRODUCIBLE on
targets that really differ must print other hashes: x86-64 without FMA
anywhere (-DPCG_GEMM_NO_DISPATCH) against aarch64 (whose GEMM uses fmaf),
and clang -ffp-contract=fast -march=haswell (contracts everything)
against gcc.  So the comparison above can fail.
Prints TAP.
"""
import os
import shutil
import concurrent.futures
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
from tap import done, ok, skip  # noqa: E402

PCC, SRC = sys.argv[1:3]
RUNTIME = os.path.join(SRC, "runtime")
HERE = os.path.join(SRC, "tests", "repro")
M4F = os.path.join(SRC, "examples", "mcu", "m4f.py")
QEMU_A64 = ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]
MODELS = [("rp_digits_f", "examples/digits.pcg", "float"),
          ("rp_cnn_f", "examples/cnn.pcg", "float"),
          ("rp_cnn_d", "examples/cnn.pcg", "double"),
          ("rp_elem_f", "tests/models/elementwise.pcg", "float"),
          ("rp_elem_d", "tests/models/elementwise.pcg", "double")]
REPRO = ["-DPCG_REPRODUCIBLE", "-DPCG_NO_FILES", "-std=c11"]
PLAIN = ["-DPCG_NO_FILES", "-std=c11"]
WARN = ["-Wall", "-Wextra", "-Wpedantic"]

# name, compiler and flags, how to run the program (None: directly)
TARGETS = [
    ("x86-64 gcc -O2", ["gcc", "-O2"] + WARN, None),
    ("x86-64 gcc -O0", ["gcc", "-O0"] + WARN, None),
    ("x86-64 gcc -O3 -march=native", ["gcc", "-O3", "-march=native"] + WARN,
     None),
    ("x86-64 clang -O2", ["clang", "-O2"] + WARN, None),
    ("x86-64 clang -O3 -march=native",
     ["clang", "-O3", "-march=native"] + WARN, None),
    ("x86-64 tcc", ["tcc"], None),
    ("i686 gcc -O2 -m32 -msse2 -mfpmath=sse",
     ["gcc", "-O2", "-m32", "-msse2", "-mfpmath=sse"] + WARN, None),
    ("i686 clang -O2 -m32 -msse2 -mfpmath=sse",
     ["clang", "-O2", "-m32", "-msse2", "-mfpmath=sse"] + WARN, None),
    ("aarch64 gcc -O2 (qemu-aarch64)", ["aarch64-linux-gnu-gcc", "-O2"] + WARN,
     QEMU_A64),
]


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True,
                          errors="replace", **kw)


def usable(cc, runner, tmp):
    """why cc (with its flags) cannot build and run a program, or None"""
    if not shutil.which(cc[0]):
        return cc[0] + " not found"
    if runner and not shutil.which(runner[0]):
        return runner[0] + " not found"
    tmp = tempfile.mkdtemp(prefix="probe-", dir=tmp)
    src = os.path.join(tmp, "probe.c")
    exe = os.path.join(tmp, "probe")
    with open(src, "w") as f:
        f.write("#include <stdio.h>\n#include <math.h>\nint main(void) "
                "{ printf(\"%g\\n\", sqrt(4.0)); return 0; }\n")
    r = run(cc + ["-o", exe, src, "-lm"])
    if r.returncode != 0:
        return "%s cannot build a program here: %s" % (
            " ".join(cc), (r.stderr.strip().splitlines() or ["?"])[-1])
    r = run((runner or []) + [exe], timeout=120)
    if r.returncode != 0 or r.stdout.strip() != "2":
        return "a program built by %s does not run here" % " ".join(cc)
    return None


def hashes(text):
    """model -> hash from the driver's output"""
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) == 2:
            out[f[0]] = f[1]
    return out


def sources(gen):
    rt = sorted(os.path.join(RUNTIME, f) for f in os.listdir(RUNTIME)
                if f.startswith("pcg_") and f.endswith(".c"))
    return ([os.path.join(HERE, "repro_drive.c")] +
            [os.path.join(gen, m[0] + ".c") for m in MODELS] + rt)


def build_run(cc, flags, runner, gen, exe):
    """(hashes, error text)"""
    r = run(cc + flags + ["-I", gen, "-I", RUNTIME, "-o", exe] +
            sources(gen) + ["-lm"])
    if r.returncode != 0:
        return None, r.stderr
    r = run((runner or []) + [exe], timeout=1200)
    if r.returncode != 0:
        return None, "exit status %d\n%s" % (r.returncode, r.stderr)
    h = hashes(r.stdout)
    if sorted(h) != sorted(m[0] for m in MODELS):
        return None, "unexpected output:\n" + r.stdout
    return h, ""


def compare(ref, got):
    return "\n".join("%s: %s, x86-64 gcc -O2 %s" % (m, got.get(m), ref[m])
                     for m in sorted(ref) if got.get(m) != ref[m])


def main():
    print("TAP version 13")
    with tempfile.TemporaryDirectory(prefix="pcc-repro-") as tmp, \
            concurrent.futures.ThreadPoolExecutor(
                max(1, min(4, os.cpu_count() or 1))) as pool:
        gen = os.path.join(tmp, "gen")
        os.mkdir(gen)
        for prefix, model, real in MODELS:
            r = run([PCC, os.path.join(SRC, model), "-o",
                     os.path.join(gen, prefix + ".c"), "--prefix", prefix,
                     "--real", real, "--batch", "2"])
            if r.returncode != 0:
                ok(False, "pcc compiles " + prefix, r.stderr)
                return

        # Every build and run below is independent of the others: they
        # run side by side and are reported in order.
        def target(i, cc, runner, flags):
            """(why skipped or None, hashes, error text)"""
            why = usable(cc, runner, tmp)
            if why:
                return why, None, ""
            h, err = build_run(cc, flags, runner, gen,
                               os.path.join(tmp, "exe%d" % i))
            return None, h, err

        def m4f(defs):
            args = []
            for d in ["PCG_REPRODUCIBLE"] + defs:
                args += ["-D", d]
            return run([sys.executable, M4F, "run", "-I", gen, "--runtime",
                        RUNTIME] + args + ["--timeout", "1200",
                        "--cflag=-Werror",
                        os.path.join(HERE, "repro_drive.c")] +
                       [os.path.join(gen, m[0] + ".c") for m in MODELS])

        jobs = [pool.submit(target, i, cc, runner, REPRO)
                for i, (_, cc, runner) in enumerate(TARGETS)]
        nd_job = pool.submit(target, len(TARGETS), ["gcc", "-O2"] + WARN,
                             None, REPRO + ["-DPCG_NO_DOUBLE"])
        m4f_names = [
            ([], "Cortex-M4F arm-none-eabi-gcc -O2 (qemu-system-arm)"),
            (["PCG_NO_DOUBLE"],
             "Cortex-M4F arm-none-eabi-gcc -O2 -DPCG_NO_DOUBLE "
             "(qemu-system-arm), as x86-64 gcc -O2 -DPCG_NO_DOUBLE")]
        m4f_jobs = ([pool.submit(m4f, defs) for defs, _ in m4f_names]
                    if os.path.exists(M4F) else None)
        # Negative controls: without PCG_REPRODUCIBLE, targets differ.
        pairs = [
            ("x86-64 gcc -O2 -DPCG_GEMM_NO_DISPATCH (no FMA)",
             ["gcc", "-O2", "-DPCG_GEMM_NO_DISPATCH"], None,
             "aarch64 gcc -O2 (FMA in the GEMM)",
             ["aarch64-linux-gnu-gcc", "-O2"], QEMU_A64),
            ("x86-64 gcc -O2", ["gcc", "-O2"], None,
             "x86-64 clang -O2 -march=haswell -ffp-contract=fast",
             ["clang", "-O2", "-march=haswell", "-ffp-contract=fast"],
             None),
        ]
        n = len(TARGETS) + 1
        pair_jobs = [(pool.submit(target, n + 2 * k, acc, arun, PLAIN),
                      pool.submit(target, n + 2 * k + 1, bcc, brun, PLAIN))
                     for k, (_, acc, arun, _, bcc, brun) in enumerate(pairs)]

        ref = None
        for (name, _, _), job in zip(TARGETS, jobs):
            why, h, err = job.result()
            if why:
                skip(name, why)
                continue
            if h is None:
                ok(False, name + ": builds and runs", err)
                continue
            if ref is None:
                ref = h
                for m in sorted(h):
                    print("# %-11s %s" % (m, h[m]))
                ok(True, name + ": reference hashes")
            else:
                ok(h == ref, name + ": the same hashes", compare(ref, h))

        # Cortex-M4F (single-precision FPU; double in software) in QEMU:
        # as every other target; then with PCG_NO_DOUBLE (float models
        # without double arithmetic) as x86-64 with PCG_NO_DOUBLE.
        nd_ref = None
        if ref is not None:
            why, nd_ref, err = nd_job.result()
            if nd_ref is None:
                ok(False, "x86-64 gcc -O2 -DPCG_NO_DOUBLE: builds and runs",
                   why or err)
        for k, (want, (_, name)) in enumerate(zip([ref, nd_ref], m4f_names)):
            if m4f_jobs is None:
                skip(name, "no examples/mcu/m4f.py")
                continue
            if want is None:
                skip(name, "no reference")
                continue
            r = m4f_jobs[k].result()
            if r.returncode == 77:
                skip(name, r.stderr.strip().splitlines()[-1])
            elif r.returncode != 0:
                ok(False, name + ": builds and runs", r.stdout + r.stderr)
            else:
                h = hashes(r.stdout)
                ok(h == want, name + ": the same hashes", compare(want, h))
        if nd_ref is not None:
            # PCG_NO_DOUBLE changes the float models' arithmetic (and only
            # theirs): the two sets of hashes must differ there
            diff = [m for m in sorted(ref) if ref[m] != nd_ref[m]]
            print("# models that PCG_NO_DOUBLE changes: %s" %
                  (", ".join(diff) or "none"))
            ok(diff and all(m.endswith("_f") for m in diff),
               "x86-64: PCG_NO_DOUBLE changes float models only")

        for (an, _, _, bn, _, _), (ja, jb) in zip(pairs, pair_jobs):
            what = ("negative control: without PCG_REPRODUCIBLE, %s and %s "
                    "differ" % (an, bn))
            (wa, ha, ea), (wb, hb, eb) = ja.result(), jb.result()
            if wa or wb:
                skip(what, wa or wb)
                continue
            if ha is None or hb is None:
                ok(False, what, ea + eb)
                continue
            diff = [m for m in sorted(ha) if ha[m] != hb[m]]
            print("# models that differ: %s" % (", ".join(diff) or "none"))
            ok(len(diff) > 0, what)

main()
sys.exit(done())
