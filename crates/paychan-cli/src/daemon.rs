//! `paychan node`: runs a node until Ctrl-C or SIGTERM.
//!
//! In order, and stopping at the first failure with an error that says what to fix: load and
//! check `config.toml`, lock the data directory (one node per directory: [`dirlock`]), read the API token, unlock the key, connect to the ledger, open the
//! SQLite store, build the [`Node`] (which resumes its channels and starts the watcher),
//! start peer networking ([`start_networking`]), serve the JSON-RPC API, and, if asked
//! (`[metrics] listen`, `--metrics-listen`), the operator's endpoints ([`crate::ops`]).
//! Events are logged through `tracing` ([`crate::logging`]: `RUST_LOG`, else `[log]`;
//! default `info`).

use std::{path::PathBuf, sync::Arc};

use anyhow::{Context, Result, anyhow};
use paychan_eth::EthLedger;
use paychan_ledger::{Ledger, LedgerError, LedgerQuery, rpc::RpcLedger};
use paychan_node::{Node, NodeEvent};
use paychan_rpc::{Dialer, RpcConfig, RpcServerBuilder};
use paychan_store::{Store, sqlite::SqliteStore};

use crate::output::outln;
use crate::{
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
    metrics_listen: Option<std::net::SocketAddr>,
) -> Result<()> {
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
    let store_path = in_dir(&dir, &config.store.path);
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
    let store: Arc<dyn Store> = Arc::new(store);
    let node = Node::builder()
        .key(key.clone())
        .ledger(ledger.clone())
        .store(store.clone())
        .config(config.node_config())
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

    let networking = start_networking(&node, &config.node).await?;
    let rpc_config = RpcConfig::new(token)
        .with_listen(config.rpc.listen)
        .with_allowed_origins(config.rpc.allowed_origins.clone())
        .with_max_request_body_size(config.rpc.max_request_body_size)
        .with_max_batch_len(config.rpc.max_batch_len)
        .with_max_connections(config.rpc.max_connections);
    let ledger_query: Arc<dyn LedgerQuery> = ledger.clone();
    let dialer: Arc<dyn Dialer> = networking.clone();
    let server = RpcServerBuilder::new(node.clone(), rpc_config)
        .ledger(ledger_query)
        .dialer(dialer)
        .remote_payment_handler()
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

    let signals = crate::signals::Signals::install()?;
    outln!("paychan node {} running", node.address());
    outln!(
        "  api      {} (WebSocket {})",
        server.url(),
        server.ws_url()
    );
    for addr in networking.listen_addresses() {
        outln!("  peers    {addr}");
    }
    if let Some(endpoints) = &endpoints {
        outln!("  metrics  http://{}/metrics", endpoints.addr());
    }
    outln!("  ledger   {}", config.ledger.describe());
    outln!("  data dir {}", dir.display());

    let signal = signals.wait().await?;
    tracing::info!(signal, "stopping");
    drop(endpoints);
    server.stop();
    server.stopped().await;
    networking.shutdown();
    node.shutdown();
    log_events.abort();
    tracing::info!("stopped");
    Ok(())
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
