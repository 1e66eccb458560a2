//! pBFT messages (Castro & Liskov), signed by validators.
//!
//! One block is decided per height (the paper's sequence number). Every signature covers a
//! fixed-size [`Statement`]: the phase, view, height and a digest (the block's hash for
//! proposals and votes, the hash of the content for VIEW-CHANGE and NEW-VIEW), bound to the
//! chain id. So a signature never covers a nested message, evidence of equivocation is two
//! digests and two signatures, and no type here contains itself: decoding cannot recurse
//! without bound.

use crate::block::CheckedBlock;
use crate::crypto::{Address, SecretKey, Signature};
use crate::error::TypesError;
use crate::hash::{Domain, Hash};
use crate::validator::ValidatorSet;
use crate::{Height, View, encoding};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

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

/// The primary's proposal: ⟨PRE-PREPARE, v, n, d⟩ with the block itself. The signature
/// covers the block's hash; the block's body is the one its header names (checked when the
/// message is decoded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrePrepare {
    /// View.
    pub view: View,
    /// Height.
    pub height: Height,
    /// The proposed block.
    pub block: CheckedBlock,
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

/// Proof that a block was prepared at a height in a view (the paper's P set entry): the
/// primary's PRE-PREPARE signature and 2f matching PREPAREs from other validators. The block
/// is named by hash only, so a certificate is small whatever the block's size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedCertificate {
    /// The view the block was prepared in.
    pub view: View,
    /// The height.
    pub height: Height,
    /// The prepared block's hash.
    pub block_hash: Hash,
    /// The primary's signature of ⟨PRE-PREPARE, view, height, block_hash⟩.
    pub pre_prepare: Signature,
    /// Signatures of PREPARE ⟨view, height, block hash⟩ by validators other than the primary.
    pub prepares: Vec<VoteSignature>,
}

impl PreparedCertificate {
    /// The prepared vote ⟨view, height, block hash⟩.
    pub fn vote(&self) -> Vote {
        Vote {
            view: self.view,
            height: self.height,
            block_hash: self.block_hash,
        }
    }

    /// Verifies the certificate: the PRE-PREPARE is signed by the primary of its view and
    /// `quorum - 1` distinct other validators signed the matching PREPARE.
    pub fn verify(&self, chain_id: &str, validators: &ValidatorSet) -> Result<(), TypesError> {
        self.verify_with_quorum(chain_id, validators, validators.quorum())
    }

