//! Regression tests for the holes of issue 17: each one failed on the first round's core.

mod common;

use common::*;
use phalanx_consensus::{Core, Input, Output, Reject, Timeout, Verdict, WalEntry};
use phalanx_types::consensus::{ConsensusMessage, NewView, Phase, SignedMessage, Vote};
use phalanx_types::{CheckedBlock, Hash, decode, encode, encoded_len};

/// A NEW-VIEW for `view` by its primary with VIEW-CHANGEs of `signers` (none prepared) and a
/// fresh block.
fn new_view(net: &Net, view: u64, signers: &[usize], block: &CheckedBlock) -> SignedMessage {
    let primary = (view % net.keys.len() as u64) as usize;
    let nv = NewView {
        view,
        height: 1,
        view_changes: signers
            .iter()
            .map(|i| net.view_change(*i, view, None))
            .collect(),
        pre_prepare: net.signed_pre_prepare(primary, view, block),
    };
    ConsensusMessage::NewView(nv).sign(CHAIN, &net.keys[primary])
}

// ---------------------------------------------------------------- hole 1: body swaps

#[test]
fn hole1_a_pre_prepare_with_another_body_does_not_decode() {
    let net = Net::new(4);
    let block = net.block_with(0, 1, vec![tx(1), tx(2)]);
    let honest = net.pre_prepare(0, 0, &block);
    assert_eq!(
        decode::<SignedMessage>(&encode(&honest)),
        Ok(honest.clone())
    );
    // Same header, same signature, other transactions: the body swap of a Byzantine
    // primary (or relayer). It never becomes a message, so it can never be validated, fail,
    // and poison the verdict of the honest block.
    for txs in [
        vec![tx(1)],
        vec![tx(2), tx(1)],
        vec![],
        vec![tx(1), tx(2), tx(3)],
    ] {
        let swapped = phalanx_types::attacks::pre_prepare_with_body(&honest, txs).unwrap();
        let err = decode::<SignedMessage>(&swapped).unwrap_err();
        assert!(err.to_string().contains("tx root"), "{err}");
    }
}

#[test]
fn hole1_a_view_change_cannot_carry_another_block() {
    let net = Net::new(4);
    let prepared = net.block_with(0, 1, vec![tx(1)]);
    let other = net.block_with(0, 2, vec![tx(2)]);
    let cert = net.prepared_cert(0, &prepared, 0, &[1, 2]);
    let mut core = net.core(1);
    core.start();
    // The certificate names one block; the VIEW-CHANGE carries another (a valid one).
    let forged = net.view_change(2, 1, Some((cert.clone(), other)));
    let out = core.handle(Input::Message(forged.into_message()));
    assert_eq!(refusals(&out), vec![Reject::Malformed]);
    // Or none at all: the next primary could not re-propose what it names.
    let mut bare = net.view_change(3, 1, Some((cert.clone(), prepared.clone())));
    bare.body.block = None;
    let out = core.handle(Input::Message(bare.into_message()));
    assert_eq!(refusals(&out), vec![Reject::Malformed]);
    // The honest one is kept, and the new primary (replica 1) re-proposes its block (it
    // joins view 1 with f+1 VIEW-CHANGEs and leads it).
    let mut out = core.handle(Input::Message(
        net.view_change(2, 1, Some((cert, prepared.clone())))
            .into_message(),
    ));
    out.extend(core.handle(Input::Message(net.view_change(3, 1, None).into_message())));
    let nv = broadcasts(&out)
        .into_iter()
        .find_map(|m| match m {
            ConsensusMessage::NewView(nv) => Some(nv.clone()),
            _ => None,
        })
        .expect("a NEW-VIEW");
    assert_eq!(nv.pre_prepare.body.block.hash(), prepared.hash());
    assert!(nv.view_changes.iter().all(|vc| vc.body.block.is_none()));
}

