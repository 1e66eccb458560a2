//! Reading committed state, and the write overlay that a transaction runs against.
//!
//! An [`Overlay`] is a stack of change layers over a read-only base. A transaction pushes a
//! layer; each cross-contract call pushes another. A layer is merged into the one below when
//! its call succeeds and dropped when it fails, so a failed call leaves no trace. At the end of
//! a block the bottom layer holds exactly the block's state changes.

use crate::error::RuntimeError;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

/// Pending state changes: key to new value, or `None` for a deletion. Same shape as the
/// storage crate's `StateChanges`, so the node can commit them directly.
pub type StateChanges = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Read access to committed state.
pub trait StateRead: Send + Sync {
    /// The value of `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, RuntimeError>;

    /// The first entry whose key starts with `prefix` and sorts strictly after `after` (or the
    /// first under `prefix` when `after` is `None`).
    fn next(&self, prefix: &[u8], after: Option<&[u8]>) -> Result<Option<Entry>, RuntimeError>;
}

/// An empty state, for queries against nothing and for tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct EmptyState;

impl StateRead for EmptyState {
    fn get(&self, _key: &[u8]) -> Result<Option<Vec<u8>>, RuntimeError> {
        Ok(None)
    }

    fn next(&self, _prefix: &[u8], _after: Option<&[u8]>) -> Result<Option<Entry>, RuntimeError> {
        Ok(None)
    }
}

type Layer = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Layered writes over a read-only base.
pub struct Overlay {
    base: Arc<dyn StateRead>,
    layers: Vec<Layer>,
}

impl std::fmt::Debug for Overlay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overlay")
            .field("depth", &self.layers.len())
            .field(
                "pending",
                &self.layers.iter().map(|l| l.len()).sum::<usize>(),
            )
            .finish()
    }
}

impl Overlay {
    /// An overlay with one (bottom) layer over `base`.
    pub fn new(base: Arc<dyn StateRead>) -> Overlay {
        Overlay {
            base,
            layers: vec![Layer::new()],
        }
    }

    /// Opens a layer (a transaction or a nested call).
    pub fn begin(&mut self) {
        self.layers.push(Layer::new());
    }

    /// Merges the top layer into the one below (the call succeeded).
    pub fn commit(&mut self) {
        if self.layers.len() > 1 {
            let top = self.layers.pop().unwrap_or_default();
            if let Some(below) = self.layers.last_mut() {
                if below.is_empty() {
                    *below = top;
                } else {
                    below.extend(top);
                }
            }
        }
    }

    /// Drops the top layer (the call failed).
    pub fn rollback(&mut self) {
        if self.layers.len() > 1 {
            self.layers.pop();
        }
    }

    /// Number of open layers above the bottom one.
    pub fn depth(&self) -> usize {
        self.layers.len() - 1
    }

    /// The newest layer's entry for `key`: `Some(None)` if a layer deleted it, `None` if no
    /// layer mentions it (the base decides).
    fn layered(&self, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        self.layers.iter().rev().find_map(|layer| layer.get(key))
    }

    /// The value of `key` as seen through every layer.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, RuntimeError> {
        match self.layered(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }

    /// Sets `key` in the top layer.
    pub fn set(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.top().insert(key, Some(value));
    }

    /// Removes `key` in the top layer.
    pub fn remove(&mut self, key: Vec<u8>) {
        self.top().insert(key, None);
    }

    fn top(&mut self) -> &mut Layer {
        if self.layers.is_empty() {
            self.layers.push(Layer::new());
        }
        let last = self.layers.len() - 1;
        &mut self.layers[last]
    }

    /// The first live entry under `prefix` strictly after `after`, merging every layer with the
    /// base. Keys deleted in a layer are skipped.
    pub fn next(&self, prefix: &[u8], after: Option<&[u8]>) -> Result<Option<Entry>, RuntimeError> {
        // A cursor before the prefix means "from the start of the prefix"; from here on the
        // cursor is either absent or at least the prefix, which every base can handle.
        let mut cursor: Option<Vec<u8>> = after.filter(|a| *a >= prefix).map(<[u8]>::to_vec);
        loop {
            let from_base = self.base.next(prefix, cursor.as_deref())?;
            let lower = match cursor.as_deref() {
                Some(c) => Bound::Excluded(c),
                None => Bound::Included(prefix),
            };
            // The smallest key after the cursor in any layer.
            let from_layers = self
                .layers
                .iter()
                .filter_map(|layer| {
                    layer
                        .range::<[u8], _>((lower, Bound::Unbounded))
                        .next()
                        .map(|(k, _)| k)
                        .filter(|k| k.starts_with(prefix))
                })
                .min();
            let key = match (&from_base, from_layers) {
                (None, None) => return Ok(None),
                (Some((bk, _)), Some(lk)) if lk <= bk => lk.clone(),
                (Some((bk, _)), _) => bk.clone(),
                (None, Some(lk)) => lk.clone(),
            };
            // The newest layer that mentions the key decides; otherwise the base value stands.
            let value = match self.layered(&key) {
                Some(v) => v.clone(),
                None => from_base.and_then(|(k, v)| (k == key).then_some(v)),
            };
            match value {
                Some(v) => return Ok(Some((key, v))),
                None => cursor = Some(key),
            }
        }
    }

