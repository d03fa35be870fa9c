//! Ground truth: counting spawn wrappers and the final JSON line.
//!
//! Per task we keep the poll count inside the task itself ([`Counted`]) and
//! fold it into global aggregates once, when the task finishes (returns
//! `Ready`) or is dropped unfinished. The aggregates are therefore cheap and
//! bounded in size, even in `--loop` mode.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::io::Write as _;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll};

use tokio::task::JoinHandle;

/// Kind of a counted task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Async,
    Blocking,
}

#[derive(Debug)]
struct KindStats {
    spawned: u64,
    completed: u64,
    /// Tasks folded into `polls`/`hist` (finished or dropped).
    finished: u64,
    polls: u64,
    /// number of polls of a task -> number of tasks
    hist: BTreeMap<u64, u64>,
}

impl KindStats {
    const fn new() -> Self {
        KindStats {
            spawned: 0,
            completed: 0,
            finished: 0,
            polls: 0,
            hist: BTreeMap::new(),
        }
    }
}

#[derive(Debug)]
struct LocStats {
    loc: &'static Location<'static>,
    tasks: u64,
    polls: u64,
}

type LocKey = (&'static str, u32, u32);

#[derive(Debug)]
struct Stats {
    by_kind: [KindStats; 2],
    by_loc: [BTreeMap<LocKey, LocStats>; 2],
}

static STATS: Mutex<Stats> = Mutex::new(Stats {
    by_kind: [KindStats::new(), KindStats::new()],
    by_loc: [BTreeMap::new(), BTreeMap::new()],
});

fn stats() -> MutexGuard<'static, Stats> {
    // A panicking task must not poison the ground truth for everybody else.
    STATS.lock().unwrap_or_else(|e| e.into_inner())
}

fn idx(kind: Kind) -> usize {
    match kind {
        Kind::Async => 0,
        Kind::Blocking => 1,
    }
}

fn key(loc: &'static Location<'static>) -> LocKey {
    (loc.file(), loc.line(), loc.column())
}

fn note_spawn(kind: Kind, loc: &'static Location<'static>) {
    let mut s = stats();
    s.by_kind[idx(kind)].spawned += 1;
    s.by_loc[idx(kind)]
        .entry(key(loc))
        .or_insert(LocStats {
            loc,
            tasks: 0,
            polls: 0,
        })
        .tasks += 1;
}

fn note_finish(kind: Kind, loc: &'static Location<'static>, polls: u64, completed: bool) {
    let mut s = stats();
    let k = &mut s.by_kind[idx(kind)];
    k.finished += 1;
    k.polls += polls;
    if completed {
        k.completed += 1;
    }
    *k.hist.entry(polls).or_insert(0) += 1;
    if let Some(l) = s.by_loc[idx(kind)].get_mut(&key(loc)) {
        l.polls += polls;
    }
}

/// Per-task record kept inside the task. Records itself as "not completed"
/// if the task is dropped before its future returned `Ready` (abort, runtime
/// shutdown, panic).
struct TaskRec {
    kind: Kind,
    loc: &'static Location<'static>,
    polls: u64,
    done: bool,
}

impl TaskRec {
    fn finish(&mut self, completed: bool) {
        if !self.done {
            self.done = true;
            note_finish(self.kind, self.loc, self.polls, completed);
        }
    }
}

impl Drop for TaskRec {
    fn drop(&mut self) {
        self.finish(false);
    }
}

pin_project_lite::pin_project! {
    /// A future wrapper that counts every poll of the inner future and
    /// whether it returned `Ready`.
    pub struct Counted<F> {
        #[pin]
        fut: F,
        rec: TaskRec,
    }
}

impl<F> Counted<F> {
    /// Wraps `fut` and counts one spawned async task at `loc`.
    /// (Use [`spawn`] unless you spawn the wrapper yourself.)
    pub fn new(fut: F, loc: &'static Location<'static>) -> Self {
        note_spawn(Kind::Async, loc);
        Counted {
            fut,
            rec: TaskRec {
                kind: Kind::Async,
                loc,
                polls: 0,
                done: false,
            },
        }
    }
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        this.rec.polls += 1;
        let out = this.fut.poll(cx);
        if out.is_ready() {
            this.rec.finish(true);
        }
        out
    }
}

