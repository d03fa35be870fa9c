#!/usr/bin/env bash
# Run the libFuzzer harnesses built by tests/fuzz/fuzz.mk.
#   run.sh run     DIR SECONDS NAME...   fuzz each for SECONDS on a scratch corpus
#   run.sh regress DIR 0 NAME...         each once over its corpus and crash inputs
#   run.sh merge   DIR 0 NAME...         fold the scratch corpora into the tree's
# DIR is $(OUTPUT)/fuzz.  Any crash, leak, timeout or out-of-memory fails
# the run; the input that caused it is named with the command to replay it.
set -u
mode=$1 dir=$2 secs=$3
shift 3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# -timeout: seconds one input may take; -rss_limit_mb: the whole process
opts=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fail=0

# Per fuzzer: max_len large enough for its seeds, a dictionary if there is one.
fuzzer_opts() {
	local name=$1
	case $name in
	recording|elf) echo -max_len=65536 ;;
	events) echo -max_len=32768 ;;
	procmaps) echo -max_len=8192 ;;
	*) echo -max_len=1024 ;;
	esac
	[ -f "$here/$name.dict" ] && echo "-dict=$here/$name.dict"
}

report() {
	local name=$1 log=$2 arts=$3
	echo "fuzz: $name: FAILED (log: $log)" >&2
	grep -E '^(==[0-9]+== ?ERROR|SUMMARY|fuzz: check failed|.*runtime error)' "$log" | head -5 | sed 's/^/    /' >&2
	for a in "$arts"/*; do
		[ -e "$a" ] || continue
		echo "    reproducer: $a" >&2
		echo "    replay:     $dir/fuzz_$name $a" >&2
	done
}

for name in "$@"; do
	bin=$dir/fuzz_$name
	corpus=$here/corpus/$name
	regress=$here/regress/$name
	work=$dir/work/$name
	mkdir -p "$corpus" "$regress"
	case $mode in
	run)
		# a scratch copy: new inputs land there, not in the tree
		rm -rf "$work"
		mkdir -p "$work/corpus" "$work/artifacts"
		cp -R "$corpus/." "$work/corpus/"
		log=$work/fuzz.log
		start=$(date +%s)
		nice "$bin" "${opts[@]}" $(fuzzer_opts "$name") -max_total_time="$secs" \
			-artifact_prefix="$work/artifacts/" "$work/corpus" "$regress" >"$log" 2>&1
		rc=$?
		stats=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -1 | sed 's/^#/runs /')
		if [ $rc -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ]; then
			report "$name" "$log" "$work/artifacts"
			fail=1
		else
			echo "fuzz: $name: ok, $(($(date +%s) - start)) s: $stats"
		fi
		;;
	regress)
		log=$work/regress.log
		rm -rf "$work/regress-artifacts"
		mkdir -p "$work/regress-artifacts"
		# -runs=0 with directories: every file once, no mutation
		if "$bin" "${opts[@]}" $(fuzzer_opts "$name") -runs=0 \
			-artifact_prefix="$work/regress-artifacts/" "$corpus" "$regress" >"$log" 2>&1; then
			echo "fuzz: $name: $(find "$corpus" "$regress" -type f | wc -l) inputs ok"
		else
			report "$name" "$log" "$work/regress-artifacts"
			fail=1
		fi
		;;
	merge)
		[ -d "$work/corpus" ] || { echo "fuzz: $name: no scratch corpus; run 'make fuzz' first" >&2; continue; }
		# edges only (-use_counters=0): a few inputs per new edge, not per hit count
		"$bin" "${opts[@]}" $(fuzzer_opts "$name") -use_counters=0 -merge=1 "$corpus" "$work/corpus" \
			>"$work/merge.log" 2>&1 || { echo "fuzz: $name: merge failed (log: $work/merge.log)" >&2; fail=1; }
		echo "fuzz: $name: corpus now $(find "$corpus" -type f | wc -l) inputs, $(du -sh "$corpus" | cut -f1)"
		;;
	*)
		echo "usage: run.sh run|regress|merge DIR SECONDS NAME..." >&2
		exit 2
		;;
	esac
done
exit $fail
