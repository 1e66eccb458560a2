//! The methods.

use crate::api::{
    Account, AccountHistory, AccountTx, AccountTxsParams, AddressParams, BatchAnswer, BatchResults,
    BlockParams, BlockView, ErrorObject, EvidenceParams, EvidenceView, HashParams, NoParams,
    ReceiptView, Status, SubmitBatchParams, SubmitParams, Submitted, TxView, TxWithReceipt, Wait,
    is_deploy,
};
use crate::jsonrpc::{
    BAD_NONCE, BAD_TX, DUPLICATE, MEMPOOL_FULL, METHOD_NOT_FOUND, NOT_FOUND, RpcError, TIMEOUT,
    UNAVAILABLE, params, to_value,
};
use crate::{Rpc, SubmitError};
use base64::Engine;
use phalanx_executor::account::committed_nonce;
use phalanx_executor::mempool::AdmitError;
use phalanx_storage::Column;
use phalanx_types::consensus::Evidence;
use phalanx_types::{Hash, SignedTx, decode};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub(crate) async fn dispatch(rpc: &Arc<Rpc>, method: &str, p: Value) -> Result<Value, RpcError> {
    match method {
        "node_status" => to_value(node_status(rpc, params(p)?)?),
        "chain_getBlock" => to_value(rpc.blocking(move |r| get_block(r, params(p)?)).await?),
        "chain_getValidators" => to_value(
            rpc.consistent(move |r| crate::governance::validators(r, params(p.clone())?))
                .await?,
        ),
        "chain_getValidatorSetProof" => to_value(
            rpc.blocking(move |r| crate::governance::set_proof(r, params(p)?))
                .await?,
        ),
        "gov_proposals" => to_value(
            rpc.consistent(move |r| crate::governance::proposals(r, params(p.clone())?))
                .await?,
        ),
        "gov_proposal" => to_value(
            rpc.consistent(move |r| crate::governance::proposal(r, params(p.clone())?))
                .await?,
        ),
        "tx_submit" => to_value(submit(rpc, params(p)?).await?),
        "tx_submitBatch" => to_value(submit_batch(rpc, params(p)?).await?),
        "tx_get" => to_value(rpc.blocking(move |r| tx_get(r, params(p)?)).await?),
        "tx_simulate" => to_value(crate::simulate::simulate(rpc, params(p)?).await?),
        "account_get" => to_value(
            rpc.consistent(move |r| account_get(r, params(p.clone())?))
                .await?,
        ),
        "account_txs" => to_value(
            rpc.consistent(move |r| account_txs(r, params(p.clone())?))
                .await?,
        ),
        "net_peers" => {
            let NoParams {} = params(p)?;
            to_value(rpc.node.peers())
        }
        "evidence_list" => to_value(rpc.blocking(move |r| evidence_list(r, params(p)?)).await?),
        "contract_query" => to_value(crate::contracts::query(rpc, params(p)?).await?),
        "contract_get" => to_value(
            rpc.consistent(move |r| crate::contracts::get(r, params(p.clone())?))
                .await?,
        ),
        "state_getProof" => to_value(
            rpc.blocking(move |r| crate::contracts::proof(r, params(p)?))
                .await?,
        ),
        "events_get" => to_value(
            rpc.blocking(move |r| crate::events::get(r, params(p)?))
                .await?,
        ),
        "rpc.discover" => {
            let NoParams {} = params(p)?;
            Ok(crate::openrpc::served().clone())
        }
        _ => Err(RpcError::new(
            METHOD_NOT_FOUND,
            format!("method {method:?} not found"),
        )),
    }
}

fn node_status(rpc: &Rpc, _: NoParams) -> Result<Status, RpcError> {
    let s = rpc.node.status();
    Ok(Status {
        chain_id: rpc.info.chain_id.clone(),
        version: crate::metrics::VERSION.into(),
        commit: crate::metrics::COMMIT.into(),
        peer_id: rpc.info.peer_id.clone(),
        validator: s.validator,
        validators: s.validators,
        height: s.height,
        latest_hash: s.hash,
        state_root: s.state_root,
        view: s.view,
        is_primary: s.is_primary,
        peers: rpc.node.peers().len(),
        syncing: s.syncing,
        mempool: s.mempool,
        earliest_height: rpc.lowest_block()?,
        earliest_state_height: rpc.lowest_state()?,
    })
}

