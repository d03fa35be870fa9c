//! Generates the program's bulk into $OUT_DIR/gen.rs: BIG_FUTURES distinct
//! async fns, each spawned as its own task type (so tokio instantiates its
//! task machinery -- raw::poll, Harness, vtables -- once per type and
//! scheduler), and BIG_FILLER small out-of-line functions in BIG_FILLER/500
//! modules, each with its own name, which is what a large service's symbol
//! table is mostly made of.

use std::fmt::Write as _;
use std::path::PathBuf;

fn env_num(name: &str, default: usize) -> usize {
    println!("cargo:rerun-if-env-changed={}", name);
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let futures = env_num("BIG_FUTURES", 300);
    let filler = env_num("BIG_FILLER", 90000);
    let per_mod = 500;
    let mut s = String::with_capacity(filler * 120 + futures * 400);

    writeln!(s, "pub mod futs {{").unwrap();
    for i in 0..futures {
        writeln!(
            s,
            "    pub async fn fut_{i}(x: u64) -> u64 {{ \
             let mut v = x ^ {i}; \
             for _ in 0..(x % 3) {{ tokio::task::yield_now().await; v = v.rotate_left(3) ^ {k}; }} \
             v }}",
            i = i,
            k = i * 7 + 1
        )
        .unwrap();
    }
    writeln!(s, "    pub fn spawn_all(x: u64) -> Vec<tokio::task::JoinHandle<u64>> {{").unwrap();
    writeln!(s, "        let mut v = Vec::with_capacity({});", futures).unwrap();
    for i in 0..futures {
        writeln!(s, "        v.push(tokio::spawn(fut_{}(x)));", i).unwrap();
    }
    writeln!(s, "        v\n    }}\n}}").unwrap();

    let mods = (filler + per_mod - 1) / per_mod;
    for m in 0..mods {
        writeln!(s, "pub mod filler_{} {{", m).unwrap();
        for j in 0..per_mod.min(filler - m * per_mod) {
            let n = m * per_mod + j;
            writeln!(
                s,
                "    #[inline(never)] pub fn step_{n}(x: u64) -> u64 {{ x.rotate_left({r}).wrapping_add({n}) }}",
                n = n,
                r = n % 63 + 1
            )
            .unwrap();
        }
        writeln!(s, "}}").unwrap();
    }
    writeln!(s, "pub const FUTURES: usize = {};", futures).unwrap();
    writeln!(s, "pub static FILLER: [fn(u64) -> u64; {}] = [", filler).unwrap();
    for n in 0..filler {
        writeln!(s, "    filler_{}::step_{},", n / per_mod, n).unwrap();
    }
    writeln!(s, "];").unwrap();

    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("gen.rs");
    std::fs::write(out, s).unwrap();
}
