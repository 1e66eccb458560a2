//! A deterministic simulator for the pBFT core.
//!
//! N cores run in one process on a virtual clock (milliseconds), driven by a seeded RNG,
//! over a simulated network that delays, drops, duplicates, reorders and partitions messages.
//! Replicas crash and restart from what they persisted, sometimes in the middle of carrying
//! out one input's outputs. Up to f replicas are Byzantine ([`Byzantine`]: silent,
//! equivocating, noisy, replaying, body-swapping, NEW-VIEW-splitting, far-future, flooding),
//! or one validator runs as Twins. After every commit the checker asserts safety (no two
//! honest replicas commit different blocks at one height), certificate validity and that
//! committed blocks execute to their header's state root; after every step it checks that no
//! author holds more than its byte budget in a core's buffer; at the end it checks liveness
//! (after the network heals, every honest replica kept committing). The same seed always
//! yields the same trace hash.

// Test-only code: events are short-lived, and index loops mirror per-replica arrays.
#![allow(dead_code, clippy::large_enum_variant, clippy::needless_range_loop)]

mod byzantine;
mod checker;
pub mod rng;
pub mod scenario;

pub use checker::Outcome;
pub use scenario::{Byzantine, Change, Scenario};

use phalanx_consensus::{Config, Core, Input, Output, Reject, Timeout, Verdict, WalEntry};
use phalanx_types::consensus::{ConsensusMessage, PrePrepare, Signed, SignedMessage, ViewChange};
use phalanx_types::{
    Address, Block, Bytes, CheckedBlock, CommitCertificate, Domain, Hash, Header, SecretKey,
    SignedTx, Tx, TxPayload, Validator, ValidatorSet, decode,
};
use rng::Rng;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Chain id used by the simulator.
pub const CHAIN: &str = "sim";

/// Byte budget of one author in a core's future-height buffer (small, so floods hit it).
pub const BUFFER_BYTES: usize = 256 * 1024;

/// Signed transactions blocks are filled from (signed once per process).
pub fn pool() -> &'static [SignedTx] {
    static POOL: OnceLock<Vec<SignedTx>> = OnceLock::new();
    POOL.get_or_init(|| (0..16).map(|i| sample_tx(i, 8)).collect())
}

/// A few large transactions (about 40 KB each), for floods of large proposals.
pub fn big_pool() -> &'static [SignedTx] {
    static POOL: OnceLock<Vec<SignedTx>> = OnceLock::new();
    POOL.get_or_init(|| (100..104).map(|i| sample_tx(i, 40_000)).collect())
}

fn sample_tx(nonce: u64, arg_bytes: usize) -> SignedTx {
    let key = SecretKey::from_seed([42; 32]);
    Tx {
        chain_id: CHAIN.into(),
        sender: key.public_key(),
        nonce,
        gas_limit: 1,
        payload: TxPayload::Call {
            contract: Address([3; 32]),
            method: "m".into(),
            args: Bytes(vec![nonce as u8; arg_bytes]),
        },
    }
    .sign(&key)
}

#[derive(Debug, Clone)]
enum Net {
    Consensus(SignedMessage),
    /// Bytes that claim to be a consensus message (a body swap): decoded on arrival.
    Raw(Vec<u8>),
    SyncRequest {
        from_height: u64,
    },
    SyncResponse(Vec<(CheckedBlock, CommitCertificate)>),
}

#[derive(Debug, Clone)]
enum Event {
    Deliver {
        to: usize,
        from: usize,
        msg: Net,
    },
    Timer {
        node: usize,
        epoch: u64,
        timeout: Timeout,
    },
    Validated {
        node: usize,
        epoch: u64,
        height: u64,
        hash: Hash,
        verdict: Verdict,
    },
    Propose {
        node: usize,
        epoch: u64,
        view: u64,
        height: u64,
        parent: Hash,
    },
    Crash {
        node: usize,
    },
    Restart {
        node: usize,
    },
}

struct SimNode {
    key: SecretKey,
    core: Option<Core>,
    wal: Vec<WalEntry>,
    chain: Vec<(CheckedBlock, CommitCertificate)>,
    roots: Vec<Hash>,
    epoch: u64,
    byz: Option<Byzantine>,
    /// Messages received (replayers replay them).
    seen: Vec<SignedMessage>,
    /// The latest VIEW-CHANGE received from each validator (NEW-VIEW splitters use them).
    view_changes: BTreeMap<Address, Signed<ViewChange>>,
    /// Blocks received (NEW-VIEW splitters re-propose them).
    blocks: BTreeMap<Hash, CheckedBlock>,
    /// The next input's outputs are cut short by a crash.
    crash_pending: bool,
    /// A twin stopped at the heal: never restarted.
    retired: bool,
    /// Blocks executed above the tip (pipelining): hash → (height, time, state root).
    executed: BTreeMap<Hash, (u64, u64, Hash)>,
}

