//! One connection to the relay, from its upgrade to its end: the query decides its role.
//!
//! - control (`?register`): challenge, signed registration, then `incoming` tickets, pings
//!   and the idle check, until the party leaves or a newer registration replaces it;
//! - dial (`?to=ADDRESS`): announce a ticket to the party, wait for its data connection,
//!   then pipe the two;
//! - accept (`?ticket=TICKET`): hand the socket to the dial waiting for that ticket.

use std::{net::SocketAddr, sync::Arc};

use futures::{SinkExt, StreamExt};
use paychan_core::Address;
use tokio::{
    net::TcpStream,
    sync::{broadcast, mpsc, oneshot},
    time::{Instant, interval_at, timeout},
};
use tokio_tungstenite::tungstenite::{
    Message,
    handshake::server::{ErrorResponse, Request, Response},
    http::StatusCode,
};
use tracing::{debug, info};

use super::{Admitted, CountGuard, Party, Pending, Shared, Ws, close, lock, pipe, random32};
use crate::proto::{
    CLOSE_BAD_REQUEST, CLOSE_BAD_TICKET, CLOSE_FORGED, CLOSE_GOING_AWAY, CLOSE_NOT_REGISTERED,
    CLOSE_RATE, CLOSE_REPLACED, CLOSE_TIMEOUT, CLOSE_UNAUTHORIZED, MAX_CONTROL_MESSAGE,
    PartyMessage, ProtoError, RelayMessage, Role, TICKET_LEN, address_param, challenge_message,
    normalize_host, parse_query, ticket_param, verify_registration,
};

/// What the upgrade request said.
#[derive(Default)]
struct Requested {
    query: String,
    host: String,
}

/// Serves one admitted connection until it ends.
pub(super) async fn serve(
    shared: Arc<Shared>,
    stream: TcpStream,
    remote: SocketAddr,
    guard: CountGuard,
    stop: broadcast::Receiver<()>,
) {
    let config = &shared.config;
    let mut requested = Requested::default();
    let path = config.path.clone();
    // The error type is tungstenite's.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| {
        if request.uri().path() != path {
            let mut refusal =
                ErrorResponse::new(Some(format!("no relay at {}", request.uri().path())));
            *refusal.status_mut() = StatusCode::NOT_FOUND;
            return Err(refusal);
        }
        requested.query = request.uri().query().unwrap_or_default().to_owned();
        requested.host = request
            .headers()
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok(response)
    };
    let upgrade =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config.ws_config()));
    let mut ws = match timeout(config.register_timeout, upgrade).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => return info!(%remote, error = %e, "refused: WebSocket upgrade failed"),
        Err(_) => return info!(%remote, "refused: WebSocket upgrade timed out"),
    };
    let query = match parse_query(&requested.query) {
        Ok(query) => query,
        Err(e) => return refuse(&mut ws, remote, CLOSE_BAD_REQUEST, &e.to_string()).await,
    };
    if let Some(expected) = &config.token
        && query.token.as_deref() != Some(expected.as_str())
    {
        let reason = if query.token.is_some() {
            "wrong access token"
        } else {
            "this relay requires token=TOKEN in the query"
        };
        return refuse(&mut ws, remote, CLOSE_UNAUTHORIZED, reason).await;
    }
    let admitted = Admitted { ws, _guard: guard };
    match query.role {
        Role::Register => {
            let host = config
                .public_host
                .clone()
                .unwrap_or_else(|| normalize_host(&requested.host));
            control(&shared, admitted.ws, remote, &host, stop).await;
        }
        Role::Dial(address) => dial(&shared, admitted, remote, address, stop).await,
        Role::Accept(ticket) => accept(&shared, admitted, remote, ticket).await,
    }
}

/// Logs a refusal and closes the connection with its reason.
async fn refuse(ws: &mut Ws, remote: SocketAddr, code: u16, reason: &str) {
    info!(%remote, code, reason, "refused");
    close(ws, code, reason).await;
}

