//! Executing a block on its parent's uncommitted state (pipelining) gives exactly what
//! executing it after the parent's commit gives: the same state root, receipts and writes.

mod common;

use common::{T0, call, in_big_stack, one_validator_info};
use phalanx_core::{Chain, chain::write_genesis};
use phalanx_runtime::{Runtime, RuntimeConfig, StateChanges};
use phalanx_storage::kv::KvPair;
use phalanx_storage::{Column, KvStore, MemoryStore, WriteBatch};
use phalanx_types::{CommitCertificate, SecretKey};
use std::sync::Arc;

fn chain(key: &SecretKey) -> (Chain, Arc<dyn KvStore>) {
    let kv: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
    write_genesis(&kv, &StateChanges::new(), WriteBatch::new()).unwrap();
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    (
        Chain::open(kv.clone(), one_validator_info(key), runtime).unwrap(),
        kv,
    )
}

fn cert(block: &phalanx_types::CheckedBlock) -> CommitCertificate {
    CommitCertificate {
        height: block.height(),
        view: 0,
        block_hash: block.hash(),
        signatures: Vec::new(),
    }
}

fn everything(kv: &dyn KvStore) -> Vec<(Column, Vec<KvPair>)> {
    [
        Column::State,
        Column::TreeNodes,
        Column::TreeValues,
        Column::StaleNodes,
        Column::Preimages,
    ]
    .into_iter()
    .map(|c| (c, kv.scan(c, &[], None, usize::MAX).unwrap()))
    .collect()
}

#[test]
fn a_block_executed_on_its_uncommitted_parent_commits_as_if_executed_after_it() {
    in_big_stack(|| {
        let key = SecretKey::from_seed([1; 32]);
        let user = SecretKey::from_seed([7; 32]);
        let now = T0 + 10_000;

        // The primary builds 1, then 2 on top of 1 before 1 commits: nonces 2 and 3 follow
        // the uncommitted 0 and 1, and nonce 1 again is left out as invalid there.
        let (primary, _) = chain(&key);
        let (b1, e1, _) = primary
            .build(
                key.address(),
                now,
                vec![call(&user, 0), call(&user, 1)],
                &|_| false,
            )
            .unwrap();
        let (b2, e2, dropped) = primary
            .build_on(
                &[&e1],
                key.address(),
                now + 1,
                vec![call(&user, 1), call(&user, 2), call(&user, 3)],
                &|_| false,
            )
            .unwrap()
            .expect("1 extends the tip");
        assert_eq!(b2.header.parent_hash, b1.hash());
        assert_eq!((b2.height(), b2.txs.len(), dropped.len()), (2, 2, 1));
        assert_eq!(e2.parent(), b1.hash());

        // A replica checks 2 on its own uncommitted 1, then commits both.
        let (mut replica, replica_kv) = chain(&key);
        let r1 = replica.validate(&b1, now + 5, &|_| false).unwrap().unwrap();
        let r2 = replica
            .validate_on(&[&r1], &b2, now + 5, &|_| false)
            .unwrap()
            .expect("1 extends the tip")
            .expect("2 is valid on 1");
        // Not on a parent that does not extend the tip.
        assert!(
            replica
                .validate_on(&[&r2], &b2, now + 5, &|_| false)
                .unwrap()
                .is_none()
        );
        replica.commit(&b1, &cert(&b1), r1).unwrap();
        replica.commit(&b2, &cert(&b2), r2).unwrap();

        // Another one executes 2 only after committing 1: the same tip and the same bytes.
        let (mut late, late_kv) = chain(&key);
        let l1 = late.validate(&b1, now + 5, &|_| false).unwrap().unwrap();
        late.commit(&b1, &cert(&b1), l1).unwrap();
        let l2 = late.validate(&b2, now + 5, &|_| false).unwrap().unwrap();
        late.commit(&b2, &cert(&b2), l2).unwrap();

        assert_eq!(replica.tip(), late.tip());
        assert_eq!(replica.tip().state_root, b2.header.state_root);
        assert_eq!(replica.account_nonce(&user.address()).unwrap(), 4);
        assert_eq!(everything(&*replica_kv), everything(&*late_kv));
        assert_eq!(
            replica.blocks().receipts(2).unwrap(),
            late.blocks().receipts(2).unwrap()
        );
    });
}
