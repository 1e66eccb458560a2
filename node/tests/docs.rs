//! The documentation works as written. Every `sh` block of README.md and docs/OPERATOR.md is
//! extracted and run, in document order, on fresh "machines" (network and mount namespaces:
//! see `docs/lab.rs`), or checked by a fixed rule where it cannot run here (`docs/rules.rs`:
//! cargo builds and benchmarks, apt-get, systemd, docker); a block left to another test names
//! it. Every inline `phalanx …` command of those and docs/GOVERNANCE.md (which has no command
//! blocks) is checked against the CLI, as are the commands of skipped blocks.
//!
//! OPERATOR.md is a walkthrough: alpha, bravo and charlie (10.0.0.1–3, each its own network
//! namespace on a shared bridge, so peers talk over non-loopback addresses) create homes,
//! build a genesis from each other's public data, start as systemd would, and then admit
//! delta (10.0.0.4) by governance. The test checks the four agree on the chain.
//!
//! Needs root (network namespaces), as CI has. `DOCTEST_KEEP=1` keeps the machines'
//! directories (under the target directory) for a look afterwards.

#[path = "../../runtime/benches/support/example_contracts.rs"]
mod example_contracts;
#[path = "docs/lab.rs"]
mod lab;
#[path = "docs/markdown.rs"]
mod markdown;
#[path = "docs/rules.rs"]
mod rules;

use lab::Lab;
use markdown::{Block, Mode};
use rules::{Line, Rules};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// The two walkthroughs each run several nodes: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The longest one documented script may take (a governance transaction waits for
/// finality; the README's benchmark line runs 15 s).
const SCRIPT_LIMIT: Duration = Duration::from_secs(240);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_phalanx"))
}

/// The example contracts, built: the directory that stands for `contracts/target`.
fn contracts() -> PathBuf {
    let manifest = repo().join("contracts/Cargo.toml");
    let mut dir = PathBuf::new();
    for name in ["counter", "token", "nft", "multisig"] {
        let wasm = example_contracts::build(name, &manifest);
        dir = wasm
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .to_path_buf();
    }
    dir
}

/// Runs one document's blocks on `lab`.
struct Walk<'a> {
    lab: &'a mut Lab,
    rules: &'a Rules,
    /// What each rule did, for the report.
    tally: BTreeMap<String, usize>,
    /// `--help` texts, for checking commands that are not run.
    help: BTreeMap<String, String>,
    /// The identity variables of each machine with a home (they never change).
    known: BTreeMap<String, Vec<(String, String)>>,
}

