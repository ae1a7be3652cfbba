#!/bin/sh
# run_fuzz.sh BUILDDIR SECONDS [WORKDIR] — run both fuzzers, one after the
# other, each for SECONDS, starting from the seed corpora (the examples,
# the error catalogue, the test models, the regression inputs, seed
# checkpoints).  New corpus entries stay in WORKDIR (default
# BUILDDIR/fuzz-work); crashes are written there as crash-* and make the
# script fail.  Run one fuzzer only with FUZZERS=fuzz_ckpt; pass more
# libFuzzer flags in FUZZ_ARGS (e.g. -fork=1 -ignore_crashes=1 to go on
# after a crash).
set -eu
build=$1
secs=$2
work=${3:-$build/fuzz-work}
src=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$src/../.." && pwd)
mkdir -p "$work"
status=0
for f in ${FUZZERS:-fuzz_compile fuzz_ckpt}; do
	exe=$build/tests/fuzz/$f
	[ -x "$exe" ] || { echo "run_fuzz: $exe not built (clang with libFuzzer needed)"; exit 1; }
	corpus=$work/corpus_${f#fuzz_}
	mkdir -p "$corpus" "$work/seeds_${f#fuzz_}"
	if [ "$f" = fuzz_compile ]; then
		cp "$root"/examples/*.pcg "$root"/tests/errors/*.pcg \
		   "$root"/tests/models/*.pcg "$work/seeds_compile/"
		dict=-dict=$src/pcg.dict
	else
		"$build/tests/fuzz/ckpt_seeds" "$work/seeds_ckpt"
		dict=
	fi
	cp "$src"/regress/${f#fuzz_}/* "$work/seeds_${f#fuzz_}/" 2>/dev/null || true
	echo "== $f for ${secs}s"
	# -timeout: one input may take at most 30 s (inputs at the designed
	# limits, e.g. 10^6 loop iterations, take about 1 s natively and 10-15 s
	# instrumented on a busy machine); -rss_limit_mb: 2 GB
	if ! "$exe" "$corpus" "$work/seeds_${f#fuzz_}" $dict \
		-max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$work/${f}-" ${FUZZ_ARGS:-} 2>"$work/$f.log"; then
		status=1
		echo "run_fuzz: $f found a problem; see $work/$f.log"
		grep -E 'ERROR|SUMMARY|Test unit written' "$work/$f.log" | head -20
	fi
	# the final statistics (with -fork: the last progress line)
	grep -E '^stat::' "$work/$f.log" ||
		grep -E '^#[0-9]+' "$work/$f.log" | tail -n 1 || true
done
exit $status
