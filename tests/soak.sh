#!/usr/bin/env bash
# Soak: a hyper server under sustained keep-alive load, traced the whole time
# by 'asyncscope record --json -o FILE'; asyncscope's memory sampled every
# second.
#
#   tests/soak.sh [SECONDS]     standalone (make soak: 600 s); root
#   t_soak.sh                   in make test: $SOAK_SECONDS, default 30
#
# What "flat" means here.  The load is a fixed set of keep-alive connections,
# so the process has a fixed set of tasks (one per connection) and threads,
# and every event is one more poll or wake of a task already known.  Nothing
# asyncscope keeps may then grow with the number of events: not the
# correlator (per-task state, kept for the report: its size follows the task
# count, which is constant here; with churning tasks, --max-tasks bounds it),
# not the recording (chunks are written and their buffers reused), not the
# ring buffer (mapped whole at attach).  Asserted: the highest RssAnon (heap)
# of the last third of the run is at most SOAK_SLACK_KIB (default 256) above
# the highest of the first third, which holds every warm-up allocation; VmRSS
# likewise.  Millions of events pass in between, so that bounds any per-event
# growth to a fraction of a byte (printed).
#
# Also asserted: counts exact against the target's ground truth (tasks, polls,
# polls per task, the kernel's poll count), nothing dropped, every request
# answered right, and 'asyncscope report' of the recording equal to the live
# report.  The recording takes ~5 MB/s; with too little space in $TMPDIR it
# goes to /dev/null (the writer still runs) and the replay check is skipped.

# soak_test SECONDS
soak_test() {
	local secs=$1 l=soak srv=$TARGETS/target/release/hyperserver lg=$TARGETS/target/release/loadgen
	local slack=${SOAK_SLACK_KIB:-256} out=$WORK/soak.ast force=
	if [ ! -x "$srv" ] || [ ! -x "$lg" ]; then
		fail "$l: hyperserver/loadgen not built (make targets)"
		return
	fi
	if [ "$secs" -lt 6 ]; then
		fail "$l: $secs s is too short to compare thirds of a run"
		return
	fi
	if [ "$(df -Pk "$WORK" | awk 'NR == 2 { print $4 }')" -lt $((secs * 8 * 1024 + 1048576)) ]; then
		echo "  note: $l: not enough space in $WORK for a ${secs} s recording: writing it to /dev/null"
		out=/dev/null
		force=--force
	fi
	start_gated $l "$srv" --port 0 --workers 2 --until-killed || { fail "$l: server did not start"; return; }
	local spid=$TPID port=$TPORT
	attach $l "$spid" --json -o "$out" $force || { fail "$l: tracer did not attach"; return; }
	local rpid=$RPID
	touch "$WORK/$l.go"
	"$lg" --port "$port" --conns 4 --duration-ms $((secs * 1000)) >"$WORK/$l.lg" 2>&1 &
	local lpid=$! i
	# one sample a second while the load runs: second VmRSS RssAnon recorded-bytes
	# and, to tell a stalled writer (drops) from a starved one, the system's Dirty+Writeback KiB
	: >"$WORK/$l.rss"
	for ((i = 0; i < secs; i++)); do
		sleep 1
		kill -0 "$lpid" 2>/dev/null || break
		echo "$i $(sed -n 's/^\(VmRSS\|RssAnon\):[[:space:]]*\([0-9]*\) kB/\2/p' "/proc/$rpid/status" | tr '\n' ' ')$(
			[ "$out" = /dev/null ] && echo 0 || stat -c %s "$out") $(
			awk '/^(Dirty|Writeback):/ { n += $2 } END { print n }' /proc/meminfo)" >>"$WORK/$l.rss"
	done
	wait_exit "$lpid" 60
	wait "$lpid"
	local lrc=$?
	kill -TERM "$spid"
	if ! wait_exit "$spid" 60; then
		fail "$l: server did not stop"
		return
	fi
	wait "$spid"
	local src=$?
	stop_tracer_soak "$rpid" || return
	local rc=$RC

	if [ $rc -ne 0 ] || [ $src -ne 0 ] || [ $lrc -ne 0 ]; then
		fail "$l: exits: tracer $rc, server $src, loadgen $lrc: $(tail -1 "$WORK/$l.rerr") $(tail -1 "$WORK/$l.err")"
		return
	fi
	if $PY - "$WORK/$l.rss" "$slack" >"$WORK/$l.mem" 2>&1 <<'PYEOF'; then
import sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 5]
slack = int(sys.argv[2])
n = len(rows)
assert n >= 6, f"only {n} samples"
first, last = rows[: n // 3], rows[n - n // 3:]
out = []
for col, name in ((1, "VmRSS"), (2, "RssAnon")):
    base, top = max(r[col] for r in first), max(r[col] for r in last)
    out.append(f"{name} {min(r[col] for r in rows)}..{max(r[col] for r in rows)} KiB, "
               f"first third max {base}, last third max {top} ({top - base:+d})")
    assert top - base <= slack, f"{name} grew {top - base} KiB (> {slack}) from the first third to the last: " + "; ".join(out)
recorded = rows[-1][3] - first[-1][3]
print(f"{n} samples; " + "; ".join(out) +
      (f"; {recorded / 1e6:.0f} MB recorded in between" if recorded else ""))
PYEOF
		pass "$l: memory flat over ${secs} s under load: $(tail -1 "$WORK/$l.mem")"
	else
		fail "$l: memory not flat: $(tail -1 "$WORK/$l.mem")"
		sed 's/^/    /' "$WORK/$l.rss" | awk 'NR % 10 == 1'
	fi
	soak_counts
	if [ "$out" != /dev/null ]; then
		"$ASYNCSCOPE" report "$out" --json >"$WORK/$l.replay" 2>"$WORK/$l.replay.err"
		local prc=$?
		if [ $prc -eq 0 ] && $PY "$E2E_ROOT/tests/e2e/same_report.py" "$WORK/$l.report" "$WORK/$l.replay" \
			>"$WORK/$l.same" 2>&1; then
			pass "$l: the $(($(stat -c %s "$out") / 1000000)) MB recording reports what the live run did ($(cat "$WORK/$l.same"))"
		else
			fail "$l: report of the recording: exit $prc: $(tail -1 "$WORK/$l.replay.err") $(tail -1 "$WORK/$l.same")"
		fi
		rm -f "$out" "$WORK/$l.replay"
	fi
}

stop_tracer_soak() {
	if ! wait_exit "$1" 120; then
		fail "soak: tracer did not report after the server exited"
		kill -9 "$1" 2>/dev/null
		wait "$1" 2>/dev/null
		return 1
	fi
	wait "$1"
	RC=$?
}

# Counts against the target's ground truth (check_truth.py): any anomaly fails.
# Records of one task stamped out of order by concurrent threads (a wake
# stamped before a poll another worker already reported) are resolved by the
# correlator and only counted: their number is printed.
soak_counts() {
	local l=soak checkargs=
	"$ASYNCSCOPE" inspect --json "$TARGETS/target/release/hyperserver" | $PY -c \
		'import json,sys; sys.exit(json.load(sys.stdin)["hooks"]["spawn_inner"]["count"] == 0)' ||
		checkargs=--no-locations
	local reord
	reord=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["events"]["reordered"])' \
		"$WORK/$l.report")
	if $PY "$E2E_ROOT/tests/e2e/check_truth.py" "$WORK/$l.truth" "$WORK/$l.report" $checkargs \
		>"$WORK/$l.check" && $PY - "$WORK/$l.truth" "$WORK/$l.lg" "$WORK/$l.report" >>"$WORK/$l.check" 2>&1 <<'PYEOF'; then
import json, sys
truth = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
lg = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
s = json.load(open(sys.argv[3]))["summary"]
assert lg["errors"] == 0, lg
assert truth["requests"] == lg["requests"], (truth["requests"], lg["requests"])
assert s["kernel"]["polls"] == truth["polls"]["async"] + truth["polls"]["blocking"], (s["kernel"], truth["polls"])
print(f"{lg['requests']} requests, {s['polls']} polls, {s['events']['received']} events, 0 dropped")
PYEOF
		pass "$l: counts exact after the soak ($(grep -c '^  ok' "$WORK/$l.check") checks; $(tail -1 "$WORK/$l.check"); $reord reordered)"
	else
		fail "$l: counts differ: $(grep -E 'FAIL|Error' "$WORK/$l.check" | head -3 | tr '\n' ';')"
		# what the tracer's writes did meanwhile: a stall of seconds fills the ring buffer
		$PY - "$WORK/$l.rss" <<'PYEOF'
import sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 5]
grow = [b[3] - a[3] for a, b in zip(rows, rows[1:])]
stalls, run = [], 0
for i, g in enumerate(grow):
    run = run + 1 if g < max(grow) / 20 else 0
    if run >= 2:
        stalls.append(rows[i + 1][0])
print(f"    recorded per second: min {min(grow) / 1e6:.1f} MB, median {sorted(grow)[len(grow) // 2] / 1e6:.1f} MB; "
      f"seconds in writer stalls (<5% of the peak rate, 2 s or more): {stalls[:20]}{'...' if len(stalls) > 20 else ''}; "
      f"system Dirty+Writeback up to {max(r[4] for r in rows) // 1024} MiB")
PYEOF
	fi
}

# standalone: tests/soak.sh [SECONDS]
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	source "$(dirname "$0")/e2e/lib.sh"
	if [ "$(id -u)" -ne 0 ]; then
		echo "soak: needs root (sudo make soak)" >&2
		exit 1
	fi
	soak_test "${1:-600}"
	echo "soak: $E2E_PASS passed, $E2E_FAIL failed"
	[ "$E2E_FAIL" -eq 0 ]
fi
