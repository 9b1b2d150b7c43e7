//! `paychan_http::proxy` in front of a plain upstream, verifying through the payee node's
//! JSON-RPC API (what `paychan proxy` does).

use std::sync::Arc;

use axum::{
    Router,
    routing::{get, post},
};
use paychan_http::{ClientConfig, HttpPayError, Paywall, RpcVerifier, Verifier, proxy};
use paychan_rpc::{RpcConfig, RpcServerBuilder};

use crate::harness::{Net, serve};

const TOKEN: &str = "proxy-test-token-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_charges_for_an_upstream_through_the_payees_api() {
    let net = Net::new().await;
    let upstream =
        Router::new()
            .route("/hello", get(|| async { "hello from upstream" }))
            .route("/echo", post(|body: String| async move { body }))
            .route(
                "/auth",
                get(|headers: http::HeaderMap| async move {
                    format!("{:?}", headers.get("authorization"))
                }),
            );
    let upstream = serve(upstream).await;
    let rpc = RpcServerBuilder::new(
        net.b.clone(),
        RpcConfig::new(TOKEN).with_listen("127.0.0.1:0".parse().unwrap()),
    )
    .start()
    .await
    .unwrap();
    let remote = RpcVerifier::new(&rpc.url(), TOKEN).unwrap();
    let challenge = remote.challenge(3).await.unwrap();
    assert_eq!(challenge.payee, net.b.address());
    let verifier: Arc<dyn Verifier> = Arc::new(remote);
    let paywall = Paywall::new(verifier, challenge).free_paths(vec!["/health".into()]);
    let router = proxy::router(
        format!("http://{upstream}").parse().unwrap(),
        reqwest::Client::new(),
        paywall,
    );
    let addr = serve(router).await;

    assert_eq!(
        reqwest::get(format!("http://{addr}/hello"))
            .await
            .unwrap()
            .status(),
        402
    );
    let client = net.client(ClientConfig::default());
    let hello = client.get(&format!("http://{addr}/hello")).await.unwrap();
    assert_eq!(hello.paid, 3);
    assert!(hello.receipt.is_some());
    assert_eq!(hello.response.text().await.unwrap(), "hello from upstream");
    // Bodies go through; the package does not reach the upstream.
    let echo = client
        .execute(
            client
                .http()
                .post(format!("http://{addr}/echo"))
                .body("ping")
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(echo.response.text().await.unwrap(), "ping");
    let auth = client.get(&format!("http://{addr}/auth")).await.unwrap();
    assert_eq!(auth.response.text().await.unwrap(), "None");
    // A free path is proxied without payment (the upstream has no such route: 404).
    let health = client.get(&format!("http://{addr}/health")).await.unwrap();
    assert_eq!((health.response.status().as_u16(), health.paid), (404, 0));
    assert_eq!(net.b_received().await, 9);
    assert_eq!(net.a_paid().await, 9);
}

/// Issue 17, defect 2: a call the upstream did not serve (unreachable, or a `5xx`) is not
/// charged: the paywall answers `502 service_failed` without recording the package, the
/// client takes it back, and the next served call pays only its own price.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_the_upstream_did_not_serve_is_not_charged() {
    let net = Net::new().await;
    let upstream = Router::new()
        .route("/hello", get(|| async { "hello from upstream" }))
        .route(
            "/broken",
            get(|| async { (http::StatusCode::BAD_GATEWAY, "its own upstream is down") }),
        );
    let upstream = serve(upstream).await;
    // A port nothing listens on any more.
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let rpc = RpcServerBuilder::new(
        net.b.clone(),
        RpcConfig::new(TOKEN).with_listen("127.0.0.1:0".parse().unwrap()),
    )
    .start()
    .await
    .unwrap();
    let remote = RpcVerifier::new(&rpc.url(), TOKEN).unwrap();
    let challenge = remote.challenge(3).await.unwrap();
    let verifier: Arc<dyn Verifier> = Arc::new(remote);
    let paywall = Paywall::new(verifier, challenge);
    let live = serve(proxy::router(
        format!("http://{upstream}").parse().unwrap(),
        reqwest::Client::new(),
        paywall.clone(),
    ))
    .await;
    let dead = serve(proxy::router(
        format!("http://{down}").parse().unwrap(),
        reqwest::Client::new(),
        paywall,
    ))
    .await;

    let client = net.client(ClientConfig::default());
    for url in [
        format!("http://{dead}/hello"),
        format!("http://{live}/broken"),
    ] {
        let Err(refused) = client.get(&url).await else {
            panic!("{url}: answered as served");
        };
        assert!(
            matches!(&refused, HttpPayError::Refused { code, .. } if code == "service_failed"),
            "{url}: {refused}"
        );
        assert_eq!(net.b_received().await, 0, "{url}: recorded");
        assert_eq!(net.a_paid().await, 0, "{url}: not taken back");
    }
    // Without a package the proxy asks for payment before it tries the upstream.
    let raw = reqwest::Client::new()
        .get(format!("http://{dead}/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 402, "no package: the challenge first");

    let hello = client.get(&format!("http://{live}/hello")).await.unwrap();
    assert_eq!(hello.paid, 3);
    assert_eq!(hello.response.text().await.unwrap(), "hello from upstream");
    assert_eq!(net.b_received().await, 3);
    assert_eq!(net.a_paid().await, 3);
}
