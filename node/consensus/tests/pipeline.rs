//! Pipelining (`Config::pipeline`): what a replica does above the height it decides, and
//! what it never does there. The simulator runs it under faults (odd seeds of
//! `simulation.rs`); these pin the rules one by one.

mod common;

use common::*;
use phalanx_consensus::{Core, Input, Output, Reject, Verdict, WalEntry};
use phalanx_types::consensus::{ConsensusMessage, Phase, PrePrepare, SignedMessage, Vote};
use phalanx_types::{Block, CheckedBlock, Hash, Header};

/// A block at `height` on `parent` by validator 0, made distinct by `ts`.
fn child(net: &Net, height: u64, parent: Hash, ts: u64) -> CheckedBlock {
    let block = Block {
        header: Header {
            chain_id: CHAIN.into(),
            height,
            parent_hash: parent,
            timestamp_ms: ts,
            proposer: net.keys[0].address(),
            tx_root: Block::compute_tx_root(&[]),
            state_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            validators_hash: net.set.hash(),
        },
        txs: Vec::new(),
    };
    CheckedBlock::check(block).expect("own tx root")
}

fn pre_prepare(net: &Net, view: u64, block: &CheckedBlock) -> Input {
    let pp = PrePrepare {
        view,
        height: block.height(),
        block: block.clone(),
    };
    Input::Message(ConsensusMessage::PrePrepare(pp).sign(CHAIN, &net.keys[0]))
}

fn vote(net: &Net, signer: usize, phase: Phase, height: u64, hash: Hash) -> SignedMessage {
    let v = Vote {
        view: 0,
        height,
        block_hash: hash,
    };
    match phase {
        Phase::Commit => ConsensusMessage::Commit(v),
        _ => ConsensusMessage::Prepare(v),
    }
    .sign(CHAIN, &net.keys[signer])
}

fn valid(block: &CheckedBlock) -> Input {
    Input::BlockValidated {
        height: block.height(),
        block_hash: block.hash(),
        verdict: Verdict::Valid,
    }
}

fn pipelined(net: &Net, i: usize, depth: u64) -> Core {
    let mut cfg = net.config(i);
    cfg.pipeline = depth;
    let mut core = Core::new(cfg, 1, Hash::ZERO, 0);
    core.start();
    core
}

/// (phase, height) of every message broadcast.
fn sent(out: &[Output]) -> Vec<(Phase, u64)> {
    broadcasts(out)
        .iter()
        .map(|m| (m.phase(), m.height()))
        .collect()
}

fn validates(out: &[Output], block: &CheckedBlock) -> bool {
    out.iter()
        .any(|o| matches!(o, Output::ValidateBlock { block: b } if b.hash() == block.hash()))
}

