//! A counter: anyone may increment it; only the deployer may reset it.
#![no_std]

use phalanx_sdk::prelude::*;

const COUNT: Item<u64> = Item::new(b"c");
const OWNER: Item<Address> = Item::new(b"o");

errors! {
    /// Counter errors.
    pub enum CounterError {
        /// The counter would pass u64::MAX.
        Overflow = 1100 => "counter overflow",
        /// Only the deployer may reset.
        NotOwner = 1101 => "only the deployer may reset the counter",
    }
}

/// The counter contract.
pub struct Counter;

#[contract(errors(CounterError), events(incremented = u64, reset = Address))]
impl Counter {
    /// Starts at `start` (default 0); the caller becomes the owner.
    #[init]
    pub fn init(start: Option<u64>) {
        COUNT.save(&start.unwrap_or(0));
        OWNER.save(&caller());
    }

    /// Adds `by` (default 1) and returns the new value.
    pub fn increment(by: Option<u64>) -> Result<u64, ContractError> {
        let n = COUNT
            .load()
            .checked_add(by.unwrap_or(1))
            .ok_or(CounterError::Overflow)?;
        COUNT.save(&n);
        emit("incremented", &n);
        Ok(n)
    }

    /// Sets the counter back to zero (deployer only).
    pub fn reset() -> Result<(), ContractError> {
        ensure!(OWNER.get() == Some(caller()), CounterError::NotOwner);
        COUNT.save(&0);
        emit("reset", &caller());
        Ok(())
    }

    /// The current value.
    #[query]
    pub fn get() -> u64 {
        COUNT.load()
    }
}
