//! `paychan front`: a stateless payee process for high availability. It is `paychan proxy`
//! (the 402 paywall and reverse proxy) verifying payment packages in this process against a
//! store that any number of fronts share, with no node, no JSON-RPC hop per call and no key
//! of the payee's: accepting a voucher signs nothing (`docs/ARCHITECTURE.md`, paychan-node,
//! `StorePayee`). Run several behind a load balancer on one PostgreSQL or MariaDB database;
//! the payee's own node, on the same database, closes and settles the channels.
//!
//! As the proxy, it logs every call and serves its metrics and readiness (the store and the
//! ledger answer) on `--metrics-listen` ([`crate::ops`], `docs/OPERATIONS.md`).

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::{Context, Result, anyhow, bail};
use paychan_core::{Address, Amount, Domain, SigningKey, front::SignedFrontCertificate};
use paychan_http::{CallLog, Challenge, Paywall, PaywallMetrics, Verifier, proxy};
use paychan_ledger::{LedgerQuery, rpc::RpcReader};
use paychan_node::{ChannelPolicy, front::StorePayee};
use paychan_store::{Durability, SqliteStore, Store, mysql::MysqlStore, postgres::PostgresStore};

use crate::{
    channel::positive_amount,
    config::DEFAULT_LEDGER_URL,
    keystore::{self, PassphraseArgs},
    logging::{self, LogArgs},
    ops::{self, MetricsArgs, PaywallSource, Verifying},
};

/// Options of `paychan front`.
#[derive(clap::Args, Debug)]
pub(crate) struct FrontArgs {
    /// The store the fronts share: `postgres://USER@HOST:PORT/DATABASE` (a schema other than
    /// the default through `?options=-csearch_path%3DNAME`), `mysql://USER:PASSWORD@HOST:PORT/DATABASE`
    /// (MariaDB or MySQL), or the path of a SQLite file (one machine).
    #[arg(long, value_name = "URL")]
    store: String,
    /// The payee the front answers for (its node holds the key).
    #[arg(long, value_name = "ADDRESS")]
    payee: Address,
    /// The served ledger (`paychan ledger serve`), read to learn new channels and deposits.
    #[arg(long = "ledger-url", value_name = "URL", default_value = DEFAULT_LEDGER_URL)]
    ledger_url: String,
    /// The service to charge for (a base URL: `http://127.0.0.1:8080`).
    #[arg(long, value_name = "URL")]
    upstream: String,
    /// The price of one call, in the ledger's smallest unit.
    #[arg(long, value_parser = positive_amount)]
    price: Amount,
    /// Where the front listens.
    #[arg(long, default_value = "127.0.0.1:8402")]
    listen: SocketAddr,
    /// A path served for free (exact, or a prefix when it ends with `/`); repeatable.
    #[arg(long = "free", value_name = "PATH")]
    free: Vec<String>,
    /// Accept packages that do not name their request (by default a package must carry
    /// `{"method", "path"}` of the call it pays for).
    #[arg(long)]
    unbound: bool,
    /// Sign receipts with this front key (a hex key file, or a keystore with
    /// --passphrase-file), under --certificate; without it receipts are unsigned.
    #[arg(long, value_name = "FILE", requires = "certificate")]
    receipt_key: Option<PathBuf>,
    /// The payee's certificate of the receipt key (`paychan certify-front`).
    #[arg(long, value_name = "FILE", requires = "receipt_key")]
    certificate: Option<PathBuf>,
    #[command(flatten)]
    passphrase: PassphraseArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
    #[command(flatten)]
    log: LogArgs,
}

/// Opens the store named by `url` (see [`FrontArgs::store`]); errors name the `--store`
/// option.
pub(crate) async fn open_store(url: &str) -> Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> =
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Arc::new(
                PostgresStore::connect(url)
                    .await
                    .map_err(|e| anyhow!("the PostgreSQL store (--store): {e}"))?,
            )
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            let url = url.replacen("mariadb://", "mysql://", 1);
            Arc::new(
                MysqlStore::connect(&url)
                    .await
                    .map_err(|e| anyhow!("the MariaDB/MySQL store (--store): {e}"))?,
            )
        } else if url.contains("://") {
            bail!("--store {url:?}: use postgres://, mysql:// or the path of a SQLite file");
        } else {
            let path = url.to_owned();
            Arc::new(
                tokio::task::spawn_blocking(move || SqliteStore::open(&path, Durability::Normal))
                    .await
                    .context("opening the store failed")?
                    .map_err(|e| anyhow!("the SQLite store {url} (--store): {e}"))?,
            )
        };
    Ok(store)
}

