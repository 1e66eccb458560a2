//! The Phalanx peer-to-peer layer (libp2p: TCP, Noise, Yamux).
//!
//! - **Permissioned**: only peer ids on the allowlist (the validators and observers named in
//!   genesis) may hold a connection. Any other peer is refused as soon as its Noise handshake
//!   reveals who it is, whichever side dialed.
//! - **Bounded and fair**: every frame is at most [`wire::MAX_FRAME`] bytes and frames in
//!   flight share [`wire::MAX_INFLIGHT_BYTES`]; a connection carries at most
//!   [`MAX_STREAMS`] requests at once; handshakes pending are capped; every per-message cap
//!   is checked on receipt. What peers send waits in per-peer queues bounded in messages and
//!   bytes ([`InboxLimits`]) and reaches the node round-robin, so a flooding peer loses its
//!   own excess (pBFT tolerates lost messages), not other peers' share.
//! - **Off the swarm task**: block requests are read from storage on at most
//!   [`task::BLOCK_SERVERS`] blocking threads, one per peer.
//! - **Lossless control**: the allowlist is a watched value, so the latest set always
//!   reaches the swarm, however busy it is.
//! - **Self-healing**: configured peers are redialed with exponential back-off.
//!
//! [`spawn`] starts the swarm task and returns a [`Network`] handle (to send) and a receiver
//! of [`NetEvent`]s (what peers sent). Block requests from peers are answered from a
//! [`BlockSource`] without involving the node's core.

mod inbox;
pub mod push;
pub mod task;
pub mod wire;

pub use inbox::InboxLimits;

use inbox::SharedInbox;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{Multiaddr, PeerId, allow_block_list, connection_limits, identity, noise, tcp, yamux};
use phalanx_types::consensus::SignedMessage;
use phalanx_types::{Block, CommitCertificate, Height, SignedTx};
use push::Frame;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use task::{Redial, Task};
use tokio::sync::{mpsc, watch};
use wire::{MAX_BLOCKS, Request, WireCodec};

/// Why the network could not start.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The transport could not be built.
    #[error("transport: {0}")]
    Transport(String),
    /// The listen address is unusable.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// Why.
        reason: String,
    },
}

/// Where the network serves committed blocks from (read on blocking threads).
pub trait BlockSource: Send + Sync + 'static {
    /// The latest committed height.
    fn tip(&self) -> Height;
    /// Consecutive certified blocks from `from`: at most `max` of them and about
    /// `max_bytes` in total (at least one if any exists).
    fn blocks(&self, from: Height, max: u32, max_bytes: usize) -> Vec<(Block, CommitCertificate)>;
}

/// The state snapshots a node serves to peers (read on blocking threads).
pub trait SnapshotSource: Send + Sync + 'static {
    /// The snapshots served now, newest first.
    fn offers(&self) -> Vec<wire::SnapshotOffer>;
    /// The encoded bytes of a part of the snapshot at `height`, if served.
    fn part(&self, height: Height, part: wire::SnapshotPart) -> Option<Vec<u8>>;
}

/// Serves no snapshots.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSnapshots;

impl SnapshotSource for NoSnapshots {
    fn offers(&self) -> Vec<wire::SnapshotOffer> {
        Vec::new()
    }

    fn part(&self, _: Height, _: wire::SnapshotPart) -> Option<Vec<u8>> {
        None
    }
}

/// Settings of the network.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// The node's libp2p identity.
    pub keypair: identity::Keypair,
    /// Where to listen.
    pub listen: Multiaddr,
    /// Peers to keep dialing: multiaddrs ending in `/p2p/<peer id>`.
    pub dial: Vec<Multiaddr>,
    /// Peer ids allowed to connect (this node's own id is ignored).
    pub allowed: Vec<PeerId>,
    /// How often to exchange heights with every peer.
    pub status_interval: Duration,
    /// Longest wait for an answer.
    pub request_timeout: Duration,
    /// Bounds of each peer's queue towards the node.
    pub inbox: InboxLimits,
    /// Send consensus messages and transactions on push streams, and take them on push
    /// streams (true). False behaves as a node of the previous version, which sends them as
    /// requests and has no push streams: for tests of mixed-version networks.
    pub push_streams: bool,
    /// Bytes of snapshot parts served to peers per second, all peers together (parts are
    /// also served one per peer and [`task::SNAPSHOT_SERVERS`] at once).
    pub snapshot_bytes_per_sec: u64,
}

