//! A deterministic simulator for the pBFT core.
//!
//! N cores run in one process on a virtual clock (milliseconds), driven by a seeded RNG,
//! over a simulated network that delays, drops, duplicates, reorders and partitions messages.
//! Replicas crash and restart from what they persisted; up to f replicas are Byzantine
//! (silent, equivocating primary, noisy: bad signatures, conflicting votes, stale and future
//! views, forged sync answers; replayer). After every commit the checker asserts safety
//! (no two honest replicas commit different blocks at one height), certificate validity and
//! that committed blocks execute to their header's state root; at the end it checks liveness
//! (after the network heals, every honest replica kept committing). The same seed always
//! yields the same trace hash.

// Test-only code: events are short-lived, and index loops mirror per-replica arrays.
#![allow(dead_code, clippy::large_enum_variant, clippy::needless_range_loop)]

pub mod rng;

use phalanx_consensus::{Config, Core, Input, Output, Timeout, WalEntry};
use phalanx_types::consensus::{ConsensusMessage, PrePrepare, Signed, SignedMessage, Vote};
use phalanx_types::{
    Block, CommitCertificate, Domain, Hash, Header, SecretKey, Validator, ValidatorSet,
};
use rng::Rng;
use std::collections::BTreeMap;

/// Chain id used by the simulator.
pub const CHAIN: &str = "sim";

/// How a Byzantine replica misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Byzantine {
    /// Sends nothing (a silent primary when it leads).
    Silent,
    /// As primary, proposes different blocks to different replicas, and votes for both.
    Equivocator,
    /// Bad signatures, conflicting votes, stale and future views, forged sync answers.
    Noisy,
    /// Replays messages it received from others.
    Replayer,
}

/// One simulation's setup, derived from its seed.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub seed: u64,
    pub n: usize,
    pub byzantine: Vec<(usize, Byzantine)>,
    pub max_crashes: u64,
    pub drop_permille: u64,
    pub dup_permille: u64,
    pub min_delay_ms: u64,
    pub max_delay_ms: u64,
    /// (from, to, one side) in ms.
    pub partition: Option<(u64, u64, Vec<usize>)>,
    /// After this time: no drops, no partition, every crashed replica restarted.
    pub heal_at_ms: u64,
    pub end_ms: u64,
    /// Every honest replica must commit at least this many heights after the heal.
    pub min_commits_after_heal: u64,
    /// TEST ONLY: weaken quorums to f+1 (the checker must then find violations).
    pub weaken_quorum: bool,
    /// Replicas beyond the first `n` that start outside the validator set (they follow the
    /// chain as observers until a change adds them).
    pub spares: usize,
    /// Validator-set changes: (height whose commit announces it, change). The new set decides
    /// every height from the announcing height + 2 on, as governance schedules it.
    pub changes: Vec<(u64, Change)>,
}

/// A validator-set change in the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Append replica `i` to the set.
    Add(usize),
    /// Remove replica `i` from the set.
    Remove(usize),
}