impl<'a> Walk<'a> {
    fn new(lab: &'a mut Lab, rules: &'a Rules) -> Walk<'a> {
        Walk {
            lab,
            rules,
            tally: BTreeMap::new(),
            help: BTreeMap::new(),
            known: BTreeMap::new(),
        }
    }

    /// The public identity of every machine with a node home, as the variables the docs
    /// use for what its operator sent: `BRAVO_PUBLIC_KEY`, `BRAVO_PEER_ID`.
    fn identities(&mut self) -> Vec<(String, String)> {
        for name in self.lab.machines.keys() {
            let home = self.lab.path(name, "/var/lib/phalanx");
            if self.known.contains_key(name) || !home.join("config/node_key").exists() {
                continue;
            }
            let mut env = Vec::new();
            let show = |what: &str| -> Value {
                let o = std::process::Command::new(binary())
                    .args(["--output", "json", what, "--home"])
                    .arg(&home)
                    .output()
                    .unwrap();
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                serde_json::from_slice(&o.stdout).unwrap()
            };
            let upper = name.to_uppercase();
            let v = show("show-validator");
            env.push((
                format!("{upper}_PUBLIC_KEY"),
                v["public_key"].as_str().unwrap().to_string(),
            ));
            let n = show("show-node-id");
            env.push((
                format!("{upper}_PEER_ID"),
                n["peer_id"].as_str().unwrap().to_string(),
            ));
            self.known.insert(name.clone(), env);
        }
        self.known.values().flatten().cloned().collect()
    }

    /// Sends `/tmp` files a script names, and `machine` lacks, from the machine that has
    /// them (what an operator does with scp).
    fn deliver(&self, machine: &str, script: &str) {
        for (i, _) in script.match_indices("/tmp/") {
            let name: String = script[i + 5..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
                .collect();
            let inside = format!("/tmp/{name}");
            let here = self.lab.path(machine, &inside);
            if name.is_empty() || name.ends_with(".log") || here.exists() {
                continue;
            }
            if let Some(from) = self
                .lab
                .machines
                .keys()
                .map(|m| self.lab.path(m, &inside))
                .find(|p| p.is_file())
            {
                std::fs::copy(from, &here).unwrap();
            }
        }
    }

    /// Runs or checks one block.
    fn block(&mut self, block: &Block) {
        if let Mode::Skip { covered } = &block.mode {
            assert!(
                repo().join(covered).is_file(),
                "{}: no test {covered}",
                block.at
            );
            for line in markdown::logical_lines(block).unwrap_or_else(|e| panic!("{e}")) {
                match self
                    .rules
                    .classify(&line)
                    .unwrap_or_else(|e| panic!("{}: {e}", block.at))
                {
                    Line::Run(t) if t.trim_start().starts_with("phalanx ") => {
                        rules::check_inline(&binary(), t.trim(), &mut self.help)
                            .unwrap_or_else(|e| panic!("{}: {e}", block.at));
                    }
                    _ => {}
                }
            }
            *self
                .tally
                .entry(format!("blocks left to {covered}"))
                .or_default() += 1;
            return;
        }
        let names: Vec<String> = self.lab.machines.keys().cloned().collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let sections = markdown::sections(block, &names).unwrap_or_else(|e| panic!("{e}"));
        let mut scripts = Vec::new();
        for (on, lines) in markdown::scripts(sections) {
            let mut text = String::new();
            for line in &lines {
                match self
                    .rules
                    .classify(line)
                    .unwrap_or_else(|e| panic!("{}: {e}", block.at))
                {
                    Line::Run(t) => {
                        *self.tally.entry("run".into()).or_default() += 1;
                        text.push_str(&t);
                    }
                    Line::Checked(rule) => {
                        *self.tally.entry(format!("checked ({rule})")).or_default() += 1;
                        text.push_str(&format!(": checked, not run: {rule}"));
                    }
                }
                text.push('\n');
            }
            scripts.push((on, text));
        }
        let limit = block.timeout.map_or(SCRIPT_LIMIT, Duration::from_secs);
        let mut output = String::new();
        let mut outputs: BTreeMap<String, String> = BTreeMap::new();
        let mut started = Vec::new();
        for (on, script) in scripts {
            for machine in &on {
                self.deliver(machine, &script);
                let env = self.identities();
                if let Some(port) = block.serve {
                    let log = self.lab.spawn(machine, &script, &env);
                    self.lab.wait(
                        Duration::from_secs(60),
                        &format!("{}: RPC on {machine}:{port} ({})", block.at, log.display()),
                        |lab| lab.rpc(machine, port, "node_status", json!({})).is_some(),
                    );
                    continue;
                }
                let ran = self.lab.run(machine, &script, &env, limit);
                println!("--- {} on {machine}\n{script}{}", block.at, ran.stdout);
                assert!(
                    ran.ok,
                    "{} failed on {machine}:\n{script}\n--- stdout\n{}\n--- stderr\n{}",
                    block.at, ran.stdout, ran.stderr
                );
                output.push_str(&ran.stdout);
                outputs
                    .entry(machine.clone())
                    .or_default()
                    .push_str(&ran.stdout);
                if script.contains(rules::START_UNIT) {
                    self.lab.wait(
                        Duration::from_secs(60),
                        &format!("{}: the service on {machine}", block.at),
                        |lab| lab.height(machine).is_some(),
                    );
                    started.push(machine.clone());
                }
            }
        }
        // Services started: the network they form commits (as systemd would have them, up
        // for good) before the next command relies on it.
        let at = |lab: &Lab, m: &str| lab.height(m).unwrap_or(0);
        let from: Vec<u64> = started.iter().map(|m| at(self.lab, m)).collect();
        self.lab.wait(
            Duration::from_secs(90),
            &format!("{}: commits on {started:?}", block.at),
            |lab| started.iter().zip(&from).all(|(m, h)| at(lab, m) > *h),
        );
        if block.same {
            let first = outputs.values().next().cloned().unwrap_or_default();
            assert!(
                outputs.len() > 1 && outputs.values().all(|o| *o == first),
                "{}: the machines printed different things: {outputs:?}",
                block.at
            );
        }
        for e in &block.expect {
            assert!(
                output.contains(e.as_str()),
                "{}: no {e:?} in:\n{output}",
                block.at
            );
        }
    }

    /// Runs every block of `file`, in order.
    fn document(&mut self, file: &str, default_on: &[&str]) {
        let text = std::fs::read_to_string(repo().join(file)).unwrap();
        let default_on: Vec<String> = default_on.iter().map(|s| s.to_string()).collect();
        let (blocks, _) =
            markdown::parse(file, &text, &default_on).unwrap_or_else(|e| panic!("{e}"));
        assert!(!blocks.is_empty(), "{file} has no command blocks");
        for b in &blocks {
            self.block(b);
        }
        println!("{file}: {} blocks; lines: {:?}", blocks.len(), self.tally);
    }
}

