//! View changes (§4.4, §4.5.2): timeouts, VIEW-CHANGE, NEW-VIEW.

use crate::checks::{Carried, check_new_view, check_view_change, highest_prepared};
use crate::core::Core;
use crate::round::Validation;
use crate::wal::WalEntry;
use crate::{Output, Reject, Timeout};
use phalanx_types::View;
use phalanx_types::consensus::{
    ConsensusMessage, NewView, Phase, PrePrepare, Signable, Signed, ViewChange,
};

impl Core {
    pub(crate) fn on_timeout(&mut self, t: Timeout, out: &mut Vec<Output>) {
        if t.height != self.height || t.seq < self.timer_floor {
            return;
        }
        let current = self.changing_to.unwrap_or(self.view);
        if t.view != current {
            return;
        }
        // Still stuck: allow another sync attempt.
        self.round.sync_requested = false;
        self.check_behind(out);
        if let Some(target) = self.changing_to {
            // §4.5.2: the timer for view v+1 only runs once 2f+1 VIEW-CHANGEs for v+1 arrived;
            // until then re-send ours (messages may have been lost) instead of moving on, so
            // replicas that fell behind are not left views apart.
            // A VIEW-CHANGE for a later view counts: its sender has left every view below it.
            if self.round.view_changes.at_least(target) < self.quorum() {
                self.resend_view_change(target, out);
                return;
            }
        }
        self.start_view_change(current.saturating_add(1), out);
    }

    fn resend_view_change(&mut self, target: View, out: &mut Vec<Output>) {
        if let Some(mine) = self
            .me
            .and_then(|me| self.round.view_changes.with_block(&me))
            && mine.body.view == target
        {
            out.push(Output::Broadcast(mine.into_message()));
        }
        self.schedule_timer(target, out);
    }

    /// §4.4: stop accepting normal-case messages of the old view and multicast
    /// VIEW-CHANGE for `target`, carrying the prepared certificate and its block.
    pub(crate) fn start_view_change(&mut self, target: View, out: &mut Vec<Output>) {
        if self.changing_to.is_some_and(|t| t >= target) || target <= self.view {
            return;
        }
        self.changing_to = Some(target);
        self.failed_views = self.failed_views.saturating_add(1);
        self.round.awaiting_proposal = None;
        for round in self.ahead.values_mut() {
            round.awaiting_proposal = None;
        }
        let prepared = self.round.prepared.clone();
        let vc = ViewChange {
            view: target,
            height: self.height,
            prepared: prepared.as_ref().map(|p| p.certificate.clone()),
            block: prepared.map(|p| p.block),
        };
        if let Some(key) = self.signing_key()
            && self.record_signature(vc.statement(), out)
            && let Some(signed) = self.sign_body(&key, vc)
        {
            out.push(Output::Broadcast(signed.clone().into_message()));
            self.round.view_changes.insert(signed);
        }
        self.schedule_timer(target, out);
        self.restart_timer_on_quorum(out);
        self.check_new_view(target, out);
    }

    /// §4.5.2: the timer of view v+1 runs from the moment 2f+1 VIEW-CHANGEs for it (or later
    /// views) are in, so the new primary gets a whole timeout for its NEW-VIEW. A timer armed
    /// earlier (when this replica sent its own VIEW-CHANGE) is superseded; otherwise a replica
    /// that got there first would move on as soon as the others caught up, staying a view
    /// ahead of them for good.
    fn restart_timer_on_quorum(&mut self, out: &mut Vec<Output>) {
        let Some(target) = self.changing_to else {
            return;
        };
        if self.round.quorum_timer.is_some_and(|v| v >= target) {
            return;
        }
        if self.round.view_changes.at_least(target) >= self.quorum() {
            self.round.quorum_timer = Some(target);
            self.schedule_timer(target, out);
            self.timer_floor = self.timer_seq;
        }
    }

    /// A VIEW-CHANGE from another validator. The latest one of each validator is kept,
    /// whatever its view, so the f+1 rule works at any distance.
    pub(crate) fn on_view_change(
        &mut self,
        vc: Signed<ViewChange>,
        out: &mut Vec<Output>,
    ) -> Result<(), Reject> {
        if vc.body.view <= self.view {
            return Err(Reject::StaleView);
        }
        if let Some(prev) = self.round.view_changes.get(&vc.author) {
            if prev.body.view > vc.body.view {
                return Err(Reject::StaleView);
            }
            if prev.body.view == vc.body.view {
                if prev.body.digest() == vc.body.digest() {
                    return Err(Reject::Duplicate);
                }
                let prev = prev.clone();
                self.report(&prev, &vc, out);
                return Err(Reject::Conflict);
            }
        }
        check_view_change(
            &self.cfg,
            &vc.body,
            self.height,
            &self.parent,
            Carried::Alone,
        )
        .map_err(|_| Reject::InvalidViewChange)?;
        let view = vc.body.view;
        self.round.view_changes.insert(vc);
        self.restart_timer_on_quorum(out);
        // §4.5.2: f+1 VIEW-CHANGEs for views above ours mean at least one honest replica
        // timed out: join the smallest such view that f+1 of them reached.
        let current = self.changing_to.unwrap_or(self.view);
        let mut above = self.round.view_changes.others_above(current, self.me);
        let weak = self.cfg.weak_quorum();
        if above.len() >= weak {
            above.sort_unstable_by(|a, b| b.cmp(a));
            let target = above[weak - 1];
            self.start_view_change(target, out);
        }
        self.check_new_view(view, out);
        Ok(())
    }

