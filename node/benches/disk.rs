//! Disk benchmark: disk bytes per committed transaction with and without pruning, and
//! whether disk stays flat under sustained load once the retained window is full.
//!
//! Each mode runs a fresh 4-validator testnet loaded by `phalanx bench` (token transfers) for
//! `DISK_SECS`, sampling the size of validator 0's `data/` every `DISK_SAMPLE` seconds:
//! * `archive`: `retain_blocks = 0`, `retain_state_versions = 0` (keeps everything);
//! * `pruned`: both set to `DISK_RETAIN`.
//!
//! ```text
//! cargo bench --features phalanx/byzantine --bench disk                 # release, 10 min each
//! DISK_SECS=120 cargo bench --features phalanx/byzantine --profile dev --bench disk
//! ```
//!
//! Knobs (environment): `DISK_SECS` (600), `DISK_RATE` (tx/s, 500), `DISK_RETAIN` (1000),
//! `DISK_SAMPLE` (seconds, 10), `DISK_MODES` (`archive,pruned`).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../../runtime/benches/support/example_contracts.rs"]
mod example_contracts;

use common::{Testnet, env_or};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Bytes of every file under `dir`, and of those the RocksDB write-ahead logs (`*.log`).
fn disk_bytes(dir: &Path) -> (u64, u64) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    entries
        .flatten()
        .fold((0, 0), |(all, wal), e| match e.metadata() {
            Ok(m) if m.is_dir() => {
                let (a, w) = disk_bytes(&e.path());
                (all + a, wal + w)
            }
            Ok(m) if e.path().extension().is_some_and(|x| x == "log") => {
                (all + m.len(), wal + m.len())
            }
            Ok(m) => (all + m.len(), wal),
            Err(_) => (all, wal),
        })
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

struct Run {
    committed: u64,
    /// (seconds since load started, height, bytes, of which write-ahead log)
    samples: Vec<(u64, u64, u64, u64)>,
}

fn run(token: &Path, retain: u64, secs: u64, rate: u64, every: u64) -> Run {
    let mut net = Testnet::new(4);
    for n in &net.nodes {
        n.set_retention(retain, retain);
    }
    net.start_all();
    net.wait_height(&[0, 1, 2, 3], 2, Duration::from_secs(60));
    let child = net
        .bench_command(token)
        .args(["--rate", &rate.to_string(), "--duration", &secs.to_string()])
        .args(["--senders", "256", "--workers", "4", "--batch", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("phalanx bench runs");
    let data = net.nodes[0].home.join("data");
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut child = child;
    loop {
        let (bytes, wal) = disk_bytes(&data);
        samples.push((start.elapsed().as_secs(), net.nodes[0].height(), bytes, wal));
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_secs(every));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let committed = stdout
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("committed="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Run { committed, samples }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let secs: u64 = env_or("DISK_SECS", 600);
    let rate: u64 = env_or("DISK_RATE", 500);
    let retain: u64 = env_or("DISK_RETAIN", 1000);
    let every: u64 = env_or::<u64>("DISK_SAMPLE", 10).max(1);
    let modes = std::env::var("DISK_MODES").unwrap_or_else(|_| "archive,pruned".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/Cargo.toml");
    let token = example_contracts::build("token", &manifest);
    let _serial = common::SERIAL.lock().unwrap();
    println!(
        "disk: 4 validators, {rate} tx/s of token transfers for {secs} s, validator 0's data/ sampled every {every} s"
    );
    println!(
        "| mode | committed txs | tables MiB start → end | table bytes per tx | disk peak (with the write-ahead log), first → last minute after the window filled | peak MiB |"
    );
    println!("|---|---|---|---|---|---|");
    for mode in modes.split(',').map(str::trim) {
        let keep = match mode {
            "archive" => 0,
            "pruned" => retain,
            other => panic!("unknown mode {other}"),
        };
        let r = run(&token, keep, secs, rate, every);
        // Tables only: the write-ahead log is bounded (64 MiB) and rises and falls with
        // flushes, which would swamp the trend.
        let tables = |s: &(u64, u64, u64, u64)| s.2 - s.3;
        let (first, last) = (r.samples[0], *r.samples.last().unwrap());
        let per_tx =
            tables(&last).saturating_sub(tables(&first)) as f64 / r.committed.max(1) as f64;
        // Once the first sampled height passes the window, pruning has something to delete.
        let full = r
            .samples
            .iter()
            .find(|s| keep > 0 && s.1 > first.1 + keep + 100)
            .copied();
        // The write-ahead log rises and falls with flushes: compare the peaks of the first
        // and the last minute after the window filled.
        let peak_in = |from: u64, to: u64| {
            r.samples
                .iter()
                .filter(|s| s.0 >= from && s.0 <= to)
                .map(|s| s.2)
                .max()
                .unwrap_or(0)
        };
        let flat = match full {
            Some(f) if last.0 >= f.0 + 120 => {
                let (a, b) = (peak_in(f.0, f.0 + 60), peak_in(last.0 - 60, last.0));
                format!(
                    "{:.1} → {:.1} ({:+.0} %)",
                    mib(a),
                    mib(b),
                    (b as f64 / a.max(1) as f64 - 1.0) * 100.0
                )
            }
            _ => "—".into(),
        };
        let peak = r.samples.iter().map(|s| s.2).max().unwrap_or(0);
        println!(
            "| {mode} (retain {keep}) | {} | {:.1} → {:.1} | {per_tx:.0} | {flat} | {:.1} MiB |",
            r.committed,
            mib(tables(&first)),
            mib(tables(&last)),
            mib(peak)
        );
        let series: Vec<String> = r
            .samples
            .iter()
            .map(|(t, h, b, w)| format!("{t}s:h{h}:{:.1}/{:.1}", mib(*b), mib(*w)))
            .collect();
        eprintln!(
            "disk {mode} samples (time:height:MiB all/of which WAL): {}",
            series.join(" ")
        );
    }
}
