//! Per-transaction costs every node pays: signature verification (strict, as the node does
//! it; and ed25519-dalek's batch verification for comparison), decoding and hashing a signed
//! transaction. `cargo bench --workspace --bench crypto`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use phalanx_types::{Address, Bytes, SecretKey, SignedTx, Tx, TxPayload};

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
    g.bench_function("verify_strict", |b| b.iter(|| tx.verify("bench").unwrap()));
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

    // Batch verification of 64 signatures by 64 keys, against 64 single verifications.
    const N: usize = 64;
    let keys: Vec<SigningKey> = (0..N)
        .map(|i| SigningKey::from_bytes(&[i as u8 + 1; 32]))
        .collect();
    let messages: Vec<Vec<u8>> = (0..N)
        .map(|i| format!("message {i}").into_bytes())
        .collect();
    let sigs: Vec<ed25519_dalek::Signature> =
        keys.iter().zip(&messages).map(|(k, m)| k.sign(m)).collect();
    let vks: Vec<VerifyingKey> = keys.iter().map(SigningKey::verifying_key).collect();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let mut g = c.benchmark_group("signatures_64");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("single_strict", |b| {
        b.iter(|| {
            for i in 0..N {
                vks[i].verify_strict(refs[i], &sigs[i]).unwrap();
            }
        })
    });
    g.bench_function("batch", |b| {
        b.iter_batched(
            || (),
            |_| ed25519_dalek::verify_batch(&refs, &sigs, &vks).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