/// A party's control connection.
async fn control(
    shared: &Arc<Shared>,
    mut ws: Ws,
    remote: SocketAddr,
    host: &str,
    mut stop: broadcast::Receiver<()>,
) {
    let config = &shared.config;
    let Some(challenge) = random32() else {
        return refuse(&mut ws, remote, 1011, "no randomness").await;
    };
    let sent = ws
        .send(Message::text(challenge_message(host, &challenge).to_json()))
        .await;
    if sent.is_err() {
        return;
    }
    let answer = match timeout(config.register_timeout, next_text(&mut ws)).await {
        Err(_) => {
            let reason = format!("no registration within {:?}", config.register_timeout);
            return refuse(&mut ws, remote, CLOSE_TIMEOUT, &reason).await;
        }
        Ok(Err(reason)) => return refuse(&mut ws, remote, CLOSE_BAD_REQUEST, &reason).await,
        Ok(Ok(None)) => return,
        Ok(Ok(Some(text))) => text,
    };
    let address = match PartyMessage::from_json(&answer)
        .and_then(|m| verify_registration(&m, host, &challenge))
    {
        Ok(address) => address,
        Err(e @ ProtoError::Forged(_)) => {
            return refuse(&mut ws, remote, CLOSE_FORGED, &e.to_string()).await;
        }
        Err(e) => return refuse(&mut ws, remote, CLOSE_BAD_REQUEST, &e.to_string()).await,
    };
    let (tickets, mut announce) = mpsc::channel(config.max_pending_dials.max(1));
    let id = {
        let mut registry = lock(&shared.registry);
        let id = registry.next_id();
        let party = Party {
            id,
            control: tickets,
            pending: 0,
        };
        if registry.parties.insert(address, party).is_some() {
            info!(%address, %remote, "registration replaced by a newer one");
        }
        id
    };
    info!(%address, %remote, "party registered");
    let registered = RelayMessage::Registered {
        address: address_param(address),
    };
    let ending = if ws.send(Message::text(registered.to_json())).await.is_ok() {
        control_loop(shared, &mut ws, &mut announce, &mut stop).await
    } else {
        None
    };
    {
        let mut registry = lock(&shared.registry);
        if registry.parties.get(&address).is_some_and(|p| p.id == id) {
            registry.parties.remove(&address);
        }
    }
    info!(%address, %remote, reason = ending.as_ref().map_or("left", |e| e.1.as_str()), "party unregistered");
    if let Some((code, reason)) = ending {
        close(&mut ws, code, &reason).await;
    }
}

/// Announces tickets and pings until the control connection ends; the close to send, if
/// the relay ends it.
async fn control_loop(
    shared: &Shared,
    ws: &mut Ws,
    announce: &mut mpsc::Receiver<[u8; TICKET_LEN]>,
    stop: &mut broadcast::Receiver<()>,
) -> Option<(u16, String)> {
    let config = &shared.config;
    let mut pings = interval_at(
        Instant::now()
            .checked_add(config.ping_interval)
            .unwrap_or_else(Instant::now),
        config.ping_interval,
    );
    let mut heard = Instant::now();
    let mut rate = pipe::Rate::new(config);
    loop {
        tokio::select! {
            ticket = announce.recv() => {
                let Some(ticket) = ticket else {
                    return Some((CLOSE_REPLACED, "replaced by a newer registration".to_owned()));
                };
                let incoming = RelayMessage::Incoming { ticket: ticket_param(&ticket) };
                if ws.send(Message::text(incoming.to_json())).await.is_err() {
                    return None;
                }
            }
            message = ws.next() => match message {
                Some(Ok(m @ (Message::Ping(_) | Message::Pong(_)))) => {
                    heard = Instant::now();
                    if let Err(reason) = rate.take(m.len()) {
                        return Some((CLOSE_RATE, reason));
                    }
                }
                Some(Ok(Message::Close(_))) | None => return None,
                Some(Ok(_)) => {
                    return Some((CLOSE_BAD_REQUEST, "no message expected after registration".to_owned()));
                }
                Some(Err(e)) => {
                    debug!(error = %e, "control connection failed");
                    return None;
                }
            },
            _ = pings.tick() => {
                if heard.elapsed() >= config.idle {
                    return Some((CLOSE_TIMEOUT, format!("nothing heard for {:?}", config.idle)));
                }
                if ws.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return None;
                }
            }
            _ = stop.recv() => return Some((CLOSE_GOING_AWAY, "relay shutting down".to_owned())),
        }
    }
}

