//! Hostile frames between real swarms on 127.0.0.1 (the sender uses the test-only raw
//! frames of the `byzantine` feature): each is refused with an error on the stream, nothing
//! reaches the node, and the connection keeps carrying honest traffic.

#![cfg(feature = "byzantine")]

mod common;

use common::{Tip, free_port};
use libp2p::{Multiaddr, PeerId, identity};
use phalanx_network::{NetEvent, Network, NetworkConfig, spawn};
use phalanx_types::{Block, Height};
use std::time::Duration;
use tokio::sync::mpsc;

fn node(
    height: Height,
    key: &identity::Keypair,
    dial: Vec<Multiaddr>,
    allowed: Vec<PeerId>,
) -> (Network, mpsc::Receiver<NetEvent>, Multiaddr) {
    let port = free_port();
    let addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap();
    let mut cfg = NetworkConfig::new(key.clone(), addr.clone());
    cfg.dial = dial;
    cfg.allowed = allowed;
    cfg.status_interval = Duration::from_millis(200);
    let (net, rx) = spawn(cfg, Tip(height)).unwrap();
    let full = format!("{addr}/p2p/{}", key.public().to_peer_id())
        .parse()
        .unwrap();
    (net, rx, full)
}

/// A `Consensus` frame: a signed PRE-PREPARE whose block carries another transaction than
/// its header names.
fn swapped_pre_prepare() -> Vec<u8> {
    let (message, block, other) = pre_prepare();
    let request = phalanx_network::wire::Request::Consensus(Box::new(message));
    phalanx_types::attacks::swap_body(&request, block.block(), &[other]).unwrap()
}

/// A signed PRE-PREPARE, its block, and a transaction the block does not hold.
fn pre_prepare() -> (
    phalanx_types::consensus::SignedMessage,
    phalanx_types::CheckedBlock,
    phalanx_types::SignedTx,
) {
    use phalanx_types::consensus::{ConsensusMessage, PrePrepare};
    use phalanx_types::{Address, Bytes, CheckedBlock, Hash, Header, SecretKey, Tx, TxPayload};
    let key = SecretKey::from_seed([5; 32]);
    let tx = |nonce| {
        Tx {
            chain_id: "c".into(),
            sender: key.public_key(),
            nonce,
            gas_limit: 1,
            payload: TxPayload::Call {
                contract: Address([1; 32]),
                method: "m".into(),
                args: Bytes(Vec::new()),
            },
        }
        .sign(&key)
    };
    let txs = vec![tx(0)];
    let block = CheckedBlock::check(Block {
        header: Header {
            chain_id: "c".into(),
            height: 1,
            parent_hash: Hash::ZERO,
            timestamp_ms: 1,
            proposer: key.address(),
            tx_root: Block::compute_tx_root(&txs),
            state_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            validators_hash: Hash::ZERO,
        },
        txs,
    })
    .unwrap();
    let message = ConsensusMessage::PrePrepare(PrePrepare {
        view: 0,
        height: 1,
        block: block.clone(),
    })
    .sign("c", &key);
    (message, block, tx(1))
}

/// Node a dialing node b, connected (b heard a's status): both handles and event queues.
async fn connected_pair() -> (
    (Network, mpsc::Receiver<NetEvent>),
    (Network, mpsc::Receiver<NetEvent>),
) {
    let (ka, kb) = (
        identity::Keypair::generate_ed25519(),
        identity::Keypair::generate_ed25519(),
    );
    let members = vec![ka.public().to_peer_id(), kb.public().to_peer_id()];
    let (net_b, mut rx_b, addr_b) = node(7, &kb, vec![], members.clone());
    let (net_a, rx_a, _) = node(3, &ka, vec![addr_b], members);
    tokio::time::timeout(Duration::from_secs(10), async {
        while !matches!(rx_b.recv().await, Some(NetEvent::Status { .. })) {}
    })
    .await
    .expect("a's status");
    ((net_a, rx_a), (net_b, rx_b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nested_transaction_frame_is_refused_and_the_peer_goes_on() {
    let ((net_a, _rx_a), (_net_b, mut rx_b)) = connected_pair().await;
    // The first round's killer: a `Txs` frame with one transaction nested 1,100 levels deep,
    // and a PRE-PREPARE whose body is not its header's (a `Consensus` frame).
    let mut nested = 1u32.to_le_bytes().to_vec();
    nested.extend_from_slice(&1u64.to_le_bytes());
    nested.extend(phalanx_types::attacks::nested_transaction(1_100, "c"));
    let swapped = swapped_pre_prepare();
    for _ in 0..3 {
        net_a.broadcast_raw(nested.clone());
        net_a.broadcast_raw(swapped.clone());
    }
    // Honest traffic afterwards still arrives, and nothing but statuses came through.
    let mut statuses = 0;
    tokio::time::timeout(Duration::from_secs(10), async {
        while statuses < 5 {
            match rx_b.recv().await {
                Some(NetEvent::Status { .. }) => statuses += 1,
                Some(other) => panic!("a hostile frame got through: {other:?}"),
                None => panic!("b's network stopped"),
            }
        }
    })
    .await
    .expect("statuses after the hostile frames");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_off_their_lane_or_undecodable_are_skipped_and_the_stream_goes_on() {
    let ((net_a, _rx_a), (_net_b, mut rx_b)) = connected_pair().await;
    // Transactions on the consensus lane, and a frame that decodes as nothing: b skips
    // both (the framing is intact) and delivers neither.
    let (message, _, tx) = pre_prepare();
    let txs = phalanx_types::encode(&phalanx_network::wire::Request::Txs(vec![tx]));
    net_a.push_raw(txs);
    net_a.push_raw(vec![0xff; 64]);
    // An honest PRE-PREPARE right behind them, sent once, gets through: the stream that
    // carried the bad frames still works (had they closed it, the PRE-PREPARE written into
    // it would be lost).
    net_a.broadcast(Box::new(message.clone()));
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match rx_b.recv().await {
                Some(NetEvent::Consensus(m)) => return *m,
                Some(NetEvent::Txs(t)) => {
                    panic!("transactions got through on the consensus lane: {t:?}")
                }
                Some(_) => {}
                None => panic!("b's network stopped"),
            }
        }
    })
    .await
    .expect("the honest message behind the skipped frames");
    assert_eq!(got, message);
}
