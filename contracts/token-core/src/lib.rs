//! The token's storage, events, errors and rules, as a plain library: the `token` contract
//! exports them, and `token-v2` (the version a token migrates to) builds on the same storage.
//! A contract crate cannot be such a library itself: its entry points would be exported by
//! every contract that links it.
#![no_std]

use phalanx_sdk::prelude::*;

/// Token metadata, returned by `info`.
#[derive(Serialize, Deserialize)]
pub struct Info {
    /// Name.
    pub name: String,
    /// Symbol.
    pub symbol: String,
    /// Decimal places for display.
    pub decimals: u8,
    /// Total supply.
    pub total_supply: Amount,
}

/// Tokens moved (also the initial mint, from the zero address).
#[event("transfer")]
#[derive(Serialize, Deserialize)]
pub struct Transfer {
    /// Sender (the zero address for the initial mint).
    pub from: Address,
    /// Recipient.
    pub to: Address,
    /// Amount moved.
    pub amount: Amount,
}

/// An allowance was set.
#[event("approval")]
#[derive(Serialize, Deserialize)]
pub struct Approval {
    /// Owner of the tokens.
    pub owner: Address,
    /// Who may spend them.
    pub spender: Address,
    /// New allowance.
    pub amount: Amount,
}

/// Name, symbol, decimals and supply.
pub const INFO: Item<Info> = Item::new(b"i");
/// Balances by account.
pub const BALANCES: Map<Address, Amount> = Map::new(b"b");
/// Allowances by (owner, spender).
pub const ALLOWANCES: Map<(Address, Address), Amount> = Map::new(b"a");

errors! {
    /// Token errors.
    pub enum TokenError {
        /// The sender's balance is below the amount.
        InsufficientBalance = 1100 => "insufficient balance",
        /// The spender's allowance is below the amount.
        InsufficientAllowance = 1101 => "insufficient allowance",
        /// The recipient's balance would overflow.
        Overflow = 1102 => "balance overflow",
    }
}

/// Moves `amount` from `from` to `to`, emitting `transfer`.
pub fn move_tokens(from: Address, to: Address, amount: Amount) -> Result<(), ContractError> {
    let from_balance = BALANCES.load(&from);
    let left = from_balance
        .checked_sub(amount)
        .ok_or(TokenError::InsufficientBalance)?;
    if from != to {
        let to_balance = BALANCES
            .load(&to)
            .checked_add(amount)
            .ok_or(TokenError::Overflow)?;
        BALANCES.save(&from, &left);
        BALANCES.save(&to, &to_balance);
    }
    Transfer { from, to, amount }.emit();
    Ok(())
}

/// Mints `supply` to the caller and records the metadata.
pub fn init(name: String, symbol: String, decimals: u8, supply: Amount) {
    let owner = caller();
    BALANCES.save(&owner, &supply);
    INFO.save(&Info {
        name,
        symbol,
        decimals,
        total_supply: supply,
    });
    Transfer {
        from: Address::ZERO,
        to: owner,
        amount: supply,
    }
    .emit();
}

/// Lets `spender` move up to `amount` of the caller's tokens (replaces any allowance).
pub fn approve(spender: Address, amount: Amount) {
    let owner = caller();
    ALLOWANCES.save(&(owner, spender), &amount);
    Approval {
        owner,
        spender,
        amount,
    }
    .emit();
}

/// Moves `amount` from `from` to `to`, spending the caller's allowance.
pub fn transfer_from(from: Address, to: Address, amount: Amount) -> Result<(), ContractError> {
    let key = (from, caller());
    let left = ALLOWANCES
        .load(&key)
        .checked_sub(amount)
        .ok_or(TokenError::InsufficientAllowance)?;
    ALLOWANCES.save(&key, &left);
    move_tokens(from, to, amount)
}
