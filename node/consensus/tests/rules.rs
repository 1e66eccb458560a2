//! Table-driven tests of each pBFT rule on a single core, with hand-made inputs.

use phalanx_consensus::{Config, Core, Input, Output, Timeout, WalEntry};
use phalanx_types::consensus::{
    ConsensusMessage, NewView, Phase, PrePrepare, PreparedCertificate, Signed, SignedMessage,
    ViewChange, Vote, VoteSignature,
};
use phalanx_types::{Block, Hash, Header, SecretKey, Validator, ValidatorSet};

const CHAIN: &str = "rules";

struct Net {
    keys: Vec<SecretKey>,
    set: ValidatorSet,
}

impl Net {
    fn new(n: usize) -> Net {
        let keys: Vec<SecretKey> = (0..n)
            .map(|i| SecretKey::from_seed([i as u8 + 1; 32]))
            .collect();
        let set = ValidatorSet::new(
            keys.iter()
                .map(|k| Validator::new(k.public_key(), "p"))
                .collect(),
        );
        Net { keys, set }
    }

    fn core(&self, i: usize) -> Core {
        let mut cfg = Config::new(CHAIN, self.set.clone(), Some(self.keys[i].clone()));
        cfg.base_timeout_ms = 100;
        cfg.max_timeout_ms = 800;
        Core::new(cfg, 1, Hash::ZERO, 0)
    }

    fn block(&self, proposer: usize, ts: u64) -> Block {
        Block {
            header: Header {
                chain_id: CHAIN.into(),
                height: 1,
                parent_hash: Hash::ZERO,
                timestamp_ms: ts,
                proposer: self.keys[proposer].address(),
                tx_root: Block::compute_tx_root(&[]),
                state_root: Hash::ZERO,
                receipts_root: Hash::ZERO,
                validators_hash: self.set.hash(),
            },
            txs: vec![],
        }
    }

    fn pre_prepare(&self, signer: usize, view: u64, block: &Block) -> SignedMessage {
        ConsensusMessage::PrePrepare(PrePrepare {
            view,
            height: 1,
            block: block.clone(),
        })
        .sign(CHAIN, &self.keys[signer])
    }

    fn vote(&self, signer: usize, commit: bool, view: u64, hash: Hash) -> SignedMessage {
        let v = Vote {
            view,
            height: 1,
            block_hash: hash,
        };
        let m = if commit {
            ConsensusMessage::Commit(v)
        } else {
            ConsensusMessage::Prepare(v)
        };
        m.sign(CHAIN, &self.keys[signer])
    }

    fn prepared_cert(
        &self,
        view: u64,
        block: &Block,
        primary: usize,
        voters: &[usize],
    ) -> PreparedCertificate {
        let pp = Signed::new(
            PrePrepare {
                view,
                height: 1,
                block: block.clone(),
            },
            CHAIN,
            &self.keys[primary],
        );
        let vote = ConsensusMessage::Prepare(Vote {
            view,
            height: 1,
            block_hash: block.hash(),
        });
        PreparedCertificate {
            pre_prepare: pp,
            prepares: self.vote_signatures(&vote, voters),
        }
    }

    fn vote_signatures(&self, vote: &ConsensusMessage, signers: &[usize]) -> Vec<VoteSignature> {
        signers
            .iter()
            .map(|i| VoteSignature {
                validator: self.keys[*i].address(),
                signature: self.keys[*i].sign(&vote.signing_hash(CHAIN).0),
            })
            .collect()
    }

    fn commit_cert(&self, block: &Block, signers: &[usize]) -> phalanx_types::CommitCertificate {
        let vote = ConsensusMessage::Commit(Vote {
            view: 0,
            height: block.height(),
            block_hash: block.hash(),
        });
        phalanx_types::CommitCertificate {
            height: block.height(),
            view: 0,
            block_hash: block.hash(),
            signatures: self.vote_signatures(&vote, signers),
        }
    }

    fn view_change(
        &self,
        signer: usize,
        view: u64,
        prepared: Option<PreparedCertificate>,
    ) -> Signed<ViewChange> {
        Signed::new(
            ViewChange {
                view,
                height: 1,
                prepared,
            },
            CHAIN,
            &self.keys[signer],
        )
    }
}

