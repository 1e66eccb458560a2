//! Contract state and its authenticated commitment.
//!
//! State is kept twice, in one atomic batch per block:
//! * flat, in [`Column::State`], for fast reads and ordered prefix scans by contracts;
//! * in a Jellyfish Merkle tree (the `jmt` crate, as used by Diem/Aptos and Penumbra) whose
//!   version is the block height. Updating it touches only the paths of changed keys, so its
//!   cost grows with the keys changed, not with total state. Old versions stay readable, so a
//!   proof can be served at any committed height.
//!
//! Keys are hashed with the state-tree domain of blake3 before entering the tree.

use crate::blocks::read;
use crate::error::StorageError;
use crate::kv::{Column, Durability, KvPair, KvStore, WriteBatch};
use jmt::proof::SparseMerkleProof;
use jmt::storage::{LeafNode, Node, NodeKey, TreeReader, TreeUpdateBatch};
use jmt::{JellyfishMerkleTree, KeyHash, OwnedValue, RootHash, SimpleHasher, Version};
use phalanx_types::{Domain, Hash, Height, encode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A block's state writes: key → new value, or `None` to delete. Ordered, so applying it is
/// deterministic.
pub type StateChanges = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The tree's hash function: blake3 keyed with the state-tree domain.
#[derive(Clone)]
pub struct StateHasher(blake3::Hasher);

impl SimpleHasher for StateHasher {
    fn new() -> Self {
        StateHasher(Domain::StateTree.hasher())
    }
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    fn finalize(self) -> [u8; 32] {
        *self.0.finalize().as_bytes()
    }
}

fn key_hash(key: &[u8]) -> KeyHash {
    KeyHash::with::<StateHasher>(key)
}

/// A Merkle proof that a key has a value, or has none, under a state root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateProof(SparseMerkleProof<StateHasher>);

/// Checks `proof` shows `key` ↦ `value` (or absence, for `None`) under `root`.
pub fn verify_state_proof(
    root: Hash,
    key: &[u8],
    value: Option<&[u8]>,
    proof: &StateProof,
) -> Result<(), StorageError> {
    proof
        .0
        .verify(RootHash(root.0), key_hash(key), value)
        .map_err(|e| StorageError::InvalidProof(e.to_string()))
}

struct Reader<'a> {
    kv: &'a dyn KvStore,
}

/// A reader for which the tree at `base` is the empty tree (restoring a state from scratch).
struct EmptyBase<'a> {
    inner: Reader<'a>,
    base: Option<NodeKey>,
}

impl TreeReader for EmptyBase<'_> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        if self.base.as_ref() == Some(node_key) {
            return Ok(Some(Node::Null));
        }
        self.inner.get_node_option(node_key)
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        self.inner.get_value_option(max_version, key_hash)
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        Ok(None)
    }
}

/// A tree reader that owns its handle on the store (jmt's iterator wants one).
pub(crate) struct OwnedReader {
    kv: Arc<dyn KvStore>,
}

impl OwnedReader {
    pub(crate) fn new(kv: Arc<dyn KvStore>) -> OwnedReader {
        OwnedReader { kv }
    }
}

impl TreeReader for OwnedReader {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        Reader { kv: &*self.kv }.get_node_option(node_key)
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        Reader { kv: &*self.kv }.get_value_option(max_version, key_hash)
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        Ok(None)
    }
}

pub(crate) fn value_key(key_hash: &KeyHash, version: Version) -> [u8; 40] {
    // Versions are stored inverted so the newest version <= max sorts first.
    let mut k = [0u8; 40];
    k[..32].copy_from_slice(&key_hash.0);
    k[32..].copy_from_slice(&(u64::MAX - version).to_be_bytes());
    k
}

/// jmt's batched insert of `set` at `version` over the tree at `version - 1`.
fn batched_insert<R: TreeReader>(
    reader: &R,
    set: Vec<(KeyHash, OwnedValue)>,
    version: Version,
) -> Result<(RootHash, TreeUpdateBatch), StorageError> {
    let tree = JellyfishMerkleTree::<_, StateHasher>::new(reader);
    let (roots, update) = tree
        .batch_put_value_sets(vec![set], None, version)
        .map_err(tree_err)?;
    let root = roots
        .first()
        .copied()
        .ok_or_else(|| tree_err("batched tree update returned no root"))?;
    Ok((root, update))
}

