//! Honest peers: handshake and frames both ways over TCP and WebSocket.

use std::time::Duration;

use paychan_core::wire::MAX_FRAME_LEN;
use paychan_net::{CloseReason, Connection, NetError, TransportKind};

use crate::{fast, identity, listen, pattern, peer_addr};

/// A connected pair over `kind`: (client, server).
pub async fn pair(kind: TransportKind) -> (Connection, Connection) {
    let (server_id, client_id) = (identity(1), identity(2));
    let mut listener = listen(&server_id, fast()).await;
    let peer = peer_addr(&server_id, &listener, kind);
    let (client, server) = tokio::join!(
        crate::dial(&peer, client_id.clone(), fast()),
        listener.accept()
    );
    let (client, server) = (client.unwrap(), server.unwrap());
    assert_eq!(client.peer_address(), server_id.address());
    assert_eq!(server.peer_address(), client_id.address());
    assert_eq!(client.transport(), kind);
    assert_eq!(server.transport(), kind);
    (client, server)
}

async fn frames_both_ways(kind: TransportKind) {
    let (mut client, mut server) = pair(kind).await;
    let sizes = [
        0,
        1,
        65_514, // fills the first Noise message exactly
        65_515, // one byte into a second message
        65 * 1024 + 7,
        300_000,
        MAX_FRAME_LEN,
    ];
    for (i, &size) in sizes.iter().enumerate() {
        let frame = pattern(size, i as u8);
        let (sent, got) = tokio::join!(client.send(&frame), server.recv());
        sent.unwrap();
        assert_eq!(
            got.unwrap().unwrap(),
            frame,
            "client → server, {size} bytes"
        );
        let (sent, got) = tokio::join!(server.send(&frame), client.recv());
        sent.unwrap();
        assert_eq!(
            got.unwrap().unwrap(),
            frame,
            "server → client, {size} bytes"
        );
    }

    // Oversize frames are refused on send, and the connection stays usable.
    let too_big = vec![0u8; MAX_FRAME_LEN + 1];
    assert!(matches!(
        client.send(&too_big).await,
        Err(NetError::FrameTooLarge { len, max }) if len == MAX_FRAME_LEN + 1 && max == MAX_FRAME_LEN
    ));
    client.send(b"still fine").await.unwrap();
    assert_eq!(server.recv().await.unwrap().unwrap(), b"still fine");

    // A graceful close is a clean end for the peer.
    let mut watch = server.close_watch();
    client.close().await;
    assert_eq!(server.recv().await.unwrap(), None);
    assert_eq!(server.recv().await.unwrap(), None);
    assert!(matches!(watch.closed().await, CloseReason::PeerClosed));
}

#[tokio::test]
async fn frames_both_ways_over_tcp() {
    frames_both_ways(TransportKind::Tcp).await;
}

#[tokio::test]
async fn frames_both_ways_over_websocket() {
    frames_both_ways(TransportKind::WebSocket).await;
}

/// Writers cloned into several tasks never interleave their frames.
async fn concurrent_writers(kind: TransportKind) {
    let (client, server) = pair(kind).await;
    let (_client_reader, writer) = client.split();
    let (mut server_reader, _server_writer) = server.split();
    let mut tasks = Vec::new();
    for t in 0..4u8 {
        let writer = writer.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..50usize {
                // Every tenth frame spans two Noise messages, so interleaving would show.
                let len = if n % 10 == 0 {
                    70_000 + n
                } else {
                    1 + (n * 7919) % 5_000
                };
                let frame = pattern(len, t);
                writer.send(&frame).await.unwrap();
            }
        }));
    }
    let mut per_task = [0usize; 4];
    for _ in 0..200 {
        let frame = server_reader.recv().await.unwrap().unwrap();
        let t = (0..4u8)
            .find(|&t| pattern(frame.len(), t) == frame)
            .expect("frame corrupted or interleaved");
        per_task[usize::from(t)] += 1;
    }
    assert_eq!(per_task, [50; 4]);
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_over_tcp() {
    concurrent_writers(TransportKind::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_over_websocket() {
    concurrent_writers(TransportKind::WebSocket).await;
}

#[tokio::test]
async fn dropping_a_connection_ends_it_for_both_sides() {
    let (client, mut server) = pair(TransportKind::Tcp).await;
    let mut watch = client.close_watch();
    drop(client);
    assert!(matches!(watch.closed().await, CloseReason::Local));
    let end = tokio::time::timeout(Duration::from_secs(2), server.recv())
        .await
        .unwrap();
    assert_eq!(end.unwrap(), None);
    assert!(matches!(server.send(b"x").await, Err(NetError::Closed)));
}

#[tokio::test]
async fn wss_uses_rustls_without_a_process_provider() {
    // A TLS client hello sent to a plain WebSocket listener fails cleanly, which shows the
    // rustls configuration (explicit ring provider, bundled roots) builds without panicking.
    let server_id = identity(1);
    let listener = listen(&server_id, fast()).await;
    let peer = format!(
        "{}@wss://{}/",
        server_id.address(),
        listener.ws_addr().unwrap()
    )
    .parse()
    .unwrap();
    let err = crate::dial(&peer, identity(2), fast()).await.unwrap_err();
    assert!(
        matches!(
            err,
            NetError::Io(_) | NetError::Tls(_) | NetError::WebSocket(_)
        ),
        "{err:?}"
    );
}

async fn batches_in_order(kind: TransportKind) {
    let (client, mut server) = pair(kind).await;
    let (_reader, writer) = client.split();
    let sizes = [5, 0, 65_514, 65_515, 300_000, 17, MAX_FRAME_LEN, 1];
    let frames: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| pattern(size, i as u8))
        .collect();
    let receive = async {
        let mut got = vec![];
        for _ in 0..frames.len() {
            got.push(server.recv().await.unwrap().unwrap());
        }
        got
    };
    let (sent, got) = tokio::join!(writer.send_many(&frames), receive);
    sent.unwrap();
    assert_eq!(got, frames);

    // One oversize frame refuses the whole batch before anything is sent; the connection
    // stays usable.
    let refused = [b"not sent".to_vec(), vec![0u8; MAX_FRAME_LEN + 1]];
    assert!(matches!(
        writer.send_many(&refused).await,
        Err(NetError::FrameTooLarge { .. })
    ));
    writer
        .send_many(&[b"still".to_vec(), b"fine".to_vec()])
        .await
        .unwrap();
    assert_eq!(server.recv().await.unwrap().unwrap(), b"still");
    assert_eq!(server.recv().await.unwrap().unwrap(), b"fine");
}

#[tokio::test]
async fn batches_arrive_whole_and_in_order_over_tcp() {
    batches_in_order(TransportKind::Tcp).await;
}

#[tokio::test]
async fn batches_arrive_whole_and_in_order_over_websocket() {
    batches_in_order(TransportKind::WebSocket).await;
}