/// The next text message (pings skipped), `None` at the end, or why the message is refused.
async fn next_text(ws: &mut Ws) -> Result<Option<String>, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.len() <= MAX_CONTROL_MESSAGE => {
                return Ok(Some(text.as_str().to_owned()));
            }
            Some(Ok(Message::Text(_))) => return Err("control message too long".to_owned()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(None),
            Some(Ok(_)) => return Err("expected a text message".to_owned()),
        }
    }
}

/// A dialer: announce it to the party, wait for the party's data connection, pipe them.
async fn dial(
    shared: &Arc<Shared>,
    mut dialer: Admitted,
    remote: SocketAddr,
    address: Address,
    mut stop: broadcast::Receiver<()>,
) {
    let config = &shared.config;
    let Some(ticket) = random32() else {
        return refuse(&mut dialer.ws, remote, 1011, "no randomness").await;
    };
    let (deliver, delivered) = oneshot::channel();
    let announced = {
        let mut registry = lock(&shared.registry);
        let announced = match registry.parties.get_mut(&address) {
            None => Err((
                CLOSE_NOT_REGISTERED,
                format!("no party is registered as {address} at this relay"),
            )),
            Some(party) if party.pending >= config.max_pending_dials => Err((
                CLOSE_RATE,
                format!("{address} has {} dials pending", party.pending),
            )),
            Some(party) => match party.control.try_send(ticket) {
                Ok(()) => {
                    party.pending = party.pending.saturating_add(1);
                    Ok(party.id)
                }
                Err(_) => Err((CLOSE_RATE, format!("{address} is not taking dials"))),
            },
        };
        if announced.is_ok() {
            registry.tickets.insert(ticket, Pending { deliver });
        }
        announced
    };
    let party_id = match announced {
        Ok(id) => id,
        Err((code, reason)) => return refuse(&mut dialer.ws, remote, code, &reason).await,
    };
    debug!(%address, %remote, "dial announced");
    let accepted = tokio::select! {
        accepted = timeout(config.accept_timeout, delivered) => accepted.ok().and_then(Result::ok),
        _ = stop.recv() => None,
    };
    {
        let mut registry = lock(&shared.registry);
        registry.tickets.remove(&ticket);
        if let Some(party) = registry.parties.get_mut(&address)
            && party.id == party_id
        {
            party.pending = party.pending.saturating_sub(1);
        }
    }
    let Some(party) = accepted else {
        let reason = format!(
            "{address} did not accept within {:?}",
            config.accept_timeout
        );
        return refuse(&mut dialer.ws, remote, CLOSE_TIMEOUT, &reason).await;
    };
    info!(%address, %remote, "piping");
    let (code, reason) = pipe::pipe(config, dialer.ws, party.ws, stop).await;
    info!(%address, %remote, code, %reason, "pipe ended");
}

/// A party's data connection: hand it to the dial its ticket names.
async fn accept(shared: &Shared, party: Admitted, remote: SocketAddr, ticket: [u8; TICKET_LEN]) {
    let pending = lock(&shared.registry).tickets.remove(&ticket);
    let refused = match pending {
        Some(pending) => match pending.deliver.send(party) {
            Ok(()) => return,
            Err(party) => party,
        },
        None => party,
    };
    let mut ws = refused.ws;
    refuse(
        &mut ws,
        remote,
        CLOSE_BAD_TICKET,
        "unknown, used or expired ticket",
    )
    .await;
}
