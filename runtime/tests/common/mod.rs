//! Shared helpers for runtime tests: a tiny chain over in-memory state and WAT contracts.
#![allow(dead_code)]

use phalanx_runtime::{
    BlockInfo, EXEC_STACK_BYTES, MemoryState, Outcome, Overlay, Runtime, RuntimeConfig, TxEnv,
};
use phalanx_types::Address;
use std::sync::Arc;

/// Runs `f` on a thread with the stack the runtime documents for executing contracts.
pub fn with_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(EXEC_STACK_BYTES)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("test thread panicked")
}

pub const ALICE: Address = Address([0xa1; 32]);
pub const GAS: u64 = 50_000_000;

/// A one-node "chain": committed state plus a block counter.
pub struct Chain {
    pub rt: Runtime,
    pub state: MemoryState,
    pub height: u64,
    pub nonce: u64,
}

impl Chain {
    pub fn new() -> Chain {
        Chain::with_runtime(Runtime::new(RuntimeConfig::default()).expect("runtime"))
    }

    pub fn with_runtime(rt: Runtime) -> Chain {
        Chain {
            rt,
            state: MemoryState::default(),
            height: 1,
            nonce: 0,
        }
    }

    pub fn env(&mut self, gas: u64) -> TxEnv {
        self.nonce += 1;
        TxEnv {
            block: self.block(),
            origin: ALICE,
            nonce: self.nonce,
            gas_limit: gas,
        }
    }

    pub fn block(&self) -> BlockInfo {
        BlockInfo {
            height: self.height,
            time_ms: 1_700_000_000_000 + self.height * 1000,
            chain_id: "test-chain".into(),
        }
    }

    fn commit(&mut self, overlay: Overlay) {
        let changes = overlay.into_changes();
        self.state.apply(&changes);
        self.height += 1;
    }

    /// Deploys wasm (or WAT) code; returns the outcome.
    pub fn deploy_outcome(&mut self, code: &[u8], init: &[u8], gas: u64) -> Outcome {
        let env = self.env(gas);
        let mut overlay = Overlay::new(Arc::new(self.state.clone()));
        let out = self
            .rt
            .deploy(&mut overlay, &env, code, init)
            .expect("no node fault");
        self.commit(overlay);
        out
    }

    /// Deploys and expects success.
    pub fn deploy(&mut self, code: &[u8], init: &[u8]) -> Address {
        let out = self.deploy_outcome(code, init, GAS);
        assert!(out.result.is_ok(), "deploy failed: {:?}", out.result);
        out.contract.expect("address")
    }

    pub fn call_gas(&mut self, contract: &Address, method: &str, args: &[u8], gas: u64) -> Outcome {
        let env = self.env(gas);
        let mut overlay = Overlay::new(Arc::new(self.state.clone()));
        let out = self
            .rt
            .call(&mut overlay, &env, contract, method, args)
            .expect("no node fault");
        self.commit(overlay);
        out
    }

    pub fn call(&mut self, contract: &Address, method: &str, args: &[u8]) -> Outcome {
        self.call_gas(contract, method, args, GAS)
    }

    pub fn query(&self, contract: &Address, method: &str, args: &[u8]) -> Outcome {
        self.rt
            .query(
                Arc::new(self.state.clone()),
                self.block(),
                &phalanx_runtime::Query {
                    contract: *contract,
                    method,
                    args,
                    caller: None,
                    gas_cap: GAS,
                },
            )
            .expect("no node fault")
    }
}

pub fn wat(src: &str) -> Vec<u8> {
    wat::parse_str(src).expect("valid wat")
}

/// Imports every test contract may use.
pub const IMPORTS: &str = r#"
  (import "phalanx" "input_read" (func $input (param i32)))
  (import "phalanx" "return_data" (func $ret (param i32 i32)))
  (import "phalanx" "abort" (func $abort (param i32 i32 i32)))
  (import "phalanx" "storage_read" (func $sread (param i32 i32 i32 i32) (result i64)))
  (import "phalanx" "storage_write" (func $swrite (param i32 i32 i32 i32)))
  (import "phalanx" "storage_remove" (func $sremove (param i32 i32) (result i32)))
  (import "phalanx" "storage_next" (func $snext (param i32 i32 i32 i32 i32 i32) (result i64)))
  (import "phalanx" "emit" (func $emit (param i32 i32 i32 i32)))
  (import "phalanx" "self_address" (func $self (param i32)))
  (import "phalanx" "caller" (func $caller (param i32)))
  (import "phalanx" "call" (func $call (param i32 i32 i32 i32 i32) (result i32)))
  (import "phalanx" "result_len" (func $result_len (result i32)))
  (import "phalanx" "result_read" (func $result_read (param i32)))
"#;

/// A counter: `inc` adds one to a u64 under key "n", emits `bumped` and returns the new value;
/// `get` returns it; `fail` writes 99 then aborts with 1234 "nope"; `echo` returns its input.
pub fn counter() -> Vec<u8> {
    wat(&format!(
        r#"(module {IMPORTS}
  (memory (export "memory") 1)
  (data (i32.const 0) "n")
  (data (i32.const 16) "bumped")
  (data (i32.const 32) "nope")
  (func (export "init") (param i32))
  (func (export "inc") (param i32)
    (drop (call $sread (i32.const 0) (i32.const 1) (i32.const 100) (i32.const 8)))
    (i64.store (i32.const 100) (i64.add (i64.load (i32.const 100)) (i64.const 1)))
    (call $swrite (i32.const 0) (i32.const 1) (i32.const 100) (i32.const 8))
    (call $emit (i32.const 16) (i32.const 6) (i32.const 100) (i32.const 8))
    (call $ret (i32.const 100) (i32.const 8)))
  (func (export "get") (param i32)
    (drop (call $sread (i32.const 0) (i32.const 1) (i32.const 100) (i32.const 8)))
    (call $ret (i32.const 100) (i32.const 8)))
  (func (export "fail") (param i32)
    (i64.store (i32.const 100) (i64.const 99))
    (call $swrite (i32.const 0) (i32.const 1) (i32.const 100) (i32.const 8))
    (call $abort (i32.const 1234) (i32.const 32) (i32.const 4)))
  (func (export "echo") (param $len i32)
    (call $input (i32.const 1024))
    (call $ret (i32.const 1024) (local.get $len))))"#
    ))
}

pub fn u64_of(out: &Outcome) -> u64 {
    let bytes = out.result.as_ref().expect("call succeeded");
    u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"))
}

/// Float arithmetic: `compute` stores the raw bits of 0/0 (f64), sqrt(-1) (f32) and 1/3 (f64)
/// under "f" and returns them (20 bytes).
pub fn floats() -> Vec<u8> {
    wat(&format!(
        r#"(module {IMPORTS}
  (memory (export "memory") 1)
  (data (i32.const 0) "f")
  (func (export "init") (param i32))
  (func (export "compute") (param i32)
    (f64.store (i32.const 100) (f64.div (f64.const 0) (f64.const 0)))
    (f32.store (i32.const 108) (f32.sqrt (f32.const -1)))
    (f64.store (i32.const 112) (f64.div (f64.const 1) (f64.const 3)))
    (call $swrite (i32.const 0) (i32.const 1) (i32.const 100) (i32.const 20))
    (call $ret (i32.const 100) (i32.const 20))))"#
    ))
}
