//! A version 1 token migrated in place to version 2, in the real runtime.

use phalanx_sdk::testing::TestEnv;
use phalanx_sdk::{Address, Amount, contract_wasm};
use serde_json::{Value, json};
use token::{TokenClient, TokenError};
use token_v2::{TokenV2Client, TokenV2Error, Upgraded};

struct World {
    env: TestEnv,
    token: Address,
    alice: Address,
    bob: Address,
    v1: Vec<u8>,
    v2: Vec<u8>,
}

fn amount(n: u128) -> Amount {
    Amount::from(n)
}

/// A version 1 token with `admin`, alice holding 900 and bob 100.
fn world(admin: Option<Address>) -> World {
    let mut env = TestEnv::new();
    let (alice, bob) = (TestEnv::account("alice"), TestEnv::account("bob"));
    let v1 = contract_wasm!("../token");
    let v2 = contract_wasm!();
    let init = json!({"name": "Gold", "symbol": "GLD", "decimals": 2, "supply": "1000"});
    let token = env
        .deploy_with_admin(alice, &v1, init, admin)
        .result
        .unwrap();
    let mut t = TokenClient::new(&mut env, token, alice);
    assert_eq!(t.transfer(bob, amount(100)).result, Ok(()));
    World {
        env,
        token,
        alice,
        bob,
        v1,
        v2,
    }
}

fn balances(w: &mut World) -> (Amount, Amount, Amount) {
    let t = TokenClient::new(&mut w.env, w.token, w.alice);
    (
        t.balance_of(w.alice).unwrap(),
        t.balance_of(w.bob).unwrap(),
        t.total_supply().unwrap(),
    )
}

#[test]
fn the_admin_upgrades_in_place_and_every_balance_stays() {
    let mut w = world(Some(TestEnv::account("alice")));
    let before = balances(&mut w);
    // Version 1 has no `burn` and no `version`.
    let r = w
        .env
        .call::<Value>(w.alice, w.token, "burn", json!({"amount": "1"}));
    assert_eq!(r.result.unwrap_err().code, 23, "unknown method");

    let v2 = w.v2.clone();
    let mut t = TokenV2Client::new(&mut w.env, w.token, w.alice);
    let r = t.migrate(&v2, "add burn".into());
    assert_eq!(r.result, Ok(()), "migrate");
    let upgraded: Upgraded = r
        .events
        .iter()
        .find_map(|e| e.decode())
        .expect("the contract's own event");
    assert_eq!((upgraded.version, upgraded.note.as_str()), (2, "add burn"));
    let system = r
        .events
        .iter()
        .find(|e| e.topic == "phalanx.migrated")
        .expect("the runtime records the migration");
    assert_eq!(system.contract, w.token);
    assert_eq!(system.data["to"].as_str().unwrap().len(), 64);

    // Same address, same balances; the new code answers.
    assert_eq!(t.version(), Ok(2));
    assert_eq!(t.balance_of(w.bob), Ok(amount(100)));
    let burn = t.burn(amount(50));
    assert_eq!(burn.result, Ok(()));
    assert_eq!(t.total_supply(), Ok(amount(950)));
    let mut t = t.with_sender(w.bob);
    assert_eq!(t.transfer(w.alice, amount(10)).result, Ok(()));
    assert_eq!(
        balances(&mut w),
        (amount(900 - 50 + 10), amount(90), amount(950))
    );
    assert_eq!(before, (amount(900), amount(100), amount(1000)));

    // `migrate` ran once: running it again fails and changes nothing.
    let again = w
        .env
        .migrate::<()>(w.alice, w.token, &w.v2.clone(), json!({"note": "again"}));
    assert!(again.result.unwrap_err().is(TokenV2Error::AlreadyMigrated));
    // Nobody may call `migrate` or `init` as a method.
    for method in ["migrate", "init"] {
        let r = w
            .env
            .call::<Value>(w.alice, w.token, method, json!({"note": "x"}));
        assert_eq!(r.result.unwrap_err().code, 23, "{method}");
    }
}

