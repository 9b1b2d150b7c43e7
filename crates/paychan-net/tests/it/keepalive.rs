//! Keep-alive and the idle timeout.

use std::time::{Duration, Instant};

use paychan_net::{CloseReason, NetError, TimeoutKind, TransportKind, encode_binding};
use tokio::net::TcpStream;

use crate::{identity, key, listen, mallory, noise_secret, peer_addr};

const KEEPALIVE: Duration = Duration::from_millis(100);

fn net() -> paychan_net::NetConfig {
    crate::fast().with_keepalive(KEEPALIVE)
}

#[tokio::test]
async fn idle_honest_peers_stay_connected_and_never_see_keepalives() {
    for kind in [TransportKind::Tcp, TransportKind::WebSocket] {
        let server_id = identity(1);
        let mut listener = listen(&server_id, net()).await;
        let peer = peer_addr(&server_id, &listener, kind);
        let (client, server) =
            tokio::join!(crate::dial(&peer, identity(2), net()), listener.accept());
        let (mut client, mut server) = (client.unwrap(), server.unwrap());
        // Ten keep-alive periods of silence from the application on both sides.
        let idle = KEEPALIVE * 10;
        let (c, s) = tokio::join!(
            tokio::time::timeout(idle, client.recv()),
            tokio::time::timeout(idle, server.recv())
        );
        assert!(
            c.is_err() && s.is_err(),
            "recv returned during idle: {c:?} {s:?}"
        );
        // Still connected both ways.
        client.send(b"ping").await.unwrap();
        assert_eq!(server.recv().await.unwrap().unwrap(), b"ping");
        server.send(b"pong").await.unwrap();
        assert_eq!(client.recv().await.unwrap().unwrap(), b"pong");
    }
}

#[tokio::test]
async fn a_silent_peer_is_detected_within_three_keepalives() {
    let mut listener = listen(&identity(1), net()).await;
    let me = paychan_net::Identity::new(key(66), noise_secret(66)).unwrap();
    let payload = encode_binding(&key(66), me.noise_public_key());
    let mut s = TcpStream::connect(listener.tcp_addr().unwrap())
        .await
        .unwrap();
    // Mallory completes the handshake, then neither reads nor sends.
    let (_transport, _) = mallory::initiate(&mut s, &noise_secret(66), &payload)
        .await
        .unwrap();
    let mut server = listener.accept().await.unwrap();
    let mut watch = server.close_watch();
    let started = Instant::now();
    let err = server.recv().await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, NetError::Timeout(TimeoutKind::Idle)),
        "{err:?}"
    );
    assert!(took >= KEEPALIVE * 2, "detected too early: {took:?}");
    assert!(
        took < KEEPALIVE * 3 + Duration::from_secs(1),
        "detected too late: {took:?}"
    );
    assert!(matches!(
        watch.closed().await,
        CloseReason::Failed(NetError::Timeout(TimeoutKind::Idle))
    ));
    // Sending on it now fails.
    assert!(matches!(server.send(b"x").await, Err(NetError::Closed)));
    drop(s);
}

#[tokio::test]
async fn keepalives_flow_while_the_application_only_receives() {
    // The server never sends application data; the client's idle timer must still be fed
    // by the server's keep-alives.
    let server_id = identity(1);
    let mut listener = listen(&server_id, net()).await;
    let peer = peer_addr(&server_id, &listener, TransportKind::Tcp);
    let (client, server) = tokio::join!(crate::dial(&peer, identity(2), net()), listener.accept());
    let (mut client, server) = (client.unwrap(), server.unwrap());
    let r = tokio::time::timeout(KEEPALIVE * 8, client.recv()).await;
    assert!(r.is_err(), "{r:?}");
    drop(server);
    let end = tokio::time::timeout(Duration::from_secs(2), client.recv())
        .await
        .unwrap();
    assert_eq!(end.unwrap(), None);
}
