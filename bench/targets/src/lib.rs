//! Shared by the benchmark targets: option parsing, the ready line, and
//! (feature `console`) the per-task stats layer that stands in for
//! tokio-console's.

#[cfg(feature = "console")]
pub mod console;

use std::str::FromStr;

/// `--flag value` / `--flag=value` options; errors exit 2 with the usage text.
pub struct Args {
    prog: &'static str,
    usage: &'static str,
    args: std::vec::IntoIter<String>,
    pending: Option<String>,
}

impl Args {
    pub fn from_env(prog: &'static str, usage: &'static str) -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        Args { prog, usage, args: args.into_iter(), pending: None }
    }

    /// Next option name (`--x`), or `None` at the end. Handles `--help`.
    pub fn next_flag(&mut self) -> Option<String> {
        if let Some(v) = self.pending.take() {
            self.fail(&format!("unexpected value {:?}", v));
        }
        let a = self.args.next()?;
        if a == "-h" || a == "--help" {
            print!("{}", self.usage);
            std::process::exit(0);
        }
        if !a.starts_with("--") {
            self.fail(&format!("unexpected argument {:?}", a));
        }
        match a.split_once('=') {
            Some((k, v)) => {
                self.pending = Some(v.to_string());
                Some(k.to_string())
            }
            None => Some(a),
        }
    }

    pub fn value<T: FromStr>(&mut self, flag: &str) -> T
    where
        T::Err: std::fmt::Display,
    {
        let v = match self.pending.take().or_else(|| self.args.next()) {
            Some(v) => v,
            None => self.fail(&format!("option {} needs a value", flag)),
        };
        match v.parse() {
            Ok(x) => x,
            Err(e) => self.fail(&format!("bad value {:?} for {}: {}", v, flag, e)),
        }
    }

    pub fn unknown(&self, flag: &str) -> ! {
        self.fail(&format!("unknown option {}", flag))
    }

    pub fn fail(&self, msg: &str) -> ! {
        eprint!("{}: {}\n{}", self.prog, msg, self.usage);
        std::process::exit(2)
    }
}

/// The line the harness waits for, on stderr: `ready pid=<PID><extra>`.
pub fn ready(extra: &str) {
    eprintln!("ready pid={}{}", std::process::id(), extra);
}

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
