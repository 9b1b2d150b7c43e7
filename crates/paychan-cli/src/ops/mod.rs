//! The operator's endpoints of `paychan node`, `paychan proxy`, `paychan front` and
//! `paychan ledger serve` (`docs/OPERATIONS.md`): on one HTTP listener, off unless asked
//! (`--metrics-listen ADDR`, or `[metrics] listen` in a node's `config.toml`), without a
//! token:
//!
//! - `GET /metrics`: the component's counters in the Prometheus text format ([`exporter`]);
//! - `GET /healthz`: liveness, `200 ok` while the process serves;
//! - `GET /readyz`: readiness, `200` when every check of the component passes (its store
//!   answers, its ledger answers, its listener accepts), else `503`; a JSON body names
//!   each check and why it failed.
//!
//! They show no key and no token, and move nothing, but payment volumes are business data:
//! keep the listener on loopback or a private network, as the API.

pub(crate) mod exporter;
mod sources;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::{Context, Result};
use async_trait::async_trait;
use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;

use self::exporter::Family;
pub(crate) use self::sources::{LedgerSource, NodeSource, PaywallSource, Verifying};

/// How long one readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// The option that turns the endpoints on.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct MetricsArgs {
    /// Serve /metrics (Prometheus), /healthz and /readyz on this address, without a token
    /// (off by default; port 0 picks a free one, printed in the banner).
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics_listen: Option<SocketAddr>,
}

/// `[metrics]` in a node's `config.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct MetricsSection {
    /// Where the endpoints listen (`None`: off).
    pub(crate) listen: Option<SocketAddr>,
}

/// The result of one readiness check: its name, and why it failed.
pub(crate) type Check = (&'static str, Result<(), String>);

/// What a component exposes.
#[async_trait]
pub(crate) trait Source: Send + Sync + 'static {
    /// Its metrics now.
    async fn families(&self) -> Vec<Family>;
    /// Its readiness checks.
    async fn checks(&self) -> Vec<Check>;
}

/// Runs a readiness check with [`CHECK_TIMEOUT`].
pub(crate) async fn within<F>(check: F) -> Result<(), String>
where
    F: std::future::Future<Output = Result<(), String>>,
{
    tokio::time::timeout(CHECK_TIMEOUT, check)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {CHECK_TIMEOUT:?}")))
}

/// Whether something accepts TCP connections at `addr` (a listener's own check).
pub(crate) async fn accepts(addr: SocketAddr) -> Result<(), String> {
    // A listener on every interface is reached through loopback.
    let target = if addr.ip().is_unspecified() {
        SocketAddr::new(
            if addr.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            },
            addr.port(),
        )
    } else {
        addr
    };
    within(async {
        tokio::net::TcpStream::connect(target)
            .await
            .map(drop)
            .map_err(|e| format!("{target}: {e}"))
    })
    .await
}

/// The running endpoints.
pub(crate) struct Endpoints {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Endpoints {
    /// Where they listen.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Endpoints {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the endpoints of `source` on `listen`, if given.
pub(crate) async fn start(
    listen: Option<SocketAddr>,
    source: Arc<dyn Source>,
) -> Result<Option<Endpoints>> {
    let Some(listen) = listen else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} for the metrics endpoint"))?;
    let addr = listener.local_addr()?;
    let router = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(source);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "the metrics endpoint stopped");
        }
    });
    tracing::info!(%addr, "metrics, health and readiness endpoints listening");
    Ok(Some(Endpoints { addr, task }))
}

async fn metrics(State(source): State<Arc<dyn Source>>) -> Response {
    match exporter::render(source.families().await) {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot encode the metrics\n",
        )
            .into_response(),
    }
}

async fn ready(State(source): State<Arc<dyn Source>>) -> Response {
    let checks = source.checks().await;
    let ready = checks.iter().all(|(_, result)| result.is_ok());
    let body: serde_json::Map<String, serde_json::Value> = checks
        .into_iter()
        .map(|(name, result)| {
            let value = match result {
                Ok(()) => "ok".to_owned(),
                Err(why) => why,
            };
            (name.to_owned(), serde_json::Value::String(value))
        })
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({ "ready": ready, "checks": body });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{body}\n"),
    )
        .into_response()
}
