//! Compiled modules, cached by code hash: in memory as ready-to-instantiate `InstancePre`s, and
//! on disk (the node's `Code` column) as serialized artifacts, so a restart does not recompile.
//!
//! The cache never changes results or gas: a miss costs the node time, not the transaction gas.

use crate::error::RuntimeError;
use crate::host::HostState;
use phalanx_types::Hash;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use wasmtime::{Engine, InstancePre, Linker, Module};

/// A module ready to instantiate.
pub(crate) type Prepared = Arc<InstancePre<HostState>>;

/// Where compiled artifacts persist between restarts (the node keeps them in its `Code`
/// column). Artifacts are machine code: the store must be private to this node.
pub trait ArtifactStore: Send + Sync {
    /// The artifact saved under `code_hash`, if any.
    fn load(&self, code_hash: &Hash) -> Result<Option<Vec<u8>>, RuntimeError>;
    /// Saves an artifact.
    fn save(&self, code_hash: &Hash, artifact: &[u8]) -> Result<(), RuntimeError>;
}

/// Counters, for metrics and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Served from memory.
    pub hits: u64,
    /// Loaded from a persisted artifact.
    pub loaded: u64,
    /// Compiled from wasm.
    pub compiled: u64,
}

pub(crate) struct ModuleCache {
    entries: Mutex<HashMap<Hash, Prepared>>,
    capacity: usize,
    persist: Option<Arc<dyn ArtifactStore>>,
    hits: AtomicU64,
    loaded: AtomicU64,
    compiled: AtomicU64,
}

impl ModuleCache {
    pub(crate) fn new(capacity: usize, persist: Option<Arc<dyn ArtifactStore>>) -> ModuleCache {
        ModuleCache {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            persist,
            hits: AtomicU64::new(0),
            loaded: AtomicU64::new(0),
            compiled: AtomicU64::new(0),
        }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            loaded: self.loaded.load(Ordering::Relaxed),
            compiled: self.compiled.load(Ordering::Relaxed),
        }
    }

    fn lookup(&self, hash: &Hash) -> Option<Prepared> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(hash).cloned()
    }

    fn insert(&self, hash: Hash, prepared: Prepared) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(&hash) {
            // Any victim will do: eviction only costs a later reload.
            if let Some(victim) = entries.keys().next().copied() {
                entries.remove(&victim);
            }
        }
        entries.insert(hash, prepared);
    }

    /// The prepared module for `hash`, from memory, disk, or by compiling the code that
    /// `load_code` returns. `Ok(None)` if no code is stored under `hash`.
    pub(crate) fn get(
        &self,
        engine: &Engine,
        linker: &Linker<HostState>,
        hash: &Hash,
        load_code: impl FnOnce() -> Result<Option<Vec<u8>>, RuntimeError>,
    ) -> Result<Option<Prepared>, RuntimeError> {
        if let Some(p) = self.lookup(hash) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(p));
        }
        if let Some(module) = self.load_persisted(engine, hash)? {
            self.loaded.fetch_add(1, Ordering::Relaxed);
            return self.prepare(linker, *hash, &module).map(Some);
        }
        let Some(code) = load_code()? else {
            return Ok(None);
        };
        // Code on chain passed validation when it was deployed; failing now is a node fault.
        let module = compile(engine, &code).map_err(RuntimeError::engine)?;
        self.store_compiled(hash, &module)?;
        self.prepare(linker, *hash, &module).map(Some)
    }

    /// Whether a usable artifact for `hash` is persisted (always true without persistence:
    /// then nothing can be prepared ahead).
    pub(crate) fn has_artifact(&self, engine: &Engine, hash: &Hash) -> Result<bool, RuntimeError> {
        if self.persist.is_none() {
            return Ok(true);
        }
        Ok(self.load_persisted(engine, hash)?.is_some())
    }

    /// Caches a module compiled at deploy time.
    pub(crate) fn store_compiled(&self, hash: &Hash, module: &Module) -> Result<(), RuntimeError> {
        self.compiled.fetch_add(1, Ordering::Relaxed);
        if let Some(kv) = &self.persist {
            let artifact = module.serialize().map_err(RuntimeError::engine)?;
            let mut value = Vec::with_capacity(32 + artifact.len());
            value.extend_from_slice(checksum(&artifact).as_bytes());
            value.extend_from_slice(&artifact);
            kv.save(hash, &value)?;
        }
        Ok(())
    }

    pub(crate) fn prepare(
        &self,
        linker: &Linker<HostState>,
        hash: Hash,
        module: &Module,
    ) -> Result<Prepared, RuntimeError> {
        let pre = Arc::new(
            linker
                .instantiate_pre(module)
                .map_err(RuntimeError::engine)?,
        );
        self.insert(hash, pre.clone());
        Ok(pre)
    }

    fn load_persisted(&self, engine: &Engine, hash: &Hash) -> Result<Option<Module>, RuntimeError> {
        let Some(kv) = &self.persist else {
            return Ok(None);
        };
        let Some(value) = kv.load(hash)? else {
            return Ok(None);
        };
        if value.len() < 32 || checksum(&value[32..]).as_bytes() != &value[..32] {
            tracing::info!(code_hash = %hash, "compiled module artifact is stale or corrupt; recompiling");
            return Ok(None);
        }
        match deserialize(engine, &value[32..]) {
            Ok(module) => Ok(Some(module)),
            Err(err) => {
                // Typically an artifact from another wasmtime version or engine configuration.
                tracing::info!(code_hash = %hash, %err, "compiled module artifact unusable; recompiling");
                Ok(None)
            }
        }
    }
}

/// Compiles stored contract code: stack-height instrumentation (see [`crate::stack`]), then
/// Cranelift. Deploys and cache misses both come here, so every node runs the same wasm.
pub(crate) fn compile(engine: &Engine, code: &[u8]) -> wasmtime::Result<Module> {
    let instrumented = crate::stack::instrument(code).map_err(wasmtime::Error::new)?;
    Module::from_binary(engine, &instrumented)
}

/// The checksum stored with an artifact. Keyed by the instrumentation's version, so artifacts
/// compiled before a change to it fail the check and are recompiled.
fn checksum(artifact: &[u8]) -> blake3::Hash {
    blake3::Hasher::new_derive_key(ARTIFACT_CONTEXT)
        .update(artifact)
        .finalize()
}

/// Context of [`checksum`]; bump it whenever `compile` changes what it feeds Cranelift.
const ARTIFACT_CONTEXT: &str = "phalanx-runtime artifact v3 (stack-height metered, unoptimized)";

/// Loads a serialized module.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, artifact: &[u8]) -> wasmtime::Result<Module> {
    // SAFETY: `Module::deserialize` trusts its input to be machine code that this engine
    // produced. The bytes come from this node's own database, were written by
    // `Module::serialize` above, and are checked against the blake3 checksum stored with them
    // (so a torn or corrupted record is refused before this call). wasmtime itself rejects
    // artifacts from another version or configuration. Anyone able to forge this record could
    // equally replace the node binary.
    unsafe { Module::deserialize(engine, artifact) }
}