/// `tokio::spawn` with ground truth. `#[track_caller]`, so both tokio's
/// spawn `Location` and the recorded one are the caller of this function.
#[track_caller]
pub fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let loc = Location::caller();
    tokio::spawn(Counted::new(fut, loc))
}

/// `tokio::task::spawn_blocking` with ground truth: one "poll" per task that
/// started running (tokio polls a blocking task exactly once).
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let loc = Location::caller();
    note_spawn(Kind::Blocking, loc);
    tokio::task::spawn_blocking(move || {
        let mut rec = TaskRec {
            kind: Kind::Blocking,
            loc,
            polls: 1,
            done: false,
        };
        let r = f();
        rec.finish(true);
        r
    })
}

/// Totals for one kind of task.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub spawned: u64,
    pub completed: u64,
    /// Tasks that are finished or were dropped (folded into `polls`).
    pub finished: u64,
    pub polls: u64,
}

/// Current totals for `kind`.
pub fn totals(kind: Kind) -> Totals {
    let s = stats();
    let k = &s.by_kind[idx(kind)];
    Totals {
        spawned: k.spawned,
        completed: k.completed,
        finished: k.finished,
        polls: k.polls,
    }
}

/// Panics unless every counted task was spawned, ran and completed.
pub fn assert_all_completed() {
    for kind in [Kind::Async, Kind::Blocking] {
        let t = totals(kind);
        assert!(
            t.spawned == t.completed && t.spawned == t.finished,
            "ground truth: {:?} tasks not all completed: spawned={} completed={} finished={}",
            kind,
            t.spawned,
            t.completed,
            t.finished
        );
    }
}

/// JSON string literal (with quotes).
pub fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn hist_json(h: &BTreeMap<u64, u64>) -> String {
    let items: Vec<String> = h.iter().map(|(p, n)| format!("\"{}\":{}", p, n)).collect();
    format!("{{{}}}", items.join(","))
}

fn loc_json(m: &BTreeMap<LocKey, LocStats>) -> String {
    let items: Vec<String> = m
        .values()
        .map(|l| {
            format!(
                "{}:{{\"tasks\":{},\"polls\":{}}}",
                json_str(&l.loc.to_string()),
                l.tasks,
                l.polls
            )
        })
        .collect();
    format!("{{{}}}", items.join(","))
}

/// The ground-truth JSON object (one line). `extra` holds additional
/// top-level fields as (key, raw JSON value); they come after the standard
/// ones.
pub fn ground_truth_json(target: &str, extra: &[(&str, String)]) -> String {
    let s = stats();
    let (a, b) = (&s.by_kind[0], &s.by_kind[1]);
    let mut o = String::new();
    let _ = write!(
        o,
        "{{\"target\":{},\"spawned\":{{\"async\":{},\"blocking\":{}}},\
         \"completed\":{{\"async\":{},\"blocking\":{}}},\
         \"polls\":{{\"async\":{},\"blocking\":{}}},\
         \"poll_hist\":{{\"async\":{},\"blocking\":{}}},\
         \"by_location\":{},\"blocking_by_location\":{}",
        json_str(target),
        a.spawned,
        b.spawned,
        a.completed,
        b.completed,
        a.polls,
        b.polls,
        hist_json(&a.hist),
        hist_json(&b.hist),
        loc_json(&s.by_loc[0]),
        loc_json(&s.by_loc[1]),
    );
    for (k, v) in extra {
        let _ = write!(o, ",{}:{}", json_str(k), v);
    }
    o.push('}');
    o
}

/// Prints the ground-truth line on stdout (exactly one line) and flushes.
pub fn print_ground_truth(target: &str, extra: &[(&str, String)]) {
    let line = ground_truth_json(target, extra);
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", line).expect("cannot write ground truth to stdout");
    out.flush().expect("cannot flush stdout");
}
