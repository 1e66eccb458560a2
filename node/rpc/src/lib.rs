//! The Phalanx JSON-RPC 2.0 server (axum).
//!
//! `POST /` takes a single request or a batch; `GET /ws` the same over a WebSocket, with
//! subscriptions; `GET /metrics` serves Prometheus text; `GET /health` answers 200 while the
//! node runs; `GET /ready` answers 200 once the node is not syncing and sees a quorum of peers.
//! Reads go straight to the stores; transactions go to the node through [`NodeApi`].
//! Limits (body size, batch length, concurrent requests, request time, WebSocket
//! connections) come from [`RpcLimits`] and apply alike to HTTP and WebSocket requests;
//! storage reads run on a bounded share of the blocking pool. Every refusal is a JSON-RPC
//! error ([`guard`]). Method reference: `docs/RPC.md`.

pub mod api;
mod contracts;
mod events;
pub mod explorer;
mod governance;
pub mod guard;
pub mod jsonrpc;
mod methods;
pub mod metrics;
pub mod openrpc;
mod simulate;
mod ws;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jsonrpc::{INVALID_REQUEST, PARSE_ERROR, RpcError};
use metrics::{Metrics, RpcLabels};
use phalanx_core::{CommittedBlock, NodeStatus};
use phalanx_executor::mempool::AdmitError;
use phalanx_runtime::Runtime;
use phalanx_storage::{BlockStore, KvStore, StateStore};
use phalanx_types::{Hash, Height, SignedTx};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, broadcast};

/// Why the node did not take a transaction.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The mempool refused it.
    #[error(transparent)]
    Refused(#[from] AdmitError),
    /// The node is not running its core (shutting down or stopped).
    #[error("node unavailable")]
    Unavailable,
}

/// What the server needs from the running node.
#[async_trait::async_trait]
pub trait NodeApi: Send + Sync + 'static {
    /// Offers transactions to the mempool; one answer per transaction, in order.
    async fn submit_batch(
        &self,
        txs: Vec<SignedTx>,
    ) -> Result<Vec<Result<Hash, AdmitError>>, SubmitError>;

    /// Offers one transaction to the mempool.
    async fn submit(&self, tx: SignedTx) -> Result<Hash, SubmitError> {
        self.submit_batch(vec![tx])
            .await?
            .pop()
            .unwrap_or(Err(AdmitError::Full))
            .map_err(SubmitError::Refused)
    }
    /// The node's current status.
    fn status(&self) -> NodeStatus;
    /// Connected peers (libp2p peer ids).
    fn peers(&self) -> Vec<String>;
    /// A feed of committed blocks.
    fn commits(&self) -> broadcast::Receiver<Arc<CommittedBlock>>;
}

/// Fixed facts about the node.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// Chain id.
    pub chain_id: String,
    /// This node's libp2p peer id.
    pub peer_id: String,
    /// Governance rules from genesis (to execute simulated transactions as blocks do).
    pub governance: phalanx_genesis::GovernancePolicy,
}

/// Server limits.
#[derive(Debug, Clone)]
pub struct RpcLimits {
    /// Largest request body (bytes).
    pub max_body_bytes: usize,
    /// Most requests in a batch.
    pub max_batch: usize,
    /// Most requests served at once.
    pub max_concurrent: usize,
    /// Longest time a request may take (`tx_submit` with `wait: "final"` included).
    pub timeout: Duration,
    /// Gas cap of `contract_query`.
    pub query_gas_cap: u64,
    /// Most subscriptions per WebSocket connection.
    pub max_subscriptions: usize,
    /// Origins allowed by CORS (empty: CORS off); a browser request from any other origin
    /// is refused.
    pub cors_origins: Vec<String>,
    /// Host names clients may address the server by (`*`: any); see [`guard::hosts_for`].
    pub allowed_hosts: Vec<String>,
    /// Most WebSocket connections open at once.
    pub max_ws_connections: usize,
    /// Threads reading storage for requests at once.
    pub blocking_threads: usize,
    /// Serve the block explorer at `/explorer`.
    pub explorer: bool,
    /// Serve `/metrics` here (false when metrics have a listener of their own).
    pub metrics: bool,
}

/// Attempts of a [`Rpc::consistent`] read before the client is asked to retry.
const CONSISTENT_TRIES: usize = 4;

/// Runs `read` until `height` is the same before and after it (at most
/// [`CONSISTENT_TRIES`] times): then no commit landed during the read.
fn settled<T>(
    height: impl Fn() -> Result<u64, RpcError>,
    read: impl Fn() -> Result<T, RpcError>,
) -> Result<T, RpcError> {
    for _ in 0..CONSISTENT_TRIES {
        let before = height()?;
        let out = read();
        if height()? == before {
            return out;
        }
    }
    Err(RpcError::new(
        jsonrpc::BUSY,
        "blocks committed during every attempt at this read; retry",
    ))
}

