#!/usr/bin/env bash
# make bench: every benchmark, each printing ratios measured in the same run;
# bench/bench.py writes BENCHMARKS.md.  Environment from bench/bench.mk:
# ASYNCSCOPE, BENCH_OUTPUT, BENCH_QUICK, BENCH_MD (defaults: ./asyncscope, .output).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
	echo "bench: benchmarks attach uprobes and need root: run 'sudo make bench'" >&2
	exit 3
fi
command -v wrk >/dev/null || { echo "bench: wrk not found: run 'sudo make deps'" >&2; exit 1; }
export ASYNCSCOPE=${ASYNCSCOPE:-$root/asyncscope}
export BENCH_OUTPUT=${BENCH_OUTPUT:-$root/.output}
exec /usr/bin/python3 "$root/bench/bench.py"
