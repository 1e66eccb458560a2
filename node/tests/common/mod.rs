//! Real `phalanx` processes on 127.0.0.1 for multi-process tests: a testnet made by
//! `phalanx testnet`, started with `phalanx start`, driven over JSON-RPC.

#![allow(dead_code)]

pub mod linkem;
/// The simulator's SplitMix64, for fault schedules and jitter.
#[path = "../../consensus/tests/sim/rng.rs"]
pub mod rng;

use base64::Engine;
use phalanx_types::{Address, Bytes, SecretKey, Tx, TxPayload};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Multi-process tests share two cores: run them one at a time.
pub static SERIAL: Mutex<()> = Mutex::new(());

/// A contract whose `fill` takes start and count (u32 little-endian) and writes `count`
/// keys (the 4 bytes of each number from `start`) with 32-byte values.
const FILLER: &str = include_str!("filler.wat");

/// A contract whose `set` stores its argument bytes under themselves (`echo` returns them,
/// `fail` traps).
pub const SETTER: &str = include_str!("../../core/tests/setter.wat");

/// The binary under test: this build's, or another named by `PHALANX_BIN` (to compare
/// builds in one run).
pub fn bin() -> String {
    std::env::var("PHALANX_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_phalanx").to_string())
}

/// Runs the CLI with `args`.
#[allow(dead_code)]
pub fn phalanx(args: &[&str]) -> std::process::Output {
    Command::new(bin()).args(args).output().unwrap()
}

/// A CLI run's stdout and stderr, for failure messages and checks.
#[allow(dead_code)]
pub fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `npm ARGS` in `dir`; fails the test with npm's output if it fails.
#[allow(dead_code)]
pub fn npm(dir: &Path, args: &[&str]) {
    let o = Command::new("npm")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("npm {args:?}: {e} (install Node.js 20.19+ and npm)"));
    assert!(o.status.success(), "npm {args:?}: {}", text(&o));
}

/// `npm ci` in `dir` unless its dependencies are installed and current with its lockfile
/// (a dependency may have been added since the last install).
#[allow(dead_code)]
pub fn npm_installed(dir: &Path) {
    let stamp = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let at = stamp(dir.join("node_modules/.package-lock.json"));
    if at.is_none() || at < stamp(dir.join("package-lock.json")) {
        npm(dir, &["ci", "--no-audit", "--no-fund"]);
    }
}

/// The value of environment variable `name`, or `default` if unset or unparsable (benchmark
/// knobs).
#[allow(dead_code)]
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A port range nobody listens on: `count` consecutive free ports.
pub fn free_base_port(count: u16) -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    // Ranges handed out in this process never overlap, even before their owners bind them
    // (a testnet's ports are chosen before its nodes start); the start is random per run.
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let _ = NEXT.compare_exchange(
        0,
        20_000
            + (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
                ^ std::process::id())
                % 20_000,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    loop {
        let p = NEXT.fetch_add(u32::from(count), Ordering::SeqCst);
        if p + u32::from(count) >= 60_000 {
            NEXT.store(20_000, Ordering::SeqCst);
            continue;
        }
        let p = p as u16;
        if (p..p + count).all(|q| std::net::TcpListener::bind(("127.0.0.1", q)).is_ok()) {
            return p;
        }
    }
}

/// Prints a figure straight to stderr (not captured by the test harness), so CI's log has it.
pub fn report(line: String) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// One JSON-RPC call over a fresh HTTP/1.1 connection; `Err` on transport failure.
pub fn rpc_try(url: &str, method: &str, params: Value) -> Result<Value, String> {
    rpc_within(url, method, params, Duration::from_secs(15))
}

/// [`rpc_try`] that gives up after `limit` to connect, and again to answer (a paused
/// process accepts connections but never answers).
pub fn rpc_within(
    url: &str,
    method: &str,
    params: Value,
    limit: Duration,
) -> Result<Value, String> {
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let sock: std::net::SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let mut s = TcpStream::connect_timeout(&sock, limit).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(limit)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(limit))
        .map_err(|e| e.to_string())?;
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    let (_, body) = out.split_once("\r\n\r\n").ok_or("no HTTP body")?;
    serde_json::from_str(body).map_err(|e| format!("{e}: {body}"))
}

/// The value of one sample (`name{labels}` exactly as exposed) of a node's `/metrics`.
#[allow(dead_code)]
pub fn metric(url: &str, sample: &str) -> Option<f64> {
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
}

