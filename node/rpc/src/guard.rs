//! Checks before a request is served, each refusal a JSON-RPC error: the `Host` header (DNS
//! rebinding against a loopback RPC), the `Origin` of browser requests, the content type of
//! `POST /`, and the body limit.

use crate::jsonrpc::{self, RpcError};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// A request was refused before it reached a method.
pub const REFUSED: i64 = -32033;
/// The request took longer than the server's timeout.
pub const TIMED_OUT: i64 = -32032;
/// The server has as many WebSocket connections as it takes.
pub const TOO_MANY_SOCKETS: i64 = -32034;

/// A JSON-RPC error body with an HTTP status.
pub fn refusal(status: StatusCode, code: i64, message: impl Into<String>) -> Response {
    let body = jsonrpc::error(Value::Null, RpcError::new(code, message));
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The host names clients may use: `allowed` if not empty (`*` for any), else loopback
/// names when the server listens on loopback, and any name otherwise.
pub fn hosts_for(listen: std::net::SocketAddr, allowed: &[String]) -> Vec<String> {
    if !allowed.is_empty() {
        return allowed.iter().map(|h| h.to_ascii_lowercase()).collect();
    }
    if listen.ip().is_loopback() {
        ["localhost", "127.0.0.1", "[::1]"]
            .iter()
            .map(|h| h.to_string())
            .collect()
    } else {
        vec!["*".into()]
    }
}

/// The host of a `Host` header value, without its port; `None` if it is malformed.
fn host_name(value: &str) -> Option<&str> {
    let (host, port) = if value.starts_with('[') {
        // [v6] or [v6]:port
        let (inside, rest) = value.split_once(']')?;
        let port = match rest {
            "" => "",
            _ => rest.strip_prefix(':')?,
        };
        (&value[..inside.len() + 1], port)
    } else {
        let (host, port) = value.rsplit_once(':').unwrap_or((value, ""));
        if host.contains([':', '[', ']', '/', '@']) {
            return None;
        }
        (host, port)
    };
    let port_ok = port.chars().all(|c| c.is_ascii_digit());
    (!host.is_empty() && port_ok).then_some(host)
}

/// Checks `Host` against `hosts` and a browser's `Origin` against `origins` (the CORS
/// list; `*` for any). With `own_pages` (the node serves the explorer), a page of the node's
/// own origin (`Origin` naming the `Host` the request went to) is allowed too, but only when
/// `Host` was checked against a list of names: with any name allowed (`*`), a rebound name
/// would pass for the node's own.
pub fn check_headers(
    headers: &HeaderMap,
    hosts: &[String],
    origins: &[String],
    own_pages: bool,
) -> Result<(), Box<Response>> {
    if !hosts.iter().any(|h| h == "*") {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(host_name)
            .map(str::to_ascii_lowercase);
        let allowed = host.as_ref().is_some_and(|h| hosts.iter().any(|a| a == h));
        if !allowed {
            return Err(Box::new(refusal(
                StatusCode::FORBIDDEN,
                REFUSED,
                format!(
                    "host {:?} is not allowed (rpc.allowed_hosts)",
                    host.unwrap_or_default()
                ),
            )));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        // A page of this very origin (the explorer the node serves) may call it: the Host
        // header was checked above against named hosts, so a rebound name cannot pass for it.
        let named_hosts = !hosts.iter().any(|h| h == "*");
        let same_origin = own_pages
            && named_hosts
            && headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .is_some_and(|host| {
                    origin
                        .strip_prefix("http://")
                        .or_else(|| origin.strip_prefix("https://"))
                        .is_some_and(|o| o.eq_ignore_ascii_case(host))
                });
        let allowed = same_origin || origins.iter().any(|o| o == "*" || o == origin);
        if !allowed {
            return Err(Box::new(refusal(
                StatusCode::FORBIDDEN,
                REFUSED,
                format!("origin {origin:?} is not allowed (rpc.cors_origins)"),
            )));
        }
    }
    Ok(())
}

/// `POST /` takes `application/json` only: a browser page cannot send that cross-origin
/// without a CORS preflight, which the server answers only for allowed origins.
pub fn check_json(headers: &HeaderMap) -> Result<(), Box<Response>> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("application/json"));
    if json {
        Ok(())
    } else {
        Err(Box::new(refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            jsonrpc::INVALID_REQUEST,
            "send Content-Type: application/json",
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn loopback_servers_answer_loopback_names_only() {
        let hosts = hosts_for("127.0.0.1:8645".parse().unwrap(), &[]);
        for ok in [
            "127.0.0.1:8645",
            "localhost:8645",
            "LOCALHOST",
            "[::1]:8645",
        ] {
            assert!(
                check_headers(&headers(&[(header::HOST, ok)]), &hosts, &[], false).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "evil.example:8645",
            "127.0.0.1.evil.example",
            "",
            "[",
            "[a",
            "[::1]evil",
            "[::1]:x",
            "127.0.0.1:80:80",
            "localhost@evil.example",
        ] {
            assert!(
                check_headers(&headers(&[(header::HOST, bad)]), &hosts, &[], false).is_err(),
                "{bad}"
            );
        }
        assert!(
            check_headers(&HeaderMap::new(), &hosts, &[], false).is_err(),
            "no Host"
        );
        let any = hosts_for("0.0.0.0:8645".parse().unwrap(), &[]);
        assert!(
            check_headers(
                &headers(&[(header::HOST, "node.example")]),
                &any,
                &[],
                false
            )
            .is_ok()
        );
        let listed = hosts_for("0.0.0.0:8645".parse().unwrap(), &["Node.Example".into()]);
        assert!(
            check_headers(
                &headers(&[(header::HOST, "node.example:1")]),
                &listed,
                &[],
                false
            )
            .is_ok()
        );
        assert!(
            check_headers(
                &headers(&[(header::HOST, "other.example")]),
                &listed,
                &[],
                false
            )
            .is_err()
        );
    }

    #[test]
    fn browser_origins_must_be_listed() {
        let hosts = vec!["*".to_string()];
        let from = |o: &str| headers(&[(header::ORIGIN, o)]);
        assert!(
            check_headers(&HeaderMap::new(), &hosts, &[], false).is_ok(),
            "no Origin: not a browser"
        );
        assert!(check_headers(&from("https://evil.example"), &hosts, &[], false).is_err());
        let listed = vec!["https://app.example".to_string()];
        assert!(check_headers(&from("https://app.example"), &hosts, &listed, false).is_ok());
        assert!(check_headers(&from("https://evil.example"), &hosts, &listed, false).is_err());
        assert!(check_headers(&from("https://evil.example"), &hosts, &["*".into()], false).is_ok());
    }

    #[test]
    fn the_nodes_own_pages_may_call_it_and_nothing_else_passes_for_them() {
        let loopback = hosts_for("127.0.0.1:8645".parse().unwrap(), &[]);
        let check = |hosts: &[String], host: &str, origin: &str, own_pages: bool| {
            let h = headers(&[(header::HOST, host), (header::ORIGIN, origin)]);
            check_headers(&h, hosts, &[], own_pages).is_ok()
        };
        // The explorer served from this host and port.
        assert!(check(
            &loopback,
            "127.0.0.1:8645",
            "http://127.0.0.1:8645",
            true
        ));
        assert!(check(
            &loopback,
            "localhost:8645",
            "http://localhost:8645",
            true
        ));
        // Not while the node serves no pages of its own.
        assert!(!check(
            &loopback,
            "127.0.0.1:8645",
            "http://127.0.0.1:8645",
            false
        ));
        // Another port or host of the same machine is another origin.
        assert!(!check(
            &loopback,
            "127.0.0.1:8645",
            "http://127.0.0.1:9999",
            true
        ));
        assert!(!check(
            &loopback,
            "127.0.0.1:8645",
            "http://localhost:8645",
            true
        ));
        assert!(!check(
            &loopback,
            "127.0.0.1:8645",
            "http://127.0.0.1:8645.evil.example",
            true
        ));
        assert!(!check(&loopback, "127.0.0.1:8645", "null", true));
        // DNS rebinding: the page and the Host agree, but the Host is not a name the node
        // answers to.
        assert!(!check(
            &loopback,
            "evil.example:8645",
            "http://evil.example:8645",
            true
        ));
        // A node listening on every interface answers any name: a rebound name must not pass
        // for its own origin, so there the explorer needs `allowed_hosts`.
        let any = hosts_for("0.0.0.0:8645".parse().unwrap(), &[]);
        assert!(!check(
            &any,
            "evil.example:8645",
            "http://evil.example:8645",
            true
        ));
        let named = hosts_for("0.0.0.0:8645".parse().unwrap(), &["node.example".into()]);
        assert!(check(
            &named,
            "node.example:8645",
            "http://node.example:8645",
            true
        ));
        assert!(!check(
            &named,
            "evil.example:8645",
            "http://evil.example:8645",
            true
        ));
    }

    #[test]
    fn only_json_bodies() {
        assert!(check_json(&headers(&[(header::CONTENT_TYPE, "application/json")])).is_ok());
        assert!(
            check_json(&headers(&[(
                header::CONTENT_TYPE,
                "application/json; charset=utf-8"
            )]))
            .is_ok()
        );
        assert!(check_json(&headers(&[(header::CONTENT_TYPE, "text/plain")])).is_err());
        assert!(check_json(&HeaderMap::new()).is_err());
    }
}
