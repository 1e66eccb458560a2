//! Pruning: deleting history older than a retained window, in small batches.
//!
//! Two independent horizons, each a watermark in [`Column::Meta`]:
//! * **blocks**: heights below [`lowest_block`] have no block, certificate, receipts or tx
//!   index entries any more;
//! * **state**: tree versions below [`lowest_state_version`] may be missing nodes, so no
//!   value or proof is served for them.
//!
//! Each step deletes at most about `max_keys` keys in one atomic batch, so a pruner can run
//! beside commits without stalling them, and a crash between steps leaves a consistent store:
//! every step is idempotent and the watermarks only move forward.

use crate::error::StorageError;
use crate::kv::{Column, Durability, KvStore, WriteBatch};
use jmt::storage::{Node, NodeKey};
use phalanx_types::{Block, Height, decode};

const LOWEST_BLOCK: &[u8] = b"lowest_block";
const LOWEST_STATE: &[u8] = b"lowest_state";

fn read_height(kv: &dyn KvStore, key: &[u8], default: Height) -> Result<Height, StorageError> {
    match kv.get(Column::Meta, key)? {
        None => Ok(default),
        Some(b) => <[u8; 8]>::try_from(b.as_slice())
            .map(u64::from_be_bytes)
            .map_err(|_| StorageError::Corrupt {
                column: "meta",
                reason: format!("{} is not 8 bytes", String::from_utf8_lossy(key)),
            }),
    }
}

/// The lowest height whose block is still stored (1 on a store that never pruned).
pub fn lowest_block(kv: &dyn KvStore) -> Result<Height, StorageError> {
    read_height(kv, LOWEST_BLOCK, 1)
}

/// The oldest state version whose tree is complete (0 on a store that never pruned).
pub fn lowest_state_version(kv: &dyn KvStore) -> Result<Height, StorageError> {
    read_height(kv, LOWEST_STATE, 0)
}

/// Stages the block watermark (also used by a node that starts from a snapshot).
pub fn stage_lowest_block(batch: &mut WriteBatch, height: Height) {
    batch.put(Column::Meta, LOWEST_BLOCK, height.to_be_bytes());
}

/// Stages the state watermark (also used by a node that starts from a snapshot).
pub fn stage_lowest_state(batch: &mut WriteBatch, version: Height) {
    batch.put(Column::Meta, LOWEST_STATE, version.to_be_bytes());
}

fn corrupt(column: &'static str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt {
        column,
        reason: e.to_string(),
    }
}

/// One step of block pruning: deletes whole heights from [`lowest_block`] up to (not
/// including) `below`, stopping at the first height boundary after `max_keys` deletions,
/// and moves the watermark in the same batch. Returns the heights pruned (0: done).
pub fn prune_blocks_step(
    kv: &dyn KvStore,
    below: Height,
    max_keys: usize,
) -> Result<u64, StorageError> {
    let start = lowest_block(kv)?;
    let mut h = start;
    let mut batch = WriteBatch::new();
    while h < below && batch.len() < max_keys {
        let hk = h.to_be_bytes();
        if let Some(raw) = kv.get(Column::Blocks, &hk)? {
            let block: Block = decode(&raw).map_err(|e| corrupt("blocks", e))?;
            batch.delete(Column::BlockIndex, block.hash().0);
            for tx in &block.txs {
                batch.delete(
                    Column::SenderIndex,
                    crate::blocks::sender_key(&tx.tx.sender_address(), tx.tx.nonce),
                );
            }
        }
        batch.delete(Column::Blocks, hk);
        batch.delete(Column::Certificates, hk);
        for (key, value) in kv.scan(Column::Receipts, &hk, None, usize::MAX)? {
            let receipt: phalanx_types::Receipt =
                decode(&value).map_err(|e| corrupt("receipts", e))?;
            batch.delete(Column::TxIndex, receipt.tx_hash.0);
            batch.delete(Column::Receipts, key);
        }
        h += 1;
    }
    if h == start {
        return Ok(0);
    }
    stage_lowest_block(&mut batch, h);
    kv.write(batch, Durability::Buffered)?;
    Ok(h - start)
}

/// What one step of state pruning removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StatePruned {
    /// Tree nodes deleted.
    pub nodes: usize,
    /// Versioned values deleted.
    pub values: usize,
}

impl StatePruned {
    /// Nothing was left to prune.
    pub fn is_empty(&self) -> bool {
        self.nodes == 0 && self.values == 0
    }
}

