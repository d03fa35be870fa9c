//! `benchserver`: the traced service of `make bench`.  A plain hyper 0.14
//! HTTP/1 server (hyper's own executor, i.e. `tokio::spawn`, no wrappers)
//! answering `hello world`, optionally after `--work-us` of CPU work (a fixed
//! computation, calibrated at start-up to take that long here).
//!
//! Built twice by build.sh: as is, and with tokio's own instrumentation
//! (`--cfg tokio_unstable`, feature `console`), where it installs the
//! per-task stats layer of `bench_targets::console` before serving, and
//! `GET /stats` returns what that layer counted.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hyper::service::{make_service_fn, service_fn};
use hyper::{Body, Request, Response, Server};

use bench_targets::Args;

const USAGE: &str = "\
usage: benchserver [--port P] [--workers N] [--work-us N]
  --port P       listen on 127.0.0.1:P (default 0: pick a free port)
  --workers N    worker threads of the multi-thread runtime (default 1)
  --work-us N    about N microseconds of CPU work per request (default 0): a
                 fixed computation, calibrated at start-up
  --work-rounds R  exactly R rounds of that computation instead (the
                 `work_rounds=` a calibrated server printed), so that two
                 servers do the same work
Prints `ready pid=<PID> port=<PORT> work_rounds=<R>` on stderr and serves until killed.
GET /stats: the tokio-instrumentation layer's totals (instrumented build only).
";

/// A fixed amount of CPU work: `n` rounds of a dependent chain the compiler
/// cannot fold.  Fixed, not "until N us have passed", so that a request costs
/// the same CPU however often the thread is preempted meanwhile.
fn burn(n: u64) {
    let mut x = 0u64;
    for _ in 0..n {
        for i in 0..64u64 {
            x = std::hint::black_box(x.rotate_left(7) ^ i);
        }
    }
    std::hint::black_box(x);
}

/// Rounds of `burn` that take `us` microseconds here: the fastest of a few
/// timed runs (the least disturbed), scaled.
fn calibrate(us: u64) -> u64 {
    if us == 0 {
        return 0;
    }
    let probe = 20_000u64;
    let best = (0..7)
        .map(|_| {
            let t = Instant::now();
            burn(probe);
            t.elapsed()
        })
        .min()
        .unwrap_or(Duration::from_millis(1));
    ((probe as f64) * (us as f64 * 1e3) / (best.as_nanos().max(1) as f64)).round() as u64
}

#[cfg(feature = "console")]
fn stats() -> String {
    let t = bench_targets::console::totals();
    format!(
        "{{\"instrumented\":true,\"tasks\":{},\"closed\":{},\"polls\":{},\"busy_ns\":{},\"wakes\":{},\"waker_clones\":{},\"waker_drops\":{}}}\n",
        t.tasks, t.closed, t.polls, t.busy_ns, t.wakes, t.waker_clones, t.waker_drops
    )
}

#[cfg(not(feature = "console"))]
fn stats() -> String {
    "{\"instrumented\":false}\n".to_string()
}

async fn handle(req: Request<Body>, work_rounds: u64) -> Result<Response<Body>, Infallible> {
    if req.uri().path() == "/stats" {
        return Ok(Response::new(Body::from(stats())));
    }
    if work_rounds > 0 {
        burn(work_rounds);
    }
    Ok(Response::new(Body::from("hello world")))
}

fn main() {
    let mut a = Args::from_env("benchserver", USAGE);
    let (mut port, mut workers, mut work_us) = (0u16, 1usize, 0u64);
    let mut rounds: Option<u64> = None;
    while let Some(f) = a.next_flag() {
        match f.as_str() {
            "--port" => port = a.value(&f),
            "--workers" => workers = a.value(&f),
            "--work-us" => work_us = a.value(&f),
            "--work-rounds" => rounds = Some(a.value(&f)),
            _ => a.unknown(&f),
        }
    }
    if workers == 0 {
        a.fail("--workers must be at least 1");
    }

    #[cfg(feature = "console")]
    bench_targets::console::install();
    let work_rounds = rounds.unwrap_or_else(|| calibrate(work_us));

    let rt = bench_targets::runtime(workers);
    rt.block_on(async move {
        let make_svc = make_service_fn(move |_conn| async move {
            Ok::<_, Infallible>(service_fn(move |req| handle(req, work_rounds)))
        });
        let server = Server::try_bind(&SocketAddr::from(([127, 0, 0, 1], port)))
            .unwrap_or_else(|e| panic!("benchserver: cannot bind 127.0.0.1:{}: {}", port, e))
            .tcp_nodelay(true)
            .serve(make_svc);
        bench_targets::ready(&format!(" port={} work_rounds={}", server.local_addr().port(), work_rounds));
        server.await.expect("benchserver: server error");
    });
}
