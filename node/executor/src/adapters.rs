//! The runtime reads committed state and keeps compiled modules through traits of its own;
//! these implement them over the storage crate.

use phalanx_runtime::{ArtifactStore, RuntimeError, StateRead};
use phalanx_storage::{Column, KvStore, StateStore};
use phalanx_types::Hash;
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
