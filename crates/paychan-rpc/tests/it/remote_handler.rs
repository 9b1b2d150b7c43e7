//! The remote payment handler: a WebSocket client of B's API answers A's payments; its
//! errors, its silence (timeout) and its disconnection refuse the payment, which is then not
//! counted on either side; without it, the default answer.

use std::time::Duration;

use jsonrpsee::{
    core::client::{Subscription, SubscriptionClientT},
    ws_client::WsClient,
};
use paychan_rpc::{client::no_params, method};
use serde_json::{Value, json};

use crate::harness::{DEFAULT_RESPONSE, Net, call, err, ok};

async fn become_handler(client: &WsClient) -> Subscription<Value> {
    client
        .subscribe(
            method::SUBSCRIBE_PAYMENTS,
            no_params(),
            method::UNSUBSCRIBE_PAYMENTS,
        )
        .await
        .unwrap()
}

async fn next_request(handler: &mut Subscription<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), handler.next())
        .await
        .expect("no payment reached the handler")
        .unwrap()
        .unwrap()
}

/// A channel from A to B with 1,000 deposited by A.
async fn channel(net: &Net) -> Value {
    let http = net.http_a();
    let opened = ok(
        &http,
        method::OPEN_CHANNEL,
        json!({ "peer": net.b.address(), "deposit": 1000 }),
    )
    .await;
    opened["channel_id"].clone()
}

