//! `paychan front` as an operator runs it: a served ledger, two front processes on one
//! PostgreSQL schema (the machine's server, 127.0.0.1:5432, database `test`; a schema of this
//! test's own, dropped at the end), and no payee node at all. A payer in this process pays by
//! packages, alternating between the fronts, and presents one package to both at once: every
//! call is served once and the shared store counts exactly what was paid.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs
)]

mod common;

use common::{
    Process, command,
    paid::{banner_url, payer},
};
use paychan_core::{Address, Amount};
use paychan_store::{
    Direction, Store,
    testkit::postgres::{TestSchema, url},
};

const PRICE: Amount = 10;
#[test]
fn two_fronts_on_one_postgresql_schema_serve_and_count_each_package_once() {
    let root = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let schema = runtime.block_on(TestSchema::create());
    let store_url = format!("{}?options=-csearch_path%3D{}", url(), schema.name);

    let mut ledger_command = command();
    ledger_command
        .args(["ledger", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(root.path().join("ledger"));
    let mut ledger = Process::spawn("ledger", ledger_command, &root.path().join("ledger.log"));
    let ledger_url = ledger.wait_for("its banner", |log| {
        banner_url(log, "paychan ledger serving on ")
    });
    let upstream = runtime.block_on(async {
        let router = axum::Router::new().route(
            "/hello",
            axum::routing::get(|| async { "hello from upstream" }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        addr
    });
    let payee = Address::repeat_byte(0xb0);
    let mut fronts = vec![];
    let mut urls = vec![];
    let mut metrics = vec![];
    for name in ["front1", "front2"] {
        let mut front = command();
        front
            .arg("front")
            .args(["--store", &store_url])
            .args(["--payee", &payee.to_string()])
            .args(["--ledger-url", &ledger_url])
            .args(["--upstream", &format!("http://{upstream}")])
            .args(["--price", &PRICE.to_string()])
            .args(["--listen", "127.0.0.1:0", "--unbound"])
            .args(["--metrics-listen", "127.0.0.1:0"]);
        let mut process = Process::spawn(name, front, &root.path().join(format!("{name}.log")));
        urls.push(process.wait_for("its banner", |log| banner_url(log, "paychan front on ")));
        metrics.push(process.wait_for("its metrics", |log| banner_url(log, "  metrics ")));
        fronts.push(process);
    }

    runtime.block_on(async {
        let http = reqwest::Client::new();
        let bare = http.get(format!("{}/hello", urls[0])).send().await.unwrap();
        assert_eq!(bare.status(), 402);

        let node = payer(&ledger_url, root.path(), 0x5b).await;
        let id = node.open_channel_on_ledger(payee, 10_000).await.unwrap();
        let call = |url: &String, compact: &str| {
            http.get(format!("{url}/hello"))
                .header("authorization", format!("Paychan {compact}"))
                .send()
        };
        for n in 0..10 {
            let package = node.create_payment_package(id, PRICE, None).await.unwrap();
            let paid = call(&urls[n % 2], &package.to_compact()).await.unwrap();
            assert_eq!(paid.status(), 200);
            assert_eq!(paid.text().await.unwrap(), "hello from upstream");
        }
        // One package at both fronts at once: served by exactly one.
        let package = node.create_payment_package(id, PRICE, None).await.unwrap();
        let compact = package.to_compact();
        let (x, y) = tokio::join!(call(&urls[0], &compact), call(&urls[1], &compact));
        let served = [x.unwrap().status(), y.unwrap().status()]
            .iter()
            .filter(|s| s.is_success())
            .count();
        assert_eq!(served, 1);

        // The shared store counted eleven calls, once each.
        let store = schema.store().await;
        let payments = store
            .payments(id, Direction::Incoming, 100, None)
            .await
            .unwrap();
        assert_eq!(payments.len(), 11);
        assert_eq!(
            payments.iter().map(|p| p.amount).sum::<Amount>(),
            11 * PRICE
        );

        // The fronts' metrics add up to the same: eleven paid calls, and two refused (the
        // bare call, and the package's second presentation); both are ready.
        let mut paid = 0.0;
        let mut amount = 0.0;
        let mut refused = 0.0;
        for url in &metrics {
            let text = http.get(url).send().await.unwrap().text().await.unwrap();
            let sample = |series: &str| -> f64 {
                text.lines()
                    .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
                    .unwrap_or_else(|| panic!("no {series} in {text}"))
                    .parse()
                    .unwrap()
            };
            paid += sample("paychan_proxy_calls_total{outcome=\"paid\"}");
            refused += sample("paychan_proxy_calls_total{outcome=\"refused\"}");
            amount += sample("paychan_proxy_paid_amount_total");
            let ready = http
                .get(url.replace("/metrics", "/readyz"))
                .send()
                .await
                .unwrap();
            assert_eq!(ready.status(), 200);
        }
        assert_eq!((paid, refused, amount), (11.0, 2.0, (11 * PRICE) as f64));
    });
    drop(fronts);
    drop(ledger);
}
