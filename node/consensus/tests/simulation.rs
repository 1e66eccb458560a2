//! Deterministic simulation of the pBFT core: many seeds, faults and Byzantine replicas.
//!
//! Default: 10,000 random seeds across n ∈ {1, 4, 6, 7} (every adversary kind, crashes,
//! crashes in the middle of an input's outputs), plus Twins, partitions longer than the view
//! lookahead and validator-set changes. `SIM_SEEDS=A..B cargo test --release -p
//! phalanx-consensus --test simulation` runs exactly seeds A..B for each test instead (to
//! replay a failure, or to widen the search: `SIM_SEEDS=0..100000`).

mod sim;

use phalanx_consensus::Reject;
use sim::{Byzantine, Change, Outcome, Scenario, Sim, seed_range};
use std::collections::BTreeMap;
use std::time::Instant;

/// One failed seed: what went wrong and how to replay it.
fn failure(what: &str, seed: u64, scenario: &Scenario, problems: &[String]) -> String {
    format!(
        "{what} failed — replay with SIM_SEEDS={seed}..{}\n  scenario: {scenario:?}\n  {}",
        seed + 1,
        problems.join("\n  ")
    )
}

fn assert_no_failures(failures: &[String], count: u64) {
    assert!(
        failures.is_empty(),
        "{} of {count} seeds failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Totals over many runs, printed with the seeds/s figure.
#[derive(Default)]
struct Tally {
    runs: u64,
    heights: u64,
    refusals: BTreeMap<Reject, u64>,
    undecodable: u64,
    evidence: u64,
}

impl Tally {
    fn add(&mut self, out: &Outcome) {
        self.runs += 1;
        self.heights += out.max_height;
        for (r, n) in &out.refusals {
            *self.refusals.entry(*r).or_default() += n;
        }
        self.undecodable += out.undecodable;
        self.evidence += out.evidence;
    }

    /// Prints the figures straight to stderr (not captured by the test harness, so CI's
    /// log has them).
    fn print(&self, what: &str, started: Instant) {
        use std::io::Write;
        let secs = started.elapsed().as_secs_f64();
        let _ = writeln!(
            std::io::stderr(),
            "{what}: {} seeds in {secs:.1} s = {:.0} seeds/s (reference: {:.0} signature checks/s on this thread); {} heights; {} evidence; {} undecodable; refused {:?}",
            self.runs,
            self.runs as f64 / secs.max(1e-9),
            verifications_per_second(),
            self.heights,
            self.evidence,
            self.undecodable,
            self.refusals
        );
    }
}

/// This machine's speed right now: strict ed25519 verifications per second (the work that
/// dominates a simulation), measured over 200 checks.
/// (Distinct messages, so the simulator's memo of checks never answers.)
fn verifications_per_second() -> f64 {
    let key = phalanx_types::SecretKey::from_seed([1; 32]);
    let public = key.public_key();
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let signed: Vec<([u8; 16], phalanx_types::Signature)> = (0..200u64)
        .map(|i| {
            let mut m = [0u8; 16];
            m[..8].copy_from_slice(&nonce.to_le_bytes());
            m[8..].copy_from_slice(&i.to_le_bytes());
            (m, key.sign(&m))
        })
        .collect();
    let started = Instant::now();
    for (m, sig) in &signed {
        assert!(public.verify(m, sig).is_ok());
    }
    signed.len() as f64 / started.elapsed().as_secs_f64().max(1e-9)
}

/// Runs `scenario(seed)` for each seed; returns the tally, panics with every failure.
fn run_many(
    what: &str,
    seeds: std::ops::Range<u64>,
    scenario: impl Fn(u64) -> Scenario,
    extra: impl Fn(&Scenario, &Outcome) -> Vec<String>,
) -> Tally {
    let started = Instant::now();
    let count = seeds.end - seeds.start;
    let mut failures = Vec::new();
    let mut tally = Tally::default();
    for seed in seeds {
        let s = scenario(seed);
        let out = Sim::new(s.clone()).run();
        tally.add(&out);
        let mut problems = out.violations.clone();
        problems.extend(extra(&s, &out));
        if !problems.is_empty() {
            failures.push(failure(&format!("{what} seed {seed}"), seed, &s, &problems));
        }
    }
    tally.print(what, started);
    assert_no_failures(&failures, count);
    tally
}

fn run_seeds(n: usize, default: std::ops::Range<u64>) {
    let seeds = seed_range(default);
    let count = seeds.end - seeds.start;
    let tally = run_many(
        &format!("n={n}"),
        seeds,
        |seed| Scenario::random(seed, n),
        |_, _| vec![],
    );
    assert!(
        tally.heights >= count * 3,
        "the chains barely moved: {} heights over {count} seeds",
        tally.heights
    );
}

#[test]
fn simulate_n1() {
    run_seeds(1, 0..1_000);
}

#[test]
fn simulate_n4() {
    run_seeds(4, 0..5_000);
}

#[test]
fn simulate_n6() {
    run_seeds(6, 0..2_000);
}

#[test]
fn simulate_n7() {
    run_seeds(7, 0..2_000);
}

#[test]
fn same_seed_same_trace() {
    for seed in [1, 7, 42] {
        let a = Sim::new(Scenario::random(seed, 4)).run();
        let b = Sim::new(Scenario::random(seed, 4)).run();
        assert_eq!(a.trace, b.trace, "seed {seed} is not deterministic");
        assert_eq!(a.heights, b.heights);
        let c = Sim::new(Scenario::random(seed + 1000, 4)).run();
        assert_ne!(a.trace, c.trace, "different seeds should differ");
    }
}

/// Each adversary on its own, as the primary of view 0 at n = 4 and as a backup at n = 7
/// with a crash: safety and liveness hold, and the adversary's trace shows it acted.
#[test]
fn every_adversary_is_tolerated() {
    for kind in Byzantine::ALL {
        let seeds = seed_range(0..40);
        let tally = run_many(
            &format!("{kind:?}"),
            seeds,
            |seed| {
                let (n, node) = if seed % 2 == 0 { (4, 0) } else { (7, 3) };
                let mut s = Scenario::random(seed, n);
                s.byzantine = vec![(node, kind)];
                s.max_crashes = if n == 7 { 2 } else { 0 };
                if kind == Byzantine::NewViewSplitter {
                    // It acts as a new primary: lead view 1, after replica 0 is cut off.
                    s.byzantine = vec![(1, kind)];
                    s.partition = Some((0, 2_500, vec![0]));
                }
                s
            },
            |_, out| {
                if out.max_height < 3 {
                    vec![format!("only {} heights", out.max_height)]
                } else {
                    vec![]
                }
            },
        );
        // The adversary did what it is named for.
        let refused = |r: Reject| tally.refusals.get(&r).copied().unwrap_or(0);
        match kind {
            Byzantine::Equivocator => assert!(tally.evidence > 0, "no evidence"),
            Byzantine::BodySwapper => assert!(tally.undecodable > 0, "no swapped body sent"),
            Byzantine::Flooder => assert!(refused(Reject::BufferFull) > 0, "no flood refused"),
            Byzantine::Noisy => assert!(refused(Reject::BadSignature) > 0),
            Byzantine::Replayer => assert!(refused(Reject::Duplicate) > 0),
            Byzantine::NewViewSplitter => assert!(tally.evidence > 0, "no NEW-VIEW split"),
            Byzantine::FarFuture => assert!(refused(Reject::StaleView) > 0),
            Byzantine::Silent => {}
        }
    }
}

/// Twins at n = 4, 6 and 7: one key in two cores, in partitions that change while the
/// chain runs. Honest replicas never disagree and go on after the heal.
#[test]
fn twins_never_split_the_honest_replicas() {
    let seeds = seed_range(0..300);
    run_many(
        "twins",
        seeds,
        |seed| Scenario::twins(seed, [4, 6, 7][(seed % 3) as usize]),
        |_, _| vec![],
    );
}

/// A replica cut off while the others are driven more than the view lookahead (64) ahead
/// by a far-future Byzantine replica that withholds its votes: after the heal they meet
/// again and commit.
#[test]
fn replicas_further_apart_than_the_lookahead_meet_again() {
    let seeds = seed_range(0..20);
    let tally = run_many(
        "long partition",
        seeds,
        |seed| Scenario::long_partition(seed, 4),
        |_, out| {
            if out.view_gap_at_heal <= 64 {
                vec![format!(
                    "the views were only {} apart at the heal",
                    out.view_gap_at_heal
                )]
            } else {
                vec![]
            }
        },
    );
    assert!(tally.heights > 0);
}

#[test]
fn checker_catches_a_weakened_quorum() {
    // With quorums weakened to f+1, an equivocating primary splits the honest replicas and
    // they commit different blocks. The checker must see it for some seed.
    let mut caught = None;
    for seed in 0..200 {
        let mut s = Scenario::random(seed, 4);
        s.byzantine = vec![(0, Byzantine::Equivocator)];
        s.max_crashes = 0;
        s.partition = None;
        s.weaken_quorum = true;
        let out = Sim::new(s).run();
        if out.violations.iter().any(|v| v.contains("SAFETY")) {
            caught = Some(seed);
            break;
        }
    }
    assert!(
        caught.is_some(),
        "the checker never caught the weakened quorum"
    );
}

/// Validator-set changes at random heights (adding spares, removing members, Byzantine or
/// not, the first primary included), with crashes and Byzantine replicas: safety and
/// liveness hold, certificates verify against the set of their height, an added replica signs
/// certificates once its set decides, and a removed one never does again.
#[test]
fn simulate_validator_set_changes() {
    let seeds = seed_range(0..1_000);
    let count = seeds.end - seeds.start;
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut added_signed = 0;
    for seed in seeds {
        let scenario = Scenario::reconfiguring(seed);
        let out = Sim::new(scenario.clone()).run();
        let last_change = scenario.changes.last().map_or(0, |(h, _)| h + 2);
        let mut problems = out.violations.clone();
        if out.max_height < last_change + 1 {
            problems.push(format!(
                "only {} heights; the last change applies at {last_change}",
                out.max_height
            ));
        }
        for (announce, change) in &scenario.changes {
            let first = (announce + 2) as usize;
            match *change {
                Change::Remove(i) => {
                    // Removed for good unless added back (never: spares are distinct).
                    for (h, signers) in out.signers.iter().enumerate().skip(first - 1) {
                        if signers.contains(&i) {
                            problems.push(format!("removed replica {i} signed height {}", h + 1));
                        }
                    }
                }
                Change::Add(i) => {
                    let removed_later = scenario
                        .changes
                        .iter()
                        .any(|(_, c)| *c == Change::Remove(i));
                    if !removed_later && out.signers.iter().skip(first - 1).any(|s| s.contains(&i))
                    {
                        added_signed += 1;
                    }
                    for (h, signers) in out.signers.iter().enumerate().take(first - 1) {
                        if signers.contains(&i) {
                            problems.push(format!(
                                "replica {i} signed height {} before it was added",
                                h + 1
                            ));
                        }
                    }
                }
            }
        }
        if !problems.is_empty() {
            failures.push(failure(&format!("seed {seed}"), seed, &scenario, &problems));
        }
    }
    {
        use std::io::Write;
        let secs = started.elapsed().as_secs_f64();
        let _ = writeln!(
            std::io::stderr(),
            "set changes: {count} seeds in {secs:.1} s = {:.0} seeds/s",
            count as f64 / secs.max(1e-9)
        );
    }
    assert_no_failures(&failures, count);
    // Added replicas take part: most runs have one whose signature lands in a certificate.
    assert!(
        added_signed * 2 >= count,
        "added replicas signed certificates in only {added_signed} of {count} runs"
    );
}
