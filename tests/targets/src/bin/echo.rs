//! `echo`: TCP echo over 127.0.0.1 whose tasks count their own bytes.
//!
//! One server task accepts `--conns` connections and spawns one echo task
//! per connection; `--conns` client tasks each connect, send a distinct
//! number of bytes in chunks (`write_all`, every other client `writev`
//! through `write_vectored` for its first chunk), read the echo back, shut
//! down their write side and read the EOF.  Every task counts the bytes its
//! socket calls returned, and the ground truth lists them per connection
//! task and per client task with the socket's ports, so a tracer's per-task
//! bytes can be compared exactly.
//!
//! Ground truth (one line on stdout, after the standard fields):
//!   "io":{"listen_port":P,"tasks":[{"role":"conn"|"client","local_port":L,
//!        "peer_port":R,"bytes_in":I,"bytes_out":O,"reads":r,"writes":w},...]}

use std::io::IoSlice;
use std::net::SocketAddr;
use std::sync::Mutex;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use targets::cli::{self, Args, Gate};
use targets::{gt, spawn};

const USAGE: &str = "\
usage: echo [--conns N] [--workers N] [--current-thread] [--gate PATH] [--gate-timeout-s N]
  --conns N           client connections (default 20)
  --workers N         multi-thread runtime workers (default 2)
  --current-thread    a current-thread runtime instead
";

#[derive(Debug)]
struct TaskIo {
    role: &'static str,
    local_port: u16,
    peer_port: u16,
    bytes_in: u64,
    bytes_out: u64,
    reads: u64,
    writes: u64,
}

static IO: Mutex<Vec<TaskIo>> = Mutex::new(Vec::new());

/// (local, peer) ports, read while the connection is up.
fn ports(sock: &TcpStream) -> (u16, u16) {
    (
        sock.local_addr().expect("local_addr").port(),
        sock.peer_addr().expect("peer_addr").port(),
    )
}

fn note(role: &'static str, (local, peer): (u16, u16), io: (u64, u64, u64, u64)) {
    IO.lock().unwrap().push(TaskIo {
        role,
        local_port: local,
        peer_port: peer,
        bytes_in: io.0,
        bytes_out: io.1,
        reads: io.2,
        writes: io.3,
    });
}

/// Bytes client `i` sends: distinct per client, in chunks of 100 + 7*i bytes.
fn plan(i: u64) -> (usize, usize) {
    (3000 + 113 * i as usize, 100 + 7 * i as usize)
}

async fn conn(mut sock: TcpStream) {
    let p = ports(&sock);
    let mut buf = vec![0u8; 512];
    let (mut inb, mut outb, mut reads, mut writes) = (0u64, 0u64, 0u64, 0u64);
    loop {
        let n = sock.read(&mut buf).await.expect("conn: read failed");
        reads += 1;
        if n == 0 {
            break;
        }
        inb += n as u64;
        // write in pieces whose sizes the task counts itself
        let mut off = 0;
        while off < n {
            let w = sock.write(&buf[off..n]).await.expect("conn: write failed");
            writes += 1;
            off += w;
            outb += w as u64;
        }
    }
    note("conn", p, (inb, outb, reads, writes));
}

async fn server(listener: TcpListener, conns: u64) {
    let mut handles = Vec::new();
    for _ in 0..conns {
        let (sock, _) = listener.accept().await.expect("server: accept failed");
        handles.push(spawn(conn(sock)));
    }
    for h in handles {
        h.await.expect("conn task failed");
    }
}

async fn client(addr: SocketAddr, i: u64) {
    let mut sock = TcpStream::connect(addr).await.expect("client: connect failed");
    let p = ports(&sock);
    let (total, chunk) = plan(i);
    let data: Vec<u8> = (0..total).map(|k| (k * 31 + i as usize) as u8).collect();
    let (mut inb, mut outb, mut reads, mut writes) = (0u64, 0u64, 0u64, 0u64);
    let mut back = vec![0u8; total];
    let mut got = 0;
    let mut sent = 0;
    while sent < total {
        let end = (sent + chunk).min(total);
        let w = if i % 2 == 1 && sent == 0 {
            // writev: two slices
            let mid = sent + (end - sent) / 2;
            let bufs = [IoSlice::new(&data[sent..mid]), IoSlice::new(&data[mid..end])];
            sock.write_vectored(&bufs).await.expect("client: writev failed")
        } else {
            sock.write(&data[sent..end]).await.expect("client: write failed")
        };
        writes += 1;
        sent += w;
        outb += w as u64;
        // read what came back so far, without waiting for all of it
        while got < sent {
            let n = sock.read(&mut back[got..]).await.expect("client: read failed");
            reads += 1;
            assert!(n > 0, "client: early EOF");
            got += n;
            inb += n as u64;
            if got >= sent {
                break;
            }
        }
    }
    assert_eq!(back, data, "client: wrong echo");
    sock.shutdown().await.expect("client: shutdown failed");
    let mut rest = [0u8; 16];
    let n = sock.read(&mut rest).await.expect("client: read EOF failed");
    reads += 1;
    assert_eq!(n, 0, "client: data after the echo");
    note("client", p, (inb, outb, reads, writes));
}

fn main() {
    let mut args = Args::from_env("echo", USAGE);
    let mut gate = Gate::default();
    let (mut conns, mut workers, mut ct) = (20u64, 2usize, false);
    while let Some(flag) = args.next_flag() {
        if gate.parse_flag(&mut args, &flag) {
            continue;
        }
        match flag.as_str() {
            "--conns" => conns = args.value(&flag),
            "--workers" => workers = args.value(&flag),
            "--current-thread" => ct = true,
            _ => args.unknown(&flag),
        }
    }
    let rt = cli::runtime(ct, workers);
    let listener = rt
        .block_on(TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))))
        .expect("cannot bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    gate.ready_and_wait(&format!(" port={}", addr.port()));
    let start = std::time::Instant::now();
    rt.block_on(async move {
        let srv = spawn(server(listener, conns));
        let clients: Vec<_> = (0..conns).map(|i| spawn(client(addr, i))).collect();
        for c in clients {
            c.await.expect("client task failed");
        }
        srv.await.expect("server task failed");
    });
    gt::assert_all_completed();
    let io = IO.lock().unwrap();
    let tasks: Vec<String> = io
        .iter()
        .map(|t| {
            format!(
                "{{\"role\":\"{}\",\"local_port\":{},\"peer_port\":{},\"bytes_in\":{},\"bytes_out\":{},\"reads\":{},\"writes\":{}}}",
                t.role, t.local_port, t.peer_port, t.bytes_in, t.bytes_out, t.reads, t.writes
            )
        })
        .collect();
    gt::print_ground_truth(
        "echo",
        &[
            ("pid", std::process::id().to_string()),
            ("elapsed_ms", start.elapsed().as_millis().to_string()),
            (
                "io",
                format!(
                    "{{\"listen_port\":{},\"tasks\":[{}]}}",
                    addr.port(),
                    tasks.join(",")
                ),
            ),
        ],
    );
}
