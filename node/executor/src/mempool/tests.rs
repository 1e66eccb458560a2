//! The pool's policy under honest use and under floods.

use super::*;
use phalanx_types::{Bytes, SecretKey, Tx, TxPayload};
use proptest::prelude::*;

const CHAIN: &str = "mempool-test";

fn tx_sized(key: &SecretKey, nonce: u64, arg_bytes: usize) -> SignedTx {
    Tx {
        chain_id: CHAIN.into(),
        sender: key.public_key(),
        nonce,
        gas_limit: 1_000_000,
        payload: TxPayload::Call {
            contract: Address([1; 32]),
            method: "ping".into(),
            args: Bytes(vec![0; arg_bytes]),
        },
    }
    .sign(key)
}

fn tx(key: &SecretKey, nonce: u64) -> SignedTx {
    tx_sized(key, nonce, 100)
}

fn key(i: u32) -> SecretKey {
    let mut seed = [7u8; 32];
    seed[..4].copy_from_slice(&i.to_le_bytes());
    SecretKey::from_seed(seed)
}

fn params() -> ConsensusParams {
    ConsensusParams::default()
}

fn limits(max_txs: usize) -> MempoolLimits {
    MempoolLimits {
        max_txs,
        max_queued: max_txs / 4,
        ..MempoolLimits::default()
    }
}

/// Checks the pool's totals and indexes against its queues.
fn assert_consistent(pool: &Mempool) {
    let mut bytes = 0;
    let mut queued = 0;
    let mut count = 0;
    for (sender, q) in &pool.senders {
        assert!(!q.txs.is_empty(), "no empty queues");
        let mut copy = SenderQueue {
            floor: q.floor,
            txs: q.txs.clone(),
            ..SenderQueue::default()
        };
        copy.recount();
        assert_eq!(
            (copy.ready, copy.bytes, copy.queued_bytes),
            (q.ready, q.bytes, q.queued_bytes)
        );
        assert!(pool.by_bytes.contains(&(q.bytes, *sender)));
        assert_eq!(
            pool.by_queued_bytes.contains(&(q.queued_bytes, *sender)),
            q.queued() > 0
        );
        for (nonce, p) in &q.txs {
            assert!(*nonce >= q.floor);
            assert_eq!(pool.by_hash.get(&p.hash), Some(&(*sender, *nonce)));
        }
        assert!(q.txs.len() <= pool.limits.max_per_sender);
        assert!(q.bytes <= pool.limits.max_sender_bytes);
        bytes += q.bytes;
        queued += q.queued();
        count += q.txs.len();
    }
    assert_eq!(pool.by_bytes.len(), pool.senders.len());
    assert_eq!(
        (pool.bytes, pool.queued, pool.len()),
        (bytes, queued, count)
    );
    assert!(pool.len() <= pool.limits.max_txs && pool.bytes <= pool.limits.max_bytes);
    assert!(pool.queued <= pool.limits.max_queued);
}

#[test]
fn admission_gives_clear_errors_and_loses_nothing() {
    let mut pool = Mempool::new(MempoolLimits::default());
    let k = key(1);
    let p = params();
    let h = pool.admit(tx(&k, 5), 5, CHAIN, &p, 0).unwrap();
    assert!(pool.contains(&h));
    assert_eq!(
        pool.admit(tx(&k, 5), 5, CHAIN, &p, 0),
        Err(AdmitError::Duplicate)
    );
    assert_eq!(
        pool.admit(tx(&k, 4), 5, CHAIN, &p, 0),
        Err(AdmitError::NonceTooLow {
            expected: 5,
            got: 4
        })
    );
    assert!(matches!(
        pool.admit(tx(&k, 500), 5, CHAIN, &p, 0),
        Err(AdmitError::NonceTooHigh { .. })
    ));
    let mut other = tx(&k, 5);
    other.tx.gas_limit += 1;
    let other = other.tx.sign(&k);
    assert_eq!(
        pool.admit(other, 5, CHAIN, &p, 0),
        Err(AdmitError::NonceTaken(5))
    );
    let mut forged = tx(&k, 6);
    forged.tx.nonce = 7;
    assert!(matches!(
        pool.admit(forged, 5, CHAIN, &p, 0),
        Err(AdmitError::Invalid(_))
    ));
    assert!(matches!(
        pool.admit(tx(&k, 6), 5, "other-chain", &p, 0),
        Err(AdmitError::Invalid(_))
    ));
    let mut small = p.clone();
    small.max_block_bytes = 150;
    assert!(matches!(
        pool.admit(tx(&k, 6), 5, CHAIN, &small, 0),
        Err(AdmitError::TooLarge { max: 150, .. })
    ));
    assert_eq!(
        pool.len(),
        1,
        "refused transactions leave the pool unchanged"
    );
    assert_consistent(&pool);
}

