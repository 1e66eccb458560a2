//! The vocabulary every Phalanx crate speaks.
//!
//! * [`Hash`]: blake3, domain-separated per kind of object ([`Domain`]).
//! * [`Address`], [`PublicKey`], [`Signature`], [`SecretKey`]: ed25519; strict verification for
//!   consensus messages, ZIP-215 (batchable, [`verify_txs`]) for transactions.
//! * [`Tx`], [`SignedTx`], [`Header`], [`Block`], [`CommitCertificate`], [`ValidatorSet`],
//!   [`Receipt`], [`Event`], and the pBFT messages in [`consensus`].
//! * One canonical binary encoding ([`encoding`]) used for hashing, signing, storage and the
//!   wire, with a decode size limit so untrusted bytes cannot allocate without bound.
//!
//! This crate does no I/O and pulls in no runtime, network or database.

#[cfg(any(test, feature = "test-support"))]
pub mod attacks;
pub mod block;
pub mod bytes;
pub mod certificate;
pub mod consensus;
pub mod crypto;
pub mod encoding;
pub mod error;
pub mod hash;
pub mod limits;
pub mod merkle;
pub mod receipt;
pub mod tx;
pub mod validator;
#[cfg(test)]
mod wire_shape;

pub use block::{Block, BodyMismatch, CheckedBlock, Header};
pub use bytes::Bytes;
pub use certificate::CommitCertificate;
pub use crypto::{Address, PublicKey, SecretKey, Signature, SignatureBatch};
pub use encoding::{decode, decode_with_limit, encode, encoded_len};
pub use error::TypesError;
pub use hash::{Domain, Hash};
pub use receipt::{Event, Receipt, TxStatus};
pub use tx::{Admin, GovernanceAction, Proposal, SignedTx, Tx, TxPayload, verify_txs};
pub use validator::{Validator, ValidatorSet};

/// Height of a block. The genesis state is height 0; the first block is height 1.
pub type Height = u64;
/// pBFT view number. The primary of view `v` is validator `v mod n`.
pub type View = u64;
/// Gas amount.
pub type Gas = u64;
