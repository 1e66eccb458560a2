//! The remote signer in real processes: a validator whose key lives only in `phalanx signer`
//! commits blocks, survives being killed mid-height and restarted against the same signer,
//! and the signer refuses an equivocation and any identity but its node's.

mod common;

use common::{bin, free_base_port, phalanx, read_key, rpc_try, text, wait_for};
use phalanx_signer::SignerError;
use phalanx_signer::client::RemoteSigner;
use phalanx_types::consensus::Statement;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHAIN: &str = "signed-1";

fn json_of(args: &[&str]) -> Value {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    let o = phalanx(&all);
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn height(url: &str) -> u64 {
    rpc_try(url, "node_status", json!({}))
        .ok()
        .and_then(|r| r["result"]["height"].as_u64())
        .unwrap_or(0)
}

fn start_node(home: &Path, rpc_port: u16, signer: &str, log: &Path) -> Child {
    Command::new(bin())
        .args(["start", "--home", home.to_str().unwrap()])
        .args(["--rpc", &format!("127.0.0.1:{rpc_port}")])
        .args(["--p2p", "/ip4/127.0.0.1/tcp/0"])
        .env("PHALANX_SIGNER__ADDRESS", signer)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

fn libp2p_identity(key: &phalanx_types::SecretKey) -> libp2p::identity::Keypair {
    let mut seed = *key.to_seed();
    libp2p::identity::Keypair::ed25519_from_bytes(&mut seed).unwrap()
}

#[test]
fn a_validator_signs_through_a_remote_signer_that_refuses_equivocation() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("node");
    let h = home.to_str().unwrap();
    assert!(
        phalanx(&["init", "--home", h, "--chain-id", CHAIN])
            .status
            .success()
    );
    // The validator key leaves the node's machine for the signer's.
    let vault = dir.path().join("signer");
    std::fs::create_dir_all(&vault).unwrap();
    let key_file = vault.join("validator_key");
    std::fs::rename(home.join("config/validator_key"), &key_file).unwrap();
    let identity = vault.join("identity");
    let signer_peer = json_of(&["keys", "new", "--out", identity.to_str().unwrap()])["peer_id"]
        .as_str()
        .unwrap()
        .to_string();
    let node_peer = json_of(&["show-node-id", "--home", h])["peer_id"]
        .as_str()
        .unwrap()
        .to_string();
    let ports = free_base_port(2);
    let (signer_port, rpc_port) = (ports, ports + 1);
    let signer_addr = format!("/ip4/127.0.0.1/tcp/{signer_port}/p2p/{signer_peer}");
    let state = vault.join("sign_state.jsonl");
    let mut signer = Command::new(bin())
        .args(["signer", "--key", key_file.to_str().unwrap()])
        .args(["--identity", identity.to_str().unwrap()])
        .args(["--state", state.to_str().unwrap()])
        .args(["--listen", &format!("/ip4/127.0.0.1/tcp/{signer_port}")])
        .args(["--node", &node_peer, "--chain-id", CHAIN, "--new-state"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("signer.log")).unwrap())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{rpc_port}");
    let log = dir.path().join("node.log");
    let mut node = start_node(&home, rpc_port, &signer_addr, &log);
    wait_for(Duration::from_secs(60), "blocks signed remotely", || {
        height(&url) >= 3
    });
    // The node holds no validator key, yet its validator signs: it is the signer's.
    assert!(!home.join("config/validator_key").exists());
    let signers = rpc_try(&url, "chain_getBlock", json!({"height": 2})).unwrap()["result"]
        ["certificate"]["signatures"]
        .clone();
    assert_eq!(
        signers[0]["validator"],
        json!(read_key(&key_file).address()),
        "{signers}"
    );
    // Killed mid-height and restarted against the same signer: the chain goes on.
    let before = height(&url);
    node.kill().unwrap();
    node.wait().unwrap();
    let mut node = start_node(&home, rpc_port, &signer_addr, &log);
    wait_for(Duration::from_secs(60), "blocks after the restart", || {
        height(&url) >= before + 3
    });
    node.kill().unwrap();
    node.wait().unwrap();

    // The guard: take the last statement the signer signed and ask for a conflicting one,
    // as the node's identity over the authenticated connection.
    let entries = std::fs::read_to_string(&state).unwrap();
    let last: Value = serde_json::from_str(entries.lines().last().unwrap()).unwrap();
    let signed: Statement = serde_json::from_value(last.clone()).unwrap();
    let mut other = signed;
    other.digest.0[0] ^= 1;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let node_identity = libp2p_identity(&read_key(&home.join("config/node_key")));
    let addr = signer_addr.parse().unwrap();
    let remote = rt
        .block_on(RemoteSigner::connect(
            node_identity,
            &addr,
            Duration::from_secs(5),
            Duration::from_secs(10),
        ))
        .unwrap();
    let refused = rt.block_on(remote.sign(CHAIN, &other)).unwrap_err();
    assert!(
        matches!(&refused, SignerError::Refused(m) if m.contains("double sign")),
        "{refused}"
    );
    // The same statement again is signed again (a restarted node resends), and verifies.
    rt.block_on(remote.sign(CHAIN, &signed)).unwrap();
    // Another chain's statements are refused too.
    assert!(matches!(
        rt.block_on(remote.sign("other-chain", &signed)),
        Err(SignerError::Refused(_))
    ));
    // An identity other than the node's gets nowhere.
    let stranger = libp2p::identity::Keypair::generate_ed25519();
    let err = rt
        .block_on(RemoteSigner::connect(
            stranger,
            &addr,
            Duration::from_millis(500),
            Duration::from_secs(2),
        ))
        .unwrap_err();
    assert!(matches!(err, SignerError::Unreachable(_)), "{err}");
    drop(remote);
    // A second signer cannot take the same log while this one runs.
    let second = [
        "signer",
        "--key",
        key_file.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--node",
        &node_peer,
        "--chain-id",
        CHAIN,
    ];
    let o = phalanx(&second);
    assert!(
        !o.status.success() && text(&o).contains("held by another signer"),
        "{}",
        text(&o)
    );
    let _ = signer.kill();
    let _ = signer.wait();
    let signer_log = std::fs::read_to_string(dir.path().join("signer.log")).unwrap();
    assert!(signer_log.contains("refused to sign"), "{signer_log}");
    // A mistyped log path is an error, not a signer with no memory.
    let typo = vault.join("sign_stat.jsonl");
    let mut args = second;
    args[6] = typo.to_str().unwrap();
    let o = phalanx(&args);
    assert!(
        !o.status.success() && text(&o).contains("--new-state"),
        "{}",
        text(&o)
    );
}
