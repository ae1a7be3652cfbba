#!/usr/bin/env python3
"""examples/mpi: data-parallel training equals one process on the batch.

  run_mpi.py MPI_TRAIN

MPI_TRAIN is the built examples/mpi program, or '' where meson found no
MPI; the test skips then, and where mpirun is missing.

The reference is one process running the generated training step itself
(P_train_bp / P_train_zil, or P_step_* with Adam) on the whole global
batch, without MPI communication (mpi_train --single, -np 1).  Against it,
after 30 steps, with the relative difference max|a - b| / max|b| of the
final parameters (float):
  - one rank through the allreduce path, two ranks with even and uneven
    shards, and three ranks one of which has no sample, for BP and for
    Z-IL, are within 1e-6;
  - swapping the shards between the ranks (--reverse) is within 1e-6 of
    the reference and of the unswapped run;
  - Z-IL and BP give the same bits (the reference and the two-rank runs);
  - Adam (2 ranks) and momentum (3 uneven ranks) likewise;
  - the printed allreduce size is the model's trainable scalars (counted
    here from the shapes of examples/digits.pcg) plus the loss.
Negative controls (deliberately wrong variants of the program):
  - no allreduce: more than 1e-6 away, and the end-of-run check reports
    ranks with different parameters;
  - weights 1/P instead of n_r/N: within 1e-6 for even shards, more than
    1e-6 away for uneven ones (the weighting is what makes them equal);
  - weights 1 (the sum of the shard means): more than 1e-6 away;
  - rank 1 starting one ulp away from rank 0: refused at the start;
  - ranks given different settings (MPMD command line): refused;
  - shard sizes that do not add up: refused with a message, no hang.
Prints TAP.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
from tap import done, ok  # noqa: E402

EXE = sys.argv[1] if len(sys.argv) > 1 else ""
TOL = 1e-6
STEPS, BATCH = 30, 32
# examples/digits.pcg: W1[32, 64], b1[32], W2[10, 32], b2[10]
DIGITS_REALS = 32 * 64 + 32 + 10 * 32 + 10

def skip_all(why):
    print("1..0 # SKIP " + why)
    sys.exit(0)


if not EXE or not os.path.exists(EXE):
    skip_all("MPI was not found when the project was configured")
MPIRUN = shutil.which("mpirun")
if not MPIRUN:
    skip_all("mpirun not found")

ENV = dict(os.environ)
# a container runs as root; Open MPI refuses that without both variables
ENV["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
ENV["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
# Open MPI's own start-up allocations are never freed: not this program's
ENV["ASAN_OPTIONS"] = ENV.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
# shared memory only (no network in a container), more ranks than cores
MPI_ARGS = ["--oversubscribe", "--mca", "btl", "self,vader"]

TMP = tempfile.mkdtemp(prefix="pcc-mpi-")
runs = 0


def mpirun(np, args, mpmd=None):
    """(exit status, stdout + stderr, parameters or None)"""
    global runs
    runs += 1
    dump = os.path.join(TMP, "p%d.bin" % runs)
    cmd = [MPIRUN] + MPI_ARGS + ["-np", str(np), EXE, "--steps", str(STEPS),
                                 "--batch", str(BATCH), "--every", "0",
                                 "--dump", dump] + args
    if mpmd:
        cmd += [":", "-np", "1", EXE] + mpmd
    try:
        r = subprocess.run(cmd, env=ENV, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=180)
    except subprocess.TimeoutExpired:
        return -1, "timed out: " + " ".join(cmd), None
    out = r.stdout.decode(errors="replace")
    params = None
    if os.path.exists(dump):
        with open(dump, "rb") as f:
            b = f.read()
        params = struct.unpack("=%df" % (len(b) // 4), b)
        os.remove(dump)
    return r.returncode, out, params


def rel(a, b):
    if a is None or b is None or len(a) != len(b):
        return float("inf")
    scale = max(abs(y) for y in b)
    return max(abs(x - y) for x, y in zip(a, b)) / scale


def trained(np, args, what):
    """a run that must succeed; its parameters"""
    rc, out, p = mpirun(np, args)
    if rc != 0 or p is None:
        ok(False, what + ": runs", out)
        return None
    return p


def close(p, ref, what):
    d = rel(p, ref)
    ok(d <= TOL, "%s: within %g of one process (%.3g)" % (what, TOL, d))


def apart(p, ref, what):
    d = rel(p, ref)
    ok(p is not None and d > TOL,
       "%s: more than %g from one process (%.3g)" % (what, TOL, d))


refs = {}
two = {}
for method in ["bp", "zil"]:
    m = ["--method", method]
    ref = trained(1, m + ["--single"], method + " one process (reference)")
    refs[method] = ref
    ok(ref is not None and len(ref) == DIGITS_REALS,
       "%s reference: %d parameters" % (method, DIGITS_REALS))
    if ref is None:
        continue
    close(trained(1, m, method + " 1 rank"), ref, method + " 1 rank")
    even = trained(2, m + ["--shards", "16,16"], method + " 2 ranks 16,16")
    close(even, ref, method + " 2 ranks 16,16")
    two[method] = even
    swapped = trained(2, m + ["--shards", "16,16", "--reverse"],
                      method + " 2 ranks 16,16 swapped")
    close(swapped, ref, method + " 2 ranks 16,16 swapped")
    d = rel(swapped, even)
    ok(d <= TOL, "%s: swapping the shards changes nothing (%.3g)"
       % (method, d))
    uneven = trained(2, m + ["--shards", "21,11"], method + " 2 ranks 21,11")
    close(uneven, ref, method + " 2 ranks 21,11")
    # the same partition of the batch, the ranks' parts exchanged
    uswap = trained(2, m + ["--shards", "11,21", "--reverse"],
                    method + " 2 ranks 21,11 swapped")
    close(uswap, ref, method + " 2 ranks 21,11 swapped")
    d = rel(uswap, uneven)
    ok(d <= TOL, "%s: swapping uneven shards changes nothing (%.3g)"
       % (method, d))
    close(trained(3, m + ["--shards", "20,0,12"], method + " 3 ranks 20,0,12"),
          ref, method + " 3 ranks 20,0,12 (one without samples)")

ok(refs.get("bp") is not None and refs.get("bp") == refs.get("zil"),
   "Z-IL reference == BP reference, bit for bit")
ok(two.get("bp") is not None and two.get("bp") == two.get("zil"),
   "Z-IL on 2 ranks == BP on 2 ranks, bit for bit")

# an optimizer with state (Adam's moments), uneven shards
aref = trained(1, ["--single", "--optim", "adam", "--lr", "0.01"],
               "adam one process")
close(trained(2, ["--optim", "adam", "--lr", "0.01", "--shards", "21,11"],
              "adam 2 ranks 21,11"), aref, "adam 2 ranks 21,11")

mref = trained(1, ["--single", "--optim", "momentum", "--lr", "0.05"],
               "momentum one process")
close(trained(3, ["--optim", "momentum", "--lr", "0.05", "--shards",
                  "5,16,11"], "momentum 3 ranks 5,16,11"), mref,
      "momentum 3 ranks 5,16,11")

# what one step moves
rc, out, _ = mpirun(2, [])
want = "allreduce: %d scalars (%d trainable + the loss) = %d bytes" % (
    DIGITS_REALS + 1, DIGITS_REALS, 4 * (DIGITS_REALS + 1))
ok(rc == 0 and want in out, "prints '%s'" % want, out)

# --- negative controls ---
ref = refs.get("zil")
rc, out, p = mpirun(2, ["--shards", "16,16", "--control", "no-allreduce"])
apart(p, ref, "control no-allreduce")
ok(rc != 0 and "end with different parameters" in out,
   "control no-allreduce: the end-of-run check fails", out)
close(trained(2, ["--shards", "16,16", "--control", "unweighted"],
              "control unweighted 16,16"), ref,
      "control unweighted, even shards")
rc, out, p = mpirun(2, ["--shards", "21,11", "--control", "unweighted"])
apart(p, ref, "control unweighted, uneven shards")
rc, out, p = mpirun(2, ["--shards", "16,16", "--control", "unscaled"])
apart(p, ref, "control unscaled (sum of shard means)")
rc, out, p = mpirun(2, ["--control", "diverge"])
ok(rc != 0 and "start from different parameters" in out and p is None,
   "control diverge (one ulp apart): refused before training", out)
rc, out, p = mpirun(1, ["--lr", "0.1"], mpmd=["--lr", "0.2"])
ok(rc != 0 and "different settings" in out and p is None,
   "ranks given different settings: refused", out)
rc, out, p = mpirun(2, ["--shards", "20,11"])
ok(rc != 0 and "--shards sum to 31 samples; expected the batch, 32" in out,
   "shards that do not add up: refused", out)
rc, out, p = mpirun(2, ["--shards", "16,8,8"])
ok(rc != 0 and "--shards lists 3 sizes for 2 ranks" in out,
   "a shard list for other ranks: refused", out)
rc, out, p = mpirun(2, ["--method", "pc"])
ok(rc != 0 and "--method: bad value 'pc'" in out, "--method pc: refused",
   out)
rc, out, p = mpirun(2, ["--single"])
ok(rc != 0 and "run it with -np 1" in out, "--single on 2 ranks: refused",
   out)

shutil.rmtree(TMP, ignore_errors=True)
sys.exit(done())
