#!/usr/bin/python3
"""Compare asyncscope's JSON report with the ground truth a target printed.

usage: check_truth.py TRUTH_JSON REPORT_JSON [--no-locations]

Exact comparison: tasks spawned and completed by kind, the multiset of polls
per task by kind, and (unless --no-locations) tasks and polls per spawn
location.  Tasks that existed before the tracer attached (flag "late") must
not have been polled while traced.  Any dropped event or anomaly fails.
Prints one line per check; exits 1 on any mismatch.
"""
import collections
import json
import sys


def load_truth(path):
    """The last JSON line a target printed: its own counts (ValueError if none)."""
    with open(path) as f:
        lines = [l for l in f if l.strip().startswith("{")]
    if not lines:
        raise ValueError(f"no ground-truth JSON line in {path}")
    return json.loads(lines[-1])


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    no_loc = "--no-locations" in sys.argv
    try:
        truth = load_truth(args[0])
    except ValueError as e:
        sys.exit(f"check: {e}")
    with open(args[1]) as f:
        rep = json.load(f)

    failures = []

    def short(v):
        text = str(v)
        return text if len(text) <= 400 else text[:400] + f"... ({len(v)} items)"

    def check(name, got, want):
        ok = got == want
        print(f"  {'ok  ' if ok else 'FAIL'} {name}: traced {short(got)}, target {short(want)}")
        if not ok:
            failures.append(name)

    tasks = rep["tasks"]
    # spawned while traced: spawn hooked, or (spawn hooks inlined) id >= tokio's NEXT_ID at attach
    seen = [t for t in tasks if "spawn_seen" in t["flags"] or "spawn_inferred" in t["flags"]]
    late = [t for t in tasks if "late" in t["flags"]]
    for kind in ("async", "blocking"):
        mine = [t for t in seen if t["kind"] == kind]
        check(f"{kind} tasks spawned", len(mine), truth["spawned"][kind])
        check(f"{kind} tasks completed", sum(1 for t in mine if t["state"] == "done"),
              truth["completed"][kind])
        check(f"{kind} polls", sum(t["polls"] for t in mine), truth["polls"][kind])
        hist = collections.Counter(str(t["polls"]) for t in mine)
        want = {k: v for k, v in truth["poll_hist"].get(kind, {}).items() if v}
        check(f"{kind} polls-per-task histogram", dict(sorted(hist.items())),
              dict(sorted(want.items())))
    polled_late = [t["id"] for t in late if t["polls"]]
    check("pre-attach tasks polled while traced", polled_late, [])
    if not no_loc:
        by_loc = collections.defaultdict(lambda: {"tasks": 0, "polls": 0})
        for t in seen:
            if t["kind"] == "async":
                key = t["location"] or "?"
                by_loc[key]["tasks"] += 1
                by_loc[key]["polls"] += t["polls"]
        check("tasks and polls per spawn location", dict(sorted(by_loc.items())),
              dict(sorted(truth["by_location"].items())))
    s = rep["summary"]
    check("events dropped", s["events"]["dropped"], 0)
    anomalies = {k: v for k, v in s["anomalies"].items()
                 if v and k not in ("late_tasks",)}
    check("anomalies", anomalies, {})
    check("kernel poll count = correlated polls", s["kernel"]["polls"],
          sum(t["polls"] for t in tasks))
    # waker clones and drops: a record each, or folded into the poll record
    # of the task's own poll; either way every one the kernel counted is a task's
    check("kernel waker clones = clones over tasks", s["kernel"]["waker_clone"],
          sum(t["waker_clones"] for t in tasks))
    check("kernel waker drops = drops over tasks", s["kernel"]["waker_drop"],
          sum(t["waker_drops"] for t in tasks))
    if failures:
        print(f"check: {len(failures)} mismatches: {', '.join(failures)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
