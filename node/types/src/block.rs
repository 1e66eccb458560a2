//! Blocks and headers.

use crate::crypto::Address;
use crate::hash::{Domain, Hash};
use crate::merkle::merkle_root;
use crate::tx::SignedTx;
use crate::{Height, encoding};
use serde::{Deserialize, Serialize};

/// Largest encoded block accepted from the network: 16 MiB (genesis may set a lower limit).
pub const MAX_BLOCK_BYTES: usize = encoding::MAX_DECODE_BYTES;

/// A block header. Its hash is the block's id, and what commits sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Chain id (binds the block to one chain).
    pub chain_id: String,
    /// Height; the first block is 1.
    pub height: Height,
    /// Hash of the previous block's header ([`Hash::ZERO`] at height 1).
    pub parent_hash: Hash,
    /// Milliseconds since the Unix epoch, from the proposer's clock; strictly increasing.
    pub timestamp_ms: u64,
    /// The validator that built the block.
    pub proposer: Address,
    /// Merkle root of the transaction hashes.
    pub tx_root: Hash,
    /// Root of the authenticated state tree after executing this block's transactions.
    pub state_root: Hash,
    /// Merkle root of the receipts of this block's transactions.
    pub receipts_root: Hash,
    /// Hash of the validator set that must certify this block.
    pub validators_hash: Hash,
}

impl Header {
    /// The block id.
    pub fn hash(&self) -> Hash {
        Hash::of(Domain::Header, self)
    }
}

/// A block: a header and its transactions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The header.
    pub header: Header,
    /// The transactions, in execution order.
    pub txs: Vec<SignedTx>,
}

impl Block {
    /// The block id (its header's hash).
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    /// Height shortcut.
    pub fn height(&self) -> Height {
        self.header.height
    }

    /// The tx root these transactions produce.
    pub fn compute_tx_root(txs: &[SignedTx]) -> Hash {
        let hashes: Vec<Hash> = txs.iter().map(SignedTx::hash).collect();
        Block::tx_root_of(&hashes)
    }

    /// The tx root of transactions with these hashes, in order.
    pub fn tx_root_of(hashes: &[Hash]) -> Hash {
        merkle_root(hashes)
    }

    /// True if the header's tx root matches the transactions.
    pub fn tx_root_matches(&self) -> bool {
        Block::compute_tx_root(&self.txs) == self.header.tx_root
    }
}
