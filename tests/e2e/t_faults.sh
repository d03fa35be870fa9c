# Faults while tracing (issue 5): the target killed, exec'ing, its PID
# reused; the tracer killed under load; a full ring buffer; a full disk;
# tens of thousands of tasks alive at once; output files and payload bytes.
# Every case asserts exact outcomes (exit codes, messages, counts equal to
# the target's own or to the kernel's), never timings; every wait is
# bounded.  Sourced by run.sh (lib.sh helpers).

FAULT_REL=$TARGETS/target/release

# wait_size FILE BYTES SECONDS: until FILE holds at least BYTES
wait_size() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		[ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
		sleep 0.05
	done
	echo "timed out after $3 s waiting for $1 to reach $2 bytes" >&2
	return 1
}

# no_probes LABEL: no link of asyncscope's programs without a live holder, no
# tracefs uprobe (a link goes when the last fd on it closes: bounded wait)
no_probes() {
	local i
	for ((i = 0; i < 100; i++)); do
		$PY "$E2E_ROOT/tests/e2e/orphan_probes.py" >"$WORK/$1.orphans" && break
		sleep 0.1
	done
	if [ ! -s "$WORK/$1.orphans" ]; then
		pass "$1: no probe left behind (bpftool links, tracefs uprobe_events)"
	else
		fail "$1: probes left behind: $(head -3 "$WORK/$1.orphans" | tr '\n' ';')"
	fi
}

# sites_ok LABEL PID BIN: every probed instruction of BIN in PID is the file's again
sites_ok() {
	"$ASYNCSCOPE" inspect --json "$3" >"$WORK/$1.inspect" 2>/dev/null
	if $PY "$E2E_ROOT/tests/e2e/sites_restored.py" "$2" "$WORK/$1.inspect" >"$WORK/$1.sites" 2>&1; then
		pass "$1: nothing left written in pid $2 ($(tail -1 "$WORK/$1.sites"))"
	else
		fail "$1: pid $2 still patched: $(tr '\n' ';' <"$WORK/$1.sites")"
	fi
}

# stop_tracer LABEL: waits (bounded) for the tracer RPID to exit; sets RC
stop_tracer() {
	if ! wait_exit "$RPID" 60; then
		fail "$1: tracer did not exit"
		kill -9 "$RPID" 2>/dev/null
	fi
	wait "$RPID"
	RC=$?
}

# same_recording LABEL: 'report' of LABEL.ast exits 0 and equals the live JSON report
same_recording() {
	"$ASYNCSCOPE" report "$WORK/$1.ast" --json >"$WORK/$1.replay" 2>"$WORK/$1.replay.err"
	local rc=$?
	if [ $rc -eq 0 ] && $PY "$E2E_ROOT/tests/e2e/same_report.py" "$WORK/$1.report" "$WORK/$1.replay" \
		>"$WORK/$1.same" 2>&1; then
		pass "$1: the recording is complete and reports what the live run did ($(cat "$WORK/$1.same"))"
	else
		fail "$1: report of the recording: exit $rc: $(tail -1 "$WORK/$1.replay.err") $(tail -1 "$WORK/$1.same" 2>/dev/null)"
	fi
}

# json_check LABEL REPORT PYTHON [ARGS...]: PYTHON asserts on r (the report); prints its last line
json_check() {
	local label=$1 rep=$2 code=$3
	shift 3
	if $PY -c "import json, sys
r = json.load(open(sys.argv[1]))
s = r['summary']
$code" "$rep" "$@" >"$WORK/$label.jc" 2>&1; then
		return 0
	fi
	echo "$(grep -v '^Traceback\|^  ' "$WORK/$label.jc" | tail -2 | tr '\n' ' ')"
	return 1
}

# the checks every clean trace passes: nothing dropped, no anomaly, kernel polls =
# correlated polls
CLEAN='
an = {k: v for k, v in s["anomalies"].items() if v and k != "late_tasks"}
assert not an, f"anomalies {an}"
assert s["events"]["dropped"] == 0, ("dropped", s["events"]["dropped"])
assert s["events"]["received"] == s["events"]["emitted"], s["events"]
assert s["kernel"]["polls"] == s["polls"] > 0, (s["kernel"]["polls"], s["polls"])
'

