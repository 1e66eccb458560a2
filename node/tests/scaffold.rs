//! An out-of-tree contract project: `phalanx contract new` in a temporary directory outside
//! the repository, `phalanx contract build` (cargo plus the node's deploy checks), then a
//! deploy and calls on a dev chain.

mod common;
#[path = "../../runtime/benches/support/example_contracts.rs"]
mod example_contracts;

use common::{SERIAL, phalanx, text};
use serde_json::Value;
use std::process::Command;

fn json_of(args: &[&str]) -> Value {
    let o = phalanx(args);
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    serde_json::from_str(&String::from_utf8_lossy(&o.stdout)).unwrap()
}

#[test]
fn a_scaffolded_project_builds_outside_the_repo_deploys_and_runs() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let outside = tempfile::tempdir().unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    assert!(
        !outside.path().starts_with(repo.canonicalize().unwrap()),
        "the project must live outside the repository"
    );
    let dir = outside.path().to_str().unwrap();
    let made = json_of(&[
        "--output",
        "json",
        "contract",
        "new",
        "guestbook",
        "--dir",
        dir,
    ]);
    let project = made["path"].as_str().unwrap().to_string();
    for f in [
        "Cargo.toml",
        "build.rs",
        "src/lib.rs",
        "tests/guestbook.rs",
        "README.md",
    ] {
        assert!(std::path::Path::new(&project).join(f).is_file(), "{f}");
    }
    // Again: refused, nothing overwritten.
    let o = phalanx(&["contract", "new", "guestbook", "--dir", dir]);
    assert!(!o.status.success() && text(&o).contains("exists already"));
    let o = phalanx(&["contract", "new", "Bad Name", "--dir", dir]);
    assert!(!o.status.success() && text(&o).contains("bad contract name"));

    // Build it the way an author would, sharing the example contracts' target directory so
    // the dependencies are compiled once per CI run (and offline: they are in the cache).
    let target = example_contracts::target_root().join("phalanx-contracts");
    let o = Command::new(common::bin())
        .args(["--output", "json", "contract", "build", &project])
        .env("CARGO_TARGET_DIR", &target)
        .env("CARGO_NET_OFFLINE", "true")
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    assert!(o.status.success(), "contract build: {}", text(&o));
    let built: Value = serde_json::from_slice(&o.stdout).unwrap();
    let module = &built["modules"][0];
    assert_eq!(module["deployable"], true);
    assert_eq!(module["contract"], "Guestbook");
    let wasm = module["wasm"].as_str().unwrap().to_string();
    assert!(wasm.ends_with("guestbook.wasm"), "{wasm}");
    let methods: Vec<&str> = module["methods"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(methods.contains(&"call sign") && methods.contains(&"query signers"));

    // Deploy and run it on a dev chain.
    let d = common::dev();
    let key = d.key.to_str().unwrap();
    let url = d.url.clone();
    let deployed = json_of(&[
        "--output", "json", "tx", "deploy", &wasm, "--key", key, "--rpc", &url,
    ]);
    let book = deployed["receipt"]["return"].as_str().unwrap().to_string();
    let signed = json_of(&[
        "--output",
        "json",
        "tx",
        "call",
        &book,
        "sign",
        r#"{"message":"hi"}"#,
        "--key",
        key,
        "--rpc",
        &url,
    ]);
    assert_eq!(signed["receipt"]["return"], 1);
    assert_eq!(signed["receipt"]["events"][0]["topic"], "signed");
    let signers = json_of(&["--output", "json", "query", &book, "signers", "--rpc", &url]);
    let me = common::read_key(&d.key).address().to_hex();
    assert_eq!(signers["result"], serde_json::json!([me]));
    // The ABI check applies to it like any other contract.
    let o = phalanx(&[
        "tx",
        "call",
        &book,
        "sign",
        r#"{"msg":"x"}"#,
        "--key",
        key,
        "--rpc",
        &url,
    ]);
    assert!(
        !o.status.success() && text(&o).contains("no parameter `msg`"),
        "{}",
        text(&o)
    );
}
