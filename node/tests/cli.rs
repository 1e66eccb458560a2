//! The CLI client commands end to end against a real dev chain: deploy, call, query,
//! status, block, and clear errors with non-zero exit codes.

mod common;
#[path = "../../runtime/benches/support/example_contracts.rs"]
mod example_contracts;

use common::{SERIAL, bin, rpc};
use serde_json::{Value, json};
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim().to_string()
}

#[test]
fn deploy_call_query_status_block_from_the_cli() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = common::dev();
    let (dir, url) = (&d.dir, d.url.clone());
    let key = d.key.to_str().unwrap();
    let wasm = dir.path().join("setter.wasm");
    std::fs::write(&wasm, wat::parse_str(common::SETTER).unwrap()).unwrap();

    let o = run(&[
        "--output",
        "json",
        "tx",
        "deploy",
        wasm.to_str().unwrap(),
        "--key",
        key,
        "--rpc",
        &url,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let deployed: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(deployed["receipt"]["status"], "ok");
    let contract = deployed["receipt"]["return"].as_str().unwrap().to_string();

    let o = run(&[
        "tx",
        "call",
        &contract,
        "set",
        "\"hello\"",
        "--key",
        key,
        "--rpc",
        &url,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("status   ok"), "{}", stdout(&o));

    // A query returns the contract's JSON and writes nothing (no nonce used).
    let nonce = |a: &str| rpc(&url, "account_get", json!({"address": a}))["nonce"].clone();
    let me = rpc(&url, "tx_get", json!({"hash": deployed["hash"]}))["tx"]["sender"]
        .as_str()
        .unwrap()
        .to_string();
    let before = nonce(&me);
    let o = run(&["query", &contract, "echo", "{\"a\": [1, 2]}", "--rpc", &url]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), r#"{"a":[1,2]}"#);
    assert_eq!(nonce(&me), before);

    // The value `set` stored is in state, with a proof against a certified root.
    let p = rpc(
        &url,
        "state_getProof",
        json!({"address": contract, "key": "ImhlbGxvIg=="}),
    );
    assert_eq!(p["value"], "ImhlbGxvIg==", "{p}");

    // A failing call is included, reported, and exits non-zero.
    let o = run(&["tx", "call", &contract, "fail", "--key", key, "--rpc", &url]);
    assert!(!o.status.success());
    assert!(stdout(&o).contains("status   failed"), "{}", stdout(&o));
    assert!(stderr(&o).contains("transaction failed"), "{}", stderr(&o));
    assert_eq!(nonce(&me), json!(before.as_u64().unwrap() + 1));

    let o = run(&["--output", "json", "status", "--rpc", &url]);
    assert!(o.status.success());
    let s: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(s["chain_id"], "phalanx-dev");
    let o = run(&["block", "1", "--rpc", &url]);
    assert!(
        o.status.success() && stdout(&o).contains("height     1"),
        "{}",
        stdout(&o)
    );

    // Bad input: one-line errors, non-zero exits.
    for (args, expect) in [
        (
            vec!["tx", "call", "nothex", "set", "--key", key, "--rpc", &url],
            "bad contract address",
        ),
        (
            vec!["query", &contract, "echo", "{not json", "--rpc", &url],
            "not valid JSON",
        ),
        (vec!["query", &contract, "missing", "--rpc", &url], "-32022"),
        (vec!["block", "999999", "--rpc", &url], "-32020"),
        (
            vec!["status", "--rpc", "http://127.0.0.1:1"],
            "cannot reach",
        ),
    ] {
        let o = run(&args);
        assert!(!o.status.success(), "{args:?} succeeded");
        let e = stderr(&o);
        assert!(
            e.contains(expect) && e.lines().count() == 1,
            "{args:?}: {e}"
        );
    }
}

/// Builds the example token contract for wasm32 (once; cached in the target directory).
fn token_wasm() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/Cargo.toml");
    example_contracts::build("token", &manifest)
}

#[test]
fn token_session_with_events_subscription_and_verified_proof() {
    let wasm = token_wasm();
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = common::dev();
    let (dir, home, url, port) = (&d.dir, &d.home, d.url.clone(), d.port);
    let key = d.key.to_str().unwrap();
    let init = r#"{"name":"Gold","symbol":"GLD","decimals":2,"supply":"1000000"}"#;
    let o = run(&[
        "--output",
        "json",
        "tx",
        "deploy",
        wasm.to_str().unwrap(),
        "--init",
        init,
        "--key",
        key,
        "--rpc",
        &url,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let token = serde_json::from_str::<Value>(&stdout(&o)).unwrap()["receipt"]["return"]
        .as_str()
        .unwrap()
        .to_string();

    // Subscribe to the token's transfer events before transferring.
    let (mut ws, _) = tungstenite::client::connect(format!("ws://127.0.0.1:{port}/ws")).unwrap();
    let sub = json!({"jsonrpc": "2.0", "id": 1, "method": "subscribe",
        "params": {"topic": "events", "address": token, "topic_filter": "transfer"}});
    ws.send(tungstenite::Message::Text(sub.to_string().into()))
        .unwrap();

    let to = "ab".repeat(32);
    let args = format!(r#"{{"to":"{to}","amount":"250"}}"#);
    let o = run(&[
        "--output", "json", "tx", "call", &token, "transfer", &args, "--key", key, "--rpc", &url,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let call: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let event = &call["receipt"]["events"][0];
    assert_eq!(event["topic"], "transfer");
    assert_eq!(event["data"]["amount"], "250");
    assert_eq!(event["data"]["to"], to.as_str());

    let o = run(&[
        "query",
        &token,
        "balance_of",
        &format!(r#"{{"account":"{to}"}}"#),
        "--rpc",
        &url,
    ]);
    assert_eq!(stdout(&o), r#""250""#, "{}", stderr(&o));

    // The ABI, from the file and from the chain; arguments are checked against it before
    // anything is signed, and the error names the field.
    let o = run(&["contract", "abi", wasm.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("query balance_of(account: Address) -> Amount"),
        "{}",
        stdout(&o)
    );
    let abi_of = |target: &str| {
        let o = run(&["--output", "json", "contract", "abi", target, "--rpc", &url]);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_str::<Value>(&stdout(&o)).unwrap()
    };
    let from_file = abi_of(wasm.to_str().unwrap());
    assert_eq!(from_file["contract"], "Token");
    assert_eq!(
        abi_of(&token),
        from_file,
        "contract_get serves the deployed ABI"
    );
    let height = || {
        let o = run(&["--output", "json", "status", "--rpc", &url]);
        serde_json::from_str::<Value>(&stdout(&o)).unwrap()["height"].clone()
    };
    let before = height();
    for (args, expect) in [
        (
            vec![
                "tx",
                "call",
                &token,
                "transfer",
                r#"{"to":"xyz","amount":"1"}"#,
                "--key",
                key,
                "--rpc",
                &url,
            ],
            "argument `to`: expected Address",
        ),
        (
            vec![
                "tx",
                "call",
                &token,
                "transfer",
                r#"{"to":"xyz"}"#,
                "--key",
                key,
                "--rpc",
                &url,
            ],
            "argument `to`",
        ),
        (
            vec![
                "tx", "call", &token, "tranfser", "{}", "--key", key, "--rpc", &url,
            ],
            "no method `tranfser`",
        ),
        (
            vec![
                "query",
                &token,
                "balance_of",
                r#"{"acount":"00"}"#,
                "--rpc",
                &url,
            ],
            "no parameter `acount`",
        ),
        (
            vec![
                "tx",
                "deploy",
                wasm.to_str().unwrap(),
                "--init",
                r#"{"name":"X"}"#,
                "--key",
                key,
                "--rpc",
                &url,
            ],
            "missing argument `symbol`",
        ),
    ] {
        let o = run(&args);
        let e = stderr(&o);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(
            e.contains(expect) && e.contains("nothing was sent"),
            "{args:?}: {e}"
        );
    }
    assert_eq!(height(), before, "no transaction reached the chain");

    // The subscription saw the transfer, with the filter applied.
    let notification = loop {
        if let tungstenite::Message::Text(t) = ws.read().unwrap() {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["method"] == "subscription" {
                break v;
            }
        }
    };
    let seen = &notification["params"]["result"];
    assert_eq!(
        (&seen["topic"], &seen["contract"]),
        (&json!("transfer"), &json!(token))
    );
    assert_eq!(seen["data"]["amount"], "250");

    // events_get finds the mint and the transfer, paginated one at a time.
    let page1 = rpc(
        &url,
        "events_get",
        json!({"from_height": 1, "to_height": 1000, "address": token, "limit": 1}),
    );
    assert_eq!(page1["events"].as_array().unwrap().len(), 1);
    let page2 = rpc(
        &url,
        "events_get",
        json!({"from_height": 1, "to_height": 1000, "address": token, "limit": 1, "cursor": page1["next_cursor"]}),
    );
    assert_eq!(page2["events"][0]["data"]["amount"], "250");

    // The balance is proven against a certified state root, trusting only genesis.
    let genesis = home.join("config/genesis.json");
    let balance_key = format!("62{to}");
    let o = run(&[
        "--output",
        "json",
        "verify",
        &token,
        &balance_key,
        "--genesis",
        genesis.to_str().unwrap(),
        "--rpc",
        &url,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        (v["verified"].clone(), v["value"].clone()),
        (json!(true), json!(r#""250""#))
    );
    // With another chain's validator set the same answer does not verify.
    let other = dir.path().join("other");
    assert!(
        run(&[
            "init",
            "--chain-id",
            "other",
            "--home",
            other.to_str().unwrap()
        ])
        .status
        .success()
    );
    let o = run(&[
        "verify",
        &token,
        &balance_key,
        "--genesis",
        other.join("config/genesis.json").to_str().unwrap(),
        "--rpc",
        &url,
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("genesis file is \"other\"'s"),
        "{}",
        stderr(&o)
    );
    // The same chain id with other validators: their set did not certify it.
    let twin = dir.path().join("twin");
    let made = run(&[
        "init",
        "--chain-id",
        "phalanx-dev",
        "--home",
        twin.to_str().unwrap(),
    ]);
    assert!(made.status.success());
    let o = run(&[
        "verify",
        &token,
        &balance_key,
        "--genesis",
        twin.join("config/genesis.json").to_str().unwrap(),
        "--rpc",
        &url,
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("validator set"), "{}", stderr(&o));
}

#[test]
fn bench_reports_honest_figures() {
    let wasm = token_wasm();
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = common::dev();
    let o = run(&[
        "bench",
        "--rpc",
        &d.url,
        "--token",
        wasm.to_str().unwrap(),
        "--key",
        d.key.to_str().unwrap(),
        "--duration",
        "2",
        "--rate",
        "200",
        "--senders",
        "8",
        "--workers",
        "4",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let last = stdout(&o).lines().last().unwrap_or("").to_string();
    let fields: std::collections::BTreeMap<&str, u64> = last
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k, v.parse().unwrap()))
        .collect();
    assert_eq!(
        fields.keys().copied().collect::<Vec<_>>(),
        ["committed", "p50_ms", "p99_ms", "tps"],
        "{last}"
    );
    // 2 s at 200/s offered: 400 transfers, all of which must commit with an ok receipt.
    assert_eq!(fields["committed"], 400, "{last}\n{}", stderr(&o));
    assert!(fields["tps"] >= 150 && fields["tps"] <= 250, "{last}");
    assert!(fields["p50_ms"] <= fields["p99_ms"], "{last}");
    // The chain agrees: the transfers went back to the funder, one unit each.
    let err = stderr(&o);
    let token = err
        .lines()
        .find_map(|l| l.strip_prefix("bench: token "))
        .expect("the token address is reported");
    let me = common::read_key(&d.key).address();
    let balance = rpc(
        &d.url,
        "contract_query",
        json!({"address": token, "method": "balance_of", "args": {"account": me}}),
    );
    let expected = 1_000_000_000_000_000u128 - 8 * 1_000_000_000 + 400;
    assert_eq!(balance["result"], expected.to_string());
}

#[test]
fn governance_from_the_cli_on_a_dev_chain() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dev = common::dev();
    let validator_key = dev.home.join("config/validator_key");
    let vkey = validator_key.to_str().unwrap();
    // A lone validator is its own quorum: the change is scheduled at once.
    let o = run(&[
        "--output",
        "json",
        "gov",
        "propose",
        "set-param",
        "block_interval_ms",
        "400",
        "--key",
        vkey,
        "--rpc",
        &dev.url,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let status = out["receipt"]["return"]["status"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(status.starts_with("scheduled for "), "{out}");
    let activation: u64 = status["scheduled for ".len()..].parse().unwrap();
    common::wait_for(
        std::time::Duration::from_secs(20),
        "the change to apply",
        || {
            rpc(&dev.url, "node_status", json!({}))["height"]
                .as_u64()
                .unwrap()
                >= activation
        },
    );
    let list = rpc(&dev.url, "gov_proposals", json!({}));
    assert_eq!(list["params"]["block_interval_ms"], 400);
    assert_eq!(list["proposals"][0]["status"], "applied");
    assert_eq!(list["proposals"][0]["activates_at"], activation);
    let one = rpc(&dev.url, "gov_proposal", json!({"id": 1}));
    assert_eq!(one["change"]["type"], "set_param");
    // Human listing.
    let o = run(&["gov", "list", "--rpc", &dev.url]);
    assert!(o.status.success());
    assert!(
        stdout(&o).contains("set-param block_interval_ms=400"),
        "{}",
        stdout(&o)
    );
    // Refusals exit non-zero with the reason: a second validator would halt a chain of one,
    // the dev account is no validator, and approving what does not exist.
    let o = run(&[
        "gov",
        "propose",
        "add-validator",
        "--public-key",
        "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
        "--peer-id",
        "12D3KooWAhQxrV7Vy8GSRkRz8E4eqf1YbvbAd4Fzf4F7zjpGSNqg",
        "--key",
        vkey,
        "--rpc",
        &dev.url,
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("would halt"), "{}", stderr(&o));
    let dev_key = dev.key.to_str().unwrap();
    let o = run(&["gov", "approve", "1", "--key", dev_key, "--rpc", &dev.url]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a validator"), "{}", stderr(&o));
    let o = run(&[
        "gov",
        "propose",
        "add-validator",
        "--key",
        vkey,
        "--rpc",
        &dev.url,
    ]);
    assert!(!o.status.success());
    // Only public data is accepted: no path to another node's secret keys.
    assert!(stderr(&o).contains("--public-key"), "{}", stderr(&o));
    // The set and its history.
    let set = rpc(&dev.url, "chain_getValidators", json!({"height": 1}));
    assert_eq!(set.as_array().unwrap().len(), 1);
    let code = |method: &str, params: Value| {
        common::rpc_try(&dev.url, method, params).unwrap()["error"]["code"].clone()
    };
    assert_eq!(
        code("chain_getValidators", json!({"height": 1_000_000})),
        -32020
    );
    assert_eq!(code("gov_proposals", json!({"limit": 0})), -32602);
    assert_eq!(code("gov_proposal", json!({"id": 99})), -32020);
}

/// `tx_simulate` runs without committing, and `--gas auto` (the CLI's default) sets the
/// gas limit from a simulation: a transaction's limit is close to what it used.
#[test]
fn simulation_runs_without_committing_and_gas_auto_fits_the_limit() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = common::dev();
    let url = d.url.clone();
    let key = d.key.to_str().unwrap();
    let wasm = d.dir.path().join("setter.wasm");
    std::fs::write(&wasm, wat::parse_str(common::SETTER).unwrap()).unwrap();
    let o = run(&[
        "--output",
        "json",
        "tx",
        "deploy",
        wasm.to_str().unwrap(),
        "--key",
        key,
        "--rpc",
        &url,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let deployed: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let contract = deployed["receipt"]["return"].as_str().unwrap().to_string();
    let t = rpc(&url, "tx_get", json!({"hash": deployed["hash"]}));
    let (limit, used) = (
        t["tx"]["gas_limit"].as_u64().unwrap(),
        t["receipt"]["gas_used"].as_u64().unwrap(),
    );
    // Deploys are not simulated (the node would compile the code): the fixed limit.
    assert_eq!(limit, 200_000_000, "{t}");
    assert!(used < limit);
    let deploy_sim = common::rpc_try(&url, "tx_simulate", json!({"tx": t["tx"]["raw"]})).unwrap();
    assert!(
        deploy_sim["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not simulated"),
        "{deploy_sim}"
    );

    // A call simulated: its outcome, gas and writes, and nothing committed.
    let height = rpc(&url, "node_status", json!({}))["height"]
        .as_u64()
        .unwrap();
    let sim = rpc(
        &url,
        "tx_simulate",
        json!({"call": {"address": contract, "method": "set", "args": "sim"}}),
    );
    assert_eq!(sim["status"], "ok", "{sim}");
    assert_eq!(sim["writes"]["keys_set"], 1, "{sim}");
    assert!(sim["gas_used"].as_u64().unwrap() > 50_000, "{sim}");
    let p = rpc(
        &url,
        "state_getProof",
        json!({"address": contract, "key": "InNpbSI="}),
    );
    assert!(p["value"].is_null(), "a simulation wrote: {p}");
    // The same call sent for real uses what the simulation said.
    let o = run(&[
        "--output", "json", "tx", "call", &contract, "set", "\"sim\"", "--key", key, "--rpc", &url,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let sent: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(sent["receipt"]["gas_used"], sim["gas_used"], "{sent} {sim}");
    // Its limit was what the simulation used, plus a fifth, plus 20,000.
    let used = sim["gas_used"].as_u64().unwrap();
    let got = rpc(&url, "tx_get", json!({"hash": sent["hash"]}));
    assert_eq!(
        got["tx"]["gas_limit"],
        json!(used + used / 5 + 20_000),
        "{got}"
    );
    assert!(sent["receipt"]["height"].as_u64().unwrap() > height);
    // A failing call simulates as failed; a contract that is not there is an error.
    let failed = rpc(
        &url,
        "tx_simulate",
        json!({"call": {"address": contract, "method": "fail"}}),
    );
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(failed["error"]["code"].is_number(), "{failed}");
    let none = common::rpc_try(
        &url,
        "tx_simulate",
        json!({"call": {"address": "00".repeat(32), "method": "set"}}),
    )
    .unwrap();
    assert!(
        none["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no contract"),
        "{none}"
    );
    // A signed transaction that could not enter a block (a used nonce) says why.
    let call_tx = got["tx"]["raw"].clone();
    let stale = common::rpc_try(&url, "tx_simulate", json!({"tx": call_tx})).unwrap();
    assert!(
        stale["error"]["message"]
            .as_str()
            .unwrap()
            .contains("would not be included"),
        "{stale}"
    );
    // A fixed limit below what the call needs runs out of gas.
    let o = run(&[
        "tx", "call", &contract, "set", "\"low\"", "--gas", "60000", "--key", key, "--rpc", &url,
    ]);
    assert!(!o.status.success(), "{}", stdout(&o));
}

#[test]
fn gas_auto_limits_let_hundreds_of_transfers_share_a_block() {
    use base64::Engine;
    use phalanx_types::{Bytes, Tx, TxPayload};
    let wasm = token_wasm();
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = common::dev();
    let (url, key) = (d.url.clone(), d.key.to_str().unwrap());
    let init = r#"{"name":"Gold","symbol":"GLD","decimals":2,"supply":"1000000"}"#;
    let o = run(&[
        "--output",
        "json",
        "tx",
        "deploy",
        wasm.to_str().unwrap(),
        "--init",
        init,
        "--key",
        key,
        "--rpc",
        &url,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let token = serde_json::from_str::<Value>(&stdout(&o)).unwrap()["receipt"]["return"]
        .as_str()
        .unwrap()
        .to_string();
    // One transfer with the CLI's default `--gas auto`: the limit it chose.
    let to = "cd".repeat(32);
    let args = format!(r#"{{"to":"{to}","amount":"1"}}"#);
    let o = run(&[
        "--output", "json", "tx", "call", &token, "transfer", &args, "--key", key, "--rpc", &url,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let sent: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let got = rpc(&url, "tx_get", json!({"hash": sent["hash"]}));
    let limit = got["tx"]["gas_limit"].as_u64().unwrap();
    let status = rpc(&url, "node_status", json!({}));
    let params = rpc(&url, "gov_proposals", json!({"limit": 1}))["params"].clone();
    let block_gas = params["block_gas_limit"].as_u64().unwrap();
    assert!(
        block_gas / limit >= 300,
        "auto limit {limit}: only {} transfers fit a block of {block_gas}",
        block_gas / limit
    );
    // 400 such transfers at once, from 400 accounts (a sender may queue only 64): they
    // share blocks by the hundred. Zero-amount transfers need no balance and run the same
    // code.
    let contract: phalanx_types::Address = token.parse().unwrap();
    let zero = format!(r#"{{"to":"{to}","amount":"0"}}"#);
    let senders: Vec<_> = (0..400u32).map(|i| common::key(7, i)).collect();
    let txs: Vec<String> = senders
        .iter()
        .map(|k| {
            let tx = Tx {
                chain_id: status["chain_id"].as_str().unwrap().into(),
                sender: k.public_key(),
                nonce: 0,
                gas_limit: limit,
                payload: TxPayload::Call {
                    contract,
                    method: "transfer".into(),
                    args: Bytes(zero.clone().into_bytes()),
                },
            }
            .sign(k);
            base64::engine::general_purpose::STANDARD.encode(tx.to_bytes())
        })
        .collect();
    let start = rpc(&url, "node_status", json!({}))["height"]
        .as_u64()
        .unwrap();
    // One batch: the node proposes as transactions arrive.
    for chunk in txs.chunks(400) {
        let r = rpc(&url, "tx_submitBatch", json!({"txs": chunk}));
        let refused: Vec<_> = r["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a.get("error").is_some())
            .collect();
        assert!(refused.is_empty(), "{refused:?}");
    }
    common::wait_for(std::time::Duration::from_secs(60), "400 transfers", || {
        senders
            .iter()
            .step_by(57)
            .chain(senders.last())
            .all(|k| rpc(&url, "account_get", json!({"address": k.address()}))["nonce"] == 1)
    });
    let end = rpc(&url, "node_status", json!({}))["height"]
        .as_u64()
        .unwrap();
    let most = (start + 1..=end)
        .map(|h| {
            let full = rpc(&url, "chain_getBlock", json!({"height": h}));
            let count = full["txs"].as_array().map_or(0, Vec::len);
            assert_eq!(full["tx_count"], count);
            // The light view counts them without listing them.
            let light = rpc(
                &url,
                "chain_getBlock",
                json!({"height": h, "omit_txs": true}),
            );
            assert_eq!(
                (light["tx_count"].clone(), light["txs"].clone()),
                (json!(count), json!([]))
            );
            assert_eq!(light["header"], full["header"]);
            count
        })
        .max()
        .unwrap();
    // Each sender's history is its one transfer; the funder's, every funding transfer.
    let history = rpc(
        &url,
        "account_txs",
        json!({"address": senders[0].address()}),
    );
    assert_eq!(history["nonce"], 1);
    assert_eq!(history["txs"].as_array().unwrap().len(), 1);
    assert_eq!(history["next_before"], json!(null));
    // The dev account deployed, then transferred: two pages of one, newest first.
    let dev = got["tx"]["sender"].clone();
    let page = rpc(&url, "account_txs", json!({"address": dev, "limit": 1}));
    assert_eq!(
        (page["nonce"].clone(), page["next_before"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(page["txs"][0]["hash"], sent["hash"]);
    let older = rpc(
        &url,
        "account_txs",
        json!({"address": dev, "limit": 1, "before_nonce": 1}),
    );
    assert_eq!(older["txs"][0]["nonce"], 0);
    assert_eq!(older["next_before"], json!(null));
    assert!(most >= 200, "at most {most} transfers in one block");
    println!(
        "gas auto: limit {limit} per transfer; {most} transfers in the fullest block of {} ",
        end - start
    );
}

#[test]
fn a_home_shows_its_node_id_and_validator_key_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("n");
    let h = home.to_str().unwrap();
    assert!(
        run(&["init", "--home", h, "--chain-id", "ids"])
            .status
            .success()
    );
    let genesis: Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("config/genesis.json")).unwrap())
            .unwrap();
    let me = &genesis["validators"][0];
    // Its peers are on other machines: p2p listens on every interface, RPC on loopback.
    let config = std::fs::read_to_string(home.join("config/config.toml")).unwrap();
    assert!(
        config.contains("listen = \"/ip4/0.0.0.0/tcp/26656\""),
        "{config}"
    );
    assert!(config.contains("listen = \"127.0.0.1:8645\""), "{config}");
    let o = run(&["show-node-id", "--home", h]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), me["peer_id"].as_str().unwrap());
    let o = run(&["--output", "json", "show-validator", "--home", h]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["public_key"], me["public_key"]);
    assert_eq!(v["address"].as_str().unwrap().len(), 64);
    assert!(!stdout(&o).contains("secret"));
    // keys show gives the same peer id for the node key.
    let node_key = home.join("config/node_key");
    let o = run(&[
        "--output",
        "json",
        "keys",
        "show",
        node_key.to_str().unwrap(),
    ]);
    let k: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(k["peer_id"], me["peer_id"]);
    // A home that is not there: one clear line, non-zero.
    let o = run(&[
        "show-node-id",
        "--home",
        dir.path().join("none").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

/// Logs written anywhere but a terminal (a file, a journal, this pipe) carry no colour codes.
#[test]
fn logs_to_a_pipe_are_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_base_port(1);
    let mut child = std::process::Command::new(common::bin())
        .args(["dev", "--home"])
        .arg(dir.path().join("dev"))
        .args(["--rpc", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stderr, &mut all);
        all
    });
    common::wait_for(
        std::time::Duration::from_secs(30),
        "the dev chain's RPC",
        || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let _ = child.kill();
    let _ = child.wait();
    let log = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    assert!(log.contains("created dev home"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a piped log: {log:?}"
    );
}

/// `genesis validate|hash` check a file the way nodes do, and `unsafe-reset-all` removes a
/// home's chain data but never its keys, and never under a running node.
#[test]
fn genesis_checks_and_a_reset_that_keeps_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("n");
    let h = home.to_str().unwrap();
    assert!(
        run(&["init", "--home", h, "--chain-id", "maint"])
            .status
            .success()
    );
    let genesis = home.join("config/genesis.json");
    let g = genesis.to_str().unwrap();
    let o = run(&["genesis", "validate", g]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("chain      maint"), "{}", stdout(&o));
    let hash = stdout(&run(&["genesis", "hash", g])).trim().to_string();
    assert_eq!(hash.len(), 64, "{hash}");
    // The same document laid out otherwise has the same hash.
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&genesis).unwrap()).unwrap();
    let compact = dir.path().join("compact.json");
    std::fs::write(&compact, doc.to_string()).unwrap();
    assert_eq!(
        stdout(&run(&["genesis", "hash", compact.to_str().unwrap()])).trim(),
        hash
    );
    // A broken one is refused, naming what is wrong.
    let mut twice = doc.clone();
    let v = twice["validators"][0].clone();
    twice["validators"].as_array_mut().unwrap().push(v);
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, twice.to_string()).unwrap();
    let o = run(&["genesis", "validate", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).to_lowercase().contains("duplicate"),
        "{}",
        stderr(&o)
    );

    // A dev home with chain data: refused while the node runs, then reset.
    let dev = dir.path().join("dev");
    let port = common::free_base_port(1);
    let mut node = Command::new(bin())
        .args(["dev", "--home", dev.to_str().unwrap()])
        .args(["--rpc", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    common::wait_for(std::time::Duration::from_secs(30), "a block", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && rpc(&url, "node_status", json!({}))["height"].as_u64() >= Some(2)
    });
    let d = dev.to_str().unwrap();
    let validator = stdout(&run(&["show-validator", "--home", d]));
    let o = run(&["unsafe-reset-all", "--home", d]);
    assert!(
        !o.status.success() && stderr(&o).contains("is a node running"),
        "{}",
        stderr(&o)
    );
    assert!(dev.join("data").exists());
    let _ = node.kill();
    let _ = node.wait();
    let o = run(&["unsafe-reset-all", "--home", d]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("warning"), "{}", stderr(&o));
    assert!(!dev.join("data").exists());
    assert!(dev.join("config/genesis.json").exists() && dev.join("dev.key").exists());
    assert_eq!(stdout(&run(&["show-validator", "--home", d])), validator);
    // Not a home: nothing is touched.
    let o = run(&[
        "unsafe-reset-all",
        "--home",
        dir.path().join("none").to_str().unwrap(),
    ]);
    assert!(!o.status.success() && stderr(&o).contains("not a node home"));
}

/// `keys encrypt` seals a key under a passphrase: the public data stays readable, and a node
/// starts from an encrypted validator key only with its passphrase.
#[test]
fn an_encrypted_validator_key_needs_its_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("n");
    let h = home.to_str().unwrap();
    assert!(
        run(&["init", "--home", h, "--chain-id", "sealed"])
            .status
            .success()
    );
    let key = home.join("config/validator_key");
    let k = key.to_str().unwrap();
    let before = stdout(&run(&["show-validator", "--home", h]));
    let with_passphrase = |passphrase: &str, args: &[&str]| {
        let file = dir.path().join("passphrase");
        std::fs::write(&file, format!("{passphrase}\n")).unwrap();
        Command::new(bin())
            .args(args)
            .env("PHALANX_KEY_PASSPHRASE_FILE", &file)
            .output()
            .unwrap()
    };
    // Too short a passphrase is refused and the file is left alone.
    let o = with_passphrase("short", &["keys", "encrypt", k]);
    assert!(
        !o.status.success() && stderr(&o).contains("shorter"),
        "{}",
        stderr(&o)
    );
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .contains("secret_key")
    );
    let o = with_passphrase("correct horse battery", &["keys", "encrypt", k]);
    assert!(o.status.success(), "{}", stderr(&o));
    let sealed = std::fs::read_to_string(&key).unwrap();
    assert!(
        !sealed.contains("secret_key") && sealed.contains("argon2id"),
        "{sealed}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let o = with_passphrase("correct horse battery", &["keys", "encrypt", k]);
    assert!(stderr(&o).contains("already encrypted"), "{}", stderr(&o));
    // Public data needs no passphrase, and is unchanged.
    assert_eq!(stdout(&run(&["show-validator", "--home", h])), before);
    assert!(run(&["keys", "show", k]).status.success());
    // Starting needs the passphrase: none (no terminal), a wrong one, then the right one.
    let port = common::free_base_port(1);
    let start = [
        "start",
        "--home",
        h,
        "--rpc",
        &format!("127.0.0.1:{port}"),
        "--p2p",
        "/ip4/127.0.0.1/tcp/0",
    ];
    let o = run(&start);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("PHALANX_KEY_PASSPHRASE_FILE"),
        "{}",
        stderr(&o)
    );
    let o = with_passphrase("wrong horse battery", &start);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("wrong passphrase"), "{}", stderr(&o));
    let file = dir.path().join("passphrase");
    std::fs::write(&file, "correct horse battery\n").unwrap();
    let mut node = Command::new(bin())
        .args(start)
        .env("PHALANX_KEY_PASSPHRASE_FILE", &file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    common::wait_for(std::time::Duration::from_secs(30), "blocks", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && common::rpc_try(&url, "node_status", json!({}))
                .ok()
                .and_then(|r| r["result"]["height"].as_u64())
                >= Some(2)
    });
    let _ = node.kill();
    let _ = node.wait();
}
