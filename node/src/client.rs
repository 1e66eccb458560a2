//! The CLI's client commands: thin JSON-RPC clients of a running node (`tx deploy`,
//! `tx call`, `query`, `status`, `block`). Human output by default, `--output json` for
//! scripts; a failed call or a failed transaction exits non-zero with a one-line error.

use crate::keys;
use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use phalanx_types::{Address, Bytes, SecretKey, Tx, TxPayload};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// Default RPC URL of every client command.
pub const DEFAULT_RPC: &str = "http://127.0.0.1:8645";

/// Gas limit of transactions sent by the CLI.
const TX_GAS: u64 = 500_000_000;

/// A JSON-RPC client of one node.
pub struct Client {
    url: String,
    agent: ureq::Agent,
}

impl Client {
    /// A client of `url` (`http://host:port`).
    pub fn new(url: &str) -> Client {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build();
        Client {
            url: url.trim_end_matches('/').to_string(),
            agent: config.into(),
        }
    }

    /// Calls `method`; a JSON-RPC error becomes an `Err` with its code and message.
    pub fn call(&self, method: &str, params: Value) -> Result<Value> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let mut resp = self
            .agent
            .post(&self.url)
            .send_json(&body)
            .with_context(|| format!("cannot reach the node at {}", self.url))?;
        let v: Value = resp
            .body_mut()
            .read_json()
            .with_context(|| format!("{} did not answer with JSON-RPC", self.url))?;
        if let Some(e) = v.get("error") {
            bail!(
                "{method} failed ({}): {}",
                e["code"],
                e["message"].as_str().unwrap_or("unknown error")
            );
        }
        Ok(v["result"].clone())
    }

    /// Signs `payload` with `key` at the account's next nonce, submits it and waits for the
    /// block holding it; returns `{hash, receipt}`.
    fn send(&self, key: &SecretKey, payload: TxPayload) -> Result<Value> {
        let status = self.call("node_status", json!({}))?;
        let chain_id = status["chain_id"]
            .as_str()
            .ok_or_else(|| anyhow!("node_status has no chain_id"))?
            .to_string();
        let account = self.call("account_get", json!({"address": key.address()}))?;
        let nonce = account["nonce"]
            .as_u64()
            .ok_or_else(|| anyhow!("account_get has no nonce"))?;
        let tx = Tx {
            chain_id,
            sender: key.public_key(),
            nonce,
            gas_limit: TX_GAS,
            payload,
        }
        .sign(key);
        let raw = base64::engine::general_purpose::STANDARD.encode(tx.to_bytes());
        self.call("tx_submit", json!({"tx": raw, "wait": "final"}))
    }
}

fn json_arg(arg: Option<&str>, what: &str) -> Result<Vec<u8>> {
    match arg {
        None => Ok(Vec::new()),
        Some(s) => {
            let v: Value =
                serde_json::from_str(s).with_context(|| format!("{what} is not valid JSON"))?;
            Ok(serde_json::to_vec(&v)?)
        }
    }
}

fn print(json: bool, value: &Value, human: impl FnOnce()) {
    if json {
        println!("{value}");
    } else {
        human();
    }
}

/// Exits non-zero (after printing) if the receipt says the transaction failed.
fn check_receipt(receipt: &Value) -> Result<()> {
    if receipt["status"] == "ok" {
        return Ok(());
    }
    bail!(
        "transaction failed with code {}: {}",
        receipt["error"]["code"],
        receipt["error"]["message"].as_str().unwrap_or("")
    )
}

fn print_events(receipt: &Value) {
    for e in receipt["events"].as_array().into_iter().flatten() {
        println!(
            "  event    {} {} {}",
            e["contract"].as_str().unwrap_or(""),
            e["topic"].as_str().unwrap_or(""),
            e["data"]
        );
    }
}

