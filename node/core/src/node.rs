//! [`NodeCore`]: the validator's decision logic around the pBFT core.
//!
//! It owns the consensus [`Core`], the [`Chain`] and the [`Mempool`], and carries out the
//! consensus outputs that touch only them, in order: **persist** (a synced write-ahead-log
//! entry, before any later output leaves), **validate** (execute the proposed block and
//! check its roots before voting), **propose** (fill a block from the mempool and execute
//! it), **commit** (block, certificate, receipts and state in one atomic batch). Everything
//! that needs the outside world comes back as an [`Action`]: messages to send, timers to
//! arm, blocks to fetch. Time is an argument (`now_ms`), so a simulator drives many
//! `NodeCore`s on a virtual clock and in-memory stores, exactly as the node runs them.

use crate::chain::{Chain, ExecutedBlock};
use crate::error::CoreError;
use crate::steer::Steering;
use phalanx_consensus::{Config, Core, Input, Output, ValidatorSigner, Verdict};
use phalanx_executor::mempool::{AdmitError, Mempool, MempoolLimits, Origin, VerifiedTx};
use phalanx_types::{
    Address, CheckedBlock, CommitCertificate, Hash, Height, SignedTx, ValidatorSet, View,
};
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

mod pipeline;

pub use pipeline::PIPELINE;

/// Most blocks served or requested per sync round trip.
pub const SYNC_BATCH: usize = 64;

/// The mempool's answer to one submitted transaction.
pub type Admission = Result<Hash, AdmitError>;

pub use crate::io::{Action, CommittedBlock, Event, NodeStatus, SyncBatch};

#[derive(Debug, Clone, Copy)]
struct ProposalRequest {
    view: View,
    height: Height,
    parent: Hash,
    /// From when an empty block may be proposed (the block interval after the request; a
    /// timer armed for an earlier request of the same height must not force one sooner).
    empty_at_ms: u64,
}

/// The node's decision logic. See the module docs.
pub struct NodeCore {
    consensus: Core,
    chain: Chain,
    mempool: Mempool,
    /// This node's consensus signer (it votes while its key is in the current set).
    key: Option<ValidatorSigner>,
    /// This node's address while it is a validator of the current set.
    me: Option<Address>,
    /// The membership last announced with [`Action::Membership`].
    membership: (Hash, Option<Hash>),
    /// Blocks executed on the tip or on executed blocks above it, by hash (those that no
    /// longer extend the tip are dropped at each commit).
    executed: BTreeMap<Hash, ExecutedBlock>,
    proposal: Option<ProposalRequest>,
    /// The pace of proposals above the tip (pipelining).
    pace: pipeline::Pace,
    /// Whom to ask for blocks, and which heights to believe.
    steering: Steering,
    /// When the last block committed (for deciding whether to sync from a peer 1 ahead).
    last_commit_ms: u64,
    /// When stuck transactions were last forwarded again.
    last_resend_ms: u64,
}

/// How long a ready transaction waits before it is forwarded again (and how often the pool
/// is looked through for such).
const RESEND_MS: u64 = 2_000;

/// Most transactions forwarded again at once.
const MAX_RESEND: usize = 1_000;

impl std::fmt::Debug for NodeCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCore")
            .field("tip", &self.chain.tip())
            .field("consensus", &self.consensus.status())
            .finish()
    }
}

impl NodeCore {
    /// A node over `chain`, signing with `key` (a key held here, or a remote signer) if it
    /// is a validator. The consensus state is restored from the chain's tip and write-ahead
    /// log, so a restarted validator never signs anything that conflicts with what it signed
    /// before.
    pub fn new(
        chain: Chain,
        key: Option<ValidatorSigner>,
        limits: MempoolLimits,
    ) -> Result<NodeCore, CoreError> {
        let mut cfg = Config::new(
            chain.info().chain_id.clone(),
            chain.validators().clone(),
            None,
        )
        .with_signer(key.clone());
        cfg.base_timeout_ms = chain.params().view_timeout_ms;
        cfg.pipeline = PIPELINE;
        cfg.max_timeout_ms = chain.params().max_view_timeout_ms;
        cfg.max_buffered_bytes_per_peer =
            phalanx_consensus::config::buffered_bytes_for(chain.params().max_block_bytes as usize);
        let tip = chain.tip();
        let wal = chain.wal_entries()?;
        let mut consensus = Core::restore(cfg, tip.height + 1, tip.hash, tip.view, &wal);
        if let Some(s) = chain.scheduled() {
            consensus.schedule_validators(s.activates_at, s.config.validators.clone());
        }
        let me = member(&key, chain.validators());
        Ok(NodeCore {
            consensus,
            chain,
            mempool: Mempool::new(limits),
            key,
            me,
            membership: (Hash::ZERO, None),
            executed: BTreeMap::new(),
            proposal: None,
            pace: pipeline::Pace::default(),
            steering: Steering::default(),
            last_commit_ms: 0,
            last_resend_ms: 0,
        })
    }

