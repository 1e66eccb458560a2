//! Floods against four real validators on 127.0.0.1: each measures honest finality (or
//! block intervals) quiet, then under the flood, in the same run, and prints both.

mod common;

use base64::Engine as _;
use common::{SERIAL, Testnet, rpc};
use phalanx_types::{Address, Bytes, SecretKey, Tx, TxPayload};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn report(line: String) {
    use std::io::Write;
    // Straight to stderr (not captured by the harness): CI's log has the figures.
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn key(tag: u8, i: u32) -> SecretKey {
    let mut seed = [tag; 32];
    seed[..4].copy_from_slice(&i.to_le_bytes());
    SecretKey::from_seed(seed)
}

fn signed(net: &Testnet, key: &SecretKey, nonce: u64, contract: Address, arg: &str) -> String {
    let tx = Tx {
        chain_id: net.chain_id.clone(),
        sender: key.public_key(),
        nonce,
        gas_limit: 5_000_000,
        payload: TxPayload::Call {
            contract,
            method: "set".into(),
            args: Bytes(arg.as_bytes().to_vec()),
        },
    }
    .sign(key);
    base64::engine::general_purpose::STANDARD.encode(tx.to_bytes())
}

/// The `q`-quantile of `samples` (nearest rank).
fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort();
    let rank = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1]
}

/// Honest senders (one thread each, a different node each) submit calls one after the
/// other, each waiting for finality, at least `per_sender` each and until `busy` is false;
/// the finality times.
fn honest_finality(
    net: &Testnet,
    contract: Address,
    senders: &[SecretKey],
    nonces: &mut [u64],
    per_sender: usize,
    busy: &AtomicBool,
) -> Vec<Duration> {
    std::thread::scope(|s| {
        let handles: Vec<_> = senders
            .iter()
            .zip(nonces.iter_mut())
            .enumerate()
            .map(|(i, (key, nonce))| {
                s.spawn(move || {
                    let node = &net.nodes[i % net.nodes.len()].rpc;
                    let mut times = Vec::new();
                    while times.len() < per_sender || busy.load(Ordering::Relaxed) {
                        let tx = signed(net, key, *nonce, contract, &format!("h{i}-{nonce}"));
                        let began = Instant::now();
                        let r = rpc(node, "tx_submit", json!({"tx": tx, "wait": "final"}));
                        assert_eq!(r["receipt"]["status"], "ok", "{r}");
                        times.push(began.elapsed());
                        *nonce += 1;
                    }
                    times
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

/// 1,000 fresh accounts each send nonces 1 to 63, which can never be included (nonce 0 never
/// comes), while honest senders keep submitting. The queued budget and eviction keep the
/// pools open: honest transactions keep committing, with p99 finality within 2x quiet.
#[test]
fn a_gap_nonce_flood_does_not_delay_honest_senders() {
    const FLOOD_ACCOUNTS: u32 = 1_000;
    const GAP: u64 = 63;
    const PER_SENDER: usize = 50;
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut net = Testnet::new(4);
    net.start_all();
    net.wait_height(&[0, 1, 2, 3], 1, Duration::from_secs(60));
    let contract = net.deploy_setter(0, 0);
    let honest: Vec<SecretKey> = (0..4).map(|i| key(0xA0, i)).collect();
    let mut nonces = vec![0u64; honest.len()];

    // The flood, signed up front so signing does not compete with the measurement.
    let flood: Vec<Vec<String>> = (0..FLOOD_ACCOUNTS)
        .map(|i| key(0xF0, i))
        .flat_map(|k| (1..=GAP).map(move |n| (k.clone(), n)))
        .map(|(k, n)| signed(&net, &k, n, contract, "gap"))
        .collect::<Vec<_>>()
        .chunks(2_000)
        .map(<[String]>::to_vec)
        .collect();

    let idle = AtomicBool::new(false);
    let mut quiet = honest_finality(&net, contract, &honest, &mut nonces, PER_SENDER, &idle);
    let flooding = AtomicBool::new(true);
    let (mut flooded, refused) = std::thread::scope(|s| {
        let flooder = s.spawn(|| {
            let mut refused = 0usize;
            for (i, batch) in flood.iter().enumerate() {
                let node = &net.nodes[i % net.nodes.len()].rpc;
                let r = rpc(node, "tx_submitBatch", json!({ "txs": batch }));
                refused += r["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|a| a.get("error").is_some())
                    .count();
            }
            flooding.store(false, Ordering::Relaxed);
            refused
        });
        let times = honest_finality(&net, contract, &honest, &mut nonces, PER_SENDER, &flooding);
        (times, flooder.join().unwrap())
    });
    let pools: Vec<u64> = net
        .nodes
        .iter()
        .map(|n| {
            rpc(&n.rpc, "node_status", json!({}))["mempool"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let (q50, q99) = (quantile(&mut quiet, 0.5), quantile(&mut quiet, 0.99));
    let (f50, f99) = (quantile(&mut flooded, 0.5), quantile(&mut flooded, 0.99));
    let slowest: Vec<_> = flooded.iter().rev().take(8).collect();
    report(format!("flood gap-nonce: slowest flooded {slowest:?}"));
    report(format!(
        "flood gap-nonce: {} txs from {FLOOD_ACCOUNTS} accounts ({refused} refused), pools after {pools:?}; honest finality ({} and {} txs) quiet p50 {q50:?} p99 {q99:?}, flooded p50 {f50:?} p99 {f99:?} ({:.2}x)",
        flood.iter().map(Vec::len).sum::<usize>(),
        quiet.len(),
        flooded.len(),
        f99.as_secs_f64() / q99.as_secs_f64()
    ));
    assert!(
        f99 <= q99 * 2,
        "p99 finality {f99:?} under the flood vs {q99:?} quiet"
    );
    // Gap transactions hold at most the queued budget of each pool (besides honest ones
    // in flight).
    assert!(pools.iter().all(|p| *p <= 10_000 + 4), "{pools:?}");
    // And the honest senders' transactions all went in.
    let account = rpc(
        &net.nodes[1].rpc,
        "account_get",
        json!({"address": honest[3].address()}),
    );
    assert_eq!(account["nonce"], json!(nonces[3]));
    net.assert_agree(&[0, 1, 2, 3]);
}
