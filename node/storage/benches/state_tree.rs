//! State-tree benchmark: a block of 10,000 changed keys over a store of 1,000,000 keys
//! (RocksDB), plus the size of an inclusion proof.
//!
//! `cargo bench -p phalanx-storage --bench state_tree`
//! (`PHALANX_BENCH_KEYS` overrides the store size.)

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use phalanx_storage::*;
use std::sync::Arc;
use std::time::Instant;

const CHANGED: usize = 10_000;

fn key(i: u64) -> Vec<u8> {
    let mut k = b"contract-".to_vec();
    k.extend_from_slice(&i.to_be_bytes());
    k
}

fn bench(c: &mut Criterion) {
    let total: u64 = std::env::var("PHALANX_BENCH_KEYS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let kv: Arc<dyn KvStore> = Arc::new(RocksStore::open(dir.path()).unwrap());
    let state = StateStore::new(kv.clone());
    let started = Instant::now();
    let chunk = 100_000u64;
    let mut version = 0;
    let mut i = 0;
    while i < total {
        let changes: StateChanges = (i..(i + chunk).min(total))
            .map(|j| (key(j), Some(j.to_le_bytes().to_vec())))
            .collect();
        let mut batch = WriteBatch::new();
        state.stage_commit(&mut batch, version, &changes).unwrap();
        kv.write(batch, Durability::Buffered).unwrap();
        version += 1;
        i += chunk;
    }
    eprintln!("loaded {total} keys in {:.1?}", started.elapsed());
    let root = state.root(version - 1).unwrap();
    let (value, proof) = state.get_with_proof(&key(total / 2), version - 1).unwrap();
    verify_state_proof(root, &key(total / 2), value.as_deref(), &proof).unwrap();
    eprintln!(
        "inclusion proof size: {} bytes (bincode), {} bytes (JSON)",
        phalanx_types::encode(&proof).len(),
        serde_json::to_string(&proof).map(|s| s.len()).unwrap_or(0)
    );
    let (_, absent) = state.get_with_proof(b"absent-key", version - 1).unwrap();
    eprintln!(
        "non-inclusion proof size: {} bytes (bincode)",
        phalanx_types::encode(&absent).len()
    );

    // 10,000 changed keys spread across the store: half updates, half inserts.
    let block: StateChanges = (0..CHANGED as u64)
        .map(|j| {
            let k = if j % 2 == 0 {
                key(j * (total / CHANGED as u64))
            } else {
                key(total + j)
            };
            (k, Some(vec![7u8; 32]))
        })
        .collect();
    let mut group = c.benchmark_group("state_tree");
    group.sample_size(10);
    group.throughput(Throughput::Elements(CHANGED as u64));
    group.bench_function("commit_10k_changed_keys_over_1m", |b| {
        b.iter(|| {
            let mut batch = WriteBatch::new();
            state.stage_commit(&mut batch, version, &block).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
