//! Being reachable through relays: a [`RelayListener`] keeps a registered control connection
//! to each configured `paychan relay` and yields the authenticated connections of the peers
//! that dial this node there (docs/PROTOCOL.md, "Relay").
//!
//! For each relay a task connects to `URL?register`, answers the challenge with this node's
//! key ([`paychan_relay::proto::answer_challenge`]), then waits for `incoming` tickets; for
//! each it opens a data WebSocket to `URL?ticket=TICKET` and runs the responder side of the
//! Noise handshake over it, as a listener does for a direct socket. When the control
//! connection ends (relay restarted, network gone, replaced) the task registers again after
//! a [`Backoff`] delay. Dialing a peer through a relay needs nothing of this: see
//! [`Endpoint::Relay`](crate::Endpoint::Relay).

use std::{sync::Arc, time::Duration};

use futures::{SinkExt, StreamExt};
use paychan_core::keccak256;
use paychan_relay::proto::{
    MAX_CONTROL_MESSAGE, RelayMessage, answer_challenge, parse_hex, ticket_param,
};
use tokio::{
    sync::{mpsc, watch},
    task::JoinSet,
    time::{Instant, sleep, timeout},
};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    addr::WsUrl,
    connection::Connection,
    error::{NetError, TimeoutKind},
    handshake,
    identity::Identity,
    link::{Backoff, LinkConfig},
    transport::{self, TransportKind, WsStream},
};

/// How many authenticated connections wait for [`RelayListener::accept`].
const BACKLOG: usize = 64;
/// The most handshakes of dialers run at once per relay (the relay limits pending dials too).
const MAX_ACCEPTS: usize = 64;

/// Keeps this node registered at relays and accepts the peers that dial it there. Dropping
/// it unregisters (connections already accepted stay open).
#[derive(Debug)]
pub struct RelayListener {
    incoming: mpsc::Receiver<Connection>,
    registered: watch::Receiver<usize>,
    tasks: JoinSet<()>,
}

impl RelayListener {
    /// Starts registering at each of `relays` (their `ws://` or `wss://` URLs, a query such
    /// as `?token=TOKEN` included), reconnecting with the backoff of `config`.
    pub fn spawn(identity: Identity, relays: Vec<WsUrl>, config: LinkConfig) -> RelayListener {
        let identity = Arc::new(identity);
        let (sender, incoming) = mpsc::channel(BACKLOG);
        let (count, registered) = watch::channel(0usize);
        let count = Arc::new(count);
        let mut tasks = JoinSet::new();
        for url in relays {
            tasks.spawn(keep_registered(
                url,
                Arc::clone(&identity),
                config.clone(),
                sender.clone(),
                Arc::clone(&count),
            ));
        }
        RelayListener {
            incoming,
            registered,
            tasks,
        }
    }

    /// The next authenticated connection; `None` only if no relay is configured.
    pub async fn accept(&mut self) -> Option<Connection> {
        self.incoming.recv().await
    }

    /// How many relays this node is registered at now (changes as they come and go).
    pub fn registered(&self) -> watch::Receiver<usize> {
        self.registered.clone()
    }

    /// Unregisters and returns once every task has ended.
    pub async fn shutdown(mut self) {
        self.tasks.shutdown().await;
    }
}

/// Registers at `url` again and again, until the listener is dropped.
async fn keep_registered(
    url: WsUrl,
    identity: Arc<Identity>,
    config: LinkConfig,
    sender: mpsc::Sender<Connection>,
    count: Arc<watch::Sender<usize>>,
) {
    let mixed = keccak256([identity.address().as_slice(), url.to_string().as_bytes()].concat());
    let seed = mixed
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_be_bytes);
    let mut backoff = Backoff::new(
        config.initial_backoff,
        config.max_backoff,
        config.jitter_seed ^ seed,
    );
    let mut accepts = JoinSet::new();
    loop {
        let started = Instant::now();
        let ended = session(&url, &identity, &config, &sender, &count, &mut accepts).await;
        let delay = backoff.next_delay();
        match ended {
            Ok(()) => return,
            Err(e) => {
                tracing::info!(relay = %url, error = %e, retry_in = ?delay, "relay connection ended")
            }
        }
        if started.elapsed() >= config.stable_after {
            backoff.reset();
        }
        let wake = sleep(delay);
        tokio::pin!(wake);
        loop {
            tokio::select! {
                () = &mut wake => break,
                () = sender.closed() => return,
                Some(_) = accepts.join_next(), if !accepts.is_empty() => {}
            }
        }
    }
}

