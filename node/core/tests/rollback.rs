//! `phalanx rollback` at the chain level: a rolled-back tip is re-executed on the next open
//! and committed only if it matches its certificate; a block that executes differently now
//! stops the node and stays pending.

mod common;

use common::{T0, call, in_big_stack, one_validator_info};
use phalanx_consensus::WalEntry;
use phalanx_core::{Chain, CoreError, chain::write_genesis};
use phalanx_runtime::{Runtime, RuntimeConfig, StateChanges};
use phalanx_storage::rollback::{self, rollback_tip};
use phalanx_storage::{Column, Durability, KvStore, MemoryStore, StorageError, WriteBatch};
use phalanx_types::consensus::{Phase, Statement, VoteSignature};
use phalanx_types::{Block, CommitCertificate, Hash, SecretKey};
use std::sync::Arc;

fn open(kv: &Arc<dyn KvStore>, key: &SecretKey) -> Chain {
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    Chain::open(kv.clone(), one_validator_info(key), runtime).unwrap()
}

/// A valid one-validator certificate for `block`.
fn certify(key: &SecretKey, block: &Block) -> CommitCertificate {
    let statement = Statement {
        phase: Phase::Commit,
        view: 0,
        height: block.height(),
        digest: block.hash(),
    };
    CommitCertificate {
        height: block.height(),
        view: 0,
        block_hash: block.hash(),
        signatures: vec![VoteSignature {
            validator: key.address(),
            signature: key.sign(&statement.signing_hash("chain-test").0),
        }],
    }
}

/// A chain of two blocks, each with a call by `user` (a failed call still takes its nonce:
/// one state key changes per block).
fn two_blocks(key: &SecretKey, user: &SecretKey) -> Arc<dyn KvStore> {
    let kv: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
    write_genesis(&kv, &StateChanges::new(), WriteBatch::new()).unwrap();
    let mut chain = open(&kv, key);
    for nonce in 0..2 {
        let (block, executed, _) = chain
            .build(
                key.address(),
                T0 + 1_000 * (nonce + 1),
                vec![call(user, nonce)],
                &|_| false,
            )
            .unwrap();
        let cert = certify(key, &block);
        chain.commit(&block, &cert, executed).unwrap();
    }
    kv
}

#[test]
fn a_rolled_back_block_is_replayed_and_matches() {
    in_big_stack(|| {
        let (key, user) = (SecretKey::from_seed([1; 32]), SecretKey::from_seed([7; 32]));
        let kv = two_blocks(&key, &user);
        let before = open(&kv, &key).tip();
        // A vote already signed for the next height must survive the rollback and replay.
        let vote = WalEntry::Signed(Statement {
            phase: Phase::Prepare,
            view: 0,
            height: 3,
            digest: Hash([3; 32]),
        });
        open(&kv, &key).wal_append(&vote).unwrap();
        let tx = call(&user, 1).hash();
        let done = rollback_tip(&kv).unwrap();
        assert_eq!((done.height, done.hash), (2, before.hash));
        assert_eq!(done.keys, 1, "the block changed the sender's nonce only");
        // A release that knows nothing of rollback cannot read the log: it refuses the store
        // rather than ignore the pending block.
        let sentinel = kv
            .get(Column::Wal, &rollback::WAL_SENTINEL)
            .unwrap()
            .unwrap();
        assert!(phalanx_types::decode::<WalEntry>(&sentinel).is_err());
        // Reopened without the replay: the tip, state, nonce and indexes are height 1's.
        let chain = open(&kv, &key);
        assert_eq!(chain.tip().height, 1);
        assert_eq!(chain.tip().state_root, done.state_root);
        assert_eq!(chain.account_nonce(&user.address()).unwrap(), 1);
        assert!(chain.blocks().tx_location(&tx).unwrap().is_none());
        assert!(chain.blocks().block(2).unwrap().is_none());
        assert!(
            chain
                .blocks()
                .sender_txs(&user.address(), 2, 10)
                .unwrap()
                .len()
                == 1
        );
        assert_eq!(rollback::pending(&*kv).unwrap(), vec![2]);
        // The replay commits the same block again, with the same state.
        let mut chain = open(&kv, &key);
        assert_eq!(chain.replay_rolled_back().unwrap(), vec![2]);
        let after = chain.tip();
        assert_eq!(
            (after.height, after.hash, after.state_root),
            (2, before.hash, before.state_root)
        );
        assert_eq!(chain.account_nonce(&user.address()).unwrap(), 2);
        assert_eq!(
            chain.blocks().tx_location(&tx).unwrap().map(|l| l.height),
            Some(2)
        );
        assert!(rollback::pending(&*kv).unwrap().is_empty());
        assert!(
            kv.get(Column::Wal, &rollback::WAL_SENTINEL)
                .unwrap()
                .is_none()
        );
        assert_eq!(
            chain.wal_entries().unwrap(),
            vec![vote.clone()],
            "the next height's vote"
        );
        assert!(chain.replay_rolled_back().unwrap().is_empty());
        // Twice in a row, then both replayed in order.
        rollback_tip(&kv).unwrap();
        rollback_tip(&kv).unwrap();
        assert_eq!(open(&kv, &key).tip().height, 0);
        let mut chain = open(&kv, &key);
        assert_eq!(chain.replay_rolled_back().unwrap(), vec![1, 2]);
        assert_eq!(chain.tip().hash, before.hash);
        assert!(
            kv.get(Column::Wal, &rollback::WAL_SENTINEL)
                .unwrap()
                .is_none()
        );
        // Nothing below genesis.
        for _ in 0..2 {
            rollback_tip(&kv).unwrap();
        }
        assert!(matches!(rollback_tip(&kv), Err(StorageError::Refused(_))));
    });
}

