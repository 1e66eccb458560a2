//! The JSON-RPC API as types: every method's parameters and result, shared by the server
//! (which builds its answers from them), the CLI's typed client ([`Method`]) and the OpenRPC
//! document (`rpc.discover`, whose schemas are generated from them, and which the
//! TypeScript client's types are generated from in turn).
//!
//! Encodings follow docs/RPC.md: hashes, addresses, keys and signatures as lowercase hex,
//! opaque bytes as base64, heights and gas as numbers, contract data as the JSON it holds.

mod chain;
mod contracts;
mod gov;
mod tx;

pub use chain::*;
pub use contracts::*;
pub use gov::*;
pub use tx::*;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// One method: its name, what it does, and the types of its parameters and result.
pub trait Method {
    /// The method's name on the wire.
    const NAME: &'static str;
    /// Its parameters (by name: a JSON object).
    type Params: Serialize + DeserializeOwned + JsonSchema;
    /// Its result.
    type Result: Serialize + DeserializeOwned + JsonSchema;
}

/// For methods without parameters: `{}` (or none at all).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// A method's entry in the OpenRPC document.
#[derive(Clone, Copy)]
pub struct MethodSpec {
    /// The method name.
    pub name: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// Only over the WebSocket.
    pub ws_only: bool,
    /// The schema of its parameters object.
    pub params: fn(&mut SchemaGenerator) -> Schema,
    /// The schema of its result.
    pub result: fn(&mut SchemaGenerator) -> Schema,
}

impl std::fmt::Debug for MethodSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MethodSpec")
            .field("name", &self.name)
            .finish()
    }
}

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// Declares the methods: a marker type per method (implementing [`Method`]) in
/// [`methods`], and the table [`METHODS`] the OpenRPC document is built from.
macro_rules! methods {
    ($( $(#[$ws:ident])? $marker:ident = $name:literal : $params:ty => $result:ty, $summary:literal; )*) => {
        /// One marker type per method, for [`Method`]-typed calls.
        pub mod methods {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[doc = concat!("`", $name, "`: ", $summary)]
                #[derive(Debug, Clone, Copy)]
                pub struct $marker;
                impl super::Method for $marker {
                    const NAME: &'static str = $name;
                    type Params = $params;
                    type Result = $result;
                }
            )*
        }

        /// Every method, in the order of the reference (docs/RPC.md).
        pub const METHODS: &[MethodSpec] = &[$(
            MethodSpec {
                name: $name,
                summary: $summary,
                ws_only: methods!(@ws $($ws)?),
                params: schema_of::<$params>,
                result: schema_of::<$result>,
            },
        )*];
    };
    (@ws ws_only) => { true };
    (@ws) => { false };
}

methods! {
    NodeStatus = "node_status": NoParams => Status,
        "Chain id, version, peer id, validator, height, latest hash, view, peers, syncing, mempool size, the lowest available block and state.";
    ChainGetBlock = "chain_getBlock": BlockParams => BlockView,
        "A block's header, tx hashes and commit certificate (latest by default).";
    ChainGetValidators = "chain_getValidators": ValidatorsParams => Vec<ValidatorView>,
        "The validator set deciding a height (the next block by default), in primary order.";
    ChainGetValidatorSetProof = "chain_getValidatorSetProof": SetProofParams => SetProof,
        "The set deciding a height with the state proof and certificate that prove it.";
    GovProposals = "gov_proposals": ProposalsParams => ProposalsPage,
        "Governance proposals in id order, the current configuration and any scheduled change.";
    GovProposal = "gov_proposal": ProposalParams => ProposalView,
        "One governance proposal with its approvals and status.";
    TxSubmit = "tx_submit": SubmitParams => Submitted,
        "Submits a signed transaction (base64); with wait=final returns its receipt.";
    TxSubmitBatch = "tx_submitBatch": SubmitBatchParams => BatchResults,
        "Submits up to 5,000 signed transactions; each gets its own answer (hash or error), in order.";
    TxGet = "tx_get": HashParams => Option<TxWithReceipt>,
        "A committed transaction and its receipt, or null.";
    TxSimulate = "tx_simulate": SimulateParams => Simulation,
        "Runs a signed transaction (tx, base64; skip_signature to estimate before signing) or a call ({from?, address, method, args?, gas?}) against the latest state (or a retained height's) without committing: status, error, gas_used, return, events, writes.";
    AccountGet = "account_get": AddressParams => Account,
        "An account's next nonce.";
    AccountTxs = "account_txs": AccountTxsParams => AccountHistory,
        "An account's committed transactions, newest first, paginated by nonce.";
    ContractQuery = "contract_query": QueryParams => QueryResult,
        "A read-only contract call on the latest state, or on a retained height's (point reads only there).";
    ContractGet = "contract_get": ContractParams => ContractView,
        "A contract's code hash, deployer, height, admin and ABI (null if its code has none), latest or at a retained height.";
    StateGetProof = "state_getProof": ProofParams => StateProof,
        "A contract storage value with its Merkle proof and the commit certificate.";
    EventsGet = "events_get": EventsParams => EventsPage,
        "Contract events in a height range, filtered and paginated.";
    NetPeers = "net_peers": NoParams => Vec<String>,
        "Connected peer ids.";
    EvidenceList = "evidence_list": EvidenceParams => Vec<EvidenceView>,
        "Stored equivocation evidence.";
    RpcDiscover = "rpc.discover": NoParams => OpenRpcDocument,
        "This OpenRPC document.";
    #[ws_only] Subscribe = "subscribe": SubscribeParams => u64,
        "WebSocket: subscribe to blocks (notifications: NewBlock) or events (LocatedEvent); returns a subscription id.";
    #[ws_only] Unsubscribe = "unsubscribe": UnsubscribeParams => bool,
        "WebSocket: end a subscription.";
}

/// The OpenRPC document (<https://spec.open-rpc.org>) `rpc.discover` returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OpenRpcDocument(pub serde_json::Value);

impl JsonSchema for OpenRpcDocument {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OpenRpcDocument".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "type": "object",
            "description": "An OpenRPC 1.2 document (https://spec.open-rpc.org).",
            "properties": {
                "openrpc": {"type": "string"},
                "info": {"type": "object", "additionalProperties": true},
                "methods": {"type": "array", "items": {"type": "object", "additionalProperties": true}},
                "components": {"type": "object", "additionalProperties": true},
            },
            "required": ["openrpc", "info", "methods"],
            "additionalProperties": true,
        })
    }
}

/// A JSON-RPC error object (also each failed entry of `tx_submitBatch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorObject {
    /// The error code (docs/RPC.md, "Errors").
    pub code: i64,
    /// What went wrong.
    pub message: String,
}
