//! Hostile contracts: each must end in a clean failed outcome with a stable code, no state
//! change, and a runtime that keeps working afterwards.

mod common;

use common::*;
use phalanx_runtime::abi::code;
use phalanx_runtime::{Outcome, layout};
use phalanx_types::Address;

fn assert_fails(out: &Outcome, expected: u32) {
    let err = out.result.as_ref().expect_err("call should fail");
    assert_eq!(err.code, expected, "got {err:?}");
    assert_eq!(err.message, code::describe(expected));
    assert!(out.events.is_empty());
}

/// After any abuse, an honest contract still deploys and runs.
fn still_works(chain: &mut Chain) {
    let c = chain.deploy(&counter(), b"");
    assert_eq!(u64_of(&chain.call(&c, "inc", b"")), 1);
}

fn hostile() -> Vec<u8> {
    wat(&format!(
        r#"(module {IMPORTS}
  (memory (export "memory") 1)
  (func (export "init") (param i32))
  (func (export "spin") (param i32) (loop $l (br $l)))
  (func (export "grow") (param i32)
    (loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))))
  (func (export "grow_big") (param i32) (drop (memory.grow (i32.const 60000))))
  (func $r (export "recurse") (param i32) (call $r (local.get 0)))
  (func (export "oob_load") (param i32) (drop (i32.load (i32.const -4))))
  (func (export "oob_host") (param i32)
    (call $swrite (i32.const -16) (i32.const 100) (i32.const 0) (i32.const 1)))
  (func (export "oob_out") (param i32)
    (call $swrite (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 8))
    (drop (call $sread (i32.const 0) (i32.const 1) (i32.const 65534) (i32.const 8))))
  (func (export "huge_len") (param i32)
    (call $swrite (i32.const 0) (i32.const 1) (i32.const 0) (i32.const -1)))
  (func (export "bad_abort") (param i32)
    (call $abort (i32.const 1) (i32.const 0) (i32.const 0)))
  (func (export "write_then_spin") (param i32)
    (call $swrite (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 8))
    (loop $l (br $l)))
  (func (export "flood") (param i32)
    (loop $l
      (call $emit (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 16384))
      (br $l)))
  (func (export "scan") (param i32) (local $n i32) (local $r i64) (local $klen i32)
    (local.set $r (call $snext (i32.const 0) (i32.const 0) (i32.const 0) (i32.const -1) (i32.const 4096) (i32.const 1024)))
    (block $done (loop $l
      (br_if $done (i64.lt_s (local.get $r) (i64.const 0)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (local.set $klen (i32.load (i32.const 4096)))
      (memory.copy (i32.const 2048) (i32.const 4100) (local.get $klen))
      (local.set $r (call $snext (i32.const 0) (i32.const 0) (i32.const 2048) (local.get $klen) (i32.const 4096) (i32.const 1024)))
      (br $l)))
    (i32.store (i32.const 0) (local.get $n))
    (call $ret (i32.const 0) (i32.const 4))))"#
    ))
}

#[test]
fn runaway_execution_fails_cleanly() {
    with_stack(|| {
        let mut chain = Chain::new();
        let h = chain.deploy(&hostile(), b"");
        let out = chain.call_gas(&h, "spin", b"", 1_000_000);
        assert_fails(&out, code::OUT_OF_GAS);
        assert_eq!(out.gas_used, 1_000_000, "out of gas uses the whole limit");

        let before = chain.state.clone();
        let out = chain.call_gas(&h, "write_then_spin", b"", 1_000_000);
        assert_fails(&out, code::OUT_OF_GAS);
        assert_eq!(chain.state.0, before.0);

        assert_fails(&chain.call(&h, "grow", b""), code::MEMORY_LIMIT);
        assert_fails(&chain.call(&h, "grow_big", b""), code::MEMORY_LIMIT);
        assert_fails(&chain.call(&h, "recurse", b""), code::STACK_OVERFLOW);
        still_works(&mut chain);
    });
}

#[test]
fn bad_pointers_and_lengths_fail_cleanly() {
    with_stack(|| {
        let mut chain = Chain::new();
        let h = chain.deploy(&hostile(), b"");
        assert_fails(&chain.call(&h, "oob_load", b""), code::MEMORY_OUT_OF_BOUNDS);
        let out = chain.call(&h, "oob_host", b"");
        assert_fails(&out, code::BAD_POINTER);
        assert!(out.gas_used > 0, "failed host calls are charged");
        assert_fails(&chain.call(&h, "oob_out", b""), code::BAD_POINTER);
        assert_fails(&chain.call(&h, "huge_len", b""), code::LIMIT_EXCEEDED);
        assert_fails(&chain.call(&h, "bad_abort", b""), code::BAD_ABORT_CODE);
        let big = vec![b'x'; phalanx_runtime::abi::limits::MAX_ARGS_LEN as usize + 1];
        assert_fails(&chain.call(&h, "spin", &big), code::ARGS_TOO_LARGE);
        still_works(&mut chain);
    });
}

