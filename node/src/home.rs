//! Node homes: `init` (one validator) and `testnet` (N validators on loopback).
//!
//! A home holds `config/config.toml`, `config/genesis.json`, `config/node_key` (libp2p
//! identity), `config/validator_key` (ed25519) and `data/` (RocksDB).

use crate::config::NodeConfig;
use crate::keys;
use anyhow::{Context, Result, bail};
use phalanx_genesis::{ConsensusParams, DeployPolicy, Genesis, GenesisValidator};
use phalanx_types::{Address, SecretKey};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// `~/.phalanx`.
pub fn default_home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".phalanx")
}

/// Paths inside a home.
#[derive(Debug, Clone)]
pub struct Home(pub PathBuf);

impl Home {
    /// `config/config.toml`.
    pub fn config(&self) -> PathBuf {
        self.0.join("config").join("config.toml")
    }
    /// `config/genesis.json`.
    pub fn genesis(&self) -> PathBuf {
        self.0.join("config").join("genesis.json")
    }
    /// `config/node_key`.
    pub fn node_key(&self) -> PathBuf {
        self.0.join("config").join("node_key")
    }
    /// `config/validator_key`.
    pub fn validator_key(&self) -> PathBuf {
        self.0.join("config").join("validator_key")
    }
    /// `data/`.
    pub fn data(&self) -> PathBuf {
        self.0.join("data")
    }
    /// The snapshots this node keeps and serves.
    pub fn snapshots(&self) -> PathBuf {
        self.0.join("snapshots")
    }
    /// Chunks fetched by a state sync that has not finished.
    pub fn statesync(&self) -> PathBuf {
        self.0.join("statesync")
    }
    /// True if the home has a config.
    pub fn exists(&self) -> bool {
        self.config().exists()
    }
}

/// What `init` created.
pub struct Created {
    pub validator: SecretKey,
    pub peer_id: String,
}

/// Creates the keys and config of a home (not the genesis).
fn create_home(home: &Home, config: &NodeConfig) -> Result<Created> {
    if home.exists() {
        bail!(
            "{} already has a config; refusing to overwrite it",
            home.0.display()
        );
    }
    std::fs::create_dir_all(home.0.join("config"))
        .with_context(|| format!("creating {}", home.0.display()))?;
    std::fs::create_dir_all(home.data())?;
    let node_key = SecretKey::generate();
    let validator = SecretKey::generate();
    keys::write_key(&home.node_key(), &node_key)?;
    keys::write_key(&home.validator_key(), &validator)?;
    config.save(&home.config())?;
    Ok(Created {
        peer_id: keys::peer_id(&node_key)?,
        validator,
    })
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Builds a genesis for `validators`.
pub fn make_genesis(
    chain_id: &str,
    validators: &[(SecretKey, String)],
    deploy_policy: DeployPolicy,
    params: ConsensusParams,
) -> Result<Genesis> {
    let genesis = Genesis {
        chain_id: chain_id.into(),
        genesis_time_ms: now_ms(),
        validators: validators
            .iter()
            .enumerate()
            .map(|(i, (k, peer))| GenesisValidator {
                name: format!("node{i}"),
                public_key: k.public_key(),
                peer_id: peer.clone(),
            })
            .collect(),
        observers: vec![],
        params,
        deploy_policy,
        contracts: vec![],
        governance: Default::default(),
    };
    genesis.validate()?;
    Ok(genesis)
}

fn write_genesis(home: &Home, genesis: &Genesis) -> Result<()> {
    std::fs::write(home.genesis(), genesis.to_json())
        .with_context(|| format!("writing {}", home.genesis().display()))
}

/// Creates a one-validator home. Returns the genesis.
pub fn init_home(
    dir: &Path,
    chain_id: &str,
    config: NodeConfig,
    deploy_policy: DeployPolicy,
    params: ConsensusParams,
) -> Result<Genesis> {
    let home = Home(dir.to_path_buf());
    let created = create_home(&home, &config)?;
    let genesis = make_genesis(
        chain_id,
        &[(created.validator, created.peer_id)],
        deploy_policy,
        params,
    )?;
    write_genesis(&home, &genesis)?;
    Ok(genesis)
}

/// The p2p listen address `phalanx init` writes (all interfaces, the standard port).
pub const INIT_P2P_LISTEN: &str = "/ip4/0.0.0.0/tcp/26656";

/// `phalanx init --home DIR --chain-id ID`
pub fn cmd_init(dir: &Path, chain_id: &str, json: bool) -> Result<()> {
    // A validator's peers are on other machines: listen on every interface. The p2p layer
    // refuses any peer id not in the validator set, and RPC stays on loopback.
    let mut config = NodeConfig::default();
    config.p2p.listen = INIT_P2P_LISTEN.into();
    let genesis = init_home(
        dir,
        chain_id,
        config,
        DeployPolicy::Anyone,
        ConsensusParams::default(),
    )?;
    if json {
        println!(
            "{}",
            serde_json::json!({"home": dir.display().to_string(), "chain_id": chain_id, "genesis_hash": genesis.hash().to_hex()})
        );
    } else {
        println!("initialized {} for chain {chain_id}", dir.display());
        println!("genesis hash {}", genesis.hash());
    }
    Ok(())
}

/// Where a testnet's nodes listen and are reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Every node on 127.0.0.1: node i on ports P+2i (p2p) and P+2i+1 (RPC).
    Loopback {
        /// P.
        base_port: u16,
    },
    /// Node i on its own host (a machine, a container), on the standard ports 26656 (p2p,
    /// listening on every interface) and 8645 (RPC, on every interface too, for clients on
    /// the host network; put no such node on a public address without a firewall).
    Hosts(Vec<std::net::IpAddr>),
}

