#!/usr/bin/env python3
"""Golden-file tests of pcc's output, printed as TAP.

  run_golden.py PCC errors DIR     every DIR/NAME.pcg must fail: exit status 1,
                                   stderr equal to DIR/NAME.err.expected, and
                                   no output file written
  run_golden.py PCC code DIR FILE.pcg...
                                   the generated NAME.c / NAME.h must equal
                                   DIR/NAME.c.expected / DIR/NAME.h.expected
                                   (a model given as NAME:FILE.pcg:ARGS is
                                   compiled with the arguments ARGS, its
                                   golden files named NAME)

A first line '# args: ...' in a .pcg adds command-line arguments.
With PCC_UPDATE_GOLDEN=1 the expected files are rewritten instead.
A mismatch prints a unified diff.
"""
import difflib
import os
import shlex
import subprocess
import sys
import tempfile

UPDATE = os.environ.get("PCC_UPDATE_GOLDEN") == "1"
count = 0
failed = 0


def report(good, what, detail=""):
    global count, failed
    count += 1
    print(("ok %d - %s" if good else "not ok %d - %s") % (count, what))
    if not good:
        failed += 1
        for line in detail.rstrip("\n").split("\n"):
            print("# " + line)
    sys.stdout.flush()


def extra_args(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        first = f.readline()
    if first.startswith("# args:"):
        return shlex.split(first[len("# args:"):])
    return []


def diff(expected, actual, name):
    return "".join(difflib.unified_diff(
        expected.splitlines(True), actual.splitlines(True),
        "expected/" + name, "actual/" + name))


def compare(expected_path, actual, what):
    if UPDATE:
        with open(expected_path, "w", encoding="utf-8") as f:
            f.write(actual)
        report(True, what + " (updated)")
        return
    try:
        with open(expected_path, encoding="utf-8") as f:
            expected = f.read()
    except FileNotFoundError:
        report(False, what, "missing %s (run with PCC_UPDATE_GOLDEN=1)"
               % expected_path)
        return
    report(expected == actual, what,
           diff(expected, actual, os.path.basename(expected_path)))


def errors(pcc, folder):
    names = sorted(n for n in os.listdir(folder) if n.endswith(".pcg"))
    for name in names:
        base = name[:-4]
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.c")
            # an existing output must survive a failed run untouched
            with open(out, "w") as f:
                f.write("previous\n")
            cmd = [pcc, name, "-o", out] + extra_args(os.path.join(folder, name))
            r = subprocess.run(cmd, cwd=folder, capture_output=True,
                               text=True, timeout=60)
            left = sorted(os.listdir(tmp))
            with open(out) as f:
                kept = f.read() == "previous\n"
        problems = []
        if r.returncode != 1:
            problems.append("exit status %d, expected 1" % r.returncode)
        if left != ["out.c"] or not kept:
            problems.append("output folder changed: %s" % left)
        if r.stdout:
            problems.append("unexpected stdout: %r" % r.stdout)
        if problems and not UPDATE:
            report(False, "%s: exit status and outputs" % name,
                   "\n".join(problems) + "\n" + r.stderr)
        else:
            report(True, "%s: exit status 1, no output written" % name)
        compare(os.path.join(folder, base + ".err.expected"), r.stderr,
                "%s: diagnostics" % name)


def code(pcc, folder, models):
    for spec in models:
        base, model, args = None, spec, []
        if spec.count(":") == 2:
            base, model, args = spec.split(":")
            args = shlex.split(args)
        model = os.path.abspath(model)
        base = base or os.path.splitext(os.path.basename(model))[0]
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, base + ".c")
            cmd = ([pcc, os.path.basename(model), "-o", out, "--prefix", base]
                   if args else [pcc, os.path.basename(model), "-o", out])
            cmd += extra_args(model) + args
            r = subprocess.run(cmd, cwd=os.path.dirname(model) or ".",
                               capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                report(False, "%s: pcc succeeds" % base, r.stderr)
                continue
            for ext in (".c", ".h"):
                with open(os.path.join(tmp, base + ext), encoding="utf-8") as f:
                    actual = f.read()
                compare(os.path.join(folder, base + ext + ".expected"),
                        actual, "%s%s matches the golden file" % (base, ext))


def main():
    print("TAP version 13")
    pcc, mode, folder = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3]
    if mode == "errors":
        errors(pcc, folder)
    else:
        code(pcc, folder, sys.argv[4:])
    print("1..%d" % count)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
