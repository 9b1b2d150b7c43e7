//! `paychan node`: runs a node until Ctrl-C or SIGTERM; `paychan background` runs the same
//! node as the active background of a high-availability payee (see `background.rs`).
//!
//! In order, and stopping at the first failure with an error that says what to fix: load and
//! check `config.toml`, lock the data directory (one node per directory: [`dirlock`]), read the API token, unlock the key, connect to the ledger, open the
//! SQLite store, build the [`Node`] (which resumes its channels and starts the watcher),
//! start peer networking ([`start_networking`]), and serve the JSON-RPC API, which also
//! accepts the scoped tokens minted under `tokens.key` (made on the first start:
//! [`crate::tokens`]), and, if asked (`[metrics] listen`, `--metrics-listen`), the
//! operator's endpoints ([`crate::ops`]). Events are logged through `tracing`
//! ([`crate::logging`]: `RUST_LOG`, else `[log]`; default `info`).

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::{Context, Result, anyhow};
use paychan_eth::EthLedger;
use paychan_ledger::{Ledger, LedgerError, LedgerQuery, rpc::RpcLedger};
use paychan_node::{Node, NodeEvent};
use paychan_rpc::{Dialer, RpcConfig, RpcServerBuilder, tokens::TokenRegistry};
use paychan_store::{Store, sqlite::SqliteStore};

use crate::output::outln;
use crate::{
    background::Background,
    config::{Config, LedgerKind, data_dir, in_dir},
    dirlock,
    keystore::{self, PassphraseArgs},
    logging::{self, LogArgs},
    network::start_networking,
    ops::{self, MetricsArgs, NodeSource},
};

/// Options of `paychan node`.
#[derive(clap::Args, Debug)]
pub(crate) struct NodeArgs {
    /// The node's data directory (default: ~/.paychan, or ./paychan-data without a home).
    #[arg(long, env = "PAYCHAN_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    passphrase: PassphraseArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
    #[command(flatten)]
    log: LogArgs,
}

/// Runs `paychan node` on a runtime of its own.
pub(crate) fn run(args: &NodeArgs) -> Result<()> {
    run_as(args, None)
}

/// Runs the node of `args`, as a high-availability background if `background` is given.
pub(crate) fn run_as(args: &NodeArgs, background: Option<Background>) -> Result<()> {
    let dir = data_dir(args.data_dir.as_deref());
    // Everything that needs no runtime is checked first.
    let config = Config::load(&dir)?;
    logging::init("info", &args.log, Some(&config.log), Some(&dir))?;
    // Held until the node stops: no second node on this directory (its store, its key).
    let _lock = dirlock::lock(&dir)?;
    let token_path = in_dir(&dir, &config.rpc.token_file);
    let token = std::fs::read_to_string(&token_path).with_context(|| {
        format!(
            "cannot read the RPC token {} (rpc.token_file)",
            token_path.display()
        )
    })?;
    keystore::warn_if_readable(&token_path);
    let key_path = in_dir(&dir, &config.node.key_file);
    let key = keystore::load(&key_path, &args.passphrase)?;
    tracing::info!(address = %key.address(), data_dir = %dir.display(), "key unlocked");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let metrics_listen = args.metrics.metrics_listen.or(config.metrics.listen);
    runtime.block_on(serve(
        dir,
        config,
        token.trim().to_owned(),
        key,
        background,
        metrics_listen,
    ))
}

fn ledger_reason(e: &LedgerError) -> String {
    match e {
        LedgerError::Rejected(rule) => format!("{rule} ({})", rule.name()),
        LedgerError::Unauthorized(why)
        | LedgerError::Invalid(why)
        | LedgerError::Disabled(why)
        | LedgerError::Chain(why)
        | LedgerError::Unavailable(why) => why.clone(),
        other => other.to_string(),
    }
}

