//! The method table and the OpenRPC document built from it (`rpc.discover`). The dispatcher's
//! names are checked against this table by a test, and docs/RPC.md against it too, so the
//! three cannot drift apart.

use serde_json::{Value, json};

/// One parameter: name, JSON type, required.
pub type Param = (&'static str, &'static str, bool);

/// A method's description.
#[derive(Debug, Clone, Copy)]
pub struct MethodSpec {
    /// The method name.
    pub name: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// Named parameters.
    pub params: &'static [Param],
    /// JSON type of the result.
    pub result: &'static str,
    /// Only over the WebSocket.
    pub ws_only: bool,
}

const fn m(
    name: &'static str,
    summary: &'static str,
    params: &'static [Param],
    result: &'static str,
) -> MethodSpec {
    MethodSpec {
        name,
        summary,
        params,
        result,
        ws_only: false,
    }
}

/// Every method.
pub const METHODS: &[MethodSpec] = &[
    m(
        "node_status",
        "Chain id, peer id, validator, height, latest hash, view, peers, syncing.",
        &[],
        "object",
    ),
    m(
        "chain_getBlock",
        "A block's header, tx hashes and commit certificate (latest by default).",
        &[("height", "integer", false), ("hash", "string", false)],
        "object",
    ),
    m(
        "chain_getValidators",
        "The validator set deciding a height (the next block by default), in primary order.",
        &[("height", "integer", false)],
        "array",
    ),
    m(
        "chain_getValidatorSetProof",
        "The set deciding a height with the state proof and certificate that prove it.",
        &[("height", "integer", true)],
        "object",
    ),
    m(
        "gov_proposals",
        "Governance proposals in id order, the current configuration and any scheduled change.",
        &[("from_id", "integer", false), ("limit", "integer", false)],
        "object",
    ),
    m(
        "gov_proposal",
        "One governance proposal with its approvals and status.",
        &[("id", "integer", true)],
        "object",
    ),
    m(
        "tx_submit",
        "Submits a signed transaction (base64); with wait=final returns its receipt.",
        &[("tx", "string", true), ("wait", "string", false)],
        "object",
    ),
    m(
        "tx_get",
        "A committed transaction and its receipt, or null.",
        &[("hash", "string", true)],
        "object",
    ),
    m(
        "tx_simulate",
        "Runs a signed transaction (tx, base64; skip_signature to estimate before signing) or a call ({from?, address, method, args?, gas?}) against the latest state (or a retained height's) without committing: status, error, gas_used, return, events, writes.",
        &[
            ("tx", "string", false),
            ("call", "object", false),
            ("skip_signature", "boolean", false),
            ("height", "integer", false),
        ],
        "object",
    ),
    m(
        "account_get",
        "An account's next nonce.",
        &[("address", "string", true)],
        "object",
    ),
    m(
        "contract_query",
        "A read-only contract call on the latest state, or on a retained height's (point reads only there).",
        &[
            ("address", "string", true),
            ("method", "string", true),
            ("args", "object", false),
            ("caller", "string", false),
            ("height", "integer", false),
        ],
        "object",
    ),
    m(
        "contract_get",
        "A contract's code hash, deployer, height, admin and ABI (null if its code has none), latest or at a retained height.",
        &[("address", "string", true), ("height", "integer", false)],
        "object",
    ),
    m(
        "state_getProof",
        "A contract storage value with its Merkle proof and the commit certificate.",
        &[
            ("address", "string", true),
            ("key", "string", true),
            ("height", "integer", false),
        ],
        "object",
    ),
    m(
        "events_get",
        "Contract events in a height range, filtered and paginated.",
        &[
            ("from_height", "integer", true),
            ("to_height", "integer", true),
            ("address", "string", false),
            ("topic", "string", false),
            ("limit", "integer", false),
            ("cursor", "string", false),
        ],
        "object",
    ),
    m("net_peers", "Connected peer ids.", &[], "array"),
    m(
        "evidence_list",
        "Stored equivocation evidence.",
        &[("from_height", "integer", false)],
        "array",
    ),
    m("rpc.discover", "This OpenRPC document.", &[], "object"),
    MethodSpec {
        ws_only: true,
        ..m(
            "subscribe",
            "WebSocket: subscribe to blocks or events; returns a subscription id.",
            &[
                ("topic", "string", true),
                ("address", "string", false),
                ("topic_filter", "string", false),
            ],
            "integer",
        )
    },
    MethodSpec {
        ws_only: true,
        ..m(
            "unsubscribe",
            "WebSocket: end a subscription.",
            &[("subscription", "integer", true)],
            "boolean",
        )
    },
];

/// True if `name` is a method callable over HTTP.
pub fn is_http_method(name: &str) -> bool {
    METHODS.iter().any(|s| s.name == name && !s.ws_only)
}

/// The OpenRPC 1.2 document.
pub fn document() -> Value {
    let methods: Vec<Value> = METHODS
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "summary": s.summary,
                "paramStructure": "by-name",
                "params": s.params.iter().map(|(n, t, r)| json!({
                    "name": n, "required": r, "schema": {"type": t},
                })).collect::<Vec<_>>(),
                "result": {"name": "result", "schema": {"type": s.result}},
            })
        })
        .collect();
    json!({
        "openrpc": "1.2.6",
        "info": {"title": "Phalanx JSON-RPC", "version": env!("CARGO_PKG_VERSION")},
        "servers": [{"name": "http", "url": "http://127.0.0.1:8645"}, {"name": "websocket", "url": "ws://127.0.0.1:8645/ws"}],
        "methods": methods,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_documents_every_method() {
        let doc = include_str!("../../../docs/RPC.md");
        for s in METHODS {
            assert!(
                doc.contains(&format!("`{}`", s.name)),
                "docs/RPC.md lacks {}",
                s.name
            );
        }
        let d = document();
        assert_eq!(d["methods"].as_array().unwrap().len(), METHODS.len());
    }
}