/// Storage-reading threads by default: half the machine's cores (at least one), so heavy
/// reads and queries leave the rest to consensus.
pub fn default_blocking_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 2).max(1)
}

/// Shared state of the handlers.
pub struct Rpc {
    node: Arc<dyn NodeApi>,
    metrics: Arc<Metrics>,
    runtime: Arc<Runtime>,
    kv: Arc<dyn KvStore>,
    info: NodeInfo,
    blocks: BlockStore,
    state: StateStore,
    limits: RpcLimits,
    /// Requests being served (HTTP and WebSocket alike).
    requests: Arc<Semaphore>,
    /// Blocking threads reading storage.
    blocking: Arc<Semaphore>,
    /// Open WebSocket connections.
    sockets: Arc<Semaphore>,
}

impl Rpc {
    /// The latest committed height and its block's timestamp (0 before the first block):
    /// the block a query or a simulation sees.
    pub(crate) fn latest_block_time(&self) -> Result<(Height, u64), RpcError> {
        let height = self.blocks.latest_height().map_err(RpcError::internal)?;
        let time_ms = match self.blocks.block(height).map_err(RpcError::internal)? {
            Some(b) => b.header.timestamp_ms,
            None => 0,
        };
        Ok((height, time_ms))
    }

    /// A server over `node`, its runtime (for queries) and its stores.
    pub fn new(
        node: Arc<dyn NodeApi>,
        metrics: Arc<Metrics>,
        runtime: Arc<Runtime>,
        info: NodeInfo,
        kv: Arc<dyn KvStore>,
        limits: RpcLimits,
    ) -> Arc<Rpc> {
        Arc::new(Rpc {
            node,
            metrics,
            runtime,
            info,
            blocks: BlockStore::new(kv.clone()),
            state: StateStore::new(kv.clone()),
            kv,
            requests: Arc::new(Semaphore::new(limits.max_concurrent.max(1))),
            blocking: Arc::new(Semaphore::new(limits.blocking_threads.max(1))),
            sockets: Arc::new(Semaphore::new(limits.max_ws_connections)),
            limits,
        })
    }