#[test]
fn selection_follows_nonces_and_limits_and_prune_evicts() {
    let mut pool = Mempool::new(MempoolLimits::default());
    let (a, b) = (key(1), key(2));
    for n in [2, 0, 1, 4] {
        pool.admit(tx(&a, n), 0, CHAIN, &params(), 0).unwrap();
    }
    pool.admit(tx(&b, 0), 0, CHAIN, &params(), 0).unwrap();
    assert_eq!(pool.queued(), 1, "a's 4 waits behind the gap at 3");
    let picked = pool.select(&params());
    let a_nonces: Vec<u64> = picked
        .iter()
        .filter(|t| t.tx.sender == a.public_key())
        .map(|t| t.tx.nonce)
        .collect();
    assert_eq!(a_nonces, vec![0, 1, 2], "stops at the gap before 4");
    assert_eq!(picked.len(), 4);
    let mut small = params();
    small.max_block_txs = 2;
    assert_eq!(pool.select(&small).len(), 2);

    // After a block that used a's nonces 0..=2, only a's 4 and b's 0 remain.
    pool.prune(|s| if *s == a.address() { 3 } else { 0 });
    assert_eq!(pool.len(), 2);
    assert_consistent(&pool);
    let before = pool.bytes();
    pool.prune(|_| 10);
    assert!(pool.is_empty());
    assert!(before > 0 && pool.bytes() == 0);
    assert_consistent(&pool);
}

#[test]
fn remove_frees_the_slot_and_its_bytes() {
    let mut pool = Mempool::new(MempoolLimits::default());
    let a = key(1);
    let h0 = pool.admit(tx(&a, 0), 0, CHAIN, &params(), 0).unwrap();
    let h1 = pool.admit(tx(&a, 1), 0, CHAIN, &params(), 0).unwrap();
    let both = pool.bytes();
    assert!(pool.remove(&h1));
    assert!(!pool.remove(&h1), "already gone");
    assert!(!pool.contains(&h1) && pool.contains(&h0));
    assert_eq!(pool.bytes(), both / 2);
    assert!(pool.remove(&h0));
    assert!(pool.is_empty() && pool.bytes() == 0);
    pool.admit(tx(&a, 1), 0, CHAIN, &params(), 0)
        .expect("the nonce is free again");
    assert_eq!(pool.queued(), 1, "1 waits for 0");
    assert_consistent(&pool);
}

#[test]
fn blocks_are_shared_round_robin_oldest_first() {
    let mut pool = Mempool::new(MempoolLimits::default());
    // Senders arrive in an order unrelated to their addresses; each queues 10.
    let keys: Vec<SecretKey> = (0..20u32).map(key).collect();
    for k in &keys {
        for n in 0..10 {
            pool.admit(tx(k, n), 0, CHAIN, &params(), 0).unwrap();
        }
    }
    let mut small = params();
    small.max_block_txs = 30;
    let picked = pool.select(&small);
    assert_eq!(picked.len(), 30);
    // The first round serves every sender once, in arrival order, whatever its address.
    let first: Vec<_> = picked[..20].iter().map(|t| t.tx.sender).collect();
    let arrival: Vec<_> = keys.iter().map(SecretKey::public_key).collect();
    assert_eq!(first, arrival);
    assert!(picked[..20].iter().all(|t| t.tx.nonce == 0));
    assert!(picked[20..].iter().all(|t| t.tx.nonce == 1));
    // A late sender with one transaction waits one round at most, not behind every
    // transaction of the heavy senders.
    let late = key(99);
    pool.admit(tx(&late, 0), 0, CHAIN, &params(), 1).unwrap();
    let picked = pool.select(&small);
    let at = picked
        .iter()
        .position(|t| t.tx.sender == late.public_key())
        .expect("the late sender is served in the first round");
    assert_eq!(at, 20);
}

