//! The Phalanx node core: everything a validator decides, with no network, timer, thread or
//! clock of its own, so the same code runs in the real node and in a deterministic
//! multi-node simulation over in-memory storage.
//!
//! - [`chain`]: the committed chain over a [`phalanx_storage::KvStore`]: building and
//!   validating blocks (execution before voting), committing a block with its certificate,
//!   receipts and state in one atomic batch, the consensus write-ahead log and evidence.
//! - [`node`]: [`NodeCore`], which drives the pBFT [`phalanx_consensus::Core`]: it carries
//!   out persist / validate / propose / commit itself (persist before send) and returns the
//!   I/O it needs as [`Action`]s (send, schedule a timer, fetch or serve blocks).
//! - [`prune`]: the pruner, which deletes history outside the retained window in bounded
//!   steps beside the core.

pub mod chain;
mod error;
pub mod io;
pub mod node;
pub mod prune;
pub mod steer;
pub mod trust;

pub use chain::{Chain, ChainInfo, ExecutedBlock, Tip};
pub use error::{BlockError, CoreError};
pub use node::{Action, Admission, CommittedBlock, Event, NodeCore, NodeStatus, SyncBatch};
