//! Pruning on real nodes: a 4-validator chain where two validators keep a short window under a
//! steady stream of state writes. The pruned nodes answer pruned heights with a clear error
//! naming their lowest height, keep serving recent blocks and proofs (checked by `phalanx
//! verify` against genesis), and a node killed while pruning restarts and keeps up. The
//! archival validators still serve everything.

mod common;

use base64::Engine;
use common::{SERIAL, Testnet, rpc, rpc_try, wait_for};
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

/// Validators 0 and 1 prune; 2 and 3 keep everything.
const PRUNED: [usize; 2] = [0, 1];
const RETAIN_BLOCKS: u64 = 20;
const RETAIN_STATE: u64 = 10;

fn status(url: &str) -> Value {
    rpc(url, "node_status", json!({}))
}

/// The error object of a call that must fail.
fn error_of(url: &str, method: &str, params: Value) -> Value {
    let v = rpc_try(url, method, params).unwrap_or_else(|e| panic!("{method}: {e}"));
    assert!(v.get("result").is_none(), "{method} succeeded: {v}");
    v["error"].clone()
}

/// The invariants of a pruned node: every block from its lowest to its tip is there (no
/// holes, even after a kill mid-prune) and the one below is refused with the lowest height
/// named; pruned state and events are refused the same way, and the latest state proves.
fn check_pruned(url: &str, contract: &str, key_b64: &str) -> u64 {
    // Blocks keep committing, so the window may move between two reads: retry on that.
    for _ in 0..10 {
        let s = status(url);
        let (tip, lowest, lowest_state) = (
            s["height"].as_u64().unwrap(),
            s["earliest_height"].as_u64().unwrap(),
            s["earliest_state_height"].as_u64().unwrap(),
        );
        assert!(lowest > 1, "nothing pruned: {s}");
        // The pruner follows the tip: at most a few steps behind the window.
        assert!(lowest + RETAIN_BLOCKS + 20 >= tip, "window not kept: {s}");
        assert!(
            lowest_state + RETAIN_STATE + 20 >= tip,
            "state not pruned: {s}"
        );
        let mut moved = false;
        for h in lowest..=tip {
            let b = rpc_try(url, "chain_getBlock", json!({"height": h})).unwrap();
            if b["error"]["code"] == json!(-32021) {
                assert!(
                    b["error"]["data"]["earliest_height"].as_u64().unwrap() > h,
                    "{b}"
                );
                moved = true;
                break;
            }
            assert_eq!(
                b["result"]["header"]["height"],
                json!(h),
                "hole at {h}: {b}"
            );
        }
        if moved {
            continue;
        }
        let err = error_of(url, "chain_getBlock", json!({"height": lowest - 1}));
        assert_eq!(err["code"], json!(-32021), "{err}");
        assert!(
            err["data"]["earliest_height"].as_u64().unwrap() >= lowest,
            "{err}"
        );
        assert!(err["message"].as_str().unwrap().contains("pruned"), "{err}");
        let err = error_of(
            url,
            "state_getProof",
            json!({"address": contract, "key": key_b64, "height": 1}),
        );
        assert_eq!(err["code"], json!(-32021), "{err}");
        let err = error_of(url, "events_get", json!({"from_height": 1, "to_height": 5}));
        assert_eq!(err["code"], json!(-32021), "{err}");
        let p = rpc(
            url,
            "state_getProof",
            json!({"address": contract, "key": key_b64}),
        );
        assert!(p["value"].is_string(), "{p}");
        return lowest;
    }
    panic!("the window kept moving under every read");
}

