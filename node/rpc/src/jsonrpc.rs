//! The JSON-RPC 2.0 envelope: requests, responses, batches and error codes.

use serde::Serialize;
use serde_json::{Value, json};

/// Invalid JSON.
pub const PARSE_ERROR: i64 = -32700;
/// Not a valid request object (or an empty / oversized batch).
pub const INVALID_REQUEST: i64 = -32600;
/// No such method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Bad parameters.
pub const INVALID_PARAMS: i64 = -32602;
/// The node failed.
pub const INTERNAL: i64 = -32603;
// Application errors use -32010 to -32039 (JSON-RPC 2.0 leaves -32000 to -32099 to the
// server). -32000 to -32006 stay unused: EIP-1474 gives them other meanings, and a client
// written for Ethereum must not misread ours. Tens group them: transactions (-3201x), reads
// (-3202x), the server itself (-3203x, in `guard` for the refusals before a method runs).

/// The transaction is invalid: bad encoding, signature, chain id or gas limit.
pub const BAD_TX: i64 = -32010;
/// The nonce is used, taken by another pending tx, or too far ahead.
pub const BAD_NONCE: i64 = -32011;
/// The transaction is already pending.
pub const DUPLICATE: i64 = -32012;
/// The mempool is full, or the sender has its share pending; retry later.
pub const MEMPOOL_FULL: i64 = -32013;
/// The transaction was accepted but did not commit within the wait (it stays pending).
pub const TIMEOUT: i64 = -32014;
/// The block, transaction or contract asked for is unknown.
pub const NOT_FOUND: i64 = -32020;
/// The height asked for was pruned: `data.earliest_height` is the lowest this node still has.
pub const PRUNED: i64 = -32021;
/// A read-only contract call failed (the contract's code and message are in the message).
pub const QUERY_FAILED: i64 = -32022;
/// A read-only contract call ran out of its gas cap.
pub const QUERY_OUT_OF_GAS: i64 = -32023;
/// The node is shutting down or its core stopped.
pub const UNAVAILABLE: i64 = -32030;
/// Too much at once (every query slot taken, or blocks committing during every attempt at a
/// consistent read): retry.
pub const BUSY: i64 = -32031;

/// A method's failure.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// JSON-RPC error code.
    pub code: i64,
    /// Human-readable message.
    pub message: String,
    /// Machine-readable details (the `data` member), if any.
    pub data: Option<Value>,
}

impl RpcError {
    /// An error with `code`.
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// `height` was pruned: this node keeps heights from `lowest` on.
    pub fn pruned(what: &str, height: u64, lowest: u64) -> RpcError {
        RpcError {
            code: PRUNED,
            message: format!(
                "{what} at height {height} was pruned; this node keeps heights from {lowest}"
            ),
            data: Some(json!({ "earliest_height": lowest })),
        }
    }

    /// Bad parameters.
    pub fn params(message: impl Into<String>) -> RpcError {
        RpcError::new(INVALID_PARAMS, message)
    }

    /// A node fault (logged; the client gets a generic message).
    pub fn internal(e: impl std::fmt::Display) -> RpcError {
        tracing::error!(error = %e, "rpc internal error");
        RpcError::new(INTERNAL, "internal error")
    }
}

/// A response object for `id`.
pub fn response(id: Value, result: Result<Value, RpcError>) -> Value {
    match result {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(e) => error(id, e),
    }
}

/// An error response object for `id`.
pub fn error(id: Value, e: RpcError) -> Value {
    let mut err = json!({"code": e.code, "message": e.message});
    if let Some(data) = e.data {
        err["data"] = data;
    }
    json!({"jsonrpc": "2.0", "id": id, "error": err})
}

/// One parsed call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Its id (`null` for notifications, which get no response).
    pub id: Value,
    /// True if the request had no id (a notification).
    pub notification: bool,
    /// The method.
    pub method: String,
    /// Its params (`null` if absent).
    pub params: Value,
}

/// Checks one request object.
pub fn parse_call(v: Value) -> Result<Call, Value> {
    let Value::Object(mut o) = v else {
        return Err(error(
            Value::Null,
            RpcError::new(INVALID_REQUEST, "request must be an object"),
        ));
    };
    let id = o.remove("id");
    let notification = id.is_none();
    let id = id.unwrap_or(Value::Null);
    if !matches!(id, Value::Null | Value::String(_) | Value::Number(_)) {
        return Err(error(
            Value::Null,
            RpcError::new(INVALID_REQUEST, "id must be a string, number or null"),
        ));
    }
    if o.get("jsonrpc") != Some(&Value::String("2.0".into())) {
        return Err(error(
            id,
            RpcError::new(INVALID_REQUEST, "jsonrpc must be \"2.0\""),
        ));
    }
    let Some(Value::String(method)) = o.remove("method") else {
        return Err(error(
            id,
            RpcError::new(INVALID_REQUEST, "method must be a string"),
        ));
    };
    let params = o.remove("params").unwrap_or(Value::Null);
    if !matches!(params, Value::Null | Value::Object(_) | Value::Array(_)) {
        return Err(error(
            id,
            RpcError::new(INVALID_REQUEST, "params must be an object or array"),
        ));
    }
    Ok(Call {
        id,
        notification,
        method,
        params,
    })
}

/// Deserializes named params (`{…}`), treating absent params as `{}`.
pub fn params<T: serde::de::DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    let params = match params {
        Value::Null => Value::Object(Default::default()),
        Value::Array(a) if a.is_empty() => Value::Object(Default::default()),
        // A one-element positional array holding the object is accepted too.
        Value::Array(mut a) if a.len() == 1 && a[0].is_object() => a.remove(0),
        other => other,
    };
    serde_json::from_value(params).map_err(|e| RpcError::params(e.to_string()))
}

/// Serializes a result.
pub fn to_value<T: Serialize>(v: T) -> Result<Value, RpcError> {
    serde_json::to_value(v).map_err(RpcError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_are_checked() {
        let ok = parse_call(json!({"jsonrpc": "2.0", "id": 1, "method": "m"})).unwrap();
        assert_eq!(ok.method, "m");
        assert!(!ok.notification);
        let note = parse_call(json!({"jsonrpc": "2.0", "method": "m", "params": {}})).unwrap();
        assert!(note.notification);
        for bad in [
            json!([]),
            json!({"jsonrpc": "1.0", "id": 1, "method": "m"}),
            json!({"jsonrpc": "2.0", "id": 1}),
            json!({"jsonrpc": "2.0", "id": {}, "method": "m"}),
            json!({"jsonrpc": "2.0", "id": 1, "method": "m", "params": 3}),
        ] {
            let e = parse_call(bad).unwrap_err();
            assert_eq!(e["error"]["code"], INVALID_REQUEST);
        }
    }
}
