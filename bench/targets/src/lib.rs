//! Shared by the benchmark targets: option parsing, the ready line, and
//! (feature `console`) the per-task stats layer that stands in for
//! tokio-console's.

#[cfg(feature = "console")]
pub mod console;

#[path = "../../../tests/targets/src/args.rs"]
mod args;
pub use args::{ready, Args};

/// A multi-thread runtime with `workers` workers; returns once every worker
/// has parked once, so nothing of the runtime's start-up is left to run
/// while a benchmark measures.
pub fn runtime(workers: usize) -> tokio::runtime::Runtime {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let parked = Arc::new(AtomicUsize::new(0));
    let p = parked.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .on_thread_park(move || {
            p.fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .expect("cannot build the tokio runtime");
    while parked.load(Ordering::Relaxed) < workers {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    rt
}
