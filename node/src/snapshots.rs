//! The snapshots a node keeps and serves.
//!
//! Every `snapshot_interval` heights the snapshotter thread writes the state at that height
//! to `snapshots/<height>.phxsnap` in the home (a [`crate::snapfile`] file: written under a
//! temporary name, synced, then renamed, so a crash never leaves a partial snapshot), keeps
//! the newest `keep_recent` and deletes older ones. The network serves them to peers from
//! [`Kept`], on blocking threads, rate-limited (`phalanx_network::task`), off the consensus
//! path.
//!
//! **Pinning.** The pruner never deletes the state or block of the next height due for a
//! snapshot: the [`Pin`] holds it until the snapshot is written, then moves on to the next
//! multiple of the interval. So a snapshot is never lost to the pruner, however small the
//! retained window, and holds no state beyond it once taken.

use crate::snapfile::{self, Indexed};
use anyhow::Result;
use phalanx_core::NodeStatus;
use phalanx_network::SnapshotSource;
use phalanx_network::wire::{SnapshotOffer, SnapshotPart};
use phalanx_rpc::metrics::Metrics;
use phalanx_storage::KvStore;
use phalanx_types::Height;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// `[snapshots]` in config.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotConfig {
    /// Heights between snapshots (0: take none).
    pub snapshot_interval: Height,
    /// Snapshots kept (older ones are deleted).
    pub keep_recent: usize,
    /// Bytes of snapshot chunks served to peers per second, all peers together (0: no
    /// limit).
    pub serve_bytes_per_sec: u64,
}

/// Heights between snapshots by default.
pub const DEFAULT_SNAPSHOT_INTERVAL: Height = 10_000;

impl Default for SnapshotConfig {
    fn default() -> Self {
        SnapshotConfig {
            snapshot_interval: DEFAULT_SNAPSHOT_INTERVAL,
            keep_recent: 2,
            serve_bytes_per_sec: phalanx_network::DEFAULT_SNAPSHOT_BYTES_PER_SEC,
        }
    }
}

/// The file of the snapshot at `height`.
pub fn file_name(height: Height) -> String {
    format!("{height:012}.phxsnap")
}

/// Deletes snapshot files left unfinished by a crash while writing (the node's own
/// snapshotter is not running yet).
pub fn remove_unfinished(dir: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "tmp") {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// The snapshots in `dir`, oldest first (files being written are not listed); unreadable
/// ones are skipped with a warning. Read-only: `phalanx snapshot list` runs it beside a
/// running node.
pub fn scan(dir: &Path) -> Result<Vec<Indexed>> {
    let mut kept = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(kept),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.ends_with(".phxsnap") {
            continue;
        }
        match snapfile::index(&path) {
            Ok(ix) => kept.push(ix),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "skipped an unreadable snapshot")
            }
        }
    }
    kept.sort_by_key(|s| s.manifest.height);
    Ok(kept)
}

/// The snapshots a node serves (shared by the snapshotter and the network).
#[derive(Debug, Default)]
pub struct Kept {
    list: RwLock<Vec<Indexed>>,
    /// The lowest block the store keeps: a snapshot is offered only while the blocks after
    /// it are kept (a node installing it syncs them next).
    lowest_block: AtomicU64,
    /// TEST ONLY: serve chunks with a changed value (a Byzantine peer).
    #[cfg(feature = "byzantine")]
    pub corrupt: bool,
}

impl Kept {
    /// Serves the snapshots in `list` (oldest first).
    pub fn new(list: Vec<Indexed>) -> Kept {
        let kept = Kept::default();
        *kept.list.write().unwrap_or_else(|e| e.into_inner()) = list;
        kept
    }

    /// The newest snapshot's height (0: none).
    pub fn newest(&self) -> Height {
        let list = self.list.read().unwrap_or_else(|e| e.into_inner());
        list.last().map_or(0, |s| s.manifest.height)
    }

    /// Takes out the snapshots above `tip` (left by an earlier database of this home).
    fn take_above(&self, tip: Height) -> Vec<Indexed> {
        let mut list = self.list.write().unwrap_or_else(|e| e.into_inner());
        let at = list.partition_point(|s| s.manifest.height <= tip);
        list.split_off(at)
    }

    /// Adds a snapshot; returns those beyond the newest `keep` (to delete).
    fn add(&self, snapshot: Indexed, keep: usize) -> Vec<Indexed> {
        let mut list = self.list.write().unwrap_or_else(|e| e.into_inner());
        list.push(snapshot);
        list.sort_by_key(|s| s.manifest.height);
        let excess = list.len().saturating_sub(keep.max(1));
        list.drain(..excess).collect()
    }