fn broadcasts(out: &[Output]) -> Vec<&ConsensusMessage> {
    out.iter()
        .filter_map(|o| match o {
            Output::Broadcast(m) => Some(&m.body),
            _ => None,
        })
        .collect()
}

fn has_commit(out: &[Output]) -> Option<&phalanx_types::CommitCertificate> {
    out.iter().find_map(|o| match o {
        Output::Commit { certificate, .. } => Some(certificate),
        _ => None,
    })
}

/// Each persist comes before the broadcast of what it records.
fn assert_persist_before_send(out: &[Output]) {
    for (i, o) in out.iter().enumerate() {
        if let Output::Broadcast(m) = o {
            let persisted = out[..i].iter().any(|p| {
                matches!(p, Output::Persist(WalEntry::Signed { view, phase, .. })
                    if *view == m.body.view() && *phase == m.body.phase())
            });
            assert!(
                persisted,
                "broadcast of {:?} without a prior persist",
                m.body.phase()
            );
        }
    }
}

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
        valid: true,
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
            .any(|o| matches!(o, Output::Persist(WalEntry::Prepared(_))))
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
        valid: false,
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
    let mut far = Block { ..block.clone() };
    far.header.height = 1_000;
    let cases: Vec<(&str, SignedMessage)> = vec![
        (
            "pre-prepare from a non-primary",
            net.pre_prepare(2, 0, &block),
        ),
        ("vote with a bad signature", bad_sig),
        (
            "vote from a non-validator",
            ConsensusMessage::Prepare(Vote {
                view: 0,
                height: 1,
                block_hash: h,
            })
            .sign(CHAIN, &outsider),
        ),
        (
            "vote signed for another chain",
            ConsensusMessage::Prepare(Vote {
                view: 0,
                height: 1,
                block_hash: h,
            })
            .sign("other", &net.keys[2]),
        ),
        (
            "message beyond the watermark window",
            ConsensusMessage::Prepare(Vote {
                view: 0,
                height: 1_000,
                block_hash: h,
            })
            .sign(CHAIN, &net.keys[2]),
        ),
        (
            "pre-prepare for a future view without NEW-VIEW",
            net.pre_prepare(1, 1, &block),
        ),
    ];
    for (name, msg) in cases {
        let mut core = net.core(3);
        core.start();
        let out = core.handle(Input::Message(msg));
        assert!(out.is_empty(), "{name}: {out:?}");
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
        valid: true,
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
    assert_eq!(
        vc.prepared
            .as_ref()
            .map(|p| p.pre_prepare.body.block.hash()),
        Some(h)
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
        net.view_change(2, 1, Some(cert)).into_message(),
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
    let vcs = vec![
        net.view_change(0, 1, None),
        net.view_change(1, 1, None),
        net.view_change(3, 1, Some(cert)),
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
    assert!(out.is_empty(), "{out:?}");
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
    let signed_before = WalEntry::Signed {
        height: 1,
        view: 0,
        phase: Phase::Prepare,
        block_hash: Some(Hash([9; 32])),
    };
    let mut core = Core::restore(cfg, 1, Hash::ZERO, 0, &[signed_before]);
    core.start();
    let block = net.block(0, 1);
    core.handle(Input::Message(net.pre_prepare(0, 0, &block)));
    let out = core.handle(Input::BlockValidated {
        height: 1,
        block_hash: block.hash(),
        valid: true,
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
    let wal = [WalEntry::Signed {
        height: 1,
        view: 2,
        phase: Phase::ViewChange,
        block_hash: None,
    }];
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
    assert!(
        has_commit(&core.handle(Input::Decided {
            block: block.clone(),
            certificate: weak
        }))
        .is_none()
    );
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
    assert!(core.handle(Input::Message(later(1))).is_empty());
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
        out,
        vec![Output::PeerBehind {
            peer: net.keys[2].address(),
            height: 1
        }]
    );
    assert!(
        core.handle(Input::Message(stale)).is_empty(),
        "once per peer and height"
    );
    let mut forged = net.vote(1, false, 0, Hash([1; 32]));
    forged.signature.0[0] ^= 1;
    assert!(
        core.handle(Input::Message(forged)).is_empty(),
        "forged messages get no help"
    );
}
