//! `paychan background`: the payee's own node in a high-availability deployment. It holds
//! the payee's key, follows the ledger and writes deposits, closes and settlements into the
//! store that the fronts (`paychan front`) share, co-signs withdrawals and cooperative
//! closes, defends channels and refills them (`docs/ARCHITECTURE.md`, high availability).
//!
//! Run two or more, each with a copy of the payee's data directory, on the same store: one is
//! active, the others stand by until its lease (a row of the store) is free. A standby takes
//! over within the lease's time (`--lease`, 3 s by default) of the active one dying or
//! hanging; an active one that loses its lease stops at once, having written and signed
//! nothing after it lost it (every write is fenced by the lease's token in the database;
//! every signature and ledger operation waits on the lease: see paychan-node's `lease`).
//! A clean stop (Ctrl-C, SIGTERM) releases the lease, so a standby takes over at once.

use std::{sync::Arc, time::Duration};

use anyhow::{Result, anyhow};
use paychan_node::lease::{ActiveLease, BACKGROUND_LEASE, Waiting};
use paychan_store::Store;
use tokio::sync::watch;

use crate::{daemon::NodeArgs, output::outln};

/// Options of `paychan background`.
#[derive(clap::Args, Debug)]
pub(crate) struct BackgroundArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The store the fronts share: `postgres://USER@HOST:PORT/DATABASE` (a schema other than
    /// the default through `?options=-csearch_path%3DNAME`) or
    /// `mysql://USER:PASSWORD@HOST:PORT/DATABASE` (MariaDB or MySQL).
    #[arg(long, value_name = "URL")]
    store: String,
    /// How long the lease holds without a renewal (renewed every third of it): a standby
    /// takes over within this time of the active background dying. Milliseconds.
    #[arg(long = "lease-ms", value_name = "MS", default_value_t = 3_000,
          value_parser = clap::value_parser!(u64).range(300..=600_000))]
    lease_ms: u64,
    /// The name this background gives itself in the lease (default: host name and process
    /// id), shown to the standbys.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
}

/// What makes a node a background: its shared store and its lease.
#[derive(Debug)]
pub(crate) struct Background {
    pub(crate) store: String,
    lease: Duration,
    name: String,
}

/// Runs `paychan background`.
pub(crate) fn run(args: &BackgroundArgs) -> Result<()> {
    if !["postgres://", "postgresql://", "mysql://", "mariadb://"]
        .iter()
        .any(|scheme| args.store.starts_with(scheme))
    {
        return Err(anyhow!(
            "--store {:?}: a background shares its store with fronts and standbys: use \
             postgres:// or mysql:// (a SQLite file serves one process: run `paychan node`)",
            args.store
        ));
    }
    let name = args.name.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|host| host.trim().to_owned())
            .filter(|host| !host.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        format!("{host} pid {}", std::process::id())
    });
    let background = Background {
        store: args.store.clone(),
        lease: Duration::from_millis(args.lease_ms),
        name,
    };
    crate::daemon::run_as(&args.node, Some(background))
}

impl Background {
    /// Stands by until the store grants this background the lease, saying who is active.
    pub(crate) async fn acquire(&self, store: &Arc<dyn Store>) -> Result<Arc<ActiveLease>> {
        outln!(
            "paychan background {:?}: waiting for the lease (held at most {} ms unrenewed)",
            self.name,
            self.lease.as_millis()
        );
        let lease = ActiveLease::acquire(
            Arc::clone(store),
            BACKGROUND_LEASE,
            &self.name,
            self.lease,
            |waiting| match waiting {
                Waiting::Held {
                    holder,
                    token,
                    remaining,
                } => outln!(
                    "standby: {holder:?} is active (lease token {token}, {} ms left unless it \
                     renews)",
                    remaining.as_millis()
                ),
                Waiting::Unavailable(why) => {
                    outln!("standby: the store is unavailable ({why}); retrying");
                }
            },
        )
        .await
        .map_err(|e| anyhow!("cannot take the lease: {e}"))?;
        tracing::info!(token = lease.token(), name = %self.name, "lease taken: active");
        Ok(lease)
    }
}

/// Resolves once the lease watched by `lost` is lost for good; never without one.
pub(crate) async fn lease_lost(lost: Option<&mut watch::Receiver<bool>>) {
    match lost {
        Some(lost) => {
            // An error means the lease's sender is gone: the node stopped; as good as lost.
            let _ = lost.wait_for(|lost| *lost).await;
        }
        None => std::future::pending().await,
    }
}
