//! Sync: committed blocks from peers that are ahead, and for peers that are behind. A
//! committed block travels with its commit certificate, so it proves itself.

use crate::core::Core;
use crate::{Output, Reject};
use phalanx_types::consensus::SignedMessage;
use phalanx_types::{CheckedBlock, CommitCertificate};

impl Core {
    /// A block committed elsewhere, with its certificate: verify and commit it.
    pub(crate) fn on_decided(
        &mut self,
        block: CheckedBlock,
        certificate: CommitCertificate,
        out: &mut Vec<Output>,
    ) -> Result<(), Reject> {
        if certificate.height != self.height || block.height() != self.height {
            return Err(Reject::OldHeight);
        }
        if certificate.block_hash != block.hash() || block.header.parent_hash != self.parent {
            return Err(Reject::WrongParent);
        }
        certificate
            .verify(&self.cfg.chain_id, &self.cfg.validators)
            .map_err(|_| Reject::InvalidCertificate)?;
        self.commit(block, certificate, None, out);
        Ok(())
    }

    /// A validator sent a message for a height we already committed: it is behind, so offer
    /// it our committed blocks (certificates make them self-verifying). Once per peer and
    /// height, and only for correctly signed messages.
    pub(crate) fn help_lagging_peer(&mut self, m: &SignedMessage, out: &mut Vec<Output>) {
        let height = m.body.height();
        if Some(m.author) == self.me || self.helped.get(&m.author).is_some_and(|h| *h >= height) {
            return;
        }
        if m.verify(&self.cfg.chain_id, &self.cfg.validators).is_err() {
            return;
        }
        self.helped.insert(m.author, height);
        out.push(Output::PeerBehind {
            peer: m.author,
            height,
        });
    }

    /// A current validator signed a message for a height beyond the watermark window: it
    /// committed far more than this replica, which can no longer follow by buffering. Fetch
    /// the blocks from it (checked once per sync round: one signature per timeout at most).
    pub(crate) fn sync_from_far_ahead(&mut self, m: &SignedMessage, out: &mut Vec<Output>) {
        if self.round.sync_requested
            || Some(m.author) == self.me
            || m.verify(&self.cfg.chain_id, &self.cfg.validators).is_err()
        {
            return;
        }
        self.round.sync_requested = true;
        out.push(Output::SyncNeeded {
            from_height: self.height,
            peers: vec![m.author],
        });
    }

    /// Validators sent correctly signed messages for heights above ours: they committed our
    /// height, so fetch the committed blocks from them (the node asks them in turn; a peer
    /// that lies or stays silent only costs one request).
    pub(crate) fn check_behind(&mut self, out: &mut Vec<Output>) {
        if self.round.sync_requested {
            return;
        }
        let ahead = self.future.authors_above(self.height);
        if !ahead.is_empty() {
            self.round.sync_requested = true;
            out.push(Output::SyncNeeded {
                from_height: self.height,
                peers: ahead.into_iter().collect(),
            });
        }
    }
}
