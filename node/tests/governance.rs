//! Governance across real processes on 127.0.0.1: a 4-validator network grows to 5 (the new
//! node syncs, then votes) and shrinks back by removing the validator that leads the view,
//! under light load, with every node agreeing on blocks and state roots. All through the
//! `phalanx gov` CLI.

mod common;

use common::{NodeProc, Testnet, bin, read_key, rpc, wait_for};
use serde_json::{Value, json};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// Runs `phalanx gov …` with `--output json`; its JSON output.
fn gov(args: &[&str]) -> Value {
    let out = Command::new(bin())
        .args(["--output", "json", "gov"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "phalanx gov {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

fn key_of(node: &NodeProc) -> String {
    node.home.join("config/validator_key").display().to_string()
}

fn address_of(node: &NodeProc) -> Value {
    json!(read_key(&node.home.join("config/validator_key")).address())
}

fn set_on(node: &NodeProc) -> Vec<Value> {
    rpc(&node.rpc, "chain_getValidators", json!({}))
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["address"].clone())
        .collect()
}

/// Submits `set` calls from the client key, round-robin over the given RPC URLs, until
/// stopped; counts the ones the mempools took.
fn light_load(
    net: &Testnet,
    urls: Vec<String>,
    stop: Arc<AtomicBool>,
) -> (Arc<AtomicU64>, phalanx_types::Address) {
    let contract = net.deploy_setter(0, 0);
    let txs: Vec<String> = (1..2_000)
        .map(|n| net.set_call(contract, n, &format!("load-{n}")))
        .collect();
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    std::thread::spawn(move || {
        let mut i = 0;
        for tx in txs {
            while !stop.load(Ordering::Relaxed) {
                let url = &urls[i % urls.len()];
                i += 1;
                let ok = common::rpc_try(url, "tx_submit", json!({"tx": tx})).is_ok();
                if ok {
                    counter.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(40));
        }
    });
    (sent, contract)
}

#[test]
fn a_validator_joins_and_the_primary_leaves_by_governance() {
    let mut net = Testnet::new(4);
    let mut newcomer = net.extra_node("node4");
    // The founding validators keep every block (the newcomer syncs from them) but only 3 state
    // versions: the final `verify --genesis` can only walk the set changes through the proofs
    // saved when each took effect.
    for n in &net.nodes {
        n.set_retention(0, 3);
    }
    net.start_all();
    net.wait_height(&[0, 1, 2, 3], 2, SECS(30));
    let stop = Arc::new(AtomicBool::new(false));
    let urls = net.nodes.iter().map(|n| n.rpc.clone()).collect();
    let (sent, contract) = light_load(&net, urls, stop.clone());

    // 4 -> 5: node 0 proposes the newcomer with the public data its operator prints
    // (`show-validator`, `show-node-id`), 1 and 2 approve.
    let home = newcomer.home.display().to_string();
    let show = |cmd: &str| -> Value {
        let o = common::phalanx(&["--output", "json", cmd, "--home", &home]);
        assert!(
            o.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let public_key = show("show-validator")["public_key"]
        .as_str()
        .unwrap()
        .to_string();
    let peer_id = show("show-node-id")["peer_id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = gov(&[
        "propose",
        "add-validator",
        "--public-key",
        &public_key,
        "--peer-id",
        &peer_id,
        "--key",
        &key_of(&net.nodes[0]),
        "--rpc",
        &net.nodes[0].rpc,
    ]);
    assert_eq!(out["receipt"]["status"], "ok", "{out}");
    let id = out["receipt"]["return"]["proposal_id"].as_u64().unwrap();
    assert_eq!(out["receipt"]["return"]["status"], "pending");
    gov(&[
        "approve",
        &id.to_string(),
        "--key",
        &key_of(&net.nodes[1]),
        "--rpc",
        &net.nodes[1].rpc,
    ]);
    let out = gov(&[
        "approve",
        &id.to_string(),
        "--key",
        &key_of(&net.nodes[2]),
        "--rpc",
        &net.nodes[2].rpc,
    ]);
    let scheduled = out["receipt"]["return"]["status"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(scheduled.starts_with("scheduled for "), "{out}");
    let activation: u64 = scheduled["scheduled for ".len()..].parse().unwrap();
    // The approved node may connect now: it starts, syncs and becomes a validator.
    newcomer.start();
    let joined = address_of(&newcomer);
    wait_for(
        SECS(30),
        "every node to install the 5-validator set",
        || {
            net.nodes
                .iter()
                .chain([&newcomer])
                .all(|n| n.status().is_some() && set_on(n).contains(&joined))
        },
    );
    assert_eq!(set_on(&net.nodes[0]).len(), 5);
    // Heights before the activation were decided by the old set, and the history says so.
    let before = rpc(
        &net.nodes[3].rpc,
        "chain_getValidators",
        json!({"height": activation - 1}),
    );
    assert_eq!(before.as_array().unwrap().len(), 4);
    let at = rpc(
        &net.nodes[3].rpc,
        "chain_getValidators",
        json!({"height": activation}),
    );
    assert_eq!(at.as_array().unwrap().len(), 5);
    // The newcomer signs certificates once it caught up.
    wait_for(SECS(40), "the new validator to sign a certificate", || {
        let cert = rpc(&net.nodes[0].rpc, "chain_getBlock", json!({}))["certificate"].clone();
        cert["signatures"]
            .as_array()
            .is_some_and(|s| s.iter().any(|sig| sig["validator"] == joined))
    });
    let s = newcomer.status().unwrap();
    assert_eq!(s["validator"], joined);

    // 5 -> 4: remove whoever leads the view now. Four approvals are needed (quorum of 5).
    let mut all: Vec<NodeProc> = std::mem::take(&mut net.nodes);
    all.push(newcomer);
    let primary = (0..5)
        .find(|i| all[*i].status().is_some_and(|s| s["is_primary"] == true))
        .expect("a primary");
    let leaving = address_of(&all[primary]);
    let others: Vec<usize> = (0..5).filter(|i| *i != primary).collect();
    let out = gov(&[
        "propose",
        "remove-validator",
        leaving.as_str().unwrap(),
        "--key",
        &key_of(&all[others[0]]),
        "--rpc",
        &all[others[0]].rpc,
    ]);
    let id = out["receipt"]["return"]["proposal_id"].as_u64().unwrap();
    for &i in &others[1..4] {
        gov(&[
            "approve",
            &id.to_string(),
            "--key",
            &key_of(&all[i]),
            "--rpc",
            &all[i].rpc,
        ]);
    }
    wait_for(
        SECS(30),
        "the remaining validators to drop the primary",
        || {
            others.iter().all(|i| {
                let set = set_on(&all[*i]);
                set.len() == 4 && !set.contains(&leaving)
            })
        },
    );
    let listed = gov(&["list", "--rpc", &all[others[0]].rpc]);
    assert_eq!(listed["validators"].as_array().unwrap().len(), 4);
    assert_eq!(listed["proposals"][0]["status"], "applied");
    assert_eq!(listed["proposals"][1]["status"], "applied");
    // The others disconnect it; they keep committing without it.
    wait_for(SECS(20), "the removed validator to be disconnected", || {
        all[primary].status().is_some_and(|s| s["peers"] == 0)
    });
    let removed_at = all[others[0]].height();
    let nodes_left = all;
    net.nodes = nodes_left;
    net.wait_height(&others, removed_at + 5, SECS(30));
    stop.store(true, Ordering::Relaxed);
    let low = net.assert_agree(&others);
    net.assert_agree(&(0..5).collect::<Vec<_>>());
    for h in removed_at + 1..=low {
        let cert = rpc(
            &net.nodes[others[0]].rpc,
            "chain_getBlock",
            json!({"height": h}),
        )["certificate"]
            .clone();
        for sig in cert["signatures"].as_array().unwrap() {
            assert_ne!(
                sig["validator"], leaving,
                "the removed validator signed {h}"
            );
        }
    }
    assert!(
        sent.load(Ordering::Relaxed) > 20,
        "the load barely ran: {}",
        sent.load(Ordering::Relaxed)
    );
    // A client trusting only genesis verifies a value at the latest height by walking both
    // set changes (each proven by a certificate of the set before). The node it asks has
    // pruned the state of both changes: only the proofs saved when they took effect remain.
    wait_for(SECS(30), "the state of both changes to be pruned", || {
        net.nodes[others[0]]
            .status()
            .and_then(|s| s["earliest_state_height"].as_u64())
            .is_some_and(|h| h > removed_at)
    });
    let genesis = net.nodes[others[0]].home.join("config/genesis.json");
    let out = Command::new(bin())
        .args(["--output", "json", "verify"])
        .arg(contract.to_string())
        .arg(hex::encode("load-1"))
        .arg("--genesis")
        .arg(&genesis)
        .args(["--rpc", &net.nodes[others[0]].rpc])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "verify failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["value"], "load-1", "{v}");
    assert_eq!(v["validator_set_changes"], 2, "{v}");
    assert_eq!(v["validators"], 4, "{v}");
}
