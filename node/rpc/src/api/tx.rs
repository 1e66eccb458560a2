//! Transactions: submission, receipts, simulation and accounts.

use super::{ActionView, ErrorObject};
use base64::Engine;
use phalanx_types::{Address, Event, Gas, Hash, Height, Receipt, SignedTx, TxPayload, TxStatus};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Contract data (return values, event data): the JSON it holds, or base64 if it is not
/// JSON (raw modules written without the SDK); null if empty.
pub fn data(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)))
}

/// When `tx_submit` answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Wait {
    /// Once admitted to the mempool: the hash.
    #[default]
    None,
    /// Once committed: the hash and the receipt.
    Final,
}

/// `tx_submit`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitParams {
    /// The signed transaction's canonical encoding, base64.
    pub tx: String,
    /// When to answer.
    #[serde(default)]
    pub wait: Wait,
}

/// `tx_submit`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Submitted {
    /// The transaction's hash.
    pub hash: Hash,
    /// Its receipt (`wait: "final"` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ReceiptView>,
}

/// `tx_submitBatch`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitBatchParams {
    /// Signed transactions, base64, admitted in order.
    pub txs: Vec<String>,
}

/// One transaction's answer in a batch.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum BatchAnswer {
    /// Admitted.
    Admitted {
        /// Its hash.
        hash: Hash,
    },
    /// Refused.
    Refused {
        /// Why, with the code `tx_submit` would give.
        error: ErrorObject,
    },
}

/// `tx_submitBatch`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BatchResults {
    /// One answer per transaction, in order.
    pub results: Vec<BatchAnswer>,
}

/// `tx_get` (and `chain_getBlock`-style lookups by hash).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HashParams {
    /// The hash.
    pub hash: Hash,
}

/// `tx_get`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TxWithReceipt {
    /// The transaction.
    pub tx: TxView,
    /// Its receipt (null if the node pruned it).
    pub receipt: Option<ReceiptView>,
}

/// A transaction's kind and the fields of it a reader wants.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PayloadView {
    /// Stores code and creates a contract.
    Deploy {},
    /// Creates a contract from stored code.
    Instantiate {
        /// The code.
        code_hash: Hash,
    },
    /// Calls a contract.
    Call {
        /// The contract.
        contract: Address,
        /// The method.
        method: String,
    },
    /// A governance action.
    Governance {
        /// The action.
        governance: ActionView,
    },
    /// Migrates a contract to new code.
    Migrate {
        /// The contract.
        contract: Address,
        /// The new code.
        code_hash: Hash,
        /// Whether the transaction brings the code.
        uploads_code: bool,
    },
    /// Hands a contract's admin role on.
    SetAdmin {
        /// The contract.
        contract: Address,
        /// The new admin (an address or `governance`); null: immutable from now on.
        admin: Option<String>,
    },
}

/// A committed transaction.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TxView {
    /// Its hash.
    pub hash: Hash,
    /// The sender's address.
    pub sender: Address,
    /// The sender's nonce.
    pub nonce: u64,
    /// The gas limit.
    pub gas_limit: Gas,
    /// What it does.
    pub payload: PayloadView,
    /// Its canonical encoding, base64.
    pub raw: String,
}

impl TxView {
    /// The view of `t`.
    pub fn new(t: &SignedTx) -> TxView {
        let payload = match &t.tx.payload {
            TxPayload::Deploy { .. } => PayloadView::Deploy {},
            TxPayload::Instantiate { code_hash, .. } => PayloadView::Instantiate {
                code_hash: *code_hash,
            },
            TxPayload::Call {
                contract, method, ..
            } => PayloadView::Call {
                contract: *contract,
                method: method.clone(),
            },
            TxPayload::Governance(a) => PayloadView::Governance {
                governance: ActionView::new(a),
            },
            TxPayload::Migrate {
                contract,
                code_hash,
                code,
                ..
            } => PayloadView::Migrate {
                contract: *contract,
                code_hash: *code_hash,
                uploads_code: code.is_some(),
            },
            TxPayload::SetAdmin { contract, admin } => PayloadView::SetAdmin {
                contract: *contract,
                admin: admin.map(|a| a.to_string()),
            },
        };
        TxView {
            hash: t.hash(),
            sender: t.tx.sender_address(),
            nonce: t.tx.nonce,
            gas_limit: t.tx.gas_limit,
            payload,
            raw: base64::engine::general_purpose::STANDARD.encode(t.to_bytes()),
        }
    }
}

/// True for transactions that create a contract (their receipt's `return` is its address).
pub fn is_deploy(tx: &SignedTx) -> bool {
    matches!(
        tx.tx.payload,
        TxPayload::Deploy { .. } | TxPayload::Instantiate { .. }
    )
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It succeeded: its state changes stand.
    Ok,
    /// It failed: only its fee (gas) and nonce stand.
    Failed,
}

/// A failed transaction's or call's error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TxError {
    /// The runtime's or the contract's error code (CONTRACTS.md, "Error codes").
    pub code: u32,
    /// The message.
    pub message: String,
}

/// An event a contract emitted.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EventView {
    /// The emitting contract.
    pub contract: Address,
    /// The topic.
    pub topic: String,
    /// The data (JSON, or base64 if not JSON).
    pub data: Value,
}

