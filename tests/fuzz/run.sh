#!/usr/bin/env bash
# Runs each libFuzzer harness for a bounded time on a fresh copy of its seed corpus and
# prints one summary line per harness. Called by `make fuzz`: run.sh DIR SECONDS NAME...
# Exits 1 when any harness crashed; the reproducer is left in DIR/crashes/.
set -uo pipefail

dir=$1 seconds=$2
shift 2
here=$(dirname "$0")
failed=0

mkdir -p "$dir/crashes" "$dir/logs"
for name in "$@"; do
	bin="$dir/fuzz_$name" work="$dir/corpus-work/$name" log="$dir/logs/fuzz_$name.log"
	dict="$here/dict/$name.dict"
	# The committed corpus is only ever read: what the fuzzer learns stays in build/.
	rm -rf "$work"
	mkdir -p "$work"
	cp "$here/corpus/$name"/* "$work"/
	args=(-max_total_time="$seconds" -max_len=70000 -timeout=10 -print_final_stats=1
	      -artifact_prefix="$dir/crashes/fuzz_$name-")
	[ -f "$dict" ] && args+=(-dict="$dict")
	# Artifacts of an earlier run would be counted again: each run starts clean.
	rm -f "$dir/crashes/fuzz_$name-"*
	start=$(date +%s)
	"$bin" "${args[@]}" "$work" >"$log" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	crashes=$(ls "$dir/crashes" | grep -c "^fuzz_$name-" || true)
	[ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	printf 'fuzz_%-13s %4ss  execs %-10s exec/s %-8s cov %-6s crashes %s\n' "$name" \
		"$took" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$crashes"
	if [ "$crashes" -ne 0 ]; then
		failed=1
		echo "  log: $log" >&2
		ls "$dir/crashes" | grep "^fuzz_$name-" | sed "s|^|  reproduce: $bin $dir/crashes/|" >&2
	fi
done
exit "$failed"
