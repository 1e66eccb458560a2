//! The pBFT replica state machine.

use crate::config::Config;
use crate::log::FutureBuffer;
use crate::view_change::{check_new_view, check_prepared, check_view_change, highest_prepared};
use crate::votes::{Added, VoteKeeper};
use crate::wal::{WalEntry, recover};
use crate::{Input, Output, Timeout};
use phalanx_types::consensus::{
    ConsensusMessage, Evidence, NewView, Phase, PrePrepare, PreparedCertificate, Signed,
    SignedMessage, ViewChange, Vote,
};
use phalanx_types::{
    Address, Block, CommitCertificate, Hash, Height, SecretKey, ValidatorSet, View,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A snapshot of where the replica is, for status reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The height being decided (last committed + 1).
    pub height: Height,
    /// The current view.
    pub view: View,
    /// The view being changed to, if a view change is in progress.
    pub changing_to: Option<View>,
    /// True if this replica is the primary of the current view.
    pub is_primary: bool,
    /// Hash of the last committed block.
    pub last_hash: Hash,
}

/// A pBFT replica. Create with [`Core::new`] or [`Core::restore`], call [`Core::start`] once,
/// then feed inputs to [`Core::handle`].
#[derive(Debug, Clone)]
pub struct Core {
    cfg: Config,
    me: Option<Address>,
    /// The height being decided: last committed + 1.
    height: Height,
    /// Hash of the last committed block (parent of the next).
    parent: Hash,
    /// The last view entered.
    view: View,
    /// Some(v) while in view-change mode towards v (§4.4).
    changing_to: Option<View>,
    /// Consecutive views that failed; drives the timeout back-off. Reset on commit.
    failed_views: u32,
    // ---- state of the current height (garbage-collected on commit, §4.3) ----
    pre_prepares: BTreeMap<View, Signed<PrePrepare>>,
    validated: BTreeMap<Hash, bool>,
    validating: BTreeSet<Hash>,
    votes: VoteKeeper,
    prepared: Option<PreparedCertificate>,
    signed: BTreeMap<(View, Phase), Option<Hash>>,
    view_changes: BTreeMap<Address, Signed<ViewChange>>,
    awaiting_proposal: Option<View>,
    new_view_sent: BTreeSet<View>,
    reported_pre_prepare: BTreeSet<View>,
    sync_requested: bool,
    /// The view-change target whose timer restarted when 2f+1 VIEW-CHANGEs arrived.
    quorum_timer: Option<View>,
    // ---- across heights ----
    /// Sequence number of the last timer armed.
    timer_seq: u64,
    /// Timers armed before this sequence number are stale.
    timer_floor: u64,
    /// Validator sets that take over at a later height (governance), by first height.
    upcoming: BTreeMap<Height, ValidatorSet>,
    future: FutureBuffer,
    queue: VecDeque<SignedMessage>,
    helped: BTreeMap<Address, Height>,
}

impl Core {
    /// A fresh replica at `height` (1 for a new chain) whose parent is `parent`, in `view`.
    pub fn new(cfg: Config, height: Height, parent: Hash, view: View) -> Core {
        let me = Self::member(&cfg);
        let future = FutureBuffer::new(cfg.max_buffered_per_peer);
        Core {
            cfg,
            me,
            height,
            parent,
            view,
            changing_to: None,
            failed_views: 0,
            pre_prepares: BTreeMap::new(),
            validated: BTreeMap::new(),
            validating: BTreeSet::new(),
            votes: VoteKeeper::default(),
            prepared: None,
            signed: BTreeMap::new(),
            view_changes: BTreeMap::new(),
            awaiting_proposal: None,
            new_view_sent: BTreeSet::new(),
            reported_pre_prepare: BTreeSet::new(),
            sync_requested: false,
            quorum_timer: None,
            timer_seq: 0,
            timer_floor: 0,
            upcoming: BTreeMap::new(),
            future,
            queue: VecDeque::new(),
            helped: BTreeMap::new(),
        }
    }

    /// This replica's address if its key belongs to the configured set.
    fn member(cfg: &Config) -> Option<Address> {
        cfg.key
            .as_ref()
            .map(SecretKey::address)
            .filter(|a| cfg.validators.contains(a))
    }

