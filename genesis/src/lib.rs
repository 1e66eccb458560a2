//! The genesis document: what a chain starts from.
//!
//! A JSON file (`config/genesis.json`) with the chain id, genesis time, validators (ed25519
//! keys and libp2p peer ids), optional observers, consensus parameters, the deploy policy and
//! contracts preloaded at genesis. Parsing is strict (unknown fields are errors) and
//! [`Genesis::validate`] explains what is wrong. [`Genesis::hash`] is deterministic: every node
//! computes the same hash from the same document, whatever its formatting.

mod error;
mod governance;
mod params;

pub use error::GenesisError;
pub use governance::{ChainConfig, GovernancePolicy, MAX_VALIDATORS, Proposers};
pub use params::ConsensusParams;

use phalanx_types::{Address, Bytes, Domain, Hash, PublicKey, Validator, ValidatorSet};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::Path;

/// Longest accepted genesis file (contract code is inlined): 32 MiB.
pub const MAX_GENESIS_BYTES: usize = 32 * 1024 * 1024;

/// A validator named in genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    /// Human-readable name (logs only).
    #[serde(default)]
    pub name: String,
    /// ed25519 consensus key (hex).
    pub public_key: PublicKey,
    /// libp2p peer id of the validator's node (base58).
    pub peer_id: String,
}

/// A non-voting node allowed to connect and sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisObserver {
    /// Human-readable name.
    #[serde(default)]
    pub name: String,
    /// libp2p peer id (base58).
    pub peer_id: String,
}

/// Who may deploy contracts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DeployPolicy {
    /// Any account.
    Anyone,
    /// Only these accounts.
    Allowlist(Vec<Address>),
}

impl DeployPolicy {
    /// True if `address` may deploy contracts under this policy.
    pub fn allows(&self, address: &Address) -> bool {
        match self {
            DeployPolicy::Anyone => true,
            DeployPolicy::Allowlist(list) => list.contains(address),
        }
    }
}

/// A contract instantiated at genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisContract {
    /// Name (logs and docs only).
    pub name: String,
    /// The wasm module, base64.
    pub code: Bytes,
    /// The account recorded as deployer (it receives, for example, a token's supply).
    pub deployer: Address,
    /// JSON arguments of `init`, as a JSON string (kept verbatim so the hash is exact).
    #[serde(default)]
    pub init_args: String,
}

/// The genesis document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// Chain id: 1 to 64 characters of `[a-z0-9-_.]`.
    pub chain_id: String,
    /// Genesis time, milliseconds since the Unix epoch; the first block must be later.
    pub genesis_time_ms: u64,
    /// The initial validators, in primary-rotation order.
    pub validators: Vec<GenesisValidator>,
    /// Non-voting nodes allowed to connect.
    #[serde(default)]
    pub observers: Vec<GenesisObserver>,
    /// Consensus parameters.
    #[serde(default)]
    pub params: ConsensusParams,
    /// Who may deploy contracts.
    pub deploy_policy: DeployPolicy,
    /// Contracts preloaded at genesis.
    #[serde(default)]
    pub contracts: Vec<GenesisContract>,
    /// Who may propose governance changes and when approved changes apply.
    #[serde(default)]
    pub governance: GovernancePolicy,
}

impl Genesis {
    /// Parses and validates a genesis document.
    pub fn from_json(json: &str) -> Result<Genesis, GenesisError> {
        if json.len() > MAX_GENESIS_BYTES {
            return Err(GenesisError::TooLarge(json.len()));
        }
        let g: Genesis =
            serde_json::from_str(json).map_err(|e| GenesisError::Parse(e.to_string()))?;
        g.validate()?;
        Ok(g)
    }

    /// Reads, parses and validates a genesis file.
    pub fn load(path: impl AsRef<Path>) -> Result<Genesis, GenesisError> {
        let path = path.as_ref();
        let json = std::fs::read_to_string(path)
            .map_err(|e| GenesisError::Io(format!("{}: {e}", path.display())))?;
        Genesis::from_json(&json)
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("genesis serializes")
    }

