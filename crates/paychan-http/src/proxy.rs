//! A reverse proxy that puts a [`Paywall`] in front of any HTTP service: every request the
//! paywall admits is forwarded to the upstream (method, path and query, headers except the
//! hop-by-hop ones and the payment, body streamed both ways). `paychan proxy` runs it. An
//! unreachable upstream is a `502`, which the paywall turns into an uncharged `service_failed`
//! (as any `5xx` of the upstream): see [`paywall`](crate::paywall).
//!
//! [`services`] puts several upstreams behind one listener (Aperture's services): each
//! [`Service`] matches a host (optional) and a path prefix, with a paywall of its own (its
//! price, free paths, rate limit); the first service that matches a request serves it, and a
//! request no service matches is answered `404` with `no_service`.

use std::sync::Arc;

use axum::{
    Router,
    body::Body,
    extract::State,
    response::{IntoResponse, Response},
};
use http::{HeaderMap, HeaderName, Request, StatusCode, header};

use crate::paywall::Paywall;

/// Headers that belong to one connection and are not forwarded (RFC 9110 section 7.6.1).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

struct Upstream {
    base: reqwest::Url,
    http: reqwest::Client,
}

/// The proxy's router: everything goes through `paywall` to `upstream` (a base URL; its
/// path is prefixed to the request's).
pub fn router(upstream: reqwest::Url, http: reqwest::Client, paywall: Paywall) -> Router {
    Router::new()
        .fallback(forward)
        .with_state(Arc::new(Upstream {
            base: upstream,
            http,
        }))
        .layer(paywall)
}

/// One upstream of [`services`]: which requests it takes, and its paywall.
#[derive(Clone)]
pub struct Service {
    /// The `Host` it answers (without port; any host when `None`).
    pub host: Option<String>,
    /// The path prefix it takes: an exact path, or a prefix when it ends with `/`.
    pub path: String,
    /// Where its requests go (a base URL; its path is prefixed to the request's).
    pub upstream: reqwest::Url,
    /// What its calls cost.
    pub paywall: Paywall,
}

impl Service {
    fn matches(&self, host: Option<&str>, path: &str) -> bool {
        let host_ok = match (&self.host, host) {
            (None, _) => true,
            (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
            (Some(_), None) => false,
        };
        let path_ok = if self.path.ends_with('/') {
            path.starts_with(self.path.as_str()) || path == self.path.trim_end_matches('/')
        } else {
            path == self.path
        };
        host_ok && path_ok
    }
}

/// The host a request names (`Host`, else the URI's authority), without its port.
fn request_host(request: &Request<Body>) -> Option<String> {
    let raw = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()))?;
    // `[::1]:80` keeps its brackets; `example.com:80` loses its port.
    let host = match raw.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => raw.as_str(),
    };
    Some(host.to_ascii_lowercase())
}

/// Several services behind one listener (see the [module docs](self)), in order of
/// precedence.
pub fn services(services: Vec<Service>, http: reqwest::Client) -> Router {
    let routes: Arc<Vec<(Service, Router)>> = Arc::new(
        services
            .into_iter()
            .map(|s| {
                let router = router(s.upstream.clone(), http.clone(), s.paywall.clone());
                (s, router)
            })
            .collect(),
    );
    Router::new().fallback(move |request: Request<Body>| {
        let routes = routes.clone();
        async move {
            let host = request_host(&request);
            let path = request.uri().path().to_owned();
            let Some((_, router)) = routes
                .iter()
                .find(|(service, _)| service.matches(host.as_deref(), &path))
            else {
                let body = serde_json::json!({
                    "error": "no_service",
                    "message": format!("no service here answers {} {path}", host.as_deref().unwrap_or("(no host)")),
                });
                return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
            };
            match tower::ServiceExt::oneshot(router.clone(), request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    })
}

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if !HOP_BY_HOP.contains(name) && name != header::HOST {
            to.append(name.clone(), value.clone());
        }
    }
}

async fn forward(State(upstream): State<Arc<Upstream>>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let mut url = upstream.base.clone();
    let base_path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{base_path}{}", parts.uri.path()));
    url.set_query(parts.uri.query());
    let mut headers = HeaderMap::new();
    copy_headers(&parts.headers, &mut headers);
    let sent = upstream
        .http
        .request(parts.method, url)
        .headers(headers)
        .body(reqwest::Body::wrap_stream(body.into_data_stream()))
        .send()
        .await;
    let answer = match sent {
        Ok(answer) => answer,
        Err(e) => {
            tracing::warn!(upstream = %upstream.base, error = %e, "the upstream did not answer");
            return (StatusCode::BAD_GATEWAY, format!("upstream: {e}\n")).into_response();
        }
    };
    let status = answer.status();
    let mut headers = HeaderMap::new();
    copy_headers(answer.headers(), &mut headers);
    let mut response = Response::new(Body::from_stream(answer.bytes_stream()));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}