    /// Announces that `validators` decide every height from `height` on (a governance change
    /// known in advance). Messages for those heights are checked against the new set, and
    /// the replica switches when it reaches `height`: it votes from then on only if its key
    /// is in the new set. A height already reached is ignored: the caller announces changes
    /// at least one height ahead.
    pub fn schedule_validators(&mut self, height: Height, validators: ValidatorSet) {
        if height > self.height {
            self.upcoming.insert(height, validators);
        }
    }

    /// Sets the view-change timeouts (a governance change of the consensus parameters).
    pub fn set_timeouts(&mut self, base_ms: u64, max_ms: u64) {
        self.cfg.base_timeout_ms = base_ms;
        self.cfg.max_timeout_ms = max_ms;
    }

    /// The validator set that decides `height` (the current one, or an announced one).
    pub fn validators_at(&self, height: Height) -> &ValidatorSet {
        self.upcoming
            .range(..=height)
            .next_back()
            .map(|(_, set)| set)
            .unwrap_or(&self.cfg.validators)
    }

    /// The key to sign with: only while this replica is a validator of the current set.
    fn signing_key(&self) -> Option<SecretKey> {
        self.me.and(self.cfg.key.clone())
    }

    /// Rebuilds a replica after a restart. `height` is the last committed height + 1,
    /// `parent` the last committed block's hash, `committed_view` the view of its
    /// certificate, and `wal` the entries persisted since (in write order).
    pub fn restore(
        cfg: Config,
        height: Height,
        parent: Hash,
        committed_view: View,
        wal: &[WalEntry],
    ) -> Core {
        let r = recover(height, wal);
        let mut core = Core::new(cfg, height, parent, committed_view.max(r.entered_view));
        core.changing_to = r.changing_to;
        core.signed = r.signed;
        core.prepared = r.prepared;
        core
    }

    /// Outputs to carry out once at start: the first timer and, for the primary, the first
    /// proposal request. After a restart in view-change mode, the VIEW-CHANGE is re-sent.
    pub fn start(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        if let Some(target) = self.changing_to {
            self.changing_to = None;
            self.start_view_change(target, &mut out);
        } else {
            self.enter_round(&mut out);
        }
        out
    }

