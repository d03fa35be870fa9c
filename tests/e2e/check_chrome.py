#!/usr/bin/python3
"""Check a Chrome trace-event JSON written by `asyncscope convert --to chrome-json`.

usage: check_chrome.py TRACE.json [TRUTH]

The file must load as JSON ({"traceEvents": [...]}); every event has a
phase, a pid and a numeric ts; complete events ("X") have dur >= 0; the
nestable async events of each task life ("b"/"e", one id per task) balance;
flows pair up ("s" and "f" once per id).  With TRUTH (see check_perfetto.py),
the "X" poll events counted per task must give the target's polls-per-task
histogram and poll totals, by kind (kind and origin from the "b" event that
opens each task's life).

Prints one line: "check_chrome: ok: ..." or the first reason it fails
(then exits 1).
"""
import collections
import json
import os
import sys

sys.dont_write_bytecode = True     # no __pycache__ left in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_perfetto import Failed, compare  # noqa: E402
from check_truth import load_truth  # noqa: E402


def check(events):
    """Returns ({(pid, task): polls}, {(pid, task): (kind, origin)}, flows)."""
    polls = collections.Counter()
    tasks = {}
    open_async = collections.defaultdict(list)
    flows = collections.defaultdict(lambda: [0, 0])
    for i, ev in enumerate(events):
        ph = ev.get("ph")
        if not isinstance(ph, str) or "pid" not in ev:
            raise Failed(f"event {i}: no phase or no pid")
        if ph != "M" and not isinstance(ev.get("ts"), (int, float)):
            raise Failed(f"event {i} ({ph}): no numeric ts")
        if ph in ("B", "E"):
            raise Failed(f"event {i}: B/E events, where polls are X and lives b/e")
        if ph == "X":
            if not isinstance(ev.get("dur"), (int, float)) or ev["dur"] < 0:
                raise Failed(f"event {i}: X without a valid dur")
            task = ev.get("args", {}).get("task")
            if ev.get("cat") != "poll" or task is None:
                raise Failed(f"event {i}: X event that is not a poll of a task")
            polls[(ev["pid"], task)] += 1
        elif ph in ("b", "e"):
            key = (ev["pid"], ev.get("cat"), json.dumps(ev.get("id2", ev.get("id"))))
            stack = open_async[key]
            if ph == "b":
                stack.append(ev)
                args = ev.get("args", {})
                if len(stack) == 1:
                    if "task" not in args:
                        raise Failed(f"event {i}: a task life opens without its task id")
                    tasks[(ev["pid"], args["task"])] = (args.get("kind", "?"),
                                                        args.get("origin", "?"))
            else:
                if not stack:
                    raise Failed(f"event {i}: async end of {key} without a begin")
                if stack[-1].get("name") != ev.get("name"):
                    raise Failed(f"event {i}: async end '{ev.get('name')}' closes "
                                 f"'{stack[-1].get('name')}'")
                if ev["ts"] < stack[-1]["ts"]:
                    raise Failed(f"event {i}: async '{ev.get('name')}' ends before it begins")
                stack.pop()
        elif ph in ("s", "f"):
            flows[(ev.get("cat"), ev.get("name"), ev.get("id"))][ph == "f"] += 1
    for key, stack in open_async.items():
        if stack:
            raise Failed(f"async {key}: '{stack[-1].get('name')}' never ends")
    for key, (starts, ends) in flows.items():
        if starts != 1 or ends != 1:
            raise Failed(f"flow {key}: {starts} start(s), {ends} end(s)")
    return polls, tasks, len(flows)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) not in (1, 2):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        sys.exit(2)
    try:
        with open(args[0]) as f:
            doc = json.load(f)
        if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
            raise Failed("no traceEvents array")
        if doc.get("displayTimeUnit") != "ns":
            raise Failed("displayTimeUnit is not ns")
        polls, tasks, nflows = check(doc["traceEvents"])
        if len(args) == 2:
            compare(load_truth(args[1]), polls, tasks)
    except (Failed, OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        print(f"check_chrome: FAIL: {e}")
        sys.exit(1)
    print(f"check_chrome: ok: {len(doc['traceEvents'])} events, {sum(polls.values())} polls "
          f"over {len(polls)} tasks ({len(tasks)} task lives), {nflows} flows"
          + (", equal to the ground truth" if len(args) == 2 else ""))


if __name__ == "__main__":
    main()