    #[cfg(feature = "byzantine")]
    fn corrupted(&self, bytes: Vec<u8>) -> Vec<u8> {
        if !self.corrupt {
            return bytes;
        }
        match phalanx_storage::snapshot::decode_chunk(&bytes) {
            Ok(mut chunk) => {
                if let Some((_, value)) = chunk.entries.first_mut() {
                    value.push(0x42);
                }
                phalanx_types::encode(&chunk)
            }
            Err(_) => bytes,
        }
    }
}

impl SnapshotSource for Kept {
    fn offers(&self) -> Vec<SnapshotOffer> {
        let lowest = self.lowest_block.load(Ordering::Acquire);
        let list = self.list.read().unwrap_or_else(|e| e.into_inner());
        list.iter()
            .rev()
            .filter(|s| s.manifest.height + 1 >= lowest)
            .map(|s| snapfile::offer_of(&s.manifest))
            .collect()
    }

    fn part(&self, height: Height, part: SnapshotPart) -> Option<Vec<u8>> {
        let (path, range) = {
            let list = self.list.read().unwrap_or_else(|e| e.into_inner());
            let s = list.iter().find(|s| s.manifest.height == height)?;
            let range = match part {
                SnapshotPart::Header => s.header,
                SnapshotPart::Chunk(i) => *s.chunks.get(i as usize)?,
            };
            (s.path.clone(), range)
        };
        // A snapshot deleted meanwhile is simply not served.
        let bytes = snapfile::read_at(&path, range).ok()?;
        #[cfg(feature = "byzantine")]
        if matches!(part, SnapshotPart::Chunk(_)) {
            return Some(self.corrupted(bytes));
        }
        Some(bytes)
    }
}

/// What the pruner must keep: the state from one height (the next snapshot's) and the
/// blocks from another (also the blocks after the newest snapshot, which a node installing
/// it syncs next). `u64::MAX`: nothing held.
#[derive(Debug, Clone)]
pub struct Pin {
    state: Arc<AtomicU64>,
    blocks: Arc<AtomicU64>,
}

impl Pin {
    /// Pins nothing.
    pub fn none() -> Pin {
        Pin {
            state: Arc::new(AtomicU64::new(u64::MAX)),
            blocks: Arc::new(AtomicU64::new(u64::MAX)),
        }
    }

    /// The state kept from this height.
    pub fn state(&self) -> Height {
        self.state.load(Ordering::Acquire)
    }

    /// The blocks kept from this height.
    pub fn blocks(&self) -> Height {
        self.blocks.load(Ordering::Acquire)
    }

    /// Holds the state from `state`, and the blocks from `state` or just after the newest
    /// snapshot `newest` (0: none), whichever is lower.
    fn set(&self, state: Height, newest: Height) {
        let blocks = if newest > 0 {
            state.min(newest + 1)
        } else {
            state
        };
        self.blocks.store(blocks, Ordering::Release);
        self.state.store(state, Ordering::Release);
    }
}

/// Releases the pin if the snapshotter thread ends (a panic included), so the pruner is
/// never held by a thread that no longer takes snapshots.
struct Release(Pin);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.set(u64::MAX, 0);
    }
}

/// The height to pin at `tip`, when the newest snapshot taken (or given up) is `done`: the
/// latest multiple of the interval while it is still to be taken, else the next one.
fn pin_for(interval: Height, tip: Height, done: Height) -> Height {
    if interval == 0 {
        return u64::MAX;
    }
    let latest = tip / interval * interval;
    if latest > done && latest > 0 {
        latest
    } else {
        latest + interval
    }
}

/// A running snapshotter thread; stops when dropped.
pub struct SnapshotterThread {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for SnapshotterThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the snapshotter works on.
pub struct Snapshotter {
    /// The store.
    pub kv: Arc<dyn KvStore>,
    /// Where the files go.
    pub dir: PathBuf,
    /// Interval and how many to keep.
    pub config: SnapshotConfig,
    /// What the network serves.
    pub kept: Arc<Kept>,
    /// Holds the next snapshot's state against the pruner.
    pub pin: Pin,
    /// `phalanx_snapshot_height`.
    pub metrics: Arc<Metrics>,
}

impl Snapshotter {
    /// Sets the pin for `tip` (before the pruner starts), then takes snapshots in a thread,
    /// following the tip in `status`.
    pub fn spawn(
        self,
        tip: Height,
        status: watch::Receiver<NodeStatus>,
    ) -> std::io::Result<SnapshotterThread> {
        for stale in self.kept.take_above(tip) {
            tracing::warn!(file = %stale.path.display(), tip, "deleting a snapshot above this node's height");
            let _ = std::fs::remove_file(&stale.path);
        }
        let newest = self.kept.newest();
        if self.config.snapshot_interval > 0 {
            self.pin
                .set(pin_for(self.config.snapshot_interval, tip, newest), newest);
        }
        self.metrics.snapshot_height.set(newest as i64);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("snapshotter".into())
            .spawn(move || self.run(status, flag))?;
        Ok(SnapshotterThread {
            stop,
            thread: Some(thread),
        })
    }

