//! What a replica persists before it signs, and how it recovers from it.
//!
//! The paper (§4.2, §4.4) requires a replica to remember what it signed across crashes;
//! otherwise a restarted replica could sign a PREPARE or COMMIT that conflicts with one it sent
//! before the crash, or forget a prepared certificate it must carry into a view change. The
//! core emits [`crate::Output::Persist`] before every signature and every new prepared
//! certificate; the node writes the entry durably before it carries out any later output.

use phalanx_types::consensus::{Phase, PreparedCertificate};
use phalanx_types::{Hash, Height, View};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One write-ahead-log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WalEntry {
    /// The replica is about to sign `phase` for (`height`, `view`), voting `block_hash`
    /// (none for VIEW-CHANGE and NEW-VIEW).
    Signed {
        /// Height.
        height: Height,
        /// View.
        view: View,
        /// Phase.
        phase: Phase,
        /// Block voted for.
        block_hash: Option<Hash>,
    },
    /// The replica prepared a block (it must carry the certificate into view changes).
    Prepared(Box<PreparedCertificate>),
}

impl WalEntry {
    /// Height the entry belongs to (entries below the committed height can be pruned).
    pub fn height(&self) -> Height {
        match self {
            WalEntry::Signed { height, .. } => *height,
            WalEntry::Prepared(c) => c.pre_prepare.body.height,
        }
    }
}

/// The state rebuilt from the log for the height being decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recovered {
    /// Highest view the replica entered (signed a normal-case message or NEW-VIEW in).
    pub entered_view: View,
    /// Highest view the replica asked to change to at this height, if above `entered_view`.
    pub changing_to: Option<View>,
    /// What was signed at this height.
    pub signed: BTreeMap<(View, Phase), Option<Hash>>,
    /// Highest-view prepared certificate at this height.
    pub prepared: Option<PreparedCertificate>,
}

/// Rebuilds the state at `height` from `entries` (in write order).
pub fn recover(height: Height, entries: &[WalEntry]) -> Recovered {
    let mut r = Recovered::default();
    let mut vc_view: Option<View> = None;
    for e in entries {
        match e {
            WalEntry::Signed {
                height: h,
                view,
                phase,
                block_hash,
            } => {
                if *phase != Phase::ViewChange {
                    r.entered_view = r.entered_view.max(*view);
                }
                if *h == height {
                    r.signed.insert((*view, *phase), *block_hash);
                    if *phase == Phase::ViewChange {
                        vc_view = Some(vc_view.map_or(*view, |v: View| v.max(*view)));
                    }
                }
            }
            WalEntry::Prepared(cert) if cert.pre_prepare.body.height == height => {
                let newer = r
                    .prepared
                    .as_ref()
                    .is_none_or(|p| p.pre_prepare.body.view < cert.pre_prepare.body.view);
                if newer {
                    r.prepared = Some((**cert).clone());
                }
            }
            WalEntry::Prepared(_) => {}
        }
    }
    r.changing_to = vc_view.filter(|v| *v > r.entered_view);
    r
}