impl SimNode {
    fn tip_hash(&self) -> Hash {
        self.chain.last().map_or(Hash::ZERO, |(b, _)| b.hash())
    }
    fn tip_time(&self) -> u64 {
        self.chain.last().map_or(0, |(b, _)| b.header.timestamp_ms)
    }
    /// (height, time, state root) after `parent`, if it is the tip or a block executed above
    /// it here.
    fn after(&self, parent: &Hash) -> Option<(u64, u64, Hash)> {
        if *parent == self.tip_hash() {
            let root = *self.roots.last().expect("genesis root");
            return Some((self.chain.len() as u64, self.tip_time(), root));
        }
        self.executed
            .get(parent)
            .copied()
            .filter(|(h, _, _)| *h > self.chain.len() as u64)
    }
}

/// Executes a block on top of `parent_root`: the simulator's deterministic "application".
fn execute(parent_root: &Hash, header: &Header) -> Hash {
    let mut h = Domain::StateTree.hasher();
    h.update(&parent_root.0);
    h.update(&header.height.to_le_bytes());
    h.update(&header.timestamp_ms.to_le_bytes());
    h.update(&header.tx_root.0);
    Hash(*h.finalize().as_bytes())
}

/// The simulator.
pub struct Sim {
    s: Scenario,
    rng: Rng,
    now: u64,
    seq: u64,
    events: BTreeMap<(u64, u64), Event>,
    nodes: Vec<SimNode>,
    /// Validator sets by the first height they decide (height 1: the genesis set).
    sets: BTreeMap<u64, ValidatorSet>,
    /// Replica index of every key (a twin's key maps to the original).
    index: BTreeMap<Address, usize>,
    decided: BTreeMap<u64, Hash>,
    violations: Vec<String>,
    trace: blake3::Hasher,
    messages: u64,
    crashes_left: u64,
    heights_at_heal: Vec<u64>,
    refusals: BTreeMap<Reject, u64>,
    undecodable: u64,
    evidence: u64,
    view_gap_at_heal: u64,
}

fn genesis_root() -> Hash {
    Hash::digest(Domain::StateTree, b"sim genesis")
}

