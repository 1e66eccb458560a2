//! Runtime behaviour: deploy, call, overlay semantics, queries, determinism, module cache.

mod common;

use common::*;
use phalanx_executor::adapters::{KvArtifacts, StoreView};
use phalanx_runtime::abi::code;
use phalanx_runtime::{MemoryState, Overlay, Runtime, RuntimeConfig, TxEnv, layout};
use phalanx_storage::{Durability, KvStore, MemoryStore, RocksStore, StateStore, WriteBatch};
use phalanx_types::{Address, TxPayload};
use std::sync::Arc;

#[test]
fn deploy_call_query_and_events() {
    with_stack(|| {
        let mut chain = Chain::new();
        let c = chain.deploy(&counter(), b"");
        for expected in 1..=3 {
            let out = chain.call(&c, "inc", b"");
            assert_eq!(u64_of(&out), expected);
            assert_eq!(out.events.len(), 1);
            assert_eq!(out.events[0].topic, "bumped");
            assert_eq!(out.events[0].contract, c);
            assert!(out.gas_used > 0 && out.gas_used < GAS);
        }
        assert_eq!(u64_of(&chain.query(&c, "get", b"")), 3);
        let echo = chain.call(&c, "echo", b"{\"hello\":1}");
        assert_eq!(echo.result.unwrap(), b"{\"hello\":1}");
        // The contract's metadata and code are in state.
        let info = chain
            .state
            .0
            .get(&layout::contract_key(&c))
            .expect("contract info");
        let info = layout::ContractInfo::from_bytes(info).unwrap();
        assert_eq!(info.deployer, ALICE);
        assert_eq!(info.code_hash, layout::code_hash(&counter()));
        assert!(
            chain
                .state
                .0
                .contains_key(&layout::code_key(&info.code_hash))
        );
    });
}

#[test]
fn a_failed_call_changes_nothing_and_reports_the_contract_error() {
    with_stack(|| {
        let mut chain = Chain::new();
        let c = chain.deploy(&counter(), b"");
        chain.call(&c, "inc", b"");
        let before = chain.state.clone();
        let out = chain.call(&c, "fail", b"");
        let err = out.result.unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (1234, "nope"));
        assert!(out.events.is_empty());
        assert!(out.gas_used > 0);
        assert_eq!(chain.state.0, before.0, "failed call left state changes");
        assert_eq!(u64_of(&chain.query(&c, "get", b"")), 1);
    });
}

#[test]
fn unknown_things_fail_with_stable_codes() {
    with_stack(|| {
        let mut chain = Chain::new();
        let c = chain.deploy(&counter(), b"");
        let nobody = Address([9; 32]);
        assert_eq!(
            chain.call(&nobody, "inc", b"").result.unwrap_err().code,
            code::UNKNOWN_CONTRACT
        );
        assert_eq!(
            chain.call(&c, "nope", b"").result.unwrap_err().code,
            code::UNKNOWN_METHOD
        );
        assert_eq!(
            chain.call(&c, "memory", b"").result.unwrap_err().code,
            code::UNKNOWN_METHOD
        );
        // `init` runs once, at instantiation only.
        assert_eq!(
            chain.call(&c, "init", b"").result.unwrap_err().code,
            code::UNKNOWN_METHOD
        );
        let env = chain.env(GAS);
        let mut overlay = Overlay::new(Arc::new(chain.state.clone()));
        let out = chain
            .rt
            .instantiate(&mut overlay, &env, &phalanx_types::Hash([3; 32]), b"", None)
            .unwrap();
        assert_eq!(out.result.unwrap_err().code, code::UNKNOWN_CODE);
        assert!(overlay.into_changes().is_empty());
    });
}

#[test]
fn code_is_stored_once_and_instantiated_many_times() {
    with_stack(|| {
        let mut chain = Chain::new();
        let a = chain.deploy(&counter(), b"");
        let b = chain.deploy(&counter(), b"");
        assert_ne!(a, b);
        let hash = layout::code_hash(&counter());
        let env = chain.env(GAS);
        let mut overlay = Overlay::new(Arc::new(chain.state.clone()));
        let out = chain
            .rt
            .instantiate(&mut overlay, &env, &hash, b"", None)
            .unwrap();
        let c = out.contract.expect("instantiated");
        chain.state.apply(&overlay.into_changes());
        chain.call(&c, "inc", b"");
        chain.call(&c, "inc", b"");
        assert_eq!(u64_of(&chain.query(&c, "get", b"")), 2);
        assert_eq!(
            u64_of(&chain.query(&a, "get", b"")),
            0,
            "contracts share code, not storage"
        );
        let codes = chain.state.0.keys().filter(|k| k[0] == 0x01).count();
        assert_eq!(codes, 1);
        // Compiled once: every later use hit the cache.
        assert_eq!(chain.rt.cache_stats().compiled, 1);
    });
}

#[test]
fn queries_cannot_write() {
    with_stack(|| {
        let mut chain = Chain::new();
        let c = chain.deploy(&counter(), b"");
        let out = chain.query(&c, "inc", b"");
        assert_eq!(out.result.unwrap_err().code, code::READ_ONLY);
        assert!(out.gas_used > 0);
        assert_eq!(u64_of(&chain.query(&c, "get", b"")), 0);
    });
}