/// `(paid_by_me on A, paid_by_peer on B)`: what each side counts as paid.
async fn counted(net: &Net, id: &Value) -> (String, String) {
    let on_a = ok(
        &net.http_a(),
        method::CHANNEL_INFO,
        json!({ "channel_id": id }),
    )
    .await;
    let ws_b = net.ws_b().await;
    let on_b = ok(&ws_b, method::CHANNEL_INFO, json!({ "channel_id": id })).await;
    (
        on_a["balances"]["paid_by_me"].as_str().unwrap().to_owned(),
        on_b["balances"]["paid_by_peer"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_client_answers_payments_and_messages() {
    let net = Net::with_remote_handler(Duration::from_secs(5)).await;
    let id = channel(&net).await;
    let handler_client = net.ws_b().await;
    let mut handler = become_handler(&handler_client).await;

    // The handler answers every request with what it was asked, from its own connection.
    let answering = tokio::spawn(async move {
        for _ in 0..3 {
            let request = next_request(&mut handler).await;
            let response = json!({
                "echo": request["message"],
                "amount": request["amount"],
                "channel": request["channel_id"],
                "peer": request["peer"],
            });
            let answered = ok(
                &handler_client,
                method::ANSWER_PAYMENT,
                json!({ "request_id": request["request_id"], "response": response }),
            )
            .await;
            assert_eq!(answered, json!(true));
        }
        (handler, handler_client)
    });

    let http = net.http_a();
    for (amount, message) in [(7, json!({ "call": "weather" })), (3, json!([1, 2]))] {
        let paid = ok(
            &http,
            method::PAY,
            json!({ "channel_id": id, "amount": amount, "message": message }),
        )
        .await;
        assert_eq!(paid["response"]["echo"], message);
        assert_eq!(paid["response"]["amount"], amount.to_string());
        assert_eq!(paid["response"]["channel"], id);
        assert_eq!(paid["response"]["peer"], json!(net.a.address()));
    }
    // A plain message reaches the handler with amount zero.
    let answered = ok(
        &http,
        method::SEND_MESSAGE,
        json!({ "channel_id": id, "message": "ping" }),
    )
    .await;
    assert_eq!(answered["response"]["echo"], "ping");
    assert_eq!(answered["response"]["amount"], "0");
    answering.await.unwrap();
    assert_eq!(counted(&net, &id).await, ("10".into(), "10".into()));
    net.conserved();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_error_reaches_the_payer_and_the_payment_is_not_counted() {
    let net = Net::with_remote_handler(Duration::from_secs(5)).await;
    let id = channel(&net).await;
    let handler_client = net.ws_b().await;
    let mut handler = become_handler(&handler_client).await;
    let answering = tokio::spawn(async move {
        let request = next_request(&mut handler).await;
        // A null response is a response, not a missing one.
        ok(
            &handler_client,
            method::ANSWER_PAYMENT,
            json!({ "request_id": request["request_id"], "response": null }),
        )
        .await;
        let request = next_request(&mut handler).await;
        ok(
            &handler_client,
            method::ANSWER_PAYMENT,
            json!({ "request_id": request["request_id"], "error": "out of stock" }),
        )
        .await;
        (handler, handler_client)
    });
    let http = net.http_a();
    let paid = ok(&http, method::PAY, json!({ "channel_id": id, "amount": 4 })).await;
    assert_eq!(paid["response"], Value::Null);
    let (code, data) = err(&http, method::PAY, json!({ "channel_id": id, "amount": 6 })).await;
    assert_eq!((code, data.code), (-35003, 2003));
    assert!(data.message.contains("out of stock"), "{}", data.message);
    answering.await.unwrap();
    assert_eq!(counted(&net, &id).await, ("4".into(), "4".into()));
    net.conserved();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_handler_times_out_and_its_late_answer_is_refused() {
    let net = Net::with_remote_handler(Duration::from_millis(300)).await;
    let id = channel(&net).await;
    let handler_client = net.ws_b().await;
    let mut handler = become_handler(&handler_client).await;
    let http = net.http_a();
    let (code, data) = err(&http, method::PAY, json!({ "channel_id": id, "amount": 9 })).await;
    assert_eq!((code, data.code), (-35003, 2003));
    assert!(data.message.contains("did not answer"), "{}", data.message);
    let request = next_request(&mut handler).await;
    let (code, data) = err(
        &handler_client,
        method::ANSWER_PAYMENT,
        json!({ "request_id": request["request_id"], "response": "too late" }),
    )
    .await;
    assert_eq!((code, data.code), (-34906, 1906));
    assert_eq!(counted(&net, &id).await, ("0".into(), "0".into()));
    net.conserved();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_handler_at_a_time_and_the_default_answer_without_one() {
    let net = Net::with_remote_handler(Duration::from_secs(5)).await;
    let id = channel(&net).await;
    let http = net.http_a();
    let paid = ok(&http, method::PAY, json!({ "channel_id": id, "amount": 1 })).await;
    assert_eq!(paid["response"], DEFAULT_RESPONSE);

    let first = net.ws_b().await;
    let handler = become_handler(&first).await;
    let second = net.ws_b().await;
    let refused = second
        .subscribe::<Value, _>(
            method::SUBSCRIBE_PAYMENTS,
            no_params(),
            method::UNSUBSCRIBE_PAYMENTS,
        )
        .await
        .unwrap_err();
    let data = paychan_rpc::client::paychan_error(&refused).unwrap();
    assert_eq!(data.code, 1905, "{}", data.message);

    // The first handler leaves: the default answer again, and the place is free.
    handler.unsubscribe().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        // A payment racing the unsubscription may be refused as "disconnected".
        let paid = call(&http, method::PAY, json!({ "channel_id": id, "amount": 1 })).await;
        if paid.is_ok_and(|paid| paid["response"] == DEFAULT_RESPONSE) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still handled");
    }
    let _again = become_handler(&second).await;
    net.conserved();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_disconnects_mid_payment_refuses_it() {
    let net = Net::with_remote_handler(Duration::from_secs(5)).await;
    let id = channel(&net).await;
    let handler_client = net.ws_b().await;
    let mut handler = become_handler(&handler_client).await;
    let http = net.http_a();
    let paying = {
        let id = id.clone();
        tokio::spawn(async move {
            err(&http, method::PAY, json!({ "channel_id": id, "amount": 8 })).await
        })
    };
    next_request(&mut handler).await;
    drop(handler);
    drop(handler_client);
    let (code, data) = paying.await.unwrap();
    assert_eq!((code, data.code), (-35003, 2003));
    assert!(data.message.contains("disconnected"), "{}", data.message);
    assert_eq!(counted(&net, &id).await, ("0".into(), "0".into()));
    net.conserved();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_payment_params_are_checked_and_http_cannot_subscribe() {
    let net = Net::with_remote_handler(Duration::from_secs(5)).await;
    let ws_b = net.ws_b().await;
    for params in [
        json!({ "request_id": 1 }),
        json!({ "request_id": 1, "response": 1, "error": "x" }),
        json!({ "request_id": -1, "response": 1 }),
        json!({ "request_id": "one", "response": 1 }),
        json!({ "request_id": 1, "error": 5 }),
        json!({ "request_id": 1, "response": 1, "extra": 0 }),
    ] {
        let (code, data) = err(&ws_b, method::ANSWER_PAYMENT, params.clone()).await;
        assert_eq!((code, data.code), (-32602, 1000), "{params}");
    }
    let (_, data) = err(
        &ws_b,
        method::ANSWER_PAYMENT,
        json!({ "request_id": 12345, "response": 1 }),
    )
    .await;
    assert_eq!(data.code, 1906);
    // Node A's API does not offer the handler.
    let (_, data) = err(
        &net.http_a(),
        method::ANSWER_PAYMENT,
        json!({ "request_id": 0, "response": 1 }),
    )
    .await;
    assert_eq!(data.code, 1904);
    let ws_a = net.ws_a().await;
    let refused = ws_a
        .subscribe::<Value, _>(
            method::SUBSCRIBE_PAYMENTS,
            no_params(),
            method::UNSUBSCRIBE_PAYMENTS,
        )
        .await
        .unwrap_err();
    assert_eq!(
        paychan_rpc::client::paychan_error(&refused).unwrap().code,
        1904
    );
}