#[test]
fn pruned_nodes_keep_their_window_and_survive_a_kill() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut net = Testnet::new(4);
    for i in PRUNED {
        let path = net.nodes[i].home.join("config/config.toml");
        // `phalanx init` wrote the defaults: keep every block, 100,000 state versions.
        let cfg = std::fs::read_to_string(&path).unwrap();
        let edited = cfg
            .replace(
                "retain_blocks = 0",
                &format!("retain_blocks = {RETAIN_BLOCKS}"),
            )
            .replace(
                "retain_state_versions = 100000",
                &format!("retain_state_versions = {RETAIN_STATE}"),
            );
        assert_ne!(cfg, edited, "no [pruning] defaults in {cfg}");
        std::fs::write(&path, edited).unwrap();
    }
    net.start_all();
    net.wait_height(&[0, 1, 2, 3], 1, Duration::from_secs(60));
    let contract = net.deploy_setter(2, 0);
    let contract_s = contract.to_string();
    // `set "k"` stores "k" under itself: the key every proof below asks for.
    let key_b64 = base64::engine::general_purpose::STANDARD.encode(b"k");
    let mut nonce = 1;
    let send = |net: &Testnet, nonce: &mut u64, to: usize| {
        let arg = if *nonce == 1 {
            "k".to_string()
        } else {
            format!("v{nonce}")
        };
        let tx = net.set_call(contract, *nonce, &arg);
        let r = rpc(
            &net.nodes[to].rpc,
            "tx_submit",
            json!({"tx": tx, "wait": "final"}),
        );
        assert_eq!(r["receipt"]["status"], "ok", "{r}");
        *nonce += 1;
    };
    // State writes in every block for a while: the window fills and slides.
    let target = RETAIN_BLOCKS * 3;
    while net.nodes[2].height() < target {
        send(&net, &mut nonce, 2);
    }
    net.wait_height(&[0, 1], target, Duration::from_secs(60));
    for i in PRUNED {
        wait_for(Duration::from_secs(30), "the pruner to catch up", || {
            let s = status(&net.nodes[i].rpc);
            s["earliest_height"].as_u64().unwrap() + RETAIN_BLOCKS > s["height"].as_u64().unwrap()
        });
        check_pruned(&net.nodes[i].rpc, &contract_s, &key_b64);
    }
    // The archival validators still have block 1 and the first state.
    let b1 = rpc(&net.nodes[3].rpc, "chain_getBlock", json!({"height": 1}));
    assert_eq!(b1["header"]["height"], json!(1));
    assert_eq!(status(&net.nodes[3].rpc)["earliest_height"], json!(1));

    // A value proven by a pruned node verifies from genesis, trusting no node.
    let genesis = net.nodes[0].home.join("config/genesis.json");
    let o = Command::new(common::bin())
        .args(["verify", &contract_s, &hex::encode(b"k"), "--genesis"])
        .arg(&genesis)
        .args(["--rpc", &net.nodes[0].rpc])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );

    // Kill a pruning node while the chain moves on (its pruner is busy every block), then
    // restart it: it reopens, catches up and keeps pruning.
    for round in 0..3 {
        for _ in 0..5 + round * 3 {
            send(&net, &mut nonce, 3);
        }
        net.nodes[0].kill();
        for _ in 0..10 {
            send(&net, &mut nonce, 3);
        }
        net.nodes[0].start();
        let tip = net.nodes[3].height();
        net.wait_height(&[0], tip, Duration::from_secs(60));
    }
    for _ in 0..RETAIN_BLOCKS {
        send(&net, &mut nonce, 3);
    }
    let tip = net.nodes[3].height();
    net.wait_height(&[0, 1, 2, 3], tip, Duration::from_secs(60));
    net.assert_agree(&[0, 1, 2, 3]);
    wait_for(
        Duration::from_secs(30),
        "the restarted pruner to catch up",
        || {
            let s = status(&net.nodes[0].rpc);
            s["earliest_height"].as_u64().unwrap() + RETAIN_BLOCKS > s["height"].as_u64().unwrap()
        },
    );
    let lowest = check_pruned(&net.nodes[0].rpc, &contract_s, &key_b64);
    common::report(format!(
        "pruning: node 0 at height {} keeps blocks from {lowest} after 3 kills",
        status(&net.nodes[0].rpc)["height"]
    ));
}
