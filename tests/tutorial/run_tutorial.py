#!/usr/bin/env python3
"""docs/tutorial.md, run (TAP): the model and the program are taken from the
page's ```pcg and ```c blocks, checked, generated, compiled warning-free and
run on the digits; the diagnostic the page shows is the one pcc prints.

usage: run_tutorial.py TUTORIAL.md PCC CC RUNTIME_INCLUDE RUNTIME_LIB DIGITS
                       [FLAGS...]  (what the runtime links with: -lopenblas, -fsanitize=...)
"""
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
from tap import done, ok  # noqa: E402

doc, pcc, cc, inc, lib, digits = (os.path.abspath(a) if os.path.exists(a)
                                  else a for a in sys.argv[1:7])
extra_libs = sys.argv[7:]


def sh(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True,
                          timeout=300, **kw)


text = open(doc).read()
blocks = re.findall(r"```(\w*)\n(.*?)```", text, re.S)
pcg = [b for lang, b in blocks if lang == "pcg"]
csrc = [b for lang, b in blocks if lang == "c"]
ok(len(pcg) == 1 and len(csrc) == 1, "the page has one model and one program")
tmp = tempfile.mkdtemp(prefix="pcc-tutorial-")
with open(os.path.join(tmp, "mynet.pcg"), "w") as f:
    f.write(pcg[0])
with open(os.path.join(tmp, "train.c"), "w") as f:
    f.write(csrc[0])

p = sh(pcc, "mynet.pcg", "--check", cwd=tmp)
ok(p.returncode == 0 and p.stdout == p.stderr == "",
   "pcc --check: silent, exit 0", p.stderr)

# the mistake the page describes, and the diagnostic it quotes
m = re.search(r"Write\s+`(.*?)`\s+by mistake.*?```\n(.*?)```", text, re.S)
wrong = m[1] if m else ""
right = re.sub(r"@ x", "@ h", wrong)
ok(m and right in pcg[0], "the page's mistake is a change of one line",
   wrong)
with open(os.path.join(tmp, "mynet.pcg"), "w") as f:
    f.write(pcg[0].replace(right, wrong))
p = sh(pcc, "mynet.pcg", "--check", cwd=tmp)
ok(p.returncode == 1 and m and p.stderr.rstrip() == m[2].rstrip(),
   "pcc prints the diagnostic the page shows", p.stderr)
with open(os.path.join(tmp, "mynet.pcg"), "w") as f:
    f.write(pcg[0])

p = sh(pcc, "mynet.pcg", "--info", cwd=tmp)
ok(p.returncode == 0 and "depth 2" in p.stdout, "pcc --info", p.stdout)
p = sh(pcc, "mynet.pcg", "-o", "mynet.c", "--batch", "16", cwd=tmp)
ok(p.returncode == 0 and os.path.exists(os.path.join(tmp, "mynet.h")),
   "pcc writes mynet.c and mynet.h", p.stderr)
p = sh(cc, "-O2", "-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
       "train.c", "mynet.c", "-I", inc, lib, *extra_libs, "-lm", "-o", "train",
       cwd=tmp)
ok(p.returncode == 0, "train.c and mynet.c compile warning-free",
   p.stderr)
with open(os.path.join(tmp, "digits.csv"), "wb") as f:
    f.write(gzip.decompress(open(digits, "rb").read()))
p = sh("./train", cwd=tmp) if os.path.exists(os.path.join(tmp, "train")) \
    else subprocess.CompletedProcess([], 1, "", "not built")
acc = [float(a) for a in re.findall(r"test accuracy ([\d.]+)%", p.stdout)]
ok(p.returncode == 0 and len(acc) == 11 and acc[9] > 90 and acc[9] > acc[0],
   "the program trains: test accuracy above 90 % after 10 epochs", p.stdout)
ok("Z-IL and BP parameters are identical" in p.stdout,
   "Z-IL and BP parameters identical", p.stdout)
ok("checkpoint reloaded: same bits" in p.stdout and len(acc) == 11 and acc[10] == acc[9],
   "the checkpoint reloads the same parameters", p.stdout)
shutil.rmtree(tmp, ignore_errors=True)
sys.exit(done())
