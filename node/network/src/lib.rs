//! The Phalanx peer-to-peer layer (libp2p: TCP, Noise, Yamux).
//!
//! - **Permissioned**: only peer ids on the allowlist (the validators and observers named in
//!   genesis) may hold a connection. Any other peer is refused as soon as its Noise handshake
//!   reveals who it is, whichever side dialed.
//! - **Bounded**: every frame is at most [`wire::MAX_FRAME`] bytes; connection counts are
//!   capped; the queues between this task and the node are bounded (a full queue drops
//!   consensus traffic, which pBFT tolerates, rather than growing memory).
//! - **Self-healing**: configured peers are redialed with exponential back-off.
//!
//! [`spawn`] starts the swarm task and returns a [`Network`] handle (to send) and a receiver
//! of [`NetEvent`]s (what peers sent). Block requests from peers are answered from a
//! [`BlockSource`] without involving the node's core.

pub mod wire;

use futures::StreamExt;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, Swarm, allow_block_list, connection_limits, identity, noise, tcp, yamux,
};
use phalanx_types::consensus::SignedMessage;
use phalanx_types::{Block, CommitCertificate, Height, SignedTx};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use wire::{MAX_BLOCKS, Request, Response, WireCodec};

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

/// Where the network serves committed blocks from.
pub trait BlockSource: Send + 'static {
    /// The latest committed height.
    fn tip(&self) -> Height;
    /// Consecutive certified blocks from `from`: at most `max` of them and about
    /// `max_bytes` in total (at least one if any exists).
    fn blocks(&self, from: Height, max: u32, max_bytes: usize) -> Vec<(Block, CommitCertificate)>;
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
}

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

enum Command {
    Broadcast(Request),
    Send(PeerId, Request),
    SetAllowed(BTreeSet<PeerId>),
}

/// Handle to the swarm task. Cheap to clone; sending never waits.
#[derive(Clone)]
pub struct Network {
    commands: mpsc::Sender<Command>,
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

    /// Sends a consensus message to every connected peer.
    pub fn broadcast(&self, message: Box<SignedMessage>) {
        self.submit(Command::Broadcast(Request::Consensus(message)));
    }

