//! # phalanx-sdk
//!
//! Write Phalanx smart contracts in Rust. A contract is a `#![no_std]` `cdylib` crate built for
//! `wasm32-unknown-unknown`:
//!
//! ```ignore
//! #![no_std]
//! use phalanx_sdk::prelude::*;
//!
//! const COUNT: Item<u64> = Item::new(b"count");
//!
//! pub struct Counter;
//!
//! #[contract]
//! impl Counter {
//!     #[init]
//!     pub fn init(start: Option<u64>) {
//!         COUNT.save(&start.unwrap_or(0));
//!     }
//!
//!     pub fn increment(by: Option<u64>) -> Result<u64, ContractError> {
//!         let n = COUNT.load().checked_add(by.unwrap_or(1)).ok_or("overflow")?;
//!         COUNT.save(&n);
//!         emit("incremented", &n);
//!         Ok(n)
//!     }
//!
//!     pub fn get() -> u64 {
//!         COUNT.load()
//!     }
//! }
//! ```
//!
//! Methods take JSON arguments (an object with one field per parameter) and return JSON.
//! `Result::Err` fails the call: its state changes are discarded and the receipt carries the
//! error's code and message. Test contracts with [`testing`] (feature `testutils`), which runs
//! the compiled wasm in the real runtime.
#![no_std]

extern crate alloc;

pub mod abi;
#[cfg(not(target_arch = "wasm32"))]
pub mod client;
mod env;
mod error;
mod host;
pub mod json;
mod storage;
mod types;
#[cfg(all(target_arch = "wasm32", not(feature = "testutils")))]
mod wasm_rt;

#[cfg(feature = "testutils")]
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use env::{
    Block, blake3, block, call, call_raw, caller, chain_id, ed25519_verify, emit, gas_left, origin,
    self_address,
};
pub use error::ContractError;
pub use json::Json;
pub use phalanx_sdk_macros::{contract, event};
pub use storage::{Item, Map, MapIter, StorageKey};
pub use types::{Address, Amount};

/// Re-exported so contracts and generated code agree on one serde.
pub use serde;

/// Everything a contract usually needs.
pub mod prelude {
    pub use crate::abi::Event;
    pub use crate::{
        Address, Amount, ContractError, Item, Json, Map, block, call, caller, contract, emit,
        ensure, errors, event, self_address,
    };
    pub use alloc::string::{String, ToString};
    pub use alloc::vec::Vec;
    pub use serde::{Deserialize, Serialize};
}

/// Support code for `#[contract]`; not a public API.
#[doc(hidden)]
pub mod __private {
    use crate::{ContractError, env, json};
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    /// Decodes the arguments, runs the method, and returns or aborts.
    pub fn dispatch<A, T, E>(len: i32, f: impl FnOnce(A) -> Result<T, E>)
    where
        A: DeserializeOwned,
        T: Serialize,
        E: Into<ContractError>,
    {
        let input = env::input(len);
        let bytes: &[u8] = if input.is_empty() { b"{}" } else { &input };
        let args: A = match json::from_slice(bytes) {
            Ok(a) => a,
            Err(e) => env::abort(&ContractError::bad_args(&e)),
        };
        match f(args) {
            Ok(value) => match json::to_vec(&value) {
                Ok(out) if out == b"null" => {}
                Ok(out) => env::set_return(&out),
                Err(_) => env::abort(&ContractError::msg("result does not encode as JSON")),
            },
            Err(e) => env::abort(&e.into()),
        }
    }
}
