//! The native test harness: run a contract's **compiled wasm** in the real Phalanx runtime,
//! in-process, from `cargo test`.
//!
//! ```ignore
//! use phalanx_sdk::testing::TestEnv;
//!
//! #[test]
//! fn increments() {
//!     let mut env = TestEnv::new();
//!     let alice = TestEnv::account("alice");
//!     let counter = env.deploy(alice, &phalanx_sdk::contract_wasm!(), serde_json::json!({})).unwrap();
//!     let r = env.call::<u64>(alice, counter, "increment", serde_json::json!({"by": 2}));
//!     assert_eq!(r.result, Ok(2));
//! }
//! ```
//!
//! [`contract_wasm!`](crate::contract_wasm) builds the crate under test with
//! `cargo build --release --target wasm32-unknown-unknown` (once per test process), so the
//! tests exercise exactly the bytes you would deploy.

extern crate std;

use crate::error::ContractError;
use crate::types::Address;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use phalanx_runtime::{
    BlockInfo, EXEC_STACK_BYTES, MemoryState, Outcome, Overlay, Query, Runtime, RuntimeConfig,
    TxEnv,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

/// Default gas limit of harness calls.
pub const DEFAULT_GAS: u64 = 100_000_000;

/// An event as the harness reports it, with its data decoded as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct TestEvent {
    /// Emitting contract.
    pub contract: Address,
    /// Topic.
    pub topic: String,
    /// Data (JSON), or `Null` if it was not JSON.
    pub data: serde_json::Value,
}

impl TestEvent {
    /// The event's data as `E` if it is one (its topic is `E`'s and the data decodes).
    pub fn decode<E: crate::abi::Event + DeserializeOwned>(&self) -> Option<E> {
        if self.topic != E::TOPIC {
            return None;
        }
        serde_json::from_value(self.data.clone()).ok()
    }
}

/// The outcome of a harness call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallReceipt<R> {
    /// The decoded result, or the error the call failed with.
    pub result: Result<R, ContractError>,
    /// Gas used.
    pub gas_used: u64,
    /// Events emitted (empty on failure).
    pub events: Vec<TestEvent>,
}

/// An in-memory chain with the real runtime: deploy contracts, call them as any account, and
/// move blocks forward. Successful calls are committed; failed ones leave no change.
pub struct TestEnv {
    runtime: Runtime,
    state: MemoryState,
    block: BlockInfo,
    nonces: BTreeMap<Address, u64>,
    gas_limit: u64,
}

impl Default for TestEnv {
    fn default() -> Self {
        TestEnv::new()
    }
}

fn to_types(a: Address) -> phalanx_types::Address {
    phalanx_types::Address(a.0)
}

fn from_types(a: phalanx_types::Address) -> Address {
    Address(a.0)
}

fn decode_result<R: DeserializeOwned>(out: &Outcome) -> Result<R, ContractError> {
    match &out.result {
        Ok(bytes) => {
            let bytes: &[u8] = if bytes.is_empty() { b"null" } else { bytes };
            serde_json::from_slice(bytes).map_err(|e| {
                ContractError::msg(alloc::format!(
                    "harness: result {:?} does not decode: {e}",
                    String::from_utf8_lossy(bytes)
                ))
            })
        }
        Err(e) => Err(ContractError {
            code: e.code,
            message: e.message.clone(),
        }),
    }
}

fn events(out: &Outcome) -> Vec<TestEvent> {
    out.events
        .iter()
        .map(|e| TestEvent {
            contract: from_types(e.contract),
            topic: e.topic.clone(),
            data: serde_json::from_slice(&e.data.0).unwrap_or(serde_json::Value::Null),
        })
        .collect()
}

impl TestEnv {
    /// A fresh chain at height 1.
    pub fn new() -> TestEnv {
        TestEnv {
            runtime: Runtime::new(RuntimeConfig::default()).expect("runtime starts"),
            state: MemoryState::default(),
            block: BlockInfo {
                height: 1,
                time_ms: 1_700_000_000_000,
                chain_id: "phalanx-test".into(),
            },
            nonces: BTreeMap::new(),
            gas_limit: DEFAULT_GAS,
        }
    }

    /// A deterministic test account named `name`.
    pub fn account(name: &str) -> Address {
        Address(*blake3::hash(name.as_bytes()).as_bytes())
    }

    /// Sets the gas limit of later calls.
    pub fn set_gas_limit(&mut self, gas: u64) {
        self.gas_limit = gas;
    }

    /// Sets the block height and time seen by later calls.
    pub fn set_block(&mut self, height: u64, time_ms: u64) {
        self.block.height = height;
        self.block.time_ms = time_ms;
    }

