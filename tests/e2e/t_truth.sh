# The tracer's tasks, completions and polls per task equal the target's own
# counts, for every target and build variant.  Sourced by run.sh.

# truth_run LABEL BIN CHECK_ARGS DRIVER -- TARGET_ARGS...
# DRIVER (a function, or "none") runs after the gate opens, e.g. a load generator.
truth_run() {
	local label=$1 bin=$2 checkargs=$3 driver=$4
	shift 5
	if [ ! -x "$bin" ]; then
		fail "$label: $bin not built (make targets)"
		return
	fi
	# where tokio inlined spawn_inner, the spawn location never exists
	if ! "$ASYNCSCOPE" inspect --json "$bin" | $PY -c \
		'import json,sys; sys.exit(json.load(sys.stdin)["hooks"]["spawn_inner"]["count"] == 0)'; then
		checkargs="$checkargs --no-locations"
	fi
	start_gated "$label" "$bin" "$@" || { fail "$label: target did not start"; return; }
	attach "$label" "$TPID" --json || { fail "$label: tracer did not attach"; return; }
	touch "$WORK/$label.go"
	if [ "$driver" != none ] && ! $driver >"$WORK/$label.driver" 2>&1; then
		fail "$label: $driver failed: $(tail -1 "$WORK/$label.driver")"
		return
	fi
	if ! wait_exit "$TPID" 120; then
		fail "$label: target did not finish"
		return
	fi
	if ! wait_exit "$RPID" 30; then
		fail "$label: tracer did not report after the target exited"
		return
	fi
	wait "$RPID"
	local rc=$?
	if [ $rc -ne 0 ]; then
		fail "$label: tracer exited $rc: $(tail -1 "$WORK/$label.rerr")"
		return
	fi
	if ! $PY -c 'import json,sys; assert json.load(open(sys.argv[1]))["target_exited"]' "$WORK/$label.report"; then
		fail "$label: report does not say the target exited"
		return
	fi
	if $PY "$E2E_ROOT/tests/e2e/check_truth.py" "$WORK/$label.truth" "$WORK/$label.report" $checkargs \
		>"$WORK/$label.check"; then
		pass "$label: counts equal the target's ($(grep -c '^  ok' "$WORK/$label.check") checks)"
	else
		fail "$label: counts differ:"
		sed 's/^/    /' "$WORK/$label.check"
	fi
}

# a bounded keep-alive load, then GET /quit: the server drains and exits
hyper_load() {
	"$TARGETS/target/release/loadgen" --port "$TPORT" --conns 8 --requests 4000 --quit
}

for variant in target target-v0 target-lto; do
	for bin in mt ct; do
		truth_run "$bin-$variant" "$TARGETS/$variant/release/$bin" "" none --
	done
	truth_run "hyper-$variant" "$TARGETS/$variant/release/hyperserver" "" hyper_load -- --port 0
done
