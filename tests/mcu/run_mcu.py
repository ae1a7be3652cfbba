#!/usr/bin/env python3
"""Tests of examples/mcu (TAP): the M4F runner, and the digits firmware
trained on a Cortex-M4F in QEMU (mps2-an386) against the same firmware.c
built for the host.

usage: run_mcu.py SOURCE_ROOT PCC HOST_CC TRAINER [--cblas]

--cblas: the build hands the trainer's products to CBLAS, whose
summation order is not the runtime's; the comparison with it is skipped.

Skips everything (exit 77 from m4f.py check) where arm-none-eabi-gcc,
newlib for the M4F or qemu-system-arm is missing.

What is asserted:
- the runner: printf output comes out on stdout, main's status is the
  exit status, a program that never exits is stopped (124), the stack
  mark sees a 16 KiB local array (and stays under 1 KiB without it),
  under --icount SysTick's count repeats exactly and doubles with the
  work;
- the firmware runs to completion ("result: ok", status 0), the
  checkpoint saved with digits_save_mem loads back bit for bit with
  digits_load_mem, a corrupted and a truncated copy are refused with the
  parameters untouched, and the stack's high-water mark is measured and
  inside the stack;
- the host build follows examples/trainer's schedule: its parameters
  are, bit for bit, the payload of the checkpoint `trainer --methods zil
  --batch 8 --epochs 10` writes (same init, shuffles, batches, steps);
- the device's test accuracy is at least the host's minus 0.03.  Both
  run the same schedule on the same data from the same start; they differ
  only in the last bits of expf/tanhf/logf (newlib against glibc) and so
  in a few late decisions, not in what is learned: 0.03 is 11 of the 359
  test samples.  The host itself must beat 0.85 (chance is 0.10), or the
  bar would mean nothing.
Negative controls: the trainer with another seed gives other parameters;
the firmware with 0 epochs fails the accuracy bar; with
FW_CONTROL=1 (the loaded parameters damaged) the round trip is reported
inexact and the firmware fails; with FW_CONTROL=2 (the "corrupted"
checkpoint left intact) it is reported accepted and the firmware fails.
The parameter hashes of host and device are printed, not compared: libm
(newlib against glibc) and, on a host without FMA, the GEMM's fused
multiply-adds can change the last bits.
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
import tap  # noqa: E402
from tap import done, skip  # noqa: E402

ROOT, PCC, HOST_CC, TRAINER = sys.argv[1:5]
CBLAS = "--cblas" in sys.argv[5:]
EPOCHS = 10  # firmware.c's default
MCU = os.path.join(ROOT, "examples", "mcu")
M4F = [sys.executable, os.path.join(MCU, "m4f.py")]
RUNTIME = os.path.join(ROOT, "runtime")
CSV = os.path.join(ROOT, "examples", "data", "digits.csv.gz")
BATCH = 8
MARGIN = 0.03


def ok(cond, what, detail=""):
    """A check whose detail's last lines are shown (logs end with the
    error)."""
    return tap.ok(cond, what, detail, tail=True)


def note(text):
    for line in text.splitlines():
        print(f"# {line}")


def run(cmd, timeout=900):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def field(out, pattern, conv=str):
    m = re.search(pattern, out, re.M)
    return conv(m[1]) if m else None


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return f"{h:016x}"


def trainer_hash(tmp, seed, nbytes):
    """FNV-1a of the parameters in the trainer's last Z-IL checkpoint"""
    out = os.path.join(tmp, f"trainer-{seed}")
    rc, _, err = run([TRAINER, "--data-path", CSV, "--methods", "zil",
                      "--batch", str(BATCH), "--epochs", str(EPOCHS),
                      "--seed", str(seed), "--out", out, "--plot", "none",
                      "--progress", "lines"])
    if rc:
        return "trainer failed: " + err
    with open(os.path.join(out, f"zil-{EPOCHS:04d}.ckpt"), "rb") as f:
        ckpt = f.read()
    # the payload ends with the parameters, then an 8-byte hash
    return fnv1a(ckpt[-8 - nbytes:-8])


def passes_bar(acc, host_acc):
    return acc is not None and acc >= host_acc - MARGIN


def main():
    rc, _, err = run([*M4F, "check"])
    if rc == 77:
        print(f"1..0 # SKIP {err.strip()}")
        return 0
    with tempfile.TemporaryDirectory(prefix="mcu-test-") as tmp:
        return tests(tmp)


