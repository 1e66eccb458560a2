//! Table-driven tests of each pBFT rule on a single core, with hand-made inputs.

mod common;

use common::*;
use phalanx_consensus::{Config, Core, Input, Output, Reject, Timeout, Verdict, WalEntry};
use phalanx_types::consensus::{
    ConsensusMessage, NewView, Phase, PrePrepare, Signed, Statement, Vote,
};
use phalanx_types::{Hash, SecretKey};

#[test]
fn single_validator_commits_its_own_proposal() {
    let net = Net::new(1);
    let mut core = net.core(0);
    let out = core.start();
    assert!(out.iter().any(|o| matches!(
        o,
        Output::RequestProposal {
            view: 0,
            height: 1,
            ..
        }
    )));
    let block = net.block(0, 1);
    let out = core.handle(Input::Proposal(block.clone()));
    assert_persist_before_send(&out);
    let cert = has_commit(&out).expect("n = 1 commits at once");
    assert_eq!(cert.block_hash, block.hash());
    assert!(cert.verify(CHAIN, &net.set).is_ok());
    assert_eq!(core.status().height, 2);
    // And asks for the next block.
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::RequestProposal { height: 2, .. }))
    );
}

#[test]
fn normal_case_pre_prepare_prepare_commit() {
    let net = Net::new(4);
    let mut core = net.core(1);
    core.start();
    let block = net.block(0, 1);
    let h = block.hash();
    // PRE-PREPARE from the primary: validate first.
    let out = core.handle(Input::Message(net.pre_prepare(0, 0, &block)));
    assert!(matches!(out.as_slice(), [Output::ValidateBlock { .. }]));
    // Valid: PREPARE.
    let out = core.handle(Input::BlockValidated {
        height: 1,
        block_hash: h,
        verdict: Verdict::Valid,
    });
    assert_persist_before_send(&out);
    assert!(
        matches!(broadcasts(&out).as_slice(), [ConsensusMessage::Prepare(v)] if v.block_hash == h)
    );
    // One more PREPARE (with ours, 2f = 2 from backups): prepared, then COMMIT.
    let out = core.handle(Input::Message(net.vote(2, false, 0, h)));
    assert_persist_before_send(&out);
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Persist(WalEntry::Prepared { .. })))
    );
    assert!(matches!(
        broadcasts(&out).as_slice(),
        [ConsensusMessage::Commit(_)]
    ));
    // A PREPARE from the primary does not count towards 2f (its PRE-PREPARE does).
    // COMMITs: ours + 2 = 2f+1.
    let out = core.handle(Input::Message(net.vote(2, true, 0, h)));
    assert!(has_commit(&out).is_none());
    let out = core.handle(Input::Message(net.vote(3, true, 0, h)));
    let cert = has_commit(&out).expect("2f+1 commits");
    assert_eq!(cert.signatures.len(), 3);
    assert!(cert.verify(CHAIN, &net.set).is_ok());
    assert_eq!(core.status().height, 2);
}

/// The voters a commit reports (for the node's missed-vote counters).
fn commit_voters(out: &[Output]) -> Option<Option<Vec<phalanx_types::Address>>> {
    out.iter().find_map(|o| match o {
        Output::Commit { voters, .. } => Some(voters.clone()),
        _ => None,
    })
}

#[test]
fn a_commit_names_the_validators_whose_votes_arrived() {
    let net = Net::new(4);
    let mut core = net.core(1);
    core.start();
    let block = net.block(0, 1);
    let h = block.hash();
    core.handle(Input::Message(net.pre_prepare(0, 0, &block)));
    core.handle(Input::BlockValidated {
        height: 1,
        block_hash: h,
        verdict: Verdict::Valid,
    });
    core.handle(Input::Message(net.vote(2, false, 0, h)));
    core.handle(Input::Message(net.vote(0, true, 0, h)));
    // Validator 3 stays silent.
    let out = core.handle(Input::Message(net.vote(2, true, 0, h)));
    let mut expected = vec![net.address(0), net.address(1), net.address(2)];
    expected.sort();
    assert_eq!(commit_voters(&out), Some(Some(expected)));
    // A block that arrives by sync says nothing of who voted.
    let mut behind = net.core(3);
    behind.start();
    let out = behind.handle(Input::Decided {
        block: net.block(0, 1),
        certificate: net.commit_cert(&net.block(0, 1), &[0, 1, 2]),
    });
    assert_eq!(commit_voters(&out), Some(None));
}

