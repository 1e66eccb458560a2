//! What peers sent, queued per peer and handed to the node round-robin: each peer has a
//! budget in messages and bytes, and a peer that sends more than the node takes loses its
//! own excess, never another peer's share. Each peer has two lanes with their own budgets:
//! consensus, status and block answers go before its forwarded transactions, so a
//! transaction flood cannot crowd out votes.

use crate::NetEvent;
use libp2p::PeerId;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use tokio::sync::Notify;

/// Bounds of one peer's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxLimits {
    /// Most consensus, status and block messages queued from one peer.
    pub messages: usize,
    /// Most bytes of them (as framed on the wire).
    pub bytes: usize,
    /// Most transaction messages queued from one peer.
    pub tx_messages: usize,
    /// Most bytes of them.
    pub tx_bytes: usize,
}

impl Default for InboxLimits {
    fn default() -> Self {
        InboxLimits {
            messages: 1_024,
            // Two of the largest frames.
            bytes: 2 * crate::wire::MAX_FRAME,
            tx_messages: 64,
            tx_bytes: crate::wire::MAX_FRAME,
        }
    }
}

/// One lane of a peer's queue.
#[derive(Default)]
struct Lane {
    items: VecDeque<(NetEvent, usize)>,
    bytes: usize,
}

impl Lane {
    fn push(
        &mut self,
        event: NetEvent,
        bytes: usize,
        max_messages: usize,
        max_bytes: usize,
    ) -> bool {
        let over = self.items.len() >= max_messages
            || (!self.items.is_empty() && self.bytes + bytes > max_bytes);
        if over {
            return false;
        }
        self.bytes += bytes;
        self.items.push_back((event, bytes));
        true
    }

    fn pop(&mut self) -> Option<NetEvent> {
        let (event, bytes) = self.items.pop_front()?;
        self.bytes -= bytes;
        Some(event)
    }
}

#[derive(Default)]
struct PeerQueue {
    control: Lane,
    txs: Lane,
}

impl PeerQueue {
    fn is_empty(&self) -> bool {
        self.control.items.is_empty() && self.txs.items.is_empty()
    }
}

/// Per-peer queues served in turn.
#[derive(Default)]
pub(crate) struct Inbox {
    limits: InboxLimits,
    queues: BTreeMap<PeerId, PeerQueue>,
    /// Peers with something queued, in serving order.
    turn: VecDeque<PeerId>,
    /// Messages dropped because their peer was over its budget.
    dropped: u64,
}

impl Inbox {
    /// An empty inbox.
    pub fn new(limits: InboxLimits) -> Inbox {
        Inbox {
            limits,
            ..Inbox::default()
        }
    }

    /// Queues `event` from `peer` (`bytes` as framed); false if the peer is over its budget
    /// and the event was dropped.
    pub fn push(&mut self, peer: PeerId, event: NetEvent, bytes: usize) -> bool {
        let limits = self.limits;
        let q = self.queues.entry(peer).or_default();
        let was_empty = q.is_empty();
        let pushed = match event {
            NetEvent::Txs(_) => q
                .txs
                .push(event, bytes, limits.tx_messages, limits.tx_bytes),
            _ => q.control.push(event, bytes, limits.messages, limits.bytes),
        };
        if !pushed {
            self.dropped += 1;
            if was_empty {
                self.queues.remove(&peer);
            }
            return false;
        }
        if was_empty {
            self.turn.push_back(peer);
        }
        true
    }

    /// The next event: one from each peer with something queued, in turn; a peer's
    /// consensus traffic before its transactions.
    pub fn pop(&mut self) -> Option<NetEvent> {
        let peer = self.turn.pop_front()?;
        let q = self.queues.get_mut(&peer)?;
        let event = q.control.pop().or_else(|| q.txs.pop())?;
        if q.is_empty() {
            self.queues.remove(&peer);
        } else {
            self.turn.push_back(peer);
        }
        Some(event)
    }

    /// Whether nothing is queued.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.turn.is_empty()
    }

    /// Messages dropped so far for being over a peer's budget.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// The inbox shared by the swarm task and the stream readers; one deliverer takes from it.
pub(crate) struct SharedInbox {
    inner: Mutex<Inbox>,
    ready: Notify,
}

impl SharedInbox {
    /// An empty shared inbox.
    pub fn new(limits: InboxLimits) -> SharedInbox {
        SharedInbox {
            inner: Mutex::new(Inbox::new(limits)),
            ready: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// [`Inbox::push`], waking the deliverer.
    pub fn push(&self, peer: PeerId, event: NetEvent, bytes: usize) -> bool {
        let pushed = self.lock().push(peer, event, bytes);
        if pushed {
            // Stores a permit when nobody waits, so a wake-up is never lost.
            self.ready.notify_one();
        }
        pushed
    }

    /// The next event, in [`Inbox::pop`] order; waits while there is none.
    pub async fn next(&self) -> NetEvent {
        loop {
            if let Some(event) = self.lock().pop() {
                return event;
            }
            self.ready.notified().await;
        }
    }

    /// [`Inbox::dropped`].
    pub fn dropped(&self) -> u64 {
        self.lock().dropped()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(height: u64) -> NetEvent {
        NetEvent::Status {
            peer: PeerId::random(),
            height,
        }
    }

    fn height(e: &NetEvent) -> u64 {
        match e {
            NetEvent::Status { height, .. } => *height,
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_flooding_peer_gets_one_turn_in_each_round() {
        let mut inbox = Inbox::new(InboxLimits {
            messages: 100,
            bytes: 1 << 20,
            ..InboxLimits::default()
        });
        let (flood, honest) = (PeerId::random(), PeerId::random());
        for i in 0..1_000 {
            inbox.push(flood, status(i), 10);
        }
        assert_eq!(inbox.dropped(), 900, "the flooder lost its own excess");
        assert!(
            inbox.push(honest, status(5_000), 10),
            "room for the honest peer"
        );
        assert!(inbox.push(honest, status(5_001), 10));
        let first: Vec<u64> = (0..4).map(|_| height(&inbox.pop().unwrap())).collect();
        assert_eq!(first, vec![0, 5_000, 1, 5_001], "served in turn");
        let rest = std::iter::from_fn(|| inbox.pop()).count();
        assert_eq!(rest, 98);
        assert!(inbox.is_empty());
    }

    #[test]
    fn a_peer_is_bounded_in_bytes_but_may_always_send_one_message() {
        let mut inbox = Inbox::new(InboxLimits {
            messages: 100,
            bytes: 1_000,
            ..InboxLimits::default()
        });
        let p = PeerId::random();
        assert!(
            inbox.push(p, status(0), 5_000),
            "one oversized message is kept"
        );
        assert!(!inbox.push(p, status(1), 1), "then the peer is over budget");
        inbox.pop().unwrap();
        assert!(inbox.push(p, status(2), 600));
        assert!(inbox.push(p, status(3), 400));
        assert!(!inbox.push(p, status(4), 1));
    }

    #[test]
    fn a_transaction_flood_does_not_crowd_out_votes() {
        let mut inbox = Inbox::new(InboxLimits {
            tx_messages: 10,
            ..InboxLimits::default()
        });
        let p = PeerId::random();
        for _ in 0..1_000 {
            inbox.push(p, NetEvent::Txs(Vec::new()), 1_000);
        }
        assert_eq!(inbox.dropped(), 990, "the transaction lane is full");
        assert!(inbox.push(p, status(7), 100), "votes have their own lane");
        assert_eq!(height(&inbox.pop().unwrap()), 7, "and go first");
        assert_eq!(std::iter::from_fn(|| inbox.pop()).count(), 10);
    }
}
