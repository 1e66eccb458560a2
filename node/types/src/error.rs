//! Errors of this crate.

use thiserror::Error;

/// Everything that can go wrong while decoding, verifying or validating core types.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TypesError {
    /// The bytes are not a valid canonical encoding (or exceed the size limit).
    #[error("decode error: {0}")]
    Decode(String),
    /// Bytes were left over after decoding a value.
    #[error("decode error: {0} trailing bytes")]
    TrailingBytes(usize),
    /// A hex string was malformed.
    #[error("invalid hex: {0}")]
    Hex(String),
    /// A value had the wrong length.
    #[error("expected {expected} bytes, got {got}")]
    Length {
        /// Length required.
        expected: usize,
        /// Length found.
        got: usize,
    },
    /// The bytes are not a valid ed25519 public key.
    #[error("invalid public key")]
    InvalidPublicKey,
    /// A signature did not verify.
    #[error("invalid signature")]
    InvalidSignature,
    /// The transaction was signed for another chain.
    #[error("wrong chain id: expected {expected}, got {got}")]
    WrongChainId {
        /// The chain id of this node.
        expected: String,
        /// The chain id in the object.
        got: String,
    },
    /// A commit certificate failed verification.
    #[error("invalid commit certificate: {0}")]
    InvalidCertificate(String),
}
