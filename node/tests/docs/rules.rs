//! What happens to each documented command line: most run as written; the few that cannot
//! run on a test machine are checked instead, each by a fixed rule:
//!
//! * `cargo run -p phalanx -- ARGS` runs as `phalanx ARGS` (the binary under test);
//! * other `cargo …` lines (builds, tests, benchmarks: what CI runs itself) are checked:
//!   every package, test, benchmark, feature, manifest and fuzz target they name exists,
//!   and every environment variable they set is read somewhere in the sources;
//! * `apt-get install …`: every package is one `.ci/run` installs;
//! * `install target/release/phalanx /usr/local/bin/`: the binary under test is there;
//! * `systemctl enable --now phalanx` starts the installed unit's `ExecStart` as its `User`
//!   with its `Environment` (no systemd runs in a test); `systemctl daemon-reload` and
//!   `journalctl` do nothing;
//! * `docker …`: the files named exist (node/tests/deploy.rs lints them);
//! * `scripts/X.sh`: the script exists and parses (`bash -n`).

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What to do with one logical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// Run this shell text.
    Run(String),
    /// Checked, not run (the rule that applied).
    Checked(&'static str),
}

/// What `systemctl enable --now phalanx` does here.
pub const START_UNIT: &str = r#"unit=/etc/systemd/system/phalanx.service
test -f "$unit"
umask 0077
runuser -u "$(sed -n 's/^User=//p' "$unit")" -- env $(sed -n 's/^Environment=//p' "$unit") \
  $(sed -n 's/^ExecStart=//p' "$unit") > /tmp/phalanx.service.log 2>&1 &"#;

struct Package {
    name: String,
    targets: Vec<(String, String)>,
    features: Vec<String>,
}

/// The facts the rules check against.
pub struct Rules {
    repo: PathBuf,
    workspaces: BTreeMap<PathBuf, Vec<Package>>,
    ci: String,
    sources: String,
}

fn metadata(manifest: &Path) -> Vec<Package> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let o = Command::new(cargo)
        .args([
            "metadata",
            "--offline",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(manifest)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Package {
            name: p["name"].as_str().unwrap().to_string(),
            targets: p["targets"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|t| {
                    let name = t["name"].as_str().unwrap().to_string();
                    t["kind"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(move |k| (k.as_str().unwrap().to_string(), name.clone()))
                })
                .collect(),
            features: p["features"].as_object().unwrap().keys().cloned().collect(),
        })
        .collect()
}

/// Every `.rs` and `.sh` file's text under `dir` (not build output or dependencies).
fn read_sources(dir: &Path, out: &mut String) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !["target", "node_modules", ".git", "dist"].contains(&name.as_ref()) {
                read_sources(&path, out);
            }
        } else if name.ends_with(".rs") || name.ends_with(".sh") {
            out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
}

/// Splits leading `NAME=value` assignments off a command.
fn env_prefix(line: &str) -> (Vec<String>, &str) {
    let mut names = Vec::new();
    let mut rest = line.trim_start();
    while let Some((word, after)) = rest.split_once(char::is_whitespace) {
        match word.split_once('=') {
            Some((name, _))
                if !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') =>
            {
                names.push(name.to_string());
                rest = after.trim_start();
            }
            _ => break,
        }
    }
    (names, rest)
}

/// A command's words, up to a `#` comment, quotes removed.
fn words(command: &str) -> Vec<String> {
    command
        .split_whitespace()
        .take_while(|w| !w.starts_with('#'))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '"').to_string())
        .collect()
}

impl Rules {
    /// The rules for the repository at `repo`.
    pub fn new(repo: &Path) -> Rules {
        let mut workspaces = BTreeMap::new();
        for m in ["Cargo.toml", "contracts/Cargo.toml"] {
            workspaces.insert(repo.join(m), metadata(&repo.join(m)));
        }
        let mut sources = String::new();
        for d in ["node", "runtime", "sdk", "genesis", "contracts", "scripts"] {
            read_sources(&repo.join(d), &mut sources);
        }
        Rules {
            repo: repo.to_path_buf(),
            workspaces,
            ci: std::fs::read_to_string(repo.join(".ci/run")).unwrap(),
            sources,
        }
    }

