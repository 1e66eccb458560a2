//! The running node as the JSON-RPC server sees it.

use crate::service::Command;
use phalanx_core::{CommittedBlock, NodeStatus};
use phalanx_executor::mempool::AdmitError;
use phalanx_network::Network;
use phalanx_rpc::{NodeApi, SubmitError};
use phalanx_types::{Hash, SignedTx};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// Channels into the core thread and what it publishes.
pub struct Api {
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
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::SubmitTxs { txs, reply })
            .await
            .map_err(|_| SubmitError::Unavailable)?;
        answer.await.map_err(|_| SubmitError::Unavailable)
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
