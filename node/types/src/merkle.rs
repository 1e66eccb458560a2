//! A simple binary Merkle root over a list of hashes (tx root, receipt root).
//!
//! Leaves and inner nodes are hashed in different domains (no second-preimage trick), and an
//! odd node at the end of a level is promoted unchanged (no duplication, so no CVE-2012-2459
//! style ambiguity). The root of the empty list is [`Hash::ZERO`]; the length is mixed into
//! the root so lists of different lengths never share a root.

use crate::hash::{Domain, Hash};

/// The Merkle root of `leaves`.
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return Hash::ZERO;
    }
    let mut level: Vec<Hash> = leaves
        .iter()
        .map(|l| Hash::digest(Domain::MerkleLeaf, &l.0))
        .collect();
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            match pair {
                [a, b] => {
                    let mut h = Domain::MerkleNode.hasher();
                    h.update(&a.0);
                    h.update(&b.0);
                    next.push(Hash(*h.finalize().as_bytes()));
                }
                [a] => next.push(*a),
                _ => unreachable!("chunks(2) yields one or two"),
            }
        }
        level = next;
    }
    let mut h = Domain::MerkleNode.hasher();
    h.update(&(leaves.len() as u64).to_le_bytes());
    h.update(&level[0].0);
    Hash(*h.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u8) -> Hash {
        Hash::digest(Domain::Tx, &[i])
    }

    #[test]
    fn roots_differ() {
        assert_eq!(merkle_root(&[]), Hash::ZERO);
        let a = merkle_root(&[h(1), h(2), h(3)]);
        assert_ne!(a, merkle_root(&[h(1), h(3), h(2)]));
        assert_ne!(a, merkle_root(&[h(1), h(2)]));
        assert_ne!(merkle_root(&[h(1)]), h(1));
        assert_eq!(a, merkle_root(&[h(1), h(2), h(3)]));
    }
}
