//! Who may call the API: an HTTP middleware (a tower layer in front of jsonrpsee) that runs
//! before any JSON-RPC processing, for plain HTTP requests and WebSocket upgrades alike.
//!
//! 1. **Origin.** Browsers send an `Origin` header with cross-origin requests (and with every
//!    WebSocket upgrade); other clients normally do not. A request whose `Origin` is not in
//!    [`RpcConfig::allowed_origins`](crate::RpcConfig::allowed_origins) is refused with
//!    `403 Forbidden`, so a web page the user happens to visit cannot drive the node (the
//!    aa-channels RPC answered `Access-Control-Allow-Origin: *`). Allowed origins get CORS
//!    headers naming exactly that origin, and their preflight `OPTIONS` requests are answered
//!    (a preflight executes nothing).
//! 2. **Token.** Every other request must carry `Authorization: Bearer <token>` with the token
//!    `paychan init` wrote to the data directory (readable by its owner only). A missing or
//!    wrong token is refused with `401 Unauthorized` before the body is read, so nothing is
//!    executed. The comparison takes the same time wherever the tokens differ. A scoped token
//!    minted by the node ([`crate::tokens`]) is let through too, and the middleware tells the
//!    methods who called by attaching a [`Caller`] to the request: the JSON-RPC middleware
//!    ([`crate::tokens`]'s scope check) then refuses every call outside the token's scopes.
//! 3. **The node's own page.** The dashboard's static files ([`crate::dashboard`]) are served
//!    without a token (they hold no data), and the origin of a page the node served itself
//!    (`http://` + the `Host` it was reached by, when that is a loopback address) is allowed
//!    beside the configured ones.
//! 4. **Browsers' WebSockets.** A browser's `WebSocket` cannot set `Authorization`; the one
//!    header its page controls is `Sec-WebSocket-Protocol`. A WebSocket upgrade may therefore
//!    carry the token as the subprotocol [`BEARER_PROTOCOL_PREFIX`]`<token>`, offered next to
//!    [`SUBPROTOCOL`] (`new WebSocket(url, ["paychan.v1", "paychan.bearer." + token])`); the
//!    answer selects [`SUBPROTOCOL`], never echoing the token. The origin rule above still
//!    applies, so only a page of an allowed origin gets this far.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{HeaderValue, Method, StatusCode, header};
use jsonrpsee::{
    core::BoxError,
    server::{HttpBody, HttpRequest, HttpResponse},
};
use tower::{Layer, Service};

use crate::tokens::{Caller, TokenRegistry};

/// The WebSocket subprotocol a browser offers, and the answer selects, when it sends its token
/// as a subprotocol.
pub const SUBPROTOCOL: &str = "paychan.v1";

/// The prefix of the subprotocol that carries the token: `paychan.bearer.<token>`.
pub const BEARER_PROTOCOL_PREFIX: &str = "paychan.bearer.";

/// What the middleware checks.
#[derive(Debug)]
struct Policy {
    token: Vec<u8>,
    /// Normalized: lower case, without a trailing `/`.
    origins: Vec<String>,
    /// The scoped tokens, if the API offers them.
    tokens: Option<Arc<TokenRegistry>>,
}

/// The layer: add it with `Server::builder().set_http_middleware(ServiceBuilder::new().layer(..))`.
#[derive(Clone, Debug)]
pub struct AuthLayer {
    policy: Arc<Policy>,
}

/// Why an [`AuthLayer`] cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthConfigError {
    /// The token is empty or shorter than 16 characters.
    #[error("the RPC token must be at least 16 characters long")]
    WeakToken,
    /// `*` or an empty origin was listed.
    #[error("allowed origin {0:?} is not an origin (expected scheme://host[:port], no wildcard)")]
    BadOrigin(String),
}