    /// The chain.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// This node's validator address, if it votes.
    pub fn validator(&self) -> Option<Address> {
        self.me
    }

    /// Where the node is.
    pub fn status(&self) -> NodeStatus {
        let tip = self.chain.tip();
        let c = self.consensus.status();
        let best_peer = self.trusted_height();
        NodeStatus {
            height: tip.height,
            hash: tip.hash,
            state_root: tip.state_root,
            view: c.view,
            is_primary: c.is_primary,
            syncing: best_peer > tip.height + 1,
            mempool: self.mempool.len(),
            validator: self.me,
            validators: self.chain.validators().len(),
            quorum: self.chain.validators().quorum(),
        }
    }

    /// Announces the membership if it changed since the last announcement.
    fn announce_membership(&mut self, actions: &mut Vec<Action>) {
        let validators = self.chain.validators();
        let upcoming = self.chain.scheduled().map(|s| &s.config.validators);
        let now = (validators.hash(), upcoming.map(ValidatorSet::hash));
        if now != self.membership {
            self.membership = now;
            actions.push(Action::Membership {
                validators: validators.clone(),
                upcoming: upcoming.cloned(),
            });
        }
    }

    /// The libp2p peer id of validator `address` (current or scheduled set).
    fn peer_id_of(&self, address: &Address) -> Option<String> {
        self.chain
            .validators()
            .get(address)
            .or_else(|| {
                self.chain
                    .scheduled()
                    .and_then(|s| s.config.validators.get(address))
            })
            .map(|v| v.peer_id.clone())
    }

    /// Starts the consensus core (first timer; the first proposal request if primary).
    pub fn start(&mut self, now_ms: u64) -> Result<Vec<Action>, CoreError> {
        self.last_commit_ms = now_ms;
        let outputs = self.consensus.start();
        let mut actions = Vec::new();
        self.announce_membership(&mut actions);
        self.carry_out(outputs, now_ms, &mut actions)?;
        Ok(actions)
    }

    /// Handles one event.
    pub fn handle(&mut self, event: Event, now_ms: u64) -> Result<Vec<Action>, CoreError> {
        let mut actions = Vec::new();
        let expired = self.mempool.expire(now_ms);
        if expired > 0 {
            tracing::debug!(expired, "dropped transactions stuck behind a nonce gap");
        }
        if now_ms >= self.last_resend_ms + RESEND_MS {
            self.last_resend_ms = now_ms;
            let stuck = self.mempool.stuck_ready(now_ms, RESEND_MS, MAX_RESEND);
            if !stuck.is_empty() {
                tracing::debug!(txs = stuck.len(), "forwarding stuck transactions again");
                actions.push(Action::GossipTxs(stuck));
            }
        }
        match event {
            Event::Message(m) => {
                tracing::trace!(
                    phase = ?m.body.phase(),
                    height = m.body.height(),
                    author = %m.author,
                    "consensus message"
                );
                self.drive(Input::Message(*m), now_ms, &mut actions)?
            }
            Event::Timeout(t) => self.drive(Input::Timeout(t), now_ms, &mut actions)?,
            Event::ProposalDue { view, height } => {
                if let Some(p) = self.proposal
                    && p.view == view
                    && p.height == height
                {
                    self.propose(now_ms, now_ms >= p.empty_at_ms, &mut actions)?;
                }
            }
            Event::PeerTxs(txs) => {
                let mut admitted = false;
                let mut forwarded = HashSet::new();
                for tx in txs {
                    forwarded.insert(tx.hash());
                    match self.admit(tx, now_ms, Origin::Peer) {
                        Ok(_) => admitted = true,
                        Err(e) => tracing::debug!(error = %e, "refused a forwarded transaction"),
                    }
                }
                // The peer forwarded its own to everyone: pass on only what its
                // transactions made ready here.
                self.gossip_promoted(&forwarded, &mut actions);
                if admitted && self.proposal.is_some() {
                    self.propose(now_ms, false, &mut actions)?;
                }
            }
            Event::PeerStatus { peer, height } => {
                self.steering.note_claim(&peer, height);
                self.maybe_sync(now_ms, &mut actions);
            }
            Event::Blocks { peer, batch } => self.on_blocks(peer, batch, now_ms, &mut actions)?,
        }
        Ok(actions)
    }

