//! Governance reads: the validator set at a height, proposals and their approvals.

use crate::Rpc;
use crate::jsonrpc::{NOT_FOUND, RpcError};
use base64::Engine;
use phalanx_executor::governance::{
    self, ProposalRecord, ProposalStatus, committed_proposal, committed_proposals,
    committed_scheduled,
};
use phalanx_genesis::DeployPolicy;
use phalanx_types::{GovernanceAction, Height, Proposal, ValidatorSet, encode};
use serde::Deserialize;
use serde_json::{Value, json};

/// Most proposals per `gov_proposals` page.
const MAX_PROPOSALS: usize = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValidatorsParams {
    height: Option<Height>,
}

fn set_view(set: &ValidatorSet) -> Value {
    json!(
        set.validators
            .iter()
            .map(
                |v| json!({"address": v.address, "public_key": v.public_key, "peer_id": v.peer_id})
            )
            .collect::<Vec<_>>()
    )
}

/// `chain_getValidators {height?}`: the set that decides `height` (the next block by
/// default). It is the configuration stored in the state after block `height - 1`.
pub(crate) fn validators(rpc: &Rpc, p: ValidatorsParams) -> Result<Value, RpcError> {
    let latest = rpc.blocks.latest_height().map_err(RpcError::internal)?;
    let height = p.height.unwrap_or(latest + 1);
    if height == 0 || height > latest + 1 {
        return Err(RpcError::new(
            NOT_FOUND,
            format!(
                "no validator set for height {height}: heights 1 to {} (the next block)",
                latest + 1
            ),
        ));
    }
    rpc.check_state(height - 1)?;
    let value = rpc
        .state
        .get_at(&governance::config_state_key(), height - 1)
        .map_err(|e| {
            rpc.check_state(height - 1)
                .err()
                .unwrap_or_else(|| RpcError::internal(e))
        })?;
    // Pruned between the check and the read: the value may be missing.
    rpc.check_state(height - 1)?;
    let config = governance::decode_config(value)
        .map_err(RpcError::internal)?
        .ok_or_else(|| RpcError::internal("no configuration record in state"))?;
    Ok(set_view(&config.validators))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetProofParams {
    height: Height,
}

/// `chain_getValidatorSetProof {height}`: the validator set deciding `height` with what a
/// client needs to check it without trusting the node: the configuration record in the state
/// after block `height - 1`, its Merkle proof against that block's state root, and that
/// block's header and commit certificate (signed by the set before). Walking these from
/// genesis across each change proves the set of any height.
pub(crate) fn set_proof(rpc: &Rpc, p: SetProofParams) -> Result<Value, RpcError> {
    let latest = rpc.blocks.latest_height().map_err(RpcError::internal)?;
    if p.height < 2 || p.height > latest + 1 {
        return Err(RpcError::new(
            NOT_FOUND,
            format!(
                "no proven validator set for height {}: heights 2 to {} (height 1 is genesis's)",
                p.height,
                latest + 1
            ),
        ));
    }
    let version = p.height - 1;
    let key = governance::config_state_key();
    // Saved when a change takes effect, so it outlives pruning.
    let saved =
        phalanx_storage::prune::set_proof(&*rpc.kv, p.height).map_err(RpcError::internal)?;
    let (raw, proof, header, cert) = match saved {
        Some(s) => (s.config_raw, s.proof, s.header, s.certificate),
        None => {
            rpc.check_provable(version)?;
            let (value, proof) = rpc.state.get_with_proof(&key, version).map_err(|e| {
                rpc.check_provable(version)
                    .err()
                    .unwrap_or_else(|| RpcError::internal(e))
            })?;
            let raw =
                value.ok_or_else(|| RpcError::internal("no configuration record in state"))?;
            let (block, cert) = rpc.certified_block(version)?;
            (raw, proof, block.header, cert)
        }
    };
    let config = governance::decode_config(Some(raw.clone()))
        .map_err(RpcError::internal)?
        .ok_or_else(|| RpcError::internal("no configuration record in state"))?;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    Ok(json!({
        "height": p.height,
        "validators": set_view(&config.validators),
        "config_raw": b64(&raw),
        "state_key": b64(&key),
        "proof": b64(&encode(&proof)),
        "header_raw": b64(&encode(&header)),
        "certificate_raw": b64(&encode(&cert)),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProposalsParams {
    #[serde(default)]
    from_id: u64,
    limit: Option<usize>,
}

/// `gov_proposals {from_id?, limit?}`: proposals in id order, with the current configuration
/// and any scheduled change.
pub(crate) fn proposals(rpc: &Rpc, p: ProposalsParams) -> Result<Value, RpcError> {
    let limit = p.limit.unwrap_or(MAX_PROPOSALS);
    if limit == 0 || limit > MAX_PROPOSALS {
        return Err(RpcError::params(format!(
            "limit must be 1 to {MAX_PROPOSALS}"
        )));
    }
    let next = rpc.blocks.latest_height().map_err(RpcError::internal)? + 1;
    let list = committed_proposals(&rpc.state, p.from_id, limit).map_err(RpcError::internal)?;
    let config = governance::committed_config(&rpc.state).map_err(RpcError::internal)?;
    let scheduled = committed_scheduled(&rpc.state).map_err(RpcError::internal)?;
    Ok(json!({
        "proposals": list.iter().map(|r| record_view(r, next)).collect::<Vec<_>>(),
        "next_from_id": (list.len() == limit).then(|| list.last().map(|r| r.id + 1)),
        "validators": config.as_ref().map(|c| set_view(&c.validators)),
        "quorum": config.as_ref().map(|c| c.validators.quorum()),
        "deploy_policy": config.as_ref().map(|c| policy_view(&c.deploy_policy)),
        "params": config.as_ref().map(|c| json!(c.params)),
        "scheduled": scheduled.map(|s| json!({
            "proposal_id": s.proposal_id,
            "activates_at": s.activates_at,
            "validators": set_view(&s.config.validators),
        })),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProposalParams {
    id: u64,
}

/// `gov_proposal {id}`.
pub(crate) fn proposal(rpc: &Rpc, p: ProposalParams) -> Result<Value, RpcError> {
    let next = rpc.blocks.latest_height().map_err(RpcError::internal)? + 1;
    committed_proposal(&rpc.state, p.id)
        .map_err(RpcError::internal)?
        .map(|r| record_view(&r, next))
        .ok_or_else(|| RpcError::new(NOT_FOUND, format!("no proposal #{}", p.id)))
}

fn policy_view(p: &DeployPolicy) -> Value {
    match p {
        DeployPolicy::Anyone => json!("anyone"),
        DeployPolicy::Allowlist(list) => json!({ "allowlist": list }),
    }
}

/// A change as JSON: `{"type": ..., fields}`.
pub fn change_view(change: &Proposal) -> Value {
    match change {
        Proposal::AddValidator {
            public_key,
            peer_id,
        } => json!({"type": "add_validator", "public_key": public_key, "peer_id": peer_id,
                    "address": public_key.address()}),
        Proposal::RemoveValidator { address, evidence } => json!({
            "type": "remove_validator",
            "address": address,
            "evidence": evidence.as_ref().map(|e| json!({
                "height": e.height(),
                "view": e.first.statement.view,
                "phase": format!("{:?}", e.first.statement.phase),
            })),
        }),
        Proposal::AllowDeployer { address } => {
            json!({"type": "allow_deployer", "address": address})
        }
        Proposal::RevokeDeployer { address } => {
            json!({"type": "revoke_deployer", "address": address})
        }
        Proposal::SetParam { name, value } => {
            json!({"type": "set_param", "name": name, "value": value})
        }
        Proposal::MigrateContract {
            contract,
            code_hash,
            args,
        } => json!({"type": "migrate_contract", "contract": contract, "code_hash": code_hash,
                    "args": String::from_utf8_lossy(&args.0)}),
        Proposal::SetContractAdmin { contract, admin } => json!({"type": "set_contract_admin",
            "contract": contract, "admin": admin.map(|a| a.to_string())}),
    }
}

/// A governance action as JSON (for transaction views).
pub fn action_view(action: &GovernanceAction) -> Value {
    match action {
        GovernanceAction::Propose { change, force } => {
            json!({"action": "propose", "change": change_view(change), "force": force})
        }
        GovernanceAction::Approve { proposal_id } => {
            json!({"action": "approve", "proposal_id": proposal_id})
        }
    }
}

fn record_view(r: &ProposalRecord, next_height: Height) -> Value {
    let (status, approved_at, activates_at) = match r.status {
        ProposalStatus::Pending if r.expired_at(next_height) => ("expired", None, None),
        ProposalStatus::Pending => ("pending", None, None),
        ProposalStatus::Scheduled {
            approved_at,
            activates_at,
        } => ("scheduled", Some(approved_at), Some(activates_at)),
        ProposalStatus::Applied {
            approved_at,
            activated_at,
        } => ("applied", Some(approved_at), Some(activated_at)),
    };
    json!({
        "id": r.id,
        "change": change_view(&r.change),
        "force": r.force,
        "proposer": r.proposer,
        "created_at": r.created_at,
        "expires_at": r.expires_at,
        "approvals": r.approvals,
        "status": status,
        "approved_at": approved_at,
        "activates_at": activates_at,
    })
}
