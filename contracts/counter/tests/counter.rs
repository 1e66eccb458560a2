//! The counter's compiled wasm, run in the real runtime.

use counter::{CounterClient, CounterError};
use phalanx_sdk::contract_wasm;
use phalanx_sdk::testing::TestEnv;
use serde_json::json;

#[test]
fn increments_resets_and_guards() {
    let mut env = TestEnv::new();
    let alice = TestEnv::account("alice");
    let bob = TestEnv::account("bob");
    let c = CounterClient::deploy(&mut env, alice, &contract_wasm!(), Some(5)).unwrap();
    let mut c = c.with_sender(bob);
    assert_eq!(c.get(), Ok(5));

    let r = c.increment(None);
    assert_eq!(r.result, Ok(6));
    assert_eq!(r.events.len(), 1);
    assert_eq!(
        (r.events[0].topic.as_str(), &r.events[0].data),
        ("incremented", &json!(6))
    );
    assert_eq!(c.increment(Some(10)).result, Ok(16));

    // Only the deployer resets.
    let denied = c.reset();
    assert!(denied.result.unwrap_err().is(CounterError::NotOwner));
    assert_eq!(c.get(), Ok(16));
    let mut c = c.with_sender(alice);
    assert_eq!(c.reset().result, Ok(()));
    assert_eq!(c.get(), Ok(0));
}

#[test]
fn overflow_and_bad_arguments_fail_without_changes() {
    let mut env = TestEnv::new();
    let alice = TestEnv::account("alice");
    let counter = env
        .deploy(alice, &contract_wasm!(), json!({"start": u64::MAX - 1}))
        .unwrap();
    assert_eq!(
        env.call::<u64>(alice, counter, "increment", ()).result,
        Ok(u64::MAX)
    );
    let over = env.call::<u64>(alice, counter, "increment", ());
    let err = over.result.unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (1100, "counter overflow"));
    assert!(over.events.is_empty());
    assert_eq!(env.query::<u64>(counter, "get", ()).unwrap(), u64::MAX);

    let bad = env.call::<u64>(alice, counter, "increment", json!({"by": "ten"}));
    assert_eq!(bad.result.unwrap_err().code, 1001);
    let unknown = env.call::<u64>(alice, counter, "increment", json!({"step": 1}));
    assert_eq!(
        unknown.result.unwrap_err().code,
        1001,
        "unknown fields are refused"
    );
    // Queries cannot write (host code READ_ONLY).
    let fresh = env.deploy(alice, &contract_wasm!(), json!({})).unwrap();
    assert_eq!(
        env.query::<u64>(fresh, "increment", ()).unwrap_err().code,
        10
    );
    assert_eq!(env.query::<u64>(fresh, "get", ()).unwrap(), 0);
}
