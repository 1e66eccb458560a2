//! Multi-process tests: real `phalanx` validators on 127.0.0.1, each test bounded in time.

mod common;

use common::{SERIAL, Testnet, read_key, rpc, rpc_try, wait_for};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECS: fn(u64) -> Duration = Duration::from_secs;

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn four_validators_commit_the_same_blocks_and_state() {
    let _g = serial();
    let mut net = Testnet::new(4);
    net.start_all();
    net.wait_height(&[0, 1, 2, 3], 2, SECS(30));
    let contract = net.deploy_setter(0, 0);
    // Calls through different nodes; each waits for finality.
    for (n, i) in (1..=6).zip([1, 2, 3, 0, 1, 2]) {
        let tx = net.set_call(contract, n, &format!("value-{n}"));
        let r = rpc(
            &net.nodes[i].rpc,
            "tx_submit",
            json!({"tx": tx, "wait": "final"}),
        );
        assert_eq!(r["receipt"]["status"], "ok", "{r}");
    }
    let top = net.heights().into_iter().max().unwrap();
    net.wait_height(&[0, 1, 2, 3], top + 2, SECS(20));
    let low = net.assert_agree(&[0, 1, 2, 3]);
    assert!(low >= top);
    // Every node knows every transaction, and the account's nonce is the same everywhere.
    for node in &net.nodes {
        let a = rpc(
            &node.rpc,
            "account_get",
            json!({"address": net.client.address()}),
        );
        assert_eq!(a["nonce"], 7);
    }
    // Bad input gets a clear error and changes nothing.
    let bad = rpc_try(&net.nodes[0].rpc, "tx_submit", json!({"tx": "AAAA"})).unwrap();
    assert_eq!(bad["error"]["code"], -32010, "{bad}");
    let replay = net.set_call(contract, 3, "again");
    let bad = rpc_try(&net.nodes[0].rpc, "tx_submit", json!({"tx": replay})).unwrap();
    assert_eq!(bad["error"]["code"], -32011, "{bad}");
}

