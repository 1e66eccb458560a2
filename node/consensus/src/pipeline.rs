//! Pipelining: the primary proposes the next heights while the current one collects votes,
//! and replicas prepare them, so a transaction never waits for the round in flight.
//!
//! With `Config::pipeline` = k > 0, a replica deciding height H in view v, not changing views,
//! also takes for heights H+1 ..= H+k, in view v only:
//! - the PRE-PREPARE of v's primary, if its block extends the block this replica accepted at
//!   the height below in view v. The node executes it on that block's uncommitted state
//!   ([`crate::Output::ValidateBlock`] for a height above the tip); once valid, the replica
//!   multicasts PREPARE;
//! - PREPAREs.
//!
//! It never sends COMMIT above H, holds no prepared certificate above H, and takes COMMIT,
//! VIEW-CHANGE and NEW-VIEW above H only by buffering them (as without pipelining). When H
//! commits, the round of H+1 becomes the current round: PRE-PREPAREs that do not extend the
//! committed block are dropped, and the normal case goes on from the votes already there
//! (prepared, then COMMIT, at once if the PREPAREs are in).
//!
//! **Safety** is the normal case's. Every COMMIT for (H+1, v) comes from a replica that
//! committed H and then, at height H+1 in view v, found the prepared certificate, persisted it
//! and signed: the same conditions as without pipelining, so a block committed at H+1 was
//! prepared by a quorum that carries it into any view change at H+1, and a certificate at
//! H+1 implies its parent is final. What a replica did above H before committing H binds it
//! only through its signatures: every slot it signs above H is persisted first, kept across
//! view changes, commits and restarts, and never signed again with another digest. A
//! PREPARE above H promises nothing beyond that block at that (view, height); nothing above
//! H is carried into a VIEW-CHANGE, which needs nothing there: no COMMIT was sent there.
//! While changing views a replica takes nothing new above H; what it took stays (a
//! certificate of the old view may still complete there) and is trimmed to the views kept.
//! A governance change of the validator set is never pipelined across: rounds at or above
//! its first height are dropped when it is announced (their signed slots stay), and nothing
//! is taken for heights a change reaches.
//!
//! **Liveness** needs nothing from this part: a replica that misses a block taken ahead
//! gets it at its height as before (buffered, re-proposed, or synced with its certificate).

use crate::core::Core;
use crate::round::{Round, Validation};
use crate::{Output, Reject, Verdict};
use phalanx_types::consensus::{
    ConsensusMessage, Phase, PrePrepare, Signable, Signed, SignedMessage, Vote,
};
use phalanx_types::{CheckedBlock, Hash, Height, View};

impl Core {
    /// True if `m` (correctly signed, above the current height) is taken into a round above
    /// the current height rather than buffered.
    pub(crate) fn takes_ahead(&self, m: &SignedMessage) -> bool {
        let height = m.body.height();
        self.cfg.pipeline > 0
            && height > self.height
            && height <= self.height.saturating_add(self.cfg.pipeline)
            && matches!(m.body.phase(), Phase::PrePrepare | Phase::Prepare)
            && m.body.view() == self.view
            && self.changing_to.is_none()
            && self.upcoming.range(..=height).next().is_none()
    }

    /// The block this replica accepted at `height` in `view` (proposed, or pre-prepared and
    /// known valid), the current height or above.
    fn accepted(&self, height: Height, view: View) -> Option<(&CheckedBlock, Option<Validation>)> {
        let round = if height == self.height {
            &self.round
        } else {
            self.ahead.get(&height)?
        };
        let pp = round.pre_prepares.get(&view)?;
        let hash = pp.body.block.hash();
        Some((&pp.body.block, round.validation.get(&hash).copied()))
    }

