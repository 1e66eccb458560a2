//! Contract upgrades: only the admin (or a governance grant) migrates, a failed migration
//! leaves nothing, storage and address stay, and nobody calls `init` or `migrate` directly.

mod common;

use common::*;
use phalanx_runtime::abi::code;
use phalanx_runtime::layout::{self, ContractInfo};
use phalanx_runtime::lifecycle::{self, MIGRATED_TOPIC, migration_grant};
use phalanx_runtime::{Outcome, Overlay, TxEnv};
use phalanx_types::{Address, Admin, Hash};
use std::sync::Arc;

const BOB: Address = Address([0xb0; 32]);

/// Version 2 of the counter: `migrate` stores "m" = its argument byte count + 1 (and fails
/// on the argument "x"), `init` stores "m" = 7, `get_m` returns it, and `get` still reads "n".
fn counter_v2() -> Vec<u8> {
    wat(&format!(
        r#"(module {IMPORTS}
  (memory (export "memory") 1)
  (data (i32.const 0) "n")
  (data (i32.const 8) "m")
  (data (i32.const 32) "bad")
  (func (export "init") (param i32)
    (i64.store (i32.const 100) (i64.const 7))
    (call $swrite (i32.const 8) (i32.const 1) (i32.const 100) (i32.const 8)))
  (func (export "migrate") (param $len i32)
    (call $input (i32.const 1024))
    (if (i32.and (i32.eq (local.get $len) (i32.const 1)) (i32.eq (i32.load8_u (i32.const 1024)) (i32.const 120)))
      (then (call $abort (i32.const 1300) (i32.const 32) (i32.const 3))))
    (i64.store (i32.const 100) (i64.extend_i32_u (i32.add (local.get $len) (i32.const 1))))
    (call $swrite (i32.const 8) (i32.const 1) (i32.const 100) (i32.const 8)))
  (func (export "get") (param i32)
    (drop (call $sread (i32.const 0) (i32.const 1) (i32.const 100) (i32.const 8)))
    (call $ret (i32.const 100) (i32.const 8)))
  (func (export "get_m") (param i32)
    (drop (call $sread (i32.const 8) (i32.const 1) (i32.const 100) (i32.const 8)))
    (call $ret (i32.const 100) (i32.const 8))))"#
    ))
}

/// Calls `method` (the input after the first 32 bytes) of the address in the input's first
/// 32 bytes; returns the call's status as one byte, then its failure bytes.
fn poker() -> Vec<u8> {
    wat(&format!(
        r#"(module {IMPORTS}
  (memory (export "memory") 2)
  (func (export "init") (param i32))
  (func (export "poke") (param $len i32) (local $status i32)
    (call $input (i32.const 1024))
    (local.set $status
      (call $call (i32.const 1024) (i32.const 1056) (i32.sub (local.get $len) (i32.const 32))
        (i32.const 0) (i32.const 0)))
    (call $result_read (i32.const 4097))
    (i32.store8 (i32.const 4096) (local.get $status))
    (call $ret (i32.const 4096) (i32.add (call $result_len) (i32.const 1)))))"#
    ))
}

fn env_of(chain: &mut Chain, origin: Address) -> TxEnv {
    TxEnv {
        origin,
        ..chain.env(GAS)
    }
}

/// Runs `f` in a fresh overlay of `chain`'s state and commits what it leaves.
fn run(chain: &mut Chain, f: impl FnOnce(&mut Overlay) -> Outcome) -> Outcome {
    let mut overlay = Overlay::new(Arc::new(chain.state.clone()));
    let out = f(&mut overlay);
    chain.state.apply(&overlay.into_changes());
    out
}

fn deploy_with(chain: &mut Chain, code: &[u8], admin: Option<Admin>) -> Address {
    let env = chain.env(GAS);
    let rt = chain.rt.clone();
    let out = run(chain, |o| {
        rt.deploy_with_admin(o, &env, code, b"", admin).unwrap()
    });
    out.contract.expect("deployed")
}

fn migrate(
    chain: &mut Chain,
    by: Address,
    contract: &Address,
    code: Option<&[u8]>,
    hash: Hash,
    args: &[u8],
) -> Outcome {
    let env = env_of(chain, by);
    let rt = chain.rt.clone();
    run(chain, |o| {
        rt.migrate(o, &env, contract, &hash, code, args).unwrap()
    })
}

fn code_hash_of(chain: &Chain, contract: &Address) -> Hash {
    let raw = chain.state.0.get(&layout::contract_key(contract)).unwrap();
    ContractInfo::from_bytes(raw).unwrap().code_hash
}

fn fails(out: &Outcome, expected: u32) {
    assert_eq!(
        out.result.as_ref().map_err(|e| e.code),
        Err(expected),
        "{out:?}"
    );
    assert!(out.events.is_empty());
}

#[test]
fn nobody_calls_init_or_migrate_but_the_runtime() {
    with_stack(|| {
        let mut chain = Chain::new();
        let target = deploy_with(&mut chain, &counter_v2(), None);
        let poker = chain.deploy(&poker(), b"");
        let before = chain.state.clone();
        for method in ["migrate", "init"] {
            let mut input = target.0.to_vec();
            input.extend_from_slice(method.as_bytes());
            let out = chain.call(&poker, "poke", &input);
            let ret = out.result.expect("the poker itself succeeds");
            assert_eq!(ret[0], 1, "{method}: the inner call failed");
            assert_eq!(
                u32::from_le_bytes(ret[1..5].try_into().unwrap()),
                code::UNKNOWN_METHOD,
                "{method}"
            );
            // And as a transaction.
            fails(&chain.call(&target, method, b""), code::UNKNOWN_METHOD);
        }
        assert_eq!(chain.state.0, before.0, "nothing changed");
    });
}