#[test]
fn killing_the_primary_under_load_loses_nothing() {
    let _g = serial();
    let mut net = Testnet::new(4);
    net.start_all();
    net.wait_height(&[0, 1, 2, 3], 2, SECS(30));
    let contract = net.deploy_setter(0, 0);
    let primary = (0..4)
        .find(|i| {
            net.nodes[*i]
                .status()
                .is_some_and(|s| s["is_primary"] == true)
        })
        .expect("a primary");
    let backups: Vec<usize> = (0..4).filter(|i| *i != primary).collect();

    // Load: one client submitting to the backups, waiting for finality each time.
    let stop = Arc::new(AtomicBool::new(false));
    let finalized = Arc::new(Mutex::new(Vec::new()));
    let rpcs: Vec<String> = backups.iter().map(|i| net.nodes[*i].rpc.clone()).collect();
    let txs: Vec<String> = (1..400)
        .map(|n| net.set_call(contract, n, &format!("load-{n}")))
        .collect();
    let loader = {
        let (stop, finalized) = (stop.clone(), finalized.clone());
        std::thread::spawn(move || {
            let mut k = 0;
            for tx in txs {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let url = &rpcs[k % rpcs.len()];
                    k += 1;
                    match rpc_try(url, "tx_submit", json!({"tx": tx, "wait": "final"})) {
                        Ok(v) if v.get("result").is_some() => {
                            finalized.lock().unwrap().push(v["result"]["hash"].clone());
                            break;
                        }
                        // Already pending from an earlier attempt: wait for it via tx_get.
                        Ok(v) if v["error"]["code"] == -32012 || v["error"]["code"] == -32014 => {
                            std::thread::sleep(Duration::from_millis(200));
                        }
                        // Nonce already used: an earlier attempt committed.
                        Ok(v) if v["error"]["code"] == -32011 => break,
                        _ => std::thread::sleep(Duration::from_millis(100)),
                    }
                }
            }
        })
    };
    wait_for(SECS(20), "some load to commit", || {
        finalized.lock().unwrap().len() >= 5
    });
    let before = net.heights().into_iter().max().unwrap();
    // Missed-vote counters, as a backup sees the primary and another backup.
    let sample = |of: usize| {
        let address = read_key(&net.nodes[of].home.join("config/validator_key")).address();
        format!(
            "phalanx_validator_missed_votes_total{{validator=\"{}\"}}",
            address.to_hex()
        )
    };
    let (watcher, live) = (backups[0], backups[1]);
    let (watcher_rpc, of_dead, of_live) = (
        net.nodes[watcher].rpc.clone(),
        sample(primary),
        sample(live),
    );
    let missed = |sample: &str| common::metric(&watcher_rpc, sample).unwrap_or(0.0);
    let (dead_before, live_before) = (missed(&of_dead), missed(&of_live));
    net.nodes[primary].kill();
    // The others change view and keep committing.
    net.wait_height(&backups, before + 3, SECS(20));
    // Every height they decided without it counts against the dead primary (the first may
    // have had its vote in hand); with three left, each commit needs every live vote.
    let dead = missed(&of_dead) - dead_before;
    let alive = missed(&of_live) - live_before;
    assert!(
        dead >= 2.0,
        "the dead primary missed {dead} heights on node {watcher}"
    );
    // (Only heights decided between the sample and the kill, with all four up, may count.)
    assert!(
        alive <= 2.0,
        "a live validator missed {alive} heights while {dead} went without the dead one"
    );
    let done_before_restart = finalized.lock().unwrap().len();
    net.nodes[primary].start();
    let target = net.heights().into_iter().max().unwrap();
    net.wait_height(&[primary], target, SECS(30));
    wait_for(SECS(20), "more load after the restart", || {
        finalized.lock().unwrap().len() > done_before_restart + 3
    });
    stop.store(true, Ordering::Relaxed);
    loader.join().unwrap();
    let top = net.heights().into_iter().max().unwrap();
    net.wait_height(&[0, 1, 2, 3], top, SECS(20));
    net.assert_agree(&[0, 1, 2, 3]);
    // The restarted node votes again: with another backup down, no quorum forms without it.
    let other = backups[0];
    net.nodes[other].kill();
    let rest: Vec<usize> = (0..4).filter(|i| *i != other).collect();
    let h = rest.iter().map(|i| net.nodes[*i].height()).max().unwrap();
    net.wait_height(&rest, h + 3, SECS(30));
    net.nodes[other].start();
    net.wait_height(&[other], h + 3, SECS(30));
    let views: Vec<_> = net
        .nodes
        .iter()
        .map(|n| n.status().unwrap()["view"].clone())
        .collect();
    eprintln!(
        "primary {primary} killed at height {before}; {} txs final; heights {:?}; views {views:?}",
        finalized.lock().unwrap().len(),
        net.heights()
    );
    assert!(
        views.iter().all(|v| v.as_u64().unwrap() > 0),
        "the view never changed: {views:?}"
    );
    // No finalized transaction is missing anywhere, the restarted node included.
    for hash in finalized.lock().unwrap().iter() {
        for node in &net.nodes {
            let t = rpc(&node.rpc, "tx_get", json!({"hash": hash}));
            assert!(!t.is_null(), "{hash} missing on {}", node.rpc);
        }
    }
    // Nobody double-signed: no node recorded equivocation evidence.
    for node in &net.nodes {
        let ev = rpc(&node.rpc, "evidence_list", json!({}));
        assert_eq!(ev, json!([]), "evidence on {}", node.rpc);
    }
}

#[test]
fn no_commits_without_a_quorum_then_recovery() {
    let _g = serial();
    let mut net = Testnet::new(4);
    net.start_all();
    net.wait_height(&[0, 1, 2, 3], 3, SECS(30));
    net.nodes[2].kill();
    net.nodes[3].kill();
    std::thread::sleep(SECS(2));
    let stuck = net.heights();
    std::thread::sleep(SECS(5));
    assert_eq!(net.heights(), stuck, "committed without 2f+1 validators");
    net.nodes[3].start();
    let h = stuck[0].max(stuck[1]);
    net.wait_height(&[0, 1, 3], h + 3, SECS(40));
    net.assert_agree(&[0, 1, 3]);
}

#[test]
fn a_stranger_cannot_connect() {
    let _g = serial();
    let mut net = Testnet::new(4);
    net.start_all();
    net.wait_height(&[0, 1, 2, 3], 2, SECS(30));
    // A node with the chain's genesis but a key that genesis does not name.
    let mut stranger = net.extra_node("stranger");
    stranger.start();
    wait_for(SECS(20), "the stranger's RPC", || {
        stranger.status().is_some()
    });
    std::thread::sleep(SECS(4));
    let s = stranger.status().unwrap();
    assert_eq!(s["peers"], 0, "stranger connected: {s}");
    assert_eq!(s["height"], 0, "stranger synced blocks: {s}");
    for node in &net.nodes {
        let peers = rpc(&node.rpc, "net_peers", json!({}));
        assert_eq!(peers.as_array().unwrap().len(), 3, "{}: {peers}", node.rpc);
    }
}

