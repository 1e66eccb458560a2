//! What a replica persists before it signs, and how it recovers from it.
//!
//! The paper (§4.2, §4.4) requires a replica to remember what it signed across crashes;
//! otherwise a restarted replica could sign a PREPARE or COMMIT that conflicts with one it sent
//! before the crash, or forget a prepared certificate it must carry into a view change. The
//! core emits [`crate::Output::Persist`] before every signature and every new prepared
//! certificate; the node writes the entry durably before it carries out any later output.
//! Each entry is one write: a NEW-VIEW and the PRE-PREPARE inside it are recorded together,
//! so no crash can leave one recorded without the other.

use phalanx_types::consensus::{NewView, Phase, PreparedCertificate, Signable, Statement};
use phalanx_types::{CheckedBlock, Hash, Height, View};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One write-ahead-log entry.
// Entries are written once and read at start; boxing the certificate would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WalEntry {
    /// The replica is about to sign this statement.
    Signed(Statement),
    /// The replica prepared a block: it must carry the certificate, and the block, into
    /// view changes.
    Prepared {
        /// The certificate.
        certificate: PreparedCertificate,
        /// The prepared block.
        block: CheckedBlock,
    },
    /// The replica, as primary, is about to send this NEW-VIEW: its PRE-PREPARE and its
    /// NEW-VIEW in one write, and the message itself, re-sent after a restart.
    NewView(Box<NewView>),
}

impl WalEntry {
    /// Height the entry belongs to (entries below the committed height can be pruned).
    pub fn height(&self) -> Height {
        match self {
            WalEntry::Signed(s) => s.height,
            WalEntry::Prepared { certificate, .. } => certificate.height,
            WalEntry::NewView(nv) => nv.height,
        }
    }
}

/// The prepared certificate and block of the current height.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The certificate.
    pub certificate: PreparedCertificate,
    /// The block it names.
    pub block: CheckedBlock,
}

/// The state rebuilt from the log for the height being decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recovered {
    /// Highest view the replica entered (signed a normal-case message or NEW-VIEW in).
    pub entered_view: View,
    /// Highest view the replica asked to change to at this height, if above `entered_view`.
    pub changing_to: Option<View>,
    /// The digest signed in each (view, phase) at this height.
    pub signed: BTreeMap<(View, Phase), Hash>,
    /// Highest-view prepared certificate at this height, with its block.
    pub prepared: Option<Prepared>,
    /// The NEW-VIEW this replica sent for `entered_view` at this height, if it led it.
    pub new_view: Option<NewView>,
}

/// Rebuilds the state at `height` from `entries` (in write order).
pub fn recover(height: Height, entries: &[WalEntry]) -> Recovered {
    let mut r = Recovered::default();
    let mut vc_view: Option<View> = None;
    for e in entries {
        match e {
            WalEntry::Signed(s) => {
                if s.phase != Phase::ViewChange {
                    r.entered_view = r.entered_view.max(s.view);
                }
                if s.height == height {
                    r.signed.insert((s.view, s.phase), s.digest);
                    if s.phase == Phase::ViewChange {
                        vc_view = Some(vc_view.map_or(s.view, |v: View| v.max(s.view)));
                    }
                }
            }
            WalEntry::Prepared { certificate, block } if certificate.height == height => {
                let newer = r
                    .prepared
                    .as_ref()
                    .is_none_or(|p| p.certificate.view < certificate.view);
                if newer {
                    r.prepared = Some(Prepared {
                        certificate: certificate.clone(),
                        block: block.clone(),
                    });
                }
            }
            WalEntry::Prepared { .. } => {}
            WalEntry::NewView(nv) => {
                r.entered_view = r.entered_view.max(nv.view);
                if nv.height == height {
                    let pp = nv.pre_prepare.body.statement();
                    r.signed.insert((nv.view, Phase::PrePrepare), pp.digest);
                    r.signed.insert((nv.view, Phase::NewView), nv.digest());
                    r.new_view = Some((**nv).clone());
                }
            }
        }
    }
    r.changing_to = vc_view.filter(|v| *v > r.entered_view);
    r.new_view = r.new_view.filter(|nv| nv.view == r.entered_view);
    r
}