    /// Where the replica is.
    pub fn status(&self) -> Status {
        Status {
            height: self.height,
            view: self.view,
            changing_to: self.changing_to,
            is_primary: self.is_primary(self.view),
            last_hash: self.parent,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Handles one input and returns what to do, in order.
    pub fn handle(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Message(m) => {
                self.queue.push_back(m);
                while let Some(m) = self.queue.pop_front() {
                    self.on_message(m, &mut out);
                }
            }
            Input::Timeout(t) => self.on_timeout(t, &mut out),
            Input::BlockValidated {
                height,
                block_hash,
                valid,
            } => self.on_validated(height, block_hash, valid, &mut out),
            Input::Proposal(block) => self.on_proposal(block, &mut out),
            Input::Decided { block, certificate } => self.on_decided(block, certificate, &mut out),
        }
        // Messages replayed from the future buffer after a commit.
        while let Some(m) = self.queue.pop_front() {
            self.on_message(m, &mut out);
        }
        out
    }

    // ------------------------------------------------------------------ helpers

    fn is_primary(&self, view: View) -> bool {
        self.me == Some(self.cfg.validators.primary(view).address)
    }

    fn primary(&self, view: View) -> Address {
        self.cfg.validators.primary(view).address
    }

    fn quorum(&self) -> usize {
        self.cfg.quorum()
    }

    /// Signs `msg` unless that would conflict with something signed before (the persisted
    /// last-signed state): persist first, then broadcast.
    fn sign_and_send(
        &mut self,
        msg: ConsensusMessage,
        out: &mut Vec<Output>,
    ) -> Option<SignedMessage> {
        let key = self.signing_key()?;
        // Never sign two different messages for one (height, view, phase).
        if !self.record_signature(msg.view(), msg.phase(), msg.block_hash(), out) {
            return None;
        }
        let signed = msg.sign(&self.cfg.chain_id, &key);
        out.push(Output::Broadcast(signed.clone()));
        Some(signed)
    }

    fn schedule_timer(&mut self, view: View, out: &mut Vec<Output>) {
        self.timer_seq += 1;
        out.push(Output::ScheduleTimeout {
            timeout: Timeout {
                height: self.height,
                view,
                seq: self.timer_seq,
            },
            after_ms: self.cfg.timeout_ms(self.failed_views),
        });
    }

    /// Entering (height, view) in normal mode: arm the timer, and ask for a proposal if primary.
    fn enter_round(&mut self, out: &mut Vec<Output>) {
        self.schedule_timer(self.view, out);
        if self.is_primary(self.view) && !self.pre_prepares.contains_key(&self.view) {
            self.awaiting_proposal = Some(self.view);
            out.push(Output::RequestProposal {
                view: self.view,
                height: self.height,
                parent_hash: self.parent,
            });
        }
    }

    // ------------------------------------------------------------------ messages

    fn on_message(&mut self, m: SignedMessage, out: &mut Vec<Output>) {
        let height = m.body.height();
        if height < self.height {
            self.help_lagging_peer(&m, out);
            return;
        }
        // §4.3 watermarks: far ahead of the last commit is dropped.
        if height > self.height.saturating_add(self.cfg.window) {
            return;
        }
        let view = m.body.view();
        if view > self.view.saturating_add(self.cfg.max_view_lookahead) {
            return;
        }
        let validators = self.validators_at(height);
        if !validators.contains(&m.author) || Some(m.author) == self.me {
            return;
        }
        // No vote from a non-validator or with a bad signature counts.
        if m.verify(&self.cfg.chain_id, validators).is_err() {
            return;
        }
        if height > self.height {
            self.future.push(m);
            self.check_behind(out);
            return;
        }
        match m.body.clone() {
            ConsensusMessage::PrePrepare(pp) => {
                let signed = Signed {
                    author: m.author,
                    body: pp,
                    signature: m.signature,
                };
                self.on_pre_prepare(signed, out);
            }
            ConsensusMessage::Prepare(_) | ConsensusMessage::Commit(_) => {
                self.on_vote(m, out);
            }
            ConsensusMessage::ViewChange(vc) => {
                let signed = Signed {
                    author: m.author,
                    body: vc,
                    signature: m.signature,
                };
                self.on_view_change(signed, out);
            }
            ConsensusMessage::NewView(nv) => self.on_new_view(m.author, nv, out),
        }
    }

    /// A validator sent a message for a height we already committed: it is behind, so offer
    /// it our committed blocks (certificates make them self-verifying). Once per peer and
    /// height, and only for correctly signed messages.
    fn help_lagging_peer(&mut self, m: &SignedMessage, out: &mut Vec<Output>) {
        let height = m.body.height();
        if Some(m.author) == self.me || self.helped.get(&m.author).is_some_and(|h| *h >= height) {
            return;
        }
        if m.verify(&self.cfg.chain_id, &self.cfg.validators).is_err() {
            return;
        }
        self.helped.insert(m.author, height);
        out.push(Output::PeerBehind {
            peer: m.author,
            height,
        });
    }

    /// A validator sent correctly signed messages for heights above ours: it committed our
    /// height, so fetch the committed blocks (each comes with a certificate, so one peer is
    /// enough to ask; a lying peer only wastes a request).
    fn check_behind(&mut self, out: &mut Vec<Output>) {
        if self.sync_requested {
            return;
        }
        let ahead = self.future.authors_above(self.height);
        if !ahead.is_empty() {
            self.sync_requested = true;
            out.push(Output::SyncNeeded {
                from_height: self.height,
                peers: ahead.into_iter().collect(),
            });
        }
    }

    /// §4.2: a backup accepts a PRE-PREPARE if it is in view v, the message is from the
    /// primary of v, and it has not accepted a different PRE-PREPARE for (v, n).
    fn on_pre_prepare(&mut self, pp: Signed<PrePrepare>, out: &mut Vec<Output>) {
        let view = pp.body.view;
        if pp.author != self.primary(view) {
            return;
        }
        if let Some(prev) = self.pre_prepares.get(&view) {
            if prev.body.block.hash() != pp.body.block.hash()
                && self.reported_pre_prepare.insert(view)
            {
                out.push(Output::Evidence(Evidence {
                    first: prev.clone().into_message(),
                    second: pp.into_message(),
                }));
            }
            return;
        }
        // Only in the current view and not while changing views (§4.4: a replica in
        // view-change mode accepts only VIEW-CHANGE and NEW-VIEW).
        if view != self.view || self.changing_to.is_some() {
            return;
        }
        let block = &pp.body.block;
        if block.height() != self.height || block.header.parent_hash != self.parent {
            return;
        }
        self.accept_pre_prepare(pp, out);
    }

    fn accept_pre_prepare(&mut self, pp: Signed<PrePrepare>, out: &mut Vec<Output>) {
        let view = pp.body.view;
        let hash = pp.body.block.hash();
        let known = self.validated.get(&hash).copied();
        // Validation is remembered by block hash, which covers the header only: a header seen
        // valid before stands for this proposal only if its body is the header's (for
        // example a later view re-proposing it with other transactions).
        if known == Some(true) && !pp.body.block.tx_root_matches() {
            return;
        }
        let block = pp.body.block.clone();
        self.pre_prepares.insert(view, pp);
        match known {
            Some(true) => self.after_validated(view, hash, out),
            Some(false) => {}
            None => {
                if self.validating.insert(hash) {
                    out.push(Output::ValidateBlock { block });
                }
            }
        }
    }

    fn on_validated(&mut self, height: Height, hash: Hash, valid: bool, out: &mut Vec<Output>) {
        if height != self.height || !self.validating.remove(&hash) {
            return;
        }
        self.validated.insert(hash, valid);
        if !valid {
            return;
        }
        if self.changing_to.is_none()
            && self
                .pre_prepares
                .get(&self.view)
                .is_some_and(|pp| pp.body.block.hash() == hash)
        {
            self.after_validated(self.view, hash, out);
        }
        // Commits may already be waiting for this block.
        self.check_committed(out);
    }

    /// The block of (view, height) is accepted and valid: a backup multicasts PREPARE (§4.2).
    fn after_validated(&mut self, view: View, hash: Hash, out: &mut Vec<Output>) {
        if !self.is_primary(view) {
            let vote = Vote {
                view,
                height: self.height,
                block_hash: hash,
            };
            if let Some(signed) = self.sign_and_send(ConsensusMessage::Prepare(vote), out) {
                self.votes.add(signed);
            }
        }
        self.check_prepared(view, out);
        self.check_committed(out);
    }

    fn on_vote(&mut self, m: SignedMessage, out: &mut Vec<Output>) {
        let view = m.body.view();
        match self.votes.add(m) {
            Added::New => {}
            Added::Duplicate => return,
            Added::Equivocation(ev) => {
                if let Some(ev) = ev {
                    out.push(Output::Evidence(*ev));
                }
                return;
            }
        }
        if view == self.view && self.changing_to.is_none() {
            self.check_prepared(view, out);
        }
        self.check_committed(out);
    }

    /// §4.2 prepared(m, v, n, i): the PRE-PREPARE plus 2f matching PREPAREs from other
    /// replicas. Then the replica multicasts COMMIT.
    fn check_prepared(&mut self, view: View, out: &mut Vec<Output>) {
        if self.changing_to.is_some() || view != self.view {
            return;
        }
        let Some(pp) = self.pre_prepares.get(&view) else {
            return;
        };
        let hash = pp.body.block.hash();
        if self.validated.get(&hash) != Some(&true) {
            return;
        }
        let primary = pp.author;
        let prepares = self
            .votes
            .signatures(view, Phase::Prepare, &hash, Some(&primary));
        if prepares.len() + 1 < self.quorum() {
            return;
        }
        let already = self
            .prepared
            .as_ref()
            .is_some_and(|p| p.pre_prepare.body.view >= view);
        if !already {
            let cert = PreparedCertificate {
                pre_prepare: pp.clone(),
                prepares,
            };
            out.push(Output::Persist(WalEntry::Prepared(Box::new(cert.clone()))));
            self.prepared = Some(cert);
        }
        let vote = Vote {
            view,
            height: self.height,
            block_hash: hash,
        };
        if !self.signed.contains_key(&(view, Phase::Commit))
            && let Some(signed) = self.sign_and_send(ConsensusMessage::Commit(vote), out)
        {
            self.votes.add(signed);
        }
    }

    /// §4.2 committed-local: 2f+1 matching COMMITs. The certificate is a transferable proof
    /// of finality, so a replica commits on it even if it did not prepare itself, as long as
    /// it holds the block (it asks peers for the block otherwise).
    fn check_committed(&mut self, out: &mut Vec<Output>) {
        let quorum = self.quorum();
        for (view, hash) in self.votes.quorums(Phase::Commit, quorum) {
            let block = self
                .pre_prepares
                .values()
                .map(|pp| &pp.body.block)
                .find(|b| b.hash() == hash)
                .cloned();
            let Some(block) = block else {
                if !self.sync_requested {
                    self.sync_requested = true;
                    let peers = self.votes.voters().into_iter().collect();
                    out.push(Output::SyncNeeded {
                        from_height: self.height,
                        peers,
                    });
                }
                continue;
            };
            if self.validated.get(&hash) != Some(&true) {
                // Validation pending; committing waits for it so the node has executed it.
                if !self.validating.contains(&hash) && !self.validated.contains_key(&hash) {
                    self.validating.insert(hash);
                    out.push(Output::ValidateBlock {
                        block: block.clone(),
                    });
                }
                continue;
            }
            let mut signatures = self.votes.signatures(view, Phase::Commit, &hash, None);
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
            self.commit(block, certificate, out);
            return;
        }
    }

    /// The block is final: emit it and move to the next height (§4.3: discard the log below).
    fn commit(&mut self, block: Block, certificate: CommitCertificate, out: &mut Vec<Output>) {
        let view = certificate.view;
        self.parent = block.hash();
        out.push(Output::Commit { block, certificate });
        self.height += 1;
        // Adopt the certificate's view if it is ahead (2f+1 replicas were in it); a pending
        // view change for the decided height is moot.
        self.view = self.view.max(view);
        self.changing_to = None;
        self.failed_views = 0;
        self.pre_prepares.clear();
        self.validated.clear();
        self.validating.clear();
        self.votes.clear();
        self.prepared = None;
        self.signed.clear();
        self.view_changes.clear();
        self.awaiting_proposal = None;
        self.new_view_sent.clear();
        self.reported_pre_prepare.clear();
        self.sync_requested = false;
        self.quorum_timer = None;
        // A governance change that starts at the new height takes over before anything of
        // that height is looked at.
        let later = self.upcoming.split_off(&(self.height + 1));
        let due = std::mem::replace(&mut self.upcoming, later);
        if let Some((_, set)) = due.into_iter().next_back() {
            self.cfg.validators = set;
            self.me = Self::member(&self.cfg);
            self.helped.clear();
        }
        self.enter_round(out);
        self.queue.extend(self.future.take(self.height));
    }

    // ------------------------------------------------------------------ proposals

    fn on_proposal(&mut self, block: Block, out: &mut Vec<Output>) {
        let Some(view) = self.awaiting_proposal else {
            return;
        };
        if block.height() != self.height || block.header.parent_hash != self.parent {
            return;
        }
        let Some(key) = self.signing_key() else {
            return;
        };
        self.awaiting_proposal = None;
        let hash = block.hash();
        // The primary built (executed) the block itself.
        self.validated.insert(hash, true);
        let pp = PrePrepare {
            view,
            height: self.height,
            block,
        };
        match self.changing_to {
            None if view == self.view => {
                // §4.2: the primary assigns the sequence number and multicasts PRE-PREPARE.
                if let Some(signed) = self.sign_and_send(ConsensusMessage::PrePrepare(pp), out) {
                    let Signed {
                        author,
                        body,
                        signature,
                    } = signed;
                    let ConsensusMessage::PrePrepare(body) = body else {
                        return;
                    };
                    self.pre_prepares.insert(
                        view,
                        Signed {
                            author,
                            body,
                            signature,
                        },
                    );
                    self.check_prepared(view, out);
                    self.check_committed(out);
                }
            }
            Some(target) if target == view => {
                // A fresh block for a NEW-VIEW in which nothing was prepared.
                if !self.record_signature(view, Phase::PrePrepare, Some(hash), out) {
                    return;
                }
                let signed = Signed::new(pp, &self.cfg.chain_id, &key);
                self.send_new_view(view, signed, out);
            }
            _ => {}
        }
    }

    /// Records (and persists) a signature slot without broadcasting; false if it conflicts.
    fn record_signature(
        &mut self,
        view: View,
        phase: Phase,
        hash: Option<Hash>,
        out: &mut Vec<Output>,
    ) -> bool {
        match self.signed.get(&(view, phase)) {
            Some(prev) => *prev == hash,
            None => {
                self.signed.insert((view, phase), hash);
                out.push(Output::Persist(WalEntry::Signed {
                    height: self.height,
                    view,
                    phase,
                    block_hash: hash,
                }));
                true
            }
        }
    }

    // ------------------------------------------------------------------ view change

    fn on_timeout(&mut self, t: Timeout, out: &mut Vec<Output>) {
        if t.height != self.height || t.seq < self.timer_floor {
            return;
        }
        let current = self.changing_to.unwrap_or(self.view);
        if t.view != current {
            return;
        }
        // Still stuck: allow another sync attempt.
        self.sync_requested = false;
        self.check_behind(out);
        if let Some(target) = self.changing_to {
            // §4.5.2: the timer for view v+1 only runs once 2f+1 VIEW-CHANGEs for v+1 arrived;
            // until then re-send ours (messages may have been lost) instead of moving on, so
            // replicas that fell behind are not left views apart.
            // A VIEW-CHANGE for a later view counts: its sender has left every view below it.
            let votes = self
                .view_changes
                .values()
                .filter(|v| v.body.view >= target)
                .count();
            if votes < self.quorum() {
                self.resend_view_change(target, out);
                return;
            }
        }
        self.start_view_change(current + 1, out);
    }

    fn resend_view_change(&mut self, target: View, out: &mut Vec<Output>) {
        if let Some(mine) = self.me.and_then(|me| self.view_changes.get(&me))
            && mine.body.view == target
        {
            out.push(Output::Broadcast(mine.clone().into_message()));
        }
        self.schedule_timer(target, out);
    }

    /// §4.4: stop accepting normal-case messages of the old view and multicast
    /// VIEW-CHANGE for `target`, carrying the prepared certificate.
    fn start_view_change(&mut self, target: View, out: &mut Vec<Output>) {
        if self.changing_to.is_some_and(|t| t >= target) || target <= self.view {
            return;
        }
        self.changing_to = Some(target);
        self.failed_views = self.failed_views.saturating_add(1);
        self.awaiting_proposal = None;
        let vc = ViewChange {
            view: target,
            height: self.height,
            prepared: self.prepared.clone(),
        };
        if let Some(key) = self.signing_key()
            && self.record_signature(target, Phase::ViewChange, None, out)
        {
            let signed = Signed::new(vc, &self.cfg.chain_id, &key);
            out.push(Output::Broadcast(signed.clone().into_message()));
            self.view_changes.insert(signed.author, signed);
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
        if self.quorum_timer.is_some_and(|v| v >= target) {
            return;
        }
        let votes = self
            .view_changes
            .values()
            .filter(|v| v.body.view >= target)
            .count();
        if votes >= self.quorum() {
            self.quorum_timer = Some(target);
            self.schedule_timer(target, out);
            self.timer_floor = self.timer_seq;
        }
    }

    fn on_view_change(&mut self, vc: Signed<ViewChange>, out: &mut Vec<Output>) {
        let current = self.changing_to.unwrap_or(self.view);
        if vc.body.view <= self.view {
            return;
        }
        if check_view_change(&self.cfg, &vc, self.height).is_err() {
            return;
        }
        let newer = self
            .view_changes
            .get(&vc.author)
            .is_none_or(|prev| prev.body.view < vc.body.view);
        if !newer {
            return;
        }
        let view = vc.body.view;
        self.view_changes.insert(vc.author, vc);
        self.restart_timer_on_quorum(out);
        // §4.5.2: f+1 VIEW-CHANGEs for views above ours mean at least one honest replica
        // timed out: join the smallest such view that f+1 of them reached.
        let mut above: Vec<View> = self
            .view_changes
            .iter()
            .filter(|(a, v)| Some(**a) != self.me && v.body.view > current)
            .map(|(_, v)| v.body.view)
            .collect();
        if above.len() >= self.cfg.weak_quorum() {
            above.sort_unstable_by(|a, b| b.cmp(a));
            let target = above[self.cfg.weak_quorum() - 1];
            self.start_view_change(target, out);
        }
        self.check_new_view(view, out);
    }

    /// The primary of `view` with 2f+1 VIEW-CHANGEs for it issues NEW-VIEW (§4.4),
    /// re-proposing the highest prepared block if there is one.
    fn check_new_view(&mut self, view: View, out: &mut Vec<Output>) {
        if !self.is_primary(view)
            || self.changing_to != Some(view)
            || self.new_view_sent.contains(&view)
        {
            return;
        }
        let vcs: Vec<Signed<ViewChange>> = self
            .view_changes
            .values()
            .filter(|v| v.body.view == view && v.body.height == self.height)
            .cloned()
            .collect();
        if vcs.len() < self.quorum() {
            return;
        }
        let Some(key) = self.signing_key() else {
            return;
        };
        match highest_prepared(&vcs).cloned() {
            Some(cert) => {
                let block = cert.pre_prepare.body.block;
                let hash = block.hash();
                if !self.record_signature(view, Phase::PrePrepare, Some(hash), out) {
                    return;
                }
                self.validated.entry(hash).or_insert(true);
                let pp = Signed::new(
                    PrePrepare {
                        view,
                        height: self.height,
                        block,
                    },
                    &self.cfg.chain_id,
                    &key,
                );
                self.send_new_view(view, pp, out);
            }
            None => {
                if self.awaiting_proposal != Some(view) {
                    self.awaiting_proposal = Some(view);
                    out.push(Output::RequestProposal {
                        view,
                        height: self.height,
                        parent_hash: self.parent,
                    });
                }
            }
        }
    }

    fn send_new_view(
        &mut self,
        view: View,
        pre_prepare: Signed<PrePrepare>,
        out: &mut Vec<Output>,
    ) {
        let vcs: Vec<Signed<ViewChange>> = self
            .view_changes
            .values()
            .filter(|v| v.body.view == view && v.body.height == self.height)
            .cloned()
            .collect();
        let nv = NewView {
            view,
            height: self.height,
            view_changes: vcs,
            pre_prepare,
        };
        if self
            .sign_and_send(ConsensusMessage::NewView(nv.clone()), out)
            .is_some()
        {
            self.new_view_sent.insert(view);
            self.enter_new_view(nv, out);
        }
    }

    fn on_new_view(&mut self, author: Address, nv: NewView, out: &mut Vec<Output>) {
        let acceptable = match self.changing_to {
            Some(target) => nv.view >= target,
            None => nv.view > self.view,
        };
        if !acceptable {
            return;
        }
        if check_new_view(&self.cfg, &nv, &author, self.height, &self.parent).is_err() {
            return;
        }
        // Learn the certificates carried by the view changes (they stay valid).
        self.enter_new_view(nv, out);
    }

    /// Enter the new view and process its PRE-PREPARE like any other.
    fn enter_new_view(&mut self, nv: NewView, out: &mut Vec<Output>) {
        self.view = nv.view;
        self.changing_to = None;
        self.awaiting_proposal = None;
        self.view_changes.retain(|_, v| v.body.view > nv.view);
        self.schedule_timer(self.view, out);
        let pp = nv.pre_prepare;
        let view = pp.body.view;
        if let Some(prev) = self.pre_prepares.get(&view)
            && prev.body.block.hash() != pp.body.block.hash()
        {
            return;
        }
        if self.pre_prepares.contains_key(&view) {
            self.after_validated_if_known(view, out);
            return;
        }
        self.accept_pre_prepare(pp, out);
    }

    fn after_validated_if_known(&mut self, view: View, out: &mut Vec<Output>) {
        if let Some(pp) = self.pre_prepares.get(&view) {
            let hash = pp.body.block.hash();
            if self.validated.get(&hash) == Some(&true) {
                self.after_validated(view, hash, out);
            }
        }
    }

    // ------------------------------------------------------------------ sync

    /// A block committed elsewhere, with its certificate: verify and commit it.
    fn on_decided(&mut self, block: Block, certificate: CommitCertificate, out: &mut Vec<Output>) {
        if certificate.height != self.height
            || block.height() != self.height
            || certificate.block_hash != block.hash()
            || block.header.parent_hash != self.parent
        {
            return;
        }
        if certificate
            .verify(&self.cfg.chain_id, &self.cfg.validators)
            .is_err()
        {
            return;
        }
        self.commit(block, certificate, out);
    }

    /// Checks a prepared certificate (exposed for tests and the node's sync of view changes).
    pub fn check_prepared_certificate(&self, p: &PreparedCertificate) -> bool {
        check_prepared(&self.cfg, p, self.height).is_ok()
    }
}
