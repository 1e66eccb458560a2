//! Upgrading a contract in place on a 4-validator network, through the CLI: the token
//! migrates to version 2 with every balance kept on every node, and a failing migration (or
//! one by an account that may not bring code) changes nothing.

mod common;
#[path = "../../runtime/benches/support/example_contracts.rs"]
mod example_contracts;

use common::{Testnet, phalanx, rpc, rpc_try, text};
use serde_json::{Value, json};
use std::time::Duration;

fn ok(args: &[&str]) -> Value {
    let o = phalanx(args);
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    serde_json::from_str(&String::from_utf8_lossy(&o.stdout)).unwrap()
}

#[test]
fn a_token_upgraded_to_v2_keeps_every_balance_and_a_failed_migration_changes_nothing() {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/Cargo.toml");
    let v1 = example_contracts::build("token", &manifest);
    let v2 = example_contracts::build("token-v2", &manifest);
    let (v1, v2) = (v1.to_str().unwrap(), v2.to_str().unwrap());
    let mut net = Testnet::new(4);
    net.start_all();
    net.wait_height(&[0, 1, 2, 3], 2, Duration::from_secs(30));
    let key = net.dir.path().join("client.key");
    let key = key.to_str().unwrap();
    let url = net.nodes[0].rpc.clone();
    let tx = |args: &[&str]| {
        let mut all = vec!["--output", "json", "tx"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--key", key, "--rpc", &url]);
        all.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&refs)
    };

    let init = r#"{"name":"Gold","symbol":"GLD","decimals":2,"supply":"1000000"}"#;
    let out = run(tx(&["deploy", v1, "--init", init, "--admin", "self"]));
    let token = out["receipt"]["return"].as_str().unwrap().to_string();
    let deployed_at = out["receipt"]["height"].as_u64().unwrap();
    let holders: Vec<String> = (1..=3u8).map(|i| format!("{i:02x}").repeat(32)).collect();
    for (i, h) in holders.iter().enumerate() {
        let args = format!(r#"{{"to":"{h}","amount":"{}"}}"#, 1000 * (i + 1));
        run(tx(&["call", &token, "transfer", &args]));
    }
    // Every balance, as every node answers it.
    let client = net.client.address().to_hex();
    let accounts: Vec<&str> = holders
        .iter()
        .map(String::as_str)
        .chain([client.as_str()])
        .collect();
    let balances = |node: usize| -> Vec<Value> {
        accounts
            .iter()
            .map(|a| {
                rpc(
                    &net.nodes[node].rpc,
                    "contract_query",
                    json!({"address": token, "method": "balance_of", "args": {"account": a}}),
                )["result"]
                    .clone()
            })
            .collect()
    };
    let before = balances(0);
    assert_eq!(
        before,
        [json!("1000"), json!("2000"), json!("3000"), json!("994000")]
    );
    let info = rpc(&url, "contract_get", json!({"address": token}));
    assert_eq!(info["admin"], json!(client));
    let v1_hash = info["code_hash"].clone();

    // A migration whose `migrate` fails: the transaction is included, nothing else changes.
    let o = phalanx(
        &tx(&["migrate", &token, v2, "--args", r#"{"note":""}"#])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("1201"),
        "the contract's own error: {}",
        text(&o)
    );
    // An account that may not bring code (not on the deploy allowlist) is refused too.
    let stranger = net.dir.path().join("stranger.key");
    assert!(
        phalanx(&["keys", "new", "--out", stranger.to_str().unwrap()])
            .status
            .success()
    );
    let o = phalanx(&[
        "tx",
        "migrate",
        &token,
        v2,
        "--args",
        r#"{"note":"mine"}"#,
        "--key",
        stranger.to_str().unwrap(),
        "--rpc",
        &url,
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("code 30"),
        "not allowed to deploy: {}",
        text(&o)
    );
    for node in 0..4 {
        let info = rpc(
            &net.nodes[node].rpc,
            "contract_get",
            json!({"address": token}),
        );
        assert_eq!(
            info["code_hash"], v1_hash,
            "node {node} still runs version 1"
        );
        assert_eq!(balances(node), before, "node {node}");
    }

    // The real one.
    let before_migration = rpc(&url, "node_status", json!({}))["height"]
        .as_u64()
        .unwrap();
    let out = run(tx(&[
        "migrate",
        &token,
        v2,
        "--args",
        r#"{"note":"add burn"}"#,
    ]));
    let events = out["receipt"]["events"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["topic"] == "upgraded"),
        "{events:?}"
    );
    let migrated = events
        .iter()
        .find(|e| e["topic"] == "phalanx.migrated")
        .unwrap();
    assert_eq!(migrated["data"]["from"], v1_hash);
    let height = out["receipt"]["height"].as_u64().unwrap();
    net.wait_height(&[0, 1, 2, 3], height, Duration::from_secs(30));
    for node in 0..4 {
        let r = &net.nodes[node].rpc;
        let info = rpc(r, "contract_get", json!({"address": token}));
        assert_eq!(
            info["code_hash"], migrated["data"]["to"],
            "node {node} runs version 2"
        );
        assert_eq!(info["abi"]["contract"], "TokenV2");
        assert_eq!(balances(node), before, "node {node} kept every balance");
        let version = rpc(
            r,
            "contract_query",
            json!({"address": token, "method": "version"}),
        );
        assert_eq!(version["result"], 2);
    }
    // Reads at a height see the token as it was then.
    // `Ok(result)` or `Err(the error as text)`.
    let at = |method: &str, params: Value| {
        let v = rpc_try(&url, method, params).unwrap();
        match v.get("error") {
            Some(e) => Err(e.to_string()),
            None => Ok(v["result"].clone()),
        }
    };
    let old = at(
        "contract_get",
        json!({"address": token, "height": before_migration}),
    )
    .unwrap();
    assert_eq!(old["code_hash"], v1_hash);
    assert_eq!(old["abi"]["contract"], "Token");
    let q = |method: &str, args: Value, height: u64| {
        at(
            "contract_query",
            json!({"address": token, "method": method, "args": args, "height": height}),
        )
    };
    let version_then = q("version", json!({}), before_migration).unwrap_err();
    assert!(
        version_then.contains("23"),
        "version 1 had no `version`: {version_then}"
    );
    // A simulation at that height runs on version 1 too.
    let sim = |height: Option<u64>| {
        let mut p = json!({"call": {"address": token, "method": "version"}});
        if let Some(h) = height {
            p["height"] = json!(h);
        }
        at("tx_simulate", p).unwrap()
    };
    assert_eq!(sim(Some(before_migration))["status"], "failed");
    assert_eq!(sim(Some(before_migration))["error"]["code"], 23);
    assert_eq!(sim(None)["return"], 2);
    let first = json!({"account": holders[0]});
    assert_eq!(
        q("balance_of", first.clone(), deployed_at).unwrap()["result"],
        "0"
    );
    assert_eq!(
        q("balance_of", first, before_migration).unwrap()["result"],
        "1000"
    );
    let none = at(
        "contract_get",
        json!({"address": token, "height": deployed_at - 1}),
    )
    .unwrap_err();
    assert!(none.contains("no contract"), "{none}");
    let future = q("balance_of", json!({"account": client}), 1_000_000).unwrap_err();
    assert!(future.contains("no committed block"), "{future}");

    // Version 2's new method works on the old balances.
    run(tx(&["call", &token, "burn", r#"{"amount":"4000"}"#]));
    let supply = rpc(
        &url,
        "contract_query",
        json!({"address": token, "method": "total_supply"}),
    );
    assert_eq!(supply["result"], "996000");
    // The admin gives the role up: the token is immutable from then on.
    run(tx(&["set-admin", &token, "none"]));
    let o = phalanx(
        &tx(&["migrate", &token, v1, "--gas", "300000000"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(!o.status.success());
    // A method that iterates storage is served at the latest height only, with a clear error
    // at a past one (the state tree is ordered by key hash).
    let nft = example_contracts::build("nft", &manifest);
    let out = run(tx(&["deploy", nft.to_str().unwrap()]));
    let nft = out["receipt"]["return"].as_str().unwrap().to_string();
    let mint = format!(r#"{{"to":"{client}","token_id":7}}"#);
    let minted = run(tx(&["call", &nft, "mint", &mint]))["receipt"]["height"]
        .as_u64()
        .unwrap();
    let held = json!({"address": nft, "method": "tokens_of", "args": {"owner": client}});
    assert_eq!(
        rpc(&url, "contract_query", held.clone())["result"],
        json!([7])
    );
    let mut then = held;
    then["height"] = json!(minted);
    let err = rpc_try(&url, "contract_query", then).unwrap()["error"].to_string();
    assert!(err.contains("iterates storage"), "{err}");
    net.assert_agree(&[0, 1, 2, 3]);
}