impl Scenario {
    /// A random scenario for `n` replicas: faults within the f budget, lossy network,
    /// maybe a partition, heal at 7 s, run until 20 s.
    pub fn random(seed: u64, n: usize) -> Scenario {
        let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(n as u64));
        let f = (n - 1) / 3;
        let kinds = [
            Byzantine::Silent,
            Byzantine::Equivocator,
            Byzantine::Noisy,
            Byzantine::Replayer,
        ];
        let byz_count = if f == 0 {
            0
        } else {
            rng.below(f as u64 + 1) as usize
        };
        let mut byzantine = Vec::new();
        while byzantine.len() < byz_count {
            let node = rng.below(n as u64) as usize;
            if byzantine.iter().all(|(b, _)| *b != node) {
                byzantine.push((node, kinds[rng.below(4) as usize]));
            }
        }
        byzantine.sort_by_key(|(b, _)| *b);
        let partition = if n > 1 && rng.chance(400) {
            let start = rng.range(500, 4000);
            let end = start + rng.range(500, 3000);
            let side: Vec<usize> = (0..n).filter(|_| rng.chance(500)).collect();
            Some((start, end, side))
        } else {
            None
        };
        Scenario {
            seed,
            n,
            byzantine,
            max_crashes: if f > byz_count { rng.below(4) } else { 0 },
            drop_permille: rng.below(80),
            dup_permille: rng.below(50),
            min_delay_ms: 1,
            max_delay_ms: rng.range(5, 60),
            partition,
            heal_at_ms: 7_000,
            end_ms: 20_000,
            min_commits_after_heal: 3,
            weaken_quorum: false,
            spares: 0,
            changes: Vec::new(),
        }
    }

    /// A random scenario with validator-set changes at random heights: 4 validators and 2
    /// spares; three changes (adding spares, removing members, the Byzantine one or the
    /// first primary included) keep every set at 4 or 5 validators with at most one
    /// Byzantine replica, so f = 1 holds throughout. Crashes only when no replica is
    /// Byzantine.
    pub fn reconfiguring(seed: u64) -> Scenario {
        let mut s = Scenario::random(seed, 4);
        let mut rng = Rng::new(seed.wrapping_mul(977).wrapping_add(13));
        s.spares = 2;
        s.byzantine.truncate(1);
        s.max_crashes = if s.byzantine.is_empty() {
            rng.below(3)
        } else {
            0
        };
        let mut members: Vec<usize> = (0..4).collect();
        let mut spares: Vec<usize> = vec![4, 5];
        let mut height = 0;
        for _ in 0..3 {
            height += rng.range(2, 8);
            let change = if members.len() == 4 || (members.len() < 5 && rng.chance(500)) {
                let i = spares.remove(rng.below(spares.len() as u64) as usize);
                members.push(i);
                Change::Add(i)
            } else {
                let i = members.remove(rng.below(members.len() as u64) as usize);
                Change::Remove(i)
            };
            s.changes.push((height, change));
        }
        s
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Hash of every event processed, in order.
    pub trace: [u8; 32],
    /// Invariant violations (empty for a correct protocol).
    pub violations: Vec<String>,
    /// Final committed height of each honest replica.
    pub heights: Vec<u64>,
    /// Consensus messages delivered.
    pub messages: u64,
    /// Highest height committed by any honest replica.
    pub max_height: u64,
    /// For each height of the longest honest chain, the replicas whose signatures its
    /// commit certificate holds.
    pub signers: Vec<Vec<usize>>,
}

#[derive(Debug, Clone)]
enum Net {
    Consensus(SignedMessage),
    SyncRequest { from_height: u64 },
    SyncResponse(Vec<(Block, CommitCertificate)>),
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
        valid: bool,
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
    chain: Vec<(Block, CommitCertificate)>,
    roots: Vec<Hash>,
    epoch: u64,
    byz: Option<Byzantine>,
    seen: Vec<SignedMessage>,
}

