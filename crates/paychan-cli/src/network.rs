//! The daemon's peer networking: listens for peers (TCP, WebSocket, and through the relays of
//! `[node] relays`), keeps configured peers
//! connected, dials peers on request, and hands every authenticated connection to the node.
//!
//! Listening and the configured peers use `paychan_node::net` (which turns `paychan-net`
//! connections into the node's `PeerConnection`s and stops with the node).
//!
//! The API reaches this module through the [`Dialer`] hook: `open_channel` with a peer URL
//! dials it and keeps it connected from then on (with backoff), and a peer known by its
//! address only is dialed at the endpoint it was last reached at.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use anyhow::{Context, Result};
use async_trait::async_trait;
use paychan_core::Address;
use paychan_net::{Identity, LinkConfig, LinkEvent, ListenConfig, PeerAddr};
use paychan_node::{
    Node, Origin,
    net::{self, bridge},
};
use paychan_rpc::{DialError, Dialer};
use tokio::{sync::oneshot, task::JoinHandle};

use crate::{config::NodeSection, keystore::random};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Single inserts and removes: a panic elsewhere cannot leave these maps inconsistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The running networking of a daemon.
pub(crate) struct Networking {
    node: Node,
    identity: Identity,
    links: LinkConfig,
    listen: Vec<String>,
    /// Where peers were reached (configured or dialed).
    known: Mutex<HashMap<Address, PeerAddr>>,
    /// The tasks keeping peers connected that this module started (dials through the API).
    linked: Mutex<HashMap<Address, JoinHandle<()>>>,
    /// Peers of the configuration: a link of their own keeps them connected, and a dial
    /// through the API waits for it rather than start a second link that would keep
    /// replacing the first one's connections.
    configured: std::collections::HashSet<Address>,
}

/// Starts listening on the configured sockets and connecting to the configured peers; both
/// stop when the node shuts down.
pub(crate) async fn start_networking(node: &Node, config: &NodeSection) -> Result<Arc<Networking>> {
    let identity = net::identity(node)
        .map_err(|e| anyhow::anyhow!("cannot create the network identity: {e}"))?;
    let links = LinkConfig::default().with_jitter_seed(u64::from_be_bytes(random::<8>()?));
    let mut listen = vec![];
    if config.listen_tcp.is_some() || config.listen_ws.is_some() {
        let mut listen_config = ListenConfig::new();
        if let Some(addr) = config.listen_tcp {
            listen_config = listen_config.with_tcp(addr);
        }
        if let Some(addr) = config.listen_ws {
            listen_config = listen_config.with_ws(addr);
        }
        let listening = net::listen(node, listen_config)
            .await
            .context("cannot listen for peers (node.listen_tcp / node.listen_ws)")?;
        let address = node.address();
        if let Some(addr) = listening.tcp {
            listen.push(format!("{address}@{addr}"));
        }
        if let Some(addr) = listening.ws {
            listen.push(format!("{address}@ws://{addr}"));
        }
    }
    let relays = config.relay_urls()?;
    if !relays.is_empty() {
        let address = node.address();
        for url in &relays {
            listen.push(format!("{address}@relay+{url}"));
        }
        net::listen_relays(node, relays, links.clone())
            .map_err(|e| anyhow::anyhow!("cannot register at the relays (node.relays): {e}"))?;
    }
    let mut known = HashMap::new();
    for peer in &config.peers {
        // Checked when the configuration was loaded.
        let peer: PeerAddr = peer
            .parse()
            .map_err(|e| anyhow::anyhow!("node.peers: {peer}: {e}"))?;
        net::dial(node, peer.clone(), links.clone())
            .map_err(|e| anyhow::anyhow!("cannot dial {peer}: {e}"))?;
        tracing::info!(%peer, "keeping peer connected");
        known.insert(peer.address(), peer);
    }
    for addr in &listen {
        tracing::info!(peer_address = %addr, "listening for peers");
    }
    Ok(Arc::new(Networking {
        node: node.clone(),
        identity,
        links,
        listen,
        known: Mutex::new(known),
        linked: Mutex::new(HashMap::new()),
        configured: config
            .peers
            .iter()
            .filter_map(|p| p.parse::<PeerAddr>().ok())
            .map(|p| p.address())
            .collect(),
    }))
}

