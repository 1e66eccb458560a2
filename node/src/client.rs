//! The CLI's client commands: thin JSON-RPC clients of a running node (`tx deploy`,
//! `tx call`, `query`, `status`, `block`). Human output by default, `--output json` for
//! scripts; a failed call or a failed transaction exits non-zero with a one-line error.

use crate::keys;
use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use phalanx_rpc::api::{
    AddressParams, BlockParams, Method, NoParams, Outcome, ProofParams, ProposalState,
    ProposalsParams, QueryParams, ReceiptView, SetProofParams, SimulateParams, SubmitParams,
    Submitted, ValidatorsParams, Wait, methods as m,
};
use phalanx_types::{Address, Bytes, SecretKey, Tx, TxPayload};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// Default RPC URL of every client command.
pub const DEFAULT_RPC: &str = "http://127.0.0.1:8645";

/// Gas limit of a deploy with `--gas auto`, and of the simulation when the node does not
/// say the chain's `max_tx_gas` (the most `auto` sets is that limit).
const PROBE_GAS: u64 = 200_000_000;

/// `--gas auto` sets the gas limit to what the simulation used plus a fifth, plus this.
pub const AUTO_GAS_EXTRA: u64 = 20_000;

/// A transaction's gas limit: estimated by simulating it (`auto`), or given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GasArg {
    /// Simulate, then use the gas used × 1.2 + [`AUTO_GAS_EXTRA`].
    Auto,
    /// This limit.
    Fixed(u64),
}

impl std::str::FromStr for GasArg {
    type Err = String;

    fn from_str(s: &str) -> Result<GasArg, String> {
        match s {
            "auto" => Ok(GasArg::Auto),
            n => n
                .replace('_', "")
                .parse()
                .map(GasArg::Fixed)
                .map_err(|_| format!("--gas takes `auto` or a number of gas units, not {s:?}")),
        }
    }
}

/// The gas limit `--gas auto` sets for a simulation that used `used`, at most `max`.
pub fn auto_gas(used: u64, max: u64) -> u64 {
    used.saturating_add(used / 5)
        .saturating_add(AUTO_GAS_EXTRA)
        .min(max)
}

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

    /// Calls method `M` with typed parameters and result (the API types the server builds
    /// its answers from: `phalanx_rpc::api`).
    pub fn request<M: Method>(&self, params: &M::Params) -> Result<M::Result> {
        let params = serde_json::to_value(params).context("encoding the parameters")?;
        let result = self.call(M::NAME, params)?;
        serde_json::from_value(result)
            .with_context(|| format!("{} answered with an unexpected result", M::NAME))
    }

    /// Signs `payload` with `key` at the account's next nonce with the gas limit `gas` asks
    /// for (`auto`: the transaction is simulated first), submits it and waits for the block
    /// holding it; returns its hash and receipt.
    pub fn send(&self, key: &SecretKey, payload: TxPayload, gas: GasArg) -> Result<Submitted> {
        // Only the fields needed here are read, so a node of another version still serves.
        #[derive(serde::Deserialize)]
        struct ChainId {
            chain_id: String,
        }
        let status: ChainId = serde_json::from_value(self.call("node_status", json!({}))?)
            .context("node_status has no chain_id")?;
        let chain_id = status.chain_id;
        let nonce = self
            .request::<m::AccountGet>(&AddressParams {
                address: key.address(),
            })?
            .nonce;
        // Transactions that bring code are not simulated (the node would compile it).
        let deploy = matches!(
            payload,
            TxPayload::Deploy { .. } | TxPayload::Migrate { code: Some(_), .. }
        );
        let mut tx = Tx {
            chain_id,
            sender: key.public_key(),
            nonce,
            gas_limit: match gas {
                GasArg::Auto => PROBE_GAS,
                GasArg::Fixed(n) => n,
            },
            payload,
        };
        let b64 = |t: &phalanx_types::SignedTx| {
            base64::engine::general_purpose::STANDARD.encode(t.to_bytes())
        };
        // Deploys are not simulated (the node would compile the code): they keep the probe
        // limit.
        if gas == GasArg::Auto && !deploy {
            let max = self
                .call("gov_proposals", json!({"limit": 1}))
                .ok()
                .and_then(|g| g["params"]["max_tx_gas"].as_u64())
                .unwrap_or(PROBE_GAS);
            tx.gas_limit = max;
            // Unsigned: the node checks everything but the signature, and never holds a
            // valid transaction it could submit in our place.
            let probe = phalanx_types::SignedTx {
                tx: tx.clone(),
                signature: phalanx_types::Signature([0; 64]),
            };
            let sim = self.request::<m::TxSimulate>(&SimulateParams {
                tx: Some(b64(&probe)),
                skip_signature: true,
                ..SimulateParams::default()
            })?;
            tx.gas_limit = auto_gas(sim.gas_used, max);
        }
        let tx = tx.sign(key);
        let out = self.request::<m::TxSubmit>(&SubmitParams {
            tx: b64(&tx),
            wait: Wait::Final,
        })?;
        if out.receipt.is_none() {
            bail!("tx_submit answered without the receipt it waited for");
        }
        Ok(out)
    }
}

