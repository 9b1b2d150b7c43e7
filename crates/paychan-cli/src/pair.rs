//! Two full nodes in this process over loopback Noise/TCP, on one embedded ledger: the setup
//! `paychan demo` and `paychan bench` share.
//!
//! Each [`Party`] is a real [`Node`] with its own SQLite store in a directory the caller
//! owns; [`connect`] makes one listen on 127.0.0.1 and the other dial it, exactly as two
//! machines would. The ledger is the embedded ledger in memory on a manual clock
//! ([`manual_ledger`]), so that challenge periods can pass at once.

use std::{path::Path, sync::Arc, time::Duration};

use anyhow::{Context, Result};
use paychan_core::{SigningKey, keccak256};
use paychan_ledger::{Clock, EmbeddedLedger, Ledger};
use paychan_net::{LinkConfig, ListenConfig, PeerAddr};
use paychan_node::{Node, NodeConfig, NodeEvent, net};
use paychan_store::{Durability, sqlite::SqliteStore};

/// One node of the pair.
pub(crate) struct Party {
    /// Its name (also the name of its database file).
    pub(crate) name: &'static str,
    /// Its key.
    pub(crate) key: SigningKey,
    /// The node.
    pub(crate) node: Node,
    /// Its store (the node holds the same one), for commit statistics.
    pub(crate) store: Arc<SqliteStore>,
}

/// The key of party `name` for `seed` (the same seed gives the same addresses).
pub(crate) fn key(name: &str, seed: u64) -> Result<SigningKey> {
    Ok(SigningKey::from_entropy(
        keccak256([name.as_bytes(), &seed.to_be_bytes()].concat()).as_slice(),
    )?)
}

/// A handle on `ledger` for each key.
pub(crate) fn embedded(ledger: &EmbeddedLedger) -> impl Fn(&SigningKey) -> Result<Arc<dyn Ledger>> {
    |key| Ok(Arc::new(ledger.account(key.clone())))
}

/// An embedded ledger in memory whose manual clock starts at the current Unix time.
pub(crate) fn manual_ledger() -> EmbeddedLedger {
    EmbeddedLedger::in_memory(Clock::manual(crate::when::now()))
}

/// The path of party `name`'s database in `dir`.
pub(crate) fn db_path(dir: &Path, name: &str) -> std::path::PathBuf {
    dir.join(format!("{name}.db"))
}

/// Opens (or restores, if the database exists) party `name`'s node on the ledger handle
/// `ledger` gives for its key, with its store in `dir`.
pub(crate) async fn party(
    name: &'static str,
    seed: u64,
    ledger: impl Fn(&SigningKey) -> Result<Arc<dyn Ledger>>,
    dir: &Path,
    durability: Durability,
) -> Result<Party> {
    let key = key(name, seed)?;
    let store = Arc::new(SqliteStore::open(db_path(dir, name), durability)?);
    let node = Node::builder()
        .key(key.clone())
        .ledger(ledger(&key)?)
        .store(store.clone())
        .config(NodeConfig {
            settle_check_interval: Duration::from_millis(50),
            ..NodeConfig::default()
        })
        .build()
        .await?;
    Ok(Party {
        name,
        key,
        node,
        store,
    })
}

/// Makes `payee` listen on 127.0.0.1 (TCP, Noise) and `payer` dial it; returns once they are
/// connected, with the address `payer` dialled.
pub(crate) async fn connect(payer: &Party, payee: &Party) -> Result<PeerAddr> {
    let listening = net::listen(
        &payee.node,
        ListenConfig::new().with_tcp("127.0.0.1:0".parse()?),
    )
    .await?;
    let at: PeerAddr = format!(
        "{}@{}",
        payee.key.address(),
        listening.tcp.context("no TCP address")?
    )
    .parse()?;
    net::dial(&payer.node, at.clone(), LinkConfig::default())?;
    let (a, b) = (&payer.node, payee.key.address());
    wait_until(|| a.is_connected(b), "the payer connects to the payee").await?;
    Ok(at)
}

/// Registers `payee` at the relay on `relay` (`ws://`) and makes `payer` dial it there
/// (`ADDRESS@relay+ws://...`): neither listens. Returns once they are connected.
pub(crate) async fn connect_via_relay(
    payer: &Party,
    payee: &Party,
    relay: std::net::SocketAddr,
) -> Result<PeerAddr> {
    let at: PeerAddr = format!("{}@relay+ws://{relay}/", payee.key.address()).parse()?;
    let paychan_net::Endpoint::Relay(url) = at.endpoint().clone() else {
        anyhow::bail!("{at} is not a relay address");
    };
    let mut registered = net::listen_relays(&payee.node, vec![url], LinkConfig::default())?;
    tokio::time::timeout(Duration::from_secs(20), registered.wait_for(|n| *n > 0))
        .await
        .context("the payee did not register at the relay in 20 s")?
        .context("the payee's relay listener stopped")?;
    net::dial(&payer.node, at.clone(), LinkConfig::default())?;
    let (a, b) = (&payer.node, payee.key.address());
    wait_until(|| a.is_connected(b), "the payer connects through the relay").await?;
    Ok(at)
}

/// Waits (up to 20 s) until `done()`.
pub(crate) async fn wait_until(mut done: impl FnMut() -> bool, what: &str) -> Result<()> {
    tokio::time::timeout(Duration::from_secs(20), async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .with_context(|| format!("timed out: {what}"))
}

/// Waits (up to 20 s) until `done().await`.
pub(crate) async fn wait_until_async<F, Fut>(mut done: F, what: &str) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    tokio::time::timeout(Duration::from_secs(20), async {
        while !done().await {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .with_context(|| format!("timed out: {what}"))
}

/// Waits (up to 20 s) for the first event `pick` takes.
pub(crate) async fn wait_event<T>(
    rx: &mut tokio::sync::broadcast::Receiver<NodeEvent>,
    mut pick: impl FnMut(&NodeEvent) -> Option<T>,
) -> Result<T> {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match rx.recv().await {
                Ok(event) => {
                    if let Some(t) = pick(&event) {
                        return Ok(t);
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => return Err(anyhow::anyhow!("event stream ended: {e}")),
            }
        }
    })
    .await
    .context("timed out waiting for an event")?
}