impl Networking {
    /// Starts a task keeping `peer` connected; `first` learns the outcome of the first
    /// attempt, and if that fails the task ends (a dial the user asked for reports the error
    /// instead of retrying forever).
    fn keep_linked(&self, peer: PeerAddr, first: Option<oneshot::Sender<Result<(), String>>>) {
        let address = peer.address();
        let node = self.node.clone();
        let (link, mut events) = match net::link(&self.node, peer.clone(), self.links.clone()) {
            Ok(link) => link,
            Err(e) => {
                if let Some(first) = first {
                    let _ = first.send(Err(e.to_string()));
                }
                return;
            }
        };
        let task = tokio::spawn(async move {
            let mut first = first;
            let mut link = Some(link);
            while let Some(event) = events.recv().await {
                match event {
                    LinkEvent::Connected(connection) => {
                        tracing::info!(%peer, "connected to peer");
                        node.connect(bridge(connection, Origin::Dialed)).await;
                        if let Some(first) = first.take() {
                            let _ = first.send(Ok(()));
                        }
                    }
                    LinkEvent::Held => {
                        // The node holds the peer's own connection: connected.
                        tracing::info!(%peer, "connected by the peer's dial; not redialing while it lasts");
                        if let Some(first) = first.take() {
                            let _ = first.send(Ok(()));
                        }
                    }
                    LinkEvent::Disconnected(reason) => {
                        tracing::info!(%peer, %reason, "peer disconnected; reconnecting");
                    }
                    LinkEvent::DialFailed {
                        error,
                        attempt,
                        retry_in,
                    } => {
                        if let Some(first) = first.take() {
                            let _ = first.send(Err(error.to_string()));
                            if let Some(link) = link.take() {
                                link.stop().await;
                            }
                            return;
                        }
                        if attempt.is_power_of_two() {
                            tracing::warn!(%peer, %error, attempt, ?retry_in, "cannot reach peer");
                        }
                    }
                    _ => {}
                }
            }
        });
        if let Some(old) = lock(&self.linked).insert(address, task) {
            old.abort();
        }
    }

    /// Connects to `peer` and waits until the node holds the connection.
    async fn reach(&self, peer: PeerAddr) -> Result<Address, DialError> {
        let address = peer.address();
        if address == self.node.address() {
            return Err(DialError::BadAddress(
                "that is this node's own address".into(),
            ));
        }
        if self.node.is_connected(address) {
            return Ok(address);
        }
        if self.configured.contains(&address) {
            let wait = self.links.net.handshake_timeout.saturating_mul(2);
            let connected = tokio::time::timeout(wait, async {
                while !self.node.is_connected(address) {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            })
            .await;
            return match connected {
                Ok(()) => Ok(address),
                Err(_) => Err(DialError::Failed(format!(
                    "{peer}: not connected yet; its configured link keeps trying"
                ))),
            };
        }
        let alive = lock(&self.linked)
            .get(&address)
            .is_some_and(|t| !t.is_finished());
        if alive {
            // A link is backing off: dial once now, beside it.
            let connection = paychan_net::connect_with(&peer, &self.identity, &self.links.net)
                .await
                .map_err(|e| DialError::Failed(format!("{peer}: {e}")))?;
            self.node.connect(bridge(connection, Origin::Dialed)).await;
        } else {
            let (first, outcome) = oneshot::channel();
            self.keep_linked(peer.clone(), Some(first));
            match outcome.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(DialError::Failed(format!("{peer}: {e}"))),
                Err(_) => return Err(DialError::Failed(format!("{peer}: the link stopped"))),
            }
        }
        lock(&self.known).insert(address, peer);
        Ok(address)
    }

    /// Stops the links this module started (the listener and the configured peers' links
    /// stop with the node).
    pub(crate) fn shutdown(&self) {
        for (_, task) in lock(&self.linked).drain() {
            task.abort();
        }
    }
}

#[async_trait]
impl Dialer for Networking {
    async fn dial(&self, peer_url: &str) -> Result<Address, DialError> {
        let peer: PeerAddr = peer_url
            .parse()
            .map_err(|e| DialError::BadAddress(format!("{peer_url:?}: {e}")))?;
        self.reach(peer).await
    }

    async fn dial_known(&self, peer: Address) -> Result<bool, DialError> {
        let known = lock(&self.known).get(&peer).cloned();
        match known {
            Some(addr) => self.reach(addr).await.map(|_| true),
            None => Ok(false),
        }
    }

    fn listen_addresses(&self) -> Vec<String> {
        self.listen.clone()
    }
}