/// Snapshot bytes served per second by default.
pub const DEFAULT_SNAPSHOT_BYTES_PER_SEC: u64 = 16 * 1024 * 1024;

impl NetworkConfig {
    /// Defaults for intervals and timeouts.
    pub fn new(keypair: identity::Keypair, listen: Multiaddr) -> NetworkConfig {
        NetworkConfig {
            keypair,
            listen,
            dial: Vec::new(),
            allowed: Vec::new(),
            status_interval: Duration::from_millis(1_000),
            request_timeout: Duration::from_secs(10),
            inbox: InboxLimits::default(),
            push_streams: true,
            snapshot_bytes_per_sec: DEFAULT_SNAPSHOT_BYTES_PER_SEC,
        }
    }
}

/// What peers sent.
#[derive(Debug, Clone)]
pub enum NetEvent {
    /// A consensus message.
    Consensus(Box<SignedMessage>),
    /// Transactions.
    Txs(Vec<SignedTx>),
    /// A peer's latest height.
    Status {
        /// The peer.
        peer: PeerId,
        /// Its height.
        height: Height,
    },
    /// The answer to [`Network::request_blocks`] (empty if the request failed).
    Blocks {
        /// The peer asked.
        peer: PeerId,
        /// Blocks with certificates.
        blocks: Vec<(Block, CommitCertificate)>,
        /// Its latest height (0 if the request failed).
        tip: Height,
    },
}

/// A push lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    Consensus,
    Txs,
}

enum Command {
    /// TEST ONLY: a request to every connected peer (raw frames).
    #[cfg(feature = "byzantine")]
    Broadcast(Request),
    /// A request-response exchange with one peer (status, blocks).
    Send(PeerId, Request),
    /// A frame for every connected peer's push stream of a lane.
    Push(Lane, Frame),
    /// A request to one peer whose answer goes back to the asker (`None`: it failed).
    Ask(
        PeerId,
        Request,
        tokio::sync::oneshot::Sender<Option<wire::Response>>,
    ),
}

/// Handle to the swarm task. Cheap to clone; sending never waits.
#[derive(Clone)]
pub struct Network {
    commands: mpsc::Sender<Command>,
    allowed: Arc<watch::Sender<BTreeSet<PeerId>>>,
    peers: watch::Receiver<Vec<PeerId>>,
    local: PeerId,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("local", &self.local)
            .finish()
    }
}

impl Network {
    fn submit(&self, cmd: Command) {
        if self.commands.try_send(cmd).is_err() {
            tracing::warn!("network queue full or closed; dropping an outgoing message");
        }
    }

    /// Sends a consensus message to every connected peer (on their consensus push streams;
    /// encoded here, once).
    pub fn broadcast(&self, message: Box<SignedMessage>) {
        let frame = wire::encode_request(&Request::Consensus(message));
        self.submit(Command::Push(Lane::Consensus, frame));
    }

    /// Forwards transactions to every connected peer, in messages of at most
    /// [`wire::MAX_TXS_PER_MESSAGE`] transactions and about [`wire::MAX_TXS_BYTES`] (so a
    /// batch of large ones still fits a frame).
    pub fn gossip_txs(&self, txs: Vec<SignedTx>) {
        let mut message = Vec::new();
        let mut bytes = 0;
        for tx in txs {
            let size = tx.encoded_len();
            if !message.is_empty()
                && (message.len() >= wire::MAX_TXS_PER_MESSAGE
                    || bytes + size > wire::MAX_TXS_BYTES)
            {
                let frame = wire::encode_request(&Request::Txs(std::mem::take(&mut message)));
                self.submit(Command::Push(Lane::Txs, frame));
                bytes = 0;
            }
            bytes += size;
            message.push(tx);
        }
        if !message.is_empty() {
            let frame = wire::encode_request(&Request::Txs(message));
            self.submit(Command::Push(Lane::Txs, frame));
        }
    }

    /// Asks `peer` for blocks from `from`; the answer arrives as [`NetEvent::Blocks`].
    pub fn request_blocks(&self, peer: PeerId, from: Height) {
        self.submit(Command::Send(
            peer,
            Request::GetBlocks {
                from,
                max: MAX_BLOCKS,
            },
        ));
    }

