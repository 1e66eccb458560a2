//! The normal case (§4.2): the primary's PRE-PREPARE, the backups' PREPAREs, everyone's
//! COMMITs, and committing on a quorum of COMMITs.

use crate::core::Core;
use crate::round::Validation;
use crate::wal::{Prepared, WalEntry};
use crate::{Output, Reject, Verdict};
use phalanx_types::consensus::{
    ConsensusMessage, Phase, PrePrepare, PreparedCertificate, Signed, Vote,
};
use phalanx_types::{Address, CheckedBlock, CommitCertificate, Hash, Height, Signature, View};
use std::collections::BTreeSet;

impl Core {
    /// §4.2: a backup accepts a PRE-PREPARE if it is in view v, the message is from the
    /// primary of v, and it has not accepted a different PRE-PREPARE for (v, n).
    pub(crate) fn on_pre_prepare(
        &mut self,
        pp: Signed<PrePrepare>,
        out: &mut Vec<Output>,
    ) -> Result<(), Reject> {
        let view = pp.body.view;
        if pp.author != self.primary(view) {
            return Err(Reject::NotPrimary);
        }
        if let Some(prev) = self.round.pre_prepares.get(&view) {
            if prev.body.block.hash() == pp.body.block.hash() {
                return Err(Reject::Duplicate);
            }
            let prev = prev.clone();
            self.report(&prev, &pp, out);
            return Err(Reject::Conflict);
        }
        if view < self.view {
            return Err(Reject::StaleView);
        }
        // Only in the current view and not while changing views (§4.4: a replica in
        // view-change mode accepts only VIEW-CHANGE and NEW-VIEW).
        if view != self.view || self.changing_to.is_some() {
            return Err(Reject::WrongView);
        }
        let block = &pp.body.block;
        if block.height() != self.height || block.header.parent_hash != self.parent {
            return Err(Reject::WrongParent);
        }
        self.accept_pre_prepare(pp, out);
        Ok(())
    }

    /// Keeps the PRE-PREPARE of its view and has the block executed, unless its verdict is
    /// known. A verdict stands for the block, body included ([`CheckedBlock`]).
    pub(crate) fn accept_pre_prepare(&mut self, pp: Signed<PrePrepare>, out: &mut Vec<Output>) {
        let view = pp.body.view;
        let block = pp.body.block.clone();
        let hash = block.hash();
        self.round.pre_prepares.insert(view, pp);
        match self.round.validation.get(&hash) {
            Some(Validation::Valid) => self.after_validated(view, hash, out),
            Some(Validation::Invalid | Validation::Pending) => {}
            None => self.validate(block, out),
        }
    }

    /// Asks the node to execute `block`.
    pub(crate) fn validate(&mut self, block: CheckedBlock, out: &mut Vec<Output>) {
        self.round
            .validation
            .insert(block.hash(), Validation::Pending);
        out.push(Output::ValidateBlock { block });
    }

    pub(crate) fn on_validated(
        &mut self,
        height: Height,
        hash: Hash,
        verdict: Verdict,
        out: &mut Vec<Output>,
    ) {
        if height != self.height || self.round.validation.get(&hash) != Some(&Validation::Pending) {
            return;
        }
        match verdict {
            // Refused for this node's clock only: forget it, so a later proposal of the same
            // block is executed again.
            Verdict::NotYet => {
                self.round.validation.remove(&hash);
                return;
            }
            Verdict::Invalid => {
                self.round.validation.insert(hash, Validation::Invalid);
                return;
            }
            Verdict::Valid => {
                self.round.validation.insert(hash, Validation::Valid);
                self.validate_child_of(self.height, hash, out);
            }
        }
        if self.changing_to.is_none()
            && self
                .round
                .pre_prepares
                .get(&self.view)
                .is_some_and(|pp| pp.body.block.hash() == hash)
        {
            self.after_validated(self.view, hash, out);
        }
        // Commits may already be waiting for this block.
        if self.height == height {
            for view in self
                .round
                .votes
                .quorum_views(Phase::Commit, &hash, self.quorum())
            {
                if self.try_commit(view, hash, out) {
                    return;
                }
            }
        }
    }

