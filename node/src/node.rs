//! `phalanx start` and `phalanx dev`: open the home, check genesis against the store, and run.

use crate::api::Api;
use crate::config::NodeConfig;
use crate::home::{Home, init_home};
use crate::service::{Service, Standalone};
use crate::{keys, p2p};
use anyhow::{Context, Result, bail};
use phalanx_core::chain::write_genesis;
use phalanx_core::{Chain, ChainInfo, NodeCore};
use phalanx_executor::adapters::{KvArtifacts, StoreView};
use phalanx_executor::genesis::genesis_state;
use phalanx_executor::mempool::MempoolLimits;
use phalanx_genesis::{ConsensusParams, DeployPolicy, Genesis};
use phalanx_rpc::metrics::Metrics;
use phalanx_rpc::{NodeInfo, Rpc, RpcLimits};
use phalanx_runtime::{EXEC_STACK_BYTES, Runtime, RuntimeConfig, StateChanges, StateRead};
use phalanx_storage::{Column, KvStore, RocksStore, StateStore, WriteBatch};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Meta key of the genesis hash a store was initialized with.
pub const GENESIS_HASH_KEY: &[u8] = b"genesis_hash";
/// Set once every state key's preimage is recorded.
pub const PREIMAGES_KEY: &[u8] = b"preimages_v1";
/// Present while `phalanx snapshot import` writes: a store holding it is half-written.
pub const IMPORTING_KEY: &[u8] = b"snapshot_import";

/// The genesis hash a store was initialized with, if any.
pub fn stored_genesis(kv: &Arc<dyn KvStore>) -> Result<Option<Vec<u8>>> {
    Ok(kv.get(Column::Meta, GENESIS_HASH_KEY)?)
}

/// Stages the mark that a store holds the chain of `genesis` (and ends an import).
pub fn stage_genesis_mark(batch: &mut WriteBatch, genesis: &Genesis) {
    batch.put(Column::Meta, GENESIS_HASH_KEY, genesis.hash().0);
    batch.delete(Column::Meta, IMPORTING_KEY);
}

/// Chain id of `phalanx dev`.
pub const DEV_CHAIN_ID: &str = "phalanx-dev";

/// Opens the store and makes sure it holds this genesis: on first start it writes the genesis
/// state (version 0 of the state tree); afterwards it refuses a different genesis.
pub fn open_chain(home: &Home, genesis: &Genesis) -> Result<Arc<dyn KvStore>> {
    let store = RocksStore::open(home.data())
        .with_context(|| format!("cannot open the database in {}", home.data().display()))?;
    let kv: Arc<dyn KvStore> = Arc::new(store);
    if kv.get(Column::Meta, IMPORTING_KEY)?.is_some() {
        bail!(
            "{} holds a snapshot install that did not finish: run the same `phalanx snapshot import` or `phalanx start --state-sync` again, or empty the directory",
            home.data().display()
        );
    }
    let hash = genesis.hash();
    match kv.get(Column::Meta, GENESIS_HASH_KEY)? {
        Some(stored) if stored == hash.0 => {}
        Some(stored) => bail!(
            "{} holds chain data of genesis {}, but config/genesis.json has hash {}",
            home.data().display(),
            hex_of(&stored),
            hash
        ),
        None => {
            let changes = genesis_changes(kv.clone(), genesis)?;
            let mut marker = WriteBatch::new();
            marker.put(Column::Meta, GENESIS_HASH_KEY, hash.0);
            let root = write_genesis(&kv, &changes, marker)?;
            tracing::info!(genesis = %hash, state_root = %root, "initialized chain state from genesis");
        }
    }
    // Stores written before key preimages were kept (snapshots carry keys): once.
    if kv.get(Column::Meta, PREIMAGES_KEY)?.is_none() {
        let keys = StateStore::new(kv.clone()).backfill_preimages()?;
        kv.put(Column::Meta, PREIMAGES_KEY, b"1")?;
        tracing::info!(keys, "recorded the preimages of the state's keys");
    }
    Ok(kv)
}

/// The state of height 0 (the governance records, and genesis contracts deployed with the
/// real runtime), built on a thread with the stack the runtime needs.
fn genesis_changes(kv: Arc<dyn KvStore>, genesis: &Genesis) -> Result<StateChanges> {
    let runtime = Runtime::with_store(RuntimeConfig::default(), Arc::new(KvArtifacts(kv)))?;
    let genesis = genesis.clone();
    let changes = std::thread::Builder::new()
        .name("genesis".into())
        .stack_size(EXEC_STACK_BYTES)
        .spawn(move || genesis_state(&runtime, &genesis))?
        .join()
        .map_err(|_| anyhow::anyhow!("genesis execution panicked"))??;
    Ok(changes)
}

