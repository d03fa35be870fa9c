//! The mixed workload run by the `mt` and `ct` binaries.
//!
//! One round (scale S) spawns, through the counting wrappers:
//! * 2*S sleepers, each doing 1-3 `tokio::time::sleep`s of 2-5 ms;
//! * an mpsc channel (capacity 16): 4 producers sending max(S/2,1) messages
//!   each, 1 consumer;
//! * max(S/2,1) yielders, each calling `yield_now` 3-8 times;
//! * a TCP echo over 127.0.0.1 (port 0): 1 server task accepting
//!   max(S/10,1) connections and spawning 1 echo task per connection, and
//!   max(S/10,1) client tasks writing+reading 4 messages of 64 bytes;
//! * 4 `spawn_blocking` calls.
//!
//! Every JoinHandle is awaited before the round ends. The structure (which
//! task sleeps how often, ...) is a deterministic function of round and index.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::mpsc;

use crate::cli::{Args, Gate, Stop};
use crate::{gt, spawn, spawn_blocking};

/// splitmix64 finaliser: a deterministic per-(round, index) choice.
fn mix(a: u64, b: u64) -> u64 {
    let mut x = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_add(0x632B_E59B_D9B4_E019);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

const MSG_LEN: usize = 64;
const MSGS_PER_CONN: usize = 4;
const PRODUCERS: u64 = 4;
const BLOCKING_PER_ROUND: u64 = 4;

async fn sleeper(round: u64, i: u64) -> u64 {
    let h = mix(round, i);
    let n = 1 + h % 3;
    for k in 0..n {
        let ms = 2 + (h >> (8 + 4 * k)) % 4;
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    n
}

async fn yielder(n: u64) -> u64 {
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
    n
}

async fn producer(tx: mpsc::Sender<u64>, p: u64, count: u64) {
    for k in 0..count {
        tx.send(p * 1_000_000 + k)
            .await
            .expect("mpsc consumer went away");
    }
}

async fn consumer(mut rx: mpsc::Receiver<u64>) -> u64 {
    let mut n = 0;
    while rx.recv().await.is_some() {
        n += 1;
    }
    n
}

async fn echo_conn(mut sock: TcpStream) -> usize {
    let mut buf = [0u8; 1024];
    let mut total = 0;
    loop {
        let n = sock.read(&mut buf).await.expect("echo conn: read failed");
        if n == 0 {
            return total;
        }
        sock.write_all(&buf[..n])
            .await
            .expect("echo conn: write failed");
        total += n;
    }
}

async fn echo_server(listener: TcpListener, conns: u64) -> usize {
    let mut handles = Vec::with_capacity(conns as usize);
    for _ in 0..conns {
        let (sock, _) = listener.accept().await.expect("echo server: accept failed");
        sock.set_nodelay(true).expect("set_nodelay");
        handles.push(spawn(echo_conn(sock)));
    }
    let mut total = 0;
    for h in handles {
        total += h.await.expect("echo conn task failed");
    }
    total
}

async fn echo_client(addr: SocketAddr, round: u64, i: u64) -> usize {
    let mut sock = TcpStream::connect(addr)
        .await
        .expect("echo client: connect failed");
    sock.set_nodelay(true).expect("set_nodelay");
    let mut got = [0u8; MSG_LEN];
    for m in 0..MSGS_PER_CONN {
        let b = (mix(round, i) as u8).wrapping_add(m as u8);
        let msg = [b; MSG_LEN];
        sock.write_all(&msg)
            .await
            .expect("echo client: write failed");
        sock.read_exact(&mut got)
            .await
            .expect("echo client: read failed");
        assert_eq!(got, msg, "echo client: wrong echo");
    }
    sock.shutdown().await.expect("echo client: shutdown failed");
    MSG_LEN * MSGS_PER_CONN
}

fn blocking_work(round: u64, i: u64) -> u64 {
    std::thread::sleep(Duration::from_micros(300));
    (0..10_000u64).fold(mix(round, i), |a, x| a.rotate_left(5) ^ x)
}

/// One round of the workload at the given scale.
pub async fn round(r: u64, scale: u64) {
    let s = scale.max(1);

    // TCP echo: bind to a literal address (no DNS, so no resolver task).
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("echo: cannot bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("echo: local_addr");
    let nconn = (s / 10).max(1);
    let server = spawn(echo_server(listener, nconn));
    let clients: Vec<_> = (0..nconn).map(|i| spawn(echo_client(addr, r, i))).collect();

    let sleepers: Vec<_> = (0..2 * s).map(|i| spawn(sleeper(r, i))).collect();

    let per = (s / 2).max(1);
    let (tx, rx) = mpsc::channel::<u64>(16);
    let cons = spawn(consumer(rx));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| spawn(producer(tx.clone(), p, per)))
        .collect();
    drop(tx);

    let yielders: Vec<_> = (0..(s / 2).max(1))
        .map(|i| spawn(yielder(3 + mix(r, i) % 6)))
        .collect();

    let blocking: Vec<_> = (0..BLOCKING_PER_ROUND)
        .map(|i| spawn_blocking(move || blocking_work(r, i)))
        .collect();

    for h in sleepers {
        h.await.expect("sleeper task failed");
    }
    for h in producers {
        h.await.expect("producer task failed");
    }
    assert_eq!(
        cons.await.expect("consumer task failed"),
        PRODUCERS * per,
        "mpsc: lost messages"
    );
    for h in yielders {
        h.await.expect("yielder task failed");
    }
    let mut sent = 0;
    for h in clients {
        sent += h.await.expect("echo client task failed");
    }
    assert_eq!(
        server.await.expect("echo server task failed"),
        sent,
        "echo: byte count mismatch"
    );
    for h in blocking {
        h.await.expect("blocking task failed");
    }
}

/// Runtime flavour of a workload binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    MultiThread,
    CurrentThread,
}

const USAGE: &str = "\
usage: {mt|ct} [--rounds N] [--scale N] [--workers N] [--gate PATH] [--gate-timeout-s N]
               [--loop [--stdin-stop] [--duration-ms D]]
  --rounds N        rounds to run (default 80, about 1.5 s; ignored with --loop)
  --scale N         tasks per round scale (default 100: ~330 tasks per round)
  --workers N       mt only: worker threads (default 4)
  --gate PATH       print the ready line, then wait until PATH exists before spawning anything
  --gate-timeout-s  give up (panic) if the gate file does not appear (default 300, 0 = never)
  --loop            run rounds until SIGTERM/SIGINT (or stdin EOF with --stdin-stop,
                    or D ms with --duration-ms), then print the ground truth
Prints `ready pid=<PID>` on stderr, then one ground-truth JSON line on stdout.
";

struct Opts {
    rounds: u64,
    scale: u64,
    workers: usize,
    gate: Gate,
    looping: bool,
    stdin_stop: bool,
    duration: Option<Duration>,
}

fn parse(prog: &'static str) -> Opts {
    let mut a = Args::from_env(prog, USAGE);
    let mut o = Opts {
        rounds: 80,
        scale: 100,
        workers: 4,
        gate: Gate::default(),
        looping: false,
        stdin_stop: false,
        duration: None,
    };
    while let Some(f) = a.next_flag() {
        if o.gate.parse_flag(&mut a, &f) {
            continue;
        }
        match f.as_str() {
            "--rounds" => o.rounds = a.value(&f),
            "--scale" => o.scale = a.value(&f),
            "--workers" => o.workers = a.value(&f),
            "--loop" => o.looping = true,
            "--stdin-stop" => o.stdin_stop = true,
            "--duration-ms" => o.duration = Some(Duration::from_millis(a.value(&f))),
            _ => a.unknown(&f),
        }
    }
    if o.workers == 0 {
        a.fail("--workers must be at least 1");
    }
    if (o.stdin_stop || o.duration.is_some()) && !o.looping {
        a.fail("--stdin-stop and --duration-ms need --loop");
    }
    o
}

fn build_runtime(flavor: Flavor, workers: usize) -> Runtime {
    let rt = match flavor {
        Flavor::MultiThread => Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .on_thread_park(crate::cli::note_park)
            .build(),
        Flavor::CurrentThread => Builder::new_current_thread().enable_all().build(),
    }
    .expect("cannot build the tokio runtime");
    if flavor == Flavor::MultiThread {
        crate::cli::wait_workers_parked(workers);
    }
    rt
}

/// Entry point of the `mt` and `ct` binaries.
pub fn main(flavor: Flavor) {
    let prog = match flavor {
        Flavor::MultiThread => "mt",
        Flavor::CurrentThread => "ct",
    };
    let o = parse(prog);
    let rt = build_runtime(flavor, o.workers);

    o.gate.ready_and_wait("");

    // Installed after the gate: until then SIGTERM/SIGINT keep their default
    // action (terminate), so a harness can always kill a gated target.
    let mut stop = if o.looping {
        let _g = rt.enter();
        Some(Stop::new(o.stdin_stop, o.duration))
    } else {
        None
    };

    let t0 = Instant::now();
    let rounds_done = rt.block_on(async {
        let mut r = 0u64;
        match stop.as_mut() {
            None => {
                while r < o.rounds {
                    round(r, o.scale).await;
                    r += 1;
                }
            }
            Some(stop) => {
                stop.start();
                while !stop.should_stop().await {
                    round(r, o.scale).await;
                    r += 1;
                }
            }
        }
        r
    });
    let elapsed = t0.elapsed();
    drop(stop);
    drop(rt);

    gt::assert_all_completed();
    gt::print_ground_truth(
        prog,
        &[
            ("pid", std::process::id().to_string()),
            ("rounds", rounds_done.to_string()),
            ("scale", o.scale.to_string()),
            ("elapsed_ms", format!("{:.3}", elapsed.as_secs_f64() * 1e3)),
        ],
    );
}
