//! `config/config.toml`: the node's local settings (network addresses, RPC limits).
//! Consensus parameters live in genesis, since every node must agree on them.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;

/// The whole config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// Name in logs.
    pub moniker: String,
    /// Peer-to-peer settings.
    pub p2p: P2pConfig,
    /// JSON-RPC settings.
    pub rpc: RpcConfig,
    /// How much history to keep (`retain_blocks`, `retain_state_versions`; 0 keeps all).
    pub pruning: phalanx_core::prune::Retention,
    /// Snapshots kept and served to peers for state sync (`snapshot_interval`,
    /// `keep_recent`, `serve_bytes_per_sec`).
    pub snapshots: crate::snapshots::SnapshotConfig,
}

/// Peer-to-peer settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct P2pConfig {
    /// Listen multiaddr.
    pub listen: String,
    /// Peers to dial: multiaddrs ending in `/p2p/<peer id>`.
    pub peers: Vec<String>,
}

/// JSON-RPC settings (CometBFT-like defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RpcConfig {
    /// Listen address; loopback by default.
    pub listen: SocketAddr,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Most requests in one batch.
    pub max_batch: usize,
    /// Most open connections.
    pub max_connections: usize,
    /// Request timeout (ms).
    pub timeout_ms: u64,
    /// Most subscriptions per WebSocket.
    pub max_subscriptions: usize,
    /// Gas cap of read-only queries.
    pub query_gas_cap: u64,
    /// Allowed CORS origins (empty: CORS off); browser requests from other origins are
    /// refused.
    pub cors_origins: Vec<String>,
    /// Host names clients may use in the `Host` header (`["*"]`: any). Empty: loopback
    /// names when `listen` is a loopback address, any name otherwise.
    pub allowed_hosts: Vec<String>,
    /// Most WebSocket connections open at once.
    pub max_ws_connections: usize,
    /// Threads checking signatures of submitted transactions, and threads reading storage
    /// for requests (0: half the cores, at least one).
    pub worker_threads: usize,
    /// Serve the block explorer at `/explorer` (unset: on for `phalanx dev`, off otherwise).
    pub explorer: Option<bool>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            moniker: "phalanx".into(),
            p2p: P2pConfig::default(),
            rpc: RpcConfig::default(),
            pruning: Default::default(),
            snapshots: Default::default(),
        }
    }
}

impl Default for P2pConfig {
    fn default() -> Self {
        P2pConfig {
            listen: "/ip4/127.0.0.1/tcp/26656".into(),
            peers: Vec::new(),
        }
    }
}

impl Default for RpcConfig {
    fn default() -> Self {
        RpcConfig {
            listen: "127.0.0.1:8645".parse().expect("valid default address"),
            max_body_bytes: 1024 * 1024,
            max_batch: 100,
            max_connections: 900,
            timeout_ms: 10_000,
            max_subscriptions: 5,
            query_gas_cap: 100_000_000,
            cors_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            max_ws_connections: 256,
            worker_threads: 0,
            explorer: None,
        }
    }
}

impl NodeConfig {
    /// Reads `path`; unknown keys are errors.
    pub fn load(path: &Path) -> Result<NodeConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config {}", path.display()))
    }

    /// Writes `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string_pretty(self)?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        let mut c = NodeConfig::default();
        c.p2p.peers.push("/ip4/127.0.0.1/tcp/1/p2p/x".into());
        c.save(&p).unwrap();
        assert_eq!(NodeConfig::load(&p).unwrap(), c);
        std::fs::write(&p, "bogus = 1\n").unwrap();
        let err = NodeConfig::load(&p).unwrap_err();
        assert!(format!("{err:#}").contains("bogus"), "{err:#}");
        std::fs::write(&p, "[rpc]\nlisten = \"127.0.0.1:9\"\n").unwrap();
        assert_eq!(NodeConfig::load(&p).unwrap().rpc.listen.port(), 9);
        // A config without [pruning] gets the documented defaults; a typo is an error.
        assert_eq!(NodeConfig::load(&p).unwrap().pruning.retain_blocks, 0);
        std::fs::write(&p, "[pruning]\nretain_blocks = 50\n").unwrap();
        let c = NodeConfig::load(&p).unwrap();
        assert_eq!(c.pruning.retain_blocks, 50);
        assert_eq!(
            c.pruning.retain_state_versions,
            phalanx_core::prune::DEFAULT_RETAIN_STATE_VERSIONS
        );
        std::fs::write(&p, "[pruning]\nretain_block = 50\n").unwrap();
        assert!(NodeConfig::load(&p).is_err());
    }
}
