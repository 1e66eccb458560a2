//! The methods.

use crate::jsonrpc::{
    BAD_NONCE, BAD_TX, DUPLICATE, MEMPOOL_FULL, METHOD_NOT_FOUND, NOT_FOUND, RpcError, TIMEOUT,
    UNAVAILABLE, params, to_value,
};
use crate::{Rpc, SubmitError, views};
use base64::Engine;
use phalanx_executor::account::committed_nonce;
use phalanx_executor::mempool::AdmitError;
use phalanx_storage::Column;
use phalanx_types::consensus::Evidence;
use phalanx_types::{Address, Hash, Height, SignedTx, decode};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub(crate) async fn dispatch(rpc: &Arc<Rpc>, method: &str, p: Value) -> Result<Value, RpcError> {
    match method {
        "node_status" => node_status(rpc),
        "chain_getBlock" => rpc.blocking(move |r| get_block(r, params(p)?)).await,
        "chain_getValidators" => {
            rpc.consistent(move |r| crate::governance::validators(r, params(p.clone())?))
                .await
        }
        "chain_getValidatorSetProof" => {
            rpc.blocking(move |r| crate::governance::set_proof(r, params(p)?))
                .await
        }
        "gov_proposals" => {
            rpc.consistent(move |r| crate::governance::proposals(r, params(p.clone())?))
                .await
        }
        "gov_proposal" => {
            rpc.consistent(move |r| crate::governance::proposal(r, params(p.clone())?))
                .await
        }
        "tx_submit" => submit(rpc, params(p)?).await,
        "tx_submitBatch" => submit_batch(rpc, params(p)?).await,
        "tx_get" => rpc.blocking(move |r| tx_get(r, params(p)?)).await,
        "tx_simulate" => crate::simulate::simulate(rpc, params(p)?).await,
        "account_get" => {
            rpc.consistent(move |r| account_get(r, params(p.clone())?))
                .await
        }
        "net_peers" => Ok(json!(rpc.node.peers())),
        "evidence_list" => rpc.blocking(move |r| evidence_list(r, params(p)?)).await,
        "contract_query" => crate::contracts::query(rpc, params(p)?).await,
        "contract_get" => {
            rpc.consistent(move |r| crate::contracts::get(r, params(p.clone())?))
                .await
        }
        "state_getProof" => {
            rpc.blocking(move |r| crate::contracts::proof(r, params(p)?))
                .await
        }
        "events_get" => {
            rpc.blocking(move |r| crate::events::get(r, params(p)?))
                .await
        }
        "rpc.discover" => Ok(crate::openrpc::document()),
        _ => Err(RpcError::new(
            METHOD_NOT_FOUND,
            format!("method {method:?} not found"),
        )),
    }
}

