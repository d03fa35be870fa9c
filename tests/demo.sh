#!/usr/bin/env bash
# make demo: start the bundled tokio demo (tests/targets mt), attach
# asyncscope to it while it waits at its gate, let it run, print the table.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/tests/targets/target/release/mt

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: attaching uprobes needs root: run 'sudo make demo'" >&2
	exit 3
fi
work=$(mktemp -d /tmp/asyncscope-demo.XXXXXX)
tpid=
trap '[ -n "$tpid" ] && kill "$tpid" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

# a short run keeps the table readable: a few hundred tasks
"$bin" --gate "$work/go" --rounds 2 --scale 20 >"$work/truth" 2>"$work/err" &
tpid=$!
for _ in $(seq 200); do grep -q '^ready' "$work/err" && break; sleep 0.05; done
echo "demo: started the tokio demo '$bin' as pid $tpid; attaching" >&2
out=$root/.output/demo
mkdir -p "$out"
"$root/asyncscope" record -p "$tpid" -o "$out/demo.ast" --force 2>"$work/rerr" &
rpid=$!
for _ in $(seq 600); do grep -q 'attached to pid' "$work/rerr" && break; sleep 0.05; done
cat "$work/rerr" >&2
touch "$work/go"
wait "$rpid"
tpid=
echo >&2
echo "demo: the demo counted itself: $(cat "$work/truth")" >&2
"$root/asyncscope" convert "$out/demo.ast" -o "$out/demo.pftrace" --force
echo "demo: the recording is $out/demo.ast ('asyncscope report' reads it);" \
	"open $out/demo.pftrace in https://ui.perfetto.dev" >&2
