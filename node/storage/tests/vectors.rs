//! Golden state-proof vectors for clients outside Rust (docs/WIRE.md, section 7), kept with
//! the other vectors in `node/types/tests/vectors/proofs.json`. Fails if the code and the file
//! disagree; `PHALANX_UPDATE_VECTORS=1` rewrites it.

#[path = "../../types/tests/golden/mod.rs"]
mod golden;

use golden::hex;
use phalanx_storage::*;
use phalanx_types::*;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;

fn golden(name: &str, value: &Value) {
    golden::golden(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../types"),
        name,
        value,
    );
}

/// The state key of a contract storage key (`0x03 ++ contract ++ key`).
fn storage_key(contract: &[u8; 32], key: &[u8]) -> Vec<u8> {
    [&[3u8][..], contract, key].concat()
}

/// docs/WIRE.md section 7, implemented from the text alone (raw bytes and keyed blake3, no
/// `jmt`): what a client outside Rust does. `None` if the bytes are not a proof.
fn verify_as_documented(
    root: &[u8; 32],
    key: &[u8],
    value: Option<&[u8]>,
    proof: &[u8],
) -> Option<bool> {
    let h = |parts: &[&[u8]]| {
        let mut x = Domain::StateTree.hasher();
        parts.iter().for_each(|p| {
            x.update(p);
        });
        *x.finalize().as_bytes()
    };
    let leaf_hash = |k: &[u8], v: &[u8]| h(&[b"JMT::LeafNode", k, v]);
    let inner = |l: &[u8], r: &[u8]| h(&[b"JMT::IntrnalNode", l, r]);
    let mut at = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let s = proof.get(at..at + n)?;
        at += n;
        Some(s)
    };
    let leaf = match take(1)?[0] {
        0 => None,
        1 => Some((take(32)?.to_vec(), take(32)?.to_vec())),
        _ => return None,
    };
    let count = u64::from_le_bytes(take(8)?.try_into().ok()?) as usize;
    let mut siblings = Vec::new();
    for _ in 0..count.min(256) {
        let hash = match u32::from_le_bytes(take(4)?.try_into().ok()?) {
            0 => *b"SPARSE_MERKLE_PLACEHOLDER_HASH__",
            1 => {
                let left = take(32)?;
                inner(left, take(32)?)
            }
            2 => {
                let k = take(32)?;
                leaf_hash(k, take(32)?)
            }
            _ => return None,
        };
        siblings.push(hash);
    }
    if at != proof.len() || count > 256 {
        return None;
    }
    let key_hash = h(&[key]);
    let bit = |depth: usize| key_hash[depth / 8] >> (7 - depth % 8) & 1 == 1;
    let start = match (&leaf, value) {
        (Some((k, v)), Some(value)) => {
            if k[..] != key_hash || v[..] != h(&[value]) {
                return Some(false);
            }
            leaf_hash(k, v)
        }
        (Some((k, v)), None) => {
            // Another key's leaf, in the subtree this key would have to share with it.
            let shared = (0..256)
                .take_while(|&d| (k[d / 8] >> (7 - d % 8) & 1 == 1) == bit(d))
                .count();
            if k[..] == key_hash || shared < siblings.len() {
                return Some(false);
            }
            leaf_hash(k, v)
        }
        (None, Some(_)) => return Some(false),
        _ => *b"SPARSE_MERKLE_PLACEHOLDER_HASH__",
    };
    let n = siblings.len();
    let computed = siblings.iter().enumerate().fold(start, |node, (i, sib)| {
        if bit(n - 1 - i) {
            inner(sib, &node)
        } else {
            inner(&node, sib)
        }
    });
    Some(computed == *root)
}

#[test]
fn proofs() {
    let kv: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
    let state = StateStore::new(kv.clone());
    let contract = [0xc0u8; 32];
    let entries: Vec<(Vec<u8>, Vec<u8>)> = (0u8..5)
        .map(|i| {
            (
                storage_key(&contract, &[b'b', i]),
                format!("\"{}\"", 1000 * (u32::from(i) + 1)).into_bytes(),
            )
        })
        .collect();
    let changes: StateChanges = entries
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    let mut batch = WriteBatch::new();
    let root = state.stage_commit(&mut batch, 1, &changes).unwrap();
    kv.write(batch, Durability::Sync).unwrap();
    let hash = |b: &[u8]| Hash::digest(Domain::StateTree, b).to_hex();
    let (present, absent) = (&entries[2].0, storage_key(&contract, b"missing"));
    let mut cases = Vec::new();
    for (key, expect) in [
        (present.clone(), Some(entries[2].1.clone())),
        (absent, None),
    ] {
        let (value, proof) = state.get_with_proof(&key, 1).unwrap();
        assert_eq!(value, expect);
        verify_state_proof(root, &key, value.as_deref(), &proof).unwrap();
        // The documented algorithm agrees with the code, both ways.
        let bytes = encode(&proof);
        assert_eq!(
            verify_as_documented(&root.0, &key, value.as_deref(), &bytes),
            Some(true)
        );
        assert_eq!(
            verify_as_documented(&root.0, &key, Some(b"\"0\""), &bytes),
            Some(false)
        );
        let mut wrong_root = root.0;
        wrong_root[0] ^= 1;
        assert_eq!(
            verify_as_documented(&wrong_root, &key, value.as_deref(), &bytes),
            Some(false)
        );
        // The same proof does not hold for another value.
        assert!(verify_state_proof(root, &key, Some(b"\"0\""), &proof).is_err());
        cases.push(json!({
            "state_key": hex(&key),
            "key_hash": hash(&key),
            "value": value.as_deref().map(hex),
            "value_hash": value.as_deref().map(hash),
            "proof_encoding": hex(&encode(&proof)),
        }));
    }
    golden(
        "proofs",
        &json!({
            "state": entries.iter().map(|(k, v)| json!({"state_key": hex(k), "value": hex(v)})).collect::<Vec<_>>(),
            "root": root.to_hex(),
            "proofs": cases,
        }),
    );
}
