//! Snapshot files, and installing a verified snapshot into an empty home.
//!
//! Layout: `PHXSNAP1`, then length-prefixed (u64, little-endian) encodings of a
//! [`FileHeader`] and of each chunk in index order. The same header and chunk encodings are
//! what peers serve for state sync, so a file is also the unit a node keeps and serves.
//!
//! Nothing read from a file or a peer is trusted: [`verify_header`] walks the validator-set
//! changes from genesis and checks the block's commit certificate, each chunk is checked on
//! its own against the certified state root (`phalanx_storage::snapshot`), and [`install`]
//! rebuilds the tree and compares its root before it writes anything.

use crate::home::Home;
use anyhow::{Context, Result, anyhow, bail};
use phalanx_core::trust;
use phalanx_genesis::Genesis;
use phalanx_network::wire::SnapshotOffer;
use phalanx_storage::prune::{self, SetProof};
use phalanx_storage::snapshot::{self, Entries, Manifest, SnapshotBuilder};
use phalanx_storage::{
    BlockStore, Column, Durability, KvStore, RocksStore, StateStore, WriteBatch,
};
use phalanx_types::{Block, CommitCertificate, Height, decode, encode};
use serde::{Deserialize, Serialize};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The first bytes of a snapshot file.
pub const MAGIC: &[u8; 8] = b"PHXSNAP1";

/// Largest header a file or peer may send (the block is at most a block's size; set proofs
/// are small).
pub const MAX_HEADER_BYTES: u64 = phalanx_types::encoding::MAX_DECODE_BYTES as u64 - 1024;

/// What comes before the chunks.
#[derive(Debug, Clone, Serialize, Deserialize)]
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

/// The offer a manifest makes to peers.
pub fn offer_of(m: &Manifest) -> SnapshotOffer {
    SnapshotOffer {
        height: m.height,
        state_root: m.state_root,
        depth: m.depth,
        keys: m.keys,
    }
}

/// The manifest an offer describes (in this node's snapshot format).
pub fn manifest_of(o: &SnapshotOffer) -> Manifest {
    Manifest {
        format: snapshot::SNAPSHOT_FORMAT,
        height: o.height,
        state_root: o.state_root,
        depth: o.depth,
        keys: o.keys,
    }
}

fn write_part(w: &mut impl Write, bytes: &[u8]) -> Result<()> {
    w.write_all(&(bytes.len() as u64).to_le_bytes())?;
    w.write_all(bytes)?;
    Ok(())
}

/// Reads one length-prefixed part of at most `max` bytes.
pub fn read_part(r: &mut impl Read, max: u64, what: &str) -> Result<Vec<u8>> {
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

/// Writes the state of `kv` at `height` to `out` (chunks split deeper until each fits
/// [`snapshot::MAX_CHUNK_BYTES`]); `depth` overrides the chosen depth. The state and the
/// block at `height` must be kept.
pub fn write_snapshot(
    kv: Arc<dyn KvStore>,
    height: Height,
    depth: Option<u8>,
    out: &Path,
) -> Result<Manifest> {
    let blocks = BlockStore::new(kv.clone());
    let block = blocks
        .block(height)?
        .ok_or_else(|| anyhow!("block {height} is missing"))?;
    let certificate = blocks
        .certificate(height)?
        .ok_or_else(|| anyhow!("certificate {height} is missing"))?;
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
    w.into_inner()
        .map_err(|e| anyhow!("cannot write {}: {e}", out.display()))?
        .sync_all()?;
    Ok(manifest)
}

/// Decodes a header (from a file or a peer), checking only its shape.
pub fn decode_header(bytes: &[u8]) -> Result<FileHeader> {
    let header: FileHeader = decode(bytes).map_err(|e| anyhow!("bad snapshot header: {e}"))?;
    if header.manifest.format != snapshot::SNAPSHOT_FORMAT {
        bail!(
            "snapshot format {} is not supported",
            header.manifest.format
        );
    }
    if header.manifest.depth > snapshot::MAX_DEPTH {
        bail!("snapshot depth {} is too deep", header.manifest.depth);
    }
    Ok(header)
}

/// Reads the magic and the header (unverified).
pub fn read_header(r: &mut impl Read) -> Result<FileHeader> {
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic).context("not a snapshot file")?;
    if &magic != MAGIC {
        bail!("not a Phalanx snapshot file (format {MAGIC:?} expected)");
    }
    decode_header(&read_part(r, MAX_HEADER_BYTES, "header")?)
}

