//! Push streams: consensus messages and forwarded transactions ride long-lived streams, one
//! per peer and lane, opened once per connection and written back to back with no answer.
//!
//! A request-response exchange per message costs a protocol negotiation (one round trip)
//! before the message and an acknowledgement after it; on a WAN link that tripled the cost
//! of every hop of pBFT. On a push stream a message costs one one-way delay, and messages of
//! a lane arrive in the order they were sent.
//!
//! - **Lanes**: consensus ([`CONSENSUS`]) and transactions ([`TXS`]) have streams of their
//!   own, so a large batch of transactions never queues in front of a vote.
//! - **Bounded**: what waits to be written to a peer is bounded per lane in frames and
//!   bytes ([`OutboxLimits`]); past that the oldest frames are dropped (after an outage the
//!   fresh votes matter, not the stale ones), as pBFT tolerates. A broadcast frame is encoded
//!   once and shared by every peer's queue.
//! - **Never stuck**: the reader answers a new stream with one byte, and the writer sends
//!   nothing before it (a stream the remote never took is not written into); a frame that
//!   is not written within [`WRITE_TIMEOUT`] (plus time for its size) ends the stream and
//!   is dropped. Frames not known to be written go back to the front of the queue for the
//!   next stream (a duplicate vote or transaction is harmless). What was written into a
//!   stream that then failed may be lost, and frames of an old and a new stream may
//!   interleave: order holds within one stream.
//! - **Receiving**: every frame is read with the same checks and byte budget as a request
//!   ([`crate::wire`]); a peer's large frames take room from its own share first
//!   ([`PEER_SHARE`]), and a frame once begun must arrive within [`FRAME_TIMEOUT`] (a peer
//!   cannot pin the shared budget with frames it never finishes). A frame that does not
//!   decode, or does not belong on its lane, is skipped; a framing error ends the stream. A
//!   peer holds at most [`MAX_STREAMS_PER_LANE`] streams per lane (the oldest is closed).

use crate::NetEvent;
use crate::inbox::SharedInbox;
use crate::wire::{self, Request};
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::{PeerId, StreamProtocol};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::AbortHandle;

/// The consensus lane.
pub const CONSENSUS: StreamProtocol = StreamProtocol::new("/phalanx/consensus/1");
/// The transaction lane.
pub const TXS: StreamProtocol = StreamProtocol::new("/phalanx/txs/1");

/// How long opening a stream may take before the writer tries again.
/// (Above the swarm's own 10 s upgrade timeout, so an open we gave up on does not keep the
/// connection's one outbound negotiation busy behind our back.)
const OPEN_TIMEOUT: Duration = Duration::from_secs(12);
/// Pause after a failed open or write before the next attempt.
const RETRY: Duration = Duration::from_millis(100);
/// Longest a frame may take to write, plus a second per [`MIN_RATE`] bytes of it, before the
/// stream is given up (and that frame dropped).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a frame may take to arrive once its length has (time spent reading, not waiting
/// for room in the budget), plus a second per [`MIN_RATE`] bytes of it.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// The slowest link a large frame is given time for: 1 MiB/s.
pub const MIN_RATE: usize = 1024 * 1024;
/// Bytes of large frames one peer may have being read at once over its push streams, both
/// lanes together: two of the largest frames. Its share of the shared budget, so a few
/// peers cannot hold all of it.
pub const PEER_SHARE: usize = 2 * wire::MAX_FRAME;
/// Streams of one lane read from one peer at once (a reconnecting peer may briefly hold
/// an old one and a new one).
pub const MAX_STREAMS_PER_LANE: usize = 4;
/// Most frames and bytes written in one batch (between two looks at the queue).
const BATCH_FRAMES: usize = 256;
const BATCH_BYTES: usize = 4 * 1024 * 1024;
/// What a reader writes when it takes a stream.
const ACCEPTED: u8 = 1;

/// Bounds of what waits to be written to one peer on one lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxLimits {
    /// Most frames waiting.
    pub frames: usize,
    /// Most bytes of them (a frame alone may exceed it).
    pub bytes: usize,
}

impl OutboxLimits {
    /// The consensus lane: votes are small and many; a proposal may be a whole block.
    pub const CONSENSUS: OutboxLimits = OutboxLimits {
        frames: 4_096,
        bytes: 4 * wire::MAX_FRAME,
    };
    /// The transaction lane.
    pub const TXS: OutboxLimits = OutboxLimits {
        frames: 256,
        bytes: 4 * wire::MAX_FRAME,
    };
}

/// A frame body, encoded once and shared by every peer it goes to.
pub(crate) type Frame = Arc<[u8]>;

