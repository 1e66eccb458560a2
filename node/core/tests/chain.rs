//! The chain's block checks: each way a proposed block can be wrong is refused with its own
//! error, the good block commits atomically, and the write-ahead log is pruned on commit.

mod common;

use common::{T0, call, in_big_stack, one_validator_info};
use phalanx_consensus::WalEntry;
use phalanx_core::{BlockError, Chain, chain::write_genesis};
use phalanx_genesis::ConsensusParams;
use phalanx_runtime::{Runtime, RuntimeConfig, StateChanges};
use phalanx_storage::{KvStore, MemoryStore, WriteBatch};
use phalanx_types::consensus::Phase;
use phalanx_types::{CommitCertificate, Hash, SecretKey};
use std::sync::Arc;

fn chain() -> (Chain, SecretKey) {
    let key = SecretKey::from_seed([1; 32]);
    let info = one_validator_info(&key);
    let kv: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
    write_genesis(&kv, &StateChanges::new(), WriteBatch::new()).unwrap();
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    (Chain::open(kv, info, runtime).unwrap(), key)
}

#[test]
fn bad_blocks_are_refused_for_the_right_reason() {
    in_big_stack(|| {
        let (chain, key) = chain();
        let user = SecretKey::from_seed([7; 32]);
        let now = T0 + 10_000;
        let (good, _, dropped) = chain
            .build(
                key.address(),
                now,
                vec![call(&user, 0), call(&user, 5)],
                &|_| false,
            )
            .unwrap();
        assert_eq!(dropped.len(), 1, "the out-of-order nonce is dropped");
        assert_eq!(good.txs.len(), 1);
        assert!(chain.validate(&good, now, &|_| false).unwrap().is_ok());

        let drift = ConsensusParams::default().max_clock_drift_ms;
        let refuse = |mutate: &dyn Fn(&mut phalanx_types::Block)| {
            let mut b = good.block().clone();
            mutate(&mut b);
            let b = phalanx_types::CheckedBlock::check(b).expect("the body is the header's");
            chain.validate(&b, now, &|_| false).unwrap().unwrap_err()
        };
        assert!(matches!(
            refuse(&|b| b.header.timestamp_ms = now + drift + 1),
            BlockError::AheadOfClock { .. }
        ));
        assert!(matches!(
            refuse(&|b| b.header.timestamp_ms = T0),
            BlockError::Timestamp { .. }
        ));
        assert!(matches!(
            refuse(&|b| b.header.state_root = Hash([3; 32])),
            BlockError::RootMismatch {
                what: "state root",
                ..
            }
        ));
        assert!(matches!(
            refuse(&|b| b.header.receipts_root = Hash([3; 32])),
            BlockError::RootMismatch {
                what: "receipts root",
                ..
            }
        ));
        assert!(matches!(
            refuse(&|b| b.header.parent_hash = Hash([1; 32])),
            BlockError::Header(_)
        ));
        assert!(matches!(
            refuse(&|b| b.header.height = 2),
            BlockError::Header(_)
        ));
        assert!(matches!(
            refuse(&|b| b.header.chain_id = "x".into()),
            BlockError::Header(_)
        ));
        assert!(matches!(
            refuse(&|b| b.header.proposer = user.address()),
            BlockError::Header(_)
        ));
        // Another body under the header never becomes a block to validate.
        let mut swapped = good.block().clone();
        swapped.txs.clear();
        assert!(phalanx_types::CheckedBlock::check(swapped).is_err());
        assert!(matches!(
            refuse(&|b| {
                b.txs = vec![call(&user, 1)];
                b.header.tx_root = phalanx_types::Block::compute_tx_root(&b.txs);
            }),
            BlockError::InvalidTx(_)
        ));
        // A certified block replays without the clock bound (sync of old blocks).
        let mut old = good.block().clone();
        old.header.timestamp_ms = now + drift + 1;
        let old = phalanx_types::CheckedBlock::check(old).unwrap();
        assert!(!matches!(
            chain.replay(&old).unwrap(),
            Err(BlockError::AheadOfClock { .. } | BlockError::Timestamp { .. })
        ));
    });
}

