//! Rolling the tip back by one block (`phalanx rollback`).
//!
//! A committed block is final: rolling back never changes the chain, only what this store
//! holds. [`rollback_tip`] rewinds the tip block `H` in one synced batch:
//! * the state: the flat values of every key block `H` touched go back to their values at
//!   `H - 1` (read from the state tree, which keeps version `H - 1`), and the tree's version
//!   `H` (its nodes, versioned values and stale-node entries) is deleted, so the tree is as
//!   it was before `H`;
//! * the block store: block, certificate, receipts, tx and sender index entries, the latest
//!   height, and the validator-set proof `H` saved;
//! * the removed block and its certificate are kept as a **pending replay**
//!   ([`rolled_back`]): the node re-executes that exact block on its next start and commits
//!   it only if the result matches the certified header (see `Chain::replay_rolled_back`).
//!
//! While a replay is pending, the consensus log holds [`WAL_SENTINEL`], which does not decode
//! as a log entry: a binary from before rollback existed, which would ignore the pending
//! block (and, as a single validator, propose another at `H`), refuses to open the store
//! instead. The replay removes it.
//!
//! Which keys block `H` touched is read from the tree: the leaves written at version `H`
//! (new and changed keys) and the leaves it made stale (changed and deleted keys). The keys
//! themselves come from the preimage index.

use crate::blocks::{BlockStore, read, sender_key};
use crate::error::StorageError;
use crate::kv::{Column, Durability, KvStore, WriteBatch};
use crate::state::{StateStore, value_key};
use jmt::KeyHash;
use jmt::storage::{Node, NodeKey};
use phalanx_types::{Block, CommitCertificate, Hash, Height, decode, encode};
use std::collections::BTreeSet;
use std::sync::Arc;

const PENDING: &[u8] = b"rolled_back/";

/// The [`Column::Wal`] key of the rollback sentinel (above any log sequence number).
pub const WAL_SENTINEL: [u8; 8] = u64::MAX.to_be_bytes();

/// The sentinel's value: not a log entry in any encoding a node has used.
const SENTINEL_VALUE: &[u8] = b"\xffphalanx rollback pending: start a release that replays it";

fn pending_key(height: Height) -> Vec<u8> {
    [PENDING, &height.to_be_bytes()].concat()
}

/// What [`rollback_tip`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolledBack {
    /// The height rolled back (the new tip is one below).
    pub height: Height,
    /// The hash of the block rolled back (kept for replay).
    pub hash: Hash,
    /// The state root the store is back at (version `height - 1`).
    pub state_root: Hash,
    /// How many state keys were restored.
    pub keys: usize,
}

fn refuse(reason: String) -> StorageError {
    StorageError::Refused(reason)
}

fn corrupt(column: &'static str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt {
        column,
        reason: e.to_string(),
    }
}

/// Rewinds the tip block (see the module docs). Refuses at height 0, and when the block or
/// state version below the tip was pruned.
pub fn rollback_tip(kv: &Arc<dyn KvStore>) -> Result<RolledBack, StorageError> {
    let blocks = BlockStore::new(kv.clone());
    let state = StateStore::new(kv.clone());
    let height = blocks.latest_height()?;
    if height == 0 {
        return Err(refuse("the store holds no block to roll back".into()));
    }
    let below = height - 1;
    if crate::prune::lowest_state_version(&**kv)? > below {
        return Err(refuse(format!(
            "the state of height {below} was pruned; nothing to roll back to"
        )));
    }
    if below > 0 && blocks.block(below)?.is_none() {
        return Err(refuse(format!(
            "block {below} is not stored (pruned, or the node started from a snapshot there)"
        )));
    }
    let block = blocks
        .block(height)?
        .ok_or_else(|| corrupt("blocks", format!("tip block {height} missing")))?;
    let certificate = blocks
        .certificate(height)?
        .ok_or_else(|| corrupt("certificates", format!("certificate {height} missing")))?;
    // Read before anything is written: a failure after the write would make a rewind that
    // happened look failed, and a retry rewind a second block.
    let state_root = state.root(below)?;
    let mut batch = WriteBatch::new();
    let keys = stage_state_rewind(&**kv, &state, &mut batch, height)?;
    stage_block_removal(&**kv, &mut batch, &block)?;
    batch.put(
        Column::Meta,
        pending_key(height),
        encode(&(&block, &certificate)),
    );
    batch.put(Column::Wal, WAL_SENTINEL, SENTINEL_VALUE);
    kv.write(batch, Durability::Sync)?;
    Ok(RolledBack {
        height,
        hash: block.hash(),
        state_root,
        keys,
    })
}

