//! The state tree and block store, on RocksDB and in memory.

use phalanx_storage::*;
use phalanx_types::*;
use std::sync::Arc;

fn changes(pairs: &[(&str, Option<&str>)]) -> StateChanges {
    pairs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
        .collect()
}

fn commit(kv: &Arc<dyn KvStore>, version: u64, c: &StateChanges) -> Hash {
    let state = StateStore::new(kv.clone());
    let mut batch = WriteBatch::new();
    let root = state.stage_commit(&mut batch, version, c).unwrap();
    kv.write(batch, Durability::Sync).unwrap();
    root
}

fn stores() -> Vec<(Arc<dyn KvStore>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    vec![
        (Arc::new(MemoryStore::new()), None),
        (Arc::new(RocksStore::open(dir.path()).unwrap()), Some(dir)),
    ]
}

#[test]
fn roots_are_deterministic_and_order_independent() {
    let (a, _d1) = stores().remove(0);
    let (b, _d2) = stores().remove(1);
    let c = changes(&[("k1", Some("v1")), ("k2", Some("v2")), ("k3", Some("v3"))]);
    let ra = commit(&a, 0, &c);
    let rb = commit(&b, 0, &c);
    assert_eq!(ra, rb, "memory and rocksdb agree");
    // The same final state reached by other steps has the same root.
    let (m, _) = stores().remove(0);
    commit(&m, 0, &changes(&[("k3", Some("v3")), ("k1", Some("old"))]));
    let r = commit(&m, 1, &changes(&[("k1", Some("v1")), ("k2", Some("v2"))]));
    assert_eq!(r, ra);
}

#[test]
fn empty_block_keeps_root_and_versions_stay_readable() {
    for (kv, _dir) in stores() {
        let state = StateStore::new(kv.clone());
        let empty_root = commit(&kv, 0, &StateChanges::new());
        let r1 = commit(&kv, 1, &changes(&[("a", Some("1"))]));
        let r2 = commit(&kv, 2, &StateChanges::new());
        assert_eq!(r1, r2, "a block with no state change keeps the root");
        assert_ne!(empty_root, r1);
        let r3 = commit(&kv, 3, &changes(&[("a", None)]));
        assert_eq!(
            r3, empty_root,
            "deleting the only key returns to the empty root"
        );
        assert_eq!(state.root(1).unwrap(), r1);
        assert_eq!(state.root(3).unwrap(), r3);
        // Historical reads with proofs.
        let (v, p) = state.get_with_proof(b"a", 2).unwrap();
        assert_eq!(v.as_deref(), Some(&b"1"[..]));
        verify_state_proof(r2, b"a", Some(b"1"), &p).unwrap();
        let (v, p) = state.get_with_proof(b"a", 3).unwrap();
        assert_eq!(v, None);
        verify_state_proof(r3, b"a", None, &p).unwrap();
        assert_eq!(state.get(b"a").unwrap(), None);
    }
}

#[test]
fn proofs_reject_tampering() {
    let (kv, _d) = stores().remove(0);
    let state = StateStore::new(kv.clone());
    let mut c = StateChanges::new();
    for i in 0..200u32 {
        c.insert(
            format!("key{i}").into_bytes(),
            Some(format!("value{i}").into_bytes()),
        );
    }
    let root = commit(&kv, 0, &c);
    let (v, proof) = state.get_with_proof(b"key42", 0).unwrap();
    assert_eq!(v.as_deref(), Some(&b"value42"[..]));
    verify_state_proof(root, b"key42", Some(b"value42"), &proof).unwrap();
    // Wrong value, wrong key, wrong root, claimed absence: all rejected.
    assert!(verify_state_proof(root, b"key42", Some(b"value43"), &proof).is_err());
    assert!(verify_state_proof(root, b"key43", Some(b"value42"), &proof).is_err());
    assert!(verify_state_proof(root, b"key42", None, &proof).is_err());
    let mut bad_root = root;
    bad_root.0[0] ^= 1;
    assert!(verify_state_proof(bad_root, b"key42", Some(b"value42"), &proof).is_err());
    // A tampered proof (a flipped byte in its encoding) never verifies.
    let bytes = encode(&proof);
    for i in (0..bytes.len()).step_by(7) {
        let mut t = bytes.clone();
        t[i] ^= 0x40;
        if let Ok(p) = decode::<StateProof>(&t) {
            assert!(
                verify_state_proof(root, b"key42", Some(b"value42"), &p).is_err() || p == proof,
                "byte {i}"
            );
        }
    }
    // Non-inclusion of an absent key.
    let (v, proof) = state.get_with_proof(b"absent", 0).unwrap();
    assert_eq!(v, None);
    verify_state_proof(root, b"absent", None, &proof).unwrap();
    assert!(verify_state_proof(root, b"absent", Some(b"x"), &proof).is_err());
}

