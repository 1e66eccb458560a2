//! Runtime benchmark: token transfers with a cached module, bare instantiation, host-call
//! overhead, and the gas-to-time calibration behind docs/GAS.md.
//!
//! `cargo bench --workspace --profile dev --bench runtime` (the example contracts are built
//! for wasm32 first, with the contracts workspace's release profile).

use criterion::{BatchSize, Criterion, Throughput};
use phalanx_runtime::{BlockInfo, MemoryState, Overlay, Runtime, RuntimeConfig, TxEnv};
use phalanx_types::Address;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

#[path = "support/example_contracts.rs"]
mod example_contracts;
#[path = "support/exec_stack.rs"]
mod exec_stack;

const ALICE: Address = Address([0xa1; 32]);

fn contracts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts")
}

/// Builds the example contracts and returns `token.wasm`.
fn token_wasm() -> Vec<u8> {
    let path = example_contracts::build("token", &contracts_dir().join("Cargo.toml"));
    std::fs::read(path).expect("token.wasm")
}

fn env(nonce: u64, gas: u64) -> TxEnv {
    TxEnv {
        block: BlockInfo {
            height: 1,
            time_ms: 1_700_000_000_000,
            chain_id: "bench".into(),
        },
        origin: ALICE,
        nonce,
        gas_limit: gas,
    }
}

fn wat(body: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
  (import "phalanx" "gas_left" (func $gas_left (result i64)))
  (import "phalanx" "input_read" (func $input (param i32)))
  (memory (export "memory") 1)
  (func (export "init") (param i32))
  (func (export "noop") (param i32))
  {body})"#
    ))
    .expect("wat")
}

/// `spin(n)`: n iterations of a counted loop; `host(n)`: the same loop calling `gas_left`.
/// `n` is the input, a u32 LE.
fn loops() -> Vec<u8> {
    wat(r#"
  (func (export "spin") (param i32) (local $n i32)
    (call $input (i32.const 0)) (local.set $n (i32.load (i32.const 0)))
    (loop $l (local.set $n (i32.sub (local.get $n) (i32.const 1))) (br_if $l (local.get $n))))
  (func (export "host") (param i32) (local $n i32)
    (call $input (i32.const 0)) (local.set $n (i32.load (i32.const 0)))
    (loop $l (drop (call $gas_left)) (local.set $n (i32.sub (local.get $n) (i32.const 1))) (br_if $l (local.get $n))))"#)
}

fn deploy(rt: &Runtime, state: &mut MemoryState, code: &[u8], init: &[u8], nonce: u64) -> Address {
    let mut overlay = Overlay::new(Arc::new(state.clone()));
    let out = rt
        .deploy(&mut overlay, &env(nonce, 1_000_000_000), code, init)
        .unwrap();
    assert!(out.result.is_ok(), "{:?}", out.result);
    state.apply(&overlay.into_changes());
    out.contract.unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let mut state = MemoryState::default();
    let token = deploy(
        &rt,
        &mut state,
        &token_wasm(),
        br#"{"name":"Bench","symbol":"B","decimals":0,"supply":"1000000000000"}"#,
        1,
    );
    let helper = deploy(&rt, &mut state, &loops(), b"", 2);
    let base: Arc<MemoryState> = Arc::new(state);
    let bob = "b0".repeat(32);
    let transfer = format!(r#"{{"to":"{bob}","amount":"1"}}"#).into_bytes();

    // One overlay per block of transfers, as the node executes a block.
    let mut group = c.benchmark_group("runtime");
    group.throughput(Throughput::Elements(1));
    {
        let mut overlay = Overlay::new(base.clone());
        let mut nonce = 10;
        let mut gas_used = 0;
        group.bench_function("token_transfer", |b| {
            b.iter(|| {
                nonce += 1;
                let out = rt
                    .call(
                        &mut overlay,
                        &env(nonce, 10_000_000),
                        &token,
                        "transfer",
                        &transfer,
                    )
                    .unwrap();
                assert!(out.result.is_ok());
                gas_used = out.gas_used;
            })
        });
        println!("gas per token transfer: {gas_used}");
    }
    group.bench_function("instantiate_and_call_noop", |b| {
        b.iter_batched_ref(
            || Overlay::new(base.clone()),
            |overlay| {
                rt.call(overlay, &env(1, 1_000_000), &helper, "noop", b"")
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();

    // Calibration: time per unit of gas for pure wasm, and the cost of one host call.
    let n: u32 = 1_000_000;
    let measure = |method: &str| {
        let mut overlay = Overlay::new(base.clone());
        let args = n.to_le_bytes();
        let mut best = f64::MAX;
        let mut gas = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let out = rt
                .call(
                    &mut overlay,
                    &env(1, 10_000_000_000),
                    &helper,
                    method,
                    &args,
                )
                .unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            gas = out.gas_used;
        }
        (best, gas)
    };
    let (spin_s, spin_gas) = measure("spin");
    let (host_s, host_gas) = measure("host");
    println!(
        "wasm: {:.3} ns per gas ({} gas in {:.2} ms)",
        spin_s * 1e9 / spin_gas as f64,
        spin_gas,
        spin_s * 1e3
    );
    println!(
        "host call (gas_left): {:.1} ns each, {} gas each",
        (host_s - spin_s) * 1e9 / f64::from(n),
        (host_gas - spin_gas) / u64::from(n)
    );
}

fn main() {
    exec_stack::run(bench);
}
