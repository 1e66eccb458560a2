//! An in-memory [`KvStore`] for tests and the simulator. Not for production use.

use crate::error::StorageError;
use crate::kv::{Column, Durability, KvPair, KvStore, WriteBatch};
use std::collections::BTreeMap;
use std::sync::RwLock;

/// One column's ordered contents.
type ColumnMap = BTreeMap<Vec<u8>, Vec<u8>>;

/// A `BTreeMap` per column behind a lock.
#[derive(Debug, Default)]
pub struct MemoryStore {
    columns: RwLock<BTreeMap<Column, ColumnMap>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl KvStore for MemoryStore {
    fn get(&self, col: Column, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let cols = self.columns.read().unwrap_or_else(|e| e.into_inner());
        Ok(cols.get(&col).and_then(|c| c.get(key).cloned()))
    }

    fn scan(
        &self,
        col: Column,
        prefix: &[u8],
        start: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KvPair>, StorageError> {
        let cols = self.columns.read().unwrap_or_else(|e| e.into_inner());
        let Some(c) = cols.get(&col) else {
            return Ok(Vec::new());
        };
        let from = match start {
            Some(s) if s > prefix => s.to_vec(),
            _ => prefix.to_vec(),
        };
        Ok(c.range(from..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn write(&self, batch: WriteBatch, _durability: Durability) -> Result<(), StorageError> {
        let mut cols = self.columns.write().unwrap_or_else(|e| e.into_inner());
        for (col, key, value) in batch.ops {
            let c = cols.entry(col).or_default();
            match value {
                Some(v) => {
                    c.insert(key, v);
                }
                None => {
                    c.remove(&key);
                }
            }
        }
        Ok(())
    }
}
