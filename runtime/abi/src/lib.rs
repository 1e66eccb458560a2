//! The Phalanx contract ABI, shared by the host (`phalanx-runtime`) and the guest
//! (`phalanx-sdk`) so the two sides cannot drift apart.
//!
//! # Calling convention
//! - A contract is a wasm module that exports its linear memory as `memory` and one function
//!   per method. A method export has the type `(i32) -> ()`: the parameter is the length of the
//!   call's argument bytes, which the guest copies into its memory with [`input_read`](sys).
//!   The method `init` is called once when the contract is instantiated.
//! - A method sets its result with `return_data` and fails with `abort(code, message)`.
//!   Contract-chosen error codes are at least [`code::CONTRACT_MIN`]; lower codes are the
//!   host's (see [`code`]).
//! - Every import lives in the wasm module [`MODULE`]. Pointers and lengths are `i32` values
//!   that the host reinterprets as unsigned offsets into the guest memory and checks.
//! - Storage keys are relative to the calling contract: a contract cannot name, read or write
//!   another contract's keys.
#![no_std]

/// The wasm import module that holds every host function.
pub const MODULE: &str = "phalanx";

/// The export that every contract must provide: its linear memory.
pub const MEMORY_EXPORT: &str = "memory";

/// The method called once at instantiation.
pub const INIT_METHOD: &str = "init";

/// The entry point the runtime calls on a contract's new code when its admin migrates it
/// (with the migration's arguments); like `init`, nothing else may call it.
pub const MIGRATE_METHOD: &str = "migrate";

/// A wasm value type used by the host ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
}

/// One host import: its name and wasm signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFn {
    /// Import name inside [`MODULE`].
    pub name: &'static str,
    /// Parameter types.
    pub params: &'static [ValType],
    /// Result types (zero or one).
    pub results: &'static [ValType],
}

macro_rules! valtype {
    (i32) => {
        ValType::I32
    };
    (i64) => {
        ValType::I64
    };
}

