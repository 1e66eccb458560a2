//! The TypeScript client (sdk/ts) against this build: its tests check the golden vectors byte
//! for byte, then deploy the token on a live `phalanx dev`, transfer, follow the transfer over
//! a subscription, and verify a balance with the genesis file as the only trusted input,
//! refusing a tampered proof and a forged certificate. Needs Node.js 20.19+ and npm (the first
//! run installs the package's dependencies with `npm ci`).

mod common;
#[path = "../../runtime/benches/support/example_contracts.rs"]
mod example_contracts;

use common::{SERIAL, npm, text};
use std::path::Path;
use std::process::Command;

#[test]
fn the_typescript_client_matches_the_vectors_and_verifies_a_live_chain() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let pkg = repo.join("sdk/ts");
    common::npm_installed(&pkg);
    // The API types are those of the node's OpenRPC document (docs/openrpc.json, itself
    // checked against the Rust types by phalanx-rpc's tests).
    npm(&pkg, &["run", "gen:api", "--", "--check"]);
    npm(&pkg, &["run", "build"]);
    let token = example_contracts::build("token", &repo.join("contracts/Cargo.toml"));
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut d = common::dev();
    let o = Command::new("node")
        .args(["--experimental-websocket", "--test", "dist/test/"])
        .current_dir(&pkg)
        .env("PHALANX_RPC", &d.url)
        .env("PHALANX_DEV_KEY", &d.key)
        .env("PHALANX_GENESIS", d.home.join("config/genesis.json"))
        .env("PHALANX_TOKEN_WASM", &token)
        .output()
        .expect("node runs");
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    // Every test ran, the live one included.
    assert!(
        out.contains("# pass 9") && out.contains("# skipped 0"),
        "{out}"
    );

    // docs/CLIENTS.md, as a user follows it: an app of its own outside the repository that
    // installs the package, and the example app run against a token deployed with the CLI.
    let outside = tempfile::tempdir().unwrap();
    let app = outside.path().join("myapp");
    std::fs::create_dir(&app).unwrap();
    npm(&app, &["init", "-y"]);
    npm(
        &app,
        &["install", "--no-audit", "--no-fund", pkg.to_str().unwrap()],
    );
    let example = std::fs::read_to_string(pkg.join("examples/app.mjs")).unwrap();
    std::fs::write(app.join("app.mjs"), &example).unwrap();
    let init = r#"{"name":"Gold","symbol":"GLD","decimals":2,"supply":"1000000"}"#;
    let o = common::phalanx(&[
        "--output",
        "json",
        "tx",
        "deploy",
        token.to_str().unwrap(),
        "--init",
        init,
        "--key",
        d.key.to_str().unwrap(),
        "--rpc",
        &d.url,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let deployed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let address = deployed["receipt"]["return"].as_str().unwrap();
    let o = Command::new("node")
        .args(["app.mjs", address])
        .current_dir(&app)
        .env("PHALANX_HOME", &d.home)
        .env("PHALANX_RPC", &d.url)
        .output()
        .expect("node runs");
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    println!("{out}");
    assert!(out.contains("transfer: ok"), "{out}");
    assert!(
        out.contains(r#"verified against genesis: balance "42""#),
        "{out}"
    );
    // A subscription outlives a node restart: the follower sees a transfer, the node is
    // killed and started again on the same home and port, and it sees the next one.
    let follow = std::fs::read_to_string(pkg.join("examples/follow.mjs")).unwrap();
    std::fs::write(app.join("follow.mjs"), follow).unwrap();
    let mut follower = Command::new("node")
        .args(["--experimental-websocket", "follow.mjs", address])
        .current_dir(&app)
        .env("PHALANX_RPC", &d.url)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node runs");
    let (lines, seen) = std::sync::mpsc::channel::<String>();
    let stdout = follower.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line);
        }
    });
    let transfer = |d: &common::Dev| {
        let args = format!(r#"{{"to":"{}","amount":"1"}}"#, "ab".repeat(32));
        let o = common::phalanx(&[
            "tx",
            "call",
            address,
            "transfer",
            &args,
            "--key",
            d.key.to_str().unwrap(),
            "--rpc",
            &d.url,
        ]);
        assert!(o.status.success(), "{}", text(&o));
    };
    let expect = |what: &str, on: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match seen.recv_timeout(left) {
                Ok(line) if line.starts_with(what) && line.contains(on) => return,
                Ok(_) => {}
                Err(_) => panic!("the follower never printed {what} on {on}"),
            }
        }
    };
    expect("subscribed", "(connection 1)");
    transfer(&d);
    expect("event transfer", "(connection 1)");
    let _ = d.child.kill();
    let _ = d.child.wait();
    d.child = Command::new(common::bin())
        .args(["dev", "--home"])
        .arg(&d.home)
        .args(["--rpc", &format!("127.0.0.1:{}", d.port)])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_for(
        std::time::Duration::from_secs(20),
        "the dev chain again",
        || common::rpc_try(&d.url, "node_status", serde_json::json!({})).is_ok(),
    );
    // The follower reconnects within its back-off (at most 8 s) and sees the next transfer.
    expect("subscribed", "(connection 2)");
    transfer(&d);
    expect("event transfer", "(connection 2)");
    let _ = follower.kill();
    let _ = follower.wait();

    // The walkthrough shows the app verbatim.
    let doc = std::fs::read_to_string(repo.join("docs/CLIENTS.md")).unwrap();
    assert!(
        doc.contains(&format!("```js\n{example}```")),
        "docs/CLIENTS.md does not show sdk/ts/examples/app.mjs as it is"
    );
}