/// Re-executes the blocks `phalanx rollback` left pending, before consensus starts, on a
/// thread with the stack contracts need.
fn replay_rolled_back(mut chain: Chain) -> Result<Chain> {
    std::thread::Builder::new()
        .name("rollback-replay".into())
        .stack_size(EXEC_STACK_BYTES)
        .spawn(move || {
            for height in chain.replay_rolled_back()? {
                tracing::info!(
                    height,
                    "re-executed the rolled-back block: it matches its certificate"
                );
            }
            Ok::<Chain, phalanx_core::CoreError>(chain)
        })?
        .join()
        .map_err(|_| anyhow::anyhow!("replaying rolled-back blocks panicked"))?
        .map_err(Into::into)
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// How a validator attacks, in a build with the test-only Byzantine mode.
#[cfg(feature = "byzantine")]
pub use crate::byzantine::Strategy;

/// How a validator attacks: nothing to choose from without the `byzantine` feature.
#[cfg(not(feature = "byzantine"))]
#[derive(Debug, Clone, Copy)]
pub enum Strategy {}

/// `phalanx start --home DIR`
pub fn cmd_start(
    dir: &Path,
    rpc: Option<SocketAddr>,
    p2p: Option<String>,
    state_sync: bool,
    byzantine: Option<Strategy>,
) -> Result<()> {
    let home = Home(dir.to_path_buf());
    if !home.exists() {
        bail!(
            "{} is not a node home (no config/config.toml); run `phalanx init --home {} --chain-id ID` first",
            dir.display(),
            dir.display()
        );
    }
    let mut config = NodeConfig::load(&home.config())?;
    if let Some(rpc) = rpc {
        config.rpc.listen = rpc;
    }
    if let Some(p2p) = p2p {
        config.p2p.listen = p2p;
    }
    run(&home, &config, false, state_sync, byzantine)
}

/// `phalanx dev [--home DIR] [--rpc ADDR]`: creates a one-validator home with a dev account
/// key on first run, then runs it.
pub fn cmd_dev(dir: &Path, rpc: Option<SocketAddr>) -> Result<()> {
    let home = Home(dir.to_path_buf());
    let dev_key = dir.join("dev.key");
    if !home.exists() {
        let mut config = NodeConfig {
            moniker: "dev".into(),
            ..NodeConfig::default()
        };
        if let Some(rpc) = rpc {
            config.rpc.listen = rpc;
        }
        let params = ConsensusParams {
            block_interval_ms: 1_000,
            ..ConsensusParams::default()
        };
        init_home(dir, DEV_CHAIN_ID, config, DeployPolicy::Anyone, params)?;
        keys::write_key(&dev_key, &phalanx_types::SecretKey::generate())?;
        tracing::info!(home = %dir.display(), "created dev home");
    }
    let mut config = NodeConfig::load(&home.config())?;
    // The flag wins; without it, config.toml and PHALANX_RPC__LISTEN decide.
    if let Some(rpc) = rpc {
        config.rpc.listen = rpc;
    }
    // The explorer is on for a dev chain unless its config says otherwise.
    let explorer = *config.rpc.explorer.get_or_insert(true);
    let dev = keys::read_key(&dev_key)?;
    println!("phalanx dev chain {DEV_CHAIN_ID}");
    println!("  home     {}", dir.display());
    println!("  rpc      http://{}", config.rpc.listen);
    if explorer {
        println!("  explorer http://{}/explorer/", config.rpc.listen);
    }
    println!(
        "  dev key  {} (address {})",
        dev_key.display(),
        dev.address()
    );
    run(&home, &config, true, false, None)
}

/// Compiles every deployed code whose compiled artifact is missing or stale, before the node
/// executes anything: blocks price the first call of a code as a load, never as a compile.
fn prepare_artifacts(runtime: &Runtime, kv: &Arc<dyn KvStore>) -> Result<()> {
    let state = StoreView(StateStore::new(kv.clone()));
    let prefix = phalanx_runtime::layout::code_prefix();
    let mut after: Option<Vec<u8>> = None;
    let mut compiled = 0;
    while let Some((key, code)) = state.next(&prefix, after.as_deref())? {
        if let Some(hash) = phalanx_runtime::layout::code_hash_of_key(&key) {
            compiled += runtime.prepare_artifacts([(hash, code)])?;
        }
        after = Some(key);
    }
    if compiled > 0 {
        tracing::info!(
            compiled,
            "compiled contract code whose artifacts were missing or stale"
        );
    }
    Ok(())
}

/// The network started on `on`, serving blocks from `blocks` and snapshots from `kept`.
fn spawn_network(
    on: &tokio::runtime::Handle,
    node_key: &phalanx_types::SecretKey,
    config: &NodeConfig,
    genesis: &Genesis,
    blocks: p2p::LateBlocks,
    kept: Arc<crate::snapshots::Kept>,
) -> Result<(
    phalanx_network::Network,
    tokio::sync::mpsc::Receiver<phalanx_network::NetEvent>,
)> {
    let mut net_config = p2p::network_config(node_key, config, genesis)?;
    net_config.snapshot_bytes_per_sec = config.snapshots.serve_bytes_per_sec;
    let _on = on.enter();
    let (net, events) = phalanx_network::spawn_serving(net_config, blocks, kept)?;
    tracing::info!(peer_id = %net.local_peer_id(), "p2p started");
    Ok((net, events))
}

/// Fetches a snapshot into the empty home over `net`, serving `/metrics` (with the sync's
/// progress) meanwhile, on the metrics address or else the RPC address.
async fn state_sync_run(
    home: &Home,
    config: &NodeConfig,
    genesis: &Genesis,
    net: phalanx_network::Network,
    metrics: Arc<Metrics>,
) -> Result<()> {
    let addr = config.metrics.listen.unwrap_or(config.rpc.listen);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for metrics on {addr}"))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(phalanx_rpc::serve_metrics_only(
        metrics.clone(),
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    tracing::info!(
        height_source = "peers",
        "state sync: the home is empty; joining from a snapshot"
    );
    let sync = crate::statesync::StateSync {
        net,
        home,
        genesis,
        metrics,
    };
    let result = sync.run().await;
    let _ = stop.send(());
    if tokio::time::timeout(Duration::from_secs(3), server)
        .await
        .is_err()
    {
        tracing::warn!("metrics connections still open when the state sync ended");
    }
    result
}

/// Runs a node. `dev` skips the network while the chain has a single validator and no
/// observers (nobody to talk to); `phalanx start` always listens, so a chain can grow by
/// governance. With `state_sync`, an empty home is first filled from a peer's snapshot.
fn run(
    home: &Home,
    config: &NodeConfig,
    dev: bool,
    state_sync: bool,
    byzantine: Option<Strategy>,
) -> Result<()> {
    let genesis = Genesis::load(home.genesis())?;
    let node_key = keys::read_key(&home.node_key())?;
    // Queries run contract code on blocking threads: give them the stack it needs.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("phalanx-rpc")
        .thread_stack_size(EXEC_STACK_BYTES)
        .build()?;
    // The swarm, the peer forwarder and the core's timers run on their own runtime, so RPC
    // load (however many connections, however slow their handlers) cannot delay them.
    let net_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("phalanx-net")
        .build()?;
    let (validator, local_key) = crate::signer::validator_signer(home, config, &node_key, &net_rt)?;
    #[cfg(not(feature = "byzantine"))]
    let _ = local_key;
    let metrics = Arc::new(Metrics::new());
    let late_blocks = p2p::LateBlocks::default();
    crate::snapshots::remove_unfinished(&home.snapshots())?;
    // Snapshots off: none served either.
    let served = if config.snapshots.snapshot_interval > 0 {
        crate::snapshots::scan(&home.snapshots())?
    } else {
        Vec::new()
    };
    #[allow(unused_mut)]
    let mut kept = crate::snapshots::Kept::new(served);
    #[cfg(feature = "byzantine")]
    {
        kept.corrupt = byzantine == Some(Strategy::CorruptSnapshots);
    }
    let kept = Arc::new(kept);
    let start_network = || {
        spawn_network(
            net_rt.handle(),
            &node_key,
            config,
            &genesis,
            late_blocks.clone(),
            kept.clone(),
        )
    };
    // `start` listens before the store opens (a state sync needs peers); `dev` only once it
    // knows it has peers.
    let mut network = if dev { None } else { Some(start_network()?) };
    if state_sync {
        match &network {
            Some((net, _)) if crate::statesync::wanted(home)? => rt.block_on(state_sync_run(
                home,
                config,
                &genesis,
                net.clone(),
                metrics.clone(),
            ))?,
            Some(_) => tracing::info!(
                "the home already holds chain data: starting from it (state sync is for empty homes)"
            ),
            None => bail!("state sync needs the network"),
        }
    }
    let kv = open_chain(home, &genesis)?;
    let runtime = Arc::new(Runtime::with_store(
        RuntimeConfig::default(),
        Arc::new(KvArtifacts(kv.clone())),
    )?);
    prepare_artifacts(&runtime, &kv)?;
    let chain = Chain::open(
        kv.clone(),
        ChainInfo::from_genesis(&genesis),
        runtime.clone(),
    )?;
    let chain = replay_rolled_back(chain)?;
    let core = NodeCore::new(chain, Some(validator.clone()), MempoolLimits::default())?;
    let tip = core.chain().tip();
    late_blocks.set(core.chain().blocks().clone());
    tracing::info!(
        moniker = %config.moniker,
        chain_id = %genesis.chain_id,
        validators = genesis.validators.len(),
        height = tip.height,
        validator = %validator.address(),
        is_validator = core.validator().is_some(),
        "starting node"
    );
    let networked = !dev || core.chain().validators().len() > 1 || !genesis.observers.is_empty();
    if networked && network.is_none() {
        network = Some(start_network()?);
    }
    let info = NodeInfo {
        chain_id: genesis.chain_id.clone(),
        peer_id: keys::peer_id(&node_key)?,
        governance: genesis.governance.clone(),
    };
    let limits = rpc_limits(config);
    let workers = limits.blocking_threads;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.rpc.listen)
            .await
            .with_context(|| format!("cannot listen for JSON-RPC on {}", config.rpc.listen))?;
        let metrics_listener = match config.metrics.listen {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen for metrics on {addr}"))?,
            ),
            None => None,
        };
        let on_net = net_rt.handle().clone();
        let (service, net) = match network {
            Some((net, events)) => {
                let outbound = p2p::P2p::new(net.clone(), &genesis);
                let outbound: Box<dyn crate::service::Outbound> = match byzantine {
                    None => Box::new(outbound),
                    #[cfg(feature = "byzantine")]
                    Some(strategy) => Box::new(crate::byzantine::Byzantine::new(
                        outbound,
                        net.clone(),
                        strategy,
                        local_key
                            .clone()
                            .context("a Byzantine test validator needs its key in its home")?,
                        genesis.chain_id.clone(),
                    )),
                    #[cfg(not(feature = "byzantine"))]
                    Some(strategy) => match strategy {},
                };
                let service = Service::spawn(core, on_net.clone(), outbound, metrics.clone())?;
                on_net.spawn(p2p::forward(
                    events,
                    service.commands.clone(),
                    genesis.chain_id.clone(),
                ));
                (service, Some(net))
            }
            None => (
                Service::spawn(core, on_net.clone(), Standalone, metrics.clone())?,
                None,
            ),
        };
        let api = Arc::new(Api {
            chain_id: genesis.chain_id.clone(),
            commands: service.commands.clone(),
            status: service.status.clone(),
            commits: service.commits.clone(),
            net,
            verify: Arc::new(tokio::sync::Semaphore::new(workers)),
        });
        // The snapshotter pins the next snapshot's height before the pruner starts.
        let pin = crate::snapshots::Pin::none();
        let snapshotter = crate::snapshots::Snapshotter {
            kv: kv.clone(),
            dir: home.snapshots(),
            config: config.snapshots,
            kept: kept.clone(),
            pin: pin.clone(),
            metrics: metrics.clone(),
        }
        .spawn(tip.height, service.status.clone())?;
        let pruner = crate::pruning::PrunerThread::spawn(
            kv.clone(),
            config.pruning,
            service.status.clone(),
            metrics.clone(),
            pin,
        )?;
        let rpc = Rpc::new(api, metrics, runtime, info, kv, limits);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut stopped_rpc = stopped.clone();
        if let Some(listener) = metrics_listener {
            let mut stopped_metrics = stopped.clone();
            let served = phalanx_rpc::serve_metrics(rpc.clone(), listener, async move {
                let _ = stopped_metrics.changed().await;
            });
            tokio::spawn(async move {
                if let Err(e) = served.await {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            });
        }
        let server = tokio::spawn(phalanx_rpc::serve(rpc, listener, async move {
            let _ = stopped_rpc.changed().await;
        }));
        let mut status = service.status.clone();
        tokio::select! {
            _ = shutdown_signal() => tracing::info!("shutting down"),
            _ = async { while status.changed().await.is_ok() {} } => {
                tracing::error!("the node core stopped");
            }
        }
        // Stop taking requests, then let the core finish what it is doing.
        let _ = stop.send(true);
        drop(stopped);
        drop(pruner);
        drop(snapshotter);
        let result = service.shutdown().await;
        match tokio::time::timeout(Duration::from_secs(3), server).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "json-rpc server error"),
            Err(_) => tracing::warn!("json-rpc connections still open at shutdown"),
            _ => {}
        }
        result
    })?;
    net_rt.shutdown_timeout(Duration::from_secs(1));
    tracing::info!("stopped");
    Ok(())
}

