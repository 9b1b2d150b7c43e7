//! Two nodes over real loopback sockets: Noise over TCP and over WebSocket.

use std::{sync::Arc, time::Duration};

use paychan_core::{Address, SigningKey};
use paychan_ledger::{Clock, EmbeddedLedger};
use paychan_net::{LinkConfig, ListenConfig, PeerAddr};
use paychan_node::{Incoming, Node, NodeConfig, NodeEvent, Origin, net};
use paychan_store::{Durability, sqlite::SqliteStore};
use serde_json::json;

use paychan_node::testkit::wait_until;

async fn node(
    ledger: &EmbeddedLedger,
    key: &SigningKey,
    dir: &std::path::Path,
    name: &str,
) -> Node {
    Node::builder()
        .key(key.clone())
        .ledger(Arc::new(ledger.account(key.clone())))
        .store(Arc::new(
            SqliteStore::open(dir.join(name), Durability::Normal).unwrap(),
        ))
        .config(NodeConfig {
            request_timeout: Duration::from_secs(10),
            ..NodeConfig::default()
        })
        .build()
        .await
        .unwrap()
}

async fn pay_over(websocket: bool) {
    let ledger = EmbeddedLedger::in_memory(Clock::manual(1_700_000_000));
    let ka = SigningKey::from_entropy(&[61; 32]).unwrap();
    let kb = SigningKey::from_entropy(&[62; 32]).unwrap();
    for k in [&ka, &kb] {
        ledger.faucet(k.address(), Address::ZERO, 10_000).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let server = node(&ledger, &ka, dir.path(), "server.db").await;
    let client = node(&ledger, &kb, dir.path(), "client.db").await;
    server
        .set_payment_handler(|i: Incoming| async move { Ok(json!({ "result": i.message["n"] })) });

    let local = "127.0.0.1:0".parse().unwrap();
    let config = if websocket {
        ListenConfig::new().with_ws(local)
    } else {
        ListenConfig::new().with_tcp(local)
    };
    let mut server_events = server.subscribe();
    let mut client_events = client.subscribe();
    let listening = net::listen(&server, config).await.unwrap();
    let peer: PeerAddr = if websocket {
        format!("{}@ws://{}/paychan", ka.address(), listening.ws.unwrap())
    } else {
        format!("{}@{}", ka.address(), listening.tcp.unwrap())
    }
    .parse()
    .unwrap();
    net::dial(&client, peer, LinkConfig::default()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), async {
        while !client.is_connected(ka.address()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("connected");

    let id = client.create_channel(ka.address(), 1_000).await.unwrap();
    for n in 0..25u64 {
        let response = client
            .send_message_and_pay(id, &json!({ "n": n }), 3)
            .await
            .unwrap();
        assert_eq!(response, json!({ "result": n }));
    }
    assert!(client.close(id).await.unwrap());
    assert_eq!(
        ledger.balance_of(kb.address(), Address::ZERO).unwrap(),
        10_000 - 75
    );
    assert_eq!(
        ledger.balance_of(ka.address(), Address::ZERO).unwrap(),
        10_000 + 75
    );
    // The client saw the connection and each funding stage, in order; the server saw the
    // connection come, then go when the client stopped.
    let mut stages = vec![];
    while let Ok(event) = client_events.try_recv() {
        match event {
            NodeEvent::PeerConnected { peer, dialed } => {
                stages.push(format!("connected {peer} {dialed}"))
            }
            NodeEvent::ChannelProposed {
                channel_id,
                deposit,
                ..
            } if channel_id == id => {
                stages.push(format!("proposed {deposit}"));
            }
            NodeEvent::ChannelAccepted { channel_id, .. } if channel_id == id => {
                stages.push("accepted".to_owned());
            }
            NodeEvent::ChannelOpened { channel_id, .. } if channel_id == id => {
                stages.push("opened".to_owned());
            }
            _ => {}
        }
    }
    assert_eq!(
        stages,
        [
            format!("connected {} true", ka.address()),
            "proposed 1000".to_owned(),
            "accepted".to_owned(),
            "opened".to_owned()
        ]
    );
    client.shutdown();
    let mut server_saw = vec![];
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match server_events.recv().await.unwrap() {
                NodeEvent::PeerConnected { peer, dialed } => server_saw.push((peer, Some(dialed))),
                NodeEvent::PeerDisconnected { peer } => {
                    server_saw.push((peer, None));
                    break;
                }
                _ => {}
            }
        }
    })
    .await
    .expect("the server saw the client go");
    assert_eq!(
        server_saw,
        [(kb.address(), Some(false)), (kb.address(), None)]
    );
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_per_call_over_tcp() {
    pay_over(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_per_call_over_websocket() {
    pay_over(true).await;
}

/// Two nodes that each keep the other connected (both listen, both dial the other, as two
/// daemons listing each other under `[node] peers` do) converge on one connection, the one
/// dialed by the lower address, and stay on it while payments flow both ways: no side's
/// redial replaces it. Issue 13, defect 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_dialing_each_other_keep_one_connection() {
    let ledger = EmbeddedLedger::in_memory(Clock::manual(1_700_000_000));
    let ka = SigningKey::from_entropy(&[63; 32]).unwrap();
    let kb = SigningKey::from_entropy(&[64; 32]).unwrap();
    for k in [&ka, &kb] {
        ledger.faucet(k.address(), Address::ZERO, 10_000).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let a = node(&ledger, &ka, dir.path(), "a.db").await;
    let b = node(&ledger, &kb, dir.path(), "b.db").await;
    let local = "127.0.0.1:0".parse().unwrap();
    let a_at = net::listen(&a, ListenConfig::new().with_tcp(local))
        .await
        .unwrap();
    let b_at = net::listen(&b, ListenConfig::new().with_tcp(local))
        .await
        .unwrap();
    // Quick redials, so that a redial loop would show within the test.
    let links =
        LinkConfig::default().with_backoff(Duration::from_millis(10), Duration::from_millis(100));
    let peer = |k: &SigningKey, at: net::Listening| -> PeerAddr {
        format!("{}@{}", k.address(), at.tcp.unwrap())
            .parse()
            .unwrap()
    };
    net::dial(&a, peer(&kb, b_at), links.clone()).unwrap();
    net::dial(&b, peer(&ka, a_at), links).unwrap();
    let (low, high) = if a.address() < b.address() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    // Both hold the connection the lower address dialed.
    wait_until("both keep the lower address's dial", || async {
        low.connection_info(high.address())
            .is_some_and(|c| c.origin == Origin::Dialed)
            && high
                .connection_info(low.address())
                .is_some_and(|c| c.origin == Origin::Accepted)
    })
    .await;
    let kept = || {
        (
            low.connection_info(high.address()).map(|c| c.id),
            high.connection_info(low.address()).map(|c| c.id),
        )
    };
    let first = kept();

    let id = a.create_channel(b.address(), 1_000).await.unwrap();
    b.deposit(id, 1_000).await.unwrap();
    // Payments both ways for a while (many redial periods): every one succeeds and the
    // connection stays the same on both sides.
    let start = std::time::Instant::now();
    let mut n = 0u64;
    while n < 50 || start.elapsed() < Duration::from_secs(2) {
        a.send_message_and_pay(id, &json!({ "n": n }), 1)
            .await
            .unwrap_or_else(|e| panic!("payment {n} from a failed: {e}"));
        b.send_message_and_pay(id, &json!({ "n": n }), 1)
            .await
            .unwrap_or_else(|e| panic!("payment {n} from b failed: {e}"));
        assert_eq!(kept(), first, "the connection changed after {n} payments");
        n += 1;
    }
    let seen = a.channel_info(id).await.unwrap();
    assert_eq!(seen.balances.paid_by_me, u128::from(n));
    assert_eq!(seen.balances.paid_by_peer, u128::from(n));
    // The higher address's link waits instead of redialing while the connection lasts.
    assert!(*high.dial_hold(low.address()).borrow());
    assert!(!*low.dial_hold(high.address()).borrow());
    a.shutdown();
    b.shutdown();
}
