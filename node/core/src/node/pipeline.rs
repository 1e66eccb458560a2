//! Pipelining at the node (see [`phalanx_consensus::pipeline`]): blocks above the tip are
//! executed on their parents' uncommitted state, and the primary proposes the next heights
//! while the current one collects votes, at a pace that spreads the heights in flight over
//! one round.

use super::{Action, Input, NodeCore, Verdict};
use crate::chain::ExecutedBlock;
use crate::error::{BlockError, CoreError};
use phalanx_types::{CheckedBlock, Hash};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Heights above the one being decided that the primary proposes ahead and replicas
/// prepare (the consensus core's `pipeline`).
pub const PIPELINE: u64 = 2;

/// What the gap between proposals above the tip adds to a third of a round: the work
/// between a height's commit and its child's COMMIT reaching the other validators (storing
/// the block, signing, the messages' handling), measured 5–9 ms per height on the test
/// machine (debug build, two cores for four validators). It also keeps blocks from coming
/// closer than a block's own work: capping it at a third of a short round was tried, and at
/// 0 ms on a slow hour blocks then came 8 ms apart and the nodes fell behind the load (419
/// of 500 tx/s, against 467 without the cap). A node with rounds of a few ms proposes
/// ahead less often for it, and a transaction waits up to the margin more. See [`Pace`].
const PACE_MARGIN_MS: u64 = 6;

/// When this node, as primary, last proposed, and how long its blocks take from proposal to
/// commit (the round). Proposals above the tip are spaced by a third of a round plus
/// [`PACE_MARGIN_MS`], so at WAN delays two to three heights are in flight and a transaction
/// waits about a sixth of a round for its block, not half of one.
///
/// Why that gap: each height's COMMIT waits for its parent's commit, so heights commit at
/// most one per (one-way delay + the work around a commit). A round is three one-way delays
/// plus processing, so a third of it is one delay plus a little; the margin covers the rest.
/// Closer than that, blocks queue behind each other and every round grows (at 25 ms one-way,
/// a third of a round alone measured 162 ms and 35 % of it 173 ms); further apart,
/// transactions wait longer for a block (a half: 143–151 ms; this gap: 132–135 ms). A fixed
/// fraction does not fit every delay: two fifths gives about the same gap at 25 ms, but at
/// 0 ms (a round of about 20 ms) it packed blocks 8 ms apart, and their per-block work then
/// cost more than waiting saved (docs/PERFORMANCE.md). Local timing only: nothing here
/// feeds consensus or state.
#[derive(Debug, Default)]
pub(super) struct Pace {
    last_proposed_ms: u64,
    /// Smoothed proposal-to-commit time of this node's own blocks (ms).
    round_ms: u64,
    /// This node's proposals not yet committed, with the time they were proposed.
    proposed_at: BTreeMap<Hash, u64>,
    /// The proposal timer already armed for this time (one per due time).
    timer_at: u64,
}

impl Pace {
    fn proposed(&mut self, hash: Hash, now_ms: u64) {
        self.last_proposed_ms = now_ms;
        self.proposed_at.insert(hash, now_ms);
    }

    /// A block committed: one more sample of the round if it was this node's proposal.
    pub(super) fn committed(&mut self, hash: &Hash, now_ms: u64) {
        if let Some(at) = self.proposed_at.remove(hash) {
            let sample = now_ms.saturating_sub(at);
            self.round_ms = if self.round_ms == 0 {
                sample
            } else {
                (self.round_ms * 3 + sample) / 4
            };
        }
    }

    /// The earliest time of the next proposal above the tip.
    fn due_ms(&self) -> u64 {
        self.last_proposed_ms + self.round_ms / 3 + PACE_MARGIN_MS
    }
}

impl NodeCore {
    /// The executed blocks from the tip up to `parent` (oldest first): empty when `parent`
    /// is the tip; `None` unless `parent` extends the tip through executed blocks only.
    fn ancestry(&self, parent: Hash) -> Option<Vec<&ExecutedBlock>> {
        let tip = self.chain.tip().hash;
        let mut out = Vec::new();
        let mut at = parent;
        while at != tip {
            let e = self.executed.get(&at)?;
            out.push(e);
            if out.len() as u64 > PIPELINE {
                return None;
            }
            at = e.parent();
        }
        out.reverse();
        Some(out)
    }

    /// Executes a proposed block, on the tip or above it on its executed parents, and keeps
    /// the result for its commit (and for its children).
    pub(super) fn validate_block(
        &mut self,
        block: &CheckedBlock,
        now_ms: u64,
    ) -> Result<Verdict, CoreError> {
        let hash = block.hash();
        // A CheckedBlock's body is its header's: a cached execution by hash stands for
        // exactly this block.
        if self.executed.contains_key(&hash) {
            return Ok(Verdict::Valid);
        }
        let tip = self.chain.tip();
        let mempool = &self.mempool;
        let verified = |h: &Hash| mempool.contains(h);
        let result = if block.height() == tip.height + 1 {
            Some(self.chain.validate(block, now_ms, &verified)?)
        } else {
            match self.ancestry(block.header.parent_hash) {
                Some(parents) if !parents.is_empty() => {
                    self.chain.validate_on(&parents, block, now_ms, &verified)?
                }
                // Its parent is not executed here (yet): asked again at its height.
                _ => None,
            }
        };
        Ok(match result {
            None => Verdict::NotYet,
            Some(Ok(executed)) => {
                self.executed.insert(hash, executed);
                Verdict::Valid
            }
            Some(Err(reason)) => {
                tracing::warn!(height = block.height(), %hash, %reason, "refusing a proposed block");
                match reason {
                    BlockError::AheadOfClock { .. } => Verdict::NotYet,
                    _ => Verdict::Invalid,
                }
            }
        })
    }

