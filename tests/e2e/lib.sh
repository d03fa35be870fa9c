# Shared helpers of the end-to-end tests: start gated targets, attach, compare.
# Sourced by tests/e2e/*.sh.  Every wait is bounded.

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ASYNCSCOPE=${ASYNCSCOPE:-$E2E_ROOT/asyncscope}
TARGETS=$E2E_ROOT/tests/targets
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/asyncscope-e2e.XXXXXX)
E2E_PASS=0
E2E_FAIL=0
E2E_PIDS=()

e2e_cleanup() {
	for p in "${E2E_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -n "${E2E_KEEP:-}" ] && echo "e2e: kept $WORK" >&2 || rm -rf "$WORK"
}
trap e2e_cleanup EXIT

pass() { E2E_PASS=$((E2E_PASS + 1)); echo "PASS $*"; }
fail() { E2E_FAIL=$((E2E_FAIL + 1)); echo "FAIL $*"; }

# wait_for FILE REGEX SECONDS: until a line of FILE matches
wait_for() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "timed out after $3 s waiting for /$2/ in $1:" >&2
	sed 's/^/    /' "$1" >&2
	return 1
}

# wait_exit PID SECONDS
wait_exit() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

# start_gated NAME BIN ARGS...: starts BIN gated; sets TPID (and TPORT)
start_gated() {
	local name=$1 bin=$2
	shift 2
	rm -f "$WORK/$name.go"
	"$bin" --gate "$WORK/$name.go" "$@" >"$WORK/$name.truth" 2>"$WORK/$name.err" &
	E2E_PIDS+=($!)
	wait_for "$WORK/$name.err" '^ready pid=' 60 || return 1
	TPID=$(sed -n 's/^ready pid=\([0-9]*\).*/\1/p' "$WORK/$name.err" | head -1)
	TPORT=$(sed -n 's/.* port=\([0-9]*\).*/\1/p' "$WORK/$name.err" | head -1)
}

# attach NAME PID ARGS...: asyncscope record in the background; sets RPID
attach() {
	local name=$1 pid=$2
	shift 2
	"$ASYNCSCOPE" record -p "$pid" "$@" >"$WORK/$name.report" 2>"$WORK/$name.rerr" &
	RPID=$!
	E2E_PIDS+=($RPID)
	wait_for "$WORK/$name.rerr" 'attached to pid' 30
}

# traced_run LABEL BIN DRIVER TARGET_TIMEOUT -- TARGET_ARGS...
# Starts BIN gated, records it (--json to $WORK/LABEL.report, -o
# $WORK/LABEL.ast), opens the gate, runs DRIVER (a function, given LABEL, or
# "none"), then waits for the target to exit and the tracer to report.
# Returns 0 when the tracer exited 0; otherwise reports the failure, returns 1.
traced_run() {
	local label=$1 bin=$2 driver=$3 timeout=$4 rc
	shift 5
	if [ ! -x "$bin" ]; then
		fail "$label: $bin not built (make targets)"
		return 1
	fi
	start_gated "$label" "$bin" "$@" || { fail "$label: target did not start"; return 1; }
	attach "$label" "$TPID" --json -o "$WORK/$label.ast" || { fail "$label: tracer did not attach"; return 1; }
	touch "$WORK/$label.go"
	if [ "$driver" != none ] && ! $driver "$label" >"$WORK/$label.driver" 2>&1; then
		fail "$label: $driver failed: $(tail -1 "$WORK/$label.driver")"
		return 1
	fi
	if ! wait_exit "$TPID" "$timeout"; then
		fail "$label: target did not finish"
		return 1
	fi
	if ! wait_exit "$RPID" 30; then
		fail "$label: tracer did not report after the target exited"
		return 1
	fi
	wait "$RPID"
	rc=$?
	if [ $rc -ne 0 ]; then
		fail "$label: tracer exited $rc: $(tail -1 "$WORK/$label.rerr")"
		return 1
	fi
}

# probes_left: prints uprobe perf links and tracefs uprobe events still present
probes_left() {
	mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
	cat /sys/kernel/tracing/uprobe_events 2>/dev/null
	bpftool link list 2>/dev/null | grep -A2 -E 'perf_event' | grep -E 'uprobe|prog_name (poll_|waker_op|task_op|spawn_)' || true
	# uprobe_multi links (bpftool 7.1 prints their type as "type 12") of asyncscope's
	# programs.  bpftool cannot tell whose they are, and such a link lives only while a
	# process holds it: with another asyncscope running (a concurrent test), skip.
	pgrep -x asyncscope >/dev/null && return 0
	bpftool link list 2>/dev/null | sed -n 's/^\([0-9]*\): \(type 12\|uprobe_multi\) .*prog \([0-9]*\).*/\1 \3/p' |
		while read -r link prog; do
			bpftool prog show id "$prog" 2>/dev/null | grep -qE 'name (poll_|waker_op|task_op|spawn_)' &&
				echo "uprobe_multi link $link (prog $prog)"
		done
	true
}
