//! Test targets for asyncscope.
//!
//! Every task the targets create goes through [`spawn`] or [`spawn_blocking`],
//! which record in-process ground truth (spawn location, number of polls,
//! completion) that the tracer's results are compared against.
//!
//! * [`gt`]: the counting wrappers and the ground-truth JSON line.
//! * [`cli`]: option parsing, the `ready`/`--gate` protocol, stop signals.
//! * [`workload`]: the mixed workload shared by the `mt` and `ct` binaries.

pub mod cli;
pub mod gt;
pub mod workload;

pub use gt::{spawn, spawn_blocking, Counted};