    /// A PRE-PREPARE or PREPARE for a height above the current one (see [`Core::takes_ahead`]).
    pub(crate) fn on_ahead(
        &mut self,
        m: SignedMessage,
        out: &mut Vec<Output>,
    ) -> Result<(), Reject> {
        let height = m.body.height();
        let Signed {
            author,
            body,
            signature,
        } = m;
        match body {
            ConsensusMessage::PrePrepare(pp) => {
                let view = pp.view;
                if author != self.primary(view) {
                    return Err(Reject::NotPrimary);
                }
                let pp = Signed {
                    author,
                    body: pp,
                    signature,
                };
                if let Some(prev) = self
                    .ahead
                    .get(&height)
                    .and_then(|r| r.pre_prepares.get(&view))
                {
                    if prev.body.block.hash() == pp.body.block.hash() {
                        return Err(Reject::Duplicate);
                    }
                    if let Some(ev) = phalanx_types::consensus::Evidence::of(prev, &pp) {
                        self.report_ahead(height, ev, out);
                    }
                    return Err(Reject::Conflict);
                }
                let parent_valid = match self.accepted(height - 1, view) {
                    Some((parent, validation)) => {
                        if parent.hash() != pp.body.block.header.parent_hash {
                            return Err(Reject::WrongParent);
                        }
                        validation == Some(Validation::Valid)
                    }
                    None => {
                        // Nothing accepted below yet: wait for this height like before.
                        let bytes = phalanx_types::encoded_len(&pp);
                        return self.future.push(pp.into_message(), bytes);
                    }
                };
                let block = pp.body.block.clone();
                let round = self.ahead.entry(height).or_default();
                round.pre_prepares.insert(view, pp);
                if parent_valid {
                    self.validate_ahead(height, block, out);
                }
                Ok(())
            }
            ConsensusMessage::Prepare(vote) => {
                let round = self.ahead.entry(height).or_default();
                match round.votes.add(author, Phase::Prepare, vote, signature) {
                    crate::votes::Added::New(_) => Ok(()),
                    crate::votes::Added::Duplicate => Err(Reject::Duplicate),
                    crate::votes::Added::Conflict(first, first_signature) => {
                        let ev = crate::votes::conflict_evidence(
                            author,
                            Phase::Prepare,
                            &vote,
                            signature,
                            (first, first_signature),
                        );
                        self.report_ahead(height, ev, out);
                        Err(Reject::Conflict)
                    }
                }
            }
            _ => Err(Reject::Malformed),
        }
    }

    /// Emits `ev`, about `height` above the current one, unless its offender was reported
    /// at that height already (each height keeps its own record).
    fn report_ahead(
        &mut self,
        height: Height,
        ev: phalanx_types::consensus::Evidence,
        out: &mut Vec<Output>,
    ) {
        let round = self.ahead.entry(height).or_default();
        if round.reported.insert(ev.offender()) {
            out.push(Output::Evidence(ev));
        }
    }

    /// Asks the node to execute `block`, above the current height, on its parent's state.
    fn validate_ahead(&mut self, height: Height, block: CheckedBlock, out: &mut Vec<Output>) {
        let hash = block.hash();
        let Some(round) = self.ahead.get_mut(&height) else {
            return;
        };
        if round.validation.contains_key(&hash) {
            return;
        }
        round.validation.insert(hash, Validation::Pending);
        out.push(Output::ValidateBlock { block });
    }

    /// The node's verdict on a block above the current height.
    pub(crate) fn on_ahead_validated(
        &mut self,
        height: Height,
        hash: Hash,
        verdict: Verdict,
        out: &mut Vec<Output>,
    ) {
        let Some(round) = self.ahead.get_mut(&height) else {
            return;
        };
        if round.validation.get(&hash) != Some(&Validation::Pending) {
            return;
        }
        match verdict {
            // Not executable here yet (or for this node's clock): tried again when its
            // height becomes the current one.
            Verdict::NotYet => {
                round.validation.remove(&hash);
                return;
            }
            Verdict::Invalid => {
                round.validation.insert(hash, Validation::Invalid);
                return;
            }
            Verdict::Valid => {
                round.validation.insert(hash, Validation::Valid);
            }
        }
        let view = self.view;
        let current = round
            .pre_prepares
            .get(&view)
            .is_some_and(|pp| pp.body.block.hash() == hash);
        if !current || self.changing_to.is_some() {
            return;
        }
        self.prepare_ahead(height, view, hash, out);
        // The child may be waiting for this verdict.
        self.validate_child_of(height, hash, out);
    }

    /// A backup multicasts PREPARE for the valid block of (view, height), above the current
    /// height: persisted first in that height's signed slots, like every signature.
    fn prepare_ahead(&mut self, height: Height, view: View, hash: Hash, out: &mut Vec<Output>) {
        if self.is_primary(view) {
            return;
        }
        let Some(key) = self.signing_key() else {
            return;
        };
        let vote = Vote {
            view,
            height,
            block_hash: hash,
        };
        let statement = vote.statement(Phase::Prepare);
        let Some(round) = self.ahead.get_mut(&height) else {
            return;
        };
        match round.signed.get(&(view, Phase::Prepare)) {
            // Signed already (this digest or another): nothing more.
            Some(_) => return,
            None => {
                round
                    .signed
                    .insert((view, Phase::Prepare), statement.digest);
                out.push(Output::Persist(crate::WalEntry::Signed(statement)));
            }
        }
        if let Some(signed) = self.sign_body(&key, ConsensusMessage::Prepare(vote)) {
            out.push(Output::Broadcast(signed.clone()));
            if let Some(round) = self.ahead.get_mut(&height) {
                round
                    .votes
                    .add(signed.author, Phase::Prepare, vote, signed.signature);
            }
        }
    }