#[test]
fn a_sender_has_a_cap_and_may_replace_its_own_newest() {
    let limits = MempoolLimits {
        max_per_sender: 4,
        ..MempoolLimits::default()
    };
    let mut pool = Mempool::new(limits);
    let a = key(1);
    for n in [0, 1, 2, 5] {
        pool.admit(tx(&a, n), 0, CHAIN, &params(), 0).unwrap();
    }
    assert!(matches!(
        pool.admit(tx(&a, 9), 0, CHAIN, &params(), 0),
        Err(AdmitError::SenderFull { pending: 4, .. })
    ));
    // Filling the gap is worth more than the queued 5: it takes its place.
    let h3 = pool.admit(tx(&a, 3), 0, CHAIN, &params(), 0).unwrap();
    assert!(pool.contains(&h3));
    assert_eq!((pool.len(), pool.queued()), (4, 0));
    assert_consistent(&pool);
    // Other senders are not affected by a's cap.
    pool.admit(tx(&key(2), 0), 0, CHAIN, &params(), 0).unwrap();
}

#[test]
fn gap_transactions_are_capped_and_expire() {
    let limits = MempoolLimits {
        max_queued: 50,
        queued_ttl_ms: 10_000,
        ..MempoolLimits::default()
    };
    let mut pool = Mempool::new(limits);
    // Fresh accounts queue nonces 1..=63: none can ever be included without nonce 0.
    for i in 0..10u32 {
        let k = key(i);
        for n in 1..64 {
            let _ = pool.admit(tx(&k, n), 0, CHAIN, &params(), 0);
        }
    }
    assert_eq!(pool.queued(), 50, "the queued budget holds");
    // Later senders pushed out the newest of the heaviest: the budget is shared.
    assert_eq!(pool.senders(), 10);
    assert!(
        pool.senders
            .values()
            .all(|q| (4..=6).contains(&q.txs.len()))
    );
    assert!(pool.select(&params()).is_empty());
    assert_consistent(&pool);
    // A ready transaction is admitted whatever the queued ones do.
    let honest = key(1000);
    pool.admit(tx(&honest, 0), 0, CHAIN, &params(), 5_000)
        .unwrap();
    assert_eq!(pool.expire(9_000), 0, "not yet");
    assert_eq!(pool.expire(10_000), 50, "every gap transaction expired");
    assert_eq!((pool.len(), pool.queued()), (1, 0));
    assert_consistent(&pool);
    assert_eq!(pool.expire(10_999), 0, "scans at most once a second");
}