#[test]
fn a_block_that_executes_differently_now_stays_pending() {
    in_big_stack(|| {
        let (key, user) = (SecretKey::from_seed([1; 32]), SecretKey::from_seed([7; 32]));
        let kv: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
        write_genesis(&kv, &StateChanges::new(), WriteBatch::new()).unwrap();
        let mut chain = open(&kv, &key);
        // As if an earlier binary had executed the block to another state root, and the
        // validators had certified that: this binary cannot reproduce it.
        let (block, executed, _) = chain
            .build(key.address(), T0 + 1_000, vec![call(&user, 0)], &|_| false)
            .unwrap();
        let mut block: Block = (*block).clone();
        block.header.state_root = Hash([0xee; 32]);
        chain
            .commit(&block, &certify(&key, &block), executed)
            .unwrap();
        rollback_tip(&kv).unwrap();
        let mut chain = open(&kv, &key);
        let err = chain.replay_rolled_back().unwrap_err();
        assert!(
            matches!(&err, CoreError::Diverged { height: 1, reason } if reason.contains("state root")),
            "{err}"
        );
        assert_eq!(chain.tip().height, 0, "nothing committed");
        assert_eq!(rollback::pending(&*kv).unwrap(), vec![1], "still pending");
        // A record whose certificate does not verify is refused, as corrupt.
        let mut unsigned = certify(&key, &block);
        unsigned.signatures.clear();
        put_pending(&kv, &block, &unsigned);
        let err = open(&kv, &key).replay_rolled_back().unwrap_err();
        assert!(
            matches!(&err, CoreError::Corrupt(m) if m.contains("does not verify")),
            "{err}"
        );
        assert_eq!(open(&kv, &key).tip().height, 0);
    });
}

fn put_pending(kv: &Arc<dyn KvStore>, block: &Block, cert: &CommitCertificate) {
    let mut batch = WriteBatch::new();
    batch.put(
        Column::Meta,
        [&b"rolled_back/"[..], &block.height().to_be_bytes()].concat(),
        phalanx_types::encode(&(block, cert)),
    );
    kv.write(batch, Durability::Sync).unwrap();
}

/// A pending block whose height holds another block by now (committed by a release that
/// ignored the record) is a fork this node must not paper over: it stops, record kept.
#[test]
fn a_different_block_at_a_rolled_back_height_is_refused() {
    in_big_stack(|| {
        let (key, user) = (SecretKey::from_seed([1; 32]), SecretKey::from_seed([7; 32]));
        let kv = two_blocks(&key, &user);
        let mut other: Block = open(&kv, &key).blocks().block(2).unwrap().unwrap();
        other.header.timestamp_ms += 1;
        put_pending(&kv, &other, &certify(&key, &other));
        let err = open(&kv, &key).replay_rolled_back().unwrap_err();
        assert!(
            matches!(&err, CoreError::Corrupt(m) if m.contains("was rolled back as")),
            "{err}"
        );
        assert_eq!(rollback::pending(&*kv).unwrap(), vec![2], "record kept");
    });
}