#[test]
fn a_backup_prepares_the_next_height_but_commits_it_only_after_its_parent() {
    let net = Net::new(4);
    let mut core = pipelined(&net, 1, 2);
    let b1 = child(&net, 1, Hash::ZERO, 1);
    let b2 = child(&net, 2, b1.hash(), 2);
    core.handle(pre_prepare(&net, 0, &b1));
    let out = core.handle(valid(&b1));
    assert_eq!(sent(&out), vec![(Phase::Prepare, 1)]);

    // Height 2 while 1 collects votes: executed on 1, then PREPARE, persisted first.
    let out = core.handle(pre_prepare(&net, 0, &b2));
    assert!(validates(&out, &b2), "{out:?}");
    let out = core.handle(valid(&b2));
    assert_persist_before_send(&out);
    assert_eq!(sent(&out), vec![(Phase::Prepare, 2)]);
    assert!(
        out.iter().any(
            |o| matches!(o, Output::Persist(WalEntry::Signed(s)) if s.height == 2 && s.phase == Phase::Prepare)
        ),
        "{out:?}"
    );

    // A quorum of PREPAREs at height 2 is no COMMIT there, and no prepared certificate.
    for i in [2, 3] {
        let out = core.handle(Input::Message(vote(&net, i, Phase::Prepare, 2, b2.hash())));
        assert!(sent(&out).is_empty(), "{out:?}");
        assert!(
            !out.iter().any(|o| matches!(o, Output::Persist(_))),
            "{out:?}"
        );
    }
    // Height 1 prepares and commits.
    let mut out = Vec::new();
    for i in [2, 3] {
        out.extend(core.handle(Input::Message(vote(&net, i, Phase::Prepare, 1, b1.hash()))));
    }
    assert_eq!(sent(&out), vec![(Phase::Commit, 1)]);
    let mut out = Vec::new();
    for i in [2, 3] {
        out.extend(core.handle(Input::Message(vote(&net, i, Phase::Commit, 1, b1.hash()))));
    }
    assert_eq!(has_commit(&out).map(|c| c.height), Some(1));
    assert!(
        sent(&out).is_empty(),
        "nothing for height 2 before the node committed 1"
    );

    // Once the node has committed 1: height 2's PREPAREs are in, so prepared and COMMIT.
    let out = core.resume();
    assert_persist_before_send(&out);
    assert!(
        out.iter().any(
            |o| matches!(o, Output::Persist(WalEntry::Prepared { certificate, .. }) if certificate.height == 2)
        ),
        "{out:?}"
    );
    assert_eq!(sent(&out), vec![(Phase::Commit, 2)]);
    let mut out = Vec::new();
    for i in [2, 3] {
        out.extend(core.handle(Input::Message(vote(&net, i, Phase::Commit, 2, b2.hash()))));
    }
    assert_eq!(has_commit(&out).map(|c| c.block_hash), Some(b2.hash()));
}

#[test]
fn a_block_above_must_extend_the_block_accepted_below() {
    let net = Net::new(4);
    let mut core = pipelined(&net, 1, 2);
    let b1 = child(&net, 1, Hash::ZERO, 1);
    let stray = child(&net, 2, Hash([9; 32]), 2);
    let b2 = child(&net, 2, b1.hash(), 3);
    core.handle(pre_prepare(&net, 0, &b1));
    core.handle(valid(&b1));
    let out = core.handle(pre_prepare(&net, 0, &stray));
    assert_eq!(refusals(&out), vec![Reject::WrongParent]);
    assert!(!validates(&out, &stray));

    // Nothing accepted at 1 yet: held for its height, not executed, then taken there. The
    // primary proposing ahead has not committed 1: no sync from it (which would also hold
    // back the sync a COMMIT quorum for an unknown block needs).
    let mut core = pipelined(&net, 1, 2);
    let syncs = |out: &[Output]| {
        out.iter()
            .filter(|o| matches!(o, Output::SyncNeeded { .. }))
            .count()
    };
    let out = core.handle(pre_prepare(&net, 0, &b2));
    assert!(
        !validates(&out, &b2) && refusals(&out).is_empty(),
        "{out:?}"
    );
    assert_eq!(syncs(&out), 0, "{out:?}");
    let mut out = Vec::new();
    for i in [0, 2, 3] {
        out.extend(core.handle(Input::Message(vote(&net, i, Phase::Commit, 1, b1.hash()))));
    }
    assert_eq!(
        syncs(&out),
        1,
        "a quorum committed a block this replica lacks: {out:?}"
    );
    // The block arrives: executed, then committed on the COMMITs already in.
    core.handle(pre_prepare(&net, 0, &b1));
    let out = core.handle(valid(&b1));
    assert!(has_commit(&out).is_some(), "{out:?}");
    let out = core.resume();
    assert!(validates(&out, &b2), "{out:?}");
}

