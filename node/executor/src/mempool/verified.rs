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