    /// What to do with `line` (one logical line of a block).
    pub fn classify(&self, line: &str) -> Result<Line, String> {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return Ok(Line::Run(line.to_string()));
        }
        let (env, command) = env_prefix(trimmed);
        let w = words(command);
        match w.first().map(String::as_str) {
            Some("cargo") => {
                if let Some(rest) = command.strip_prefix("cargo run -p phalanx -- ") {
                    return Ok(Line::Run(format!("phalanx {rest}")));
                }
                for name in &env {
                    if !self.sources.contains(name.as_str()) {
                        return Err(format!("{line:?}: no source reads {name}"));
                    }
                }
                let mut dir = self.repo.clone();
                for part in command.split("&&") {
                    let w = words(part);
                    match w.first().map(String::as_str) {
                        Some("cargo") => self
                            .check_cargo(&w, &dir)
                            .map_err(|e| format!("{line:?}: {e}"))?,
                        Some("cd") => {
                            dir = dir.join(w.get(1).map(String::as_str).unwrap_or(""));
                            if !dir.is_dir() {
                                return Err(format!("{line:?}: no directory {}", dir.display()));
                            }
                        }
                        _ => return Err(format!("{line:?}: cannot check {part:?}")),
                    }
                }
                Ok(Line::Checked("cargo"))
            }
            Some("apt-get") => {
                for pkg in w.iter().skip(2).filter(|p| !p.starts_with('-')) {
                    if !self.ci.contains(pkg.as_str()) {
                        return Err(format!("{line:?}: .ci/run does not install {pkg}"));
                    }
                }
                Ok(Line::Checked("apt-get"))
            }
            Some("install") if w.iter().any(|a| a == "target/release/phalanx") => {
                Ok(Line::Checked("install the release build"))
            }
            Some("systemctl") => match w[1..].join(" ").as_str() {
                "daemon-reload" => Ok(Line::Checked("systemctl daemon-reload")),
                "enable --now phalanx" => Ok(Line::Run(START_UNIT.to_string())),
                other => Err(format!("{line:?}: no rule for systemctl {other}")),
            },
            Some("journalctl") => Ok(Line::Checked("journalctl")),
            Some("docker") => {
                for pair in w.windows(2).filter(|p| p[0] == "-f") {
                    if !self.repo.join(&pair[1]).is_file() {
                        return Err(format!("{line:?}: no file {}", pair[1]));
                    }
                }
                Ok(Line::Checked("docker"))
            }
            Some(s) if s.starts_with("scripts/") => {
                let ok = Command::new("bash")
                    .arg("-n")
                    .arg(self.repo.join(s))
                    .status()
                    .is_ok_and(|st| st.success());
                if !ok {
                    return Err(format!("{line:?}: {s} is missing or does not parse"));
                }
                Ok(Line::Checked("script"))
            }
            _ => Ok(Line::Run(line.to_string())),
        }
    }

    /// Checks one `cargo …` command (words) run from `dir`.
    fn check_cargo(&self, w: &[String], dir: &Path) -> Result<(), String> {
        let mut i = 1;
        if w.get(i).is_some_and(|s| s.starts_with('+')) {
            i += 1;
        }
        let sub = w.get(i).map(String::as_str).unwrap_or("");
        let arg = |flag: &str| -> Vec<&str> {
            w.windows(2)
                .filter(|p| p[0] == flag)
                .map(|p| p[1].as_str())
                .collect()
        };
        match sub {
            "fuzz" => {
                let target = w.get(i + 2).ok_or("no fuzz target")?;
                let file = dir.join(format!("fuzz_targets/{target}.rs"));
                if !file.is_file() {
                    return Err(format!("no fuzz target {}", file.display()));
                }
                return Ok(());
            }
            "install" => {
                for p in arg("--path") {
                    if !dir.join(p).join("Cargo.toml").is_file() {
                        return Err(format!("no crate at {p}"));
                    }
                }
                return Ok(());
            }
            "build" | "test" | "bench" | "run" | "check" | "clippy" => {}
            other => return Err(format!("no rule for cargo {other}")),
        }
        let manifest = match arg("--manifest-path").first() {
            Some(m) => dir.join(m),
            None => self.repo.join("Cargo.toml"),
        };
        let packages = self
            .workspaces
            .get(&manifest)
            .ok_or_else(|| format!("no workspace at {}", manifest.display()))?;
        let mut chosen: Vec<&Package> = Vec::new();
        for flag in ["-p", "--package"] {
            for name in arg(flag) {
                chosen.push(
                    packages
                        .iter()
                        .find(|p| p.name == name)
                        .ok_or_else(|| format!("no package {name}"))?,
                );
            }
        }
        let scope: Vec<&Package> = if chosen.is_empty() {
            packages.iter().collect()
        } else {
            chosen.clone()
        };
        for (flag, kind) in [("--test", "test"), ("--bench", "bench")] {
            for name in arg(flag) {
                if !scope
                    .iter()
                    .any(|p| p.targets.iter().any(|(k, n)| k == kind && n == name))
                {
                    return Err(format!("no {kind} target {name}"));
                }
            }
        }
        for list in arg("--features") {
            for feature in list.split(',') {
                let ok = match feature.split_once('/') {
                    Some((pkg, f)) => packages
                        .iter()
                        .any(|p| p.name == pkg && p.features.iter().any(|x| x == f)),
                    None => scope
                        .iter()
                        .any(|p| p.features.iter().any(|x| x == feature)),
                };
                if !ok {
                    return Err(format!("no feature {feature}"));
                }
            }
        }
        Ok(())
    }
}

