# The tracer's tasks, completions and polls per task equal the target's own
# counts, for every target and build variant.  Sourced by run.sh.

# truth_run LABEL BIN CHECK_ARGS DRIVER -- TARGET_ARGS...
# DRIVER (a function, or "none") runs after the gate opens, e.g. a load generator.
truth_run() {
	local label=$1 bin=$2 checkargs=$3 driver=$4
	shift 5
	# where tokio inlined spawn_inner, the spawn location never exists
	if [ -x "$bin" ] && ! "$ASYNCSCOPE" inspect --json "$bin" | $PY -c \
		'import json,sys; sys.exit(json.load(sys.stdin)["hooks"]["spawn_inner"]["count"] == 0)'; then
		checkargs="$checkargs --no-locations"
	fi
	traced_run "$label" "$bin" "$driver" 120 -- "$@" || return
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
	check_recording "$label"
}

# The recording written during the run reports exactly what the live run did.
check_recording() {
	local label=$1
	if ! "$ASYNCSCOPE" report "$WORK/$label.ast" --json >"$WORK/$label.replay" 2>"$WORK/$label.replay.err"; then
		fail "$label: report of the recording failed: $(tail -1 "$WORK/$label.replay.err")"
		return
	fi
	if $PY "$E2E_ROOT/tests/e2e/same_report.py" "$WORK/$label.report" "$WORK/$label.replay" \
		>"$WORK/$label.same" 2>&1; then
		pass "$label: 'report' of the recording equals the live report ($(cat "$WORK/$label.same"))"
	else
		fail "$label: 'report' of the recording differs from the live report: $(tail -1 "$WORK/$label.same")"
	fi
	# the traces people open: poll slices per task equal the target's own
	# counts (decoding takes ~15 s on mt: one build of each target, and LTO)
	case " $TRACE_CHECKS " in
	*" $label "*) ;;
	*) check_damage "$label"; return ;;
	esac
	local fmt ext
	for fmt in perfetto chrome; do
		ext=$([ $fmt = perfetto ] && echo pftrace || echo json)
		if ! "$ASYNCSCOPE" convert "$WORK/$label.ast" -o "$WORK/$label.$ext" 2>"$WORK/$label.$ext.err"; then
			fail "$label: convert to $fmt failed: $(tail -1 "$WORK/$label.$ext.err")"
		elif $PY "$E2E_ROOT/tests/e2e/check_$fmt.py" "$WORK/$label.$ext" "$WORK/$label.truth" \
			>"$WORK/$label.$ext.check" 2>&1; then
			pass "$label: $fmt trace: $(tail -1 "$WORK/$label.$ext.check")"
		else
			fail "$label: $fmt trace: $(tail -1 "$WORK/$label.$ext.check")"
		fi
		rm -f "$WORK/$label.$ext"
	done
	check_damage "$label"
}

# A recording cut in the middle: what comes before the cut is still reported, the cut is named.
check_damage() {
	local label=$1
	local size half
	size=$(stat -c %s "$WORK/$label.ast")
	half=$((size / 2))
	head -c "$half" "$WORK/$label.ast" >"$WORK/$label.cut.ast"
	"$ASYNCSCOPE" report "$WORK/$label.cut.ast" --json >"$WORK/$label.cut.json" 2>"$WORK/$label.cut.err"
	local rc=$?
	if [ $rc -eq 6 ] && grep -qE "recording truncated at byte [0-9]+: .*; reported [0-9]+ events before it" \
		"$WORK/$label.cut.err" && $PY -c '
import json, sys
cut, whole = (json.load(open(p))["summary"] for p in sys.argv[1:3])
assert 0 < cut["polls"] < whole["polls"], (cut["polls"], whole["polls"])' "$WORK/$label.cut.json" "$WORK/$label.report"; then
		pass "$label: a recording cut at byte $half still reports up to the cut (exit 6: $(tail -1 "$WORK/$label.cut.err" | cut -c1-90)...)"
	else
		fail "$label: a recording cut at byte $half: exit $rc: $(tail -1 "$WORK/$label.cut.err")"
	fi
}

# a bounded keep-alive load, then GET /quit: the server drains and exits
hyper_load() {
	"$TARGETS/target/release/loadgen" --port "$TPORT" --conns 8 --requests 4000 --quit
}

TRACE_CHECKS="mt-target ct-target-lto hyper-target hyper-target-v0"
for variant in target target-v0 target-lto; do
	for bin in mt ct; do
		truth_run "$bin-$variant" "$TARGETS/$variant/release/$bin" "" none --
	done
	truth_run "hyper-$variant" "$TARGETS/$variant/release/hyperserver" "" hyper_load -- --port 0
done
