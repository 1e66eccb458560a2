//! VIEW-CHANGE and NEW-VIEW validation (paper §4.4).

use crate::config::Config;
use phalanx_types::consensus::{NewView, PreparedCertificate, Signed, ViewChange};
use phalanx_types::{Hash, Height};
use std::collections::BTreeSet;

/// Checks a signed VIEW-CHANGE for `height`: signature, and that its prepared certificate (if
/// any) is valid, for the same height and for an earlier view.
pub fn check_view_change(
    cfg: &Config,
    vc: &Signed<ViewChange>,
    height: Height,
) -> Result<(), &'static str> {
    if vc.body.height != height {
        return Err("view change for another height");
    }
    vc.verify(&cfg.chain_id, &cfg.validators)
        .map_err(|_| "bad view-change signature")?;
    if let Some(p) = &vc.body.prepared {
        check_prepared(cfg, p, height)?;
        if p.pre_prepare.body.view >= vc.body.view {
            return Err("prepared certificate not from an earlier view");
        }
    }
    Ok(())
}

/// Checks a prepared certificate for `height` (with the configured quorum).
pub fn check_prepared(
    cfg: &Config,
    p: &PreparedCertificate,
    height: Height,
) -> Result<(), &'static str> {
    if p.pre_prepare.body.height != height || p.pre_prepare.body.block.height() != height {
        return Err("prepared certificate for another height");
    }
    if cfg.weaken_quorum_for_tests {
        // The weakened test build accepts any certificate with f prepares.
        return p
            .pre_prepare
            .verify(&cfg.chain_id, &cfg.validators)
            .map_err(|_| "bad pre-prepare signature");
    }
    p.verify(&cfg.chain_id, &cfg.validators)
        .map_err(|_| "invalid prepared certificate")
}

/// The safety rule of the new view (§4.4): among the prepared certificates carried by the
/// VIEW-CHANGEs, the one from the highest view decides which block must be re-proposed.
/// Ties (same view) carry the same block, since a view prepares at most one block.
pub fn highest_prepared<'a>(
    vcs: impl IntoIterator<Item = &'a Signed<ViewChange>>,
) -> Option<&'a PreparedCertificate> {
    vcs.into_iter()
        .filter_map(|vc| vc.body.prepared.as_ref())
        .max_by_key(|p| p.pre_prepare.body.view)
}

/// Checks a NEW-VIEW for `height` whose parent must be `parent`: signed by the new primary,
/// 2f+1 valid VIEW-CHANGEs from distinct validators for exactly (view, height), and a
/// PRE-PREPARE that re-proposes the highest prepared block if there is one.
pub fn check_new_view(
    cfg: &Config,
    nv: &NewView,
    author: &phalanx_types::Address,
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
        check_view_change(cfg, vc, height)?;
    }
    if authors.len() < cfg.quorum() {
        return Err("not enough view changes");
    }
    nv.pre_prepare
        .verify(&cfg.chain_id, &cfg.validators)
        .map_err(|_| "bad pre-prepare signature")?;
    let block = &nv.pre_prepare.body.block;
    if block.height() != height || block.header.parent_hash != *parent {
        return Err("new-view block does not extend the committed chain");
    }
    if let Some(p) = highest_prepared(&nv.view_changes)
        && p.pre_prepare.body.block.hash() != block.hash()
    {
        return Err("new view does not re-propose the highest prepared block");
    }
    Ok(())
}
