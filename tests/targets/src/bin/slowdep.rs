//! `slowdep`: a tokio service with a slow dependency.
//!
//! Each client connection carries one request line, `slow <id>` or
//! `fast <id>`, answered by its own handler task.  A fast request is answered
//! at once; a slow one makes its handler connect to a backend over loopback
//! TCP, send `q <id>` and wait for the answer, which the backend sends after
//! a fixed delay (`--delay-ms`, default 40).  The backend is a separate,
//! std-only process (this binary with `--backend`), started before the ready
//! line, so everything traced in this process is the service.
//!
//! `slowdep --client --port P --requests N [--slow-every K] [--threads T]`
//! is the load: T threads sending N requests in all, one connection each,
//! every K-th one slow (default 4), std only.
//!
//! Ground truth (after the standard fields):
//!   "io":{"port":P,"backend_port":B,"delay_ms":D,
//!         "handlers":[{"peer_port":client port,"slow":bool,"backend_local_port":L|0,
//!                      "backend_wait_us":from the query sent to its answer read, 0 if fast,
//!                      "backend_sent_ns","backend_read_ns":CLOCK_MONOTONIC (the tracer's
//!                      clock) just before the query is written and just after the answer
//!                      is read, 0 if fast},...]}

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader as TokioBufReader};
use tokio::net::{TcpListener, TcpStream};

use targets::cli::{self, Args, Gate};
use targets::{gt, spawn};

const USAGE: &str = "\
usage: slowdep [--requests N] [--delay-ms D] [--workers N] [--gate PATH] [--gate-timeout-s N]
       slowdep --client --port P --requests N [--slow-every K] [--threads T]
       slowdep --backend [--delay-ms D]
  --requests N      connections the service answers before it exits (default 40)
  --delay-ms D      the backend's delay before each answer (default 40)
  --workers N       multi-thread runtime workers (default 2)
";

struct Handled {
    peer_port: u16,
    slow: bool,
    backend_local_port: u16,
    /// from sending the query until its answer was read, as the handler saw it
    backend_wait_us: u128,
    /// CLOCK_MONOTONIC ns before the query was written and after its answer was read
    backend_sent_ns: u64,
    backend_read_ns: u64,
}

/// CLOCK_MONOTONIC in ns: the clock the tracer stamps with (bpf_ktime_get_ns).
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A slow handler's exchange with the backend, as it measured it.
struct BackendExchange {
    local_port: u16,
    wait_us: u128,
    sent_ns: u64,
    read_ns: u64,
}

static HANDLED: Mutex<Vec<Handled>> = Mutex::new(Vec::new());

/// The dependency: answers each query line after the delay, one thread per connection.
fn backend(delay: Duration) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("backend: bind");
    println!("port={}", l.local_addr().expect("backend: local_addr").port());
    std::io::stdout().flush().expect("backend: stdout");
    // the service closes our stdin when it is done (or dies): exit then
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        std::process::exit(0);
    });
    for s in l.incoming() {
        let s = match s {
            Ok(s) => s,
            Err(_) => continue,
        };
        std::thread::spawn(move || {
            let mut r = BufReader::new(s.try_clone().expect("backend: clone"));
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            std::thread::sleep(delay);
            let id = line.trim().trim_start_matches("q ").to_string();
            let _ = (&s).write_all(format!("a {}\n", id).as_bytes());
        });
    }
}

/// The load: `requests` connections over `threads` threads, every `slow_every`-th slow.
fn client(port: u16, requests: u64, slow_every: u64, threads: u64) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                let mut i = t;
                while i < requests {
                    let kind = if i % slow_every == 0 { "slow" } else { "fast" };
                    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                        .expect("client: connect");
                    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
                    s.write_all(format!("{} {}\n", kind, i).as_bytes()).expect("client: write");
                    let mut line = String::new();
                    BufReader::new(&s).read_line(&mut line).expect("client: read");
                    assert_eq!(line, format!("ok {}\n", i), "client: wrong answer");
                    i += threads;
                }
            })
        })
        .collect();
    for h in hs {
        h.join().expect("client thread panicked");
    }
    println!("{{\"requests\":{}}}", requests);
}

async fn query_backend(backend: SocketAddr, id: &str) -> BackendExchange {
    let s = TcpStream::connect(backend).await.expect("handler: backend connect");
    let local = s.local_addr().expect("local_addr").port();
    let (r, mut w) = s.into_split();
    let t0 = Instant::now();
    let sent_ns = monotonic_ns();
    w.write_all(format!("q {}\n", id).as_bytes())
        .await
        .expect("handler: backend write");
    let mut line = String::new();
    TokioBufReader::new(r)
        .read_line(&mut line)
        .await
        .expect("handler: backend read");
    let read_ns = monotonic_ns();
    assert_eq!(line, format!("a {}\n", id), "handler: wrong backend answer");
    BackendExchange {
        local_port: local,
        wait_us: t0.elapsed().as_micros(),
        sent_ns,
        read_ns,
    }
}

