//! `hyperserver`: a plain hyper 0.14 HTTP/1 server answering "hello world".
//!
//! Connection tasks are spawned by hyper through [`CountingExec`], so they go
//! through `targets::spawn` and are counted. Stops on `GET /quit` (and, with
//! `--until-killed`, on SIGTERM/SIGINT) with a graceful shutdown, then prints
//! the ground truth.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use hyper::server::conn::AddrIncoming;
use hyper::service::{make_service_fn, service_fn};
use hyper::{header, Body, Request, Response, Server};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use targets::cli::{Args, Gate, Stop};

const USAGE: &str = "\
usage: hyperserver [--port P] [--workers N] [--work-us N] [--until-killed] [--gate PATH] [--gate-timeout-s N]
  --port P          listen on 127.0.0.1:P (default 0 = pick a free port)
  --workers N       multi-thread runtime worker threads (default 2)
  --work-us N       burn about N microseconds of CPU per request (default 0)
  --until-killed    also stop on SIGTERM/SIGINT (graceful shutdown, then ground truth)
  --gate PATH       print the ready line, then wait until PATH exists before serving
  --gate-timeout-s  give up (panic) if the gate file does not appear (default 300, 0 = never)
Answers \"hello world\" to every request; `GET /quit` starts a graceful shutdown.
Prints `ready pid=<PID> port=<PORT>` on stderr, then one ground-truth JSON line on stdout.
";

/// Requests answered with "hello world" (not counting /quit).
static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// JoinHandles of the connection tasks still running (finished ones are
/// pruned on every spawn), awaited at shutdown.
static CONN_TASKS: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

/// hyper executor that spawns connection tasks through the counting wrapper.
#[derive(Clone, Copy, Debug)]
struct CountingExec;

impl<F> hyper::rt::Executor<F> for CountingExec
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, fut: F) {
        let h = targets::spawn(fut);
        let mut tasks = CONN_TASKS.lock().unwrap_or_else(|e| e.into_inner());
        tasks.retain(|t| !t.is_finished());
        tasks.push(h);
    }
}

fn burn(us: u64) {
    let end = Instant::now() + Duration::from_micros(us);
    let mut x = 0u64;
    while Instant::now() < end {
        for i in 0..64u64 {
            x = std::hint::black_box(x.rotate_left(7) ^ i);
        }
    }
    std::hint::black_box(x);
}

async fn handle(
    req: Request<Body>,
    quit: Arc<Notify>,
    work_us: u64,
) -> Result<Response<Body>, Infallible> {
    if req.uri().path() == "/quit" {
        quit.notify_one();
        let resp = Response::builder()
            .header(header::CONNECTION, "close")
            .body(Body::from("bye\n"))
            .expect("building /quit response");
        return Ok(resp);
    }
    if work_us > 0 {
        burn(work_us);
    }
    REQUESTS.fetch_add(1, Ordering::Relaxed);
    Ok(Response::new(Body::from("hello world")))
}

fn main() {
    let mut a = Args::from_env("hyperserver", USAGE);
    let mut port: u16 = 0;
    let mut workers: usize = 2;
    let mut work_us: u64 = 0;
    let mut until_killed = false;
    let mut gate = Gate::default();
    while let Some(f) = a.next_flag() {
        if gate.parse_flag(&mut a, &f) {
            continue;
        }
        match f.as_str() {
            "--port" => port = a.value(&f),
            "--workers" => workers = a.value(&f),
            "--work-us" => work_us = a.value(&f),
            "--until-killed" => until_killed = true,
            _ => a.unknown(&f),
        }
    }
    if workers == 0 {
        a.fail("--workers must be at least 1");
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .on_thread_park(targets::cli::note_park)
        .build()
        .expect("cannot build the tokio runtime");
    targets::cli::wait_workers_parked(workers);

    let guard = rt.enter();
    let mut incoming = AddrIncoming::bind(&SocketAddr::from(([127, 0, 0, 1], port)))
        .unwrap_or_else(|e| panic!("hyperserver: cannot bind 127.0.0.1:{}: {}", port, e));
    incoming.set_nodelay(true);
    let port = incoming.local_addr().port();
    gate.ready_and_wait(&format!(" port={}", port));
    // After the gate, so that SIGTERM/SIGINT before it simply terminate.
    let mut stop = if until_killed {
        Some(Stop::new(false, None))
    } else {
        None
    };

    let quit = Arc::new(Notify::new());
    let make_svc = {
        let quit = quit.clone();
        make_service_fn(move |_conn| {
            let quit = quit.clone();
            async move { Ok::<_, Infallible>(service_fn(move |req| handle(req, quit.clone(), work_us))) }
        })
    };
    let shutdown = async move {
        let mut notified = pin!(quit.notified());
        std::future::poll_fn(|cx| {
            if notified.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
            match stop.as_mut() {
                Some(s) => s.poll_stop(cx),
                None => Poll::Pending,
            }
        })
        .await
    };
    let server = Server::builder(incoming)
        .executor(CountingExec)
        .serve(make_svc)
        .with_graceful_shutdown(shutdown);

    let t0 = Instant::now();
    rt.block_on(async {
        server.await.expect("hyperserver: server error");
        // Graceful shutdown is over once every connection is closed; also wait
        // for the tasks themselves so their ground truth is recorded.
        let tasks = std::mem::take(&mut *CONN_TASKS.lock().unwrap_or_else(|e| e.into_inner()));
        for t in tasks {
            t.await.expect("hyperserver: connection task failed");
        }
    });
    let elapsed = t0.elapsed();
    drop(guard);
    drop(rt);

    targets::gt::assert_all_completed();
    targets::gt::print_ground_truth(
        "hyperserver",
        &[
            ("pid", std::process::id().to_string()),
            ("port", port.to_string()),
            ("requests", REQUESTS.load(Ordering::Relaxed).to_string()),
            ("elapsed_ms", format!("{:.3}", elapsed.as_secs_f64() * 1e3)),
        ],
    );
}
