//! The pBFT replica: its state, what every message goes through on arrival, signing, and
//! moving to the next height. The protocol's parts live in [`crate::normal_case`],
//! [`crate::view_change`] and [`crate::sync`].

use crate::config::Config;
use crate::log::FutureBuffer;
use crate::round::Round;
use crate::wal::{WalEntry, recover};
use crate::{Input, Output, Reject, Timeout, ValidatorSigner};
use phalanx_types::consensus::{
    ConsensusMessage, Evidence, NewView, Phase, Signable, Signed, SignedMessage, Statement,
};
use phalanx_types::{Address, CheckedBlock, CommitCertificate, Hash, Height, ValidatorSet, View};
use std::collections::{BTreeMap, VecDeque};

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
    pub(crate) cfg: Config,
    pub(crate) me: Option<Address>,
    /// The height being decided: last committed + 1.
    pub(crate) height: Height,
    /// Hash of the last committed block (parent of the next).
    pub(crate) parent: Hash,
    /// The last view entered.
    pub(crate) view: View,
    /// Some(v) while in view-change mode towards v (§4.4).
    pub(crate) changing_to: Option<View>,
    /// Consecutive views that failed; drives the timeout back-off. Reset on commit.
    pub(crate) failed_views: u32,
    /// Everything about the height being decided.
    pub(crate) round: Round,
    /// Rounds of the heights above it taken ahead (pipelining), and signed slots there.
    pub(crate) ahead: BTreeMap<Height, Round>,
    /// A round taken ahead became the current one: its normal case goes on once the node
    /// has carried out the commit ([`Core::resume`]).
    pub(crate) promoted: bool,
    /// A NEW-VIEW this replica sent before a restart, to send again on start.
    pub(crate) restored_new_view: Option<NewView>,
    /// Sequence number of the last timer armed.
    pub(crate) timer_seq: u64,
    /// Timers armed before this sequence number are stale.
    pub(crate) timer_floor: u64,
    /// Validator sets that take over at a later height (governance), by first height.
    pub(crate) upcoming: BTreeMap<Height, ValidatorSet>,
    pub(crate) future: FutureBuffer,
    pub(crate) queue: VecDeque<SignedMessage>,
    /// The highest height each lagging peer was offered blocks from.
    pub(crate) helped: BTreeMap<Address, Height>,
}

