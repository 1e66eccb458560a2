//! Contract reads: read-only calls, contract records and state proofs.

use crate::Rpc;
use crate::api::{
    CertificateView, ContractParams, ContractView, HeaderView, ProofParams, QueryParams,
    QueryResult, StateProof, data,
};
use crate::jsonrpc::{BUSY, NOT_FOUND, QUERY_FAILED, QUERY_OUT_OF_GAS, RpcError};
use base64::Engine;
use phalanx_executor::adapters::{StoreView, StoreViewAt};
use phalanx_runtime::abi::code;
use phalanx_runtime::layout::{self, ContractInfo};
use phalanx_runtime::{BlockInfo, Query, RuntimeError, StateRead};
use phalanx_types::{Height, encode};
use serde_json::Value;
use std::sync::Arc;

/// The state a read uses: the latest, or a retained past height's.
pub(crate) enum ReadAt {
    Latest,
    Height(Height),
}

impl ReadAt {
    /// Checks `height` (committed, and its state retained) for a read.
    pub(crate) fn new(rpc: &Rpc, height: Option<Height>) -> Result<ReadAt, RpcError> {
        let Some(h) = height else {
            return Ok(ReadAt::Latest);
        };
        let latest = rpc.blocks.latest_height().map_err(RpcError::internal)?;
        if h == 0 || h > latest {
            return Err(RpcError::new(
                NOT_FOUND,
                format!("no committed block at height {h} (latest {latest})"),
            ));
        }
        rpc.check_state(h)?;
        Ok(ReadAt::Height(h))
    }

    /// What a runtime failure of a read here tells the client: busy, a past height that
    /// cannot serve the read (iteration), pruned while the read ran, or a node fault.
    pub(crate) fn runtime_error(&self, rpc: &Rpc, e: RuntimeError) -> RpcError {
        match e {
            RuntimeError::Busy => RpcError::new(BUSY, "too many queries at once; retry"),
            RuntimeError::Unavailable(why) => RpcError::new(QUERY_FAILED, why),
            e => self.pruned_or(rpc, RpcError::internal(e)),
        }
    }

    /// A height pruned while the read ran says so rather than `fallback` (an internal error).
    pub(crate) fn pruned_or(&self, rpc: &Rpc, fallback: RpcError) -> RpcError {
        match self {
            ReadAt::Height(h) => rpc.check_state(*h).err().unwrap_or(fallback),
            ReadAt::Latest => fallback,
        }
    }

    /// The state view, and the block (height, time) a query there runs in.
    pub(crate) fn view(&self, rpc: &Rpc) -> Result<(Arc<dyn StateRead>, Height, u64), RpcError> {
        match *self {
            ReadAt::Latest => {
                let (height, time_ms) = rpc.latest_block_time()?;
                Ok((Arc::new(StoreView(rpc.state.clone())), height, time_ms))
            }
            ReadAt::Height(h) => {
                // The query runs in that block (its time): a node that pruned the block but
                // not the state cannot say what that was.
                let Some(block) = rpc.blocks.block(h).map_err(RpcError::internal)? else {
                    rpc.check_block(h, "the block")?;
                    return Err(RpcError::new(NOT_FOUND, format!("no block at height {h}")));
                };
                let time_ms = block.header.timestamp_ms;
                let view = StoreViewAt {
                    state: rpc.state.clone(),
                    height: h,
                };
                Ok((Arc::new(view), h, time_ms))
            }
        }
    }
}

