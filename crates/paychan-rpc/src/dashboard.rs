//! The node's web dashboard: three static files (`/dashboard`, its script and its style),
//! served on the API's port without a token because they hold no data. The page asks for
//! the token (or reads it from the URL's fragment, which never reaches a server) and talks to
//! the API over a WebSocket authenticated with the token as a subprotocol, like any browser
//! client: channels with balances and phases, payments per second, recent events, and
//! withdraw and close buttons behind a confirmation (docs/OPERATIONS.md).
//!
//! The page may only be framed by no one (`frame-ancestors 'none'`: no clickjacking of the
//! close button) and may only load its own files and talk to its own origin (the CSP). Its
//! requests carry the node's own origin, which [`crate::auth`] accepts when the node is
//! reached by a loopback address.

use http::{HeaderValue, StatusCode, header};
use jsonrpsee::server::{HttpBody, HttpResponse};

const INDEX: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/app.js");
const STYLE: &str = include_str!("dashboard/style.css");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The dashboard's file at `path`, if it is one.
pub(crate) fn asset(path: &str) -> Option<HttpResponse> {
    if path == "/favicon.ico" {
        // Browsers ask for it with every page: no icon, rather than a 401 in their console.
        let mut empty = HttpResponse::new(HttpBody::empty());
        *empty.status_mut() = StatusCode::NO_CONTENT;
        return Some(empty);
    }
    let (body, kind) = match path {
        "/dashboard" | "/dashboard/" => (INDEX, "text/html; charset=utf-8"),
        "/dashboard/app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "/dashboard/style.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return None,
    };
    let mut response = HttpResponse::new(HttpBody::from(body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(response)
}

/// Whether `host` (a `Host` header) names this machine by a loopback address, so that the
/// origin `http(s)://host` is the node's own page and not a rebound domain name.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_only() {
        for host in [
            "127.0.0.1:6333",
            "localhost:6333",
            "[::1]:6333",
            "127.0.0.1",
            "LOCALHOST",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example:6333",
            "10.0.0.7:6333",
            "127.0.0.1.evil.example",
            "[::2]:1",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn the_files_are_served_with_their_policy() {
        let page = asset("/dashboard").map(|r| r.headers().clone());
        let headers = page.unwrap_or_default();
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert!(
            headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .is_ok_and(|csp| csp.contains("frame-ancestors 'none'"))
        );
        assert!(asset("/dashboard/app.js").is_some());
        assert!(asset("/dashboard/../rpc.token").is_none());
        assert!(asset("/").is_none());
    }
}
