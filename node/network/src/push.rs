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
//!   bytes ([`OutboxLimits`]); past that the newest frame is dropped, as pBFT tolerates. A
//!   broadcast frame is encoded once and shared by every peer's queue.
//! - **Receiving**: every frame is read with the same checks and byte budget as a request
//!   ([`crate::wire`]); a frame that does not decode, or does not belong on its lane, ends
//!   the stream (its sender opens a new one). A peer holds one stream per lane: a newer one
//!   replaces the older.

use crate::NetEvent;
use crate::inbox::SharedInbox;
use crate::wire::{self, Request};
use futures::{AsyncWriteExt, StreamExt};
use libp2p::{PeerId, StreamProtocol};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio::task::AbortHandle;

/// The consensus lane.
pub const CONSENSUS: StreamProtocol = StreamProtocol::new("/phalanx/consensus/1");
/// The transaction lane.
pub const TXS: StreamProtocol = StreamProtocol::new("/phalanx/txs/1");

/// How long opening a stream may take before the writer tries again.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause after a failed open or write before the next attempt.
const RETRY: Duration = Duration::from_millis(100);

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

    /// Queues a frame; false (and dropped) when the lane is full.
    pub fn push(&self, frame: Frame) -> bool {
        let mut q = self.lock();
        let over = q.frames.len() >= self.limits.frames
            || (!q.frames.is_empty() && q.bytes + frame.len() > self.limits.bytes);
        if over {
            drop(q);
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return false;
        }
        q.bytes += frame.len();
        q.frames.push_back(frame);
        drop(q);
        self.ready.notify_one();
        true
    }

    /// Everything queued, oldest first; waits while nothing is.
    pub async fn take(&self) -> Vec<Frame> {
        loop {
            {
                let mut q = self.lock();
                if !q.frames.is_empty() {
                    q.bytes = 0;
                    return q.frames.drain(..).collect();
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
    /// Starts the writers towards `peer` (on the current runtime).
    pub fn start(control: &libp2p_stream::Control, peer: PeerId) -> PeerLink {
        let consensus = Arc::new(Outbox::new(OutboxLimits::CONSENSUS));
        let txs = Arc::new(Outbox::new(OutboxLimits::TXS));
        let writers = [
            tokio::spawn(writer(control.clone(), peer, CONSENSUS, consensus.clone()))
                .abort_handle(),
            tokio::spawn(writer(control.clone(), peer, TXS, txs.clone())).abort_handle(),
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
/// last one failed. Frames taken from the queue when a write fails are lost (pBFT tolerates
/// loss; a vote sent twice would only be refused as a duplicate).
async fn writer(
    mut control: libp2p_stream::Control,
    peer: PeerId,
    protocol: StreamProtocol,
    outbox: Arc<Outbox>,
) {
    loop {
        let opened =
            tokio::time::timeout(OPEN_TIMEOUT, control.open_stream(peer, protocol.clone()));
        let mut stream = match opened.await {
            Ok(Ok(stream)) => stream,
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
            if let Err(e) = write_frames(&mut stream, &frames).await {
                tracing::debug!(%peer, %protocol, error = %e, "push stream failed; reopening");
                tokio::time::sleep(RETRY).await;
                break;
            }
        }
    }
}

/// Writes length-prefixed frames, then flushes once.
async fn write_frames(stream: &mut libp2p::Stream, frames: &[Frame]) -> std::io::Result<()> {
    for f in frames {
        if f.len() > wire::MAX_FRAME {
            tracing::warn!(bytes = f.len(), "not sending a frame over the limit");
            continue;
        }
        stream.write_all(&(f.len() as u32).to_be_bytes()).await?;
        stream.write_all(f).await?;
    }
    stream.flush().await
}

/// Accepts peers' push streams of one lane and reads each into `inbox`. One stream per peer
/// and lane is read: a newer one replaces the older (a reconnected peer).
pub(crate) async fn accept(
    mut incoming: libp2p_stream::IncomingStreams,
    lane: StreamProtocol,
    budget: Arc<Semaphore>,
    inbox: Arc<SharedInbox>,
) {
    let mut readers: BTreeMap<PeerId, AbortHandle> = BTreeMap::new();
    while let Some((peer, stream)) = incoming.next().await {
        readers.retain(|_, r| !r.is_finished());
        let reader = tokio::spawn(read(
            peer,
            stream,
            lane.clone(),
            budget.clone(),
            inbox.clone(),
        ));
        if let Some(old) = readers.insert(peer, reader.abort_handle()) {
            old.abort();
        }
    }
}

/// Reads frames from one peer's stream until it ends or sends something it must not.
async fn read(
    peer: PeerId,
    mut stream: libp2p::Stream,
    lane: StreamProtocol,
    budget: Arc<Semaphore>,
    inbox: Arc<SharedInbox>,
) {
    loop {
        let frame = match wire::read_frame::<_, Request>(&mut stream, &budget).await {
            Ok(frame) => frame,
            Err(e) => {
                tracing::debug!(%peer, %lane, error = %e, "push stream ended");
                return;
            }
        };
        let bytes = frame.bytes;
        let event = match frame.value {
            Request::Consensus(m) if lane == CONSENSUS => NetEvent::Consensus(m),
            // Every cap is checked on receipt, whatever the sender claims to enforce.
            Request::Txs(txs) if lane == TXS && txs.len() <= wire::MAX_TXS_PER_MESSAGE => {
                NetEvent::Txs(txs)
            }
            _ => {
                tracing::debug!(%peer, %lane, "a message that does not belong on this lane; closing");
                return;
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
    fn an_outbox_is_bounded_in_frames_and_bytes_and_drops_the_newest() {
        let o = Outbox::new(OutboxLimits {
            frames: 3,
            bytes: 100,
        });
        assert!(o.push(frame(500)), "one frame alone may exceed the bytes");
        assert!(!o.push(frame(1)), "then the lane is full");
        let taken = futures::executor::block_on(o.take());
        assert_eq!(taken.len(), 1);
        assert!(o.push(frame(40)) && o.push(frame(40)));
        assert!(!o.push(frame(40)), "over the bytes");
        assert!(o.push(frame(10)));
        assert!(!o.push(frame(1)), "over the frames");
        assert_eq!(o.dropped(), 3);
        let taken = futures::executor::block_on(o.take());
        assert_eq!(
            taken.iter().map(|f| f.len()).collect::<Vec<_>>(),
            vec![40, 40, 10],
            "oldest first"
        );
    }
}
