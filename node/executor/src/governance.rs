//! On-chain governance: proposals, validator approvals and scheduled configuration changes.
//!
//! Everything lives in the state tree under node-owned keys (`layout::system_key`), so every
//! block commits to it and every node computes it alike:
//!
//! - `config`: the [`ChainConfig`] in force for the next block (validators, deploy policy,
//!   consensus parameters);
//! - `proposal/<id>`: each [`ProposalRecord`] with its approvals;
//! - `scheduled`: at most one approved change waiting for its activation height.
//!
//! A proposal is approved once 2f+1 validators of the current set have signed an `Approve`
//! transaction (the proposer's own `Propose` counts as its approval). If that happens in
//! block `A`, the change applies from height `A + activation_delay`: the end of block
//! `A + activation_delay - 1` writes the new `config`, so the state after block `h - 1` always
//! holds the configuration of height `h`. The delay is at least 2 so every validator knows the
//! next set before it has to verify signatures for that height.

use crate::error::ExecutorError;
use phalanx_genesis::{
    ChainConfig, DeployPolicy, GovernancePolicy, MAX_VALIDATORS, is_valid_point, validate_peer_id,
};
use phalanx_runtime::{Overlay, layout};
use phalanx_storage::{StateStore, StorageError};
use phalanx_types::{
    Address, Admin, GovernanceAction, Height, Proposal, Validator, ValidatorSet, decode, encode,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Where a proposal stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProposalStatus {
    /// Collecting approvals (until its expiry height).
    Pending,
    /// Approved; applies from `activates_at`.
    Scheduled {
        /// The height of the block in which it reached 2f+1 approvals.
        approved_at: Height,
        /// The first height it governs.
        activates_at: Height,
    },
    /// In force since `activated_at`.
    Applied {
        /// The height of the block in which it reached 2f+1 approvals.
        approved_at: Height,
        /// The first height it governed.
        activated_at: Height,
    },
}

/// A governance proposal as stored on chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalRecord {
    /// Sequential id, from 1.
    pub id: u64,
    /// The change.
    pub change: Proposal,
    /// Whether the proposer overrode the quorum-reachability check.
    pub force: bool,
    /// Who proposed it.
    pub proposer: Address,
    /// The height of the block that created it.
    pub created_at: Height,
    /// The last height at which it can still be approved.
    pub expires_at: Height,
    /// Validators that approved it, in order.
    pub approvals: Vec<Address>,
    /// Where it stands.
    pub status: ProposalStatus,
}

impl ProposalRecord {
    /// True if it can no longer be approved at `height` (still pending after its expiry).
    pub fn expired_at(&self, height: Height) -> bool {
        self.status == ProposalStatus::Pending && height > self.expires_at
    }
}

/// An approved change waiting for its height.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduled {
    /// The proposal it comes from.
    pub proposal_id: u64,
    /// The first height the new configuration governs.
    pub activates_at: Height,
    /// The configuration from that height on.
    pub config: ChainConfig,
}

fn config_key() -> Vec<u8> {
    layout::system_key(b"config")
}

fn scheduled_key() -> Vec<u8> {
    layout::system_key(b"scheduled")
}

fn next_id_key() -> Vec<u8> {
    layout::system_key(b"next_proposal")
}

const PROPOSAL_PREFIX: &[u8] = b"proposal/";

fn proposal_key(id: u64) -> Vec<u8> {
    let mut name = PROPOSAL_PREFIX.to_vec();
    name.extend_from_slice(&id.to_be_bytes());
    layout::system_key(&name)
}