/// Parses a hex address; `what` names it in the error ("contract", "account", …).
pub fn parse_address(address: &str, what: &str) -> Result<Address> {
    address
        .parse()
        .map_err(|e| anyhow!("bad {what} address {address:?}: {e}"))
}

pub fn json_arg(arg: Option<&str>, what: &str) -> Result<Vec<u8>> {
    match arg {
        None => Ok(Vec::new()),
        Some(s) => {
            let v: Value =
                serde_json::from_str(s).with_context(|| format!("{what} is not valid JSON"))?;
            Ok(serde_json::to_vec(&v)?)
        }
    }
}

/// Checks a call's arguments against the deployed contract's ABI (at `height`, or the
/// latest), when it has one.
fn check_call(
    client: &Client,
    address: &str,
    method: &str,
    args: Option<&str>,
    height: Option<u64>,
) -> Result<()> {
    let abi = crate::contract::abi_of_contract(client, address, height)?;
    if abi.is_null() {
        return Ok(());
    }
    check_against_abi(&abi, method, args)
}

/// Checks JSON arguments (unparsed) against `method` of `abi`; the error names the field.
pub fn check_against_abi(abi: &Value, method: &str, args: Option<&str>) -> Result<()> {
    let args: Value = match args {
        None => Value::Null,
        Some(s) => serde_json::from_str(s).context("the arguments are not valid JSON")?,
    };
    crate::abicheck::check_args(abi, method, &args)
        .map_err(|e| anyhow::anyhow!("{e} (checked against the contract's ABI; nothing was sent)"))
}

/// Prints `value` as JSON, or runs `human`.
pub fn print(json: bool, value: &impl serde::Serialize, human: impl FnOnce()) {
    if json {
        println!("{}", serde_json::to_string(value).unwrap_or_default());
    } else {
        human();
    }
}

/// Exits non-zero (after printing) if the receipt says the transaction failed.
fn check_receipt(receipt: &ReceiptView) -> Result<()> {
    match &receipt.error {
        None if receipt.status == Outcome::Ok => Ok(()),
        None => bail!("transaction failed"),
        Some(e) => bail!("transaction failed with code {}: {}", e.code, e.message),
    }
}

fn print_events(receipt: &ReceiptView) {
    for e in &receipt.events {
        println!("  event    {} {} {}", e.contract, e.topic, e.data);
    }
}