/// Whether the machines can be built here: they need root and `ip netns`. CI sets
/// `PHALANX_DOCTEST=required`, so there a missing one fails the test; elsewhere (a
/// contributor's `cargo test` as a user) the walkthroughs are skipped, and say so.
fn can_run() -> bool {
    let ok = is_root()
        && std::process::Command::new("ip")
            .args(["netns", "list"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("PHALANX_DOCTEST").as_deref() != Ok("required"),
            "the documentation tests need root and `ip netns`"
        );
        eprintln!("skipped: the documentation walkthroughs need root and `ip netns`");
    }
    ok
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        .unwrap_or(false)
}

fn lab(specs: &[(&str, Option<&str>)]) -> Lab {
    let target = example_contracts::target_root();
    Lab::new(&target, &repo(), &binary(), &contracts(), specs)
}

#[test]
fn readme_commands_run_as_written() {
    if !can_run() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut lab = lab(&[("dev", None)]);
    let rules = Rules::new(&repo());
    let mut walk = Walk::new(&mut lab, &rules);
    walk.document("README.md", &["dev"]);
    // The dev chain the README started is still committing.
    let mut h = None;
    lab.wait(Duration::from_secs(30), "the dev chain's status", |lab| {
        h = lab.height("dev");
        h.is_some()
    });
    lab.wait(Duration::from_secs(30), "the dev chain to go on", |lab| {
        lab.height("dev") > h
    });
}

#[test]
fn the_operator_guide_builds_a_network_of_separate_machines() {
    if !can_run() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let machines = ["alpha", "bravo", "charlie", "delta"];
    let mut lab = lab(&[
        ("alpha", Some("10.0.0.1")),
        ("bravo", Some("10.0.0.2")),
        ("charlie", Some("10.0.0.3")),
        ("delta", Some("10.0.0.4")),
    ]);
    let rules = Rules::new(&repo());
    let mut walk = Walk::new(&mut lab, &rules);
    walk.document("docs/OPERATOR.md", &["alpha", "bravo", "charlie"]);
    let delta = walk.identities();
    let delta_key = delta
        .iter()
        .find(|(k, _)| k == "DELTA_PUBLIC_KEY")
        .map(|(_, v)| v.clone())
        .expect("delta has a home");
    // Delta votes, every node sees four validators, and the four agree block by block.
    lab.wait(
        Duration::from_secs(90),
        "delta to join the validators",
        |lab| {
            machines.iter().all(|m| {
                lab.rpc(m, 8645, "node_status", json!({})).is_some_and(|s| {
                    s["validators"] == 4 && (*m != "delta" || !s["validator"].is_null())
                })
            })
        },
    );
    let height = |lab: &Lab, m: &str| lab.height(m).unwrap_or(0);
    let joined = height(&lab, "delta");
    lab.wait(
        Duration::from_secs(60),
        "all four past delta's joining height",
        |lab| machines.iter().all(|m| height(lab, m) >= joined + 3),
    );
    let hashes: Vec<Value> = machines
        .iter()
        .map(|m| {
            lab.rpc(m, 8645, "chain_getBlock", json!({"height": joined + 2}))
                .unwrap()["header"]["hash"]
                .clone()
        })
        .collect();
    assert!(
        hashes.iter().all(|h| *h == hashes[0] && h.is_string()),
        "{hashes:?}"
    );
    let set = lab
        .rpc("alpha", 8645, "chain_getValidators", json!({}))
        .unwrap();
    assert!(
        set.as_array()
            .unwrap()
            .iter()
            .any(|v| v["public_key"] == delta_key),
        "{set}"
    );
}

#[test]
fn inline_commands_match_the_cli() {
    let mut help = BTreeMap::new();
    let mut checked = 0;
    for file in ["README.md", "docs/OPERATOR.md", "docs/GOVERNANCE.md"] {
        let text = std::fs::read_to_string(repo().join(file)).unwrap();
        let (_, inline) = markdown::parse(file, &text, &[]).unwrap_or_else(|e| panic!("{e}"));
        for span in inline {
            rules::check_inline(&binary(), &span.text, &mut help)
                .unwrap_or_else(|e| panic!("{}: {e}", span.at));
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} inline commands found");
    // The rule can fail.
    assert!(
        rules::check_inline(
            &binary(),
            "phalanx gov propose add-validator --node-home X",
            &mut help
        )
        .is_err()
    );
    assert!(rules::check_inline(&binary(), "phalanx frobnicate", &mut help).is_err());
}
