//! A reverse proxy that puts a [`Paywall`] in front of any HTTP service: every request the
//! paywall admits is forwarded to the upstream (method, path and query, headers except the
//! hop-by-hop ones and the payment, body streamed both ways). `paychan proxy` runs it. An
//! unreachable upstream is a `502`, which the paywall turns into an uncharged `service_failed`
//! (as any `5xx` of the upstream): see [`paywall`](crate::paywall).

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
