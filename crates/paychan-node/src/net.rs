//! Real transports for the node: `paychan-net` connections (Noise over TCP or WebSocket,
//! bound to the peer's address) turned into [`PeerConnection`]s.
//!
//! [`listen`] accepts peers; [`dial`] keeps a connection to one peer alive, reconnecting with
//! backoff. Every (re)connection goes through [`Node::connect`], which runs the counter sync
//! of every channel with that peer.

use std::net::SocketAddr;

use paychan_core::keccak256;
use paychan_net::{
    Connection, Identity, LinkConfig, LinkEvent, ListenConfig, Listener, NetError, PeerAddr,
    PeerLink,
};
use tokio::sync::mpsc;

use crate::{node::Node, peer::PeerConnection};

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
/// sends whatever is queued in one write. Both end with the connection.
pub fn bridge(connection: Connection) -> PeerConnection {
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
            accepting.connect(bridge(connection)).await;
        }
        listener.shutdown().await;
    }));
    Ok(listening)
}

/// Keeps a connection to `peer` alive (reconnecting with backoff) until the node shuts
/// down. Returns once the task is started; the first connection follows.
pub fn dial(node: &Node, peer: PeerAddr, config: LinkConfig) -> Result<(), NetError> {
    let (link, mut events) = PeerLink::spawn(peer.clone(), identity(node)?, config);
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
                    dialing.connect(bridge(connection)).await;
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
