//! Errors of the storage layer.

use thiserror::Error;

/// A storage failure.
#[derive(Debug, Error)]
pub enum StorageError {
    /// RocksDB reported an error.
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// Stored bytes did not decode: the database is corrupt or from another version.
    #[error("corrupt record in {column}: {reason}")]
    Corrupt {
        /// Column family.
        column: &'static str,
        /// What failed.
        reason: String,
    },
    /// The state tree failed (missing node or version).
    #[error("state tree: {0}")]
    Tree(String),
    /// A proof did not verify.
    #[error("invalid proof: {0}")]
    InvalidProof(String),
    /// A maintenance operation cannot be done on this store (the reason says why).
    #[error("{0}")]
    Refused(String),
}
