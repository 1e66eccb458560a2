//! Both stores pass the same conformance suite.

use phalanx_storage::{MemoryStore, RocksStore, conformance};

#[test]
fn memory_store_conforms() {
    conformance::run_all(&MemoryStore::new());
}

#[test]
fn rocks_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run_all(&RocksStore::open(dir.path()).unwrap());
}
