//! "Machines" on one box for running documented commands as written: each is a network
//! namespace (its own loopback, and an `eth0` with its own address on a shared bridge) plus,
//! per command, a private mount namespace in which `/etc`, `/home`, `/tmp`, `/var/lib` and
//! `/usr/local/bin` are the machine's own directories. So `/var/lib/phalanx`, port 8645,
//! `useradd` and `/etc/systemd/system` are per machine, as on separate hosts, and nothing
//! touches the host's. `/usr/local/bin/phalanx` is the binary under test.
//!
//! Needs root (network namespaces), as CI has.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The directories a machine has of its own, as (inside path, directory name).
const PRIVATE: [(&str, &str); 5] = [
    ("/etc", "etc"),
    ("/home", "home"),
    ("/var/lib", "varlib"),
    ("/usr/local/bin", "bin"),
    ("/tmp", "tmp"),
];

/// The home directory of the operator's shell on every machine.
pub const HOME: &str = "/home/operator";

/// One machine.
#[derive(Debug)]
pub struct Machine {
    /// Its network namespace.
    pub ns: String,
    /// Its private directories.
    pub dir: PathBuf,
}

/// What a command printed.
#[derive(Debug)]
pub struct Ran {
    /// Exit success.
    pub ok: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// A set of machines, torn down on drop.
pub struct Lab {
    root: PathBuf,
    repo: PathBuf,
    contracts: PathBuf,
    switch: String,
    /// The machines by name.
    pub machines: BTreeMap<String, Machine>,
    background: Vec<Child>,
    scripts: usize,
}

fn host(args: &[&str]) {
    let o = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        o.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    host(&[
        "cp",
        "-a",
        &format!("{}/.", from.display()),
        to.to_str().unwrap(),
    ]);
}

impl Lab {
    /// Machines `specs` (name, address on the shared /24 or none), under `root`, running
    /// commands from `repo` with `binary` as `/usr/local/bin/phalanx` and `contracts` (built
    /// example contracts) as the repository's `contracts/target`.
    pub fn new(
        root: &Path,
        repo: &Path,
        binary: &Path,
        contracts: &Path,
        specs: &[(&str, Option<&str>)],
    ) -> Lab {
        let id = std::process::id().to_string();
        // The commands reach these through host paths after the private mounts are in
        // place: none may lie under one.
        for p in [root, repo, binary, contracts] {
            if let Some((inside, _)) = PRIVATE.iter().find(|(inside, _)| p.starts_with(inside)) {
                panic!(
                    "{} is under {inside}, which each machine replaces",
                    p.display()
                );
            }
        }
        remove_stale(root);
        let root = root.join(format!("doclab-{id}"));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(repo.join("contracts/target")).unwrap();
        let switch = format!("pxds-{id}");
        host(&["ip", "netns", "add", &switch]);
        let mut lab = Lab {
            root: root.clone(),
            repo: repo.to_path_buf(),
            contracts: contracts.to_path_buf(),
            switch: switch.clone(),
            machines: BTreeMap::new(),
            background: Vec::new(),
            scripts: 0,
        };
        host(&["ip", "-n", &switch, "link", "add", "br0", "type", "bridge"]);
        host(&["ip", "-n", &switch, "link", "set", "br0", "up"]);
        for (k, (name, ip)) in specs.iter().enumerate() {
            let ns = format!("pxd{k}-{name}-{id}");
            let dir = root.join(name);
            host(&["ip", "netns", "add", &ns]);
            // Known before anything else can fail, so the drop removes it.
            lab.machines.insert(
                name.to_string(),
                Machine {
                    ns: ns.clone(),
                    dir: dir.clone(),
                },
            );
            host(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
            if let Some(ip) = ip {
                let (a, b) = (format!("pxda{k}-{id}"), format!("pxdb{k}-{id}"));
                host(&["ip", "link", "add", &a, "type", "veth", "peer", "name", &b]);
                host(&["ip", "link", "set", &a, "netns", &ns]);
                host(&["ip", "link", "set", &b, "netns", &switch]);
                host(&["ip", "-n", &ns, "link", "set", &a, "name", "eth0"]);
                host(&[
                    "ip",
                    "-n",
                    &ns,
                    "addr",
                    "add",
                    &format!("{ip}/24"),
                    "dev",
                    "eth0",
                ]);
                host(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
                host(&["ip", "-n", &switch, "link", "set", &b, "master", "br0"]);
                host(&["ip", "-n", &switch, "link", "set", &b, "up"]);
            }
            for (_, sub) in PRIVATE {
                std::fs::create_dir_all(dir.join(sub)).unwrap();
            }
            std::fs::create_dir_all(dir.join("scripts")).unwrap();
            copy_dir(Path::new("/etc"), &dir.join("etc"));
            std::fs::create_dir_all(dir.join("etc/systemd/system")).unwrap();
            std::fs::create_dir_all(dir.join("home/operator")).unwrap();
            host(&["chmod", "1777", dir.join("tmp").to_str().unwrap()]);
            // A link, not a symlink: the service user cannot traverse the target directory
            // (under /root), but reaches the machine's /usr/local/bin through its mount.
            let installed = dir.join("bin/phalanx");
            if std::fs::hard_link(binary, &installed).is_err() {
                std::fs::copy(binary, &installed).unwrap();
            }
        }
        lab
    }

    /// The command that runs `script` on `machine` with `env`.
    fn command(
        &mut self,
        machine: &str,
        script: &str,
        env: &[(String, String)],
    ) -> (Command, PathBuf) {
        let m = &self.machines[machine];
        self.scripts += 1;
        let file = m.dir.join(format!("scripts/{:03}.sh", self.scripts));
        std::fs::write(&file, script).unwrap();
        let mut mounts: Vec<String> = PRIVATE
            .iter()
            .map(|(inside, sub)| format!("mount --bind '{}' '{inside}'", m.dir.join(sub).display()))
            .collect();
        mounts.push(format!(
            "mount --bind '{}' '{}'",
            self.contracts.display(),
            self.repo.join("contracts/target").display()
        ));
        let setup = format!(
            "{} && cd '{}' && exec /bin/bash -e -o pipefail '{}'",
            mounts.join(" && "),
            self.repo.display(),
            file.display()
        );
        let mut c = Command::new("ip");
        c.args([
            "netns",
            "exec",
            &m.ns,
            "unshare",
            "--mount",
            "--propagation",
            "private",
        ])
        .args(["--", "/bin/sh", "-c", &setup])
        .env_clear()
        .env(
            "PATH",
            "/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin",
        )
        .env("HOME", HOME)
        .env("LANG", "C.UTF-8")
        .env("TERM", "dumb")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null());
        (c, file)
    }

    /// Runs `script` on `machine` (bash, stopping at the first failing command) and waits
    /// at most `limit`. Processes it leaves in the background keep running.
    pub fn run(
        &mut self,
        machine: &str,
        script: &str,
        env: &[(String, String)],
        limit: Duration,
    ) -> Ran {
        let (mut c, file) = self.command(machine, script, env);
        let (out, err) = (file.with_extension("out"), file.with_extension("err"));
        c.stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap());
        let mut child = c.spawn().expect("ip netns exec runs");
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break Some(s);
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stderr = std::fs::read_to_string(&err).unwrap_or_default();
        Ran {
            ok: status.is_some_and(|s| s.success()),
            stdout: std::fs::read_to_string(&out).unwrap_or_default(),
            stderr: match status {
                None => format!("{stderr}\n(timed out after {limit:?})"),
                Some(_) => stderr,
            },
        }
    }

