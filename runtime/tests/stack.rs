//! The stack limit is a property of the wasm alone: the same contract traps at the same depth
//! (the same gas) whatever native stack or codegen the engine uses, and the native limit is
//! never what stops it.

mod common;

use common::*;
use phalanx_runtime::abi::code;
use phalanx_runtime::engine::MAX_WASM_STACK;
use phalanx_runtime::{EngineTuning, Outcome, Runtime, RuntimeConfig};

/// Recursion shapes that stress different parts of a native frame.
fn shapes() -> Vec<(&'static str, String)> {
    let many_locals = format!("(local {})", "i64 ".repeat(1000));
    let deep_operands: String = "(i64.const 1) ".repeat(300);
    let adds: String = "(i64.add) ".repeat(300);
    // The same pure expressions before and after the recursive call: an optimizer that merges
    // them keeps every value alive across the call, in frame slots the wasm does not show.
    let exprs: String = (0..200)
        .map(|i| {
            format!(
                "(i64.store offset={} (i32.const 0) (i64.mul (local.get 0) (i64.const {})))",
                8 * (i % 64),
                1000 + i
            )
        })
        .collect();
    vec![
        (
            "merged expressions",
            format!(
                "(func $r (param i64) (result i64)
                   {exprs} (drop (call $r (local.get 0))) {exprs} (local.get 0))"
            ),
        ),
        (
            "minimal",
            "(func $r (param i64) (result i64) (call $r (local.get 0)))".to_string(),
        ),
        (
            "many locals",
            format!(
                "(func $r (param i64) (result i64) {many_locals}
                   (local.set 7 (i64.add (local.get 0) (local.get 900)))
                   (i64.add (call $r (local.get 7)) (local.get 500)))"
            ),
        ),
        (
            "deep operand stack",
            format!(
                "(func $r (param i64) (result i64)
                   {deep_operands} (call $r (local.get 0)) {adds})"
            ),
        ),
        (
            "many params",
            format!(
                "(func $r (param {}) (result i64)
                   (call $r {}))",
                "i64 ".repeat(32),
                "(local.get 0) ".repeat(32)
            ),
        ),
        (
            "indirect",
            "(type $t (func (param i64) (result i64)))
             (table 1 funcref) (elem (i32.const 0) $r)
             (func $r (param i64) (result i64)
               (call_indirect (type $t) (local.get 0) (i32.const 0)))"
                .to_string(),
        ),
    ]
}

fn contract(shape: &str) -> Vec<u8> {
    let entry = if shape.contains("param i64 i64") {
        format!("(drop (call $r {}))", "(i64.const 1) ".repeat(32))
    } else {
        "(drop (call $r (i64.const 1)))".to_string()
    };
    wat::parse_str(format!(
        r#"(module
  (memory (export "memory") 1)
  (func (export "init") (param i32))
  {shape}
  (func (export "go") (param i32) {entry}))"#
    ))
    .expect("wat")
}

fn run(tuning: EngineTuning, code: &[u8]) -> Outcome {
    let rt = Runtime::new(RuntimeConfig {
        tuning,
        ..RuntimeConfig::default()
    })
    .expect("runtime");
    let mut chain = Chain::with_runtime(rt);
    let c = chain.deploy(code, b"");
    chain.call(&c, "go", b"")
}

#[test]
fn recursion_traps_at_the_same_depth_whatever_the_engine() {
    with_stack(|| {
        let tunings = [
            EngineTuning::default(),
            EngineTuning {
                single_pass_regalloc: true,
                ..EngineTuning::default()
            },
            EngineTuning {
                max_wasm_stack: 2 * MAX_WASM_STACK,
                single_pass_regalloc: false,
            },
        ];
        for (name, shape) in shapes() {
            let code = contract(&shape);
            let outcomes: Vec<Outcome> = tunings.iter().map(|t| run(*t, &code)).collect();
            let first = &outcomes[0];
            assert_eq!(
                first.result.as_ref().map_err(|e| e.code),
                Err(code::STACK_OVERFLOW),
                "{name}: {first:?}"
            );
            for (t, o) in tunings.iter().zip(&outcomes) {
                assert_eq!(o, first, "{name} differs with {t:?}");
            }
        }
    });
}

/// The deterministic limit must trap well before the native safety net: the smallest native
/// stack on which every shape still stops at the deterministic limit is printed, and must be
/// at most a quarter of the configured net.
#[test]
fn the_native_stack_is_a_safety_net_with_room_to_spare() {
    with_stack(|| {
        let reference = |code: &[u8]| run(EngineTuning::default(), code);
        let mut worst = 0usize;
        for (name, shape) in shapes() {
            let code = contract(&shape);
            let expected = reference(&code);
            // Halve the native stack until the outcome changes (the native limit hit first).
            let mut stack = MAX_WASM_STACK;
            let mut smallest_ok = MAX_WASM_STACK;
            while stack >= 8 * 1024 {
                let out = run(
                    EngineTuning {
                        max_wasm_stack: stack,
                        single_pass_regalloc: false,
                    },
                    &code,
                );
                if out != expected {
                    break;
                }
                smallest_ok = stack;
                stack /= 2;
            }
            eprintln!("stack shape {name:<20} needs at most {smallest_ok} native bytes");
            worst = worst.max(smallest_ok);
        }
        assert!(
            worst <= MAX_WASM_STACK / 4,
            "a frame shape needs {worst} native bytes; the net is {MAX_WASM_STACK}"
        );
    });
}

#[test]
fn a_contract_unreachable_is_not_a_stack_overflow() {
    with_stack(|| {
        let code = wat::parse_str(
            r#"(module (memory (export "memory") 1) (func (export "init") (param i32))
                 (func $f (param i32) unreachable)
                 (func (export "go") (param i32) (call $f (local.get 0))))"#,
        )
        .unwrap();
        let out = run(EngineTuning::default(), &code);
        assert_eq!(
            out.result.map_err(|e| e.code),
            Err(code::UNREACHABLE),
            "a trap inside a counted call keeps its own code"
        );
    });
}

#[test]
fn a_module_cannot_claim_the_counter_export() {
    with_stack(|| {
        let code = wat::parse_str(format!(
            r#"(module (memory (export "memory") 1) (func (export "init") (param i32))
                 (global (export "{}") i32 (i32.const 0)))"#,
            phalanx_runtime::stack::STACK_EXPORT
        ))
        .unwrap();
        let mut chain = Chain::new();
        let out = chain.deploy_outcome(&code, b"", GAS);
        assert_eq!(out.result.map_err(|e| e.code), Err(code::INVALID_MODULE));
    });
}