#[test]
fn a_full_pool_evicts_flooders_not_newcomers() {
    // 800 accounts each queue 63 gap transactions, then as many ready ones as they may:
    // the pool (scaled down) is full, and honest senders still get in.
    let mut pool = Mempool::new(limits(2_000));
    for i in 0..800u32 {
        let k = key(i);
        for n in 1..64 {
            let _ = pool.admit(tx(&k, n), 0, CHAIN, &params(), 0);
        }
    }
    assert_eq!(pool.queued(), 500);
    for i in 800..1_200u32 {
        let k = key(i);
        for n in 0..10 {
            let _ = pool.admit(tx(&k, n), 0, CHAIN, &params(), 0);
        }
    }
    assert_eq!(pool.len(), 2_000, "full");
    assert_eq!(
        pool.queued(),
        0,
        "ready transactions displaced every queued one"
    );
    assert_consistent(&pool);
    // Honest newcomers with one transaction each: all admitted, by evicting the newest of
    // the heaviest senders.
    for i in 5_000..5_100u32 {
        pool.admit(tx(&key(i), 0), 0, CHAIN, &params(), 0)
            .expect("a light sender gets in");
    }
    assert_eq!(pool.len(), 2_000);
    assert_consistent(&pool);
    // A queued newcomer displaces no ready transaction.
    assert_eq!(
        pool.admit(tx(&key(6_000), 3), 0, CHAIN, &params(), 0),
        Err(AdmitError::Full)
    );
    // The heaviest sender cannot push others out.
    let (_, heaviest) = *pool.by_bytes.last().unwrap();
    let heavy = (800..1_200u32)
        .map(key)
        .find(|k| k.address() == heaviest)
        .unwrap();
    let held = pool.senders[&heavy.address()].txs.len() as u64;
    assert_eq!(
        pool.admit(tx(&heavy, held), 0, CHAIN, &params(), 0),
        Err(AdmitError::Full)
    );
    assert_consistent(&pool);
}

#[test]
fn a_refused_newcomer_evicts_nothing() {
    // Full in bytes: A holds 4 transactions, 16 others one each. A newcomer of 2.5 of them
    // could push out two of A's (A stays heavier than it) but then no one is heavier: it is
    // refused, and A keeps both.
    let size = tx(&key(0), 0).to_bytes().len();
    let limits = MempoolLimits {
        max_bytes: 20 * size,
        ..MempoolLimits::default()
    };
    let mut pool = Mempool::new(limits);
    for n in 0..4 {
        pool.admit(tx(&key(0), n), 0, CHAIN, &params(), 0).unwrap();
    }
    for i in 1..17 {
        pool.admit(tx(&key(i), 0), 0, CHAIN, &params(), 0).unwrap();
    }
    assert_eq!(pool.bytes(), 20 * size);
    let big = tx_sized(&key(10_000), 0, 100 + size * 3 / 2);
    let big_size = big.to_bytes().len();
    assert!(2 * size < big_size && big_size < 3 * size);
    let held: Vec<Hash> = pool.by_hash.keys().copied().collect();
    assert_eq!(
        pool.admit(big, 0, CHAIN, &params(), 0),
        Err(AdmitError::Full)
    );
    assert_eq!(pool.bytes(), 20 * size);
    assert!(held.iter().all(|h| pool.contains(h)), "nothing lost");
    assert_consistent(&pool);
    let picked = pool.select(&params());
    assert_eq!(picked.len(), 20, "the restored queue is still ready");
}

#[test]
fn lower_gas_limits_drop_what_can_no_longer_be_included() {
    let mut pool = Mempool::new(MempoolLimits::default());
    let a = key(1);
    for n in 0..3 {
        pool.admit(tx(&a, n), 0, CHAIN, &params(), 0).unwrap();
    }
    let mut heavy = tx(&key(2), 0);
    heavy.tx.gas_limit = 5_000_000;
    let heavy = heavy.tx.sign(&key(2));
    pool.admit(heavy, 0, CHAIN, &params(), 0).unwrap();
    let mut lowered = params();
    lowered.max_tx_gas = 2_000_000;
    assert_eq!(pool.revalidate(&lowered), 1);
    assert_eq!(pool.len(), 3);
    assert_eq!(pool.select(&lowered).len(), 3);
    assert_consistent(&pool);
}

