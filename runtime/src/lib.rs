//! Phalanx contract runtime.
//!
//! Contracts are wasm modules run by one deterministic [wasmtime](https://wasmtime.dev)
//! engine ([`engine`]) with gas metered as fuel ([`gas`]). A deploy validates the module
//! ([`validate`]), stores its code once per hash and compiles it once ([`cache`]); every call
//! then instantiates the cached module in microseconds and runs it against a transactional
//! [`Overlay`] of contract state. A contract with an admin can be migrated to other code
//! ([`lifecycle`]). Contracts reach the host only through the ABI shared with the
//! SDK (`phalanx-abi`, implemented in [`host`]).
//!
//! Only stable error codes and contract-chosen messages leave the runtime in an [`Outcome`];
//! wasmtime's own error text never reaches receipts or state.

pub mod cache;
pub mod engine;
mod error;
mod exec;
pub mod gas;
pub mod host;
pub mod layout;
pub mod lifecycle;
pub mod stack;
pub mod state;
pub mod validate;

pub use cache::{ArtifactStore, CacheStats};
pub use engine::{Concurrency, EXEC_STACK_BYTES, EngineTuning};
pub use error::RuntimeError;
pub use exec::{ExecError, MAX_CODES_PER_BLOCK, Outcome, Query, Runtime, RuntimeConfig, TxEnv};
pub use gas::GasSchedule;
pub use host::BlockInfo;
pub use phalanx_abi as abi;
pub use state::{EmptyState, MemoryState, Overlay, Removal, StateChanges, StateRead, Step};
pub use validate::{InvalidModule, ModuleLimits};