#[test]
fn invalid_block_gets_no_prepare() {
    let net = Net::new(4);
    let mut core = net.core(1);
    core.start();
    let block = net.block(0, 1);
    core.handle(Input::Message(net.pre_prepare(0, 0, &block)));
    let out = core.handle(Input::BlockValidated {
        height: 1,
        block_hash: block.hash(),
        verdict: Verdict::Invalid,
    });
    assert!(broadcasts(&out).is_empty());
}

#[test]
fn rejected_inputs_produce_nothing() {
    let net = Net::new(4);
    let outsider = SecretKey::from_seed([99; 32]);
    let block = net.block(0, 1);
    let h = block.hash();
    let mut bad_sig = net.vote(2, false, 0, h);
    bad_sig.signature.0[0] ^= 1;
    let cases: Vec<(&str, phalanx_types::consensus::SignedMessage, Reject)> = vec![
        (
            "pre-prepare from a non-primary",
            net.pre_prepare(2, 0, &block),
            Reject::NotPrimary,
        ),
        ("vote with a bad signature", bad_sig, Reject::BadSignature),
        (
            "vote from a non-validator",
            ConsensusMessage::Prepare(Vote {
                view: 0,
                height: 1,
                block_hash: h,
            })
            .sign(CHAIN, &outsider),
            Reject::NotValidator,
        ),
        (
            "vote signed for another chain",
            ConsensusMessage::Prepare(Vote {
                view: 0,
                height: 1,
                block_hash: h,
            })
            .sign("other", &net.keys[2]),
            Reject::BadSignature,
        ),
        (
            "message beyond the watermark window",
            ConsensusMessage::Prepare(Vote {
                view: 0,
                height: 1_000,
                block_hash: h,
            })
            .sign(CHAIN, &net.keys[2]),
            Reject::BeyondWindow,
        ),
        (
            "pre-prepare for a future view without NEW-VIEW",
            net.pre_prepare(1, 1, &block),
            Reject::WrongView,
        ),
        (
            "vote far beyond the view lookahead",
            net.vote(2, false, 1_000, h),
            Reject::ViewTooFar,
        ),
        (
            "message signed with the replica's own key",
            net.vote(3, false, 0, h),
            Reject::OwnMessage,
        ),
    ];
    for (name, msg, reason) in cases {
        let mut core = net.core(3);
        core.start();
        let out = core.handle(Input::Message(msg));
        assert_eq!(refusals(&out), vec![reason], "{name}");
        if reason == Reject::BeyondWindow {
            // A validator that far ahead shows this replica must sync (once).
            assert!(
                matches!(acts(&out).as_slice(), [Output::SyncNeeded { .. }]),
                "{name}: {out:?}"
            );
        } else {
            assert!(acts(&out).is_empty(), "{name}: {out:?}");
        }
    }
}

#[test]
fn equivocation_produces_evidence_once() {
    let net = Net::new(4);
    let mut core = net.core(1);
    core.start();
    core.handle(Input::Message(net.vote(2, false, 0, Hash([1; 32]))));
    let out = core.handle(Input::Message(net.vote(2, false, 0, Hash([2; 32]))));
    let ev: Vec<_> = out
        .iter()
        .filter(|o| matches!(o, Output::Evidence(_)))
        .collect();
    assert_eq!(ev.len(), 1);
    if let Output::Evidence(e) = ev[0] {
        assert_eq!(e.offender(), net.keys[2].address());
        assert!(e.verify(CHAIN, &net.set).is_ok());
    }
    let out = core.handle(Input::Message(net.vote(2, false, 0, Hash([3; 32]))));
    assert!(out.iter().all(|o| !matches!(o, Output::Evidence(_))));
    // A primary sending two different PRE-PREPAREs for one view.
    core.handle(Input::Message(net.pre_prepare(0, 0, &net.block(0, 1))));
    let out = core.handle(Input::Message(net.pre_prepare(0, 0, &net.block(0, 2))));
    assert!(out.iter().any(|o| matches!(o, Output::Evidence(_))));
}

