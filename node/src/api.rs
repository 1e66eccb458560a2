//! The running node as the JSON-RPC server sees it.

use crate::service::Command;
use phalanx_core::{CommittedBlock, NodeStatus};
use phalanx_executor::mempool::{AdmitError, VerifiedTx};
use phalanx_network::Network;
use phalanx_rpc::{NodeApi, SubmitError};
use phalanx_types::{Hash, SignedTx};
use std::sync::Arc;
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot, watch};

/// Most transactions handed to the core in one command: a large batch is admitted in
/// slices, so consensus messages queued behind it wait for one slice, not the batch.
const ADMIT_SLICE: usize = 256;

/// Most signatures checked under one permit (a few milliseconds of work).
const VERIFY_SLICE: usize = 128;

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
    /// Permits to check signatures (`rpc.worker_threads`): one per blocking thread in use.
    pub verify: Arc<Semaphore>,
}

#[async_trait::async_trait]
impl NodeApi for Api {
    async fn submit_batch(
        &self,
        txs: Vec<SignedTx>,
    ) -> Result<Vec<Result<Hash, AdmitError>>, SubmitError> {
        // Signatures are checked here, on a bounded share of the blocking pool, so the core
        // thread only does what needs its state and a flood cannot take every core.
        let chain_id = self.chain_id.clone();
        // In slices, each under its own permit: the semaphore is first come first served, so
        // a single transaction waits for one slice of a large batch, not the whole batch.
        let mut checked = Vec::with_capacity(txs.len());
        let mut rest = txs.into_iter().peekable();
        while rest.peek().is_some() {
            let slice: Vec<SignedTx> = rest.by_ref().take(VERIFY_SLICE).collect();
            let permit = self
                .verify
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| SubmitError::Unavailable)?;
            let chain_id = chain_id.clone();
            checked.extend(
                tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    VerifiedTx::new_many(slice, &chain_id)
                })
                .await
                .map_err(|_| SubmitError::Unavailable)?,
            );
        }
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
        let mut admitted = Vec::with_capacity(verified.len());
        let mut rest = verified.into_iter().peekable();
        while rest.peek().is_some() {
            let txs: Vec<_> = rest.by_ref().take(ADMIT_SLICE).collect();
            let (reply, answer) = oneshot::channel();
            self.commands
                .send(Command::SubmitTxs { txs, reply })
                .await
                .map_err(|_| SubmitError::Unavailable)?;
            admitted.extend(answer.await.map_err(|_| SubmitError::Unavailable)?);
        }
        let mut admitted = admitted.into_iter();
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
