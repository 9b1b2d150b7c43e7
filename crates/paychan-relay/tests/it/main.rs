//! The relay over real sockets: registration (signed, forged, replaced), dials, tickets,
//! the access token and every limit, each seen from a WebSocket client as a browser would
//! see it (close codes and reasons).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use paychan_core::SigningKey;
use paychan_relay::{
    Relay, RelayConfig,
    proto::{
        CLOSE_BAD_REQUEST, CLOSE_BAD_TICKET, CLOSE_FORGED, CLOSE_FULL, CLOSE_NOT_REGISTERED,
        CLOSE_RATE, CLOSE_REPLACED, CLOSE_TIMEOUT, CLOSE_TOO_BIG, CLOSE_UNAUTHORIZED, PartyMessage,
        RelayMessage, address_param, answer_challenge, append_query, parse_hex, registration_hash,
    },
};
use tokio::{net::TcpStream, time::timeout};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Anything a test waits for must happen well within this.
const WAIT: Duration = Duration::from_secs(20);

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes([n; 32]).unwrap()
}

async fn start(config: RelayConfig) -> (Relay, String) {
    let relay = Relay::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let url = format!("ws://{}/", relay.local_addr());
    (relay, url)
}

async fn connect(url: &str) -> Client {
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The next text message, as a relay message.
async fn next_message(ws: &mut Client) -> RelayMessage {
    loop {
        match timeout(WAIT, ws.next()).await.unwrap() {
            Some(Ok(Message::Text(text))) => return RelayMessage::from_json(&text).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Reads until the relay closes; its close code and reason.
async fn closed(ws: &mut Client) -> (u16, String) {
    loop {
        match timeout(WAIT, ws.next()).await.expect("closed in time") {
            Some(Ok(Message::Close(Some(frame)))) => {
                return (u16::from(frame.code), frame.reason.as_str().to_owned());
            }
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// A registered control connection of `key`.
async fn register(url: &str, key: &SigningKey) -> Client {
    let mut ws = connect(&append_query(url, "register", "")).await;
    let challenge = next_message(&mut ws).await;
    let answer = answer_challenge(&challenge, "127.0.0.1", key).unwrap();
    ws.send(Message::text(answer.to_json())).await.unwrap();
    assert_eq!(
        next_message(&mut ws).await,
        RelayMessage::Registered {
            address: address_param(key.address())
        }
    );
    ws
}

/// Dials `key`'s address and accepts as the party: the two ends of a pipe.
async fn piped(url: &str, control: &mut Client, key: &SigningKey) -> (Client, Client) {
    let dialer = connect(&append_query(url, "to", &address_param(key.address()))).await;
    let RelayMessage::Incoming { ticket } = next_message(control).await else {
        panic!("expected incoming")
    };
    let party = connect(&append_query(url, "ticket", &ticket)).await;
    (dialer, party)
}

async fn next_binary(ws: &mut Client) -> Vec<u8> {
    loop {
        match timeout(WAIT, ws.next()).await.unwrap() {
            Some(Ok(Message::Binary(bytes))) => return bytes.to_vec(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a binary message, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_dialer_reaches_a_registered_party_and_bytes_flow_both_ways() {
    let (relay, url) = start(RelayConfig::default()).await;
    let party_key = key(1);
    let mut control = register(&url, &party_key).await;
    assert!(relay.is_registered(party_key.address()));
    let (mut dialer, mut party) = piped(&url, &mut control, &party_key).await;
    dialer.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(next_binary(&mut party).await, vec![1, 2, 3]);
    party.send(Message::binary(vec![4; 65_535])).await.unwrap();
    assert_eq!(next_binary(&mut dialer).await, vec![4; 65_535]);
    // The party leaves: the dialer is told.
    party.close(None).await.unwrap();
    assert_eq!(closed(&mut dialer).await.0, 1000);
}

#[tokio::test]
async fn a_forged_registration_is_refused() {
    let (relay, url) = start(RelayConfig::default()).await;
    let (victim, forger) = (key(1), key(2));

    // Signed by another key than the address claimed.
    let mut ws = connect(&format!("{url}?register")).await;
    let challenge = next_message(&mut ws).await;
    let PartyMessage::Register { signature, .. } =
        answer_challenge(&challenge, "127.0.0.1", &forger).unwrap();
    let claim = PartyMessage::Register {
        address: address_param(victim.address()),
        signature,
    };
    ws.send(Message::text(claim.to_json())).await.unwrap();
    let (code, reason) = closed(&mut ws).await;
    assert_eq!(code, CLOSE_FORGED, "{reason}");
    assert!(reason.contains("does not prove"), "{reason}");

    // Signed by the right key, but over another challenge (a replay).
    let mut ws = connect(&format!("{url}?register")).await;
    let _ = next_message(&mut ws).await;
    let stale = victim.sign_hash(&registration_hash("127.0.0.1", &[9; 32]));
    let replay = PartyMessage::Register {
        address: address_param(victim.address()),
        signature: format!("0x{}", hex(stale.as_bytes())),
    };
    ws.send(Message::text(replay.to_json())).await.unwrap();
    assert_eq!(closed(&mut ws).await.0, CLOSE_FORGED);

    // Signed for another relay's name.
    let mut ws = connect(&format!("{url}?register")).await;
    let RelayMessage::Challenge { challenge, .. } = next_message(&mut ws).await else {
        panic!("expected a challenge")
    };
    let other_relay = victim.sign_hash(&registration_hash(
        "evil.example",
        &parse_hex(&challenge).unwrap(),
    ));
    let answer = PartyMessage::Register {
        address: address_param(victim.address()),
        signature: format!("0x{}", hex(other_relay.as_bytes())),
    };
    ws.send(Message::text(answer.to_json())).await.unwrap();
    assert_eq!(closed(&mut ws).await.0, CLOSE_FORGED);

    // Malformed.
    for garbage in [
        "{\"type\":\"register\"}",
        "hello",
        "{\"type\":\"incoming\",\"ticket\":\"00\"}",
    ] {
        let mut ws = connect(&format!("{url}?register")).await;
        let _ = next_message(&mut ws).await;
        ws.send(Message::text(garbage)).await.unwrap();
        assert_eq!(closed(&mut ws).await.0, CLOSE_BAD_REQUEST, "{garbage}");
    }
    let mut ws = connect(&format!("{url}?register")).await;
    let _ = next_message(&mut ws).await;
    ws.send(Message::binary(vec![0; 10])).await.unwrap();
    assert_eq!(closed(&mut ws).await.0, CLOSE_BAD_REQUEST);
    assert!(!relay.is_registered(victim.address()));

    // None of them displaced a genuine registration either.
    let mut genuine = register(&url, &victim).await;
    let mut ws = connect(&format!("{url}?register")).await;
    let _ = next_message(&mut ws).await;
    ws.send(Message::text(claim.to_json())).await.unwrap();
    assert_eq!(closed(&mut ws).await.0, CLOSE_FORGED);
    let (mut dialer, mut party) = piped(&url, &mut genuine, &victim).await;
    dialer.send(Message::binary(vec![7])).await.unwrap();
    assert_eq!(next_binary(&mut party).await, vec![7]);

    // A newer genuine registration replaces the old one (a reconnect).
    let mut newer = register(&url, &victim).await;
    assert_eq!(closed(&mut genuine).await.0, CLOSE_REPLACED);
    let (mut dialer, mut party) = piped(&url, &mut newer, &victim).await;
    party.send(Message::binary(vec![8])).await.unwrap();
    assert_eq!(next_binary(&mut dialer).await, vec![8]);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn registration_must_come_in_time() {
    let mut config = RelayConfig::default();
    config.register_timeout = Duration::from_millis(300);
    let (_relay, url) = start(config).await;
    let mut ws = connect(&format!("{url}?register")).await;
    let _ = next_message(&mut ws).await;
    let (code, reason) = closed(&mut ws).await;
    assert_eq!(code, CLOSE_TIMEOUT, "{reason}");
}

#[tokio::test]
async fn dials_and_tickets_are_refused_clearly() {
    let mut config = RelayConfig::default();
    config.accept_timeout = Duration::from_millis(300);
    let (_relay, url) = start(config).await;
    let nobody = key(5).address();
    let mut ws = connect(&format!("{url}?to={}", address_param(nobody))).await;
    let (code, reason) = closed(&mut ws).await;
    assert_eq!(code, CLOSE_NOT_REGISTERED);
    assert!(reason.contains(&nobody.to_string()), "{reason}");

    // No role, or a malformed one.
    for query in [
        "",
        "?to=0x12",
        "?ticket=zz",
        "?register&to=0x0000000000000000000000000000000000000001",
    ] {
        let mut ws = connect(&format!("{url}{query}")).await;
        assert_eq!(closed(&mut ws).await.0, CLOSE_BAD_REQUEST, "{query}");
    }
    // Another path is not the relay.
    assert!(
        tokio_tungstenite::connect_async(format!("{url}elsewhere?register"))
            .await
            .is_err()
    );

    // A ticket works once; a party that does not accept lets the dial time out.
    let party_key = key(1);
    let mut control = register(&url, &party_key).await;
    let mut dialer = connect(&format!("{url}?to={}", address_param(party_key.address()))).await;
    let RelayMessage::Incoming { ticket } = next_message(&mut control).await else {
        panic!("expected incoming")
    };
    let (code, reason) = closed(&mut dialer).await;
    assert_eq!(code, CLOSE_TIMEOUT, "{reason}");
    let mut late = connect(&format!("{url}?ticket={ticket}")).await;
    assert_eq!(closed(&mut late).await.0, CLOSE_BAD_TICKET);
    let (_dialer, _party) = piped(&url, &mut control, &party_key).await;
    let mut forged = connect(&format!("{url}?ticket={}", "00".repeat(32))).await;
    assert_eq!(closed(&mut forged).await.0, CLOSE_BAD_TICKET);
}

#[tokio::test]
async fn the_access_token_is_required_on_every_connection() {
    let mut config = RelayConfig::default();
    config.token = Some("s3cret".to_owned());
    let (_relay, url) = start(config).await;
    let party_key = key(1);
    for query in ["?register", "?register&token=wrong", "?register&token="] {
        let mut ws = connect(&format!("{url}{query}")).await;
        let (code, reason) = closed(&mut ws).await;
        assert_eq!(code, CLOSE_UNAUTHORIZED, "{query}: {reason}");
    }
    let mut ws = connect(&format!("{url}?to={}", address_param(party_key.address()))).await;
    assert_eq!(closed(&mut ws).await.0, CLOSE_UNAUTHORIZED);
    let authed = format!("{url}?token=s3cret");
    let mut control = register(&authed, &party_key).await;
    let (mut dialer, mut party) = piped(&authed, &mut control, &party_key).await;
    dialer.send(Message::binary(vec![1])).await.unwrap();
    assert_eq!(next_binary(&mut party).await, vec![1]);
}

#[tokio::test]
async fn a_flood_is_cut_off() {
    let mut config = RelayConfig::default();
    config.rate_bytes_per_sec = 50_000;
    config.max_frame_bytes = 10_000;
    let (_relay, url) = start(config).await;
    let party_key = key(1);
    let mut control = register(&url, &party_key).await;

    // Beyond the rate: 200 KB at once where 100 KB (two seconds' worth) is all the burst.
    let (mut dialer, mut party) = piped(&url, &mut control, &party_key).await;
    for _ in 0..40 {
        if dialer.send(Message::binary(vec![0; 5_000])).await.is_err() {
            break;
        }
    }
    let mut received = 0usize;
    let (code, reason) = loop {
        match timeout(WAIT, party.next()).await.unwrap() {
            Some(Ok(Message::Binary(bytes))) => received += bytes.len(),
            Some(Ok(Message::Close(Some(frame)))) => {
                break (u16::from(frame.code), frame.reason.as_str().to_owned());
            }
            Some(Ok(_)) => {}
            other => panic!("expected the flood to be cut, got {other:?}"),
        }
    };
    assert_eq!(code, CLOSE_RATE, "{reason}");
    assert!(reason.contains("bytes per second"), "{reason}");
    assert!(
        (95_000..=100_000).contains(&received),
        "{received} bytes relayed before the cut"
    );

    // Beyond the frame size.
    let (mut dialer, mut party) = piped(&url, &mut control, &party_key).await;
    dialer.send(Message::binary(vec![0; 10_000])).await.unwrap();
    assert_eq!(next_binary(&mut party).await.len(), 10_000);
    dialer.send(Message::binary(vec![0; 10_001])).await.unwrap();
    let (code, reason) = closed(&mut party).await;
    assert_eq!(code, CLOSE_TOO_BIG, "{reason}");
    assert_eq!(closed(&mut dialer).await.0, CLOSE_TOO_BIG);

    // Text is not relayed.
    let (mut dialer, mut party) = piped(&url, &mut control, &party_key).await;
    dialer.send(Message::text("hi")).await.unwrap();
    assert_eq!(closed(&mut party).await.0, CLOSE_BAD_REQUEST);
}

#[tokio::test]
async fn a_silent_pipe_is_closed() {
    let mut config = RelayConfig::default();
    config.idle = Duration::from_millis(300);
    let (_relay, url) = start(config).await;
    let party_key = key(1);
    let mut control = register(&url, &party_key).await;
    let (mut dialer, mut party) = piped(&url, &mut control, &party_key).await;
    dialer.send(Message::binary(vec![1])).await.unwrap();
    assert_eq!(next_binary(&mut party).await, vec![1]);
    let (code, reason) = closed(&mut dialer).await;
    assert_eq!(code, CLOSE_TIMEOUT, "{reason}");
}

#[tokio::test]
async fn a_party_that_stops_answering_pings_is_unregistered() {
    let mut config = RelayConfig::default();
    config.ping_interval = Duration::from_millis(50);
    config.idle = Duration::from_millis(300);
    let (relay, url) = start(config).await;
    let party_key = key(1);
    // A client answers pings only while it reads: this one stops reading once registered.
    let mut control = register(&url, &party_key).await;
    let start = tokio::time::Instant::now();
    while relay.is_registered(party_key.address()) {
        assert!(start.elapsed() < WAIT, "still registered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (code, reason) = closed(&mut control).await;
    assert_eq!(code, CLOSE_TIMEOUT, "{reason}");
    // One that keeps reading stays registered over many idle periods.
    let mut control = register(&url, &party_key).await;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1_500);
    while tokio::time::Instant::now() < deadline {
        match timeout(Duration::from_millis(100), control.next()).await {
            Err(_) | Ok(Some(Ok(Message::Ping(_)))) => {}
            other => panic!("the relay ended a live control connection: {other:?}"),
        }
    }
    assert!(relay.is_registered(party_key.address()));
}

#[tokio::test]
async fn connection_limits_hold() {
    let mut config = RelayConfig::default();
    config.max_connections = 3;
    config.max_pending_dials = 1;
    let (relay, url) = start(config).await;
    let party_key = key(1);
    let mut control = register(&url, &party_key).await;
    // One dial pending at most per party.
    let _first = connect(&format!("{url}?to={}", address_param(party_key.address()))).await;
    let _ = next_message(&mut control).await;
    let mut second = connect(&format!("{url}?to={}", address_param(party_key.address()))).await;
    let (code, reason) = closed(&mut second).await;
    assert_eq!(code, CLOSE_RATE, "{reason}");
    // Two connections are open (the control and the pending dial); the third fits, the
    // fourth is refused.
    let _third = connect(&format!("{url}?register")).await;
    let mut fourth = connect(&format!("{url}?register")).await;
    let (code, reason) = closed(&mut fourth).await;
    assert_eq!(code, CLOSE_FULL, "{reason}");
    assert_eq!(relay.connections(), 3);

    let mut config = RelayConfig::default();
    config.max_per_ip = 2;
    let (relay2, url) = start(config).await;
    let _a = connect(&format!("{url}?register")).await;
    let _b = connect(&format!("{url}?register")).await;
    let mut c = connect(&format!("{url}?register")).await;
    let (code, reason) = closed(&mut c).await;
    assert_eq!(code, CLOSE_FULL);
    assert!(reason.contains("127.0.0.1"), "{reason}");
    // A connection that ends frees its place.
    drop(_a);
    let mut freed = None;
    for _ in 0..200 {
        if relay2.connections() < 2 {
            freed = Some(connect(&format!("{url}?register")).await);
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut freed = freed.expect("the place was given back");
    assert!(matches!(
        next_message(&mut freed).await,
        RelayMessage::Challenge { .. }
    ));
}

#[tokio::test]
async fn a_shutdown_tells_everyone_and_frees_the_port() {
    let (relay, url) = start(RelayConfig::default()).await;
    let addr = relay.local_addr();
    let party_key = key(1);
    let mut control = register(&url, &party_key).await;
    let (mut dialer, _party) = piped(&url, &mut control, &party_key).await;
    relay.shutdown().await;
    assert_eq!(closed(&mut control).await.0, 1001);
    assert_eq!(closed(&mut dialer).await.0, 1001);
    let again = Relay::bind(addr, RelayConfig::default()).await.unwrap();
    let mut control = register(&url, &party_key).await;
    assert!(again.is_registered(party_key.address()));
    control.close(None).await.unwrap();
}