/// Stages the state's return from version `height` to `height - 1`. Returns the number of
/// keys restored.
fn stage_state_rewind(
    kv: &dyn KvStore,
    state: &StateStore,
    batch: &mut WriteBatch,
    height: Height,
) -> Result<usize, StorageError> {
    let mut touched: BTreeSet<[u8; 32]> = BTreeSet::new();
    // Every node written at version `height`. A node key is its version, then its path, so
    // the encoded version is a prefix of exactly these keys.
    for (key, raw) in kv.scan(Column::TreeNodes, &encode(&height), None, usize::MAX)? {
        let node_key: NodeKey = decode(&key).map_err(|e| corrupt("tree_nodes", e))?;
        if node_key.version() != height {
            continue;
        }
        if let Node::Leaf(leaf) = decode(&raw).map_err(|e| corrupt("tree_nodes", e))? {
            touched.insert(leaf.key_hash().0);
        }
        batch.delete(Column::TreeNodes, key);
    }
    // Every node version `height` replaced: they are live again.
    for (key, _) in kv.scan(Column::StaleNodes, &height.to_be_bytes(), None, usize::MAX)? {
        let node_key: NodeKey = decode(&key[8..]).map_err(|e| corrupt("stale_nodes", e))?;
        if let Some(raw) = kv.get(Column::TreeNodes, &encode(&node_key))?
            && let Node::Leaf(leaf) = decode(&raw).map_err(|e| corrupt("tree_nodes", e))?
        {
            touched.insert(leaf.key_hash().0);
        }
        batch.delete(Column::StaleNodes, key);
    }
    for hash in &touched {
        let key = kv.get(Column::Preimages, hash)?.ok_or_else(|| {
            refuse(format!(
                "the store has no key for state hash {} (written by a release that kept no \
                 preimages): start the node once with this release, which records them, then \
                 roll back",
                Hash(*hash).to_hex()
            ))
        })?;
        match state.get_at(&key, height - 1)? {
            Some(value) => batch.put(Column::State, key, value),
            None => batch.delete(Column::State, key),
        }
        batch.delete(Column::TreeValues, value_key(&KeyHash(*hash), height));
    }
    Ok(touched.len())
}

/// Stages the removal of the tip `block` from the block store.
fn stage_block_removal(
    kv: &dyn KvStore,
    batch: &mut WriteBatch,
    block: &Block,
) -> Result<(), StorageError> {
    let height = block.height();
    let hk = height.to_be_bytes();
    batch.delete(Column::Blocks, hk);
    batch.delete(Column::BlockIndex, block.hash().0);
    batch.delete(Column::Certificates, hk);
    for tx in &block.txs {
        batch.delete(
            Column::SenderIndex,
            sender_key(&tx.tx.sender_address(), tx.tx.nonce),
        );
    }
    for (key, value) in kv.scan(Column::Receipts, &hk, None, usize::MAX)? {
        let receipt: phalanx_types::Receipt = decode(&value).map_err(|e| corrupt("receipts", e))?;
        batch.delete(Column::TxIndex, receipt.tx_hash.0);
        batch.delete(Column::Receipts, key);
    }
    crate::prune::stage_delete_set_proof(batch, height + 1);
    crate::blocks::stage_latest_height(batch, height - 1);
    Ok(())
}

/// The block rolled back at `height` and its certificate, if it waits to be replayed.
pub fn rolled_back(
    kv: &dyn KvStore,
    height: Height,
) -> Result<Option<(Block, CommitCertificate)>, StorageError> {
    read(kv, Column::Meta, &pending_key(height))
}

/// The heights of every block waiting to be replayed, in order.
pub fn pending(kv: &dyn KvStore) -> Result<Vec<Height>, StorageError> {
    kv.scan(Column::Meta, PENDING, None, usize::MAX)?
        .into_iter()
        .map(|(k, _)| {
            k.get(PENDING.len()..)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| corrupt("meta", "bad rolled-back key"))
        })
        .collect()
}

