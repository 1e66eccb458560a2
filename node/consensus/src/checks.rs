//! The validity rules of carried proof: prepared certificates, VIEW-CHANGE and NEW-VIEW
//! (paper §4.4). Pure functions of the configuration and the message.

use crate::Reject;
use crate::config::Config;
use phalanx_types::consensus::{
    ConsensusMessage, NewView, PreparedCertificate, Signed, ViewChange,
};
use phalanx_types::{Address, Hash, Height};
use std::collections::BTreeSet;

/// The checks of a message that need no chain state and no signature, made before it is
/// buffered or verified: every unsigned part must be the one its signed parts name, so no
/// relayer can alter a correctly signed message (and a copy cannot take the original's
/// place). At most `validators` signatures or VIEW-CHANGEs are carried.
pub fn well_formed(msg: &ConsensusMessage, validators: usize) -> Result<(), Reject> {
    let ok = |cond: bool| if cond { Ok(()) } else { Err(Reject::Malformed) };
    let certificate = |p: &PreparedCertificate, view, height| {
        p.height == height && p.view < view && p.prepares.len() <= validators
    };
    match msg {
        ConsensusMessage::PrePrepare(pp) => ok(pp.block.height() == pp.height),
        ConsensusMessage::Prepare(_) | ConsensusMessage::Commit(_) => Ok(()),
        ConsensusMessage::ViewChange(vc) => ok(match (&vc.prepared, &vc.block) {
            (None, None) => true,
            (Some(p), Some(b)) => {
                certificate(p, vc.view, vc.height)
                    && b.hash() == p.block_hash
                    && b.height() == vc.height
            }
            _ => false,
        }),
        ConsensusMessage::NewView(nv) => {
            let pp = &nv.pre_prepare.body;
            ok(nv.view_changes.len() <= validators
                && pp.view == nv.view
                && pp.height == nv.height
                && pp.block.height() == nv.height
                && nv.view_changes.iter().all(|vc| {
                    vc.body.view == nv.view
                        && vc.body.height == nv.height
                        && vc.body.block.is_none()
                        && vc
                            .body
                            .prepared
                            .as_ref()
                            .is_none_or(|p| certificate(p, nv.view, nv.height))
                }))
        }
    }
}

/// Checks a prepared certificate for `height` (with the configured quorum).
pub fn check_prepared(
    cfg: &Config,
    p: &PreparedCertificate,
    height: Height,
) -> Result<(), &'static str> {
    if p.height != height {
        return Err("prepared certificate for another height");
    }
    p.verify_with_quorum(&cfg.chain_id, &cfg.validators, cfg.quorum())
        .map_err(|_| "invalid prepared certificate")
}

/// Where a VIEW-CHANGE was found: sent on its own (it must carry its prepared block) or
/// inside a NEW-VIEW (it must not: the NEW-VIEW carries the one block that matters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carried {
    /// Sent on its own.
    Alone,
    /// Inside a NEW-VIEW.
    InNewView,
}

/// Checks a VIEW-CHANGE's content for `height` on top of `parent` (not its signature): its
/// prepared certificate is valid, from an earlier view, and its block is there when it must
/// be, names the certificate's hash and extends the chain.
pub fn check_view_change(
    cfg: &Config,
    vc: &ViewChange,
    height: Height,
    parent: &Hash,
    carried: Carried,
) -> Result<(), &'static str> {
    if vc.height != height {
        return Err("view change for another height");
    }
    if let Some(p) = &vc.prepared {
        check_prepared(cfg, p, height)?;
        if p.view >= vc.view {
            return Err("prepared certificate not from an earlier view");
        }
    }
    match (carried, &vc.prepared, &vc.block) {
        (Carried::InNewView, _, Some(_)) => Err("a view change inside a new view carries a block"),
        (Carried::InNewView, _, None) | (Carried::Alone, None, None) => Ok(()),
        (Carried::Alone, None, Some(_)) => Err("a block without a prepared certificate"),
        (Carried::Alone, Some(_), None) => Err("a prepared certificate without its block"),
        (Carried::Alone, Some(p), Some(b)) => {
            if b.hash() != p.block_hash {
                Err("the block is not the prepared one")
            } else if b.height() != height || b.header.parent_hash != *parent {
                Err("the prepared block does not extend the chain")
            } else {
                Ok(())
            }
        }
    }
}

/// The safety rule of the new view (§4.4): among the prepared certificates carried by the
/// VIEW-CHANGEs, the one from the highest view decides which block must be re-proposed.
/// Two valid certificates of one view name the same block (a quorum cannot prepare two), so
/// ties are broken by hash only to stay deterministic.
pub fn highest_prepared<'a>(
    vcs: impl IntoIterator<Item = &'a Signed<ViewChange>>,
) -> Option<&'a PreparedCertificate> {
    vcs.into_iter()
        .filter_map(|vc| vc.body.prepared.as_ref())
        .max_by_key(|p| (p.view, p.block_hash))
}

/// Checks a NEW-VIEW for `height` whose parent must be `parent`: signed by the new primary,
/// a quorum of valid VIEW-CHANGEs from distinct validators for exactly (view, height), and a
/// PRE-PREPARE that re-proposes the highest prepared block if there is one. The NEW-VIEW's
/// own signature is checked by the caller.
pub fn check_new_view(
    cfg: &Config,
    nv: &NewView,
    author: &Address,
    height: Height,
    parent: &Hash,
) -> Result<(), &'static str> {
    let primary = cfg.validators.primary(nv.view).address;
    if *author != primary || nv.pre_prepare.author != primary {
        return Err("new view not from the primary of its view");
    }
    if nv.height != height
        || nv.pre_prepare.body.height != height
        || nv.pre_prepare.body.view != nv.view
    {
        return Err("new view for another height or view");
    }
    if nv.view_changes.len() > cfg.validators.len() {
        return Err("too many view changes");
    }
    let mut authors = BTreeSet::new();
    for vc in &nv.view_changes {
        if vc.body.view != nv.view {
            return Err("view change for another view");
        }
        if !authors.insert(vc.author) {
            return Err("duplicate view change author");
        }
    }
    if authors.len() < cfg.quorum() {
        return Err("not enough view changes");
    }
    let block = &nv.pre_prepare.body.block;
    if block.height() != height || block.header.parent_hash != *parent {
        return Err("new-view block does not extend the committed chain");
    }
    if let Some(p) = highest_prepared(&nv.view_changes)
        && p.block_hash != block.hash()
    {
        return Err("new view does not re-propose the highest prepared block");
    }
    // The signatures last: the cheap checks above cost a forger nothing to fail.
    for vc in &nv.view_changes {
        vc.verify(&cfg.chain_id, &cfg.validators)
            .map_err(|_| "bad view-change signature")?;
        check_view_change(cfg, &vc.body, height, parent, Carried::InNewView)?;
    }
    nv.pre_prepare
        .verify(&cfg.chain_id, &cfg.validators)
        .map_err(|_| "bad pre-prepare signature")?;
    Ok(())
}