#[test]
fn timeout_starts_view_change_with_prepared_certificate() {
    let net = Net::new(4);
    let mut core = net.core(1);
    core.start();
    let block = net.block(0, 1);
    let h = block.hash();
    core.handle(Input::Message(net.pre_prepare(0, 0, &block)));
    core.handle(Input::BlockValidated {
        height: 1,
        block_hash: h,
        verdict: Verdict::Valid,
    });
    core.handle(Input::Message(net.vote(2, false, 0, h)));
    // Prepared, but commits never arrive.
    let out = core.handle(Input::Timeout(Timeout {
        height: 1,
        view: 0,
        seq: 0,
    }));
    assert_persist_before_send(&out);
    let vcs: Vec<_> = broadcasts(&out);
    let [ConsensusMessage::ViewChange(vc)] = vcs.as_slice() else {
        panic!("expected one VIEW-CHANGE, got {out:?}");
    };
    assert_eq!(vc.view, 1);
    assert_eq!(vc.prepared.as_ref().map(|p| p.block_hash), Some(h));
    assert_eq!(
        vc.block.as_ref().map(|b| b.hash()),
        Some(h),
        "the VIEW-CHANGE carries the prepared block for the next primary"
    );
    // The next timer is for view 1 and twice as long.
    assert!(out.iter().any(|o| matches!(
        o,
        Output::ScheduleTimeout {
            timeout: Timeout { view: 1, .. },
            after_ms: 200
        }
    )));
    // Stale timers are ignored.
    assert!(
        core.handle(Input::Timeout(Timeout {
            height: 1,
            view: 0,
            seq: 0
        }))
        .is_empty()
    );
}

#[test]
fn new_primary_re_proposes_the_prepared_block() {
    let net = Net::new(4);
    // Replica 1 is the primary of view 1.
    let mut core = net.core(1);
    core.start();
    let block = net.block(0, 7);
    let cert = net.prepared_cert(0, &block, 0, &[2, 3]);
    core.handle(Input::Timeout(Timeout {
        height: 1,
        view: 0,
        seq: 0,
    }));
    core.handle(Input::Message(
        net.view_change(2, 1, Some((cert, block.clone())))
            .into_message(),
    ));
    let out = core.handle(Input::Message(net.view_change(3, 1, None).into_message()));
    let nv = broadcasts(&out)
        .into_iter()
        .find_map(|m| match m {
            ConsensusMessage::NewView(nv) => Some(nv.clone()),
            _ => None,
        })
        .expect("NEW-VIEW after 2f+1 view changes");
    assert_eq!(nv.view, 1);
    assert_eq!(
        nv.pre_prepare.body.block.hash(),
        block.hash(),
        "must re-propose the prepared block"
    );
    assert_eq!(core.status().view, 1);
    assert_eq!(core.status().changing_to, None);
}

#[test]
fn new_view_that_ignores_a_prepared_block_is_rejected() {
    let net = Net::new(4);
    let mut core = net.core(2);
    core.start();
    let prepared_block = net.block(0, 7);
    let other = net.block(1, 8);
    let cert = net.prepared_cert(0, &prepared_block, 0, &[2, 3]);
    let with_block = net.view_change(3, 1, Some((cert, prepared_block.clone())));
    // A NEW-VIEW carries its VIEW-CHANGEs without blocks (the signature does not cover it).
    let mut carried = with_block.clone();
    carried.body.block = None;
    let vcs = vec![
        net.view_change(0, 1, None),
        net.view_change(1, 1, None),
        carried,
    ];
    let bad = NewView {
        view: 1,
        height: 1,
        view_changes: vcs.clone(),
        pre_prepare: Signed::new(
            PrePrepare {
                view: 1,
                height: 1,
                block: other.clone(),
            },
            CHAIN,
            &net.keys[1],
        ),
    };
    let out = core.handle(Input::Message(
        ConsensusMessage::NewView(bad).sign(CHAIN, &net.keys[1]),
    ));
    assert!(acts(&out).is_empty(), "{out:?}");
    assert_eq!(refusals(&out), vec![Reject::InvalidNewView]);
    assert_eq!(core.status().view, 0);
    // The honest NEW-VIEW is accepted and its block validated.
    let good = NewView {
        view: 1,
        height: 1,
        view_changes: vcs,
        pre_prepare: Signed::new(
            PrePrepare {
                view: 1,
                height: 1,
                block: prepared_block.clone(),
            },
            CHAIN,
            &net.keys[1],
        ),
    };
    let out = core.handle(Input::Message(
        ConsensusMessage::NewView(good).sign(CHAIN, &net.keys[1]),
    ));
    assert!(out.iter().any(
        |o| matches!(o, Output::ValidateBlock { block } if block.hash() == prepared_block.hash())
    ));
    assert_eq!(core.status().view, 1);
}