/// The standard p2p port.
pub const P2P_PORT: u16 = 26656;
/// The standard JSON-RPC port.
pub const RPC_PORT: u16 = 8645;

impl Layout {
    /// (p2p listen multiaddr, p2p address others dial, RPC listen address, RPC URL) of node i.
    fn node(&self, i: usize) -> (String, String, std::net::SocketAddr, String) {
        match self {
            Layout::Loopback { base_port } => {
                let p2p = base_port + 2 * i as u16;
                let addr = format!("/ip4/127.0.0.1/tcp/{p2p}");
                let rpc = std::net::SocketAddr::from(([127, 0, 0, 1], p2p + 1));
                (addr.clone(), addr, rpc, format!("http://{rpc}"))
            }
            Layout::Hosts(hosts) => {
                let host = hosts[i];
                let proto = if host.is_ipv4() { "ip4" } else { "ip6" };
                let any: std::net::IpAddr = if host.is_ipv4() {
                    std::net::Ipv4Addr::UNSPECIFIED.into()
                } else {
                    std::net::Ipv6Addr::UNSPECIFIED.into()
                };
                (
                    format!("/{proto}/{any}/tcp/{P2P_PORT}"),
                    format!("/{proto}/{host}/tcp/{P2P_PORT}"),
                    std::net::SocketAddr::new(any, RPC_PORT),
                    format!("http://{}", std::net::SocketAddr::new(host, RPC_PORT)),
                )
            }
        }
    }
}