async fn serve(
    dir: PathBuf,
    config: Config,
    token: String,
    key: paychan_core::SigningKey,
    background: Option<Background>,
    metrics_listen: Option<SocketAddr>,
) -> Result<()> {
    // Installed first: a standby waiting for its lease stops on Ctrl-C too.
    let signals = crate::signals::Signals::install()?;
    let signal = signals.wait();
    tokio::pin!(signal);
    let ledger: Arc<dyn Ledger> = match config.ledger.kind {
        LedgerKind::EmbeddedRemote => Arc::new(
            RpcLedger::connect(&config.ledger.url, key.clone())
                .await
                .map_err(|e| {
                    anyhow!(
                        "cannot connect to the ledger at {} (ledger.url): {}\n(is `paychan ledger serve` running there?)",
                        config.ledger.url,
                        ledger_reason(&e)
                    )
                })?,
        ),
        LedgerKind::Ethereum => {
            let eth = config.ledger.eth_config(&dir)?;
            let ledger = EthLedger::connect(eth).await.map_err(|e| {
                anyhow!(
                    "cannot use the Ethereum ledger {}: {}",
                    config.ledger.describe(),
                    ledger_reason(&e)
                )
            })?;
            Arc::new(
                ledger
                    .account(&key)
                    .map_err(|e| anyhow!("{}", ledger_reason(&e)))?,
            )
        }
    };
    let (store, lease) = match &background {
        None => (open_sqlite(&dir, &config).await?, None),
        Some(background) => {
            let store = crate::front::open_store(&background.store).await?;
            let lease = tokio::select! {
                lease = background.acquire(&store) => lease?,
                stopped = &mut signal => {
                    tracing::info!(signal = stopped?, "stopping while standing by");
                    return Ok(());
                }
            };
            (store, Some(lease))
        }
    };
    let tokens = TokenRegistry::open(crate::tokens::root_key(&dir)?, store.clone())
        .await
        .map_err(|e| anyhow!("cannot read the scoped tokens from the store: {e}"))?;
    let mut builder = Node::builder()
        .key(key.clone())
        .ledger(ledger.clone())
        .store(store.clone())
        .config(config.node_config());
    if let Some(lease) = &lease {
        builder = builder.lease(Arc::clone(lease));
    }
    let node = builder
        .build()
        .await
        .map_err(|e| anyhow!("cannot start the node: {e}"))?;
    let domain = node.domain();
    tracing::info!(
        chain_id = domain.chain_id(),
        adjudicator = %domain.verifying_contract(),
        channels = node.channels(None).await.len(),
        "node running"
    );
    let log_events = tokio::spawn(log_events(node.clone()));

    if let Some(file) = &config.node.contacts_file {
        crate::contacts_file::watch(node.clone(), in_dir(&dir, file));
    }
    let networking = start_networking(&node, &config.node).await?;
    let rpc_config = RpcConfig::new(token)
        .with_listen(config.rpc.listen)
        .with_allowed_origins(config.rpc.allowed_origins.clone())
        .with_max_request_body_size(config.rpc.max_request_body_size)
        .with_max_batch_len(config.rpc.max_batch_len)
        .with_max_connections(config.rpc.max_connections);
    let rpc_config = match config.rpc.grpc_listen {
        Some(grpc) => rpc_config.with_grpc_listen(grpc),
        None => rpc_config,
    };
    let ledger_query: Arc<dyn LedgerQuery> = ledger.clone();
    let dialer: Arc<dyn Dialer> = networking.clone();
    let mut builder = RpcServerBuilder::new(node.clone(), rpc_config)
        .ledger(ledger_query)
        .dialer(dialer)
        .remote_payment_handler()
        .tokens(Arc::new(tokens));
    if let Some(aa) = &config.rpc.aa {
        builder = builder.aa_compat(aa.config());
    }
    if config.rpc.proposal_decisions {
        builder = builder.proposal_decisions(Duration::from_secs(config.rpc.decision_timeout));
    }
    let server = builder
        .start()
        .await
        .map_err(|e| anyhow!("cannot start the API (rpc.listen): {e}"))?;
    let source = NodeSource {
        node: node.clone(),
        store,
        ledger,
        api: server.local_addr(),
    };
    let endpoints = ops::start(metrics_listen, Arc::new(source)).await?;

    match &lease {
        None => outln!("paychan node {} running", node.address()),
        Some(lease) => outln!(
            "paychan background {} active (lease token {})",
            node.address(),
            lease.token()
        ),
    }
    outln!(
        "  api      {} (WebSocket {})",
        server.url(),
        server.ws_url()
    );
    if let Some(aa) = server.aa_local_addr() {
        outln!("  aa api   http://{aa} (aa-channels compatible, WebSocket ws://{aa})");
    }
    if let Some(grpc) = server.grpc_local_addr() {
        outln!("  grpc     {grpc} (paychan.v1.Node)");
    }
    for addr in networking.listen_addresses() {
        outln!("  peers    {addr}");
    }
    if let Some(endpoints) = &endpoints {
        outln!("  metrics  http://{}/metrics", endpoints.addr());
    }
    outln!("  ledger   {}", config.ledger.describe());
    outln!("  data dir {}", dir.display());

    let mut lost = lease.as_ref().map(|lease| lease.lost());
    let outcome = tokio::select! {
        stopped = &mut signal => {
            tracing::info!(signal = stopped?, "stopping");
            Ok(())
        }
        () = crate::background::lease_lost(lost.as_mut()) => Err(anyhow!(
            "this background lost its lease: another one is active, or the lease could not be \
             renewed in time; stopping (run it again to stand by)"
        )),
    };
    drop(endpoints);
    server.stop();
    server.stopped().await;
    networking.shutdown();
    node.shutdown();
    log_events.abort();
    if let (Some(lease), Ok(())) = (&lease, &outcome) {
        // A clean stop hands over at once instead of after the lease's time.
        match lease.release().await {
            Ok(()) => tracing::info!("lease released"),
            Err(error) => tracing::warn!(%error, "cannot release the lease; it expires by itself"),
        }
    }
    tracing::info!("stopped");
    outcome
}

/// The node's own SQLite store (`store.path` in its data directory).
async fn open_sqlite(dir: &std::path::Path, config: &Config) -> Result<Arc<dyn Store>> {
    let store_path = in_dir(dir, &config.store.path);
    let durability = config.store.durability();
    let store = tokio::task::spawn_blocking({
        let path = store_path.clone();
        move || SqliteStore::open(&path, durability)
    })
    .await
    .context("opening the store failed")?
    .map_err(|e| {
        anyhow!(
            "cannot open the store {} (store.path): {e}",
            store_path.display()
        )
    })?;
    Ok(Arc::new(store))
}

/// Logs the node's events.
async fn log_events(node: Node) {
    let mut events = node.subscribe();
    loop {
        match events.recv().await {
            Ok(event @ (NodeEvent::PaymentReceived { .. } | NodeEvent::PaymentSent { .. })) => {
                tracing::debug!(?event, "event");
            }
            Ok(NodeEvent::Error {
                channel_id,
                message,
            }) => {
                tracing::warn!(channel = ?channel_id, %message, "node error");
            }
            Ok(event) => tracing::info!(?event, "event"),
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::debug!(lost = n, "event log fell behind");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}
