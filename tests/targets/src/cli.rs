//! The start/stop protocol shared by all targets (options: [`crate::args`]).
//!
//! Protocol: build the runtime (and wait until its worker threads run), print
//! `ready pid=<PID>[ port=<PORT>]` as one line on stderr, then, with
//! `--gate PATH`, wait on the main thread (not in a task) until PATH exists;
//! only then spawn anything.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::signal::unix::{signal, Signal, SignalKind};

pub use crate::args::{ready, Args};

/// Blocks the calling (main) thread until `path` exists, checking every
/// 5 ms. `timeout` None = wait forever.
pub fn wait_gate(path: &Path, timeout: Option<Duration>) {
    let start = Instant::now();
    while !path.exists() {
        if let Some(t) = timeout {
            if start.elapsed() >= t {
                panic!("gate file {} did not appear within {:?}", path.display(), t);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `--gate PATH` and `--gate-timeout-s N` (default 300, 0 = forever).
#[derive(Clone, Debug)]
pub struct Gate {
    pub path: Option<PathBuf>,
    pub timeout: Option<Duration>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            path: None,
            timeout: Some(Duration::from_secs(300)),
        }
    }
}

impl Gate {
    /// Consumes `flag` if it is a gate option; returns whether it was.
    pub fn parse_flag(&mut self, args: &mut Args, flag: &str) -> bool {
        match flag {
            "--gate" => self.path = Some(PathBuf::from(args.value::<String>(flag))),
            "--gate-timeout-s" => {
                let s: u64 = args.value(flag);
                self.timeout = if s == 0 {
                    None
                } else {
                    Some(Duration::from_secs(s))
                };
            }
            _ => return false,
        }
        true
    }

    /// Prints the ready line, then waits for the gate file if there is one.
    pub fn ready_and_wait(&self, extra: &str) {
        ready(extra);
        if let Some(p) = &self.path {
            wait_gate(p, self.timeout);
        }
    }
}

static PARKED_THREADS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static PARKED_ONCE: Cell<bool> = const { Cell::new(false) };
}

/// Runtime `on_thread_park` hook: counts distinct threads that parked.
/// A multi-thread worker parks for the first time from inside its run
/// loop, i.e. after tokio has started (polled) its launch task.
pub fn note_park() {
    PARKED_ONCE.with(|p| {
        if !p.replace(true) {
            PARKED_THREADS.fetch_add(1, Ordering::SeqCst);
        }
    });
}

/// Waits until `n` worker threads have parked once (so the runtime is fully
/// started and idle before the ready line is printed).
pub fn wait_workers_parked(n: usize) {
    let start = Instant::now();
    while PARKED_THREADS.load(Ordering::SeqCst) < n {
        if start.elapsed() > Duration::from_secs(10) {
            panic!(
                "only {} of {} runtime worker threads started within 10 s",
                PARKED_THREADS.load(Ordering::SeqCst),
                n
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A current-thread runtime, or a multi-thread one with `workers` workers
/// that have all started and parked once (see `wait_workers_parked`).
pub fn runtime(current_thread: bool, workers: usize) -> tokio::runtime::Runtime {
    if current_thread {
        return tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .on_thread_park(note_park)
        .enable_all()
        .build()
        .expect("runtime");
    wait_workers_parked(workers);
    rt
}

static STDIN_EOF: AtomicBool = AtomicBool::new(false);

/// Stop conditions for long-running modes: SIGTERM/SIGINT (tokio::signal),
/// optionally stdin EOF, optionally a deadline. Create it inside the
/// runtime context (`rt.enter()`). The targets create it right after the
/// gate, so a signal before that terminates the process as usual.
pub struct Stop {
    term: Signal,
    int: Signal,
    stdin: bool,
    deadline: Option<Duration>,
    started: Option<Instant>,
    hit: bool,
}

impl Stop {
    pub fn new(stdin: bool, deadline: Option<Duration>) -> Self {
        let term = signal(SignalKind::terminate()).expect("cannot install SIGTERM handler");
        let int = signal(SignalKind::interrupt()).expect("cannot install SIGINT handler");
        if stdin {
            std::thread::Builder::new()
                .name("stdin-stop".into())
                .spawn(|| {
                    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
                    STDIN_EOF.store(true, Ordering::SeqCst);
                })
                .expect("cannot start stdin thread");
        }
        Stop {
            term,
            int,
            stdin,
            deadline,
            started: None,
            hit: false,
        }
    }

    /// Starts the deadline clock (call when the workload starts).
    pub fn start(&mut self) {
        self.started = Some(Instant::now());
    }

    /// Ready once a stop condition is met. Signals wake the caller;
    /// stdin EOF and the deadline are only noticed when polled.
    pub fn poll_stop(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.hit {
            let t = self.term.poll_recv(cx).is_ready();
            let i = self.int.poll_recv(cx).is_ready();
            let s = self.stdin && STDIN_EOF.load(Ordering::SeqCst);
            let d = match (self.deadline, self.started) {
                (Some(d), Some(s0)) => s0.elapsed() >= d,
                _ => false,
            };
            self.hit = t || i || s || d;
        }
        if self.hit {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Non-blocking check.
    pub async fn should_stop(&mut self) -> bool {
        std::future::poll_fn(|cx| Poll::Ready(self.poll_stop(cx).is_ready())).await
    }
}
