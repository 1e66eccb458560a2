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

    /// A header with zero hashes and roots, for measuring sizes and building test values.
    pub(crate) fn blank(chain_id: &str, height: Height) -> Header {
        Header {
            chain_id: chain_id.into(),
            height,
            parent_hash: Hash::ZERO,
            timestamp_ms: 0,
            proposer: Address([0; 32]),
            tx_root: Hash::ZERO,
            state_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            validators_hash: Hash::ZERO,
        }
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

/// A block whose transactions are the ones its header commits to: the tx root was checked
/// once, when the value was made (decoded from untrusted bytes, or assembled by the node
/// from hashes it computed), and the transaction hashes are kept for execution.
///
/// A block's id covers only its header, so "the same block" means "the same header and the
/// body that header names". Everything that remembers blocks by hash (consensus verdicts,
/// executed-block caches, sync) takes a `CheckedBlock`, so a header with another body can
/// never stand in for the real one. Cloning is cheap (shared).
#[derive(Clone, PartialEq, Eq)]
pub struct CheckedBlock(std::sync::Arc<CheckedInner>);

#[derive(PartialEq, Eq)]
struct CheckedInner {
    block: Block,
    hash: Hash,
    tx_hashes: Vec<Hash>,
}

/// A block's transactions are not the ones its header's tx root names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("block {height}: its transactions do not match the header's tx root")]
pub struct BodyMismatch {
    /// The block's height.
    pub height: Height,
}

impl CheckedBlock {
    /// Checks that `block`'s transactions hash to its header's tx root.
    pub fn check(block: Block) -> Result<CheckedBlock, BodyMismatch> {
        let tx_hashes: Vec<Hash> = block.txs.iter().map(SignedTx::hash).collect();
        CheckedBlock::with_tx_hashes(block, tx_hashes)
    }

    /// As [`CheckedBlock::check`], for a caller that already hashed the transactions:
    /// `tx_hashes` must be the hashes of `block.txs`, in order (the node's block builder).
    pub fn with_tx_hashes(
        block: Block,
        tx_hashes: Vec<Hash>,
    ) -> Result<CheckedBlock, BodyMismatch> {
        debug_assert!(tx_hashes.len() == block.txs.len());
        if tx_hashes.len() != block.txs.len()
            || Block::tx_root_of(&tx_hashes) != block.header.tx_root
        {
            return Err(BodyMismatch {
                height: block.height(),
            });
        }
        let hash = block.hash();
        Ok(CheckedBlock(std::sync::Arc::new(CheckedInner {
            block,
            hash,
            tx_hashes,
        })))
    }

    /// The block.
    pub fn block(&self) -> &Block {
        &self.0.block
    }

    /// The block id (its header's hash, computed once).
    pub fn hash(&self) -> Hash {
        self.0.hash
    }

    /// The hashes of its transactions, in order.
    pub fn tx_hashes(&self) -> &[Hash] {
        &self.0.tx_hashes
    }

    /// The block, copied out if it is shared.
    pub fn into_block(self) -> Block {
        match std::sync::Arc::try_unwrap(self.0) {
            Ok(inner) => inner.block,
            Err(shared) => shared.block.clone(),
        }
    }
}

impl std::ops::Deref for CheckedBlock {
    type Target = Block;
    fn deref(&self) -> &Block {
        &self.0.block
    }
}

impl std::fmt::Debug for CheckedBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.block.fmt(f)
    }
}

impl Serialize for CheckedBlock {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.block.serialize(s)
    }
}

/// Decoding checks the body: a `CheckedBlock` read from the wire or from disk is either the
/// header's own body or an error.
impl<'de> Deserialize<'de> for CheckedBlock {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<CheckedBlock, D::Error> {
        CheckedBlock::check(Block::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}
