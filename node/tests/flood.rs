//! Floods against four real validators on 127.0.0.1: each measures honest finality (or
//! block intervals) quiet, then under the flood, in the same run, and prints both.

mod common;

use base64::Engine as _;
use common::{SERIAL, Testnet, key, report, rpc};
use phalanx_types::{Address, Bytes, SecretKey, Tx, TxPayload};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn signed(net: &Testnet, key: &SecretKey, nonce: u64, contract: Address, arg: &str) -> String {
    common::signed_set(&net.chain_id, key, nonce, contract, arg).0
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
    const PER_SENDER: usize = 75;
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

/// A contract for the RPC flood: `log` emits 20 events of 64 bytes, `spin` loops until its
/// gas runs out.
const NOISY: &str = r#"(module
  (import "phalanx" "emit" (func $emit (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "noise")
  (func (export "init") (param i32))
  (func (export "log") (param i32) (local $i i32)
    (loop $l
      (call $emit (i32.const 0) (i32.const 5) (i32.const 16) (i32.const 64))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 20)))))
  (func (export "spin") (param i32) (loop $l (br $l))))"#;

/// Header timestamps of blocks `from..=to` (the proposers' clocks, all on this machine).
fn block_times(net: &Testnet, node: usize, from: u64, to: u64) -> Vec<u64> {
    (from..=to)
        .map(|h| {
            let b = rpc(&net.nodes[node].rpc, "chain_getBlock", json!({"height": h}));
            b["header"]["time"].as_u64().unwrap()
        })
        .collect()
}

/// Mean and 90th percentile of the intervals between consecutive `times` (ms).
fn intervals(times: &[u64]) -> (f64, u64) {
    let mut gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let mean = gaps.iter().sum::<u64>() as f64 / gaps.len().max(1) as f64;
    gaps.sort_unstable();
    let p90 = gaps[((gaps.len() as f64 * 0.9).ceil() as usize).clamp(1, gaps.len()) - 1];
    (mean, p90)
}

/// Blocks committed while `during` runs: the node's tip before and after.
fn window(net: &Testnet, during: impl FnOnce()) -> (u64, u64) {
    let from = net.nodes[1].height();
    during();
    (from, net.nodes[1].height())
}