#[test]
fn megabytes_of_events_are_refused() {
    with_stack(|| {
        let mut chain = Chain::new();
        let h = chain.deploy(&hostile(), b"");
        let out = chain.call_gas(&h, "flood", b"", 200_000_000);
        assert_fails(&out, code::TOO_MANY_EVENTS);
        let out = chain.call_gas(&h, "flood", b"", 5_000_000);
        assert_fails(&out, code::OUT_OF_GAS);
        still_works(&mut chain);
    });
}

#[test]
fn iteration_is_ordered_and_a_huge_prefix_runs_out_of_gas() {
    with_stack(|| {
        let mut chain = Chain::new();
        let h = chain.deploy(&hostile(), b"");
        for i in 0u32..10 {
            let key = layout::storage_key(&h, &i.to_be_bytes());
            chain.state.0.insert(key, vec![1; 8]);
        }
        let count = |out: &Outcome| {
            u32::from_le_bytes(out.result.clone().unwrap()[..4].try_into().unwrap())
        };
        assert_eq!(count(&chain.query(&h, "scan", b"")), 10);
        // Another contract's keys are invisible.
        chain
            .state
            .0
            .insert(layout::storage_key(&Address([0xff; 32]), b"x"), vec![1]);
        assert_eq!(count(&chain.query(&h, "scan", b"")), 10);

        for i in 10u32..200_000 {
            chain
                .state
                .0
                .insert(layout::storage_key(&h, &i.to_be_bytes()), vec![1; 8]);
        }
        let out = chain.call_gas(&h, "scan", b"", 20_000_000);
        assert_fails(&out, code::OUT_OF_GAS);
        still_works(&mut chain);
    });
}

fn relay() -> Vec<u8> {
    wat(&format!(
        r#"(module {IMPORTS}
  (memory (export "memory") 2)
  (data (i32.const 0) "go")
  (func (export "init") (param i32))
  (func $down (param i32) (result i32) (call $down (i32.add (local.get 0) (i32.const 1))))
  ;; go(addresses): call the first with the rest. A failure is returned as 1 ++ failure bytes
  ;; and passed up unchanged by every outer relay; with no addresses left, recurse until the
  ;; wasm stack is exhausted.
  (func (export "go") (param $len i32) (local $status i32)
    (if (i32.eqz (local.get $len)) (then (drop (call $down (i32.const 0))) (return)))
    (call $input (i32.const 1024))
    (local.set $status
      (call $call (i32.const 1024) (i32.const 0) (i32.const 2) (i32.const 1056)
        (i32.sub (local.get $len) (i32.const 32))))
    (call $result_read (i32.const 65536))
    (if (local.get $status)
      (then
        (i32.store8 (i32.const 65535) (i32.const 1))
        (call $ret (i32.const 65535) (i32.add (call $result_len) (i32.const 1))))
      (else (call $ret (i32.const 65536) (call $result_len))))))"#
    ))
}

fn relays(chain: &mut Chain, n: usize) -> Vec<Address> {
    (0..n).map(|_| chain.deploy(&relay(), b"")).collect()
}

fn route(path: &[Address]) -> Vec<u8> {
    path.iter().flat_map(|a| a.0).collect()
}

/// The failure a relay chain reported: (status, code).
fn reported(out: &Outcome) -> (u8, u32) {
    let r = out.result.as_ref().expect("the outer relay succeeds");
    (r[0], u32::from_le_bytes(r[1..5].try_into().unwrap()))
}

#[test]
fn cross_contract_recursion_is_bounded() {
    with_stack(|| {
        let mut chain = Chain::new();
        let r = relays(&mut chain, 10);
        // Depth limit: r0 -> r1 -> ... -> r8 is nine frames.
        let out = chain.call(&r[0], "go", &route(&r[1..9]));
        assert_eq!(reported(&out), (1, code::CALL_DEPTH_EXCEEDED));
        // Re-entrancy: r0 -> r1 -> r0.
        let out = chain.call(&r[0], "go", &route(&[r[1], r[0]]));
        assert_eq!(reported(&out), (1, code::REENTRANCY));
        // Deep wasm recursion at the deepest allowed nesting: the innermost frame traps with a
        // stack overflow, and the node's own stack survives.
        let out = chain.call(&r[0], "go", &route(&r[1..8]));
        assert_eq!(reported(&out), (1, code::STACK_OVERFLOW));
        still_works(&mut chain);
    });
}

fn deploy_fails(chain: &mut Chain, code_bytes: &[u8]) {
    let out = chain.deploy_outcome(code_bytes, b"", 1_000_000_000);
    assert_fails(&out, code::INVALID_MODULE);
    assert!(out.contract.is_none());
    assert!(out.gas_used > 0, "refused code still pays for its bytes");
}

