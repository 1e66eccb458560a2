//! `config/config.toml`: the node's local settings (network addresses, RPC limits).
//! Consensus parameters live in genesis, since every node must agree on them.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    /// Where Prometheus scrapes `/metrics`.
    pub metrics: MetricsConfig,
    /// A remote signer holding the validator key (`phalanx signer`), instead of
    /// `config/validator_key`.
    pub signer: RemoteSignerConfig,
}

/// A remote signer (`phalanx signer` on another machine).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteSignerConfig {
    /// The signer's multiaddr, ending in `/p2p/<its peer id>` (the peer id of its
    /// `--identity` key). Unset: the node signs with `config/validator_key`.
    pub address: Option<String>,
    /// How long one signature may take before the node gives up on it (ms).
    pub timeout_ms: u64,
    /// How long the node waits for the signer at start before giving up (ms).
    pub connect_timeout_ms: u64,
}

impl Default for RemoteSignerConfig {
    fn default() -> Self {
        RemoteSignerConfig {
            address: None,
            timeout_ms: 3_000,
            connect_timeout_ms: 30_000,
        }
    }
}

/// Prometheus metrics settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// A listen address of its own for `/metrics` (and `/health`), so a scraper can reach
    /// metrics on a network the JSON-RPC port is not open to. Unset: `/metrics` is served on
    /// the JSON-RPC address; set: only here.
    pub listen: Option<SocketAddr>,
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
            metrics: MetricsConfig::default(),
            signer: RemoteSignerConfig::default(),
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

/// Prefix of the environment variables that override config keys.
pub const ENV_PREFIX: &str = "PHALANX_";
/// Separator of sections in an override's name: `PHALANX_RPC__MAX_BATCH` is `rpc.max_batch`.
pub const ENV_SEPARATOR: &str = "__";

/// The config key path (`rpc.max_batch`) an environment variable overrides, if any.
fn env_key(name: &str) -> Option<String> {
    let rest = name
        .get(..ENV_PREFIX.len())
        .filter(|p| p.eq_ignore_ascii_case(ENV_PREFIX))
        .map(|_| &name[ENV_PREFIX.len()..])?;
    if !rest.contains(ENV_SEPARATOR) && !rest.eq_ignore_ascii_case("moniker") {
        return None;
    }
    let parts: Vec<String> = rest
        .split(ENV_SEPARATOR)
        .map(str::to_ascii_lowercase)
        .collect();
    (!parts.iter().any(String::is_empty)).then(|| parts.join("."))
}

impl NodeConfig {
    /// Reads `path`, then applies `PHALANX_*` overrides from the environment; unknown keys
    /// are errors in both.
    ///
    /// Precedence, lowest first: built-in defaults, `config.toml`, then environment
    /// variables named `PHALANX_<SECTION>__<KEY>` (`PHALANX_RPC__LISTEN=0.0.0.0:8645`,
    /// `PHALANX_PRUNING__RETAIN_BLOCKS=1000`, `PHALANX_P2P__PEERS='["/ip4/…"]'`) or
    /// `PHALANX_MONIKER`. Values are parsed as TOML values, falling back to strings. Other
    /// `PHALANX_*` variables without a `__` (`PHALANX_RPC`, the clients' node URL) are not
    /// config keys and are ignored. Command-line flags of `phalanx start` override all.
    pub fn load(path: &Path) -> Result<NodeConfig> {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        Self::load_from(path, vars)
    }

