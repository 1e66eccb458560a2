//! State snapshots: the whole state at a height, cut into chunks that each verify on their own
//! against that height's state root.
//!
//! **Chunks are subtrees.** The state tree is a sparse Merkle tree over key hashes. A
//! snapshot of depth `d` has `2^d` chunks; chunk `i` holds every key whose hash starts with
//! the `d` bits of `i` (most significant first), that is the whole subtree under that path.
//! With it come the `d` subtrees beside the path (their hashes, and whether each is empty, a
//! single leaf or more). A verifier recomputes the chunk's subtree from its entries, folds the
//! siblings up to the root and compares with the root in the height's certified header. A
//! chunk with a changed, missing or extra entry gives another root; since the chunks' paths
//! partition the key space, chunks that all verify hold the whole state, and nothing else.
//!
//! **Hashing** is jmt's binary view of its tree: an empty subtree is jmt's placeholder, a
//! subtree holding one leaf is that leaf's hash (jmt lifts lone leaves), and any other subtree
//! hashes its two halves with jmt's internal-node domain. Tests check every root against jmt's.

use crate::error::StorageError;
use crate::kv::{Column, KvStore};
use crate::state::{OwnedReader, StateHasher};
use jmt::storage::{Node, NodeKey, TreeReader};
use jmt::{JellyfishMerkleIterator, KeyHash, SimpleHasher, ValueHash};
use phalanx_types::{Hash, Height, decode};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Version of the snapshot format.
pub const SNAPSHOT_FORMAT: u32 = 1;
/// Keys a chunk holds on average (the depth is chosen for it).
pub const TARGET_CHUNK_KEYS: u64 = 4_096;
/// Deepest split: 65,536 chunks.
pub const MAX_DEPTH: u8 = 16;
/// Largest chunk a node builds or accepts (below the 16 MiB any decode accepts).
pub const MAX_CHUNK_BYTES: usize = 12 * 1024 * 1024;

/// Bytes of a chunk's encoding besides its entries' keys and values, at most.
const CHUNK_OVERHEAD: usize = 4096;

const PLACEHOLDER: [u8; 32] = *b"SPARSE_MERKLE_PLACEHOLDER_HASH__";

/// Why a snapshot or one of its chunks is refused.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The chunk does not belong to this snapshot or is malformed.
    #[error("malformed chunk {index}: {reason}")]
    Malformed {
        /// Chunk index.
        index: u32,
        /// What is wrong.
        reason: String,
    },
    /// The chunk's entries and siblings do not give the state root.
    #[error("chunk {index} does not prove against state root {root}")]
    WrongRoot {
        /// Chunk index.
        index: u32,
        /// The expected root.
        root: Hash,
    },
    /// A chunk would exceed [`MAX_CHUNK_BYTES`]: split deeper.
    #[error("chunk {index} would exceed {MAX_CHUNK_BYTES} bytes")]
    ChunkTooLarge {
        /// Chunk index.
        index: u32,
    },
    /// Reading the store failed (or a version is missing: pruned).
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What a snapshot is: which state, and how it is cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`SNAPSHOT_FORMAT`].
    pub format: u32,
    /// The height whose post-state this is.
    pub height: Height,
    /// The state root in that height's header.
    pub state_root: Hash,
    /// Chunks are the subtrees at this depth: there are `2^depth`.
    pub depth: u8,
    /// Keys in the state.
    pub keys: u64,
}

impl Manifest {
    /// Number of chunks.
    pub fn chunks(&self) -> u32 {
        1u32 << self.depth.min(MAX_DEPTH)
    }
}

/// A chunk's `(key, value)` pairs, in key-hash order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// A subtree as its parent sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subtree {
    /// No keys.
    Empty,
    /// Exactly one key: the hash of its leaf.
    Leaf([u8; 32]),
    /// Two or more keys: the hash of the node over its halves.
    Internal([u8; 32]),
}

impl Subtree {
    /// Its hash.
    pub fn hash(&self) -> [u8; 32] {
        match self {
            Subtree::Empty => PLACEHOLDER,
            Subtree::Leaf(h) | Subtree::Internal(h) => *h,
        }
    }

