//! Hand-made validators, blocks, messages and certificates for single-core rule tests.

#![allow(dead_code)]

use phalanx_consensus::{Config, Core, Output, Reject, WalEntry};
use phalanx_types::consensus::{
    ConsensusMessage, Phase, PrePrepare, PreparedCertificate, Signed, SignedMessage, Statement,
    ViewChange, Vote, VoteSignature,
};
use phalanx_types::{
    Address, Block, Bytes, CheckedBlock, CommitCertificate, Hash, Header, SecretKey, SignedTx, Tx,
    TxPayload, Validator, ValidatorSet,
};

pub const CHAIN: &str = "rules";

/// `n` validators with fixed keys.
pub struct Net {
    pub keys: Vec<SecretKey>,
    pub set: ValidatorSet,
}

impl Net {
    pub fn new(n: usize) -> Net {
        let keys: Vec<SecretKey> = (0..n)
            .map(|i| SecretKey::from_seed([i as u8 + 1; 32]))
            .collect();
        let set = ValidatorSet::new(
            keys.iter()
                .map(|k| Validator::new(k.public_key(), "p"))
                .collect(),
        );
        Net { keys, set }
    }

    pub fn config(&self, i: usize) -> Config {
        let mut cfg = Config::new(CHAIN, self.set.clone(), Some(self.keys[i].clone()));
        cfg.base_timeout_ms = 100;
        cfg.max_timeout_ms = 800;
        cfg
    }

    pub fn core(&self, i: usize) -> Core {
        Core::new(self.config(i), 1, Hash::ZERO, 0)
    }

    pub fn address(&self, i: usize) -> Address {
        self.keys[i].address()
    }

    /// A block at height 1 by `proposer`, made distinct by `ts`.
    pub fn block(&self, proposer: usize, ts: u64) -> CheckedBlock {
        self.block_with(proposer, ts, Vec::new())
    }

    /// A block at height 1 carrying `txs`.
    pub fn block_with(&self, proposer: usize, ts: u64, txs: Vec<SignedTx>) -> CheckedBlock {
        let block = Block {
            header: Header {
                chain_id: CHAIN.into(),
                height: 1,
                parent_hash: Hash::ZERO,
                timestamp_ms: ts,
                proposer: self.keys[proposer].address(),
                tx_root: Block::compute_tx_root(&txs),
                state_root: Hash::ZERO,
                receipts_root: Hash::ZERO,
                validators_hash: self.set.hash(),
            },
            txs,
        };
        CheckedBlock::check(block).expect("built with its own tx root")
    }

    pub fn pre_prepare(&self, signer: usize, view: u64, block: &CheckedBlock) -> SignedMessage {
        ConsensusMessage::PrePrepare(self.signed_pre_prepare(signer, view, block).body)
            .sign(CHAIN, &self.keys[signer])
    }

    pub fn signed_pre_prepare(
        &self,
        signer: usize,
        view: u64,
        block: &CheckedBlock,
    ) -> Signed<PrePrepare> {
        Signed::new(
            PrePrepare {
                view,
                height: 1,
                block: block.clone(),
            },
            CHAIN,
            &self.keys[signer],
        )
    }

    pub fn vote(&self, signer: usize, commit: bool, view: u64, hash: Hash) -> SignedMessage {
        let v = Vote {
            view,
            height: 1,
            block_hash: hash,
        };
        let m = if commit {
            ConsensusMessage::Commit(v)
        } else {
            ConsensusMessage::Prepare(v)
        };
        m.sign(CHAIN, &self.keys[signer])
    }

    fn signatures(&self, statement: Statement, signers: &[usize]) -> Vec<VoteSignature> {
        signers
            .iter()
            .map(|i| VoteSignature {
                validator: self.keys[*i].address(),
                signature: self.keys[*i].sign(&statement.signing_hash(CHAIN).0),
            })
            .collect()
    }

