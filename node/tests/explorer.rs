//! The block explorer (node/explorer) in a real headless Chromium against a live `phalanx
//! dev` with a token deployed and transfers made: every page is opened and its DOM checked
//! (node/explorer/test/explorer.test.mjs, playwright-core driving Debian's `chromium`;
//! nothing downloads a browser). Screenshots land in `target/explorer-screenshots/`. Also
//! checks that the bundle the node embeds is the one its sources build. Needs Node.js 20,
//! npm and `/usr/bin/chromium` (or `CHROMIUM`); .ci/run installs them.

mod common;
#[path = "../../runtime/benches/support/example_contracts.rs"]
mod example_contracts;

use common::{SERIAL, npm, npm_installed, text};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn json_of(args: &[&str]) -> Value {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    let o = common::phalanx(&all);
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", text(&o)))
}

#[test]
fn the_explorer_shows_a_live_chain_in_a_real_browser() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let app = repo.join("node/explorer");
    // The bundle's sources include the TypeScript client, whose dependencies it bundles.
    npm_installed(&repo.join("sdk/ts"));
    npm_installed(&app);
    npm(&app, &["run", "typecheck"]);
    npm(&app, &["run", "check"]);
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "no browser at {chromium}: install Debian's chromium (apt) or set CHROMIUM"
    );
    let token = example_contracts::build("token", &repo.join("contracts/Cargo.toml"));
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = common::dev();
    let key = d.key.to_str().unwrap();
    let dev_address = json_of(&["keys", "show", key])["address"]
        .as_str()
        .unwrap()
        .to_string();
    let init = r#"{"name":"Gold","symbol":"GLD","decimals":2,"supply":"1000000"}"#;
    let deployed = json_of(&[
        "tx",
        "deploy",
        token.to_str().unwrap(),
        "--init",
        init,
        "--key",
        key,
        "--rpc",
        &d.url,
    ]);
    let token_address = deployed["receipt"]["return"].as_str().unwrap().to_string();
    let recipient = "ab".repeat(32);
    let transfer = |amount: &str, to: &str| {
        let args = format!(r#"{{"to":"{to}","amount":"{amount}"}}"#);
        json_of(&[
            "tx",
            "call",
            &token_address,
            "transfer",
            &args,
            "--key",
            key,
            "--rpc",
            &d.url,
        ])
    };
    let sent = transfer("250", &recipient);
    transfer("7", &"cd".repeat(32));
    let status = json_of(&["status", "--rpc", &d.url]);
    let validator = status["validator"].as_str().unwrap().to_string();
    // Another chain's genesis with the same id: its validator did not sign this chain.
    let genesis = d.home.join("config/genesis.json");
    let chain_id = serde_json::from_str::<Value>(&std::fs::read_to_string(&genesis).unwrap())
        .unwrap()["chain_id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = d.dir.path().join("other");
    let o = common::phalanx(&[
        "init",
        "--home",
        other.to_str().unwrap(),
        "--chain-id",
        &chain_id,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let other_genesis = std::fs::read_to_string(other.join("config/genesis.json")).unwrap();
    let shots = repo.join("target/explorer-screenshots");
    let o = Command::new("node")
        .args(["--test", "test/"])
        .current_dir(&app)
        .env("PHALANX_EXPLORER", format!("{}/explorer/", d.url))
        .env("PHALANX_SCREENSHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .env("PHALANX_TOKEN", &token_address)
        .env("PHALANX_RECIPIENT", &recipient)
        .env("PHALANX_TRANSFER_TX", sent["hash"].as_str().unwrap())
        .env(
            "PHALANX_TRANSFER_HEIGHT",
            sent["receipt"]["height"].to_string(),
        )
        .env("PHALANX_VALIDATOR", &validator)
        .env("PHALANX_DEV_ADDRESS", &dev_address)
        // deploy + two transfers
        .env("PHALANX_DEV_NONCE", "3")
        .env("PHALANX_GENESIS", &genesis)
        .env("PHALANX_OTHER_GENESIS_JSON", &other_genesis)
        .output()
        .expect("node runs");
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("# fail 0") && out.contains("# skipped 0"),
        "{out}"
    );
    for page in [
        "overview",
        "validators",
        "block",
        "transaction",
        "account",
        "contract",
        "proof",
        "phone",
    ] {
        assert!(
            shots.join(format!("{page}.png")).exists(),
            "no screenshot of {page}"
        );
    }
}
