//! `phalanx bench`: a load generator against running nodes.
//!
//! It deploys the token contract, funds `--senders` fresh accounts, pre-signs transfers,
//! submits them at `--rate` per second (or as fast as the workers go with `--rate max`) for
//! `--duration` seconds through the given RPC endpoints (`--batch` per `tx_submitBatch`), and follows finality through a
//! WebSocket block subscription (no polling per transaction). Latency runs from submission
//! to the commit of the block holding the transaction; only transactions with an `ok`
//! receipt in a committed block count. The last line is
//! `tps=N p50_ms=N p99_ms=N committed=N`.

use crate::client::{Client, GasArg};
use crate::keys;
use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use phalanx_rpc::api::{BatchAnswer, NewBlock, NoParams, Outcome, SubmitBatchParams, methods as m};
use phalanx_types::{Address, Bytes, SecretKey, SignedTx, Tx, TxPayload};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Offered load.
#[derive(Debug, Clone, Copy)]
pub enum Rate {
    /// Transactions per second.
    PerSecond(u64),
    /// As fast as the workers can submit.
    Max,
}

impl std::str::FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Rate, String> {
        if s == "max" {
            return Ok(Rate::Max);
        }
        match s.parse::<u64>() {
            Ok(n) if n > 0 => Ok(Rate::PerSecond(n)),
            _ => Err(format!(
                "--rate takes a positive number or \"max\", not {s:?}"
            )),
        }
    }
}

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// RPC endpoints (submissions rotate over them; the first is followed over WebSocket).
    pub rpc: Vec<String>,
    /// token.wasm.
    pub token: std::path::PathBuf,
    /// Account that deploys the token and funds the senders.
    pub key: std::path::PathBuf,
    /// Number of sending accounts.
    pub senders: usize,
    /// Seconds of load.
    pub duration: u64,
    /// Offered rate.
    pub rate: Rate,
    /// Submitting threads.
    pub workers: usize,
    /// Transactions per `tx_submitBatch` request.
    pub batch: usize,
}

/// Transactions pre-signed per second of `--rate max` load (above any rate measured here).
const MAX_RATE_PRESIGNED: usize = 60_000;
/// Most transactions pre-signed for `--rate max` (about 500 bytes each in memory: 1 GB here).
const MAX_PRESIGNED: usize = 2_000_000;
/// Gas limit of a transfer (one uses about 110,000 with its intrinsic cost).
const TRANSFER_GAS: u64 = 1_000_000;

fn transfer(
    chain_id: &str,
    key: &SecretKey,
    nonce: u64,
    token: Address,
    to: &Address,
    amount: u64,
) -> SignedTx {
    let args = json!({"to": to, "amount": amount.to_string()}).to_string();
    Tx {
        chain_id: chain_id.to_string(),
        sender: key.public_key(),
        nonce,
        gas_limit: TRANSFER_GAS,
        payload: TxPayload::Call {
            contract: token,
            method: "transfer".into(),
            args: Bytes(args.into_bytes()),
        },
    }
    .sign(key)
}

fn ws_url(rpc: &str) -> String {
    format!(
        "{}/ws",
        rpc.trim_end_matches('/').replacen("http://", "ws://", 1)
    )
}

/// Commit times and outcomes of transactions seen in blocks, by hash (hex).
type Seen = Arc<Mutex<HashMap<String, (Instant, bool)>>>;

/// Follows committed blocks over the WebSocket until `stop`.
fn follow(rpc: &str, seen: Seen, stop: Arc<AtomicBool>) -> Result<std::thread::JoinHandle<()>> {
    let (mut ws, _) = tungstenite::client::connect(ws_url(rpc))
        .with_context(|| format!("cannot open a WebSocket to {rpc}"))?;
    let sub =
        json!({"jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": {"topic": "blocks"}});
    ws.send(tungstenite::Message::Text(sub.to_string().into()))?;
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_millis(200)))?;
    }
    Ok(std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let msg = match ws.read() {
                Ok(tungstenite::Message::Text(t)) => t,
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue;
                }
                Err(e) => {
                    eprintln!("bench: block subscription ended: {e}");
                    return;
                }
            };
            let now = Instant::now();
            let Ok(mut v) = serde_json::from_str::<Value>(&msg) else {
                continue;
            };
            let Ok(block) = serde_json::from_value::<NewBlock>(v["params"]["result"].take()) else {
                continue;
            };
            let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
            for (h, ok) in block.block.txs.iter().zip(&block.ok) {
                seen.insert(h.to_string(), (now, *ok));
            }
        }
    }))
}

