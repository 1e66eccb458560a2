//! The state of one height, dropped as a whole when the height is decided (§4.3: the log
//! below the last commit is garbage).

use crate::votes::VoteKeeper;
use crate::wal::Prepared;
use phalanx_types::consensus::{Phase, PrePrepare, Signed, SignedStatement, ViewChange};
use phalanx_types::{Address, CheckedBlock, Hash, View};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

/// What the replica knows of a block's validity at this height. A block is its header plus
/// the body the header names ([`CheckedBlock`]), so a verdict by hash is a verdict on the
/// block itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    /// Sent to the node for execution; no answer yet.
    Pending,
    /// Executes to its header.
    Valid,
    /// Does not.
    Invalid,
}

/// Everything a replica holds for the height it is deciding.
#[derive(Debug, Clone, Default)]
pub struct Round {
    /// Accepted PRE-PREPAREs, by view (one per view, from its primary).
    pub pre_prepares: BTreeMap<View, Signed<PrePrepare>>,
    /// What is known of each proposed block.
    pub validation: BTreeMap<Hash, Validation>,
    /// PREPAREs and COMMITs.
    pub votes: VoteKeeper,
    /// The highest-view prepared certificate, with its block.
    pub prepared: Option<Prepared>,
    /// The digest signed in each (view, phase) (persisted before signing).
    pub signed: BTreeMap<(View, Phase), Hash>,
    /// The latest VIEW-CHANGE of each validator.
    pub view_changes: ViewChanges,
    /// The NEW-VIEW accepted (or sent) for each view entered: equivocation shows here.
    pub new_views: BTreeMap<View, SignedStatement>,
    /// The view a proposal was requested for, until it arrives.
    pub awaiting_proposal: Option<View>,
    /// Validators already reported for equivocating at this height (once each: the first
    /// proof is enough, and the set stays bounded by the validators).
    pub reported: BTreeSet<Address>,
    /// A sync request went out (throttle until a timeout or a commit).
    pub sync_requested: bool,
    /// The view-change target whose timer restarted when a quorum of VIEW-CHANGEs arrived.
    pub quorum_timer: Option<View>,
}

impl Round {
    /// The block with this hash, if this replica holds it (proposed, prepared, or carried by
    /// a VIEW-CHANGE).
    pub fn block(&self, hash: &Hash) -> Option<CheckedBlock> {
        self.pre_prepares
            .values()
            .map(|pp| &pp.body.block)
            .chain(self.prepared.as_ref().map(|p| &p.block))
            .find(|b| b.hash() == *hash)
            .cloned()
            .or_else(|| self.view_changes.block(hash))
    }

    /// Forgets proposals and votes of views outside `views`.
    pub fn retain_views(&mut self, views: RangeInclusive<View>) {
        self.pre_prepares.retain(|v, _| views.contains(v));
        self.votes.retain_views(views);
    }
}

/// The latest VIEW-CHANGE of each validator, whatever its view (one per author), kept
/// without blocks; the blocks they carried are kept once each, by hash.
#[derive(Debug, Clone, Default)]
pub struct ViewChanges {
    by_author: BTreeMap<Address, Signed<ViewChange>>,
    blocks: BTreeMap<Hash, CheckedBlock>,
}

impl ViewChanges {
    /// `author`'s latest VIEW-CHANGE (without its block).
    pub fn get(&self, author: &Address) -> Option<&Signed<ViewChange>> {
        self.by_author.get(author)
    }

    /// `author`'s latest VIEW-CHANGE with its block attached again, as it was sent.
    pub fn with_block(&self, author: &Address) -> Option<Signed<ViewChange>> {
        let mut vc = self.by_author.get(author)?.clone();
        vc.body.block = vc
            .body
            .prepared
            .as_ref()
            .and_then(|p| self.blocks.get(&p.block_hash).cloned());
        Some(vc)
    }

    /// Keeps `vc` as its author's latest (replacing an older one).
    pub fn insert(&mut self, mut vc: Signed<ViewChange>) {
        if let Some(block) = vc.body.block.take() {
            self.blocks.entry(block.hash()).or_insert(block);
        }
        self.by_author.insert(vc.author, vc);
        self.collect_blocks();
    }

    /// The block with this hash, if a kept VIEW-CHANGE carried it.
    pub fn block(&self, hash: &Hash) -> Option<CheckedBlock> {
        self.blocks.get(hash).cloned()
    }

    /// How many validators asked for `view` or a later one.
    pub fn at_least(&self, view: View) -> usize {
        self.by_author
            .values()
            .filter(|v| v.body.view >= view)
            .count()
    }

    /// The VIEW-CHANGEs for exactly `view`, in author order, without blocks.
    pub fn for_view(&self, view: View) -> Vec<Signed<ViewChange>> {
        self.by_author
            .values()
            .filter(|v| v.body.view == view)
            .cloned()
            .collect()
    }

    /// The views above `view` asked for by validators other than `me`.
    pub fn others_above(&self, view: View, me: Option<Address>) -> Vec<View> {
        self.by_author
            .iter()
            .filter(|(a, v)| Some(**a) != me && v.body.view > view)
            .map(|(_, v)| v.body.view)
            .collect()
    }

    /// Forgets VIEW-CHANGEs for `view` and below (the view was entered).
    pub fn retain_above(&mut self, view: View) {
        self.by_author.retain(|_, v| v.body.view > view);
        self.collect_blocks();
    }

    /// Bytes of blocks held (for the memory bound).
    pub fn block_bytes(&self) -> usize {
        self.blocks
            .values()
            .map(|b| phalanx_types::encoded_len(b.block()))
            .sum()
    }

    fn collect_blocks(&mut self) {
        let named: BTreeSet<Hash> = self
            .by_author
            .values()
            .filter_map(|v| v.body.prepared.as_ref().map(|p| p.block_hash))
            .collect();
        self.blocks.retain(|h, _| named.contains(h));
    }
}
