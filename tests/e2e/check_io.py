#!/usr/bin/python3
"""Compare asyncscope's I/O report (record --json) with a target's ground truth.

usage: check_io.py echo|slowdep|wakes TRUTH_JSON REPORT_JSON
       check_io.py perfetto|chrome TRACE REPORT_JSON

echo:    every connection and client task of the echo target: the socket
         (resource) with its ports exists, that task is the one using it, and
         the task's bytes and operations in and out equal the target's, exactly.
slowdep: the handler tasks that queried the slow backend are exactly the ones
         whose top resource is the backend's address, each of their waits on
         it lies between the handler's query and its read of the answer and
         ends no sooner than the injected delay after the query, and no fast handler waited
         on it.
wakes:   every role task of the wakekinds target was woken only by the
         source its role produces, as many times as the target says.
perfetto: the trace `convert` wrote carries the report's socket operations
         (instants on each task's track: per task, the bytes in and out
         equal the report's) and wake sources (wake instants by source, the
         I/O ones with flows to the polls they caused).
Prints one line per check; exits 1 on any mismatch.
"""
import json
import sys

sys.dont_write_bytecode = True     # no __pycache__ left in the tree
from check_truth import load_truth  # noqa: E402

failures = []


def check(name, ok, detail):
    print(f"  {'ok  ' if ok else 'FAIL'} {name}: {detail}")
    if not ok:
        failures.append(name)


def common(rep):
    s = rep["summary"]
    check("events dropped", s["events"]["dropped"] == 0, f"{s['events']['dropped']}")
    check("io records malformed", rep["io"]["malformed"] == 0, f"{rep['io']['malformed']}")


def by_ports(rep):
    res = {}
    for r in rep["resources"]:
        res.setdefault((r["local_port"], r["peer_port"]), []).append(r)
    return res


def tasks_by_id(rep):
    return {t["id"]: t for t in rep["tasks"]}


def echo(truth, rep):
    common(rep)
    res = by_ports(rep)
    tasks = tasks_by_id(rep)
    want = truth["io"]["tasks"]
    check("tasks in the ground truth", len(want) > 0, f"{len(want)}")
    exact = 0
    for w in want:
        key = (w["local_port"], w["peer_port"])
        name = f"{w['role']} {key[0]}->{key[1]}"
        rs = res.get(key, [])
        if len(rs) != 1:
            check(name, False, f"{len(rs)} resources with these ports")
            continue
        r = rs[0]
        if len(r["tasks"]) != 1:
            check(name, False, f"used by tasks {r['tasks']}, expected one")
            continue
        io = tasks[r["tasks"][0]]["io"]
        got = (io["bytes_in"], io["bytes_out"], io["ops_in"], io["ops_out"])
        exp = (w["bytes_in"], w["bytes_out"], w["reads"], w["writes"])
        rgot = (r["bytes_in"], r["bytes_out"], r["ops_in"], r["ops_out"])
        if got == exp and rgot == exp:
            exact += 1
        else:
            check(name, False, f"task {r['tasks'][0]} (in, out, reads, writes) {got}, "
                  f"resource {rgot}, target {exp}")
    check("tasks whose bytes and operations in and out equal the target's", exact == len(want),
          f"{exact} of {len(want)} (bytes {sum(w['bytes_in'] + w['bytes_out'] for w in want)})")


def fmt_ms(ns):
    return f"{ns / 1e6:.2f}ms"