    /// The primary of `view` with a quorum of VIEW-CHANGEs for it issues NEW-VIEW (§4.4),
    /// re-proposing the highest prepared block if there is one.
    pub(crate) fn check_new_view(&mut self, view: View, out: &mut Vec<Output>) {
        if !self.is_primary(view)
            || self.changing_to != Some(view)
            || self.round.signed.contains_key(&(view, Phase::NewView))
        {
            return;
        }
        let vcs = self.round.view_changes.for_view(view);
        if vcs.len() < self.quorum() {
            return;
        }
        let Some(key) = self.signing_key() else {
            return;
        };
        match highest_prepared(&vcs).cloned() {
            Some(cert) => {
                // Every counted VIEW-CHANGE with a certificate carried its block.
                let Some(block) = self.round.block(&cert.block_hash) else {
                    return;
                };
                // A quorum prepared it, so a quorum executed it.
                self.round
                    .validation
                    .entry(block.hash())
                    .or_insert(Validation::Valid);
                let Some(pp) = self.sign_body(
                    &key,
                    PrePrepare {
                        view,
                        height: self.height,
                        block,
                    },
                ) else {
                    return;
                };
                self.send_new_view(view, pp, out);
            }
            None => {
                if self.round.awaiting_proposal != Some(view) {
                    self.round.awaiting_proposal = Some(view);
                    out.push(Output::RequestProposal {
                        view,
                        height: self.height,
                        parent_hash: self.parent,
                    });
                }
            }
        }
    }

    /// Sends NEW-VIEW for `view` with `pre_prepare`, after persisting both in one write.
    pub(crate) fn send_new_view(
        &mut self,
        view: View,
        pre_prepare: Signed<PrePrepare>,
        out: &mut Vec<Output>,
    ) {
        let nv = NewView {
            view,
            height: self.height,
            view_changes: self.round.view_changes.for_view(view),
            pre_prepare,
        };
        let pp = nv.pre_prepare.body.statement();
        let free = |phase: Phase, digest| {
            self.round
                .signed
                .get(&(view, phase))
                .is_none_or(|d| *d == digest)
        };
        if self.signing_key().is_none()
            || !free(Phase::PrePrepare, pp.digest)
            || !free(Phase::NewView, nv.digest())
        {
            return;
        }
        self.round
            .signed
            .insert((view, Phase::PrePrepare), pp.digest);
        self.round
            .signed
            .insert((view, Phase::NewView), nv.digest());
        out.push(Output::Persist(WalEntry::NewView(Box::new(nv.clone()))));
        self.resend_new_view(nv, out);
    }

    /// Signs and sends a NEW-VIEW already recorded in the WAL, and enters its view.
    pub(crate) fn resend_new_view(&mut self, nv: NewView, out: &mut Vec<Output>) {
        let Some(key) = self.signing_key() else {
            return;
        };
        let Some(signed) = self.sign_body(&key, nv) else {
            return;
        };
        self.round
            .new_views
            .insert(signed.body.view, signed.signed_statement());
        out.push(Output::Broadcast(Signed {
            author: signed.author,
            body: ConsensusMessage::NewView(signed.body.clone()),
            signature: signed.signature,
        }));
        self.enter_new_view(signed.body, out);
    }

    /// A NEW-VIEW from the primary of its view. A valid one proves its view (a quorum asked
    /// for it), so it is taken at any distance ahead.
    pub(crate) fn on_new_view(
        &mut self,
        nv: Signed<NewView>,
        out: &mut Vec<Output>,
    ) -> Result<(), Reject> {
        let view = nv.body.view;
        if let Some(prev) = self.round.new_views.get(&view) {
            if prev.statement.digest == nv.body.digest() {
                return Err(Reject::Duplicate);
            }
            if prev.author == nv.author {
                // Two NEW-VIEWs for one view: both signatures were checked.
                let ev = phalanx_types::consensus::Evidence {
                    first: *prev,
                    second: nv.signed_statement(),
                };
                self.report_evidence(ev, out);
                return Err(Reject::Conflict);
            }
        }
        let acceptable = match self.changing_to {
            Some(target) => view >= target,
            None => view > self.view,
        };
        if !acceptable {
            return Err(Reject::StaleView);
        }
        check_new_view(&self.cfg, &nv.body, &nv.author, self.height, &self.parent)
            .map_err(|_| Reject::InvalidNewView)?;
        // The same primary's PRE-PREPARE for this view, seen before with another block.
        let pp = &nv.body.pre_prepare;
        if let Some(prev) = self.round.pre_prepares.get(&view)
            && prev.body.block.hash() != pp.body.block.hash()
        {
            let prev = prev.clone();
            let pp = pp.clone();
            self.report(&prev, &pp, out);
            return Err(Reject::Conflict);
        }
        self.round.new_views.insert(view, nv.signed_statement());
        self.enter_new_view(nv.body, out);
        Ok(())
    }

    /// Enters the new view and processes its PRE-PREPARE like any other.
    fn enter_new_view(&mut self, nv: NewView, out: &mut Vec<Output>) {
        self.view = nv.view;
        self.changing_to = None;
        self.round.awaiting_proposal = None;
        self.round.view_changes.retain_above(nv.view);
        let kept = self.kept_views();
        self.round.retain_views(kept.clone());
        for round in self.ahead.values_mut() {
            round.awaiting_proposal = None;
            round.retain_views(kept.clone());
        }
        // The view gets a whole timeout: timers armed while changing views are stale now.
        self.schedule_timer(self.view, out);
        self.timer_floor = self.timer_seq;
        let pp = nv.pre_prepare;
        let view = pp.body.view;
        if let Some(prev) = self.round.pre_prepares.get(&view) {
            if prev.body.block.hash() == pp.body.block.hash()
                && self.round.validation.get(&prev.body.block.hash()) == Some(&Validation::Valid)
            {
                self.after_validated(view, pp.body.block.hash(), out);
            }
            return;
        }
        self.accept_pre_prepare(pp, out);
    }
}
