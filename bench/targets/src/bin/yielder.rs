//! `yielder`: a tokio program that does nothing but poll, for the per-poll
//! cost benchmark.  Each round spawns `--tasks` tasks that each call
//! `yield_now` `--yields` times, so a round is tasks * (yields + 1) polls,
//! each with one waker clone and one wake.
//!
//! Driven on stdin, so one process serves every configuration of a
//! benchmark (the tracer attaches and detaches between rounds):
//!   `run`   one round; prints {"polls":N,"tasks":T,"elapsed_ns":E} on stdout
//!   EOF     exit

use std::io::{BufRead, Write};
use std::time::Instant;

use bench_targets::Args;

const USAGE: &str = "\
usage: yielder [--tasks N] [--yields M] [--workers W]
  --tasks N    tasks per round (default 100)
  --yields M   yield_now calls per task (default 1000)
  --workers W  worker threads of the multi-thread runtime (default 1)
Prints `ready pid=<PID>` on stderr, then runs one round per `run` line on stdin.
";

async fn yielder(m: u64) {
    for _ in 0..m {
        tokio::task::yield_now().await;
    }
}

fn main() {
    let mut a = Args::from_env("yielder", USAGE);
    let (mut tasks, mut yields, mut workers) = (100u64, 1000u64, 1usize);
    while let Some(f) = a.next_flag() {
        match f.as_str() {
            "--tasks" => tasks = a.value(&f),
            "--yields" => yields = a.value(&f),
            "--workers" => workers = a.value(&f),
            _ => a.unknown(&f),
        }
    }
    if workers == 0 || tasks == 0 {
        a.fail("--workers and --tasks must be at least 1");
    }
    let rt = bench_targets::runtime(workers);
    bench_targets::ready("");

    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line.expect("yielder: cannot read stdin");
        match line.trim() {
            "run" => {}
            "" => continue,
            other => panic!("yielder: unknown command {:?}", other),
        }
        let t0 = Instant::now();
        rt.block_on(async {
            let handles: Vec<_> = (0..tasks).map(|_| tokio::spawn(yielder(yields))).collect();
            for h in handles {
                h.await.expect("yielder: task failed");
            }
        });
        let elapsed = t0.elapsed();
        writeln!(
            out,
            "{{\"polls\":{},\"tasks\":{},\"elapsed_ns\":{}}}",
            tasks * (yields + 1),
            tasks,
            elapsed.as_nanos()
        )
        .and_then(|_| out.flush())
        .expect("yielder: cannot write stdout");
    }
}