/// The state key of the configuration record (for proofs of the validator set).
pub fn config_state_key() -> Vec<u8> {
    config_key()
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> ExecutorError {
    ExecutorError::Storage(StorageError::Corrupt {
        column: "state",
        reason: format!("{what}: {e}"),
    })
}

fn parse<T: DeserializeOwned>(
    what: &str,
    bytes: Option<Vec<u8>>,
) -> Result<Option<T>, ExecutorError> {
    bytes
        .map(|b| decode(&b).map_err(|e| corrupt(what, e)))
        .transpose()
}

/// The records governance writes into the genesis state.
pub fn genesis_records(config: &ChainConfig) -> Vec<(Vec<u8>, Vec<u8>)> {
    vec![(config_key(), encode(config))]
}

/// Decodes a stored configuration record.
pub fn decode_config(bytes: Option<Vec<u8>>) -> Result<Option<ChainConfig>, ExecutorError> {
    parse("chain config", bytes)
}

/// The committed configuration (for the next block); `None` in a store written before
/// governance existed.
pub fn committed_config(state: &StateStore) -> Result<Option<ChainConfig>, ExecutorError> {
    decode_config(state.get(&config_key())?)
}

/// The committed scheduled change, if any.
pub fn committed_scheduled(state: &StateStore) -> Result<Option<Scheduled>, ExecutorError> {
    parse("scheduled change", state.get(&scheduled_key())?)
}

/// The committed proposal `id`.
pub fn committed_proposal(
    state: &StateStore,
    id: u64,
) -> Result<Option<ProposalRecord>, ExecutorError> {
    parse("proposal", state.get(&proposal_key(id))?)
}

/// Up to `limit` committed proposals with ids from `from_id` on, in id order.
pub fn committed_proposals(
    state: &StateStore,
    from_id: u64,
    limit: usize,
) -> Result<Vec<ProposalRecord>, ExecutorError> {
    let prefix = layout::system_key(PROPOSAL_PREFIX);
    let start = proposal_key(from_id);
    // `scan` starts at `start` inclusive.
    state
        .scan(&prefix, Some(&start), limit)?
        .into_iter()
        .map(|(_, v)| decode(&v).map_err(|e| corrupt("proposal", e)))
        .collect()
}

fn get<T: DeserializeOwned>(
    overlay: &Overlay,
    what: &str,
    key: &[u8],
) -> Result<Option<T>, ExecutorError> {
    parse(what, overlay.get(key)?)
}

/// What block execution needs to know about governance.
#[derive(Debug, Clone)]
pub struct GovEnv<'a> {
    /// Chain id (evidence signatures are bound to it).
    pub chain_id: &'a str,
    /// The height of the block being executed.
    pub height: Height,
    /// The genesis policy.
    pub policy: &'a GovernancePolicy,
}

/// Carries out a governance action for `sender`. `Ok` holds the JSON return data; `Err` is
/// why the action was refused (the transaction fails and changes nothing but its nonce). The
/// outer error is a storage fault of the node.
pub fn apply(
    overlay: &mut Overlay,
    env: &GovEnv<'_>,
    sender: &Address,
    action: &GovernanceAction,
) -> Result<Result<Vec<u8>, String>, ExecutorError> {
    let Some(config) = get::<ChainConfig>(overlay, "chain config", &config_key())? else {
        return Ok(Err("this chain has no governance record".into()));
    };
    let mut record = match action {
        GovernanceAction::Propose { change, force } => {
            if !env.policy.may_propose(sender, &config.validators) {
                return Ok(Err(format!(
                    "{sender} may not propose: only validators{} may",
                    match env.policy.proposers {
                        phalanx_genesis::Proposers::Validators => "",
                        phalanx_genesis::Proposers::Admins(_) => " and governance admins",
                    }
                )));
            }
            // Refuse a change that cannot apply to the current configuration now, rather
            // than after validators spent approvals on it.
            if let Err(reason) = apply_change(&config, change, *force, env.chain_id) {
                return Ok(Err(reason));
            }
            if let Err(reason) = check_contract_change(overlay, change)? {
                return Ok(Err(reason));
            }
            let id = get::<u64>(overlay, "proposal counter", &next_id_key())?.unwrap_or(1);
            overlay.set(next_id_key(), encode(&(id + 1)));
            ProposalRecord {
                id,
                change: change.clone(),
                force: *force,
                proposer: *sender,
                created_at: env.height,
                expires_at: env.height.saturating_add(env.policy.proposal_ttl),
                approvals: if config.validators.contains(sender) {
                    vec![*sender]
                } else {
                    Vec::new()
                },
                status: ProposalStatus::Pending,
            }
        }
        GovernanceAction::Approve { proposal_id } => {
            if !config.validators.contains(sender) {
                return Ok(Err(format!(
                    "{sender} is not a validator and may not approve"
                )));
            }
            let Some(mut record) =
                get::<ProposalRecord>(overlay, "proposal", &proposal_key(*proposal_id))?
            else {
                return Ok(Err(format!("no proposal #{proposal_id}")));
            };
            if record.status != ProposalStatus::Pending {
                return Ok(Err(format!("proposal #{proposal_id} is no longer pending")));
            }
            if record.expired_at(env.height) {
                return Ok(Err(format!(
                    "proposal #{proposal_id} expired at height {}",
                    record.expires_at
                )));
            }
            if record.approvals.contains(sender) {
                return Ok(Err(format!("{sender} already approved #{proposal_id}")));
            }
            record.approvals.push(*sender);
            record
        }
    };
    if let Err(reason) = try_schedule(overlay, env, &config, &mut record)? {
        return Ok(Err(reason));
    }
    overlay.set(proposal_key(record.id), encode(&record));
    let status = match record.status {
        ProposalStatus::Pending => "pending".to_string(),
        ProposalStatus::Scheduled { activates_at, .. } => format!("scheduled for {activates_at}"),
        ProposalStatus::Applied { .. } => "applied".to_string(),
    };
    let approvals = count_approvals(&record, &config.validators);
    Ok(Ok(format!(
        r#"{{"proposal_id":{},"status":"{status}","approvals":{approvals},"needed":{}}}"#,
        record.id,
        config.validators.quorum()
    )
    .into_bytes()))
}

