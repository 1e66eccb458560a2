//! Builds an example contract of `contracts/` for wasm32 with that workspace's release profile,
//! cached under `<target>/phalanx-contracts`. Shared, by `#[path]`, by the benchmarks and tests
//! that run real contract code, so there is one way to get `token.wasm`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The cargo target directory of the running test or benchmark (its executable lives in
/// `<target>/<profile>/deps/`).
pub fn target_root() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// Builds contract `name` of the workspace at `contracts_manifest` and returns its `.wasm`.
pub fn build(name: &str, contracts_manifest: &Path) -> PathBuf {
    let target = target_root().join("phalanx-contracts");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "-p",
            name,
        ])
        .arg("--manifest-path")
        .arg(contracts_manifest)
        .arg("--target-dir")
        .arg(&target)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building {name}.wasm failed");
    // Cargo names the module after the crate, dashes made underscores.
    let file = name.replace('-', "_");
    target.join(format!("wasm32-unknown-unknown/release/{file}.wasm"))
}
