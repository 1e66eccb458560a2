//! `phalanx inspect` serves a stopped node's data read-only: the same answers the node gave,
//! no transactions, and the database untouched.

mod common;

use common::{bin, free_base_port, rpc, rpc_try, wait_for};
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn a_stopped_home_is_served_read_only() {
    let mut d = common::dev();
    wait_for(Duration::from_secs(20), "a few blocks", || {
        rpc(&d.url, "node_status", json!({}))["height"].as_u64() >= Some(3)
    });
    let _ = d.child.kill();
    let _ = d.child.wait();
    let data = d.home.join("data");
    let listing = |dir: &std::path::Path| {
        let mut files: Vec<(String, u64)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().len(),
                )
            })
            .filter(|(name, _)| !name.starts_with("LOG"))
            .collect();
        files.sort();
        files
    };
    let before = listing(&data);
    let port = free_base_port(1);
    let url = format!("http://127.0.0.1:{port}");
    let mut inspect = Command::new(bin())
        .args(["inspect", "--home", d.home.to_str().unwrap()])
        .args(["--rpc", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(20), "inspect's RPC", || {
        rpc_try(&url, "node_status", json!({})).is_ok()
    });
    let status = rpc(&url, "node_status", json!({}));
    let height = status["height"].as_u64().unwrap();
    assert!(height >= 3, "{status}");
    assert_eq!(status["peers"], 0);
    let tip = rpc(&url, "chain_getBlock", json!({"height": height}));
    assert_eq!(tip["header"]["hash"], status["latest_hash"]);
    assert_eq!(
        rpc(&url, "chain_getValidators", json!({}))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Transactions are refused: nothing runs consensus here.
    let key = common::read_key(&d.key);
    let tx = phalanx_types::Tx {
        chain_id: status["chain_id"].as_str().unwrap().to_string(),
        sender: key.public_key(),
        nonce: 0,
        gas_limit: 1_000_000,
        payload: phalanx_types::TxPayload::Call {
            contract: phalanx_types::Address([9; 32]),
            method: "x".into(),
            args: phalanx_types::Bytes(Vec::new()),
        },
    }
    .sign(&key);
    let tx = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        phalanx_types::encode(&tx),
    );
    let answer = rpc_try(&url, "tx_submit", json!({"tx": tx})).unwrap();
    assert_eq!(answer["error"]["code"], -32030, "{answer}");
    // Still at the same height after a while: nothing commits.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(rpc(&url, "node_status", json!({}))["height"], height);
    let _ = inspect.kill();
    let _ = inspect.wait();
    assert_eq!(listing(&data), before, "inspect wrote to the database");
}
