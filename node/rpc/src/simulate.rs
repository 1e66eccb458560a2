//! `tx_simulate`: runs a transaction against the latest committed state (or a retained
//! height's, `height`) without committing anything, to learn its outcome and the gas it uses.
//!
//! - `{tx}`: a signed transaction, executed exactly as a block would execute it next (the
//!   same executor: nonce, intrinsic gas, deploy policy, governance), as the only
//!   transaction of a block at the next height. The signature is checked too, unless
//!   `skip_signature` is set. Deploys are refused: compiling would cache the module on disk
//!   for anyone who asks.
//!
//! Each simulation holds one of the runtime's query slots (as `contract_query` does), so
//! clients never take the instances block execution needs.
//! - `{call: {from?, address, method, args?, gas?}}`: a contract call as account `from`
//!   (default the zero address), without a transaction: `gas_used` adds the intrinsic gas of
//!   a call transaction of that size, so it is what the transaction would pay.
//!
//! Nothing is written; the state changes are summarized (`writes`: keys set and deleted,
//! bytes written). Runs on the blocking pool, snapshot-consistent ([`Rpc::consistent`]).

use crate::Rpc;
use crate::api::{
    CallParams, EventView, Outcome, ReceiptView, SimulateParams, Simulation, TxError, Writes, data,
    is_deploy,
};
use crate::contracts::ReadAt;
use crate::jsonrpc::{BAD_TX, BUSY, NOT_FOUND, RpcError};
use base64::Engine;
use phalanx_executor::block::{BlockEnv, execute_block_with, intrinsic_gas};
use phalanx_executor::governance;
use phalanx_genesis::ChainConfig;
use phalanx_runtime::{BlockInfo, Overlay, StateChanges, StateRead, TxEnv};
use phalanx_types::{
    Address, Bytes, Height, PublicKey, Signature, SignedTx, Tx, TxPayload, decode,
};
use serde_json::Value;
use std::sync::Arc;

/// What the state changes amount to.
fn writes(changes: &StateChanges) -> Writes {
    let (mut set, mut deleted, mut bytes) = (0u64, 0u64, 0u64);
    for (key, value) in changes.iter() {
        match value {
            Some(v) => {
                set += 1;
                bytes += (key.len() + v.len()) as u64;
            }
            None => deleted += 1,
        }
    }
    Writes {
        keys_set: set,
        keys_deleted: deleted,
        bytes,
    }
}

pub(crate) async fn simulate(rpc: &Arc<Rpc>, p: SimulateParams) -> Result<Simulation, RpcError> {
    match (p.tx, p.call) {
        (Some(tx), None) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(tx.trim())
                .map_err(|e| RpcError::params(format!("tx is not base64: {e}")))?;
            let tx: SignedTx = decode(&bytes)
                .map_err(|e| RpcError::new(BAD_TX, format!("undecodable transaction: {e}")))?;
            let (skip, at) = (p.skip_signature, p.height);
            // A deploy compiles its code and keeps the compiled module: a simulation must
            // not make a node do that for anyone who asks.
            if matches!(
                tx.tx.payload,
                TxPayload::Deploy { .. } | TxPayload::Migrate { code: Some(_), .. }
            ) {
                return Err(RpcError::params(
                    "transactions that bring code are not simulated (compiling would cache the module); give it a gas limit",
                ));
            }
            rpc.consistent(move |r| {
                let at = ReadAt::new(r, at)?;
                busy(r.runtime.with_query_slot(|| signed(r, &at, &tx, skip)))
            })
            .await
        }
        (None, Some(call)) => {
            let args = match &call.args {
                Value::Null => Vec::new(),
                v => serde_json::to_vec(v).map_err(RpcError::internal)?,
            };
            let at = p.height;
            rpc.consistent(move |r| {
                let at = ReadAt::new(r, at)?;
                busy(r.runtime.with_query_slot(|| unsigned(r, &at, &call, &args)))
            })
            .await
        }
        _ => Err(RpcError::params("give exactly one of tx and call")),
    }
}

/// A simulation run in a query slot: all taken is "busy", as for `contract_query`.
fn busy(
    r: Result<Result<Simulation, RpcError>, phalanx_runtime::RuntimeError>,
) -> Result<Simulation, RpcError> {
    r.map_err(|_| RpcError::new(BUSY, "too many queries at once; retry"))?
}

/// The state a simulation reads, the block it runs in (the one after the state's, at that
/// state's block time), and the chain configuration in force there.
fn setting(
    rpc: &Rpc,
    at: &ReadAt,
) -> Result<(Arc<dyn StateRead>, Height, u64, ChainConfig), RpcError> {
    let (base, height, time_ms) = at.view(rpc)?;
    let config = base
        .get(&governance::config_state_key())
        .map_err(RpcError::internal)
        .and_then(|b| governance::decode_config(b).map_err(RpcError::internal))?
        .ok_or_else(|| RpcError::internal("no configuration record in state"))?;
    Ok((base, height + 1, time_ms, config))
}

