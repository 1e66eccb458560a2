//! Governance rules fixed at genesis, and the chain configuration that governance changes.

use crate::{ConsensusParams, DeployPolicy, GenesisError};
use phalanx_types::{Address, ValidatorSet};
use serde::{Deserialize, Serialize};

/// Largest validator set governance may build.
pub const MAX_VALIDATORS: usize = 128;

/// Who may open a governance proposal. Approvals always come from validators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Proposers {
    /// Any current validator (the default).
    #[default]
    Validators,
    /// Current validators and these admin accounts.
    Admins(Vec<Address>),
}

/// The governance policy: who proposes, how long proposals live and how late changes apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GovernancePolicy {
    /// Who may propose.
    pub proposers: Proposers,
    /// A change approved in block `A` applies from height `A + activation_delay` (at least 2,
    /// so every node knows the new validator set before the height it signs for).
    pub activation_delay: u64,
    /// A proposal not approved within this many blocks of its creation expires.
    pub proposal_ttl: u64,
}

impl Default for GovernancePolicy {
    fn default() -> Self {
        GovernancePolicy {
            proposers: Proposers::Validators,
            activation_delay: 2,
            proposal_ttl: 100_000,
        }
    }
}

impl GovernancePolicy {
    /// True if `address` may open a proposal while `validators` is the set.
    pub fn may_propose(&self, address: &Address, validators: &ValidatorSet) -> bool {
        validators.contains(address)
            || matches!(&self.proposers, Proposers::Admins(admins) if admins.contains(address))
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), GenesisError> {
        let bad = |field: &str, reason: &str| {
            Err(GenesisError::Invalid {
                field: format!("governance.{field}"),
                reason: reason.into(),
            })
        };
        if !(2..=10_000).contains(&self.activation_delay) {
            return bad("activation_delay", "must be between 2 and 10000 blocks");
        }
        if self.proposal_ttl == 0 {
            return bad("proposal_ttl", "must be positive");
        }
        Ok(())
    }
}

/// The rules in force at a height that governance can change: the validator set, who may
/// deploy and the consensus parameters. Kept in the state tree, so every block commits to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainConfig {
    /// The validators, in primary-rotation order.
    pub validators: ValidatorSet,
    /// Who may deploy contracts.
    pub deploy_policy: DeployPolicy,
    /// Block and timing parameters.
    pub params: ConsensusParams,
}

impl ConsensusParams {
    /// Names of the parameters [`ConsensusParams::set`] accepts.
    pub const NAMES: [&'static str; 8] = [
        "block_gas_limit",
        "max_tx_gas",
        "max_block_bytes",
        "max_block_txs",
        "block_interval_ms",
        "view_timeout_ms",
        "max_view_timeout_ms",
        "max_clock_drift_ms",
    ];

    /// Sets the parameter `name` to `value` and checks the result.
    pub fn set(&mut self, name: &str, value: u64) -> Result<(), GenesisError> {
        let slot = match name {
            "block_gas_limit" => &mut self.block_gas_limit,
            "max_tx_gas" => &mut self.max_tx_gas,
            "max_block_bytes" => &mut self.max_block_bytes,
            "max_block_txs" => {
                self.max_block_txs = u32::try_from(value).map_err(|_| GenesisError::Invalid {
                    field: "params.max_block_txs".into(),
                    reason: "too large".into(),
                })?;
                return self.validate();
            }
            "block_interval_ms" => &mut self.block_interval_ms,
            "view_timeout_ms" => &mut self.view_timeout_ms,
            "max_view_timeout_ms" => &mut self.max_view_timeout_ms,
            "max_clock_drift_ms" => &mut self.max_clock_drift_ms,
            other => {
                return Err(GenesisError::Invalid {
                    field: format!("params.{other}"),
                    reason: format!("unknown parameter; one of {}", Self::NAMES.join(", ")),
                });
            }
        };
        *slot = value;
        self.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_checks_name_and_range() {
        let mut p = ConsensusParams::default();
        p.set("block_interval_ms", 500).unwrap();
        assert_eq!(p.block_interval_ms, 500);
        assert!(p.set("nope", 1).is_err());
        let mut q = ConsensusParams::default();
        assert!(q.set("block_interval_ms", 1_000_000).is_err());
        assert!(q.set("max_block_txs", u64::MAX).is_err());
        for name in ConsensusParams::NAMES {
            let mut r = ConsensusParams::default();
            assert!(r.set(name, 0).is_err(), "{name} = 0 must be refused");
        }
    }
}