    /// The primary of the current view asks for the next block to propose above its last
    /// proposal, while the heights in flight stay within the pipeline. One request at a time.
    pub(crate) fn request_next(&mut self, out: &mut Vec<Output>) {
        let view = self.view;
        if self.cfg.pipeline == 0 || self.changing_to.is_some() || !self.is_primary(view) {
            return;
        }
        if self.round.awaiting_proposal.is_some()
            || self.ahead.values().any(|r| r.awaiting_proposal.is_some())
        {
            return;
        }
        let Some(pp) = self.round.pre_prepares.get(&view) else {
            return;
        };
        let mut parent = pp.body.block.hash();
        for height in self.height + 1..=self.height.saturating_add(self.cfg.pipeline) {
            if self.upcoming.range(..=height).next().is_some() {
                return;
            }
            let round = self.ahead.entry(height).or_default();
            match round.pre_prepares.get(&view) {
                Some(pp) if Some(pp.author) == self.me => {
                    parent = pp.body.block.hash();
                }
                Some(_) => return,
                None => {
                    round.awaiting_proposal = Some(view);
                    out.push(Output::RequestProposal {
                        view,
                        height,
                        parent_hash: parent,
                    });
                    return;
                }
            }
        }
    }

    /// The node built the block asked for above the current height: send its PRE-PREPARE.
    pub(crate) fn on_ahead_proposal(&mut self, block: CheckedBlock, out: &mut Vec<Output>) {
        let height = block.height();
        let view = self.view;
        let waiting = self
            .ahead
            .get(&height)
            .is_some_and(|r| r.awaiting_proposal == Some(view));
        if !waiting || self.changing_to.is_some() {
            return;
        }
        let extends = self
            .accepted(height - 1, view)
            .is_some_and(|(parent, _)| parent.hash() == block.header.parent_hash);
        let Some(key) = self.signing_key() else {
            return;
        };
        let Some(round) = self.ahead.get_mut(&height) else {
            return;
        };
        round.awaiting_proposal = None;
        if !extends {
            return;
        }
        let pp = PrePrepare {
            view,
            height,
            block,
        };
        let statement = pp.statement();
        if round.signed.contains_key(&(view, Phase::PrePrepare)) {
            return;
        }
        round
            .signed
            .insert((view, Phase::PrePrepare), statement.digest);
        out.push(Output::Persist(crate::WalEntry::Signed(statement)));
        let hash = pp.block.hash();
        let Some(signed) = self.sign_body(&key, pp) else {
            return;
        };
        out.push(Output::Broadcast(signed.clone().into_message()));
        if let Some(round) = self.ahead.get_mut(&height) {
            // The primary built (executed) the block itself.
            round.validation.insert(hash, Validation::Valid);
            round.pre_prepares.insert(view, signed);
        }
        self.request_next(out);
    }

    /// Forgets what was taken at `from` and above except the signed slots (a validator-set
    /// change takes over at `from`).
    pub(crate) fn drop_ahead(&mut self, from: Height) {
        for round in self.ahead.range_mut(from..).map(|(_, r)| r) {
            *round = Round {
                signed: std::mem::take(&mut round.signed),
                ..Round::default()
            };
        }
    }

    /// The round of the height just reached, as it was taken ahead: PRE-PREPAREs that do not
    /// extend the committed block `parent` are dropped (their blocks can never commit here).
    pub(crate) fn promote(&mut self, height: Height, parent: Hash) -> Round {
        let mut round = self.ahead.remove(&height).unwrap_or_default();
        let before = round.pre_prepares.len();
        round
            .pre_prepares
            .retain(|_, pp| pp.body.block.header.parent_hash == parent);
        round.awaiting_proposal = None;
        if round.pre_prepares.len() != before {
            // A request above would build on a block that can no longer commit.
            for r in self.ahead.values_mut() {
                r.awaiting_proposal = None;
            }
        }
        round
    }

    /// After a promotion: what the current round's PRE-PREPARE still needs (execution, the
    /// replica's PREPARE, a prepared certificate and COMMIT).
    pub(crate) fn resume_promoted(&mut self, out: &mut Vec<Output>) {
        let view = self.view;
        let Some(pp) = self.round.pre_prepares.get(&view) else {
            return;
        };
        let block = pp.body.block.clone();
        let hash = block.hash();
        match self.round.validation.get(&hash) {
            Some(Validation::Valid) => {
                if self.round.signed.contains_key(&(view, Phase::Prepare)) || self.is_primary(view)
                {
                    self.check_prepared(view, out);
                } else {
                    self.after_validated(view, hash, out);
                }
            }
            Some(Validation::Pending | Validation::Invalid) => {}
            None => self.validate(block, out),
        }
    }

    /// The block pre-prepared at `height` + 1 in the current view, if it waits for the verdict
    /// on its parent `hash` at `height` (the current height or above), is sent for execution.
    pub(crate) fn validate_child_of(&mut self, height: Height, hash: Hash, out: &mut Vec<Output>) {
        let view = self.view;
        let child = self
            .ahead
            .get(&(height + 1))
            .and_then(|r| r.pre_prepares.get(&view))
            .map(|pp| pp.body.block.clone())
            .filter(|b| b.header.parent_hash == hash);
        if let Some(child) = child {
            self.validate_ahead(height + 1, child, out);
        }
    }
}