def tests(tmp):

    # --- the runner on an ordinary program ---
    hello = os.path.join(tmp, "hello.c")
    with open(hello, "w") as f:
        f.write('#include <stdio.h>\n#include <math.h>\n'
                'int main(void) {\n'
                '\tvolatile float x = 2.0f;\n'
                '\tprintf("sqrt %.6f\\n", (double)sqrtf(x));\n'
                '\treturn 7;\n}\n')
    rc, out, err = run([*M4F, "run", "--timeout", "120", hello])
    ok(rc == 7 and out == "sqrt 1.414214\n",
       "runner: a printf program's output on stdout, its status 7 out",
       f"status {rc}\n{out}{err}")
    spin = os.path.join(tmp, "spin.c")
    with open(spin, "w") as f:
        f.write("int main(void) {\n\tfor (;;) {\n\t}\n}\n")
    rc, out, err = run([*M4F, "run", "--timeout", "3", spin])
    ok(rc == 124, "runner: a program that never exits is stopped (124)",
       f"status {rc}\n{out}{err}")

    # the stack mark against a program that uses a known amount of stack
    deep = os.path.join(tmp, "deep.c")
    with open(deep, "w") as f:
        f.write('#include <stdio.h>\n#include <string.h>\n#include "m4f.h"\n'
                '#ifndef BIG\n#define BIG 1\n#endif\n'
                '__attribute__((noinline)) static int\n'
                'fill(int seed)\n{\n'
                '\tvolatile unsigned char a[BIG];\n'
                '\tfor (size_t i = 0; i < BIG; i++)\n'
                '\t\ta[i] = (unsigned char)(seed + (int)i);\n'
                '\treturn a[BIG / 2];\n}\n'
                'int main(void) {\n'
                '\tint v = fill(3);\n'
                '\tprintf("%d %lu\\n", v, (unsigned long)m4f_stack_used());\n'
                '\treturn 0;\n}\n')
    marks = {}
    for big in (1, 16384):
        rc, out, err = run([*M4F, "run", "--timeout", "120", f"-DBIG={big}",
                            deep])
        marks[big] = field(out, r"^\d+ (\d+)$", int)
    ok(marks[16384] is not None and 16384 <= marks[16384] < 16384 + 1024,
       "runner: m4f_stack_used sees a 16 KiB local array "
       f"({marks[16384]} bytes)", f"{out}{err}")
    ok(marks[1] is not None and marks[1] < 1024,
       f"control: without the array the mark is under 1 KiB ({marks[1]})",
       f"{marks}")

    # --icount: SysTick counts instructions, the same on every run, in
    # proportion to the work
    loop = os.path.join(tmp, "loop.c")
    with open(loop, "w") as f:
        f.write('#include <stdio.h>\n#include "m4f.h"\n'
                'int main(void) {\n'
                '\tvolatile unsigned x = 0;\n'
                '\tuint64_t t0 = m4f_ticks();\n'
                '\tfor (unsigned i = 0; i < N; i++)\n'
                '\t\tx += i;\n'
                '\tprintf("%lu\\n", (unsigned long)(m4f_ticks() - t0));\n'
                '\treturn 0;\n}\n')
    ticks = {}
    for n in (200000, 400000):
        elf = os.path.join(tmp, f"loop{n}.elf")
        rc, _, err = run([*M4F, "build", f"-DN={n}u", "-o", elf, loop])
        ticks[n] = [field(run([*M4F, "exec", "--icount", elf])[1],
                          r"^(\d+)$", int) for _ in range(2)]
    a, b = ticks[200000], ticks[400000]
    ok(None not in a + b and a[0] == a[1] and b[0] == b[1] and a[0] > 0
       and abs(b[0] / a[0] - 2) < 0.01,
       f"runner --icount: ticks repeat exactly and double with the work "
       f"({a}, {b})", f"{ticks}{err}")

    # --- the generated sources: pcc's digits.c, the data header ---
    rc, out, err = run([PCC, os.path.join(ROOT, "examples", "digits.pcg"),
                        "-o", os.path.join(tmp, "digits.c"), "--batch",
                        str(BATCH), "--methods", "zil"])
    rc2, out2, err2 = run([sys.executable, os.path.join(MCU, "gen_data.py"),
                           CSV, os.path.join(tmp, "digits_data.h")])
    if not ok(rc == 0 and rc2 == 0, "pcc and gen_data.py generate the "
              "sources", err + err2):
        return done()
    fw = [os.path.join(MCU, "firmware.c"), os.path.join(tmp, "digits.c")]

    # --- the host figure ---
    host = os.path.join(tmp, "fw_host")
    rc, out, err = run([HOST_CC, "-std=c11", "-O2", "-DPCG_NO_FILES",
                        "-I", MCU, "-I", RUNTIME, "-I", tmp, *fw,
                        os.path.join(MCU, "host_shim.c"),
                        *sorted(os.path.join(RUNTIME, f)
                                for f in os.listdir(RUNTIME)
                                if f.startswith("pcg_") and
                                f.endswith(".c")),
                        "-o", host, "-lm"])
    if ok(rc == 0, "firmware.c builds for the host", err):
        rc, hout, err = run([host])
    else:
        rc, hout = 1, ""
    host_acc = field(hout, r"^test accuracy: (\S+)", float)
    ok(rc == 0 and host_acc is not None and host_acc > 0.85,
       "host: runs to completion, test accuracy above 0.85",
       f"status {rc}\n{hout}{err}")
    if host_acc is None:
        host_acc = 1.0  # nothing can pass the bar below
    hash_re = r"^param hash: (\S+)"
    nbytes = field(hout, r"^memory: params (\d+) bytes", int) or 0
    if CBLAS:
        skip("host: the parameters are examples/trainer's after the same "
             "schedule", "the trainer's GEMM is CBLAS")
        skip("control: the trainer with seed 2 gives other parameters",
             "the trainer's GEMM is CBLAS")
    else:
        want = trainer_hash(tmp, 1, nbytes)
        ok(field(hout, hash_re) == want,
           "host: the parameters are examples/trainer's after the same "
           "schedule", f"firmware {field(hout, hash_re)}, trainer {want}")
        other = trainer_hash(tmp, 2, nbytes)
        ok(other != want and len(other) == 16,
           "control: the trainer with seed 2 gives other parameters", other)

    # --- the device ---
    def device(name, *extra):
        elf = os.path.join(tmp, name + ".elf")
        return run([*M4F, "run", "--runtime", RUNTIME, "-I", tmp,
                    "-o", elf, *extra, *fw])

    rc, out, err = device("fw")
    note(out + err)
    ok(rc == 0 and "\nresult: ok\n" in out,
       "device: the firmware runs to completion, status 0",
       f"status {rc}\n{out}{err}")
    acc = field(out, r"^test accuracy: (\S+)", float)
    ok(passes_bar(acc, host_acc),
       f"device: test accuracy {acc} >= host's {host_acc} - {MARGIN}",
       out)
    ok(re.search(r"^checkpoint: saved \d+ bytes, load 0 \(success\), "
                 r"round trip exact$", out, re.M) is not None,
       "device: the checkpoint round trip in RAM is exact", out)
    ok(re.search(r"^corrupted checkpoint: refused \(error [1-9]\d*: .*\), "
                 r"parameters untouched$", out, re.M) is not None,
       "device: digits_load_mem refuses a corrupted checkpoint, "
       "parameters untouched", out)
    ok(re.search(r"^truncated checkpoint: refused \(error [1-9]", out,
                 re.M) is not None,
       "device: digits_load_mem refuses a truncated checkpoint", out)
    used = field(out, r"^stack: (\d+) of \d+ bytes used$", int)
    size = field(out, r"^stack: \d+ of (\d+) bytes used$", int)
    ok(used is not None and 0 < used < size,
       f"device: stack high-water mark measured ({used} of {size} bytes)",
       out)
    note(f"param hash: host {field(hout, hash_re)}, "
         f"device {field(out, hash_re)} (libm, FMA: may differ)")
    note(f"test accuracy: host {host_acc}, device {acc}")

    # --- negative controls ---
    rc, out, err = device("fw_untrained", "-DFW_EPOCHS=0")
    acc0 = field(out, r"^test accuracy: (\S+)", float)
    ok(rc == 0 and acc0 is not None and not passes_bar(acc0, host_acc),
       f"control: untrained parameters ({acc0}) fail the accuracy bar",
       f"status {rc}\n{out}{err}")
    rc, out, err = device("fw_control1", "-DFW_CONTROL=1")
    ok(rc == 1 and "round trip NOT EXACT" in out and
       "\nresult: FAILED\n" in out,
       "control: damaged loaded parameters are reported, the firmware "
       "fails", f"status {rc}\n{out}{err}")
    rc, out, err = device("fw_control2", "-DFW_CONTROL=2")
    ok(rc == 1 and "corrupted checkpoint: ACCEPTED" in out and
       "\nresult: FAILED\n" in out,
       "control: an intact \"corrupted\" checkpoint is reported accepted, "
       "the firmware fails", f"status {rc}\n{out}{err}")

    return done()


if __name__ == "__main__":
    sys.exit(main())
