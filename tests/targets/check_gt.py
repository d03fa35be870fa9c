#!/usr/bin/python3
"""Validate a target's stdout: exactly one ground-truth JSON line.

usage: mt | tests/targets/check_gt.py      (exit 1 with a message if invalid)
Checks: valid JSON, spawned == completed, poll_hist sums to the task and
poll counts, by_location sums to the async totals, one poll per blocking task.
"""
import json
import sys


def check(text):
    lines = text.splitlines()
    if len(lines) != 1:
        raise ValueError("expected exactly one stdout line, got %d" % len(lines))
    d = json.loads(lines[0])
    for k in ("async", "blocking"):
        if d["spawned"][k] != d["completed"][k]:
            raise ValueError("%s: spawned %d != completed %d" % (k, d["spawned"][k], d["completed"][k]))
        h = d["poll_hist"][k]
        if sum(h.values()) != d["spawned"][k]:
            raise ValueError("%s: poll_hist has %d tasks, spawned %d" % (k, sum(h.values()), d["spawned"][k]))
        if sum(int(p) * n for p, n in h.items()) != d["polls"][k]:
            raise ValueError("%s: poll_hist does not sum to polls" % k)
    if d["polls"]["blocking"] != d["spawned"]["blocking"]:
        raise ValueError("blocking: polls != tasks")
    for key, kind in (("by_location", "async"), ("blocking_by_location", "blocking")):
        locs = d[key]
        if sum(v["tasks"] for v in locs.values()) != d["spawned"][kind]:
            raise ValueError("%s: tasks do not sum to spawned.%s" % (key, kind))
        if sum(v["polls"] for v in locs.values()) != d["polls"][kind]:
            raise ValueError("%s: polls do not sum to polls.%s" % (key, kind))
    return d


if __name__ == "__main__":
    try:
        d = check(sys.stdin.read())
    except KeyError as e:
        print("check_gt: invalid ground truth: missing field %s" % e, file=sys.stderr)
        sys.exit(1)
    except (ValueError, TypeError) as e:
        print("check_gt: invalid ground truth: %s" % e, file=sys.stderr)
        sys.exit(1)
    print("ok %s: %d async tasks, %d polls; %d blocking" % (
        d["target"], d["spawned"]["async"], d["polls"]["async"], d["spawned"]["blocking"]))