#[test]
fn only_the_admin_migrates_and_a_failed_migration_leaves_nothing() {
    with_stack(|| {
        let mut chain = Chain::new();
        let v1 = counter();
        let v2 = counter_v2();
        let (h1, h2) = (layout::code_hash(&v1), layout::code_hash(&v2));
        let c = deploy_with(&mut chain, &v1, Some(Admin::Account(ALICE)));
        assert_eq!(u64_of(&chain.call(&c, "inc", b"")), 1);
        let before = chain.state.clone();

        // Not the admin; code that does not hash to the hash; code the chain does not hold;
        // code without `migrate`; a `migrate` that aborts.
        fails(
            &migrate(&mut chain, BOB, &c, Some(&v2), h2, b""),
            code::NOT_ADMIN,
        );
        fails(
            &migrate(&mut chain, ALICE, &c, Some(&v1), h2, b""),
            code::UNKNOWN_CODE,
        );
        fails(
            &migrate(&mut chain, ALICE, &c, None, h2, b""),
            code::UNKNOWN_CODE,
        );
        fails(
            &migrate(&mut chain, ALICE, &c, None, h1, b""),
            code::UNKNOWN_METHOD,
        );
        fails(&migrate(&mut chain, ALICE, &c, Some(&v2), h2, b"x"), 1300);
        assert_eq!(
            chain.state.0, before.0,
            "every failure left the state as it was"
        );
        assert_eq!(code_hash_of(&chain, &c), h1);

        let out = migrate(&mut chain, ALICE, &c, Some(&v2), h2, b"ab");
        assert!(out.result.is_ok(), "{out:?}");
        assert_eq!(out.events.len(), 1);
        assert_eq!(out.events[0].topic, MIGRATED_TOPIC);
        assert_eq!(out.events[0].contract, c);
        let data = String::from_utf8(out.events[0].data.0.clone()).unwrap();
        assert_eq!(data, format!(r#"{{"from":"{h1}","to":"{h2}"}}"#));
        assert_eq!(code_hash_of(&chain, &c), h2);
        // The storage stayed ("n" = 1) and the new code runs ("m" = 3).
        assert_eq!(u64_of(&chain.call(&c, "get", b"")), 1);
        assert_eq!(u64_of(&chain.call(&c, "get_m", b"")), 3);
        fails(&chain.call(&c, "inc", b""), code::UNKNOWN_METHOD);

        // The admin gives the role up: nobody can migrate again.
        let env = env_of(&mut chain, ALICE);
        let rt = chain.rt.clone();
        let out = run(&mut chain, |o| rt.set_admin(o, &env, &c, None).unwrap());
        assert!(out.result.is_ok());
        assert_eq!(out.events[0].data.0, br#"{"admin":null}"#);
        fails(
            &migrate(&mut chain, ALICE, &c, None, h2, b""),
            code::NOT_ADMIN,
        );
    });
}

#[test]
fn a_governance_contract_migrates_once_per_grant_exactly_as_granted() {
    with_stack(|| {
        let mut chain = Chain::new();
        let v2 = counter_v2();
        let h2 = layout::code_hash(&v2);
        let c = deploy_with(&mut chain, &counter(), Some(Admin::Governance));
        // No account may migrate it or change its admin, whatever it signs.
        fails(
            &migrate(&mut chain, ALICE, &c, Some(&v2), h2, b""),
            code::NOT_ADMIN,
        );
        let env = env_of(&mut chain, ALICE);
        let rt = chain.rt.clone();
        let out = run(&mut chain, |o| {
            rt.set_admin(o, &env, &c, Some(Admin::Account(ALICE)))
                .unwrap()
        });
        fails(&out, code::NOT_ADMIN);

        // Governance approved exactly (v2, "ab"): other arguments or code do not match.
        chain
            .state
            .0
            .insert(layout::migration_key(&c), migration_grant(&h2, b"ab"));
        fails(
            &migrate(&mut chain, BOB, &c, Some(&v2), h2, b"abc"),
            code::NOT_ADMIN,
        );
        let h1 = layout::code_hash(&counter());
        fails(
            &migrate(&mut chain, BOB, &c, None, h1, b"ab"),
            code::NOT_ADMIN,
        );
        // Any account may carry out the approved one; a failing one keeps the grant.
        let out = migrate(&mut chain, BOB, &c, Some(&v2), h2, b"ab");
        assert!(out.result.is_ok(), "{out:?}");
        assert!(
            !chain.state.0.contains_key(&layout::migration_key(&c)),
            "spent"
        );
        fails(
            &migrate(&mut chain, BOB, &c, None, h2, b"ab"),
            code::NOT_ADMIN,
        );
        assert_eq!(
            lifecycle::admin_of(&chain.state, &c).unwrap(),
            Some(Admin::Governance)
        );
    });
}

#[test]
fn contracts_cannot_emit_the_runtimes_topics() {
    with_stack(|| {
        let mut chain = Chain::new();
        let forger = chain.deploy(
            &wat(&format!(
                r#"(module {IMPORTS}
  (memory (export "memory") 1)
  (data (i32.const 0) "phalanx.migrated")
  (func (export "init") (param i32))
  (func (export "forge") (param i32)
    (call $emit (i32.const 0) (i32.const 16) (i32.const 0) (i32.const 0))))"#
            )),
            b"",
        );
        fails(&chain.call(&forger, "forge", b""), code::LIMIT_EXCEEDED);
    });
}
