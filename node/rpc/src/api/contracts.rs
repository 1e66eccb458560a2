//! Contract reads: queries, contract records, state proofs and events.

use super::{CertificateView, HeaderView, LocatedEvent};
use phalanx_types::{Address, Gas, Hash, Height};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `contract_query`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryParams {
    /// The contract.
    pub address: Address,
    /// The method.
    pub method: String,
    /// The arguments (JSON).
    #[serde(default)]
    pub args: Value,
    /// Who the contract sees as caller (default: the zero address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<Address>,
    /// Run against the state after this block (a retained height) instead of the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<Height>,
}

/// `contract_query`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct QueryResult {
    /// The return value (JSON, or base64 if not JSON).
    pub result: Value,
    /// Gas the query used.
    pub gas_used: Gas,
}

/// `contract_get`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractParams {
    /// The contract.
    pub address: Address,
    /// The contract as it was after this block (a retained height); default latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<Height>,
}

/// A contract record.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ContractView {
    /// Its address.
    pub address: Address,
    /// Its code's hash.
    pub code_hash: Hash,
    /// Who deployed it.
    pub deployer: Address,
    /// The height it was created at.
    pub height: Height,
    /// Its admin (an address or `governance`); null: immutable.
    pub admin: Option<String>,
    /// The ABI its code embeds (CONTRACTS.md, "The ABI"); null if none.
    pub abi: Option<Value>,
}

/// `state_getProof`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofParams {
    /// The contract.
    pub address: Address,
    /// The contract's storage key, base64.
    pub key: String,
    /// The height whose state root the proof is against (default: the latest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<Height>,
}

/// A contract storage value with its Merkle proof against the state root of `height` and
/// that height's commit certificate: a client that knows the validator set checks the
/// value without trusting the node (docs/WIRE.md, "Proofs").
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct StateProof {
    /// The contract.
    pub address: Address,
    /// The contract's storage key, base64.
    pub key: String,
    /// The full state key, base64.
    pub state_key: String,
    /// The value, base64; null if absent (the proof then proves absence).
    pub value: Option<String>,
    /// The Merkle proof, base64.
    pub proof: String,
    /// The state root proven against.
    pub state_root: Hash,
    /// The height.
    pub height: Height,
    /// That block's header.
    pub header: HeaderView,
    /// Its canonical encoding, base64.
    pub header_raw: String,
    /// Its commit certificate.
    pub certificate: CertificateView,
    /// Its canonical encoding, base64.
    pub certificate_raw: String,
}

/// `events_get`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventsParams {
    /// The first height.
    pub from_height: Height,
    /// The last height.
    pub to_height: Height,
    /// Only this contract's events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Only this topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Page size (1 to 1,000; default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A page of events.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EventsPage {
    /// The events, in chain order.
    pub events: Vec<LocatedEvent>,
    /// Where the next page starts; null when the range is done.
    pub next_cursor: Option<String>,
}

/// `subscribe`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscribeParams {
    /// `blocks` or `events`.
    pub topic: String,
    /// Events of this contract only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Events of this topic only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_filter: Option<String>,
}

/// `unsubscribe`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnsubscribeParams {
    /// The id `subscribe` returned.
    pub subscription: u64,
}