/// Stages forgetting the pending replay at `height` (with the commit that replays it), and
/// the sentinel with the last one.
pub fn stage_replayed(batch: &mut WriteBatch, height: Height, last: bool) {
    batch.delete(Column::Meta, pending_key(height));
    if last {
        batch.delete(Column::Wal, WAL_SENTINEL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;
    use crate::kv::KvPair;
    use crate::state::StateChanges;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn commit(kv: &Arc<dyn KvStore>, version: Height, changes: &StateChanges) -> Hash {
        let mut batch = WriteBatch::new();
        let root = StateStore::new(kv.clone())
            .stage_commit(&mut batch, version, changes)
            .unwrap();
        kv.write(batch, Durability::Buffered).unwrap();
        root
    }

    fn all(kv: &Arc<dyn KvStore>, col: Column) -> Vec<KvPair> {
        kv.scan(col, &[], None, usize::MAX).unwrap()
    }

    /// A block's changes over a small key space: writes, overwrites and deletes.
    fn changes() -> impl Strategy<Value = StateChanges> {
        let value = prop_oneof![
            3 => proptest::collection::vec(any::<u8>(), 0..6).prop_map(Some),
            1 => Just(None),
        ];
        proptest::collection::btree_map(0u16..200, value, 0..40).prop_map(|m| {
            m.into_iter()
                .map(|(k, v)| (k.to_be_bytes().to_vec(), v))
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Rewinding version `n` leaves the store as if `n` had never been committed: the
        /// same flat state, tree nodes and stale-node index as a store that stopped at
        /// `n - 1`, no value of version `n`, and every key readable with a proof at `n - 1`.
        /// Committing `n` again gives the same root as the first time.
        #[test]
        fn rewinding_a_version_restores_the_one_below(
            history in proptest::collection::vec(changes(), 1..10),
        ) {
            let genesis: StateChanges = [(b"genesis".to_vec(), Some(b"g".to_vec()))].into();
            let versions: Vec<&StateChanges> = std::iter::once(&genesis).chain(&history).collect();
            let n = (versions.len() - 1) as Height;
            let full: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
            let short: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
            let mut roots = Vec::new();
            for (v, c) in versions.iter().enumerate() {
                roots.push(commit(&full, v as Height, c));
                if (v as Height) < n {
                    commit(&short, v as Height, c);
                }
            }
            let state = StateStore::new(full.clone());
            let mut batch = WriteBatch::new();
            stage_state_rewind(&*full, &state, &mut batch, n).unwrap();
            full.write(batch, Durability::Sync).unwrap();

            for col in [Column::State, Column::TreeNodes, Column::StaleNodes] {
                prop_assert_eq!(all(&full, col), all(&short, col), "{}", col.name());
            }
            // Values: those of versions below n are untouched; none of version n is left
            // but a deletion's marker for a key absent below n (it reads as absence).
            let at_n = |(k, _): &KvPair| k[32..] == (u64::MAX - n).to_be_bytes();
            let (top, rest): (Vec<KvPair>, Vec<KvPair>) =
                all(&full, Column::TreeValues).into_iter().partition(at_n);
            prop_assert_eq!(rest, all(&short, Column::TreeValues));
            for (_, v) in top {
                prop_assert_eq!(phalanx_types::decode::<Option<Vec<u8>>>(&v).unwrap(), None);
            }
            let mut expected: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for c in &versions[..versions.len() - 1] {
                for (k, v) in *c {
                    match v {
                        Some(v) => expected.insert(k.clone(), v.clone()),
                        None => expected.remove(k),
                    };
                }
            }
            let below = n - 1;
            prop_assert_eq!(state.root(below).unwrap(), roots[below as usize]);
            for k in (0u16..200).map(|k| k.to_be_bytes().to_vec()) {
                let (value, proof) = state.get_with_proof(&k, below).unwrap();
                prop_assert_eq!(value.as_ref(), expected.get(&k));
                prop_assert!(crate::verify_state_proof(roots[below as usize], &k, value.as_deref(), &proof).is_ok());
                let flat = state.get(&k).unwrap();
                prop_assert_eq!(flat.as_ref(), expected.get(&k));
            }
            // The same block commits again to the same root.
            prop_assert_eq!(commit(&full, n, versions[n as usize]), roots[n as usize]);
        }
    }
}
