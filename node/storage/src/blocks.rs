//! The block store: committed blocks by height and hash, their commit certificates, the tx
//! index and receipts. Writes are staged into a [`WriteBatch`] so a commit (block,
//! certificate, receipts and state) lands atomically.

use crate::error::StorageError;
use crate::kv::{Column, KvStore, WriteBatch};
use phalanx_types::{Address, Block, CommitCertificate, Hash, Height, Receipt, decode, encode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const LATEST_HEIGHT: &[u8] = b"latest_height";

/// Where a transaction was included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxLocation {
    /// Block height.
    pub height: Height,
    /// Position in the block.
    pub index: u32,
}

/// Read and stage-write access to committed blocks.
#[derive(Clone)]
pub struct BlockStore {
    kv: Arc<dyn KvStore>,
}

impl std::fmt::Debug for BlockStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlockStore")
    }
}

/// The [`Column::SenderIndex`] key of `sender`'s transaction with `nonce`.
pub fn sender_key(sender: &Address, nonce: u64) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..32].copy_from_slice(&sender.0);
    k[32..].copy_from_slice(&nonce.to_be_bytes());
    k
}

/// A [`Column::SenderIndex`] row as `(nonce, hash)`; `None` if malformed.
fn sender_row((key, value): &(Vec<u8>, Vec<u8>)) -> Option<(u64, Hash)> {
    let nonce = u64::from_be_bytes(key.get(32..40)?.try_into().ok()?);
    Some((nonce, Hash::from_slice(value).ok()?))
}

fn receipt_key(height: Height, index: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&height.to_be_bytes());
    k[8..].copy_from_slice(&index.to_be_bytes());
    k
}

/// Stages `height` as the latest committed height.
pub(crate) fn stage_latest_height(batch: &mut WriteBatch, height: Height) {
    batch.put(Column::Meta, LATEST_HEIGHT, height.to_be_bytes());
}

pub(crate) fn read<T: DeserializeOwned>(
    kv: &dyn KvStore,
    col: Column,
    key: &[u8],
) -> Result<Option<T>, StorageError> {
    match kv.get(col, key)? {
        None => Ok(None),
        Some(bytes) => decode(&bytes).map(Some).map_err(|e| StorageError::Corrupt {
            column: col.name(),
            reason: e.to_string(),
        }),
    }
}

impl BlockStore {
    /// A block store over `kv`.
    pub fn new(kv: Arc<dyn KvStore>) -> BlockStore {
        BlockStore { kv }
    }

    /// Stages the commit of `block` with its certificate and receipts (one per transaction,
    /// in order: the tx index is built from their hashes) into `batch`. The caller writes the
    /// batch (together with the state changes) with [`crate::Durability::Sync`].
    pub fn stage_commit(
        &self,
        batch: &mut WriteBatch,
        block: &Block,
        certificate: &CommitCertificate,
        receipts: &[Receipt],
    ) {
        let height = block.height();
        let hk = height.to_be_bytes();
        batch.put(Column::Blocks, hk, encode(block));
        batch.put(Column::BlockIndex, block.hash().0, hk);
        batch.put(Column::Certificates, hk, encode(certificate));
        for r in receipts {
            let loc = TxLocation {
                height,
                index: r.index,
            };
            batch.put(Column::TxIndex, r.tx_hash.0, encode(&loc));
            batch.put(Column::Receipts, receipt_key(height, r.index), encode(r));
            if let Some(tx) = block.txs.get(r.index as usize) {
                batch.put(
                    Column::SenderIndex,
                    sender_key(&tx.tx.sender_address(), tx.tx.nonce),
                    r.tx_hash.0,
                );
            }
        }
        stage_latest_height(batch, height);
    }

    /// Height of the latest committed block (0 before the first block).
    pub fn latest_height(&self) -> Result<Height, StorageError> {
        match self.kv.get(Column::Meta, LATEST_HEIGHT)? {
            None => Ok(0),
            Some(b) => <[u8; 8]>::try_from(b.as_slice())
                .map(u64::from_be_bytes)
                .map_err(|_| StorageError::Corrupt {
                    column: "meta",
                    reason: "latest height is not 8 bytes".into(),
                }),
        }
    }

