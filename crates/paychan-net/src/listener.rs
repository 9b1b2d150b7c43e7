//! Accepting peers: TCP and WebSocket listeners that yield authenticated connections.
//!
//! Every incoming socket gets its own task running the WebSocket upgrade (on the WebSocket
//! listener) and the responder side of the handshake, under
//! [`NetConfig::handshake_timeout`], so a slow or malicious client never holds up the
//! others. At most [`NetConfig::max_pending_handshakes`] run at once per socket; more are
//! dropped unanswered. Failed handshakes are logged at debug level and otherwise ignored.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::{Semaphore, mpsc},
    task::JoinSet,
    time::{sleep, timeout},
};
use tracing::{debug, warn};

use crate::{
    config::NetConfig,
    connection::Connection,
    error::{NetError, TimeoutKind},
    handshake,
    identity::Identity,
    transport::{self, TransportKind},
};

/// How many authenticated connections wait for [`Listener::accept`].
const BACKLOG: usize = 64;
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Where a [`Listener`] listens.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ListenConfig {
    /// Plain TCP socket address, if any.
    pub tcp: Option<SocketAddr>,
    /// WebSocket (`ws://`) socket address, if any; put a TLS-terminating proxy in front for
    /// `wss://`.
    pub ws: Option<SocketAddr>,
    /// Connection settings.
    pub net: NetConfig,
}

impl ListenConfig {
    /// Listens on nothing yet, with default connection settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Listens for TCP peers on `addr` (port 0 picks a free port).
    pub fn with_tcp(mut self, addr: SocketAddr) -> Self {
        self.tcp = Some(addr);
        self
    }

    /// Listens for WebSocket peers on `addr` (port 0 picks a free port).
    pub fn with_ws(mut self, addr: SocketAddr) -> Self {
        self.ws = Some(addr);
        self
    }

    /// Sets the connection settings.
    pub fn with_net(mut self, net: NetConfig) -> Self {
        self.net = net;
        self
    }
}

/// Accepts peers on TCP and/or WebSocket; dropping it stops listening (connections already
/// accepted stay open).
#[derive(Debug)]
pub struct Listener {
    incoming: mpsc::Receiver<Connection>,
    tcp_addr: Option<SocketAddr>,
    ws_addr: Option<SocketAddr>,
    /// The accept loops; dropping the set aborts them and their handshakes.
    tasks: JoinSet<()>,
}

impl Listener {
    /// Binds the configured sockets and starts accepting.
    pub async fn bind(identity: Identity, config: ListenConfig) -> Result<Listener, NetError> {
        let identity = Arc::new(identity);
        let (sender, incoming) = mpsc::channel(BACKLOG);
        let mut tasks = JoinSet::new();
        let mut bound = |socket: TcpListener, kind| -> Result<SocketAddr, NetError> {
            let addr = socket.local_addr()?;
            tasks.spawn(accept_loop(
                socket,
                kind,
                Arc::clone(&identity),
                config.net.clone(),
                sender.clone(),
            ));
            Ok(addr)
        };
        let tcp_addr = match config.tcp {
            Some(addr) => Some(bound(TcpListener::bind(addr).await?, TransportKind::Tcp)?),
            None => None,
        };
        let ws_addr = match config.ws {
            Some(addr) => Some(bound(
                TcpListener::bind(addr).await?,
                TransportKind::WebSocket,
            )?),
            None => None,
        };
        Ok(Listener {
            incoming,
            tcp_addr,
            ws_addr,
            tasks,
        })
    }

    /// The next authenticated connection; `None` only if nothing is being listened on.
    pub async fn accept(&mut self) -> Option<Connection> {
        self.incoming.recv().await
    }

    /// The bound TCP address, if listening on TCP.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp_addr
    }

    /// The bound WebSocket address, if listening on WebSocket.
    pub fn ws_addr(&self) -> Option<SocketAddr> {
        self.ws_addr
    }

    /// Stops listening and returns once the sockets are closed (so the ports can be bound
    /// again). Dropping the listener stops it too, without waiting.
    pub async fn shutdown(mut self) {
        self.tasks.shutdown().await;
    }
}

async fn accept_loop(
    socket: TcpListener,
    kind: TransportKind,
    identity: Arc<Identity>,
    config: NetConfig,
    sender: mpsc::Sender<Connection>,
) {
    let permits = Arc::new(Semaphore::new(config.max_pending_handshakes.max(1)));
    let mut handshakes = JoinSet::new();
    loop {
        tokio::select! {
            accepted = socket.accept() => match accepted {
                Ok((stream, remote)) => {
                    let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                        debug!(%remote, "too many pending handshakes: connection dropped");
                        continue;
                    };
                    let (identity, config, sender) =
                        (Arc::clone(&identity), config.clone(), sender.clone());
                    handshakes.spawn(async move {
                        let accepted = timeout(
                            config.handshake_timeout,
                            respond(stream, kind, &identity, &config),
                        )
                        .await
                        .unwrap_or(Err(NetError::Timeout(TimeoutKind::Handshake)));
                        drop(permit);
                        match accepted {
                            Ok(connection) => {
                                debug!(%remote, peer = %connection.peer_address(), "peer connected");
                                // The listener may be gone; the connection is then dropped.
                                let _ = sender.send(connection).await;
                            }
                            Err(e) => debug!(%remote, error = %e, "incoming handshake failed"),
                        }
                    });
                }
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    sleep(ACCEPT_RETRY).await;
                }
            },
            Some(_) = handshakes.join_next(), if !handshakes.is_empty() => {}
            () = sender.closed() => return,
        }
    }
}

/// Upgrades (on WebSocket) and runs the responder handshake on one incoming socket.
async fn respond(
    stream: TcpStream,
    kind: TransportKind,
    identity: &Identity,
    config: &NetConfig,
) -> Result<Connection, NetError> {
    stream.set_nodelay(true)?;
    let (mut reader, mut writer) = match kind {
        TransportKind::WebSocket | TransportKind::Relay => {
            transport::split_ws(transport::accept_ws(stream).await?)
        }
        TransportKind::Tcp => transport::split_tcp(stream),
    };
    let session = handshake::respond(&mut reader, &mut writer, identity).await?;
    Ok(Connection::new(reader, writer, session, kind, config))
}
