//! The contract's view of its environment: caller, block, events, hashing, signatures and
//! calls to other contracts.

use crate::error::ContractError;
use crate::host;
use crate::types::Address;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The block being executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// Height.
    pub height: u64,
    /// Timestamp set by the proposer, in milliseconds since the Unix epoch.
    pub time_ms: u64,
}

pub(crate) fn input(len: i32) -> Vec<u8> {
    let mut buf = vec![0u8; len as u32 as usize];
    if !buf.is_empty() {
        host::input_read(&mut buf);
    }
    buf
}

pub(crate) fn set_return(data: &[u8]) {
    host::return_data(data)
}

/// Ends the call with `err`; its state changes are discarded.
pub fn abort(err: &ContractError) -> ! {
    let msg = err.message.as_bytes();
    let cut = msg
        .len()
        .min(phalanx_abi::limits::MAX_ERROR_MESSAGE as usize);
    host::abort(err.code, &msg[..cut])
}

/// The immediate caller: the transaction's signer, or the contract that called this one.
pub fn caller() -> Address {
    let mut a = [0u8; 32];
    host::caller(&mut a);
    Address(a)
}

/// This contract's address.
pub fn self_address() -> Address {
    let mut a = [0u8; 32];
    host::self_address(&mut a);
    Address(a)
}

/// The account that signed the transaction (same as `caller()` unless called by a contract).
pub fn origin() -> Address {
    let mut a = [0u8; 32];
    host::origin(&mut a);
    Address(a)
}

/// The current block.
pub fn block() -> Block {
    Block {
        height: host::block_height(),
        time_ms: host::block_time(),
    }
}

/// The chain id.
pub fn chain_id() -> String {
    let mut buf = [0u8; 64];
    let len = host::chain_id(&mut buf).min(64);
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// Emits an event with a topic (at most 64 bytes) and JSON data (at most 16 KiB).
pub fn emit<T: Serialize + ?Sized>(topic: &str, data: &T) {
    let data = crate::json::to_vec(data).unwrap_or_default();
    host::emit(topic.as_bytes(), &data)
}

/// Gas left in the transaction.
pub fn gas_left() -> u64 {
    host::gas_left()
}

/// blake3 (unkeyed) of `data` (at most 256 KiB).
pub fn blake3(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    host::blake3(data, &mut out);
    out
}

/// Whether `sig` is a valid ed25519 signature of `msg` by `public_key` (strict verification).
pub fn ed25519_verify(public_key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    host::ed25519_verify(public_key, msg, sig)
}

/// Calls `method` on `contract` with raw argument bytes. On failure the callee's state changes
/// are discarded and its error is returned; the caller decides whether to fail too. Running
/// out of gas, however, ends the whole transaction.
pub fn call_raw(contract: &Address, method: &str, args: &[u8]) -> Result<Vec<u8>, ContractError> {
    let ok = host::call(&contract.0, method.as_bytes(), args);
    let mut result = vec![0u8; host::result_len()];
    if !result.is_empty() {
        host::result_read(&mut result);
    }
    if ok {
        return Ok(result);
    }
    if result.len() < 4 {
        return Err(ContractError::msg("call failed"));
    }
    let code = u32::from_le_bytes([result[0], result[1], result[2], result[3]]);
    Err(ContractError {
        code,
        message: String::from_utf8_lossy(&result[4..]).into_owned(),
    })
}

/// Calls `method` on `contract` with JSON arguments and decodes its JSON result (use
/// [`Json`](crate::Json) or `()` when you do not care).
pub fn call<R: DeserializeOwned, A: Serialize + ?Sized>(
    contract: &Address,
    method: &str,
    args: &A,
) -> Result<R, ContractError> {
    let args =
        crate::json::to_vec(args).map_err(|_| ContractError::msg("arguments do not encode"))?;
    let out = call_raw(contract, method, &args)?;
    let out: &[u8] = if out.is_empty() { b"null" } else { &out };
    crate::json::from_slice(out).map_err(|_| ContractError::msg("unexpected result from callee"))
}
