"""tap.py — the TAP output of the Python tests.

A test script puts tests/ on its path and imports it:

    sys.path.insert(0, os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    from tap import ok, skip, done

then calls ok() for each check, skip() for each check it cannot make
here, and ends with sys.exit(done()) (or returns done() from main), which
prints the plan and gives the exit status: 1 when any check failed.  A
script that needs a module that may be missing starts with
torch = require("torch", "python3-torch"): the whole script is skipped
when it is not there.
"""
import importlib
import sys

count = 0
failed = 0


def ok(cond, what, detail="", tail=False):
    """One check, passed when cond is true; on failure detail's first 30
    lines (tail: its last 30) follow as comments.  Returns cond."""
    global count, failed
    count += 1
    if not cond:
        failed += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (count, what))
    if not cond and detail:
        lines = str(detail).strip().splitlines()
        for line in lines[-30:] if tail else lines[:30]:
            print("#   " + line)
    sys.stdout.flush()
    return cond


def skip(what, why):
    """A check that cannot be made here, and why."""
    global count
    count += 1
    print("ok %d - %s # SKIP %s" % (count, what, why))
    sys.stdout.flush()


def done():
    """Print the plan; returns the exit status (1 when a check failed)."""
    print("1..%d" % count)
    sys.stdout.flush()
    return 1 if failed else 0


def require(module, package):
    """The module named module, imported; when it cannot be imported the
    whole script is skipped (plan 1..0) with the Debian package that
    provides it named, and the script exits with status 0."""
    try:
        return importlib.import_module(module)
    except ImportError:
        print("1..0 # SKIP %s is not installed" % package)
        sys.exit(0)
