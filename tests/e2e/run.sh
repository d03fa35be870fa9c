#!/usr/bin/env bash
# End-to-end tests against real tokio programs (root).  Each test prints
# PASS/FAIL lines; the last line counts them.
set -u
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] && [ -z "${CI:-}" ]; then
	echo "e2e: skipped: end-to-end tests attach uprobes and need root (run: sudo make test)"
	echo "e2e: 0 passed, 0 failed, 1 skipped"
	exit 0
fi

# E2E_ONLY="io truth": only t_io.sh and t_truth.sh
for t in "$E2E_ROOT"/tests/e2e/t_*.sh; do
	name=$(basename "$t" .sh)
	if [ -n "${E2E_ONLY:-}" ] && [[ " $E2E_ONLY " != *" ${name#t_} "* ]]; then
		continue
	fi
	source "$t"
done

echo "e2e: $E2E_PASS passed, $E2E_FAIL failed"
[ "$E2E_FAIL" -eq 0 ]