    /// Forwards transactions to every connected peer (split to stay under the frame limit).
    pub fn gossip_txs(&self, txs: Vec<SignedTx>) {
        for chunk in txs.chunks(wire::MAX_TXS_PER_MESSAGE) {
            self.submit(Command::Broadcast(Request::Txs(chunk.to_vec())));
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

    /// TEST ONLY (feature `byzantine`): sends `bytes` as a whole frame to every connected
    /// peer, whatever they are (hostile encodings the types cannot hold).
    #[cfg(feature = "byzantine")]
    pub fn broadcast_raw(&self, bytes: Vec<u8>) {
        self.submit(Command::Broadcast(Request::Raw(bytes)));
    }

    /// Tells `peer` our height.
    pub fn send_status(&self, peer: PeerId, height: Height) {
        self.submit(Command::Send(peer, Request::Status { height }));
    }

    /// Replaces the allowlist (a governance change of the validator set): newly allowed
    /// peers may connect, and connections to peers no longer allowed are closed at once.
    pub fn set_allowed(&self, peers: impl IntoIterator<Item = PeerId>) {
        let peers = peers.into_iter().filter(|p| *p != self.local).collect();
        self.submit(Command::SetAllowed(peers));
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
struct Behaviour {
    allow: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    limits: connection_limits::Behaviour,
    rr: request_response::Behaviour<WireCodec>,
}

/// The connection limit allows at least this many peers, so a validator set can grow.
const MAX_PEERS_HINT: usize = 32;

/// Capacity of the queues to and from the swarm task.
const QUEUE: usize = 4096;

/// Starts the swarm task on the current tokio runtime.
pub fn spawn(
    config: NetworkConfig,
    source: impl BlockSource,
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
                .with_max_pending_incoming(Some(max_conns))
                .with_max_pending_outgoing(Some(max_conns));
            let rr = request_response::Behaviour::with_codec(
                WireCodec,
                [(wire::PROTOCOL, ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(request_timeout)
                    .with_max_concurrent_streams(1024),
            );
            Behaviour {
                allow,
                limits: connection_limits::Behaviour::new(limits),
                rr,
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
    let (event_tx, event_rx) = mpsc::channel(QUEUE);
    let (peers_tx, peers) = watch::channel(Vec::new());
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
    let task = Task {
        allowed,
        swarm,
        source,
        events: event_tx,
        peers: peers_tx,
        dial,
        connected: BTreeMap::new(),
        heard: BTreeSet::new(),
        block_requests: HashMap::new(),
    };
    tokio::spawn(task.run(cmd_rx, config.status_interval));
    Ok((
        Network {
            commands: cmd_tx,
            peers,
            local,
        },
        event_rx,
    ))
}

/// The peer id a multiaddr ends with (`/p2p/<id>`).
pub fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        libp2p::multiaddr::Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

struct Redial {
    addr: Multiaddr,
    next: Instant,
    backoff: Duration,
}

const MAX_BACKOFF: Duration = Duration::from_secs(10);

struct Task<S> {
    /// Peers allowed to connect (mirrors the allowlist behaviour).
    allowed: BTreeSet<PeerId>,
    swarm: Swarm<Behaviour>,
    source: S,
    events: mpsc::Sender<NetEvent>,
    peers: watch::Sender<Vec<PeerId>>,
    dial: BTreeMap<PeerId, Redial>,
    /// Connected peers and how many connections each has.
    connected: BTreeMap<PeerId, usize>,
    /// Connected peers that have talked to us: a remote that refuses us (its allowlist
    /// lacks us) still looks connected from here until it closes, but never talks.
    heard: BTreeSet<PeerId>,
    block_requests: HashMap<OutboundRequestId, PeerId>,
}

impl<S: BlockSource> Task<S> {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>, status_every: Duration) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut last_status = Instant::now();
        loop {
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => break,
                },
                event = self.swarm.select_next_some() => self.swarm_event(event),
                _ = tick.tick() => {
                    self.redial();
                    if last_status.elapsed() >= status_every {
                        last_status = Instant::now();
                        let height = self.source.tip();
                        self.broadcast(Request::Status { height });
                    }
                }
            }
        }
        tracing::debug!("network task stopped");
    }

    fn broadcast(&mut self, request: Request) {
        let peers: Vec<PeerId> = self.connected.keys().copied().collect();
        for p in peers {
            self.swarm
                .behaviour_mut()
                .rr
                .send_request(&p, request.clone());
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Broadcast(r) => self.broadcast(r),
            Command::Send(peer, r) => {
                let blocks = matches!(r, Request::GetBlocks { .. });
                let id = self.swarm.behaviour_mut().rr.send_request(&peer, r);
                if blocks {
                    self.block_requests.insert(id, peer);
                }
            }
            Command::SetAllowed(peers) => self.set_allowed(peers),
        }
    }

    fn set_allowed(&mut self, peers: BTreeSet<PeerId>) {
        let allow = &mut self.swarm.behaviour_mut().allow;
        for p in peers.difference(&self.allowed) {
            tracing::info!(peer = %p, "peer allowed");
            allow.allow_peer(*p);
        }
        for p in self.allowed.difference(&peers) {
            tracing::info!(peer = %p, "peer no longer allowed; disconnecting");
            allow.disallow_peer(*p);
        }
        let now = Instant::now();
        for (p, r) in self.dial.iter_mut() {
            if peers.contains(p) && !self.allowed.contains(p) {
                r.next = now;
                r.backoff = Duration::from_millis(250);
            }
        }
        self.allowed = peers;
    }

    fn redial(&mut self) {
        let now = Instant::now();
        for (peer, r) in self.dial.iter_mut() {
            if self.connected.contains_key(peer) || r.next > now || !self.allowed.contains(peer) {
                continue;
            }
            r.next = now + r.backoff;
            r.backoff = (r.backoff * 2).min(MAX_BACKOFF);
            if let Err(e) = self.swarm.dial(r.addr.clone()) {
                tracing::debug!(%peer, error = %e, "dial failed");
            }
        }
    }

    fn emit(&self, event: NetEvent) {
        if self.events.try_send(event).is_err() {
            tracing::warn!("node queue full; dropping a message from a peer");
        }
    }

    fn publish_peers(&self) {
        let peers = self
            .connected
            .keys()
            .filter(|p| self.heard.contains(*p))
            .copied()
            .collect();
        self.peers.send_replace(peers);
    }

    /// `peer` sent a request or an answer: it accepted the connection.
    fn heard_from(&mut self, peer: PeerId) {
        if self.connected.contains_key(&peer) && self.heard.insert(peer) {
            self.publish_peers();
        }
    }

    fn swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "p2p listening");
            }
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                let n = self.connected.entry(peer_id).or_insert(0);
                *n += 1;
                if *n == 1 {
                    tracing::info!(peer = %peer_id, "peer connected");
                    if let Some(r) = self.dial.get_mut(&peer_id) {
                        r.backoff = Duration::from_millis(250);
                    }
                    let height = self.source.tip();
                    self.swarm
                        .behaviour_mut()
                        .rr
                        .send_request(&peer_id, Request::Status { height });
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                ..
            } => {
                if num_established == 0 && self.connected.remove(&peer_id).is_some() {
                    self.heard.remove(&peer_id);
                    tracing::info!(peer = %peer_id, "peer disconnected");
                    if let Some(r) = self.dial.get_mut(&peer_id) {
                        r.next = Instant::now() + r.backoff;
                    }
                    self.publish_peers();
                } else if let Some(n) = self.connected.get_mut(&peer_id) {
                    *n = num_established as usize;
                }
            }
            SwarmEvent::IncomingConnectionError {
                error,
                send_back_addr,
                ..
            } => {
                tracing::debug!(%send_back_addr, %error, "refused an incoming connection");
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(?peer_id, %error, "outgoing connection failed");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Rr(e)) => self.rr_event(e),
            _ => {}
        }
    }

    fn rr_event(&mut self, event: request_response::Event<Request, Response>) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                self.heard_from(peer);
                let response = self.answer(peer, request);
                // The peer may have gone; nothing to do then.
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .rr
                    .send_response(channel, response);
            }
            Event::Message {
                peer,
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                self.heard_from(peer);
                let asked_blocks = self.block_requests.remove(&request_id).is_some();
                match response {
                    Response::Ack => {}
                    Response::Status { height } => self.emit(NetEvent::Status { peer, height }),
                    // Blocks only answer a request for blocks; anything else is the peer's
                    // invention and is dropped.
                    Response::Blocks { blocks, tip } if asked_blocks => {
                        let blocks = blocks.into_iter().take(MAX_BLOCKS as usize).collect();
                        self.emit(NetEvent::Blocks { peer, blocks, tip });
                    }
                    Response::Blocks { .. } => {
                        tracing::debug!(%peer, "dropped blocks sent in answer to another request");
                    }
                }
            }
            Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                tracing::debug!(%peer, %error, "request failed");
                if self.block_requests.remove(&request_id).is_some() {
                    self.emit(NetEvent::Blocks {
                        peer,
                        blocks: Vec::new(),
                        tip: 0,
                    });
                }
            }
            Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "bad or failed inbound request");
            }
            Event::ResponseSent { .. } => {}
        }
    }

    fn answer(&mut self, peer: PeerId, request: Request) -> Response {
        match request {
            Request::Consensus(m) => {
                self.emit(NetEvent::Consensus(m));
                Response::Ack
            }
            Request::Txs(txs) => {
                self.emit(NetEvent::Txs(txs));
                Response::Ack
            }
            Request::Status { height } => {
                self.emit(NetEvent::Status { peer, height });
                Response::Status {
                    height: self.source.tip(),
                }
            }
            Request::GetBlocks { from, max } => Response::Blocks {
                blocks: self
                    .source
                    .blocks(from, max.min(MAX_BLOCKS), wire::MAX_BLOCKS_BYTES),
                tip: self.source.tip(),
            },
            // Never decoded from a peer (the variant cannot be read).
            #[cfg(feature = "byzantine")]
            Request::Raw(_) => Response::Ack,
        }
    }
}