fn normalize(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

impl AuthLayer {
    /// Requires `token` and allows browser requests from `origins` only.
    pub fn new(token: &str, origins: &[String]) -> Result<Self, AuthConfigError> {
        let token = token.trim();
        if token.len() < 16 {
            return Err(AuthConfigError::WeakToken);
        }
        let mut normalized = Vec::with_capacity(origins.len());
        for origin in origins {
            let o = normalize(origin);
            if o.is_empty() || o.contains('*') || !o.contains("://") {
                return Err(AuthConfigError::BadOrigin(origin.clone()));
            }
            normalized.push(o);
        }
        Ok(AuthLayer {
            policy: Arc::new(Policy {
                token: token.as_bytes().to_vec(),
                origins: normalized,
                tokens: None,
            }),
        })
    }

    /// Who calls with the `Authorization` value `value` (`Bearer <token>`): the full-access
    /// token or an accepted scoped token; `None` for anything else. The gRPC API checks its
    /// `authorization` metadata with this, so both APIs accept the same tokens.
    pub(crate) fn caller_of(&self, value: &str) -> Option<Caller> {
        self.policy.bearer(value)
    }

    /// Also accepts the scoped tokens of `tokens`.
    pub fn with_tokens(self, tokens: Arc<TokenRegistry>) -> Self {
        AuthLayer {
            policy: Arc::new(Policy {
                token: self.policy.token.clone(),
                origins: self.policy.origins.clone(),
                tokens: Some(tokens),
            }),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// The middleware service (see [`AuthLayer`]).
#[derive(Clone, Debug)]
pub struct Auth<S> {
    inner: S,
    policy: Arc<Policy>,
}

/// Compares without an early exit, so the time does not tell where the tokens differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Policy {
    /// `Ok(None)`: no `Origin`; `Ok(Some(origin))`: an allowed one; `Err(())`: refused.
    fn origin<B>(&self, request: &HttpRequest<B>) -> Result<Option<HeaderValue>, ()> {
        let Some(value) = request.headers().get(header::ORIGIN) else {
            return Ok(None);
        };
        let origin = value.to_str().map_err(|_| ())?;
        let origin = normalize(origin);
        // The node's own dashboard, reached by a loopback address (a rebound domain name
        // would be named in Host, and is not loopback).
        let own = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|host| crate::dashboard::is_loopback_host(host))
            .is_some_and(|host| {
                let host = host.to_ascii_lowercase();
                origin == format!("http://{host}") || origin == format!("https://{host}")
            });
        if own || self.origins.contains(&origin) {
            Ok(Some(value.clone()))
        } else {
            Err(())
        }
    }

    /// Who calls, if the request carries an accepted token (in `Authorization`, or as a
    /// WebSocket subprotocol: [`offered_token`]).
    fn caller<B>(&self, request: &HttpRequest<B>) -> Option<Caller> {
        match request.headers().get(header::AUTHORIZATION) {
            Some(value) => self.bearer(value.to_str().ok()?),
            None => self.check(offered_token(request)?),
        }
    }

    /// Who calls with the `Authorization` value `value` (`Bearer <token>`), if it is accepted.
    fn bearer(&self, value: &str) -> Option<Caller> {
        let (scheme, token) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        self.check(token.trim())
    }

    fn check(&self, token: &str) -> Option<Caller> {
        if same(token.as_bytes(), &self.token) {
            return Some(Caller::Full);
        }
        let claims = self.tokens.as_ref()?.authenticate(token)?;
        Some(Caller::Token(claims))
    }
}

/// The subprotocols a WebSocket upgrade offers (`Sec-WebSocket-Protocol`, comma-separated,
/// possibly over several header lines).
fn offered_protocols<B>(request: &HttpRequest<B>) -> impl Iterator<Item = &str> {
    request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
}

/// The token a WebSocket upgrade offers as the subprotocol `paychan.bearer.<token>`.
fn offered_token<B>(request: &HttpRequest<B>) -> Option<&str> {
    offered_protocols(request).find_map(|protocol| protocol.strip_prefix(BEARER_PROTOCOL_PREFIX))
}

/// Whether a request carrying its token as a subprotocol also offers [`SUBPROTOCOL`], which the
/// answer must select (a browser drops an upgrade whose answer selects none of its offers).
/// `None`: the token did not come as a subprotocol.
fn selects_subprotocol<B>(request: &HttpRequest<B>) -> Option<bool> {
    if request.headers().contains_key(header::AUTHORIZATION) || offered_token(request).is_none() {
        return None;
    }
    Some(offered_protocols(request).any(|protocol| protocol == SUBPROTOCOL))
}

fn text(status: StatusCode, body: &'static str) -> HttpResponse {
    let mut response = HttpResponse::new(HttpBody::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn unauthorized() -> HttpResponse {
    let mut response = text(
        StatusCode::UNAUTHORIZED,
        "missing or wrong token: send Authorization: Bearer <token>\n",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"paychan\""),
    );
    response
}

fn add_cors(response: &mut HttpResponse, origin: HeaderValue) {
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
}

fn preflight(origin: HeaderValue) -> HttpResponse {
    let mut response = HttpResponse::new(HttpBody::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    add_cors(&mut response, origin);
    response
}

type Answer = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send + 'static>>;

impl<S, B> Service<HttpRequest<B>> for Auth<S>
where
    S: Service<HttpRequest<B>, Response = HttpResponse>,
    S::Error: Into<BoxError> + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Answer;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: HttpRequest<B>) -> Self::Future {
        if request.method() == Method::GET
            && let Some(page) = crate::dashboard::asset(request.uri().path())
        {
            return Box::pin(async { Ok(page) });
        }
        let origin = match self.policy.origin(&request) {
            Ok(origin) => origin,
            Err(()) => {
                tracing::debug!(origin = ?request.headers().get(header::ORIGIN), "refused: origin not allowed");
                return Box::pin(async { Ok(text(StatusCode::FORBIDDEN, "origin not allowed\n")) });
            }
        };
        if let Some(origin) = &origin
            && request.method() == Method::OPTIONS
        {
            let response = preflight(origin.clone());
            return Box::pin(async { Ok(response) });
        }
        let Some(caller) = self.policy.caller(&request) else {
            tracing::debug!(uri = %request.uri(), "refused: missing or wrong token");
            let mut response = unauthorized();
            if let Some(origin) = origin {
                add_cors(&mut response, origin);
            }
            return Box::pin(async { Ok(response) });
        };
        let select = match selects_subprotocol(&request) {
            None => false,
            Some(true) => true,
            Some(false) => {
                let mut response = text(
                    StatusCode::BAD_REQUEST,
                    "a token sent as the subprotocol paychan.bearer.<token> needs the subprotocol paychan.v1 offered beside it\n",
                );
                if let Some(origin) = origin {
                    add_cors(&mut response, origin);
                }
                return Box::pin(async { Ok(response) });
            }
        };
        request.extensions_mut().insert(caller);
        let answer = self.inner.call(request);
        Box::pin(async move {
            let mut response = answer.await.map_err(Into::into)?;
            if select && response.status() == StatusCode::SWITCHING_PROTOCOLS {
                response.headers_mut().insert(
                    header::SEC_WEBSOCKET_PROTOCOL,
                    HeaderValue::from_static(SUBPROTOCOL),
                );
            }
            if let Some(origin) = origin {
                add_cors(&mut response, origin);
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_exactly() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
        assert!(!same(b"", b"a"));
    }

    #[test]
    fn wildcards_and_weak_tokens_are_refused() {
        let token = "0123456789abcdef";
        assert!(AuthLayer::new(token, &["*".to_owned()]).is_err());
        assert!(AuthLayer::new(token, &["https://*.example".to_owned()]).is_err());
        assert!(AuthLayer::new(token, &["example.com".to_owned()]).is_err());
        assert!(AuthLayer::new("short", &[]).is_err());
        assert!(AuthLayer::new(token, &["https://app.example/".to_owned()]).is_ok());
    }
}