#[test]
fn malicious_modules_are_refused_at_deploy() {
    with_stack(|| {
        let mut chain = Chain::new();
        let before = chain.state.clone();
        // Huge: a 1 MiB data segment.
        let blob = "a".repeat(1024 * 1024);
        deploy_fails(
            &mut chain,
            &wat(&format!(
                r#"(module (memory (export "memory") 17) (data (i32.const 0) "{blob}"))"#
            )),
        );
        // Thousands of functions.
        let funcs = "(func)".repeat(5_000);
        deploy_fails(
            &mut chain,
            &wat(&format!(r#"(module (memory (export "memory") 1) {funcs})"#)),
        );
        // A function with a thousand parameters.
        let params = "i32 ".repeat(1_000);
        deploy_fails(
            &mut chain,
            &wat(&format!(
                r#"(module (memory (export "memory") 1) (func (param {params})))"#
            )),
        );
        // A function with a hundred thousand locals.
        let locals = "i64 ".repeat(100_000);
        deploy_fails(
            &mut chain,
            &wat(&format!(
                r#"(module (memory (export "memory") 1) (func (local {locals})))"#
            )),
        );
        // Unknown host function, foreign module, wrong signature, imported memory.
        deploy_fails(
            &mut chain,
            &wat(r#"(module (import "phalanx" "launch" (func)) (memory (export "memory") 1))"#),
        );
        deploy_fails(
            &mut chain,
            &wat(r#"(module (import "env" "abort" (func)) (memory (export "memory") 1))"#),
        );
        deploy_fails(
            &mut chain,
            &wat(
                r#"(module (import "phalanx" "storage_read" (func (param i32))) (memory (export "memory") 1))"#,
            ),
        );
        deploy_fails(
            &mut chain,
            &wat(r#"(module (import "phalanx" "memory" (memory 1)))"#),
        );
        // No exported memory; a start function; too much initial memory; SIMD; garbage.
        deploy_fails(&mut chain, &wat(r#"(module (memory 1))"#));
        deploy_fails(
            &mut chain,
            &wat(r#"(module (memory (export "memory") 1) (func $s) (start $s))"#),
        );
        deploy_fails(
            &mut chain,
            &wat(r#"(module (memory (export "memory") 300))"#),
        );
        deploy_fails(
            &mut chain,
            &wat(r#"(module (memory (export "memory") 1) (func (drop (v128.const i64x2 0 0))))"#),
        );
        deploy_fails(&mut chain, b"\0asm\x01\0\0\0garbage");
        deploy_fails(&mut chain, b"not wasm at all");
        // Nothing was stored by any of them.
        assert_eq!(chain.state.0, before.0);
        still_works(&mut chain);
    });
}

#[test]
fn floats_are_allowed_and_nans_are_canonical() {
    with_stack(|| {
        let mut chain = Chain::new();
        let f = chain.deploy(&floats(), b"");
        let bits = chain.call(&f, "compute", b"").result.unwrap();
        assert_eq!(
            u64::from_le_bytes(bits[0..8].try_into().unwrap()),
            0x7ff8_0000_0000_0000
        );
        assert_eq!(
            u32::from_le_bytes(bits[8..12].try_into().unwrap()),
            0x7fc0_0000
        );
        assert_eq!(
            u64::from_le_bytes(bits[12..20].try_into().unwrap()),
            (1.0f64 / 3.0).to_bits()
        );
    });
}

/// A call to an address without a contract still reads state: it pays the flat instantiate
/// price, so a loop of them cannot run for free (it cost about 90 gas before).
#[test]
fn a_call_to_a_missing_contract_pays_for_the_lookup() {
    with_stack(|| {
        let mut chain = Chain::new();
        let out = chain.call(&phalanx_types::Address([0x77; 32]), "run", b"");
        assert_fails(&out, code::UNKNOWN_CONTRACT);
        let flat = phalanx_runtime::GasSchedule::DEFAULT.instantiate;
        assert_eq!(out.gas_used, flat, "{out:?}");
    });
}

/// Initial memory is paid once, before instantiating: the engine's report of the memory's
/// creation to the limiter is not growth (it was charged twice).
#[test]
fn a_call_pays_for_its_initial_memory_once() {
    with_stack(|| {
        let code = wat::parse_str(
            r#"(module (memory (export "memory") 3) (func (export "init") (param i32))
                 (func (export "run") (param i32)))"#,
        )
        .unwrap();
        let mut chain = Chain::new();
        let c = chain.deploy(&code, b"");
        let out = chain.call(&c, "run", b"");
        assert!(out.result.is_ok(), "{out:?}");
        let s = phalanx_runtime::GasSchedule::DEFAULT;
        let first_load = s.code_load + s.code_load_byte * code.len() as u64;
        let expected = s.instantiate + first_load + s.memory_pages(0, 3);
        // A few units of fuel for entering the function, but not the pages a second time.
        assert!(
            (expected..expected + 100).contains(&out.gas_used),
            "{} charged for {expected}",
            out.gas_used
        );
    });
}
