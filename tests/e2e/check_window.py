#!/usr/bin/python3
"""check_window.py REPORT.json DUMP.trace.json FULL.trace.json WINDOW_S

A flight-recorder dump against a whole recording of the same process taken
side by side (both as Chrome JSON from 'asyncscope convert'):
  - its report counts exactly the polls the dump holds;
  - it spans at most the window (plus one chunk and a drain);
  - every poll it holds is in the whole recording, and every poll the whole
    recording has inside the dump's span (20 ms in from each edge, where
    chunk boundaries cut) is in the dump.
The two tracers stamp the same poll from their own probes, microseconds
apart (more when a probe is preempted): a poll matches one of the same
thread and task starting or ending within 50 us of it.
Prints one line; exit 1 on the first failure."""
import json
import sys
import bisect
from collections import defaultdict

EDGE_NS = 20_000_000
MATCH_NS = 50_000
SLACK_NS = 300_000_000


def polls(path):
    out = set()
    for e in json.load(open(path))["traceEvents"]:
        # a poll still running at the dump is drawn, but not counted as a poll
        if e.get("ph") == "X" and e.get("cat") == "poll" and e["args"].get("result") != "Running":
            start = round(e["ts"] * 1000)
            end = start + round(e["dur"] * 1000)
            out.add((e["tid"], start, end, e["args"]["task"]))
    return out


def main():
    report = json.load(open(sys.argv[1]))
    dump, full = polls(sys.argv[2]), polls(sys.argv[3])
    window_ns = int(float(sys.argv[4]) * 1e9)
    if not dump:
        print("the dump holds no polls")
        return 1
    if report["summary"]["polls"] != len(dump):
        print(f"report counts {report['summary']['polls']} polls, the dump holds {len(dump)}")
        return 1
    lo = min(p[2] for p in dump)
    hi = max(p[2] for p in dump)
    if hi - lo > window_ns + SLACK_NS:
        print(f"the dump spans {(hi - lo) / 1e9:.3f} s, more than the {window_ns / 1e9:.1f} s window")
        return 1
    def by_key(ps, which):
        out = defaultdict(list)
        for p in ps:
            out[(p[0], p[3])].append(p[which])
        for v in out.values():
            v.sort()
        return out

    def near(v, t):
        i = bisect.bisect_left(v, t - MATCH_NS)
        return i < len(v) and v[i] <= t + MATCH_NS

    def unmatched(ps, other, a, b):
        """polls of ps ending in [a, b] with no poll of the same thread and
        task in other starting or ending within MATCH_NS of theirs"""
        starts, ends = by_key(other, 1), by_key(other, 2)
        bad = []
        for tid, start, end, task in ps:
            if a <= end <= b and not (near(starts.get((tid, task), []), start) or
                                      near(ends.get((tid, task), []), end)):
                bad.append((tid, task, end))
        return bad

    extra = unmatched(dump, full, 0, 2**63)
    if extra:
        print(f"{len(extra)} polls of the dump are not in the whole recording, e.g. "
              f"thread {extra[0][0]} task {extra[0][1]} ending at {extra[0][2]} ns")
        return 1
    missing = unmatched(full, dump, lo + EDGE_NS, hi - EDGE_NS)
    if missing:
        print(f"{len(missing)} polls of the whole recording inside the window are not in the dump, "
              f"e.g. thread {missing[0][0]} task {missing[0][1]} ending at {missing[0][2]} ns")
        return 1
    inside = sum(1 for p in full if lo + EDGE_NS <= p[2] <= hi - EDGE_NS)
    print(f"{len(dump)} polls over {(hi - lo) / 1e9:.3f} s, each in the whole recording; "
          f"all {inside} of its polls inside the window are in the dump; report agrees")
    return 0


if __name__ == "__main__":
    sys.exit(main())