    /// Checks every rule; the error names the offending field.
    pub fn validate(&self) -> Result<(), GenesisError> {
        validate_chain_id(&self.chain_id)?;
        if self.validators.is_empty() {
            return Err(GenesisError::NoValidators);
        }
        let mut keys = BTreeSet::new();
        let mut peers = BTreeSet::new();
        for (i, v) in self.validators.iter().enumerate() {
            if !is_valid_point(&v.public_key) {
                return Err(GenesisError::InvalidPublicKey { index: i });
            }
            if !keys.insert(v.public_key) {
                return Err(GenesisError::DuplicateValidator(v.public_key.to_hex()));
            }
            validate_peer_id(&v.peer_id, &format!("validators[{i}].peer_id"))?;
            if !peers.insert(v.peer_id.clone()) {
                return Err(GenesisError::DuplicatePeerId(v.peer_id.clone()));
            }
        }
        for (i, o) in self.observers.iter().enumerate() {
            validate_peer_id(&o.peer_id, &format!("observers[{i}].peer_id"))?;
            if !peers.insert(o.peer_id.clone()) {
                return Err(GenesisError::DuplicatePeerId(o.peer_id.clone()));
            }
        }
        if self.validators.len() > MAX_VALIDATORS {
            return Err(GenesisError::Invalid {
                field: "validators".into(),
                reason: format!("at most {MAX_VALIDATORS}"),
            });
        }
        self.params.validate()?;
        self.governance.validate()?;
        for (i, c) in self.contracts.iter().enumerate() {
            if c.code.is_empty() {
                return Err(GenesisError::Invalid {
                    field: format!("contracts[{i}].code"),
                    reason: "empty".into(),
                });
            }
            if !c.init_args.is_empty()
                && serde_json::from_str::<serde_json::Value>(&c.init_args).is_err()
            {
                return Err(GenesisError::Invalid {
                    field: format!("contracts[{i}].init_args"),
                    reason: "not valid JSON".into(),
                });
            }
        }
        Ok(())
    }

    /// The deterministic genesis hash: the domain-separated blake3 hash of the document's
    /// canonical binary encoding (independent of JSON whitespace and field order).
    pub fn hash(&self) -> Hash {
        Hash::of(Domain::Genesis, self)
    }

    /// The initial validator set.
    pub fn validator_set(&self) -> ValidatorSet {
        ValidatorSet::new(
            self.validators
                .iter()
                .map(|v| Validator::new(v.public_key, v.peer_id.clone()))
                .collect(),
        )
    }

    /// The chain configuration at height 1 (before any governance change).
    pub fn config(&self) -> ChainConfig {
        ChainConfig {
            validators: self.validator_set(),
            deploy_policy: self.deploy_policy.clone(),
            params: self.params.clone(),
        }
    }

    /// True if `address` may deploy contracts at genesis.
    pub fn may_deploy(&self, address: &Address) -> bool {
        self.deploy_policy.allows(address)
    }
}

fn validate_chain_id(id: &str) -> Result<(), GenesisError> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c);
    if id.is_empty() || id.len() > phalanx_types::tx::MAX_CHAIN_ID_LEN || !id.chars().all(ok_char) {
        return Err(GenesisError::Invalid {
            field: "chain_id".into(),
            reason: format!(
                "{id:?} must be 1 to {} characters of [a-z0-9-_.]",
                phalanx_types::tx::MAX_CHAIN_ID_LEN
            ),
        });
    }
    Ok(())
}

/// Checks that `peer_id` looks like a base58 libp2p peer id; the error names `field`.
pub fn validate_peer_id(peer_id: &str, field: &str) -> Result<(), GenesisError> {
    // libp2p peer ids are base58btc multihashes, 46 to 59 characters for ed25519 keys.
    const B58: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    if peer_id.len() < 32 || peer_id.len() > 128 || !peer_id.chars().all(|c| B58.contains(c)) {
        return Err(GenesisError::Invalid {
            field: field.into(),
            reason: format!("{peer_id:?} is not a base58 libp2p peer id"),
        });
    }
    Ok(())
}

/// True if `key` is a usable ed25519 public key.
pub fn is_valid_point(key: &PublicKey) -> bool {
    // A key that cannot verify anything is not a usable validator key.
    !matches!(
        key.verify(b"", &phalanx_types::Signature([0; 64])),
        Err(phalanx_types::TypesError::InvalidPublicKey)
    )
}
