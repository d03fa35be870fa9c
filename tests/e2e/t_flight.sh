# The flight recorder under sustained load: memory stays within its bound,
# 'asyncscope dump' and SIGUSR1 write the last window without stopping the
# recording, and a dump holds exactly the window's events (checked against
# a whole recording of the same process taken side by side).  Sourced by run.sh.

# vm KEY PID: a /proc/PID/status value in KiB
vm() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$2/status"; }

flight_test() {
	local srv=$TARGETS/target/release/hyperserver lg=$TARGETS/target/release/loadgen
	local limit_mib=4 window_s=1 dumps=$WORK/dumps
	if [ ! -x "$srv" ] || [ ! -x "$lg" ]; then
		fail "flight: targets not built (make targets)"
		return
	fi
	mkdir -p "$dumps"
	start_gated flight "$srv" --port 0 --workers 2 --until-killed || { fail "flight: server did not start"; return; }
	local spid=$TPID port=$TPORT
	touch "$WORK/flight.go"

	# A: the whole trace, to compare the window with
	# task events only (--no-io): the window and the whole trace are compared poll by poll
	attach flight-full "$spid" --no-io -o "$WORK/flight-full.ast" || { fail "flight: whole recorder did not attach"; return; }
	local apid=$RPID
	# B: the flight recorder; a small ring buffer (2 MiB) so that its pages do not blur the memory figure
	attach flight-fr "$spid" --no-io --flight-recorder "${window_s}s,${limit_mib}MiB" --dump-dir "$dumps" \
		--ringbuf-size 2M -o "$WORK/flight-last.ast" || { fail "flight: flight recorder did not attach"; return; }
	local bpid=$RPID base_kib
	# the peak from here on: attaching (reading the binary) has its own
	echo 5 >"/proc/$bpid/clear_refs"
	base_kib=$(vm VmRSS "$bpid")

	"$lg" --port "$port" --conns 8 --duration-ms 8000 >"$WORK/flight.load" &
	local lpid=$!
	sleep 3
	"$ASYNCSCOPE" dump >"$WORK/flight.dump1" 2>"$WORK/flight.dump1.err"
	local drc=$?
	sleep 1
	kill -USR1 "$bpid"
	wait_for "$WORK/flight-fr.report" '\.ast$' 10
	wait $lpid
	local hwm_kib
	hwm_kib=$(vm VmHWM "$bpid")
	kill -INT "$bpid" "$apid"
	wait_exit "$bpid" 60 && wait_exit "$apid" 60 || { fail "flight: recorders did not stop"; return; }
	wait "$bpid"
	local brc=$?
	wait "$apid"
	local arc=$?
	kill -TERM "$spid"
	wait_exit "$spid" 30

	if [ $drc -ne 0 ] || [ "$(wc -l <"$WORK/flight.dump1")" -ne 1 ]; then
		fail "flight: 'asyncscope dump' exited $drc: $(cat "$WORK/flight.dump1.err")"
		return
	fi
	local d1 d2
	d1=$(cat "$WORK/flight.dump1")
	d2=$(grep '\.ast$' "$WORK/flight-fr.report" | head -1)
	if [ $brc -ne 0 ] || [ $arc -ne 0 ]; then
		fail "flight: recorders exited $brc/$arc: $(tail -1 "$WORK/flight-fr.rerr") / $(tail -1 "$WORK/flight-full.rerr")"
		return
	fi
	if [ -f "$d1" ] && [ -f "$d2" ] && [ "$(stat -c %a "$d1")" = 600 ] && [ "$d1" != "$d2" ]; then
		pass "flight: 'asyncscope dump' and SIGUSR1 each wrote a new 0600 file without stopping ($(basename "$d1"), $(basename "$d2"))"
	else
		fail "flight: dumps missing or not 0600: '$d1' '$d2'"
		return
	fi

	# memory: the recorder's peak stays within the window's bound, after a load
	# that wrote many times the bound
	local full_bytes grew_kib
	full_bytes=$(stat -c %s "$WORK/flight-full.ast")
	grew_kib=$((hwm_kib - base_kib))
	if [ "$full_bytes" -lt $((3 * limit_mib * 1048576)) ]; then
		fail "flight: the load recorded only $full_bytes bytes: too little to test a ${limit_mib} MiB bound"
	elif [ "$grew_kib" -le $(((limit_mib + 5) * 1024)) ]; then
		pass "flight: peak memory grew $grew_kib KiB over ${limit_mib} MiB of window while $((full_bytes / 1048576)) MiB were recorded"
	else
		# + the ring buffer's 2 MiB of pages, + ~1 MiB of chunk being built and packed
		fail "flight: peak memory grew $grew_kib KiB, over the ${limit_mib} MiB window + 5 MiB"
	fi
	if grep -qE 'held [0-9]+ chunks, [0-9]+ of [0-9]+ bytes \(peak [0-9]+\); [1-9][0-9]* chunks left the window' \
		"$WORK/flight-fr.rerr"; then
		pass "flight: $(grep -oE 'held .*dumps' "$WORK/flight-fr.rerr")"
	else
		fail "flight: no summary with evicted chunks: $(grep flight "$WORK/flight-fr.rerr" | tail -1)"
	fi

	# a dump is the last window, and exactly the events the whole recording has then
	for d in "$d1" "$WORK/flight-last.ast"; do
		if ! "$ASYNCSCOPE" report "$d" --json >"$d.json" 2>"$d.err"; then
			fail "flight: report of $(basename "$d") failed: $(tail -1 "$d.err")"
			continue
		fi
		if ! "$ASYNCSCOPE" convert "$d" -o "$d.trace.json" 2>>"$d.err"; then
			fail "flight: convert of $(basename "$d") failed: $(tail -1 "$d.err")"
			continue
		fi
		[ -f "$WORK/flight-full.trace.json" ] ||
			"$ASYNCSCOPE" convert "$WORK/flight-full.ast" -o "$WORK/flight-full.trace.json" 2>/dev/null
		if $PY "$E2E_ROOT/tests/e2e/check_window.py" "$d.json" "$d.trace.json" \
			"$WORK/flight-full.trace.json" "$window_s" >"$d.check" 2>&1; then
			pass "flight: $(basename "$d"): $(tail -1 "$d.check")"
		else
			fail "flight: $(basename "$d"): $(tail -1 "$d.check")"
		fi
	done
}

flight_test
