//! What the network tests share: a block source that serves no blocks, and a node identity
//! with an address on 127.0.0.1.

#![allow(dead_code)]

use libp2p::{Multiaddr, PeerId, identity};
use phalanx_network::{BlockSource, NetEvent, Network, NetworkConfig, spawn};
use phalanx_types::{Block, CommitCertificate, Height};
use std::time::Duration;
use tokio::sync::mpsc;

/// A node's key and listen address.
pub struct Node {
    pub key: identity::Keypair,
    pub addr: Multiaddr,
}

impl Node {
    /// A fresh key and a free port.
    pub fn new() -> Node {
        let key = identity::Keypair::generate_ed25519();
        let addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/{}", free_port())
            .parse()
            .unwrap();
        Node { key, addr }
    }

    /// Its peer id.
    pub fn id(&self) -> PeerId {
        self.key.public().to_peer_id()
    }

    /// Its address with `/p2p/<id>`.
    pub fn full_addr(&self) -> Multiaddr {
        format!("{}/p2p/{}", self.addr, self.id()).parse().unwrap()
    }

    /// Starts its swarm serving `source`, dialing `dial`, allowing `allowed`.
    pub fn spawn(
        &self,
        source: impl BlockSource,
        dial: Vec<Multiaddr>,
        allowed: Vec<PeerId>,
        status_interval: Duration,
    ) -> (Network, mpsc::Receiver<NetEvent>) {
        self.spawn_with(source, dial, allowed, status_interval, |_| {})
    }

    /// [`Node::spawn`] with a last change to the configuration.
    pub fn spawn_with(
        &self,
        source: impl BlockSource,
        dial: Vec<Multiaddr>,
        allowed: Vec<PeerId>,
        status_interval: Duration,
        edit: impl FnOnce(&mut NetworkConfig),
    ) -> (Network, mpsc::Receiver<NetEvent>) {
        let mut cfg = NetworkConfig::new(self.key.clone(), self.addr.clone());
        cfg.dial = dial;
        cfg.allowed = allowed;
        cfg.status_interval = status_interval;
        edit(&mut cfg);
        spawn(cfg, source).unwrap()
    }
}

/// A node at a fixed height with no blocks to serve.
pub struct Tip(pub Height);

impl BlockSource for Tip {
    fn tip(&self) -> Height {
        self.0
    }
    fn blocks(&self, _: Height, _: u32, _: usize) -> Vec<(Block, CommitCertificate)> {
        Vec::new()
    }
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
