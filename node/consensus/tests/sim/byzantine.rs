//! What Byzantine replicas send instead of (or besides) their honest core's messages.

use super::scenario::Byzantine;
use super::{CHAIN, Net, Sim, execute, pool};
use phalanx_consensus::checks::highest_prepared;
use phalanx_types::consensus::{
    ConsensusMessage, NewView, PrePrepare, Signed, SignedMessage, ViewChange, Vote,
};
use phalanx_types::{Block, CheckedBlock, Domain, Hash};

impl Sim {
    pub(super) fn byzantine_broadcast(&mut self, from: usize, kind: Byzantine, msg: SignedMessage) {
        let n = self.nodes.len();
        match kind {
            Byzantine::Silent => {}
            Byzantine::Equivocator => self.equivocate(from, msg),
            Byzantine::Noisy => self.noise(from, msg),
            Byzantine::Replayer => {
                for to in 0..n {
                    self.send(from, to, Net::Consensus(msg.clone()));
                }
                let seen = self.nodes[from].seen.len() as u64;
                for _ in 0..3.min(seen) {
                    let m = self.nodes[from].seen[self.rng.below(seen) as usize].clone();
                    let to = self.rng.below(n as u64) as usize;
                    self.send(from, to, Net::Consensus(m));
                }
            }
            Byzantine::BodySwapper => self.swap_bodies(from, msg),
            Byzantine::NewViewSplitter => self.split_new_view(from, msg),
            Byzantine::FarFuture => {
                let view = msg.body.view();
                let height = msg.body.height();
                if !matches!(
                    msg.body,
                    ConsensusMessage::Prepare(_) | ConsensusMessage::Commit(_)
                ) {
                    for to in 0..n {
                        self.send(from, to, Net::Consensus(msg.clone()));
                    }
                }
                // View changes to views far beyond any lookahead, validly signed.
                for far in [view + 1_000 + self.rng.below(100), view + 1_000_000] {
                    let vc = self.sign(
                        from,
                        ConsensusMessage::ViewChange(ViewChange {
                            view: far,
                            height,
                            prepared: None,
                            block: None,
                        }),
                    );
                    for to in 0..n {
                        self.send(from, to, Net::Consensus(vc.clone()));
                    }
                }
            }
            Byzantine::Flooder => {
                for to in 0..n {
                    self.send(from, to, Net::Consensus(msg.clone()));
                }
                self.flood(from, &msg);
            }
        }
    }

    fn sign(&self, from: usize, body: ConsensusMessage) -> SignedMessage {
        body.sign(CHAIN, &self.nodes[from].key)
    }

    /// As primary: two valid blocks for one (view, height), A to one group and B to the
    /// other, with PREPARE and COMMIT votes for each to its group.
    fn equivocate(&mut self, from: usize, msg: SignedMessage) {
        let n = self.nodes.len();
        let split: Vec<bool> = (0..n).map(|_| self.rng.chance(500)).collect();
        if let ConsensusMessage::PrePrepare(pp) = &msg.body {
            let mut alt = pp.block.block().clone();
            alt.header.timestamp_ms += 1;
            let parent_root = *self.nodes[from].roots.last().expect("genesis root");
            alt.header.state_root = execute(&parent_root, &alt.header);
            let alt = CheckedBlock::check(alt).expect("same body");
            let b = self.sign(
                from,
                ConsensusMessage::PrePrepare(PrePrepare {
                    view: pp.view,
                    height: pp.height,
                    block: alt.clone(),
                }),
            );
            for to in 0..n {
                let (m, hash) = if split[to] {
                    (msg.clone(), pp.block.hash())
                } else {
                    (b.clone(), alt.hash())
                };
                self.send(from, to, Net::Consensus(m));
                let vote = Vote {
                    view: pp.view,
                    height: pp.height,
                    block_hash: hash,
                };
                let p = self.sign(from, ConsensusMessage::Prepare(vote));
                let c = self.sign(from, ConsensusMessage::Commit(vote));
                self.send(from, to, Net::Consensus(p));
                self.send(from, to, Net::Consensus(c));
            }
        } else {
            for to in 0..n {
                let m = match &msg.body {
                    ConsensusMessage::Prepare(v) | ConsensusMessage::Commit(v) if !split[to] => {
                        let mut v = *v;
                        v.block_hash =
                            Hash::digest(Domain::Header, &self.rng.next_u64().to_le_bytes());
                        let body = if matches!(msg.body, ConsensusMessage::Prepare(_)) {
                            ConsensusMessage::Prepare(v)
                        } else {
                            ConsensusMessage::Commit(v)
                        };
                        self.sign(from, body)
                    }
                    _ => msg.clone(),
                };
                self.send(from, to, Net::Consensus(m));
            }
        }
    }