#[test]
fn a_failing_migrate_changes_nothing() {
    let mut w = world(Some(TestEnv::account("alice")));
    let before = balances(&mut w);
    let v2 = w.v2.clone();
    let r = TokenV2Client::new(&mut w.env, w.token, w.alice).migrate(&v2, String::new());
    assert!(r.result.unwrap_err().is(TokenV2Error::EmptyNote));
    assert!(r.events.is_empty());
    // Still version 1: no `version`, no `burn`, balances as they were.
    let r = w.env.call::<Value>(w.alice, w.token, "version", ());
    assert_eq!(r.result.unwrap_err().code, 23);
    assert_eq!(balances(&mut w), before);
    // A migration to code without a `migrate` entry point fails the same way.
    let v1 = w.v1.clone();
    let r = w.env.migrate::<()>(w.alice, w.token, &v1, ());
    assert_eq!(r.result.unwrap_err().code, 23, "v1 has no migrate");
    // A transfer still works under version 1's rules.
    let mut t = TokenClient::new(&mut w.env, w.token, w.bob);
    assert!(
        t.transfer(w.alice, amount(101))
            .result
            .unwrap_err()
            .is(TokenError::InsufficientBalance)
    );
}

#[test]
fn only_the_admin_migrates_and_a_cleared_admin_is_final() {
    let alice = TestEnv::account("alice");
    let mut w = world(Some(alice));
    let v2 = w.v2.clone();
    let bob = w.bob;
    // Bob is not the admin.
    let r = w
        .env
        .migrate::<()>(bob, w.token, &v2, json!({"note": "mine"}));
    assert_eq!(r.result.unwrap_err().code, 33, "not the admin");
    assert!(w.env.set_admin(bob, w.token, Some(bob)).result.is_err());
    // Alice hands the role to bob, who may then migrate; alice no longer may.
    let r = w.env.set_admin(alice, w.token, Some(bob));
    assert_eq!(r.result, Ok(()));
    assert_eq!(r.events[0].topic, "phalanx.admin");
    assert_eq!(r.events[0].data["admin"], json!(bob.to_hex()));
    let r = w
        .env
        .migrate::<()>(alice, w.token, &v2, json!({"note": "mine"}));
    assert_eq!(r.result.unwrap_err().code, 33);
    // Bob clears it: the token is immutable for good.
    assert_eq!(w.env.set_admin(bob, w.token, None).result, Ok(()));
    for who in [alice, bob] {
        let r = w
            .env
            .migrate::<()>(who, w.token, &v2, json!({"note": "late"}));
        assert_eq!(r.result.unwrap_err().code, 33);
        assert_eq!(
            w.env
                .set_admin(who, w.token, Some(who))
                .result
                .unwrap_err()
                .code,
            33
        );
    }

    // A token deployed without an admin can never be migrated.
    let mut w = world(None);
    let v2 = w.v2.clone();
    let r = w
        .env
        .migrate::<()>(w.alice, w.token, &v2, json!({"note": "x"}));
    assert_eq!(r.result.unwrap_err().code, 33);
}

#[test]
fn a_fresh_v2_and_its_abi() {
    let mut env = TestEnv::new();
    let alice = TestEnv::account("alice");
    let t = TokenV2Client::deploy(
        &mut env,
        alice,
        &contract_wasm!(),
        "Silver".into(),
        "SLV".into(),
        0,
        amount(5),
    )
    .unwrap();
    assert_eq!(t.version(), Ok(2));
    let abi: Value = serde_json::from_str(token_v2::TokenV2::ABI).unwrap();
    let kinds: Vec<(&str, &str)> = abi["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap(), m["kind"].as_str().unwrap()))
        .collect();
    assert!(kinds.contains(&("migrate", "migrate")));
    assert!(kinds.contains(&("version", "query")));
    // Version 1's library build embedded nothing: the v2 wasm has exactly one ABI.
    assert_eq!(abi["contract"], "TokenV2");
    let codes: Vec<u64> = abi["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_u64().unwrap())
        .collect();
    assert_eq!(
        codes,
        [1000, 1001, 1002, 1100, 1101, 1102, 1200, 1201, 1202]
    );
}
