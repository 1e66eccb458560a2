//! `GET /ws`: the JSON-RPC methods over a WebSocket, plus subscriptions.
//!
//! `subscribe {topic: "blocks"}` or `subscribe {topic: "events", address?, topic_filter?}`
//! returns a subscription id; notifications then arrive as
//! `{"jsonrpc":"2.0","method":"subscription","params":{"subscription":ID,"result":…}}`.
//! `unsubscribe {subscription: ID}` ends one. Each connection has an outgoing queue bounded
//! in messages ([`WS_QUEUE`]) and bytes ([`WS_QUEUE_BYTES`]): a subscriber that does not
//! read fast enough is disconnected rather than buffered without bound, and so is one that
//! falls behind the node's commit feed. Connections are capped
//! ([`crate::RpcLimits::max_ws_connections`]); each request on a socket takes the same
//! permit and timeout as an HTTP one.

use crate::api::{BlockView, LocatedEvent, NewBlock, SubscribeParams, UnsubscribeParams};
use crate::jsonrpc::{self, INVALID_PARAMS, RpcError, params};
use crate::{Rpc, guard};
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use phalanx_core::CommittedBlock;
use phalanx_types::Address;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, broadcast, mpsc};

/// Outgoing messages queued per connection before it counts as too slow.
pub const WS_QUEUE: usize = 256;

/// Outgoing bytes queued per connection before it counts as too slow.
pub const WS_QUEUE_BYTES: usize = 4 * 1024 * 1024;

/// A connection with no subscription that sends no request for this long is closed.
pub const WS_IDLE: Duration = Duration::from_secs(60);

/// Longest a client may take to take one message: a client that stops reading is closed.
pub const WS_SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection's outgoing queue, bounded in messages and bytes.
#[derive(Clone)]
struct Outbox {
    tx: mpsc::Sender<String>,
    bytes: Arc<AtomicUsize>,
}

impl Outbox {
    /// Queues `text`; false if the queue is over either bound (the client is too slow).
    fn push(&self, text: String) -> bool {
        let len = text.len();
        if self.bytes.fetch_add(len, Ordering::SeqCst) + len > WS_QUEUE_BYTES {
            self.bytes.fetch_sub(len, Ordering::SeqCst);
            return false;
        }
        if self.tx.try_send(text).is_err() {
            self.bytes.fetch_sub(len, Ordering::SeqCst);
            return false;
        }
        true
    }
}

enum Filter {
    Blocks,
    Events {
        address: Option<Address>,
        topic: Option<String>,
    },
}

/// The upgrade handler: checks `Host` and `Origin`, and takes a connection slot.
pub(crate) async fn handler(
    State(rpc): State<Arc<Rpc>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if let Err(refused) = guard::check_headers(
        &headers,
        &rpc.limits.allowed_hosts,
        &rpc.limits.cors_origins,
        rpc.limits.explorer,
    ) {
        return *refused;
    }
    let Ok(slot) = rpc.sockets.clone().try_acquire_owned() else {
        return guard::refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            guard::TOO_MANY_SOCKETS,
            format!(
                "at most {} websocket connections",
                rpc.limits.max_ws_connections
            ),
        );
    };
    let max = rpc.limits.max_body_bytes;
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| connection(rpc, socket, slot))
}

async fn connection(rpc: Arc<Rpc>, socket: WebSocket, _slot: OwnedSemaphorePermit) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut queue) = mpsc::channel::<String>(WS_QUEUE);
    let out = Outbox {
        tx,
        bytes: Arc::new(AtomicUsize::new(0)),
    };
    let sent = out.bytes.clone();
    let too_slow = Arc::new(Notify::new());
    let writer = tokio::spawn(async move {
        while let Some(text) = queue.recv().await {
            let len = text.len();
            let send = sink.send(Message::Text(text.into()));
            let failed = !matches!(
                tokio::time::timeout(WS_SEND_TIMEOUT, send).await,
                Ok(Ok(()))
            );
            sent.fetch_sub(len, Ordering::SeqCst);
            if failed {
                break;
            }
        }
        let _ = tokio::time::timeout(WS_SEND_TIMEOUT, sink.close()).await;
    });
    let mut subs: BTreeMap<u64, tokio::task::JoinHandle<()>> = BTreeMap::new();
    let mut next_id = 1u64;
    // Only requests count as activity (pings do not).
    let mut idle_until = tokio::time::Instant::now() + WS_IDLE;
    loop {
        let msg = tokio::select! {
            m = tokio::time::timeout_at(idle_until, stream.next()) => match m {
                Ok(m) => m,
                Err(_) => {
                    subs.retain(|_, h| !h.is_finished());
                    if subs.is_empty() {
                        tracing::debug!("closing an idle websocket");
                        break;
                    }
                    idle_until = tokio::time::Instant::now() + WS_IDLE;
                    continue;
                }
            },
            _ = too_slow.notified() => {
                tracing::debug!("dropping a slow websocket subscriber");
                break;
            }
        };
        if matches!(msg, Some(Ok(Message::Text(_) | Message::Binary(_)))) {
            idle_until = tokio::time::Instant::now() + WS_IDLE;
        }
        let text = match msg {
            Some(Ok(Message::Text(t))) => t.to_string(),
            Some(Ok(Message::Binary(_))) => {
                let e = jsonrpc::error(
                    Value::Null,
                    RpcError::new(jsonrpc::INVALID_REQUEST, "send text frames"),
                );
                if !out.push(e.to_string()) {
                    break;
                }
                continue;
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => continue,
        };
        let reply = match serde_json::from_str::<Value>(&text) {
            Ok(v) if is_method(&v, "subscribe") || is_method(&v, "unsubscribe") => {
                let call = match jsonrpc::parse_call(v) {
                    Ok(c) => c,
                    Err(e) => {
                        if !out.push(e.to_string()) {
                            break;
                        }
                        continue;
                    }
                };
                subs.retain(|_, h| !h.is_finished());
                let result = if call.method == "subscribe" {
                    subscribe(&rpc, call.params, &mut subs, &mut next_id, &out, &too_slow)
                } else {
                    params::<UnsubscribeParams>(call.params)
                        .map(|p| json!(subs.remove(&p.subscription).map(|h| h.abort()).is_some()))
                };
                (!call.notification).then(|| jsonrpc::response(call.id, result))
            }
            // The same permit and timeout as an HTTP request.
            _ => match rpc.serve_limited(text.as_bytes()).await {
                Ok(reply) => reply,
                Err(()) => Some(rpc.timed_out()),
            },
        };
        if let Some(r) = reply
            && !out.push(r.to_string())
        {
            break;
        }
    }
    for (_, h) in subs {
        h.abort();
    }
    drop(out);
    // The writer ends once the queue drains or a send times out; the slot is freed after.
    let _ = writer.await;
}

