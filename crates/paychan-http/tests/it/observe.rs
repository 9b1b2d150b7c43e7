//! The paywall's outcome of each call as the `CallLog` layer counts it, and the node's
//! counters behind it: free, paid (amount and payer), refused by code, a service failure
//! not charged; a package taken back after a refusal is counted as taken back.

use std::sync::Arc;

use axum::{Router, routing::get};
use paychan_http::{CallLog, PaywallMetrics, header::authorization, paywall::binding};
use paychan_node::PaymentPackage;

use crate::harness::{Net, PRICE, serve};

async fn call(url: &str, package: Option<&PaymentPackage>) -> u16 {
    let mut request = reqwest::Client::new().get(url);
    if let Some(package) = package {
        request = request.header("authorization", authorization(&package.to_compact()));
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_is_counted_by_its_outcome_and_the_nodes_count_what_moved() {
    let net = Net::new().await;
    let metrics = Arc::new(PaywallMetrics::default());
    let paywall = net.paywall().free_paths(vec!["/health".into()]);
    let app = Router::new()
        .route("/weather", get(|| async { "sunny" }))
        .route("/health", get(|| async { "ok" }))
        .route(
            "/broken",
            get(|| async { (http::StatusCode::INTERNAL_SERVER_ERROR, "down") }),
        )
        .layer(paywall)
        .layer(CallLog::new(metrics.clone()));
    let base = format!("http://{}", serve(app).await);
    let id = net
        .a
        .open_channel_on_ledger(net.b.address(), 1_000)
        .await
        .unwrap();

    assert_eq!(call(&format!("{base}/health"), None).await, 200);
    assert_eq!(call(&format!("{base}/weather"), None).await, 402);
    for _ in 0..3 {
        let package = net
            .a
            .create_payment_package(id, PRICE + 1, Some(&binding("GET", "/weather")))
            .await
            .unwrap();
        assert_eq!(call(&format!("{base}/weather"), Some(&package)).await, 200);
    }
    // Not served: refused, not recorded, taken back by the payer.
    let broken = net
        .a
        .create_payment_package(id, PRICE, Some(&binding("GET", "/broken")))
        .await
        .unwrap();
    assert_eq!(call(&format!("{base}/broken"), Some(&broken)).await, 502);
    net.a.cancel_payment_package(&broken).await.unwrap();
    // Bound to another request: refused by the paywall itself.
    let elsewhere = net
        .a
        .create_payment_package(id, PRICE, Some(&binding("GET", "/elsewhere")))
        .await
        .unwrap();
    assert_eq!(
        call(&format!("{base}/weather"), Some(&elsewhere)).await,
        402
    );

    assert_eq!(metrics.free_calls.get(), 1);
    assert_eq!(metrics.paid_calls.get(), 3);
    assert_eq!(metrics.amount_paid.get(), 3 * (PRICE + 1));
    assert_eq!(
        metrics.refusals.snapshot(),
        vec![
            ("package_refused", 1),
            ("payment_required", 1),
            ("service_failed", 1)
        ]
    );
    assert_eq!(metrics.other_calls.get(), 0);
    assert_eq!(metrics.call_latency.snapshot().count, 7);

    // The payee counted what it recorded; the payer what it signed, and what it took back.
    let b = net.b.metrics();
    assert_eq!(b.payments_received.get(), 3);
    assert_eq!(b.amount_received.get(), 3 * (PRICE + 1));
    assert_eq!(b.receive_latency.snapshot().count, 3);
    assert!(
        b.refusals.snapshot().is_empty(),
        "the paywall refused alone"
    );
    let a = net.a.metrics();
    assert_eq!(a.payments_sent.get(), 5);
    assert_eq!(a.amount_sent.get(), 3 * (PRICE + 1) + 2 * PRICE);
    assert_eq!(a.payments_taken_back.get(), 1);
    assert_eq!(a.amount_taken_back.get(), PRICE);
    assert_eq!(net.a_paid().await, 3 * (PRICE + 1) + PRICE);
    assert_eq!(net.b_received().await, 3 * (PRICE + 1));
}
