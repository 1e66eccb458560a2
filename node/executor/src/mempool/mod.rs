//! The mempool: valid transactions waiting for a block, bounded in count and bytes, shared
//! fairly between senders.
//!
//! Admission checks everything that can be checked before execution (signature, chain id,
//! size, gas bounds, nonce against the committed account state) and answers the submitter
//! with a clear error. Transactions are kept per sender in nonce order. A sender's *ready*
//! transactions are the run of consecutive nonces from its committed nonce: a block can
//! take them now. The rest wait behind a nonce gap (*queued*).
//!
//! The policy (docs/OPERATOR.md, "Mempool"):
//! - a sender holds at most [`MempoolLimits::max_per_sender`] transactions and
//!   [`MempoolLimits::max_sender_bytes`] bytes;
//! - queued transactions are at most [`MempoolLimits::max_queued`] in all and expire after
//!   [`MempoolLimits::queued_ttl_ms`]; when removing an invalid transaction leaves its
//!   sender's later ones queued past that budget, the newest queued ones of the senders with
//!   the most queued bytes are dropped;
//! - a full pool makes room by evicting the least valuable entry: first the newest queued
//!   transaction of the sender with the most queued bytes, then the newest transaction of
//!   the sender with the most bytes, if that sender would still hold more than the
//!   newcomer's. Otherwise the newcomer is refused, and nothing is evicted;
//! - blocks take transactions round-robin across senders, one per sender per round, the
//!   senders ordered by the arrival of their oldest ready transaction;
//! - when a block changes the consensus parameters, every pending transaction is checked
//!   again against the new ones.

mod sender;
mod verified;

#[cfg(test)]
mod tests;

pub use verified::VerifiedTx;

use crate::block::check_gas;
use crate::error::InvalidTx;
use phalanx_genesis::ConsensusParams;
use phalanx_types::{Address, Hash, SignedTx};
use sender::{Pending, SenderQueue};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Where a transaction came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A client of this node (RPC).
    Client,
    /// Another validator forwarded it.
    Peer,
}

/// Bounds of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MempoolLimits {
    /// Most transactions held.
    pub max_txs: usize,
    /// Most encoded bytes held.
    pub max_bytes: usize,
    /// How far ahead of its committed nonce a sender may queue.
    pub max_nonce_gap: u64,
    /// Most transactions one sender may have pending.
    pub max_per_sender: usize,
    /// Most encoded bytes one sender may have pending.
    pub max_sender_bytes: usize,
    /// Most transactions waiting behind a nonce gap, over all senders.
    pub max_queued: usize,
    /// How long a transaction may wait behind a nonce gap before it is dropped.
    pub queued_ttl_ms: u64,
}

impl Default for MempoolLimits {
    fn default() -> Self {
        MempoolLimits {
            max_txs: 50_000,
            max_bytes: 64 * 1024 * 1024,
            max_nonce_gap: 64,
            max_per_sender: 64,
            max_sender_bytes: 8 * 1024 * 1024,
            max_queued: 10_000,
            queued_ttl_ms: 60_000,
        }
    }
}

/// Why a transaction was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    /// It can never be included.
    #[error(transparent)]
    Invalid(#[from] InvalidTx),
    /// Its nonce was already used.
    #[error("nonce too low: the account's next nonce is {expected}, got {got}")]
    NonceTooLow {
        /// The account's next nonce.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// Its nonce is too far ahead of the account's.
    #[error(
        "nonce too high: the account's next nonce is {expected}, got {got} (at most {max_gap} ahead)"
    )]
    NonceTooHigh {
        /// The account's next nonce.
        expected: u64,
        /// The transaction's.
        got: u64,
        /// Allowed queue depth.
        max_gap: u64,
    },
    /// The same transaction is already pending.
    #[error("transaction already pending")]
    Duplicate,
    /// Another transaction with this nonce is already pending.
    #[error("another transaction with nonce {0} is already pending for this account")]
    NonceTaken(u64),
    /// The encoded transaction is larger than a block may be.
    #[error("transaction of {bytes} bytes exceeds the block size limit of {max} bytes")]
    TooLarge {
        /// Its encoded size.
        bytes: usize,
        /// The block size limit.
        max: u64,
    },
    /// The sender already has as many transactions (or bytes) pending as it may.
    #[error("the sender has {pending} transactions ({bytes} bytes) pending, the most allowed")]
    SenderFull {
        /// Its pending transactions.
        pending: usize,
        /// Their encoded bytes.
        bytes: usize,
    },
    /// The pool is at its limit and holds nothing less valuable than this transaction.
    #[error("mempool full")]
    Full,
}

