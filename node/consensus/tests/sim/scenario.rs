//! What one simulation run does, derived from its seed: faults within the f budget, the
//! network's behaviour, and the adversaries.

use super::rng::Rng;

/// How a Byzantine replica misbehaves. Each drives an honest core and changes, withholds or
/// adds to what it sends.
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
    /// Sends its PRE-PREPAREs, VIEW-CHANGEs and NEW-VIEWs to some replicas with the header
    /// kept and the transactions swapped (raw bytes: the types cannot hold them).
    BodySwapper,
    /// As the new primary, sends different replicas NEW-VIEWs built from different subsets of
    /// the VIEW-CHANGEs it holds (dropping the highest prepared certificate where it can).
    NewViewSplitter,
    /// Withholds its PREPAREs and COMMITs and announces VIEW-CHANGEs for views far ahead.
    FarFuture,
    /// Floods future-height messages (every view, the largest blocks) alongside its own.
    Flooder,
}

impl Byzantine {
    /// Every kind, for random picks.
    pub const ALL: [Byzantine; 8] = [
        Byzantine::Silent,
        Byzantine::Equivocator,
        Byzantine::Noisy,
        Byzantine::Replayer,
        Byzantine::BodySwapper,
        Byzantine::NewViewSplitter,
        Byzantine::FarFuture,
        Byzantine::Flooder,
    ];
}

/// A validator-set change in the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Append replica `i` to the set.
    Add(usize),
    /// Remove replica `i` from the set.
    Remove(usize),
}

/// Twins (as in DiemBFT's Twins): two cores run validator `of`'s key in different network
/// partitions. Each phase (from its start time until the next, or the heal) says which side
/// every node is on; the twin is the last node. At the heal the twin stops for good.
#[derive(Debug, Clone)]
pub struct Twins {
    /// The validator whose key both cores hold.
    pub of: usize,
    /// (start ms, side of each node), in time order.
    pub phases: Vec<(u64, Vec<bool>)>,
}

/// One simulation's setup, derived from its seed.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub seed: u64,
    pub n: usize,
    pub byzantine: Vec<(usize, Byzantine)>,
    pub max_crashes: u64,
    /// Crashes may hit in the middle of carrying out one input's outputs (after some were
    /// done, before the rest): a persisted vote whose broadcast never left, and so on.
    pub crash_mid_output: bool,
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
    /// View-change timeouts (ms): base and cap.
    pub base_timeout_ms: u64,
    pub max_timeout_ms: u64,
    /// How long building a proposal takes (ms): from, to.
    pub propose_delay_ms: (u64, u64),
    /// TEST ONLY: weaken quorums to f+1 (the checker must then find violations).
    pub weaken_quorum: bool,
    /// Heights proposed and prepared ahead (the core's `pipeline`; 0: off).
    pub pipeline: u64,
    /// Replicas beyond the first `n` that start outside the validator set (they follow the
    /// chain as observers until a change adds them).
    pub spares: usize,
    /// Validator-set changes: (height whose commit announces it, change). The new set decides
    /// every height from the announcing height + 2 on, as governance schedules it.
    pub changes: Vec<(u64, Change)>,
    /// Two cores with one key, if any.
    pub twins: Option<Twins>,
}

impl Scenario {
    /// A random scenario for `n` replicas: faults within the f budget (Byzantine replicas of
    /// every kind, and crashes with what is left), lossy network, maybe a partition, heal at
    /// 7 s, run until 20 s.
    pub fn random(seed: u64, n: usize) -> Scenario {
        let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(n as u64));
        let f = (n - 1) / 3;
        let byz_count = if f == 0 {
            0
        } else {
            rng.below(f as u64 + 1) as usize
        };
        let mut byzantine = Vec::new();
        while byzantine.len() < byz_count {
            let node = rng.below(n as u64) as usize;
            if byzantine.iter().all(|(b, _)| *b != node) {
                let kind = Byzantine::ALL[rng.below(Byzantine::ALL.len() as u64) as usize];
                byzantine.push((node, kind));
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
            crash_mid_output: rng.chance(500),
            drop_permille: rng.below(80),
            dup_permille: rng.below(50),
            min_delay_ms: 1,
            max_delay_ms: rng.range(5, 60),
            partition,
            heal_at_ms: 7_000,
            end_ms: 20_000,
            min_commits_after_heal: 3,
            base_timeout_ms: 400,
            max_timeout_ms: 4_000,
            // Pipelined runs (odd seeds) build blocks fast enough to have several heights in
            // flight; the others as before.
            propose_delay_ms: if seed % 2 == 1 { (40, 200) } else { (150, 400) },
            weaken_quorum: false,
            pipeline: if seed % 2 == 1 { 1 + (seed / 2) % 4 } else { 0 },
            spares: 0,
            changes: Vec::new(),
            twins: None,
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
        // Room for the last change to apply after the heal, even when failed views before
        // it ran their timeouts to the cap.
        s.end_ms = 30_000;
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

    /// Twins at `n` (f ≥ 1): one validator's key runs in two cores, in partitions that change
    /// two or three times before the heal. That validator is the run's only Byzantine one;
    /// the network is otherwise as in [`Scenario::random`], with no crashes.
    pub fn twins(seed: u64, n: usize) -> Scenario {
        let mut s = Scenario::random(seed, n);
        let mut rng = Rng::new(seed.wrapping_mul(7919).wrapping_add(n as u64));
        let of = rng.below(n as u64) as usize;
        s.byzantine.clear();
        s.max_crashes = 0;
        s.partition = None;
        let mut phases = Vec::new();
        let mut at = 0;
        for _ in 0..rng.range(2, 3) {
            // Nodes 0..n, then the twin; the twin and `of` on opposite sides.
            let mut side: Vec<bool> = (0..=n).map(|_| rng.chance(500)).collect();
            side[n] = !side[of];
            phases.push((at, side));
            at += rng.range(1_000, 3_000);
        }
        s.twins = Some(Twins { of, phases });
        s
    }

    /// Partitions longer than the view lookahead: replica `n - 1` is cut off while a
    /// far-future Byzantine replica withholds its votes, so the others change views again
    /// and again (short timeouts) and end up more than 64 views ahead of it. After the heal
    /// they must meet again.
    pub fn long_partition(seed: u64, n: usize) -> Scenario {
        let mut s = Scenario::random(seed, n);
        s.byzantine = vec![(0, Byzantine::FarFuture)];
        s.max_crashes = 0;
        s.drop_permille = 0;
        s.partition = Some((200, 13_000, vec![n - 1]));
        s.base_timeout_ms = 50;
        s.max_timeout_ms = 150;
        s.propose_delay_ms = (5, 20);
        s.max_delay_ms = s.max_delay_ms.min(30);
        s.heal_at_ms = 13_000;
        s.end_ms = 25_000;
        s
    }

    /// The simulated faulty set: Byzantine replicas, and the twin's validator.
    pub fn faulty(&self) -> Vec<usize> {
        let mut out: Vec<usize> = self.byzantine.iter().map(|(b, _)| *b).collect();
        if let Some(t) = &self.twins {
            out.push(t.of);
        }
        out
    }
}