fn count_approvals(record: &ProposalRecord, validators: &ValidatorSet) -> usize {
    record
        .approvals
        .iter()
        .filter(|a| validators.contains(a))
        .count()
}

/// Schedules `record` if 2f+1 current validators approved it.
fn try_schedule(
    overlay: &mut Overlay,
    env: &GovEnv<'_>,
    config: &ChainConfig,
    record: &mut ProposalRecord,
) -> Result<Result<(), String>, ExecutorError> {
    if count_approvals(record, &config.validators) < config.validators.quorum() {
        return Ok(Ok(()));
    }
    if let Some(s) = get::<Scheduled>(overlay, "scheduled change", &scheduled_key())? {
        return Ok(Err(format!(
            "proposal #{} is already scheduled for height {}; approve #{} once it applies",
            s.proposal_id, s.activates_at, record.id
        )));
    }
    let next = match apply_change(config, &record.change, record.force, env.chain_id) {
        Ok(next) => next,
        Err(reason) => return Ok(Err(reason)),
    };
    let activates_at = env.height.saturating_add(env.policy.activation_delay);
    record.status = ProposalStatus::Scheduled {
        approved_at: env.height,
        activates_at,
    };
    let scheduled = Scheduled {
        proposal_id: record.id,
        activates_at,
        config: next,
    };
    overlay.set(scheduled_key(), encode(&scheduled));
    Ok(Ok(()))
}

/// Runs after the last transaction of block `height`: a change scheduled for `height + 1`
/// becomes the configuration.
pub fn end_block(overlay: &mut Overlay, height: Height) -> Result<(), ExecutorError> {
    let Some(s) = get::<Scheduled>(overlay, "scheduled change", &scheduled_key())? else {
        return Ok(());
    };
    if s.activates_at != height + 1 {
        return Ok(());
    }
    overlay.set(config_key(), encode(&s.config));
    overlay.remove(scheduled_key())?;
    if let Some(mut record) =
        get::<ProposalRecord>(overlay, "proposal", &proposal_key(s.proposal_id))?
        && let ProposalStatus::Scheduled {
            approved_at,
            activates_at,
        } = record.status
    {
        apply_contract_change(overlay, &record.change)?;
        record.status = ProposalStatus::Applied {
            approved_at,
            activated_at: activates_at,
        };
        overlay.set(proposal_key(record.id), encode(&record));
    }
    Ok(())
}

