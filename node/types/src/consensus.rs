//! pBFT messages (Castro & Liskov), signed by validators.
//!
//! One block is decided per height (the paper's sequence number). Every message binds the
//! chain id through its signature, so votes cannot be replayed on another chain.

use crate::block::Block;
use crate::crypto::{Address, SecretKey, Signature};
use crate::error::TypesError;
use crate::hash::{Domain, Hash};
use crate::validator::ValidatorSet;
use crate::{Height, View, encoding};
use serde::{Deserialize, Serialize};

/// A PREPARE or COMMIT vote: ⟨view, height, digest⟩.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// View.
    pub view: View,
    /// Height (sequence number).
    pub height: Height,
    /// The block's hash (the paper's digest d).
    pub block_hash: Hash,
}

/// The primary's proposal: ⟨PRE-PREPARE, v, n, d⟩ with the block itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrePrepare {
    /// View.
    pub view: View,
    /// Height.
    pub height: Height,
    /// The proposed block.
    pub block: Block,
}

/// One validator's signature over a vote whose content is implied by its context (the
/// PREPAREs of a prepared certificate, the COMMITs of a commit certificate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteSignature {
    /// The validator.
    pub validator: Address,
    /// Its signature over the vote.
    pub signature: Signature,
}

/// Proof that a block was prepared at a height in a view: the primary's PRE-PREPARE and 2f
/// matching PREPAREs from other validators (the paper's P set entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedCertificate {
    /// The signed PRE-PREPARE (carries the block).
    pub pre_prepare: Signed<PrePrepare>,
    /// Signatures of PREPARE ⟨view, height, block hash⟩ by validators other than the primary.
    pub prepares: Vec<VoteSignature>,
}

impl PreparedCertificate {
    /// The prepared vote ⟨view, height, block hash⟩.
    pub fn vote(&self) -> Vote {
        Vote {
            view: self.pre_prepare.body.view,
            height: self.pre_prepare.body.height,
            block_hash: self.pre_prepare.body.block.hash(),
        }
    }

    /// Verifies the certificate: the PRE-PREPARE is signed by the primary of its view and
    /// 2f distinct other validators signed the matching PREPARE.
    pub fn verify(&self, chain_id: &str, validators: &ValidatorSet) -> Result<(), TypesError> {
        let vote = self.vote();
        let primary = validators.primary(vote.view).address;
        if self.pre_prepare.author != primary {
            return Err(TypesError::InvalidCertificate(
                "pre-prepare not signed by the primary of its view".into(),
            ));
        }
        self.pre_prepare.verify(chain_id, validators)?;
        let prepare = ConsensusMessage::Prepare(vote);
        let needed = validators.quorum() - 1;
        let counted = crate::certificate::verify_vote_signatures(
            chain_id,
            validators,
            &prepare,
            &self.prepares,
            Some(primary),
        )?;
        if counted < needed {
            return Err(TypesError::InvalidCertificate(format!(
                "{counted} prepares, need {needed}"
            )));
        }
        Ok(())
    }
}

/// ⟨VIEW-CHANGE, v+1, n, P, i⟩: the sender moves to `view` and reports what it prepared at
/// `height`, the lowest height it has not committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewChange {
    /// The view the sender wants to enter.
    pub view: View,
    /// The height the sender is deciding (its last committed height + 1).
    pub height: Height,
    /// The sender's highest-view prepared certificate at `height`, if any.
    pub prepared: Option<PreparedCertificate>,
}

/// ⟨NEW-VIEW, v+1, V, O⟩: the new primary's proof that 2f+1 validators moved to `view`,
/// with the PRE-PREPARE it issues for `height` in the new view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewView {
    /// The new view.
    pub view: View,
    /// The height being decided.
    pub height: Height,
    /// 2f+1 signed VIEW-CHANGE messages for (`view`, `height`).
    pub view_changes: Vec<Signed<ViewChange>>,
    /// The signed PRE-PREPARE for (`view`, `height`).
    pub pre_prepare: Signed<PrePrepare>,
}

/// A pBFT message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsensusMessage {
    /// PRE-PREPARE.
    PrePrepare(PrePrepare),
    /// PREPARE.
    Prepare(Vote),
    /// COMMIT.
    Commit(Vote),
    /// VIEW-CHANGE.
    ViewChange(ViewChange),
    /// NEW-VIEW.
    NewView(NewView),
}

/// The kind of a message, for equivocation checks and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// PRE-PREPARE.
    PrePrepare,
    /// PREPARE.
    Prepare,
    /// COMMIT.
    Commit,
    /// VIEW-CHANGE.
    ViewChange,
    /// NEW-VIEW.
    NewView,
}

