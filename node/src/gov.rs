//! `phalanx gov …`: thin clients of the governance transactions and reads. A validator signs
//! proposals and approvals with its validator key (`config/validator_key` of its home).

use crate::client::{Client, DEFAULT_RPC, parse_address, print, report};
use crate::keys;
use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use clap::Subcommand;
use phalanx_rpc::api::{ChangeView, EvidenceParams, ProposalsParams, methods as m};
use phalanx_types::consensus::Evidence;
use phalanx_types::{Address, GovernanceAction, Proposal, PublicKey, TxPayload, decode};
use std::path::{Path, PathBuf};

/// `phalanx gov …`
#[derive(Debug, Subcommand)]
pub enum GovCommand {
    /// Propose a change; your own approval is counted with it.
    Propose {
        /// The change.
        #[command(subcommand)]
        change: ChangeArg,
        /// Accept a set change even though the validators that stay could not reach the new
        /// quorum alone (say so only when the new validators are running).
        #[arg(long, global = true)]
        force: bool,
        /// Key that signs: a validator's `config/validator_key` (or a governance admin's).
        #[arg(long, global = true)]
        key: Option<PathBuf>,
        /// Node RPC URL.
        #[arg(long, global = true, env = "PHALANX_RPC", default_value = DEFAULT_RPC)]
        rpc: String,
    },
    /// Approve a pending proposal (validators only).
    Approve {
        /// The proposal's id.
        id: u64,
        /// The validator's key (`config/validator_key`).
        #[arg(long)]
        key: PathBuf,
        /// Node RPC URL.
        #[arg(long, env = "PHALANX_RPC", default_value = DEFAULT_RPC)]
        rpc: String,
    },
    /// Proposals, the current validator set and any scheduled change.
    List {
        /// Node RPC URL.
        #[arg(long, env = "PHALANX_RPC", default_value = DEFAULT_RPC)]
        rpc: String,
    },
}

/// What to change.
#[derive(Debug, Subcommand)]
pub enum ChangeArg {
    /// Add a validator: public data only, printed on its machine by `phalanx show-validator`
    /// and `phalanx show-node-id` (no secret key leaves that machine).
    AddValidator {
        /// Its ed25519 consensus key (hex).
        #[arg(long)]
        public_key: String,
        /// Its libp2p peer id.
        #[arg(long)]
        peer_id: String,
    },
    /// Remove a validator.
    RemoveValidator {
        /// Its address (hex).
        address: String,
        /// Attach the node's stored equivocation evidence against it (checked on chain).
        #[arg(long)]
        evidence: bool,
    },
    /// Allow an account to deploy contracts.
    AllowDeployer {
        /// The account (hex).
        address: String,
    },
    /// Take back an account's right to deploy.
    RevokeDeployer {
        /// The account (hex).
        address: String,
    },
    /// Change a consensus parameter (as named in genesis `params`).
    SetParam {
        /// The parameter, e.g. `block_interval_ms`.
        name: String,
        /// Its new value.
        value: u64,
    },
    /// Approve one migration of a contract whose admin is governance: once applied, any
    /// account sends `phalanx tx migrate` with this code and these arguments.
    MigrateContract {
        /// The contract (hex).
        address: String,
        /// The new code (its hash is what is approved), or `--code-hash`.
        #[arg(
            long,
            conflicts_with = "code_hash",
            required_unless_present = "code_hash"
        )]
        code: Option<PathBuf>,
        /// Hash of the new code (hex), if the file is not at hand.
        #[arg(long)]
        code_hash: Option<String>,
        /// Arguments of `migrate` (JSON), exactly as the migration will send them.
        #[arg(long)]
        args: Option<String>,
    },
    /// Set or clear the admin of a contract whose admin is governance.
    SetContractAdmin {
        /// The contract (hex).
        address: String,
        /// The new admin: an address, `governance`, or `none`.
        admin: String,
    },
}

fn address(s: &str) -> Result<Address> {
    parse_address(s, "account")
}

/// Runs `phalanx gov …`.
pub fn run(cmd: GovCommand, json: bool) -> Result<()> {
    match cmd {
        GovCommand::Propose {
            change,
            force,
            key,
            rpc,
        } => {
            let key = key.ok_or_else(|| anyhow!("--key FILE is required to sign a proposal"))?;
            let client = Client::new(&rpc);
            let change = build_change(change, &client)?;
            send(
                &client,
                &key,
                GovernanceAction::Propose { change, force },
                json,
            )
        }
        GovCommand::Approve { id, key, rpc } => send(
            &Client::new(&rpc),
            &key,
            GovernanceAction::Approve { proposal_id: id },
            json,
        ),
        GovCommand::List { rpc } => list(&Client::new(&rpc), json),
    }
}

