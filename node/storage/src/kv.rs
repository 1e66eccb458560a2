//! The key-value interface every store implements.

use crate::error::StorageError;

/// Column families. Each kind of record lives in its own keyspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Column {
    /// Chain metadata: latest height, genesis hash.
    Meta,
    /// Height (big-endian u64) → encoded block.
    Blocks,
    /// Block hash → height.
    BlockIndex,
    /// Height → commit certificate.
    Certificates,
    /// Tx hash → (height, index).
    TxIndex,
    /// Height ++ index (big-endian) → receipt.
    Receipts,
    /// Latest contract state, flat: key → value.
    State,
    /// State tree nodes.
    TreeNodes,
    /// State tree values by key hash and version.
    TreeValues,
    /// Consensus write-ahead log (last signed votes).
    Wal,
    /// Contract code and compiled-module cache.
    Code,
    /// Equivocation evidence.
    Evidence,
    /// Index of state tree nodes replaced by a later version: stale-since version
    /// (big-endian) ++ node key → nothing. The pruner deletes what it names.
    StaleNodes,
    /// State key hash → the key (the tree knows keys by hash only; snapshots carry keys).
    Preimages,
    /// Sender address ++ nonce (big-endian) → tx hash: an account's committed transactions.
    SenderIndex,
}

impl Column {
    /// Every column, in a fixed order.
    pub const ALL: [Column; 15] = [
        Column::Meta,
        Column::Blocks,
        Column::BlockIndex,
        Column::Certificates,
        Column::TxIndex,
        Column::Receipts,
        Column::State,
        Column::TreeNodes,
        Column::TreeValues,
        Column::Wal,
        Column::Code,
        Column::Evidence,
        Column::StaleNodes,
        Column::Preimages,
        Column::SenderIndex,
    ];

    /// The column family name.
    pub fn name(self) -> &'static str {
        match self {
            Column::Meta => "meta",
            Column::Blocks => "blocks",
            Column::BlockIndex => "block_index",
            Column::Certificates => "certificates",
            Column::TxIndex => "tx_index",
            Column::Receipts => "receipts",
            Column::State => "state",
            Column::TreeNodes => "tree_nodes",
            Column::TreeValues => "tree_values",
            Column::Wal => "wal",
            Column::Code => "code",
            Column::Evidence => "evidence",
            Column::StaleNodes => "stale_nodes",
            Column::Preimages => "preimages",
            Column::SenderIndex => "sender_index",
        }
    }
}

/// How durable a write must be when `write` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync the write-ahead log before returning (commits, signed votes).
    Sync,
    /// Leave flushing to the store (caches, indexes that can be rebuilt).
    Buffered,
}

/// An atomic set of writes: all of them land, or none.
#[derive(Debug, Default, Clone)]
pub struct WriteBatch {
    pub(crate) ops: Vec<(Column, Vec<u8>, Option<Vec<u8>>)>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }
    /// Adds a put.
    pub fn put(&mut self, col: Column, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push((col, key.into(), Some(value.into())));
    }
    /// Adds a delete.
    pub fn delete(&mut self, col: Column, key: impl Into<Vec<u8>>) {
        self.ops.push((col, key.into(), None));
    }
    /// Appends another batch's writes after this one's.
    pub fn extend(&mut self, other: WriteBatch) {
        self.ops.extend(other.ops);
    }
    /// Number of writes.
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    /// True if there are no writes.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// The smallest key strictly after `key` (`key ++ [0]`): where a paged scan goes on.
pub fn key_after(key: &[u8]) -> Vec<u8> {
    [key, &[0u8][..]].concat()
}

/// A key-value pair returned by a scan.
pub type KvPair = (Vec<u8>, Vec<u8>);

/// A key-value store with column families, ordered scans and atomic batches.
///
/// Scans are bounded by `limit`, so a caller iterating a huge prefix pages through it
/// (passing the last key it saw, plus a zero byte, as the next `start`).
pub trait KvStore: Send + Sync {
    /// Reads one value.
    fn get(&self, col: Column, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// Up to `limit` pairs whose key starts with `prefix` and is `>= start` (or from the
    /// start of the prefix), in ascending key order.
    fn scan(
        &self,
        col: Column,
        prefix: &[u8],
        start: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KvPair>, StorageError>;

    /// Applies a batch atomically.
    fn write(&self, batch: WriteBatch, durability: Durability) -> Result<(), StorageError>;

    /// Compacts `col` so that what was deleted from it leaves the disk (stores without
    /// compaction do nothing). Slow: for a background thread.
    fn compact(&self, _col: Column) -> Result<(), StorageError> {
        Ok(())
    }

    /// Writes one value.
    fn put(&self, col: Column, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        let mut b = WriteBatch::new();
        b.put(col, key, value);
        self.write(b, Durability::Buffered)
    }

    /// Deletes one key (no error if absent).
    fn delete(&self, col: Column, key: &[u8]) -> Result<(), StorageError> {
        let mut b = WriteBatch::new();
        b.delete(col, key);
        self.write(b, Durability::Buffered)
    }
}
