//! Real swarms on 127.0.0.1 under abuse from an allowlisted peer: a flooding peer does not
//! starve another, slow block reads do not stall the swarm, and allowlist changes are never
//! lost however busy the command queue is.

mod common;

use common::{Node, Tip};
use libp2p::PeerId;
use phalanx_network::{BlockSource, NetEvent, Network};
use phalanx_types::{Block, CommitCertificate, Height};
use std::time::{Duration, Instant};

/// Status messages only when a test sends them.
const NO_STATUS: Duration = Duration::from_secs(3_600);

/// Waits until `net` counts every one of `peers` as connected.
async fn connected(net: &Network, peers: &[PeerId]) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !peers.iter().all(|p| net.peers().contains(p)) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("peers did not connect within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_peer_does_not_starve_an_honest_one() {
    let (a, flood, honest) = (Node::new(), Node::new(), Node::new());
    let all = vec![a.id(), flood.id(), honest.id()];
    let (_net_a, mut rx_a) = a.spawn(Tip(1), vec![], all.clone(), NO_STATUS);
    let (net_f, _rx_f) = flood.spawn(Tip(1), vec![a.full_addr()], all.clone(), NO_STATUS);
    let (net_h, _rx_h) = honest.spawn(Tip(1), vec![a.full_addr()], all.clone(), NO_STATUS);
    connected(&net_f, &[a.id()]).await;
    connected(&net_h, &[a.id()]).await;
    while rx_a.try_recv().is_ok() {}

    // The flooder sends as fast as its queue takes, the honest peer 50 messages; the node
    // is busy and takes one event per millisecond.
    let target = a.id();
    let flooder = tokio::spawn(async move {
        for i in 0..200_000u64 {
            net_f.send_status(target, 1_000 + i);
            if i % 512 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });
    // The flood has filled every queue on the way when the honest peer sends its 50.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..50 {
        net_h.send_status(a.id(), i);
    }
    let (mut from_honest, mut from_flood, mut other) = (0, 0, 0);
    let began = Instant::now();
    while began.elapsed() < Duration::from_secs(10) && from_honest < 50 {
        match tokio::time::timeout(Duration::from_millis(100), rx_a.recv()).await {
            Ok(Some(NetEvent::Status { peer, .. })) if peer == honest.id() => from_honest += 1,
            Ok(Some(NetEvent::Status { peer, .. })) if peer == flood.id() => from_flood += 1,
            _ => other += 1,
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    flooder.abort();
    eprintln!(
        "fairness: the busy node took {from_flood} messages from the flooder and {from_honest} of 50 from the honest peer ({other} other)"
    );
    assert_eq!(from_honest, 50, "every honest message reached the node");
    // Served in turn: the node took about as many of the flooder's as of the honest peer's,
    // plus what was already on its way (the queue between the swarm and the node holds 64).
    assert!(
        from_flood <= 64 + 50 + 64,
        "{from_flood} flood messages first"
    );
}

/// A store that takes `delay` to read blocks.
struct Slow(Duration);

impl BlockSource for Slow {
    fn tip(&self) -> Height {
        7
    }
    fn blocks(&self, _: Height, _: u32, _: usize) -> Vec<(Block, CommitCertificate)> {
        std::thread::sleep(self.0);
        Vec::new()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_block_reads_do_not_stall_the_swarm() {
    let (a, b) = (Node::new(), Node::new());
    let all = vec![a.id(), b.id()];
    let (_net_a, mut rx_a) = a.spawn(Slow(Duration::from_secs(3)), vec![], all.clone(), NO_STATUS);
    let (net_b, mut rx_b) = b.spawn(Tip(1), vec![a.full_addr()], all.clone(), NO_STATUS);
    connected(&net_b, &[a.id()]).await;
    while rx_a.try_recv().is_ok() {}
    // Block requests that each take 3 s to read; then a status message, answered at once.
    for _ in 0..4 {
        net_b.request_blocks(a.id(), 1);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let began = Instant::now();
    net_b.send_status(a.id(), 42);
    let heard = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            if let Some(NetEvent::Status { height: 42, .. }) = rx_a.recv().await {
                return began.elapsed();
            }
        }
    })
    .await
    .expect("the swarm stalled behind block reads");
    eprintln!(
        "fairness: a status message arrived {heard:?} after it was sent, during slow block reads"
    );
    // The requests over the per-peer bound were answered at once, empty.
    let mut answers = 0;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(e) = rx_b.recv().await {
            if matches!(e, NetEvent::Blocks { ref blocks, tip: 7, .. } if blocks.is_empty()) {
                answers += 1;
            }
        }
    })
    .await;
    assert!(answers >= 3, "{answers} immediate answers");
}

// One thread: the swarm runs only when the test awaits, so the command queue is full when
// the change is made.
#[tokio::test(flavor = "current_thread")]
async fn an_allowlist_change_is_never_lost() {
    let (a, b) = (Node::new(), Node::new());
    let all = vec![a.id(), b.id()];
    let (net_a, _rx_a) = a.spawn(Tip(1), vec![b.full_addr()], all.clone(), NO_STATUS);
    let (net_b, _rx_b) = b.spawn(Tip(1), vec![a.full_addr()], all.clone(), NO_STATUS);
    connected(&net_a, &[b.id()]).await;
    // The command queue is full of outgoing messages (to a peer that is not there) when b
    // is removed.
    let nobody = PeerId::random();
    for i in 0..20_000 {
        net_a.send_status(nobody, i);
    }
    net_a.set_allowed([a.id()]);
    tokio::time::timeout(Duration::from_secs(10), async {
        while net_a.peers().contains(&b.id()) || net_b.peers().contains(&a.id()) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the removed peer stayed connected");
}
