#!/usr/bin/python3
"""Check a Perfetto trace written by `asyncscope convert` against a target's ground truth.

usage: check_perfetto.py TRACE.pftrace [TRUTH]

Decodes TRACE with protoc and asyncscope's schema (proto/perfetto_trace.proto,
Perfetto's field numbers):

    protoc --decode=perfetto.protos.Trace --proto_path=proto proto/perfetto_trace.proto

and checks that decoding succeeds, that interned names are defined before
use, that every slice that begins ends on its own track and none is left
open, and that flows pair up (each id leaves one event and ends at one).
With TRUTH (a file whose last line starting with "{" is the target's
ground-truth JSON, see tests/targets/src/gt.rs), the poll slices on thread
tracks, counted per task, must give the target's polls-per-task histogram
and poll totals, by kind; the kind and origin of each task come from the
first slice on its task track.  Tasks alive before tracing ("late") must
have no poll slice.

Prints one line: "check_perfetto: ok: ..." or the first reason it fails
(then exits 1).  Needs only python3 and protoc.
"""
import collections
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ left in the tree
from check_truth import load_truth  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTO_DIR = os.path.join(ROOT, "proto")
PROTO = os.path.join(PROTO_DIR, "perfetto_trace.proto")


class Failed(Exception):
    pass


def unescape(text):
    """A protobuf text-format string literal (quotes included) -> str."""
    body = text[1:-1]
    if "\\" not in body:
        return body
    out = bytearray()
    simple = {"n": 10, "r": 13, "t": 9, "\"": 34, "'": 39, "\\": 92, "a": 7, "b": 8,
              "f": 12, "v": 11, "?": 63}
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        n = body[i + 1]
        if n in simple:
            out.append(simple[n])
            i += 2
        elif n in "01234567":
            j = i + 1
            while j < len(body) and j < i + 4 and body[j] in "01234567":
                j += 1
            out.append(int(body[i + 1:j], 8) & 0xff)
            i = j
        elif n == "x":
            j = i + 2
            while j < len(body) and j < i + 4 and body[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(body[i + 2:j], 16))
            i = j
        else:
            raise Failed(f"bad escape in string {text!r}")
    return out.decode("utf-8", errors="replace")


def packets(stream):
    """Yields each top-level `packet { ... }` of protoc's text output as nested dicts
    (field name -> list of values); scalars stay text, see num() and text()."""
    stack = []
    for lineno, raw in enumerate(stream, 1):
        line = raw.strip()
        if not line:
            continue
        last = line[-1]
        if last == "}" and len(line) == 1:
            if not stack:
                raise Failed(f"protoc output line {lineno}: unbalanced '}}'")
            node = stack.pop()
            if not stack:
                yield node
        elif last == "{":
            key = line[:-2]
            node = {}
            if stack:
                vals = stack[-1].get(key)
                if vals is None:
                    stack[-1][key] = [node]
                else:
                    vals.append(node)
            elif key != "packet":
                raise Failed(f"protoc output line {lineno}: unexpected top-level field {key}")
            stack.append(node)
        else:
            i = line.find(": ")
            if i < 0 or not stack:
                raise Failed(f"protoc output line {lineno}: cannot parse {line[:80]!r}")
            key = line[:i]
            vals = stack[-1].get(key)
            if vals is None:
                stack[-1][key] = [line[i + 2:]]
            else:
                vals.append(line[i + 2:])
    if stack:
        raise Failed("protoc output ends inside a message")


def one(node, key, default=None):
    vals = node.get(key)
    return vals[0] if vals else default


def num(node, key, default=None):
    vals = node.get(key)
    return int(vals[0]) if vals else default


def text(node, key, default=None):
    vals = node.get(key)
    return unescape(vals[0]) if vals else default


def value(raw):
    """A debug annotation's value: a string, an int, or the text of anything else."""
    if raw.startswith("\""):
        return unescape(raw)
    try:
        return int(raw)
    except ValueError:
        return raw