#[test]
fn rocks_reopen_keeps_blocks_and_state_root() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed([3; 32]);
    let block = Block {
        header: Header {
            chain_id: "reopen".into(),
            height: 1,
            parent_hash: Hash::ZERO,
            timestamp_ms: 1,
            proposer: key.address(),
            tx_root: Block::compute_tx_root(&[]),
            state_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            validators_hash: Hash::ZERO,
        },
        txs: vec![],
    };
    let cert = CommitCertificate {
        height: 1,
        view: 0,
        block_hash: block.hash(),
        signatures: vec![],
    };
    let root = {
        let kv: Arc<dyn KvStore> = Arc::new(RocksStore::open(dir.path()).unwrap());
        let state = StateStore::new(kv.clone());
        let blocks = BlockStore::new(kv.clone());
        let mut batch = WriteBatch::new();
        let root = state
            .stage_commit(
                &mut batch,
                1,
                &changes(&[("x", Some("y")), ("p/1", Some("z"))]),
            )
            .unwrap();
        blocks.stage_commit(&mut batch, &block, &cert, &[]);
        kv.write(batch, Durability::Sync).unwrap();
        root
    };
    let kv: Arc<dyn KvStore> = Arc::new(RocksStore::open(dir.path()).unwrap());
    let state = StateStore::new(kv.clone());
    let blocks = BlockStore::new(kv.clone());
    assert_eq!(state.root(1).unwrap(), root);
    assert_eq!(state.get(b"x").unwrap(), Some(b"y".to_vec()));
    assert_eq!(state.scan(b"p/", None, 10).unwrap().len(), 1);
    assert_eq!(blocks.latest_height().unwrap(), 1);
    assert_eq!(blocks.block(1).unwrap(), Some(block.clone()));
    assert_eq!(blocks.block_by_hash(&block.hash()).unwrap(), Some(block));
    assert_eq!(blocks.certificate(1).unwrap(), Some(cert));
}

#[test]
fn block_store_indexes_txs_and_receipts() {
    let kv: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
    let blocks = BlockStore::new(kv.clone());
    assert_eq!(blocks.latest_height().unwrap(), 0);
    let key = SecretKey::from_seed([4; 32]);
    let txs: Vec<SignedTx> = (0..3)
        .map(|n| {
            Tx {
                chain_id: "c".into(),
                sender: key.public_key(),
                nonce: n,
                gas_limit: 10,
                payload: TxPayload::Governance(GovernanceAction::Approve { proposal_id: n }),
            }
            .sign(&key)
        })
        .collect();
    let (block, receipts, cert) = certified(5, key.address(), &txs);
    let mut batch = WriteBatch::new();
    blocks.stage_commit(&mut batch, &block, &cert, &receipts);
    kv.write(batch, Durability::Sync).unwrap();
    let loc = blocks.tx_location(&txs[2].hash()).unwrap().unwrap();
    assert_eq!((loc.height, loc.index), (5, 2));
    assert_eq!(blocks.receipt(5, 2).unwrap().unwrap(), receipts[2]);
    assert_eq!(blocks.receipts(5).unwrap(), receipts);
    assert_eq!(blocks.receipts(6).unwrap(), vec![]);
    assert!(blocks.tx_location(&Hash::ZERO).unwrap().is_none());
}

