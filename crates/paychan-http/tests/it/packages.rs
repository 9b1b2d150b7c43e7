//! Bad packages over HTTP: replayed, forged, underpaid, foreign, bound to another request.
//! Each is answered 402 `package_refused` and changes nothing at the payee.

use paychan_http::{PaymentError, header::authorization, paywall::binding};
use paychan_node::PaymentPackage;

use crate::harness::{Net, PRICE, api, serve};

async fn present(url: &str, package: &PaymentPackage) -> reqwest::Response {
    reqwest::Client::new()
        .get(url)
        .header("authorization", authorization(&package.to_compact()))
        .send()
        .await
        .unwrap()
}

async fn refused(url: &str, package: &PaymentPackage, why: &str) {
    let response = present(url, package).await;
    assert_eq!(response.status(), 402);
    let body: PaymentError = response.json().await.unwrap();
    assert_eq!(
        body.error,
        PaymentError::PACKAGE_REFUSED,
        "{}",
        body.message
    );
    assert!(
        body.message.contains(why),
        "{:?} does not say {why:?}",
        body.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_forged_underpaid_foreign_and_unbound_packages_are_refused() {
    let net = Net::new().await;
    let addr = serve(api(&net.paywall())).await;
    let url = format!("http://{addr}/weather");
    let bound = binding("GET", "/weather");
    let id = net
        .a
        .open_channel_on_ledger(net.b.address(), 1_000)
        .await
        .unwrap();

    let good = net
        .a
        .create_payment_package(id, PRICE, Some(&bound))
        .await
        .unwrap();
    assert_eq!(present(&url, &good).await.status(), 200);
    let before = net.b_state().await;

    // Replayed.
    refused(&url, &good, "sequence").await;
    // Forged: the amount raised without the payer's signature.
    let mut forged: serde_json::Value = serde_json::from_str(&good.to_json()).unwrap();
    forged["voucher"]["cumulative"] = "5".into();
    forged["voucher"]["sequence"] = 9.into();
    let forged = PaymentPackage::parse(&forged.to_string()).unwrap();
    refused(&url, &forged, "signature").await;
    // Garbage.
    let garbage = reqwest::Client::new()
        .get(&url)
        .header("authorization", "Paychan bm90IGEgcGFja2FnZQ")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 402);
    // Bound to another request: a package stolen in transit cannot pay for another call.
    let elsewhere = net
        .a
        .create_payment_package(id, PRICE, Some(&binding("GET", "/premium/10")))
        .await
        .unwrap();
    refused(&url, &elsewhere, "does not pay for this request").await;
    net.a.cancel_payment_package(&elsewhere).await.unwrap();
    // Underpaid: refused and not recorded, so the payer takes it back and loses nothing.
    let cheap = net
        .a
        .create_payment_package(id, PRICE - 1, Some(&bound))
        .await
        .unwrap();
    refused(&url, &cheap, "underpaid").await;
    net.a.cancel_payment_package(&cheap).await.unwrap();
    // Foreign: a package paying node C, presented to B.
    let to_c = net
        .a
        .open_channel_on_ledger(net.c.address(), 1_000)
        .await
        .unwrap();
    let foreign = net
        .a
        .create_payment_package(to_c, PRICE, Some(&bound))
        .await
        .unwrap();
    refused(&url, &foreign, "another node").await;
    assert_eq!(net.b_state().await, before, "refusals changed nothing at B");

    // The next honest package pays exactly the price: nothing refused was counted.
    let next = net
        .a
        .create_payment_package(id, PRICE, Some(&bound))
        .await
        .unwrap();
    let served = present(&url, &next).await;
    assert_eq!(served.status(), 200);
    let receipt =
        paychan_http::Receipt::parse(served.headers()["payment-receipt"].to_str().unwrap())
            .unwrap();
    assert_eq!((receipt.amount, receipt.cumulative), (PRICE, 2 * PRICE));
    assert_eq!(
        net.b.channel_info(id).await.unwrap().balances.paid_by_peer,
        2 * PRICE
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_paying_client_takes_back_a_refused_package() {
    // B's price rises between the 402 the client saw and its payment: the underpaid package
    // is refused, taken back, and the call is paid again at the new price, once.
    let net = Net::new().await;
    let price = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(10));
    let seen = price.clone();
    let paywall = net
        .paywall()
        .price_fn(move |_| Some(u128::from(seen.load(std::sync::atomic::Ordering::SeqCst))));
    let router = axum::Router::new()
        .route("/x", axum::routing::get(|| async { "x" }))
        .layer(paywall);
    let addr = serve(router).await;
    let client = net.client(paychan_http::ClientConfig::default());
    let url = format!("http://{addr}/x");
    assert_eq!(client.get(&url).await.unwrap().paid, 10);
    price.store(12, std::sync::atomic::Ordering::SeqCst);
    let again = client.get(&url).await.unwrap();
    assert_eq!((again.response.status().as_u16(), again.paid), (200, 12));
    assert_eq!(net.a_paid().await, 22);
    assert_eq!(net.b_received().await, 22);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_the_paywall_never_saw_is_taken_back() {
    // A front that strips `Authorization` (a misconfigured reverse proxy): the paywall answers
    // 402 `payment_required` to the paid retry too. It recorded nothing, so the client takes
    // its package back instead of counting it as paid with an unknown outcome.
    let net = Net::new().await;
    let router = axum::Router::new()
        .route("/x", axum::routing::get(|| async { "x" }))
        .layer(net.paywall())
        .layer(axum::middleware::map_request(
            |mut request: axum::extract::Request| async move {
                request.headers_mut().remove(http::header::AUTHORIZATION);
                request
            },
        ));
    let addr = serve(router).await;
    let client = net.client(paychan_http::ClientConfig::default());
    match client.get(&format!("http://{addr}/x")).await {
        Err(paychan_http::HttpPayError::Refused { code, .. }) => {
            assert_eq!(code, PaymentError::PAYMENT_REQUIRED)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(net.a_paid().await, 0, "the payer counts nothing paid");
    assert_eq!(net.b_received().await, 0);
    assert_eq!(client.spent(&format!("http://{addr}")).await, 0);
}