/// What is actually signed: blocks are replaced by their hash, so a signature over a
/// PRE-PREPARE commits to the header (and through the tx root, to the transactions).
#[derive(Serialize)]
enum SigningForm<'a> {
    PrePrepare {
        view: View,
        height: Height,
        block_hash: Hash,
    },
    Prepare(&'a Vote),
    Commit(&'a Vote),
    ViewChange(&'a ViewChange),
    NewView(&'a NewView),
}

impl ConsensusMessage {
    /// The message's phase.
    pub fn phase(&self) -> Phase {
        match self {
            ConsensusMessage::PrePrepare(_) => Phase::PrePrepare,
            ConsensusMessage::Prepare(_) => Phase::Prepare,
            ConsensusMessage::Commit(_) => Phase::Commit,
            ConsensusMessage::ViewChange(_) => Phase::ViewChange,
            ConsensusMessage::NewView(_) => Phase::NewView,
        }
    }

    /// The view the message belongs to.
    pub fn view(&self) -> View {
        match self {
            ConsensusMessage::PrePrepare(p) => p.view,
            ConsensusMessage::Prepare(v) | ConsensusMessage::Commit(v) => v.view,
            ConsensusMessage::ViewChange(vc) => vc.view,
            ConsensusMessage::NewView(nv) => nv.view,
        }
    }

    /// The height the message is about.
    pub fn height(&self) -> Height {
        match self {
            ConsensusMessage::PrePrepare(p) => p.height,
            ConsensusMessage::Prepare(v) | ConsensusMessage::Commit(v) => v.height,
            ConsensusMessage::ViewChange(vc) => vc.height,
            ConsensusMessage::NewView(nv) => nv.height,
        }
    }

    /// The block hash the message votes for, if it is a proposal or vote.
    pub fn block_hash(&self) -> Option<Hash> {
        match self {
            ConsensusMessage::PrePrepare(p) => Some(p.block.hash()),
            ConsensusMessage::Prepare(v) | ConsensusMessage::Commit(v) => Some(v.block_hash),
            _ => None,
        }
    }

    /// The hash a validator signs for this message on `chain_id`.
    pub fn signing_hash(&self, chain_id: &str) -> Hash {
        let form = match self {
            ConsensusMessage::PrePrepare(p) => return p.signing_hash(chain_id),
            ConsensusMessage::ViewChange(vc) => return vc.signing_hash(chain_id),
            ConsensusMessage::Prepare(v) => SigningForm::Prepare(v),
            ConsensusMessage::Commit(v) => SigningForm::Commit(v),
            ConsensusMessage::NewView(nv) => SigningForm::NewView(nv),
        };
        Hash::of(Domain::ConsensusSign, &(chain_id, form))
    }

    /// Signs the message.
    pub fn sign(self, chain_id: &str, key: &SecretKey) -> SignedMessage {
        Signed::new(self, chain_id, key)
    }
}

/// Anything a validator signs: a message, or a part of one that is carried inside another
/// (a PRE-PREPARE inside a prepared certificate, VIEW-CHANGEs inside a NEW-VIEW). The types
/// are not recursive, so decoding cannot nest without bound.
pub trait Signable {
    /// The hash a validator signs for this value on `chain_id`.
    fn signing_hash(&self, chain_id: &str) -> Hash;
}

impl Signable for ConsensusMessage {
    fn signing_hash(&self, chain_id: &str) -> Hash {
        ConsensusMessage::signing_hash(self, chain_id)
    }
}

impl Signable for PrePrepare {
    fn signing_hash(&self, chain_id: &str) -> Hash {
        let form = SigningForm::PrePrepare {
            view: self.view,
            height: self.height,
            block_hash: self.block.hash(),
        };
        Hash::of(Domain::ConsensusSign, &(chain_id, form))
    }
}

impl Signable for ViewChange {
    fn signing_hash(&self, chain_id: &str) -> Hash {
        Hash::of(
            Domain::ConsensusSign,
            &(chain_id, SigningForm::ViewChange(self)),
        )
    }
}

/// A value with its author's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed<T> {
    /// The validator that signed.
    pub author: Address,
    /// What was signed.
    pub body: T,
    /// Signature over `body.signing_hash(chain_id)`.
    pub signature: Signature,
}

/// A signed pBFT message.
pub type SignedMessage = Signed<ConsensusMessage>;

impl<T: Signable> Signed<T> {
    /// Signs `body` with `key`.
    pub fn new(body: T, chain_id: &str, key: &SecretKey) -> Signed<T> {
        let signature = key.sign(&body.signing_hash(chain_id).0);
        Signed {
            author: key.address(),
            body,
            signature,
        }
    }

    /// Checks that the author is in `validators` and the signature is valid.
    pub fn verify(&self, chain_id: &str, validators: &ValidatorSet) -> Result<(), TypesError> {
        let v = validators
            .get(&self.author)
            .ok_or(TypesError::InvalidSignature)?;
        v.public_key
            .verify(&self.body.signing_hash(chain_id).0, &self.signature)
    }
}

impl Signed<PrePrepare> {
    /// The same signed value as a message (the signature stays valid).
    pub fn into_message(self) -> SignedMessage {
        Signed {
            author: self.author,
            body: ConsensusMessage::PrePrepare(self.body),
            signature: self.signature,
        }
    }
}

impl Signed<ViewChange> {
    /// The same signed value as a message (the signature stays valid).
    pub fn into_message(self) -> SignedMessage {
        Signed {
            author: self.author,
            body: ConsensusMessage::ViewChange(self.body),
            signature: self.signature,
        }
    }
}

impl SignedMessage {
    /// Canonical bytes for the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes untrusted bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<SignedMessage, TypesError> {
        encoding::decode(bytes)
    }
}

/// Two conflicting signed messages from one validator for the same height, view and phase:
/// proof of equivocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The first message seen.
    pub first: SignedMessage,
    /// The conflicting one.
    pub second: SignedMessage,
}

impl Evidence {
    /// The equivocating validator.
    pub fn offender(&self) -> Address {
        self.first.author
    }

    /// Checks that this is real evidence: same author, same height/view/phase, different
    /// content, both signatures valid.
    pub fn verify(&self, chain_id: &str, validators: &ValidatorSet) -> Result<(), TypesError> {
        let (a, b) = (&self.first, &self.second);
        let same_slot = a.author == b.author
            && a.body.phase() == b.body.phase()
            && a.body.view() == b.body.view()
            && a.body.height() == b.body.height();
        if !same_slot || a.body.signing_hash(chain_id) == b.body.signing_hash(chain_id) {
            return Err(TypesError::InvalidCertificate(
                "evidence messages do not conflict".into(),
            ));
        }
        a.verify(chain_id, validators)?;
        b.verify(chain_id, validators)
    }
}