/// Thousands of WebSockets, `events_get` over every height of a chain full of events, full
/// batches of queries that run to their gas cap, and 1 MB bodies, all against one node:
/// the chain's block intervals stay within 1.5x the quiet figure.
#[test]
fn rpc_abuse_does_not_slow_the_chain() {
    const SOCKETS: usize = 2_000;
    const WINDOW: Duration = Duration::from_secs(8);
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut net = Testnet::new(4);
    net.start_all();
    net.wait_height(&[0, 1, 2, 3], 1, Duration::from_secs(60));
    let code = wat::parse_str(NOISY).unwrap();
    let deploy = net.tx(
        0,
        TxPayload::Deploy {
            code: Bytes(code),
            init_args: Bytes(Vec::new()),
            admin: None,
        },
    );
    let r = rpc(
        &net.nodes[1].rpc,
        "tx_submit",
        json!({"tx": deploy, "wait": "final"}),
    );
    let noisy: Address = r["receipt"]["return"].as_str().unwrap().parse().unwrap();
    // Many receipts: 2,000 transactions of 20 events each.
    let loggers: Vec<SecretKey> = (0..40).map(|i| key(0xB0, i)).collect();
    let log_call = |k: &SecretKey, n: u64| {
        let tx = Tx {
            chain_id: net.chain_id.clone(),
            sender: k.public_key(),
            nonce: n,
            gas_limit: 5_000_000,
            payload: TxPayload::Call {
                contract: noisy,
                method: "log".into(),
                args: Bytes(Vec::new()),
            },
        }
        .sign(k);
        base64::engine::general_purpose::STANDARD.encode(tx.to_bytes())
    };
    let batch: Vec<String> = loggers
        .iter()
        .flat_map(|k| (0..50).map(move |n| (k, n)))
        .map(|(k, n)| log_call(k, n))
        .collect();
    let r = rpc(&net.nodes[1].rpc, "tx_submitBatch", json!({ "txs": batch }));
    assert!(
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a.get("hash").is_some()),
        "{r}"
    );
    common::wait_for(Duration::from_secs(60), "the logged events", || {
        rpc(
            &net.nodes[1].rpc,
            "account_get",
            json!({"address": loggers[39].address()}),
        )["nonce"]
            == json!(50)
    });

    let quiet = window(&net, || std::thread::sleep(WINDOW));
    let target = net.nodes[0].rpc.clone();
    let port: u16 = target.rsplit(':').next().unwrap().parse().unwrap();
    let calls: Vec<_> = (0..100)
        .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "contract_query", "params": {"address": noisy, "method": "spin"}}))
        .collect();
    let query_batch = serde_json::to_vec(&calls).unwrap();
    let stop = AtomicBool::new(false);
    let (abused, figures) = std::thread::scope(|s| {
        let sockets = s.spawn(|| {
            let mut open = Vec::new();
            let mut refused = 0;
            for _ in 0..SOCKETS {
                match tungstenite::client::connect(format!("ws://127.0.0.1:{port}/ws")) {
                    Ok((mut ws, _)) => {
                        let sub = json!({"jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": {"topic": "events"}});
                        let _ = ws.send(tungstenite::Message::Text(sub.to_string().into()));
                        open.push(ws);
                    }
                    Err(_) => refused += 1,
                }
            }
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
            (open.len(), refused)
        });
        // A topic no event has: every call reads every receipt of the chain.
        let scan = || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let r = common::rpc_try(
                    &target,
                    "events_get",
                    json!({"from_height": 1, "to_height": 1_000_000, "topic": "absent", "limit": 1_000}),
                );
                n += usize::from(r.is_ok());
            }
            n
        };
        let scans = [s.spawn(scan), s.spawn(scan)];
        let query_batch = &query_batch;
        let stop = &stop;
        let query = move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += usize::from(raw_post(port, query_batch).0 != 0);
            }
            n
        };
        let queries = [s.spawn(query), s.spawn(query)];
        let bodies = s.spawn(|| {
            let pad = "x".repeat(1_000_000 - 200);
            let body = format!(r#"{{"jsonrpc":"2.0","id":"{pad}","method":"node_status"}}"#);
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += usize::from(raw_post(port, body.as_bytes()).0 == 200);
            }
            n
        });
        let abused = window(&net, || std::thread::sleep(WINDOW));
        stop.store(true, Ordering::Relaxed);
        let figures = (
            sockets.join().unwrap(),
            scans.map(|h| h.join().unwrap()).iter().sum::<usize>(),
            queries.map(|h| h.join().unwrap()).iter().sum::<usize>(),
            bodies.join().unwrap(),
        );
        (abused, figures)
    });
    let (q_mean, q_p90) = intervals(&block_times(&net, 1, quiet.0, quiet.1));
    let (a_mean, a_p90) = intervals(&block_times(&net, 1, abused.0, abused.1));
    let ((open, refused), scans, batches, bodies) = figures;
    report(format!(
        "flood rpc: {open} websockets open ({refused} refused), {scans} events_get scans, {batches} query batches, {bodies} 1 MB bodies in {WINDOW:?}; block interval quiet mean {q_mean:.0} ms p90 {q_p90} ms, abused mean {a_mean:.0} ms p90 {a_p90} ms ({:.2}x)",
        a_mean / q_mean
    ));
    assert!(open <= 256 && refused >= SOCKETS - 256, "{open} open");
    assert!(scans > 0 && batches > 0 && bodies > 0);
    assert!(
        a_mean <= 1.5 * q_mean,
        "mean block interval {a_mean:.0} ms under RPC abuse vs {q_mean:.0} ms quiet"
    );
    net.assert_agree(&[0, 1, 2, 3]);
}

/// A raw POST of `body` to `/`; (HTTP status, or 0 on a transport error).
fn raw_post(port: u16, body: &[u8]) -> (u16, usize) {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, 0);
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let head = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if s.write_all(head.as_bytes()).is_err() || s.write_all(body).is_err() {
        return (0, 0);
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let status = String::from_utf8_lossy(&out[..out.len().min(12)])
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out.len())
}
