//! Validator sets: who votes, and the pBFT quorum arithmetic.

use crate::crypto::{Address, PublicKey};
use crate::hash::{Domain, Hash};
use serde::{Deserialize, Serialize};

/// One validator. All validators have equal weight (pBFT counts replicas, not stake).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validator {
    /// Address derived from `public_key`.
    pub address: Address,
    /// ed25519 key that signs consensus messages.
    pub public_key: PublicKey,
    /// libp2p peer id (base58) of the validator's node.
    pub peer_id: String,
}

impl Validator {
    /// A validator from its key and peer id.
    pub fn new(public_key: PublicKey, peer_id: impl Into<String>) -> Validator {
        Validator {
            address: public_key.address(),
            public_key,
            peer_id: peer_id.into(),
        }
    }
}

/// An ordered set of validators. The order is fixed (genesis or governance order) and
/// decides the primary: view `v` is led by `validators[v mod n]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorSet {
    /// The validators, in primary-rotation order.
    pub validators: Vec<Validator>,
}

impl ValidatorSet {
    /// A set from a list.
    pub fn new(validators: Vec<Validator>) -> ValidatorSet {
        ValidatorSet { validators }
    }

    /// n.
    pub fn len(&self) -> usize {
        self.validators.len()
    }

    /// True if there are no validators.
    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }

    /// f = ⌊(n − 1) / 3⌋, the number of Byzantine replicas tolerated.
    pub fn max_faulty(&self) -> usize {
        self.len().saturating_sub(1) / 3
    }

    /// Votes needed to prepare or commit, and view changes needed for a new view:
    /// ⌈(n + f + 1) / 2⌉, which is 2f + 1 when n = 3f + 1. Any two quorums then share at least
    /// f + 1 validators, so at least one honest one, whatever n is. (A plain 2f + 1 is unsafe
    /// when n is not 3f + 1: with n = 5, two quorums of 3 overlap in a single validator, which
    /// may be the Byzantine one; with n = 2, two quorums of 1 need not overlap at all.)
    pub fn quorum(&self) -> usize {
        (self.len() + self.max_faulty() + 2) / 2
    }

    /// f + 1: enough to contain at least one honest replica.
    pub fn weak_quorum(&self) -> usize {
        self.max_faulty() + 1
    }

    /// The primary of `view`.
    pub fn primary(&self, view: u64) -> &Validator {
        &self.validators[(view % self.len() as u64) as usize]
    }

    /// Position of `address` in the set.
    pub fn index_of(&self, address: &Address) -> Option<usize> {
        self.validators.iter().position(|v| v.address == *address)
    }

    /// The validator with `address`.
    pub fn get(&self, address: &Address) -> Option<&Validator> {
        self.validators.iter().find(|v| v.address == *address)
    }

    /// True if `address` is a validator.
    pub fn contains(&self, address: &Address) -> bool {
        self.get(address).is_some()
    }

    /// The set's commitment, stored in every header.
    pub fn hash(&self) -> Hash {
        Hash::of(Domain::ValidatorSet, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretKey;

    fn set(n: usize) -> ValidatorSet {
        ValidatorSet::new(
            (0..n)
                .map(|i| Validator::new(SecretKey::from_seed([i as u8; 32]).public_key(), "p"))
                .collect(),
        )
    }

    #[test]
    fn quorum_arithmetic() {
        for (n, f, q) in [
            (1, 0, 1),
            (2, 0, 2),
            (3, 0, 2),
            (4, 1, 3),
            (5, 1, 4),
            (6, 1, 4),
            (7, 2, 5),
            (16, 5, 11),
        ] {
            let s = set(n);
            assert_eq!(s.max_faulty(), f, "n={n}");
            assert_eq!(s.quorum(), q, "n={n}");
        }
        for n in 1..=128 {
            let s = set(n);
            let (q, f) = (s.quorum(), s.max_faulty());
            // Safety: two quorums share an honest validator. Liveness: the honest ones are
            // a quorum by themselves.
            assert!(2 * q > n + f, "n={n}");
            assert!(q <= n - f, "n={n}");
        }
    }

    #[test]
    fn primary_rotates() {
        let s = set(4);
        assert_eq!(s.primary(0).address, s.validators[0].address);
        assert_eq!(s.primary(5).address, s.validators[1].address);
    }
}
