//! Chaos in the style of Jepsen, on real processes: a 4-validator testnet whose every peer
//! link runs through the link emulator, under load, while a nemesis cuts links (partitions
//! of every shape, stalled or reset), kills and restarts validators, pauses them (SIGSTOP)
//! and stretches delays. After every heal the chain must resume; at the end, with everything
//! healed, every transaction a client saw acknowledged as final must be in every node's
//! chain, and no two nodes may hold different blocks at a height.
//!
//! Prints `chaos: seed=… cycles=… forks=… lost=… acked=… max_recovery_ms=…`. Knobs:
//! `CHAOS_SECS` (default 75) and `CHAOS_SEED` (replays a fault schedule).

mod common;

use common::linkem::{Cut, LinkEmulator};
use common::rng::Rng;
use common::{SERIAL, Testnet, key, report, rpc_within, signed_set};
use phalanx_types::Address;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const N: usize = 4;
/// Clients, one account and one thread each.
const CLIENTS: u32 = 6;
/// The chain's view-timeout cap in these tests (common::Testnet's genesis).
const MAX_VIEW_TIMEOUT: Duration = Duration::from_millis(6_000);
/// An RPC call to a node that may be paused gives up after this.
const CALL: Duration = Duration::from_secs(3);

/// One client: submits `set` calls one after the other, each to a node drawn at random,
/// retrying the same transaction (same nonce, same hash) until some node reports it final.
/// A final receipt from `tx_submit`, or the transaction found by `tx_get`, is an
/// acknowledgement; the hash is recorded.
fn client(
    urls: &[String],
    chain_id: &str,
    contract: Address,
    id: u32,
    stop: &AtomicBool,
    acked: &Mutex<Vec<String>>,
) {
    let k = key(0xC0, id);
    let mut rng = Rng::new(u64::from(id) + 1);
    let mut nonce = 0;
    while !stop.load(Ordering::Relaxed) {
        let (tx, hash) = signed_set(chain_id, &k, nonce, contract, &format!("c{id}-{nonce}"));
        loop {
            if stop.load(Ordering::Relaxed) {
                return; // the last transaction stays unacknowledged: it may or may not land
            }
            let node = &urls[rng.below(urls.len() as u64) as usize];
            let submitted = rpc_within(
                node,
                "tx_submit",
                json!({"tx": tx, "wait": "final"}),
                Duration::from_secs(12),
            );
            let final_here = match submitted {
                Ok(v) if v["result"]["receipt"].is_object() => {
                    assert_eq!(v["result"]["hash"], json!(hash), "{v}");
                    true
                }
                // Refused (already pending, nonce already used, node busy) or timed out:
                // ask whether it is in a committed block.
                _ => rpc_within(node, "tx_get", json!({"hash": hash}), CALL)
                    .is_ok_and(|v| v["result"].is_object()),
            };
            if final_here {
                acked.lock().unwrap().push(hash.clone());
                nonce += 1;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// What the nemesis did to one node, to undo it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Down {
    Killed,
    Paused,
}

/// The faults of one cycle, described.
fn inject(net: &mut Testnet, em: &LinkEmulator, rng: &mut Rng) -> (String, Option<(usize, Down)>) {
    let how = if rng.below(2) == 0 {
        Cut::Stall
    } else {
        Cut::Reset
    };
    let victim = rng.below(N as u64) as usize;
    match rng.below(6) {
        0 => {
            let rest: Vec<usize> = (0..N).filter(|i| *i != victim).collect();
            em.partition(N, &[rest, vec![victim]], how);
            (format!("isolate node{victim} ({how:?})"), None)
        }
        1 => {
            let other = (victim + 1 + rng.below(N as u64 - 1) as usize) % N;
            let a = vec![victim, other];
            let b: Vec<usize> = (0..N).filter(|i| !a.contains(i)).collect();
            em.partition(N, &[a.clone(), b.clone()], how);
            (format!("split {a:?} | {b:?} ({how:?}): no quorum"), None)
        }
        2 => {
            // Stalled only: a reset closes whole connections, both ways.
            let to = (victim + 1 + rng.below(N as u64 - 1) as usize) % N;
            em.cut_one_way(victim, to, Cut::Stall);
            (format!("one way node{victim} -/-> node{to} (Stall)"), None)
        }
        3 => {
            net.nodes[victim].kill();
            (
                format!("kill -9 node{victim}"),
                Some((victim, Down::Killed)),
            )
        }
        4 => {
            net.nodes[victim].signal("STOP");
            (format!("pause node{victim}"), Some((victim, Down::Paused)))
        }
        _ => {
            let ms = 20 + rng.below(60);
            em.set_all_delays(Duration::from_millis(ms), Duration::from_millis(ms / 2));
            (format!("delay {ms} ms ± {} ms on every link", ms / 2), None)
        }
    }
}

/// Undoes every fault.
fn heal(net: &mut Testnet, em: &LinkEmulator, down: Option<(usize, Down)>) {
    em.heal_all();
    em.set_all_delays(Duration::ZERO, Duration::ZERO);
    match down {
        Some((i, Down::Killed)) => net.nodes[i].start(),
        Some((i, Down::Paused)) => net.nodes[i].signal("CONT"),
        None => {}
    }
}

/// The highest height any node but `skip` reports (nodes that do not answer count as 0; a
/// paused one would hold each call for its whole timeout).
fn top(net: &Testnet, skip: Option<usize>) -> u64 {
    net.nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != skip)
        .map(|(_, n)| n)
        .filter_map(|n| rpc_within(&n.rpc, "node_status", json!({}), CALL).ok())
        .filter_map(|v| v["result"]["height"].as_u64())
        .max()
        .unwrap_or(0)
}

/// Every node's chain: block hash by height, and the heights holding each transaction.
fn chain_of(url: &str, tip: u64) -> Chain {
    let mut blocks = BTreeMap::new();
    let mut txs = BTreeSet::new();
    for h in 1..=tip {
        let b = rpc_within(url, "chain_getBlock", json!({"height": h}), CALL)
            .unwrap_or_else(|e| panic!("block {h} from {url}: {e}"));
        let b = &b["result"];
        blocks.insert(h, b["header"]["hash"].as_str().unwrap().to_string());
        for t in b["txs"].as_array().unwrap() {
            txs.insert(t.as_str().unwrap().to_string());
        }
    }
    (blocks, txs)
}

/// A node's chain: block hash by height, and the transactions it holds.
type Chain = (BTreeMap<u64, String>, BTreeSet<String>);

/// The checker: heights at which two chains hold different blocks, and acknowledged
/// transactions missing from some chain.
fn check<'a>(chains: &[Chain], acked: &'a [String]) -> (usize, Vec<&'a String>) {
    let heights: BTreeSet<u64> = chains.iter().flat_map(|c| c.0.keys().copied()).collect();
    let forks = heights
        .iter()
        .filter(|h| {
            let at: BTreeSet<Option<&String>> = chains.iter().map(|c| c.0.get(h)).collect();
            at.len() > 1
        })
        .count();
    let lost = acked
        .iter()
        .filter(|h| chains.iter().any(|c| !c.1.contains(*h)))
        .collect();
    (forks, lost)
}

#[test]
fn the_checker_catches_a_fork_and_a_lost_transaction() {
    let chain = |blocks: &[&str], txs: &[&str]| -> Chain {
        (
            (1..).zip(blocks.iter().map(|b| b.to_string())).collect(),
            txs.iter().map(|t| t.to_string()).collect(),
        )
    };
    let acked = vec!["t1".to_string(), "t2".to_string()];
    let same = [
        chain(&["a", "b"], &["t1", "t2"]),
        chain(&["a", "b"], &["t1", "t2"]),
    ];
    assert_eq!(check(&same, &acked), (0, vec![]));
    let forked = [
        chain(&["a", "b"], &["t1", "t2"]),
        chain(&["a", "c"], &["t1", "t2"]),
    ];
    assert_eq!(check(&forked, &acked).0, 1, "a different block at height 2");
    let lossy = [
        chain(&["a", "b"], &["t1", "t2"]),
        chain(&["a", "b"], &["t1"]),
    ];
    assert_eq!(
        check(&lossy, &acked).1,
        vec![&acked[1]],
        "t2 is missing from one chain"
    );
}

#[test]
fn chaos_never_forks_never_loses_an_acknowledged_transaction_and_always_resumes() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let secs: u64 = std::env::var("CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(75);
    let seed: u64 = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64
        });
    let em = LinkEmulator::new();
    let mut net = Testnet::new(N);
    net.route_through(&em);
    net.start_all();
    net.wait_height(&[0, 1, 2, 3], 1, Duration::from_secs(60));
    let contract = net.deploy_setter(0, 0);

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut rng = Rng::new(seed);
    let mut cycles = 0;
    let mut max_recovery = Duration::ZERO;
    let began = Instant::now();
    let urls: Vec<String> = net.nodes.iter().map(|n| n.rpc.clone()).collect();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let (stop, acked) = (stop.clone(), acked.clone());
            let (urls, chain_id) = (urls.clone(), net.chain_id.clone());
            std::thread::spawn(move || client(&urls, &chain_id, contract, id, &stop, &acked))
        })
        .collect();
    {
        let net = &mut net;
        while began.elapsed() < Duration::from_secs(secs) {
            std::thread::sleep(Duration::from_millis(500 + rng.below(1_000)));
            let (what, down) = inject(net, &em, &mut rng);
            let hold = Duration::from_millis(1_000 + rng.below(3_000));
            std::thread::sleep(hold);
            let before = top(net, down.map(|d| d.0));
            heal(net, &em, down);
            let healed = Instant::now();
            // Resumed: some node commits a block above the highest before the heal.
            let limit = MAX_VIEW_TIMEOUT + Duration::from_secs(5);
            while top(net, None) <= before {
                if healed.elapsed() > limit + Duration::from_secs(20) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let recovery = healed.elapsed();
            cycles += 1;
            report(format!(
                "chaos: cycle {cycles}: {what} for {} ms; resumed {} ms after the heal",
                hold.as_millis(),
                recovery.as_millis()
            ));
            max_recovery = max_recovery.max(recovery);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("a client panicked");
    }

    // Every link works again: with any one node paused, the other three commit (each node
    // is needed by three of these four quorums, so a node whose consensus links never
    // recovered stalls one of them; block sync alone would not hide it).
    for paused in 0..N {
        net.nodes[paused].signal("STOP");
        let before = top(&net, Some(paused));
        let began = Instant::now();
        while top(&net, Some(paused)) < before + 2
            && began.elapsed() < MAX_VIEW_TIMEOUT + Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        let took = began.elapsed();
        net.nodes[paused].signal("CONT");
        report(format!(
            "chaos: the three without node{paused} committed 2 blocks in {} ms",
            took.as_millis()
        ));
        assert!(
            took <= MAX_VIEW_TIMEOUT + Duration::from_secs(5),
            "the three validators other than node{paused} did not commit (seed {seed})"
        );
    }

    // Everything healed: every node catches up; then compare chains.
    let tip = top(&net, None);
    net.wait_height(&[0, 1, 2, 3], tip, Duration::from_secs(60));
    let low = net.heights().into_iter().min().unwrap();
    let chains: Vec<_> = net.nodes.iter().map(|n| chain_of(&n.rpc, low)).collect();
    let acked = acked.lock().unwrap().clone();
    let (forks, lost) = check(&chains, &acked);
    report(format!(
        "chaos: seed={seed} cycles={cycles} forks={forks} lost={} acked={} height={low} \
         max_recovery_ms={}",
        lost.len(),
        acked.len(),
        max_recovery.as_millis()
    ));
    assert_eq!(forks, 0, "nodes hold different blocks (seed {seed})");
    assert!(
        lost.is_empty(),
        "acknowledged but missing: {lost:?} (seed {seed})"
    );
    assert!(cycles >= 3, "too few cycles to mean anything: {cycles}");
    assert!(
        acked.len() >= 20,
        "the workload barely ran: {} acknowledged",
        acked.len()
    );
    assert!(
        max_recovery <= MAX_VIEW_TIMEOUT + Duration::from_secs(5),
        "the chain took {max_recovery:?} to resume after a heal (seed {seed})"
    );
}
