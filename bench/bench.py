#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""make bench: what tracing costs the traced service, and how close to the
limit asyncscope is.  Runs every benchmark of bench/README.md and writes
BENCHMARKS.md.

Every figure is a ratio or a difference measured in this one run:
configurations alternate (A B C D, then D C B A, ...), each is repeated and
the median is reported.  Nothing here asserts a timing; a check that fails
is about behaviour (a probe that did not fire as often as the program ran,
a bad HTTP response, a record the correlator could not read) and makes the
exit status 1.  Events lost to a full ring buffer are noted, not failed:
on a busy machine the tracer's drain can be late.

Environment (set by bench/bench.mk): ASYNCSCOPE (the CLI), BENCH_OUTPUT (the
build tree holding bench/*), BENCH_QUICK=1 (short runs for development),
BENCH_MD (where to write the report), BENCH_ONLY (comma list of sections:
service, poll, pipeline, attach, flight, probe_cost), BENCH_CANDIDATE (the
path of another asyncscope build, measured alongside in service and poll).
"""

import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASYNCSCOPE = os.environ.get("ASYNCSCOPE") or os.path.join(ROOT, "asyncscope")
OUT = os.environ.get("BENCH_OUTPUT") or os.path.join(ROOT, ".output")
QUICK = os.environ.get("BENCH_QUICK", "0") not in ("", "0")
MD = os.environ.get("BENCH_MD") or os.path.join(ROOT, "BENCHMARKS.md")
ONLY = [s for s in os.environ.get("BENCH_ONLY", "").split(",") if s]
TARGETS = os.path.join(ROOT, "bench", "targets")
BARE_PROBES = os.path.join(OUT, "bench", "bare_probes")
PIPELINE = os.path.join(OUT, "bench", "pipeline")
TASK_MEM = os.path.join(OUT, "bench", "task_mem")

NCPU = os.cpu_count() or 1
# the traced service gets a core of its own; load generator and tracer share the other
SERVICE_CPU = NCPU - 1
LOAD_CPU = 0
TRACER_CPU = 0

# how much of each benchmark: (full, quick)
REPS = 2 if QUICK else 6
WRK_SECONDS = 2 if QUICK else 3          # whole seconds: wrk -d takes no fractions
WRK_CONNS = 16
YIELDS = 300 if QUICK else 1000
YIELD_TASKS = 100
POLL_ROUNDS = 3
PIPE_RECORDS = 1000000 if QUICK else 2000000
PIPE_RATES = [2e6, 5e6, 8e6, 0] if QUICK else [2e6, 4e6, 5e6, 6e6, 8e6, 0]
PIPE_REPS = 1 if QUICK else 3
PIPE_SECONDS = 1.0 if QUICK else 2.0
MEM_TASKS = 200000 if QUICK else 1000000
# the pipeline's consumer at SCHED_FIFO: what it can do on a core, not when the scheduler lets it
PIPE_FIFO = 10
# drops with asyncscope's 16 MiB ring come from drains that run late; a larger ring absorbs them
PIPE_BIG_RING = 64 << 20
PIPE_BIG_RING_RATES = [] if QUICK else [5e6, 6e6, 8e6]

failures: List[str] = []
notes: List[str] = []


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def check(ok: bool, what: str) -> bool:
    """A behaviour check (never a timing): a failure makes the exit status 1."""
    if not ok:
        failures.append(what)
        log(f"CHECK FAILED: {what}")
    return ok


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec=".2f", none="-"):
    return none if x is None else format(x, spec)


def pinned(cpu: int, argv: List[str]) -> List[str]:
    return ["taskset", "-c", str(cpu)] + argv


class Work:
    """A scratch directory for the logs of the processes we start."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="asyncscope-bench.")
        self.n = 0

    def path(self, name: str) -> str:
        self.n += 1
        return os.path.join(self.dir, f"{self.n:04d}-{name}")


WORK = Work()

AUTOGROUP_NICE = -20


def own_session() -> str:
    """Puts this harness, and so everything it starts, in a session of its own
    and raises that session's CPU weight: the kernel shares CPU time between
    sessions (autogroups) first, whatever the nice values inside them, so
    without this another user's busy process takes half of the core under
    measurement.  Returns what was done, for the report."""
    try:
        os.setsid()
    except OSError:
        pass                                    # a session leader already
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(AUTOGROUP_NICE))
        return f"own session, autogroup nice {AUTOGROUP_NICE}"
    except OSError as e:
        return f"own session (autogroup nice not set: {e.strerror})"


PF_KTHREAD = 0x00200000


def foreign_ticks() -> Dict[int, int]:
    """CPU time (clock ticks) used so far by each user process outside our session."""
    ticks, sid = {}, os.getsid(0)
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            st = open(f"/proc/{p}/stat").read()
        except OSError:
            continue
        f = st.rsplit(")", 1)[1].split()
        if int(f[6]) & PF_KTHREAD or int(f[3]) == sid:
            continue
        ticks[int(p)] = int(f[11]) + int(f[12])
    return ticks


class Foreign:
    """Share of the machine (all CPUs) that other users' processes took during a measurement."""

    def __init__(self):
        self.t0, self.c0 = time.monotonic(), foreign_ticks()

    def share(self) -> Optional[float]:
        wall = time.monotonic() - self.t0
        if wall < 0.5:                          # clock ticks are 10 ms: too short to say
            return None
        now = foreign_ticks()
        # processes gone meanwhile are not counted: an underestimate, never negative
        used = sum(c - self.c0.get(pid, 0) for pid, c in now.items() if c >= self.c0.get(pid, 0))
        return used / os.sysconf("SC_CLK_TCK") / (wall * NCPU)


def wait_line(path: str, pattern: str, proc: subprocess.Popen, timeout: float) -> Optional[re.Match]:
    """Waits until a line of the file matches pattern (or the process dies)."""
    rx = re.compile(pattern)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with open(path, errors="replace") as f:
            for line in f:
                m = rx.search(line)
                if m:
                    return m
        if exited(proc):
            return None
        time.sleep(0.002)
    return None


def exited(proc: subprocess.Popen) -> bool:
    """Whether proc has exited, without reaping it (stop() wants its rusage)."""
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


@dataclass
class Proc:
    """A process we started, its output files, and its ready-line match."""
    p: subprocess.Popen
    out: str
    err: str
    t0: float
    ready_s: float = 0.0
    match: Optional[re.Match] = None
    stdin: Optional[object] = None

    def stop(self, sig=signal.SIGINT, timeout=600.0) -> dict:
        """Signals, reaps with wait4 for the CPU time and peak RSS it used."""
        t = time.monotonic()
        if self.p.returncode is not None:       # reaped already (by poll())
            return {"rc": self.p.returncode, "cpu_s": None, "maxrss_kib": None, "stop_s": 0.0}
        hwm = vm_hwm_kib(self.p.pid)
        try:
            os.kill(self.p.pid, sig)        # not Popen.send_signal: it reaps
        except ProcessLookupError:
            pass
        end = t + timeout
        while True:
            pid, status, ru = os.wait4(self.p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > end:
                self.p.kill()
                pid, status, ru = os.wait4(self.p.pid, 0)
                break
            time.sleep(0.002)
        self.p.returncode = os.waitstatus_to_exitcode(status)
        # not ru_maxrss: it also holds the peak of the forked harness before exec
        return {"rc": self.p.returncode, "cpu_s": ru.ru_utime + ru.ru_stime,
                "maxrss_kib": hwm, "stop_s": time.monotonic() - t}


def vm_hwm_kib(pid: int) -> Optional[int]:
    """Peak resident set of pid's current program (VmHWM)."""
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def start(argv: List[str], name: str, ready: str, timeout=30.0, stdin=False) -> Proc:
    out, err = WORK.path(name + ".out"), WORK.path(name + ".err")
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=open(out, "w"), stderr=open(err, "w"),
                         stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, text=True)
    pr = Proc(p, out, err, t0, stdin=p.stdin)
    pr.match = wait_line(err, ready, p, timeout)
    pr.ready_s = time.monotonic() - t0
    if not pr.match:
        tail = open(err, errors="replace").read()[-400:]
        if not exited(p):
            p.kill()
        p.wait()
        raise RuntimeError(f"{name}: no '{ready}' line within {timeout}s: {tail.strip()}")
    return pr


# ---------------------------------------------------------------- tracers

@dataclass
class Tracer:
    """Something that attaches to a running process and is stopped with SIGINT.

    argv(pid, work) gives the command; ready is the stderr line that says its
    probes are live; result(proc, stop_info) turns what it left into a dict
    with at least "events" (records it received, when it counts them)."""
    name: str
    argv: Callable[[int, str], List[str]]
    ready: str
    result: Callable[["Proc", dict, str], dict]

    def attach(self, pid: int) -> "Attached":
        report = WORK.path(self.name.replace(" ", "_") + ".json")
        pr = start(pinned(TRACER_CPU, self.argv(pid, report)), self.name.replace(" ", "_"),
                   self.ready, timeout=60)
        return Attached(self, pr, report)


@dataclass
class Attached:
    tracer: Tracer
    proc: Proc
    report: str

    def detach(self) -> dict:
        info = self.proc.stop()
        res = self.tracer.result(self.proc, info, self.report)
        res.update(info)
        check(info["rc"] == 0, f"{self.tracer.name} exited {info['rc']}: "
              f"{open(self.proc.err, errors='replace').read()[-300:].strip()}")
        return res


def asyncscope_result(pr: Proc, info: dict, report: str) -> dict:
    try:
        r = json.load(open(pr.out))             # --json: the report on stdout
    except (OSError, ValueError) as e:
        check(False, f"asyncscope report {pr.out} unreadable: {e}")
        return {"events": 0}
    s = r["summary"]
    return {"events": s["events"]["received"], "dropped": s["events"]["dropped"],
            "kernel": s["kernel"], "tasks": len(r.get("tasks", [])),
            "probes": probes_from(pr.err)}


def probes_from(err_path: str) -> Optional[int]:
    m = re.search(r"(\d+) probes", open(err_path, errors="replace").read())
    return int(m.group(1)) if m else None


def asyncscope_record(*extra: str, cli: str = ASYNCSCOPE) -> Tracer:
    """`asyncscope record` with extra options (a mode, --hooks ...)."""
    name = "asyncscope " + " ".join(extra) if extra else "asyncscope"
    return Tracer(name,
                  lambda pid, out: [cli, "record", "-p", str(pid), "--json", *extra],
                  r"attached to pid", asyncscope_result)


def bare_result(pr: Proc, info: dict, report: str) -> dict:
    try:
        r = json.loads(open(pr.out).read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError) as e:
        check(False, f"bare_probes printed no hit counts: {e}")
        return {}
    return {"hits": r["hits"], "probes": r["probes"], "mode": r["mode"]}


def bare_probes(*extra: str) -> Tracer:
    """Counting probes on exactly asyncscope's sites: the kernel's floor."""
    return Tracer("bare probes " + " ".join(extra) if extra else "bare probes",
                  lambda pid, out: [BARE_PROBES, "-p", str(pid), *extra],
                  r"bare_probes: attached", bare_result)


ASYNCSCOPE_EXACT = asyncscope_record()
BARE = bare_probes()


class Bystander:
    """An idle tokio server that a tracer traces instead of the measured one:
    what tracing one process costs the others on the machine (the socket and
    system-call tracepoints fire for every process, and return at their
    first check for untraced ones)."""
    proc: Optional["Proc"] = None

    @classmethod
    def pid(cls) -> int:
        if cls.proc is None:
            cls.proc = start(pinned(LOAD_CPU, [SERVERS["plain"], "--port", "0", "--workers", "1"]),
                             "bystander", r"ready pid=(\d+)")
        return int(cls.proc.match.group(1))

    @classmethod
    def stop(cls) -> None:
        if cls.proc is not None:
            cls.proc.stop(signal.SIGTERM)
            cls.proc = None


ASYNCSCOPE_OTHER = Tracer("asyncscope on another process",
                          lambda pid, out: [ASYNCSCOPE, "record", "-p", str(Bystander.pid()), "--json"],
                          r"attached to pid", asyncscope_result)


@dataclass
class Config:
    """One configuration of the service benchmark: which server binary
    ("plain" or "tokio-instrumented") and which tracer, if any."""
    name: str
    server: str
    tracer: Optional[Tracer] = None


OTHER_PROCESS = "untraced, asyncscope tracing another process"

# Adding a configuration (a sampling mode, say) is one line here.
SERVICE_CONFIGS = [
    Config("untraced", "plain"),
    Config(OTHER_PROCESS, "plain", ASYNCSCOPE_OTHER),
    Config("bare probes (kernel floor)", "plain", BARE),
    Config("asyncscope exact (default)", "plain", ASYNCSCOPE_EXACT),
    Config("tokio instrumentation + stats layer", "tokio-instrumented"),
    # Config("asyncscope sampled 1/16", "plain", asyncscope_record("--sample", "16")),
]
def record_has(option: str) -> bool:
    try:
        return option in subprocess.run([ASYNCSCOPE, "record", "--help"], capture_output=True,
                                        text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False


# record's default traces sockets, waits and wake sources too where it can; tasks
# alone are what the kernel floor's probes cover (the same sites)
TASKS_ONLY = "asyncscope exact, tasks only (--no-io)"
HAS_NO_IO = record_has("--no-io")
# and one trap fewer per request, at the price of the waker clone and drop counts
NO_CLONES = "asyncscope, tasks only, no waker clone/drop probes"
if HAS_NO_IO:
    SERVICE_CONFIGS[4:4] = [
        Config(TASKS_ONLY, "plain", asyncscope_record("--no-io")),
        Config(NO_CLONES, "plain", asyncscope_record("--no-io", "--hooks", "default,-clone_waker,-drop_waker")),
    ]

SERVERS = {
    "plain": os.path.join(TARGETS, "target", "release", "benchserver"),
    "tokio-instrumented": os.path.join(TARGETS, "target-console", "release", "benchserver"),
}
SERVICE_VARIANTS = [("hello world", 0), ("50 us of work per request", 50)]

POLL_CONFIGS = [
    Config("untraced", "yielder"),
    Config("bare probes (kernel floor)", "yielder", BARE),
    Config("bare probes, perf-event links", "yielder", bare_probes("--perf")),
    Config("asyncscope exact (default)", "yielder", ASYNCSCOPE_EXACT),
]
if HAS_NO_IO:
    POLL_CONFIGS.append(Config(TASKS_ONLY, "yielder", asyncscope_record("--no-io")))

# BENCH_CANDIDATE=/path/to/asyncscope: another build measured in the same run
# as this one (service and per-poll sections), to judge a change by ratios
CANDIDATE = os.environ.get("BENCH_CANDIDATE")
if CANDIDATE:
    for configs, server in ((SERVICE_CONFIGS, "plain"), (POLL_CONFIGS, "yielder")):
        configs.append(Config("candidate build (default)", server,
                              asyncscope_record(cli=CANDIDATE)))
        configs.append(Config("candidate build (--no-io)", server,
                              asyncscope_record("--no-io", cli=CANDIDATE)))


def alternating(configs: list, rep: int) -> list:
    """A B C D, D C B A, A B C D, ...: drift hits every configuration alike."""
    return list(configs) if rep % 2 == 0 else list(reversed(configs))


# ---------------------------------------------------------------- 1. service

UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of pid so far, uprobe handling included (schedstat: ns)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(open(f"/proc/{pid}/task/{tid}/schedstat").read().split()[0])
        except (OSError, ValueError, IndexError):
            pass                                # a thread that just exited
    return total / 1e9


def wrk(port: int, seconds: float, server_pid: Optional[int] = None, path: str = "/") -> dict:
    argv = pinned(LOAD_CPU, ["wrk", "-t1", f"-c{WRK_CONNS}", f"-d{seconds}s", "--latency",
                             f"http://127.0.0.1:{port}{path}"])
    c0 = cpu_seconds(server_pid) if server_pid else None
    fg = Foreign()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30).stdout
    cpu = cpu_seconds(server_pid) - c0 if server_pid else None
    foreign = fg.share()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    total = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, sock.groups())) if sock else 0)
    if not (rps and p99 and total):
        check(False, f"wrk output not understood: {out[-300:]}")
        return {"rps": None, "p99_ms": None, "requests": 0, "errors": errors, "foreign": foreign,
                "cpu_us_per_req": None}
    reqs = int(total.group(1))
    return {"rps": float(rps.group(1)), "p99_ms": float(p99.group(1)) * UNIT[p99.group(2)],
            "requests": reqs, "errors": errors, "foreign": foreign,
            "cpu_us_per_req": cpu * 1e6 / reqs if cpu is not None and reqs else None}


def start_server(kind: str, work_us: int, rounds: Optional[int] = None) -> Proc:
    work = ["--work-rounds", str(rounds)] if rounds is not None else ["--work-us", str(work_us)]
    return start(pinned(SERVICE_CPU, [SERVERS[kind], "--port", "0", "--workers", "1", *work]),
                 f"server-{kind}-{work_us}", r"ready pid=(\d+) port=(\d+) work_rounds=(\d+)")


def server_stats(port: int) -> dict:
    out = subprocess.run(["curl", "-s", "--max-time", "5", f"http://127.0.0.1:{port}/stats"],
                         capture_output=True, text=True).stdout
    try:
        return json.loads(out)
    except ValueError:
        return {}


# The BPF programs whose run time is attributed (bpf_stats): asyncscope's and bare_probes'.
TRACER_PROGS = {
    "poll_enter": "uprobe, raw::poll entry", "poll_exit": "uretprobe, raw::poll return",
    "waker_op": "uprobe, waker clone/drop/wake", "task_op": "uprobe, complete/shutdown/schedule",
    "spawn_loc": "uprobe, spawn_inner entry", "spawn_ret": "uretprobe, spawn return",
    "spawn_blocking": "uprobe, blocking spawn",
    "sock_send": "tracepoint (tp_btf), every sendmsg on the machine",
    "sock_recv": "tracepoint (tp_btf), every recvmsg on the machine",
    "sys_exit_connect": "syscall tracepoint", "sys_exit_accept4": "syscall tracepoint",
    "sys_exit_accept": "syscall tracepoint", "sys_enter_close": "syscall tracepoint",
    "sys_exit_epoll_wait": "syscall tracepoint", "sys_exit_epoll_pwait": "syscall tracepoint",
    "sys_exit_epoll_pwait2": "syscall tracepoint", "rt_phase": "uprobe, tokio driver phase",
    "bare_entry": "uprobe, counts only", "bare_ret": "uretprobe, counts only",
}
STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"


def prog_stats() -> Dict[int, dict]:
    """run_cnt and run_time_ns of the loaded programs named in TRACER_PROGS, by id."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True).stdout
    return {p["id"]: p for p in json.loads(out or "[]") if p.get("name") in TRACER_PROGS}


def program_costs(pid: int, port: int) -> dict:
    """One extra wrk run per tracer with the kernel's BPF statistics on, which
    cost every program run two clock reads: kept out of the measured
    repetitions.  Per program: runs and ns of run time per request."""
    out = {}
    try:
        old = open(STATS_SYSCTL).read().strip()
    except OSError:
        return out
    for tracer in (BARE, ASYNCSCOPE_EXACT, ASYNCSCOPE_OTHER):
        open(STATS_SYSCTL, "w").write("1")
        try:
            att = tracer.attach(pid)
            time.sleep(0.2)
            before = prog_stats()
            r = wrk(port, WRK_SECONDS, pid)
            after = prog_stats()
            att.detach()
        finally:
            open(STATS_SYSCTL, "w").write(old)
        progs: Dict[str, dict] = {}
        for pid_, p in after.items():
            b = before.get(pid_, {})
            d = progs.setdefault(p["name"], {"runs": 0, "ns": 0})
            d["runs"] += p.get("run_cnt", 0) - b.get("run_cnt", 0)
            d["ns"] += p.get("run_time_ns", 0) - b.get("run_time_ns", 0)
        out[tracer.name] = {"requests": r["requests"], "cpu_us_per_req": r["cpu_us_per_req"],
                            "progs": {k: v for k, v in progs.items() if v["runs"]}}
        log(f"  program costs, {tracer.name}: " + ", ".join(
            f"{k} {v['runs'] / max(r['requests'], 1):.2f}/req {v['ns'] / v['runs']:.0f} ns"
            for k, v in progs.items() if v["runs"]))
    return out


def bench_service() -> dict:
    results = {}
    for vname, work_us in SERVICE_VARIANTS:
        log(f"service: {vname}: {len(SERVICE_CONFIGS)} configurations x {REPS} x {WRK_SECONDS}s of wrk")
        # the plain server calibrates the work; every other one does exactly as much
        servers = {"plain": start_server("plain", work_us)}
        rounds = int(servers["plain"].match.group(3))
        for kind in {c.server for c in SERVICE_CONFIGS} - {"plain"}:
            servers[kind] = start_server(kind, work_us, rounds)
        try:
            for s in servers.values():
                wrk(int(s.match.group(2)), 1)          # warm-up
            runs: Dict[str, List[dict]] = {c.name: [] for c in SERVICE_CONFIGS}
            for rep in range(REPS):
                for cfg in alternating(SERVICE_CONFIGS, rep):
                    srv = servers[cfg.server]
                    pid, port = int(srv.match.group(1)), int(srv.match.group(2))
                    att = cfg.tracer.attach(pid) if cfg.tracer else None
                    if att:
                        time.sleep(0.2)
                    r = wrk(port, WRK_SECONDS, pid)
                    r["rep"] = rep
                    if att:
                        r["tracer"] = att.detach()
                        time.sleep(0.2)
                    check(r["errors"] == 0, f"service {vname} {cfg.name}: {r['errors']} bad responses")
                    runs[cfg.name].append(r)
                    log(f"  rep {rep} {cfg.name:40s} {fmt(r['rps'], '.0f')} req/s  "
                        f"p99 {fmt(r['p99_ms'], '.3f')} ms  {fmt(r['cpu_us_per_req'], '.2f')} us CPU/req  "
                        f"other load {fmt(r['foreign'] and r['foreign'] * 100, '.0f')}%")
            plain = servers["plain"]
            costs = program_costs(int(plain.match.group(1)), int(plain.match.group(2)))
            inst = [s for k, s in servers.items() if k == "tokio-instrumented"]
            stats = server_stats(int(inst[0].match.group(2))) if inst else {}
            if inst:
                check(stats.get("instrumented") and stats.get("polls", 0) > 0,
                      f"tokio-instrumented server counted no polls: {stats}")
        finally:
            for s in servers.values():
                s.stop(signal.SIGTERM)
            Bystander.stop()
        results[vname] = {"runs": runs, "layer_stats": stats, "program_costs": costs}
        for cfg in SERVICE_CONFIGS:
            if cfg.tracer is ASYNCSCOPE_EXACT:
                for r in runs[cfg.name]:
                    t = r.get("tracer", {})
                    if t.get("dropped"):
                        notes.append(f"service, {vname}, repetition {r['rep']}: asyncscope lost "
                                     f"{t['dropped']} events to a full ring buffer")
                    check((t.get("kernel") or {}).get("polls", 0) > 0, f"service {vname}: asyncscope saw no polls")
    return results


def spread(xs: List[float]) -> Optional[float]:
    """Second-largest over second-smallest (largest over smallest under 4
    values): how much a quantity that should not move moved, one outlier
    each way forgiven."""
    xs = sorted(x for x in xs if x)
    if len(xs) < 2:
        return None
    return xs[-2] / xs[1] if len(xs) >= 4 else xs[-1] / xs[0]


def service_summary(res: dict) -> dict:
    """Per configuration: median req/s and p99, and the median over repetitions
    of its ratio to the untraced run of the same repetition."""
    out = {}
    for vname, v in res.items():
        runs = v["runs"]
        base = {r["rep"]: r for r in runs["untraced"]}
        rows = {}
        for cfg in SERVICE_CONFIGS:
            rs = runs[cfg.name]
            ratios = [r["rps"] / base[r["rep"]]["rps"] for r in rs
                      if r["rps"] and base[r["rep"]]["rps"]]
            p99r = [r["p99_ms"] / base[r["rep"]]["p99_ms"] for r in rs
                    if r["p99_ms"] and base[r["rep"]]["p99_ms"]]
            cpur = [base[r["rep"]]["cpu_us_per_req"] / r["cpu_us_per_req"] for r in rs
                    if r["cpu_us_per_req"] and base[r["rep"]]["cpu_us_per_req"]]
            cpus = [r["cpu_us_per_req"] for r in rs if r["cpu_us_per_req"]]
            row = {"rps": median([r["rps"] for r in rs]), "p99_ms": median([r["p99_ms"] for r in rs]),
                   "cpu_spread": spread(cpus),
                   "foreign": median([r["foreign"] for r in rs]),
                   "cpu_us_per_req": median([r["cpu_us_per_req"] for r in rs]),
                   "cpu_ratio": median(cpur),
                   "ratio": median(ratios), "ratio_min": min(ratios) if ratios else None,
                   "ratio_max": max(ratios) if ratios else None, "p99_ratio": median(p99r)}
            tr = [r["tracer"] for r in rs if "tracer" in r]
            if tr and "kernel" in tr[0]:
                reqs = sum(r["requests"] for r in rs)
                k = lambda key: sum(t["kernel"].get(key, 0) for t in tr)
                ev = sum(t["events"] for t in tr)
                row.update({
                    "polls_per_req": k("polls") / reqs if reqs else None,
                    "wakes_per_req": (k("wake_by_val") + k("wake_by_ref")) / reqs if reqs else None,
                    "clones_per_req": k("waker_clone") / reqs if reqs else None,
                    "drops_per_req": k("waker_drop") / reqs if reqs else None,
                    "wake_by_ref": k("wake_by_ref"), "wakes": k("wake_by_val") + k("wake_by_ref"),
                    "events": ev, "dropped": sum(t.get("dropped", 0) for t in tr),
                    "tool_cpu_s": sum(t["cpu_s"] for t in tr),
                    "tool_cpu_ms_per_mevent": sum(t["cpu_s"] for t in tr) * 1e3 / (ev / 1e6) if ev else None,
                    "tool_maxrss_kib": max(t["maxrss_kib"] or 0 for t in tr),
                    "probes": tr[0].get("probes"),
                })
            rows[cfg.name] = row
        out[vname] = rows
    return out


# ---------------------------------------------------------------- 2. per poll

def yielder_round(y: Proc, pid: int) -> dict:
    """One round; its wall time (the yielder's own clock) and its CPU time
    (all its threads, from schedstat: what other load on the CPU steals is
    not in it)."""
    c0 = cpu_seconds(pid)
    y.stdin.write("run\n")
    y.stdin.flush()
    deadline = time.monotonic() + 120
    seen = getattr(y, "_lines", 0)
    while time.monotonic() < deadline:
        # complete lines only: the last one may be half written
        lines = open(y.out).read().split("\n")[:-1]
        if len(lines) > seen:
            y._lines = seen + 1
            r = json.loads(lines[seen])
            r["cpu_ns"] = (cpu_seconds(pid) - c0) * 1e9
            return r
        time.sleep(0.0005)
    raise RuntimeError("yielder: no answer to 'run'")


def bench_poll() -> dict:
    exe = os.path.join(TARGETS, "target", "release", "yielder")
    polls_per_round = YIELD_TASKS * (YIELDS + 1)
    log(f"per poll: {len(POLL_CONFIGS)} configurations x {REPS} x {POLL_ROUNDS} rounds of "
        f"{polls_per_round} polls")
    y = start(pinned(SERVICE_CPU, [exe, "--tasks", str(YIELD_TASKS), "--yields", str(YIELDS),
                                   "--workers", "1"]), "yielder", r"ready pid=(\d+)", stdin=True)
    pid = int(y.match.group(1))
    runs: Dict[str, List[dict]] = {c.name: [] for c in POLL_CONFIGS}
    try:
        for _ in range(2):
            yielder_round(y, pid)                      # warm-up
        for rep in range(REPS):
            for cfg in alternating(POLL_CONFIGS, rep):
                att = cfg.tracer.attach(pid) if cfg.tracer else None
                fg = Foreign()
                rounds = [yielder_round(y, pid) for _ in range(POLL_ROUNDS)]
                foreign = fg.share()
                ns = median([r["cpu_ns"] / r["polls"] for r in rounds])
                wall = median([r["elapsed_ns"] / r["polls"] for r in rounds])
                r = {"rep": rep, "ns_per_poll": ns, "wall_ns_per_poll": wall, "foreign": foreign}
                if att:
                    t = att.detach()
                    r["tracer"] = t
                    want = POLL_ROUNDS * polls_per_round
                    got = (t.get("hits") or {}).get("poll") if "hits" in t else (t.get("kernel") or {}).get("polls")
                    check(got == want, f"per poll, {cfg.name}: {got} polls seen, {want} made")
                    if t.get("dropped"):
                        notes.append(f"per poll, {cfg.name}, repetition {rep}: {t['dropped']} events lost to "
                                     "a full ring buffer (the tracer's CPU was busy elsewhere); its cost per "
                                     "poll is unaffected")
                runs[cfg.name].append(r)
                log(f"  rep {rep} {cfg.name:40s} {ns:9.1f} ns/poll CPU, {wall:9.1f} wall, "
                    f"other load {fmt(foreign and foreign * 100, '.0f')}%")
    finally:
        y.stdin.close()
        y.stop(signal.SIGTERM)
    base = {r["rep"]: r["ns_per_poll"] for r in runs["untraced"]}
    rows = {}
    for cfg in POLL_CONFIGS:
        added = [r["ns_per_poll"] - base[r["rep"]] for r in runs[cfg.name]]
        rows[cfg.name] = {"ns_per_poll": median([r["ns_per_poll"] for r in runs[cfg.name]]),
                          "foreign": median([r["foreign"] for r in runs[cfg.name]]),
                          "wall_ns_per_poll": median([r["wall_ns_per_poll"] for r in runs[cfg.name]]),
                          "added": median(added), "added_by_rep": added}
        tr = [r["tracer"] for r in runs[cfg.name] if "tracer" in r]
        if tr:
            rows[cfg.name]["probes"] = tr[0].get("probes")
            rows[cfg.name]["mode"] = tr[0].get("mode")
    floor = rows["bare probes (kernel floor)"]["added_by_rep"]
    for name, row in rows.items():
        ratios = [a / f for a, f in zip(row["added_by_rep"], floor) if f > 0]
        row["x_floor"] = median(ratios) if name != "untraced" else None
    return {"rows": rows, "polls_per_round": polls_per_round,
            "per_poll_hooks": "1 raw::poll entry + return, 1 clone_waker, 1 wake_by_val"}


# ---------------------------------------------------------------- 3. pipeline

def run_json(argv: List[str], timeout=300) -> dict:
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr.strip()[-300:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def bench_pipeline() -> dict:
    log(f"pipeline: capacity x {REPS}, stream at {len(PIPE_RATES)} rates x {PIPE_REPS}")
    cap = []
    for _ in range(REPS):
        r = run_json([PIPELINE, "capacity", "-n", str(PIPE_RECORDS), "-C", str(SERVICE_CPU),
                      "-F", str(PIPE_FIFO)])
        check(r["malformed"] == 0 and r["feed_errors"] == 0, f"pipeline capacity: bad records {r}")
        cap.append(r)
        log(f"  capacity {r['rate'] / 1e6:.2f} M records/s")
    # (rate, ring bytes): asyncscope's default ring, and a few rates with a larger one
    points = [(rate, 0) for rate in PIPE_RATES] + [(rate, PIPE_BIG_RING) for rate in PIPE_BIG_RING_RATES]
    stream: Dict[tuple, List[dict]] = {pt: [] for pt in points}
    for rep in range(PIPE_REPS):
        for rate, ring in alternating(points, rep):
            fg = Foreign()
            r = run_json([PIPELINE, "stream", "-r", str(rate), "-d", str(PIPE_SECONDS),
                          "-C", str(SERVICE_CPU), "-P", str(LOAD_CPU), "-F", str(PIPE_FIFO)] +
                         (["-R", str(ring)] if ring else []))
            r["foreign"] = fg.share()
            stream[(rate, ring)].append(r)
            check(r["consumed"] == r["produced"] and r["malformed"] == 0,
                  f"pipeline stream: consumed {r['consumed']} of {r['produced']}")
            log(f"  stream at {rate / 1e6 if rate else 'max'} M/s, {r['ringbuf'] >> 20} MiB ring: "
                f"{r['rate'] / 1e6:.2f} M/s consumed, "
                f"{r['dropped']} dropped, max drain {r['max_drain_ns'] / 1e6:.1f} ms, "
                f"other load {fmt(r['foreign'] and r['foreign'] * 100, '.0f')}%")
    rows = []
    for rate, ring in sorted(points, key=lambda x: (x[1], x[0] or 1e18)):
        rs = stream[(rate, ring)]
        attempted = [r["produced"] + r["dropped"] for r in rs]
        rows.append({
            "target": rate,
            "ring_mib": rs[0]["ringbuf"] >> 20,
            "offered": median([a * 1e9 / r["elapsed_ns"] for a, r in zip(attempted, rs)]),
            "consumed": median([r["rate"] for r in rs]),
            "drop_pct": median([100.0 * r["dropped"] / a for a, r in zip(attempted, rs)]),
            "drop_pct_max": max(100.0 * r["dropped"] / a for a, r in zip(attempted, rs)),
            "cpu_ms_per_mevent": median([r["cpu_ns"] / 1e6 / (r["consumed"] / 1e6) for r in rs]),
            "core_pct": median([100.0 * r["cpu_ns"] / r["elapsed_ns"] for r in rs]),
            "max_drain_ms": max(r["max_drain_ns"] / 1e6 for r in rs),
            "foreign": median([r["foreign"] for r in rs]),
        })
    # the highest rate the median run took without a drop; the max column shows the worst run
    default = [row for row in rows if row["ring_mib"] == 16]
    sustained = max([row["consumed"] for row in default if row["drop_pct"] == 0 and row["target"]],
                    default=None)
    sustained_all = max([row["consumed"] for row in default if row["drop_pct_max"] == 0 and row["target"]],
                        default=None)
    big = [row for row in rows if row["ring_mib"] != 16]
    sustained_big = max([row["consumed"] for row in big if row["drop_pct_max"] == 0 and row["target"]],
                        default=None)
    return {
        "capacity": median([r["rate"] for r in cap]),
        "capacity_cpu_ns": median([r["cpu_ns"] / r["consumed"] for r in cap]),
        "capacity_tasks": cap[0]["tasks"], "capacity_records": cap[0]["consumed"],
        "stream": rows, "sustained": sustained, "sustained_all": sustained_all,
        "sustained_big": sustained_big,
        # what the consumer's CPU time per record allows on a core of its own
        # (CPU ms per million records is CPU ns per record)
        "core_capacity": 1e9 / median([r["cpu_ms_per_mevent"] for r in rows]),
    }


# ---------------------------------------------------------------- 4. attach and memory

def elf_symbols(path: str) -> int:
    """Entries of .symtab, read from the section headers."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3a)
    for i in range(shnum):
        sh = shoff + i * shentsize
        sh_type, = struct.unpack_from("<I", data, sh + 4)
        if sh_type == 2:                                # SHT_SYMTAB
            size, = struct.unpack_from("<Q", data, sh + 0x20)
            entsize, = struct.unpack_from("<Q", data, sh + 0x38)
            return size // entsize
    return 0


def bench_attach() -> dict:
    exe = os.path.join(TARGETS, "big", "target", "release", "bigbin")
    log(f"attach: {REPS} x record start -> attached, and inspect, on {exe}")
    info = json.loads(subprocess.run([ASYNCSCOPE, "inspect", "--json", exe], capture_output=True,
                                     text=True, check=True).stdout)
    res = {"symtab": elf_symbols(exe), "function_symbols": info["function_symbols"],
           "vtables": len(info["vtables"]), "sites": len(info["sites"]),
           "size_mb": os.path.getsize(exe) / 2**20}
    analyse, attach, detach, probes = [], [], [], None
    big = start(pinned(SERVICE_CPU, [exe]), "bigbin", r"ready pid=(\d+)")
    try:
        pid = int(big.match.group(1))
        for rep in range(REPS):
            t = time.monotonic()
            subprocess.run([ASYNCSCOPE, "inspect", exe], capture_output=True, check=True)
            analyse.append(time.monotonic() - t)
            att = ASYNCSCOPE_EXACT.attach(pid)
            attach.append(att.proc.ready_s)
            r = att.detach()
            detach.append(r["stop_s"])
            probes = r.get("probes")
            log(f"  rep {rep}: analysis {analyse[-1] * 1e3:.0f} ms, record start -> attached "
                f"{attach[-1] * 1e3:.0f} ms, report + detach {detach[-1] * 1e3:.0f} ms ({probes} probes)")
            if r["stop_s"] > 60:
                notes.append(f"detaching {probes} probes took {r['stop_s']:.0f} s: one repetition only")
                break
    finally:
        big.stop(signal.SIGTERM)
    res.update({"analyse_s": median(analyse), "attach_s": median(attach), "detach_s": median(detach),
                "attach_max_s": max(attach), "probes": probes, "reps": len(attach)})
    log(f"memory: task_mem -n {MEM_TASKS}")
    res["mem"] = run_json([TASK_MEM, "-n", str(MEM_TASKS)])
    return res


FR_BOUND = "8MiB"
FR_SMALL = "1MiB"
FR_SECONDS = 3 if QUICK else 8


def proc_status_kib(pid: int, field: str) -> Optional[int]:
    """A kB field of /proc/PID/status (RssAnon, VmRSS, ...)."""
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def flight_recorder() -> dict:
    """Flight-recorder memory against its bound (`record --flight-recorder AGE,SIZE`).

    The hello-world server under wrk, traced by a flight recorder bounded to
    SIZE for long enough to fill it: its anonymous resident memory (RssAnon:
    the window is anonymous memory) once attached and again with the window
    full, for two bounds.  The growth is what the window costs, to compare
    with its bound.  (Not the peak RSS: the ELF analysis at start-up peaks
    higher than a small window.)  The recorder's own accounting, its last
    line on stderr, is reported too."""
    help_text = subprocess.run([ASYNCSCOPE, "record", "--help"], capture_output=True, text=True).stdout
    if "--flight-recorder" not in help_text:
        return {"pending": "flight recorder not merged yet"}
    log(f"flight recorder: bounds {FR_BOUND} and {FR_SMALL}, {FR_SECONDS}s of wrk each")
    res = {"bound": FR_BOUND, "small_bound": FR_SMALL, "seconds": FR_SECONDS, "runs": []}
    srv = start_server("plain", 0)
    try:
        pid, port = int(srv.match.group(1)), int(srv.match.group(2))
        wrk(port, 1)
        for size in (FR_BOUND, FR_SMALL):
            tr = Tracer("flight recorder " + size,
                        lambda p, out, size=size: [ASYNCSCOPE, "record", "-p", str(p),
                                                   "--flight-recorder", f"60s,{size}"],
                        r"attached to pid", lambda pr, info, report: {"events": None})
            att = tr.attach(pid)
            time.sleep(0.2)
            anon0 = proc_status_kib(att.proc.p.pid, "RssAnon")
            w = wrk(port, FR_SECONDS)
            anon1 = proc_status_kib(att.proc.p.pid, "RssAnon")
            rss1 = proc_status_kib(att.proc.p.pid, "VmRSS")
            att.detach()
            err = open(att.proc.err, errors="replace").read()
            m = re.search(r"held (\d+) chunks, (\d+) of (\d+) bytes \(peak (\d+)\); (\d+) chunks left", err)
            check(m is not None, f"flight recorder {size}: no accounting line on stderr")
            r = {"size": size, "requests": w["requests"], "rss_kib": rss1,
                 "growth_bytes": (anon1 - anon0) * 1024 if anon0 is not None and anon1 is not None else None,
                 "peak_bytes": int(m.group(4)) if m else None,
                 "bound_bytes": int(m.group(3)) if m else None,
                 "evicted_chunks": int(m.group(5)) if m else None}
            # the window may overshoot its bound by the chunk being written, never more
            r["within"] = (r["growth_bytes"] is not None and r["bound_bytes"] is not None and
                           r["growth_bytes"] <= r["bound_bytes"] * 1.05 + 2 * 2**20)
            if not r["evicted_chunks"]:
                notes.append(f"the {size} flight recorder never filled in {FR_SECONDS} s: its memory "
                             "was measured below its bound, not at it")
            res["runs"].append(r)
    finally:
        srv.stop(signal.SIGTERM)
    return res


# ---------------------------------------------------------------- probe_cost

def probe_cost() -> Optional[str]:
    """bench/probe_cost (what a uprobe costs by the instruction it sits on): its tables."""
    exe = os.path.join(OUT, "bench", "probe_cost")
    log("probe_cost: uprobe cost by instruction, 3 repetitions (about 40 s)")
    p = subprocess.run([exe, "-r", "3"], capture_output=True, text=True, timeout=600)
    check(p.returncode == 0, f"probe_cost exited {p.returncode}: {p.stderr.strip()[-300:]}")
    out = p.stdout
    i = out.find("### ")
    return out[i:].replace("### ", "### probe_cost: ") if i >= 0 else None


# ---------------------------------------------------------------- hot sites

def hot_sites() -> dict:
    exe = SERVERS["plain"]
    info = json.loads(subprocess.run([ASYNCSCOPE, "inspect", "--json", exe], capture_output=True,
                                     text=True, check=True).stdout)
    text = subprocess.run([ASYNCSCOPE, "inspect", exe], capture_output=True, text=True, check=True).stdout
    on = {}
    for line in text.split("hooks attached by default:")[-1].splitlines():
        m = re.match(r"\s+(\w+)\s+(on|off)\s+(.*)", line)
        if m:
            on[m.group(1)] = (m.group(2) == "on", m.group(3))
    sites = [{"hook": s["hook"], "cost": s["cost"], "insn": s["instruction"],
              "moved": s["moved_by"], "on": on.get(s["hook"], (False, ""))[0]}
             for s in info["sites"]]
    return {"sites": sites, "on": on}


# ---------------------------------------------------------------- report

def machine() -> dict:
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        mem = int(open("/proc/meminfo").readline().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    wrkv = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return {"cpu": model, "ncpu": NCPU, "mem_mib": mem, "kernel": platform.release(),
            "date": time.strftime("%Y-%m-%d %H:%M %Z"), "rev": rev + (" (with local changes)" if dirty else ""),
            "wrk": (wrkv.stdout + wrkv.stderr).splitlines()[0] if (wrkv.stdout + wrkv.stderr) else "wrk",
            "quick": QUICK}


def goal(ok) -> str:
    if isinstance(ok, str):
        return ok
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


# The untraced server does the same work for every request: when its CPU time
# per request varies more than this between repetitions, the machine's speed
# moved under the run (other guests on the host), and a throughput ratio from
# that run is not evidence either way.
NOISY_SPREAD = 1.15


def program_cost_table(a: Callable[[str], None], costs: dict, rows: dict) -> None:
    """Where a traced request's time goes, program by program (one extra run
    per tracer with BPF statistics on)."""
    ex, bare, other = (costs.get(t.name) for t in (ASYNCSCOPE_EXACT, BARE, ASYNCSCOPE_OTHER))
    if not ex or not ex["requests"]:
        return
    overhead = None
    if bare and bare["progs"]:
        b = bare["progs"]
        overhead = sum(v["ns"] for v in b.values()) / max(sum(v["runs"] for v in b.values()), 1)
    reqs = ex["requests"]
    a("Where asyncscope's time per request goes, program by program: one extra run of each tracer "
      "with the kernel's BPF statistics on (`kernel.bpf_stats_enabled`, which adds two clock reads "
      "to every program run, so it is kept out of the repetitions above). *ns per run* is the "
      "program's own run time; the trap that enters a uprobe program is not in it (that is the "
      "floor's cost). The tracepoint programs run for every process on the machine (wrk's "
      "sends and receives too), and return at their first check for the untraced ones.")
    a("")
    a("| program | attached as | runs per request | ns per run | ns per request |")
    a("|---|---|---:|---:|---:|")
    total = 0.0
    for name, v in sorted(ex["progs"].items(), key=lambda kv: -kv[1]["ns"]):
        total += v["ns"] / reqs
        a(f"| `{name}` | {TRACER_PROGS.get(name, '')} | {v['runs'] / reqs:.2f} | "
          f"{v['ns'] / v['runs']:.0f} | {v['ns'] / reqs:.0f} |")
    a(f"| **all** | | | | **{total:,.0f}** |")
    a("")
    notes_ = []
    if overhead is not None:
        notes_.append(f"bare_probes' programs, which only count, take {overhead:.0f} ns per run under "
                      "the same statistics: that much of every *ns per run* is the measurement and the "
                      "run's fixed cost, not the program's work")
    if other and other["progs"] and other["requests"]:
        o = other["progs"]
        runs = sum(v["runs"] for v in o.values())
        notes_.append(f"while asyncscope traced another process, its programs ran {runs / other['requests']:.2f} "
                      f"times per request of this untraced server and wrk ({sum(v['ns'] for v in o.values()) / max(runs, 1):.0f} ns "
                      "per run, returning at the pid check)")
    ext, flo = rows.get("asyncscope exact (default)", {}), rows.get("bare probes (kernel floor)", {})
    if ext.get("cpu_us_per_req") and flo.get("cpu_us_per_req"):
        d = (ext["cpu_us_per_req"] - flo["cpu_us_per_req"]) * 1e3
        notes_.append(f"in the repetitions above, the server's CPU per request under asyncscope was "
                      f"{abs(d):,.0f} ns {'more' if d >= 0 else 'less'} than under the floor's probes")
    if notes_:
        text = "; ".join(notes_)
        a(text[0].upper() + text[1:] + ".")
        a("")


def write_report(m: dict, svc: Optional[dict], poll: Optional[dict], pipe: Optional[dict],
                 att: Optional[dict], hot: Optional[dict], fr: dict, pc: Optional[str],
                 wall: float, costs_by_variant: Optional[dict] = None) -> str:
    L: List[str] = []
    a = L.append
    a("# asyncscope benchmarks")
    a("")
    a("Generated by `make bench` (bench/bench.py); every number below was printed by one run of it. "
      "Figures are ratios or differences between configurations measured in that run, alternating "
      "(A B C D, then D C B A, ...), repeated, and the median taken: this machine is shared and noisy, "
      "so never compare them with another run's.")
    a("")
    a(f"- machine: {m['cpu']}, {m['ncpu']} CPUs, {m['mem_mib']} MiB; kernel {m['kernel']}")
    a(f"- date: {m['date']}; asyncscope {m['rev']}; {m['wrk']}")
    a(f"- pinning: the traced service on CPU {SERVICE_CPU}; wrk (1 thread, {WRK_CONNS} connections, "
      f"keep-alive, loopback) and the tracer on CPU {LOAD_CPU}")
    a(f"- scheduling: {m.get('session', '-')} (the kernel shares CPU between sessions first; this "
      "keeps other users' processes on this shared machine from taking half the measured core)")
    a(f"- repetitions: {REPS} per configuration{' (QUICK mode: short runs, indicative only)' if QUICK else ''}; "
      f"wall time of the whole run {wall / 60:.1f} min")
    a("")

    # goals first: what a reader wants to know
    a("## Goals")
    a("")
    a("| goal | target | measured | |")
    a("|---|---|---|---|")
    goals = []
    noisy = set()
    modes = [("asyncscope exact (default)", "exact mode (default)")]
    if TASKS_ONLY in [c.name for c in SERVICE_CONFIGS]:
        modes.append((TASKS_ONLY, "exact mode, tasks only (`--no-io`)"))
    if svc:
        for cfg, label in modes:
            for vname, what, target in (("hello world", "hello-world server", 0.80),
                                        ("50 us of work per request", "50 µs of work per request", 0.97)):
                r = svc.get(vname, {}).get(cfg, {})
                spread = svc.get(vname, {}).get("untraced", {}).get("cpu_spread")
                if r.get("ratio") is not None:
                    verdict = r["ratio"] >= target
                    if spread is not None and spread > NOISY_SPREAD:
                        verdict = (f"not judged: untraced CPU per request varied {(spread - 1) * 100:.1f}% "
                                   "between repetitions")
                        noisy.add(vname)
                    goals.append((f"{label}, {what}", f"≥ {target * 100:.0f}% of untraced req/s",
                                  f"{r['ratio'] * 100:.1f}% (server CPU: {fmt(r['cpu_ratio'] and r['cpu_ratio'] * 100, '.1f')}%; "
                                  f"kernel floor {fmt(svc[vname]['bare probes (kernel floor)']['ratio'] * 100, '.1f')}%)",
                                  verdict))
    if poll:
        for cfg, label in modes:
            row = poll["rows"].get(cfg)
            if row and row["x_floor"] is not None:
                goals.append((f"per-poll cost, {label}", "≤ 1.5× the bare-probe floor on the same sites",
                              f"{row['x_floor']:.3f}× ({row['added']:,.0f} ns against "
                              f"{poll['rows']['bare probes (kernel floor)']['added']:,.0f} ns per poll)",
                              row["x_floor"] <= 1.5))
    if hot:
        bad = [s for s in hot["sites"] if s["on"] and s["cost"] == "single-step"
               and s["hook"] in ("poll", "wake_by_val", "clone_waker", "drop_waker")]
        goals.append(("no hot-path probe on a single-stepped instruction", "0 sites",
                      f"{len(bad)} sites", not bad))
    if pipe:
        goals.append(("pipeline, one core, no drops", "≥ 5 M events/s",
                      f"{fmt(pipe['sustained'] and pipe['sustained'] / 1e6, '.1f')} M events/s without drops "
                      f"(median run; every run: {fmt(pipe['sustained_all'] and pipe['sustained_all'] / 1e6, '.1f')}; "
                      f"with a {PIPE_BIG_RING >> 20} MiB ring: {fmt(pipe['sustained_big'] and pipe['sustained_big'] / 1e6, '.1f')}); "
                      f"ceiling {pipe['capacity'] / 1e6:.1f} M/s",
                      pipe["sustained"] is not None and pipe["sustained"] >= 4.95e6))
    if att:
        goals.append((f"attach, {att['function_symbols']:,} function symbols", "< 1 s",
                      f"{att['attach_s']:.2f} s", att["attach_s"] < 1.0 and att["function_symbols"] >= 100000))
    for g in goals:
        a(f"| {g[0]} | {g[1]} | {g[2]} | {goal(g[3])} |")
    a("")
    for vname in sorted(noisy):
        a(f"*{vname}* not judged: the untraced server, doing the same work for every request, used "
          f"{(svc[vname]['untraced']['cpu_spread'] - 1) * 100:.1f}% more CPU per request in its "
          "second-slowest repetition than in its second-fastest (more than "
          f"{(NOISY_SPREAD - 1) * 100:.0f}%): the machine's speed "
          "changed during the run (other guests on the host; the *other load* column only sees this "
          "machine), so its ratios are not evidence either way. Run `sudo make bench BENCH_ONLY=service` "
          "again at a quieter time.")
        a("")
    # a throughput goal under the kernel's own floor cannot be met by any work
    # the programs save: say so, with the numbers of this run
    below = []
    for vname, what, target in (("hello world", "hello-world", 0.80),
                                ("50 us of work per request", "50 µs", 0.97)):
        floor = (svc or {}).get(vname, {}).get("bare probes (kernel floor)", {}).get("ratio")
        if floor is not None and floor < target:
            below.append(f"{what}: floor {floor * 100:.1f}% against a goal of {target * 100:.0f}%")
    if below:
        hw = ((costs_by_variant or {}).get("hello world") or {}).get(ASYNCSCOPE_EXACT.name) or {}
        own = (f" (about {sum(v['ns'] for v in hw['progs'].values()) / hw['requests']:,.0f} ns of "
               "program run time per hello-world request in this run)") if hw.get("requests") else ""
        top = sorted((hw.get("progs") or {}).items(), key=lambda kv: -kv[1]["ns"])[:3]
        top_text = (": the largest in this run are " + ", ".join(
            f"`{k}` ({v['ns'] / hw['requests']:,.0f} ns per request)" for k, v in top)
            if top and hw.get("requests") else "")
        nc = ((svc or {}).get("hello world") or {}).get(NO_CLONES, {}).get("ratio")
        nc_text = (f" (in this run: {nc * 100:.1f}% of untraced on hello-world, tasks only)"
                   if nc is not None else "")
        a("Throughput goals below the kernel floor (" + "; ".join(below) + "): the floor is "
          "asyncscope's own probe sites with programs that only count, so no exact mode on these "
          "sites can reach such a goal on this kernel, however little its programs do. What "
          "asyncscope adds over the floor is its programs' run time" + own + ", itemised under each "
          "service table below" + top_text + ". What would close the rest is fewer traps per request: sampling, which "
          "skips whole polls; leaving out the waker clone/drop probe, one of the four traps a "
          "hello-world request pays, at the price of those counts (`--hooks "
          "default,-clone_waker,-drop_waker`)" + nc_text + "; or cheaper uprobes from the kernel "
          "(6.18 optimises only probes on a 5-byte nop, which no Rust function starts with).")
        a("")

    if svc:
        a("## 1. Service overhead: hyper under wrk")
        a("")
        a(f"`bench/targets` `benchserver`: hyper 0.14 HTTP/1, tokio multi-thread runtime with 1 worker, "
          f"answering `hello world`, or doing a fixed computation first that takes about 50 µs here "
          f"(calibrated once; every server of the run does the same number of rounds). `wrk -t1 -c{WRK_CONNS} "
          f"-d{WRK_SECONDS}s --latency`. *ratio* = median over repetitions of (req/s ÷ untraced req/s of "
          "the same repetition). *tokio instrumentation*: the same server built with "
          "`--cfg tokio_unstable` and tokio's `tracing` feature, with a tracing-subscriber Registry and a "
          "layer keeping per-task stats (polls from `runtime.spawn` span enters/exits, busy time, waker "
          "operations from `tokio::task::waker` events), as tokio-console's layer does. *server CPU per "
          "request*: the server's user + system time (all threads, uprobe handling included) over the "
          "requests served; *untraced ÷ that* is the throughput ratio a CPU-bound server would show, "
          "and is less disturbed than req/s by other load on the machine. *other load*: the share of "
          "the machine (both CPUs) that other users' processes took during the runs (median).")
        a("")
        for vname, rows in svc.items():
            a(f"### {vname}")
            a("")
            a("| configuration | req/s | ratio to untraced (min–max) | p99 latency | p99 ratio "
              "| server CPU per request | untraced ÷ that | other load |")
            a("|---|---:|---:|---:|---:|---:|---:|---:|")
            for cfg in SERVICE_CONFIGS:
                r = rows[cfg.name]
                a(f"| {cfg.name} | {fmt(r['rps'], ',.0f')} | {fmt(r['ratio'] and r['ratio'] * 100, '.1f')}% "
                  f"({fmt(r['ratio_min'] and r['ratio_min'] * 100, '.0f')}–{fmt(r['ratio_max'] and r['ratio_max'] * 100, '.0f')}) "
                  f"| {fmt(r['p99_ms'] and r['p99_ms'] * 1e3, ',.0f')} µs | {fmt(r['p99_ratio'], '.2f')}× "
                  f"| {fmt(r['cpu_us_per_req'], '.2f')} µs | {fmt(r['cpu_ratio'] and r['cpu_ratio'] * 100, '.1f')}% "
                  f"| {fmt(r['foreign'] and r['foreign'] * 100, '.0f')}% |")
            ex = rows.get("asyncscope exact (default)", {})
            if ex.get("polls_per_req") is not None:
                a("")
                a(f"Per request, asyncscope's probes saw {ex['polls_per_req']:.2f} polls, "
                  f"{ex['wakes_per_req']:.2f} wakes, {ex['clones_per_req']:.2f} waker clones and "
                  f"{ex['drops_per_req']:.2f} waker drops ({ex['probes']} probes attached; "
                  f"`wake_by_ref`, single-stepped: {ex['wake_by_ref']} of {ex['wakes']} wakes). "
                  f"{ex['events']:,} events, {ex['dropped']} dropped. The `asyncscope record` process "
                  f"used {ex['tool_cpu_s']:.2f} s of CPU over all repetitions (attach and detach included): "
                  f"{fmt(ex['tool_cpu_ms_per_mevent'], '.0f')} ms per million events; peak RSS "
                  f"{ex['tool_maxrss_kib'] / 1024:.1f} MiB.")
            a("")
            costs = (costs_by_variant or {}).get(vname)
            if costs:
                program_cost_table(a, costs, rows)

    if poll:
        a("## 2. Per-poll cost")
        a("")
        a(f"`bench/targets` `yielder`: {YIELD_TASKS} tasks each calling `yield_now` {YIELDS} times on a "
          f"1-worker runtime ({poll['polls_per_round']:,} polls a round, {POLL_ROUNDS} rounds per "
          f"measurement); each poll hits {poll['per_poll_hooks']}. *bare probes*: bench/bare_probes "
          "attaches programs that only count (bpf/bench_bare.bpf.c) to the very sites asyncscope uses, "
          "resolved by the project's own code (user/tokio_bin.c, hooks.c, x86_site.c), with an entry "
          "probe on every site and a return probe where asyncscope has one: the floor the kernel sets. "
          "*added* = ns per poll above untraced, same repetition; *× floor* = median of added ÷ the "
          "floor's added. Per poll is the yielder's CPU time (all threads, uprobe handling included, "
          "from /proc schedstat) over its polls, so time other load steals from its core is not in "
          "it; the wall clock is shown too.")
        a("")
        a("| configuration | CPU ns/poll | added ns/poll | × floor | wall ns/poll | other load |")
        a("|---|---:|---:|---:|---:|---:|")
        for cfg in POLL_CONFIGS:
            r = poll["rows"][cfg.name]
            label = cfg.name + (f" ({r['mode']} links)" if r.get("mode") else "")
            a(f"| {label} | {r['ns_per_poll']:,.1f} | {fmt(r['added'] if cfg.tracer else None, ',.1f')} "
              f"| {fmt(r['x_floor'], '.2f')} | {r['wall_ns_per_poll']:,.1f} "
              f"| {fmt(r['foreign'] and r['foreign'] * 100, '.0f')}% |")
        a("")

    if pipe:
        a("## 3. Pipeline: user-space drain and correlation on one core")
        a("")
        a("bench/pipeline: bpf/bench_pipe.bpf.c, run through `BPF_PROG_TEST_RUN`, writes asyncscope's "
          "own records (spawn; per poll a waker clone, a wake and the poll; completion; 1,024 live "
          "tasks, 8 polls each) into a BPF ring buffer exactly as bpf/tokio.bpf.c does "
          "(`BPF_RB_NO_WAKEUP`). The consumer is asyncscope's path: `ring_buffer__consume` → "
          "`correlator__feed`, on one core, draining every 10 ms like `asyncscope record`. CPU is the "
          f"consumer thread's. The consumer runs at SCHED_FIFO priority {PIPE_FIFO} (it sleeps 10 ms "
          "between drains): on this shared machine other load otherwise decides when it wakes up, and "
          "the drops would measure the scheduler (`asyncscope record` itself runs at normal priority).")
        a("")
        a(f"- **ceiling** (ring pre-filled with {pipe['capacity_records']:,} records, then drained and "
          f"correlated, nothing else running): **{pipe['capacity'] / 1e6:.1f} M records/s**, "
          f"{pipe['capacity_cpu_ns']:.0f} ns of CPU per record.")
        a(f"- **streaming**, producer on CPU {LOAD_CPU}, consumer on CPU {SERVICE_CPU}, 16 MiB ring "
          f"(asyncscope's default; a few rates with {PIPE_BIG_RING >> 20} MiB too), {PIPE_SECONDS:.0f} s "
          f"per run, {PIPE_REPS} runs per rate:")
        a("")
        a("| ring | offered | consumed | dropped (median / max) | CPU per M events | consumer core | longest drain | other load |")
        a("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in pipe["stream"]:
            tgt = f"{r['offered'] / 1e6:.2f} M/s" + ("" if r["target"] else " (producer flat out)")
            a(f"| {r['ring_mib']} MiB | {tgt} | {r['consumed'] / 1e6:.2f} M/s | {r['drop_pct']:.2f}% / {r['drop_pct_max']:.2f}% "
              f"| {r['cpu_ms_per_mevent']:.0f} ms | {r['core_pct']:.0f}% | {r['max_drain_ms']:.1f} ms "
              f"| {fmt(r['foreign'] and r['foreign'] * 100, '.0f')}% |")
        a("")
        a(f"Sustained with no drops: **{fmt(pipe['sustained'] and pipe['sustained'] / 1e6, '.2f')} M "
          f"events/s** in the median run, {fmt(pipe['sustained_all'] and pipe['sustained_all'] / 1e6, '.2f')} "
          f"M events/s in every run (the highest rates tried without a drop). The consumer's CPU time "
          f"per record, median over all rates, allows {pipe['core_capacity'] / 1e6:.1f} M records/s on a "
          "core of its own. Drops below that rate would come from single drains that run long (see "
          "*longest drain*) while the ring fills, not from the average speed: the correlator's task "
          "map therefore grows a bounded step per task (user/idx_map.c), never all at once. With a "
          f"{PIPE_BIG_RING >> 20} MiB ring (`record --ringbuf-size {PIPE_BIG_RING >> 20}M`), which absorbs a "
          "late drain: no drops in any run up to "
          f"{fmt(pipe['sustained_big'] and pipe['sustained_big'] / 1e6, '.2f')} M events/s.")
        a("")

    if att or fr:
        a("## 4. Attach and memory")
        a("")
    if att:
        mem = att["mem"]
        a(f"`bench/targets/big` `bigbin`, generated: {att['vtables']} task vtables (300 future types × "
          f"2 schedulers, and tokio's own), {att['function_symbols']:,} function symbols "
          f"({att['symtab']:,} `.symtab` entries), {att['size_mb']:.0f} MiB, {att['sites']:,} probe sites.")
        a("")
        a("| step | median of " + str(att["reps"]) + " |")
        a("|---|---:|")
        a(f"| `asyncscope inspect` (ELF, symbols, demangling, vtables, site analysis) | {att['analyse_s'] * 1e3:.0f} ms |")
        a(f"| `asyncscope record -p` start → \"attached\" on stderr ({att['probes']} probes live) | "
          f"{att['attach_s'] * 1e3:.0f} ms (max {att['attach_max_s'] * 1e3:.0f} ms) |")
        a(f"| of which attaching (the difference) | {max(att['attach_s'] - att['analyse_s'], 0) * 1e3:.0f} ms |")
        a(f"| SIGINT → exit (report, then every probe removed) | {att['detach_s'] * 1e3:.0f} ms |")
        a("")
        a(f"Memory per task, correlator (bench/task_mem, {mem['tasks']:,} tasks, heap bytes in use "
          f"from glibc's accounting; `struct as_task` is {mem['sizeof_as_task']} bytes): "
          f"**{mem['live_bytes_per_task']:.0f} B per live task, {mem['finished_bytes_per_task']:.0f} B per "
          "finished task**. The kernel side keeps nothing per task (its maps are per thread and per "
          "vtable).")
        a("")
    if fr.get("pending"):
        a(f"Flight-recorder memory against its bound: *pending: {fr['pending']}*.")
        a("")
    elif fr.get("runs"):
        a("### Flight-recorder memory against its bound")
        a("")
        a(f"`asyncscope record --flight-recorder 60s,SIZE` on the hello-world server under wrk for "
          f"{fr['seconds']} s, long enough for the window to fill and evict. *growth*: the recorder's "
          "anonymous resident memory (RssAnon) with the window full, minus the same once attached; "
          "*growth − bound* is what it holds beyond its window (the chunk being built, encoding "
          "buffers).")
        a("")
        a("| bound | window peak (its accounting) | chunks evicted | growth | growth − bound | process RSS |")
        a("|---:|---:|---:|---:|---:|---:|")
        for r in fr["runs"]:
            a(f"| {fmt(r['bound_bytes'] and r['bound_bytes'] / 2**20, '.0f')} MiB | "
              f"{fmt(r['peak_bytes'] and r['peak_bytes'] / 2**20, '.2f')} MiB | {fmt(r['evicted_chunks'], 'd')} | "
              f"{fmt(None if r['growth_bytes'] is None else r['growth_bytes'] / 2**20, '.2f')} MiB | "
              f"{fmt(None if r['growth_bytes'] is None or not r['bound_bytes'] else (r['growth_bytes'] - r['bound_bytes']) / 2**20, '+.2f')} MiB | "
              f"{fmt(r['rss_kib'] and r['rss_kib'] / 1024, '.1f')} MiB |")
        a("")

    if hot:
        a("## Probe sites and their cost class (`asyncscope inspect`, benchserver)")
        a("")
        a("| hook | on by default | instruction | class |")
        a("|---|---|---|---|")
        for s in hot["sites"]:
            moved = f" (moved +{s['moved']:#x})" if s["moved"] else ""
            a(f"| {s['hook']} | {'on' if s['on'] else 'off'} | `{s['insn']}`{moved} | {s['cost']} |")
        a("")

    if pc:
        a("## Appendix: what a uprobe costs, by the instruction it sits on (bench/probe_cost)")
        a("")
        a("The same run; what the cost classes in `inspect` and in the table above stand for.")
        a("")
        a(pc.rstrip())
        a("")

    for title, items in (("Notes", notes), ("Checks that failed", failures)):
        if items:
            a(f"## {title}")
            a("")
            a("\n".join(f"- {i}" for i in items))
            a("")
    a("## Reproduce")
    a("")
    a("```")
    a("sudo make deps          # Debian packages, wrk among them")
    a("sudo make bench         # ~10 min: builds bench/targets (offline) and the tools, runs, writes BENCHMARKS.md")
    a("sudo make bench BENCH_QUICK=1                  # short runs, for development")
    a("sudo make bench OUTPUT=.output-x BIN=.output-x/asyncscope   # another build tree")
    a("```")
    a("")
    return "\n".join(L)


def main() -> int:
    if os.geteuid() != 0:
        log("benchmarks attach uprobes and need root: run 'sudo make bench'")
        return 3
    for path in [ASYNCSCOPE, BARE_PROBES, PIPELINE, TASK_MEM, SERVERS["plain"], SERVERS["tokio-instrumented"]]:
        if not os.access(path, os.X_OK):
            log(f"{path} missing: run 'make bench' (it builds everything first)")
            return 1
    t0 = time.monotonic()
    m = machine()
    m["session"] = own_session()
    want = lambda s: not ONLY or s in ONLY
    svc = poll = pipe = att = hot = pc = None
    fr: dict = {}
    raw = {}
    try:
        if want("service"):
            hot = hot_sites()
            raw["service"] = bench_service()
            svc = service_summary(raw["service"])
        if want("poll"):
            poll = bench_poll()
        if want("pipeline"):
            pipe = bench_pipeline()
        if want("attach"):
            att = bench_attach()
        if want("flight"):
            fr = flight_recorder()
        if want("probe_cost") and not QUICK:
            pc = probe_cost()
    except (RuntimeError, subprocess.SubprocessError, OSError) as e:
        check(False, f"benchmark aborted: {e}")
    costs = {v: r.get("program_costs") for v, r in raw.get("service", {}).items()}
    report = write_report(m, svc, poll, pipe, att, hot, fr, pc, time.monotonic() - t0, costs)
    with open(MD, "w") as f:
        f.write(report)
    with open(os.path.join(WORK.dir, "results.json"), "w") as f:
        json.dump({"machine": m, "service": svc, "poll": poll, "pipeline": pipe, "attach": att, "flight": fr,
                   "raw": raw}, f, indent=1, default=str)
    print(report)
    log(f"wrote {MD}; raw results in {WORK.dir}/results.json")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