/// Prints a `tx_submit` result (`ok_line` adds the success detail), then fails if the
/// transaction failed.
pub fn report(out: &Submitted, json: bool, ok_line: impl FnOnce(&ReceiptView)) -> Result<()> {
    let Some(r) = &out.receipt else {
        bail!("no receipt for {}", out.hash);
    };
    print(json, out, || {
        match &r.error {
            None if r.status == Outcome::Ok => {
                println!("status   ok");
                ok_line(r);
            }
            e => {
                println!("status   failed");
                if let Some(e) = e {
                    println!("error    {} {}", e.code, e.message);
                }
            }
        }
        println!("tx       {}", out.hash);
        println!("height   {}", r.height);
        println!("gas used {}", r.gas_used);
        print_events(r);
    });
    check_receipt(r)
}

/// `phalanx tx deploy FILE.wasm [--init JSON] --key FILE [--rpc URL]`
pub fn cmd_deploy(
    file: &Path,
    init: Option<&str>,
    admin: Option<&str>,
    key: &Path,
    rpc: &str,
    gas: GasArg,
    json: bool,
) -> Result<()> {
    let code = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    if !code.starts_with(b"\0asm") {
        bail!("{} is not a wasm module", file.display());
    }
    let key = keys::read_key(key)?;
    let admin = crate::upgrade::admin_arg(admin, &key)?;
    let init_args = json_arg(init, "--init")?;
    if let Some(abi) = crate::contract::abi_of_code(&code)?
        && crate::abicheck::method(&abi, "init").is_ok()
    {
        check_against_abi(&abi, "init", init)?;
    }
    let out = Client::new(rpc).send(
        &key,
        TxPayload::Deploy {
            code: Bytes(code),
            init_args: Bytes(init_args),
            admin,
        },
        gas,
    )?;
    report(&out, json, |r| {
        println!("contract {}", r.return_value.as_str().unwrap_or(""));
        if let Some(a) = admin {
            println!("admin    {a}");
        }
    })
}

/// `phalanx tx call ADDRESS METHOD [JSON] --key FILE [--rpc URL]`
pub fn cmd_call(
    address: &str,
    method: &str,
    args: Option<&str>,
    key: &Path,
    rpc: &str,
    gas: GasArg,
    json: bool,
) -> Result<()> {
    let contract = parse_address(address, "contract")?;
    let key = keys::read_key(key)?;
    let client = Client::new(rpc);
    check_call(&client, address, method, args, None)?;
    let args = json_arg(args, "the arguments")?;
    let out = client.send(
        &key,
        TxPayload::Call {
            contract,
            method: method.to_string(),
            args: Bytes(args),
        },
        gas,
    )?;
    report(&out, json, |r| println!("return   {}", r.return_value))
}

/// `phalanx query ADDRESS METHOD [JSON] [--height H] [--rpc URL]`
pub fn cmd_query(
    address: &str,
    method: &str,
    args: Option<&str>,
    height: Option<u64>,
    rpc: &str,
    json: bool,
) -> Result<()> {
    let client = Client::new(rpc);
    let contract = parse_address(address, "contract")?;
    check_call(&client, address, method, args, height)?;
    let args: Value = match args {
        None => Value::Null,
        Some(s) => serde_json::from_str(s).context("the arguments are not valid JSON")?,
    };
    let out = client.request::<m::ContractQuery>(&QueryParams {
        address: contract,
        method: method.to_string(),
        args,
        caller: None,
        height,
    })?;
    print(json, &out, || println!("{}", out.result));
    Ok(())
}

/// `phalanx status [--rpc URL]`
pub fn cmd_status(rpc: &str, json: bool) -> Result<()> {
    let s = Client::new(rpc).request::<m::NodeStatus>(&NoParams {})?;
    print(json, &s, || {
        println!("chain     {}", s.chain_id);
        println!("height    {}", s.height);
        println!("latest    {}", s.latest_hash);
        println!("view      {}", s.view);
        match s.validator {
            Some(v) => println!("validator {v}"),
            None => println!("validator (not a validator)"),
        }
        println!("peers     {}", s.peers);
        println!("syncing   {}", s.syncing);
    });
    Ok(())
}