    fn run(self, status: watch::Receiver<NodeStatus>, stop: Arc<AtomicBool>) {
        let interval = self.config.snapshot_interval;
        if interval == 0 {
            return;
        }
        let _release = Release(self.pin.clone());
        let mut done = self.kept.newest();
        while !stop.load(Ordering::Relaxed) {
            let tip = status.borrow().height;
            if let Ok(lowest) = phalanx_storage::prune::lowest_block(&*self.kv) {
                self.kept.lowest_block.store(lowest, Ordering::Release);
            }
            let due = tip / interval * interval;
            if due > done && due > 0 {
                match self.take(due) {
                    Ok(()) => {}
                    Err(e) => {
                        tracing::warn!(height = due, error = %e, "could not take a snapshot")
                    }
                }
                // Taken or given up: the pin moves on either way.
                done = due;
            }
            self.pin
                .set(pin_for(interval, tip, done), self.kept.newest());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn take(&self, height: Height) -> Result<()> {
        let lowest = phalanx_storage::prune::lowest_state_version(&*self.kv)?;
        if height < lowest {
            anyhow::bail!("the state at {height} is pruned (kept from {lowest})");
        }
        std::fs::create_dir_all(&self.dir)?;
        let path = self.dir.join(file_name(height));
        let tmp = path.with_extension("phxsnap.tmp");
        let started = std::time::Instant::now();
        // Indexed (every part within the sizes peers accept) before it is renamed: a file
        // under its final name is always whole and servable.
        let written = snapfile::write_snapshot(self.kv.clone(), height, None, &tmp)
            .and_then(|_| snapfile::index(&tmp))
            .and_then(|ix| Ok(std::fs::rename(&tmp, &path).map(|()| ix)?));
        let mut snapshot = match written {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        snapshot.path = path;
        tracing::info!(
            height,
            keys = snapshot.manifest.keys,
            chunks = snapshot.manifest.chunks(),
            bytes = snapshot.bytes,
            ms = started.elapsed().as_millis() as u64,
            "took a state snapshot"
        );
        for old in self.kept.add(snapshot, self.config.keep_recent) {
            if let Err(e) = std::fs::remove_file(&old.path) {
                tracing::warn!(file = %old.path.display(), error = %e, "cannot delete an old snapshot");
            }
        }
        self.metrics.snapshot_height.set(self.kept.newest() as i64);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Pin, pin_for};

    #[test]
    fn blocks_after_the_newest_snapshot_are_held_too() {
        let pin = Pin::none();
        assert_eq!((pin.state(), pin.blocks()), (u64::MAX, u64::MAX));
        // Next snapshot due at 200, the newest taken at 100: blocks from 101 are kept.
        pin.set(200, 100);
        assert_eq!((pin.state(), pin.blocks()), (200, 101));
        // None taken yet: blocks from the due height.
        pin.set(100, 0);
        assert_eq!((pin.state(), pin.blocks()), (100, 100));
    }

    #[test]
    fn the_pin_holds_the_next_snapshot_until_it_is_taken() {
        // Nothing taken, below the first multiple: the first multiple is pinned ahead.
        assert_eq!(pin_for(100, 42, 0), 100);
        // Height 100 committed, not yet taken: 100 stays pinned.
        assert_eq!(pin_for(100, 100, 0), 100);
        assert_eq!(pin_for(100, 150, 0), 100);
        // Taken: the pin moves to the next multiple (no state held beyond the window).
        assert_eq!(pin_for(100, 150, 100), 200);
        // A restart far ahead with an old snapshot: the latest multiple is due.
        assert_eq!(pin_for(100, 1_234, 300), 1_200);
        // Off: nothing pinned.
        assert_eq!(pin_for(0, 1_234, 0), u64::MAX);
    }
}
