#!/usr/bin/env python3
"""Install: stage pcc with `meson install --destdir`, check what it holds,
then build and run examples/embed against the staged installation only.

  run_install.py MESON BUILDDIR SRCDIR CC [SANITIZE [PYTHON]]

CC is the project's C compiler; the embedded project is built with it,
and with -Db_sanitize=SANITIZE when the project's build is sanitized
(the staged library then needs the sanitizer runtimes).

The embedded project sees the stage through PATH (pcc), PKG_CONFIG_PATH
and PKG_CONFIG_SYSROOT_DIR (pcg-runtime.pc); the source tree's runtime is
never on its include or library path.  Controls: without the stage on
PKG_CONFIG_PATH the project does not configure (unless a pcg-runtime is
installed system-wide, then that control is skipped), and the staged
library really is what gets linked.  Then the shared library of
docs/api.md: digits by the staged pcc, `cc -shared -fPIC ... $(pkg-config
...)` against the stage, exporting digits_model, which (unsanitized) loads
and gives its descriptor's version.  Last, the pcg Python package from
the stage's site-packages, run by PYTHON (one with numpy), compiles
digits with the staged pcc and runtime and trains it.  Prints TAP.
"""
import glob
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
import tap  # noqa: E402
from tap import done  # noqa: E402

MESON, BUILD, SRC, CC = sys.argv[1:5]
SANITIZE = sys.argv[5] if len(sys.argv) > 5 else "none"
PYTHON = sys.argv[6] if len(sys.argv) > 6 else None


def ok(cond, what, detail=""):
    """A check whose detail's last lines are shown (logs end with the
    error)."""
    return tap.ok(cond, what, detail, tail=True)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True,
                          errors="replace", **kw)


def one(pattern, stage):
    found = glob.glob(os.path.join(stage, pattern), recursive=True)
    return found[0] if len(found) == 1 else None


def main():
    with tempfile.TemporaryDirectory() as tmp:
        stage = os.path.join(tmp, "stage")
        r = run([MESON, "install", "-C", BUILD, "--destdir", stage,
                 "--no-rebuild", "--quiet"])
        ok(r.returncode == 0, "meson install --destdir", r.stdout + r.stderr)
        files = {
            "bin/pcc": "**/bin/pcc",
            "bin/pcc-onnx": "**/bin/pcc-onnx",
            "include/pcg_runtime.h": "**/include/pcg_runtime.h",
            "the runtime library": "**/lib*/**/libpcg_runtime.a",
            "pkgconfig/pcg-runtime.pc": "**/pkgconfig/pcg-runtime.pc",
            "man1/pcc.1": "**/man1/pcc.1",
        }
        found = {}
        for what, pattern in files.items():
            found[what] = one(pattern, stage)
            ok(found[what] is not None, "the stage holds %s (%s)" %
               (what, found[what] and os.path.relpath(found[what], stage)))
        if None in found.values():
            return done()
        pcc = found["bin/pcc"]
        r = run([pcc, "--version"])
        ok(r.returncode == 0 and r.stdout.startswith("pcc "),
           "the staged pcc runs", r.stdout + r.stderr)
        onnx_tool = found["bin/pcc-onnx"]
        ok(os.access(onnx_tool, os.X_OK) and
           open(onnx_tool).readline().startswith("#!/usr/bin/python3"),
           "the staged pcc-onnx is executable, run by /usr/bin/python3")
        r = run(["man", "-l", "-P", "cat", found["man1/pcc.1"]],
                env=dict(os.environ, MANWIDTH="80"))
        ok(r.returncode != 0 or "pcc" in r.stdout,
           "the staged man page formats (where man is installed)")

        env = dict(os.environ)
        for k in ("PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR", "CPATH",
                  "LIBRARY_PATH", "C_INCLUDE_PATH"):
            env.pop(k, None)
        env["PATH"] = os.path.dirname(pcc) + os.pathsep + env["PATH"]
        env["CC"] = CC
        san = ([] if SANITIZE == "none" else
               ["-Db_sanitize=" + SANITIZE, "-Db_lundef=false"])
        embed = os.path.join(SRC, "examples", "embed")

        # control: without the stage's pkg-config file, no pcg-runtime
        r = run(["pkg-config", "--exists", "pcg-runtime"], env=env)
        if r.returncode == 0:
            ok(True, "# SKIP control: a pcg-runtime is installed system-wide")
        else:
            r = run([MESON, "setup", os.path.join(tmp, "nostage"), embed],
                    env=env)
            ok(r.returncode != 0 and "pcg-runtime" in r.stdout + r.stderr,
               "control: without the stage, examples/embed does not "
               "configure", r.stdout + r.stderr)

        env["PKG_CONFIG_PATH"] = os.path.dirname(found[
            "pkgconfig/pcg-runtime.pc"])
        env["PKG_CONFIG_SYSROOT_DIR"] = stage
        r = run(["pkg-config", "--cflags", "--libs", "pcg-runtime"], env=env)
        ok(r.returncode == 0 and stage in r.stdout,
           "pkg-config points into the stage: " + r.stdout.strip(), r.stderr)

        b = os.path.join(tmp, "embed-build")
        r = run([MESON, "setup", b, embed] + san, env=env)
        ok(r.returncode == 0, "examples/embed configures against the stage",
           r.stdout + r.stderr)
        r = run([MESON, "compile", "-C", b, "-v"], env=env)
        log = r.stdout + r.stderr
        ok(r.returncode == 0, "examples/embed builds", log)
        ok(pcc in log,
           "the build ran pcc", log)
        ok(os.path.join(SRC, "runtime") not in log and
           os.path.join(BUILD, "runtime") not in log,
           "the build never names the source tree's runtime", log)
        ok(os.path.dirname(found["the runtime library"]) in log,
           "the build links the staged runtime library", log)
        exe = os.path.join(b, "embed")
        ckpt = os.path.join(tmp, "xor.ckpt")
        r = run([exe, ckpt], cwd=tmp)
        out = r.stdout
        print("\n".join("# " + l for l in out.splitlines()))
        ok(r.returncode == 0, "embed runs and succeeds", out + r.stderr)
        ok("BP and Z-IL parameters differ by at most 0\n" in out and
           "saved and reloaded" in out, "embed reports agreement and the "
           "checkpoint", out)
        losses = []
        for line in out.splitlines():
            w = line.split()
            if w and w[0] in ("step", "final") and "BP" in w:
                losses.append(float(w[w.index("BP") + 1]))
        ok(len(losses) >= 2 and losses[-1] < losses[0],
           "training lowered the loss (%s)" % losses)
        with open(ckpt, "rb") if os.path.exists(ckpt) else open(os.devnull,
                                                                "rb") as f:
            magic = f.read(8)
        ok(magic == b"PCGCKPT\0", "the checkpoint file is a pcc checkpoint")

        # a shared library of a model, by the command of docs/api.md (the
        # staged static runtime is position-independent for it)
        gen = os.path.join(tmp, "digits.c")
        lib = os.path.join(tmp, "libdigits.so")
        r = run([pcc, os.path.join(SRC, "examples", "digits.pcg"), "-o",
                 gen], env=env)
        flags = run(["pkg-config", "--cflags", "--libs", "pcg-runtime"],
                    env=env).stdout.split()
        if r.returncode == 0:
            r = run([CC, "-std=c11", "-O2", "-shared", "-fPIC", gen] + flags
                    + ([] if SANITIZE == "none" else
                       ["-fsanitize=" + SANITIZE])
                    + ["-o", lib], env=env)
        ok(r.returncode == 0, "cc -shared -fPIC model.c $(pkg-config "
           "--cflags --libs pcg-runtime) builds a shared library",
           r.stdout + r.stderr)
        r = run(["nm", "-D", "--defined-only", lib])
        ok(r.returncode == 0 and any(l.split()[-2:] == ["T", "digits_model"]
                                     for l in r.stdout.splitlines()
                                     if len(l.split()) >= 2),
           "the shared library exports digits_model", r.stderr)
        if SANITIZE != "none":
            tap.skip("loading the shared library",
                     "a sanitized library needs its runtime first")
        else:
            import ctypes
            try:
                so = ctypes.CDLL(lib)
                so.digits_model.restype = ctypes.POINTER(ctypes.c_uint32)
                m = so.digits_model()
                version, size = m[0], m[1]
            except OSError as e:
                version, size = None, str(e)
            ok(version == 3 and size > 0, "the library loads and "
               "digits_model() gives version 3 (size %s)" % size)
        python_package(stage, tmp)
    return done()


