#!/usr/bin/env python3
"""Tests of examples/trainer (TAP): options, data errors, the side-by-side
run (Z-IL identical to BP), learning, resume, optimizers (Adam: learning,
Z-IL identical to BP, resume), short batches, dropout, progress, plots,
and Fashion-MNIST (crafted IDX files always; the real set where
installed).

usage: run_trainer.py TRAINER DIGITS_CSV
"""
import gzip
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
from tap import done, ok, skip  # noqa: E402

TRAINER, DIGITS = sys.argv[1], sys.argv[2]
FASHION = "/usr/share/datasets/fashion-mnist"


def run(*args, timeout=300):
    p = subprocess.run([TRAINER, *args], capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def rows(out):
    """the per-epoch lines: (epoch, method, loss, acc, diff or None)"""
    r = []
    for line in out.splitlines():
        m = re.match(r"\s*(\d+)\s+(bp|zil|pc|fazil|ipc)\s+(\S+)\s+(\S+)%\s+\S+s"
                     r"(?:\s+(\S+))?$", line)
        if m:
            r.append((int(m[1]), m[2], float(m[3]), float(m[4]), m[5]))
    return r


def read(path):
    with open(path, "rb") as f:
        return f.read()


tmp = tempfile.mkdtemp(prefix="pcc-trainer-")

# --- the command line ---
rc, out, err = run("--help")
ok(rc == 0 and all(o in out for o in
                   ["--data", "--methods", "--epochs", "--batch", "--lr",
                    "--seed", "--pc-steps", "--pc-gamma", "--out",
                    "--resume", "--plot", "--progress", "--optim",
                    "--momentum", "--beta1", "--beta2", "--eps",
                    "--weight-decay", "--train-size", "--test-size"]),
   "--help lists every option", out + err)

bad_lines = [
    (["--frobnicate"], "unknown option"),
    (["--batch", "7"], "batch sizes 1 8 16 32, not 7"),
    (["--methods", "bp,sgd"], "unknown method 'sgd'"),
    (["--methods", ","], "no method"),
    (["--epochs", "0"], "not an integer in 1..10000"),
    (["--lr", "-1"], "not a positive number"),
    (["--lr", "nan"], "not a positive number"),
    (["--model", "mlp"], "reads the fashion data set"),
    (["--model", "vgg"], "no model 'vgg'"),
    (["--data", "cifar"], "unknown data set 'cifar'"),
    (["--plot", "png"], "expected auto, gnuplot, svg or none"),
    (["--epochs"], "needs a value"),
    (["stray"], "unexpected argument"),
    (["--optim", "rmsprop"], "unknown optimizer 'rmsprop'"),
    (["--optim", "adam", "--beta1", "1"],
     "--beta1 1: beta1 outside [0, 1)"),
    (["--optim", "adamw", "--beta2", "-0.5"],
     "--beta2 -0.5: beta2 outside [0, 1)"),
    (["--optim", "adam", "--eps", "inf"], "--eps inf: eps negative or not "
     "finite"),
    (["--optim", "nesterov", "--momentum", "0"], "Nesterov needs one > 0"),
    (["--optim", "momentum", "--momentum", "-1"], "momentum negative"),
    (["--optim", "adamw", "--weight-decay", "-0.1"],
     "weight decay negative"),
    (["--eps", "x"], "--eps: 'x' is not a number"),
]
for args, want in bad_lines:
    rc, out, err = run("--out", os.path.join(tmp, "bad"), *args)
    ok(rc == 2 and want in err, f"bad command line {args}: exit 2, '{want}'",
       f"rc={rc}\n{err}")
ok(os.listdir(os.path.join(tmp, "bad")) == [],
   "a bad command line trains nothing and writes nothing",
   os.listdir(os.path.join(tmp, "bad")))

# --- bad digits files: exit 1, the file and line named ---
good = gzip.decompress(read(DIGITS)).decode().splitlines()


def digits_file(name, lines, compress=True, cut=None):
    path = os.path.join(tmp, name)
    data = ("\n".join(lines) + "\n").encode()
    if compress:
        data = gzip.compress(data)
    if cut:
        data = data[:cut]
    with open(path, "wb") as f:
        f.write(data)
    return path


row = good[0].split(",")
bad_data = [
    ("missing", os.path.join(tmp, "nope.csv.gz"), "cannot open"),
    ("short row", digits_file("short.csv.gz", good[:3] + [",".join(row[1:])]
                              + good[3:10]), ":4: 64 fields; expected 65"),
    ("pixel 17", digits_file("pix.csv", good[:2] + [",".join(["17"] + row[1:])],
                             compress=False), ":3: pixel 1 is 17"),
    ("label 10", digits_file("lab.csv", [",".join(row[:64] + ["10"])],
                             compress=False), ":1: label 10"),
    ("not a number", digits_file("nan.csv", [",".join(row[:5] + ["x"] + row[6:])],
                                 compress=False), ":1: field 6: expected an integer"),
    ("truncated gzip", digits_file("cut.csv.gz", good, cut=3000),
     "ends early"),
    ("too few rows", digits_file("few.csv", good[:3], compress=False),
     "at least 5"),
]
for name, path, want in bad_data:
    rc, out, err = run("--data-path", path, "--out", os.path.join(tmp, "bad"))
    ok(rc == 1 and path in err and want in err,
       f"bad digits file ({name}): exit 1, file named, '{want}'",
       f"rc={rc}\n{err}")

# --- a side-by-side run: Z-IL identical to BP, files written ---
run_dir = os.path.join(tmp, "run")
rc, out, err = run("--epochs", "3", "--out", run_dir)
r = rows(out)
ok(rc == 0 and len(r) == 9, "3 epochs x 3 methods: a line each", out + err)
zil = [x for x in r if x[1] == "zil"]
bp = [x for x in r if x[1] == "bp"]
ok(len(zil) == 3 and all(x[4] == "0" for x in zil),
   "max |theta_zil - theta_bp| printed as 0 every epoch", out)
ok([x[2:4] for x in zil] == [x[2:4] for x in bp],
   "Z-IL's loss and accuracy equal BP's every epoch", out)
ok("\r" not in out and "ETA" not in out,
   "not a terminal: plain lines, no progress bar", repr(out[:300]))
ck = {m: os.path.join(run_dir, f"{m}-0003.ckpt") for m in ("bp", "zil", "pc")}
ok(all(os.path.exists(p) for p in ck.values()) and
   not os.path.exists(os.path.join(run_dir, "bp-0002.ckpt")),
   "checkpoints of the last epoch kept, earlier ones removed",
   os.listdir(run_dir))
ok(read(ck["bp"]) == read(ck["zil"]),
   "the BP and Z-IL checkpoints are the same bytes")
ok(read(ck["bp"]) != read(ck["pc"]),
   "control: the standard-PC checkpoint differs from BP's")
with open(os.path.join(run_dir, "curves.csv")) as f:
    csv = [line.rstrip("\n").split(",") for line in f]
ok(csv[0][:2] == ["epoch", "method"] and len(csv) == 10 and
   all(c[5] == "0" for c in csv[1:] if c[1] == "zil") and
   [(int(c[0]), c[1]) for c in csv[1:]] == [x[:2] for x in r] and
   all(abs(float(c[3]) * 100 - x[3]) < 0.006 for c, x in zip(csv[1:], r)),
   "curves.csv: the printed rows, diff 0 on every Z-IL row", csv)
svg = os.path.join(run_dir, "plot.svg")
try:
    root = ET.parse(svg).getroot()
    polylines = root.findall(".//{http://www.w3.org/2000/svg}polyline")
    ok(root.tag.endswith("svg") and len(polylines) in (0, 6) and
       os.path.getsize(svg) > 1000,
       "plot.svg is an SVG document (6 curves from the built-in writer, "
       "or gnuplot's)", f"{len(polylines)} polylines")
except (ET.ParseError, OSError) as e:
    ok(False, "plot.svg is an SVG document", e)
with open(os.path.join(run_dir, "trainer.state")) as f:
    state = f.read()
ok("epochs-done 3" in state and "seed 1" in state,
   "trainer.state names the epochs done and the settings", state)

# --- the built-in SVG writer and gnuplot, each asked for by name ---
for how in ("svg", "gnuplot"):
    if how == "gnuplot" and not shutil.which("gnuplot"):
        skip("--plot gnuplot writes an SVG", "gnuplot not installed")
        continue
    d = os.path.join(tmp, "plot-" + how)
    rc, out, err = run("--epochs", "2", "--plot", how, "--out", d)
    try:
        root = ET.parse(os.path.join(d, "plot.svg")).getroot()
        ok(rc == 0 and root.tag.endswith("svg"),
           f"--plot {how} writes an SVG document", err)
    except (ET.ParseError, OSError) as e:
        ok(False, f"--plot {how} writes an SVG document", f"{e}\n{err}")
d = os.path.join(tmp, "plot-none")
rc, out, err = run("--epochs", "1", "--plot", "none", "--out", d)
ok(rc == 0 and not os.path.exists(os.path.join(d, "plot.svg")),
   "--plot none writes no plot", err)

# --- learning: the demo's claim ---
rc, out, err = run("--out", os.path.join(tmp, "full"))
r = rows(out)
last = {x[1]: x for x in r if x[0] == 20}
first = {x[1]: x for x in r if x[0] == 1}
ok(rc == 0 and last["bp"][3] > 90 and last["zil"][3] == last["bp"][3],
   "20 epochs on the digits: BP and Z-IL above 90 % test accuracy, equal",
   out)
ok(all(last[m][2] < 0.5 * first[m][2] for m in ("bp", "zil", "pc")) and
   last["pc"][3] > 80,
   "every method learns: loss halves, standard PC above 80 %", out)

# --- resume: 2 epochs + resume to 4 == 4 epochs straight ---
a, b, c = (os.path.join(tmp, x) for x in ("res-a", "res-b", "res-c"))
run("--epochs", "4", "--out", a)
rc1, _, err1 = run("--epochs", "2", "--out", b)
rc2, out2, err2 = run("--epochs", "4", "--resume", "--out", b)
ok(rc1 == 0 and rc2 == 0 and "resuming" in out2 and len(rows(out2)) == 6,
   "--resume continues from epoch 2 to 4", out2 + err1 + err2)
same = all(read(os.path.join(a, f"{m}-0004.ckpt")) ==
           read(os.path.join(b, f"{m}-0004.ckpt"))
           for m in ("bp", "zil", "pc"))
ok(same, "resumed checkpoints are the same bytes as an uninterrupted run's")


def curve(d):
    with open(os.path.join(d, "curves.csv")) as f:
        return [l.split(",")[:4] for l in f]


ok(curve(a) == curve(b), "resumed curves.csv equals the uninterrupted one "
   "(all but the times)", curve(b))
run("--epochs", "4", "--seed", "2", "--out", c)
ok(read(os.path.join(a, "bp-0004.ckpt")) !=
   read(os.path.join(c, "bp-0004.ckpt")),
   "control: another seed gives other parameters")
rc, out, err = run("--epochs", "6", "--resume", "--lr", "0.2", "--out", b)
ok(rc == 3 and "started with --lr 0.10000000000000001" in err,
   "--resume with another --lr is refused", err)
rc, out, err = run("--epochs", "2", "--resume", "--out", b)
ok(rc == 2 and "asks for fewer" in err, "--resume to fewer epochs is refused",
   err)
rc, out, err = run("--resume", "--out", os.path.join(tmp, "empty"))
ok(rc == 3 and "trainer.state" in err, "--resume with nothing saved: exit 3",
   err)
os.remove(os.path.join(b, "zil-0004.ckpt"))
rc, out, err = run("--epochs", "5", "--resume", "--out", b)
ok(rc == 3 and "zil-0004.ckpt" in err,
   "--resume with a checkpoint missing: exit 3, file named", err)
rc, out, err = run("--out", "/proc/no/such/dir")
ok(rc == 3 and "/proc/no/such/dir" in err, "an unwritable --out: exit 3", err)

# --- Adam: learning, Z-IL identical to BP, an optimizer state resumed ---
adam = ["--optim", "adam", "--lr", "0.01"]
d = os.path.join(tmp, "adam")
rc, out, err = run(*adam, "--epochs", "3", "--out", d)
r = rows(out)
first = {x[1]: x for x in r if x[0] == 1}
last = {x[1]: x for x in r if x[0] == 3}
ok(rc == 0 and "optimizer adam (P_step_*)" in out and len(r) == 9 and
   all(last[m][2] < 0.5 * first[m][2] for m in ("bp", "zil", "pc")) and
   last["bp"][3] > 90,
   "--optim adam: every method's loss halves in 3 epochs, BP above 90 %",
   out + err)
ok(all(x[4] == "0" for x in r if x[1] == "zil") and
   [x[2:4] for x in r if x[1] == "zil"] == [x[2:4] for x in r if x[1] == "bp"]
   and read(os.path.join(d, "bp-0003.ckpt")) ==
   read(os.path.join(d, "zil-0003.ckpt")) and
   read(os.path.join(d, "bp-0003.opt")) == read(os.path.join(d, "zil-0003.opt")),
   "--optim adam: Z-IL's parameters and optimizer state are BP's bits", out)
ok(read(os.path.join(d, "bp-0003.ckpt")) !=
   read(os.path.join(run_dir, "bp-0003.ckpt")) and
   read(os.path.join(d, "bp-0003.opt")) != read(os.path.join(d, "pc-0003.opt")),
   "control: Adam's parameters differ from SGD's, PC's state from BP's")
e = os.path.join(tmp, "adam-resumed")
rc1, _, err1 = run(*adam, "--epochs", "2", "--out", e)
rc2, out2, err2 = run("--epochs", "3", "--resume", "--out", e)
ok(rc1 == 0 and rc2 == 0 and "optimizer adam" in out2 and
   all(read(os.path.join(d, f"{m}-0003.{x}")) ==
       read(os.path.join(e, f"{m}-0003.{x}"))
       for m in ("bp", "zil", "pc") for x in ("ckpt", "opt")),
   "--optim adam, 2 epochs + --resume to 3: the bits of 3 straight",
   out2 + err1 + err2)
os.remove(os.path.join(e, "pc-0003.opt"))
rc, out, err = run("--epochs", "4", "--resume", "--out", e)
ok(rc == 3 and "pc-0003.opt" in err,
   "--resume with an optimizer state missing: exit 3, file named", err)
rc, out, err = run("--epochs", "4", "--resume", "--optim", "sgd", "--out", e)
ok(rc == 3 and "started with --optim adam" in err,
   "--resume with another --optim is refused", err)

# --- Fa-Z-IL and incremental PC: learning, Fa-Z-IL with BP, resume ---
fz = os.path.join(tmp, "fazil")
new = ["--methods", "bp,fazil,ipc", "--pc-steps", "5"]
rc, out, err = run(*new, "--epochs", "3", "--out", fz)
r = rows(out)
first = {x[1]: x for x in r if x[0] == 1}
last = {x[1]: x for x in r if x[0] == 3}
ok(rc == 0 and len(r) == 9 and "incremental PC: 5 steps" in out and
   all(last[m][2] < 0.5 * first[m][2] for m in ("bp", "fazil", "ipc")),
   "--methods bp,fazil,ipc: every method's loss halves in 3 epochs",
   out + err)
ok(all(abs(x[2] - y[2]) <= 1e-3 * y[2] and abs(x[3] - y[3]) <= 1
       for x, y in zip([x for x in r if x[1] == "fazil"],
                       [x for x in r if x[1] == "bp"])),
   "Fa-Z-IL's loss within 1e-3 and accuracy within 1 point of BP's "
   "every epoch (float)", out)
ok(read(os.path.join(fz, "ipc-0003.ckpt")) !=
   read(os.path.join(fz, "bp-0003.ckpt")),
   "control: incremental PC's parameters differ from BP's")
fr = os.path.join(tmp, "fazil-resumed")
rc1, _, err1 = run(*new, "--epochs", "2", "--out", fr)
rc2, out2, err2 = run("--epochs", "3", "--resume", "--out", fr)
ok(rc1 == 0 and rc2 == 0 and "resuming" in out2 and
   all(read(os.path.join(fz, f"{m}-0003.ckpt")) ==
       read(os.path.join(fr, f"{m}-0003.ckpt")) for m in ("fazil", "ipc")),
   "fazil and ipc, 2 epochs + --resume to 3: the bits of 3 straight",
   out2 + err1 + err2)
fa = os.path.join(tmp, "fazil-adam")
rc, out, err = run(*new, "--optim", "adam", "--lr", "0.01", "--epochs", "2",
                   "--out", fa)
r = rows(out)
ok(rc == 0 and len(r) == 6 and
   all(x[3] > 50 for x in r if x[0] == 2),
   "--optim adam: fazil and ipc (P_step_fazil, P_step_ipc) learn", out + err)

# --- --trace: PC inference per step, the energy level by level ---
tr = os.path.join(tmp, "trace.csv")
rc, out, err = run("--methods", "bp,pc", "--epochs", "1", "--pc-steps", "10",
                   "--trace", tr, "--out", os.path.join(tmp, "traced"))
try:
    with open(tr) as f:
        t = [line.rstrip("\n").split(",") for line in f]
except OSError as e:
    t = [[str(e)]]
levels = [c for c in t[0] if c.startswith("level_")]
L = len(levels)
body = [[r[0], r[1], int(r[2])] + [float(x) for x in r[3:]] for r in t[1:]]
ok(rc == 0 and t[0][:4] == ["epoch", "method", "step", "energy"] and
   t[0][-1] == "bp_cosine" and L >= 2 and len(body) == 22 and
   [r[1] for r in body] == ["bp"] * 11 + ["pc"] * 11 and
   all(len(r) == 5 + L for r in body),
   "--trace: a header, one row per inference step (0..10) per method",
   "\n".join(",".join(r) for r in t[:4]) + err)
ok(all(abs(sum(r[4:4 + L]) - r[3]) <= 1e-5 * abs(r[3]) for r in body),
   "--trace: the levels sum to the energy on every row")
ok(all(all(x == 0 for x in r[5:4 + L]) for r in body if r[2] == 0),
   "--trace: at step 0 (x = mu) only level 0 (the loss) is non-zero")
ok(all(b[3] <= a[3] * (1 + 1e-5) for a, b in zip(body, body[1:])
       if b[2] > 0),
   "--trace: the energy never rises at gamma 0.1")
cos = {(r[1], r[2]): r[-1] for r in body}
ok(all(-1 <= c <= 1 for c in cos.values()) and
   all(0 < cos[m, 0] < 1 and cos[m, 10] > cos[m, 0] for m in ("bp", "pc")),
   "--trace: the cosine with BP is in (0, 1) at step 0 (only the output "
   "layer learns there) and grows as the errors spread: %s" %
   ", ".join("%s %.3f -> %.3f" % (m, cos[m, 0], cos[m, 10])
             for m in ("bp", "pc") if (m, 10) in cos))
svg = os.path.join(tmp, "traced", "trace.svg")
try:
    root = ET.parse(svg).getroot()
    lines = root.findall("{http://www.w3.org/2000/svg}polyline")
    ok(len(lines) >= L + 2,
       "--trace: trace.svg, energy per level and cosine per method "
       "(%d lines for %d levels and 2 methods)" % (len(lines), L))
except (OSError, ET.ParseError) as e:
    ok(False, "--trace: trace.svg is well-formed SVG", str(e))
# --- short batches: every sample used, the loss a mean over samples ---
rc, out, err = run("--train-size", "100", "--epochs", "1", "--methods", "bp",
                   "--out", os.path.join(tmp, "short"))
ok(rc == 0 and "100 training samples in 7 batches (the last of 4)" in out,
   "--train-size 100 --batch 16: 7 batches, the last of 4 samples", out + err)
# one batch of 4 samples: the same update in models made for 8 and for 16
tiny = {}
for b in (8, 16):
    tiny[b] = os.path.join(tmp, f"tiny-{b}")
    rc, out, err = run("--train-size", "4", "--batch", str(b), "--epochs", "1",
                       "--methods", "bp,zil", "--out", tiny[b])
    tiny[b, "rows"] = rows(out)
ok(rc == 0 and read(os.path.join(tiny[8], "bp-0001.ckpt")) ==
   read(os.path.join(tiny[16], "bp-0001.ckpt")) and
   tiny[8, "rows"] == tiny[16, "rows"],
   "4 samples in a batch-8 and in a batch-16 model: the same step, loss and "
   "test accuracy", f"{tiny[8, 'rows']}\n{tiny[16, 'rows']}")
rc, out, err = run("--train-size", "5", "--batch", "8", "--epochs", "1",
                   "--methods", "bp", "--out", os.path.join(tmp, "tiny-5"))
ok(read(os.path.join(tiny[8], "bp-0001.ckpt")) !=
   read(os.path.join(tmp, "tiny-5", "bp-0001.ckpt")),
   "control: a fifth sample changes the step")
# at a learning rate too small to move anything, the epoch's loss is the
# initial mean loss over the samples, however they are batched
loss = {}
for b in (1, 8, 16):
    rc, out, err = run("--train-size", "20", "--batch", str(b), "--lr",
                       "1e-30", "--epochs", "1", "--methods", "bp",
                       "--out", os.path.join(tmp, f"mean-{b}"))
    loss[b] = rows(out)[0][2] if rows(out) else None
ok(None not in loss.values() and
   max(loss.values()) - min(loss.values()) < 2e-6,
   "20 samples in batches of 1, 8+8+4 and 16+4: the same epoch loss (a "
   "mean over samples)", loss)

# --- progress: a bar with rate and ETA on a terminal ---
pid, fd = pty.fork()
if pid == 0:
    os.execv(TRAINER, [TRAINER, "--epochs", "2", "--batch", "1",
                       "--out", os.path.join(tmp, "tty")])
chunks = []
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    chunks.append(data)
_, status = os.waitpid(pid, 0)
tty = b"".join(chunks).decode(errors="replace")
ok(os.waitstatus_to_exitcode(status) == 0 and "\r" in tty and
   re.search(r"\[#+\.*\]\s+\d+%\s+\d+ samples/s\s+ETA \d+:\d\d", tty),
   "on a terminal: a progress bar with rate and ETA", repr(tty[-400:]))
rc, out, err = run("--epochs", "1", "--progress", "bar", "--batch", "1",
                   "--out", os.path.join(tmp, "bar"))
ok(rc == 0 and "ETA" in out, "--progress bar draws it into a pipe too",
   repr(out[-300:]))

# --- Fashion-MNIST format: crafted IDX files (always), the real set ---


def idx(path, dims, payload, magic=None):
    head = magic if magic is not None else bytes([0, 0, 8, len(dims)])
    head += b"".join(struct.pack(">I", d) for d in dims)
    with open(path, "wb") as f:
        f.write(gzip.compress(head + payload))


def fashion_dir(name, n=96, img_dims=None, lab_dims=None, labels=None,
                magic=None, cut=0):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    # class k: a bright 6x6 square at one of 10 places
    pix, lab = bytearray(), bytearray()
    for i in range(n):
        k = i % 10
        img = bytearray(784)
        for y in range(6):
            for x in range(6):
                img[(2 + (k // 5) * 12 + y) * 28 + 2 + (k % 5) * 5 + x] = 255
        pix += img
        lab.append(k)
    if labels is not None:
        lab = bytearray(labels)
    for stem in ("train", "t10k"):
        idx(os.path.join(d, f"{stem}-images-idx3-ubyte.gz"),
            img_dims or [n, 28, 28], bytes(pix[:len(pix) - cut]), magic)
        idx(os.path.join(d, f"{stem}-labels-idx1-ubyte.gz"),
            lab_dims or [len(lab)], bytes(lab))
    return d


good_f = fashion_dir("fm-good")
rc, out, err = run("--data", "fashion", "--data-path", good_f, "--epochs", "3",
                   "--methods", "bp,zil", "--lr", "0.05",
                   "--out", os.path.join(tmp, "fm"))
r = rows(out)
ok(rc == 0 and len(r) == 6 and all(x[4] == "0" for x in r if x[1] == "zil")
   and r[-1][3] > 90,
   "crafted Fashion-MNIST files: the mlp learns them, Z-IL equal to BP", out + err)
rc, out, err = run("--data", "fashion", "--data-path", good_f, "--model", "cnn",
                   "--batch", "16", "--epochs", "1", "--methods", "bp,zil",
                   "--out", os.path.join(tmp, "fm-cnn"))
r = rows(out)
ok(rc == 0 and len(r) == 2 and r[1][4] == "0",
   "crafted Fashion-MNIST files: the cnn trains, Z-IL equal to BP", out + err)
# mlp_dropout: resuming needs each method's dropout counter (trainer.state)
drop = ["--data", "fashion", "--data-path", good_f, "--model", "mlp_dropout",
        "--batch", "16", "--optim", "adam", "--lr", "0.001"]
d, e, f = (os.path.join(tmp, x) for x in ("drop", "drop-res", "drop-zero"))
rc, out, err = run(*drop, "--epochs", "3", "--out", d)
r = rows(out)
ok(rc == 0 and len(r) == 9 and all(x[4] == "0" for x in r if x[1] == "zil"),
   "mlp_dropout with adam: 3 epochs, Z-IL equal to BP", out + err)
run(*drop, "--epochs", "1", "--out", e)
with open(os.path.join(e, "trainer.state")) as fh:
    state = fh.read()
rc, out, err = run("--epochs", "3", "--resume", "--data-path", good_f,
                   "--out", e)
ok("rng-bp 6\n" in state and rc == 0 and
   all(read(os.path.join(d, f"{m}-0003.{x}")) ==
       read(os.path.join(e, f"{m}-0003.{x}"))
       for m in ("bp", "zil", "pc") for x in ("ckpt", "opt")),
   "mlp_dropout, 1 epoch + --resume to 3: the bits of 3 straight (the "
   "dropout counter saved: 6 steps)", state + out + err)
run(*drop, "--epochs", "1", "--out", f)
with open(os.path.join(f, "trainer.state")) as fh:
    state = fh.read()
with open(os.path.join(f, "trainer.state"), "w") as fh:
    fh.write(re.sub(r"rng-bp \d+", "rng-bp 0", state))
rc, out, err = run("--epochs", "3", "--resume", "--data-path", good_f,
                   "--out", f)
ok(rc == 0 and read(os.path.join(d, "bp-0003.ckpt")) !=
   read(os.path.join(f, "bp-0003.ckpt")) and
   read(os.path.join(d, "zil-0003.ckpt")) ==
   read(os.path.join(f, "zil-0003.ckpt")),
   "control: resumed with BP's counter reset, BP's dropout masks differ",
   out + err)
# two batches and one test batch: ResNet-20 is the trainer's largest model
# (a hundred seconds for the 96 samples in the sanitized build)
rc, out, err = run("--data", "fashion", "--data-path", good_f, "--model",
                   "resnet20", "--batch", "16", "--epochs", "1", "--methods",
                   "bp,zil", "--optim", "adam", "--lr", "0.001",
                   "--train-size", "32", "--test-size", "16",
                   "--out", os.path.join(tmp, "fm-resnet20"))
r = rows(out)
ok(rc == 0 and "padded to 32x32" in out and len(r) == 2 and r[1][4] == "0",
   "crafted Fashion-MNIST files padded to 32x32: resnet20 (batch norm) "
   "trains with adam, Z-IL equal to BP", out + err)
bad_fashion = [
    ("missing folder", os.path.join(tmp, "fm-none"), "cannot open"),
    ("bad magic", fashion_dir("fm-magic", magic=b"\x12\x34\x08\x03"),
     "not an IDX file"),
    ("not bytes", fashion_dir("fm-type", magic=b"\x00\x00\x0d\x03"),
     "element type 0x0d"),
    ("truncated", fashion_dir("fm-cut", cut=100), "the file holds"),
    ("14x14 images", fashion_dir("fm-size", n=1, img_dims=[4, 14, 14]),
     "expected 28x28"),
    ("label count", fashion_dir("fm-count", labels=[1] * 50), "50 labels for 96"),
    ("label 10", fashion_dir("fm-label", labels=[10] * 96), "label 10 of sample 1"),
]
for name, d, want in bad_fashion:
    rc, out, err = run("--data", "fashion", "--data-path", d,
                       "--out", os.path.join(tmp, "bad"))
    ok(rc == 1 and d in err and want in err,
       f"bad Fashion-MNIST files ({name}): exit 1, file named, '{want}'",
       f"rc={rc}\n{err}")

if os.path.isdir(FASHION):
    rc, out, err = run("--data", "fashion", "--train-size", "6000",
                       "--epochs", "1",
                       "--methods", "bp,zil", "--out", os.path.join(tmp, "real"))
    r = rows(out)
    ok(rc == 0 and len(r) == 2 and r[1][4] == "0" and r[0][3] > 70,
       "real Fashion-MNIST (6000 samples, 1 epoch): above 70 %, Z-IL equal "
       "to BP", out + err)
else:
    skip("real Fashion-MNIST", f"{FASHION} not installed "
         "(Debian package dataset-fashion-mnist)")

shutil.rmtree(tmp, ignore_errors=True)
sys.exit(done())
