//! What peers sent, queued per peer and handed to the node round-robin: each peer has a
//! budget in messages and bytes, and a peer that sends more than the node takes loses its
//! own excess, never another peer's share.

use crate::NetEvent;
use libp2p::PeerId;
use std::collections::{BTreeMap, VecDeque};

/// Bounds of one peer's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxLimits {
    /// Most messages queued from one peer.
    pub messages: usize,
    /// Most bytes (as framed on the wire) queued from one peer.
    pub bytes: usize,
}

impl Default for InboxLimits {
    fn default() -> Self {
        InboxLimits {
            messages: 1_024,
            // Two of the largest frames.
            bytes: 2 * crate::wire::MAX_FRAME,
        }
    }
}

#[derive(Default)]
struct PeerQueue {
    items: VecDeque<(NetEvent, usize)>,
    bytes: usize,
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
        let q = self.queues.entry(peer).or_default();
        let over = q.items.len() >= self.limits.messages
            || (!q.items.is_empty() && q.bytes + bytes > self.limits.bytes);
        if over {
            self.dropped += 1;
            return false;
        }
        if q.items.is_empty() {
            self.turn.push_back(peer);
        }
        q.bytes += bytes;
        q.items.push_back((event, bytes));
        true
    }

    /// The next event: one from each peer with something queued, in turn.
    pub fn pop(&mut self) -> Option<NetEvent> {
        let peer = self.turn.pop_front()?;
        let q = self.queues.get_mut(&peer)?;
        let (event, bytes) = q.items.pop_front()?;
        q.bytes -= bytes;
        if q.items.is_empty() {
            self.queues.remove(&peer);
        } else {
            self.turn.push_back(peer);
        }
        Some(event)
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.turn.is_empty()
    }

    /// Messages dropped so far for being over a peer's budget.
    pub fn dropped(&self) -> u64 {
        self.dropped
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
}