#[test]
fn a_paused_node_catches_up() {
    let _g = serial();
    let mut net = Testnet::new(4);
    net.start_all();
    net.wait_height(&[0, 1, 2, 3], 2, SECS(30));
    let victim = (0..4)
        .find(|i| {
            net.nodes[*i]
                .status()
                .is_some_and(|s| s["is_primary"] == false)
        })
        .unwrap();
    net.nodes[victim].signal("STOP");
    let others: Vec<usize> = (0..4).filter(|i| *i != victim).collect();
    // (A stopped process accepts connections but never answers: only ask the others.)
    let h = others.iter().map(|i| net.nodes[*i].height()).max().unwrap();
    net.wait_height(&others, h + 8, SECS(30));
    net.nodes[victim].signal("CONT");
    let target = net.heights().into_iter().max().unwrap();
    net.wait_height(&[victim], target, SECS(30));
    net.assert_agree(&[0, 1, 2, 3]);
}

#[test]
fn dev_chain_commits_and_stops_gracefully_on_sigterm() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("dev");
    let port = common::free_base_port(1);
    let url = format!("http://127.0.0.1:{port}");
    let start = || {
        std::process::Command::new(common::bin())
            .args(["dev", "--home"])
            .arg(&home)
            .args(["--rpc", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut child = start();
    wait_for(SECS(20), "the dev chain to commit block 2", || {
        rpc_try(&url, "node_status", json!({}))
            .ok()
            .and_then(|v| v["result"]["height"].as_u64())
            .is_some_and(|h| h >= 2)
    });
    // The dev key may submit at once: a deploy is final in one round trip.
    let key = common::read_key(&home.join("dev.key"));
    let tx = phalanx_types::Tx {
        chain_id: "phalanx-dev".into(),
        sender: key.public_key(),
        nonce: 0,
        gas_limit: 50_000_000,
        payload: phalanx_types::TxPayload::Deploy {
            code: phalanx_types::Bytes(wat::parse_str(common::SETTER).unwrap()),
            init_args: phalanx_types::Bytes(Vec::new()),
            admin: None,
        },
    }
    .sign(&key);
    let raw = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, tx.to_bytes());
    let r = rpc(&url, "tx_submit", json!({"tx": raw, "wait": "final"}));
    assert_eq!(r["receipt"]["status"], "ok", "{r}");
    let committed_at = r["receipt"]["height"].as_u64().unwrap();

    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let t = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < SECS(5), "still running 5 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");

    // Restart: the same chain continues from where it stopped.
    let mut child = start();
    wait_for(SECS(20), "the restarted dev chain", || {
        rpc_try(&url, "node_status", json!({}))
            .ok()
            .and_then(|v| v["result"]["height"].as_u64())
            .is_some_and(|h| h > committed_at)
    });
    let t = rpc(&url, "tx_get", json!({"hash": tx.hash()}));
    assert_eq!(t["receipt"]["height"], committed_at);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn an_observer_named_in_genesis_follows_the_chain() {
    let _g = serial();
    let mut net = Testnet::new(4);
    let mut observer = net.observer("observer");
    net.start_all();
    observer.start();
    net.wait_height(&[0, 1, 2, 3], 3, SECS(30));
    let target = net.heights().into_iter().max().unwrap() + 2;
    wait_for(SECS(30), "the observer to follow the chain", || {
        observer.height() >= target
    });
    // Each validator talks to it (status every second), so all 4 count as its peers.
    wait_for(
        SECS(10),
        "the observer to hear from all 4 validators",
        || observer.status().is_some_and(|s| s["peers"] == 4),
    );
    let s = observer.status().unwrap();
    assert!(s["validator"].is_null(), "{s}");
    // It holds the validators' blocks and state roots.
    let h = observer.height();
    for height in 1..=h {
        let mine = rpc(&observer.rpc, "chain_getBlock", json!({"height": height}));
        let theirs = rpc(
            &net.nodes[0].rpc,
            "chain_getBlock",
            json!({"height": height}),
        );
        assert_eq!(mine["header"], theirs["header"], "height {height}");
    }
    // It never votes: every certificate is signed by validators only.
    let cert = rpc(&observer.rpc, "chain_getBlock", json!({}))["certificate"].clone();
    let validators: Vec<serde_json::Value> = rpc(&observer.rpc, "chain_getValidators", json!({}))
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["address"].clone())
        .collect();
    for sig in cert["signatures"].as_array().unwrap() {
        assert!(validators.contains(&sig["validator"]));
    }
}