/// The stale-node index key: the version since which `node` is stale, big-endian (so a scan
/// meets the oldest first), then the node key.
pub(crate) fn stale_key(since: Version, node: &NodeKey) -> Vec<u8> {
    let mut k = since.to_be_bytes().to_vec();
    k.extend_from_slice(&encode(node));
    k
}

/// The root's (empty) nibble path. jmt does not export a constructor, so it is decoded from
/// its serde form (the number of nibbles, then the bytes), which is the same in every format.
pub(crate) fn empty_path() -> Result<jmt::storage::NibblePath, StorageError> {
    phalanx_types::decode(&encode(&(0usize, Vec::<u8>::new()))).map_err(tree_err)
}

fn tree_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::Tree(e.to_string())
}

impl TreeReader for Reader<'_> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        Ok(read(self.kv, Column::TreeNodes, &encode(node_key))?)
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        let start = value_key(&key_hash, max_version);
        let found = self
            .kv
            .scan(Column::TreeValues, &key_hash.0, Some(&start), 1)?;
        match found.into_iter().next() {
            None => Ok(None),
            Some((_, v)) => Ok(phalanx_types::decode::<Option<Vec<u8>>>(&v).map_err(|e| {
                StorageError::Corrupt {
                    column: "tree_values",
                    reason: e.to_string(),
                }
            })?),
        }
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        // Only used by jmt's snapshot restore, which Phalanx does not use (sync replays blocks).
        Ok(None)
    }
}

/// How [`StateStore::tree_update`] inserts a block's changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TreeUpdate {
    /// Batched when the block only writes; key by key when it deletes.
    Batched,
    /// Always key by key (the reference the batched path is tested against).
    #[cfg_attr(not(test), allow(dead_code))]
    KeyByKey,
}

/// Contract state: flat latest values plus the versioned Merkle tree.
#[derive(Clone)]
pub struct StateStore {
    kv: Arc<dyn KvStore>,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateStore")
    }
}

impl StateStore {
    /// State over `kv`.
    pub fn new(kv: Arc<dyn KvStore>) -> StateStore {
        StateStore { kv }
    }