def slowdep(truth, rep):
    common(rep)
    t = truth["io"]
    backend = f"127.0.0.1:{t['backend_port']}"
    delay = t["delay_ms"] * 1e6
    res = {r["index"]: r for r in rep["resources"]}
    ports = by_ports(rep)
    # a handler task is known by its client connection
    handlers = {}
    for h in t["handlers"]:
        rs = ports.get((t["port"], h["peer_port"]), [])
        ids = [i for r in rs for i in r["tasks"]]
        if len(ids) != 1:
            check(f"handler for client port {h['peer_port']}", False, f"tasks {ids}")
            continue
        handlers[ids[0]] = h
    check("handler tasks found by their client socket", len(handlers) == len(t["handlers"]),
          f"{len(handlers)} of {len(t['handlers'])}")
    tasks = tasks_by_id(rep)

    def top_peer(task):
        top = task["io"]["top_resource"] if task.get("io") else None
        return None if top is None else res[top]["peer"]

    slow_want = sorted(i for i, h in handlers.items() if h["slow"])
    slow_got = sorted(i for i in tasks if top_peer(tasks[i]) == backend)
    check(f"tasks whose top resource is the slow peer {backend} are the slow handlers",
          slow_got == slow_want, f"{len(slow_got)} tasks, {len(slow_want)} slow handlers")
    # every wait of a slow handler on the backend that spans the delay
    waits = [op for op in rep["async_ops"] if op["kind"] == "io" and op["resource"] is not None
             and res[op["resource"]]["peer"] == backend]
    # a slow handler's last wait on the backend is for its answer (the one
    # before, if any, for the connection)
    last = {}
    for op in waits:
        if op["task_id"] not in last or op["end_ns"] > last[op["task_id"]]["end_ns"]:
            last[op["task_id"]] = op
    long_waits = list(last.values())
    durs = sorted(op["duration_ns"] for op in long_waits)
    # Exact bounds, on the tracer's own clock whatever the load: the wait
    # begins after the handler wrote its query and ends, with the wake, no
    # sooner than the backend's delay after that write and no later than the
    # handler's read of the answer.
    ex = {i: h for i, h in handlers.items() if h["slow"]}
    inside = [op for op in long_waits if op["task_id"] in ex and
              ex[op["task_id"]]["backend_sent_ns"] <= op["start_ns"] and
              ex[op["task_id"]]["backend_sent_ns"] + delay <= op["end_ns"] <= ex[op["task_id"]]["backend_read_ns"]]
    check(f"each wait on the slow peer lies between the query's write and the answer's read, "
          f"and ends at least the {t['delay_ms']} ms delay after the write",
          len(long_waits) == len(slow_want) and len(inside) == len(long_waits),
          f"{len(inside)} of {len(long_waits)} waits (one per slow request: {len(slow_want)}); "
          f"min {fmt_ms(durs[0]) if durs else '-'}, max {fmt_ms(durs[-1]) if durs else '-'}")
    check("the tasks that waited on the slow peer are the slow handlers",
          sorted(last) == slow_want, f"{len(last)} tasks")
    fast_on_backend = [op for op in waits if not handlers.get(op["task_id"], {"slow": True})["slow"]]
    check("no fast handler waited on the slow peer", not fast_on_backend, f"{len(fast_on_backend)}")
    # the resource view names the peer: one socket per slow request, with its waits
    br = [r for r in rep["resources"] if r["peer"] == backend]
    check("resources connected to the slow peer", len(br) == len(slow_want) and
          all(r["waits"] >= 1 for r in br),
          f"{len(br)} sockets, max waits {sorted(fmt_ms(r['wait_max_ns']) for r in br)[:3]}...")
    fast_io = sorted(tasks[i]["io"]["io_wait_max_ns"] for i, h in handlers.items() if not h["slow"])
    slow_io = sorted(tasks[i]["io"]["io_wait_max_ns"] for i, h in handlers.items() if h["slow"])
    check("slow handlers stand out: their longest I/O wait exceeds every fast handler's",
          bool(fast_io and slow_io) and slow_io[0] > fast_io[-1],
          f"slow min {fmt_ms(slow_io[0]) if slow_io else '-'}, fast max {fmt_ms(fast_io[-1]) if fast_io else '-'}")