#[test]
fn commit_moves_the_tip_and_prunes_the_wal() {
    in_big_stack(|| {
        let (mut chain, key) = chain();
        let user = SecretKey::from_seed([7; 32]);
        for (h, view) in [(1, 0), (2, 3)] {
            chain
                .wal_append(&WalEntry::Signed(phalanx_types::consensus::Statement {
                    height: h,
                    view,
                    phase: Phase::Commit,
                    digest: Hash::ZERO,
                }))
                .unwrap();
        }
        let now = T0 + 10_000;
        let (block, executed, _) = chain
            .build(key.address(), now, vec![call(&user, 0)], &|_| false)
            .unwrap();
        let cert = CommitCertificate {
            height: 1,
            view: 0,
            block_hash: block.hash(),
            signatures: Vec::new(),
        };
        let root = executed.state_root;
        chain.commit(&block, &cert, executed).unwrap();
        let tip = chain.tip();
        assert_eq!(
            (tip.height, tip.hash, tip.state_root),
            (1, block.hash(), root)
        );
        assert_eq!(
            chain.account_nonce(&user.address()).unwrap(),
            1,
            "failed call used its nonce"
        );
        let left = chain.wal_entries().unwrap();
        assert_eq!(
            left.len(),
            1,
            "only the entry above the committed height stays"
        );
        assert_eq!(left[0].height(), 2);
        let receipts = chain.blocks().receipts(1).unwrap();
        assert_eq!(receipts.len(), 1);
        assert!(matches!(
            receipts[0].status,
            phalanx_types::TxStatus::Failed { .. }
        ));
        // A stale executed block cannot be committed on the new tip.
        let (b2, e2, _) = chain.build(key.address(), now, vec![], &|_| false).unwrap();
        let (_, stale, _) = chain
            .build(key.address(), now + 1, vec![], &|_| false)
            .unwrap();
        chain
            .commit(
                &b2,
                &CommitCertificate {
                    height: 2,
                    block_hash: b2.hash(),
                    ..cert.clone()
                },
                e2,
            )
            .unwrap();
        assert!(
            chain
                .commit(
                    &b2,
                    &CommitCertificate {
                        height: 2,
                        block_hash: b2.hash(),
                        ..cert
                    },
                    stale
                )
                .is_err()
        );
    });
}

/// A block holds transactions whose used gas fits the block: a transaction whose whole limit
/// no longer fits is left out with its sender's later ones, and they stay pending (nothing is
/// evicted), while other senders' transactions that fit still go in: a sender with huge limits
/// cannot keep everyone after it out of every block.
#[test]
fn a_full_block_leaves_the_rest_for_the_next() {
    in_big_stack(|| {
        let (chain, key) = chain();
        let user = SecretKey::from_seed([7; 32]);
        let other = SecretKey::from_seed([8; 32]);
        let max = ConsensusParams::default().max_tx_gas;
        let big = |nonce| {
            let mut tx = call(&user, nonce).tx;
            tx.gas_limit = max;
            tx.sign(&user)
        };
        let now = T0 + 10_000;
        let (block, executed, dropped) = chain
            .build(
                key.address(),
                now,
                vec![big(0), big(1), call(&user, 2), call(&other, 0)],
                &|_| false,
            )
            .unwrap();
        assert!(dropped.is_empty(), "nothing is evicted: {dropped:?}");
        let in_block: Vec<_> = block.txs.iter().map(|t| t.hash()).collect();
        assert_eq!(
            in_block,
            vec![big(0).hash(), call(&other, 0).hash()],
            "the second limit does not fit what is left; the other sender's call does"
        );
        assert_eq!(executed.receipts.len(), 2);
        assert!(executed.gas_used <= ConsensusParams::default().block_gas_limit);
        assert!(chain.validate(&block, now, &|_| false).unwrap().is_ok());
    });
}
