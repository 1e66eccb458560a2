//! The NFT's compiled wasm, run in the real runtime.

use phalanx_sdk::testing::TestEnv;
use phalanx_sdk::{Address, contract_wasm};
use serde_json::json;

#[test]
fn mint_transfer_and_index() {
    let mut env = TestEnv::new();
    let alice = TestEnv::account("alice");
    let bob = TestEnv::account("bob");
    let nft = env
        .deploy(alice, &contract_wasm!(), json!({"name": "Shields"}))
        .unwrap();
    for id in [3u64, 1, 2] {
        assert!(
            env.call::<()>(alice, nft, "mint", json!({"to": alice, "token_id": id}))
                .result
                .is_ok()
        );
    }
    assert_eq!(
        env.query::<Vec<u64>>(nft, "tokens_of", json!({"owner": alice}))
            .unwrap(),
        vec![1, 2, 3]
    );
    let r = env.call::<()>(alice, nft, "transfer", json!({"to": bob, "token_id": 2}));
    assert!(r.result.is_ok());
    assert_eq!(
        r.events[0].data,
        json!({"from": alice, "to": bob, "token_id": 2})
    );
    assert_eq!(
        env.query::<Address>(nft, "owner_of", json!({"token_id": 2}))
            .unwrap(),
        bob
    );
    assert_eq!(
        env.query::<Vec<u64>>(nft, "tokens_of", json!({"owner": alice}))
            .unwrap(),
        vec![1, 3]
    );
    assert_eq!(
        env.query::<Vec<u64>>(nft, "tokens_of", json!({"owner": bob}))
            .unwrap(),
        vec![2]
    );
}

#[test]
fn only_the_minter_mints_and_only_holders_transfer() {
    let mut env = TestEnv::new();
    let alice = TestEnv::account("alice");
    let bob = TestEnv::account("bob");
    let nft = env.deploy(alice, &contract_wasm!(), json!({})).unwrap();
    assert_eq!(
        env.call::<()>(bob, nft, "mint", json!({"to": bob, "token_id": 1}))
            .result
            .unwrap_err()
            .code,
        1100
    );
    assert!(
        env.call::<()>(alice, nft, "mint", json!({"to": alice, "token_id": 1}))
            .result
            .is_ok()
    );
    assert_eq!(
        env.call::<()>(alice, nft, "mint", json!({"to": bob, "token_id": 1}))
            .result
            .unwrap_err()
            .code,
        1101
    );
    assert_eq!(
        env.call::<()>(bob, nft, "transfer", json!({"to": bob, "token_id": 1}))
            .result
            .unwrap_err()
            .code,
        1103
    );
    assert_eq!(
        env.call::<()>(alice, nft, "transfer", json!({"to": bob, "token_id": 9}))
            .result
            .unwrap_err()
            .code,
        1102
    );
    assert_eq!(
        env.query::<Address>(nft, "owner_of", json!({"token_id": 1}))
            .unwrap(),
        alice
    );
    assert_eq!(
        env.query::<Address>(nft, "owner_of", json!({"token_id": 9}))
            .unwrap_err()
            .code,
        1102
    );
}
