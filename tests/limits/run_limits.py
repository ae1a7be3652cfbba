#!/usr/bin/env python3
"""Limits: pcc on inputs far beyond any real model.

  run_limits.py PCC [--sanitized]

Each case writes an input into a temporary folder and runs pcc on it with
a 2 GB address-space limit (not with --sanitized: AddressSanitizer maps
terabytes of shadow memory), an 8 MB stack (64 MB with --sanitized) and a
300 s time limit.  pcc must
either compile the model or stop with exit status 1 and the expected
diagnostic in GNU format — never crash (a signal, or exit status 70), never
hit the limits.  The time and peak memory of every run are printed as
comments (the peak counts memory the runner had at fork, so small ones
are upper bounds).  Prints TAP.
"""
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
from tap import done, ok  # noqa: E402

PCC = sys.argv[1]
SANITIZED = "--sanitized" in sys.argv[2:]
MEMORY = 2 << 30
# An 8 MB stack as on most systems; with sanitizers (at -O0, with
# AddressSanitizer's redzones) each frame is several times larger, so the
# same recursion depth gets 64 MB there.
STACK = (64 if "--sanitized" in sys.argv[2:] else 8) << 20
TIMEOUT = 300


def limit():
    if not SANITIZED:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    resource.setrlimit(resource.RLIMIT_STACK, (STACK, STACK))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(folder, name, text, args=()):
    """Compile text as NAME.pcg; returns (status, stderr, seconds, peak MB)."""
    path = os.path.join(folder, name + ".pcg")
    with open(path, "w") as f:
        f.write(text)
    with open(os.path.join(folder, name + ".err"), "w+") as errf:
        t0 = time.monotonic()
        p = subprocess.Popen([PCC, path, "-o", os.path.join(folder,
                                                          name + ".c")]
                             + list(args), stdout=subprocess.DEVNULL,
                             stderr=errf, preexec_fn=limit)
        while True:  # wait4 gives this child's own peak memory
            pid, st, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > TIMEOUT:
                p.kill()
                pid, st, usage = os.wait4(p.pid, 0)
                st = None
                break
            time.sleep(0.01)
        secs = time.monotonic() - t0
        p.returncode = 0  # reaped here; keep Popen from waiting again
        status = ("timeout" if st is None else
                  os.WEXITSTATUS(st) if os.WIFEXITED(st) else
                  "signal %d" % os.WTERMSIG(st))
        errf.seek(0)
        err = errf.read()
    print("# %s: %d bytes, exit %s, %.2f s, peak RSS %.0f MB" %
          (name, len(text), status, secs, usage.ru_maxrss / 1024.0))
    return status, err, secs


def expect_error(folder, name, text, message, args=()):
    status, err, _ = run(folder, name, text, args)
    first = err.splitlines()[0] if err else ""
    ok(status == 1, "%s: exit status 1 (got %s)" % (name, status))
    ok(first.startswith(os.path.join(folder, name + ".pcg") + ":") and
       ": error: " in first and message in first,
       "%s: first diagnostic is '...: error: %s...' (got '%s')" %
       (name, message, first[:200]))
    ok(not os.path.exists(os.path.join(folder, name + ".c")),
       "%s: no output written" % name)


def expect_success(folder, name, text, args=()):
    status, err, _ = run(folder, name, text, args)
    ok(status == 0, "%s: compiles (exit %s; %s)" % (name, status,
                                                  err[:200].strip()))
    ok(os.path.exists(os.path.join(folder, name + ".c")),
       "%s: output written" % name)


MODEL = "model m {{\n input x[4];\n target y[4];\n param w[4];\n{body}}}\n"


def model(body):
    return MODEL.format(body=body)