    /// Runs `read` (storage reads, proofs, scans) on the blocking pool, at most
    /// [`RpcLimits::blocking_threads`] at once, so slow reads never hold a runtime thread.
    pub(crate) async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        read: impl FnOnce(&Rpc) -> Result<T, RpcError> + Send + 'static,
    ) -> Result<T, RpcError> {
        let permit = self
            .blocking
            .clone()
            .acquire_owned()
            .await
            .map_err(RpcError::internal)?;
        let rpc = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            read(&rpc)
        })
        .await
        .map_err(RpcError::internal)?
    }

    /// [`Rpc::blocking`] for reads of the latest state that take several storage reads (a
    /// query, governance records): consistent with one committed height. A commit writes
    /// the block and its state in one atomic batch and raises the latest height in it, so
    /// if the height is the same before and after the read, no commit landed in between and
    /// every value read belongs to that height; otherwise the read runs again (a few
    /// times, then the client is asked to retry).
    pub(crate) async fn consistent<T: Send + 'static>(
        self: &Arc<Self>,
        read: impl Fn(&Rpc) -> Result<T, RpcError> + Send + 'static,
    ) -> Result<T, RpcError> {
        self.blocking(move |rpc| {
            settled(
                || rpc.blocks.latest_height().map_err(RpcError::internal),
                || read(rpc),
            )
        })
        .await
    }

    /// Serves one request body under the shared limits: a permit among
    /// [`RpcLimits::max_concurrent`] and the timeout. `Err` is the timeout.
    pub(crate) async fn serve_limited(self: &Arc<Self>, body: &[u8]) -> Result<Option<Value>, ()> {
        // Waiting for a permit counts against the timeout too.
        tokio::time::timeout(self.limits.timeout, async {
            let _permit = self.requests.acquire().await.ok()?;
            Some(self.handle_body(body).await)
        })
        .await
        .ok()
        .flatten()
        .ok_or(())
    }

    /// The JSON-RPC error for a request over the timeout.
    pub(crate) fn timed_out(&self) -> Value {
        jsonrpc::error(
            Value::Null,
            RpcError::new(
                guard::TIMED_OUT,
                format!(
                    "request timed out after {} ms",
                    self.limits.timeout.as_millis()
                ),
            ),
        )
    }

    /// Handles a request body: one call or a batch. `None` when only notifications came.
    pub async fn handle_body(self: &Arc<Self>, body: &[u8]) -> Option<Value> {
        let parsed: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return Some(jsonrpc::error(
                    Value::Null,
                    RpcError::new(PARSE_ERROR, format!("parse error: {e}")),
                ));
            }
        };
        match parsed {
            Value::Array(calls) => {
                if calls.is_empty() || calls.len() > self.limits.max_batch {
                    return Some(jsonrpc::error(
                        Value::Null,
                        RpcError::new(
                            INVALID_REQUEST,
                            format!("a batch holds 1 to {} requests", self.limits.max_batch),
                        ),
                    ));
                }
                let mut out = Vec::new();
                for c in calls {
                    if let Some(r) = self.handle_one(c).await {
                        out.push(r);
                    }
                }
                (!out.is_empty()).then_some(Value::Array(out))
            }
            single => self.handle_one(single).await,
        }
    }

    async fn handle_one(self: &Arc<Self>, v: Value) -> Option<Value> {
        let call = match jsonrpc::parse_call(v) {
            Ok(c) => c,
            Err(e) => return Some(e),
        };
        let result = methods::dispatch(self, &call.method, call.params).await;
        let method = if openrpc::is_http_method(&call.method) {
            call.method.clone()
        } else {
            "unknown".to_string()
        };
        let code = result.as_ref().err().map_or(0, |e| e.code);
        self.metrics
            .rpc_requests
            .get_or_create(&RpcLabels { method, code })
            .inc();
        (!call.notification).then(|| jsonrpc::response(call.id, result))
    }

    /// The committed block at `height` with its certificate (both must exist: the caller
    /// checked the height is committed).
    pub(crate) fn certified_block(
        &self,
        height: phalanx_types::Height,
    ) -> Result<(phalanx_types::Block, phalanx_types::CommitCertificate), RpcError> {
        let block = self.blocks.block(height).map_err(RpcError::internal)?;
        let cert = self
            .blocks
            .certificate(height)
            .map_err(RpcError::internal)?;
        match (block, cert) {
            (Some(block), Some(cert)) => Ok((block, cert)),
            _ => {
                // Pruned while this request ran, or before it.
                self.check_block(height, "the block")?;
                Err(RpcError::internal("block missing"))
            }
        }
    }

    /// The lowest height whose block this node still has.
    pub(crate) fn lowest_block(&self) -> Result<phalanx_types::Height, RpcError> {
        phalanx_storage::prune::lowest_block(&*self.kv).map_err(RpcError::internal)
    }

    /// The oldest state version this node can still read and prove.
    pub(crate) fn lowest_state(&self) -> Result<phalanx_types::Height, RpcError> {
        phalanx_storage::prune::lowest_state_version(&*self.kv).map_err(RpcError::internal)
    }

    /// A [`jsonrpc::PRUNED`] error if the block at `height` was pruned.
    pub(crate) fn check_block(
        &self,
        height: phalanx_types::Height,
        what: &str,
    ) -> Result<(), RpcError> {
        let lowest = self.lowest_block()?;
        if height < lowest {
            return Err(RpcError::pruned(what, height, lowest));
        }
        Ok(())
    }

    /// A [`jsonrpc::PRUNED`] error if the state at `version` was pruned.
    pub(crate) fn check_state(&self, version: phalanx_types::Height) -> Result<(), RpcError> {
        let lowest = self.lowest_state()?;
        if version < lowest {
            return Err(RpcError::pruned("state", version, lowest));
        }
        Ok(())
    }

    /// A [`jsonrpc::PRUNED`] error unless both the state and the block (header and
    /// certificate) of `height` are still here, as a proof at `height` needs. (A node started
    /// from a snapshot keeps the snapshot's block below its block watermark.)
    pub(crate) fn check_provable(&self, height: phalanx_types::Height) -> Result<(), RpcError> {
        self.check_state(height)?;
        if self
            .blocks
            .certificate(height)
            .map_err(RpcError::internal)?
            .is_none()
        {
            self.check_block(height, "the block")?;
        }
        Ok(())
    }

    /// True when the node is synced and sees a quorum of validators (itself included).
    pub fn ready(&self) -> bool {
        let status = self.node.status();
        let me = usize::from(status.validator.is_some());
        !status.syncing && self.node.peers().len() + me >= status.quorum
    }
}

async fn rpc_handler(
    State(rpc): State<Arc<Rpc>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    if let Err(refused) = guard::check_headers(
        &headers,
        &rpc.limits.allowed_hosts,
        &rpc.limits.cors_origins,
        rpc.limits.explorer,
    )
    .and_then(|()| guard::check_json(&headers))
    {
        return *refused;
    }
    // Headers first, then the body: a refused request is not read.
    let body = match axum::body::to_bytes(body, rpc.limits.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => {
            return guard::refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                jsonrpc::INVALID_REQUEST,
                format!(
                    "request body refused (at most {} bytes): {e}",
                    rpc.limits.max_body_bytes
                ),
            );
        }
    };
    match rpc.serve_limited(&body).await {
        Ok(Some(v)) => {
            ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
        }
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(()) => (
            StatusCode::REQUEST_TIMEOUT,
            [(header::CONTENT_TYPE, "application/json")],
            rpc.timed_out().to_string(),
        )
            .into_response(),
    }
}

