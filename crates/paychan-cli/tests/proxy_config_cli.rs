//! `paychan proxy --config FILE` as an operator runs it: two services behind one proxy, one
//! by path prefix with a rate limit per payer, one priced per KiB of request body, and a
//! host rule that other hosts do not match. Calls are paid by a `PayingClient`; a call over
//! the rate limit is refused `429` and its package taken back, so the payer pays exactly for
//! the calls served.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs
)]

mod common;

use std::{fs, sync::Arc};

use common::{
    Process, command,
    nodes::{Ledger, NodeDir},
    paid::{banner_url, payer},
};
use paychan_http::{ClientConfig, HttpPayError, PayingClient};

#[test]
fn services_of_a_config_file_with_their_prices_rules_and_rate_limits() {
    let root = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ledger = Ledger::start(root.path());
    let ledger_url = ledger.url();
    let bob = NodeDir::init(root.path(), "bob", &ledger_url);
    let _bob = bob.run("bob");

    let (quotes, uploads) = runtime.block_on(async {
        let serve = |router: axum::Router| async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
            addr
        };
        let quotes =
            axum::Router::new().route(
                "/quote/{symbol}",
                axum::routing::get(
                    |axum::extract::Path(s): axum::extract::Path<String>| async move {
                        format!("{s}: 42")
                    },
                ),
            );
        let uploads = axum::Router::new().route(
            "/upload",
            axum::routing::post(|body: String| async move { format!("{} bytes", body.len()) }),
        );
        (serve(quotes).await, serve(uploads).await)
    });
    let config = root.path().join("proxy.toml");
    fs::write(
        &config,
        format!(
            r#"listen = "127.0.0.1:0"

[[service]]
name = "elsewhere"
host = "api.example"
upstream = "http://{quotes}"
price = "1"

[[service]]
name = "quotes"
upstream = "http://{quotes}"
path = "/quote/"
price = "10"
free = ["/quote/FREE"]
rate_limit = "3/1h"

[[service]]
name = "uploads"
upstream = "http://{uploads}"
path = "/upload"
price = "5"
price_per_kib = "2"
"#
        ),
    )
    .unwrap();
    let mut proxy_command = command();
    proxy_command
        .args(["proxy", "--data-dir", bob.dir(), "--config"])
        .arg(&config);
    let mut proxy = Process::spawn("proxy", proxy_command, &root.path().join("proxy.log"));
    let url = proxy.wait_for("its banner", |log| banner_url(log, "paychan proxy on "));
    let banner = proxy.log();
    assert!(banner.contains("3 services for"), "{banner}");
    assert!(
        banner.contains("quotes: */quote/ -> ")
            && banner.contains("3 calls per 1 h 0 min per payer"),
        "{banner}"
    );
    assert!(banner.contains("5 per call + 2 per KiB"), "{banner}");

    runtime.block_on(async {
        let http = reqwest::Client::new();
        // No service for this path (the host rule does not match 127.0.0.1): 404, free.
        let none = http.get(format!("{url}/elsewhere")).send().await.unwrap();
        assert_eq!(none.status(), 404);
        assert!(none.text().await.unwrap().contains("no_service"));
        let free = http.get(format!("{url}/quote/FREE")).send().await.unwrap();
        assert_eq!(free.text().await.unwrap(), "FREE: 42");
        let unpaid = http.get(format!("{url}/quote/ABC")).send().await.unwrap();
        assert_eq!(unpaid.status(), 402);

        let node = payer(&ledger_url, root.path(), 0x5c).await;
        let client = PayingClient::new(
            reqwest::Client::new(),
            Arc::new(node.clone()),
            ClientConfig::default(),
        );
        let paid_by_me = || async {
            node.channels(None)
                .await
                .iter()
                .map(|c| c.balances.paid_by_me)
                .sum::<u128>()
        };
        // Three quotes within the limit, the fourth refused with 429 and not charged.
        for symbol in ["A", "B", "C"] {
            let paid = client.get(&format!("{url}/quote/{symbol}")).await.unwrap();
            assert_eq!(paid.paid, 10);
            assert_eq!(paid.response.text().await.unwrap(), format!("{symbol}: 42"));
        }
        match client.get(&format!("{url}/quote/D")).await {
            Err(HttpPayError::Refused { code, message }) => {
                assert_eq!(code, "rate_limited");
                assert!(message.contains("try again in"), "{message}");
            }
            other => panic!("expected a rate-limit refusal, got {other:?}"),
        }
        assert_eq!(paid_by_me().await, 30);

        // Uploads: 5 per call plus 2 per KiB of body, rounded up (3,000 bytes: 3 KiB).
        let request = client
            .http()
            .post(format!("{url}/upload"))
            .body("x".repeat(3000))
            .build()
            .unwrap();
        let paid = client.execute(request).await.unwrap();
        assert_eq!(paid.paid, 5 + 2 * 3);
        assert_eq!(paid.response.text().await.unwrap(), "3000 bytes");
        assert_eq!(paid_by_me().await, 30 + 11);
    });
    drop(proxy);
    drop(ledger);
}
