//! Receipts and events: the outcome of executing a transaction.

use crate::bytes::Bytes;
use crate::crypto::Address;
use crate::hash::{Domain, Hash};
use crate::{Gas, Height};
use serde::{Deserialize, Serialize};

/// Whether a transaction succeeded. Failures carry a stable code and, when the contract chose
/// one, its own message; host or engine error text never appears here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxStatus {
    /// Executed; state changes applied.
    Ok,
    /// Included but failed: no state change except the nonce and gas accounting.
    Failed {
        /// Stable error code (see the runtime's error code table).
        code: u32,
        /// Contract-chosen message, or a fixed description of the code.
        message: String,
    },
}

/// A contract event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The contract that emitted it.
    pub contract: Address,
    /// Its topic (for filtering), for example `transfer`.
    pub topic: String,
    /// Its data (JSON for SDK contracts).
    pub data: Bytes,
}

/// The outcome of one transaction in a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The transaction.
    pub tx_hash: Hash,
    /// Success or failure.
    pub status: TxStatus,
    /// Gas consumed.
    pub gas_used: Gas,
    /// Return data (JSON for SDK contracts).
    pub return_data: Bytes,
    /// Events emitted (empty when the tx failed).
    pub events: Vec<Event>,
    /// Height of the block holding the tx.
    pub height: Height,
    /// Position of the tx in its block.
    pub index: u32,
}

impl Receipt {
    /// Commitment to this receipt (leaf of the block's receipts root).
    pub fn hash(&self) -> Hash {
        Hash::of(Domain::Receipt, self)
    }
}
