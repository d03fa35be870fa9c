#!/usr/bin/python3
"""Probes left behind: BPF links of asyncscope's programs that no live process
holds, and tracefs uprobe events.  A link lives as long as an fd refers to it,
so once a tracer has exited (or was killed) none of its links may remain;
links another live process holds belong to a tracer still running (a
benchmark, a parallel test) and are not reported.

usage: orphan_probes.py        prints one line per orphan; exit 1 if any
"""
import glob
import json
import re
import subprocess
import sys

# the programs of bpf/tokio.bpf.c (names truncated to 15 characters by the kernel)
OURS = re.compile(r"^(poll_enter|poll_exit|waker_op|task_op|spawn_loc|spawn_ret|spawn_blocking)")


def bpftool(*args):
    out = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True, check=True).stdout
    return json.loads(out or "[]")


def held_link_ids():
    ids = set()
    for path in glob.glob("/proc/[0-9]*/fdinfo/*"):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("link_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass  # the process or fd went away meanwhile
    return ids


def main():
    orphans = []
    try:
        with open("/sys/kernel/tracing/uprobe_events") as f:
            orphans += [f"tracefs uprobe event: {l.strip()}" for l in f if l.strip()]
    except OSError:
        pass
    progs = {p["id"]: p.get("name", "") for p in bpftool("prog", "list")}
    links = bpftool("link", "list")
    held = held_link_ids()
    for l in links:
        name = progs.get(l.get("prog_id"), "")
        if OURS.match(name) and l["id"] not in held:
            orphans.append(f"link {l['id']} (type {l.get('type')}, prog {l.get('prog_id')} {name}) held by no process")
    for o in orphans:
        print(o)
    sys.exit(1 if orphans else 0)


if __name__ == "__main__":
    main()
