//! The swarm task: owns the libp2p swarm, answers peers, and hands what they send to the
//! node through the per-peer [`Inbox`].

use crate::inbox::SharedInbox;
use crate::push::{Frame, PeerLink};
use crate::wire::{self, Framed, MAX_BLOCKS, PartAnswer, Request, Response};
use crate::{
    Behaviour, BehaviourEvent, BlockSource, Command, Lane, MAX_STREAMS, NetEvent, SnapshotSource,
};
use futures::StreamExt;
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Requests we keep in flight to one peer: half of a connection's streams.
pub const MAX_IN_FLIGHT: usize = MAX_STREAMS / 2;

/// Block requests read from storage at once (each on a blocking thread), at most one per
/// peer; a request over either bound gets an empty answer at once (the peer asks another).
pub const BLOCK_SERVERS: usize = 2;

/// Snapshot parts read at once (each on a blocking thread), at most one per peer; a request
/// over either bound, or over the byte rate, is answered [`PartAnswer::Busy`] at once.
pub const SNAPSHOT_SERVERS: usize = 2;

/// Peers that asked within this long share the snapshot byte rate.
const ACTIVE: Duration = Duration::from_secs(10);

/// A byte rate shared equally by the peers asking: each peer that asked within [`ACTIVE`]
/// has a token bucket of its own, refilled at its share and holding at most one second of
/// it. A part is served while the asker's bucket is not in debt and its bytes are taken once
/// read, so the rate holds on average, a burst overshoots it by at most the parts being
/// read, and a peer that asks again the moment it is told "busy" gains nothing over one that
/// waits.
#[derive(Debug)]
pub struct FairRate {
    per_sec: u64,
    peers: HashMap<PeerId, (f64, Instant)>,
}

impl FairRate {
    /// `per_sec` bytes a second in all (0: no limit).
    pub fn new(per_sec: u64) -> FairRate {
        FairRate {
            per_sec,
            peers: HashMap::new(),
        }
    }

    /// True if `peer` may be served at `now`.
    pub fn ready(&mut self, peer: PeerId, now: Instant) -> bool {
        if self.per_sec == 0 {
            return true;
        }
        self.peers
            .retain(|_, (_, last)| now.saturating_duration_since(*last) < ACTIVE);
        let n = self.peers.len() + usize::from(!self.peers.contains_key(&peer));
        let share = self.per_sec as f64 / n as f64;
        let (tokens, last) = self.peers.entry(peer).or_insert((share, now));
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * share).min(share);
        *last = now;
        *tokens > 0.0
    }

    /// Takes `bytes` served to `peer`.
    pub fn spend(&mut self, peer: PeerId, bytes: usize) {
        if let Some((tokens, _)) = self.peers.get_mut(&peer) {
            *tokens -= bytes as f64;
        }
    }
}

pub(crate) struct Redial {
    pub addr: Multiaddr,
    pub next: Instant,
    pub backoff: Duration,
}

/// Longest wait between redials of a configured peer: a healed partition reconnects within
/// it (the allowlist is small, so trying often costs little).
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// A block request read off the swarm task, ready to answer.
pub(crate) struct Served {
    peer: PeerId,
    channel: ResponseChannel<Framed<Response>>,
    response: Response,
    /// Bytes of a snapshot part (`None`: a block request).
    snapshot: Option<usize>,
}