/// Pending transactions (see the module documentation for the policy).
#[derive(Default)]
pub struct Mempool {
    limits: MempoolLimits,
    senders: BTreeMap<Address, SenderQueue>,
    by_hash: HashMap<Hash, (Address, u64)>,
    /// Senders by pending bytes (eviction picks the largest).
    by_bytes: BTreeSet<(usize, Address)>,
    /// Senders with queued transactions, by queued bytes.
    by_queued_bytes: BTreeSet<(usize, Address)>,
    bytes: usize,
    queued: usize,
    next_seq: u64,
    last_expiry_ms: u64,
    /// Transactions that became ready since [`Mempool::take_promoted`] last ran.
    promoted: Vec<Hash>,
}

impl std::fmt::Debug for Mempool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mempool")
            .field("txs", &self.len())
            .field("queued", &self.queued)
            .field("bytes", &self.bytes)
            .finish()
    }
}

/// A transaction taken out of the pool, with what is needed to put it back.
struct Evicted {
    sender: Address,
    floor: u64,
    pending: Pending,
}

/// How often [`Mempool::expire`] scans, at most.
const EXPIRY_INTERVAL_MS: u64 = 1_000;

impl Mempool {
    /// An empty pool with `limits`.
    pub fn new(limits: MempoolLimits) -> Mempool {
        Mempool {
            limits,
            ..Mempool::default()
        }
    }

    /// The pool's limits.
    pub fn limits(&self) -> &MempoolLimits {
        &self.limits
    }

    /// Transactions held.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Encoded bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Transactions waiting behind a nonce gap.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Senders with pending transactions.
    pub fn senders(&self) -> usize {
        self.senders.len()
    }

    /// The committed nonce of `sender` as the pool knows it (kept current on every commit),
    /// if it has transactions pending: admission needs no state read for it then.
    pub fn committed_nonce(&self, sender: &Address) -> Option<u64> {
        self.senders.get(sender).map(|q| q.floor)
    }

    /// Whether `hash` is pending.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// Admits `tx`, submitted by a client, if it is valid against the committed
    /// `account_nonce` of its sender.
    pub fn admit(
        &mut self,
        tx: SignedTx,
        account_nonce: u64,
        chain_id: &str,
        params: &ConsensusParams,
        now_ms: u64,
    ) -> Result<Hash, AdmitError> {
        self.admit_verified(
            VerifiedTx::new(tx, chain_id)?,
            account_nonce,
            params,
            now_ms,
            Origin::Client,
        )
    }