async fn ready_handler(State(rpc): State<Arc<Rpc>>) -> Response {
    if rpc.ready() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}

async fn metrics_handler(State(rpc): State<Arc<Rpc>>, headers: HeaderMap) -> Response {
    let status = rpc.node.status();
    let m = &rpc.metrics;
    m.peers.set(rpc.node.peers().len() as i64);
    m.mempool.set(status.mempool as i64);
    m.syncing.set(i64::from(status.syncing));
    exposition(m, &headers)
}

/// The metrics in the format the scraper asks for (`Accept`).
fn exposition(m: &Metrics, headers: &HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok());
    if metrics::wants_openmetrics(accept) {
        ([(header::CONTENT_TYPE, metrics::OPENMETRICS)], m.encode()).into_response()
    } else {
        let text = metrics::to_classic(&m.encode());
        ([(header::CONTENT_TYPE, metrics::CLASSIC)], text).into_response()
    }
}

/// The router with its limits.
pub fn router(rpc: Arc<Rpc>) -> Router {
    let limits = rpc.limits.clone();
    let router = Router::new()
        .route("/", post(rpc_handler))
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready_handler))
        .route("/ws", get(ws::handler));
    let router = if limits.metrics {
        router.route("/metrics", get(metrics_handler))
    } else {
        router
    };
    let router = if limits.explorer {
        router.merge(explorer::routes())
    } else {
        router
    };
    let router = router
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        // Backstops for what happens before a handler runs (slow bodies, many connections);
        // handlers answer their own limits with JSON-RPC errors first.
        .layer(tower::limit::ConcurrencyLimitLayer::new(
            limits.max_concurrent,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.timeout + Duration::from_secs(1),
        ));
    let router = match cors(&limits.cors_origins) {
        Some(layer) => router.layer(layer),
        None => router,
    };
    router.with_state(rpc)
}

/// CORS for the configured origins (`*` allows any); `None` when CORS is off.
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| o.parse().ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
            .allow_headers([header::CONTENT_TYPE]),
    )
}

/// Serves on `listener` until `shutdown` resolves.
pub async fn serve(
    rpc: Arc<Rpc>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "json-rpc listening");
    axum::serve(listener, router(rpc))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Requests served at once on the metrics listener.
const METRICS_CONCURRENCY: usize = 16;
/// Longest a request on the metrics listener may take.
const METRICS_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `/metrics` and `/health` on a listener of their own (`metrics.listen`) until
/// `shutdown` resolves.
pub async fn serve_metrics(
    rpc: Arc<Rpc>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "metrics listening");
    let router = Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/health", get(|| async { "ok" }))
        // A scraper needs little: a few requests at once, each answered quickly.
        .layer(tower::limit::ConcurrencyLimitLayer::new(
            METRICS_CONCURRENCY,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            METRICS_TIMEOUT,
        ))
        .with_state(rpc);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Serves `/metrics` and `/health` alone, while the node fetches a state snapshot and its
/// JSON-RPC API does not exist yet (`/ready` answers 503 "state syncing"). JSON-RPC requests
/// get 503 too.
pub async fn serve_metrics_only(
    metrics: Arc<Metrics>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let syncing = || async { (StatusCode::SERVICE_UNAVAILABLE, "state syncing") };
    let router = Router::new()
        .route(
            "/metrics",
            get(move |headers: HeaderMap| {
                let m = metrics.clone();
                async move { exposition(&m, &headers) }
            }),
        )
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(syncing))
        .route("/", post(syncing));
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn a_read_a_commit_lands_in_is_read_again() {
        // The tip moves during the first two reads (each read sees a mix), then holds.
        let tip = Cell::new(10u64);
        let reads = Cell::new(0);
        let got = settled(
            || Ok(tip.get()),
            || {
                reads.set(reads.get() + 1);
                let seen = tip.get();
                if reads.get() <= 2 {
                    tip.set(tip.get() + 1);
                }
                Ok(seen)
            },
        );
        assert_eq!(got, Ok(12), "the answer of the read no commit interrupted");
        assert_eq!(reads.get(), 3);
        // A chain that commits during every attempt: the client is told to retry.
        let moving = Cell::new(0u64);
        let err = settled(
            || Ok(moving.get()),
            || {
                moving.set(moving.get() + 1);
                Ok(())
            },
        )
        .unwrap_err();
        assert_eq!(err.code, jsonrpc::BUSY);
    }
}
