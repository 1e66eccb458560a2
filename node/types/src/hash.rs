//! Domain-separated blake3 hashing.
//!
//! Every kind of object hashes under its own [`Domain`], so bytes that are valid as one kind
//! can never collide with the hash of another kind. Each domain is a blake3 keyed hash whose
//! key is derived (blake3 `derive_key`) from a fixed context string.

use crate::bytes::fixed_bytes;
use std::sync::OnceLock;

fixed_bytes!(
    /// A 32-byte blake3 hash.
    Hash,
    32
);

/// What a hash is of. Adding a domain is a consensus change; never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Domain {
    /// A transaction's signing payload.
    TxSign = 0,
    /// A signed transaction (its id).
    Tx = 1,
    /// A block header (the block's id).
    Header = 2,
    /// A consensus message's signing payload.
    ConsensusSign = 3,
    /// An account address from a public key.
    Address = 4,
    /// A contract address.
    ContractAddress = 5,
    /// A validator set.
    ValidatorSet = 6,
    /// A genesis document.
    Genesis = 7,
    /// A receipt.
    Receipt = 8,
    /// A leaf of a binary Merkle tree (tx root, receipt root).
    MerkleLeaf = 9,
    /// An inner node of a binary Merkle tree.
    MerkleNode = 10,
    /// The authenticated state tree.
    StateTree = 11,
    /// Contract code.
    Code = 12,
    /// The content of a VIEW-CHANGE or NEW-VIEW (what its signature's digest covers).
    ConsensusContent = 13,
}

const DOMAIN_COUNT: usize = 14;

impl Domain {
    fn context(self) -> &'static str {
        match self {
            Domain::TxSign => "phalanx 2026 tx-sign v1",
            Domain::Tx => "phalanx 2026 tx v1",
            Domain::Header => "phalanx 2026 header v1",
            Domain::ConsensusSign => "phalanx 2026 consensus-sign v1",
            Domain::Address => "phalanx 2026 address v1",
            Domain::ContractAddress => "phalanx 2026 contract-address v1",
            Domain::ValidatorSet => "phalanx 2026 validator-set v1",
            Domain::Genesis => "phalanx 2026 genesis v1",
            Domain::Receipt => "phalanx 2026 receipt v1",
            Domain::MerkleLeaf => "phalanx 2026 merkle-leaf v1",
            Domain::MerkleNode => "phalanx 2026 merkle-node v1",
            Domain::StateTree => "phalanx 2026 state-tree v1",
            Domain::Code => "phalanx 2026 code v1",
            Domain::ConsensusContent => "phalanx 2026 consensus-content v1",
        }
    }

    fn key(self) -> &'static [u8; 32] {
        static KEYS: OnceLock<[[u8; 32]; DOMAIN_COUNT]> = OnceLock::new();
        const ALL: [Domain; DOMAIN_COUNT] = [
            Domain::TxSign,
            Domain::Tx,
            Domain::Header,
            Domain::ConsensusSign,
            Domain::Address,
            Domain::ContractAddress,
            Domain::ValidatorSet,
            Domain::Genesis,
            Domain::Receipt,
            Domain::MerkleLeaf,
            Domain::MerkleNode,
            Domain::StateTree,
            Domain::Code,
            Domain::ConsensusContent,
        ];
        let keys = KEYS.get_or_init(|| ALL.map(|d| blake3::derive_key(d.context(), b"")));
        &keys[self as usize]
    }

    /// A hasher for this domain, to feed several pieces.
    pub fn hasher(self) -> blake3::Hasher {
        blake3::Hasher::new_keyed(self.key())
    }
}

impl Hash {
    /// The all-zero hash (parent of the first block, empty roots).
    pub const ZERO: Hash = Hash([0u8; 32]);

    /// Hashes `data` in `domain`.
    pub fn digest(domain: Domain, data: &[u8]) -> Hash {
        Hash(*blake3::keyed_hash(domain.key(), data).as_bytes())
    }

    /// Hashes the canonical encoding of `value` in `domain`.
    pub fn of<T: serde::Serialize + ?Sized>(domain: Domain, value: &T) -> Hash {
        let mut hasher = domain.hasher();
        crate::encoding::encode_into_hasher(value, &mut hasher);
        Hash(*hasher.finalize().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_separate() {
        let a = Hash::digest(Domain::Tx, b"x");
        let b = Hash::digest(Domain::Header, b"x");
        assert_ne!(a, b);
        assert_eq!(a, Hash::digest(Domain::Tx, b"x"));
    }

    #[test]
    fn hex_round_trip_and_json() {
        let h = Hash::digest(Domain::Code, b"abc");
        assert_eq!(Hash::from_hex(&h.to_hex()).unwrap(), h);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{}\"", h.to_hex()));
        assert_eq!(serde_json::from_str::<Hash>(&json).unwrap(), h);
        assert_eq!(crate::encode(&h).len(), 32);
        assert!(Hash::from_hex("zz").is_err());
    }
}