    /// Bad signatures, imposters, conflicting votes for stale and future views.
    fn noise(&mut self, from: usize, msg: SignedMessage) {
        let n = self.nodes.len();
        for to in 0..n {
            self.send(from, to, Net::Consensus(msg.clone()));
            let mut bad = msg.clone();
            bad.signature.0[self.rng.below(64) as usize] ^= 1;
            self.send(from, to, Net::Consensus(bad));
            let mut imposter = msg.clone();
            imposter.author = self.nodes[self.rng.below(n as u64) as usize].key.address();
            self.send(from, to, Net::Consensus(imposter));
            let view = msg.body.view();
            let view = if self.rng.chance(500) {
                view.saturating_sub(self.rng.below(3))
            } else {
                view + self.rng.below(4)
            };
            let vote = Vote {
                view,
                height: msg.body.height() + self.rng.below(2),
                block_hash: Hash::digest(Domain::Header, &self.rng.next_u64().to_le_bytes()),
            };
            let body = if self.rng.chance(500) {
                ConsensusMessage::Prepare(vote)
            } else {
                ConsensusMessage::Commit(vote)
            };
            let m = self.sign(from, body);
            self.send(from, to, Net::Consensus(m));
        }
    }

    /// The honest message to some, and to the others the same header with other
    /// transactions: in a PRE-PREPARE, in the one inside a NEW-VIEW, in a VIEW-CHANGE's
    /// prepared block.
    fn swap_bodies(&mut self, from: usize, msg: SignedMessage) {
        let n = self.nodes.len();
        let block: Option<Block> = match &msg.body {
            ConsensusMessage::PrePrepare(pp) => Some(pp.block.block().clone()),
            ConsensusMessage::NewView(nv) => Some(nv.pre_prepare.body.block.block().clone()),
            ConsensusMessage::ViewChange(vc) => vc.block.as_ref().map(|b| b.block().clone()),
            _ => None,
        };
        for to in 0..n {
            let swapped = block
                .as_ref()
                .filter(|_| self.rng.chance(600))
                .and_then(|b| {
                    let mut txs = b.txs.clone();
                    if txs.is_empty() || self.rng.chance(500) {
                        txs.push(pool()[self.rng.below(pool().len() as u64) as usize].clone());
                    } else {
                        txs.pop();
                    }
                    phalanx_types::attacks::swap_body(&msg, b, &txs)
                });
            match swapped {
                Some(bytes) => self.send(from, to, Net::Raw(bytes)),
                None => self.send(from, to, Net::Consensus(msg.clone())),
            }
        }
    }

