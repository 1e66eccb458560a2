//! TEST ONLY (cargo feature `byzantine`, never in release builds): a validator that attacks.
//!
//! `phalanx start --byzantine STRATEGY` wraps the node's outbound traffic. The node runs its
//! honest core, and the wrapper changes, withholds or adds to what it sends, signing with
//! the validator key. The multi-process tests run one such validator among honest ones.

use crate::service::Outbound;
use clap::ValueEnum;
use phalanx_network::Network;
use phalanx_network::wire::Request;
use phalanx_types::consensus::{ConsensusMessage, PrePrepare, SignedMessage, ViewChange, Vote};
use phalanx_types::{
    Address, Block, Bytes, CheckedBlock, Hash, Height, SecretKey, SignedTx, Tx, TxPayload,
};
use std::sync::Mutex;

/// How the validator misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Strategy {
    /// Sends no consensus message at all.
    Silent,
    /// Signs two proposals for each of its views, and two votes for each vote.
    Equivocate,
    /// Sends its proposals (and the blocks its VIEW-CHANGEs carry) with the header kept and
    /// the transactions swapped.
    BodySwap,
    /// Sends no PREPARE or COMMIT.
    WithholdVotes,
    /// Withholds votes and announces VIEW-CHANGEs for views far ahead.
    FarFutureViews,
    /// Floods: future-height votes for every height of the window, large proposals, replays,
    /// transactions with bad signatures, transaction messages over the cap, block requests
    /// and status messages by the dozen, besides its honest traffic.
    Flood,
    /// Honest in consensus, but serves state snapshot chunks with a value changed.
    CorruptSnapshots,
}

/// The node's outbound traffic, as a Byzantine validator sends it.
pub struct Byzantine<O> {
    inner: O,
    net: Network,
    strategy: Strategy,
    key: SecretKey,
    chain_id: String,
    /// A counter that makes every forged message distinct.
    nonce: Mutex<u64>,
}

impl<O: Outbound> Byzantine<O> {
    /// Wraps `inner`, signing forgeries with `key`; raw frames go out through `net`.
    pub fn new(
        inner: O,
        net: Network,
        strategy: Strategy,
        key: SecretKey,
        chain_id: String,
    ) -> Byzantine<O> {
        tracing::warn!(
            ?strategy,
            "BYZANTINE MODE: this validator attacks the network"
        );
        Byzantine {
            inner,
            net,
            strategy,
            key,
            chain_id,
            nonce: Mutex::new(0),
        }
    }

    fn next(&self) -> u64 {
        let mut n = self.nonce.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        *n
    }

    fn sign(&self, body: ConsensusMessage) -> Box<SignedMessage> {
        Box::new(body.sign(&self.chain_id, &self.key))
    }

    fn noise_hash(&self) -> Hash {
        Hash::digest(phalanx_types::Domain::Header, &self.next().to_le_bytes())
    }

    /// A transaction with a bad signature (costs the receiver a signature check).
    fn junk_tx(&self) -> SignedTx {
        let key = SecretKey::from_seed([0xbb; 32]);
        let mut tx = Tx {
            chain_id: self.chain_id.clone(),
            sender: key.public_key(),
            nonce: self.next(),
            gas_limit: 1,
            payload: TxPayload::Call {
                contract: Address([0; 32]),
                method: "x".into(),
                args: Bytes(vec![0; 1_000]),
            },
        }
        .sign(&key);
        tx.signature.0[0] ^= 1;
        tx
    }

    fn equivocate(&self, message: Box<SignedMessage>) {
        let twin = match &message.body {
            ConsensusMessage::PrePrepare(pp) => {
                let mut other = pp.block.block().clone();
                other.header.timestamp_ms += 1;
                CheckedBlock::check(other).ok().map(|block| {
                    ConsensusMessage::PrePrepare(PrePrepare {
                        view: pp.view,
                        height: pp.height,
                        block,
                    })
                })
            }
            ConsensusMessage::Prepare(v) => Some(ConsensusMessage::Prepare(Vote {
                block_hash: self.noise_hash(),
                ..*v
            })),
            ConsensusMessage::Commit(v) => Some(ConsensusMessage::Commit(Vote {
                block_hash: self.noise_hash(),
                ..*v
            })),
            _ => None,
        };
        self.inner.broadcast(message);
        if let Some(twin) = twin {
            self.inner.broadcast(self.sign(twin));
        }
    }