/// `phalanx tx deploy FILE.wasm [--init JSON] --key FILE [--rpc URL]`
pub fn cmd_deploy(
    file: &Path,
    init: Option<&str>,
    key: &Path,
    rpc: &str,
    json: bool,
) -> Result<()> {
    let code = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    if !code.starts_with(b"\0asm") {
        bail!("{} is not a wasm module", file.display());
    }
    let key = keys::read_key(key)?;
    let init_args = json_arg(init, "--init")?;
    let out = Client::new(rpc).send(
        &key,
        TxPayload::Deploy {
            code: Bytes(code),
            init_args: Bytes(init_args),
        },
    )?;
    let r = &out["receipt"];
    print(json, &out, || {
        println!("status   {}", r["status"].as_str().unwrap_or(""));
        if r["status"] == "ok" {
            println!("contract {}", r["return"].as_str().unwrap_or(""));
        }
        println!("tx       {}", out["hash"].as_str().unwrap_or(""));
        println!("height   {}", r["height"]);
        println!("gas used {}", r["gas_used"]);
        print_events(r);
    });
    check_receipt(r)
}

/// `phalanx tx call ADDRESS METHOD [JSON] --key FILE [--rpc URL]`
pub fn cmd_call(
    address: &str,
    method: &str,
    args: Option<&str>,
    key: &Path,
    rpc: &str,
    json: bool,
) -> Result<()> {
    let contract: Address = address
        .parse()
        .map_err(|e| anyhow!("bad contract address {address:?}: {e}"))?;
    let key = keys::read_key(key)?;
    let args = json_arg(args, "the arguments")?;
    let out = Client::new(rpc).send(
        &key,
        TxPayload::Call {
            contract,
            method: method.to_string(),
            args: Bytes(args),
        },
    )?;
    let r = &out["receipt"];
    print(json, &out, || {
        println!("status   {}", r["status"].as_str().unwrap_or(""));
        if r["status"] == "ok" {
            println!("return   {}", r["return"]);
        } else {
            println!(
                "error    {} {}",
                r["error"]["code"],
                r["error"]["message"].as_str().unwrap_or("")
            );
        }
        println!("tx       {}", out["hash"].as_str().unwrap_or(""));
        println!("height   {}", r["height"]);
        println!("gas used {}", r["gas_used"]);
        print_events(r);
    });
    check_receipt(r)
}

/// `phalanx query ADDRESS METHOD [JSON] [--rpc URL]`
pub fn cmd_query(
    address: &str,
    method: &str,
    args: Option<&str>,
    rpc: &str,
    json: bool,
) -> Result<()> {
    let args: Value = match args {
        None => Value::Null,
        Some(s) => serde_json::from_str(s).context("the arguments are not valid JSON")?,
    };
    let out = Client::new(rpc).call(
        "contract_query",
        json!({"address": address, "method": method, "args": args}),
    )?;
    print(json, &out, || println!("{}", out["result"]));
    Ok(())
}

/// `phalanx status [--rpc URL]`
pub fn cmd_status(rpc: &str, json: bool) -> Result<()> {
    let s = Client::new(rpc).call("node_status", json!({}))?;
    print(json, &s, || {
        println!("chain     {}", s["chain_id"].as_str().unwrap_or(""));
        println!("height    {}", s["height"]);
        println!("latest    {}", s["latest_hash"].as_str().unwrap_or(""));
        println!("view      {}", s["view"]);
        println!(
            "validator {}",
            s["validator"].as_str().unwrap_or("(not a validator)")
        );
        println!("peers     {}", s["peers"]);
        println!("syncing   {}", s["syncing"]);
    });
    Ok(())
}

/// `phalanx block [HEIGHT] [--rpc URL]`
pub fn cmd_block(height: Option<u64>, rpc: &str, json: bool) -> Result<()> {
    let params = match height {
        Some(h) => json!({"height": h}),
        None => json!({}),
    };
    let b = Client::new(rpc).call("chain_getBlock", params)?;
    print(json, &b, || {
        let h = &b["header"];
        println!("height     {}", h["height"]);
        println!("hash       {}", h["hash"].as_str().unwrap_or(""));
        println!("parent     {}", h["parent"].as_str().unwrap_or(""));
        println!("time       {}", h["time"]);
        println!("proposer   {}", h["proposer"].as_str().unwrap_or(""));
        println!("state root {}", h["state_root"].as_str().unwrap_or(""));
        println!("txs        {}", b["txs"].as_array().map_or(0, Vec::len));
        for t in b["txs"].as_array().into_iter().flatten() {
            println!("  {}", t.as_str().unwrap_or(""));
        }
        let sigs = b["certificate"]["signatures"]
            .as_array()
            .map_or(0, Vec::len);
        println!(
            "certified  view {} by {sigs} validators",
            b["certificate"]["view"]
        );
    });
    Ok(())
}