def main():
    with tempfile.TemporaryDirectory() as d:
        # 100 000 nested parentheses: the parser's stack limit, no recursion
        n = 100000
        expect_error(d, "parens", model(" o = " + "(" * n + "x * w" + ")" * n +
                                        ";\n loss mse(o, y);\n"),
                     "nesting too deep")
        # and the same depth of unary minus, and of brackets in a shape
        expect_error(d, "negs", model(" o = " + "-" * n + "x * w;\n"
                                      " loss mse(o, y);\n"),
                     "nesting too deep")
        # a control: deep but within the limits compiles
        expect_success(d, "parens_500", model(
            " o = " + "(" * 500 + "x * w" + ")" * 500 +
            ";\n loss mse(o, y);\n"))

        # a 10 MB input: of statements (more operations than allowed) ...
        lines, size, i = [], 0, 0
        while size < 10 << 20:
            s = " h%d = tanh(h%d) + 0.5 * h%d - 0.25;\n" % (i + 1, i, i)
            lines.append(s)
            size += len(s)
            i += 1
        expect_error(d, "big_model", model(
            " h0 = x * w;\n" + "".join(lines) + " loss mse(h%d, y);\n" % i),
            "model too large: more than")
        # ... and of a comment, around a small model that compiles
        expect_success(d, "big_comment", "#" + "x" * (10 << 20) + "\n" +
                       model(" loss mse(x * w, y);\n"))
        # a model just under the operation limit compiles
        lines = [" h%d = tanh(h%d) + 0.5 * h%d - 0.25;\n" % (k + 1, k, k)
                 for k in range(32000)]
        expect_success(d, "near_limit", model(
            " h0 = x * w;\n" + "".join(lines) + " loss mse(h32000, y);\n"))

        # a 100 000-character identifier; 255 characters are allowed
        name = "a" * 100000
        expect_error(d, "long_ident", model(
            " %s = x * w;\n loss mse(%s, y);\n" % (name, name)),
            "identifier is too long (100000 characters")
        name = "b" * 255
        expect_success(d, "ident_255", model(
            " %s = x * w;\n loss mse(%s, y);\n" % (name, name)))

        # a loop of 10^9 iterations
        expect_error(d, "loop_1e9", model(
            " h[0] = x * w;\n for t in 0..1000000000 {\n"
            "  h[t+1] = tanh(h[t]);\n }\n loss mse(h[1000000000], y);\n"),
            "loop of 1000000000 iterations is too long")
        # nested loops of 10^9 iterations in all
        expect_error(d, "loops_1e9", model(
            " for i in 0..31623 {\n  for j in 0..31623 {\n"
            "   const k = i * j;\n  }\n }\n loss mse(x * w, y);\n"),
            "model too large")

        # shapes whose size overflows
        expect_error(d, "shape_overflow", model(
            " input z[65536, 65536, 65536];\n loss mse(x * w, y);\n"),
            "has too many elements")
        expect_error(d, "shape_overflow_int64", model(
            " const N = 2147483647;\n input z[N, N, N];\n"
            " loss mse(x * w, y);\n"),
            "has too many elements")
        expect_error(d, "shape_overflow_matmul", model(
            " param A[100000, 2];\n param B[2, 100000];\n"
            " o = sum(A @ B);\n loss mse(o + x * w, y);\n"),
            "too many elements")
        expect_error(d, "batch_overflow", model(
            " input z[100000000];\n o = sum(z) + x * w;\n"
            " loss mse(o, y);\n"),
            "holds more than", ["--batch", "1000000"])

        # a shape dimension beyond any tensor
        expect_error(d, "shape_dim", model(
            " input z[4294967296];\n loss mse(x * w, y);\n"),
            "is too large")

        # a def chain 10 000 calls deep
        defs = "def f0(v) = tanh(v);\n" + "".join(
            "def f%d(v) = f%d(v);\n" % (k, k - 1) for k in range(1, 10000))
        expect_error(d, "def_chain", defs + model(
            " o = f9999(x * w);\n loss mse(o, y);\n"),
            "nested too deeply")
        # a control: a chain 500 calls deep compiles
        defs = "def f0(v) = tanh(v);\n" + "".join(
            "def f%d(v) = f%d(v);\n" % (k, k - 1) for k in range(1, 500))
        expect_success(d, "def_chain_500", defs + model(
            " o = f499(x * w);\n loss mse(o, y);\n"))
    return done()


if __name__ == "__main__":
    sys.exit(main())
