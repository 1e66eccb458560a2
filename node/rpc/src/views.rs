//! JSON views of chain objects, in the encodings of the interface: hashes and addresses as
//! hex, opaque bytes as base64, heights and gas as numbers, contract data as JSON.

use base64::Engine;
use phalanx_types::{Block, CommitCertificate, Event, Receipt, SignedTx, TxPayload, TxStatus};
use serde_json::{Value, json};

/// Contract data (return values, event data): the JSON it holds, or base64 if it is not
/// JSON (raw modules written without the SDK).
pub fn data(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)))
}

/// A block header, its tx hashes and (if given) its certificate.
pub fn block(b: &Block, cert: Option<&CommitCertificate>) -> Value {
    let h = &b.header;
    json!({
        "header": {
            "chain_id": h.chain_id,
            "height": h.height,
            "hash": b.hash(),
            "parent": h.parent_hash,
            "time": h.timestamp_ms,
            "proposer": h.proposer,
            "tx_root": h.tx_root,
            "state_root": h.state_root,
            "receipts_root": h.receipts_root,
            "validators_hash": h.validators_hash,
        },
        "txs": b.txs.iter().map(SignedTx::hash).collect::<Vec<_>>(),
        "certificate": cert.map(certificate),
    })
}

/// A commit certificate.
pub fn certificate(c: &CommitCertificate) -> Value {
    json!({
        "height": c.height,
        "view": c.view,
        "block_hash": c.block_hash,
        "signatures": c.signatures.iter().map(|s| json!({
            "validator": s.validator,
            "signature": s.signature,
        })).collect::<Vec<_>>(),
    })
}

/// An event.
pub fn event(e: &Event) -> Value {
    json!({"contract": e.contract, "topic": e.topic, "data": data(&e.data.0)})
}

/// An event with where it happened: `{contract, topic, data, height, tx_hash, index,
/// event_index}` (`events_get` and event subscriptions).
pub fn located_event(r: &Receipt, event_index: usize, e: &Event) -> Value {
    let mut v = event(e);
    v["height"] = json!(r.height);
    v["tx_hash"] = json!(r.tx_hash);
    v["index"] = json!(r.index);
    v["event_index"] = json!(event_index);
    v
}

/// A receipt. A deploy's return value is the new contract's address (hex).
pub fn receipt(r: &Receipt, deploy: bool) -> Value {
    let (status, error) = match &r.status {
        TxStatus::Ok => ("ok", Value::Null),
        TxStatus::Failed { code, message } => ("failed", json!({"code": code, "message": message})),
    };
    let ret = if deploy && r.return_data.len() == 32 && status == "ok" {
        Value::String(r.return_data.0.iter().map(|b| format!("{b:02x}")).collect())
    } else {
        data(&r.return_data.0)
    };
    let mut v = json!({
        "tx_hash": r.tx_hash,
        "status": status,
        "gas_used": r.gas_used,
        "return": ret,
        "events": r.events.iter().map(event).collect::<Vec<_>>(),
        "height": r.height,
        "index": r.index,
    });
    if !error.is_null() {
        v["error"] = error;
    }
    v
}

/// True for transactions that create a contract.
pub fn is_deploy(tx: &SignedTx) -> bool {
    matches!(
        tx.tx.payload,
        TxPayload::Deploy { .. } | TxPayload::Instantiate { .. }
    )
}

/// A transaction: its hash, sender, nonce, gas limit, kind and raw encoding (base64).
pub fn tx(t: &SignedTx) -> Value {
    let kind = match &t.tx.payload {
        TxPayload::Deploy { .. } => json!({"type": "deploy"}),
        TxPayload::Instantiate { code_hash, .. } => {
            json!({"type": "instantiate", "code_hash": code_hash})
        }
        TxPayload::Call {
            contract, method, ..
        } => json!({"type": "call", "contract": contract, "method": method}),
        TxPayload::Governance(a) => {
            json!({"type": "governance", "governance": crate::governance::action_view(a)})
        }
        TxPayload::Migrate {
            contract,
            code_hash,
            code,
            ..
        } => json!({"type": "migrate", "contract": contract, "code_hash": code_hash,
                    "uploads_code": code.is_some()}),
        TxPayload::SetAdmin { contract, admin } => json!({"type": "set_admin",
            "contract": contract, "admin": admin.map(|a| a.to_string())}),
    };
    json!({
        "hash": t.hash(),
        "sender": t.tx.sender_address(),
        "nonce": t.tx.nonce,
        "gas_limit": t.tx.gas_limit,
        "payload": kind,
        "raw": base64::engine::general_purpose::STANDARD.encode(t.to_bytes()),
    })
}
