//! The pruner deletes exactly what falls outside the retained window, interleaved with
//! commits: retained blocks, receipts, the tx index and state proofs stay whole, pruned heights
//! are reported as such, the chain keeps committing on a pruned tree, and orphaned compiled
//! artifacts go while referenced ones stay.

mod common;

use common::{T0, in_big_stack, one_validator_info};
use phalanx_core::prune::{Pruner, Retention};
use phalanx_core::{Chain, chain::write_genesis};
use phalanx_runtime::{Runtime, RuntimeConfig, StateChanges, layout};
use phalanx_storage::prune::{lowest_block, lowest_state_version};
use phalanx_storage::{Column, KvStore, MemoryStore, WriteBatch, verify_state_proof};
use phalanx_types::{Address, Bytes, CommitCertificate, Hash, SecretKey, Tx, TxPayload};
use std::sync::Arc;

/// A fresh chain whose genesis holds one contract's code (so its compiled artifact is
/// referenced).
fn chain(kv: Arc<dyn KvStore>) -> (Chain, SecretKey) {
    let mut genesis = StateChanges::new();
    genesis.insert(layout::code_key(&Hash([1; 32])), Some(b"code".to_vec()));
    write_genesis(&kv, &genesis, WriteBatch::new()).unwrap();
    chain_reopened(kv)
}

/// Commits one block holding one (failing) call from `user`: it changes `user`'s nonce.
fn commit_one(chain: &mut Chain, proposer: &SecretKey, user: &SecretKey) -> Hash {
    let height = chain.tip().height + 1;
    let tx = Tx {
        chain_id: "chain-test".into(),
        sender: user.public_key(),
        nonce: height - 1,
        gas_limit: 1_000_000,
        payload: TxPayload::Call {
            contract: Address([9; 32]),
            method: "nothing".into(),
            args: Bytes(Vec::new()),
        },
    }
    .sign(user);
    let hash = tx.hash();
    let (block, executed, _) = chain
        .build(proposer.address(), T0 + height * 1_000, vec![tx], &|_| {
            false
        })
        .unwrap();
    let cert = CommitCertificate {
        height,
        view: 0,
        block_hash: block.hash(),
        signatures: Vec::new(),
    };
    chain.commit(&block, &cert, executed).unwrap();
    hash
}

fn count(kv: &dyn KvStore, col: Column) -> usize {
    kv.scan(col, &[], None, usize::MAX).unwrap().len()
}

#[test]
fn pruning_keeps_the_window_whole_and_the_chain_going() {
    in_big_stack(|| {
        let kv: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
        let (mut chain, key) = chain(kv.clone());
        let user = SecretKey::from_seed([7; 32]);
        // A referenced artifact and an orphan (a failed deploy's).
        kv.put(Column::Code, &[1; 32], b"compiled").unwrap();
        kv.put(Column::Code, &[2; 32], b"orphan").unwrap();
        let retention = Retention {
            retain_blocks: 10,
            retain_state_versions: 5,
        };
        let mut pruner = Pruner::new(kv.clone(), retention);
        pruner.max_keys = 7; // many small steps
        pruner.artifact_sweep_every = 1;
        let mut txs = Vec::new();
        let mut nodes_pruned = 0;
        for _ in 0..40 {
            txs.push(commit_one(&mut chain, &key, &user));
            // Interleaved with commits, as in the node: a step at a time.
            nodes_pruned += pruner.step(chain.tip().height).unwrap().state.nodes;
        }
        loop {
            let step = pruner.step(chain.tip().height).unwrap();
            if step.is_empty() {
                break;
            }
            nodes_pruned += step.state.nodes;
        }
        // Each block replaces the root and the path to the user's account at least.
        assert!(nodes_pruned >= 35, "only {nodes_pruned} tree nodes pruned");
        assert_eq!(count(&*kv, Column::StaleNodes), {
            // What is left in the index is stale only since retained versions.
            kv.scan(Column::StaleNodes, &[], None, usize::MAX)
                .unwrap()
                .iter()
                .filter(|(k, _)| u64::from_be_bytes(k[..8].try_into().unwrap()) > 36)
                .count()
        });
        let tip = chain.tip().height;
        assert_eq!(tip, 40);
        let blocks_from = retention.block_horizon(tip);
        let state_from = retention.state_horizon(tip);
        assert_eq!((blocks_from, state_from), (31, 36));
        assert_eq!(lowest_block(&*kv).unwrap(), blocks_from);
        assert_eq!(lowest_state_version(&*kv).unwrap(), state_from);

        for h in 1..=tip {
            let block = chain.blocks().block(h).unwrap();
            let cert = chain.blocks().certificate(h).unwrap();
            let receipts = chain.blocks().receipts(h).unwrap();
            let indexed = chain.blocks().tx_location(&txs[h as usize - 1]).unwrap();
            if h < blocks_from {
                assert!(block.is_none() && cert.is_none(), "block {h} kept");
                assert!(
                    receipts.is_empty() && indexed.is_none(),
                    "receipts of {h} kept"
                );
            } else {
                let block = block.unwrap_or_else(|| panic!("block {h} pruned"));
                assert!(cert.is_some());
                assert_eq!(receipts.len(), 1);
                assert_eq!(indexed.map(|l| l.height), Some(h));
                assert_eq!(chain.blocks().height_of(&block.hash()).unwrap(), Some(h));
            }
        }
        // Every retained version proves the user's account against its header's root.
        let account = layout::account_key(&user.address());
        for h in state_from..=tip {
            let root = chain.blocks().block(h).unwrap().unwrap().header.state_root;
            let (value, proof) = chain.state().get_with_proof(&account, h).unwrap();
            assert!(value.is_some());
            verify_state_proof(root, &account, value.as_deref(), &proof).unwrap();
        }
        // All blocks before the window are gone from every index; nothing else is.
        assert_eq!(
            count(&*kv, Column::Blocks),
            (tip - blocks_from + 1) as usize
        );
        assert_eq!(
            count(&*kv, Column::TxIndex),
            (tip - blocks_from + 1) as usize
        );
        // The orphaned artifact went, the referenced one stayed.
        assert!(kv.get(Column::Code, &[1; 32]).unwrap().is_some());
        assert!(kv.get(Column::Code, &[2; 32]).unwrap().is_none());
        // The chain goes on over the pruned tree, and reopens.
        commit_one(&mut chain, &key, &user);
        drop(chain);
        let (mut chain, key) = chain_reopened(kv.clone());
        assert_eq!(chain.tip().height, 41);
        commit_one(&mut chain, &key, &user);
    });
}

