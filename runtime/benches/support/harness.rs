//! Runs the adversarial library against real storage: state committed to RocksDB through the
//! state tree, read back through the node's own adapter, as a validator executes blocks.
#![allow(dead_code)]

use super::adversarial::{Attack, Case, Step, address_of};
use phalanx_executor::adapters::{KvArtifacts, StoreView};
use phalanx_runtime::{BlockInfo, Outcome, Overlay, Runtime, RuntimeConfig, TxEnv};
use phalanx_storage::{Durability, KvStore, RocksStore, StateStore, WriteBatch};
use phalanx_types::Address;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The account that sends every transaction.
pub const ATTACKER: Address = Address([0xad; 32]);

/// Gas for setup transactions.
const SETUP_GAS: u64 = 1_000_000_000;

/// A one-validator chain over RocksDB.
pub struct Harness {
    _dir: tempfile::TempDir,
    kv: Arc<RocksStore>,
    store: StateStore,
    /// The runtime (its module cache persists artifacts in the same database).
    pub rt: Runtime,
    height: u64,
    nonce: u64,
    /// Addresses of the contracts deployed by the setup, in order.
    pub deployed: Vec<Address>,
}

impl Harness {
    /// A fresh chain whose runtime is built from `config`.
    pub fn new(config: RuntimeConfig) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let kv = Arc::new(RocksStore::open(dir.path()).expect("rocksdb"));
        let store = StateStore::new(kv.clone());
        let rt = Runtime::with_store(config, Arc::new(KvArtifacts(kv.clone()))).expect("runtime");
        Harness {
            _dir: dir,
            kv,
            store,
            rt,
            height: 1,
            nonce: 0,
            deployed: Vec::new(),
        }
    }

    fn env(&mut self, gas: u64) -> TxEnv {
        self.nonce += 1;
        TxEnv {
            block: BlockInfo {
                height: self.height,
                time_ms: 1_700_000_000_000 + self.height,
                chain_id: "adversarial".into(),
            },
            origin: ATTACKER,
            nonce: self.nonce,
            gas_limit: gas,
        }
    }

    fn overlay(&self) -> Overlay {
        Overlay::new(Arc::new(StoreView(self.store.clone())))
    }

    fn commit(&mut self, overlay: Overlay) {
        let mut batch = WriteBatch::new();
        self.store
            .stage_commit(&mut batch, self.height, &overlay.into_changes())
            .expect("stage commit");
        self.kv.write(batch, Durability::Sync).expect("write");
        self.height += 1;
    }

    /// Runs the case's setup, each step in its own block.
    pub fn prepare(&mut self, case: &Case) {
        for step in &case.setup {
            let env = self.env(SETUP_GAS);
            let mut overlay = self.overlay();
            match step {
                Step::Deploy(code) => {
                    let out = self
                        .rt
                        .deploy(&mut overlay, &env, code, b"")
                        .expect("deploy");
                    let address = out
                        .contract
                        .unwrap_or_else(|| panic!("{}: setup deploy failed: {out:?}", case.name));
                    self.deployed.push(address);
                }
                Step::Call(n, method, args) => {
                    let out = self
                        .rt
                        .call(&mut overlay, &env, &self.deployed[*n], method, args)
                        .expect("call");
                    assert!(
                        out.result.is_ok(),
                        "{}: setup {method} failed: {out:?}",
                        case.name
                    );
                }
            }
            self.commit(overlay);
        }
    }

    /// Runs the attack once with `gas` and computes the state root its changes would commit
    /// (a validator does both before it votes); returns the outcome and the time of both.
    /// Nothing is written.
    pub fn attack(&mut self, case: &Case, gas: u64) -> (Outcome, Duration) {
        let env = self.env(gas);
        let mut overlay = self.overlay();
        let start = Instant::now();
        let out = match &case.attack {
            Attack::Deploy(code) => self.rt.deploy(&mut overlay, &env, code, b""),
            Attack::Call {
                contract,
                method,
                args,
                addresses,
            } => {
                let input = Attack::input(args, addresses, &self.deployed);
                let target = address_of(*contract, &self.deployed);
                self.rt.call(&mut overlay, &env, &target, method, &input)
            }
        }
        .expect("no node fault");
        let mut batch = WriteBatch::new();
        self.store
            .stage_commit(&mut batch, self.height, &overlay.into_changes())
            .expect("stage commit");
        (out, start.elapsed())
    }
}