class Trace:
    """What the checks need, gathered packet by packet."""

    def __init__(self):
        self.interned = collections.defaultdict(dict)   # (seq, table) -> {iid: name}
        self.tracks = {}        # uuid -> ("process"|"thread"|"task", descriptor)
        self.events = collections.defaultdict(list)     # track uuid -> [(ts, order, type, ev)]
        self.flow_src = collections.Counter()
        self.flow_dst = collections.Counter()
        self.packets = 0

    def intern(self, seq, data):
        for table, field in (("names", "event_names"), ("cats", "event_categories"),
                             ("anns", "debug_annotation_names")):
            for entry in data.get(field, []):
                iid = num(entry, "iid")
                known = self.interned[(seq, table)]
                if iid in known:
                    raise Failed(f"interned {table} iid {iid} defined twice on sequence {seq}")
                known[iid] = text(entry, "name", "")

    def lookup(self, seq, table, iid):
        try:
            return self.interned[(seq, table)][iid]
        except KeyError:
            raise Failed(f"interned {table} iid {iid} used before it is defined "
                         f"(packet {self.packets})") from None

    def track(self, td):
        uuid = num(td, "uuid")
        if not uuid:
            raise Failed(f"track descriptor without uuid (packet {self.packets})")
        if uuid in self.tracks:
            raise Failed(f"track uuid {uuid} described twice")
        kind = "process" if "process" in td else "thread" if "thread" in td else "task"
        self.tracks[uuid] = (kind, td)

    def event(self, seq, pkt, ev):
        ts = num(pkt, "timestamp")
        if ts is None:
            raise Failed(f"track event without timestamp (packet {self.packets})")
        name = text(ev, "name")
        if "name_iid" in ev:
            name = self.lookup(seq, "names", num(ev, "name_iid"))
        cats = [self.lookup(seq, "cats", int(c)) for c in ev.get("category_iids", ())]
        anns = {}
        for a in ev.get("debug_annotations", ()):
            key = text(a, "name")
            if "name_iid" in a:
                key = self.lookup(seq, "anns", num(a, "name_iid"))
            for vk in ("uint_value", "string_value", "int_value", "bool_value", "double_value"):
                if vk in a:
                    anns[key] = value(a[vk][0])
                    break
        for fid in ev.get("flow_ids", ()):
            self.flow_src[fid] += 1
        for fid in ev.get("terminating_flow_ids", ()):
            self.flow_dst[fid] += 1
        rec = {"name": name, "cat": cats[0] if cats else None, "anns": anns,
               "flows": list(ev.get("flow_ids", ()))}
        self.events[num(ev, "track_uuid", 0)].append(
            (ts, self.packets, one(ev, "type", "TYPE_UNSPECIFIED"), rec))

    def add(self, pkt):
        self.packets += 1
        seq = num(pkt, "trusted_packet_sequence_id", 0)
        if num(pkt, "sequence_flags", 0) & 1:
            for key in [k for k in self.interned if k[0] == seq]:
                del self.interned[key]
        for data in pkt.get("interned_data", []):
            self.intern(seq, data)
        for td in pkt.get("track_descriptor", []):
            self.track(td)
        for ev in pkt.get("track_event", []):
            self.event(seq, pkt, ev)


def read_trace(path):
    with open(path, "rb") as f:
        proc = subprocess.Popen(
            ["protoc", "--decode=perfetto.protos.Trace", f"--proto_path={PROTO_DIR}", PROTO],
            stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            errors="replace")
        trace = Trace()
        try:
            for pkt in packets(proc.stdout):
                trace.add(pkt)
        finally:
            proc.stdout.close()
            err = proc.stderr.read()
            rc = proc.wait()
    if rc != 0:
        first = err.strip().splitlines()[0] if err.strip() else f"exit {rc}"
        raise Failed(f"protoc --decode failed: {first}")
    if not trace.packets:
        raise Failed("the trace has no packets")
    return trace


def slices(trace, uuid):
    """[(begin event, end ts, depth)] of a track; fails on an unbalanced track."""
    events = sorted(trace.events.get(uuid, []), key=lambda e: (e[0], e[1]))
    out, stack = [], []
    for ts, _, typ, rec in events:
        if typ == "TYPE_SLICE_BEGIN":
            stack.append(len(out))
            out.append([rec, None, len(stack) - 1, ts])
        elif typ == "TYPE_SLICE_END":
            if not stack:
                raise Failed(f"track {uuid}: a slice ends at {ts} without having begun")
            out[stack.pop()][1] = ts
        elif typ != "TYPE_INSTANT":
            raise Failed(f"track {uuid}: unexpected event type {typ}")
    if stack:
        rec, _, _, ts = out[stack[-1]]
        raise Failed(f"track {uuid}: {len(stack)} slice(s) never end, "
                     f"the last '{rec['name']}' begun at {ts}")
    for rec, end, _, ts in out:
        if end < ts:
            raise Failed(f"track {uuid}: slice '{rec['name']}' ends before it begins")
    return out