/// Found by the property test below: removing a sender's first transaction (invalid at
/// block building) turns its whole ready run into queued ones, which must not take the pool
/// past its queued budget.
#[test]
fn removing_a_ready_head_keeps_the_queued_budget() {
    let mut pool = Mempool::new(MempoolLimits {
        max_queued: 2,
        ..MempoolLimits::default()
    });
    let (a, b) = (key(1), key(2));
    let p = params();
    let head = pool.admit(tx(&a, 0), 0, CHAIN, &p, 0).unwrap();
    for n in 1..6 {
        pool.admit(tx(&a, n), 0, CHAIN, &p, 0).unwrap();
    }
    // One queued transaction of another sender, with fewer queued bytes than `a` will have.
    pool.admit(tx(&b, 1), 0, CHAIN, &p, 0).unwrap();
    assert_eq!((pool.len(), pool.queued()), (7, 1));
    assert!(pool.remove(&head));
    assert_consistent(&pool);
    // `a`'s five are queued now; its newest go until the budget holds, `b`'s stays.
    assert_eq!((pool.len(), pool.queued()), (2, 2));
    assert_eq!(
        pool.senders[&a.address()]
            .txs
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        [1]
    );
    assert_eq!(pool.committed_nonce(&b.address()), Some(0));
    // Refilling the gap makes the survivor ready again.
    pool.admit(tx(&a, 0), 0, CHAIN, &p, 0).unwrap();
    assert_eq!(pool.queued(), 1);
    assert_consistent(&pool);
}

