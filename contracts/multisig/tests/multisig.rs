//! The multisig's compiled wasm calling the token's, in the real runtime.

use multisig::MultisigClient;
use phalanx_sdk::testing::TestEnv;
use phalanx_sdk::{Address, contract_wasm};
use serde_json::{Value, json};

struct World {
    env: TestEnv,
    token: Address,
    wallet: Address,
    owners: [Address; 3],
}

fn world() -> World {
    let mut env = TestEnv::new();
    let owners = [
        TestEnv::account("o1"),
        TestEnv::account("o2"),
        TestEnv::account("o3"),
    ];
    let token = env
        .deploy(
            owners[0],
            &contract_wasm!("../token"),
            json!({"name": "T", "symbol": "T", "decimals": 0, "supply": "1000"}),
        )
        .unwrap();
    let wallet = MultisigClient::deploy(&mut env, owners[0], &contract_wasm!(), owners.to_vec(), 2)
        .unwrap()
        .contract_address();
    let w = MultisigClient::new(&mut env, wallet, owners[0]);
    assert_eq!(w.owners(), Ok(owners.to_vec()));
    assert_eq!(w.threshold(), Ok(2));
    assert!(
        env.call::<()>(
            owners[0],
            token,
            "transfer",
            json!({"to": wallet, "amount": "500"})
        )
        .result
        .is_ok()
    );
    World {
        env,
        token,
        wallet,
        owners,
    }
}

fn balance(w: &World, who: Address) -> String {
    w.env
        .query::<String>(w.token, "balance_of", json!({"account": who}))
        .unwrap()
}

#[test]
fn a_call_runs_once_the_threshold_is_met() {
    let mut w = world();
    let carol = TestEnv::account("carol");
    let [o1, o2, o3] = w.owners;
    let id = w
        .env
        .call::<u64>(o1, w.wallet, "propose", json!({"contract": w.token, "method": "transfer", "args": {"to": carol, "amount": "40"}}))
        .result
        .unwrap();
    // One approval (the proposer's) is below the threshold of two.
    assert_eq!(
        w.env
            .call::<Value>(o1, w.wallet, "execute", json!({"id": id}))
            .result
            .unwrap_err()
            .code,
        1104
    );
    assert_eq!(
        w.env
            .call::<u32>(o2, w.wallet, "approve", json!({"id": id}))
            .result,
        Ok(2)
    );
    let r = w
        .env
        .call::<Value>(o3, w.wallet, "execute", json!({"id": id}));
    assert!(r.result.is_ok(), "{:?}", r.result);
    // The token saw the wallet as its caller.
    let transfer = r
        .events
        .iter()
        .find(|e| e.topic == "transfer")
        .expect("token event");
    assert_eq!(transfer.contract, w.token);
    assert_eq!(
        transfer.data,
        json!({"from": w.wallet, "to": carol, "amount": "40"})
    );
    assert_eq!(balance(&w, carol), "40");
    assert_eq!(balance(&w, w.wallet), "460");
    // Re-execution is refused.
    assert_eq!(
        w.env
            .call::<Value>(o1, w.wallet, "execute", json!({"id": id}))
            .result
            .unwrap_err()
            .code,
        1105
    );
    assert_eq!(balance(&w, carol), "40");
}

#[test]
fn outsiders_and_double_approvals_are_refused() {
    let mut w = world();
    let mallory = TestEnv::account("mallory");
    let [o1, _, _] = w.owners;
    let args = json!({"contract": w.token, "method": "transfer", "args": {"to": mallory, "amount": "500"}});
    assert_eq!(
        w.env
            .call::<u64>(mallory, w.wallet, "propose", &args)
            .result
            .unwrap_err()
            .code,
        1101
    );
    let id = w
        .env
        .call::<u64>(o1, w.wallet, "propose", &args)
        .result
        .unwrap();
    assert_eq!(
        w.env
            .call::<u32>(o1, w.wallet, "approve", json!({"id": id}))
            .result
            .unwrap_err()
            .code,
        1103
    );
    assert_eq!(
        w.env
            .call::<u32>(mallory, w.wallet, "approve", json!({"id": id}))
            .result
            .unwrap_err()
            .code,
        1101
    );
    assert_eq!(
        w.env
            .call::<Value>(mallory, w.wallet, "execute", json!({"id": id}))
            .result
            .unwrap_err()
            .code,
        1101
    );
    assert_eq!(balance(&w, mallory), "0");
}

#[test]
fn a_failing_call_is_not_marked_executed() {
    let mut w = world();
    let carol = TestEnv::account("carol");
    let [o1, o2, _] = w.owners;
    // More than the wallet holds.
    let id = w
        .env
        .call::<u64>(o1, w.wallet, "propose", json!({"contract": w.token, "method": "transfer", "args": {"to": carol, "amount": "501"}}))
        .result
        .unwrap();
    w.env
        .call::<u32>(o2, w.wallet, "approve", json!({"id": id}));
    let r = w
        .env
        .call::<Value>(o1, w.wallet, "execute", json!({"id": id}));
    let err = r.result.unwrap_err();
    assert_eq!(err.code, 1106);
    assert!(
        err.message.contains("insufficient balance"),
        "{}",
        err.message
    );
    let p = w
        .env
        .query::<Value>(w.wallet, "proposal", json!({"id": id}))
        .unwrap();
    assert_eq!(p["executed"], false);
    assert_eq!(balance(&w, w.wallet), "500");
}

#[test]
fn bad_configurations_are_refused() {
    let mut env = TestEnv::new();
    let o = TestEnv::account("o");
    let wasm = contract_wasm!();
    for init in [
        json!({"owners": [o], "threshold": 2}),
        json!({"owners": [o, o], "threshold": 1}),
        json!({"owners": [], "threshold": 0}),
    ] {
        let r = env.deploy_receipt(o, &wasm, init);
        assert_eq!(r.result.unwrap_err().code, 1100);
    }
}
