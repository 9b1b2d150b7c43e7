//! `paychan proxy`: a reverse proxy in front of any HTTP service that answers `402 Payment
//! Required` and serves calls paid by payment packages, verified (against the price, and
//! recorded) by a running `paychan node` through its API — the node named by `--data-dir`,
//! or `--rpc URL --token-file FILE`, as for `paychan channel`. The proxy needs no more than a
//! verify-only token (`paychan token create --scope verify`): a proxy host holding one cannot
//! open channels or pay. The upstream URL is checked
//! when the arguments are parsed; a call the upstream does not serve is not charged (see
//! `paychan_http::paywall`) and is logged.
//!
//! Every call is logged (method, path, status, price, amount, payer, latency; a refusal with
//! its code: `paychan_http::observe`) and counted for the metrics endpoint
//! (`--metrics-listen`, [`crate::ops`]).

use std::{net::SocketAddr, sync::Arc};

use anyhow::{Context, Result, anyhow};
use axum::serve::ListenerExt;
use paychan_core::Amount;
use paychan_http::{CallLog, Paywall, PaywallMetrics, RpcVerifier, Verifier, proxy};

use crate::channel::{ApiArgs, endpoint, positive_amount};
use crate::logging::{self, LogArgs};
use crate::ops::{self, MetricsArgs, PaywallSource, Verifying};
use crate::output::outln;

/// Options of `paychan proxy`.
#[derive(clap::Args, Debug)]
pub(crate) struct ProxyArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// The service to charge for (a base URL with its scheme: `http://127.0.0.1:8080`).
    #[arg(long, value_name = "URL", value_parser = upstream_url)]
    upstream: reqwest::Url,
    /// The price of one call, in the ledger's smallest unit.
    #[arg(long, value_parser = positive_amount)]
    price: Amount,
    /// Where the proxy listens.
    #[arg(long, default_value = "127.0.0.1:8402")]
    listen: SocketAddr,
    /// A path served for free (exact, or a prefix when it ends with `/`); repeatable.
    #[arg(long = "free", value_name = "PATH")]
    free: Vec<String>,
    /// Accept packages that do not name their request (by default a package must carry
    /// `{"method", "path"}` of the call it pays for).
    #[arg(long)]
    unbound: bool,
    #[command(flatten)]
    metrics: MetricsArgs,
    #[command(flatten)]
    log: LogArgs,
}

/// An upstream base URL: `http` or `https`, with a host (`localhost:8080` parses as a URL
/// of scheme `localhost`: refused, not forwarded to nowhere).
fn upstream_url(text: &str) -> Result<reqwest::Url, String> {
    let hint = "give the scheme and host, as in http://127.0.0.1:8080";
    let url: reqwest::Url = text
        .parse()
        .map_err(|e| format!("not a URL ({e}): {hint}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "the scheme must be http or https, not {:?}: {hint}",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("no host: {hint}"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("a base URL takes no query or fragment".into());
    }
    Ok(url)
}

/// Runs the proxy until Ctrl-C or SIGTERM.
pub(crate) fn run(args: &ProxyArgs) -> Result<()> {
    logging::init("info", &args.log, None, None)?;
    let (url, token) = endpoint(&args.api)?;
    let upstream = args.upstream.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let verifier = RpcVerifier::new(&url, &token).map_err(|e| anyhow!("{e}"))?;
        let challenge = verifier
            .challenge(args.price)
            .await
            .map_err(|e| anyhow!("the node's API at {url}: {e}"))?;
        let payee = challenge.payee;
        let verifier: Arc<dyn Verifier> = Arc::new(verifier);
        let paywall = Paywall::new(verifier, challenge)
            .free_paths(args.free.clone())
            .bind_requests(!args.unbound);
        let metrics = Arc::new(PaywallMetrics::default());
        let router = proxy::router(upstream.clone(), reqwest::Client::new(), paywall)
            .layer(CallLog::new(metrics.clone()));
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let local = listener.local_addr()?;
        // Headers and body leave in separate writes: without TCP_NODELAY the body waits for
        // the client's delayed ACK of the headers (40 ms on Linux), which browsers showed.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let source = PaywallSource {
            metrics,
            verifying: Verifying::Node(RpcVerifier::new(&url, &token).map_err(|e| anyhow!("{e}"))?),
            upstream: format!(
                "{}:{}",
                upstream.host_str().unwrap_or_default(),
                upstream.port_or_known_default().unwrap_or(80)
            ),
            listen: local,
        };
        let endpoints = ops::start(args.metrics.metrics_listen, Arc::new(source)).await?;
        // Installed before the banner, so a SIGTERM right after it is not missed.
        let signals = crate::signals::Signals::install()?;
        outln!(
            "paychan proxy on http://{local} -> {upstream}: {} per call to {payee}",
            args.price
        );
        if let Some(endpoints) = &endpoints {
            outln!("  metrics http://{}/metrics", endpoints.addr());
        }
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = signals.wait().await;
            })
            .await
            .context("serving")
    })
}