pub(crate) struct Task<S> {
    /// Peers allowed to connect (mirrors the allowlist behaviour).
    pub allowed: BTreeSet<PeerId>,
    pub swarm: Swarm<Behaviour>,
    pub source: Arc<S>,
    pub inbox: Arc<SharedInbox>,
    /// Opens push streams.
    pub control: libp2p_stream::Control,
    /// The push queues and writers towards each connected peer.
    pub links: BTreeMap<PeerId, PeerLink>,
    /// Whether this node uses push streams ([`crate::NetworkConfig::push_streams`]).
    pub push_streams: bool,
    /// Frames for peers without push streams, from their writers, to send as requests.
    pub legacy_tx: mpsc::Sender<(PeerId, Frame)>,
    pub peers: watch::Sender<Vec<PeerId>>,
    pub dial: BTreeMap<PeerId, Redial>,
    /// Connected peers and how many connections each has.
    pub connected: BTreeMap<PeerId, usize>,
    /// Connected peers that have talked to us: a remote that refuses us (its allowlist
    /// lacks us) still looks connected from here until it closes, but never talks.
    pub heard: BTreeSet<PeerId>,
    pub block_requests: HashMap<OutboundRequestId, PeerId>,
    /// Requests sent and not yet answered, and their count per peer.
    pub in_flight: HashMap<OutboundRequestId, PeerId>,
    pub in_flight_to: HashMap<PeerId, usize>,
    /// Peers whose block request is being read now.
    pub serving: BTreeSet<PeerId>,
    pub served_tx: mpsc::UnboundedSender<Served>,
    /// Where snapshot parts are read from.
    pub snapshots: Arc<dyn SnapshotSource>,
    /// Peers whose snapshot part is being read now.
    pub snapshot_serving: BTreeSet<PeerId>,
    /// Bytes of snapshot parts served per second.
    pub snapshot_budget: FairRate,
    /// Requests whose answer goes back to a waiting asker ([`crate::Network::ask`]).
    pub asks: HashMap<OutboundRequestId, tokio::sync::oneshot::Sender<Option<Response>>>,
}

