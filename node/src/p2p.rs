//! Glue between the network and the core: the allowlist and dial list from genesis and
//! config, serving blocks from the store, and turning peer traffic into core inputs.

use crate::config::NodeConfig;
use crate::service::{Command, Outbound};
use anyhow::{Context, Result};
use libp2p::{Multiaddr, PeerId, identity};
use phalanx_core::{Event, SyncBatch};
use phalanx_executor::mempool::VerifiedTx;
use phalanx_genesis::Genesis;
use phalanx_network::{BlockSource, NetEvent, Network, NetworkConfig};
use phalanx_storage::BlockStore;
use phalanx_types::consensus::SignedMessage;
use phalanx_types::{Block, CommitCertificate, Height, SecretKey, SignedTx};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Committed blocks served to peers straight from the store.
pub struct StoreSource(pub BlockStore);

impl BlockSource for StoreSource {
    fn tip(&self) -> Height {
        self.0.latest_height().unwrap_or(0)
    }

    fn blocks(&self, from: Height, max: u32, max_bytes: usize) -> Vec<(Block, CommitCertificate)> {
        self.0
            .certified_blocks(from, max as usize, max_bytes)
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot read blocks to serve a peer");
                Vec::new()
            })
    }
}

/// The store's blocks, once the store is open: the network starts first (a state sync uses
/// it before there is a store) and serves nothing until then.
#[derive(Clone, Default)]
pub struct LateBlocks(Arc<std::sync::OnceLock<StoreSource>>);

impl LateBlocks {
    /// Serves `blocks` from now on.
    pub fn set(&self, blocks: BlockStore) {
        let _ = self.0.set(StoreSource(blocks));
    }
}

impl BlockSource for LateBlocks {
    fn tip(&self) -> Height {
        self.0.get().map_or(0, BlockSource::tip)
    }

    fn blocks(&self, from: Height, max: u32, max_bytes: usize) -> Vec<(Block, CommitCertificate)> {
        self.0
            .get()
            .map(|s| s.blocks(from, max, max_bytes))
            .unwrap_or_default()
    }
}

/// The libp2p identity of a node key.
pub fn keypair(node_key: &SecretKey) -> Result<identity::Keypair> {
    let mut seed = *node_key.to_seed();
    identity::Keypair::ed25519_from_bytes(&mut seed)
        .map_err(|e| anyhow::anyhow!("invalid node key: {e}"))
}

/// Network settings: listen and dial from config, allowlist from genesis.
pub fn network_config(
    node_key: &SecretKey,
    config: &NodeConfig,
    genesis: &Genesis,
) -> Result<NetworkConfig> {
    let listen: Multiaddr = config
        .p2p
        .listen
        .parse()
        .with_context(|| format!("invalid p2p.listen {:?}", config.p2p.listen))?;
    let mut net = NetworkConfig::new(keypair(node_key)?, listen);
    for p in &config.p2p.peers {
        let addr: Multiaddr = p
            .parse()
            .with_context(|| format!("invalid peer address {p:?} in p2p.peers"))?;
        if phalanx_network::peer_of(&addr).is_none() {
            anyhow::bail!("peer address {p:?} must end in /p2p/<peer id>");
        }
        net.dial.push(addr);
    }
    let ids = genesis
        .validators
        .iter()
        .map(|v| &v.peer_id)
        .chain(genesis.observers.iter().map(|o| &o.peer_id));
    for id in ids {
        net.allowed.push(
            id.parse::<PeerId>()
                .with_context(|| format!("invalid peer id {id:?} in genesis"))?,
        );
    }
    Ok(net)
}

/// The core's outbound traffic over libp2p.
pub struct P2p {
    /// The swarm.
    pub net: Network,
    /// Observers named in genesis: always allowed, whatever the validator set.
    pub observers: Vec<PeerId>,
}

impl P2p {
    /// Outbound traffic over `net`; `genesis` names the observers.
    pub fn new(net: Network, genesis: &Genesis) -> P2p {
        let observers = genesis
            .observers
            .iter()
            .filter_map(|o| parse_peer(&o.peer_id))
            .collect();
        P2p { net, observers }
    }
}

fn parse_peer(peer: &str) -> Option<PeerId> {
    peer.parse().ok()
}