    /// Submits a transaction from a client: admitted to the mempool (with a clear error if
    /// refused) and forwarded to the other validators.
    pub fn submit_tx(
        &mut self,
        tx: VerifiedTx,
        now_ms: u64,
    ) -> Result<(Result<Hash, AdmitError>, Vec<Action>), CoreError> {
        let (mut results, actions) = self.submit_txs(vec![tx], now_ms)?;
        let result = results.pop().unwrap_or(Err(AdmitError::Full));
        Ok((result, actions))
    }

    /// Submits a batch of client transactions: each is admitted or refused on its own (in
    /// order, so a sender's consecutive nonces can share a batch); the admitted ones are
    /// forwarded together, and a pending proposal is built once.
    pub fn submit_txs(
        &mut self,
        txs: Vec<VerifiedTx>,
        now_ms: u64,
    ) -> Result<(Vec<Admission>, Vec<Action>), CoreError> {
        let mut actions = Vec::new();
        let mut results = Vec::with_capacity(txs.len());
        let mut admitted = false;
        for tx in txs {
            let result = self.admit(tx, now_ms, Origin::Client);
            admitted |= result.is_ok();
            results.push(result);
        }
        self.gossip_promoted(&HashSet::new(), &mut actions);
        if admitted && self.proposal.is_some() {
            self.propose(now_ms, false, &mut actions)?;
        }
        Ok((results, actions))
    }

    /// Forwards the transactions that became ready here (except `known`, which the peers
    /// have): transactions waiting behind a nonce gap stay on this node until it is filled.
    fn gossip_promoted(&mut self, known: &HashSet<Hash>, actions: &mut Vec<Action>) {
        let ready: Vec<SignedTx> = self
            .mempool
            .take_promoted()
            .into_iter()
            .filter(|tx| !known.contains(&tx.hash()))
            .collect();
        if !ready.is_empty() {
            actions.push(Action::GossipTxs(ready));
        }
    }

    fn admit(&mut self, tx: VerifiedTx, now_ms: u64, origin: Origin) -> Result<Hash, AdmitError> {
        let sender = tx.tx().tx.sender_address();
        let nonce = match self.mempool.committed_nonce(&sender) {
            Some(nonce) => nonce,
            None => self.chain.account_nonce(&sender).unwrap_or(u64::MAX),
        };
        self.mempool
            .admit_verified(tx, nonce, self.chain.params(), now_ms, origin)
    }

    /// The libp2p peer ids of the current validators.
    fn validator_peers(&self) -> BTreeSet<String> {
        self.chain
            .validators()
            .validators
            .iter()
            .map(|v| v.peer_id.clone())
            .collect()
    }

    /// The height f+1 validators claim: at least one honest validator has it.
    fn trusted_height(&self) -> Height {
        let f = self.chain.validators().max_faulty();
        self.steering.trusted_height(&self.validator_peers(), f)
    }

    /// Fetches blocks if the chain is clearly ahead by f+1 validators' word: two or more
    /// blocks, or one block while this node has not committed for a view timeout (normal
    /// operation is often one apart). Peers that claim to be ahead are asked in turn.
    fn maybe_sync(&mut self, now_ms: u64, actions: &mut Vec<Action>) {
        let tip = self.chain.tip().height;
        let stalled =
            now_ms.saturating_sub(self.last_commit_ms) > self.chain.params().view_timeout_ms;
        // While nothing commits here, any claim is worth a request (a validator set this node
        // does not know yet, peers that are observers): rotation and back-off bound what a
        // liar costs.
        let target = if stalled {
            self.trusted_height().max(self.steering.best_claim())
        } else {
            self.trusted_height()
        };
        if target >= tip + 2 || (target > tip && stalled) {
            let candidates = self.steering.claiming_above(tip);
            self.request_blocks_from(candidates, now_ms, actions);
        }
    }

    /// Asks the candidate asked least recently for the blocks after the tip, unless a
    /// request is already out.
    fn request_blocks_from(
        &mut self,
        candidates: Vec<String>,
        now_ms: u64,
        actions: &mut Vec<Action>,
    ) {
        if self.steering.busy(now_ms) {
            return;
        }
        if let Some(peer) = self.steering.pick(candidates, now_ms) {
            self.steering.asked(&peer, now_ms);
            actions.push(Action::RequestBlocks {
                from: self.chain.tip().height + 1,
                peer,
            });
        }
    }