/// The configuration after `change`, or why it is refused. The safety rules:
/// - the set never becomes empty and stays at most [`MAX_VALIDATORS`];
/// - keys and peer ids are valid and unique;
/// - unless `force`, the validators that stay can reach the new quorum on their own, so a
///   change never makes the chain wait for nodes that may not be running yet (adding three
///   validators to four at once would need five votes from the four that are running).
pub fn apply_change(
    config: &ChainConfig,
    change: &Proposal,
    force: bool,
    chain_id: &str,
) -> Result<ChainConfig, String> {
    let mut next = config.clone();
    match change {
        Proposal::AddValidator {
            public_key,
            peer_id,
        } => {
            if !is_valid_point(public_key) {
                return Err("the public key is not a valid ed25519 key".into());
            }
            validate_peer_id(peer_id, "peer_id").map_err(|e| e.to_string())?;
            let v = Validator::new(*public_key, peer_id.clone());
            if config.validators.contains(&v.address) {
                return Err(format!("{} is already a validator", v.address));
            }
            if config
                .validators
                .validators
                .iter()
                .any(|x| x.peer_id == *peer_id)
            {
                return Err(format!("peer id {peer_id} already belongs to a validator"));
            }
            if config.validators.len() >= MAX_VALIDATORS {
                return Err(format!(
                    "the set already has the maximum of {MAX_VALIDATORS}"
                ));
            }
            next.validators.validators.push(v);
        }
        Proposal::RemoveValidator { address, evidence } => {
            if !config.validators.contains(address) {
                return Err(format!("{address} is not a validator"));
            }
            if let Some(ev) = evidence {
                ev.verify(chain_id, &config.validators)
                    .map_err(|e| format!("the evidence does not hold: {e}"))?;
                if ev.offender() != *address {
                    return Err(format!(
                        "the evidence is against {}, not {address}",
                        ev.offender()
                    ));
                }
            }
            if config.validators.len() == 1 {
                return Err("the last validator cannot be removed".into());
            }
            next.validators.validators.retain(|v| v.address != *address);
        }
        Proposal::AllowDeployer { address } => match &mut next.deploy_policy {
            DeployPolicy::Anyone => return Err("anyone may deploy already".into()),
            DeployPolicy::Allowlist(list) => {
                if list.contains(address) {
                    return Err(format!("{address} may deploy already"));
                }
                list.push(*address);
            }
        },
        Proposal::RevokeDeployer { address } => match &mut next.deploy_policy {
            DeployPolicy::Anyone => {
                return Err("the deploy policy is \"anyone\"; there is no allowlist".into());
            }
            DeployPolicy::Allowlist(list) => {
                if !list.contains(address) {
                    return Err(format!("{address} is not on the deploy allowlist"));
                }
                list.retain(|a| a != address);
            }
        },
        Proposal::SetParam { name, value } => {
            next.params.set(name, *value).map_err(|e| e.to_string())?;
        }
        // Contract changes leave the configuration alone (checked and applied against the
        // contract's records: `check_contract_change`, `apply_contract_change`).
        Proposal::MigrateContract { .. } | Proposal::SetContractAdmin { .. } => {}
    }
    if !force {
        let staying = next
            .validators
            .validators
            .iter()
            .filter(|v| config.validators.contains(&v.address))
            .count();
        let quorum = next.validators.quorum();
        if quorum > staying {
            return Err(format!(
                "the new set of {} needs {quorum} votes but only {staying} of its validators \
                 are voting now; the chain would halt until the new ones run \
                 (propose with force if they do, or add them one at a time)",
                next.validators.len()
            ));
        }
    }
    Ok(next)
}

/// The contract a contract change is about must exist and be administered by governance.
fn check_contract_change(
    overlay: &Overlay,
    change: &Proposal,
) -> Result<Result<(), String>, ExecutorError> {
    let (Proposal::MigrateContract { contract, .. } | Proposal::SetContractAdmin { contract, .. }) =
        change
    else {
        return Ok(Ok(()));
    };
    if overlay.get(&layout::contract_key(contract))?.is_none() {
        return Ok(Err(format!("no contract at {contract}")));
    }
    match admin(overlay, contract)? {
        Some(Admin::Governance) => Ok(Ok(())),
        Some(Admin::Account(a)) => Ok(Err(format!(
            "the admin of {contract} is {a}, not governance: it migrates the contract itself"
        ))),
        None => Ok(Err(format!("{contract} has no admin: it is immutable"))),
    }
}

fn admin(overlay: &Overlay, contract: &Address) -> Result<Option<Admin>, ExecutorError> {
    get::<Admin>(overlay, "contract admin", &layout::admin_key(contract))
}

/// Carries out an applied contract change: records the approved migration (spent by the
/// `Migrate` transaction that performs it) or writes the new admin. A contract whose admin
/// stopped being governance meanwhile is left alone.
fn apply_contract_change(overlay: &mut Overlay, change: &Proposal) -> Result<(), ExecutorError> {
    match change {
        Proposal::MigrateContract {
            contract,
            code_hash,
            args,
        } if admin(overlay, contract)? == Some(Admin::Governance) => {
            overlay.set(
                layout::migration_key(contract),
                phalanx_runtime::lifecycle::migration_grant(code_hash, &args.0),
            );
        }
        Proposal::SetContractAdmin {
            contract,
            admin: next,
        } if admin(overlay, contract)? == Some(Admin::Governance) => {
            phalanx_runtime::lifecycle::write_admin(overlay, contract, *next)?;
        }
        _ => {}
    }
    Ok(())
}