#[test]
fn hole1_a_refused_block_is_executed_again_when_refused_for_the_clock_only() {
    let net = Net::new(4);
    let mut core = net.core(2);
    core.start();
    let block = net.block(0, 5);
    core.handle(Input::Message(net.pre_prepare(0, 0, &block)));
    // Ahead of this node's clock: not remembered.
    core.handle(Input::BlockValidated {
        height: 1,
        block_hash: block.hash(),
        verdict: Verdict::NotYet,
    });
    // The same block re-proposed in view 1 (inside a NEW-VIEW) is executed again, and voted.
    let out = core.handle(Input::Message(new_view(&net, 1, &[0, 1, 3], &block)));
    assert!(
        acts(&out)
            .iter()
            .any(|o| matches!(o, Output::ValidateBlock { block: b } if b.hash() == block.hash())),
        "{out:?}"
    );
    let out = core.handle(Input::BlockValidated {
        height: 1,
        block_hash: block.hash(),
        verdict: Verdict::Valid,
    });
    assert!(matches!(broadcasts(&out).as_slice(), [ConsensusMessage::Prepare(v)] if v.view == 1));
}

// ---------------------------------------------------------------- hole 2: far views

#[test]
fn hole2_view_changes_beyond_the_lookahead_pull_a_replica_forward() {
    let net = Net::new(4);
    let mut core = net.core(3);
    core.start();
    let far = 10_000;
    assert!(far > core.config().max_view_lookahead);
    let out = core.handle(Input::Message(net.view_change(0, far, None).into_message()));
    assert!(broadcasts(&out).is_empty(), "one is not f+1");
    let out = core.handle(Input::Message(
        net.view_change(1, far + 3, None).into_message(),
    ));
    assert!(
        matches!(broadcasts(&out).as_slice(), [ConsensusMessage::ViewChange(vc)] if vc.view == far),
        "joins the view f+1 others reached, however far: {out:?}"
    );
}

#[test]
fn hole2_a_new_view_is_taken_at_any_distance() {
    let net = Net::new(4);
    let mut core = net.core(3);
    core.start();
    let view = 1_001; // primary 1
    let block = net.block(1, 9);
    let out = core.handle(Input::Message(new_view(&net, view, &[0, 1, 2], &block)));
    assert_eq!(core.status().view, view, "{out:?}");
    assert!(
        acts(&out)
            .iter()
            .any(|o| matches!(o, Output::ValidateBlock { .. }))
    );
    // Proposals and votes stay bounded by the lookahead.
    let out = core.handle(Input::Message(net.vote(
        0,
        false,
        view + 1_000,
        Hash([1; 32]),
    )));
    assert_eq!(refusals(&out), vec![Reject::ViewTooFar]);
}

// ---------------------------------------------------------------- hole 3: memory

#[test]
fn hole3_the_future_buffer_is_bounded_in_bytes_and_deduplicated() {
    let net = Net::new(4);
    let mut cfg = net.config(3);
    cfg.max_buffered_bytes_per_peer = 64 * 1024;
    let mut core = Core::new(cfg, 1, Hash::ZERO, 0);
    core.start();
    // A validator floods signed messages for the next heights: a large PRE-PREPARE per
    // (height, view) and votes for every view.
    let big = net.block_with(0, 1, (0..40).map(tx).collect());
    let mut buffered = 0;
    let mut full = 0;
    for height in 2..10 {
        let mut block = big.block().clone();
        block.header.height = height;
        let block = CheckedBlock::check(block).unwrap();
        for view in 0..8 {
            let pp = ConsensusMessage::PrePrepare(phalanx_types::consensus::PrePrepare {
                view,
                height,
                block: block.clone(),
            })
            .sign(CHAIN, &net.keys[0]);
            let vote = ConsensusMessage::Prepare(Vote {
                view,
                height,
                block_hash: Hash([view as u8; 32]),
            })
            .sign(CHAIN, &net.keys[0]);
            for m in [pp, vote] {
                let out = core.handle(Input::Message(m.clone()));
                match refusals(&out).as_slice() {
                    [] => buffered += 1,
                    [Reject::BufferFull] => full += 1,
                    other => panic!("{other:?}"),
                }
                // A replay is a duplicate, refused before its signature is checked.
                if refusals(&out).is_empty() {
                    let again = core.handle(Input::Message(m));
                    assert_eq!(refusals(&again), vec![Reject::Duplicate]);
                }
            }
        }
    }
    assert!(
        buffered > 0 && full > 0,
        "{buffered} buffered, {full} refused"
    );
    assert!(core.buffered_bytes_of(&net.address(0)) <= 64 * 1024);
    assert!(encoded_len(&big.block()) > 2_000);
}