fn get_block(rpc: &Rpc, p: BlockParams) -> Result<BlockView, RpcError> {
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
    let mut view = BlockView::new(&block, cert.as_ref());
    if p.omit_txs {
        view.txs.clear();
    }
    Ok(view)
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

/// Many transactions in one request: each is decoded and admitted on its own, in order, and
/// gets its own answer (`{hash}` or `{error: {code, message}}`).
async fn submit_batch(rpc: &Rpc, p: SubmitBatchParams) -> Result<BatchResults, RpcError> {
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
    let results = answers
        .into_iter()
        .map(|a| {
            let r = a.unwrap_or_else(|| {
                admitted
                    .next()
                    .unwrap_or(Err(AdmitError::Full))
                    .map_err(refused)
            });
            match r {
                Ok(hash) => BatchAnswer::Admitted { hash },
                Err(e) => BatchAnswer::Refused {
                    error: ErrorObject {
                        code: e.code,
                        message: e.message,
                    },
                },
            }
        })
        .collect();
    Ok(BatchResults { results })
}

async fn submit(rpc: &Rpc, p: SubmitParams) -> Result<Submitted, RpcError> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(p.tx.trim())
        .map_err(|e| RpcError::params(format!("tx is not base64: {e}")))?;
    let tx = SignedTx::from_bytes(&raw)
        .map_err(|e| RpcError::new(BAD_TX, format!("cannot decode the transaction: {e}")))?;
    let deploy = is_deploy(&tx);
    // Subscribe before submitting so the commit cannot slip between the two.
    let mut commits = rpc.node.commits();
    let hash = rpc.node.submit(tx).await.map_err(admit_error)?;
    if p.wait == Wait::None {
        return Ok(Submitted {
            hash,
            receipt: None,
        });
    }
    let wait = async {
        loop {
            match commits.recv().await {
                Ok(c) => {
                    if let Some(r) = c.receipts.iter().find(|r| r.tx_hash == hash) {
                        return Ok(ReceiptView::new(r, deploy));
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
        Ok(receipt) => Ok(Submitted {
            hash,
            receipt: Some(receipt?),
        }),
        Err(_) => Err(RpcError::new(
            TIMEOUT,
            format!(
                "transaction {hash} accepted but not final within {} ms",
                limit.as_millis()
            ),
        )),
    }
}

fn receipt_of(rpc: &Rpc, hash: &Hash) -> Result<Option<ReceiptView>, RpcError> {
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
        .is_some_and(is_deploy);
    Ok(receipt.map(|r| ReceiptView::new(&r, deploy)))
}

fn tx_get(rpc: &Rpc, p: HashParams) -> Result<Option<TxWithReceipt>, RpcError> {
    let Some(loc) = rpc
        .blocks
        .tx_location(&p.hash)
        .map_err(RpcError::internal)?
    else {
        return Ok(None);
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
    Ok(Some(TxWithReceipt {
        tx: TxView::new(tx),
        receipt,
    }))
}

fn account_get(rpc: &Rpc, p: AddressParams) -> Result<Account, RpcError> {
    let nonce = committed_nonce(&rpc.state, &p.address).map_err(RpcError::internal)?;
    Ok(Account {
        address: p.address,
        nonce,
    })
}

/// Most transactions per `account_txs` page.
const MAX_ACCOUNT_TXS: usize = 100;

fn account_txs(rpc: &Rpc, p: AccountTxsParams) -> Result<AccountHistory, RpcError> {
    let limit = p.limit.unwrap_or(20);
    if limit == 0 || limit > MAX_ACCOUNT_TXS {
        return Err(RpcError::params(format!(
            "limit must be 1 to {MAX_ACCOUNT_TXS}"
        )));
    }
    let nonce = committed_nonce(&rpc.state, &p.address).map_err(RpcError::internal)?;
    let before = p.before_nonce.unwrap_or(nonce).min(nonce);
    let rows = rpc
        .blocks
        .sender_txs(&p.address, before, limit)
        .map_err(RpcError::internal)?;
    let mut txs = Vec::with_capacity(rows.len());
    for (n, hash) in rows {
        // Pruned between the two reads: left out.
        if let Some(loc) = rpc.blocks.tx_location(&hash).map_err(RpcError::internal)? {
            txs.push(AccountTx {
                nonce: n,
                hash,
                height: loc.height,
            });
        }
    }
    // Committed nonces are consecutive, and pruning takes the oldest blocks first: a range
    // with some missing means everything below it is gone too.
    let oldest = before.saturating_sub(limit as u64);
    let complete = txs.len() as u64 == before - oldest;
    Ok(AccountHistory {
        address: p.address,
        nonce,
        txs,
        next_before: (complete && oldest > 0).then_some(oldest),
    })
}

/// Most evidence records returned at once.
const MAX_EVIDENCE: usize = 1_000;

fn evidence_list(rpc: &Rpc, p: EvidenceParams) -> Result<Vec<EvidenceView>, RpcError> {
    let start = p.from_height.to_be_bytes();
    let rows = rpc
        .kv
        .scan(Column::Evidence, &[], Some(&start), MAX_EVIDENCE)
        .map_err(RpcError::internal)?;
    let mut out = Vec::new();
    for (_, v) in rows {
        let e: Evidence = decode(&v).map_err(RpcError::internal)?;
        let s = e.first.statement;
        out.push(EvidenceView {
            height: e.height(),
            offender: e.offender(),
            phase: format!("{:?}", s.phase),
            view: s.view,
            first: e.first.statement.digest,
            second: e.second.statement.digest,
            raw: base64::engine::general_purpose::STANDARD.encode(&v),
        });
    }
    Ok(out)
}
