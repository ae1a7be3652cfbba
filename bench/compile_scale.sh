#!/bin/sh
# How long pcc and the C compiler take on a long unrolled model: the
# many-to-one RNN of examples/rnn.pcg unrolled T steps (default 1000).
#
#   bench/compile_scale.sh BUILD_DIR [T] [CC]
#
# Prints the seconds pcc takes, the size of the generated source, and the
# seconds `CC -O2 -c` takes on it.  A benchmark, not a test: it prints
# figures and checks nothing.
set -eu
build=$(cd "$1" && pwd)
T=${2:-1000}
CC=${3:-gcc}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

now() { date +%s.%N; }
t0=$(now)
"$build/compiler/pcc" "$root/examples/rnn.pcg" -D "T=$T" -o "$tmp/rnn.c"
t1=$(now)
"$CC" -std=c11 -O2 -c -I"$root/runtime" "$tmp/rnn.c" -o "$tmp/rnn.o"
t2=$(now)
lines=$(wc -l < "$tmp/rnn.c")
echo "rnn.pcg -D T=$T"
echo "  pcc:        $(awk "BEGIN { print $t1 - $t0 }") s"
echo "  generated:  $lines lines of C, $(wc -c < "$tmp/rnn.c") bytes"
echo "  $CC -O2 -c: $(awk "BEGIN { print $t2 - $t1 }") s"
