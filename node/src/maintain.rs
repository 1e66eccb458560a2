//! Maintenance of a home and its genesis: `phalanx genesis validate|hash FILE` and
//! `phalanx unsafe-reset-all`.

use crate::home::Home;
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use phalanx_genesis::Genesis;
use std::path::{Path, PathBuf};

/// `phalanx genesis …`
#[derive(Debug, Subcommand)]
pub enum GenesisCommand {
    /// Check a genesis file against every rule (the error names the field); prints its chain
    /// id, validators and hash.
    Validate {
        /// The genesis file.
        file: PathBuf,
    },
    /// Print a genesis file's hash: what every node of the chain must agree on (the same for
    /// any JSON layout of the same document).
    Hash {
        /// The genesis file.
        file: PathBuf,
    },
}

/// Runs a `genesis` subcommand.
pub fn cmd_genesis(cmd: &GenesisCommand, json: bool) -> Result<()> {
    match cmd {
        GenesisCommand::Validate { file } => {
            let g = load(file)?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "valid": true,
                        "chain_id": g.chain_id,
                        "validators": g.validators.len(),
                        "hash": g.hash(),
                    })
                );
            } else {
                println!("valid      {}", file.display());
                println!("chain      {}", g.chain_id);
                println!("validators {}", g.validators.len());
                println!("hash       {}", g.hash());
            }
        }
        GenesisCommand::Hash { file } => {
            let g = load(file)?;
            if json {
                println!("{}", serde_json::json!({ "hash": g.hash() }));
            } else {
                println!("{}", g.hash());
            }
        }
    }
    Ok(())
}

fn load(file: &Path) -> Result<Genesis> {
    Genesis::load(file).with_context(|| format!("{} is not a valid genesis file", file.display()))
}

/// `phalanx unsafe-reset-all [--home DIR]`: deletes the home's chain data (blocks, state, the
/// consensus log, snapshots, an unfinished state sync) and keeps its keys, config and genesis,
/// so the node starts again from genesis and syncs. Refuses while a node runs on the home.
pub fn cmd_unsafe_reset_all(home: &Path, json: bool) -> Result<()> {
    let h = Home(home.to_path_buf());
    if !h.exists() {
        bail!(
            "{} is not a node home (no config/config.toml)",
            home.display()
        );
    }
    let data = h.data();
    if data.exists() {
        // A running node holds the database's lock: opening it for writing fails then.
        if let Err(e) = phalanx_storage::RocksStore::open(&data) {
            bail!(
                "cannot open {} ({e}); is a node running on this home? Stop it first",
                data.display()
            );
        }
    }
    let mut removed = Vec::new();
    for dir in [data, h.snapshots(), h.statesync()] {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot remove {}", dir.display()))?;
            removed.push(dir.display().to_string());
        }
    }
    if json {
        println!("{}", serde_json::json!({ "removed": removed }));
    } else {
        for r in &removed {
            println!("removed {r}");
        }
        println!("kept    keys, config and genesis in {}", home.display());
    }
    eprintln!(
        "warning: the consensus log went with the data. A validator that signed votes at the \
         chain's current height may sign conflicting ones after it syncs back: keep it stopped \
         until the chain has moved past that height."
    );
    Ok(())
}
