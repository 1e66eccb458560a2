//! WAN benchmark: a 4-validator testnet whose every peer link runs through the user-space
//! link emulator (node/tests/common/linkem.rs), driven by `phalanx bench`.
//!
//! For each one-way delay it prints finality p50/p99 at a fixed offered rate; then the
//! maximum sustained throughput at the WAN delay next to the loopback (0 ms) maximum of the
//! same run. Every figure is the median of `WAN_RUNS` runs (default 3).
//!
//! ```text
//! cargo bench --features phalanx/byzantine --bench wan                # release binaries
//! cargo bench --features phalanx/byzantine --profile dev --bench wan  # quick, debug
//! WAN_DELAYS=0,25 WAN_RUNS=1 WAN_SECS=10 cargo bench … --bench wan    # knobs
//! ```
//!
//! Knobs (environment): `WAN_DELAYS` (ms, default `0,10,25,50`), `WAN_RATE` (tx/s, 500),
//! `WAN_SECS` (seconds of load per run, 20), `WAN_RUNS` (3), `WAN_MAX_DELAY` (ms of the
//! throughput comparison, 25; `off` skips it), `WAN_JITTER` (ms, 0), `WAN_KEEP_LOGS` (a
//! directory: each run's node logs are copied there as `node{i}-{delay}.log`; with
//! `PHALANX_TEST_LOG=info,phalanx_core=trace` they time every consensus message).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../../runtime/benches/support/example_contracts.rs"]
mod example_contracts;

use common::linkem::LinkEmulator;
use common::{Testnet, env_or};
use std::time::Duration;

/// What one `phalanx bench` run printed last.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    tps: f64,
    p50: f64,
    p99: f64,
}

/// One run: a fresh testnet at `delay` one-way per link, loaded at `rate`.
fn run(token: &std::path::Path, delay_ms: u64, jitter_ms: u64, rate: &str, secs: u64) -> Figures {
    let em = LinkEmulator::new();
    let mut net = Testnet::new(4);
    net.route_through(&em);
    em.set_all_delays(
        Duration::from_millis(delay_ms),
        Duration::from_millis(jitter_ms),
    );
    net.start_all();
    net.wait_height(&[0, 1, 2, 3], 2, Duration::from_secs(60));
    let (workers, batch) = if rate == "max" {
        ("2", "500")
    } else {
        ("4", "1")
    };
    let out = net
        .bench_command(token)
        .args(["--rate", rate, "--duration", &secs.to_string()])
        .args(["--senders", "256", "--workers", workers, "--batch", batch])
        .output()
        .expect("phalanx bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let field = |name: &str| -> f64 {
        last.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "no {name} in {last:?}; stderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
    };
    if let Ok(dir) = std::env::var("WAN_KEEP_LOGS") {
        for (i, n) in net.nodes.iter().enumerate() {
            let _ = std::fs::copy(
                n.home.join("node.log"),
                format!("{dir}/node{i}-{delay_ms}.log"),
            );
        }
    }
    Figures {
        tps: field("tps"),
        p50: field("p50_ms"),
        p99: field("p99_ms"),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Medians over `runs` runs; also the single runs, for the record.
fn medians(runs: usize, mut one: impl FnMut() -> Figures) -> (Figures, Vec<Figures>) {
    let all: Vec<Figures> = (0..runs).map(|_| one()).collect();
    let m = Figures {
        tps: median(all.iter().map(|f| f.tps).collect()),
        p50: median(all.iter().map(|f| f.p50).collect()),
        p99: median(all.iter().map(|f| f.p99).collect()),
    };
    (m, all)
}

/// One table row: the medians, then the single runs' figure of interest.
fn row(delay_ms: u64, m: Figures, each: impl Iterator<Item = f64>) {
    let each: Vec<String> = each.map(|v| format!("{v:.0}")).collect();
    println!(
        "| {delay_ms} ms | {:.0} | {:.0} | {:.0} | {} |",
        m.tps,
        m.p50,
        m.p99,
        each.join(", ")
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a plain `cargo test` run of benches passes nothing
    // else we need. Only run when asked to benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let delays: Vec<u64> = std::env::var("WAN_DELAYS")
        .unwrap_or_else(|_| "0,10,25,50".into())
        .split(',')
        .filter_map(|d| d.trim().parse().ok())
        .collect();
    let rate: u64 = env_or("WAN_RATE", 500);
    let secs: u64 = env_or("WAN_SECS", 20);
    let runs: usize = env_or::<usize>("WAN_RUNS", 3).max(1);
    let jitter: u64 = env_or("WAN_JITTER", 0);
    let max_delay = std::env::var("WAN_MAX_DELAY").unwrap_or_else(|_| "25".into());
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/Cargo.toml");
    let token = example_contracts::build("token", &manifest);
    let _serial = common::SERIAL.lock().unwrap();

    println!(
        "wan: 4 validators, every peer link through the link emulator; {rate} tx/s offered, \
         {secs} s per run, median of {runs} runs, jitter {jitter} ms"
    );
    println!("| one-way delay | tps | finality p50 ms | p99 ms | runs (p50) |");
    println!("|---|---|---|---|---|");
    for d in &delays {
        let (m, all) = medians(runs, || run(&token, *d, jitter, &rate.to_string(), secs));
        row(*d, m, all.iter().map(|f| f.p50));
    }
    if let Ok(wan) = max_delay.parse::<u64>() {
        println!("| maximum throughput (`--rate max`) | tps | p50 ms | p99 ms | runs (tps) |");
        println!("|---|---|---|---|---|");
        let mut best = Vec::new();
        for d in [0, wan] {
            let (m, all) = medians(runs, || run(&token, d, jitter, "max", secs));
            row(d, m, all.iter().map(|f| f.tps));
            best.push(m.tps);
        }
        println!(
            "wan: maximum at {wan} ms is {:.0} % of the loopback maximum of this run",
            100.0 * best[1] / best[0].max(1.0)
        );
    }
}
