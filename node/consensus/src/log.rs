//! A bounded buffer of messages for heights just above the current one (inside the
//! watermark window), replayed when the replica reaches their height.
//!
//! Each author is charged for what it makes this replica hold: at most `per_peer` messages
//! and `bytes_per_peer` bytes. Only correctly signed messages get here, and an author has one
//! slot per (height, phase, view): a replay or a second, conflicting message for the same
//! slot takes nothing more. So a relayer can only spend an author's budget with messages the
//! author really signed, once each.

use crate::Reject;
use phalanx_types::consensus::{Phase, SignedMessage};
use phalanx_types::{Address, Height, View};
use std::collections::{BTreeMap, BTreeSet};

type Slot = (Address, Height, Phase, View);

/// Future-height messages, bounded per author in count and bytes.
#[derive(Debug, Clone)]
pub struct FutureBuffer {
    per_peer: usize,
    bytes_per_peer: usize,
    by_height: BTreeMap<Height, Vec<(SignedMessage, usize)>>,
    usage: BTreeMap<Address, (usize, usize)>,
    slots: BTreeSet<Slot>,
}

fn slot(msg: &SignedMessage) -> Slot {
    (
        msg.author,
        msg.body.height(),
        msg.body.phase(),
        msg.body.view(),
    )
}

impl FutureBuffer {
    /// An empty buffer.
    pub fn new(per_peer: usize, bytes_per_peer: usize) -> FutureBuffer {
        FutureBuffer {
            per_peer,
            bytes_per_peer,
            by_height: BTreeMap::new(),
            usage: BTreeMap::new(),
            slots: BTreeSet::new(),
        }
    }

    /// Changes the byte budget (messages already held stay).
    pub fn set_bytes_per_peer(&mut self, bytes: usize) {
        self.bytes_per_peer = bytes;
    }

    /// True if `msg`'s author already filled `msg`'s slot (checked before its signature).
    pub fn holds_slot_of(&self, msg: &SignedMessage) -> bool {
        self.slots.contains(&slot(msg))
    }

    /// Buffers `msg` (of `bytes` encoded bytes), or says why not.
    pub fn push(&mut self, msg: SignedMessage, bytes: usize) -> Result<(), Reject> {
        let slot = slot(&msg);
        if self.slots.contains(&slot) {
            return Err(Reject::Duplicate);
        }
        let (count, used) = self.usage.get(&msg.author).copied().unwrap_or((0, 0));
        if count >= self.per_peer || used.saturating_add(bytes) > self.bytes_per_peer {
            return Err(Reject::BufferFull);
        }
        self.usage.insert(msg.author, (count + 1, used + bytes));
        self.slots.insert(slot);
        self.by_height
            .entry(msg.body.height())
            .or_default()
            .push((msg, bytes));
        Ok(())
    }

    /// Removes and returns the messages for `height`; drops everything below it.
    pub fn take(&mut self, height: Height) -> Vec<SignedMessage> {
        let mut keep = self.by_height.split_off(&height);
        let below = std::mem::take(&mut self.by_height);
        let now = keep.remove(&height).unwrap_or_default();
        self.by_height = keep;
        for (m, bytes) in below.into_values().flatten().chain(now.iter().cloned()) {
            self.release(&m, bytes);
        }
        now.into_iter().map(|(m, _)| m).collect()
    }

    fn release(&mut self, msg: &SignedMessage, bytes: usize) {
        self.slots.remove(&slot(msg));
        if let Some((count, used)) = self.usage.get_mut(&msg.author) {
            *count -= 1;
            *used -= bytes;
            if *count == 0 {
                self.usage.remove(&msg.author);
            }
        }
    }

    /// Authors with buffered messages above `height`: validators that are ahead of us.
    pub fn authors_above(&self, height: Height) -> BTreeSet<Address> {
        self.by_height
            .range(height + 1..)
            .flat_map(|(_, v)| v.iter().map(|(m, _)| m.author))
            .collect()
    }

    /// Bytes held for `author`.
    pub fn bytes_of(&self, author: &Address) -> usize {
        self.usage.get(author).map_or(0, |(_, b)| *b)
    }

    /// Number of buffered messages.
    pub fn len(&self) -> usize {
        self.usage.values().map(|(c, _)| c).sum()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.usage.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phalanx_types::consensus::{ConsensusMessage, Vote};
    use phalanx_types::{Hash, SecretKey};

    fn msg(key: &SecretKey, height: u64, view: u64) -> SignedMessage {
        ConsensusMessage::Prepare(Vote {
            view,
            height,
            block_hash: Hash::ZERO,
        })
        .sign("t", key)
    }

    #[test]
    fn bounded_per_author_in_count_and_bytes_and_released_on_take() {
        let a = SecretKey::from_seed([1; 32]);
        let b = SecretKey::from_seed([2; 32]);
        let mut buf = FutureBuffer::new(2, 1_000);
        assert_eq!(buf.push(msg(&a, 5, 0), 10), Ok(()));
        assert_eq!(buf.push(msg(&a, 5, 0), 10), Err(Reject::Duplicate));
        assert_eq!(buf.push(msg(&a, 6, 0), 10), Ok(()));
        assert_eq!(buf.push(msg(&a, 7, 0), 10), Err(Reject::BufferFull));
        assert_eq!(buf.push(msg(&b, 7, 0), 999), Ok(()));
        assert_eq!(buf.push(msg(&b, 7, 1), 2), Err(Reject::BufferFull), "bytes");
        assert_eq!(buf.bytes_of(&b.address()), 999);
        assert_eq!(buf.authors_above(5).len(), 2);
        assert_eq!(buf.take(6).len(), 1, "height 5 dropped, height 6 returned");
        assert_eq!(buf.len(), 1);
        assert_eq!(buf.bytes_of(&a.address()), 0);
        assert_eq!(
            buf.push(msg(&a, 8, 0), 10),
            Ok(()),
            "a's budget was released"
        );
        assert!(!buf.holds_slot_of(&msg(&a, 5, 0)), "its slots too");
    }
}