/// `phalanx testnet --validators N --out DIR [--base-port P | --hosts IP,…]`
pub fn cmd_testnet(
    n: usize,
    out: &Path,
    layout: &Layout,
    chain_id: &str,
    json: bool,
) -> Result<()> {
    if n == 0 || n > 100 {
        bail!("--validators must be between 1 and 100");
    }
    match layout {
        Layout::Loopback { base_port } if *base_port as usize + 2 * n > u16::MAX as usize => {
            bail!("--base-port {base_port} leaves no room for {n} nodes")
        }
        Layout::Hosts(hosts) if hosts.len() != n => {
            bail!("--hosts names {} hosts for {n} validators", hosts.len())
        }
        Layout::Hosts(hosts) if hosts.iter().collect::<BTreeSet<_>>().len() != n => {
            bail!("--hosts names a host twice")
        }
        _ => {}
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut created = Vec::new();
    for i in 0..n {
        let home = Home(out.join(format!("node{i}")));
        let mut config = NodeConfig {
            moniker: format!("node{i}"),
            ..NodeConfig::default()
        };
        let (listen, _, rpc, _) = layout.node(i);
        config.p2p.listen = listen;
        config.rpc.listen = rpc;
        if let Layout::Hosts(hosts) = layout {
            // RPC listens on every interface: name the hosts clients may use (its own
            // address, as testnet.json gives it, and loopback), not any.
            config.rpc.allowed_hosts =
                vec!["localhost".into(), "127.0.0.1".into(), hosts[i].to_string()];
        }
        let c = create_home(&home, &config)?;
        created.push((home, config, c));
    }
    // Every node dials every other.
    let addrs: Vec<String> = created
        .iter()
        .enumerate()
        .map(|(i, (_, _, c))| format!("{}/p2p/{}", layout.node(i).1, c.peer_id))
        .collect();
    let client = SecretKey::generate();
    keys::write_key(&out.join("client.key"), &client)?;
    let validators: Vec<(SecretKey, String)> = created
        .iter()
        .map(|(_, _, c)| (c.validator.clone(), c.peer_id.clone()))
        .collect();
    let genesis = make_genesis(
        chain_id,
        &validators,
        DeployPolicy::Allowlist(vec![client.address()]),
        ConsensusParams::default(),
    )?;
    let mut nodes = Vec::new();
    for (i, (home, config, c)) in created.iter_mut().enumerate() {
        config.p2p.peers = addrs
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, a)| a.clone())
            .collect();
        config.save(&home.config())?;
        write_genesis(home, &genesis)?;
        nodes.push(serde_json::json!({
            "home": home.0.display().to_string(),
            "rpc": layout.node(i).3,
            "p2p": layout.node(i).1,
            "peer_id": c.peer_id,
            "validator": Address::from_public_key(&c.validator.public_key()).to_hex(),
        }));
    }
    let manifest = serde_json::json!({"chain_id": chain_id, "nodes": nodes});
    std::fs::write(
        out.join("testnet.json"),
        serde_json::to_string_pretty(&manifest)?,
    )?;
    if json {
        println!("{manifest}");
    } else {
        println!(
            "wrote {n} validator homes, client.key and testnet.json to {}",
            out.display()
        );
        println!(
            "start each with: phalanx start --home {}/nodeI",
            out.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn testnet_writes_consistent_homes() {
        let dir = tempfile::tempdir().unwrap();
        cmd_testnet(
            4,
            dir.path(),
            &Layout::Loopback { base_port: 31000 },
            "tn",
            true,
        )
        .unwrap();
        let manifest: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("testnet.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(manifest["chain_id"], "tn");
        assert_eq!(manifest["nodes"].as_array().unwrap().len(), 4);
        assert_eq!(manifest["nodes"][1]["rpc"], "http://127.0.0.1:31003");
        let g0 = Genesis::load(Home(dir.path().join("node0")).genesis()).unwrap();
        let g3 = Genesis::load(Home(dir.path().join("node3")).genesis()).unwrap();
        assert_eq!(g0.hash(), g3.hash());
        assert_eq!(g0.validators.len(), 4);
        let client = keys::read_key(&dir.path().join("client.key")).unwrap();
        assert!(g0.may_deploy(&client.address()));
        let c2 = NodeConfig::load(&Home(dir.path().join("node2")).config()).unwrap();
        assert_eq!(c2.p2p.peers.len(), 3);
        assert!(c2.p2p.peers.iter().all(|p| !p.contains("tcp/31004/")));
        // Refuses to overwrite.
        assert!(
            cmd_testnet(
                4,
                dir.path(),
                &Layout::Loopback { base_port: 31000 },
                "tn",
                true
            )
            .is_err()
        );
    }

    #[test]
    fn a_testnet_of_hosts_listens_everywhere_and_dials_each_host() {
        let dir = tempfile::tempdir().unwrap();
        let hosts: Vec<std::net::IpAddr> = ["10.1.0.10", "10.1.0.11", "10.1.0.12", "10.1.0.13"]
            .iter()
            .map(|h| h.parse().unwrap())
            .collect();
        cmd_testnet(4, dir.path(), &Layout::Hosts(hosts.clone()), "tn", true).unwrap();
        let c1 = NodeConfig::load(&Home(dir.path().join("node1")).config()).unwrap();
        assert_eq!(c1.p2p.listen, "/ip4/0.0.0.0/tcp/26656");
        assert_eq!(c1.rpc.listen, "0.0.0.0:8645".parse().unwrap());
        assert_eq!(
            c1.rpc.allowed_hosts,
            ["localhost", "127.0.0.1", "10.1.0.11"]
        );
        let mut dialed: Vec<&str> = c1
            .p2p
            .peers
            .iter()
            .map(|p| p.split("/p2p/").next().unwrap())
            .collect();
        dialed.sort();
        assert_eq!(
            dialed,
            [
                "/ip4/10.1.0.10/tcp/26656",
                "/ip4/10.1.0.12/tcp/26656",
                "/ip4/10.1.0.13/tcp/26656"
            ]
        );
        let manifest: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("testnet.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(manifest["nodes"][2]["rpc"], "http://10.1.0.12:8645");
        // As many hosts as validators, each once.
        let other = tempfile::tempdir().unwrap();
        assert!(cmd_testnet(3, other.path(), &Layout::Hosts(hosts.clone()), "tn", true).is_err());
        let twice = vec![hosts[0], hosts[0]];
        assert!(cmd_testnet(2, other.path(), &Layout::Hosts(twice), "tn", true).is_err());
    }
}
