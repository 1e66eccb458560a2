//! Version 2 of the token: everything version 1 does, on the same storage, plus `burn` and a
//! `version` query. A token deployed with an admin is upgraded to it in place with
//! `phalanx tx migrate`: the address and every balance stay, and `migrate` runs once.
#![no_std]

use phalanx_sdk::prelude::*;
use token_core::{ALLOWANCES, Approval, BALANCES, INFO, Info, TokenError, Transfer};

/// The code version this storage was last migrated to (absent: version 1).
const VERSION: Item<u32> = Item::new(b"v");

errors! {
    /// Errors new in version 2.
    pub enum TokenV2Error {
        /// `migrate` ran on storage that is already version 2.
        AlreadyMigrated = 1200 => "the token is already at version 2",
        /// A migration must say why it happens.
        EmptyNote = 1201 => "the migration note is empty",
        /// The token has no metadata: it was never initialized.
        NotInitialized = 1202 => "the token was never initialized",
    }
}

/// Tokens destroyed.
#[event("burn")]
#[derive(Serialize, Deserialize)]
pub struct Burn {
    /// Whose tokens.
    pub owner: Address,
    /// How many.
    pub amount: Amount,
}

/// A migration happened.
#[event("upgraded")]
#[derive(Serialize, Deserialize)]
pub struct Upgraded {
    /// The version the storage is at now.
    pub version: u32,
    /// Why (given by the admin).
    pub note: String,
}

/// The token contract, version 2.
pub struct TokenV2;

#[contract(
    errors(TokenError, TokenV2Error),
    events(Transfer, Approval, Burn, Upgraded)
)]
impl TokenV2 {
    /// Mints `supply` to the deployer (a fresh version 2 token).
    #[init]
    pub fn init(name: String, symbol: String, decimals: u8, supply: Amount) {
        token_core::init(name, symbol, decimals, supply);
        VERSION.save(&2);
    }

    /// Runs once when a version 1 token is migrated to this code: storage is already in the
    /// right shape, so it only records the version. Fails (and the token stays version 1)
    /// if the note is empty or the token is already version 2.
    #[migrate]
    pub fn migrate(note: String) -> Result<(), ContractError> {
        ensure!(INFO.get().is_some(), TokenV2Error::NotInitialized);
        ensure!(VERSION.get() != Some(2), TokenV2Error::AlreadyMigrated);
        ensure!(!note.is_empty(), TokenV2Error::EmptyNote);
        VERSION.save(&2);
        Upgraded { version: 2, note }.emit();
        Ok(())
    }

    /// Moves `amount` from the caller to `to`.
    pub fn transfer(to: Address, amount: Amount) -> Result<(), ContractError> {
        token_core::move_tokens(caller(), to, amount)
    }

    /// Lets `spender` move up to `amount` of the caller's tokens (replaces any allowance).
    pub fn approve(spender: Address, amount: Amount) {
        token_core::approve(spender, amount)
    }

    /// Moves `amount` from `from` to `to`, spending the caller's allowance.
    pub fn transfer_from(from: Address, to: Address, amount: Amount) -> Result<(), ContractError> {
        token_core::transfer_from(from, to, amount)
    }

    /// Destroys `amount` of the caller's tokens, lowering the total supply (new in v2).
    pub fn burn(amount: Amount) -> Result<(), ContractError> {
        let owner = caller();
        let left = BALANCES
            .load(&owner)
            .checked_sub(amount)
            .ok_or(TokenError::InsufficientBalance)?;
        let mut info = INFO.get().ok_or(TokenV2Error::NotInitialized)?;
        // The supply is at least every balance, so this cannot underflow.
        info.total_supply = info.total_supply.checked_sub(amount).unwrap_or_default();
        BALANCES.save(&owner, &left);
        INFO.save(&info);
        Burn { owner, amount }.emit();
        Ok(())
    }

    /// The balance of `account`.
    #[query]
    pub fn balance_of(account: Address) -> Amount {
        BALANCES.load(&account)
    }

    /// How much `spender` may still move from `owner`.
    #[query]
    pub fn allowance(owner: Address, spender: Address) -> Amount {
        ALLOWANCES.load(&(owner, spender))
    }

    /// The total supply.
    #[query]
    pub fn total_supply() -> Amount {
        INFO.get().map(|i| i.total_supply).unwrap_or_default()
    }

    /// Name, symbol, decimals and total supply.
    #[query]
    pub fn info() -> Option<Info> {
        INFO.get()
    }

    /// The code version of the storage: 1 until migrated, 2 after.
    #[query]
    pub fn version() -> u32 {
        VERSION.get().unwrap_or(1)
    }
}
