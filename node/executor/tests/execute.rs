//! Block execution over real storage: nonces, failed receipts, deploy policy, state roots.

use phalanx_executor::genesis::genesis_state;
use phalanx_executor::{ExecutorError, InvalidTx, intrinsic_gas};
use phalanx_genesis::DeployPolicy;
use phalanx_runtime::abi::code;
use phalanx_runtime::{Runtime, RuntimeConfig, layout};
use phalanx_types::{Address, Bytes, SignedTx, TxPayload, TxStatus};

mod common;

use common::{Chain, key, tx};

/// A counter in WAT: `inc` adds one to a u64 and returns it; `boom` writes then aborts.
fn counter() -> Vec<u8> {
    let text = r#"(module
  (import "phalanx" "storage_read" (func $sread (param i32 i32 i32 i32) (result i64)))
  (import "phalanx" "storage_write" (func $swrite (param i32 i32 i32 i32)))
  (import "phalanx" "return_data" (func $ret (param i32 i32)))
  (import "phalanx" "abort" (func $abort (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "n")
  (data (i32.const 32) "boom")
  (func (export "init") (param i32))
  (func (export "inc") (param i32)
    (drop (call $sread (i32.const 0) (i32.const 1) (i32.const 100) (i32.const 8)))
    (i64.store (i32.const 100) (i64.add (i64.load (i32.const 100)) (i64.const 1)))
    (call $swrite (i32.const 0) (i32.const 1) (i32.const 100) (i32.const 8))
    (call $ret (i32.const 100) (i32.const 8)))
  (func (export "boom") (param i32)
    (call $swrite (i32.const 0) (i32.const 1) (i32.const 32) (i32.const 4))
    (call $abort (i32.const 1500) (i32.const 32) (i32.const 4))))"#;
    wat::parse_str(text).expect("wat")
}

fn deploy(code: Vec<u8>) -> TxPayload {
    TxPayload::Deploy {
        code: Bytes(code),
        init_args: Bytes(vec![]),
        admin: None,
    }
}

fn call(contract: Address, method: &str) -> TxPayload {
    TxPayload::Call {
        contract,
        method: method.into(),
        args: Bytes(vec![]),
    }
}

#[test]
fn receipts_nonces_and_failed_transactions() {
    let mut chain = Chain::new(DeployPolicy::Anyone);
    let alice = key(1);
    let out = chain.commit(&[tx(&alice, 0, deploy(counter()))]);
    assert_eq!(out.receipts[0].status, TxStatus::Ok);
    let contract = Address::from_slice(&out.receipts[0].return_data.0).unwrap();
    assert_eq!(contract, layout::contract_address(&alice.address(), 0));

    let out = chain.commit(&[
        tx(&alice, 1, call(contract, "inc")),
        tx(&alice, 2, call(contract, "boom")),
        tx(&alice, 3, call(contract, "inc")),
    ]);
    assert_eq!(out.receipts.len(), 3);
    assert_eq!(out.receipts[0].return_data.0, 1u64.to_le_bytes());
    assert_eq!(
        out.receipts[1].status,
        TxStatus::Failed {
            code: 1500,
            message: "boom".into()
        }
    );
    assert!(out.receipts[1].gas_used >= intrinsic_gas(&tx(&alice, 2, call(contract, "boom"))));
    // The failed call's write is gone; the next call sees the first increment.
    assert_eq!(out.receipts[2].return_data.0, 2u64.to_le_bytes());
    assert_eq!(
        out.gas_used,
        out.receipts.iter().map(|r| r.gas_used).sum::<u64>()
    );
    for (i, r) in out.receipts.iter().enumerate() {
        assert_eq!((r.index, r.height), (i as u32, 2));
    }

    // The failed transaction consumed its nonce: 3 is used, 4 is next.
    let replay = chain
        .execute(&[tx(&alice, 3, call(contract, "inc"))])
        .unwrap_err();
    assert!(matches!(
        replay,
        ExecutorError::Invalid {
            index: 0,
            reason: InvalidTx::BadNonce {
                expected: 4,
                got: 3
            }
        }
    ));
}

#[test]
fn invalid_transactions_invalidate_the_block() {
    let chain = Chain::new(DeployPolicy::Anyone);
    let alice = key(1);
    let mut wrong_chain = tx(&alice, 0, deploy(counter()));
    wrong_chain.tx.chain_id = "other".into();
    let resigned = wrong_chain.tx.clone().sign(&alice);
    let mut forged = tx(&alice, 0, deploy(counter()));
    forged.tx.nonce = 1;
    let mut too_much = tx(&alice, 0, deploy(counter()));
    too_much.tx.gas_limit = u64::MAX;
    let too_much = too_much.tx.sign(&alice);
    let mut too_little = tx(&alice, 0, deploy(counter()));
    too_little.tx.gas_limit = 10;
    let too_little = too_little.tx.sign(&alice);
    for bad in [resigned, forged, too_much, too_little] {
        let err = chain.execute(&[bad]).unwrap_err();
        assert!(
            matches!(err, ExecutorError::Invalid { index: 0, .. }),
            "{err}"
        );
    }
    // A block holds transactions whose *used* gas fits its limit: a transaction starts only if
    // its whole limit fits what the earlier ones left.
    let first = tx(&alice, 0, deploy(counter()));
    let limit = first.tx.gas_limit;
    let used = Chain::new(DeployPolicy::Anyone)
        .execute(std::slice::from_ref(&first))
        .unwrap()
        .gas_used;
    assert!(used < limit);
    let pair = [first, tx(&alice, 1, deploy(counter()))];
    let mut fits = Chain::new(DeployPolicy::Anyone);
    fits.env.params.block_gas_limit = used + limit;
    assert!(
        fits.execute(&pair).is_ok(),
        "limits sum to more than the block allows, but the used gas fits"
    );
    let mut small = Chain::new(DeployPolicy::Anyone);
    small.env.params.block_gas_limit = used + limit - 1;
    let err = small.execute(&pair).unwrap_err();
    assert!(matches!(
        err,
        ExecutorError::Invalid {
            index: 1,
            reason: InvalidTx::BlockGasExceeded
        }
    ));
}

#[test]
fn the_deploy_allowlist_is_enforced_and_costs_the_nonce() {
    let allowed = key(1);
    let other = key(2);
    let mut chain = Chain::new(DeployPolicy::Allowlist(vec![allowed.address()]));
    let out = chain.commit(&[
        tx(&other, 0, deploy(counter())),
        tx(&allowed, 0, deploy(counter())),
    ]);
    assert!(
        matches!(out.receipts[0].status, TxStatus::Failed { code, .. } if code == code::NOT_ALLOWED)
    );
    assert_eq!(out.receipts[1].status, TxStatus::Ok);
    let err = chain
        .execute(&[tx(&other, 0, deploy(counter()))])
        .unwrap_err();
    assert!(matches!(
        err,
        ExecutorError::Invalid {
            reason: InvalidTx::BadNonce {
                expected: 1,
                got: 0
            },
            ..
        }
    ));
}

#[test]
fn identical_blocks_give_identical_roots() {
    let alice = key(7);
    let run = || {
        let mut chain = Chain::new(DeployPolicy::Anyone);
        let out = chain.commit(&[tx(&alice, 0, deploy(counter()))]);
        let c = Address::from_slice(&out.receipts[0].return_data.0).unwrap();
        let out2 = chain.commit(&[
            tx(&alice, 1, call(c, "inc")),
            tx(&alice, 2, call(c, "boom")),
        ]);
        (out.receipts, out2.receipts, chain.root)
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b);
}

#[test]
fn genesis_contracts_deploy_at_known_addresses() {
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let deployer = key(3).address();
    let mut genesis =
        phalanx_genesis::Genesis::from_json(include_str!("../../../genesis/samples/example.json"))
            .unwrap();
    genesis.contracts = vec![phalanx_genesis::GenesisContract {
        name: "counter".into(),
        code: Bytes(counter()),
        deployer,
        init_args: String::new(),
    }];
    let changes = std::thread::Builder::new()
        .stack_size(phalanx_runtime::EXEC_STACK_BYTES)
        .spawn(move || genesis_state(&rt, &genesis))
        .unwrap()
        .join()
        .unwrap()
        .unwrap();
    let address = layout::contract_address(&deployer, 0);
    assert!(changes.contains_key(&layout::contract_key(&address)));
    // A broken genesis contract is a clear startup error.
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let mut genesis =
        phalanx_genesis::Genesis::from_json(include_str!("../../../genesis/samples/example.json"))
            .unwrap();
    genesis.contracts = vec![phalanx_genesis::GenesisContract {
        name: "broken".into(),
        code: Bytes(b"not wasm".to_vec()),
        deployer,
        init_args: String::new(),
    }];
    let err = genesis_state(&rt, &genesis).unwrap_err();
    assert!(err.to_string().contains("broken"), "{err}");
}

#[test]
fn signatures_checked_at_admission_are_not_checked_again_and_change_nothing() {
    let chain = Chain::new(DeployPolicy::Anyone);
    let alice = key(1);
    let txs = vec![
        tx(&alice, 0, deploy(counter())),
        tx(
            &alice,
            1,
            call(layout::contract_address(&alice.address(), 0), "inc"),
        ),
    ];
    let checked = chain.execute(&txs).unwrap();
    let trusted = chain.execute_trusting(&txs, true).unwrap();
    assert_eq!(checked, trusted);
    // Untrusted, a bad signature still invalidates the block.
    let mut forged = txs[1].clone();
    forged.signature = txs[0].signature;
    let bad = vec![txs[0].clone(), forged];
    assert!(matches!(
        chain.execute(&bad),
        Err(ExecutorError::Invalid { index: 1, .. })
    ));
}

#[test]
fn large_blocks_check_signatures_in_parallel_with_the_same_outcome() {
    let chain = Chain::new(DeployPolicy::Anyone);
    let alice = key(1);
    let contract = layout::contract_address(&alice.address(), 0);
    // 90 transactions (within the block gas limit): enough to be split over threads.
    let mut txs = vec![tx(&alice, 0, deploy(counter()))];
    txs.extend((1..90).map(|n| tx(&alice, n, call(contract, "inc"))));
    let all_good = chain.execute(&txs).expect("valid block");
    assert_eq!(all_good.receipts.len(), 90);
    assert_eq!(
        chain.execute_trusting(&txs, true).unwrap().changes,
        all_good.changes
    );
    // A forged signature deep in the block: the block is refused for that transaction, with
    // the reason a sequential check gives.
    let mut forged = txs.clone();
    forged[70].signature = forged[69].signature;
    match chain.execute(&forged) {
        Err(ExecutorError::Invalid {
            index: 70,
            reason: InvalidTx::Malformed(m),
        }) => assert!(m.contains("signature"), "{m}"),
        other => panic!("expected transaction 70 to be invalid, got {other:?}"),
    }
    // Execution runs ahead of the signature checks, yet the first invalid transaction in
    // block order still decides: a nonce gap at 40 before the forged 70 ...
    let mut gap = forged.clone();
    gap[40] = tx(&alice, 1_000, call(contract, "inc"));
    match chain.execute(&gap) {
        Err(ExecutorError::Invalid {
            index: 40,
            reason: InvalidTx::BadNonce { .. },
        }) => {}
        other => panic!("expected the nonce gap at 40, got {other:?}"),
    }
    // A forged deploy (someone else's signature) is refused before its code is compiled:
    // refused blocks leave no compiled artifact behind.
    let compiled = |txs: &[SignedTx]| {
        let before = chain.rt.cache_stats().compiled;
        let outcome = chain.execute(txs);
        (chain.rt.cache_stats().compiled - before, outcome)
    };
    // New code (the counter plus a custom section), so compiling it would count.
    let mut other_code = counter();
    other_code.extend_from_slice(&[0, 4, 3, b'x', b'y', b'z']);
    let mut valid_deploy = txs.clone();
    valid_deploy[80] = tx(&alice, 80, deploy(other_code));
    let (with_valid, outcome) = compiled(&valid_deploy);
    assert!(outcome.is_ok(), "{outcome:?}");
    let mut forged_deploy = valid_deploy.clone();
    forged_deploy[80].signature = forged_deploy[79].signature;
    let (with_forged, outcome) = compiled(&forged_deploy);
    assert_eq!(
        with_forged + 1,
        with_valid,
        "the forged deploy's code is not compiled"
    );
    match outcome {
        Err(ExecutorError::Invalid {
            index: 80,
            reason: InvalidTx::Malformed(m),
        }) => assert!(m.contains("signature"), "{m}"),
        other => panic!("expected the forged deploy at 80 to be invalid, got {other:?}"),
    }
    // ... and a forged signature at 20 before that gap.
    gap[20].signature = gap[19].signature;
    match chain.execute(&gap) {
        Err(ExecutorError::Invalid {
            index: 20,
            reason: InvalidTx::Malformed(m),
        }) => assert!(m.contains("signature"), "{m}"),
        other => panic!("expected transaction 20 to be invalid, got {other:?}"),
    }
}