# 1. The target is killed (SIGKILL) mid-trace.
fault_target_killed() {
	local l=fault-kill
	start_gated $l "$FAULT_REL/mt" --loop --scale 20 || { fail "$l: target did not start"; return; }
	local tpid=$TPID
	attach $l "$tpid" --json -o "$WORK/$l.ast" || { fail "$l: tracer did not attach"; return; }
	touch "$WORK/$l.go"
	wait_size "$WORK/$l.ast" 200000 60 || { fail "$l: nothing recorded"; return; }
	kill -9 "$tpid"
	wait "$tpid" 2>/dev/null
	stop_tracer $l
	local msg="asyncscope: pid $tpid exited: reporting what was traced" err
	if [ "$RC" -eq 0 ] && grep -qxF "$msg" "$WORK/$l.rerr" &&
		err=$(json_check $l "$WORK/$l.report" "assert r['target_exited'] is True
$CLEAN
print(s['polls'])"); then
		pass "$l: target killed mid-trace: exit 0, '$msg', target_exited, $(cat "$WORK/$l.jc") polls exact"
	else
		fail "$l: exit $RC, $(grep -c "exited" "$WORK/$l.rerr") exit messages: $err $(tail -1 "$WORK/$l.rerr")"
	fi
	no_probes $l
	same_recording $l
}

# 2. The target execs mid-trace: another program, then its own binary again.
# exec_on_usr2.so (LD_PRELOAD) makes the unmodified target exec on SIGUSR2.
fault_exec() {
	local l=fault-exec so=$WORK/exec_on_usr2.so
	if ! cc -shared -fPIC -O1 -Wall -Werror -o "$so" "$E2E_ROOT/tests/e2e/exec_on_usr2.c" 2>"$WORK/$l.cc"; then
		fail "$l: cannot build the exec helper: $(head -1 "$WORK/$l.cc")"
		return
	fi
	local new
	for new in /bin/sleep "$FAULT_REL/mt"; do
		local arg=600 label=$l-sleep
		[ "$new" = /bin/sleep ] || { arg=--gate=$WORK/$l.never; label=$l-self; }
		rm -f "$WORK/$label.go"
		EXEC_ON_USR2=$new EXEC_ON_USR2_ARG=$arg LD_PRELOAD=$so "$FAULT_REL/mt" --gate "$WORK/$label.go" \
			--loop --scale 20 >"$WORK/$label.truth" 2>"$WORK/$label.err" &
		local tpid=$!
		E2E_PIDS+=($tpid)
		wait_for "$WORK/$label.err" '^ready pid=' 60 || { fail "$label: target did not start"; continue; }
		attach $label "$tpid" --json -o "$WORK/$label.ast" || { fail "$label: tracer did not attach"; continue; }
		touch "$WORK/$label.go"
		wait_size "$WORK/$label.ast" 200000 60 || { fail "$label: nothing recorded"; continue; }
		kill -USR2 "$tpid"
		stop_tracer $label
		local exe msg err
		exe=$(readlink -f "$new")
		msg="asyncscope: pid $tpid exec'd $exe: the traced program is gone; reporting what was traced"
		# the new program runs on as the same process; a new mt waits at its gate
		local runs=0
		[ "$(readlink "/proc/$tpid/exe")" = "$exe" ] && runs=1
		# a re-exec of the same binary: its first probe hits (the runtime
		# starting) precede the tracer noticing the exec (BPF side cannot
		# tell the two images apart): counted as unknown_vtable, nothing else
		local code="assert r['target_exited'] is True
$CLEAN"
		[ "$label" = $l-self ] && code="s['anomalies']['unknown_vtable'] = 0
$code"
		if [ "$RC" -eq 0 ] && grep -qxF "$msg" "$WORK/$label.rerr" && [ $runs = 1 ] &&
			err=$(json_check $label "$WORK/$label.report" "$code"); then
			pass "$label: target exec'd $exe mid-trace: exit 0, '$msg', target_exited, the process runs on"
		else
			fail "$label: exit $RC, runs on: $runs, want '$msg': $err $(grep -v attached "$WORK/$label.rerr" | head -2 | tr '\n' ';')"
		fi
		[ "$label" = $l-self ] && echo "  note: $label: $($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["anomalies"]["unknown_vtable"])' "$WORK/$label.report") hits of the new image counted as unknown_vtable before the exec was noticed"
		no_probes $label
		# the same binary mapped again: none of the probes still registered went into it
		[ "$label" = $l-self ] && sites_ok $label "$tpid" "$exe"
		same_recording $label
		kill -9 "$tpid" 2>/dev/null
		wait "$tpid" 2>/dev/null
	done
}

# 2b. The target execs between the analysis of its binary and the attach
# (strace holds the tracer's first bpf() call for 4 s): the probes must go on
# the binary analysed, never at its offsets into the new program; then the
# exec is noticed as above.  strace also holds the second poll() (the first of
# the tracing loop; the first checks the pidfd at the end of the analysis),
# so that the new program is checked while the probes are registered.
fault_exec_attach() {
	local l=fault-exec-attach so=$WORK/exec_on_usr2.so new=$FAULT_REL/hyperserver
	if ! command -v strace >/dev/null; then
		fail "$l: strace not installed (make deps)"
		return
	fi
	[ -f "$so" ] || cc -shared -fPIC -O1 -o "$so" "$E2E_ROOT/tests/e2e/exec_on_usr2.c" || { fail "$l: cannot build the exec helper"; return; }
	EXEC_ON_USR2=$new EXEC_ON_USR2_ARG=--gate=$WORK/$l.never LD_PRELOAD=$so "$FAULT_REL/mt" --gate "$WORK/$l.go" \
		>"$WORK/$l.truth" 2>"$WORK/$l.err" &
	local tpid=$!
	E2E_PIDS+=($tpid)
	wait_for "$WORK/$l.err" '^ready pid=' 60 || { fail "$l: target did not start"; return; }
	strace -o "$WORK/$l.strace" -e trace=openat,bpf,poll -e inject=bpf:delay_enter=4000000:when=1 \
		-e inject=poll:delay_enter=4000000:when=2 "$ASYNCSCOPE" record -p "$tpid" --json \
		>"$WORK/$l.report" 2>"$WORK/$l.rerr" &
	RPID=$!
	E2E_PIDS+=($RPID)
	# the last step of the analysis: /proc/PID/mem opened; then bpf() is held
	wait_for "$WORK/$l.strace" "/proc/$tpid/mem" 60 || { fail "$l: the tracer did not analyse the target"; return; }
	sleep 1
	kill -USR2 "$tpid"
	wait_for "$WORK/$l.rerr" 'attached to pid|cannot attach' 60
	"$ASYNCSCOPE" inspect --json "$FAULT_REL/mt" >"$WORK/$l.inspect" 2>/dev/null
	# the analysed binary's offsets, read in the new program: all as in its file
	if $PY "$E2E_ROOT/tests/e2e/sites_restored.py" "$tpid" "$WORK/$l.inspect" >"$WORK/$l.sites" 2>&1; then
		pass "$l: no probe at mt's offsets in the exec'd $(basename "$new") while attached ($(tail -1 "$WORK/$l.sites"))"
	else
		fail "$l: probes landed in the exec'd program: $(tr '\n' ';' <"$WORK/$l.sites")"
	fi
	stop_tracer $l
	local msg="asyncscope: pid $tpid exec'd $(readlink -f "$new"): the traced program is gone; reporting what was traced"
	if [ "$RC" -eq 0 ] && grep -qxF "$msg" "$WORK/$l.rerr"; then
		pass "$l: exec between analysis and attach: exit 0, '$msg'"
	else
		fail "$l: exit $RC: $(grep -v '^asyncscope: \(attached\|removing\|detached\)' "$WORK/$l.rerr" | head -2 | tr '\n' ';')"
	fi
	no_probes $l
	kill -9 "$tpid" 2>/dev/null
	wait "$tpid" 2>/dev/null
}

# 3. PID reuse: the target dies while the tracer is stopped, and a new process
# of the same binary gets its PID (ns_last_pid).  The tracer must notice the
# exit (pidfd), report the old process only, and put nothing into the new one.
fault_pid_reuse() {
	local l=fault-pid
	if [ ! -w /proc/sys/kernel/ns_last_pid ]; then
		fail "$l: /proc/sys/kernel/ns_last_pid is not writable (needs root in the initial pid namespace)"
		return
	fi
	start_gated $l "$FAULT_REL/mt" --loop --scale 20 || { fail "$l: target did not start"; return; }
	local apid=$TPID
	attach $l "$apid" --json -o "$WORK/$l.ast" || { fail "$l: tracer did not attach"; return; }
	touch "$WORK/$l.go"
	wait_size "$WORK/$l.ast" 200000 60 || { fail "$l: nothing recorded"; return; }
	kill -STOP "$RPID"
	kill -9 "$apid"
	wait "$apid" 2>/dev/null
	local bpid=0 try
	for ((try = 0; try < 50 && bpid != apid; try++)); do
		[ "$bpid" -gt 0 ] && { kill -9 "$bpid"; wait "$bpid" 2>/dev/null; }
		echo $((apid - 1)) >/proc/sys/kernel/ns_last_pid
		"$FAULT_REL/mt" --loop --scale 20 >"$WORK/$l-b.truth" 2>"$WORK/$l-b.err" &
		bpid=$!
	done
	E2E_PIDS+=($bpid)
	if [ "$bpid" != "$apid" ]; then
		kill -CONT "$RPID"
		fail "$l: could not start a process with pid $apid again (got $bpid after $try tries)"
		return
	fi
	wait_for "$WORK/$l-b.err" '^ready pid=' 60 || { kill -CONT "$RPID"; fail "$l: new process did not start"; return; }
	# the old process's probes are still registered (the tracer is stopped): none is in the new one
	sites_ok $l-new-while-attached "$bpid" "$FAULT_REL/mt"
	kill -CONT "$RPID"
	stop_tracer $l
	local msg="asyncscope: pid $apid exited: reporting what was traced" err
	if [ "$RC" -eq 0 ] && grep -qxF "$msg" "$WORK/$l.rerr" &&
		err=$(json_check $l "$WORK/$l.report" "assert r['target_exited'] is True
$CLEAN"); then
		pass "$l: pid $apid reused by a new mt while traced: the tracer reports the old process only ('$msg', exit 0, no foreign event)"
	else
		fail "$l: exit $RC: $err $(grep -v attached "$WORK/$l.rerr" | head -2 | tr '\n' ';')"
	fi
	no_probes $l
	sites_ok $l-new-after "$bpid" "$FAULT_REL/mt"
	kill -TERM "$bpid"
	wait_exit "$bpid" 30
	wait "$bpid"
	local brc=$?
	if [ $brc -eq 0 ] && $PY "$TARGETS/check_gt.py" <"$WORK/$l-b.truth" >/dev/null 2>&1; then
		pass "$l: the new process with the reused pid ran untouched (exit 0, valid ground truth)"
	else
		fail "$l: the new process exited $brc: $(tail -1 "$WORK/$l-b.err")"
	fi
}

# 4. The tracer is killed (SIGKILL) under load.
fault_tracer_killed() {
	local l=fault-tkill srv=$FAULT_REL/hyperserver lg=$FAULT_REL/loadgen
	start_gated $l "$srv" --port 0 --until-killed || { fail "$l: server did not start"; return; }
	local spid=$TPID port=$TPORT
	touch "$WORK/$l.go"
	"$lg" --port "$port" --conns 4 --duration-ms 5000 >"$WORK/$l.lg1" 2>&1 &
	local lpid=$!
	attach $l "$spid" -o "$WORK/$l.ast" || { fail "$l: tracer did not attach"; return; }
	wait_size "$WORK/$l.ast" 300000 60 || { fail "$l: nothing recorded"; return; }
	kill -9 "$RPID"
	wait "$RPID" 2>/dev/null
	no_probes $l
	sites_ok $l "$spid" "$srv"
	wait "$lpid"
	"$lg" --port "$port" --conns 2 --requests 2000 >"$WORK/$l.lg2" 2>&1
	local size
	size=$(stat -c %s "$WORK/$l.ast")
	"$ASYNCSCOPE" report "$WORK/$l.ast" --json >"$WORK/$l.cut" 2>"$WORK/$l.cut.err"
	local rc=$? err
	if [ $rc -eq 6 ] && [ "$(wc -l <"$WORK/$l.cut.err")" -eq 1 ] &&
		grep -qE "^asyncscope: recording (ends at byte [0-9]+ without a trailer: the recorder did not finish \(killed, crashed or the disk filled\)|truncated at byte [0-9]+: .*); reported [1-9][0-9]* events before it$" \
			"$WORK/$l.cut.err" &&
		err=$(json_check $l-cut "$WORK/$l.cut" 'assert s["polls"] > 0; assert r["target_exited"] is False'); then
		pass "$l: the recording of a killed tracer ($size bytes) reports up to its last chunk: exit 6, $(cut -c13- "$WORK/$l.cut.err")"
	else
		fail "$l: report of the killed tracer's recording: exit $rc: $(tr '\n' ';' <"$WORK/$l.cut.err") $err"
	fi
	kill -TERM "$spid"
	wait_exit "$spid" 30
	wait "$spid"
	local src=$?
	if [ $src -eq 0 ] && $PY - "$WORK/$l.truth" "$WORK/$l.lg1" "$WORK/$l.lg2" >"$WORK/$l.check" 2>&1 <<'PYEOF'; then
import json, sys
truth = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
runs = [json.loads(open(p).read().strip().splitlines()[-1]) for p in sys.argv[2:]]
for r in runs:
    assert r["errors"] == 0 and r["requests"] > 0, r
assert truth["requests"] == sum(r["requests"] for r in runs), (truth["requests"], [r["requests"] for r in runs])
assert truth["spawned"] == truth["completed"], truth
print(f"{truth['requests']} requests answered right, across the kill; {truth['spawned']['async']} tasks, all completed")
PYEOF
		pass "$l: the server ran on untouched: exit 0, $(tail -1 "$WORK/$l.check")"
	else
		fail "$l: server exit $src: $(tail -1 "$WORK/$l.check") $(tail -1 "$WORK/$l.err")"
	fi
}

# 5. The ring buffer overflows (4 KiB): drops counted exactly, the kernel's totals
# still equal the target's own, every event is either received or counted dropped.
fault_overflow() {
	local l=fault-overflow
	start_gated $l "$FAULT_REL/ct" --rounds 20 || { fail "$l: target did not start"; return; }
	attach $l "$TPID" --json --ringbuf-size 4K -o "$WORK/$l.ast" || { fail "$l: tracer did not attach"; return; }
	touch "$WORK/$l.go"
	wait_exit "$TPID" 120 || { fail "$l: target did not finish"; return; }
	stop_tracer $l
	local err dropped
	dropped=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["events"]["dropped"])' "$WORK/$l.report" 2>/dev/null)
	if [ "$RC" -eq 0 ] && [ "${dropped:-0}" -gt 0 ] &&
		grep -qxF "asyncscope: $dropped events lost: the ring buffer was full (raise --ringbuf-size); kernel totals are exact" "$WORK/$l.rerr" &&
		err=$(json_check $l "$WORK/$l.report" '
t = json.loads([x for x in open(sys.argv[2]) if x.startswith("{")][-1])
k, e = s["kernel"], s["events"]
want = {"polls": t["polls"]["async"] + t["polls"]["blocking"], "spawn": t["spawned"]["async"],
        "spawn_blocking": t["spawned"]["blocking"],
        "complete": t["completed"]["async"] + t["completed"]["blocking"], "shutdown": 0}
got = {x: k[x] for x in want}
assert got == want, f"kernel {got} != target {want}"
assert e["received"] == e["emitted"], ("received", e["received"], "emitted", e["emitted"])
d, b = e["dropped_by_type"], e["by_type"]
assert sum(d.values()) == e["dropped"], (d, e["dropped"])
kinds = {"poll": k["polls"], "waker": k["wake_by_val"] + k["wake_by_ref"] + k["waker_clone"] + k["waker_drop"] - k["waker_folded"],
         "spawn": k["spawn"] + k["spawn_blocking"], "complete": k["complete"], "shutdown": k["shutdown"]}
for x, n in kinds.items():
    assert b[x] + d[x] == n, f"{x}: {b[x]} received + {d[x]} dropped != {n} in the kernel"
print("%d of %d records dropped; kernel = target: %s" % (e["dropped"], e["dropped"] + e["received"], want))
' "$WORK/$l.truth"); then
		pass "$l: 4 KiB ring buffer: exit 0, received + dropped = the kernel's count for every type, $(cat "$WORK/$l.jc")"
	else
		fail "$l: exit $RC, dropped ${dropped:-?}: $err $(grep lost "$WORK/$l.rerr")"
	fi
	same_recording $l
	# the table (live or from the recording) says what was lost
	"$ASYNCSCOPE" report "$WORK/$l.ast" >"$WORK/$l.table" 2>/dev/null
	if grep -qE "^WARNING: $dropped records lost \(ring buffer full: .*\); per-task numbers are incomplete, the kernel totals are exact: polls [0-9]+" \
		"$WORK/$l.table"; then
		pass "$l: the report says what was lost: $(grep -o '^WARNING: [0-9]* records lost' "$WORK/$l.table")"
	else
		fail "$l: no WARNING line for $dropped lost records: $(grep -i lost "$WORK/$l.table")"
	fi
}

# 6. The disk fills while recording (a 1 MiB tmpfs): one error naming the byte
# the file stays readable to, exit 5, the live report still exact, the file
# reported up to its last whole chunk.
fault_disk_full() {
	local l=fault-disk mnt=$WORK/small
	mkdir -p "$mnt"
	if ! mount -t tmpfs -o size=1M,mode=0700 tmpfs "$mnt"; then
		fail "$l: cannot mount a tmpfs on $mnt"
		return
	fi
	fault_disk_full_run $l "$mnt"
	umount "$mnt" 2>/dev/null || umount -l "$mnt"
}

fault_disk_full_run() {
	local l=$1 mnt=$2
	start_gated $l "$FAULT_REL/ct" --rounds 40 || { fail "$l: target did not start"; return; }
	attach $l "$TPID" --json -o "$mnt/$l.ast" || { fail "$l: tracer did not attach"; return; }
	touch "$WORK/$l.go"
	wait_exit "$TPID" 120 || { fail "$l: target did not finish"; return; }
	stop_tracer $l
	local n size
	n=$(sed -n "s/^asyncscope: cannot write the recording '.*': No space left on device; it stays readable up to byte \([0-9]*\)$/\1/p" "$WORK/$l.rerr")
	size=$(stat -c %s "$mnt/$l.ast")
	if [ "$RC" -eq 5 ] && [ "$(grep -c 'cannot write' "$WORK/$l.rerr")" -eq 1 ] && [ -n "$n" ] && [ "$n" = "$size" ]; then
		pass "$l: disk full: exit 5, one error: $(grep -o "No space.*" "$WORK/$l.rerr"); the file is $size bytes"
	else
		fail "$l: exit $RC (want 5), $(grep -c 'cannot write' "$WORK/$l.rerr") write errors (want 1), byte '${n:-?}' vs file $size"
	fi
	if $PY "$E2E_ROOT/tests/e2e/check_truth.py" "$WORK/$l.truth" "$WORK/$l.report" >"$WORK/$l.check"; then
		pass "$l: the live report is still printed and exact ($(grep -c '^  ok' "$WORK/$l.check") checks against the target's counts)"
	else
		fail "$l: live report after the disk filled: $(grep FAIL "$WORK/$l.check" | head -2 | tr '\n' ';')"
	fi
	"$ASYNCSCOPE" report "$mnt/$l.ast" --json >"$WORK/$l.cut" 2>"$WORK/$l.cut.err"
	local rc=$? err
	if [ $rc -eq 6 ] && grep -qE "^asyncscope: recording ends at byte $size without a trailer: .*; reported [1-9][0-9]* events before it$" \
		"$WORK/$l.cut.err" && err=$(json_check $l-cut "$WORK/$l.cut" '
live = json.load(open(sys.argv[2]))["summary"]
assert 0 < s["polls"] < live["polls"], (s["polls"], live["polls"])
print("%d of %d polls" % (s["polls"], live["polls"]))' "$WORK/$l.report"); then
		pass "$l: the file reports up to its last whole chunk (exit 6, $(cat "$WORK/$l-cut.jc")): $(cut -c13-80 "$WORK/$l.cut.err")..."
	else
		fail "$l: report of the full disk's file: exit $rc: $(cat "$WORK/$l.cut.err") $err"
	fi
}

# 7. Tens of thousands of tasks alive at once: ct spawns a whole round before
# its first await; at scale 10000 that is 26,010 tasks, traced exactly.
fault_many_tasks() {
	local l=fault-many bin=$FAULT_REL/ct checkargs=""
	"$ASYNCSCOPE" inspect --json "$bin" | $PY -c \
		'import json,sys; sys.exit(json.load(sys.stdin)["hooks"]["spawn_inner"]["count"] == 0)' ||
		checkargs=--no-locations
	start_gated $l "$bin" --rounds 1 --scale 10000 || { fail "$l: target did not start"; return; }
	attach $l "$TPID" --json || { fail "$l: tracer did not attach"; return; }
	touch "$WORK/$l.go"
	wait_exit "$TPID" 120 || { fail "$l: target did not finish"; return; }
	stop_tracer $l
	local err
	if [ "$RC" -eq 0 ] && $PY "$E2E_ROOT/tests/e2e/check_truth.py" "$WORK/$l.truth" "$WORK/$l.report" $checkargs \
		>"$WORK/$l.check" && err=$(json_check $l "$WORK/$l.report" '
ev = sorted([(t["created_ns"], 1) for t in r["tasks"]] +
            [(t["closed_ns"], -1) for t in r["tasks"] if t["closed_ns"]], key=lambda e: (e[0], e[1]))
alive = peak = 0
for _, d in ev:
    alive += d
    peak = max(peak, alive)
assert peak >= 20000, f"at most {peak} tasks alive at once"
print("%d tasks alive at once, %d traced" % (peak, len(r["tasks"])))'); then
		pass "$l: $(cat "$WORK/$l.jc"), counts exact ($(grep -c '^  ok' "$WORK/$l.check") checks), nothing dropped"
	else
		fail "$l: exit $RC: $err $(grep FAIL "$WORK/$l.check" | head -3 | tr '\n' ';')"
	fi
}

# 8. Output files: never through a symlink, never over a file without --force,
# created 0600 whatever the umask; no payload byte in a recording; nothing
# left written in the target.
fault_output() {
	local l=fault-out
	echo precious >"$WORK/$l.victim"
	ln -s "$WORK/$l.victim" "$WORK/$l.link"
	ln -s "$WORK/$l.nowhere" "$WORK/$l.dangling"
	local f ok=1
	for f in "$l.link" "$l.link --force" "$l.dangling" "$l.dangling --force"; do
		# shellcheck disable=SC2086
		"$ASYNCSCOPE" record -p 999999 -o "$WORK"/$f >/dev/null 2>"$WORK/$l.err"
		local rc=$?
		if [ $rc -ne 5 ] || [ "$(cat "$WORK/$l.err")" != "asyncscope: output file '$WORK/${f%% *}' is a symbolic link: refusing to follow it" ]; then
			fail "$l: -o $f: exit $rc: $(cat "$WORK/$l.err")"
			ok=0
		fi
	done
	if [ $ok = 1 ] && [ "$(cat "$WORK/$l.victim")" = precious ] && [ ! -e "$WORK/$l.nowhere" ]; then
		pass "$l: -o onto a symlink (to a file, dangling; with and without --force): exit 5, 'is a symbolic link: refusing to follow it', nothing written"
	elif [ $ok = 1 ]; then
		fail "$l: a symlink's target was written or created"
	fi
	# the offline writers take the same rules (any recording of the cases above)
	local rec
	rec=$(ls "$WORK"/fault-*.ast 2>/dev/null | head -1)
	if [ -n "$rec" ]; then
		ok=1
		for f in "report $rec" "convert $rec"; do
			# shellcheck disable=SC2086
			"$ASYNCSCOPE" $f -o "$WORK/$l.link" --force >/dev/null 2>"$WORK/$l.err"
			local rc=$?
			if [ $rc -ne 5 ] || ! grep -qxF "asyncscope: output file '$WORK/$l.link' is a symbolic link: refusing to follow it" "$WORK/$l.err"; then
				fail "$l: ${f%% *} -o onto a symlink: exit $rc: $(cat "$WORK/$l.err")"
				ok=0
			fi
		done
		(umask 000 && "$ASYNCSCOPE" report "$rec" -o "$WORK/$l.report-out" 2>/dev/null)
		if [ $ok = 1 ] && [ "$(cat "$WORK/$l.victim")" = precious ] &&
			[ "$(stat -c %a "$WORK/$l.report-out" 2>/dev/null)" = 600 ]; then
			pass "$l: report -o and convert -o refuse a symlink even with --force (exit 5); report -o under umask 000 creates 0600"
		elif [ $ok = 1 ]; then
			fail "$l: report -o: victim $(cat "$WORK/$l.victim"), mode $(stat -c %a "$WORK/$l.report-out" 2>&1)"
		fi
	fi
	"$ASYNCSCOPE" record -p 999999 -o "$WORK/$l.victim" >/dev/null 2>"$WORK/$l.err"
	local rc=$?
	if [ $rc -eq 5 ] && [ "$(cat "$WORK/$l.err")" = "asyncscope: output file '$WORK/$l.victim' exists: use --force to overwrite it" ] &&
		[ "$(cat "$WORK/$l.victim")" = precious ]; then
		pass "$l: -o onto an existing file without --force: exit 5, left untouched"
	else
		fail "$l: -o onto an existing file: exit $rc: $(cat "$WORK/$l.err")"
	fi
	fault_payload
}

fault_payload() {
	local l=fault-payload srv=$FAULT_REL/hyperserver lg=$FAULT_REL/loadgen
	local canary=asyncscope-canary-5d1e0c7b
	start_gated $l "$srv" --port 0 --until-killed || { fail "$l: server did not start"; return; }
	local spid=$TPID port=$TPORT
	(umask 000 && exec "$ASYNCSCOPE" record -p "$spid" --json -o "$WORK/$l.ast" >"$WORK/$l.report" 2>"$WORK/$l.rerr") &
	RPID=$!
	E2E_PIDS+=($RPID)
	wait_for "$WORK/$l.rerr" 'attached to pid' 30 || { fail "$l: tracer did not attach"; return; }
	touch "$WORK/$l.go"
	# requests with a distinctive path, header and body, and loadgen's plain ones
	local i sent=0
	for ((i = 0; i < 20; i++)); do
		if exec 3<>"/dev/tcp/127.0.0.1/$port"; then
			printf 'POST /%s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Secret: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
				"$canary" "$canary" ${#canary} "$canary" >&3
			timeout 5 cat <&3 | grep -q 'hello world' && sent=$((sent + 1))
			exec 3<&-
		fi
	done
	"$lg" --port "$port" --conns 2 --requests 2000 >"$WORK/$l.lg" 2>&1
	kill -INT "$RPID"
	stop_tracer $l
	local mode hits
	mode=$(stat -c %a "$WORK/$l.ast")
	hits=$(grep -a -c -e "$canary" -e 'hello world' -e 'GET / HTTP/1.1' -e 'X-Secret' "$WORK/$l.ast")
	if [ "$RC" -eq 0 ] && [ "$mode" = 600 ] && [ $sent -eq 20 ] && [ "$hits" -eq 0 ] &&
		grep -aq hyperserver "$WORK/$l.ast"; then
		pass "$l: a recording made under umask 000 is 0600 and holds no payload byte (20 requests carrying '$canary', 2000 'GET / HTTP/1.1', responses 'hello world': 0 matches)"
	else
		fail "$l: exit $RC, mode $mode (want 600), $sent/20 canary requests answered, $hits payload matches in the recording (want 0)"
	fi
	sites_ok $l "$spid" "$srv"
	kill -TERM "$spid"
	wait_exit "$spid" 30
	wait "$spid"
	local src=$?
	if [ $src -eq 0 ] && $PY - "$WORK/$l.truth" "$WORK/$l.lg" $sent >"$WORK/$l.check" 2>&1 <<'PYEOF'; then
import json, sys
truth = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
lg = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
assert lg["errors"] == 0, lg
assert truth["requests"] == lg["requests"] + int(sys.argv[3]), (truth["requests"], lg["requests"], sys.argv[3])
print(f"{truth['requests']} requests answered")
PYEOF
		pass "$l: the traced server answered every request and exited cleanly ($(tail -1 "$WORK/$l.check"))"
	else
		fail "$l: server exit $src: $(tail -1 "$WORK/$l.check")"
	fi
}

if [ ! -x "$FAULT_REL/mt" ] || [ ! -x "$FAULT_REL/ct" ] || [ ! -x "$FAULT_REL/hyperserver" ] || [ ! -x "$FAULT_REL/loadgen" ]; then
	fail "faults: targets not built (make targets)"
else
	fault_target_killed
	fault_exec
	fault_exec_attach
	fault_pid_reuse
	fault_tracer_killed
	fault_overflow
	fault_disk_full
	fault_many_tasks
	fault_output
fi