    /// Moves to the next block, one second later.
    pub fn next_block(&mut self) {
        self.block.height += 1;
        self.block.time_ms += 1000;
    }

    fn tx_env(&mut self, from: Address) -> TxEnv {
        let nonce = self.nonces.entry(from).or_insert(0);
        *nonce += 1;
        TxEnv {
            block: self.block.clone(),
            origin: to_types(from),
            nonce: *nonce,
            gas_limit: self.gas_limit,
        }
    }

    /// Runs `f` against a fresh overlay on a thread with the stack the runtime needs, and
    /// commits the overlay.
    fn execute(&mut self, f: impl FnOnce(&Runtime, &mut Overlay) -> Outcome + Send) -> Outcome {
        let mut overlay = Overlay::new(Arc::new(self.state.clone()));
        let runtime = &self.runtime;
        let out = std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(EXEC_STACK_BYTES)
                .spawn_scoped(s, || f(runtime, &mut overlay))
                .expect("spawn executor thread")
                .join()
                .expect("executor thread panicked")
        });
        self.state.apply(&overlay.into_changes());
        out
    }

    /// Deploys `wasm` from `from`, calling `init` with `init` (use `()` or `json!({})` for
    /// none). Returns the contract address.
    pub fn deploy(
        &mut self,
        from: Address,
        wasm: &[u8],
        init: impl Serialize,
    ) -> Result<Address, ContractError> {
        let r = self.deploy_receipt(from, wasm, init);
        r.result
    }

    /// Deploys and returns the full receipt (the result is the new address). The contract
    /// has no admin: it can never be migrated.
    pub fn deploy_receipt(
        &mut self,
        from: Address,
        wasm: &[u8],
        init: impl Serialize,
    ) -> CallReceipt<Address> {
        self.deploy_with_admin(from, wasm, init, None)
    }

    /// Deploys with `admin`, the account that may migrate the contract to other code
    /// ([`TestEnv::migrate`]); returns the full receipt.
    pub fn deploy_with_admin(
        &mut self,
        from: Address,
        wasm: &[u8],
        init: impl Serialize,
        admin: Option<Address>,
    ) -> CallReceipt<Address> {
        let init = json_args(&init);
        let env = self.tx_env(from);
        let admin = admin.map(|a| phalanx_types::Admin::Account(to_types(a)));
        let out = self.execute(|rt, overlay| {
            rt.deploy_with_admin(overlay, &env, wasm, &init, admin)
                .expect("runtime fault")
        });
        CallReceipt {
            result: match (&out.result, out.contract) {
                (Ok(_), Some(a)) => Ok(from_types(a)),
                _ => decode_result::<serde_json::Value>(&out).map(|_| Address::ZERO),
            },
            gas_used: out.gas_used,
            events: events(&out),
        }
    }

    /// Calls `method` of `contract` as `from` with JSON `args`, committing on success.
    pub fn call<R: DeserializeOwned>(
        &mut self,
        from: Address,
        contract: Address,
        method: &str,
        args: impl Serialize,
    ) -> CallReceipt<R> {
        let args = json_args(&args);
        let env = self.tx_env(from);
        let out = self.execute(|rt, overlay| {
            rt.call(overlay, &env, &to_types(contract), method, &args)
                .expect("runtime fault")
        });
        CallReceipt {
            result: decode_result(&out),
            gas_used: out.gas_used,
            events: events(&out),
        }
    }

    /// Migrates `contract` to `wasm` as `from` (who must be its admin): the new code's
    /// `migrate` runs with `args`, and on failure nothing changes.
    pub fn migrate<R: DeserializeOwned>(
        &mut self,
        from: Address,
        contract: Address,
        wasm: &[u8],
        args: impl Serialize,
    ) -> CallReceipt<R> {
        let args = json_args(&args);
        let env = self.tx_env(from);
        let hash = phalanx_runtime::layout::code_hash(wasm);
        let out = self.execute(|rt, overlay| {
            rt.migrate(overlay, &env, &to_types(contract), &hash, Some(wasm), &args)
                .expect("runtime fault")
        });
        CallReceipt {
            result: decode_result(&out),
            gas_used: out.gas_used,
            events: events(&out),
        }
    }

    /// Hands `contract`'s admin role from `from` to `admin`, or gives it up with `None`.
    pub fn set_admin(
        &mut self,
        from: Address,
        contract: Address,
        admin: Option<Address>,
    ) -> CallReceipt<()> {
        let env = self.tx_env(from);
        let admin = admin.map(|a| phalanx_types::Admin::Account(to_types(a)));
        let out = self.execute(|rt, overlay| {
            rt.set_admin(overlay, &env, &to_types(contract), admin)
                .expect("runtime fault")
        });
        CallReceipt {
            result: decode_result(&out),
            gas_used: out.gas_used,
            events: events(&out),
        }
    }

    /// A read-only query of `method` (no transaction; writes fail).
    pub fn query<R: DeserializeOwned>(
        &self,
        contract: Address,
        method: &str,
        args: impl Serialize,
    ) -> Result<R, ContractError> {
        let args = json_args(&args);
        let state = Arc::new(self.state.clone());
        let out = std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(EXEC_STACK_BYTES)
                .spawn_scoped(s, || {
                    self.runtime
                        .query(
                            state,
                            self.block.clone(),
                            &Query {
                                contract: to_types(contract),
                                method,
                                args: &args,
                                caller: None,
                                gas_cap: self.gas_limit,
                            },
                        )
                        .expect("runtime fault")
                })
                .expect("spawn executor thread")
                .join()
                .expect("executor thread panicked")
        });
        decode_result(&out)
    }
}

