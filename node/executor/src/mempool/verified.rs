//! Transactions whose signature and chain id were checked, off the core thread.

use super::AdmitError;
use crate::error::InvalidTx;
use phalanx_types::{Domain, Hash, SignedTx, verify_txs};

/// A transaction whose signature and chain id were checked, with its hash and encoded size
/// computed once. Built wherever transactions arrive (RPC handlers, the network), in
/// parallel and off the core thread; the mempool admits only these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTx {
    pub(super) tx: SignedTx,
    pub(super) hash: Hash,
    pub(super) bytes: usize,
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
