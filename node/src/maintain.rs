//! Maintenance of a home and its genesis: `phalanx genesis validate|hash FILE`,
//! `phalanx unsafe-reset-all` and `phalanx rollback`.

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
    /// Add a validator to a genesis file, from the public key and peer id its operator sent
    /// (`show-validator`, `show-node-id` on its machine). The file is checked and replaced
    /// atomically; its hash changes.
    AddValidator {
        /// The genesis file (edited in place).
        file: PathBuf,
        /// The validator's name (logs only; default `validator<N>`).
        #[arg(long)]
        name: Option<String>,
        /// Its ed25519 public key (hex).
        #[arg(long)]
        public_key: String,
        /// Its node's libp2p peer id.
        #[arg(long)]
        peer_id: String,
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
        GenesisCommand::AddValidator {
            file,
            name,
            public_key,
            peer_id,
        } => {
            let mut g = load(file)?;
            let public_key = public_key
                .parse::<phalanx_types::PublicKey>()
                .map_err(|e| anyhow::anyhow!("bad --public-key: {e}"))?;
            let name = name
                .clone()
                .unwrap_or_else(|| format!("validator{}", g.validators.len()));
            g.validators.push(phalanx_genesis::GenesisValidator {
                name: name.clone(),
                public_key,
                peer_id: peer_id.clone(),
            });
            g.validate()
                .with_context(|| format!("{name} cannot join {}", file.display()))?;
            crate::fsutil::replace(file, g.to_json().as_bytes())?;
            // A home's database is tied to the genesis it was created from.
            if let Some(home) = file.parent().and_then(Path::parent)
                && home.join("data/CURRENT").exists()
            {
                eprintln!(
                    "warning: {} holds chain data of the old genesis: a node started there \
                     refuses the new one until `phalanx unsafe-reset-all --home {}`",
                    home.join("data").display(),
                    home.display()
                );
            }
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "validators": g.validators.len(),
                        "address": public_key.address(),
                        "hash": g.hash(),
                    })
                );
            } else {
                println!("added      {name} ({})", public_key.address());
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

/// Opens the database in `data` for writing, which a running node's lock refuses.
fn open_stopped(data: &Path) -> Result<phalanx_storage::RocksStore> {
    phalanx_storage::RocksStore::open(data).map_err(|e| {
        anyhow::anyhow!(
            "cannot open {} ({e}); is a node running on this home? Stop it first",
            data.display()
        )
    })
}

/// `phalanx rollback [--home DIR]`: rewinds the tip block of a stopped node (see
/// [`phalanx_storage::rollback`]); the node re-executes it on its next start.
pub fn cmd_rollback(home: &Path, json: bool) -> Result<()> {
    let h = Home(home.to_path_buf());
    let data = h.data();
    if !data.exists() {
        bail!("{} holds no chain data", data.display());
    }
    let kv: std::sync::Arc<dyn phalanx_storage::KvStore> =
        std::sync::Arc::new(open_stopped(&data)?);
    let done = phalanx_storage::rollback::rollback_tip(&kv)
        .with_context(|| format!("cannot roll back {}", data.display()))?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "rolled_back": done.height,
                "hash": done.hash,
                "height": done.height - 1,
                "state_root": done.state_root,
                "keys_restored": done.keys,
            })
        );
    } else {
        println!("rolled back block {} ({})", done.height, done.hash);
        println!("height      {}", done.height - 1);
        println!("state root  {}", done.state_root);
        println!("keys        {} restored", done.keys);
        println!(
            "next start  re-executes block {} and commits it only if it matches its certificate",
            done.height
        );
    }
    Ok(())
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
        open_stopped(&data)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use phalanx_types::SecretKey;

    fn add(file: &Path, key: &SecretKey, peer: &str) -> Result<()> {
        cmd_genesis(
            &GenesisCommand::AddValidator {
                file: file.to_path_buf(),
                name: None,
                public_key: key.public_key().to_hex(),
                peer_id: peer.into(),
            },
            true,
        )
    }

    /// `genesis add-validator` adds one validator; a duplicate key or peer id, or a bad peer
    /// id, is refused and leaves the file as it was.
    #[test]
    fn add_validator_checks_and_keeps_the_file_on_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("genesis.json");
        let first = SecretKey::generate();
        let peer = |k: &SecretKey| crate::keys::peer_id(k).unwrap();
        let g = crate::home::make_genesis(
            "acme-1",
            &[(first.clone(), peer(&first))],
            phalanx_genesis::DeployPolicy::Anyone,
            phalanx_genesis::ConsensusParams::default(),
        )
        .unwrap();
        std::fs::write(&file, g.to_json()).unwrap();
        let second = SecretKey::generate();
        add(&file, &second, &peer(&second)).unwrap();
        let after = Genesis::load(&file).unwrap();
        assert_eq!(after.validators.len(), 2);
        assert_eq!(after.validators[1].name, "validator1");
        let text = std::fs::read_to_string(&file).unwrap();
        let third = SecretKey::generate();
        for (key, peer_id) in [
            (&second, peer(&third)),
            (&third, peer(&second)),
            (&third, "not-a-peer-id".to_string()),
        ] {
            assert!(add(&file, key, &peer_id).is_err());
            assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
        }
    }
}
