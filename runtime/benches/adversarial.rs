//! Worst wall time per gas across the adversarial contract library (docs/GAS.md).
//!
//! `cargo bench --workspace --profile dev --bench adversarial` runs every case at the
//! transaction gas limit (1 Ggas; `ADVERSARIAL_GAS` overrides, `ADVERSARIAL_RUNS` sets the runs
//! per case, default 3) and prints a table of medians and the worst ns per gas. The same run's
//! strict ed25519 verification rate is printed beside it as the machine's reference.

#[path = "support/adversarial.rs"]
mod adversarial;
#[path = "support/harness.rs"]
mod harness;

use harness::Harness;
use phalanx_runtime::{EXEC_STACK_BYTES, RuntimeConfig};
use std::time::Instant;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// Strict ed25519 verifications per second on this thread: the same-run reference.
fn reference() -> f64 {
    let key = phalanx_types::SecretKey::from_seed([3; 32]);
    let msg = [7u8; 64];
    let sig = key.sign(&msg);
    let pk = key.public_key();
    let n = 2_000;
    let start = Instant::now();
    for _ in 0..n {
        pk.verify(&msg, &sig).expect("valid");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn run() {
    let gas = env_u64("ADVERSARIAL_GAS", 1_000_000_000);
    let runs = env_u64("ADVERSARIAL_RUNS", 3).max(1) as usize;
    let only = std::env::var("ADVERSARIAL_ONLY").ok();
    println!(
        "adversarial library at {gas} gas per transaction, median of {runs} runs \
         (reference: {:.0} strict ed25519 verifications/s on this thread)",
        reference()
    );
    println!(
        "{:<24} {:>14} {:>10} {:>9}  result / what",
        "case", "gas used", "ms", "ns/gas"
    );
    let mut worst = (0.0, "");
    for case in adversarial::cases() {
        if only.as_deref().is_some_and(|o| !case.name.contains(o)) {
            continue;
        }
        let config = RuntimeConfig {
            cache_capacity: case.cache_capacity,
            ..RuntimeConfig::default()
        };
        let mut h = Harness::new(config);
        h.prepare(&case);
        let mut ns_per_gas = Vec::new();
        let mut ms = Vec::new();
        let mut last = None;
        for _ in 0..runs {
            let (out, took) = h.attack(&case, gas);
            ns_per_gas.push(took.as_nanos() as f64 / out.gas_used.max(1) as f64);
            ms.push(took.as_secs_f64() * 1e3);
            last = Some(out);
        }
        let out = last.expect("one run");
        let rate = median(ns_per_gas);
        let result = match &out.result {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("error {}", e.code),
        };
        println!(
            "{:<24} {:>14} {:>10.1} {:>9.3}  {result} / {}",
            case.name,
            out.gas_used,
            median(ms),
            rate,
            case.what
        );
        if rate > worst.0 {
            worst = (rate, case.name);
        }
    }
    println!("worst: {:.3} ns/gas ({})", worst.0, worst.1);
}

fn main() {
    std::thread::Builder::new()
        .stack_size(EXEC_STACK_BYTES)
        .spawn(run)
        .expect("spawn")
        .join()
        .expect("bench thread panicked");
}