def wakes(truth, rep):
    common(rep)
    by_loc = {}
    for t in rep["tasks"]:
        if t["location"]:
            by_loc.setdefault(t["location"], []).append(t)
    for role in truth["roles"]:
        ts = by_loc.get(role["location"], [])
        if len(ts) != 1:
            check(role["role"], False, f"{len(ts)} tasks at {role['location']}")
            continue
        t = ts[0]
        got = {k: v for k, v in t["io"]["wakes_by_source"].items() if v}
        want = {role["source"]: role["wakes"]}
        detail = f"task {t['id']}: traced {got}, target {want}"
        ok = got == want
        if ok and role.get("waker_location"):
            wakers = [w["task_id"] for w in t["io"]["wakers"]]
            wl = [x["location"] for x in rep["tasks"] if x["id"] in wakers]
            ok = wl == [role["waker_location"]]
            detail += f", woken by {wl}"
        if ok and role["source"] == "io":
            top = t["io"]["top_resource"]
            r = next((r for r in rep["resources"] if r["index"] == top), None)
            ok = r is not None and t["io"]["io_waits"] == role["wakes"]
            detail += f", {t['io']['io_waits']} I/O waits, on {r['proto'] + ' ' + str(r['local']) if r else None}"
        check(f"{role['role']} wakes", ok, detail)


class Instants:
    """Socket bytes per task and wakes per source, from a trace's instants."""

    def __init__(self):
        self.per_task = {}
        self.sources = {}

    def add(self, cat, name, args):
        if cat == "io" and "task" in args and "bytes" in args:
            io = self.per_task.setdefault(args["task"], [0, 0])
            io[0 if name == "recv" else 1] += args["bytes"]
        if cat == "wake" and "source" in args:
            self.sources[args["source"]] = self.sources.get(args["source"], 0) + 1

    def check(self, fmt, rep):
        want = {t["id"]: [t["io"]["bytes_in"], t["io"]["bytes_out"]] for t in rep["tasks"]
                if t.get("io") and (t["io"]["bytes_in"] or t["io"]["bytes_out"])}
        check(f"{fmt} socket instants: bytes in and out per task equal the report's",
              self.per_task == want,
              f"{len(self.per_task)} tasks, {sum(a + b for a, b in self.per_task.values())} bytes")
        want_src = {k: v for k, v in rep["io"]["wakes_by_source"].items() if v}
        check(f"{fmt} wake instants by source equal the report's", self.sources == want_src,
              f"{self.sources}")
        return want_src


def perfetto(trace_path, rep):
    sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.abspath(__file__)))
    import check_perfetto
    trace = check_perfetto.read_trace(trace_path)
    seen = Instants()
    io_flows = 0
    for uuid, evs in trace.events.items():
        for ts, _, typ, rec in evs:
            if typ != "TYPE_INSTANT":
                continue
            seen.add(rec["cat"], rec["name"], rec["anns"])
            io_flows += rec["anns"].get("source") == "io" and bool(rec["flows"])
    want_src = seen.check("Perfetto", rep)
    check("I/O wakes with a flow to the poll they caused", 0 < io_flows <= want_src.get("io", 0) and
          all(trace.flow_dst.get(fid) == 1 for evs in trace.events.values() for _, _, _, rec in evs
              if rec["anns"].get("source") == "io" for fid in rec["flows"]),
          f"{io_flows} of {want_src.get('io', 0)} I/O wakes lead to a poll")


def chrome(trace_path, rep):
    """The Chrome JSON trace carries the same socket instants and wake sources."""
    with open(trace_path) as f:
        events = json.load(f)["traceEvents"]
    seen = Instants()
    for ev in events:
        if ev.get("ph") == "i":
            seen.add(ev.get("cat"), ev.get("name"), ev.get("args", {}))
    seen.check("Chrome", rep)


def main():
    mode, truth_path, rep_path = sys.argv[1:4]
    if mode in ("perfetto", "chrome"):
        with open(rep_path) as f:
            (perfetto if mode == "perfetto" else chrome)(truth_path, json.load(f))
        if failures:
            print(f"check: {len(failures)} mismatches: {', '.join(failures)}")
            return 1
        return 0
    try:
        truth = load_truth(truth_path)
    except ValueError as e:
        sys.exit(f"check_io: {e}")
    with open(rep_path) as f:
        rep = json.load(f)
    if "resources" not in rep:
        print("  FAIL no I/O in the report (socket tracing unavailable?)")
        return 1
    {"echo": echo, "slowdep": slowdep, "wakes": wakes}[mode](truth, rep)
    if failures:
        print(f"check: {len(failures)} mismatches: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
