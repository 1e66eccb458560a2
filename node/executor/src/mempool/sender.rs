//! One sender's pending transactions, in nonce order, with the split between those a block
//! could take now (the *ready* run of consecutive nonces from the committed nonce) and those
//! waiting behind a gap (*queued*).

use phalanx_types::{Hash, SignedTx};
use std::collections::BTreeMap;

/// A pending transaction.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub tx: SignedTx,
    pub hash: Hash,
    pub bytes: usize,
    /// Arrival order in this pool (older first when blocks are filled).
    pub seq: u64,
    /// When it arrived (local clock; the pool never feeds consensus).
    pub arrived_ms: u64,
    /// Whether a client submitted it here (only such are forwarded again).
    pub local: bool,
    /// When it was last forwarded ([`super::Mempool::stuck_ready`]).
    pub sent_ms: u64,
    /// How many times it was forwarded again (each doubles the wait for the next).
    pub resends: u32,
}

/// A sender's queue.
#[derive(Debug, Default)]
pub(super) struct SenderQueue {
    /// The sender's committed nonce: the next one a block may include.
    pub floor: u64,
    /// Pending transactions by nonce (all at or above `floor`).
    pub txs: BTreeMap<u64, Pending>,
    /// Length of the run of consecutive nonces from `floor`.
    pub ready: usize,
    /// Encoded bytes of all pending transactions.
    pub bytes: usize,
    /// Encoded bytes of the queued ones (after the ready run).
    pub queued_bytes: usize,
}

impl SenderQueue {
    /// Transactions waiting behind a nonce gap.
    pub fn queued(&self) -> usize {
        self.txs.len() - self.ready
    }

    /// The first nonce a queued transaction may have: past the ready run.
    pub fn first_queued_nonce(&self) -> u64 {
        self.floor + self.ready as u64
    }

    /// Recomputes `ready`, `bytes` and `queued_bytes` after a change (a queue holds at most
    /// the per-sender cap, so this is cheap).
    pub fn recount(&mut self) {
        let mut ready = 0;
        let mut bytes = 0;
        let mut ready_bytes = 0;
        let mut expected = self.floor;
        let mut run = true;
        for (nonce, p) in &self.txs {
            bytes += p.bytes;
            if run && *nonce == expected {
                ready += 1;
                ready_bytes += p.bytes;
                expected += 1;
            } else {
                run = false;
            }
        }
        self.ready = ready;
        self.bytes = bytes;
        self.queued_bytes = bytes - ready_bytes;
    }

    /// The ready transactions, in nonce order.
    pub fn ready_txs(&self) -> impl Iterator<Item = &Pending> {
        self.txs
            .range(self.floor..)
            .take(self.ready)
            .map(|(_, p)| p)
    }

    /// The queued transactions, in nonce order.
    pub fn queued_txs(&self) -> impl Iterator<Item = (&u64, &Pending)> {
        self.txs.range(self.first_queued_nonce()..)
    }

    /// The highest pending nonce.
    pub fn tail(&self) -> Option<u64> {
        self.txs.keys().next_back().copied()
    }
}
