//! Errors of the node core.

use phalanx_executor::ExecutorError;
use phalanx_storage::StorageError;
use phalanx_types::{Hash, Height};

/// Why a proposed or synced block is refused. Each is the block's fault, never the node's.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// A header field does not fit the chain.
    #[error("bad header: {0}")]
    Header(String),
    /// The timestamp is not after the parent's.
    #[error("bad timestamp {got}: {reason}")]
    Timestamp {
        /// The header's timestamp (ms).
        got: u64,
        /// Why.
        reason: String,
    },
    /// The timestamp is further ahead of this node's clock than the chain allows. Not the
    /// block's fault for good: the same block may be valid a moment later.
    #[error("timestamp {got} is more than {drift_ms} ms ahead of this node's clock ({now_ms})")]
    AheadOfClock {
        /// The header's timestamp (ms).
        got: u64,
        /// This node's clock (ms).
        now_ms: u64,
        /// The allowed drift (ms).
        drift_ms: u64,
    },
    /// A transaction is invalid (bad signature, nonce, gas limit).
    #[error("invalid transaction: {0}")]
    InvalidTx(String),
    /// The block is larger than the chain allows.
    #[error("block too large: {0}")]
    TooLarge(String),
    /// Executing the block gave another state or receipts root than its header says.
    #[error("{what} mismatch: header {header}, executed {executed}")]
    RootMismatch {
        /// `state root` or `receipts root`.
        what: &'static str,
        /// What the header claims.
        header: Hash,
        /// What execution produced.
        executed: Hash,
    },
}

/// A fault of the node itself (storage, runtime), or a broken invariant: the node must stop
/// rather than guess.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Storage failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// Execution failed for a reason that is not the block's fault.
    #[error("execution: {0}")]
    Execution(ExecutorError),
    /// A block certified by 2f+1 validators does not execute to its header's roots here:
    /// this node's state has diverged from the network's.
    #[error("certified block {height} does not execute to its header: {reason}")]
    Diverged {
        /// Height.
        height: Height,
        /// What differs.
        reason: String,
    },
    /// Stored data is inconsistent.
    #[error("corrupt chain data: {0}")]
    Corrupt(String),
}
