//! The mempool: valid transactions waiting for a block, bounded in count and bytes.
//!
//! Admission checks everything that can be checked before execution (signature, chain id,
//! gas bounds, nonce against the committed account state) and answers the submitter with a
//! clear error. Transactions are kept per sender in nonce order; a block takes, for each
//! sender, the run of consecutive nonces starting at the sender's committed nonce. When the
//! pool is full new transactions are refused, so a flood cannot grow memory without bound.

use crate::block::check_gas;
use crate::error::InvalidTx;
use phalanx_genesis::ConsensusParams;
use phalanx_types::{Address, Domain, Hash, SignedTx, verify_txs};
use std::collections::{BTreeMap, HashMap};

/// A transaction whose signature and chain id were checked, with its hash and encoded size
/// computed once. Built wherever transactions arrive (RPC handlers, the network), in
/// parallel and off the core thread; the mempool admits only these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTx {
    tx: SignedTx,
    hash: Hash,
    bytes: usize,
}

impl VerifiedTx {
    /// Checks `tx` for `chain_id`: chain id, method name and its sender's signature.
    pub fn new(tx: SignedTx, chain_id: &str) -> Result<VerifiedTx, AdmitError> {
        tx.verify(chain_id)
            .map_err(|e| InvalidTx::Malformed(e.to_string()))?;
        Ok(VerifiedTx::checked(tx))
    }

    /// Wraps a transaction that passed [`SignedTx::verify`].
    fn checked(tx: SignedTx) -> VerifiedTx {
        let encoded = tx.to_bytes();
        VerifiedTx {
            hash: Hash::digest(Domain::Tx, &encoded),
            bytes: encoded.len(),
            tx,
        }
    }

    /// [`VerifiedTx::new`] for many transactions, their signatures checked in batches
    /// ([`verify_txs`]); the same result for each.
    pub fn new_many(txs: Vec<SignedTx>, chain_id: &str) -> Vec<Result<VerifiedTx, AdmitError>> {
        let checks = verify_txs(&txs, chain_id);
        txs.into_iter()
            .zip(checks)
            .map(|(tx, check)| match check {
                Ok(()) => Ok(VerifiedTx::checked(tx)),
                Err(e) => Err(InvalidTx::Malformed(e.to_string()).into()),
            })
            .collect()
    }

    /// The transaction.
    pub fn tx(&self) -> &SignedTx {
        &self.tx
    }

    /// Its hash.
    pub fn hash(&self) -> Hash {
        self.hash
    }

    /// The transaction, giving up the proof of verification.
    pub fn into_tx(self) -> SignedTx {
        self.tx
    }
}

/// Verifies `txs` for `chain_id` in signature batches, spreading large inputs over the
/// machine's cores (each check has one outcome, so where it runs changes nothing). Results
/// are in order.
pub fn verify_all(txs: Vec<SignedTx>, chain_id: &str) -> Vec<Result<VerifiedTx, AdmitError>> {
    const PER_THREAD_MIN: usize = 64;
    let threads = crate::cores::available()
        .min(txs.len() / PER_THREAD_MIN)
        .max(1);
    if threads == 1 {
        return VerifiedTx::new_many(txs, chain_id);
    }
    // Threads get runs of one sender's transactions (a sender may straddle two threads), so
    // `verify_txs` can batch a sender's signatures together.
    let total = txs.len();
    let mut by_sender: Vec<(usize, SignedTx)> = txs.into_iter().enumerate().collect();
    by_sender.sort_by_key(|(_, tx)| tx.tx.sender.0);
    let chunk = total.div_ceil(threads);
    let mut chunks: Vec<(Vec<usize>, Vec<SignedTx>)> = Vec::with_capacity(threads);
    let mut rest = by_sender.into_iter().peekable();
    while rest.peek().is_some() {
        chunks.push(rest.by_ref().take(chunk).unzip());
    }
    let mut results: Vec<Option<Result<VerifiedTx, AdmitError>>> = vec![None; total];
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|(at, c)| (at, scope.spawn(move || VerifiedTx::new_many(c, chain_id))))
            .collect();
        for (at, handle) in handles {
            // One answer per transaction even if a checking thread died.
            let answers = handle.join().unwrap_or_else(|_| {
                let failed = InvalidTx::Malformed("signature check failed".into());
                vec![Err(failed.into()); at.len()]
            });
            for (i, answer) in at.into_iter().zip(answers) {
                results[i] = Some(answer);
            }
        }
    });
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| Err(InvalidTx::Malformed("signature check failed".into()).into()))
        })
        .collect()
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
}

