//! A read-only view of a store with uncommitted write batches laid over it, newest last.
//!
//! Pipelined consensus executes block H+1 while block H still collects votes: H's state
//! writes, tree nodes and values exist only as the [`WriteBatch`] its commit will write.
//! [`Overlay`] reads as if those batches had been written, so a [`crate::StateStore`] over it
//! executes H+1 on H's state and stages H+1's batch exactly as it would after H's commit
//! (the batch is then written on top of H's). Nothing is ever written through it.

use crate::error::StorageError;
use crate::kv::{Column, Durability, KvPair, KvStore, WriteBatch};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One batch indexed for reading: the last operation on each key wins, a delete is `None`.
#[derive(Debug, Default)]
pub struct Layer {
    columns: BTreeMap<Column, BTreeMap<Vec<u8>, Option<Vec<u8>>>>,
}

impl Layer {
    /// Indexes `batch` (its operations in order, as a write would apply them).
    pub fn of(batch: &WriteBatch) -> Layer {
        let mut columns: BTreeMap<Column, BTreeMap<Vec<u8>, Option<Vec<u8>>>> = BTreeMap::new();
        for (col, key, value) in &batch.ops {
            columns
                .entry(*col)
                .or_default()
                .insert(key.clone(), value.clone());
        }
        Layer { columns }
    }

    fn get(&self, col: Column, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        self.columns.get(&col)?.get(key)
    }
}

/// `base` read through `layers` (oldest first): see the module docs.
pub struct Overlay {
    base: Arc<dyn KvStore>,
    layers: Vec<Arc<Layer>>,
}

impl Overlay {
    /// `base` with `layers` applied in order (oldest first).
    pub fn new(base: Arc<dyn KvStore>, layers: Vec<Arc<Layer>>) -> Overlay {
        Overlay { base, layers }
    }
}

impl KvStore for Overlay {
    fn get(&self, col: Column, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        for layer in self.layers.iter().rev() {
            if let Some(v) = layer.get(col, key) {
                return Ok(v.clone());
            }
        }
        self.base.get(col, key)
    }

