//! Block execution for Phalanx: the deterministic function from (committed state, block) to
//! (state changes, receipts, state root), shared by the proposer, every replica and sync.
//!
//! - [`adapters`]: the contract runtime's view of the storage crate (state, compiled modules).
//! - [`account`]: account records (nonces) in state.
//! - [`block`]: executing a block's transactions.
//! - [`genesis`]: the state at height 0, including preloaded contracts.
//! - [`governance`]: proposals, approvals and scheduled configuration changes.
//! - [`mempool`]: admission (the same validity rules, checked before execution) and the
//!   bounded pool a proposer fills blocks from.

pub mod account;
pub mod adapters;
pub mod block;
mod cores;
mod error;
pub mod genesis;
pub mod governance;
pub mod mempool;

pub use block::{
    BlockEnv, Executed, execute_block, execute_block_hashed, execute_block_with, intrinsic_gas,
};
pub use error::{ExecutorError, InvalidTx};