    /// The pending changes of the bottom layer, once every nested layer is closed.
    pub fn changes(&self) -> &StateChanges {
        &self.layers[0]
    }

    /// Consumes the overlay, returning every pending change (open layers are merged).
    pub fn into_changes(mut self) -> StateChanges {
        while self.layers.len() > 1 {
            self.commit();
        }
        self.layers.pop().unwrap_or_default()
    }
}

/// A state held in memory: a map of committed values. For tests and tools.
#[derive(Debug, Default, Clone)]
pub struct MemoryState(pub BTreeMap<Vec<u8>, Vec<u8>>);

impl MemoryState {
    /// Applies block changes.
    pub fn apply(&mut self, changes: &StateChanges) {
        for (k, v) in changes {
            match v {
                Some(v) => self.0.insert(k.clone(), v.clone()),
                None => self.0.remove(k),
            };
        }
    }
}

impl StateRead for MemoryState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, RuntimeError> {
        Ok(self.0.get(key).cloned())
    }

    fn next(&self, prefix: &[u8], after: Option<&[u8]>) -> Result<Option<Entry>, RuntimeError> {
        let lower = match after {
            Some(a) => Bound::Excluded(a.to_vec()),
            None => Bound::Included(prefix.to_vec()),
        };
        Ok(self
            .0
            .range((lower, Bound::Unbounded))
            .next()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Arc<dyn StateRead> {
        let mut m = MemoryState::default();
        for k in [b"a1", b"a3", b"a5", b"b1"] {
            m.0.insert(k.to_vec(), k.to_vec());
        }
        Arc::new(m)
    }

    fn collect(o: &Overlay, prefix: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        while let Some((k, _)) = o.next(prefix, after.as_deref()).unwrap() {
            out.push(k.clone());
            after = Some(k);
        }
        out
    }

    #[test]
    fn iteration_merges_layers_and_skips_deletes() {
        let mut o = Overlay::new(base());
        o.set(b"a2".to_vec(), b"x".to_vec());
        o.begin();
        o.remove(b"a3".to_vec());
        o.set(b"a6".to_vec(), b"y".to_vec());
        assert_eq!(
            collect(&o, b"a"),
            vec![
                b"a1".to_vec(),
                b"a2".to_vec(),
                b"a5".to_vec(),
                b"a6".to_vec()
            ]
        );
        assert_eq!(collect(&o, b"b"), vec![b"b1".to_vec()]);
        assert_eq!(collect(&o, b"c"), Vec::<Vec<u8>>::new());
        // A cursor that sorts before the prefix starts at the prefix.
        assert_eq!(
            o.next(b"b", Some(b"a2")).unwrap().unwrap().0,
            b"b1".to_vec()
        );
        assert_eq!(o.next(b"a", Some(b"z")).unwrap(), None);
        // A deleted key that a higher layer re-creates is live again.
        o.begin();
        o.set(b"a3".to_vec(), b"z".to_vec());
        assert_eq!(
            o.next(b"a", Some(b"a2")).unwrap().unwrap(),
            (b"a3".to_vec(), b"z".to_vec())
        );
    }

    #[test]
    fn rollback_discards_and_commit_keeps() {
        let mut o = Overlay::new(base());
        o.begin();
        o.set(b"k".to_vec(), b"1".to_vec());
        o.begin();
        o.set(b"k".to_vec(), b"2".to_vec());
        o.remove(b"a1".to_vec());
        o.rollback();
        assert_eq!(o.get(b"k").unwrap(), Some(b"1".to_vec()));
        assert_eq!(o.get(b"a1").unwrap(), Some(b"a1".to_vec()));
        o.commit();
        assert_eq!(o.depth(), 0);
        let changes = o.into_changes();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[&b"k".to_vec()], Some(b"1".to_vec()));
    }
}