    /// A prepared certificate for `block` in `view`: `primary`'s PRE-PREPARE and PREPAREs
    /// of `voters`.
    pub fn prepared_cert(
        &self,
        view: u64,
        block: &CheckedBlock,
        primary: usize,
        voters: &[usize],
    ) -> PreparedCertificate {
        let statement = Statement {
            phase: Phase::PrePrepare,
            view,
            height: 1,
            digest: block.hash(),
        };
        PreparedCertificate {
            view,
            height: 1,
            block_hash: block.hash(),
            pre_prepare: self.keys[primary].sign(&statement.signing_hash(CHAIN).0),
            prepares: self.signatures(
                Statement {
                    phase: Phase::Prepare,
                    ..statement
                },
                voters,
            ),
        }
    }

    pub fn commit_cert(&self, block: &CheckedBlock, signers: &[usize]) -> CommitCertificate {
        let statement = Statement {
            phase: Phase::Commit,
            view: 0,
            height: block.height(),
            digest: block.hash(),
        };
        CommitCertificate {
            height: block.height(),
            view: 0,
            block_hash: block.hash(),
            signatures: self.signatures(statement, signers),
        }
    }

    /// A VIEW-CHANGE to `view`, carrying a prepared certificate and its block if given.
    pub fn view_change(
        &self,
        signer: usize,
        view: u64,
        prepared: Option<(PreparedCertificate, CheckedBlock)>,
    ) -> Signed<ViewChange> {
        let (prepared, block) = match prepared {
            Some((c, b)) => (Some(c), Some(b)),
            None => (None, None),
        };
        Signed::new(
            ViewChange {
                view,
                height: 1,
                prepared,
                block,
            },
            CHAIN,
            &self.keys[signer],
        )
    }
}

/// A signed transaction with a distinct nonce (blocks with transactions, for body swaps).
pub fn tx(nonce: u64) -> SignedTx {
    let key = SecretKey::from_seed([77; 32]);
    Tx {
        chain_id: CHAIN.into(),
        sender: key.public_key(),
        nonce,
        gas_limit: 1_000,
        payload: TxPayload::Call {
            contract: Address([1; 32]),
            method: "m".into(),
            args: Bytes(vec![nonce as u8]),
        },
    }
    .sign(&key)
}

/// Everything but refusals: what the node would carry out.
pub fn acts(out: &[Output]) -> Vec<&Output> {
    out.iter()
        .filter(|o| !matches!(o, Output::Refused { .. }))
        .collect()
}

/// The refusals, in order.
pub fn refusals(out: &[Output]) -> Vec<Reject> {
    out.iter()
        .filter_map(|o| match o {
            Output::Refused { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}

pub fn broadcasts(out: &[Output]) -> Vec<&ConsensusMessage> {
    out.iter()
        .filter_map(|o| match o {
            Output::Broadcast(m) => Some(&m.body),
            _ => None,
        })
        .collect()
}

pub fn has_commit(out: &[Output]) -> Option<&CommitCertificate> {
    out.iter().find_map(|o| match o {
        Output::Commit { certificate, .. } => Some(certificate),
        _ => None,
    })
}

pub fn evidence(out: &[Output]) -> Vec<&phalanx_types::consensus::Evidence> {
    out.iter()
        .filter_map(|o| match o {
            Output::Evidence(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// Each persist comes before the broadcast of what it records.
pub fn assert_persist_before_send(out: &[Output]) {
    use phalanx_types::consensus::Signable;
    for (i, o) in out.iter().enumerate() {
        if let Output::Broadcast(m) = o {
            let s = m.body.statement();
            let persisted = out[..i].iter().any(|p| match p {
                Output::Persist(WalEntry::Signed(r)) => *r == s,
                Output::Persist(WalEntry::NewView(nv)) => {
                    nv.view == s.view && (s.phase == Phase::NewView || s.phase == Phase::PrePrepare)
                }
                _ => false,
            });
            assert!(
                persisted,
                "broadcast of {:?} without a prior persist",
                m.body.phase()
            );
        }
    }
}
