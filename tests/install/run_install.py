#!/usr/bin/env python3
"""Install: stage pcc with `meson install --destdir`, check what it holds,
then build and run examples/embed against the staged installation only.

  run_install.py MESON BUILDDIR SRCDIR CC [SANITIZE]

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
and gives its descriptor's version.  Prints TAP.
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
            ok(version == 2 and size > 0, "the library loads and "
               "digits_model() gives version 2 (size %s)" % size)
    return done()


if __name__ == "__main__":
    sys.exit(main())
