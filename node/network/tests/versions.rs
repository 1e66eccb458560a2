//! A node with push streams and a node of the previous version (no push streams: consensus
//! messages and transactions as requests) on one network: each gets what the other sends,
//! so a validator set can be upgraded one node at a time.

mod common;

use common::{Node, Tip};
use phalanx_network::{NetEvent, Network};
use phalanx_types::consensus::{ConsensusMessage, SignedMessage, Vote};
use phalanx_types::{Hash, SecretKey, SignedTx, Tx, TxPayload};
use std::time::Duration;
use tokio::sync::mpsc;

fn vote(height: u64) -> SignedMessage {
    ConsensusMessage::Prepare(Vote {
        view: 0,
        height,
        block_hash: Hash::ZERO,
    })
    .sign("c", &SecretKey::from_seed([3; 32]))
}

fn tx(nonce: u64) -> SignedTx {
    let key = SecretKey::from_seed([4; 32]);
    Tx {
        chain_id: "c".into(),
        sender: key.public_key(),
        nonce,
        gas_limit: 1,
        payload: TxPayload::Deploy {
            code: phalanx_types::Bytes(vec![0]),
            init_args: phalanx_types::Bytes(Vec::new()),
            admin: None,
        },
    }
    .sign(&key)
}

/// Sends a vote and a transaction from `from` until `to` got both (what is sent before the
/// link is up may be lost, as pBFT tolerates).
async fn both_arrive(from: &Network, to: &mut mpsc::Receiver<NetEvent>, height: u64) {
    let (mut vote_seen, mut tx_seen) = (false, false);
    tokio::time::timeout(Duration::from_secs(10), async {
        while !(vote_seen && tx_seen) {
            from.broadcast(Box::new(vote(height)));
            from.gossip_txs(vec![tx(height)]);
            let deadline = tokio::time::sleep(Duration::from_millis(200));
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    e = to.recv() => match e {
                        Some(NetEvent::Consensus(m)) if *m == vote(height) => vote_seen = true,
                        Some(NetEvent::Txs(t)) if t == vec![tx(height)] => tx_seen = true,
                        Some(_) => {}
                        None => panic!("the network stopped"),
                    },
                    _ = &mut deadline => break,
                }
            }
        }
    })
    .await
    .expect("a vote and a transaction across versions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_of_the_previous_version_and_a_new_one_hear_each_other() {
    let (new, old) = (Node::new(), Node::new());
    let all = vec![new.id(), old.id()];
    let status = Duration::from_millis(200);
    let (net_old, mut rx_old) = old.spawn_with(Tip(1), vec![], all.clone(), status, |c| {
        c.push_streams = false
    });
    let (net_new, mut rx_new) = new.spawn(Tip(1), vec![old.full_addr()], all, status);
    both_arrive(&net_new, &mut rx_old, 7).await;
    both_arrive(&net_old, &mut rx_new, 8).await;
}
