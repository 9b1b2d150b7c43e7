//! PeerLink: reconnecting with backoff.

use std::time::Duration;

use paychan_net::{LinkConfig, LinkEvent, ListenConfig, Listener, PeerLink, TransportKind};
use tokio::{sync::mpsc, time::timeout};

use crate::{fast, identity, peer_addr};

const WAIT: Duration = Duration::from_secs(10);

async fn next(events: &mut mpsc::Receiver<LinkEvent>) -> LinkEvent {
    timeout(WAIT, events.recv())
        .await
        .expect("no link event")
        .expect("link ended")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_the_listener_restarts_on_the_same_port() {
    let (server_id, client_id) = (identity(1), identity(2));
    let config = ListenConfig::new()
        .with_tcp(crate::LOCAL.parse().unwrap())
        .with_net(fast());
    let mut listener = Listener::bind(server_id.clone(), config).await.unwrap();
    let port_addr = listener.tcp_addr().unwrap();
    let peer = peer_addr(&server_id, &listener, TransportKind::Tcp);

    let link_config = LinkConfig::default()
        .with_net(fast())
        .with_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .with_jitter_seed(7);
    let (link, mut events) = PeerLink::spawn(peer, client_id.clone(), link_config);

    // First connection.
    let LinkEvent::Connected(first) = next(&mut events).await else {
        panic!("expected Connected")
    };
    assert_eq!(first.peer_address(), server_id.address());
    let server = listener.accept().await.unwrap();
    assert_eq!(server.peer_address(), client_id.address());
    // The node keeps reading from its connection.
    let reader = tokio::spawn(async move {
        let mut first = first;
        while let Ok(Some(_)) = first.recv().await {}
    });

    // The server goes away.
    listener.shutdown().await;
    server.close().await;
    let LinkEvent::Disconnected(reason) = next(&mut events).await else {
        panic!("expected Disconnected")
    };
    assert!(
        matches!(reason, paychan_net::CloseReason::PeerClosed),
        "{reason:?}"
    );
    reader.await.unwrap();

    // Redials fail while nobody listens, with growing delays.
    let mut delays = Vec::new();
    while delays.len() < 3 {
        match next(&mut events).await {
            LinkEvent::DialFailed {
                attempt, retry_in, ..
            } => {
                assert_eq!(attempt as usize, delays.len() + 1);
                delays.push(retry_in);
            }
            other => panic!("expected DialFailed, got {other:?}"),
        }
    }
    assert!(
        delays.iter().all(|d| *d <= Duration::from_millis(200)),
        "{delays:?}"
    );

    // The server comes back on the same port.
    let config = ListenConfig::new().with_tcp(port_addr).with_net(fast());
    let mut listener = Listener::bind(server_id.clone(), config).await.unwrap();
    let second = loop {
        match next(&mut events).await {
            LinkEvent::Connected(connection) => break connection,
            LinkEvent::DialFailed { .. } => {}
            other => panic!("expected Connected, got {other:?}"),
        }
    };
    let mut server = listener.accept().await.unwrap();
    second.send(b"resync").await.unwrap();
    assert_eq!(server.recv().await.unwrap().unwrap(), b"resync");

    // Stopping is clean: the task ends, so the event channel closes.
    timeout(WAIT, link.stop()).await.unwrap();
    assert!(timeout(WAIT, events.recv()).await.unwrap().is_none());
    // The connection handed over stays usable.
    server.send(b"still here").await.unwrap();
}

#[tokio::test]
async fn dropping_the_link_ends_its_task() {
    // Nobody listens: the link keeps failing until it is dropped.
    let server_id = identity(1);
    let socket = std::net::TcpListener::bind(crate::LOCAL).unwrap();
    let addr = socket.local_addr().unwrap();
    drop(socket);
    let peer = format!("{}@{addr}", server_id.address()).parse().unwrap();
    let config = LinkConfig::default()
        .with_net(fast())
        .with_backoff(Duration::from_millis(10), Duration::from_millis(50));
    let (link, mut events) = PeerLink::spawn(peer, identity(2), config);
    assert!(matches!(
        next(&mut events).await,
        LinkEvent::DialFailed { .. }
    ));
    drop(link);
    // Remaining buffered events drain, then the channel closes because the task is gone.
    while let Some(event) = timeout(WAIT, events.recv()).await.unwrap() {
        assert!(matches!(event, LinkEvent::DialFailed { .. }));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_link_does_not_dial_until_the_hold_is_released() {
    let (server_id, client_id) = (identity(1), identity(2));
    let config = ListenConfig::new()
        .with_tcp(crate::LOCAL.parse().unwrap())
        .with_net(fast());
    let mut listener = Listener::bind(server_id.clone(), config).await.unwrap();
    let peer = peer_addr(&server_id, &listener, TransportKind::Tcp);
    let link_config = LinkConfig::default()
        .with_net(fast())
        .with_backoff(Duration::from_millis(10), Duration::from_millis(50));
    let (hold, held) = tokio::sync::watch::channel(true);
    let (link, mut events) = PeerLink::spawn_with_hold(peer, client_id, link_config, held);

    // Held from the start: it says so and does not dial.
    assert!(matches!(next(&mut events).await, LinkEvent::Held));
    crate::assert_no_connection(&mut listener, Duration::from_millis(300)).await;
    assert!(events.try_recv().is_err(), "no further event while held");

    // Released: it dials.
    hold.send_replace(false);
    let LinkEvent::Connected(connection) = next(&mut events).await else {
        panic!("expected Connected")
    };
    let server = listener.accept().await.unwrap();
    assert_eq!(connection.peer_address(), server_id.address());

    // Held again while connected, then the connection ends: it waits instead of redialing.
    hold.send_replace(true);
    let reader = tokio::spawn(async move {
        let mut connection = connection;
        while let Ok(Some(_)) = connection.recv().await {}
    });
    server.close().await;
    reader.await.unwrap();
    assert!(matches!(
        next(&mut events).await,
        LinkEvent::Disconnected(_)
    ));
    assert!(matches!(next(&mut events).await, LinkEvent::Held));
    crate::assert_no_connection(&mut listener, Duration::from_millis(300)).await;

    // A hold nobody can set any more no longer holds.
    drop(hold);
    assert!(matches!(next(&mut events).await, LinkEvent::Connected(_)));
    timeout(WAIT, link.stop()).await.unwrap();
}