fn is_method(v: &Value, m: &str) -> bool {
    v.get("method").and_then(Value::as_str) == Some(m)
}

fn subscribe(
    rpc: &Arc<Rpc>,
    p: Value,
    subs: &mut BTreeMap<u64, tokio::task::JoinHandle<()>>,
    next_id: &mut u64,
    out: &Outbox,
    too_slow: &Arc<Notify>,
) -> Result<Value, RpcError> {
    let p: SubscribeParams = params(p)?;
    let filter = match p.topic.as_str() {
        "blocks" if p.address.is_none() && p.topic_filter.is_none() => Filter::Blocks,
        "blocks" => return Err(RpcError::params("blocks take no filters")),
        "events" => Filter::Events {
            address: p.address,
            topic: p.topic_filter,
        },
        other => {
            return Err(RpcError::new(
                INVALID_PARAMS,
                format!("unknown topic {other:?}: use \"blocks\" or \"events\""),
            ));
        }
    };
    if subs.len() >= rpc.limits.max_subscriptions {
        return Err(RpcError::params(format!(
            "at most {} subscriptions per connection",
            rpc.limits.max_subscriptions
        )));
    }
    let id = *next_id;
    *next_id += 1;
    let feed = rpc.node.commits();
    let task = tokio::spawn(forward(id, filter, feed, out.clone(), too_slow.clone()));
    subs.insert(id, task);
    Ok(json!(id))
}

fn notification(id: u64, result: Value) -> String {
    json!({"jsonrpc": "2.0", "method": "subscription", "params": {"subscription": id, "result": result}})
        .to_string()
}

/// The notifications `c` makes for `filter`, built one at a time (a subscriber found too
/// slow stops the building).
fn messages<'a>(filter: &'a Filter, c: &'a CommittedBlock) -> Box<dyn Iterator<Item = Value> + 'a> {
    match filter {
        Filter::Blocks => {
            let block = NewBlock {
                block: BlockView::new(&c.block, None),
                receipts: c.receipts.len(),
                // Per transaction, in block order: so a client can count successes without a
                // tx_get per transaction.
                ok: c
                    .receipts
                    .iter()
                    .map(|r| matches!(r.status, phalanx_types::TxStatus::Ok))
                    .collect(),
            };
            let v = serde_json::to_value(block).unwrap_or(Value::Null);
            Box::new(std::iter::once(v))
        }
        Filter::Events { address, topic } => Box::new(c.receipts.iter().flat_map(move |r| {
            r.events.iter().enumerate().filter_map(move |(i, e)| {
                let wanted = address.is_none_or(|a| a == e.contract)
                    && topic.as_ref().is_none_or(|t| *t == e.topic);
                wanted.then(|| {
                    serde_json::to_value(LocatedEvent::new(r, i, e)).unwrap_or(Value::Null)
                })
            })
        })),
    }
}

async fn forward(
    id: u64,
    filter: Filter,
    mut feed: broadcast::Receiver<Arc<CommittedBlock>>,
    out: Outbox,
    too_slow: Arc<Notify>,
) {
    loop {
        let c = match feed.recv().await {
            Ok(c) => c,
            // Fell behind the node's feed: the subscriber cannot keep up.
            Err(broadcast::error::RecvError::Lagged(_)) => {
                too_slow.notify_one();
                return;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        for m in messages(&filter, &c) {
            if !out.push(notification(id, m)) {
                too_slow.notify_one();
                return;
            }
        }
    }
}
