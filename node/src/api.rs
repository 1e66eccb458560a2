//! The running node as the JSON-RPC server sees it.

use crate::service::Command;
use phalanx_core::{CommittedBlock, NodeStatus};
use phalanx_executor::mempool::{AdmitError, verify_all};
use phalanx_network::Network;
use phalanx_rpc::{NodeApi, SubmitError};
use phalanx_types::{Hash, SignedTx};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// Channels into the core thread and what it publishes.
pub struct Api {
    /// The chain id transactions must be signed for.
    pub chain_id: String,
    /// The core's input queue.
    pub commands: mpsc::Sender<Command>,
    /// Latest status.
    pub status: watch::Receiver<NodeStatus>,
    /// Commit feed.
    pub commits: broadcast::Sender<Arc<CommittedBlock>>,
    /// The network, if the node has peers.
    pub net: Option<Network>,
}

#[async_trait::async_trait]
impl NodeApi for Api {
    async fn submit_batch(
        &self,
        txs: Vec<SignedTx>,
    ) -> Result<Vec<Result<Hash, AdmitError>>, SubmitError> {
        // Signatures are checked here, on the blocking pool and over every core, so the
        // core thread only does what needs its state.
        let chain_id = self.chain_id.clone();
        let checked = tokio::task::spawn_blocking(move || verify_all(txs, &chain_id))
            .await
            .map_err(|_| SubmitError::Unavailable)?;
        let mut results: Vec<Result<Hash, AdmitError>> = Vec::with_capacity(checked.len());
        let mut verified = Vec::with_capacity(checked.len());
        for c in checked {
            match c {
                Ok(v) => {
                    results.push(Ok(v.hash()));
                    verified.push(v);
                }
                Err(e) => results.push(Err(e)),
            }
        }
        if verified.is_empty() {
            return Ok(results);
        }
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::SubmitTxs {
                txs: verified,
                reply,
            })
            .await
            .map_err(|_| SubmitError::Unavailable)?;
        let mut admitted = answer
            .await
            .map_err(|_| SubmitError::Unavailable)?
            .into_iter();
        // The core answered for the verified ones, in order: put its answers in their slots.
        for r in results.iter_mut().filter(|r| r.is_ok()) {
            *r = admitted.next().unwrap_or(Err(AdmitError::Full));
        }
        Ok(results)
    }

    fn status(&self) -> NodeStatus {
        self.status.borrow().clone()
    }

    fn peers(&self) -> Vec<String> {
        self.net
            .as_ref()
            .map(|n| n.peers().iter().map(|p| p.to_base58()).collect())
            .unwrap_or_default()
    }

    fn commits(&self) -> broadcast::Receiver<Arc<CommittedBlock>> {
        self.commits.subscribe()
    }
}