/// A JSON-RPC call that must succeed; returns `result`.
pub fn rpc(url: &str, method: &str, params: Value) -> Value {
    let v = rpc_try(url, method, params).unwrap_or_else(|e| panic!("{method} on {url}: {e}"));
    assert!(v.get("error").is_none(), "{method} on {url}: {v}");
    v["result"].clone()
}

/// Polls `f` every 100 ms until it returns true or `limit` passes.
pub fn wait_for(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

/// A node process.
pub struct NodeProc {
    pub home: PathBuf,
    pub rpc: String,
    pub peer_id: String,
    pub child: Option<Child>,
}

impl NodeProc {
    /// Starts `phalanx start --home HOME`, logging to HOME/node.log.
    pub fn start(&mut self) {
        self.start_with(&[]);
    }

    /// Starts `phalanx start --home HOME ARGS…`, logging to HOME/node.log.
    pub fn start_with(&mut self, args: &[&str]) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.home.join("node.log"))
            .unwrap();
        let child = Command::new(bin())
            .args(["start", "--home"])
            .arg(&self.home)
            .args(args)
            // PHALANX_TEST_LOG overrides the nodes' log filter (for example
            // `info,phalanx_network=debug` to see push streams).
            .env(
                "RUST_LOG",
                std::env::var("PHALANX_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// Sets `[pruning]` in this node's config (before it starts): `phalanx init` wrote the
    /// defaults (every block, 100,000 state versions).
    #[allow(dead_code)]
    pub fn set_retention(&self, blocks: u64, state_versions: u64) {
        let path = self.home.join("config/config.toml");
        let cfg = std::fs::read_to_string(&path).unwrap();
        let edited = cfg
            .replace("retain_blocks = 0", &format!("retain_blocks = {blocks}"))
            .replace(
                "retain_state_versions = 100000",
                &format!("retain_state_versions = {state_versions}"),
            );
        assert!(
            edited.contains(&format!("retain_state_versions = {state_versions}")),
            "no [pruning] defaults in {cfg}"
        );
        std::fs::write(&path, edited).unwrap();
    }

    /// Sets `[snapshots]` in this node's config (before it starts).
    #[allow(dead_code)]
    pub fn set_snapshots(&self, interval: u64, keep: usize, bytes_per_sec: u64) {
        let path = self.home.join("config/config.toml");
        let mut cfg: toml::Table =
            toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut snapshots = toml::Table::new();
        snapshots.insert("snapshot_interval".into(), (interval as i64).into());
        snapshots.insert("keep_recent".into(), (keep as i64).into());
        snapshots.insert("serve_bytes_per_sec".into(), (bytes_per_sec as i64).into());
        cfg.insert("snapshots".into(), snapshots.into());
        std::fs::write(&path, toml::to_string(&cfg).unwrap()).unwrap();
    }

    /// kill -9.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends a signal by name (`STOP`, `CONT`, `TERM`).
    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let ok = Command::new("kill")
            .args([format!("-{sig}"), pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} {pid}");
    }

    /// The node's status, or `None` if it does not answer.
    pub fn status(&self) -> Option<Value> {
        rpc_try(&self.rpc, "node_status", json!({}))
            .ok()
            .map(|v| v["result"].clone())
    }

    /// Latest height (0 if it does not answer).
    pub fn height(&self) -> u64 {
        self.status()
            .and_then(|s| s["height"].as_u64())
            .unwrap_or(0)
    }

    /// The tail of its log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.home.join("node.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A testnet written by `phalanx testnet` with fast test timings.
pub struct Testnet {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<NodeProc>,
    pub client: SecretKey,
    pub chain_id: String,
}

impl Testnet {
    /// Writes `n` homes (not started).
    pub fn new(n: usize) -> Testnet {
        let dir = tempfile::tempdir().unwrap();
        let base = free_base_port(2 * n as u16);
        let ok = Command::new(bin())
            .args(["testnet", "--validators", &n.to_string(), "--out"])
            .arg(dir.path())
            .args(["--base-port", &base.to_string()])
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "phalanx testnet failed");
        let manifest: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("testnet.json")).unwrap(),
        )
        .unwrap();
        let nodes: Vec<NodeProc> = manifest["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| NodeProc {
                home: PathBuf::from(n["home"].as_str().unwrap()),
                rpc: n["rpc"].as_str().unwrap().to_string(),
                peer_id: n["peer_id"].as_str().unwrap().to_string(),
                child: None,
            })
            .collect();
        let net = Testnet {
            client: read_key(&dir.path().join("client.key")),
            chain_id: manifest["chain_id"].as_str().unwrap().to_string(),
            dir,
            nodes,
        };
        // Faster timings than the defaults, identical in every copy of genesis.
        net.edit_genesis(&[], |g| {
            g["params"]["block_interval_ms"] = json!(300);
            g["params"]["view_timeout_ms"] = json!(1_500);
            g["params"]["max_view_timeout_ms"] = json!(6_000);
            // The most a 1.5 s timeout allows (a quarter of it at the worst ns per gas).
            g["params"]["block_gas_limit"] = json!(300_000_000);
            g["params"]["max_tx_gas"] = json!(300_000_000);
        });
        net
    }

    /// Starts every node.
    pub fn start_all(&mut self) {
        for n in &mut self.nodes {
            n.start();
        }
    }

    /// Heights of all nodes (0 for one that does not answer).
    pub fn heights(&self) -> Vec<u64> {
        self.nodes.iter().map(NodeProc::height).collect()
    }

    /// Waits until every node in `which` reached `height`.
    pub fn wait_height(&self, which: &[usize], height: u64, limit: Duration) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if which.iter().all(|i| self.nodes[*i].height() >= height) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let logs: Vec<String> = which
            .iter()
            .map(|i| format!("--- node{i} ---\n{}", self.nodes[*i].log_tail()))
            .collect();
        panic!(
            "nodes {which:?} did not reach height {height} within {limit:?}: heights {:?}\n{}",
            self.heights(),
            logs.join("\n")
        );
    }

    /// Asserts that the nodes in `which` hold the same block hash and state root at every
    /// height up to the lowest of their tips, comparing at each height the nodes that still
    /// hold it (pruning nodes keep a window); returns that height.
    pub fn assert_agree(&self, which: &[usize]) -> u64 {
        let low = which.iter().map(|i| self.nodes[*i].height()).min().unwrap();
        let kept_from = which
            .iter()
            .map(|i| {
                let s = self.nodes[*i]
                    .status()
                    .unwrap_or_else(|| panic!("node {i} does not answer"));
                s["earliest_height"].as_u64().unwrap_or(1)
            })
            .min()
            .unwrap();
        for h in kept_from..=low {
            let held: Vec<(usize, Value)> = which
                .iter()
                .filter_map(|i| {
                    let b = rpc_try(&self.nodes[*i].rpc, "chain_getBlock", json!({"height": h}))
                        .unwrap_or_else(|e| panic!("node {i}: {e}"));
                    // A pruning node's window moves on while this runs.
                    if b["error"]["code"] == json!(-32021) {
                        return None;
                    }
                    assert!(
                        b["result"]["header"]["hash"].is_string(),
                        "node {i} at {h}: {b}"
                    );
                    Some((*i, b["result"]["header"].clone()))
                })
                .collect();
            for (i, header) in held.iter().skip(1) {
                assert_eq!(
                    (&header["hash"], &header["state_root"]),
                    (&held[0].1["hash"], &held[0].1["state_root"]),
                    "node {i} and node {} differ at height {h}",
                    held[0].0
                );
            }
        }
        low
    }

    /// The validators' p2p addresses (`…/p2p/<peer id>`), from their configs.
    pub fn p2p_addrs(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| {
                let cfg = std::fs::read_to_string(n.home.join("config/config.toml")).unwrap();
                let listen = cfg
                    .lines()
                    .find(|l| l.trim_start().starts_with("listen = \"/ip4"))
                    .unwrap()
                    .split('"')
                    .nth(1)
                    .unwrap()
                    .to_string();
                format!("{listen}/p2p/{}", n.peer_id)
            })
            .collect()
    }

    /// Routes every peer link through `em`: node `i` reaches node `j` through proxy
    /// `(i, j)` (call before starting the nodes).
    pub fn route_through(&self, em: &linkem::LinkEmulator) {
        let addrs = self.p2p_addrs();
        let n = self.nodes.len() as u16;
        let mut ports = free_base_port(n * n.saturating_sub(1))..;
        for (i, node) in self.nodes.iter().enumerate() {
            let peers: Vec<String> = addrs
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(j, addr)| {
                    let port: u16 = addr.split('/').nth(4).unwrap().parse().unwrap();
                    let proxy =
                        em.proxy_on(i, j, ([127, 0, 0, 1], port).into(), ports.next().unwrap());
                    format!(
                        "/ip4/127.0.0.1/tcp/{}/p2p/{}",
                        proxy.port(),
                        self.nodes[j].peer_id
                    )
                })
                .collect();
            let path = node.home.join("config/config.toml");
            let mut cfg: toml::Table =
                toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            cfg["p2p"]["peers"] = toml::Value::from(peers);
            std::fs::write(&path, toml::to_string(&cfg).unwrap()).unwrap();
        }
    }

    /// A further node home (its own keys) with this testnet's genesis, dialing every
    /// validator; not started.
    pub fn extra_node(&self, name: &str) -> NodeProc {
        let home = self.dir.path().join(name);
        let ok = Command::new(bin())
            .args(["init", "--chain-id", name, "--home"])
            .arg(&home)
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "phalanx init failed");
        // Its peer id, from the one-validator genesis `init` wrote.
        let own: Value = serde_json::from_str(
            &std::fs::read_to_string(home.join("config/genesis.json")).unwrap(),
        )
        .unwrap();
        let peer_id = own["validators"][0]["peer_id"]
            .as_str()
            .unwrap()
            .to_string();
        std::fs::copy(
            self.nodes[0].home.join("config/genesis.json"),
            home.join("config/genesis.json"),
        )
        .unwrap();
        let port = free_base_port(2);
        let config = format!(
            "moniker = \"{name}\"\n[p2p]\nlisten = \"/ip4/127.0.0.1/tcp/{port}\"\npeers = {:?}\n[rpc]\nlisten = \"127.0.0.1:{}\"\n",
            self.p2p_addrs(),
            port + 1
        );
        std::fs::write(home.join("config/config.toml"), config).unwrap();
        NodeProc {
            home,
            rpc: format!("http://127.0.0.1:{}", port + 1),
            peer_id,
            child: None,
        }
    }

    /// `phalanx bench` against every validator with `token` and the client key (the caller
    /// adds rate, duration and concurrency).
    #[allow(dead_code)]
    pub fn bench_command(&self, token: &Path) -> Command {
        let mut cmd = Command::new(bin());
        cmd.arg("bench");
        for n in &self.nodes {
            cmd.args(["--rpc", &n.rpc]);
        }
        cmd.arg("--token")
            .arg(token)
            .arg("--key")
            .arg(self.dir.path().join("client.key"));
        cmd
    }

    /// A further node named in genesis as an observer (it follows the chain, never votes);
    /// not started.
    #[allow(dead_code)]
    pub fn observer(&self, name: &str) -> NodeProc {
        let node = self.extra_node(name);
        let (name, id) = (name.to_string(), node.peer_id.clone());
        self.edit_genesis(&[&node], |g| {
            g["observers"] = json!([{"name": name, "peer_id": id}]);
        });
        node
    }

    /// Edits every copy of genesis (validators' and `extra`) the same way.
    pub fn edit_genesis(&self, extra: &[&NodeProc], edit: impl Fn(&mut Value)) {
        let homes = self
            .nodes
            .iter()
            .chain(extra.iter().copied())
            .map(|n| &n.home);
        for home in homes {
            let path = home.join("config/genesis.json");
            let mut g: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            edit(&mut g);
            std::fs::write(&path, serde_json::to_string_pretty(&g).unwrap()).unwrap();
        }
    }

    /// A signed transaction from the client key.
    pub fn tx(&self, nonce: u64, payload: TxPayload) -> String {
        let tx = Tx {
            chain_id: self.chain_id.clone(),
            sender: self.client.public_key(),
            nonce,
            gas_limit: 50_000_000,
            payload,
        }
        .sign(&self.client);
        base64::engine::general_purpose::STANDARD.encode(tx.to_bytes())
    }

    /// Deploys the setter contract through node `i` and waits for finality; its address.
    pub fn deploy_setter(&self, i: usize, nonce: u64) -> Address {
        let code = wat::parse_str(SETTER).unwrap();
        let tx = self.tx(
            nonce,
            TxPayload::Deploy {
                code: Bytes(code),
                init_args: Bytes(Vec::new()),
                admin: None,
            },
        );
        let r = rpc(
            &self.nodes[i].rpc,
            "tx_submit",
            json!({"tx": tx, "wait": "final"}),
        );
        assert_eq!(r["receipt"]["status"], "ok", "{r}");
        r["receipt"]["return"].as_str().unwrap().parse().unwrap()
    }

    /// Writes `keys` keys of state (4-byte keys, 32-byte values) with the filler contract,
    /// 1,000 a transaction in batches of 50, from client nonce 0; the filler's address and
    /// the seconds it took.
    #[allow(dead_code)]
    pub fn fill(&self, keys: u64) -> (Address, f64) {
        const KEYS_PER_TX: u64 = 1_000;
        let deploy = self.tx(
            0,
            TxPayload::Deploy {
                code: Bytes(wat::parse_str(FILLER).unwrap()),
                init_args: Bytes(Vec::new()),
                admin: None,
            },
        );
        let r = rpc(
            &self.nodes[0].rpc,
            "tx_submit",
            json!({"tx": deploy, "wait": "final"}),
        );
        let filler: Address = r["receipt"]["return"].as_str().unwrap().parse().unwrap();
        let calls = keys.div_ceil(KEYS_PER_TX);
        let t = Instant::now();
        for batch in (1..=calls).collect::<Vec<_>>().chunks(50) {
            let txs: Vec<String> = batch
                .iter()
                .map(|n| {
                    let start = (n - 1) * KEYS_PER_TX;
                    let count = KEYS_PER_TX.min(keys - start);
                    let mut args = (start as u32).to_le_bytes().to_vec();
                    args.extend_from_slice(&(count as u32).to_le_bytes());
                    self.tx(
                        *n,
                        TxPayload::Call {
                            contract: filler,
                            method: "fill".into(),
                            args: Bytes(args),
                        },
                    )
                })
                .collect();
            let r = rpc(&self.nodes[0].rpc, "tx_submitBatch", json!({"txs": txs}));
            let last = r["results"][batch.len() - 1]["hash"].clone();
            assert!(last.is_string(), "{r}");
            // One sender may have 64 transactions pending: wait for each batch.
            wait_for(Duration::from_secs(600), "a batch to commit", || {
                !rpc(&self.nodes[0].rpc, "tx_get", json!({"hash": last})).is_null()
            });
        }
        (filler, t.elapsed().as_secs_f64())
    }

    /// A call of `set` with `arg`.
    pub fn set_call(&self, contract: Address, nonce: u64, arg: &str) -> String {
        self.tx(
            nonce,
            TxPayload::Call {
                contract,
                method: "set".into(),
                args: Bytes(arg.as_bytes().to_vec()),
            },
        )
    }
}