#[test]
fn hole3_votes_are_kept_only_for_views_that_can_matter() {
    let net = Net::new(4);
    let mut core = net.core(3);
    core.start();
    // Enter view 100 (a NEW-VIEW), then receive votes for every older view.
    core.handle(Input::Message(new_view(
        &net,
        100,
        &[0, 1, 2],
        &net.block(0, 3),
    )));
    assert_eq!(core.status().view, 100);
    let lookbehind = core.config().view_lookbehind;
    for view in 0..100 {
        let out = core.handle(Input::Message(net.vote(1, true, view, Hash([7; 32]))));
        let expected = if view + lookbehind < 100 {
            vec![Reject::StaleView]
        } else {
            vec![]
        };
        assert_eq!(refusals(&out), expected, "view {view}");
    }
    assert_eq!(core.votes_held() as u64, lookbehind);
    // Future views up to the lookahead: one vote per validator, view and phase.
    let lookahead = core.config().max_view_lookahead;
    for view in 100..100 + lookahead + 10 {
        for i in 0..3 {
            core.handle(Input::Message(net.vote(i, false, view, Hash([8; 32]))));
        }
    }
    assert!(core.votes_held() as u64 <= lookbehind + 3 * (lookahead + 1));
}

// ---------------------------------------------------------------- hole 4: NEW-VIEW size

#[test]
fn hole4_a_new_view_holds_one_block_whatever_was_prepared() {
    let net = Net::new(4);
    // Four views, each prepared a different large block (about 300 KB each).
    let blocks: Vec<CheckedBlock> = (0..4)
        .map(|v| {
            let txs = (0..6)
                .map(|i| {
                    let mut t = tx(100 * v + i);
                    if let phalanx_types::TxPayload::Call { args, .. } = &mut t.tx.payload {
                        args.0 = vec![v as u8; 50_000];
                    }
                    let key = phalanx_types::SecretKey::from_seed([77; 32]);
                    t.tx.sign(&key)
                })
                .collect();
            net.block_with((v % 4) as usize, 10 + v, txs)
        })
        .collect();
    let block_bytes = encoded_len(blocks[0].block());
    assert!(block_bytes > 290_000);
    // The primary of view 5 (replica 1) collects VIEW-CHANGEs whose certificates name them.
    let mut core = net.core(1);
    core.start();
    core.handle(Input::Timeout(Timeout {
        height: 1,
        view: 0,
        seq: 0,
    }));
    let mut out = Vec::new();
    for (signer, v) in [(0usize, 1u64), (2, 2), (3, 3)] {
        let others: Vec<usize> = (0..4).filter(|i| *i != (v % 4) as usize).collect();
        let cert = net.prepared_cert(v, &blocks[v as usize], (v % 4) as usize, &others[..2]);
        out.extend(
            core.handle(Input::Message(
                net.view_change(signer, 5, Some((cert, blocks[v as usize].clone())))
                    .into_message(),
            )),
        );
    }
    // Replica 1 joins view 5 (f+1 above it) and, as its primary, sends the NEW-VIEW.
    let nv = out
        .iter()
        .find_map(|o| match o {
            Output::Broadcast(m) if matches!(m.body, ConsensusMessage::NewView(_)) => Some(m),
            _ => None,
        })
        .expect("a NEW-VIEW");
    let size = encoded_len(nv);
    assert!(
        size < block_bytes + 8_000,
        "NEW-VIEW of {size} bytes for blocks of {block_bytes}"
    );
    let ConsensusMessage::NewView(body) = &nv.body else {
        unreachable!()
    };
    // It went out as soon as a quorum (0, 2 and its own) asked for view 5: the highest
    // certificate among them is view 2's, and every certificate it carries names a block.
    assert_eq!(
        body.pre_prepare.body.block.hash(),
        blocks[2].hash(),
        "highest view wins"
    );
    assert_eq!(
        body.view_changes
            .iter()
            .filter(|vc| vc.body.prepared.is_some())
            .count(),
        2
    );
    assert!(size <= phalanx_types::limits::max_message_bytes(block_bytes, 4));
}

