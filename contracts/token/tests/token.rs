//! The token's compiled wasm, run in the real runtime.

use phalanx_sdk::testing::TestEnv;
use phalanx_sdk::{Address, contract_wasm};
use serde_json::{Value, json};

fn setup() -> (TestEnv, Address, Address, Address) {
    let mut env = TestEnv::new();
    let alice = TestEnv::account("alice");
    let bob = TestEnv::account("bob");
    let token = env
        .deploy(
            alice,
            &contract_wasm!(),
            json!({"name": "Phalanx Token", "symbol": "PHX", "decimals": 6, "supply": "1000000"}),
        )
        .unwrap();
    (env, token, alice, bob)
}

/// Calls `method` and asserts it succeeded.
fn ok(env: &mut TestEnv, from: Address, token: Address, method: &str, args: Value) {
    let r = env.call::<Value>(from, token, method, args);
    assert!(r.result.is_ok(), "{method}: {:?}", r.result);
}

fn balance(env: &TestEnv, token: Address, who: Address) -> String {
    env.query::<String>(token, "balance_of", json!({"account": who}))
        .unwrap()
}

#[test]
fn transfer_moves_tokens_and_reports_gas() {
    let (mut env, token, alice, bob) = setup();
    assert_eq!(balance(&env, token, alice), "1000000");
    let r = env.call::<Value>(
        alice,
        token,
        "transfer",
        json!({"to": bob, "amount": "250"}),
    );
    assert!(r.result.is_ok(), "{:?}", r.result);
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0].topic, "transfer");
    assert_eq!(
        r.events[0].data,
        json!({"from": alice, "to": bob, "amount": "250"})
    );
    println!("gas per transfer: {}", r.gas_used);
    assert!(
        r.gas_used > 10_000 && r.gas_used < 1_000_000,
        "gas {}",
        r.gas_used
    );
    assert_eq!(balance(&env, token, alice), "999750");
    assert_eq!(balance(&env, token, bob), "250");
    assert_eq!(
        env.query::<String>(token, "total_supply", ()).unwrap(),
        "1000000"
    );
    let info = env.query::<Value>(token, "info", ()).unwrap();
    assert_eq!(info["symbol"], "PHX");
    assert_eq!(info["decimals"], 6);
}

#[test]
fn double_spend_and_overdraft_fail_cleanly() {
    let (mut env, token, alice, bob) = setup();
    let carol = TestEnv::account("carol");
    ok(
        &mut env,
        alice,
        token,
        "transfer",
        json!({"to": bob, "amount": "100"}),
    );
    // Bob spends his 100 once; the second spend of the same coins fails.
    ok(
        &mut env,
        bob,
        token,
        "transfer",
        json!({"to": carol, "amount": "100"}),
    );
    let again = env.call::<()>(
        bob,
        token,
        "transfer",
        json!({"to": carol, "amount": "100"}),
    );
    let err = again.result.unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (1100, "insufficient balance")
    );
    assert!(again.events.is_empty());
    assert_eq!(balance(&env, token, bob), "0");
    assert_eq!(balance(&env, token, carol), "100");
    // Amounts beyond u128 are refused as bad arguments.
    let huge = env.call::<()>(
        alice,
        token,
        "transfer",
        json!({"to": bob, "amount": "340282366920938463463374607431768211456"}),
    );
    assert_eq!(huge.result.unwrap_err().code, 1001);
}

#[test]
fn allowances_are_spent_exactly_once() {
    let (mut env, token, alice, bob) = setup();
    let carol = TestEnv::account("carol");
    ok(
        &mut env,
        alice,
        token,
        "approve",
        json!({"spender": bob, "amount": "70"}),
    );
    assert_eq!(
        env.query::<String>(token, "allowance", json!({"owner": alice, "spender": bob}))
            .unwrap(),
        "70"
    );
    // Carol has no allowance.
    let denied = env.call::<()>(
        carol,
        token,
        "transfer_from",
        json!({"from": alice, "to": carol, "amount": "1"}),
    );
    assert_eq!(denied.result.unwrap_err().code, 1101);
    ok(
        &mut env,
        bob,
        token,
        "transfer_from",
        json!({"from": alice, "to": carol, "amount": "50"}),
    );
    let over = env.call::<()>(
        bob,
        token,
        "transfer_from",
        json!({"from": alice, "to": carol, "amount": "21"}),
    );
    assert_eq!(over.result.unwrap_err().code, 1101);
    assert_eq!(
        env.query::<String>(token, "allowance", json!({"owner": alice, "spender": bob}))
            .unwrap(),
        "20"
    );
    assert_eq!(balance(&env, token, carol), "50");
}

#[test]
fn the_full_u128_range_moves_and_is_bounded() {
    let mut env = TestEnv::new();
    let alice = TestEnv::account("alice");
    let bob = TestEnv::account("bob");
    let max = u128::MAX.to_string();
    let a = env
        .deploy(
            alice,
            &contract_wasm!(),
            json!({"name": "A", "symbol": "A", "decimals": 0, "supply": max}),
        )
        .unwrap();
    // The whole u128 supply moves; nothing more exists to move.
    ok(
        &mut env,
        alice,
        a,
        "transfer",
        json!({"to": bob, "amount": max}),
    );
    assert_eq!(balance(&env, a, bob), max);
    assert_eq!(balance(&env, a, alice), "0");
    let zero = env.call::<()>(alice, a, "transfer", json!({"to": bob, "amount": "1"}));
    assert_eq!(zero.result.unwrap_err().code, 1100);
}