fn signed(
    rpc: &Rpc,
    at: &ReadAt,
    tx: &SignedTx,
    skip_signature: bool,
) -> Result<Simulation, RpcError> {
    let (base, height, time_ms, config) = setting(rpc, at)?;
    let env = BlockEnv {
        chain_id: rpc.info.chain_id.clone(),
        height,
        time_ms,
        params: config.params,
        deploy_policy: config.deploy_policy,
        governance: rpc.info.governance.clone(),
        leave_out_unfit: false,
    };
    let txs = std::slice::from_ref(tx);
    let executed = execute_block_with(&rpc.runtime, base, &env, txs, &|_| skip_signature);
    match executed {
        Ok(e) => {
            let receipt = e
                .receipts
                .first()
                .ok_or_else(|| RpcError::internal("no receipt"))?;
            let r = ReceiptView::new(receipt, is_deploy(tx));
            Ok(Simulation {
                tx_hash: Some(r.tx_hash),
                status: r.status,
                gas_used: r.gas_used,
                return_value: r.return_value,
                events: r.events,
                height,
                index: Some(r.index),
                error: r.error,
                writes: writes(&e.changes),
            })
        }
        // The transaction could not enter a block now (bad nonce, gas limit out of
        // bounds, bad signature): say why, as tx_submit would.
        Err(phalanx_executor::ExecutorError::Invalid { reason, .. }) => Err(RpcError::new(
            BAD_TX,
            format!("the transaction would not be included: {reason}"),
        )),
        Err(phalanx_executor::ExecutorError::Runtime(e)) => Err(at.runtime_error(rpc, e)),
        Err(e) => Err(at.pruned_or(rpc, RpcError::internal(e))),
    }
}

fn unsigned(
    rpc: &Rpc,
    at: &ReadAt,
    call: &CallParams,
    args: &[u8],
) -> Result<Simulation, RpcError> {
    let (base, height, time_ms, config) = setting(rpc, at)?;
    let max = config.params.max_tx_gas;
    let gas_limit = call.gas.unwrap_or(max).min(max);
    // The intrinsic gas of a call transaction carrying these arguments (its size does not
    // depend on who signs it).
    let shape = Tx {
        chain_id: rpc.info.chain_id.clone(),
        sender: PublicKey([0; 32]),
        nonce: 0,
        gas_limit,
        payload: TxPayload::Call {
            contract: call.address,
            method: call.method.clone(),
            args: Bytes(args.to_vec()),
        },
    };
    let intrinsic = intrinsic_gas(&SignedTx {
        tx: shape,
        signature: Signature([0; 64]),
    });
    if gas_limit < intrinsic {
        return Err(RpcError::params(format!(
            "gas {gas_limit} is below the {intrinsic} any such transaction pays"
        )));
    }
    if base
        .get(&phalanx_runtime::layout::contract_key(&call.address))
        .map_err(RpcError::internal)?
        .is_none()
    {
        return Err(RpcError::new(
            NOT_FOUND,
            format!("no contract at {}", call.address),
        ));
    }
    let from = call.from.unwrap_or(Address([0; 32]));
    let mut overlay = Overlay::new(base);
    let nonce = phalanx_executor::account::load(&overlay, &from)
        .map_err(RpcError::internal)?
        .nonce;
    let env = TxEnv {
        block: BlockInfo {
            height,
            time_ms,
            chain_id: rpc.info.chain_id.clone(),
        },
        origin: from,
        nonce,
        gas_limit: gas_limit - intrinsic,
    };
    let outcome = rpc
        .runtime
        .call(&mut overlay, &env, &call.address, &call.method, args)
        .map_err(|e| at.runtime_error(rpc, e))?;
    let gas_used = intrinsic + outcome.gas_used;
    let mut sim = Simulation {
        tx_hash: None,
        status: Outcome::Ok,
        gas_used,
        return_value: Value::Null,
        events: outcome.events.iter().map(EventView::new).collect(),
        height,
        index: None,
        error: None,
        writes: Writes::default(),
    };
    match outcome.result {
        Ok(ret) => {
            sim.return_value = data(&ret);
            sim.writes = writes(&overlay.into_changes());
        }
        Err(e) => {
            sim.status = Outcome::Failed;
            sim.error = Some(TxError {
                code: e.code,
                message: e.message,
            });
        }
    }
    Ok(sim)
}