    /// [`NodeConfig::load`] with the environment given as (name, value) pairs.
    pub fn load_from(
        path: &Path,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<NodeConfig> {
        // figment skips a missing file; a node must not start on defaults by mistake.
        if !path.is_file() {
            anyhow::bail!("cannot read {}: no such file", path.display());
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::from_text(&text, path, vars)
    }

    /// [`NodeConfig::load_from`] of `text`, the contents of `path` (named in errors).
    pub fn from_text(
        text: &str,
        path: &Path,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<NodeConfig> {
        use figment::Figment;
        use figment::providers::{Format, Serialized, Toml};
        let mut figment =
            Figment::from(Serialized::defaults(NodeConfig::default())).merge(Toml::string(text));
        // Keys whose values are text take the variable's text as is (`PHALANX_MONIKER=2024`
        // is a name, not a number); the others are read as TOML values.
        let is_text = text_keys()?;
        let mut overrides: BTreeMap<String, (String, String)> = BTreeMap::new();
        for (name, value) in vars {
            let Some(key) = env_key(&name) else { continue };
            if let Some((first, _)) = overrides.get(&key) {
                anyhow::bail!("{first} and {name} both set config key {key}");
            }
            overrides.insert(key, (name, value));
        }
        for (key, (_, value)) in &overrides {
            let value = if is_text(key) {
                figment::value::Value::from(value.clone())
            } else {
                value.parse().expect("parsing is infallible")
            };
            figment = figment.merge((key.as_str(), value));
        }
        let names: Vec<&str> = overrides.values().map(|(n, _)| n.as_str()).collect();
        let invalid = |e: &dyn std::fmt::Display| {
            if names.is_empty() {
                anyhow::anyhow!("invalid config {}: {e}", path.display())
            } else {
                anyhow::anyhow!(
                    "invalid config {} with the environment's {}: {e}",
                    path.display(),
                    names.join(", ")
                )
            }
        };
        let config: NodeConfig = figment.extract().map_err(|e| invalid(&e))?;
        config.check().map_err(|e| invalid(&e))?;
        Ok(config)
    }

    /// The checks beyond types: the addresses parse as the node uses them (a peer and the
    /// remote signer must name their peer id).
    fn check(&self) -> Result<()> {
        use libp2p::Multiaddr;
        let with_id = |what: &str, a: &str| -> Result<()> {
            let addr: Multiaddr = a
                .parse()
                .with_context(|| format!("{what} {a:?} is not a multiaddr"))?;
            if phalanx_network::peer_of(&addr).is_none() {
                anyhow::bail!("{what} {a:?} must end in /p2p/<peer id>");
            }
            Ok(())
        };
        self.p2p
            .listen
            .parse::<Multiaddr>()
            .with_context(|| format!("p2p.listen {:?} is not a multiaddr", self.p2p.listen))?;
        for p in &self.p2p.peers {
            with_id("p2p.peers entry", p)?;
        }
        if let Some(a) = &self.signer.address {
            with_id("signer.address", a)?;
        }
        Ok(())
    }

    /// Writes `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string_pretty(self)?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
    }
}

/// Which config keys (`rpc.listen`) hold text: a value given for one is taken as is.
fn text_keys() -> Result<impl Fn(&str) -> bool> {
    let defaults = serde_json::to_value(NodeConfig::default())?;
    Ok(move |key: &str| {
        key.split('.')
            .try_fold(&defaults, |v, part| v.get(part))
            .is_some_and(serde_json::Value::is_string)
    })
}

/// `phalanx config set …`
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Set one key of config.toml (`p2p.peers`, `rpc.listen`, `moniker`…), keeping the
    /// file's comments and layout. The value is read as a TOML value (a number, a boolean,
    /// an array); a key that holds text takes the text as is. The file is checked as the
    /// node reads it before it is replaced.
    Set {
        /// The key: `section.key`, or a top-level key.
        key: String,
        /// The value (TOML).
        value: String,
    },
}

/// `phalanx config set KEY VALUE [--home DIR]`
pub fn cmd_set(home: &Path, key: &str, value: &str, json: bool) -> Result<()> {
    let path = crate::home::Home(home.to_path_buf()).config();
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    let parts: Vec<&str> = key.split('.').collect();
    let (section, name) = match parts.as_slice() {
        [name] => (None, *name),
        [section, name] => (Some(*section), *name),
        _ => anyhow::bail!("{key:?} is not a config key (section.key or key)"),
    };
    if name.is_empty() || section.is_some_and(str::is_empty) {
        anyhow::bail!("{key:?} is not a config key (section.key or key)");
    }
    let parsed = if text_keys()?(key) {
        toml_edit::Value::from(value)
    } else {
        value
            .parse::<toml_edit::Value>()
            .unwrap_or_else(|_| toml_edit::Value::from(value))
    };
    let table: &mut dyn toml_edit::TableLike = match section {
        None => doc.as_table_mut(),
        Some(s) => doc
            .entry(s)
            .or_insert_with(toml_edit::table)
            .as_table_like_mut()
            .ok_or_else(|| anyhow::anyhow!("{s} in {} is not a section", path.display()))?,
    };
    match table.get_mut(name) {
        // Keep the comment after the old value.
        Some(toml_edit::Item::Value(old)) => {
            let decor = old.decor().clone();
            *old = parsed;
            *old.decor_mut() = decor;
        }
        Some(toml_edit::Item::None) | None => {
            table.insert(name, toml_edit::value(parsed));
        }
        Some(_) => anyhow::bail!("{key} is a section: set its keys one by one"),
    }
    let new_text = doc.to_string();
    // Checked as the node would read it (unknown keys, bad values and addresses are errors).
    NodeConfig::from_text(&new_text, &path, std::iter::empty())
        .map_err(|e| anyhow::anyhow!("{key} = {value} would make an invalid config: {e}"))?;
    crate::fsutil::replace(&path, new_text.as_bytes())?;
    // An override in this environment would hide the change from a node started here.
    for (name, _) in std::env::vars() {
        if env_key(&name).as_deref() == Some(key) {
            eprintln!("warning: {name} is set here and overrides {key} for a node started with it");
        }
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"file": path.display().to_string(), "key": key, "value": value})
        );
    } else {
        println!("set {key} in {}", path.display());
    }
    Ok(())
}

