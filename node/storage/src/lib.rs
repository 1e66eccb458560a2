//! Phalanx storage.
//!
//! * [`KvStore`]: the key-value interface (get, put, delete, ordered prefix scans, atomic
//!   write batches) with a RocksDB implementation ([`RocksStore`]) and an in-memory one for
//!   tests ([`MemoryStore`]); both pass the same [`conformance`] suite.
//! * [`BlockStore`]: blocks by height and hash, commit certificates, the tx index and receipts.
//! * [`StateStore`]: contract state, flat for reads and scans, committed to by a Jellyfish
//!   Merkle tree ([`jmt`]) whose root is updated per block at a cost proportional to the keys
//!   changed, with inclusion and non-inclusion proofs ([`StateProof`]).
//!
//! No async runtime, network or wasm engine here.

pub mod blocks;
pub mod conformance;
pub mod error;
pub mod kv;
pub mod memory;
pub mod overlay;
pub mod prune;
pub mod rocks;
pub mod rollback;
pub mod snapshot;
pub mod state;

pub use blocks::{BlockStore, TxLocation};
pub use error::StorageError;
pub use kv::{Column, Durability, KvStore, WriteBatch, key_after};
pub use memory::MemoryStore;
pub use overlay::{Layer, Overlay};
pub use rocks::RocksStore;
pub use state::{StateChanges, StateProof, StateStore, verify_state_proof};
