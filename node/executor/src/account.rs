//! Account records: an account's next nonce, stored at `layout::account_key(address)`.

use crate::error::ExecutorError;
use phalanx_runtime::{Overlay, layout};
use phalanx_storage::{StateStore, StorageError};
use phalanx_types::{Address, decode, encode};
use serde::{Deserialize, Serialize};

/// What the chain records about an account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The nonce its next transaction must carry (0 for a fresh account).
    pub nonce: u64,
}

impl Account {
    /// Decodes a stored record.
    pub fn from_bytes(bytes: &[u8]) -> Result<Account, ExecutorError> {
        decode(bytes).map_err(|e| {
            ExecutorError::Storage(StorageError::Corrupt {
                column: "state",
                reason: format!("account record: {e}"),
            })
        })
    }
}

/// The account of `address` as seen through `overlay` (default if it never transacted).
pub fn load(overlay: &Overlay, address: &Address) -> Result<Account, ExecutorError> {
    match overlay.get(&layout::account_key(address))? {
        Some(bytes) => Account::from_bytes(&bytes),
        None => Ok(Account::default()),
    }
}

/// Stores `account`.
pub fn save(overlay: &mut Overlay, address: &Address, account: &Account) {
    overlay.set(layout::account_key(address), encode(account));
}

/// The committed next nonce of `address` in `state` (0 for a fresh account).
pub fn committed_nonce(state: &StateStore, address: &Address) -> Result<u64, ExecutorError> {
    match state.get(&layout::account_key(address))? {
        Some(bytes) => Account::from_bytes(&bytes).map(|a| a.nonce),
        None => Ok(0),
    }
}
