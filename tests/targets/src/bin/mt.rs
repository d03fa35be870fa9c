//! `mt`: the mixed workload on a multi-thread runtime (4 workers by default).
fn main() {
    targets::workload::main(targets::workload::Flavor::MultiThread);
}
