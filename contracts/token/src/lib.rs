//! A fungible token with allowances (ERC-20 style). Amounts are decimal strings in JSON.
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

/// Data of the `transfer` event.
#[derive(Serialize)]
pub struct Transfer {
    /// Sender (the zero address for the initial mint).
    pub from: Address,
    /// Recipient.
    pub to: Address,
    /// Amount moved.
    pub amount: Amount,
}

/// Data of the `approval` event.
#[derive(Serialize)]
pub struct Approval {
    /// Owner of the tokens.
    pub owner: Address,
    /// Who may spend them.
    pub spender: Address,
    /// New allowance.
    pub amount: Amount,
}

const INFO: Item<Info> = Item::new(b"i");
const BALANCES: Map<Address, Amount> = Map::new(b"b");
const ALLOWANCES: Map<(Address, Address), Amount> = Map::new(b"a");

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

fn move_tokens(from: Address, to: Address, amount: Amount) -> Result<(), ContractError> {
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
    emit("transfer", &Transfer { from, to, amount });
    Ok(())
}

/// The token contract.
pub struct Token;

#[contract]
impl Token {
    /// Mints `supply` to the deployer.
    #[init]
    pub fn init(name: String, symbol: String, decimals: u8, supply: Amount) {
        let owner = caller();
        BALANCES.save(&owner, &supply);
        INFO.save(&Info {
            name,
            symbol,
            decimals,
            total_supply: supply,
        });
        emit(
            "transfer",
            &Transfer {
                from: Address::ZERO,
                to: owner,
                amount: supply,
            },
        );
    }

    /// Moves `amount` from the caller to `to`.
    pub fn transfer(to: Address, amount: Amount) -> Result<(), ContractError> {
        move_tokens(caller(), to, amount)
    }

    /// Lets `spender` move up to `amount` of the caller's tokens (replaces any allowance).
    pub fn approve(spender: Address, amount: Amount) {
        let owner = caller();
        ALLOWANCES.save(&(owner, spender), &amount);
        emit(
            "approval",
            &Approval {
                owner,
                spender,
                amount,
            },
        );
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

    /// The balance of `account`.
    pub fn balance_of(account: Address) -> Amount {
        BALANCES.load(&account)
    }

    /// How much `spender` may still move from `owner`.
    pub fn allowance(owner: Address, spender: Address) -> Amount {
        ALLOWANCES.load(&(owner, spender))
    }

    /// The total supply.
    pub fn total_supply() -> Amount {
        INFO.get().map(|i| i.total_supply).unwrap_or_default()
    }

    /// Name, symbol, decimals and total supply.
    pub fn info() -> Option<Info> {
        INFO.get()
    }
}