/// One control connection: register, then accept dialers until it ends. `Ok` when the
/// listener is gone.
async fn session(
    url: &WsUrl,
    identity: &Arc<Identity>,
    config: &LinkConfig,
    sender: &mpsc::Sender<Connection>,
    count: &watch::Sender<usize>,
    accepts: &mut JoinSet<()>,
) -> Result<(), NetError> {
    let net = &config.net;
    let mut ws = timeout(net.handshake_timeout, register(url, identity))
        .await
        .map_err(|_| NetError::Timeout(TimeoutKind::Handshake))??;
    tracing::info!(relay = %url, address = %identity.address(), "registered at relay");
    count.send_modify(|n| *n = n.saturating_add(1));
    let result = loop {
        let message = tokio::select! {
            message = timeout(net.idle_timeout(), ws.next()) => message,
            () = sender.closed() => break Ok(()),
            Some(_) = accepts.join_next(), if !accepts.is_empty() => continue,
        };
        let text = match message {
            Err(_) => break Err(NetError::Timeout(TimeoutKind::Idle)),
            Ok(Some(Ok(Message::Text(text)))) if text.len() <= MAX_CONTROL_MESSAGE => text,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(Message::Close(frame)))) => break Err(closed(frame)),
            Ok(None) => break Err(NetError::Closed),
            Ok(Some(Err(e))) => break Err(e.into()),
            Ok(Some(Ok(_))) => break Err(protocol("unexpected message from the relay")),
        };
        let ticket = match RelayMessage::from_json(&text) {
            Ok(RelayMessage::Incoming { ticket }) => parse_hex::<32>(&ticket),
            _ => None,
        };
        let Some(ticket) = ticket else {
            break Err(protocol("malformed incoming message from the relay"));
        };
        if accepts.len() >= MAX_ACCEPTS {
            tracing::warn!(relay = %url, "too many dialers handshaking: one ignored");
            continue;
        }
        let (url, identity, net, sender) = (
            url.with_query("ticket", &ticket_param(&ticket)),
            Arc::clone(identity),
            net.clone(),
            sender.clone(),
        );
        accepts.spawn(async move {
            let accepted = timeout(net.handshake_timeout, async {
                let (mut reader, mut writer) = transport::split_ws(transport::dial_ws(&url).await?);
                let session = handshake::respond(&mut reader, &mut writer, &identity).await?;
                Ok::<_, NetError>(Connection::new(
                    reader,
                    writer,
                    session,
                    TransportKind::Relay,
                    &net,
                ))
            })
            .await
            .unwrap_or(Err(NetError::Timeout(TimeoutKind::Handshake)));
            match accepted {
                Ok(connection) => {
                    tracing::debug!(peer = %connection.peer_address(), "peer connected through relay");
                    let _ = sender.send(connection).await;
                }
                Err(e) => tracing::debug!(error = %e, "handshake through relay failed"),
            }
        });
    };
    count.send_modify(|n| *n = n.saturating_sub(1));
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
    result
}

/// Connects to `url?register` and registers; the control connection once registered.
async fn register(url: &WsUrl, identity: &Identity) -> Result<WsStream, NetError> {
    let mut ws = transport::dial_ws(&url.with_query("register", "")).await?;
    let challenge = next_message(&mut ws).await?;
    let answer = answer_challenge(&challenge, url.host(), identity.signing_key())
        .map_err(|e| protocol(&e.to_string()))?;
    ws.send(Message::text(answer.to_json())).await?;
    match next_message(&mut ws).await? {
        RelayMessage::Registered { .. } => Ok(ws),
        _ => Err(protocol("expected `registered` from the relay")),
    }
}

/// The next control message of the relay.
async fn next_message(ws: &mut WsStream) -> Result<RelayMessage, NetError> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.len() <= MAX_CONTROL_MESSAGE => {
                return RelayMessage::from_json(&text).map_err(|e| protocol(&e.to_string()));
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(Message::Close(frame))) => return Err(closed(frame)),
            None => return Err(NetError::Closed),
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(_)) => return Err(protocol("unexpected message from the relay")),
        }
    }
}

fn closed(frame: Option<tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> NetError {
    match frame {
        Some(frame) => NetError::Refused {
            code: frame.code.into(),
            reason: frame.reason.as_str().to_owned(),
        },
        None => NetError::Closed,
    }
}

fn protocol(what: &str) -> NetError {
    NetError::Protocol(format!("relay: {what}"))
}
