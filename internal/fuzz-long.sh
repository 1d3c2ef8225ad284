#!/bin/sh
# fuzz-long.sh runs every fuzz target of the module for a long time, one
# after the other, and reports executions and findings per target. Run by
# `make fuzz-long`.
#
#   FUZZ_LONG_TIME  how long each target runs, in go test -fuzztime's
#                   terms: a duration (default 5m) or a count such as
#                   1000000x (exactly 10^6 executions)
#   FUZZ_KEEP       1 (default): copy the corpus the run grew, from Go's
#                   cache ($GOCACHE/fuzz), into the package's
#                   testdata/fuzz/<Target>, so that it can be committed
#                   and CI's seed runs cover it; 0: leave it in the cache
#   FUZZ_OUT        the summary file (default build/fuzz-long.tsv)
#
# A target that finds a crash stops the run with its output; Go has then
# written the failing input to testdata/fuzz/<Target>/, where it stays as
# a regression seed once the bug is fixed.
set -eu
time=${FUZZ_LONG_TIME:-5m}
keep=${FUZZ_KEEP:-1}
out=${FUZZ_OUT:-build/fuzz-long.tsv}
go=${GO:-go}
cache=$($go env GOCACHE)/fuzz
mkdir -p "$(dirname "$out")"
printf 'package\ttarget\texecs\tnew_interesting\tcorpus_kept\tresult\n' >"$out"
log=$(mktemp)
trap 'rm -f "$log"' EXIT INT TERM
for pkg in $($go list ./...); do
	dir=$($go list -f '{{.Dir}}' "$pkg")
	for target in $($go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "== $pkg $target ($time)"
		result=ok
		if ! $go test -run '^$' -fuzz "^$target\$" -fuzztime "$time" "$pkg" >"$log" 2>&1; then
			result=FAILED
		fi
		# The last progress line: "fuzz: elapsed: 5m0s, execs: 123 (...), new interesting: 4 (total: 9)"
		execs=$(sed -n 's/.*execs: \([0-9]*\).*/\1/p' "$log" | tail -n 1)
		new=$(sed -n 's/.*new interesting: \([0-9]*\).*/\1/p' "$log" | tail -n 1)
		kept=0
		if [ "$keep" = 1 ] && [ -d "$cache/$pkg/$target" ]; then
			mkdir -p "$dir/testdata/fuzz/$target"
			for f in "$cache/$pkg/$target"/*; do
				[ -e "$f" ] || continue
				if [ ! -e "$dir/testdata/fuzz/$target/$(basename "$f")" ]; then
					cp "$f" "$dir/testdata/fuzz/$target/"
					kept=$((kept + 1))
				fi
			done
		fi
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$pkg" "$target" "${execs:-0}" "${new:-0}" "$kept" "$result" >>"$out"
		tail -n 3 "$log"
		if [ "$result" != ok ]; then
			cat "$log"
			echo "fuzz-long: $pkg $target found a failure; its input is in $dir/testdata/fuzz/$target/" >&2
			exit 1
		fi
	done
done
echo "fuzz-long: summary in $out"
column -t -s "$(printf '\t')" "$out" 2>/dev/null || cat "$out"
