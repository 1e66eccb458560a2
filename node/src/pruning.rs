//! The pruner thread: runs [`Pruner`] steps beside the core, never holding anything the core
//! needs, and backs off when there is nothing to delete.
//!
//! Deleting only writes tombstones: the data leaves the disk when RocksDB compacts the files
//! holding it, which its ordinary level compaction does late for a small, steadily pruned
//! database (measured: the tables grew from 17 to 83 MiB over ten minutes at 500 tx/s with a
//! 300-block window). So after every [`COMPACT_AFTER`] deletions, and at most every
//! [`COMPACT_EVERY`], the thread compacts the column families that pruning and every block
//! churn. Only a node that prunes does this, on this thread, at a bounded rate.

use crate::snapshots::Pin;
use phalanx_core::NodeStatus;
use phalanx_core::prune::{Pruner, Retention};
use phalanx_rpc::metrics::Metrics;
use phalanx_storage::{Column, KvStore};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// Pause between steps while there is work (lets commits and reads in).
const BUSY_PAUSE: Duration = Duration::from_millis(2);
/// Pause once caught up.
const IDLE_PAUSE: Duration = Duration::from_millis(500);
/// Pause after a storage error before trying again.
const ERROR_PAUSE: Duration = Duration::from_secs(5);
/// Deletions (heights of blocks, tree nodes and values) after which the pruned column
/// families are compacted.
pub const COMPACT_AFTER: u64 = 50_000;
/// Least time between two compactions.
pub const COMPACT_EVERY: Duration = Duration::from_secs(10);
/// Block families: compacted when blocks are pruned.
const BLOCK_FAMILIES: [Column; 6] = [
    Column::Blocks,
    Column::BlockIndex,
    Column::Certificates,
    Column::TxIndex,
    Column::Receipts,
    Column::SenderIndex,
];
/// State tree families: compacted when state versions are pruned.
const STATE_FAMILIES: [Column; 3] = [Column::TreeNodes, Column::TreeValues, Column::StaleNodes];
/// Families every block overwrites or deletes from (the flat state, the consensus log,
/// metadata), whose garbage the same late compaction leaves on disk: compacted with either.
const CHURN_FAMILIES: [Column; 3] = [Column::Meta, Column::State, Column::Wal];

/// The families a node pruning to `retention` compacts.
fn compacted(retention: &Retention) -> Vec<Column> {
    let mut cols = Vec::new();
    if retention.retain_blocks > 0 {
        cols.extend(BLOCK_FAMILIES);
    }
    if retention.retain_state_versions > 0 {
        cols.extend(STATE_FAMILIES);
    }
    if !cols.is_empty() {
        cols.extend(CHURN_FAMILIES);
    }
    cols
}

/// Compactions take at most a tenth of the time: the next waits nine times as long as the
/// last took, and at least [`COMPACT_EVERY`].
const COMPACT_DUTY: u32 = 9;

/// A running pruner thread; stops when dropped.
pub struct PrunerThread {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PrunerThread {
    /// Starts pruning `kv` to `retention`, following the tip in `status`, never below the
    /// height `pin` holds (the next snapshot's).
    pub fn spawn(
        kv: Arc<dyn KvStore>,
        retention: Retention,
        status: watch::Receiver<NodeStatus>,
        metrics: Arc<Metrics>,
        pin: Pin,
    ) -> std::io::Result<PrunerThread> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("pruner".into())
            .spawn(move || run(kv, retention, status, metrics, pin, flag))?;
        Ok(PrunerThread {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for PrunerThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sleeps `d`, waking early when asked to stop. True if it should stop.
fn pause(d: Duration, stop: &AtomicBool) -> bool {
    let slice = Duration::from_millis(50);
    let mut left = d;
    while !left.is_zero() {
        if stop.load(Ordering::Relaxed) {
            return true;
        }
        let s = left.min(slice);
        std::thread::sleep(s);
        left -= s;
    }
    stop.load(Ordering::Relaxed)
}

fn run(
    kv: Arc<dyn KvStore>,
    retention: Retention,
    status: watch::Receiver<NodeStatus>,
    metrics: Arc<Metrics>,
    pin: Pin,
    stop: Arc<AtomicBool>,
) {
    let mut pruner = Pruner::new(kv.clone(), retention);
    tracing::info!(
        retain_blocks = retention.retain_blocks,
        retain_state_versions = retention.retain_state_versions,
        "pruner started"
    );
    let families = compacted(&retention);
    let mut deleted = 0u64;
    let mut next_compaction = std::time::Instant::now() + COMPACT_EVERY;
    loop {
        let tip = status.borrow().height;
        pruner.hold_from = pin.state();
        pruner.hold_blocks_from = pin.blocks();
        let wait = match pruner.step(tip) {
            Ok(done) => {
                metrics.pruned_blocks.inc_by(done.blocks);
                metrics.pruned_tree_nodes.inc_by(done.state.nodes as u64);
                if let Ok(h) = phalanx_storage::prune::lowest_block(&*kv) {
                    metrics.earliest_height.set(h as i64);
                }
                if let Ok(h) = phalanx_storage::prune::lowest_state_version(&*kv) {
                    metrics.earliest_state_height.set(h as i64);
                }
                deleted += done.blocks + (done.state.nodes + done.state.values) as u64;
                if deleted >= COMPACT_AFTER && std::time::Instant::now() >= next_compaction {
                    let started = std::time::Instant::now();
                    for col in &families {
                        // One family at a time; a stop waits for one at most.
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        if let Err(e) = kv.compact(*col) {
                            tracing::warn!(error = %e, column = col.name(), "compaction failed");
                        }
                    }
                    let took = started.elapsed();
                    tracing::debug!(
                        deleted,
                        ms = took.as_millis() as u64,
                        "compacted the pruned and churned column families"
                    );
                    deleted = 0;
                    next_compaction =
                        std::time::Instant::now() + (took * COMPACT_DUTY).max(COMPACT_EVERY);
                }
                if done.is_empty() {
                    IDLE_PAUSE
                } else {
                    tracing::debug!(
                        blocks = done.blocks,
                        nodes = done.state.nodes,
                        values = done.state.values,
                        artifacts = done.artifacts,
                        "pruned"
                    );
                    BUSY_PAUSE
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "pruning failed; retrying");
                ERROR_PAUSE
            }
        };
        if pause(wait, &stop) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_pruning_node_compacts_and_only_what_it_prunes() {
        assert!(compacted(&Retention::ALL).is_empty());
        let state_only = compacted(&Retention {
            retain_blocks: 0,
            retain_state_versions: 100,
        });
        assert!(state_only.contains(&Column::TreeNodes) && state_only.contains(&Column::Wal));
        assert!(!state_only.contains(&Column::TxIndex), "{state_only:?}");
        let blocks_only = compacted(&Retention {
            retain_blocks: 100,
            retain_state_versions: 0,
        });
        assert!(blocks_only.contains(&Column::Blocks));
        assert!(!blocks_only.contains(&Column::TreeNodes), "{blocks_only:?}");
        assert!(!blocks_only.contains(&Column::Code));
    }
}