    /// The subtree over `left` and `right`: a lone leaf is lifted, as jmt does.
    pub fn parent(left: Subtree, right: Subtree) -> Subtree {
        match (left, right) {
            (Subtree::Empty, Subtree::Empty) => Subtree::Empty,
            (Subtree::Leaf(h), Subtree::Empty) | (Subtree::Empty, Subtree::Leaf(h)) => {
                Subtree::Leaf(h)
            }
            (l, r) => {
                let mut hasher = StateHasher::new();
                hasher.update(jmt::proof::INTERNAL_DOMAIN_SEPARATOR);
                hasher.update(&l.hash());
                hasher.update(&r.hash());
                Subtree::Internal(hasher.finalize())
            }
        }
    }
}

/// A subtree beside a chunk's path, as a chunk carries it. A lone leaf comes with its key
/// and value hashes, so a verifier can check it lies where it claims (else an empty chunk
/// could pass a leaf of the root's own hash off as its sibling and lift it to the root).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sibling {
    /// No keys.
    Empty,
    /// Exactly one key.
    Leaf {
        /// Its key hash.
        key_hash: [u8; 32],
        /// Its value hash.
        value_hash: [u8; 32],
    },
    /// Two or more keys: the hash of the node over its halves.
    Internal([u8; 32]),
}

/// One chunk: the keys under its path, with the subtrees beside the path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// The snapshot's height.
    pub height: Height,
    /// Its index: the path, as the top `depth` bits.
    pub index: u32,
    /// `(key, value)` pairs in key-hash order.
    pub entries: Entries,
    /// The subtrees beside the path, from the chunk's level up to the root's children.
    pub siblings: Vec<Sibling>,
}

/// Bit `i` of a hash, most significant first (jmt's order).
fn bit(h: &[u8; 32], i: usize) -> bool {
    (h[i / 8] >> (7 - i % 8)) & 1 == 1
}

/// Bit `level` (from the top) of a `depth`-bit chunk path.
fn path_bit(index: u32, depth: u8, level: usize) -> bool {
    (index >> (depth as usize - 1 - level)) & 1 == 1
}

/// The hash of a leaf holding `value` under `key_hash`.
pub fn leaf_hash(key_hash: &[u8; 32], value: &[u8]) -> [u8; 32] {
    leaf_node_hash(key_hash, &ValueHash::with::<StateHasher>(value).0)
}

/// The hash of a leaf node from its key and value hashes (jmt's `SparseMerkleLeafNode`).
fn leaf_node_hash(key_hash: &[u8; 32], value_hash: &[u8; 32]) -> [u8; 32] {
    let mut hasher = StateHasher::new();
    hasher.update(jmt::proof::LEAF_DOMAIN_SEPARATOR);
    hasher.update(key_hash);
    hasher.update(value_hash);
    hasher.finalize()
}

/// The subtree of `leaves` (key hash, leaf hash), sorted by key hash and sharing their first
/// `depth` bits.
pub fn subtree(leaves: &[([u8; 32], [u8; 32])], depth: usize) -> Subtree {
    match leaves {
        [] => Subtree::Empty,
        [(_, leaf)] => Subtree::Leaf(*leaf),
        _ if depth >= 256 => Subtree::Empty, // distinct key hashes never get here
        _ => {
            let split = leaves.partition_point(|(k, _)| !bit(k, depth));
            Subtree::parent(
                subtree(&leaves[..split], depth + 1),
                subtree(&leaves[split..], depth + 1),
            )
        }
    }
}

/// The first key hash under chunk `index` of a `depth`-deep snapshot.
fn chunk_start(index: u32, depth: u8) -> [u8; 32] {
    let mut start = [0u8; 32];
    if depth > 0 {
        let top = (index as u64) << (32 - depth as u32);
        start[..4].copy_from_slice(&(top as u32).to_be_bytes());
    }
    start
}

