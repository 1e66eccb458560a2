//! Real swarms on 127.0.0.1: allowed peers connect and talk; a peer off the allowlist is
//! refused whichever side dials.

mod common;

use common::{Node, Tip};
use libp2p::{Multiaddr, PeerId};
use phalanx_network::{NetEvent, Network};
use phalanx_types::Height;
use std::time::Duration;
use tokio::sync::mpsc;

/// Starts `node` at `height`, exchanging status every 200 ms.
fn start(
    node: &Node,
    height: Height,
    dial: Vec<Multiaddr>,
    allowed: Vec<PeerId>,
) -> (Network, mpsc::Receiver<NetEvent>) {
    node.spawn(Tip(height), dial, allowed, Duration::from_millis(200))
}

/// Waits (up to 10 s) for a status event from `peer`.
async fn status_from(rx: &mut mpsc::Receiver<NetEvent>, peer: PeerId) -> Height {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(NetEvent::Status { peer: p, height }) = rx.recv().await
                && p == peer
            {
                return height;
            }
        }
    })
    .await
    .expect("no status from the peer within 10 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_peers_connect_and_strangers_are_refused() {
    let (a, b, stranger) = (Node::new(), Node::new(), Node::new());
    let members = vec![a.id(), b.id()];
    let (net_a, mut rx_a) = start(&a, 5, vec![b.full_addr()], members.clone());
    let (net_b, mut rx_b) = start(&b, 9, vec![a.full_addr()], members.clone());
    assert_eq!(status_from(&mut rx_a, b.id()).await, 9);
    assert_eq!(status_from(&mut rx_b, a.id()).await, 5);
    assert_eq!(net_a.peers(), vec![b.id()]);

    // The stranger allows everyone and dials both; both refuse it. It also listens, so a
    // validator configured to dial it would be refused by its own allowlist the same way.
    let (net_s, mut rx_s) = start(
        &stranger,
        1,
        vec![a.full_addr(), b.full_addr()],
        vec![a.id(), b.id(), stranger.id()],
    );
    // Sampled throughout its redials: the stranger never counts a validator as a peer (a
    // refusing remote looks connected for a moment, but never talks).
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            net_s.peers().is_empty(),
            "stranger got in: {:?}",
            net_s.peers()
        );
        assert_eq!(net_a.peers(), vec![b.id()]);
    }
    assert_eq!(net_a.peers(), vec![b.id()]);
    assert_eq!(net_b.peers(), vec![a.id()]);
    while let Ok(e) = rx_s.try_recv() {
        assert!(
            !matches!(e, NetEvent::Status { .. }),
            "the stranger heard from a validator: {e:?}"
        );
    }
    while let Ok(e) = rx_a.try_recv() {
        if let NetEvent::Status { peer, .. } = e {
            assert_ne!(peer, stranger.id(), "a validator heard from the stranger");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_restarts_is_redialed() {
    let (a, b) = (Node::new(), Node::new());
    let members = vec![a.id(), b.id()];
    let (_net_a, mut rx_a) = start(&a, 1, vec![b.full_addr()], members.clone());
    {
        let (_net_b, mut rx_b) = start(&b, 2, vec![], members.clone());
        assert_eq!(status_from(&mut rx_a, b.id()).await, 2);
        assert_eq!(status_from(&mut rx_b, a.id()).await, 1);
    }
    // b's handle is gone, which stops its task; start it again on the same address.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_net_b, _rx_b) = start(&b, 3, vec![], members);
    loop {
        if status_from(&mut rx_a, b.id()).await == 3 {
            break;
        }
    }
}