// ---------------------------------------------------------------- hole 7: evidence, one write

#[test]
fn hole7_conflicting_view_changes_leave_evidence() {
    let net = Net::new(4);
    let mut core = net.core(1);
    core.start();
    let block = net.block(0, 1);
    let cert = net.prepared_cert(0, &block, 0, &[1, 2]);
    core.handle(Input::Message(net.view_change(2, 3, None).into_message()));
    let out = core.handle(Input::Message(
        net.view_change(2, 3, Some((cert, block))).into_message(),
    ));
    assert_eq!(refusals(&out), vec![Reject::Conflict]);
    let ev = evidence(&out);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].offender(), net.address(2));
    assert_eq!(ev[0].first.statement.phase, Phase::ViewChange);
    assert!(ev[0].verify(CHAIN, &net.set).is_ok());
}

#[test]
fn hole7_conflicting_new_views_leave_evidence() {
    let net = Net::new(4);
    let mut core = net.core(3);
    core.start();
    let first = new_view(&net, 1, &[0, 1, 2], &net.block(1, 1));
    core.handle(Input::Message(first));
    assert_eq!(core.status().view, 1);
    // The same primary, the same view, another subset of VIEW-CHANGEs.
    let second = new_view(&net, 1, &[1, 2, 0, 3], &net.block(1, 1));
    let out = core.handle(Input::Message(second));
    assert_eq!(refusals(&out), vec![Reject::Conflict]);
    let ev = evidence(&out);
    assert_eq!(ev.len(), 1, "{out:?}");
    assert_eq!(ev[0].first.statement.phase, Phase::NewView);
    assert_eq!(ev[0].offender(), net.address(1));
    assert!(ev[0].verify(CHAIN, &net.set).is_ok());
    // A NEW-VIEW with another block is two PRE-PREPAREs as well.
    let mut core = net.core(3);
    core.start();
    core.handle(Input::Message(new_view(
        &net,
        1,
        &[0, 1, 2],
        &net.block(1, 1),
    )));
    let out = core.handle(Input::Message(new_view(
        &net,
        1,
        &[0, 1, 2],
        &net.block(1, 2),
    )));
    assert_eq!(evidence(&out).len(), 1);
}

