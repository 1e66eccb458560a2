//! JSON-RPC conformance through real HTTP and WebSocket clients against a running dev chain:
//! envelopes, batches, notifications, limits, every error path, malformed input that must
//! never crash the node or produce a response without a JSON-RPC body, and subscriptions.

mod common;

use common::{SERIAL, dev, rpc, rpc_try, wait_for};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Raw POST; returns (HTTP status, body).
fn post(port: u16, body: &[u8]) -> (u16, String) {
    post_with(
        port,
        "Host: 127.0.0.1\r\nContent-Type: application/json\r\n",
        body,
    )
}

/// Raw POST with `headers` (each line ending in CRLF).
fn post_with(port: u16, headers: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) before reading a huge body; ignore a reset while writing.
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out).to_string();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn post_json(port: u16, v: &Value) -> Value {
    let (status, body) = post(port, v.to_string().as_bytes());
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn refusals_before_a_method_are_json_rpc_errors() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = dev();
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "node_status"}).to_string();
    let refused = |headers: &str, status: u16, code: i64| {
        let (got, body) = post_with(d.port, headers, call.as_bytes());
        assert_eq!(got, status, "{headers:?}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(v["error"]["code"], json!(code), "{body}");
    };
    let json_type = "Content-Type: application/json\r\n";
    // DNS rebinding: a page on evil.example resolved to 127.0.0.1 sends its own Host.
    refused(
        &format!("Host: evil.example:{}\r\n{json_type}", d.port),
        403,
        -32033,
    );
    // A browser page from another origin.
    refused(
        &format!("Host: 127.0.0.1\r\nOrigin: https://evil.example\r\n{json_type}"),
        403,
        -32033,
    );
    // A body a page may send cross-origin without a CORS preflight.
    refused(
        "Host: 127.0.0.1\r\nContent-Type: text/plain\r\n",
        415,
        -32600,
    );
    // The same for a WebSocket upgrade from a rebinding page.
    let mut s = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    write!(
        s,
        "GET /ws HTTP/1.1\r\nHost: evil.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 403");
    // And the node serves honest requests all along.
    assert!(post_json(d.port, &serde_json::from_str(&call).unwrap())["result"]["height"].is_u64());
}