impl Outbound for P2p {
    fn broadcast(&self, message: Box<SignedMessage>) {
        self.net.broadcast(message);
    }

    fn gossip_txs(&self, txs: Vec<SignedTx>) {
        self.net.gossip_txs(txs);
    }

    fn request_blocks(&self, peer: String, from: Height) {
        if let Some(p) = parse_peer(&peer) {
            self.net.request_blocks(p, from);
        }
    }

    fn send_status(&self, peer: String, height: Height) {
        if let Some(p) = parse_peer(&peer) {
            self.net.send_status(p, height);
        }
    }

    fn set_validator_peers(&self, peers: Vec<String>) {
        let peers = peers.iter().filter_map(|p| parse_peer(p));
        self.net
            .set_allowed(peers.chain(self.observers.iter().copied()));
    }
}

/// Transaction batches from peers whose signatures are being checked at once.
const PEER_TX_CHECKS: usize = 2;

/// Transaction batches from peers waiting for or in a check, and their bytes; one arriving
/// over either bound is dropped (the node its client chose forwards it again).
const PEER_TX_BATCHES: usize = 32;
const PEER_TX_BYTES: usize = 64 * 1024 * 1024;

/// Feeds what peers send into the core's queue (waiting when it is full). Forwarded
/// transactions are verified on the side, one blocking thread per batch and at most
/// [`PEER_TX_CHECKS`] at once ([`PEER_TX_BATCHES`] waiting), so consensus messages never
/// wait behind signature checks, and bad ones are dropped.
pub async fn forward(
    mut events: mpsc::Receiver<NetEvent>,
    core: mpsc::Sender<Command>,
    chain_id: String,
) {
    let checks = Arc::new(tokio::sync::Semaphore::new(PEER_TX_CHECKS));
    let batches = Arc::new(tokio::sync::Semaphore::new(PEER_TX_BATCHES));
    let bytes = Arc::new(tokio::sync::Semaphore::new(PEER_TX_BYTES));
    while let Some(e) = events.recv().await {
        let event = match e {
            NetEvent::Consensus(m) => Event::Message(m),
            NetEvent::Txs(txs) => {
                let size = txs.iter().map(SignedTx::encoded_len).sum::<usize>();
                let room = u32::try_from(size)
                    .ok()
                    .and_then(|n| bytes.clone().try_acquire_many_owned(n).ok());
                let (Ok(waiting), Some(room)) = (batches.clone().try_acquire_owned(), room) else {
                    tracing::debug!("busy checking forwarded transactions; dropped a batch");
                    continue;
                };
                let (checks, chain_id, core) = (checks.clone(), chain_id.clone(), core.clone());
                tokio::spawn(async move {
                    let _waiting = (waiting, room);
                    if let Ok(permit) = checks.acquire_owned().await {
                        check_and_admit(txs, chain_id, core, permit).await;
                    }
                });
                continue;
            }
            NetEvent::Status { peer, height } => Event::PeerStatus {
                peer: peer.to_base58(),
                height,
            },
            NetEvent::Blocks { peer, blocks, tip } => Event::Blocks {
                peer: peer.to_base58(),
                batch: SyncBatch { blocks, tip },
            },
        };
        if core.send(Command::Event(event)).await.is_err() {
            break;
        }
    }
}

/// Checks a forwarded batch's signatures on a blocking thread, then offers the good ones
/// to the core. A failed check (a panic in the task) loses this batch, nothing else.
async fn check_and_admit(
    txs: Vec<SignedTx>,
    chain_id: String,
    core: mpsc::Sender<Command>,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let checked = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        VerifiedTx::new_many(txs, &chain_id)
    })
    .await;
    let checked = match checked {
        Ok(checked) => checked,
        Err(e) => {
            tracing::warn!(error = %e, "signature check of forwarded transactions failed");
            return;
        }
    };
    let verified: Vec<_> = checked
        .into_iter()
        .filter_map(|r| {
            r.map_err(|e| tracing::debug!(error = %e, "dropped a forwarded transaction"))
                .ok()
        })
        .collect();
    if !verified.is_empty() {
        let _ = core.send(Command::Event(Event::PeerTxs(verified))).await;
    }
}