/// The chain in `kv`, opened again.
fn chain_reopened(kv: Arc<dyn KvStore>) -> (Chain, SecretKey) {
    let key = SecretKey::from_seed([1; 32]);
    let info = one_validator_info(&key);
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    (Chain::open(kv, info, runtime).unwrap(), key)
}

#[test]
fn keeping_everything_deletes_nothing_but_orphans() {
    in_big_stack(|| {
        let kv: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
        let (mut chain, key) = chain(kv.clone());
        let user = SecretKey::from_seed([7; 32]);
        for _ in 0..10 {
            commit_one(&mut chain, &key, &user);
        }
        let nodes = count(&*kv, Column::TreeNodes);
        let mut pruner = Pruner::new(kv.clone(), Retention::ALL);
        while !pruner.step(chain.tip().height).unwrap().is_empty() {}
        assert_eq!(count(&*kv, Column::TreeNodes), nodes);
        assert_eq!(count(&*kv, Column::Blocks), 10);
        assert_eq!(lowest_block(&*kv).unwrap(), 1);
        assert_eq!(lowest_state_version(&*kv).unwrap(), 0);
    });
}

/// A held height (the next snapshot's) keeps its block and state whatever the window, and
/// only it: once released, the pruner catches up.
#[test]
fn a_held_height_is_kept_until_released() {
    in_big_stack(|| {
        let kv: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
        let (mut chain, key) = chain(kv.clone());
        let user = SecretKey::from_seed([7; 32]);
        let retention = Retention {
            retain_blocks: 3,
            retain_state_versions: 3,
        };
        let mut pruner = Pruner::new(kv.clone(), retention);
        pruner.hold_from = 10;
        pruner.hold_blocks_from = 10;
        for _ in 0..30 {
            commit_one(&mut chain, &key, &user);
            while !pruner.step(chain.tip().height).unwrap().is_empty() {}
        }
        assert_eq!(lowest_block(&*kv).unwrap(), 10);
        assert_eq!(lowest_state_version(&*kv).unwrap(), 10);
        let account = layout::account_key(&user.address());
        let root = chain.blocks().block(10).unwrap().unwrap().header.state_root;
        let (value, proof) = chain.state().get_with_proof(&account, 10).unwrap();
        verify_state_proof(root, &account, value.as_deref(), &proof).unwrap();
        assert!(chain.blocks().certificate(10).unwrap().is_some());
        pruner.hold_from = u64::MAX;
        pruner.hold_blocks_from = u64::MAX;
        while !pruner.step(chain.tip().height).unwrap().is_empty() {}
        assert_eq!(lowest_block(&*kv).unwrap(), 28);
        assert_eq!(lowest_state_version(&*kv).unwrap(), 28);
    });
}