/// Flags that only some builds have.
const FEATURE_GATED: [&str; 1] = ["--byzantine"];

/// Checks an inline `phalanx …` command against the CLI: its subcommands exist and each
/// `--flag` it uses is one the subcommand (or the global options) takes.
pub fn check_inline(
    binary: &Path,
    text: &str,
    help: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    let mut get_help = |path: &[&str]| -> Option<String> {
        let key = path.join(" ");
        if let Some(h) = help.get(&key) {
            return Some(h.clone());
        }
        let o = Command::new(binary)
            .args(path)
            .arg("--help")
            .output()
            .ok()?;
        if !o.status.success() {
            return None;
        }
        let h = String::from_utf8_lossy(&o.stdout).into_owned();
        help.insert(key, h.clone());
        Some(h)
    };
    let tokens: Vec<&str> = text.split_whitespace().skip(1).collect();
    let mut path: Vec<&str> = Vec::new();
    for t in &tokens {
        let is_word = t.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && t.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !is_word {
            break;
        }
        let mut next = path.clone();
        next.push(t);
        if get_help(&next).is_none() {
            // A word where the command expects a subcommand is a misspelt one.
            let here = get_help(&path).unwrap_or_default();
            if here.contains("\nCommands:") {
                return Err(format!(
                    "`{text}`: phalanx {} has no subcommand {t}",
                    path.join(" ")
                ));
            }
            break;
        }
        path = next;
    }
    if path.is_empty() && tokens.first().is_some_and(|t| !t.starts_with("--")) {
        return Err(format!("`{text}`: not a phalanx command"));
    }
    let mut own = get_help(&path).ok_or_else(|| format!("`{text}`: no help"))?;
    let global = get_help(&[]).unwrap_or_default();
    // `phalanx tx … --gas auto`: a flag of one of the subcommands the `…` stands for.
    if text.contains('…') {
        let children: Vec<String> = own
            .split("Commands:")
            .nth(1)
            .unwrap_or("")
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect();
        for child in children {
            let mut p = path.clone();
            p.push(&child);
            own.push_str(&get_help(&p).unwrap_or_default());
        }
    }
    for t in tokens
        .iter()
        .filter(|t| t.trim_start_matches('[').starts_with("--"))
    {
        let flag = t
            .trim_start_matches('[')
            .split(['=', ']', ',', ')', '|'])
            .next()
            .unwrap_or("");
        let known = |h: &str| {
            h.match_indices(flag).any(|(i, _)| {
                !h[i + flag.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
            })
        };
        // Compiled into test builds only (the `byzantine` feature).
        if FEATURE_GATED.contains(&flag) && !known(&own) {
            continue;
        }
        if !known(&own) && !known(&global) {
            return Err(format!(
                "`{text}`: phalanx {} takes no {flag}",
                path.join(" ")
            ));
        }
    }
    Ok(())
}
