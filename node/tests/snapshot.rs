//! Joining from a snapshot file on real nodes: a running validator exports the state at its
//! height; a damaged copy of the file is refused without touching the new home; the good one
//! is imported into an observer that never replayed history, which then serves the state with
//! proofs at the snapshot height (verified from genesis), syncs the later blocks from the
//! validators and follows the chain.

mod common;

use base64::Engine;
use common::{SERIAL, Testnet, phalanx, rpc, rpc_try, text, wait_for};
use serde_json::{Value, json};
use std::time::Duration;

#[test]
fn an_observer_joins_from_a_verified_snapshot_and_follows() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut net = Testnet::new(4);
    let mut observer = net.observer("observer");
    net.start_all();
    net.wait_height(&[0, 1, 2, 3], 1, Duration::from_secs(60));
    let contract = net.deploy_setter(0, 0);
    // State to carry: 60 keys written by 60 transactions, in a batch.
    let txs: Vec<String> = (1..=60)
        .map(|n| net.set_call(contract, n, &format!("key-{n}")))
        .collect();
    let r = rpc(&net.nodes[1].rpc, "tx_submitBatch", json!({"txs": txs}))["results"].clone();
    assert_eq!(r.as_array().map(Vec::len), Some(60), "{r}");
    let last = r[59]["hash"].clone();
    assert!(last.is_string(), "{r}");
    wait_for(Duration::from_secs(60), "the batch to commit", || {
        !rpc(&net.nodes[0].rpc, "tx_get", json!({"hash": last})).is_null()
    });

    // Export from a running validator, split into 8 chunks.
    let dir = net.dir.path();
    let file = dir.join("state.snap");
    let home0 = net.nodes[0].home.display().to_string();
    let o = phalanx(&[
        "--output",
        "json",
        "snapshot",
        "export",
        "--home",
        &home0,
        "--depth",
        "3",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let exported: Value = serde_json::from_slice(&o.stdout).unwrap();
    let height = exported["height"].as_u64().unwrap();
    assert_eq!(exported["chunks"], 8, "{exported}");
    assert!(exported["keys"].as_u64().unwrap() >= 60, "{exported}");

    // A damaged copy is refused, and the home is left as it was.
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() - 40;
    bytes[at] ^= 0x55;
    let bad = dir.join("damaged.snap");
    std::fs::write(&bad, &bytes).unwrap();
    let home = observer.home.display().to_string();
    let o = phalanx(&["snapshot", "import", bad.to_str().unwrap(), "--home", &home]);
    assert!(!o.status.success(), "a damaged snapshot was imported");
    assert!(
        text(&o).contains("chunk"),
        "the error names no chunk: {}",
        text(&o)
    );

    // The good file imports.
    let o = phalanx(&[
        "--output",
        "json",
        "snapshot",
        "import",
        file.to_str().unwrap(),
        "--home",
        &home,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let imported: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(imported["height"], json!(height));
    assert_eq!(imported["state_root"], exported["state_root"]);
    // Importing again into the now initialized home is refused.
    let o = phalanx(&[
        "snapshot",
        "import",
        file.to_str().unwrap(),
        "--home",
        &home,
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("already holds chain data"),
        "{}",
        text(&o)
    );

    // The observer starts at the snapshot height and serves its state with a proof.
    observer.start();
    wait_for(Duration::from_secs(30), "the observer's RPC", || {
        observer.status().is_some()
    });
    let s = observer.status().unwrap();
    // Its history starts after the snapshot's block (kept, without receipts).
    assert_eq!(s["earliest_height"], json!(height + 1), "{s}");
    assert_eq!(s["earliest_state_height"], json!(height), "{s}");
    let key = base64::engine::general_purpose::STANDARD.encode(b"key-7");
    let p = rpc(
        &observer.rpc,
        "state_getProof",
        json!({"address": contract.to_string(), "key": key, "height": height}),
    );
    assert_eq!(
        p["value"],
        json!(base64::engine::general_purpose::STANDARD.encode(b"key-7")),
        "{p}"
    );
    // That proof verifies trusting only genesis.
    let genesis = observer.home.join("config/genesis.json");
    let o = phalanx(&[
        "verify",
        &contract.to_string(),
        &hex::encode(b"key-7"),
        "--height",
        &height.to_string(),
        "--genesis",
        genesis.to_str().unwrap(),
        "--rpc",
        &observer.rpc,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // History before the snapshot is not here, and says so.
    let b = rpc_try(
        &observer.rpc,
        "chain_getBlock",
        json!({"height": height - 1}),
    )
    .unwrap();
    assert_eq!(b["error"]["code"], json!(-32021), "{b}");

    // It syncs what came after and follows: more blocks, with more state.
    for n in 61..=70 {
        let tx = net.set_call(contract, n, &format!("later-{n}"));
        let r = rpc(
            &net.nodes[2].rpc,
            "tx_submit",
            json!({"tx": tx, "wait": "final"}),
        );
        assert_eq!(r["receipt"]["status"], "ok", "{r}");
    }
    let tip = net.nodes[2].height();
    wait_for(Duration::from_secs(60), "the observer to follow", || {
        observer.height() >= tip
    });
    for h in height + 1..=tip {
        let mine = rpc(&observer.rpc, "chain_getBlock", json!({"height": h}));
        let theirs = rpc(&net.nodes[0].rpc, "chain_getBlock", json!({"height": h}));
        assert_eq!(mine["header"], theirs["header"], "height {h}");
    }
    // A value written after the snapshot, verified against the observer trusting genesis only.
    let o = phalanx(&[
        "--output",
        "json",
        "verify",
        &contract.to_string(),
        &hex::encode(b"later-70"),
        "--genesis",
        genesis.to_str().unwrap(),
        "--rpc",
        &observer.rpc,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["value"], "later-70", "{v}");
    common::report(format!(
        "snapshot: {} keys at height {height} in {} bytes; the observer followed to {tip}",
        exported["keys"], exported["bytes"]
    ));
}