/// A key of its own for sender `i` of group `tag` (the same every run).
pub fn key(tag: u8, i: u32) -> SecretKey {
    let mut seed = [tag; 32];
    seed[..4].copy_from_slice(&i.to_le_bytes());
    SecretKey::from_seed(seed)
}

/// A call of the setter's `set` with `arg` from `key` (5 Mgas), base64, with its hash.
pub fn signed_set(
    chain_id: &str,
    key: &SecretKey,
    nonce: u64,
    contract: Address,
    arg: &str,
) -> (String, String) {
    let tx = Tx {
        chain_id: chain_id.to_string(),
        sender: key.public_key(),
        nonce,
        gas_limit: 5_000_000,
        payload: TxPayload::Call {
            contract,
            method: "set".into(),
            args: Bytes(arg.as_bytes().to_vec()),
        },
    }
    .sign(key);
    (
        base64::engine::general_purpose::STANDARD.encode(tx.to_bytes()),
        tx.hash().to_string(),
    )
}

/// Reads a key file written by `phalanx keys new` / `phalanx testnet`.
pub fn read_key(path: &Path) -> SecretKey {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    SecretKey::from_hex(v["secret_key"].as_str().unwrap()).unwrap()
}

/// A running `phalanx dev` chain in a temporary home (killed on drop).
pub struct Dev {
    pub child: Child,
    pub url: String,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub key: PathBuf,
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a dev chain and waits for its RPC.
pub fn dev() -> Dev {
    dev_with_env(&[])
}

/// [`dev`] with extra environment variables (`PHALANX_*` config overrides).
pub fn dev_with_env(env: &[(&str, &str)]) -> Dev {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("dev");
    let port = free_base_port(1);
    let url = format!("http://127.0.0.1:{port}");
    let child = Command::new(bin())
        .args(["dev", "--home"])
        .arg(&home)
        .args(["--rpc", &format!("127.0.0.1:{port}")])
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(20), "the dev chain", || {
        rpc_try(&url, "node_status", json!({})).is_ok()
    });
    Dev {
        child,
        url,
        port,
        key: home.join("dev.key"),
        home,
        dir,
    }
}