#[derive(Debug, Clone)]
enum Op {
    Admit { sender: u8, nonce: u8, size: u8 },
    Commit { sender: u8, nonce: u8 },
    Remove { sender: u8, nonce: u8 },
    Expire { at: u16 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..12u8, 0..20u8, 0..4u8).prop_map(|(sender, nonce, size)| Op::Admit { sender, nonce, size }),
        1 => (0..12u8, 0..20u8).prop_map(|(sender, nonce)| Op::Commit { sender, nonce }),
        1 => (0..12u8, 0..20u8).prop_map(|(sender, nonce)| Op::Remove { sender, nonce }),
        1 => (0..200u16).prop_map(|at| Op::Expire { at }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever arrives in whatever order, the totals and indexes stay right, the limits
    /// hold, and a selection is a valid run of nonces per sender.
    #[test]
    fn any_sequence_keeps_the_pool_consistent(ops in proptest::collection::vec(op(), 1..200)) {
        let limits = MempoolLimits {
            max_txs: 40,
            max_bytes: 12_000,
            max_nonce_gap: 16,
            max_per_sender: 8,
            max_sender_bytes: 3_000,
            max_queued: 10,
            queued_ttl_ms: 50_000,
        };
        let keys: Vec<SecretKey> = (0..12u32).map(key).collect();
        let mut committed = [0u64; 12];
        let mut pool = Mempool::new(limits);
        let mut now = 0;
        for op in ops {
            match op {
                Op::Admit { sender, nonce, size } => {
                    let s = sender as usize;
                    let t = tx_sized(&keys[s], committed[s] + u64::from(nonce), 100 + 400 * size as usize);
                    let before = pool.len();
                    match pool.admit(t, committed[s], CHAIN, &params(), now) {
                        Ok(h) => prop_assert!(pool.contains(&h)),
                        Err(_) => prop_assert_eq!(pool.len(), before),
                    }
                }
                Op::Commit { sender, nonce } => {
                    let s = sender as usize;
                    committed[s] += u64::from(nonce % 4);
                    let address = keys[s].address();
                    pool.prune_senders(&[address], |_| committed[s]);
                }
                Op::Remove { sender, nonce } => {
                    let s = sender as usize;
                    let hash = pool.senders.get(&keys[s].address())
                        .and_then(|q| q.txs.get(&(committed[s] + u64::from(nonce))))
                        .map(|p| p.hash);
                    if let Some(hash) = hash {
                        prop_assert!(pool.remove(&hash));
                    }
                }
                Op::Expire { at } => {
                    now += u64::from(at) * 1_000;
                    pool.expire(now);
                }
            }
            assert_consistent(&pool);
            let picked = pool.select(&params());
            let mut next = committed;
            for t in &picked {
                let s = keys.iter().position(|k| k.public_key() == t.tx.sender).unwrap();
                prop_assert_eq!(t.tx.nonce, next[s]);
                next[s] += 1;
            }
        }
    }
}

#[test]
fn only_ready_transactions_are_promoted_for_forwarding() {
    let mut pool = Mempool::new(MempoolLimits::default());
    let a = key(1);
    let t: Vec<SignedTx> = (0..6).map(|n| tx(&a, n)).collect();
    for n in [2, 3] {
        pool.admit(t[n].clone(), 0, CHAIN, &params(), 0).unwrap();
    }
    assert!(pool.take_promoted().is_empty(), "2 and 3 wait for 0 and 1");
    pool.admit(t[0].clone(), 0, CHAIN, &params(), 0).unwrap();
    assert_eq!(pool.take_promoted(), vec![t[0].clone()]);
    pool.admit(t[1].clone(), 0, CHAIN, &params(), 0).unwrap();
    assert_eq!(pool.take_promoted(), t[1..4].to_vec(), "1 filled the gap");
    assert!(pool.take_promoted().is_empty());
    // A commit that took nonces 0..=4 elsewhere (4 never reached this node) makes 5 ready.
    pool.admit(t[5].clone(), 0, CHAIN, &params(), 0).unwrap();
    assert!(pool.take_promoted().is_empty());
    pool.prune_senders(&[a.address()], |_| 5);
    assert_eq!(pool.take_promoted(), vec![t[5].clone()]);
    assert_consistent(&pool);
}

#[test]
fn a_refused_admission_forwards_nothing() {
    // As in `a_refused_newcomer_evicts_nothing`: the big one evicts two of A's ready
    // transactions, is refused, and puts them back; they were forwarded long ago.
    let size = tx(&key(0), 0).to_bytes().len();
    let mut pool = Mempool::new(MempoolLimits {
        max_bytes: 20 * size,
        ..MempoolLimits::default()
    });
    for n in 0..4 {
        pool.admit(tx(&key(0), n), 0, CHAIN, &params(), 0).unwrap();
    }
    for i in 1..17 {
        pool.admit(tx(&key(i), 0), 0, CHAIN, &params(), 0).unwrap();
    }
    assert_eq!(pool.take_promoted().len(), 20);
    let big = tx_sized(&key(10_000), 0, 100 + size * 3 / 2);
    assert_eq!(
        pool.admit(big, 0, CHAIN, &params(), 0),
        Err(AdmitError::Full)
    );
    assert!(pool.take_promoted().is_empty(), "nothing to forward again");
}

#[test]
fn stuck_client_transactions_are_forwarded_again_with_back_off() {
    let mut pool = Mempool::new(MempoolLimits::default());
    let (a, b) = (key(1), key(2));
    for n in 0..3 {
        pool.admit(tx(&a, n), 0, CHAIN, &params(), 0).unwrap();
    }
    pool.admit(tx(&b, 5), 0, CHAIN, &params(), 0).unwrap(); // queued: never forwarded
    pool.admit(tx(&b, 0), 0, CHAIN, &params(), 1_500).unwrap();
    // Forwarded by a peer: the peer resends it if needed, not this node.
    let c = key(3);
    let forwarded = VerifiedTx::new(tx(&c, 0), CHAIN).unwrap();
    pool.admit_verified(forwarded, 0, &params(), 0, Origin::Peer)
        .unwrap();
    assert!(
        pool.stuck_ready(1_000, 2_000, 100).is_empty(),
        "not stuck yet"
    );
    let again = pool.stuck_ready(2_000, 2_000, 100);
    assert_eq!(again, (0..3).map(|n| tx(&a, n)).collect::<Vec<_>>());
    assert!(pool.stuck_ready(3_000, 2_000, 100).is_empty(), "just sent");
    // b's waited longest now; the cap takes it first.
    let later = pool.stuck_ready(3_500, 2_000, 1);
    assert_eq!(later, vec![tx(&b, 0)]);
    // a's second resend waits twice as long: 4 s after the first.
    assert!(pool.stuck_ready(5_000, 2_000, 100).is_empty());
    assert_eq!(pool.stuck_ready(6_000, 2_000, 100).len(), 3);
}
