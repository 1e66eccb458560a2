//! The vote keeper: PREPAREs and COMMITs at the current height, grouped by view, with quorum
//! counts kept up to date as votes arrive (no rescans) and equivocation detection.

use phalanx_types::consensus::{Evidence, Phase, SignedStatement, Statement, Vote, VoteSignature};
use phalanx_types::{Address, Hash, Signature, View};
use std::collections::BTreeMap;
use std::ops::RangeInclusive;

/// What happened when a vote was added.
#[derive(Debug, Clone, PartialEq)]
pub enum Added {
    /// A new vote; how many validators have now voted its (view, phase, hash).
    New(usize),
    /// The same vote again (a replay or duplicate delivery).
    Duplicate,
    /// A different vote from the same validator for the same view and phase: not counted.
    /// Carries the first vote's (hash, signature), for evidence.
    Conflict(Hash, Signature),
}

/// The evidence that `author` signed `vote` in `phase` (with `signature`) after signing
/// `first` (with `first_signature`) for the same view and height.
pub fn conflict_evidence(
    author: Address,
    phase: Phase,
    vote: &Vote,
    signature: Signature,
    (first, first_signature): (Hash, Signature),
) -> Evidence {
    let signed = |digest, signature| SignedStatement {
        author,
        statement: Statement {
            digest,
            ..vote.statement(phase)
        },
        signature,
    };
    Evidence {
        first: signed(first, first_signature),
        second: signed(vote.block_hash, signature),
    }
}

/// Votes of one height. Each validator has at most one counted vote per (view, phase), so
/// memory is bounded by validators × views kept.
#[derive(Debug, Default, Clone)]
pub struct VoteKeeper {
    votes: BTreeMap<(View, Phase), BTreeMap<Address, (Hash, Signature)>>,
    tally: BTreeMap<(View, Phase, Hash), usize>,
}

impl VoteKeeper {
    /// The vote `author` cast in (view, phase), if any.
    pub fn get(&self, author: &Address, view: View, phase: Phase) -> Option<&(Hash, Signature)> {
        self.votes.get(&(view, phase))?.get(author)
    }

    /// Adds a verified PREPARE or COMMIT.
    pub fn add(
        &mut self,
        author: Address,
        phase: Phase,
        vote: Vote,
        signature: Signature,
    ) -> Added {
        let by_author = self.votes.entry((vote.view, phase)).or_default();
        match by_author.get(&author) {
            None => {
                by_author.insert(author, (vote.block_hash, signature));
                let n = self
                    .tally
                    .entry((vote.view, phase, vote.block_hash))
                    .or_default();
                *n += 1;
                Added::New(*n)
            }
            Some((hash, _)) if *hash == vote.block_hash => Added::Duplicate,
            Some((hash, sig)) => Added::Conflict(*hash, *sig),
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
            .filter(|(a, (h, _))| Some(*a) != exclude && h == hash)
            .map(|(a, (_, signature))| VoteSignature {
                validator: *a,
                signature: *signature,
            })
            .collect()
    }

    /// How many validators (other than `exclude`) voted `hash` in (view, phase).
    pub fn count(&self, view: View, phase: Phase, hash: &Hash, exclude: Option<&Address>) -> usize {
        let all = self.tally.get(&(view, phase, *hash)).copied().unwrap_or(0);
        let excluded = exclude
            .and_then(|a| self.get(a, view, phase))
            .is_some_and(|(h, _)| h == hash);
        all - usize::from(excluded)
    }

    /// The views (lowest first) in which at least `quorum` validators voted `hash` in `phase`.
    pub fn quorum_views(&self, phase: Phase, hash: &Hash, quorum: usize) -> Vec<View> {
        self.tally
            .iter()
            .filter(|((_, p, h), n)| *p == phase && h == hash && **n >= quorum)
            .map(|((v, _, _), _)| *v)
            .collect()
    }

    /// Validators that voted `hash` in `phase` in any view.
    pub fn voters_of(&self, phase: Phase, hash: &Hash) -> Vec<Address> {
        let mut out: Vec<Address> = self
            .votes
            .iter()
            .filter(|((_, p), _)| *p == phase)
            .flat_map(|(_, m)| m.iter().filter(|(_, (h, _))| h == hash).map(|(a, _)| *a))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Forgets every vote outside `views` (the views that can still matter).
    pub fn retain_views(&mut self, views: RangeInclusive<View>) {
        self.votes.retain(|(v, _), _| views.contains(v));
        self.tally.retain(|(v, _, _), _| views.contains(v));
    }

    /// Number of votes held.
    pub fn len(&self) -> usize {
        self.votes.values().map(BTreeMap::len).sum()
    }

    /// True when no vote is held.
    pub fn is_empty(&self) -> bool {
        self.votes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(view: u64, h: u8) -> Vote {
        Vote {
            view,
            height: 1,
            block_hash: Hash([h; 32]),
        }
    }

    #[test]
    fn counts_as_votes_arrive_and_detects_conflicts() {
        let a: Vec<Address> = (0..4).map(|i| Address([i; 32])).collect();
        let s = |i: u8| Signature([i; 64]);
        let mut vk = VoteKeeper::default();
        assert_eq!(
            vk.add(a[0], Phase::Prepare, vote(0, 1), s(0)),
            Added::New(1)
        );
        assert_eq!(
            vk.add(a[0], Phase::Prepare, vote(0, 1), s(0)),
            Added::Duplicate
        );
        assert_eq!(
            vk.add(a[1], Phase::Prepare, vote(0, 1), s(1)),
            Added::New(2)
        );
        assert_eq!(vk.count(0, Phase::Prepare, &Hash([1; 32]), None), 2);
        assert_eq!(vk.count(0, Phase::Prepare, &Hash([1; 32]), Some(&a[1])), 1);
        assert_eq!(vk.count(0, Phase::Prepare, &Hash([1; 32]), Some(&a[3])), 2);
        assert_eq!(vk.count(0, Phase::Commit, &Hash([1; 32]), None), 0);
        assert_eq!(
            vk.add(a[1], Phase::Prepare, vote(0, 2), s(9)),
            Added::Conflict(Hash([1; 32]), s(1))
        );
        // The conflicting vote is not counted.
        assert_eq!(vk.count(0, Phase::Prepare, &Hash([2; 32]), None), 0);
        // Same validator, other view or phase: not a conflict.
        assert_eq!(
            vk.add(a[1], Phase::Prepare, vote(1, 2), s(2)),
            Added::New(1)
        );
        assert_eq!(vk.add(a[1], Phase::Commit, vote(0, 2), s(3)), Added::New(1));
        assert_eq!(vk.quorum_views(Phase::Prepare, &Hash([1; 32]), 2), vec![0]);
        assert_eq!(vk.voters_of(Phase::Prepare, &Hash([2; 32])), vec![a[1]]);
        vk.retain_views(1..=5);
        assert_eq!(vk.count(0, Phase::Prepare, &Hash([1; 32]), None), 0);
        assert_eq!(vk.len(), 1);
    }
}
