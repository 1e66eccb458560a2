//! Per-transaction costs every node pays: signature verification (ZIP-215, one by one and in
//! the batches the node uses; strict RFC 8032, the consensus-message rule, for comparison),
//! decoding and hashing a signed transaction. `cargo bench --workspace --bench crypto`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use phalanx_types::tx::VERIFY_BATCH;
use phalanx_types::{Address, Bytes, SecretKey, SignedTx, Tx, TxPayload, verify_txs};

fn transfer(key: &SecretKey, nonce: u64) -> SignedTx {
    Tx {
        chain_id: "bench".into(),
        sender: key.public_key(),
        nonce,
        gas_limit: 1_000_000,
        payload: TxPayload::Call {
            contract: Address([7; 32]),
            method: "transfer".into(),
            args: Bytes(
                br#"{"to":"a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1","amount":"7"}"#
                    .to_vec(),
            ),
        },
    }
    .sign(key)
}

fn bench(c: &mut Criterion) {
    let key = SecretKey::from_seed([9; 32]);
    let tx = transfer(&key, 1);
    let bytes = tx.to_bytes();

    let mut g = c.benchmark_group("tx");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify_zip215", |b| b.iter(|| tx.verify("bench").unwrap()));
    let hash = tx.tx.signing_hash();
    g.bench_function("verify_strict", |b| {
        b.iter(|| tx.tx.sender.verify(&hash.0, &tx.signature).unwrap())
    });
    g.bench_function("decode", |b| {
        b.iter(|| SignedTx::from_bytes(&bytes).unwrap())
    });
    g.bench_function("hash", |b| b.iter(|| tx.hash()));
    g.bench_function("decode_verify_hash", |b| {
        b.iter(|| {
            let t = SignedTx::from_bytes(&bytes).unwrap();
            t.verify("bench").unwrap();
            t.hash()
        })
    });
    g.finish();

    // One batch of transfers by distinct senders, as `verify_txs` checks them, against the
    // same transactions checked one by one.
    let txs: Vec<SignedTx> = (0..VERIFY_BATCH)
        .map(|i| transfer(&SecretKey::from_seed([i as u8 + 1; 32]), i as u64))
        .collect();
    let mut g = c.benchmark_group(format!("txs_{VERIFY_BATCH}"));
    g.throughput(Throughput::Elements(VERIFY_BATCH as u64));
    g.bench_function("one_by_one", |b| {
        b.iter(|| txs.iter().all(|t| t.verify("bench").is_ok()))
    });
    g.bench_function("batch", |b| {
        b.iter(|| verify_txs(&txs, "bench").iter().all(Result::is_ok))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