/// A day: a certificate closer than this to its expiry is worth a warning at start.
const RENEW_WARNING_SECS: u64 = 86_400;

/// The receipt key and its certificate, checked against the payee and the ledger.
fn receipt_signer(
    args: &FrontArgs,
    domain: &Domain,
) -> Result<Option<(SigningKey, SignedFrontCertificate)>> {
    let (Some(key_path), Some(cert_path)) = (&args.receipt_key, &args.certificate) else {
        return Ok(None);
    };
    let key = keystore::load(key_path, &args.passphrase)?;
    let text = std::fs::read_to_string(cert_path)
        .with_context(|| format!("cannot read the certificate {}", cert_path.display()))?;
    let certificate: SignedFrontCertificate = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a front certificate (made by `paychan certify-front`)",
            cert_path.display()
        )
    })?;
    let now = crate::when::now();
    certificate
        .check(domain, args.payee, key.address(), now)
        .map_err(|e| {
            anyhow!(
                "the certificate {} does not let {} sign for {}: {e}",
                cert_path.display(),
                key.address(),
                args.payee
            )
        })?;
    let left = certificate.certificate.expiry.saturating_sub(now);
    if left < RENEW_WARNING_SECS {
        tracing::warn!(
            expires = %crate::when::deadline(certificate.certificate.expiry, Some(now)),
            "the front certificate expires soon: clients refuse receipts after it (renew with `paychan certify-front`)"
        );
    }
    Ok(Some((key, certificate)))
}

/// Runs the front until Ctrl-C or SIGTERM.
pub(crate) fn run(args: &FrontArgs) -> Result<()> {
    logging::init("info", &args.log, None, None)?;
    let upstream: reqwest::Url = args
        .upstream
        .parse()
        .with_context(|| format!("bad upstream URL {:?} (--upstream)", args.upstream))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let ledger: Arc<dyn LedgerQuery> =
            Arc::new(RpcReader::connect(&args.ledger_url).await.map_err(|e| {
                anyhow!(
                    "cannot reach the ledger at {} (--ledger-url): {e}",
                    args.ledger_url
                )
            })?);
        let store = open_store(&args.store).await?;
        let verifying = Verifying::Store {
            store: store.clone(),
            ledger: ledger.clone(),
        };
        let payee = StorePayee::new(args.payee, store, ledger, ChannelPolicy::default())
            .await
            .map_err(|e| anyhow!("cannot start the front: {e}"))?;
        let domain = *payee.manager().domain();
        let signer = receipt_signer(args, &domain)?;
        let challenge = Challenge {
            price: args.price,
            payee: args.payee,
            chain_id: domain.chain_id(),
            contract: domain.verifying_contract(),
            node: None,
        };
        let verifier: Arc<dyn Verifier> = Arc::new(payee);
        let paywall = Paywall::new(verifier, challenge)
            .free_paths(args.free.clone())
            .bind_requests(!args.unbound);
        let paywall = match &signer {
            Some((key, certificate)) => paywall.sign_receipts_as_front(key.clone(), *certificate),
            None => paywall,
        };
        let metrics = Arc::new(PaywallMetrics::default());
        let router = proxy::router(upstream.clone(), reqwest::Client::new(), paywall)
            .layer(CallLog::new(metrics.clone()));
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let local = listener.local_addr()?;
        let source = PaywallSource {
            metrics,
            verifying,
            upstreams: vec![format!(
                "{}:{}",
                upstream.host_str().unwrap_or_default(),
                upstream.port_or_known_default().unwrap_or(80)
            )],
            listen: local,
        };
        let endpoints = ops::start(args.metrics.metrics_listen, Arc::new(source)).await?;
        // Installed before the banner, so a SIGTERM right after it is not missed.
        let signals = crate::signals::Signals::install()?;
        println!(
            "paychan front on http://{local} -> {upstream}: {} per call to {}",
            args.price, args.payee
        );
        if let Some((key, certificate)) = &signer {
            println!(
                "  receipts signed by front key {} (certified until {})",
                key.address(),
                crate::when::date(certificate.certificate.expiry)
            );
        }
        if let Some(endpoints) = &endpoints {
            println!("  metrics http://{}/metrics", endpoints.addr());
        }
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = signals.wait().await;
            })
            .await
            .context("serving")
    })
}