/// `phalanx block [HEIGHT] [--rpc URL]`
pub fn cmd_block(height: Option<u64>, rpc: &str, json: bool) -> Result<()> {
    let b = Client::new(rpc).request::<m::ChainGetBlock>(&BlockParams {
        height,
        ..BlockParams::default()
    })?;
    print(json, &b, || {
        let h = &b.header;
        println!("height     {}", h.height);
        println!("hash       {}", h.hash);
        println!("parent     {}", h.parent);
        println!("time       {}", h.time);
        println!("proposer   {}", h.proposer);
        println!("state root {}", h.state_root);
        println!("txs        {}", b.txs.len());
        for t in &b.txs {
            println!("  {t}");
        }
        match &b.certificate {
            Some(c) => println!(
                "certified  view {} by {} validators",
                c.view,
                c.signatures.len()
            ),
            None => println!("certified  (no certificate held)"),
        }
    });
    Ok(())
}

/// The validator set that decided `target`, starting from genesis's and following every
/// applied governance change up to it. Each step is proven, not taken from the node: the
/// configuration record in the state after block `a - 1` (Merkle proof against that block's
/// state root), whose header and certificate the set trusted so far must have signed. A node
/// can hide a change (then the target does not verify) but cannot slip in a set.
/// Returns the set and the number of changes walked.
fn trusted_set_at(
    client: &Client,
    genesis_set: phalanx_types::ValidatorSet,
    target: &phalanx_types::Header,
) -> Result<(phalanx_types::ValidatorSet, usize)> {
    use phalanx_storage::StateProof;
    use phalanx_types::{CommitCertificate, Header, decode};
    let mut set = genesis_set;
    if target.validators_hash == set.hash() {
        return Ok((set, 0));
    }
    // Heights at which applied changes took over, from the node (hiding one only makes the
    // walk fail).
    let mut activations = Vec::new();
    let mut from_id = 0u64;
    loop {
        let page = client.request::<m::GovProposals>(&ProposalsParams {
            from_id,
            limit: None,
        })?;
        for p in &page.proposals {
            if p.status == ProposalState::Applied
                && let Some(h) = p.activates_at
                && h <= target.height
            {
                activations.push(h);
            }
        }
        match page.next_from_id {
            Some(next) => from_id = next,
            None => break,
        }
    }
    activations.sort_unstable();
    activations.dedup();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut walked = 0;
    for height in activations {
        let p = client.request::<m::ChainGetValidatorSetProof>(&SetProofParams { height })?;
        let field = |name: &str, value: &str| -> Result<Vec<u8>> {
            b64.decode(value)
                .with_context(|| format!("chain_getValidatorSetProof: {name} is not base64"))
        };
        let header: Header =
            decode(&field("header_raw", &p.header_raw)?).context("bad header encoding")?;
        let cert: CommitCertificate = decode(&field("certificate_raw", &p.certificate_raw)?)
            .context("bad certificate encoding")?;
        let proof: StateProof = decode(&field("proof", &p.proof)?).context("bad proof encoding")?;
        let proof = phalanx_storage::prune::SetProof {
            config_raw: field("config_raw", &p.config_raw)?,
            proof,
            header,
            certificate: cert,
        };
        set = phalanx_core::trust::check_set_proof(&target.chain_id, &set, height, &proof)?
            .validators;
        walked += 1;
    }
    Ok((set, walked))
}

