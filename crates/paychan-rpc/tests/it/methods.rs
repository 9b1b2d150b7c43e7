//! Every method, over HTTP and over WebSocket, with the ledger balances checked at the end.

use jsonrpsee::core::client::ClientT;
use paychan_rpc::method;
use serde_json::{Value, json};

use crate::harness::{FUNDS, Net, START, err, ok, wait_status};

async fn every_method<C: ClientT + Sync>(net: &Net, client: &C) {
    let a = net.a.address();
    let b = net.b.address();

    // node_info
    let info = ok(client, method::NODE_INFO, json!({})).await;
    assert_eq!(info["address"], json!(a));
    assert_eq!(info["rpc_version"], 1);
    assert_eq!(info["balance"], FUNDS.to_string());
    assert_eq!(info["ledger_time"], START);
    assert_eq!(info["ledger"]["chain_id"], json!(net.a.domain().chain_id()));
    assert_eq!(info["listen"], json!([format!("{a}@memory")]));
    // No params at all is the same.
    assert_eq!(
        ok(client, method::NODE_INFO, json!([])).await["address"],
        json!(a)
    );

    // open_channel, with the deposit as a string
    let opened = ok(
        client,
        method::OPEN_CHANNEL,
        json!({ "peer": b, "deposit": "1000" }),
    )
    .await;
    let id = opened["channel_id"].clone();
    assert_eq!(opened["status"], "open");
    assert_eq!(opened["role"], "A");
    assert_eq!(opened["peer"], json!(b));
    assert_eq!(opened["balances"]["my_deposit"], "1000");
    assert_eq!(opened["balances"]["my_available"], "1000");

    // pay: amounts as strings or integers; the payee's response comes back
    let paid = ok(
        client,
        method::PAY,
        json!({ "channel_id": id, "amount": "10", "message": { "call": 1 } }),
    )
    .await;
    assert_eq!(paid["response"]["echo"]["call"], 1);
    assert_eq!(paid["response"]["paid"], "10");
    let paid = ok(
        client,
        method::PAY,
        json!({ "channel_id": id, "amount": 5 }),
    )
    .await;
    assert_eq!(paid["response"]["echo"], Value::Null);
    // Positional params follow the named order.
    let paid = ok(client, method::PAY, json!([id, "2", "positional"])).await;
    assert_eq!(paid["response"]["echo"], "positional");
    // A failing handler: a peer error, and the payment is not counted.
    let (code, data) = err(
        client,
        method::PAY,
        json!({ "channel_id": id, "amount": 3, "message": { "fail": true } }),
    )
    .await;
    assert_eq!((code, data.code), (-35003, 2003));
    assert!(
        data.message.contains("the service failed"),
        "{}",
        data.message
    );

    // send_message
    let answered = ok(
        client,
        method::SEND_MESSAGE,
        json!({ "channel_id": id, "message": "ping" }),
    )
    .await;
    assert_eq!(answered["response"]["paid"], "0");

    // deposit, withdraw
    let deposited = ok(
        client,
        method::DEPOSIT,
        json!({ "channel_id": id, "amount": "500" }),
    )
    .await;
    assert_eq!(deposited["balances"]["my_deposit"], "1500");
    let withdrawn = ok(
        client,
        method::WITHDRAW,
        json!({ "channel_id": id, "amount": 100 }),
    )
    .await;
    assert_eq!(
        withdrawn["balances"]["my_available"],
        (1500 - 17 - 100).to_string()
    );
    assert_eq!(net.balance(a), FUNDS - 1500 + 100);

    // set_auto_refill: on, then off
    let refill = ok(
        client,
        method::SET_AUTO_REFILL,
        json!({ "channel_id": id, "threshold": "100", "amount": "200" }),
    )
    .await;
    assert_eq!(
        refill["auto_refill"],
        json!({ "threshold": "100", "amount": "200" })
    );
    let refill = ok(
        client,
        method::SET_AUTO_REFILL,
        json!({ "channel_id": id, "threshold": 0, "amount": "200" }),
    )
    .await;
    assert_eq!(refill["auto_refill"], Value::Null);
    ok(
        client,
        method::SET_AUTO_REFILL,
        json!({ "channel_id": id, "threshold": "1", "amount": "1" }),
    )
    .await;
    let refill = ok(client, method::SET_AUTO_REFILL, json!({ "channel_id": id })).await;
    assert_eq!(refill["auto_refill"], Value::Null);

    // channel_info, list_channels
    let info = ok(client, method::CHANNEL_INFO, json!({ "channel_id": id })).await;
    assert_eq!(info["balances"]["paid_by_me"], "17");
    assert_eq!(info["expected_payouts"]["peer"], "17");
    assert_eq!(info["deadline"], Value::Null);
    let on_b = ok(client, method::LIST_CHANNELS, json!({})).await;
    assert_eq!(on_b.as_array().unwrap().len(), 1);
    assert_eq!(on_b[0], info);
    assert_eq!(
        ok(client, method::LIST_CHANNELS, json!({ "peer": b })).await,
        json!([info])
    );
    let stranger = "0x00000000000000000000000000000000000000aa";
    assert_eq!(
        ok(client, method::LIST_CHANNELS, json!({ "peer": stranger })).await,
        json!([])
    );

    // The aa-channels aliases, positional.
    let second = ok(
        client,
        method::aa::CREATE_NEW_CHANNEL,
        json!([b, 300, { "auto_refill_threshold": 10, "auto_refill_amount": 20, "salt": true }]),
    )
    .await;
    assert!(second.is_string());
    let response = ok(
        client,
        method::aa::SEND_MESSAGE_AND_PAY,
        json!([second, "hi", 7]),
    )
    .await;
    assert_eq!(response["echo"], "hi");
    let deposited = ok(client, method::DEPOSIT, json!([second, 10])).await;
    assert_eq!(deposited["balances"]["my_deposit"], "310");
    assert_eq!(
        ok(client, method::aa::SET_AUTO_REFILL, json!([second, 50, 20])).await,
        Value::Null
    );
    let status = ok(client, method::aa::GET_BALANCES_AND_STATUS, json!([second])).await;
    assert_eq!(status["status"], "open");
    assert_eq!(status["amount_deposited_by_me"], "310");
    assert_eq!(status["amount_spent_by_me"], "7");
    assert_eq!(status["amount_spent_by_peer"], "0");
    assert_eq!(status["free_amount"], "303");
    assert_eq!(
        status["auto_refill"],
        json!({ "threshold": "20", "amount": "50" })
    );
    let mut ids = ok(client, method::aa::GET_CHANNELS_FOR_PEER, json!([b]))
        .await
        .as_array()
        .unwrap()
        .clone();
    ids.sort_by_key(|v| v.as_str().unwrap().to_owned());
    let mut expected = vec![id.clone(), second.clone()];
    expected.sort_by_key(|v| v.as_str().unwrap().to_owned());
    assert_eq!(ids, expected);
    assert_eq!(
        ok(
            client,
            method::aa::GET_CHANNELS_FOR_PEER,
            json!([b, "base"])
        )
        .await
        .as_array()
        .unwrap()
        .len(),
        2
    );
    assert_eq!(
        ok(
            client,
            method::aa::GET_CHANNELS_FOR_PEER,
            json!([b, "another-asset"])
        )
        .await,
        json!([])
    );
    let closed = ok(client, method::CLOSE, json!([second])).await;
    assert_eq!(closed["cooperative"], true);
    assert_eq!(closed["channel"]["status"], "closed");

    // close, forced: the watcher settles after the challenge period.
    let closing = ok(
        client,
        method::CLOSE,
        json!({ "channel_id": id, "force": true }),
    )
    .await;
    assert_eq!(closing["cooperative"], false);
    assert_eq!(closing["channel"]["status"], "closing");
    assert_eq!(closing["channel"]["deadline"], START + 3_600);
    net.ledger.clock().advance(3_601).unwrap();
    wait_status(client, &id, "closed").await;

    // Money: A paid 17 + 7, withdrew 100, B paid nothing.
    let b_paid = 0;
    assert_eq!(net.balance(a), FUNDS - 24 + b_paid);
    assert_eq!(net.balance(b), FUNDS + 24 - b_paid);
    net.conserved();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_over_http() {
    let net = Net::new(true).await;
    every_method(&net, &net.http_a()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_over_websocket() {
    let net = Net::new(true).await;
    every_method(&net, &net.ws_a().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_channel_dials_a_peer_url_or_a_known_peer() {
    let net = Net::new(false).await;
    let client = net.http_a();
    let b = net.b.address();
    // By URL: dialed first.
    let opened = ok(
        &client,
        method::OPEN_CHANNEL,
        json!({ "peer_url": format!("{b}@memory"), "deposit": 0 }),
    )
    .await;
    assert_eq!(opened["status"], "open");
    assert_eq!(net.dialer_a.dials.lock().unwrap().len(), 1);
    // The `peer` param takes a URL as well.
    let second = ok(
        &client,
        method::OPEN_CHANNEL,
        json!({ "peer": format!("{b}@memory"), "deposit": "1" }),
    )
    .await;
    // The call returns once A has the channel open; B follows when the last
    // message of the opening reaches it. Wait for that before the snapshot.
    let client_b = paychan_rpc::client::http(&net.rpc_b.url(), crate::harness::TOKEN).unwrap();
    for channel in [&opened, &second] {
        wait_status(&client_b, &channel["channel_id"], "open").await;
    }
    // A peer that cannot be reached: a peer error, nothing opened.
    let before = net.snapshot().await;
    let (code, data) = err(
        &client,
        method::OPEN_CHANNEL,
        json!({ "peer_url": format!("{b}@10.0.0.1:1"), "deposit": 1 }),
    )
    .await;
    assert_eq!(
        (code, data.code, data.category),
        (-35901, 2901, paychan_node::Category::Peer)
    );
    let (code, data) = err(
        &client,
        method::OPEN_CHANNEL,
        json!({ "peer_url": "nonsense", "deposit": 1 }),
    )
    .await;
    assert_eq!((code, data.code), (-34902, 1902));
    // A peer nobody knows and that is not connected: offline.
    let (code, data) = err(
        &client,
        method::OPEN_CHANNEL,
        json!({ "peer": "0x00000000000000000000000000000000000000aa", "deposit": 1 }),
    )
    .await;
    assert_eq!((code, data.code), (-35001, 2001));
    assert_eq!(net.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_peer_side_sees_the_channel() {
    let net = Net::new(true).await;
    let a = net.http_a();
    let b = paychan_rpc::client::http(&net.rpc_b.url(), crate::harness::TOKEN).unwrap();
    let opened = ok(
        &a,
        method::OPEN_CHANNEL,
        json!({ "peer": net.b.address(), "deposit": 100 }),
    )
    .await;
    let id = &opened["channel_id"];
    ok(
        &a,
        method::PAY,
        json!({ "channel_id": id, "amount": 40, "message": "x" }),
    )
    .await;
    let seen = ok(&b, method::CHANNEL_INFO, json!({ "channel_id": id })).await;
    assert_eq!(seen["role"], "B");
    assert_eq!(seen["balances"]["paid_by_peer"], "40");
    assert_eq!(seen["balances"]["peer_deposit"], "100");
    // B pays back through its own API; A's handler answers.
    let paid = ok(&b, method::PAY, json!({ "channel_id": id, "amount": "15" })).await;
    assert_eq!(paid["response"], "thanks");
    let closed = ok(&b, method::CLOSE, json!({ "channel_id": id })).await;
    assert_eq!(closed["cooperative"], true);
    assert_eq!(net.balance(net.b.address()), crate::harness::FUNDS + 25);
}
