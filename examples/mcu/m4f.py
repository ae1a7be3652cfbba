#!/usr/bin/env python3
"""m4f.py — build C programs for a Cortex-M4F and run them in QEMU.

The target is QEMU's mps2-an386 machine (MPS2 board, AN386 image: a
Cortex-M4 with the single-precision FPU): code at 0x0, SRAM at 0x20000000
(an386.ld), this folder's startup code (startup.c: vector table, reset,
newlib's system calls over semihosting).  An ordinary `int main(void)` that
prints with printf works unchanged: its output comes out on stdout and its
return value (or exit()'s argument) is the exit status.

  m4f.py build [options] -o FW.elf SOURCE.c...   compile and link
  m4f.py run   [options] SOURCE.c...             the same, then run it
  m4f.py exec  [--timeout S] FW.elf              run an ELF already built
  m4f.py check                                   are the tools there?

options:
  -I DIR        include directory (repeatable)
  -D NAME[=V]   define (repeatable)
  --runtime DIR compile the pcc runtime too (DIR/pcg_*.c, -I DIR,
                -DPCG_NO_FILES)
  --opt FLAG    optimization flag (default -O2)
  --cflag FLAG  one more compiler flag (repeatable; --cflag=-Werror)
  --stack N     bytes of stack (default 65536)
  --timeout S   seconds before QEMU is stopped (default 600; exit 124)
  --icount      run QEMU with -icount shift=0: virtual time counts
                instructions (1 ns each), so SysTick (m4f_ticks, 25 MHz)
                ticks once per 40 instructions
  -o FILE       the ELF (run: kept there; default a temporary file)

The compiler's diagnostics and a line of memory figures ("m4f: flash ...")
go to stderr.  Exit status 77 when the cross compiler, newlib for the
M4F's hard-float ABI, or qemu-system-arm is missing (a test harness skips
then); 124 on timeout; otherwise the program's status.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = os.environ.get("M4F_CROSS", "arm-none-eabi-")
QEMU = os.environ.get("M4F_QEMU", "qemu-system-arm")
ARCH = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16",
        "-mfloat-abi=hard"]
CFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Wpedantic",
          "-ffunction-sections", "-fdata-sections"]
SKIP = 77


def missing():
    """why the tools cannot be used, or None"""
    cc = shutil.which(PREFIX + "gcc")
    if not cc:
        return f"{PREFIX}gcc not found (Debian: gcc-arm-none-eabi)"
    # newlib for this multilib: gcc prints the bare name when it has none
    libc = subprocess.run([cc, *ARCH, "-print-file-name=libc.a"],
                          capture_output=True, text=True).stdout.strip()
    if not os.path.isabs(libc):
        return ("newlib for thumb/v7e-m+fp/hard not found "
                "(Debian: libnewlib-arm-none-eabi)")
    if not shutil.which(QEMU):
        return f"{QEMU} not found (Debian: qemu-system-arm)"
    return None


def usage(msg):
    print(f"m4f.py: {msg}", file=sys.stderr)
    print(__doc__.split("\n\n")[2], file=sys.stderr)
    sys.exit(2)


def parse(argv):
    o = {"inc": [], "defs": [], "runtime": None, "opt": "-O2", "cflags": [],
         "stack": 65536, "timeout": 600.0, "icount": False, "out": None, "srcs": []}
    i = 0
    while i < len(argv):
        a = argv[i]

        def val():
            nonlocal i
            if "=" in a and a.startswith("--"):
                return a.split("=", 1)[1]
            if len(a) > 2 and a[1] != "-":
                return a[2:]
            i += 1
            if i >= len(argv):
                usage(f"{a} needs a value")
            return argv[i]
        key = a.split("=", 1)[0] if a.startswith("--") else a[:2]
        if key == "-I":
            o["inc"].append(val())
        elif key == "-D":
            o["defs"].append(val())
        elif key == "-o":
            o["out"] = val()
        elif key == "--runtime":
            o["runtime"] = val()
        elif key == "--opt":
            o["opt"] = val()
        elif key == "--cflag":
            o["cflags"].append(val())
        elif key == "--stack":
            o["stack"] = int(val(), 0)
        elif a == "--icount":
            o["icount"] = True
        elif key == "--timeout":
            o["timeout"] = float(val())
        elif a.startswith("-"):
            usage(f"unknown option {a}")
        else:
            o["srcs"].append(a)
        i += 1
    return o


def size_line(elf):
    """flash and RAM figures from the section sizes (size -A)"""
    out = subprocess.run([PREFIX + "size", "-A", elf], capture_output=True,
                         text=True, check=True).stdout
    sec = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1].isdigit() and f[0].startswith("."):
            sec[f[0]] = int(f[1])
    code = sum(sec.get(s, 0) for s in (".vectors", ".text", ".ARM.extab",
                                       ".ARM.exidx", ".init_array",
                                       ".fini_array"))
    ro, data, bss = sec.get(".rodata", 0), sec.get(".data", 0), \
        sec.get(".bss", 0)
    return (f"m4f: flash {code + ro + data} bytes (text {code}, rodata {ro}, "
            f"data {data}); RAM data {data} + bss {bss} bytes")


def build(o, elf):
    if not o["srcs"]:
        usage("no source files")
    srcs = [os.path.join(HERE, "startup.c"), *o["srcs"]]
    flags = [*ARCH, *CFLAGS, o["opt"], "-I", HERE]
    if o["runtime"]:
        rt = o["runtime"]
        srcs += sorted(os.path.join(rt, f) for f in os.listdir(rt)
                       if f.startswith("pcg_") and f.endswith(".c"))
        flags += ["-I", rt, "-DPCG_NO_FILES"]
    flags += [f"-I{d}" for d in o["inc"]] + [f"-D{d}" for d in o["defs"]]
    flags += o["cflags"]
    cmd = [PREFIX + "gcc", *flags, *srcs, "-nostartfiles",
           "-T", os.path.join(HERE, "an386.ld"), "-Wl,--gc-sections",
           f"-Wl,--defsym=M4F_STACK_SIZE={o['stack']}", "-o", elf, "-lm"]
    p = subprocess.run(cmd)
    if p.returncode:
        print("m4f.py: the build failed: " + " ".join(cmd), file=sys.stderr)
        sys.exit(1)
    print(size_line(elf), file=sys.stderr)


def execute(elf, timeout, icount=False):
    """run elf in QEMU; its stdout is the program's; returns the status"""
    cmd = [QEMU, "-M", "mps2-an386", "-nographic", "-monitor", "none",
           "-semihosting-config", "enable=on,target=native", "-kernel", elf]
    if icount:
        cmd += ["-icount", "shift=0"]
    sys.stdout.flush()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        print(f"m4f.py: {elf}: no exit after {timeout:g} s; QEMU stopped",
              file=sys.stderr)
        return 124


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd not in ("build", "run", "exec", "check"):
        usage(f"unknown command {cmd}")
    why = missing()
    if why:
        print(f"m4f.py: {why}", file=sys.stderr)
        return SKIP
    if cmd == "check":
        return 0
    o = parse(rest)
    if cmd == "exec":
        if len(o["srcs"]) != 1:
            usage("exec takes one ELF")
        return execute(o["srcs"][0], o["timeout"], o["icount"])
    if cmd == "build":
        if not o["out"]:
            usage("build needs -o FILE")
        build(o, o["out"])
        return 0
    if o["out"]:
        build(o, o["out"])
        return execute(o["out"], o["timeout"], o["icount"])
    with tempfile.TemporaryDirectory(prefix="m4f-") as tmp:
        elf = os.path.join(tmp, "fw.elf")
        build(o, elf)
        return execute(elf, o["timeout"], o["icount"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