/// Declares the host functions once: the table the host validates imports against, and the
/// raw `extern` block the guest links with.
macro_rules! host_abi {
    ($( $(#[$doc:meta])* fn $name:ident($($arg:ident: $aty:ident),*) $(-> $ret:ident)?; )*) => {
        /// Every host function, in declaration order. A module may import only these, each with
        /// exactly this signature.
        pub const HOST_FUNCTIONS: &[HostFn] = &[
            $( HostFn {
                name: stringify!($name),
                params: &[$(valtype!($aty)),*],
                results: &[$(valtype!($ret))?],
            }, )*
        ];

        /// Names of the host functions, usable as constants by the host when it links them.
        pub mod names {
            $(
                #[doc = concat!("Import name of `", stringify!($name), "`.")]
                #[allow(non_upper_case_globals)]
                pub const $name: &str = stringify!($name);
            )*
        }

        /// Raw imports for wasm guests. Use the SDK's safe wrappers instead.
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        pub mod sys {
            #[link(wasm_import_module = "phalanx")]
            unsafe extern "C" {
                $( $(#[$doc])* pub fn $name($($arg: $aty),*) $(-> $ret)?; )*
            }
        }
    };
}

host_abi! {
    /// Copies the current call's argument bytes (the length was passed to the method export)
    /// to `ptr`.
    fn input_read(ptr: i32);
    /// Sets the call's return data. A later call replaces it.
    fn return_data(ptr: i32, len: i32);
    /// Fails the call with a contract-chosen `code` (at least `code::CONTRACT_MIN`) and a
    /// UTF-8 message of at most `limits::MAX_ERROR_MESSAGE` bytes. Does not return.
    fn abort(code: i32, msg_ptr: i32, msg_len: i32);
    /// Reads the value of `key`. Returns -1 if absent, else the value's full length, having
    /// copied its first `min(len, out_cap)` bytes to `out_ptr`.
    fn storage_read(key_ptr: i32, key_len: i32, out_ptr: i32, out_cap: i32) -> i64;
    /// Writes `key = value`.
    fn storage_write(key_ptr: i32, key_len: i32, val_ptr: i32, val_len: i32);
    /// Removes `key`. Returns 1 if it existed, else 0.
    fn storage_remove(key_ptr: i32, key_len: i32) -> i32;
    /// Finds the first key starting with `prefix` that sorts strictly after `after` (or the
    /// first key under `prefix` when `after_len` is -1). Returns -1 when there is none, else
    /// the length of the record `key_len: u32 LE ++ key ++ value`, having copied its first
    /// `min(len, out_cap)` bytes to `out_ptr`.
    fn storage_next(
        prefix_ptr: i32,
        prefix_len: i32,
        after_ptr: i32,
        after_len: i32,
        out_ptr: i32,
        out_cap: i32
    ) -> i64;
    /// Writes the 32-byte address of the immediate caller (an account or a contract).
    fn caller(out_ptr: i32);
    /// Writes the 32-byte address of the running contract.
    fn self_address(out_ptr: i32);
    /// Writes the 32-byte address of the account that signed the transaction.
    fn origin(out_ptr: i32);
    /// The height of the block being executed.
    fn block_height() -> i64;
    /// The block's timestamp, in milliseconds since the Unix epoch (set by the proposer).
    fn block_time() -> i64;
    /// Copies the chain id (UTF-8) to `out_ptr` if it fits in `out_cap`; returns its length.
    fn chain_id(out_ptr: i32, out_cap: i32) -> i32;
    /// Emits an event with a UTF-8 `topic` and opaque `data`.
    fn emit(topic_ptr: i32, topic_len: i32, data_ptr: i32, data_len: i32);
    /// Writes the 32-byte blake3 hash (unkeyed) of the input to `out_ptr`.
    fn blake3(ptr: i32, len: i32, out_ptr: i32);
    /// Verifies an ed25519 signature (strict). Returns 1 if valid, else 0.
    fn ed25519_verify(pk_ptr: i32, msg_ptr: i32, msg_len: i32, sig_ptr: i32) -> i32;
    /// Calls `method` on the contract at the 32-byte address `addr_ptr` with `args`. Returns
    /// 0 on success (the result is the callee's return data) or 1 on failure (the result is
    /// `code: u32 LE ++ message`). Read the result with `result_len`/`result_read`. Running
    /// out of gas in the callee fails the whole transaction.
    fn call(addr_ptr: i32, method_ptr: i32, method_len: i32, args_ptr: i32, args_len: i32) -> i32;
    /// Length of the last `call`'s result.
    fn result_len() -> i32;
    /// Copies the last `call`'s result to `ptr`.
    fn result_read(ptr: i32);
    /// Gas left in the transaction.
    fn gas_left() -> i64;
}

/// Looks up a host function by name.
pub fn host_fn(name: &str) -> Option<&'static HostFn> {
    HOST_FUNCTIONS.iter().find(|f| f.name == name)
}

/// Stable error codes. They appear in receipts and never change meaning.
pub mod code {
    /// The transaction ran out of gas.
    pub const OUT_OF_GAS: u32 = 1;
    /// The contract executed `unreachable` (a Rust panic compiles to this).
    pub const UNREACHABLE: u32 = 2;
    /// The contract accessed memory out of bounds.
    pub const MEMORY_OUT_OF_BOUNDS: u32 = 3;
    /// The contract exhausted its wasm stack (too deep recursion).
    pub const STACK_OVERFLOW: u32 = 4;
    /// Integer division by zero or overflow, or a bad float-to-int conversion.
    pub const ARITHMETIC: u32 = 5;
    /// Any other wasm trap (bad indirect call, table out of bounds, ...).
    pub const TRAP: u32 = 6;
    /// A host function got a pointer or length outside the guest memory.
    pub const BAD_POINTER: u32 = 7;
    /// A value passed to the host exceeds a limit (key, value, event, return data, message),
    /// or an event topic is reserved (`phalanx.…`).
    pub const LIMIT_EXCEEDED: u32 = 8;
    /// The transaction's events exceed the per-transaction limit.
    pub const TOO_MANY_EVENTS: u32 = 9;
    /// A write was attempted in a read-only query.
    pub const READ_ONLY: u32 = 10;
    /// The module is not valid wasm or breaks a deploy rule.
    pub const INVALID_MODULE: u32 = 20;
    /// No code is stored under this hash.
    pub const UNKNOWN_CODE: u32 = 21;
    /// No contract lives at this address.
    pub const UNKNOWN_CONTRACT: u32 = 22;
    /// The contract has no such method.
    pub const UNKNOWN_METHOD: u32 = 23;
    /// A contract already exists at the derived address.
    pub const CONTRACT_EXISTS: u32 = 24;
    /// Cross-contract calls nested deeper than the limit.
    pub const CALL_DEPTH_EXCEEDED: u32 = 25;
    /// A contract that is already on the call stack was called again.
    pub const REENTRANCY: u32 = 26;
    /// The contract called `abort` with a code below [`CONTRACT_MIN`].
    pub const BAD_ABORT_CODE: u32 = 27;
    /// The contract's memory would grow beyond the limit.
    pub const MEMORY_LIMIT: u32 = 28;
    /// The payload cannot be executed by the contract runtime (for example governance).
    pub const UNSUPPORTED: u32 = 29;
    /// The sender may not deploy code (deploy allowlist).
    pub const NOT_ALLOWED: u32 = 30;
    /// The argument bytes are too large.
    pub const ARGS_TOO_LARGE: u32 = 31;
    /// A governance action was refused (the message says why).
    pub const GOVERNANCE_REFUSED: u32 = 32;
    /// The sender is not the contract's admin (or the contract has none, or governance did
    /// not approve this migration).
    pub const NOT_ADMIN: u32 = 33;
    /// Smallest code a contract may choose; smaller codes belong to the host.
    pub const CONTRACT_MIN: u32 = 1000;

    /// Every host code.
    pub const ALL: &[u32] = &[
        OUT_OF_GAS,
        UNREACHABLE,
        MEMORY_OUT_OF_BOUNDS,
        STACK_OVERFLOW,
        ARITHMETIC,
        TRAP,
        BAD_POINTER,
        LIMIT_EXCEEDED,
        TOO_MANY_EVENTS,
        READ_ONLY,
        INVALID_MODULE,
        UNKNOWN_CODE,
        UNKNOWN_CONTRACT,
        UNKNOWN_METHOD,
        CONTRACT_EXISTS,
        CALL_DEPTH_EXCEEDED,
        REENTRANCY,
        BAD_ABORT_CODE,
        MEMORY_LIMIT,
        UNSUPPORTED,
        NOT_ALLOWED,
        GOVERNANCE_REFUSED,
        ARGS_TOO_LARGE,
        NOT_ADMIN,
    ];

    /// The fixed description of a host code, used as the receipt message.
    pub fn describe(code: u32) -> &'static str {
        match code {
            OUT_OF_GAS => "out of gas",
            UNREACHABLE => "contract trapped: unreachable executed (panic)",
            MEMORY_OUT_OF_BOUNDS => "contract trapped: memory access out of bounds",
            STACK_OVERFLOW => "contract trapped: call stack exhausted",
            ARITHMETIC => "contract trapped: arithmetic error",
            TRAP => "contract trapped",
            BAD_POINTER => "host call with a pointer outside the contract's memory",
            LIMIT_EXCEEDED => "value exceeds a host limit",
            TOO_MANY_EVENTS => "events exceed the per-transaction limit",
            READ_ONLY => "state write in a read-only call",
            INVALID_MODULE => "invalid contract module",
            UNKNOWN_CODE => "unknown code hash",
            UNKNOWN_CONTRACT => "unknown contract",
            UNKNOWN_METHOD => "unknown method",
            CONTRACT_EXISTS => "contract address already in use",
            CALL_DEPTH_EXCEEDED => "cross-contract call depth exceeded",
            REENTRANCY => "re-entrant call",
            BAD_ABORT_CODE => "contract aborted with a reserved error code",
            MEMORY_LIMIT => "contract memory limit exceeded",
            UNSUPPORTED => "payload not supported by the contract runtime",
            NOT_ALLOWED => "sender may not deploy code",
            GOVERNANCE_REFUSED => "governance action refused",
            ARGS_TOO_LARGE => "call arguments too large",
            NOT_ADMIN => "sender is not the contract's admin",
            _ => "contract error",
        }
    }
}

/// Limits enforced by the host on every call; the SDK uses them to size buffers.
pub mod limits {
    /// Longest storage key (contract-relative), in bytes.
    pub const MAX_KEY_LEN: u32 = 256;
    /// Longest storage value, in bytes.
    pub const MAX_VALUE_LEN: u32 = 128 * 1024;
    /// Longest event topic, in bytes.
    pub const MAX_TOPIC_LEN: u32 = 64;
    /// Longest event data, in bytes.
    pub const MAX_EVENT_DATA: u32 = 16 * 1024;
    /// Most events one transaction may emit.
    pub const MAX_EVENTS: u32 = 256;
    /// Longest return data, in bytes.
    pub const MAX_RETURN_LEN: u32 = 256 * 1024;
    /// Longest call arguments, in bytes.
    pub const MAX_ARGS_LEN: u32 = 256 * 1024;
    /// Longest method name, in bytes.
    pub const MAX_METHOD_LEN: u32 = 64;
    /// Longest abort message, in bytes (longer messages are cut at a char boundary).
    pub const MAX_ERROR_MESSAGE: u32 = 512;
    /// Deepest nesting of cross-contract calls (the outermost call is depth 1).
    pub const MAX_CALL_DEPTH: u32 = 8;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_match_the_table() {
        for (i, f) in HOST_FUNCTIONS.iter().enumerate() {
            assert!(
                HOST_FUNCTIONS[i + 1..].iter().all(|g| g.name != f.name),
                "{} declared twice",
                f.name
            );
            assert!(f.results.len() <= 1);
        }
        assert_eq!(names::storage_read, "storage_read");
        assert_eq!(
            host_fn("storage_read").unwrap().results,
            &[ValType::I64][..]
        );
        assert!(host_fn("nope").is_none());
    }

    #[test]
    fn host_codes_are_below_the_contract_range_and_described() {
        for (i, &c) in code::ALL.iter().enumerate() {
            assert!(c > 0 && c < code::CONTRACT_MIN);
            assert_ne!(
                code::describe(c),
                "contract error",
                "code {c} has no description"
            );
            for &d in &code::ALL[i + 1..] {
                assert_ne!(c, d, "duplicate code");
                assert_ne!(code::describe(c), code::describe(d));
            }
        }
        assert_eq!(code::describe(code::CONTRACT_MIN), "contract error");
    }
}
