//! Payment packages over HTTP and WebSocket: A opens on the ledger without asking B, pays
//! by packages that B verifies through its own API; replays, forgeries and bad params are
//! client errors that change nothing; the aa-channels names work too.

use jsonrpsee::core::client::ClientT;
use paychan_rpc::method;
use serde_json::json;

use crate::harness::{FUNDS, Net, TOKEN, err, ok};

async fn packages_flow<A: ClientT + Sync, B: ClientT + Sync>(net: &Net, a: &A, b: &B) {
    let opened = ok(
        a,
        method::OPEN_CHANNEL,
        json!({ "peer": net.b.address(), "deposit": 1000, "propose": false }),
    )
    .await;
    let id = opened["channel_id"].clone();
    assert_eq!(opened["status"], "open");
    assert_eq!(ok(b, method::LIST_CHANNELS, json!({})).await, json!([]));

    // As an object.
    let created = ok(
        a,
        method::CREATE_PAYMENT_PACKAGE,
        json!({ "channel_id": id, "amount": "25", "message": { "GET": "/weather" } }),
    )
    .await;
    assert_eq!(created["package"]["version"], 1);
    assert_eq!(created["package"]["voucher"]["cumulative"], "25");
    let verified = ok(
        b,
        method::VERIFY_PAYMENT_PACKAGE,
        json!({ "package": created["package"] }),
    )
    .await;
    assert_eq!(verified["amount"], "25");
    assert_eq!(verified["remaining"], "975");
    assert_eq!(verified["payer"], json!(net.a.address()));
    assert_eq!(verified["message"], json!({ "GET": "/weather" }));
    // B has learnt the channel.
    let on_b = ok(b, method::CHANNEL_INFO, json!({ "channel_id": id })).await;
    assert_eq!(on_b["balances"]["paid_by_peer"], "25");

    // The compact form, through the aa-channels names.
    let created = ok(
        a,
        method::aa::CREATE_PAYMENT_PACKAGE,
        json!([id, 5, "compact"]),
    )
    .await;
    let compact = created["compact"].as_str().unwrap().to_owned();
    assert!(!compact.contains(['+', '/', '=']), "base64url: {compact}");
    let verified = ok(b, method::aa::VERIFY_PAYMENT_PACKAGE, json!([compact])).await;
    assert_eq!(
        (verified["amount"].clone(), verified["cumulative"].clone()),
        (json!("5"), json!("30"))
    );

    // A package paying less than the price it is verified against.
    let small = ok(
        a,
        method::CREATE_PAYMENT_PACKAGE,
        json!({ "channel_id": id, "amount": 3 }),
    )
    .await;

    // Refusals change nothing.
    let before = net.snapshot().await;
    let mut tampered = created["package"].clone();
    tampered["voucher"]["cumulative"] = json!("999");
    let unknown = format!("0x{}", "ab".repeat(32));
    for (m, params, code) in [
        (
            method::VERIFY_PAYMENT_PACKAGE,
            json!({ "package": compact }),
            1009,
        ),
        (
            method::VERIFY_PAYMENT_PACKAGE,
            json!({ "package": tampered }),
            1009,
        ),
        (
            method::VERIFY_PAYMENT_PACKAGE,
            json!({ "package": "bm90IGEgcGFja2FnZQ" }),
            1009,
        ),
        (
            method::VERIFY_PAYMENT_PACKAGE,
            json!({ "package": "{}" }),
            1009,
        ),
        (
            method::VERIFY_PAYMENT_PACKAGE,
            json!({ "package": 5 }),
            1000,
        ),
        (method::VERIFY_PAYMENT_PACKAGE, json!({}), 1000),
        (
            method::VERIFY_PAYMENT_PACKAGE,
            json!({ "package": small["package"], "min_amount": "4" }),
            1009,
        ),
        (
            method::VERIFY_PAYMENT_PACKAGE,
            json!([small["compact"], 4]),
            1009,
        ),
        (
            method::VERIFY_PAYMENT_PACKAGE,
            json!({ "package": small["compact"], "min_amount": -4 }),
            1000,
        ),
        (
            method::CREATE_PAYMENT_PACKAGE,
            json!({ "channel_id": id, "amount": 0 }),
            1000,
        ),
        (
            method::CREATE_PAYMENT_PACKAGE,
            json!({ "channel_id": id, "amount": -1 }),
            1000,
        ),
        (
            method::CREATE_PAYMENT_PACKAGE,
            json!({ "channel_id": id }),
            1000,
        ),
        (
            method::CREATE_PAYMENT_PACKAGE,
            json!({ "channel_id": unknown, "amount": 1 }),
            1001,
        ),
        (
            method::CREATE_PAYMENT_PACKAGE,
            json!({ "channel_id": id, "amount": FUNDS.to_string() }),
            1002,
        ),
    ] {
        let client_is_b = m == method::VERIFY_PAYMENT_PACKAGE;
        let (_, data) = if client_is_b {
            err(b, m, params.clone()).await
        } else {
            err(a, m, params.clone()).await
        };
        assert_eq!(data.code, code, "{m} {params}: {}", data.message);
    }
    // A package for A is not B's to verify, and A does not pay itself.
    let (_, data) = err(
        a,
        method::VERIFY_PAYMENT_PACKAGE,
        json!({ "package": created["package"] }),
    )
    .await;
    assert_eq!(data.code, 1009, "{}", data.message);
    assert_eq!(net.snapshot().await, before);
    // At its price, the same package is accepted.
    let verified = ok(
        b,
        method::VERIFY_PAYMENT_PACKAGE,
        json!([small["compact"], 3]),
    )
    .await;
    assert_eq!(verified["amount"], "3");
    net.conserved();
}

