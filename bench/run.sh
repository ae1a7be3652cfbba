#!/bin/sh
# Every performance figure of docs/performance.md in one run:
#
#   bench/run.sh [--quick] [WORK_DIR]
#
# Configures and builds (only what the benchmarks need) three builds under
# WORK_DIR (default /tmp/pcc-bench):
#   portable   the default options: a generic x86-64 build whose GEMM
#              takes its AVX2 + FMA copy at run time
#   native     -Dnative=true (-O3 -march=native -mtune=generic): the
#              optimised build the targets are measured on
#   cblas      -Dcblas=true: the runtime's GEMM calls OpenBLAS (built only
#              when OpenBLAS is installed)
# then prints the machine, the GEMM tables, the training-step tables,
# the instructions of a BP and a Z-IL step (bench/instructions.sh, with
# valgrind),
# pcc's scaling on long unrolled models, the time of a step against batch
# size and width (bench/scaling.py: a table and WORK_DIR/scaling.svg) and
# the memory of a training step
# against PyTorch (bench/mem_bench.py).  PyTorch columns come from
# /usr/bin/python3 (PCC_BENCH_PYTHON overrides); the machine's lines say
# which BLAS PyTorch runs (bench/torch_blas.py), and the PyTorch columns
# are left blank where torch is missing or runs the reference BLAS.
# Everything runs on one thread.
set -eu
quick=
if [ "${1:-}" = "--quick" ]; then
	quick=--quick
	shift
fi
work=${1:-/tmp/pcc-bench}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$work"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

build() { # name, meson options...
	dir=$work/$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$root" "$@" >"$work/setup.log" 2>&1 || {
			cat "$work/setup.log" >&2
			return 1
		}
	fi
	ninja -C "$dir" compiler/pcc bench/train_bench bench/pool_bench \
		bench/gemm_bench bench/step_timer runtime/libpcg_runtime.a \
		>"$work/build.log" 2>&1 || {
		tail -n 30 "$work/build.log" >&2
		return 1
	}
}

build portable
build native -Dnative=true
have_cblas=no
if pkg-config --exists openblas 2>/dev/null && build cblas -Dcblas=true; then
	have_cblas=yes
fi

echo "== machine"
grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: /cpu: /' || true
echo "cores: $(getconf _NPROCESSORS_ONLN)"
grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | tr ' ' '\n' |
	grep -E '^(avx2|fma|avx512f)$' | tr '\n' ' ' | sed 's/^/vector: /;s/ $/\n/' || true
echo "compiler: $(cc --version | head -n 1)"
python=${PCC_BENCH_PYTHON:-/usr/bin/python3}
[ -x "$python" ] || python=python3
"$python" "$root/bench/torch_blas.py" || true
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

echo "== GEMM, portable build (default options)"
"$work/portable/bench/gemm_bench" $quick
echo
echo "== GEMM, native build (-Dnative=true)"
"$work/native/bench/gemm_bench" $quick | sed -n '4,$p'
if [ $have_cblas = yes ]; then
	echo
	echo "== GEMM, cblas build (-Dcblas=true: pcg_sgemm calls OpenBLAS)"
	"$work/cblas/bench/gemm_bench" $quick | sed -n '4,$p'
fi
echo

echo "== training step, native build (-Dnative=true)"
"$work/native/bench/train_bench" $quick
echo
echo "== training step, portable build (default options)"
"$work/portable/bench/train_bench" $quick | sed -n '4,$p'
echo

echo "== instructions of a step, BP against Z-IL (bench/instructions.sh, native build)"
if command -v valgrind >/dev/null 2>&1; then
	sh "$root/bench/instructions.sh" "$work/native" "$work/instructions" ||
		echo "instructions.sh could not run (exit $?)"
else
	echo "valgrind is not installed: no instruction counts"
fi
echo

echo "== threads: a pool of 2 against none (bench/pool_bench, portable build)"
"$work/portable/bench/pool_bench" 2
echo

echo "== pcc on long models (portable build)"
if [ -n "$quick" ]; then
	sh "$root/bench/compile_scale.sh" "$work/portable" --growth 100 1000 10000
else
	sh "$root/bench/compile_scale.sh" "$work/portable" --growth
fi
echo

echo "== time per step against batch size and width (bench/scaling.py, native build)"
"$python" "$root/bench/scaling.py" --build "$work/native" \
	--cflags "-O3 -march=native -mtune=generic" --svg "$work/scaling.svg" $quick ||
	echo "scaling.py could not run (exit $?)"
echo

echo "== memory of one training step (bench/mem_bench.py, portable build's pcc)"
"$python" "$root/bench/mem_bench.py" --pcc "$work/portable/compiler/pcc" ||
	echo "mem_bench.py could not run (exit $?)"
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
