//! The block explorer (node/explorer): a static web app embedded in the binary and served at
//! `/explorer` when `rpc.explorer` is on. It reads only the public JSON-RPC and WebSocket API
//! of the node that served it (same origin) and loads nothing from anywhere else: the
//! content security policy allows this origin only.

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

const INDEX: &str = include_str!("../../explorer/src/index.html");
const STYLE: &str = include_str!("../../explorer/src/style.css");
const SCRIPT: &str = include_str!("../../explorer/dist/explorer.js");

/// A page or asset with the headers every explorer response carries.
fn asset(headers: &HeaderMap, content_type: &'static str, body: &'static str) -> Response {
    // Scripts, styles and requests to this origin only; the WebSocket is the same host.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("");
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self' ws://{host} wss://{host}; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    );
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

/// The explorer's routes.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/explorer",
            get(|| async { Redirect::permanent("/explorer/") }),
        )
        .route(
            "/explorer/",
            get(|h: HeaderMap| async move { asset(&h, "text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/explorer/style.css",
            get(|h: HeaderMap| async move { asset(&h, "text/css; charset=utf-8", STYLE) }),
        )
        .route(
            "/explorer/explorer.js",
            get(|h: HeaderMap| async move { asset(&h, "text/javascript; charset=utf-8", SCRIPT) }),
        )
}
