//! The token's compiled wasm, run in the real runtime through its typed client.

use phalanx_sdk::testing::TestEnv;
use phalanx_sdk::{Address, Amount, contract_wasm};
use serde_json::Value;
use token::{Approval, TokenClient, TokenError, Transfer};

fn amount(n: u128) -> Amount {
    Amount::from(n)
}

fn deploy(env: &mut TestEnv, owner: Address, supply: Amount) -> Address {
    TokenClient::deploy(
        env,
        owner,
        &contract_wasm!(),
        "Phalanx Token".into(),
        "PHX".into(),
        6,
        supply,
    )
    .unwrap()
    .contract_address()
}

#[test]
fn transfer_moves_tokens_and_reports_gas() {
    let mut env = TestEnv::new();
    let (alice, bob) = (TestEnv::account("alice"), TestEnv::account("bob"));
    let token = deploy(&mut env, alice, amount(1_000_000));
    let mut t = TokenClient::new(&mut env, token, alice);
    assert_eq!(t.balance_of(alice), Ok(amount(1_000_000)));
    let r = t.transfer(bob, amount(250));
    assert_eq!(r.result, Ok(()));
    assert_eq!(r.events.len(), 1);
    let event: Transfer = r.events[0].decode().expect("a transfer event");
    assert_eq!(
        (event.from, event.to, event.amount),
        (alice, bob, amount(250))
    );
    assert!(r.events[0].decode::<Approval>().is_none(), "topic checked");
    println!("gas per transfer: {}", r.gas_used);
    assert!(
        r.gas_used > 10_000 && r.gas_used < 1_000_000,
        "gas {}",
        r.gas_used
    );
    assert_eq!(t.balance_of(alice), Ok(amount(999_750)));
    assert_eq!(t.balance_of(bob), Ok(amount(250)));
    assert_eq!(t.total_supply(), Ok(amount(1_000_000)));
    let info = t.info().unwrap().expect("info is set at init");
    assert_eq!((info.symbol.as_str(), info.decimals), ("PHX", 6));
}

#[test]
fn double_spend_and_overdraft_fail_cleanly() {
    let mut env = TestEnv::new();
    let (alice, bob, carol) = (
        TestEnv::account("alice"),
        TestEnv::account("bob"),
        TestEnv::account("carol"),
    );
    let token = deploy(&mut env, alice, amount(1_000_000));
    let t = TokenClient::new(&mut env, token, alice);
    let mut t = {
        let mut t = t;
        assert_eq!(t.transfer(bob, amount(100)).result, Ok(()));
        t.with_sender(bob)
    };
    // Bob spends his 100 once; the second spend of the same coins fails.
    assert_eq!(t.transfer(carol, amount(100)).result, Ok(()));
    let again = t.transfer(carol, amount(100));
    let err = again.result.unwrap_err();
    assert!(err.is(TokenError::InsufficientBalance));
    assert_eq!(
        TokenError::from_code(err.code),
        Some(TokenError::InsufficientBalance)
    );
    assert_eq!(err.message, "insufficient balance");
    assert!(again.events.is_empty());
    assert_eq!(t.balance_of(bob), Ok(Amount::ZERO));
    assert_eq!(t.balance_of(carol), Ok(amount(100)));
    // Amounts beyond u128 are refused as bad arguments (raw JSON: the typed client cannot
    // even express them).
    let huge = env.call::<Value>(
        alice,
        token,
        "transfer",
        serde_json::json!({"to": bob, "amount": "340282366920938463463374607431768211456"}),
    );
    assert_eq!(huge.result.unwrap_err().code, 1001);
}

