//! Test targets for asyncscope.
//!
//! Every task the targets create goes through [`spawn`] or [`spawn_blocking`],
//! which record in-process ground truth (spawn location, number of polls,
//! completion) that the tracer's results are compared against.
//!
//! * [`gt`]: the counting wrappers and the ground-truth JSON line.
//! * [`args`]: option parsing and the `ready` line (bench/targets uses it too).
//! * [`cli`]: the `--gate` protocol, stop signals, the runtime.
//! * [`workload`]: the mixed workload shared by the `mt` and `ct` binaries.

pub mod args;
pub mod cli;
pub mod gt;
pub mod workload;

pub use gt::{spawn, spawn_blocking, Counted};
