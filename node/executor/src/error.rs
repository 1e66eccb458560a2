//! Why a block cannot be executed.

use phalanx_runtime::RuntimeError;
use phalanx_storage::StorageError;

/// A transaction that may never be included in a block: a block holding one is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTx {
    /// Bad signature, wrong chain id or malformed fields.
    #[error("invalid transaction: {0}")]
    Malformed(String),
    /// The nonce is not the sender's next one.
    #[error("bad nonce: expected {expected}, got {got}")]
    BadNonce {
        /// The account's next nonce.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// The gas limit exceeds the per-transaction maximum.
    #[error("gas limit {limit} exceeds the maximum of {max} per transaction")]
    GasLimitTooHigh {
        /// Requested.
        limit: u64,
        /// Allowed.
        max: u64,
    },
    /// The gas limit does not cover the transaction's intrinsic cost.
    #[error("gas limit {limit} is below the intrinsic cost {intrinsic}")]
    GasLimitTooLow {
        /// Requested.
        limit: u64,
        /// Needed before any execution.
        intrinsic: u64,
    },
    /// The transaction's gas limit is more than the block has left: the gas its earlier
    /// transactions used, subtracted from the block gas limit. (It may fit a later block.)
    #[error("block gas limit exceeded")]
    BlockGasExceeded,
}

/// Block execution failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// The transaction at `index` is invalid, so the block is.
    #[error("transaction {index}: {reason}")]
    Invalid {
        /// Position in the block.
        index: usize,
        /// Why.
        reason: InvalidTx,
    },
    /// The runtime could not execute (a node fault, not the block's).
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A genesis contract failed to deploy.
    #[error("genesis contract {name}: {reason}")]
    Genesis {
        /// The contract's name in genesis.
        name: String,
        /// Why.
        reason: String,
    },
}