#[test]
fn envelopes_batches_and_errors() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = dev();
    let code = |v: &Value| v["error"]["code"].as_i64().unwrap();
    // Parse error, invalid request, unknown method, invalid params.
    let (status, body) = post(d.port, b"{not json");
    assert_eq!(status, 200);
    assert_eq!(code(&serde_json::from_str(&body).unwrap()), -32700);
    assert_eq!(
        code(&post_json(
            d.port,
            &json!({"jsonrpc": "1.0", "id": 1, "method": "node_status"})
        )),
        -32600
    );
    assert_eq!(
        code(&post_json(
            d.port,
            &json!({"jsonrpc": "2.0", "id": 1, "method": "nope"})
        )),
        -32601
    );
    assert_eq!(
        code(&post_json(
            d.port,
            &json!({"jsonrpc": "2.0", "id": 1, "method": "chain_getBlock", "params": 5})
        )),
        -32600
    );
    let bad = post_json(
        d.port,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "chain_getBlock", "params": {"height": "x"}}),
    );
    assert_eq!(code(&bad), -32602);
    assert!(
        bad["error"]["message"].as_str().unwrap().contains("height")
            || bad["error"]["message"]
                .as_str()
                .unwrap()
                .contains("invalid type"),
        "{bad}"
    );
    let bad = post_json(
        d.port,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "account_get", "params": {"address": "zz"}}),
    );
    assert_eq!(code(&bad), -32602);
    assert_eq!(
        code(&post_json(
            d.port,
            &json!({"jsonrpc": "2.0", "id": 1, "method": "chain_getBlock", "params": {"height": 10_000_000}})
        )),
        -32020
    );
    assert_eq!(
        code(&post_json(
            d.port,
            &json!({"jsonrpc": "2.0", "id": 1, "method": "contract_get", "params": {"address": "00".repeat(32)}})
        )),
        -32020
    );

    // A batch mixing valid, invalid and notification calls: one answer per non-notification,
    // ids preserved.
    let batch = json!([
        {"jsonrpc": "2.0", "id": "a", "method": "node_status"},
        {"jsonrpc": "2.0", "id": 2, "method": "nope"},
        {"jsonrpc": "2.0", "method": "node_status"},
        5,
    ]);
    let out = post_json(d.port, &batch);
    let out = out.as_array().unwrap();
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out[0]["id"], "a");
    assert!(out[0]["result"]["height"].is_u64());
    assert_eq!(out[1]["error"]["code"], -32601);
    assert_eq!(out[2]["error"]["code"], -32600);
    // tx_submitBatch answers per transaction; an empty list is refused as a whole.
    let r = rpc(
        &d.url,
        "tx_submitBatch",
        json!({"txs": ["AAAA", "not base64!"]}),
    );
    assert_eq!(r["results"][0]["error"]["code"], -32010, "{r}");
    assert_eq!(r["results"][1]["error"]["code"], -32010, "{r}");
    assert_eq!(
        code(&post_json(
            d.port,
            &json!({"jsonrpc": "2.0", "id": 1, "method": "tx_submitBatch", "params": {"txs": []}})
        )),
        -32602
    );
    // Empty and oversized batches.
    assert_eq!(code(&post_json(d.port, &json!([]))), -32600);
    let big: Vec<Value> = (0..101)
        .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "node_status"}))
        .collect();
    assert_eq!(code(&post_json(d.port, &Value::Array(big))), -32600);
    // A notification alone gets no body.
    let (status, body) = post(
        d.port,
        json!({"jsonrpc": "2.0", "method": "node_status"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!((status, body.as_str()), (204, ""));
    // A body over the limit is refused and the node carries on.
    let huge = vec![b' '; 2 * 1024 * 1024];
    let (status, body) = post(d.port, &huge);
    assert_eq!(status, 413);
    assert!(body.is_empty() || body.contains("-32600"), "{body}");
    assert!(rpc(&d.url, "node_status", json!({}))["height"].is_u64());
    // Health and readiness.
    let get = |path: &str| http_get(d.port, path);
    assert!(get("/health").starts_with("HTTP/1.1 200"));
    assert!(get("/ready").starts_with("HTTP/1.1 200"));
    // Prometheus metrics: consensus progress and the requests made above, by method and code.
    wait_for(Duration::from_secs(10), "a committed block", || {
        rpc(&d.url, "node_status", json!({}))["height"].as_u64() >= Some(1)
    });
    let metrics = get("/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    for line in [
        "phalanx_height ",
        "phalanx_view 0",
        "phalanx_commit_latency_seconds_count ",
        "phalanx_rpc_requests_total{method=\"unknown\",code=\"-32601\"}",
        "phalanx_rpc_requests_total{method=\"node_status\",code=\"0\"}",
        "phalanx_rpc_requests_total{method=\"chain_getBlock\",code=\"-32020\"} 1",
    ] {
        assert!(metrics.contains(line), "missing {line:?} in\n{metrics}");
    }
    // The one validator votes for every block it commits, and misses none.
    let sample = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("{name}{{validator=\"")))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
    };
    assert!(sample("phalanx_validator_votes_total") >= 1.0, "{metrics}");
    assert!(
        sample("phalanx_validator_last_vote_height") >= 1.0,
        "{metrics}"
    );
    assert_eq!(
        sample("phalanx_validator_missed_votes_total"),
        0.0,
        "{metrics}"
    );
    // What standard tools accept: promtool reads the classic format a plain scrape gets.
    let body = metrics
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let body = if metrics
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    assert!(metrics.contains("text/plain; version=0.0.4"), "{metrics}");
    assert!(body.contains("phalanx_build_info{version=\""), "{body}");
    promtool_accepts(&body);
    // The Grafana dashboard (docs/deploy) queries only metrics this node exports.
    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/deploy/grafana-dashboard.json"
    ))
    .unwrap();
    let mut queried: Vec<&str> = dashboard
        .split(|c: char| !(c.is_ascii_lowercase() || c == '_'))
        .filter(|w| w.starts_with("phalanx_"))
        .collect();
    queried.sort_unstable();
    queried.dedup();
    assert!(queried.len() >= 15, "{queried:?}");
    for name in queried {
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|f| body.contains(&format!("# TYPE {f} histogram")))
            .unwrap_or(name);
        assert!(
            body.contains(&format!("# TYPE {family} ")),
            "the dashboard queries {name}, which the node does not export"
        );
    }
    let status = rpc(&d.url, "node_status", json!({}));
    assert!(body.contains(&format!(
        "commit=\"{}\"",
        status["commit"].as_str().unwrap()
    )));
    assert_eq!(rpc(&d.url, "evidence_list", json!({})), json!([]));
    // The method table, the dispatcher and rpc.discover agree.
    let discovered = rpc(&d.url, "rpc.discover", json!({}));
    assert_eq!(discovered["openrpc"], "1.2.6");
    let names: Vec<&str> = discovered["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for spec in phalanx_rpc::openrpc::METHODS {
        assert!(names.contains(&spec.name), "{} not discovered", spec.name);
        if spec.ws_only {
            continue;
        }
        let r = rpc_try(&d.url, spec.name, json!({})).unwrap();
        assert_ne!(
            r["error"]["code"], -32601,
            "{} is in the table but not dispatched",
            spec.name
        );
    }
    assert_eq!(rpc(&d.url, "net_peers", json!({})), json!([]));
    assert_eq!(
        rpc(&d.url, "chain_getValidators", json!({}))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let _ = &d.key;
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z_]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("node_status"),
            Just("chain_getBlock"),
            Just("tx_submit"),
            Just("tx_get"),
            Just("account_get"),
            Just("contract_query"),
            Just("events_get"),
            Just("state_getProof"),
            Just("2.0"),
            Just("height"),
            Just("hash"),
            Just("AAAA"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("jsonrpc".to_string()),
                    Just("id".to_string()),
                    Just("method".to_string()),
                    Just("params".to_string()),
                    Just("height".to_string()),
                    Just("tx".to_string()),
                    Just("address".to_string()),
                    "[a-z]{1,6}".prop_map(String::from),
                ],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The first round's killer request: a transaction nesting evidence, messages, blocks and
