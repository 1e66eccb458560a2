//! Block execution of 5,000 token transfers through the node's own path (`Chain`: execution
//! in the wasm runtime, receipts, and the state-tree root staged over RocksDB):
//!
//! - `build`: what a primary does with transactions whose signatures it checked at admission;
//! - `validate`: what a replica does when it admitted them too (same work, plus the header
//!   checks);
//! - `replay`: what sync does with certified blocks (every signature checked again).
//!
//! `cargo bench --workspace --bench block` (release) prints the medians; transfers per second
//! are 5,000 ÷ median.

#[path = "../../../runtime/benches/support/example_contracts.rs"]
mod example_contracts;
#[path = "../../../runtime/benches/support/exec_stack.rs"]
mod exec_stack;

use criterion::{Criterion, Throughput};
use phalanx_core::chain::write_genesis;
use phalanx_core::{Chain, ChainInfo};
use phalanx_executor::adapters::KvArtifacts;
use phalanx_executor::genesis::genesis_state;
use phalanx_genesis::{ConsensusParams, DeployPolicy, Genesis, GenesisContract, GenesisValidator};
use phalanx_runtime::{Runtime, RuntimeConfig, layout};
use phalanx_storage::{KvStore, RocksStore, WriteBatch};
use phalanx_types::{Address, Bytes, CommitCertificate, SecretKey, SignedTx, Tx, TxPayload};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const CHAIN: &str = "bench-block";
const TXS: usize = 5_000;
const SENDERS: usize = 250;

struct Setup {
    chain: Chain,
    proposer: Address,
    txs: Vec<SignedTx>,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/Cargo.toml");
    let token = std::fs::read(example_contracts::build("token", &manifest)).expect("token.wasm");
    let validator = SecretKey::from_seed([1; 32]);
    let funder = SecretKey::from_seed([2; 32]);
    let genesis = Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: 1_700_000_000_000,
        validators: vec![GenesisValidator {
            name: "v".into(),
            public_key: validator.public_key(),
            peer_id: "12D3KooWAhQxrV7Vy8GSRkRz8E4eqf1YbvbAd4Fzf4F7zjpGSNqg".into(),
        }],
        observers: vec![],
        params: ConsensusParams::default(),
        deploy_policy: DeployPolicy::Anyone,
        contracts: vec![GenesisContract {
            name: "token".into(),
            code: Bytes(token),
            deployer: funder.address(),
            init_args: r#"{"name":"Bench","symbol":"BEN","decimals":0,"supply":"1000000000000"}"#
                .into(),
        }],
        governance: Default::default(),
    };
    let dir = tempfile::tempdir().unwrap();
    let kv: Arc<dyn KvStore> = Arc::new(RocksStore::open(dir.path()).unwrap());
    let runtime = Arc::new(
        Runtime::with_store(RuntimeConfig::default(), Arc::new(KvArtifacts(kv.clone()))).unwrap(),
    );
    let changes = genesis_state(&runtime, &genesis).unwrap();
    write_genesis(&kv, &changes, WriteBatch::new()).unwrap();
    let mut chain = Chain::open(kv, ChainInfo::from_genesis(&genesis), runtime).unwrap();
    let token = layout::contract_address(&funder.address(), 0);
    let transfer = |from: &SecretKey, nonce: u64, to: Address, amount: u64| {
        Tx {
            chain_id: CHAIN.into(),
            sender: from.public_key(),
            nonce,
            gas_limit: 1_000_000,
            payload: TxPayload::Call {
                contract: token,
                method: "transfer".into(),
                args: Bytes(format!(r#"{{"to":"{to}","amount":"{amount}"}}"#).into_bytes()),
            },
        }
        .sign(from)
    };
    // Block 1 funds SENDERS accounts; it is committed, so the measured block starts from it.
    let senders: Vec<SecretKey> = (0..SENDERS as u64)
        .map(|i| {
            let mut seed = [3u8; 32];
            seed[..8].copy_from_slice(&i.to_be_bytes());
            SecretKey::from_seed(seed)
        })
        .collect();
    let funding = senders
        .iter()
        .enumerate()
        .map(|(i, s)| transfer(&funder, i as u64, s.address(), 1_000_000))
        .collect();
    let (block, executed, _) = chain
        .build(validator.address(), 1_700_000_000_500, funding, &|_| true)
        .unwrap();
    let certificate = CommitCertificate {
        height: 1,
        view: 0,
        block_hash: block.hash(),
        signatures: Vec::new(),
    };
    chain.commit(&block, &certificate, executed).unwrap();
    // The measured block: 5,000 transfers by SENDERS senders taking turns (so a batch of
    // signatures holds distinct keys, as in a real block), each to a distinct recipient:
    // every transfer writes two balances and the sender's nonce.
    let txs = (0..TXS as u64)
        .map(|n| {
            let from = &senders[n as usize % SENDERS];
            let mut to = from.address();
            to.0[..8].copy_from_slice(&(n + 1_000_000).to_be_bytes());
            transfer(from, n / SENDERS as u64, to, 7)
        })
        .collect();
    Setup {
        chain,
        proposer: validator.address(),
        txs,
        _dir: dir,
    }
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let now = 1_700_000_001_000;
    let (block, executed, dropped) = s
        .chain
        .build(s.proposer, now, s.txs.clone(), &|_| true)
        .unwrap();
    assert!(dropped.is_empty(), "every transfer is valid");
    assert!(
        executed
            .receipts
            .iter()
            .all(|r| r.status == phalanx_types::TxStatus::Ok),
        "every transfer succeeds"
    );
    let mut group = c.benchmark_group("block_5000_transfers");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(TXS as u64));
    group.bench_function("build", |b| {
        b.iter(|| {
            s.chain
                .build(s.proposer, now, s.txs.clone(), &|_| true)
                .unwrap()
        })
    });
    group.bench_function("validate", |b| {
        b.iter(|| s.chain.validate(&block, now, &|_| true).unwrap().unwrap())
    });
    group.bench_function("replay", |b| {
        b.iter(|| s.chain.replay(&block).unwrap().unwrap())
    });
    group.finish();
}

fn main() {
    exec_stack::run(bench);
}
