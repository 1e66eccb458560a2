//! The checker: safety and validity after every commit, each author's byte budget after
//! every step, liveness at the end, and what a run produced.

use super::{BUFFER_BYTES, CHAIN, Sim, execute};
use phalanx_consensus::Reject;
use phalanx_types::{CheckedBlock, CommitCertificate};
use std::collections::BTreeMap;

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Hash of every event processed, in order.
    pub trace: [u8; 32],
    /// Invariant violations (empty for a correct protocol).
    pub violations: Vec<String>,
    /// Final committed height of each honest replica.
    pub heights: Vec<u64>,
    /// Consensus messages delivered.
    pub messages: u64,
    /// Highest height committed by any honest replica.
    pub max_height: u64,
    /// For each height of the longest honest chain, the replicas whose signatures its
    /// commit certificate holds.
    pub signers: Vec<Vec<usize>>,
    /// Inputs honest cores refused, by reason.
    pub refusals: BTreeMap<Reject, u64>,
    /// Messages that did not even decode (body swaps).
    pub undecodable: u64,
    /// Evidence honest replicas produced.
    pub evidence: u64,
    /// The largest view gap between honest replicas at the heal.
    pub view_gap_at_heal: u64,
}

impl Sim {
    pub(super) fn violation(&mut self, v: String) {
        if self.violations.len() < 20 {
            self.violations.push(format!("t={}ms: {v}", self.now));
        }
    }

    pub(super) fn on_commit(&mut self, i: usize, block: CheckedBlock, cert: CommitCertificate) {
        let height = block.height();
        self.trace.update(&height.to_le_bytes());
        self.trace.update(&block.hash().0);
        if height != self.nodes[i].chain.len() as u64 + 1 {
            self.violation(format!("node {i} committed height {height} out of order"));
            return;
        }
        if cert.block_hash != block.hash() || cert.height != height {
            self.violation(format!(
                "node {i}: certificate does not match block {height}"
            ));
        }
        if !self.s.weaken_quorum && cert.verify(CHAIN, self.set_at(height)).is_err() {
            self.violation(format!("node {i}: invalid certificate at height {height}"));
        }
        let node = &self.nodes[i];
        let root = execute(node.roots.last().expect("genesis root"), &block.header);
        if root != block.header.state_root || block.header.parent_hash != node.tip_hash() {
            self.violation(format!(
                "node {i} committed a block that does not execute at {height}"
            ));
        }
        // SIM_DEBUG=1 prints every commit with its signers and the set of its height.
        if std::env::var("SIM_DEBUG").is_ok() {
            let signers: Vec<usize> = cert
                .signatures
                .iter()
                .filter_map(|s| self.index.get(&s.validator).copied())
                .collect();
            eprintln!(
                "t={} node {i} commits h={height} view={} hash={} signers={signers:?}",
                self.now,
                cert.view,
                block.hash(),
            );
        }
        if self.honest(i) {
            match self.decided.get(&height) {
                Some(h) if *h != block.hash() => {
                    self.violation(format!(
                        "SAFETY: node {i} committed {} at height {height}, another honest node committed {}",
                        block.hash(),
                        h
                    ));
                }
                Some(_) => {}
                None => {
                    self.decided.insert(height, block.hash());
                }
            }
        }
        let node = &mut self.nodes[i];
        node.roots.push(root);
        node.chain.push((block, cert));
        // The node prunes its WAL below the committed height.
        node.wal.retain(|e| e.height() > height);
        node.view_changes.clear();
        node.blocks.clear();
        // What governance would have scheduled in the state of this height; then the core
        // goes on with the next height's buffered messages.
        let announced = self.announced_after(height);
        if let Some(core) = self.nodes[i].core.as_mut() {
            for (first, set) in announced {
                core.schedule_validators(first, set);
            }
            let outs = core.resume();
            self.apply(i, outs);
        }
    }

    /// No author holds more than its budget in an honest core's future buffer.
    pub(super) fn check_memory(&mut self, i: usize) {
        if !self.honest(i) || self.s.byzantine.is_empty() {
            return;
        }
        let Some(core) = self.nodes[i].core.as_ref() else {
            return;
        };
        let over: Vec<(usize, usize)> = self
            .s
            .byzantine
            .iter()
            .map(|(b, _)| (*b, core.buffered_bytes_of(&self.nodes[*b].key.address())))
            .filter(|(_, bytes)| *bytes > BUFFER_BYTES)
            .collect();
        for (b, bytes) in over {
            self.violation(format!(
                "MEMORY: node {i} holds {bytes} bytes from node {b}"
            ));
        }
    }

    pub(super) fn check_liveness(&mut self) {
        let top = self
            .nodes
            .iter()
            .map(|n| n.chain.len() as u64)
            .max()
            .unwrap_or(0);
        for i in 0..self.nodes.len() {
            if !self.honest(i) {
                continue;
            }
            let h = self.nodes[i].chain.len() as u64;
            let status = self.nodes[i].core.as_ref().map(|c| c.status());
            let base = self.heights_at_heal.iter().copied().max().unwrap_or(0);
            if h < base + self.s.min_commits_after_heal {
                self.violation(format!(
                    "LIVENESS: honest node {i} at height {h}, {} heights after heal required (heal max {base}, top {top}); status {status:?}",
                    self.s.min_commits_after_heal
                ));
            }
        }
    }

    pub(super) fn outcome(mut self) -> Outcome {
        let heights: Vec<u64> = (0..self.nodes.len())
            .filter(|i| self.honest(*i))
            .map(|i| self.nodes[i].chain.len() as u64)
            .collect();
        let longest = (0..self.nodes.len())
            .filter(|i| self.honest(*i))
            .max_by_key(|i| self.nodes[*i].chain.len())
            .unwrap_or(0);
        let signers = self.nodes[longest]
            .chain
            .iter()
            .map(|(_, cert)| {
                cert.signatures
                    .iter()
                    .filter_map(|sig| self.index.get(&sig.validator).copied())
                    .collect()
            })
            .collect();
        Outcome {
            signers,
            trace: *self.trace.finalize().as_bytes(),
            violations: std::mem::take(&mut self.violations),
            max_height: heights.iter().copied().max().unwrap_or(0),
            heights,
            messages: self.messages,
            refusals: std::mem::take(&mut self.refusals),
            undecodable: self.undecodable,
            evidence: self.evidence,
            view_gap_at_heal: self.view_gap_at_heal,
        }
    }
}
