//! ed25519 keys and signatures, and addresses.
//!
//! Keys sign with ed25519-dalek. Two verification rules are used, each everywhere it applies:
//!
//! * **Consensus messages and certificates**: strict RFC 8032 verification (ed25519-dalek's
//!   `verify_strict`: small-order keys and non-canonical signatures are refused).
//! * **Transactions**: [ZIP-215](https://zips.z.cash/zip-0215) (ed25519-zebra): the cofactored
//!   equation `[8][s]B = [8]R + [8][k]A`, `s` canonical, any valid point encoding for `A` and
//!   `R`. Every signature valid under RFC 8032 is valid here. ZIP-215 was written so that
//!   batch verification accepts exactly the signatures single verification accepts, which
//!   makes batches safe where every node must agree: [`SignatureBatch`] verifies many
//!   transaction signatures at about 40% of the cost of one-by-one checks.

use crate::bytes::fixed_bytes;
use crate::error::TypesError;
use crate::hash::{Domain, Hash};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

fixed_bytes!(
    /// An account or contract address: 32 bytes. For an account it is the domain-separated
    /// hash of its ed25519 public key; for a contract it is derived at instantiation.
    Address,
    32
);

fixed_bytes!(
    /// An ed25519 public key (compressed Edwards point). Checked when used.
    PublicKey,
    32
);

fixed_bytes!(
    /// An ed25519 signature.
    Signature,
    64
);

impl Address {
    /// The address of the account controlled by `key`.
    pub fn from_public_key(key: &PublicKey) -> Address {
        Address(Hash::digest(Domain::Address, &key.0).0)
    }
}

impl PublicKey {
    /// The account address of this key.
    pub fn address(&self) -> Address {
        Address::from_public_key(self)
    }

    fn verifying_key(&self) -> Result<VerifyingKey, TypesError> {
        VerifyingKey::from_bytes(&self.0).map_err(|_| TypesError::InvalidPublicKey)
    }

    /// Checks a transaction signature under ZIP-215 (see the module docs); agrees with
    /// [`SignatureBatch`].
    pub fn verify_zip215(&self, message: &[u8], signature: &Signature) -> Result<(), TypesError> {
        let key = ed25519_zebra::VerificationKey::try_from(self.0)
            .map_err(|_| TypesError::InvalidPublicKey)?;
        key.verify(&ed25519_zebra::Signature::from_bytes(&signature.0), message)
            .map_err(|_| TypesError::InvalidSignature)
    }

    /// Strict ed25519 verification of `signature` over `message` (rejects small-order keys
    /// and non-canonical signatures, so signatures are not malleable). The rule for
    /// consensus messages.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), TypesError> {
        #[cfg(feature = "test-support")]
        if let Some(known) = memo::lookup(self, message, signature) {
            return known;
        }
        let result = self.verify_uncached(message, signature);
        #[cfg(feature = "test-support")]
        memo::store(self, message, signature, &result);
        result
    }

    fn verify_uncached(&self, message: &[u8], signature: &Signature) -> Result<(), TypesError> {
        let key = self.verifying_key()?;
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        key.verify_strict(message, &sig)
            .map_err(|_| TypesError::InvalidSignature)
    }
}

/// TEST ONLY (feature `test-support`, and off unless a thread turns it on): remembers the
/// result of each strict verification on this thread. A simulator that runs N replicas in
/// one process verifies every message N − 1 times; with the memo each (key, message,
/// signature) is checked once and later checks return that same result.
#[cfg(feature = "test-support")]
pub mod memo {
    use super::{PublicKey, Signature, TypesError};
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;

    type Key = ([u8; 32], Vec<u8>, [u8; 64]);

    thread_local! {
        static ON: Cell<bool> = const { Cell::new(false) };
        static SEEN: RefCell<HashMap<Key, bool>> = RefCell::new(HashMap::new());
    }

    /// Most results remembered; the memo starts over when full.
    const CAPACITY: usize = 1 << 20;

    /// Turns the memo on for this thread.
    pub fn enable() {
        ON.with(|on| on.set(true));
    }

    pub(super) fn lookup(
        key: &PublicKey,
        message: &[u8],
        signature: &Signature,
    ) -> Option<Result<(), TypesError>> {
        if !ON.with(Cell::get) {
            return None;
        }
        let k = (key.0, message.to_vec(), signature.0);
        SEEN.with(|seen| seen.borrow().get(&k).copied()).map(|ok| {
            if ok {
                Ok(())
            } else {
                Err(TypesError::InvalidSignature)
            }
        })
    }

