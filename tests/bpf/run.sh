#!/usr/bin/env bash
# BPF tests: load the real programs and attach them (needs root).
set -u
if [ "$(id -u)" -ne 0 ] && [ -z "${CI:-}" ]; then
	echo "bpf: skipped: loading BPF programs needs root (run: sudo make test)"
	echo "bpf: 0 passed, 0 failed, 1 skipped"
	exit 0
fi
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
pass=0 fail=0
for t in "$@"; do
	if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "bpf: FAILED: $t" >&2; fi
done
echo "bpf: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