/// The chunk `key_hash` falls in.
fn chunk_of(key_hash: &[u8; 32], depth: u8) -> u32 {
    if depth == 0 {
        return 0;
    }
    u32::from_be_bytes([key_hash[0], key_hash[1], key_hash[2], key_hash[3]]) >> (32 - depth as u32)
}

/// Checks `chunk` against `manifest` on its own: its place, its order, and that its entries
/// and siblings give the manifest's state root.
pub fn verify_chunk(manifest: &Manifest, chunk: &Chunk) -> Result<(), SnapshotError> {
    let index = chunk.index;
    let bad = |reason: String| SnapshotError::Malformed { index, reason };
    if manifest.format != SNAPSHOT_FORMAT || manifest.depth > MAX_DEPTH {
        return Err(bad(format!(
            "snapshot format {} depth {}",
            manifest.format, manifest.depth
        )));
    }
    if chunk.height != manifest.height {
        return Err(bad(format!(
            "height {} in a snapshot of {}",
            chunk.height, manifest.height
        )));
    }
    if index >= manifest.chunks() {
        return Err(bad(format!("index beyond {} chunks", manifest.chunks())));
    }
    if chunk.siblings.len() != manifest.depth as usize {
        return Err(bad(format!(
            "{} siblings at depth {}",
            chunk.siblings.len(),
            manifest.depth
        )));
    }
    let mut leaves = Vec::with_capacity(chunk.entries.len());
    for (key, value) in &chunk.entries {
        let kh = KeyHash::with::<StateHasher>(key).0;
        if chunk_of(&kh, manifest.depth) != index {
            return Err(bad("a key outside the chunk's path".into()));
        }
        if leaves.last().is_some_and(|(prev, _)| *prev >= kh) {
            return Err(bad("keys out of key-hash order".into()));
        }
        leaves.push((kh, leaf_hash(&kh, value)));
    }
    let depth = manifest.depth as usize;
    let mut node = subtree(&leaves, depth);
    for level in (0..depth).rev() {
        let right = path_bit(index, manifest.depth, level);
        let sibling = match chunk.siblings[depth - 1 - level] {
            Sibling::Empty => Subtree::Empty,
            Sibling::Internal(h) => Subtree::Internal(h),
            Sibling::Leaf {
                key_hash,
                value_hash,
            } => {
                // The sibling's path: this chunk's first `level` bits, then the other side.
                let inside = (0..level)
                    .all(|i| bit(&key_hash, i) == path_bit(index, manifest.depth, i))
                    && bit(&key_hash, level) != right;
                if !inside {
                    return Err(bad(format!(
                        "a sibling leaf outside its subtree at level {level}"
                    )));
                }
                Subtree::Leaf(leaf_node_hash(&key_hash, &value_hash))
            }
        };
        node = if right {
            Subtree::parent(sibling, node)
        } else {
            Subtree::parent(node, sibling)
        };
    }
    if Hash(node.hash()) != manifest.state_root {
        return Err(SnapshotError::WrongRoot {
            index,
            root: manifest.state_root,
        });
    }
    Ok(())
}

/// The depth whose chunks hold about [`TARGET_CHUNK_KEYS`] keys each.
pub fn depth_for(keys: u64) -> u8 {
    let mut depth = 0u8;
    while depth < MAX_DEPTH && (keys >> depth) > TARGET_CHUNK_KEYS {
        depth += 1;
    }
    depth
}

/// A subtree as the builder knows it: with the key and value hashes of its lone leaf, if it
/// holds exactly one.
type Known = (Subtree, Option<([u8; 32], [u8; 32])>);

/// Builds snapshots of the committed state tree (any retained version).
pub struct SnapshotBuilder {
    kv: Arc<dyn KvStore>,
    reader: Arc<OwnedReader>,
    manifest: Manifest,
    /// Each chunk's subtree, in index order (filled as chunks are read), with the key and
    /// value hashes of its leaf when it holds one.
    subtrees: Vec<Option<Known>>,
    /// The tree over the chunks, from the chunks' level (0) up to the root (after
    /// [`SnapshotBuilder::build_all`]), each subtree with its lone leaf if it has one.
    levels: Vec<Vec<Known>>,
}

