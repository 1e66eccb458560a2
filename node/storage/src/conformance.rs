//! One conformance suite that every [`KvStore`] must pass. The RocksDB and in-memory stores
//! both run it (see `tests/conformance.rs`), so tests on the memory store mean something.

use crate::kv::{Column, Durability, KvStore, WriteBatch};

/// Runs every check against an empty store. Panics (with a message) on the first failure.
pub fn run_all(store: &dyn KvStore) {
    get_put_delete(store);
    columns_are_separate(store);
    scan_is_ordered_and_prefix_bounded(store);
    scan_start_and_limit(store);
    batch_is_atomic_and_ordered(store);
    empty_values_and_keys(store);
}

fn get_put_delete(s: &dyn KvStore) {
    assert_eq!(s.get(Column::Meta, b"k").unwrap(), None);
    s.put(Column::Meta, b"k", b"v1").unwrap();
    assert_eq!(s.get(Column::Meta, b"k").unwrap(), Some(b"v1".to_vec()));
    s.put(Column::Meta, b"k", b"v2").unwrap();
    assert_eq!(s.get(Column::Meta, b"k").unwrap(), Some(b"v2".to_vec()));
    s.delete(Column::Meta, b"k").unwrap();
    assert_eq!(s.get(Column::Meta, b"k").unwrap(), None);
    s.delete(Column::Meta, b"never-there").unwrap();
}

fn columns_are_separate(s: &dyn KvStore) {
    s.put(Column::Blocks, b"x", b"blocks").unwrap();
    s.put(Column::State, b"x", b"state").unwrap();
    assert_eq!(
        s.get(Column::Blocks, b"x").unwrap(),
        Some(b"blocks".to_vec())
    );
    assert_eq!(s.get(Column::State, b"x").unwrap(), Some(b"state".to_vec()));
    assert_eq!(s.get(Column::Receipts, b"x").unwrap(), None);
}

fn scan_is_ordered_and_prefix_bounded(s: &dyn KvStore) {
    for k in [
        &b"p/3"[..],
        b"p/1",
        b"p/2",
        b"o/9",
        b"q/0",
        b"p",
        b"p/\xff\xff",
    ] {
        s.put(Column::Code, k, k).unwrap();
    }
    let keys: Vec<Vec<u8>> = s
        .scan(Column::Code, b"p/", None, 100)
        .unwrap()
        .into_iter()
        .map(|(k, v)| {
            assert_eq!(k, v);
            k
        })
        .collect();
    assert_eq!(
        keys,
        vec![
            b"p/1".to_vec(),
            b"p/2".to_vec(),
            b"p/3".to_vec(),
            b"p/\xff\xff".to_vec()
        ]
    );
    assert_eq!(s.scan(Column::Code, b"", None, 100).unwrap().len(), 7);
    assert!(s.scan(Column::Code, b"zz", None, 100).unwrap().is_empty());
}

fn scan_start_and_limit(s: &dyn KvStore) {
    for i in 0u8..10 {
        s.put(Column::Evidence, &[b'a', i], &[i]).unwrap();
    }
    let page = s.scan(Column::Evidence, b"a", None, 3).unwrap();
    assert_eq!(page.len(), 3);
    assert_eq!(page[2].0, vec![b'a', 2]);
    let mut next = page[2].0.clone();
    next.push(0);
    let page2 = s.scan(Column::Evidence, b"a", Some(&next), 3).unwrap();
    assert_eq!(page2[0].0, vec![b'a', 3]);
    // A start before the prefix begins at the prefix.
    assert_eq!(
        s.scan(Column::Evidence, b"a", Some(b"0"), 1).unwrap()[0].0,
        vec![b'a', 0]
    );
    // A start past the prefix yields nothing.
    assert!(
        s.scan(Column::Evidence, b"a", Some(b"b"), 10)
            .unwrap()
            .is_empty()
    );
    assert!(s.scan(Column::Evidence, b"a", None, 0).unwrap().is_empty());
}

fn batch_is_atomic_and_ordered(s: &dyn KvStore) {
    s.put(Column::TxIndex, b"gone", b"1").unwrap();
    let mut b = WriteBatch::new();
    b.put(Column::TxIndex, b"a", b"1");
    b.put(Column::TxIndex, b"a", b"2"); // later write wins
    b.put(Column::Receipts, b"b", b"3");
    b.delete(Column::TxIndex, b"gone");
    b.put(Column::TxIndex, b"c", b"x");
    b.delete(Column::TxIndex, b"c"); // later delete wins
    s.write(b, Durability::Sync).unwrap();
    assert_eq!(s.get(Column::TxIndex, b"a").unwrap(), Some(b"2".to_vec()));
    assert_eq!(s.get(Column::Receipts, b"b").unwrap(), Some(b"3".to_vec()));
    assert_eq!(s.get(Column::TxIndex, b"gone").unwrap(), None);
    assert_eq!(s.get(Column::TxIndex, b"c").unwrap(), None);
    s.write(WriteBatch::new(), Durability::Buffered).unwrap();
}

fn empty_values_and_keys(s: &dyn KvStore) {
    s.put(Column::Wal, b"empty", b"").unwrap();
    assert_eq!(s.get(Column::Wal, b"empty").unwrap(), Some(Vec::new()));
    s.put(Column::Wal, b"", b"root").unwrap();
    assert_eq!(s.get(Column::Wal, b"").unwrap(), Some(b"root".to_vec()));
}