/// transactions as many levels deep as the 1 MiB body limit lets through as base64 (about
/// 1,000). Refused with a clear error; the node goes on.
#[test]
fn a_deeply_nested_transaction_is_refused_and_the_chain_goes_on() {
    use base64::Engine;
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = dev();
    let mut depth = 1_100;
    let bytes = loop {
        let bytes = phalanx_types::attacks::nested_transaction(depth, "phalanx-dev");
        if bytes.len() < 760_000 {
            break bytes;
        }
        depth -= 50;
    };
    assert!(depth >= 800, "{depth} levels");
    let tx = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let r = rpc_try(&d.url, "tx_submit", json!({"tx": tx})).unwrap();
    assert_eq!(r["error"]["code"], -32010, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("decode"),
        "{r}"
    );
    let h = rpc(&d.url, "node_status", json!({}))["height"]
        .as_u64()
        .unwrap();
    wait_for(Duration::from_secs(10), "a block after the attack", || {
        rpc(&d.url, "node_status", json!({}))["height"]
            .as_u64()
            .unwrap()
            > h
    });
}

#[test]
fn malformed_requests_never_break_the_node() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = dev();
    let cases = std::env::var("PHALANX_RPC_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let port = d.port;
    runner
        .run(
            &(
                arb_json(),
                prop::collection::vec(any::<u8>(), 0..64),
                any::<bool>(),
            ),
            |(v, raw, use_raw)| {
                let body = if use_raw {
                    raw
                } else {
                    v.to_string().into_bytes()
                };
                let (status, text) = post(port, &body);
                // Every answer is 200 with a JSON-RPC body, or 204 for notifications only.
                prop_assert!(
                    status == 200 || status == 204,
                    "status {status} for {:?}",
                    String::from_utf8_lossy(&body)
                );
                if status == 200 {
                    let v: Value = serde_json::from_str(&text).unwrap();
                    let ok = |r: &Value| {
                        r["jsonrpc"] == "2.0"
                            && (r.get("result").is_some() || r["error"]["code"].is_i64())
                    };
                    match &v {
                        Value::Array(a) => prop_assert!(a.iter().all(ok), "{v}"),
                        r => prop_assert!(ok(r), "{v}"),
                    }
                }
                Ok(())
            },
        )
        .unwrap();
    // Still alive and still committing.
    let h = rpc(&d.url, "node_status", json!({}))["height"]
        .as_u64()
        .unwrap();
    wait_for(Duration::from_secs(10), "a block after the fuzzing", || {
        rpc(&d.url, "node_status", json!({}))["height"]
            .as_u64()
            .unwrap()
            > h
    });
}

