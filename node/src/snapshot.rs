//! `phalanx snapshot export|import`: the state at a height as a file, to seed a node without
//! replaying history.
//!
//! Export reads a home's database read-only, so the node may keep running. Import trusts
//! nothing in the file: it walks the validator-set changes from the home's genesis, checks the
//! block's commit certificate, checks every chunk on its own against the certified state root
//! (`phalanx_storage::snapshot`) and the rebuilt tree's root, and only then writes into the
//! home's empty database. The node then starts at that height and syncs later blocks from its
//! peers.
//!
//! File layout: `PHXSNAP1`, then length-prefixed (u64, little-endian) encodings of a
//! [`FileHeader`] and of each chunk in index order.

use crate::home::Home;
use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use phalanx_core::trust;
use phalanx_genesis::Genesis;
use phalanx_storage::prune::{self, SetProof};
use phalanx_storage::snapshot::{self, Chunk, Manifest, SnapshotBuilder};
use phalanx_storage::{
    BlockStore, Column, Durability, KvStore, RocksStore, StateStore, WriteBatch,
};
use phalanx_types::{Block, CommitCertificate, Height, decode, encode};
use serde::{Deserialize, Serialize};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const MAGIC: &[u8; 8] = b"PHXSNAP1";

/// Largest header a file may have (the block is at most a block's size; set proofs are small).
const MAX_HEADER_BYTES: u64 = phalanx_types::encoding::MAX_DECODE_BYTES as u64;

/// `phalanx snapshot …`
#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
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

/// What comes before the chunks.
#[derive(Debug, Serialize, Deserialize)]
pub struct FileHeader {
    /// How the state is cut.
    pub manifest: Manifest,
    /// The block at the snapshot's height.
    pub block: Block,
    /// Its commit certificate.
    pub certificate: CommitCertificate,
    /// Proofs of every validator-set change up to the height.
    pub set_proofs: Vec<(Height, SetProof)>,
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
    }
}

fn write_part(w: &mut impl Write, bytes: &[u8]) -> Result<()> {
    w.write_all(&(bytes.len() as u64).to_le_bytes())?;
    w.write_all(bytes)?;
    Ok(())
}

