//! Shared by the core's integration tests.

#![allow(dead_code)]

use phalanx_runtime::EXEC_STACK_BYTES;

/// A contract whose `set` stores its argument bytes under themselves (`echo` returns them,
/// `fail` traps).
pub const SETTER: &str = include_str!("../setter.wat");

/// Runs `f` on a thread with the stack contract execution needs; panics propagate.
pub fn in_big_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(EXEC_STACK_BYTES)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}