/// Checks a header against `genesis`: the chain, that the manifest describes the block's
/// state, and the block's certificate by the validator set proven from genesis.
pub fn verify_header(header: &FileHeader, genesis: &Genesis) -> Result<()> {
    let m = &header.manifest;
    let block = &header.block;
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
    Ok(())
}

/// Where a snapshot file's parts lie.
#[derive(Debug, Clone)]
pub struct Indexed {
    /// The file.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Offset and length of the encoded header.
    pub header: (u64, u64),
    /// Offset and length of each encoded chunk, in index order.
    pub chunks: Vec<(u64, u64)>,
    /// Bytes of the whole file.
    pub bytes: u64,
}

/// Reads a file's header and the offsets of its chunks (their lengths only, not their bodies).
pub fn index(path: &Path) -> Result<Indexed> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let bytes = f.metadata()?.len();
    let mut r = BufReader::new(f);
    let header = read_header(&mut r)?;
    let header_len = r.stream_position()? - MAGIC.len() as u64 - 8;
    let mut chunks = Vec::with_capacity(header.manifest.chunks() as usize);
    let mut at = r.stream_position()?;
    for i in 0..header.manifest.chunks() {
        let mut len = [0u8; 8];
        r.read_exact(&mut len)
            .with_context(|| format!("{} ends before chunk {i}", path.display()))?;
        let len = u64::from_le_bytes(len);
        if len > snapshot::MAX_CHUNK_BYTES as u64 || at + 8 + len > bytes {
            bail!("{}: chunk {i} claims {len} bytes", path.display());
        }
        chunks.push((at + 8, len));
        at += 8 + len;
        r.seek(SeekFrom::Start(at))?;
    }
    Ok(Indexed {
        path: path.to_path_buf(),
        manifest: header.manifest,
        header: (MAGIC.len() as u64 + 8, header_len),
        chunks,
        bytes,
    })
}

/// Decodes chunk `index` of `m` (from a file or a peer) and checks its proof against the
/// manifest's state root.
pub fn check_chunk(m: &Manifest, index: u32, bytes: &[u8]) -> Result<snapshot::Chunk> {
    if bytes.len() > snapshot::MAX_CHUNK_BYTES {
        bail!("chunk {index} is {} bytes", bytes.len());
    }
    let chunk = snapshot::decode_chunk(bytes)?;
    if chunk.index != index {
        bail!("chunk {} where chunk {index} belongs", chunk.index);
    }
    snapshot::verify_chunk(m, &chunk)?;
    Ok(chunk)
}

/// Reads `len` bytes at `offset` of `path`.
pub fn read_at(path: &Path, (offset, len): (u64, u64)) -> Result<Vec<u8>> {
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; len as usize];
    f.read_exact(&mut buf)?;
    Ok(buf)
}

/// Marks a data directory whose import has begun and not ended, with the snapshot's height
/// and root: only the same snapshot may finish it.
pub fn importing_mark(m: &Manifest) -> Vec<u8> {
    encode(&(m.height, m.state_root))
}

/// Writes a verified snapshot (its header checked by [`verify_header`], its entries by
/// every chunk's proof) into `home`'s empty database: the state, the block and its
/// certificate, the pruning watermarks and the set proofs. The tree is rebuilt in memory
/// and its root compared before anything is written.
pub fn install(
    home: &Home,
    genesis: &Genesis,
    header: &FileHeader,
    entries: Entries,
) -> Result<()> {
    let m = &header.manifest;
    // Chunks that all verify hold exactly the state; the manifest's count is not certified.
    if entries.len() as u64 != m.keys {
        tracing::warn!(
            keys = entries.len(),
            manifest = m.keys,
            "the snapshot's manifest miscounts its keys"
        );
    }
    let store = RocksStore::open(home.data())
        .with_context(|| format!("cannot open the database in {}", home.data().display()))?;
    let kv: Arc<dyn KvStore> = Arc::new(store);
    // An import that did not finish may be resumed with the same snapshot only: another
    // would leave keys of the first in the state.
    let this = importing_mark(m);
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
    crate::node::stage_genesis_mark(&mut batch, genesis);
    kv.write(batch, Durability::Sync)?;
    Ok(())
}
