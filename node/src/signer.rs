//! Who signs for this node (its own validator key, or a remote signer), and
//! `phalanx signer`, the remote signer itself.

use crate::config::NodeConfig;
use crate::home::Home;
use crate::keys;
use anyhow::{Context, Result};
use clap::Args;
use libp2p::{Multiaddr, PeerId};
use phalanx_consensus::ValidatorSigner;
use phalanx_signer::client::RemoteSigner;
use phalanx_signer::server::{SignerConfig, serve};
use phalanx_types::SecretKey;
use std::path::PathBuf;
use std::time::Duration;

/// The node's signer: the remote one of `signer.address` (connected on `runtime`), else the
/// home's `config/validator_key`, which is then also returned (a test-only Byzantine
/// validator needs the key itself).
pub fn validator_signer(
    home: &Home,
    config: &NodeConfig,
    node_key: &SecretKey,
    runtime: &tokio::runtime::Runtime,
) -> Result<(ValidatorSigner, Option<SecretKey>)> {
    let Some(address) = &config.signer.address else {
        let key = keys::read_key(&home.validator_key())?;
        return Ok((ValidatorSigner::from(key.clone()), Some(key)));
    };
    let address: Multiaddr = address
        .parse()
        .with_context(|| format!("signer.address {address:?} is not a multiaddr"))?;
    let remote = runtime
        .block_on(RemoteSigner::connect(
            crate::p2p::keypair(node_key)?,
            &address,
            Duration::from_millis(config.signer.timeout_ms),
            Duration::from_millis(config.signer.connect_timeout_ms),
        ))
        .with_context(|| format!("cannot reach the remote signer at {address}"))?;
    let signer = ValidatorSigner::new(remote);
    tracing::info!(
        validator = %signer.address(),
        %address,
        "a remote signer signs for this node"
    );
    if home.validator_key().exists() {
        tracing::warn!(
            path = %home.validator_key().display(),
            "a validator key is in the home but unused (a remote signer signs): keep it off this machine"
        );
    }
    Ok((signer, None))
}

/// `phalanx signer …`
#[derive(Debug, Args)]
pub struct SignerArgs {
    /// The validator key it signs with (plain or encrypted; `keys encrypt`).
    #[arg(long)]
    key: PathBuf,
    /// Its own identity key (`phalanx keys new --out FILE`); the node's `signer.address`
    /// ends in its peer id (`phalanx keys show FILE`).
    #[arg(long)]
    identity: PathBuf,
    /// The double-sign guard's log (keep it with the key; another signer may not hold it).
    #[arg(long)]
    state: PathBuf,
    /// Start an empty guard log: the signer's first start only (otherwise a missing log is
    /// an error, so a mistyped path cannot silently drop what was signed).
    #[arg(long)]
    new_state: bool,
    /// Listen multiaddr.
    #[arg(long, default_value = "/ip4/127.0.0.1/tcp/26659")]
    listen: String,
    /// The peer id of the one node it signs for (`phalanx show-node-id` there).
    #[arg(long)]
    node: String,
    /// The chain it signs for.
    #[arg(long)]
    chain_id: String,
}

/// Runs the remote signer until Ctrl-C or SIGTERM.
pub fn cmd_signer(args: SignerArgs) -> Result<()> {
    let key = keys::read_key(&args.key)?;
    let identity = crate::p2p::keypair(&keys::read_key(&args.identity)?)?;
    let listen: Multiaddr = args
        .listen
        .parse()
        .with_context(|| format!("--listen {:?} is not a multiaddr", args.listen))?;
    let node: PeerId = args
        .node
        .parse()
        .with_context(|| format!("--node {:?} is not a peer id", args.node))?;
    println!(
        "signer for chain {}: validator {}, peer id {}, listening on {listen}, for node {node}",
        args.chain_id,
        key.address(),
        identity.public().to_peer_id()
    );
    let config = SignerConfig {
        key,
        identity,
        listen,
        node,
        chain_id: args.chain_id,
        state: args.state,
        new_state: args.new_state,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("phalanx-signer")
        .build()?;
    rt.block_on(serve(config, crate::node::shutdown_signal()))?;
    tracing::info!("signer stopped");
    Ok(())
}
