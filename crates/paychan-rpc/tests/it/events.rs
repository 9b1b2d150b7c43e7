//! The event subscription: every event, in the node's order, on both sides.

use std::time::Duration;

use jsonrpsee::core::client::{Subscription, SubscriptionClientT};
use paychan_node::NodeEvent;
use paychan_rpc::{client::no_params, method};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::harness::{Net, ok};

async fn subscribe(client: &jsonrpsee::ws_client::WsClient) -> Subscription<Value> {
    client
        .subscribe(
            method::SUBSCRIBE_EVENTS,
            no_params(),
            method::UNSUBSCRIBE_EVENTS,
        )
        .await
        .unwrap()
}

/// Takes `n` notifications.
async fn take(subscription: &mut Subscription<Value>, n: usize) -> Vec<Value> {
    let mut out = vec![];
    while out.len() < n {
        let next = tokio::time::timeout(Duration::from_secs(10), subscription.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} events arrived: {out:?}", out.len()));
        out.push(next.unwrap().unwrap());
    }
    out
}

/// What the node emitted, in its order, as JSON.
fn emitted(rx: &mut broadcast::Receiver<NodeEvent>) -> Vec<Value> {
    let mut out = vec![];
    while let Ok(event) = rx.try_recv() {
        out.push(serde_json::to_value(event).unwrap());
    }
    out
}

/// What the node emitted up to and including `channel_closed`.
async fn emitted_until_closed(rx: &mut broadcast::Receiver<NodeEvent>) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut out = vec![];
    while !out.iter().any(|e: &Value| e["event"] == "channel_closed") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no channel_closed: {out:?}"
        );
        out.extend(emitted(rx));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    out
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_in_the_node_order() {
    let net = Net::new(true).await;
    let ws_a = net.ws_a().await;
    let ws_b = net.ws_b().await;
    let mut sub_a = subscribe(&ws_a).await;
    let mut sub_b = subscribe(&ws_b).await;
    let mut local_a = net.a.subscribe();
    let mut local_b = net.b.subscribe();

    let opened = ok(
        &ws_a,
        method::OPEN_CHANNEL,
        json!({ "peer": net.b.address(), "deposit": 500 }),
    )
    .await;
    let id = opened["channel_id"].clone();
    for amount in 1..=5 {
        ok(
            &ws_a,
            method::PAY,
            json!({ "channel_id": id, "amount": amount, "message": { "n": amount } }),
        )
        .await;
    }
    ok(&ws_a, method::CLOSE, json!({ "channel_id": id })).await;

    // Once the watchers have reported the settlement, compare with what the nodes emitted:
    // the same events in the same order.
    let local_a = emitted_until_closed(&mut local_a).await;
    let local_b = emitted_until_closed(&mut local_b).await;
    let a_events = take(&mut sub_a, local_a.len()).await;
    let b_events = take(&mut sub_b, local_b.len()).await;
    assert_eq!(a_events, local_a);
    assert_eq!(b_events, local_b);

    for (events, payment) in [(&a_events, "payment_sent"), (&b_events, "payment_received")] {
        let k = kinds(events);
        assert_eq!(k.last(), Some(&"channel_closed"), "{k:?}");
        let amounts: Vec<&str> = events
            .iter()
            .filter(|e| e["event"] == payment)
            .map(|e| e["amount"].as_str().unwrap())
            .collect();
        assert_eq!(amounts, ["1", "2", "3", "4", "5"], "{k:?}");
        for e in events {
            assert_eq!(e["channel_id"], id);
        }
    }
    let k = kinds(&b_events);
    assert!(k.contains(&"channel_created_by_peer"), "{k:?}");
    assert!(k.contains(&"peer_deposit_became_stable"), "{k:?}");
    let received: Vec<&Value> = b_events
        .iter()
        .filter(|e| e["event"] == "payment_received")
        .map(|e| &e["message"]["n"])
        .collect();
    assert_eq!(
        received,
        [&json!(1), &json!(2), &json!(3), &json!(4), &json!(5)]
    );
    let closed_a = a_events
        .iter()
        .find(|e| e["event"] == "channel_closed")
        .unwrap();
    assert_eq!(closed_a["amount_received"], "485");

    // Unsubscribing ends the stream; the client stays usable.
    sub_a.unsubscribe().await.unwrap();
    ok(&ws_a, method::NODE_INFO, json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_refuse_params_and_http() {
    let net = Net::new(true).await;
    let ws = net.ws_a().await;
    let bad = ws
        .subscribe::<Value, _>(
            method::SUBSCRIBE_EVENTS,
            paychan_rpc::client::Named(json!({ "x": 1 })),
            method::UNSUBSCRIBE_EVENTS,
        )
        .await;
    assert!(bad.is_err());
    // Over HTTP there is no subscription.
    let http = net.http_a();
    let answer: Result<Value, _> =
        jsonrpsee::core::client::ClientT::request(&http, method::SUBSCRIBE_EVENTS, no_params())
            .await;
    assert!(answer.is_err());
}