    pub(super) fn store(
        key: &PublicKey,
        message: &[u8],
        signature: &Signature,
        result: &Result<(), TypesError>,
    ) {
        if !ON.with(Cell::get) || matches!(result, Err(TypesError::InvalidPublicKey)) {
            return;
        }
        SEEN.with(|seen| {
            let mut seen = seen.borrow_mut();
            if seen.len() >= CAPACITY {
                seen.clear();
            }
            seen.insert((key.0, message.to_vec(), signature.0), result.is_ok());
        });
    }
}

/// An ed25519 secret key. Never printed: `Debug` is redacted and the bytes are zeroized on drop.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> SecretKey {
        SecretKey(SigningKey::generate(&mut rand_core::OsRng))
    }

    /// A key from a 32-byte seed (tests and deterministic tooling).
    pub fn from_seed(seed: [u8; 32]) -> SecretKey {
        SecretKey(SigningKey::from_bytes(&seed))
    }

    /// The 32-byte seed, in a buffer that is wiped when dropped.
    pub fn to_seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// Parses a hex seed.
    pub fn from_hex(s: &str) -> Result<SecretKey, TypesError> {
        let seed = Zeroizing::new(crate::bytes::parse_hex_fixed::<32>(s)?);
        Ok(SecretKey::from_seed(*seed))
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// The account address.
    pub fn address(&self) -> Address {
        self.public_key().address()
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes())
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey(<redacted>, public {})", self.public_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify() {
        let k = SecretKey::from_seed([7; 32]);
        let sig = k.sign(b"hello");
        assert!(k.public_key().verify(b"hello", &sig).is_ok());
        assert_eq!(
            k.public_key().verify(b"hellO", &sig),
            Err(TypesError::InvalidSignature)
        );
        let mut bad = sig;
        bad.0[3] ^= 1;
        assert!(k.public_key().verify(b"hello", &bad).is_err());
    }

    #[test]
    fn secret_debug_is_redacted() {
        let k = SecretKey::from_seed([9; 32]);
        let dbg = format!("{k:?}");
        assert!(!dbg.contains(&hex::encode([9u8; 32])));
        assert!(dbg.contains("redacted"));
    }

    #[test]
    fn invalid_public_key_is_an_error() {
        // y = 2 is not on the curve for any x in this encoding? Use a known non-point.
        let mut found = false;
        for b in 0..=255u8 {
            let pk = PublicKey([b; 32]);
            if pk.verify(b"m", &Signature([0; 64])) == Err(TypesError::InvalidPublicKey) {
                found = true;
                break;
            }
        }
        assert!(found, "some 32-byte strings are not valid points");
    }
}

/// Batch verification of ZIP-215 signatures ([`PublicKey::verify_zip215`]): true when every
/// queued signature is valid. By ZIP-215 a batch of valid signatures always passes, and a
/// batch holding an invalid one passes with probability at most 2^-128 (random 128-bit
/// coefficients, from a stream keyed by the operating system's randomness). On `false`, check each signature alone to find
/// the bad ones.
#[derive(Default)]
pub struct SignatureBatch {
    verifier: ed25519_zebra::batch::Verifier,
    len: usize,
}

impl std::fmt::Debug for SignatureBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureBatch")
            .field("len", &self.len)
            .finish()
    }
}

impl SignatureBatch {
    /// An empty batch.
    pub fn new() -> SignatureBatch {
        SignatureBatch::default()
    }

    /// Queues `signature` by `key` over `message`.
    pub fn queue(&mut self, key: &PublicKey, message: &[u8], signature: &Signature) {
        let key = ed25519_zebra::VerificationKeyBytes::from(key.0);
        let signature = ed25519_zebra::Signature::from_bytes(&signature.0);
        self.verifier.queue((key, signature, message));
        self.len += 1;
    }

    /// Signatures queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether every queued signature is valid (see the type docs). Also false if the
    /// operating system gives no randomness; the caller then checks each signature alone.
    pub fn verify(self) -> bool {
        match BatchRng::from_os() {
            Some(rng) => self.verifier.verify(rng).is_ok(),
            None => false,
        }
    }
}

/// The batch's random coefficients: blake3's output stream under a key drawn once from the
/// operating system (one system call per batch instead of one per signature, and no panic
/// if randomness is unavailable).
struct BatchRng(blake3::OutputReader);

impl BatchRng {
    fn from_os() -> Option<BatchRng> {
        use rand_core::RngCore;
        let mut key = Zeroizing::new([0u8; 32]);
        rand_core::OsRng.try_fill_bytes(&mut *key).ok()?;
        Some(BatchRng(
            blake3::Hasher::new_keyed(&key)
                .update(b"phalanx signature batch")
                .finalize_xof(),
        ))
    }
}

impl rand_core::RngCore for BatchRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.0.fill(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.0.fill(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.fill(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for BatchRng {}