impl Sim {
    pub fn new(s: Scenario) -> Sim {
        let keys: Vec<SecretKey> = (0..s.n + s.spares)
            .map(|i| {
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
                SecretKey::from_seed(seed)
            })
            .collect();
        let validator =
            |k: &SecretKey| Validator::new(k.public_key(), format!("sim-peer-{}", k.address()));
        let mut set = ValidatorSet::new(keys[..s.n].iter().map(validator).collect());
        let mut sets = BTreeMap::from([(1, set.clone())]);
        for (announce, change) in &s.changes {
            match *change {
                Change::Add(i) => set.validators.push(validator(&keys[i])),
                Change::Remove(i) => set.validators.retain(|v| v.address != keys[i].address()),
            }
            sets.insert(announce + 2, set.clone());
        }
        let index = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.address(), i))
            .collect();
        let mut all_keys = keys;
        if let Some(t) = &s.twins {
            all_keys.push(all_keys[t.of].clone());
        }
        let nodes = all_keys
            .into_iter()
            .enumerate()
            .map(|(i, key)| SimNode {
                key,
                core: None,
                wal: Vec::new(),
                chain: Vec::new(),
                roots: vec![genesis_root()],
                executed: BTreeMap::new(),
                epoch: 0,
                byz: s.byzantine.iter().find(|(b, _)| *b == i).map(|(_, k)| *k),
                seen: Vec::new(),
                view_changes: BTreeMap::new(),
                blocks: BTreeMap::new(),
                crash_pending: false,
                retired: false,
            })
            .collect();
        Sim {
            rng: Rng::new(s.seed),
            crashes_left: s.max_crashes,
            s,
            now: 0,
            seq: 0,
            events: BTreeMap::new(),
            nodes,
            sets,
            index,
            decided: BTreeMap::new(),
            violations: Vec::new(),
            trace: blake3::Hasher::new(),
            messages: 0,
            heights_at_heal: Vec::new(),
            refusals: BTreeMap::new(),
            undecodable: 0,
            evidence: 0,
            view_gap_at_heal: 0,
        }
    }

    /// The validator set deciding `height`.
    fn set_at(&self, height: u64) -> &ValidatorSet {
        self.sets
            .range(..=height.max(1))
            .next_back()
            .map(|(_, s)| s)
            .expect("the genesis set")
    }

    /// Sets announced by the commit of `height` or earlier that decide later heights: what a
    /// node that committed `height` has read from its state.
    fn announced_after(&self, height: u64) -> Vec<(u64, ValidatorSet)> {
        self.sets
            .range(height + 2..)
            .filter(|(first, _)| *first - 2 <= height)
            .map(|(h, s)| (*h, s.clone()))
            .collect()
    }

    fn config(&self, i: usize) -> Config {
        let next = self.nodes[i].chain.len() as u64 + 1;
        let mut cfg = Config::new(
            CHAIN,
            self.set_at(next).clone(),
            Some(self.nodes[i].key.clone()),
        );
        cfg.base_timeout_ms = self.s.base_timeout_ms;
        cfg.max_timeout_ms = self.s.max_timeout_ms;
        cfg.max_buffered_bytes_per_peer = BUFFER_BYTES;
        cfg.weaken_quorum_for_tests = self.s.weaken_quorum;
        cfg.pipeline = self.s.pipeline;
        cfg
    }

    fn push(&mut self, at: u64, e: Event) {
        self.seq += 1;
        self.events.insert((at, self.seq), e);
    }

    /// Neither Byzantine, nor either twin.
    fn honest(&self, i: usize) -> bool {
        let twin = self
            .s
            .twins
            .as_ref()
            .is_some_and(|t| i == t.of || i >= self.s.n + self.s.spares);
        self.nodes[i].byz.is_none() && !twin
    }

    /// Byzantine replicas that serve no committed blocks (they withhold all help).
    fn withholds_blocks(&self, i: usize) -> bool {
        matches!(
            self.nodes[i].byz,
            Some(Byzantine::Silent | Byzantine::FarFuture)
        )
    }

    /// Replicas down now, or about to go down in the middle of their next input.
    fn crashed_count(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| !n.retired && (n.core.is_none() || n.crash_pending))
            .count()
    }

    fn partitioned(&self, a: usize, b: usize) -> bool {
        if let Some((from, to, side)) = &self.s.partition
            && self.now >= *from
            && self.now < *to
            && side.contains(&a) != side.contains(&b)
        {
            return true;
        }
        if let Some(t) = &self.s.twins
            && self.now < self.s.heal_at_ms
            && let Some((_, side)) = t.phases.iter().rev().find(|(at, _)| *at <= self.now)
        {
            return side.get(a) != side.get(b);
        }
        false
    }

    fn send(&mut self, from: usize, to: usize, msg: Net) {
        if from == to || self.partitioned(from, to) {
            return;
        }
        let lossy = self.now < self.s.heal_at_ms;
        if lossy && self.rng.chance(self.s.drop_permille) {
            return;
        }
        let copies = if self.rng.chance(self.s.dup_permille) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = self.rng.range(self.s.min_delay_ms, self.s.max_delay_ms);
            self.push(
                self.now + delay,
                Event::Deliver {
                    to,
                    from,
                    msg: msg.clone(),
                },
            );
        }
    }

    fn broadcast(&mut self, from: usize, msg: SignedMessage) {
        match self.nodes[from].byz {
            None => {
                for to in 0..self.nodes.len() {
                    self.send(from, to, Net::Consensus(msg.clone()));
                }
            }
            Some(kind) => self.byzantine_broadcast(from, kind, msg),
        }
    }

    fn build_block(&mut self, i: usize, view: u64, height: u64, parent: Hash) -> CheckedBlock {
        let take = self.rng.below(3) as usize;
        let start = self.rng.below(pool().len() as u64) as usize;
        let txs: Vec<SignedTx> = pool()
            .iter()
            .cycle()
            .skip(start)
            .take(take)
            .cloned()
            .collect();
        let node = &self.nodes[i];
        // A Byzantine builder may name any parent: the tip's time and state stand in.
        let (_, parent_time, parent_root) = node.after(&parent).unwrap_or_else(|| {
            let root = *node.roots.last().expect("genesis root");
            (height - 1, node.tip_time(), root)
        });
        let mut header = Header {
            chain_id: CHAIN.into(),
            height,
            parent_hash: parent,
            timestamp_ms: parent_time + 1 + view % 7,
            proposer: node.key.address(),
            tx_root: Block::compute_tx_root(&txs),
            state_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            validators_hash: self.set_at(height).hash(),
        };
        header.state_root = execute(&parent_root, &header);
        let block = CheckedBlock::check(Block { header, txs }).expect("own tx root");
        self.nodes[i].executed.insert(
            block.hash(),
            (height, block.header.timestamp_ms, block.header.state_root),
        );
        block
    }

    /// Executes a block on its parent (the tip, or a block executed above it): NotYet when
    /// the parent is unknown here.
    fn validate(&mut self, i: usize, block: &CheckedBlock) -> Verdict {
        let node = &self.nodes[i];
        let h = &block.header;
        let Some((parent_height, parent_time, parent_root)) = node.after(&h.parent_hash) else {
            return if h.height == node.chain.len() as u64 + 1 {
                Verdict::Invalid
            } else {
                Verdict::NotYet
            };
        };
        let valid = h.chain_id == CHAIN
            && h.height == parent_height + 1
            && h.timestamp_ms > parent_time
            && h.validators_hash == self.set_at(h.height).hash()
            && self.set_at(h.height).contains(&h.proposer)
            && h.state_root == execute(&parent_root, h);
        if !valid {
            return Verdict::Invalid;
        }
        self.nodes[i]
            .executed
            .insert(block.hash(), (h.height, h.timestamp_ms, h.state_root));
        Verdict::Valid
    }

    fn apply(&mut self, i: usize, outs: Vec<Output>) {
        for o in outs {
            self.apply_one(i, o);
        }
    }

    fn apply_one(&mut self, i: usize, o: Output) {
        match o {
            Output::Persist(e) => self.nodes[i].wal.push(e),
            Output::Broadcast(m) => self.broadcast(i, m),
            Output::ScheduleTimeout { timeout, after_ms } => {
                let epoch = self.nodes[i].epoch;
                self.push(
                    self.now + after_ms,
                    Event::Timer {
                        node: i,
                        epoch,
                        timeout,
                    },
                );
            }
            Output::ValidateBlock { block } => {
                let verdict = self.validate(i, &block);
                let epoch = self.nodes[i].epoch;
                let at = self.now + self.rng.below(3);
                self.push(
                    at,
                    Event::Validated {
                        node: i,
                        epoch,
                        height: block.height(),
                        hash: block.hash(),
                        verdict,
                    },
                );
            }
            Output::RequestProposal {
                view,
                height,
                parent_hash,
            } => {
                let epoch = self.nodes[i].epoch;
                let (lo, hi) = self.s.propose_delay_ms;
                let at = self.now + self.rng.range(lo, hi);
                self.push(
                    at,
                    Event::Propose {
                        node: i,
                        epoch,
                        view,
                        height,
                        parent: parent_hash,
                    },
                );
            }
            Output::Commit {
                block, certificate, ..
            } => self.on_commit(i, block, certificate),
            Output::Evidence(ev) => {
                let set = self.set_at(ev.height());
                if ev.verify(CHAIN, set).is_err() {
                    self.violation(format!("node {i} produced invalid evidence"));
                }
                let offender = self
                    .index
                    .get(&ev.offender())
                    .copied()
                    .unwrap_or(usize::MAX);
                if offender < self.nodes.len() && self.honest(offender) {
                    self.violation(format!("node {i} blamed honest node {offender}"));
                }
                if self.honest(i) {
                    self.evidence += 1;
                }
            }
            Output::PeerBehind { .. } if self.withholds_blocks(i) => {}
            Output::PeerBehind { peer, height } => {
                let blocks = self.committed_from(i, height);
                if let Some(to) = self.index.get(&peer).copied()
                    && !blocks.is_empty()
                {
                    self.send(i, to, Net::SyncResponse(blocks));
                }
            }
            Output::SyncNeeded { from_height, peers } => {
                let candidates: Vec<usize> = peers
                    .iter()
                    .filter_map(|a| self.index.get(a).copied())
                    .collect();
                if !candidates.is_empty() {
                    let to = candidates[self.rng.below(candidates.len() as u64) as usize];
                    self.send(i, to, Net::SyncRequest { from_height });
                }
            }
            Output::Refused { reason, .. } => {
                if self.honest(i) {
                    *self.refusals.entry(reason).or_default() += 1;
                }
            }
        }
    }

    /// Up to 16 of node `i`'s committed blocks from `height` on (a sync answer).
    fn committed_from(&self, i: usize, height: u64) -> Vec<(CheckedBlock, CommitCertificate)> {
        let chain = &self.nodes[i].chain;
        let start = ((height.max(1) - 1) as usize).min(chain.len());
        let end = (start + 16).min(chain.len());
        chain[start..end].to_vec()
    }

    fn start_node(&mut self, i: usize) {
        let cfg = self.config(i);
        let node = &self.nodes[i];
        let height = node.chain.len() as u64 + 1;
        let view = node.chain.last().map_or(0, |(_, c)| c.view);
        let mut core = Core::restore(cfg, height, node.tip_hash(), view, &node.wal);
        for (first, set) in self.announced_after(height - 1) {
            core.schedule_validators(first, set);
        }
        let outs = core.start();
        self.nodes[i].core = Some(core);
        self.apply(i, outs);
    }

    fn step(&mut self, i: usize, input: Input) {
        let Some(core) = self.nodes[i].core.as_mut() else {
            return;
        };
        let outs = core.handle(input);
        if std::mem::take(&mut self.nodes[i].crash_pending) {
            // A crash while carrying out this input's outputs: some done, the rest lost.
            let done = self.rng.below(outs.len() as u64 + 1) as usize;
            for o in outs.into_iter().take(done) {
                self.apply_one(i, o);
            }
            self.trace.update(b"crash mid-output");
            self.nodes[i].core = None;
            self.nodes[i].epoch += 1;
            return;
        }
        self.apply(i, outs);
        self.check_memory(i);
    }

    /// The smallest f of any validator set of the run.
    fn min_f(&self) -> usize {
        self.sets
            .values()
            .map(ValidatorSet::max_faulty)
            .min()
            .unwrap_or(0)
    }

    fn schedule_crashes(&mut self) {
        let f = self.min_f();
        let budget = f.saturating_sub(self.s.faulty().len());
        if budget == 0 {
            return;
        }
        for _ in 0..self.crashes_left {
            let at = self.rng.range(200, self.s.heal_at_ms - 1500);
            let node = self.rng.below((self.s.n + self.s.spares) as u64) as usize;
            if self.honest(node) {
                self.push(at, Event::Crash { node });
                let back = (at + self.rng.range(100, 1200)).min(self.s.heal_at_ms - 1);
                self.push(back, Event::Restart { node });
            }
        }
    }

    /// Runs the scenario to its end and checks liveness.
    pub fn run(mut self) -> Outcome {
        // Every replica verifies every message: check each signature once per thread.
        phalanx_types::crypto::memo::enable();
        for i in 0..self.nodes.len() {
            self.start_node(i);
        }
        self.schedule_crashes();
        let mut healed = false;
        while let Some((&(at, seq), _)) = self.events.iter().next() {
            if at > self.s.end_ms {
                break;
            }
            let event = self.events.remove(&(at, seq)).expect("present");
            if !healed && at >= self.s.heal_at_ms {
                healed = true;
                self.heal();
            }
            self.now = at;
            self.trace.update(&at.to_le_bytes());
            self.process(event);
        }
        if !healed {
            self.heal();
        }
        self.now = self.s.end_ms;
        if !self.s.weaken_quorum {
            self.check_liveness();
        }
        self.outcome()
    }

    /// The network heals: record where everyone is, and stop the twin.
    fn heal(&mut self) {
        self.heights_at_heal = self.nodes.iter().map(|n| n.chain.len() as u64).collect();
        let views: Vec<u64> = (0..self.nodes.len())
            .filter(|i| self.honest(*i))
            .filter_map(|i| self.nodes[i].core.as_ref())
            .map(|c| c.status().changing_to.unwrap_or(c.status().view))
            .collect();
        self.view_gap_at_heal = views.iter().max().unwrap_or(&0) - views.iter().min().unwrap_or(&0);
        if std::env::var("SIM_DEBUG").is_ok() {
            eprintln!(
                "heal at {}: heights {:?} views {views:?}",
                self.now, self.heights_at_heal
            );
        }
        if self.s.twins.is_some() {
            let twin = self.nodes.len() - 1;
            self.nodes[twin].core = None;
            self.nodes[twin].retired = true;
            self.nodes[twin].epoch += 1;
        }
    }

    fn deliver(&mut self, to: usize, m: SignedMessage) {
        self.messages += 1;
        self.trace.update(&m.signature.0);
        let node = &mut self.nodes[to];
        if node.byz.is_some() {
            if node.seen.len() < 64 {
                node.seen.push(m.clone());
            }
            match &m.body {
                ConsensusMessage::ViewChange(vc) => {
                    if let Some(b) = &vc.block {
                        node.blocks.insert(b.hash(), b.clone());
                    }
                    node.view_changes.insert(
                        m.author,
                        Signed {
                            author: m.author,
                            body: vc.clone(),
                            signature: m.signature,
                        },
                    );
                }
                ConsensusMessage::PrePrepare(PrePrepare { block, .. }) => {
                    node.blocks.insert(block.hash(), block.clone());
                }
                _ => {}
            }
        }
        self.step(to, Input::Message(m));
    }

    fn process(&mut self, event: Event) {
        match event {
            Event::Deliver { to, from, msg } => {
                if self.nodes[to].core.is_none() {
                    return;
                }
                self.trace.update(&[to as u8, from as u8]);
                match msg {
                    Net::Consensus(m) => self.deliver(to, m),
                    Net::Raw(bytes) => match decode::<SignedMessage>(&bytes) {
                        Ok(m) => self.deliver(to, m),
                        Err(_) => {
                            self.trace.update(b"undecodable");
                            self.undecodable += 1;
                        }
                    },
                    Net::SyncRequest { .. } if self.withholds_blocks(to) => {}
                    Net::SyncRequest { from_height } => {
                        let mut blocks = self.committed_from(to, from_height);
                        if blocks.is_empty() {
                            return;
                        }
                        if self.nodes[to].byz == Some(Byzantine::Noisy) {
                            // A forged answer: another block under the real certificate.
                            for (b, _) in blocks.iter_mut() {
                                let mut forged = b.block().clone();
                                forged.header.timestamp_ms += 1;
                                *b = CheckedBlock::check(forged).expect("same body");
                            }
                        }
                        self.send(to, from, Net::SyncResponse(blocks));
                    }
                    Net::SyncResponse(blocks) => {
                        for (block, certificate) in blocks {
                            let Some(core) = self.nodes[to].core.as_ref() else {
                                return;
                            };
                            if core.status().height != block.height() {
                                continue;
                            }
                            self.step(to, Input::Decided { block, certificate });
                        }
                    }
                }
            }
            Event::Timer {
                node,
                epoch,
                timeout,
            } => {
                if self.nodes[node].epoch == epoch {
                    self.trace.update(b"timer");
                    self.step(node, Input::Timeout(timeout));
                }
            }
            Event::Validated {
                node,
                epoch,
                height,
                hash,
                verdict,
            } => {
                if self.nodes[node].epoch == epoch {
                    self.step(
                        node,
                        Input::BlockValidated {
                            height,
                            block_hash: hash,
                            verdict,
                        },
                    );
                }
            }
            Event::Propose {
                node,
                epoch,
                view,
                height,
                parent,
            } => {
                if self.nodes[node].epoch == epoch && self.nodes[node].after(&parent).is_some() {
                    let block = self.build_block(node, view, height, parent);
                    self.step(node, Input::Proposal(block));
                }
            }
            Event::Crash { node } => {
                let f = self.min_f();
                if self.nodes[node].core.is_some()
                    && self.crashed_count() + self.s.faulty().len() < f
                {
                    if self.s.crash_mid_output && self.rng.chance(500) {
                        self.nodes[node].crash_pending = true;
                    } else {
                        self.trace.update(b"crash");
                        self.nodes[node].core = None;
                        self.nodes[node].epoch += 1;
                    }
                }
            }
            Event::Restart { node } => {
                self.nodes[node].crash_pending = false;
                if self.nodes[node].core.is_none() && !self.nodes[node].retired {
                    self.trace.update(b"restart");
                    self.start_node(node);
                }
            }
        }
    }
}

/// Parses `SIM_SEEDS=A..B` (exclusive end), or returns `default`.
pub fn seed_range(default: std::ops::Range<u64>) -> std::ops::Range<u64> {
    match std::env::var("SIM_SEEDS") {
        Ok(s) => {
            let (a, b) = s
                .split_once("..")
                .unwrap_or_else(|| panic!("SIM_SEEDS must look like 0..1000, got {s:?}"));
            let a: u64 = a.trim().parse().expect("SIM_SEEDS start");
            let b: u64 = b.trim().parse().expect("SIM_SEEDS end");
            a..b
        }
        Err(_) => default,
    }
}
