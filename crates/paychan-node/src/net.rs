//! Real transports for the node: `paychan-net` connections (Noise over TCP or WebSocket,
//! bound to the peer's address) turned into [`PeerConnection`]s.
//!
//! [`listen`] accepts peers; [`listen_relays`] keeps the node registered at `paychan relay`s
//! and accepts the peers that dial it there (a node without an open port); [`dial`] keeps a connection to one peer alive, reconnecting with
//! backoff ([`link`] is the same link for a caller that handles its events itself). Every
//! (re)connection goes through [`Node::connect`], which keeps one connection per peer (the
//! one dialed by the lower address when both dial) and runs the counter sync of every
//! channel with that peer. A link waits, instead of redialing, while the node holds the
//! peer's own connection that wins over ours ([`Node::dial_hold`]).

use std::net::SocketAddr;

use paychan_core::keccak256;
use paychan_net::{
    Connection, Identity, LinkConfig, LinkEvent, ListenConfig, Listener, NetError, PeerAddr,
    PeerLink, RelayListener, WsUrl,
};
use tokio::sync::{mpsc, watch};

use crate::{
    node::Node,
    peer::{Origin, PeerConnection},
};

/// Frames buffered per direction between the socket and the node.
const BUFFER: usize = 256;
/// The most queued frames written to the socket together.
const WRITE_BATCH: usize = 64;

/// The node's transport identity: its key, and a Noise static key derived from it (the
/// Noise key needs no stability of its own, the binding signature proves the address).
pub fn identity(node: &Node) -> Result<Identity, NetError> {
    let key = node.signing_key().clone();
    let noise = keccak256([b"paychan-noise-static-v1".as_slice(), &key.to_bytes()].concat());
    Identity::new(key, noise.0)
}

/// Turns an authenticated connection into the node's view of it: incoming frames come
/// straight from the connection's read task; outgoing ones go through a writer task that
/// sends whatever is queued in one write. Both end with the connection. `origin` says
/// whether this node dialed it or accepted it.
pub fn bridge(connection: Connection, origin: Origin) -> PeerConnection {
    let peer = connection.peer_address();
    let (reader, writer) = connection.split();
    let mut closed = reader.close_watch();
    let incoming = reader.into_frames();
    let (outgoing, mut to_socket) = mpsc::channel::<Vec<u8>>(BUFFER);
    tokio::spawn(async move {
        // Whatever is queued when the socket is free goes out in one write.
        let mut batch = Vec::with_capacity(WRITE_BATCH);
        while to_socket.recv_many(&mut batch, WRITE_BATCH).await > 0 {
            if let Err(e) = writer.send_many(&batch).await {
                tracing::debug!(%peer, error = %e, "connection closed while sending");
                break;
            }
            batch.clear();
        }
    });
    tokio::spawn(async move {
        let reason = closed.closed().await;
        tracing::info!(%peer, ?reason, "connection ended");
    });
    PeerConnection {
        peer,
        origin,
        outgoing,
        incoming,
    }
}

/// Where a listening node can be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listening {
    /// The TCP address, if listening on TCP.
    pub tcp: Option<SocketAddr>,
    /// The WebSocket address, if listening on WebSocket.
    pub ws: Option<SocketAddr>,
}

/// Accepts peers on the configured sockets until the node shuts down.
pub async fn listen(node: &Node, config: ListenConfig) -> Result<Listening, NetError> {
    let mut listener = Listener::bind(identity(node)?, config).await?;
    let listening = Listening {
        tcp: listener.tcp_addr(),
        ws: listener.ws_addr(),
    };
    let accepting = node.clone();
    let mut shutdown = node.shutdown_signal();
    node.track(tokio::spawn(async move {
        loop {
            let connection = tokio::select! {
                c = listener.accept() => c,
                _ = shutdown.changed() => None,
            };
            let Some(connection) = connection else { break };
            tracing::info!(peer = %connection.peer_address(), "peer connected");
            accepting
                .connect(bridge(connection, Origin::Accepted))
                .await;
        }
        listener.shutdown().await;
    }));
    Ok(listening)
}

/// Keeps the node registered at each of `relays` (their `ws://` or `wss://` URLs) and
/// accepts the peers that dial it there, as `ADDRESS@relay+wss://...`, until the node shuts
/// down; a relay that goes away is registered at again with the backoff of `config`.
/// Returns how many relays the node is registered at, as it changes.
pub fn listen_relays(
    node: &Node,
    relays: Vec<WsUrl>,
    config: LinkConfig,
) -> Result<watch::Receiver<usize>, NetError> {
    let mut listener = RelayListener::spawn(identity(node)?, relays, config);
    let registered = listener.registered();
    let accepting = node.clone();
    let mut shutdown = node.shutdown_signal();
    node.track(tokio::spawn(async move {
        loop {
            let connection = tokio::select! {
                c = listener.accept() => c,
                _ = shutdown.changed() => None,
            };
            let Some(connection) = connection else { break };
            tracing::info!(peer = %connection.peer_address(), "peer connected through a relay");
            accepting
                .connect(bridge(connection, Origin::Accepted))
                .await;
        }
        listener.shutdown().await;
    }));
    Ok(registered)
}

/// A [`PeerLink`] to `peer` held while the node holds the peer's own connection that wins
/// the tie-break ([`Node::dial_hold`]). Hand each connection it reports to
/// [`Node::connect`] through [`bridge`] with [`Origin::Dialed`].
pub fn link(
    node: &Node,
    peer: PeerAddr,
    config: LinkConfig,
) -> Result<(PeerLink, mpsc::Receiver<LinkEvent>), NetError> {
    let hold = node.dial_hold(peer.address());
    Ok(PeerLink::spawn_with_hold(
        peer,
        identity(node)?,
        config,
        hold,
    ))
}

/// Keeps a connection to `peer` alive (reconnecting with backoff) until the node shuts
/// down. Returns once the task is started; the first connection follows.
pub fn dial(node: &Node, peer: PeerAddr, config: LinkConfig) -> Result<(), NetError> {
    let (link, mut events) = link(node, peer.clone(), config)?;
    let dialing = node.clone();
    let mut shutdown = node.shutdown_signal();
    node.track(tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                e = events.recv() => e,
                _ = shutdown.changed() => None,
            };
            match event {
                Some(LinkEvent::Connected(connection)) => {
                    tracing::info!(%peer, "connected");
                    dialing.connect(bridge(connection, Origin::Dialed)).await;
                }
                Some(LinkEvent::Held) => {
                    tracing::info!(%peer, "connected by the peer's dial; not redialing while it lasts");
                }
                Some(LinkEvent::Disconnected(reason)) => {
                    tracing::info!(%peer, ?reason, "disconnected; will reconnect");
                }
                Some(other) => tracing::debug!(%peer, event = ?other, "peer link"),
                None => break,
            }
        }
        link.stop().await;
    }));
    Ok(())
}