    fn on_blocks(
        &mut self,
        peer: String,
        batch: SyncBatch,
        now_ms: u64,
        actions: &mut Vec<Action>,
    ) -> Result<(), CoreError> {
        if !self.steering.answered(&peer) {
            tracing::debug!(%peer, "dropped a block answer this node did not ask for");
            return Ok(());
        }
        self.steering.note_claim(&peer, batch.tip);
        let before = self.chain.tip().height;
        for (block, certificate) in batch.blocks.into_iter().take(SYNC_BATCH) {
            if block.height() != self.chain.tip().height + 1 {
                continue;
            }
            // The certificate covers the header only; a body that is not the header's is the
            // peer's fabrication, and nothing after it in this batch is trusted either.
            let block = match CheckedBlock::check(block) {
                Ok(block) => block,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "sync peer sent a block that is not its header's");
                    break;
                }
            };
            self.drive(Input::Decided { block, certificate }, now_ms, actions)?;
        }
        let after = self.chain.tip().height;
        self.steering.record(&peer, after > before, now_ms);
        if after > before {
            tracing::info!(from = before + 1, to = after, peer_tip = batch.tip, %peer, "synced blocks");
        }
        // More to fetch, or this peer had nothing (or failed): ask again, the next peer first.
        self.maybe_sync(now_ms, actions);
        Ok(())
    }

    /// Feeds `input` to consensus and carries out the outputs (and any inputs they lead to,
    /// such as a validation result) until nothing is left.
    fn drive(
        &mut self,
        input: Input,
        now_ms: u64,
        actions: &mut Vec<Action>,
    ) -> Result<(), CoreError> {
        let outputs = self.consensus.handle(input);
        self.carry_out(outputs, now_ms, actions)
    }

    fn carry_out(
        &mut self,
        outputs: Vec<Output>,
        now_ms: u64,
        actions: &mut Vec<Action>,
    ) -> Result<(), CoreError> {
        let mut pending: VecDeque<Vec<Output>> = VecDeque::from([outputs]);
        while let Some(outputs) = pending.pop_front() {
            for output in outputs {
                match self.carry_out_one(output, now_ms, actions)? {
                    Some(Next::Feed(input)) => pending.push_back(self.consensus.handle(input)),
                    // The commit is stored and any validator-set change it scheduled is
                    // announced: consensus may go on with the next height's messages.
                    Some(Next::Resume) => pending.push_back(self.consensus.resume()),
                    None => {}
                }
            }
        }
        Ok(())
    }

    /// Carries out one output; returns what consensus must do next, if anything.
    fn carry_out_one(
        &mut self,
        output: Output,
        now_ms: u64,
        actions: &mut Vec<Action>,
    ) -> Result<Option<Next>, CoreError> {
        match output {
            // Persist before send: the entry is synced before the next output is looked at.
            Output::Persist(entry) => self.chain.wal_append(&entry)?,
            Output::Broadcast(m) => actions.push(Action::Broadcast(Box::new(m))),
            Output::ScheduleTimeout { timeout, after_ms } => {
                actions.push(Action::ScheduleTimeout { timeout, after_ms });
            }
            Output::ValidateBlock { block } => {
                let verdict = self.validate_block(&block, now_ms)?;
                return Ok(Some(Next::Feed(Input::BlockValidated {
                    height: block.height(),
                    block_hash: block.hash(),
                    verdict,
                })));
            }
            Output::RequestProposal {
                view,
                height,
                parent_hash,
            } => {
                self.proposal = Some(ProposalRequest {
                    view,
                    height,
                    parent: parent_hash,
                    empty_at_ms: now_ms + self.chain.params().block_interval_ms,
                });
                // Propose at once if transactions are ready; otherwise an empty block after
                // the block interval (or sooner, when a transaction arrives).
                if let Some(input) = self.build_proposal(now_ms, false, actions)? {
                    return Ok(Some(Next::Feed(input)));
                }
                actions.push(Action::ScheduleProposal {
                    view,
                    height,
                    after_ms: self.chain.params().block_interval_ms,
                });
            }
            Output::Commit {
                block,
                certificate,
                voters,
            } => {
                if let Some(voted) = voters {
                    let missed = self
                        .chain
                        .validators()
                        .validators
                        .iter()
                        .map(|v| v.address)
                        .filter(|a| voted.binary_search(a).is_err())
                        .collect();
                    actions.push(Action::Participation {
                        height: block.height(),
                        voted,
                        missed,
                    });
                }
                self.commit(block, certificate, now_ms, actions)?;
                return Ok(Some(Next::Resume));
            }
            Output::Evidence(evidence) => {
                tracing::warn!(offender = %evidence.offender(), "equivocation evidence");
                self.chain.store_evidence(&evidence)?;
            }
            Output::PeerBehind { peer, .. } => {
                if let Some(peer) = self.peer_id_of(&peer) {
                    actions.push(Action::SendStatus { peer });
                }
            }
            Output::SyncNeeded { peers, .. } => {
                // Validators that signed messages for later heights: asked in turn.
                let candidates = peers
                    .iter()
                    .filter(|p| Some(**p) != self.me)
                    .filter_map(|p| self.peer_id_of(p))
                    .collect();
                self.request_blocks_from(candidates, now_ms, actions);
            }
            Output::Refused { author, reason } => {
                tracing::trace!(?author, ?reason, "consensus refused an input");
            }
        }
        Ok(None)
    }

    /// Answers the pending proposal request now if transactions are ready, or in any case
    /// when `force` (the block interval ended).
    fn propose(
        &mut self,
        now_ms: u64,
        force: bool,
        actions: &mut Vec<Action>,
    ) -> Result<(), CoreError> {
        if let Some(input) = self.build_proposal(now_ms, force, actions)? {
            let outputs = self.consensus.handle(input);
            self.carry_out(outputs, now_ms, actions)?;
        }
        Ok(())
    }

    fn commit(
        &mut self,
        block: CheckedBlock,
        certificate: CommitCertificate,
        now_ms: u64,
        actions: &mut Vec<Action>,
    ) -> Result<(), CoreError> {
        let hash = block.hash();
        self.pace.committed(&hash, now_ms);
        let executed = match self.executed.remove(&hash) {
            Some(e) => e,
            // Certified by 2f+1 validators but not executed here (sync): replay it. A block
            // that does not execute to its header means this node diverged: stop.
            None => self
                .chain
                .replay(&block)?
                .map_err(|e| CoreError::Diverged {
                    height: block.height(),
                    reason: e.to_string(),
                })?,
        };
        let params_before = self.chain.params().clone();
        let receipts = self.chain.commit(&block, &certificate, executed)?;
        // Governance: announce a scheduled set to consensus before it reaches that height,
        // and follow the set now in force (this node may have joined or left it).
        if let Some(s) = self.chain.scheduled() {
            self.consensus
                .schedule_validators(s.activates_at, s.config.validators.clone());
        }
        let params = self.chain.params();
        if *params != params_before {
            let dropped = self.mempool.revalidate(params);
            tracing::info!(dropped, "consensus parameters changed: mempool re-checked");
        }
        self.consensus
            .set_timeouts(params.view_timeout_ms, params.max_view_timeout_ms);
        self.consensus
            .set_buffered_bytes_per_peer(phalanx_consensus::config::buffered_bytes_for(
                params.max_block_bytes as usize,
            ));
        self.me = member(&self.key, self.chain.validators());
        self.announce_membership(actions);
        self.keep_extending_tip();
        self.last_commit_ms = now_ms;
        // Only the block's senders have new nonces.
        let senders: Vec<Address> = block
            .txs
            .iter()
            .map(|tx| tx.tx.sender_address())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let chain = &self.chain;
        self.mempool
            .prune_senders(&senders, |sender| chain.account_nonce(sender).unwrap_or(0));
        // A block may fill a gap (a transaction that reached the primary, not this node).
        self.gossip_promoted(&HashSet::new(), actions);
        tracing::info!(
            height = block.height(),
            %hash,
            txs = block.txs.len(),
            view = certificate.view,
            state_root = %block.header.state_root,
            "committed"
        );
        actions.push(Action::Committed(Box::new(CommittedBlock {
            block: block.into_block(),
            receipts,
        })));
        Ok(())
    }
}

/// What consensus must do after an output was carried out (lives for one step; boxing the
/// input would only add an allocation).
#[allow(clippy::large_enum_variant)]
enum Next {
    /// Take this input (a validation verdict, a built proposal).
    Feed(Input),
    /// Go on after a commit ([`Core::resume`]).
    Resume,
}

/// The address of `key` if it belongs to `validators`.
fn member(key: &Option<ValidatorSigner>, validators: &ValidatorSet) -> Option<Address> {
    key.as_ref()
        .map(ValidatorSigner::address)
        .filter(|a| validators.contains(a))
}
