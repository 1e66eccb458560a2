//! Where to fetch committed blocks from, and whom to believe about how far the chain goes.
//!
//! - A height is trusted only when f+1 validators claim it (the (f+1)-th highest claim):
//!   one of them is honest, so a Byzantine peer claiming a huge height can neither make
//!   this node look behind nor send it chasing blocks that do not exist.
//! - Requests go to the peers in turn, least recently asked first: a peer that does not
//!   answer within 3 s (or whose answer moves this node nowhere) costs one request timeout,
//!   then the next peer is asked, and it is not asked again for a while (3 s, doubling up to
//!   a minute) unless no other peer can answer.
//! - Only a peer that was asked may answer; its answer counts even when it arrives after the
//!   timeout (blocks carry their certificates, and a slow link is no reason to lose them).
//!   An unsolicited block answer is dropped.
//! - The maps hold peers that reached this node, so they are bounded by the allowlist.

use phalanx_types::Height;
use std::collections::{BTreeMap, BTreeSet};

/// Longest wait for a block answer before another peer is asked.
pub const SYNC_TIMEOUT_MS: u64 = 3_000;

/// Longest a peer that failed is passed over.
pub const MAX_BACKOFF_MS: u64 = 60_000;

/// A block request without an answer yet.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Request {
    since_ms: u64,
    /// It outlived [`SYNC_TIMEOUT_MS`] (and its peer was charged a failure).
    expired: bool,
}

/// Sync steering state (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Steering {
    /// The highest height each peer claimed.
    claims: BTreeMap<String, Height>,
    /// When each peer was last asked for blocks.
    asked: BTreeMap<String, u64>,
    /// Peers that failed to answer: consecutive failures, and until when they are passed over.
    failed: BTreeMap<String, (u32, u64)>,
    /// Requests without an answer yet, one per peer at most.
    outstanding: BTreeMap<String, Request>,
}

impl Steering {
    /// `peer` says its chain reaches `height`.
    pub fn note_claim(&mut self, peer: &str, height: Height) {
        let slot = self.claims.entry(peer.to_string()).or_insert(0);
        *slot = (*slot).max(height);
    }

    /// The height at least `f + 1` of `validators` (peer ids) claim to have reached.
    pub fn trusted_height(&self, validators: &BTreeSet<String>, f: usize) -> Height {
        let mut claims: Vec<Height> = self
            .claims
            .iter()
            .filter(|(p, _)| validators.contains(*p))
            .map(|(_, h)| *h)
            .collect();
        claims.sort_unstable_by(|a, b| b.cmp(a));
        claims.get(f).copied().unwrap_or(0)
    }