/// One step of state pruning towards keeping versions `>= keep_from` only: raises the state
/// watermark first (so readers get a clear "pruned" answer, never a half-deleted tree), then
/// deletes up to `max_keys` tree nodes that no version `>= keep_from` uses, and the values
/// that only such versions could read. `cursor` (empty at first) carries where the scan of
/// the stale-node index goes on between steps.
///
/// A node stale since version `s` is used by versions below `s` only. For a stale leaf, every
/// value of its key older than the newest one at or below `keep_from` is deleted too.
pub fn prune_state_step(
    kv: &dyn KvStore,
    keep_from: Height,
    max_keys: usize,
    cursor: &mut Vec<u8>,
) -> Result<StatePruned, StorageError> {
    if keep_from > lowest_state_version(kv)? {
        let mut mark = WriteBatch::new();
        stage_lowest_state(&mut mark, keep_from);
        kv.write(mark, Durability::Buffered)?;
    }
    let mut pruned = StatePruned::default();
    let mut batch = WriteBatch::new();
    for (key, _) in kv.scan(Column::StaleNodes, &[], Some(cursor), max_keys)? {
        let since = key
            .get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| corrupt("stale_nodes", "short key"))?;
        if since > keep_from {
            break;
        }
        let node_key: NodeKey = decode(&key[8..]).map_err(|e| corrupt("stale_nodes", e))?;
        let encoded = phalanx_types::encode(&node_key);
        if let Some(raw) = kv.get(Column::TreeNodes, &encoded)? {
            let node: Node = decode(&raw).map_err(|e| corrupt("tree_nodes", e))?;
            if let Node::Leaf(leaf) = node {
                pruned.values += stage_old_values(kv, &mut batch, &leaf.key_hash().0, keep_from)?;
            }
            batch.delete(Column::TreeNodes, encoded);
            pruned.nodes += 1;
        }
        *cursor = crate::kv::key_after(&key);
        batch.delete(Column::StaleNodes, key);
    }
    if !batch.is_empty() {
        kv.write(batch, Durability::Buffered)?;
    }
    Ok(pruned)
}

/// Stages the deletion of every value of `key_hash` older than its newest value at or below
/// `keep_from` (which versions `>= keep_from` still read). Returns how many.
fn stage_old_values(
    kv: &dyn KvStore,
    batch: &mut WriteBatch,
    key_hash: &[u8; 32],
    keep_from: Height,
) -> Result<usize, StorageError> {
    // Versions are stored inverted: from `keep_from`'s key, the first entry is the newest
    // version <= keep_from, and everything after it is older.
    let mut start = crate::state::value_key(&jmt::KeyHash(*key_hash), keep_from).to_vec();
    let mut n = 0;
    let mut first = true;
    loop {
        let page = kv.scan(Column::TreeValues, key_hash, Some(&start), 256)?;
        let done = page.len() < 256;
        for (k, _) in page {
            if first {
                first = false;
            } else {
                batch.delete(Column::TreeValues, k.clone());
                n += 1;
            }
            start = crate::kv::key_after(&k);
        }
        if done {
            return Ok(n);
        }
    }
}

/// What proves the configuration (validator set) in force from a height: the configuration
/// record and its proof at the block before, with that block's header and certificate. Saved
/// when a change takes effect, so light clients can walk validator-set changes from genesis
/// after the blocks and state versions involved are pruned.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SetProof {
    /// The encoded configuration record (the state value).
    pub config_raw: Vec<u8>,
    /// Its proof under the header's state root.
    pub proof: crate::StateProof,
    /// The header of the block before the height.
    pub header: phalanx_types::Header,
    /// That block's commit certificate.
    pub certificate: phalanx_types::CommitCertificate,
}

fn set_proof_key(height: Height) -> Vec<u8> {
    [&b"set_proof/"[..], &height.to_be_bytes()].concat()
}

/// Stages the [`SetProof`] of the configuration in force from `height`.
pub fn stage_set_proof(batch: &mut WriteBatch, height: Height, proof: &SetProof) {
    batch.put(
        Column::Meta,
        set_proof_key(height),
        phalanx_types::encode(proof),
    );
}

/// Stages deleting the [`SetProof`] saved for `height` (a rollback of the block before it).
pub fn stage_delete_set_proof(batch: &mut WriteBatch, height: Height) {
    batch.delete(Column::Meta, set_proof_key(height));
}

/// Every saved [`SetProof`], with the height each governs from, in height order.
pub fn set_proofs(kv: &dyn KvStore) -> Result<Vec<(Height, SetProof)>, StorageError> {
    let prefix = b"set_proof/";
    kv.scan(Column::Meta, prefix, None, usize::MAX)?
        .into_iter()
        .map(|(k, v)| {
            let height = k
                .get(prefix.len()..)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| corrupt("meta", "bad set proof key"))?;
            let proof = decode(&v).map_err(|e| corrupt("meta", e))?;
            Ok((height, proof))
        })
        .collect()
}

/// The saved [`SetProof`] of the configuration in force from `height`, if one was saved.
pub fn set_proof(kv: &dyn KvStore, height: Height) -> Result<Option<SetProof>, StorageError> {
    crate::blocks::read(kv, Column::Meta, &set_proof_key(height))
}
