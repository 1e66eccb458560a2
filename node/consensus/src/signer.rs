//! Who signs this replica's consensus messages: a key held in the node, or a remote signer
//! (`phalanx signer`) that keeps the key on another machine with its own double-sign guard.
//! Either way, what gets signed is a [`Statement`]: (phase, view, height, digest) on a chain.

use phalanx_types::consensus::Statement;
use phalanx_types::{Address, PublicKey, SecretKey, Signature};
use std::fmt;
use std::sync::Arc;

/// Why a statement was not signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignError(pub String);

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SignError {}

/// Signs consensus statements for one validator key.
pub trait StatementSigner: Send + Sync + fmt::Debug {
    /// The validator's public key.
    fn public_key(&self) -> PublicKey;
    /// Signs `statement` on `chain_id` (the signature covers
    /// [`Statement::signing_hash`]); may refuse, or fail to reach a remote signer.
    fn sign_statement(&self, chain_id: &str, statement: &Statement)
    -> Result<Signature, SignError>;
}

impl StatementSigner for SecretKey {
    fn public_key(&self) -> PublicKey {
        SecretKey::public_key(self)
    }

    fn sign_statement(
        &self,
        chain_id: &str,
        statement: &Statement,
    ) -> Result<Signature, SignError> {
        Ok(self.sign(&statement.signing_hash(chain_id).0))
    }
}

/// A shareable [`StatementSigner`], with its address computed once.
#[derive(Clone)]
pub struct ValidatorSigner {
    inner: Arc<dyn StatementSigner>,
    public_key: PublicKey,
    address: Address,
}

impl fmt::Debug for ValidatorSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ValidatorSigner({:?})", self.inner)
    }
}

impl ValidatorSigner {
    /// Wraps a signer.
    pub fn new(signer: impl StatementSigner + 'static) -> ValidatorSigner {
        let public_key = signer.public_key();
        ValidatorSigner {
            address: public_key.address(),
            public_key,
            inner: Arc::new(signer),
        }
    }

    /// The validator's public key.
    pub fn public_key(&self) -> PublicKey {
        self.public_key
    }

    /// The validator's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Signs `statement` on `chain_id`.
    pub fn sign(&self, chain_id: &str, statement: &Statement) -> Result<Signature, SignError> {
        self.inner.sign_statement(chain_id, statement)
    }
}

impl From<SecretKey> for ValidatorSigner {
    fn from(key: SecretKey) -> ValidatorSigner {
        ValidatorSigner::new(key)
    }
}
