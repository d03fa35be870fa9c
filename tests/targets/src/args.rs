//! Options and the ready line, shared by the test targets and the benchmark
//! targets (bench/targets includes this file by path): std only.

use std::str::FromStr;

/// Minimal `--flag value` / `--flag=value` parser. Errors print the usage
/// text and exit 2.
pub struct Args {
    prog: &'static str,
    usage: &'static str,
    args: std::vec::IntoIter<String>,
    pending: Option<String>,
}

impl Args {
    pub fn from_env(prog: &'static str, usage: &'static str) -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        Args {
            prog,
            usage,
            args: args.into_iter(),
            pending: None,
        }
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

    /// The value of option `flag` (the next argument, or the `=value` part).
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

    /// Rejects an unknown option.
    pub fn unknown(&self, flag: &str) -> ! {
        self.fail(&format!("unknown option {}", flag))
    }

    pub fn fail(&self, msg: &str) -> ! {
        eprint!("{}: {}\n{}", self.prog, msg, self.usage);
        std::process::exit(2)
    }
}

/// Prints the ready line on stderr: `ready pid=<PID><extra>`.
pub fn ready(extra: &str) {
    eprintln!("ready pid={}{}", std::process::id(), extra);
}
