//! `phalanx snapshot list|export|import`: the snapshots a node keeps, and the state at a
//! height as a file, to seed a node without replaying history.
//!
//! Export reads a home's database read-only, so the node may keep running. Import trusts
//! nothing in the file: it walks the validator-set changes from the home's genesis, checks the
//! block's commit certificate, checks every chunk on its own against the certified state root
//! (`phalanx_storage::snapshot`) and the rebuilt tree's root, and only then writes into the
//! home's empty database. The node then starts at that height and syncs later blocks from its
//! peers. The file format is [`crate::snapfile`]'s.

use crate::home::Home;
use crate::snapfile;
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use phalanx_genesis::Genesis;
use phalanx_storage::prune;
use phalanx_storage::snapshot;
use phalanx_storage::{BlockStore, KvStore, RocksStore};
use phalanx_types::Height;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `phalanx snapshot …`
#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// List the snapshots this node keeps and serves to peers (`[snapshots]` in config).
    List {
        /// Node home.
        #[arg(long, default_value_os_t = crate::home::default_home())]
        home: PathBuf,
    },
    /// Write the state at a height (default: the latest) to a file.
    Export {
        /// Node home to read (the node may be running).
        #[arg(long, default_value_os_t = crate::home::default_home())]
        home: PathBuf,
        /// Height (its state must not be pruned).
        #[arg(long)]
        height: Option<Height>,
        /// Split into 2^DEPTH chunks (default: about 4,096 keys a chunk).
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=16))]
        depth: Option<u8>,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a snapshot file against this home's genesis and start the home's empty
    /// database from it.
    Import {
        /// The snapshot file.
        file: PathBuf,
        /// Node home (initialized, with the chain's genesis, never started).
        #[arg(long, default_value_os_t = crate::home::default_home())]
        home: PathBuf,
    },
}

/// Runs a snapshot command.
pub fn run(cmd: SnapshotCommand, json: bool) -> Result<()> {
    match cmd {
        SnapshotCommand::Export {
            home,
            height,
            depth,
            out,
        } => export(&home, height, depth, &out, json),
        SnapshotCommand::Import { file, home } => import(&file, &home, json),
        SnapshotCommand::List { home } => list(&home, json),
    }
}

fn export(
    dir: &Path,
    height: Option<Height>,
    depth: Option<u8>,
    out: &Path,
    json: bool,
) -> Result<()> {
    let home = Home(dir.to_path_buf());
    let kv: Arc<dyn KvStore> = Arc::new(
        RocksStore::open_read_only(home.data())
            .with_context(|| format!("cannot open the database in {}", home.data().display()))?,
    );
    let blocks = BlockStore::new(kv.clone());
    let tip = blocks.latest_height()?;
    let height = height.unwrap_or(tip);
    let lowest = prune::lowest_state_version(&*kv)?;
    if height == 0 || height > tip || height < lowest || blocks.certificate(height)?.is_none() {
        bail!(
            "no state to export at height {height}: this node has the state of heights {} to {tip}",
            lowest.max(1)
        );
    }
    let manifest = snapfile::write_snapshot(kv, height, depth, out)?;
    let bytes = std::fs::metadata(out)?.len();
    crate::client::print(
        json,
        &serde_json::json!({
            "height": height,
            "state_root": manifest.state_root,
            "chunks": manifest.chunks(),
            "keys": manifest.keys,
            "bytes": bytes,
            "file": out.display().to_string(),
        }),
        || {
            println!(
                "exported the state at height {height} ({} keys, {} chunks, {bytes} bytes) to {}",
                manifest.keys,
                manifest.chunks(),
                out.display()
            );
        },
    );
    Ok(())
}

fn import(file: &Path, dir: &Path, json: bool) -> Result<()> {
    let home = Home(dir.to_path_buf());
    if !home.exists() {
        bail!(
            "{} is not a node home; run `phalanx init` (then copy the chain's genesis) first",
            dir.display()
        );
    }
    let genesis = Genesis::load(home.genesis())?;
    let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let mut r = BufReader::new(f);
    let header = snapfile::read_header(&mut r)?;
    snapfile::verify_header(&header, &genesis)?;
    let m = header.manifest.clone();
    // `keys` is the file's word: a hint, not a promise.
    let mut entries = Vec::with_capacity(m.keys.min(1_000_000) as usize);
    for index in 0..m.chunks() {
        let raw = snapfile::read_part(&mut r, snapshot::MAX_CHUNK_BYTES as u64, "chunk")?;
        entries.extend(snapfile::check_chunk(&m, index, &raw)?.entries);
        if (index + 1) % 64 == 0 || index + 1 == m.chunks() {
            eprintln!("verified {}/{} chunks", index + 1, m.chunks());
        }
    }
    snapfile::install(&home, &genesis, &header, entries)?;
    crate::client::print(
        json,
        &serde_json::json!({"height": m.height, "state_root": m.state_root, "keys": m.keys}),
        || {
            println!(
                "imported the state at height {} ({} keys, root {}); start the node to sync later blocks",
                m.height, m.keys, m.state_root
            );
        },
    );
    Ok(())
}

/// `phalanx snapshot list`: the snapshots in the home's `snapshots` directory.
fn list(dir: &Path, json: bool) -> Result<()> {
    let home = Home(dir.to_path_buf());
    if !home.exists() {
        bail!("{} is not a node home", dir.display());
    }
    let kept = crate::snapshots::scan(&home.snapshots())?;
    let rows: Vec<serde_json::Value> = kept
        .iter()
        .rev()
        .map(|s| {
            serde_json::json!({
                "height": s.manifest.height,
                "state_root": s.manifest.state_root,
                "chunks": s.manifest.chunks(),
                "keys": s.manifest.keys,
                "bytes": s.bytes,
                "file": s.path.display().to_string(),
            })
        })
        .collect();
    crate::client::print(json, &serde_json::Value::Array(rows), || {
        if kept.is_empty() {
            println!(
                "no snapshots in {} (taken every [snapshots] snapshot_interval heights)",
                home.snapshots().display()
            );
            return;
        }
        println!(
            "{:>10}  {:>8}  {:>10}  {:>12}  state root",
            "height", "chunks", "keys", "bytes"
        );
        for s in kept.iter().rev() {
            println!(
                "{:>10}  {:>8}  {:>10}  {:>12}  {}",
                s.manifest.height,
                s.manifest.chunks(),
                s.manifest.keys,
                s.bytes,
                s.manifest.state_root
            );
        }
    });
    Ok(())
}