    fn body_swap(&self, message: Box<SignedMessage>) {
        let block: Option<Block> = match &message.body {
            ConsensusMessage::PrePrepare(pp) => Some(pp.block.block().clone()),
            ConsensusMessage::NewView(nv) => Some(nv.pre_prepare.body.block.block().clone()),
            ConsensusMessage::ViewChange(vc) => vc.block.as_ref().map(|b| b.block().clone()),
            _ => None,
        };
        let Some(block) = block else {
            self.inner.broadcast(message);
            return;
        };
        let mut txs = block.txs.clone();
        if txs.pop().is_none() {
            txs.push(self.junk_tx());
        }
        let request = Request::Consensus(message);
        match phalanx_types::attacks::swap_body(&request, &block, &txs) {
            Some(bytes) => self.net.broadcast_raw(bytes),
            None => {
                if let Request::Consensus(m) = request {
                    self.inner.broadcast(m);
                }
            }
        }
    }

    fn far_future(&self, height: Height, view: u64) {
        for far in [view + 1_000, view + 1_000_000] {
            self.inner
                .broadcast(self.sign(ConsensusMessage::ViewChange(ViewChange {
                    view: far,
                    height,
                    prepared: None,
                    block: None,
                })));
        }
    }

    fn flood(&self, message: &SignedMessage) {
        let (height, view) = (message.body.height(), message.body.view());
        // Votes for every height of the window, many views.
        for k in 0..32u64 {
            let vote = Vote {
                view: view + k % 60,
                height: height + 1 + k % 16,
                block_hash: self.noise_hash(),
            };
            self.inner
                .broadcast(self.sign(ConsensusMessage::Commit(vote)));
        }
        // A large proposal for the next height (about 1 MB of transactions).
        if let ConsensusMessage::PrePrepare(pp) = &message.body {
            let mut block = pp.block.block().clone();
            block.header.height = height + 1;
            block.txs = (0..1_000).map(|_| self.junk_tx()).collect();
            block.header.tx_root = Block::compute_tx_root(&block.txs);
            if let Ok(block) = CheckedBlock::check(block) {
                self.inner
                    .broadcast(self.sign(ConsensusMessage::PrePrepare(PrePrepare {
                        view,
                        height: height + 1,
                        block,
                    })));
            }
        }
        // Now and then the first round's stack-overflow payload, as a transaction frame.
        if self.next().is_multiple_of(20) {
            self.net.broadcast_raw(nested_frame().to_vec());
        }
        // Replays of its own message, and transactions nobody signed.
        for _ in 0..4 {
            self.inner.broadcast(Box::new(message.clone()));
        }
        self.inner
            .gossip_txs((0..200).map(|_| self.junk_tx()).collect());
        // Past the caps its peers check on receipt: a transaction message over the limit,
        // and block requests and status messages by the dozen.
        if self.next().is_multiple_of(4) {
            let txs = (0..phalanx_network::wire::MAX_TXS_PER_MESSAGE + 1)
                .map(|_| self.junk_tx())
                .collect();
            self.net
                .broadcast_raw(phalanx_types::encode(&Request::Txs(txs)));
        }
        for peer in self.net.peers() {
            for _ in 0..8 {
                self.net.request_blocks(peer, 1);
            }
            for _ in 0..32 {
                self.net.send_status(peer, height + 1_000_000);
            }
        }
    }
}

/// A `Txs` request frame holding one transaction nested 1,100 levels deep in the first
/// round's layout (733 KB), which overflowed a decoder's stack then.
fn nested_frame() -> &'static [u8] {
    static FRAME: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    FRAME.get_or_init(|| {
        // Request::Txs is variant 1; then the vector's length and the transaction.
        let mut frame = 1u32.to_le_bytes().to_vec();
        frame.extend_from_slice(&1u64.to_le_bytes());
        frame.extend(phalanx_types::attacks::nested_transaction(1_100, "any"));
        frame
    })
}

impl<O: Outbound> Outbound for Byzantine<O> {
    fn broadcast(&self, message: Box<SignedMessage>) {
        let vote = matches!(
            message.body,
            ConsensusMessage::Prepare(_) | ConsensusMessage::Commit(_)
        );
        match self.strategy {
            Strategy::Silent => {}
            Strategy::Equivocate => self.equivocate(message),
            Strategy::BodySwap => self.body_swap(message),
            Strategy::WithholdVotes => {
                if !vote {
                    self.inner.broadcast(message);
                }
            }
            Strategy::FarFutureViews => {
                self.far_future(message.body.height(), message.body.view());
                if !vote {
                    self.inner.broadcast(message);
                }
            }
            Strategy::Flood => {
                self.flood(&message);
                self.inner.broadcast(message);
            }
            Strategy::CorruptSnapshots => self.inner.broadcast(message),
        }
    }

    fn gossip_txs(&self, txs: Vec<SignedTx>) {
        self.inner.gossip_txs(txs);
    }

    fn request_blocks(&self, peer: String, from: Height) {
        self.inner.request_blocks(peer, from);
    }

    fn send_status(&self, peer: String, height: Height) {
        self.inner.send_status(peer, height);
    }

    fn set_validator_peers(&self, peers: Vec<String>) {
        self.inner.set_validator_peers(peers);
    }
}
