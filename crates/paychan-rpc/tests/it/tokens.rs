//! Scoped tokens over real HTTP and WebSocket: each scope reaches its methods and is refused
//! (code 1907, nothing changed) outside them, in batches too; a `pay` token's limit holds
//! across calls, refunds what a failed call did not pay, survives a restart of the API and its
//! store, and starts over in the next period; a revoked token stops at once, on an open
//! WebSocket connection too; the full-access token keeps working.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use jsonrpsee::{
    core::{
        ClientError,
        client::{ClientT, SubscriptionClientT},
        params::BatchRequestBuilder,
    },
    rpc_params,
};
use paychan_core::SigningKey;
use paychan_ledger::LedgerQuery;
use paychan_node::Node;
use paychan_rpc::{RpcConfig, RpcServer, RpcServerBuilder, client, method, tokens::TokenRegistry};
use paychan_store::{Durability, Store, sqlite::SqliteStore};
use serde_json::{Value, json};

use crate::harness::{Net, TOKEN, err, ok};

const ROOT: [u8; 32] = [9; 32];

async fn registry(path: &Path, clock: Arc<AtomicU64>) -> Arc<TokenRegistry> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(path, Durability::Normal).unwrap());
    Arc::new(
        TokenRegistry::open(ROOT, store)
            .await
            .unwrap()
            .with_clock(Arc::new(move || clock.load(Ordering::SeqCst))),
    )
}

/// A second API server for `node` (key from `seed`, as the harness makes them) with tokens.
async fn serve(net: &Net, node: &Node, seed: u8, tokens: Arc<TokenRegistry>) -> RpcServer {
    let key = SigningKey::from_entropy(&[seed; 32]).unwrap();
    let query: Arc<dyn LedgerQuery> = Arc::new(net.ledger.account(key));
    RpcServerBuilder::new(
        node.clone(),
        RpcConfig::new(TOKEN).with_listen("127.0.0.1:0".parse().unwrap()),
    )
    .ledger(query)
    .tokens(tokens)
    .start()
    .await
    .unwrap()
}

async fn create(server: &RpcServer, params: Value) -> String {
    let full = client::http(&server.url(), TOKEN).unwrap();
    let created = ok(&full, method::CREATE_TOKEN, params).await;
    created["token"].as_str().unwrap().to_owned()
}

