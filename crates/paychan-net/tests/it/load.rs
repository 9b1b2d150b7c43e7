//! Many concurrent connections to one listener.

use std::time::Duration;

use paychan_net::{NetConfig, TransportKind, connect_with};

use crate::{identity, listen, pattern, peer_addr};

/// Generous timers: this test is about concurrency, and debug-build crypto is slow.
fn relaxed() -> NetConfig {
    NetConfig::default()
        .with_keepalive(Duration::from_secs(5))
        .with_handshake_timeout(Duration::from_secs(60))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_connections() {
    let server_id = identity(1);
    let mut listener = listen(&server_id, relaxed()).await;
    let tcp = peer_addr(&server_id, &listener, TransportKind::Tcp);
    let ws = peer_addr(&server_id, &listener, TransportKind::WebSocket);

    // An echo server.
    let server = tokio::spawn(async move {
        let mut echoes = Vec::new();
        for _ in 0..50 {
            let mut conn = listener.accept().await.unwrap();
            echoes.push(tokio::spawn(async move {
                let peer = conn.peer_address();
                while let Ok(Some(frame)) = conn.recv().await {
                    conn.send(&frame).await.unwrap();
                }
                peer
            }));
        }
        let mut peers = Vec::new();
        for echo in echoes {
            peers.push(echo.await.unwrap());
        }
        peers
    });

    let mut clients = Vec::new();
    for n in 0..50u8 {
        let peer = if n % 2 == 0 { tcp.clone() } else { ws.clone() };
        clients.push(tokio::spawn(async move {
            let me = identity(10 + n);
            let mut conn = connect_with(&peer, &me, &relaxed()).await.unwrap();
            for round in 0..5u8 {
                let frame = pattern(100 + usize::from(n) * 100, round ^ n);
                conn.send(&frame).await.unwrap();
                assert_eq!(conn.recv().await.unwrap().unwrap(), frame);
            }
            conn.close().await;
            me.address()
        }));
    }
    let mut expected = Vec::new();
    for client in clients {
        expected.push(client.await.unwrap());
    }
    let mut peers = server.await.unwrap();
    peers.sort();
    expected.sort();
    assert_eq!(peers, expected);
}
