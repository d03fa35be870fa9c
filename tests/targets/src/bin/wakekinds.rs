//! `wakekinds`: one task per kind of wake, each woken only that way, a known
//! number of times.
//!
//! | role      | what wakes the role task, `--n` (N) times                       |
//! |-----------|-----------------------------------------------------------------|
//! | self      | itself, from inside its own poll (`wake_by_ref`)                 |
//! | yield     | itself, deferred: `yield_now`                                    |
//! | task      | another task (`Notify::notify_one` after a sleep)                |
//! | io        | tokio's I/O driver: a std thread writes to its socket every 4 ms |
//! | timer     | tokio's time driver: `sleep(3 ms)`                               |
//! | blocking  | a `spawn_blocking` closure sending on a channel                  |
//! | external  | a std thread (outside the runtime) sending on a channel          |
//!
//! Each other party waits 3-4 ms between its wakes, so the role task is
//! idle again by then.  Every role task's waker is wrapped in one that
//! counts its wakes (and passes each on to tokio's with `wake_by_ref`, on
//! the same thread), so the ground truth is exact whatever the timing: the
//! io role also gets the readiness of its accept and of the peer's close,
//! the blocking and external roles the close of their channel, and a loaded
//! machine may merge two writes into one readiness.
//!
//! Ground truth (after the standard fields):
//!   "roles":[{"role":R,"location":"file:line:col","source":S,"wakes":W,
//!             "waker_location":L|null},...]
//! where S is the wake source asyncscope must report for every one of the
//! W wakes of the role task (self, task, io, timer, blocking, external).

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};

use targets::cli::{self, Args, Gate};
use targets::{gt, spawn, spawn_blocking};


const USAGE: &str = "\
usage: wakekinds [--n N] [--workers N] [--current-thread] [--gate PATH] [--gate-timeout-s N]
  --n N               wakes per role (default 20)
  --workers N         multi-thread runtime workers (default 2)
  --current-thread    a current-thread runtime instead
";

struct Role {
    role: &'static str,
    loc: &'static Location<'static>,
    source: &'static str,
    wakes: Arc<AtomicU64>,
    waker: Option<&'static Location<'static>>,
}

static ROLES: Mutex<Vec<Role>> = Mutex::new(Vec::new());

fn note(role: &'static str, (loc, wakes): (&'static Location<'static>, Arc<AtomicU64>),
        source: &'static str, waker: Option<&'static Location<'static>>) {
    ROLES.lock().unwrap().push(Role { role, loc, source, wakes, waker });
}

/// Counts the wakes of the task's waker, passing each on.
struct Fwd {
    inner: Waker,
    n: Arc<AtomicU64>,
}

impl Wake for Fwd {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.n.fetch_add(1, Ordering::SeqCst);
        self.inner.wake_by_ref();
    }
}

pin_project_lite::pin_project! {
    /// `fut`, seeing a waker that counts its wakes in `n`.
    struct CountWakes<F> {
        #[pin]
        fut: F,
        n: Arc<AtomicU64>,
    }
}

impl<F: Future> Future for CountWakes<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let w = Waker::from(Arc::new(Fwd { inner: cx.waker().clone(), n: this.n.clone() }));
        this.fut.poll(&mut Context::from_waker(&w))
    }
}

/// Pending `n` times, waking itself from inside each of those polls.
struct SelfWake {
    left: u64,
}

impl Future for SelfWake {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.left == 0 {
            return Poll::Ready(());
        }
        self.left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

const GAP: Duration = Duration::from_millis(3);

type At = (&'static Location<'static>, Arc<AtomicU64>);

/// `spawn` with the task's wakes counted; the spawn location tokio records for it.
#[track_caller]
fn spawn_at<F>(fut: F) -> (tokio::task::JoinHandle<F::Output>, At)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let n = Arc::new(AtomicU64::new(0));
    let h = spawn(CountWakes { fut, n: n.clone() });
    (h, (Location::caller(), n))
}

