//! Trusting a validator set from genesis on, without trusting whoever supplied the proofs.
//!
//! Each applied configuration change is proven by a [`SetProof`]: the configuration record in
//! the state after the block before the change (a Merkle proof against that block's state
//! root), whose header and certificate the set trusted so far must have signed. A supplier can
//! hide a change (then what it certifies later does not verify) but cannot slip in a set.
//! `phalanx verify` and snapshot import both walk changes this way.

use phalanx_executor::governance;
use phalanx_genesis::ChainConfig;
use phalanx_storage::prune::SetProof;
use phalanx_storage::verify_state_proof;
use phalanx_types::{Block, CommitCertificate, Header, Height, ValidatorSet, decode};

/// Why a proof of a set or of a block was refused.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// A set proof is not for the height it claims, or not signed by the set trusted so far.
    #[error("the proof of the set of height {height} {reason}")]
    BadSetProof {
        /// The height the set governs from.
        height: Height,
        /// What is wrong.
        reason: String,
    },
    /// The block is not certified by the set trusted at its height.
    #[error("block {height} {reason}")]
    BadBlock {
        /// Its height.
        height: Height,
        /// What is wrong.
        reason: String,
    },
}

/// Checks one change: `proof` shows the configuration in force from `height`, signed by
/// `set`. Returns the new configuration.
pub fn check_set_proof(
    chain_id: &str,
    set: &ValidatorSet,
    height: Height,
    proof: &SetProof,
) -> Result<ChainConfig, TrustError> {
    let bad = |reason: String| TrustError::BadSetProof { height, reason };
    let header = &proof.header;
    if header.chain_id != chain_id {
        return Err(bad(format!("is of chain {:?}", header.chain_id)));
    }
    if header.height + 1 != height
        || proof.certificate.height != header.height
        || proof.certificate.block_hash != header.hash()
    {
        return Err(bad(format!(
            "is not for block {}",
            height.saturating_sub(1)
        )));
    }
    if header.validators_hash != set.hash() {
        return Err(bad(format!(
            "names block {}, which the set proven so far did not decide",
            header.height
        )));
    }
    proof
        .certificate
        .verify(chain_id, set)
        .map_err(|e| bad(format!("has a bad certificate: {e}")))?;
    let key = governance::config_state_key();
    verify_state_proof(
        header.state_root,
        &key,
        Some(&proof.config_raw),
        &proof.proof,
    )
    .map_err(|e| bad(format!("has a bad Merkle proof: {e}")))?;
    decode(&proof.config_raw).map_err(|e| bad(format!("has a bad configuration record: {e}")))
}

/// The set that decided `target`, from `genesis_set` through `proofs` (each with the height
/// it governs from, in any order; those above `target` are ignored). Returns the set and the
/// number of changes walked.
pub fn set_at(
    chain_id: &str,
    genesis_set: ValidatorSet,
    proofs: &[(Height, SetProof)],
    target: &Header,
) -> Result<(ValidatorSet, usize), TrustError> {
    let mut sorted: Vec<&(Height, SetProof)> =
        proofs.iter().filter(|(h, _)| *h <= target.height).collect();
    sorted.sort_by_key(|(h, _)| *h);
    if let Some(pair) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(TrustError::BadSetProof {
            height: pair[0].0,
            reason: "is given twice".into(),
        });
    }
    let mut set = genesis_set;
    let mut walked = 0;
    for (height, proof) in sorted {
        set = check_set_proof(chain_id, &set, *height, proof)?.validators;
        walked += 1;
    }
    Ok((set, walked))
}

/// Checks that `certificate` certifies `block` under `set`.
pub fn check_block(
    chain_id: &str,
    set: &ValidatorSet,
    block: &Block,
    certificate: &CommitCertificate,
) -> Result<(), TrustError> {
    let height = block.height();
    let bad = |reason: String| TrustError::BadBlock { height, reason };
    if certificate.height != height || certificate.block_hash != block.hash() {
        return Err(bad("has a certificate for another block".into()));
    }
    // The hash covers the header only: the body must be the one the header names.
    if !block.tx_root_matches() {
        return Err(bad("carries transactions its header does not name".into()));
    }
    if block.header.validators_hash != set.hash() {
        return Err(bad("was certified by another validator set".into()));
    }
    certificate
        .verify(chain_id, set)
        .map_err(|e| bad(format!("has a bad certificate: {e}")))
}