    /// The block of (view, height) is accepted and valid: a backup multicasts PREPARE (§4.2).
    pub(crate) fn after_validated(&mut self, view: View, hash: Hash, out: &mut Vec<Output>) {
        if !self.is_primary(view) {
            let vote = Vote {
                view,
                height: self.height,
                block_hash: hash,
            };
            if let Some(signed) = self.sign_and_send(ConsensusMessage::Prepare(vote), out) {
                self.round
                    .votes
                    .add(signed.author, Phase::Prepare, vote, signed.signature);
            }
        }
        self.check_prepared(view, out);
    }

    pub(crate) fn on_vote(
        &mut self,
        author: Address,
        phase: Phase,
        vote: Vote,
        signature: Signature,
        out: &mut Vec<Output>,
    ) -> Result<(), Reject> {
        // §4.3: only the views that can still matter are kept.
        if vote.view < self.view.saturating_sub(self.cfg.view_lookbehind) {
            return Err(Reject::StaleView);
        }
        match self.round.votes.add(author, phase, vote, signature) {
            crate::votes::Added::New(_) => {}
            crate::votes::Added::Duplicate => return Err(Reject::Duplicate),
            crate::votes::Added::Conflict(first, first_signature) => {
                let ev = crate::votes::conflict_evidence(
                    author,
                    phase,
                    &vote,
                    signature,
                    (first, first_signature),
                );
                self.report_evidence(ev, out);
                return Err(Reject::Conflict);
            }
        }
        match phase {
            Phase::Prepare if vote.view == self.view && self.changing_to.is_none() => {
                self.check_prepared(vote.view, out);
            }
            Phase::Commit => {
                self.try_commit(vote.view, vote.block_hash, out);
            }
            _ => {}
        }
        Ok(())
    }

    /// §4.2 prepared(m, v, n, i): the PRE-PREPARE plus 2f matching PREPAREs from other
    /// replicas. The replica records the certificate (with the block) and multicasts COMMIT.
    pub(crate) fn check_prepared(&mut self, view: View, out: &mut Vec<Output>) {
        if self.changing_to.is_some() || view != self.view {
            return;
        }
        let Some(pp) = self.round.pre_prepares.get(&view) else {
            return;
        };
        let hash = pp.body.block.hash();
        if self.round.validation.get(&hash) != Some(&Validation::Valid) {
            return;
        }
        let primary = pp.author;
        let prepares = self
            .round
            .votes
            .count(view, Phase::Prepare, &hash, Some(&primary));
        if prepares + 1 < self.quorum() {
            return;
        }
        let newer = self
            .round
            .prepared
            .as_ref()
            .is_none_or(|p| p.certificate.view < view);
        if newer {
            let certificate = PreparedCertificate {
                view,
                height: self.height,
                block_hash: hash,
                pre_prepare: pp.signature,
                prepares: self
                    .round
                    .votes
                    .signatures(view, Phase::Prepare, &hash, Some(&primary)),
            };
            let block = pp.body.block.clone();
            out.push(Output::Persist(WalEntry::Prepared {
                certificate: certificate.clone(),
                block: block.clone(),
            }));
            self.round.prepared = Some(Prepared { certificate, block });
        }
        let vote = Vote {
            view,
            height: self.height,
            block_hash: hash,
        };
        if !self.round.signed.contains_key(&(view, Phase::Commit))
            && let Some(signed) = self.sign_and_send(ConsensusMessage::Commit(vote), out)
        {
            self.round
                .votes
                .add(signed.author, Phase::Commit, vote, signed.signature);
            self.try_commit(view, hash, out);
        }
    }

