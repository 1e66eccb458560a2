//! State sync on real nodes. Four pruning validators hold a large state (200,000 keys by
//! default) and keep snapshots every few heights; one of them serves corrupted chunks. An observer
//! started with `--state-sync` on an empty home chooses the newest snapshot f+1 peers
//! offer, is killed with -9 in the middle of fetching, resumes after the restart from the
//! chunks it had verified, refuses the corrupting peer's chunks and avoids it, installs the
//! state, proves values at the snapshot height and after it trusting only genesis, and then
//! follows the chain block for block.
//!
//! Knobs: `STATESYNC_KEYS` (200000).

mod common;

use common::{NodeProc, SERIAL, Testnet, env_or, phalanx, rpc, text, wait_for};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// Heights between the validators' snapshots.
const INTERVAL: u64 = 40;
/// Bytes a second each validator serves: slow enough that the kill lands mid-sync.
const SERVE_RATE: u64 = 1 << 20;

/// `phalanx snapshot list` of a home, newest first.
fn snapshots(home: &Path) -> Vec<Value> {
    let o = phalanx(&[
        "--output",
        "json",
        "snapshot",
        "list",
        "--home",
        home.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice::<Vec<Value>>(&o.stdout).unwrap()
}

/// Verified chunks a state sync keeps in `home`.
fn chunks_kept(home: &Path) -> usize {
    std::fs::read_dir(home.join("statesync/chunks"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().ends_with(".tmp"))
                .count()
        })
        .unwrap_or(0)
}

fn verify(observer: &NodeProc, filler: &str, key: u32, height: Option<u64>) {
    let genesis = observer.home.join("config/genesis.json");
    let key = hex::encode(key.to_le_bytes());
    let mut args = vec![
        "verify",
        filler,
        &key,
        "--genesis",
        genesis.to_str().unwrap(),
        "--rpc",
        &observer.rpc,
    ];
    let h = height.map(|h| h.to_string());
    if let Some(h) = &h {
        args.extend(["--height", h]);
    }
    let o = phalanx(&args);
    assert!(o.status.success(), "verify at {height:?}: {}", text(&o));
}

#[test]
fn an_observer_state_syncs_past_a_corrupting_peer_and_a_crash() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let keys: u64 = env_or("STATESYNC_KEYS", 200_000);
    let mut net = Testnet::new(4);
    let mut observer = net.observer("observer");
    for node in &net.nodes {
        node.set_snapshots(INTERVAL, 4, SERVE_RATE);
        // Pruned validators: a 20-version state window, shorter than a snapshot takes to
        // write, so the pin must hold it; the blocks after the snapshot are kept.
        node.set_retention(400, 20);
    }
    for node in &mut net.nodes[..3] {
        node.start();
    }
    net.nodes[3].start_with(&["--byzantine", "corrupt-snapshots"]);
    net.wait_height(&[0, 1, 2, 3], 1, Duration::from_secs(60));
    let (filler, fill_secs) = net.fill(keys);
    let filler = filler.to_string();
    let filled_at = net.nodes[0].height();

    // The honest validators keep a snapshot taken after the whole state was written.
    let deadline = Instant::now() + Duration::from_secs(300);
    while !net.nodes[..2].iter().all(|n| {
        snapshots(&n.home)
            .first()
            .is_some_and(|s| s["height"].as_u64().unwrap() > filled_at)
    }) {
        assert!(
            Instant::now() < deadline,
            "no snapshot after height {filled_at}: {}",
            net.nodes[0].log_tail()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let newest = snapshots(&net.nodes[0].home)[0].clone();
    let chunks = newest["chunks"].as_u64().unwrap() as usize;
    assert!(newest["keys"].as_u64().unwrap() >= keys, "{newest}");
    assert!(chunks >= 8, "{newest}");

    // Killed in the middle of fetching.
    let t = Instant::now();
    observer.start_with(&["--state-sync"]);
    wait_for(Duration::from_secs(300), "a quarter of the chunks", || {
        chunks_kept(&observer.home) >= chunks / 4
    });
    observer.kill();
    let kept = chunks_kept(&observer.home);
    assert!(
        !observer.home.join("data/CURRENT").exists() || kept == chunks,
        "the database was written before every chunk was in"
    );

    // Restarted, it resumes and finishes.
    observer.start_with(&["--state-sync"]);
    let tip = net.nodes[0].height();
    wait_for(Duration::from_secs(600), "the observer to catch up", || {
        observer.height() >= tip
    });
    let sync_secs = t.elapsed().as_secs_f64();
    let log = std::fs::read_to_string(observer.home.join("node.log")).unwrap();
    if kept < chunks {
        assert!(
            log.contains("resuming state sync"),
            "no resume after the kill ({kept}/{chunks} chunks kept): {}",
            observer.log_tail()
        );
    }
    let corruptor = &net.nodes[3].peer_id;
    assert!(
        log.lines()
            .any(|l| l.contains("served a bad snapshot chunk") && l.contains(corruptor.as_str())),
        "the corrupting peer was not caught: {}",
        observer.log_tail()
    );
    assert!(
        !observer.home.join("statesync").exists(),
        "the staging directory is left"
    );

    // It serves the state with proofs at the snapshot height and after it.
    let s = observer.status().unwrap();
    let height = s["earliest_state_height"].as_u64().unwrap();
    assert!(height > filled_at, "{s}");
    assert_eq!(s["earliest_height"], json!(height + 1), "{s}");
    verify(&observer, &filler, 7, Some(height));
    verify(&observer, &filler, keys as u32 - 1, Some(height));
    // And it follows the chain.
    let later = net.nodes[0].height() + 5;
    wait_for(Duration::from_secs(120), "the observer to follow", || {
        observer.height() >= later
    });
    verify(&observer, &filler, 7, None);
    for h in height + 1..=later {
        let mine = rpc(&observer.rpc, "chain_getBlock", json!({"height": h}));
        let theirs = rpc(&net.nodes[0].rpc, "chain_getBlock", json!({"height": h}));
        assert_eq!(mine["header"], theirs["header"], "height {h}");
    }
    let metrics = ureq::get(&format!("{}/metrics", observer.rpc))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("phalanx_statesync_bad_chunks_total") && !l.ends_with(" 0")),
        "{metrics}"
    );
    common::report(format!(
        "state sync: {keys} keys written in {fill_secs:.0} s; snapshot at {height} ({chunks} chunks, {} bytes); killed with {kept} chunks kept; joined and caught up to {tip} in {sync_secs:.1} s",
        newest["bytes"]
    ));
}