/// `phalanx config [--home DIR]`: the settings a node started from this home would run with:
/// `config.toml` with the `PHALANX_*` overrides of this environment applied (the flags of
/// `phalanx start` come on top).
pub fn cmd_show(home: &Path, json: bool) -> Result<()> {
    let config = NodeConfig::load(&crate::home::Home(home.to_path_buf()).config())?;
    if json {
        println!("{}", serde_json::to_string(&config)?);
    } else {
        print!("{}", toml::to_string_pretty(&config)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `config set` edits one key and keeps the rest of the file (comments too); a value
    /// that would make the config invalid, or an unknown key, leaves the file as it was.
    #[test]
    fn set_edits_one_key_and_refuses_a_bad_result() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        std::fs::create_dir_all(home.join("config")).unwrap();
        let p = home.join("config/config.toml");
        let text = "# kept\nmoniker = \"a\"\n\n[rpc]\nlisten = \"127.0.0.1:8645\" # private\n";
        std::fs::write(&p, text).unwrap();
        let peers = r#"["/ip4/10.0.0.2/tcp/26656/p2p/12D3KooWGT5HsSYL46ZczRihHSzdZcdYErUDFnCvMCk3kXcJGXYf"]"#;
        cmd_set(home, "p2p.peers", peers, false).unwrap();
        cmd_set(home, "rpc.listen", "127.0.0.1:9", false).unwrap();
        cmd_set(home, "moniker", "2024", false).unwrap();
        let c = NodeConfig::load_from(&p, std::iter::empty()).unwrap();
        assert_eq!(
            c.p2p.peers,
            vec![
                "/ip4/10.0.0.2/tcp/26656/p2p/12D3KooWGT5HsSYL46ZczRihHSzdZcdYErUDFnCvMCk3kXcJGXYf"
                    .to_string()
            ]
        );
        assert_eq!(c.rpc.listen.port(), 9);
        assert_eq!(c.moniker, "2024", "a text key takes the text");
        let now = std::fs::read_to_string(&p).unwrap();
        assert!(
            now.starts_with("# kept\n") && now.contains("# private"),
            "{now}"
        );
        for (key, value) in [
            ("p2p.peers", r#"["/ip4/10.0.0.2/tcp/26656/p2p/"]"#),
            ("p2p.peers", r#"["/ip4/10.0.0.2/tcp/26656"]"#),
            ("p2p.listen", "nowhere"),
            ("signer.address", "/ip4/10.0.0.9/tcp/26659"),
            ("rpc", r#"{listen = "127.0.0.1:1"}"#),
            ("rpc.listen", "not an address"),
            ("rpc.max_batch", "many"),
            ("rpc.nonsense", "1"),
            ("a.b.c", "1"),
            ("moniker.x", "1"),
        ] {
            assert!(cmd_set(home, key, value, false).is_err(), "{key} = {value}");
            assert_eq!(
                std::fs::read_to_string(&p).unwrap(),
                now,
                "{key} changed the file"
            );
        }
    }

    #[test]
    fn round_trip_and_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        let mut c = NodeConfig::default();
        c.p2p.peers.push(
            "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWGT5HsSYL46ZczRihHSzdZcdYErUDFnCvMCk3kXcJGXYf".into(),
        );
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
        std::fs::remove_file(&p).unwrap();
        let err = NodeConfig::load(&p).unwrap_err();
        assert!(format!("{err:#}").contains("no such file"), "{err:#}");
    }

    #[test]
    fn environment_overrides_every_key_and_refuses_unknown_ones() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(
            &p,
            "moniker = \"file\"\n[rpc]\nmax_batch = 7\ntimeout_ms = 5\n",
        )
        .unwrap();
        let env = |extra: &[(&str, &str)]| {
            [
                ("PHALANX_MONIKER", "env"),
                ("PHALANX_RPC__MAX_BATCH", "9"),
                ("phalanx_rpc__listen", "0.0.0.0:9999"),
                ("PHALANX_RPC__EXPLORER", "true"),
                ("PHALANX_P2P__PEERS", r#"["/ip4/10.0.0.2/tcp/26656/p2p/12D3KooWGT5HsSYL46ZczRihHSzdZcdYErUDFnCvMCk3kXcJGXYf"]"#),
                ("PHALANX_PRUNING__RETAIN_BLOCKS", "1000"),
                // Not config keys: the clients' node URL, a test log filter, other programs'.
                ("PHALANX_RPC", "http://127.0.0.1:1"),
                ("PHALANX_TEST_LOG", "debug"),
                ("RPC__MAX_BATCH", "1"),
            ]
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
        };
        let c = NodeConfig::load_from(&p, env(&[])).unwrap();
        assert_eq!(c.moniker, "env");
        assert_eq!(c.rpc.max_batch, 9, "the environment beats the file");
        assert_eq!(c.rpc.timeout_ms, 5, "the file beats the defaults");
        assert_eq!(c.rpc.listen, "0.0.0.0:9999".parse().unwrap());
        assert_eq!(c.rpc.explorer, Some(true));
        assert_eq!(
            c.p2p.peers,
            vec![
                "/ip4/10.0.0.2/tcp/26656/p2p/12D3KooWGT5HsSYL46ZczRihHSzdZcdYErUDFnCvMCk3kXcJGXYf"
                    .to_string()
            ]
        );
        assert_eq!(c.pruning.retain_blocks, 1000);
        assert_eq!(c.rpc.max_body_bytes, RpcConfig::default().max_body_bytes);
        // A misspelt key or a bad value is an error that names it.
        // A bad value names its key and the variable that set it.
        let err = format!(
            "{:#}",
            NodeConfig::load_from(
                &p,
                [("PHALANX_RPC__MAX_BATCH".to_string(), "lots".to_string())]
            )
            .unwrap_err()
        );
        assert!(
            err.contains("max_batch") && err.contains("PHALANX_RPC__MAX_BATCH"),
            "{err}"
        );
        // A name that looks like a number stays a name.
        let c = NodeConfig::load_from(&p, [("PHALANX_MONIKER".to_string(), "2024".to_string())])
            .unwrap();
        assert_eq!(c.moniker, "2024");
        for (name, value, named) in [
            ("PHALANX_RPC__MAX_BATCHES", "9", "max_batches"),
            ("PHALANX_NOPE__X", "1", "nope"),
            // Two spellings of one key: refused rather than one picked.
            ("phalanx_rpc__max_batch", "3", "both set"),
        ] {
            let err = format!(
                "{:#}",
                NodeConfig::load_from(&p, env(&[(name, value)])).unwrap_err()
            );
            assert!(err.contains(named), "{name}: {err}");
        }
    }
}
