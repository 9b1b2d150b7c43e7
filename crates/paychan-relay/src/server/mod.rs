//! The relay: accepts WebSockets, admits them within the connection limits, and hands each
//! to its role ([`session`]): a party's control connection, a dialer, or a party's data
//! connection, which [`pipe`] joins to its dialer.
//!
//! Every refusal is logged (at info level, with the client's address) and told to the
//! client in a WebSocket close frame (code and reason, see [`crate::proto`]).

mod pipe;
mod session;

use std::{
    collections::HashMap,
    io,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use paychan_core::Address;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{Semaphore, mpsc, oneshot},
    task::JoinSet,
    time::{sleep, timeout},
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        Message,
        protocol::{CloseFrame, WebSocketConfig, frame::coding::CloseCode},
    },
};
use tracing::{info, warn};

use crate::proto::{CLOSE_FULL, TICKET_LEN};

/// A WebSocket accepted by the relay.
pub(crate) type Ws = WebSocketStream<TcpStream>;

/// How many refusals of a full relay run at once (each answers the upgrade to send its
/// close reason); connections beyond that are dropped unanswered.
const MAX_REFUSALS: usize = 32;
/// Pause after a failed `accept` (e.g. out of file descriptors).
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// How long a closing connection may take to answer the close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Settings of a relay. The defaults suit a public relay; tests shrink them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayConfig {
    /// The URL path served (others get HTTP 404). Default `/`.
    pub path: String,
    /// If set, every connection must carry `token=TOKEN` in its query.
    pub token: Option<String>,
    /// The host name parties sign for; default: the `Host` header of each control
    /// connection (set it behind a proxy that rewrites `Host`).
    pub public_host: Option<String>,
    /// The most connections at once. Default 10,000.
    pub max_connections: usize,
    /// The most connections at once from one IP address (0: no limit; behind a reverse
    /// proxy every client has the proxy's address). Default 64.
    pub max_per_ip: usize,
    /// The largest WebSocket message, in bytes. Default 65,535 (one Noise message).
    pub max_frame_bytes: usize,
    /// Bytes per second one connection may send, averaged over two seconds; above it the
    /// connection is closed. Default 4 MiB/s.
    pub rate_bytes_per_sec: u64,
    /// Messages per second one connection may send, averaged over two seconds. Default
    /// 20,000/s.
    pub rate_frames_per_sec: u64,
    /// A connection on which nothing arrives for this long is closed. Default 60 s.
    pub idle: Duration,
    /// The relay pings control connections this often (answered by any WebSocket client,
    /// browsers included). Default 20 s.
    pub ping_interval: Duration,
    /// Limit for the WebSocket upgrade plus registration. Default 10 s.
    pub register_timeout: Duration,
    /// How long a dialer waits for the party's data connection. Default 10 s.
    pub accept_timeout: Duration,
    /// The most dials waiting for one party's data connection. Default 16.
    pub max_pending_dials: usize,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            path: "/".to_owned(),
            token: None,
            public_host: None,
            max_connections: 10_000,
            max_per_ip: 64,
            max_frame_bytes: 65_535,
            rate_bytes_per_sec: 4 << 20,
            rate_frames_per_sec: 20_000,
            idle: Duration::from_secs(60),
            ping_interval: Duration::from_secs(20),
            register_timeout: Duration::from_secs(10),
            accept_timeout: Duration::from_secs(10),
            max_pending_dials: 16,
        }
    }
}

impl RelayConfig {
    /// The WebSocket limits of every connection.
    fn ws_config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(16 * 1024)
            .max_message_size(Some(self.max_frame_bytes))
            .max_frame_size(Some(self.max_frame_bytes))
    }
}

/// A running relay. Dropping it stops it at once (connections are cut without a close
/// frame, as if the process died); [`Relay::shutdown`] closes them with "going away" first.
#[derive(Debug)]
pub struct Relay {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
    stop: Option<oneshot::Sender<()>>,
}