    /// [`PreparedCertificate::verify`] with another quorum (the simulator's weakened build).
    #[doc(hidden)]
    pub fn verify_with_quorum(
        &self,
        chain_id: &str,
        validators: &ValidatorSet,
        quorum: usize,
    ) -> Result<(), TypesError> {
        let primary = validators.primary(self.view);
        let statement = Statement {
            phase: Phase::PrePrepare,
            view: self.view,
            height: self.height,
            digest: self.block_hash,
        };
        primary
            .public_key
            .verify(&statement.signing_hash(chain_id).0, &self.pre_prepare)
            .map_err(|_| {
                TypesError::InvalidCertificate("pre-prepare not signed by the primary".into())
            })?;
        let prepare = Statement {
            phase: Phase::Prepare,
            ..statement
        };
        let needed = quorum.saturating_sub(1);
        let counted = crate::certificate::verify_vote_signatures(
            chain_id,
            validators,
            &prepare,
            &self.prepares,
            Some(primary.address),
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
    /// The prepared block itself, so the next primary can re-propose it. Not signed (the
    /// certificate names it by hash): a VIEW-CHANGE sent on its own must carry it when it
    /// has a certificate; one carried inside a NEW-VIEW must not.
    pub block: Option<CheckedBlock>,
}

impl ViewChange {
    /// The digest the signature covers: the prepared certificate (the block is named by it).
    pub fn digest(&self) -> Hash {
        Hash::of(Domain::ConsensusContent, &self.prepared)
    }

    /// The same VIEW-CHANGE without its block (as a NEW-VIEW carries it).
    pub fn without_block(&self) -> ViewChange {
        ViewChange {
            block: None,
            ..self.clone()
        }
    }
}

/// ⟨NEW-VIEW, v+1, V, O⟩: the new primary's proof that a quorum of validators moved to
/// `view`, with the PRE-PREPARE it issues for `height` in the new view. The VIEW-CHANGEs come
/// without blocks and the one block re-proposed is in the PRE-PREPARE, so a NEW-VIEW is at
/// most one block plus a bounded number of small certificates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewView {
    /// The new view.
    pub view: View,
    /// The height being decided.
    pub height: Height,
    /// A quorum of signed VIEW-CHANGE messages for (`view`, `height`), without blocks.
    pub view_changes: Vec<Signed<ViewChange>>,
    /// The signed PRE-PREPARE for (`view`, `height`).
    pub pre_prepare: Signed<PrePrepare>,
}

impl NewView {
    /// The digest the signature covers: every VIEW-CHANGE and the PRE-PREPARE, each as its
    /// author, signed statement (phase, view, height, digest) and signature. A VIEW-CHANGE's
    /// unsigned block is not covered: a NEW-VIEW must carry none.
    pub fn digest(&self) -> Hash {
        let vcs: Vec<SignedStatement> = self
            .view_changes
            .iter()
            .map(Signed::signed_statement)
            .collect();
        Hash::of(
            Domain::ConsensusContent,
            &(vcs, self.pre_prepare.signed_statement()),
        )
    }
}

/// A pBFT message.
// A message lives briefly; boxing the block-carrying variants would only add allocations.
#[allow(clippy::large_enum_variant)]
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

/// The kind of a message. The order is part of what is signed: never reorder.
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

/// What every consensus signature covers, whatever the message: fixed size, bound to the
/// chain id by [`Statement::signing_hash`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Statement {
    /// The kind of message.
    pub phase: Phase,
    /// Its view.
    pub view: View,
    /// Its height.
    pub height: Height,
    /// The block's hash (PRE-PREPARE, PREPARE, COMMIT) or the content's digest (VIEW-CHANGE,
    /// NEW-VIEW).
    pub digest: Hash,
}

impl Statement {
    /// The hash a validator signs for this statement on `chain_id`.
    pub fn signing_hash(&self, chain_id: &str) -> Hash {
        Hash::of(Domain::ConsensusSign, &(chain_id, self))
    }
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

    /// Signs the message.
    pub fn sign(self, chain_id: &str, key: &SecretKey) -> SignedMessage {
        Signed::new(self, chain_id, key)
    }
}

/// Anything a validator signs: a message, or a part of one that is carried inside another
/// (a PRE-PREPARE or VIEW-CHANGEs inside a NEW-VIEW).
pub trait Signable {
    /// The name of `Signed<Self>` in serde's data model (each signed kind is its own
    /// container, so tools that walk the types, such as the no-nesting check, tell them
    /// apart; the binary encoding does not contain it).
    const SIGNED_NAME: &'static str;

    /// What the signature covers.
    fn statement(&self) -> Statement;
}

impl Signable for ConsensusMessage {
    const SIGNED_NAME: &'static str = "SignedMessage";

    fn statement(&self) -> Statement {
        match self {
            ConsensusMessage::PrePrepare(p) => p.statement(),
            ConsensusMessage::Prepare(v) => v.statement(Phase::Prepare),
            ConsensusMessage::Commit(v) => v.statement(Phase::Commit),
            ConsensusMessage::ViewChange(vc) => vc.statement(),
            ConsensusMessage::NewView(nv) => nv.statement(),
        }
    }
}

impl Vote {
    /// The statement of this vote as a PREPARE or COMMIT.
    pub fn statement(&self, phase: Phase) -> Statement {
        Statement {
            phase,
            view: self.view,
            height: self.height,
            digest: self.block_hash,
        }
    }
}

impl Signable for PrePrepare {
    const SIGNED_NAME: &'static str = "SignedPrePrepare";

    fn statement(&self) -> Statement {
        Statement {
            phase: Phase::PrePrepare,
            view: self.view,
            height: self.height,
            digest: self.block.hash(),
        }
    }
}

impl Signable for ViewChange {
    const SIGNED_NAME: &'static str = "SignedViewChange";

    fn statement(&self) -> Statement {
        Statement {
            phase: Phase::ViewChange,
            view: self.view,
            height: self.height,
            digest: self.digest(),
        }
    }
}

