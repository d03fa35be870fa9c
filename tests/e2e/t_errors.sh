# Bad input gets one clear line on stderr and a distinct exit code.
# Sourced by run.sh.

# expect_error LABEL CODE REGEX CMD...: exit code CODE, stderr one line matching REGEX
expect_error() {
	local label=$1 code=$2 re=$3
	shift 3
	"$@" >"$WORK/err.out" 2>"$WORK/err.err"
	local rc=$? lines
	lines=$(wc -l <"$WORK/err.err")
	if [ $rc -eq "$code" ] && [ "$lines" -eq 1 ] && grep -qE -e "$re" "$WORK/err.err"; then
		pass "error: $label (exit $rc: $(cat "$WORK/err.err"))"
	else
		fail "error: $label: exit $rc (want $code), $lines lines on stderr (want 1 matching /$re/):"
		sed 's/^/    /' "$WORK/err.err"
	fi
}

expect_error "no such pid" 4 'no such process: pid 999999' \
	"$ASYNCSCOPE" record -p 999999
expect_error "no privileges" 3 'permission denied: .*root' \
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$ASYNCSCOPE" record -p $$
expect_error "missing -p" 2 'record needs a process' "$ASYNCSCOPE" record
expect_error "bad pid" 2 "invalid PID 'abc'" "$ASYNCSCOPE" record -p abc
expect_error "bad duration" 2 "invalid duration 'soon'" "$ASYNCSCOPE" record -p 1 -d soon
expect_error "unknown command" 2 "unknown command 'frobnicate'" "$ASYNCSCOPE" frobnicate
expect_error "unknown hook" 2 "unknown hook 'nosuch'" \
	"$ASYNCSCOPE" record -p 999999 --hooks +nosuch

sleep 30 &
E2E_PIDS+=($!)
expect_error "process without tokio" 4 "pid $!.*no tokio" "$ASYNCSCOPE" record -p $!
kill $! 2>/dev/null

if [ -x "$TARGETS/target/release/mt.stripped" ]; then
	"$TARGETS/target/release/mt.stripped" --gate "$WORK/never" >/dev/null 2>&1 &
	E2E_PIDS+=($!)
	sleep 0.3
	expect_error "stripped binary" 4 "stripped binary.*not supported yet" "$ASYNCSCOPE" record -p $!
	kill $! 2>/dev/null
else
	fail "error: stripped binary: $TARGETS/target/release/mt.stripped not built"
fi

if [ -x "${E2E_OUTPUT:-$E2E_ROOT/.output}/fixtures/bad_layout" ]; then
	"${E2E_OUTPUT:-$E2E_ROOT/.output}/fixtures/bad_layout" --sleep >/dev/null 2>&1 &
	E2E_PIDS+=($!)
	sleep 0.2
	expect_error "unknown tokio layout" 4 "layout|vtable" "$ASYNCSCOPE" record -p $!
	kill $! 2>/dev/null
else
	fail "error: unknown tokio layout: .output/fixtures/bad_layout not built"
fi

touch "$WORK/exists"
expect_error "output exists" 5 "exists: use --force" \
	"$ASYNCSCOPE" record -p 999999 -o "$WORK/exists" --json

# recordings: missing, not one, damaged; the flight recorder's options and dump
expect_error "report: no such file" 5 "cannot open the recording '.*/nosuch.ast': No such file" \
	"$ASYNCSCOPE" report "$WORK/nosuch.ast"
expect_error "report: not a recording" 6 "not an asyncscope recording \(no 'ASTRACE' magic at byte 0\)" \
	"$ASYNCSCOPE" report /etc/hostname
expect_error "convert: no output" 2 "convert needs an output" "$ASYNCSCOPE" convert "$WORK/x.ast"
expect_error "convert: bad format" 2 "unknown format 'svg'" "$ASYNCSCOPE" convert x.ast -o y --to svg
expect_error "flight recorder: bad spec" 2 "flight-recorder" \
	"$ASYNCSCOPE" record -p 1 --flight-recorder 60
expect_error "flight recorder: too small" 2 "flight-recorder" \
	"$ASYNCSCOPE" record -p 1 --flight-recorder 10s,4K
expect_error "dump-dir without flight recorder" 2 "dump-dir needs --flight-recorder" \
	"$ASYNCSCOPE" record -p 1 --dump-dir /tmp
mkdir -p "$WORK/run-empty"
expect_error "dump: no recorder" 4 "no flight recorder is running" \
	env ASYNCSCOPE_RUN_DIR="$WORK/run-empty" "$ASYNCSCOPE" dump
expect_error "dump: no privileges" 3 "sudo" \
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$ASYNCSCOPE" dump