    /// Admits a transaction whose signature was checked (see [`VerifiedTx`]): the size and
    /// gas bounds, its nonce against the committed `account_nonce` and the pool's limits
    /// remain. A full pool evicts less valuable entries to make room; if it cannot, the
    /// transaction is refused and the pool is left as it was.
    pub fn admit_verified(
        &mut self,
        verified: VerifiedTx,
        account_nonce: u64,
        params: &ConsensusParams,
        now_ms: u64,
        origin: Origin,
    ) -> Result<Hash, AdmitError> {
        let VerifiedTx { tx, hash, bytes } = verified;
        if self.by_hash.contains_key(&hash) {
            return Err(AdmitError::Duplicate);
        }
        check_fits(&tx, bytes, params)?;
        let nonce = tx.tx.nonce;
        if nonce < account_nonce {
            return Err(AdmitError::NonceTooLow {
                expected: account_nonce,
                got: nonce,
            });
        }
        if nonce - account_nonce >= self.limits.max_nonce_gap {
            return Err(AdmitError::NonceTooHigh {
                expected: account_nonce,
                got: nonce,
                max_gap: self.limits.max_nonce_gap,
            });
        }
        let sender = tx.tx.sender_address();
        // The committed nonce is authoritative (entries below it are stale).
        self.prune_senders(&[sender], |_| account_nonce);
        let (own_len, own_bytes, first_queued) = match self.senders.get(&sender) {
            Some(q) => {
                if q.txs.contains_key(&nonce) {
                    return Err(AdmitError::NonceTaken(nonce));
                }
                (q.txs.len(), q.bytes, q.first_queued_nonce())
            }
            None => (0, 0, account_nonce),
        };
        let queued = nonce > first_queued;
        let mut evicted = Vec::new();
        // Putting back what a refused admission evicted promotes nothing new.
        let promoted = self.promoted.len();
        // The sender's own cap: a lower nonce may displace the sender's own highest.
        loop {
            let (len, pending, tail) = self
                .senders
                .get(&sender)
                .map_or((0, 0, None), |q| (q.txs.len(), q.bytes, q.tail()));
            if len < self.limits.max_per_sender && pending + bytes <= self.limits.max_sender_bytes {
                break;
            }
            match tail {
                Some(tail) if tail > nonce => evicted.push(self.take(&sender, tail)),
                _ => {
                    self.restore(evicted, promoted);
                    return Err(AdmitError::SenderFull {
                        pending: own_len,
                        bytes: own_bytes,
                    });
                }
            }
        }
        // The queued budget: a queued newcomer may displace only queued transactions of a
        // sender with more queued bytes than its own would be.
        if queued && self.queued >= self.limits.max_queued {
            match self.queued_victim(&sender, bytes) {
                Some((victim, tail)) => evicted.push(self.take(&victim, tail)),
                None => {
                    self.restore(evicted, promoted);
                    return Err(AdmitError::Full);
                }
            }
        }
        while self.len() >= self.limits.max_txs || self.bytes + bytes > self.limits.max_bytes {
            let victim = self.queued_victim_any(&sender, nonce).or_else(|| {
                if queued {
                    None
                } else {
                    self.heaviest_victim(&sender, bytes)
                }
            });
            match victim {
                Some((victim, tail)) => evicted.push(self.take(&victim, tail)),
                None => {
                    self.restore(evicted, promoted);
                    return Err(AdmitError::Full);
                }
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_hash.insert(hash, (sender, nonce));
        let pending = Pending {
            tx,
            hash,
            bytes,
            seq,
            arrived_ms: now_ms,
            local: origin == Origin::Client,
            sent_ms: now_ms,
            resends: 0,
        };
        self.update(&sender, |q| {
            q.floor = account_nonce;
            q.txs.insert(nonce, pending);
        });
        Ok(hash)
    }

    /// The newest queued transaction of the sender with the most queued bytes, if that
    /// sender would still have more than `sender` after it queues `bytes` more.
    fn queued_victim(&self, sender: &Address, bytes: usize) -> Option<(Address, u64)> {
        self.heavier(&self.by_queued_bytes, sender, bytes, |q| q.queued_bytes)
    }

    /// The newest transaction of the heaviest sender in `index` (by `weight`), if that
    /// sender is not `sender` and would still weigh more than it after it adds `bytes`.
    fn heavier(
        &self,
        index: &BTreeSet<(usize, Address)>,
        sender: &Address,
        bytes: usize,
        weight: impl Fn(&SenderQueue) -> usize,
    ) -> Option<(Address, u64)> {
        let (heaviest, victim) = *index.last()?;
        let own = self.senders.get(sender).map_or(0, weight);
        if victim == *sender || heaviest <= own + bytes {
            return None;
        }
        Some((victim, self.senders[&victim].tail()?))
    }

    /// Any queued transaction to make room for one with `nonce` from `sender` (a queued
    /// transaction is worth less than any ready one): the newest of the sender with the
    /// most queued bytes, unless that is the newcomer's own sender and its newest is newer
    /// than the newcomer.
    fn queued_victim_any(&self, sender: &Address, nonce: u64) -> Option<(Address, u64)> {
        let (_, victim) = *self.by_queued_bytes.last()?;
        let tail = self.senders[&victim].tail()?;
        if victim == *sender && tail < nonce {
            return None;
        }
        Some((victim, tail))
    }

    /// The newest transaction of the sender with the most bytes pending, if that sender
    /// would still hold more than `sender` after it adds `bytes`.
    fn heaviest_victim(&self, sender: &Address, bytes: usize) -> Option<(Address, u64)> {
        self.heavier(&self.by_bytes, sender, bytes, |q| q.bytes)
    }

    /// Removes `sender`'s transaction with `nonce` (which must be pending).
    fn take(&mut self, sender: &Address, nonce: u64) -> Evicted {
        let mut taken = None;
        let mut floor = 0;
        self.update(sender, |q| {
            floor = q.floor;
            taken = q.txs.remove(&nonce);
        });
        let p = taken.expect("the victim is pending");
        self.by_hash.remove(&p.hash);
        Evicted {
            sender: *sender,
            floor,
            pending: p,
        }
    }

    /// Puts back what an admission evicted before it failed, and forgets the promotions
    /// made since `promoted` (the length of the list when the admission began).
    fn restore(&mut self, evicted: Vec<Evicted>, promoted: usize) {
        for e in evicted.into_iter().rev() {
            let (hash, nonce) = (e.pending.hash, e.pending.tx.tx.nonce);
            self.by_hash.insert(hash, (e.sender, nonce));
            self.update(&e.sender, |q| {
                q.floor = e.floor;
                q.txs.insert(nonce, e.pending);
            });
        }
        self.promoted.truncate(promoted);
    }

    /// Changes `sender`'s queue and keeps the totals and indexes right: every change to a
    /// queue goes through here.
    fn update(&mut self, sender: &Address, change: impl FnOnce(&mut SenderQueue)) {
        let q = self.senders.entry(*sender).or_default();
        let was_empty = q.txs.is_empty();
        let (old_bytes, old_queued, old_queued_bytes) = (q.bytes, q.queued(), q.queued_bytes);
        let old_ready_end = q.first_queued_nonce();
        change(q);
        q.recount();
        let (from, to) = (old_ready_end.max(q.floor), q.first_queued_nonce());
        if from < to {
            self.promoted
                .extend(q.txs.range(from..to).map(|(_, p)| p.hash));
        }
        let (new_bytes, new_queued, new_queued_bytes) = (q.bytes, q.queued(), q.queued_bytes);
        let empty = q.txs.is_empty();
        if !was_empty {
            self.by_bytes.remove(&(old_bytes, *sender));
        }
        if old_queued > 0 {
            self.by_queued_bytes.remove(&(old_queued_bytes, *sender));
        }
        if !empty {
            self.by_bytes.insert((new_bytes, *sender));
        }
        if new_queued > 0 {
            self.by_queued_bytes.insert((new_queued_bytes, *sender));
        }
        self.bytes = self.bytes - old_bytes + new_bytes;
        self.queued = self.queued - old_queued + new_queued;
        if empty {
            self.senders.remove(sender);
        }
    }

    /// The transactions that became ready (a block could take them) since the last call:
    /// new ready ones, and queued ones whose gap was filled by a new transaction or a
    /// commit. These are the ones to forward to other validators; queued ones are not
    /// forwarded, so a flood of transactions that can never be included stays on the node
    /// it was sent to.
    pub fn take_promoted(&mut self) -> Vec<SignedTx> {
        let mut seen = std::collections::HashSet::new();
        std::mem::take(&mut self.promoted)
            .into_iter()
            .filter(|h| seen.insert(*h))
            .filter_map(|h| {
                let (sender, nonce) = self.by_hash.get(&h)?;
                let p = self.senders.get(sender)?.txs.get(nonce)?;
                (p.hash == h).then(|| p.tx.clone())
            })
            .collect()
    }

    /// Ready transactions submitted here by clients that are still pending `age_ms` after
    /// they were last forwarded, the wait doubling with each resend (up to 32 × `age_ms`):
    /// at most `max`, those waiting longest first, marked as sent now. Forwarding is best
    /// effort (a busy peer drops what it cannot take), so the node a client chose forwards
    /// what is stuck again and a transaction that never reached the primary still gets
    /// there; other nodes never resend what they were forwarded.
    pub fn stuck_ready(&mut self, now_ms: u64, age_ms: u64, max: usize) -> Vec<SignedTx> {
        let mut due: Vec<(u64, Address, u64)> = Vec::new();
        for (sender, q) in &self.senders {
            for p in q.ready_txs().filter(|p| p.local) {
                let wait = age_ms.saturating_mul(1 << p.resends.min(5));
                if p.sent_ms.saturating_add(wait) <= now_ms {
                    due.push((p.sent_ms, *sender, p.tx.tx.nonce));
                }
            }
        }
        due.sort_unstable();
        due.truncate(max);
        due.into_iter()
            .filter_map(|(_, sender, nonce)| {
                let p = self.senders.get_mut(&sender)?.txs.get_mut(&nonce)?;
                p.sent_ms = now_ms;
                p.resends = p.resends.saturating_add(1);
                Some(p.tx.clone())
            })
            .collect()
    }

    /// Transactions for the next block, within its count and byte limits: round-robin
    /// across senders (each round takes every sender's next ready transaction), senders
    /// ordered by the arrival of their oldest ready transaction.
    pub fn select(&self, params: &ConsensusParams) -> Vec<SignedTx> {
        self.select_after(params, &std::collections::HashSet::new())
    }

    /// [`Mempool::select`] for a block built on top of uncommitted blocks that hold `taken`:
    /// those are passed over, and the senders' later nonces follow them.
    pub fn select_after(
        &self,
        params: &ConsensusParams,
        taken: &std::collections::HashSet<Hash>,
    ) -> Vec<SignedTx> {
        // Gas is not a selection limit: what a block may hold is the gas its transactions
        // *use*, known only by executing them, so the builder stops at the first one whose
        // limit no longer fits and leaves the rest here.
        let max_txs = params.max_block_txs as usize;
        let mut queues: Vec<(u64, Box<dyn Iterator<Item = &Pending> + '_>)> = self
            .senders
            .values()
            .filter_map(|q| {
                let mut txs = q
                    .ready_txs()
                    .filter(|p| !taken.contains(&p.hash))
                    .peekable();
                let head = txs.peek()?.seq;
                Some((head, Box::new(txs) as Box<dyn Iterator<Item = &Pending>>))
            })
            .collect();
        queues.sort_unstable_by_key(|(head, _)| *head);
        let mut out = Vec::new();
        let mut bytes = 0u64;
        while !queues.is_empty() && out.len() < max_txs {
            queues.retain_mut(|(_, txs)| {
                if out.len() >= max_txs {
                    return false;
                }
                let Some(p) = txs.next() else {
                    return false;
                };
                if bytes + p.bytes as u64 > params.max_block_bytes {
                    // Its later nonces cannot go in without it.
                    return false;
                }
                bytes += p.bytes as u64;
                out.push(p.tx.clone());
                true
            });
        }
        out
    }

    /// Removes the transaction with `hash` (one that turned out invalid while a block was
    /// built). Returns whether it was pending. The sender's later transactions become
    /// queued (and expire unless the gap is filled).
    pub fn remove(&mut self, hash: &Hash) -> bool {
        let Some((sender, nonce)) = self.by_hash.get(hash).copied() else {
            return false;
        };
        self.take(&sender, nonce);
        self.trim_queued();
        true
    }

    /// Keeps the queued budget after a removal demoted ready transactions to queued (their
    /// gap is the removed one): drops the newest queued transaction of the sender with the
    /// most queued bytes until the pool is back within [`MempoolLimits::max_queued`].
    /// Without it, a sender whose first transaction turns out invalid at block building
    /// would leave its whole run queued past the budget. Returns how many were dropped.
    fn trim_queued(&mut self) -> usize {
        let mut dropped = 0;
        while self.queued > self.limits.max_queued {
            let Some(&(_, victim)) = self.by_queued_bytes.last() else {
                break;
            };
            // A sender with queued transactions has its newest one queued.
            let Some(tail) = self.senders[&victim].tail() else {
                break;
            };
            self.take(&victim, tail);
            dropped += 1;
        }
        dropped
    }

    /// Drops every transaction whose nonce is below its sender's committed nonce (after a
    /// block commits: the included ones and any that can no longer be included).
    pub fn prune(&mut self, account_nonce: impl Fn(&Address) -> u64) {
        let senders: Vec<Address> = self.senders.keys().copied().collect();
        self.prune_senders(&senders, account_nonce);
    }

    /// [`Mempool::prune`] for `senders` only: after a block commits, only the senders of
    /// its transactions have new nonces, so only their queues can hold stale entries.
    pub fn prune_senders(&mut self, senders: &[Address], account_nonce: impl Fn(&Address) -> u64) {
        for sender in senders {
            let Some(q) = self.senders.get(sender) else {
                continue;
            };
            let floor = account_nonce(sender);
            let stale_below = q.txs.keys().next().is_some_and(|n| *n < floor);
            if q.floor == floor && !stale_below {
                continue;
            }
            let mut stale = Vec::new();
            self.update(sender, |q| {
                q.floor = floor;
                let keep = q.txs.split_off(&floor);
                stale = std::mem::replace(&mut q.txs, keep).into_values().collect();
            });
            for p in stale {
                self.by_hash.remove(&p.hash);
            }
        }
        // A floor below the old one (a stale caller) can break a ready run.
        self.trim_queued();
    }

    /// Drops queued transactions older than the time-to-live; scans at most once a second.
    /// Returns how many were dropped.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        if now_ms < self.last_expiry_ms + EXPIRY_INTERVAL_MS {
            return 0;
        }
        self.last_expiry_ms = now_ms;
        let ttl = self.limits.queued_ttl_ms;
        let stale: Vec<(Address, u64)> = self
            .by_queued_bytes
            .iter()
            .flat_map(|(_, sender)| {
                self.senders[sender]
                    .queued_txs()
                    .filter(|(_, p)| p.arrived_ms.saturating_add(ttl) <= now_ms)
                    .map(|(nonce, _)| (*sender, *nonce))
            })
            .collect();
        for (sender, nonce) in &stale {
            self.take(sender, *nonce);
        }
        stale.len()
    }

    /// Checks every pending transaction against new consensus parameters (after governance
    /// changed them) and drops those that can no longer be included, and then any queued
    /// ones past the budget that their removal demoted. Returns how many.
    pub fn revalidate(&mut self, params: &ConsensusParams) -> usize {
        let invalid: Vec<(Address, u64)> = self
            .senders
            .iter()
            .flat_map(|(sender, q)| {
                q.txs
                    .iter()
                    .filter(|(_, p)| check_fits(&p.tx, p.bytes, params).is_err())
                    .map(|(nonce, _)| (*sender, *nonce))
            })
            .collect();
        for (sender, nonce) in &invalid {
            self.take(sender, *nonce);
        }
        invalid.len() + self.trim_queued()
    }
}

/// The checks of a transaction against the consensus parameters: gas bounds and size.
fn check_fits(tx: &SignedTx, bytes: usize, params: &ConsensusParams) -> Result<(), AdmitError> {
    check_gas(tx, params)?;
    if bytes as u64 > params.max_block_bytes {
        return Err(AdmitError::TooLarge {
            bytes,
            max: params.max_block_bytes,
        });
    }
    Ok(())
}