/// `phalanx verify ADDRESS KEY [--height H] [--genesis FILE] [--rpc URL]`: fetches a contract
/// storage value with `state_getProof` and checks it without trusting the node: the commit
/// certificate's 2f+1 signatures against the validator set (from `--genesis`, else as the
/// node reports it, with a warning), the header against the certificate, and the Merkle
/// proof against the header's state root. Exits non-zero if any check fails.
pub fn cmd_verify(
    address: &str,
    key_hex: &str,
    height: Option<u64>,
    genesis: Option<&Path>,
    rpc: &str,
    json: bool,
) -> Result<()> {
    use phalanx_storage::{StateProof, verify_state_proof};
    use phalanx_types::{CommitCertificate, Header, Validator, ValidatorSet, decode};
    let contract = parse_address(address, "contract")?;
    let key = hex::decode(key_hex.trim())
        .map_err(|e| anyhow!("KEY must be hex ({e}), got {key_hex:?}"))?;
    let client = Client::new(rpc);
    let b64 = base64::engine::general_purpose::STANDARD;
    let p = client.request::<m::StateGetProof>(&ProofParams {
        address: contract,
        key: b64.encode(&key),
        height,
    })?;
    let field = |name: &str, value: &str| -> Result<Vec<u8>> {
        b64.decode(value)
            .with_context(|| format!("{name} is not base64"))
    };
    let header: Header =
        decode(&field("header_raw", &p.header_raw)?).context("bad header encoding")?;
    let cert: CommitCertificate = decode(&field("certificate_raw", &p.certificate_raw)?)
        .context("bad certificate encoding")?;
    let proof: StateProof = decode(&field("proof", &p.proof)?).context("bad proof encoding")?;
    let value = match &p.value {
        None => None,
        Some(v) => Some(field("value", v)?),
    };
    // The node chooses nothing the caller pinned: the height asked for, and (with a genesis
    // file) the chain.
    if let Some(h) = height
        && header.height != h
    {
        bail!(
            "asked for height {h}, the node proved height {}",
            header.height
        );
    }
    let mut changes_walked = 0;
    let (validators, trusted) = match genesis {
        Some(path) => {
            let genesis = phalanx_genesis::Genesis::load(path)?;
            if header.chain_id != genesis.chain_id {
                bail!(
                    "the node proved a block of chain {:?}, the genesis file is {:?}'s",
                    header.chain_id,
                    genesis.chain_id
                );
            }
            let genesis_set = genesis.validator_set();
            let (set, walked) = trusted_set_at(&client, genesis_set, &header)?;
            changes_walked = walked;
            (set, true)
        }
        None => {
            let list = client.request::<m::ChainGetValidators>(&ValidatorsParams::default())?;
            let set = list
                .iter()
                .map(|v| Validator::new(v.public_key, &v.peer_id))
                .collect();
            (ValidatorSet::new(set), false)
        }
    };
    if cert.block_hash != header.hash() || cert.height != header.height {
        bail!("the certificate is not for this header");
    }
    if header.validators_hash != validators.hash() {
        bail!("the header was certified by another validator set");
    }
    cert.verify(&header.chain_id, &validators)
        .map_err(|e| anyhow!("certificate check failed: {e}"))?;
    let state_key = phalanx_runtime::layout::storage_key(&contract, &key);
    verify_state_proof(header.state_root, &state_key, value.as_deref(), &proof)
        .map_err(|e| anyhow!("proof check failed: {e}"))?;
    let shown = value.as_ref().map(|v| match std::str::from_utf8(v) {
        Ok(s) => s.to_string(),
        Err(_) => b64.encode(v),
    });
    let out = json!({
        "verified": true,
        "height": header.height,
        "state_root": header.state_root,
        "value": shown,
        "signatures": cert.signatures.len(),
        "validators": validators.len(),
        "validator_set_from": if trusted { "genesis" } else { "node" },
        "validator_set_changes": changes_walked,
    });
    print(json, &out, || {
        println!("value      {}", shown.as_deref().unwrap_or("(absent)"));
        println!("height     {}", header.height);
        println!("state root {}", header.state_root);
        println!(
            "verified   Merkle proof against the state root; certificate signed by {} of {} validators",
            cert.signatures.len(),
            validators.len()
        );
    });
    if !trusted {
        eprintln!(
            "warning: the validator set came from the node itself; pass --genesis FILE to trust no node"
        );
    }
    Ok(())
}
