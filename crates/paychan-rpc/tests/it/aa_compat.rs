//! The aa-channels compatibility listener over HTTP: aa-channels' parameter orders and result
//! shapes, aa's status names, `options.timeout` within the node's bounds, the native asset
//! only, and the token. Its WebSocket side (events pushed to every client) is exercised by the
//! Node.js conformance test (`tests/aa-conformance`, run by `paychan-cli`'s `aa_conformance`).

use jsonrpsee::core::ClientError;
use paychan_rpc::client;
use serde_json::{Value, json};

use crate::harness::{Net, call, ok};

/// The message of a refused aa-channels call, which answers rpcify's code.
async fn refused(
    client: &jsonrpsee::http_client::HttpClient,
    method: &str,
    params: Value,
) -> String {
    match call(client, method, params.clone()).await {
        Err(ClientError::Call(object)) => {
            assert_eq!(object.code(), -32603, "{method} {params}");
            object.message().to_owned()
        }
        other => panic!("{method} {params}: expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aa_calls_take_aa_params_and_answer_aa_shapes() {
    let net = Net::new(true).await;
    let (a, b) = (net.aa_a(), net.aa_b());
    let b_address = json!(net.b.address());

    // createNewChannel answers the aa_address; options.timeout is used within the bounds.
    let id = ok(
        &a,
        "createNewChannel",
        json!([b_address, 1000, { "timeout": 7200 }]),
    )
    .await;
    assert!(id.as_str().unwrap().starts_with("0x"), "{id}");
    let channel_id = id.as_str().unwrap().parse().unwrap();
    assert_eq!(net.a.channel_info(channel_id).await.unwrap().status, "open");
    let message = refused(
        &a,
        "createNewChannel",
        json!([b_address, 1, { "timeout": 1 }]),
    )
    .await;
    assert!(message.contains("options.timeout"), "{message}");
    let message = refused(
        &a,
        "createNewChannel",
        json!([b_address, 1, { "asset": "gold" }]),
    )
    .await;
    assert!(message.contains("native asset"), "{message}");

    let status = ok(&a, "getBalancesAndStatus", json!([id])).await;
    assert_eq!(
        status,
        json!({
            "status": "open",
            "amount_deposited_by_me": 1000,
            "amount_deposited_by_peer": 0,
            "amount_spent_by_me": 0,
            "amount_spent_by_peer": 0,
            "free_amount": 1000,
            "my_deposits": 0,
        })
    );

    // sendMessageAndPay [aa_address, message, amount] answers the peer's response.
    let response = ok(&a, "sendMessageAndPay", json!([id, "hello", 10])).await;
    assert!(!response.is_null());
    assert_eq!(
        ok(&a, "setAutoRefill", json!([id, 500, 100])).await,
        json!([])
    );

    // createPaymentPackage [payment_amount, aa_address]; verifyPaymentPackage answers
    // [payment_amount, asset, aa_address].
    let package = ok(&a, "createPaymentPackage", json!([5, id])).await;
    assert!(package.is_object(), "{package}");
    let verified = ok(&b, "verifyPaymentPackage", json!([package])).await;
    assert_eq!(verified, json!([5, "base", id]));

    assert_eq!(
        ok(&a, "getChannelsForPeer", json!([b_address, "base"])).await,
        json!([id])
    );
    let message = refused(&b, "getChannelsForPeer", json!([json!(net.b.address())])).await;
    assert!(message.contains("no channel"), "{message}");
    assert!(
        refused(&a, "sweep", json!([id]))
            .await
            .contains("never reuses")
    );

    let unit = ok(&a, "deposit", json!([id, 100])).await;
    assert_eq!(unit.as_str().map(str::len), Some(66), "{unit}");
    let status = ok(&a, "getBalancesAndStatus", json!([id])).await;
    assert_eq!(status["amount_deposited_by_me"], 1100);

    // The unconfirmed-credit setters, native asset only.
    assert_eq!(
        ok(&b, "setMaxUnconfirmedByAsset", json!(["base", 5000])).await,
        json!([])
    );
    assert_eq!(
        ok(
            &b,
            "setMaxUnconfirmedByAssetAndChannel",
            json!(["base", "1000"])
        )
        .await,
        json!([])
    );
    assert_eq!(
        ok(
            &b,
            "setMinimumTimeToWaitForUnconfirmedPaymentByAsset",
            json!(["base", 5])
        )
        .await,
        json!([])
    );
    let (limits, wait) = net.b.unconfirmed_credit();
    assert_eq!((limits.total, limits.per_channel, wait), (5000, 1000, 5));
    let message = refused(&b, "setMaxUnconfirmedByAsset", json!(["gold", 1])).await;
    assert!(message.contains("native asset"), "{message}");

    // The native methods are not served here.
    match call(&a, "channel_info", json!({ "channel_id": id })).await {
        Err(ClientError::Call(object)) => assert_eq!(object.code(), -32601),
        other => panic!("channel_info on the aa listener: {other:?}"),
    }

    // close answers [] and the channel ends "closed".
    assert_eq!(ok(&a, "close", json!([id])).await, json!([]));
    let status = ok(&a, "getBalancesAndStatus", json!([id])).await;
    assert_eq!(status["status"], "closed", "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aa_listener_wants_the_token() {
    let net = Net::new(true).await;
    let url = net.rpc_a.aa_url().unwrap();
    let anonymous = client::http(&url, "wrong-token-0123456789abcdef").unwrap();
    match call(
        &anonymous,
        "getChannelsForPeer",
        json!([json!(net.b.address())]),
    )
    .await
    {
        Err(ClientError::Transport(e)) => assert!(e.to_string().contains("401"), "{e}"),
        other => panic!("expected 401, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_loopback_is_opt_in_and_never_for_browsers() {
    use jsonrpsee::http_client::{HeaderMap, HeaderValue, HttpClientBuilder};
    use paychan_rpc::{RpcConfig, RpcServerBuilder, aa_compat::AaCompatConfig};

    let net = Net::new(true).await;
    let server = RpcServerBuilder::new(
        net.a.clone(),
        RpcConfig::new(crate::harness::TOKEN)
            .with_listen("127.0.0.1:0".parse().unwrap())
            .with_allowed_origins(vec![crate::harness::ALLOWED_ORIGIN.to_owned()]),
    )
    .aa_compat(
        AaCompatConfig::default()
            .with_listen("127.0.0.1:0".parse().unwrap())
            .with_unauthenticated_loopback(true),
    )
    .start()
    .await
    .unwrap();
    let url = server.aa_url().unwrap();
    let client = |origin: Option<&str>| {
        let mut headers = HeaderMap::new();
        if let Some(origin) = origin {
            headers.insert("origin", HeaderValue::from_str(origin).unwrap());
        }
        HttpClientBuilder::default()
            .set_headers(headers)
            .build(&url)
            .unwrap()
    };
    let params = json!([json!(net.b.address())]);
    // No token, on loopback, no Origin: allowed.
    let message = refused(&client(None), "getChannelsForPeer", params.clone()).await;
    assert!(message.contains("no channel"), "{message}");
    // A browser, even an allowed origin, still needs the token; others are forbidden.
    for (origin, status) in [
        (crate::harness::ALLOWED_ORIGIN, "401"),
        ("https://evil.example", "403"),
    ] {
        match call(&client(Some(origin)), "getChannelsForPeer", params.clone()).await {
            Err(ClientError::Transport(e)) => assert!(e.to_string().contains(status), "{e}"),
            other => panic!("{origin}: expected {status}, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_api_sets_unconfirmed_credit_too() {
    let net = Net::new(true).await;
    let client = net.http_a();
    let set = ok(
        &client,
        "set_unconfirmed_credit",
        json!({ "per_channel": "10", "total": 20, "min_wait": 3 }),
    )
    .await;
    assert_eq!(
        set,
        json!({ "per_channel": "10", "total": "20", "min_wait": 3 })
    );
    let read = ok(&client, "set_unconfirmed_credit", json!({})).await;
    assert_eq!(read, set);
    let (limits, wait) = net.a.unconfirmed_credit();
    assert_eq!((limits.per_channel, limits.total, wait), (10, 20, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_tokens_are_refused_on_the_aa_listener() {
    use std::sync::Arc;

    use paychan_core::SigningKey;
    use paychan_ledger::LedgerQuery;
    use paychan_rpc::{
        RpcConfig, RpcServerBuilder, aa_compat::AaCompatConfig, method, tokens::TokenRegistry,
    };
    use paychan_store::{Durability, Store, sqlite::SqliteStore};

    use crate::harness::TOKEN;

    let net = Net::new(true).await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path().join("t.db"), Durability::Normal).unwrap());
    let tokens = Arc::new(TokenRegistry::open([7; 32], store).await.unwrap());
    let query: Arc<dyn LedgerQuery> = Arc::new(
        net.ledger
            .account(SigningKey::from_entropy(&[51; 32]).unwrap()),
    );
    let server = RpcServerBuilder::new(
        net.a.clone(),
        RpcConfig::new(TOKEN).with_listen("127.0.0.1:0".parse().unwrap()),
    )
    .ledger(query)
    .tokens(tokens)
    .aa_compat(AaCompatConfig::default().with_listen("127.0.0.1:0".parse().unwrap()))
    .start()
    .await
    .unwrap();
    let full = client::http(&server.url(), TOKEN).unwrap();
    let created = ok(&full, method::CREATE_TOKEN, json!({ "scopes": ["read"] })).await;
    let scoped = created["token"].as_str().unwrap().to_owned();
    // Accepted by the native API within its scope...
    ok(
        &client::http(&server.url(), &scoped).unwrap(),
        method::NODE_INFO,
        json!({}),
    )
    .await;
    // ...refused by the aa listener, which has no per-method scope checks.
    let aa = client::http(&server.aa_url().unwrap(), &scoped).unwrap();
    match call(&aa, "getChannelsForPeer", json!([json!(net.b.address())])).await {
        Err(ClientError::Transport(e)) => assert!(e.to_string().contains("401"), "{e}"),
        other => panic!("expected 401, got {other:?}"),
    }
    // The full-access token works there.
    let aa_full = client::http(&server.aa_url().unwrap(), TOKEN).unwrap();
    let message = refused(
        &aa_full,
        "getChannelsForPeer",
        json!([json!(net.b.address())]),
    )
    .await;
    assert!(message.contains("no channel"), "{message}");
}
