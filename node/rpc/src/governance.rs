//! Governance reads: the validator set at a height, proposals and their approvals.

use crate::Rpc;
use crate::api::{
    DeployPolicyView, ProposalParams, ProposalView, ProposalsPage, ProposalsParams, ScheduledView,
    SetProof, SetProofParams, ValidatorView, ValidatorsParams, set_view,
};
use crate::jsonrpc::{NOT_FOUND, RpcError};
use base64::Engine;
use phalanx_executor::governance::{
    self, committed_proposal, committed_proposals, committed_scheduled,
};
use phalanx_types::encode;

/// Most proposals per `gov_proposals` page.
const MAX_PROPOSALS: usize = 100;

/// `chain_getValidators {height?}`: the set that decides `height` (the next block by
/// default). It is the configuration stored in the state after block `height - 1`.
pub(crate) fn validators(rpc: &Rpc, p: ValidatorsParams) -> Result<Vec<ValidatorView>, RpcError> {
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

/// `chain_getValidatorSetProof {height}`: the validator set deciding `height` with what a
/// client needs to check it without trusting the node: the configuration record in the state
/// after block `height - 1`, its Merkle proof against that block's state root, and that
/// block's header and commit certificate (signed by the set before). Walking these from
/// genesis across each change proves the set of any height.
pub(crate) fn set_proof(rpc: &Rpc, p: SetProofParams) -> Result<SetProof, RpcError> {
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
    Ok(SetProof {
        height: p.height,
        validators: set_view(&config.validators),
        config_raw: b64(&raw),
        state_key: b64(&key),
        proof: b64(&encode(&proof)),
        header_raw: b64(&encode(&header)),
        certificate_raw: b64(&encode(&cert)),
    })
}

/// `gov_proposals {from_id?, limit?}`: proposals in id order, with the current configuration
/// and any scheduled change.
pub(crate) fn proposals(rpc: &Rpc, p: ProposalsParams) -> Result<ProposalsPage, RpcError> {
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
    Ok(ProposalsPage {
        proposals: list.iter().map(|r| ProposalView::new(r, next)).collect(),
        next_from_id: if list.len() == limit {
            list.last().map(|r| r.id + 1)
        } else {
            None
        },
        validators: config.as_ref().map(|c| set_view(&c.validators)),
        quorum: config.as_ref().map(|c| c.validators.quorum()),
        deploy_policy: config
            .as_ref()
            .map(|c| DeployPolicyView::new(&c.deploy_policy)),
        params: config
            .as_ref()
            .map(|c| serde_json::to_value(&c.params))
            .transpose()
            .map_err(RpcError::internal)?,
        scheduled: scheduled.as_ref().map(ScheduledView::new),
    })
}

/// `gov_proposal {id}`.
pub(crate) fn proposal(rpc: &Rpc, p: ProposalParams) -> Result<ProposalView, RpcError> {
    let next = rpc.blocks.latest_height().map_err(RpcError::internal)? + 1;
    committed_proposal(&rpc.state, p.id)
        .map_err(RpcError::internal)?
        .map(|r| ProposalView::new(&r, next))
        .ok_or_else(|| RpcError::new(NOT_FOUND, format!("no proposal #{}", p.id)))
}
