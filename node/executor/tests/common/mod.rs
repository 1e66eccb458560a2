//! Shared harness of the executor tests: committed state in memory and blocks executed on it.

#![allow(dead_code)]

use phalanx_executor::adapters::StoreView;
use phalanx_executor::{BlockEnv, ExecutorError, execute_block};
use phalanx_genesis::{ConsensusParams, DeployPolicy, GovernancePolicy};
use phalanx_runtime::{Runtime, RuntimeConfig, StateChanges};
use phalanx_storage::{Durability, KvStore, MemoryStore, StateStore, WriteBatch};
use phalanx_types::{Hash, SecretKey, SignedTx, Tx, TxPayload};
use std::sync::Arc;

/// Chain id of the tests.
pub const CHAIN: &str = "exec-test";

/// Committed state over an in-memory store and the block environment to execute on it.
pub struct Chain {
    pub rt: Runtime,
    pub kv: Arc<dyn KvStore>,
    pub state: StateStore,
    pub height: u64,
    pub env: BlockEnv,
    pub root: Hash,
}

impl Chain {
    /// An empty chain (no governance records).
    pub fn new(policy: DeployPolicy) -> Chain {
        Chain::with_genesis(policy, &Default::default())
    }

    /// A chain whose genesis state holds `genesis` changes.
    pub fn with_genesis(policy: DeployPolicy, genesis: &StateChanges) -> Chain {
        let kv: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
        let state = StateStore::new(kv.clone());
        let mut batch = WriteBatch::new();
        let root = state.stage_commit(&mut batch, 0, genesis).unwrap();
        kv.write(batch, Durability::Sync).unwrap();
        Chain {
            rt: Runtime::new(RuntimeConfig::default()).unwrap(),
            kv,
            state,
            height: 0,
            env: BlockEnv {
                chain_id: CHAIN.into(),
                height: 0,
                time_ms: 1_000,
                params: ConsensusParams::default(),
                deploy_policy: policy,
                governance: GovernancePolicy::default(),
                leave_out_unfit: false,
            },
            root,
        }
    }

    /// Executes `txs` as the next block without committing.
    pub fn execute(&self, txs: &[SignedTx]) -> Result<phalanx_executor::Executed, ExecutorError> {
        self.execute_trusting(txs, false)
    }

    /// With `trust`, every signature counts as checked at admission (it is skipped).
    pub fn execute_trusting(
        &self,
        txs: &[SignedTx],
        trust: bool,
    ) -> Result<phalanx_executor::Executed, ExecutorError> {
        let mut env = self.env.clone();
        env.height = self.height + 1;
        env.time_ms += 1000 * env.height;
        let rt = self.rt.clone();
        let base = Arc::new(StoreView(self.state.clone()));
        let txs = txs.to_vec();
        std::thread::Builder::new()
            .stack_size(phalanx_runtime::EXEC_STACK_BYTES)
            .spawn(move || {
                if trust {
                    phalanx_executor::execute_block_with(&rt, base, &env, &txs, &|_| true)
                } else {
                    execute_block(&rt, base, &env, &txs)
                }
            })
            .unwrap()
            .join()
            .unwrap()
    }

    /// Executes and commits `txs` as the next block.
    pub fn commit(&mut self, txs: &[SignedTx]) -> phalanx_executor::Executed {
        let out = self.execute(txs).expect("valid block");
        self.height += 1;
        let mut batch = WriteBatch::new();
        self.root = self
            .state
            .stage_commit(&mut batch, self.height, &out.changes)
            .unwrap();
        self.kv.write(batch, Durability::Sync).unwrap();
        out
    }
}

/// A deterministic key.
pub fn key(seed: u8) -> SecretKey {
    SecretKey::from_seed([seed; 32])
}

/// A signed transaction.
pub fn tx(key: &SecretKey, nonce: u64, payload: TxPayload) -> SignedTx {
    Tx {
        chain_id: CHAIN.into(),
        sender: key.public_key(),
        nonce,
        gas_limit: 100_000_000,
        payload,
    }
    .sign(key)
}
