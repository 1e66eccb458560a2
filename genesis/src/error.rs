//! Genesis errors.

use thiserror::Error;

/// What is wrong with a genesis document.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum GenesisError {
    /// The file could not be read.
    #[error("cannot read genesis: {0}")]
    Io(String),
    /// The file is larger than the limit.
    #[error("genesis is {0} bytes, larger than the limit")]
    TooLarge(usize),
    /// The JSON is malformed, has an unknown field, or a value of the wrong type.
    #[error("invalid genesis JSON: {0}")]
    Parse(String),
    /// No validators.
    #[error("genesis has no validators: at least one is required")]
    NoValidators,
    /// The same key twice.
    #[error("duplicate validator public key {0}")]
    DuplicateValidator(String),
    /// The same peer id twice.
    #[error("duplicate peer id {0}")]
    DuplicatePeerId(String),
    /// A public key that is not a valid ed25519 point.
    #[error("validators[{index}].public_key is not a valid ed25519 public key")]
    InvalidPublicKey {
        /// Position in the validator list.
        index: usize,
    },
    /// A field has a bad value.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field's path.
        field: String,
        /// Why.
        reason: String,
    },
}
