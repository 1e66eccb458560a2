//! The runtime reads committed state and keeps compiled modules through traits of its own;
//! these implement them over the storage crate.

use phalanx_runtime::{ArtifactStore, RuntimeError, StateRead};
use phalanx_storage::{Column, KvStore, StateStore};
use phalanx_types::{Hash, Height};
use std::sync::Arc;

/// Latest committed contract state, as the runtime sees it.
#[derive(Clone)]
pub struct StoreView(pub StateStore);

impl StateRead for StoreView {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, RuntimeError> {
        self.0.get(key).map_err(RuntimeError::storage)
    }

    fn next(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>, RuntimeError> {
        let start = after.map(phalanx_storage::key_after);
        let mut page = self
            .0
            .scan(prefix, start.as_deref(), 1)
            .map_err(RuntimeError::storage)?;
        Ok(page.pop())
    }
}

/// The state as it was after block `height` (a retained version of the state tree), for
/// read-only queries at a height. Point reads come from the tree; iteration cannot (the tree
/// is ordered by key hash, and only the latest state is kept by key), so `next` fails with
/// [`RuntimeError::Unavailable`].
pub struct StoreViewAt {
    /// The state store.
    pub state: StateStore,
    /// The version read.
    pub height: Height,
}

/// Why a query at a past height cannot iterate.
pub const NO_ITERATION_AT_HEIGHT: &str = "the contract iterates storage, which a query can do only at the latest height (past heights serve point reads)";

impl StateRead for StoreViewAt {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, RuntimeError> {
        self.state
            .get_at(key, self.height)
            .map_err(RuntimeError::storage)
    }

    fn next(
        &self,
        _prefix: &[u8],
        _after: Option<&[u8]>,
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>, RuntimeError> {
        Err(RuntimeError::Unavailable(NO_ITERATION_AT_HEIGHT.into()))
    }
}

/// Compiled-module artifacts in the `Code` column.
pub struct KvArtifacts(pub Arc<dyn KvStore>);

impl ArtifactStore for KvArtifacts {
    fn load(&self, code_hash: &Hash) -> Result<Option<Vec<u8>>, RuntimeError> {
        self.0
            .get(Column::Code, &code_hash.0)
            .map_err(RuntimeError::storage)
    }

    fn save(&self, code_hash: &Hash, artifact: &[u8]) -> Result<(), RuntimeError> {
        self.0
            .put(Column::Code, &code_hash.0, artifact)
            .map_err(RuntimeError::storage)
    }
}
