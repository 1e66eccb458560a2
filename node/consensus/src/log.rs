//! A bounded buffer of messages for heights just above the current one (inside the
//! watermark window), replayed when the replica reaches their height.

use phalanx_types::consensus::SignedMessage;
use phalanx_types::{Address, Height};
use std::collections::{BTreeMap, BTreeSet};

/// Future-height messages, at most `per_peer` per author.
#[derive(Debug, Clone)]
pub struct FutureBuffer {
    per_peer: usize,
    by_height: BTreeMap<Height, Vec<SignedMessage>>,
    counts: BTreeMap<Address, usize>,
}

impl FutureBuffer {
    /// An empty buffer.
    pub fn new(per_peer: usize) -> FutureBuffer {
        FutureBuffer {
            per_peer,
            by_height: BTreeMap::new(),
            counts: BTreeMap::new(),
        }
    }

    /// Buffers `msg`; returns false (and drops it) if its author is over its bound.
    pub fn push(&mut self, msg: SignedMessage) -> bool {
        let n = self.counts.entry(msg.author).or_default();
        if *n >= self.per_peer {
            return false;
        }
        *n += 1;
        self.by_height
            .entry(msg.body.height())
            .or_default()
            .push(msg);
        true
    }

    /// Removes and returns the messages for `height`; drops everything below it.
    pub fn take(&mut self, height: Height) -> Vec<SignedMessage> {
        let below: Vec<Height> = self.by_height.range(..height).map(|(h, _)| *h).collect();
        for h in below {
            for m in self.by_height.remove(&h).unwrap_or_default() {
                self.release(&m.author);
            }
        }
        let msgs = self.by_height.remove(&height).unwrap_or_default();
        for m in &msgs {
            self.release(&m.author);
        }
        msgs
    }

    fn release(&mut self, author: &Address) {
        if let Some(n) = self.counts.get_mut(author) {
            *n -= 1;
            if *n == 0 {
                self.counts.remove(author);
            }
        }
    }

    /// Authors with buffered messages above `height`: validators that are ahead of us.
    pub fn authors_above(&self, height: Height) -> BTreeSet<Address> {
        self.by_height
            .range(height + 1..)
            .flat_map(|(_, v)| v.iter().map(|m| m.author))
            .collect()
    }

    /// Number of buffered messages.
    pub fn len(&self) -> usize {
        self.counts.values().sum()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phalanx_types::consensus::{ConsensusMessage, Vote};
    use phalanx_types::{Hash, SecretKey};

    fn msg(key: &SecretKey, height: u64) -> SignedMessage {
        ConsensusMessage::Prepare(Vote {
            view: 0,
            height,
            block_hash: Hash::ZERO,
        })
        .sign("t", key)
    }

    #[test]
    fn bounded_per_peer_and_released_on_take() {
        let a = SecretKey::from_seed([1; 32]);
        let b = SecretKey::from_seed([2; 32]);
        let mut buf = FutureBuffer::new(2);
        assert!(buf.push(msg(&a, 5)));
        assert!(buf.push(msg(&a, 6)));
        assert!(
            !buf.push(msg(&a, 7)),
            "third message from a is over the bound"
        );
        assert!(buf.push(msg(&b, 7)));
        assert_eq!(buf.authors_above(5).len(), 2);
        assert_eq!(buf.take(6).len(), 1, "height 5 dropped, height 6 returned");
        assert_eq!(buf.len(), 1);
        assert!(buf.push(msg(&a, 8)), "a's budget was released");
    }
}
