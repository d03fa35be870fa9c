//! `ct`: the mixed workload on a current-thread runtime.
fn main() {
    targets::workload::main(targets::workload::Flavor::CurrentThread);
}