impl Default for MempoolLimits {
    fn default() -> Self {
        MempoolLimits {
            max_txs: 50_000,
            max_bytes: 64 * 1024 * 1024,
            max_nonce_gap: 64,
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
    /// The pool is at its limit.
    #[error("mempool full")]
    Full,
}

struct Pending {
    tx: SignedTx,
    hash: Hash,
    bytes: usize,
}

/// Pending transactions.
#[derive(Default)]
pub struct Mempool {
    limits: MempoolLimits,
    by_sender: BTreeMap<Address, BTreeMap<u64, Pending>>,
    by_hash: HashMap<Hash, (Address, u64)>,
    bytes: usize,
}

impl std::fmt::Debug for Mempool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mempool")
            .field("txs", &self.len())
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl Mempool {
    /// An empty pool with `limits`.
    pub fn new(limits: MempoolLimits) -> Mempool {
        Mempool {
            limits,
            ..Mempool::default()
        }
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

    /// Whether `hash` is pending.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// Admits `tx` if it is valid against the committed `account_nonce` of its sender.
    pub fn admit(
        &mut self,
        tx: SignedTx,
        account_nonce: u64,
        chain_id: &str,
        params: &ConsensusParams,
    ) -> Result<Hash, AdmitError> {
        self.admit_verified(VerifiedTx::new(tx, chain_id)?, account_nonce, params)
    }

    /// Admits a transaction whose signature was checked (see [`VerifiedTx`]): the gas bounds,
    /// its nonce against the committed `account_nonce` and the pool's limits remain.
    pub fn admit_verified(
        &mut self,
        verified: VerifiedTx,
        account_nonce: u64,
        params: &ConsensusParams,
    ) -> Result<Hash, AdmitError> {
        let VerifiedTx { tx, hash, bytes } = verified;
        if self.by_hash.contains_key(&hash) {
            return Err(AdmitError::Duplicate);
        }
        check_gas(&tx, params)?;
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
        if self
            .by_sender
            .get(&sender)
            .is_some_and(|q| q.contains_key(&nonce))
        {
            return Err(AdmitError::NonceTaken(nonce));
        }
        if self.len() >= self.limits.max_txs || self.bytes + bytes > self.limits.max_bytes {
            return Err(AdmitError::Full);
        }
        self.bytes += bytes;
        self.by_hash.insert(hash, (sender, nonce));
        self.by_sender
            .entry(sender)
            .or_default()
            .insert(nonce, Pending { tx, hash, bytes });
        Ok(hash)
    }

    /// Transactions for the next block: for each sender (in address order), the consecutive
    /// nonces from its committed nonce, within the block's count, byte and gas limits.
    pub fn select(
        &self,
        account_nonce: impl Fn(&Address) -> u64,
        params: &ConsensusParams,
    ) -> Vec<SignedTx> {
        // Gas is not a selection limit: what a block may hold is the gas its transactions
        // *use*, known only by executing them, so the builder stops at the first one whose
        // limit no longer fits and leaves the rest here.
        let mut out = Vec::new();
        let mut bytes = 0u64;
        'senders: for (sender, queue) in &self.by_sender {
            let first = account_nonce(sender);
            for (expected, (nonce, p)) in (first..).zip(queue.range(first..)) {
                if *nonce != expected {
                    break;
                }
                let full = out.len() as u64 >= u64::from(params.max_block_txs)
                    || bytes + p.bytes as u64 > params.max_block_bytes;
                if full {
                    break 'senders;
                }
                bytes += p.bytes as u64;
                out.push(p.tx.clone());
            }
        }
        out
    }

    /// Removes the transaction with `hash` (one that turned out invalid while a block was
    /// built). Returns whether it was pending.
    pub fn remove(&mut self, hash: &Hash) -> bool {
        let Some((sender, nonce)) = self.by_hash.remove(hash) else {
            return false;
        };
        if let Some(queue) = self.by_sender.get_mut(&sender) {
            if let Some(p) = queue.remove(&nonce) {
                self.bytes -= p.bytes;
            }
            if queue.is_empty() {
                self.by_sender.remove(&sender);
            }
        }
        true
    }

    /// Drops every transaction whose nonce is below its sender's committed nonce (after a
    /// block commits: the included ones and any that can no longer be included).
    pub fn prune(&mut self, account_nonce: impl Fn(&Address) -> u64) {
        let senders: Vec<Address> = self.by_sender.keys().copied().collect();
        self.prune_senders(&senders, account_nonce);
    }

    /// [`Mempool::prune`] for `senders` only: after a block commits, only the senders of
    /// its transactions have new nonces, so only their queues can hold stale entries.
    pub fn prune_senders(&mut self, senders: &[Address], account_nonce: impl Fn(&Address) -> u64) {
        for sender in senders {
            let Some(queue) = self.by_sender.get_mut(sender) else {
                continue;
            };
            let floor = account_nonce(sender);
            let stale: Vec<u64> = queue.range(..floor).map(|(n, _)| *n).collect();
            for n in stale {
                if let Some(p) = queue.remove(&n) {
                    self.bytes -= p.bytes;
                    self.by_hash.remove(&p.hash);
                }
            }
            if queue.is_empty() {
                self.by_sender.remove(sender);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phalanx_types::{Bytes, SecretKey, Tx, TxPayload};

    const CHAIN: &str = "mempool-test";

    fn tx(key: &SecretKey, nonce: u64) -> SignedTx {
        Tx {
            chain_id: CHAIN.into(),
            sender: key.public_key(),
            nonce,
            gas_limit: 1_000_000,
            payload: TxPayload::Call {
                contract: Address([1; 32]),
                method: "ping".into(),
                args: Bytes(vec![0; 100]),
            },
        }
        .sign(key)
    }

    fn params() -> ConsensusParams {
        ConsensusParams::default()
    }

    #[test]
    fn verify_all_answers_in_order_across_threads() {
        // Enough transactions for several threads; senders interleaved, so grouping them by
        // sender reorders the work but must not reorder the answers.
        let keys: Vec<SecretKey> = (0..7u8).map(|i| SecretKey::from_seed([i; 32])).collect();
        let mut txs: Vec<SignedTx> = (0..400)
            .map(|i| tx(&keys[i % keys.len()], i as u64))
            .collect();
        txs[5].tx.nonce += 1;
        txs[398].signature = txs[0].signature;
        let expected: Vec<Option<Hash>> = txs
            .iter()
            .map(|t| VerifiedTx::new(t.clone(), CHAIN).ok().map(|v| v.hash()))
            .collect();
        let got: Vec<Option<Hash>> = verify_all(txs, CHAIN)
            .into_iter()
            .map(|r| r.ok().map(|v| v.hash()))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(got.iter().filter(|h| h.is_none()).count(), 2);
    }

    #[test]
    fn admission_gives_clear_errors_and_loses_nothing() {
        let mut pool = Mempool::new(MempoolLimits::default());
        let k = SecretKey::from_seed([1; 32]);
        let h = pool.admit(tx(&k, 5), 5, CHAIN, &params()).unwrap();
        assert!(pool.contains(&h));
        assert_eq!(
            pool.admit(tx(&k, 5), 5, CHAIN, &params()),
            Err(AdmitError::Duplicate)
        );
        assert_eq!(
            pool.admit(tx(&k, 4), 5, CHAIN, &params()),
            Err(AdmitError::NonceTooLow {
                expected: 5,
                got: 4
            })
        );
        assert!(matches!(
            pool.admit(tx(&k, 500), 5, CHAIN, &params()),
            Err(AdmitError::NonceTooHigh { .. })
        ));
        let mut other = tx(&k, 5);
        other.tx.gas_limit += 1;
        let other = other.tx.sign(&k);
        assert_eq!(
            pool.admit(other, 5, CHAIN, &params()),
            Err(AdmitError::NonceTaken(5))
        );
        let mut forged = tx(&k, 6);
        forged.tx.nonce = 7;
        assert!(matches!(
            pool.admit(forged, 5, CHAIN, &params()),
            Err(AdmitError::Invalid(_))
        ));
        assert!(matches!(
            pool.admit(tx(&k, 6), 5, "other-chain", &params()),
            Err(AdmitError::Invalid(_))
        ));
        assert_eq!(
            pool.len(),
            1,
            "refused transactions leave the pool unchanged"
        );
    }

    #[test]
    fn selection_follows_nonces_and_limits_and_prune_evicts() {
        let mut pool = Mempool::new(MempoolLimits::default());
        let a = SecretKey::from_seed([1; 32]);
        let b = SecretKey::from_seed([2; 32]);
        for n in [2, 0, 1, 4] {
            pool.admit(tx(&a, n), 0, CHAIN, &params()).unwrap();
        }
        pool.admit(tx(&b, 0), 0, CHAIN, &params()).unwrap();
        let picked = pool.select(|_| 0, &params());
        let a_nonces: Vec<u64> = picked
            .iter()
            .filter(|t| t.tx.sender == a.public_key())
            .map(|t| t.tx.nonce)
            .collect();
        assert_eq!(a_nonces, vec![0, 1, 2], "stops at the gap before 4");
        assert_eq!(picked.len(), 4);
        let mut small = params();
        small.max_block_txs = 2;
        assert_eq!(pool.select(|_| 0, &small).len(), 2);

        // After a block that used a's nonces 0..=2, only a's 4 and b's 0 remain.
        pool.prune(|s| if *s == a.address() { 3 } else { 0 });
        assert_eq!(pool.len(), 2);
        let before = pool.bytes();
        pool.prune(|_| 10);
        assert!(pool.is_empty());
        assert!(before > 0 && pool.bytes() == 0);
    }

    #[test]
    fn remove_frees_the_slot_and_its_bytes() {
        let mut pool = Mempool::new(MempoolLimits::default());
        let a = SecretKey::from_seed([1; 32]);
        let h0 = pool.admit(tx(&a, 0), 0, CHAIN, &params()).unwrap();
        let h1 = pool.admit(tx(&a, 1), 0, CHAIN, &params()).unwrap();
        let both = pool.bytes();
        assert!(pool.remove(&h1));
        assert!(!pool.remove(&h1), "already gone");
        assert!(!pool.contains(&h1) && pool.contains(&h0));
        assert_eq!(pool.bytes(), both / 2);
        assert!(pool.remove(&h0));
        assert!(pool.is_empty() && pool.bytes() == 0);
        pool.admit(tx(&a, 1), 0, CHAIN, &params())
            .expect("the nonce is free again");
    }

    #[test]
    fn a_flood_is_refused_at_the_limit() {
        let limits = MempoolLimits {
            max_txs: 100,
            max_bytes: 1 << 20,
            max_nonce_gap: 64,
        };
        let mut pool = Mempool::new(limits);
        let mut refused = 0;
        for seed in 0..200u8 {
            let k = SecretKey::from_seed([seed; 32]);
            match pool.admit(tx(&k, 0), 0, CHAIN, &params()) {
                Ok(_) => {}
                Err(AdmitError::Full) => refused += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!((pool.len(), refused), (100, 100));
        let limits = MempoolLimits {
            max_txs: 10_000,
            max_bytes: 3_000,
            max_nonce_gap: 64,
        };
        let mut pool = Mempool::new(limits);
        for seed in 0..100u8 {
            let _ = pool.admit(
                tx(&SecretKey::from_seed([seed; 32]), 0),
                0,
                CHAIN,
                &params(),
            );
        }
        assert!(pool.bytes() <= 3_000 && pool.len() < 100);
    }
}
