//! The pruner thread: runs [`Pruner`] steps beside the core, never holding anything the core
//! needs, and backs off when there is nothing to delete.

use crate::snapshots::Pin;
use phalanx_core::NodeStatus;
use phalanx_core::prune::{Pruner, Retention};
use phalanx_rpc::metrics::Metrics;
use phalanx_storage::KvStore;
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