impl EventView {
    /// The view of `e`.
    pub fn new(e: &Event) -> EventView {
        EventView {
            contract: e.contract,
            topic: e.topic.clone(),
            data: data(&e.data.0),
        }
    }
}

/// An event with where it happened (`events_get` and `events` subscriptions).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LocatedEvent {
    /// The emitting contract.
    pub contract: Address,
    /// The topic.
    pub topic: String,
    /// The data (JSON, or base64 if not JSON).
    pub data: Value,
    /// The block's height.
    pub height: Height,
    /// The transaction's hash.
    pub tx_hash: Hash,
    /// The transaction's index in the block.
    pub index: u32,
    /// The event's index in the transaction's receipt.
    pub event_index: usize,
}

impl LocatedEvent {
    /// Event `event_index` of receipt `r`.
    pub fn new(r: &Receipt, event_index: usize, e: &Event) -> LocatedEvent {
        LocatedEvent {
            contract: e.contract,
            topic: e.topic.clone(),
            data: data(&e.data.0),
            height: r.height,
            tx_hash: r.tx_hash,
            index: r.index,
            event_index,
        }
    }
}

/// A receipt.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ReceiptView {
    /// The transaction's hash.
    pub tx_hash: Hash,
    /// How it ended.
    pub status: Outcome,
    /// Gas used (what it paid).
    pub gas_used: Gas,
    /// The return value (JSON, or base64 if not JSON); a deploy's is the new contract's
    /// address (hex).
    #[serde(rename = "return")]
    pub return_value: Value,
    /// Events, in order (none if it failed).
    pub events: Vec<EventView>,
    /// The block's height.
    pub height: Height,
    /// The transaction's index in the block.
    pub index: u32,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TxError>,
}

impl ReceiptView {
    /// The view of `r`; `deploy` if the transaction created a contract.
    pub fn new(r: &Receipt, deploy: bool) -> ReceiptView {
        let (status, error) = match &r.status {
            TxStatus::Ok => (Outcome::Ok, None),
            TxStatus::Failed { code, message } => (
                Outcome::Failed,
                Some(TxError {
                    code: *code,
                    message: message.clone(),
                }),
            ),
        };
        let return_value = if deploy && r.return_data.len() == 32 && status == Outcome::Ok {
            Value::String(r.return_data.0.iter().map(|b| format!("{b:02x}")).collect())
        } else {
            data(&r.return_data.0)
        };
        ReceiptView {
            tx_hash: r.tx_hash,
            status,
            gas_used: r.gas_used,
            return_value,
            events: r.events.iter().map(EventView::new).collect(),
            height: r.height,
            index: r.index,
            error,
        }
    }
}

/// `tx_simulate`: exactly one of `tx` and `call`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateParams {
    /// A signed transaction, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx: Option<String>,
    /// A call without a transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<CallParams>,
    /// Execute a signed transaction without checking its signature (to estimate gas
    /// before signing).
    #[serde(default)]
    pub skip_signature: bool,
    /// Run on the state after this block (a retained height), as the next block would;
    /// default the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<Height>,
}

/// A contract call simulated without a transaction.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallParams {
    /// The caller (default: the zero address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Address>,
    /// The contract.
    pub address: Address,
    /// The method.
    pub method: String,
    /// The arguments (JSON).
    #[serde(default)]
    pub args: Value,
    /// Gas limit (default: the chain's `max_tx_gas`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas: Option<Gas>,
}

/// What a simulation's state changes amount to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Writes {
    /// Keys set.
    pub keys_set: u64,
    /// Keys deleted.
    pub keys_deleted: u64,
    /// Bytes written (keys and values).
    pub bytes: u64,
}

/// `tx_simulate`'s answer: a receipt as the next block would give it, and the writes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Simulation {
    /// The transaction's hash (signed transactions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_hash: Option<Hash>,
    /// How it would end.
    pub status: Outcome,
    /// Gas it would use; for a call, with the intrinsic gas of a call transaction of its size.
    pub gas_used: Gas,
    /// The return value.
    #[serde(rename = "return")]
    pub return_value: Value,
    /// Events it would emit.
    pub events: Vec<EventView>,
    /// The height it ran at (the block after the state's).
    pub height: Height,
    /// Its index in the block (signed transactions only: 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// Why it would fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TxError>,
    /// What it would write.
    pub writes: Writes,
}

/// `account_get`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressParams {
    /// The account.
    pub address: Address,
}

/// `account_txs`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountTxsParams {
    /// The account.
    pub address: Address,
    /// Transactions with nonces below this one (default: the account's next nonce, so the
    /// latest); `next_before` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_nonce: Option<u64>,
    /// Page size (1 to 100; default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// One committed transaction of an account.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AccountTx {
    /// Its nonce.
    pub nonce: u64,
    /// Its hash.
    pub hash: Hash,
    /// The height of its block.
    pub height: Height,
}

/// `account_txs`' answer: an account's committed transactions, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AccountHistory {
    /// The account.
    pub address: Address,
    /// Its next nonce.
    pub nonce: u64,
    /// The transactions (those of pruned blocks are gone).
    pub txs: Vec<AccountTx>,
    /// `before_nonce` of the next (older) page; null on the last.
    pub next_before: Option<u64>,
}

/// An account.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Account {
    /// Its address.
    pub address: Address,
    /// Its next nonce.
    pub nonce: u64,
}
