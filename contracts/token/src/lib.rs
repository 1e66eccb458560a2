//! A fungible token with allowances (ERC-20 style). Amounts are decimal strings in JSON.
//! Its storage and rules live in `token-core`, which `token-v2` shares.
#![no_std]

use phalanx_sdk::prelude::*;
pub use token_core::{ALLOWANCES, Approval, BALANCES, INFO, Info, TokenError, Transfer};

/// The token contract.
pub struct Token;

#[contract(errors(TokenError), events(Transfer, Approval))]
impl Token {
    /// Mints `supply` to the deployer.
    #[init]
    pub fn init(name: String, symbol: String, decimals: u8, supply: Amount) {
        token_core::init(name, symbol, decimals, supply);
    }

    /// Moves `amount` from the caller to `to`.
    pub fn transfer(to: Address, amount: Amount) -> Result<(), ContractError> {
        token_core::move_tokens(caller(), to, amount)
    }

    /// Lets `spender` move up to `amount` of the caller's tokens (replaces any allowance).
    pub fn approve(spender: Address, amount: Amount) {
        token_core::approve(spender, amount);
    }

    /// Moves `amount` from `from` to `to`, spending the caller's allowance.
    pub fn transfer_from(from: Address, to: Address, amount: Amount) -> Result<(), ContractError> {
        token_core::transfer_from(from, to, amount)
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
}