fn percentile(sorted: &[u128], p: f64) -> u128 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `phalanx bench …`
pub fn cmd_bench(cfg: &BenchConfig, json_out: bool) -> Result<()> {
    if cfg.rpc.is_empty() || cfg.senders == 0 || cfg.workers == 0 || cfg.duration == 0 {
        bail!("--rpc, --senders, --workers and --duration must be non-empty and positive");
    }
    let clients: Vec<Client> = cfg.rpc.iter().map(|u| Client::new(u)).collect();
    let main = &clients[0];
    let funder = keys::read_key(&cfg.key)?;
    let chain_id = main.request::<m::NodeStatus>(&NoParams {})?.chain_id;

    // 1. The token, with the whole supply at the funder.
    let code = std::fs::read(&cfg.token)
        .with_context(|| format!("cannot read {}", cfg.token.display()))?;
    let init =
        json!({"name": "Bench", "symbol": "BNC", "decimals": 0, "supply": "1000000000000000"});
    let out = main.send(
        &funder,
        TxPayload::Deploy {
            code: Bytes(code),
            init_args: Bytes(init.to_string().into_bytes()),
            admin: None,
        },
        GasArg::Auto,
    )?;
    let receipt = out.receipt.as_ref().filter(|r| r.status == Outcome::Ok);
    let Some(receipt) = receipt else {
        bail!(
            "deploying the token failed: {}",
            serde_json::to_string(&out.receipt).unwrap_or_default()
        );
    };
    let token: Address = receipt
        .return_value
        .as_str()
        .unwrap_or("")
        .parse()
        .map_err(|e| anyhow!("bad token address: {e}"))?;
    eprintln!("bench: token {token}");

    // 2. Fund the senders (each transfer waits for finality, so nonces stay in order).
    let senders: Vec<SecretKey> = (0..cfg.senders).map(|_| SecretKey::generate()).collect();
    for s in &senders {
        let args = json!({"to": s.address(), "amount": "1000000000"}).to_string();
        let out = main.send(
            &funder,
            TxPayload::Call {
                contract: token,
                method: "transfer".into(),
                args: Bytes(args.into_bytes()),
            },
            GasArg::Auto,
        )?;
        if out.receipt.as_ref().map(|r| r.status) != Some(Outcome::Ok) {
            bail!(
                "funding a sender failed: {}",
                serde_json::to_string(&out.receipt).unwrap_or_default()
            );
        }
    }
    eprintln!("bench: funded {} senders", senders.len());

    // 3. Pre-sign: transaction i is sender i mod K's nonce i / K.
    let total = match cfg.rate {
        Rate::PerSecond(r) => (r * cfg.duration) as usize,
        Rate::Max => (MAX_RATE_PRESIGNED * cfg.duration as usize).min(MAX_PRESIGNED),
    };
    let sink = funder.address();
    let sign = |i: usize| {
        let k = &senders[i % senders.len()];
        let tx = transfer(&chain_id, k, (i / senders.len()) as u64, token, &sink, 1);
        (
            tx.hash().to_hex(),
            base64::engine::general_purpose::STANDARD.encode(tx.to_bytes()),
        )
    };
    // Signing is done before the clock starts; spread it over the machine's cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = total.div_ceil(threads).max(1);
    let txs: Vec<(String, String)> = std::thread::scope(|scope| {
        let parts: Vec<_> = (0..total)
            .step_by(chunk)
            .map(|from| scope.spawn(move || (from..(from + chunk).min(total)).map(sign).collect()))
            .collect();
        let mut all = Vec::with_capacity(total);
        for part in parts {
            let signed: Vec<_> = part
                .join()
                .map_err(|_| anyhow!("a signing thread failed"))?;
            all.extend(signed);
        }
        Ok::<_, anyhow::Error>(all)
    })?;
    eprintln!("bench: signed {} transfers", txs.len());

    // 4. Follow blocks, then submit.
    let seen: Seen = Arc::new(Mutex::new(HashMap::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let follower = follow(&cfg.rpc[0], seen.clone(), stop.clone())?;
    let txs = Arc::new(txs);
    let submitted_at: Arc<Vec<Mutex<Option<Instant>>>> =
        Arc::new((0..total).map(|_| Mutex::new(None)).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(cfg.duration);
    let mut workers = Vec::new();
    for w in 0..cfg.workers {
        let (txs, submitted_at, next, refused) = (
            txs.clone(),
            submitted_at.clone(),
            next.clone(),
            refused.clone(),
        );
        let urls = cfg.rpc.clone();
        let (rate, batch) = (cfg.rate, cfg.batch.max(1));
        workers.push(std::thread::spawn(move || {
            let clients: Vec<Client> = urls.iter().map(|u| Client::new(u)).collect();
            loop {
                let first = next.fetch_add(batch, Ordering::Relaxed);
                if first >= txs.len() || Instant::now() >= deadline {
                    return;
                }
                if let Rate::PerSecond(r) = rate {
                    let due = start + Duration::from_nanos(first as u64 * 1_000_000_000 / r);
                    if due >= deadline {
                        return;
                    }
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
                let client = &clients[(first / batch + w) % clients.len()];
                let t = Instant::now();
                // A nonce too far ahead waits for earlier ones to commit, and a full mempool
                // for room: those are retried; anything else is counted as refused.
                let mut todo: Vec<usize> = (first..(first + batch).min(txs.len())).collect();
                for attempt in 0..=200 {
                    if todo.is_empty() {
                        break;
                    }
                    let raw = todo.iter().map(|i| txs[*i].1.clone()).collect();
                    let answers = client
                        .request::<m::TxSubmitBatch>(&SubmitBatchParams { txs: raw })
                        .map(|r| r.results)
                        .unwrap_or_default();
                    let mut retry = Vec::new();
                    for (k, i) in todo.iter().enumerate() {
                        let message = match answers.get(k) {
                            Some(BatchAnswer::Admitted { .. }) => {
                                *submitted_at[*i].lock().unwrap_or_else(|e| e.into_inner()) =
                                    Some(t);
                                continue;
                            }
                            Some(BatchAnswer::Refused { error }) => Some(error.message.as_str()),
                            None => None,
                        };
                        if attempt < 200
                            && message.is_none_or(|m| {
                                m.contains("too high") || m.contains("mempool full")
                            })
                        {
                            retry.push(*i);
                        } else {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    if !retry.is_empty() {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    todo = retry;
                }
            }
        }));
    }
    // Progress once a second while submitting.
    while workers.iter().any(|w| !w.is_finished()) {
        std::thread::sleep(
            Duration::from_millis(1000).min(
                deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(50)),
            ),
        );
        let done = seen.lock().unwrap_or_else(|e| e.into_inner()).len();
        eprintln!(
            "bench: {:>3}s submitted {} seen committed {}",
            start.elapsed().as_secs(),
            next.load(Ordering::Relaxed).min(total),
            done
        );
    }
    for w in workers {
        let _ = w.join();
    }
    // Let what was submitted commit (up to 10 s).
    let pending = |seen: &HashMap<String, (Instant, bool)>| {
        (0..total).any(|i| {
            submitted_at[i]
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some()
                && !seen.contains_key(&txs[i].0)
        })
    };
    let drain = Instant::now();
    while drain.elapsed() < Duration::from_secs(10)
        && pending(&seen.lock().unwrap_or_else(|e| e.into_inner()))
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    let _ = follower.join();

    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    let mut latencies = Vec::new();
    let mut last_commit = start;
    let mut submitted = 0usize;
    for (i, (hash, _)) in txs.iter().enumerate() {
        let Some(t) = *submitted_at[i].lock().unwrap_or_else(|e| e.into_inner()) else {
            continue;
        };
        submitted += 1;
        if let Some((at, true)) = seen.get(hash) {
            latencies.push(at.duration_since(t).as_millis());
            last_commit = last_commit.max(*at);
        }
    }
    latencies.sort_unstable();
    let committed = latencies.len();
    let elapsed = last_commit.duration_since(start).as_secs_f64().max(1e-3);
    let tps = (committed as f64 / elapsed).round() as u64;
    let (p50, p99) = (percentile(&latencies, 0.50), percentile(&latencies, 0.99));
    if json_out {
        println!(
            "{}",
            json!({"tps": tps, "p50_ms": p50, "p99_ms": p99, "committed": committed,
            "submitted": submitted, "refused": refused.load(Ordering::Relaxed), "seconds": elapsed})
        );
    } else {
        eprintln!(
            "bench: {submitted} submitted, {} refused, {committed} committed ok in {elapsed:.2} s",
            refused.load(Ordering::Relaxed)
        );
        println!("tps={tps} p50_ms={p50} p99_ms={p99} committed={committed}");
    }
    Ok(())
}
