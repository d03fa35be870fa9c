//! Per-task stats from tokio's own instrumentation (`--cfg tokio_unstable` and
//! tokio's `tracing` feature), kept the way tokio-console's ConsoleLayer
//! keeps them: a `runtime.spawn` span per task, stats in the span's
//! extensions, polls from span enters and exits, busy time from the clock
//! read at each, and waker operations from tokio's `tokio::task::waker`
//! events.  What the benchmark compares asyncscope with: the in-process
//! price of the same data.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

fn now_ns() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// One task's stats; shared with the registry of all tasks (console's
/// aggregator keeps every task, finished ones too, until they are reported).
#[derive(Default)]
pub struct TaskStats {
    pub created_ns: AtomicU64,
    pub closed_ns: AtomicU64,
    pub polls: AtomicU64,
    pub busy_ns: AtomicU64,
    entered_ns: AtomicU64,
    pub wakes: AtomicU64,
    pub waker_clones: AtomicU64,
    pub waker_drops: AtomicU64,
}

#[derive(Default)]
pub struct Totals {
    pub tasks: u64,
    pub closed: u64,
    pub polls: u64,
    pub busy_ns: u64,
    pub wakes: u64,
    pub waker_clones: u64,
    pub waker_drops: u64,
}

static TASKS: Mutex<Vec<Arc<TaskStats>>> = Mutex::new(Vec::new());

fn is_task_span(m: &Metadata<'_>) -> bool {
    m.is_span() && m.target() == "tokio::task" && m.name() == "runtime.spawn"
}

fn is_waker_event(m: &Metadata<'_>) -> bool {
    m.is_event() && m.target() == "tokio::task::waker"
}

pub struct TaskStatsLayer;

#[derive(Default)]
struct WakerOp {
    op: Option<&'static str>,
    task: Option<u64>,
}

impl Visit for WakerOp {
    fn record_u64(&mut self, f: &Field, v: u64) {
        if f.name() == "task.id" {
            self.task = Some(v);
        }
    }

    fn record_str(&mut self, f: &Field, v: &str) {
        if f.name() == "op" {
            self.op = match v {
                "waker.wake" | "waker.wake_by_ref" => Some("wake"),
                "waker.clone" => Some("clone"),
                "waker.drop" => Some("drop"),
                _ => None,
            };
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl<S> Layer<S> for TaskStatsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, m: &'static Metadata<'static>) -> Interest {
        if is_task_span(m) || is_waker_event(m) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, m: &Metadata<'_>, _: Context<'_, S>) -> bool {
        is_task_span(m) || is_waker_event(m)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !is_task_span(attrs.metadata()) {
            return;
        }
        let stats = Arc::new(TaskStats::default());
        stats.created_ns.store(now_ns(), Ordering::Relaxed);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(stats.clone());
        }
        TASKS.lock().unwrap_or_else(|e| e.into_inner()).push(stats);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(s) = span.extensions().get::<Arc<TaskStats>>() {
                s.entered_ns.store(now_ns(), Ordering::Relaxed);
            }
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(s) = span.extensions().get::<Arc<TaskStats>>() {
                let start = s.entered_ns.load(Ordering::Relaxed);
                s.busy_ns.fetch_add(now_ns().saturating_sub(start), Ordering::Relaxed);
                s.polls.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            if let Some(s) = span.extensions().get::<Arc<TaskStats>>() {
                s.closed_ns.store(now_ns(), Ordering::Relaxed);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut w = WakerOp::default();
        event.record(&mut w);
        let (Some(op), Some(task)) = (w.op, w.task) else {
            return;
        };
        let Some(span) = ctx.span(&Id::from_u64(task)) else {
            return;
        };
        if let Some(s) = span.extensions().get::<Arc<TaskStats>>() {
            let c = match op {
                "wake" => &s.wakes,
                "clone" => &s.waker_clones,
                _ => &s.waker_drops,
            };
            c.fetch_add(1, Ordering::Relaxed);
        };
    }
}

/// Installs the registry and the layer as the global subscriber.
pub fn install() {
    tracing_subscriber::registry()
        .with(TaskStatsLayer)
        .try_init()
        .expect("cannot install the tracing subscriber");
}

/// Sums over every task seen so far.
pub fn totals() -> Totals {
    let tasks = TASKS.lock().unwrap_or_else(|e| e.into_inner());
    let mut t = Totals { tasks: tasks.len() as u64, ..Default::default() };
    for s in tasks.iter() {
        t.closed += (s.closed_ns.load(Ordering::Relaxed) != 0) as u64;
        t.polls += s.polls.load(Ordering::Relaxed);
        t.busy_ns += s.busy_ns.load(Ordering::Relaxed);
        t.wakes += s.wakes.load(Ordering::Relaxed);
        t.waker_clones += s.waker_clones.load(Ordering::Relaxed);
        t.waker_drops += s.waker_drops.load(Ordering::Relaxed);
    }
    t
}