    /// Asks `peer` for snapshots or a snapshot part and waits for the answer: `None` if the
    /// request failed (no connection, too many in flight, timeout, a malformed answer).
    pub async fn ask(&self, peer: PeerId, request: Request) -> Option<wire::Response> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.commands
            .send(Command::Ask(peer, request, tx))
            .await
            .ok()?;
        rx.await.ok().flatten()
    }

    /// TEST ONLY (feature `byzantine`): sends `bytes` as a whole frame to every connected
    /// peer, whatever they are (hostile encodings the types cannot hold), both as a request
    /// and on the consensus push stream.
    #[cfg(feature = "byzantine")]
    pub fn broadcast_raw(&self, bytes: Vec<u8>) {
        self.push_raw(bytes.clone());
        self.submit(Command::Broadcast(Request::Raw(bytes)));
    }

    /// TEST ONLY (feature `byzantine`): sends `bytes` as a whole frame on every connected
    /// peer's consensus push stream, whatever they are.
    #[cfg(feature = "byzantine")]
    pub fn push_raw(&self, bytes: Vec<u8>) {
        self.submit(Command::Push(Lane::Consensus, bytes.into()));
    }

    /// Tells `peer` our height.
    pub fn send_status(&self, peer: PeerId, height: Height) {
        self.submit(Command::Send(peer, Request::Status { height }));
    }

    /// Replaces the allowlist (a governance change of the validator set): newly allowed
    /// peers may connect, and connections to peers no longer allowed are closed at once.
    pub fn set_allowed(&self, peers: impl IntoIterator<Item = PeerId>) {
        let peers: BTreeSet<PeerId> = peers.into_iter().filter(|p| *p != self.local).collect();
        // A watched value: never lost, and the swarm applies the latest one.
        self.allowed.send_if_modified(|current| {
            let changed = *current != peers;
            *current = peers;
            changed
        });
    }

    /// The peers connected now that have talked to us (so have accepted us).
    pub fn peers(&self) -> Vec<PeerId> {
        self.peers.borrow().clone()
    }

    /// This node's peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local
    }
}

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    allow: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    limits: connection_limits::Behaviour,
    rr: request_response::Behaviour<WireCodec>,
    streams: libp2p_stream::Behaviour,
}

/// The connection limit allows at least this many peers, so a validator set can grow.
const MAX_PEERS_HINT: usize = 32;

/// Frames on their way to peers without push streams, as requests (their writers wait for
/// room: what waits beyond stays in the bounded per-peer queues).
const LEGACY_QUEUE: usize = 256;

/// Capacity of the queue of commands to the swarm task.
const QUEUE: usize = 4096;

/// Capacity of the queue from the swarm task to the node: small, so what waits for the node
/// waits in the per-peer inbox, where it is served fairly.
const EVENTS: usize = 64;

/// Requests a peer may have in flight to us on one connection; more inbound streams are
/// dropped (the sender sees failed requests; yamux's own limit, which closes the whole
/// connection, is left well above this).
pub const MAX_STREAMS: usize = 128;

/// Connections from unknown peers still in their handshake (a peer is checked against the
/// allowlist once its handshake reveals who it is).
pub const MAX_PENDING_INCOMING: u32 = 32;

/// Starts the swarm task on the current tokio runtime, serving no snapshots.
pub fn spawn(
    config: NetworkConfig,
    source: impl BlockSource,
) -> Result<(Network, mpsc::Receiver<NetEvent>), NetworkError> {
    spawn_serving(config, source, Arc::new(NoSnapshots))
}

