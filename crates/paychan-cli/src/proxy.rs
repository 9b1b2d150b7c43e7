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

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::{Context, Result, anyhow};
use axum::serve::ListenerExt;
use axum_server::tls_rustls::RustlsConfig;
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
    #[arg(long, value_name = "URL", value_parser = upstream_url, required_unless_present = "config", conflicts_with = "config")]
    upstream: Option<reqwest::Url>,
    /// The price of one call, in the ledger's smallest unit.
    #[arg(long, value_parser = positive_amount, required_unless_present = "config", conflicts_with = "config")]
    price: Option<Amount>,
    /// Several services, each with its host and path rule, price (per call and per KiB of
    /// body), free paths and rate limit per payer: a TOML file (docs/HTTP.md).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the proxy listens (the config file's `listen` wins).
    #[arg(long, default_value = "127.0.0.1:8402")]
    listen: SocketAddr,
    /// Serve HTTPS with this certificate chain (PEM), with --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
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
pub(crate) fn upstream_url(text: &str) -> Result<reqwest::Url, String> {
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
    let file = args
        .config
        .as_deref()
        .map(crate::proxy_config::load)
        .transpose()?;
    let listen = file
        .as_ref()
        .and_then(|(f, _)| f.listen)
        .unwrap_or(args.listen);
    let unbound = args.unbound || file.as_ref().is_some_and(|(f, _)| f.unbound);
    let tls = match (
        &args.tls_cert,
        &args.tls_key,
        file.as_ref().and_then(|(f, _)| f.tls.as_ref()),
    ) {
        (Some(cert), Some(key), _) => Some((cert.clone(), key.clone())),
        (_, _, Some(tls)) => Some((tls.cert.clone(), tls.key.clone())),
        _ => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let verifier = RpcVerifier::new(&url, &token).map_err(|e| anyhow!("{e}"))?;
        let base_price = match (&file, args.price) {
            (Some((_, services)), _) => services.first().map_or(1, |s| s.price),
            (None, Some(price)) => price,
            (None, None) => return Err(anyhow!("give --price, or --config")),
        };
        let challenge = verifier
            .challenge(base_price)
            .await
            .map_err(|e| anyhow!("the node's API at {url}: {e}"))?;
        let payee = challenge.payee;
        let verifier: Arc<dyn Verifier> = Arc::new(verifier);
        let paywall = Paywall::new(verifier, challenge).bind_requests(!unbound);
        let metrics = Arc::new(PaywallMetrics::default());
        let http = reqwest::Client::new();
        let (router, upstreams, banner) = match (&file, &args.upstream) {
            (Some((_, services)), _) => {
                let routes = services.iter().map(|s| s.service(&paywall)).collect();
                let lines: Vec<String> = services
                    .iter()
                    .map(|s| format!("  {}", s.describe()))
                    .collect();
                (
                    proxy::services(routes, http),
                    services
                        .iter()
                        .map(|s| s.upstream.clone())
                        .collect::<Vec<_>>(),
                    format!(
                        "{} services for {payee}\n{}",
                        services.len(),
                        lines.join("\n")
                    ),
                )
            }
            (None, Some(upstream)) => (
                proxy::router(
                    upstream.clone(),
                    http,
                    paywall.free_paths(args.free.clone()),
                ),
                vec![upstream.clone()],
                format!("{upstream}: {base_price} per call to {payee}"),
            ),
            (None, None) => return Err(anyhow!("give --upstream, or --config")),
        };
        let router = router.layer(CallLog::new(metrics.clone()));
        let listener = std::net::TcpListener::bind(listen)
            .with_context(|| format!("cannot listen on {listen}"))?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let tls = match &tls {
            Some((cert, key)) => {
                // The peer transports' provider; a second install is harmless.
                let _ = rustls::crypto::ring::default_provider().install_default();
                let config = RustlsConfig::from_pem_file(cert, key)
                    .await
                    .with_context(|| {
                        format!(
                            "cannot use the TLS certificate {} and key {}",
                            cert.display(),
                            key.display()
                        )
                    })?;
                Some(config)
            }
            None => None,
        };
        let source = PaywallSource {
            metrics,
            verifying: Verifying::Node(RpcVerifier::new(&url, &token).map_err(|e| anyhow!("{e}"))?),
            upstreams: upstreams
                .iter()
                .map(|u| {
                    format!(
                        "{}:{}",
                        u.host_str().unwrap_or_default(),
                        u.port_or_known_default().unwrap_or(80)
                    )
                })
                .collect(),
            listen: local,
        };
        let endpoints = ops::start(args.metrics.metrics_listen, Arc::new(source)).await?;
        // Installed before the banner, so a SIGTERM right after it is not missed.
        let signals = crate::signals::Signals::install()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        outln!("paychan proxy on {scheme}://{local} -> {banner}");
        if let Some(endpoints) = &endpoints {
            outln!("  metrics http://{}/metrics", endpoints.addr());
        }
        match tls {
            Some(config) => {
                let handle = axum_server::Handle::new();
                let stopping = handle.clone();
                tokio::spawn(async move {
                    let _ = signals.wait().await;
                    stopping.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
                });
                // TCP_NODELAY under TLS too (see the plain listener below).
                let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(config)
                    .acceptor(axum_server::accept::NoDelayAcceptor::new());
                axum_server::from_tcp(listener)?
                    .acceptor(acceptor)
                    .handle(handle)
                    .serve(router.into_make_service())
                    .await
                    .context("serving")
            }
            // Headers and body leave in separate writes: without TCP_NODELAY the body waits
            // for the client's delayed ACK of the headers (40 ms on Linux; browsers showed it).
            None => axum::serve(
                tokio::net::TcpListener::from_std(listener)?.tap_io(|tcp| {
                    if let Err(e) = tcp.set_nodelay(true) {
                        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
                    }
                }),
                router,
            )
            .with_graceful_shutdown(async {
                let _ = signals.wait().await;
            })
            .await
            .context("serving"),
        }
    })
}