#[test]
fn websocket_methods_and_block_subscription() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = dev();
    let (mut ws, _) =
        tungstenite::client::connect(format!("ws://127.0.0.1:{}/ws", d.port)).unwrap();
    let send = |ws: &mut tungstenite::WebSocket<_>, v: Value| {
        ws.send(tungstenite::Message::Text(v.to_string().into()))
            .unwrap();
    };
    let recv =
        |ws: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>| -> Value {
            loop {
                if let tungstenite::Message::Text(t) = ws.read().unwrap() {
                    return serde_json::from_str(&t).unwrap();
                }
            }
        };
    send(
        &mut ws,
        json!({"jsonrpc": "2.0", "id": 1, "method": "node_status"}),
    );
    assert!(recv(&mut ws)["result"]["height"].is_u64());
    send(
        &mut ws,
        json!({"jsonrpc": "2.0", "id": 2, "method": "subscribe", "params": {"topic": "nope"}}),
    );
    assert_eq!(recv(&mut ws)["error"]["code"], -32602);
    send(
        &mut ws,
        json!({"jsonrpc": "2.0", "id": 3, "method": "subscribe", "params": {"topic": "blocks"}}),
    );
    let sub = recv(&mut ws)["result"].as_u64().expect("subscription id");
    // Consecutive heights, in order.
    let mut heights = Vec::new();
    while heights.len() < 3 {
        let n = recv(&mut ws);
        if n["method"] == "subscription" {
            assert_eq!(n["params"]["subscription"], sub);
            heights.push(n["params"]["result"]["header"]["height"].as_u64().unwrap());
        }
    }
    assert!(heights.windows(2).all(|w| w[1] == w[0] + 1), "{heights:?}");
    // Limit of subscriptions per connection (5 by default, one in use).
    for i in 0..4 {
        send(
            &mut ws,
            json!({"jsonrpc": "2.0", "id": 10 + i, "method": "subscribe", "params": {"topic": "events", "topic_filter": "transfer"}}),
        );
    }
    send(
        &mut ws,
        json!({"jsonrpc": "2.0", "id": 99, "method": "subscribe", "params": {"topic": "blocks"}}),
    );
    let mut answered = 0;
    let mut refused = false;
    while answered < 5 {
        let m = recv(&mut ws);
        if m.get("id").is_some() {
            answered += 1;
            if m["id"] == 99 {
                refused = m["error"]["code"] == -32602;
            }
        }
    }
    assert!(refused, "the sixth subscription was accepted");
    send(
        &mut ws,
        json!({"jsonrpc": "2.0", "id": 100, "method": "unsubscribe", "params": {"subscription": sub}}),
    );
    loop {
        let m = recv(&mut ws);
        if m["id"] == 100 {
            assert_eq!(m["result"], true);
            break;
        }
    }
}

/// A chunked HTTP body, joined.
/// A plain HTTP GET on loopback: the whole response, head and body.
fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// `metrics.listen`, set through its environment override: metrics move to their own port.
#[test]
fn metrics_get_a_listener_of_their_own() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let port = common::free_base_port(1);
    let addr = format!("127.0.0.1:{port}");
    let d = common::dev_with_env(&[("PHALANX_METRICS__LISTEN", &addr)]);
    wait_for(Duration::from_secs(10), "a committed block", || {
        rpc(&d.url, "node_status", json!({}))["height"].as_u64() > Some(1)
    });
    let metrics = http_get(port, "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(metrics.contains("phalanx_height "), "{metrics}");
    assert!(http_get(port, "/health").starts_with("HTTP/1.1 200"));
    // Only there: the JSON-RPC port no longer serves them, and the metrics port no JSON-RPC.
    assert!(http_get(d.port, "/metrics").starts_with("HTTP/1.1 404"));
    let (status, _) = post(port, br#"{"jsonrpc":"2.0","id":1,"method":"node_status"}"#);
    assert_ne!(status, 200);
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// `promtool check metrics` (from the `prometheus` package; .ci/run installs it) accepts
/// `text` with no problem reported.
fn promtool_accepts(text: &str) {
    use std::io::Write as _;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs (apt-get install prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.status.success() && said.trim().is_empty(),
        "promtool: {said}\n{text}"
    );
}