impl SimNode {
    fn tip_hash(&self) -> Hash {
        self.chain.last().map_or(Hash::ZERO, |(b, _)| b.hash())
    }
    fn tip_time(&self) -> u64 {
        self.chain.last().map_or(0, |(b, _)| b.header.timestamp_ms)
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
    /// Replica index of every key.
    index: BTreeMap<phalanx_types::Address, usize>,
    decided: BTreeMap<u64, Hash>,
    violations: Vec<String>,
    trace: blake3::Hasher,
    messages: u64,
    crashes_left: u64,
    heights_at_heal: Vec<u64>,
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
        let nodes = keys
            .into_iter()
            .enumerate()
            .map(|(i, key)| SimNode {
                key,
                core: None,
                wal: Vec::new(),
                chain: Vec::new(),
                roots: vec![genesis_root()],
                epoch: 0,
                byz: s.byzantine.iter().find(|(b, _)| *b == i).map(|(_, k)| *k),
                seen: Vec::new(),
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
        cfg.base_timeout_ms = 400;
        cfg.max_timeout_ms = 4_000;
        cfg.weaken_quorum_for_tests = self.s.weaken_quorum;
        cfg
    }

    fn push(&mut self, at: u64, e: Event) {
        self.seq += 1;
        self.events.insert((at, self.seq), e);
    }

    fn honest(&self, i: usize) -> bool {
        self.nodes[i].byz.is_none()
    }

    fn crashed_count(&self) -> usize {
        self.nodes.iter().filter(|n| n.core.is_none()).count()
    }

    fn partitioned(&self, a: usize, b: usize) -> bool {
        match &self.s.partition {
            Some((from, to, side)) if self.now >= *from && self.now < *to => {
                side.contains(&a) != side.contains(&b)
            }
            _ => false,
        }
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

    fn byzantine_broadcast(&mut self, from: usize, kind: Byzantine, msg: SignedMessage) {
        let key = self.nodes[from].key.clone();
        let n = self.nodes.len();
        match kind {
            Byzantine::Silent => {}
            Byzantine::Equivocator => {
                let split: Vec<bool> = (0..n).map(|_| self.rng.chance(500)).collect();
                if let ConsensusMessage::PrePrepare(pp) = &msg.body {
                    // Two valid blocks for the same (view, height): A to one group, B to the other,
                    // and PREPARE + COMMIT votes for each to its group.
                    let mut alt = pp.block.clone();
                    alt.header.timestamp_ms += 1;
                    let parent_root = *self.nodes[from].roots.last().expect("genesis root");
                    alt.header.state_root = execute(&parent_root, &alt.header);
                    let b = ConsensusMessage::PrePrepare(PrePrepare {
                        view: pp.view,
                        height: pp.height,
                        block: alt.clone(),
                    })
                    .sign(CHAIN, &key);
                    for to in 0..n {
                        let (m, hash) = if split[to] {
                            (msg.clone(), pp.block.hash())
                        } else {
                            (b.clone(), alt.hash())
                        };
                        self.send(from, to, Net::Consensus(m));
                        let vote = Vote {
                            view: pp.view,
                            height: pp.height,
                            block_hash: hash,
                        };
                        self.send(
                            from,
                            to,
                            Net::Consensus(ConsensusMessage::Prepare(vote).sign(CHAIN, &key)),
                        );
                        self.send(
                            from,
                            to,
                            Net::Consensus(ConsensusMessage::Commit(vote).sign(CHAIN, &key)),
                        );
                    }
                } else {
                    for to in 0..n {
                        let m = match &msg.body {
                            ConsensusMessage::Prepare(v) | ConsensusMessage::Commit(v)
                                if !split[to] =>
                            {
                                let mut v = *v;
                                v.block_hash = Hash::digest(
                                    Domain::Header,
                                    &self.rng.next_u64().to_le_bytes(),
                                );
                                let body = if matches!(msg.body, ConsensusMessage::Prepare(_)) {
                                    ConsensusMessage::Prepare(v)
                                } else {
                                    ConsensusMessage::Commit(v)
                                };
                                body.sign(CHAIN, &key)
                            }
                            _ => msg.clone(),
                        };
                        self.send(from, to, Net::Consensus(m));
                    }
                }
            }
            Byzantine::Noisy => {
                for to in 0..n {
                    self.send(from, to, Net::Consensus(msg.clone()));
                    // A forged signature.
                    let mut bad = msg.clone();
                    bad.signature.0[self.rng.below(64) as usize] ^= 1;
                    self.send(from, to, Net::Consensus(bad));
                    // A message "from" another validator, signed with our key.
                    let mut imposter = msg.clone();
                    imposter.author = self.nodes[self.rng.below(n as u64) as usize].key.address();
                    self.send(from, to, Net::Consensus(imposter));
                    // Conflicting votes for stale and future views, validly signed.
                    let view = msg.body.view();
                    let view = if self.rng.chance(500) {
                        view.saturating_sub(self.rng.below(3))
                    } else {
                        view + self.rng.below(4)
                    };
                    let vote = Vote {
                        view,
                        height: msg.body.height() + self.rng.below(2),
                        block_hash: Hash::digest(
                            Domain::Header,
                            &self.rng.next_u64().to_le_bytes(),
                        ),
                    };
                    let body = if self.rng.chance(500) {
                        ConsensusMessage::Prepare(vote)
                    } else {
                        ConsensusMessage::Commit(vote)
                    };
                    self.send(from, to, Net::Consensus(body.sign(CHAIN, &key)));
                }
            }
            Byzantine::Replayer => {
                for to in 0..n {
                    self.send(from, to, Net::Consensus(msg.clone()));
                }
                let seen = self.nodes[from].seen.len() as u64;
                for _ in 0..3.min(seen) {
                    let m = self.nodes[from].seen[self.rng.below(seen) as usize].clone();
                    let to = self.rng.below(n as u64) as usize;
                    self.send(from, to, Net::Consensus(m));
                }
            }
        }
    }

    fn build_block(&self, i: usize, view: u64, height: u64, parent: Hash) -> Block {
        let node = &self.nodes[i];
        let mut header = Header {
            chain_id: CHAIN.into(),
            height,
            parent_hash: parent,
            timestamp_ms: node.tip_time() + 1 + view % 7,
            proposer: node.key.address(),
            tx_root: Block::compute_tx_root(&[]),
            state_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            validators_hash: self.set_at(height).hash(),
        };
        header.state_root = execute(node.roots.last().expect("genesis root"), &header);
        Block {
            header,
            txs: vec![],
        }
    }

    fn validate(&self, i: usize, block: &Block) -> bool {
        let node = &self.nodes[i];
        let h = &block.header;
        h.chain_id == CHAIN
            && h.height == node.chain.len() as u64 + 1
            && h.parent_hash == node.tip_hash()
            && h.timestamp_ms > node.tip_time()
            && h.validators_hash == self.set_at(h.height).hash()
            && self.set_at(h.height).contains(&h.proposer)
            && block.tx_root_matches()
            && h.state_root == execute(node.roots.last().expect("genesis root"), h)
    }

    fn apply(&mut self, i: usize, outs: Vec<Output>) {
        for o in outs {
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
                    let valid = self.validate(i, &block);
                    let epoch = self.nodes[i].epoch;
                    let at = self.now + self.rng.below(3);
                    self.push(
                        at,
                        Event::Validated {
                            node: i,
                            epoch,
                            height: block.height(),
                            hash: block.hash(),
                            valid,
                        },
                    );
                }
                Output::RequestProposal {
                    view,
                    height,
                    parent_hash,
                } => {
                    let epoch = self.nodes[i].epoch;
                    let at = self.now + self.rng.range(150, 400);
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
                Output::Commit { block, certificate } => self.on_commit(i, block, certificate),
                Output::Evidence(ev) => {
                    let set = self.set_at(ev.first.body.height());
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
                }
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
            }
        }
    }

    fn violation(&mut self, v: String) {
        if self.violations.len() < 20 {
            self.violations.push(format!("t={}ms: {v}", self.now));
        }
    }

    fn on_commit(&mut self, i: usize, block: Block, cert: CommitCertificate) {
        let height = block.height();
        self.trace.update(&height.to_le_bytes());
        self.trace.update(&block.hash().0);
        if height != self.nodes[i].chain.len() as u64 + 1 {
            self.violation(format!("node {i} committed height {height} out of order"));
            return;
        }
        if cert.block_hash != block.hash() || cert.height != height {
            self.violation(format!(
                "node {i}: certificate does not match block {height}"
            ));
        }
        if !self.s.weaken_quorum && cert.verify(CHAIN, self.set_at(height)).is_err() {
            self.violation(format!("node {i}: invalid certificate at height {height}"));
        }
        let node = &self.nodes[i];
        let root = execute(node.roots.last().expect("genesis root"), &block.header);
        if root != block.header.state_root || block.header.parent_hash != node.tip_hash() {
            self.violation(format!(
                "node {i} committed a block that does not execute at {height}"
            ));
        }
        // SIM_DEBUG=1 prints every commit with its signers and the set of its height.
        if std::env::var("SIM_DEBUG").is_ok() {
            let signers: Vec<usize> = cert
                .signatures
                .iter()
                .filter_map(|s| self.index.get(&s.validator).copied())
                .collect();
            eprintln!(
                "t={} node {i} commits h={height} view={} hash={} signers={signers:?} set={:?}",
                self.now,
                cert.view,
                block.hash(),
                self.set_at(height)
                    .validators
                    .iter()
                    .map(|v| self.index[&v.address])
                    .collect::<Vec<_>>()
            );
        }
        if self.honest(i) {
            match self.decided.get(&height) {
                Some(h) if *h != block.hash() => {
                    self.violation(format!(
                        "SAFETY: node {i} committed {} at height {height}, another honest node committed {}",
                        block.hash(),
                        h
                    ));
                }
                Some(_) => {}
                None => {
                    self.decided.insert(height, block.hash());
                }
            }
        }
        let node = &mut self.nodes[i];
        node.roots.push(root);
        node.chain.push((block, cert));
        // The node prunes its WAL below the committed height.
        node.wal.retain(|e| e.height() > height);
        // What governance would have scheduled in the state of this height.
        let announced = self.announced_after(height);
        if let Some(core) = self.nodes[i].core.as_mut() {
            for (first, set) in announced {
                core.schedule_validators(first, set);
            }
        }
    }

    /// Up to 16 of node `i`'s committed blocks from `height` on (a sync answer).
    fn committed_from(&self, i: usize, height: u64) -> Vec<(Block, CommitCertificate)> {
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
        self.apply(i, outs);
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
        let budget = f.saturating_sub(self.s.byzantine.len());
        if budget == 0 {
            return;
        }
        for _ in 0..self.crashes_left {
            let at = self.rng.range(200, self.s.heal_at_ms - 1500);
            let node = self.rng.below(self.nodes.len() as u64) as usize;
            if self.honest(node) {
                self.push(at, Event::Crash { node });
                let back = (at + self.rng.range(100, 1200)).min(self.s.heal_at_ms - 1);
                self.push(back, Event::Restart { node });
            }
        }
    }

    /// Runs the scenario to its end and checks liveness.
    pub fn run(mut self) -> Outcome {
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
                self.heights_at_heal = self.nodes.iter().map(|n| n.chain.len() as u64).collect();
            }
            self.now = at;
            self.trace.update(&at.to_le_bytes());
            self.process(event);
        }
        if !healed {
            self.heights_at_heal = self.nodes.iter().map(|n| n.chain.len() as u64).collect();
        }
        self.now = self.s.end_ms;
        if !self.s.weaken_quorum {
            let top = self
                .nodes
                .iter()
                .map(|n| n.chain.len() as u64)
                .max()
                .unwrap_or(0);
            for i in 0..self.nodes.len() {
                if !self.honest(i) {
                    continue;
                }
                let h = self.nodes[i].chain.len() as u64;
                let status = self.nodes[i].core.as_ref().map(|c| c.status());
                let base = self.heights_at_heal.iter().copied().max().unwrap_or(0);
                if h < base + self.s.min_commits_after_heal {
                    self.violation(format!(
                        "LIVENESS: honest node {i} at height {h}, {} heights after heal required (heal max {base}, top {top}); status {status:?}",
                        self.s.min_commits_after_heal
                    ));
                }
            }
        }
        let heights: Vec<u64> = (0..self.nodes.len())
            .filter(|i| self.honest(*i))
            .map(|i| self.nodes[i].chain.len() as u64)
            .collect();
        let longest = (0..self.nodes.len())
            .filter(|i| self.honest(*i))
            .max_by_key(|i| self.nodes[*i].chain.len())
            .unwrap_or(0);
        let signers = self.nodes[longest]
            .chain
            .iter()
            .map(|(_, cert)| {
                cert.signatures
                    .iter()
                    .filter_map(|sig| self.index.get(&sig.validator).copied())
                    .collect()
            })
            .collect();
        Outcome {
            signers,
            trace: *self.trace.finalize().as_bytes(),
            violations: self.violations,
            max_height: heights.iter().copied().max().unwrap_or(0),
            heights,
            messages: self.messages,
        }
    }