    /// §4.2 committed-local: a quorum of matching COMMITs. The certificate is a transferable
    /// proof of finality, so a replica commits on it even if it did not prepare itself, as
    /// long as it holds and has executed the block (it asks peers for the block otherwise).
    /// True if it committed.
    /// Who took part in deciding `hash` at this height, as seen here (for liveness metrics):
    /// voters of either phase in any view and primaries that proposed it. This replica is
    /// among them only if it managed to sign (a remote signer may be out of reach).
    fn voters_of(&self, hash: &Hash) -> Vec<Address> {
        let mut voters: BTreeSet<Address> = self
            .round
            .votes
            .voters_of(Phase::Prepare, hash)
            .into_iter()
            .chain(self.round.votes.voters_of(Phase::Commit, hash))
            .collect();
        voters.extend(
            self.round
                .pre_prepares
                .values()
                .filter(|pp| pp.body.block.hash() == *hash)
                .map(|pp| pp.author),
        );
        voters.into_iter().collect()
    }

    pub(crate) fn try_commit(&mut self, view: View, hash: Hash, out: &mut Vec<Output>) -> bool {
        let quorum = self.quorum();
        if self.round.votes.count(view, Phase::Commit, &hash, None) < quorum {
            return false;
        }
        let Some(block) = self.round.block(&hash) else {
            if !self.round.sync_requested {
                self.round.sync_requested = true;
                out.push(Output::SyncNeeded {
                    from_height: self.height,
                    peers: self.round.votes.voters_of(Phase::Commit, &hash),
                });
            }
            return false;
        };
        match self.round.validation.get(&hash) {
            Some(Validation::Valid) => {}
            // Committing waits for execution, so the node has the block's state.
            None => {
                self.validate(block, out);
                return false;
            }
            Some(Validation::Pending | Validation::Invalid) => return false,
        }
        let mut signatures = self
            .round
            .votes
            .signatures(view, Phase::Commit, &hash, None);
        signatures.truncate(
            quorum
                .max(self.cfg.validators.quorum())
                .min(signatures.len()),
        );
        let certificate = CommitCertificate {
            height: self.height,
            view,
            block_hash: hash,
            signatures,
        };
        let voters = self.voters_of(&hash);
        self.commit(block, certificate, Some(voters), out);
        true
    }

    /// The node built the block this replica asked for: as primary of the current view it
    /// sends the PRE-PREPARE (§4.2); as the new primary it sends it inside a NEW-VIEW.
    pub(crate) fn on_proposal(&mut self, block: CheckedBlock, out: &mut Vec<Output>) {
        let Some(view) = self.round.awaiting_proposal else {
            return;
        };
        if block.height() != self.height || block.header.parent_hash != self.parent {
            return;
        }
        let Some(key) = self.signing_key() else {
            return;
        };
        self.round.awaiting_proposal = None;
        let height = self.height;
        let hash = block.hash();
        // The primary built (executed) the block itself.
        self.round.validation.insert(hash, Validation::Valid);
        let pp = PrePrepare {
            view,
            height: self.height,
            block,
        };
        match self.changing_to {
            None if view == self.view => {
                let Some(signed) = self.sign_and_send(ConsensusMessage::PrePrepare(pp), out) else {
                    return;
                };
                let Signed {
                    author,
                    body: ConsensusMessage::PrePrepare(body),
                    signature,
                } = signed
                else {
                    return;
                };
                self.round.pre_prepares.insert(
                    view,
                    Signed {
                        author,
                        body,
                        signature,
                    },
                );
                self.check_prepared(view, out);
                if self.height == height {
                    self.request_next(out);
                }
            }
            Some(target) if target == view => {
                // A fresh block for a NEW-VIEW in which nothing was prepared.
                if let Some(signed) = self.sign_body(&key, pp) {
                    self.send_new_view(view, signed, out);
                }
            }
            _ => {}
        }
    }
}
