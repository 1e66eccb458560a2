//! Commit certificates: 2f+1 validator signatures over a block, the proof of finality.

use crate::consensus::{Phase, Statement, VoteSignature};
use crate::crypto::Address;
use crate::error::TypesError;
use crate::hash::Hash;
use crate::validator::ValidatorSet;
use crate::{Height, View};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Verifies signatures of `statement` by distinct members of `validators` (skipping `exclude`,
/// which must not appear) and returns how many there are.
pub(crate) fn verify_vote_signatures(
    chain_id: &str,
    validators: &ValidatorSet,
    statement: &Statement,
    signatures: &[VoteSignature],
    exclude: Option<Address>,
) -> Result<usize, TypesError> {
    let bad = |m: String| Err(TypesError::InvalidCertificate(m));
    if signatures.len() > validators.len() {
        return bad("more signatures than validators".into());
    }
    let signing = statement.signing_hash(chain_id);
    let mut seen = BTreeSet::new();
    for vs in signatures {
        let Some(v) = validators.get(&vs.validator) else {
            return bad(format!("{} is not a validator", vs.validator));
        };
        if Some(vs.validator) == exclude {
            return bad(format!("{} may not vote here", vs.validator));
        }
        if !seen.insert(vs.validator) {
            return bad(format!("{} signed twice", vs.validator));
        }
        if v.public_key.verify(&signing.0, &vs.signature).is_err() {
            return bad(format!("bad signature from {}", vs.validator));
        }
    }
    Ok(seen.len())
}

/// Proof that a block is final: 2f+1 COMMITs of one view, for one block, by distinct
/// validators of the set in force at that height.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitCertificate {
    /// Height of the block.
    pub height: Height,
    /// View the commits were cast in.
    pub view: View,
    /// The block's hash.
    pub block_hash: Hash,
    /// The commits.
    pub signatures: Vec<VoteSignature>,
}

impl CommitCertificate {
    /// The COMMIT statement every signature must be over.
    pub fn statement(&self) -> Statement {
        Statement {
            phase: Phase::Commit,
            view: self.view,
            height: self.height,
            digest: self.block_hash,
        }
    }

    /// Verifies the certificate against `validators` on `chain_id`: at least a quorum of
    /// distinct members, each with a valid signature.
    pub fn verify(&self, chain_id: &str, validators: &ValidatorSet) -> Result<(), TypesError> {
        if validators.is_empty() {
            return Err(TypesError::InvalidCertificate("empty validator set".into()));
        }
        let counted = verify_vote_signatures(
            chain_id,
            validators,
            &self.statement(),
            &self.signatures,
            None,
        )?;
        if counted < validators.quorum() {
            return Err(TypesError::InvalidCertificate(format!(
                "{counted} signatures, quorum is {}",
                validators.quorum()
            )));
        }
        Ok(())
    }
}