PCG_SCRIPT = """
import os, sys
import numpy as np
import pcg
from pcg import _config
stage = sys.argv[1]
cfg = _config.get()
print("package", os.path.dirname(pcg.__file__))
print("pcc", cfg["pcc"])
print("include", cfg["runtime_include"])
print("lib", cfg["runtime_lib"])
m = pcg.compile(sys.argv[2], batch=8)
m.init(seed=1)
rng = np.random.default_rng(0)
x = rng.random((8, 64), dtype=np.float32)
y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 8)]
first = m.train_zil(x=x, y=y, lr=0.1)
for _ in range(20):
    last = m.train_zil(x=x, y=y, lr=0.1)
print("losses", first, last)
"""


def python_package(stage, tmp):
    """The pcg package from the stage: found in site-packages, its paths
    pointing into the stage (not the build tree), and it compiles and
    trains a model."""
    init = one("**/pcg/__init__.py", stage)
    paths = one("**/pcg/_paths.py", stage)
    ok(init is not None and paths is not None and "-packages" in init,
       "the stage holds the pcg package in site-packages (%s)"
       % (init and os.path.relpath(init, stage)))
    if init is None or paths is None:
        return
    if SANITIZE != "none":
        tap.skip("the staged pcg package compiles a model",
                 "a sanitized runtime cannot be loaded into Python")
        return
    if PYTHON is None or run([PYTHON, "-c", "import numpy"]).returncode:
        tap.skip("the staged pcg package compiles a model",
                 "no Python with numpy")
        return
    env = dict(os.environ)
    for k in ("PYTHONPATH", "PCG_PCC", "PCG_CC", "PCG_RUNTIME_INCLUDE",
              "PCG_RUNTIME_LIB"):
        env.pop(k, None)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(init))
    env["PCG_CACHE_DIR"] = os.path.join(tmp, "pcg-cache")
    r = run([PYTHON, "-c", PCG_SCRIPT, stage,
             os.path.join(SRC, "examples", "digits.pcg")], env=env, cwd=tmp)
    out = dict(line.split(" ", 1) for line in r.stdout.splitlines()
               if " " in line)
    ok(r.returncode == 0, "the staged pcg package imports, compiles "
       "digits and trains it", r.stdout + r.stderr)
    ok(all(out.get(k, "").startswith(stage)
           for k in ("package", "pcc", "include", "lib")),
       "it runs the staged pcc and links the staged runtime", r.stdout)
    ok(BUILD not in r.stdout and os.path.join(SRC, "runtime")
       not in r.stdout, "and never the build tree's", r.stdout)
    losses = [float(v) for v in out.get("losses", "nan nan").split()]
    ok(losses[1] < losses[0], "training from the stage lowers the loss "
       "(%s)" % losses)


if __name__ == "__main__":
    sys.exit(main())