#[test]
fn a_slot_signed_above_the_height_stays_signed_after_a_restart() {
    let net = Net::new(4);
    let b1 = child(&net, 1, Hash::ZERO, 1);
    let first = child(&net, 2, b1.hash(), 2);
    let second = child(&net, 2, b1.hash(), 3);
    // Before the crash the replica prepared `first` at (2, view 0).
    let wal = vec![WalEntry::Signed(
        Vote {
            view: 0,
            height: 2,
            block_hash: first.hash(),
        }
        .statement(Phase::Prepare),
    )];
    let mut cfg = net.config(1);
    cfg.pipeline = 2;
    let mut core = Core::restore(cfg, 1, Hash::ZERO, 0, &wal);
    core.start();
    core.handle(pre_prepare(&net, 0, &b1));
    core.handle(valid(&b1));
    // An equivocating primary now offers another block at (2, view 0): executed, not voted.
    let out = core.handle(pre_prepare(&net, 0, &second));
    assert!(validates(&out, &second), "{out:?}");
    let out = core.handle(valid(&second));
    assert!(
        sent(&out).is_empty(),
        "a second PREPARE for one slot: {out:?}"
    );
}

#[test]
fn the_primary_proposes_ahead_within_the_pipeline() {
    let net = Net::new(4);
    let mut core = pipelined(&net, 0, 2);
    let requests = |out: &[Output]| -> Vec<(u64, Hash)> {
        out.iter()
            .filter_map(|o| match o {
                Output::RequestProposal {
                    height,
                    parent_hash,
                    ..
                } => Some((*height, *parent_hash)),
                _ => None,
            })
            .collect()
    };
    let b1 = child(&net, 1, Hash::ZERO, 1);
    let b2 = child(&net, 2, b1.hash(), 2);
    let b3 = child(&net, 3, b2.hash(), 3);
    let b4 = child(&net, 4, b3.hash(), 4);
    let out = core.handle(Input::Proposal(b1.clone()));
    assert_eq!(sent(&out), vec![(Phase::PrePrepare, 1)]);
    assert_eq!(requests(&out), vec![(2, b1.hash())]);
    let out = core.handle(Input::Proposal(b2.clone()));
    assert_persist_before_send(&out);
    assert_eq!(sent(&out), vec![(Phase::PrePrepare, 2)]);
    assert_eq!(requests(&out), vec![(3, b2.hash())]);
    let out = core.handle(Input::Proposal(b3.clone()));
    assert_eq!(sent(&out), vec![(Phase::PrePrepare, 3)]);
    assert!(
        requests(&out).is_empty(),
        "heights 2 and 3 are the pipeline"
    );
    // Unasked: nothing.
    let out = core.handle(Input::Proposal(b4));
    assert!(sent(&out).is_empty(), "{out:?}");
    // Height 1 commits: the window moves and height 4 is asked for.
    for i in [1, 2] {
        core.handle(Input::Message(vote(&net, i, Phase::Prepare, 1, b1.hash())));
    }
    let mut out = Vec::new();
    for i in [1, 2] {
        out.extend(core.handle(Input::Message(vote(&net, i, Phase::Commit, 1, b1.hash()))));
    }
    assert!(has_commit(&out).is_some());
    let out = core.resume();
    assert_eq!(requests(&out), vec![(4, b3.hash())]);
}

#[test]
fn nothing_is_taken_ahead_across_a_validator_set_change_or_while_changing_views() {
    let net = Net::new(4);
    let b1 = child(&net, 1, Hash::ZERO, 1);
    let b2 = child(&net, 2, b1.hash(), 2);

    let mut core = pipelined(&net, 1, 2);
    core.schedule_validators(2, net.set.clone());
    core.handle(pre_prepare(&net, 0, &b1));
    core.handle(valid(&b1));
    let out = core.handle(pre_prepare(&net, 0, &b2));
    assert!(!validates(&out, &b2), "a set change at 2: {out:?}");

    let mut core = pipelined(&net, 1, 2);
    core.handle(pre_prepare(&net, 0, &b1));
    core.handle(valid(&b1));
    let timeout = core
        .handle(Input::Timeout(phalanx_consensus::Timeout {
            height: 1,
            view: 0,
            seq: 1,
        }))
        .iter()
        .any(|o| matches!(o, Output::Broadcast(m) if m.body.phase() == Phase::ViewChange));
    assert!(timeout, "the replica left view 0");
    let out = core.handle(pre_prepare(&net, 0, &b2));
    assert!(!validates(&out, &b2), "changing views: {out:?}");
}