async fn handler(sock: TcpStream, backend: SocketAddr) {
    let peer_port = sock.peer_addr().expect("peer_addr").port();
    let (r, mut w) = sock.into_split();
    let mut line = String::new();
    TokioBufReader::new(r)
        .read_line(&mut line)
        .await
        .expect("handler: read");
    let mut parts = line.split_whitespace();
    let (kind, id) = (parts.next().unwrap_or(""), parts.next().unwrap_or("").to_string());
    let slow = kind == "slow";
    let ex = if slow {
        query_backend(backend, &id).await
    } else {
        BackendExchange {
            local_port: 0,
            wait_us: 0,
            sent_ns: 0,
            read_ns: 0,
        }
    };
    w.write_all(format!("ok {}\n", id).as_bytes())
        .await
        .expect("handler: write");
    HANDLED.lock().unwrap().push(Handled {
        peer_port,
        slow,
        backend_local_port: ex.local_port,
        backend_wait_us: ex.wait_us,
        backend_sent_ns: ex.sent_ns,
        backend_read_ns: ex.read_ns,
    });
}

async fn acceptor(listener: TcpListener, backend: SocketAddr, requests: u64) {
    let mut hs = Vec::new();
    for _ in 0..requests {
        let (s, _) = listener.accept().await.expect("accept");
        hs.push(spawn(handler(s, backend)));
    }
    for h in hs {
        h.await.expect("handler task failed");
    }
}

fn main() {
    let mut args = Args::from_env("slowdep", USAGE);
    let mut gate = Gate::default();
    let (mut requests, mut delay_ms, mut workers) = (40u64, 40u64, 2usize);
    let (mut mode, mut port, mut slow_every, mut threads) = ("service", 0u16, 4u64, 4u64);
    while let Some(flag) = args.next_flag() {
        if gate.parse_flag(&mut args, &flag) {
            continue;
        }
        match flag.as_str() {
            "--requests" => requests = args.value(&flag),
            "--delay-ms" => delay_ms = args.value(&flag),
            "--workers" => workers = args.value(&flag),
            "--backend" => mode = "backend",
            "--client" => mode = "client",
            "--port" => port = args.value(&flag),
            "--slow-every" => slow_every = args.value(&flag),
            "--threads" => threads = args.value(&flag),
            _ => args.unknown(&flag),
        }
    }
    match mode {
        "backend" => return backend(Duration::from_millis(delay_ms)),
        "client" => return client(port, requests, slow_every.max(1), threads.max(1)),
        _ => {}
    }

    let mut child = Command::new(std::env::current_exe().expect("current_exe"))
        .args(["--backend", "--delay-ms", &delay_ms.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cannot start the backend");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("backend stdout"))
        .read_line(&mut first)
        .expect("backend: no port line");
    let backend_port: u16 = first
        .trim()
        .trim_start_matches("port=")
        .parse()
        .expect("backend: bad port line");
    let backend = SocketAddr::from(([127, 0, 0, 1], backend_port));

    let rt = cli::runtime(false, workers);
    let listener = rt
        .block_on(TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))))
        .expect("cannot bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local_addr").port();
    gate.ready_and_wait(&format!(" port={} backend_port={}", port, backend_port));
    let start = Instant::now();
    rt.block_on(async move {
        spawn(acceptor(listener, backend, requests))
            .await
            .expect("acceptor failed");
    });
    drop(child.stdin.take());
    let _ = child.wait();
    gt::assert_all_completed();
    let hs: Vec<String> = HANDLED
        .lock()
        .unwrap()
        .iter()
        .map(|h| {
            format!(
                "{{\"peer_port\":{},\"slow\":{},\"backend_local_port\":{},\"backend_wait_us\":{},\
                 \"backend_sent_ns\":{},\"backend_read_ns\":{}}}",
                h.peer_port,
                h.slow,
                h.backend_local_port,
                h.backend_wait_us,
                h.backend_sent_ns,
                h.backend_read_ns
            )
        })
        .collect();
    gt::print_ground_truth(
        "slowdep",
        &[
            ("pid", std::process::id().to_string()),
            ("elapsed_ms", start.elapsed().as_millis().to_string()),
            (
                "io",
                format!(
                    "{{\"port\":{},\"backend_port\":{},\"delay_ms\":{},\"handlers\":[{}]}}",
                    port,
                    backend_port,
                    delay_ms,
                    hs.join(",")
                ),
            ),
        ],
    );
}