    /// The latest committed value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.kv.get(Column::State, key)
    }

    /// Up to `limit` latest committed pairs under `prefix`, from `start`, in key order.
    pub fn scan(
        &self,
        prefix: &[u8],
        start: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KvPair>, StorageError> {
        self.kv.scan(Column::State, prefix, start, limit)
    }

    /// Computes the state root at `version` after applying `changes` on top of the tree at
    /// `version - 1` (or the empty tree for version 0), and stages every write (tree nodes,
    /// versioned values, flat state) into `batch`. Nothing is written until the caller writes
    /// the batch, so a proposed block can be executed and discarded.
    pub fn stage_commit(
        &self,
        batch: &mut WriteBatch,
        version: Height,
        changes: &StateChanges,
    ) -> Result<Hash, StorageError> {
        let (root, update) = self.tree_update(version, changes, TreeUpdate::Batched)?;
        for (node_key, node) in update.node_batch.nodes() {
            batch.put(Column::TreeNodes, encode(node_key), encode(node));
        }
        for ((v, kh), value) in update.node_batch.values() {
            batch.put(Column::TreeValues, value_key(kh, *v), encode(value));
        }
        for stale in &update.stale_node_index_batch {
            batch.put(
                Column::StaleNodes,
                stale_key(stale.stale_since_version, &stale.node_key),
                Vec::new(),
            );
        }
        // An update that changes nothing (an empty block) copies the root to the new version
        // without marking the old one stale: index it, or every empty block leaves a node
        // behind for good. (A duplicate entry is harmless: the pruner deletes what exists.)
        if version > 0 {
            let old_root = NodeKey::new(version - 1, empty_path()?);
            batch.put(
                Column::StaleNodes,
                stale_key(version, &old_root),
                Vec::new(),
            );
        }
        for (k, v) in changes {
            match v {
                Some(v) => {
                    // A key already in the state has its preimage: rewriting it on every
                    // update would only leave garbage for compaction (measured: tens of MiB
                    // over minutes under load).
                    if self.kv.get(Column::State, k)?.is_none() {
                        batch.put(Column::Preimages, key_hash(k).0, k.clone());
                    }
                    batch.put(Column::State, k.clone(), v.clone());
                }
                None => batch.delete(Column::State, k.clone()),
            }
        }
        Ok(Hash(root.0))
    }

    /// Writes `entries` as the whole state at `version` into a store that holds no state:
    /// the flat state, the keys' preimages and the tree (built from empty at `version`).
    /// The tree is built in memory first: nothing is written unless its root is `expected`
    /// (the root of a header the caller trusts). All entries are held in memory meanwhile.
    pub fn restore(
        &self,
        version: Height,
        entries: Vec<(Vec<u8>, Vec<u8>)>,
        expected: Hash,
    ) -> Result<(), StorageError> {
        let set: Vec<(KeyHash, OwnedValue)> = entries
            .iter()
            .map(|(k, v)| (key_hash(k), v.clone()))
            .collect();
        // jmt's batched insert builds on the previous version's root: present it as empty.
        let reader = EmptyBase {
            inner: Reader { kv: &*self.kv },
            base: version
                .checked_sub(1)
                .map(|v| empty_path().map(|p| NodeKey::new(v, p)))
                .transpose()?,
        };
        let (root, update) = batched_insert(&reader, set, version)?;
        if Hash(root.0) != expected {
            return Err(StorageError::InvalidProof(format!(
                "the restored state has root {}, not {expected}",
                Hash(root.0)
            )));
        }
        let mut batch = WriteBatch::new();
        let flush = |batch: &mut WriteBatch| -> Result<(), StorageError> {
            if batch.len() >= 20_000 {
                self.kv.write(std::mem::take(batch), Durability::Buffered)?;
            }
            Ok(())
        };
        for (k, v) in entries {
            batch.put(Column::Preimages, key_hash(&k).0, k.clone());
            batch.put(Column::State, k, v);
            flush(&mut batch)?;
        }
        for (node_key, node) in update.node_batch.nodes() {
            batch.put(Column::TreeNodes, encode(node_key), encode(node));
            flush(&mut batch)?;
        }
        for ((v, kh), value) in update.node_batch.values() {
            batch.put(Column::TreeValues, value_key(kh, *v), encode(value));
            flush(&mut batch)?;
        }
        self.kv.write(batch, Durability::Sync)?;
        Ok(())
    }

    /// Records the preimage of every key in the flat state (stores written before preimages
    /// were kept); idempotent. Returns how many keys it saw.
    pub fn backfill_preimages(&self) -> Result<u64, StorageError> {
        let mut start: Option<Vec<u8>> = None;
        let mut n = 0;
        loop {
            let page = self.kv.scan(Column::State, &[], start.as_deref(), 10_000)?;
            let Some((last, _)) = page.last() else {
                return Ok(n);
            };
            start = Some(crate::kv::key_after(last));
            let mut batch = WriteBatch::new();
            for (k, _) in &page {
                batch.put(Column::Preimages, key_hash(k).0, k.clone());
            }
            n += page.len() as u64;
            self.kv.write(batch, Durability::Buffered)?;
        }
    }

    /// The tree update of `version`: the new root and the nodes and values to write.
    ///
    /// A block that only writes (the common case: transfers, calls) goes through jmt's batched
    /// insert, which builds each touched node once and hashes it once. Inserting key by key
    /// re-hashes every node on the path for every key, and that was most of a block's state-root
    /// cost (a 5,000-transfer block changes 10,000 keys). Deletions are only supported key by
    /// key. Both give the same tree; a property test below compares them over random histories.
    fn tree_update(
        &self,
        version: Height,
        changes: &StateChanges,
        how: TreeUpdate,
    ) -> Result<(RootHash, TreeUpdateBatch), StorageError> {
        let reader = Reader { kv: &*self.kv };
        let tree = JellyfishMerkleTree::<_, StateHasher>::new(&reader);
        let writes_only = !changes.is_empty() && changes.values().all(Option::is_some);
        // jmt's batched insert needs the previous version's root; key by key, a missing one
        // (a store whose first version is not 0) reads as the empty tree.
        let has_base = version == 0
            || tree
                .get_root_hash_option(version - 1)
                .map_err(tree_err)?
                .is_some();
        if how == TreeUpdate::Batched && writes_only && has_base {
            let set = changes
                .iter()
                .filter_map(|(k, v)| Some((key_hash(k), v.clone()?)))
                .collect();
            batched_insert(&reader, set, version)
        } else {
            let value_set = changes.iter().map(|(k, v)| (key_hash(k), v.clone()));
            tree.put_value_set(value_set, version).map_err(tree_err)
        }
    }

    /// The state root at `version`.
    pub fn root(&self, version: Height) -> Result<Hash, StorageError> {
        let reader = Reader { kv: &*self.kv };
        let tree = JellyfishMerkleTree::<_, StateHasher>::new(&reader);
        tree.get_root_hash(version)
            .map(|r| Hash(r.0))
            .map_err(tree_err)
    }

    /// The value of `key` at `version` (a past height's state), without a proof.
    pub fn get_at(&self, key: &[u8], version: Height) -> Result<Option<Vec<u8>>, StorageError> {
        let reader = Reader { kv: &*self.kv };
        let tree = JellyfishMerkleTree::<_, StateHasher>::new(&reader);
        tree.get(key_hash(key), version).map_err(tree_err)
    }

    /// The value of `key` at `version` with a proof against that version's root.
    pub fn get_with_proof(
        &self,
        key: &[u8],
        version: Height,
    ) -> Result<(Option<Vec<u8>>, StateProof), StorageError> {
        let reader = Reader { kv: &*self.kv };
        let tree = JellyfishMerkleTree::<_, StateHasher>::new(&reader);
        let (value, proof) = tree
            .get_with_proof(key_hash(key), version)
            .map_err(tree_err)?;
        Ok((value, StateProof(proof)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;
    use proptest::prelude::*;

    /// Commits `changes` at `version` the way `how` says, returning the root.
    fn commit(
        store: &StateStore,
        version: Height,
        changes: &StateChanges,
        how: TreeUpdate,
    ) -> Hash {
        let (root, update) = store.tree_update(version, changes, how).unwrap();
        let mut batch = WriteBatch::new();
        for (node_key, node) in update.node_batch.nodes() {
            batch.put(Column::TreeNodes, encode(node_key), encode(node));
        }
        for ((v, kh), value) in update.node_batch.values() {
            batch.put(Column::TreeValues, value_key(kh, *v), encode(value));
        }
        store.kv.write(batch, Durability::Buffered).unwrap();
        Hash(root.0)
    }

    /// A block's changes over a small key space, so later blocks overwrite and delete keys
    /// that earlier ones wrote. About a third of the blocks only write.
    fn block() -> impl Strategy<Value = StateChanges> {
        let value = prop_oneof![
            3 => proptest::collection::vec(any::<u8>(), 0..8).prop_map(Some),
            1 => Just(None),
        ];
        let writes = proptest::collection::btree_map(0u16..300, value.clone(), 0..60);
        let writes_only = proptest::collection::btree_map(
            0u16..300,
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(Some),
            1..60,
        );
        prop_oneof![writes, writes_only].prop_map(|m| {
            m.into_iter()
                .map(|(k, v)| (k.to_be_bytes().to_vec(), v))
                .collect()
        })
    }

    /// Empty blocks change nothing, yet each gets a root of its own: pruning must still
    /// reclaim them (jmt does not mark the copied root stale).
    #[test]
    fn empty_versions_leave_nothing_behind() {
        let kv: Arc<MemoryStore> = Arc::new(MemoryStore::new());
        let store = StateStore::new(kv.clone());
        let mut root = Hash::ZERO;
        for version in 0..=20u64 {
            let changes: StateChanges = if version == 0 {
                [
                    (b"a".to_vec(), Some(b"1".to_vec())),
                    (b"b".to_vec(), Some(b"2".to_vec())),
                ]
                .into()
            } else {
                StateChanges::new()
            };
            let mut batch = WriteBatch::new();
            root = store.stage_commit(&mut batch, version, &changes).unwrap();
            kv.write(batch, Durability::Buffered).unwrap();
        }
        let nodes = |kv: &MemoryStore| {
            kv.scan(Column::TreeNodes, &[], None, usize::MAX)
                .unwrap()
                .len()
        };
        let before = nodes(&kv);
        let mut cursor = Vec::new();
        while !crate::prune::prune_state_step(&*kv, 20, 1000, &mut cursor)
            .unwrap()
            .is_empty()
        {}
        // Version 20: a root over two leaves.
        assert_eq!(nodes(&kv), 3, "{before} nodes before pruning");
        assert_eq!(store.root(20).unwrap(), root);
        assert_eq!(store.get_at(b"b", 20).unwrap(), Some(b"2".to_vec()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The batched insert builds the same tree as key-by-key insertion: the same root at
        /// every version, and every key readable with a valid proof at every version.
        #[test]
        fn batched_tree_update_matches_key_by_key(
            first in prop_oneof![3 => Just(0u64), 1 => 1u64..4],
            blocks in proptest::collection::vec(block(), 1..12),
        ) {
            // A store that starts above version 0 starts with writes (genesis always has
            // some): jmt cannot give an empty tree a root without an earlier one.
            prop_assume!(first == 0 || blocks[0].values().any(Option::is_some));
            let batched = StateStore::new(Arc::new(MemoryStore::new()));
            let reference = StateStore::new(Arc::new(MemoryStore::new()));
            let mut expected: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            // Versions start at `first`: a store may begin above 0 (no earlier root at all).
            for (version, changes) in (first..).zip(&blocks) {
                let a = commit(&batched, version, changes, TreeUpdate::Batched);
                let b = commit(&reference, version, changes, TreeUpdate::KeyByKey);
                prop_assert_eq!(a, b, "roots differ at version {}", version);
                for (k, v) in changes {
                    match v {
                        Some(v) => expected.insert(k.clone(), v.clone()),
                        None => expected.remove(k),
                    };
                }
                for k in (0u16..300).step_by(7).map(|k| k.to_be_bytes().to_vec()) {
                    let (value, proof) = batched.get_with_proof(&k, version).unwrap();
                    prop_assert_eq!(value.as_ref(), expected.get(&k));
                    prop_assert!(verify_state_proof(a, &k, value.as_deref(), &proof).is_ok());
                }
            }
        }

        /// Pruning keeps every retained version whole: after pruning below `keep_from`, every
        /// key reads its value with a valid proof at every version from `keep_from` on, and
        /// the tree holds fewer nodes than before. Versions below `keep_from` report pruned.
        #[test]
        fn pruning_keeps_retained_versions(
            blocks in proptest::collection::vec(block(), 2..14),
            keep_back in 0usize..4,
            step in 1usize..40,
            restart_after in 0usize..6,
        ) {
            let kv: Arc<MemoryStore> = Arc::new(MemoryStore::new());
            let store = StateStore::new(kv.clone());
            // Version 0 always writes (as genesis does).
            let mut history = vec![BTreeMap::new()];
            let mut expected: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            let mut roots = Vec::new();
            let genesis: StateChanges = [(b"genesis".to_vec(), Some(b"g".to_vec()))].into();
            for (version, changes) in std::iter::once(&genesis).chain(&blocks).enumerate() {
                let mut batch = WriteBatch::new();
                roots.push(store.stage_commit(&mut batch, version as u64, changes).unwrap());
                kv.write(batch, Durability::Buffered).unwrap();
                for (k, v) in changes {
                    match v {
                        Some(v) => expected.insert(k.clone(), v.clone()),
                        None => expected.remove(k),
                    };
                }
                history.push(expected.clone());
            }
            history.remove(0);
            let latest = blocks.len() as u64;
            let keep_from = latest.saturating_sub(keep_back as u64);
            let nodes_before = kv.scan(Column::TreeNodes, &[], None, usize::MAX).unwrap().len();
            let mut cursor = Vec::new();
            for steps in 0.. {
                // A restart (a crash between two steps) loses the in-memory cursor.
                if steps == restart_after {
                    cursor.clear();
                }
                let pruned = crate::prune::prune_state_step(&*kv, keep_from, step, &mut cursor).unwrap();
                if pruned.is_empty() {
                    break;
                }
            }
            prop_assert_eq!(crate::prune::lowest_state_version(&*kv).unwrap(), keep_from);
            let nodes_after = kv.scan(Column::TreeNodes, &[], None, usize::MAX).unwrap().len();
            prop_assert!(nodes_after <= nodes_before);
            if keep_from > 1 {
                prop_assert!(nodes_after < nodes_before, "nothing pruned");
            }
            for version in keep_from..=latest {
                let state = &history[version as usize];
                prop_assert_eq!(store.root(version).unwrap(), roots[version as usize]);
                for k in (0u16..300).map(|k| k.to_be_bytes().to_vec()).chain([b"genesis".to_vec()]) {
                    let (value, proof) = store.get_with_proof(&k, version).unwrap();
                    prop_assert_eq!(value.as_ref(), state.get(&k), "key {:?} at {}", k, version);
                    prop_assert!(verify_state_proof(roots[version as usize], &k, value.as_deref(), &proof).is_ok());
                }
            }
            // The next version still builds on the pruned tree.
            let mut batch = WriteBatch::new();
            let next: StateChanges = [(b"next".to_vec(), Some(b"n".to_vec()))].into();
            store.stage_commit(&mut batch, latest + 1, &next).unwrap();
        }
    }
}
