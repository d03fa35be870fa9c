#!/usr/bin/python3
"""same_report.py LIVE.json REPLAY.json: the two JSON reports are equal,
field by field; prints what differs first, or a one-line summary."""
import json
import sys


def diff(a, b, path="$"):
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: only in {'live' if k in a else 'replay'}"
            d = diff(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = diff(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"


def main():
    live = json.load(open(sys.argv[1]))
    replay = json.load(open(sys.argv[2]))
    d = diff(live, replay)
    if d:
        print(d)
        return 1
    s = live["summary"]
    print(f"{s['tasks']} tasks, {s['polls']} polls, identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
