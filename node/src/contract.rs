//! `phalanx contract …`: tools for contract authors: the ABI of a module or a deployed
//! contract, and new projects and their builds ([`crate::scaffold`]).

use crate::client::{self, Client, print};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// `phalanx contract …`
#[derive(Debug, Subcommand)]
pub enum ContractCommand {
    /// Print a contract's ABI: from a wasm file, or from a deployed contract's address.
    Abi {
        /// A `.wasm` file, or a contract address (hex).
        target: String,
        /// Node RPC URL (for an address).
        #[arg(long, env = "PHALANX_RPC", default_value = client::DEFAULT_RPC)]
        rpc: String,
    },
    /// Create a contract project (a crate of its own, with an example contract, a test, the
    /// stack-size link flag and the size profile).
    New {
        /// The contract's name (lowercase, `-` and `_` allowed): the crate and directory.
        name: String,
        /// Where to create it (`DIR/NAME`).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The `sdk` directory of a Phalanx checkout (default: where this binary was built).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Build a contract project for wasm32 and check each module with the node's deploy
    /// rules; prints size, code hash and ABI.
    Build {
        /// The project (its Cargo.toml's directory).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
}

/// Runs a `contract` command.
pub fn run(cmd: ContractCommand, json: bool) -> Result<()> {
    match cmd {
        ContractCommand::Abi { target, rpc } => cmd_abi(&target, &rpc, json),
        ContractCommand::New { name, dir, sdk } => {
            crate::scaffold::cmd_new(&name, &dir, sdk.as_deref(), json)
        }
        ContractCommand::Build { dir } => crate::scaffold::cmd_build(&dir, json),
    }
}

/// The ABI embedded in a wasm module, checked as a deploy checks it; `None` if it has none.
pub fn abi_of_file(path: &Path) -> Result<Option<Value>> {
    let code = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !code.starts_with(b"\0asm") {
        bail!("{} is not a wasm module", path.display());
    }
    abi_of_code(&code).with_context(|| path.display().to_string())
}

/// The ABI embedded in `code`; an error if the section is there but would fail a deploy.
pub fn abi_of_code(code: &[u8]) -> Result<Option<Value>> {
    let Some(section) = phalanx_runtime::validate::abi(code) else {
        return Ok(None);
    };
    let abi: Value = serde_json::from_slice(section).context("the ABI section is not JSON")?;
    if abi["phalanx_abi"].as_u64() != Some(1) {
        bail!(
            "the ABI section has version {}, expected 1",
            abi["phalanx_abi"]
        );
    }
    Ok(Some(abi))
}

/// The ABI of the contract at `address` (null if its code has none), at `height` or the
/// latest.
pub fn abi_of_contract(client: &Client, address: &str, height: Option<u64>) -> Result<Value> {
    let address = crate::client::parse_address(address, "contract")?;
    let info = client.request::<phalanx_rpc::api::methods::ContractGet>(
        &phalanx_rpc::api::ContractParams { address, height },
    )?;
    Ok(info.abi.unwrap_or(Value::Null))
}

fn cmd_abi(target: &str, rpc: &str, json: bool) -> Result<()> {
    let path = Path::new(target);
    let abi = if target.ends_with(".wasm") || path.exists() {
        abi_of_file(path)?.unwrap_or(Value::Null)
    } else {
        client::parse_address(target, "contract")?;
        abi_of_contract(&Client::new(rpc), target, None)?
    };
    if abi.is_null() {
        bail!(
            "{target} has no ABI (built without the phalanx-sdk #[contract] macro, or by an older SDK)"
        );
    }
    print(json, &abi, || describe(&abi));
    Ok(())
}

fn signature(params: &Value) -> String {
    let ps: Vec<String> = params
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|p| format!("{}: {}", text(&p["name"]), text(&p["type"])))
        .collect();
    ps.join(", ")
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("?")
}

/// The ABI, readable.
fn describe(abi: &Value) {
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    println!(
        "contract {} (ABI version {})",
        text(&abi["contract"]),
        abi["phalanx_abi"]
    );
    println!("methods");
    for m in list(&abi["methods"]) {
        let ret = match text(&m["returns"]) {
            "()" => String::new(),
            r => format!(" -> {r}"),
        };
        println!(
            "  {:<5} {}({}){ret}",
            text(&m["kind"]),
            text(&m["name"]),
            signature(&m["params"])
        );
        if let Some(doc) = m["doc"].as_str() {
            println!("          {doc}");
        }
    }
    println!("errors");
    for e in list(&abi["errors"]) {
        println!(
            "  {:<5} {:<24} {}",
            e["code"],
            text(&e["name"]),
            text(&e["message"])
        );
    }
    let events = list(&abi["events"]);
    if !events.is_empty() {
        println!("events");
        for e in events {
            match e.get("fields") {
                Some(f) => println!("  {} {{{}}}", text(&e["topic"]), signature(f)),
                None => println!("  {} ({})", text(&e["topic"]), text(&e["type"])),
            }
        }
    }
}