/// Packages B refuses are taken back by A over the API, so the next one pays only its own
/// amount (the refused ones stayed counted before `cancel_payment_package` existed: three
/// refused packages of 5, 10 and 10 made the next call of 10 cost 35).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_packages_are_taken_back_over_the_api() {
    let net = Net::new(false).await;
    let (a, b) = (net.http_a(), net.ws_b().await);
    let opened = ok(
        &a,
        method::OPEN_CHANNEL,
        json!({ "peer": net.b.address(), "deposit": 1000, "propose": false }),
    )
    .await;
    let id = opened["channel_id"].clone();
    for amount in [5, 10, 10] {
        let created = ok(
            &a,
            method::CREATE_PAYMENT_PACKAGE,
            json!({ "channel_id": id, "amount": amount }),
        )
        .await;
        // B's price is 20: refused, not recorded.
        let (_, data) = err(
            &b,
            method::VERIFY_PAYMENT_PACKAGE,
            json!({ "package": created["compact"], "min_amount": "20" }),
        )
        .await;
        assert_eq!(data.code, 1009, "{}", data.message);
        assert_eq!(data.reason.as_deref(), Some("package.underpaid"));
        let channel = ok(
            &a,
            method::CANCEL_PAYMENT_PACKAGE,
            json!({ "package": created["compact"] }),
        )
        .await;
        assert_eq!(channel["balances"]["paid_by_me"], "0");
        assert_eq!(channel["balances"]["my_available"], "1000");
        // Taken back once: a second cancel of it is refused and changes nothing.
        let (_, data) = err(
            &a,
            method::CANCEL_PAYMENT_PACKAGE,
            json!({ "package": created["package"] }),
        )
        .await;
        assert_eq!(data.code, 1003, "{}", data.message);
        assert_eq!(data.reason.as_deref(), Some("command.nothing_pending"));
    }
    let paid = ok(
        &a,
        method::CREATE_PAYMENT_PACKAGE,
        json!({ "channel_id": id, "amount": 20 }),
    )
    .await;
    let verified = ok(
        &b,
        method::VERIFY_PAYMENT_PACKAGE,
        json!({ "package": paid["compact"], "min_amount": "20" }),
    )
    .await;
    assert_eq!(verified["amount"], "20", "nothing refused was charged");
    assert_eq!(verified["cumulative"], "20");
    // Bad params are refused and change nothing.
    let before = net.snapshot().await;
    for (params, code) in [
        (json!({ "package": "bm90IGEgcGFja2FnZQ" }), 1009),
        (json!({ "package": 5 }), 1000),
        (json!({}), 1000),
    ] {
        let (_, data) = err(&a, method::CANCEL_PAYMENT_PACKAGE, params.clone()).await;
        assert_eq!(data.code, code, "{params}: {}", data.message);
    }
    assert_eq!(net.snapshot().await, before);
    net.conserved();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packages_over_http() {
    let net = Net::new(false).await;
    let b = paychan_rpc::client::http(&net.rpc_b.url(), TOKEN).unwrap();
    packages_flow(&net, &net.http_a(), &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packages_over_websocket() {
    let net = Net::new(false).await;
    packages_flow(&net, &net.ws_a().await, &net.ws_b().await).await;
}
