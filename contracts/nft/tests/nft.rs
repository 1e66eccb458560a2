//! The NFT's compiled wasm, run in the real runtime.

use nft::{NftClient, NftError, Transfer};
use phalanx_sdk::testing::TestEnv;
use phalanx_sdk::{Address, contract_wasm};
use serde_json::json;

#[test]
fn mint_transfer_and_index() {
    let mut env = TestEnv::new();
    let alice = TestEnv::account("alice");
    let bob = TestEnv::account("bob");
    let mut nft =
        NftClient::deploy(&mut env, alice, &contract_wasm!(), Some("Shields".into())).unwrap();
    for id in [3u64, 1, 2] {
        assert_eq!(nft.mint(alice, id).result, Ok(()));
    }
    assert_eq!(nft.tokens_of(alice), Ok(vec![1, 2, 3]));
    assert_eq!(nft.name(), Ok("Shields".to_string()));
    let r = nft.transfer(bob, 2);
    assert_eq!(r.result, Ok(()));
    let moved: Transfer = r.events[0].decode().expect("a transfer event");
    assert_eq!((moved.from, moved.to, moved.token_id), (alice, bob, 2));
    assert_eq!(nft.owner_of(2), Ok(bob));
    assert!(nft.owner_of(9).unwrap_err().is(NftError::NotFound));
    assert_eq!(nft.tokens_of(alice), Ok(vec![1, 3]));
    assert_eq!(nft.tokens_of(bob), Ok(vec![2]));
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
