//! Simulated pBFT throughput and message complexity.
//!
//! `cargo bench -p phalanx-consensus --bench simulation`
//!
//! Prints, for n ∈ {1, 4, 7, 10, 13, 16}, the consensus messages delivered per committed
//! block (pBFT's all-to-all PREPARE and COMMIT phases make it O(n²)), then measures committed
//! heights per second of wall time for n = 4 and n = 16 on a fault-free network.

#[path = "../tests/sim/mod.rs"]
mod sim;

use criterion::{Criterion, criterion_group, criterion_main};
use sim::{Scenario, Sim};
use std::time::Instant;

fn fault_free(n: usize, end_ms: u64) -> Scenario {
    let mut s = Scenario::random(1, n);
    s.byzantine.clear();
    s.max_crashes = 0;
    s.drop_permille = 0;
    s.dup_permille = 0;
    s.partition = None;
    s.min_delay_ms = 1;
    s.max_delay_ms = 5;
    s.heal_at_ms = 0;
    s.end_ms = end_ms;
    s
}

fn bench(c: &mut Criterion) {
    println!("n  messages/block  messages/block/n²");
    for n in [1usize, 4, 7, 10, 13, 16] {
        let out = Sim::new(fault_free(n, 5_000)).run();
        assert!(out.violations.is_empty(), "{:?}", out.violations);
        let per_block = out.messages as f64 / out.max_height.max(1) as f64;
        println!(
            "{n:<2} {per_block:>14.1}  {:>17.2}",
            per_block / (n * n) as f64
        );
    }
    let mut group = c.benchmark_group("simulation");
    group.sample_size(10);
    for n in [4usize, 16] {
        // Report heights per wall-clock second directly, as well as criterion's timing.
        let started = Instant::now();
        let out = Sim::new(fault_free(n, 10_000)).run();
        let secs = started.elapsed().as_secs_f64();
        println!(
            "n={n}: {} heights committed in {secs:.2}s wall = {:.0} committed heights/s",
            out.max_height,
            out.max_height as f64 / secs
        );
        group.bench_function(format!("n{n}_10s_virtual"), |b| {
            b.iter(|| Sim::new(fault_free(n, 10_000)).run().max_height)
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