/// Runs a read-only call against the latest committed state, on the blocking pool (its
/// threads have the stack contract execution needs), snapshot-consistent
/// ([`Rpc::consistent`]). Writes trap.
pub(crate) async fn query(rpc: &Arc<Rpc>, p: QueryParams) -> Result<QueryResult, RpcError> {
    let args = match &p.args {
        Value::Null => Vec::new(),
        v => serde_json::to_vec(v).map_err(RpcError::internal)?,
    };
    let gas_cap = rpc.limits.query_gas_cap;
    let outcome = rpc
        .consistent(move |r| {
            let at = ReadAt::new(r, p.height)?;
            let (state, height, time_ms) = at.view(r)?;
            let block = BlockInfo {
                height,
                time_ms,
                chain_id: r.info.chain_id.clone(),
            };
            let query = Query {
                contract: p.address,
                method: &p.method,
                args: &args,
                caller: p.caller,
                gas_cap,
            };
            r.runtime
                .query(state, block, &query)
                .map_err(|e| at.runtime_error(r, e))
        })
        .await?;
    match outcome.result {
        Ok(ret) => Ok(QueryResult {
            result: data(&ret),
            gas_used: outcome.gas_used,
        }),
        Err(e) if e.code == code::OUT_OF_GAS => Err(RpcError::new(
            QUERY_OUT_OF_GAS,
            format!("query ran out of its gas cap of {gas_cap}"),
        )),
        Err(e) => Err(RpcError::new(
            QUERY_FAILED,
            format!("query failed with code {}: {}", e.code, e.message),
        )),
    }
}

/// The contract record: code hash, deployer, height deployed, admin (null: immutable) and its
/// ABI (null if none), at the latest or a retained height.
pub(crate) fn get(rpc: &Rpc, p: ContractParams) -> Result<ContractView, RpcError> {
    let (state, _, _) = ReadAt::new(rpc, p.height)?.view(rpc)?;
    let read = |key: &[u8]| state.get(key).map_err(RpcError::internal);
    let raw = read(&layout::contract_key(&p.address))?.ok_or_else(|| {
        let at = p
            .height
            .map(|h| format!(" at height {h}"))
            .unwrap_or_default();
        RpcError::new(NOT_FOUND, format!("no contract at {}{at}", p.address))
    })?;
    let info = ContractInfo::from_bytes(&raw).map_err(RpcError::internal)?;
    let code = read(&layout::code_key(&info.code_hash))?;
    let admin =
        phalanx_runtime::lifecycle::admin_of(&*state, &p.address).map_err(RpcError::internal)?;
    Ok(ContractView {
        address: p.address,
        code_hash: info.code_hash,
        deployer: info.deployer,
        height: info.height,
        admin: admin.map(|a| a.to_string()),
        abi: code.as_deref().and_then(abi_of),
    })
}

/// The ABI embedded in `code` (checked at deploy), if any.
pub(crate) fn abi_of(code: &[u8]) -> Option<Value> {
    let section = phalanx_runtime::validate::abi(code)?;
    serde_json::from_slice(section).ok()
}

/// A contract storage value with its Merkle proof against the state root of `height`
/// (default latest) and that height's commit certificate: a client that knows the validator
/// set can check the value without trusting this node.
pub(crate) fn proof(rpc: &Rpc, p: ProofParams) -> Result<StateProof, RpcError> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(p.key.trim())
        .map_err(|e| RpcError::params(format!("key is not base64: {e}")))?;
    let latest = rpc.blocks.latest_height().map_err(RpcError::internal)?;
    let height = p.height.unwrap_or(latest);
    if height == 0 || height > latest {
        return Err(RpcError::new(
            NOT_FOUND,
            format!("no committed block at height {height} (latest {latest})"),
        ));
    }
    let full_key = layout::storage_key(&p.address, &key);
    rpc.check_provable(height)?;
    let (value, proof) = rpc
        .state
        .get_with_proof(&full_key, height)
        // Pruned while this request ran: say so rather than "internal error".
        .map_err(|e| {
            rpc.check_provable(height)
                .err()
                .unwrap_or_else(|| RpcError::internal(e))
        })?;
    let (block, cert) = rpc.certified_block(height)?;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    Ok(StateProof {
        address: p.address,
        key: b64(&key),
        state_key: b64(&full_key),
        value: value.as_deref().map(b64),
        proof: b64(&encode(&proof)),
        state_root: block.header.state_root,
        height,
        header: HeaderView::new(&block.header),
        header_raw: b64(&encode(&block.header)),
        certificate: CertificateView::new(&cert),
        certificate_raw: b64(&encode(&cert)),
    })
}