impl<S: BlockSource> Task<S> {
    pub async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut allowed: watch::Receiver<BTreeSet<PeerId>>,
        mut served: mpsc::UnboundedReceiver<Served>,
        mut legacy: mpsc::Receiver<(PeerId, Frame)>,
        status_every: Duration,
    ) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut last_status = Instant::now();
        let mut last_dropped = 0;
        let mut last_unsent = 0;
        loop {
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => break,
                },
                changed = allowed.changed() => match changed {
                    Ok(()) => {
                        let peers = allowed.borrow_and_update().clone();
                        self.set_allowed(peers);
                    }
                    Err(_) => break,
                },
                Some((peer, frame)) = legacy.recv() => {
                    // Left over from a connection that closed: nobody to send it to.
                    if self.connected.contains_key(&peer) {
                        self.send(peer, Request::Encoded(frame));
                    }
                }
                Some(s) = served.recv() => {
                    match s.snapshot {
                        Some(bytes) => {
                            self.snapshot_serving.remove(&s.peer);
                            self.snapshot_budget.spend(s.peer, bytes);
                        }
                        None => {
                            self.serving.remove(&s.peer);
                        }
                    }
                    // The peer may have gone; nothing to do then.
                    let _ = self
                        .swarm
                        .behaviour_mut()
                        .rr
                        .send_response(s.channel, Framed::new(s.response));
                }
                event = self.swarm.select_next_some() => self.swarm_event(event),
                _ = tick.tick() => {
                    self.redial();
                    if last_status.elapsed() >= status_every {
                        last_status = Instant::now();
                        let height = self.source.tip();
                        self.broadcast(Request::Status { height });
                    }
                    let dropped = self.inbox.dropped();
                    if dropped > last_dropped {
                        tracing::warn!(
                            dropped = dropped - last_dropped,
                            "peers sent more than their share; dropped the excess"
                        );
                        last_dropped = dropped;
                    }
                    let unsent: u64 = self.links.values().map(PeerLink::dropped).sum();
                    if unsent > last_unsent {
                        tracing::warn!(
                            dropped = unsent - last_unsent,
                            "peers take less than we send; dropped messages to them"
                        );
                    }
                    last_unsent = unsent;
                }
            }
        }
        tracing::debug!("network task stopped");
    }

    fn broadcast(&mut self, request: Request) {
        let peers: Vec<PeerId> = self.connected.keys().copied().collect();
        for p in peers {
            self.send(p, request.clone());
        }
    }

    /// Sends a request unless [`MAX_IN_FLIGHT`] are already in flight to `peer`. A
    /// connection's stream limit ([`MAX_STREAMS`]) counts streams both ways, so half of it
    /// stays free for what the peer sends us; a burst beyond would only be refused (or,
    /// past yamux's limit, close the connection), so the excess is dropped here, as pBFT
    /// tolerates.
    fn send(&mut self, peer: PeerId, request: Request) -> Option<OutboundRequestId> {
        let n = self.in_flight_to.entry(peer).or_insert(0);
        if *n >= MAX_IN_FLIGHT {
            tracing::debug!(%peer, "too many requests in flight; dropped one");
            return None;
        }
        *n += 1;
        let id = self
            .swarm
            .behaviour_mut()
            .rr
            .send_request(&peer, Framed::new(request));
        self.in_flight.insert(id, peer);
        Some(id)
    }

    /// A request to `peer` was answered or failed.
    fn settled(&mut self, id: OutboundRequestId) {
        if let Some(peer) = self.in_flight.remove(&id)
            && let Some(n) = self.in_flight_to.get_mut(&peer)
        {
            *n -= 1;
            if *n == 0 {
                self.in_flight_to.remove(&peer);
            }
        }
    }

    /// Queues a frame on every connected peer's push stream of `lane` (as a request to a
    /// peer without push streams, or to every peer when this node has none).
    fn push(&mut self, lane: Lane, frame: Frame) {
        if !self.push_streams {
            self.broadcast(Request::Encoded(frame));
            return;
        }
        for link in self.links.values() {
            let outbox = match lane {
                Lane::Consensus => &link.consensus,
                Lane::Txs => &link.txs,
            };
            outbox.push(frame.clone());
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Push(lane, frame) => self.push(lane, frame),
            #[cfg(feature = "byzantine")]
            Command::Broadcast(r) => self.broadcast(r),
            Command::Ask(peer, r, answer) => match self.send(peer, r) {
                Some(id) => {
                    self.asks.insert(id, answer);
                }
                None => {
                    let _ = answer.send(None);
                }
            },
            Command::Send(peer, r) => {
                let blocks = matches!(r, Request::GetBlocks { .. });
                let sent = self.send(peer, r);
                match sent {
                    Some(id) if blocks => {
                        self.block_requests.insert(id, peer);
                    }
                    // A block request that could not go out fails at once (sync asks
                    // another peer).
                    None if blocks => self.emit(
                        peer,
                        NetEvent::Blocks {
                            peer,
                            blocks: Vec::new(),
                            tip: 0,
                        },
                        0,
                    ),
                    _ => {}
                }
            }
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

    /// Queues what `peer` sent for the node (`bytes` as framed).
    fn emit(&mut self, peer: PeerId, event: NetEvent, bytes: usize) {
        if !self.inbox.push(peer, event, bytes) {
            tracing::debug!(%peer, "peer over its share; dropped a message");
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
                    if self.push_streams {
                        let link = PeerLink::start(&self.control, peer_id, &self.legacy_tx);
                        self.links.insert(peer_id, link);
                    }
                    if let Some(r) = self.dial.get_mut(&peer_id) {
                        r.backoff = Duration::from_millis(250);
                    }
                    let height = self.source.tip();
                    self.send(peer_id, Request::Status { height });
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                ..
            } => {
                if num_established == 0 && self.connected.remove(&peer_id).is_some() {
                    self.heard.remove(&peer_id);
                    self.links.remove(&peer_id);
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

    fn rr_event(&mut self, event: request_response::Event<Framed<Request>, Framed<Response>>) {
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
                if let Some(response) = self.answer(peer, request, channel) {
                    // The peer may have gone; nothing to do then.
                    let (channel, response) = response;
                    let _ = self
                        .swarm
                        .behaviour_mut()
                        .rr
                        .send_response(channel, Framed::new(response));
                }
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
                self.settled(request_id);
                if let Some(asker) = self.asks.remove(&request_id) {
                    let mut answer = response.value;
                    if let Response::Snapshots(offers) = &mut answer {
                        offers.truncate(wire::MAX_OFFERS);
                    }
                    // The asker may have given up; nothing to do then.
                    let _ = asker.send(Some(answer));
                    return;
                }
                let asked_blocks = self.block_requests.remove(&request_id).is_some();
                let bytes = response.bytes;
                match response.value {
                    Response::Ack => {}
                    Response::Status { height } => {
                        self.emit(peer, NetEvent::Status { peer, height }, bytes)
                    }
                    // Blocks only answer a request for blocks; anything else is the peer's
                    // invention and is dropped.
                    Response::Blocks { blocks, tip } if asked_blocks => {
                        let blocks = blocks.into_iter().take(MAX_BLOCKS as usize).collect();
                        self.emit(peer, NetEvent::Blocks { peer, blocks, tip }, bytes);
                    }
                    Response::Blocks { .. } => {
                        tracing::debug!(%peer, "dropped blocks sent in answer to another request");
                    }
                    Response::Snapshots(_) | Response::SnapshotPart(_) => {
                        tracing::debug!(%peer, "dropped snapshot data nobody asked for");
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
                self.settled(request_id);
                if let Some(asker) = self.asks.remove(&request_id) {
                    let _ = asker.send(None);
                }
                if self.block_requests.remove(&request_id).is_some() {
                    let failed = NetEvent::Blocks {
                        peer,
                        blocks: Vec::new(),
                        tip: 0,
                    };
                    self.emit(peer, failed, 0);
                }
            }
            Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "bad or failed inbound request");
            }
            Event::ResponseSent { .. } => {}
        }
    }

    /// Answers a request now, or (block requests) later from a blocking thread: `None` then.
    fn answer(
        &mut self,
        peer: PeerId,
        request: Framed<Request>,
        channel: ResponseChannel<Framed<Response>>,
    ) -> Option<(ResponseChannel<Framed<Response>>, Response)> {
        let bytes = request.bytes;
        let response = match request.value {
            Request::Consensus(m) => {
                self.emit(peer, NetEvent::Consensus(m), bytes);
                Response::Ack
            }
            // Every cap is checked on receipt, whatever the sender claims to enforce.
            Request::Txs(txs) if txs.len() > wire::MAX_TXS_PER_MESSAGE => {
                tracing::debug!(%peer, txs = txs.len(), "dropped an oversized transaction message");
                Response::Ack
            }
            Request::Txs(txs) => {
                self.emit(peer, NetEvent::Txs(txs), bytes);
                Response::Ack
            }
            Request::Status { height } => {
                self.emit(peer, NetEvent::Status { peer, height }, bytes);
                Response::Status {
                    height: self.source.tip(),
                }
            }
            Request::GetBlocks { from, max } => return self.serve_blocks(peer, from, max, channel),
            Request::Snapshots => {
                let mut offers = self.snapshots.offers();
                offers.truncate(wire::MAX_OFFERS);
                Response::Snapshots(offers)
            }
            Request::SnapshotPart { height, part } => {
                return self.serve_snapshot(peer, height, part, channel);
            }
            // Never decoded from a peer (the variants cannot be read).
            Request::Encoded(_) => Response::Ack,
            #[cfg(feature = "byzantine")]
            Request::Raw(_) => Response::Ack,
        };
        Some((channel, response))
    }

    /// Reads blocks for `peer` on a blocking thread (the swarm task never touches storage
    /// for a peer), at most [`BLOCK_SERVERS`] at once and one per peer; over either bound
    /// the answer is empty, at once.
    fn serve_blocks(
        &mut self,
        peer: PeerId,
        from: u64,
        max: u32,
        channel: ResponseChannel<Framed<Response>>,
    ) -> Option<(ResponseChannel<Framed<Response>>, Response)> {
        let tip = self.source.tip();
        if self.serving.len() >= BLOCK_SERVERS || !self.serving.insert(peer) {
            let busy = Response::Blocks {
                blocks: Vec::new(),
                tip,
            };
            return Some((channel, busy));
        }
        let source = self.source.clone();
        let done = self.served_tx.clone();
        tokio::spawn(async move {
            let read = tokio::task::spawn_blocking(move || {
                source.blocks(from, max.min(MAX_BLOCKS), wire::MAX_BLOCKS_BYTES)
            })
            .await;
            let blocks = read.unwrap_or_else(|e| {
                tracing::error!(error = %e, "reading blocks for a peer failed");
                Vec::new()
            });
            let _ = done.send(Served {
                peer,
                channel,
                response: Response::Blocks { blocks, tip },
                snapshot: None,
            });
        });
        None
    }

    /// Reads a snapshot part for `peer` on a blocking thread, at most [`SNAPSHOT_SERVERS`]
    /// at once, one per peer, and within the byte rate; over any of them the answer is
    /// [`PartAnswer::Busy`], at once. Serving never touches the core.
    fn serve_snapshot(
        &mut self,
        peer: PeerId,
        height: u64,
        part: wire::SnapshotPart,
        channel: ResponseChannel<Framed<Response>>,
    ) -> Option<(ResponseChannel<Framed<Response>>, Response)> {
        if self.snapshot_serving.len() >= SNAPSHOT_SERVERS
            || self.snapshot_serving.contains(&peer)
            || !self.snapshot_budget.ready(peer, Instant::now())
        {
            return Some((channel, Response::SnapshotPart(PartAnswer::Busy)));
        }
        self.snapshot_serving.insert(peer);
        let source = self.snapshots.clone();
        let done = self.served_tx.clone();
        tokio::spawn(async move {
            let read = tokio::task::spawn_blocking(move || source.part(height, part)).await;
            let bytes = read.unwrap_or_else(|e| {
                tracing::error!(error = %e, "reading a snapshot part for a peer failed");
                None
            });
            let (answer, size) = match bytes {
                Some(b) if b.len() <= wire::MAX_FRAME - 64 => {
                    let n = b.len();
                    (PartAnswer::Bytes(b), n)
                }
                Some(_) => {
                    tracing::error!(height, ?part, "a snapshot part is too large to send");
                    (PartAnswer::Missing, 0)
                }
                None => (PartAnswer::Missing, 0),
            };
            let _ = done.send(Served {
                peer,
                channel,
                response: Response::SnapshotPart(answer),
                snapshot: Some(size),
            });
        });
        None
    }
}

#[cfg(test)]
mod tests {
    use super::FairRate;
    use libp2p::PeerId;
    use std::time::{Duration, Instant};

    #[test]
    fn the_byte_rate_is_shared_and_holds_on_average() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let (greedy, patient) = (PeerId::random(), PeerId::random());
        let mut rate = FairRate::new(1_000);
        assert!(rate.ready(greedy, t0));
        // A part larger than a second's worth puts the asker in debt until it is paid back.
        rate.spend(greedy, 2_500);
        assert!(!rate.ready(greedy, ms(1_000)));
        assert!(!rate.ready(greedy, ms(1_400)));
        assert!(rate.ready(greedy, ms(1_600)));
        // Another peer asking meanwhile is served at once, from its own share; asking again
        // and again while in debt gains the greedy peer nothing over it.
        assert!(rate.ready(patient, ms(1_600)));
        rate.spend(patient, 900);
        rate.spend(greedy, 1_000);
        for t in (1_600..2_600).step_by(10) {
            assert!(!rate.ready(greedy, ms(t)), "at {t} ms");
        }
        // With two asking, each refills at half the rate: the patient peer took 900 bytes on
        // a 500-byte share, and its 400 bytes of debt are paid back after 0.8 s.
        assert!(!rate.ready(patient, ms(2_300)));
        assert!(rate.ready(patient, ms(2_500)));
        // A peer silent for a while is forgotten: one asking alone gets the whole rate.
        let mut lone = FairRate::new(1_000);
        assert!(lone.ready(greedy, t0));
        lone.spend(greedy, 100);
        assert!(lone.ready(patient, ms(20_000)));
        lone.spend(patient, 999);
        assert!(
            lone.ready(patient, ms(20_000)),
            "its own share is the whole rate"
        );
        // 0 is no limit.
        let mut free = FairRate::new(0);
        free.spend(greedy, usize::MAX);
        assert!(free.ready(greedy, t0));
    }
}
