#!/bin/sh
# Instructions of one training step, BP against Z-IL, on every example of
# bench/train_bench (the same models and batch sizes):
#
#   bench/instructions.sh BUILD [WORK_DIR]
#
# For each example pcc (BUILD/compiler/pcc) writes the float model, the C
# compiler builds it into a shared library with BUILD's runtime (CFLAGS,
# default -O3 -march=native -mtune=generic, as the native build), and
# BUILD/bench/step_timer --calls makes 1 and then 3 calls of P_train_bp
# and of P_train_zil under valgrind's callgrind: half the difference of
# the two totals is one step's instructions, loading and set-up cancelled.
# Instructions do not move with the machine's load, so the ratio Z-IL / BP
# is exact where the times of bench/train_bench are within a percent or
# two of noise.  The data are step_timer's (random inputs, one-hot
# targets, the same in every run), and BP and Z-IL see the same.
# A benchmark: it prints figures and checks nothing.
set -eu
if [ $# -lt 1 ]; then
	echo "usage: bench/instructions.sh BUILD [WORK_DIR]" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
work=${2:-/tmp/pcc-instructions}
root=$(cd "$(dirname "$0")/.." && pwd)
cflags=${CFLAGS:--O3 -march=native -mtune=generic}
cc=${CC:-cc}
if ! command -v valgrind >/dev/null 2>&1; then
	echo "instructions.sh: valgrind is not installed (apt-get install" \
		"valgrind): no figures" >&2
	exit 1
fi
for f in compiler/pcc bench/step_timer runtime/libpcg_runtime.a; do
	if [ ! -e "$build/$f" ]; then
		echo "instructions.sh: $build/$f is missing (ninja -C $build" \
			"$f)" >&2
		exit 1
	fi
done
mkdir -p "$work"

# Instructions of N calls of function F (bp or zil) of library LIB.
count() {
	valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		"$build/bench/step_timer" "$1" "$4_model" --calls "$2" "$3" \
		2>&1 | sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}

echo "CFLAGS: $cflags"
printf '%-12s %5s %14s %14s %9s\n' model batch "BP instr" "Z-IL instr" ZIL/BP
for m in digits:1 mlp:1 mlp:32 cnn:16 rnn:16 lstm:16 transformer:16 \
	multitask:16 resnet:16 seq2seq:16; do
	name=${m%%:*}
	batch=${m##*:}
	base=${name}_b$batch
	"$build/compiler/pcc" "$root/examples/$name.pcg" -o "$work/$base.c" \
		--prefix "$base" --real float --batch "$batch"
	# shellcheck disable=SC2086 # CFLAGS is a list of words
	$cc -std=c11 $cflags -shared -fPIC -I "$root/runtime" \
		"$work/$base.c" "$build/runtime/libpcg_runtime.a" \
		-o "$work/$base.so" -lm
	bp1=$(count "$work/$base.so" bp 1 "$base")
	bp3=$(count "$work/$base.so" bp 3 "$base")
	zil1=$(count "$work/$base.so" zil 1 "$base")
	zil3=$(count "$work/$base.so" zil 3 "$base")
	if [ -z "$bp1" ] || [ -z "$bp3" ] || [ -z "$zil1" ] || [ -z "$zil3" ]
	then
		echo "instructions.sh: callgrind gave no count for $base" >&2
		exit 1
	fi
	bp=$(((bp3 - bp1) / 2))
	zil=$(((zil3 - zil1) / 2))
	printf '%-12s %5d %14d %14d %9s\n' "$name" "$batch" "$bp" "$zil" \
		"$(awk -v a="$zil" -v b="$bp" 'BEGIN { printf "%.4f", a / b }')"
done
