//! The Byzantine matrix: 4 real validators on 127.0.0.1, one of them attacking with each
//! strategy of the test-only Byzantine mode (`--byzantine`, cargo feature `byzantine`). For
//! every strategy the honest three keep committing (a floor of blocks per minute), never
//! disagree, and record evidence where the strategy equivocates.
//!
//! Runs with `cargo test --workspace --features phalanx/byzantine` (the README's command).

#![cfg(feature = "byzantine")]

mod common;

use common::{SERIAL, Testnet, rpc};
use serde_json::json;
use std::time::{Duration, Instant};

/// Blocks the honest validators must commit per minute while under attack (healthy: about
/// 150 with the test's 300 ms block interval).
const MIN_BLOCKS_PER_MINUTE: u64 = 20;

/// How long each strategy is measured.
const WINDOW: Duration = Duration::from_secs(15);

struct Case {
    /// `None`: every validator honest (the reference figure for the others).
    strategy: Option<&'static str>,
    /// Honest validators must hold evidence against the attacker.
    evidence: bool,
}

fn run(case: &Case) {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut net = Testnet::new(4);
    // Validator 0 leads view 0: a strategy that acts as primary acts at once.
    let byz = 0;
    let honest = [1usize, 2, 3];
    let name = case.strategy.unwrap_or("none (reference)");
    for i in 0..4 {
        match case.strategy {
            Some(strategy) if i == byz => {
                net.nodes[i].start_with(&["--byzantine", strategy]);
            }
            _ => net.nodes[i].start(),
        }
    }
    net.wait_height(&honest, 2, Duration::from_secs(60));
    // Transactions keep flowing, so blocks have bodies to swap.
    let contract = net.deploy_setter(1, 0);
    let mut nonce = 1;
    let start = net.nodes[1].height();
    let began = Instant::now();
    while began.elapsed() < WINDOW {
        let tx = net.set_call(contract, nonce, &format!("v{nonce}"));
        let to = honest[nonce as usize % honest.len()];
        if common::rpc_try(&net.nodes[to].rpc, "tx_submit", json!({"tx": tx}))
            .is_ok_and(|r| r.get("error").is_none())
        {
            nonce += 1;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let elapsed = began.elapsed();
    let end = honest.iter().map(|i| net.nodes[*i].height()).min().unwrap();
    let per_minute = (end.saturating_sub(start)) * 60 / elapsed.as_secs().max(1);
    // Straight to stderr (not captured by the test harness): CI's log has the figures.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "byzantine {name:>18}: honest validators {start} -> {end} in {:.1} s = {per_minute} blocks/min, {} txs submitted",
        elapsed.as_secs_f64(),
        nonce - 1
    );
    let logs = || {
        honest
            .iter()
            .chain([&byz])
            .map(|i| format!("--- node{i} ---\n{}", net.nodes[*i].log_tail()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        per_minute >= MIN_BLOCKS_PER_MINUTE,
        "{name}: {per_minute} blocks/min under attack\n{}",
        logs()
    );
    // Let the slowest catch up, then compare every height.
    net.wait_height(&honest, end, Duration::from_secs(30));
    let agreed = net.assert_agree(&honest);
    assert!(agreed >= end);
    // The transactions accepted went in (at least most of them: a few may be in flight).
    let last = rpc(
        &net.nodes[1].rpc,
        "account_get",
        json!({"address": net.client.address()}),
    );
    assert!(
        last["nonce"].as_u64().unwrap() + 10 >= nonce,
        "{name}: only {} of {nonce} transactions committed",
        last["nonce"]
    );
    if case.evidence {
        let byz_address = rpc(&net.nodes[byz].rpc, "node_status", json!({}))["validator"].clone();
        let found = honest.iter().any(|i| {
            rpc(&net.nodes[*i].rpc, "evidence_list", json!({}))
                .as_array()
                .is_some_and(|list| list.iter().any(|e| e["offender"] == byz_address))
        });
        assert!(found, "{name}: no evidence recorded\n{}", logs());
    }
}

#[test]
fn no_attacker_reference() {
    run(&Case {
        strategy: None,
        evidence: false,
    });
}

#[test]
fn silent_validator() {
    run(&Case {
        strategy: Some("silent"),
        evidence: false,
    });
}

#[test]
fn equivocating_validator() {
    run(&Case {
        strategy: Some("equivocate"),
        evidence: true,
    });
}

#[test]
fn body_swapping_validator() {
    run(&Case {
        strategy: Some("body-swap"),
        evidence: false,
    });
}

#[test]
fn vote_withholding_validator() {
    run(&Case {
        strategy: Some("withhold-votes"),
        evidence: false,
    });
}

#[test]
fn far_future_views_validator() {
    run(&Case {
        strategy: Some("far-future-views"),
        evidence: false,
    });
}

#[test]
fn flooding_validator() {
    run(&Case {
        strategy: Some("flood"),
        evidence: false,
    });
}