impl Signable for NewView {
    const SIGNED_NAME: &'static str = "SignedNewView";

    fn statement(&self) -> Statement {
        Statement {
            phase: Phase::NewView,
            view: self.view,
            height: self.height,
            digest: self.digest(),
        }
    }
}

/// A value with its author's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed<T> {
    /// The validator that signed.
    pub author: Address,
    /// What was signed.
    pub body: T,
    /// Signature over `body.statement().signing_hash(chain_id)`.
    pub signature: Signature,
}

/// A signed pBFT message.
pub type SignedMessage = Signed<ConsensusMessage>;

const SIGNED_FIELDS: &[&str] = &["author", "body", "signature"];

/// As derived, under the name of the signed kind ([`Signable::SIGNED_NAME`]).
impl<T: Serialize + Signable> Serialize for Signed<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct(T::SIGNED_NAME, 3)?;
        st.serialize_field("author", &self.author)?;
        st.serialize_field("body", &self.body)?;
        st.serialize_field("signature", &self.signature)?;
        st.end()
    }
}

/// As derived, under the name of the signed kind ([`Signable::SIGNED_NAME`]).
impl<'de, T: Deserialize<'de> + Signable> Deserialize<'de> for Signed<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Signed<T>, D::Error> {
        use serde::de::{Error, MapAccess, SeqAccess, Visitor};
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Signable> Visitor<'de> for V<T> {
            type Value = Signed<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(T::SIGNED_NAME)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Signed<T>, A::Error> {
                let missing = |i| A::Error::invalid_length(i, &self);
                Ok(Signed {
                    author: seq.next_element()?.ok_or_else(|| missing(0))?,
                    body: seq.next_element()?.ok_or_else(|| missing(1))?,
                    signature: seq.next_element()?.ok_or_else(|| missing(2))?,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Signed<T>, A::Error> {
                let (mut author, mut body, mut signature) = (None, None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "author" => author = Some(map.next_value()?),
                        "body" => body = Some(map.next_value()?),
                        "signature" => signature = Some(map.next_value()?),
                        other => return Err(A::Error::unknown_field(other, SIGNED_FIELDS)),
                    }
                }
                Ok(Signed {
                    author: author.ok_or_else(|| A::Error::missing_field("author"))?,
                    body: body.ok_or_else(|| A::Error::missing_field("body"))?,
                    signature: signature.ok_or_else(|| A::Error::missing_field("signature"))?,
                })
            }
        }
        d.deserialize_struct(T::SIGNED_NAME, SIGNED_FIELDS, V(std::marker::PhantomData))
    }
}

impl<T: Signable> Signed<T> {
    /// Signs `body` with `key`.
    pub fn new(body: T, chain_id: &str, key: &SecretKey) -> Signed<T> {
        let signature = key.sign(&body.statement().signing_hash(chain_id).0);
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
        v.public_key.verify(
            &self.body.statement().signing_hash(chain_id).0,
            &self.signature,
        )
    }

    /// The author's signed statement, the half of an equivocation proof.
    pub fn signed_statement(&self) -> SignedStatement {
        SignedStatement {
            author: self.author,
            statement: self.body.statement(),
            signature: self.signature,
        }
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

/// A statement with its author's signature: all that any consensus signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SignedStatement {
    /// The validator that signed.
    pub author: Address,
    /// What it signed.
    pub statement: Statement,
    /// The signature.
    pub signature: Signature,
}

impl SignedStatement {
    /// Checks the signature against `validators`.
    pub fn verify(&self, chain_id: &str, validators: &ValidatorSet) -> Result<(), TypesError> {
        let v = validators
            .get(&self.author)
            .ok_or(TypesError::InvalidSignature)?;
        v.public_key
            .verify(&self.statement.signing_hash(chain_id).0, &self.signature)
    }
}

/// Proof of equivocation: one validator signed two different digests for the same phase,
/// view and height. Fixed size (two statements), whatever the messages were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The statement seen first.
    pub first: SignedStatement,
    /// The conflicting one.
    pub second: SignedStatement,
}

