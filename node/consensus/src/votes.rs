//! The vote keeper: PREPAREs and COMMITs at the current height, grouped by view, with quorum
//! counting and equivocation detection.

use phalanx_types::consensus::{ConsensusMessage, Evidence, Phase, SignedMessage, VoteSignature};
use phalanx_types::{Address, Hash, View};
use std::collections::{BTreeMap, BTreeSet};

/// What happened when a vote was added.
#[derive(Debug, Clone, PartialEq)]
pub enum Added {
    /// A new vote.
    New,
    /// The same vote again (a replay or duplicate delivery).
    Duplicate,
    /// A different vote from the same validator for the same view and phase. The second vote
    /// is not counted; the evidence is returned once per validator, view and phase.
    Equivocation(Option<Box<Evidence>>),
}

/// Votes of one height. Each validator has at most one counted vote per (view, phase), so
/// memory is bounded by validators × views kept.
#[derive(Debug, Default, Clone)]
pub struct VoteKeeper {
    votes: BTreeMap<(View, Phase), BTreeMap<Address, SignedMessage>>,
    reported: BTreeSet<(Address, View, Phase)>,
}

impl VoteKeeper {
    /// Adds a verified PREPARE or COMMIT. Other messages are ignored (returns `Duplicate`).
    pub fn add(&mut self, msg: SignedMessage) -> Added {
        let (ConsensusMessage::Prepare(vote) | ConsensusMessage::Commit(vote)) = &msg.body else {
            return Added::Duplicate;
        };
        let key = (vote.view, msg.body.phase());
        let by_author = self.votes.entry(key).or_default();
        match by_author.get(&msg.author) {
            None => {
                by_author.insert(msg.author, msg);
                Added::New
            }
            Some(prev) if prev.body == msg.body => Added::Duplicate,
            Some(prev) => {
                // Equivocation: two different votes for the same (height, view, phase).
                let slot = (msg.author, key.0, key.1);
                if self.reported.insert(slot) {
                    Added::Equivocation(Some(Box::new(Evidence {
                        first: prev.clone(),
                        second: msg,
                    })))
                } else {
                    Added::Equivocation(None)
                }
            }
        }
    }

    /// Signatures of validators (other than `exclude`) that voted `hash` in (view, phase).
    pub fn signatures(
        &self,
        view: View,
        phase: Phase,
        hash: &Hash,
        exclude: Option<&Address>,
    ) -> Vec<VoteSignature> {
        self.votes
            .get(&(view, phase))
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(|(a, m)| Some(*a) != exclude && m.body.block_hash().as_ref() == Some(hash))
            .map(|(a, m)| VoteSignature {
                validator: *a,
                signature: m.signature,
            })
            .collect()
    }

    /// How many validators (other than `exclude`) voted `hash` in (view, phase).
    pub fn count(&self, view: View, phase: Phase, hash: &Hash, exclude: Option<&Address>) -> usize {
        self.votes.get(&(view, phase)).map_or(0, |m| {
            m.iter()
                .filter(|(a, m)| Some(*a) != exclude && m.body.block_hash().as_ref() == Some(hash))
                .count()
        })
    }

    /// Every (view, block hash) that has at least `quorum` votes in `phase`, lowest view first.
    pub fn quorums(&self, phase: Phase, quorum: usize) -> Vec<(View, Hash)> {
        let mut out = Vec::new();
        for ((view, p), by_author) in &self.votes {
            if *p != phase {
                continue;
            }
            let mut tally: BTreeMap<Hash, usize> = BTreeMap::new();
            for m in by_author.values() {
                if let Some(h) = m.body.block_hash() {
                    *tally.entry(h).or_default() += 1;
                }
            }
            out.extend(
                tally
                    .into_iter()
                    .filter(|(_, n)| *n >= quorum)
                    .map(|(h, _)| (*view, h)),
            );
        }
        out
    }

    /// Validators that voted in any view at this height (they are at this height or beyond).
    pub fn voters(&self) -> BTreeSet<Address> {
        self.votes
            .values()
            .flat_map(|m| m.keys().copied())
            .collect()
    }

    /// Forgets everything (on moving to the next height: the paper's garbage collection).
    pub fn clear(&mut self) {
        self.votes.clear();
        self.reported.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phalanx_types::SecretKey;
    use phalanx_types::consensus::Vote;

    fn vote(key: &SecretKey, commit: bool, view: u64, h: u8) -> SignedMessage {
        let v = Vote {
            view,
            height: 1,
            block_hash: Hash([h; 32]),
        };
        let m = if commit {
            ConsensusMessage::Commit(v)
        } else {
            ConsensusMessage::Prepare(v)
        };
        m.sign("t", key)
    }

    #[test]
    fn counts_and_detects_equivocation_once() {
        let keys: Vec<SecretKey> = (0..4).map(|i| SecretKey::from_seed([i; 32])).collect();
        let mut vk = VoteKeeper::default();
        assert_eq!(vk.add(vote(&keys[0], false, 0, 1)), Added::New);
        assert_eq!(vk.add(vote(&keys[0], false, 0, 1)), Added::Duplicate);
        assert_eq!(vk.add(vote(&keys[1], false, 0, 1)), Added::New);
        assert_eq!(vk.count(0, Phase::Prepare, &Hash([1; 32]), None), 2);
        assert_eq!(vk.count(0, Phase::Commit, &Hash([1; 32]), None), 0);
        let ev = vk.add(vote(&keys[1], false, 0, 2));
        let Added::Equivocation(Some(ev)) = ev else {
            panic!("expected evidence, got {ev:?}");
        };
        assert!(
            ev.verify(
                "t",
                &phalanx_types::ValidatorSet::new(
                    keys.iter()
                        .map(|k| phalanx_types::Validator::new(k.public_key(), "p"))
                        .collect()
                )
            )
            .is_ok()
        );
        assert_eq!(
            vk.add(vote(&keys[1], false, 0, 3)),
            Added::Equivocation(None)
        );
        // The conflicting vote is not counted.
        assert_eq!(vk.count(0, Phase::Prepare, &Hash([2; 32]), None), 0);
        // Same validator, other view or phase: not equivocation.
        assert_eq!(vk.add(vote(&keys[1], false, 1, 2)), Added::New);
        assert_eq!(vk.add(vote(&keys[1], true, 0, 2)), Added::New);
        assert_eq!(vk.quorums(Phase::Prepare, 2), vec![(0, Hash([1; 32]))]);
        assert_eq!(
            vk.count(0, Phase::Prepare, &Hash([1; 32]), Some(&keys[0].address())),
            1
        );
    }
}
