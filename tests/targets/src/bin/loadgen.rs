//! `loadgen`: std-only HTTP/1.1 keep-alive load generator for `hyperserver`.
//!
//! C threads, one keep-alive connection each, sending `GET / HTTP/1.1` and
//! checking every response (status 200, body "hello world"). Bounded by a
//! request count or a duration; every socket operation has a timeout. A
//! failed request counts as an error and its connection is re-opened (after a
//! short pause, so a dead server cannot make it spin).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: loadgen --port P [--conns C] (--requests N | --duration-ms D) [--quit] [--timeout-ms T]
  --port P          server port on 127.0.0.1
  --conns C         connections = threads (default 1)
  --requests N      total requests over all connections
  --duration-ms D   send requests for D ms
  --quit            at the end, send `GET /quit` on a fresh connection
  --timeout-ms T    connect/read/write timeout (default 5000)
Prints one JSON line: {\"requests\":N,\"errors\":E,\"elapsed_ms\":..,\"rps\":..}
(requests = successful requests). Exit code 1 if there were errors or /quit failed.
";

const BODY: &[u8] = b"hello world";

/// Error messages printed per thread; later ones are only counted.
const MAX_ERROR_LOGS: u64 = 5;

/// A thread gives up after this many consecutive failures (about 1 s of
/// retrying), so a dead server ends the run quickly.
const MAX_CONSECUTIVE_ERRORS: u32 = 50;

fn log_error(c: &Counts, msg: std::fmt::Arguments<'_>) {
    if c.errors <= MAX_ERROR_LOGS {
        eprintln!("loadgen: {}", msg);
        if c.errors == MAX_ERROR_LOGS {
            eprintln!("loadgen: (further errors of this connection are not shown)");
        }
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("loadgen: {}\n{}", msg, USAGE);
    std::process::exit(2);
}

struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: &SocketAddr, timeout: Duration) -> std::io::Result<Conn> {
        let s = TcpStream::connect_timeout(addr, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        s.set_nodelay(true)?;
        Ok(Conn {
            reader: BufReader::new(s),
        })
    }

    /// Sends one request and reads the response. Returns (status, body,
    /// server-wants-close).
    fn request(&mut self, path: &str, close: bool) -> Result<(u16, Vec<u8>, bool), String> {
        let req = format!(
            "GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\n{}\r\n",
            path,
            if close { "Connection: close\r\n" } else { "" }
        );
        self.reader
            .get_mut()
            .write_all(req.as_bytes())
            .map_err(|e| format!("write: {}", e))?;

        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .map_err(|e| format!("read status: {}", e))?;
        if n == 0 {
            return Err("connection closed before response".into());
        }
        let mut parts = line.split_whitespace();
        let version = parts.next().unwrap_or("");
        if !version.starts_with("HTTP/1.") {
            return Err(format!("bad status line {:?}", line));
        }
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {:?}", line))?;

        let mut len: Option<usize> = None;
        let mut want_close = version == "HTTP/1.0";
        loop {
            line.clear();
            let n = self
                .reader
                .read_line(&mut line)
                .map_err(|e| format!("read header: {}", e))?;
            if n == 0 {
                return Err("connection closed in headers".into());
            }
            let h = line.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h
                .split_once(':')
                .ok_or_else(|| format!("bad header {:?}", h))?;
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            match k.as_str() {
                "content-length" => {
                    len = Some(
                        v.parse()
                            .map_err(|_| format!("bad content-length {:?}", v))?,
                    )
                }
                "transfer-encoding" => {
                    return Err(format!("unsupported transfer-encoding {:?}", v))
                }
                "connection" => want_close |= v.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let len = len.ok_or("response without content-length")?;
        if len > 1 << 20 {
            return Err(format!("response body too large ({} bytes)", len));
        }
        let mut body = vec![0; len];
        self.reader
            .read_exact(&mut body)
            .map_err(|e| format!("read body: {}", e))?;
        Ok((status, body, want_close))
    }

    fn close(self) {
        let _ = self.reader.get_ref().shutdown(Shutdown::Both);
    }
}

#[derive(Default)]
struct Counts {
    ok: u64,
    errors: u64,
}

fn worker(
    addr: SocketAddr,
    timeout: Duration,
    limit: Option<u64>,
    next: Arc<AtomicU64>,
    deadline: Option<Instant>,
) -> Counts {
    let mut c = Counts::default();
    let mut conn: Option<Conn> = None;
    let mut failing = 0u32;
    loop {
        if failing >= MAX_CONSECUTIVE_ERRORS {
            eprintln!("loadgen: giving up after {} consecutive errors", failing);
            break;
        }
        if let Some(n) = limit {
            if next.fetch_add(1, Ordering::Relaxed) >= n {
                break;
            }
        }
        if let Some(d) = deadline {
            if Instant::now() >= d {
                break;
            }
        }
        if conn.is_none() {
            match Conn::open(&addr, timeout) {
                Ok(x) => conn = Some(x),
                Err(e) => {
                    c.errors += 1;
                    failing += 1;
                    log_error(&c, format_args!("connect {}: {}", addr, e));
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            }
        }
        let cn = conn.as_mut().expect("connection");
        match cn.request("/", false) {
            Ok((200, body, close)) if body == BODY => {
                c.ok += 1;
                failing = 0;
                if close {
                    conn.take().expect("connection").close();
                }
            }
            Ok((status, body, _)) => {
                c.errors += 1;
                failing += 1;
                log_error(
                    &c,
                    format_args!(
                        "unexpected response {} {:?}",
                        status,
                        String::from_utf8_lossy(&body)
                    ),
                );
                conn.take().expect("connection").close();
            }
            Err(e) => {
                c.errors += 1;
                failing += 1;
                log_error(&c, format_args!("request failed: {}", e));
                conn.take().expect("connection").close();
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    if let Some(cn) = conn {
        cn.close();
    }
    c
}

fn send_quit(addr: &SocketAddr, timeout: Duration) -> Result<(), String> {
    let mut c = Conn::open(addr, timeout).map_err(|e| format!("connect: {}", e))?;
    let (status, _, _) = c.request("/quit", true)?;
    if status != 200 {
        return Err(format!("status {}", status));
    }
    // Wait (bounded by the read timeout) for the server to close.
    let mut rest = Vec::new();
    let _ = c.reader.read_to_end(&mut rest);
    c.close();
    Ok(())
}

fn main() {
    let mut port: Option<u16> = None;
    let mut conns: u64 = 1;
    let mut requests: Option<u64> = None;
    let mut duration: Option<u64> = None;
    let mut quit = false;
    let mut timeout_ms: u64 = 5000;

    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (k, inline) = match a.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        let mut val = |name: &str| -> u64 {
            let v = inline
                .clone()
                .or_else(|| args.next())
                .unwrap_or_else(|| fail(&format!("{} needs a value", name)));
            v.parse()
                .unwrap_or_else(|_| fail(&format!("bad value {:?} for {}", v, name)))
        };
        match k.as_str() {
            "--port" => {
                port = Some(u16::try_from(val("--port")).unwrap_or_else(|_| fail("bad --port")))
            }
            "--conns" => conns = val("--conns"),
            "--requests" => requests = Some(val("--requests")),
            "--duration-ms" => duration = Some(val("--duration-ms")),
            "--timeout-ms" => timeout_ms = val("--timeout-ms"),
            "--quit" => quit = true,
            "-h" | "--help" => {
                print!("{}", USAGE);
                return;
            }
            _ => fail(&format!("unknown argument {:?}", a)),
        }
    }
    let port = port.unwrap_or_else(|| fail("--port is required"));
    if requests.is_some() == duration.is_some() {
        fail("give exactly one of --requests N and --duration-ms D");
    }
    if conns == 0 || timeout_ms == 0 {
        fail("--conns and --timeout-ms must be at least 1");
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let timeout = Duration::from_millis(timeout_ms);

    let next = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let deadline = duration.map(|d| t0 + Duration::from_millis(d));
    let threads: Vec<_> = (0..conns)
        .map(|i| {
            let next = next.clone();
            std::thread::Builder::new()
                .name(format!("loadgen-{}", i))
                .spawn(move || worker(addr, timeout, requests, next, deadline))
                .expect("loadgen: cannot start thread")
        })
        .collect();
    let mut total = Counts::default();
    for t in threads {
        let c = t.join().expect("loadgen: worker thread panicked");
        total.ok += c.ok;
        total.errors += c.errors;
    }
    let elapsed = t0.elapsed();

    let mut quit_ok = true;
    if quit {
        if let Err(e) = send_quit(&addr, timeout) {
            eprintln!("loadgen: GET /quit failed: {}", e);
            quit_ok = false;
        }
    }

    let secs = elapsed.as_secs_f64();
    println!(
        "{{\"requests\":{},\"errors\":{},\"elapsed_ms\":{:.3},\"rps\":{:.1}}}",
        total.ok,
        total.errors,
        secs * 1e3,
        if secs > 0.0 {
            total.ok as f64 / secs
        } else {
            0.0
        }
    );
    if total.errors > 0 || !quit_ok {
        std::process::exit(1);
    }
}