impl SnapshotBuilder {
    /// A snapshot of the state at `height`, whose header names `state_root`. The depth is
    /// chosen from the number of keys (`depth` overrides it, for tests).
    pub fn new(
        kv: Arc<dyn KvStore>,
        height: Height,
        state_root: Hash,
        depth: Option<u8>,
    ) -> Result<SnapshotBuilder, SnapshotError> {
        let reader = Arc::new(OwnedReader::new(kv.clone()));
        let root_key = NodeKey::new(height, crate::state::empty_path()?);
        let keys = match reader
            .get_node_option(&root_key)
            .map_err(|e| StorageError::Tree(e.to_string()))?
        {
            None => {
                return Err(
                    StorageError::Tree(format!("no state tree at version {height}")).into(),
                );
            }
            Some(Node::Null) => 0,
            Some(Node::Leaf(_)) => 1,
            Some(Node::Internal(n)) => n.leaf_count() as u64,
        };
        let depth = depth.unwrap_or_else(|| depth_for(keys)).min(MAX_DEPTH);
        let manifest = Manifest {
            format: SNAPSHOT_FORMAT,
            height,
            state_root,
            depth,
            keys,
        };
        Ok(SnapshotBuilder {
            subtrees: vec![None; manifest.chunks() as usize],
            levels: Vec::new(),
            kv,
            reader,
            manifest,
        })
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The entries of chunk `index` (without siblings), read from the tree.
    pub fn entries(&mut self, index: u32) -> Result<Entries, SnapshotError> {
        let depth = self.manifest.depth;
        let start = KeyHash(chunk_start(index, depth));
        let iter = JellyfishMerkleIterator::new(self.reader.clone(), self.manifest.height, start)
            .map_err(|e| StorageError::Tree(e.to_string()))?;
        let mut entries = Vec::new();
        let mut leaves = Vec::new();
        let mut lone = None;
        let mut bytes = 0usize;
        for item in iter {
            let (kh, value) = item.map_err(|e| StorageError::Tree(e.to_string()))?;
            if chunk_of(&kh.0, depth) != index {
                break;
            }
            let key =
                self.kv
                    .get(Column::Preimages, &kh.0)?
                    .ok_or_else(|| StorageError::Corrupt {
                        column: "preimages",
                        reason: format!("no key for hash {}", Hash(kh.0)),
                    })?;
            bytes += key.len() + value.len() + 16;
            // Room for the chunk's own fields and up to MAX_DEPTH siblings (about 1.1 KB).
            if bytes > MAX_CHUNK_BYTES - CHUNK_OVERHEAD {
                return Err(SnapshotError::ChunkTooLarge { index });
            }
            let value_hash = ValueHash::with::<StateHasher>(&value).0;
            if leaves.is_empty() {
                lone = Some((kh.0, value_hash));
            }
            leaves.push((kh.0, leaf_node_hash(&kh.0, &value_hash)));
            entries.push((key, value));
        }
        let lone = if leaves.len() == 1 { lone } else { None };
        self.subtrees[index as usize] = Some((subtree(&leaves, depth as usize), lone));
        Ok(entries)
    }

    /// Reads every chunk's subtree (a pass over the whole state), so siblings can be given,
    /// and checks they give the manifest's root.
    pub fn build_all(&mut self) -> Result<(), SnapshotError> {
        for index in 0..self.manifest.chunks() {
            if self.subtrees[index as usize].is_none() {
                self.entries(index)?;
            }
        }
        let mut level: Vec<Known> = self
            .subtrees
            .iter()
            .map(|s| s.unwrap_or((Subtree::Empty, None)))
            .collect();
        let mut levels = Vec::with_capacity(self.manifest.depth as usize + 1);
        while level.len() > 1 {
            let up = level
                .chunks(2)
                .map(|pair| {
                    let node = Subtree::parent(pair[0].0, pair[1].0);
                    // A lifted lone leaf keeps its key and value hashes.
                    let lone = match node {
                        Subtree::Leaf(_) => pair[0].1.or(pair[1].1),
                        _ => None,
                    };
                    (node, lone)
                })
                .collect();
            levels.push(std::mem::replace(&mut level, up));
        }
        let root = Hash(level[0].0.hash());
        levels.push(level);
        self.levels = levels;
        if root != self.manifest.state_root {
            return Err(SnapshotError::WrongRoot {
                index: 0,
                root: self.manifest.state_root,
            });
        }
        Ok(())
    }

    /// The siblings of chunk `index`, from its level up ([`SnapshotBuilder::build_all`]
    /// first).
    pub fn siblings(&self, index: u32) -> Result<Vec<Sibling>, SnapshotError> {
        if self.levels.is_empty() {
            return Err(SnapshotError::Malformed {
                index,
                reason: "the snapshot was not built".into(),
            });
        }
        let mut at = index as usize;
        let mut out = Vec::with_capacity(self.manifest.depth as usize);
        for level in &self.levels[..self.levels.len() - 1] {
            out.push(match level[at ^ 1] {
                (Subtree::Empty, _) => Sibling::Empty,
                (Subtree::Internal(h), _) => Sibling::Internal(h),
                (Subtree::Leaf(_), Some((key_hash, value_hash))) => Sibling::Leaf {
                    key_hash,
                    value_hash,
                },
                (Subtree::Leaf(_), None) => {
                    return Err(SnapshotError::Malformed {
                        index,
                        reason: "a lone leaf without its hashes".into(),
                    });
                }
            });
            at /= 2;
        }
        Ok(out)
    }

    /// Chunk `index`, complete ([`SnapshotBuilder::build_all`] first).
    pub fn chunk(&mut self, index: u32) -> Result<Chunk, SnapshotError> {
        let entries = self.entries(index)?;
        Ok(Chunk {
            height: self.manifest.height,
            index,
            entries,
            siblings: self.siblings(index)?,
        })
    }
}

/// Decodes a chunk received from elsewhere, refusing oversized input.
pub fn decode_chunk(bytes: &[u8]) -> Result<Chunk, SnapshotError> {
    if bytes.len() > MAX_CHUNK_BYTES {
        return Err(SnapshotError::Malformed {
            index: u32::MAX,
            reason: format!("{} bytes", bytes.len()),
        });
    }
    decode(bytes).map_err(|e| SnapshotError::Malformed {
        index: u32::MAX,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;
    use crate::kv::{Durability, WriteBatch};
    use crate::state::{StateChanges, StateStore, verify_state_proof};
    use proptest::prelude::*;

    /// A store whose state went through `versions`; returns it with the last version's root.
    fn store_with(versions: &[StateChanges]) -> (Arc<MemoryStore>, Height, Hash) {
        let kv = Arc::new(MemoryStore::new());
        let state = StateStore::new(kv.clone());
        let mut root = Hash::ZERO;
        for (v, changes) in versions.iter().enumerate() {
            let mut batch = WriteBatch::new();
            root = state.stage_commit(&mut batch, v as u64, changes).unwrap();
            kv.write(batch, Durability::Buffered).unwrap();
        }
        (kv, versions.len() as u64 - 1, root)
    }

    fn changes() -> impl Strategy<Value = StateChanges> {
        proptest::collection::btree_map(
            proptest::collection::vec(any::<u8>(), 1..6),
            prop_oneof![
                4 => proptest::collection::vec(any::<u8>(), 0..10).prop_map(Some),
                1 => Just(None),
            ],
            0..120,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Every chunk of every depth verifies on its own against the root jmt computed, and
        /// the chunks restore a store with the same root, values and proofs, on which the
        /// next version gets the same root as on the original.
        #[test]
        fn chunks_verify_and_restore(
            first in changes().prop_filter("genesis writes", |c| c.values().any(Option::is_some)),
            rest in proptest::collection::vec(changes(), 0..4),
            depth in prop_oneof![Just(0u8), Just(1), Just(2), Just(3), Just(6)],
            next in changes(),
        ) {
            let versions: Vec<StateChanges> = std::iter::once(first).chain(rest).collect();
            let (kv, height, root) = store_with(&versions);
            let mut builder = SnapshotBuilder::new(kv.clone(), height, root, Some(depth)).unwrap();
            builder.build_all().unwrap();
            let manifest = builder.manifest().clone();
            prop_assert_eq!(manifest.chunks(), 1 << depth);
            let mut all = Vec::new();
            for i in 0..manifest.chunks() {
                let chunk = builder.chunk(i).unwrap();
                verify_chunk(&manifest, &chunk).unwrap();
                all.extend(chunk.entries);
            }
            prop_assert_eq!(all.len() as u64, manifest.keys);
            // Restore into an empty store.
            let restored_kv = Arc::new(MemoryStore::new());
            let restored = StateStore::new(restored_kv.clone());
            // A wrong root writes nothing.
            prop_assert!(restored.restore(height, all.clone(), Hash([7; 32])).is_err());
            prop_assert!(restored_kv.scan(Column::State, &[], None, 1).unwrap().is_empty());
            restored.restore(height, all.clone(), root).unwrap();
            let original = StateStore::new(kv.clone());
            for (k, v) in &all {
                let got = restored.get(k).unwrap();
                prop_assert_eq!(got.as_ref(), Some(v));
                let (value, proof) = restored.get_with_proof(k, height).unwrap();
                prop_assert!(verify_state_proof(root, k, value.as_deref(), &proof).is_ok());
            }
            let mut a = WriteBatch::new();
            let mut b = WriteBatch::new();
            let ra = original.stage_commit(&mut a, height + 1, &next).unwrap();
            let rb = restored.stage_commit(&mut b, height + 1, &next).unwrap();
            prop_assert_eq!(ra, rb);
        }
    }

    /// Each way of tampering with a chunk is refused.
    #[test]
    fn tampered_chunks_are_refused() {
        let state: StateChanges = (0u16..400)
            .map(|i| (i.to_be_bytes().to_vec(), Some(vec![i as u8; 3])))
            .collect();
        let (kv, height, root) = store_with(&[state]);
        let mut builder = SnapshotBuilder::new(kv, height, root, Some(3)).unwrap();
        builder.build_all().unwrap();
        let manifest = builder.manifest().clone();
        let good = builder.chunk(5).unwrap();
        let other = builder.chunk(6).unwrap();
        verify_chunk(&manifest, &good).unwrap();
        let refused = |c: &Chunk| verify_chunk(&manifest, c).is_err();

        let mut c = good.clone();
        c.entries[3].1.push(1);
        assert!(refused(&c), "a changed value");
        let mut c = good.clone();
        c.entries.remove(7);
        assert!(refused(&c), "a missing key");
        let mut c = good.clone();
        c.entries.push(other.entries[0].clone());
        assert!(refused(&c), "a key of another chunk");
        let mut c = good.clone();
        c.entries.swap(0, 1);
        assert!(refused(&c), "keys out of order");
        let mut c = good.clone();
        c.entries.push(c.entries[0].clone());
        assert!(refused(&c), "a duplicate key");
        let mut c = good.clone();
        c.siblings[1] = Sibling::Empty;
        assert!(refused(&c), "a changed sibling");
        // An emptied chunk whose sibling claims to be a leaf hashing to the root (lifted
        // through empty siblings, it would give the root).
        let mut c = good.clone();
        c.entries.clear();
        c.siblings = vec![
            Sibling::Leaf {
                key_hash: [0; 32],
                value_hash: [0; 32],
            },
            Sibling::Empty,
            Sibling::Empty,
        ];
        assert!(refused(&c), "an emptied chunk with a forged leaf sibling");
        let mut c = good.clone();
        c.siblings.pop();
        assert!(refused(&c), "a missing sibling");
        let mut c = good.clone();
        c.index = 6;
        assert!(refused(&c), "another chunk's place");
        let mut c = good.clone();
        c.height += 1;
        assert!(refused(&c), "another height");
        // Claiming the chunk is empty, with the real subtree as its own sibling's twin.
        let mut c = good;
        c.entries.clear();
        assert!(refused(&c), "an emptied chunk");
    }
}
