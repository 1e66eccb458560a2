//! The event loop: one thread owns the [`NodeCore`] and takes its inputs from a bounded
//! channel (peer messages, timers, client transactions); tokio tasks own the timers and the
//! network. The core thread has the stack contract execution needs, and since it is the only
//! owner of the core, no lock is ever held, across an `.await` or otherwise.

use anyhow::{Context, Result};
use phalanx_core::{Action, CommittedBlock, CoreError, Event, NodeCore, NodeStatus};
use phalanx_executor::mempool::{AdmitError, VerifiedTx};
use phalanx_rpc::metrics::Metrics;
use phalanx_runtime::EXEC_STACK_BYTES;
use phalanx_types::consensus::SignedMessage;
use phalanx_types::{Hash, Height, SignedTx, encode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// Capacity of the core's input queue. Senders wait when it is full (backpressure).
pub const QUEUE: usize = 4096;

/// An input to the core thread.
#[derive(Debug)]
pub enum Command {
    /// An event for the core.
    Event(Event),
    /// Client transactions; the answer says, for each, whether the mempool took it.
    SubmitTxs {
        /// The transactions, their signatures already checked.
        txs: Vec<VerifiedTx>,
        /// Where the answers go (one per transaction, in order).
        reply: oneshot::Sender<Vec<Result<Hash, AdmitError>>>,
    },
}

/// What the core thread needs from the network.
pub trait Outbound: Send + 'static {
    /// Sends a consensus message to every connected validator.
    fn broadcast(&self, message: Box<SignedMessage>);
    /// Forwards transactions to the validators.
    fn gossip_txs(&self, txs: Vec<SignedTx>);
    /// Asks `peer` for certified blocks from `from`; the answer comes back as an event.
    fn request_blocks(&self, peer: String, from: Height);
    /// Tells `peer` our height.
    fn send_status(&self, peer: String, height: Height);
    /// The validators that may connect changed (governance): these peer ids, plus the
    /// observers named in genesis.
    fn set_validator_peers(&self, peers: Vec<String>);
}

impl<O: Outbound + ?Sized> Outbound for Box<O> {
    fn broadcast(&self, message: Box<SignedMessage>) {
        (**self).broadcast(message);
    }
    fn gossip_txs(&self, txs: Vec<SignedTx>) {
        (**self).gossip_txs(txs);
    }
    fn request_blocks(&self, peer: String, from: Height) {
        (**self).request_blocks(peer, from);
    }
    fn send_status(&self, peer: String, height: Height) {
        (**self).send_status(peer, height);
    }
    fn set_validator_peers(&self, peers: Vec<String>) {
        (**self).set_validator_peers(peers);
    }
}

/// No network (a single-validator chain).
pub struct Standalone;

impl Outbound for Standalone {
    fn broadcast(&self, _: Box<SignedMessage>) {}
    fn gossip_txs(&self, _: Vec<SignedTx>) {}
    fn request_blocks(&self, _: String, _: Height) {}
    fn send_status(&self, _: String, _: Height) {}
    fn set_validator_peers(&self, _: Vec<String>) {}
}

/// The running core: where to send inputs, and what it publishes.
pub struct Service {
    /// Inputs.
    pub commands: mpsc::Sender<Command>,
    /// The latest status.
    pub status: watch::Receiver<NodeStatus>,
    /// Committed blocks, as they land.
    pub commits: broadcast::Sender<Arc<CommittedBlock>>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Result<(), CoreError>>,
}

