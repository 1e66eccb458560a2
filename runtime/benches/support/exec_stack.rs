//! Runs a criterion benchmark on a thread with the native stack contract execution needs
//! ([`EXEC_STACK_BYTES`]), as the node does. Included by `#[path]` from the benches that
//! execute contracts.

use criterion::Criterion;
use phalanx_runtime::EXEC_STACK_BYTES;

/// Runs `bench` with criterion's command-line configuration on a contract-execution thread.
pub fn run(bench: fn(&mut Criterion)) {
    std::thread::Builder::new()
        .stack_size(EXEC_STACK_BYTES)
        .spawn(move || {
            let mut c = Criterion::default().configure_from_args();
            bench(&mut c);
            c.final_summary();
        })
        .expect("spawn bench thread")
        .join()
        .expect("bench thread panicked");
}
