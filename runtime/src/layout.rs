//! Where the runtime keeps things in the state tree. Every key starts with a one-byte tag, so
//! the spaces never overlap:
//!
//! | key | value |
//! |---|---|
//! | `0x00 ++ address` | account record (owned by the node: nonce) |
//! | `0x01 ++ code_hash` | wasm code, stored once per hash |
//! | `0x02 ++ address` | [`ContractInfo`] |
//! | `0x03 ++ address ++ key` | a contract's storage |
//! | `0x04 ++ name` | chain records owned by the node (governance), out of contracts' reach |
//! | `0x05 ++ address` | how many committed storage keys the contract has ever deleted (u64 LE; prices iteration) |
//! | `0x06 ++ address` | the contract's admin (absent: immutable) |
//! | `0x07 ++ address` | a migration governance approved for a governance-administered contract |

use crate::error::RuntimeError;
use phalanx_types::{Address, Domain, Hash, Height, decode, encode};
use serde::{Deserialize, Serialize};

const ACCOUNT: u8 = 0x00;
const CODE: u8 = 0x01;
const CONTRACT: u8 = 0x02;
const STORAGE: u8 = 0x03;
const SYSTEM: u8 = 0x04;
const DELETIONS: u8 = 0x05;
const ADMIN: u8 = 0x06;
const MIGRATION: u8 = 0x07;

fn tagged(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = 1 + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut key = Vec::with_capacity(len);
    key.push(tag);
    for p in parts {
        key.extend_from_slice(p);
    }
    key
}

/// Key of an account record.
pub fn account_key(address: &Address) -> Vec<u8> {
    tagged(ACCOUNT, &[&address.0])
}

/// Key of stored wasm code.
pub fn code_key(code_hash: &Hash) -> Vec<u8> {
    tagged(CODE, &[&code_hash.0])
}

/// Prefix of every stored code (`code_key` of any hash).
pub fn code_prefix() -> Vec<u8> {
    vec![CODE]
}

/// The code hash a [`code_key`] names, if `key` is one.
pub fn code_hash_of_key(key: &[u8]) -> Option<Hash> {
    match key {
        [CODE, rest @ ..] => <[u8; 32]>::try_from(rest).ok().map(Hash),
        _ => None,
    }
}

/// Key of a contract's metadata.
pub fn contract_key(address: &Address) -> Vec<u8> {
    tagged(CONTRACT, &[&address.0])
}

/// Prefix of every storage key of `contract`.
pub fn storage_prefix(contract: &Address) -> Vec<u8> {
    tagged(STORAGE, &[&contract.0])
}

/// Full state key of a contract-relative storage key.
pub fn storage_key(contract: &Address, key: &[u8]) -> Vec<u8> {
    tagged(STORAGE, &[&contract.0, key])
}

/// Key of the count of committed storage keys `contract` has deleted. Each such deletion
/// leaves a tombstone in the node's database that iteration may have to step over until it is
/// compacted away, which no node can predict; so iteration is priced by this count.
pub fn deletions_key(contract: &Address) -> Vec<u8> {
    tagged(DELETIONS, &[&contract.0])
}

/// Key of a contract's admin record (who may migrate it).
pub fn admin_key(contract: &Address) -> Vec<u8> {
    tagged(ADMIN, &[&contract.0])
}

/// Key of the migration governance approved for `contract` (code hash and arguments).
pub fn migration_key(contract: &Address) -> Vec<u8> {
    tagged(MIGRATION, &[&contract.0])
}

/// Key of a chain record owned by the node (governance state); contracts cannot reach it.
pub fn system_key(name: &[u8]) -> Vec<u8> {
    tagged(SYSTEM, &[name])
}

/// Length of [`storage_prefix`], to strip it from full keys.
pub const STORAGE_PREFIX_LEN: usize = 1 + Address::LEN;

/// The hash that names a piece of wasm code.
pub fn code_hash(code: &[u8]) -> Hash {
    Hash::digest(Domain::Code, code)
}

/// The deterministic address of the contract instantiated by `deployer`'s transaction with
/// `nonce` (genesis contracts use their index in the genesis file as the nonce).
pub fn contract_address(deployer: &Address, nonce: u64) -> Address {
    Address(Hash::of(Domain::ContractAddress, &(deployer, nonce)).0)
}

/// What the chain records about an instantiated contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractInfo {
    /// Hash of its code.
    pub code_hash: Hash,
    /// The account that instantiated it.
    pub deployer: Address,
    /// Height of the block that instantiated it (0 for genesis).
    pub height: Height,
    /// Length of its code in bytes (prices loading it).
    pub code_len: u32,
    /// Bytes its data segments copy into every new instance (prices instantiating it).
    pub data_len: u32,
}

impl ContractInfo {
    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes a stored record.
    pub fn from_bytes(bytes: &[u8]) -> Result<ContractInfo, RuntimeError> {
        decode(bytes).map_err(|e| RuntimeError::Corrupt {
            what: "contract info",
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_spaces_do_not_overlap_and_storage_keys_nest() {
        let a = Address([7; 32]);
        let h = Hash([7; 32]);
        let keys = [
            account_key(&a),
            code_key(&h),
            contract_key(&a),
            storage_key(&a, b""),
            deletions_key(&a),
            admin_key(&a),
            migration_key(&a),
        ];
        for (i, k) in keys.iter().enumerate() {
            for l in &keys[i + 1..] {
                assert_ne!(k, l);
            }
        }
        let k = storage_key(&a, b"balance");
        assert!(k.starts_with(&storage_prefix(&a)));
        assert_eq!(&k[STORAGE_PREFIX_LEN..], b"balance");
    }

    #[test]
    fn contract_addresses_depend_on_deployer_and_nonce() {
        let a = Address([1; 32]);
        let b = Address([2; 32]);
        assert_ne!(contract_address(&a, 0), contract_address(&a, 1));
        assert_ne!(contract_address(&a, 0), contract_address(&b, 0));
        assert_eq!(contract_address(&a, 5), contract_address(&a, 5));
    }
}
