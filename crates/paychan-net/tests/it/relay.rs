//! Peers that meet through a `paychan relay`: the Noise session runs end to end over it, the
//! relay sees only ciphertext, a dial to nobody is refused with the relay's reason, and a
//! registered node registers again when the relay comes back.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{SinkExt, StreamExt};
use paychan_core::{
    B256, ChannelId,
    wire::{self, Message as PeerMessage, Reply},
};
use paychan_net::{
    Endpoint, LinkConfig, NetError, PeerAddr, RelayListener, TransportKind, WsUrl, connect_with,
};
use paychan_relay::{
    Relay, RelayConfig,
    proto::{RelayMessage, address_param, answer_challenge},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    time::timeout,
};
use tokio_tungstenite::tungstenite::Message;

use crate::{LOCAL, fast, identity, key};

const WAIT: Duration = Duration::from_secs(30);
/// The plaintext of the payment exchanged; it must never be visible on the relay's side.
const MARKER: &[u8] = b"PAY 1234 wei: plaintext-that-the-relay-must-never-see";

/// A TCP forwarder to `target` recording every byte `target` sends back (the relay's
/// output, which WebSocket does not mask): what the relay could read, it would forward as is.
async fn tap(target: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind(LOCAL).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(target).await else {
                continue;
            };
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let up = tokio::io::copy(&mut client_read, &mut server_write);
                let down = async {
                    let mut buf = vec![0u8; 16 * 1024];
                    while let Ok(n) = server_read.read(&mut buf).await {
                        // Recorded before it is passed on, so the client's receipt implies it.
                        record.lock().unwrap().extend_from_slice(&buf[..n]);
                        if n == 0 || client_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = client_write.shutdown().await;
                };
                let _ = tokio::join!(up, down);
            });
        }
    });
    (addr, seen)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn relay_url(addr: SocketAddr) -> WsUrl {
    match format!("relay+ws://{addr}/").parse::<Endpoint>().unwrap() {
        Endpoint::Relay(url) => url,
        other => panic!("expected a relay endpoint, got {other}"),
    }
}

fn links() -> LinkConfig {
    LinkConfig::default()
        .with_net(fast())
        .with_backoff(Duration::from_millis(10), Duration::from_millis(200))
}

#[tokio::test]
async fn peers_meet_through_a_relay_that_sees_only_ciphertext() {
    let relay = Relay::bind(LOCAL.parse().unwrap(), RelayConfig::default())
        .await
        .unwrap();
    let (dialer_side, to_dialer) = tap(relay.local_addr()).await;
    let (party_side, to_party) = tap(relay.local_addr()).await;
    let (server, client) = (identity(1), identity(2));
    let mut listener = RelayListener::spawn(server.clone(), vec![relay_url(party_side)], links());
    listener.registered().wait_for(|n| *n == 1).await.unwrap();
    assert!(relay.is_registered(server.address()));

    let peer: PeerAddr = format!("{}@relay+ws://{dialer_side}/", server.address())
        .parse()
        .unwrap();
    let mut dialed = connect_with(&peer, &client, &fast()).await.unwrap();
    let mut accepted = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
    assert_eq!(accepted.peer_address(), client.address());
    assert_eq!(dialed.peer_address(), server.address());
    assert_eq!(dialed.transport(), TransportKind::Relay);
    assert_eq!(accepted.transport(), TransportKind::Relay);

    let channel_id = ChannelId(B256::repeat_byte(7));
    let request = wire::encode(&PeerMessage::Request {
        request_id: 1,
        channel_id,
        body: MARKER.to_vec(),
    })
    .unwrap();
    let response = wire::encode(&PeerMessage::Response {
        request_id: 1,
        reply: Reply::Ok(MARKER.to_vec()),
    })
    .unwrap();
    dialed.send(&request).await.unwrap();
    assert_eq!(accepted.recv().await.unwrap().unwrap(), request);
    accepted.send(&response).await.unwrap();
    assert_eq!(dialed.recv().await.unwrap().unwrap(), response);
    assert!(contains(&request, MARKER) && contains(&response, MARKER));
    let seen = (
        to_dialer.lock().unwrap().clone(),
        to_party.lock().unwrap().clone(),
    );
    assert!(seen.0.len() > MARKER.len() && seen.1.len() > MARKER.len());
    assert!(
        !contains(&seen.0, MARKER),
        "plaintext relayed to the dialer"
    );
    assert!(!contains(&seen.1, MARKER), "plaintext relayed to the party");

    // The control: the same relay and taps do show a message that is not encrypted.
    let party_key = key(3);
    let (mut control, _) = tokio_tungstenite::connect_async(format!("ws://{party_side}/?register"))
        .await
        .unwrap();
    let Some(Ok(Message::Text(challenge))) = control.next().await else {
        panic!("expected a challenge")
    };
    let challenge = RelayMessage::from_json(&challenge).unwrap();
    let answer = answer_challenge(&challenge, "127.0.0.1", &party_key).unwrap();
    control.send(Message::text(answer.to_json())).await.unwrap();
    let registered = control.next().await;
    assert!(
        matches!(&registered, Some(Ok(Message::Text(t))) if t.contains("registered")),
        "{registered:?}"
    );
    let (mut raw_dialer, _) = tokio_tungstenite::connect_async(format!(
        "ws://{dialer_side}/?to={}",
        address_param(party_key.address())
    ))
    .await
    .unwrap();
    let incoming = loop {
        match control.next().await {
            Some(Ok(Message::Ping(_))) => {}
            other => break other,
        }
    };
    let Some(Ok(Message::Text(incoming))) = incoming else {
        panic!("expected incoming, got {incoming:?}")
    };
    let RelayMessage::Incoming { ticket } = RelayMessage::from_json(&incoming).unwrap() else {
        panic!("expected incoming")
    };
    let (mut raw_party, _) =
        tokio_tungstenite::connect_async(format!("ws://{party_side}/?ticket={ticket}"))
            .await
            .unwrap();
    raw_dialer
        .send(Message::binary(MARKER.to_vec()))
        .await
        .unwrap();
    let relayed = raw_party.next().await;
    assert!(
        matches!(&relayed, Some(Ok(Message::Binary(b))) if b.as_ref() == MARKER),
        "{relayed:?}"
    );
    assert!(contains(&to_party.lock().unwrap(), MARKER));
}

