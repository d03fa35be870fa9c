# Sockets, waits and wake sources (issue 4) against targets that count them
# themselves.  Sourced by run.sh (after lib.sh).

# io_run LABEL MODE BIN DRIVER -- TARGET_ARGS...
# Starts BIN gated, records it (--json, -o), runs DRIVER (a function, or
# "none") after the gate opens, then checks the report with check_io.py MODE
# and that the recording reports the same.
io_run() {
	local label=$1 mode=$2 bin=$3 driver=$4
	shift 5
	traced_run "$label" "$bin" "$driver" 60 -- "$@" || return
	if $PY "$E2E_ROOT/tests/e2e/check_io.py" "$mode" "$WORK/$label.truth" "$WORK/$label.report" \
		>"$WORK/$label.check"; then
		pass "$label: $(grep -c '^  ok' "$WORK/$label.check") checks: $(tail -1 "$WORK/$label.check" | sed 's/^ *ok *//')"
	else
		fail "$label: the I/O report differs from the target's:"
		sed 's/^/    /' "$WORK/$label.check"
	fi
	if "$ASYNCSCOPE" report "$WORK/$label.ast" --json >"$WORK/$label.replay" 2>"$WORK/$label.replay.err" &&
		$PY "$E2E_ROOT/tests/e2e/same_report.py" "$WORK/$label.report" "$WORK/$label.replay" \
			>"$WORK/$label.same" 2>&1; then
		pass "$label: the recording reports the same sockets, waits and wakes ($(cat "$WORK/$label.same"))"
	else
		fail "$label: the recording's report differs: $(tail -1 "$WORK/$label.same" "$WORK/$label.replay.err" 2>/dev/null | tail -1)"
	fi
}

# io_trace LABEL: the Perfetto and Chrome JSON traces of LABEL's recording
# carry the report's socket operations and wake sources (Perfetto's is also
# checked well formed).
io_trace() {
	local label=$1
	if ! "$ASYNCSCOPE" convert "$WORK/$label.ast" -o "$WORK/$label.pftrace" 2>"$WORK/$label.pf.err"; then
		fail "$label: convert failed: $(tail -1 "$WORK/$label.pf.err")"
		return
	fi
	if $PY "$E2E_ROOT/tests/e2e/check_io.py" perfetto "$WORK/$label.pftrace" "$WORK/$label.report" \
		>"$WORK/$label.pf.check" && $PY "$E2E_ROOT/tests/e2e/check_perfetto.py" \
		"$WORK/$label.pftrace" "$WORK/$label.truth" >>"$WORK/$label.pf.check" 2>&1; then
		pass "$label: Perfetto trace: $(grep -c '^  ok' "$WORK/$label.pf.check") I/O checks; $(tail -1 "$WORK/$label.pf.check")"
	else
		fail "$label: Perfetto trace:"
		sed 's/^/    /' "$WORK/$label.pf.check"
	fi
	rm -f "$WORK/$label.pftrace"
	if "$ASYNCSCOPE" convert "$WORK/$label.ast" -o "$WORK/$label.json" 2>"$WORK/$label.ch.err" &&
		$PY "$E2E_ROOT/tests/e2e/check_io.py" chrome "$WORK/$label.json" "$WORK/$label.report" \
			>"$WORK/$label.ch.check"; then
		pass "$label: Chrome JSON trace: $(grep -c '^  ok' "$WORK/$label.ch.check") I/O checks ($(grep '^  ok' "$WORK/$label.ch.check" | head -1 | sed 's/.*: //'))"
	else
		fail "$label: Chrome JSON trace: $(tail -1 "$WORK/$label.ch.err" "$WORK/$label.ch.check" 2>/dev/null | tail -1)"
	fi
	rm -f "$WORK/$label.json"
}

# Per-task bytes and operations in and out equal what the echo target counted.
io_run io-echo-mt echo "$TARGETS/target/release/echo" none -- --conns 20 --workers 2
io_trace io-echo-mt
io_run io-echo-ct echo "$TARGETS/target/release/echo" none -- --conns 20 --current-thread
io_run io-echo-lto echo "$TARGETS/target-lto/release/echo" none -- --conns 20 --workers 2

# A service whose slow requests wait on a loopback backend that answers after
# 40 ms: the handlers that queried it are singled out, the backend's address
# and port named as what they waited on, each wait 40 ms within 10%.
slowdep_load() {
	"$TARGETS/target/release/slowdep" --client --port "$TPORT" --requests 40 --slow-every 4
}
io_run io-slowdep slowdep "$TARGETS/target/release/slowdep" slowdep_load -- --requests 40 --delay-ms 40

# One task per kind of wake (self, yield, another task, I/O, timer, a
# blocking task, a thread outside the runtime): each woken only that way.
for variant in target target-v0; do
	io_run io-wakes-mt-$variant wakes "$TARGETS/$variant/release/wakekinds" none -- --n 20 --workers 2
done
io_trace io-wakes-mt-target
io_run io-wakes-ct wakes "$TARGETS/target/release/wakekinds" none -- --n 20 --current-thread