fn node_status(rpc: &Rpc) -> Result<Value, RpcError> {
    let s = rpc.node.status();
    Ok(json!({
        "chain_id": rpc.info.chain_id,
        "version": env!("CARGO_PKG_VERSION"),
        "peer_id": rpc.info.peer_id,
        "validator": s.validator,
        "validators": s.validators,
        "height": s.height,
        "latest_hash": s.hash,
        "state_root": s.state_root,
        "view": s.view,
        "is_primary": s.is_primary,
        "peers": rpc.node.peers().len(),
        "syncing": s.syncing,
        "mempool": s.mempool,
        "earliest_height": rpc.lowest_block()?,
        "earliest_state_height": rpc.lowest_state()?,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockParams {
    height: Option<Height>,
    hash: Option<Hash>,
}

fn get_block(rpc: &Rpc, p: BlockParams) -> Result<Value, RpcError> {
    let height = match (p.height, p.hash) {
        (Some(_), Some(_)) => return Err(RpcError::params("give height or hash, not both")),
        (Some(h), None) => h,
        (None, Some(hash)) => rpc
            .blocks
            .height_of(&hash)
            .map_err(RpcError::internal)?
            .ok_or_else(|| RpcError::new(NOT_FOUND, format!("unknown block {hash}")))?,
        (None, None) => rpc.blocks.latest_height().map_err(RpcError::internal)?,
    };
    rpc.check_block(height, "the block")?;
    let block = rpc.blocks.block(height).map_err(RpcError::internal)?;
    let Some(block) = block else {
        rpc.check_block(height, "the block")?;
        return Err(RpcError::new(
            NOT_FOUND,
            format!("no block at height {height}"),
        ));
    };
    let cert = rpc.blocks.certificate(height).map_err(RpcError::internal)?;
    Ok(views::block(&block, cert.as_ref()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitParams {
    tx: String,
    #[serde(default)]
    wait: Wait,
}

#[derive(Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Wait {
    #[default]
    None,
    Final,
}

fn refused(e: AdmitError) -> RpcError {
    let code = match &e {
        AdmitError::Invalid(_) | AdmitError::TooLarge { .. } => BAD_TX,
        AdmitError::NonceTooLow { .. }
        | AdmitError::NonceTooHigh { .. }
        | AdmitError::NonceTaken(_) => BAD_NONCE,
        AdmitError::Duplicate => DUPLICATE,
        AdmitError::Full | AdmitError::SenderFull { .. } => MEMPOOL_FULL,
    };
    RpcError::new(code, e.to_string())
}

fn admit_error(e: SubmitError) -> RpcError {
    match e {
        SubmitError::Unavailable => RpcError::new(UNAVAILABLE, "node unavailable"),
        SubmitError::Refused(e) => refused(e),
    }
}

/// Most transactions in one `tx_submitBatch`.
pub(crate) const MAX_BATCH_TXS: usize = 5_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBatchParams {
    txs: Vec<String>,
}

/// Many transactions in one request: each is decoded and admitted on its own, in order, and
/// gets its own answer (`{hash}` or `{error: {code, message}}`).
async fn submit_batch(rpc: &Rpc, p: SubmitBatchParams) -> Result<Value, RpcError> {
    if p.txs.is_empty() || p.txs.len() > MAX_BATCH_TXS {
        return Err(RpcError::params(format!(
            "txs holds 1 to {MAX_BATCH_TXS} transactions"
        )));
    }
    let mut answers: Vec<Option<Result<Hash, RpcError>>> = Vec::with_capacity(p.txs.len());
    let mut txs = Vec::new();
    for raw in &p.txs {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(raw.trim())
            .map_err(|e| RpcError::new(BAD_TX, format!("tx is not base64: {e}")))
            .and_then(|b| {
                SignedTx::from_bytes(&b).map_err(|e| {
                    RpcError::new(BAD_TX, format!("cannot decode the transaction: {e}"))
                })
            });
        match decoded {
            Ok(tx) => {
                txs.push(tx);
                answers.push(None);
            }
            Err(e) => answers.push(Some(Err(e))),
        }
    }
    let mut admitted = if txs.is_empty() {
        Vec::new()
    } else {
        rpc.node.submit_batch(txs).await.map_err(admit_error)?
    }
    .into_iter();
    let results: Vec<Value> = answers
        .into_iter()
        .map(|a| {
            let r = a.unwrap_or_else(|| {
                admitted
                    .next()
                    .unwrap_or(Err(AdmitError::Full))
                    .map_err(refused)
            });
            match r {
                Ok(hash) => json!({"hash": hash}),
                Err(e) => json!({"error": {"code": e.code, "message": e.message}}),
            }
        })
        .collect();
    Ok(json!({"results": results}))
}

async fn submit(rpc: &Rpc, p: SubmitParams) -> Result<Value, RpcError> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(p.tx.trim())
        .map_err(|e| RpcError::params(format!("tx is not base64: {e}")))?;
    let tx = SignedTx::from_bytes(&raw)
        .map_err(|e| RpcError::new(BAD_TX, format!("cannot decode the transaction: {e}")))?;
    let deploy = views::is_deploy(&tx);
    // Subscribe before submitting so the commit cannot slip between the two.
    let mut commits = rpc.node.commits();
    let hash = rpc.node.submit(tx).await.map_err(admit_error)?;
    if p.wait == Wait::None {
        return Ok(json!({"hash": hash}));
    }
    let wait = async {
        loop {
            match commits.recv().await {
                Ok(c) => {
                    if let Some(r) = c.receipts.iter().find(|r| r.tx_hash == hash) {
                        return Ok(views::receipt(r, deploy));
                    }
                }
                // Missed some blocks: the receipt may already be stored.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    if let Some(v) = receipt_of(rpc, &hash)? {
                        return Ok(v);
                    }
                }
                Err(_) => return Err(RpcError::new(UNAVAILABLE, "node stopped")),
            }
        }
    };
    let limit = rpc
        .limits
        .timeout
        .saturating_sub(Duration::from_millis(500));
    match tokio::time::timeout(limit, wait).await {
        Ok(receipt) => Ok(json!({"hash": hash, "receipt": receipt?})),
        Err(_) => Err(RpcError::new(
            TIMEOUT,
            format!(
                "transaction {hash} accepted but not final within {} ms",
                limit.as_millis()
            ),
        )),
    }
}

fn receipt_of(rpc: &Rpc, hash: &Hash) -> Result<Option<Value>, RpcError> {
    let Some(loc) = rpc.blocks.tx_location(hash).map_err(RpcError::internal)? else {
        return Ok(None);
    };
    let block = rpc.blocks.block(loc.height).map_err(RpcError::internal)?;
    let receipt = rpc
        .blocks
        .receipt(loc.height, loc.index)
        .map_err(RpcError::internal)?;
    let deploy = block
        .as_ref()
        .and_then(|b| b.txs.get(loc.index as usize))
        .is_some_and(views::is_deploy);
    Ok(receipt.map(|r| views::receipt(&r, deploy)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HashParams {
    hash: Hash,
}

fn tx_get(rpc: &Rpc, p: HashParams) -> Result<Value, RpcError> {
    let Some(loc) = rpc
        .blocks
        .tx_location(&p.hash)
        .map_err(RpcError::internal)?
    else {
        return Ok(Value::Null);
    };
    let Some(block) = rpc.blocks.block(loc.height).map_err(RpcError::internal)? else {
        rpc.check_block(loc.height, "the transaction's block")?;
        return Err(RpcError::internal("indexed block missing"));
    };
    let tx = block
        .txs
        .get(loc.index as usize)
        .ok_or_else(|| RpcError::internal("indexed tx missing"))?;
    let receipt = receipt_of(rpc, &p.hash)?;
    Ok(json!({"tx": views::tx(tx), "receipt": receipt}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddressParams {
    address: Address,
}

fn account_get(rpc: &Rpc, p: AddressParams) -> Result<Value, RpcError> {
    let nonce = committed_nonce(&rpc.state, &p.address).map_err(RpcError::internal)?;
    to_value(json!({"address": p.address, "nonce": nonce}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvidenceParams {
    #[serde(default)]
    from_height: Height,
}

/// Most evidence records returned at once.
const MAX_EVIDENCE: usize = 1_000;

fn evidence_list(rpc: &Rpc, p: EvidenceParams) -> Result<Value, RpcError> {
    let start = p.from_height.to_be_bytes();
    let rows = rpc
        .kv
        .scan(Column::Evidence, &[], Some(&start), MAX_EVIDENCE)
        .map_err(RpcError::internal)?;
    let mut out = Vec::new();
    for (_, v) in rows {
        let e: Evidence = decode(&v).map_err(RpcError::internal)?;
        let s = e.first.statement;
        out.push(json!({
            "height": e.height(),
            "offender": e.offender(),
            "phase": format!("{:?}", s.phase),
            "view": s.view,
            // What the two signatures cover: a block hash for proposals and votes, the
            // content's digest for VIEW-CHANGE and NEW-VIEW.
            "first": e.first.statement.digest,
            "second": e.second.statement.digest,
            // The canonical encoding: what a removal proposal carries as proof.
            "raw": base64::engine::general_purpose::STANDARD.encode(&v),
        }));
    }
    Ok(Value::Array(out))
}