#[test]
fn the_sender_index_pages_an_accounts_transactions_and_is_pruned_with_its_blocks() {
    let kv: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
    let blocks = BlockStore::new(kv.clone());
    let (alice, bob) = (SecretKey::from_seed([5; 32]), SecretKey::from_seed([6; 32]));
    let tx = |key: &SecretKey, nonce: u64| {
        Tx {
            chain_id: "c".into(),
            sender: key.public_key(),
            nonce,
            gas_limit: 10,
            payload: TxPayload::Governance(GovernanceAction::Approve { proposal_id: nonce }),
        }
        .sign(key)
    };
    // Height h holds alice's nonces 2h-2 and 2h-1 and bob's h-1.
    let mut hashes = Vec::new();
    for height in 1..=4u64 {
        let txs = vec![
            tx(&alice, 2 * height - 2),
            tx(&bob, height - 1),
            tx(&alice, 2 * height - 1),
        ];
        hashes.extend([txs[0].hash(), txs[2].hash()]);
        let (block, receipts, cert) = certified(height, alice.address(), &txs);
        let mut batch = WriteBatch::new();
        blocks.stage_commit(&mut batch, &block, &cert, &receipts);
        kv.write(batch, Durability::Sync).unwrap();
    }
    // Newest first, one page at a time, and only alice's.
    let page = blocks.sender_txs(&alice.address(), 8, 3).unwrap();
    assert_eq!(page, vec![(7, hashes[7]), (6, hashes[6]), (5, hashes[5])]);
    let next = blocks.sender_txs(&alice.address(), 5, 3).unwrap();
    assert_eq!(next, vec![(4, hashes[4]), (3, hashes[3]), (2, hashes[2])]);
    assert_eq!(blocks.sender_txs(&alice.address(), 2, 3).unwrap().len(), 2);
    assert!(
        blocks
            .sender_txs(&alice.address(), 0, 3)
            .unwrap()
            .is_empty()
    );
    assert_eq!(blocks.sender_txs(&bob.address(), 4, 100).unwrap().len(), 4);
    // Pruning heights 1 and 2 takes their entries with them.
    while phalanx_storage::prune::prune_blocks_step(&*kv, 3, 1_000).unwrap() > 0 {}
    let left = blocks.sender_txs(&alice.address(), 8, 100).unwrap();
    assert_eq!(
        left.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [7, 6, 5, 4]
    );
    assert_eq!(blocks.sender_txs(&bob.address(), 4, 100).unwrap().len(), 2);
}

/// Block `height` holding `txs` with one successful receipt each, and a certificate of it.
fn certified(
    height: u64,
    proposer: Address,
    txs: &[SignedTx],
) -> (Block, Vec<Receipt>, CommitCertificate) {
    let block = Block {
        header: Header {
            chain_id: "c".into(),
            height,
            parent_hash: Hash::ZERO,
            timestamp_ms: height,
            proposer,
            tx_root: Block::compute_tx_root(txs),
            state_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            validators_hash: Hash::ZERO,
        },
        txs: txs.to_vec(),
    };
    let receipts = txs
        .iter()
        .enumerate()
        .map(|(i, t)| Receipt {
            tx_hash: t.hash(),
            status: TxStatus::Ok,
            gas_used: 1,
            return_data: Bytes::default(),
            events: vec![],
            height,
            index: i as u32,
        })
        .collect();
    let cert = CommitCertificate {
        height,
        view: 0,
        block_hash: block.hash(),
        signatures: vec![],
    };
    (block, receipts, cert)
}
