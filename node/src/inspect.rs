//! `phalanx inspect`: the JSON-RPC API (and the explorer, if configured) over a stopped
//! node's data, opened read-only. For looking into a home after a crash, a bad upgrade or
//! a `Diverged` stop without starting consensus: nothing is written, no peer is dialled, and
//! transactions are refused.

use crate::config::NodeConfig;
use crate::home::Home;
use crate::keys;
use anyhow::{Context, Result, bail};
use phalanx_core::{CommittedBlock, NodeStatus};
use phalanx_executor::governance;
use phalanx_executor::mempool::AdmitError;
use phalanx_genesis::Genesis;
use phalanx_rpc::metrics::Metrics;
use phalanx_rpc::{NodeApi, NodeInfo, Rpc, SubmitError};
use phalanx_runtime::{EXEC_STACK_BYTES, Runtime, RuntimeConfig};
use phalanx_storage::{BlockStore, KvStore, RocksStore, StateStore};
use phalanx_types::{Hash, SignedTx};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::broadcast;

/// A node that is not running: its status is its stored tip, it has no peers, commits
/// nothing and takes no transactions.
struct Stopped {
    status: NodeStatus,
    commits: broadcast::Sender<Arc<CommittedBlock>>,
}

#[async_trait::async_trait]
impl NodeApi for Stopped {
    async fn submit_batch(
        &self,
        _txs: Vec<SignedTx>,
    ) -> Result<Vec<Result<Hash, AdmitError>>, SubmitError> {
        Err(SubmitError::Unavailable)
    }

    fn status(&self) -> NodeStatus {
        self.status.clone()
    }

    fn peers(&self) -> Vec<String> {
        Vec::new()
    }

    fn commits(&self) -> broadcast::Receiver<Arc<CommittedBlock>> {
        self.commits.subscribe()
    }
}

/// The stored tip of `kv` as a status.
fn stored_status(kv: &Arc<dyn KvStore>) -> Result<NodeStatus> {
    let blocks = BlockStore::new(kv.clone());
    let height = blocks.latest_height()?;
    if height == 0 {
        bail!("no committed block in this home: nothing to inspect");
    }
    let block = blocks
        .block(height)?
        .with_context(|| format!("the tip, block {height}, is missing"))?;
    let view = blocks.certificate(height)?.map_or(0, |c| c.view);
    let state = StateStore::new(kv.clone());
    let config = governance::decode_config(state.get_at(&governance::config_state_key(), height)?)?
        .context("no configuration record in the state")?;
    Ok(NodeStatus {
        height,
        hash: block.hash(),
        state_root: block.header.state_root,
        view,
        is_primary: false,
        syncing: false,
        mempool: 0,
        validator: None,
        validators: config.validators.len(),
        quorum: config.validators.quorum(),
    })
}

/// `phalanx inspect [--home DIR] [--rpc ADDR]`: serves until Ctrl-C or SIGTERM.
pub fn cmd_inspect(dir: &Path, rpc: Option<SocketAddr>) -> Result<()> {
    let home = Home(dir.to_path_buf());
    let genesis = Genesis::load(home.genesis())?;
    let mut config = NodeConfig::load(&home.config())?;
    if let Some(rpc) = rpc {
        config.rpc.listen = rpc;
    }
    let kv: Arc<dyn KvStore> = Arc::new(
        RocksStore::open_read_only(home.data())
            .with_context(|| format!("cannot open the database in {}", home.data().display()))?,
    );
    let status = stored_status(&kv)?;
    let info = NodeInfo {
        chain_id: genesis.chain_id.clone(),
        peer_id: keys::peer_id_of(&keys::read_public(&home.node_key())?)?,
        governance: genesis.governance.clone(),
    };
    // Compiled modules are kept in memory: the database is not written.
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default())?);
    let limits = crate::node::rpc_limits(&config);
    let height = status.height;
    let (commits, _) = broadcast::channel(1);
    let api = Arc::new(Stopped { status, commits });
    let server = Rpc::new(
        api,
        Arc::new(Metrics::new()),
        runtime,
        info,
        kv,
        phalanx_rpc::RpcLimits {
            metrics: true,
            ..limits
        },
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("phalanx-inspect")
        .thread_stack_size(EXEC_STACK_BYTES)
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.rpc.listen)
            .await
            .with_context(|| format!("cannot listen for JSON-RPC on {}", config.rpc.listen))?;
        println!(
            "inspecting {} at height {height}, read-only: http://{}",
            dir.display(),
            listener.local_addr()?
        );
        phalanx_rpc::serve(server, listener, crate::node::shutdown_signal()).await?;
        anyhow::Ok(())
    })
}
