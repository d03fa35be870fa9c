#!/usr/bin/env bash
# make bench: every benchmark, each printing ratios measured in the same run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
	echo "bench: benchmarks attach uprobes and need root: run 'sudo make bench'" >&2
	exit 3
fi
"$root/.output/bench/probe_cost"
