//! Errors of the runtime as a component. A contract's own failure is not one of these: it is a
//! deterministic [`ExecError`](crate::ExecError) recorded in the receipt. A [`RuntimeError`]
//! means the node itself could not execute (storage failed, the engine could not start), so the
//! block must not be voted for or committed.

/// Infrastructure failure: execution could not complete on this node.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Reading state (or the compiled-module store) failed.
    #[error("state storage: {0}")]
    Storage(String),
    /// A stored record did not decode.
    #[error("corrupt state record {what}: {reason}")]
    Corrupt {
        /// Which record.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The wasm engine could not be configured or failed unexpectedly.
    #[error("wasm engine: {0}")]
    Engine(String),
    /// Every instance slot is in use by concurrent queries; try again.
    #[error("runtime busy: too many concurrent queries")]
    Busy,
    /// The state view cannot serve what the contract asked for (iterating a past height's
    /// storage, for one). Only read-only queries use such views.
    #[error("{0}")]
    Unavailable(String),
}

impl RuntimeError {
    /// Wraps a storage error of the embedding node.
    pub fn storage(err: impl std::fmt::Display) -> RuntimeError {
        RuntimeError::Storage(err.to_string())
    }

    /// Wraps a wasmtime error (which is not `std::error::Error`-compatible with anyhow).
    pub(crate) fn engine(err: impl std::fmt::Display) -> RuntimeError {
        RuntimeError::Engine(err.to_string())
    }
}