/// Milliseconds since the Unix epoch (block timestamps and the drift check).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Service {
    /// Starts the core thread. Timers run on `rt`.
    pub fn spawn(
        mut core: NodeCore,
        rt: tokio::runtime::Handle,
        net: impl Outbound,
        metrics: Arc<Metrics>,
    ) -> Result<Service> {
        let (tx, mut rx) = mpsc::channel::<Command>(QUEUE);
        let (status_tx, status) = watch::channel(core.status());
        let (commits, _) = broadcast::channel(256);
        let stop = Arc::new(AtomicBool::new(false));
        let ctx = Loop {
            rt,
            inputs: tx.clone(),
            net,
            commits: commits.clone(),
            metrics,
        };
        let stop_flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("core".into())
            .stack_size(EXEC_STACK_BYTES)
            .spawn(move || -> Result<(), CoreError> {
                let actions = core.start(now_ms())?;
                ctx.dispatch(&core, actions);
                while let Some(cmd) = rx.blocking_recv() {
                    if stop_flag.load(Ordering::Acquire) {
                        break;
                    }
                    let now = now_ms();
                    let started = std::time::Instant::now();
                    let actions = match cmd {
                        Command::Event(e) => core.handle(e, now)?,
                        Command::SubmitTxs { txs, reply } => {
                            let (results, actions) = core.submit_txs(txs, now)?;
                            let _ = reply.send(results);
                            actions
                        }
                    };
                    tracing::trace!(
                        elapsed_us = started.elapsed().as_micros() as u64,
                        "core input handled"
                    );
                    ctx.dispatch(&core, actions);
                    let status = core.status();
                    ctx.observe(&status);
                    status_tx.send_replace(status);
                }
                Ok(())
            })
            .context("cannot start the core thread")?;
        Ok(Service {
            commands: tx,
            status,
            commits,
            stop,
            thread,
        })
    }

    /// Stops the core after the input it is handling (a commit in flight finishes) and waits
    /// for it. Returns the core's error if it stopped on one.
    pub async fn shutdown(self) -> Result<()> {
        self.stop.store(true, Ordering::Release);
        // Wake the thread if it waits for input; if the queue is full it is busy anyway.
        let _ = self.commands.try_send(Command::Event(Event::PeerStatus {
            peer: String::new(),
            height: 0,
        }));
        drop(self.commands);
        let thread = self.thread;
        let joined = tokio::task::spawn_blocking(move || thread.join()).await?;
        match joined {
            Ok(result) => result.context("the node core stopped"),
            Err(_) => anyhow::bail!("the node core panicked"),
        }
    }
}

struct Loop<N> {
    rt: tokio::runtime::Handle,
    inputs: mpsc::Sender<Command>,
    net: N,
    commits: broadcast::Sender<Arc<CommittedBlock>>,
    metrics: Arc<Metrics>,
}

impl<N: Outbound> Loop<N> {
    /// Consensus gauges after each input.
    fn observe(&self, status: &NodeStatus) {
        let m = &self.metrics;
        let before = m.view.get();
        let view = status.view as i64;
        if view > before {
            // The first view is 0; every later one replaced a primary.
            m.view_changes.inc_by((view - before) as u64);
        }
        m.view.set(view);
        m.height.set(status.height as i64);
        m.mempool.set(status.mempool as i64);
    }

    fn later(&self, after_ms: u64, event: Event) {
        let inputs = self.inputs.clone();
        self.rt.spawn(async move {
            tokio::time::sleep(Duration::from_millis(after_ms)).await;
            let _ = inputs.send(Command::Event(event)).await;
        });
    }

    fn dispatch(&self, core: &NodeCore, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Broadcast(m) => self.net.broadcast(m),
                Action::GossipTxs(txs) => self.net.gossip_txs(txs),
                Action::ScheduleTimeout { timeout, after_ms } => {
                    self.later(after_ms, Event::Timeout(timeout));
                }
                Action::ScheduleProposal {
                    view,
                    height,
                    after_ms,
                } => self.later(after_ms, Event::ProposalDue { view, height }),
                Action::RequestBlocks { peer, from } => self.net.request_blocks(peer, from),
                Action::SendStatus { peer } => {
                    self.net.send_status(peer, core.chain().tip().height);
                }
                Action::Membership {
                    validators,
                    upcoming,
                } => {
                    let addresses: Vec<_> =
                        validators.validators.iter().map(|v| v.address).collect();
                    self.metrics.known_validators(&addresses);
                    let peers = validators
                        .validators
                        .iter()
                        .chain(upcoming.iter().flat_map(|u| u.validators.iter()))
                        .map(|v| v.peer_id.clone())
                        .collect();
                    self.net.set_validator_peers(peers);
                }
                Action::Participation {
                    height,
                    voted,
                    missed,
                } => {
                    if !missed.is_empty() {
                        tracing::debug!(height, missed = missed.len(), "votes missing at commit");
                    }
                    self.metrics.participation(height, &voted, &missed);
                }
                Action::Committed(committed) => {
                    let block = &committed.block;
                    let m = &self.metrics;
                    m.height.set(block.height() as i64);
                    m.block_txs.observe(block.txs.len() as f64);
                    m.block_bytes.observe(encode(block).len() as f64);
                    let age_ms = now_ms().saturating_sub(block.header.timestamp_ms);
                    m.commit_latency.observe(age_ms as f64 / 1000.0);
                    let _ = self.commits.send(Arc::from(committed));
                }
            }
        }
    }
}