impl crate::client::Transport for TestEnv {
    type Receipt<R> = CallReceipt<R>;

    fn deploy_contract<A: Serialize>(
        &mut self,
        sender: Address,
        code: &[u8],
        init: &A,
    ) -> Result<Address, ContractError> {
        self.deploy(sender, code, init)
    }

    fn call_contract<A: Serialize, R: DeserializeOwned>(
        &mut self,
        sender: Address,
        contract: Address,
        method: &str,
        args: &A,
    ) -> CallReceipt<R> {
        self.call(sender, contract, method, args)
    }

    fn migrate_contract<A: Serialize, R: DeserializeOwned>(
        &mut self,
        sender: Address,
        contract: Address,
        code: &[u8],
        args: &A,
    ) -> CallReceipt<R> {
        self.migrate(sender, contract, code, args)
    }

    fn query_contract<A: Serialize, R: DeserializeOwned>(
        &self,
        contract: Address,
        method: &str,
        args: &A,
    ) -> Result<R, ContractError> {
        self.query(contract, method, args)
    }
}

fn json_args(args: &impl Serialize) -> Vec<u8> {
    let v = serde_json::to_value(args).expect("arguments encode as JSON");
    if v.is_null() {
        return Vec::new();
    }
    serde_json::to_vec(&v).expect("arguments encode as JSON")
}

/// Builds the contract crate at `manifest_dir` for wasm32 in release mode (once per process)
/// and returns its `.wasm` bytes.
///
/// The build uses its own target directory (`<target>/phalanx-contracts`) so it never waits on
/// the lock of the `cargo test` that runs it.
pub fn build_contract(manifest_dir: &str) -> Vec<u8> {
    static BUILT: OnceLock<Mutex<BTreeMap<PathBuf, Vec<u8>>>> = OnceLock::new();
    let dir = Path::new(manifest_dir)
        .canonicalize()
        .unwrap_or_else(|e| panic!("contract directory {manifest_dir}: {e}"));
    let cache = BUILT.get_or_init(|| Mutex::new(BTreeMap::new()));
    let mut built = cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(wasm) = built.get(&dir) {
        return wasm.clone();
    }
    let name = package_name(&dir.join("Cargo.toml")).replace('-', "_");
    let target_dir = harness_target_dir();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("run cargo build for the contract");
    assert!(
        status.success(),
        "building {name} for wasm32 failed (is the wasm32-unknown-unknown target installed?)"
    );
    let path = target_dir
        .join("wasm32-unknown-unknown/release")
        .join(alloc::format!("{name}.wasm"));
    let wasm = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    built.insert(dir, wasm.clone());
    wasm
}

fn package_name(manifest: &Path) -> String {
    let text =
        std::fs::read_to_string(manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(rest) = line.strip_prefix("name") {
            let value = rest.trim_start().trim_start_matches('=').trim();
            return value.trim_matches('"').to_string();
        }
    }
    panic!("{}: no [package] name", manifest.display())
}

/// `<target>/phalanx-contracts`, where `<target>` is the directory holding the running test
/// binary's profile directory.
fn harness_target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // <target>/<profile>/deps/<test-binary>
    let target = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"));
    target.join("phalanx-contracts")
}

/// The compiled wasm of the contract crate being tested (or of the crate at a path relative
/// to it): `contract_wasm!()` or `contract_wasm!("../token")`.
#[macro_export]
macro_rules! contract_wasm {
    () => {
        $crate::testing::build_contract(env!("CARGO_MANIFEST_DIR"))
    };
    ($relative:expr) => {
        $crate::testing::build_contract(&::std::format!(
            "{}/{}",
            env!("CARGO_MANIFEST_DIR"),
            $relative
        ))
    };
}