def structure(trace):
    """Balance, flows; returns ({(pid, task): polls}, {(pid, task): (kind, origin)})."""
    for uuid in trace.events:
        if uuid not in trace.tracks:
            raise Failed(f"events on track {uuid}, which no descriptor defines")
    polls = collections.Counter()
    tasks = {}
    for uuid, (kind, td) in trace.tracks.items():
        sl = slices(trace, uuid)
        if kind == "thread":
            pid = num(one(td, "thread"), "pid")
            for rec, _, _, _ in sl:
                if rec["cat"] != "poll" or "task" not in rec["anns"]:
                    raise Failed(f"thread track {uuid}: slice '{rec['name']}' is not a poll")
                polls[(pid, rec["anns"]["task"])] += 1
        elif kind == "task":
            roots = [rec for rec, _, depth, _ in sl if depth == 0]
            if len(roots) != 1 or "task" not in roots[0]["anns"]:
                raise Failed(f"task track {uuid} ('{text(td, 'name')}'): "
                             f"{len(roots)} top-level slices, want one life")
            parent = trace.tracks.get(num(td, "parent_uuid"))
            if not parent or parent[0] != "process":
                raise Failed(f"task track {uuid}: its parent is not a process track")
            pid = num(one(parent[1], "process"), "pid")
            anns = roots[0]["anns"]
            tasks[(pid, anns["task"])] = (anns.get("kind", "?"), anns.get("origin", "?"))
    for fid, n in trace.flow_src.items():
        if n != 1 or trace.flow_dst.get(fid) != 1:
            raise Failed(f"flow {fid}: leaves {n} event(s), ends at {trace.flow_dst.get(fid, 0)}")
    for fid, n in trace.flow_dst.items():
        if fid not in trace.flow_src:
            raise Failed(f"flow {fid} ends at {n} event(s) but leaves none")
    return polls, tasks


def compare(truth, polls, tasks):
    """Poll slices per task against the target's histogram and totals, by kind."""
    for key in polls:
        if key not in tasks:
            raise Failed(f"poll slices of task {key[1]} (pid {key[0]}), which has no task track")
    late_polled = sorted(k[1] for k, (_, origin) in tasks.items()
                         if origin == "late" and polls.get(k))
    if late_polled:
        raise Failed(f"tasks alive before tracing have poll slices: {late_polled[:10]}")
    for kind in ("async", "blocking"):
        mine = [k for k, (kd, origin) in tasks.items() if kd == kind and origin != "late"]
        hist = collections.Counter(str(polls.get(k, 0)) for k in mine)
        want = {k: v for k, v in truth["poll_hist"].get(kind, {}).items() if v}
        if dict(hist) != want:
            raise Failed(f"{kind} polls-per-task histogram: trace {dict(sorted(hist.items()))}, "
                         f"target {dict(sorted(want.items()))}")
        total = sum(polls.get(k, 0) for k in mine)
        if total != truth["polls"][kind]:
            raise Failed(f"{kind} poll slices: trace {total}, target {truth['polls'][kind]}")
    unknown = sum(n for k, n in polls.items() if tasks[k][0] not in ("async", "blocking"))
    if unknown:
        raise Failed(f"{unknown} poll slices belong to tasks of unknown kind")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) not in (1, 2):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        sys.exit(2)
    try:
        trace = read_trace(args[0])
        polls, tasks = structure(trace)
        if len(args) == 2:
            compare(load_truth(args[1]), polls, tasks)
    except (Failed, OSError, ValueError, KeyError) as e:
        print(f"check_perfetto: FAIL: {e}")
        sys.exit(1)
    print(f"check_perfetto: ok: {trace.packets} packets, {sum(polls.values())} poll slices "
          f"over {len(polls)} tasks ({len(tasks)} task tracks), {len(trace.flow_src)} flows"
          + (", equal to the ground truth" if len(args) == 2 else ""))


if __name__ == "__main__":
    main()
