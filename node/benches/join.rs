//! Join benchmark: how long a new node takes to catch up with a chain holding a large state,
//! by full block sync from genesis, by state sync from its peers' snapshots, and by a
//! snapshot file.
//!
//! A 4-validator testnet (blocks every `JOIN_BLOCK_MS`, snapshots every `JOIN_SNAPSHOT_EVERY`
//! heights) builds `JOIN_KEYS` keys of state (a contract writing 1,000 keys per transaction)
//! and then runs to at least `JOIN_BLOCKS` blocks. Then, one after the other:
//! * **full sync**: an observer starts from genesis, fetches and replays every block;
//! * **state sync**: an observer starts with `--state-sync`: it fetches the newest snapshot
//!   from the validators, verifies it, installs it and syncs the blocks after it;
//! * **snapshot file**: `phalanx snapshot export` on validator 0, `phalanx snapshot import`
//!   into a third observer, which starts and syncs the blocks after the snapshot.
//!
//! Each runs until the observer reaches the validators' height when it started.
//!
//! ```text
//! cargo bench --features phalanx/byzantine --bench join                  # release
//! JOIN_KEYS=50000 cargo bench --features phalanx/byzantine --profile dev --bench join
//! ```
//!
//! Knobs (environment): `JOIN_KEYS` (200000), `JOIN_BLOCKS` (3000), `JOIN_BLOCK_MS` (100),
//! `JOIN_SNAPSHOT_EVERY` (500).

#[path = "../tests/common/mod.rs"]
mod common;

use common::{NodeProc, Testnet, env_or};
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs the CLI; panics with its output on failure.
fn phalanx(args: &[&str]) {
    let o = Command::new(common::bin()).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "phalanx {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Starts `node` with `args` and waits until it reaches `height`; the seconds it took.
fn catch_up(node: &mut NodeProc, height: u64, args: &[&str]) -> f64 {
    let t = Instant::now();
    node.start_with(args);
    common::wait_for(
        Duration::from_secs(3600),
        "the new node to catch up",
        || node.height() >= height,
    );
    t.elapsed().as_secs_f64()
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let keys: u64 = env_or("JOIN_KEYS", 200_000);
    let blocks: u64 = env_or("JOIN_BLOCKS", 3_000);
    let block_ms: u64 = env_or("JOIN_BLOCK_MS", 100);
    let every: u64 = env_or("JOIN_SNAPSHOT_EVERY", 500);
    let _serial = common::SERIAL.lock().unwrap();
    let mut net = Testnet::new(4);
    let mut full = net.extra_node("full");
    let mut sync = net.extra_node("sync");
    let mut snap = net.extra_node("snap");
    let ids = [
        full.peer_id.clone(),
        sync.peer_id.clone(),
        snap.peer_id.clone(),
    ];
    net.edit_genesis(&[&full, &sync, &snap], |g| {
        g["observers"] = json!([
            {"name": "full", "peer_id": ids[0]},
            {"name": "sync", "peer_id": ids[1]},
            {"name": "snap", "peer_id": ids[2]},
        ]);
        g["params"]["block_interval_ms"] = json!(block_ms);
    });
    for node in &net.nodes {
        node.set_snapshots(every, 2, 16 << 20);
    }
    net.start_all();
    net.wait_height(&[0, 1, 2, 3], 1, Duration::from_secs(60));

    // The state: a contract writing 1,000 keys per call.
    let (_, written) = net.fill(keys);
    let filled_at = net.nodes[0].height();
    common::wait_for(Duration::from_secs(7200), "the chain to grow", || {
        net.nodes[0].height() >= blocks.max(filled_at.div_ceil(every) * every + 1)
    });

    let tip = net.nodes[0].height();
    let full_s = catch_up(&mut full, tip, &[]);

    let tip_sync = net.nodes[0].height();
    let sync_s = catch_up(&mut sync, tip_sync, &["--state-sync"]);
    let log = std::fs::read_to_string(sync.home.join("node.log")).unwrap_or_default();
    assert!(
        log.contains("state sync done"),
        "the observer did not state-sync"
    );

    let file = net.dir.path().join("state.snap");
    let home0 = net.nodes[0].home.display().to_string();
    let t = Instant::now();
    phalanx(&[
        "snapshot",
        "export",
        "--home",
        &home0,
        "--out",
        file.to_str().unwrap(),
    ]);
    let export_s = t.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&file).unwrap().len();
    let home = snap.home.display().to_string();
    let t = Instant::now();
    phalanx(&[
        "snapshot",
        "import",
        file.to_str().unwrap(),
        "--home",
        &home,
    ]);
    let import_s = t.elapsed().as_secs_f64();
    let tip2 = net.nodes[0].height();
    let catch_s = catch_up(&mut snap, tip2, &[]);
    let snap_s = import_s + catch_s;
    println!(
        "join: {keys} keys written in {written:.0} s; full sync to {tip}, state sync to {tip_sync}, file to {tip2} ({bytes} bytes)"
    );
    println!("| way in | seconds | vs full sync |");
    println!("|---|---|---|");
    println!("| full block sync from genesis | {full_s:.1} | 1× |");
    println!(
        "| state sync from the validators' snapshots | {sync_s:.1} | {:.1}× faster |",
        full_s / sync_s
    );
    println!(
        "| snapshot file: import {import_s:.1} s + sync after it {catch_s:.1} s | {snap_s:.1} | {:.1}× faster (export on the serving node: {export_s:.1} s) |",
        full_s / snap_s
    );
}