#[test]
fn f_plus_one_view_changes_pull_a_replica_forward() {
    let net = Net::new(4);
    let mut core = net.core(3);
    core.start();
    let out = core.handle(Input::Message(net.view_change(0, 3, None).into_message()));
    assert!(broadcasts(&out).is_empty(), "one view change is not enough");
    let out = core.handle(Input::Message(net.view_change(1, 5, None).into_message()));
    let vcs = broadcasts(&out);
    assert!(
        matches!(vcs.as_slice(), [ConsensusMessage::ViewChange(vc)] if vc.view == 3),
        "joins the smallest view f+1 replicas reached: {out:?}"
    );
}

#[test]
fn restored_replica_never_signs_a_conflicting_vote() {
    let net = Net::new(4);
    let mut cfg = Config::new(CHAIN, net.set.clone(), Some(net.keys[1].clone()));
    cfg.base_timeout_ms = 100;
    let signed_before = WalEntry::Signed(Statement {
        height: 1,
        view: 0,
        phase: Phase::Prepare,
        digest: Hash([9; 32]),
    });
    let mut core = Core::restore(cfg, 1, Hash::ZERO, 0, &[signed_before]);
    core.start();
    let block = net.block(0, 1);
    core.handle(Input::Message(net.pre_prepare(0, 0, &block)));
    let out = core.handle(Input::BlockValidated {
        height: 1,
        block_hash: block.hash(),
        verdict: Verdict::Valid,
    });
    assert!(
        broadcasts(&out).is_empty(),
        "signed a PREPARE conflicting with the WAL: {out:?}"
    );
}

#[test]
fn restored_replica_resumes_its_view_change() {
    let net = Net::new(4);
    let cfg = Config::new(CHAIN, net.set.clone(), Some(net.keys[1].clone()));
    let digest = phalanx_types::consensus::ViewChange {
        view: 2,
        height: 1,
        prepared: None,
        block: None,
    }
    .digest();
    let wal = [WalEntry::Signed(Statement {
        height: 1,
        view: 2,
        phase: Phase::ViewChange,
        digest,
    })];
    let mut core = Core::restore(cfg, 1, Hash::ZERO, 0, &wal);
    let out = core.start();
    assert!(
        matches!(broadcasts(&out).as_slice(), [ConsensusMessage::ViewChange(vc)] if vc.view == 2)
    );
    assert_eq!(core.status().changing_to, Some(2));
}

#[test]
fn decided_block_needs_a_valid_certificate() {
    let net = Net::new(4);
    let block = net.block(0, 1);
    let weak = net.commit_cert(&block, &[0, 1]);
    let mut core = net.core(3);
    core.start();
    let out = core.handle(Input::Decided {
        block: block.clone(),
        certificate: weak,
    });
    assert!(has_commit(&out).is_none());
    assert_eq!(refusals(&out), vec![Reject::InvalidCertificate]);
    let good = net.commit_cert(&block, &[0, 1, 2]);
    assert!(
        has_commit(&core.handle(Input::Decided {
            block,
            certificate: good
        }))
        .is_some()
    );
    assert_eq!(core.status().height, 2);
}

#[test]
fn buffered_future_messages_trigger_sync_and_replay() {
    let net = Net::new(4);
    let mut core = net.core(3);
    core.start();
    let later = |i: usize| {
        ConsensusMessage::Prepare(Vote {
            view: 0,
            height: 3,
            block_hash: Hash([5; 32]),
        })
        .sign(CHAIN, &net.keys[i])
    };
    let out = core.handle(Input::Message(later(0)));
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::SyncNeeded { from_height: 1, peers } if peers.len() == 1)),
        "a validator ahead: {out:?}"
    );
    // Throttled: no second request until a timeout.
    assert!(acts(&core.handle(Input::Message(later(1)))).is_empty());
    let out = core.handle(Input::Timeout(Timeout {
        height: 1,
        view: 0,
        seq: 0,
    }));
    assert!(out.iter().any(|o| matches!(o, Output::SyncNeeded { .. })));
}