    /// Peers that claim more than `height`.
    pub fn claiming_above(&self, height: Height) -> Vec<String> {
        self.claims
            .iter()
            .filter(|(_, h)| **h > height)
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// True while a request younger than [`SYNC_TIMEOUT_MS`] is out. A request that got
    /// no answer in time no longer holds back the next one, and its peer is passed over for
    /// a while (its answer is still taken if it comes).
    pub fn busy(&mut self, now_ms: u64) -> bool {
        let mut late = Vec::new();
        let mut busy = false;
        for (peer, r) in self.outstanding.iter_mut().filter(|(_, r)| !r.expired) {
            if now_ms.saturating_sub(r.since_ms) < SYNC_TIMEOUT_MS {
                busy = true;
            } else {
                r.expired = true;
                late.push(peer.clone());
            }
        }
        for peer in late {
            self.failure(&peer, now_ms);
        }
        busy
    }

    /// `peer` failed to answer with blocks: pass it over for a while, longer each time.
    pub fn failure(&mut self, peer: &str, now_ms: u64) {
        let slot = self.failed.entry(peer.to_string()).or_insert((0, 0));
        slot.0 = slot.0.saturating_add(1);
        let backoff = SYNC_TIMEOUT_MS
            .saturating_mul(1u64 << (slot.0 - 1).min(16))
            .min(MAX_BACKOFF_MS);
        slot.1 = now_ms.saturating_add(backoff);
    }

    /// The candidate to ask: one not passed over, asked least recently (never asked first;
    /// ties by peer id); if every one is passed over, the one whose wait ends first.
    pub fn pick(
        &self,
        candidates: impl IntoIterator<Item = String>,
        now_ms: u64,
    ) -> Option<String> {
        candidates.into_iter().min_by_key(|p| {
            let until = self.failed.get(p).map_or(0, |f| f.1);
            let waiting = until > now_ms;
            (
                waiting,
                if waiting { until } else { 0 },
                self.asked.get(p).copied().unwrap_or(0),
                p.clone(),
            )
        })
    }

    /// A request went to `peer`.
    pub fn asked(&mut self, peer: &str, now_ms: u64) {
        // At least 1, so a peer asked at time 0 ranks after peers never asked.
        self.asked.insert(peer.to_string(), now_ms.max(1));
        self.outstanding.insert(
            peer.to_string(),
            Request {
                since_ms: now_ms,
                expired: false,
            },
        );
    }

    /// `peer` answered: true if this node asked it (the answer is taken), false for an
    /// unsolicited answer (dropped).
    pub fn answered(&mut self, peer: &str) -> bool {
        self.outstanding.remove(peer).is_some()
    }

    /// What `peer`'s answer was worth: blocks that moved this node forward clear its record;
    /// an answer that moved it nowhere (empty, or blocks it could not use) counts as a
    /// failure, so a liar that answers with junk is passed over like a silent peer.
    pub fn record(&mut self, peer: &str, progressed: bool, now_ms: u64) {
        if progressed {
            self.failed.remove(peer);
        } else {
            self.failure(peer, now_ms);
        }
    }

    /// The highest height any peer claims (believed only when nothing else moves).
    pub fn best_claim(&self) -> Height {
        self.claims.values().copied().max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ps: &[&str]) -> BTreeSet<String> {
        ps.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn one_liar_cannot_set_the_trusted_height() {
        let mut s = Steering::default();
        let validators = set(&["a", "b", "c"]);
        s.note_claim("a", 1_000_000);
        assert_eq!(s.trusted_height(&validators, 1), 0, "one claim is not f+1");
        s.note_claim("b", 7);
        s.note_claim("c", 5);
        assert_eq!(s.trusted_height(&validators, 1), 7);
        s.note_claim("observer", 50);
        assert_eq!(s.trusted_height(&validators, 1), 7, "only validators count");
        assert_eq!(s.claiming_above(6).len(), 3);
    }

    #[test]
    fn peers_are_asked_in_turn_and_only_the_asked_may_answer() {
        let mut s = Steering::default();
        let peers = || vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let first = s.pick(peers(), 0).unwrap();
        assert_eq!(first, "a");
        s.asked(&first, 0);
        assert!(s.busy(SYNC_TIMEOUT_MS - 1));
        assert!(!s.answered("b"), "b was not asked");
        // a stays silent: after the timeout the next peer is asked, not a again.
        let t = SYNC_TIMEOUT_MS;
        assert!(!s.busy(t));
        let second = s.pick(peers(), t).unwrap();
        assert_eq!(second, "b");
        s.asked(&second, t);
        assert!(s.answered("b"));
        s.record("b", true, t + 1);
        assert!(!s.busy(t + 1), "a's request expired; b answered");
        // b answered, c was never asked: c, then b; a waits out its back-off.
        assert_eq!(s.pick(peers(), t + 2).unwrap(), "c");
        s.asked("c", t + 2);
        assert!(s.answered("c"));
        s.record("c", true, t + 3);
        assert_eq!(s.pick(peers(), t + 4).unwrap(), "b");
        assert_eq!(
            s.pick(peers(), 2 * t - 1).unwrap(),
            "b",
            "a still passed over"
        );
        assert_eq!(
            s.pick(peers(), 2 * t).unwrap(),
            "a",
            "a asked least recently"
        );
        assert_eq!(
            s.pick(vec!["a".to_string()], t + 4).unwrap(),
            "a",
            "unless alone"
        );
        // An answer that moves nothing is a failure too; a late answer is still taken, and
        // clears its peer if it helped.
        s.asked("b", t + 5);
        assert!(s.answered("b"));
        s.record("b", false, t + 6);
        assert_eq!(s.pick(vec!["a".into(), "b".into()], t + 7).unwrap(), "a");
        assert!(
            s.answered("a"),
            "a's late answer (to the first request) is taken"
        );
        assert!(!s.answered("a"), "once");
        s.record("a", true, t + 8);
        assert_eq!(s.pick(vec!["a".into(), "b".into()], t + 8).unwrap(), "a");
        // Failures back off longer each time, up to the cap.
        s.failure("a", 10 * t);
        assert_eq!(s.failed["a"], (1, 10 * t + t));
        s.failure("a", 10 * t);
        assert_eq!(s.failed["a"], (2, 10 * t + 2 * t));
        for k in 0..30 {
            s.failure("a", k);
        }
        assert!(s.failed["a"].1 <= 29 + MAX_BACKOFF_MS);
    }
}
