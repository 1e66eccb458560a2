//! Deterministic simulation of the pBFT core: many seeds, faults and Byzantine replicas.
//!
//! Default: 2,000 seeds across n ∈ {1, 4, 7}. `SIM_SEEDS=A..B cargo test --release -p
//! phalanx-consensus --test simulation` runs exactly seeds A..B for each n instead (to replay
//! a failure, or to widen the search: `SIM_SEEDS=0..100000`).

mod sim;

use sim::{Byzantine, Change, Scenario, Sim, seed_range};

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

fn run_seeds(n: usize, default: std::ops::Range<u64>) {
    let mut failures = Vec::new();
    let mut total_height = 0;
    let seeds = seed_range(default);
    let count = seeds.end - seeds.start;
    for seed in seeds {
        let scenario = Scenario::random(seed, n);
        let outcome = Sim::new(scenario.clone()).run();
        total_height += outcome.max_height;
        if !outcome.violations.is_empty() {
            failures.push(failure(
                &format!("seed {seed} (n={n})"),
                seed,
                &scenario,
                &outcome.violations,
            ));
        }
    }
    assert_no_failures(&failures, count);
    assert!(
        total_height >= count * 3,
        "the chains barely moved: {total_height} heights over {count} seeds"
    );
}

#[test]
fn simulate_n1() {
    run_seeds(1, 0..400);
}

#[test]
fn simulate_n4() {
    run_seeds(4, 0..1200);
}

#[test]
fn simulate_n7() {
    run_seeds(7, 0..400);
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

#[test]
fn equivocating_primary_is_tolerated() {
    for seed in 0..50 {
        let mut s = Scenario::random(seed, 4);
        s.byzantine = vec![(0, Byzantine::Equivocator)];
        s.max_crashes = 0;
        let out = Sim::new(s).run();
        assert!(
            out.violations.is_empty(),
            "seed {seed}: {:?}",
            out.violations
        );
        assert!(
            out.max_height >= 5,
            "seed {seed}: only {} heights",
            out.max_height
        );
    }
}

#[test]
fn silent_primary_is_replaced() {
    let mut s = Scenario::random(3, 4);
    s.byzantine = vec![(0, Byzantine::Silent)];
    s.max_crashes = 0;
    s.partition = None;
    let out = Sim::new(s).run();
    assert!(out.violations.is_empty(), "{:?}", out.violations);
    assert!(
        out.max_height >= 10,
        "only {} heights with a silent primary",
        out.max_height
    );
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
    let seeds = seed_range(0..200);
    let count = seeds.end - seeds.start;
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
    assert_no_failures(&failures, count);
    // Added replicas take part: most runs have one whose signature lands in a certificate.
    assert!(
        added_signed * 2 >= count,
        "added replicas signed certificates in only {added_signed} of {count} runs"
    );
}
