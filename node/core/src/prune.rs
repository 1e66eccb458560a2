//! The pruner: deletes history outside the retained window in small steps, beside the core.
//!
//! It owns no chain state: each [`Pruner::step`] reads the tip it is given and deletes at most
//! about [`Pruner::max_keys`] keys of each kind in one atomic write, so a commit never waits
//! behind a long deletion, and a crash between steps leaves a consistent store (see
//! [`phalanx_storage::prune`]). Compiled-module artifacts are a cache: their column is swept
//! every [`ARTIFACT_SWEEP_EVERY`] heights, and one whose code has not been in state for
//! [`ARTIFACT_GRACE`] heights (a failed deploy) is deleted.

use crate::error::CoreError;
use phalanx_runtime::layout;
use phalanx_storage::prune::{self, StatePruned};
use phalanx_storage::{Column, Durability, KvStore, StateStore, WriteBatch};
use phalanx_types::{Hash, Height};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How much history a node keeps. `0` keeps everything. The default keeps every block (the
/// chain's audit trail) and the last [`DEFAULT_RETAIN_STATE_VERSIONS`] state versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Blocks (with certificates, receipts, events and the tx index) kept below the tip.
    pub retain_blocks: u64,
    /// State versions kept (values and proofs at those heights).
    pub retain_state_versions: u64,
}

/// State versions kept by default: about 28 hours of proofs at one block a second.
pub const DEFAULT_RETAIN_STATE_VERSIONS: u64 = 100_000;

impl Default for Retention {
    fn default() -> Self {
        Retention {
            retain_blocks: 0,
            retain_state_versions: DEFAULT_RETAIN_STATE_VERSIONS,
        }
    }
}

impl Retention {
    /// Keeps everything.
    pub const ALL: Retention = Retention {
        retain_blocks: 0,
        retain_state_versions: 0,
    };

    /// The lowest height whose block is kept at `tip`.
    pub fn block_horizon(&self, tip: Height) -> Height {
        match self.retain_blocks {
            0 => 1,
            n => (tip + 1).saturating_sub(n).max(1),
        }
    }

    /// The oldest state version kept at `tip`.
    pub fn state_horizon(&self, tip: Height) -> Height {
        match self.retain_state_versions {
            0 => 0,
            n => (tip + 1).saturating_sub(n),
        }
    }
}

/// What one step deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// Heights of blocks deleted.
    pub blocks: u64,
    /// Tree nodes and values deleted.
    pub state: StatePruned,
    /// Compiled artifacts deleted.
    pub artifacts: usize,
}

impl Pruned {
    /// True when the step found nothing to delete.
    pub fn is_empty(&self) -> bool {
        self.blocks == 0 && self.state.is_empty() && self.artifacts == 0
    }
}

/// Deletes history outside a [`Retention`] window, a bounded step at a time.
pub struct Pruner {
    kv: Arc<dyn KvStore>,
    state: StateStore,
    retention: Retention,
    /// Where the artifact scan goes on (it wraps around).
    artifacts_from: Vec<u8>,
    /// Artifacts seen without code in state, with the tip when first seen so. A deploy
    /// being executed saves its artifact before its block commits: only one still orphaned
    /// [`ARTIFACT_GRACE`] heights later is deleted.
    orphans: BTreeMap<Vec<u8>, Height>,
    /// The tip when the last sweep of the artifacts ended (`None`: none yet).
    swept_at: Option<Height>,
    /// Where the stale-node scan goes on: entries before it were deleted (their tombstones
    /// would slow every scan from the start until compaction).
    stale_from: Vec<u8>,
    /// Most keys of each kind one step deletes.
    pub max_keys: usize,
    /// Heights between sweeps of the artifacts ([`ARTIFACT_SWEEP_EVERY`]).
    pub artifact_sweep_every: Height,
    /// The state of this height and above is kept whatever the window (a snapshot due
    /// there; `u64::MAX`: nothing held).
    pub hold_from: Height,
    /// Blocks of this height and above are kept whatever the window (`u64::MAX`: none).
    pub hold_blocks_from: Height,
}

/// Artifacts looked at per step (their values are large compiled modules).
const ARTIFACTS_PER_STEP: usize = 8;

/// Heights an artifact must stay orphaned before it is deleted.
pub const ARTIFACT_GRACE: Height = 16;

/// Heights between two sweeps of the artifacts: reading the column reads the compiled
/// modules themselves (large values), so it is done rarely.
pub const ARTIFACT_SWEEP_EVERY: Height = 256;

impl Pruner {
    /// A pruner over `kv` keeping `retention`.
    pub fn new(kv: Arc<dyn KvStore>, retention: Retention) -> Pruner {
        Pruner {
            state: StateStore::new(kv.clone()),
            kv,
            retention,
            artifacts_from: Vec::new(),
            orphans: BTreeMap::new(),
            swept_at: None,
            stale_from: Vec::new(),
            max_keys: 2_000,
            artifact_sweep_every: ARTIFACT_SWEEP_EVERY,
            hold_from: u64::MAX,
            hold_blocks_from: u64::MAX,
        }
    }

    /// One bounded step at `tip`. An empty result means there is nothing to do until the tip
    /// moves.
    pub fn step(&mut self, tip: Height) -> Result<Pruned, CoreError> {
        let mut pruned = Pruned::default();
        if self.retention.retain_blocks > 0 {
            let below = self
                .retention
                .block_horizon(tip)
                .min(self.hold_blocks_from.max(1));
            pruned.blocks = prune::prune_blocks_step(&*self.kv, below, self.max_keys)?;
        }
        if self.retention.retain_state_versions > 0 {
            let keep_from = self.retention.state_horizon(tip).min(self.hold_from);
            pruned.state =
                prune::prune_state_step(&*self.kv, keep_from, self.max_keys, &mut self.stale_from)?;
        }
        pruned.artifacts = self.prune_artifacts(tip)?;
        Ok(pruned)
    }

    /// Looks at the next few artifacts and deletes those whose code has not been in state for
    /// [`ARTIFACT_GRACE`] heights.
    fn prune_artifacts(&mut self, tip: Height) -> Result<usize, CoreError> {
        // A sweep, once started, goes on a page a step; the next starts
        // ARTIFACT_SWEEP_EVERY heights after it ended.
        let sweeping = !self.artifacts_from.is_empty();
        if !sweeping
            && self
                .swept_at
                .is_some_and(|at| tip < at + self.artifact_sweep_every)
        {
            return Ok(0);
        }
        let page = self.kv.scan(
            Column::Code,
            &[],
            Some(&self.artifacts_from),
            ARTIFACTS_PER_STEP,
        )?;
        let wrapped = page.len() < ARTIFACTS_PER_STEP;
        let mut batch = WriteBatch::new();
        for (key, _) in &page {
            let Ok(hash) = <[u8; 32]>::try_from(key.as_slice()) else {
                continue;
            };
            if self.state.get(&layout::code_key(&Hash(hash)))?.is_some() {
                self.orphans.remove(key);
                continue;
            }
            let since = *self.orphans.entry(key.clone()).or_insert(tip);
            if tip >= since + ARTIFACT_GRACE {
                batch.delete(Column::Code, key.clone());
                self.orphans.remove(key);
            }
        }
        self.artifacts_from = match (wrapped, page.last()) {
            (false, Some((last, _))) => phalanx_storage::key_after(last),
            _ => {
                self.swept_at = Some(tip);
                Vec::new()
            }
        };
        let n = batch.len();
        if n > 0 {
            self.kv.write(batch, Durability::Buffered)?;
        }
        Ok(n)
    }
}