    fn process(&mut self, event: Event) {
        match event {
            Event::Deliver { to, from, msg } => {
                if self.nodes[to].core.is_none() {
                    return;
                }
                self.trace.update(&[to as u8, from as u8]);
                match msg {
                    Net::Consensus(m) => {
                        self.messages += 1;
                        self.trace.update(&m.signature.0);
                        if self.nodes[to].byz == Some(Byzantine::Replayer)
                            && self.nodes[to].seen.len() < 64
                        {
                            self.nodes[to].seen.push(m.clone());
                        }
                        self.step(to, Input::Message(m));
                    }
                    Net::SyncRequest { from_height } => {
                        let mut blocks = self.committed_from(to, from_height);
                        if blocks.is_empty() {
                            return;
                        }
                        if self.nodes[to].byz == Some(Byzantine::Noisy) {
                            // A forged answer: another block under the real certificate.
                            for (b, _) in blocks.iter_mut() {
                                b.header.timestamp_ms += 1;
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
                valid,
            } => {
                if self.nodes[node].epoch == epoch {
                    self.step(
                        node,
                        Input::BlockValidated {
                            height,
                            block_hash: hash,
                            valid,
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
                if self.nodes[node].epoch == epoch && self.nodes[node].tip_hash() == parent {
                    let block = self.build_block(node, view, height, parent);
                    self.step(node, Input::Proposal(block));
                }
            }
            Event::Crash { node } => {
                let f = self.min_f();
                if self.nodes[node].core.is_some()
                    && self.crashed_count() + self.s.byzantine.len() < f
                {
                    self.trace.update(b"crash");
                    self.nodes[node].core = None;
                    self.nodes[node].epoch += 1;
                }
            }
            Event::Restart { node } => {
                if self.nodes[node].core.is_none() {
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

/// Signs a PRE-PREPARE as `key` (helper for unit tests).
pub fn signed_pre_prepare(key: &SecretKey, view: u64, block: Block) -> Signed<PrePrepare> {
    Signed::new(
        PrePrepare {
            view,
            height: block.height(),
            block,
        },
        CHAIN,
        key,
    )
}
