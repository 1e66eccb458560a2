//! Every case of the adversarial library (the `adversarial` benchmark measures them) runs to
//! its end on real storage, and two engines that differ in codegen and native stack give the
//! same outcome and gas: what a hostile contract costs never depends on the machine.

#[path = "../benches/support/adversarial.rs"]
mod adversarial;
#[path = "../benches/support/harness.rs"]
mod harness;

use phalanx_runtime::abi::code;
use phalanx_runtime::{EXEC_STACK_BYTES, EngineTuning, RuntimeConfig};

const GAS: u64 = 20_000_000;
/// Enough for the largest module the library deploys, or a call of every code it loads.
const BIG_GAS: u64 = 1_000_000_000;

fn with_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(EXEC_STACK_BYTES)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("test thread panicked");
}

#[test]
fn every_attack_is_metered_the_same_on_every_engine() {
    with_stack(|| {
        for case in adversarial::cases() {
            let mut outcomes = Vec::new();
            for tuning in [
                EngineTuning::default(),
                EngineTuning {
                    single_pass_regalloc: true,
                    max_wasm_stack: 2 * phalanx_runtime::engine::MAX_WASM_STACK,
                },
            ] {
                let mut h = harness::Harness::new(RuntimeConfig {
                    cache_capacity: case.cache_capacity,
                    tuning,
                    ..RuntimeConfig::default()
                });
                h.prepare(&case);
                let gas = match case.attack {
                    adversarial::Attack::Deploy(_)
                    | adversarial::Attack::Call { method: "once", .. } => BIG_GAS,
                    _ => GAS,
                };
                let (out, _) = h.attack(&case, gas);
                outcomes.push(out);
            }
            assert_eq!(outcomes[0], outcomes[1], "{}", case.name);
            let out = &outcomes[0];
            match case.attack {
                adversarial::Attack::Deploy(_) => {
                    assert!(out.result.is_ok(), "{}: {out:?}", case.name)
                }
                // One call of each code, then done.
                adversarial::Attack::Call { method: "once", .. } => {
                    assert!(out.result.is_ok(), "{}: {out:?}", case.name)
                }
                // Events stop at the per-transaction cap, if the gas lasts that long.
                _ if case.name.starts_with("emit") => assert!(
                    matches!(
                        out.result.as_ref().map_err(|e| e.code),
                        Err(code::TOO_MANY_EVENTS | code::OUT_OF_GAS)
                    ),
                    "{out:?}"
                ),
                _ if adversarial::COMMITTING.contains(&case.name) => {
                    assert!(out.result.is_ok(), "{}: {out:?}", case.name);
                    assert!(out.gas_used > GAS - 6_000_000, "{}: {out:?}", case.name);
                }
                _ => {
                    // Every other attack loops until its gas is gone.
                    assert_eq!(
                        out.result.as_ref().map_err(|e| e.code),
                        Err(code::OUT_OF_GAS),
                        "{}",
                        case.name
                    );
                    assert_eq!(out.gas_used, GAS, "{}", case.name);
                }
            }
        }
    });
}

/// Committed deletions leave database tombstones that iteration may step over until
/// compaction, which no node can predict: every iteration step pays for each key the contract
/// ever deleted. (Before, one step cost a flat 2,540 gas and took 375 ns per gas here.)
#[test]
fn iteration_pays_for_every_key_the_contract_deleted() {
    use adversarial::{Attack, Case, Step, keys_contract, le};
    with_stack(|| {
        let scan = |clear: bool| {
            let mut setup = vec![
                Step::Deploy(keys_contract()),
                Step::Call(0, "fill", le(100)),
            ];
            if clear {
                setup.push(Step::Call(0, "clear", le(100)));
            }
            let case = Case {
                name: "scan",
                what: "one scan",
                setup,
                attack: Attack::Call {
                    contract: 0,
                    method: "scan_once",
                    args: Vec::new(),
                    addresses: Vec::new(),
                },
                cache_capacity: 256,
            };
            let mut h = harness::Harness::new(RuntimeConfig::default());
            h.prepare(&case);
            let (out, _) = h.attack(&case, GAS);
            assert!(out.result.is_ok(), "{out:?}");
            out.gas_used
        };
        let per_deleted = phalanx_runtime::GasSchedule::DEFAULT.storage_next_deleted;
        let after_clear = scan(true);
        assert!(
            after_clear >= 100 * per_deleted,
            "an empty scan over 100 deleted keys cost only {after_clear}"
        );
    });
}