#[test]
fn timeouts_grow_and_are_capped() {
    let net = Net::new(4);
    let mut cfg = Config::new(CHAIN, net.set.clone(), None);
    cfg.base_timeout_ms = 1_000;
    cfg.max_timeout_ms = 10_000;
    let got: Vec<u64> = (0..8).map(|k| cfg.timeout_ms(k)).collect();
    assert_eq!(
        got,
        vec![1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000, 10_000]
    );
    assert_eq!(cfg.timeout_ms(u32::MAX), 10_000);
}

#[test]
fn view_change_timer_waits_for_a_quorum_of_view_changes() {
    let net = Net::new(4);
    let mut core = net.core(2);
    core.start();
    core.handle(Input::Timeout(Timeout {
        height: 1,
        view: 0,
        seq: 0,
    }));
    // No 2f+1 VIEW-CHANGEs for view 1 yet: re-send ours, stay on view 1.
    let out = core.handle(Input::Timeout(Timeout {
        height: 1,
        view: 1,
        seq: 0,
    }));
    assert!(
        matches!(broadcasts(&out).as_slice(), [ConsensusMessage::ViewChange(vc)] if vc.view == 1)
    );
    assert_eq!(core.status().changing_to, Some(1));
    // With 2f+1 for view 1 and still no NEW-VIEW, the timer moves to view 2.
    core.handle(Input::Message(net.view_change(0, 1, None).into_message()));
    let out = core.handle(Input::Message(net.view_change(3, 1, None).into_message()));
    // The quorum restarts the timer: the earlier one is stale now.
    let restarted = out
        .iter()
        .find_map(|o| match o {
            Output::ScheduleTimeout { timeout, .. } if timeout.view == 1 => Some(*timeout),
            _ => None,
        })
        .expect("the view-change timer restarts at the quorum");
    let stale = Timeout {
        seq: restarted.seq - 1,
        ..restarted
    };
    assert!(core.handle(Input::Timeout(stale)).is_empty());
    let out = core.handle(Input::Timeout(restarted));
    assert!(
        matches!(broadcasts(&out).as_slice(), [ConsensusMessage::ViewChange(vc)] if vc.view == 2)
    );
}

/// A timer armed while changing views does not cut the new view short: the view gets a
/// whole timeout from the NEW-VIEW on.
#[test]
fn timers_armed_during_a_view_change_are_stale_in_the_new_view() {
    let net = Net::new(4);
    let mut core = net.core(3);
    core.start();
    let out = core.handle(Input::Timeout(Timeout {
        height: 1,
        view: 0,
        seq: 0,
    }));
    let armed: Vec<Timeout> = out
        .iter()
        .filter_map(|o| match o {
            Output::ScheduleTimeout { timeout, .. } if timeout.view == 1 => Some(*timeout),
            _ => None,
        })
        .collect();
    assert!(!armed.is_empty());
    // Replica 1 leads view 1; its NEW-VIEW arrives.
    let nv = NewView {
        view: 1,
        height: 1,
        view_changes: [0, 1, 2]
            .iter()
            .map(|i| net.view_change(*i, 1, None))
            .collect(),
        pre_prepare: net.signed_pre_prepare(1, 1, &net.block(1, 3)),
    };
    core.handle(Input::Message(
        ConsensusMessage::NewView(nv).sign(CHAIN, &net.keys[1]),
    ));
    assert_eq!(core.status().view, 1);
    for t in armed {
        let out = core.handle(Input::Timeout(t));
        assert!(acts(&out).is_empty(), "{t:?}: {out:?}");
        assert_eq!(core.status().changing_to, None);
    }
}

#[test]
fn lagging_peer_is_offered_committed_blocks_once() {
    let net = Net::new(4);
    let block = net.block(0, 1);
    let cert = net.commit_cert(&block, &[0, 1, 2]);
    let mut core = net.core(3);
    core.start();
    core.handle(Input::Decided {
        block,
        certificate: cert,
    });
    let stale = net.vote(2, false, 0, Hash([1; 32]));
    let out = core.handle(Input::Message(stale.clone()));
    assert_eq!(
        acts(&out),
        vec![&Output::PeerBehind {
            peer: net.keys[2].address(),
            height: 1
        }]
    );
    assert!(
        acts(&core.handle(Input::Message(stale))).is_empty(),
        "once per peer and height"
    );
    let mut forged = net.vote(1, false, 0, Hash([1; 32]));
    forged.signature.0[0] ^= 1;
    assert!(
        acts(&core.handle(Input::Message(forged))).is_empty(),
        "forged messages get no help"
    );
}