    fn scan(
        &self,
        col: Column,
        prefix: &[u8],
        start: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KvPair>, StorageError> {
        let from = match start {
            Some(s) if s > prefix => s.to_vec(),
            _ => prefix.to_vec(),
        };
        // A merge of the layers (newest wins) and the base, in key order, that stops after
        // `limit` entries: a scan costs what it returns plus the deletes it passes, not the
        // whole range (the runtime walks contract storage one key per scan).
        type Entries<'a> =
            std::iter::Peekable<Box<dyn Iterator<Item = (&'a Vec<u8>, &'a Option<Vec<u8>>)> + 'a>>;
        let mut layers: Vec<Entries<'_>> = self
            .layers
            .iter()
            .rev()
            .filter_map(|l| l.columns.get(&col))
            .map(|c| {
                let it: Box<dyn Iterator<Item = _>> = Box::new(
                    c.range(from.clone()..)
                        .take_while(move |(k, _)| k.starts_with(prefix)),
                );
                it.peekable()
            })
            .collect();
        let page = limit.clamp(1, 256);
        let mut base: std::collections::VecDeque<KvPair> =
            self.base.scan(col, prefix, Some(&from), page)?.into();
        let mut base_more = base.len() == page;
        let mut out: Vec<KvPair> = Vec::new();
        while out.len() < limit {
            if base.is_empty() && base_more {
                // The next page starts just after the last key taken from the base.
                let after = match out.last() {
                    Some((k, _)) => crate::kv::key_after(k),
                    None => from.clone(),
                };
                let next = self.base.scan(col, prefix, Some(&after), page)?;
                base_more = next.len() == page;
                base = next.into();
                continue;
            }
            let mut key: Option<&[u8]> = base.front().map(|(k, _)| k.as_slice());
            for l in layers.iter_mut() {
                if let Some((k, _)) = l.peek()
                    && key.is_none_or(|m| k.as_slice() < m)
                {
                    key = Some(k.as_slice());
                }
            }
            let Some(key): Option<Vec<u8>> = key.map(<[u8]>::to_vec) else {
                break;
            };
            // The newest layer that has the key decides; every source moves past it.
            let mut value: Option<Option<Vec<u8>>> = None;
            for l in layers.iter_mut() {
                if l.peek().is_some_and(|(k, _)| **k == key) {
                    let (_, v) = l.next().expect("peeked");
                    value.get_or_insert_with(|| v.clone());
                }
            }
            let from_base = if base.front().is_some_and(|(k, _)| *k == key) {
                base.pop_front().map(|(_, v)| v)
            } else {
                None
            };
            let value = match value {
                Some(layered) => layered,
                None => from_base,
            };
            if let Some(v) = value {
                out.push((key, v));
            } else if base.is_empty() && base_more {
                // A delete ended the page: continue after it, not after the last entry out.
                let next = self
                    .base
                    .scan(col, prefix, Some(&crate::kv::key_after(&key)), page)?;
                base_more = next.len() == page;
                base = next.into();
            }
        }
        Ok(out)
    }

    fn write(&self, _batch: WriteBatch, _durability: Durability) -> Result<(), StorageError> {
        Err(StorageError::Refused(
            "an overlay of uncommitted blocks is read-only".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;
    use proptest::prelude::*;

    fn ops() -> impl Strategy<Value = Vec<(u8, u8, Option<u8>)>> {
        // (column choice, key, value or delete) over a small key space, so layers overlap.
        proptest::collection::vec((0u8..2, 0u8..24, proptest::option::of(any::<u8>())), 0..40)
    }

    fn batch(ops: &[(u8, u8, Option<u8>)]) -> WriteBatch {
        let mut b = WriteBatch::new();
        for (c, k, v) in ops {
            let col = if *c == 0 {
                Column::State
            } else {
                Column::TreeNodes
            };
            // Keys share prefixes ("p", "q") so prefix-bounded scans cut through them.
            let key = vec![if k % 2 == 0 { b'p' } else { b'q' }, *k];
            match v {
                Some(v) => b.put(col, key, vec![*v]),
                None => b.delete(col, key),
            }
        }
        b
    }

    proptest! {
        /// Reading through layers gives exactly what writing them would have given: every
        /// get, and scans with every prefix, start and limit (small limits page the base
        /// scan past the entries the layers delete).
        #[test]
        fn reads_as_if_the_layers_were_written(
            base_ops in ops(),
            layer_ops in proptest::collection::vec(ops(), 0..4),
            limit in prop_oneof![0usize..30, Just(usize::MAX)],
            start in proptest::option::of(0u8..24),
        ) {
            let base = Arc::new(MemoryStore::new());
            base.write(batch(&base_ops), Durability::Sync).unwrap();
            let written = MemoryStore::new();
            written.write(batch(&base_ops), Durability::Sync).unwrap();
            let mut layers = Vec::new();
            for l in &layer_ops {
                written.write(batch(l), Durability::Sync).unwrap();
                layers.push(Arc::new(Layer::of(&batch(l))));
            }
            let overlay = Overlay::new(base, layers);
            for col in [Column::State, Column::TreeNodes] {
                for k in 0u8..24 {
                    for p in [b'p', b'q'] {
                        prop_assert_eq!(overlay.get(col, &[p, k]).unwrap(), written.get(col, &[p, k]).unwrap());
                    }
                }
                for prefix in [&b""[..], b"p", b"q"] {
                    let start = start.map(|s| vec![b'p', s]);
                    prop_assert_eq!(
                        overlay.scan(col, prefix, start.as_deref(), limit).unwrap(),
                        written.scan(col, prefix, start.as_deref(), limit).unwrap()
                    );
                }
            }
            prop_assert!(overlay.write(WriteBatch::new(), Durability::Sync).is_err());
        }
    }
}
