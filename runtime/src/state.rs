//! Reading committed state, and the write overlay that a transaction runs against.
//!
//! An [`Overlay`] is a stack of change layers over a read-only base. A transaction pushes a
//! layer; each cross-contract call pushes another. A layer is merged into the one below when
//! its call succeeds and dropped when it fails, so a failed call leaves no trace. At the end of
//! a block the bottom layer holds exactly the block's state changes.

use crate::cache::Prepared;
use crate::error::RuntimeError;
use phalanx_types::Hash;
use std::collections::{BTreeMap, BTreeSet};
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
    /// Keys known to be absent from the base. A deletion of one of them is dropped from the
    /// final changes: it would only leave a storage tombstone behind.
    fresh: BTreeSet<Vec<u8>>,
    /// Compiled code called through this overlay (one block), held so that only the first
    /// call of a code pays for loading it and no later call depends on the module cache.
    modules: BTreeMap<Hash, Prepared>,
}

/// What [`Overlay::remove`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// The key did not exist: nothing changed.
    Absent,
    /// The key existed only in this overlay: it is gone and leaves no trace.
    Fresh,
    /// The key was committed state: its deletion will reach the database.
    Committed,
}

impl Removal {
    /// Whether the key existed.
    pub fn existed(self) -> bool {
        self != Removal::Absent
    }
}

/// What an iteration step did, for gas: the entry found, and how many entries it stepped over
/// because a layer had deleted them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// The first live entry, if any.
    pub entry: Option<Entry>,
    /// Deleted entries stepped over on the way.
    pub skipped: u64,
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
            fresh: BTreeSet::new(),
            modules: BTreeMap::new(),
        }
    }

    /// The module held for `code_hash`, if a call through this overlay loaded it.
    pub(crate) fn module(&self, code_hash: &Hash) -> Option<Prepared> {
        self.modules.get(code_hash).cloned()
    }

    /// How many modules are held.
    pub(crate) fn modules_held(&self) -> usize {
        self.modules.len()
    }

    /// Holds a loaded module until the overlay is dropped.
    pub(crate) fn hold_module(&mut self, code_hash: Hash, module: Prepared) {
        self.modules.insert(code_hash, module);
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

    /// Removes `key` in the top layer and says what that did. Removing a key that does not
    /// exist changes nothing (no tombstone), and removing one that only this overlay created
    /// leaves no deletion in the final changes.
    pub fn remove(&mut self, key: Vec<u8>) -> Result<Removal, RuntimeError> {
        let in_base = match self.layered(&key) {
            None => {
                if self.base.get(&key)?.is_none() {
                    return Ok(Removal::Absent);
                }
                true
            }
            Some(None) => return Ok(Removal::Absent),
            Some(Some(_)) => !self.fresh.contains(&key) && self.base.get(&key)?.is_some(),
        };
        if !in_base {
            self.fresh.insert(key.clone());
        }
        self.top().insert(key, None);
        Ok(if in_base {
            Removal::Committed
        } else {
            Removal::Fresh
        })
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
        Ok(self.step(prefix, after)?.entry)
    }

    /// [`next`](Self::next), also counting the deleted entries stepped over. The base is asked
    /// again only when one of its own keys turns out deleted, so an entry deleted in a layer
    /// costs a map lookup, not a storage seek.
    pub fn step(&self, prefix: &[u8], after: Option<&[u8]>) -> Result<Step, RuntimeError> {
        self.step_within(prefix, after, u64::MAX)
    }

    /// [`step`](Self::step), giving up once more than `max_skipped` deleted entries have been
    /// stepped over (then `entry` is `None` and `skipped` is `max_skipped + 1`): the caller can
    /// pay for the work as it goes instead of after an unbounded walk.
    pub fn step_within(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        max_skipped: u64,
    ) -> Result<Step, RuntimeError> {
        // A cursor before the prefix means "from the start of the prefix"; from here on the
        // cursor is either absent or at least the prefix, which every base can handle.
        let mut cursor: Option<Vec<u8>> = after.filter(|a| *a >= prefix).map(<[u8]>::to_vec);
        let mut skipped = 0u64;
        let mut from_base = self.base.next(prefix, cursor.as_deref())?;
        loop {
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
                (None, None) => {
                    return Ok(Step {
                        entry: None,
                        skipped,
                    });
                }
                (Some((bk, _)), Some(lk)) if lk <= bk => lk.clone(),
                (Some((bk, _)), _) => bk.clone(),
                (None, Some(lk)) => lk.clone(),
            };
            // The newest layer that mentions the key decides; otherwise the base value stands.
            let base_is_key = matches!(&from_base, Some((k, _)) if *k == key);
            let value = match self.layered(&key) {
                Some(v) => v.clone(),
                None if base_is_key => from_base.take().map(|(_, v)| v),
                None => None,
            };
            if let Some(v) = value {
                return Ok(Step {
                    entry: Some((key, v)),
                    skipped,
                });
            }
            skipped += 1;
            if skipped > max_skipped {
                return Ok(Step {
                    entry: None,
                    skipped,
                });
            }
            if base_is_key {
                from_base = self.base.next(prefix, Some(&key))?;
            }
            cursor = Some(key);
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
        let mut changes = self.layers.pop().unwrap_or_default();
        for key in &self.fresh {
            if matches!(changes.get(key), Some(None)) {
                changes.remove(key);
            }
        }
        changes
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
        assert_eq!(o.remove(b"a3".to_vec()).unwrap(), Removal::Committed);
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
    fn removing_what_never_reached_the_base_leaves_no_deletion() {
        let mut o = Overlay::new(base());
        // Absent everywhere: nothing at all.
        assert_eq!(o.remove(b"zz".to_vec()).unwrap(), Removal::Absent);
        // Created and deleted in the overlay (across layers): no trace in the changes.
        o.set(b"new".to_vec(), b"1".to_vec());
        o.begin();
        assert_eq!(o.remove(b"new".to_vec()).unwrap(), Removal::Fresh);
        assert_eq!(o.remove(b"new".to_vec()).unwrap(), Removal::Absent);
        o.commit();
        // Committed state: a real deletion.
        assert_eq!(o.remove(b"a5".to_vec()).unwrap(), Removal::Committed);
        let changes = o.into_changes();
        assert_eq!(
            changes.into_iter().collect::<Vec<_>>(),
            vec![(b"a5".to_vec(), None)]
        );
    }

    #[test]
    fn a_step_counts_the_deleted_entries_it_passes() {
        let mut o = Overlay::new(base());
        for k in [b"a1", b"a3"] {
            o.remove(k.to_vec()).unwrap();
        }
        o.set(b"a2".to_vec(), b"x".to_vec());
        o.begin();
        o.remove(b"a2".to_vec()).unwrap();
        let step = o.step(b"a", None).unwrap();
        assert_eq!(step.entry.map(|(k, _)| k), Some(b"a5".to_vec()));
        assert_eq!(step.skipped, 3, "a1, a2 and a3 are deleted");
        let end = o.step(b"a", Some(b"a5")).unwrap();
        assert_eq!(end, Step::default());
        // A bounded step gives up after its budget, without looking further.
        let short = o.step_within(b"a", None, 1).unwrap();
        assert_eq!((short.entry, short.skipped), (None, 2));
    }

    #[test]
    fn rollback_discards_and_commit_keeps() {
        let mut o = Overlay::new(base());
        o.begin();
        o.set(b"k".to_vec(), b"1".to_vec());
        o.begin();
        o.set(b"k".to_vec(), b"2".to_vec());
        assert_eq!(o.remove(b"a1".to_vec()).unwrap(), Removal::Committed);
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