impl Relay {
    /// Binds `addr` (port 0 picks a free port) and starts relaying.
    pub async fn bind(addr: SocketAddr, config: RelayConfig) -> io::Result<Relay> {
        let socket = TcpListener::bind(addr).await?;
        let addr = socket.local_addr()?;
        let shared = Arc::new(Shared {
            config,
            registry: Mutex::new(Registry::default()),
            counts: Mutex::new(Counts::default()),
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(socket, Arc::clone(&shared), stopped));
        Ok(Relay {
            addr,
            shared,
            task: Some(task),
            stop: Some(stop),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether a party is registered under `address`.
    pub fn is_registered(&self, address: Address) -> bool {
        lock(&self.shared.registry).parties.contains_key(&address)
    }

    /// How many connections are open (admitted, of any role).
    pub fn connections(&self) -> usize {
        lock(&self.shared.counts).total
    }

    /// Stops accepting, closes every connection with "going away", and returns once the
    /// port is free.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // The task never panics; an error here is a cancellation.
            let _ = task.await;
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// State shared by the connections of one relay.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: RelayConfig,
    pub(crate) registry: Mutex<Registry>,
    counts: Mutex<Counts>,
}

/// The registered parties and the dials waiting for their data connections.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    pub(crate) parties: HashMap<Address, Party>,
    pub(crate) tickets: HashMap<[u8; TICKET_LEN], Pending>,
    next_id: u64,
}

impl Registry {
    /// A fresh id for a control connection.
    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }
}

/// A registered party: its control connection's queue of tickets to announce.
#[derive(Debug)]
pub(crate) struct Party {
    /// Which control connection registered it (a newer one replaces it).
    pub(crate) id: u64,
    pub(crate) control: mpsc::Sender<[u8; TICKET_LEN]>,
    /// Dials announced and not yet accepted or expired.
    pub(crate) pending: usize,
}

/// A dial waiting for the data connection that presents its ticket.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) deliver: oneshot::Sender<Admitted>,
}

/// A connection within the limits: its socket and its place in the counts.
#[derive(Debug)]
pub(crate) struct Admitted {
    pub(crate) ws: Ws,
    pub(crate) _guard: CountGuard,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// A connection's place in the counts, given back when dropped.
#[derive(Debug)]
pub(crate) struct CountGuard {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for CountGuard {
    fn drop(&mut self) {
        let mut counts = lock(&self.shared.counts);
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
}

/// Counts a new connection from `ip`, or says which limit it exceeds.
fn admit(shared: &Arc<Shared>, ip: IpAddr) -> Result<CountGuard, String> {
    let config = &shared.config;
    let mut counts = lock(&shared.counts);
    if counts.total >= config.max_connections {
        return Err(format!(
            "relay full: {} connections open",
            config.max_connections
        ));
    }
    let from_ip = counts.per_ip.get(&ip).copied().unwrap_or(0);
    if config.max_per_ip != 0 && from_ip >= config.max_per_ip {
        return Err(format!(
            "too many connections from {ip}: {} open",
            config.max_per_ip
        ));
    }
    counts.total = counts.total.saturating_add(1);
    counts.per_ip.insert(ip, from_ip.saturating_add(1));
    Ok(CountGuard {
        shared: Arc::clone(shared),
        ip,
    })
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section is a few inserts and removes: a panic elsewhere cannot leave
    // the maps inconsistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn accept_loop(socket: TcpListener, shared: Arc<Shared>, mut stopped: oneshot::Receiver<()>) {
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let mut tasks = JoinSet::new();
    let (going_away, _) = tokio::sync::broadcast::channel::<()>(1);
    loop {
        tokio::select! {
            accepted = socket.accept() => match accepted {
                Ok((stream, remote)) => {
                    let _ = stream.set_nodelay(true);
                    match admit(&shared, remote.ip()) {
                        Ok(guard) => {
                            let shared = Arc::clone(&shared);
                            let stop = going_away.subscribe();
                            tasks.spawn(session::serve(shared, stream, remote, guard, stop));
                        }
                        Err(reason) => {
                            info!(%remote, %reason, "connection refused");
                            if let Ok(permit) = Arc::clone(&refusals).try_acquire_owned() {
                                let config = shared.config.ws_config();
                                let wait = shared.config.register_timeout;
                                tasks.spawn(async move {
                                    refuse(stream, config, wait, &reason).await;
                                    drop(permit);
                                });
                            }
                        }
                    }
                }
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    sleep(ACCEPT_RETRY).await;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = &mut stopped => break,
        }
    }
    drop(socket);
    // Tell every connection, then wait for their close handshakes (bounded by the grace).
    let _ = going_away.send(());
    let _ = timeout(CLOSE_GRACE.saturating_mul(2), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.shutdown().await;
}

/// Answers the upgrade of a connection beyond the limits, only to close it with the reason.
async fn refuse(stream: TcpStream, config: WebSocketConfig, wait: Duration, reason: &str) {
    let upgrade = tokio_tungstenite::accept_async_with_config(stream, Some(config));
    if let Ok(Ok(mut ws)) = timeout(wait, upgrade).await {
        close(&mut ws, CLOSE_FULL, reason).await;
    }
}

/// Sends a close frame and waits (briefly) for the client's answer, so the reason arrives.
pub(crate) async fn close(ws: &mut Ws, code: u16, reason: &str) {
    use futures::{SinkExt, StreamExt};
    let frame = close_frame(code, reason);
    let _ = timeout(CLOSE_GRACE, async {
        if ws.send(Message::Close(Some(frame))).await.is_ok() {
            while let Some(Ok(_)) = ws.next().await {}
        }
    })
    .await;
}

/// A close frame; the reason is cut to the 123 bytes a close frame can carry.
pub(crate) fn close_frame(code: u16, reason: &str) -> CloseFrame {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    CloseFrame {
        code: CloseCode::from(code),
        reason: reason.get(..end).unwrap_or_default().into(),
    }
}

/// 32 bytes from the OS random source.
pub(crate) fn random32() -> Option<[u8; 32]> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(bytes)
}