/// Starts the swarm task on the current tokio runtime, serving blocks from `source` and
/// state snapshots from `snapshots`.
pub fn spawn_serving(
    config: NetworkConfig,
    source: impl BlockSource,
    snapshots: Arc<dyn SnapshotSource>,
) -> Result<(Network, mpsc::Receiver<NetEvent>), NetworkError> {
    let local = config.keypair.public().to_peer_id();
    let allowed: BTreeSet<PeerId> = config
        .allowed
        .iter()
        .copied()
        .filter(|p| *p != local)
        .collect();
    // Room for the set to grow by governance without restarting.
    let max_conns = (allowed.len().max(MAX_PEERS_HINT) as u32 + 1) * 2;
    let request_timeout = config.request_timeout;
    let codec = WireCodec::default();
    let budget = codec.budget();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(config.keypair.clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| NetworkError::Transport(e.to_string()))?
        .with_behaviour(|_| {
            let mut allow = allow_block_list::Behaviour::default();
            for p in &allowed {
                allow.allow_peer(*p);
            }
            let limits = connection_limits::ConnectionLimits::default()
                .with_max_established_per_peer(Some(2))
                .with_max_established(Some(max_conns))
                .with_max_pending_incoming(Some(MAX_PENDING_INCOMING))
                .with_max_pending_outgoing(Some(max_conns));
            let rr = request_response::Behaviour::with_codec(
                codec,
                [(wire::PROTOCOL, ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(request_timeout)
                    .with_max_concurrent_streams(MAX_STREAMS),
            );
            Behaviour {
                allow,
                limits: connection_limits::Behaviour::new(limits),
                rr,
                streams: libp2p_stream::Behaviour::new(),
            }
        })
        .map_err(|e| NetworkError::Transport(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(24 * 3600)))
        .build();
    swarm
        .listen_on(config.listen.clone())
        .map_err(|e| NetworkError::Listen {
            addr: config.listen.clone(),
            reason: e.to_string(),
        })?;
    let (cmd_tx, cmd_rx) = mpsc::channel(QUEUE);
    let (event_tx, event_rx) = mpsc::channel(EVENTS);
    let (peers_tx, peers) = watch::channel(Vec::new());
    let (allowed_tx, allowed_rx) = watch::channel(allowed.clone());
    let (served_tx, served_rx) = mpsc::unbounded_channel();
    let dial = config
        .dial
        .iter()
        .filter_map(|addr| peer_of(addr).map(|p| (p, addr.clone())))
        .filter(|(p, _)| *p != local)
        .map(|(p, addr)| {
            (
                p,
                Redial {
                    addr,
                    next: Instant::now(),
                    backoff: Duration::from_millis(250),
                },
            )
        })
        .collect();
    let inbox = Arc::new(SharedInbox::new(config.inbox));
    let shares = Arc::new(push::Shares::default());
    let mut control = swarm.behaviour().streams.new_control();
    let lanes = if config.push_streams {
        vec![push::CONSENSUS, push::TXS]
    } else {
        Vec::new()
    };
    for lane in lanes {
        let incoming = control
            .accept(lane.clone())
            .map_err(|e| NetworkError::Transport(e.to_string()))?;
        tokio::spawn(push::accept(
            incoming,
            lane,
            budget.clone(),
            shares.clone(),
            inbox.clone(),
        ));
    }
    tokio::spawn(deliver(inbox.clone(), event_tx));
    let (legacy_tx, legacy_rx) = mpsc::channel(LEGACY_QUEUE);
    let task = Task {
        allowed,
        swarm,
        source: Arc::new(source),
        inbox,
        control,
        links: BTreeMap::new(),
        push_streams: config.push_streams,
        legacy_tx,
        peers: peers_tx,
        dial,
        connected: BTreeMap::new(),
        heard: BTreeSet::new(),
        block_requests: HashMap::new(),
        in_flight: HashMap::new(),
        in_flight_to: HashMap::new(),
        serving: BTreeSet::new(),
        served_tx,
        snapshots,
        snapshot_serving: BTreeSet::new(),
        snapshot_budget: task::FairRate::new(config.snapshot_bytes_per_sec),
        asks: HashMap::new(),
    };
    tokio::spawn(task.run(
        cmd_rx,
        allowed_rx,
        served_rx,
        legacy_rx,
        config.status_interval,
    ));
    Ok((
        Network {
            commands: cmd_tx,
            allowed: Arc::new(allowed_tx),
            peers,
            local,
        },
        event_rx,
    ))
}

/// Hands what peers sent to the node, one event at a time in the inbox's fair order; ends
/// when the node stops listening.
async fn deliver(inbox: Arc<SharedInbox>, events: mpsc::Sender<NetEvent>) {
    while let Ok(permit) = events.reserve().await {
        permit.send(inbox.next().await);
    }
}

/// The peer id a multiaddr ends with (`/p2p/<id>`).
pub fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        libp2p::multiaddr::Protocol::P2p(id) => Some(id),
        _ => None,
    })
}