async fn roles(n: u64) {
    // self
    let (h, loc) = spawn_at(SelfWake { left: n });
    note("self", loc, "self", None);
    h.await.unwrap();

    // yield
    let (h, loc) = spawn_at(async move {
        for _ in 0..n {
            tokio::task::yield_now().await;
        }
    });
    note("yield", loc, "self", None);
    h.await.unwrap();

    // task: the notifier sleeps, then notifies the waiting role task
    let notify = Arc::new(Notify::new());
    let nf = notify.clone();
    let (waiter, waiter_loc) = spawn_at(async move {
        for _ in 0..n {
            nf.notified().await;
        }
    });
    let (notifier, notifier_loc) = spawn_at(async move {
        for _ in 0..n {
            tokio::time::sleep(GAP).await;
            notify.notify_one();
        }
    });
    note("task", waiter_loc, "task", Some(notifier_loc.0));
    waiter.await.unwrap();
    notifier.await.unwrap();

    // timer
    let (h, loc) = spawn_at(async move {
        for _ in 0..n {
            tokio::time::sleep(GAP).await;
        }
    });
    note("timer", loc, "timer", None);
    h.await.unwrap();

    // io: a std thread connects (after the task waits in accept), then writes
    // every 4 ms, then closes
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let writer = std::thread::spawn(move || {
        std::thread::sleep(GAP);
        let mut s = std::net::TcpStream::connect(addr).expect("io: connect");
        s.set_nodelay(true).expect("nodelay");
        for i in 0..n {
            std::thread::sleep(Duration::from_millis(4));
            s.write_all(&[i as u8; 8]).expect("io: write");
        }
        std::thread::sleep(Duration::from_millis(4));
    });
    let (h, loc) = spawn_at(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let mut buf = [0u8; 64];
        let mut got = 0;
        loop {
            let k = s.read(&mut buf).await.expect("io: read");
            if k == 0 {
                break;
            }
            got += k;
        }
        assert_eq!(got as u64, 8 * n, "io: bytes");
    });
    note("io", loc, "io", None);
    h.await.unwrap();
    writer.join().expect("io writer");

    // blocking: a spawn_blocking closure sends; the channel closes at its end
    let (tx, mut rx) = mpsc::channel::<u64>(1);
    let (h, role_loc) = spawn_at(async move {
        let mut k = 0;
        while rx.recv().await.is_some() {
            k += 1;
        }
        assert_eq!(k, n, "blocking: messages");
    });
    let b = spawn_blocking(move || {
        for i in 0..n {
            std::thread::sleep(GAP);
            tx.blocking_send(i).expect("blocking: send");
        }
        std::thread::sleep(GAP);
        drop(tx);
    });
    note("blocking", role_loc, "blocking", None);
    h.await.unwrap();
    b.await.unwrap();

    // external: a std thread sends; the channel closes when it ends
    let (tx, mut rx) = mpsc::channel::<u64>(1);
    let (h, role_loc) = spawn_at(async move {
        let mut k = 0;
        while rx.recv().await.is_some() {
            k += 1;
        }
        assert_eq!(k, n, "external: messages");
    });
    let t = std::thread::spawn(move || {
        for i in 0..n {
            std::thread::sleep(GAP);
            tx.blocking_send(i).expect("external: send");
        }
        std::thread::sleep(GAP);
        drop(tx);
    });
    note("external", role_loc, "external", None);
    h.await.unwrap();
    t.join().expect("external thread");
}

fn json_loc(l: &Location<'_>) -> String {
    gt::json_str(&l.to_string())
}

fn main() {
    let mut args = Args::from_env("wakekinds", USAGE);
    let mut gate = Gate::default();
    let (mut n, mut workers, mut ct) = (20u64, 2usize, false);
    while let Some(flag) = args.next_flag() {
        if gate.parse_flag(&mut args, &flag) {
            continue;
        }
        match flag.as_str() {
            "--n" => n = args.value(&flag),
            "--workers" => workers = args.value(&flag),
            "--current-thread" => ct = true,
            _ => args.unknown(&flag),
        }
    }
    let rt = cli::runtime(ct, workers);
    gate.ready_and_wait("");
    let start = std::time::Instant::now();
    rt.block_on(roles(n));
    gt::assert_all_completed();
    let roles: Vec<String> = ROLES
        .lock()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{{\"role\":\"{}\",\"location\":{},\"source\":\"{}\",\"wakes\":{},\"waker_location\":{}}}",
                r.role,
                json_loc(r.loc),
                r.source,
                r.wakes.load(Ordering::SeqCst),
                r.waker.map(json_loc).unwrap_or_else(|| "null".into())
            )
        })
        .collect();
    gt::print_ground_truth(
        "wakekinds",
        &[
            ("pid", std::process::id().to_string()),
            ("elapsed_ms", start.elapsed().as_millis().to_string()),
            ("roles", format!("[{}]", roles.join(","))),
        ],
    );
}