fn denied(answer: (i32, paychan_rpc::ErrorData)) -> String {
    assert_eq!(answer.0, -34907, "{answer:?}");
    assert_eq!(answer.1.code, 1907, "{answer:?}");
    answer.1.message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_scope_reaches_its_methods_and_nothing_else() {
    let net = Net::new(true).await;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicU64::new(1_000_000));
    let api_a = serve(
        &net,
        &net.a,
        51,
        registry(&dir.path().join("a.db"), clock.clone()).await,
    )
    .await;
    let api_b = serve(
        &net,
        &net.b,
        52,
        registry(&dir.path().join("b.db"), clock).await,
    )
    .await;
    let full_a = client::http(&api_a.url(), TOKEN).unwrap();

    // The full-access token still does everything: open a channel A -> B.
    let id = ok(
        &full_a,
        method::OPEN_CHANNEL,
        json!({ "peer": net.b.address(), "deposit": 1000 }),
    )
    .await["channel_id"]
        .clone();

    // read: reads, nothing else.
    let read = create(&api_a, json!({ "scopes": ["read"], "label": "dashboard" })).await;
    assert!(read.starts_with("pct1."), "{read}");
    let reader = client::http(&api_a.url(), &read).unwrap();
    ok(&reader, method::NODE_INFO, json!({})).await;
    assert_eq!(
        ok(&reader, method::LIST_CHANNELS, json!({}))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    ok(&reader, method::CHANNEL_INFO, json!({ "channel_id": id })).await;
    let before = net.snapshot().await;
    let message = denied(
        err(
            &reader,
            method::PAY,
            json!({ "channel_id": id, "amount": 1 }),
        )
        .await,
    );
    assert!(message.contains("pay needs the pay scope"), "{message}");
    for (m, params) in [
        (
            method::OPEN_CHANNEL,
            json!({ "peer": net.b.address(), "deposit": 10 }),
        ),
        (method::DEPOSIT, json!({ "channel_id": id, "amount": 1 })),
        (method::WITHDRAW, json!({ "channel_id": id, "amount": 1 })),
        (method::CLOSE, json!({ "channel_id": id })),
        (
            method::CREATE_PAYMENT_PACKAGE,
            json!({ "channel_id": id, "amount": 1 }),
        ),
        (method::aa::SEND_MESSAGE_AND_PAY, json!([id, "x", 1])),
        (
            method::ADD_CONTACT,
            json!({ "alias": "bob", "peer": net.b.address() }),
        ),
        (
            method::CREATE_TOKEN,
            json!({ "scopes": ["pay"], "limit": 5, "period": 60 }),
        ),
        (method::LIST_TOKENS, json!({})),
        (method::VERIFY_PAYMENT_PACKAGE, json!({ "package": "x" })),
    ] {
        denied(err(&reader, m, params).await);
    }
    assert_eq!(
        net.snapshot().await,
        before,
        "a refused call changed something"
    );
    // An unknown method is refused as outside the scope too.
    let message = denied(err(&reader, "rpc.discover", json!({})).await);
    assert!(message.contains("full-access token"), "{message}");

    // A batch: the allowed call runs, the refused one answers 1907.
    let mut batch = BatchRequestBuilder::new();
    batch.insert(method::NODE_INFO, rpc_params![]).unwrap();
    batch
        .insert(method::PAY, rpc_params![id.clone(), 1])
        .unwrap();
    let answers = reader.batch_request::<Value>(batch).await.unwrap();
    let answers: Vec<_> = answers.into_iter().collect();
    assert!(answers[0].is_ok(), "{answers:?}");
    let refused = answers[1].as_ref().unwrap_err();
    assert_eq!(refused.code(), -34907, "{refused:?}");
    assert_eq!(net.snapshot().await, before);

    // verify (on B, the payee): node_info and verify_payment_package, nothing else.
    let verify = create(&api_b, json!({ "scopes": ["verify"] })).await;
    let verifier = client::http(&api_b.url(), &verify).unwrap();
    ok(&verifier, method::NODE_INFO, json!({})).await;
    let package = ok(
        &full_a,
        method::CREATE_PAYMENT_PACKAGE,
        json!({ "channel_id": id, "amount": 7 }),
    )
    .await;
    let checked = ok(
        &verifier,
        method::VERIFY_PAYMENT_PACKAGE,
        json!({ "package": package["compact"], "min_amount": 7, "dry_run": true }),
    )
    .await;
    assert_eq!(checked["amount"], "7");
    let verified = ok(
        &verifier,
        method::VERIFY_PAYMENT_PACKAGE,
        json!({ "package": package["compact"], "min_amount": 7 }),
    )
    .await;
    assert_eq!(verified["amount"], "7");
    let before = net.snapshot().await;
    for (m, params) in [
        (method::LIST_CHANNELS, json!({})),
        (method::PAY, json!({ "channel_id": id, "amount": 1 })),
        (
            method::CREATE_PAYMENT_PACKAGE,
            json!({ "channel_id": id, "amount": 1 }),
        ),
        (method::CLOSE, json!({ "channel_id": id })),
        (method::SUBSCRIBE_PAYMENTS, json!({})),
    ] {
        denied(err(&verifier, m, params).await);
    }
    assert_eq!(net.snapshot().await, before);

    // pay, over WebSocket: up to 100 per hour.
    let pay = create(
        &api_a,
        json!({ "scopes": ["pay"], "limit": "100", "period": 3600 }),
    )
    .await;
    let payer = client::ws(&api_a.ws_url(), &pay).await.unwrap();
    ok(&payer, method::LIST_CHANNELS, json!({})).await;
    ok(
        &payer,
        method::PAY,
        json!({ "channel_id": id, "amount": 60, "message": "a" }),
    )
    .await;
    let before = net.snapshot().await;
    let (code, data) = err(
        &payer,
        method::PAY,
        json!({ "channel_id": id, "amount": 41 }),
    )
    .await;
    assert_eq!((code, data.code), (-34908, 1908), "{data:?}");
    assert!(data.message.contains("60 of 100"), "{}", data.message);
    let (_, data) = err(&payer, method::aa::CREATE_PAYMENT_PACKAGE, json!([id, 41])).await;
    assert_eq!(data.code, 1908);
    assert_eq!(
        net.snapshot().await,
        before,
        "a refused payment changed something"
    );
    // A call that fails without paying takes its amount back.
    let unknown = format!("0x{}", "ab".repeat(32));
    let (_, data) = err(
        &payer,
        method::PAY,
        json!({ "channel_id": unknown, "amount": 40 }),
    )
    .await;
    assert_eq!(data.code, 1001);
    ok(
        &payer,
        method::aa::SEND_MESSAGE_AND_PAY,
        json!([id, "b", 30]),
    )
    .await;
    ok(
        &payer,
        method::CREATE_PAYMENT_PACKAGE,
        json!({ "channel_id": id, "amount": 10 }),
    )
    .await;
    let (_, data) = err(
        &payer,
        method::PAY,
        json!({ "channel_id": id, "amount": 1 }),
    )
    .await;
    assert_eq!(data.code, 1908);
    for (m, params) in [
        (method::CLOSE, json!({ "channel_id": id })),
        (method::DEPOSIT, json!({ "channel_id": id, "amount": 1 })),
        (
            method::SET_AUTO_REFILL,
            json!({ "channel_id": id, "threshold": 1, "amount": 1 }),
        ),
        (
            method::VERIFY_PAYMENT_PACKAGE,
            json!({ "package": package["compact"] }),
        ),
        (method::REVOKE_TOKEN, json!({ "id": 1 })),
    ] {
        denied(err(&payer, m, params).await);
    }
    let info = ok(&full_a, method::CHANNEL_INFO, json!({ "channel_id": id })).await;
    assert_eq!(
        info["balances"]["paid_by_me"], "107",
        "60 + 30 + 10 + the verified 7"
    );
    let tokens = ok(&full_a, method::LIST_TOKENS, json!({})).await;
    let listed = tokens.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["scopes"], json!(["read"]));
    assert_eq!(listed[0]["label"], "dashboard");
    assert_eq!(listed[1]["spent"], "100");
    assert_eq!(listed[1]["limit"], "100");

    // A read token's event subscription ends once the token is revoked.
    let watcher = client::ws(&api_a.ws_url(), &read).await.unwrap();
    let mut events: jsonrpsee::core::client::Subscription<Value> = watcher
        .subscribe(
            method::SUBSCRIBE_EVENTS,
            rpc_params![],
            method::UNSUBSCRIBE_EVENTS,
        )
        .await
        .unwrap();
    ok(
        &full_a,
        method::PAY,
        json!({ "channel_id": id, "amount": 1 }),
    )
    .await;
    let seen = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .unwrap();
    assert!(matches!(seen, Some(Ok(_))), "{seen:?}");
    let read_id = listed[0]["id"].clone();
    ok(&full_a, method::REVOKE_TOKEN, json!({ "id": read_id })).await;
    ok(
        &full_a,
        method::PAY,
        json!({ "channel_id": id, "amount": 1 }),
    )
    .await;
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(_)) = events.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the revoked token's subscription goes on");

    // Revocation: at once, on the open WebSocket connection too; new connections get 401.
    let pay_id = listed[1]["id"].clone();
    let revoked = ok(&full_a, method::REVOKE_TOKEN, json!({ "id": pay_id })).await;
    assert_eq!(revoked["revoked"], true);
    let message = denied(err(&payer, method::LIST_CHANNELS, json!({})).await);
    assert!(message.contains("revoked"), "{message}");
    match client::ws(&api_a.ws_url(), &pay).await {
        Err(e) => assert!(e.to_string().contains("401"), "{e}"),
        Ok(_) => panic!("a revoked token opened a WebSocket connection"),
    }
    let revoked_http = client::http(&api_a.url(), &pay).unwrap();
    match revoked_http
        .request::<Value, _>(method::NODE_INFO, rpc_params![])
        .await
    {
        Err(ClientError::Transport(e)) => assert!(e.to_string().contains("401"), "{e}"),
        other => panic!("a revoked token was answered: {other:?}"),
    }
    let (_, data) = err(&full_a, method::REVOKE_TOKEN, json!({ "id": 99 })).await;
    assert_eq!(data.code, 1909);
    // A token with a forged scope (another root key) is refused at the door.
    let forged = paychan_rpc::tokens::format::mint(
        &[8; 32],
        &paychan_rpc::tokens::Claims {
            id: 1,
            scopes: vec![paychan_rpc::tokens::Scope::Pay],
            limit: None,
        },
    );
    let forger = client::http(&api_a.url(), &forged).unwrap();
    assert!(
        forger
            .request::<Value, _>(method::NODE_INFO, rpc_params![])
            .await
            .is_err()
    );
    // Bad creations are refused.
    for params in [
        json!({ "scopes": [] }),
        json!({ "scopes": ["pay"] }),
        json!({ "scopes": ["pay"], "limit": 10 }),
        json!({ "scopes": ["read"], "limit": 10, "period": 60 }),
        json!({ "scopes": ["admin"] }),
        json!({ "scopes": ["pay"], "limit": 0, "period": 60 }),
    ] {
        let (_, data) = err(&full_a, method::CREATE_TOKEN, params.clone()).await;
        assert_eq!(data.code, 1000, "{params}: {data:?}");
    }
    // Without a registry, the API offers no tokens.
    let (_, data) = err(&net.http_a(), method::LIST_TOKENS, json!({})).await;
    assert_eq!(data.code, 1910);
    net.conserved();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pay_limit_holds_across_a_restart_and_starts_over_each_period() {
    let net = Net::new(true).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.db");
    let clock = Arc::new(AtomicU64::new(1_000_000));
    let api = serve(&net, &net.a, 51, registry(&path, clock.clone()).await).await;
    let full = client::http(&api.url(), TOKEN).unwrap();
    let id = ok(
        &full,
        method::OPEN_CHANNEL,
        json!({ "peer": net.b.address(), "deposit": 1000 }),
    )
    .await["channel_id"]
        .clone();
    let pay = create(
        &api,
        json!({ "scopes": ["pay"], "limit": 100, "period": 3600 }),
    )
    .await;
    let payer = client::http(&api.url(), &pay).unwrap();
    ok(
        &payer,
        method::PAY,
        json!({ "channel_id": id, "amount": 70 }),
    )
    .await;

    // Restart: the API and its store go away and come back.
    api.stop();
    api.stopped().await;
    drop((full, payer));
    let api = serve(&net, &net.a, 51, registry(&path, clock.clone()).await).await;
    let payer = client::http(&api.url(), &pay).unwrap();
    let (_, data) = err(
        &payer,
        method::PAY,
        json!({ "channel_id": id, "amount": 31 }),
    )
    .await;
    assert_eq!(data.code, 1908, "the restart reset the counter: {data:?}");
    ok(
        &payer,
        method::PAY,
        json!({ "channel_id": id, "amount": 30 }),
    )
    .await;
    let (_, data) = err(
        &payer,
        method::PAY,
        json!({ "channel_id": id, "amount": 1 }),
    )
    .await;
    assert_eq!(data.code, 1908);

    // The clock going back does not reopen the period; the next period starts from zero.
    clock.store(999_000, Ordering::SeqCst);
    let (_, data) = err(
        &payer,
        method::PAY,
        json!({ "channel_id": id, "amount": 1 }),
    )
    .await;
    assert_eq!(data.code, 1908);
    clock.store(1_000_000 + 3600, Ordering::SeqCst);
    ok(
        &payer,
        method::PAY,
        json!({ "channel_id": id, "amount": 100 }),
    )
    .await;
    let (_, data) = err(
        &payer,
        method::PAY,
        json!({ "channel_id": id, "amount": 1 }),
    )
    .await;
    assert_eq!(data.code, 1908);
    let full = client::http(&api.url(), TOKEN).unwrap();
    let info = ok(&full, method::CHANNEL_INFO, json!({ "channel_id": id })).await;
    assert_eq!(info["balances"]["paid_by_me"], "200");
    let listed = ok(&full, method::LIST_TOKENS, json!({})).await;
    assert_eq!(listed[0]["spent"], "100");
    assert_eq!(listed[0]["period_ends"], 1_000_000 + 7200);
}
