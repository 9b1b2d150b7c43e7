//! Two nodes over real loopback sockets: Noise over TCP and over WebSocket.

use std::{sync::Arc, time::Duration};

use paychan_core::{Address, SigningKey};
use paychan_ledger::{Clock, EmbeddedLedger};
use paychan_net::{LinkConfig, ListenConfig, PeerAddr};
use paychan_node::{Incoming, Node, NodeConfig, net};
use paychan_store::{Durability, sqlite::SqliteStore};
use serde_json::json;

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
    client.shutdown();
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