    /// As the new primary: some replicas get the honest NEW-VIEW, others one built from
    /// another quorum of the VIEW-CHANGEs it holds, without the highest prepared
    /// certificate when enough others allow it (then re-proposing a lower one, or a fresh
    /// block). Both are valid on their own: safety rests on quorum intersection.
    fn split_new_view(&mut self, from: usize, msg: SignedMessage) {
        let n = self.nodes.len();
        let ConsensusMessage::NewView(nv) = &msg.body else {
            for to in 0..n {
                self.send(from, to, Net::Consensus(msg.clone()));
            }
            return;
        };
        let quorum = self.set_at(nv.height).quorum();
        let mut vcs: Vec<Signed<ViewChange>> = self.nodes[from]
            .view_changes
            .values()
            .filter(|v| v.body.view == nv.view && v.body.height == nv.height)
            .cloned()
            .collect();
        let own = nv
            .view_changes
            .iter()
            .find(|v| v.author == msg.author)
            .cloned();
        vcs.extend(own);
        vcs.sort_by_key(|v| v.author);
        vcs.dedup_by_key(|v| v.author);
        let top = highest_prepared(&vcs).map(|p| (p.view, p.block_hash));
        let mut subset: Vec<Signed<ViewChange>> = vcs
            .iter()
            .filter(|v| v.body.prepared.as_ref().map(|p| (p.view, p.block_hash)) != top)
            .cloned()
            .collect();
        if subset.len() < quorum {
            subset = vcs.clone();
            let k = self.rng.below(subset.len().max(1) as u64) as usize;
            subset.rotate_left(k);
        }
        subset.truncate(quorum.max(1));
        let block = match highest_prepared(&subset) {
            Some(p) => self.nodes[from].blocks.get(&p.block_hash).cloned(),
            None => {
                let parent = nv.pre_prepare.body.block.header.parent_hash;
                let mut b = self.build_block(from, nv.view, nv.height, parent);
                let mut block = b.block().clone();
                block.header.timestamp_ms += 3;
                let root = *self.nodes[from].roots.last().expect("genesis root");
                block.header.state_root = execute(&root, &block.header);
                b = CheckedBlock::check(block).expect("same body");
                Some(b)
            }
        };
        let alt = block.map(|block| {
            let pp = Signed::new(
                PrePrepare {
                    view: nv.view,
                    height: nv.height,
                    block,
                },
                CHAIN,
                &self.nodes[from].key,
            );
            let body = NewView {
                view: nv.view,
                height: nv.height,
                view_changes: subset
                    .into_iter()
                    .map(|mut v| {
                        v.body.block = None;
                        v
                    })
                    .collect(),
                pre_prepare: pp,
            };
            self.sign(from, ConsensusMessage::NewView(body))
        });
        // A third get the honest NEW-VIEW, a third the other one, a third both (and report
        // the equivocation).
        for to in 0..n {
            let pick = self.rng.below(3);
            if pick != 1 || alt.is_none() {
                self.send(from, to, Net::Consensus(msg.clone()));
            }
            if let Some(alt) = alt.as_ref().filter(|_| pick != 0) {
                self.send(from, to, Net::Consensus(alt.clone()));
            }
        }
    }

    /// Validly signed messages for every future height in the window and many views, and a
    /// large proposal for the next height: the future-height buffer must stay within its
    /// byte budget per author.
    fn flood(&mut self, from: usize, msg: &SignedMessage) {
        let n = self.nodes.len();
        let height = msg.body.height();
        let view = msg.body.view();
        let mut out = Vec::new();
        for k in 0..12 {
            let vote = Vote {
                view: view + self.rng.below(60),
                height: height + 1 + k % 8,
                block_hash: Hash::digest(Domain::Header, &self.rng.next_u64().to_le_bytes()),
            };
            out.push(self.sign(from, ConsensusMessage::Commit(vote)));
        }
        let mut big = self
            .build_block(from, view, height + 1, Hash::ZERO)
            .block()
            .clone();
        big.txs = super::big_pool().to_vec();
        big.header.tx_root = Block::compute_tx_root(&big.txs);
        big.header.timestamp_ms = self.rng.next_u64();
        let big = CheckedBlock::check(big).expect("own tx root");
        let pp_view = view + self.rng.below(8);
        out.push(self.sign(
            from,
            ConsensusMessage::PrePrepare(PrePrepare {
                view: pp_view,
                height: height + 1,
                block: big,
            }),
        ));
        for m in out {
            for to in 0..n {
                self.send(from, to, Net::Consensus(m.clone()));
            }
        }
    }
}