fn read_part(r: &mut impl Read, max: u64, what: &str) -> Result<Vec<u8>> {
    let mut len = [0u8; 8];
    r.read_exact(&mut len)
        .with_context(|| format!("the file ends before the {what}"))?;
    let len = u64::from_le_bytes(len);
    if len > max {
        bail!("the {what} claims {len} bytes, more than {max}");
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf)
        .with_context(|| format!("the file ends inside the {what}"))?;
    Ok(buf)
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
    let block = blocks
        .block(height)?
        .ok_or_else(|| anyhow!("block {height} is missing"))?;
    let certificate = blocks
        .certificate(height)?
        .ok_or_else(|| anyhow!("certificate {height} is missing"))?;
    // Chunks must stay under the size any node decodes: split deeper until they do.
    let mut builder = SnapshotBuilder::new(kv.clone(), height, block.header.state_root, depth)?;
    loop {
        match builder.build_all() {
            Ok(()) => break,
            Err(snapshot::SnapshotError::ChunkTooLarge { .. })
                if builder.manifest().depth < snapshot::MAX_DEPTH =>
            {
                let deeper = builder.manifest().depth + 1;
                builder = SnapshotBuilder::new(
                    kv.clone(),
                    height,
                    block.header.state_root,
                    Some(deeper),
                )?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let manifest = builder.manifest().clone();
    let set_proofs: Vec<(Height, SetProof)> = prune::set_proofs(&*kv)?
        .into_iter()
        .filter(|(h, _)| *h <= height)
        .collect();
    let file =
        std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut w = BufWriter::new(file);
    w.write_all(MAGIC)?;
    let header = FileHeader {
        manifest: manifest.clone(),
        block,
        certificate,
        set_proofs,
    };
    write_part(&mut w, &encode(&header))?;
    for index in 0..manifest.chunks() {
        let chunk = builder.chunk(index)?;
        write_part(&mut w, &encode(&chunk))?;
    }
    w.flush()?;
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

/// Reads and checks the header against `genesis`.
fn read_header(r: &mut impl Read, genesis: &Genesis) -> Result<FileHeader> {
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic).context("not a snapshot file")?;
    if &magic != MAGIC {
        bail!("not a Phalanx snapshot file (format {MAGIC:?} expected)");
    }
    let header: FileHeader = decode(&read_part(r, MAX_HEADER_BYTES, "header")?)
        .map_err(|e| anyhow!("bad snapshot header: {e}"))?;
    let m = &header.manifest;
    let block = &header.block;
    if m.format != snapshot::SNAPSHOT_FORMAT {
        bail!("snapshot format {} is not supported", m.format);
    }
    if block.header.chain_id != genesis.chain_id {
        bail!(
            "the snapshot is of chain {}, this home's genesis is {}",
            block.header.chain_id,
            genesis.chain_id
        );
    }
    if m.height != block.height() || m.state_root != block.header.state_root {
        bail!("the manifest does not describe the state of its block");
    }
    let (set, walked) = trust::set_at(
        &genesis.chain_id,
        genesis.validator_set(),
        &header.set_proofs,
        &block.header,
    )?;
    trust::check_block(&genesis.chain_id, &set, block, &header.certificate)?;
    tracing::info!(
        height = m.height,
        set_changes = walked,
        "snapshot block certified by the validator set proven from genesis"
    );
    Ok(header)
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
    let header = read_header(&mut r, &genesis)?;
    let m = header.manifest.clone();
    // `keys` is the file's word: a hint, not a promise.
    let mut entries = Vec::with_capacity(m.keys.min(1_000_000) as usize);
    for index in 0..m.chunks() {
        let raw = read_part(&mut r, snapshot::MAX_CHUNK_BYTES as u64, "chunk")?;
        let chunk: Chunk = snapshot::decode_chunk(&raw)?;
        if chunk.index != index {
            bail!("chunk {} where chunk {index} belongs", chunk.index);
        }
        snapshot::verify_chunk(&m, &chunk)?;
        entries.extend(chunk.entries);
        if (index + 1) % 64 == 0 || index + 1 == m.chunks() {
            eprintln!("verified {}/{} chunks", index + 1, m.chunks());
        }
    }
    if entries.len() as u64 != m.keys {
        bail!(
            "the chunks hold {} keys, the manifest says {}",
            entries.len(),
            m.keys
        );
    }
    let store = RocksStore::open(home.data())
        .with_context(|| format!("cannot open the database in {}", home.data().display()))?;
    let kv: Arc<dyn KvStore> = Arc::new(store);
    // An import that did not finish may be resumed with the same snapshot only: another
    // would leave keys of the first in the state.
    let this = encode(&(m.height, m.state_root));
    let half_done = kv.get(Column::Meta, crate::node::IMPORTING_KEY)?;
    match &half_done {
        Some(other) if *other != this => bail!(
            "{} holds an unfinished import of another snapshot; empty the directory first",
            home.data().display()
        ),
        Some(_) => {}
        None => {
            if crate::node::stored_genesis(&kv)?.is_some()
                || BlockStore::new(kv.clone()).latest_height()? > 0
            {
                bail!(
                    "{} already holds chain data; import needs an empty data directory",
                    home.data().display()
                );
            }
        }
    }
    // Marked first: a crash before the end leaves a store the node refuses to start on.
    kv.put(Column::Meta, crate::node::IMPORTING_KEY, &this)?;
    StateStore::new(kv.clone()).restore(m.height, entries, m.state_root)?;
    let mut batch = WriteBatch::new();
    BlockStore::new(kv.clone()).stage_commit(&mut batch, &header.block, &header.certificate, &[]);
    // Block H is kept (the tip, and what proofs at H name) but without receipts: the full
    // history starts after it.
    prune::stage_lowest_block(&mut batch, m.height + 1);
    prune::stage_lowest_state(&mut batch, m.height);
    // Only the proofs the walk checked.
    for (h, proof) in header.set_proofs.iter().filter(|(h, _)| *h <= m.height) {
        prune::stage_set_proof(&mut batch, *h, proof);
    }
    // Last: with the genesis mark the home counts as initialized (and every key's preimage
    // is recorded: the restore wrote them).
    batch.put(Column::Meta, crate::node::PREIMAGES_KEY, b"1".to_vec());
    crate::node::stage_genesis_mark(&mut batch, &genesis);
    kv.write(batch, Durability::Sync)?;
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