#[test]
fn governance_payloads_are_not_for_the_runtime() {
    with_stack(|| {
        let mut chain = Chain::new();
        let env = chain.env(GAS);
        let mut overlay = Overlay::new(Arc::new(MemoryState::default()));
        let payload =
            TxPayload::Governance(phalanx_types::GovernanceAction::Approve { proposal_id: 1 });
        let out = chain.rt.apply(&mut overlay, &env, &payload).unwrap();
        assert_eq!(out.result.unwrap_err().code, code::UNSUPPORTED);
    });
}

/// Runs the same transactions on a runtime and returns every outcome and the state root.
fn run_script(rt: Runtime) -> (Vec<String>, phalanx_types::Hash) {
    let kv: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
    let store = StateStore::new(kv.clone());
    let mut outcomes = Vec::new();
    let mut roots = phalanx_types::Hash::ZERO;
    let mut contract = None;
    let steps: Vec<(&str, Vec<u8>)> = vec![
        ("deploy", counter()),
        ("deploy", common::floats()),
        ("inc", vec![]),
        ("inc", vec![]),
        ("fail", vec![]),
        ("echo", b"abc".to_vec()),
        ("spin", vec![]),
    ];
    let mut floats = None;
    for (height, (step, data)) in (1u64..).zip(steps) {
        let nonce = height;
        let mut overlay = Overlay::new(Arc::new(StoreView(store.clone())));
        let env = TxEnv {
            block: phalanx_runtime::BlockInfo {
                height,
                time_ms: 1000 * height,
                chain_id: "det".into(),
            },
            origin: ALICE,
            nonce,
            gas_limit: 2_000_000,
        };
        let out = match step {
            "deploy" => {
                let out = rt.deploy(&mut overlay, &env, &data, b"").unwrap();
                if contract.is_none() {
                    contract = out.contract;
                } else {
                    floats = out.contract;
                }
                out
            }
            "spin" => rt
                .call(&mut overlay, &env, &floats.unwrap(), "compute", &data)
                .unwrap(),
            m => rt
                .call(&mut overlay, &env, &contract.unwrap(), m, &data)
                .unwrap(),
        };
        outcomes.push(format!("{out:?}"));
        let mut batch = WriteBatch::new();
        roots = store
            .stage_commit(&mut batch, height, overlay.changes())
            .unwrap();
        kv.write(batch, Durability::Sync).unwrap();
    }
    (outcomes, roots)
}

#[test]
fn two_runtimes_give_identical_outcomes_and_state_roots() {
    with_stack(|| {
        let a = run_script(Runtime::new(RuntimeConfig::default()).unwrap());
        let b = run_script(Runtime::new(RuntimeConfig::default()).unwrap());
        assert_eq!(a.0, b.0);
        assert_eq!(a.1, b.1);
        assert_ne!(a.1, phalanx_types::Hash::ZERO);
    });
}

#[test]
fn the_module_cache_survives_a_restart() {
    with_stack(|| {
        let dir = tempfile::tempdir().unwrap();
        let state;
        let c;
        {
            let kv = Arc::new(RocksStore::open(dir.path()).unwrap());
            let rt =
                Runtime::with_store(RuntimeConfig::default(), Arc::new(KvArtifacts(kv))).unwrap();
            let mut chain = Chain::with_runtime(rt);
            c = chain.deploy(&counter(), b"");
            chain.call(&c, "inc", b"");
            assert_eq!(chain.rt.cache_stats().compiled, 1);
            state = chain.state.clone();
        }
        let kv = Arc::new(RocksStore::open(dir.path()).unwrap());
        let rt = Runtime::with_store(RuntimeConfig::default(), Arc::new(KvArtifacts(kv))).unwrap();
        let mut chain = Chain::with_runtime(rt);
        chain.state = state;
        assert_eq!(u64_of(&chain.call(&c, "inc", b"")), 2);
        let stats = chain.rt.cache_stats();
        assert_eq!((stats.loaded, stats.compiled), (1, 0), "{stats:?}");
    });
}

/// A node whose artifacts are missing (a new engine or instrumentation version, a restored
/// copy of state) compiles every stored code before executing anything, so no block pays a
/// compile at the price of a load.
#[test]
fn missing_artifacts_are_compiled_before_any_block() {
    with_stack(|| {
        let mut chain = Chain::new();
        let c = chain.deploy(&counter(), b"");
        let codes: Vec<_> = chain
            .state
            .0
            .iter()
            .filter_map(|(k, v)| layout::code_hash_of_key(k).map(|h| (h, v.clone())))
            .collect();
        assert_eq!(codes.len(), 1);
        let dir = tempfile::tempdir().unwrap();
        let kv = Arc::new(RocksStore::open(dir.path()).unwrap());
        let rt = Runtime::with_store(RuntimeConfig::default(), Arc::new(KvArtifacts(kv))).unwrap();
        assert_eq!(rt.prepare_artifacts(codes.clone()).unwrap(), 1);
        assert_eq!(rt.prepare_artifacts(codes).unwrap(), 0, "already prepared");
        let state = chain.state.clone();
        let mut chain = Chain::with_runtime(rt);
        chain.state = state;
        let before = chain.rt.cache_stats();
        chain.call(&c, "inc", b"");
        let after = chain.rt.cache_stats();
        assert_eq!(after.compiled, before.compiled, "the call compiled nothing");
        assert_eq!(
            after.loaded,
            before.loaded + 1,
            "it loaded the prepared artifact"
        );
    });
}
