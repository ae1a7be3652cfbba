#!/bin/sh
# How long pcc and the C compiler take on a long model: the many-to-one
# RNN of examples/rnn.pcg with T steps.
#
#   bench/compile_scale.sh BUILD_DIR [--unroll=MODE] [T] [CC]
#       pcc's seconds, the size of the generated source, and the seconds
#       `CC -O2 -c` takes on it (T default 1000, CC default gcc).
#   bench/compile_scale.sh BUILD_DIR [--unroll=MODE] --growth [T...]
#       pcc alone for each T (default 100 1000 10000 30000 100000): CPU
#       seconds (user + system) and peak resident memory, each with its
#       growth from the previous T.  Linear means a growth equal to the
#       ratio of the T's.  A T beyond pcc's limits (with --unroll=full
#       200 000 operations: T = 100000 is about 600 000) is reported as
#       refused.
#
# --unroll=MODE is passed to pcc (full, loops or auto; default: pcc's
# default, auto, which rolls the RNN's steps into C loops from T = 681 on).
#
# A benchmark, not a test: it prints figures and checks nothing.
set -eu
build=$(cd "$1" && pwd)
shift
unroll=''
case "${1:-}" in
--unroll=*) unroll=$1; shift ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }

if [ "${1:-}" = "--growth" ]; then
	shift
	[ $# -gt 0 ] || set -- 100 1000 10000 30000 100000
	if [ ! -x /usr/bin/time ]; then
		echo "compile_scale.sh: --growth needs GNU time (/usr/bin/time)" >&2
		exit 2
	fi
	printf '%-10s %10s %8s %12s %8s %14s\n' "rnn T" "pcc CPU s" "growth" \
		"peak MiB" "growth" "generated MB"
	prev_t='' prev_m=''
	for T in "$@"; do
		if ! /usr/bin/time -f '%U %S %M' -o "$tmp/time" \
			"$build/compiler/pcc" "$root/examples/rnn.pcg" -D "T=$T" \
			${unroll:+"$unroll"} -o "$tmp/rnn.c" 2>"$tmp/err"; then
			printf '%-10s refused: %s\n' "$T" \
				"$(grep -m1 'error' "$tmp/err" | sed 's/.*error: //')"
			continue
		fi
		read -r user sys m < "$tmp/time"
		t=$(awk "BEGIN { print $user + $sys }")
		bytes=$(wc -c < "$tmp/rnn.c")
		if [ -n "$prev_t" ]; then
			gt=$(awk "BEGIN { printf \"%.1fx\", $t / ($prev_t > 0 ? $prev_t : 0.01) }")
			gm=$(awk "BEGIN { printf \"%.1fx\", $m / $prev_m }")
		else
			gt='-' gm='-'
		fi
		printf '%-10s %10.2f %8s %12.1f %8s %14.1f\n' "$T" "$t" "$gt" \
			"$(awk "BEGIN { print $m / 1024 }")" "$gm" \
			"$(awk "BEGIN { print $bytes / 1e6 }")"
		prev_t=$t prev_m=$m
		rm -f "$tmp/rnn.c" "$tmp/rnn.h"
	done
	exit 0
fi

T=${1:-1000}
CC=${2:-gcc}
t0=$(now)
"$build/compiler/pcc" "$root/examples/rnn.pcg" -D "T=$T" ${unroll:+"$unroll"} \
	-o "$tmp/rnn.c"
t1=$(now)
"$CC" -std=c11 -O2 -c -I"$root/runtime" "$tmp/rnn.c" -o "$tmp/rnn.o"
t2=$(now)
lines=$(wc -l < "$tmp/rnn.c")
echo "rnn.pcg -D T=$T ${unroll:-(--unroll default)}"
echo "  pcc:        $(awk "BEGIN { print $t1 - $t0 }") s"
echo "  generated:  $lines lines of C, $(wc -c < "$tmp/rnn.c") bytes"
echo "  $CC -O2 -c: $(awk "BEGIN { print $t2 - $t1 }") s"