impl Evidence {
    /// Evidence from two signed values, if they conflict: same author, phase, view and
    /// height, different digests. The signatures are not checked here.
    pub fn of<A: Signable, B: Signable>(a: &Signed<A>, b: &Signed<B>) -> Option<Evidence> {
        let (first, second) = (a.signed_statement(), b.signed_statement());
        let (x, y) = (first.statement, second.statement);
        let conflict = first.author == second.author
            && x.phase == y.phase
            && x.view == y.view
            && x.height == y.height
            && x.digest != y.digest;
        conflict.then_some(Evidence { first, second })
    }

    /// The equivocating validator.
    pub fn offender(&self) -> Address {
        self.first.author
    }

    /// The height both statements are about.
    pub fn height(&self) -> Height {
        self.first.statement.height
    }

    /// Checks that this is real evidence: same author, same height, view and phase,
    /// different digests, both signatures valid.
    pub fn verify(&self, chain_id: &str, validators: &ValidatorSet) -> Result<(), TypesError> {
        let (a, b) = (&self.first, &self.second);
        let (x, y) = (a.statement, b.statement);
        let conflict = a.author == b.author
            && x.phase == y.phase
            && x.view == y.view
            && x.height == y.height
            && x.digest != y.digest;
        if !conflict {
            return Err(TypesError::InvalidCertificate(
                "evidence statements do not conflict".into(),
            ));
        }
        a.verify(chain_id, validators)?;
        b.verify(chain_id, validators)
    }
}

/// Distinct authors of `signed` (a helper for quorum checks over carried messages).
pub fn distinct_authors<T>(signed: &[Signed<T>]) -> Option<BTreeSet<Address>> {
    let mut authors = BTreeSet::new();
    for s in signed {
        if !authors.insert(s.author) {
            return None;
        }
    }
    Some(authors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vote_statements_keep_their_signing_bytes() {
        // PRE-PREPARE, PREPARE and COMMIT statements encode exactly as the signing forms
        // before statements existed (phase tag, view, height, block hash), so commit
        // certificates made then still verify.
        let key = SecretKey::from_seed([3; 32]);
        let vote = Vote {
            view: 2,
            height: 9,
            block_hash: Hash([7; 32]),
        };
        let mut legacy = encoding::encode(&"c");
        legacy.extend_from_slice(&2u32.to_le_bytes());
        legacy.extend_from_slice(&2u64.to_le_bytes());
        legacy.extend_from_slice(&9u64.to_le_bytes());
        legacy.extend_from_slice(&[7; 32]);
        let legacy_hash = Hash::digest(Domain::ConsensusSign, &legacy);
        assert_eq!(vote.statement(Phase::Commit).signing_hash("c"), legacy_hash);
        let signed = ConsensusMessage::Commit(vote).sign("c", &key);
        assert!(
            key.public_key()
                .verify(&legacy_hash.0, &signed.signature)
                .is_ok()
        );
    }

    #[test]
    fn evidence_is_two_conflicting_statements() {
        let keys: Vec<SecretKey> = (0..4).map(|i| SecretKey::from_seed([i; 32])).collect();
        let set = ValidatorSet::new(
            keys.iter()
                .map(|k| crate::Validator::new(k.public_key(), "p"))
                .collect(),
        );
        let vote = |h: u8, k: &SecretKey| {
            ConsensusMessage::Prepare(Vote {
                view: 1,
                height: 5,
                block_hash: Hash([h; 32]),
            })
            .sign("c", k)
        };
        let ev = Evidence::of(&vote(1, &keys[0]), &vote(2, &keys[0])).expect("conflict");
        assert!(ev.verify("c", &set).is_ok());
        assert_eq!(ev.offender(), keys[0].address());
        assert_eq!(ev.height(), 5);
        assert!(Evidence::of(&vote(1, &keys[0]), &vote(1, &keys[0])).is_none());
        assert!(Evidence::of(&vote(1, &keys[0]), &vote(2, &keys[1])).is_none());
        // A forged second half, or another chain's signature, is not evidence.
        let mut forged = ev;
        forged.second.signature = forged.first.signature;
        assert!(forged.verify("c", &set).is_err());
        assert!(ev.verify("other", &set).is_err());
        // Fixed size, whatever the messages carried.
        assert_eq!(encoding::encoded_len(&ev), 2 * (32 + 4 + 8 + 8 + 32 + 64));
    }
}