#[test]
fn hole7_a_new_view_and_its_pre_prepare_are_one_write_and_resent_after_a_crash() {
    let net = Net::new(4);
    let mut core = net.core(1);
    core.start();
    core.handle(Input::Timeout(Timeout {
        height: 1,
        view: 0,
        seq: 0,
    }));
    core.handle(Input::Message(net.view_change(2, 1, None).into_message()));
    let out = core.handle(Input::Message(net.view_change(3, 1, None).into_message()));
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::RequestProposal { view: 1, .. }))
    );
    let out = core.handle(Input::Proposal(net.block(1, 4)));
    let persists: Vec<&WalEntry> = out
        .iter()
        .filter_map(|o| match o {
            Output::Persist(e) => Some(e),
            _ => None,
        })
        .collect();
    let nv_at = out
        .iter()
        .position(|o| matches!(o, Output::Broadcast(m) if m.body.phase() == Phase::NewView))
        .expect("NEW-VIEW sent");
    assert!(
        matches!(out[..nv_at].iter().filter(|o| matches!(o, Output::Persist(_))).collect::<Vec<_>>().as_slice(),
            [Output::Persist(WalEntry::NewView(nv))] if nv.view == 1),
        "one write before the NEW-VIEW: {persists:?}"
    );
    let sent = out
        .iter()
        .find_map(|o| match o {
            Output::Broadcast(m) if m.body.phase() == Phase::NewView => Some(m.clone()),
            _ => None,
        })
        .unwrap();
    // Crash right after that write; the restarted replica is in view 1 and sends the same
    // NEW-VIEW again, so the others can follow it.
    let wal: Vec<WalEntry> = persists.into_iter().cloned().collect();
    let mut restarted = Core::restore(net.config(1), 1, Hash::ZERO, 0, &wal);
    let out = restarted.start();
    assert_eq!(restarted.status().view, 1);
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Broadcast(m) if *m == sent)),
        "{out:?}"
    );
    // And it never signs another proposal for view 1.
    let out = restarted.handle(Input::Proposal(net.block(1, 5)));
    assert!(broadcasts(&out).is_empty());
}

// ---------------------------------------------------------------- review: relays and timers

#[test]
fn a_relayed_copy_with_altered_unsigned_parts_cannot_take_the_originals_place() {
    let net = Net::new(4);
    let mut core = net.core(3);
    core.start();
    // A VIEW-CHANGE for the next height, without a certificate; a relayer attaches a block
    // (unsigned, so the author's signature still verifies).
    let mut vc = net.view_change(1, 4, None);
    vc.body.height = 2;
    let vc = phalanx_types::consensus::Signed::new(vc.body, CHAIN, &net.keys[1]);
    let mut altered = vc.clone();
    altered.body.block = Some(net.block(0, 1));
    let out = core.handle(Input::Message(altered.into_message()));
    assert_eq!(refusals(&out), vec![Reject::Malformed]);
    assert_eq!(
        core.buffered_bytes_of(&net.address(1)),
        0,
        "charged nothing"
    );
    // The original still gets its slot.
    let out = core.handle(Input::Message(vc.into_message()));
    assert!(refusals(&out).is_empty(), "{out:?}");
    assert!(core.buffered_bytes_of(&net.address(1)) > 0);
    // A NEW-VIEW whose carried VIEW-CHANGE got a block: refused the same way.
    let block = net.block(1, 2);
    let mut nv = NewView {
        view: 1,
        height: 1,
        view_changes: (0..3).map(|i| net.view_change(i, 1, None)).collect(),
        pre_prepare: net.signed_pre_prepare(1, 1, &block),
    };
    nv.view_changes[0].body.block = Some(block.clone());
    let signed = ConsensusMessage::NewView(nv).sign(CHAIN, &net.keys[1]);
    let mut core = net.core(3);
    core.start();
    let out = core.handle(Input::Message(signed));
    assert_eq!(refusals(&out), vec![Reject::Malformed]);
}

#[test]
fn equivocation_is_reported_once_per_validator_and_height() {
    let net = Net::new(4);
    let mut core = net.core(1);
    core.start();
    let block = net.block(0, 1);
    let mut reported = 0;
    for view in 3..40 {
        let cert = net.prepared_cert(0, &block, 0, &[1, 2]);
        core.handle(Input::Message(
            net.view_change(2, view, None).into_message(),
        ));
        let out = core.handle(Input::Message(
            net.view_change(2, view, Some((cert, block.clone())))
                .into_message(),
        ));
        reported += evidence(&out).len();
    }
    assert_eq!(reported, 1);
}
