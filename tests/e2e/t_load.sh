# Attach to a hyper server already under load, detach, and check the process
# is untouched: no probe left, every probed instruction restored, every
# response still right.  Throughput before/while/after is printed (not
# asserted: timing belongs to bench/).  Sourced by run.sh.

load_test() {
	local srv=$TARGETS/target/release/hyperserver lg=$TARGETS/target/release/loadgen
	if [ ! -x "$srv" ] || [ ! -x "$lg" ]; then
		fail "load: hyperserver/loadgen not built"
		return
	fi
	"$srv" --port 0 --until-killed >"$WORK/load.truth" 2>"$WORK/load.err" &
	local spid=$!
	E2E_PIDS+=($spid)
	wait_for "$WORK/load.err" '^ready pid=' 30 || { fail "load: server did not start"; return; }
	local port
	port=$(sed -n 's/.* port=\([0-9]*\).*/\1/p' "$WORK/load.err" | head -1)

	"$lg" --port "$port" --conns 4 --duration-ms 1500 >"$WORK/load.before" || true
	"$lg" --port "$port" --conns 4 --duration-ms 3500 >"$WORK/load.during" &
	local lpid=$!
	sleep 0.5
	"$ASYNCSCOPE" record -p "$spid" -d 2 --json >"$WORK/load.report" 2>"$WORK/load.rerr" &
	local rpid=$!
	"$ASYNCSCOPE" inspect --json "$srv" >"$WORK/load.inspect"
	# while attached, every site inspect lists (hooks and I/O probes) is patched
	if wait_for "$WORK/load.rerr" 'attached to pid' 30 &&
		$PY "$E2E_ROOT/tests/e2e/sites_restored.py" --attached "$spid" "$WORK/load.inspect" \
			>"$WORK/load.sites-on"; then
		pass "load: $(tail -1 "$WORK/load.sites-on")"
	else
		fail "load: sites inspect lists not probed while attached:"
		sed 's/^/    /' "$WORK/load.sites-on"
	fi
	wait $rpid
	local rc=$?
	wait $lpid
	"$lg" --port "$port" --conns 4 --duration-ms 1500 >"$WORK/load.after" || true

	if [ $rc -ne 0 ]; then
		fail "load: record exited $rc: $(tail -1 "$WORK/load.rerr")"
	elif $PY - "$WORK/load.report" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]
polled = sum(t["polls"] for t in r["tasks"])
assert polled > 100, f"only {polled} polls traced under load"
assert s["events"]["dropped"] == 0, f"{s['events']['dropped']} events dropped"
assert any("late" in t["flags"] for t in r["tasks"]), "tasks alive before attach not marked late"
assert s["kernel"]["polls"] == polled, (s["kernel"]["polls"], polled)
print(f"  traced {len(r['tasks'])} tasks, {polled} polls while under load")
PYEOF
	then
		pass "load: attached to a loaded server and traced it"
	else
		fail "load: report under load is wrong"
	fi

	local left
	left=$(probes_left)
	if [ -z "$left" ]; then
		pass "load: no uprobe left after detach (uprobe_events and bpftool link)"
	else
		fail "load: probes left after detach: $left"
	fi
	if $PY "$E2E_ROOT/tests/e2e/sites_restored.py" "$spid" "$WORK/load.inspect" >"$WORK/load.sites"; then
		pass "load: $(tail -1 "$WORK/load.sites")"
	else
		fail "load: probed instructions not restored:"
		sed 's/^/    /' "$WORK/load.sites"
	fi

	kill -TERM "$spid"
	wait_exit "$spid" 20
	if $PY - "$WORK"/load.before "$WORK"/load.during "$WORK"/load.after <<'PYEOF'
import json, sys
runs = [json.loads(open(p).read().strip().splitlines()[-1]) for p in sys.argv[1:]]
for name, r in zip(("before", "during", "after"), runs):
    assert r["errors"] == 0, f"{name}: {r['errors']} bad responses"
    assert r["requests"] > 0, f"{name}: no requests"
b, d, a = (r["rps"] for r in runs)
print(f"  rps before {b:.0f}, while attaching and traced {d:.0f} ({d/b:.2f}x), after detach {a:.0f} ({a/b:.2f}x)")
PYEOF
	then
		pass "load: every response right before, during and after tracing"
	else
		fail "load: responses went wrong"
	fi
}
load_test