impl Core {
    /// A fresh replica at `height` (1 for a new chain) whose parent is `parent`, in `view`.
    pub fn new(cfg: Config, height: Height, parent: Hash, view: View) -> Core {
        let me = Self::member(&cfg);
        let future = FutureBuffer::new(cfg.max_buffered_per_peer, cfg.max_buffered_bytes_per_peer);
        Core {
            cfg,
            me,
            height,
            parent,
            view,
            changing_to: None,
            failed_views: 0,
            round: Round::default(),
            ahead: BTreeMap::new(),
            promoted: false,
            restored_new_view: None,
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
            .map(ValidatorSigner::address)
            .filter(|a| cfg.validators.contains(a))
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
        core.round.signed = r.signed;
        core.round.prepared = r.prepared;
        core.restored_new_view = r.new_view.filter(|nv| nv.view == core.view);
        // What was signed above it (pipelining) stays signed.
        let above: std::collections::BTreeSet<Height> = wal
            .iter()
            .map(WalEntry::height)
            .filter(|h| *h > height)
            .collect();
        for h in above {
            let signed = recover(h, wal).signed;
            if !signed.is_empty() {
                core.ahead.insert(
                    h,
                    Round {
                        signed,
                        ..Round::default()
                    },
                );
            }
        }
        core
    }

    /// Outputs to carry out once at start: the first timer and, for the primary, the first
    /// proposal request. After a restart in view-change mode the VIEW-CHANGE is sent again,
    /// and a primary that had sent a NEW-VIEW sends the same one again.
    pub fn start(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        if let Some(target) = self.changing_to.take() {
            self.start_view_change(target, &mut out);
        } else if let Some(nv) = self.restored_new_view.take() {
            self.resend_new_view(nv, &mut out);
        } else {
            self.enter_round(&mut out);
        }
        out
    }

    /// Announces that `validators` decide every height from `height` on (a governance change
    /// known in advance). Messages for those heights are checked against the new set, and
    /// the replica switches when it reaches `height`: it votes from then on only if its key
    /// is in the new set. A height already reached is ignored: the caller announces changes
    /// at least one height ahead.
    pub fn schedule_validators(&mut self, height: Height, validators: ValidatorSet) {
        if height > self.height {
            self.upcoming.insert(height, validators);
            self.drop_ahead(height);
        }
    }

    /// Sets the view-change timeouts (a governance change of the consensus parameters).
    pub fn set_timeouts(&mut self, base_ms: u64, max_ms: u64) {
        self.cfg.base_timeout_ms = base_ms;
        self.cfg.max_timeout_ms = max_ms;
    }

    /// Sets each author's byte budget of future-height messages (it follows the block size
    /// limit, which governance may change).
    pub fn set_buffered_bytes_per_peer(&mut self, bytes: usize) {
        self.cfg.max_buffered_bytes_per_peer = bytes;
        self.future.set_bytes_per_peer(bytes);
    }

    /// The validator set that decides `height` (the current one, or an announced one).
    pub fn validators_at(&self, height: Height) -> &ValidatorSet {
        self.upcoming
            .range(..=height)
            .next_back()
            .map(|(_, set)| set)
            .unwrap_or(&self.cfg.validators)
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

    /// Bytes of buffered future-height messages held for `author` (bounded by
    /// `max_buffered_bytes_per_peer`).
    pub fn buffered_bytes_of(&self, author: &Address) -> usize {
        self.future.bytes_of(author)
    }

    /// Votes held at the current height (bounded by validators × views kept × 2).
    pub fn votes_held(&self) -> usize {
        self.round.votes.len()
    }

    /// Handles one input and returns what to do, in order.
    ///
    /// A commit ends the call: messages buffered for the next height wait until the node
    /// has carried out the commit (and announced any validator-set change it scheduled with
    /// [`Core::schedule_validators`]), then calls [`Core::resume`]. Otherwise a replica could
    /// decide the next height inside the same call, under the set of the height before. The
    /// next call of `handle` takes them too, if `resume` was not called.
    pub fn handle(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        self.settle(&mut out);
        let height = self.height;
        match input {
            Input::Message(m) => self.queue.push_back(m),
            Input::Timeout(t) => self.on_timeout(t, &mut out),
            Input::BlockValidated {
                height,
                block_hash,
                verdict,
            } if height > self.height => {
                self.on_ahead_validated(height, block_hash, verdict, &mut out)
            }
            Input::BlockValidated {
                height,
                block_hash,
                verdict,
            } => self.on_validated(height, block_hash, verdict, &mut out),
            Input::Proposal(block) if block.height() > self.height => {
                self.on_ahead_proposal(block, &mut out)
            }
            Input::Proposal(block) => self.on_proposal(block, &mut out),
            Input::Decided { block, certificate } => {
                if let Err(reason) = self.on_decided(block, certificate, &mut out) {
                    out.push(Output::Refused {
                        author: None,
                        reason,
                    });
                }
            }
        }
        self.drain(height, &mut out);
        out
    }

    /// After the node carried out a commit: takes the messages buffered for the new height.
    pub fn resume(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        self.settle(&mut out);
        self.drain(self.height, &mut out);
        out
    }

    /// After a commit was carried out: a round taken ahead goes on (pipelining).
    fn settle(&mut self, out: &mut Vec<Output>) {
        if std::mem::take(&mut self.promoted) {
            self.resume_promoted(out);
            self.request_next(out);
        }
    }

    /// Handles queued messages (the input's, and any replayed from the future buffer) until
    /// the queue is empty or a commit moves the replica past `height`.
    fn drain(&mut self, height: Height, out: &mut Vec<Output>) {
        while self.height == height
            && let Some(m) = self.queue.pop_front()
        {
            let author = m.author;
            if let Err(reason) = self.on_message(m, out) {
                out.push(Output::Refused {
                    author: Some(author),
                    reason,
                });
            }
        }
    }

    // ------------------------------------------------------------------ helpers

    pub(crate) fn is_primary(&self, view: View) -> bool {
        self.me == Some(self.cfg.validators.primary(view).address)
    }

    pub(crate) fn primary(&self, view: View) -> Address {
        self.cfg.validators.primary(view).address
    }

    pub(crate) fn quorum(&self) -> usize {
        self.cfg.quorum()
    }

    /// The key to sign with: only while this replica is a validator of the current set.
    pub(crate) fn signing_key(&self) -> Option<ValidatorSigner> {
        self.me.and(self.cfg.key.clone())
    }

    /// The views whose proposals and votes are kept.
    pub(crate) fn kept_views(&self) -> std::ops::RangeInclusive<View> {
        self.view.saturating_sub(self.cfg.view_lookbehind)
            ..=self.view.saturating_add(self.cfg.max_view_lookahead)
    }

    /// Signs `msg` unless that would conflict with something signed before (the persisted
    /// last-signed state): persist first, then broadcast.
    pub(crate) fn sign_and_send(
        &mut self,
        msg: ConsensusMessage,
        out: &mut Vec<Output>,
    ) -> Option<SignedMessage> {
        let key = self.signing_key()?;
        // Never sign two different messages for one (height, view, phase).
        if !self.record_signature(msg.statement(), out) {
            return None;
        }
        // A remote signer may refuse (its own guard) or be out of reach: the slot stays
        // recorded, so this replica never signs another digest for it, and it sends nothing.
        let signed = self.sign_body(&key, msg)?;
        out.push(Output::Broadcast(signed.clone()));
        Some(signed)
    }

    /// `body` signed by this replica's signer; `None` if the signer refused or is out of reach
    /// (a remote signer), in which case nothing is sent.
    pub(crate) fn sign_body<T: Signable>(
        &self,
        key: &ValidatorSigner,
        body: T,
    ) -> Option<Signed<T>> {
        let signature = key.sign(&self.cfg.chain_id, &body.statement()).ok()?;
        Some(Signed {
            author: key.address(),
            body,
            signature,
        })
    }

    /// Records (and persists) a signature slot without broadcasting; false if it conflicts.
    pub(crate) fn record_signature(&mut self, s: Statement, out: &mut Vec<Output>) -> bool {
        match self.round.signed.get(&(s.view, s.phase)) {
            Some(prev) => *prev == s.digest,
            None => {
                self.round.signed.insert((s.view, s.phase), s.digest);
                out.push(Output::Persist(WalEntry::Signed(s)));
                true
            }
        }
    }

    /// Emits evidence that `a` and `b` conflict (once per validator and height).
    pub(crate) fn report<A: Signable, B: Signable>(
        &mut self,
        a: &Signed<A>,
        b: &Signed<B>,
        out: &mut Vec<Output>,
    ) {
        if let Some(ev) = Evidence::of(a, b) {
            self.report_evidence(ev, out);
        }
    }

    /// Emits `ev` unless its offender was reported at this height already.
    pub(crate) fn report_evidence(&mut self, ev: Evidence, out: &mut Vec<Output>) {
        if self.round.reported.insert(ev.offender()) {
            out.push(Output::Evidence(ev));
        }
    }

    pub(crate) fn schedule_timer(&mut self, view: View, out: &mut Vec<Output>) {
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
    pub(crate) fn enter_round(&mut self, out: &mut Vec<Output>) {
        self.schedule_timer(self.view, out);
        if self.is_primary(self.view) && !self.round.pre_prepares.contains_key(&self.view) {
            self.round.awaiting_proposal = Some(self.view);
            out.push(Output::RequestProposal {
                view: self.view,
                height: self.height,
                parent_hash: self.parent,
            });
        }
    }

    // ------------------------------------------------------------------ arrival

    /// What every message goes through before its protocol part sees it: watermarks, view
    /// bounds, membership, duplicates (before the signature, which costs the most), the
    /// signature, and the future-height buffer.
    fn on_message(&mut self, m: SignedMessage, out: &mut Vec<Output>) -> Result<(), Reject> {
        let height = m.body.height();
        if height < self.height {
            self.help_lagging_peer(&m, out);
            return Err(Reject::OldHeight);
        }
        // §4.3 watermarks: far ahead of the last commit is dropped; but a validator that far
        // ahead shows this replica is behind.
        if height > self.height.saturating_add(self.cfg.window) {
            self.sync_from_far_ahead(&m, out);
            return Err(Reject::BeyondWindow);
        }
        let phase = m.body.phase();
        // VIEW-CHANGE and NEW-VIEW of the current height carry their own proof and are taken
        // at any view, so replicas any number of views apart can meet again.
        let view_bounded =
            height > self.height || !matches!(phase, Phase::ViewChange | Phase::NewView);
        if view_bounded && m.body.view() > self.view.saturating_add(self.cfg.max_view_lookahead) {
            if height > self.height {
                // Far ahead in views at a later height: its author is ahead of us.
                self.sync_from_far_ahead(&m, out);
            }
            return Err(Reject::ViewTooFar);
        }
        let validators = self.validators_at(height);
        crate::checks::well_formed(&m.body, validators.len())?;
        if !validators.contains(&m.author) {
            return Err(Reject::NotValidator);
        }
        if Some(m.author) == self.me {
            return Err(Reject::OwnMessage);
        }
        if self.already_holds(&m) {
            return Err(Reject::Duplicate);
        }
        // No message from a non-validator or with a bad signature counts.
        if m.verify(&self.cfg.chain_id, validators).is_err() {
            return Err(Reject::BadSignature);
        }
        if self.takes_ahead(&m) {
            return self.on_ahead(m, out);
        }
        if height > self.height {
            // A PRE-PREPARE or PREPARE within the pipeline says nothing of its author having
            // committed this height (the primary proposes ahead): only the rest starts a sync.
            let ahead_of_us = !matches!(phase, Phase::PrePrepare | Phase::Prepare)
                || height > self.height.saturating_add(self.cfg.pipeline);
            let bytes = phalanx_types::encoded_len(&m);
            self.future.push(m, bytes)?;
            if ahead_of_us {
                self.check_behind(out);
            }
            return Ok(());
        }
        let Signed {
            author,
            body,
            signature,
        } = m;
        match body {
            ConsensusMessage::PrePrepare(pp) => self.on_pre_prepare(
                Signed {
                    author,
                    body: pp,
                    signature,
                },
                out,
            ),
            ConsensusMessage::Prepare(vote) => {
                self.on_vote(author, Phase::Prepare, vote, signature, out)
            }
            ConsensusMessage::Commit(vote) => {
                self.on_vote(author, Phase::Commit, vote, signature, out)
            }
            ConsensusMessage::ViewChange(vc) => self.on_view_change(
                Signed {
                    author,
                    body: vc,
                    signature,
                },
                out,
            ),
            ConsensusMessage::NewView(nv) => self.on_new_view(
                Signed {
                    author,
                    body: nv,
                    signature,
                },
                out,
            ),
        }
    }

    /// True if this exact message (same author and signature) is already held: a replay
    /// costs no signature check.
    fn already_holds(&self, m: &SignedMessage) -> bool {
        let height = m.body.height();
        if height > self.height {
            return self.future.holds_slot_of(m)
                || self.ahead.get(&height).is_some_and(|r| Self::holds(r, m));
        }
        Self::holds(&self.round, m)
    }

    /// True if `round` holds this exact message.
    fn holds(round: &Round, m: &SignedMessage) -> bool {
        let view = m.body.view();
        match &m.body {
            ConsensusMessage::PrePrepare(_) => round
                .pre_prepares
                .get(&view)
                .is_some_and(|pp| pp.signature == m.signature),
            ConsensusMessage::Prepare(_) | ConsensusMessage::Commit(_) => round
                .votes
                .get(&m.author, view, m.body.phase())
                .is_some_and(|(_, sig)| *sig == m.signature),
            ConsensusMessage::ViewChange(_) => round
                .view_changes
                .get(&m.author)
                .is_some_and(|vc| vc.signature == m.signature),
            ConsensusMessage::NewView(_) => round
                .new_views
                .get(&view)
                .is_some_and(|s| s.signature == m.signature),
        }
    }

    // ------------------------------------------------------------------ commit

    /// The block is final: emit it and move to the next height (§4.3: discard the log below).
    pub(crate) fn commit(
        &mut self,
        block: CheckedBlock,
        certificate: CommitCertificate,
        voters: Option<Vec<Address>>,
        out: &mut Vec<Output>,
    ) {
        let view = certificate.view;
        self.parent = block.hash();
        out.push(Output::Commit {
            block,
            certificate,
            voters,
        });
        self.height += 1;
        // Adopt the certificate's view if it is ahead (a quorum was in it); a pending view
        // change for the decided height is moot.
        self.view = self.view.max(view);
        self.changing_to = None;
        self.failed_views = 0;
        self.round = self.promote(self.height, self.parent);
        self.promoted = true;
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
}