#[test]
fn allowances_are_spent_exactly_once() {
    let mut env = TestEnv::new();
    let (alice, bob, carol) = (
        TestEnv::account("alice"),
        TestEnv::account("bob"),
        TestEnv::account("carol"),
    );
    let token = deploy(&mut env, alice, amount(1_000_000));
    let mut t = TokenClient::new(&mut env, token, alice);
    let r = t.approve(bob, amount(70));
    assert_eq!(r.result, Ok(()));
    let approval: Approval = r.events[0].decode().expect("an approval event");
    assert_eq!(approval.amount, amount(70));
    assert_eq!(t.allowance(alice, bob), Ok(amount(70)));
    // Carol has no allowance.
    let mut t = t.with_sender(carol);
    let denied = t.transfer_from(alice, carol, amount(1));
    assert!(
        denied
            .result
            .unwrap_err()
            .is(TokenError::InsufficientAllowance)
    );
    let mut t = t.with_sender(bob);
    assert_eq!(t.transfer_from(alice, carol, amount(50)).result, Ok(()));
    let over = t.transfer_from(alice, carol, amount(21));
    assert!(
        over.result
            .unwrap_err()
            .is(TokenError::InsufficientAllowance)
    );
    assert_eq!(t.allowance(alice, bob), Ok(amount(20)));
    assert_eq!(t.balance_of(carol), Ok(amount(50)));
}

#[test]
fn the_full_u128_range_moves_and_is_bounded() {
    let mut env = TestEnv::new();
    let (alice, bob) = (TestEnv::account("alice"), TestEnv::account("bob"));
    let max = amount(u128::MAX);
    let token = deploy(&mut env, alice, max);
    let mut t = TokenClient::new(&mut env, token, alice);
    // The whole u128 supply moves; nothing more exists to move.
    assert_eq!(t.transfer(bob, max).result, Ok(()));
    assert_eq!(t.balance_of(bob), Ok(max));
    assert_eq!(t.balance_of(alice), Ok(Amount::ZERO));
    let one = t.transfer(bob, amount(1));
    assert!(one.result.unwrap_err().is(TokenError::InsufficientBalance));
    let mut t = t.with_sender(bob);
    // Bob holds everything: a transfer to alice cannot overflow her balance either.
    assert_eq!(t.transfer(alice, max).result, Ok(()));
}

#[test]
fn the_abi_is_embedded_in_the_wasm_and_describes_the_contract() {
    let wasm = contract_wasm!();
    let section = custom_section(&wasm, "phalanx.abi").expect("the wasm carries its ABI");
    assert_eq!(
        section,
        token::Token::ABI.as_bytes(),
        "the same bytes as Token::ABI"
    );
    let abi: Value = serde_json::from_slice(section).unwrap();
    assert_eq!(abi["phalanx_abi"], 1);
    assert_eq!(abi["contract"], "Token");
    let method = |name: &str| {
        abi["methods"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("method {name}"))
    };
    assert_eq!(method("init")["kind"], "init");
    assert_eq!(
        method("transfer")["params"],
        serde_json::json!([{"name": "to", "type": "Address"}, {"name": "amount", "type": "Amount"}])
    );
    assert_eq!(method("transfer")["kind"], "call");
    assert_eq!(method("balance_of")["kind"], "query");
    assert_eq!(method("balance_of")["returns"], "Amount");
    assert_eq!(method("info")["returns"], "Option<Info>");
    let codes: Vec<u64> = abi["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [1000, 1001, 1002, 1100, 1101, 1102]);
    assert_eq!(abi["events"][0]["topic"], "transfer");
    assert_eq!(abi["events"][0]["fields"][2]["name"], "amount");
    assert_eq!(abi["events"][1]["topic"], "approval");
}

/// The payload of the custom section `name` of a wasm module.
fn custom_section<'a>(wasm: &'a [u8], name: &str) -> Option<&'a [u8]> {
    fn leb(b: &[u8], i: &mut usize) -> usize {
        let (mut v, mut shift) = (0usize, 0);
        loop {
            let byte = b[*i];
            *i += 1;
            v |= usize::from(byte & 0x7f) << shift;
            shift += 7;
            if byte < 0x80 {
                return v;
            }
        }
    }
    let mut i = 8;
    while i < wasm.len() {
        let id = wasm[i];
        i += 1;
        let size = leb(wasm, &mut i);
        let end = i + size;
        if id == 0 {
            let mut j = i;
            let len = leb(wasm, &mut j);
            if &wasm[j..j + len] == name.as_bytes() {
                return Some(&wasm[j + len..end]);
            }
        }
        i = end;
    }
    None
}