#[tokio::test]
async fn a_dial_to_an_unregistered_address_gets_the_relays_reason() {
    let relay = Relay::bind(LOCAL.parse().unwrap(), RelayConfig::default())
        .await
        .unwrap();
    let peer: PeerAddr = format!(
        "{}@relay+ws://{}/",
        identity(1).address(),
        relay.local_addr()
    )
    .parse()
    .unwrap();
    match connect_with(&peer, &identity(2), &fast()).await {
        Err(NetError::Refused { code, reason }) => {
            assert_eq!(code, paychan_relay::proto::CLOSE_NOT_REGISTERED);
            assert!(reason.contains("no party is registered"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_registered_node_registers_again_when_the_relay_comes_back() {
    let relay = Relay::bind(LOCAL.parse().unwrap(), RelayConfig::default())
        .await
        .unwrap();
    let addr = relay.local_addr();
    let (server, client) = (identity(1), identity(2));
    let listener = RelayListener::spawn(server.clone(), vec![relay_url(addr)], links());
    let mut registered = listener.registered();
    registered.wait_for(|n| *n == 1).await.unwrap();
    let peer: PeerAddr = format!("{}@relay+ws://{addr}/", server.address())
        .parse()
        .unwrap();
    let mut listener = listener;
    let mut dialed = connect_with(&peer, &client, &fast()).await.unwrap();
    let mut accepted = listener.accept().await.unwrap();
    dialed.send(b"before").await.unwrap();
    assert_eq!(accepted.recv().await.unwrap().unwrap(), b"before");

    // The relay dies: the pipe and the registration go with it.
    drop(relay);
    assert!(timeout(WAIT, dialed.recv()).await.unwrap().is_err_or_none());
    registered.wait_for(|n| *n == 0).await.unwrap();
    let relay = loop {
        match Relay::bind(addr, RelayConfig::default()).await {
            Ok(relay) => break relay,
            Err(_) => tokio::task::yield_now().await,
        }
    };
    timeout(WAIT, registered.wait_for(|n| *n == 1))
        .await
        .unwrap()
        .unwrap();
    assert!(relay.is_registered(server.address()));
    let mut dialed = connect_with(&peer, &client, &fast()).await.unwrap();
    let accepted = listener.accept().await.unwrap();
    accepted.send(b"after").await.unwrap();
    assert_eq!(dialed.recv().await.unwrap().unwrap(), b"after");
}

trait ErrOrNone {
    fn is_err_or_none(&self) -> bool;
}

impl<T, E> ErrOrNone for Result<Option<T>, E> {
    fn is_err_or_none(&self) -> bool {
        !matches!(self, Ok(Some(_)))
    }
}