    /// Builds and executes a block for the pending request, as the input to feed back.
    /// Without `force`, nothing is built (the request stays pending) unless the mempool has
    /// transactions that can go in now: pending ones with future nonces must not make the
    /// primary spin out empty blocks. Above the tip, a block waits for its pace (a timer is
    /// armed) and is never empty; the transactions of the blocks below are passed over.
    pub(super) fn build_proposal(
        &mut self,
        now_ms: u64,
        force: bool,
        actions: &mut Vec<Action>,
    ) -> Result<Option<Input>, CoreError> {
        let Some(req) = self.proposal else {
            return Ok(None);
        };
        let tip = self.chain.tip();
        let Some(me) = self.me else {
            self.proposal = None;
            return Ok(None);
        };
        let Some(parents) = self
            .ancestry(req.parent)
            .filter(|p| req.height == tip.height + 1 + p.len() as u64)
        else {
            self.proposal = None;
            return Ok(None);
        };
        let ahead = !parents.is_empty();
        if ahead {
            let due = self.pace.due_ms();
            if now_ms < due {
                if !self.mempool.is_empty() && self.pace.timer_at != due {
                    self.pace.timer_at = due;
                    actions.push(Action::ScheduleProposal {
                        view: req.view,
                        height: req.height,
                        after_ms: due - now_ms,
                    });
                }
                return Ok(None);
            }
        }
        let taken: HashSet<Hash> = parents
            .iter()
            .flat_map(|e| e.tx_hashes().iter().copied())
            .collect();
        let txs = self.mempool.select_after(self.chain.params(), &taken);
        if txs.is_empty() && (ahead || !force) {
            return Ok(None);
        }
        let mempool = &self.mempool;
        let built = self
            .chain
            .build_on(&parents, me, now_ms, txs, &|h| mempool.contains(h))?;
        self.proposal = None;
        // None: a governance change among the parents; the height is asked again once they
        // commit.
        let Some((block, executed, dropped)) = built else {
            return Ok(None);
        };
        // Invalid on the committed state: evicted. Above the tip, a transaction may be
        // invalid only on the uncommitted parents (which a view change can discard): kept.
        if !ahead {
            for tx in dropped {
                self.mempool.remove(&tx.hash());
            }
        }
        tracing::debug!(
            height = req.height,
            view = req.view,
            txs = block.txs.len(),
            ahead,
            "proposing"
        );
        let hash = block.hash();
        self.pace.proposed(hash, now_ms);
        self.executed.insert(hash, executed);
        Ok(Some(Input::Proposal(block)))
    }

    /// After a commit: keeps the executed blocks that still extend the new tip (and the
    /// proposal request if it still builds on one of them); drops the rest.
    pub(super) fn keep_extending_tip(&mut self) {
        let tip = self.chain.tip();
        let mut by_height: Vec<(u64, Hash, Hash)> = self
            .executed
            .iter()
            .map(|(h, e)| (e.after().height, *h, e.parent()))
            .collect();
        by_height.sort_unstable();
        let mut live: BTreeSet<Hash> = BTreeSet::from([tip.hash]);
        for (height, hash, parent) in by_height {
            if height > tip.height && live.contains(&parent) {
                live.insert(hash);
            }
        }
        self.executed
            .retain(|h, _| *h != tip.hash && live.contains(h));
        self.pace.proposed_at.retain(|h, _| live.contains(h));
        self.proposal = self.proposal.filter(|r| {
            r.height > tip.height && (r.parent == tip.hash || self.executed.contains_key(&r.parent))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposals_above_the_tip_are_a_third_of_a_round_plus_the_margin_apart() {
        let mut pace = Pace::default();
        let (a, b) = (Hash([1; 32]), Hash([2; 32]));
        pace.proposed(a, 1_000);
        pace.committed(&a, 1_090);
        assert_eq!(pace.round_ms, 90, "the first sample is the round");
        pace.proposed(b, 1_100);
        assert_eq!(pace.due_ms(), 1_100 + 30 + PACE_MARGIN_MS);
        // A slower round moves the smoothed round a quarter of the way.
        pace.committed(&b, 1_230);
        assert_eq!(pace.round_ms, 100);
        assert_eq!(pace.due_ms(), 1_100 + 33 + PACE_MARGIN_MS);
        // Another node's block is no sample.
        pace.committed(&Hash([3; 32]), 5_000);
        assert_eq!(pace.round_ms, 100);
    }

    #[test]
    fn a_short_round_still_gets_the_whole_margin() {
        let mut pace = Pace::default();
        assert_eq!(
            pace.due_ms(),
            PACE_MARGIN_MS,
            "no sample yet: the margin alone"
        );
        let a = Hash([1; 32]);
        pace.proposed(a, 1_000);
        pace.committed(&a, 1_006);
        // A 6 ms round: blocks no closer than the margin (a block's own work).
        assert_eq!(pace.due_ms(), 1_000 + 2 + PACE_MARGIN_MS);
    }
}
