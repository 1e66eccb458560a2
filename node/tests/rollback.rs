//! `phalanx rollback` on a real home: it refuses while the node runs, rewinds one block per
//! call, and the next start re-executes the rolled-back blocks (real contract code, so on the
//! runtime's stack), committing the very same blocks again: a single validator would
//! otherwise propose new ones at those heights.

mod common;

use common::{bin, rpc, rpc_try, wait_for};
use serde_json::{Value, json};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn phalanx(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

fn rollback(home: &std::path::Path) -> Output {
    phalanx(&[
        "--output",
        "json",
        "rollback",
        "--home",
        home.to_str().unwrap(),
    ])
}

#[test]
fn rolled_back_blocks_are_re_executed_to_the_same_chain() {
    let _g = common::SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut d = common::dev();
    let key = d.key.to_str().unwrap().to_string();
    // A contract, and a call to it that writes state: the rolled-back blocks run wasm again.
    let wasm = d.dir.path().join("setter.wasm");
    std::fs::write(&wasm, wat::parse_str(common::SETTER).unwrap()).unwrap();
    let o = phalanx(&[
        "--output",
        "json",
        "tx",
        "deploy",
        wasm.to_str().unwrap(),
        "--key",
        &key,
        "--rpc",
        &d.url,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let deployed: Value = serde_json::from_slice(&o.stdout).unwrap();
    let contract = deployed["receipt"]["return"].as_str().unwrap().to_string();
    let o = phalanx(&[
        "--output",
        "json",
        "tx",
        "call",
        &contract,
        "set",
        "\"hello\"",
        "--key",
        &key,
        "--rpc",
        &d.url,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let called: Value = serde_json::from_slice(&o.stdout).unwrap();
    let hash = called["hash"].as_str().unwrap().to_string();
    let tx_height = rpc(&d.url, "tx_get", json!({"hash": hash}))["receipt"]["height"]
        .as_u64()
        .unwrap();
    let sender = rpc(&d.url, "tx_get", json!({"hash": hash}))["tx"]["sender"]
        .as_str()
        .unwrap()
        .to_string();
    let busy = rollback(&d.home);
    assert!(!busy.status.success(), "rolled back a running node");
    assert!(String::from_utf8_lossy(&busy.stderr).contains("Stop it first"));
    let _ = d.child.kill();
    let _ = d.child.wait();

    let blocks_of = |url: &str, from: u64, to: u64| -> Vec<Value> {
        (from..=to)
            .map(|h| rpc(url, "chain_getBlock", json!({"height": h}))["header"].clone())
            .collect()
    };
    let inspect = |home: &std::path::Path| {
        let port = common::free_base_port(1);
        let child = Command::new(bin())
            .args(["inspect", "--home"])
            .arg(home)
            .args(["--rpc", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        wait_for(Duration::from_secs(20), "inspect", || {
            rpc_try(&url, "node_status", json!({})).is_ok()
        });
        (child, url)
    };
    let proof = |url: &str| {
        rpc(
            url,
            "state_getProof",
            json!({"address": contract, "key": "ImhlbGxvIg=="}),
        )["value"]
            .clone()
    };
    let (mut child, url) = inspect(&d.home);
    let tip = rpc(&url, "node_status", json!({}))["height"]
        .as_u64()
        .unwrap();
    let before = blocks_of(&url, tx_height, tip);
    assert_eq!(proof(&url), "ImhlbGxvIg==");
    let _ = child.kill();
    let _ = child.wait();

    // One block per call, down to below the call.
    for h in (tx_height..=tip).rev() {
        let o = rollback(&d.home);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(out["rolled_back"], h, "{out}");
        assert_eq!(out["height"], h - 1);
    }
    let (mut child, url) = inspect(&d.home);
    let status = rpc(&url, "node_status", json!({}));
    assert_eq!(status["height"], tx_height - 1, "{status}");
    assert!(proof(&url).is_null(), "the call's write was rolled back");
    let nonce = rpc(&url, "account_get", json!({"address": sender}))["nonce"].clone();
    assert_eq!(nonce, 1, "only the deploy's nonce is left");
    assert!(rpc(&url, "tx_get", json!({"hash": hash})).is_null());
    let _ = child.kill();
    let _ = child.wait();

    // The next start replays them: the same blocks, then new ones.
    let port = common::free_base_port(1);
    let url = format!("http://127.0.0.1:{port}");
    d.child = Command::new(bin())
        .args(["dev", "--home"])
        .arg(&d.home)
        .args(["--rpc", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(30), "blocks past the old tip", || {
        rpc_try(&url, "node_status", json!({}))
            .ok()
            .and_then(|s| s["result"]["height"].as_u64())
            .is_some_and(|h| h > tip)
    });
    assert_eq!(blocks_of(&url, tx_height, tip), before, "the chain changed");
    assert_eq!(
        rpc(&url, "tx_get", json!({"hash": hash}))["receipt"]["height"],
        tx_height
    );
    assert_eq!(proof(&url), "ImhlbGxvIg==");
}