/// How long a frame of `len` bytes may take to cross (see [`WRITE_TIMEOUT`]).
fn time_for(base: Duration, len: usize) -> Duration {
    base + Duration::from_secs((len / MIN_RATE) as u64)
}

/// Each peer's share of the read budget ([`PEER_SHARE`]), for large frames.
#[derive(Default)]
pub(crate) struct Shares(Mutex<BTreeMap<PeerId, Arc<Semaphore>>>);

impl Shares {
    fn of(&self, peer: PeerId) -> Arc<Semaphore> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(peer)
            .or_insert_with(|| Arc::new(Semaphore::new(PEER_SHARE)))
            .clone()
    }
}

#[derive(Default)]
struct Queue {
    frames: VecDeque<Frame>,
    bytes: usize,
}

/// Frames waiting to be written to one peer on one lane.
pub(crate) struct Outbox {
    queue: Mutex<Queue>,
    ready: Notify,
    limits: OutboxLimits,
    dropped: std::sync::atomic::AtomicU64,
}

impl Outbox {
    pub fn new(limits: OutboxLimits) -> Outbox {
        Outbox {
            queue: Mutex::default(),
            ready: Notify::new(),
            limits,
            dropped: Default::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a frame, dropping the oldest ones while the lane is over its bounds (a frame
    /// alone may exceed the bytes).
    pub fn push(&self, frame: Frame) {
        let mut q = self.lock();
        q.bytes += frame.len();
        q.frames.push_back(frame);
        let dropped = Self::trim(&mut q, self.limits);
        drop(q);
        self.count_dropped(dropped);
        self.ready.notify_one();
    }

    /// Puts frames that were not surely written back at the front, in their order.
    pub fn requeue(&self, frames: Vec<Frame>) {
        let mut q = self.lock();
        for f in frames.into_iter().rev() {
            q.bytes += f.len();
            q.frames.push_front(f);
        }
        let dropped = Self::trim(&mut q, self.limits);
        drop(q);
        self.count_dropped(dropped);
        self.ready.notify_one();
    }

    fn trim(q: &mut Queue, limits: OutboxLimits) -> u64 {
        let mut dropped = 0;
        while q.frames.len() > limits.frames || (q.frames.len() > 1 && q.bytes > limits.bytes) {
            let old = q.frames.pop_front().expect("not empty");
            q.bytes -= old.len();
            dropped += 1;
        }
        dropped
    }

    /// Counts frames dropped outside the queue (see [`Outbox::dropped`]).
    pub fn count_dropped(&self, n: u64) {
        if n > 0 {
            self.dropped
                .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// The oldest frames, up to a batch (at least one); waits while nothing is queued.
    pub async fn take(&self) -> Vec<Frame> {
        loop {
            {
                let mut q = self.lock();
                if !q.frames.is_empty() {
                    let (mut n, mut bytes) = (0, 0);
                    for f in &q.frames {
                        if n > 0 && (n >= BATCH_FRAMES || bytes + f.len() > BATCH_BYTES) {
                            break;
                        }
                        n += 1;
                        bytes += f.len();
                    }
                    q.bytes -= bytes;
                    return q.frames.drain(..n).collect();
                }
            }
            self.ready.notified().await;
        }
    }

    /// Frames dropped so far for a full lane.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The writing side towards one connected peer: a queue and a writer task per lane. The
/// writers stop when this is dropped (the peer disconnected).
pub(crate) struct PeerLink {
    pub consensus: Arc<Outbox>,
    pub txs: Arc<Outbox>,
    writers: [AbortHandle; 2],
}

impl Drop for PeerLink {
    fn drop(&mut self) {
        for w in &self.writers {
            w.abort();
        }
    }
}

impl PeerLink {
    /// Starts the writers towards `peer` (on the current runtime). A peer without push
    /// streams (the previous version) gets its frames as requests, through `legacy`.
    pub fn start(
        control: &libp2p_stream::Control,
        peer: PeerId,
        legacy: &mpsc::Sender<(PeerId, Frame)>,
    ) -> PeerLink {
        let consensus = Arc::new(Outbox::new(OutboxLimits::CONSENSUS));
        let txs = Arc::new(Outbox::new(OutboxLimits::TXS));
        let writers = [
            tokio::spawn(writer(
                control.clone(),
                peer,
                CONSENSUS,
                consensus.clone(),
                legacy.clone(),
            ))
            .abort_handle(),
            tokio::spawn(writer(
                control.clone(),
                peer,
                TXS,
                txs.clone(),
                legacy.clone(),
            ))
            .abort_handle(),
        ];
        PeerLink {
            consensus,
            txs,
            writers,
        }
    }

    /// Frames dropped towards this peer for full lanes.
    pub fn dropped(&self) -> u64 {
        self.consensus.dropped() + self.txs.dropped()
    }
}

/// Writes `outbox` to `peer` on a stream of `protocol`, opening a new stream whenever the
/// last one failed or stalled; frames not surely written are queued again. A peer that does
/// not speak the protocol (the previous version) gets every frame as a request instead,
/// for as long as this connection lasts (an upgraded peer restarts, so reconnects).
async fn writer(
    mut control: libp2p_stream::Control,
    peer: PeerId,
    protocol: StreamProtocol,
    outbox: Arc<Outbox>,
    legacy: mpsc::Sender<(PeerId, Frame)>,
) {
    loop {
        let opened = tokio::time::timeout(OPEN_TIMEOUT, async {
            let mut stream = match control.open_stream(peer, protocol.clone()).await {
                Ok(stream) => stream,
                Err(libp2p_stream::OpenStreamError::UnsupportedProtocol(_)) => {
                    return Ok(None);
                }
                Err(e) => return Err(e.to_string()),
            };
            // The remote's reader took the stream (libp2p may drop an inbound stream
            // nobody is ready to take; writing into it would lose the frames).
            let mut accepted = [0u8; 1];
            stream
                .read_exact(&mut accepted)
                .await
                .map_err(|e| e.to_string())?;
            if accepted[0] != ACCEPTED {
                return Err("unexpected answer to a new stream".to_string());
            }
            Ok::<_, String>(Some(stream))
        });
        let mut stream = match opened.await {
            Ok(Ok(Some(stream))) => stream,
            Ok(Ok(None)) => {
                tracing::info!(%peer, %protocol, "peer has no push streams (an older version); sending it requests");
                loop {
                    for frame in outbox.take().await {
                        if legacy.send((peer, frame)).await.is_err() {
                            return;
                        }
                    }
                }
            }
            Ok(Err(e)) => {
                tracing::debug!(%peer, %protocol, error = %e, "cannot open a push stream");
                tokio::time::sleep(RETRY).await;
                continue;
            }
            Err(_) => {
                tracing::debug!(%peer, %protocol, "opening a push stream timed out");
                continue;
            }
        };
        loop {
            let frames = outbox.take().await;
            let Err(failed) = write_frames(&mut stream, &frames).await else {
                continue;
            };
            tracing::debug!(%peer, %protocol, error = %failed.why, "push stream failed; reopening");
            // A frame that could not cross in its time on a stream of its own goes: sent
            // again it would only hold up everything behind it.
            let from = if failed.timed_out {
                outbox.count_dropped(1);
                failed.at + 1
            } else {
                failed.at
            };
            outbox.requeue(frames.get(from..).unwrap_or_default().to_vec());
            tokio::time::sleep(RETRY).await;
            break;
        }
    }
}

/// Where a batch failed: the first frame not surely written, and whether it timed out.
struct Failed {
    at: usize,
    timed_out: bool,
    why: String,
}

/// Writes length-prefixed frames, each within its time, then flushes once.
async fn write_frames(stream: &mut libp2p::Stream, frames: &[Frame]) -> Result<(), Failed> {
    for (at, f) in frames.iter().enumerate() {
        if f.len() > wire::MAX_FRAME {
            tracing::warn!(bytes = f.len(), "not sending a frame over the limit");
            continue;
        }
        let write = async {
            stream.write_all(&(f.len() as u32).to_be_bytes()).await?;
            stream.write_all(f).await
        };
        match tokio::time::timeout(time_for(WRITE_TIMEOUT, f.len()), write).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(Failed {
                    at,
                    timed_out: false,
                    why: e.to_string(),
                });
            }
            Err(_) => {
                return Err(Failed {
                    at,
                    timed_out: true,
                    why: "write timed out".into(),
                });
            }
        }
    }
    // A flush that fails or stalls leaves unknown what arrived: all of it goes again.
    match tokio::time::timeout(WRITE_TIMEOUT, stream.flush()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Failed {
            at: 0,
            timed_out: false,
            why: e.to_string(),
        }),
        Err(_) => Err(Failed {
            at: 0,
            timed_out: false,
            why: "flush timed out".into(),
        }),
    }
}

/// Accepts peers' push streams of one lane and reads each into `inbox`, at most
/// [`MAX_STREAMS_PER_LANE`] per peer (a further one closes that peer's oldest).
pub(crate) async fn accept(
    mut incoming: libp2p_stream::IncomingStreams,
    lane: StreamProtocol,
    budget: Arc<Semaphore>,
    shares: Arc<Shares>,
    inbox: Arc<SharedInbox>,
) {
    let mut readers: BTreeMap<PeerId, VecDeque<AbortHandle>> = BTreeMap::new();
    while let Some((peer, stream)) = incoming.next().await {
        readers.retain(|_, rs| {
            rs.retain(|r| !r.is_finished());
            !rs.is_empty()
        });
        let reader = tokio::spawn(read(
            peer,
            stream,
            lane.clone(),
            budget.clone(),
            shares.of(peer),
            inbox.clone(),
        ));
        let rs = readers.entry(peer).or_default();
        rs.push_back(reader.abort_handle());
        if rs.len() > MAX_STREAMS_PER_LANE
            && let Some(old) = rs.pop_front()
        {
            old.abort();
        }
    }
}

/// Reads frames from one peer's stream until it ends, breaks framing or stalls mid-frame.
async fn read(
    peer: PeerId,
    mut stream: libp2p::Stream,
    lane: StreamProtocol,
    budget: Arc<Semaphore>,
    share: Arc<Semaphore>,
    inbox: Arc<SharedInbox>,
) {
    if stream.write_all(&[ACCEPTED]).await.is_err() || stream.flush().await.is_err() {
        return;
    }
    loop {
        // Idle between frames is fine; a frame once begun must arrive in time.
        let len = match wire::read_len(&mut stream).await {
            Ok(len) => len,
            Err(e) => {
                tracing::debug!(%peer, %lane, error = %e, "push stream ended");
                return;
            }
        };
        // A large frame first takes room from its peer's share, then from the budget.
        let _share = if len > wire::SMALL_FRAME {
            match share.acquire_many(len as u32).await {
                Ok(permit) => Some(permit),
                Err(_) => return,
            }
        } else {
            None
        };
        let deadline = time_for(FRAME_TIMEOUT, len);
        let body = match wire::read_body(&mut stream, len, &budget, Some(deadline)).await {
            Ok(body) => body,
            Err(e) => {
                tracing::debug!(%peer, %lane, bytes = len, error = %e, "push stream ended mid-frame");
                return;
            }
        };
        let frame = match wire::decode_body::<Request>(&body) {
            Ok(frame) => frame,
            Err(e) => {
                tracing::debug!(%peer, %lane, error = %e, "skipped a frame that does not decode");
                continue;
            }
        };
        drop(body);
        let bytes = frame.bytes;
        let event = match frame.value {
            Request::Consensus(m) if lane == CONSENSUS => NetEvent::Consensus(m),
            // Every cap is checked on receipt, whatever the sender claims to enforce.
            Request::Txs(txs) if lane == TXS && txs.len() <= wire::MAX_TXS_PER_MESSAGE => {
                NetEvent::Txs(txs)
            }
            _ => {
                tracing::debug!(%peer, %lane, "skipped a message that does not belong on this lane");
                continue;
            }
        };
        if !inbox.push(peer, event, bytes) {
            tracing::debug!(%peer, "peer over its share; dropped a message");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: usize) -> Frame {
        vec![0u8; n].into()
    }

    #[test]
    fn an_outbox_is_bounded_in_frames_and_bytes_and_drops_the_oldest() {
        let o = Outbox::new(OutboxLimits {
            frames: 3,
            bytes: 100,
        });
        o.push(frame(500));
        assert_eq!(o.dropped(), 0, "one frame alone may exceed the bytes");
        o.push(frame(1));
        assert_eq!(o.dropped(), 1, "the old large frame made room");
        let taken = futures::executor::block_on(o.take());
        assert_eq!(taken.iter().map(|f| f.len()).collect::<Vec<_>>(), vec![1]);
        o.push(frame(40));
        o.push(frame(41));
        o.push(frame(42));
        assert_eq!(o.dropped(), 2, "over the bytes: the oldest went");
        o.push(frame(10));
        o.push(frame(11));
        assert_eq!(o.dropped(), 3, "over the frames: the oldest went");
        let taken = futures::executor::block_on(o.take());
        assert_eq!(
            taken.iter().map(|f| f.len()).collect::<Vec<_>>(),
            vec![42, 10, 11],
            "oldest first, the newest kept"
        );
    }

    #[test]
    fn unwritten_frames_go_back_in_front_and_batches_are_bounded() {
        let o = Outbox::new(OutboxLimits {
            frames: 10_000,
            bytes: usize::MAX,
        });
        for n in 1..=300 {
            o.push(frame(n));
        }
        let first = futures::executor::block_on(o.take());
        assert_eq!(first.len(), BATCH_FRAMES, "a batch is bounded");
        o.requeue(first);
        o.push(frame(1_000));
        let again = futures::executor::block_on(o.take());
        assert_eq!(again.len(), BATCH_FRAMES);
        assert_eq!(again[0].len(), 1, "requeued frames first, in order");
        let rest = futures::executor::block_on(o.take());
        assert_eq!(rest.len(), 300 - BATCH_FRAMES + 1);
        assert_eq!(rest.last().unwrap().len(), 1_000);
    }
}
