//! What a remote signer costs per signature: a key held in the node against `phalanx
//! signer` over loopback (libp2p, Noise, a new stream per request), its guard log synced to
//! the disk under the target directory, the same as in production.
//!
//! `cargo bench -p phalanx-signer --bench sign`

use criterion::{Criterion, criterion_group, criterion_main};
use phalanx_consensus::StatementSigner;
use phalanx_signer::client::RemoteSigner;
use phalanx_signer::server::{SignerConfig, serve};
use phalanx_types::consensus::{Phase, Statement};
use phalanx_types::{Hash, SecretKey};
use std::time::Duration;

fn statement(height: u64) -> Statement {
    Statement {
        phase: Phase::Prepare,
        view: 0,
        height,
        digest: Hash([7; 32]),
    }
}

fn bench(c: &mut Criterion) {
    let key = SecretKey::generate();
    let mut height = 0u64;
    c.bench_function("sign/local key", |b| {
        b.iter(|| {
            height += 1;
            key.sign_statement("bench", &statement(height)).unwrap()
        })
    });

    // The guard's log on the build's disk (not a tmpfs), as a signer host keeps it.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let node = libp2p::identity::Keypair::generate_ed25519();
    let signer = libp2p::identity::Keypair::generate_ed25519();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen: libp2p::Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap();
    let config = SignerConfig {
        key: key.clone(),
        identity: signer.clone(),
        listen: listen.clone(),
        node: node.public().to_peer_id(),
        chain_id: "bench".into(),
        state: dir.path().join("sign_state.jsonl"),
        new_state: true,
    };
    rt.spawn(async move { serve(config, std::future::pending()).await.unwrap() });
    let addr = listen.with(libp2p::multiaddr::Protocol::P2p(
        signer.public().to_peer_id(),
    ));
    let remote = rt
        .block_on(RemoteSigner::connect(
            node,
            &addr,
            Duration::from_secs(5),
            Duration::from_secs(10),
        ))
        .unwrap();
    c.bench_function(
        "sign/remote signer, new statement (guard log synced)",
        |b| {
            b.iter(|| {
                height += 1;
                rt.block_on(remote.sign("bench", &statement(height)))
                    .unwrap()
            })
        },
    );
    c.bench_function("sign/remote signer, same statement again (no write)", |b| {
        b.iter(|| {
            rt.block_on(remote.sign("bench", &statement(height)))
                .unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