/// The JSON-RPC server's limits from `config`.
pub(crate) fn rpc_limits(config: &NodeConfig) -> RpcLimits {
    let workers = match config.rpc.worker_threads {
        0 => phalanx_rpc::default_blocking_threads(),
        n => n,
    };
    RpcLimits {
        max_body_bytes: config.rpc.max_body_bytes,
        max_batch: config.rpc.max_batch,
        max_concurrent: config.rpc.max_connections,
        timeout: Duration::from_millis(config.rpc.timeout_ms),
        query_gas_cap: config.rpc.query_gas_cap,
        max_subscriptions: config.rpc.max_subscriptions,
        cors_origins: config.rpc.cors_origins.clone(),
        allowed_hosts: phalanx_rpc::guard::hosts_for(config.rpc.listen, &config.rpc.allowed_hosts),
        max_ws_connections: config.rpc.max_ws_connections,
        blocking_threads: workers,
        explorer: config.rpc.explorer.unwrap_or(false),
        metrics: config.metrics.listen.is_none(),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phalanx_storage::StateStore;

    #[test]
    fn genesis_is_written_once_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let genesis = init_home(
            dir.path(),
            "t1",
            NodeConfig::default(),
            DeployPolicy::Anyone,
            ConsensusParams::default(),
        )
        .unwrap();
        let home = Home(dir.path().to_path_buf());
        let root = {
            let kv = open_chain(&home, &genesis).unwrap();
            StateStore::new(kv).root(0).unwrap()
        };
        let kv = open_chain(&home, &genesis).unwrap();
        assert_eq!(StateStore::new(kv.clone()).root(0).unwrap(), root);
        drop(kv);
        let mut other = genesis.clone();
        other.chain_id = "t2".into();
        let err = open_chain(&home, &other)
            .err()
            .expect("another genesis is refused");
        assert!(format!("{err:#}").contains("genesis"));
    }

    #[test]
    fn genesis_contracts_are_deployed_into_the_genesis_state() {
        let dir = tempfile::tempdir().unwrap();
        let mut genesis = init_home(
            dir.path(),
            "t1",
            NodeConfig::default(),
            DeployPolicy::Anyone,
            ConsensusParams::default(),
        )
        .unwrap();
        let empty_root = {
            let other = tempfile::tempdir().unwrap();
            let home = Home(other.path().to_path_buf());
            std::fs::create_dir_all(home.data()).unwrap();
            StateStore::new(open_chain(&home, &genesis).unwrap())
                .root(0)
                .unwrap()
        };
        let deployer = phalanx_types::SecretKey::from_seed([5; 32]).address();
        let code = wat::parse_str(
            r#"(module
  (import "phalanx" "storage_write" (func $w (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "k")
  (func (export "init") (param i32) (call $w (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1))))"#,
        )
        .unwrap();
        genesis.contracts = vec![phalanx_genesis::GenesisContract {
            name: "marker".into(),
            code: phalanx_types::Bytes(code),
            deployer,
            init_args: String::new(),
        }];
        let home = Home(dir.path().to_path_buf());
        let kv = open_chain(&home, &genesis).unwrap();
        let state = StateStore::new(kv.clone());
        assert_ne!(state.root(0).unwrap(), empty_root);
        let address = phalanx_runtime::layout::contract_address(&deployer, 0);
        assert!(
            state
                .get(&phalanx_runtime::layout::contract_key(&address))
                .unwrap()
                .is_some()
        );
        assert_eq!(
            state
                .get(&phalanx_runtime::layout::storage_key(&address, b"k"))
                .unwrap(),
            Some(b"k".to_vec()),
            "init ran"
        );
    }
}