    /// The block at `height`.
    pub fn block(&self, height: Height) -> Result<Option<Block>, StorageError> {
        read(&*self.kv, Column::Blocks, &height.to_be_bytes())
    }

    /// The height of the block with `hash`.
    pub fn height_of(&self, hash: &Hash) -> Result<Option<Height>, StorageError> {
        Ok(self
            .kv
            .get(Column::BlockIndex, &hash.0)?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(u64::from_be_bytes))
    }

    /// The block with `hash`.
    pub fn block_by_hash(&self, hash: &Hash) -> Result<Option<Block>, StorageError> {
        match self.height_of(hash)? {
            Some(h) => self.block(h),
            None => Ok(None),
        }
    }

    /// The commit certificate of the block at `height`.
    pub fn certificate(&self, height: Height) -> Result<Option<CommitCertificate>, StorageError> {
        read(&*self.kv, Column::Certificates, &height.to_be_bytes())
    }

    /// Consecutive committed blocks with their certificates from `from` (at least 1): at most
    /// `max` of them, and no more once `max_bytes` of encoded blocks are reached (the first
    /// block is always included, so a large block still syncs).
    pub fn certified_blocks(
        &self,
        from: Height,
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<(Block, CommitCertificate)>, StorageError> {
        let tip = self.latest_height()?;
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let mut h = from.max(1);
        while h <= tip && out.len() < max {
            let Some(raw) = self.kv.get(Column::Blocks, &h.to_be_bytes())? else {
                break;
            };
            if !out.is_empty() && bytes + raw.len() > max_bytes {
                break;
            }
            bytes += raw.len();
            let block: Block = decode(&raw).map_err(|e| StorageError::Corrupt {
                column: "blocks",
                reason: e.to_string(),
            })?;
            let Some(cert) = self.certificate(h)? else {
                // Pruned between the two reads: the answer ends here.
                if h < crate::prune::lowest_block(&*self.kv)? {
                    break;
                }
                return Err(StorageError::Corrupt {
                    column: "certificates",
                    reason: format!("certificate of block {h} missing"),
                });
            };
            out.push((block, cert));
            h += 1;
        }
        Ok(out)
    }

    /// Where the tx with `hash` was included.
    pub fn tx_location(&self, hash: &Hash) -> Result<Option<TxLocation>, StorageError> {
        read(&*self.kv, Column::TxIndex, &hash.0)
    }

    /// Up to `limit` committed transactions of `sender` with nonces below `before` (pass
    /// the account's next nonce for its latest), newest first: `(nonce, hash)`. A sender's
    /// committed nonces are consecutive, so this reads one short range. Transactions of
    /// pruned blocks are gone.
    pub fn sender_txs(
        &self,
        sender: &Address,
        before: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Hash)>, StorageError> {
        let from = before.saturating_sub(limit as u64);
        let start = sender_key(sender, from);
        let rows = self
            .kv
            .scan(Column::SenderIndex, &sender.0, Some(&start), limit)?;
        let mut out: Vec<(u64, Hash)> = rows
            .iter()
            .filter_map(sender_row)
            .filter(|(n, _)| *n < before)
            .collect();
        out.reverse();
        Ok(out)
    }

    /// The receipt of the tx at `index` in the block at `height`.
    pub fn receipt(&self, height: Height, index: u32) -> Result<Option<Receipt>, StorageError> {
        read(&*self.kv, Column::Receipts, &receipt_key(height, index))
    }

    /// All receipts of the block at `height`, in order.
    pub fn receipts(&self, height: Height) -> Result<Vec<Receipt>, StorageError> {
        self.kv
            .scan(Column::Receipts, &height.to_be_bytes(), None, usize::MAX)?
            .into_iter()
            .map(|(_, v)| {
                decode(&v).map_err(|e| StorageError::Corrupt {
                    column: "receipts",
                    reason: e.to_string(),
                })
            })
            .collect()
    }
}