    /// Starts `script` on `machine` in the background (its output goes to files beside it).
    pub fn spawn(&mut self, machine: &str, script: &str, env: &[(String, String)]) -> PathBuf {
        let (mut c, file) = self.command(machine, script, env);
        let log = file.with_extension("log");
        let f = std::fs::File::create(&log).unwrap();
        c.stdout(f.try_clone().unwrap()).stderr(f);
        self.background.push(c.spawn().expect("ip netns exec runs"));
        log
    }

    /// A JSON-RPC call to the node on `machine`'s loopback `port`, from inside the machine.
    pub fn rpc(
        &self,
        machine: &str,
        port: u16,
        method: &str,
        params: serde_json::Value,
    ) -> Option<serde_json::Value> {
        let body =
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
                .to_string();
        let o = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.machines[machine].ns,
                "curl",
                "-s",
                "-m",
                "5",
            ])
            .args(["-H", "Content-Type: application/json", "-d", &body])
            .arg(format!("http://127.0.0.1:{port}"))
            .output()
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
        v.get("result").cloned()
    }

    /// The height of the node whose RPC is on `machine`'s port 8645, if it answers.
    pub fn height(&self, machine: &str) -> Option<u64> {
        self.rpc(machine, 8645, "node_status", serde_json::json!({}))?["height"].as_u64()
    }

    /// Waits until `f` holds, polling every 250 ms, or panics after `limit` with `what`.
    pub fn wait(&self, limit: Duration, what: &str, mut f: impl FnMut(&Lab) -> bool) {
        let start = Instant::now();
        while !f(self) {
            assert!(start.elapsed() < limit, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// `machine`'s private directory for `inside` (one of the private paths).
    pub fn path(&self, machine: &str, inside: &str) -> PathBuf {
        let m = &self.machines[machine];
        let (mount, sub) = PRIVATE
            .iter()
            .filter(|(p, _)| inside.starts_with(p))
            .max_by_key(|(p, _)| p.len())
            .unwrap_or_else(|| panic!("{inside} is not private to a machine"));
        m.dir
            .join(sub)
            .join(inside[mount.len()..].trim_start_matches('/'))
    }
}

/// Deletes the namespaces and directories (under `root`) a killed earlier run left behind:
/// those whose test process is gone.
fn remove_stale(root: &Path) {
    let dead =
        |pid: &str| pid.parse::<u32>().is_ok() && !Path::new(&format!("/proc/{pid}")).exists();
    if let Ok(o) = Command::new("ip").args(["netns", "list"]).output() {
        for line in String::from_utf8_lossy(&o.stdout).lines() {
            let ns = line.split_whitespace().next().unwrap_or("");
            if ns.starts_with("pxd") && ns.rsplit('-').next().is_some_and(dead) {
                kill_all(ns);
                let _ = Command::new("ip").args(["netns", "del", ns]).status();
            }
        }
    }
    for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.strip_prefix("doclab-").is_some_and(dead) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Kills every process in namespace `ns`.
fn kill_all(ns: &str) {
    if let Ok(o) = Command::new("ip").args(["netns", "pids", ns]).output() {
        for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
            let _ = Command::new("kill").args(["-9", pid]).status();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.background {
            let _ = c.kill();
            let _ = c.wait();
        }
        for m in self.machines.values() {
            kill_all(&m.ns);
        }
        // Let the killed processes go before their namespaces.
        std::thread::sleep(Duration::from_millis(300));
        for m in self.machines.values() {
            let _ = Command::new("ip").args(["netns", "del", &m.ns]).status();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.switch])
            .status();
        if std::env::var_os("DOCTEST_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}
