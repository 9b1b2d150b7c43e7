//! Contacts over HTTP and WebSocket: added, read, listed, replaced, removed; used as the
//! peer of `open_channel` (dialed at the contact's URL) and `list_channels`; bad params
//! refused with client errors and no change.

use jsonrpsee::core::client::ClientT;
use paychan_rpc::method;
use serde_json::{Value, json};

use crate::harness::{MEMORY_ENDPOINT, Net, err, ok};

async fn contacts_flow<C: ClientT + Sync>(net: &Net, client: &C) {
    let b = net.b.address();
    let url = format!("{b}@{MEMORY_ENDPOINT}");
    assert_eq!(
        ok(client, method::LIST_CONTACTS, json!({})).await,
        json!([])
    );

    let bob = ok(
        client,
        method::ADD_CONTACT,
        json!({ "alias": "bob", "peer": url }),
    )
    .await;
    assert_eq!(
        bob,
        json!({ "alias": "bob", "address": b, "peer_url": url })
    );
    let carol = ok(
        client,
        method::ADD_CONTACT,
        json!(["carol", "0x00000000000000000000000000000000000000c0"]),
    )
    .await;
    assert_eq!(carol["peer_url"], Value::Null);
    assert_eq!(
        ok(client, method::GET_CONTACT, json!({ "alias": "bob" })).await,
        bob
    );
    let listed = ok(client, method::LIST_CONTACTS, json!([])).await;
    assert_eq!(listed, json!([bob, carol]));

    // Refusals: each a client error, and nothing changes.
    let refusals = [
        (
            method::ADD_CONTACT,
            json!({ "alias": "bob", "peer": b }),
            1008,
        ),
        (
            method::ADD_CONTACT,
            json!({ "alias": "0xbob", "peer": b }),
            1007,
        ),
        (method::ADD_CONTACT, json!({ "alias": "", "peer": b }), 1007),
        (
            method::ADD_CONTACT,
            json!({ "alias": "a b", "peer": b }),
            1007,
        ),
        (
            method::ADD_CONTACT,
            json!({ "alias": "dave", "peer": "nobody" }),
            1007,
        ),
        (
            method::ADD_CONTACT,
            json!({ "alias": "dave", "peer": "0x12" }),
            1007,
        ),
        (
            method::ADD_CONTACT,
            json!({ "alias": "dave", "peer": format!("{b}@") }),
            1007,
        ),
        (method::ADD_CONTACT, json!({ "alias": "dave" }), 1000),
        (method::ADD_CONTACT, json!({ "alias": 5, "peer": b }), 1000),
        (
            method::ADD_CONTACT,
            json!({ "alias": "dave", "peer": b, "replace": "yes" }),
            1000,
        ),
        (
            method::ADD_CONTACT,
            json!({ "alias": "dave", "peer": b, "x": 1 }),
            1000,
        ),
        (method::GET_CONTACT, json!({ "alias": "dave" }), 1006),
        (method::GET_CONTACT, json!({}), 1000),
        (method::REMOVE_CONTACT, json!({ "alias": "dave" }), 1006),
        (method::LIST_CONTACTS, json!({ "alias": "bob" }), 1000),
        (
            method::OPEN_CHANNEL,
            json!({ "peer": "dave", "deposit": 10 }),
            1006,
        ),
        (method::LIST_CHANNELS, json!({ "peer": "dave" }), 1006),
        (method::LIST_CHANNELS, json!({ "peer": "0xzz" }), 1000),
    ];
    let before = net.snapshot().await;
    for (method, params, code) in refusals {
        let (_, data) = err(client, method, params.clone()).await;
        assert_eq!(data.code, code, "{method} {params}: {}", data.message);
        assert_eq!(data.category, paychan_node::Category::Client);
    }
    assert_eq!(ok(client, method::LIST_CONTACTS, json!({})).await, listed);
    assert_eq!(net.snapshot().await, before);

    // Replace.
    let moved = ok(
        client,
        method::ADD_CONTACT,
        json!({ "alias": "carol", "peer": b, "replace": true }),
    )
    .await;
    assert_eq!(moved["address"], json!(b));

    // Open to the alias: B is not connected, so the contact's URL is dialed.
    let opened = ok(
        client,
        method::OPEN_CHANNEL,
        json!({ "peer": "bob", "deposit": 100 }),
    )
    .await;
    assert_eq!(opened["peer"], json!(b));
    assert_eq!(net.dialer_a.dials.lock().unwrap().last(), Some(&url));
    let for_bob = ok(client, method::LIST_CHANNELS, json!({ "peer": "bob" })).await;
    assert_eq!(for_bob, json!([opened.clone()]));
    let for_carol = ok(client, method::LIST_CHANNELS, json!({ "peer": "carol" })).await;
    assert_eq!(for_carol.as_array().unwrap().len(), 1);

    // Remove: the channel stays.
    assert_eq!(
        ok(client, method::REMOVE_CONTACT, json!({ "alias": "bob" })).await,
        json!(true)
    );
    let (_, data) = err(client, method::GET_CONTACT, json!({ "alias": "bob" })).await;
    assert_eq!(data.code, 1006);
    assert_eq!(
        ok(client, method::LIST_CHANNELS, json!({ "peer": b })).await,
        json!([opened])
    );
    net.conserved();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_over_http() {
    let net = Net::new(false).await;
    contacts_flow(&net, &net.http_a()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_over_websocket() {
    let net = Net::new(false).await;
    contacts_flow(&net, &net.ws_a().await).await;
}