fn build_change(change: ChangeArg, client: &Client) -> Result<Proposal> {
    Ok(match change {
        ChangeArg::AddValidator {
            public_key,
            peer_id,
        } => Proposal::AddValidator {
            public_key: public_key
                .parse::<PublicKey>()
                .map_err(|e| anyhow!("bad --public-key: {e}"))?,
            peer_id,
        },
        ChangeArg::RemoveValidator {
            address: a,
            evidence,
        } => {
            let address = address(&a)?;
            let evidence = if evidence {
                Some(Box::new(find_evidence(client, &address)?))
            } else {
                None
            };
            Proposal::RemoveValidator { address, evidence }
        }
        ChangeArg::AllowDeployer { address: a } => Proposal::AllowDeployer {
            address: address(&a)?,
        },
        ChangeArg::RevokeDeployer { address: a } => Proposal::RevokeDeployer {
            address: address(&a)?,
        },
        ChangeArg::SetParam { name, value } => Proposal::SetParam { name, value },
        ChangeArg::MigrateContract {
            address: a,
            code,
            code_hash,
            args,
        } => {
            let code_hash = match (code, code_hash) {
                (Some(file), _) => phalanx_runtime::layout::code_hash(
                    &std::fs::read(&file)
                        .with_context(|| format!("cannot read {}", file.display()))?,
                ),
                (None, Some(h)) => h
                    .parse()
                    .map_err(|e| anyhow!("bad --code-hash {h:?}: {e}"))?,
                (None, None) => bail!("give --code FILE or --code-hash HEX"),
            };
            Proposal::MigrateContract {
                contract: parse_address(&a, "contract")?,
                code_hash,
                args: phalanx_types::Bytes(crate::client::json_arg(args.as_deref(), "--args")?),
            }
        }
        ChangeArg::SetContractAdmin { address: a, admin } => Proposal::SetContractAdmin {
            contract: parse_address(&a, "contract")?,
            admin: match admin.as_str() {
                "none" => None,
                s => Some(s.parse().map_err(|e| {
                    anyhow!("bad admin {s:?} (governance, none or an address): {e}")
                })?),
            },
        },
    })
}

/// The first stored evidence against `offender` on the node.
fn find_evidence(client: &Client, offender: &Address) -> Result<Evidence> {
    let list = client.request::<m::EvidenceList>(&EvidenceParams::default())?;
    let entry = list
        .iter()
        .find(|e| e.offender == *offender)
        .ok_or_else(|| anyhow!("the node holds no evidence against {offender}"))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&entry.raw)
        .context("evidence_list gave no raw encoding")?;
    decode(&raw).map_err(|e| anyhow!("evidence does not decode: {e}"))
}

fn send(client: &Client, key: &Path, action: GovernanceAction, json: bool) -> Result<()> {
    let key = keys::read_key(key)?;
    let out = client.send(
        &key,
        TxPayload::Governance(action),
        crate::client::GasArg::Auto,
    )?;
    report(&out, json, |r| {
        let ret = &r.return_value;
        println!(
            "proposal #{} {} ({} of {} approvals)",
            ret["proposal_id"],
            ret["status"].as_str().unwrap_or(""),
            ret["approvals"],
            ret["needed"]
        );
    })
}

fn list(client: &Client, json: bool) -> Result<()> {
    let out = client.request::<m::GovProposals>(&ProposalsParams::default())?;
    print(json, &out, || {
        let set = out.validators.clone().unwrap_or_default();
        match out.quorum {
            Some(q) => println!("validators ({}, quorum {q})", set.len()),
            None => println!("validators ({})", set.len()),
        }
        for v in &set {
            println!("  {}  {}", v.address, v.peer_id);
        }
        if let Some(s) = &out.scheduled {
            println!(
                "scheduled  #{} applies at height {}",
                s.proposal_id, s.activates_at
            );
        }
        if out.proposals.is_empty() {
            println!("no proposals");
        }
        for p in &out.proposals {
            let status = serde_json::to_value(p.status).unwrap_or_default();
            println!(
                "#{} {:<9} {} approvals={} proposer={}{}",
                p.id,
                status.as_str().unwrap_or(""),
                describe(&p.change),
                p.approvals.len(),
                p.proposer,
                match p.activates_at {
                    Some(h) => format!(" height={h}"),
                    None => String::new(),
                }
            );
        }
    });
    Ok(())
}

/// One line on a change, in the CLI's own words.
fn describe(change: &ChangeView) -> String {
    match change {
        ChangeView::AddValidator {
            address, peer_id, ..
        } => format!("add-validator {address} ({peer_id})"),
        ChangeView::RemoveValidator { address, .. } => format!("remove-validator {address}"),
        ChangeView::AllowDeployer { address } => format!("allow-deployer {address}"),
        ChangeView::RevokeDeployer { address } => format!("revoke-deployer {address}"),
        ChangeView::SetParam { name, value } => format!("set-param {name}={value}"),
        ChangeView::MigrateContract {
            contract,
            code_hash,
            ..
        } => format!("migrate-contract {contract} to {code_hash}"),
        ChangeView::SetContractAdmin { contract, admin } => format!(
            "set-contract-admin {contract} {}",
            admin.as_deref().unwrap_or("none")
        ),
    }
}
