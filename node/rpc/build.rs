//! Records the commit the node is built from (`PHALANX_COMMIT`: `PHALANX_BUILD_COMMIT` if
//! set, else git's, "unknown" outside a git checkout) for `phalanx_build_info` and
//! `node_status`.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    // A build without the repository (a container image) is told its commit.
    let given = std::env::var("PHALANX_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.is_empty());
    println!("cargo:rerun-if-env-changed=PHALANX_BUILD_COMMIT");
    let commit = given
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=PHALANX_COMMIT={commit}");
    // Built again when the checkout moves to another commit.
    for path in ["HEAD", "index"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
